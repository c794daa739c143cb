//! A per-worker cache of signature verdicts, so a client that reuses its access token pays for
//! parsing and the signature once. Keyed by the whole token string (compared in full: no hash
//! collision can make one token pass as another), the provider, and the key set the verdict
//! was reached with; an entry dies with its key set, at the token's `exp`, or when evicted.
//! Claims (`exp`, `nbf`, `aud`, ...) are still checked on every hit, against the clock of the
//! request. Failed signatures are kept briefly too, so replaying a forged token stays cheap.

use std::collections::HashMap;
use std::rc::Rc;

use crate::error::AuthError;
use crate::jwt::UnverifiedJwt;

/// Native `jwt_max_token_size`'s default: longer tokens are not cached.
pub const MAX_CACHED_TOKEN_BYTES: usize = 4096;
/// Default number of entries per worker.
pub const DEFAULT_CAPACITY: usize = 1024;
/// How long a refused signature is remembered.
pub const REFUSED_TTL_SECONDS: u64 = 10;
/// Entries of tokens without `exp` are dropped after this long.
pub const NO_EXP_TTL_SECONDS: u64 = 3600;

#[derive(Debug, Clone)]
pub struct Verdict {
    pub jwt: Rc<UnverifiedJwt>,
    /// `Ok` for a good signature, else the signature failure.
    pub signature: Result<(), AuthError>,
}

struct Entry {
    provider: usize,
    key_set: u64,
    expires_at: u64,
    verdict: Verdict,
}

/// Two generations of at most `capacity / 2` tokens each: lookups promote from the old one,
/// and when the new one is full it becomes the old one. Constant time, roughly LRU.
pub struct TokenCache {
    capacity: usize,
    young: HashMap<Box<str>, Vec<Entry>>,
    old: HashMap<Box<str>, Vec<Entry>>,
}

impl TokenCache {
    pub fn new(capacity: usize) -> TokenCache {
        TokenCache {
            capacity,
            young: HashMap::new(),
            old: HashMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&mut self, token: &str, provider: usize, key_set: u64, now: u64) -> Option<Verdict> {
        if self.capacity == 0 {
            return None;
        }
        if !self.young.contains_key(token) {
            let (key, entries) = self.old.remove_entry(token)?;
            self.make_room();
            self.young.insert(key, entries);
        }
        let entries = self.young.get_mut(token)?;
        entries.retain(|e| e.expires_at > now);
        entries
            .iter()
            .find(|e| e.provider == provider && e.key_set == key_set)
            .map(|e| e.verdict.clone())
    }

    /// Remembers a verdict; `exp` is the token's, when it has one.
    pub fn insert(
        &mut self,
        token: &str,
        provider: usize,
        key_set: u64,
        verdict: Verdict,
        now: u64,
    ) {
        if self.capacity == 0 || token.len() > MAX_CACHED_TOKEN_BYTES {
            return;
        }
        let expires_at = match (&verdict.signature, verdict.jwt.exp) {
            (Err(_), _) => now.saturating_add(REFUSED_TTL_SECONDS),
            (Ok(()), Some(exp)) => {
                exp.min(now.saturating_add(NO_EXP_TTL_SECONDS.saturating_mul(24)))
            }
            (Ok(()), None) => now.saturating_add(NO_EXP_TTL_SECONDS),
        };
        if expires_at <= now {
            return;
        }
        if let Some(entries) = self.old.remove(token) {
            self.young.insert(token.into(), entries);
        }
        if !self.young.contains_key(token) {
            self.make_room();
        }
        let entries = self.young.entry(token.into()).or_default();
        entries.retain(|e| e.provider != provider && e.expires_at > now);
        entries.push(Entry {
            provider,
            key_set,
            expires_at,
            verdict,
        });
    }

    fn make_room(&mut self) {
        if self.young.len() >= (self.capacity / 2).max(1) {
            self.old = std::mem::take(&mut self.young);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt;

    fn verdict(exp: u64, ok: bool) -> Verdict {
        let payload = crate::b64::encode(format!("{{\"exp\":{exp}}}").as_bytes());
        let token = format!(
            "{}.{payload}.c2ln",
            crate::b64::encode(br#"{"alg":"HS256"}"#)
        );
        Verdict {
            jwt: Rc::new(jwt::parse(&token).unwrap()),
            signature: if ok {
                Ok(())
            } else {
                Err(AuthError::JwtVerificationFail)
            },
        }
    }

    #[test]
    fn hit_only_for_the_same_provider_and_key_set() {
        let mut c = TokenCache::new(8);
        c.insert("t", 0, 7, verdict(1000, true), 100);
        assert!(c.get("t", 0, 7, 100).is_some());
        assert!(c.get("t", 1, 7, 100).is_none(), "another provider");
        assert!(c.get("t", 0, 8, 100).is_none(), "keys changed");
        assert!(c.get("t2", 0, 7, 100).is_none());
    }

    #[test]
    fn entries_expire_with_the_token_and_refusals_soon() {
        let mut c = TokenCache::new(8);
        c.insert("good", 0, 1, verdict(200, true), 100);
        c.insert("bad", 0, 1, verdict(10_000, false), 100);
        assert!(c.get("good", 0, 1, 199).is_some());
        assert!(c.get("good", 0, 1, 200).is_none());
        assert!(c.get("bad", 0, 1, 100 + REFUSED_TTL_SECONDS - 1).is_some());
        assert!(c.get("bad", 0, 1, 100 + REFUSED_TTL_SECONDS).is_none());
        c.insert("expired", 0, 1, verdict(50, true), 100);
        assert!(
            c.get("expired", 0, 1, 100).is_none(),
            "an expired token is not cached"
        );
    }

    #[test]
    fn bounded_and_recently_used_survive() {
        let mut c = TokenCache::new(4);
        c.insert("keep", 0, 1, verdict(1000, true), 1);
        for i in 0..100 {
            c.insert(&format!("t{i}"), 0, 1, verdict(1000, true), 1);
            assert!(
                c.get("keep", 0, 1, 1).is_some(),
                "a token in use is promoted, not evicted"
            );
            assert!(c.len() <= 4);
        }
        assert!(c.get("t0", 0, 1, 1).is_none(), "old tokens are evicted");
    }

    #[test]
    fn long_tokens_and_disabled_cache_are_not_stored() {
        let mut c = TokenCache::new(4);
        let long = "x".repeat(MAX_CACHED_TOKEN_BYTES + 1);
        c.insert(&long, 0, 1, verdict(1000, true), 1);
        assert!(c.is_empty());
        let mut off = TokenCache::new(0);
        off.insert("t", 0, 1, verdict(1000, true), 1);
        assert!(off.get("t", 0, 1, 1).is_none());
    }
}
