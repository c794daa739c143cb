//! The fuzz targets' logic, one `pub fn <target>(data: &[u8])` per target in
//! `fuzz/fuzz_targets/`. Shared by the libFuzzer targets (`#[path = "../harness.rs"]`) and by
//! `tests/fuzz_regressions.rs`, which replays `fuzz/regressions/<target>/*` on stable.
//!
//! Each function panics when an invariant breaks, not only when the code under test does:
//! a token is allowed only if it really verifies with a known key and its claims hold, header
//! values a token can set are bounded and free of control characters, a cached verdict equals
//! an uncached one, a matcher agrees with a model written from Envoy's documented semantics, and
//! so on. Depends on `jwt_authn_wasm`, `serde_json` and std, and for the `x509` target on the
//! RustCrypto decoders the module's DER and PEM reader replaced (`x509-cert`, `der`, `spki`,
//! `pkcs1`, `pem-rfc7468`), which it must agree with.

#![allow(
    dead_code, // each fuzz target uses one function
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

use std::cell::RefCell;
use std::sync::OnceLock;

use jwt_authn_wasm::crypto::alg::Alg;
use jwt_authn_wasm::authn::{self, Decision, Input, KeyLookup, RemoteKeys};
use jwt_authn_wasm::token::b64;
use jwt_authn_wasm::authn::claims;
use jwt_authn_wasm::authn::model::{Config, Requirement, Tenants, MAX_REQUIREMENT_DEPTH};
use jwt_authn_wasm::keys::remote::{split_uri, RemoteJwks};
use jwt_authn_wasm::token::jws::MAX_TOKEN_BYTES;
use jwt_authn_wasm::crypto::{Curve, PublicKey};
use jwt_authn_wasm::error::AuthError;
use jwt_authn_wasm::request::extract;
use jwt_authn_wasm::keys::jwks;
use jwt_authn_wasm::keys::remote;
use jwt_authn_wasm::token::jws;
use jwt_authn_wasm::request::matcher::Request;
use jwt_authn_wasm::authn::policy::{Authorization, ClaimRule, ClaimTest, ClientBinding};
use jwt_authn_wasm::authn::token_cache::TokenCache;
use jwt_authn_wasm::keys::x509::{self, KeyMaterial};
use serde_json::{json, Map, Value};

/// The fixed clock of the `token` target (2023-11-14T22:13:20Z).
pub const NOW: u64 = 1_700_000_000;
/// The public keys the `token` target trusts: RS256, ES256, HS256 and EdDSA, from the private
/// JWKs beside it (`fuzz/keys/*.json`, made with `jwt-mint gen --seed`; test keys only).
pub const JWKS: &str = include_str!("keys/jwks.json");
const SKEW: u64 = 60;
const ISSUER: &str = "https://issuer.fuzz";
const OTHER_ISSUER: &str = "https://other.fuzz";
const AUDIENCE: &str = "api://fuzz";
const TENANTS: [&str; 2] = ["t1", "t2"];
/// Paths of the `token` target's rules, picked by the first input byte.
const PATHS: [&str; 6] = [
    "/api/x",
    "/admin/x",
    "/any/x",
    "/opt/x",
    "/missing/x",
    "/public/x",
];

/// Splits `data` at NUL bytes (never part of valid JSON text or a header value).
fn parts(data: &[u8]) -> Vec<String> {
    data.split(|b| *b == 0)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect()
}

fn no_remote_config_json() -> String {
    let provider = |extra: Value| {
        let mut p = json!({"local_jwks": {"inline_string": JWKS}});
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    };
    json!({
        "providers": {
            "main": provider(json!({
                "issuer": ISSUER,
                "audiences": [AUDIENCE],
                "forward_payload_header": "x-payload",
                "claim_to_headers": [
                    {"header_name": "x-sub", "claim_name": "sub"},
                    {"header_name": "x-email", "claim_name": "email"},
                    {"header_name": "x-roles", "claim_name": "realm_access.roles"},
                    {"header_name": "x-address", "claim_name": "address"},
                    {"header_name": "x-url-claim", "claim_name": "https://fuzz/claims.groups"}
                ]
            })),
            "other": provider(json!({
                "issuer": OTHER_ISSUER,
                "from_headers": [{"name": "x-token"}],
                "allowed_token_types": ["at+jwt"],
                "require_expiration": true,
                "max_lifetime": "3600s",
                "subjects": {"prefix": "user-"},
                "forward": true,
                "claim_to_headers": [{"header_name": "x-other-scope", "claim_name": "scope"}]
            })),
            "tenant": provider(json!({
                "issuer": "https://login.fuzz/{tenantid}/v2.0",
                "allowed_tenants": TENANTS,
                "from_params": ["tenant_token"],
                "clock_skew_seconds": SKEW
            }))
        },
        "rules": [
            {"match": {"prefix": "/public"}},
            {"match": {"prefix": "/admin"}, "requires": {"provider_name": "main"},
             "authorization": {
                "scopes": ["admin"],
                "claims": [{"claim": "realm_access.roles", "contains_any": ["admin", "root"]}],
                "client_id_header": {"header": "x-client-id"}
             }},
            {"match": {"prefix": "/any"}, "requires": {"requires_any": {"requirements": [
                {"provider_name": "main"}, {"provider_name": "other"}, {"provider_name": "tenant"}
            ]}}},
            {"match": {"prefix": "/opt"}, "requires": {"allow_missing_or_failed": {}}},
            {"match": {"prefix": "/missing"}, "requires": {"allow_missing": {}}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "main"}}
        ]
    })
    .to_string()
}

/// The `token` target's configuration, parsed once.
pub fn token_config() -> &'static Config {
    thread_local! {
        // `Config` holds `Rc`s: one per thread, leaked (fuzzing and tests build it once).
        static CONFIG: &'static Config = Box::leak(Box::new(
            Config::parse(&no_remote_config_json()).expect("fuzz config parses"),
        ));
    }
    CONFIG.with(|c| *c)
}

/// The same keys, built without `jwks.rs`: straight from the JWK members.
struct KnownKey {
    kid: String,
    alg: Alg,
    key: PublicKey,
    secret: Option<Vec<u8>>,
}

fn known_keys() -> &'static [KnownKey] {
    static KEYS: OnceLock<Vec<KnownKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let doc: Value = serde_json::from_str(JWKS).unwrap();
        let member = |k: &Value, name: &str| b64::decode(k[name].as_str().unwrap()).unwrap();
        doc["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                let (key, secret) = match k["kty"].as_str().unwrap() {
                    "RSA" => (
                        PublicKey::rsa(&member(k, "n"), &member(k, "e")).unwrap(),
                        None,
                    ),
                    "EC" => (
                        PublicKey::ec(Curve::P256, &member(k, "x"), &member(k, "y")).unwrap(),
                        None,
                    ),
                    "OKP" => (PublicKey::ed25519(&member(k, "x")).unwrap(), None),
                    "oct" => (
                        PublicKey::hmac(&member(k, "k")).unwrap(),
                        Some(member(k, "k")),
                    ),
                    other => panic!("unexpected kty {other}"),
                };
                KnownKey {
                    kid: k["kid"].as_str().unwrap().to_string(),
                    alg: Alg::parse(k["alg"].as_str().unwrap()).unwrap(),
                    key,
                    secret,
                }
            })
            .collect()
    })
}

fn hs256_secret() -> &'static [u8] {
    known_keys()
        .iter()
        .find_map(|k| k.secret.as_deref())
        .unwrap()
}

/// Target `token`. First byte: bits 0-2 pick the path (rule), bits 3-4 where the token goes
/// (`Authorization: Bearer`, `?access_token=`, `x-token`, or both headers), bit 7 the input
/// form. Raw form: the rest is the token. Structured form: the rest is
/// `header JSON \0 payload JSON \0 signature bytes [\0 x-client-id]`, base64url-encoded into a
/// token here; bit 6 replaces the signature with the correct HS256 MAC under the known secret,
/// so fuzzed claims reach claim checks, header rendering and authorization with a valid token.
pub fn token(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let mut client_id = None;
    let token = if sel & 0x80 == 0 {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        let mut it = rest.split(|b| *b == 0);
        let header = it.next().unwrap_or_default();
        let payload = it.next().unwrap_or_default();
        let sig = it.next().unwrap_or_default();
        client_id = it.next().map(|c| String::from_utf8_lossy(c).into_owned());
        let input = format!("{}.{}", b64::encode(header), b64::encode(payload));
        let sig = if sel & 0x40 != 0 {
            hmac_sha256(hs256_secret(), input.as_bytes()).to_vec()
        } else {
            sig.to_vec()
        };
        format!("{input}.{}", b64::encode(&sig))
    };
    check_parse(&token);

    let path = PATHS[usize::from(sel & 7) % PATHS.len()];
    let mut headers = vec![(":method".to_string(), "GET".to_string())];
    let mut sent = Vec::new();
    let mut push_header = |name: &str, value: String| headers.push((name.to_string(), value));
    match (sel >> 3) & 3 {
        0 => push_header("authorization", format!("Bearer {token}")),
        1 => push_header(
            ":path",
            format!("{path}?access_token={token}&tenant_token={token}"),
        ),
        2 => push_header("x-token", token.clone()),
        _ => {
            push_header("authorization", format!("Bearer {token}"));
            push_header("x-token", token.clone());
        }
    }
    if !headers.iter().any(|(n, _)| n == ":path") {
        headers.push((":path".to_string(), path.to_string()));
    }
    if let Some(c) = client_id {
        headers.push(("x-client-id".to_string(), c));
    }
    // A client trying to forge the headers the filter sets.
    headers.push(("x-sub".to_string(), "forged".to_string()));
    sent.push(token.clone());
    // What the extractor takes from the request (native rules: leading characters that cannot
    // start a token are skipped, a query value ends at `&` or `#` and is percent-decoded).
    for provider in &token_config().providers {
        for found in extract::tokens(&provider.locations, &headers) {
            if !sent.iter().any(|t| *t == found.token) {
                sent.push(found.token.to_string());
            }
        }
    }

    let config = token_config();
    let request = Request::new(&headers);
    let decision = authn::authenticate(Input::local(config, &request, NOW)).decision;

    // A cache must never change an answer: a miss, then a hit, equal the uncached answer.
    let cache = RefCell::new(TokenCache::new(8));
    for round in ["miss", "hit"] {
        let cached = authn::authenticate(Input {
            cache: Some(&cache),
            ..Input::local(config, &request, NOW)
        })
        .decision;
        assert_eq!(
            cached, decision,
            "cached ({round}) and uncached decisions differ"
        );
    }
    // Later, with the cache warm, must equal a fresh uncached answer at that time too.
    let later = NOW + 7200;
    assert_eq!(
        authn::authenticate(Input {
            cache: Some(&cache),
            ..Input::local(config, &request, later)
        })
        .decision,
        authn::authenticate(Input::local(config, &request, later)).decision,
        "cached and uncached decisions differ two hours later"
    );

    check_decision(config, path, &headers, &sent, &decision);
}

/// Structure of a parsed token, checked against the text it came from.
fn check_parse(token: &str) {
    let Ok(parsed) = jws::parse(token) else {
        return;
    };
    assert!(token.len() <= MAX_TOKEN_BYTES);
    let sections: Vec<&str> = token.split('.').collect();
    assert_eq!(sections.len(), 3, "a parsed JWS has three sections");
    assert_eq!(
        parsed.signing_input(),
        format!("{}.{}", sections[0], sections[1])
    );
    assert_eq!(parsed.compact(), token);
    assert_eq!(parsed.payload_b64(), sections[1]);
    // One accepted unpadded spelling per byte string.
    assert_eq!(
        b64::encode(&parsed.signature().unwrap()),
        sections[2].trim_end_matches('=')
    );
    let payload: Value = serde_json::from_slice(&b64::decode(sections[1]).unwrap()).unwrap();
    assert_eq!(Value::Object(parsed.claims.clone()), payload);
    for (name, value) in [
        ("exp", parsed.exp),
        ("nbf", parsed.nbf),
        ("iat", parsed.iat),
    ] {
        assert_eq!(payload.get(name).is_some(), value.is_some(), "{name}");
    }
    assert_eq!(
        parsed.iss.as_deref(),
        payload.get("iss").and_then(Value::as_str)
    );
    assert_eq!(
        parsed.sub.as_deref(),
        payload.get("sub").and_then(Value::as_str)
    );
    let header: Value = serde_json::from_slice(&b64::decode(sections[0]).unwrap()).unwrap();
    assert_eq!(header["alg"].as_str(), Some(parsed.alg.name()));
    assert!(header.get("crit").is_none());
    assert_eq!(
        parsed.kid.as_deref(),
        header.get("kid").and_then(Value::as_str)
    );
}

fn check_decision(
    config: &Config,
    path: &str,
    headers: &[(String, String)],
    sent: &[String],
    decision: &Decision,
) {
    let requires_token = !matches!(path, "/public/x" | "/opt/x" | "/missing/x");
    match decision {
        Decision::Allow(allowed) => {
            let edits = &allowed.edits;
            for g in &config.generated_headers {
                assert!(edits.remove.contains(g), "generated header {g} not removed");
            }
            if requires_token {
                assert!(
                    !allowed.verified_by.is_empty(),
                    "{path} allowed without a token"
                );
            }
            if path == "/public/x" {
                assert!(allowed.verified_by.is_empty() && edits.add.is_empty());
            }
            let mut verified_claims = Vec::new();
            for &index in &allowed.verified_by {
                let provider = &config.providers[index];
                let claims = sent
                    .iter()
                    .find_map(|t| independently_valid(&provider.name, t))
                    .unwrap_or_else(|| {
                        panic!(
                            "provider {} accepted a token that does not verify",
                            provider.name
                        )
                    });
                verified_claims.push(claims);
            }
            for (name, value) in &edits.add {
                assert!(
                    config.generated_headers.contains(name),
                    "unexpected header {name}"
                );
                if name == "x-payload" {
                    assert!(sent.iter().any(|t| {
                        t.split('.').nth(1).map(|p| p.trim_end_matches('=')) == Some(value.as_str())
                    }));
                } else {
                    check_header_value(value);
                }
            }
            if path == "/admin/x" {
                let client = headers
                    .iter()
                    .find(|(n, _)| n == "x-client-id")
                    .map(|(_, v)| v.as_str());
                assert!(
                    verified_claims.iter().any(|c| admin_ok(c, client)),
                    "/admin allowed a token that does not grant it"
                );
            }
        }
        Decision::Deny(e) => {
            assert!(matches!(e.http_status(), 401 | 403), "{e:?}");
            assert!(
                !matches!(
                    e,
                    AuthError::JwtInsufficientScope
                        | AuthError::JwtClaimsNotAllowed
                        | AuthError::JwtClientMismatch
                ),
                "authorization failures are Forbid, not Deny"
            );
        }
        Decision::Forbid(f) => {
            assert_eq!(path, "/admin/x", "only /admin has an authorization");
            assert!(matches!(
                f.error,
                AuthError::JwtInsufficientScope
                    | AuthError::JwtClaimsNotAllowed
                    | AuthError::JwtClientMismatch
            ));
            assert_eq!(f.scope.as_deref(), Some("admin"));
        }
        Decision::WaitForKeys(_) | Decision::RefetchKeys(_) => {
            panic!("no remote provider, yet {decision:?}")
        }
    }
}

/// A header value taken from a claim: non-empty, bounded, no control characters.
fn check_header_value(value: &str) {
    assert!(!value.is_empty(), "empty header value");
    assert!(
        value.len() <= claims::MAX_CLAIM_HEADER_BYTES,
        "header value too long"
    );
    assert!(
        !value.chars().any(char::is_control),
        "control character in {value:?}"
    );
}

/// The token's claims if it verifies for `provider` by a check that shares no code with the
/// filter but the primitive `PublicKey::verify` (and, for HS256, not even that): base64url
/// sections, a known key (kid may be absent), its algorithm, the signature, then the claims
/// each provider of the `token` configuration requires.
fn independently_valid(provider: &str, token: &str) -> Option<Map<String, Value>> {
    if token.len() > MAX_TOKEN_BYTES {
        return None;
    }
    let sections: Vec<&str> = token.split('.').collect();
    let [h, p, s] = sections[..] else { return None };
    let header: Map<String, Value> = serde_json::from_slice(&b64::decode(h)?).ok()?;
    let claims: Map<String, Value> = serde_json::from_slice(&b64::decode(p)?).ok()?;
    let signature = b64::decode(s)?;
    let alg = Alg::parse(header.get("alg")?.as_str()?)?;
    let kid = match header.get("kid") {
        None => None,
        Some(k) => Some(k.as_str()?),
    };
    let input = format!("{h}.{p}");
    let verified = known_keys().iter().any(|k| {
        kid.is_none_or(|kid| kid == k.kid)
            && k.alg == alg
            && k.key.verify(alg, input.as_bytes(), &signature).is_ok()
    });
    if alg == Alg::Hs256 && kid.is_none_or(|k| k == "fuzz-hs256") {
        // Our own HMAC-SHA256 must agree with the library's.
        let ours = hmac_sha256(hs256_secret(), input.as_bytes());
        assert_eq!(verified, ours[..] == signature[..], "HS256 verdicts differ");
    }
    if !verified {
        return None;
    }
    let num = |name: &str| claims.get(name).and_then(Value::as_f64);
    let skew = SKEW as f64;
    let now = NOW as f64;
    // Fractional times count by their whole seconds.
    if claims.contains_key("exp") && num("exp")?.floor() + skew < now {
        return None;
    }
    if claims.contains_key("nbf") && num("nbf")?.floor() > now + skew {
        return None;
    }
    let iss = claims.get("iss").and_then(Value::as_str);
    let ok = match provider {
        "main" => {
            let norm = |a: &str| {
                let a = a
                    .strip_prefix("https://")
                    .or_else(|| a.strip_prefix("http://"))
                    .unwrap_or(a);
                a.strip_suffix('/').unwrap_or(a).to_string()
            };
            let auds: Vec<&str> = match claims.get("aud") {
                Some(Value::String(a)) => vec![a.as_str()],
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            iss == Some(ISSUER) && auds.iter().any(|a| norm(a) == norm(AUDIENCE))
        }
        "other" => {
            let typ = header
                .get("typ")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase);
            iss == Some(OTHER_ISSUER)
                && matches!(typ.as_deref(), Some("at+jwt" | "application/at+jwt"))
                && claims
                    .get("sub")
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.starts_with("user-"))
                && matches!((num("iat"), num("exp")), (Some(i), Some(e)) if e.floor() - i.floor() <= 3600.0)
        }
        "tenant" => TENANTS.iter().any(|t| {
            iss == Some(format!("https://login.fuzz/{t}/v2.0").as_str())
                && claims.get("tid").and_then(Value::as_str) == Some(t)
        }),
        other => panic!("unknown provider {other}"),
    };
    ok.then_some(claims)
}

/// The `/admin` rule: scope `admin`, a role `admin` or `root`, `x-client-id` equal to the
/// token's `client_id`/`azp`/`cid`.
fn admin_ok(claims: &Map<String, Value>, client: Option<&str>) -> bool {
    let mut scopes: Vec<&str> = Vec::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(Value::String(s)) => scopes.extend(s.split(' ')),
            Some(Value::Array(a)) => scopes.extend(a.iter().filter_map(Value::as_str)),
            _ => {}
        }
    }
    let roles = claims::lookup(claims, "realm_access.roles");
    let has_role = |r: &str| match roles {
        Some(Value::Array(a)) => a.iter().any(|v| v == r),
        Some(Value::String(s)) => s.split(' ').any(|w| w == r),
        _ => false,
    };
    let token_client = ["client_id", "azp", "cid"]
        .iter()
        .find_map(|c| claims::lookup(claims, c))
        .and_then(Value::as_str);
    scopes.contains(&"admin")
        && (has_role("admin") || has_role("root"))
        && token_client.is_some()
        && token_client == client
}

/// Target `jwks`: the text as a remote JWKS body and as a `local_jwks.inline_string`.
pub fn jwks(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let remote = jwks::parse_jwks_report(&text);
    let local = jwks::parse_local_jwks_report(&text);
    if x509::is_pem(&text) {
        assert!(remote.is_err(), "a remote JWKS is never PEM");
    } else {
        match (&remote, &local) {
            (Ok((a, sa)), Ok((b, sb))) => {
                assert_eq!(a.len(), b.len());
                assert_eq!(sa, sb);
            }
            (Err(a), Err(b)) => assert_eq!(a, b),
            _ => panic!("remote and local parsing disagree on a non-PEM document"),
        }
    }
    for result in [&remote, &local] {
        match result {
            Ok((set, skipped)) => {
                assert!(!set.is_empty() && set.len() <= jwks::MAX_KEYS);
                assert!(text.len() <= jwks::MAX_JWKS_BYTES);
                assert!(
                    skipped.windows(2).all(|w| w[0].index < w[1].index),
                    "skipped keys out of order or twice"
                );
                for s in skipped {
                    assert!(
                        s.reason.len() <= 1024,
                        "skip reason of {} bytes",
                        s.reason.len()
                    );
                }
                for k in set.keys.iter().take(4) {
                    if let Some(alg) = k.alg {
                        assert!(k.key.supports(alg), "JWK alg {alg} its key cannot verify");
                    }
                    // Garbage never verifies, and never panics.
                    for alg in Alg::ALL {
                        if k.key.supports(alg) {
                            let sig = vec![0x5a; 64];
                            assert!(k.key.verify(alg, b"a.b", &sig).is_err());
                        }
                    }
                }
            }
            Err(e) => {
                assert!(
                    matches!(
                        e.status,
                        "JwksParseError" | "JwksNoKeys" | "JwksBadKeys" | "JwksNoValidKeys"
                    ),
                    "unexpected status {}",
                    e.status
                );
                assert!(
                    e.message.len() <= 16 * 1024,
                    "error message of {} bytes",
                    e.message.len()
                );
            }
        }
    }
}

/// Target `x509`: first byte picks the parser, the rest is DER (or PEM text for 5 and up).
pub fn x509(data: &[u8]) {
    let Some((&sel, der)) = data.split_first() else {
        return;
    };
    let result = match sel % 8 {
        0 => x509::certificate(der),
        1 => x509::spki(der),
        2 => x509::rsa_public_key(der),
        3 => x509::pem_block_key("CERTIFICATE", der),
        4 => x509::pem_block_key("PUBLIC KEY", der),
        5 => x509::pem_block_key("RSA PUBLIC KEY", der),
        _ => {
            let text = String::from_utf8_lossy(der);
            assert_eq!(
                x509::pem_blocks(&text).map(x509_reference::pem_normalized),
                x509_reference::pem_blocks(&text).map(x509_reference::pem_normalized),
                "the PEM reader and pem-rfc7468 disagree"
            );
            if let Ok(blocks) = x509::pem_blocks(&text) {
                assert!(!blocks.is_empty() && blocks.len() <= x509::MAX_PEM_BLOCKS);
                assert!(x509::is_pem(&text));
                for block in blocks.into_iter().flatten() {
                    assert!(block.der.len() <= x509::MAX_CERT_BYTES);
                    if let Ok(m) = x509::pem_block_key(&block.label, &block.der) {
                        check_material(&m);
                    }
                }
            }
            let _ = x509::pem_keys(&text);
            return;
        }
    };
    let _ = x509::thumbprint_sha256(der);
    // The same answer as RustCrypto's decoders (only the wording of a DER error differs).
    let reference = match sel % 8 {
        0 | 3 => x509_reference::certificate(der),
        1 | 4 => x509_reference::spki(der),
        _ => x509_reference::rsa_public_key(der),
    };
    assert_eq!(
        x509_reference::normalized(result.clone()),
        x509_reference::normalized(reference),
        "the DER reader and RustCrypto disagree"
    );
    if let Ok(material) = result {
        assert!(der.len() <= x509::MAX_CERT_BYTES);
        check_material(&material);
        // The certificate path and the SPKI path agree on the key they find.
        if sel % 8 == 0 {
            let key = x509::certificate_public_key(der);
            assert_eq!(key.is_ok(), material.public_key().is_ok());
        }
    }
}

/// The module's X.509 and PEM code before its own DER reader (src/keys/der.rs): RustCrypto's
/// decoders, as src/keys/x509/differential.rs keeps them for the unit tests.
mod x509_reference {
    use der::asn1::{ObjectIdentifier, UintRef};
    use der::referenced::OwnedToRef;
    use der::Decode;
    use jwt_authn_wasm::crypto::Curve;
    use jwt_authn_wasm::keys::x509::{
        KeyMaterial, PemBlock, X509Error, MAX_CERT_BYTES, MAX_PEM_BLOCKS, MAX_PEM_BYTES,
    };
    use spki::SubjectPublicKeyInfoRef;
    use x509_cert::certificate::{CertificateInner, Raw};

    type Blocks = Vec<Result<PemBlock, X509Error>>;

    pub fn normalized(result: Result<KeyMaterial, X509Error>) -> Result<KeyMaterial, X509Error> {
        result.map_err(|err| match err {
            X509Error::Malformed { what, .. } => X509Error::Malformed {
                what,
                detail: String::new(),
            },
            other => other,
        })
    }

    pub fn pem_normalized(blocks: Blocks) -> Blocks {
        blocks
            .into_iter()
            .map(|block| {
                block.map_err(|err| match err {
                    X509Error::Pem { detail } if detail.starts_with("PEM Base64 error") => {
                        X509Error::Pem {
                            detail: "PEM Base64 error".into(),
                        }
                    }
                    other => other,
                })
            })
            .collect()
    }

    fn malformed(what: &'static str) -> impl Fn(der::Error) -> X509Error {
        move |err| X509Error::Malformed {
            what,
            detail: err.to_string(),
        }
    }

    fn check_size(what: &'static str, der: &[u8]) -> Result<(), X509Error> {
        if der.len() > MAX_CERT_BYTES {
            return Err(X509Error::TooLarge {
                what,
                len: der.len(),
                max: MAX_CERT_BYTES,
            });
        }
        Ok(())
    }

    pub fn spki(der: &[u8]) -> Result<KeyMaterial, X509Error> {
        check_size("public key", der)?;
        from_spki(&SubjectPublicKeyInfoRef::from_der(der).map_err(malformed("public key"))?)
    }

    pub fn rsa_public_key(der: &[u8]) -> Result<KeyMaterial, X509Error> {
        check_size("RSA public key", der)?;
        let key = pkcs1::RsaPublicKey::<UintRef<'_>>::from_der(der)
            .map_err(malformed("RSA public key"))?;
        Ok(KeyMaterial::Rsa {
            n: key.modulus.as_bytes().to_vec(),
            e: key.public_exponent.as_bytes().to_vec(),
        })
    }

    pub fn certificate(der: &[u8]) -> Result<KeyMaterial, X509Error> {
        check_size("certificate", der)?;
        let cert = CertificateInner::<Raw>::from_der(der).map_err(malformed("certificate"))?;
        from_spki(
            &cert
                .tbs_certificate()
                .subject_public_key_info()
                .owned_to_ref(),
        )
    }

    fn from_spki(info: &SubjectPublicKeyInfoRef<'_>) -> Result<KeyMaterial, X509Error> {
        let oid = info.algorithm.oid;
        let params = info.algorithm.parameters;
        let bits = info
            .subject_public_key
            .as_bytes()
            .ok_or(X509Error::BadParameters {
                what: "public key bit string has unused bits",
            })?;
        if oid == ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1") {
            if params.is_some_and(|p| !p.is_null()) {
                return Err(X509Error::BadParameters {
                    what: "RSA key parameters are not NULL",
                });
            }
            rsa_public_key(bits)
        } else if oid == ObjectIdentifier::new_unwrap("1.2.840.10045.2.1") {
            let named = params
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or(X509Error::BadParameters {
                    what: "EC key parameters are not a named curve",
                })?;
            let curve = [
                ("1.2.840.10045.3.1.7", Curve::P256),
                ("1.3.132.0.34", Curve::P384),
                ("1.3.132.0.35", Curve::P521),
                ("1.3.132.0.10", Curve::Secp256k1),
            ]
            .into_iter()
            .find(|(known, _)| ObjectIdentifier::new_unwrap(known) == named)
            .map(|(_, curve)| curve)
            .ok_or_else(|| X509Error::UnsupportedCurve {
                oid: named.to_string(),
            })?;
            let len = curve.field_len();
            match bits.split_first() {
                Some((0x02 | 0x03, _)) => Err(X509Error::CompressedPoint),
                Some((0x04, coords)) if coords.len() == 2 * len => {
                    let (x, y) = coords.split_at(len);
                    Ok(KeyMaterial::Ec {
                        curve,
                        x: x.to_vec(),
                        y: y.to_vec(),
                    })
                }
                _ => Err(X509Error::BadPoint {
                    curve,
                    len: bits.len(),
                }),
            }
        } else if oid == ObjectIdentifier::new_unwrap("1.3.101.112") {
            if params.is_some() {
                return Err(X509Error::BadParameters {
                    what: "Ed25519 key has parameters",
                });
            }
            Ok(KeyMaterial::Ed25519 { x: bits.to_vec() })
        } else {
            Err(X509Error::UnsupportedAlgorithm {
                oid: oid.to_string(),
            })
        }
    }

    /// `x509::pem_blocks`'s splitting (unchanged), each block decoded by pem-rfc7468.
    pub fn pem_blocks(text: &str) -> Result<Blocks, X509Error> {
        if text.len() > MAX_PEM_BYTES {
            return Err(X509Error::TooLarge {
                what: "PEM text",
                len: text.len(),
                max: MAX_PEM_BYTES,
            });
        }
        let mut blocks = Vec::new();
        let mut rest = text.trim_start();
        while !rest.is_empty() {
            if !rest.starts_with("-----BEGIN ") {
                return Err(X509Error::NotPem);
            }
            if blocks.len() == MAX_PEM_BLOCKS {
                return Err(X509Error::TooManyPemBlocks);
            }
            let unterminated = || X509Error::Pem {
                detail: "a block has no -----END line".into(),
            };
            let end = rest.find("-----END ").ok_or_else(unterminated)? + "-----END ".len();
            let after_end = rest.get(end..).ok_or_else(unterminated)?;
            let close = end + after_end.find("-----").ok_or_else(unterminated)? + "-----".len();
            let (block, tail) = rest.split_at_checked(close).ok_or_else(unterminated)?;
            blocks.push(decode_pem_block(block));
            rest = tail.trim_start();
        }
        if blocks.is_empty() {
            return Err(X509Error::NotPem);
        }
        Ok(blocks)
    }

    fn decode_pem_block(block: &str) -> Result<PemBlock, X509Error> {
        let pem_error = |err: pem_rfc7468::Error| X509Error::Pem {
            detail: err.to_string(),
        };
        let mut decoder =
            pem_rfc7468::Decoder::new_detect_wrap(block.as_bytes()).map_err(pem_error)?;
        if decoder.remaining_len() > MAX_CERT_BYTES {
            return Err(X509Error::TooLarge {
                what: "PEM block",
                len: decoder.remaining_len(),
                max: MAX_CERT_BYTES,
            });
        }
        let label = decoder.type_label().to_owned();
        let mut der = Vec::new();
        decoder.decode_to_end(&mut der).map_err(pem_error)?;
        Ok(PemBlock { label, der })
    }
}

fn check_material(material: &KeyMaterial) {
    if let KeyMaterial::Ec { curve, x, y } = material {
        assert_eq!(x.len(), curve.field_len());
        assert_eq!(y.len(), curve.field_len());
    }
    let _ = material.kty();
    if let Ok(key) = material.public_key() {
        assert_eq!(key.family(), material.family());
        for alg in Alg::ALL {
            if key.supports(alg) {
                assert!(key.verify(alg, b"a.b", &[1; 64]).is_err());
            }
        }
    }
}

/// Target `discovery`: what an identity provider sends back. Part 0 is an OpenID Connect
/// discovery document, handled as `filter/root.rs` does (JSON, `issuer`, then `jwks_uri` split
/// into authority and path); the next parts are response headers `name: value`, from which
/// the JWKS lifetime is computed (`Cache-Control`, `Expires`, `Date`); a part `meta:<text>` is
/// decoded as the shared-data record.
pub fn discovery(data: &[u8]) {
    let parts = parts(data);
    let doc = parts.first().map(String::as_str).unwrap_or_default();
    // The adapter's own reading of the document (remote::discovery_jwks_uri).
    for issuer in [Some("https://idp.fuzz"), None] {
        if let Ok((authority, path)) = remote::discovery_jwks_uri(doc.as_bytes(), issuer) {
            assert!(
                issuer.is_some(),
                "a provider without issuer accepted a document"
            );
            assert!(path.starts_with('/'), "jwks_uri path {path:?}");
            assert!(!authority.contains('/'), "jwks_uri authority {authority:?}");
        }
    }
    if let Ok(doc) = serde_json::from_str::<Value>(doc) {
        if let Some(uri) = doc.get("jwks_uri").and_then(Value::as_str) {
            check_split_uri(uri);
        }
    }
    check_split_uri(doc);
    let remote = remote_jwks_for_discovery();
    let mut headers = Vec::new();
    for p in parts.iter().skip(1) {
        if let Some(meta) = p.strip_prefix("meta:") {
            if let Some(m) = remote::Meta::decode(meta.as_bytes()) {
                // What is encoded decodes to itself.
                assert_eq!(remote::Meta::decode(&m.encode()), Some(m));
            }
            continue;
        }
        let (name, value) = p.split_once(':').unwrap_or((p, ""));
        let _ = remote::http_date_ms(value.trim());
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    for now_ms in [0, NOW * 1000, u64::MAX] {
        let ms = remote::lifetime_ms(&remote, &headers, now_ms);
        assert!(
            ms == remote.cache_duration_ms
                || (remote.min_cache_duration_ms..=remote.max_cache_duration_ms).contains(&ms),
            "lifetime {ms} ms outside the configured bounds"
        );
    }
}

fn remote_jwks_for_discovery() -> RemoteJwks {
    static REMOTE: OnceLock<RemoteJwks> = OnceLock::new();
    REMOTE
        .get_or_init(|| {
            let text = json!({"providers": {"idp": {
                "issuer": "https://idp.fuzz",
                "remote_jwks": {
                    "http_uri": {"uri": "https://idp.fuzz/.well-known/openid-configuration",
                                 "cluster": "idp", "timeout": "2s"},
                    "cache_duration": "600s",
                    "min_cache_duration": "60s",
                    "max_cache_duration": "3600s"
                }
            }}})
            .to_string();
            let mut config = Config::parse(&text).expect("discovery config parses");
            let provider = config.providers.pop().unwrap();
            provider.remote().cloned().unwrap()
        })
        .clone()
}

/// `split_uri` keeps the URI's text: authority then path, nothing lost or invented.
fn check_split_uri(uri: &str) {
    let Some((authority, path)) = split_uri(uri) else {
        return;
    };
    assert!(!authority.is_empty());
    assert!(
        !authority.contains(['@', ' ', '?', '#', '/']),
        "{authority:?}"
    );
    assert!(path.starts_with('/'), "{path:?}");
    let rest = uri
        .strip_prefix("http://")
        .or_else(|| uri.strip_prefix("https://"))
        .unwrap();
    if rest.contains('/') {
        assert_eq!(format!("{authority}{path}"), rest);
    } else {
        assert_eq!((authority, path), (rest, "/"));
    }
}

/// Target `config`: arbitrary text as the plugin configuration. An accepted configuration is
/// internally consistent, is read the same whatever proto3 JSON spelling its field names use
/// (snake_case or lowerCamelCase), and can answer a request.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(config) = Config::parse(&text) else {
        return;
    };
    check_config(&config);
    // The same document with every field name spelled in snake_case must mean the same. The
    // respelled document is written out again, so it is compared only when the document survives
    // that: serde_json's float parsing (without `float_roundtrip`, as the module is built) may
    // land one ULP off on text such as `2.5e91`, and printing and reparsing that double can move
    // it once more. Such a number means the same in both spellings; only the rewrite moved it.
    if let Ok(value) = serde_json::from_str::<Value>(&text) {
        let mut collided = false;
        let snake = snake_keys(&value, false, &mut collided);
        let survives = serde_json::from_str::<Value>(&value.to_string()).is_ok_and(|v| v == value);
        if !collided && survives {
            let again = Config::parse(&snake.to_string());
            let again = again.unwrap_or_else(|e| {
                panic!("the snake_case spelling of an accepted config is refused: {e:?}")
            });
            assert_eq!(
                normalized_debug(&config),
                normalized_debug(&again),
                "field-name spelling changed the meaning of the configuration"
            );
        }
    }
    let headers = vec![
        (":path".to_string(), "/api?access_token=a.b.c".to_string()),
        (":method".to_string(), "GET".to_string()),
        (
            "authorization".to_string(),
            "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln".to_string(),
        ),
        // Headers a configuration may or may not read (matchers, token locations, client
        // bindings, CORS): in debug builds `authenticate` checks that leaving out those its
        // `header_fetch` does not name changes nothing.
        ("x-token".to_string(), "eyJhbGciOiJIUzI1NiJ9.e30.c2ln".to_string()),
        ("cookie".to_string(), "session=eyJhbGciOiJIUzI1NiJ9.e30.c2ln".to_string()),
        ("x-client-id".to_string(), "c".to_string()),
        ("origin".to_string(), "https://o.example".to_string()),
        ("access-control-request-method".to_string(), "GET".to_string()),
    ];
    struct Pending;
    impl KeyLookup for Pending {
        fn remote(&self, _: usize) -> RemoteKeys<'_> {
            RemoteKeys::Pending
        }
    }
    let decision = authn::authenticate(Input {
        keys: &Pending,
        ..Input::local(&config, &Request::new(&headers), NOW)
    })
    .decision;
    if let Decision::Allow(allowed) = &decision {
        // The token above is not signed by anything: only a rule without a requirement, or
        // allow_missing_or_failed, lets it through, and it verifies for no provider.
        assert!(allowed.verified_by.is_empty(), "an unsigned token verified");
    }
}

fn check_config(config: &Config) {
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    for name in &config.generated_headers {
        assert!(
            !name.is_empty() && name.bytes().all(tchar),
            "header name {name:?}"
        );
        assert_eq!(name, &name.to_ascii_lowercase());
    }
    for p in &config.providers {
        for c in &p.claim_to_headers {
            assert!(config.generated_headers.contains(&c.header_name));
        }
        if let Some(h) = &p.forward_payload_header {
            assert!(config.generated_headers.contains(h));
        }
        assert!(
            !p.locations.is_empty(),
            "provider {} has no token location",
            p.name
        );
        if p.tenants.is_some() {
            assert!(p
                .issuer
                .as_deref()
                .is_some_and(|i| i.contains(Tenants::PLACEHOLDER)));
        }
    }
    for rule in &config.rules {
        if let Some(r) = &rule.requires {
            check_requirement(r, config.providers.len(), 0);
        }
        if rule.authorization.is_some() {
            assert!(rule.requires.is_some());
        }
    }
}

fn check_requirement(r: &Requirement, providers: usize, depth: usize) {
    assert!(
        depth <= MAX_REQUIREMENT_DEPTH + 1,
        "requirement nested {depth} deep"
    );
    match r {
        Requirement::Provider { index, .. } => assert!(*index < providers),
        Requirement::Any(c) | Requirement::All(c) => {
            for child in c {
                check_requirement(child, providers, depth + 1);
            }
        }
        Requirement::AllowMissing(p) | Requirement::AllowMissingOrFailed(p) => {
            assert!(p.iter().all(|i| *i < providers));
        }
    }
}

/// `Debug` of a configuration without the per-parse key-set ids.
fn normalized_debug(config: &Config) -> String {
    let text = format!("{config:?}");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find("id: ") {
        out.push_str(&rest[..at + 4]);
        rest = rest[at + 4..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

/// Member names rewritten to snake_case, except where names are data: provider and
/// requirement names, and the JSON values of claim matchers.
fn snake_keys(value: &Value, names_are_data: bool, collided: &mut bool) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = if names_are_data { k.clone() } else { snake(k) };
                let child = match key.as_str() {
                    _ if names_are_data => snake_keys(v, false, collided),
                    "providers" | "requirement_map" => snake_keys(v, true, collided),
                    "equals" | "one_of" | "contains_all" | "contains_any" | "inline_string" => {
                        v.clone()
                    }
                    _ => snake_keys(v, false, collided),
                };
                if out.insert(key, child).is_some() {
                    *collided = true;
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| snake_keys(v, false, collided))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn snake(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Target `claim_headers`: part 0 is a JSON object of claims, the next parts claim names or
/// dotted paths. Every path is rendered as a header value and looked up; the claims are also
/// checked against an authorization built from the input (scopes from the paths, claim
/// matchers on them with the values found), which must agree with a model of its semantics.
pub fn claim_headers(data: &[u8]) {
    let parts = parts(data);
    let Some(Ok(Value::Object(claims_map))) =
        parts.first().map(|p| serde_json::from_str::<Value>(p))
    else {
        return;
    };
    let paths: Vec<&str> = parts.iter().skip(1).map(String::as_str).take(16).collect();
    for path in &paths {
        let found = claims::lookup(&claims_map, path);
        assert_eq!(found, model_lookup(&claims_map, path), "lookup of {path:?}");
        let rendered = claims::header_value(&claims_map, path);
        if found.is_none() {
            assert!(rendered.is_none());
        }
        if let Some(v) = &rendered {
            check_header_value(v);
            match found {
                Some(Value::String(s)) => assert_eq!(v, s),
                Some(Value::Bool(b)) => assert_eq!(v, &b.to_string()),
                Some(Value::Null) => panic!("null rendered as {v:?}"),
                _ => {}
            }
        }
        if let Some(Value::String(s)) = found {
            if !s.is_empty()
                && s.len() <= claims::MAX_CLAIM_HEADER_BYTES
                && !s.chars().any(char::is_control)
            {
                assert_eq!(
                    rendered.as_deref(),
                    Some(s.as_str()),
                    "a clean string claim is dropped"
                );
            }
        }
    }

    // Authorization: one rule per path, alternating matchers, values from the claims themselves.
    let mut rules = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let value = claims::lookup(&claims_map, path).cloned();
        let test = match (i % 5, value) {
            (0, Some(v)) => ClaimTest::Equals(v),
            (1, Some(v)) => ClaimTest::OneOf(vec![Value::Null, v]),
            (2, Some(Value::Array(a))) if !a.is_empty() => ClaimTest::ContainsAll(a),
            (3, Some(Value::String(s))) => {
                ClaimTest::ContainsAny(s.split(' ').map(|w| Value::String(w.to_string())).collect())
            }
            (4, None) => ClaimTest::Absent,
            (_, _) => ClaimTest::ContainsAny(vec![Value::String((*path).to_string())]),
        };
        rules.push(ClaimRule {
            claim: (*path).to_string(),
            test,
        });
    }
    let scopes: Vec<String> = paths
        .iter()
        .filter(|p| !p.is_empty() && !p.contains(' '))
        .take(2)
        .map(|p| (*p).to_string())
        .collect();
    let client = paths.first().map(|p| ClientBinding {
        header: "x-client".to_string(),
        claims: vec![(*p).to_string(), "azp".to_string()],
    });
    let header_value = parts.last().cloned().unwrap_or_default();
    let headers = vec![("x-client".to_string(), header_value.clone())];
    let request = Request::new(&headers);
    let authorization = Authorization {
        scopes: scopes.clone(),
        claims: rules.clone(),
        client: client.clone(),
    };
    let got = authorization.check(&claims_map, &request);
    let want = model_authorization(&claims_map, &scopes, &rules, client.as_ref(), &header_value);
    match (&got, want) {
        (Ok(()), None) => {}
        (Err(f), Some(e)) => {
            assert_eq!(f.error, e);
            assert_eq!(f.scope, (!scopes.is_empty()).then(|| scopes.join(" ")));
        }
        _ => panic!("authorization {got:?}, model {want:?}"),
    }
}

fn model_lookup<'c>(claims: &'c Map<String, Value>, path: &str) -> Option<&'c Value> {
    if let Some(v) = claims.get(path) {
        return Some(v);
    }
    let mut value: Option<&Value> = None;
    for (i, part) in path.split('.').enumerate() {
        value = if i == 0 {
            claims.get(part)
        } else {
            match value {
                Some(Value::Object(m)) => m.get(part),
                _ => None,
            }
        };
        value?;
    }
    value
}

fn model_authorization(
    claims: &Map<String, Value>,
    scopes: &[String],
    rules: &[ClaimRule],
    client: Option<&ClientBinding>,
    header: &str,
) -> Option<AuthError> {
    let mut granted: Vec<String> = Vec::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(Value::String(s)) => {
                granted.extend(s.split(' ').filter(|w| !w.is_empty()).map(str::to_string));
            }
            Some(Value::Array(a)) => {
                granted.extend(a.iter().filter_map(Value::as_str).map(str::to_string));
            }
            _ => {}
        }
    }
    if !scopes.iter().all(|s| granted.contains(s)) {
        return Some(AuthError::JwtInsufficientScope);
    }
    let members = |v: &Value| -> Vec<Value> {
        match v {
            Value::Array(a) => a.clone(),
            Value::String(s) => s
                .split(' ')
                .filter(|w| !w.is_empty())
                .map(|w| Value::String(w.to_string()))
                .collect(),
            other => vec![other.clone()],
        }
    };
    for rule in rules {
        let v = model_lookup(claims, &rule.claim);
        let holds = match (&rule.test, v) {
            (ClaimTest::Absent, v) => v.is_none(),
            (_, None) => false,
            (ClaimTest::Equals(w), Some(v)) => w == v,
            (ClaimTest::OneOf(o), Some(v)) => o.iter().any(|x| x == v),
            (ClaimTest::ContainsAll(w), Some(v)) => w.iter().all(|x| members(v).contains(x)),
            (ClaimTest::ContainsAny(w), Some(v)) => w.iter().any(|x| members(v).contains(x)),
        };
        if !holds {
            return Some(AuthError::JwtClaimsNotAllowed);
        }
    }
    if let Some(b) = client {
        let token_client = b
            .claims
            .iter()
            .find_map(|c| model_lookup(claims, c))
            .and_then(Value::as_str);
        if token_client != Some(header) {
            return Some(AuthError::JwtClientMismatch);
        }
    }
    None
}

/// Target `matchers`: part 0 is a rule's `match` JSON, part 1 the request's `:path`, the next
/// parts headers `name: value` (`@route: name` sets the route name). The matcher is built by
/// `Config::parse` and must agree with a model of Envoy's `RouteMatch` written from its
/// documentation, whose `safe_regex` is a full match: the whole value matches the pattern.
pub fn matchers(data: &[u8]) {
    let parts = parts(data);
    let Some(m) = parts.first() else { return };
    let Ok(match_json) = serde_json::from_str::<Value>(m) else {
        return;
    };
    let text = json!({"rules": [{"match": match_json}]}).to_string();
    let Ok(config) = Config::parse(&text) else {
        return;
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(path) = parts.get(1) {
        headers.push((":path".to_string(), path.clone()));
    }
    let mut route_name = None;
    for p in parts.iter().skip(2).take(16) {
        let (name, value) = p.split_once(':').unwrap_or((p, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        if name == "@route" {
            route_name = Some(value.to_string());
        } else {
            headers.push((name.to_ascii_lowercase(), value.to_string()));
        }
    }
    let mut request = Request::new(&headers);
    request.route_name = route_name.as_deref();
    let got = config.rules[0].matcher.matches(&request);
    // Query values are computed twice the same way; path() has no query or fragment.
    assert!(!request.path().contains(['?', '#']));
    if let Some(want) = model_route(&match_json, &headers, route_name.as_deref()) {
        assert_eq!(
            got, want,
            "RouteMatch disagrees with the model for {match_json}"
        );
    }
}

fn field<'v>(m: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    m.get(name).or_else(|| {
        let camel: String = {
            let mut out = String::new();
            let mut upper = false;
            for c in name.chars() {
                if c == '_' {
                    upper = true;
                } else if upper {
                    out.push(c.to_ascii_uppercase());
                    upper = false;
                } else {
                    out.push(c);
                }
            }
            out
        };
        m.get(&camel)
    })
}

/// Envoy's full-match `safe_regex`, by regex-lite: the engine the module used before its own
/// (src/request/regex/), checked alone and searched anchored as the module did. `None` where
/// regex-lite refuses the pattern (the module may accept the largest ones, its program being
/// smaller; it refuses for RE2's repetition limit some regex-lite accepts).
fn regex_full_match(pattern: &str, value: &str) -> Option<bool> {
    regex_lite::Regex::new(pattern).ok()?;
    let re = regex_lite::Regex::new(&format!("^(?:{pattern})$")).ok()?;
    Some(re.find(value).is_some_and(|m| m.start() == 0 && m.end() == value.len()))
}

fn model_string_matcher(m: &Map<String, Value>, value: &str) -> Option<bool> {
    let ignore = field(m, "ignore_case")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let fold = |s: &str| {
        if ignore {
            s.to_ascii_lowercase()
        } else {
            s.to_string()
        }
    };
    let v = fold(value);
    for kind in ["exact", "prefix", "suffix", "contains"] {
        if let Some(Value::String(s)) = field(m, kind) {
            let s = fold(s);
            return Some(match kind {
                "exact" => v == s,
                "prefix" => v.starts_with(&s),
                "suffix" => v.ends_with(&s),
                _ => v.contains(&s),
            });
        }
    }
    let re = field(m, "safe_regex")?.as_object()?;
    regex_full_match(field(re, "regex")?.as_str()?, value)
}

fn model_route(m: &Value, headers: &[(String, String)], route: Option<&str>) -> Option<bool> {
    let m = m.as_object()?;
    let raw_path = headers
        .iter()
        .find(|(n, _)| n == ":path")
        .map_or("/", |(_, v)| v.as_str());
    let path = raw_path.split(['?', '#']).next().unwrap_or_default();
    let case_sensitive = field(m, "case_sensitive")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let path_ok = if let Some(Value::String(p)) = field(m, "prefix") {
        if case_sensitive {
            path.starts_with(p.as_str())
        } else {
            path.len() >= p.len() && path.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
        }
    } else if let Some(Value::String(p)) = field(m, "path") {
        if case_sensitive {
            path == p
        } else {
            path.eq_ignore_ascii_case(p)
        }
    } else {
        let re = field(m, "safe_regex")?.as_object()?;
        regex_full_match(field(re, "regex")?.as_str()?, path)?
    };
    let mut ok = path_ok;
    for h in field(m, "headers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let h = h.as_object()?;
        let name = field(h, "name")?.as_str()?.to_ascii_lowercase();
        let values: Vec<&str> = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(&name))
            .map(|(_, v)| v.as_str())
            .collect();
        let invert = field(h, "invert_match")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let joined = values.join(",");
        let mut result = None;
        for (member, op) in [
            ("exact_match", 0),
            ("prefix_match", 1),
            ("suffix_match", 2),
            ("contains_match", 3),
        ] {
            if let Some(Value::String(s)) = field(h, member) {
                result = Some(match op {
                    0 => joined == *s,
                    1 => joined.starts_with(s.as_str()),
                    2 => joined.ends_with(s.as_str()),
                    _ => joined.contains(s.as_str()),
                });
            }
        }
        if let Some(re) = field(h, "safe_regex_match") {
            result = Some(regex_full_match(
                field(re.as_object()?, "regex")?.as_str()?,
                &joined,
            )?);
        }
        if let Some(sm) = field(h, "string_match") {
            result = Some(model_string_matcher(sm.as_object()?, &joined)?);
        }
        let this = match (result, field(h, "present_match")) {
            (Some(r), _) => !values.is_empty() && (r != invert),
            (None, Some(Value::Bool(want))) => (*want != values.is_empty()) != invert,
            (None, _) => values.is_empty() == invert,
        };
        ok &= this;
    }
    let query: Vec<(&str, &str)> = raw_path
        .split_once('?')
        .map(|(_, q)| q.split('#').next().unwrap_or_default())
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    for q in field(m, "query_parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let q = q.as_object()?;
        let name = field(q, "name")?.as_str()?;
        let first = query.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        let this = match (field(q, "string_match"), field(q, "present_match")) {
            (Some(sm), _) => match first {
                Some(v) => model_string_matcher(sm.as_object()?, v)?,
                None => false,
            },
            (None, Some(Value::Bool(want))) => first.is_some() == *want,
            (None, _) => first.is_some(),
        };
        ok &= this;
    }
    match field(m, "route_name") {
        None => {}
        Some(Value::String(s)) => ok &= route == Some(s.as_str()),
        Some(Value::Object(sm)) => {
            ok &= match route {
                Some(r) => model_string_matcher(sm, r)?,
                None => false,
            }
        }
        Some(_) => return None,
    }
    Some(ok)
}

/// HMAC-SHA256 (RFC 2104) over our own SHA-256 (FIPS 180-4): the `token` target signs with it,
/// and checks the library's HS256 verdicts against it.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&sha256(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    inner.extend_from_slice(message);
    let mut outer: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    outer.extend_from_slice(&sha256(&inner));
    sha256(&outer)
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    let bits = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bits.to_be_bytes());
    for chunk in msg.chunks(64) {
        let mut w = [0u32; 64];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([
                chunk[4 * i],
                chunk[4 * i + 1],
                chunk[4 * i + 2],
                chunk[4 * i + 3],
            ]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (i, word) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// A target's entry point.
pub type Target = fn(&[u8]);

/// All targets, by name, for the regression replayer.
pub const TARGETS: [(&str, Target); 7] = [
    ("token", token),
    ("jwks", jwks),
    ("x509", x509),
    ("discovery", discovery),
    ("config", config),
    ("claim_headers", claim_headers),
    ("matchers", matchers),
];
