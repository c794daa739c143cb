//! The shared record of a remote JWKS and the decisions around it: when to fetch, who fetches,
//! what a worker does with a fetch's outcome. Pure: the adapter stores the bytes in proxy-wasm
//! shared data (one copy for all worker VMs) and passes the clock in.
//!
//! Two shared-data entries per provider: a small `meta` line read on every tick, and the JWKS
//! `body`, read only when `meta.generation` changes. `meta` doubles as the fetch lease: a
//! worker takes it with a compare-and-swap, so all workers together make one fetch per refresh.

use std::fmt::Write as _;

use crate::config::RemoteJwks;

/// Largest JWKS body accepted from an identity provider.
pub const MAX_JWKS_BODY_BYTES: usize = 1024 * 1024;
/// Longest pause between retries after failed fetches.
pub const MAX_RETRY_BACKOFF_MS: u64 = 30_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Meta {
    /// Bumped each time a new body is stored; 0 = no keys yet.
    pub generation: u64,
    /// When the current body was fetched (unix ms); 0 = never.
    pub fetched_at_ms: u64,
    /// Consecutive failed fetches since the last success.
    pub failures: u32,
    pub failed_at_ms: u64,
    /// A fetch is under way until then (unix ms); 0 = none.
    pub lease_until_ms: u64,
}

impl Meta {
    pub fn encode(&self) -> Vec<u8> {
        let mut s = String::with_capacity(64);
        let _ = write!(s, "v1 {} {} {} {} {}", self.generation, self.fetched_at_ms, self.failures, self.failed_at_ms, self.lease_until_ms);
        s.into_bytes()
    }

    /// `None` for bytes this version did not write; the caller then treats the entry as empty.
    pub fn decode(bytes: &[u8]) -> Option<Meta> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut it = text.split(' ');
        if it.next()? != "v1" {
            return None;
        }
        let mut num = || it.next().and_then(|s| s.parse::<u64>().ok());
        let meta = Meta {
            generation: num()?,
            fetched_at_ms: num()?,
            failures: u32::try_from(num()?).ok()?,
            failed_at_ms: num()?,
            lease_until_ms: num()?,
        };
        Some(meta)
    }

    pub fn has_keys(&self) -> bool {
        self.generation > 0
    }

    pub fn fetch_in_flight(&self, now_ms: u64) -> bool {
        self.lease_until_ms > now_ms
    }

    /// Whether a fetch should start now: never while another is under way; at once when there
    /// are no keys and nothing has failed yet; after the retry back-off when the last attempt
    /// failed; otherwise when the keys reach 80% of `cache_duration`, so they are refreshed
    /// before they run out and requests never wait for a refresh.
    pub fn fetch_due(&self, remote: &RemoteJwks, now_ms: u64) -> bool {
        if self.fetch_in_flight(now_ms) {
            return false;
        }
        if self.failures > 0 && now_ms < self.failed_at_ms.saturating_add(retry_backoff_ms(remote, self.failures)) {
            return false;
        }
        if !self.has_keys() {
            return true;
        }
        let refresh_after = remote.cache_duration_ms.saturating_mul(4) / 5;
        now_ms >= self.fetched_at_ms.saturating_add(refresh_after)
    }

    /// The meta that takes the fetch lease.
    pub fn leased(&self, remote: &RemoteJwks, now_ms: u64) -> Meta {
        // The lease outlives the callout timeout a little, so a worker that vanished mid-fetch
        // only delays the next attempt.
        Meta { lease_until_ms: now_ms.saturating_add(remote.timeout_ms).saturating_add(1_000), ..*self }
    }

    pub fn succeeded(&self, now_ms: u64) -> Meta {
        Meta { generation: self.generation.saturating_add(1), fetched_at_ms: now_ms, failures: 0, failed_at_ms: 0, lease_until_ms: 0 }
    }

    /// A failed fetch keeps the last good keys and counts towards the back-off.
    pub fn failed(&self, now_ms: u64) -> Meta {
        Meta { failures: self.failures.saturating_add(1), failed_at_ms: now_ms, lease_until_ms: 0, ..*self }
    }
}

/// `failed_refetch_duration`, doubled per consecutive failure, capped at 30 s.
pub fn retry_backoff_ms(remote: &RemoteJwks, failures: u32) -> u64 {
    let doublings = failures.saturating_sub(1).min(16);
    remote.failed_refetch_ms.saturating_mul(1u64 << doublings).min(MAX_RETRY_BACKOFF_MS)
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
mod tests {
    use super::*;

    fn remote() -> RemoteJwks {
        RemoteJwks {
            uri: "http://idp/jwks".into(),
            cluster: "idp".into(),
            authority: "idp".into(),
            path: "/jwks".into(),
            timeout_ms: 1_000,
            cache_duration_ms: 10_000,
            failed_refetch_ms: 1_000,
        }
    }

    #[test]
    fn round_trips_and_refuses_garbage() {
        let m = Meta { generation: 3, fetched_at_ms: 10, failures: 2, failed_at_ms: 20, lease_until_ms: 30 };
        assert_eq!(Meta::decode(&m.encode()), Some(m));
        for bad in [&b""[..], b"v2 1 2 3 4 5", b"v1 1 2 3 4", b"v1 a 2 3 4 5", b"v1 1 2 99999999999 4 5"] {
            assert_eq!(Meta::decode(bad), None);
        }
    }

    #[test]
    fn cold_start_fetches_once() {
        let r = remote();
        let empty = Meta::default();
        assert!(empty.fetch_due(&r, 1_000));
        let leased = empty.leased(&r, 1_000);
        assert!(!leased.fetch_due(&r, 1_500), "one fetch at a time");
        assert!(leased.fetch_due(&r, 3_001), "an abandoned lease expires");
    }

    #[test]
    fn refresh_before_expiry() {
        let r = remote();
        let ok = Meta::default().succeeded(0);
        assert!(ok.has_keys());
        assert!(!ok.fetch_due(&r, 7_999));
        assert!(ok.fetch_due(&r, 8_000));
    }

    #[test]
    fn failures_back_off_and_keep_keys() {
        let r = remote();
        let ok = Meta::default().succeeded(0);
        let failed = ok.failed(8_000);
        assert_eq!(failed.generation, ok.generation, "last good keys stay");
        assert!(!failed.fetch_due(&r, 8_999));
        assert!(failed.fetch_due(&r, 9_000));
        let twice = failed.failed(9_000);
        assert!(!twice.fetch_due(&r, 10_999));
        assert!(twice.fetch_due(&r, 11_000));
        assert_eq!(retry_backoff_ms(&r, 40), MAX_RETRY_BACKOFF_MS);
    }
}
