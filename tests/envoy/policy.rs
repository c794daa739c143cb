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

/// The route table: three named routes to the upstream before the harness's default route.
fn builder(upstream: &Upstream, okta_jwks: &JwksStub, azure_jwks: &JwksStub) -> EnvoyBuilder {
    let named = |name: &str, prefix: &str| {
        format!("name: {name}\nmatch: {{prefix: \"{prefix}\"}}\nroute: {{cluster: upstream, timeout: 15s}}")
    };
    EnvoyBuilder::new(upstream)
        .route_yaml(&named("orders-route-v2", "/v2/orders"))
        .route_yaml(&named("orders-route", "/orders"))
        .route_yaml(&named("billing-v1", "/billing"))
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

// ------------------------------------------------------------------------------------------
// Running the table

fn www_authenticate(port: u16, path: &str, www: Www) -> String {
    let path = &path[..path.len().min(256)];
    let mut v = format!("Bearer realm=\"http://127.0.0.1:{port}{path}\"");
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
        let want = www_authenticate(port, &c.path, www);
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
            let want_www = www_authenticate(port, &c.path, *www);
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
