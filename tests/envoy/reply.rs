//! The extensions that shape a refusal, end to end in a real Envoy 1.40: `rules[].shadow` (the
//! decision is made and counted, the request continues with the claims of the tokens that
//! verify and the would-be status in a header; a refusal waits and fetches no more than
//! enforcing would) and `rules[].reply` (status per class of failure, RFC 9457 problem JSON, a
//! fixed body; `WWW-Authenticate` stays native's), and configuration errors naming the field.
//!
//! One identity provider, "idp", with a remote JWKS served by a stub; one Envoy runs every rule
//! on distinct path prefixes.
//!
//! Needs Envoy (`make setup`) and the built filter (`make build`); a missing one fails the test.

use std::sync::OnceLock;

use jwt_mint::{jwks, Alg, Key};
use serde_json::{json, Value};

use crate::support::{bearer, now, tail, EnvoyBuilder, JwksStub, Proxy, Response, Upstream};

const ISS: &str = "https://idp.example";
const AUD: &str = "api://orders";
const SHADOW_HEADER: &str = "x-jwt-shadow";

struct Keys {
    /// In the JWKS.
    k1: Key,
    /// Never in the JWKS: its tokens name an unknown `kid`.
    k2: Key,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        k1: Key::from_seed(Alg::RS256, "k1", 21),
        k2: Key::from_seed(Alg::RS256, "k2", 22),
    })
}

fn claims(changes: Value) -> Value {
    let t = now();
    let mut c = json!({"iss": ISS, "aud": AUD, "sub": "alice", "scope": "orders:read",
                       "iat": t, "exp": t + 3600});
    for (k, v) in changes.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

fn good() -> String {
    keys().k1.token(&claims(json!({})))
}

fn expired() -> String {
    let t = now();
    keys()
        .k1
        .token(&claims(json!({"iat": t - 7200, "exp": t - 3600})))
}

fn provider(remote_extra: Value) -> Value {
    let mut remote = json!({
        "http_uri": {"uri": "http://jwks.test/jwks.json", "cluster": "jwks", "timeout": "2s"},
        "cache_duration": "300s"
    });
    for (k, v) in remote_extra.as_object().unwrap() {
        remote[k] = v.clone();
    }
    json!({
        "issuer": ISS,
        "audiences": [AUD],
        "remote_jwks": remote,
        "claim_to_headers": [{"header_name": "x-sub", "claim_name": "sub"}]
    })
}

fn rule(prefix: &str, extra: Value) -> Value {
    let mut r = json!({"match": {"prefix": prefix}, "requires": {"provider_name": "idp"}});
    for (k, v) in extra.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

fn plugin_config(remote_extra: Value) -> Value {
    let admin = json!({"scopes": ["orders:admin"]});
    json!({
        "providers": {"idp": provider(remote_extra)},
        "rules": [
            rule("/shadow/quiet", json!({"shadow": {}})),
            rule("/shadow/scope", json!({"shadow": {"header": SHADOW_HEADER}, "authorization": admin})),
            rule("/shadow", json!({"shadow": {"header": SHADOW_HEADER}})),
            rule("/enforce", json!({})),
            rule("/problem", json!({"reply": {"invalid_status": 400, "format": "problem_json",
                                               "problem_type": "https://errors.example/auth"}})),
            rule("/fixed", json!({"reply": {"missing_status": 403, "format": "fixed",
                                             "content_type": "text/html; charset=utf-8",
                                             "body": "<p>Please sign in</p>"}})),
            rule("/hidden", json!({"reply": {"forbidden_status": 404}, "authorization": admin}))
        ]
    })
}

fn start(upstream: &Upstream, stub: &JwksStub, remote_extra: Value) -> Proxy {
    EnvoyBuilder::new(upstream)
        .plugin(plugin_config(remote_extra))
        .jwks_cluster("jwks", stub.port())
        .start()
}

fn get(proxy: &Proxy, path: &str, token: Option<&str>) -> Response {
    // Spoofed: the filter's own headers never come from the client.
    let mut headers = vec![
        ("x-sub", "mallory".to_string()),
        (SHADOW_HEADER, "spoofed".to_string()),
    ];
    if let Some(t) = token {
        headers.push(("authorization", bearer(t)));
    }
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    proxy.get(path, &headers)
}

fn counter(proxy: &Proxy, name: &str) -> u64 {
    proxy
        .settled_counter(&format!("wasmcustom.jwt_authn.{name}"))
        .unwrap_or(0)
}

#[track_caller]
fn assert_upstream(r: &Response, want: &[(&str, Option<&str>)]) {
    assert_eq!(r.status, 200, "{r}");
    for (name, value) in want {
        assert_eq!(
            r.upstream_header(name).as_deref(),
            *value,
            "upstream header {name}: {r}"
        );
    }
}

#[test]
fn shadow_mode_counts_the_refusal_and_lets_the_request_continue() {
    let upstream = Upstream::start();
    let stub = JwksStub::start(200, jwks(&[&keys().k1]).to_string());
    let proxy = start(&upstream, &stub, json!({}));
    let (good, expired) = (good(), expired());

    // Enforce mode, for comparison.
    assert_eq!(get(&proxy, "/enforce", Some(&expired)).status, 401);

    // A good token: as without shadow.
    let r = get(&proxy, "/shadow", Some(&good));
    assert_upstream(
        &r,
        &[
            ("x-sub", Some("alice")),
            (SHADOW_HEADER, None),
            ("authorization", None),
        ],
    );
    // An expired token: through, with the status upstream and the spoofed headers gone.
    let r = get(&proxy, "/shadow", Some(&expired));
    assert_upstream(&r, &[("x-sub", None), (SHADOW_HEADER, Some("JwtExpired"))]);
    // No token.
    let r = get(&proxy, "/shadow", None);
    assert_upstream(&r, &[("x-sub", None), (SHADOW_HEADER, Some("JwtMissed"))]);
    // Verified but not authorized: the claims are still forwarded.
    let r = get(&proxy, "/shadow/scope", Some(&good));
    assert_upstream(
        &r,
        &[
            ("x-sub", Some("alice")),
            (SHADOW_HEADER, Some("JwtInsufficientScope")),
            ("authorization", None),
        ],
    );
    // Without a header: counted only, and the spoofed one still removed.
    let r = get(&proxy, "/shadow/quiet", Some(&expired));
    assert_upstream(&r, &[("x-sub", None), (SHADOW_HEADER, None)]);
    // A bad signature, for one more status.
    let forged = crate::support::flip_signature_bit(&good);
    let r = get(&proxy, "/shadow", Some(&forged));
    assert_upstream(&r, &[(SHADOW_HEADER, Some("JwtVerificationFail"))]);

    assert_eq!(counter(&proxy, "shadow.denied"), 5, "{}", proxy.stats());
    assert_eq!(counter(&proxy, "shadow.denied.JwtExpired"), 2);
    assert_eq!(counter(&proxy, "shadow.denied.JwtMissed"), 1);
    assert_eq!(counter(&proxy, "shadow.denied.JwtInsufficientScope"), 1);
    assert_eq!(counter(&proxy, "shadow.denied.JwtVerificationFail"), 1);
    // Only the enforced refusal is a refusal; shadow-passed requests are not `allowed` either.
    assert_eq!(counter(&proxy, "denied"), 1);
    assert_eq!(counter(&proxy, "denied.JwtExpired"), 1);
    assert_eq!(counter(&proxy, "allowed"), 1);
    assert_eq!(
        stub.fetches(),
        1,
        "one fetch at start, none for shadow refusals"
    );
    assert!(proxy.vm_trouble().is_empty(), "{:?}", proxy.vm_trouble());
}

#[test]
fn a_shadow_refusal_fetches_no_more_than_enforcing() {
    let upstream = Upstream::start();
    let stub = JwksStub::start(200, jwks(&[&keys().k1]).to_string());
    let proxy = start(
        &upstream,
        &stub,
        json!({"unknown_kid_refetch_interval": "300s"}),
    );
    assert_upstream(
        &get(&proxy, "/shadow", Some(&good())),
        &[("x-sub", Some("alice"))],
    );
    assert_eq!(stub.fetches(), 1);
    // An unknown kid asks for one refetch, waits for it (as enforcing would), then passes with
    // the refusal the refetched keys lead to.
    let unknown = keys().k2.token(&claims(json!({})));
    let r = get(&proxy, "/shadow", Some(&unknown));
    assert_upstream(
        &r,
        &[("x-sub", None), (SHADOW_HEADER, Some("JwksKidAlgMismatch"))],
    );
    assert_eq!(stub.fetches(), 2, "the one refetch enforcing asks for too");
    // Within the refetch window neither mode fetches again.
    assert_eq!(get(&proxy, "/enforce", Some(&unknown)).status, 401);
    let r = get(&proxy, "/shadow", Some(&unknown));
    assert_upstream(&r, &[(SHADOW_HEADER, Some("JwksKidAlgMismatch"))]);
    assert_eq!(
        stub.fetches(),
        2,
        "a shadow refusal fetched what enforcing would not"
    );
    assert_eq!(counter(&proxy, "provider.idp.jwks_refetch_unknown_kid"), 1);
}

#[test]
fn a_shadow_refusal_for_keys_that_cannot_be_fetched() {
    let upstream = Upstream::start();
    let stub = JwksStub::start(500, "down");
    let proxy = start(&upstream, &stub, json!({"first_fetch_wait": "1s"}));
    assert_eq!(get(&proxy, "/enforce", Some(&good())).status, 401);
    let r = get(&proxy, "/shadow", Some(&good()));
    assert_upstream(
        &r,
        &[("x-sub", None), (SHADOW_HEADER, Some("JwksFetchFail"))],
    );
    assert_eq!(counter(&proxy, "shadow.denied.JwksFetchFail"), 1);
    assert_eq!(counter(&proxy, "denied.JwksFetchFail"), 1);
}

#[test]
fn shaped_refusals() {
    let upstream = Upstream::start();
    let stub = JwksStub::start(200, jwks(&[&keys().k1]).to_string());
    let proxy = start(&upstream, &stub, json!({}));
    let realm = |path: &str| format!("Bearer realm=\"http://127.0.0.1:{}{path}\"", proxy.port());

    // Problem JSON with the status chosen for an invalid token.
    let r = get(&proxy, "/problem", Some(&expired()));
    assert_eq!(r.status, 400, "{r}");
    assert_eq!(
        r.header("content-type"),
        Some("application/problem+json"),
        "{r}"
    );
    assert_eq!(
        r.header("www-authenticate"),
        Some(format!("{}, error=\"invalid_token\"", realm("/problem")).as_str())
    );
    let body: Value = serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {r}"));
    assert_eq!(
        body,
        json!({"type": "https://errors.example/auth", "title": "Bad Request", "status": 400,
               "detail": "Jwt is expired"})
    );
    // A missing token keeps native's 401, in problem JSON, and a challenge without `error`.
    let r = get(&proxy, "/problem", None);
    assert_eq!(r.status, 401, "{r}");
    assert_eq!(
        r.header("www-authenticate"),
        Some(realm("/problem").as_str())
    );
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        (body["title"].as_str(), body["status"].as_u64()),
        (Some("Unauthorized"), Some(401))
    );
    assert_eq!(body["detail"], "Jwt is missing");

    // A fixed body.
    let r = get(&proxy, "/fixed", None);
    assert_eq!(r.status, 403, "{r}");
    assert_eq!(
        r.header("content-type"),
        Some("text/html; charset=utf-8"),
        "{r}"
    );
    assert_eq!(r.body, "<p>Please sign in</p>");
    assert_eq!(r.header("www-authenticate"), Some(realm("/fixed").as_str()));
    let r = get(&proxy, "/fixed", Some(&expired()));
    assert_eq!(
        (r.status, r.body.as_str()),
        (401, "<p>Please sign in</p>"),
        "{r}"
    );

    // A forbidden token answered as not found, with native's text and challenge.
    let r = get(&proxy, "/hidden", Some(&good()));
    assert_eq!(r.status, 404, "{r}");
    assert_eq!(r.body, "Jwt does not have the required scope");
    assert_eq!(
        r.header("www-authenticate"),
        Some(
            format!(
                "{}, error=\"insufficient_scope\", scope=\"orders:admin\"",
                realm("/hidden")
            )
            .as_str()
        )
    );
    // A good token passes, as without `reply`.
    assert_upstream(
        &get(&proxy, "/problem", Some(&good())),
        &[("x-sub", Some("alice"))],
    );

    assert_eq!(counter(&proxy, "denied"), 5);
    assert_eq!(counter(&proxy, "denied.JwtInsufficientScope"), 1);
    assert!(proxy.vm_trouble().is_empty(), "{:?}", proxy.vm_trouble());
}

#[test]
fn misconfigured_extensions_are_refused_naming_the_field() {
    let with_rule = |extra: Value| json!({"providers": {"idp": provider(json!({}))}, "rules": [rule("/", extra)]});
    let cases = [
        (
            json!({"reply": {"invalid_status": 200}}),
            "rules[0].reply.invalid_status",
        ),
        (json!({"reply": {"format": "xml"}}), "rules[0].reply.format"),
        (
            json!({"reply": {"format": "fixed", "body": "x"}}),
            "rules[0].reply.content_type",
        ),
        (
            json!({"shadow": {"header": "x-sub"}}),
            "rules[0].shadow.header",
        ),
        (
            json!({"shadow": {"header": "authorization"}}),
            "rules[0].shadow.header",
        ),
    ];
    let upstream = Upstream::start();
    let results: Vec<(String, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .iter()
            .map(|(extra, field)| {
                let b = EnvoyBuilder::new(&upstream)
                    .plugin(with_rule(extra.clone()))
                    .jwks_cluster("jwks", 9);
                s.spawn(move || (field.to_string(), b.start_expect_failure()))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (field, log) in &results {
        let named = format!("field `{field}`:");
        assert!(
            log.contains("Unable to create Wasm plugin jwt_authn")
                && log
                    .lines()
                    .any(|l| l.contains("wasm log") && l.contains(&named)),
            "no log line of the filter names {named}:\n{}",
            tail(log, 30)
        );
    }
}
