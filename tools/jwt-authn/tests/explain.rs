//! `jwt-authn explain` answers as the filter does, and says why.
//!
//! - The conformance corpus: every case the Envoy conformance test runs (same skips, same
//!   configuration per case, same time-neutral providers), explained at the clock of the native
//!   run, gives the verdict native `jwt_authn` gave (status name through the body text, HTTP
//!   status, `www-authenticate`), except the rows of the one `ALLOWED_DIFFERENCES` table that
//!   tests/envoy/conformance.rs also reads. That test proves the filter in Envoy gives those same
//!   answers: together, explain's answer is the filter's answer in Envoy.
//! - The trace of hand-picked cases (expired, wrong audience, unknown kid), `--json` against the
//!   text, a secret never printed, `--fetch` from a JWKS served on 127.0.0.1, over http and
//!   over https (a CA made by the test, trusted with `--ca-file` or not), shadow mode.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use jwt_mint::{jwks, Alg, Key};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::PrivatePkcs8KeyDer;
use serde_json::{json, Value};

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/conformance/corpus.json"
);

include!("../../../tests/data/conformance/verdicts.rs");

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jwt-authn"))
        .args(args)
        .output()
        .expect("run jwt-authn")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes a file of its own (tests run in parallel): `name` prefixed with a fresh number.
fn write(name: &str, text: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("{n}-{name}");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("jwt-authn-explain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `explain --json`: the exit code and the parsed object.
fn explain_json(config: &Path, args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec!["explain", config.to_str().unwrap(), "--json"];
    all.extend_from_slice(args);
    let out = run(&all);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            stdout(&out),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), v)
}

/// `YYYY-MM-DDTHH:MM:SSZ` → unix seconds.
fn unix_seconds(utc: &str) -> u64 {
    let n = |r: std::ops::Range<usize>| utc[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)) as u64
}

/// Explain's answer as a verdict: the status name through the body text (as the Envoy test
/// reads the filter's), the HTTP status, `www-authenticate`.
fn verdict(answer: &Value, bodies: &HashMap<String, String>) -> Verdict {
    if answer["action"] == "continue" {
        return Verdict {
            status: "Ok".into(),
            http: Some(200),
            www: None,
        };
    }
    let body = answer["body"].as_str().unwrap_or_default();
    Verdict {
        status: bodies
            .get(body)
            .cloned()
            .unwrap_or_else(|| format!("UNKNOWN(body {body:?})")),
        http: answer["status"].as_u64().map(|s| s as u16),
        www: normalise_www(answer["www_authenticate"].as_str()),
    }
}

#[test]
fn the_conformance_corpus_is_answered_as_native_jwt_authn() {
    let corpus: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(CORPUS).unwrap()).unwrap();
    let bodies = body_table(&corpus);
    let mut tally = Tally::default();
    let (mut cases, mut skipped, mut refused) = (0, 0, 0);
    for (index, c) in corpus.iter().enumerate() {
        let id = c["id"].as_str().unwrap_or("?");
        // The Envoy test's skips: PEM-only cases cannot be a JWKS.
        if c["jwks_type"] == "PEM" || !c["jwks"].is_string() {
            skipped += 1;
            continue;
        }
        cases += 1;
        let (provider, provider_tn) = case_provider(c);
        // The Envoy test's configuration of one case: its provider and its time-neutral twin.
        let config = json!({
            "providers": {format!("case{index}"): provider, format!("tn{index}"): provider_tn},
            "rules": [
                {"match": {"path": format!("/case/{index}")}, "requires": {"provider_name": format!("case{index}")}},
                {"match": {"path": format!("/tn/{index}")}, "requires": {"provider_name": format!("tn{index}")}},
            ]
        });
        let path = write(&format!("case{index}.json"), &config.to_string());
        let now = unix_seconds(c["native_run_utc"].as_str().unwrap()).to_string();
        let authorization = c["request"]["authorization"]
            .as_str()
            .map(|a| format!("authorization: {a}"));
        let mut ours = Vec::new();
        for route in [format!("/case/{index}"), format!("/tn/{index}")] {
            let mut args = vec![
                "explain",
                path.to_str().unwrap(),
                "--json",
                "--path",
                &route,
                "--now",
                &now,
            ];
            if let Some(a) = &authorization {
                args.extend(["--header", a]);
            }
            let out = run(&args);
            let v = match out.status.code() {
                // A configuration the filter refuses: no request reaches it.
                Some(2) => {
                    assert!(
                        String::from_utf8_lossy(&out.stderr).contains(path.to_str().unwrap()),
                        "{id}: {out:?}"
                    );
                    Verdict::rejected()
                }
                code => {
                    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
                    let answer = &v["answer"];
                    // The exit code follows the answer.
                    let want = if answer["action"] == "continue" { 0 } else { 1 };
                    assert_eq!(code, Some(want), "{id} {route}");
                    verdict(answer, &bodies)
                }
            };
            ours.push((route, v));
        }
        if ours.iter().any(|(_, v)| *v == Verdict::rejected()) {
            refused += 1;
        }
        let native = native_verdict(c, "native");
        let native_tn = native_verdict(c, "native_time_neutral");
        tally.compare(id, &ours[0].0, &ours[0].1, &native);
        tally.compare(id, &ours[1].0, &ours[1].1, &native_tn);
    }
    let stale: Vec<String> = ALLOWED_DIFFERENCES
        .iter()
        .enumerate()
        .filter(|(i, _)| !tally.used_allowances.contains(i))
        .map(|(_, (id, ours, native, _))| format!("({id}, {ours}, {native})"))
        .collect();
    println!(
        "explain conformance: {} agree / {} allowed-diff / {} disagree ({cases} cases x 2 routes, {refused} configurations refused, {skipped} not runnable)",
        tally.agree,
        tally.allowed.len(),
        tally.disagree.len()
    );
    assert!(cases > 200, "the corpus shrank: {cases} runnable cases");
    assert!(
        tally.disagree.is_empty() && stale.is_empty(),
        "explain disagrees with native jwt_authn:\n  {}\nunused allowances: {stale:?}",
        tally.disagree.join("\n  ")
    );
}

// ---- Hand-picked cases ----------------------------------------------------------------------

const NOW: u64 = 1_800_000_000;
const ISS: &str = "https://issuer.example";

/// The signing key of the hand-picked cases.
fn signer() -> Key {
    Key::from_seed(Alg::ES256, "es-1", 11)
}

/// A provider `demo` with local keys, audience `api`, 60 s of clock skew, `sub` forwarded.
fn demo_config(extra_rule: Value) -> PathBuf {
    let key = signer();
    let mut rule = json!({"match": {"prefix": "/"}, "requires": {"provider_name": "demo"}});
    if let (Some(rule), Some(extra)) = (rule.as_object_mut(), extra_rule.as_object()) {
        rule.extend(extra.clone());
    }
    let config = json!({
        "providers": {"demo": {
            "issuer": ISS, "audiences": ["api"], "clock_skew_seconds": 60,
            "local_jwks": {"inline_string": jwks(&[&key]).to_string()},
            "claim_to_headers": [{"header_name": "x-sub", "claim_name": "sub"}],
            "forward": false
        }},
        "rules": [rule]
    });
    write("demo.json", &config.to_string())
}

fn claims(changes: Value) -> Value {
    let mut c =
        json!({"iss": ISS, "aud": "api", "sub": "alice", "iat": NOW - 10, "exp": NOW + 600});
    for (k, v) in changes.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

fn checks<'v>(v: &'v Value, name: &str) -> Vec<&'v Value> {
    v["trace"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "check" && e["check"] == name)
        .collect()
}

#[test]
fn a_good_token_continues_with_the_filters_header_edits() {
    let config = demo_config(json!({}));
    let token = signer().token(&claims(json!({})));
    let bearer = format!("Authorization: Bearer {token}");
    let now = NOW.to_string();
    let (code, v) = explain_json(
        &config,
        &["--path", "/x", "--header", &bearer, "--now", &now],
    );
    assert_eq!(code, Some(0), "{v:#}");
    let answer = &v["answer"];
    assert_eq!(answer["action"], "continue");
    // The generated header removed first, the token header removed (`forward: false`), the
    // claim added.
    assert_eq!(answer["remove_headers"], json!(["x-sub", "authorization"]));
    assert_eq!(answer["add_headers"], json!([["x-sub", "alice"]]));
    assert_eq!(v["rule"]["index"], 0);
    assert_eq!(
        v["requirement"],
        json!({"provider": "demo", "audiences": null})
    );
    // Every check in native order, each passed, then the signature with the key chosen.
    let order: Vec<&str> = v["trace"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "check")
        .map(|e| e["check"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["iss", "exp", "aud", "signature"]);
    let key = v["trace"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "key")
        .unwrap();
    assert_eq!(
        (&key["kid"], &key["kty"], &key["alg"], &key["outcome"]),
        (
            &json!("es-1"),
            &json!("EC P-256"),
            &json!("ES256"),
            &json!("signature verified")
        )
    );
    // The token's header and payload, decoded.
    let token_event = v["trace"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "token")
        .unwrap();
    assert_eq!(token_event["payload"]["sub"], "alice");
    assert_eq!(token_event["header"]["kid"], "es-1");
    assert_eq!(token_event["location"]["header"], "authorization");
}

#[test]
fn an_expired_token_shows_exp_now_and_skew() {
    let config = demo_config(json!({}));
    let exp = NOW - 61;
    let token = signer().token(&claims(json!({"exp": exp})));
    let bearer = format!("Authorization: Bearer {token}");
    let now = NOW.to_string();
    let args = ["--path", "/x", "--header", &bearer, "--now", &now];
    let (code, v) = explain_json(&config, &args);
    assert_eq!(code, Some(1));
    let exp_check = checks(&v, "exp");
    assert_eq!(exp_check.len(), 1);
    assert_eq!(exp_check[0]["pass"], false);
    let detail = exp_check[0]["detail"].as_str().unwrap();
    assert!(detail.contains(&format!("exp {exp}")), "{detail}");
    assert!(detail.contains(&format!("now {NOW}")), "{detail}");
    assert!(detail.contains("skew 60s"), "{detail}");
    assert!(
        detail.contains(&format!("valid through {}", exp + 60)),
        "{detail}"
    );
    // No key is looked at after a failed claim check (native order).
    assert!(checks(&v, "signature").is_empty());
    let answer = &v["answer"];
    assert_eq!(
        (&answer["status"], &answer["body"], &answer["status_name"]),
        (&json!(401), &json!("Jwt is expired"), &json!("JwtExpired"))
    );
    assert_eq!(
        answer["www_authenticate"],
        "Bearer realm=\"http://localhost/x\", error=\"invalid_token\""
    );
    // The text form tells the same.
    let mut text_args = vec!["explain", config.to_str().unwrap()];
    text_args.extend_from_slice(&args);
    let text = stdout(&run(&text_args));
    assert!(
        text.contains(&format!(
            "FAIL exp: exp {exp}; now {NOW}, clock skew 60s: valid through {}",
            exp + 60
        )),
        "{text}"
    );
    assert!(text.contains("status: 401 Unauthorized"), "{text}");
    assert!(text.contains("body: Jwt is expired"), "{text}");
    assert!(
        text.contains(
            "www-authenticate: Bearer realm=\"http://localhost/x\", error=\"invalid_token\""
        ),
        "{text}"
    );
}

#[test]
fn a_wrong_audience_shows_both() {
    let config = demo_config(json!({}));
    let token = signer().token(&claims(json!({"aud": ["other", "third"]})));
    let bearer = format!("Authorization: Bearer {token}");
    let now = NOW.to_string();
    let (code, v) = explain_json(
        &config,
        &[
            "--path",
            "/x",
            "--header",
            &bearer,
            "--now",
            &now,
            "--header",
            "host: api.example",
        ],
    );
    assert_eq!(code, Some(1));
    let aud = checks(&v, "aud");
    assert_eq!(aud[0]["pass"], false);
    let detail = aud[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains(r#"["other", "third"]"#) && detail.contains(r#"["api"]"#),
        "{detail}"
    );
    assert_eq!(v["answer"]["status"], 403);
    assert_eq!(v["answer"]["status_name"], "JwtAudienceNotAllowed");
    assert_eq!(
        v["answer"]["www_authenticate"],
        "Bearer realm=\"http://api.example/x\", error=\"invalid_token\""
    );
}

#[test]
fn an_unknown_kid_shows_the_keys_skipped() {
    let config = demo_config(json!({}));
    let token = signer().with_kid("rotated").token(&claims(json!({})));
    let bearer = format!("Authorization: Bearer {token}");
    let now = NOW.to_string();
    let (code, v) = explain_json(
        &config,
        &["--path", "/x", "--header", &bearer, "--now", &now],
    );
    assert_eq!(code, Some(1));
    let keys: Vec<&Value> = v["trace"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "key")
        .collect();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kid"], "es-1");
    assert_eq!(keys[0]["outcome"], "skipped, kid differs");
    assert_eq!(v["answer"]["status_name"], "JwksKidAlgMismatch");
    assert_eq!(
        v["answer"]["body"],
        "Jwks doesn't have key to match kid or alg from Jwt"
    );
}

/// An HMAC provider: its secret must appear in neither form, whatever the token.
#[test]
fn a_secret_is_never_printed() {
    let secret = b"explain-must-never-print-this-32b";
    let key = Key::hmac(Alg::HS256, "hs-1", secret);
    let k = jwt_mint::b64url(secret);
    let config = json!({
        "providers": {"hs": {"issuer": ISS,
            "local_jwks": {"inline_string": json!({"keys": [key.private_jwk()]}).to_string()}}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "hs"}}]
    });
    assert!(
        config.to_string().contains(&k),
        "the configuration holds the secret"
    );
    let path = write("hmac.json", &config.to_string());
    let now = NOW.to_string();
    let good = key.token(&claims(json!({})));
    let forged = Key::hmac(Alg::HS256, "hs-1", b"another-secret-another-secret-32")
        .token(&claims(json!({})));
    for token in [good, forged, "not.a.token".to_string()] {
        let bearer = format!("Authorization: Bearer {token}");
        for json_flag in [true, false] {
            let mut args = vec![
                "explain",
                path.to_str().unwrap(),
                "--path",
                "/x",
                "--header",
                &bearer,
                "--now",
                &now,
            ];
            if json_flag {
                args.push("--json");
            }
            let out = run(&args);
            let all = [out.stdout.as_slice(), out.stderr.as_slice()].concat();
            let text = String::from_utf8_lossy(&all);
            assert!(
                !text.contains(&k),
                "the base64url secret is printed:\n{text}"
            );
            assert!(
                !all.windows(secret.len()).any(|w| w == secret),
                "the secret bytes are printed:\n{text}"
            );
            // The key is still described.
            assert!(text.contains("hs-1") && text.contains("oct"), "{text}");
        }
    }
}

#[test]
fn json_and_text_carry_the_same_answer() {
    let config = demo_config(json!({}));
    let now = NOW.to_string();
    for token in [
        Some(signer().token(&claims(json!({})))),
        Some(signer().token(&claims(json!({"iss": "https://elsewhere.example"})))),
        None,
    ] {
        let mut args = vec![
            "--path".to_string(),
            "/p?q=1".into(),
            "--now".into(),
            now.clone(),
        ];
        if let Some(t) = &token {
            args.extend(["--header".into(), format!("Authorization: Bearer {t}")]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, v) = explain_json(&config, &args);
        let mut text_args = vec!["explain", config.to_str().unwrap()];
        text_args.extend_from_slice(&args);
        let out = run(&text_args);
        assert_eq!(out.status.code(), code);
        let text = stdout(&out);
        let answer = &v["answer"];
        if answer["action"] == "continue" {
            assert!(text.contains("the request continues"), "{text}");
        } else {
            assert!(
                text.contains(&format!(
                    "refused: {}",
                    answer["status_name"].as_str().unwrap()
                )),
                "{text}"
            );
            assert!(
                text.contains(&format!("status: {}", answer["status"])),
                "{text}"
            );
            assert!(
                text.contains(&format!("body: {}", answer["body"].as_str().unwrap())),
                "{text}"
            );
            assert!(
                text.contains(&format!(
                    "www-authenticate: {}",
                    answer["www_authenticate"].as_str().unwrap()
                )),
                "{text}"
            );
        }
    }
}

#[test]
fn a_shadow_rule_shows_the_would_be_refusal_and_continues() {
    let config = demo_config(json!({"shadow": {"header": "x-jwt-shadow"}}));
    let token = signer().token(&claims(json!({"exp": NOW - 3600})));
    let bearer = format!("Authorization: Bearer {token}");
    let now = NOW.to_string();
    let (code, v) = explain_json(
        &config,
        &["--path", "/x", "--header", &bearer, "--now", &now],
    );
    assert_eq!(code, Some(0), "{v:#}");
    let answer = &v["answer"];
    assert_eq!(answer["action"], "continue");
    assert_eq!(answer["shadow_refusal"]["status"], 401);
    assert_eq!(answer["shadow_refusal"]["status_name"], "JwtExpired");
    assert!(answer["add_headers"]
        .as_array()
        .unwrap()
        .contains(&json!(["x-jwt-shadow", "JwtExpired"])));
}

/// A remote provider; its JWKS served by the test itself on 127.0.0.1.
fn remote_config(uri: &str, discovery: bool) -> PathBuf {
    let mut remote = json!({"http_uri": {"uri": uri, "cluster": "idp", "timeout": "2s"}});
    if discovery {
        remote["oidc_discovery"] = json!(true);
    }
    let config = json!({
        "providers": {"idp": {"issuer": ISS, "remote_jwks": remote}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "idp"}}]
    });
    write("remote.json", &config.to_string())
}

/// Serves `documents` (path → body) over HTTP/1.1 on 127.0.0.1 for `requests` requests; the
/// base URI.
fn serve(documents: Vec<(String, String)>, requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    serve_on(listener, documents, requests);
    base
}

fn serve_on(listener: TcpListener, documents: Vec<(String, String)>, requests: usize) {
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                    break;
                }
            }
            let (status, body) = match documents.iter().find(|(p, _)| *p == path) {
                Some((_, body)) => ("200 OK", body.clone()),
                None => ("404 Not Found", String::new()),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
}

/// `explain --json --fetch` for a request to `/x` carrying a valid token of `key`, at [`NOW`],
/// with `extra` arguments.
fn fetch_explained(config: &Path, key: &Key, extra: &[&str]) -> (Option<i32>, Value) {
    let token = key.token(&claims(json!({})));
    let bearer = format!("Authorization: Bearer {token}");
    let now = NOW.to_string();
    let mut args = vec!["--path", "/x", "--header", &bearer, "--now", &now, "--fetch"];
    args.extend_from_slice(extra);
    explain_json(config, &args)
}

#[test]
fn fetch_reads_the_jwks_from_the_identity_provider() {
    let key = signer();
    let base = serve(vec![("/jwks".into(), jwks(&[&key]).to_string())], 1);
    let config = remote_config(&format!("{base}/jwks"), false);
    let (code, v) = fetch_explained(&config, &key, &[]);
    assert_eq!(code, Some(0), "{v:#}");
    let source = v["providers"][0]["keys_source"].as_str().unwrap();
    assert!(source.contains(&format!("fetched {base}/jwks")), "{source}");
    assert_eq!(v["providers"][0]["keys"][0]["kid"], "es-1");
}

#[test]
fn fetch_follows_oidc_discovery() {
    let key = signer();
    let base = serve_discovery(&key);
    let config = remote_config(&format!("{base}/.well-known/openid-configuration"), true);
    let (code, v) = fetch_explained(&config, &key, &[]);
    assert_eq!(code, Some(0), "{v:#}");
    let source = v["providers"][0]["keys_source"].as_str().unwrap();
    assert!(source.contains(&format!("fetched {base}/keys")), "{source}");
}

/// A discovery document naming a JWKS on the same server (whose address is known only once it
/// listens); the base URI.
fn serve_discovery(key: &Key) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let documents = vec![
        (
            "/.well-known/openid-configuration".to_string(),
            json!({"issuer": ISS, "jwks_uri": format!("{base}/keys")}).to_string(),
        ),
        ("/keys".to_string(), jwks(&[key]).to_string()),
    ];
    serve_on(listener, documents, 2);
    base
}

#[test]
fn remote_keys_without_fetch_or_file_are_unavailable_as_after_a_failed_fetch() {
    let config = remote_config("https://idp.example/jwks", false);
    let token = signer().token(&claims(json!({})));
    let bearer = format!("Authorization: Bearer {token}");
    let now = NOW.to_string();
    let (code, v) = explain_json(
        &config,
        &["--path", "/x", "--header", &bearer, "--now", &now],
    );
    assert_eq!(code, Some(1));
    assert!(v["providers"][0]["keys_source"]
        .as_str()
        .unwrap()
        .starts_with("unavailable"));
    assert_eq!(v["answer"]["status_name"], "JwksFetchFail");
    assert_eq!(v["answer"]["body"], "Jwks remote fetch is failed");
    // The same keys from a file: allowed.
    let file = write("idp-jwks.json", &jwks(&[&signer()]).to_string());
    let spec = format!("idp={}", file.to_str().unwrap());
    let (code, v) = explain_json(
        &config,
        &[
            "--path", "/x", "--header", &bearer, "--now", &now, "--jwks", &spec,
        ],
    );
    assert_eq!(code, Some(0), "{v:#}");
}

// ---- `--fetch` over https ---------------------------------------------------------------------

/// An identity provider over TLS on 127.0.0.1: a CA and a server certificate for `127.0.0.1`
/// and `localhost` made for this server alone, the documents served as `serve_on` serves them,
/// and the paths asked for in order. Dropping it stops the server and joins its thread.
struct TlsIdp {
    /// `https://127.0.0.1:PORT`.
    base: String,
    /// The CA certificate, for `--ca-file`.
    ca_pem: PathBuf,
    served: Arc<Mutex<Vec<String>>>,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TlsIdp {
    /// `documents` gets the base URI (known once the server listens) and gives path → body.
    fn start(documents: impl FnOnce(&str) -> Vec<(String, String)>) -> TlsIdp {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "jwt-authn test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        // ring, as the client (`ureq`) has it: its `default_provider` is deprecated only for
        // lacking post-quantum key exchange, which a test on 127.0.0.1 has no use for.
        #[allow(deprecated)]
        let provider = rustls::crypto::ring::default_provider();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
            )
            .unwrap();

        // Bound before the thread starts: a client connecting from now on is queued.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("https://{addr}");
        let documents = documents(&base);
        let served = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (served, stop, config) = (served.clone(), stop.clone(), Arc::new(config));
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    // A client that refuses the certificate ends its connection: the next one.
                    if let Ok(stream) = stream {
                        if let Some(path) = answer_tls(stream, &config, &documents) {
                            served.lock().unwrap().push(path);
                        }
                    }
                }
            })
        };
        TlsIdp {
            base,
            ca_pem: write("ca.pem", &ca.pem()),
            served,
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn served(&self) -> Vec<String> {
        self.served.lock().unwrap().clone()
    }
}

impl Drop for TlsIdp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept; the loop sees `stop` and ends.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One request over TLS on `stream`: the path served, or `None` when the handshake or the
/// request failed (each read bounded by a deadline, so a silent client cannot hold the server).
fn answer_tls(
    stream: TcpStream,
    config: &Arc<rustls::ServerConfig>,
    documents: &[(String, String)],
) -> Option<String> {
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    let conn = rustls::ServerConnection::new(config.clone()).ok()?;
    let mut tls = rustls::StreamOwned::new(conn, stream);
    let path = {
        let mut reader = BufReader::new(&mut tls);
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let path = line.split_whitespace().nth(1)?.to_string();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).ok()? == 0 || h == "\r\n" {
                break;
            }
        }
        path
    };
    let (status, body) = match documents.iter().find(|(p, _)| *p == path) {
        Some((_, body)) => ("200 OK", body.clone()),
        None => ("404 Not Found", String::new()),
    };
    write!(
        tls,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    tls.conn.send_close_notify();
    tls.flush().ok()?;
    Some(path)
}

#[test]
fn fetch_over_https_trusts_a_private_ca_given_with_ca_file() {
    let key = signer();
    let idp = TlsIdp::start(|_| vec![("/jwks".into(), jwks(&[&key]).to_string())]);
    let config = remote_config(&format!("{}/jwks", idp.base), false);
    let ca = idp.ca_pem.to_str().unwrap();
    let (code, v) = fetch_explained(&config, &key, &["--ca-file", ca]);
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(v["answer"]["action"], "continue", "{v:#}");
    let source = v["providers"][0]["keys_source"].as_str().unwrap();
    assert!(
        source.contains(&format!("fetched {}/jwks", idp.base)),
        "{source}"
    );
    assert!(
        source.starts_with("remote_jwks, fetched https://127.0.0.1:"),
        "{source}"
    );
    assert_eq!(v["providers"][0]["keys"][0]["kid"], "es-1");
    assert_eq!(idp.served(), ["/jwks"]);
}

#[test]
fn fetch_over_https_without_the_ca_fails_on_the_certificate_as_the_filter_fails() {
    let key = signer();
    let idp = TlsIdp::start(|_| vec![("/jwks".into(), jwks(&[&key]).to_string())]);
    let config = remote_config(&format!("{}/jwks", idp.base), false);
    let (code, v) = fetch_explained(&config, &key, &[]);
    assert_eq!(code, Some(1), "{v:#}");
    let source = v["providers"][0]["keys_source"].as_str().unwrap();
    assert!(
        source.starts_with(&format!("unavailable: fetch failed: {}/jwks: ", idp.base)),
        "{source}"
    );
    // The webpki roots do not know the test's CA: rustls's own words for it.
    assert!(
        source.contains("invalid peer certificate: UnknownIssuer"),
        "{source}"
    );
    assert_eq!(v["answer"]["status_name"], "JwksFetchFail");
    assert_eq!(v["answer"]["status"], 401);
    assert_eq!(v["answer"]["body"], "Jwks remote fetch is failed");
    // No request reached the server: the handshake failed first.
    assert!(idp.served().is_empty(), "{:?}", idp.served());
}

#[test]
fn fetch_over_https_follows_oidc_discovery() {
    let key = signer();
    // The JWKS named by the discovery document at `localhost`: the certificate's other name.
    let idp = TlsIdp::start(|base| {
        let port = base.rsplit(':').next().unwrap();
        vec![
            (
                "/.well-known/openid-configuration".to_string(),
                json!({"issuer": ISS, "jwks_uri": format!("https://localhost:{port}/keys")})
                    .to_string(),
            ),
            ("/keys".to_string(), jwks(&[&key]).to_string()),
        ]
    });
    let port = idp.addr.port();
    let config = remote_config(
        &format!("{}/.well-known/openid-configuration", idp.base),
        true,
    );
    let ca = idp.ca_pem.to_str().unwrap();
    let (code, v) = fetch_explained(&config, &key, &["--ca-file", ca]);
    assert_eq!(code, Some(0), "{v:#}");
    let source = v["providers"][0]["keys_source"].as_str().unwrap();
    assert!(
        source.contains(&format!("fetched https://localhost:{port}/keys")),
        "{source}"
    );
    assert_eq!(idp.served(), ["/.well-known/openid-configuration", "/keys"]);
}

#[test]
fn a_ca_file_that_holds_no_usable_certificate_is_refused_with_exit_2() {
    let config = remote_config("https://idp.example/jwks", false);
    let c = config.to_str().unwrap();
    let empty = write("empty.pem", "");
    let no_cert = write(
        "key-only.pem",
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n-----END PRIVATE KEY-----\n",
    );
    let text = write("text.pem", "not a certificate\n");
    let not_base64 = write(
        "not-base64.pem",
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    );
    let bad_der = write(
        "bad-der.pem",
        "-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n",
    );
    let cases = [
        (
            "/nonexistent/ca.pem",
            "--ca-file /nonexistent/ca.pem: cannot read",
        ),
        (empty.to_str().unwrap(), "no certificate"),
        (no_cert.to_str().unwrap(), "no certificate"),
        (text.to_str().unwrap(), "no certificate"),
        (not_base64.to_str().unwrap(), "not PEM"),
        (
            bad_der.to_str().unwrap(),
            "certificate 1 is not a usable trust anchor (BadEncoding)",
        ),
    ];
    for (file, says) in cases {
        let out = run(&["explain", c, "--path", "/", "--fetch", "--ca-file", file]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {stderr}");
        assert!(stderr.contains(&format!("--ca-file {file}")), "{stderr}");
        assert!(stderr.contains(says), "{file}: {stderr}");
        assert!(out.stdout.is_empty(), "{file}");
    }
    // Without --fetch it has nothing to do: a usage error too.
    let out = run(&["explain", c, "--path", "/", "--ca-file", "/x.pem"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--ca-file is for --fetch"));
}

#[test]
fn usage_errors_exit_2() {
    let config = demo_config(json!({}));
    let c = config.to_str().unwrap();
    for args in [
        vec!["explain", c],
        vec!["explain", c, "--path"],
        vec!["explain", c, "--path", "/", "--now", "soon"],
        vec!["explain", c, "--path", "/", "--jwks", "demo=/nonexistent"],
        vec!["explain", c, "--path", "/", "--jwks", "nobody=/x"],
        vec!["explain", c, "--path", "/", "--header", "no colon"],
        vec!["explain", "/nonexistent.json", "--path", "/"],
    ] {
        assert_eq!(run(&args).status.code(), Some(2), "{args:?}");
    }
}
