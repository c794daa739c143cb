//! JWKS (RFC 7517) text → [`KeySet`] of verifier-ready keys. Mirrors Envoy's jwt_verify_lib
//! (`source/common/jwt/jwks.cc`): the document must be an object with a `keys` array; each key
//! that is malformed, unsupported or unsafe is skipped (and reported in [`Skipped`]) while the
//! others stay usable; the set is an error only when no key is left. Choosing a key for a token
//! (by `kid` / `alg`) is left to the caller; this module only parses and validates.
//!
//! Besides JWKS, two more key documents are read (the X.509 and PEM decoding is [`crate::keys::x509`]):
//! - Google's X.509 key documents (service accounts, Firebase): a JSON object without `keys`
//!   mapping each kid to a PEM certificate, recognised by shape as jwt_verify_lib does (every
//!   member a non-empty kid whose value is PEM text). Each entry is a key with that kid and no
//!   alg; entries come in kid order (JSON object order is not kept). Accepted wherever a JWKS is.
//! - PEM text (`-----BEGIN PUBLIC KEY-----`, `RSA PUBLIC KEY`, `CERTIFICATE`, several blocks
//!   concatenated) → keys without kid or alg, found by a token's algorithm. Only in
//!   `local_jwks.inline_string` ([`parse_jwks`]); a remote JWKS body ([`parse_jwks_report`]) must
//!   be JSON, as in Envoy: an endpoint answering PEM is far more likely a wrong URL than a key
//!   document.
//!
//! A JWK's `x5c` (RFC 7517 §4.7) is read too: its first certificate's key is the JWK's key when
//! the JWK has no key members of its own (no `n`/`e`, `x`/`y`), and must be the same key when it
//! has them; `kty`, `crv` and `alg` must fit the certificate's key, and an `x5t#S256` must be
//! the certificate's thumbprint. A JWK that disagrees with its certificate, or whose certificate
//! does not parse, is skipped. The rest of the chain is not decoded, and no certificate is
//! validated (dates, issuer, signature): the document is trusted by where it comes from.

use std::fmt;

use serde_json::{Map, Value};

use crate::crypto::alg::{Alg, Family};
use crate::token::b64;
use crate::crypto::{Curve, PublicKey};
use crate::keys::x509::{self, KeyMaterial};

/// Largest JWKS body accepted, in bytes.
pub const MAX_JWKS_BYTES: usize = 1 << 20;
/// Most entries accepted in `keys`.
pub const MAX_KEYS: usize = 1000;
/// Deepest nesting of arrays and objects in a JWKS document (the top level counting as 1),
/// checked by a byte scan before parsing. A JWKS nests 3 deep (`{"keys":[{"x5c":[...]}]}`).
pub const MAX_JWKS_DEPTH: usize = 32;
/// Skip reasons quoted in a `JwksNoValidKeys` message; the rest are counted.
const MAX_REASONS_IN_MESSAGE: usize = 10;
/// Document values (`kid`, `kty`, ...) are cut to this many characters in messages: the
/// document is attacker-sized, log lines should not be.
const MAX_VALUE_IN_MESSAGE: usize = 64;

/// One usable key.
#[derive(Debug, Clone)]
pub struct Jwk {
    pub kid: Option<String>,
    /// The JWK's `alg`, when it has one; always one the key supports.
    pub alg: Option<Alg>,
    pub key: PublicKey,
}

/// The usable keys of a JWKS, in document order.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    pub keys: Vec<Jwk>,
    /// Unique per parsed key set in this VM, so cached verdicts die with the keys they were
    /// reached with (a pointer could be reused by a later key set).
    pub id: u64,
}

static NEXT_KEY_SET_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl KeySet {
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Why a JWKS was refused as a whole. `status` is Envoy's status name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksError {
    pub status: &'static str,
    pub message: String,
}

impl JwksError {
    fn new(status: &'static str, message: impl Into<String>) -> JwksError {
        JwksError {
            status,
            message: message.into(),
        }
    }
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl std::error::Error for JwksError {}

/// A key left out of the set, for log lines. `index` is its position in `keys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub index: usize,
    pub kid: Option<String>,
    pub reason: String,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key {}", self.index)?;
        if let Some(kid) = &self.kid {
            write!(f, " (kid {})", quote(kid))?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Parses the `local_jwks.inline_string` of a provider: a JWKS, an X.509 kid → certificate
/// map, or PEM text. Keys that cannot be used are dropped silently.
pub fn parse_jwks(text: &str) -> Result<KeySet, JwksError> {
    parse_local_jwks_report(text).map(|(set, _)| set)
}

/// Parses a remote JWKS body (a JWKS or an X.509 kid → certificate map, not PEM) and also
/// returns the keys it skipped, and why.
pub fn parse_jwks_report(text: &str) -> Result<(KeySet, Vec<Skipped>), JwksError> {
    parse_document(text, false)
}

/// [`parse_jwks`] with the skipped keys: a JWKS, an X.509 map, or PEM text.
pub fn parse_local_jwks_report(text: &str) -> Result<(KeySet, Vec<Skipped>), JwksError> {
    parse_document(text, true)
}

fn parse_document(text: &str, allow_pem: bool) -> Result<(KeySet, Vec<Skipped>), JwksError> {
    if text.len() > MAX_JWKS_BYTES {
        return Err(JwksError::new(
            "JwksParseError",
            format!(
                "Jwks is {} bytes, more than the limit of {MAX_JWKS_BYTES}",
                text.len()
            ),
        ));
    }
    if x509::is_pem(text) {
        if !allow_pem {
            return Err(JwksError::new(
                "JwksParseError",
                "Jwks is PEM, which only local_jwks.inline_string accepts",
            ));
        }
        return parse_pem(text);
    }
    if crate::token::jws::check_depth_and_counts(text.as_bytes(), MAX_JWKS_DEPTH, usize::MAX, usize::MAX)
        .is_err()
    {
        return Err(JwksError::new(
            "JwksParseError",
            format!("Jwks nests arrays or objects deeper than the limit of {MAX_JWKS_DEPTH}"),
        ));
    }
    // From bytes, as tokens are read: one instance of serde_json's parser in the module.
    let doc: Value = serde_json::from_slice(strip_trailing_commas(text).as_bytes())
        .map_err(|_| JwksError::new("JwksParseError", "Jwks is an invalid JSON"))?;
    let Value::Object(doc) = doc else {
        return Err(JwksError::new("JwksParseError", "Jwks is an invalid JSON"));
    };
    let Some(keys) = doc.get("keys") else {
        if is_x509_map(&doc) {
            return parse_x509_map(&doc);
        }
        return Err(JwksError::new(
            "JwksNoKeys",
            "Jwks does not have [keys] field",
        ));
    };
    let Value::Array(keys) = keys else {
        return Err(JwksError::new(
            "JwksBadKeys",
            "[keys] in Jwks is not an array",
        ));
    };
    check_key_count(keys.len())?;

    let mut set = new_key_set();
    let mut skipped = Vec::new();
    for (index, value) in keys.iter().enumerate() {
        let Value::Object(member) = value else {
            skipped.push(Skipped {
                index,
                kid: None,
                reason: "key is not a JSON object".into(),
            });
            continue;
        };
        match parse_jwk(member) {
            Ok(jwk) => set.keys.push(jwk),
            Err(reason) => {
                let kid = member.get("kid").and_then(Value::as_str).map(str::to_owned);
                skipped.push(Skipped { index, kid, reason });
            }
        }
    }
    finish(set, skipped)
}

fn new_key_set() -> KeySet {
    KeySet {
        keys: Vec::new(),
        id: NEXT_KEY_SET_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
    }
}

fn check_key_count(count: usize) -> Result<(), JwksError> {
    if count > MAX_KEYS {
        return Err(JwksError::new(
            "JwksParseError",
            format!("Jwks has {count} keys, more than the limit of {MAX_KEYS}"),
        ));
    }
    Ok(())
}

fn finish(set: KeySet, skipped: Vec<Skipped>) -> Result<(KeySet, Vec<Skipped>), JwksError> {
    if set.is_empty() {
        return Err(JwksError::new(
            "JwksNoValidKeys",
            no_valid_keys_message(&skipped),
        ));
    }
    Ok((set, skipped))
}

/// jwt_verify_lib's test for an X.509 key document: a non-empty object whose members all have
/// a non-empty name and a PEM value (it checks the certificate's first and last lines; any
/// PEM label is let through here, and refused per entry if it is no key).
fn is_x509_map(doc: &Map<String, Value>) -> bool {
    !doc.is_empty()
        && doc.iter().all(|(kid, value)| {
            let pem = value.as_str().map(str::trim).unwrap_or_default();
            !kid.is_empty() && pem.starts_with("-----BEGIN") && pem.ends_with("-----")
        })
}

/// Each entry of an X.509 map: exactly one PEM block, whose key gets the entry's name as kid.
fn parse_x509_map(doc: &Map<String, Value>) -> Result<(KeySet, Vec<Skipped>), JwksError> {
    check_key_count(doc.len())?;
    let mut set = new_key_set();
    let mut skipped = Vec::new();
    for (index, (kid, value)) in doc.iter().enumerate() {
        let pem = value.as_str().unwrap_or_default();
        let key = x509::pem_keys(pem).and_then(|mut blocks| match (blocks.pop(), blocks.len()) {
            (Some(block), 0) => block.and_then(|material| material.public_key()),
            (_, more) => Err(x509::X509Error::Pem {
                detail: format!("{} blocks where one certificate was expected", more + 1),
            }),
        });
        match key {
            Ok(key) => set.keys.push(Jwk {
                kid: Some(kid.clone()),
                alg: None,
                key,
            }),
            Err(err) => skipped.push(Skipped {
                index,
                kid: Some(kid.clone()),
                reason: err.to_string(),
            }),
        }
    }
    finish(set, skipped)
}

/// PEM text: each block is a key without kid or alg; `Skipped::index` is the block's position.
fn parse_pem(text: &str) -> Result<(KeySet, Vec<Skipped>), JwksError> {
    let blocks = x509::pem_keys(text)
        .map_err(|err| JwksError::new("JwksParseError", format!("Jwks is not valid PEM: {err}")))?;
    let mut set = new_key_set();
    let mut skipped = Vec::new();
    for (index, block) in blocks.into_iter().enumerate() {
        match block.and_then(|material| material.public_key()) {
            Ok(key) => set.keys.push(Jwk {
                kid: None,
                alg: None,
                key,
            }),
            Err(err) => skipped.push(Skipped {
                index,
                kid: None,
                reason: err.to_string(),
            }),
        }
    }
    finish(set, skipped)
}

fn no_valid_keys_message(skipped: &[Skipped]) -> String {
    let mut message = String::from("Jwks doesn't have any valid public key");
    if skipped.is_empty() {
        return message;
    }
    let reasons: Vec<String> = skipped
        .iter()
        .take(MAX_REASONS_IN_MESSAGE)
        .map(Skipped::to_string)
        .collect();
    message.push_str(": ");
    message.push_str(&reasons.join("; "));
    if skipped.len() > MAX_REASONS_IN_MESSAGE {
        message.push_str(&format!(
            "; and {} more",
            skipped.len() - MAX_REASONS_IN_MESSAGE
        ));
    }
    message
}

/// One JWK → key, or the reason to skip it.
fn parse_jwk(member: &Map<String, Value>) -> Result<Jwk, String> {
    let kty = required_str(member, "kty")?;
    let kid = optional_str(member, "kid")?.map(str::to_owned);
    if let Some(usage) = optional_str(member, "use")? {
        if usage != "sig" {
            return Err(format!("\"use\" is {}, not \"sig\"", quote(usage)));
        }
    }
    let alg = match optional_str(member, "alg")? {
        None => None,
        Some(name) => {
            Some(Alg::parse(name).ok_or_else(|| format!("unsupported alg {}", quote(name)))?)
        }
    };
    let key = match kty {
        "RSA" => rsa_key(member, alg)?,
        "EC" => ec_key(member, alg)?,
        "oct" => oct_key(member, alg)?,
        "OKP" => okp_key(member, alg)?,
        other => return Err(format!("unsupported kty {}", quote(other))),
    };
    Ok(Jwk { kid, alg, key })
}

fn rsa_key(member: &Map<String, Value>, alg: Option<Alg>) -> Result<PublicKey, String> {
    require_family(alg, Family::Rsa, "RSA")?;
    let cert = match x5c_key(member)? {
        None => None,
        Some(KeyMaterial::Rsa { n, e }) => Some((n, e)),
        Some(other) => return Err(x5c_kind_mismatch(&other, "RSA")),
    };
    let (n, e) = match cert {
        Some(from_cert) if !member.contains_key("n") && !member.contains_key("e") => from_cert,
        cert => {
            let n = required_b64(member, "n")?;
            let e = required_b64(member, "e")?;
            if let Some((cert_n, cert_e)) = cert {
                if !same_integer(&n, &cert_n) || !same_integer(&e, &cert_e) {
                    return Err("x5c certificate does not match n/e".into());
                }
            }
            (n, e)
        }
    };
    PublicKey::rsa(&n, &e).map_err(|err| err.to_string())
}

fn ec_key(member: &Map<String, Value>, alg: Option<Alg>) -> Result<PublicKey, String> {
    require_family(alg, Family::Ec, "EC")?;
    let cert = match x5c_key(member)? {
        None => None,
        Some(KeyMaterial::Ec { curve, x, y }) => Some((curve, x, y)),
        Some(other) => return Err(x5c_kind_mismatch(&other, "EC")),
    };
    let from_alg = alg.and_then(Curve::for_alg);
    let curve = match optional_str(member, "crv")? {
        Some(name) => {
            let curve =
                Curve::parse(name).ok_or_else(|| format!("unsupported EC crv {}", quote(name)))?;
            if let (Some(alg), Some(expected)) = (alg, from_alg) {
                if expected != curve {
                    return Err(format!("alg {alg} does not match crv {}", quote(name)));
                }
            }
            curve
        }
        None => match (&cert, alg, from_alg) {
            (Some((curve, _, _)), Some(alg), Some(expected)) if expected != *curve => {
                return Err(format!(
                    "alg {alg} does not match the x5c certificate's curve {}",
                    curve.name()
                ));
            }
            (Some((curve, _, _)), _, _) => *curve,
            // Envoy: the curve follows from `alg`; with neither, P-256.
            (None, _, _) => from_alg.unwrap_or(Curve::P256),
        },
    };
    let (x, y) = match cert {
        Some((cert_curve, _, _)) if cert_curve != curve => {
            return Err(format!(
                "x5c certificate key is on {}, not {}",
                cert_curve.name(),
                curve.name()
            ));
        }
        Some((_, x, y)) if !member.contains_key("x") && !member.contains_key("y") => (x, y),
        cert => {
            let x = required_b64(member, "x")?;
            let y = required_b64(member, "y")?;
            if let Some((_, cert_x, cert_y)) = cert {
                if !same_integer(&x, &cert_x) || !same_integer(&y, &cert_y) {
                    return Err("x5c certificate does not match x/y".into());
                }
            }
            (x, y)
        }
    };
    PublicKey::ec(curve, &x, &y).map_err(|err| err.to_string())
}

fn oct_key(member: &Map<String, Value>, alg: Option<Alg>) -> Result<PublicKey, String> {
    require_family(alg, Family::Hmac, "oct")?;
    if member.contains_key("x5c") {
        return Err("kty \"oct\" cannot have an x5c certificate".into());
    }
    let k = required_b64(member, "k")?;
    PublicKey::hmac(&k).map_err(|err| err.to_string())
}

fn okp_key(member: &Map<String, Value>, alg: Option<Alg>) -> Result<PublicKey, String> {
    require_family(alg, Family::Okp, "OKP")?;
    let cert = match x5c_key(member)? {
        None => None,
        Some(KeyMaterial::Ed25519 { x }) => Some(x),
        Some(other) => return Err(x5c_kind_mismatch(&other, "OKP")),
    };
    let crv = match (optional_str(member, "crv")?, &cert) {
        (Some(crv), _) => crv,
        (None, Some(_)) => "Ed25519",
        (None, None) => return Err("\"crv\" is missing".into()),
    };
    if crv != "Ed25519" {
        return Err(format!("unsupported OKP crv {}", quote(crv)));
    }
    let x = match cert {
        Some(from_cert) if !member.contains_key("x") => from_cert,
        cert => {
            let x = required_b64(member, "x")?;
            if cert.is_some_and(|cert_x| cert_x != x) {
                return Err("x5c certificate does not match x".into());
            }
            x
        }
    };
    PublicKey::ed25519(&x).map_err(|err| err.to_string())
}

/// The key of the JWK's first `x5c` certificate, checked against its `x5t#S256`. `None`
/// without `x5c`.
fn x5c_key(member: &Map<String, Value>) -> Result<Option<KeyMaterial>, String> {
    let Some(x5c) = member.get("x5c") else {
        return Ok(None);
    };
    let Value::Array(chain) = x5c else {
        return Err("\"x5c\" is not an array".into());
    };
    if !chain.iter().all(Value::is_string) {
        return Err("\"x5c\" has a member that is not a string".into());
    }
    let first = chain
        .first()
        .and_then(Value::as_str)
        .ok_or("\"x5c\" is empty")?;
    // Base64 is 4 characters for 3 bytes: refuse an oversized certificate before decoding it.
    if first.len() / 4 * 3 > x509::MAX_CERT_BYTES {
        return Err(format!(
            "x5c certificate is more than {} bytes",
            x509::MAX_CERT_BYTES
        ));
    }
    // Standard base64 (RFC 7517 §4.7), padded; unpadded is let through.
    let der = b64::decode_with(
        first.as_bytes(),
        b64::Alphabet::Standard,
        b64::Padding::Optional,
    )
    .ok_or_else(|| "x5c certificate is not base64".to_string())?;
    if let Some(thumbprint) = optional_str(member, "x5t#S256")? {
        if thumbprint.trim_end_matches('=') != x509::thumbprint_sha256(&der) {
            return Err("\"x5t#S256\" is not the thumbprint of the x5c certificate".into());
        }
    }
    x509::certificate(&der).map(Some).map_err(|err| match err {
        x509::X509Error::Malformed { .. } | x509::X509Error::TooLarge { .. } => {
            format!("x5c {err}")
        }
        _ => format!("x5c certificate: {err}"),
    })
}

fn x5c_kind_mismatch(found: &KeyMaterial, kty: &str) -> String {
    format!("x5c certificate key is {}, not {kty}", found.kty())
}

/// Whether two big-endian unsigned integers are equal, leading zero bytes aside.
fn same_integer(a: &[u8], b: &[u8]) -> bool {
    let strip =
        |bytes: &[u8]| -> Vec<u8> { bytes.iter().copied().skip_while(|&b| b == 0).collect() };
    strip(a) == strip(b)
}

fn require_family(alg: Option<Alg>, family: Family, kty: &str) -> Result<(), String> {
    match alg {
        Some(alg) if alg.family() != family => Err(format!("alg {alg} is not for kty {kty:?}")),
        _ => Ok(()),
    }
}

fn optional_str<'a>(member: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match member.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("\"{name}\" is not a string")),
    }
}

fn required_str<'a>(member: &'a Map<String, Value>, name: &str) -> Result<&'a str, String> {
    optional_str(member, name)?.ok_or_else(|| format!("\"{name}\" is missing"))
}

fn required_b64(member: &Map<String, Value>, name: &str) -> Result<Vec<u8>, String> {
    b64::decode(required_str(member, name)?).ok_or_else(|| format!("\"{name}\" is not base64url"))
}

/// A document value for a message: quoted and escaped, cut to [`MAX_VALUE_IN_MESSAGE`] chars.
fn quote(value: &str) -> String {
    let mut chars = value.chars();
    let short: String = chars.by_ref().take(MAX_VALUE_IN_MESSAGE).collect();
    let more = if chars.next().is_some() { "…" } else { "" };
    format!("{short:?}{more}")
}

/// Drops each comma that closes an array or object (`[1,2,]`, `{"a":1,}`), which Envoy's JSON
/// parser accepts and serde_json does not. Commas inside strings, and commas right after `[`,
/// `{` or another comma (`[,]`, `[1,,]`, which Envoy refuses), are kept, so serde_json still
/// refuses those documents.
fn strip_trailing_commas(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut last_token: Option<char> = None;
    for (i, c) in text.char_indices() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            ',' if !matches!(last_token, Some('[' | '{' | ','))
                && closes_next(bytes.get(i + 1..).unwrap_or_default()) =>
            {
                continue;
            }
            _ => {}
        }
        out.push(c);
        if !c.is_ascii_whitespace() {
            last_token = Some(c);
        }
    }
    out
}

/// Whether the next non-whitespace byte is `]` or `}`.
fn closes_next(rest: &[u8]) -> bool {
    matches!(
        rest.iter()
            .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r')),
        Some(b']' | b'}')
    )
}

#[cfg(test)]
mod tests;
