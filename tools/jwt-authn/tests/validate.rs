//! `jwt-authn validate` gives the filter's verdict on a configuration: the same check
//! (`config::load`, which the filter's `on_configure` calls) and the same message.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::process::{Command, Output};

use jwt_authn_wasm::config;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jwt-authn"))
        .args(args)
        .output()
        .expect("run jwt-authn")
}

fn write(name: &str, text: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("jwt-authn-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const GOOD: &str = r#"{
  "providers": {"demo": {"issuer": "https://issuer.example",
    "local_jwks": {"inline_string": "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"k\",\"k\":\"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA\"}]}"}}},
  "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "demo"}}]
}"#;

#[test]
fn a_good_configuration_passes() {
    let path = write("good.json", GOOD.as_bytes());
    let out = run(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}: ok\n", path.display())
    );
}

#[test]
fn a_refused_configuration_fails_with_the_filters_message() {
    let cases: [(&str, &[u8], &str); 4] = [
        (
            "unknown-field.json",
            br#"{"providers": {}, "filter_state_rules": {}}"#,
            "filter_state_rules",
        ),
        (
            "bad-requirement.json",
            br#"{"rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "nope"}}]}"#,
            "rules[0].requires.provider_name",
        ),
        ("not-json.json", b"{", "not valid JSON"),
        ("not-utf8.json", b"{\"providers\": \"\xff\"}", "not UTF-8"),
    ];
    for (name, text, names) in cases {
        let path = write(name, text);
        let out = run(&["validate", path.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        // The very line the filter logs when Envoy loads this configuration.
        let refusal = config::load(text).unwrap_err().refusal();
        assert_eq!(stderr, format!("{}: {refusal}\n", path.display()), "{name}");
        assert!(refusal.contains(names), "{name}: {refusal}");
        assert!(refusal.starts_with("invalid plugin configuration: "), "{refusal}");
    }
}

#[test]
fn every_file_is_checked_and_one_refusal_fails_the_run() {
    let good = write("many-good.json", GOOD.as_bytes());
    let bad = write("many-bad.json", br#"{"rules": 1}"#);
    let out = run(&["validate", bad.to_str().unwrap(), good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("many-good.json: ok"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("field `rules`: must be an array"));
}

#[test]
fn usage_errors_and_unreadable_files_exit_2() {
    assert_eq!(run(&[]).status.code(), Some(2));
    assert_eq!(run(&["validate"]).status.code(), Some(2));
    assert_eq!(run(&["explain-everything"]).status.code(), Some(2));
    assert_eq!(run(&["--help"]).status.code(), Some(0));
    let out = run(&["validate", "/nonexistent/config.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}
