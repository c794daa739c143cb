//! A record of one decision, made from inside [`authenticate`](super::authenticate) as it runs:
//! the rule matched, the requirement tree walked, the tokens found and where, the provider each
//! was tried with, every check in order with its outcome, the keys tried, the authorization.
//! `jwt-authn explain` prints it; the filter never records one.
//!
//! Compiled only with the crate feature `trace`, which only the command-line tool enables: the
//! `.wasm` holds none of it, and without the feature every hook (`note!`, in `authn/mod.rs`) is
//! nothing at all. With the feature, a hook outside [`record`] costs one thread-local read and
//! builds nothing.
//!
//! Nothing secret goes in: keys are described by `kid`, type and `alg`, never their material.

use std::cell::RefCell;

use crate::authn::model::Requirement;
use crate::crypto::PublicKey;
use crate::error::AuthError;
use crate::request::extract::Location;

/// One step of a decision, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A CORS preflight let through without a token (`bypass_cors_preflight`).
    CorsPreflight,
    /// The first rule that matches (its index in `rules`), or none.
    Rule(Option<usize>),
    /// The matched rule requires nothing: the request continues without a token.
    NoRequirement,
    /// A node of the requirement tree is entered.
    Enter(Node),
    /// The node entered last is left with this result.
    Leave(Result_),
    /// Tokens found for a provider's (or several providers') locations, in order.
    Found(Vec<(Location, String)>),
    /// More tokens than the filter looks at in one request.
    TooManyTokens(usize),
    /// `allow_missing(_or_failed)`: the provider a token's `iss` picked (issuer first, then the
    /// first provider without an issuer), or none.
    ByIssuer {
        iss: Option<String>,
        provider: Option<usize>,
    },
    /// One token is checked against one provider (none: it does not parse, so no `iss` picks one).
    Token {
        provider: Option<usize>,
        location: Location,
        token: String,
    },
    /// The token does not parse (compact JWS, base64url, JSON, `alg`).
    ParseFailed(AuthError),
    /// One claim check: its name, whether it passed, and what it compared.
    Check {
        name: &'static str,
        pass: bool,
        detail: String,
    },
    /// The keys the provider has for the signature.
    Keys(KeysState),
    /// One key of the set looked at for the signature.
    Key {
        kid: Option<String>,
        kty: &'static str,
        alg: Option<&'static str>,
        outcome: KeyOutcome,
    },
    /// The signature check's result.
    Signature(Result<(), AuthError>),
    /// The token names a `kid` the remote provider's keys lack: the filter asks for a refetch.
    UnknownKid(String),
    /// Replay protection: the token's `jti` is recorded (a replay would be refused).
    Replay(Result<(), AuthError>),
    /// A `requires_any` / `allow_missing_or_failed` refusal set aside for another answer.
    Ignored(AuthError),
    /// The rule's `authorization`, for one verified token.
    Authorization {
        pass: bool,
        refusal: Option<AuthError>,
    },
}

/// A node of the requirement tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Provider {
        index: usize,
        audiences: Option<Vec<String>>,
    },
    Any,
    All,
    AllowMissing(Vec<usize>),
    AllowMissingOrFailed(Vec<usize>),
}

/// What a requirement came to (a `Result` with a wait).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Result_ {
    Pass,
    Fail(AuthError),
    /// Keys are needed first (provider index): none yet, or a refetch for an unknown `kid`.
    Wait(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeysState {
    /// `local_jwks` with this many usable keys.
    Local(usize),
    /// `local_jwks` given but without a usable key.
    Empty,
    /// A remote JWKS with this many usable keys.
    Remote(usize),
    /// A remote JWKS not fetched yet (the filter waits for it).
    Pending,
    /// A remote JWKS that could not be had.
    Unavailable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOutcome {
    /// Skipped: the key's `kid` is not the token's.
    KidDiffers,
    /// Skipped: the key's `alg` is not the token's.
    AlgDiffers,
    /// Skipped: a key of another type than the token's `alg` needs.
    WrongType,
    /// Not tried: the filter tries at most `MAX_KEYS_TRIED` keys per token.
    OverLimit,
    Verified,
    /// The signature did not verify with this key.
    Invalid,
    /// An Ed25519 signature of the wrong length.
    WrongLength,
}

thread_local! {
    static RECORDING: RefCell<Option<Vec<Event>>> = const { RefCell::new(None) };
}

/// Runs `f` with a recording on, and returns its result with the events recorded.
pub fn record<T>(f: impl FnOnce() -> T) -> (T, Vec<Event>) {
    let (out, events) = recording_as(Some(Vec::new()), f);
    (out, events.unwrap_or_default())
}

/// Runs `f` with the recording, if any, paused: what `f` decides is not part of the trace.
#[cfg(debug_assertions)]
pub fn paused<T>(f: impl FnOnce() -> T) -> T {
    recording_as(None, f).0
}

/// Runs `f` with `recording` in place of the current one, which comes back after; returns what
/// `f` left in `recording`.
fn recording_as<T>(recording: Option<Vec<Event>>, f: impl FnOnce() -> T) -> (T, Option<Vec<Event>>) {
    let before = RECORDING.with(|r| r.replace(recording));
    let out = f();
    (out, RECORDING.with(|r| r.replace(before)))
}

/// Whether a recording is on (so an event is worth building).
pub fn on() -> bool {
    RECORDING.with(|r| r.borrow().is_some())
}

/// Adds an event to the recording, if one is on.
pub fn push(event: Event) {
    RECORDING.with(|r| {
        if let Some(events) = r.borrow_mut().as_mut() {
            events.push(event);
        }
    });
}

impl Node {
    pub fn of(requirement: &Requirement) -> Node {
        match requirement {
            Requirement::Provider { index, audiences } => Node::Provider {
                index: *index,
                audiences: audiences.clone(),
            },
            Requirement::Any(_) => Node::Any,
            Requirement::All(_) => Node::All,
            Requirement::AllowMissing(p) => Node::AllowMissing(p.clone()),
            Requirement::AllowMissingOrFailed(p) => Node::AllowMissingOrFailed(p.clone()),
        }
    }
}

/// A key's JWK type (and curve), as a JWKS would name it.
pub fn kty(key: &PublicKey) -> &'static str {
    match key {
        PublicKey::Rsa(_) => "RSA",
        PublicKey::P256(_) => "EC P-256",
        PublicKey::P384(_) => "EC P-384",
        PublicKey::P521(_) => "EC P-521",
        PublicKey::K256(_) => "EC secp256k1",
        PublicKey::Ed25519(_) => "OKP Ed25519",
        PublicKey::Hmac(_) => "oct",
    }
}
