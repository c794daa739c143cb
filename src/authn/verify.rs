//! One token against one provider's keys and claim rules at a given time, jwt_verify_lib's
//! `verify(jwt, jwks, now)`: pure (no request, cache or remote key set; the clock is handed
//! in), and one [`AuthError`] out. [`authenticate`](super::authenticate) checks each token of
//! a request the same way and in the same order, with the provider's keys looked up between
//! the claims and the signature and the verdict cached.

use crate::authn::claims;
use crate::authn::model::Provider;
#[cfg(feature = "trace")]
use crate::authn::trace::{Event, KeyOutcome};
use crate::crypto::SigError;
use crate::error::AuthError;
use crate::keys::jwks::KeySet;
use crate::token::jws::{self, UnverifiedJwt};

/// Signature checks one token may cost at most when its `kid` does not single out a key.
pub const MAX_KEYS_TRIED: usize = 8;

/// A token whose claims passed a provider's rules and whose signature one of the provider's
/// keys verified. Only [`verify`] makes one.
#[derive(Debug, Clone)]
pub struct Verified {
    jwt: UnverifiedJwt,
    valid_through: Option<u64>,
}

impl Verified {
    /// The token: its header fields, its claims, its payload as sent.
    pub fn jwt(&self) -> &UnverifiedJwt {
        &self.jwt
    }

    pub fn claims(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.jwt.claims
    }

    /// The last second at which the token still passes its time check (`exp` plus the
    /// provider's clock skew); `None` without an `exp`.
    pub fn valid_through(&self) -> Option<u64> {
        self.valid_through
    }

    pub fn into_jwt(self) -> UnverifiedJwt {
        self.jwt
    }
}

/// Verifies `token` (compact JWS) against a provider's claim rules (`rules`: its issuer,
/// audiences, clock skew, subjects, token types, expiry and lifetime requirements) and the
/// key set `keys` at `now` (unix seconds). Native order: the parse, every check that needs no
/// key, then key selection and the signature, so the error is the one native Envoy reports.
/// The provider's own `jwks` is not read: `keys` stands for it.
pub fn verify(
    token: &str,
    keys: &KeySet,
    rules: &Provider,
    now: u64,
) -> Result<Verified, AuthError> {
    let jwt = jws::parse(token)?;
    claims::check(rules, &rules.audiences, &jwt, now)?;
    if keys.is_empty() {
        // As a provider whose `local_jwks` holds no usable key.
        return Err(AuthError::JwksNoValidKeys);
    }
    verify_signature(&jwt, keys)?;
    Ok(Verified {
        valid_through: valid_through(rules, &jwt),
        jwt,
    })
}

/// The last second at which `jwt` passes `provider`'s time check: `exp` plus the clock skew.
pub(crate) fn valid_through(provider: &Provider, jwt: &UnverifiedJwt) -> Option<u64> {
    jwt.exp
        .map(|exp| exp.saturating_add(provider.clock_skew_seconds))
}

/// Native key selection: a key whose `kid` differs from the token's is skipped (either side
/// may lack one), so is a key whose `alg` differs; if nothing is left the answer is "no key
/// to match kid or alg", otherwise a failed check is "verification fails". A key of the wrong
/// type for the algorithm never verifies (an RSA public key is never an HMAC secret).
#[cfg_attr(not(feature = "trace"), inline(always))]
pub fn verify_signature(jwt: &UnverifiedJwt, keys: &KeySet) -> Result<(), AuthError> {
    let result = select_and_verify(jwt, keys);
    note!(Event::Signature(result));
    result
}

fn select_and_verify(jwt: &UnverifiedJwt, keys: &KeySet) -> Result<(), AuthError> {
    // Decoded at parse already; a token that did not decode never gets here.
    let signature = jwt
        .signature()
        .ok_or(AuthError::JwtSignatureParseErrorBadBase64)?;
    let signing_input = jwt.signing_input().as_bytes();
    let mut matched = false;
    let mut tried = 0;
    for jwk in &keys.keys {
        if let (Some(want), Some(have)) = (&jwt.kid, &jwk.kid) {
            if want != have {
                note!(key_event(jwk, KeyOutcome::KidDiffers));
                continue;
            }
        }
        if jwk.alg.is_some_and(|alg| alg != jwt.alg) {
            note!(key_event(jwk, KeyOutcome::AlgDiffers));
            continue;
        }
        matched = true;
        if !jwk.key.supports(jwt.alg) {
            note!(key_event(jwk, KeyOutcome::WrongType));
            continue;
        }
        if tried == MAX_KEYS_TRIED {
            note!(key_event(jwk, KeyOutcome::OverLimit));
            break;
        }
        tried += 1;
        match jwk.key.verify(jwt.alg, signing_input, &signature) {
            Ok(()) => {
                note!(key_event(jwk, KeyOutcome::Verified));
                return Ok(());
            }
            Err(SigError::WrongLength) => {
                note!(key_event(jwk, KeyOutcome::WrongLength));
                return Err(AuthError::JwtEd25519SignatureWrongLength);
            }
            Err(SigError::Invalid) => {
                note!(key_event(jwk, KeyOutcome::Invalid));
            }
        }
    }
    Err(if matched {
        AuthError::JwtVerificationFail
    } else {
        AuthError::JwksKidAlgMismatch
    })
}

/// One key looked at, for a trace: its `kid`, type and `alg`, never its material.
#[cfg(feature = "trace")]
fn key_event(jwk: &crate::keys::jwks::Jwk, outcome: KeyOutcome) -> Event {
    Event::Key {
        kid: jwk.kid.clone(),
        kty: crate::authn::trace::kty(&jwk.key),
        alg: jwk.alg.map(|a| a.name()),
        outcome,
    }
}
