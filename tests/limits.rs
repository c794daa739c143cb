#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code
//! The work one request costs is linear in its size. Tokens at the size limit (16 KiB, padded
//! with one big claim, validly signed RS256 and HS256) go through `authn::authenticate` and are
//! compared with a normal token and a half-size one:
//!
//! - memory: a counting global allocator (this test binary only) measures the bytes
//!   requested while one request is authenticated; it must stay within a small multiple of the
//!   token's length plus a constant;
//! - time: the minimum over 30 runs (the minimum filters out preemption; no absolute times are
//!   asserted) of the big token against the normal one, and of the full-size against the
//!   half-size token: a quadratic path over 16 KiB would cost a hundred times a normal token,
//!   and four times the half-size one.
//!
//! Then the shapes a parser can choke on: nesting just under and over the depth limit (over it
//! is refused before the JSON parser and before any signature work), a 16 KiB bracket bomb,
//! and thousands of tiny claims at the top level (refused by the claim-count limit) or inside
//! one claim (accepted, linear).
//!
//! Every test takes one lock: the allocator's counters are process-wide.

use std::alloc::System;
use std::hint::black_box;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use jwt_authn_wasm::authn::{authenticate, Decision, Input};
use jwt_authn_wasm::authn::model::Config;
use jwt_authn_wasm::token::jws::MAX_TOKEN_BYTES;
use jwt_authn_wasm::error::AuthError;
use jwt_authn_wasm::token::jws::{MAX_CLAIMS, MAX_JSON_DEPTH, MAX_JSON_VALUES};
use jwt_authn_wasm::request::matcher::Request;
use jwt_mint::{jwks, Alg, Key};
use serde_json::{json, Value};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

const NOW: u64 = 1_700_000_000;
const RUNS: usize = 30;

// Bounds, set from measurements (in the report of `cargo test --test limits -- --nocapture`)
// with a wide margin; a path quadratic in the token would exceed each many times over.
/// Bytes allocated per byte of a big-claim token (measured 3.4 to 3.6: the decoded payload, the
/// parsed claims, the signing input kept with the verdict, the claims copied for authorization).
const BYTES_PER_TOKEN_BYTE: usize = 8;
/// Bytes allocated per byte of a token of thousands of tiny claims (measured about 23): each
/// 9-byte claim is a map entry of some 100 bytes, and the verified claims are copied once
/// more for the rule's authorization. MAX_JSON_VALUES caps the total.
const BYTES_PER_TINY_CLAIM_TOKEN_BYTE: usize = 32;
/// Allocation of a request apart from its token (headers, edits, a normal token's claims).
const CONSTANT_BYTES: usize = 16 * 1024;
/// RS256, 16 KiB token vs a normal one: the signature dominates (measured 1.02).
const MAX_RATIO_RS256: f64 = 4.0;
/// HS256, 16 KiB token vs a normal one (50 times longer): no signature cost dominates, so this
/// follows the length; measured 5.4. A path quadratic in the token would give hundreds.
const MAX_RATIO_HS256: f64 = 20.0;
/// Full-size vs half-size token: linear work gives about 2 at most (measured 1.0 to 1.5 for
/// RS256, 1.7 for HS256, 2.1 for a map of 1500 tiny claims, whose inserts are n log n),
/// quadratic work 4.
const MAX_DOUBLING_RATIO: f64 = 3.0;

struct Fixture {
    config: Config,
    rs: Key,
    hs: Key,
}

fn fixture() -> Fixture {
    let rs = Key::from_seed(Alg::RS256, "rs", 1);
    let hs = Key::hmac(Alg::HS256, "hs", b"a-secret-of-at-least-thirty-two-bytes!!");
    let text = json!({
        "providers": {"p": {
            "issuer": "https://issuer.example",
            "audiences": ["api"],
            "local_jwks": {"inline_string": jwks(&[&rs, &hs]).to_string()},
            "claim_to_headers": [{"header_name": "x-sub", "claim_name": "sub"}]
        }},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]
    })
    .to_string();
    Fixture {
        config: Config::parse(&text).unwrap(),
        rs,
        hs,
    }
}

fn claims() -> Value {
    json!({
        "iss": "https://issuer.example",
        "sub": "00u1a2b3c4d5e6f7g8h9",
        "aud": "api",
        "exp": NOW + 600,
        "iat": NOW,
        "scope": "openid profile orders:read",
        "jti": "AT.a1b2c3d4e5f6"
    })
}

/// The normal claims plus a claim `pad` of `n` characters.
fn padded(n: usize) -> Value {
    let mut c = claims();
    c["pad"] = json!("x".repeat(n));
    c
}

/// The longest token within `len` bytes made of the normal claims and a `pad` claim.
fn token_of_length(key: &Key, len: usize) -> String {
    let base = key.token(&padded(0)).len();
    // Each pad character is 4/3 of a base64url character.
    let mut n = (len.saturating_sub(base)) * 3 / 4 + 4;
    loop {
        let token = key.token(&padded(n));
        if token.len() <= len {
            return token;
        }
        n -= 1;
    }
}

fn headers(token: &str) -> Vec<(String, String)> {
    vec![
        (":path".to_string(), "/".to_string()),
        ("authorization".to_string(), format!("Bearer {token}")),
    ]
}

fn run(f: &Fixture, token: &str) -> Decision {
    run_with(f, &headers(token))
}

fn run_with(f: &Fixture, headers: &[(String, String)]) -> Decision {
    authenticate(Input::local(&f.config, &Request::new(headers), NOW)).decision
}

fn assert_allowed(f: &Fixture, token: &str, what: &str) {
    let d = run(f, token);
    assert!(matches!(d, Decision::Allow(_)), "{what}: {d:?}");
}

/// Bytes requested from the allocator while one request is authenticated (the least of three
/// runs, in case another thread allocated meanwhile).
fn allocated(f: &Fixture, token: &str) -> usize {
    let headers = headers(token);
    (0..3)
        .map(|_| {
            let region = Region::new(GLOBAL);
            black_box(run_with(f, &headers));
            region.change().bytes_allocated
        })
        .min()
        .unwrap()
}

/// The least time of [`RUNS`] runs of each token, the tokens taking turns so that a change of
/// machine load or clock speed falls on all of them alike.
fn min_times<const N: usize>(f: &Fixture, tokens: [&str; N]) -> [Duration; N] {
    let headers: Vec<_> = tokens.iter().map(|t| headers(t)).collect();
    let mut best = [Duration::MAX; N];
    for _ in 0..RUNS {
        for (i, h) in headers.iter().enumerate() {
            let start = Instant::now();
            black_box(run_with(f, h));
            best[i] = best[i].min(start.elapsed());
        }
    }
    best
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

/// A signed token whose payload is `payload` as given (any text, JSON or not).
fn raw_token(key: &Key, payload: &str) -> String {
    key.sign_text(&key.header().to_string(), payload)
}

#[test]
fn a_token_at_the_size_limit_costs_linear_memory_and_time() {
    let _serial = serial();
    let f = fixture();
    for key in [&f.rs, &f.hs] {
        let alg = key.alg();
        let normal = key.token(&claims());
        let half = token_of_length(key, MAX_TOKEN_BYTES / 2);
        let max = token_of_length(key, MAX_TOKEN_BYTES);
        assert!(
            max.len() > MAX_TOKEN_BYTES - 4,
            "{alg}: {} bytes",
            max.len()
        );
        assert_eq!(
            run(
                &f,
                &format!("{max}{}", "x".repeat(MAX_TOKEN_BYTES + 1 - max.len()))
            ),
            Decision::Deny(AuthError::JwtTooLarge),
            "{alg}: one byte more is refused"
        );
        for (token, what) in [(&normal, "normal"), (&half, "half"), (&max, "max")] {
            assert_allowed(&f, token, &format!("{alg} {what}"));
        }

        let (bytes_normal, bytes_max) = (allocated(&f, &normal), allocated(&f, &max));
        eprintln!(
            "{alg}: allocated {bytes_normal} bytes for a {}-byte token, {bytes_max} for {} bytes ({:.1} per byte)",
            normal.len(),
            max.len(),
            bytes_max as f64 / max.len() as f64
        );
        assert!(
            bytes_max <= BYTES_PER_TOKEN_BYTE * max.len() + CONSTANT_BYTES,
            "{alg}: {bytes_max} bytes allocated for a {}-byte token",
            max.len()
        );

        let [t_normal, t_half, t_max] = min_times(&f, [&normal, &half, &max]);
        let (r_max, r_doubling) = (ratio(t_max, t_normal), ratio(t_max, t_half));
        eprintln!(
            "{alg}: min of {RUNS} runs: normal {t_normal:?}, half {t_half:?}, max {t_max:?}; max/normal {r_max:.2}, max/half {r_doubling:.2}"
        );
        let bound = if alg == Alg::RS256 {
            MAX_RATIO_RS256
        } else {
            MAX_RATIO_HS256
        };
        assert!(
            r_max <= bound,
            "{alg}: a 16 KiB token costs {r_max:.1} times a normal one (bound {bound})"
        );
        assert!(
            r_doubling <= MAX_DOUBLING_RATIO,
            "{alg}: doubling the token multiplies its cost by {r_doubling:.1}"
        );
    }
}

/// `depth` arrays nested in a claim; the claims object adds one level.
fn nested_claims(depth: usize) -> Value {
    let mut v = json!(1);
    for _ in 1..depth {
        v = json!([v]);
    }
    let mut c = claims();
    c["n"] = v;
    c
}

#[test]
fn nesting_under_the_limit_passes_and_over_it_is_refused_cheaply() {
    let _serial = serial();
    let f = fixture();
    let normal = f.rs.token(&claims());
    let at = f.rs.token(&nested_claims(MAX_JSON_DEPTH));
    assert_allowed(&f, &at, "depth at the limit");
    let over = f.rs.token(&nested_claims(MAX_JSON_DEPTH + 1));
    assert_eq!(
        run(&f, &over),
        Decision::Deny(AuthError::JwtPayloadParseErrorBadJson)
    );
    // A bracket bomb filling the token, signed: far deeper than serde_json's own limit.
    let budget = (MAX_TOKEN_BYTES - f.rs.token(&json!({})).len()) * 3 / 4;
    let bomb = raw_token(&f.rs, &"[".repeat(budget));
    assert!(bomb.len() <= MAX_TOKEN_BYTES && bomb.len() > MAX_TOKEN_BYTES - 8);
    assert_eq!(
        run(&f, &bomb),
        Decision::Deny(AuthError::JwtPayloadParseErrorBadJson)
    );
    // Refused before the JSON parser builds anything (only the decoded header and payload)
    // and before the signature: cheaper than verifying a normal RS256 token.
    let bytes = allocated(&f, &bomb);
    eprintln!(
        "bracket bomb of {} bytes: {bytes} bytes allocated",
        bomb.len()
    );
    assert!(bytes <= bomb.len() + CONSTANT_BYTES, "{bytes}");
    let [t_bomb, t_normal] = min_times(&f, [&bomb, &normal]);
    eprintln!("bracket bomb: {t_bomb:?}, a normal RS256 token: {t_normal:?}");
    assert!(t_bomb < t_normal, "{t_bomb:?} vs {t_normal:?}");
}

#[test]
fn thousands_of_tiny_claims() {
    let _serial = serial();
    let f = fixture();
    // At the top level: refused by the claim count, before parsing.
    let mut top = claims();
    for i in 0..1300 {
        top[format!("c{i}")] = json!(1);
    }
    let top = f.hs.token(&top);
    assert!(top.len() <= MAX_TOKEN_BYTES, "{}", top.len());
    assert_eq!(run(&f, &top), Decision::Deny(AuthError::JwtTooLarge));
    let bytes = allocated(&f, &top);
    eprintln!(
        "{} top-level claims in {} bytes: refused, {bytes} bytes allocated",
        1300 + 7,
        top.len()
    );
    assert!(bytes <= top.len() + CONSTANT_BYTES, "{bytes}");

    // Just under the count limit, accepted.
    let mut under = claims();
    for i in 0..MAX_CLAIMS - 7 {
        under[format!("c{i}")] = json!(1);
    }
    assert_allowed(&f, &f.hs.token(&under), "claims at the limit");

    // Inside one claim, as many as the size and value limits let through: accepted, linear.
    for key in [&f.hs, &f.rs] {
        let alg = key.alg();
        let mut n = 0;
        let mut best = None;
        loop {
            let mut c = claims();
            c["ext"] = Value::Object((0..n).map(|i| (format!("{i:x}"), json!(0))).collect());
            // Object + claims + ext: values = 1 + 7 + 1 + n.
            let token = key.token(&c);
            if token.len() > MAX_TOKEN_BYTES || n + 9 > MAX_JSON_VALUES {
                break;
            }
            best = Some((n, token));
            n += 50;
        }
        let (n, token) = best.unwrap();
        assert_allowed(&f, &token, &format!("{alg} {n} tiny claims"));
        let bytes = allocated(&f, &token);
        eprintln!(
            "{alg}: {n} tiny claims in one claim, {} bytes: {bytes} bytes allocated ({:.1} per byte)",
            token.len(),
            bytes as f64 / token.len() as f64
        );
        assert!(
            bytes <= BYTES_PER_TINY_CLAIM_TOKEN_BYTE * token.len() + CONSTANT_BYTES,
            "{bytes}"
        );
        let normal = key.token(&claims());
        let half = {
            let mut c = claims();
            c["ext"] = Value::Object((0..n / 2).map(|i| (format!("{i:x}"), json!(0))).collect());
            key.token(&c)
        };
        let [t_normal, t_half, t_full] = min_times(&f, [&normal, &half, &token]);
        let r = ratio(t_full, t_half);
        eprintln!(
            "{alg}: {n} tiny claims {t_full:?}, half as many {t_half:?} (ratio {r:.2}), a normal token {t_normal:?}"
        );
        assert!(r <= MAX_DOUBLING_RATIO, "{alg}: doubling costs {r:.1}");
    }
}

#[test]
fn values_at_the_limit_stay_bounded() {
    let _serial = serial();
    let f = fixture();
    // `[0,0,...]`: the most values per byte JSON allows.
    let with_values = |n: usize| {
        let mut c = claims();
        // Object, 7 claims, the array: 9 values besides the elements.
        c["v"] = json!(vec![0; n - 9]);
        f.hs.token(&c)
    };
    let at = with_values(MAX_JSON_VALUES);
    assert_allowed(&f, &at, "values at the limit");
    assert_eq!(
        run(&f, &with_values(MAX_JSON_VALUES + 1)),
        Decision::Deny(AuthError::JwtTooLarge)
    );
    let bytes = allocated(&f, &at);
    eprintln!(
        "{MAX_JSON_VALUES} values in {} bytes: {bytes} bytes allocated ({:.1} per byte)",
        at.len(),
        bytes as f64 / at.len() as f64
    );
    // What the value limit is for: a 16 KiB token cannot make the parser build more than
    // MAX_JSON_VALUES values, whatever their shape.
    assert!(bytes <= 256 * 1024, "{bytes}");
}
