//! A per-worker cache of signature verdicts, so a client that reuses its access token pays for
//! parsing and the signature once. Keyed by the whole token string (compared in full: no hash
//! collision can make one token pass as another), the provider, and the key set the verdict
//! was reached with; an entry dies with its key set, at the token's `exp`, or when evicted.
//! Claims (`exp`, `nbf`, `aud`, ...) are still checked on every hit, against the clock of the
//! request. Failed signatures are kept briefly too, so replaying a forged token stays cheap.
//!
//! Each call hashes the token once and both generations are indexed by that hash; the token
//! itself is stored and compared, so a collision is only ever a miss. The hash reads eight bytes
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
    verdict: Verdict,
}

/// One token and its verdicts (one per provider and key set).
struct Slot {
    token: Box<str>,
    entries: Vec<Entry>,
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
            let slot = self.old.remove(&hash).filter(|s| same(&s.token, token))?;
            self.make_room();
            self.young.insert(hash, slot);
        }
        let slot = self.young.get_mut(&hash)?;
        slot.entries.retain(|e| e.expires_at > now);
        slot.entries
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
        let hash = token_hash(self.seed, token.as_bytes());
        if !self.young_holds(hash, token) {
            let slot = self
                .old
                .remove(&hash)
                .filter(|s| same(&s.token, token))
                .unwrap_or_else(|| Slot {
                    token: token.into(),
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
            verdict,
        });
    }

    fn young_holds(&self, hash: u64, token: &str) -> bool {
        self.young.get(&hash).is_some_and(|s| same(&s.token, token))
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

    fn verdict(exp: u64, ok: bool) -> Verdict {
        let payload = crate::token::b64::encode(format!("{{\"exp\":{exp}}}").as_bytes());
        let token = format!(
            "{}.{payload}.c2ln",
            crate::token::b64::encode(br#"{"alg":"HS256"}"#)
        );
        Verdict {
            jwt: Rc::new(jws::parse(&token).unwrap()),
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
    fn a_disabled_cache_stores_nothing() {
        let mut off = TokenCache::new(0);
        off.insert("t", 0, 1, verdict(1000, true), 1);
        assert!(off.get("t", 0, 1, 1).is_none());
    }

    #[test]
    fn a_hash_collision_is_a_miss_never_another_tokens_verdict() {
        // Force two tokens into one slot by planting a slot under the hash of "a" that holds "b".
        let mut c = TokenCache::new(8);
        c.insert("b", 0, 1, verdict(1000, true), 1);
        let hash_a = token_hash(c.seed, b"a");
        let hash_b = token_hash(c.seed, b"b");
        let slot = c.young.remove(&hash_b).unwrap();
        c.young.insert(hash_a, slot);
        assert!(
            c.get("a", 0, 1, 1).is_none(),
            "the stored token is compared in full"
        );
        c.insert("a", 0, 1, verdict(1000, false), 1);
        let got = c.get("a", 0, 1, 1).unwrap();
        assert!(
            got.signature.is_err(),
            "a's own verdict replaced the colliding slot"
        );
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
