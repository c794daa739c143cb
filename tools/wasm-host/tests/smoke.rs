#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code
//! The filter on a second host: each build of `make dist`, compiled by wasmtime with the wasm
//! features of the hosts it is made for, loaded into this crate's proxy-wasm host and driven
//! through the smoke that Envoy's e2e runs (a valid token forwarded with its claim header and
//! without `Authorization`, a tampered one 401, a wrong audience 403, keys fetched from a
//! remote JWKS by callout), once per way a host may answer: Envoy's, Kong's with
//! `UNIMPLEMENTED` or a trap for the calls it leaves out, and a host refusing every optional
//! call. Every run must give the same verdicts and never trap.
//!
//! The builds are found beside `JWT_AUTHN_WASM` (default `dist/jwt_authn.wasm`); a missing one
//! fails the test with the command that makes it.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use jwt_mint::{b64url, b64url_decode, jwks, Alg, Key};
use serde_json::{json, Value};
use wasm_host::{Build, Features, Host, Mode, Outcome, Upstream};

const ISS: &str = "https://issuer.host.example";
const REMOTE_ISS: &str = "https://remote.host.example";
const AUD: &str = "api.host.example";
const AUTHORITY: &str = "api.example";

const MODES: [Mode; 4] = [
    Mode::Envoy,
    Mode::KongUnimplemented,
    Mode::KongTrap,
    Mode::RefuseOptional,
];

/// The builds and the features of their target hosts.
fn builds() -> Vec<(PathBuf, Features)> {
    let default = std::env::var_os("JWT_AUTHN_WASM").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dist/jwt_authn.wasm"),
        PathBuf::from,
    );
    let dir = default.parent().unwrap().to_path_buf();
    let builds = vec![
        (default, Features::RelaxedSimd),
        (dir.join("jwt_authn.simd128.wasm"), Features::Simd128),
        (dir.join("jwt_authn.portable.wasm"), Features::NoSimd),
    ];
    for (path, _) in &builds {
        assert!(
            path.is_file(),
            "{} not found: run `make dist` (or set JWT_AUTHN_WASM to dist/jwt_authn.wasm)",
            path.display()
        );
    }
    builds
}

struct Keys {
    local: Key,
    remote: Key,
}

fn keys() -> Keys {
    Keys {
        local: Key::from_seed(Alg::RS256, "local-1", 19),
        remote: Key::from_seed(Alg::ES256, "remote-1", 19),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims(iss: &str, aud: &str) -> Value {
    let t = now();
    json!({"iss": iss, "aud": aud, "sub": "alice", "iat": t, "exp": t + 3600})
}

fn config(keys: &Keys) -> String {
    json!({
        "providers": {
            "local": {
                "issuer": ISS, "audiences": [AUD],
                "local_jwks": {"inline_string": jwks(&[&keys.local]).to_string()},
                "claim_to_headers": [{"header_name": "x-jwt-sub", "claim_name": "sub"}]
            },
            "remote": {
                "issuer": REMOTE_ISS, "audiences": [AUD],
                "remote_jwks": {"http_uri": {"uri": "http://idp.example/jwks", "cluster": "idp",
                    "timeout": "2s"}},
                "claim_to_headers": [{"header_name": "x-jwt-sub", "claim_name": "sub"}]
            }
        },
        // The host knows no route name (a property Envoy has, others may not): this rule
        // never matches, and asking costs a property call the host may refuse.
        "rules": [
            {"match": {"prefix": "/", "route_name": "admin-route"},
                "requires": {"provider_name": "remote"}},
            {"match": {"prefix": "/local"}, "requires": {"provider_name": "local"}},
            {"match": {"prefix": "/remote"}, "requires": {"provider_name": "remote"}}
        ]
    })
    .to_string()
}

fn get(host: &mut Host, path: &str, token: &str) -> Outcome {
    let auth = format!("Bearer {token}");
    host.request(&[
        (":method", "GET"),
        (":path", path),
        (":authority", AUTHORITY),
        (":scheme", "http"),
        ("authorization", &auth),
    ])
    .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// The token with one bit of its signature flipped.
fn tampered(token: &str) -> String {
    let (input, sig) = token.rsplit_once('.').unwrap();
    let mut raw = b64url_decode(sig).unwrap();
    let mid = raw.len() / 2;
    raw[mid] ^= 1;
    format!("{input}.{}", b64url(&raw))
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A valid token is forwarded with its claim header and without `Authorization`.
fn assert_forwarded(outcome: &Outcome, what: &str, log: &str) {
    let Outcome::Forwarded(headers) = outcome else {
        panic!("{what}: expected the request forwarded, got {outcome:?}\n{log}");
    };
    assert_eq!(header(headers, "x-jwt-sub"), Some("alice"), "{what}\n{log}");
    assert_eq!(header(headers, "authorization"), None, "{what}\n{log}");
}

/// A refusal with native's status, body and `WWW-Authenticate`.
fn assert_refused(outcome: &Outcome, status: u32, body: &str, path: &str, what: &str, log: &str) {
    let Outcome::Reply(reply) = outcome else {
        panic!("{what}: expected a {status} reply, got {outcome:?}\n{log}");
    };
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (status, body),
        "{what}\n{log}"
    );
    let realm = format!("Bearer realm=\"http://{AUTHORITY}{path}\", error=\"invalid_token\"");
    assert_eq!(
        reply.header("www-authenticate"),
        Some(realm.as_str()),
        "{what}\n{log}"
    );
}

/// What the RSA engine line of a build says on this runtime: each build runs the engine it was
/// made with (the default one: fused multiply-add where wasmtime fuses relaxed SIMD's, on an
/// x64 with FMA or on arm64).
fn engine_line(features: Features) -> &'static [&'static str] {
    match features {
        Features::RelaxedSimd => &[
            "50-bit limbs with fused multiply-add",
            "this host does not fuse multiply-add",
        ],
        Features::Simd128 => &["28-bit limbs with SIMD128: this build (jwt_authn.simd128.wasm)"],
        Features::NoSimd => &["28-bit limbs without SIMD: this build (jwt_authn.portable.wasm)"],
    }
}

fn smoke(build: &Build, features: Features, mode: Mode, keys: &Keys, config: &str) {
    let what = |case: &str| format!("{case} ({mode:?})");
    let mut host = build
        .start(mode, "", config)
        .unwrap_or_else(|e| panic!("start ({mode:?}): {e}"));
    let jwks_body = jwks(&[&keys.remote]).to_string().into_bytes();
    host.upstream(
        "idp",
        Upstream {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: jwks_body,
        },
    );

    let good = keys.local.token(&claims(ISS, AUD));
    let outcome = get(&mut host, "/local/a", &good);
    assert_forwarded(&outcome, &what("valid token"), &host.log());

    let outcome = get(&mut host, "/local/a", &tampered(&good));
    let log = host.log();
    assert_refused(
        &outcome,
        401,
        "Jwt verification fails",
        "/local/a",
        &what("tampered"),
        &log,
    );

    let other_aud = keys.local.token(&claims(ISS, "other.example"));
    let outcome = get(&mut host, "/local/b", &other_aud);
    let log = host.log();
    assert_refused(
        &outcome,
        403,
        "Audiences in Jwt are not allowed",
        "/local/b",
        &what("wrong audience"),
        &log,
    );

    // Keys by callout: the first request waits for the fetch the tick starts.
    let remote = keys.remote.token(&claims(REMOTE_ISS, AUD));
    let outcome = get(&mut host, "/remote", &remote);
    assert_forwarded(&outcome, &what("remote JWKS"), &host.log());
    let fetched = host
        .answered_callouts()
        .iter()
        .find(|c| c.upstream == "idp");
    let fetched = fetched.unwrap_or_else(|| panic!("no callout to idp ({mode:?})"));
    assert_eq!(header(&fetched.headers, ":path"), Some("/jwks"));
    assert_eq!(header(&fetched.headers, ":authority"), Some("idp.example"));
    let outcome = get(&mut host, "/remote", &tampered(&remote));
    let log = host.log();
    assert_refused(
        &outcome,
        401,
        "Jwt verification fails",
        "/remote",
        &what("remote tampered"),
        &log,
    );

    // One more round hands the counters over.
    host.round().unwrap();
    assert!(
        !host.calls().contains(&"proxy_get_log_level"),
        "the filter asked for the host's log level ({mode:?})"
    );
    assert!(
        host.calls().contains(&"proxy_get_property"),
        "{:?}",
        host.calls()
    );
    match mode {
        Mode::RefuseOptional => {
            assert_eq!(host.metric("jwt_authn.allowed"), None);
            assert_eq!(host.log(), "", "refused log lines must not show");
        }
        _ => {
            assert_eq!(host.metric("jwt_authn.allowed"), Some(2), "{}", host.log());
            assert_eq!(host.metric("jwt_authn.denied"), Some(3), "{}", host.log());
            let log = host.log();
            let line = log
                .lines()
                .find(|l| l.contains("RSA signatures checked on"));
            let line = line.unwrap_or_else(|| panic!("no engine line:\n{log}"));
            assert!(
                engine_line(features).iter().any(|want| line.contains(want)),
                "{features:?}: {line}"
            );
            if mode == Mode::Envoy {
                eprintln!("{features:?} on wasmtime: {line}");
            }
        }
    }
}

#[test]
fn every_build_gives_the_smoke_verdicts_on_every_kind_of_host() {
    let keys = keys();
    let config = config(&keys);
    for (path, features) in builds() {
        let build = Build::load(&path, features).unwrap_or_else(|e| panic!("{e}"));
        for mode in MODES {
            smoke(&build, features, mode, &keys, &config);
        }
    }
}

/// The features knob is real: each SIMD build is refused by an engine without the feature it
/// needs (as its older hosts would refuse it), so the runs above do test each build under
/// the features of its target.
#[test]
fn a_build_is_refused_by_an_engine_without_its_features() {
    let builds = builds();
    let refused = [
        (&builds[0].0, Features::Simd128, "relaxed SIMD"),
        (&builds[1].0, Features::NoSimd, "SIMD"),
    ];
    for (path, features, lacking) in refused {
        assert!(
            Build::load(path, features).is_err(),
            "{} loaded without {lacking}",
            path.display()
        );
    }
}

/// A host that will not add the claim header or remove `Authorization` (or a forged claim
/// header) gets no request sent on: a 500, never the request as the client sent it.
#[test]
fn a_request_whose_headers_the_host_will_not_edit_is_not_sent_on() {
    let keys = keys();
    let config = config(&keys);
    for (path, features) in builds() {
        let build = Build::load(&path, features).unwrap_or_else(|e| panic!("{e}"));
        let mut host = build
            .start(Mode::RefuseHeaderEdits, "", &config)
            .unwrap_or_else(|e| panic!("{e}"));
        let good = keys.local.token(&claims(ISS, AUD));
        let outcome = get(&mut host, "/local/a", &good);
        let Outcome::Reply(reply) = &outcome else {
            panic!(
                "{}: expected a 500, got {outcome:?}\n{}",
                path.display(),
                host.log()
            );
        };
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (500, "jwt_authn: host error")
        );
        // Refusals need no edit: still native's.
        let outcome = get(&mut host, "/local/a", &tampered(&good));
        let log = host.log();
        assert_refused(
            &outcome,
            401,
            "Jwt verification fails",
            "/local/a",
            "tampered",
            &log,
        );
    }
}

/// A refused configuration is a `false` from `on_configure` with the field named in the log,
/// on every host (no trap when the host also refuses the log line).
#[test]
fn a_bad_configuration_is_refused_with_its_field_named() {
    let (path, features) = builds().remove(0);
    let build = Build::load(&path, features).unwrap();
    for mode in MODES {
        let refused = build.start(mode, "", r#"{"providers": {}, "log_level": "loud"}"#);
        let Err(message) = refused else {
            panic!("a bad log_level was accepted ({mode:?})");
        };
        assert!(message.contains("proxy_on_configure refused"), "{message}");
        assert!(!message.contains("trap"), "{message}");
        if mode != Mode::RefuseOptional {
            assert!(message.contains("log_level"), "{message}");
        }
    }
}
