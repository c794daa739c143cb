//! The plugin configuration: JSON shaped like Envoy's native `jwt_authn` filter
//! (`envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication`, proto3 JSON), validated
//! into an immutable [`Config`].
//!
//! Every member is either understood or refused with a [`ConfigError`] naming its path: a
//! security filter that silently ignores `requires_all` or `from_cookies` would let traffic in
//! that its operator meant to keep out.
//!
//! The parsers run once per configuration, so they are shaped for the module's load time rather
//! than for speed: each section's parser stays out of line (`#[inline(never)]`). Inlined into one
//! another they made two functions of 17 and 21 KB, and TurboFan, which compiles every function of
//! the module when Envoy loads it, spends more per byte on big functions than on small ones
//! (`make bench-compile`). For the same reason the code per member is kept small: each reader
//! of `fields` is one out-of-line function, an object's path is a borrowed chain written out only
//! in a refusal, refusals are built from static parts by cold functions, and they travel up as one
//! boxed pointer (`fields::Refused`) that `Config::parse` unboxes.

mod fields;
mod provider;
mod replay;
mod reply;
mod rules;

pub mod duration;

use serde_json::Value;

use crate::authn::model::{Config, HeaderFetch, LogLevel, Provider, Requirement, Rule};
use crate::error::ConfigError;
use fields::{refusal, Fields, Refused};
use provider::parse_provider;
use rules::{parse_requirement, parse_rule};

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
/// Largest plugin configuration accepted.
pub const MAX_CONFIG_BYTES: usize = 4 * 1024 * 1024;

/// The plugin configuration as the host hands it over (bytes), checked as the filter checks it at
/// load: UTF-8, then [`Config::parse`]. The filter's `on_configure` and `jwt-authn validate` both
/// call this, so a pipeline that validates a configuration gets the filter's own verdict.
pub fn load(bytes: &[u8]) -> Result<Config, ConfigError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Config::parse(text),
        Err(_) => Err(*refusal("", &["not UTF-8"])),
    }
}

impl Config {
    /// Parses and validates the plugin configuration.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        parse(text).map_err(|refused| *refused)
    }
}

#[inline(never)]
fn parse(text: &str) -> Result<Config, Refused> {
        if text.len() > MAX_CONFIG_BYTES {
            return Err(refusal(
                "",
                &["configuration is larger than ", &fields::decimal(MAX_CONFIG_BYTES as u64), " bytes"],
            ));
        }
        // From bytes, as tokens are read: one instance of serde_json's parser in the module.
        let root: Value = match serde_json::from_slice(text.as_bytes()) {
            Ok(root) => root,
            Err(e) => return Err(invalid_json(&e)),
        };
        let root = Fields::at(&root, fields::Path::Root)?;
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

        let providers = parse_providers(&root)?;
        let requirement_map = parse_requirement_map(&root, &providers)?;
        let rules = parse_rules(&root, &providers, &requirement_map)?;
        let uses_route_name = rules.iter().any(|r| r.matcher.route_name.is_some());

        let generated_headers = generated_headers(&providers, &rules);
        let shapes_refusals = rules
            .iter()
            .any(|r| r.shadow.is_some() || r.reply.is_some());
        let token_cache_size = parse_token_cache_size(&root, &providers)?;
        let bypass_cors_preflight = root.bool("bypass_cors_preflight")?;
        let header_fetch = HeaderFetch::of(&rules, &providers, bypass_cors_preflight);
        let log_level = match root.string("log_level")? {
            None => LogLevel::Info,
            Some(name) => LogLevel::parse(name).ok_or_else(|| {
                root.err("log_level", "must be one of trace, debug, info, warn, error, critical")
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
            shapes_refusals,
        })
}

#[inline(never)]
fn parse_providers(root: &Fields) -> Result<Vec<Provider>, Refused> {
    let mut providers = Vec::new();
    if let Some(value) = root.get("providers") {
        let Some(map) = value.as_object() else {
            return Err(refusal("providers", &["must be an object of named providers"]));
        };
        let at = fields::Path::Key(&root.path, "providers");
        for (name, provider) in map {
            providers.push(parse_provider(&at, name, provider)?);
        }
    }
    Ok(providers)
}

#[inline(never)]
fn parse_requirement_map(
    root: &Fields,
    providers: &[Provider],
) -> Result<Vec<(String, Requirement)>, Refused> {
    let mut requirement_map = Vec::new();
    if let Some(map) = root.object("requirement_map")? {
        for (name, value) in map.map {
            let requirement =
                parse_requirement(&map.child(name, value)?, providers, 0)?;
            requirement_map.push((name.clone(), requirement));
        }
    }
    Ok(requirement_map)
}

#[inline(never)]
fn parse_rules(
    root: &Fields,
    providers: &[Provider],
    requirement_map: &[(String, Requirement)],
) -> Result<Vec<Rule>, Refused> {
    let items = match root.get("rules") {
        None => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(refusal("rules", &["must be an array"])),
    };
    let mut rules = Vec::with_capacity(items.len());
    for (i, rule) in items.iter().enumerate() {
        rules.push(parse_rule(i, rule, providers, requirement_map)?);
    }
    Ok(rules)
}

/// The headers the filter writes: claim and payload headers, and the shadow headers too (a
/// client must not be able to pose as a would-be refusal).
#[inline(never)]
fn generated_headers(providers: &[Provider], rules: &[Rule]) -> Vec<String> {
    let mut generated: Vec<String> = Vec::new();
    let mut add = |name: &String| {
        if !generated.contains(name) {
            generated.push(name.clone());
        }
    };
    for provider in providers {
        provider
            .claim_to_headers
            .iter()
            .map(|c| &c.header_name)
            .chain(provider.forward_payload_header.iter())
            .for_each(&mut add);
    }
    rules
        .iter()
        .filter_map(|r| r.shadow.as_ref()?.header.as_ref())
        .for_each(&mut add);
    generated
}

/// Unless set, room for every provider's native `jwt_cache_size` and at least the default.
#[inline(never)]
fn parse_token_cache_size(root: &Fields, providers: &[Provider]) -> Result<usize, Refused> {
    let native_shares = providers
        .iter()
        .filter_map(|p| p.jwt_cache_size)
        .fold(0, usize::saturating_add);
    match root.get("token_cache_size") {
        None => Ok(native_shares.clamp(
            crate::authn::token_cache::DEFAULT_CAPACITY,
            MAX_TOKEN_CACHE_SIZE,
        )),
        Some(v) => v
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n <= MAX_TOKEN_CACHE_SIZE)
            .ok_or_else(|| {
                root.err("token_cache_size", "must be an integer from 0 (off) to 1000000")
            }),
    }
}

#[cold]
#[inline(never)]
fn invalid_json(e: &serde_json::Error) -> Refused {
    refusal("", &["configuration is not valid JSON: ", &e.to_string()])
}

#[cfg(test)]
mod tests;
