//! One request's authentication: which rule matches, what its requirement tree asks for
//! (providers, any/all, allow-missing), which tokens the request carries, the checks that need
//! no key, key selection, the signature, then the rule's authorization. Pure: the clock, the
//! request and the remote key sets are handed in, and a [`Decision`] comes out.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::claims;
use crate::config::{Config, JwksSource, Location, Provider, Requirement, MAX_TOKENS_PER_REQUEST};
use crate::crypto::SigError;
use crate::error::AuthError;
use crate::extract;
use crate::jwks::KeySet;
use crate::jwt::{self, UnverifiedJwt};
use crate::matcher::Request;
use crate::policy::Forbidden;
use crate::token_cache::{TokenCache, Verdict};

/// Signature checks one token may cost at most when its `kid` does not single out a key.
pub const MAX_KEYS_TRIED: usize = 8;

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

/// Header changes for a request that may continue.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HeaderEdits {
    /// Lowercase names to remove (spoofable generated headers, forwarded-off token headers).
    pub remove: Vec<String>,
    /// Headers to add after the removals.
    pub add: Vec<(String, String)>,
    /// Indexes of the providers whose tokens verified (for per-provider metrics).
    pub verified_by: Vec<usize>,
    /// The last second at which every verified token still passes its time check (the earliest
    /// `exp` plus its provider's clock skew); `None` when none has an `exp`. A caller whose
    /// clock may lag a little (the worker's tick clock) decides again with the exact clock
    /// when this is near.
    pub valid_through: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow(HeaderEdits),
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

/// The verified tokens of a requirement: their header edits, tokens (for their claims, kept
/// only when the rule authorizes on them) and providers. Tokens are shared, not copied: a
/// cache hit clones no claim.
#[derive(Default)]
struct Passed {
    edits: HeaderEdits,
    tokens: Vec<Rc<UnverifiedJwt>>,
}

impl Passed {
    fn merge(&mut self, other: Passed) {
        join(&mut self.edits.remove, other.edits.remove);
        join(&mut self.edits.add, other.edits.add);
        join(&mut self.edits.verified_by, other.edits.verified_by);
        join(&mut self.tokens, other.tokens);
        self.edits.valid_through = match (self.edits.valid_through, other.edits.valid_through) {
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
    /// Set when a token is refused as not yet valid (see [`authenticate_noting_nbf`]).
    nbf_refused: &'a Cell<bool>,
}

pub fn authenticate(
    config: &Config,
    request: &Request,
    keys: &dyn KeyLookup,
    now: u64,
) -> Decision {
    authenticate_cached(config, request, keys, now, None)
}

/// [`authenticate`] with the worker's cache of signature verdicts.
pub fn authenticate_cached(
    config: &Config,
    request: &Request,
    keys: &dyn KeyLookup,
    now: u64,
    cache: Option<&RefCell<TokenCache>>,
) -> Decision {
    authenticate_noting_nbf(config, request, keys, now, cache).0
}

/// [`authenticate_cached`], and whether a token was refused as not yet valid (`nbf`): the one
/// refusal a later clock can undo (an expired token stays expired). Whatever the decision,
/// even an `Allow` by another branch of a `requires_any` or by `allow_missing_or_failed`, it
/// might differ a moment later, so a caller whose clock may lag decides again with the exact
/// one when this is `true`.
pub fn authenticate_noting_nbf(
    config: &Config,
    request: &Request,
    keys: &dyn KeyLookup,
    now: u64,
    cache: Option<&RefCell<TokenCache>>,
) -> (Decision, bool) {
    let nbf_refused = Cell::new(false);
    let decision = decide(config, request, keys, now, cache, &nbf_refused);
    (decision, nbf_refused.get())
}

fn decide(
    config: &Config,
    request: &Request,
    keys: &dyn KeyLookup,
    now: u64,
    cache: Option<&RefCell<TokenCache>>,
    nbf_refused: &Cell<bool>,
) -> Decision {
    let mut edits = HeaderEdits {
        remove: config.generated_headers.clone(),
        ..HeaderEdits::default()
    };
    if config.bypass_cors_preflight && is_cors_preflight(request) {
        return Decision::Allow(edits);
    }
    let Some(rule) = config
        .rules
        .iter()
        .find(|rule| rule.matcher.matches(request))
    else {
        return Decision::Allow(edits);
    };
    let Some(requirement) = &rule.requires else {
        return Decision::Allow(edits);
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
                    Ok(()) => true,
                    Err(refusal) => {
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
    if edits.remove.is_empty() && passed.edits.remove.len() <= 1 {
        edits.remove = passed.edits.remove; // nothing to deduplicate: keep its allocation
    } else {
        for name in passed.edits.remove {
            if !edits.remove.contains(&name) {
                edits.remove.push(name);
            }
        }
    }
    edits.add = passed.edits.add;
    edits.verified_by = passed.edits.verified_by;
    edits.valid_through = passed.edits.valid_through;
    Decision::Allow(edits)
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
    fn eval(&self, requirement: &Requirement) -> Step {
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
        if found.is_empty() {
            return Step::Fail(AuthError::JwtMissed);
        }
        if found.len() > MAX_TOKENS_PER_REQUEST {
            return Step::Fail(AuthError::JwtMultipleTokens);
        }
        let mut all = Passed::default();
        // Last found first, as native verifies them: when several fail, its failure is the one
        // reported.
        for token in found.iter().rev() {
            match self.verify(index, audiences, token.location, &token.token, None) {
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
        if found.len() > MAX_TOKENS_PER_REQUEST && !allow_failed {
            return Step::Fail(AuthError::JwtMultipleTokens);
        }
        let mut all = Passed::default();
        for token in found.iter().take(MAX_TOKENS_PER_REQUEST).rev() {
            let step = match jwt::parse(&token.token) {
                Err(e) => Step::Fail(e),
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
                    match by_iss.or_else(fallback) {
                        Some(index) => {
                            self.verify(index, None, token.location, &token.token, Some(jwt))
                        }
                        None => Step::Fail(AuthError::JwtUnknownIssuer),
                    }
                }
            };
            match step {
                Step::Pass(passed) => all.merge(passed),
                Step::Fail(_) if allow_failed => {}
                other => return other,
            }
        }
        Step::Pass(all)
    }

    /// Claims, then keys, then the signature of one token for one provider. A cached verdict
    /// for this token, provider and key set saves the parse and the signature; the claims are
    /// checked on every request.
    fn verify(
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
                Ok(()) => Step::Pass(self.passed(index, provider, location, &verdict.jwt)),
                Err(e) => Step::Fail(e),
            };
        }
        let jwt = match parsed.map_or_else(|| jwt::parse(token), Ok) {
            Ok(jwt) => jwt,
            Err(e) => return Step::Fail(e),
        };
        // Native order: every check that needs no key comes before the keys.
        if let Err(e) = claims::check(provider, audiences, &jwt, self.now) {
            return self.claims_failed(e);
        }
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
                token,
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
            Ok(()) => Step::Pass(self.passed(index, provider, location, &jwt)),
            Err(e) => Step::Fail(e),
        }
    }

    fn passed(
        &self,
        index: usize,
        provider: &Provider,
        location: &Location,
        jwt: &Rc<UnverifiedJwt>,
    ) -> Passed {
        let mut passed = Passed::default();
        passed.edits.verified_by.push(index);
        passed.edits.valid_through = jwt
            .exp
            .map(|exp| exp.saturating_add(provider.clock_skew_seconds));
        allow_edits(provider, location, jwt, &mut passed.edits);
        if self.keep_tokens {
            passed.tokens.push(Rc::clone(jwt));
        }
        passed
    }
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

/// Native key selection: a key whose `kid` differs from the token's is skipped (either side
/// may lack one), so is a key whose `alg` differs; if nothing is left the answer is "no key
/// to match kid or alg", otherwise a failed check is "verification fails". A key of the wrong
/// type for the algorithm never verifies (an RSA public key is never an HMAC secret).
pub fn verify_signature(jwt: &UnverifiedJwt, keys: &KeySet) -> Result<(), AuthError> {
    let mut matched = false;
    let mut tried = 0;
    for jwk in &keys.keys {
        if let (Some(want), Some(have)) = (&jwt.kid, &jwk.kid) {
            if want != have {
                continue;
            }
        }
        if jwk.alg.is_some_and(|alg| alg != jwt.alg) {
            continue;
        }
        matched = true;
        if !jwk.key.supports(jwt.alg) {
            continue;
        }
        if tried == MAX_KEYS_TRIED {
            break;
        }
        tried += 1;
        match jwk
            .key
            .verify(jwt.alg, jwt.signing_input.as_bytes(), &jwt.signature)
        {
            Ok(()) => return Ok(()),
            Err(SigError::WrongLength) => return Err(AuthError::JwtEd25519SignatureWrongLength),
            Err(SigError::Invalid) => {}
        }
    }
    Err(if matched {
        AuthError::JwtVerificationFail
    } else {
        AuthError::JwksKidAlgMismatch
    })
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
mod tests {
    use super::*;
    use crate::b64;
    use hmac::{Hmac, KeyInit, Mac};
    use serde_json::{json, Value};
    use sha2::Sha256;

    const SECRET: &[u8] = b"a-demo-secret-that-is-long-enough-for-hs256";

    struct NoRemote;
    impl KeyLookup for NoRemote {
        fn remote(&self, _: usize) -> RemoteKeys<'_> {
            RemoteKeys::Pending
        }
    }

    fn hs256(header: Value, claims: Value) -> String {
        let input = format!(
            "{}.{}",
            b64::encode(header.to_string().as_bytes()),
            b64::encode(claims.to_string().as_bytes())
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
        mac.update(input.as_bytes());
        format!("{input}.{}", b64::encode(&mac.finalize().into_bytes()))
    }

    fn config(provider_extra: Value) -> Config {
        let jwks = json!({"keys": [{"kty": "oct", "kid": "k1", "alg": "HS256", "k": b64::encode(SECRET)}]}).to_string();
        let mut p = json!({"issuer": "https://iss", "local_jwks": {"inline_string": jwks}, "claim_to_headers": [{"header_name": "x-sub", "claim_name": "sub"}]});
        for (k, v) in provider_extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        let text = json!({"providers": {"p": p, "r": {"remote_jwks": {"http_uri": {"uri": "http://idp/jwks", "cluster": "idp"}}}},
            "rules": [{"match": {"prefix": "/public"}}, {"match": {"prefix": "/remote"}, "requires": {"provider_name": "r"}}, {"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]})
        .to_string();
        Config::parse(&text).unwrap()
    }

    fn request(path: &str, auth: Option<&str>) -> Vec<(String, String)> {
        let mut h = vec![
            (":path".to_string(), path.to_string()),
            ("x-sub".to_string(), "spoofed".to_string()),
        ];
        if let Some(a) = auth {
            h.push(("authorization".into(), a.into()));
        }
        h
    }

    fn good() -> String {
        hs256(
            json!({"alg": "HS256", "kid": "k1"}),
            json!({"iss": "https://iss", "sub": "alice", "exp": 2000}),
        )
    }

    #[test]
    fn allows_and_edits_headers() {
        let c = config(json!({}));
        let d = authenticate(
            &c,
            &Request::new(&request("/api", Some(&format!("Bearer {}", good())))),
            &NoRemote,
            1000,
        );
        assert_eq!(
            d,
            Decision::Allow(HeaderEdits {
                remove: vec!["x-sub".into(), "authorization".into()],
                add: vec![("x-sub".into(), "alice".into())],
                verified_by: vec![0],
                // exp 2000 plus the default 60 s of clock skew
                valid_through: Some(2060),
            })
        );
    }

    #[test]
    fn valid_through_is_the_earliest_expiry_and_none_without_exp() {
        let c = config(json!({"clock_skew_seconds": 5}));
        let allow = |token: &str| match authenticate(
            &c,
            &Request::new(&request("/api", Some(&format!("Bearer {token}")))),
            &NoRemote,
            1000,
        ) {
            Decision::Allow(edits) => edits.valid_through,
            other => panic!("{other:?}"),
        };
        assert_eq!(allow(&good()), Some(2005));
        let no_exp = hs256(
            json!({"alg": "HS256", "kid": "k1"}),
            json!({"iss": "https://iss", "sub": "alice"}),
        );
        assert_eq!(allow(&no_exp), None);
    }

    #[test]
    fn public_route_still_strips_generated_headers() {
        let c = config(json!({}));
        assert_eq!(
            authenticate(
                &c,
                &Request::new(&request("/public", None)),
                &NoRemote,
                1000
            ),
            Decision::Allow(HeaderEdits {
                remove: vec!["x-sub".into()],
                ..HeaderEdits::default()
            })
        );
    }

    #[test]
    fn forward_keeps_the_token_and_payload_is_forwarded() {
        let c = config(json!({"forward": true, "forward_payload_header": "x-payload"}));
        let token = good();
        let Decision::Allow(edits) = authenticate(
            &c,
            &Request::new(&request("/api", Some(&format!("Bearer {token}")))),
            &NoRemote,
            1000,
        ) else {
            panic!()
        };
        assert!(!edits.remove.contains(&"authorization".to_string()));
        assert_eq!(
            edits.add[0],
            (
                "x-payload".into(),
                token.split('.').nth(1).unwrap().to_string()
            )
        );
    }

    #[test]
    fn failures() {
        let c = config(json!({"audiences": ["api"]}));
        let deny = |auth: Option<String>| {
            authenticate(
                &c,
                &Request::new(&request("/api", auth.as_deref())),
                &NoRemote,
                1000,
            )
        };
        assert_eq!(deny(None), Decision::Deny(AuthError::JwtMissed));
        assert_eq!(
            deny(Some(format!("Bearer {}", good()))),
            Decision::Deny(AuthError::JwtAudienceNotAllowed)
        );
        let claims = json!({"iss": "https://iss", "aud": "api", "exp": 2000});
        let ok = hs256(json!({"alg": "HS256", "kid": "k1"}), claims.clone());
        assert!(matches!(
            deny(Some(format!("Bearer {ok}"))),
            Decision::Allow(_)
        ));
        let wrong_kid = hs256(json!({"alg": "HS256", "kid": "k2"}), claims.clone());
        assert_eq!(
            deny(Some(format!("Bearer {wrong_kid}"))),
            Decision::Deny(AuthError::JwksKidAlgMismatch)
        );
        let wrong_alg = hs256(json!({"alg": "HS384", "kid": "k1"}), claims.clone());
        assert_eq!(
            deny(Some(format!("Bearer {wrong_alg}"))),
            Decision::Deny(AuthError::JwksKidAlgMismatch)
        );
        let (head, sig) = ok.rsplit_once('.').unwrap();
        let mut bytes = b64::decode(sig).unwrap();
        bytes[0] ^= 1;
        assert_eq!(
            deny(Some(format!("Bearer {head}.{}", b64::encode(&bytes)))),
            Decision::Deny(AuthError::JwtVerificationFail)
        );
        let two = format!("Bearer {ok}");
        let headers = request(&format!("/api?access_token={wrong_kid}"), Some(&two));
        assert_eq!(
            authenticate(&c, &Request::new(&headers), &NoRemote, 1000),
            Decision::Deny(AuthError::JwksKidAlgMismatch),
            "every token must verify"
        );
    }

    #[test]
    fn unknown_kid_at_a_remote_provider_asks_for_a_refetch() {
        let c = config(json!({}));
        let keys = crate::jwks::parse_jwks(
            &json!({"keys": [{"kty": "oct", "kid": "k1", "k": b64::encode(SECRET)}]}).to_string(),
        )
        .unwrap();
        struct Ready(KeySet);
        impl KeyLookup for Ready {
            fn remote(&self, _: usize) -> RemoteKeys<'_> {
                RemoteKeys::Ready(&self.0)
            }
        }
        let ready = Ready(keys);
        let known = hs256(
            json!({"alg": "HS256", "kid": "k1"}),
            json!({"iss": "https://iss"}),
        );
        let rotated = hs256(
            json!({"alg": "HS256", "kid": "k9"}),
            json!({"iss": "https://iss"}),
        );
        assert!(matches!(
            authenticate(
                &c,
                &Request::new(&request("/remote", Some(&format!("Bearer {known}")))),
                &ready,
                1000
            ),
            Decision::Allow(_)
        ));
        assert_eq!(
            authenticate(
                &c,
                &Request::new(&request("/remote", Some(&format!("Bearer {rotated}")))),
                &ready,
                1000
            ),
            Decision::RefetchKeys(1)
        );
        assert_eq!(
            authenticate(
                &c,
                &Request::new(&request("/api", Some(&format!("Bearer {rotated}")))),
                &ready,
                1000
            ),
            Decision::Deny(AuthError::JwksKidAlgMismatch),
            "local keys never refetch"
        );
    }

    #[test]
    fn remote_provider_waits_for_keys() {
        let c = config(json!({}));
        assert_eq!(
            authenticate(
                &c,
                &Request::new(&request("/remote", Some(&format!("Bearer {}", good())))),
                &NoRemote,
                1000
            ),
            Decision::WaitForKeys(1)
        );
        struct Failed;
        impl KeyLookup for Failed {
            fn remote(&self, _: usize) -> RemoteKeys<'_> {
                RemoteKeys::Failed
            }
        }
        assert_eq!(
            authenticate(
                &c,
                &Request::new(&request("/remote", Some(&format!("Bearer {}", good())))),
                &Failed,
                1000
            ),
            Decision::Deny(AuthError::JwksFetchFail)
        );
        assert_eq!(
            authenticate(
                &c,
                &Request::new(&request("/remote", Some("Bearer x.y"))),
                &Failed,
                1000
            ),
            Decision::Deny(AuthError::JwtBadFormat),
            "cheap checks first"
        );
    }

    /// Two providers with their own secrets and issuers, for the requirement forms.
    fn two_providers(rules: Value, extra: Value) -> Config {
        let jwks = |secret: &[u8], kid: &str| {
            json!({"keys": [{"kty": "oct", "kid": kid, "k": b64::encode(secret)}]}).to_string()
        };
        let mut root = json!({
            "providers": {
                "a": {"issuer": "https://a", "local_jwks": {"inline_string": jwks(SECRET, "ka")}, "claim_to_headers": [{"header_name": "x-a-sub", "claim_name": "sub"}]},
                "b": {"issuer": "https://b", "local_jwks": {"inline_string": jwks(SECRET_B, "kb")}, "from_headers": [{"name": "x-b-token"}], "claim_to_headers": [{"header_name": "x-b-sub", "claim_name": "sub"}]}
            },
            "rules": rules
        });
        for (k, v) in extra.as_object().unwrap() {
            root[k] = v.clone();
        }
        Config::parse(&root.to_string()).unwrap()
    }

    const SECRET_B: &[u8] = b"another-secret-for-provider-b-that-is-long";

    fn token_a(claims: Value) -> String {
        hs256(json!({"alg": "HS256", "kid": "ka"}), claims)
    }

    fn token_b(claims: Value) -> String {
        let input = format!(
            "{}.{}",
            b64::encode(br#"{"alg":"HS256","kid":"kb"}"#),
            b64::encode(claims.to_string().as_bytes())
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET_B).unwrap();
        mac.update(input.as_bytes());
        format!("{input}.{}", b64::encode(&mac.finalize().into_bytes()))
    }

    fn run(c: &Config, headers: &[(&str, &str)]) -> Decision {
        run_noting(c, headers).0
    }

    /// [`run`] through [`authenticate_noting_nbf`]: the decision and the `nbf` note.
    fn run_noting(c: &Config, headers: &[(&str, &str)]) -> (Decision, bool) {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        authenticate_noting_nbf(c, &Request::new(&headers), &NoRemote, 1000, None)
    }

    fn allowed(d: &Decision) -> bool {
        matches!(d, Decision::Allow(_))
    }

    #[test]
    fn requires_any_all_and_allow_missing() {
        let a = format!(
            "Bearer {}",
            token_a(json!({"iss": "https://a", "sub": "alice"}))
        );
        let b = token_b(json!({"iss": "https://b", "sub": "bob"}));
        let expired_a = format!("Bearer {}", token_a(json!({"iss": "https://a", "exp": 1})));
        let any = two_providers(
            json!([{"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [{"provider_name": "a"}, {"provider_name": "b"}]}}}]),
            json!({}),
        );
        assert!(allowed(&run(
            &any,
            &[(":path", "/"), ("authorization", &a)]
        )));
        assert!(allowed(&run(&any, &[(":path", "/"), ("x-b-token", &b)])));
        assert_eq!(
            run(&any, &[(":path", "/")]),
            Decision::Deny(AuthError::JwtMissed)
        );
        assert_eq!(
            run(&any, &[(":path", "/"), ("authorization", &expired_a)]),
            Decision::Deny(AuthError::JwtExpired),
            "the telling error, not b's 'missing'"
        );

        let all = two_providers(
            json!([{"match": {"prefix": "/"}, "requires": {"requires_all": {"requirements": [{"provider_name": "a"}, {"provider_name": "b"}]}}}]),
            json!({}),
        );
        assert_eq!(
            run(&all, &[(":path", "/"), ("authorization", &a)]),
            Decision::Deny(AuthError::JwtMissed)
        );
        let Decision::Allow(edits) = run(
            &all,
            &[(":path", "/"), ("authorization", &a), ("x-b-token", &b)],
        ) else {
            panic!()
        };
        assert_eq!(
            edits.add,
            vec![
                ("x-a-sub".to_string(), "alice".to_string()),
                ("x-b-sub".to_string(), "bob".to_string())
            ]
        );

        let optional = two_providers(
            json!([{"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [{"provider_name": "a"}, {"allow_missing": {}}]}}}]),
            json!({}),
        );
        assert!(allowed(&run(&optional, &[(":path", "/")])));
        assert!(allowed(&run(
            &optional,
            &[(":path", "/"), ("authorization", &a)]
        )));
        assert_eq!(
            run(&optional, &[(":path", "/"), ("authorization", &expired_a)]),
            Decision::Deny(AuthError::JwtExpired),
            "a token, if sent, must be good"
        );

        let lenient = two_providers(
            json!([{"match": {"prefix": "/"}, "requires": {"allow_missing_or_failed": {}}}]),
            json!({}),
        );
        let Decision::Allow(edits) =
            run(&lenient, &[(":path", "/"), ("authorization", &expired_a)])
        else {
            panic!()
        };
        assert!(edits.add.is_empty());
        let Decision::Allow(edits) = run(&lenient, &[(":path", "/"), ("x-b-token", &b)]) else {
            panic!()
        };
        assert_eq!(
            edits.add,
            vec![("x-b-sub".to_string(), "bob".to_string())],
            "picked by iss"
        );
    }

    #[test]
    fn a_refusal_for_nbf_is_noted_whatever_the_answer() {
        let a = |claims: Value| format!("Bearer {}", token_a(claims));
        let early_a = a(json!({"iss": "https://a", "nbf": 2000}));
        let good_a = a(json!({"iss": "https://a"}));
        let expired_a = a(json!({"iss": "https://a", "exp": 1}));
        let b = token_b(json!({"iss": "https://b", "sub": "bob"}));
        let any = two_providers(
            json!([{"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [{"provider_name": "a"}, {"provider_name": "b"}]}}}]),
            json!({}),
        );
        let (decision, noted) = run_noting(
            &any,
            &[
                (":path", "/"),
                ("authorization", &early_a),
                ("x-b-token", &b),
            ],
        );
        assert!(allowed(&decision) && noted, "b answered, a might have");
        assert_eq!(
            run_noting(&any, &[(":path", "/"), ("authorization", &early_a)]),
            (Decision::Deny(AuthError::JwtNotYetValid), true)
        );
        let lenient = two_providers(
            json!([{"match": {"prefix": "/"}, "requires": {"allow_missing_or_failed": {}}}]),
            json!({}),
        );
        let (decision, noted) =
            run_noting(&lenient, &[(":path", "/"), ("authorization", &early_a)]);
        assert!(
            allowed(&decision) && noted,
            "let through without a's claims"
        );
        for token in [&good_a, &expired_a] {
            let (_, noted) = run_noting(&any, &[(":path", "/"), ("authorization", token)]);
            assert!(!noted, "only nbf can pass later");
        }
    }

    #[test]
    fn provider_and_audiences_and_requirement_map() {
        let c = two_providers(
            json!([{"match": {"prefix": "/orders"}, "requirement_name": "orders"}, {"match": {"prefix": "/"}, "requires": {"provider_and_audiences": {"provider_name": "a", "audiences": ["web"]}}}]),
            json!({"requirement_map": {"orders": {"provider_and_audiences": {"provider_name": "a", "audiences": ["orders-api"]}}}}),
        );
        let t = |aud: &str| {
            format!(
                "Bearer {}",
                token_a(json!({"iss": "https://a", "aud": aud}))
            )
        };
        assert!(allowed(&run(
            &c,
            &[(":path", "/orders/1"), ("authorization", &t("orders-api"))]
        )));
        assert_eq!(
            run(&c, &[(":path", "/orders/1"), ("authorization", &t("web"))]),
            Decision::Deny(AuthError::JwtAudienceNotAllowed)
        );
        assert!(allowed(&run(
            &c,
            &[(":path", "/x"), ("authorization", &t("web"))]
        )));
    }

    #[test]
    fn cors_preflight_bypass() {
        let c = two_providers(
            json!([{"match": {"prefix": "/"}, "requires": {"provider_name": "a"}}]),
            json!({"bypass_cors_preflight": true}),
        );
        let preflight = [
            (":path", "/"),
            (":method", "OPTIONS"),
            ("origin", "https://app"),
            ("access-control-request-method", "GET"),
        ];
        assert!(allowed(&run(&c, &preflight)));
        assert_eq!(
            run(
                &c,
                &[
                    (":path", "/"),
                    (":method", "OPTIONS"),
                    ("origin", "https://app")
                ]
            ),
            Decision::Deny(AuthError::JwtMissed)
        );
    }

    #[test]
    fn authorization_runs_after_verification() {
        let c = two_providers(
            json!([{"match": {"prefix": "/"}, "requires": {"provider_name": "a"}, "authorization": {"scopes": ["orders:read"], "claims": [{"claim": "realm_access.roles", "contains_any": ["admin"]}]}}]),
            json!({}),
        );
        let t = |claims: Value| format!("Bearer {}", token_a(claims));
        assert!(allowed(&run(
            &c,
            &[
                (":path", "/"),
                (
                    "authorization",
                    &t(
                        json!({"iss": "https://a", "scope": "orders:read", "realm_access": {"roles": ["admin"]}})
                    )
                )
            ]
        )));
        let Decision::Forbid(f) = run(
            &c,
            &[
                (":path", "/"),
                (
                    "authorization",
                    &t(json!({"iss": "https://a", "scope": "orders:write"})),
                ),
            ],
        ) else {
            panic!()
        };
        assert_eq!(
            (f.error, f.scope.as_deref()),
            (AuthError::JwtInsufficientScope, Some("orders:read"))
        );
        let Decision::Forbid(f) = run(
            &c,
            &[
                (":path", "/"),
                (
                    "authorization",
                    &t(json!({"iss": "https://a", "scope": "orders:read"})),
                ),
            ],
        ) else {
            panic!()
        };
        assert_eq!(f.error, AuthError::JwtClaimsNotAllowed);
        // A forged token never reaches authorization.
        let forged = format!("Bearer {}", token_b(json!({"iss": "https://a", "scope": "orders:read", "realm_access": {"roles": ["admin"]}})).replace("kb", "ka"));
        assert!(matches!(
            run(&c, &[(":path", "/"), ("authorization", &forged)]),
            Decision::Deny(_)
        ));
    }

    #[test]
    fn tokens_over_the_providers_jwt_max_token_size_are_not_cached() {
        let token = format!("Bearer {}", good());
        let cached_after_one = |extra: Value| {
            let c = config(extra);
            let cache = RefCell::new(TokenCache::new(16));
            let request = request("/api", Some(&token));
            let d = authenticate_cached(&c, &Request::new(&request), &NoRemote, 1000, Some(&cache));
            assert!(matches!(d, Decision::Allow(_)));
            let len = cache.borrow().len();
            len
        };
        assert_eq!(cached_after_one(json!({})), 1);
        let short = json!({"jwt_cache_config": {"jwt_max_token_size": 20}});
        assert_eq!(cached_after_one(short), 0);
    }

    #[test]
    fn cached_verdicts_still_check_claims_and_die_with_their_keys() {
        let c = config(json!({}));
        let cache = RefCell::new(TokenCache::new(16));
        let token = format!("Bearer {}", good()); // exp 2000
        let run = |now: u64| {
            authenticate_cached(
                &c,
                &Request::new(&request("/api", Some(&token))),
                &NoRemote,
                now,
                Some(&cache),
            )
        };
        assert!(matches!(run(1000), Decision::Allow(_)));
        assert_eq!(cache.borrow().len(), 1);
        assert!(matches!(run(1500), Decision::Allow(_)), "hit");
        assert_eq!(
            run(3000),
            Decision::Deny(AuthError::JwtExpired),
            "claims are checked on every hit"
        );
        let (head, sig) = good()
            .rsplit_once('.')
            .map(|(h, s)| (h.to_string(), s.to_string()))
            .unwrap();
        let mut bytes = b64::decode(&sig).unwrap();
        bytes[0] ^= 1;
        let forged = format!("Bearer {head}.{}", b64::encode(&bytes));
        let run_forged = || {
            authenticate_cached(
                &c,
                &Request::new(&request("/api", Some(&forged))),
                &NoRemote,
                1000,
                Some(&cache),
            )
        };
        assert_eq!(run_forged(), Decision::Deny(AuthError::JwtVerificationFail));
        assert_eq!(
            run_forged(),
            Decision::Deny(AuthError::JwtVerificationFail),
            "a cached refusal stays a refusal"
        );
        // The same token under another configuration (another key set) is verified afresh.
        let other = config(json!({"issuer": "https://other"}));
        assert_eq!(
            authenticate_cached(
                &other,
                &Request::new(&request("/api", Some(&token))),
                &NoRemote,
                1000,
                Some(&cache)
            ),
            Decision::Deny(AuthError::JwtUnknownIssuer)
        );
    }
}
