// The per-route policy table (tests/envoy/policy.rs): the plugin configuration, the tokens,
// and every check with its expected answer. Included (`include!`) by the Envoy suite and by
// `jwt-authn explain`'s run of the same rows (tools/jwt-authn/tests/policy_table.rs), so the
// CLI is held to the very answers the filter gives in Envoy.
//
// The including file brings `OnceLock`, `jwks`, `Alg`, `Key`, `json!`, `Value`, and `bearer`,
// `body`, `flip_signature_bit`, `now` (tests/envoy/support/).

/// The named routes of the route table before the harness's default route, first match first:
/// (route name, path prefix). A rule matching on `route_name` sees these names.
const NAMED_ROUTES: [(&str, &str); 3] = [
    ("orders-route-v2", "/v2/orders"),
    ("orders-route", "/orders"),
    ("billing-v1", "/billing"),
];

const OKTA_ISS: &str = "https://okta.example";
const OKTA_AUD: &str = "api://default";
const AZURE_ISS: &str = "https://login.example/tid/v2.0";
const AZURE_AUD: &str = "api://azure-app";

// ------------------------------------------------------------------------------------------
// Keys and tokens

struct Keys {
    okta: Key,
    azure: Key,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        okta: Key::from_seed(Alg::RS256, "okta-1", 11),
        azure: Key::from_seed(Alg::ES256, "azure-1", 12),
    })
}

/// `base` with `changes` applied (a `null` removes the member).
fn merged(mut base: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            base.as_object_mut().unwrap().remove(k);
        } else {
            base[k] = v.clone();
        }
    }
    base
}

fn okta_claims(changes: Value) -> Value {
    let t = now();
    merged(
        json!({"iss": OKTA_ISS, "aud": OKTA_AUD, "sub": "alice", "iat": t, "exp": t + 3600}),
        changes,
    )
}

/// An okta token (header `typ: JWT`, i.e. what an ID token carries).
fn okta(changes: Value) -> String {
    keys().okta.token(&okta_claims(changes))
}

/// An okta token whose header `typ` is `typ` (`None`: no `typ` at all).
fn okta_typed(typ: Option<&str>, changes: Value) -> String {
    let key = &keys().okta;
    let mut header = key.header();
    match typ {
        Some(t) => header["typ"] = json!(t),
        None => {
            header.as_object_mut().unwrap().remove("typ");
        }
    }
    key.sign(&header, &okta_claims(changes))
}

fn okta_expired() -> String {
    let t = now();
    okta(json!({"iat": t - 7200, "exp": t - 3600}))
}

fn azure(changes: Value) -> String {
    let t = now();
    let claims = merged(
        json!({"iss": AZURE_ISS, "aud": AZURE_AUD, "sub": "bob", "oid": "oid-42",
               "groups": ["g1", "g2"], "iat": t, "exp": t + 3600}),
        changes,
    );
    keys().azure.token(&claims)
}

fn azure_expired() -> String {
    let t = now();
    azure(json!({"iat": t - 7200, "exp": t - 3600}))
}

// ------------------------------------------------------------------------------------------
// Configuration

/// Every header a provider here may set; a client sends all of them in the spoofing checks.
const CLAIM_HEADERS: [&str; 8] = [
    "x-okta-sub",
    "x-okta-roles",
    "x-okta-country",
    "x-okta-address",
    "x-okta-note",
    "x-okta-tags",
    "x-azure-oid",
    "x-azure-groups",
];

fn remote(cluster: &str) -> Value {
    json!({
        "http_uri": {"uri": format!("http://{}.test/jwks.json", cluster.replace('_', "-")), "cluster": cluster, "timeout": "5s"},
        "cache_duration": "300s"
    })
}

fn okta_provider() -> Value {
    json!({
        "issuer": OKTA_ISS,
        "audiences": [OKTA_AUD],
        "remote_jwks": remote("jwks_okta"),
        "claim_to_headers": [
            {"header_name": "x-okta-sub", "claim_name": "sub"},
            {"header_name": "x-okta-roles", "claim_name": "realm_access.roles"},
            {"header_name": "x-okta-country", "claim_name": "address.country"},
            {"header_name": "x-okta-address", "claim_name": "address"},
            {"header_name": "x-okta-note", "claim_name": "note"},
            {"header_name": "x-okta-tags", "claim_name": "tags"}
        ]
    })
}

fn rule(prefix: &str, requires: Value) -> Value {
    json!({"match": {"prefix": prefix}, "requires": requires})
}

fn okta_rule(m: Value) -> Value {
    json!({"match": m, "requires": {"provider_name": "okta"}})
}

fn authz_rule(prefix: &str, authorization: Value) -> Value {
    json!({"match": {"prefix": prefix}, "requires": {"provider_name": "okta"}, "authorization": authorization})
}

fn any(requirements: Value) -> Value {
    json!({"requires_any": {"requirements": requirements}})
}

fn all(requirements: Value) -> Value {
    json!({"requires_all": {"requirements": requirements}})
}

/// The plugin configuration: native `jwt_authn` JSON plus the filter's extensions.
fn plugin_config() -> Value {
    let okta = json!({"provider_name": "okta"});
    let azure = json!({"provider_name": "azure"});
    let mut okta_at = okta_provider();
    okta_at["allowed_token_types"] = json!(["at+jwt"]);
    okta_at["claim_to_headers"] = json!([{"header_name": "x-okta-sub", "claim_name": "sub"}]);
    json!({
        "providers": {
            "okta": okta_provider(),
            "azure": {
                "issuer": AZURE_ISS,
                "audiences": [AZURE_AUD],
                "remote_jwks": remote("jwks_azure"),
                "from_headers": [{"name": "x-azure-token", "value_prefix": "Bearer "}],
                "from_params": ["az_token"],
                "from_cookies": ["session"],
                "claim_to_headers": [
                    {"header_name": "x-azure-oid", "claim_name": "oid"},
                    {"header_name": "x-azure-groups", "claim_name": "groups"}
                ]
            },
            "okta_at": okta_at
        },
        "requirement_map": {
            "okta_or_azure": any(json!([okta, azure]))
        },
        "bypass_cors_preflight": true,
        "rules": [
            {"match": {"prefix": "/public"}},
            // Path matching.
            okta_rule(json!({"prefix": "/m/prefix"})),
            okta_rule(json!({"path": "/m/exact"})),
            okta_rule(json!({"safe_regex": {"regex": "/api/v[0-9]+/items"}})),
            okta_rule(json!({"prefix": "/m/case", "case_sensitive": false})),
            // Header matching.
            okta_rule(json!({"prefix": "/m/hdr/exact", "headers": [{"name": "x-tenant", "exact_match": "acme"}]})),
            okta_rule(json!({"prefix": "/m/hdr/present", "headers": [{"name": "x-debug", "present_match": true}]})),
            okta_rule(json!({"prefix": "/m/hdr/prefix", "headers": [{"name": "x-env", "string_match": {"prefix": "prod", "ignore_case": true}}]})),
            okta_rule(json!({"prefix": "/m/hdr/suffix", "headers": [{"name": "x-host", "string_match": {"suffix": ".internal"}}]})),
            okta_rule(json!({"prefix": "/m/hdr/contains", "headers": [{"name": "x-agent", "string_match": {"contains": "bot"}}]})),
            okta_rule(json!({"prefix": "/m/hdr/ic", "headers": [{"name": "x-tenant", "string_match": {"exact": "ACME", "ignore_case": true}}]})),
            okta_rule(json!({"prefix": "/m/hdr/invert", "headers": [{"name": "x-internal", "exact_match": "yes", "invert_match": true}]})),
            // invert_match on a rule without requirement, in front of one that requires okta.
            {"match": {"prefix": "/m/hdr/skip", "headers": [{"name": "x-canary", "exact_match": "1", "invert_match": true}]}},
            okta_rule(json!({"prefix": "/m/hdr/skip"})),
            // Query parameter matching.
            okta_rule(json!({"prefix": "/m/query", "query_parameters": [
                {"name": "debug", "present_match": true},
                {"name": "v", "string_match": {"exact": "2"}}
            ]})),
            // First match wins; a rule without requirement (or with `{}`) lets requests through.
            {"match": {"prefix": "/m/first/open"}},
            {"match": {"prefix": "/m/first/empty"}, "requires": {}},
            okta_rule(json!({"prefix": "/m/first"})),
            // Extension: Envoy's route name (exact string, then a StringMatcher).
            {"match": {"prefix": "/", "route_name": "orders-route"}, "requires": okta},
            {"match": {"prefix": "/", "route_name": {"prefix": "billing-"}}, "requires": azure},
            // Requirements.
            rule("/r/okta", okta.clone()),
            rule("/r/azure", azure.clone()),
            rule("/r/aud", json!({"provider_and_audiences": {"provider_name": "okta", "audiences": ["orders-api"]}})),
            {"match": {"prefix": "/r/any"}, "requirement_name": "okta_or_azure"},
            rule("/r/all", all(json!([okta, azure]))),
            rule("/r/nested-any", any(json!([
                all(json!([okta, azure])),
                {"provider_and_audiences": {"provider_name": "okta", "audiences": ["admin-api"]}}
            ]))),
            rule("/r/nested-all", all(json!([okta, any(json!([azure, {"allow_missing": {}}]))]))),
            rule("/r/optional", any(json!([okta, {"allow_missing": {}}]))),
            rule("/r/lenient", json!({"allow_missing_or_failed": {}})),
            // Extension: token types.
            rule("/t/at", json!({"provider_name": "okta_at"})),
            // Extension: authorization.
            authz_rule("/z/scope", json!({"scopes": ["orders:read"]})),
            authz_rule("/z/roles", json!({"claims": [{"claim": "realm_access.roles", "contains_any": ["admin"]}]})),
            authz_rule("/z/tier", json!({"claims": [{"claim": "tier", "one_of": ["gold", "silver"]}]})),
            authz_rule("/z/groups", json!({"claims": [{"claim": "groups", "contains_all": ["a", "b"]}]})),
            authz_rule("/z/verified", json!({"claims": [{"claim": "email_verified", "equals": true}]})),
            authz_rule("/z/act", json!({"claims": [{"claim": "act", "absent": true}]})),
            authz_rule("/z/client", json!({"client_id_header": {"header": "x-client-id", "claims": ["client_id", "azp", "cid"]}})),
            authz_rule("/z/combo", json!({
                "scopes": ["orders:read"],
                "claims": [
                    {"claim": "realm_access.roles", "contains_any": ["admin"]},
                    {"claim": "tier", "one_of": ["gold", "silver"]},
                    {"claim": "groups", "contains_all": ["a", "b"]},
                    {"claim": "email_verified", "equals": true},
                    {"claim": "act", "absent": true}
                ],
                "client_id_header": {"header": "x-client-id", "claims": ["client_id", "azp", "cid"]}
            })),
            {"match": {"prefix": "/z/any"}, "requirement_name": "okta_or_azure", "authorization": {"scopes": ["orders:read"]}},
            {"match": {"prefix": "/z/all"}, "requires": all(json!([okta, azure])), "authorization": {"scopes": ["orders:read"]}},
            {"match": {"prefix": "/z/optional"}, "requires": any(json!([okta, {"allow_missing": {}}])), "authorization": {"scopes": ["orders:read"]}}
        ]
    })
}

// ------------------------------------------------------------------------------------------
// The check table

/// What a refusal's `www-authenticate` carries after the realm.
#[derive(Clone, Copy)]
enum Www {
    /// No token presented: the realm only.
    Missing,
    /// `error="invalid_token"`.
    Invalid,
    /// `error="insufficient_scope"`, with `scope="..."` when the rule lists scopes.
    Insufficient(Option<&'static str>),
}

/// The `www-authenticate` a refusal of a request for `path` carries, for a listener at
/// `authority` (the realm keeps the path's first 256 bytes).
fn www_authenticate(authority: &str, path: &str, www: Www) -> String {
    let path = &path[..path.len().min(256)];
    let mut v = format!("Bearer realm=\"http://{authority}{path}\"");
    match www {
        Www::Missing => {}
        Www::Invalid => v.push_str(", error=\"invalid_token\""),
        Www::Insufficient(scope) => {
            v.push_str(", error=\"insufficient_scope\"");
            if let Some(s) = scope {
                v.push_str(&format!(", scope=\"{s}\""));
            }
        }
    }
    v
}

enum Expect {
    /// 200 from the echo upstream; then these request headers as the upstream saw them
    /// (`None` = absent).
    Pass(Vec<(&'static str, Option<String>)>),
    /// A local reply with this status, body and `www-authenticate`.
    Fail(u16, &'static str, Www),
}

/// How native `jwt_authn` (same JSON, extensions removed) must answer the same request.
enum Native {
    /// As `expect` (status; body and `www-authenticate` too for a refusal).
    Same,
    /// Not run natively: the check is about an extension or a documented difference.
    Skip(&'static str),
    /// Native answers this status and body instead, for the reason given.
    Differs(u16, &'static str, &'static str),
}

struct Check {
    what: String,
    method: &'static str,
    path: String,
    headers: Vec<(String, String)>,
    expect: Expect,
    native: Native,
}

/// A `GET path` that must pass (adjust with the methods below).
fn req(what: impl Into<String>, path: impl Into<String>) -> Check {
    Check {
        what: what.into(),
        method: "GET",
        path: path.into(),
        headers: Vec::new(),
        expect: Expect::Pass(Vec::new()),
        native: Native::Same,
    }
}

impl Check {
    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    fn bearer(self, token: &str) -> Self {
        self.header("authorization", &bearer(token))
    }

    fn azure_header(self, token: &str) -> Self {
        self.header("x-azure-token", &bearer(token))
    }

    fn method(mut self, method: &'static str) -> Self {
        self.method = method;
        self
    }

    /// Passes, and these headers reached the upstream with these values (`None`: absent).
    fn pass(mut self, upstream: &[(&'static str, Option<&str>)]) -> Self {
        self.expect = Expect::Pass(
            upstream
                .iter()
                .map(|(n, v)| (*n, v.map(str::to_owned)))
                .collect(),
        );
        self
    }

    fn fail(mut self, status: u16, body: &'static str, www: Www) -> Self {
        self.expect = Expect::Fail(status, body, www);
        self
    }

    fn missing(self) -> Self {
        self.fail(401, body::MISSING, Www::Missing)
    }

    fn invalid(self, body: &'static str) -> Self {
        self.fail(401, body, Www::Invalid)
    }

    fn wasm_only(mut self, reason: &'static str) -> Self {
        self.native = Native::Skip(reason);
        self
    }

    fn native_differs(mut self, status: u16, body: &'static str, reason: &'static str) -> Self {
        self.native = Native::Differs(status, body, reason);
        self
    }
}

const EXT_ROUTE_NAME: &str = "extension: match.route_name";
const EXT_AUTHZ: &str = "extension: authorization";
const EXT_TYP: &str = "extension: allowed_token_types";
const EXT_STRIP: &str = "native leaves claim headers alone where it sets none";

fn spoofed(mut c: Check) -> Check {
    for name in CLAIM_HEADERS {
        c = c.header(name, "spoofed");
    }
    c
}

fn matching_checks() -> Vec<Check> {
    let ok = okta(json!({}));
    let sub = Some("alice");
    vec![
        req("no rule needed on /public", "/public/page"),
        // prefix
        req("prefix: no token", "/m/prefix/a").missing(),
        req("prefix: token", "/m/prefix/a")
            .bearer(&ok)
            .pass(&[("x-okta-sub", sub), ("authorization", None)]),
        req("prefix is case-sensitive by default", "/M/PREFIX/a"),
        // path (exact, query ignored)
        req("path: exact", "/m/exact").missing(),
        req("path: query is ignored", "/m/exact?x=1&y").missing(),
        req("path: query is ignored, with a token", "/m/exact?x=1")
            .bearer(&ok)
            .pass(&[("x-okta-sub", sub)]),
        req("path: longer path does not match", "/m/exact/more"),
        req("path: longer name does not match", "/m/exactly"),
        // safe_regex (whole path)
        req("regex: v2", "/api/v2/items").missing(),
        req("regex: v10", "/api/v10/items").missing(),
        req(
            "regex: query is not part of the path",
            "/api/v3/items?page=2",
        )
        .missing(),
        req(
            "regex: must match the whole path (longer)",
            "/api/v2/items/9",
        ),
        req(
            "regex: must match the whole path (prefixed)",
            "/x/api/v2/items",
        ),
        req("regex: v without digits", "/api/vX/items"),
        req("regex: token", "/api/v7/items")
            .bearer(&ok)
            .pass(&[("x-okta-sub", sub)]),
        // case_sensitive: false
        req("case_sensitive false: upper case", "/M/CASE/a").missing(),
        req("case_sensitive false: lower case", "/m/case").missing(),
        req("case_sensitive false: token", "/M/Case/x")
            .bearer(&ok)
            .pass(&[("x-okta-sub", sub)]),
        // headers
        req("header exact_match: matching", "/m/hdr/exact")
            .header("x-tenant", "acme")
            .missing(),
        req("header exact_match: token", "/m/hdr/exact")
            .header("x-tenant", "acme")
            .bearer(&ok)
            .pass(&[("x-okta-sub", sub)]),
        req("header exact_match: other value", "/m/hdr/exact").header("x-tenant", "globex"),
        req("header exact_match: case-sensitive", "/m/hdr/exact").header("x-tenant", "ACME"),
        req("header exact_match: header absent", "/m/hdr/exact"),
        req("header present_match: present", "/m/hdr/present")
            .header("x-debug", "1")
            .missing(),
        req("header present_match: absent", "/m/hdr/present"),
        req("string_match prefix ignore_case: matching", "/m/hdr/prefix")
            .header("x-env", "PROD-eu")
            .missing(),
        req("string_match prefix: other", "/m/hdr/prefix").header("x-env", "staging-prod"),
        req("string_match suffix: matching", "/m/hdr/suffix")
            .header("x-host", "db.internal")
            .missing(),
        req("string_match suffix: other", "/m/hdr/suffix").header("x-host", "db.internal.example"),
        req("string_match contains: matching", "/m/hdr/contains")
            .header("x-agent", "Googlebot/2.1")
            .missing(),
        req("string_match contains: other", "/m/hdr/contains").header("x-agent", "curl/8"),
        req("string_match exact ignore_case: matching", "/m/hdr/ic")
            .header("x-tenant", "AcMe")
            .missing(),
        req("string_match exact ignore_case: other", "/m/hdr/ic").header("x-tenant", "acme-2"),
        // Envoy's HeaderMatcher never matches a missing header, whatever invert_match says.
        req(
            "invert_match: header absent does not match",
            "/m/hdr/invert",
        ),
        req("invert_match: other value matches", "/m/hdr/invert")
            .header("x-internal", "no")
            .missing(),
        req(
            "invert_match: the inverted value does not match",
            "/m/hdr/invert",
        )
        .header("x-internal", "yes"),
        req(
            "invert_match, open rule: header absent, the okta rule applies",
            "/m/hdr/skip",
        )
        .missing(),
        req(
            "invert_match, open rule: another value opens",
            "/m/hdr/skip",
        )
        .header("x-canary", "2"),
        req("invert_match, open rule: the inverted value", "/m/hdr/skip")
            .header("x-canary", "1")
            .missing(),
        // query_parameters
        req("query: both match", "/m/query?debug=1&v=2").missing(),
        req("query: present without a value", "/m/query?v=2&debug").missing(),
        req("query: token", "/m/query?debug=1&v=2")
            .bearer(&ok)
            .pass(&[("x-okta-sub", sub)]),
        req("query: debug absent", "/m/query?v=2"),
        req("query: v differs", "/m/query?debug=1&v=3"),
        req("query: v absent", "/m/query?debug=1"),
        req("query: v as a prefix only", "/m/query?debug=1&v=22"),
        // first match wins
        req("first match: open rule first", "/m/first/open/x"),
        req("first match: `requires: {}` is no auth", "/m/first/empty/x"),
        req("first match: the later rule", "/m/first/x").missing(),
        req("no rule matches", "/nowhere"),
        // route_name (extension)
        req("route_name exact: no token", "/orders/1")
            .missing()
            .wasm_only(EXT_ROUTE_NAME),
        req("route_name exact: token", "/orders/1")
            .bearer(&ok)
            .pass(&[("x-okta-sub", sub)]),
        req("route_name exact: another route name", "/v2/orders/1"),
        req("route_name StringMatcher prefix: no token", "/billing/7")
            .missing()
            .wasm_only(EXT_ROUTE_NAME),
        req(
            "route_name StringMatcher prefix: okta token is not azure's",
            "/billing/7",
        )
        .bearer(&ok)
        .missing()
        .wasm_only(EXT_ROUTE_NAME),
        req("route_name StringMatcher prefix: azure token", "/billing/7")
            .azure_header(&azure(json!({})))
            .pass(&[("x-azure-oid", Some("oid-42")), ("x-azure-token", None)]),
    ]
}

fn requirement_checks() -> Vec<Check> {
    let ok = okta(json!({}));
    let ok_expired = okta_expired();
    let ok_badsig = flip_signature_bit(&ok);
    let ok_other_aud = okta(json!({"aud": "orders-api"}));
    let az = azure(json!({}));
    let az_expired = azure_expired();
    let sub = Some("alice");
    let oid = Some("oid-42");
    let stripped = "native removes the okta token from the request as soon as branch 1's okta \
                    check passed (forward: false), so branch 2 finds no token";
    vec![
        // provider_and_audiences
        req(
            "provider_and_audiences: the provider's own audience is replaced",
            "/r/aud",
        )
        .bearer(&ok)
        .fail(403, body::AUDIENCE, Www::Invalid),
        req("provider_and_audiences: the listed audience", "/r/aud")
            .bearer(&ok_other_aud)
            .pass(&[("x-okta-sub", sub)]),
        // requires_any through requirement_map
        req("requires_any: okta", "/r/any")
            .bearer(&ok)
            .pass(&[("x-okta-sub", sub), ("x-azure-oid", None)]),
        req("requires_any: azure", "/r/any")
            .azure_header(&az)
            .pass(&[("x-azure-oid", oid), ("x-okta-sub", None)]),
        req("requires_any: none", "/r/any").missing(),
        req(
            "requires_any: a bad okta token and a good azure one",
            "/r/any",
        )
        .bearer(&ok_expired)
        .azure_header(&az)
        .pass(&[("x-azure-oid", oid)]),
        req(
            "requires_any: expired okta token reports expired, not azure's missing",
            "/r/any",
        )
        .bearer(&ok_expired)
        .invalid(body::EXPIRED),
        req(
            "requires_any: okta audience failure beats azure's missing",
            "/r/any",
        )
        .bearer(&ok_other_aud)
        .fail(403, body::AUDIENCE, Www::Invalid),
        req("requires_any: expired azure token", "/r/any")
            .azure_header(&az_expired)
            .invalid(body::EXPIRED),
        req(
            "requires_any: an azure token where okta looks is only issuer-checked by okta",
            "/r/any",
        )
        .bearer(&az)
        .invalid(body::UNKNOWN_ISSUER),
        req("requires_any: an okta token where azure looks", "/r/any")
            .azure_header(&ok)
            .invalid(body::UNKNOWN_ISSUER),
        req(
            "requires_any: two real failures, the last branch's is reported (as native)",
            "/r/any",
        )
        .bearer(&ok_badsig)
        .azure_header(&az_expired)
        .invalid(body::EXPIRED),
        // requires_all
        req("requires_all: both", "/r/all")
            .bearer(&ok)
            .azure_header(&az)
            .pass(&[("x-okta-sub", sub), ("x-azure-oid", oid)]),
        req("requires_all: okta only", "/r/all")
            .bearer(&ok)
            .missing(),
        req("requires_all: azure only", "/r/all")
            .azure_header(&az)
            .missing(),
        req("requires_all: azure expired", "/r/all")
            .bearer(&ok)
            .azure_header(&az_expired)
            .invalid(body::EXPIRED),
        req("requires_all: okta expired", "/r/all")
            .bearer(&ok_expired)
            .azure_header(&az)
            .invalid(body::EXPIRED),
        // requires_any of (requires_all, provider_and_audiences)
        req("nested any: the requires_all branch", "/r/nested-any")
            .bearer(&ok)
            .azure_header(&az)
            .pass(&[("x-okta-sub", sub), ("x-azure-oid", oid)]),
        req("nested any: the audience branch", "/r/nested-any")
            .bearer(&okta(json!({"aud": "admin-api"})))
            .pass(&[("x-okta-sub", sub)]),
        req(
            "nested any: okta alone, wrong audience for the second branch",
            "/r/nested-any",
        )
        .bearer(&ok)
        .fail(403, body::AUDIENCE, Www::Invalid)
        .native_differs(401, body::MISSING, stripped),
        req("nested any: azure alone", "/r/nested-any")
            .azure_header(&az)
            .missing(),
        // requires_all of (okta, requires_any of (azure, allow_missing))
        req("nested all: okta alone", "/r/nested-all")
            .bearer(&ok)
            .pass(&[("x-okta-sub", sub), ("x-azure-oid", None)]),
        req("nested all: okta and azure", "/r/nested-all")
            .bearer(&ok)
            .azure_header(&az)
            .pass(&[("x-okta-sub", sub), ("x-azure-oid", oid)]),
        req("nested all: a bad optional azure token", "/r/nested-all")
            .bearer(&ok)
            .azure_header(&az_expired)
            .invalid(body::EXPIRED),
        req("nested all: azure alone", "/r/nested-all")
            .azure_header(&az)
            .missing(),
        // requires_any of (okta, allow_missing)
        req("allow_missing: no token", "/r/optional").pass(&[("x-okta-sub", None)]),
        req("allow_missing: good token", "/r/optional")
            .bearer(&ok)
            .pass(&[("x-okta-sub", sub)]),
        req("allow_missing: expired token", "/r/optional")
            .bearer(&ok_expired)
            .invalid(body::EXPIRED),
        req("allow_missing: bad signature", "/r/optional")
            .bearer(&ok_badsig)
            .invalid(body::VERIFICATION),
        req(
            "allow_missing: only the sibling providers' locations are looked at",
            "/r/optional",
        )
        .azure_header(&az_expired)
        .pass(&[("x-azure-oid", None)]),
        req(
            "allow_missing: another issuer's token where okta looks",
            "/r/optional",
        )
        .bearer(&az)
        .invalid(body::UNKNOWN_ISSUER),
        // allow_missing_or_failed
        req("allow_missing_or_failed: no token", "/r/lenient"),
        req(
            "allow_missing_or_failed: good okta token forwards its claims",
            "/r/lenient",
        )
        .bearer(&ok)
        .pass(&[("x-okta-sub", sub)]),
        req(
            "allow_missing_or_failed: expired token passes without claims",
            "/r/lenient",
        )
        .bearer(&ok_expired)
        .pass(&[("x-okta-sub", None)]),
        req(
            "allow_missing_or_failed: bad signature passes",
            "/r/lenient",
        )
        .bearer(&ok_badsig)
        .pass(&[("x-okta-sub", None)]),
        req("allow_missing_or_failed: azure cookie", "/r/lenient")
            .header("cookie", &format!("session={az}"))
            .pass(&[("x-azure-oid", oid)]),
        req(
            "allow_missing_or_failed: good okta, expired azure",
            "/r/lenient",
        )
        .bearer(&ok)
        .azure_header(&az_expired)
        .pass(&[("x-okta-sub", sub), ("x-azure-oid", None)]),
        // bypass_cors_preflight
        req("CORS preflight passes without a token", "/r/okta")
            .method("OPTIONS")
            .header("origin", "https://app.example")
            .header("access-control-request-method", "GET"),
        req("plain OPTIONS needs a token", "/r/okta")
            .method("OPTIONS")
            .missing(),
        req("OPTIONS with Origin only", "/r/okta")
            .method("OPTIONS")
            .header("origin", "https://app.example")
            .missing(),
        req("OPTIONS with Access-Control-Request-Method only", "/r/okta")
            .method("OPTIONS")
            .header("access-control-request-method", "GET")
            .missing(),
        req("GET with preflight headers needs a token", "/r/okta")
            .header("origin", "https://app.example")
            .header("access-control-request-method", "GET")
            .missing(),
    ]
}

fn source_checks() -> Vec<Check> {
    let ok = okta(json!({}));
    let ok2 = okta(json!({"jti": "second"}));
    let ok_expired = okta_expired();
    let az = azure(json!({}));
    let az_expired = azure_expired();
    let sub = Some("alice");
    let oid = Some("oid-42");
    vec![
        // okta: default locations
        req("Authorization: Bearer", "/r/okta")
            .bearer(&ok)
            .pass(&[("x-okta-sub", sub), ("authorization", None)]),
        req("?access_token=", format!("/r/okta?access_token={ok}")).pass(&[("x-okta-sub", sub)]),
        req(
            "the same token in both default locations",
            format!("/r/okta?access_token={ok}"),
        )
        .bearer(&ok)
        .pass(&[("x-okta-sub", sub)]),
        req(
            "good Bearer, expired ?access_token=",
            format!("/r/okta?access_token={ok_expired}"),
        )
        .bearer(&ok)
        .invalid(body::EXPIRED),
        req(
            "expired Bearer, good ?access_token=",
            format!("/r/okta?access_token={ok}"),
        )
        .bearer(&ok_expired)
        .invalid(body::EXPIRED),
        req(
            "good Bearer, bad signature in ?access_token=",
            format!("/r/okta?access_token={}", flip_signature_bit(&ok2)),
        )
        .bearer(&ok)
        .invalid(body::VERIFICATION),
        req("azure's header is not okta's location", "/r/okta")
            .azure_header(&ok)
            .missing(),
        // azure: from_headers with a prefix, from_params, from_cookies
        req("from_headers with prefix", "/r/azure")
            .azure_header(&az)
            .pass(&[("x-azure-oid", oid), ("x-azure-token", None)]),
        req("from_headers without the prefix", "/r/azure")
            .header("x-azure-token", &az)
            .missing(),
        req("from_params", format!("/r/azure?az_token={az}")).pass(&[("x-azure-oid", oid)]),
        req("from_cookies among other cookies", "/r/azure")
            .header("cookie", &format!("theme=dark; session={az}; lang=en"))
            .pass(&[("x-azure-oid", oid)]),
        req("from_cookies: another cookie name", "/r/azure")
            .header("cookie", &format!("sessionid={az}"))
            .missing(),
        req("from_cookies: expired", "/r/azure")
            .header("cookie", &format!("session={az_expired}"))
            .invalid(body::EXPIRED),
        req("good header, expired cookie", "/r/azure")
            .azure_header(&az)
            .header("cookie", &format!("session={az_expired}"))
            .invalid(body::EXPIRED),
        req("Authorization is not azure's location", "/r/azure")
            .bearer(&az)
            .missing(),
        req(
            "?access_token is not azure's location",
            format!("/r/azure?access_token={az}"),
        )
        .missing(),
    ]
}

fn token_type_checks() -> Vec<Check> {
    let at = |typ: Option<&str>| okta_typed(typ, json!({}));
    let sub = Some("alice");
    vec![
        req("typ at+jwt", "/t/at")
            .bearer(&at(Some("at+jwt")))
            .pass(&[("x-okta-sub", sub)]),
        req("typ application/at+jwt", "/t/at")
            .bearer(&at(Some("application/at+jwt")))
            .pass(&[("x-okta-sub", sub)]),
        req("typ AT+JWT", "/t/at")
            .bearer(&at(Some("AT+JWT")))
            .pass(&[("x-okta-sub", sub)]),
        req("typ JWT (an ID token) is refused", "/t/at")
            .bearer(&at(Some("JWT")))
            .invalid(body::TYP)
            .wasm_only(EXT_TYP),
        req("no typ is refused", "/t/at")
            .bearer(&at(None))
            .invalid(body::TYP)
            .wasm_only(EXT_TYP),
        req("typ at+jwt+x is refused", "/t/at")
            .bearer(&at(Some("at+jwtx")))
            .invalid(body::TYP)
            .wasm_only(EXT_TYP),
        req(
            "the ID token on a provider without allowed_token_types",
            "/r/okta",
        )
        .bearer(&at(Some("JWT")))
        .pass(&[("x-okta-sub", sub)]),
        req(
            "the access token on a provider without allowed_token_types",
            "/r/okta",
        )
        .bearer(&at(Some("at+jwt")))
        .pass(&[("x-okta-sub", sub)]),
    ]
}

fn claim_header_checks() -> Vec<Check> {
    let rich = okta(json!({
        "realm_access": {"roles": ["admin", "ops"]},
        "address": {"country": "NZ", "locality": "Wellington"},
        "note": "line1\nline2",
        "tags": ["ok", "bad\u{1}"]
    }));
    let nested = okta(json!({
        "realm_access": {"roles": ["admin", "ops"]},
        "address": {"country": "NZ", "locality": "Wellington"}
    }));
    let plain = okta(json!({}));
    let az = azure(json!({}));
    let address = Some(r#"{"country":"NZ","locality":"Wellington"}"#);
    vec![
        req("nested claims, arrays joined, objects as JSON", "/r/okta")
            .bearer(&nested)
            .pass(&[
                ("x-okta-sub", Some("alice")),
                ("x-okta-roles", Some("admin,ops")),
                ("x-okta-country", Some("NZ")),
                ("x-okta-address", address),
                ("x-okta-note", None),
                ("x-okta-tags", None),
            ]),
        req("claims with control characters are left out", "/r/okta")
            .bearer(&rich)
            .pass(&[
                ("x-okta-sub", Some("alice")),
                ("x-okta-roles", Some("admin,ops")),
                ("x-okta-address", address),
                ("x-okta-note", None),
                ("x-okta-tags", None),
            ])
            .native_differs(
                503,
                "invalid header value for: x-okta-note",
                "native copies the claim, newline and all, into x-okta-note and Envoy then \
                 refuses the request; the filter leaves such a header out",
            ),
        req("azure array claim", "/r/azure")
            .azure_header(&az)
            .pass(&[("x-azure-groups", Some("g1,g2"))]),
        spoofed(req("spoofed claim headers on a public route", "/public/x"))
            .pass(&CLAIM_HEADERS.map(|h| (h, None)))
            .wasm_only(EXT_STRIP),
        spoofed(req(
            "spoofed claim headers where no rule matches",
            "/nowhere",
        ))
        .pass(&CLAIM_HEADERS.map(|h| (h, None)))
        .wasm_only(EXT_STRIP),
        spoofed(req(
            "spoofed claim headers, allow_missing without a token",
            "/r/optional",
        ))
        .pass(&CLAIM_HEADERS.map(|h| (h, None)))
        .wasm_only(EXT_STRIP),
        spoofed(req("spoofed okta headers on azure's route", "/r/azure"))
            .azure_header(&az)
            .pass(&[
                ("x-okta-sub", None),
                ("x-okta-roles", None),
                ("x-okta-address", None),
                ("x-azure-oid", Some("oid-42")),
                ("x-azure-groups", Some("g1,g2")),
            ])
            .wasm_only(EXT_STRIP),
        spoofed(req(
            "spoofed headers with a token lacking those claims",
            "/r/okta",
        ))
        .bearer(&plain)
        .pass(&[
            ("x-okta-sub", Some("alice")),
            ("x-okta-roles", None),
            ("x-okta-country", None),
            ("x-azure-oid", None),
        ])
        .wasm_only(EXT_STRIP),
    ]
}

fn authorization_checks() -> Vec<Check> {
    let t = |changes: Value| okta(changes);
    let scope = Www::Insufficient(Some("orders:read"));
    let claims = Www::Insufficient(None);
    let full = json!({
        "scope": "openid orders:read",
        "realm_access": {"roles": ["admin"]},
        "tier": "gold",
        "groups": ["a", "b"],
        "email_verified": true,
        "client_id": "app-1"
    });
    let combo = |changes: Value| t(merged(full.clone(), changes));
    let az_scoped = azure(json!({"scp": ["orders:read"]}));
    let mut checks = vec![
        // scopes
        req("scope: space-separated", "/z/scope")
            .bearer(&t(json!({"scope": "openid orders:read"}))),
        req("scope: scp array", "/z/scope").bearer(&t(json!({"scp": ["profile", "orders:read"]}))),
        req("scope: scp string", "/z/scope").bearer(&t(json!({"scp": "orders:read"}))),
        req("scope: another scope", "/z/scope")
            .bearer(&t(json!({"scope": "orders:write"})))
            .fail(403, body::SCOPE, scope),
        req("scope: a longer word is not the scope", "/z/scope")
            .bearer(&t(json!({"scope": "orders:readonly"})))
            .fail(403, body::SCOPE, scope),
        req("scope: none", "/z/scope")
            .bearer(&t(json!({})))
            .fail(403, body::SCOPE, scope),
        req("scope rule: no token is still 401", "/z/scope").missing(),
        req("scope rule: expired token is still 401", "/z/scope")
            .bearer(&okta_expired())
            .invalid(body::EXPIRED),
        // contains_any on a nested claim
        req("contains_any: admin among roles", "/z/roles")
            .bearer(&t(json!({"realm_access": {"roles": ["ops", "admin"]}}))),
        req("contains_any: no admin", "/z/roles")
            .bearer(&t(json!({"realm_access": {"roles": ["ops"]}})))
            .fail(403, body::CLAIMS, claims),
        req("contains_any: claim absent", "/z/roles")
            .bearer(&t(json!({})))
            .fail(403, body::CLAIMS, claims),
        // one_of
        req("one_of: silver", "/z/tier").bearer(&t(json!({"tier": "silver"}))),
        req("one_of: bronze", "/z/tier")
            .bearer(&t(json!({"tier": "bronze"})))
            .fail(403, body::CLAIMS, claims),
        req("one_of: case matters", "/z/tier")
            .bearer(&t(json!({"tier": "GOLD"})))
            .fail(403, body::CLAIMS, claims),
        req("one_of: absent", "/z/tier")
            .bearer(&t(json!({})))
            .fail(403, body::CLAIMS, claims),
        // contains_all
        req("contains_all: all and more", "/z/groups")
            .bearer(&t(json!({"groups": ["c", "b", "a"]}))),
        req("contains_all: space-separated string", "/z/groups")
            .bearer(&t(json!({"groups": "a b"}))),
        req("contains_all: one missing", "/z/groups")
            .bearer(&t(json!({"groups": ["a"]})))
            .fail(403, body::CLAIMS, claims),
        // equals
        req("equals true", "/z/verified").bearer(&t(json!({"email_verified": true}))),
        req("equals: the string \"true\" is not true", "/z/verified")
            .bearer(&t(json!({"email_verified": "true"})))
            .fail(403, body::CLAIMS, claims),
        req("equals: false", "/z/verified")
            .bearer(&t(json!({"email_verified": false})))
            .fail(403, body::CLAIMS, claims),
        req("equals: absent", "/z/verified")
            .bearer(&t(json!({})))
            .fail(403, body::CLAIMS, claims),
        // absent
        req("absent: no act", "/z/act").bearer(&t(json!({}))),
        req("absent: act present", "/z/act")
            .bearer(&t(json!({"act": {"sub": "svc"}})))
            .fail(403, body::CLAIMS, claims),
        // client binding
        req("client: client_id equals the header", "/z/client")
            .bearer(&t(json!({"client_id": "app-1"})))
            .header("x-client-id", "app-1"),
        req("client: azp", "/z/client")
            .bearer(&t(json!({"azp": "app-1"})))
            .header("x-client-id", "app-1"),
        req("client: cid", "/z/client")
            .bearer(&t(json!({"cid": "app-1"})))
            .header("x-client-id", "app-1"),
        req("client: header missing", "/z/client")
            .bearer(&t(json!({"client_id": "app-1"})))
            .fail(403, body::CLIENT, claims),
        req("client: a token of another client", "/z/client")
            .bearer(&t(json!({"client_id": "app-2"})))
            .header("x-client-id", "app-1")
            .fail(403, body::CLIENT, claims),
        req("client: the first claim present decides", "/z/client")
            .bearer(&t(json!({"client_id": "app-2", "azp": "app-1"})))
            .header("x-client-id", "app-1")
            .fail(403, body::CLIENT, claims),
        req("client: case matters", "/z/client")
            .bearer(&t(json!({"client_id": "app-1"})))
            .header("x-client-id", "APP-1")
            .fail(403, body::CLIENT, claims),
        req("client: no client claim", "/z/client")
            .bearer(&t(json!({})))
            .header("x-client-id", "app-1")
            .fail(403, body::CLIENT, claims),
        // everything at once; scope="..." on every refusal of a rule with scopes
        req("combo: all granted", "/z/combo")
            .bearer(&combo(json!({})))
            .header("x-client-id", "app-1")
            .pass(&[("x-okta-sub", Some("alice"))]),
        req("combo: scope missing", "/z/combo")
            .bearer(&combo(json!({"scope": "openid"})))
            .header("x-client-id", "app-1")
            .fail(403, body::SCOPE, scope),
        req("combo: roles", "/z/combo")
            .bearer(&combo(json!({"realm_access": {"roles": []}})))
            .header("x-client-id", "app-1")
            .fail(403, body::CLAIMS, scope),
        req("combo: tier", "/z/combo")
            .bearer(&combo(json!({"tier": "bronze"})))
            .header("x-client-id", "app-1")
            .fail(403, body::CLAIMS, scope),
        req("combo: groups", "/z/combo")
            .bearer(&combo(json!({"groups": ["b"]})))
            .header("x-client-id", "app-1")
            .fail(403, body::CLAIMS, scope),
        req("combo: email_verified", "/z/combo")
            .bearer(&combo(json!({"email_verified": null})))
            .header("x-client-id", "app-1")
            .fail(403, body::CLAIMS, scope),
        req("combo: act", "/z/combo")
            .bearer(&combo(json!({"act": {"sub": "svc"}})))
            .header("x-client-id", "app-1")
            .fail(403, body::CLAIMS, scope),
        req("combo: client header missing", "/z/combo")
            .bearer(&combo(json!({})))
            .fail(403, body::CLIENT, scope),
        req("combo: scope is checked first", "/z/combo")
            .bearer(&combo(json!({"scope": "openid", "tier": "bronze"})))
            .fail(403, body::SCOPE, scope),
        // with requires_any / requires_all / allow_missing
        req("requires_any + scopes: azure scp", "/z/any")
            .azure_header(&az_scoped)
            .pass(&[("x-azure-oid", Some("oid-42"))]),
        req("requires_any + scopes: azure without", "/z/any")
            .azure_header(&azure(json!({})))
            .fail(403, body::SCOPE, scope),
        req("requires_any + scopes: okta scope", "/z/any")
            .bearer(&t(json!({"scope": "orders:read"}))),
        req("requires_any + scopes: no token", "/z/any").missing(),
        req("requires_all + scopes: the okta token grants it", "/z/all")
            .bearer(&t(json!({"scope": "orders:read"})))
            .azure_header(&azure(json!({}))),
        req("requires_all + scopes: the azure token grants it", "/z/all")
            .bearer(&t(json!({})))
            .azure_header(&az_scoped),
        req("requires_all + scopes: neither grants it", "/z/all")
            .bearer(&t(json!({})))
            .azure_header(&azure(json!({})))
            .fail(403, body::SCOPE, scope),
        req(
            "allow_missing + authorization: a granting token",
            "/z/optional",
        )
        .bearer(&t(json!({"scope": "orders:read"}))),
        req(
            "allow_missing + authorization: a token without the scope",
            "/z/optional",
        )
        .bearer(&t(json!({})))
        .fail(403, body::SCOPE, scope),
        req(
            "allow_missing + authorization: no token is 401 (nothing to authorize)",
            "/z/optional",
        )
        .missing()
        .wasm_only(EXT_AUTHZ),
    ];
    // Natively (authorization removed) every 403 here is a pass.
    for c in &mut checks {
        if matches!(c.expect, Expect::Fail(403, ..)) {
            c.native = Native::Skip(EXT_AUTHZ);
        }
    }
    checks
}

fn all_checks() -> Vec<Check> {
    let mut checks = matching_checks();
    checks.extend(requirement_checks());
    checks.extend(source_checks());
    checks.extend(token_type_checks());
    checks.extend(claim_header_checks());
    checks.extend(authorization_checks());
    checks
}

