//! Identity providers as they really are, end to end in a real Envoy 1.40: Okta, ADFS, AWS
//! Cognito, PingFederate, Azure AD / Entra ID (v1 and v2 issuers over one shared JWKS, and
//! multi-tenant), Google ID tokens, Firebase, Keycloak, a legacy in-house HS256 issuer and
//! RFC 7523 client assertions.
//!
//! Every fixture is generated here with fresh keys, in the shape each identity provider really
//! publishes and issues (its issuer URL and JWKS path, header members such as `x5t`, kids with
//! `+`, `/` and `=`, keys without `alg`, `x5c` certificate chains, an encryption key next to the
//! signing key, Google's kid -> PEM certificate document, numeric and nested claims). The
//! certificates are real self-signed X.509 certificates, made with x509-cert's builder
//! (`jwt_mint::x509`) and signed by their own key, so nothing is shared with the filter's parser.
//!
//! Remote keys are served by one JWKS stub per identity provider, at the provider's real JWKS
//! path (anything else gets a 404) with the cache headers it sends, through a cluster per
//! provider as in `envoy/examples/<idp>.yaml` (plain STATIC clusters to loopback here, where the
//! examples have DNS and TLS to the real hosts). One Envoy runs every provider; a second one holds the
//! `local_jwks` PEM providers (a PEM the filter could not read would stop the whole listener,
//! so they are kept apart). The same table, minus what only this filter can express, runs
//! through Envoy's native `jwt_authn` with the same JSON; where the two legitimately differ the
//! check says why and asserts the native answer.
//!
//! Checks that rely on the X.509 support (`x5c`, the kid -> certificate document, PEM keys)
//! carry a `needs` tag, shown when they fail.
//!
//! The last tests run `envoy --mode validate` on every `envoy/examples/*.yaml` and parse each
//! example's plugin JSON with `Config::parse` natively.
//!
//! Needs Envoy (`make setup`) and the built filter (`make build`); a missing one fails the test.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jwt_mint::x509::{self, pem, pkcs1_der, spki_der, Signer, Template};
use jwt_mint::{Alg, Key};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::support::{
    assert_vm_healthy, body, now, validate, EnvoyBuilder, JwksStub, Proxy, Response, Upstream,
    CRATE_ROOT,
};

// The identity providers, the fixture, the configurations and the checks: shared with
// `jwt-authn explain`'s run of the same checks (tools/jwt-authn/tests/idp_table.rs).
include!("idp_table.rs");

/// Runs the checks; one line per failure.
fn run_checks(proxy: &Proxy, checks: &[Check], native: bool) -> Vec<String> {
    let mut failures = Vec::new();
    for c in checks {
        let expect = match (&c.native, native) {
            (Native::Skip(_), true) => continue,
            (Native::Differs(e, _), true) => e,
            _ => &c.expect,
        };
        let headers: Vec<(&str, &str)> = c
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let r = proxy.get(&c.path, &headers);
        if let Some(problem) = judge(expect, &r, native) {
            let needs = c.needs.map(|n| format!(" [needs {n}]")).unwrap_or_default();
            let why = match (&c.native, native) {
                (Native::Differs(_, why), true) => format!(" (native differs: {why})"),
                _ => String::new(),
            };
            failures.push(format!(
                "{}{needs}{why}: GET {}\n    {problem}\n    got {}",
                c.what,
                c.path,
                r.to_string().replace('\n', "\n    ")
            ));
        }
    }
    failures
}

fn judge(expect: &Expect, r: &Response, native: bool) -> Option<String> {
    match expect {
        Expect::Pass(upstream) => {
            if r.status != 200 {
                return Some("expected 200 from the upstream".into());
            }
            let Ok(echo) = serde_json::from_str::<Value>(&r.body) else {
                return Some("expected the echo upstream's JSON".into());
            };
            if native {
                return None;
            }
            let problems: Vec<String> = upstream
                .iter()
                .filter_map(|(name, want)| {
                    let got = echo["headers"]
                        .get(*name)
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    (&got != want)
                        .then(|| format!("upstream header {name}: expected {want:?}, got {got:?}"))
                })
                .collect();
            (!problems.is_empty()).then(|| problems.join("; "))
        }
        Expect::Fail(status, body) => {
            (r.status != *status || r.body != *body).then(|| format!("expected {status} {body:?}"))
        }
    }
}

/// One JWKS stub per identity provider: the key document at the provider's JWKS path, 404
/// elsewhere, so a wrong `http_uri` path shows.
fn start_stubs(fx: &Fx) -> Vec<(&'static str, JwksStub)> {
    key_documents(fx)
        .into_iter()
        .map(|(cluster, path, doc, headers)| {
            let stub = JwksStub::start(404, r#"{"error": "not found"}"#);
            stub.set_path_reply(path, 200, doc);
            stub.set_headers(headers);
            (cluster, stub)
        })
        .collect()
}

fn with_clusters(mut builder: EnvoyBuilder, stubs: &[(&'static str, JwksStub)]) -> EnvoyBuilder {
    for (cluster, stub) in stubs {
        builder = builder.jwks_cluster(cluster, stub.port());
    }
    builder
}

fn report(what: &str, checks: &[Check], failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{what}: {} of {} checks failed:\n{}",
        failures.len(),
        checks.len(),
        failures.join("\n")
    );
}

/// Every identity provider in one Envoy with the wasm filter.
#[test]
fn identity_providers_end_to_end() {
    let fx = fx();
    let stubs = start_stubs(fx);
    let upstream = Upstream::start();
    let proxy = with_clusters(EnvoyBuilder::new(&upstream), &stubs)
        .plugin(main_config(fx))
        .start();
    let checks = main_checks(fx);
    let failures = run_checks(&proxy, &checks, false);
    eprintln!("identity providers (wasm): {} checks", checks.len());
    assert_vm_healthy(&proxy);
    // Each stub was asked for its JWKS path only.
    let mut wrong_paths = Vec::new();
    for (cluster, stub) in &stubs {
        let path = key_documents(fx)
            .into_iter()
            .find(|(c, ..)| c == cluster)
            .map(|(_, p, ..)| p)
            .unwrap();
        for p in stub.paths() {
            if p != path {
                wrong_paths.push(format!("{cluster}: {p} (expected {path})"));
            }
        }
    }
    report("identity providers (wasm)", &checks, &failures);
    assert!(
        wrong_paths.is_empty(),
        "JWKS fetched at unexpected paths:\n{}",
        wrong_paths.join("\n")
    );
}

/// The same requests through native `jwt_authn` with the same JSON (minus the extensions):
/// the verdicts agree, or the check says why they may not.
#[test]
fn identity_providers_native_verdicts_agree() {
    let fx = fx();
    let stubs = start_stubs(fx);
    let upstream = Upstream::start();
    let proxy = with_clusters(EnvoyBuilder::new(&upstream), &stubs)
        .http_filter_yaml(&format!(
            "name: envoy.filters.http.jwt_authn\ntyped_config: {}",
            native_config(fx)
        ))
        .start();
    let checks = main_checks(fx);
    let failures = run_checks(&proxy, &checks, true);
    let mut skipped: Vec<&str> = checks
        .iter()
        .filter_map(|c| match c.native {
            Native::Skip(why) => Some(why),
            _ => None,
        })
        .collect();
    skipped.sort_unstable();
    skipped.dedup();
    let differs = checks
        .iter()
        .filter(|c| matches!(c.native, Native::Differs(..)))
        .count();
    eprintln!(
        "native jwt_authn: {} checks compared ({differs} with a documented difference), not run: {}",
        checks.len() - checks.iter().filter(|c| matches!(c.native, Native::Skip(_))).count(),
        skipped.join("; ")
    );
    report("identity providers (native jwt_authn)", &checks, &failures);
}

/// PEM keys (`PUBLIC KEY`, `RSA PUBLIC KEY`, `CERTIFICATE`, a bundle of them) in
/// `local_jwks.inline_string`, for clients that registered a PEM public key.
#[test]
fn pem_client_keys_end_to_end() {
    let fx = fx();
    let upstream = Upstream::start();
    let proxy = EnvoyBuilder::new(&upstream).plugin(pem_config(fx)).start();
    let checks = pem_checks(fx);
    let failures = run_checks(&proxy, &checks, false);
    eprintln!("PEM client keys (wasm): {} checks", checks.len());
    assert_vm_healthy(&proxy);
    report("PEM client keys (wasm)", &checks, &failures);
}

/// The fixture helpers themselves: SHA-1 and the certificate encodings.
#[test]
fn fixture_helpers_are_right() {
    assert_eq!(
        hex::encode(sha1(b"abc")),
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
    assert_eq!(
        hex::encode(sha1(&[b'a'; 1000])),
        "291e9a6c66994949b57ba5e650361e98fc36b1ba"
    );
    let cert = &fx().firebase[0].1;
    assert!(cert.pem().starts_with("-----BEGIN CERTIFICATE-----\n"));
    assert!(cert.pem().ends_with("\n-----END CERTIFICATE-----\n"));
    assert_eq!(STANDARD.decode(cert.x5c()).unwrap(), cert.der);
}

/// PEM as people paste it, through `Config::parse` natively: CRLF line ends (a certificate
/// exported on Windows) load; a private key pasted by mistake is refused, and its text is not
/// repeated in the error (which Envoy logs).
#[test]
fn pem_as_pasted_parses_natively() {
    use jwt_authn_wasm::authn::model::Config;
    let fx = fx();
    let config = |pem_text: &str| {
        json!({"providers": {"c": {"issuer": "c", "local_jwks": {"inline_string": pem_text}}},
               "rules": [rule("/", provider("c"))]})
        .to_string()
    };
    let mut failures = Vec::new();
    for (what, text) in [
        (
            "CERTIFICATE with CRLF",
            fx.client_audit.1.pem().replace('\n', "\r\n"),
        ),
        (
            "PUBLIC KEY with CRLF",
            pem("PUBLIC KEY", &spki_der(&fx.client_billing)).replace('\n', "\r\n"),
        ),
        (
            "RSA PUBLIC KEY with CRLF",
            pem("RSA PUBLIC KEY", &pkcs1_der(&fx.client_reports)).replace('\n', "\r\n"),
        ),
    ] {
        if let Err(e) = Config::parse(&config(&text)) {
            failures.push(format!("{what}: refused: {e}"));
        }
    }
    let key = &fx.client_audit.0;
    let (sec1, pkcs8) = (x509::sec1_der(key), x509::pkcs8_der(key));
    let d = member_private(key, "d");
    for (what, text) in [
        ("PRIVATE KEY (PKCS#8)", pem("PRIVATE KEY", &pkcs8)),
        ("EC PRIVATE KEY (SEC 1)", pem("EC PRIVATE KEY", &sec1)),
    ] {
        match Config::parse(&config(&text)) {
            Ok(_) => failures.push(format!("{what}: accepted as a verification key")),
            Err(e) => {
                let msg = e.to_string();
                let body = text.lines().nth(1).unwrap_or_default();
                if msg.contains(&d) || (body.len() > 40 && msg.contains(&body[..40])) {
                    failures.push(format!("{what}: the error repeats the key: {msg}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ------------------------------------------------------------------------------------------
// envoy/examples/*.yaml

const EXAMPLES: [&str; 10] = [
    "okta",
    "adfs",
    "cognito",
    "ping",
    "azure-ad",
    "google",
    "firebase",
    "keycloak",
    "legacy-hs256",
    "client-assertions",
];

fn example_files() -> Vec<PathBuf> {
    let dir = Path::new(CRATE_ROOT).join("envoy/examples");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in EXAMPLES {
        assert!(
            names.iter().any(|n| n == want),
            "envoy/examples/{want}.yaml is missing (have {names:?})"
        );
    }
    files
}

/// The plugin JSON of an example: the literal block scalar after `value: |` (the examples are
/// written so; there is no YAML parser among the dependencies).
fn example_plugin_json(yaml: &str) -> Result<String, String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let starts: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.trim() == "value: |")
        .map(|(i, _)| i)
        .collect();
    let [start] = starts[..] else {
        return Err(format!(
            "expected exactly one `value: |` block, found {}",
            starts.len()
        ));
    };
    let block: Vec<&str> = lines[start + 1..]
        .iter()
        .copied()
        .take_while(|l| {
            l.trim().is_empty() || l.starts_with(&" ".repeat(indent_of(lines[start]) + 1))
        })
        .collect();
    let indent = block
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| indent_of(l))
        .min()
        .ok_or("empty `value: |` block")?;
    Ok(block
        .iter()
        .map(|l| l.get(indent..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n"))
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Static checks of an example: the filter is loaded from `dist/jwt_authn.wasm`, and every
/// remote JWKS cluster exists as a DNS cluster with TLS and SNI set to the JWKS host.
fn example_problems(path: &Path, yaml: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let name = path.file_name().unwrap().to_string_lossy();
    if !yaml.contains("filename: dist/jwt_authn.wasm") {
        problems.push(format!(
            "{name}: the wasm code is not `dist/jwt_authn.wasm`"
        ));
    }
    let plugin = match example_plugin_json(yaml)
        .and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => return vec![format!("{name}: plugin JSON: {e}")],
    };
    for (pname, p) in plugin["providers"].as_object().into_iter().flatten() {
        let Some(http_uri) = p["remote_jwks"].get("http_uri") else {
            continue;
        };
        let cluster = http_uri["cluster"].as_str().unwrap_or_default();
        let uri = http_uri["uri"].as_str().unwrap_or_default();
        let host = uri
            .split("://")
            .nth(1)
            .and_then(|r| r.split(['/', ':']).next())
            .unwrap_or_default();
        let Some(at) = yaml.find(&format!("- name: {cluster}\n")) else {
            problems.push(format!("{name}: provider {pname}: no cluster {cluster:?}"));
            continue;
        };
        // The cluster's own text: up to the next cluster, or the end.
        let rest = &yaml[at + 2..];
        let text = &rest[..rest.find("\n  - name: ").unwrap_or(rest.len())];
        if !text.contains("type: LOGICAL_DNS") && !text.contains("type: STRICT_DNS") {
            problems.push(format!("{name}: cluster {cluster}: not a DNS cluster"));
        }
        for want in [
            "envoy.transport_sockets.tls".to_owned(),
            format!("sni: {host}"),
            format!("address: {host}"),
            "port_value: 443".to_owned(),
        ] {
            if !text.contains(&want) {
                problems.push(format!("{name}: cluster {cluster}: no `{want}`"));
            }
        }
    }
    problems
}

/// `envoy --mode validate -c` on every example. Validate mode loads the .wasm and runs the
/// filter's `on_configure`, so the plugin JSON is checked by the filter itself (a bad field
/// fails validation). It does not need DNS: Envoy may send the first query for a DNS cluster
/// but neither waits for the answer nor fails without one (checked with a resolver that never
/// answers), so the examples validate offline with the identity providers' real hosts.
#[test]
fn examples_validate_in_envoy() {
    let files = example_files();
    // One validation per core at a time: each compiles the .wasm, more would only thrash.
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let workers = thread::available_parallelism().map_or(2, |n| n.get());
    thread::scope(|s| {
        for _ in 0..workers.min(files.len()) {
            s.spawn(|| {
                while let Some(file) = files.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let result = validate(file);
                    results.lock().unwrap().push(result);
                }
            });
        }
    });
    let results = results.into_inner().unwrap();
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(
        failures.is_empty(),
        "envoy --mode validate refused {} example(s):\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Each example's plugin JSON through `Config::parse` natively, plus the static checks.
#[test]
fn examples_parse_natively() {
    let mut failures = Vec::new();
    for f in example_files() {
        let yaml = fs::read_to_string(&f).unwrap();
        failures.extend(example_problems(&f, &yaml));
        match example_plugin_json(&yaml) {
            Ok(text) => {
                if let Err(e) = jwt_authn_wasm::authn::model::Config::parse(&text) {
                    failures.push(format!("{}: {e}", f.display()));
                }
            }
            Err(e) => failures.push(format!("{}: {e}", f.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
