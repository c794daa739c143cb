use std::cell::RefCell;
use std::collections::HashMap;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::*;
use crate::authn::model::Config;
use crate::authn::token_cache::TokenCache;
use crate::authn::{self, Decision};
use crate::request::matcher::Request;
use crate::token::{b64, jws};

const LIFETIME: u64 = 300;

fn protection(max_entries: usize) -> ReplayProtection {
    ReplayProtection {
        max_entries,
        max_token_lifetime_s: LIFETIME,
    }
}

fn unsigned(claims: Value) -> UnverifiedJwt {
    let token = format!(
        "{}.{}.c2ln",
        b64::encode(br#"{"alg":"RS256"}"#),
        b64::encode(claims.to_string().as_bytes())
    );
    jws::parse(&token).unwrap()
}

fn id_of(n: u8) -> [u8; 16] {
    [n; 16]
}

// ---- What a protected token must carry

#[test]
fn a_ticket_needs_a_jti_and_an_exp() {
    let p = protection(10);
    for claims in [
        json!({"iss": "a", "exp": 1100}),
        json!({"iss": "a", "jti": "", "exp": 1100}),
        json!({"iss": "a", "jti": "j1"}),
    ] {
        assert_eq!(
            ticket(&p, 0, &unsigned(claims.clone()), 1000, 0),
            Err(AuthError::JwtReplayUncheckable),
            "{claims}"
        );
    }
    let t = ticket(
        &p,
        3,
        &unsigned(json!({"iss": "a", "jti": "j1", "exp": 1100})),
        1000,
        7,
    );
    assert_eq!(
        t,
        Ok(Ticket {
            provider: 3,
            id: id(Some("a"), "j1"),
            expires: 1107,
            horizon: 1000 + LIFETIME + 14,
        })
    );
}

#[test]
fn a_ticket_refuses_a_lifetime_over_the_cap() {
    let p = protection(10);
    let check = |claims: Value, skew| ticket(&p, 0, &unsigned(claims), 1000, skew).map(|_| ());
    // From now: exp at most max_token_lifetime (plus the skew) ahead.
    assert_eq!(check(json!({"jti": "j", "exp": 1300}), 0), Ok(()));
    assert_eq!(
        check(json!({"jti": "j", "exp": 1301}), 0),
        Err(AuthError::JwtReplayUncheckable)
    );
    assert_eq!(check(json!({"jti": "j", "exp": 1310}), 10), Ok(()));
    // From iat, when there is one.
    assert_eq!(
        check(json!({"jti": "j", "iat": 900, "exp": 1200}), 0),
        Ok(())
    );
    assert_eq!(
        check(json!({"jti": "j", "iat": 899, "exp": 1200}), 0),
        Err(AuthError::JwtReplayUncheckable)
    );
}

#[test]
fn ids_tell_issuers_apart() {
    assert_eq!(id(Some("a"), "j"), id(Some("a"), "j"));
    assert_ne!(id(Some("a"), "j"), id(Some("b"), "j"));
    assert_ne!(id(Some(""), "j"), id(None, "j"));
    // The length prefix keeps the boundary between iss and jti.
    assert_ne!(id(Some("ab"), "c"), id(Some("a"), "bc"));
}

#[test]
fn shards_and_keys() {
    assert_eq!(protection(1).shards(), 1);
    assert_eq!(protection(1).shard_capacity(), 1);
    assert_eq!(protection(100).shards(), 100);
    assert_eq!(protection(100_000).shards(), SHARDS);
    assert_eq!(protection(100_000).shard_capacity(), 391);
    assert_eq!(protection(MAX_ENTRIES).shard_capacity(), 3907);
    let p = protection(100_000);
    assert_eq!(p.shard_key("okta", 7), "jwt_authn.replay.v1|okta|256|7");
    let mut id = [0u8; 16];
    id[0] = 1;
    id[1] = 2;
    assert_eq!(p.key_of("okta", &id), p.shard_key("okta", 0x0102 % 256));
}

// ---- The stored shard

#[test]
fn a_shard_round_trips_and_garbage_is_not_a_shard() {
    let mut shard = Shard::default();
    assert_eq!(
        shard.insert(id_of(1), 500, 100, 4),
        Insert::Recorded { evicted: 0 }
    );
    assert_eq!(
        shard.insert(id_of(2), 600, 100, 4),
        Insert::Recorded { evicted: 0 }
    );
    let bytes = shard.encode();
    assert_eq!(bytes.len(), HEADER_BYTES + 2 * ENTRY_BYTES);
    assert_eq!(Shard::decode(&bytes), Some(shard));
    assert_eq!(Shard::decode(&[]), Some(Shard::default()));
    assert_eq!(
        Shard::decode(&Shard::default().encode()),
        Some(Shard::default())
    );
    assert_eq!(Shard::decode(&bytes[..bytes.len() - 1]), None, "torn entry");
    assert_eq!(Shard::decode(&bytes[..5]), None, "short header");
    let mut other_format = bytes.clone();
    other_format[0] = 2;
    assert_eq!(Shard::decode(&other_format), None);
}

#[test]
fn a_seen_id_is_refused_until_its_expiry_and_grace() {
    let mut shard = Shard::default();
    assert_eq!(
        shard.insert(id_of(1), 500, 100, 4),
        Insert::Recorded { evicted: 0 }
    );
    assert_eq!(shard.insert(id_of(1), 500, 101, 4), Insert::Seen);
    assert_eq!(shard.insert(id_of(1), 500, 500 + GRACE_S, 4), Insert::Seen);
    // Past expiry and grace the entry is gone: the slot is free again.
    assert_eq!(
        shard.insert(id_of(1), 900, 501 + GRACE_S, 4),
        Insert::Recorded { evicted: 0 }
    );
    assert_eq!(shard.len(), 1);
}

#[test]
fn expired_entries_go_before_any_live_one_is_evicted() {
    let mut shard = Shard::default();
    shard.insert(id_of(1), 200, 100, 2);
    shard.insert(id_of(2), 300, 100, 2);
    // At 203 the first is past expiry and grace: dropped, nothing evicted.
    assert_eq!(
        shard.insert(id_of(3), 400, 203, 2),
        Insert::Recorded { evicted: 0 }
    );
    assert_eq!(shard.len(), 2);
}

#[test]
fn a_full_shard_evicts_the_entry_that_expires_first() {
    let mut shard = Shard::default();
    shard.insert(id_of(1), 300, 100, 3);
    shard.insert(id_of(2), 200, 100, 3);
    shard.insert(id_of(3), 400, 100, 3);
    assert_eq!(
        shard.insert(id_of(4), 500, 100, 3),
        Insert::Recorded { evicted: 1 }
    );
    assert_eq!(shard.len(), 3);
    // id 2 (expiring at 200) went; its expiry is the mark below which nothing new passes.
    assert_eq!(
        shard.insert(id_of(2), 200, 101, 3),
        Insert::Seen,
        "the evicted token"
    );
    assert_eq!(
        shard.insert(id_of(9), 200, 101, 3),
        Insert::Seen,
        "may be it"
    );
    // Next to go: id 1 (300).
    assert_eq!(
        shard.insert(id_of(5), 600, 101, 3),
        Insert::Recorded { evicted: 1 }
    );
    assert_eq!(shard.insert(id_of(1), 300, 102, 3), Insert::Seen);
    assert_eq!(
        shard.insert(id_of(3), 400, 102, 3),
        Insert::Seen,
        "still held"
    );
}

#[test]
fn a_token_that_would_go_first_from_a_full_shard_is_refused() {
    let mut shard = Shard::default();
    shard.insert(id_of(1), 300, 100, 2);
    shard.insert(id_of(2), 400, 100, 2);
    assert_eq!(shard.insert(id_of(3), 300, 100, 2), Insert::Seen);
    assert_eq!(shard.insert(id_of(3), 250, 100, 2), Insert::Seen);
    assert_eq!(shard.len(), 2);
    // Once the live entries expire, it could pass (had it not expired too).
    assert_eq!(
        shard.insert(id_of(3), 1000, 500, 2),
        Insert::Recorded { evicted: 0 }
    );
}

#[test]
fn the_eviction_mark_is_forgotten_once_passed() {
    let mut shard = Shard::default();
    shard.insert(id_of(1), 300, 100, 1);
    assert_eq!(
        shard.insert(id_of(2), 400, 100, 1),
        Insert::Recorded { evicted: 1 }
    );
    assert_eq!(shard.evicted_through, 300);
    shard.insert(id_of(3), 900, 300 + GRACE_S + 1, 2);
    assert_eq!(shard.evicted_through, 0);
}

#[test]
fn a_shard_never_holds_more_than_its_capacity() {
    let mut shard = Shard::default();
    for n in 0..200u64 {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&n.to_be_bytes());
        // Expiries out of order: some tokens are refused, the bound always holds.
        let expires = 10_000 + (n * 7919) % 1000;
        shard.insert(id, expires, 100, 16);
        assert!(shard.len() <= 16);
        assert!(shard.encode().len() <= HEADER_BYTES + 16 * ENTRY_BYTES);
    }
}

#[test]
fn a_smaller_capacity_shrinks_the_shard_on_the_next_insert() {
    let mut shard = Shard::default();
    for n in 1..=5 {
        shard.insert(id_of(n), 1000 + u64::from(n), 100, 8);
    }
    assert_eq!(
        shard.insert(id_of(9), 2000, 100, 2),
        Insert::Recorded { evicted: 4 }
    );
    assert_eq!(shard.len(), 2);
    assert_eq!(shard.evicted_through, 1004);
}

// ---- The compare-and-swap loop, with a fake store

#[derive(Default)]
struct FakeStore {
    values: HashMap<String, (Vec<u8>, u32)>,
    next_cas: u32,
    writes: usize,
    /// Answers every write with this instead, when set.
    refuse_writes: Option<WriteError>,
}

impl FakeStore {
    fn with_keys(p: &ReplayProtection, provider: &str) -> FakeStore {
        let mut store = FakeStore::default();
        for shard in 0..p.shards() {
            store.put(&p.shard_key(provider, shard), &Shard::default().encode());
        }
        store
    }

    fn put(&mut self, key: &str, value: &[u8]) {
        self.next_cas += 1;
        self.values
            .insert(key.to_string(), (value.to_vec(), self.next_cas));
    }
}

impl Store for FakeStore {
    fn read(&mut self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.values.get(key).cloned()
    }

    fn write(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), WriteError> {
        self.writes += 1;
        if let Some(e) = self.refuse_writes {
            return Err(e);
        }
        match self.values.get(key) {
            Some((_, current)) if *current != cas => Err(WriteError::CasMismatch),
            _ => {
                self.put(key, value);
                Ok(())
            }
        }
    }
}

/// A store where another worker spends `other` between this worker's read and its first write.
struct Racing<'s> {
    inner: &'s RefCell<FakeStore>,
    other: Option<Ticket>,
    protection: ReplayProtection,
    other_got: Option<Result<Spent, SpendError>>,
}

impl Store for Racing<'_> {
    fn read(&mut self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.inner.borrow_mut().read(key)
    }

    fn write(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), WriteError> {
        if let Some(other) = self.other.take() {
            let mut inner = self.inner.borrow_mut();
            self.other_got = Some(spend(&mut *inner, &self.protection, "p", &other, 100));
        }
        self.inner.borrow_mut().write(key, value, cas)
    }
}

fn ticket_of(jti: &str, expires: u64) -> Ticket {
    Ticket {
        provider: 0,
        id: id(Some("iss"), jti),
        expires,
        horizon: 1000,
    }
}

#[test]
fn a_ticket_is_spent_once() {
    let p = protection(1000);
    let mut store = FakeStore::with_keys(&p, "p");
    let t = ticket_of("j1", 500);
    assert_eq!(
        spend(&mut store, &p, "p", &t, 100),
        Ok(Spent::Fresh { evicted: 0 })
    );
    assert_eq!(spend(&mut store, &p, "p", &t, 101), Ok(Spent::Replayed));
    let other = ticket_of("j2", 500);
    assert_eq!(
        spend(&mut store, &p, "p", &other, 101),
        Ok(Spent::Fresh { evicted: 0 })
    );
    // Another provider's set is another set.
    let mut store_q = FakeStore::with_keys(&p, "q");
    assert_eq!(
        spend(&mut store_q, &p, "q", &t, 101),
        Ok(Spent::Fresh { evicted: 0 })
    );
}

#[test]
fn two_workers_racing_on_one_jti_give_exactly_one_fresh() {
    let p = protection(1000);
    let inner = RefCell::new(FakeStore::with_keys(&p, "p"));
    let t = ticket_of("j1", 500);
    let mut racing = Racing {
        inner: &inner,
        other: Some(t),
        protection: p.clone(),
        other_got: None,
    };
    // This worker read first, but the other wrote first: the CAS fails, the retry finds it.
    assert_eq!(spend(&mut racing, &p, "p", &t, 100), Ok(Spent::Replayed));
    assert_eq!(racing.other_got, Some(Ok(Spent::Fresh { evicted: 0 })));
}

#[test]
fn a_race_on_another_jti_of_the_same_shard_is_retried_and_both_pass() {
    let p = protection(2); // two shards of one entry each
    let inner = RefCell::new(FakeStore::with_keys(&p, "p"));
    // Two ids that land in the same shard of two.
    let (a, b) = {
        let mut found = Vec::new();
        for n in 0..100 {
            let t = ticket_of(&format!("j{n}"), 500);
            if p.key_of("p", &t.id) == p.shard_key("p", 0) {
                found.push(t);
            }
        }
        // The one that writes second expires later, so the shard of one keeps it.
        (
            Ticket {
                expires: 600,
                ..found[0]
            },
            found[1],
        )
    };
    let mut racing = Racing {
        inner: &inner,
        other: Some(b),
        protection: p.clone(),
        other_got: None,
    };
    assert_eq!(
        spend(&mut racing, &p, "p", &a, 100),
        Ok(Spent::Fresh { evicted: 1 }),
        "capacity 1 per shard: the retry evicts the other's entry"
    );
    assert_eq!(racing.other_got, Some(Ok(Spent::Fresh { evicted: 0 })));
    assert_eq!(
        inner.borrow().writes,
        3,
        "the other's write, a lost write, the retry"
    );
}

#[test]
fn a_store_that_keeps_losing_the_swap_refuses_after_the_tries() {
    let p = protection(1000);
    let mut store = FakeStore::with_keys(&p, "p");
    store.refuse_writes = Some(WriteError::CasMismatch);
    assert_eq!(
        spend(&mut store, &p, "p", &ticket_of("j", 500), 100),
        Err(SpendError::Contended)
    );
    assert_eq!(store.writes, CAS_TRIES);
}

#[test]
fn a_store_that_fails_refuses() {
    let p = protection(1000);
    let mut store = FakeStore::with_keys(&p, "p");
    store.refuse_writes = Some(WriteError::Failed);
    assert_eq!(
        spend(&mut store, &p, "p", &ticket_of("j", 500), 100),
        Err(SpendError::WriteFailed)
    );
    assert_eq!(store.writes, 1, "no retry");
    let mut missing = FakeStore::default();
    assert_eq!(
        spend(&mut missing, &p, "p", &ticket_of("j", 500), 100),
        Err(SpendError::Unreadable)
    );
    assert_eq!(
        missing.writes, 0,
        "a missing key is never written without a CAS"
    );
}

#[test]
fn an_unreadable_shard_refuses_until_the_horizon_then_heals() {
    let p = protection(1);
    let mut store = FakeStore::with_keys(&p, "p");
    let key = p.shard_key("p", 0);
    store.put(&key, b"not a shard");
    let t = Ticket {
        horizon: 400,
        ..ticket_of("j", 350)
    };
    assert_eq!(spend(&mut store, &p, "p", &t, 100), Ok(Spent::Replayed));
    let stored = Shard::decode(&store.values[&key].0).unwrap();
    assert_eq!(stored, Shard::unreadable(400));
    // Tokens from after the horizon pass.
    let later = ticket_of("k", 900);
    assert_eq!(
        spend(&mut store, &p, "p", &later, 403),
        Ok(Spent::Fresh { evicted: 0 })
    );
}

// ---- In the decision

const SECRET: &[u8] = b"a-demo-secret-that-is-long-enough-for-hs256";

fn hs256(claims: Value) -> String {
    let input = format!(
        "{}.{}",
        b64::encode(br#"{"alg":"HS256","kid":"k1"}"#),
        b64::encode(claims.to_string().as_bytes())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64::encode(&mac.finalize().into_bytes()))
}

fn config(replay: Option<Value>) -> Config {
    let jwks =
        json!({"keys": [{"kty": "oct", "kid": "k1", "alg": "HS256", "k": b64::encode(SECRET)}]})
            .to_string();
    let mut p = json!({"issuer": "https://iss", "local_jwks": {"inline_string": jwks}});
    if let Some(r) = replay {
        p["replay_protection"] = r;
    }
    let text = json!({"providers": {"p": p}, "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]}).to_string();
    Config::parse(&text).unwrap()
}

fn decide(c: &Config, token: &str, cache: Option<&RefCell<TokenCache>>) -> Decision {
    let headers = vec![
        (":path".to_string(), "/".to_string()),
        ("authorization".to_string(), format!("Bearer {token}")),
    ];
    let request = Request::new(&headers);
    authn::authenticate(authn::Input {
        cache,
        ..authn::Input::local(c, &request, 1000)
    })
    .decision
}

fn one_time(d: &Decision) -> Vec<Ticket> {
    match d {
        Decision::Allow(allowed) => allowed.one_time.clone(),
        other => panic!("not allowed: {other:?}"),
    }
}

#[test]
fn a_protected_provider_hands_out_a_ticket_per_verified_token() {
    let c = config(Some(
        json!({"max_entries": 10, "max_token_lifetime": "120s"}),
    ));
    let token = hs256(json!({"iss": "https://iss", "jti": "j1", "exp": 1100}));
    let tickets = one_time(&decide(&c, &token, None));
    assert_eq!(
        tickets,
        [Ticket {
            provider: 0,
            id: id(Some("https://iss"), "j1"),
            expires: 1160,
            horizon: 1000 + 120 + 120,
        }]
    );
    // A cached verdict still hands out the ticket: the cache never skips the replay check.
    let cache = RefCell::new(TokenCache::new(16));
    assert_eq!(one_time(&decide(&c, &token, Some(&cache))), tickets);
    assert_eq!(one_time(&decide(&c, &token, Some(&cache))), tickets);
}

#[test]
fn a_protected_provider_refuses_what_it_cannot_protect() {
    let c = config(Some(json!({"max_token_lifetime": "120s"})));
    for claims in [
        json!({"iss": "https://iss", "exp": 1100}),
        json!({"iss": "https://iss", "jti": "j"}),
        json!({"iss": "https://iss", "jti": "j", "exp": 1200}),
    ] {
        assert_eq!(
            decide(&c, &hs256(claims.clone()), None),
            Decision::Deny(AuthError::JwtReplayUncheckable),
            "{claims}"
        );
    }
}

#[test]
fn an_unverified_token_never_gets_a_ticket() {
    let c = config(Some(json!({})));
    let token = hs256(json!({"iss": "https://iss", "jti": "j1", "exp": 1100}));
    let (input, _) = token.rsplit_once('.').unwrap();
    let forged = format!("{input}.{}", b64::encode(&[0u8; 32]));
    assert_eq!(
        decide(&c, &forged, None),
        Decision::Deny(AuthError::JwtVerificationFail)
    );
}

#[test]
fn without_the_feature_nothing_changes() {
    let c = config(None);
    assert!(c.providers[0].replay_protection.is_none());
    let token = hs256(json!({"iss": "https://iss", "exp": 1100}));
    assert_eq!(one_time(&decide(&c, &token, None)), []);
}
