//! The per-route policy table of the Envoy suite (tests/envoy/policy.rs, its rows in
//! tests/envoy/policy_table.rs) through `jwt-authn explain`: every row's request explained with
//! the same configuration and keys, and its answer held to the row's expectation (status, body,
//! `www-authenticate`; for a request that continues, the headers the upstream would see after
//! the filter's edits). The Envoy suite proves the filter gives those answers in Envoy.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    // The table's native column and a few reply bodies are the Envoy suite's only.
    dead_code
)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use jwt_mint::{jwks, Alg, Key};
use serde_json::{json, Value};

// ---- The table, with what it needs from the Envoy harness (tests/envoy/support/) ----------

mod body {
    include!("../../../tests/envoy/support/body.rs");
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// As the harness's: the same token with one bit of its signature flipped.
fn flip_signature_bit(token: &str) -> String {
    let (input, sig) = token.rsplit_once('.').unwrap();
    let mut raw = jwt_mint::b64url_decode(sig).unwrap();
    let mid = raw.len() / 2;
    raw[mid] ^= 0x01;
    format!("{input}.{}", jwt_mint::b64url(&raw))
}

include!("../../../tests/envoy/policy_table.rs");

// ---- Running it through explain ----------------------------------------------------------

fn write(name: &str, text: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("jwt-authn-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The authority the rows' realms name (the Envoy suite's listener).
const AUTHORITY: &str = "127.0.0.1:10000";

fn www(path: &str, challenge: Www) -> String {
    let path = &path[..path.len().min(256)];
    let mut v = format!("Bearer realm=\"http://{AUTHORITY}{path}\"");
    match challenge {
        Www::Missing => {}
        Www::Invalid => v.push_str(", error=\"invalid_token\""),
        Www::Insufficient(scope) => {
            v.push_str(", error=\"insufficient_scope\"");
            if let Some(s) = scope {
                v.push_str(&format!(", scope=\"{s}\""));
            }
        }
    }
    v
}

/// What is wrong with explain's answer `v` for `row` (`None`: nothing).
fn judge(row: &Check, v: &Value, code: Option<i32>) -> Option<String> {
    let answer = &v["answer"];
    match &row.expect {
        Expect::Pass(upstream) => {
            if answer["action"] != "continue" || code != Some(0) {
                return Some(format!("expected the request to continue, got {answer}"));
            }
            // The request headers as the upstream would see them: the client's, then the
            // filter's removals, then its additions.
            let removed: Vec<&str> = answer["remove_headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_str().unwrap())
                .collect();
            let mut seen: Vec<(String, String)> = row
                .headers
                .iter()
                .filter(|(n, _)| !removed.contains(&n.to_ascii_lowercase().as_str()))
                .cloned()
                .collect();
            for pair in answer["add_headers"].as_array().unwrap() {
                seen.push((
                    pair[0].as_str().unwrap().into(),
                    pair[1].as_str().unwrap().into(),
                ));
            }
            let problems: Vec<String> = upstream
                .iter()
                .filter_map(|(name, want)| {
                    let got = seen
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v.clone());
                    (&got != want)
                        .then(|| format!("upstream header {name}: expected {want:?}, got {got:?}"))
                })
                .collect();
            (!problems.is_empty()).then(|| problems.join("; "))
        }
        Expect::Fail(status, body, challenge) => {
            let want_www = www(&row.path, *challenge);
            let ok = answer["action"] == "reply"
                && code == Some(1)
                && answer["status"] == *status
                && answer["body"] == *body
                && answer["www_authenticate"] == want_www.as_str();
            (!ok).then(|| format!("expected {status} {body:?} with {want_www:?}, got {answer}"))
        }
    }
}

#[test]
fn explain_answers_every_row_of_the_envoy_policy_table() {
    let config = write("policy.json", &plugin_config().to_string());
    let okta = write("okta.json", &jwks(&[&keys().okta]).to_string());
    let azure = write("azure.json", &jwks(&[&keys().azure]).to_string());
    let jwks = [
        format!("okta={}", okta.display()),
        format!("okta_at={}", okta.display()),
        format!("azure={}", azure.display()),
    ];
    let rows = all_checks();
    let mut failures = Vec::new();
    for row in &rows {
        let mut args: Vec<String> = vec![
            "explain".into(),
            config.display().to_string(),
            "--json".into(),
            "--method".into(),
            row.method.into(),
            "--path".into(),
            row.path.clone(),
            "--header".into(),
            format!(":authority: {AUTHORITY}"),
        ];
        for j in &jwks {
            args.extend(["--jwks".into(), j.clone()]);
        }
        // The route Envoy's route table picks for the path, by name.
        if let Some((name, _)) = NAMED_ROUTES.iter().find(|(_, p)| row.path.starts_with(p)) {
            args.extend(["--route-name".into(), (*name).into()]);
        }
        for (name, value) in &row.headers {
            args.extend(["--header".into(), format!("{name}: {value}")]);
        }
        let out = Command::new(env!("CARGO_BIN_EXE_jwt-authn"))
            .args(&args)
            .output()
            .unwrap();
        let v: Value = match serde_json::from_slice(&out.stdout) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!(
                    "{}: no JSON ({e}): {}",
                    row.what,
                    String::from_utf8_lossy(&out.stderr)
                ));
                continue;
            }
        };
        if let Some(problem) = judge(row, &v, out.status.code()) {
            failures.push(format!(
                "{}: {} {}\n    {problem}",
                row.what, row.method, row.path
            ));
        }
    }
    println!("{} policy rows explained", rows.len());
    assert!(rows.len() > 150, "the table shrank: {} rows", rows.len());
    assert!(
        failures.is_empty(),
        "{} of {} rows answered otherwise than in Envoy:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}
