//! Per-route policy end to end, in a real Envoy 1.40: `rules[].match` (path prefix/exact/regex,
//! case, headers, query parameters, the `route_name` extension against a named route of the
//! route table), the requirement tree (`provider_name`, `provider_and_audiences`,
//! `requires_any`/`requires_all` nested, `allow_missing`, `allow_missing_or_failed`,
//! `requirement_map`), `bypass_cors_preflight`, token sources (headers, params, cookies, several
//! tokens at once), the `authorization` and `allowed_token_types` extensions, claims forwarded to
//! the upstream and spoofed claim headers removed, and configuration errors naming the field.
//!
//! Two identity providers with remote JWKS, each served by its own JWKS stub: "okta" (RS256,
//! default token locations) and "azure" (ES256, `x-azure-token`, `?az_token=` and the `session`
//! cookie); "okta_at" is okta again with `allowed_token_types: ["at+jwt"]`. One Envoy runs every
//! rule on distinct path prefixes. The same table, minus the extensions, runs through Envoy's
//! native `jwt_authn` with the same JSON to confirm the expectations are native behaviour; the
//! checks where the two legitimately differ say why and assert the native answer separately.
//!
//! Needs Envoy (`make setup`) and the built filter (`make build`); a missing one fails the test.

use std::sync::OnceLock;
use std::time::Duration;

use jwt_mint::{jwks, Alg, Key};
use serde_json::{json, Value};

use crate::support::{
    assert_configs_refused, bearer, body, flip_signature_bit, now, poll_until, EnvoyBuilder,
    JwksStub, Proxy, Refused, Response, Upstream,
};

// The check table, the configuration and the tokens it runs with, shared with
// `jwt-authn explain`'s run of the same table (tools/jwt-authn/tests/policy_table.rs).
include!("policy_table.rs");

/// The same configuration for native `jwt_authn`: the extensions removed (rules matching on
/// `route_name`, `authorization`, `allowed_token_types`); everything else is unchanged.
fn native_config() -> Value {
    let mut config = plugin_config();
    for provider in config["providers"].as_object_mut().unwrap().values_mut() {
        provider
            .as_object_mut()
            .unwrap()
            .remove("allowed_token_types");
    }
    let rules = config["rules"].as_array_mut().unwrap();
    rules.retain(|r| r["match"].get("route_name").is_none());
    for r in rules.iter_mut() {
        r.as_object_mut().unwrap().remove("authorization");
    }
    config["@type"] =
        json!("type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication");
    config
}

/// The route table: the named routes (`NAMED_ROUTES`) to the upstream before the harness's
/// default route.
fn builder(upstream: &Upstream, okta_jwks: &JwksStub, azure_jwks: &JwksStub) -> EnvoyBuilder {
    let mut builder = EnvoyBuilder::new(upstream);
    for (name, prefix) in NAMED_ROUTES {
        builder = builder.route_yaml(&format!(
            "name: {name}\nmatch: {{prefix: \"{prefix}\"}}\nroute: {{cluster: upstream, timeout: 15s}}"
        ));
    }
    builder
        .jwks_cluster("jwks_okta", okta_jwks.port())
        .jwks_cluster("jwks_azure", azure_jwks.port())
}

fn stubs() -> (JwksStub, JwksStub) {
    let k = keys();
    (
        JwksStub::start(200, jwks(&[&k.okta]).to_string()),
        JwksStub::start(200, jwks(&[&k.azure]).to_string()),
    )
}

// ------------------------------------------------------------------------------------------
// Running the table

/// What is wrong with `r` for `c` (`None`: nothing).
fn judge(port: u16, c: &Check, r: &Response, native: bool) -> Option<String> {
    if let (Native::Differs(status, body, why), true) = (&c.native, native) {
        if r.status != *status || r.body != *body {
            return Some(format!(
                "expected native {status} {body:?} (native differs here: {why})"
            ));
        }
        if !matches!(status, 401 | 403) {
            return None;
        }
        // A refusal of jwt_authn itself also carries the realm.
        let www = if *body == body::MISSING {
            Www::Missing
        } else {
            Www::Invalid
        };
        let want = www_authenticate(&format!("127.0.0.1:{port}"), &c.path, www);
        return (r.header("www-authenticate") != Some(want.as_str()))
            .then(|| format!("expected www-authenticate {want:?} (native differs here: {why})"));
    }
    match &c.expect {
        Expect::Pass(upstream) => {
            let echo = match serde_json::from_str::<Value>(&r.body) {
                Ok(echo) if r.status == 200 => echo,
                _ => return Some("expected 200 from the echo upstream".to_owned()),
            };
            if native {
                // Native forwards claims differently (arrays and objects as base64 JSON) and
                // leaves spoofed headers alone; only the verdict is compared.
                None
            } else {
                let mut problems = Vec::new();
                if echo["method"] != c.method {
                    problems.push(format!("upstream saw method {}", echo["method"]));
                }
                for (name, want) in upstream {
                    let got = echo["headers"]
                        .get(*name)
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    if &got != want {
                        problems.push(format!(
                            "upstream header {name}: expected {want:?}, got {got:?}"
                        ));
                    }
                }
                (!problems.is_empty()).then(|| problems.join("; "))
            }
        }
        Expect::Fail(status, body, www) => {
            let want_www = www_authenticate(&format!("127.0.0.1:{port}"), &c.path, *www);
            let got_www = r.header("www-authenticate");
            (r.status != *status || r.body != *body || got_www != Some(want_www.as_str()))
                .then(|| format!("expected {status} {body:?} with www-authenticate {want_www:?}"))
        }
    }
}

/// Runs the table; one line per failed check.
fn run_checks(proxy: &Proxy, checks: &[Check], native: bool) -> (Vec<String>, usize) {
    let mut failures = Vec::new();
    let mut ran = 0;
    for c in checks {
        if native && matches!(c.native, Native::Skip(_)) {
            continue;
        }
        ran += 1;
        let headers: Vec<(&str, &str)> = c
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let r = proxy.request(c.method, &c.path, &headers);
        if let Some(problem) = judge(proxy.port(), c, &r, native) {
            let shown: Vec<(String, String)> = c
                .headers
                .iter()
                .map(|(n, v)| {
                    let v = if v.len() > 40 {
                        format!("{}...", &v[..40])
                    } else {
                        v.clone()
                    };
                    (n.clone(), v)
                })
                .collect();
            failures.push(format!(
                "{}: {} {}\n    headers {shown:?}\n    {problem}\n    got {}",
                c.what,
                c.method,
                shorten(&c.path),
                r.to_string().replace('\n', "\n    ")
            ));
        }
    }
    (failures, ran)
}

fn shorten(path: &str) -> String {
    if path.len() > 80 {
        format!("{}...", &path[..80])
    } else {
        path.to_owned()
    }
}

/// Waits until every remote provider has its keys (the first request of each holds until the
/// JWKS stub answered), so the table never races a cold cache.
fn warm_up(proxy: &Proxy) {
    let probes = [
        ("/r/okta", "authorization", bearer(&okta(json!({})))),
        ("/r/azure", "x-azure-token", bearer(&azure(json!({})))),
        (
            "/t/at",
            "authorization",
            bearer(&okta_typed(Some("at+jwt"), json!({}))),
        ),
    ];
    for (path, header, value) in &probes {
        let mut last = None;
        let ok = poll_until(Duration::from_secs(15), || {
            let r = proxy.get(path, &[(header, value)]);
            let done = r.status == 200;
            last = Some(r);
            done.then_some(())
        });
        assert!(
            ok.is_some(),
            "{path}: no 200 within 15 s (keys never loaded?); last answer:\n{}",
            last.map(|r| r.to_string()).unwrap_or_default()
        );
    }
}

#[test]
fn policy_scenarios() {
    let upstream = Upstream::start();
    let (okta_jwks, azure_jwks) = stubs();
    let proxy = builder(&upstream, &okta_jwks, &azure_jwks)
        .plugin(plugin_config())
        .start();
    warm_up(&proxy);
    let checks = all_checks();
    let (failures, ran) = run_checks(&proxy, &checks, false);
    let trouble = proxy.vm_trouble();
    assert!(
        failures.is_empty() && trouble.is_empty(),
        "{} of {ran} policy checks failed:\n{}\nwasm VM trouble: {trouble:#?}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!(
        "{ran} policy checks passed; JWKS fetches: okta {}, azure {}",
        okta_jwks.fetches(),
        azure_jwks.fetches()
    );
}

/// The same table through native `jwt_authn` with the same JSON (extensions removed): the
/// statuses, bodies and `www-authenticate` values asserted above are the native ones, except
/// where a check says why they differ (then the native answer is asserted instead).
#[test]
fn policy_expectations_are_native_behaviour() {
    let upstream = Upstream::start();
    let (okta_jwks, azure_jwks) = stubs();
    let proxy = builder(&upstream, &okta_jwks, &azure_jwks)
        .http_filter_yaml(&format!(
            "name: envoy.filters.http.jwt_authn\ntyped_config: {}",
            native_config()
        ))
        .start();
    warm_up(&proxy);
    let checks = all_checks();
    let (failures, ran) = run_checks(&proxy, &checks, true);
    assert!(
        failures.is_empty(),
        "native Envoy disagrees with {} of {ran} expectations (fix the test, not the filter):\n{}",
        failures.len(),
        failures.join("\n")
    );
    let mut skipped: Vec<(&str, usize)> = Vec::new();
    for c in &checks {
        if let Native::Skip(why) = c.native {
            match skipped.iter_mut().find(|(w, _)| *w == why) {
                Some((_, n)) => *n += 1,
                None => skipped.push((why, 1)),
            }
        }
    }
    eprintln!("{ran} checks agree with native jwt_authn; not run natively: {skipped:?}");
}

// ------------------------------------------------------------------------------------------
// Configuration errors

#[test]
fn policy_config_errors_name_the_field() {
    let base = || {
        json!({
            "providers": {"okta": okta_provider()},
            "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "okta"}}]
        })
    };
    let with_rule = |rule: Value| {
        let mut c = base();
        c["rules"] = json!([rule]);
        c
    };
    let okta = json!({"provider_name": "okta"});
    let named = |field: &str| vec![format!("field `{field}`:")];
    let cases = [
        Refused {
            what: "a rule naming an unknown provider",
            config: with_rule(
                json!({"match": {"prefix": "/"}, "requires": {"provider_name": "nobody"}}),
            ),
            named: named("rules[0].requires.provider_name"),
        },
        Refused {
            what: "an unknown requirement name",
            config: with_rule(json!({"match": {"prefix": "/"}, "requirement_name": "nope"})),
            named: named("rules[0].requirement_name"),
        },
        Refused {
            what: "a bad regex",
            config: with_rule(
                json!({"match": {"safe_regex": {"regex": "/api/(unclosed"}}, "requires": okta}),
            ),
            named: named("rules[0].match.safe_regex.regex"),
        },
        Refused {
            what: "an authorization with no matcher",
            config: with_rule(
                json!({"match": {"prefix": "/"}, "requires": okta, "authorization": {}}),
            ),
            named: named("rules[0].authorization"),
        },
        Refused {
            what: "a claim entry with no matcher",
            config: with_rule(json!({"match": {"prefix": "/"}, "requires": okta,
                             "authorization": {"claims": [{"claim": "tier"}]}})),
            named: named("rules[0].authorization.claims[0]"),
        },
    ];
    assert_configs_refused(&Upstream::start(), "jwks_okta", &cases);
}
