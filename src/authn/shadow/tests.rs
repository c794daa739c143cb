use serde_json::{json, Value};

use super::*;
use crate::authn::Decision;
use crate::token::b64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const SECRET: &[u8] = b"a-demo-secret-that-is-long-enough-for-hs256";

fn hs256(claims: Value) -> String {
    let input = format!(
        "{}.{}",
        b64::encode(json!({"alg": "HS256", "kid": "k1"}).to_string().as_bytes()),
        b64::encode(claims.to_string().as_bytes())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64::encode(&mac.finalize().into_bytes()))
}

/// Provider `p` (local keys, claim header `x-sub`), provider `r` (remote keys, never there),
/// and a shadow rule for `requires`.
fn config(requires: Value, authorization: Option<Value>) -> Config {
    let jwks =
        json!({"keys": [{"kty": "oct", "kid": "k1", "alg": "HS256", "k": b64::encode(SECRET)}]})
            .to_string();
    let mut rule =
        json!({"match": {"prefix": "/"}, "requires": requires, "shadow": {"header": "x-shadow"}});
    if let Some(a) = authorization {
        rule["authorization"] = a;
    }
    let text = json!({
        "providers": {
            "p": {"issuer": "https://iss", "local_jwks": {"inline_string": jwks},
                  "claim_to_headers": [{"header_name": "x-sub", "claim_name": "sub"}]},
            "r": {"issuer": "https://remote", "remote_jwks": {"http_uri": {"uri": "http://idp/jwks", "cluster": "idp"}},
                  "claim_to_headers": [{"header_name": "x-r-sub", "claim_name": "sub"}]}
        },
        "rules": [rule]
    })
    .to_string();
    Config::parse(&text).unwrap()
}

fn headers(token: Option<&str>) -> Vec<(String, String)> {
    let mut h = vec![
        (":path".to_string(), "/api".to_string()),
        ("x-sub".to_string(), "spoofed".to_string()),
        ("x-shadow".to_string(), "spoofed".to_string()),
    ];
    if let Some(t) = token {
        h.push(("authorization".into(), format!("Bearer {t}")));
    }
    h
}

fn shadow_edits(c: &Config, h: &[(String, String)], error: AuthError) -> HeaderEdits {
    let rule = c.rule(&Request::new(h)).unwrap();
    edits(
        c,
        rule.shadow.as_ref().unwrap(),
        &Request::new(h),
        &crate::authn::LocalKeys,
        1000,
        None,
        error,
    )
}

#[test]
fn the_decision_is_made_as_in_enforce_mode() {
    let c = config(json!({"provider_name": "p"}), None);
    let expired = hs256(json!({"iss": "https://iss", "sub": "alice", "exp": 10}));
    let h = headers(Some(&expired));
    assert_eq!(
        crate::authn::authenticate(crate::authn::Input::local(&c, &Request::new(&h), 1000)).decision,
        Decision::Deny(AuthError::JwtExpired)
    );
}

#[test]
fn a_refused_token_forwards_nothing_but_the_status_and_strips_inbound_headers() {
    let c = config(json!({"provider_name": "p"}), None);
    let expired = hs256(json!({"iss": "https://iss", "sub": "alice", "exp": 10}));
    let e = shadow_edits(&c, &headers(Some(&expired)), AuthError::JwtExpired);
    assert_eq!(
        e.remove,
        vec!["x-sub".to_string(), "x-r-sub".into(), "x-shadow".into()]
    );
    assert_eq!(
        e.add,
        vec![("x-shadow".to_string(), "JwtExpired".to_string())]
    );
    let e = shadow_edits(&c, &headers(None), AuthError::JwtMissed);
    assert_eq!(
        e.add,
        vec![("x-shadow".to_string(), "JwtMissed".to_string())]
    );
}

#[test]
fn a_verified_token_refused_by_authorization_still_forwards_its_claims() {
    let c = config(
        json!({"provider_name": "p"}),
        Some(json!({"scopes": ["admin"]})),
    );
    let token = hs256(json!({"iss": "https://iss", "sub": "alice", "exp": 2000, "scope": "read"}));
    let h = headers(Some(&token));
    assert!(matches!(
        crate::authn::authenticate(crate::authn::Input::local(&c, &Request::new(&h), 1000)).decision,
        Decision::Forbid(_)
    ));
    let e = shadow_edits(&c, &h, AuthError::JwtInsufficientScope);
    assert_eq!(
        e.add,
        vec![
            ("x-sub".to_string(), "alice".to_string()),
            ("x-shadow".to_string(), "JwtInsufficientScope".to_string())
        ]
    );
    // The token header is removed as `forward: false` (the default) removes it when allowed.
    assert!(e.remove.contains(&"authorization".to_string()));
}

#[test]
fn keys_not_yet_there_forward_nothing_and_ask_for_nothing() {
    // `r`'s keys are pending: enforce mode would have waited (the adapter does the same before
    // it gets here); the edits only use keys the worker holds.
    let c = config(
        json!({"requires_any": {"requirements": [{"provider_name": "r"}, {"provider_name": "p"}]}}),
        None,
    );
    assert_eq!(c.rules[0].shadow.as_ref().unwrap().providers, vec![1, 0]);
    let remote_token = hs256(json!({"iss": "https://remote", "sub": "bob", "exp": 2000}));
    let e = shadow_edits(&c, &headers(Some(&remote_token)), AuthError::JwksFetchFail);
    assert_eq!(
        e.add,
        vec![("x-shadow".to_string(), "JwksFetchFail".to_string())]
    );
}

#[test]
fn without_a_header_only_the_removals() {
    let jwks =
        json!({"keys": [{"kty": "oct", "kid": "k1", "alg": "HS256", "k": b64::encode(SECRET)}]})
            .to_string();
    let text = json!({"providers": {"p": {"issuer": "https://iss", "local_jwks": {"inline_string": jwks}}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}, "shadow": {}}]}).to_string();
    let c = Config::parse(&text).unwrap();
    let e = shadow_edits(&c, &headers(None), AuthError::JwtMissed);
    assert_eq!(e, HeaderEdits::default());
}
