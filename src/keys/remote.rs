//! The shared record of a remote JWKS and the decisions around it: when to fetch, who fetches,
//! how long keys stay fresh and then usable, how failures back off, and when an unknown `kid`
//! may trigger a refetch. Pure: the adapter stores the bytes in proxy-wasm shared data (one copy
//! for all worker VMs) and passes the clock in.
//!
//! Two shared-data entries per provider: a small `meta` line read on every tick, and the JWKS
//! `body`, read only when `meta.generation` changes. `meta` doubles as the fetch lease: a
//! worker takes it with a compare-and-swap, so all workers together make one fetch per refresh
//! and one refetch per unknown-`kid` window.
//!
//! It also decides how long a request that needs a fetch may wait for one
//! ([`Meta::wait_for_fetch`]): only for a fetch under way or starting on the next tick, never
//! for a retry that back-off holds back, and never past the moment that fetch ends.

use std::fmt::Write as _;


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

/// Largest JWKS (or discovery document) body accepted from an identity provider.
pub const MAX_JWKS_BODY_BYTES: usize = 1024 * 1024;
/// Longest pause between retries after failed fetches.
pub const MAX_RETRY_BACKOFF_MS: u64 = 30_000;
/// How long a fetch lease outlives its callouts' timeouts, so a worker that vanished mid-fetch
/// only delays the next attempt.
const LEASE_SLACK_MS: u64 = 1_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Meta {
    /// Bumped each time a new body is stored; 0 = no keys yet.
    pub generation: u64,
    /// When the current body was fetched (unix ms); 0 = never.
    pub fetched_at_ms: u64,
    /// Until then the keys are fresh (from `Cache-Control`/`Expires` or `cache_duration`).
    pub fresh_until_ms: u64,
    /// Consecutive failed fetches since the last success.
    pub failures: u32,
    pub failed_at_ms: u64,
    /// No retry before then (back-off with jitter, chosen by the worker that saw the failure).
    pub retry_at_ms: u64,
    /// A fetch is under way until then (unix ms); 0 = none.
    pub lease_until_ms: u64,
    /// A token named a `kid` the keys lack: fetch now (once per `unknown_kid_refetch_interval`).
    pub refetch_wanted: bool,
    /// When the last unknown-`kid` refetch was asked for.
    pub refetch_asked_at_ms: u64,
}

impl Meta {
    pub fn encode(&self) -> Vec<u8> {
        let mut s = String::with_capacity(96);
        let _ = write!(
            s,
            "v2 {} {} {} {} {} {} {} {} {}",
            self.generation,
            self.fetched_at_ms,
            self.fresh_until_ms,
            self.failures,
            self.failed_at_ms,
            self.retry_at_ms,
            self.lease_until_ms,
            u8::from(self.refetch_wanted),
            self.refetch_asked_at_ms
        );
        s.into_bytes()
    }

    /// `None` for bytes this version did not write; the caller then treats the entry as empty.
    pub fn decode(bytes: &[u8]) -> Option<Meta> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut it = text.split(' ');
        if it.next()? != "v2" {
            return None;
        }
        let mut num = || it.next().and_then(|s| s.parse::<u64>().ok());
        let meta = Meta {
            generation: num()?,
            fetched_at_ms: num()?,
            fresh_until_ms: num()?,
            failures: u32::try_from(num()?).ok()?,
            failed_at_ms: num()?,
            retry_at_ms: num()?,
            lease_until_ms: num()?,
            refetch_wanted: num()? == 1,
            refetch_asked_at_ms: num()?,
        };
        if it.next().is_some() {
            return None;
        }
        Some(meta)
    }

    pub fn has_keys(&self) -> bool {
        self.generation > 0
    }

    pub fn fetch_in_flight(&self, now_ms: u64) -> bool {
        self.lease_until_ms > now_ms
    }

    /// Keys may be used until their freshness plus `max_stale`; after that the filter fails
    /// closed rather than trust keys the identity provider may have revoked long ago.
    pub fn keys_usable(&self, remote: &RemoteJwks, now_ms: u64) -> bool {
        self.has_keys() && now_ms < self.fresh_until_ms.saturating_add(remote.max_stale_ms)
    }

    /// Whether a fetch should start now: never while another is under way, otherwise when
    /// [`next_fetch_ms`](Self::next_fetch_ms) has come.
    pub fn fetch_due(&self, now_ms: u64) -> bool {
        !self.fetch_in_flight(now_ms) && self.next_fetch_ms() <= now_ms
    }

    /// When the next fetch may start, a lease under way aside: at once when there are no keys or
    /// a refetch was asked for, otherwise when the keys reach 80% of their freshness (so they
    /// are refreshed before they run out and requests never wait for a refresh); never before
    /// the retry time of a failure.
    pub fn next_fetch_ms(&self) -> u64 {
        let wanted = if !self.has_keys() || self.refetch_wanted {
            0
        } else {
            let lifetime = self.fresh_until_ms.saturating_sub(self.fetched_at_ms);
            self.fetched_at_ms
                .saturating_add(lifetime.saturating_mul(4) / 5)
        };
        if self.failures > 0 {
            wanted.max(self.retry_at_ms)
        } else {
            wanted
        }
    }

    /// Until when a request that needs a fetch (it found no usable keys, or its token names a
    /// `kid` the keys lack) may wait for one, at most until `deadline_ms`, its own limit;
    /// `None` when no fetch can answer it in time, and it is answered at once.
    ///
    /// A fetch can answer it when one is under way, or is due now: some worker starts it on
    /// its next tick (`tick_ms`). A fetch that back-off holds back is never waited for: back-off
    /// decides when the filter fetches, not how long a request waits, so while the identity
    /// provider fails no request is held for a retry. The wait ends when the fetch must be
    /// over (its callouts' timeouts), plus a tick for every worker to see its outcome. When a
    /// refetch was asked for while a fetch is under way (which may have started before the
    /// identity provider rotated its keys), the wait covers that fetch and then the refetch,
    /// which starts on the tick after it.
    ///
    /// `waited` is the record when the request began waiting, for a request woken because it
    /// changed: a failure since then ends the wait at once (the next try is backed off).
    pub fn wait_for_fetch(
        &self,
        remote: &RemoteJwks,
        now_ms: u64,
        tick_ms: u64,
        deadline_ms: u64,
        waited: Option<&Meta>,
    ) -> Option<u64> {
        if waited.is_some_and(|w| w.failed_at_ms != self.failed_at_ms) {
            return None;
        }
        let span = fetch_span_ms(remote);
        let ends_by = if self.fetch_in_flight(now_ms) {
            let current = self.lease_until_ms.saturating_sub(LEASE_SLACK_MS);
            if self.refetch_wanted {
                current.saturating_add(tick_ms).saturating_add(span)
            } else {
                current
            }
        } else if self.next_fetch_ms() <= now_ms {
            now_ms.saturating_add(tick_ms).saturating_add(span)
        } else {
            return None;
        };
        let until = deadline_ms.min(ends_by.saturating_add(tick_ms));
        (until > now_ms).then_some(until)
    }

    /// The meta that takes the fetch lease.
    pub fn leased(&self, remote: &RemoteJwks, now_ms: u64) -> Meta {
        Meta {
            lease_until_ms: now_ms
                .saturating_add(fetch_span_ms(remote))
                .saturating_add(LEASE_SLACK_MS),
            refetch_wanted: false,
            ..*self
        }
    }

    /// New keys stored, fresh for `lifetime_ms`.
    pub fn succeeded(&self, now_ms: u64, lifetime_ms: u64) -> Meta {
        Meta {
            generation: self.generation.saturating_add(1),
            fetched_at_ms: now_ms,
            fresh_until_ms: now_ms.saturating_add(lifetime_ms),
            failures: 0,
            failed_at_ms: 0,
            retry_at_ms: 0,
            lease_until_ms: 0,
            // An unknown-kid refetch asked for while this fetch was under way is still owed:
            // this fetch may have started before the identity provider rotated its keys.
            refetch_wanted: self.refetch_wanted,
            refetch_asked_at_ms: self.refetch_asked_at_ms,
        }
    }

    /// A failed fetch keeps the last good keys and schedules a retry: `failed_refetch_duration`
    /// doubled per consecutive failure, capped at 30 s, minus up to a quarter of jitter drawn
    /// from `entropy`, so workers and replicas do not retry in lockstep.
    pub fn failed(&self, remote: &RemoteJwks, now_ms: u64, entropy: u64) -> Meta {
        let failures = self.failures.saturating_add(1);
        let backoff = retry_backoff_ms(remote, failures);
        let jitter = entropy % (backoff / 4).max(1);
        Meta {
            failures,
            failed_at_ms: now_ms,
            retry_at_ms: now_ms.saturating_add(backoff - jitter),
            lease_until_ms: 0,
            ..*self
        }
    }

    /// Whether a token's unknown `kid` may trigger a refetch now: at most once per
    /// `unknown_kid_refetch_interval` across all workers.
    pub fn may_refetch_for_unknown_kid(&self, remote: &RemoteJwks, now_ms: u64) -> bool {
        self.refetch_wanted
            || self.refetch_asked_at_ms == 0
            || now_ms
                >= self
                    .refetch_asked_at_ms
                    .saturating_add(remote.unknown_kid_refetch_interval_ms)
    }

    pub fn with_refetch_asked(&self, now_ms: u64) -> Meta {
        Meta {
            refetch_wanted: true,
            refetch_asked_at_ms: now_ms,
            ..*self
        }
    }

    /// Whether something a waiting request cares about happened since `before`: new keys, or a
    /// fetch that ended in failure.
    pub fn settled_since(&self, before: &Meta) -> bool {
        self.generation != before.generation || self.failed_at_ms != before.failed_at_ms
    }
}

/// The longest one fetch takes: its callouts' timeouts (with discovery two callouts, the
/// document then its `jwks_uri`).
pub fn fetch_span_ms(remote: &RemoteJwks) -> u64 {
    let callouts = if remote.discovery { 2 } else { 1 };
    remote.timeout_ms.saturating_mul(callouts)
}

/// `failed_refetch_duration`, doubled per consecutive failure, capped at 30 s.
pub fn retry_backoff_ms(remote: &RemoteJwks, failures: u32) -> u64 {
    let doublings = failures.saturating_sub(1).min(16);
    remote
        .failed_refetch_ms
        .saturating_mul(1u64 << doublings)
        .min(MAX_RETRY_BACKOFF_MS)
}

/// How long fetched keys stay fresh: the response's `Cache-Control: max-age` (or `s-maxage`),
/// else `Expires` against `Date` (or now), clamped to the configured bounds; `cache_duration`
/// when the response says nothing usable. `no-cache`/`no-store` mean the lower bound.
pub fn lifetime_ms(remote: &RemoteJwks, headers: &[(String, String)], now_ms: u64) -> u64 {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let from_cache_control = header("cache-control").and_then(|cc| {
        let mut max_age = None;
        for directive in cc.split(',').map(str::trim) {
            let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
            match name.to_ascii_lowercase().as_str() {
                "no-cache" | "no-store" => return Some(0),
                "max-age" | "s-maxage" => {
                    max_age = value
                        .trim_matches('"')
                        .parse::<u64>()
                        .ok()
                        .map(|s| s.saturating_mul(1000))
                }
                _ => {}
            }
        }
        max_age
    });
    let from_expires = || {
        let expires = http_date_ms(header("expires")?)?;
        let date = header("date").and_then(http_date_ms).unwrap_or(now_ms);
        Some(expires.saturating_sub(date))
    };
    match from_cache_control.or_else(from_expires) {
        Some(ms) => ms.clamp(
            remote.min_cache_duration_ms,
            remote
                .max_cache_duration_ms
                .max(remote.min_cache_duration_ms),
        ),
        None => remote.cache_duration_ms,
    }
}

/// An IMF-fixdate (RFC 9110 §5.6.7: `Sun, 06 Nov 1994 08:49:37 GMT`) as unix milliseconds.
pub fn http_date_ms(text: &str) -> Option<u64> {
    let mut parts = text.split_whitespace();
    let _weekday = parts.next()?;
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: u64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if parts.next()? != "GMT"
        || !(1..=31).contains(&day)
        || !(1970..=9999).contains(&year)
        || h > 23
        || m > 59
        || s > 60
    {
        return None;
    }
    // Days from 1970-01-01 to the civil date (Howard Hinnant's algorithm, unsigned form).
    let (y, mo) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some((days * 86_400 + h * 3600 + m * 60 + s) * 1000)
}

/// Longest identity-provider value quoted in an error (and so in a log line).
const MAX_QUOTED: usize = 200;

/// Reads an OIDC discovery document (OpenID Connect Discovery 1.0 §4): its `issuer` must be
/// the provider's (§4.3), and its `jwks_uri` an absolute http(s) URI, returned as
/// `(authority, path)` for the callout. Errors quote the document's values cut short.
pub fn discovery_jwks_uri(body: &[u8], issuer: Option<&str>) -> Result<(String, String), String> {
    let doc: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("discovery document is not JSON: {e}"))?;
    let field = |name: &str| {
        doc.get(name)
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| format!("discovery document has no `{name}`"))
    };
    let doc_issuer = field("issuer")?;
    if Some(doc_issuer) != issuer {
        return Err(format!(
            "discovery document names issuer {}, the provider expects {}",
            quoted(doc_issuer),
            quoted(issuer.unwrap_or_default())
        ));
    }
    let jwks_uri = field("jwks_uri")?;
    let (authority, path) = split_uri(jwks_uri).ok_or_else(|| {
        format!(
            "`jwks_uri` {} is not an absolute http(s) URI",
            quoted(jwks_uri)
        )
    })?;
    Ok((authority.to_string(), path.to_string()))
}

fn quoted(value: &str) -> String {
    let mut chars = value.chars();
    let short: String = chars.by_ref().take(MAX_QUOTED).collect();
    let more = if chars.next().is_some() { "…" } else { "" };
    format!("{short:?}{more}")
}

/// Shared-data key names for a provider. The URI is part of the name so a configuration that
/// points a provider elsewhere never reuses the old identity provider's keys.
pub fn meta_key(provider: &str, remote: &RemoteJwks) -> String {
    format!("jwt_authn.jwks.meta|{provider}|{}", remote.uri)
}

pub fn body_key(provider: &str, remote: &RemoteJwks) -> String {
    format!("jwt_authn.jwks.body|{provider}|{}", remote.uri)
}

#[cfg(test)]
mod tests;
