//! Replay protection in shared data: the adapter's side of `authn::replay`. The seen sets live
//! in proxy-wasm shared data, so every worker of one Envoy shares them; this file creates their
//! keys at configuration and records a request's tickets with compare-and-swap. It decides
//! nothing: the insert, the expiry and the eviction are `authn::replay`'s.

use proxy_wasm_abi::{LogLevel, Status};

use crate::authn::model::Config;
use crate::authn::replay::{self, Shard, SpendError, Spent, Store, Ticket, WriteError};

use super::host;
use super::worker::Shared;

/// Proxy-wasm shared data as a [`Store`].
struct SharedData;

impl Store for SharedData {
    fn read(&mut self, key: &str) -> Option<(Vec<u8>, u32)> {
        // A key with no CAS is missing (or the host refused): it cannot be written safely,
        // since a write without CAS always succeeds and could wipe another worker's entry.
        match host::shared(key) {
            (bytes, Some(cas)) => Some((bytes.unwrap_or_default(), cas)),
            (_, None) => None,
        }
    }

    fn write(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), WriteError> {
        match host::set_shared(key, value, Some(cas)) {
            Ok(()) => Ok(()),
            Err(Status::CAS_MISMATCH) => Err(WriteError::CasMismatch),
            Err(_) => Err(WriteError::Failed),
        }
    }
}

/// Creates every shard key of every protected provider that has none, so the request path
/// only ever writes with a CAS (shared data has no create-if-absent). Called at configuration,
/// which runs on Envoy's main thread before the workers' VMs serve.
pub fn create_sets(config: &Config) {
    let empty = Shard::default().encode();
    for provider in &config.providers {
        let Some(protection) = &provider.replay_protection else {
            continue;
        };
        for shard in 0..protection.shards() {
            let key = protection.shard_key(&provider.name, shard);
            if host::shared(&key).1.is_none() && host::set_shared(&key, &empty, None).is_err() {
                host::log(
                    LogLevel::Warn,
                    &format!("could not create the shared replay set {key}"),
                );
            }
        }
    }
}

/// What recording a request's one-time tokens came to.
pub enum Outcome {
    /// Every token was first used now.
    Fresh,
    /// A token was seen before: refuse the request.
    Replayed,
    /// The set could not be read or written: refuse the request (fail closed).
    Unavailable,
}

/// Records `tickets` (deduplicated: one token found twice in a request is one use) at `now`
/// (unix seconds); stops at the first one seen before.
pub fn spend(shared: &Shared, tickets: &[Ticket], now: u64) -> Outcome {
    let Some(config) = shared.borrow().config.clone() else {
        return Outcome::Unavailable;
    };
    for (i, ticket) in tickets.iter().enumerate() {
        if tickets.iter().take(i).any(|t| t == ticket) {
            continue;
        }
        let Some(provider) = config.providers.get(ticket.provider) else {
            return Outcome::Unavailable;
        };
        let Some(protection) = &provider.replay_protection else {
            return Outcome::Unavailable;
        };
        match replay::spend(&mut SharedData, protection, &provider.name, ticket, now) {
            Ok(Spent::Fresh { evicted: 0 }) => {}
            Ok(Spent::Fresh { evicted }) => {
                let name = format!("jwt_authn.provider.{}.replay_evicted", provider.name);
                let mut worker = shared.borrow_mut();
                for _ in 0..evicted {
                    worker.metrics.inc(&name);
                }
            }
            Ok(Spent::Replayed) => return Outcome::Replayed,
            Err(e) => {
                let why = match e {
                    SpendError::Unreadable => "cannot read its shared data",
                    SpendError::WriteFailed => "cannot write its shared data",
                    SpendError::Contended => "lost every compare-and-swap on its shared data",
                };
                host::log(
                    LogLevel::Warn,
                    &format!("provider {}: replay check {why}; refusing", provider.name),
                );
                return Outcome::Unavailable;
            }
        }
    }
    Outcome::Fresh
}
