// The local-JWKS table of the end-to-end suite (tests/envoy/e2e.rs): the keys, the tokens, the
// plugin configuration and every request with its expected answer. Included (`include!`) by the
// Envoy suite and by `jwt-authn explain`'s run of the same rows
// (tools/jwt-authn/tests/e2e_table.rs).
//
// The including file brings `OnceLock`, `jwks`, `Alg`, `Key`, `json!`, `Value`, `URL_SAFE_NO_PAD`
// with base64's `Engine`, and `bearer`, `body`, `flip_signature_bit`, `now`
// (tests/envoy/support/).

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

const ROUTED_BODY: &str = "routed by claim";

const STATIC_BODY: &str = "static ok";
