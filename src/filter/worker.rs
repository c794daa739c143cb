//! One worker VM's state, shared by its root context and its HTTP contexts: the configuration,
//! the remote key sets this worker has loaded from shared data, the requests waiting for keys,
//! and the callouts in flight. Also the routine that authenticates a request and carries out
//! the answer, used both when headers arrive and when a waiting request is resumed.

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use proxy_wasm_abi::{Action, LogLevel};

use crate::authn::shadow::{self, Shadow};
use crate::authn::{self, Decision, HeaderEdits, Input, KeyLookup, Outcome, RemoteKeys};
use crate::authn::model::{Config, HeaderFetch};
use crate::keys::remote::RemoteJwks;
use crate::error::AuthError;
use crate::keys::jwks::{self, KeySet};
use crate::keys::remote::{self, Meta};
use crate::request::matcher::Request;
use crate::authn::response;
use crate::authn::token_cache::TokenCache;

use super::host;
use super::metrics::Metrics;
use super::replay;
use super::root::TICK;

pub type Shared = Rc<RefCell<Worker>>;

/// Requests one worker holds while waiting for keys; more are refused at once, so a flood of
/// tokens cannot pile up paused streams.
const MAX_WAITERS: usize = 4096;

pub struct Worker {
    pub config: Option<Rc<Config>>,
    /// By provider index; `None` for providers with local keys.
    pub remotes: Vec<Option<Remote>>,
    pub waiters: Vec<Waiter>,
    pub callouts: Vec<Callout>,
    pub metrics: Metrics,
    /// The ids of `jwt_authn.allowed` and of `jwt_authn.provider.<name>.allowed` by provider
    /// index, defined once at configuration: an allowed request looks no metric up by name.
    allowed_metric: Option<u32>,
    provider_allowed_metrics: Vec<Option<u32>>,
    /// `jwt_authn.denied`'s id (defined at configuration) and `jwt_authn.denied.<Status>`'s,
    /// by status as they first occur: a refusal looks no metric up by name either.
    denied_metric: Option<u32>,
    denied_by_error: Vec<(AuthError, Option<u32>)>,
    /// The same for refusals a rule in shadow mode did not carry out (`jwt_authn.shadow.denied`,
    /// defined at configuration when a rule has `shadow`).
    shadow_denied_metric: Option<u32>,
    shadow_denied_by_error: Vec<(AuthError, Option<u32>)>,
    pub token_cache: RefCell<TokenCache>,
    /// The host clock as this worker's tick last read it (unix ms); `None` before the first
    /// tick. See [`process`].
    pub tick_clock_ms: Option<u64>,
}

pub struct Remote {
    pub name: String,
    pub issuer: Option<String>,
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
    /// The provider's record when the request started waiting; it is resumed when that changes.
    pub since: Meta,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalloutKind {
    Discovery,
    Jwks,
}

#[derive(Debug, Clone, Copy)]
pub struct Callout {
    pub token: u32,
    pub provider: usize,
    pub kind: CalloutKind,
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
        let meta = &remote.meta;
        match &remote.keys {
            Some(keys) if meta.keys_usable(&remote.jwks, self.now_ms) => RemoteKeys::Ready(keys),
            // No usable keys: wait only for a fetch under way or starting now.
            _ if key_wait(remote, self.now_ms, remote.jwks.first_fetch_wait_ms, None).is_some() => {
                RemoteKeys::Pending
            }
            _ => RemoteKeys::Failed,
        }
    }
}

/// Until when a request may wait for provider `remote`'s keys (see [`Meta::wait_for_fetch`]):
/// at most `limit_ms` from now (`first_fetch_wait` for first keys, none for an unknown kid),
/// or, for a woken request (`resumed`), until the deadline of the wait that just ended.
#[inline(never)]
fn key_wait(remote: &Remote, now_ms: u64, limit_ms: u64, resumed: Option<&Waiter>) -> Option<u64> {
    let deadline = resumed.map_or(now_ms.saturating_add(limit_ms), |w| w.deadline_ms);
    remote.meta.wait_for_fetch(
        &remote.jwks,
        now_ms,
        tick_ms(),
        deadline,
        resumed.map(|w| &w.since),
    )
}

fn tick_ms() -> u64 {
    u64::try_from(TICK.as_millis()).unwrap_or(u64::MAX)
}

impl Default for Worker {
    fn default() -> Worker {
        Worker {
            config: None,
            remotes: Vec::new(),
            waiters: Vec::new(),
            callouts: Vec::new(),
            metrics: Metrics::default(),
            allowed_metric: None,
            provider_allowed_metrics: Vec::new(),
            denied_metric: None,
            denied_by_error: Vec::new(),
            shadow_denied_metric: None,
            shadow_denied_by_error: Vec::new(),
            token_cache: RefCell::new(TokenCache::new(0)),
            tick_clock_ms: None,
        }
    }
}

impl Worker {
    pub fn configure(&mut self, config: Config) {
        self.token_cache = RefCell::new(TokenCache::new(config.token_cache_size));
        self.remotes = config
            .providers
            .iter()
            .map(|p| {
                p.remote().map(|r| Remote {
                    name: p.name.clone(),
                    issuer: p.issuer.clone(),
                    jwks: r.clone(),
                    meta_key: remote::meta_key(&p.name, r),
                    body_key: remote::body_key(&p.name, r),
                    meta: Meta::default(),
                    keys: None,
                    loaded_generation: 0,
                })
            })
            .collect();
        self.allowed_metric = self.metrics.counter("jwt_authn.allowed");
        self.denied_metric = self.metrics.counter("jwt_authn.denied");
        if config.rules.iter().any(|r| r.shadow.is_some()) {
            self.shadow_denied_metric = self.metrics.counter("jwt_authn.shadow.denied");
        }
        self.provider_allowed_metrics = config
            .providers
            .iter()
            .map(|p| {
                self.metrics
                    .counter(&format!("jwt_authn.provider.{}.allowed", p.name))
            })
            .collect();
        self.config = Some(Rc::new(config));
    }

    fn decide(
        &self,
        headers: &[(String, String)],
        route_name: Option<&str>,
        now_ms: u64,
    ) -> Option<Outcome> {
        let config = self.config.as_ref()?;
        let request = Request {
            headers,
            route_name,
        };
        Some(authn::authenticate(Input {
            config,
            request: &request,
            keys: &Lookup {
                worker: self,
                now_ms,
            },
            now: now_ms / 1000,
            cache: Some(&self.token_cache),
        }))
    }

    fn remote(&self, index: usize) -> Option<&Remote> {
        self.remotes.get(index).and_then(Option::as_ref)
    }

    pub fn provider_name(&self, index: usize) -> String {
        self.config
            .as_ref()
            .and_then(|c| c.providers.get(index))
            .map(|p| p.name.clone())
            .unwrap_or_default()
    }
}

/// Creates the shared record of each remote provider that has none, so every lease is taken
/// with a CAS: shared data has no create-if-absent, and a write without CAS always succeeds.
/// Called at configuration, which runs on Envoy's main thread before the workers' VMs start,
/// so the workers find the records there.
pub fn create_records(shared: &Shared) {
    let keys: Vec<String> = shared
        .borrow()
        .remotes
        .iter()
        .flatten()
        .map(|r| r.meta_key.clone())
        .collect();
    for key in keys {
        if host::shared(&key).0.is_none()
            && host::set_shared(&key, &Meta::default().encode(), None).is_err()
        {
            host::log(
                LogLevel::Warn,
                &format!("could not create the shared record {key}"),
            );
        }
    }
}

/// A provider's shared record and its CAS; an empty record when missing or unreadable.
fn read_meta(meta_key: &str) -> (Meta, Option<u32>) {
    let (bytes, cas) = host::shared(meta_key);
    (
        bytes.as_deref().and_then(Meta::decode).unwrap_or_default(),
        cas,
    )
}

/// Reads provider `index`'s shared record and loads a new key set when its generation moved;
/// returns the record and its CAS as read. Host calls happen outside any borrow of the worker.
pub fn sync_remote(shared: &Shared, index: usize) -> Option<(Meta, Option<u32>)> {
    let (meta_key, body_key, loaded) = shared
        .borrow()
        .remote(index)
        .map(|r| (r.meta_key.clone(), r.body_key.clone(), r.loaded_generation))?;
    let (meta, cas) = read_meta(&meta_key);
    let mut keys = None;
    if meta.has_keys() && meta.generation != loaded {
        if let Some(body) = host::shared(&body_key).0 {
            match std::str::from_utf8(&body)
                .map_err(|_| "not UTF-8".to_string())
                .and_then(|t| jwks::parse_jwks(t).map_err(|e| e.message))
            {
                Ok(set) => keys = Some(Rc::new(set)),
                Err(e) => host::log(
                    LogLevel::Warn,
                    &format!("shared JWKS for {meta_key} unusable: {e}"),
                ),
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
    Some((meta, cas))
}

/// How close to a verified token's expiry (`valid_through`) a decision made with the tick
/// clock is made again with the exact clock.
const EXACT_CLOCK_MARGIN_S: u64 = 30;

/// Authenticates the current request and carries out the answer. `context_id` is the HTTP
/// context (already the host's effective context); `resumed` is the wait being ended when a
/// paused request is finished from the root context.
///
/// The request is decided with the clock of the worker's last tick (at most [`TICK`] behind,
/// saving a host call per request) when there is one. That clock can only lag, so it can
/// never find an expired token valid by more than the lag: a decision is made again with
/// the exact clock when a verified token expires within [`EXACT_CLOCK_MARGIN_S`] of it, when
/// the refusal is about time (`exp`, `nbf`), or when any token was refused as not yet valid on
/// the way to another answer (another branch of a `requires_any` answering, or
/// `allow_missing_or_failed` letting the request through without the token's claims).
///
/// [`TICK`]: super::root::TICK
pub fn process(shared: &Shared, context_id: u32, resumed: Option<Waiter>) -> Action {
    let (tick_clock_ms, config) = {
        let worker = shared.borrow();
        (worker.tick_clock_ms, worker.config.clone())
    };
    // Only the headers the configuration reads (see `HeaderFetch`): one by name, or the map
    // with the others left as bytes.
    let headers = match config.as_deref().map(|c| &c.header_fetch) {
        Some(HeaderFetch::One(name)) => host::request_header(name),
        Some(fetch @ HeaderFetch::Named(_)) => host::request_headers_kept(&|name| fetch.keeps(name)),
        None => host::request_headers(),
    };
    let (Some(headers), Some(mut now_ms)) = (headers, tick_clock_ms.or_else(host::now_ms)) else {
        host::log(
            LogLevel::Error,
            "host did not provide request headers or the clock; refusing",
        );
        return finish_reply(500, &[], "jwt_authn: host error");
    };
    let uses_route_name = config.as_ref().is_some_and(|c| c.uses_route_name);
    let route_name = if uses_route_name {
        host::route_name()
    } else {
        None
    };
    let route_name = route_name.as_deref();
    let mut outcome = shared.borrow().decide(&headers, route_name, now_ms);
    if let Some(Outcome {
        decision: Decision::WaitForKeys(index) | Decision::RefetchKeys(index),
        ..
    }) = outcome
    {
        // Another worker may have stored keys since this one's last tick.
        sync_remote(shared, index);
        outcome = shared.borrow().decide(&headers, route_name, now_ms);
    }
    if tick_clock_ms.is_some() && needs_exact_clock(outcome.as_ref(), now_ms) {
        if let Some(exact_ms) = host::now_ms() {
            now_ms = exact_ms;
            outcome = shared.borrow().decide(&headers, route_name, now_ms);
        }
    }
    let read = Read {
        headers: &headers,
        all: config.is_none(),
        route_name,
        config: config.as_deref(),
        resumed: resumed.is_some(),
        now_ms,
    };
    match outcome.map(|outcome| outcome.decision) {
        None => {
            host::log(LogLevel::Error, "no configuration loaded; refusing");
            finish_reply(500, &[], "jwt_authn: not configured")
        }
        Some(Decision::Allow(allowed)) => {
            let edits = &allowed.edits;
            // One-time tokens are recorded before anything else is done for the request: a
            // token seen before, or a set that cannot be checked, refuses it.
            if !allowed.one_time.is_empty() {
                match replay::spend(shared, &allowed.one_time, now_ms / 1000) {
                    replay::Outcome::Fresh => {}
                    replay::Outcome::Replayed => return deny(shared, AuthError::JwtReplayed, read),
                    replay::Outcome::Unavailable => {
                        return finish_reply(500, &[], "jwt_authn: replay check unavailable")
                    }
                }
            }
            if !edit_headers(edits) {
                return finish_reply(500, &[], "jwt_authn: host error");
            }
            {
                let mut worker = shared.borrow_mut();
                let worker = &mut *worker;
                worker.metrics.count_id(worker.allowed_metric);
                for &index in &allowed.verified_by {
                    if let Some(id) = worker.provider_allowed_metrics.get(index) {
                        worker.metrics.count_id(*id);
                    }
                }
            }
            send_on(read.resumed)
        }
        Some(Decision::Deny(error)) => deny(shared, error, read),
        Some(Decision::Forbid(refusal)) => {
            refuse(shared, refusal.error, refusal.scope.as_deref(), read)
        }
        Some(Decision::WaitForKeys(index)) => {
            // No usable keys: wait within first_fetch_wait for a fetch that can bring them.
            let until = shared
                .borrow()
                .remote(index)
                .and_then(|r| key_wait(r, now_ms, r.jwks.first_fetch_wait_ms, resumed.as_ref()));
            hold_or_deny(
                shared,
                context_id,
                index,
                until,
                AuthError::JwksFetchFail,
                read,
            )
        }
        Some(Decision::RefetchKeys(index)) => {
            // A kid the keys lack: ask all workers for a refetch (once, rate-limited), then wait
            // for a fetch that can bring the key.
            if resumed.is_none() {
                ask_refetch(shared, index, now_ms);
            }
            let until = shared
                .borrow()
                .remote(index)
                .and_then(|r| key_wait(r, now_ms, u64::MAX, resumed.as_ref()));
            hold_or_deny(
                shared,
                context_id,
                index,
                until,
                AuthError::JwksKidAlgMismatch,
                read,
            )
        }
    }
}

/// Whether a decision made with the tick clock at `now_ms` (and whether a token was refused
/// as not yet valid on the way, which covers a refusal for `nbf`) must be made again with the
/// exact clock: see [`process`].
fn needs_exact_clock(outcome: Option<&Outcome>, now_ms: u64) -> bool {
    let Some(outcome) = outcome else {
        return false;
    };
    match &outcome.decision {
        _ if outcome.nbf_refused => true,
        Decision::Allow(allowed) => allowed
            .valid_through
            .is_some_and(|t| t <= (now_ms / 1000).saturating_add(EXACT_CLOCK_MARGIN_S)),
        Decision::Deny(AuthError::JwtExpired) => true,
        _ => false,
    }
}

// The waiting paths (`hold_or_deny`, `park`, `ask_refetch`, `key_wait`) stay out of line: rare
// per request, inlined they made `process` 8.6 KB for the host to compile at load.

/// Holds the request for provider `index`'s keys until `until` (see [`key_wait`]), or refuses
/// it with `error` when it may not wait or too many requests already do.
#[inline(never)]
fn hold_or_deny(
    shared: &Shared,
    context_id: u32,
    index: usize,
    until: Option<u64>,
    error: AuthError,
    read: Read,
) -> Action {
    match until {
        Some(until) if park(shared, context_id, index, until) => Action::Pause,
        _ => deny(shared, error, read),
    }
}

/// Holds the request until provider `index`'s record changes or `deadline_ms`.
#[inline(never)]
fn park(shared: &Shared, context_id: u32, index: usize, deadline_ms: u64) -> bool {
    let mut worker = shared.borrow_mut();
    if worker.waiters.len() >= MAX_WAITERS {
        return false;
    }
    let Some(since) = worker.remote(index).map(|r| r.meta) else {
        return false;
    };
    worker.waiters.push(Waiter {
        context_id,
        provider: index,
        deadline_ms,
        since,
    });
    true
}

/// Asks all workers for one refetch of provider `index`'s keys because a token named a `kid`
/// they lack, unless one was asked for within `unknown_kid_refetch_interval`: a flood of
/// random kids costs one fetch per window. Compare-and-swap, retried if another worker wrote
/// meanwhile. Leaves the worker's copy of the record up to date, for the decision to wait.
#[inline(never)]
fn ask_refetch(shared: &Shared, index: usize, now_ms: u64) {
    let Some((meta_key, jwks, name)) = shared
        .borrow()
        .remote(index)
        .map(|r| (r.meta_key.clone(), r.jwks.clone(), r.name.clone()))
    else {
        return;
    };
    for _ in 0..4 {
        let (meta, cas) = read_meta(&meta_key);
        if meta.refetch_wanted || !meta.may_refetch_for_unknown_kid(&jwks, now_ms) {
            // Nothing to ask; another worker may have written since `process` read the record.
            if shared
                .borrow()
                .remote(index)
                .is_some_and(|r| r.meta != meta)
            {
                sync_remote(shared, index);
            }
            return;
        }
        if host::set_shared(&meta_key, &meta.with_refetch_asked(now_ms).encode(), cas).is_ok() {
            host::log(
                LogLevel::Info,
                &format!("provider {name}: token names an unknown kid; refetching the JWKS"),
            );
            shared.borrow_mut().metrics.inc(&format!(
                "jwt_authn.provider.{name}.jwks_refetch_unknown_kid"
            ));
            sync_remote(shared, index);
            return;
        }
    }
}

/// Applies the header edits of a request that continues. A header the host would not remove
/// could be a claim header forged by the client, and one it would not add leaves the upstream
/// without the claims it relies on: either way the request must not be sent on (`false`).
fn edit_headers(edits: &HeaderEdits) -> bool {
    let removed = edits
        .remove
        .iter()
        .all(|name| host::remove_request_header(name).is_ok());
    let added = removed
        && edits
            .add
            .iter()
            .all(|(name, value)| host::add_request_header(name, value).is_ok());
    if !added {
        host::log(
            LogLevel::Error,
            "host refused to edit the request headers; refusing",
        );
    }
    added
}

/// Lets the request continue; a request that waited for keys is resumed.
fn send_on(resumed: bool) -> Action {
    if resumed && host::resume_request().is_err() {
        // Nothing else can send it on: the host's own timeout ends it.
        host::log(LogLevel::Error, "host refused to resume a request");
    }
    Action::Continue
}

/// The request a decision was made on: the headers read, whether they are all of them, and
/// what a refusal needs to find its rule again (`shadow`, `reply`) and to let it continue.
#[derive(Clone, Copy)]
struct Read<'h> {
    headers: &'h [(String, String)],
    all: bool,
    route_name: Option<&'h str>,
    config: Option<&'h Config>,
    resumed: bool,
    now_ms: u64,
}

impl<'h> Read<'h> {
    /// The headers a reply is built from (its `WWW-Authenticate` realm needs `:authority`,
    /// `:path`, `x-envoy-original-path` and the scheme): those read, or the whole map now when
    /// only one was (one host call; reading them one by one costs Envoy more).
    fn for_reply(self) -> Cow<'h, [(String, String)]> {
        if self.all {
            Cow::Borrowed(self.headers)
        } else {
            Cow::Owned(host::request_headers().unwrap_or_default())
        }
    }
}

fn deny(shared: &Shared, error: AuthError, read: Read) -> Action {
    // Formatted and handed over only when configured (`log_level`), so a flood of bad tokens
    // pays no host call for a line nobody asked for.
    if host::log_enabled(LogLevel::Debug) {
        host::log(
            LogLevel::Debug,
            &format!("request refused: {}", error.name()),
        );
    }
    refuse(shared, error, None, read)
}

/// Carries out a refusal: the native reply; unless the configuration shapes refusals
/// (`shapes_refusals`, one flag read) and the request's rule is in shadow mode (the request
/// continues) or has a `reply` (its statuses and body).
fn refuse(shared: &Shared, error: AuthError, scope: Option<&str>, read: Read) -> Action {
    let how = read.config.map(|config| {
        let request = Request {
            headers: read.headers,
            route_name: read.route_name,
        };
        (config, response::carried_out(config, &request))
    });
    let shape = match how {
        Some((config, response::CarriedOut::Shadow(shadow))) => {
            return shadow_pass(shared, config, shadow, error, read)
        }
        Some((_, response::CarriedOut::Reply(shape))) => shape,
        None => None,
    };
    count_denied(shared, error, false);
    let headers = read.for_reply();
    let reply = response::refusal(error, scope, &headers, shape);
    finish_reply(reply.status, &reply.headers, &reply.body)
}

/// A refusal in shadow mode: counted as `shadow.denied`, and the request continues with the
/// generated headers removed, the claims of the tokens that verify, and the shadow header.
fn shadow_pass(
    shared: &Shared,
    config: &Config,
    shadow: &Shadow,
    error: AuthError,
    read: Read,
) -> Action {
    count_denied(shared, error, true);
    // The exact clock: claims are forwarded only from tokens valid now.
    let now_ms = host::now_ms().unwrap_or(read.now_ms);
    let edits = {
        let worker = shared.borrow();
        let request = Request {
            headers: read.headers,
            route_name: read.route_name,
        };
        shadow::edits(
            config,
            shadow,
            &request,
            &Lookup {
                worker: &worker,
                now_ms,
            },
            now_ms / 1000,
            Some(&worker.token_cache),
            error,
        )
    };
    if !edit_headers(&edits) {
        return finish_reply(500, &[], "jwt_authn: host error");
    }
    send_on(read.resumed)
}

/// Counts a refusal (`shadow`: one not carried out) in total and by status.
fn count_denied(shared: &Shared, error: AuthError, shadow: bool) {
    let mut worker = shared.borrow_mut();
    let worker = &mut *worker;
    let (total, by_error, prefix) = if shadow {
        (
            worker.shadow_denied_metric,
            &mut worker.shadow_denied_by_error,
            "jwt_authn.shadow.denied",
        )
    } else {
        (
            worker.denied_metric,
            &mut worker.denied_by_error,
            "jwt_authn.denied",
        )
    };
    worker.metrics.count_id(total);
    let id = match by_error.iter().find(|(e, _)| *e == error) {
        Some((_, id)) => *id,
        None => {
            let id = worker
                .metrics
                .counter(&format!("{prefix}.{}", error.name()));
            by_error.push((error, id));
            id
        }
    };
    worker.metrics.count_id(id);
}

fn finish_reply(status: u32, headers: &[(String, String)], body: &str) -> Action {
    if host::send_reply(status, headers, body).is_err() {
        host::log(LogLevel::Error, "could not send the local reply");
    }
    Action::Pause
}

/// Finishes the waiting requests whose provider's record changed (new keys, or a fetch that
/// ended) or whose wait ran out.
pub fn wake_waiters(shared: &Shared, now_ms: u64) {
    let ready: Vec<Waiter> = {
        let mut worker = shared.borrow_mut();
        let waiters = std::mem::take(&mut worker.waiters);
        let (ready, waiting): (Vec<Waiter>, Vec<Waiter>) = waiters.into_iter().partition(|w| {
            now_ms >= w.deadline_ms
                || worker
                    .remote(w.provider)
                    .is_none_or(|r| r.meta.settled_since(&w.since))
        });
        worker.waiters = waiting;
        ready
    };
    for waiter in ready {
        if host::set_effective_context(waiter.context_id) {
            process(shared, waiter.context_id, Some(waiter));
        }
    }
}

pub fn forget_waiter(shared: &Shared, context_id: u32) {
    shared
        .borrow_mut()
        .waiters
        .retain(|w| w.context_id != context_id);
}

/// Starts a fetch for every remote provider that is due, taking the shared lease first so
/// that one worker fetches for all; also keeps the JWKS age gauges current.
pub fn start_due_fetches(shared: &Shared, now_ms: u64) {
    let count = shared.borrow().remotes.len();
    for index in 0..count {
        // One read of the record serves the key reload, the gauges and the lease's CAS.
        let Some((meta, cas)) = sync_remote(shared, index) else {
            continue;
        };
        if cas.is_none() {
            // No record yet: a write without CAS would always succeed, so two workers could
            // both take the lease. Create the record instead; the lease is taken, under CAS,
            // on a later tick.
            create_records(shared);
            continue;
        }
        let Some((name, jwks, meta_key)) = shared
            .borrow()
            .remote(index)
            .map(|r| (r.name.clone(), r.jwks.clone(), r.meta_key.clone()))
        else {
            continue;
        };
        {
            let mut worker = shared.borrow_mut();
            if meta.has_keys() {
                worker.metrics.set(
                    &format!("jwt_authn.provider.{name}.jwks_age_seconds"),
                    now_ms.saturating_sub(meta.fetched_at_ms) / 1000,
                );
            }
            // Keys past freshness + max_stale are not used: report them as none.
            let keys = if meta.keys_usable(&jwks, now_ms) {
                worker
                    .remote(index)
                    .and_then(|r| r.keys.as_ref())
                    .map_or(0, |k| k.len())
            } else {
                0
            };
            worker
                .metrics
                .set(&format!("jwt_authn.provider.{name}.jwks_keys"), keys as u64);
        }
        if !meta.fetch_due(now_ms) {
            continue;
        }
        if host::set_shared(&meta_key, &meta.leased(&jwks, now_ms).encode(), cas).is_err() {
            continue; // another worker took the lease first
        }
        // With discovery, `uri` is the discovery document; its `jwks_uri` is fetched next.
        let kind = if jwks.discovery {
            CalloutKind::Discovery
        } else {
            CalloutKind::Jwks
        };
        dispatch(
            shared,
            index,
            &name,
            &jwks.cluster,
            &jwks.authority,
            &jwks.path,
            jwks.timeout_ms,
            kind,
            now_ms,
        );
    }
}

#[allow(clippy::too_many_arguments)]
pub fn dispatch(
    shared: &Shared,
    index: usize,
    name: &str,
    cluster: &str,
    authority: &str,
    path: &str,
    timeout_ms: u64,
    kind: CalloutKind,
    now_ms: u64,
) {
    match host::dispatch_get(cluster, authority, path, Duration::from_millis(timeout_ms)) {
        Ok(token) => shared.borrow_mut().callouts.push(Callout {
            token,
            provider: index,
            kind,
        }),
        Err(status) => {
            host::log(LogLevel::Warn, &format!("provider {name}: cannot call cluster `{cluster}` ({status:?}); is the cluster defined?"));
            record_outcome(shared, index, None, now_ms, u64::from(now_ms as u32));
        }
    }
}

/// A successful fetch: the validated body, its key set and how long it stays fresh.
pub struct Fetched<'b> {
    pub body: &'b [u8],
    pub keys: Rc<KeySet>,
    pub lifetime_ms: u64,
}

/// Stores a fetch's outcome in shared data: new keys, or a failure that keeps the last good
/// keys and schedules a retry. Compare-and-swap, retried if another worker wrote meanwhile.
pub fn record_outcome(
    shared: &Shared,
    index: usize,
    fetched: Option<Fetched>,
    now_ms: u64,
    entropy: u64,
) {
    let Some((meta_key, body_key, jwks, name)) = shared.borrow().remote(index).map(|r| {
        (
            r.meta_key.clone(),
            r.body_key.clone(),
            r.jwks.clone(),
            r.name.clone(),
        )
    }) else {
        return;
    };
    if let Some(f) = &fetched {
        if host::set_shared(&body_key, f.body, None).is_err() {
            host::log(LogLevel::Warn, "could not store the JWKS in shared data");
        }
    }
    for _ in 0..8 {
        let (meta, cas) = read_meta(&meta_key);
        let next = match &fetched {
            Some(f) => meta.succeeded(now_ms, f.lifetime_ms),
            None => meta.failed(&jwks, now_ms, entropy),
        };
        if host::set_shared(&meta_key, &next.encode(), cas).is_ok() {
            let mut worker = shared.borrow_mut();
            let outcome = if fetched.is_some() {
                "jwks_fetch_success"
            } else {
                "jwks_fetch_failed"
            };
            worker
                .metrics
                .inc(&format!("jwt_authn.provider.{name}.{outcome}"));
            if let Some(Some(remote)) = worker.remotes.get_mut(index) {
                remote.meta = next;
                if let Some(f) = fetched {
                    remote.keys = Some(f.keys);
                    remote.loaded_generation = next.generation;
                }
            }
            return;
        }
    }
    host::log(LogLevel::Warn, "could not update the shared JWKS record");
}
