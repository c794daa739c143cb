//! What the Envoy suites' tables need from their harness (tests/envoy/support/), for running
//! the same rows through `jwt-authn explain`; and the run itself.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

pub mod body {
    include!("../../../../tests/envoy/support/body.rs");
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// As the harness's: the same token with one bit of its signature flipped.
pub fn flip_signature_bit(token: &str) -> String {
    let (input, sig) = token.rsplit_once('.').unwrap();
    let mut raw = jwt_mint::b64url_decode(sig).unwrap();
    let mid = raw.len() / 2;
    raw[mid] ^= 0x01;
    format!("{input}.{}", jwt_mint::b64url(&raw))
}

/// Writes a file under the test's temporary folder.
pub fn write(name: &str, text: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("jwt-authn-tables-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The authority the rows' realms name (the Envoy suites' listener).
pub const AUTHORITY: &str = "127.0.0.1:10000";

/// `jwt-authn explain ARGS --json`: the exit code and the object (`Err`: why there is none).
pub fn explain(args: &[String]) -> Result<(Option<i32>, Value), String> {
    let out = Command::new(env!("CARGO_BIN_EXE_jwt-authn"))
        .arg("explain")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .map(|v| (out.status.code(), v))
        .map_err(|e| format!("no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)))
}

/// The request headers as the upstream would see them after the answer's edits: the client's,
/// then the filter's removals, then its additions; the first value of `name`.
pub fn upstream_header(sent: &[(String, String)], answer: &Value, name: &str) -> Option<String> {
    let removed: Vec<&str> = answer["remove_headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    let mut seen: Vec<(String, String)> = sent
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
    seen.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

/// What is wrong with an answer that should let the request continue with these request
/// headers as the upstream sees them (`None`: absent), for a request sent with `sent`.
pub fn judge_continue(
    sent: &[(String, String)],
    answer: &Value,
    code: Option<i32>,
    upstream: &[(&str, Option<String>)],
) -> Option<String> {
    if answer["action"] != "continue" || code != Some(0) {
        return Some(format!("expected the request to continue, got {answer}"));
    }
    let problems: Vec<String> = upstream
        .iter()
        .filter_map(|(name, want)| {
            let got = upstream_header(sent, answer, name);
            (&got != want)
                .then(|| format!("upstream header {name}: expected {want:?}, got {got:?}"))
        })
        .collect();
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// What is wrong with an answer that should be the filter's reply with this status, body and
/// `www-authenticate`.
pub fn judge_reply(
    answer: &Value,
    code: Option<i32>,
    status: u16,
    body: &str,
    www_authenticate: &str,
) -> Option<String> {
    let ok = answer["action"] == "reply"
        && code == Some(1)
        && answer["status"] == status
        && answer["body"] == body
        && answer["www_authenticate"] == www_authenticate;
    (!ok).then(|| format!("expected {status} {body:?} with {www_authenticate:?}, got {answer}"))
}
