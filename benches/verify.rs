//! `cargo bench`: native micro-benchmarks of the verify path for every JWS algorithm, by stage.
//! No external harness: it prints one table (µs per operation, median of 5 batches of about
//! 100 ms each, wall time; run it on a quiet machine). What each column times:
//!
//! - `parse`: `jws::parse` (base64url and JSON of header and payload);
//! - `signature`: `authn::verify_signature` of a pre-parsed token;
//! - `miss`: `authn::authenticate` of distinct tokens through the default 1024-entry verdict
//!   cache (the pool is larger than the cache: every call parses, verifies, inserts, evicts);
//! - `hit`: the same with one token again and again;
//! - `bad`: `authn::authenticate` of distinct tokens with a flipped signature bit (401).
//!
//! `cargo bench -- regex` prints instead what a `safe_regex` costs per value matched, ours
//! (src/request/regex/) against regex-lite anchored as the filter used it before, and per
//! compile.
//!
//! The figures that decide anything are the in-Envoy ones of `make bench` (BENCHMARKS.md): this
//! is for comparing verify paths and algorithms, natively; `make bench-micro` runs the 3 main
//! algorithms as wasm in V8 too.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::cell::RefCell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use jwt_authn_wasm::authn::{self, Decision, Input};
use jwt_authn_wasm::authn::model::Config;
use jwt_authn_wasm::request::matcher::Request;
use jwt_authn_wasm::authn::token_cache::{TokenCache, DEFAULT_CAPACITY};
use jwt_authn_wasm::keys::jwks;
use jwt_authn_wasm::token::jws;
use jwt_mint::{Alg, Key};
use serde_json::json;

const POOL: usize = 1500;
const BATCH: Duration = Duration::from_millis(100);
const ISS: &str = "https://bench.example";

fn main() {
    // `cargo bench -- ES256 HS256` limits the algorithms; cargo's own flags (`--bench`) are
    // ignored.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if only.iter().any(|a| a == "regex") {
        return regexes();
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    println!("| alg | parse µs | signature µs | miss µs | hit µs | bad µs |");
    println!("|---|---:|---:|---:|---:|---:|");
    for alg in [
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
        Alg::ES256,
        Alg::ES256K,
        Alg::ES384,
        Alg::ES512,
        Alg::HS256,
        Alg::HS384,
        Alg::HS512,
        Alg::EdDSA,
    ] {
        if !only.is_empty() && !only.iter().any(|a| a.eq_ignore_ascii_case(alg.name())) {
            continue;
        }
        let key = Key::from_seed(alg, "bench", 7);
        let jwks_text = jwt_mint::jwks(&[&key]).to_string();
        let config = Config::parse(
            &json!({
                "providers": {"bench": {"issuer": ISS, "audiences": ["api"],
                    "local_jwks": {"inline_string": jwks_text}, "forward": false}},
                "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "bench"}}]
            })
            .to_string(),
        )
        .unwrap();
        let keys = jwks::parse_jwks(&jwks_text).unwrap();
        let tokens: Vec<String> = (0..POOL)
            .map(|i| {
                key.token(
                    &json!({"iss": ISS, "aud": "api", "sub": format!("user-{i}"),
                    "exp": now + 86_400, "scope": "read write"}),
                )
            })
            .collect();
        let bad: Vec<String> = tokens.iter().map(|t| flip_last_signature_bit(t)).collect();
        let headers = |t: &str| {
            vec![
                (":method".to_string(), "GET".to_string()),
                (":path".to_string(), "/api".to_string()),
                (":authority".to_string(), "127.0.0.1".to_string()),
                ("authorization".to_string(), format!("Bearer {t}")),
            ]
        };
        let good_reqs: Vec<_> = tokens.iter().map(|t| headers(t)).collect();
        let bad_reqs: Vec<_> = bad.iter().map(|t| headers(t)).collect();
        let parsed: Vec<_> = tokens.iter().map(|t| jws::parse(t).unwrap()).collect();
        let decide = |req: &Vec<(String, String)>, cache: Option<&RefCell<TokenCache>>| {
            authn::authenticate(Input {
                cache,
                ..Input::local(&config, &Request::new(req), now)
            })
            .decision
        };
        // The path under test says what it should, or its timing means nothing.
        assert!(matches!(decide(&good_reqs[0], None), Decision::Allow(_)));
        assert!(matches!(decide(&bad_reqs[0], None), Decision::Deny(_)));

        let parse = per_op(POOL, |i| {
            black_box(jws::parse(&tokens[i]).is_ok());
        });
        let signature = per_op(POOL, |i| {
            black_box(authn::verify_signature(&parsed[i], &keys).is_ok());
        });
        let cache = RefCell::new(TokenCache::new(DEFAULT_CAPACITY));
        let miss = per_op(POOL, |i| {
            black_box(decide(&good_reqs[i], Some(&cache)));
        });
        let cache = RefCell::new(TokenCache::new(DEFAULT_CAPACITY));
        let hit = per_op(1, |_| {
            black_box(decide(&good_reqs[0], Some(&cache)));
        });
        let refused = per_op(POOL, |i| {
            black_box(decide(&bad_reqs[i], None));
        });
        let us = |ns: f64| format!("{:.2}", ns / 1000.0);
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            alg.name(),
            us(parse),
            us(signature),
            us(miss),
            us(hit),
            us(refused)
        );
    }
}

/// Typical route and header patterns, each on a value it matches and one it does not.
fn regexes() {
    use jwt_authn_wasm::request::regex::Regex;
    let cases = [
        ("/api/v[0-9]+/items", "/api/v12/items", "/api/v12/itemz"),
        ("/orders/[0-9]+", "/orders/12345678", "/orders/12345678/lines"),
        ("/v[0-9]+/.*", "/v2/some/longer/path/with/segments", "/x2/some/longer/path"),
        ("(?i)/users/[a-z0-9_-]{1,32}/profile", "/Users/Jane_Doe-42/Profile", "/users/jane/profil"),
        ("Bearer [A-Za-z0-9._~+/-]+=*", "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl", "Basic dXNlcjpwYXNz"),
        ("/(a|ab)(c|bcd)(d*)", "/abcd", "/abce"),
    ];
    println!("| pattern | value | ours ns | regex-lite ns | compile ours µs | compile regex-lite µs |");
    println!("|---|---|---:|---:|---:|---:|");
    for (pattern, yes, no) in cases {
        let ours = Regex::new(pattern).unwrap();
        let anchored = format!("^(?:{pattern})$");
        let lite = regex_lite::Regex::new(&anchored).unwrap();
        let lite_full = |v: &str| lite.find(v).is_some_and(|m| m.start() == 0 && m.end() == v.len());
        let compile_ours = per_op(1, |_| {
            black_box(Regex::new(black_box(pattern)).is_ok());
        });
        let compile_lite = per_op(1, |_| {
            black_box(regex_lite::Regex::new(black_box(pattern)).is_ok());
            black_box(regex_lite::Regex::new(black_box(&anchored)).is_ok());
        });
        for (value, want) in [(yes, true), (no, false)] {
            assert_eq!((ours.is_full_match(value), lite_full(value)), (want, want), "{pattern} on {value}");
            let a = per_op(1, |_| {
                black_box(ours.is_full_match(black_box(value)));
            });
            let b = per_op(1, |_| {
                black_box(lite_full(black_box(value)));
            });
            println!(
                "| `{pattern}` | `{value}` | {a:.0} | {b:.0} | {:.2} | {:.2} |",
                compile_ours / 1000.0,
                compile_lite / 1000.0
            );
        }
    }
}

fn flip_last_signature_bit(token: &str) -> String {
    let (head, sig) = token.rsplit_once('.').unwrap();
    let mut bytes = jwt_mint::b64url_decode(sig).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    format!("{head}.{}", jwt_mint::b64url(&bytes))
}

/// ns per call of `f(i)`, `i` cycling over `0..n` across batches (a batch shorter than the pool
/// must not start again at 0, or the miss column would time cache hits): the median of 5
/// batches of about [`BATCH`].
fn per_op(n: usize, mut f: impl FnMut(usize)) -> f64 {
    let mut next = 0usize;
    let mut batch = |iters: usize| {
        let start = Instant::now();
        for _ in 0..iters {
            f(next);
            next = (next + 1) % n;
        }
        start.elapsed().as_nanos() as f64
    };
    let mut iters = 1usize;
    loop {
        let elapsed = batch(iters);
        if elapsed >= BATCH.as_nanos() as f64 / 4.0 || iters > 1 << 26 {
            iters = ((iters as f64) * BATCH.as_nanos() as f64 / elapsed.max(1.0)).ceil() as usize;
            break;
        }
        iters *= 4;
    }
    let mut batches: Vec<f64> = (0..5).map(|_| batch(iters) / iters as f64).collect();
    batches.sort_by(f64::total_cmp);
    batches[2]
}
