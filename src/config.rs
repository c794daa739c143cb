//! The plugin configuration: JSON shaped like Envoy's native `jwt_authn` filter
//! (`envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication`, proto3 JSON), validated
//! into an immutable [`Config`].
//!
//! Every member is either understood or refused with a [`ConfigError`] naming its path: a
//! security filter that silently ignores `requires_all` or `from_cookies` would let traffic in
//! that its operator meant to keep out.

use std::rc::Rc;

use serde_json::{Map, Value};

use crate::duration;
use crate::error::ConfigError;
use crate::jwks::{self, KeySet};
use crate::matcher::{HeaderMatch, PathMatch, QueryMatch, RouteMatch, StringMatcher, ValueMatch};
use crate::policy::{Authorization, ClaimRule, ClaimTest, ClientBinding};

/// Default clock skew, as native Envoy (`kClockSkewInSecond`).
pub const DEFAULT_CLOCK_SKEW_SECONDS: u64 = 60;
/// Native `jwt_cache_config` defaults: tokens a provider's cache holds, and the longest token
/// it caches.
pub const DEFAULT_JWT_CACHE_SIZE: usize = 100;
pub const DEFAULT_MAX_CACHED_TOKEN_BYTES: usize = 4096;
/// The largest `token_cache_size`.
pub const MAX_TOKEN_CACHE_SIZE: usize = 1_000_000;
/// Native Envoy's default `remote_jwks.cache_duration` (`PubkeyCacheExpirationSec`): 600 s.
pub const DEFAULT_CACHE_DURATION_MS: u64 = 600_000;
/// Default callout timeout when `http_uri.timeout` is not given.
pub const DEFAULT_FETCH_TIMEOUT_MS: u64 = 5_000;
/// Pause between retries after a failed fetch (native `async_fetch.failed_refetch_duration`).
pub const DEFAULT_FAILED_REFETCH_MS: u64 = 1_000;
/// Remote JWKS lifecycle defaults (extensions).
pub const DEFAULT_MIN_CACHE_DURATION_MS: u64 = 30_000;
pub const DEFAULT_MAX_CACHE_DURATION_MS: u64 = 86_400_000;
pub const DEFAULT_MAX_STALE_MS: u64 = 86_400_000;
pub const DEFAULT_UNKNOWN_KID_REFETCH_INTERVAL_MS: u64 = 30_000;
pub const DEFAULT_FIRST_FETCH_WAIT_MS: u64 = 5_000;
/// Tokens longer than this are refused before any decoding. Native Envoy has no such limit;
/// 16 KiB leaves room for large but real tokens (Azure AD with many groups, long custom
/// claims) well inside Envoy's default 60 KiB header budget.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Tokens looked at per request; more is refused rather than verified one by one.
pub const MAX_TOKENS_PER_REQUEST: usize = 4;
/// Largest plugin configuration accepted.
pub const MAX_CONFIG_BYTES: usize = 4 * 1024 * 1024;

/// The validated configuration, built once in `on_configure` and shared by all requests.
#[derive(Debug)]
pub struct Config {
    pub providers: Vec<Provider>,
    pub rules: Vec<Rule>,
    /// Lowercase names of every header this filter may set: removed from every request first,
    /// so a client can never forge a claim header.
    pub generated_headers: Vec<String>,
    /// Let CORS preflight requests (`OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`) through without a token.
    pub bypass_cors_preflight: bool,
    /// Some rule matches on the route name, so the adapter must ask the host for it.
    pub uses_route_name: bool,
    /// The request headers a decision can read: see [`HeaderFetch`].
    pub header_fetch: HeaderFetch,
    /// Extension: entries of the per-worker cache of signature verdicts (0 turns it off).
    pub token_cache_size: usize,
    /// Extension: the lowest level of the log lines the filter hands to the host (which
    /// applies its own level too). Not asked of the host: `proxy_get_log_level` traps on some.
    pub log_level: LogLevel,
}

/// A log line's level, as proxy-wasm numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Critical,
}

impl LogLevel {
    const NAMES: [(&'static str, LogLevel); 6] = [
        ("trace", LogLevel::Trace),
        ("debug", LogLevel::Debug),
        ("info", LogLevel::Info),
        ("warn", LogLevel::Warn),
        ("error", LogLevel::Error),
        ("critical", LogLevel::Critical),
    ];

    fn parse(name: &str) -> Option<LogLevel> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, level)| *level)
    }
}

#[derive(Debug)]
pub struct Provider {
    pub name: String,
    pub issuer: Option<String>,
    /// Extension: the issuer is a multi-tenant template (`.../{tenantid}/...`).
    pub tenants: Option<Tenants>,
    pub audiences: Vec<String>,
    pub subjects: Option<StringMatcher>,
    /// Extension: accepted header `typ` values (lowercase, without `application/`); empty = any.
    pub allowed_token_types: Vec<String>,
    pub jwks: JwksSource,
    pub locations: Vec<Location>,
    pub forward: bool,
    pub forward_payload_header: Option<String>,
    pub pad_forward_payload_header: bool,
    pub claim_to_headers: Vec<ClaimToHeader>,
    pub clock_skew_seconds: u64,
    pub require_expiration: bool,
    pub max_lifetime_seconds: Option<u64>,
    /// Native `jwt_cache_config.jwt_cache_size` when the provider has one (its share of the
    /// worker's token cache, see [`Config::token_cache_size`]).
    pub jwt_cache_size: Option<usize>,
    /// Tokens longer than this are not cached (`jwt_cache_config.jwt_max_token_size`).
    pub max_cached_token_bytes: usize,
}

/// A multi-tenant issuer such as `https://login.microsoftonline.com/{tenantid}/v2.0`: the
/// placeholder matches one path segment, which must be an allowed tenant and equal the
/// token's `tid` claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenants {
    pub prefix: String,
    pub suffix: String,
    /// `None` for `["*"]`: any tenant.
    pub allowed: Option<Vec<String>>,
}

impl Tenants {
    pub const PLACEHOLDER: &'static str = "{tenantid}";

    /// The tenant an issuer names, when it fits the template and is allowed.
    pub fn tenant_of<'i>(&self, iss: &'i str) -> Option<&'i str> {
        let tenant = iss
            .strip_prefix(self.prefix.as_str())?
            .strip_suffix(self.suffix.as_str())?;
        if tenant.is_empty() || tenant.contains('/') {
            return None;
        }
        match &self.allowed {
            None => Some(tenant),
            Some(list) => list.iter().any(|t| t == tenant).then_some(tenant),
        }
    }
}

#[derive(Debug)]
pub enum JwksSource {
    Local(Rc<KeySet>),
    /// `local_jwks` given but empty: accepted like native Envoy, every token then fails with
    /// "Jwks doesn't have any valid public key".
    Empty,
    Remote(RemoteJwks),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteJwks {
    pub uri: String,
    pub cluster: String,
    pub authority: String,
    pub path: String,
    pub timeout_ms: u64,
    pub cache_duration_ms: u64,
    pub failed_refetch_ms: u64,
    /// Extension: bounds for the lifetime an identity provider announces with
    /// `Cache-Control: max-age` or `Expires`.
    pub min_cache_duration_ms: u64,
    pub max_cache_duration_ms: u64,
    /// Extension: how long keys stay usable past their freshness while refreshes fail.
    pub max_stale_ms: u64,
    /// Extension: at most one refetch per this interval for tokens naming an unknown `kid`.
    pub unknown_kid_refetch_interval_ms: u64,
    /// Extension: how long a request waits for a provider's first keys.
    pub first_fetch_wait_ms: u64,
    /// Extension: `uri` is an OpenID Connect discovery document naming the `jwks_uri`.
    pub discovery: bool,
    /// Extension: cluster for the discovered `jwks_uri` (default: `cluster`).
    pub jwks_cluster: Option<String>,
}

/// Where a token is looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A header (lowercase name) and the prefix before the token (`"Bearer "`), may be empty.
    Header { name: String, value_prefix: String },
    /// A query parameter.
    Param(String),
    /// A cookie.
    Cookie(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimToHeader {
    pub header_name: String,
    pub claim_name: String,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub matcher: RouteMatch,
    /// `None` lets the request through without a token.
    pub requires: Option<Requirement>,
    /// Extension: what a verified token must grant on this route.
    pub authorization: Option<Authorization>,
}

/// Envoy's `JwtRequirement` tree, with provider names resolved to indexes.
#[derive(Debug, Clone, PartialEq)]
pub enum Requirement {
    /// A token of this provider must verify; `audiences` replaces the provider's own.
    Provider {
        index: usize,
        audiences: Option<Vec<String>>,
    },
    Any(Vec<Requirement>),
    All(Vec<Requirement>),
    /// No token is fine; a token, if present, must verify with the provider its `iss` names
    /// among these.
    AllowMissing(Vec<usize>),
    /// Tokens are verified (and their claims forwarded) when they pass; nothing is refused.
    AllowMissingOrFailed(Vec<usize>),
}

/// Nesting depth of `requires_any`/`requires_all` accepted.
pub const MAX_REQUIREMENT_DEPTH: usize = 8;

impl Config {
    /// Parses and validates the plugin configuration.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        if text.len() > MAX_CONFIG_BYTES {
            return Err(ConfigError::new(
                "",
                format!("configuration is larger than {MAX_CONFIG_BYTES} bytes"),
            ));
        }
        let root: Value = serde_json::from_str(text)
            .map_err(|e| ConfigError::new("", format!("configuration is not valid JSON: {e}")))?;
        let root = Fields::new(&root, "")?;
        root.refuse_unknown(
            &[
                "providers",
                "rules",
                "requirement_map",
                "bypass_cors_preflight",
                "token_cache_size",
                "log_level",
            ],
            &[
                ("filter_state_rules", "filter state rules"),
                ("stat_prefix", "stat prefixes"),
                ("strip_failure_response", "stripping failure responses"),
            ],
        )?;

        let mut providers = Vec::new();
        if let Some(value) = root.get("providers") {
            let map = value.as_object().ok_or_else(|| {
                ConfigError::new("providers", "must be an object of named providers")
            })?;
            for (name, provider) in map {
                providers.push(parse_provider(name, provider)?);
            }
        }
        let mut requirement_map: Vec<(String, Requirement)> = Vec::new();
        if let Some(map) = root.object("requirement_map")? {
            for (name, value) in map.map {
                let requirement =
                    parse_requirement(&Fields::new(value, &map.field(name))?, &providers, 0)?;
                requirement_map.push((name.clone(), requirement));
            }
        }
        let rules: Vec<Rule> = match root.get("rules") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, rule)| parse_rule(i, rule, &providers, &requirement_map))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(ConfigError::new("rules", "must be an array")),
        };
        let uses_route_name = rules.iter().any(|r| r.matcher.route_name.is_some());

        let mut generated_headers: Vec<String> = Vec::new();
        for provider in &providers {
            let names = provider
                .claim_to_headers
                .iter()
                .map(|c| &c.header_name)
                .chain(provider.forward_payload_header.iter());
            for name in names {
                if !generated_headers.contains(name) {
                    generated_headers.push(name.clone());
                }
            }
        }
        // Unless set, room for every provider's native `jwt_cache_size` and at least the default.
        let native_shares = providers
            .iter()
            .filter_map(|p| p.jwt_cache_size)
            .fold(0, usize::saturating_add);
        let token_cache_size = match root.get("token_cache_size") {
            None => native_shares.clamp(crate::token_cache::DEFAULT_CAPACITY, MAX_TOKEN_CACHE_SIZE),
            Some(v) => v
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| *n <= MAX_TOKEN_CACHE_SIZE)
                .ok_or_else(|| {
                    ConfigError::new(
                        "token_cache_size",
                        "must be an integer from 0 (off) to 1000000",
                    )
                })?,
        };
        let bypass_cors_preflight = root.bool("bypass_cors_preflight")?;
        let header_fetch = HeaderFetch::of(&rules, &providers, bypass_cors_preflight);
        let log_level = match root.string("log_level")? {
            None => LogLevel::Info,
            Some(name) => LogLevel::parse(name).ok_or_else(|| {
                ConfigError::new(
                    "log_level",
                    "must be one of trace, debug, info, warn, error, critical",
                )
            })?,
        };
        Ok(Config {
            providers,
            rules,
            generated_headers,
            bypass_cors_preflight,
            uses_route_name,
            header_fetch,
            token_cache_size,
            log_level,
        })
    }
}

/// The request headers a decision can read, so the adapter can ask the host for one header
/// instead of the whole map (one host call either way, but reading one header costs Envoy
/// less). Only refusals need more (the realm of `WWW-Authenticate` is built from `:authority`,
/// the path, `x-envoy-original-path` and the scheme); the adapter reads the whole map for those.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderFetch {
    /// Every request header.
    All,
    /// Only this header (lowercase name): the first rule matches every request (`prefix: "/"`
    /// and nothing else, so `:path` is not needed) and every provider reads its token from this
    /// one header. Only `authorization`, whose repeated values Envoy joins into one (with `,`)
    /// before any filter runs: the host's single-header read gives the first value only, which
    /// for another header could miss a token a later value holds.
    One(String),
}

impl HeaderFetch {
    fn of(rules: &[Rule], providers: &[Provider], bypass_cors_preflight: bool) -> HeaderFetch {
        let Some(first) = rules.first() else {
            return HeaderFetch::All;
        };
        let m = &first.matcher;
        let matches_all = matches!(&m.path, PathMatch::Prefix(p) if p == "/")
            && m.headers.is_empty()
            && m.query_parameters.is_empty()
            && m.route_name.is_none();
        let binds_client = first
            .authorization
            .as_ref()
            .is_some_and(|a| a.client.is_some());
        if bypass_cors_preflight || !matches_all || binds_client {
            return HeaderFetch::All;
        }
        let mut only: Option<&str> = None;
        for location in providers.iter().flat_map(|p| &p.locations) {
            match location {
                Location::Header { name, .. } if only.is_none_or(|o| o == name) => {
                    only = Some(name)
                }
                _ => return HeaderFetch::All,
            }
        }
        match only {
            Some(name @ "authorization") => HeaderFetch::One(name.to_string()),
            _ => HeaderFetch::All,
        }
    }
}

impl Provider {
    pub fn remote(&self) -> Option<&RemoteJwks> {
        match &self.jwks {
            JwksSource::Remote(remote) => Some(remote),
            _ => None,
        }
    }
}

/// A JSON object being validated, with its path for error messages.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Fields<'a> {
    fn new(value: &'a Value, path: &str) -> Result<Fields<'a>, ConfigError> {
        let map = value
            .as_object()
            .ok_or_else(|| ConfigError::new(path, "must be a JSON object"))?;
        Ok(Fields {
            map,
            path: path.to_string(),
        })
    }

    fn field(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    /// Looks a member up by its snake_case name, also accepting proto3 JSON's lowerCamelCase.
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).or_else(|| self.map.get(&camel(name)))
    }

    /// Refuses members that are neither known nor expressly unsupported, and names the
    /// unsupported ones with what they would have done.
    fn refuse_unknown(
        &self,
        known: &[&str],
        unsupported: &[(&str, &str)],
    ) -> Result<(), ConfigError> {
        for key in self.map.keys() {
            let snake = snake(key);
            // Only the two spellings `get` reads: a mix such as `safe_regexMatch` would pass
            // the snake_case test and then be silently ignored.
            if known.contains(&snake.as_str()) && (*key == snake || *key == camel(&snake)) {
                continue;
            }
            if let Some((_, what)) = unsupported.iter().find(|(name, _)| *name == snake) {
                return Err(ConfigError::new(
                    self.field(key),
                    format!("{what} are not supported by this filter; remove the field"),
                ));
            }
            return Err(ConfigError::new(self.field(key), "unknown field"));
        }
        Ok(())
    }

    fn string(&self, name: &str) -> Result<Option<&'a str>, ConfigError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ConfigError::new(self.field(name), "must be a string")),
        }
    }

    fn required_string(&self, name: &str) -> Result<&'a str, ConfigError> {
        match self.string(name)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(ConfigError::new(
                self.field(name),
                "is required and must be a non-empty string",
            )),
        }
    }

    fn bool(&self, name: &str) -> Result<bool, ConfigError> {
        match self.get(name) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(ConfigError::new(self.field(name), "must be true or false")),
        }
    }

    fn array(&self, name: &str) -> Result<&'a [Value], ConfigError> {
        match self.get(name) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(ConfigError::new(self.field(name), "must be an array")),
        }
    }

    fn string_list(&self, name: &str) -> Result<Vec<String>, ConfigError> {
        self.array(name)?
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    ConfigError::new(format!("{}[{i}]", self.field(name)), "must be a string")
                })
            })
            .collect()
    }

    fn duration_ms(&self, name: &str) -> Result<Option<u64>, ConfigError> {
        self.get(name)
            .map(|v| {
                duration::parse_millis(v)
                    .map_err(|reason| ConfigError::new(self.field(name), reason))
            })
            .transpose()
    }

    /// A proto3 `uint32`: a JSON number, or a string holding one.
    fn uint32(&self, name: &str) -> Result<Option<u32>, ConfigError> {
        self.get(name)
            .map(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| {
                        ConfigError::new(
                            self.field(name),
                            "must be an integer between 0 and 4294967295",
                        )
                    })
            })
            .transpose()
    }

    fn object(&self, name: &str) -> Result<Option<Fields<'a>>, ConfigError> {
        self.get(name)
            .map(|v| Fields::new(v, &self.field(name)))
            .transpose()
    }
}

fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
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

fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
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
}

fn parse_provider(name: &str, value: &Value) -> Result<Provider, ConfigError> {
    let path = format!("providers.{name}");
    let f = Fields::new(value, &path)?;
    f.refuse_unknown(
        &[
            "issuer",
            "audiences",
            "subjects",
            "local_jwks",
            "remote_jwks",
            "from_headers",
            "from_params",
            "forward",
            "forward_payload_header",
            "pad_forward_payload_header",
            "claim_to_headers",
            "clock_skew_seconds",
            "require_expiration",
            "max_lifetime",
            "from_cookies",
            "allowed_token_types",
            "allowed_tenants",
            "jwt_cache_config",
            "clear_route_cache",
        ],
        &[
            ("payload_in_metadata", "payloads in dynamic metadata"),
            ("header_in_metadata", "headers in dynamic metadata"),
            (
                "failed_status_in_metadata",
                "failure statuses in dynamic metadata",
            ),
            (
                "normalize_payload_in_metadata",
                "payload normalisation in dynamic metadata",
            ),
        ],
    )?;
    if name.is_empty() {
        return Err(ConfigError::new(
            "providers",
            "a provider name must not be empty",
        ));
    }

    let issuer = f
        .string("issuer")?
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let tenants = parse_tenants(&f, issuer.as_deref())?;
    let audiences = f.string_list("audiences")?;
    let subjects = f
        .object("subjects")?
        .map(|s| parse_string_matcher(&s))
        .transpose()?;
    let allowed_token_types = f
        .string_list("allowed_token_types")?
        .iter()
        .map(|t| normalize_typ(t))
        .collect();

    let jwks = match (f.object("local_jwks")?, f.object("remote_jwks")?) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                &path,
                "set either `local_jwks` or `remote_jwks`, not both",
            ))
        }
        (None, None) => {
            return Err(ConfigError::new(
                &path,
                "one of `local_jwks` or `remote_jwks` is required",
            ))
        }
        (Some(local), None) => parse_local_jwks(&local)?,
        (None, Some(remote)) => JwksSource::Remote(parse_remote_jwks(&remote)?),
    };
    if matches!(&jwks, JwksSource::Remote(r) if r.discovery) && issuer.is_none() {
        return Err(ConfigError::new(format!("{path}.issuer"), "is required with `remote_jwks.oidc_discovery`: the discovery document's issuer is checked against it"));
    }

    let mut locations = Vec::new();
    for (i, header) in f.array("from_headers")?.iter().enumerate() {
        let h = Fields::new(header, &format!("{path}.from_headers[{i}]"))?;
        h.refuse_unknown(&["name", "value_prefix"], &[])?;
        let name = header_name(&h, "name")?;
        let value_prefix = h.string("value_prefix")?.unwrap_or_default().to_string();
        locations.push(Location::Header { name, value_prefix });
    }
    for (i, param) in f.string_list("from_params")?.into_iter().enumerate() {
        if param.is_empty() {
            return Err(ConfigError::new(
                format!("{path}.from_params[{i}]"),
                "must not be empty",
            ));
        }
        locations.push(Location::Param(param));
    }
    for (i, cookie) in f.string_list("from_cookies")?.into_iter().enumerate() {
        if cookie.is_empty() {
            return Err(ConfigError::new(
                format!("{path}.from_cookies[{i}]"),
                "must not be empty",
            ));
        }
        locations.push(Location::Cookie(cookie));
    }
    if locations.is_empty() {
        // Native default: `Authorization: Bearer <token>` and `?access_token=<token>`.
        locations.push(Location::Header {
            name: "authorization".into(),
            value_prefix: "Bearer ".into(),
        });
        locations.push(Location::Param("access_token".into()));
    }

    let forward_payload_header = match f.get("forward_payload_header") {
        None => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(_) => Some(header_name(&f, "forward_payload_header")?),
    };

    let mut claim_to_headers = Vec::new();
    for (i, item) in f.array("claim_to_headers")?.iter().enumerate() {
        let c = Fields::new(item, &format!("{path}.claim_to_headers[{i}]"))?;
        c.refuse_unknown(&["header_name", "claim_name"], &[])?;
        let header_name = header_name(&c, "header_name")?;
        let claim_name = c.required_string("claim_name")?.to_string();
        claim_to_headers.push(ClaimToHeader {
            header_name,
            claim_name,
        });
    }

    // proto3 cannot tell 0 from unset; native Envoy then uses its default.
    let clock_skew_seconds = match f.uint32("clock_skew_seconds")? {
        None | Some(0) => DEFAULT_CLOCK_SKEW_SECONDS,
        Some(n) => u64::from(n),
    };
    let max_lifetime_seconds = f.duration_ms("max_lifetime")?.map(|ms| ms / 1000);
    // Envoy picks the route again after a wasm filter changes request headers, which this filter
    // does on every request it lets through: it always behaves as native with
    // `clear_route_cache: true`. The field is read for its type only (README, Differences).
    f.bool("clear_route_cache")?;
    // Native caches a provider's verified tokens only with `jwt_cache_config`; here one cache
    // serves every provider and is always on, and this sets the provider's share of it and the
    // longest token it caches (0 or unset: native's defaults).
    let (jwt_cache_size, max_cached_token_bytes) = match f.object("jwt_cache_config")? {
        None => (None, DEFAULT_MAX_CACHED_TOKEN_BYTES),
        Some(c) => {
            c.refuse_unknown(&["jwt_cache_size", "jwt_max_token_size"], &[])?;
            let or_default = |n: Option<u32>, default: usize| match n {
                None | Some(0) => default,
                Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
            };
            (
                Some(or_default(
                    c.uint32("jwt_cache_size")?,
                    DEFAULT_JWT_CACHE_SIZE,
                )),
                or_default(
                    c.uint32("jwt_max_token_size")?,
                    DEFAULT_MAX_CACHED_TOKEN_BYTES,
                ),
            )
        }
    };

    Ok(Provider {
        name: name.to_string(),
        issuer,
        tenants,
        audiences,
        subjects,
        allowed_token_types,
        jwks,
        locations,
        forward: f.bool("forward")?,
        forward_payload_header,
        pad_forward_payload_header: f.bool("pad_forward_payload_header")?,
        claim_to_headers,
        clock_skew_seconds,
        require_expiration: f.bool("require_expiration")?,
        max_lifetime_seconds,
        jwt_cache_size,
        max_cached_token_bytes,
    })
}

/// A header name this filter reads or writes: lowercased, a valid HTTP token, and not one of
/// the pseudo or hop-by-hop headers a filter must not touch.
fn header_name(f: &Fields, member: &str) -> Result<String, ConfigError> {
    let name = f.required_string(member)?.to_ascii_lowercase();
    let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if !name.bytes().all(is_tchar) {
        return Err(ConfigError::new(
            f.field(member),
            format!("`{name}` is not a valid HTTP header name"),
        ));
    }
    if [
        "host",
        "connection",
        "content-length",
        "transfer-encoding",
        "te",
        "upgrade",
    ]
    .contains(&name.as_str())
    {
        return Err(ConfigError::new(
            f.field(member),
            format!("`{name}` cannot be used here"),
        ));
    }
    Ok(name)
}

/// `issuer` with `{tenantid}` needs `allowed_tenants`, and `allowed_tenants` needs the
/// placeholder: a multi-tenant provider must say which tenants it trusts.
fn parse_tenants(f: &Fields, issuer: Option<&str>) -> Result<Option<Tenants>, ConfigError> {
    let placeholder = Tenants::PLACEHOLDER;
    let listed = f.get("allowed_tenants").is_some();
    let Some((prefix, suffix)) = issuer.and_then(|i| i.split_once(placeholder)) else {
        if listed {
            return Err(ConfigError::new(
                f.field("allowed_tenants"),
                format!("only applies to an `issuer` containing `{placeholder}`"),
            ));
        }
        return Ok(None);
    };
    if suffix.contains(placeholder) {
        return Err(ConfigError::new(
            f.field("issuer"),
            format!("`{placeholder}` may appear only once"),
        ));
    }
    if !listed {
        return Err(ConfigError::new(f.field("allowed_tenants"), format!("is required with `{placeholder}` in `issuer`: list the tenant ids to trust, or [\"*\"] for any tenant")));
    }
    let list = f.string_list("allowed_tenants")?;
    if list.is_empty() || list.iter().any(|t| t.is_empty() || t.contains('/')) {
        return Err(ConfigError::new(
            f.field("allowed_tenants"),
            "must list tenant ids (one path segment each), or be [\"*\"]",
        ));
    }
    let allowed = if list.iter().any(|t| t == "*") {
        if list.len() > 1 {
            return Err(ConfigError::new(
                f.field("allowed_tenants"),
                "`*` stands alone",
            ));
        }
        None
    } else {
        Some(list)
    };
    Ok(Some(Tenants {
        prefix: prefix.to_string(),
        suffix: suffix.to_string(),
        allowed,
    }))
}

/// RFC 7515 §4.1.9: `typ` is compared case-insensitively and `application/` may be omitted.
pub fn normalize_typ(typ: &str) -> String {
    let lower = typ.to_ascii_lowercase();
    lower
        .strip_prefix("application/")
        .map(str::to_string)
        .unwrap_or(lower)
}

/// Longest regular expression accepted in a matcher.
const MAX_REGEX_BYTES: usize = 1024;

fn parse_regex(f: &Fields) -> Result<regex_lite::Regex, ConfigError> {
    f.refuse_unknown(&["regex", "google_re2"], &[])?;
    let pattern = f.required_string("regex")?;
    if pattern.len() > MAX_REGEX_BYTES {
        return Err(ConfigError::new(
            f.field("regex"),
            format!("longer than {MAX_REGEX_BYTES} bytes"),
        ));
    }
    let invalid = |e: regex_lite::Error| {
        ConfigError::new(f.field("regex"), format!("invalid regular expression: {e}"))
    };
    regex_lite::Regex::new(pattern).map_err(invalid)?;
    // Envoy's safe_regex is a full match (RE2 FullMatch), so the pattern is anchored: an
    // unanchored leftmost-first search finds `/a` for `/(a|ab)` on `/ab` and never the full match.
    // Checked alone first, so `a)|(b` stays invalid.
    regex_lite::Regex::new(&format!("^(?:{pattern})$")).map_err(invalid)
}

/// Envoy's `StringMatcher`: one of `exact`, `prefix`, `suffix`, `contains`, `safe_regex`, and
/// `ignore_case`.
fn parse_string_matcher(f: &Fields) -> Result<StringMatcher, ConfigError> {
    f.refuse_unknown(
        &[
            "exact",
            "prefix",
            "suffix",
            "contains",
            "safe_regex",
            "ignore_case",
        ],
        &[],
    )?;
    let ignore_case = f.bool("ignore_case")?;
    let fold = |s: &str| {
        if ignore_case {
            s.to_ascii_lowercase()
        } else {
            s.to_string()
        }
    };
    let mut found = Vec::new();
    for kind in ["exact", "prefix", "suffix", "contains"] {
        if let Some(s) = f.string(kind)? {
            found.push(match kind {
                "exact" => StringMatcher::Exact(fold(s), ignore_case),
                "prefix" => StringMatcher::Prefix(fold(s), ignore_case),
                "suffix" => StringMatcher::Suffix(fold(s), ignore_case),
                _ => StringMatcher::Contains(fold(s), ignore_case),
            });
        }
    }
    if let Some(re) = f.object("safe_regex")? {
        found.push(StringMatcher::Regex(parse_regex(&re)?));
    }
    match found.len() {
        1 => found
            .pop()
            .ok_or_else(|| ConfigError::new(&f.path, "needs one matcher")),
        0 => Err(ConfigError::new(
            &f.path,
            "needs one of `exact`, `prefix`, `suffix`, `contains`, `safe_regex`",
        )),
        _ => Err(ConfigError::new(
            &f.path,
            "set only one of `exact`, `prefix`, `suffix`, `contains`, `safe_regex`",
        )),
    }
}

fn parse_local_jwks(f: &Fields) -> Result<JwksSource, ConfigError> {
    f.refuse_unknown(
        &["inline_string"],
        &[
            (
                "filename",
                "JWKS files (a wasm VM has no file system; use `inline_string`)",
            ),
            ("inline_bytes", "`inline_bytes` JWKS"),
            ("environment_variable", "JWKS from environment variables"),
        ],
    )?;
    let text = f
        .string("inline_string")?
        .ok_or_else(|| ConfigError::new(f.field("inline_string"), "is required"))?;
    if text.trim().is_empty() {
        return Ok(JwksSource::Empty);
    }
    match jwks::parse_jwks(text) {
        Ok(keys) => Ok(JwksSource::Local(Rc::new(keys))),
        Err(e) => Err(ConfigError::new(
            f.field("inline_string"),
            format!("invalid JWKS ({}): {}", e.status, e.message),
        )),
    }
}

fn parse_remote_jwks(f: &Fields) -> Result<RemoteJwks, ConfigError> {
    f.refuse_unknown(
        &[
            "http_uri",
            "cache_duration",
            "async_fetch",
            "min_cache_duration",
            "max_cache_duration",
            "max_stale",
            "unknown_kid_refetch_interval",
            "first_fetch_wait",
            "oidc_discovery",
            "jwks_cluster",
        ],
        &[("retry_policy", "retry policies (failed fetches are retried with back-off; see `async_fetch.failed_refetch_duration`)")],
    )?;
    let http_uri = f
        .object("http_uri")?
        .ok_or_else(|| ConfigError::new(f.field("http_uri"), "is required"))?;
    http_uri.refuse_unknown(&["uri", "cluster", "timeout"], &[])?;
    let uri = http_uri.required_string("uri")?;
    let cluster = http_uri.required_string("cluster")?.to_string();
    let (authority, path) = split_uri(uri).ok_or_else(|| {
        ConfigError::new(
            http_uri.field("uri"),
            format!("`{uri}` is not an absolute http(s) URI"),
        )
    })?;
    let timeout_ms = http_uri
        .duration_ms("timeout")?
        .unwrap_or(DEFAULT_FETCH_TIMEOUT_MS);
    if timeout_ms == 0 {
        return Err(ConfigError::new(
            http_uri.field("timeout"),
            "must be greater than zero",
        ));
    }
    let cache_duration_ms = match f.duration_ms("cache_duration")? {
        None | Some(0) => DEFAULT_CACHE_DURATION_MS,
        Some(ms) => ms,
    };
    let mut failed_refetch_ms = DEFAULT_FAILED_REFETCH_MS;
    if let Some(async_fetch) = f.object("async_fetch")? {
        // This filter always fetches in the background and never holds the listener, which is
        // what `async_fetch` asks of native Envoy; `fast_listener` is therefore already true.
        async_fetch.refuse_unknown(&["fast_listener", "failed_refetch_duration"], &[])?;
        async_fetch.bool("fast_listener")?;
        if let Some(ms) = async_fetch.duration_ms("failed_refetch_duration")? {
            failed_refetch_ms = ms.max(100);
        }
    }
    let min_cache_duration_ms = f
        .duration_ms("min_cache_duration")?
        .unwrap_or(DEFAULT_MIN_CACHE_DURATION_MS.min(cache_duration_ms));
    let max_cache_duration_ms = f
        .duration_ms("max_cache_duration")?
        .unwrap_or(DEFAULT_MAX_CACHE_DURATION_MS.max(cache_duration_ms));
    if max_cache_duration_ms < min_cache_duration_ms {
        return Err(ConfigError::new(
            f.field("max_cache_duration"),
            "must not be below `min_cache_duration`",
        ));
    }
    let jwks_cluster = f.string("jwks_cluster")?.map(str::to_string);
    let discovery = f.bool("oidc_discovery")?;
    if jwks_cluster.is_some() && !discovery {
        return Err(ConfigError::new(
            f.field("jwks_cluster"),
            "only applies with `oidc_discovery: true`",
        ));
    }
    Ok(RemoteJwks {
        uri: uri.to_string(),
        cluster,
        authority: authority.to_string(),
        path: path.to_string(),
        timeout_ms,
        cache_duration_ms,
        failed_refetch_ms,
        min_cache_duration_ms,
        max_cache_duration_ms,
        max_stale_ms: f.duration_ms("max_stale")?.unwrap_or(DEFAULT_MAX_STALE_MS),
        unknown_kid_refetch_interval_ms: f
            .duration_ms("unknown_kid_refetch_interval")?
            .unwrap_or(DEFAULT_UNKNOWN_KID_REFETCH_INTERVAL_MS),
        first_fetch_wait_ms: f
            .duration_ms("first_fetch_wait")?
            .unwrap_or(DEFAULT_FIRST_FETCH_WAIT_MS),
        discovery,
        jwks_cluster,
    })
}

/// `http://host:port/path?q` → (`host:port`, `/path?q`).
pub fn split_uri(uri: &str) -> Option<(&str, &str)> {
    let rest = uri
        .strip_prefix("http://")
        .or_else(|| uri.strip_prefix("https://"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains(['@', ' ', '?', '#']) {
        return None;
    }
    Some((authority, path))
}

fn parse_rule(
    index: usize,
    value: &Value,
    providers: &[Provider],
    requirement_map: &[(String, Requirement)],
) -> Result<Rule, ConfigError> {
    let f = Fields::new(value, &format!("rules[{index}]"))?;
    f.refuse_unknown(
        &["match", "requires", "requirement_name", "authorization"],
        &[],
    )?;
    let m = f
        .object("match")?
        .ok_or_else(|| ConfigError::new(f.field("match"), "is required"))?;
    let matcher = parse_route_match(&m)?;
    let requires = match (f.object("requires")?, f.string("requirement_name")?) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                &f.path,
                "set either `requires` or `requirement_name`, not both",
            ))
        }
        (Some(r), None) => parse_optional_requirement(&r, providers)?,
        (None, Some(name)) => Some(
            requirement_map
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, r)| r.clone())
                .ok_or_else(|| {
                    ConfigError::new(
                        f.field("requirement_name"),
                        format!("names unknown requirement `{name}` (not in `requirement_map`)"),
                    )
                })?,
        ),
        (None, None) => None,
    };
    let authorization = f
        .object("authorization")?
        .map(|a| parse_authorization(&a))
        .transpose()?;
    if authorization.is_some() && requires.is_none() {
        return Err(ConfigError::new(
            f.field("authorization"),
            "needs `requires` or `requirement_name`: there is no token to authorize",
        ));
    }
    Ok(Rule {
        matcher,
        requires,
        authorization,
    })
}

fn parse_route_match(m: &Fields) -> Result<RouteMatch, ConfigError> {
    m.refuse_unknown(
        &[
            "prefix",
            "path",
            "safe_regex",
            "case_sensitive",
            "headers",
            "query_parameters",
            "route_name",
        ],
        &[
            ("path_separated_prefix", "path-separated prefixes"),
            ("path_match_policy", "path match policies"),
            ("connect_matcher", "CONNECT matches"),
            ("runtime_fraction", "runtime fractions"),
            ("grpc", "gRPC matches"),
            ("tls_context", "TLS context matches"),
            ("dynamic_metadata", "metadata matches"),
            ("filter_state", "filter state matches"),
            ("cookies", "cookie matches"),
        ],
    )?;
    let path = match (
        m.string("prefix")?,
        m.string("path")?,
        m.object("safe_regex")?,
    ) {
        (Some(prefix), None, None) => PathMatch::Prefix(prefix.to_string()),
        (None, Some(path), None) => PathMatch::Exact(path.to_string()),
        (None, None, Some(re)) => PathMatch::Regex(StringMatcher::Regex(parse_regex(&re)?)),
        _ => {
            return Err(ConfigError::new(
                &m.path,
                "set exactly one of `prefix`, `path` or `safe_regex`",
            ))
        }
    };
    let case_sensitive = match m.get("case_sensitive") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ConfigError::new(
                m.field("case_sensitive"),
                "must be true or false",
            ))
        }
    };
    let mut headers = Vec::new();
    for (i, h) in m.array("headers")?.iter().enumerate() {
        headers.push(parse_header_match(&Fields::new(
            h,
            &format!("{}[{i}]", m.field("headers")),
        )?)?);
    }
    let mut query_parameters = Vec::new();
    for (i, q) in m.array("query_parameters")?.iter().enumerate() {
        let q = Fields::new(q, &format!("{}[{i}]", m.field("query_parameters")))?;
        q.refuse_unknown(&["name", "string_match", "present_match"], &[])?;
        let name = q.required_string("name")?.to_string();
        let value = match (q.object("string_match")?, q.get("present_match")) {
            (Some(sm), None) => ValueMatch::String(parse_string_matcher(&sm)?),
            (None, Some(Value::Bool(b))) => ValueMatch::Present(*b),
            (None, None) => ValueMatch::Present(true),
            _ => {
                return Err(ConfigError::new(
                    &q.path,
                    "set one of `string_match` or `present_match` (true or false)",
                ))
            }
        };
        query_parameters.push(QueryMatch { name, value });
    }
    let route_name = match m.get("route_name") {
        None => None,
        Some(Value::String(name)) => Some(StringMatcher::Exact(name.clone(), false)),
        Some(_) => Some(parse_string_matcher(&Fields::new(
            m.get("route_name").unwrap_or(&Value::Null),
            &m.field("route_name"),
        )?)?),
    };
    Ok(RouteMatch {
        path,
        case_sensitive,
        headers,
        query_parameters,
        route_name,
    })
}

/// Envoy's `HeaderMatcher` with the value matchers it still supports.
fn parse_header_match(h: &Fields) -> Result<HeaderMatch, ConfigError> {
    h.refuse_unknown(
        &[
            "name",
            "exact_match",
            "prefix_match",
            "suffix_match",
            "contains_match",
            "safe_regex_match",
            "present_match",
            "string_match",
            "invert_match",
        ],
        &[
            ("range_match", "range matches"),
            (
                "treat_missing_header_as_empty",
                "`treat_missing_header_as_empty`",
            ),
        ],
    )?;
    let name = h.required_string("name")?.to_ascii_lowercase();
    let mut found = Vec::new();
    for (member, make) in [
        (
            "exact_match",
            StringMatcher::Exact as fn(String, bool) -> StringMatcher,
        ),
        ("prefix_match", StringMatcher::Prefix),
        ("suffix_match", StringMatcher::Suffix),
        ("contains_match", StringMatcher::Contains),
    ] {
        if let Some(v) = h.string(member)? {
            found.push(ValueMatch::String(make(v.to_string(), false)));
        }
    }
    if let Some(re) = h.object("safe_regex_match")? {
        found.push(ValueMatch::String(StringMatcher::Regex(parse_regex(&re)?)));
    }
    if let Some(sm) = h.object("string_match")? {
        found.push(ValueMatch::String(parse_string_matcher(&sm)?));
    }
    match h.get("present_match") {
        None => {}
        Some(Value::Bool(b)) => found.push(ValueMatch::Present(*b)),
        Some(_) => {
            return Err(ConfigError::new(
                h.field("present_match"),
                "must be true or false",
            ))
        }
    }
    let value = match found.len() {
        // Envoy: a header matcher with no value matcher matches when the header is present.
        0 => ValueMatch::Present(true),
        1 => found
            .pop()
            .ok_or_else(|| ConfigError::new(&h.path, "needs one value matcher"))?,
        _ => return Err(ConfigError::new(&h.path, "set only one value matcher")),
    };
    Ok(HeaderMatch {
        name,
        value,
        invert: h.bool("invert_match")?,
    })
}

/// `requires` of a rule: `{}` (no requirement) is accepted like native, as no auth.
fn parse_optional_requirement(
    r: &Fields,
    providers: &[Provider],
) -> Result<Option<Requirement>, ConfigError> {
    if r.map.is_empty() {
        return Ok(None);
    }
    parse_requirement(r, providers, 0).map(Some)
}

fn parse_requirement(
    r: &Fields,
    providers: &[Provider],
    depth: usize,
) -> Result<Requirement, ConfigError> {
    if depth > MAX_REQUIREMENT_DEPTH {
        return Err(ConfigError::new(
            &r.path,
            format!("requirements nested deeper than {MAX_REQUIREMENT_DEPTH}"),
        ));
    }
    r.refuse_unknown(
        &[
            "provider_name",
            "provider_and_audiences",
            "requires_any",
            "requires_all",
            "allow_missing_or_failed",
            "allow_missing",
        ],
        &[],
    )?;
    if r.map.len() != 1 {
        return Err(ConfigError::new(&r.path, "set exactly one of `provider_name`, `provider_and_audiences`, `requires_any`, `requires_all`, `allow_missing`, `allow_missing_or_failed`"));
    }
    let provider = |f: &Fields, member: &str| -> Result<usize, ConfigError> {
        let name = f.required_string(member)?;
        providers
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| {
                ConfigError::new(f.field(member), format!("names unknown provider `{name}`"))
            })
    };
    let all_providers = || (0..providers.len()).collect::<Vec<_>>();
    if r.get("provider_name").is_some() {
        return Ok(Requirement::Provider {
            index: provider(r, "provider_name")?,
            audiences: None,
        });
    }
    if let Some(pa) = r.object("provider_and_audiences")? {
        pa.refuse_unknown(&["provider_name", "audiences"], &[])?;
        return Ok(Requirement::Provider {
            index: provider(&pa, "provider_name")?,
            audiences: Some(pa.string_list("audiences")?),
        });
    }
    if r.get("allow_missing").is_some() {
        return Ok(Requirement::AllowMissing(all_providers()));
    }
    if r.get("allow_missing_or_failed").is_some() {
        return Ok(Requirement::AllowMissingOrFailed(all_providers()));
    }
    let (member, any) = if r.get("requires_any").is_some() {
        ("requires_any", true)
    } else {
        ("requires_all", false)
    };
    let list = r.object(member)?.ok_or_else(|| {
        ConfigError::new(r.field(member), "must be an object with `requirements`")
    })?;
    list.refuse_unknown(&["requirements"], &[])?;
    let items = list.array("requirements")?;
    if items.is_empty() {
        return Err(ConfigError::new(
            list.field("requirements"),
            "must list at least one requirement",
        ));
    }
    let mut children = Vec::new();
    for (i, item) in items.iter().enumerate() {
        children.push(parse_requirement(
            &Fields::new(item, &format!("{}[{i}]", list.field("requirements")))?,
            providers,
            depth + 1,
        )?);
    }
    if !any {
        return Ok(Requirement::All(children));
    }
    // Native: `allow_missing*` inside `requires_any` looks for the tokens of its sibling
    // providers only.
    let siblings: Vec<usize> = children
        .iter()
        .filter_map(|c| {
            if let Requirement::Provider { index, .. } = c {
                Some(*index)
            } else {
                None
            }
        })
        .collect();
    if !siblings.is_empty() {
        for child in &mut children {
            if let Requirement::AllowMissing(p) | Requirement::AllowMissingOrFailed(p) = child {
                p.clone_from(&siblings);
            }
        }
    }
    Ok(Requirement::Any(children))
}

/// The `authorization` extension of a rule.
fn parse_authorization(a: &Fields) -> Result<Authorization, ConfigError> {
    a.refuse_unknown(&["scopes", "claims", "client_id_header"], &[])?;
    let scopes = a.string_list("scopes")?;
    if let Some((i, _)) = scopes
        .iter()
        .enumerate()
        .find(|(_, s)| s.is_empty() || s.contains(' '))
    {
        return Err(ConfigError::new(
            format!("{}[{i}]", a.field("scopes")),
            "a scope is one non-empty word",
        ));
    }
    let mut claims = Vec::new();
    for (i, item) in a.array("claims")?.iter().enumerate() {
        let c = Fields::new(item, &format!("{}[{i}]", a.field("claims")))?;
        c.refuse_unknown(
            &[
                "claim",
                "equals",
                "one_of",
                "contains_all",
                "contains_any",
                "absent",
            ],
            &[],
        )?;
        let claim = c.required_string("claim")?.to_string();
        let list = |member: &str| -> Result<Vec<Value>, ConfigError> {
            match c.get(member) {
                Some(Value::Array(items)) if !items.is_empty() => Ok(items.clone()),
                _ => Err(ConfigError::new(
                    c.field(member),
                    "must be a non-empty array",
                )),
            }
        };
        let mut tests = Vec::new();
        if let Some(v) = c.get("equals") {
            tests.push(ClaimTest::Equals(v.clone()));
        }
        if c.get("one_of").is_some() {
            tests.push(ClaimTest::OneOf(list("one_of")?));
        }
        if c.get("contains_all").is_some() {
            tests.push(ClaimTest::ContainsAll(list("contains_all")?));
        }
        if c.get("contains_any").is_some() {
            tests.push(ClaimTest::ContainsAny(list("contains_any")?));
        }
        match c.get("absent") {
            None => {}
            Some(Value::Bool(true)) => tests.push(ClaimTest::Absent),
            Some(_) => return Err(ConfigError::new(c.field("absent"), "must be true")),
        }
        let test = match tests.len() {
            1 => tests
                .pop()
                .ok_or_else(|| ConfigError::new(&c.path, "needs one matcher"))?,
            0 => return Err(ConfigError::new(
                &c.path,
                "needs one matcher: `equals`, `one_of`, `contains_all`, `contains_any` or `absent`",
            )),
            _ => {
                return Err(ConfigError::new(
                    &c.path,
                    "set only one matcher per entry (add another entry for more)",
                ))
            }
        };
        claims.push(ClaimRule { claim, test });
    }
    let client = match a.object("client_id_header")? {
        None => None,
        Some(b) => {
            b.refuse_unknown(&["header", "claims"], &[])?;
            let header = header_name(&b, "header")?;
            let mut names = b.string_list("claims")?;
            if names.is_empty() {
                names = vec!["client_id".into(), "azp".into(), "cid".into()];
            }
            Some(ClientBinding {
                header,
                claims: names,
            })
        }
    };
    if scopes.is_empty() && claims.is_empty() && client.is_none() {
        return Err(ConfigError::new(
            &a.path,
            "needs at least one of `scopes`, `claims`, `client_id_header`",
        ));
    }
    Ok(Authorization {
        scopes,
        claims,
        client,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const JWKS: &str = r#"{"keys":[{"kty":"oct","kid":"k1","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}]}"#;

    fn with_provider(extra: Value) -> String {
        let mut provider = json!({"issuer": "https://iss", "local_jwks": {"inline_string": JWKS}});
        if let (Some(p), Some(e)) = (provider.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                p.insert(k.clone(), v.clone());
            }
        }
        json!({"providers": {"p": provider}, "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]}).to_string()
    }

    fn error_field(text: &str) -> String {
        Config::parse(text).expect_err("must be refused").field
    }

    #[test]
    fn log_level_defaults_to_info_and_names_its_field_when_wrong() {
        let with_level = |level: Value| {
            let mut config: Value = serde_json::from_str(&with_provider(json!({}))).unwrap();
            config["log_level"] = level;
            config.to_string()
        };
        assert_eq!(
            Config::parse(&with_provider(json!({}))).unwrap().log_level,
            LogLevel::Info
        );
        for (name, level) in LogLevel::NAMES {
            assert_eq!(
                Config::parse(&with_level(json!(name))).unwrap().log_level,
                level
            );
        }
        assert_eq!(
            Config::parse(&with_level(json!("DEBUG")))
                .expect_err("refused")
                .field,
            "log_level"
        );
        assert_eq!(error_field(&with_level(json!("verbose"))), "log_level");
        assert_eq!(error_field(&with_level(json!(1))), "log_level");
        assert!(LogLevel::Debug < LogLevel::Info && LogLevel::Error < LogLevel::Critical);
    }

    #[test]
    fn native_jwt_cache_config_sizes_the_shared_cache() {
        let parse = |extra: Value| Config::parse(&with_provider(extra));
        let plain = parse(json!({})).unwrap();
        assert_eq!(plain.providers[0].jwt_cache_size, None);
        assert_eq!(plain.providers[0].max_cached_token_bytes, 4096);
        assert_eq!(plain.token_cache_size, crate::token_cache::DEFAULT_CAPACITY);
        // Native's defaults for 0 and unset; a uint32 may be a JSON string.
        let defaults = parse(json!({"jwt_cache_config": {"jwt_cache_size": 0}})).unwrap();
        assert_eq!(defaults.providers[0].jwt_cache_size, Some(100));
        assert_eq!(defaults.providers[0].max_cached_token_bytes, 4096);
        let sized = parse(
            json!({"jwt_cache_config": {"jwt_cache_size": "5000", "jwt_max_token_size": 8192}}),
        )
        .unwrap();
        assert_eq!(sized.providers[0].max_cached_token_bytes, 8192);
        assert_eq!(
            sized.token_cache_size, 5000,
            "room for the provider's share"
        );
        let mut explicit: Value = serde_json::from_str(&with_provider(
            json!({"jwt_cache_config": {"jwt_cache_size": 5000}}),
        ))
        .unwrap();
        explicit["token_cache_size"] = json!(10);
        assert_eq!(
            Config::parse(&explicit.to_string())
                .unwrap()
                .token_cache_size,
            10,
            "token_cache_size, when set, decides"
        );
        let huge = parse(json!({"jwt_cache_config": {"jwt_cache_size": 4294967295u64}})).unwrap();
        assert_eq!(huge.token_cache_size, MAX_TOKEN_CACHE_SIZE);
        for (extra, field) in [
            (
                json!({"jwt_cache_config": {"jwt_cache_size": -1}}),
                "providers.p.jwt_cache_config.jwt_cache_size",
            ),
            (
                json!({"jwt_cache_config": {"jwt_max_token_size": 4294967296u64}}),
                "providers.p.jwt_cache_config.jwt_max_token_size",
            ),
            (
                json!({"jwt_cache_config": {"ttl": 5}}),
                "providers.p.jwt_cache_config.ttl",
            ),
            (
                json!({"jwt_cache_config": 5}),
                "providers.p.jwt_cache_config",
            ),
        ] {
            assert_eq!(error_field(&with_provider(extra)), field);
        }
    }

    /// The refusal README.md shows as its example, word for word.
    #[test]
    fn unsupported_fields_are_named_with_what_they_would_do() {
        let mut config: serde_json::Value =
            serde_json::from_str(&with_provider(json!({}))).unwrap();
        config["filter_state_rules"] = json!({"name": "x", "requires": {}});
        let e = Config::parse(&config.to_string()).expect_err("must be refused");
        assert_eq!(
            e.to_string(),
            "field `filter_state_rules`: filter state rules are not supported by this filter; \
             remove the field"
        );
    }

    #[test]
    fn native_defaults() {
        let config = Config::parse(&with_provider(json!({}))).unwrap();
        let p = &config.providers[0];
        assert_eq!(p.clock_skew_seconds, 60);
        assert!(!p.forward);
        assert_eq!(
            p.locations,
            vec![
                Location::Header {
                    name: "authorization".into(),
                    value_prefix: "Bearer ".into()
                },
                Location::Param("access_token".into())
            ]
        );
        assert!(matches!(p.jwks, JwksSource::Local(_)));
    }

    #[test]
    fn full_provider() {
        let config = Config::parse(&with_provider(json!({
            "audiences": ["a", "b"],
            "from_headers": [{"name": "X-Token", "value_prefix": "Tok "}],
            "from_params": ["jwt"],
            "forward": true,
            "forward_payload_header": "X-Payload",
            "claim_to_headers": [{"header_name": "X-Sub", "claim_name": "sub"}],
            "clock_skew_seconds": 5,
            "require_expiration": true,
            "max_lifetime": {"seconds": 3600},
        })))
        .unwrap();
        let p = &config.providers[0];
        assert_eq!(p.audiences, vec!["a", "b"]);
        assert_eq!(
            p.locations,
            vec![
                Location::Header {
                    name: "x-token".into(),
                    value_prefix: "Tok ".into()
                },
                Location::Param("jwt".into())
            ]
        );
        assert_eq!(p.forward_payload_header.as_deref(), Some("x-payload"));
        assert_eq!(p.clock_skew_seconds, 5);
        assert_eq!(p.max_lifetime_seconds, Some(3600));
        assert_eq!(config.generated_headers, vec!["x-sub", "x-payload"]);
    }

    #[test]
    fn remote_jwks() {
        let text = json!({"providers": {"r": {"remote_jwks": {"http_uri": {"uri": "https://idp.example:8443/keys?x=1", "cluster": "idp", "timeout": "2s"}, "cache_duration": {"seconds": 60}}}}}).to_string();
        let config = Config::parse(&text).unwrap();
        let remote = config.providers[0].remote().unwrap();
        assert_eq!(remote.authority, "idp.example:8443");
        assert_eq!(remote.path, "/keys?x=1");
        assert_eq!(remote.timeout_ms, 2000);
        assert_eq!(remote.cache_duration_ms, 60_000);
    }

    #[test]
    fn camel_case_members_are_accepted() {
        let text = json!({"providers": {"p": {"localJwks": {"inlineString": JWKS}, "clockSkewSeconds": 7}}}).to_string();
        assert_eq!(
            Config::parse(&text).unwrap().providers[0].clock_skew_seconds,
            7
        );
    }

    #[test]
    fn rules_first_match_wins_and_unmatched_passes() {
        let text = json!({
            "providers": {"p": {"local_jwks": {"inline_string": JWKS}}},
            "rules": [
                {"match": {"prefix": "/public"}},
                {"match": {"path": "/exact"}, "requires": {"provider_name": "p"}},
                {"match": {"prefix": "/api"}, "requires": {"provider_name": "p"}},
            ]
        })
        .to_string();
        let config = Config::parse(&text).unwrap();
        let requires = |path: &str| {
            let headers = vec![(":path".to_string(), path.to_string())];
            let request = crate::matcher::Request::new(&headers);
            config
                .rules
                .iter()
                .find(|r| r.matcher.matches(&request))
                .and_then(|r| r.requires.clone())
        };
        assert!(requires("/public/x").is_none());
        assert!(requires("/exact?q=1").is_some());
        assert!(requires("/exact/more").is_none());
        assert!(requires("/api/v1").is_some());
        assert!(requires("/other").is_none());
    }

    #[test]
    fn refusals_name_the_field() {
        let cases = [
            (with_provider(json!({"bogus": 1})), "providers.p.bogus"),
            (with_provider(json!({"from_cookies": [""]})), "providers.p.from_cookies[0]"),
            (with_provider(json!({"payload_in_metadata": "x"})), "providers.p.payload_in_metadata"),
            (with_provider(json!({"issuer": "https://login.example/{tenantid}/v2.0"})), "providers.p.allowed_tenants"),
            (with_provider(json!({"allowed_tenants": ["t1"]})), "providers.p.allowed_tenants"),
            (with_provider(json!({"issuer": "https://x/{tenantid}/{tenantid}", "allowed_tenants": ["*"]})), "providers.p.issuer"),
            (with_provider(json!({"issuer": "https://x/{tenantid}", "allowed_tenants": ["*", "t1"]})), "providers.p.allowed_tenants"),
            (with_provider(json!({"max_lifetime": "10m"})), "providers.p.max_lifetime"),
            (with_provider(json!({"audiences": "a"})), "providers.p.audiences"),
            (with_provider(json!({"claim_to_headers": [{"header_name": "bad header", "claim_name": "sub"}]})), "providers.p.claim_to_headers[0].header_name"),
            (with_provider(json!({"local_jwks": {"inline_string": "{\"keys\": 5}"}})), "providers.p.local_jwks.inline_string"),
            (with_provider(json!({"local_jwks": {"filename": "/etc/jwks.json"}})), "providers.p.local_jwks.filename"),
            (json!({"providers": {}, "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "nope"}}]}).to_string(), "rules[0].requires.provider_name"),
            (json!({"providers": {}, "rules": [{"match": {"safe_regex": {"regex": "(unclosed"}}}]}).to_string(), "rules[0].match.safe_regex.regex"),
            (json!({"providers": {}, "rules": [{"match": {"prefix": "/"}, "requires": {"requires_any": {}}}]}).to_string(), "rules[0].requires.requires_any.requirements"),
            (json!({"providers": {}, "rules": [{"match": {"prefix": "/"}, "requirement_name": "nope"}]}).to_string(), "rules[0].requirement_name"),
            (json!({"providers": {}, "rules": [{"match": {"prefix": "/", "grpc": {}}}]}).to_string(), "rules[0].match.grpc"),
            (with_provider(json!({})).replace("\"requires\"", "\"authorization\": {}, \"requires\""), "rules[0].authorization"),
            (json!({"providers": {"r": {"remote_jwks": {"http_uri": {"uri": "idp/keys", "cluster": "c"}}}}}).to_string(), "providers.r.remote_jwks.http_uri.uri"),
            (json!({"providers": {"r": {"remote_jwks": {"http_uri": {"uri": "http://idp/keys", "cluster": "c"}, "cache_duration": "5"}}}}).to_string(), "providers.r.remote_jwks.cache_duration"),
            (json!({"providers": {"r": {"remote_jwks": {"http_uri": {"uri": "http://idp/keys"}}}}}).to_string(), "providers.r.remote_jwks.http_uri.cluster"),
            (json!({"bypass_cors_preflight": "yes"}).to_string(), "bypass_cors_preflight"),
            (json!({"unknown_top": true}).to_string(), "unknown_top"),
        ];
        for (text, field) in cases {
            assert_eq!(error_field(&text), field, "{text}");
        }
    }

    #[test]
    fn empty_local_jwks_is_accepted_like_native() {
        let config =
            Config::parse(&with_provider(json!({"local_jwks": {"inline_string": ""}}))).unwrap();
        assert!(matches!(config.providers[0].jwks, JwksSource::Empty));
    }

    #[test]
    fn one_header_is_read_when_the_configuration_reads_no_other() {
        let fetch = |provider: Value, rules: Value, extra: Value| {
            let mut root = json!({
                "providers": {"p": provider},
                "rules": rules,
            });
            if let (Some(r), Some(e)) = (root.as_object_mut(), extra.as_object()) {
                r.extend(e.clone());
            }
            Config::parse(&root.to_string()).unwrap().header_fetch
        };
        let header_only = json!({"issuer": "https://iss", "local_jwks": {"inline_string": JWKS},
            "from_headers": [{"name": "Authorization", "value_prefix": "Bearer "}]});
        let all = json!([{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]);
        assert_eq!(
            fetch(header_only.clone(), all.clone(), json!({})),
            HeaderFetch::One("authorization".into())
        );
        // Envoy keeps repeated values of other headers apart: the whole map, to see them all.
        let mut custom = header_only.clone();
        custom["from_headers"] = json!([{"name": "x-token"}]);
        assert_eq!(fetch(custom, all.clone(), json!({})), HeaderFetch::All);
        // Native's default locations include the `access_token` query parameter (`:path`).
        let mut default = header_only.clone();
        default.as_object_mut().unwrap().remove("from_headers");
        assert_eq!(fetch(default, all.clone(), json!({})), HeaderFetch::All);
        let mut two = header_only.clone();
        two["from_headers"] = json!([{"name": "authorization"}, {"name": "x-token"}]);
        assert_eq!(fetch(two, all.clone(), json!({})), HeaderFetch::All);
        let mut cookie = header_only.clone();
        cookie["from_cookies"] = json!(["session"]);
        assert_eq!(fetch(cookie, all.clone(), json!({})), HeaderFetch::All);
        for rules in [
            json!([{"match": {"prefix": "/api"}, "requires": {"provider_name": "p"}}]),
            json!([{"match": {"path": "/"}, "requires": {"provider_name": "p"}}]),
            json!([{"match": {"prefix": "/", "headers": [{"name": "x-a", "present_match": true}]}, "requires": {"provider_name": "p"}}]),
            json!([{"match": {"prefix": "/", "query_parameters": [{"name": "a", "present_match": true}]}, "requires": {"provider_name": "p"}}]),
            json!([]),
        ] {
            assert_eq!(
                fetch(header_only.clone(), rules.clone(), json!({})),
                HeaderFetch::All,
                "{rules}"
            );
        }
        assert_eq!(
            fetch(
                header_only.clone(),
                all.clone(),
                json!({"bypass_cors_preflight": true})
            ),
            HeaderFetch::All
        );
        // Later rules are never reached behind a catch-all.
        let shadowed = json!([{"match": {"prefix": "/"}}, {"match": {"prefix": "/x", "headers": [{"name": "x-a", "present_match": true}]}}]);
        assert_eq!(
            fetch(header_only, shadowed, json!({})),
            HeaderFetch::One("authorization".into())
        );
    }

    #[test]
    fn not_json_is_refused() {
        assert!(Config::parse("{providers").is_err());
        assert!(Config::parse("[]").is_err());
    }
}
