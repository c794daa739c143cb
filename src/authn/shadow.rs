//! Extension `rules[].shadow`: a rule whose refusals are counted but not carried out, so an
//! operator can watch a rollout before enforcing it. The decision is made exactly as in enforce
//! mode (the same waits for keys, the same refetches, so a shadow refusal never costs a fetch or
//! a wait that enforcing would not); only its outcome changes: instead of the local reply, the
//! request continues with the header edits built here. The adapter counts the would-be refusal.

use std::cell::{Cell, RefCell};

use crate::authn::model::{Config, Requirement};
use crate::authn::token_cache::TokenCache;
use crate::authn::{Ctx, HeaderEdits, KeyLookup, Step};
use crate::error::AuthError;
use crate::request::matcher::Request;

/// A rule in shadow mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shadow {
    /// Lowercase name of the request header that tells the upstream the would-be refusal's
    /// status name (`JwtExpired`, ...); it is removed from every request first, like a claim
    /// header, so a client cannot forge it.
    pub header: Option<String>,
    /// The providers the rule's requirement names, whose verified tokens still have their
    /// claims forwarded.
    pub providers: Vec<usize>,
}

impl Shadow {
    /// A shadow setting for `requirement`, telling the upstream through `header`.
    pub fn new(header: Option<String>, requirement: Option<&Requirement>) -> Shadow {
        let mut providers = Vec::new();
        if let Some(requirement) = requirement {
            collect_providers(requirement, &mut providers);
        }
        Shadow { header, providers }
    }
}

fn collect_providers(requirement: &Requirement, out: &mut Vec<usize>) {
    let mut add = |index: usize| {
        if !out.contains(&index) {
            out.push(index);
        }
    };
    match requirement {
        Requirement::Provider { index, .. } => add(*index),
        Requirement::AllowMissing(list) | Requirement::AllowMissingOrFailed(list) => {
            list.iter().copied().for_each(add)
        }
        Requirement::Any(children) | Requirement::All(children) => {
            for child in children {
                collect_providers(child, out);
            }
        }
    }
}

/// The header edits for a request that a shadow rule would have refused with `error`: every
/// header the filter generates removed (as for any request), then the claims of each token
/// that verifies with the provider its `iss` names among the rule's providers, as
/// `allow_missing_or_failed` forwards them, and the status name in the shadow header. Only keys
/// the worker already holds are used: a provider whose keys are not there forwards nothing.
pub fn edits(
    config: &Config,
    shadow: &Shadow,
    request: &Request,
    keys: &dyn KeyLookup,
    now: u64,
    cache: Option<&RefCell<TokenCache>>,
    error: AuthError,
) -> HeaderEdits {
    let nbf_refused = Cell::new(false);
    let ctx = Ctx {
        config,
        request,
        keys,
        now,
        cache,
        keep_tokens: false,
        nbf_refused: &nbf_refused,
    };
    let mut edits = HeaderEdits {
        remove: config.generated_headers.clone(),
        ..HeaderEdits::default()
    };
    if let Step::Pass(passed) = ctx.by_issuer(&shadow.providers, true) {
        for name in passed.allowed.edits.remove {
            if !edits.remove.contains(&name) {
                edits.remove.push(name);
            }
        }
        edits.add = passed.allowed.edits.add;
    }
    if let Some(header) = &shadow.header {
        edits.add.push((header.clone(), error.name().to_string()));
    }
    edits
}

#[cfg(test)]
mod tests;
