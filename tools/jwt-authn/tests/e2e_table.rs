//! The local-JWKS table of the Envoy end-to-end suite (tests/envoy/e2e.rs, its rows in
//! tests/envoy/e2e_table.rs) through `jwt-authn explain`: every row's request explained with the
//! same configuration, and its answer held to the row's expectation (status, body,
//! `www-authenticate`; for a request that continues, the headers the upstream would see after
//! the filter's edits; a row Envoy answers itself after the filter, `direct_response`, must
//! continue). The Envoy suite proves the filter gives those answers in Envoy.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    // The table's native column and a few reply bodies are the Envoy suite's only.
    dead_code
)]

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jwt_mint::{jwks, Alg, Key};
use serde_json::{json, Value};

mod common;

use common::{bearer, body, flip_signature_bit, now, judge_continue, judge_reply, write, AUTHORITY};

include!("../../../tests/envoy/e2e_table.rs");

/// What is wrong with explain's answer `v` for `row` (`None`: nothing).
fn judge(row: &Check, v: &Value, code: Option<i32>) -> Option<String> {
    let answer = &v["answer"];
    let continues = answer["action"] == "continue" && code == Some(0);
    match &row.expect {
        Expect::Pass(upstream) => {
            judge_continue(&row.headers, answer, code, upstream)
        }
        // Envoy answers these routes itself, after the filter let the request through.
        Expect::Direct(_) => {
            (!continues).then(|| format!("expected the request to continue, got {answer}"))
        }
        Expect::Fail(status, body, presented) => {
            let (scheme, path) = row
                .realm
                .as_ref()
                .map_or(("http", row.path.as_str()), |(s, p)| (*s, p.as_str()));
            let path = &path[..path.len().min(256)];
            let mut want_www = format!("Bearer realm=\"{scheme}://{AUTHORITY}{path}\"");
            if *presented {
                want_www.push_str(", error=\"invalid_token\"");
            }
            judge_reply(answer, code, *status, body, &want_www)
        }
    }
}

#[test]
fn explain_answers_every_row_of_the_envoy_local_jwks_table() {
    let config = write("e2e.json", &local_config().to_string());
    let rows = local_checks();
    let mut failures = Vec::new();
    for row in &rows {
        let mut args: Vec<String> = vec![
            config.display().to_string(),
            "--path".into(),
            row.path.clone(),
            "--header".into(),
            format!(":authority: {AUTHORITY}"),
        ];
        for (name, value) in &row.headers {
            args.extend(["--header".into(), format!("{name}: {value}")]);
        }
        let problem = match common::explain(&args) {
            Ok((code, v)) => judge(row, &v, code),
            Err(e) => Some(e),
        };
        if let Some(problem) = problem {
            failures.push(format!(
                "{}: GET {} {:?}\n    {problem}",
                row.what, row.path, row.headers
            ));
        }
    }
    println!("{} local-JWKS rows explained", rows.len());
    assert!(rows.len() > 60, "the table shrank: {} rows", rows.len());
    assert!(
        failures.is_empty(),
        "{} of {} rows answered otherwise than in Envoy:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}
