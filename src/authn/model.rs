//! The validated configuration the decision reads: providers, rules and requirement trees, built
//! by `config/` from the plugin's JSON and shared, immutable, by every request.

use std::rc::Rc;

use crate::authn::policy::Authorization;
use crate::authn::replay::ReplayProtection;
use crate::authn::response::ReplyShape;
use crate::authn::shadow::Shadow;
use crate::keys::jwks::KeySet;
use crate::keys::remote::RemoteJwks;
use crate::request::extract::Location;
use crate::request::matcher::{PathMatch, Request, RouteMatch, StringMatcher};

/// Tokens looked at per request; more is refused rather than verified one by one.
pub const MAX_TOKENS_PER_REQUEST: usize = 4;

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
    /// Some rule has `shadow` or `reply`: only then does a refusal look its rule up again.
    pub shapes_refusals: bool,
}

impl Config {
    /// The rule that decides `request`: the first that matches.
    pub fn rule(&self, request: &Request) -> Option<&Rule> {
        self.rules.iter().find(|rule| rule.matcher.matches(request))
    }
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
    pub(crate) const NAMES: [(&'static str, LogLevel); 6] = [
        ("trace", LogLevel::Trace),
        ("debug", LogLevel::Debug),
        ("info", LogLevel::Info),
        ("warn", LogLevel::Warn),
        ("error", LogLevel::Error),
        ("critical", LogLevel::Critical),
    ];

    pub(crate) fn parse(name: &str) -> Option<LogLevel> {
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
    /// Extension: each token's `jti` accepted once within its lifetime (see `authn::replay`).
    pub replay_protection: Option<ReplayProtection>,
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
    /// Extension: refusals are counted, and the request continues.
    pub shadow: Option<Shadow>,
    /// Extension: the statuses and body of this rule's refusals.
    pub reply: Option<ReplyShape>,
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

/// The request headers a decision can read, so the adapter makes text of those alone: one
/// header asked of the host instead of the whole map, or the map with only the named pairs
/// kept. Only refusals need more (the realm of `WWW-Authenticate` is built from `:authority`,
/// the path, `x-envoy-original-path` and the scheme); the adapter reads the whole map for those.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderFetch {
    /// Only these headers (lowercase names, each once), all their values: `:path`, and the
    /// names the rules' `headers` matchers and client bindings, the providers' token locations
    /// (`cookie` for cookies) and the CORS preflight check read. A request usually carries
    /// many more, each of which would cost a `String` the decision never looks at. In debug
    /// builds [`authenticate`](crate::authn::authenticate) decides every request a second time
    /// on these headers alone and asserts the same outcome, so every native test checks the
    /// list.
    Named(Vec<String>),
    /// Only this header (lowercase name): the first rule matches every request (`prefix: "/"`
    /// and nothing else, so `:path` is not needed) and every provider reads its token from this
    /// one header. Only `authorization`, whose repeated values Envoy joins into one (with `,`)
    /// before any filter runs: the host's single-header read gives the first value only, which
    /// for another header could miss a token a later value holds.
    One(String),
}

impl HeaderFetch {
    pub(crate) fn of(rules: &[Rule], providers: &[Provider], bypass_cors_preflight: bool) -> HeaderFetch {
        match Self::only_authorization(rules, providers, bypass_cors_preflight) {
            Some(name) => HeaderFetch::One(name.to_string()),
            None => HeaderFetch::Named(Self::read_by(rules, providers, bypass_cors_preflight)),
        }
    }

    /// Whether a request header of this name (as the host's bytes) is among those kept.
    pub fn keeps(&self, name: &[u8]) -> bool {
        match self {
            HeaderFetch::Named(names) => names
                .iter()
                .any(|n| n.as_bytes().eq_ignore_ascii_case(name)),
            HeaderFetch::One(only) => only.as_bytes().eq_ignore_ascii_case(name),
        }
    }

    fn only_authorization<'p>(
        rules: &[Rule],
        providers: &'p [Provider],
        bypass_cors_preflight: bool,
    ) -> Option<&'p str> {
        let first = rules.first()?;
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
            return None;
        }
        let mut only: Option<&str> = None;
        for location in providers.iter().flat_map(|p| &p.locations) {
            match location {
                Location::Header { name, .. } if only.is_none_or(|o| o == name) => {
                    only = Some(name)
                }
                _ => return None,
            }
        }
        only.filter(|name| *name == "authorization")
    }

    /// Every request header any rule, provider or check may read (see [`HeaderFetch::Named`]).
    fn read_by(rules: &[Rule], providers: &[Provider], bypass_cors_preflight: bool) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let mut add = |name: &str| {
            let name = name.to_ascii_lowercase();
            if !names.contains(&name) {
                names.push(name);
            }
        };
        // Every rule's path match, query parameter matches and `from_params` read `:path`.
        add(":path");
        for rule in rules {
            for header in &rule.matcher.headers {
                add(&header.name);
            }
            if let Some(binding) = rule.authorization.as_ref().and_then(|a| a.client.as_ref()) {
                add(&binding.header);
            }
        }
        for location in providers.iter().flat_map(|p| &p.locations) {
            match location {
                Location::Header { name, .. } => add(name),
                Location::Cookie(_) => add("cookie"),
                Location::Param(_) => {}
            }
        }
        if bypass_cors_preflight {
            for name in [":method", "origin", "access-control-request-method"] {
                add(name);
            }
        }
        names
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
