//! `providers.<name>`: one provider's issuer, audiences, token locations, claim forwarding,
//! cache settings and key source (local JWKS or remote JWKS with its lifecycle).

use std::rc::Rc;

use serde_json::Value;

use crate::authn::claims::normalize_typ;
use crate::authn::model::{ClaimToHeader, JwksSource, Provider, Tenants};
use crate::config::fields::{owned, index, refusal, Fields, Path};
use crate::config::replay::parse_replay_protection;
use crate::config::rules::parse_optional_string_matcher;
use crate::config::*;
use crate::keys::jwks;
use crate::keys::remote::{split_uri, RemoteJwks};
use crate::request::extract::Location;
use crate::config::fields::Refused;

#[inline(never)]
pub(super) fn parse_provider(
    at: &Path,
    name: &str,
    value: &Value,
) -> Result<Provider, Refused> {
    let f = Fields::at(value, Path::Key(at, name))?;
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
            "replay_protection",
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
        return Err(refusal("providers", &["a provider name must not be empty"]));
    }

    let issuer = f.owned_string("issuer")?.filter(|s| !s.is_empty());
    let tenants = parse_tenants(&f, issuer.as_deref())?;
    let audiences = f.string_list("audiences")?;
    let subjects = parse_optional_string_matcher(&f, "subjects")?;
    let allowed_token_types = parse_token_types(&f)?;
    let jwks = parse_key_source(&f, issuer.is_some())?;
    let locations = parse_locations(&f)?;
    let forward_payload_header = match f.get("forward_payload_header") {
        None => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(_) => Some(header_name(&f, "forward_payload_header")?),
    };
    let claim_to_headers = parse_claim_to_headers(&f)?;
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
    let (jwt_cache_size, max_cached_token_bytes) = parse_cache_config(&f)?;
    let forward = f.bool("forward")?;
    let pad_forward_payload_header = f.bool("pad_forward_payload_header")?;
    let require_expiration = f.bool("require_expiration")?;
    let replay_protection = parse_replay_protection(&f)?;
    Ok(Provider {
        name: owned(name),
        issuer,
        tenants,
        audiences,
        subjects,
        allowed_token_types,
        jwks,
        locations,
        forward,
        forward_payload_header,
        pad_forward_payload_header,
        claim_to_headers,
        clock_skew_seconds,
        require_expiration,
        max_lifetime_seconds,
        jwt_cache_size,
        max_cached_token_bytes,
        replay_protection,
    })
}

#[inline(never)]
fn parse_token_types(f: &Fields) -> Result<Vec<String>, Refused> {
    Ok(f
        .string_list("allowed_token_types")?
        .iter()
        .map(|t| normalize_typ(t))
        .collect())
}

/// `local_jwks` or `remote_jwks`, exactly one; OIDC discovery needs the provider's `issuer`.
#[inline(never)]
fn parse_key_source(f: &Fields, has_issuer: bool) -> Result<JwksSource, Refused> {
    let jwks = match (f.object("local_jwks")?, f.object("remote_jwks")?) {
        (Some(_), Some(_)) => {
            return Err(f.err_here("set either `local_jwks` or `remote_jwks`, not both"))
        }
        (None, None) => return Err(f.err_here("one of `local_jwks` or `remote_jwks` is required")),
        (Some(local), None) => parse_local_jwks(&local)?,
        (None, Some(remote)) => JwksSource::Remote(parse_remote_jwks(&remote)?),
    };
    if matches!(&jwks, JwksSource::Remote(r) if r.discovery) && !has_issuer {
        return Err(f.err("issuer", "is required with `remote_jwks.oidc_discovery`: the discovery document's issuer is checked against it"));
    }
    Ok(jwks)
}

/// `from_headers`, `from_params`, `from_cookies`, or native's default locations.
#[inline(never)]
fn parse_locations(f: &Fields) -> Result<Vec<Location>, Refused> {
    let mut locations = Vec::new();
    for (i, header) in f.array("from_headers")?.iter().enumerate() {
        let h = f.item("from_headers", i, header)?;
        h.refuse_unknown(&["name", "value_prefix"], &[])?;
        let name = header_name(&h, "name")?;
        let value_prefix = h.owned_string("value_prefix")?.unwrap_or_default();
        locations.push(Location::Header { name, value_prefix });
    }
    for param in non_empty_list(f, "from_params")? {
        locations.push(Location::Param(param));
    }
    for cookie in non_empty_list(f, "from_cookies")? {
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
    Ok(locations)
}

#[inline(never)]
fn parse_claim_to_headers(f: &Fields) -> Result<Vec<ClaimToHeader>, Refused> {
    let mut claim_to_headers = Vec::new();
    for (i, item) in f.array("claim_to_headers")?.iter().enumerate() {
        let c = f.item("claim_to_headers", i, item)?;
        c.refuse_unknown(&["header_name", "claim_name"], &[])?;
        let header_name = header_name(&c, "header_name")?;
        let claim_name = owned(c.required_string("claim_name")?);
        claim_to_headers.push(ClaimToHeader {
            header_name,
            claim_name,
        });
    }
    Ok(claim_to_headers)
}

/// Native caches a provider's verified tokens only with `jwt_cache_config`; here one cache
/// serves every provider and is always on, and this sets the provider's share of it and the
/// longest token it caches (0 or unset: native's defaults).
#[inline(never)]
fn parse_cache_config(f: &Fields) -> Result<(Option<usize>, usize), Refused> {
    let Some(c) = f.object("jwt_cache_config")? else {
        return Ok((None, DEFAULT_MAX_CACHED_TOKEN_BYTES));
    };
    c.refuse_unknown(&["jwt_cache_size", "jwt_max_token_size"], &[])?;
    let size = c.uint32("jwt_cache_size")?;
    let max_token = c.uint32("jwt_max_token_size")?;
    Ok((
        Some(or_default(size, DEFAULT_JWT_CACHE_SIZE)),
        or_default(max_token, DEFAULT_MAX_CACHED_TOKEN_BYTES),
    ))
}

fn or_default(n: Option<u32>, default: usize) -> usize {
    match n {
        None | Some(0) => default,
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
    }
}

/// A string list whose entries must not be empty (`from_params`, `from_cookies`).
#[inline(never)]
fn non_empty_list(f: &Fields, name: &str) -> Result<Vec<String>, Refused> {
    let list = f.string_list(name)?;
    match list.iter().position(String::is_empty) {
        Some(i) => Err(refusal(&index(&f.field(name), i), &["must not be empty"])),
        None => Ok(list),
    }
}

/// A header name this filter reads or writes: lowercased, a valid HTTP token, and not one of
/// the pseudo or hop-by-hop headers a filter must not touch.
#[inline(never)]
pub(super) fn header_name(f: &Fields, member: &str) -> Result<String, Refused> {
    let name = f.required_string(member)?.to_ascii_lowercase();
    let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if !name.bytes().all(is_tchar) {
        return Err(f.err_parts(member, &["`", &name, "` is not a valid HTTP header name"]));
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
        return Err(f.err_parts(member, &["`", &name, "` cannot be used here"]));
    }
    Ok(name)
}

/// `issuer` with `{tenantid}` needs `allowed_tenants`, and `allowed_tenants` needs the
/// placeholder: a multi-tenant provider must say which tenants it trusts.
#[inline(never)]
fn parse_tenants(f: &Fields, issuer: Option<&str>) -> Result<Option<Tenants>, Refused> {
    let placeholder = Tenants::PLACEHOLDER;
    let listed = f.get("allowed_tenants").is_some();
    let Some((prefix, suffix)) = issuer.and_then(|i| i.split_once(placeholder)) else {
        if listed {
            return Err(f.err_parts(
                "allowed_tenants",
                &["only applies to an `issuer` containing `", placeholder, "`"],
            ));
        }
        return Ok(None);
    };
    if suffix.contains(placeholder) {
        return Err(f.err_parts("issuer", &["`", placeholder, "` may appear only once"]));
    }
    if !listed {
        return Err(f.err_parts("allowed_tenants", &["is required with `", placeholder, "` in `issuer`: list the tenant ids to trust, or [\"*\"] for any tenant"]));
    }
    let list = f.string_list("allowed_tenants")?;
    if list.is_empty() || list.iter().any(|t| t.is_empty() || t.contains('/')) {
        return Err(f.err(
            "allowed_tenants",
            "must list tenant ids (one path segment each), or be [\"*\"]",
        ));
    }
    let allowed = if list.iter().any(|t| t == "*") {
        if list.len() > 1 {
            return Err(f.err("allowed_tenants", "`*` stands alone"));
        }
        None
    } else {
        Some(list)
    };
    Ok(Some(Tenants {
        prefix: owned(prefix),
        suffix: owned(suffix),
        allowed,
    }))
}

#[inline(never)]
fn parse_local_jwks(f: &Fields) -> Result<JwksSource, Refused> {
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
    let Some(text) = f.string("inline_string")? else {
        return Err(f.err("inline_string", "is required"));
    };
    if text.trim().is_empty() {
        return Ok(JwksSource::Empty);
    }
    match jwks::parse_jwks(text) {
        Ok(keys) => Ok(JwksSource::Local(Rc::new(keys))),
        Err(e) => Err(f.err_parts(
            "inline_string",
            &["invalid JWKS (", e.status, "): ", &e.message],
        )),
    }
}

#[inline(never)]
fn parse_remote_jwks(f: &Fields) -> Result<RemoteJwks, Refused> {
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
    let http_uri = f.required_object("http_uri")?;
    http_uri.refuse_unknown(&["uri", "cluster", "timeout"], &[])?;
    let uri = http_uri.required_string("uri")?;
    let cluster = owned(http_uri.required_string("cluster")?);
    let Some((authority, path)) = split_uri(uri) else {
        return Err(http_uri.err_parts("uri", &["`", uri, "` is not an absolute http(s) URI"]));
    };
    let timeout_ms = http_uri.duration_or("timeout", DEFAULT_FETCH_TIMEOUT_MS)?;
    if timeout_ms == 0 {
        return Err(http_uri.err("timeout", "must be greater than zero"));
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
    let min_cache_duration_ms = f.duration_or(
        "min_cache_duration",
        DEFAULT_MIN_CACHE_DURATION_MS.min(cache_duration_ms),
    )?;
    let max_cache_duration_ms = f.duration_or(
        "max_cache_duration",
        DEFAULT_MAX_CACHE_DURATION_MS.max(cache_duration_ms),
    )?;
    if max_cache_duration_ms < min_cache_duration_ms {
        return Err(f.err("max_cache_duration", "must not be below `min_cache_duration`"));
    }
    let jwks_cluster = f.owned_string("jwks_cluster")?;
    let discovery = f.bool("oidc_discovery")?;
    if jwks_cluster.is_some() && !discovery {
        return Err(f.err("jwks_cluster", "only applies with `oidc_discovery: true`"));
    }
    Ok(RemoteJwks {
        uri: owned(uri),
        cluster,
        authority: owned(authority),
        path: owned(path),
        timeout_ms,
        cache_duration_ms,
        failed_refetch_ms,
        min_cache_duration_ms,
        max_cache_duration_ms,
        max_stale_ms: f.duration_or("max_stale", DEFAULT_MAX_STALE_MS)?,
        unknown_kid_refetch_interval_ms: f.duration_or(
            "unknown_kid_refetch_interval",
            DEFAULT_UNKNOWN_KID_REFETCH_INTERVAL_MS,
        )?,
        first_fetch_wait_ms: f.duration_or("first_fetch_wait", DEFAULT_FIRST_FETCH_WAIT_MS)?,
        discovery,
        jwks_cluster,
    })
}

