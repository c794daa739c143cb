//! End-to-end scenarios: the wasm filter inside a real Envoy 1.40, an echo upstream that shows
//! what reached it, and JWKS stubs the test steers at run time. Tokens are minted by `jwt_mint`.
//!
//! The local-JWKS scenarios share one Envoy (many providers and routes); the same table is also
//! run against Envoy's native `jwt_authn` configured with the same JSON, which checks that the
//! expectations written here are the native ones. Remote-JWKS scenarios get their own Envoy each,
//! because their JWKS server behaves differently over time.
//!
//! Needs Envoy (`make setup`) and the built filter (`make build`); a missing one fails the test.

use std::fs;
use std::path::Path;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jwt_mint::{jwks, Alg, Key};
use serde_json::{json, Value};

use crate::support::{
    assert_configs_refused, assert_vm_healthy, bearer, body, flip_signature_bit, now, poll_until,
    validate, EnvoyBuilder, JwksStub, Proxy, Refused, Response, Upstream, CRATE_ROOT,
};

// The local-JWKS table, its configuration, keys and tokens, shared with `jwt-authn explain`'s run
// of the same rows (tools/jwt-authn/tests/e2e_table.rs).
include!("e2e_table.rs");

/// Native Envoy's `www-authenticate`: the realm is the request URL with the path (query
/// included) cut to 256 bytes.
fn www_authenticate(port: u16, path: &str, token_presented: bool) -> String {
    www_authenticate_with(port, "http", path, token_presented)
}

fn www_authenticate_with(port: u16, scheme: &str, path: &str, token_presented: bool) -> String {
    let path = &path[..path.len().min(256)];
    let mut v = format!("Bearer realm=\"{scheme}://127.0.0.1:{port}{path}\"");
    if token_presented {
        v.push_str(", error=\"invalid_token\"");
    }
    v
}

/// Runs the table; returns one line per failed check.
fn run_checks(proxy: &Proxy, checks: &[Check], native: bool) -> Vec<String> {
    let mut failures = Vec::new();
    for c in checks {
        if native && c.wasm_only.is_some() {
            continue;
        }
        let headers: Vec<(&str, &str)> = c
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let r = proxy.get(&c.path, &headers);
        if let Some(problem) = judge(proxy.port(), c, &r) {
            failures.push(format!(
                "{}: GET {} {:?}\n    {problem}\n    got {}",
                c.what,
                c.path,
                c.headers,
                indent(&r.to_string())
            ));
        }
    }
    failures
}

fn indent(s: &str) -> String {
    s.replace('\n', "\n    ")
}

fn judge(port: u16, c: &Check, r: &Response) -> Option<String> {
    match &c.expect {
        Expect::Pass(upstream) => {
            if r.status != 200 {
                return Some("expected 200 from the upstream".into());
            }
            let Ok(echo) = serde_json::from_str::<Value>(&r.body) else {
                return Some("expected the echo upstream's JSON".into());
            };
            let mut problems = Vec::new();
            for (name, want) in upstream {
                let got = echo["headers"]
                    .get(*name)
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                if &got != want {
                    problems.push(format!(
                        "upstream header {name}: expected {want:?}, got {got:?}"
                    ));
                }
            }
            (!problems.is_empty()).then(|| problems.join("; "))
        }
        Expect::Direct(body) => (r.status != 200 || r.body != *body)
            .then(|| format!("expected 200 {body:?} from the direct_response route")),
        Expect::Fail(status, body, presented) => {
            let (scheme, path) = c
                .realm
                .as_ref()
                .map_or(("http", c.path.as_str()), |(s, p)| (*s, p.as_str()));
            let want_www = www_authenticate_with(port, scheme, path, *presented);
            let got_www = r.header("www-authenticate");
            if r.status != *status || r.body != *body || got_www != Some(want_www.as_str()) {
                Some(format!(
                    "expected {status} {body:?} with www-authenticate {want_www:?}"
                ))
            } else {
                None
            }
        }
    }
}

/// Routes of the local-JWKS Envoy: a `direct_response` under the `/api` rule (the filter guards
/// what Envoy answers itself, too), everything else to the echo upstream.
fn local_builder(upstream: &Upstream) -> EnvoyBuilder {
    EnvoyBuilder::new(upstream)
        .direct_response("/api/static", 200, STATIC_BODY)
        .route_yaml(&format!(
            "match: {{prefix: /api/routed, headers: [{{name: x-jwt-sub, present_match: true}}]}}\n\
             direct_response: {{status: 200, body: {{inline_string: {ROUTED_BODY}}}}}"
        ))
}


#[test]
fn local_jwks_scenarios() {
    let upstream = Upstream::start();
    let proxy = local_builder(&upstream).plugin(local_config()).start();
    let checks = local_checks();
    let failures = run_checks(&proxy, &checks, false);
    assert!(
        failures.is_empty(),
        "{} of {} local-JWKS checks failed:\n{}",
        failures.len(),
        checks.len(),
        failures.join("\n")
    );
    assert_vm_healthy(&proxy);
    // Envoy's V8 fuses relaxed SIMD's multiply-add on x64 with FMA and on arm64, so the RSA
    // checks above ran on the fast engine (and agreed with native's verdicts).
    assert!(
        proxy
            .log()
            .contains("RSA signatures checked on 50-bit limbs with fused multiply-add"),
        "the filter did not pick the fused multiply-add RSA engine; Envoy log:\n{}",
        proxy.log()
    );
    let completed = proxy
        .counter("http.ingress.downstream_rq_completed")
        .unwrap_or(0);
    assert!(
        completed >= checks.len() as u64,
        "admin stats count {completed} completed requests, sent {}",
        checks.len()
    );
}

/// The same table against Envoy's native `jwt_authn` with the same JSON: proves that the
/// statuses, bodies and www-authenticate values asserted above are the native ones.
#[test]
fn local_jwks_expectations_are_native_behaviour() {
    let upstream = Upstream::start();
    let mut typed = local_config();
    typed["@type"] =
        json!("type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication");
    let proxy = local_builder(&upstream)
        .http_filter_yaml(&format!(
            "name: envoy.filters.http.jwt_authn\ntyped_config: {typed}"
        ))
        .start();
    let checks = local_checks();
    let failures = run_checks(&proxy, &checks, true);
    assert!(
        failures.is_empty(),
        "native Envoy disagrees with {} of the expectations (fix the test, not the filter):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Requests sent around the second `boundary` (wall clock, seconds since the epoch) by
/// [`around_second`].
struct AroundSecond {
    /// Answered wholly before the boundary.
    before: usize,
    /// Sent within 100 ms after it (the tick clock's lag).
    early: usize,
}

/// Sends `send()` again and again until `after_count` requests were sent wholly after
/// `boundary`, checking each answered wholly before it with `before(response, seconds
/// before)` and each sent after it with `after(response, seconds after)`; requests that
/// straddle it (5 ms either way) are not judged. Fails after 15 s.
fn around_second(
    boundary: f64,
    after_count: usize,
    send: impl Fn() -> Response,
    before: impl Fn(&Response, f64),
    after: impl Fn(&Response, f64),
) -> AroundSecond {
    let clock = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = AroundSecond {
        before: 0,
        early: 0,
    };
    let mut judged_after = 0;
    while judged_after < after_count {
        assert!(
            Instant::now() < deadline,
            "{} requests after the boundary by the deadline ({} before)",
            judged_after,
            seen.before
        );
        let sent = clock();
        let r = send();
        let answered = clock();
        if answered < boundary - 0.005 {
            before(&r, boundary - answered);
            seen.before += 1;
        } else if sent > boundary + 0.005 {
            after(&r, sent - boundary);
            judged_after += 1;
            if sent < boundary + 0.1 {
                seen.early += 1;
            }
        }
    }
    seen
}

/// The filter decides a request with its worker's tick clock (read by the 100 ms tick, so a
/// little behind) and with the exact clock near a token's expiry: a cached token must still be
/// refused from the first second it is expired. With one second of clock skew (0 means the
/// default 60, as in native) a token whose `exp` is E passes while the clock reads E + 1 and
/// fails from E + 2 (whole seconds, as native compares).
#[test]
fn a_cached_token_is_refused_from_the_second_it_expires() {
    let upstream = Upstream::start();
    let key = keys().get(Alg::ES256);
    let config = json!({
        "providers": {"p": {"issuer": ISS, "audiences": [AUD], "clock_skew_seconds": 1,
            "local_jwks": {"inline_string": jwks(&[key]).to_string()}}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}],
        "log_level": "debug"
    });
    let proxy = local_builder(&upstream).plugin(config).start();
    let exp = now() + 3;
    let auth = bearer(&key.token(&claims_with(json!({"exp": exp}))));
    let seen = around_second(
        exp as f64 + 2.0,
        20,
        || proxy.get("/api", &[("authorization", &auth)]),
        |r, before| assert_eq!(r.status, 200, "{before:.3} s before E + 2: {}", r.body),
        |r, after| {
            assert_eq!(
                (r.status, r.body.as_str()),
                (401, body::EXPIRED),
                "{after:.3} s after E + 2"
            )
        },
    );
    assert!(
        seen.before >= 20,
        "only {} requests before expiry",
        seen.before
    );
    // The configuration asks for debug lines and Envoy prints the wasm log at debug here:
    // the filter's refusal line is sent.
    let logged = poll_until(Duration::from_secs(5), || {
        proxy
            .log()
            .contains("request refused: JwtExpired")
            .then_some(())
    });
    assert!(
        logged.is_some(),
        "no debug line for the refusals (the tests run Envoy with wasm:debug)"
    );
    assert_vm_healthy(&proxy);
}

/// The other side of the tick clock: a token refused as not yet valid (`nbf`) on the way to
/// another answer must not stay refused for the tick's lag. Under a `requires_any` whose second
/// branch fails for another reason (a bad signature, the error reported as the last branch's),
/// the first branch's token passes from the second its `nbf` allows: with one second of skew,
/// `nbf` N passes from N - 1.
#[test]
fn a_token_passes_from_the_second_its_nbf_allows_under_requires_any() {
    let upstream = Upstream::start();
    let key = keys().get(Alg::ES256);
    let provider = |header: &str| {
        json!({"issuer": ISS, "audiences": [AUD], "clock_skew_seconds": 1,
            "from_headers": [{"name": header, "value_prefix": "Bearer "}],
            "local_jwks": {"inline_string": jwks(&[key]).to_string()}})
    };
    let config = json!({
        "providers": {"p": provider("authorization"), "q": provider("x-other")},
        "rules": [{"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [
            {"provider_name": "p"}, {"provider_name": "q"}]}}}]
    });
    let proxy = local_builder(&upstream).plugin(config).start();
    let other = bearer(&flip_signature_bit(&key.token(&good_claims())));
    // The tick clock lags by up to 100 ms: requests in that window are the ones that count. A
    // machine busy enough to send fewer than 5 in it says nothing either way, so the run is
    // repeated with a new `nbf` (3 runs at most); every answer of every run is judged.
    let mut seen = AroundSecond {
        before: 0,
        early: 0,
    };
    for _ in 0..3 {
        let nbf = now() + 3;
        let auth = bearer(&key.token(&claims_with(json!({"nbf": nbf}))));
        seen = around_second(
            nbf as f64 - 1.0,
            50,
            || proxy.get("/api", &[("authorization", &auth), ("x-other", &other)]),
            |r, before| {
                assert_eq!(
                    (r.status, r.body.as_str()),
                    (401, body::VERIFICATION),
                    "{before:.3} s before N - 1"
                )
            },
            |r, after| assert_eq!(r.status, 200, "{after:.3} s after N - 1: {}", r.body),
        );
        if seen.before >= 20 && seen.early >= 5 {
            break;
        }
    }
    assert!(
        seen.before >= 20,
        "only {} requests before nbf",
        seen.before
    );
    assert!(
        seen.early >= 5,
        "only {} requests in the first 100 ms after nbf, in each of 3 runs",
        seen.early
    );
    assert_vm_healthy(&proxy);
}

/// With the token in `Authorization` only (no `?access_token=`) and a catch-all rule, the
/// filter reads that header alone for a decision (`HeaderFetch::One`): the answers are still
/// the full ones, and a refusal's realm, built from `:authority` and `:path`, comes from the
/// whole map read then. Repeated `Authorization` values reach the filter joined by Envoy.
#[test]
fn a_header_only_configuration_reads_one_header_and_answers_in_full() {
    let upstream = Upstream::start();
    let key = keys().get(Alg::ES256);
    let config = json!({
        "providers": {"p": {"issuer": ISS, "audiences": [AUD],
            "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}],
            "claim_to_headers": [{"header_name": "x-jwt-sub", "claim_name": "sub"}],
            "local_jwks": {"inline_string": jwks(&[key]).to_string()}}},
        "rules": [
            {"match": {"prefix": "/"}, "requires": {"provider_name": "p"},
             "authorization": {"scopes": ["orders:read"]}},
            {"match": {"prefix": "/never"}}
        ]
    });
    let proxy = local_builder(&upstream).plugin(config).start();
    let scoped = key.token(&claims_with(json!({"scope": "orders:read"})));
    let r = proxy.get(
        "/orders?page=2",
        &[("authorization", &bearer(&scoped)), ("x-jwt-sub", "forged")],
    );
    assert_status!(r, 200);
    assert_eq!(
        r.upstream_header("x-jwt-sub").as_deref(),
        Some("alice"),
        "{r}"
    );
    assert_eq!(
        r.upstream_header("authorization"),
        None,
        "forward is false: {r}"
    );
    let r = proxy.get(
        "/orders",
        &[
            ("authorization", "Basic eA=="),
            ("authorization", &bearer(&scoped)),
        ],
    );
    assert_status!(r, 200);

    let port = proxy.port();
    let r = proxy.get("/orders?page=2", &[]);
    assert_status!(r, 401, body::MISSING);
    let realm = www_authenticate(port, "/orders?page=2", false);
    assert_eq!(r.header("www-authenticate"), Some(realm.as_str()), "{r}");
    let r = proxy.get(
        "/a/b",
        &[("authorization", &bearer(&flip_signature_bit(&scoped)))],
    );
    assert_status!(r, 401, body::VERIFICATION);
    let realm = www_authenticate(port, "/a/b", true);
    assert_eq!(r.header("www-authenticate"), Some(realm.as_str()), "{r}");
    // Only the configured header counts, not `?access_token=`.
    let r = proxy.get(&format!("/q?access_token={scoped}"), &[]);
    assert_status!(r, 401, body::MISSING);
    // A verified token without the scope: 403, realm and scope in `www-authenticate`.
    let r = proxy.bearer("/x", &key.token(&good_claims()));
    assert_eq!(r.status, 403, "{r}");
    let want = format!(
        "Bearer realm=\"http://127.0.0.1:{port}/x\", error=\"insufficient_scope\", scope=\"orders:read\""
    );
    assert_eq!(r.header("www-authenticate"), Some(want.as_str()), "{r}");
    assert_vm_healthy(&proxy);
}

// ------------------------------------------------------------------------------------------
// Remote JWKS

fn remote_provider(cluster: &str, cache_duration: &str, timeout: &str) -> Value {
    json!({
        "issuer": ISS,
        "audiences": [AUD],
        "remote_jwks": {
            "http_uri": {"uri": format!("http://{cluster}.test/jwks.json"), "cluster": cluster, "timeout": timeout},
            "cache_duration": cache_duration
        },
        "claim_to_headers": [{"header_name": "x-jwt-sub", "claim_name": "sub"}]
    })
}

fn one_provider(name: &str, provider: Value) -> Value {
    json!({
        "providers": {name: provider},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": name}}]
    })
}

#[test]
fn remote_jwks_cold_start_holds_the_request_until_keys_arrive() {
    let key = keys().get(Alg::ES256);
    let delay = Duration::from_millis(1500);
    let stub = JwksStub::start(200, jwks(&[key]).to_string());
    stub.set_delay(delay);
    let upstream = Upstream::start();
    let proxy = EnvoyBuilder::new(&upstream)
        .plugin(one_provider(
            "remote",
            remote_provider("jwks", "300s", "5s"),
        ))
        .jwks_cluster("jwks", stub.port())
        .start();

    let sent = Instant::now();
    let r = proxy.bearer("/cold", &key.token(&good_claims()));
    let answered = Instant::now();
    assert_status!(r, 200);
    assert_eq!(
        r.upstream_header("x-jwt-sub").as_deref(),
        Some("alice"),
        "{r}"
    );
    let first_fetch = *stub
        .fetch_times()
        .first()
        .expect("the JWKS server saw no request");
    let keys_ready = first_fetch + delay;
    assert!(
        sent < keys_ready,
        "the request was sent after the keys had arrived, so holding was not tested (fetch started {:?} before the request)",
        sent.saturating_duration_since(first_fetch)
    );
    assert!(
        answered >= keys_ready,
        "the request was answered {:?} before the JWKS server answered",
        keys_ready - answered
    );
    assert_eq!(
        stub.paths(),
        vec!["/jwks.json".to_owned()],
        "one fetch, on the uri's path"
    );
    eprintln!("cold start: request held {:?}", answered - sent);
    assert_vm_healthy(&proxy);
}

#[test]
fn remote_jwks_failures_answer_fetch_failed_then_recover() {
    let key = keys().get(Alg::ES256);
    let token = key.token(&good_claims());
    let broken = JwksStub::start(500, "{\"error\": \"down\"}");
    let hanging = JwksStub::start(200, jwks(&[key]).to_string());
    hanging.set_hang(true);
    let upstream = Upstream::start();
    // A request holds for the first keys at most `first_fetch_wait`; keep it short here.
    let mut broken_provider = remote_provider("jwks_broken", "300s", "2s");
    broken_provider["remote_jwks"]["first_fetch_wait"] = json!("1s");
    let mut hanging_provider = remote_provider("jwks_hanging", "300s", "1s");
    hanging_provider["remote_jwks"]["first_fetch_wait"] = json!("1s");
    let config = json!({
        "providers": {
            "broken": broken_provider,
            "hanging": hanging_provider
        },
        "rules": [
            {"match": {"prefix": "/broken"}, "requires": {"provider_name": "broken"}},
            {"match": {"prefix": "/hanging"}, "requires": {"provider_name": "hanging"}}
        ]
    });
    let proxy = EnvoyBuilder::new(&upstream)
        .plugin(config)
        .jwks_cluster("jwks_broken", broken.port())
        .jwks_cluster("jwks_hanging", hanging.port())
        .start();

    let r = proxy.bearer("/broken", &token);
    assert_status!(r, 401, body::FETCH_FAIL);
    assert_eq!(
        r.header("www-authenticate"),
        Some(www_authenticate(proxy.port(), "/broken", true).as_str()),
        "{r}"
    );
    assert!(broken.fetches() >= 1, "the JWKS server was never asked");
    assert_eq!(
        proxy.get("/broken", &[]).body,
        body::MISSING,
        "no token: missing, whatever the keys"
    );

    let sent = Instant::now();
    let r = proxy.bearer("/hanging", &token);
    assert_status!(r, 401, body::FETCH_FAIL);
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "a hanging JWKS server held the request {:?} (timeout 1s)",
        sent.elapsed()
    );

    // The JWKS server comes back: requests pass again without restarting Envoy.
    broken.set_status(200);
    broken.set_body(jwks(&[key]).to_string());
    let recovered = poll_until(Duration::from_secs(15), || {
        let r = proxy.bearer("/broken", &token);
        (r.status == 200).then_some(r)
    });
    assert!(
        recovered.is_some(),
        "still failing 15 s after the JWKS server recovered ({} fetches)",
        broken.fetches()
    );
    assert_vm_healthy(&proxy);
}

/// Runs `GET path` with `token` every ~50 ms for `span`; every answer must be 200.
fn steady_requests(proxy: &Proxy, path: &str, token: &str, span: Duration) -> usize {
    let end = Instant::now() + span;
    let mut n = 0;
    while Instant::now() < end {
        let r = proxy.bearer(path, token);
        assert_eq!(r.status, 200, "request #{n} during steady traffic: {r}");
        n += 1;
        thread::sleep(Duration::from_millis(50));
    }
    n
}

#[test]
fn remote_jwks_refresh_is_shared_by_all_workers() {
    let key = keys().get(Alg::ES256);
    let token = key.token(&good_claims());
    let stub = JwksStub::start(200, jwks(&[key]).to_string());
    let upstream = Upstream::start();
    let cache = Duration::from_secs(2);
    let proxy = EnvoyBuilder::new(&upstream)
        .plugin(one_provider("remote", remote_provider("jwks", "2s", "2s")))
        .jwks_cluster("jwks", stub.port())
        .concurrency(4)
        .start();

    let sent = steady_requests(&proxy, "/steady", &token, Duration::from_secs(7));
    let times = stub.fetch_times();
    let first = *times.first().expect("no JWKS fetch at all");
    let span = times.last().unwrap().duration_since(first);
    let refreshes = (span.as_secs_f64() / cache.as_secs_f64()).ceil() as usize;
    let gaps: Vec<Duration> = times
        .windows(2)
        .map(|w| w[1].duration_since(w[0]))
        .collect();
    eprintln!(
        "{sent} requests; {} fetches over {span:?}; gaps {gaps:?}",
        times.len()
    );
    assert!(
        times.len() >= 3,
        "keys were not refreshed every 2 s: {} fetches in 7 s",
        times.len()
    );
    assert!(
        times.len() <= refreshes + 2,
        "{} fetches over {span:?} with cache_duration 2s: the 4 workers do not share one fetch (gaps {gaps:?})",
        times.len()
    );
    assert!(
        gaps.iter().all(|g| *g >= Duration::from_millis(500)),
        "fetches closer than 0.5 s to each other: workers fetched in parallel (gaps {gaps:?})"
    );
    assert_vm_healthy(&proxy);
}

#[test]
fn remote_jwks_rotation_and_failed_refresh_keep_working_keys() {
    let k1 = keys().get(Alg::ES256);
    let k2 = Key::from_seed(Alg::ES256, "k-rotated", 7);
    let t1 = k1.token(&good_claims());
    let t2 = k2.token(&good_claims());
    let stub = JwksStub::start(200, jwks(&[k1]).to_string());
    let upstream = Upstream::start();
    let proxy = EnvoyBuilder::new(&upstream)
        .plugin(one_provider("remote", remote_provider("jwks", "2s", "2s")))
        .jwks_cluster("jwks", stub.port())
        .concurrency(2)
        .start();

    assert_status!(proxy.bearer("/a", &t1), 200);
    assert_status!(proxy.bearer("/a", &t2), 401, body::KID_ALG);

    // Rotation: the server now publishes k2 only; after the next refresh k2 passes, k1 fails.
    stub.set_body(jwks(&[&k2]).to_string());
    let rotated = poll_until(Duration::from_secs(8), || {
        (proxy.bearer("/a", &t2).status == 200).then_some(())
    });
    assert!(
        rotated.is_some(),
        "k2 not accepted 8 s after rotation (cache_duration 2s; {} fetches)",
        stub.fetches()
    );
    // Each worker loads the shared keys on its 100 ms tick: k1 is refused everywhere soon after
    // (20 refusals in a row, so both workers have moved on).
    let k1_refused = poll_until(Duration::from_secs(3), || {
        (0..20)
            .all(|_| proxy.bearer("/a", &t1).status == 401)
            .then_some(())
    });
    assert!(k1_refused.is_some(), "k1 still accepted 3 s after rotation");
    assert_status!(proxy.bearer("/a", &t1), 401, body::KID_ALG);

    // The server breaks: refreshes fail, the last good keys stay in use past cache_duration.
    stub.set_status(500);
    let before = stub.fetches();
    steady_requests(&proxy, "/a", &t2, Duration::from_secs(5));
    assert!(
        stub.fetches() > before,
        "no refresh was attempted in 5 s with cache_duration 2s"
    );
    assert_vm_healthy(&proxy);
}

// ------------------------------------------------------------------------------------------
// Bad configuration

#[test]
fn bad_plugin_configs_are_refused_naming_the_field() {
    let jwks_text = jwks(&[keys().get(Alg::ES256)]).to_string();
    let local = json!({"issuer": ISS, "local_jwks": {"inline_string": jwks_text}});
    let rule = |p: &str| json!([{"match": {"prefix": "/"}, "requires": {"provider_name": p}}]);
    let mut unknown_field = local.clone();
    unknown_field["issuer_typo"] = json!("x");
    let named = |fields: &[&str]| -> Vec<String> { fields.iter().map(|f| f.to_string()).collect() };
    let cases = [
        Refused {
            what: "unknown field",
            config: json!({"providers": {"p": unknown_field}, "rules": rule("p")}),
            named: named(&["issuer_typo"]),
        },
        Refused {
            what: "unknown provider in a rule",
            config: json!({"providers": {"p": local.clone()}, "rules": rule("nobody")}),
            named: named(&["provider_name", "nobody"]),
        },
        Refused {
            what: "malformed duration",
            config: json!({"providers": {"p": {"issuer": ISS, "remote_jwks": {
                "http_uri": {"uri": "http://jwks.test/k", "cluster": "jwks", "timeout": "1s"},
                "cache_duration": "five minutes"}}}, "rules": rule("p")}),
            named: named(&["cache_duration"]),
        },
        Refused {
            what: "bad local JWKS",
            config: json!({"providers": {"p": {"issuer": ISS, "local_jwks": {"inline_string": "{\"keys\": [{\"kty\": \"RSA\"}"}}}, "rules": rule("p")}),
            named: named(&["local_jwks"]),
        },
    ];
    // The four Envoys fail independently; the runner starts them side by side.
    assert_configs_refused(&Upstream::start(), "jwks", &cases);
}

// ------------------------------------------------------------------------------------------
// The repository's Envoy configs

#[test]
fn repo_envoy_configs_validate() {
    let dir = Path::new(CRATE_ROOT).join("envoy");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"));
    files.sort();
    if files.is_empty() {
        eprintln!("no envoy/*.yaml files to validate");
        return;
    }
    let failures: Vec<String> = files.iter().filter_map(|f| validate(f).err()).collect();
    assert!(
        failures.is_empty(),
        "envoy --mode validate refused:\n{}",
        failures.join("\n\n")
    );
}
