//! Key documents other than plain JWK members, end to end through `Config::parse` and
//! `authn::authenticate`: JWKs with `x5c` certificates, Google's X.509 kid → certificate maps and
//! PEM text in `local_jwks.inline_string`. Tokens come from jwt-mint (its keys' SPKI, PKCS#1 and
//! certificates from `jwt_mint::x509`, with x509-cert's builder) and from OpenSSL
//! (`tests/fixtures/x509/`, keys, certificates and signatures all made by `openssl`, see
//! `generate.py` there).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use jwt_authn_wasm::authn::model::Config;
use jwt_authn_wasm::authn::{authenticate, Decision, Input};
use jwt_authn_wasm::error::AuthError;
use jwt_authn_wasm::request::matcher::Request;
use jwt_mint::x509::{self, pem, pkcs1_der, spki_der, Signer, Template};
use jwt_mint::{b64url_decode, Alg, Key};
use serde_json::{json, Map, Value};

const NOW: u64 = 1_700_000_000;
const ISSUER: &str = "https://iss";

fn load(inline: &str) -> Result<Config, String> {
    let text = json!({
        "providers": {"p": {"local_jwks": {"inline_string": inline}}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]
    })
    .to_string();
    Config::parse(&text).map_err(|e| e.to_string())
}

fn check(config: &Config, token: &str) -> Result<(), AuthError> {
    let headers = vec![
        (":path".to_string(), "/".to_string()),
        ("authorization".to_string(), format!("Bearer {token}")),
    ];
    match authenticate(Input::local(config, &Request::new(&headers), NOW)).decision {
        Decision::Allow(_) => Ok(()),
        Decision::Deny(e) => Err(e),
        Decision::Forbid(f) => Err(f.error),
        Decision::WaitForKeys(_) | Decision::RefetchKeys(_) => panic!("local keys never wait"),
    }
}

fn claims() -> Value {
    json!({"iss": ISSUER, "sub": "alice", "exp": NOW + 600, "iat": NOW})
}

/// One jwt-mint key per supported kind of key (PS256 shares the RSA kind).
fn keys(seed: u64) -> Vec<Key> {
    [
        Alg::RS256,
        Alg::ES256,
        Alg::ES384,
        Alg::ES512,
        Alg::ES256K,
        Alg::EdDSA,
    ]
    .into_iter()
    .map(|alg| Key::from_seed(alg, &format!("{alg}-{seed}"), seed))
    .collect()
}

// --- Certificates for jwt-mint keys (jwt_mint::x509: x509-cert's builder) ---------------------

/// A certificate for `key` that expired in 2001, with a stub signature: the filter reads none.
fn cert_der(key: &Key) -> Vec<u8> {
    let template = Template {
        serial: vec![7],
        issuer: "CN=key formats test CA".into(),
        subject: "CN=key formats test key,O=jwt-authn-wasm,C=SE".into(),
        not_before: 946_684_800,
        not_after: 978_307_200,
        basic_constraints: None,
    };
    x509::certificate(&spki_der(key), &template, Signer::Stub(&[0x30, 0x00]))
}

/// The public JWK without its key members, carrying the certificate instead.
fn x5c_only(key: &Key) -> Value {
    let mut jwk = key.public_jwk();
    let obj = jwk.as_object_mut().unwrap();
    for name in ["n", "e", "x", "y", "crv"] {
        obj.remove(name);
    }
    obj.insert("x5c".into(), json!([STANDARD.encode(cert_der(key))]));
    jwk
}

fn jwks(keys: Vec<Value>) -> String {
    json!({ "keys": keys }).to_string()
}

fn x509_map(entries: &[(&str, String)]) -> String {
    let map: Map<String, Value> = entries
        .iter()
        .map(|(kid, pem)| ((*kid).to_owned(), Value::String(pem.clone())))
        .collect();
    Value::Object(map).to_string()
}

// --- jwt-mint keys -----------------------------------------------------------------------------

#[test]
fn jwks_with_x5c_only_keys() {
    let keys = keys(1);
    let config = load(&jwks(keys.iter().map(x5c_only).collect())).unwrap();
    for key in &keys {
        assert_eq!(
            check(&config, &key.token(&claims())),
            Ok(()),
            "{}",
            key.alg()
        );
    }
    // PS256 with the RSA certificate's key.
    let ps = keys[0].with_alg(Alg::PS256).unwrap();
    let rsa_only = load(&jwks(vec![with_alg_removed(x5c_only(&keys[0]))])).unwrap();
    assert_eq!(check(&rsa_only, &ps.token(&claims())), Ok(()));
    // Another key of the same kind under the same kid does not verify.
    let other = Key::from_seed(Alg::ES256, keys[1].kid(), 2);
    assert_eq!(
        check(&config, &other.token(&claims())),
        Err(AuthError::JwtVerificationFail)
    );
}

fn with_alg_removed(mut jwk: Value) -> Value {
    jwk.as_object_mut().unwrap().remove("alg");
    jwk
}

#[test]
fn jwks_with_key_members_and_a_matching_x5c() {
    let keys = keys(3);
    let document = jwks(
        keys.iter()
            .map(|key| {
                let mut jwk = key.public_jwk();
                jwk["x5c"] = json!([STANDARD.encode(cert_der(key)), STANDARD.encode(b"chain")]);
                jwk
            })
            .collect(),
    );
    let config = load(&document).unwrap();
    for key in &keys {
        assert_eq!(
            check(&config, &key.token(&claims())),
            Ok(()),
            "{}",
            key.alg()
        );
    }
}

#[test]
fn a_mismatched_x5c_is_skipped_and_the_other_keys_work() {
    let liar = Key::from_seed(Alg::RS256, "liar", 4);
    let stranger = Key::from_seed(Alg::RS256, "stranger", 5);
    let honest = Key::from_seed(Alg::ES256, "honest", 6);
    let mut lying = liar.public_jwk();
    lying["x5c"] = json!([STANDARD.encode(cert_der(&stranger))]);
    let config = load(&jwks(vec![lying, x5c_only(&honest)])).unwrap();
    assert_eq!(check(&config, &honest.token(&claims())), Ok(()));
    // The lying key is gone: neither its own token nor the certificate's key's is accepted.
    assert_eq!(
        check(&config, &liar.token(&claims())),
        Err(AuthError::JwksKidAlgMismatch)
    );
    assert_eq!(
        check(&config, &stranger.with_kid("liar").token(&claims())),
        Err(AuthError::JwksKidAlgMismatch)
    );
    // Alone, it leaves no usable key: the configuration is refused, naming the reason.
    let mut lying = liar.public_jwk();
    lying["x5c"] = json!([STANDARD.encode(cert_der(&stranger))]);
    let err = config_err(&jwks(vec![lying]));
    assert!(
        err.contains("JwksNoValidKeys") && err.contains("x5c certificate does not match n/e"),
        "{err}"
    );
}

fn config_err(inline: &str) -> String {
    match load(inline) {
        Ok(_) => panic!("accepted: {inline}"),
        Err(e) => e,
    }
}

#[test]
fn x509_kid_to_certificate_map() {
    let keys = keys(7);
    let entries: Vec<(&str, String)> = keys
        .iter()
        .map(|key| (key.kid(), pem("CERTIFICATE", &cert_der(key))))
        .collect();
    let config = load(&x509_map(&entries)).unwrap();
    for key in &keys {
        assert_eq!(
            check(&config, &key.token(&claims())),
            Ok(()),
            "{}",
            key.alg()
        );
    }
    // Keys are bound to their kid: under another key's kid a token is tried against that key
    // only (no alg on map entries, so it counts as a match that fails).
    let swapped = keys[1].with_kid(keys[0].kid());
    assert_eq!(
        check(&config, &swapped.token(&claims())),
        Err(AuthError::JwtVerificationFail)
    );
    assert_eq!(
        check(&config, &keys[1].with_kid("unknown").token(&claims())),
        Err(AuthError::JwksKidAlgMismatch)
    );
}

#[test]
fn concatenated_pem_blocks() {
    let keys = keys(8);
    let rsa_pkcs1 = Key::from_seed(Alg::RS256, "pkcs1", 9);
    let rsa_cert = Key::from_seed(Alg::RS256, "cert", 10);
    let mut text = String::from("\n");
    for key in &keys {
        text += &pem("PUBLIC KEY", &spki_der(key));
    }
    text += &pem("RSA PUBLIC KEY", &pkcs1_der(&rsa_pkcs1));
    text += &pem("CERTIFICATE", &cert_der(&rsa_cert));
    let config = load(&text).unwrap();
    // PEM keys have no kid: the token's kid matches none and all, and the alg picks the key.
    for key in keys.iter().chain([&rsa_pkcs1, &rsa_cert]) {
        assert_eq!(
            check(&config, &key.token(&claims())),
            Ok(()),
            "{}",
            key.kid()
        );
        let no_kid = key.sign(&json!({"alg": key.alg().name()}), &claims());
        assert_eq!(check(&config, &no_kid), Ok(()), "{} without kid", key.kid());
    }
    let unknown = Key::from_seed(Alg::ES384, "unknown", 11);
    assert_eq!(
        check(&config, &unknown.token(&claims())),
        Err(AuthError::JwtVerificationFail)
    );
}

#[test]
fn a_pem_key_is_never_an_hmac_secret() {
    let rsa = Key::from_seed(Alg::RS256, "rsa", 12);
    let ec = Key::from_seed(Alg::ES256, "ec", 12);
    let documents = [
        pem("PUBLIC KEY", &spki_der(&rsa)),
        pem("RSA PUBLIC KEY", &pkcs1_der(&rsa)),
        pem("CERTIFICATE", &cert_der(&rsa)),
        pem("PUBLIC KEY", &spki_der(&ec)),
    ];
    for text in &documents {
        let config = load(text).unwrap();
        let blocks = pem_rfc7468::decode_vec(text.as_bytes()).unwrap().1;
        let trimmed = text.trim().to_owned();
        for secret in [text.as_bytes(), trimmed.as_bytes(), &blocks] {
            for alg in [Alg::HS256, Alg::HS384, Alg::HS512] {
                // PEM keys have neither kid nor alg, so they are tried, and never verify HS*.
                let forged = Key::hmac(alg, "rsa", secret).token(&claims());
                assert_eq!(
                    check(&config, &forged),
                    Err(AuthError::JwtVerificationFail),
                    "{alg} keyed with {text}"
                );
            }
        }
    }
    // The same goes for a certificate in a JWK or in an X.509 map.
    let cert = cert_der(&rsa);
    for document in [
        jwks(vec![x5c_only(&rsa)]),
        x509_map(&[("rsa", pem("CERTIFICATE", &cert))]),
    ] {
        let config = load(&document).unwrap();
        for secret in [&cert[..], pem("CERTIFICATE", &cert).as_bytes()] {
            let forged = Key::hmac(Alg::HS256, "rsa", secret).token(&claims());
            let verdict = check(&config, &forged);
            assert!(
                matches!(
                    verdict,
                    Err(AuthError::JwtVerificationFail | AuthError::JwksKidAlgMismatch)
                ),
                "{verdict:?}"
            );
        }
    }
}

#[test]
fn keycloak_encryption_key_is_skipped() {
    let sig = Key::from_seed(Alg::RS256, "sig", 13);
    let enc = Key::from_seed(Alg::RS256, "enc", 14);
    let mut enc_jwk = enc.public_jwk();
    enc_jwk["use"] = json!("enc");
    enc_jwk["alg"] = json!("RSA-OAEP");
    enc_jwk["x5c"] = json!([STANDARD.encode(cert_der(&enc))]);
    let mut sig_jwk = sig.public_jwk();
    sig_jwk["x5c"] = json!([STANDARD.encode(cert_der(&sig))]);
    let config = load(&jwks(vec![enc_jwk.clone(), sig_jwk])).unwrap();
    assert_eq!(check(&config, &sig.token(&claims())), Ok(()));
    assert_eq!(
        check(&config, &enc.token(&claims())),
        Err(AuthError::JwksKidAlgMismatch)
    );
    let err = config_err(&jwks(vec![enc_jwk]));
    assert!(
        err.ends_with("key 0 (kid \"enc\"): \"use\" is \"enc\", not \"sig\""),
        "{err}"
    );
}

#[test]
fn bad_pem_in_local_jwks_is_a_config_error() {
    let ed = Key::from_seed(Alg::EdDSA, "ed", 15);
    let good = pem("PUBLIC KEY", &spki_der(&ed));
    for (text, expected) in [
        (format!("{good}trailer"), "JwksParseError"),
        (
            "-----BEGIN PUBLIC KEY-----\nAAAA".to_owned(),
            "JwksParseError",
        ),
        (pem("PRIVATE KEY", b"secret"), "JwksNoValidKeys"),
        (pem("CERTIFICATE", b"junk"), "JwksNoValidKeys"),
    ] {
        let err = config_err(&text);
        assert!(err.contains(expected), "{err}");
    }
    // A bad block next to a good one: the good one is used.
    let config = load(&format!("{}{good}", pem("PRIVATE KEY", b"secret"))).unwrap();
    assert_eq!(check(&config, &ed.token(&claims())), Ok(()));
}

// --- OpenSSL-made keys, certificates and tokens ------------------------------------------------

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/x509");
const OPENSSL_KEYS: [&str; 6] = ["rsa", "p256", "p384", "p521", "secp256k1", "ed25519"];

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}"))
        .unwrap_or_else(|e| panic!("{FIXTURES}/{name}: {e}"))
}

/// `(alg, token)`; the token's kid names its key's fixture files.
fn openssl_tokens() -> Vec<(String, String)> {
    let tokens: Map<String, Value> = serde_json::from_str(&fixture("tokens.json")).unwrap();
    assert_eq!(tokens.len(), 7);
    tokens
        .into_iter()
        .map(|(alg, token)| (alg, token.as_str().unwrap().to_owned()))
        .collect()
}

fn openssl_config(inline: &str) -> Config {
    let text = json!({
        "providers": {"p": {"issuer": "https://openssl.example", "local_jwks": {"inline_string": inline}}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]
    })
    .to_string();
    Config::parse(&text).unwrap()
}

fn assert_openssl_tokens_pass(config: &Config, what: &str) {
    for (alg, token) in openssl_tokens() {
        assert_eq!(check(config, &token), Ok(()), "{what}: {alg}");
        // One flipped signature bit and it fails.
        let (input, sig) = token.rsplit_once('.').unwrap();
        let mut sig = b64url_decode(sig).unwrap();
        sig[10] ^= 1;
        let bad = format!("{input}.{}", jwt_mint::b64url(&sig));
        assert_eq!(
            check(config, &bad),
            Err(AuthError::JwtVerificationFail),
            "{what}: {alg} flipped"
        );
    }
}

#[test]
fn openssl_public_key_pem() {
    let text: String = OPENSSL_KEYS
        .iter()
        .map(|name| fixture(&format!("{name}.pub.pem")))
        .collect();
    assert_openssl_tokens_pass(&openssl_config(&text), "PUBLIC KEY blocks");
    // RSA as PKCS#1 instead of SPKI.
    let text = text.replace(&fixture("rsa.pub.pem"), &fixture("rsa.pkcs1.pem"));
    assert!(text.contains("BEGIN RSA PUBLIC KEY"));
    assert_openssl_tokens_pass(&openssl_config(&text), "RSA PUBLIC KEY block");
}

#[test]
fn openssl_certificates_as_pem_map_and_x5c() {
    let certs: Vec<(&str, String)> = OPENSSL_KEYS
        .iter()
        .map(|name| (*name, fixture(&format!("{name}.cert.pem"))))
        .collect();
    let all: String = certs.iter().map(|(_, pem)| pem.as_str()).collect();
    assert_openssl_tokens_pass(&openssl_config(&all), "CERTIFICATE blocks");
    assert_openssl_tokens_pass(&openssl_config(&x509_map(&certs)), "X.509 map");

    let x5c_keys: Vec<Value> = certs
        .iter()
        .map(|(name, pem)| {
            let der = pem_rfc7468::decode_vec(pem.as_bytes()).unwrap().1;
            let kty = match *name {
                "rsa" => "RSA",
                "ed25519" => "OKP",
                _ => "EC",
            };
            json!({"kty": kty, "kid": name, "use": "sig", "x5c": [STANDARD.encode(der)]})
        })
        .collect();
    assert_openssl_tokens_pass(&openssl_config(&jwks(x5c_keys)), "x5c JWKS");
}

#[test]
fn openssl_certificate_that_contradicts_the_jwk_is_skipped() {
    let der = pem_rfc7468::decode_vec(fixture("p256.cert.pem").as_bytes())
        .unwrap()
        .1;
    let impostor = Key::from_seed(Alg::ES256, "p256", 16);
    let mut jwk = impostor.public_jwk();
    jwk["x5c"] = json!([STANDARD.encode(der)]);
    let ed = fixture("ed25519.cert.pem");
    let ed_der = pem_rfc7468::decode_vec(ed.as_bytes()).unwrap().1;
    let ed_jwk = json!({"kty": "OKP", "kid": "ed25519", "x5c": [STANDARD.encode(ed_der)]});
    let config = openssl_config(&jwks(vec![jwk, ed_jwk]));
    let tokens: Map<String, Value> = serde_json::from_str(&fixture("tokens.json")).unwrap();
    assert_eq!(
        check(&config, tokens["ES256"].as_str().unwrap()),
        Err(AuthError::JwksKidAlgMismatch)
    );
    assert_eq!(check(&config, tokens["EdDSA"].as_str().unwrap()), Ok(()));
}
