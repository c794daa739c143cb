//! The identity-provider tables of the Envoy suite (tests/envoy/idp.rs, its checks in
//! tests/envoy/idp_table.rs) through `jwt-authn explain`: every check's request explained with
//! the same configuration (`main_config`, `pem_config`), the keys each provider's JWKS stub
//! serves there given with `--jwks PROVIDER=FILE` (the same documents: JWKS, and Firebase's
//! kid -> PEM certificate document), the clock fixed with `--now`, and the answer held to the
//! check's expectation (status and body; for a refusal, the `www-authenticate` challenge; for a
//! request that continues, the headers the upstream would see after the filter's edits). The
//! Envoy suite proves the filter gives those answers in Envoy.
//!
//! Every check is run: none depends on what explain does not model (fetch timing, the JWKS
//! stubs' cache headers, the native `jwt_authn` column, which stays the Envoy suite's).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    // The native column, the stub's cache headers and a few reply bodies are the Envoy suite's only.
    dead_code
)]

use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::thread;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jwt_mint::x509::{self, pem, pkcs1_der, spki_der, Signer, Template};
use jwt_mint::{Alg, Key};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

mod common;

use common::{body, now, judge_continue, judge_reply, write, AUTHORITY};

include!("../../../tests/envoy/idp_table.rs");

/// A `--jwks PROVIDER=FILE` for every remote provider of `config`: the document its JWKS
/// cluster's stub serves in the Envoy suite (`key_documents`), written to a file.
fn jwks_files(fx: &Fx, config: &Value) -> Vec<String> {
    let documents = key_documents(fx);
    config["providers"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(name, p)| {
            let cluster = p["remote_jwks"]["http_uri"]["cluster"].as_str()?;
            let (_, _, doc, _) = documents.iter().find(|(c, ..)| *c == cluster).unwrap();
            let file = write(&format!("idp-{cluster}.json"), doc);
            Some(format!("{name}={}", file.display()))
        })
        .collect()
}

/// The `www-authenticate` the filter sends with a refusal of `check` under `config`: the realm
/// (the request's URL), then no error when no token was found, `insufficient_scope` (with the
/// route's scopes, if it names any) when the `authorization` of the matched rule refused it,
/// `invalid_token` otherwise.
fn challenge(config: &Value, check: &Check, body: &str) -> String {
    let mut www = format!("Bearer realm=\"http://{AUTHORITY}{}\"", check.path);
    if body == body::MISSING {
        return www;
    }
    if ![body::SCOPE, body::CLAIMS, body::CLIENT].contains(&body) {
        www.push_str(", error=\"invalid_token\"");
        return www;
    }
    www.push_str(", error=\"insufficient_scope\"");
    let rule = config["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            check
                .path
                .starts_with(r["match"]["prefix"].as_str().unwrap())
        })
        .unwrap();
    if let Some(scopes) = rule["authorization"]["scopes"].as_array() {
        let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str().unwrap()).collect();
        www.push_str(&format!(", scope=\"{}\"", scopes.join(" ")));
    }
    www
}

/// What is wrong with explain's answer `v` for `check` under `config` (`None`: nothing).
fn judge(config: &Value, check: &Check, v: &Value, code: Option<i32>) -> Option<String> {
    let answer = &v["answer"];
    match &check.expect {
        Expect::Pass(upstream) => {
            judge_continue(&check.headers, answer, code, upstream)
        }
        Expect::Fail(status, body) => {
            let want_www = challenge(config, check, body);
            judge_reply(answer, code, *status, body, &want_www)
        }
    }
}

/// Explains every check with `config` (written to `name`) and `jwks` (`--jwks` values) at
/// `now`; one line per failure.
fn explain_checks(
    name: &str,
    config: &Value,
    jwks: &[String],
    checks: &[Check],
    now: u64,
) -> Vec<String> {
    let file = write(name, &config.to_string());
    let mut failures = Vec::new();
    for c in checks {
        let mut args: Vec<String> = vec![
            file.display().to_string(),
            "--path".into(),
            c.path.clone(),
            "--header".into(),
            format!(":authority: {AUTHORITY}"),
            "--now".into(),
            now.to_string(),
        ];
        for j in jwks {
            args.extend(["--jwks".into(), j.clone()]);
        }
        for (name, value) in &c.headers {
            args.extend(["--header".into(), format!("{name}: {value}")]);
        }
        let problem = match common::explain(&args) {
            Ok((code, v)) => judge(config, c, &v, code),
            Err(e) => Some(e),
        };
        if let Some(problem) = problem {
            let needs = c.needs.map(|n| format!(" [needs {n}]")).unwrap_or_default();
            failures.push(format!("{}{needs}: GET {}\n    {problem}", c.what, c.path));
        }
    }
    failures
}

#[test]
fn explain_answers_every_check_of_the_envoy_identity_provider_tables() {
    let fx = fx();
    let main = main_checks(fx);
    let pems = pem_checks(fx);
    // The tokens were minted at or before this instant; every check's times are relative to it.
    let t = now();

    let config = main_config(fx);
    let jwks = jwks_files(fx, &config);
    assert_eq!(jwks.len(), 14, "remote providers: {jwks:?}");
    let mut failures = explain_checks("idp-main.json", &config, &jwks, &main, t);
    failures.extend(explain_checks(
        "idp-pem.json",
        &pem_config(fx),
        &[],
        &pems,
        t,
    ));
    let total = main.len() + pems.len();
    println!(
        "{total} identity-provider checks explained ({} main, {} PEM)",
        main.len(),
        pems.len()
    );
    assert_eq!(
        (main.len(), pems.len()),
        (114, 21),
        "the tables changed size"
    );
    assert!(
        failures.is_empty(),
        "{} of {total} checks answered otherwise than in Envoy:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
