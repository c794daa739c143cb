//! Remote JWKS lifecycle under fault injection, end to end: the wasm filter inside a real Envoy
//! 1.40, an echo upstream, and JWKS stubs on loopback that the test breaks and repairs while a
//! steady stream of requests runs.
//!
//! What every scenario holds to: no valid request is refused while the keys are within their
//! stale period; no invalid token (expired, bad signature, unknown key) is ever accepted; a
//! bad JWKS answer never replaces good keys; the worker VMs share one fetch; the filter never
//! panics or traps. Durations are short ("1s" freshness, "0.2s" retry) so the whole file runs in
//! well under two minutes.
//!
//! Needs Envoy (`make setup`) and the built filter (`make build`); a missing one fails the test.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use jwt_mint::{jwks, Alg, Key};
use serde_json::{json, Value};

use crate::support::chaos;
use crate::support::{
    assert_vm_healthy, body, flip_signature_bit, http_get, http_request_with_body, now, poll_until,
    EnvoyBuilder, JwksStub, Proxy, Upstream,
};

const ISS: &str = "https://issuer.lifecycle.example";
const AUD: &str = "api.lifecycle.example";
const PATH: &str = "/api/resource";

fn claims(iss: &str) -> Value {
    let t = now();
    json!({"iss": iss, "aud": AUD, "sub": "alice", "iat": t, "exp": t + 3600})
}

fn expired_claims() -> Value {
    let t = now();
    json!({"iss": ISS, "aud": AUD, "sub": "alice", "iat": t - 7200, "exp": t - 3600})
}

/// The keys of the scenarios: ES256 (fast to make and to check).
struct Keys {
    /// The identity provider's key before rotation.
    k1: Key,
    /// Its key after rotation.
    k2: Key,
    /// Another key under k1's kid: its tokens carry a known kid and a bad signature.
    impostor: Key,
    /// A key the identity provider never publishes, under a kid it never uses.
    unknown: Key,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        k1: Key::from_seed(Alg::ES256, "k1", 1),
        k2: Key::from_seed(Alg::ES256, "k2", 2),
        impostor: Key::from_seed(Alg::ES256, "k1", 3),
        unknown: Key::from_seed(Alg::ES256, "k-unknown", 4),
    })
}

fn jwks_of(keys: &[&Key]) -> String {
    jwks(keys).to_string()
}

/// A remote provider: fresh for 1 s (no cache headers; the lower bound defaults to it too),
/// 1 s fetch timeout, retries 0.2 s after a failure. `extra` replaces `remote_jwks` members.
fn provider(cluster: &str, issuer: &str, extra: Value) -> Value {
    let mut remote = json!({
        "http_uri": {"uri": format!("http://{cluster}.test/jwks.json"), "cluster": cluster, "timeout": "1s"},
        "cache_duration": "1s",
        "async_fetch": {"failed_refetch_duration": "0.2s"}
    });
    for (k, v) in extra.as_object().unwrap() {
        remote[k] = v.clone();
    }
    json!({"issuer": issuer, "audiences": [AUD], "remote_jwks": remote})
}

fn one_provider(name: &str, provider: Value) -> Value {
    json!({
        "providers": {name: provider},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": name}}]
    })
}

// ------------------------------------------------------------------------------------------
// Metrics

/// The name Envoy 1.40 gives a metric the filter defines through proxy-wasm, in admin `/stats`:
/// its own name under the `wasmcustom.` namespace.
fn stat_name(metric: &str) -> String {
    format!("wasmcustom.{metric}")
}

/// A filter counter or gauge from admin `/stats` (0 when Envoy does not show it yet).
fn stat(proxy: &Proxy, metric: &str) -> u64 {
    proxy.counter(&stat_name(metric)).unwrap_or(0)
}

fn provider_stat(proxy: &Proxy, provider: &str, metric: &str) -> u64 {
    stat(proxy, &format!("jwt_authn.provider.{provider}.{metric}"))
}

/// Log lines of the filter that contain `needle`.
fn log_lines(proxy: &Proxy, needle: &str) -> Vec<String> {
    proxy
        .log()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

// ------------------------------------------------------------------------------------------
// Steady traffic

/// One request of the background traffic and its answer.
#[derive(Debug, Clone)]
struct Sample {
    label: &'static str,
    sent: Instant,
    took: Duration,
    /// 0 for a transport error (then `body` holds it).
    status: u16,
    body: String,
}

/// What a request with this label must get: `None` = pass (200).
fn expected(label: &str) -> Option<&'static str> {
    match label {
        "valid" => None,
        "expired" => Some(body::EXPIRED),
        "bad signature" | "other key, same kid" => Some(body::VERIFICATION),
        "unknown kid" => Some(body::KID_ALG),
        other => panic!("no expectation for label {other:?}"),
    }
}

/// The invalid tokens every scenario sends alongside the valid ones.
fn invalid_probes() -> Vec<(&'static str, String)> {
    let k = keys();
    vec![
        ("expired", k.k1.token(&expired_claims())),
        (
            "bad signature",
            flip_signature_bit(&k.k1.token(&claims(ISS))),
        ),
        ("other key, same kid", k.impostor.token(&claims(ISS))),
        ("unknown kid", k.unknown.token(&claims(ISS))),
    ]
}

/// Background request streams, one thread each, every stream cycling through its tokens with
/// a short pause; each request on a fresh connection (so it may land on any worker).
struct Traffic {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Traffic {
    fn start(port: u16, path: &str, streams: Vec<Vec<(&'static str, String)>>) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let threads = streams
            .into_iter()
            .map(|tokens| {
                let stop = Arc::clone(&stop);
                let samples = Arc::clone(&samples);
                let path = path.to_owned();
                thread::spawn(move || {
                    for (label, token) in tokens.iter().cycle() {
                        if stop.load(Ordering::SeqCst) {
                            return;
                        }
                        let auth = format!("Bearer {token}");
                        let sent = Instant::now();
                        let r = http_get(
                            port,
                            &path,
                            &[("authorization", &auth)],
                            Duration::from_secs(10),
                        );
                        let took = sent.elapsed();
                        let (status, body) = match r {
                            Ok(r) => (r.status, r.body),
                            Err(e) => (0, e),
                        };
                        samples.lock().unwrap().push(Sample {
                            label,
                            sent,
                            took,
                            status,
                            body,
                        });
                        thread::sleep(Duration::from_millis(20));
                    }
                })
            })
            .collect();
        Traffic {
            stop,
            samples,
            threads,
        }
    }

    fn samples(&self) -> Vec<Sample> {
        let mut s = self.samples.lock().unwrap().clone();
        s.sort_by_key(|s| s.sent);
        s
    }

    fn stop(mut self) -> Vec<Sample> {
        self.halt();
        self.samples()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Samples that did not get what their label demands: 200 for a valid token, the 401 of its
/// reason for an invalid one.
fn violations(samples: &[Sample], origin: Instant) -> Vec<String> {
    samples
        .iter()
        .filter_map(|s| {
            let ok = match expected(s.label) {
                None => s.status == 200,
                Some(body) => s.status == 401 && s.body == body,
            };
            (!ok).then(|| describe(s, origin))
        })
        .collect()
}

fn describe(s: &Sample, origin: Instant) -> String {
    let want = match expected(s.label) {
        None => "200".to_owned(),
        Some(body) => format!("401 {body:?}"),
    };
    format!(
        "{} token sent at +{:.3}s (took {} ms): expected {want}, got {} {:?}",
        s.label,
        s.sent.saturating_duration_since(origin).as_secs_f64(),
        s.took.as_millis(),
        s.status,
        s.body.chars().take(200).collect::<String>()
    )
}

fn count(samples: &[Sample], label: &str) -> usize {
    samples.iter().filter(|s| s.label == label).count()
}

fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

fn gaps(times: &[Instant]) -> Vec<Duration> {
    times
        .windows(2)
        .map(|w| w[1].duration_since(w[0]))
        .collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn show(v: &[Duration]) -> String {
    let parts: Vec<String> = v
        .iter()
        .map(|d| format!("{:.2}", d.as_secs_f64()))
        .collect();
    format!("[{}]s", parts.join(", "))
}

// ------------------------------------------------------------------------------------------
// Faults: a bad answer never replaces good keys; stale keys keep serving

/// A way for the JWKS server to misbehave, and whether the fetch must count as failed.
struct Fault {
    name: &'static str,
    apply: Box<dyn Fn(&JwksStub)>,
    fails: bool,
}

fn faults() -> Vec<Fault> {
    let k2 = keys().k2.clone();
    let k2_only = jwks_of(&[&k2]);
    let mut oversized = jwks(&[&k2]);
    oversized["padding"] = json!("x".repeat(1_100_000));
    let oversized = oversized.to_string();
    let mut unusable = k2.public_jwk();
    unusable["use"] = json!("enc");
    let unusable = json!({"keys": [unusable]}).to_string();
    vec![
        Fault {
            name: "HTTP 500 (its body a valid JWKS with only k2)",
            apply: Box::new(move |s| {
                s.set_status(500);
                s.set_body(k2_only.clone());
            }),
            fails: true,
        },
        Fault {
            name: "hangs past the 1 s fetch timeout",
            apply: Box::new(|s| s.set_hang(true)),
            fails: true,
        },
        Fault {
            name: "answers slowly (0.6 s, under the 1 s timeout)",
            apply: Box::new(|s| s.set_delay(Duration::from_millis(600))),
            fails: false,
        },
        Fault {
            name: "malformed JSON",
            apply: Box::new(|s| s.set_body(r#"{"keys": [{"kty": "EC", "crv": "#)),
            fails: true,
        },
        Fault {
            name: "not JSON (an HTML error page with 200)",
            apply: Box::new(|s| {
                s.set_body("<html><body>502 Bad Gateway</body></html>");
                s.set_headers(&[("content-type", "text/html")]);
            }),
            fails: true,
        },
        Fault {
            name: "oversized body (1.1 MB; a valid JWKS with only k2)",
            apply: Box::new(move |s| s.set_body(oversized.clone())),
            fails: true,
        },
        Fault {
            name: "empty key set {\"keys\":[]}",
            apply: Box::new(|s| s.set_body(r#"{"keys":[]}"#)),
            fails: true,
        },
        Fault {
            name: "no usable key (k2 marked \"use\": \"enc\")",
            apply: Box::new(move |s| s.set_body(unusable.clone())),
            fails: true,
        },
    ]
}

fn restore(stub: &JwksStub, good: &str) {
    stub.set_status(200);
    stub.set_body(good);
    stub.set_headers(&[]);
    stub.set_delay(Duration::ZERO);
    stub.set_hang(false);
}

#[test]
fn faults_never_replace_good_keys_and_stale_keys_keep_serving() {
    let k = keys();
    let good = jwks_of(&[&k.k1]);
    let stub = JwksStub::start(200, good.clone());
    let upstream = Upstream::start();
    let proxy = EnvoyBuilder::new(&upstream)
        .plugin(one_provider("idp", provider("jwks", ISS, json!({}))))
        .jwks_cluster("jwks", stub.port())
        .start();
    let valid = k.k1.token(&claims(ISS));
    assert_status!(proxy.bearer(PATH, &valid), 200);

    let origin = Instant::now();
    let traffic = Traffic::start(
        proxy.port(),
        PATH,
        vec![vec![("valid", valid.clone())], invalid_probes()],
    );
    // A fault lasts 2 s, twice the keys' 1 s freshness: by its end the keys in use are stale.
    let fault_span = Duration::from_secs(2);
    let mut report = Vec::new();
    let mut problems = Vec::new();
    for fault in faults() {
        let start = Instant::now();
        let (fetches0, failed0, ok0) = (
            stub.fetches(),
            provider_stat(&proxy, "idp", "jwks_fetch_failed"),
            provider_stat(&proxy, "idp", "jwks_fetch_success"),
        );
        (fault.apply)(&stub);
        thread::sleep(fault_span);
        let age = provider_stat(&proxy, "idp", "jwks_age_seconds");
        let fetches = stub.fetches() - fetches0;
        let failed = provider_stat(&proxy, "idp", "jwks_fetch_failed") - failed0;
        let ok = provider_stat(&proxy, "idp", "jwks_fetch_success") - ok0;
        restore(&stub, &good);
        let restored = Instant::now();
        let ok_at_restore = provider_stat(&proxy, "idp", "jwks_fetch_success");
        let recovered = poll_until(Duration::from_secs(8), || {
            (provider_stat(&proxy, "idp", "jwks_fetch_success") > ok_at_restore).then(Instant::now)
        });
        let phase: Vec<Sample> = traffic
            .samples()
            .into_iter()
            .filter(|s| s.sent >= start && s.sent < restored)
            .collect();
        let bad = violations(&phase, origin);
        let line = format!(
            "{:<52} fetches {fetches:>2} (failed {failed}, ok {ok}); key age at end {age} s; \
             {} valid + {} invalid requests, {} wrong; keys refreshed {} after repair",
            fault.name,
            count(&phase, "valid"),
            phase.len() - count(&phase, "valid"),
            bad.len(),
            recovered.map_or("never".into(), |t| secs(t - restored)),
        );
        eprintln!("fault: {line}");
        report.push(line);
        problems.extend(bad.into_iter().map(|b| format!("[{}] {b}", fault.name)));
        if fault.fails {
            if failed == 0 || ok != 0 {
                problems.push(format!(
                    "[{}] expected only failed fetches during the fault, saw {failed} failed and {ok} successful ({fetches} requests)",
                    fault.name
                ));
            }
            if age < 1 {
                problems.push(format!(
                    "[{}] the key age gauge says {age} s at the end of a 2 s fault: the bad answer replaced the keys",
                    fault.name
                ));
            }
        } else if ok == 0 || failed != 0 {
            problems.push(format!(
                "[{}] expected successful refreshes, saw {ok} successful and {failed} failed",
                fault.name
            ));
        }
        if recovered.is_none() {
            problems.push(format!(
                "[{}] no successful fetch within 8 s of the repair",
                fault.name
            ));
        }
    }
    let samples = traffic.stop();
    problems.extend(
        violations(&samples, origin)
            .into_iter()
            .map(|b| format!("[overall] {b}")),
    );
    eprintln!(
        "faults: {} requests ({} valid) over {}, {} JWKS fetches",
        samples.len(),
        count(&samples, "valid"),
        secs(origin.elapsed()),
        stub.fetches()
    );
    let warned = log_lines(&proxy, "JWKS fetch failed, keeping the last good keys");
    eprintln!(
        "faults: {} 'fetch failed' log lines, e.g.:\n  {}",
        warned.len(),
        warned
            .iter()
            .map(|l| l.split("wasm log").last().unwrap_or(l).trim())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .take(12)
            .collect::<Vec<_>>()
            .join("\n  ")
    );
    problems.dedup();
    assert!(
        problems.is_empty(),
        "{} problems:\n{}\n\nphases:\n{}",
        problems.len(),
        problems.join("\n"),
        report.join("\n")
    );
    assert_vm_healthy(&proxy);
}

// ------------------------------------------------------------------------------------------
// max_stale: keys past freshness + max_stale are not used

#[test]
fn max_stale_expiry_fails_closed_and_recovers() {
    let k = keys();
    let good = jwks_of(&[&k.k1]);
    let stub = JwksStub::start(200, good.clone());
    let upstream = Upstream::start();
    let proxy = EnvoyBuilder::new(&upstream)
        .plugin(one_provider(
            "idp",
            provider(
                "jwks",
                ISS,
                json!({"max_stale": "2s", "first_fetch_wait": "0.3s"}),
            ),
        ))
        .jwks_cluster("jwks", stub.port())
        .start();
    let valid = k.k1.token(&claims(ISS));
    assert_status!(proxy.bearer(PATH, &valid), 200);
    let origin = Instant::now();
    let traffic = Traffic::start(
        proxy.port(),
        PATH,
        vec![vec![("valid", valid.clone())], invalid_probes()],
    );
    thread::sleep(Duration::from_millis(1200));

    // Break the server right after a refresh, so the last good fetch is known.
    let n = stub.fetches();
    let spotted = poll_tight(Duration::from_secs(3), || stub.fetches() > n);
    assert!(spotted, "no refresh within 3 s (cache_duration 1s)");
    stub.set_status(500);
    let broke = Instant::now();
    thread::sleep(Duration::from_millis(300));
    let ok = provider_stat(&proxy, "idp", "jwks_fetch_success") as usize;
    let times = stub.fetch_times();
    assert!(
        ok >= 1 && ok <= times.len(),
        "{ok} successful fetches, {} requests",
        times.len()
    );
    let last_good = times[ok - 1];
    // Keys fresh for 1 s after that fetch, then usable 2 s more (max_stale), then refused.
    let usable_until = last_good + Duration::from_secs(3);
    thread::sleep(
        (usable_until + Duration::from_millis(1500)).saturating_duration_since(Instant::now()),
    );
    let samples_broken = traffic.samples();
    let during: Vec<&Sample> = samples_broken
        .iter()
        .filter(|s| s.label == "valid" && s.sent >= broke)
        .collect();
    let last_pass = during
        .iter()
        .filter(|s| s.status == 200)
        .map(|s| s.sent)
        .max();
    let first_refusal = during.iter().find(|s| s.status != 200).copied();
    let refused_early: Vec<String> = during
        .iter()
        .filter(|s| s.status != 200 && s.sent + s.took < usable_until - Duration::from_millis(100))
        .map(|s| describe(s, origin))
        .collect();
    let passed_late: Vec<String> = during
        .iter()
        .filter(|s| s.sent > usable_until + Duration::from_millis(150))
        .filter(|s| s.status != 401 || s.body != body::FETCH_FAIL)
        .map(|s| describe(s, origin))
        .collect();
    let slowest_refusal = during
        .iter()
        .filter(|s| s.status == 401)
        .map(|s| s.took)
        .max()
        .unwrap_or_default();
    let failed = provider_stat(&proxy, "idp", "jwks_fetch_failed");
    eprintln!(
        "max_stale: last good fetch {} before the break; last pass {} and first refusal {} after it \
         (usable until +3.00s = 1 s fresh + 2 s max_stale); refusals answered within {} ms; {failed} failed fetches",
        secs(broke - last_good),
        last_pass.map_or("-".into(), |t| secs(t.saturating_duration_since(last_good))),
        first_refusal.map_or("-".into(), |s| format!(
            "{} ({} {:?})",
            secs(s.sent.saturating_duration_since(last_good)),
            s.status,
            s.body
        )),
        slowest_refusal.as_millis()
    );

    let keys_gauge = provider_stat(&proxy, "idp", "jwks_keys");
    let age_gauge = provider_stat(&proxy, "idp", "jwks_age_seconds");
    eprintln!(
        "max_stale: after expiry the gauges say jwks_keys = {keys_gauge}, jwks_age_seconds = {age_gauge}"
    );
    // The failing refreshes back off from 0.2 s.
    let failing: Vec<Instant> = stub
        .fetch_times()
        .into_iter()
        .filter(|t| *t > broke)
        .collect();
    let retry_gaps = gaps(&failing);
    eprintln!(
        "max_stale: {} failed fetches after the break, {} apart",
        failing.len(),
        show(&retry_gaps)
    );
    let off = backoff_mismatches(&retry_gaps, Duration::from_millis(200));

    // The server comes back: requests pass again.
    stub.set_status(200);
    let repaired = Instant::now();
    let back = poll_until(Duration::from_secs(8), || {
        (proxy.bearer(PATH, &valid).status == 200).then(Instant::now)
    });
    let samples = traffic.stop();
    eprintln!(
        "max_stale: requests pass again {} after the repair",
        back.map_or("never".into(), |t| secs(t - repaired))
    );
    let invalid_accepted: Vec<String> = samples
        .iter()
        .filter(|s| s.label != "valid" && s.status == 200)
        .map(|s| describe(s, origin))
        .collect();
    let before_break: Vec<String> = violations(
        &samples
            .iter()
            .filter(|s| s.label == "valid" && s.sent < broke)
            .cloned()
            .collect::<Vec<_>>(),
        origin,
    );
    assert!(
        invalid_accepted.is_empty(),
        "invalid tokens accepted:\n{}",
        invalid_accepted.join("\n")
    );
    assert!(
        before_break.is_empty(),
        "valid requests refused before the break:\n{}",
        before_break.join("\n")
    );
    assert!(
        refused_early.is_empty(),
        "valid requests refused while the keys were within max_stale:\n{}",
        refused_early.join("\n")
    );
    assert!(
        first_refusal.is_some(),
        "keys still accepted {} after their last good fetch (max_stale 2s, cache 1s)",
        secs(Instant::now() - last_good)
    );
    assert!(
        passed_late.is_empty(),
        "after freshness + max_stale requests must fail closed with 401 {:?}:\n{}",
        body::FETCH_FAIL,
        passed_late.join("\n")
    );
    assert!(
        slowest_refusal <= Duration::from_millis(300 + 250),
        "a refused request was held {} ms (first_fetch_wait 0.3s)",
        slowest_refusal.as_millis()
    );
    assert!(
        back.is_some(),
        "requests still refused 8 s after the repair"
    );
    assert!(off.is_empty(), "retries while failing: {}", off.join("; "));
    assert_vm_healthy(&proxy);
}

/// Polls `f` every millisecond until it is true or `deadline` passes.
fn poll_tight(deadline: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if f() {
            return true;
        }
        thread::sleep(Duration::from_millis(1));
    }
    false
}

/// Gaps between consecutive failed fetches that do not follow the back-off: after the n-th
/// failure the retry comes `base * 2^(n-1)` (at most 30 s) later, less up to 25% jitter, on the
/// next 100 ms tick.
fn backoff_mismatches(gaps: &[Duration], base: Duration) -> Vec<String> {
    gaps.iter()
        .enumerate()
        .filter_map(|(i, g)| {
            let b = (base * (1u32 << i.min(16))).min(Duration::from_secs(30));
            let low = b.mul_f64(0.75).saturating_sub(Duration::from_millis(20));
            let high = b + Duration::from_millis(250);
            (*g < low || *g > high).then(|| {
                format!(
                    "retry #{} came {} after the failure, expected {}..{}",
                    i + 1,
                    secs(*g),
                    secs(low),
                    secs(high)
                )
            })
        })
        .collect()
}

// ------------------------------------------------------------------------------------------
// Rotation and the unknown-kid refetch

#[test]
fn rotation_new_kid_passes_on_one_refetch_long_before_cache_duration() {
    let k = keys();
    let stub = JwksStub::start(200, jwks_of(&[&k.k1]));
    let upstream = Upstream::start();
    // Fresh for 300 s: only the unknown-kid refetch can bring k2 in during this test.
    let proxy = EnvoyBuilder::new(&upstream)
        .plugin(one_provider(
            "idp",
            provider("jwks", ISS, json!({"cache_duration": "300s"})),
        ))
        .jwks_cluster("jwks", stub.port())
        .concurrency(2)
        .start();
    let t1 = k.k1.token(&claims(ISS));
    let t2 = k.k2.token(&claims(ISS));
    assert_status!(proxy.bearer(PATH, &t1), 200);
    assert_eq!(stub.fetches(), 1, "one fetch at start");

    // The identity provider rotates: k2 only.
    stub.set_body(jwks_of(&[&k.k2]));
    let sent = Instant::now();
    let r = proxy.bearer(PATH, &t2);
    let took = sent.elapsed();
    assert_status!(r, 200);
    assert_eq!(
        stub.fetches(),
        2,
        "the new kid must be fetched with exactly one refetch"
    );
    // Every worker (fresh connections spread over both) now knows k2, without another fetch.
    for i in 0..20 {
        let r = proxy.bearer(PATH, &t2);
        assert_eq!(r.status, 200, "k2 request #{i} after rotation: {r}");
    }
    assert_eq!(stub.fetches(), 2, "workers must share the refetched keys");
    // The old key is gone: its kid is now unknown, and within the 30 s refetch window a token
    // with it is refused at once, without another fetch.
    let sent_old = Instant::now();
    assert_status!(proxy.bearer(PATH, &t1), 401, body::KID_ALG);
    let took_old = sent_old.elapsed();
    assert_eq!(
        stub.fetches(),
        2,
        "a second unknown kid within the window refetched"
    );
    let asked = provider_stat(&proxy, "idp", "jwks_refetch_unknown_kid");
    eprintln!(
        "rotation: k2 accepted {} ms after rotation with 1 refetch (cache_duration 300s); \
         k1 refused in {} ms with no fetch; jwks_refetch_unknown_kid = {asked}",
        took.as_millis(),
        took_old.as_millis()
    );
    assert!(
        took < Duration::from_secs(2),
        "the rotated key took {took:?}"
    );
    assert!(
        took_old < Duration::from_millis(500),
        "a rate-limited unknown kid was held {took_old:?}"
    );
    assert_eq!(asked, 1, "jwks_refetch_unknown_kid");
    assert_vm_healthy(&proxy);
}

#[test]
fn unknown_kid_flood_costs_one_fetch_per_window_across_four_workers() {
    let k = keys();
    let stub = JwksStub::start(200, jwks_of(&[&k.k1]));
    let upstream = Upstream::start();
    let window = Duration::from_secs(2);
    let proxy = EnvoyBuilder::new(&upstream)
        .plugin(one_provider(
            "idp",
            provider(
                "jwks",
                ISS,
                json!({"cache_duration": "300s", "unknown_kid_refetch_interval": "2s"}),
            ),
        ))
        .jwks_cluster("jwks", stub.port())
        .concurrency(4)
        .start();
    let valid = k.k1.token(&claims(ISS));
    assert_status!(proxy.bearer(PATH, &valid), 200);
    let base = stub.fetches();
    assert_eq!(base, 1, "four workers, one fetch at start");
    let origin = Instant::now();
    let traffic = Traffic::start(proxy.port(), PATH, vec![vec![("valid", valid.clone())]]);

    let nonce = now();
    let burst = |name: &str, n: usize| -> (Vec<(u16, String, Duration)>, Duration) {
        let tokens: Vec<String> = (0..n)
            .map(|i| {
                k.k1.with_kid(&format!("rand-{name}-{nonce}-{i}"))
                    .token(&claims(ISS))
            })
            .collect();
        let started = Instant::now();
        let port = proxy.port();
        let results = thread::scope(|s| {
            let handles: Vec<_> = tokens
                .chunks(n / 8)
                .map(|chunk| {
                    s.spawn(move || {
                        chunk
                            .iter()
                            .map(|t| {
                                let auth = format!("Bearer {t}");
                                let sent = Instant::now();
                                match http_get(
                                    port,
                                    PATH,
                                    &[("authorization", &auth)],
                                    Duration::from_secs(10),
                                ) {
                                    Ok(r) => (r.status, r.body, sent.elapsed()),
                                    Err(e) => (0, e, sent.elapsed()),
                                }
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        });
        (results, started.elapsed())
    };

    let (first, first_span) = burst("a", 100);
    thread::sleep(Duration::from_millis(300));
    let after_first = stub.fetches() - base;
    // Past the window: the next flood may cost one more fetch, no more.
    thread::sleep(window.saturating_sub(first_span));
    let (second, second_span) = burst("b", 100);
    thread::sleep(Duration::from_millis(300));
    let after_second = stub.fetches() - base;
    let samples = traffic.stop();

    let mut problems = Vec::new();
    for (i, (status, body, _)) in first.iter().chain(second.iter()).enumerate() {
        if *status != 401 || body != body::KID_ALG {
            problems.push(format!(
                "random-kid request #{i}: expected 401 {:?}, got {status} {body:?}",
                body::KID_ALG
            ));
        }
    }
    let fast = |rs: &[(u16, String, Duration)]| {
        rs.iter()
            .filter(|r| r.2 < Duration::from_millis(100))
            .count()
    };
    let slowest = |rs: &[(u16, String, Duration)]| rs.iter().map(|r| r.2).max().unwrap_or_default();
    let asked = provider_stat(&proxy, "idp", "jwks_refetch_unknown_kid");
    eprintln!(
        "kid flood: burst 1 = 100 random kids in {} -> {after_first} fetch(es), {} answered < 100 ms, slowest {} ms; \
         burst 2 (after the 2 s window) = 100 in {} -> {} more fetch(es), {} answered < 100 ms, slowest {} ms; \
         jwks_refetch_unknown_kid = {asked}; {} valid requests meanwhile",
        secs(first_span),
        fast(&first),
        slowest(&first).as_millis(),
        secs(second_span),
        after_second - after_first,
        fast(&second),
        slowest(&second).as_millis(),
        count(&samples, "valid"),
    );
    problems.extend(violations(&samples, origin));
    if after_first != 1 {
        problems.push(format!(
            "the first flood of 100 random kids (within one 2 s window, 4 workers) made {after_first} fetches, expected 1"
        ));
    }
    if after_second != 2 {
        problems.push(format!(
            "the second flood, after the window, brought the total to {after_second} fetches, expected 2"
        ));
    }
    if asked != after_second as u64 {
        problems.push(format!(
            "jwks_refetch_unknown_kid = {asked}, refetches = {after_second}"
        ));
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert_vm_healthy(&proxy);
}

/// How long `path` with `token` took to answer.
fn timed(proxy: &Proxy, path: &str, token: &str) -> (crate::support::Response, Duration) {
    let sent = Instant::now();
    let r = proxy.bearer(path, token);
    (r, sent.elapsed())
}

/// The filter's worker tick: a due fetch starts on the next one, and each worker sees a
/// fetch's end by its next one.
const TICK: Duration = chaos::TICK;
/// Allowance for a loaded machine over a bound stated in ticks or timeouts.
const SLACK: Duration = Duration::from_millis(400);

#[test]
fn unknown_kid_is_held_only_by_a_fetch_that_can_answer_it() {
    let k = keys();
    let failing = JwksStub::start(200, jwks_of(&[&k.k1]));
    let hanging = JwksStub::start(200, jwks_of(&[&k.k1]));
    // Keys fresh for 300 s; a refetch per 0.5 s at most; after a failure, the retry 1.5-2 s
    // later: so a second unknown kid may ask for a refetch that back-off holds back.
    let extra = json!({
        "cache_duration": "300s",
        "unknown_kid_refetch_interval": "0.5s",
        "async_fetch": {"failed_refetch_duration": "2s"}
    });
    let config = json!({
        "providers": {
            "failing": provider("failing", ISS, extra.clone()),
            "hanging": provider("hanging", ISS, extra),
        },
        "rules": [
            {"match": {"prefix": "/failing"}, "requires": {"provider_name": "failing"}},
            {"match": {"prefix": "/hanging"}, "requires": {"provider_name": "hanging"}}
        ]
    });
    let upstream = Upstream::start();
    let proxy = EnvoyBuilder::new(&upstream)
        .plugin(config)
        .jwks_cluster("failing", failing.port())
        .jwks_cluster("hanging", hanging.port())
        .concurrency(2)
        .start();
    let valid = k.k1.token(&claims(ISS));
    assert_status!(proxy.bearer("/failing", &valid), 200);
    assert_status!(proxy.bearer("/hanging", &valid), 200);
    let unknown = |n: u32| k.k1.with_kid(&format!("gone-{n}")).token(&claims(ISS));
    let refused = |r: &crate::support::Response, what: &str| {
        assert_status!(r, 401, body::KID_ALG, "{what}");
    };
    let mut report = Vec::new();

    // Fails at once: the refetch starts on the next tick and fails; the request is answered
    // when it fails.
    failing.set_status(503);
    let (r, held) = timed(&proxy, "/failing", &unknown(1));
    refused(&r, "unknown kid, refetch failing");
    report.push(format!("503, refetch due: {} ms", held.as_millis()));
    assert_eq!(failing.fetches(), 2, "one refetch for the unknown kid");
    assert!(
        held <= TICK * 2 + SLACK,
        "held {held:?} for a refetch that failed at once"
    );
    // Past the refetch interval, within the back-off: the refetch is asked for but cannot
    // start before the retry, so the request is answered at once (it was held 3.5 s before).
    thread::sleep(Duration::from_millis(600));
    let (r, held) = timed(&proxy, "/failing", &unknown(2));
    refused(&r, "unknown kid, refetch backed off");
    report.push(format!("503, refetch backed off: {} ms", held.as_millis()));
    assert!(
        held <= TICK + SLACK,
        "held {held:?} though back-off holds the refetch back"
    );
    assert_eq!(failing.fetches(), 2, "back-off held the refetch back");
    assert_eq!(
        provider_stat(&proxy, "failing", "jwks_refetch_unknown_kid"),
        2,
        "the second unknown kid asked for a refetch"
    );
    // The refetch asked for still comes, at the retry time.
    let retried = poll_until(Duration::from_secs(4), || {
        (failing.fetches() == 3).then_some(())
    });
    assert!(retried.is_some(), "the owed refetch never came");

    // Hangs: the request waits for the refetch it asked for, which fails at its 1 s timeout.
    hanging.set_hang(true);
    let (r, held) = timed(&proxy, "/hanging", &unknown(3));
    refused(&r, "unknown kid, refetch hanging");
    report.push(format!(
        "hanging, refetch under way: {} ms",
        held.as_millis()
    ));
    assert!(
        held >= Duration::from_millis(900) && held <= Duration::from_secs(1) + TICK * 2 + SLACK,
        "held {held:?}: expected the 1 s callout timeout of the refetch it waited for"
    );
    // Then back-off: answered at once.
    let (r, held) = timed(&proxy, "/hanging", &unknown(4));
    refused(&r, "unknown kid after the hanging refetch failed");
    report.push(format!(
        "hanging, refetch backed off: {} ms",
        held.as_millis()
    ));
    assert!(
        held <= TICK + SLACK,
        "held {held:?} though back-off holds the refetch back"
    );
    hanging.set_hang(false);
    eprintln!("unknown kid held: {}", report.join("; "));
    // The last good keys served all along.
    assert_status!(proxy.bearer("/failing", &valid), 200);
    assert_status!(proxy.bearer("/hanging", &valid), 200);
    assert_vm_healthy(&proxy);
}

// ------------------------------------------------------------------------------------------
// Chaos: a JWKS server switched through faults under concurrent traffic

/// The fault table of docs/remote-jwks.md, end to end: four workers, six clients sending valid, tampered,
/// expired and random-kid tokens, the JWKS server switched through a rotation, 503 at once, a
/// broken body, a hang past the timeout, and recovery with the old key retired.
#[test]
fn chaos_every_request_is_answered_within_the_fault_table_bounds() {
    let script = chaos::Script::short();
    let upstream = Upstream::start();
    let run = chaos::run(&script, &[chaos::Filter::Wasm], &upstream);
    let target = &run.targets[0];
    eprintln!("{}", run.table(&script));
    let mut problems = run.problems(&script, target);
    // Every fault was met by at least one fetch, so its bound was really put to the test.
    for (i, p) in run.phases.iter().enumerate() {
        let fault = !matches!(p.served, chaos::Served::Keys(_));
        if fault && run.fetches(target, i) == 0 {
            problems.push(format!("phase {:?}: no fetch met the fault", p.name));
        }
    }
    // The old key is retired: gone from the keys once the recovered server was fetched.
    let proxy = &target.proxy;
    let old = run.token(chaos::KeyName::Old);
    let gone = poll_until(Duration::from_secs(5), || {
        let r = proxy.bearer(PATH, &old);
        (r.status == 401 && r.body == body::KID_ALG).then_some(())
    });
    if gone.is_none() {
        problems.push("a token of the retired key still passes 5 s after the run".into());
    }
    assert_status!(proxy.bearer(PATH, &run.token(chaos::KeyName::New)), 200);
    let failed = provider_stat(proxy, "idp", "jwks_fetch_failed");
    eprintln!(
        "chaos: {} requests, {} fetches ({failed} failed)",
        target.samples.len(),
        target.stub.fetches()
    );
    let total = problems.len();
    problems.truncate(40);
    assert!(
        problems.is_empty(),
        "{total} problems (at most 40 shown):\n{}",
        problems.join("\n")
    );
}

// ------------------------------------------------------------------------------------------
// Four workers share one fetch

#[test]
fn four_workers_share_the_cold_start_fetch_and_each_refresh() {
    let k = keys();
    let stub = JwksStub::start(200, jwks_of(&[&k.k1]));
    let delay = Duration::from_millis(1500);
    stub.set_delay(delay);
    let upstream = Upstream::start();
    let proxy = EnvoyBuilder::new(&upstream)
        .plugin(one_provider(
            "idp",
            provider(
                "jwks",
                ISS,
                json!({
                    "cache_duration": "2s",
                    "http_uri": {"uri": "http://jwks.test/jwks.json", "cluster": "jwks", "timeout": "3s"}
                }),
            ),
        ))
        .jwks_cluster("jwks", stub.port())
        .concurrency(4)
        .start();
    let valid = k.k1.token(&claims(ISS));

    // Cold start: 16 requests at once, spread over the workers, all held for the one fetch.
    let sent = Instant::now();
    let port = proxy.port();
    let results: Vec<(u16, Duration)> = thread::scope(|s| {
        let hs: Vec<_> = (0..16)
            .map(|_| {
                let auth = format!("Bearer {valid}");
                s.spawn(move || {
                    let t = Instant::now();
                    let r = http_get(
                        port,
                        PATH,
                        &[("authorization", &auth)],
                        Duration::from_secs(10),
                    );
                    (r.map_or(0, |r| r.status), t.elapsed())
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let first_fetch = *stub.fetch_times().first().expect("no fetch");
    let cold_fetches = stub.fetches();
    let held = results.iter().map(|r| r.1).max().unwrap_or_default();
    eprintln!(
        "4 workers, cold start: 16 parallel requests -> {cold_fetches} fetch; statuses {:?}; held up to {} ms (JWKS answers after 1.5 s)",
        results.iter().map(|r| r.0).collect::<Vec<_>>(),
        held.as_millis()
    );
    assert!(
        results.iter().all(|r| r.0 == 200),
        "cold-start requests: {results:?}"
    );
    assert!(
        sent < first_fetch + delay,
        "the requests were sent after the keys arrived; holding was not tested"
    );
    assert_eq!(
        cold_fetches, 1,
        "4 workers made {cold_fetches} cold-start fetches"
    );

    // Refresh: fresh for 2 s, refreshed at 80% (1.6 s), by one worker for all.
    stub.set_delay(Duration::ZERO);
    let origin = Instant::now();
    // No unknown-kid probe here: its refetch would be a legitimate extra fetch.
    let probes: Vec<_> = invalid_probes()
        .into_iter()
        .filter(|(label, _)| *label != "unknown kid")
        .collect();
    let traffic = Traffic::start(
        port,
        PATH,
        vec![
            vec![("valid", valid.clone())],
            vec![("valid", valid.clone())],
            probes,
        ],
    );
    thread::sleep(Duration::from_secs(5));
    let samples = traffic.stop();
    let times: Vec<Instant> = stub
        .fetch_times()
        .into_iter()
        .filter(|t| *t >= origin)
        .collect();
    let g = gaps(&times);
    eprintln!(
        "4 workers, refresh: {} fetches in 5 s with cache_duration 2s (gaps {}), {} requests",
        times.len(),
        show(&g),
        samples.len()
    );
    let bad = violations(&samples, origin);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert!(
        (2..=4).contains(&times.len()),
        "{} fetches in 5 s (expected about 3: one per 1.6 s for all 4 workers; gaps {})",
        times.len(),
        show(&g)
    );
    assert!(
        g.iter().all(|d| *d >= Duration::from_millis(1200)),
        "fetches closer than 1.2 s (refresh due every 1.6 s): workers fetched in parallel (gaps {})",
        show(&g)
    );
    // Envoy keeps one stat per name for all worker VMs: the counters add up.
    let passed = 16 + samples.iter().filter(|s| s.status == 200).count() as u64;
    let refused = samples.iter().filter(|s| s.status == 401).count() as u64;
    // Each worker hands its request counters to Envoy on its 100 ms tick.
    let (allowed, denied) = poll_until(Duration::from_secs(3), || {
        let counts = (
            stat(&proxy, "jwt_authn.allowed"),
            stat(&proxy, "jwt_authn.denied"),
        );
        (counts == (passed, refused)).then_some(counts)
    })
    .unwrap_or_else(|| {
        (
            stat(&proxy, "jwt_authn.allowed"),
            stat(&proxy, "jwt_authn.denied"),
        )
    });
    eprintln!(
        "4 workers: {allowed} allowed / {denied} denied in /stats for {passed} passed / {refused} refused requests"
    );
    assert_eq!(allowed, passed, "jwt_authn.allowed summed over the workers");
    assert_eq!(denied, refused, "jwt_authn.denied summed over the workers");
    assert_vm_healthy(&proxy);
}

// ------------------------------------------------------------------------------------------
// Cache-Control / Expires set the refresh rhythm

#[test]
fn cache_headers_set_the_refresh_rhythm_within_bounds() {
    let k = keys();
    struct Case {
        name: &'static str,
        headers: Vec<(&'static str, &'static str)>,
        extra: Value,
        /// Expected freshness; refreshes come at 80% of it.
        lifetime: Option<Duration>,
    }
    let cases = vec![
        Case {
            name: "maxage1",
            headers: vec![("cache-control", "public, max-age=1")],
            extra: json!({"cache_duration": "300s", "min_cache_duration": "1s"}),
            lifetime: Some(Duration::from_secs(1)),
        },
        Case {
            name: "maxage1min2500",
            headers: vec![("cache-control", "max-age=1")],
            extra: json!({"cache_duration": "300s", "min_cache_duration": "2.5s"}),
            lifetime: Some(Duration::from_millis(2500)),
        },
        Case {
            name: "maxage1defaultmin",
            headers: vec![("cache-control", "max-age=1")],
            extra: json!({"cache_duration": "300s"}),
            // min_cache_duration defaults to min(30 s, cache_duration) = 30 s.
            lifetime: Some(Duration::from_secs(30)),
        },
        Case {
            name: "smaxage",
            headers: vec![("cache-control", "s-maxage=2")],
            extra: json!({"cache_duration": "300s", "min_cache_duration": "1s"}),
            lifetime: Some(Duration::from_secs(2)),
        },
        Case {
            name: "maxageclampedhigh",
            headers: vec![("cache-control", "max-age=86400")],
            extra: json!({"cache_duration": "300s", "min_cache_duration": "1s", "max_cache_duration": "1.5s"}),
            lifetime: Some(Duration::from_millis(1500)),
        },
        Case {
            name: "expires",
            headers: vec![
                ("date", "Sun, 06 Nov 1994 08:49:37 GMT"),
                ("expires", "Sun, 06 Nov 1994 08:49:39 GMT"),
            ],
            extra: json!({"cache_duration": "300s", "min_cache_duration": "1s"}),
            lifetime: Some(Duration::from_secs(2)),
        },
        Case {
            name: "nostore",
            headers: vec![("cache-control", "no-store, max-age=600")],
            extra: json!({"cache_duration": "300s", "min_cache_duration": "1.5s"}),
            lifetime: Some(Duration::from_millis(1500)),
        },
        Case {
            name: "noheaders",
            headers: vec![],
            extra: json!({"cache_duration": "300s", "min_cache_duration": "1s"}),
            lifetime: None,
        },
    ];
    let stubs: Vec<JwksStub> = cases
        .iter()
        .map(|c| {
            let s = JwksStub::start(200, jwks_of(&[&k.k1]));
            s.set_headers(&c.headers);
            s
        })
        .collect();
    let mut providers = serde_json::Map::new();
    let mut rules = Vec::new();
    let upstream = Upstream::start();
    let mut builder = EnvoyBuilder::new(&upstream);
    for (c, s) in cases.iter().zip(&stubs) {
        let cluster = format!("jwks_{}", c.name);
        providers.insert(c.name.into(), provider(&cluster, ISS, c.extra.clone()));
        rules.push(json!({"match": {"prefix": format!("/{}", c.name)}, "requires": {"provider_name": c.name}}));
        builder = builder.jwks_cluster(&cluster, s.port());
    }
    let proxy = builder
        .plugin(json!({"providers": providers, "rules": rules}))
        .start();
    let valid = k.k1.token(&claims(ISS));
    for c in &cases {
        assert_status!(proxy.bearer(&format!("/{}", c.name), &valid), 200);
    }
    let origin = Instant::now();
    thread::sleep(Duration::from_millis(5500));
    let mut problems = Vec::new();
    for (c, s) in cases.iter().zip(&stubs) {
        let times: Vec<Instant> = s.fetch_times();
        let g = gaps(&times);
        let in_window = times.iter().filter(|t| **t >= origin).count();
        match c.lifetime {
            Some(l) if l > Duration::from_secs(5) => {
                eprintln!(
                    "cache headers {:?} ({}): clamped up to {} (default min_cache_duration): {} fetches in the 5.5 s window",
                    c.headers,
                    c.extra,
                    secs(l),
                    in_window
                );
                if times.len() != 1 {
                    problems.push(format!(
                        "{}: {} fetches; max-age=1 should be clamped up to 30 s by the default min_cache_duration (gaps {})",
                        c.name,
                        times.len(),
                        show(&g)
                    ));
                }
            }
            Some(l) => {
                let due = l.mul_f64(0.8);
                let m = median(g.clone());
                eprintln!(
                    "cache headers {:?} ({}): freshness {}, refresh due every {}: {} fetches, gaps {} (median {})",
                    c.headers,
                    c.extra,
                    secs(l),
                    secs(due),
                    times.len(),
                    show(&g),
                    secs(m)
                );
                if g.len() < 2 {
                    problems.push(format!("{}: only {} fetches", c.name, times.len()));
                    continue;
                }
                if g.iter().any(|d| *d + Duration::from_millis(150) < due) {
                    problems.push(format!(
                        "{}: a refresh came before 80% of the {} freshness (gaps {})",
                        c.name,
                        secs(l),
                        show(&g)
                    ));
                }
                if m > due + Duration::from_millis(500) {
                    problems.push(format!(
                        "{}: refreshes every {} (median), expected about {} (80% of {})",
                        c.name,
                        secs(m),
                        secs(due),
                        secs(l)
                    ));
                }
            }
            None => {
                eprintln!(
                    "cache headers none (cache_duration 300s): {} fetches, {} in the 5.5 s window",
                    times.len(),
                    in_window
                );
                if times.len() != 1 {
                    problems.push(format!(
                        "{}: {} fetches with cache_duration 300s and no cache headers",
                        c.name,
                        times.len()
                    ));
                }
            }
        }
    }
    for c in &cases {
        let r = proxy.bearer(&format!("/{}", c.name), &valid);
        if r.status != 200 {
            problems.push(format!(
                "{}: valid request after the refreshes: {r}",
                c.name
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_vm_healthy(&proxy);
}

// ------------------------------------------------------------------------------------------
// OIDC discovery

const DISCOVERY: &str = "/.well-known/openid-configuration";

#[test]
fn oidc_discovery_fetches_jwks_uri_and_refuses_a_wrong_issuer() {
    let k = keys();
    let iss_split = "https://split.lifecycle.example";
    let iss_wrong = "https://wrong.lifecycle.example";

    // One server for the document and the keys (jwks_cluster defaults to the same cluster).
    let idp = JwksStub::start(404, "{}");
    idp.set_path_reply(
        DISCOVERY,
        200,
        json!({"issuer": ISS, "jwks_uri": "http://keys.idp.test/oauth/jwks.json"}).to_string(),
    );
    idp.set_path_reply("/oauth/jwks.json", 200, jwks_of(&[&k.k1]));
    // The document on one server, the keys on another (`jwks_cluster`).
    let split_doc = JwksStub::start(404, "{}");
    split_doc.set_path_reply(
        DISCOVERY,
        200,
        json!({"issuer": iss_split, "jwks_uri": "http://cdn.split.test/keys"}).to_string(),
    );
    let split_keys = JwksStub::start(200, jwks_of(&[&k.k2]));
    // A document naming another issuer: its keys must never be fetched or used.
    let wrong = JwksStub::start(404, "{}");
    wrong.set_path_reply(
        DISCOVERY,
        200,
        json!({"issuer": "https://evil.example", "jwks_uri": "http://wrong.test/jwks.json"})
            .to_string(),
    );
    wrong.set_path_reply("/jwks.json", 200, jwks_of(&[&k.k1]));
    // A document whose `jwks_uri` hangs past the 1 s timeout.
    let iss_hung = "https://hung.lifecycle.example";
    let hung_doc = JwksStub::start(404, "{}");
    hung_doc.set_path_reply(
        DISCOVERY,
        200,
        json!({"issuer": iss_hung, "jwks_uri": "http://keys.hung.test/jwks.json"}).to_string(),
    );
    let hung_keys = JwksStub::start(200, jwks_of(&[&k.k1]));
    hung_keys.set_hang(true);

    let discovery = |cluster: &str, issuer: &str, extra: Value| {
        let mut p = provider(
            cluster,
            issuer,
            json!({
                "http_uri": {"uri": format!("http://{cluster}.test{DISCOVERY}"), "cluster": cluster, "timeout": "1s"},
                "oidc_discovery": true,
                "cache_duration": "300s",
                "first_fetch_wait": "1s"
            }),
        );
        for (key, v) in extra.as_object().unwrap() {
            p["remote_jwks"][key] = v.clone();
        }
        p
    };
    let config = json!({
        "providers": {
            "oidc": discovery("idp", ISS, json!({})),
            "split": discovery("split_doc", iss_split, json!({"jwks_cluster": "split_keys"})),
            "wrong": discovery("wrong", iss_wrong, json!({})),
            "hung": discovery("hung_doc", iss_hung, json!({"jwks_cluster": "hung_keys", "first_fetch_wait": "5s"})),
        },
        "rules": [
            {"match": {"prefix": "/oidc"}, "requires": {"provider_name": "oidc"}},
            {"match": {"prefix": "/split"}, "requires": {"provider_name": "split"}},
            {"match": {"prefix": "/wrong"}, "requires": {"provider_name": "wrong"}},
            {"match": {"prefix": "/hung"}, "requires": {"provider_name": "hung"}}
        ]
    });
    let upstream = Upstream::start();
    let proxy = EnvoyBuilder::new(&upstream)
        .plugin(config)
        .jwks_cluster("idp", idp.port())
        .jwks_cluster("split_doc", split_doc.port())
        .jwks_cluster("split_keys", split_keys.port())
        .jwks_cluster("wrong", wrong.port())
        .jwks_cluster("hung_doc", hung_doc.port())
        .jwks_cluster("hung_keys", hung_keys.port())
        .start();

    // The first fetch of `hung` is under way from the first tick: the document, then its
    // jwks_uri, which hangs until the 1 s timeout. A request waits for that fetch (two
    // callouts: at most 2 s and a tick), not for its 5 s first_fetch_wait.
    let (r, held) = timed(&proxy, "/hung", &k.k1.token(&claims(iss_hung)));
    assert_status!(r, 401, body::FETCH_FAIL);
    eprintln!(
        "oidc: jwks_uri hanging past the 1 s timeout: request held {} ms (first_fetch_wait 5s), then 401",
        held.as_millis()
    );
    assert!(
        held <= Duration::from_secs(2) + TICK * 2 + SLACK,
        "held {held:?}: longer than the discovery fetch it waited for"
    );
    hung_keys.set_hang(false);

    let r = proxy.bearer("/oidc", &k.k1.token(&claims(ISS)));
    assert_status!(r, 200);
    let seen: Vec<(String, Option<String>)> = idp
        .requests()
        .iter()
        .map(|q| (q.path.clone(), q.header("host").map(str::to_owned)))
        .collect();
    eprintln!("oidc: discovery server saw {seen:?}");
    assert_eq!(
        seen,
        vec![
            (DISCOVERY.to_owned(), Some("idp.test".to_owned())),
            (
                "/oauth/jwks.json".to_owned(),
                Some("keys.idp.test".to_owned())
            ),
        ],
        "the document, then jwks_uri with its own authority and path, on the same cluster"
    );
    // An unknown kid: the refetch goes through the document again, finds no k2, refuses.
    let r = proxy.bearer("/oidc", &k.k2.token(&claims(ISS)));
    assert_status!(r, 401, body::KID_ALG);
    assert_eq!(
        idp.paths(),
        vec![DISCOVERY, "/oauth/jwks.json", DISCOVERY, "/oauth/jwks.json"],
        "the unknown-kid refetch re-reads the discovery document, then jwks_uri"
    );

    let r = proxy.bearer("/split", &k.k2.token(&claims(iss_split)));
    assert_status!(r, 200);
    assert_eq!(split_doc.paths(), vec![DISCOVERY.to_owned()]);
    let keys_seen: Vec<(String, Option<String>)> = split_keys
        .requests()
        .iter()
        .map(|q| (q.path.clone(), q.header("host").map(str::to_owned)))
        .collect();
    eprintln!("oidc: jwks_cluster server saw {keys_seen:?}");
    assert_eq!(
        keys_seen,
        vec![("/keys".to_owned(), Some("cdn.split.test".to_owned()))]
    );

    // Wrong issuer: the fetch fails (again and again), requests fail closed.
    let sent = Instant::now();
    let r = proxy.bearer("/wrong", &k.k1.token(&claims(iss_wrong)));
    let took = sent.elapsed();
    assert_status!(r, 401, body::FETCH_FAIL);
    let failed_then = provider_stat(&proxy, "wrong", "jwks_fetch_failed");
    // Retries back off: 0.2 s, 0.4 s, 0.8 s, 1.6 s (less up to 25% jitter).
    let _ = poll_until(Duration::from_secs(6), || {
        (wrong.fetches() >= 5).then_some(())
    });
    let failed_later = provider_stat(&proxy, "wrong", "jwks_fetch_failed");
    let r = proxy.bearer("/wrong", &k.k1.token(&claims(iss_wrong)));
    assert_status!(r, 401, body::FETCH_FAIL);
    let explained = log_lines(&proxy, "discovery document names issuer");
    let retry_gaps = gaps(&wrong.fetch_times());
    eprintln!(
        "oidc: wrong issuer -> 401 in {} ms (first_fetch_wait 1s); jwks_fetch_failed {failed_then}, then {failed_later}; \
         {} discovery fetches, gaps {}; log: {}",
        took.as_millis(),
        wrong.fetches(),
        show(&retry_gaps),
        explained
            .first()
            .map_or("-", |l| l.split("wasm log").last().unwrap_or(l).trim())
    );
    let off = backoff_mismatches(&retry_gaps, Duration::from_millis(200));
    assert!(
        off.is_empty(),
        "retries after failed discovery: {}",
        off.join("; ")
    );
    assert!(
        took <= TICK * 2 + SLACK,
        "refused after {took:?}: a discovery that fails at once is waited for a tick or two"
    );
    assert!(
        wrong.paths().iter().all(|p| p == DISCOVERY),
        "the JWKS of a document with the wrong issuer was fetched: {:?}",
        wrong.paths()
    );
    assert!(
        failed_then >= 1,
        "jwks_fetch_failed for `wrong` = {failed_then}"
    );
    assert!(
        failed_later > failed_then,
        "no retry within 6 s (failed_refetch_duration 0.2s): {failed_then} -> {failed_later}"
    );
    assert!(
        !explained.is_empty(),
        "no log line names the issuer mismatch"
    );
    assert_eq!(provider_stat(&proxy, "wrong", "jwks_fetch_success"), 0);
    assert_eq!(
        provider_stat(&proxy, "oidc", "jwks_fetch_success"),
        2,
        "the first fetch and the unknown-kid refetch"
    );
    assert_vm_healthy(&proxy);
}

// ------------------------------------------------------------------------------------------
// first_fetch_wait: cold start against a failing identity provider

#[test]
fn first_fetch_wait_bounds_the_cold_start_hold_and_fails_closed() {
    let k = keys();
    // A server that answers 500: after a failure the next retry is 2 s away, within the 5 s a
    // request may wait, but back-off holds it back, so requests are refused at once.
    let broken = JwksStub::start(500, "{}");
    // A server that hangs: the first fetch is under way for 3 s, requests wait 0.5 s.
    let hanging = JwksStub::start(200, jwks_of(&[&k.k1]));
    hanging.set_hang(true);
    // A server that hangs past a 1 s timeout while requests may wait 5 s: they wait for the
    // fetch, 1 s, not for the wait.
    let slow = JwksStub::start(200, jwks_of(&[&k.k1]));
    slow.set_hang(true);
    let config = json!({
        "providers": {
            "broken": provider("broken", ISS, json!({"first_fetch_wait": "5s", "async_fetch": {"failed_refetch_duration": "2s"}})),
            "hanging": provider("hanging", ISS, json!({"first_fetch_wait": "0.5s", "http_uri": {"uri": "http://hanging.test/jwks.json", "cluster": "hanging", "timeout": "3s"}})),
            "slow": provider("slow", ISS, json!({"first_fetch_wait": "5s", "async_fetch": {"failed_refetch_duration": "10s"}})),
        },
        "rules": [
            {"match": {"prefix": "/broken"}, "requires": {"provider_name": "broken"}},
            {"match": {"prefix": "/hanging"}, "requires": {"provider_name": "hanging"}},
            {"match": {"prefix": "/slow"}, "requires": {"provider_name": "slow"}}
        ]
    });
    let upstream = Upstream::start();
    let proxy = EnvoyBuilder::new(&upstream)
        .plugin(config)
        .jwks_cluster("broken", broken.port())
        .jwks_cluster("hanging", hanging.port())
        .jwks_cluster("slow", slow.port())
        .start();
    let valid = k.k1.token(&claims(ISS));

    // The first fetch of `slow` started on the first tick and hangs until its 1 s timeout: a
    // request waits for that fetch (at most 1 s and a tick or two), not for its 5 s; the next
    // one, with the retry 7.5-10 s away, is refused at once.
    let t = Instant::now();
    let r = proxy.bearer("/slow", &valid);
    let held_slow = t.elapsed();
    assert_status!(r, 401, body::FETCH_FAIL);
    let t = Instant::now();
    let r = proxy.bearer("/slow", &valid);
    let refused_slow = t.elapsed();
    assert_status!(r, 401, body::FETCH_FAIL);
    eprintln!(
        "first_fetch_wait 5s, JWKS server hanging past the 1 s timeout: held {} ms, then 401; \
         the next request, with the retry backed off, refused in {} ms",
        held_slow.as_millis(),
        refused_slow.as_millis()
    );
    assert!(
        held_slow < Duration::from_millis(1000 + 200 + 400),
        "held {held_slow:?}: longer than the fetch it waited for (1 s timeout)"
    );
    assert!(
        refused_slow < Duration::from_millis(300),
        "refused after {refused_slow:?}; no fetch can start before the retry, so at once"
    );

    let t = Instant::now();
    let r = proxy.bearer("/hanging", &valid);
    let held = t.elapsed();
    assert_status!(r, 401, body::FETCH_FAIL);
    eprintln!(
        "first_fetch_wait 0.5s, JWKS server hanging: request held {} ms, then 401",
        held.as_millis()
    );
    assert!(
        held >= Duration::from_millis(400) && held < Duration::from_millis(1200),
        "held {held:?}, expected about 0.5 s"
    );

    let failed = poll_until(Duration::from_secs(5), || {
        (provider_stat(&proxy, "broken", "jwks_fetch_failed") >= 1).then_some(())
    });
    slow.set_hang(false);
    assert!(failed.is_some(), "the broken server was never asked");
    let t = Instant::now();
    let r = proxy.bearer("/broken", &valid);
    let refused = t.elapsed();
    assert_status!(r, 401, body::FETCH_FAIL);
    eprintln!(
        "first_fetch_wait 5s, JWKS server failing, next retry ~2 s away: refused in {} ms",
        refused.as_millis()
    );
    assert!(
        refused < Duration::from_millis(300),
        "refused after {refused:?}; no fetch can start before the retry, so it should be at once"
    );

    // The servers recover: requests pass without restarting Envoy.
    hanging.set_hang(false);
    broken.set_status(200);
    broken.set_body(jwks_of(&[&k.k1]));
    for path in ["/hanging", "/broken"] {
        let t = Instant::now();
        let ok = poll_until(Duration::from_secs(10), || {
            (proxy.bearer(path, &valid).status == 200).then_some(())
        });
        assert!(ok.is_some(), "{path}: still refused 10 s after the repair");
        eprintln!("{path}: passes {} after the repair", secs(t.elapsed()));
    }
    assert_vm_healthy(&proxy);
}

// ------------------------------------------------------------------------------------------
// Request and response bodies

/// The built module exports no body, trailer or response callback (`src/filter/exports.txt`),
/// so Envoy streams bodies past the filter without calling into it. A request held for the
/// first keys must still reach the upstream with its whole body, and the upstream's answer
/// (here bigger than the request) must come back whole; a refused request's body goes nowhere.
#[test]
fn bodies_pass_whole_whether_the_request_was_held_or_not() {
    let k = keys();
    let stub = JwksStub::start(200, jwks_of(&[&k.k1]));
    let delay = Duration::from_millis(1500);
    stub.set_delay(delay);
    let upstream = Upstream::start();
    let remote = json!({"http_uri": {"uri": "http://jwks.test/jwks.json", "cluster": "jwks", "timeout": "3s"}});
    let proxy = EnvoyBuilder::new(&upstream)
        .plugin(one_provider("idp", provider("jwks", ISS, remote)))
        .jwks_cluster("jwks", stub.port())
        .start();
    let auth = format!("Bearer {}", k.k1.token(&claims(ISS)));
    // 200 KiB: more than one buffer of Envoy's, so the body arrives in several chunks.
    let body: Vec<u8> = (0..200 * 1024u32)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789"[(i % 36) as usize])
        .collect();
    let post = |headers: &[(&str, &str)]| {
        http_request_with_body(
            proxy.port(),
            "POST",
            PATH,
            headers,
            &body,
            Duration::from_secs(10),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    };

    let sent = Instant::now();
    let held = post(&[("authorization", &auth), ("content-type", "text/plain")]);
    let first_fetch = *stub.fetch_times().first().expect("no fetch");
    assert!(
        sent < first_fetch + delay,
        "the request was sent after the keys arrived; holding was not tested"
    );
    let cached = post(&[("authorization", &auth), ("content-type", "text/plain")]);
    for (label, r) in [
        ("held for the first keys", &held),
        ("with keys at hand", &cached),
    ] {
        assert_eq!(r.status, 200, "{label}: {r}");
        let echo = r.echo();
        assert_eq!(echo["method"], "POST", "{label}");
        let seen = echo["body"].as_str().unwrap_or_default();
        assert!(
            seen.as_bytes() == body.as_slice(),
            "{label}: the upstream saw {} body bytes of {} sent",
            seen.len(),
            body.len()
        );
        assert!(
            echo["headers"].get("authorization").is_none(),
            "{label}: token forwarded"
        );
    }
    let before = upstream.requests();
    let refused = post(&[("content-type", "text/plain")]);
    assert_status!(refused, 401, body::MISSING);
    assert_eq!(
        upstream.requests(),
        before,
        "a refused request reached the upstream"
    );
    eprintln!(
        "POST 200 KiB: held for the first keys and with keys at hand, both passed whole; \
         without a token 401"
    );
    assert_vm_healthy(&proxy);
}

// ------------------------------------------------------------------------------------------
// Metrics in /stats and /stats/prometheus

#[test]
fn metrics_show_traffic_and_fetches_in_admin_stats() {
    let k = keys();
    let stub = JwksStub::start(200, jwks_of(&[&k.k1, &k.k2]));
    let upstream = Upstream::start();
    let proxy = EnvoyBuilder::new(&upstream)
        .plugin(one_provider(
            "idp",
            provider("jwks", ISS, json!({"cache_duration": "300s"})),
        ))
        .jwks_cluster("jwks", stub.port())
        .start();
    let valid = k.k1.token(&claims(ISS));
    for _ in 0..3 {
        assert_status!(proxy.bearer(PATH, &valid), 200);
    }
    for _ in 0..2 {
        assert_status!(
            proxy.bearer(PATH, &k.k1.token(&expired_claims())),
            401,
            body::EXPIRED
        );
    }
    assert_status!(
        proxy.bearer(PATH, &flip_signature_bit(&valid)),
        401,
        body::VERIFICATION
    );
    assert_status!(proxy.get(PATH, &[]), 401, body::MISSING);
    // An unknown kid while the server is down: one refetch, which fails.
    stub.set_status(500);
    assert_status!(
        proxy.bearer(PATH, &k.unknown.token(&claims(ISS))),
        401,
        body::KID_ALG
    );
    thread::sleep(Duration::from_millis(1300));

    let stats = proxy.stats();
    let ours: Vec<&str> = stats.lines().filter(|l| l.contains("jwt_authn")).collect();
    eprintln!("admin /stats:\n  {}", ours.join("\n  "));
    let prom = proxy
        .admin("/stats/prometheus")
        .expect("admin /stats/prometheus")
        .body;
    let prom_ours: Vec<&str> = prom.lines().filter(|l| l.contains("jwt_authn")).collect();
    eprintln!("admin /stats/prometheus:\n  {}", prom_ours.join("\n  "));

    let want: &[(&str, u64)] = &[
        ("jwt_authn.allowed", 3),
        ("jwt_authn.denied", 5),
        ("jwt_authn.denied.JwtExpired", 2),
        ("jwt_authn.denied.JwtVerificationFail", 1),
        ("jwt_authn.denied.JwtMissed", 1),
        ("jwt_authn.denied.JwksKidAlgMismatch", 1),
        ("jwt_authn.provider.idp.allowed", 3),
        ("jwt_authn.provider.idp.jwks_fetch_success", 1),
        ("jwt_authn.provider.idp.jwks_fetch_failed", 1),
        ("jwt_authn.provider.idp.jwks_refetch_unknown_kid", 1),
        ("jwt_authn.provider.idp.jwks_keys", 2),
    ];
    let mut problems = Vec::new();
    for (metric, value) in want {
        let name = stat_name(metric);
        match proxy.counter(&name) {
            Some(v) if v == *value => {}
            got => problems.push(format!("{name}: expected {value}, got {got:?}")),
        }
    }
    let age = proxy.counter(&stat_name("jwt_authn.provider.idp.jwks_age_seconds"));
    if !matches!(age, Some(1..=30)) {
        problems.push(format!(
            "jwks_age_seconds: expected the seconds since the one fetch (>= 1), got {age:?}"
        ));
    }
    // Prometheus: the metric's own name with `.` as `_`, no `envoy_` prefix and no namespace
    // (Envoy strips its custom `wasmcustom` namespace), e.g. `jwt_authn_allowed{} 3`.
    let gauges = ["jwt_authn.provider.idp.jwks_keys"];
    for (metric, value) in want {
        let name = metric.replace('.', "_");
        let kind = if gauges.contains(metric) {
            "gauge"
        } else {
            "counter"
        };
        let line = format!("{name}{{}} {value}");
        let typed = format!("# TYPE {name} {kind}");
        if !prom.lines().any(|l| l == line) || !prom.lines().any(|l| l == typed) {
            problems.push(format!("/stats/prometheus: no `{typed}` / `{line}` line"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_vm_healthy(&proxy);
}
