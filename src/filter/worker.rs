//! One worker VM's state, shared by its root context and its HTTP contexts: the configuration,
//! the remote key sets this worker has loaded from shared data, and the requests waiting for
//! keys. Also the one routine that authenticates a request and carries out the answer, used
//! both when headers arrive and when a waiting request is resumed.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use proxy_wasm::types::{Action, LogLevel};

use crate::authn::{self, Decision, KeyLookup, RemoteKeys};
use crate::config::{Config, RemoteJwks};
use crate::error::AuthError;
use crate::jwks::{self, KeySet};
use crate::jwks_cache::{self, Meta};
use crate::matcher::Request;
use crate::response;

use super::host;

pub type Shared = Rc<RefCell<Worker>>;

#[derive(Default)]
pub struct Worker {
    pub config: Option<Rc<Config>>,
    /// By provider index; `None` for providers with local keys.
    pub remotes: Vec<Option<Remote>>,
    pub waiters: Vec<Waiter>,
    /// Callouts in flight: token → provider index.
    pub callouts: Vec<(u32, usize)>,
}

pub struct Remote {
    pub name: String,
    pub jwks: RemoteJwks,
    pub meta_key: String,
    pub body_key: String,
    pub meta: Meta,
    pub keys: Option<Rc<KeySet>>,
    pub loaded_generation: u64,
}

#[derive(Debug, Clone, Copy)]
pub struct Waiter {
    pub context_id: u32,
    pub provider: usize,
    pub deadline_ms: u64,
}

struct Lookup<'w> {
    worker: &'w Worker,
    now_ms: u64,
}

impl KeyLookup for Lookup<'_> {
    fn remote(&self, provider: usize) -> RemoteKeys<'_> {
        let Some(Some(remote)) = self.worker.remotes.get(provider) else {
            return RemoteKeys::Failed;
        };
        match &remote.keys {
            Some(keys) => RemoteKeys::Ready(keys),
            None if remote.meta.failures > 0 && !remote.meta.fetch_in_flight(self.now_ms) => RemoteKeys::Failed,
            None => RemoteKeys::Pending,
        }
    }
}

impl Worker {
    pub fn configure(&mut self, config: Config) {
        self.remotes = config
            .providers
            .iter()
            .map(|p| {
                p.remote().map(|r| Remote {
                    name: p.name.clone(),
                    jwks: r.clone(),
                    meta_key: jwks_cache::meta_key(&p.name, r),
                    body_key: jwks_cache::body_key(&p.name, r),
                    meta: Meta::default(),
                    keys: None,
                    loaded_generation: 0,
                })
            })
            .collect();
        self.config = Some(Rc::new(config));
    }

    fn decide(&self, headers: &[(String, String)], route_name: Option<&str>, now_ms: u64) -> Option<Decision> {
        let config = self.config.as_ref()?;
        let request = Request { headers, route_name };
        Some(authn::authenticate(config, &request, &Lookup { worker: self, now_ms }, now_ms / 1000))
    }

    /// Whether provider `index` has keys in this worker, or its last fetch failed.
    fn settled(&self, index: usize, now_ms: u64) -> bool {
        !matches!(Lookup { worker: self, now_ms }.remote(index), RemoteKeys::Pending)
    }
}

/// Reads provider `index`'s shared record and loads a new key set when its generation moved.
/// Host calls happen outside any borrow of the worker.
pub fn sync_remote(shared: &Shared, index: usize) {
    let Some((meta_key, body_key, loaded)) = shared.borrow().remotes.get(index).and_then(Option::as_ref).map(|r| (r.meta_key.clone(), r.body_key.clone(), r.loaded_generation)) else {
        return;
    };
    let meta = match host::shared(&meta_key).0 {
        Some(bytes) => Meta::decode(&bytes).unwrap_or_default(),
        None => Meta::default(),
    };
    let mut keys = None;
    if meta.has_keys() && meta.generation != loaded {
        if let Some(body) = host::shared(&body_key).0 {
            match std::str::from_utf8(&body).map_err(|_| "not UTF-8".to_string()).and_then(|t| jwks::parse_jwks(t).map_err(|e| e.message)) {
                Ok(set) => keys = Some(Rc::new(set)),
                Err(e) => host::log(LogLevel::Warn, &format!("shared JWKS for {meta_key} unusable: {e}")),
            }
        }
    }
    let mut worker = shared.borrow_mut();
    if let Some(Some(remote)) = worker.remotes.get_mut(index) {
        remote.meta = meta;
        if let Some(keys) = keys {
            remote.keys = Some(keys);
            remote.loaded_generation = meta.generation;
        }
    }
}

/// Authenticates the current request and carries out the answer. `context_id` is the HTTP
/// context (already the host's effective context); `resumed` is true when a paused request
/// is being finished from the root context.
pub fn process(shared: &Shared, context_id: u32, resumed: bool) -> Action {
    let (Some(headers), Some(now_ms)) = (host::request_headers(), host::now_ms()) else {
        host::log(LogLevel::Error, "host did not provide request headers or the clock; refusing");
        return finish_reply(500, &[], "host error", resumed);
    };
    let uses_route_name = shared.borrow().config.as_ref().is_some_and(|c| c.uses_route_name);
    let route_name = if uses_route_name { host::route_name() } else { None };
    let route_name = route_name.as_deref();
    let mut decision = shared.borrow().decide(&headers, route_name, now_ms);
    if let Some(Decision::WaitForKeys(index)) = decision {
        // Another worker may have stored keys since this one's last tick.
        sync_remote(shared, index);
        decision = shared.borrow().decide(&headers, route_name, now_ms);
    }
    match decision {
        None => {
            host::log(LogLevel::Error, "no configuration loaded; refusing");
            finish_reply(500, &[], "not configured", resumed)
        }
        Some(Decision::Allow(edits)) => {
            for name in &edits.remove {
                let _ = host::remove_request_header(name);
            }
            for (name, value) in &edits.add {
                let _ = host::add_request_header(name, value);
            }
            if resumed {
                let _ = host::resume_request();
            }
            Action::Continue
        }
        Some(Decision::Deny(error)) => deny(error, &headers, resumed),
        Some(Decision::Forbid(refusal)) => {
            host::log(LogLevel::Debug, &format!("request forbidden: {}", refusal.error.name()));
            let reply = response::forbid(refusal.error, refusal.scope.as_deref(), &headers);
            finish_reply(reply.status, &reply.headers, reply.body, resumed)
        }
        Some(Decision::WaitForKeys(index)) => {
            if resumed {
                // Still nothing after the wait: fail closed like native Envoy.
                return deny(AuthError::JwksFetchFail, &headers, true);
            }
            let mut worker = shared.borrow_mut();
            let wait_ms = worker.remotes.get(index).and_then(Option::as_ref).map_or(0, |r| r.jwks.timeout_ms.saturating_add(2_000));
            worker.waiters.push(Waiter { context_id, provider: index, deadline_ms: now_ms.saturating_add(wait_ms) });
            Action::Pause
        }
    }
}

fn deny(error: AuthError, headers: &[(String, String)], resumed: bool) -> Action {
    host::log(LogLevel::Debug, &format!("request refused: {}", error.name()));
    let reply = response::deny(error, headers);
    finish_reply(reply.status, &reply.headers, reply.body, resumed)
}

fn finish_reply(status: u32, headers: &[(String, String)], body: &str, _resumed: bool) -> Action {
    if host::send_reply(status, headers, body).is_err() {
        host::log(LogLevel::Error, "could not send the local reply");
    }
    Action::Pause
}

/// Finishes the waiting requests whose provider has settled (keys or a failed fetch) or whose
/// wait ran out.
pub fn wake_waiters(shared: &Shared, now_ms: u64) {
    let ready: Vec<Waiter> = {
        let mut worker = shared.borrow_mut();
        let waiters = std::mem::take(&mut worker.waiters);
        let (ready, waiting): (Vec<Waiter>, Vec<Waiter>) = waiters.into_iter().partition(|w| worker.settled(w.provider, now_ms) || now_ms >= w.deadline_ms);
        worker.waiters = waiting;
        ready
    };
    for waiter in ready {
        if host::set_effective_context(waiter.context_id) {
            process(shared, waiter.context_id, true);
        }
    }
}

pub fn forget_waiter(shared: &Shared, context_id: u32) {
    shared.borrow_mut().waiters.retain(|w| w.context_id != context_id);
}

/// Starts a fetch for every remote provider that is due, taking the shared lease first so
/// that one worker fetches for all.
pub fn start_due_fetches(shared: &Shared, now_ms: u64) {
    let count = shared.borrow().remotes.len();
    for index in 0..count {
        sync_remote(shared, index);
        let Some((name, jwks, meta_key)) = shared.borrow().remotes.get(index).and_then(Option::as_ref).map(|r| (r.name.clone(), r.jwks.clone(), r.meta_key.clone())) else {
            continue;
        };
        let (bytes, cas) = host::shared(&meta_key);
        let meta = bytes.as_deref().and_then(Meta::decode).unwrap_or_default();
        if !meta.fetch_due(&jwks, now_ms) {
            continue;
        }
        if host::set_shared(&meta_key, &meta.leased(&jwks, now_ms).encode(), cas).is_err() {
            continue; // another worker took the lease first
        }
        match host::dispatch_get(&jwks.cluster, &jwks.authority, &jwks.path, Duration::from_millis(jwks.timeout_ms)) {
            Ok(token) => shared.borrow_mut().callouts.push((token, index)),
            Err(status) => {
                host::log(LogLevel::Warn, &format!("provider {name}: cannot fetch JWKS from cluster `{}` ({status:?}); is the cluster defined?", jwks.cluster));
                record_outcome(shared, index, None, now_ms);
            }
        }
    }
}

/// Stores a fetch's outcome in shared data: new keys (`Some(body)`, already validated) or a
/// failure that keeps the last good keys. Compare-and-swap, retried if another worker wrote.
pub fn record_outcome(shared: &Shared, index: usize, body: Option<(&[u8], Rc<KeySet>)>, now_ms: u64) {
    let Some((meta_key, body_key)) = shared.borrow().remotes.get(index).and_then(Option::as_ref).map(|r| (r.meta_key.clone(), r.body_key.clone())) else {
        return;
    };
    if let Some((bytes, _)) = &body {
        if host::set_shared(&body_key, bytes, None).is_err() {
            host::log(LogLevel::Warn, "could not store the JWKS in shared data");
        }
    }
    for _ in 0..8 {
        let (current, cas) = host::shared(&meta_key);
        let meta = current.as_deref().and_then(Meta::decode).unwrap_or_default();
        let next = if body.is_some() { meta.succeeded(now_ms) } else { meta.failed(now_ms) };
        if host::set_shared(&meta_key, &next.encode(), cas).is_ok() {
            let mut worker = shared.borrow_mut();
            if let Some(Some(remote)) = worker.remotes.get_mut(index) {
                remote.meta = next;
                if let Some((_, keys)) = body {
                    remote.keys = Some(keys);
                    remote.loaded_generation = next.generation;
                }
            }
            return;
        }
    }
    host::log(LogLevel::Warn, "could not update the shared JWKS record");
}
