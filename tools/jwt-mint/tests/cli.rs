//! The `jwt-mint` binary end to end: gen → jwks → token, checked with the library.

use std::path::Path;
use std::process::{Command, Output};

use jwt_mint::{b64url_decode, Key};
use serde_json::Value;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jwt-mint"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn claims(token: &str) -> Value {
    serde_json::from_slice(&b64url_decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

fn write_key(dir: &Path, args: &[&str]) -> String {
    let path = dir.join(format!("{}.json", args.join("_").replace('-', "")));
    std::fs::write(&path, stdout(args)).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn gen_jwks_and_token_fit_together() {
    let dir = std::env::temp_dir().join(format!("jwt-mint-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let es = write_key(
        &dir,
        &["gen", "--alg", "ES256", "--kid", "e1", "--seed", "3"],
    );
    let ed = write_key(&dir, &["gen", "--alg", "EdDSA", "--kid", "o1"]);

    // --seed is reproducible.
    assert_eq!(
        std::fs::read_to_string(&es).unwrap().trim(),
        stdout(&["gen", "--alg", "ES256", "--kid", "e1", "--seed", "3"])
    );

    let set: Value = serde_json::from_str(&stdout(&["jwks", &es, &ed])).unwrap();
    let kids: Vec<&str> = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, ["e1", "o1"]);
    assert!(set["keys"][0].get("d").is_none());

    let token = stdout(&[
        "--key",
        &es,
        "--iss",
        "https://i",
        "--sub",
        "s",
        "--aud",
        "a",
        "--aud",
        "b",
        "--exp-in",
        "-60",
        "--claim",
        "n=5",
        "--claim",
        "scope=read write",
        "--claim",
        "obj={\"x\":[1]}",
    ]);
    let c = claims(&token);
    assert_eq!(c["iss"], "https://i");
    assert_eq!(c["aud"], serde_json::json!(["a", "b"]));
    assert_eq!(c["n"], 5);
    assert_eq!(c["scope"], "read write");
    assert_eq!(c["obj"]["x"][0], 1);
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), -60);

    // The token's signature is the key's: re-signing the same input with the loaded key matches
    // (ES256 here is deterministic, RFC 6979).
    let key = Key::from_jwk(&serde_json::from_str(&std::fs::read_to_string(&es).unwrap()).unwrap())
        .unwrap();
    let (input, sig) = token.rsplit_once('.').unwrap();
    assert_eq!(b64url_decode(sig).unwrap(), key.sign_raw(input.as_bytes()));

    let single = claims(&stdout(&[
        "token", "--key", &ed, "--aud", "only", "--no-exp",
    ]));
    assert_eq!(single["aud"], "only");
    assert!(single.get("exp").is_none());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_usage_fails_with_a_message() {
    for args in [
        &["--key"][..],
        &["gen"],
        &["gen", "--alg", "none"],
        &["jwks"],
        &["--bogus"],
        &["--key", "/nonexistent"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
    assert!(stdout(&["--help"]).contains("USAGE"));
}
