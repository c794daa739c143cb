//! What the suites expect of the filter in every Envoy: the reply bodies it writes, a VM that
//! never panicked or trapped, and configurations it refuses with a log line naming the field.

use std::thread;

use serde_json::Value;

use super::{tail, EnvoyBuilder, Proxy, Upstream};

/// Response bodies: native `jwt_authn`'s texts, and the filter's for its extensions (`SCOPE`,
/// `CLAIMS`, `CLIENT`, `TYP`).
pub mod body {
    include!("body.rs");
}

/// The filter never panicked or trapped while the test ran.
pub fn assert_vm_healthy(proxy: &Proxy) {
    let trouble = proxy.vm_trouble();
    assert!(
        trouble.is_empty(),
        "the wasm VM failed:\n{}",
        trouble.join("\n")
    );
}

/// A plugin configuration the filter must refuse, and what its log line must name.
pub struct Refused<'a> {
    pub what: &'a str,
    pub config: Value,
    /// Each must appear in a line the filter logged (`wasm log ...`).
    pub named: Vec<String>,
}

/// Starts one Envoy per case, side by side (they fail independently), each with the case's
/// plugin config and a JWKS cluster `jwks_cluster`; asserts that every one failed because the
/// plugin refused its configuration ("Unable to create Wasm plugin jwt_authn", which Envoy 1.40
/// reports after the plugin's own log line when `on_configure` returns false) and that the
/// filter's log lines name everything the case lists.
pub fn assert_configs_refused(upstream: &Upstream, jwks_cluster: &str, cases: &[Refused]) {
    let logs: Vec<String> = thread::scope(|s| {
        let handles: Vec<_> = cases
            .iter()
            .map(|case| {
                let builder = EnvoyBuilder::new(upstream)
                    .plugin(&case.config)
                    .jwks_cluster(jwks_cluster, 9);
                s.spawn(move || builder.start_expect_failure())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut failures = Vec::new();
    for (case, log) in cases.iter().zip(&logs) {
        let what = case.what;
        if !log.contains("Unable to create Wasm plugin jwt_authn") {
            failures.push(format!(
                "{what}: Envoy did not fail because of the plugin:\n{}",
                tail(log, 40)
            ));
            continue;
        }
        let plugin_lines: Vec<&str> = log.lines().filter(|l| l.contains("wasm log")).collect();
        for needle in &case.named {
            if !plugin_lines.iter().any(|l| l.contains(needle.as_str())) {
                failures.push(format!(
                    "{what}: no log line of the filter names {needle}\n{}",
                    tail(log, 40)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
