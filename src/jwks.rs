//! JWKS (RFC 7517) text → [`KeySet`] of verifier-ready keys. Mirrors Envoy's jwt_verify_lib
//! (`source/common/jwt/jwks.cc`): the document must be an object with a `keys` array; each key
//! that is malformed, unsupported or unsafe is skipped (and reported in [`Skipped`]) while the
//! others stay usable; the set is an error only when no key is left. Choosing a key for a token
//! (by `kid` / `alg`) is left to the caller; this module only parses and validates.

use std::fmt;

use serde_json::{Map, Value};

use crate::alg::{Alg, Family};
use crate::b64;
use crate::crypto::{Curve, PublicKey};

/// Largest JWKS body accepted, in bytes.
pub const MAX_JWKS_BYTES: usize = 1 << 20;
/// Most entries accepted in `keys`.
pub const MAX_KEYS: usize = 1000;
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

/// Parses a JWKS; keys that cannot be used are dropped silently.
pub fn parse_jwks(text: &str) -> Result<KeySet, JwksError> {
    parse_jwks_report(text).map(|(set, _)| set)
}

/// Parses a JWKS and also returns the keys it skipped, and why.
pub fn parse_jwks_report(text: &str) -> Result<(KeySet, Vec<Skipped>), JwksError> {
    if text.len() > MAX_JWKS_BYTES {
        return Err(JwksError::new(
            "JwksParseError",
            format!(
                "Jwks is {} bytes, more than the limit of {MAX_JWKS_BYTES}",
                text.len()
            ),
        ));
    }
    let doc: Value = serde_json::from_str(&strip_trailing_commas(text))
        .map_err(|_| JwksError::new("JwksParseError", "Jwks is an invalid JSON"))?;
    let Value::Object(doc) = doc else {
        return Err(JwksError::new("JwksParseError", "Jwks is an invalid JSON"));
    };
    let Some(keys) = doc.get("keys") else {
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
    if keys.len() > MAX_KEYS {
        return Err(JwksError::new(
            "JwksParseError",
            format!(
                "Jwks has {} keys, more than the limit of {MAX_KEYS}",
                keys.len()
            ),
        ));
    }

    let mut set = KeySet { keys: Vec::new(), id: NEXT_KEY_SET_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed) };
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

    if set.is_empty() {
        return Err(JwksError::new(
            "JwksNoValidKeys",
            no_valid_keys_message(&skipped),
        ));
    }
    Ok((set, skipped))
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
    let n = required_b64(member, "n")?;
    let e = required_b64(member, "e")?;
    PublicKey::rsa(&n, &e).map_err(|err| err.to_string())
}

fn ec_key(member: &Map<String, Value>, alg: Option<Alg>) -> Result<PublicKey, String> {
    require_family(alg, Family::Ec, "EC")?;
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
        // Envoy: the curve follows from `alg`; with neither, P-256.
        None => from_alg.unwrap_or(Curve::P256),
    };
    let x = required_b64(member, "x")?;
    let y = required_b64(member, "y")?;
    PublicKey::ec(curve, &x, &y).map_err(|err| err.to_string())
}

fn oct_key(member: &Map<String, Value>, alg: Option<Alg>) -> Result<PublicKey, String> {
    require_family(alg, Family::Hmac, "oct")?;
    let k = required_b64(member, "k")?;
    PublicKey::hmac(&k).map_err(|err| err.to_string())
}

fn okp_key(member: &Map<String, Value>, alg: Option<Alg>) -> Result<PublicKey, String> {
    require_family(alg, Family::Okp, "OKP")?;
    let crv = required_str(member, "crv")?;
    if crv != "Ed25519" {
        return Err(format!("unsupported OKP crv {}", quote(crv)));
    }
    let x = required_b64(member, "x")?;
    PublicKey::ed25519(&x).map_err(|err| err.to_string())
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
mod tests {
    use rsa::traits::PublicKeyParts;
    use serde_json::json;

    use super::*;
    use crate::crypto::tests::{ec_coordinates, rsa_private};

    fn rsa_n() -> String {
        b64::encode(&rsa_private().to_public_key().n().to_be_bytes())
    }

    fn rsa_jwk() -> Value {
        json!({"kty": "RSA", "kid": "rsa", "n": rsa_n(), "e": "AQAB"})
    }

    fn ec_jwk(curve: Curve) -> Value {
        let (x, y) = ec_coordinates(curve);
        json!({"kty": "EC", "crv": curve.name(), "x": b64::encode(&x), "y": b64::encode(&y)})
    }

    fn okp_x() -> String {
        b64::encode(
            ed25519_dalek::SigningKey::from_bytes(&[0x55; 32])
                .verifying_key()
                .as_bytes(),
        )
    }

    fn okp_jwk() -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "x": okp_x()})
    }

    fn oct_jwk() -> Value {
        json!({"kty": "oct", "k": b64::encode(b"secret")})
    }

    /// `base` with `changes` merged in; a `null` in `changes` removes the member.
    fn with(base: Value, changes: Value) -> Value {
        let (Value::Object(mut base), Value::Object(changes)) = (base, changes) else {
            unreachable!()
        };
        for (name, value) in changes {
            if value.is_null() {
                base.remove(&name);
            } else {
                base.insert(name, value);
            }
        }
        Value::Object(base)
    }

    fn jwks(keys: Vec<Value>) -> String {
        json!({ "keys": keys }).to_string()
    }

    #[test]
    fn document_level_errors() {
        let too_many = jwks(vec![json!({}); MAX_KEYS + 1]);
        let too_big = format!("{{\"keys\":[],\"pad\":\"{}\"}}", "x".repeat(MAX_JWKS_BYTES));
        let table: [(&str, &str, &str, Option<&str>); 12] = [
            (
                "empty",
                "",
                "JwksParseError",
                Some("Jwks is an invalid JSON"),
            ),
            (
                "not JSON",
                "keys",
                "JwksParseError",
                Some("Jwks is an invalid JSON"),
            ),
            (
                "truncated",
                "{\"keys\":[",
                "JwksParseError",
                Some("Jwks is an invalid JSON"),
            ),
            (
                "array",
                "[]",
                "JwksParseError",
                Some("Jwks is an invalid JSON"),
            ),
            (
                "null",
                "null",
                "JwksParseError",
                Some("Jwks is an invalid JSON"),
            ),
            (
                "no keys",
                "{}",
                "JwksNoKeys",
                Some("Jwks does not have [keys] field"),
            ),
            (
                "keys object",
                "{\"keys\":{}}",
                "JwksBadKeys",
                Some("[keys] in Jwks is not an array"),
            ),
            (
                "keys string",
                "{\"keys\":\"k\"}",
                "JwksBadKeys",
                Some("[keys] in Jwks is not an array"),
            ),
            (
                "keys empty",
                "{\"keys\":[]}",
                "JwksNoValidKeys",
                Some("Jwks doesn't have any valid public key"),
            ),
            (
                "only comma",
                "{\"keys\":[,]}",
                "JwksParseError",
                Some("Jwks is an invalid JSON"),
            ),
            ("too many keys", &too_many, "JwksParseError", None),
            ("too big", &too_big, "JwksParseError", None),
        ];
        for (name, text, status, message) in table {
            let err = parse_jwks(text).unwrap_err();
            assert_eq!(err.status, status, "{name}: {err}");
            if let Some(message) = message {
                assert_eq!(err.message, message, "{name}");
            }
        }
        assert!(parse_jwks(&too_many)
            .unwrap_err()
            .message
            .contains("1001 keys"));
        assert!(parse_jwks(&too_big).unwrap_err().message.contains("limit"));
    }

    #[test]
    fn at_the_limits_is_accepted() {
        let mut keys = vec![json!({})];
        keys.resize(MAX_KEYS - 1, json!({}));
        keys.push(oct_jwk());
        assert_eq!(parse_jwks(&jwks(keys)).unwrap().len(), 1);
    }

    #[test]
    fn trailing_commas_are_stripped_outside_strings() {
        let table = [
            ("[1,2,]", "[1,2]"),
            ("{\"a\":1,}", "{\"a\":1}"),
            ("{\"a\":[1, \n\t],\r\n}", "{\"a\":[1 \n\t]\r\n}"),
            ("[\"a,]\",]", "[\"a,]\"]"),
            ("[\"q\\\",]\",]", "[\"q\\\",]\"]"),
            ("[\"back\\\\\",]", "[\"back\\\\\"]"),
            ("[,]", "[,]"),
            ("{,}", "{,}"),
            ("[1,,]", "[1,,]"),
            ("[\"é,\",]", "[\"é,\"]"),
            ("[1,2]", "[1,2]"),
        ];
        for (input, expected) in table {
            assert_eq!(strip_trailing_commas(input), expected, "{input}");
        }
    }

    #[test]
    fn jwks_with_trailing_commas_parses() {
        let text = format!(
            "{{\"keys\": [ {{\"kty\": \"RSA\", \"kid\": \"a,}}\", \"n\": \"{}\", \"e\": \"AQAB\", \"x5c\": [\"c1\", ], }}, ], }}",
            rsa_n()
        );
        let set = parse_jwks(&text).unwrap();
        assert_eq!(set.len(), 1);
        assert_eq!(set.keys[0].kid.as_deref(), Some("a,}"));
        assert_eq!(
            parse_jwks("{\"keys\":[1,,]}").unwrap_err().status,
            "JwksParseError"
        );
    }

    #[test]
    fn usable_keys_of_every_kind() {
        use crate::alg::Family as F;
        /// name, JWK, key family, curve, alg
        type Row = (&'static str, Value, F, Option<Curve>, Option<Alg>);
        let table: [Row; 14] = [
            ("RSA", rsa_jwk(), F::Rsa, None, None),
            (
                "RSA PS256",
                with(rsa_jwk(), json!({"alg": "PS256"})),
                F::Rsa,
                None,
                Some(Alg::Ps256),
            ),
            (
                "oct padded base64",
                with(oct_jwk(), json!({"k": "c2VjcmU="})),
                F::Hmac,
                None,
                None,
            ),
            (
                "RSA use sig",
                with(rsa_jwk(), json!({"use": "sig"})),
                F::Rsa,
                None,
                None,
            ),
            (
                "EC P-256",
                ec_jwk(Curve::P256),
                F::Ec,
                Some(Curve::P256),
                None,
            ),
            (
                "EC neither alg nor crv is P-256",
                with(ec_jwk(Curve::P256), json!({"crv": null})),
                F::Ec,
                Some(Curve::P256),
                None,
            ),
            (
                "EC crv from ES384",
                with(ec_jwk(Curve::P384), json!({"crv": null, "alg": "ES384"})),
                F::Ec,
                Some(Curve::P384),
                Some(Alg::Es384),
            ),
            (
                "EC crv from ES512",
                with(ec_jwk(Curve::P521), json!({"crv": null, "alg": "ES512"})),
                F::Ec,
                Some(Curve::P521),
                Some(Alg::Es512),
            ),
            (
                "EC secp256k1",
                with(ec_jwk(Curve::Secp256k1), json!({"alg": "ES256K"})),
                F::Ec,
                Some(Curve::Secp256k1),
                Some(Alg::Es256k),
            ),
            (
                "EC crv from ES256K",
                with(
                    ec_jwk(Curve::Secp256k1),
                    json!({"crv": null, "alg": "ES256K"}),
                ),
                F::Ec,
                Some(Curve::Secp256k1),
                Some(Alg::Es256k),
            ),
            ("oct", oct_jwk(), F::Hmac, None, None),
            (
                "oct HS512",
                with(oct_jwk(), json!({"alg": "HS512"})),
                F::Hmac,
                None,
                Some(Alg::Hs512),
            ),
            (
                "OKP",
                with(okp_jwk(), json!({"alg": "EdDSA"})),
                F::Okp,
                None,
                Some(Alg::EdDsa),
            ),
            (
                "other members ignored",
                with(
                    rsa_jwk(),
                    json!({"x5c": ["MIIB"], "x5t": "abc", "issuer": "me", "key_ops": ["verify"], "ext": true}),
                ),
                F::Rsa,
                None,
                None,
            ),
        ];
        for (name, jwk, family, curve, alg) in table {
            let (set, skipped) =
                parse_jwks_report(&jwks(vec![jwk])).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(skipped.is_empty(), "{name}: {skipped:?}");
            let [key] = &set.keys[..] else {
                panic!("{name}: {} keys", set.len())
            };
            assert_eq!(key.key.family(), family, "{name}");
            assert_eq!(key.key.curve(), curve, "{name}");
            assert_eq!(key.alg, alg, "{name}");
        }
    }

    #[test]
    fn bad_keys_are_skipped_and_the_rest_kept() {
        let short_n = b64::encode(&[0xc1; 128]);
        let (x, y) = ec_coordinates(Curve::P256);
        let mut y_off = y.clone();
        y_off[31] ^= 1;
        let table: [(&str, Value, &str); 37] = [
            ("not an object", json!(42), "not a JSON object"),
            ("array", json!([rsa_jwk()]), "not a JSON object"),
            (
                "no kty",
                with(rsa_jwk(), json!({"kty": null})),
                "\"kty\" is missing",
            ),
            (
                "kty number",
                with(rsa_jwk(), json!({"kty": 1})),
                "\"kty\" is not a string",
            ),
            (
                "kty unknown",
                with(rsa_jwk(), json!({"kty": "DSA"})),
                "unsupported kty \"DSA\"",
            ),
            (
                "kty lowercase",
                with(rsa_jwk(), json!({"kty": "rsa"})),
                "unsupported kty",
            ),
            (
                "kid number",
                with(rsa_jwk(), json!({"kid": 7})),
                "\"kid\" is not a string",
            ),
            (
                "use enc",
                with(rsa_jwk(), json!({"use": "enc"})),
                "\"use\" is \"enc\"",
            ),
            (
                "use number",
                with(rsa_jwk(), json!({"use": 1})),
                "\"use\" is not a string",
            ),
            (
                "alg none",
                with(rsa_jwk(), json!({"alg": "none"})),
                "unsupported alg \"none\"",
            ),
            (
                "alg RSA-OAEP",
                with(rsa_jwk(), json!({"alg": "RSA-OAEP"})),
                "unsupported alg",
            ),
            (
                "alg number",
                with(rsa_jwk(), json!({"alg": 256})),
                "\"alg\" is not a string",
            ),
            (
                "RSA alg HS256",
                with(rsa_jwk(), json!({"alg": "HS256"})),
                "alg HS256 is not for kty \"RSA\"",
            ),
            (
                "RSA alg ES256",
                with(rsa_jwk(), json!({"alg": "ES256"})),
                "not for kty \"RSA\"",
            ),
            (
                "RSA 1024-bit",
                with(rsa_jwk(), json!({"n": short_n})),
                "1024 bits, less than the minimum 2048",
            ),
            (
                "RSA e=5",
                with(rsa_jwk(), json!({"e": "BQ"})),
                "neither 3 nor 65537",
            ),
            (
                "RSA n standard base64",
                with(
                    rsa_jwk(),
                    json!({"n": rsa_n().replace('-', "+").replace('_', "/")}),
                ),
                "\"n\" is not base64url",
            ),
            (
                "RSA no n",
                with(rsa_jwk(), json!({"n": null})),
                "\"n\" is missing",
            ),
            (
                "RSA e number",
                with(rsa_jwk(), json!({"e": 65537})),
                "\"e\" is not a string",
            ),
            (
                "EC alg RS256",
                with(ec_jwk(Curve::P256), json!({"alg": "RS256"})),
                "not for kty \"EC\"",
            ),
            (
                "EC alg ES384 crv P-256",
                with(ec_jwk(Curve::P256), json!({"alg": "ES384"})),
                "alg ES384 does not match crv \"P-256\"",
            ),
            (
                "EC alg ES256K crv P-256",
                with(ec_jwk(Curve::P256), json!({"alg": "ES256K"})),
                "does not match",
            ),
            (
                "EC crv P-192",
                with(ec_jwk(Curve::P256), json!({"crv": "P-192"})),
                "unsupported EC crv \"P-192\"",
            ),
            (
                "EC crv Ed25519",
                with(ec_jwk(Curve::P256), json!({"crv": "Ed25519"})),
                "unsupported EC crv",
            ),
            (
                "EC x short (padded, then off the curve)",
                with(ec_jwk(Curve::P256), json!({"x": b64::encode(&x[1..])})),
                "not a valid P-256 public key",
            ),
            (
                "EC P-384 point as P-256",
                with(ec_jwk(Curve::P384), json!({"crv": "P-256"})),
                "must be 32 bytes",
            ),
            (
                "EC off curve",
                with(ec_jwk(Curve::P256), json!({"y": b64::encode(&y_off)})),
                "not a valid P-256 public key",
            ),
            (
                "EC no y",
                with(ec_jwk(Curve::P256), json!({"y": null})),
                "\"y\" is missing",
            ),
            (
                "oct empty k",
                with(oct_jwk(), json!({"k": ""})),
                "HMAC key is empty",
            ),
            (
                "oct no k",
                with(oct_jwk(), json!({"k": null})),
                "\"k\" is missing",
            ),
            (
                "oct alg RS256",
                with(oct_jwk(), json!({"alg": "RS256"})),
                "not for kty \"oct\"",
            ),
            (
                "oct alg ES256",
                with(oct_jwk(), json!({"alg": "ES256"})),
                "not for kty \"oct\"",
            ),
            (
                "OKP crv X25519",
                with(okp_jwk(), json!({"crv": "X25519"})),
                "unsupported OKP crv \"X25519\"",
            ),
            (
                "OKP no crv",
                with(okp_jwk(), json!({"crv": null})),
                "\"crv\" is missing",
            ),
            (
                "OKP x short",
                with(okp_jwk(), json!({"x": b64::encode(&[9; 31])})),
                "must be 32 bytes, got 31",
            ),
            (
                "OKP alg ES256",
                with(okp_jwk(), json!({"alg": "ES256"})),
                "not for kty \"OKP\"",
            ),
            (
                "OKP alg HS256",
                with(okp_jwk(), json!({"alg": "HS256"})),
                "not for kty \"OKP\"",
            ),
        ];
        for (name, bad, reason) in table {
            let kid = bad.get("kid").and_then(Value::as_str).map(str::to_owned);
            let (set, skipped) = parse_jwks_report(&jwks(vec![bad, oct_jwk()]))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(set.len(), 1, "{name}");
            assert_eq!(set.keys[0].key.family(), Family::Hmac, "{name}");
            let [skip] = &skipped[..] else {
                panic!("{name}: {skipped:?}")
            };
            assert_eq!((skip.index, &skip.kid), (0, &kid), "{name}");
            assert!(
                skip.reason.contains(reason),
                "{name}: {:?} lacks {reason:?}",
                skip.reason
            );
        }
    }

    #[test]
    fn no_usable_key_is_an_error_listing_reasons() {
        let err = parse_jwks(&jwks(vec![
            with(rsa_jwk(), json!({"use": "enc"})),
            json!({"kty": "oct", "kid": "h"}),
        ]))
        .unwrap_err();
        assert_eq!(err.status, "JwksNoValidKeys");
        assert_eq!(
            err.message,
            "Jwks doesn't have any valid public key: key 0 (kid \"rsa\"): \"use\" is \"enc\", not \"sig\"; key 1 (kid \"h\"): \"k\" is missing"
        );

        let many = jwks(vec![
            json!({"kty": "D".repeat(500), "kid": "k".repeat(500)});
            25
        ]);
        let err = parse_jwks(&many).unwrap_err();
        assert!(err.message.ends_with("; and 15 more"), "{}", err.message);
        assert!(
            err.message.len() < 3000,
            "values are shortened: {} bytes",
            err.message.len()
        );
        let kid = format!("(kid \"{}\"…)", "k".repeat(MAX_VALUE_IN_MESSAGE));
        let kty = format!("unsupported kty \"{}\"…", "D".repeat(MAX_VALUE_IN_MESSAGE));
        assert!(err.message.contains(&kid), "{}", err.message);
        assert!(err.message.contains(&kty), "{}", err.message);
    }

    #[test]
    fn keys_keep_document_order_kid_and_alg() {
        let text = jwks(vec![
            with(oct_jwk(), json!({"kid": "one", "alg": "HS256"})),
            json!("junk"),
            with(ec_jwk(Curve::P256), json!({"kid": "two"})),
            with(okp_jwk(), json!({"kid": "three"})),
        ]);
        let (set, skipped) = parse_jwks_report(&text).unwrap();
        let got: Vec<_> = set.keys.iter().map(|k| (k.kid.as_deref(), k.alg)).collect();
        assert_eq!(
            got,
            [
                (Some("one"), Some(Alg::Hs256)),
                (Some("two"), None),
                (Some("three"), None)
            ]
        );
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].index, 1);
        assert!(!set.is_empty());
    }

    #[test]
    fn parsed_keys_verify() {
        // End to end: a JWK from the document verifies a signature made with its private half.
        use ed25519_dalek::Signer;
        let set = parse_jwks(&jwks(vec![okp_jwk()])).unwrap();
        let sig = ed25519_dalek::SigningKey::from_bytes(&[0x55; 32]).sign(b"a.b");
        assert_eq!(
            set.keys[0].key.verify(Alg::EdDsa, b"a.b", &sig.to_bytes()),
            Ok(())
        );
        assert_eq!(
            set.keys[0].key.verify(Alg::EdDsa, b"a.c", &sig.to_bytes()),
            Err(crate::crypto::SigError::Invalid)
        );
    }
}
