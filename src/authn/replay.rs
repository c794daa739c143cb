//! Replay protection for one-time tokens (an extension, per provider, off by default): the
//! `jti` of every token a protected provider accepts is remembered until the token expires, and
//! a token whose `jti` was seen before is refused.
//!
//! This file owns what a token must carry to be protected ([`ticket`]), the seen set as it is
//! stored (a [`Shard`] per shared-data key: an encoding in bytes, insert-if-absent with expiry
//! and eviction) and the compare-and-swap loop over a [`Store`] ([`spend`]). The adapter
//! implements [`Store`] with proxy-wasm shared data, so every worker of one Envoy shares one
//! set; everything here is pure and tested natively with a fake store.
//!
//! Why the shape:
//! - Entries are a 16-byte SHA-256 prefix of `iss` and `jti` (never the token, never the raw
//!   `jti`) and the second after which the token is refused anyway (`exp` plus the provider's
//!   clock skew), so an entry has a fixed size and the set a fixed bound.
//! - The set is split over up to [`SHARDS`] keys by that hash, so one key's value stays small
//!   (at most [`MAX_ENTRIES`] / [`SHARDS`] entries, about 92 KiB) and two workers rarely race for
//!   one key.
//! - A full shard evicts the entry that expires first and remembers its expiry
//!   (`evicted_through`): a token expiring no later than that, and not in the set, may be the
//!   evicted one and is refused. Eviction never lets a replay through; it may refuse a fresh
//!   token that expires sooner than tokens already held.
//! - Entries are kept [`GRACE_S`] seconds past their expiry: workers read the clock at
//!   different moments (the tick clock lags by up to 100 ms), and a worker whose clock lags must
//!   not find an entry gone that a token it still finds valid needs.

use sha2::{Digest, Sha256};

use crate::error::AuthError;
use crate::token::jws::UnverifiedJwt;

/// Shared-data keys the set of one provider is split over (fewer when `max_entries` is lower).
pub const SHARDS: usize = 256;
/// The largest `max_entries`.
pub const MAX_ENTRIES: usize = 1_000_000;
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;
/// `max_token_lifetime`: its default and its largest value.
pub const DEFAULT_MAX_TOKEN_LIFETIME_S: u64 = 300;
pub const MAX_TOKEN_LIFETIME_S: u64 = 86_400;
/// Seconds an entry outlives its token (see the module comment).
pub const GRACE_S: u64 = 2;
/// Compare-and-swap attempts on one key before the request is refused.
pub const CAS_TRIES: usize = 8;

/// Bytes of one stored entry: the id, then the expiry (big-endian u64).
const ENTRY_BYTES: usize = 24;
/// The shard header: a format byte, then `evicted_through` (big-endian u64).
const HEADER_BYTES: usize = 9;
const FORMAT: u8 = 1;

/// A provider's `replay_protection`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayProtection {
    /// Entries the provider's set holds (rounded up to a multiple of its shard count).
    pub max_entries: usize,
    /// The longest lifetime a protected token may have: `exp - iat` when it has an `iat`, and
    /// `exp - now` always (plus the clock skew), which bounds how long its entry is kept.
    pub max_token_lifetime_s: u64,
}

impl ReplayProtection {
    pub fn shards(&self) -> usize {
        self.max_entries.clamp(1, SHARDS)
    }

    /// Entries one shard holds.
    pub fn shard_capacity(&self) -> usize {
        self.max_entries.max(1).div_ceil(self.shards())
    }

    /// The shared-data key of shard `shard` of provider `provider`'s set. The shard count is
    /// part of the key: a configuration with another count starts a new set instead of
    /// reading one whose entries hash to other shards.
    pub fn shard_key(&self, provider: &str, shard: usize) -> String {
        format!(
            "jwt_authn.replay.v{FORMAT}|{provider}|{}|{shard}",
            self.shards()
        )
    }

    /// The key of the shard that holds `id`.
    pub fn key_of(&self, provider: &str, id: &[u8; 16]) -> String {
        let [a, b, ..] = *id;
        self.shard_key(
            provider,
            usize::from(u16::from_be_bytes([a, b])) % self.shards(),
        )
    }
}

/// A verified token of a protected provider, to be recorded before the request goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    /// The provider's index in the configuration.
    pub provider: usize,
    /// SHA-256 of `iss` and `jti`, cut to 16 bytes ([`id`]).
    pub id: [u8; 16],
    /// The last second the token is accepted: `exp` plus the clock skew.
    pub expires: u64,
    /// The last second any token the provider accepts now can be accepted: a shard that cannot
    /// be read is started again with this as its `evicted_through`, so nothing it may have held
    /// can pass.
    pub horizon: u64,
}

/// What a protected provider asks of a verified token: a `jti`, an `exp`, and a lifetime
/// within `max_token_lifetime` (from `iat` when present, and from now), so its entry can be
/// dropped when it expires.
pub fn ticket(
    protection: &ReplayProtection,
    provider: usize,
    jwt: &UnverifiedJwt,
    now: u64,
    skew: u64,
) -> Result<Ticket, AuthError> {
    let jti = jwt.claims.get("jti").and_then(|v| v.as_str());
    let (Some(jti), Some(exp)) = (jti.filter(|j| !j.is_empty()), jwt.exp) else {
        return Err(AuthError::JwtReplayUncheckable);
    };
    let max = protection.max_token_lifetime_s;
    let horizon = now.saturating_add(max).saturating_add(skew);
    let too_long = jwt.iat.is_some_and(|iat| exp.saturating_sub(iat) > max);
    if exp > horizon || too_long {
        return Err(AuthError::JwtReplayUncheckable);
    }
    Ok(Ticket {
        provider,
        id: id(jwt.iss.as_deref(), jti),
        expires: exp.saturating_add(skew),
        // Any token accepted now expires by `horizon` and is accepted up to `skew` later.
        horizon: horizon.saturating_add(skew),
    })
}

/// The entry id of a token: SHA-256 over the length-prefixed `iss` (absent and empty differ)
/// and `jti`, cut to 16 bytes. A collision can only refuse a token, never accept one.
pub fn id(iss: Option<&str>, jti: &str) -> [u8; 16] {
    let mut hash = Sha256::new();
    match iss {
        Some(iss) => {
            hash.update([1]);
            hash.update((iss.len() as u64).to_be_bytes());
            hash.update(iss.as_bytes());
        }
        None => hash.update([0]),
    }
    hash.update(jti.as_bytes());
    let digest = hash.finalize();
    let mut out = [0u8; 16];
    for (o, d) in out.iter_mut().zip(digest.iter()) {
        *o = *d;
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    id: [u8; 16],
    expires: u64,
}

/// One shard of a seen set, as stored in one shared-data value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shard {
    /// The latest expiry of an entry evicted while still alive: a token expiring no later than
    /// this may be that entry's and is refused.
    evicted_through: u64,
    entries: Vec<Entry>,
}

/// What inserting a token's id came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    /// Not seen before: recorded, after evicting this many live entries.
    Recorded { evicted: usize },
    /// Seen before, or possibly seen (it expires no later than an evicted entry, or first of
    /// everything a full shard holds).
    Seen,
}

impl Shard {
    /// Entries held (expired ones included until the next insert drops them).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A shard started again in place of one that cannot be read: nothing expiring up to
    /// `horizon` is accepted from it.
    pub fn unreadable(horizon: u64) -> Shard {
        Shard {
            evicted_through: horizon,
            entries: Vec::new(),
        }
    }

    /// The stored form; `None` when the bytes are not one (an empty value is an empty shard).
    pub fn decode(bytes: &[u8]) -> Option<Shard> {
        if bytes.is_empty() {
            return Some(Shard::default());
        }
        let (header, body) = bytes.split_at_checked(HEADER_BYTES)?;
        let (&format, watermark) = header.split_first()?;
        if format != FORMAT || !body.len().is_multiple_of(ENTRY_BYTES) {
            return None;
        }
        let mut entries = Vec::with_capacity(body.len() / ENTRY_BYTES);
        for chunk in body.chunks_exact(ENTRY_BYTES) {
            let (id, expires) = chunk.split_at_checked(16)?;
            entries.push(Entry {
                id: id.try_into().ok()?,
                expires: u64::from_be_bytes(expires.try_into().ok()?),
            });
        }
        Some(Shard {
            evicted_through: u64::from_be_bytes(watermark.try_into().ok()?),
            entries,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_BYTES + self.entries.len() * ENTRY_BYTES);
        out.push(FORMAT);
        out.extend_from_slice(&self.evicted_through.to_be_bytes());
        for e in &self.entries {
            out.extend_from_slice(&e.id);
            out.extend_from_slice(&e.expires.to_be_bytes());
        }
        out
    }

    /// Records `id` (expiring at `expires`) unless it is there: entries past their expiry and
    /// [`GRACE_S`] are dropped first; then, while the shard holds `capacity` entries, the one
    /// that expires first goes (when that is the new token, it is refused instead).
    pub fn insert(&mut self, id: [u8; 16], expires: u64, now: u64, capacity: usize) -> Insert {
        self.entries
            .retain(|e| now <= e.expires.saturating_add(GRACE_S));
        if now > self.evicted_through.saturating_add(GRACE_S) {
            self.evicted_through = 0;
        }
        if expires <= self.evicted_through || self.entries.iter().any(|e| e.id == id) {
            return Insert::Seen;
        }
        let mut evicted = 0;
        while self.entries.len() >= capacity.max(1) {
            let first = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.expires)
                .map(|(i, e)| (i, e.expires));
            let Some((at, first_expires)) = first else {
                break;
            };
            if expires <= first_expires {
                return Insert::Seen;
            }
            self.entries.swap_remove(at);
            self.evicted_through = self.evicted_through.max(first_expires);
            evicted += 1;
        }
        self.entries.push(Entry { id, expires });
        Insert::Recorded { evicted }
    }
}

/// Shared storage with compare-and-swap, as proxy-wasm shared data offers it.
pub trait Store {
    /// The value under `key` and its CAS; `None` when it is missing or cannot be read.
    fn read(&mut self, key: &str) -> Option<(Vec<u8>, u32)>;
    /// Writes `value` if the key still has `cas`.
    fn write(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), WriteError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteError {
    /// Another writer came first: read again.
    CasMismatch,
    /// Any other refusal.
    Failed,
}

/// What spending a ticket came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spent {
    /// First use: recorded (after evicting this many live entries).
    Fresh { evicted: usize },
    /// Used before, or possibly (see [`Insert::Seen`]): refuse the token.
    Replayed,
}

/// Why a ticket could not be spent; the request is refused (fail closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendError {
    /// The key is missing or cannot be read.
    Unreadable,
    /// The write was refused for another reason than a CAS mismatch.
    WriteFailed,
    /// [`CAS_TRIES`] writes in a row lost to other writers.
    Contended,
}

/// Records `ticket` in provider `provider`'s set, or finds it there: read, insert, write with
/// the CAS read, again on a mismatch. Two workers racing on one `jti` read the same CAS, so
/// one write fails and its retry finds the other's entry: exactly one of them gets `Fresh`.
pub fn spend(
    store: &mut dyn Store,
    protection: &ReplayProtection,
    provider: &str,
    ticket: &Ticket,
    now: u64,
) -> Result<Spent, SpendError> {
    let key = protection.key_of(provider, &ticket.id);
    for _ in 0..CAS_TRIES {
        let (bytes, cas) = store.read(&key).ok_or(SpendError::Unreadable)?;
        let decoded = Shard::decode(&bytes);
        let readable = decoded.is_some();
        let mut shard = decoded.unwrap_or_else(|| Shard::unreadable(ticket.horizon));
        let capacity = protection.shard_capacity();
        let evicted = match shard.insert(ticket.id, ticket.expires, now, capacity) {
            Insert::Seen => {
                if !readable {
                    // Start the unreadable shard again, so it refuses tokens only until the
                    // horizon; whether this write wins does not change the answer.
                    let _ = store.write(&key, &shard.encode(), cas);
                }
                return Ok(Spent::Replayed);
            }
            Insert::Recorded { evicted } => evicted,
        };
        match store.write(&key, &shard.encode(), cas) {
            Ok(()) => return Ok(Spent::Fresh { evicted }),
            Err(WriteError::CasMismatch) => continue,
            Err(WriteError::Failed) => return Err(SpendError::WriteFailed),
        }
    }
    Err(SpendError::Contended)
}

#[cfg(test)]
mod tests;
