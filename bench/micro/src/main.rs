//! `bench-micro POOL_DIR [ALG...]`: per-request costs of the filter's pure-Rust path, by stage.
//!
//! POOL_DIR holds the pools `bench/run.py` mints (`{ALG}-good-1.txt`, `{ALG}-good-N.txt`,
//! `{ALG}-bad-N.txt`; bench/micro.sh makes them). For each alg it times, per operation:
//!   parse         jws::parse of distinct tokens (base64url + JSON of header and payload)
//!   signature     authn::verify_signature of distinct pre-parsed tokens
//!   authn-unique  authn::authenticate, a fresh token each time (what a cache miss costs)
//!   authn-hit     authn::authenticate with a cache, one token again and again (a cache hit)
//!   authn-miss    authn::authenticate of distinct tokens through a 1024-entry cache
//!                 (pool of 2000: every call misses, inserts and evicts, as `ours` unique does)
//!   authn-bad     authn::authenticate of distinct bad-signature tokens (401)
//! Each figure is the median of 5 batches of this thread's CPU time (not wall time, so other
//! processes on a busy machine do not inflate it; wall time where no CPU clock is available).
//! No assertion on time anywhere: it only prints.

use std::cell::RefCell;
use std::time::Duration;

use jwt_authn_wasm::authn::{self, Decision, Input};
use jwt_authn_wasm::authn::model::Config;
use jwt_authn_wasm::request::matcher::Request;
use jwt_authn_wasm::authn::token_cache::TokenCache;
use jwt_authn_wasm::keys::jwks;
use jwt_authn_wasm::token::jws;

const JWKS: &str = include_str!("../../../envoy/demo-jwks.json");
const BATCH_TIME: Duration = Duration::from_millis(200);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        eprintln!("usage: bench-micro POOL_DIR [ALG...]");
        std::process::exit(2);
    };
    let algs: Vec<String> = if args.len() > 1 { args[1..].to_vec() } else { vec!["RS256".into(), "ES256".into(), "HS256".into()] };
    let compact = serde_json::to_string(&serde_json::from_str::<serde_json::Value>(JWKS).expect("jwks json")).expect("jwks");
    let config_text = serde_json::json!({
        "providers": {"bench": {"issuer": "https://demo.example", "audiences": ["demo-api"],
                                "local_jwks": {"inline_string": compact}, "forward": false}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "bench"}}]
    })
    .to_string();
    let config = Config::parse(&config_text).expect("config");
    let keys = jwks::parse_jwks(JWKS).expect("jwks");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let target = if cfg!(target_arch = "wasm32") { "wasm32 (V8)" } else { "native" };

    println!("| target | alg | parse µs | signature µs | authn-unique µs | authn-hit µs | authn-miss µs | authn-bad µs |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for alg in &algs {
        let one = read_pool(dir, &format!("{alg}-good-1.txt"));
        let good = read_pool_glob(dir, &format!("{alg}-good-"), 1);
        let bad = read_pool_glob(dir, &format!("{alg}-bad-"), 0);
        let good = &good[..good.len().min(2000)];
        let bad = &bad[..bad.len().min(2000)];
        let req = |t: &str| request_headers(t);
        let good_reqs: Vec<_> = good.iter().map(|t| req(t)).collect();
        let bad_reqs: Vec<_> = bad.iter().map(|t| req(t)).collect();
        let one_req = req(&one[0]);
        let parsed: Vec<_> = good.iter().map(|t| jws::parse(t).expect("parse")).collect();

        // Sanity: the path under test says what it should, or the timing means nothing.
        assert!(matches!(authn::authenticate(Input::local(&config, &Request::new(&good_reqs[0]), now)).decision, Decision::Allow(_)));
        assert!(matches!(authn::authenticate(Input::local(&config, &Request::new(&bad_reqs[0]), now)).decision, Decision::Deny(_)));

        let parse = time_per_op(good.len(), |i| {
            std::hint::black_box(jws::parse(&good[i]).is_ok());
        });
        let sig = time_per_op(parsed.len(), |i| {
            std::hint::black_box(authn::verify_signature(&parsed[i], &keys).is_ok());
        });
        let unique = time_per_op(good_reqs.len(), |i| {
            std::hint::black_box(authn::authenticate(Input::local(&config, &Request::new(&good_reqs[i]), now)).decision);
        });
        let cache = RefCell::new(TokenCache::new(1024));
        let hit = time_per_op(1, |_| {
            std::hint::black_box(authn::authenticate(Input { cache: Some(&cache), ..Input::local(&config, &Request::new(&one_req), now) }).decision);
        });
        let miss_cache = RefCell::new(TokenCache::new(1024));
        let miss = time_per_op(good_reqs.len(), |i| {
            std::hint::black_box(authn::authenticate(Input { cache: Some(&miss_cache), ..Input::local(&config, &Request::new(&good_reqs[i]), now) }).decision);
        });
        let badt = time_per_op(bad_reqs.len(), |i| {
            std::hint::black_box(authn::authenticate(Input::local(&config, &Request::new(&bad_reqs[i]), now)).decision);
        });
        let us = |d: f64| format!("{:.2}", d / 1000.0);
        println!("| {target} | {alg} | {} | {} | {} | {} | {} | {} |", us(parse), us(sig), us(unique), us(hit), us(miss), us(badt));
    }
}

fn request_headers(token: &str) -> Vec<(String, String)> {
    [
        (":method", "GET".to_string()),
        (":path", "/api".to_string()),
        (":authority", "127.0.0.1".to_string()),
        (":scheme", "http".to_string()),
        ("authorization", format!("Bearer {token}")),
        ("x-forwarded-proto", "http".to_string()),
        ("x-request-id", "3f0d6c1e-6a0b-4a8e-9d4a-0a6c1f0b7f11".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// ns per call of `f(i)` (i cycling over 0..n, continued across batches so that a batch shorter
/// than the pool does not replay cached tokens): median of 5 batches of ~BATCH_TIME each.
fn time_per_op(n: usize, mut f: impl FnMut(usize)) -> f64 {
    let mut next = 0usize;
    let mut batch = |iters: usize| {
        let start = cpu_ns();
        for _ in 0..iters {
            f(next);
            next = (next + 1) % n;
        }
        cpu_ns().saturating_sub(start) as f64
    };
    // Calibrate: how many calls fill a batch.
    let mut iters = 1usize;
    loop {
        let el = batch(iters);
        if el >= BATCH_TIME.as_nanos() as f64 / 4.0 || iters > 1 << 26 {
            iters = ((iters as f64) * BATCH_TIME.as_nanos() as f64 / el.max(1.0)).ceil() as usize;
            break;
        }
        iters *= 4;
    }
    let mut batches: Vec<f64> = (0..5).map(|_| batch(iters) / iters as f64).collect();
    batches.sort_by(|a, b| a.total_cmp(b));
    batches[2]
}

/// This thread's CPU time in ns.
#[cfg(unix)]
fn cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The WASI process CPU-time clock (id 2: Node answers it from getrusage, so V8's background
/// compiler threads count too; they are idle once the code is warm).
#[cfg(target_os = "wasi")]
fn cpu_ns() -> u64 {
    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    extern "C" {
        fn clock_time_get(id: u32, precision: u64, out: *mut u64) -> u16;
    }
    let mut t = 0u64;
    // SAFETY: the host writes one u64 into `t`.
    let errno = unsafe { clock_time_get(2, 1, &mut t) };
    assert_eq!(errno, 0, "clock_time_get(process_cputime)");
    t
}

fn read_pool(dir: &str, name: &str) -> Vec<String> {
    let path = format!("{dir}/{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines().filter(|l| !l.is_empty()).map(str::to_string).collect()
}

/// The largest pool whose name starts with `prefix`, other than one of `skip_count` tokens.
fn read_pool_glob(dir: &str, prefix: &str, skip_count: usize) -> Vec<String> {
    let mut best: Option<(usize, String)> = None;
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir}: {e}")).flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(n) = name.strip_prefix(prefix).and_then(|r| r.strip_suffix(".txt")).and_then(|n| n.parse::<usize>().ok()) {
            if n != skip_count && best.as_ref().is_none_or(|(b, _)| n > *b) {
                best = Some((n, name));
            }
        }
    }
    let (_, name) = best.unwrap_or_else(|| panic!("no {prefix}N.txt pool in {dir}"));
    read_pool(dir, &name)
}
