use super::*;
use crate::token::b64;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

const SECRET: &[u8] = b"a-demo-secret-that-is-long-enough-for-hs256";

fn hs256(header: Value, claims: Value) -> String {
    let input = format!(
        "{}.{}",
        b64::encode(header.to_string().as_bytes()),
        b64::encode(claims.to_string().as_bytes())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64::encode(&mac.finalize().into_bytes()))
}

fn config(provider_extra: Value) -> Config {
    let jwks = json!({"keys": [{"kty": "oct", "kid": "k1", "alg": "HS256", "k": b64::encode(SECRET)}]}).to_string();
    let mut p = json!({"issuer": "https://iss", "local_jwks": {"inline_string": jwks}, "claim_to_headers": [{"header_name": "x-sub", "claim_name": "sub"}]});
    for (k, v) in provider_extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    let text = json!({"providers": {"p": p, "r": {"remote_jwks": {"http_uri": {"uri": "http://idp/jwks", "cluster": "idp"}}}},
        "rules": [{"match": {"prefix": "/public"}}, {"match": {"prefix": "/remote"}, "requires": {"provider_name": "r"}}, {"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]})
    .to_string();
    Config::parse(&text).unwrap()
}

fn request(path: &str, auth: Option<&str>) -> Vec<(String, String)> {
    let mut h = vec![
        (":path".to_string(), path.to_string()),
        ("x-sub".to_string(), "spoofed".to_string()),
    ];
    if let Some(a) = auth {
        h.push(("authorization".into(), a.into()));
    }
    h
}

fn good() -> String {
    hs256(
        json!({"alg": "HS256", "kid": "k1"}),
        json!({"iss": "https://iss", "sub": "alice", "exp": 2000}),
    )
}

#[test]
fn allows_and_edits_headers() {
    let c = config(json!({}));
    let d = authenticate(Input::local(
        &c,
        &Request::new(&request("/api", Some(&format!("Bearer {}", good())))),
        1000,
    ))
    .decision;
    assert_eq!(
        d,
        Decision::Allow(Allowed {
            edits: HeaderEdits {
                remove: vec!["x-sub".into(), "authorization".into()],
                add: vec![("x-sub".into(), "alice".into())],
            },
            verified_by: vec![0],
            // exp 2000 plus the default 60 s of clock skew
            valid_through: Some(2060),
            ..Allowed::default()
        })
    );
}

#[test]
fn valid_through_is_the_earliest_expiry_and_none_without_exp() {
    let c = config(json!({"clock_skew_seconds": 5}));
    let allow = |token: &str| match authenticate(Input::local(
        &c,
        &Request::new(&request("/api", Some(&format!("Bearer {token}")))),
        1000,
    ))
    .decision
    {
        Decision::Allow(allowed) => allowed.valid_through,
        other => panic!("{other:?}"),
    };
    assert_eq!(allow(&good()), Some(2005));
    let no_exp = hs256(
        json!({"alg": "HS256", "kid": "k1"}),
        json!({"iss": "https://iss", "sub": "alice"}),
    );
    assert_eq!(allow(&no_exp), None);
}

#[test]
fn public_route_still_strips_generated_headers() {
    let c = config(json!({}));
    assert_eq!(
        authenticate(Input::local(
            &c,
            &Request::new(&request("/public", None)),
            1000
        ))
        .decision,
        Decision::Allow(Allowed {
            edits: HeaderEdits {
                remove: vec!["x-sub".into()],
                ..HeaderEdits::default()
            },
            ..Allowed::default()
        })
    );
}

#[test]
fn forward_keeps_the_token_and_payload_is_forwarded() {
    let c = config(json!({"forward": true, "forward_payload_header": "x-payload"}));
    let token = good();
    let Decision::Allow(Allowed { edits, .. }) = authenticate(Input::local(
        &c,
        &Request::new(&request("/api", Some(&format!("Bearer {token}")))),
        1000,
    ))
    .decision
    else {
        panic!()
    };
    assert!(!edits.remove.contains(&"authorization".to_string()));
    assert_eq!(
        edits.add[0],
        (
            "x-payload".into(),
            token.split('.').nth(1).unwrap().to_string()
        )
    );
}

#[test]
fn failures() {
    let c = config(json!({"audiences": ["api"]}));
    let deny = |auth: Option<String>| {
        authenticate(Input::local(
            &c,
            &Request::new(&request("/api", auth.as_deref())),
            1000,
        ))
        .decision
    };
    assert_eq!(deny(None), Decision::Deny(AuthError::JwtMissed));
    assert_eq!(
        deny(Some(format!("Bearer {}", good()))),
        Decision::Deny(AuthError::JwtAudienceNotAllowed)
    );
    let claims = json!({"iss": "https://iss", "aud": "api", "exp": 2000});
    let ok = hs256(json!({"alg": "HS256", "kid": "k1"}), claims.clone());
    assert!(matches!(
        deny(Some(format!("Bearer {ok}"))),
        Decision::Allow(_)
    ));
    let wrong_kid = hs256(json!({"alg": "HS256", "kid": "k2"}), claims.clone());
    assert_eq!(
        deny(Some(format!("Bearer {wrong_kid}"))),
        Decision::Deny(AuthError::JwksKidAlgMismatch)
    );
    let wrong_alg = hs256(json!({"alg": "HS384", "kid": "k1"}), claims.clone());
    assert_eq!(
        deny(Some(format!("Bearer {wrong_alg}"))),
        Decision::Deny(AuthError::JwksKidAlgMismatch)
    );
    let (head, sig) = ok.rsplit_once('.').unwrap();
    let mut bytes = b64::decode(sig).unwrap();
    bytes[0] ^= 1;
    assert_eq!(
        deny(Some(format!("Bearer {head}.{}", b64::encode(&bytes)))),
        Decision::Deny(AuthError::JwtVerificationFail)
    );
    let two = format!("Bearer {ok}");
    let headers = request(&format!("/api?access_token={wrong_kid}"), Some(&two));
    assert_eq!(
        authenticate(Input::local(&c, &Request::new(&headers), 1000)).decision,
        Decision::Deny(AuthError::JwksKidAlgMismatch),
        "every token must verify"
    );
}

/// `verify`, one token against one provider's keys and rules, answers what a request that
/// carries only that token comes to.
#[test]
fn verify_answers_as_a_request_with_the_one_token() {
    let c = config(json!({"audiences": ["api"]}));
    let provider = &c.providers[0];
    let JwksSource::Local(keys) = &provider.jwks else {
        panic!("provider p has local keys")
    };
    let sign = |kid: &str, claims: Value| hs256(json!({"alg": "HS256", "kid": kid}), claims);
    let ok = sign(
        "k1",
        json!({"iss": "https://iss", "sub": "alice", "aud": "api", "exp": 2000}),
    );
    let (head, sig) = ok.rsplit_once('.').unwrap();
    let mut bytes = b64::decode(sig).unwrap();
    bytes[0] ^= 1;
    let cases = [
        (ok.clone(), Ok(())),
        (
            sign("k2", json!({"iss": "https://iss", "aud": "api"})),
            Err(AuthError::JwksKidAlgMismatch),
        ),
        (
            sign("k1", json!({"iss": "https://other", "aud": "api"})),
            Err(AuthError::JwtUnknownIssuer),
        ),
        (
            // 60 s of clock skew: 900 + 60 < 1000
            sign(
                "k1",
                json!({"iss": "https://iss", "aud": "api", "exp": 900}),
            ),
            Err(AuthError::JwtExpired),
        ),
        (
            sign(
                "k1",
                json!({"iss": "https://iss", "aud": "api", "nbf": 1100}),
            ),
            Err(AuthError::JwtNotYetValid),
        ),
        (
            sign("k1", json!({"iss": "https://iss", "aud": "web"})),
            Err(AuthError::JwtAudienceNotAllowed),
        ),
        (
            format!("{head}.{}", b64::encode(&bytes)),
            Err(AuthError::JwtVerificationFail),
        ),
        ("x.y".to_string(), Err(AuthError::JwtBadFormat)),
    ];
    for (token, want) in cases {
        let got = verify(&token, keys, provider, 1000);
        assert_eq!(got.as_ref().map(|_| ()).map_err(|e| *e), want, "{token}");
        let headers = request("/api", Some(&format!("Bearer {token}")));
        let decision = authenticate(Input::local(&c, &Request::new(&headers), 1000)).decision;
        match (want, decision) {
            (Ok(()), Decision::Allow(_)) => {}
            (Err(e), Decision::Deny(d)) => assert_eq!(e, d, "{token}"),
            (want, decision) => panic!("verify {want:?} but the request {decision:?}: {token}"),
        }
    }

    let verified = verify(&ok, keys, provider, 1000).unwrap();
    assert_eq!(verified.claims()["sub"], "alice");
    assert_eq!(verified.jwt().kid.as_deref(), Some("k1"));
    // exp 2000 plus the default 60 s of clock skew, as a request's `valid_through`
    assert_eq!(verified.valid_through(), Some(2060));
}

/// `verify` reads the keys it is handed, never the provider's own key source: a remote
/// provider's rules check a token against a key set fetched elsewhere, and an unknown `kid`
/// is a plain refusal (a refetch is the request's business).
#[test]
fn verify_takes_the_keys_it_is_given() {
    let c = config(json!({}));
    let remote = &c.providers[1];
    assert!(matches!(remote.jwks, JwksSource::Remote(_)));
    let keys = crate::keys::jwks::parse_jwks(
        &json!({"keys": [{"kty": "oct", "kid": "k1", "k": b64::encode(SECRET)}]}).to_string(),
    )
    .unwrap();
    let known = hs256(
        json!({"alg": "HS256", "kid": "k1"}),
        json!({"iss": "https://iss"}),
    );
    let rotated = hs256(
        json!({"alg": "HS256", "kid": "k9"}),
        json!({"iss": "https://iss"}),
    );
    let verified = verify(&known, &keys, remote, 1000).unwrap();
    assert_eq!(verified.valid_through(), None, "no exp");
    assert_eq!(
        verify(&rotated, &keys, remote, 1000).unwrap_err(),
        AuthError::JwksKidAlgMismatch
    );
    let no_keys = KeySet::default();
    assert_eq!(
        verify(&known, &no_keys, remote, 1000).unwrap_err(),
        AuthError::JwksNoValidKeys
    );
}

#[test]
fn unknown_kid_at_a_remote_provider_asks_for_a_refetch() {
    let c = config(json!({}));
    let keys = crate::keys::jwks::parse_jwks(
        &json!({"keys": [{"kty": "oct", "kid": "k1", "k": b64::encode(SECRET)}]}).to_string(),
    )
    .unwrap();
    struct Ready(KeySet);
    impl KeyLookup for Ready {
        fn remote(&self, _: usize) -> RemoteKeys<'_> {
            RemoteKeys::Ready(&self.0)
        }
    }
    let ready = Ready(keys);
    let known = hs256(
        json!({"alg": "HS256", "kid": "k1"}),
        json!({"iss": "https://iss"}),
    );
    let rotated = hs256(
        json!({"alg": "HS256", "kid": "k9"}),
        json!({"iss": "https://iss"}),
    );
    assert!(matches!(
        authenticate(Input {
            keys: &ready,
            ..Input::local(
                &c,
                &Request::new(&request("/remote", Some(&format!("Bearer {known}")))),
                1000
            )
        })
        .decision,
        Decision::Allow(_)
    ));
    assert_eq!(
        authenticate(Input {
            keys: &ready,
            ..Input::local(
                &c,
                &Request::new(&request("/remote", Some(&format!("Bearer {rotated}")))),
                1000
            )
        })
        .decision,
        Decision::RefetchKeys(1)
    );
    assert_eq!(
        authenticate(Input {
            keys: &ready,
            ..Input::local(
                &c,
                &Request::new(&request("/api", Some(&format!("Bearer {rotated}")))),
                1000
            )
        })
        .decision,
        Decision::Deny(AuthError::JwksKidAlgMismatch),
        "local keys never refetch"
    );
}

#[test]
fn remote_provider_waits_for_keys() {
    let c = config(json!({}));
    struct Pending;
    impl KeyLookup for Pending {
        fn remote(&self, _: usize) -> RemoteKeys<'_> {
            RemoteKeys::Pending
        }
    }
    assert_eq!(
        authenticate(Input {
            keys: &Pending,
            ..Input::local(
                &c,
                &Request::new(&request("/remote", Some(&format!("Bearer {}", good())))),
                1000
            )
        })
        .decision,
        Decision::WaitForKeys(1)
    );
    // `LocalKeys` holds no remote key set: as after a failed fetch.
    assert_eq!(
        authenticate(Input::local(
            &c,
            &Request::new(&request("/remote", Some(&format!("Bearer {}", good())))),
            1000
        ))
        .decision,
        Decision::Deny(AuthError::JwksFetchFail)
    );
    assert_eq!(
        authenticate(Input::local(
            &c,
            &Request::new(&request("/remote", Some("Bearer x.y"))),
            1000
        ))
        .decision,
        Decision::Deny(AuthError::JwtBadFormat),
        "cheap checks first"
    );
}

/// Two providers with their own secrets and issuers, for the requirement forms.
fn two_providers(rules: Value, extra: Value) -> Config {
    let jwks = |secret: &[u8], kid: &str| {
        json!({"keys": [{"kty": "oct", "kid": kid, "k": b64::encode(secret)}]}).to_string()
    };
    let mut root = json!({
        "providers": {
            "a": {"issuer": "https://a", "local_jwks": {"inline_string": jwks(SECRET, "ka")}, "claim_to_headers": [{"header_name": "x-a-sub", "claim_name": "sub"}]},
            "b": {"issuer": "https://b", "local_jwks": {"inline_string": jwks(SECRET_B, "kb")}, "from_headers": [{"name": "x-b-token"}], "claim_to_headers": [{"header_name": "x-b-sub", "claim_name": "sub"}]}
        },
        "rules": rules
    });
    for (k, v) in extra.as_object().unwrap() {
        root[k] = v.clone();
    }
    Config::parse(&root.to_string()).unwrap()
}

const SECRET_B: &[u8] = b"another-secret-for-provider-b-that-is-long";

fn token_a(claims: Value) -> String {
    hs256(json!({"alg": "HS256", "kid": "ka"}), claims)
}

fn token_b(claims: Value) -> String {
    let input = format!(
        "{}.{}",
        b64::encode(br#"{"alg":"HS256","kid":"kb"}"#),
        b64::encode(claims.to_string().as_bytes())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET_B).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64::encode(&mac.finalize().into_bytes()))
}

fn run(c: &Config, headers: &[(&str, &str)]) -> Decision {
    run_noting(c, headers).0
}

/// [`run`]: the decision and the `nbf` note.
fn run_noting(c: &Config, headers: &[(&str, &str)]) -> (Decision, bool) {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let outcome = authenticate(Input::local(c, &Request::new(&headers), 1000));
    (outcome.decision, outcome.nbf_refused)
}

fn allowed(d: &Decision) -> bool {
    matches!(d, Decision::Allow(_))
}

#[test]
fn requires_any_all_and_allow_missing() {
    let a = format!(
        "Bearer {}",
        token_a(json!({"iss": "https://a", "sub": "alice"}))
    );
    let b = token_b(json!({"iss": "https://b", "sub": "bob"}));
    let expired_a = format!("Bearer {}", token_a(json!({"iss": "https://a", "exp": 1})));
    let any = two_providers(
        json!([{"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [{"provider_name": "a"}, {"provider_name": "b"}]}}}]),
        json!({}),
    );
    assert!(allowed(&run(
        &any,
        &[(":path", "/"), ("authorization", &a)]
    )));
    assert!(allowed(&run(&any, &[(":path", "/"), ("x-b-token", &b)])));
    assert_eq!(
        run(&any, &[(":path", "/")]),
        Decision::Deny(AuthError::JwtMissed)
    );
    assert_eq!(
        run(&any, &[(":path", "/"), ("authorization", &expired_a)]),
        Decision::Deny(AuthError::JwtExpired),
        "the telling error, not b's 'missing'"
    );

    let all = two_providers(
        json!([{"match": {"prefix": "/"}, "requires": {"requires_all": {"requirements": [{"provider_name": "a"}, {"provider_name": "b"}]}}}]),
        json!({}),
    );
    assert_eq!(
        run(&all, &[(":path", "/"), ("authorization", &a)]),
        Decision::Deny(AuthError::JwtMissed)
    );
    let Decision::Allow(Allowed { edits, .. }) = run(
        &all,
        &[(":path", "/"), ("authorization", &a), ("x-b-token", &b)],
    ) else {
        panic!()
    };
    assert_eq!(
        edits.add,
        vec![
            ("x-a-sub".to_string(), "alice".to_string()),
            ("x-b-sub".to_string(), "bob".to_string())
        ]
    );

    let optional = two_providers(
        json!([{"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [{"provider_name": "a"}, {"allow_missing": {}}]}}}]),
        json!({}),
    );
    assert!(allowed(&run(&optional, &[(":path", "/")])));
    assert!(allowed(&run(
        &optional,
        &[(":path", "/"), ("authorization", &a)]
    )));
    assert_eq!(
        run(&optional, &[(":path", "/"), ("authorization", &expired_a)]),
        Decision::Deny(AuthError::JwtExpired),
        "a token, if sent, must be good"
    );

    let lenient = two_providers(
        json!([{"match": {"prefix": "/"}, "requires": {"allow_missing_or_failed": {}}}]),
        json!({}),
    );
    let Decision::Allow(Allowed { edits, .. }) =
        run(&lenient, &[(":path", "/"), ("authorization", &expired_a)])
    else {
        panic!()
    };
    assert!(edits.add.is_empty());
    let Decision::Allow(Allowed { edits, .. }) =
        run(&lenient, &[(":path", "/"), ("x-b-token", &b)])
    else {
        panic!()
    };
    assert_eq!(
        edits.add,
        vec![("x-b-sub".to_string(), "bob".to_string())],
        "picked by iss"
    );
}

#[test]
fn a_refusal_for_nbf_is_noted_whatever_the_answer() {
    let a = |claims: Value| format!("Bearer {}", token_a(claims));
    let early_a = a(json!({"iss": "https://a", "nbf": 2000}));
    let good_a = a(json!({"iss": "https://a"}));
    let expired_a = a(json!({"iss": "https://a", "exp": 1}));
    let b = token_b(json!({"iss": "https://b", "sub": "bob"}));
    let any = two_providers(
        json!([{"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [{"provider_name": "a"}, {"provider_name": "b"}]}}}]),
        json!({}),
    );
    let (decision, noted) = run_noting(
        &any,
        &[
            (":path", "/"),
            ("authorization", &early_a),
            ("x-b-token", &b),
        ],
    );
    assert!(allowed(&decision) && noted, "b answered, a might have");
    assert_eq!(
        run_noting(&any, &[(":path", "/"), ("authorization", &early_a)]),
        (Decision::Deny(AuthError::JwtNotYetValid), true)
    );
    let lenient = two_providers(
        json!([{"match": {"prefix": "/"}, "requires": {"allow_missing_or_failed": {}}}]),
        json!({}),
    );
    let (decision, noted) =
        run_noting(&lenient, &[(":path", "/"), ("authorization", &early_a)]);
    assert!(
        allowed(&decision) && noted,
        "let through without a's claims"
    );
    for token in [&good_a, &expired_a] {
        let (_, noted) = run_noting(&any, &[(":path", "/"), ("authorization", token)]);
        assert!(!noted, "only nbf can pass later");
    }
}

#[test]
fn provider_and_audiences_and_requirement_map() {
    let c = two_providers(
        json!([{"match": {"prefix": "/orders"}, "requirement_name": "orders"}, {"match": {"prefix": "/"}, "requires": {"provider_and_audiences": {"provider_name": "a", "audiences": ["web"]}}}]),
        json!({"requirement_map": {"orders": {"provider_and_audiences": {"provider_name": "a", "audiences": ["orders-api"]}}}}),
    );
    let t = |aud: &str| {
        format!(
            "Bearer {}",
            token_a(json!({"iss": "https://a", "aud": aud}))
        )
    };
    assert!(allowed(&run(
        &c,
        &[(":path", "/orders/1"), ("authorization", &t("orders-api"))]
    )));
    assert_eq!(
        run(&c, &[(":path", "/orders/1"), ("authorization", &t("web"))]),
        Decision::Deny(AuthError::JwtAudienceNotAllowed)
    );
    assert!(allowed(&run(
        &c,
        &[(":path", "/x"), ("authorization", &t("web"))]
    )));
}

#[test]
fn cors_preflight_bypass() {
    let c = two_providers(
        json!([{"match": {"prefix": "/"}, "requires": {"provider_name": "a"}}]),
        json!({"bypass_cors_preflight": true}),
    );
    let preflight = [
        (":path", "/"),
        (":method", "OPTIONS"),
        ("origin", "https://app"),
        ("access-control-request-method", "GET"),
    ];
    assert!(allowed(&run(&c, &preflight)));
    assert_eq!(
        run(
            &c,
            &[
                (":path", "/"),
                (":method", "OPTIONS"),
                ("origin", "https://app")
            ]
        ),
        Decision::Deny(AuthError::JwtMissed)
    );
}

#[test]
fn authorization_runs_after_verification() {
    let c = two_providers(
        json!([{"match": {"prefix": "/"}, "requires": {"provider_name": "a"}, "authorization": {"scopes": ["orders:read"], "claims": [{"claim": "realm_access.roles", "contains_any": ["admin"]}]}}]),
        json!({}),
    );
    let t = |claims: Value| format!("Bearer {}", token_a(claims));
    assert!(allowed(&run(
        &c,
        &[
            (":path", "/"),
            (
                "authorization",
                &t(
                    json!({"iss": "https://a", "scope": "orders:read", "realm_access": {"roles": ["admin"]}})
                )
            )
        ]
    )));
    let Decision::Forbid(f) = run(
        &c,
        &[
            (":path", "/"),
            (
                "authorization",
                &t(json!({"iss": "https://a", "scope": "orders:write"})),
            ),
        ],
    ) else {
        panic!()
    };
    assert_eq!(
        (f.error, f.scope.as_deref()),
        (AuthError::JwtInsufficientScope, Some("orders:read"))
    );
    let Decision::Forbid(f) = run(
        &c,
        &[
            (":path", "/"),
            (
                "authorization",
                &t(json!({"iss": "https://a", "scope": "orders:read"})),
            ),
        ],
    ) else {
        panic!()
    };
    assert_eq!(f.error, AuthError::JwtClaimsNotAllowed);
    // A forged token never reaches authorization.
    let forged = format!("Bearer {}", token_b(json!({"iss": "https://a", "scope": "orders:read", "realm_access": {"roles": ["admin"]}})).replace("kb", "ka"));
    assert!(matches!(
        run(&c, &[(":path", "/"), ("authorization", &forged)]),
        Decision::Deny(_)
    ));
}

#[test]
fn tokens_over_the_providers_jwt_max_token_size_are_not_cached() {
    let token = format!("Bearer {}", good());
    let cached_after_one = |extra: Value| {
        let c = config(extra);
        let cache = RefCell::new(TokenCache::new(16));
        let request = request("/api", Some(&token));
        let d = authenticate(Input {
            cache: Some(&cache),
            ..Input::local(&c, &Request::new(&request), 1000)
        })
        .decision;
        assert!(matches!(d, Decision::Allow(_)));
        let len = cache.borrow().len();
        len
    };
    assert_eq!(cached_after_one(json!({})), 1);
    let short = json!({"jwt_cache_config": {"jwt_max_token_size": 20}});
    assert_eq!(cached_after_one(short), 0);
}

#[test]
fn cached_verdicts_still_check_claims_and_die_with_their_keys() {
    let c = config(json!({}));
    let cache = RefCell::new(TokenCache::new(16));
    let token = format!("Bearer {}", good()); // exp 2000
    let run = |now: u64| {
        authenticate(Input {
            cache: Some(&cache),
            ..Input::local(&c, &Request::new(&request("/api", Some(&token))), now)
        })
        .decision
    };
    assert!(matches!(run(1000), Decision::Allow(_)));
    assert_eq!(cache.borrow().len(), 1);
    assert!(matches!(run(1500), Decision::Allow(_)), "hit");
    assert_eq!(
        run(3000),
        Decision::Deny(AuthError::JwtExpired),
        "claims are checked on every hit"
    );
    let (head, sig) = good()
        .rsplit_once('.')
        .map(|(h, s)| (h.to_string(), s.to_string()))
        .unwrap();
    let mut bytes = b64::decode(&sig).unwrap();
    bytes[0] ^= 1;
    let forged = format!("Bearer {head}.{}", b64::encode(&bytes));
    let run_forged = || {
        authenticate(Input {
            cache: Some(&cache),
            ..Input::local(&c, &Request::new(&request("/api", Some(&forged))), 1000)
        })
        .decision
    };
    assert_eq!(run_forged(), Decision::Deny(AuthError::JwtVerificationFail));
    assert_eq!(
        run_forged(),
        Decision::Deny(AuthError::JwtVerificationFail),
        "a cached refusal stays a refusal"
    );
    // The same token under another configuration (another key set) is verified afresh.
    let other = config(json!({"issuer": "https://other"}));
    assert_eq!(
        authenticate(Input {
            cache: Some(&cache),
            ..Input::local(&other, &Request::new(&request("/api", Some(&token))), 1000)
        })
        .decision,
        Decision::Deny(AuthError::JwtUnknownIssuer)
    );
}
