//! A per-worker cache of signature verdicts, so a client that reuses its access token pays for
//! parsing and the signature once. Keyed by the whole token string (compared in full: no hash
//! collision can make one token pass as another), the provider, and the key set the verdict
//! was reached with; an entry dies with its key set, at the token's `exp`, or when evicted.
//! Claims (`exp`, `nbf`, `aud`, ...) are still checked on every hit, against the clock of the
//! request. Failed signatures are kept briefly too, so replaying a forged token stays cheap.
//!
//! Each call hashes the token once and both generations are indexed by that hash; the token
//! itself is stored (once: the parsed token holds it, and its signing input and signature are
//! read from it) and compared, so a collision is only ever a miss. The hash reads eight bytes
//! at a time under this VM's random seed, and the comparison too: in wasm, SipHash and the
//! byte-at-a-time `memcmp` were the two largest costs of a cache hit on an RS256 token. Keyed
//! and mixed, it keeps tokens spread; a client who still managed to aim tokens at one bucket
//! would only lengthen probes in a table of at most `capacity / 2` entries.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::rc::Rc;

use crate::error::AuthError;
use crate::token::jws::UnverifiedJwt;

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
    signature: Result<(), AuthError>,
}

/// One token, parsed, and its verdicts (one per provider and key set).
struct Slot {
    jwt: Rc<UnverifiedJwt>,
    entries: Vec<Entry>,
}

impl Slot {
    fn holds(&self, token: &str) -> bool {
        same(self.jwt.compact(), token)
    }
}

/// The map keys are already keyed SipHash values: hashing them again would be wasted work.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed (`write_u64`); this is the generic fallback.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Generation = HashMap<u64, Slot, BuildHasherDefault<Prehashed>>;

/// Two generations of at most `capacity / 2` tokens each: lookups promote from the old one,
/// and when the new one is full it becomes the old one. Constant time, roughly LRU.
pub struct TokenCache {
    capacity: usize,
    /// This VM's random hash seed.
    seed: u64,
    young: Generation,
    old: Generation,
}

impl TokenCache {
    pub fn new(capacity: usize) -> TokenCache {
        TokenCache {
            capacity,
            seed: RandomState::new().hash_one(0x6a77_745f_6361_6368_u64),
            young: Generation::default(),
            old: Generation::default(),
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
        let hash = token_hash(self.seed, token.as_bytes());
        if !self.young_holds(hash, token) {
            let slot = self.old.remove(&hash).filter(|s| s.holds(token))?;
            self.make_room();
            self.young.insert(hash, slot);
        }
        let slot = self.young.get_mut(&hash)?;
        slot.entries.retain(|e| e.expires_at > now);
        slot.entries
            .iter()
            .find(|e| e.provider == provider && e.key_set == key_set)
            .map(|e| Verdict {
                jwt: Rc::clone(&slot.jwt),
                signature: e.signature,
            })
    }

    /// Remembers a verdict on the token `verdict.jwt` was parsed from; `exp` is the token's,
    /// when it has one.
    pub fn insert(&mut self, provider: usize, key_set: u64, verdict: Verdict, now: u64) {
        if self.capacity == 0 {
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
        let token = verdict.jwt.compact();
        let hash = token_hash(self.seed, token.as_bytes());
        if !self.young_holds(hash, token) {
            let slot = self
                .old
                .remove(&hash)
                .filter(|s| s.holds(token))
                .unwrap_or_else(|| Slot {
                    jwt: Rc::clone(&verdict.jwt),
                    entries: Vec::new(),
                });
            self.make_room();
            // A different token under the same hash (never expected) is simply replaced.
            self.young.insert(hash, slot);
        }
        let Some(slot) = self.young.get_mut(&hash) else {
            return;
        };
        slot.entries
            .retain(|e| e.provider != provider && e.expires_at > now);
        slot.entries.push(Entry {
            provider,
            key_set,
            expires_at,
            signature: verdict.signature,
        });
    }

    fn young_holds(&self, hash: u64, token: &str) -> bool {
        self.young.get(&hash).is_some_and(|s| s.holds(token))
    }

    fn make_room(&mut self) {
        if self.young.len() >= (self.capacity / 2).max(1) {
            self.old = std::mem::take(&mut self.young);
        }
    }
}

/// Eight bytes as a little-endian word; shorter input is zero-padded.
fn word(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    for (to, from) in w.iter_mut().zip(bytes) {
        *to = *from;
    }
    u64::from_le_bytes(w)
}

/// A keyed hash of `bytes`, a word at a time: multiply-rotate rounds, then murmur3's finaliser.
fn token_hash(seed: u64, bytes: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    let mut h = seed ^ len.wrapping_mul(K);
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        h = (h ^ word(w)).wrapping_mul(K).rotate_left(29);
    }
    h = (h ^ word(words.remainder())).wrapping_mul(K);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// `a == b`, compared a word at a time (wasm's `memcmp` goes byte by byte).
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let (mut x, mut y) = (a.chunks_exact(8), b.chunks_exact(8));
    (&mut x).zip(&mut y).all(|(p, q)| word(p) == word(q)) && x.remainder() == y.remainder()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::jws;

    /// A token named `name` (its `jti`) with this `exp`: the cache's key.
    fn token(name: &str, exp: u64) -> String {
        let payload =
            crate::token::b64::encode(format!(r#"{{"jti":"{name}","exp":{exp}}}"#).as_bytes());
        format!(
            "{}.{payload}.c2ln",
            crate::token::b64::encode(br#"{"alg":"HS256"}"#)
        )
    }

    fn verdict(token: &str, ok: bool) -> Verdict {
        Verdict {
            jwt: Rc::new(jws::parse(token).unwrap()),
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
        let t = token("t", 1000);
        c.insert(0, 7, verdict(&t, true), 100);
        let hit = c.get(&t, 0, 7, 100).unwrap();
        assert_eq!(hit.jwt.compact(), t, "the token it was parsed from");
        assert!(hit.signature.is_ok());
        assert!(c.get(&t, 1, 7, 100).is_none(), "another provider");
        assert!(c.get(&t, 0, 8, 100).is_none(), "keys changed");
        assert!(c.get(&token("t2", 1000), 0, 7, 100).is_none());
    }

    #[test]
    fn one_token_holds_a_verdict_per_provider() {
        let mut c = TokenCache::new(8);
        let t = token("t", 1000);
        c.insert(0, 7, verdict(&t, true), 100);
        c.insert(1, 9, verdict(&t, false), 100);
        assert!(c.get(&t, 0, 7, 100).unwrap().signature.is_ok());
        assert!(c.get(&t, 1, 9, 100).unwrap().signature.is_err());
        assert_eq!(c.len(), 1, "one slot for the token");
        c.insert(0, 8, verdict(&t, true), 100);
        assert!(
            c.get(&t, 0, 7, 100).is_none(),
            "a provider's new key set replaces its old verdict"
        );
        assert!(c.get(&t, 0, 8, 100).is_some());
    }

    #[test]
    fn entries_expire_with_the_token_and_refusals_soon() {
        let mut c = TokenCache::new(8);
        let (good, bad) = (token("good", 200), token("bad", 10_000));
        c.insert(0, 1, verdict(&good, true), 100);
        c.insert(0, 1, verdict(&bad, false), 100);
        assert!(c.get(&good, 0, 1, 199).is_some());
        assert!(c.get(&good, 0, 1, 200).is_none());
        assert!(c.get(&bad, 0, 1, 100 + REFUSED_TTL_SECONDS - 1).is_some());
        assert!(c.get(&bad, 0, 1, 100 + REFUSED_TTL_SECONDS).is_none());
        let expired = token("expired", 50);
        c.insert(0, 1, verdict(&expired, true), 100);
        assert!(
            c.get(&expired, 0, 1, 100).is_none(),
            "an expired token is not cached"
        );
    }

    #[test]
    fn bounded_and_recently_used_survive() {
        let mut c = TokenCache::new(4);
        let keep = token("keep", 1000);
        c.insert(0, 1, verdict(&keep, true), 1);
        for i in 0..100 {
            c.insert(0, 1, verdict(&token(&format!("t{i}"), 1000), true), 1);
            assert!(
                c.get(&keep, 0, 1, 1).is_some(),
                "a token in use is promoted, not evicted"
            );
            assert!(c.len() <= 4);
        }
        assert!(
            c.get(&token("t0", 1000), 0, 1, 1).is_none(),
            "old tokens are evicted"
        );
    }

    #[test]
    fn a_disabled_cache_stores_nothing() {
        let mut off = TokenCache::new(0);
        let t = token("t", 1000);
        off.insert(0, 1, verdict(&t, true), 1);
        assert!(off.get(&t, 0, 1, 1).is_none());
    }

    #[test]
    fn a_hash_collision_is_a_miss_never_another_tokens_verdict() {
        // Force two tokens into one slot by planting a slot under the hash of a that holds b.
        let mut c = TokenCache::new(8);
        let (a, b) = (token("a", 1000), token("b", 1000));
        c.insert(0, 1, verdict(&b, true), 1);
        let hash_a = token_hash(c.seed, a.as_bytes());
        let hash_b = token_hash(c.seed, b.as_bytes());
        let slot = c.young.remove(&hash_b).unwrap();
        c.young.insert(hash_a, slot);
        assert!(
            c.get(&a, 0, 1, 1).is_none(),
            "the stored token is compared in full"
        );
        c.insert(0, 1, verdict(&a, false), 1);
        let got = c.get(&a, 0, 1, 1).unwrap();
        assert!(
            got.signature.is_err(),
            "a's own verdict replaced the colliding slot"
        );
        assert_eq!(got.jwt.compact(), a);
    }

    #[test]
    fn word_compare_and_hash_see_every_byte() {
        let base: String = (0..37).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        for len in [0usize, 1, 7, 8, 9, 16, 36, 37] {
            let a = &base[..len];
            assert!(same(a, a));
            assert_eq!(token_hash(5, a.as_bytes()), token_hash(5, a.as_bytes()));
            assert_ne!(
                token_hash(5, a.as_bytes()),
                token_hash(6, a.as_bytes()),
                "keyed"
            );
            for at in 0..len {
                let mut b = a.as_bytes().to_vec();
                b[at] ^= 1;
                let b = String::from_utf8(b).unwrap();
                assert!(!same(a, &b), "len {len}, byte {at}");
                assert_ne!(token_hash(5, a.as_bytes()), token_hash(5, b.as_bytes()));
            }
            if len > 0 {
                assert!(!same(a, &base[..len - 1]), "a prefix is not the same");
                assert_ne!(
                    token_hash(5, a.as_bytes()),
                    token_hash(5, &base.as_bytes()[..len - 1])
                );
            }
        }
        // A zero byte at the end is not the padding of a shorter input.
        assert_ne!(token_hash(5, b"abc"), token_hash(5, b"abc\0"));
    }
}
