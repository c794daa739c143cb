//! `make chaos`: the chaos run of `tests/envoy/lifecycle.rs` at the length of the issue that
//! asked for it (about two minutes: 25 s of 503, 15 s of broken bodies, 15 s of hanging, with
//! its settings), our filter and native `jwt_authn` side by side: two Envoys
//! (`--concurrency 4` each) with the same providers, each with six clients and its own JWKS
//! server, both servers switched through the same faults at the same moments.
//!
//! Prints the latency table per phase (p50 / max per class, fetches per filter) and writes it
//! to `bench/results/chaos-latest.md`; lists where each filter went past what the fault table
//! of docs/remote-jwks.md promises. Exits non-zero if our filter did; native's differences are
//! reported only (it never waits for keys, so it never holds a request, and it refetches at every
//! `failed_refetch_duration`). Not part of `make test`: a cargo test target with `test = false`
//! in Cargo.toml, run only by name.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

// The harness of the `envoy` test binary, for its chaos module: this bench uses only part of it.
#[allow(dead_code, unused_imports)]
#[path = "../tests/envoy/support/mod.rs"]
mod support;

use std::fs;
use std::path::Path;

use support::chaos::{self, Filter, Script};

fn main() {
    let script = Script::long();
    let upstream = support::Upstream::start();
    let run = chaos::run(&script, &[Filter::Wasm, Filter::Native], &upstream);
    let table = run.table(&script);
    println!("\n{table}");
    let mut failed = false;
    let mut report = table.clone();
    for target in &run.targets {
        let problems = run.problems(&script, target);
        let summary = format!(
            "{}: {} requests, {} JWKS fetches, {} past the fault table's promises",
            target.filter.name(),
            target.samples.len(),
            target.stub.fetches(),
            problems.len()
        );
        println!("{summary}");
        for p in problems.iter().take(20) {
            println!("  {p}");
        }
        report.push_str(&format!("\n{summary}\n"));
        if target.filter == Filter::Wasm && !problems.is_empty() {
            failed = true;
            // Without the debug line of every refusal, which would bury the rest.
            let log: String = target
                .proxy
                .log()
                .lines()
                .filter(|l| !l.contains("request refused:"))
                .map(|l| format!("{l}\n"))
                .collect();
            println!(
                "--- its Envoy's log (tail, refusals left out) ---\n{}",
                support::tail(&log, 80)
            );
        }
    }
    let results = Path::new(support::CRATE_ROOT).join("bench/results");
    if fs::create_dir_all(&results).is_ok() {
        let _ = fs::write(results.join("chaos-latest.md"), report);
    }
    // Stops both Envoys and the servers before the exit code is set.
    drop(run);
    if failed {
        std::process::exit(1);
    }
}
