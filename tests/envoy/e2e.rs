//! End-to-end scenarios: the wasm filter inside a real Envoy 1.40, an echo upstream that shows
//! what reached it, and JWKS stubs the test steers at run time. Tokens are minted by `jwt_mint`.
//!
//! The local-JWKS scenarios share one Envoy (many providers and routes); the same table is also
//! run against Envoy's native `jwt_authn` configured with the same JSON, which checks that the
//! expectations written here are the native ones. Remote-JWKS scenarios get their own Envoy each,
//! because their JWKS server behaves differently over time.
//!
//! Needs Envoy (`make setup`) and the built filter (`make build`); a missing one fails the test.

use std::fs;
use std::path::Path;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jwt_mint::{jwks, Alg, Key};
use serde_json::{json, Value};

use crate::support::{
    assert_configs_refused, assert_vm_healthy, bearer, body, flip_signature_bit, now, poll_until,
    validate, EnvoyBuilder, JwksStub, Proxy, Refused, Response, Upstream, CRATE_ROOT,
};

const ISS: &str = "https://issuer.e2e.example";
const AUD: &str = "api.e2e.example";

/// Claims every provider here accepts: issuer, audience, an hour of validity, and one claim of
/// each JSON type that `claim_to_headers` forwards.
fn good_claims() -> Value {
    let t = now();
    json!({"iss": ISS, "aud": AUD, "sub": "alice", "iat": t, "exp": t + 3600, "num": 42, "admin": true})
}

/// `good_claims()` with some members replaced (a `null` removes the member).
fn claims_with(changes: Value) -> Value {
    let mut c = good_claims();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

/// One signing key per algorithm (RSA algs share one 2048-bit modulus: RSA key generation is
/// slow in a debug build), plus an unrelated RSA key for "signed by someone else".
struct Keys {
    by_alg: Vec<Key>,
    stranger: Key,
}

impl Keys {
    fn get(&self, alg: Alg) -> &Key {
        self.by_alg.iter().find(|k| k.alg() == alg).unwrap()
    }

    fn rsa(&self) -> &Key {
        self.get(Alg::RS256)
    }
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let rsa = Key::from_seed(Alg::RS256, "k-RS256", 1);
        let by_alg = Alg::ALL
            .iter()
            .map(|&alg| {
                let kid = format!("k-{alg}");
                if alg.family() == jwt_mint::Family::Rsa {
                    rsa.with_alg(alg).unwrap().with_kid(&kid)
                } else {
                    Key::from_seed(alg, &kid, 1)
                }
            })
            .collect();
        Keys {
            by_alg,
            stranger: Key::from_seed(Alg::RS256, "k-RS256", 2),
        }
    })
}

/// Native Envoy's `www-authenticate`: the realm is the request URL with the path (query
/// included) cut to 256 bytes.
fn www_authenticate(port: u16, path: &str, token_presented: bool) -> String {
    www_authenticate_with(port, "http", path, token_presented)
}

fn www_authenticate_with(port: u16, scheme: &str, path: &str, token_presented: bool) -> String {
    let path = &path[..path.len().min(256)];
    let mut v = format!("Bearer realm=\"{scheme}://127.0.0.1:{port}{path}\"");
    if token_presented {
        v.push_str(", error=\"invalid_token\"");
    }
    v
}

// ------------------------------------------------------------------------------------------
// Local JWKS: one Envoy, many providers and routes

/// The plugin configuration of the local-JWKS Envoy. It is also valid native `jwt_authn`
/// configuration (same proto3 JSON).
fn local_config() -> Value {
    let k = keys();
    let all = jwks(&k.by_alg.iter().collect::<Vec<_>>()).to_string();
    // The RSA key without `alg`: a JWK that does not pin its algorithm, the classic setting for
    // the "HS256 keyed with the RSA public key" confusion.
    let mut rsa_jwk = k.rsa().public_jwk();
    rsa_jwk.as_object_mut().unwrap().remove("alg");
    let rsa_no_alg = json!({"keys": [rsa_jwk]}).to_string();
    let claim_headers = json!([
        {"header_name": "x-jwt-sub", "claim_name": "sub"},
        {"header_name": "x-jwt-num", "claim_name": "num"},
        {"header_name": "x-jwt-admin", "claim_name": "admin"}
    ]);
    json!({
        "providers": {
            "main": {
                "issuer": ISS, "audiences": [AUD],
                "local_jwks": {"inline_string": all},
                "forward_payload_header": "x-jwt-payload",
                "claim_to_headers": claim_headers,
                "clear_route_cache": true
            },
            "fwd": {
                "issuer": ISS, "audiences": [AUD], "forward": true,
                "local_jwks": {"inline_string": all},
                "jwt_cache_config": {"jwt_cache_size": 50, "jwt_max_token_size": 8192},
                "claim_to_headers": [{"header_name": "x-jwt-sub", "claim_name": "sub"}]
            },
            "noalg": {"issuer": ISS, "local_jwks": {"inline_string": rsa_no_alg}},
            "custom": {
                "issuer": ISS, "local_jwks": {"inline_string": all},
                "from_headers": [{"name": "x-token", "value_prefix": "Token "}]
            },
            "param": {
                "issuer": ISS, "local_jwks": {"inline_string": all},
                "from_params": ["access_token"]
            },
            "cookie": {
                "issuer": ISS, "local_jwks": {"inline_string": all},
                "from_cookies": ["session"]
            }
        },
        "rules": [
            {"match": {"prefix": "/public"}},
            {"match": {"prefix": "/api"}, "requires": {"provider_name": "main"}},
            {"match": {"prefix": "/fwd"}, "requires": {"provider_name": "fwd"}},
            {"match": {"prefix": "/noalg"}, "requires": {"provider_name": "noalg"}},
            {"match": {"prefix": "/custom"}, "requires": {"provider_name": "custom"}},
            {"match": {"path": "/param"}, "requires": {"provider_name": "param"}},
            {"match": {"path": "/cookie"}, "requires": {"provider_name": "cookie"}}
        ]
    })
}

/// What one request must get.
struct Check {
    what: String,
    path: String,
    headers: Vec<(String, String)>,
    expect: Expect,
    /// Only the wasm filter promises this (native Envoy differs, for the reason given).
    wasm_only: Option<&'static str>,
    /// The scheme and path a refusal's realm names, when not `http` and the request's path.
    realm: Option<(&'static str, String)>,
}

enum Expect {
    /// 200 from the echo upstream; then these request headers as the upstream saw them
    /// (`None` = absent).
    Pass(Vec<(&'static str, Option<String>)>),
    /// 200 with this body from a `direct_response` route (Envoy answers, not the upstream).
    Direct(&'static str),
    /// A local reply: status, body, and whether `error="invalid_token"` is in www-authenticate.
    Fail(u16, &'static str, bool),
}

fn check(what: impl Into<String>, path: &str, headers: &[(&str, &str)], expect: Expect) -> Check {
    Check {
        what: what.into(),
        path: path.to_owned(),
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        expect,
        wasm_only: None,
        realm: None,
    }
}

fn payload_segment(token: &str) -> String {
    token.split('.').nth(1).unwrap().to_owned()
}

/// Every local-JWKS request and what it must get.
fn local_checks() -> Vec<Check> {
    use body::*;
    let k = keys();
    let mut checks = Vec::new();

    // A good token for every algorithm; its claims reach the upstream as headers, the token
    // itself does not (forward is off), the payload does.
    for key in &k.by_alg {
        let token = key.token(&good_claims());
        let auth = bearer(&token);
        let mut c = check(
            format!("valid {} token", key.alg()),
            "/api/alg",
            &[("authorization", &auth)],
            Expect::Pass(vec![
                ("x-jwt-sub", Some("alice".into())),
                ("x-jwt-num", Some("42".into())),
                ("x-jwt-admin", Some("true".into())),
                ("x-jwt-payload", Some(payload_segment(&token))),
                ("authorization", None),
            ]),
        );
        if key.alg() == Alg::ES256K {
            c.wasm_only = Some("native jwt_authn does not implement ES256K");
        }
        checks.push(c);
    }

    // A route Envoy answers itself is guarded like the others.
    let auth = bearer(&k.get(Alg::PS256).token(&good_claims()));
    checks.push(check(
        "direct_response route with a token",
        "/api/static",
        &[("authorization", &auth)],
        Expect::Direct(STATIC_BODY),
    ));
    checks.push(check(
        "direct_response route without a token",
        "/api/static",
        &[],
        Expect::Fail(401, MISSING, false),
    ));
    // The route is picked again once the claim headers are set (native: `clear_route_cache`;
    // Envoy does it after any request header a wasm filter changes), so a route can match on
    // them; a client's own copy of the header never counts, it is removed first.
    checks.push(check(
        "a route matching a claim header",
        "/api/routed",
        &[("authorization", &auth)],
        Expect::Direct(ROUTED_BODY),
    ));
    let no_sub = bearer(&k.get(Alg::PS256).token(&claims_with(json!({"sub": null}))));
    checks.push(check(
        "a route matching a claim header the client forged",
        "/api/routed",
        &[("authorization", &no_sub), ("x-jwt-sub", "mallory")],
        Expect::Pass(vec![("x-jwt-sub", None)]),
    ));

    // forward: true keeps the Authorization header.
    let token = k.get(Alg::ES256).token(&good_claims());
    let auth = bearer(&token);
    checks.push(check(
        "forward: true keeps Authorization",
        "/fwd",
        &[("authorization", &auth)],
        Expect::Pass(vec![
            ("authorization", Some(auth.clone())),
            ("x-jwt-sub", Some("alice".into())),
        ]),
    ));

    // The token is also taken from ?access_token by default.
    checks.push(check(
        "default locations include ?access_token",
        &format!("/api/q?access_token={token}"),
        &[],
        Expect::Pass(vec![("x-jwt-sub", Some("alice".into()))]),
    ));

    // Failure classes.
    let rs = k.rsa();
    let fail = |what: &str, token: &str, status: u16, body: &'static str| {
        let auth = bearer(token);
        check(
            what,
            "/api/fail",
            &[("authorization", &auth)],
            Expect::Fail(status, body, true),
        )
    };
    checks.push(check(
        "missing token",
        "/api/fail",
        &[],
        Expect::Fail(401, MISSING, false),
    ));
    checks.push(check(
        "Authorization without the Bearer prefix",
        "/api/fail",
        &[(
            "authorization",
            &format!("Basic {}", rs.token(&good_claims())),
        )],
        Expect::Fail(401, MISSING, false),
    ));
    checks.push(fail("malformed: no dots", "not-a-jwt", 401, BAD_FORMAT));
    checks.push(fail("malformed: two sections", "abc.def", 401, BAD_FORMAT));
    // Characters outside base64url make the whole token malformed (native jwt_verify_lib).
    checks.push(fail(
        "malformed: characters outside base64url",
        "!!!.e30.c2ln",
        401,
        BAD_FORMAT,
    ));
    checks.push(fail(
        "malformed: header is not base64url",
        "A.e30.c2ln",
        401,
        HEADER_BAD_BASE64,
    ));
    let t = now();
    checks.push(fail(
        "expired",
        &rs.token(&claims_with(json!({"iat": t - 7200, "exp": t - 3600}))),
        401,
        EXPIRED,
    ));
    checks.push(fail(
        "not yet valid",
        &rs.token(&claims_with(json!({"nbf": t + 3600}))),
        401,
        NOT_YET_VALID,
    ));
    checks.push(fail(
        "bad signature: a bit flipped",
        &flip_signature_bit(&rs.token(&good_claims())),
        401,
        VERIFICATION,
    ));
    checks.push(fail(
        "bad signature: another key under the same kid",
        &k.stranger.token(&good_claims()),
        401,
        VERIFICATION,
    ));
    checks.push(fail(
        "bad signature: EdDSA bit flipped",
        &flip_signature_bit(&k.get(Alg::EdDSA).token(&good_claims())),
        401,
        VERIFICATION,
    ));
    checks.push(fail(
        "wrong issuer",
        &rs.token(&claims_with(json!({"iss": "https://evil.example"}))),
        401,
        UNKNOWN_ISSUER,
    ));
    checks.push(fail(
        "wrong audience",
        &rs.token(&claims_with(json!({"aud": "other.example"}))),
        403,
        AUDIENCE,
    ));
    checks.push(fail(
        "no audience",
        &rs.token(&claims_with(json!({"aud": null}))),
        403,
        AUDIENCE,
    ));
    checks.push(fail(
        "unknown kid",
        &rs.with_kid("k-unknown").token(&good_claims()),
        401,
        KID_ALG,
    ));
    let none_token = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(good_claims().to_string())
    );
    // Native skips empty sections, so "h.p." has two and is malformed.
    checks.push(fail(
        "alg: none, empty signature",
        &none_token,
        401,
        BAD_FORMAT,
    ));
    checks.push(fail(
        "alg: none, some signature",
        &format!("{none_token}c2ln"),
        401,
        ALG_NOT_IMPLEMENTED,
    ));
    // HS256 keyed with the RSA public key (the JWK text), kid of the RSA key.
    let public_bytes = rs.public_jwk().to_string();
    let confused = Key::hmac(Alg::HS256, rs.kid(), public_bytes.as_bytes());
    let confused_token = confused.token(&good_claims());
    checks.push(fail(
        "HS256 signed with the RSA public key, JWK pins RS256",
        &confused_token,
        401,
        KID_ALG,
    ));
    let confused_auth = bearer(&confused_token);
    checks.push(check(
        "HS256 signed with the RSA public key, JWK without alg",
        "/noalg",
        &[("authorization", &confused_auth)],
        Expect::Fail(401, VERIFICATION, true),
    ));
    // The same key, with its real algorithm, passes on that provider (the route works).
    let good_rs = bearer(&rs.token(&good_claims()));
    checks.push(check(
        "RS256 on the JWK without alg",
        "/noalg",
        &[("authorization", &good_rs)],
        Expect::Pass(vec![]),
    ));

    // Spoofed claim headers never reach the upstream.
    let spoof: [(&str, &str); 3] = [
        ("x-jwt-sub", "admin"),
        ("x-jwt-admin", "true"),
        ("x-jwt-payload", "eyJzdWIiOiJhZG1pbiJ9"),
    ];
    let mut c = check(
        "spoofed claim headers on a public route",
        "/public/page",
        &spoof,
        Expect::Pass(vec![
            ("x-jwt-sub", None),
            ("x-jwt-admin", None),
            ("x-jwt-payload", None),
        ]),
    );
    c.wasm_only = Some("native jwt_authn does not touch requests on routes without requirements");
    checks.push(c);
    let mut c = check(
        "spoofed claim headers on a path no rule matches",
        "/elsewhere",
        &spoof,
        Expect::Pass(vec![
            ("x-jwt-sub", None),
            ("x-jwt-admin", None),
            ("x-jwt-payload", None),
        ]),
    );
    c.wasm_only = Some("native jwt_authn does not touch requests no rule matches");
    checks.push(c);
    let token = rs.token(&good_claims());
    let auth = bearer(&token);
    let mut headers: Vec<(&str, &str)> = spoof.to_vec();
    headers.push(("authorization", &auth));
    checks.push(check(
        "spoofed claim headers with a valid token are replaced",
        "/api/spoof",
        &headers,
        Expect::Pass(vec![
            ("x-jwt-sub", Some("alice".into())),
            ("x-jwt-admin", Some("true".into())),
            ("x-jwt-payload", Some(payload_segment(&token))),
        ]),
    ));
    let token = rs.token(&claims_with(json!({"sub": null, "admin": null})));
    let auth = bearer(&token);
    let mut headers: Vec<(&str, &str)> = spoof.to_vec();
    headers.push(("authorization", &auth));
    let mut c = check(
        "spoofed claim headers with a valid token lacking those claims are removed",
        "/api/spoof",
        &headers,
        Expect::Pass(vec![
            ("x-jwt-sub", None),
            ("x-jwt-admin", None),
            ("x-jwt-num", Some("42".into())),
        ]),
    );
    c.wasm_only = Some("native jwt_authn leaves a header alone when the claim is absent");
    checks.push(c);

    // from_headers with a custom header and prefix; forward is off, so the header is removed.
    let token = k.get(Alg::ES384).token(&good_claims());
    let custom = format!("Token {token}");
    checks.push(check(
        "from_headers x-token with prefix",
        "/custom",
        &[("x-token", &custom)],
        Expect::Pass(vec![("x-token", None)]),
    ));
    checks.push(check(
        "from_headers: Authorization is not a configured location",
        "/custom",
        &[("authorization", &bearer(&token))],
        Expect::Fail(401, MISSING, false),
    ));
    checks.push(check(
        "from_headers: wrong prefix",
        "/custom",
        &[("x-token", &format!("Bearer {token}"))],
        Expect::Fail(401, MISSING, false),
    ));

    // from_params.
    checks.push(check(
        "from_params access_token",
        &format!("/param?access_token={token}"),
        &[],
        Expect::Pass(vec![]),
    ));
    checks.push(check(
        "from_params: expired token",
        &format!(
            "/param?access_token={}",
            rs.token(&claims_with(json!({"exp": t - 3600})))
        ),
        &[],
        Expect::Fail(401, EXPIRED, true),
    ));
    // A payload segment that came padded is forwarded as it came (native forwards the
    // segment, and its base64 decoder takes the padding).
    {
        use base64::engine::general_purpose::URL_SAFE;
        let rsa = k.rsa();
        let mut claims = good_claims();
        for pad in ["", "x", "xx"] {
            claims["p"] = json!(pad);
            let body = claims.to_string();
            if !body.len().is_multiple_of(3) {
                break;
            }
        }
        let body = claims.to_string();
        let payload = URL_SAFE.encode(&body);
        assert!(payload.ends_with('='), "{payload}");
        let header = URL_SAFE_NO_PAD.encode(rsa.header().to_string());
        let token = rsa.sign_segments(&header, &payload);
        checks.push(check(
            "forward_payload_header: a padded segment as it came",
            "/api/alg",
            &[("authorization", &bearer(&token))],
            Expect::Pass(vec![("x-jwt-payload", Some(payload.clone()))]),
        ));
    }

    // Numbers in claim headers, as native prints them: a whole number as an integer, anything
    // else as C's `%f`.
    let exact = "native holds numbers as doubles and prints 9007199254740992; the filter keeps \
                 an integer literal exact";
    let ours = "arrays and objects: native sends base64 JSON; the filter joins arrays with `,` \
                (each element printed as a claim of its own) and sends objects as compact JSON";
    for (raw, want, wasm_only) in [
        ("3.0", "3", None),
        ("1e3", "1000", None),
        ("-7", "-7.000000", None),
        ("1.5", "1.500000", None),
        ("0.1", "0.100000", None),
        ("123456789.125", "123456789.125000", None),
        ("1e-7", "0.000000", None),
        (
            "100000000000000000000",
            "100000000000000000000.000000",
            None,
        ),
        ("9007199254740993", "9007199254740993", Some(exact)),
        ("[1, 2.5, true, \"x\"]", "1,2.500000,true,x", Some(ours)),
        (
            "{\"a\":[1,\"y\"],\"b\":2.5}",
            r#"{"a":[1,"y"],"b":2.5}"#,
            Some(ours),
        ),
    ] {
        // The claims as JSON text, so each number reaches the filter as written here.
        let claims = good_claims()
            .to_string()
            .replace("\"num\":42", &format!("\"num\":{raw}"));
        let rsa = k.rsa();
        let token = rsa.sign_text(&rsa.header().to_string(), &claims);
        let mut c = check(
            format!("claim header: num = {raw}"),
            "/api/alg",
            &[("authorization", &bearer(&token))],
            Expect::Pass(vec![("x-jwt-num", Some(want.into()))]),
        );
        c.wasm_only = wasm_only;
        checks.push(c);
    }

    // Tokens in two places: each must verify, and when several fail the last found (the query
    // parameter) is the one reported, as native verifies them last first.
    let good = k.rsa().token(&good_claims());
    checks.push(check(
        "two places: good header, bad param",
        "/api/x?access_token=bad",
        &[("authorization", &bearer(&good))],
        Expect::Fail(401, BAD_FORMAT, true),
    ));
    checks.push(check(
        "two places: bad header, good param",
        &format!("/api/x?access_token={good}"),
        &[("authorization", "Bearer bad")],
        Expect::Fail(401, BAD_FORMAT, true),
    ));
    checks.push(check(
        "two places: the same token",
        &format!("/api/x?access_token={good}"),
        &[("authorization", &bearer(&good))],
        Expect::Pass(vec![]),
    ));
    checks.push(check(
        "two places: expired header, malformed param",
        "/api/x?access_token=bad",
        &[(
            "authorization",
            &bearer(&k.rsa().token(&claims_with(json!({"exp": now() - 3600})))),
        )],
        Expect::Fail(401, BAD_FORMAT, true),
    ));

    // How a token is read out of its header, as native's extractor does: from the first
    // base64url character after the prefix to the end of the value; the whole value when no
    // such character follows (a malformed token, never a missing one).
    checks.push(check(
        "header: nothing a token starts with after the prefix",
        "/api/x",
        &[("authorization", "Bearer +/+")],
        Expect::Fail(401, BAD_FORMAT, true),
    ));
    checks.push(check(
        "header: the prefix without its space",
        "/api/x",
        &[("authorization", "Bearer")],
        Expect::Fail(401, MISSING, false),
    ));
    checks.push(check(
        "header: a comma after the token belongs to the token",
        "/custom",
        &[("x-token", &format!("Token {token},other"))],
        Expect::Fail(401, SIGNATURE_BAD_BASE64, true),
    ));
    checks.push(check(
        "header: a character outside base64url inside the token",
        "/custom",
        &[("x-token", &format!("Token a!{token}"))],
        Expect::Fail(401, HEADER_BAD_BASE64, true),
    ));
    // A repeated header: Envoy keeps the values of `x-token` apart, and each one holding the
    // prefix is a token that must verify; it joins those of `Authorization` into one value.
    checks.push(check(
        "header: repeated, a good token then a bad one",
        "/custom",
        &[
            ("x-token", &format!("Token {token}")),
            ("x-token", "Token other"),
        ],
        Expect::Fail(401, BAD_FORMAT, true),
    ));
    checks.push(check(
        "header: repeated, a bad token then a good one",
        "/custom",
        &[
            ("x-token", "Token other"),
            ("x-token", &format!("Token {token}")),
        ],
        Expect::Fail(401, BAD_FORMAT, true),
    ));
    checks.push(check(
        "header: repeated, only one value with the prefix",
        "/custom",
        &[("x-token", "foo"), ("x-token", &format!("Token {token}"))],
        Expect::Pass(vec![]),
    ));
    checks.push(check(
        "header: repeated, the same token twice",
        "/custom",
        &[
            ("x-token", &format!("Token {token}")),
            ("x-token", &format!("Token {token}")),
        ],
        Expect::Pass(vec![]),
    ));
    checks.push(check(
        "authorization repeated: one value, joined",
        "/api/x",
        &[
            ("authorization", &bearer(&token)),
            ("authorization", "Bearer other"),
        ],
        Expect::Fail(401, SIGNATURE_BAD_BASE64, true),
    ));
    let mut c = check(
        "header: a space after the token belongs to the token",
        "/custom",
        &[("x-token", &format!("Token {token} junk"))],
        Expect::Fail(401, SIGNATURE_BAD_BASE64, true),
    );
    c.wasm_only = Some(
        "native's base64 decoder skips whitespace inside a section (its answer is \
         `Jwt verification fails`); ours refuses it, so a signature has one spelling",
    );
    checks.push(c);

    // Query parameters as native reads them: percent-decoded names and values, the first of
    // several, and one that is there but empty is a malformed token, not a missing one.
    checks.push(check(
        "from_params: percent-encoded dots",
        &format!("/param?access_token={}", token.replace('.', "%2E")),
        &[],
        Expect::Pass(vec![]),
    ));
    checks.push(check(
        "from_params: lowercase percent-encoding",
        &format!("/param?access_token={}", token.replace('.', "%2e")),
        &[],
        Expect::Pass(vec![]),
    ));
    checks.push(check(
        "from_params: percent-encoded name",
        &format!("/param?access%5Ftoken={token}"),
        &[],
        Expect::Pass(vec![]),
    ));
    checks.push(check(
        "from_params: the first of two values",
        &format!("/param?access_token=junk&access_token={token}"),
        &[],
        Expect::Fail(401, BAD_FORMAT, true),
    ));
    checks.push(check(
        "from_params: empty value",
        "/param?access_token=",
        &[],
        Expect::Fail(401, BAD_FORMAT, true),
    ));
    checks.push(check(
        "from_params: name without a value",
        "/param?access_token",
        &[],
        Expect::Fail(401, BAD_FORMAT, true),
    ));
    // Cookies as native reads them (`Http::Utility::parseCookies`).
    for (what, cookie, expect) in [
        (
            "among others",
            format!("a=1; session={token}; b=2"),
            Expect::Pass(vec![]),
        ),
        (
            "quoted",
            format!("session=\"{token}\""),
            Expect::Pass(vec![]),
        ),
        (
            "a quote on one side",
            format!("session=\"{token}"),
            Expect::Fail(401, HEADER_BAD_BASE64, true),
        ),
        (
            "the first of two",
            format!("session=junk; session={token}"),
            Expect::Fail(401, BAD_FORMAT, true),
        ),
        (
            "empty value",
            "session=".to_string(),
            Expect::Fail(401, BAD_FORMAT, true),
        ),
        (
            "another name",
            format!("xsession={token}"),
            Expect::Fail(401, MISSING, false),
        ),
    ] {
        checks.push(check(
            format!("from_cookies: {what}"),
            "/cookie",
            &[("cookie", &cookie)],
            expect,
        ));
    }
    checks.push(check(
        "from_params: no parameter",
        "/param",
        &[],
        Expect::Fail(401, MISSING, false),
    ));

    // The realm is the URL the client asked for: the scheme it came in on, and the path
    // before an earlier hop's rewrite (`x-envoy-original-path`), cut like any path.
    let mut c = check(
        "realm: path before a rewrite, scheme as forwarded",
        "/api/v2/orders?page=2",
        &[
            ("x-envoy-original-path", "/orders?page=2"),
            ("x-forwarded-proto", "https"),
        ],
        Expect::Fail(401, MISSING, false),
    );
    c.realm = Some(("https", "/orders?page=2".into()));
    checks.push(c);
    let long = format!("/orders/{}", "o".repeat(300));
    let mut c = check(
        "realm: a long path before a rewrite is cut too",
        "/api/short",
        &[
            ("x-envoy-original-path", &long),
            (
                "authorization",
                &bearer(&flip_signature_bit(&rs.token(&good_claims()))),
            ),
        ],
        Expect::Fail(401, VERIFICATION, true),
    );
    c.realm = Some(("http", long.clone()));
    checks.push(c);
    checks
}

/// Runs the table; returns one line per failed check.
fn run_checks(proxy: &Proxy, checks: &[Check], native: bool) -> Vec<String> {
    let mut failures = Vec::new();
    for c in checks {
        if native && c.wasm_only.is_some() {
            continue;
        }
        let headers: Vec<(&str, &str)> = c
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let r = proxy.get(&c.path, &headers);
        if let Some(problem) = judge(proxy.port(), c, &r) {
            failures.push(format!(
                "{}: GET {} {:?}\n    {problem}\n    got {}",
                c.what,
                c.path,
                c.headers,
                indent(&r.to_string())
            ));
        }
    }
    failures
}

fn indent(s: &str) -> String {
    s.replace('\n', "\n    ")
}

fn judge(port: u16, c: &Check, r: &Response) -> Option<String> {
    match &c.expect {
        Expect::Pass(upstream) => {
            if r.status != 200 {
                return Some("expected 200 from the upstream".into());
            }
            let Ok(echo) = serde_json::from_str::<Value>(&r.body) else {
                return Some("expected the echo upstream's JSON".into());
            };
            let mut problems = Vec::new();
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
        Expect::Direct(body) => (r.status != 200 || r.body != *body)
            .then(|| format!("expected 200 {body:?} from the direct_response route")),
        Expect::Fail(status, body, presented) => {
            let (scheme, path) = c
                .realm
                .as_ref()
                .map_or(("http", c.path.as_str()), |(s, p)| (*s, p.as_str()));
            let want_www = www_authenticate_with(port, scheme, path, *presented);
            let got_www = r.header("www-authenticate");
            if r.status != *status || r.body != *body || got_www != Some(want_www.as_str()) {
                Some(format!(
                    "expected {status} {body:?} with www-authenticate {want_www:?}"
                ))
            } else {
                None
            }
        }
    }
}

/// Routes of the local-JWKS Envoy: a `direct_response` under the `/api` rule (the filter guards
/// what Envoy answers itself, too), everything else to the echo upstream.
fn local_builder(upstream: &Upstream) -> EnvoyBuilder {
    EnvoyBuilder::new(upstream)
        .direct_response("/api/static", 200, STATIC_BODY)
        .route_yaml(&format!(
            "match: {{prefix: /api/routed, headers: [{{name: x-jwt-sub, present_match: true}}]}}\n\
             direct_response: {{status: 200, body: {{inline_string: {ROUTED_BODY}}}}}"
        ))
}

const ROUTED_BODY: &str = "routed by claim";

const STATIC_BODY: &str = "static ok";

#[test]
fn local_jwks_scenarios() {
    let upstream = Upstream::start();
    let proxy = local_builder(&upstream).plugin(local_config()).start();
    let checks = local_checks();
    let failures = run_checks(&proxy, &checks, false);
    assert!(
        failures.is_empty(),
        "{} of {} local-JWKS checks failed:\n{}",
        failures.len(),
        checks.len(),
        failures.join("\n")
    );
    assert_vm_healthy(&proxy);
    // Envoy's V8 fuses relaxed SIMD's multiply-add on x64 with FMA and on arm64, so the RSA
    // checks above ran on the fast engine (and agreed with native's verdicts).
    assert!(
        proxy
            .log()
            .contains("RSA signatures checked on 50-bit limbs with fused multiply-add"),
        "the filter did not pick the fused multiply-add RSA engine; Envoy log:\n{}",
        proxy.log()
    );
    let completed = proxy
        .counter("http.ingress.downstream_rq_completed")
        .unwrap_or(0);
    assert!(
        completed >= checks.len() as u64,
        "admin stats count {completed} completed requests, sent {}",
        checks.len()
    );
}

/// The same table against Envoy's native `jwt_authn` with the same JSON: proves that the
/// statuses, bodies and www-authenticate values asserted above are the native ones.
#[test]
fn local_jwks_expectations_are_native_behaviour() {
    let upstream = Upstream::start();
    let mut typed = local_config();
    typed["@type"] =
        json!("type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication");
    let proxy = local_builder(&upstream)
        .http_filter_yaml(&format!(
            "name: envoy.filters.http.jwt_authn\ntyped_config: {typed}"
        ))
        .start();
    let checks = local_checks();
    let failures = run_checks(&proxy, &checks, true);
    assert!(
        failures.is_empty(),
        "native Envoy disagrees with {} of the expectations (fix the test, not the filter):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Requests sent around the second `boundary` (wall clock, seconds since the epoch) by
/// [`around_second`].
struct AroundSecond {
    /// Answered wholly before the boundary.
    before: usize,
    /// Sent within 100 ms after it (the tick clock's lag).
    early: usize,
}

/// Sends `send()` again and again until `after_count` requests were sent wholly after
/// `boundary`, checking each answered wholly before it with `before(response, seconds
/// before)` and each sent after it with `after(response, seconds after)`; requests that
/// straddle it (5 ms either way) are not judged. Fails after 15 s.
fn around_second(
    boundary: f64,
    after_count: usize,
    send: impl Fn() -> Response,
    before: impl Fn(&Response, f64),
    after: impl Fn(&Response, f64),
) -> AroundSecond {
    let clock = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = AroundSecond {
        before: 0,
        early: 0,
    };
    let mut judged_after = 0;
    while judged_after < after_count {
        assert!(
            Instant::now() < deadline,
            "{} requests after the boundary by the deadline ({} before)",
            judged_after,
            seen.before
        );
        let sent = clock();
        let r = send();
        let answered = clock();
        if answered < boundary - 0.005 {
            before(&r, boundary - answered);
            seen.before += 1;
        } else if sent > boundary + 0.005 {
            after(&r, sent - boundary);
            judged_after += 1;
            if sent < boundary + 0.1 {
                seen.early += 1;
            }
        }
    }
    seen
}

/// The filter decides a request with its worker's tick clock (read by the 100 ms tick, so a
/// little behind) and with the exact clock near a token's expiry: a cached token must still be
/// refused from the first second it is expired. With one second of clock skew (0 means the
/// default 60, as in native) a token whose `exp` is E passes while the clock reads E + 1 and
/// fails from E + 2 (whole seconds, as native compares).
#[test]
fn a_cached_token_is_refused_from_the_second_it_expires() {
    let upstream = Upstream::start();
    let key = keys().get(Alg::ES256);
    let config = json!({
        "providers": {"p": {"issuer": ISS, "audiences": [AUD], "clock_skew_seconds": 1,
            "local_jwks": {"inline_string": jwks(&[key]).to_string()}}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}],
        "log_level": "debug"
    });
    let proxy = local_builder(&upstream).plugin(config).start();
    let exp = now() + 3;
    let auth = bearer(&key.token(&claims_with(json!({"exp": exp}))));
    let seen = around_second(
        exp as f64 + 2.0,
        20,
        || proxy.get("/api", &[("authorization", &auth)]),
        |r, before| assert_eq!(r.status, 200, "{before:.3} s before E + 2: {}", r.body),
        |r, after| {
            assert_eq!(
                (r.status, r.body.as_str()),
                (401, body::EXPIRED),
                "{after:.3} s after E + 2"
            )
        },
    );
    assert!(
        seen.before >= 20,
        "only {} requests before expiry",
        seen.before
    );
    // The configuration asks for debug lines and Envoy prints the wasm log at debug here:
    // the filter's refusal line is sent.
    let logged = poll_until(Duration::from_secs(5), || {
        proxy
            .log()
            .contains("request refused: JwtExpired")
            .then_some(())
    });
    assert!(
        logged.is_some(),
        "no debug line for the refusals (the tests run Envoy with wasm:debug)"
    );
    assert_vm_healthy(&proxy);
}

/// The other side of the tick clock: a token refused as not yet valid (`nbf`) on the way to
/// another answer must not stay refused for the tick's lag. Under a `requires_any` whose second
/// branch fails for another reason (a bad signature, the error reported as the last branch's),
/// the first branch's token passes from the second its `nbf` allows: with one second of skew,
/// `nbf` N passes from N - 1.
#[test]
fn a_token_passes_from_the_second_its_nbf_allows_under_requires_any() {
    let upstream = Upstream::start();
    let key = keys().get(Alg::ES256);
    let provider = |header: &str| {
        json!({"issuer": ISS, "audiences": [AUD], "clock_skew_seconds": 1,
            "from_headers": [{"name": header, "value_prefix": "Bearer "}],
            "local_jwks": {"inline_string": jwks(&[key]).to_string()}})
    };
    let config = json!({
        "providers": {"p": provider("authorization"), "q": provider("x-other")},
        "rules": [{"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [
            {"provider_name": "p"}, {"provider_name": "q"}]}}}]
    });
    let proxy = local_builder(&upstream).plugin(config).start();
    let nbf = now() + 3;
    let auth = bearer(&key.token(&claims_with(json!({"nbf": nbf}))));
    let other = bearer(&flip_signature_bit(&key.token(&good_claims())));
    let seen = around_second(
        nbf as f64 - 1.0,
        50,
        || proxy.get("/api", &[("authorization", &auth), ("x-other", &other)]),
        |r, before| {
            assert_eq!(
                (r.status, r.body.as_str()),
                (401, body::VERIFICATION),
                "{before:.3} s before N - 1"
            )
        },
        |r, after| assert_eq!(r.status, 200, "{after:.3} s after N - 1: {}", r.body),
    );
    assert!(
        seen.before >= 20,
        "only {} requests before nbf",
        seen.before
    );
    // The tick clock lags by up to 100 ms: requests in that window are the ones that count.
    assert!(
        seen.early >= 5,
        "only {} requests in the first 100 ms after nbf",
        seen.early
    );
    assert_vm_healthy(&proxy);
}

/// With the token in `Authorization` only (no `?access_token=`) and a catch-all rule, the
/// filter reads that header alone for a decision (`HeaderFetch::One`): the answers are still
/// the full ones, and a refusal's realm, built from `:authority` and `:path`, comes from the
/// whole map read then. Repeated `Authorization` values reach the filter joined by Envoy.
#[test]
fn a_header_only_configuration_reads_one_header_and_answers_in_full() {
    let upstream = Upstream::start();
    let key = keys().get(Alg::ES256);
    let config = json!({
        "providers": {"p": {"issuer": ISS, "audiences": [AUD],
            "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}],
            "claim_to_headers": [{"header_name": "x-jwt-sub", "claim_name": "sub"}],
            "local_jwks": {"inline_string": jwks(&[key]).to_string()}}},
        "rules": [
            {"match": {"prefix": "/"}, "requires": {"provider_name": "p"},
             "authorization": {"scopes": ["orders:read"]}},
            {"match": {"prefix": "/never"}}
        ]
    });
    let proxy = local_builder(&upstream).plugin(config).start();
    let scoped = key.token(&claims_with(json!({"scope": "orders:read"})));
    let r = proxy.get(
        "/orders?page=2",
        &[("authorization", &bearer(&scoped)), ("x-jwt-sub", "forged")],
    );
    assert_status!(r, 200);
    assert_eq!(
        r.upstream_header("x-jwt-sub").as_deref(),
        Some("alice"),
        "{r}"
    );
    assert_eq!(
        r.upstream_header("authorization"),
        None,
        "forward is false: {r}"
    );
    let r = proxy.get(
        "/orders",
        &[
            ("authorization", "Basic eA=="),
            ("authorization", &bearer(&scoped)),
        ],
    );
    assert_status!(r, 200);

    let port = proxy.port();
    let r = proxy.get("/orders?page=2", &[]);
    assert_status!(r, 401, body::MISSING);
    let realm = www_authenticate(port, "/orders?page=2", false);
    assert_eq!(r.header("www-authenticate"), Some(realm.as_str()), "{r}");
    let r = proxy.get(
        "/a/b",
        &[("authorization", &bearer(&flip_signature_bit(&scoped)))],
    );
    assert_status!(r, 401, body::VERIFICATION);
    let realm = www_authenticate(port, "/a/b", true);
    assert_eq!(r.header("www-authenticate"), Some(realm.as_str()), "{r}");
    // Only the configured header counts, not `?access_token=`.
    let r = proxy.get(&format!("/q?access_token={scoped}"), &[]);
    assert_status!(r, 401, body::MISSING);
    // A verified token without the scope: 403, realm and scope in `www-authenticate`.
    let r = proxy.bearer("/x", &key.token(&good_claims()));
    assert_eq!(r.status, 403, "{r}");
    let want = format!(
        "Bearer realm=\"http://127.0.0.1:{port}/x\", error=\"insufficient_scope\", scope=\"orders:read\""
    );
    assert_eq!(r.header("www-authenticate"), Some(want.as_str()), "{r}");
    assert_vm_healthy(&proxy);
}

// ------------------------------------------------------------------------------------------
// Remote JWKS

fn remote_provider(cluster: &str, cache_duration: &str, timeout: &str) -> Value {
    json!({
        "issuer": ISS,
        "audiences": [AUD],
        "remote_jwks": {
            "http_uri": {"uri": format!("http://{cluster}.test/jwks.json"), "cluster": cluster, "timeout": timeout},
            "cache_duration": cache_duration
        },
        "claim_to_headers": [{"header_name": "x-jwt-sub", "claim_name": "sub"}]
    })
}

fn one_provider(name: &str, provider: Value) -> Value {
    json!({
        "providers": {name: provider},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": name}}]
    })
}

#[test]
fn remote_jwks_cold_start_holds_the_request_until_keys_arrive() {
    let key = keys().get(Alg::ES256);
    let delay = Duration::from_millis(1500);
    let stub = JwksStub::start(200, jwks(&[key]).to_string());
    stub.set_delay(delay);
    let upstream = Upstream::start();
    let proxy = EnvoyBuilder::new(&upstream)
        .plugin(one_provider(
            "remote",
            remote_provider("jwks", "300s", "5s"),
        ))
        .jwks_cluster("jwks", stub.port())
        .start();

    let sent = Instant::now();
    let r = proxy.bearer("/cold", &key.token(&good_claims()));
    let answered = Instant::now();
    assert_status!(r, 200);
    assert_eq!(
        r.upstream_header("x-jwt-sub").as_deref(),
        Some("alice"),
        "{r}"
    );
    let first_fetch = *stub
        .fetch_times()
        .first()
        .expect("the JWKS server saw no request");
    let keys_ready = first_fetch + delay;
    assert!(
        sent < keys_ready,
        "the request was sent after the keys had arrived, so holding was not tested (fetch started {:?} before the request)",
        sent.saturating_duration_since(first_fetch)
    );
    assert!(
        answered >= keys_ready,
        "the request was answered {:?} before the JWKS server answered",
        keys_ready - answered
    );
    assert_eq!(
        stub.paths(),
        vec!["/jwks.json".to_owned()],
        "one fetch, on the uri's path"
    );
    eprintln!("cold start: request held {:?}", answered - sent);
    assert_vm_healthy(&proxy);
}

#[test]
fn remote_jwks_failures_answer_fetch_failed_then_recover() {
    let key = keys().get(Alg::ES256);
    let token = key.token(&good_claims());
    let broken = JwksStub::start(500, "{\"error\": \"down\"}");
    let hanging = JwksStub::start(200, jwks(&[key]).to_string());
    hanging.set_hang(true);
    let upstream = Upstream::start();
    // A request holds for the first keys at most `first_fetch_wait`; keep it short here.
    let mut broken_provider = remote_provider("jwks_broken", "300s", "2s");
    broken_provider["remote_jwks"]["first_fetch_wait"] = json!("1s");
    let mut hanging_provider = remote_provider("jwks_hanging", "300s", "1s");
    hanging_provider["remote_jwks"]["first_fetch_wait"] = json!("1s");
    let config = json!({
        "providers": {
            "broken": broken_provider,
            "hanging": hanging_provider
        },
        "rules": [
            {"match": {"prefix": "/broken"}, "requires": {"provider_name": "broken"}},
            {"match": {"prefix": "/hanging"}, "requires": {"provider_name": "hanging"}}
        ]
    });
    let proxy = EnvoyBuilder::new(&upstream)
        .plugin(config)
        .jwks_cluster("jwks_broken", broken.port())
        .jwks_cluster("jwks_hanging", hanging.port())
        .start();

    let r = proxy.bearer("/broken", &token);
    assert_status!(r, 401, body::FETCH_FAIL);
    assert_eq!(
        r.header("www-authenticate"),
        Some(www_authenticate(proxy.port(), "/broken", true).as_str()),
        "{r}"
    );
    assert!(broken.fetches() >= 1, "the JWKS server was never asked");
    assert_eq!(
        proxy.get("/broken", &[]).body,
        body::MISSING,
        "no token: missing, whatever the keys"
    );

    let sent = Instant::now();
    let r = proxy.bearer("/hanging", &token);
    assert_status!(r, 401, body::FETCH_FAIL);
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "a hanging JWKS server held the request {:?} (timeout 1s)",
        sent.elapsed()
    );

    // The JWKS server comes back: requests pass again without restarting Envoy.
    broken.set_status(200);
    broken.set_body(jwks(&[key]).to_string());
    let recovered = poll_until(Duration::from_secs(15), || {
        let r = proxy.bearer("/broken", &token);
        (r.status == 200).then_some(r)
    });
    assert!(
        recovered.is_some(),
        "still failing 15 s after the JWKS server recovered ({} fetches)",
        broken.fetches()
    );
    assert_vm_healthy(&proxy);
}

/// Runs `GET path` with `token` every ~50 ms for `span`; every answer must be 200.
fn steady_requests(proxy: &Proxy, path: &str, token: &str, span: Duration) -> usize {
    let end = Instant::now() + span;
    let mut n = 0;
    while Instant::now() < end {
        let r = proxy.bearer(path, token);
        assert_eq!(r.status, 200, "request #{n} during steady traffic: {r}");
        n += 1;
        thread::sleep(Duration::from_millis(50));
    }
    n
}

#[test]
fn remote_jwks_refresh_is_shared_by_all_workers() {
    let key = keys().get(Alg::ES256);
    let token = key.token(&good_claims());
    let stub = JwksStub::start(200, jwks(&[key]).to_string());
    let upstream = Upstream::start();
    let cache = Duration::from_secs(2);
    let proxy = EnvoyBuilder::new(&upstream)
        .plugin(one_provider("remote", remote_provider("jwks", "2s", "2s")))
        .jwks_cluster("jwks", stub.port())
        .concurrency(4)
        .start();

    let sent = steady_requests(&proxy, "/steady", &token, Duration::from_secs(7));
    let times = stub.fetch_times();
    let first = *times.first().expect("no JWKS fetch at all");
    let span = times.last().unwrap().duration_since(first);
    let refreshes = (span.as_secs_f64() / cache.as_secs_f64()).ceil() as usize;
    let gaps: Vec<Duration> = times
        .windows(2)
        .map(|w| w[1].duration_since(w[0]))
        .collect();
    eprintln!(
        "{sent} requests; {} fetches over {span:?}; gaps {gaps:?}",
        times.len()
    );
    assert!(
        times.len() >= 3,
        "keys were not refreshed every 2 s: {} fetches in 7 s",
        times.len()
    );
    assert!(
        times.len() <= refreshes + 2,
        "{} fetches over {span:?} with cache_duration 2s: the 4 workers do not share one fetch (gaps {gaps:?})",
        times.len()
    );
    assert!(
        gaps.iter().all(|g| *g >= Duration::from_millis(500)),
        "fetches closer than 0.5 s to each other: workers fetched in parallel (gaps {gaps:?})"
    );
    assert_vm_healthy(&proxy);
}

#[test]
fn remote_jwks_rotation_and_failed_refresh_keep_working_keys() {
    let k1 = keys().get(Alg::ES256);
    let k2 = Key::from_seed(Alg::ES256, "k-rotated", 7);
    let t1 = k1.token(&good_claims());
    let t2 = k2.token(&good_claims());
    let stub = JwksStub::start(200, jwks(&[k1]).to_string());
    let upstream = Upstream::start();
    let proxy = EnvoyBuilder::new(&upstream)
        .plugin(one_provider("remote", remote_provider("jwks", "2s", "2s")))
        .jwks_cluster("jwks", stub.port())
        .concurrency(2)
        .start();

    assert_status!(proxy.bearer("/a", &t1), 200);
    assert_status!(proxy.bearer("/a", &t2), 401, body::KID_ALG);

    // Rotation: the server now publishes k2 only; after the next refresh k2 passes, k1 fails.
    stub.set_body(jwks(&[&k2]).to_string());
    let rotated = poll_until(Duration::from_secs(8), || {
        (proxy.bearer("/a", &t2).status == 200).then_some(())
    });
    assert!(
        rotated.is_some(),
        "k2 not accepted 8 s after rotation (cache_duration 2s; {} fetches)",
        stub.fetches()
    );
    // Each worker loads the shared keys on its 100 ms tick: k1 is refused everywhere soon after
    // (20 refusals in a row, so both workers have moved on).
    let k1_refused = poll_until(Duration::from_secs(3), || {
        (0..20)
            .all(|_| proxy.bearer("/a", &t1).status == 401)
            .then_some(())
    });
    assert!(k1_refused.is_some(), "k1 still accepted 3 s after rotation");
    assert_status!(proxy.bearer("/a", &t1), 401, body::KID_ALG);

    // The server breaks: refreshes fail, the last good keys stay in use past cache_duration.
    stub.set_status(500);
    let before = stub.fetches();
    steady_requests(&proxy, "/a", &t2, Duration::from_secs(5));
    assert!(
        stub.fetches() > before,
        "no refresh was attempted in 5 s with cache_duration 2s"
    );
    assert_vm_healthy(&proxy);
}

// ------------------------------------------------------------------------------------------
// Bad configuration

#[test]
fn bad_plugin_configs_are_refused_naming_the_field() {
    let jwks_text = jwks(&[keys().get(Alg::ES256)]).to_string();
    let local = json!({"issuer": ISS, "local_jwks": {"inline_string": jwks_text}});
    let rule = |p: &str| json!([{"match": {"prefix": "/"}, "requires": {"provider_name": p}}]);
    let mut unknown_field = local.clone();
    unknown_field["issuer_typo"] = json!("x");
    let named = |fields: &[&str]| -> Vec<String> { fields.iter().map(|f| f.to_string()).collect() };
    let cases = [
        Refused {
            what: "unknown field",
            config: json!({"providers": {"p": unknown_field}, "rules": rule("p")}),
            named: named(&["issuer_typo"]),
        },
        Refused {
            what: "unknown provider in a rule",
            config: json!({"providers": {"p": local.clone()}, "rules": rule("nobody")}),
            named: named(&["provider_name", "nobody"]),
        },
        Refused {
            what: "malformed duration",
            config: json!({"providers": {"p": {"issuer": ISS, "remote_jwks": {
                "http_uri": {"uri": "http://jwks.test/k", "cluster": "jwks", "timeout": "1s"},
                "cache_duration": "five minutes"}}}, "rules": rule("p")}),
            named: named(&["cache_duration"]),
        },
        Refused {
            what: "bad local JWKS",
            config: json!({"providers": {"p": {"issuer": ISS, "local_jwks": {"inline_string": "{\"keys\": [{\"kty\": \"RSA\"}"}}}, "rules": rule("p")}),
            named: named(&["local_jwks"]),
        },
    ];
    // The four Envoys fail independently; the runner starts them side by side.
    assert_configs_refused(&Upstream::start(), "jwks", &cases);
}

// ------------------------------------------------------------------------------------------
// The repository's Envoy configs

#[test]
fn repo_envoy_configs_validate() {
    let dir = Path::new(CRATE_ROOT).join("envoy");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"));
    files.sort();
    if files.is_empty() {
        eprintln!("no envoy/*.yaml files to validate");
        return;
    }
    let failures: Vec<String> = files.iter().filter_map(|f| validate(f).err()).collect();
    assert!(
        failures.is_empty(),
        "envoy --mode validate refused:\n{}",
        failures.join("\n\n")
    );
}
