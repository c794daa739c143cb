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

/// Status name used for a provider configuration that is refused at load.
const CONFIG_REJECTED: &str = "CONFIG_REJECTED";

/// `clock_skew_seconds` of the time-neutral providers (uint32 max), when the corpus does not say.
const TIME_NEUTRAL_SKEW: u64 = 4_294_967_295;

/// Where the filter is deliberately stricter or more capable than native `jwt_authn`:
/// `(case id, our verdict, native verdict, reason)`. A row covers both routes of the case
/// (`/case/<i>` and `/tn/<i>`) when both show that pair.
const ALLOWED_DIFFERENCES: &[(&str, &str, &str, &str)] = &[
    // An Ed25519 `x` that is not a point on the curve is refused when the JWKS is loaded; native
    // keeps the key, which then fails every token. With no other usable key the config is refused.
    (
        "jvl/jwks_parse/GoodOKP",
        CONFIG_REJECTED,
        "JwtVerificationFail",
        ED25519_NOT_A_POINT,
    ),
    (
        "jvl/jwks_parse/JwksIgnoreUnsupportedKey",
        CONFIG_REJECTED,
        "JwtVerificationFail",
        ED25519_NOT_A_POINT,
    ),
    // The signature's last base64url character has non-zero unused bits. The filter accepts one
    // spelling per byte string (b64.rs) and refuses it at parse, before the time checks; native
    // ignores those bits.
    (
        "jvl/jwt_time/JwtText",
        "JwtSignatureParseErrorBadBase64",
        "JwtExpired",
        NON_CANONICAL_BASE64,
    ),
    (
        "jvl/jwt_time/JwtText",
        "JwtSignatureParseErrorBadBase64",
        "JwtVerificationFail",
        NON_CANONICAL_BASE64,
    ),
];

const ED25519_NOT_A_POINT: &str =
    "Ed25519 key that is not a curve point refused at load (stricter)";
const NON_CANONICAL_BASE64: &str =
    "non-canonical base64url refused (stricter: no malleable spellings)";

/// Statuses only the filter has (native never sends these bodies), with the filter's body text.
const FILTER_ONLY_STATUSES: &[(&str, &str)] = &[("Jwt is too large", "JwtTooLarge")];

#[derive(Debug, Clone, PartialEq, Eq)]
struct Verdict {
    status: String,
    http: Option<u16>,
    www: Option<String>,
}

impl Verdict {
    fn rejected() -> Verdict {
        Verdict {
            status: CONFIG_REJECTED.into(),
            http: None,
            www: None,
        }
    }

    fn show(&self) -> String {
        match (self.http, &self.www) {
            (None, _) => self.status.clone(),
            (Some(h), None) => format!("{} ({h})", self.status),
            (Some(h), Some(w)) => format!("{} ({h}, www-authenticate: {w})", self.status),
        }
    }
}

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

/// Response body text → status name, from the native answers recorded in the corpus (plus
/// `FILTER_ONLY_STATUSES`).
fn body_table(corpus: &[Value]) -> HashMap<String, String> {
    let mut table: HashMap<String, String> = FILTER_ONLY_STATUSES
        .iter()
        .map(|(body, status)| ((*body).to_owned(), (*status).to_owned()))
        .collect();
    for c in corpus {
        for prefix in ["native", "native_time_neutral"] {
            if let (Some(body), Some(status)) = (
                c[format!("{prefix}_body")].as_str(),
                c[format!("{prefix}_status")].as_str(),
            ) {
                if status != "Ok" {
                    table.insert(body.to_owned(), status.to_owned());
                }
            }
        }
    }
    table
}

/// The realm names the request URL; only its host:port differs between runs.
fn normalise_www(www: Option<&str>) -> Option<String> {
    let www = www?;
    let Some(start) = www.find("://") else {
        return Some(www.to_owned());
    };
    let rest = &www[start + 3..];
    let end = rest.find(['/', '"']).unwrap_or(rest.len());
    Some(format!("{}://HOST{}", &www[..start], &rest[end..]))
}

fn native_verdict(c: &Value, prefix: &str) -> Verdict {
    let status = c[format!("{prefix}_status")]
        .as_str()
        .unwrap_or("?")
        .to_owned();
    if status == CONFIG_REJECTED {
        return Verdict::rejected();
    }
    Verdict {
        status,
        http: c[format!("{prefix}_http_status")]
            .as_u64()
            .map(|h| h as u16),
        www: normalise_www(c[format!("{prefix}_www_authenticate")].as_str()),
    }
}

fn case_provider(c: &Value) -> (Value, Value) {
    let mut p = c["native_provider"].clone();
    p["local_jwks"] =
        json!({"inline_string": c["jwks"].as_str().expect("a runnable case has a jwks string")});
    let mut tn = p.clone();
    match c["native_provider_time_neutral_overrides"].as_object() {
        Some(overrides) => {
            for (k, v) in overrides {
                tn[k] = v.clone();
            }
        }
        None => tn["clock_skew_seconds"] = json!(TIME_NEUTRAL_SKEW),
    }
    (p, tn)
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

#[derive(Default)]
struct Tally {
    agree: usize,
    allowed: Vec<String>,
    disagree: Vec<String>,
    used_allowances: Vec<usize>,
}

impl Tally {
    fn compare(&mut self, id: &str, route: &str, ours: &Verdict, native: &Verdict) {
        if ours == native {
            self.agree += 1;
            return;
        }
        let allowance = ALLOWED_DIFFERENCES
            .iter()
            .position(|(aid, a_ours, a_native, _)| {
                *aid == id && *a_ours == ours.status && *a_native == native.status
            });
        // An allowance covers a different verdict, not a different rendering of the same one.
        match allowance {
            Some(i) if ours.status != native.status => {
                self.used_allowances.push(i);
                self.allowed.push(format!(
                    "{id} [{route}]: ours {} / native {} ({})",
                    ours.status, native.status, ALLOWED_DIFFERENCES[i].3
                ));
            }
            _ => self.disagree.push(format!(
                "{id} [{route}]\n    ours:   {}\n    native: {}",
                ours.show(),
                native.show()
            )),
        }
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
