//! The committed demo material agrees with itself: every key in `envoy/demo-keys/` loads, the
//! JWKS file is exactly their public JWKs, and `envoy/envoy.yaml` inlines that same JWKS.

use std::path::PathBuf;

use jwt_mint::{jwks, Alg, Key};
use serde_json::Value;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn demo_keys() -> Vec<Key> {
    ["rs256", "es256", "hs256"]
        .map(|name| {
            Key::from_jwk(
                &serde_json::from_str(&read(&format!("envoy/demo-keys/{name}.json"))).unwrap(),
            )
            .unwrap()
        })
        .into()
}

#[test]
fn demo_keys_have_the_documented_algs_and_kids() {
    let keys = demo_keys();
    let got: Vec<(Alg, &str)> = keys.iter().map(|k| (k.alg(), k.kid())).collect();
    assert_eq!(
        got,
        [
            (Alg::RS256, "demo-rs256"),
            (Alg::ES256, "demo-es256"),
            (Alg::HS256, "demo-hs256")
        ]
    );
    assert!(read("envoy/demo-keys/README.md").contains("**DEMO ONLY"));
}

#[test]
fn demo_jwks_file_is_the_public_jwks_of_the_demo_keys() {
    let keys = demo_keys();
    let file: Value = serde_json::from_str(&read("envoy/demo-jwks.json")).unwrap();
    assert_eq!(file, jwks(&keys.iter().collect::<Vec<_>>()));
}

#[test]
fn envoy_yaml_inlines_the_demo_jwks() {
    let yaml = read("envoy/envoy.yaml");
    // The plugin configuration is the JSON block scalar under `value: |`.
    let mut lines = yaml
        .lines()
        .skip_while(|l| !l.trim_end().ends_with("value: |"));
    let header = lines
        .next()
        .expect("no `value: |` block in envoy/envoy.yaml");
    let indent = header.len() - header.trim_start().len();
    let block: String = lines
        .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
        .collect::<Vec<_>>()
        .join("\n");
    let config: Value = serde_json::from_str(&block)
        .unwrap_or_else(|e| panic!("plugin config is not JSON: {e}\n{block}"));
    let inline = config["providers"]["demo"]["local_jwks"]["inline_string"]
        .as_str()
        .expect("no inline_string");
    let inlined: Value = serde_json::from_str(inline).unwrap();
    let file: Value = serde_json::from_str(&read("envoy/demo-jwks.json")).unwrap();
    assert_eq!(inlined, file);
    assert_eq!(
        config["providers"]["demo"]["issuer"],
        "https://demo.example"
    );
    assert_eq!(config["providers"]["demo"]["audiences"][0], "demo-api");
}
