//! Runs the conformance corpus (`tests/data/conformance/corpus.json`, see its README.md)
//! through the wasm filter inside a real Envoy and compares every answer with the verdict that
//! Envoy's native `jwt_authn` gave for the same token, JWKS and provider settings.
//!
//! 1. `PEM` cases cannot be expressed as a JWKS and are not run (listed in the output).
//! 2. Config refusals are decided natively with the filter's own parser (`Config::parse`) for
//!    each case alone, and compared with native `CONFIG_REJECTED`. A refused case stays out of
//!    the Envoy run, so one bad JWKS cannot take the other cases down.
//! 3. One Envoy gets every accepted case twice: provider `case<i>` on path `/case/<i>` (the
//!    case's `native_provider`), and `tn<i>` on `/tn/<i>` with `clock_skew_seconds: 4294967295`
//!    (time-neutral, compared with `native_time_neutral_*`).
//! 4. Our answer is mapped to a status name through its body text (the corpus's own
//!    `native_body` ↔ `native_status` pairs; 200 = "Ok"); the status name, the HTTP status and
//!    `www-authenticate` (realm host normalised) must equal native's.
//!
//! Every disagreement must be listed in `ALLOWED_DIFFERENCES` with its reason; any other fails
//! the test, and so does an entry that no longer matches anything.

use std::collections::{BTreeMap, HashMap};
use std::fs;

use jwt_authn_wasm::authn::model::Config;
use serde_json::{json, Map, Value};

use crate::support::{EnvoyBuilder, Proxy, Upstream};

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/conformance/corpus.json"
);

// The verdicts compared and the differences allowed, shared with `jwt-authn explain`'s test of
// the same corpus (tools/jwt-authn/tests/explain.rs).
include!("../data/conformance/verdicts.rs");

struct Case {
    index: usize,
    id: String,
    authorization: Option<String>,
    provider: Value,
    provider_tn: Value,
    native: Verdict,
    native_tn: Verdict,
}

fn load_corpus() -> Vec<Value> {
    let text = fs::read_to_string(CORPUS).unwrap_or_else(|e| {
        panic!("conformance corpus missing at {CORPUS}: {e} (it is part of the repository: tests/data/conformance/)")
    });
    let v: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{CORPUS} is not JSON: {e}"));
    v.as_array()
        .cloned()
        .unwrap_or_else(|| panic!("{CORPUS} is not a JSON array"))
}

/// A plugin configuration with both providers and routes of each case.
fn plugin_config(cases: &[&Case]) -> Value {
    let mut providers = Map::new();
    let mut rules = Vec::new();
    for c in cases {
        providers.insert(format!("case{}", c.index), c.provider.clone());
        providers.insert(format!("tn{}", c.index), c.provider_tn.clone());
        rules.push(json!({"match": {"path": format!("/case/{}", c.index)}, "requires": {"provider_name": format!("case{}", c.index)}}));
        rules.push(json!({"match": {"path": format!("/tn/{}", c.index)}, "requires": {"provider_name": format!("tn{}", c.index)}}));
    }
    json!({"providers": providers, "rules": rules})
}

fn our_verdict(
    proxy: &Proxy,
    path: &str,
    authorization: Option<&str>,
    bodies: &HashMap<String, String>,
) -> Verdict {
    let headers: Vec<(&str, &str)> = authorization
        .map(|a| ("authorization", a))
        .into_iter()
        .collect();
    let r = proxy.get(path, &headers);
    let status = if r.status == 200 {
        "Ok".to_owned()
    } else {
        bodies
            .get(&r.body)
            .cloned()
            .unwrap_or_else(|| format!("UNKNOWN(body {:?})", r.body))
    };
    Verdict {
        status,
        http: Some(r.status),
        www: normalise_www(r.header("www-authenticate")),
    }
}

#[test]
fn corpus_matches_native_jwt_authn() {
    let corpus = load_corpus();
    let bodies = body_table(&corpus);

    // 1. Not runnable: PEM-only cases.
    let mut not_runnable = Vec::new();
    let mut cases = Vec::new();
    for (index, c) in corpus.iter().enumerate() {
        let id = c["id"].as_str().unwrap_or("?").to_owned();
        if c["jwks_type"] == "PEM" || !c["jwks"].is_string() {
            not_runnable.push(format!("#{index} {id} (jwks_type {})", c["jwks_type"]));
            continue;
        }
        let (provider, provider_tn) = case_provider(c);
        cases.push(Case {
            index,
            id,
            authorization: c["request"]["authorization"].as_str().map(str::to_owned),
            provider,
            provider_tn,
            native: native_verdict(c, "native"),
            native_tn: native_verdict(c, "native_time_neutral"),
        });
    }

    // 2. Which provider configs does our filter accept? Each case on its own.
    let mut refused: BTreeMap<usize, String> = BTreeMap::new();
    for c in &cases {
        let config = plugin_config(&[c]).to_string();
        if let Err(e) = Config::parse(&config) {
            refused.insert(c.index, e.to_string());
        }
    }
    let accepted: Vec<&Case> = cases
        .iter()
        .filter(|c| !refused.contains_key(&c.index))
        .collect();

    // 3. One Envoy with every accepted case.
    let upstream = Upstream::start();
    let proxy = EnvoyBuilder::new(&upstream)
        .plugin(plugin_config(&accepted))
        .component_log_level(Some("wasm:info"))
        .start();

    // 4. Compare.
    let mut tally = Tally::default();
    for c in &cases {
        let (ours, ours_tn) = if refused.contains_key(&c.index) {
            (Verdict::rejected(), Verdict::rejected())
        } else {
            let auth = c.authorization.as_deref();
            (
                our_verdict(&proxy, &format!("/case/{}", c.index), auth, &bodies),
                our_verdict(&proxy, &format!("/tn/{}", c.index), auth, &bodies),
            )
        };
        tally.compare(&c.id, &format!("/case/{}", c.index), &ours, &c.native);
        tally.compare(&c.id, &format!("/tn/{}", c.index), &ours_tn, &c.native_tn);
    }

    let vm_trouble = proxy.vm_trouble();
    let total = 2 * cases.len();
    println!("not runnable ({}):", not_runnable.len());
    for n in &not_runnable {
        println!("  {n}");
    }
    println!("refused by our config parser ({}):", refused.len());
    for (i, e) in &refused {
        let c = cases.iter().find(|c| c.index == *i).unwrap();
        println!("  #{i} {} (native: {}): {e}", c.id, c.native.status);
    }
    println!("allowed differences ({}):", tally.allowed.len());
    for a in &tally.allowed {
        println!("  {a}");
    }
    println!(
        "conformance: {} agree / {} allowed-diff / {} disagree / {total} total verdicts ({} cases x 2 routes; {} not runnable)",
        tally.agree,
        tally.allowed.len(),
        tally.disagree.len(),
        cases.len(),
        not_runnable.len()
    );

    let stale: Vec<String> = ALLOWED_DIFFERENCES
        .iter()
        .enumerate()
        .filter(|(i, _)| !tally.used_allowances.contains(i))
        .map(|(_, (id, ours, native, _))| format!("({id}, {ours}, {native})"))
        .collect();
    assert!(
        vm_trouble.is_empty(),
        "the wasm VM failed during the run:\n{}",
        vm_trouble.join("\n")
    );
    assert!(
        tally.disagree.is_empty() && stale.is_empty(),
        "{} verdicts disagree with native jwt_authn:\n  {}\n{}",
        tally.disagree.len(),
        tally.disagree.join("\n  "),
        if stale.is_empty() {
            String::new()
        } else {
            format!(
                "ALLOWED_DIFFERENCES entries that matched nothing (remove them): {}",
                stale.join(", ")
            )
        }
    );
}
