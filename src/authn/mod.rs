//! One request's authentication: which rule matches, what its requirement tree asks for
//! (providers, any/all, allow-missing), which tokens the request carries, each token against
//! its provider ([`verify`]: the checks that need no key, key selection, the signature), then
//! the rule's authorization. Pure: the clock, the request and the remote key sets are handed
//! in ([`Input`]), and a [`Decision`] comes out ([`Outcome`]).

/// A trace hook ([`trace`]): with the crate feature `trace`, the event is built and recorded
/// when a recording is on; without it, the hook is nothing (the event is not even compiled).
#[cfg(feature = "trace")]
macro_rules! note {
    ($event:expr) => {
        if $crate::authn::trace::on() {
            $crate::authn::trace::push($event)
        }
    };
}
#[cfg(not(feature = "trace"))]
macro_rules! note {
    ($event:expr) => {};
}

pub mod claims;
pub mod model;
pub mod policy;
pub mod replay;
pub mod response;
pub mod shadow;
pub mod token_cache;
#[cfg(feature = "trace")]
pub mod trace;
pub mod verify;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::authn::model::{Config, JwksSource, Provider, Requirement, MAX_TOKENS_PER_REQUEST};
use crate::authn::policy::Forbidden;
use crate::authn::replay::Ticket;
use crate::authn::token_cache::{TokenCache, Verdict};
#[cfg(feature = "trace")]
use crate::authn::trace::{Event, KeysState, Node, Result_};
use crate::error::AuthError;
use crate::keys::jwks::KeySet;
use crate::request::extract::{self, Location};
use crate::request::matcher::Request;
use crate::token::jws::{self, UnverifiedJwt};

pub use crate::authn::verify::{verify, verify_signature, Verified, MAX_KEYS_TRIED};

/// What is known of a remote provider's keys in this worker.
pub enum RemoteKeys<'k> {
    Ready(&'k KeySet),
    /// No keys yet and a fetch is due or under way: the request should wait.
    Pending,
    /// No keys and the last fetch failed.
    Failed,
}

/// Remote key sets by provider index, as the adapter holds them.
pub trait KeyLookup {
    fn remote(&self, provider: usize) -> RemoteKeys<'_>;
}

/// The key lookup of a configuration whose providers all have local keys (tests, benches,
/// fuzzers, tools): it holds no remote key set, so a remote provider's token is refused with
/// `JwksFetchFail`, as after a failed fetch.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalKeys;

impl KeyLookup for LocalKeys {
    fn remote(&self, _provider: usize) -> RemoteKeys<'_> {
        RemoteKeys::Failed
    }
}

/// What [`authenticate`] decides on: one request under one configuration at one time.
#[derive(Clone, Copy)]
pub struct Input<'a> {
    pub config: &'a Config,
    pub request: &'a Request<'a>,
    /// The remote providers' key sets (local ones are in `config`).
    pub keys: &'a dyn KeyLookup,
    /// Unix seconds.
    pub now: u64,
    /// The worker's cache of signature verdicts, if any.
    pub cache: Option<&'a RefCell<TokenCache>>,
}

impl<'a> Input<'a> {
    /// A request under a configuration with local keys only ([`LocalKeys`]), without a cache.
    pub fn local(config: &'a Config, request: &'a Request<'a>, now: u64) -> Input<'a> {
        Input {
            config,
            request,
            keys: &LocalKeys,
            now,
            cache: None,
        }
    }
}

/// What [`authenticate`] came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub decision: Decision,
    /// Whether a token was refused as not yet valid (`nbf`): the one refusal a later clock can
    /// undo (an expired token stays expired). Whatever the decision, even an `Allow` by another
    /// branch of a `requires_any` or by `allow_missing_or_failed`, it might differ a moment
    /// later, so a caller whose clock may lag decides again with the exact one when this is
    /// `true`.
    pub nbf_refused: bool,
}

/// Header changes for a request that may continue.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HeaderEdits {
    /// Lowercase names to remove (spoofable generated headers, forwarded-off token headers).
    pub remove: Vec<String>,
    /// Headers to add after the removals.
    pub add: Vec<(String, String)>,
}

/// A request that may continue: its header edits, and what the caller needs besides.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Allowed {
    pub edits: HeaderEdits,
    /// Indexes of the providers whose tokens verified (for per-provider metrics).
    pub verified_by: Vec<usize>,
    /// The last second at which every verified token still passes its time check (the earliest
    /// `exp` plus its provider's clock skew); `None` when none has an `exp`. A caller whose
    /// clock may lag a little (the worker's tick clock) decides again with the exact clock
    /// when this is near.
    pub valid_through: Option<u64>,
    /// The verified tokens of providers with `replay_protection`: the caller records each
    /// (`replay::spend`) and refuses the request if one was seen before.
    pub one_time: Vec<Ticket>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow(Allowed),
    /// The request is not authenticated: 401, or 403 for a wrong audience.
    Deny(AuthError),
    /// Authenticated but not authorized by the rule's `authorization`: 403.
    Forbid(Forbidden),
    /// Provider `usize` has no keys yet; ask again when it has.
    WaitForKeys(usize),
    /// A token names a `kid` provider `usize`'s keys lack: the identity provider may have
    /// rotated its keys. A refetch may be in order (rate-limited by the adapter); otherwise the
    /// answer is `JwksKidAlgMismatch`.
    RefetchKeys(usize),
}

/// What a requirement came to.
enum Step {
    Pass(Passed),
    Fail(AuthError),
    Wait(Waiting),
}

#[derive(Clone, Copy)]
enum Waiting {
    Keys(usize),
    Refetch(usize),
}

/// The verified tokens of a requirement: their header edits and providers (as they will be
/// allowed), and the tokens (for their claims, kept only when the rule authorizes on them).
/// Tokens are shared, not copied: a cache hit clones no claim.
#[derive(Default)]
struct Passed {
    allowed: Allowed,
    tokens: Vec<Rc<UnverifiedJwt>>,
}

impl Passed {
    fn merge(&mut self, other: Passed) {
        let (to, from) = (&mut self.allowed, other.allowed);
        join(&mut to.edits.remove, from.edits.remove);
        join(&mut to.edits.add, from.edits.add);
        join(&mut to.verified_by, from.verified_by);
        join(&mut to.one_time, from.one_time);
        join(&mut self.tokens, other.tokens);
        to.valid_through = match (to.valid_through, from.valid_through) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// `to.extend(from)`, but an empty `to` takes `from`'s allocation: merging one token's result
/// into an empty one (every request with one token) allocates nothing.
fn join<T>(to: &mut Vec<T>, from: Vec<T>) {
    if to.is_empty() {
        *to = from;
    } else {
        to.extend(from);
    }
}

struct Ctx<'a> {
    config: &'a Config,
    request: &'a Request<'a>,
    keys: &'a dyn KeyLookup,
    now: u64,
    cache: Option<&'a RefCell<TokenCache>>,
    /// Whether the rule authorizes on claims, and so needs the verified tokens kept.
    keep_tokens: bool,
    /// Set when a token is refused as not yet valid (see [`Outcome::nbf_refused`]).
    nbf_refused: &'a Cell<bool>,
}

/// Decides one request: the rule that matches it, its requirement tree, each token against
/// its provider, then the rule's authorization.
pub fn authenticate(input: Input) -> Outcome {
    let outcome = outcome_of(input);
    #[cfg(debug_assertions)]
    check_header_fetch(input, &outcome);
    outcome
}

fn outcome_of(input: Input) -> Outcome {
    let nbf_refused = Cell::new(false);
    let decision = decide(input, &nbf_refused);
    Outcome {
        decision,
        nbf_refused: nbf_refused.get(),
    }
}

/// Debug builds (every native test): the request decided again on the headers the adapter
/// reads for this configuration ([`HeaderFetch`](model::HeaderFetch)) comes to the same
/// outcome, so a header the decision reads cannot be missing from that list unnoticed. The
/// same cache is used: a verdict cached by the first decision serves the second. A trace
/// records the first decision only.
#[cfg(debug_assertions)]
fn check_header_fetch(input: Input, outcome: &Outcome) {
    let fetch = &input.config.header_fetch;
    if input.request.headers.iter().all(|(name, _)| fetch.keeps(name.as_bytes())) {
        return; // nothing left out: the same request (and no allocation for tests that count)
    }
    let kept: Vec<(String, String)> = input
        .request
        .headers
        .iter()
        .filter(|(name, _)| fetch.keeps(name.as_bytes()))
        .cloned()
        .collect();
    let request = Request {
        headers: &kept,
        route_name: input.request.route_name,
    };
    let again = || {
        outcome_of(Input {
            request: &request,
            ..input
        })
    };
    #[cfg(feature = "trace")]
    let again = trace::paused(again);
    #[cfg(not(feature = "trace"))]
    let again = again();
    debug_assert_eq!(&again, outcome, "{fetch:?} misses a header the decision reads");
}

fn decide(input: Input, nbf_refused: &Cell<bool>) -> Decision {
    let Input {
        config,
        request,
        keys,
        now,
        cache,
    } = input;
    let mut edits = HeaderEdits {
        remove: config.generated_headers.clone(),
        ..HeaderEdits::default()
    };
    // No token to verify: the generated headers are removed, nothing else.
    let unverified = |edits: HeaderEdits| {
        Decision::Allow(Allowed {
            edits,
            ..Allowed::default()
        })
    };
    if config.bypass_cors_preflight && is_cors_preflight(request) {
        note!(Event::CorsPreflight);
        return unverified(edits);
    }
    let rule = config.rule(request);
    note!(Event::Rule(rule.and_then(|r| config
        .rules
        .iter()
        .position(|x| std::ptr::eq(x, r)))));
    let Some(rule) = rule else {
        return unverified(edits);
    };
    let Some(requirement) = &rule.requires else {
        note!(Event::NoRequirement);
        return unverified(edits);
    };
    let ctx = Ctx {
        config,
        request,
        keys,
        now,
        cache,
        keep_tokens: rule.authorization.is_some(),
        nbf_refused,
    };
    let passed = match ctx.eval(requirement) {
        Step::Pass(passed) => passed,
        Step::Fail(e) => return Decision::Deny(e),
        Step::Wait(Waiting::Keys(index)) => return Decision::WaitForKeys(index),
        Step::Wait(Waiting::Refetch(index)) => return Decision::RefetchKeys(index),
    };
    if let Some(authorization) = &rule.authorization {
        // The identity that authorizes is any one verified token that satisfies everything.
        let mut first_refusal = None;
        let granted =
            passed
                .tokens
                .iter()
                .any(|jwt| match authorization.check(&jwt.claims, request) {
                    Ok(()) => {
                        note!(Event::Authorization {
                            pass: true,
                            refusal: None
                        });
                        true
                    }
                    Err(refusal) => {
                        note!(Event::Authorization {
                            pass: false,
                            refusal: Some(refusal.error)
                        });
                        first_refusal.get_or_insert(refusal);
                        false
                    }
                });
        if !granted {
            return match first_refusal {
                Some(refusal) => Decision::Forbid(refusal),
                // `allow_missing` let a request without a token this far: nothing to authorize.
                None => Decision::Deny(AuthError::JwtMissed),
            };
        }
    }
    let Allowed {
        edits: HeaderEdits { remove, add },
        verified_by,
        valid_through,
        one_time,
    } = passed.allowed;
    if edits.remove.is_empty() && remove.len() <= 1 {
        edits.remove = remove; // nothing to deduplicate: keep its allocation
    } else {
        for name in remove {
            if !edits.remove.contains(&name) {
                edits.remove.push(name);
            }
        }
    }
    edits.add = add;
    Decision::Allow(Allowed {
        edits,
        verified_by,
        valid_through,
        one_time,
    })
}

/// `OPTIONS` with `Origin` and `Access-Control-Request-Method`, as native's check.
fn is_cors_preflight(request: &Request) -> bool {
    request.header(":method") == Some("OPTIONS")
        && request.header("origin").is_some_and(|o| !o.is_empty())
        && request
            .header("access-control-request-method")
            .is_some_and(|m| !m.is_empty())
}

impl Ctx<'_> {
    // Without the trace, only a name for `eval_node`: inlined, so the module is as before.
    #[cfg_attr(not(feature = "trace"), inline(always))]
    fn eval(&self, requirement: &Requirement) -> Step {
        note!(Event::Enter(Node::of(requirement)));
        let step = self.eval_node(requirement);
        note!(Event::Leave(match &step {
            Step::Pass(_) => Result_::Pass,
            Step::Fail(e) => Result_::Fail(*e),
            Step::Wait(Waiting::Keys(i) | Waiting::Refetch(i)) => Result_::Wait(*i),
        }));
        step
    }

    fn eval_node(&self, requirement: &Requirement) -> Step {
        match requirement {
            Requirement::Provider { index, audiences } => {
                self.provider(*index, audiences.as_deref())
            }
            Requirement::Any(children) => {
                let (mut error, mut wait) = (None, None);
                for child in children {
                    match self.eval(child) {
                        Step::Pass(passed) => return Step::Pass(passed),
                        Step::Fail(e) => error = Some(more_telling(error, e)),
                        Step::Wait(i) => wait = wait.or(Some(i)),
                    }
                }
                match (wait, error) {
                    (Some(i), _) => Step::Wait(i),
                    (None, e) => Step::Fail(e.unwrap_or(AuthError::JwtMissed)),
                }
            }
            Requirement::All(children) => {
                let (mut all, mut wait) = (Passed::default(), None);
                for child in children {
                    match self.eval(child) {
                        Step::Pass(passed) => all.merge(passed),
                        Step::Fail(e) => return Step::Fail(e),
                        Step::Wait(i) => wait = wait.or(Some(i)),
                    }
                }
                match wait {
                    Some(i) => Step::Wait(i),
                    None => Step::Pass(all),
                }
            }
            Requirement::AllowMissing(providers) => self.by_issuer(providers, false),
            Requirement::AllowMissingOrFailed(providers) => self.by_issuer(providers, true),
        }
    }

    /// A token's claims refused it with `e`.
    fn claims_failed(&self, e: AuthError) -> Step {
        if e == AuthError::JwtNotYetValid {
            self.nbf_refused.set(true);
        }
        Step::Fail(e)
    }

    /// Every token at the provider's locations must verify with it.
    fn provider(&self, index: usize, audiences: Option<&[String]>) -> Step {
        let Some(provider) = self.config.providers.get(index) else {
            return Step::Fail(AuthError::JwksNoValidKeys);
        };
        let found = extract::tokens(&provider.locations, self.request.headers);
        note!(Event::Found(trace_found(&found)));
        if found.is_empty() {
            return Step::Fail(AuthError::JwtMissed);
        }
        if found.len() > MAX_TOKENS_PER_REQUEST {
            note!(Event::TooManyTokens(found.len()));
            return Step::Fail(AuthError::JwtMultipleTokens);
        }
        let mut all = Passed::default();
        // Last found first, as native verifies them: when several fail, its failure is the one
        // reported.
        for token in found.iter().rev() {
            match self.token(index, audiences, token.location, &token.token, None) {
                Step::Pass(passed) => all.merge(passed),
                other => return other,
            }
        }
        Step::Pass(all)
    }

    /// `allow_missing` and `allow_missing_or_failed`: the tokens found at any of `providers`'
    /// locations, each verified with the provider its `iss` names (or the first provider
    /// without an issuer), so a token is never tried against every provider in turn.
    fn by_issuer(&self, providers: &[usize], allow_failed: bool) -> Step {
        let mut locations: Vec<&Location> = Vec::new();
        for p in providers
            .iter()
            .filter_map(|i| self.config.providers.get(*i))
        {
            for l in &p.locations {
                if !locations.contains(&l) {
                    locations.push(l);
                }
            }
        }
        let mut found: Vec<extract::Found> = Vec::new();
        for location in locations {
            for f in extract::tokens(std::slice::from_ref(location), self.request.headers) {
                if !found.iter().any(|g| g.token == f.token) {
                    found.push(f);
                }
            }
        }
        note!(Event::Found(trace_found(&found)));
        if found.len() > MAX_TOKENS_PER_REQUEST && !allow_failed {
            note!(Event::TooManyTokens(found.len()));
            return Step::Fail(AuthError::JwtMultipleTokens);
        }
        let mut all = Passed::default();
        for token in found.iter().take(MAX_TOKENS_PER_REQUEST).rev() {
            let step = match jws::parse(&token.token) {
                Err(e) => {
                    note!(Event::Token {
                        provider: None,
                        location: token.location.clone(),
                        token: token.token.to_string()
                    });
                    note!(Event::ParseFailed(e));
                    Step::Fail(e)
                }
                Ok(jwt) => {
                    let by_iss = providers.iter().copied().find(|i| {
                        self.config
                            .providers
                            .get(*i)
                            .is_some_and(|p| p.issuer.is_some() && claims::issuer_allowed(p, &jwt))
                    });
                    let fallback = || {
                        providers.iter().copied().find(|i| {
                            self.config
                                .providers
                                .get(*i)
                                .is_some_and(|p| p.issuer.is_none())
                        })
                    };
                    let picked = by_iss.or_else(fallback);
                    note!(Event::ByIssuer {
                        iss: jwt.iss.clone(),
                        provider: picked
                    });
                    match picked {
                        Some(index) => {
                            self.token(index, None, token.location, &token.token, Some(jwt))
                        }
                        None => {
                            note!(Event::Token {
                                provider: None,
                                location: token.location.clone(),
                                token: token.token.to_string()
                            });
                            Step::Fail(AuthError::JwtUnknownIssuer)
                        }
                    }
                }
            };
            match step {
                Step::Pass(passed) => all.merge(passed),
                Step::Fail(_e) if allow_failed => {
                    note!(Event::Ignored(_e));
                }
                other => return other,
            }
        }
        Step::Pass(all)
    }

    /// Claims, then keys, then the signature of one token for one provider: [`verify`]'s
    /// checks in its order, with the provider's keys looked up (remote ones may not be there
    /// yet) between the claims and the signature. A cached verdict for this token, provider and
    /// key set saves the parse and the signature; the claims are checked on every request.
    fn token(
        &self,
        index: usize,
        audiences: Option<&[String]>,
        location: &Location,
        token: &str,
        parsed: Option<UnverifiedJwt>,
    ) -> Step {
        let Some(provider) = self.config.providers.get(index) else {
            return Step::Fail(AuthError::JwksNoValidKeys);
        };
        let audiences = audiences.unwrap_or(&provider.audiences);
        note!(Event::Token {
            provider: Some(index),
            location: location.clone(),
            token: token.to_string()
        });
        let keys = match &provider.jwks {
            JwksSource::Local(set) => Ok(set.as_ref()),
            JwksSource::Empty => Err(Step::Fail(AuthError::JwksNoValidKeys)),
            JwksSource::Remote(_) => match self.keys.remote(index) {
                RemoteKeys::Ready(set) => Ok(set),
                RemoteKeys::Pending => Err(Step::Wait(Waiting::Keys(index))),
                RemoteKeys::Failed => Err(Step::Fail(AuthError::JwksFetchFail)),
            },
        };
        // A token longer than the provider's `jwt_max_token_size` is never cached.
        let cache = self
            .cache
            .filter(|_| token.len() <= provider.max_cached_token_bytes);
        let cached = match (&keys, cache) {
            (Ok(set), Some(cache)) => cache.borrow_mut().get(token, index, set.id, self.now),
            _ => None,
        };
        if let Some(verdict) = cached {
            if let Err(e) = claims::check(provider, audiences, &verdict.jwt, self.now) {
                return self.claims_failed(e);
            }
            return match verdict.signature {
                Ok(()) => self.passed(index, provider, location, &verdict.jwt),
                Err(e) => Step::Fail(e),
            };
        }
        let jwt = match parsed.map_or_else(|| jws::parse(token), Ok) {
            Ok(jwt) => jwt,
            Err(e) => {
                note!(Event::ParseFailed(e));
                return Step::Fail(e);
            }
        };
        // Native order: every check that needs no key comes before the keys.
        if let Err(e) = claims::check(provider, audiences, &jwt, self.now) {
            return self.claims_failed(e);
        }
        note!(Event::Keys(match (&keys, &provider.jwks) {
            (Ok(set), JwksSource::Local(_)) => KeysState::Local(set.len()),
            (Ok(set), _) => KeysState::Remote(set.len()),
            (Err(_), JwksSource::Empty) => KeysState::Empty,
            (Err(Step::Wait(_)), _) => KeysState::Pending,
            (Err(_), _) => KeysState::Unavailable,
        }));
        let key_set = match keys {
            Ok(set) => set,
            Err(step) => return step,
        };
        let signature = verify_signature(&jwt, key_set);
        if signature == Err(AuthError::JwksKidAlgMismatch) {
            // An unknown `kid` at a remote provider may mean the keys were rotated.
            let unknown_kid = jwt
                .kid
                .as_ref()
                .is_some_and(|kid| !key_set.keys.iter().any(|k| k.kid.as_ref() == Some(kid)));
            if unknown_kid && matches!(provider.jwks, JwksSource::Remote(_)) {
                note!(Event::UnknownKid(jwt.kid.clone().unwrap_or_default()));
                return Step::Wait(Waiting::Refetch(index));
            }
        }
        let jwt = Rc::new(jwt);
        // Worth remembering: good signatures, and refusals that cost a signature check.
        if let (
            Some(cache),
            Ok(())
            | Err(AuthError::JwtVerificationFail | AuthError::JwtEd25519SignatureWrongLength),
        ) = (cache, &signature)
        {
            cache.borrow_mut().insert(
                index,
                key_set.id,
                Verdict {
                    jwt: jwt.clone(),
                    signature,
                },
                self.now,
            );
        }
        match signature {
            Ok(()) => self.passed(index, provider, location, &jwt),
            Err(e) => Step::Fail(e),
        }
    }

    fn passed(
        &self,
        index: usize,
        provider: &Provider,
        location: &Location,
        jwt: &Rc<UnverifiedJwt>,
    ) -> Step {
        let mut passed = Passed::default();
        // After the signature, cached or not: only a verified token may take a `jti`'s slot,
        // and a cached verdict still goes through the replay check.
        if let Some(protection) = &provider.replay_protection {
            match replay::ticket(protection, index, jwt, self.now, provider.clock_skew_seconds) {
                Ok(ticket) => {
                    note!(Event::Replay(Ok(())));
                    passed.allowed.one_time.push(ticket)
                }
                Err(e) => {
                    note!(Event::Replay(Err(e)));
                    return Step::Fail(e);
                }
            }
        }
        passed.allowed.verified_by.push(index);
        passed.allowed.valid_through = verify::valid_through(provider, jwt);
        allow_edits(provider, location, jwt, &mut passed.allowed.edits);
        if self.keep_tokens {
            passed.tokens.push(Rc::clone(jwt));
        }
        Step::Pass(passed)
    }
}

/// The tokens found, for a trace.
#[cfg(feature = "trace")]
fn trace_found(found: &[extract::Found]) -> Vec<(Location, String)> {
    found
        .iter()
        .map(|f| (f.location.clone(), f.token.to_string()))
        .collect()
}

/// For `requires_any`, the error to report when every branch failed, as native Envoy picks it:
/// a real failure beats "issuer not configured", which beats "missing"; among equals the last
/// branch's.
fn more_telling(current: Option<AuthError>, next: AuthError) -> AuthError {
    let rank = |e: AuthError| match e {
        AuthError::JwtMissed => 0,
        AuthError::JwtUnknownIssuer => 1,
        _ => 2,
    };
    match current {
        Some(c) if rank(c) > rank(next) => c,
        _ => next,
    }
}

fn allow_edits(
    provider: &Provider,
    location: &Location,
    jwt: &UnverifiedJwt,
    edits: &mut HeaderEdits,
) {
    if let Some(header) = &provider.forward_payload_header {
        // The payload segment as the token carries it (padded if it came padded), as native.
        let mut payload = jwt.payload_b64().to_string();
        if provider.pad_forward_payload_header {
            while !payload.len().is_multiple_of(4) {
                payload.push('=');
            }
        }
        edits.add.push((header.clone(), payload));
    }
    for c in &provider.claim_to_headers {
        if let Some(value) = claims::header_value(&jwt.claims, &c.claim_name) {
            edits.add.push((c.header_name.clone(), value));
        }
    }
    if !provider.forward {
        if let Location::Header { name, .. } = location {
            if !edits.remove.contains(name) {
                edits.remove.push(name.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests;
