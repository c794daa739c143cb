//! Hostile clients and a hostile identity provider, end to end: the wasm filter inside a real
//! Envoy 1.40 on loopback.
//!
//! 1. Thousands of requests with malformed, oversized and forged tokens: every answer is a
//!    well-formed refusal (the filter's 401/403 with `WWW-Authenticate`, or Envoy's own 400/431
//!    for protocol-level junk), never 200 and never 5xx; the VM survives and valid tokens still
//!    pass afterwards.
//! 2. A JWKS endpoint that turns hostile after its first good answer: nothing it serves later
//!    replaces the good keys, and keys that only appear in its hostile bodies never verify.
//!
//! Needs Envoy (`make setup`) and the built filter (`make build`); a missing one fails the test.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use jwt_mint::{b64url, jwks, Alg, Key, Rng};
use serde_json::{json, Value};

use crate::support::{
    assert_vm_healthy, flip_signature_bit, http_request, http_request_bytes, now, poll_until,
    EnvoyBuilder, JwksStub, Proxy,
};

const ISS_REMOTE: &str = "https://issuer.remote.hostile.example";
const ISS_LOCAL: &str = "https://issuer.local.hostile.example";
const AUD: &str = "api.hostile.example";

// ------------------------------------------------------------------------------------------
// Helpers

fn seed() -> u64 {
    std::env::var("HOSTILE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

fn claims(iss: &str) -> Value {
    let t = now();
    json!({"iss": iss, "aud": AUD, "sub": "alice", "iat": t, "exp": t + 3600})
}

/// A token from raw header and payload JSON text, signed by `key` over exactly those bytes.
fn raw_token(key: &Key, header: &str, payload: &str) -> String {
    key.sign_text(header, payload)
}

/// Provider `remote` (JWKS from cluster `jwks`) on `/remote`, provider `local` (`local`'s key,
/// plus the members of `local_extra`) on `/local`.
fn two_providers(local: &Key, local_extra: Value) -> Value {
    let mut config = json!({
        "providers": {
            "remote": {
                "issuer": ISS_REMOTE, "audiences": [AUD],
                "remote_jwks": {
                    "http_uri": {"uri": "http://jwks.test/jwks.json", "cluster": "jwks", "timeout": "1s"},
                    "cache_duration": "300s"
                }
            },
            "local": {
                "issuer": ISS_LOCAL, "audiences": [AUD],
                "local_jwks": {"inline_string": jwks(&[local]).to_string()}
            }
        },
        "rules": [
            {"match": {"prefix": "/remote"}, "requires": {"provider_name": "remote"}},
            {"match": {"prefix": "/local"}, "requires": {"provider_name": "local"}}
        ]
    });
    if let Some(extra) = local_extra.as_object() {
        for (k, v) in extra {
            config["providers"]["local"][k] = v.clone();
        }
    }
    config
}

fn stat(proxy: &Proxy, metric: &str) -> u64 {
    proxy.counter(&format!("wasmcustom.{metric}")).unwrap_or(0)
}

/// Envoy's own wasm stats (not the filter's `wasmcustom.` ones) that count VM failures, reloads
/// or crashes: all must be 0.
fn assert_no_vm_failure_stats(proxy: &Proxy) {
    let stats = proxy.stats();
    let suspicious: Vec<&str> = stats
        .lines()
        .filter(|l| {
            let name = l.split(": ").next().unwrap_or("");
            (name.starts_with("wasm.") || name.starts_with("wasm_vm."))
                && ["fail", "reload", "crash", "trap", "abort"]
                    .iter()
                    .any(|w| name.contains(w))
        })
        .collect();
    eprintln!("wasm VM failure stats: {suspicious:?}");
    let bad: Vec<&&str> = suspicious
        .iter()
        .filter(|l| l.rsplit(": ").next().is_some_and(|v| v.trim() != "0"))
        .collect();
    assert!(bad.is_empty(), "wasm VM failure stats are not 0: {bad:?}");
}

// ------------------------------------------------------------------------------------------
// 1. Hostile clients

/// One hostile request: a label (for failure messages), the path and its headers.
struct Hostile {
    label: String,
    path: &'static str,
    /// Values are bytes: HTTP lets a value carry bytes that are not UTF-8.
    headers: Vec<(String, Vec<u8>)>,
}

fn auth(label: impl Into<String>, path: &'static str, value: impl Into<Vec<u8>>) -> Hostile {
    Hostile {
        label: label.into(),
        path,
        headers: vec![("authorization".into(), value.into())],
    }
}

/// Bytes an HTTP/1.1 header value may hold (RFC 9110 field-vchar, SP, HTAB, obs-text), most
/// of them not UTF-8 on their own.
fn random_value_bytes(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len)
        .map(|_| match rng.below(3) {
            0 => 0x80 + rng.below(0x80) as u8,
            1 => b'\t' + (rng.below(2) as u8) * (b' ' - b'\t'),
            _ => 0x21 + rng.below(0x5e) as u8,
        })
        .collect();
    // No leading or trailing whitespace: the codec would trim it.
    let last = v.len().saturating_sub(1);
    for i in [0, last] {
        if let Some(b) = v.get_mut(i).filter(|b| **b == b' ' || **b == b'\t') {
            *b = b'x';
        }
    }
    v
}

/// Printable header characters (visible ASCII and space), no leading/trailing space.
fn random_header_chars(rng: &mut Rng, len: usize) -> String {
    (0..len)
        .map(|_| char::from(0x21 + rng.below(0x7e - 0x21 + 1) as u8))
        .collect()
}

fn random_b64(rng: &mut Rng, len: usize, alphabet: &[u8]) -> String {
    (0..len)
        .map(|_| char::from(alphabet[rng.below(alphabet.len())]))
        .collect()
}

const URL_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const STD_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

struct Material {
    remote: Key,
    local: Key,
    /// Pre-built tokens too costly to build per request.
    fixed: Vec<(String, String)>,
}

fn hostile(rng: &mut Rng, m: &Material) -> Hostile {
    let path: &'static str = if rng.below(2) == 0 {
        "/remote/x"
    } else {
        "/local/x"
    };
    let (key, iss) = if path.starts_with("/remote") {
        (&m.remote, ISS_REMOTE)
    } else {
        (&m.local, ISS_LOCAL)
    };
    let hdr = |alg: &str| {
        format!(
            "{{\"alg\":\"{alg}\",\"typ\":\"JWT\",\"kid\":\"{}\"}}",
            key.kid()
        )
    };
    let good_payload = claims(iss).to_string();
    match rng.below(26) {
        0 => {
            let n = 1 + rng.below(300);
            auth("random header chars", path, random_header_chars(rng, n))
        }
        1 => {
            let n = 1 + rng.below(300);
            auth(
                "Bearer + random chars",
                path,
                format!("Bearer {}", random_header_chars(rng, n)),
            )
        }
        2 => {
            // Binary-looking base64 segments (random bytes, url alphabet).
            let segs: Vec<String> = (0..3)
                .map(|_| {
                    let bytes: Vec<u8> = (0..rng.below(200)).map(|_| rng.next_u64() as u8).collect();
                    b64url(&bytes)
                })
                .collect();
            auth("binary base64", path, format!("Bearer {}", segs.join(".")))
        }
        3 => {
            let len = 16 * 1024 - 100 + rng.below(200);
            let t = random_b64(rng, len, URL_ALPHABET);
            auth(
                format!("huge token {len} bytes"),
                path,
                format!("Bearer {t}"),
            )
        }
        4 => {
            let len = 50 * 1024 + rng.below(20 * 1024);
            let t = random_b64(rng, len, URL_ALPHABET);
            auth(
                format!("giant token {len} bytes"),
                path,
                format!("Bearer {t}"),
            )
        }
        5 => {
            let n = rng.below(2000);
            auth(
                format!("{n} dots"),
                path,
                format!("Bearer {}", ".".repeat(n)),
            )
        }
        6 => {
            let forms = [
                "..",
                "a..",
                "..b",
                ".b.c",
                "a.b.",
                "a.b",
                "a",
                "a.b.c.d",
                "a.b.c.d.e",
            ];
            let f = forms[rng.below(forms.len())];
            auth(format!("empty segments {f:?}"), path, format!("Bearer {f}"))
        }
        7 => {
            // A valid token re-encoded: padded, or standard alphabet.
            let t = key.token(&claims(iss));
            let padded: Vec<String> = t
                .split('.')
                .map(|s| {
                    let mut s = s.to_owned();
                    while s.len() % 4 != 0 {
                        s.push('=');
                    }
                    s
                })
                .collect();
            let padded = padded.join(".");
            if padded == t || rng.below(2) == 0 {
                let std: String = t
                    .chars()
                    .map(|c| match c {
                        '-' => '+',
                        '_' => '/',
                        c => c,
                    })
                    .collect();
                if std == t {
                    // Nothing to re-encode: flip a bit instead, still a refusal.
                    auth(
                        "flipped (std fallback)",
                        path,
                        format!("Bearer {}", flip_signature_bit(&t)),
                    )
                } else {
                    auth("standard alphabet", path, format!("Bearer {std}"))
                }
            } else {
                auth("padded base64", path, format!("Bearer {padded}"))
            }
        }
        8 => {
            let n = rng.below(2000) + 500;
            auth(
                "random std base64",
                path,
                format!("Bearer {}", random_b64(rng, n, STD_ALPHABET)),
            )
        }
        9 => {
            let i = rng.below(m.fixed.len());
            let (label, t) = &m.fixed[i];
            auth(label.clone(), path, format!("Bearer {t}"))
        }
        10 => {
            let prefixes = [
                "\u{0412}earer ",  // Cyrillic VE
                "B\u{0435}arer ",  // Cyrillic ie
                "Bearer\u{00a0}",  // no-break space
                "\u{ff22}earer ",  // fullwidth B
                "Bearer\u{200b} ", // zero-width space
                "\u{212c}earer ",  // script B
                "BEARER\u{2003}",  // em space
                "Bearer\t",        // tab
                "Bearer  ",        // two spaces
                "bearer ",         // lowercase (native accepts only "Bearer ")
            ];
            let p = prefixes[rng.below(prefixes.len())];
            let t = key.token(&claims(iss));
            let t = if p == "bearer " || p == "Bearer  " || p == "Bearer\t" {
                // Prefixes a lenient parser might accept: the token must be refused anyway.
                flip_signature_bit(&t)
            } else {
                t
            };
            auth(format!("prefix {p:?}"), path, format!("{p}{t}"))
        }
        11 => {
            let bad = flip_signature_bit(&key.token(&claims(iss)));
            let junk = random_header_chars(rng, 40);
            let mut h = Hostile {
                label: "duplicated authorization".into(),
                path,
                headers: vec![
                    ("authorization".into(), format!("Bearer {bad}").into()),
                    ("authorization".into(), format!("Bearer {junk}").into()),
                ],
            };
            if rng.below(2) == 0 {
                h.headers.reverse();
            }
            h
        }
        12 => {
            let algs = [
                "\"none\"",
                "\"NONE\"",
                "\"None\"",
                "\"nOnE\"",
                "\"HS256\"",
                "\"RS256\"",
                "\"ES256 \"",
                "\"es256\"",
                "\"FOO\"",
                "\"\"",
                "256",
                "-1",
                "1e400",
                "null",
                "true",
                "[\"ES256\"]",
                "{\"a\":\"ES256\"}",
            ];
            let a = algs[rng.below(algs.len())];
            let h = format!("{{\"alg\":{a},\"typ\":\"JWT\",\"kid\":\"{}\"}}", key.kid());
            let t = raw_token(key, &h, &good_payload);
            // The same with an empty signature, as `alg: none` tokens come.
            let t = if rng.below(2) == 0 {
                let (input, _) = t.rsplit_once('.').unwrap();
                format!("{input}.")
            } else {
                t
            };
            auth(format!("alg {a}"), path, format!("Bearer {t}"))
        }
        13 => {
            let kids = [
                "{\"a\":1}",
                "[\"k\"]",
                "1",
                "null",
                "true",
                "\"\"",
                "{\"kid\":\"remote-k\"}",
            ];
            let k = kids[rng.below(kids.len())];
            let h = format!("{{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":{k}}}");
            auth(
                format!("kid {k}"),
                path,
                format!("Bearer {}", raw_token(key, &h, &good_payload)),
            )
        }
        14 => {
            let h = format!(
                "{{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"{}\",\"crit\":[\"exp\",\"x-unknown\"],\"x-unknown\":1}}",
                key.kid()
            );
            // Forged signature: the token must be refused whatever the filter makes of `crit`.
            let t = flip_signature_bit(&raw_token(key, &h, &good_payload));
            auth("crit header", path, format!("Bearer {t}"))
        }
        15 => {
            let exps = [
                "\"9999999999\"",
                "-1",
                "1e400",
                "-1e400",
                "1.5",
                "null",
                "[9999999999]",
                "{\"v\":9999999999}",
                "18446744073709551616",
                "0",
                "true",
            ];
            let e = exps[rng.below(exps.len())];
            let p = format!("{{\"iss\":\"{iss}\",\"aud\":\"{AUD}\",\"sub\":\"a\",\"exp\":{e}}}");
            auth(
                format!("exp {e}"),
                path,
                format!("Bearer {}", raw_token(key, &hdr("ES256"), &p)),
            )
        }
        16 => {
            let t = flip_signature_bit(&key.token(&claims(iss)));
            auth("flipped signature bit", path, format!("Bearer {t}"))
        }
        17 => {
            // Valid signature, flipped bit in the payload instead.
            let t = key.token(&claims(iss));
            let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
            let mut payload = jwt_mint::b64url_decode(&parts[1]).unwrap();
            let i = rng.below(payload.len());
            payload[i] ^= 1 << rng.below(8);
            parts[1] = b64url(&payload);
            auth(
                "flipped payload bit",
                path,
                format!("Bearer {}", parts.join(".")),
            )
        }
        18 => {
            let t = key.token(&claims("https://evil.example"));
            auth("another issuer", path, format!("Bearer {t}"))
        }
        19 => {
            // The other provider's issuer, signed by this provider's key.
            let other = if iss == ISS_REMOTE {
                ISS_LOCAL
            } else {
                ISS_REMOTE
            };
            let t = key.token(&claims(other));
            auth("other provider's issuer", path, format!("Bearer {t}"))
        }
        20 => {
            let t = now();
            let c = json!({"iss": iss, "aud": "someone-else", "sub": "a", "exp": t + 3600});
            auth("wrong audience", path, format!("Bearer {}", key.token(&c)))
        }
        21 => {
            // Signed by an unknown key under a random kid (remote: triggers the refetch logic).
            let kid = format!("k-{}", rng.next_u64());
            let k = Key::from_seed(Alg::ES256, &kid, 99);
            auth(
                "unknown kid",
                path,
                format!("Bearer {}", k.token(&claims(iss))),
            )
        }
        22 => {
            // Signed by an impostor under the right kid.
            let k = Key::from_seed(Alg::ES256, key.kid(), 77);
            auth(
                "impostor key",
                path,
                format!("Bearer {}", k.token(&claims(iss))),
            )
        }
        23 => {
            let n = 1 + rng.below(300);
            auth("bytes, not UTF-8", path, random_value_bytes(rng, n))
        }
        24 => {
            // A valid token spoiled by bytes that are not UTF-8, anywhere after its first
            // character. (Before it they would be skipped, as native skips anything that is
            // not base64url between the prefix and the token, and the token would pass.)
            let token = key.token(&claims(iss));
            let mut value = format!("Bearer {token}").into_bytes();
            let n = 1 + rng.below(8);
            let junk = random_value_bytes(rng, n);
            let at = "Bearer ".len() + 1 + rng.below(token.len());
            value.splice(at..at, junk.iter().map(|b| b | 0x80));
            auth("token spoiled by non-UTF-8 bytes", path, value)
        }
        _ => Hostile {
            label: "no authorization".into(),
            path,
            headers: vec![("x-junk".into(), random_header_chars(rng, 20).into())],
        },
    }
}

fn fixed_tokens(remote: &Key) -> Vec<(String, String)> {
    let hdr = format!(
        "{{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"{}\"}}",
        remote.kid()
    );
    let payload = claims(ISS_REMOTE).to_string();
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let many_keys = |n: usize| {
        let body: Vec<String> = (0..n).map(|i| format!("\"k{i}\":{i}")).collect();
        format!(
            "{{\"iss\":\"{ISS_REMOTE}\",\"aud\":\"{AUD}\",{}}}",
            body.join(",")
        )
    };
    let nested_obj = |depth: usize| {
        format!(
            "{{\"alg\":\"ES256\",\"kid\":\"{}\",\"x\":{}1{}}}",
            remote.kid(),
            "{\"a\":".repeat(depth),
            "}".repeat(depth)
        )
    };
    let forged = |h: &str, p: &str| flip_signature_bit(&raw_token(remote, h, p));
    let exp = now() + 3600;
    vec![
        ("nested header 5000".into(), raw_token(remote, &nested(5000), &payload)),
        ("nested payload 5000".into(), raw_token(remote, &hdr, &nested(5000))),
        ("nested object header 1500".into(), raw_token(remote, &nested_obj(1500), &payload)),
        ("10000-key payload".into(), raw_token(remote, &hdr, &many_keys(10_000))),
        // Validly signed, these would be valid tokens (no `exp` is required; duplicate members
        // take the last value, as RFC 7515 allows; a deep claim is legal): forged signatures.
        ("1000-key payload".into(), forged(&hdr, &many_keys(1000))),
        (
            "nested claim 129".into(),
            forged(
                &hdr,
                &format!("{{\"iss\":\"{ISS_REMOTE}\",\"aud\":\"{AUD}\",\"exp\":{exp},\"x\":{}}}", nested(129)),
            ),
        ),
        (
            "duplicate alg".into(),
            forged(&format!("{{\"alg\":\"none\",\"alg\":\"ES256\",\"kid\":\"{}\"}}", remote.kid()), &payload),
        ),
        (
            "duplicate iss".into(),
            forged(
                &hdr,
                &format!("{{\"iss\":\"https://evil.example\",\"iss\":\"{ISS_REMOTE}\",\"aud\":\"{AUD}\",\"exp\":{exp}}}"),
            ),
        ),
        ("payload not JSON".into(), raw_token(remote, &hdr, "\u{0}\u{1}not json")),
        ("payload JSON array".into(), raw_token(remote, &hdr, "[1,2,3]")),
        ("header JSON string".into(), raw_token(remote, "\"ES256\"", &payload)),
        ("invalid UTF-8 in payload".into(), {
            let payload = b64url(b"{\"iss\":\"\xff\xfe\",\"aud\":\"x\"}");
            remote.sign_segments(&b64url(hdr.as_bytes()), &payload)
        }),
    ]
}

#[test]
fn hostile_clients_get_well_formed_401s_and_the_vm_survives() {
    let started = Instant::now();
    let seed = seed();
    eprintln!("hostile clients: seed {seed} (replay: HOSTILE_SEED={seed} cargo test --test envoy hostile::)");
    let remote = Key::from_seed(Alg::ES256, "remote-k", 11);
    let local = Key::from_seed(Alg::ES256, "local-k", 12);
    let stub = JwksStub::start(200, jwks(&[&remote]).to_string());
    let upstream = crate::support::Upstream::start();
    let config = two_providers(&local, json!({}));
    let proxy = EnvoyBuilder::new(&upstream)
        .plugin(config)
        .jwks_cluster("jwks", stub.port())
        .concurrency(2)
        .component_log_level(Some("wasm:info"))
        .start();

    // Warm up: both providers accept a valid token.
    let ok_r = proxy.bearer("/remote/x", &remote.token(&claims(ISS_REMOTE)));
    assert_eq!(
        ok_r.status, 200,
        "valid remote token before the storm: {ok_r}"
    );
    let ok_l = proxy.bearer("/local/x", &local.token(&claims(ISS_LOCAL)));
    assert_eq!(
        ok_l.status, 200,
        "valid local token before the storm: {ok_l}"
    );
    let denied_before = proxy
        .settled_counter("wasmcustom.jwt_authn.denied")
        .unwrap_or(0);
    let upstream_before = upstream.requests();

    let material = Arc::new(Material {
        fixed: fixed_tokens(&remote),
        remote,
        local,
    });
    const THREADS: u64 = 4;
    const PER_THREAD: usize = 750;
    let port = proxy.port();
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let filter_refusals = Arc::new(AtomicUsize::new(0));
    let envoy_refusals = Arc::new(Mutex::new(std::collections::BTreeMap::<u16, usize>::new()));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let material = Arc::clone(&material);
            let failures = Arc::clone(&failures);
            let filter_refusals = Arc::clone(&filter_refusals);
            let envoy_refusals = Arc::clone(&envoy_refusals);
            thread::spawn(move || {
                let mut rng = Rng(seed ^ (t + 1).wrapping_mul(0xA24B_AED4_963E_E407));
                for i in 0..PER_THREAD {
                    let h = hostile(&mut rng, &material);
                    let headers: Vec<(&str, &[u8])> = h
                        .headers
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.as_slice()))
                        .collect();
                    let shown: Vec<String> = h
                        .headers
                        .iter()
                        .map(|(n, v)| {
                            let short: String =
                                String::from_utf8_lossy(v).chars().take(160).collect();
                            format!("{n}: {short} ({} bytes)", v.len())
                        })
                        .collect();
                    let what = format!("thread {t} #{i} [{}] GET {} {shown:?}", h.label, h.path);
                    let r = match http_request_bytes(
                        port,
                        "GET",
                        h.path,
                        &headers,
                        Duration::from_secs(10),
                    ) {
                        Ok(r) => r,
                        Err(e) => {
                            failures
                                .lock()
                                .unwrap()
                                .push(format!("{what}: transport error {e}"));
                            continue;
                        }
                    };
                    let www = r.header("www-authenticate");
                    match r.status {
                        401 | 403 => match www {
                            Some(v) if v.starts_with("Bearer realm=\"") => {
                                filter_refusals.fetch_add(1, Ordering::SeqCst);
                            }
                            _ => failures.lock().unwrap().push(format!(
                                "{what}: {} without `www-authenticate: Bearer realm=...`: {r}",
                                r.status
                            )),
                        },
                        400 | 413 | 431 if www.is_none() => {
                            *envoy_refusals.lock().unwrap().entry(r.status).or_default() += 1;
                        }
                        _ => failures
                            .lock()
                            .unwrap()
                            .push(format!("{what}: expected a refusal, got {r}")),
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let storm = started.elapsed();
    let failures = failures.lock().unwrap().clone();
    let refused = filter_refusals.load(Ordering::SeqCst);
    let envoy_own = envoy_refusals.lock().unwrap().clone();
    eprintln!(
        "storm: {} requests in {storm:?}; filter refusals {refused}; Envoy's own refusals {envoy_own:?}; failures {}",
        THREADS as usize * PER_THREAD,
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} hostile requests were not refused properly (seed {seed}); first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(
        upstream.requests(),
        upstream_before,
        "a hostile request reached the upstream"
    );

    // After the storm: valid tokens still pass on both providers.
    let ok_r = proxy.bearer("/remote/x", &material.remote.token(&claims(ISS_REMOTE)));
    assert_eq!(
        ok_r.status, 200,
        "valid remote token after the storm: {ok_r}"
    );
    let ok_l = proxy.bearer("/local/x", &material.local.token(&claims(ISS_LOCAL)));
    assert_eq!(
        ok_l.status, 200,
        "valid local token after the storm: {ok_l}"
    );

    // The denied counter grew by exactly the filter's refusals.
    let want = denied_before + refused as u64;
    let got = poll_until(Duration::from_secs(3), || {
        let d = stat(&proxy, "jwt_authn.denied");
        (d == want).then_some(d)
    });
    assert_eq!(
        got,
        Some(want),
        "wasmcustom.jwt_authn.denied: before {denied_before}, filter refusals {refused}, now {}",
        stat(&proxy, "jwt_authn.denied")
    );
    assert_vm_healthy(&proxy);
    assert_no_vm_failure_stats(&proxy);
    eprintln!("hostile clients: done in {:?}", started.elapsed());
}

// ------------------------------------------------------------------------------------------
// 2. Hostile identity provider

#[test]
fn hostile_identity_provider_never_replaces_good_keys() {
    let started = Instant::now();
    let good = Key::from_seed(Alg::ES256, "good", 21);
    // Keys that only ever appear in hostile bodies.
    let evil_big = Key::from_seed(Alg::ES256, "evil-big", 31);
    let evil_nested = Key::from_seed(Alg::ES256, "evil-nested", 32);
    let evil_junk = Key::from_seed(Alg::ES256, "evil-junk", 33);
    let evil_dup = Key::from_seed(Alg::ES256, "good", 34); // the good kid, another key
    let evil_utf = Key::from_seed(Alg::ES256, "good", 35); // ditto, in an unparsable body
    let good_jwks = jwks(&[&good]).to_string();

    let stub = JwksStub::start(200, good_jwks.clone());
    let upstream = crate::support::Upstream::start();
    let config = json!({
        "providers": {"idp": {
            "issuer": ISS_REMOTE, "audiences": [AUD],
            "remote_jwks": {
                "http_uri": {"uri": "http://jwks.test/jwks.json", "cluster": "jwks", "timeout": "1s"},
                "cache_duration": "0.5s",
                "min_cache_duration": "0.5s",
                "async_fetch": {"failed_refetch_duration": "0.2s"}
            }
        }},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "idp"}}]
    });
    let proxy = EnvoyBuilder::new(&upstream)
        .plugin(config)
        .jwks_cluster("jwks", stub.port())
        .concurrency(2)
        .component_log_level(Some("wasm:info"))
        .start();
    let first = proxy.bearer("/api", &good.token(&claims(ISS_REMOTE)));
    assert_eq!(
        first.status, 200,
        "valid token with the first good JWKS: {first}"
    );
    assert!(stub.fetches() >= 1);

    // The hostile bodies.
    let jwk = |k: &Key| k.public_jwk().to_string();
    let big = format!(
        "{{\"keys\":[{}],\"pad\":\"{}\"}}",
        jwk(&evil_big),
        "x".repeat(2 * 1024 * 1024)
    );
    let nested = format!(
        "{{\"keys\":[{}],\"deep\":{}{}}}",
        jwk(&evil_nested),
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let junk: Vec<String> = (0..5000)
        .map(|i| {
            format!("{{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"junk-{i}\",\"x\":\"AAAA\",\"y\":\"!!\"}}")
        })
        .collect();
    let junk = format!(
        "{{\"keys\":[{},{},{}]}}",
        jwk(&evil_junk),
        junk.join(","),
        jwk(&good)
    );
    // Duplicate kids: the impostor first, the good key second.
    let dup = jwks(&[&evil_dup, &good]).to_string();
    // The stub sends `String`s, so no raw invalid UTF-8: a lone surrogate escape is the
    // closest a JSON text gets (invalid Unicode once decoded).
    let mut utf_jwk = evil_utf.public_jwk();
    utf_jwk["kid"] = json!("good");
    let utf = format!(
        "{{\"keys\":[{}],\"note\":\"\\ud800\\udfff\\udc00 \\ud800\"}}",
        utf_jwk
    );
    struct Phase {
        name: &'static str,
        body: String,
        delay: Duration,
        /// Keys whose tokens must be refused in this phase.
        evil: Vec<Key>,
    }
    let phases = vec![
        Phase {
            name: "2 MiB body",
            body: big,
            delay: Duration::ZERO,
            evil: vec![evil_big.clone()],
        },
        Phase {
            name: "nested 10,000 deep",
            body: nested,
            delay: Duration::ZERO,
            evil: vec![evil_big.clone(), evil_nested.clone()],
        },
        Phase {
            name: "5,000 junk keys",
            body: junk,
            delay: Duration::ZERO,
            evil: vec![evil_big.clone(), evil_nested.clone(), evil_junk.clone()],
        },
        Phase {
            name: "duplicate kids",
            body: dup,
            delay: Duration::ZERO,
            evil: vec![evil_big.clone(), evil_nested.clone(), evil_junk.clone()],
        },
        Phase {
            name: "slow drip (good JWKS, 0.9 s)",
            body: good_jwks.clone(),
            delay: Duration::from_millis(900),
            evil: vec![evil_big.clone(), evil_nested.clone(), evil_junk.clone()],
        },
        Phase {
            name: "invalid unicode",
            body: utf,
            delay: Duration::ZERO,
            evil: vec![
                evil_big.clone(),
                evil_nested.clone(),
                evil_junk.clone(),
                evil_utf.clone(),
            ],
        },
    ];

    let phase_name = Arc::new(Mutex::new(String::from("good")));
    let stop = Arc::new(AtomicBool::new(false));
    let port = proxy.port();
    let valid_stats = Arc::new(Mutex::new((0usize, Vec::<String>::new())));
    let valid_thread = {
        let (stop, phase_name, valid_stats, good) = (
            Arc::clone(&stop),
            Arc::clone(&phase_name),
            Arc::clone(&valid_stats),
            good.clone(),
        );
        thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let auth = format!("Bearer {}", good.token(&claims(ISS_REMOTE)));
                let r = http_request(
                    port,
                    "GET",
                    "/api",
                    &[("authorization", &auth)],
                    Duration::from_secs(10),
                );
                let phase = phase_name.lock().unwrap().clone();
                let mut s = valid_stats.lock().unwrap();
                s.0 += 1;
                match r {
                    Ok(r) if r.status == 200 => {}
                    Ok(r) => s.1.push(format!("[{phase}] valid token refused: {r}")),
                    Err(e) => s.1.push(format!("[{phase}] valid token: {e}")),
                }
                drop(s);
                thread::sleep(Duration::from_millis(10));
            }
        })
    };

    let mut evil_sent = 0usize;
    let mut evil_accepted = Vec::new();
    let mut dup_outcomes: Vec<u16> = Vec::new();
    let mut unfetched: Vec<&str> = Vec::new();
    for phase in &phases {
        *phase_name.lock().unwrap() = phase.name.to_owned();
        let fetches_before = stub.fetches();
        stub.set_delay(phase.delay);
        stub.set_body(phase.body.clone());
        // Run until the stub has answered this body at least once (failure backoff may delay
        // the refetch), then half a second more.
        let hard_end = Instant::now() + Duration::from_secs(6);
        let mut end = hard_end;
        while Instant::now() < end {
            if end == hard_end && stub.fetches() > fetches_before {
                end = Instant::now() + phase.delay + Duration::from_millis(500);
            }
            for k in &phase.evil {
                let r = proxy.bearer("/api", &k.token(&claims(ISS_REMOTE)));
                evil_sent += 1;
                if r.status == 200 {
                    evil_accepted.push(format!(
                        "[{}] token signed by {} accepted: {r}",
                        phase.name,
                        k.kid()
                    ));
                }
            }
            if phase.name == "duplicate kids" {
                let r = proxy.bearer("/api", &evil_dup.token(&claims(ISS_REMOTE)));
                dup_outcomes.push(r.status);
            }
            thread::sleep(Duration::from_millis(50));
        }
        unfetched.extend((stub.fetches() == fetches_before).then_some(phase.name));
        // A good interlude resets the filter's failure backoff before the next hostile body.
        if phase.delay.is_zero() {
            *phase_name.lock().unwrap() = format!("good after {}", phase.name);
            let before = stub.fetches();
            stub.set_body(good_jwks.clone());
            poll_until(Duration::from_secs(8), || {
                (stub.fetches() > before).then_some(())
            });
            thread::sleep(Duration::from_millis(300));
        }
        eprintln!(
            "phase {:?}: {} fetches",
            phase.name,
            stub.fetches() - fetches_before
        );
    }
    // Back to good for a moment, then stop the valid stream.
    *phase_name.lock().unwrap() = "good again".into();
    stub.set_delay(Duration::ZERO);
    stub.set_body(good_jwks.clone());
    thread::sleep(Duration::from_millis(800));
    stop.store(true, Ordering::SeqCst);
    valid_thread.join().unwrap();
    let after_dup = proxy.bearer("/api", &evil_dup.token(&claims(ISS_REMOTE)));

    let (valid_sent, valid_failures) = valid_stats.lock().unwrap().clone();
    let dup_accepted = dup_outcomes.iter().filter(|s| **s == 200).count();
    eprintln!(
        "hostile IdP: {} JWKS fetches; valid tokens sent {valid_sent}, refused {}; evil tokens sent {evil_sent}, accepted {}; \
         duplicate-kid impostor during its phase: {} sent, {dup_accepted} accepted (statuses {:?}); after: {}",
        stub.fetches(),
        valid_failures.len(),
        evil_accepted.len(),
        dup_outcomes.len(),
        dup_outcomes.iter().collect::<std::collections::BTreeSet<_>>(),
        after_dup.status
    );
    let hostile_log: Vec<String> = proxy
        .log()
        .lines()
        .filter(|l| l.contains("jwks") || l.contains("Jwks") || l.contains("JWKS"))
        .map(|l| l.chars().take(300).collect())
        .collect();
    eprintln!(
        "filter JWKS log lines (last 20):\n{}",
        hostile_log
            .iter()
            .rev()
            .take(20)
            .rev()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );

    assert!(
        valid_failures.is_empty(),
        "{} of {valid_sent} valid tokens were refused; first ones:\n{}",
        valid_failures.len(),
        valid_failures
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        evil_accepted.is_empty(),
        "tokens signed by keys only in hostile JWKS bodies were accepted:\n{}",
        evil_accepted
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // A JWKS that lists two keys under one kid is still a JWKS (RFC 7517 §4.5 only says kids
    // SHOULD differ) and the identity provider vouches for every key in it, so tokens under
    // either key verify while it is served, as with native jwt_authn. What must hold is that
    // the second key is gone again as soon as the identity provider stops publishing it.
    println!(
        "duplicate-kid phase: {dup_accepted} of {} tokens of the second key accepted (published keys verify)",
        dup_outcomes.len()
    );
    assert_ne!(
        after_dup.status, 200,
        "the duplicate-kid impostor still verifies once the good JWKS is back: {after_dup}"
    );
    assert!(
        unfetched.is_empty(),
        "the filter never fetched these hostile bodies: {unfetched:?}"
    );
    let keys = proxy
        .counter("wasmcustom.jwt_authn.provider.idp.jwks_keys")
        .unwrap_or(0);
    assert!(
        keys > 0,
        "the provider has no keys at the end (jwks_keys gauge {keys})"
    );
    // Memory stays bounded: bodies are capped at 1 MiB before they are read and nothing of a
    // refused body is kept, so no VM's linear memory comes near a multiple of that cap.
    let vm_max = proxy
        .counter("wasmcustom.jwt_authn.vm_memory_bytes_max")
        .unwrap_or(0);
    eprintln!("hostile IdP: largest wasm linear memory of any VM: {vm_max} bytes");
    assert!(
        vm_max > 0 && vm_max <= 16 << 20,
        "wasm linear memory of a VM reached {vm_max} bytes (bound 16 MiB)"
    );
    assert_vm_healthy(&proxy);
    assert_no_vm_failure_stats(&proxy);
    eprintln!("hostile IdP: done in {:?}", started.elapsed());
}

/// A JWKS server that answers every connection with `response` (raw bytes) and closes it.
struct RawServer {
    port: u16,
    stop: Arc<AtomicBool>,
    fetches: Arc<AtomicUsize>,
}

impl RawServer {
    fn start(response: Vec<u8>) -> RawServer {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (s, f) = (Arc::clone(&stop), Arc::clone(&fetches));
        thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        let _ = conn.set_nonblocking(false);
                        let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut buf = [0u8; 4096];
                        let _ = conn.read(&mut buf);
                        f.fetch_add(1, Ordering::SeqCst);
                        let _ = conn.write_all(&response);
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        RawServer {
            port,
            stop,
            fetches,
        }
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// HTTP allows header values with bytes that are not UTF-8 (obs-text), and Envoy passes them
/// on. Neither a client's nor the identity provider's may stop the VM: each request gets its
/// proper answer and the filter keeps serving.
#[test]
fn header_values_that_are_not_utf8_never_stop_the_vm() {
    let remote = Key::from_seed(Alg::ES256, "remote-k", 41);
    let local = Key::from_seed(Alg::ES256, "local-k", 42);
    // The identity provider's answer carries a Latin-1 header value.
    let body = jwks(&[&remote]).to_string();
    let mut response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nx-idp-note: caf",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(b"\xe9 \xff\xfe\r\n\r\n");
    response.extend_from_slice(body.as_bytes());
    let idp = RawServer::start(response);
    let upstream = crate::support::Upstream::start();
    let config = two_providers(
        &local,
        json!({
            "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}],
            "from_cookies": ["session"]
        }),
    );
    let proxy = EnvoyBuilder::new(&upstream)
        .plugin(config)
        .jwks_cluster("jwks", idp.port)
        .concurrency(2)
        .component_log_level(Some("wasm:info"))
        .start();

    let good_remote = remote.token(&claims(ISS_REMOTE));
    let good_local = local.token(&claims(ISS_LOCAL));
    let bearer = |t: &str| format!("Bearer {t}").into_bytes();
    let mut with_junk = bearer(&good_local);
    with_junk.extend_from_slice(b"\xff");
    let mut latin_cookie = b"n=caf\xe9; ".to_vec();
    latin_cookie.extend_from_slice(format!("session={good_local}").as_bytes());
    type Case = (
        &'static str,
        &'static str,
        Vec<(&'static str, Vec<u8>)>,
        u16,
    );
    let cases: Vec<Case> = vec![
        (
            "token of invalid bytes, local",
            "/local/x",
            vec![("authorization", b"Bearer \xff\xfe\xfd".to_vec())],
            401,
        ),
        (
            "token of invalid bytes, remote",
            "/remote/x",
            vec![("authorization", b"Bearer \xff\xfe\xfd".to_vec())],
            401,
        ),
        (
            "valid token with an invalid byte appended",
            "/local/x",
            vec![("authorization", with_junk)],
            401,
        ),
        (
            "Latin-1 prefix before a valid token",
            "/local/x",
            vec![("authorization", b"B\xe9arer x.y.z".to_vec())],
            401,
        ),
        (
            "valid token beside a Latin-1 header",
            "/local/x",
            vec![
                ("authorization", bearer(&good_local)),
                ("x-latin", b"caf\xe9".to_vec()),
            ],
            200,
        ),
        (
            "valid remote token beside a Latin-1 header",
            "/remote/x",
            vec![
                ("x-latin", b"\xff".to_vec()),
                ("authorization", bearer(&good_remote)),
            ],
            200,
        ),
        (
            "valid token in a cookie with a Latin-1 neighbour",
            "/local/x",
            vec![("cookie", latin_cookie)],
            200,
        ),
        (
            "valid token in a cookie (UTF-8 é)",
            "/local/x",
            vec![("cookie", format!("a=é; session={good_local}").into_bytes())],
            200,
        ),
    ];
    let mut wrong = Vec::new();
    for round in 0..3 {
        for (label, path, headers, want) in &cases {
            let headers: Vec<(&str, &[u8])> =
                headers.iter().map(|(n, v)| (*n, v.as_slice())).collect();
            match http_request_bytes(proxy.port(), "GET", path, &headers, Duration::from_secs(5))
                .map(|r| r.status)
            {
                Ok(got) if got == *want => {}
                got => wrong.push(format!("round {round}, {label}: {got:?}, want {want}")),
            }
        }
    }
    let after = proxy.bearer("/remote/x", &good_remote);
    assert!(
        wrong.is_empty(),
        "requests with non-UTF-8 header bytes got the wrong answer:\n{}\n{}",
        wrong.join("\n"),
        crate::support::tail(&proxy.log(), 40)
    );
    assert_eq!(after.status, 200, "a valid token after them: {after}");
    assert!(
        idp.fetches.load(Ordering::SeqCst) >= 1,
        "the JWKS was never fetched"
    );
    assert_vm_healthy(&proxy);
    assert_no_vm_failure_stats(&proxy);
}
