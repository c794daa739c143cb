//! Native integration test of the core: a table of attacks on the verify path, each run
//! through `authn::authenticate` with real keys, asserting the exact status.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

use jwt_authn_wasm::authn::{authenticate, Decision, Input};
use jwt_authn_wasm::authn::model::Config;
use jwt_authn_wasm::token::jws::MAX_TOKEN_BYTES;
use jwt_authn_wasm::error::AuthError;
use jwt_authn_wasm::request::matcher::Request;
use jwt_mint::{b64url, b64url_decode, jwks, Alg, Key};
use serde_json::{json, Value};

const NOW: u64 = 1_700_000_000;

fn config_with(jwks_json: &Value) -> Config {
    let text = json!({
        "providers": {"p": {"issuer": "https://iss", "local_jwks": {"inline_string": jwks_json.to_string()}}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]
    })
    .to_string();
    Config::parse(&text).expect("config")
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
    json!({"iss": "https://iss", "sub": "alice", "exp": NOW + 600, "iat": NOW})
}

fn raw(header: &Value, payload: &[u8], sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(payload),
        b64url(sig)
    )
}

/// Re-signs `header.payload` with `key`, leaving header and payload as given.
fn with_sig(token: &str, sig: &[u8]) -> String {
    let (input, _) = token.rsplit_once('.').unwrap();
    format!("{input}.{}", b64url(sig))
}

fn sig_of(token: &str) -> Vec<u8> {
    b64url_decode(token.rsplit_once('.').unwrap().1).unwrap()
}

struct Keys {
    rsa: Key,
    ec: Key,
    ed: Key,
    hs: Key,
}

fn keys() -> Keys {
    Keys {
        rsa: Key::from_seed(Alg::RS256, "rsa", 1),
        ec: Key::from_seed(Alg::ES256, "ec", 2),
        ed: Key::from_seed(Alg::EdDSA, "ed", 3),
        hs: Key::hmac(Alg::HS256, "hs", b"a-shared-secret-of-thirty-two-bytes!"),
    }
}

#[test]
fn valid_tokens_pass_for_the_baseline() {
    let k = keys();
    let config = config_with(&jwks(&[&k.rsa, &k.ec, &k.ed, &k.hs]));
    for key in [&k.rsa, &k.ec, &k.ed, &k.hs] {
        assert_eq!(
            check(&config, &key.token(&claims())),
            Ok(()),
            "{:?}",
            key.alg()
        );
    }
}

#[test]
fn alg_none_never_passes() {
    let k = keys();
    let config = config_with(&jwks(&[&k.rsa, &k.hs]));
    let payload = claims().to_string();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({"alg": alg, "typ": "JWT"});
        assert_eq!(
            check(&config, &raw(&header, payload.as_bytes(), b"x")),
            Err(AuthError::JwtHeaderNotImplementedAlg),
            "{alg}"
        );
        let unsigned = format!(
            "{}.{}.",
            b64url(header.to_string().as_bytes()),
            b64url(payload.as_bytes())
        );
        assert_eq!(
            check(&config, &unsigned),
            Err(AuthError::JwtBadFormat),
            "{alg} with an empty signature"
        );
    }
}

#[test]
fn hs256_keyed_with_the_rsa_public_key_is_refused() {
    let k = keys();
    // A JWK without `alg` is the classic confusion setup: only the key type can stop it.
    let mut public = k.rsa.public_jwk();
    public.as_object_mut().unwrap().remove("alg");
    let config = config_with(&json!({"keys": [public.clone()]}));
    let n = b64url_decode(public["n"].as_str().unwrap()).unwrap();
    for secret in [
        n.clone(),
        public.to_string().into_bytes(),
        public["n"].as_str().unwrap().as_bytes().to_vec(),
    ] {
        let forged = Key::hmac(Alg::HS256, "rsa", &secret).token(&claims());
        assert_eq!(check(&config, &forged), Err(AuthError::JwtVerificationFail));
    }
}

#[test]
fn kid_naming_a_key_of_another_type_or_alg() {
    let k = keys();
    let config = config_with(&jwks(&[&k.rsa, &k.ec, &k.ed, &k.hs]));
    // ES256 token whose kid names the RSA key.
    let header = json!({"alg": "ES256", "kid": "rsa"});
    assert_eq!(
        check(&config, &k.ec.sign(&header, &claims())),
        Err(AuthError::JwksKidAlgMismatch),
        "the RSA JWK says alg RS256"
    );
    // RS384 token naming the RS256 key: the JWK's alg must equal the token's.
    let rs384 = k.rsa.with_alg(Alg::RS384).unwrap();
    assert_eq!(
        check(
            &config,
            &rs384.sign(&json!({"alg": "RS384", "kid": "rsa"}), &claims())
        ),
        Err(AuthError::JwksKidAlgMismatch)
    );
    // With the JWKs' `alg` removed, type still decides.
    let stripped: Vec<Value> = [&k.rsa, &k.ec, &k.ed, &k.hs]
        .iter()
        .map(|key| {
            let mut j = key.public_jwk();
            j.as_object_mut().unwrap().remove("alg");
            j
        })
        .collect();
    let config = config_with(&json!({"keys": stripped}));
    assert_eq!(
        check(
            &config,
            &k.ec.sign(&json!({"alg": "ES256", "kid": "rsa"}), &claims())
        ),
        Err(AuthError::JwtVerificationFail)
    );
    assert_eq!(
        check(
            &config,
            &k.hs.sign(&json!({"alg": "HS256", "kid": "ec"}), &claims())
        ),
        Err(AuthError::JwtVerificationFail)
    );
    assert_eq!(
        check(
            &config,
            &k.ed.sign(&json!({"alg": "EdDSA", "kid": "hs"}), &claims())
        ),
        Err(AuthError::JwtVerificationFail)
    );
    assert_eq!(
        check(
            &config,
            &k.ec
                .sign(&json!({"alg": "ES256", "kid": "nope"}), &claims())
        ),
        Err(AuthError::JwksKidAlgMismatch)
    );
}

#[test]
fn every_signature_bit_flipped_is_refused() {
    let k = keys();
    let config = config_with(&jwks(&[&k.rsa, &k.ec, &k.ed, &k.hs]));
    for key in [&k.rsa, &k.ec, &k.ed, &k.hs] {
        let token = key.token(&claims());
        let sig = sig_of(&token);
        for bit in 0..sig.len() * 8 {
            let mut bad = sig.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                check(&config, &with_sig(&token, &bad)),
                Err(AuthError::JwtVerificationFail),
                "{:?} bit {bit}",
                key.alg()
            );
        }
    }
}

#[test]
fn truncated_and_extended_signatures_are_refused() {
    let k = keys();
    let config = config_with(&jwks(&[&k.rsa, &k.ec, &k.ed, &k.hs]));
    for key in [&k.rsa, &k.ec, &k.ed, &k.hs] {
        let token = key.token(&claims());
        let sig = sig_of(&token);
        let expected = if key.alg() == Alg::EdDSA {
            AuthError::JwtEd25519SignatureWrongLength
        } else {
            AuthError::JwtVerificationFail
        };
        for len in 1..sig.len() {
            assert_eq!(
                check(&config, &with_sig(&token, &sig[..len])),
                Err(expected),
                "{:?} len {len}",
                key.alg()
            );
        }
        let mut longer = sig.clone();
        longer.push(0);
        assert_eq!(
            check(&config, &with_sig(&token, &longer)),
            Err(expected),
            "{:?} extended",
            key.alg()
        );
    }
}

#[test]
fn ecdsa_der_signature_is_refused() {
    let k = keys();
    let config = config_with(&jwks(&[&k.ec]));
    let token = k.ec.token(&claims());
    let sig = sig_of(&token);
    let der = der_encode(&sig[..32], &sig[32..]);
    assert_eq!(
        check(&config, &with_sig(&token, &der)),
        Err(AuthError::JwtVerificationFail)
    );
}

fn der_encode(r: &[u8], s: &[u8]) -> Vec<u8> {
    fn int(v: &[u8]) -> Vec<u8> {
        let mut v: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
        if v.first().is_some_and(|b| b & 0x80 != 0) {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    }
    let body = [int(r), int(s)].concat();
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

#[test]
fn base64url_variants() {
    let k = keys();
    let config = config_with(&jwks(&[&k.ec]));
    let token = k.ec.token(&claims());
    // Incomplete padding is not base64url; complete padding decodes to the same bytes and is
    // accepted, as native Envoy does.
    assert_eq!(
        check(&config, &format!("{token}=")),
        Err(AuthError::JwtSignatureParseErrorBadBase64),
        "64 bytes need '=='"
    );
    let sig = sig_of(&token);
    let padded = format!(
        "{}.{}",
        token.rsplit_once('.').unwrap().0,
        base64_padded(&sig)
    );
    assert_eq!(check(&config, &padded), Ok(()));
    // Standard-alphabet characters are not base64url.
    let (input, s) = token.rsplit_once('.').unwrap();
    let std_alphabet = format!("{input}.{}", s.replace('-', "+").replace('_', "/"));
    if std_alphabet != token {
        assert_eq!(
            check(&config, &std_alphabet),
            Err(AuthError::JwtSignatureParseErrorBadBase64)
        );
    }
    // Padding the header changes the signing input, so the signature no longer matches.
    let (h, rest) = token.split_once('.').unwrap();
    let mut h = h.to_string();
    while !h.len().is_multiple_of(4) {
        h.push('=');
    }
    if h.len() != token.split_once('.').unwrap().0.len() {
        assert_eq!(
            check(&config, &format!("{h}.{rest}")),
            Err(AuthError::JwtVerificationFail)
        );
    }
}

fn base64_padded(bytes: &[u8]) -> String {
    let mut s = b64url(bytes);
    while !s.len().is_multiple_of(4) {
        s.push('=');
    }
    s
}

#[test]
fn malformed_payloads_and_headers() {
    let k = keys();
    let config = config_with(&jwks(&[&k.hs]));
    let h = json!({"alg": "HS256", "kid": "hs"});
    let cases: Vec<(String, AuthError)> = vec![
        (
            raw(&h, b"[1,2,3]", b"sig"),
            AuthError::JwtPayloadParseErrorBadJson,
        ),
        (
            raw(&h, b"\"text\"", b"sig"),
            AuthError::JwtPayloadParseErrorBadJson,
        ),
        (
            raw(&h, b"{\"exp\":", b"sig"),
            AuthError::JwtPayloadParseErrorBadJson,
        ),
        (
            k.hs.sign(&h, &json!({"iss": "https://iss", "exp": "9999999999"})),
            AuthError::JwtPayloadParseErrorExpNotInteger,
        ),
        (
            k.hs.sign(&h, &json!({"iss": "https://iss", "nbf": "0"})),
            AuthError::JwtPayloadParseErrorNbfNotInteger,
        ),
        (
            k.hs.sign(&h, &json!({"iss": ["https://iss"]})),
            AuthError::JwtPayloadParseErrorIssNotString,
        ),
        (
            k.hs.sign(
                &json!({"alg": "HS256", "kid": "hs", "crit": ["exp"]}),
                &claims(),
            ),
            AuthError::JwtHeaderCritUnsupported,
        ),
        (
            k.hs.sign(
                &json!({"alg": "HS256", "kid": "hs", "crit": ["b64"], "b64": false}),
                &claims(),
            ),
            AuthError::JwtHeaderCritUnsupported,
        ),
        (
            k.hs.sign(&json!({"alg": "HS256", "kid": 7}), &claims()),
            AuthError::JwtHeaderBadKid,
        ),
        (
            k.hs.sign(&json!({"kid": "hs"}), &claims()),
            AuthError::JwtHeaderBadAlg,
        ),
        ("a.b".to_string(), AuthError::JwtBadFormat),
        ("a.b.c.d".to_string(), AuthError::JwtBadFormat),
        (
            format!("{}.{}", "e".repeat(MAX_TOKEN_BYTES), "x.y"),
            AuthError::JwtTooLarge,
        ),
    ];
    for (token, expected) in cases {
        assert_eq!(check(&config, &token), Err(expected), "{token:.80}");
    }
}

#[test]
fn audiences_and_time_at_the_leeway() {
    let k = keys();
    let jwks = jwks(&[&k.hs]).to_string();
    let text = json!({
        "providers": {"p": {"issuer": "https://iss", "audiences": ["api"], "clock_skew_seconds": 30, "local_jwks": {"inline_string": jwks}}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]
    })
    .to_string();
    let config = Config::parse(&text).unwrap();
    let t = |c: Value| k.hs.token(&c);
    assert_eq!(
        check(&config, &t(json!({"iss": "https://iss", "aud": "api"}))),
        Ok(())
    );
    assert_eq!(
        check(
            &config,
            &t(json!({"iss": "https://iss", "aud": ["other", "api"]}))
        ),
        Ok(())
    );
    assert_eq!(
        check(&config, &t(json!({"iss": "https://iss", "aud": ["other"]}))),
        Err(AuthError::JwtAudienceNotAllowed)
    );
    assert_eq!(
        check(
            &config,
            &t(json!({"iss": "https://iss", "aud": "api", "exp": NOW - 30}))
        ),
        Ok(())
    );
    assert_eq!(
        check(
            &config,
            &t(json!({"iss": "https://iss", "aud": "api", "exp": NOW - 31}))
        ),
        Err(AuthError::JwtExpired)
    );
    assert_eq!(
        check(
            &config,
            &t(json!({"iss": "https://iss", "aud": "api", "nbf": NOW + 30}))
        ),
        Ok(())
    );
    assert_eq!(
        check(
            &config,
            &t(json!({"iss": "https://iss", "aud": "api", "nbf": NOW + 31}))
        ),
        Err(AuthError::JwtNotYetValid)
    );
}

#[test]
fn two_tokens_with_one_bad_is_refused() {
    let k = keys();
    let config = config_with(&jwks(&[&k.hs]));
    let good = k.hs.token(&claims());
    let bad = with_sig(&good, &[0u8; 32]);
    let headers = vec![
        (":path".to_string(), format!("/?access_token={bad}")),
        ("authorization".to_string(), format!("Bearer {good}")),
    ];
    assert_eq!(
        authenticate(Input::local(&config, &Request::new(&headers), NOW)).decision,
        Decision::Deny(AuthError::JwtVerificationFail)
    );
}
