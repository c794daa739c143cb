//! Replay protection for one-time tokens, end to end: the wasm filter in a real Envoy with
//! several worker threads (`--concurrency`), whose seen set lives in Envoy's shared data.
//!
//! What it holds to: a token whose `jti` was accepted once is refused afterwards on every
//! worker (401, `error="invalid_token"`, "Jwt replayed"); clients racing one token get exactly
//! one 200; a token without `jti` or `exp`, or living longer than the cap, is refused; an
//! unverified token never takes a `jti`'s slot; the slot is free again once the token has
//! expired; a full set never lets an evicted token through; a provider without the feature
//! is untouched. Waits poll against deadlines.
//!
//! Needs Envoy (`make setup`) and the built filter (`make build`); a missing one fails the test.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use jwt_mint::{jwks, Alg, Key};
use serde_json::{json, Value};

use crate::support::{
    assert_vm_healthy, flip_signature_bit, http_get, now, poll_until, EnvoyBuilder, Proxy, Response, Upstream,
};

const ISS: &str = "https://issuer.replay.example";
const REPLAYED: &str = "Jwt replayed";
const UNCHECKABLE: &str = "Jwt needs [jti] and [exp] within the one-time token lifetime";

fn key() -> Key {
    Key::from_seed(Alg::ES256, "k1", 21)
}

fn provider(replay: Option<Value>) -> Value {
    let mut p = json!({
        "issuer": ISS,
        "local_jwks": {"inline_string": jwks(&[&key()]).to_string()},
        "clock_skew_seconds": 1,
    });
    if let Some(r) = replay {
        p["replay_protection"] = r;
    }
    p
}

/// `/once/...` needs `once` (replay protection on, 60 s cap), `/tiny/...` needs `tiny` (a set of
/// one entry), anything else `plain` (off).
fn config() -> Value {
    json!({
        "providers": {
            "once": provider(Some(json!({"max_entries": 1000, "max_token_lifetime": "60s"}))),
            "tiny": provider(Some(json!({"max_entries": 1, "max_token_lifetime": "600s"}))),
            "plain": provider(None),
        },
        "rules": [
            {"match": {"prefix": "/once"}, "requires": {"provider_name": "once"}},
            {"match": {"prefix": "/tiny"}, "requires": {"provider_name": "tiny"}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "plain"}},
        ]
    })
}

fn start(concurrency: u32) -> (Proxy, Upstream) {
    let upstream = Upstream::start();
    let proxy = EnvoyBuilder::new(&upstream)
        .plugin(config())
        .concurrency(concurrency)
        .start();
    (proxy, upstream)
}

fn token(jti: Option<&str>, exp_in: Option<u64>) -> String {
    let t = now();
    let mut claims = json!({"iss": ISS, "sub": "client-1", "iat": t});
    if let Some(jti) = jti {
        claims["jti"] = json!(jti);
    }
    if let Some(exp_in) = exp_in {
        claims["exp"] = json!(t + exp_in);
    }
    key().token(&claims)
}

/// A unique `jti` per call, so tests running at once never share one.
fn jti(label: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{label}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn assert_refused(r: &Response, message: &str, proxy: &Proxy) {
    assert_eq!(r.status, 401, "{r}\n{}", crate::support::tail(&proxy.log(), 30));
    assert_eq!(r.body, message, "{r}");
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "WWW-Authenticate: {challenge}"
    );
}

fn stat(proxy: &Proxy, metric: &str) -> u64 {
    proxy
        .settled_counter(&format!("wasmcustom.{metric}"))
        .unwrap_or(0)
}

#[test]
fn a_one_time_token_passes_once_on_every_worker() {
    let (proxy, _upstream) = start(2);

    let first = token(Some(&jti("a")), Some(30));
    assert_eq!(proxy.bearer("/once/x", &first).status, 200);
    // Each request is a new connection; with two workers both see the token again.
    for _ in 0..10 {
        assert_refused(&proxy.bearer("/once/x", &first), REPLAYED, &proxy);
    }
    // Other jtis pass, once each.
    let second = token(Some(&jti("b")), Some(30));
    let third = token(Some(&jti("c")), Some(30));
    assert_eq!(proxy.bearer("/once/x", &second).status, 200);
    assert_eq!(proxy.bearer("/once/x", &third).status, 200);
    assert_refused(&proxy.bearer("/once/x", &second), REPLAYED, &proxy);

    // What cannot be held to one use is refused when the feature is on.
    assert_refused(
        &proxy.bearer("/once/x", &token(None, Some(30))),
        UNCHECKABLE,
        &proxy,
    );
    assert_refused(
        &proxy.bearer("/once/x", &token(Some(&jti("d")), None)),
        UNCHECKABLE,
        &proxy,
    );
    assert_refused(
        &proxy.bearer("/once/x", &token(Some(&jti("e")), Some(3600))),
        UNCHECKABLE,
        &proxy,
    );

    // An unverified token takes no slot: the genuine one with its jti still passes once.
    let genuine = token(Some(&jti("f")), Some(30));
    let forged = flip_signature_bit(&genuine);
    assert_refused(
        &proxy.bearer("/once/x", &forged),
        "Jwt verification fails",
        &proxy,
    );
    assert_eq!(proxy.bearer("/once/x", &genuine).status, 200);
    assert_refused(
        &proxy.bearer("/once/x", &forged),
        "Jwt verification fails",
        &proxy,
    );

    // A provider without the feature accepts the same token again, jti or not.
    let plain = token(None, Some(30));
    let reused = token(Some(&jti("g")), Some(30));
    for _ in 0..3 {
        assert_eq!(proxy.bearer("/plain", &plain).status, 200);
        assert_eq!(proxy.bearer("/plain", &reused).status, 200);
    }

    assert_eq!(stat(&proxy, "jwt_authn.denied.JwtReplayed"), 11);
    assert_eq!(stat(&proxy, "jwt_authn.denied.JwtReplayUncheckable"), 3);
    assert_vm_healthy(&proxy);
}

#[test]
fn clients_racing_one_token_get_exactly_one_200() {
    const CLIENTS: usize = 12;
    const ROUNDS: usize = 8;
    let (proxy, _upstream) = start(4);
    let port = proxy.port();
    for round in 0..ROUNDS {
        let token = token(Some(&jti("race")), Some(30));
        let auth = format!("Bearer {token}");
        let barrier = Arc::new(Barrier::new(CLIENTS));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (barrier, auth) = (barrier.clone(), auth.clone());
                thread::spawn(move || {
                    barrier.wait();
                    http_get(
                        port,
                        "/once/race",
                        &[("authorization", &auth)],
                        Duration::from_secs(10),
                    )
                })
            })
            .collect();
        let responses: Vec<Response> = clients
            .into_iter()
            .map(|c| c.join().unwrap().unwrap_or_else(|e| panic!("{e}")))
            .collect();
        let passed = responses.iter().filter(|r| r.status == 200).count();
        assert_eq!(passed, 1, "round {round}: {passed} of {CLIENTS} passed");
        for r in responses.iter().filter(|r| r.status != 200) {
            assert_refused(r, REPLAYED, &proxy);
        }
    }
    assert_vm_healthy(&proxy);
}

#[test]
fn a_slot_is_free_once_its_token_expired_and_a_full_set_never_lets_a_replay_through() {
    let (proxy, _upstream) = start(2);

    // Expiry: a jti used by a token living 2 s (plus 1 s of skew) is free again afterwards
    // (an identity provider should never reuse one; it shows the entry went with its token).
    let reused = jti("reused");
    let short = token(Some(&reused), Some(2));
    assert_eq!(proxy.bearer("/once/x", &short).status, 200);
    assert_refused(&proxy.bearer("/once/x", &short), REPLAYED, &proxy);
    let later = token(Some(&reused), Some(60));
    let freed = poll_until(Duration::from_secs(15), || {
        let r = proxy.bearer("/once/x", &later);
        if r.status != 200 {
            assert_refused(&r, REPLAYED, &proxy);
        }
        (r.status == 200).then_some(())
    });
    assert!(
        freed.is_some(),
        "the jti's slot was still taken 15 s after its token expired"
    );
    assert_refused(&proxy.bearer("/once/x", &later), REPLAYED, &proxy);
    assert_refused(&proxy.bearer("/once/x", &short), "Jwt is expired", &proxy);

    // A set of one: a later-expiring token evicts the held one, which stays refused.
    let held = token(Some(&jti("held")), Some(100));
    let newer = token(Some(&jti("newer")), Some(200));
    let sooner = token(Some(&jti("sooner")), Some(150));
    assert_eq!(proxy.bearer("/tiny/x", &held).status, 200);
    assert_eq!(proxy.bearer("/tiny/x", &newer).status, 200);
    assert_refused(&proxy.bearer("/tiny/x", &held), REPLAYED, &proxy);
    assert_refused(&proxy.bearer("/tiny/x", &newer), REPLAYED, &proxy);
    // Expiring before the one held, it would be the first to go: refused rather than held.
    assert_refused(&proxy.bearer("/tiny/x", &sooner), REPLAYED, &proxy);
    assert_eq!(stat(&proxy, "jwt_authn.provider.tiny.replay_evicted"), 1);
    assert_vm_healthy(&proxy);
}
