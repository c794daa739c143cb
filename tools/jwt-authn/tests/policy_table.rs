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

use std::sync::OnceLock;

use jwt_mint::{jwks, Alg, Key};
use serde_json::{json, Value};

mod common;

use common::{bearer, body, flip_signature_bit, now, judge_continue, judge_reply, write, AUTHORITY};

include!("../../../tests/envoy/policy_table.rs");

// ---- Running it through explain ----------------------------------------------------------

/// What is wrong with explain's answer `v` for `row` (`None`: nothing).
fn judge(row: &Check, v: &Value, code: Option<i32>) -> Option<String> {
    let answer = &v["answer"];
    match &row.expect {
        Expect::Pass(upstream) => {
            judge_continue(&row.headers, answer, code, upstream)
        }
        Expect::Fail(status, body, challenge) => {
            let want_www = www_authenticate(AUTHORITY, &row.path, *challenge);
            judge_reply(answer, code, *status, body, &want_www)
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
            config.display().to_string(),
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
        let problem = match common::explain(&args) {
            Ok((code, v)) => judge(row, &v, code),
            Err(e) => Some(e),
        };
        if let Some(problem) = problem {
            failures.push(format!("{}: {} {}\n    {problem}", row.what, row.method, row.path));
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
