// The conformance corpus's verdicts and the differences from native `jwt_authn` that are
// allowed, included (`include!`) by both tests that run the corpus: the filter in Envoy
// (tests/envoy/conformance.rs) and `jwt-authn explain` (tools/jwt-authn/tests/explain.rs). One
// table, so the two cannot drift apart: together they show that explain's answer is Envoy's.
//
// Paths are written out in full (the including files have their own `use` lines).

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

/// Response body text → status name, from the native answers recorded in the corpus (plus
/// `FILTER_ONLY_STATUSES`).
fn body_table(corpus: &[serde_json::Value]) -> std::collections::HashMap<String, String> {
    let mut table: std::collections::HashMap<String, String> = FILTER_ONLY_STATUSES
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

fn native_verdict(c: &serde_json::Value, prefix: &str) -> Verdict {
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

fn case_provider(c: &serde_json::Value) -> (serde_json::Value, serde_json::Value) {
    let mut p = c["native_provider"].clone();
    p["local_jwks"] =
        serde_json::json!({"inline_string": c["jwks"].as_str().expect("a runnable case has a jwks string")});
    let mut tn = p.clone();
    match c["native_provider_time_neutral_overrides"].as_object() {
        Some(overrides) => {
            for (k, v) in overrides {
                tn[k] = v.clone();
            }
        }
        None => tn["clock_skew_seconds"] = serde_json::json!(TIME_NEUTRAL_SKEW),
    }
    (p, tn)
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

