#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code
//! Differential test of the filter's verdicts: random tokens of all 14 algorithms, with random
//! claims and random mutations of valid tokens, go through the filter's core
//! (`authn::authenticate`, the entry point the proxy-wasm adapter calls, with a `Config` parsed
//! from JSON and a fixed clock) and through an oracle written here from the RFCs and docs/ (checks.md, configuration.md):
//! its own base64url decoder, serde_json for JSON grammar only, RustCrypto verifiers used
//! directly (`rsa`, `p256`/`p384`/`p521`/`k256`, `ed25519-dalek`, `hmac` + `sha2`) on keys read
//! from the public JWKs, and its own claim checks (RFC 7519 §4.1 + the provider's `issuer`,
//! `audiences`, `clock_skew_seconds`). Both must reach the same verdict class on every input:
//! accepted, malformed, wrong issuer, not yet valid, expired, wrong audience, no key for
//! kid/alg, bad signature. Where the filter deliberately departs from a bare reading of the
//! RFCs (documented in docs/migration.md), the oracle says so in a comment.
//!
//! The run is seeded from `DIFF_SEED` (decimal or 0x-hex), else from the clock; the seed is
//! printed first and in every failure, with the command that replays the run.
//! `DIFF_CASES` sets the cases per provider setup (default 1500; four setups).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use jwt_authn_wasm::authn::{authenticate, Decision, Input};
use jwt_authn_wasm::authn::model::Config;
use jwt_authn_wasm::error::AuthError;
use jwt_authn_wasm::request::matcher::Request;
use jwt_authn_wasm::authn::token_cache::TokenCache;
use jwt_mint::{b64url, Alg, Family, Key, Rng};
use p256::ecdsa::signature::Verifier as _;
use rsa::{Pkcs1v15Sign, Pss, RsaPublicKey};
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};

const NOW: u64 = 1_700_000_000;

// The limits of the "Limits" table of docs/configuration.md, restated rather than imported, so a change on
// either side shows up here.
const MAX_TOKEN_BYTES: usize = 16 * 1024;
const MAX_HEADER_BYTES: usize = 8 * 1024;
const MAX_JSON_DEPTH: usize = 32;
const MAX_CLAIMS: usize = 256;
const MAX_JSON_VALUES: usize = 2048;
const MAX_KEYS_TRIED: usize = 8;
/// Native Envoy's default skew, also what `clock_skew_seconds: 0` means (proto3 default).
const DEFAULT_SKEW: u64 = 60;

// ---------------------------------------------------------------------------------------------
// Seed and RNG

fn seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| {
        let seed = match std::env::var("DIFF_SEED") {
            Ok(text) => {
                let text = text.trim();
                match text.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(hex, 16),
                    None => text.parse(),
                }
                .expect("DIFF_SEED must be a decimal or 0x-hex u64")
            }
            Err(_) => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1),
        };
        eprintln!("differential: DIFF_SEED={seed} (replay: DIFF_SEED={seed} cargo test --test differential)");
        seed
    })
}

fn cases_per_setup() -> usize {
    std::env::var("DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500)
}

// ---------------------------------------------------------------------------------------------
// Provider setups: the same description builds the filter's JSON configuration and the oracle's
// view of it.

/// One JWK of a setup's JWKS, with the signing key behind it.
struct JwkSpec {
    key: Key,
    /// The JWK's `kid` / `alg`, each may be left out.
    kid: Option<String>,
    alg: Option<&'static str>,
}

struct Setup {
    name: &'static str,
    issuer: Option<&'static str>,
    audiences: Vec<&'static str>,
    /// `clock_skew_seconds` as written in the configuration (`None`: absent).
    skew_field: Option<u64>,
    jwks: Vec<JwkSpec>,
    /// For each algorithm, the key that signs it and the `kid` a well-formed token names.
    signers: Vec<(Key, Option<String>)>,
}

impl Setup {
    /// RFC 7519 leaves the leeway to the application; the provider's `clock_skew_seconds`, where
    /// 0 (proto3's default) and absence both mean native Envoy's 60 s.
    fn skew(&self) -> u64 {
        match self.skew_field {
            None | Some(0) => DEFAULT_SKEW,
            Some(s) => s,
        }
    }

    fn jwks_json(&self) -> Value {
        let keys: Vec<Value> = self
            .jwks
            .iter()
            .map(|spec| {
                let mut jwk = spec.key.public_jwk();
                let obj = jwk.as_object_mut().unwrap();
                obj.remove("use");
                obj.remove("kid");
                obj.remove("alg");
                if let Some(kid) = &spec.kid {
                    obj.insert("kid".into(), json!(kid));
                }
                if let Some(alg) = spec.alg {
                    obj.insert("alg".into(), json!(alg));
                }
                jwk
            })
            .collect();
        json!({ "keys": keys })
    }

    fn config(&self) -> Config {
        let mut provider = json!({
            "local_jwks": {"inline_string": self.jwks_json().to_string()},
        });
        if let Some(issuer) = self.issuer {
            provider["issuer"] = json!(issuer);
        }
        if !self.audiences.is_empty() {
            provider["audiences"] = json!(self.audiences);
        }
        if let Some(skew) = self.skew_field {
            provider["clock_skew_seconds"] = json!(skew);
        }
        let text = json!({
            "providers": {"p": provider},
            "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]
        })
        .to_string();
        Config::parse(&text).expect("setup configuration")
    }

    fn signer(&self, alg: Alg) -> &(Key, Option<String>) {
        self.signers
            .iter()
            .find(|(k, _)| k.alg() == alg)
            .expect("a signer per alg")
    }
}

fn rsa(alg: Alg, seed: u64) -> Key {
    Key::from_seed(Alg::RS256, "rsa", seed)
        .with_alg(alg)
        .unwrap()
}

fn hs(alg: Alg, kid: &str, secret: &[u8]) -> Key {
    Key::hmac(alg, kid, secret)
}

/// Every key with its `kid` and `alg`: the shape most identity providers publish.
fn tagged_keys() -> (Vec<JwkSpec>, Vec<(Key, Option<String>)>) {
    let mut jwks = Vec::new();
    let mut signers = Vec::new();
    for alg in Alg::ALL {
        let kid = format!("k-{}", alg.name().to_lowercase());
        let key = match alg.family() {
            Family::Rsa => rsa(alg, 11),
            Family::Oct => hs(
                alg,
                &kid,
                format!("secret-for-{}-0123456789abcdef0123456789", alg.name()).as_bytes(),
            ),
            _ => Key::from_seed(alg, &kid, 20 + alg as u64),
        }
        .with_kid(&kid);
        jwks.push(JwkSpec {
            key: key.clone(),
            kid: Some(kid.clone()),
            alg: Some(alg.name()),
        });
        signers.push((key, Some(kid)));
    }
    (jwks, signers)
}

/// Keys without `alg` and some without `kid`, HMAC decoys without either ahead of the real
/// secrets, so key selection by type, the "either side may lack a kid" rule and the cap of
/// [`MAX_KEYS_TRIED`] signature checks all come into play.
fn untagged_keys() -> (Vec<JwkSpec>, Vec<(Key, Option<String>)>) {
    let spec = |key: &Key, kid: Option<&str>, alg: Option<&'static str>| JwkSpec {
        key: key.clone(),
        kid: kid.map(str::to_string),
        alg,
    };
    let decoy = |i: usize| {
        hs(
            Alg::HS256,
            "",
            format!("decoy-secret-{i}-that-signs-nothing").as_bytes(),
        )
    };
    let rsa_key = rsa(Alg::RS256, 12);
    let p256 = Key::from_seed(Alg::ES256, "", 31);
    let p384 = Key::from_seed(Alg::ES384, "p384", 32);
    let p521 = Key::from_seed(Alg::ES512, "p521", 33);
    let k256 = Key::from_seed(Alg::ES256K, "", 34);
    let ed = Key::from_seed(Alg::EdDSA, "ed", 35);
    let hs_shared = b"a-shared-secret-for-hs256-and-hs384-tokens";
    let hs512 = hs(
        Alg::HS512,
        "hs512",
        b"another-secret-only-for-hs512-tokens!!!",
    );
    let mut jwks: Vec<JwkSpec> = (0..7).map(|i| spec(&decoy(i), None, None)).collect();
    jwks.extend([
        spec(&rsa_key, Some("rsa"), None),
        spec(&p256, None, None),
        spec(&p384, Some("p384"), Some("ES384")),
        spec(&p521, Some("p521"), None),
        spec(&k256, None, Some("ES256K")),
        spec(&ed, Some("ed"), None),
        spec(&hs(Alg::HS256, "hs", hs_shared), Some("hs"), None),
        spec(&hs512, Some("hs512"), Some("HS512")),
    ]);
    let mut signers = Vec::new();
    for alg in Alg::ALL {
        let (key, kid) = match alg {
            Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512 => {
                (rsa_key.with_alg(alg).unwrap(), Some("rsa"))
            }
            Alg::ES256 => (p256.clone(), None),
            Alg::ES384 => (p384.clone(), Some("p384")),
            Alg::ES512 => (p521.clone(), Some("p521")),
            Alg::ES256K => (k256.clone(), None),
            Alg::EdDSA => (ed.clone(), Some("ed")),
            Alg::HS256 | Alg::HS384 => (hs(alg, "hs", hs_shared), Some("hs")),
            Alg::HS512 => (hs512.clone(), Some("hs512")),
        };
        signers.push((key, kid.map(str::to_string)));
    }
    (jwks, signers)
}

fn setup(name: &str) -> Setup {
    match name {
        "issuer-audiences" => {
            let (jwks, signers) = tagged_keys();
            Setup {
                name: "issuer-audiences",
                issuer: Some("https://issuer.example"),
                audiences: vec!["api://orders", "https://api.example.com/"],
                skew_field: None,
                jwks,
                signers,
            }
        }
        "open" => {
            let (jwks, signers) = untagged_keys();
            Setup {
                name: "open",
                issuer: None,
                audiences: vec![],
                skew_field: Some(5),
                jwks,
                signers,
            }
        }
        "untagged" => {
            let (jwks, signers) = untagged_keys();
            Setup {
                name: "untagged",
                issuer: Some("https://login.example/tenant/v2.0"),
                audiences: vec!["orders"],
                skew_field: Some(0),
                jwks,
                signers,
            }
        }
        _ => {
            let (jwks, signers) = tagged_keys();
            Setup {
                name: "plain-issuer",
                issuer: Some("plain-issuer"),
                audiences: vec![],
                skew_field: Some(300),
                jwks,
                signers,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Verdicts

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    Accept,
    /// No token left after extraction.
    Missing,
    /// Structure, base64url, JSON, header or claim types, or a size limit: refused while parsing.
    Malformed,
    Issuer,
    NotYetValid,
    Expired,
    Audience,
    /// No JWK matches the token's kid and alg.
    NoKey,
    BadSignature,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

fn filter_verdict(decision: &Decision) -> Verdict {
    match decision {
        Decision::Allow(_) => Verdict::Accept,
        Decision::Deny(e) => match e {
            AuthError::JwtMissed => Verdict::Missing,
            AuthError::JwtUnknownIssuer => Verdict::Issuer,
            AuthError::JwtNotYetValid => Verdict::NotYetValid,
            AuthError::JwtExpired => Verdict::Expired,
            AuthError::JwtAudienceNotAllowed => Verdict::Audience,
            AuthError::JwksKidAlgMismatch => Verdict::NoKey,
            AuthError::JwtVerificationFail | AuthError::JwtEd25519SignatureWrongLength => {
                Verdict::BadSignature
            }
            AuthError::JwtBadFormat
            | AuthError::JwtTooLarge
            | AuthError::JwtHeaderBadAlg
            | AuthError::JwtHeaderBadKid
            | AuthError::JwtHeaderCritUnsupported
            | AuthError::JwtHeaderNotImplementedAlg
            | AuthError::JwtHeaderParseErrorBadBase64
            | AuthError::JwtHeaderParseErrorBadJson
            | AuthError::JwtPayloadParseErrorAudNotString
            | AuthError::JwtPayloadParseErrorBadBase64
            | AuthError::JwtPayloadParseErrorBadJson
            | AuthError::JwtPayloadParseErrorExpNotInteger
            | AuthError::JwtPayloadParseErrorExpOutOfRange
            | AuthError::JwtPayloadParseErrorIatNotInteger
            | AuthError::JwtPayloadParseErrorIatOutOfRange
            | AuthError::JwtPayloadParseErrorIssNotString
            | AuthError::JwtPayloadParseErrorJtiNotString
            | AuthError::JwtPayloadParseErrorNbfNotInteger
            | AuthError::JwtPayloadParseErrorNbfOutOfRange
            | AuthError::JwtPayloadParseErrorSubNotString
            | AuthError::JwtSignatureParseErrorBadBase64 => Verdict::Malformed,
            other => panic!("unexpected status {other:?}"),
        },
        other => panic!("unexpected decision {other:?}"),
    }
}

fn request(token: &str) -> Vec<(String, String)> {
    vec![
        (":path".to_string(), "/".to_string()),
        (":method".to_string(), "GET".to_string()),
        ("authorization".to_string(), format!("Bearer {token}")),
    ]
}

// ---------------------------------------------------------------------------------------------
// The oracle

/// A JWK as the oracle holds it: RustCrypto verifying keys made from the public JWK members.
struct OracleKey {
    kid: Option<String>,
    alg: Option<String>,
    material: Material,
}

enum Material {
    Rsa(RsaPublicKey),
    P256(p256::ecdsa::VerifyingKey),
    K256(k256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    P521(p521::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
    Oct(Vec<u8>),
}

fn oracle_keys(jwks: &Value) -> Vec<OracleKey> {
    let field = |jwk: &Value, name: &str| oracle_b64(jwk[name].as_str().unwrap()).unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|jwk| {
            let sec1 = || [vec![4u8], field(jwk, "x"), field(jwk, "y")].concat();
            let material = match (jwk["kty"].as_str().unwrap(), jwk["crv"].as_str()) {
                ("RSA", _) => Material::Rsa(
                    RsaPublicKey::new(
                        rsa::BoxedUint::from_be_slice_vartime(&field(jwk, "n")),
                        rsa::BoxedUint::from_be_slice_vartime(&field(jwk, "e")),
                    )
                    .unwrap(),
                ),
                ("EC", Some("P-256")) => {
                    Material::P256(p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1()).unwrap())
                }
                ("EC", Some("secp256k1")) => {
                    Material::K256(k256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1()).unwrap())
                }
                ("EC", Some("P-384")) => {
                    Material::P384(p384::ecdsa::VerifyingKey::from_sec1_bytes(&sec1()).unwrap())
                }
                ("EC", Some("P-521")) => {
                    Material::P521(p521::ecdsa::VerifyingKey::from_sec1_bytes(&sec1()).unwrap())
                }
                ("OKP", Some("Ed25519")) => Material::Ed25519(
                    ed25519_dalek::VerifyingKey::from_bytes(&field(jwk, "x").try_into().unwrap())
                        .unwrap(),
                ),
                ("oct", _) => Material::Oct(field(jwk, "k")),
                other => panic!("unexpected JWK {other:?}"),
            };
            OracleKey {
                kid: jwk["kid"].as_str().map(str::to_string),
                alg: jwk["alg"].as_str().map(str::to_string),
                material,
            }
        })
        .collect()
}

/// RFC 4648 §5 base64url. Unpadded, or with exactly the padding RFC 4648 §3.2 writes (native
/// Envoy accepts padded tokens, and so does the filter). Deliberately strict, as `src/token/b64.rs`
/// documents (and docs/migration.md's differences from native for incomplete padding): the standard alphabet
/// (`+`, `/`) and non-zero trailing bits are refused, so every byte string has one unpadded
/// spelling.
fn oracle_b64(text: &str) -> Option<Vec<u8>> {
    let body = text.trim_end_matches('=');
    let pad = text.len() - body.len();
    if pad > 0 && (pad > 2 || !text.len().is_multiple_of(4)) {
        return None;
    }
    if body.len() % 4 == 1 || (pad > 0 && body.len().is_multiple_of(4)) {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in body.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be zero (canonical encoding).
    (acc == 0).then_some(out)
}

/// What a JSON text holds, seen through serde's visitor (which, unlike a parsed map, sees
/// every member, duplicates included): nesting depth, top-level members, values, and empty
/// arrays/objects.
#[derive(Default, Clone, Copy)]
struct Shape {
    depth: usize,
    members: usize,
    values: usize,
    empty: usize,
}

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Shape, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Shape;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("JSON")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
                Ok(Shape::scalar())
            }
            fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
                Ok(Shape::scalar())
            }
            fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
                Ok(Shape::scalar())
            }
            fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
                Ok(Shape::scalar())
            }
            fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
                Ok(Shape::scalar())
            }
            fn visit_unit<E>(self) -> Result<Shape, E> {
                Ok(Shape::scalar())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
                let mut shape = Shape::container();
                while let Some(child) = seq.next_element::<Shape>()? {
                    shape.add(child);
                }
                Ok(shape.close())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
                let mut shape = Shape::container();
                while map.next_key::<IgnoredAny>()?.is_some() {
                    let child = map.next_value::<Shape>()?;
                    shape.add(child);
                }
                Ok(shape.close())
            }
        }
        d.deserialize_any(V)
    }
}

impl Shape {
    fn scalar() -> Shape {
        Shape {
            values: 1,
            ..Shape::default()
        }
    }
    fn container() -> Shape {
        Shape {
            depth: 1,
            values: 1,
            ..Shape::default()
        }
    }
    fn add(&mut self, child: Shape) {
        self.members += 1;
        self.depth = self.depth.max(child.depth + 1);
        self.values += child.values;
        self.empty += child.empty;
    }
    fn close(mut self) -> Shape {
        if self.members == 0 {
            self.empty += 1;
        }
        self
    }
    /// The count of values of docs/configuration.md's limits: 1 + commas + `[`/`{`, which is the values plus the empty
    /// arrays and objects.
    fn counted_values(&self) -> usize {
        self.values + self.empty
    }
}

/// A JSON object within the limits of docs/configuration.md, or `None` (malformed). RFC 7515 §5.2 / RFC 7519
/// §4: with duplicate member names a JSON parser may keep the lexically last one, which is what
/// serde_json does; the generator relies on it (see `duplicate_keys_keep_the_last`).
fn oracle_object(bytes: &[u8], max_members: usize) -> Option<serde_json::Map<String, Value>> {
    let shape: Shape = serde_json::from_slice(bytes).ok()?;
    if shape.depth > MAX_JSON_DEPTH
        || shape.members > max_members
        || shape.counted_values() > MAX_JSON_VALUES
    {
        return None;
    }
    match serde_json::from_slice(bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// RFC 7519 §2 NumericDate. Fractions are truncated. Refused, as docs/checks.md says: negative
/// values, values from 2^64 on, and anything not a JSON number (`"1700000000"` included).
fn numeric_date(claims: &serde_json::Map<String, Value>, name: &str) -> Result<Option<u64>, ()> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(u) = n.as_u64() {
                Ok(Some(u))
            } else if n.is_i64() {
                Err(())
            } else {
                let f = n.as_f64().ok_or(())?;
                if (0.0..18_446_744_073_709_551_616.0).contains(&f) {
                    Ok(Some(f.trunc() as u64))
                } else {
                    Err(())
                }
            }
        }
        Some(_) => Err(()),
    }
}

/// Native audience comparison (docs/checks.md): an `http://`/`https://` prefix and one trailing `/`
/// are ignored on both sides.
fn normalized_audience(aud: &str) -> &str {
    let aud = aud
        .strip_prefix("https://")
        .or_else(|| aud.strip_prefix("http://"))
        .unwrap_or(aud);
    aud.strip_suffix('/').unwrap_or(aud)
}

fn oracle_verify(material: &Material, alg: Alg, input: &[u8], sig: &[u8]) -> bool {
    macro_rules! ecdsa {
        ($curve:ident, $vk:expr) => {
            match $curve::ecdsa::Signature::from_slice(sig) {
                Ok(s) => $vk.verify(input, &s).is_ok(),
                Err(_) => false,
            }
        };
    }
    macro_rules! hmac {
        ($hash:ty, $k:expr) => {{
            let mut mac = <Hmac<$hash> as KeyInit>::new_from_slice($k).unwrap();
            mac.update(input);
            mac.verify_slice(sig).is_ok()
        }};
    }
    match (material, alg) {
        (Material::Rsa(k), Alg::RS256) => k
            .verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(input), sig)
            .is_ok(),
        (Material::Rsa(k), Alg::RS384) => k
            .verify(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(input), sig)
            .is_ok(),
        (Material::Rsa(k), Alg::RS512) => k
            .verify(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(input), sig)
            .is_ok(),
        // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash.
        (Material::Rsa(k), Alg::PS256) => k
            .verify(
                Pss::<Sha256>::new_with_salt(32),
                &Sha256::digest(input),
                sig,
            )
            .is_ok(),
        (Material::Rsa(k), Alg::PS384) => k
            .verify(
                Pss::<Sha384>::new_with_salt(48),
                &Sha384::digest(input),
                sig,
            )
            .is_ok(),
        (Material::Rsa(k), Alg::PS512) => k
            .verify(
                Pss::<Sha512>::new_with_salt(64),
                &Sha512::digest(input),
                sig,
            )
            .is_ok(),
        (Material::P256(vk), Alg::ES256) => ecdsa!(p256, vk),
        (Material::P384(vk), Alg::ES384) => ecdsa!(p384, vk),
        (Material::P521(vk), Alg::ES512) => ecdsa!(p521, vk),
        // JWS (RFC 7518 §3.4) accepts both s and n - s; the k256 crate's verifier refuses
        // high-s (Bitcoin's rule), so the signature is normalized first, as the filter does.
        (Material::K256(vk), Alg::ES256K) => match k256::ecdsa::Signature::from_slice(sig) {
            Ok(s) => vk.verify(input, &s.normalize_s()).is_ok(),
            Err(_) => false,
        },
        // RFC 8032 with the strict checks (no small-order R, canonical S), as the filter documents (docs/checks.md).
        (Material::Ed25519(vk), Alg::EdDSA) => match ed25519_dalek::Signature::from_slice(sig) {
            Ok(s) => vk.verify_strict(input, &s).is_ok(),
            Err(_) => false,
        },
        (Material::Oct(k), Alg::HS256) => hmac!(Sha256, k),
        (Material::Oct(k), Alg::HS384) => hmac!(Sha384, k),
        (Material::Oct(k), Alg::HS512) => hmac!(Sha512, k),
        _ => false,
    }
}

/// A key of the wrong type never verifies (no public key is an HMAC secret; each EC key
/// verifies the one ES* of its curve).
fn supports(material: &Material, alg: Alg) -> bool {
    matches!(
        (material, alg),
        (
            Material::Rsa(_),
            Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512
        ) | (Material::P256(_), Alg::ES256)
            | (Material::K256(_), Alg::ES256K)
            | (Material::P384(_), Alg::ES384)
            | (Material::P521(_), Alg::ES512)
            | (Material::Ed25519(_), Alg::EdDSA)
            | (Material::Oct(_), Alg::HS256 | Alg::HS384 | Alg::HS512)
    )
}

struct Oracle<'s> {
    setup: &'s Setup,
    keys: Vec<OracleKey>,
}

impl Oracle<'_> {
    fn verdict(&self, header_value: &str) -> Verdict {
        // Native extraction: after `Bearer `, the token starts at the first base64url
        // character or dot.
        let token = header_value.trim_start_matches(|c: char| {
            !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        });
        if token.is_empty() {
            return Verdict::Missing;
        }
        match self.parse(token) {
            Err(v) => v,
            Ok(parsed) => self.check(&parsed),
        }
    }

    fn parse(&self, token: &str) -> Result<Parsed, Verdict> {
        use Verdict::Malformed as M;
        if token.len() > MAX_TOKEN_BYTES {
            return Err(M);
        }
        // RFC 7515 §7.1: three sections, two dots; an empty section is never a JWS here.
        let parts: Vec<&str> = token.split('.').collect();
        if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(M);
        }
        let header_bytes = oracle_b64(parts[0]).ok_or(M)?;
        if header_bytes.len() > MAX_HEADER_BYTES {
            return Err(M);
        }
        let header = oracle_object(&header_bytes, usize::MAX).ok_or(M)?;
        // RFC 7515 §4.1.1; names are case-sensitive, `none` is not accepted (RFC 8725 §3.1).
        let alg = match header.get("alg") {
            Some(Value::String(name)) => {
                Alg::ALL.into_iter().find(|a| a.name() == name).ok_or(M)?
            }
            _ => return Err(M),
        };
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(k)) => Some(k.clone()),
            Some(_) => return Err(M),
        };
        // RFC 7515 §4.1.11: no extension is understood, so any `crit` is refused.
        if header.contains_key("crit") {
            return Err(M);
        }
        let payload = oracle_b64(parts[1]).ok_or(M)?;
        let claims = oracle_object(&payload, MAX_CLAIMS).ok_or(M)?;
        // RFC 7519 §4.1: iss/sub/jti StringOrURI, exp/nbf/iat NumericDate, aud a string or an
        // array of strings.
        for name in ["iss", "sub", "jti"] {
            if claims.get(name).is_some_and(|v| !v.is_string()) {
                return Err(M);
            }
        }
        let exp = numeric_date(&claims, "exp").map_err(|()| M)?;
        let nbf = numeric_date(&claims, "nbf").map_err(|()| M)?;
        numeric_date(&claims, "iat").map_err(|()| M)?;
        let aud: Vec<String> = match claims.get("aud") {
            None => vec![],
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or(M)?,
            Some(_) => return Err(M),
        };
        let signature = oracle_b64(parts[2]).ok_or(M)?;
        Ok(Parsed {
            alg,
            kid,
            iss: claims
                .get("iss")
                .and_then(Value::as_str)
                .map(str::to_string),
            aud,
            exp,
            nbf,
            signing_input: format!("{}.{}", parts[0], parts[1]),
            signature,
        })
    }

    fn check(&self, t: &Parsed) -> Verdict {
        let setup = self.setup;
        if let Some(issuer) = setup.issuer {
            if t.iss.as_deref() != Some(issuer) {
                return Verdict::Issuer;
            }
        }
        let (now, skew) = (u128::from(NOW), u128::from(setup.skew()));
        // RFC 7519 §4.1.5: not before nbf, with leeway.
        if t.nbf.is_some_and(|nbf| now + skew < u128::from(nbf)) {
            return Verdict::NotYetValid;
        }
        // RFC 7519 §4.1.4 says "on or after exp" is expired; native Envoy (and the filter)
        // still accept now == exp + skew, one second more, and so does this oracle.
        // `exp: 0` is an expiry in 1970 (native reads 0 as "never": docs/migration.md, differences).
        if t.exp.is_some_and(|exp| now > u128::from(exp) + skew) {
            return Verdict::Expired;
        }
        if !setup.audiences.is_empty()
            && !t.aud.iter().any(|a| {
                setup
                    .audiences
                    .iter()
                    .any(|c| normalized_audience(c) == normalized_audience(a))
            })
        {
            return Verdict::Audience;
        }
        // Key selection (docs/checks.md, step 6): a JWK whose kid differs is skipped
        // (either side may lack one), so is one whose alg differs; among the rest, keys of
        // the right type are tried, at most MAX_KEYS_TRIED of them.
        let candidates: Vec<&OracleKey> = self
            .keys
            .iter()
            .filter(|k| match (&t.kid, &k.kid) {
                (Some(want), Some(have)) => want == have,
                _ => true,
            })
            .filter(|k| k.alg.as_deref().is_none_or(|a| a == t.alg.name()))
            .collect();
        if candidates.is_empty() {
            return Verdict::NoKey;
        }
        let input = t.signing_input.as_bytes();
        for key in candidates
            .iter()
            .filter(|k| supports(&k.material, t.alg))
            .take(MAX_KEYS_TRIED)
        {
            if oracle_verify(&key.material, t.alg, input, &t.signature) {
                return Verdict::Accept;
            }
        }
        Verdict::BadSignature
    }
}

struct Parsed {
    alg: Alg,
    kid: Option<String>,
    iss: Option<String>,
    aud: Vec<String>,
    exp: Option<u64>,
    nbf: Option<u64>,
    signing_input: String,
    signature: Vec<u8>,
}

// ---------------------------------------------------------------------------------------------
// Token generation

type Members = Vec<(String, Value)>;

/// JSON object text from members in order, duplicates kept.
fn object_text(members: &[(String, Value)]) -> String {
    let body: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("{}:{v}", Value::String(k.clone())))
        .collect();
    format!("{{{}}}", body.join(","))
}

fn assemble(header: &str, payload: &str, key: &Key) -> String {
    key.sign_text(header, payload)
}

fn resign(header_b64: &str, payload_b64: &str, key: &Key) -> String {
    key.sign_segments(header_b64, payload_b64)
}

fn random_string(rng: &mut Rng) -> String {
    const POOL: [&str; 16] = [
        "a",
        "b",
        "z",
        "0",
        "9",
        " ",
        "\"",
        "\\",
        "[",
        "{",
        "]",
        "}",
        ",",
        "é",
        "€",
        "\u{1F600}",
    ];
    (0..rng.below(12)).map(|_| *rng.pick(&POOL)).collect()
}

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    let kinds = if depth >= 4 { 5 } else { 8 };
    match rng.below(kinds) {
        0 => Value::Null,
        1 => json!(rng.chance(50)),
        2 => json!(rng.between(-1_000_000, 1_000_000)),
        3 => json!(rng.between(-1000, 1000) as f64 / 7.0),
        4 => json!(random_string(rng)),
        5 | 6 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.below(4))
                .map(|i| {
                    (
                        format!("{}{i}", random_string(rng)),
                        random_value(rng, depth + 1),
                    )
                })
                .collect(),
        ),
    }
}

fn wrong_type(rng: &mut Rng) -> Value {
    rng.pick(&[
        json!(1),
        json!(true),
        Value::Null,
        json!(["x"]),
        json!({"a": 1}),
        json!(1.5),
    ])
    .clone()
}

fn odd_time(rng: &mut Rng) -> Value {
    rng.pick(&[
        json!(-1),
        json!(-1.5),
        json!(-0.0),
        json!(0),
        json!("1700000000"),
        json!(1e30),
        json!(u64::MAX),
        json!(18_446_744_073_709_551_615.0f64),
        json!(18_446_744_073_709_549_568.0f64),
        json!(true),
        Value::Null,
        json!([NOW]),
        json!({"t": NOW}),
        json!(NOW as f64 + 0.999),
    ])
    .clone()
}

/// `depth` arrays and objects nested, holding a number.
fn nested_value(depth: usize) -> Value {
    let mut v = json!(1);
    for i in 0..depth {
        v = if i % 2 == 0 {
            json!([v])
        } else {
            json!({ "k": v })
        };
    }
    v
}

fn audience_variant(rng: &mut Rng, aud: &str) -> String {
    let bare = normalized_audience(aud);
    match rng.below(6) {
        0 => format!("https://{bare}"),
        1 => format!("http://{bare}/"),
        2 => format!("{bare}/"),
        3 => bare.to_string(),
        4 => format!("https://{bare}//"),
        _ => aud.to_string(),
    }
}

fn gen_claims(rng: &mut Rng, s: &Setup) -> Members {
    let now = NOW as i64;
    let skew = s.skew() as i64;
    let mut c: Members = Vec::new();
    let push = |c: &mut Members, k: &str, v: Value| c.push((k.to_string(), v));
    let issuer = s.issuer.unwrap_or("https://any-issuer.example");
    // Half the tokens have sound claims (the last branch of each choice), so that enough of
    // them reach the signature; the other half draw every claim at random.
    let noisy = rng.chance(50);
    let choose = |rng: &mut Rng, n: usize| if noisy { rng.below(n) } else { n - 1 };
    match choose(rng, 12) {
        0 => {}
        1 => push(&mut c, "iss", json!("https://evil.example")),
        2 => push(&mut c, "iss", wrong_type(rng)),
        3 => push(&mut c, "iss", json!(format!("{issuer}/"))),
        _ => push(&mut c, "iss", json!(issuer)),
    }
    if rng.chance(90) {
        let sub = if noisy && rng.chance(8) {
            wrong_type(rng)
        } else {
            json!(format!("user-{}", rng.below(1000)))
        };
        push(&mut c, "sub", sub);
    }
    let configured = |rng: &mut Rng| -> String {
        match s.audiences.as_slice() {
            [] => "some-api".to_string(),
            auds => {
                let aud = rng_pick_str(rng, auds);
                audience_variant(rng, aud)
            }
        }
    };
    match choose(rng, 14) {
        0 => {}
        1 => push(&mut c, "aud", json!("other-api")),
        2 => push(&mut c, "aud", wrong_type(rng)),
        3 => push(&mut c, "aud", json!([configured(rng), 5])),
        4 => push(&mut c, "aud", json!([])),
        5 => push(&mut c, "aud", json!(["a", "https://b/", "c"])),
        6 | 7 => {
            let aud = configured(rng);
            push(&mut c, "aud", json!(["first", aud, "last"]));
        }
        _ => {
            let aud = configured(rng);
            push(&mut c, "aud", json!(aud));
        }
    }
    match choose(rng, 20) {
        0 | 1 => {}
        2..=4 => push(&mut c, "exp", json!(now - skew + rng.between(-3, 3))),
        5 => push(&mut c, "exp", json!(now - 1_000_000)),
        6 => push(&mut c, "exp", odd_time(rng)),
        7 => push(
            &mut c,
            "exp",
            json!((now - skew) as f64 + rng.between(-2, 2) as f64 + 0.5),
        ),
        _ => push(&mut c, "exp", json!(now + rng.between(1, 1_000_000))),
    }
    match choose(rng, 20) {
        0..=9 => {}
        10..=12 => push(&mut c, "nbf", json!(now + skew + rng.between(-3, 3))),
        13 => push(&mut c, "nbf", odd_time(rng)),
        14 => push(&mut c, "nbf", json!(now + 1_000_000)),
        _ => push(&mut c, "nbf", json!(now - rng.between(0, 100_000))),
    }
    match choose(rng, 10) {
        0..=3 => {}
        4 => push(&mut c, "iat", odd_time(rng)),
        _ => push(&mut c, "iat", json!(now - rng.between(0, 3600))),
    }
    if rng.chance(30) {
        let jti = if noisy && rng.chance(10) {
            wrong_type(rng)
        } else {
            json!(format!("id-{}", rng.next_u64()))
        };
        push(&mut c, "jti", jti);
    }
    for i in 0..rng.below(5) {
        let v = random_value(rng, 1);
        push(&mut c, &format!("x{i}-{}", random_string(rng)), v);
    }
    // Shuffle so the registered claims are not always first.
    for i in (1..c.len()).rev() {
        let j = rng.below(i + 1);
        c.swap(i, j);
    }
    c
}

fn rng_pick_str<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
    items[rng.below(items.len())]
}

/// Near a size or count limit, on either side of it.
fn probe_limits(rng: &mut Rng, claims: &mut Members, header: &mut Members) -> Option<String> {
    match rng.below(200) {
        0..=3 => {
            // The payload's depth is 1 (the claims object) + the claim's.
            let depth = rng.between(MAX_JSON_DEPTH as i64 - 3, MAX_JSON_DEPTH as i64 + 2) as usize;
            claims.push(("deep".into(), nested_value(depth - 1)));
            Some(format!("payload depth {depth}"))
        }
        4 | 5 => {
            let depth = rng.between(MAX_JSON_DEPTH as i64 - 1, MAX_JSON_DEPTH as i64 + 1) as usize;
            header.push(("deep".into(), nested_value(depth - 1)));
            Some(format!("header depth {depth}"))
        }
        6..=8 => {
            let target = rng.between(MAX_CLAIMS as i64 - 3, MAX_CLAIMS as i64 + 3) as usize;
            let mut i = 0;
            while claims.len() < target {
                claims.push((format!("c{i}"), json!(i)));
                i += 1;
            }
            Some(format!("{} claims", claims.len()))
        }
        9..=11 => {
            let so_far: Shape = serde_json::from_str(&object_text(claims)).unwrap();
            // The array adds itself and its elements.
            let target = rng.between(MAX_JSON_VALUES as i64 - 3, MAX_JSON_VALUES as i64 + 3);
            let n = (target - so_far.counted_values() as i64 - 1).max(1) as usize;
            claims.push(("many".into(), json!(vec![0; n])));
            Some(format!("{n} extra values"))
        }
        12 | 13 => {
            let fixed = object_text(header).len() + r#","pad":"""#.len();
            let len = (MAX_HEADER_BYTES as i64 + rng.between(-2, 2) - fixed as i64).max(0);
            header.push(("pad".into(), json!("h".repeat(len as usize))));
            Some(format!("header of {} bytes", object_text(header).len()))
        }
        14 | 15 => {
            // A token near MAX_TOKEN_BYTES: the signature adds at most 86 + 1 characters
            // (ES512), 683 for RSA; aim around the limit and let the exact size fall either side.
            let fixed = object_text(claims).len() + r#","pad":"""#.len();
            let header_b64 = (object_text(header).len() * 4).div_ceil(3);
            let budget = MAX_TOKEN_BYTES as i64 - header_b64 as i64 - 2 - 200;
            let len = (budget * 3 / 4 - fixed as i64 + rng.between(-300, 300)).max(0);
            claims.push(("pad".into(), json!("p".repeat(len as usize))));
            Some("near the token size limit".into())
        }
        _ => None,
    }
}

/// A case: the header value sent, and how it was made (for failure messages).
struct Case {
    token: String,
    how: String,
}

fn flip_bit(rng: &mut Rng, bytes: &mut [u8]) -> String {
    if bytes.is_empty() {
        return "nothing to flip".into();
    }
    let i = rng.below(bytes.len());
    let bit = rng.below(8);
    bytes[i] ^= 1 << bit;
    format!("byte {i} bit {bit}")
}

fn standard_alphabet(s: &str) -> String {
    s.replace('-', "+").replace('_', "/")
}

fn padded(s: &str) -> String {
    let mut s = s.to_string();
    while !s.len().is_multiple_of(4) {
        s.push('=');
    }
    s
}

macro_rules! negate_s {
    ($curve:ident, $sig:expr) => {{
        let sig = $curve::ecdsa::Signature::from_slice($sig).unwrap();
        let (r, s) = sig.split_scalars();
        $curve::ecdsa::Signature::from_scalars(r, -s)
            .unwrap()
            .to_bytes()
            .to_vec()
    }};
}

fn gen_case(rng: &mut Rng, s: &Setup, attacker: &Key) -> Case {
    let alg = *rng.pick(&Alg::ALL);
    let (key, kid) = s.signer(alg);
    let mut header: Members = vec![("alg".into(), json!(alg.name()))];
    if rng.chance(80) {
        header.push(("typ".into(), json!("JWT")));
    }
    match (kid, rng.below(10)) {
        (Some(kid), 0..=7) => header.push(("kid".into(), json!(kid))),
        (_, 8) => header.push(("kid".into(), json!(format!("unknown-{}", rng.below(9))))),
        _ => {}
    }
    if rng.chance(50) {
        let last = header.len() - 1;
        header.swap(0, last);
    }
    let mut claims = gen_claims(rng, s);
    let mut how = format!("{alg} kid {kid:?}");
    let probe = probe_limits(rng, &mut claims, &mut header);
    if let Some(p) = &probe {
        how.push_str(&format!(", probe: {p}"));
    }
    let header_text = object_text(&header);
    let payload_text = object_text(&claims);
    let token = assemble(&header_text, &payload_text, key);
    if rng.chance(45) {
        let (token, what) = mutate(
            rng,
            s,
            &token,
            &header,
            &claims,
            key,
            attacker,
            probe.is_some(),
        );
        how.push_str(&format!(", mutation: {what}"));
        Case { token, how }
    } else {
        Case { token, how }
    }
}

#[allow(clippy::too_many_arguments)]
fn mutate(
    rng: &mut Rng,
    s: &Setup,
    token: &str,
    header: &Members,
    claims: &Members,
    key: &Key,
    attacker: &Key,
    probing: bool,
) -> (String, String) {
    let parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let decoded = |i: usize| jwt_mint::b64url_decode(&parts[i]).unwrap();
    let seg = rng.below(3);
    let with_header = |h: &Members| assemble(&object_text(h), &object_text(claims), key);
    match rng.below(22) {
        0..=2 => {
            let mut bytes = decoded(seg);
            let what = flip_bit(rng, &mut bytes);
            let mut p = parts.clone();
            p[seg] = b64url(&bytes);
            (p.join("."), format!("flipped segment {seg} {what}"))
        }
        3 => {
            let seg = rng.below(2);
            let mut bytes = decoded(seg);
            let what = flip_bit(rng, &mut bytes);
            let mut p = parts.clone();
            p[seg] = b64url(&bytes);
            (
                resign(&p[0], &p[1], key),
                format!("flipped segment {seg} {what}, re-signed"),
            )
        }
        4 | 5 => {
            const POOL: &[u8] = b"AZaz09-_+/=.!~*$ ";
            let mut bytes = token.as_bytes().to_vec();
            let i = rng.below(bytes.len());
            let c = *rng.pick(POOL);
            bytes[i] = c;
            (
                String::from_utf8(bytes).unwrap(),
                format!("char {i} set to {:?}", c as char),
            )
        }
        6 => {
            let (a, b) = *rng.pick(&[(0, 1), (1, 2), (0, 2)]);
            let mut p = parts.clone();
            p.swap(a, b);
            (p.join("."), format!("swapped segments {a} and {b}"))
        }
        7 => {
            let mut p = parts.clone();
            p[seg] = padded(&p[seg]);
            if seg < 2 && rng.chance(50) {
                (
                    resign(&p[0], &p[1], key),
                    format!("segment {seg} padded, re-signed"),
                )
            } else {
                (p.join("."), format!("segment {seg} padded"))
            }
        }
        8 => {
            let mut p = parts.clone();
            p[seg] = standard_alphabet(&p[seg]);
            if rng.chance(50) {
                p[seg] = padded(&p[seg]);
            }
            (
                p.join("."),
                format!("segment {seg} in the standard alphabet"),
            )
        }
        9 => {
            // Non-canonical trailing bits: the last character's unused low bits set.
            let mut p = parts.clone();
            let text = &p[seg];
            let what = if text.len() % 4 >= 2 {
                let last = text.as_bytes()[text.len() - 1];
                let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
                let v = alphabet.iter().position(|&c| c == last).unwrap();
                let mask = if text.len() % 4 == 2 { 0x0f } else { 0x03 };
                let changed = alphabet[(v | (1 + rng.below(mask))) & 63] as char;
                let mut t = text[..text.len() - 1].to_string();
                t.push(changed);
                p[seg] = t;
                format!("segment {seg} last char {:?} -> {changed:?}", last as char)
            } else {
                "no trailing bits to set".to_string()
            };
            (p.join("."), what)
        }
        10 => {
            let mut h = header.clone();
            let other = rng.pick(&Alg::ALL).name().to_string();
            let new = match rng.below(7) {
                0 => json!("none"),
                1 => json!(alg_name(h.iter()).to_lowercase()),
                2 => json!(""),
                3 => json!(256),
                4 => json!(format!("{} ", alg_name(h.iter()))),
                _ => json!(other),
            };
            set_member(&mut h, "alg", Some(new.clone()));
            (with_header(&h), format!("alg set to {new}, re-signed"))
        }
        11 => {
            let mut h = header.clone();
            let kids: Vec<Option<String>> = s.jwks.iter().map(|j| j.kid.clone()).collect();
            let new = match rng.below(5) {
                0 => None,
                1 => Some(json!(7)),
                2 => Some(Value::Null),
                3 => Some(json!("nope")),
                _ => rng.pick(&kids).clone().map(|k| json!(k)),
            };
            set_member(&mut h, "kid", new.clone());
            (with_header(&h), format!("kid set to {new:?}, re-signed"))
        }
        12 => {
            let mut h = header.clone();
            let crit = rng
                .pick(&[json!(["exp"]), json!([]), json!("b64"), json!(["b64"])])
                .clone();
            h.push(("crit".into(), crit.clone()));
            if rng.chance(50) {
                h.push(("b64".into(), json!(false)));
            }
            (with_header(&h), format!("crit {crit}, re-signed"))
        }
        13 => {
            let mut t = token.to_string();
            let what = match rng.below(5) {
                0 => {
                    let i = rng.below(t.len() + 1);
                    t.insert(i, '.');
                    format!("dot inserted at {i}")
                }
                1 => {
                    t.push('.');
                    "trailing dot".into()
                }
                2 => {
                    t.push_str(".e30");
                    "fourth segment".into()
                }
                3 => {
                    t.insert(0, '.');
                    "leading dot".into()
                }
                _ => {
                    let i = t.find('.').unwrap();
                    t.insert(i, '.');
                    "double dot".into()
                }
            };
            (t, what)
        }
        14 => {
            let len = 1 + rng.below(token.len() - 1);
            (token[..len].to_string(), format!("truncated to {len}"))
        }
        15 => {
            // Duplicate header members: the lexically last one counts.
            let mut h = header.clone();
            let (name, value) = match rng.below(3) {
                0 => ("alg", json!(rng.pick(&Alg::ALL).name())),
                1 => ("alg", json!("none")),
                _ => ("kid", json!("nope")),
            };
            if rng.chance(50) {
                h.insert(0, (name.into(), value.clone()));
            } else {
                h.push((name.into(), value.clone()));
            }
            (
                with_header(&h),
                format!("duplicate header {name} {value}, re-signed"),
            )
        }
        16 if !probing => {
            let mut c = claims.clone();
            let (name, value) = match rng.below(4) {
                0 => ("iss", json!("https://evil.example")),
                1 => ("exp", json!(NOW - 100_000)),
                2 => ("aud", json!("other-api")),
                _ => ("exp", json!("soon")),
            };
            if rng.chance(50) {
                c.insert(0, (name.into(), value.clone()));
            } else {
                c.push((name.into(), value.clone()));
            }
            (
                assemble(&object_text(header), &object_text(&c), key),
                format!("duplicate claim {name} {value}, re-signed"),
            )
        }
        17 => {
            let mut sig = decoded(2);
            let what = match rng.below(6) {
                0 => {
                    sig.pop();
                    "signature one byte short"
                }
                1 => {
                    sig.push(0);
                    "signature with a zero byte appended"
                }
                2 => {
                    sig.insert(0, 0);
                    "signature with a zero byte prepended"
                }
                3 => {
                    sig.iter_mut().for_each(|b| *b = 0);
                    "signature all zero"
                }
                4 => {
                    sig.iter_mut().for_each(|b| *b = 0xff);
                    "signature all 0xff"
                }
                _ => {
                    sig.iter_mut().for_each(|b| *b = rng.next_u64() as u8);
                    "signature random"
                }
            };
            let mut p = parts.clone();
            p[2] = b64url(&sig);
            if p[2].is_empty() {
                p[2] = "AA".into();
            }
            (p.join("."), what.into())
        }
        18 => {
            // Malleated ECDSA: (r, n - s) is as valid as (r, s).
            let sig = decoded(2);
            let alg = key.alg();
            let negated = match alg {
                Alg::ES256 => negate_s!(p256, &sig),
                Alg::ES256K => negate_s!(k256, &sig),
                Alg::ES384 => negate_s!(p384, &sig),
                Alg::ES512 => negate_s!(p521, &sig),
                _ => return (token.to_string(), "unchanged (not ECDSA)".into()),
            };
            let mut p = parts.clone();
            p[2] = b64url(&negated);
            (p.join("."), "ECDSA s negated".into())
        }
        19 => {
            // The attacker's own key, offered in the header (`jwk`, `jku`, `x5u`), never used.
            let mut h = header.clone();
            set_member(&mut h, "alg", Some(json!(attacker.alg().name())));
            match rng.below(3) {
                0 => h.push(("jwk".into(), attacker.public_jwk())),
                1 => h.push(("jku".into(), json!("https://attacker.example/jwks"))),
                _ => h.push(("x5u".into(), json!("https://attacker.example/cert"))),
            }
            (
                assemble(&object_text(&h), &object_text(claims), attacker),
                "signed by the attacker's key named in the header".into(),
            )
        }
        20 => {
            // Algorithm confusion: HS256 keyed with an RSA or EC public key's bytes.
            let public = s
                .jwks
                .iter()
                .find(|j| j.key.alg().family() != Family::Oct)
                .unwrap();
            let jwk = public.key.public_jwk();
            let secret = match rng.below(3) {
                0 => jwk.to_string(),
                1 => jwk["n"].as_str().or(jwk["x"].as_str()).unwrap().to_string(),
                _ => s.jwks_json().to_string(),
            };
            let forger = Key::hmac(Alg::HS256, "x", secret.as_bytes());
            let mut h = header.clone();
            set_member(&mut h, "alg", Some(json!("HS256")));
            set_member(&mut h, "kid", public.kid.clone().map(|k| json!(k)));
            (
                assemble(&object_text(&h), &object_text(claims), &forger),
                "HS256 keyed with a public key".into(),
            )
        }
        _ => {
            // Junk around the token: before it (the extractor skips it), or after it.
            let junk = rng.pick(&["!", "=", "+", " ", "x", "..", "~"]);
            if rng.chance(50) {
                (format!("{junk}{token}"), format!("{junk:?} prepended"))
            } else {
                (format!("{token}{junk}"), format!("{junk:?} appended"))
            }
        }
    }
}

fn alg_name<'a>(mut members: impl Iterator<Item = &'a (String, Value)>) -> String {
    members
        .find(|(k, _)| k == "alg")
        .and_then(|(_, v)| v.as_str())
        .unwrap_or("RS256")
        .to_string()
}

fn set_member(members: &mut Members, name: &str, value: Option<Value>) {
    members.retain(|(k, _)| k != name);
    if let Some(v) = value {
        members.push((name.to_string(), v));
    }
}

// ---------------------------------------------------------------------------------------------
// The runs

fn run(setup_name: &str, salt: u64) {
    let seed = seed();
    let s = setup(setup_name);
    let config = s.config();
    let oracle = Oracle {
        setup: &s,
        keys: oracle_keys(&s.jwks_json()),
    };
    let attacker = Key::from_seed(Alg::ES256, "attacker", 999);
    let cache = RefCell::new(TokenCache::new(256));
    let mut rng = Rng(seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut counts: BTreeMap<Verdict, usize> = BTreeMap::new();
    let started = Instant::now();
    let n = cases_per_setup();
    for i in 0..n {
        let case = gen_case(&mut rng, &s, &attacker);
        let headers = request(&case.token);
        let decision = authenticate(Input::local(&config, &Request::new(&headers), NOW)).decision;
        let got = filter_verdict(&decision);
        let want = oracle.verdict(&case.token);
        let context = || {
            format!(
                "setup {}, case {i}: {}\n  token: {}\n  replay: DIFF_SEED={seed} cargo test --test differential",
                s.name, case.how, case.token
            )
        };
        assert_eq!(
            got,
            want,
            "filter {got} ({decision:?}) but oracle {want}\n{}",
            context()
        );
        // The per-worker verdict cache must not change a verdict, on a miss or a hit.
        if i % 4 == 0 {
            for round in ["miss", "hit"] {
                let cached = authenticate(Input {
                    cache: Some(&cache),
                    ..Input::local(&config, &Request::new(&headers), NOW)
                })
                .decision;
                assert_eq!(
                    filter_verdict(&cached),
                    got,
                    "cached ({round}) {cached:?}\n{}",
                    context()
                );
            }
        }
        *counts.entry(got).or_default() += 1;
    }
    eprintln!(
        "differential[{}]: {n} cases in {:.1?}, DIFF_SEED={seed}: {counts:?}",
        s.name,
        started.elapsed()
    );
    let share = |v: Verdict| counts.get(&v).copied().unwrap_or(0) * 100 / n.max(1);
    if n >= 500 {
        assert!(
            share(Verdict::Accept) >= 15,
            "too few accepted tokens: {counts:?} (DIFF_SEED={seed})"
        );
        for (v, min) in [
            (Verdict::Malformed, 5),
            (Verdict::BadSignature, 1),
            (Verdict::Expired, 1),
            (Verdict::NotYetValid, 1),
        ] {
            assert!(
                share(v) >= min,
                "too few {v}: {counts:?} (DIFF_SEED={seed})"
            );
        }
    }
}

#[test]
fn issuer_and_audiences_with_tagged_keys() {
    run("issuer-audiences", 1);
}

#[test]
fn no_issuer_no_audiences_untagged_keys() {
    run("open", 2);
}

#[test]
fn untagged_keys_and_zero_skew_field() {
    run("untagged", 3);
}

#[test]
fn plain_issuer_wide_skew() {
    run("plain-issuer", 4);
}

/// The generator's duplicate-member mutations rely on the lexically last member winning
/// (RFC 7515 §5.2 allows exactly that or a refusal); pin it for both sides.
#[test]
fn duplicate_keys_keep_the_last() {
    let map: serde_json::Map<String, Value> =
        serde_json::from_str(r#"{"alg":"none","alg":"HS256"}"#).unwrap();
    assert_eq!(map["alg"], "HS256");
    let s = setup("plain-issuer");
    let config = s.config();
    let (key, kid) = s.signer(Alg::HS256);
    let header = format!(
        r#"{{"alg":"none","kid":"{}","alg":"HS256"}}"#,
        kid.clone().unwrap()
    );
    let payload = r#"{"iss":"https://evil.example","iss":"plain-issuer"}"#;
    let token = assemble(&header, payload, key);
    let headers = request(&token);
    assert!(matches!(
        authenticate(Input::local(&config, &Request::new(&headers), NOW)).decision,
        Decision::Allow(_)
    ));
    assert_eq!(
        Oracle {
            setup: &s,
            keys: oracle_keys(&s.jwks_json())
        }
        .verdict(&token),
        Verdict::Accept
    );
}

/// The oracle's own decoder against known answers, so a lenient oracle cannot hide a lenient
/// filter.
#[test]
fn oracle_base64url() {
    assert_eq!(oracle_b64("YWI").as_deref(), Some(&b"ab"[..]));
    assert_eq!(oracle_b64("YWI=").as_deref(), Some(&b"ab"[..]));
    assert_eq!(oracle_b64("YQ==").as_deref(), Some(&b"a"[..]));
    assert_eq!(oracle_b64("-_8").as_deref(), Some(&[0xfb, 0xff][..]));
    for bad in [
        "+/8", "YWJ=", "YQ=", "Y", "YWJ", "YQ===", "Y=Q=", "YW I", "=", "YWI==",
    ] {
        assert_eq!(oracle_b64(bad), None, "{bad}");
    }
}
