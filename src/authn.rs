//! One request's authentication: which provider the route needs, which tokens the request
//! carries, the checks that need no key, key selection and the signature. Pure: the clock,
//! the headers and the remote key sets are handed in, and a [`Decision`] comes out.

use crate::claims;
use crate::config::{Config, JwksSource, Location, Provider, MAX_TOKENS_PER_REQUEST};
use crate::crypto::SigError;
use crate::error::AuthError;
use crate::extract::{self, Headers};
use crate::jwks::KeySet;
use crate::jwt::{self, UnverifiedJwt};

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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow(HeaderEdits),
    Deny(AuthError),
    /// Provider `usize` has no keys yet; ask again when it has.
    WaitForKeys(usize),
}

pub fn authenticate(config: &Config, headers: &Headers, keys: &dyn KeyLookup, now: u64) -> Decision {
    let mut edits = HeaderEdits { remove: config.generated_headers.clone(), add: Vec::new() };
    let path = extract::header(headers, ":path").unwrap_or("/");
    let Some(index) = config.rules.iter().find(|rule| rule.path.matches(path)).and_then(|rule| rule.requires) else {
        return Decision::Allow(edits);
    };
    let Some(provider) = config.providers.get(index) else {
        return Decision::Deny(AuthError::JwksNoValidKeys);
    };

    let found = extract::tokens(&provider.locations, headers);
    if found.is_empty() {
        return Decision::Deny(AuthError::JwtMissed);
    }
    if found.len() > MAX_TOKENS_PER_REQUEST {
        return Decision::Deny(AuthError::JwtMultipleTokens);
    }
    // Every token must verify: a good token beside a bad one must not let the bad one reach a
    // backend that might read it (native Envoy's rule).
    for token in &found {
        let jwt = match jwt::parse(token.token) {
            Ok(jwt) => jwt,
            Err(e) => return Decision::Deny(e),
        };
        if let Err(e) = claims::check(provider, &jwt, now) {
            return Decision::Deny(e);
        }
        let key_set = match &provider.jwks {
            JwksSource::Local(set) => set.as_ref(),
            JwksSource::Empty => return Decision::Deny(AuthError::JwksNoValidKeys),
            JwksSource::Remote(_) => match keys.remote(index) {
                RemoteKeys::Ready(set) => set,
                RemoteKeys::Pending => return Decision::WaitForKeys(index),
                RemoteKeys::Failed => return Decision::Deny(AuthError::JwksFetchFail),
            },
        };
        if let Err(e) = verify_signature(&jwt, key_set) {
            return Decision::Deny(e);
        }
        allow_edits(provider, token.location, &jwt, &mut edits);
    }
    Decision::Allow(edits)
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
        match jwk.key.verify(jwt.alg, jwt.signing_input.as_bytes(), &jwt.signature) {
            Ok(()) => return Ok(()),
            Err(SigError::WrongLength) => return Err(AuthError::JwtEd25519SignatureWrongLength),
            Err(SigError::Invalid) => {}
        }
    }
    Err(if matched { AuthError::JwtVerificationFail } else { AuthError::JwksKidAlgMismatch })
}

fn allow_edits(provider: &Provider, location: &Location, jwt: &UnverifiedJwt, edits: &mut HeaderEdits) {
    if let Some(header) = &provider.forward_payload_header {
        let mut payload = jwt.payload_b64.trim_end_matches('=').to_string();
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
        let input = format!("{}.{}", b64::encode(header.to_string().as_bytes()), b64::encode(claims.to_string().as_bytes()));
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
        let mut h = vec![(":path".to_string(), path.to_string()), ("x-sub".to_string(), "spoofed".to_string())];
        if let Some(a) = auth {
            h.push(("authorization".into(), a.into()));
        }
        h
    }

    fn good() -> String {
        hs256(json!({"alg": "HS256", "kid": "k1"}), json!({"iss": "https://iss", "sub": "alice", "exp": 2000}))
    }

    #[test]
    fn allows_and_edits_headers() {
        let c = config(json!({}));
        let d = authenticate(&c, &request("/api", Some(&format!("Bearer {}", good()))), &NoRemote, 1000);
        assert_eq!(d, Decision::Allow(HeaderEdits { remove: vec!["x-sub".into(), "authorization".into()], add: vec![("x-sub".into(), "alice".into())] }));
    }

    #[test]
    fn public_route_still_strips_generated_headers() {
        let c = config(json!({}));
        assert_eq!(authenticate(&c, &request("/public", None), &NoRemote, 1000), Decision::Allow(HeaderEdits { remove: vec!["x-sub".into()], add: vec![] }));
    }

    #[test]
    fn forward_keeps_the_token_and_payload_is_forwarded() {
        let c = config(json!({"forward": true, "forward_payload_header": "x-payload"}));
        let token = good();
        let Decision::Allow(edits) = authenticate(&c, &request("/api", Some(&format!("Bearer {token}"))), &NoRemote, 1000) else { panic!() };
        assert!(!edits.remove.contains(&"authorization".to_string()));
        assert_eq!(edits.add[0], ("x-payload".into(), token.split('.').nth(1).unwrap().to_string()));
    }

    #[test]
    fn failures() {
        let c = config(json!({"audiences": ["api"]}));
        let deny = |auth: Option<String>| authenticate(&c, &request("/api", auth.as_deref()), &NoRemote, 1000);
        assert_eq!(deny(None), Decision::Deny(AuthError::JwtMissed));
        assert_eq!(deny(Some(format!("Bearer {}", good()))), Decision::Deny(AuthError::JwtAudienceNotAllowed));
        let claims = json!({"iss": "https://iss", "aud": "api", "exp": 2000});
        let ok = hs256(json!({"alg": "HS256", "kid": "k1"}), claims.clone());
        assert!(matches!(deny(Some(format!("Bearer {ok}"))), Decision::Allow(_)));
        let wrong_kid = hs256(json!({"alg": "HS256", "kid": "k2"}), claims.clone());
        assert_eq!(deny(Some(format!("Bearer {wrong_kid}"))), Decision::Deny(AuthError::JwksKidAlgMismatch));
        let wrong_alg = hs256(json!({"alg": "HS384", "kid": "k1"}), claims.clone());
        assert_eq!(deny(Some(format!("Bearer {wrong_alg}"))), Decision::Deny(AuthError::JwksKidAlgMismatch));
        let (head, sig) = ok.rsplit_once('.').unwrap();
        let mut bytes = b64::decode(sig).unwrap();
        bytes[0] ^= 1;
        assert_eq!(deny(Some(format!("Bearer {head}.{}", b64::encode(&bytes)))), Decision::Deny(AuthError::JwtVerificationFail));
        let two = format!("Bearer {ok}");
        let mut headers = request(&format!("/api?access_token={wrong_kid}"), Some(&two));
        assert_eq!(authenticate(&c, &headers, &NoRemote, 1000), Decision::Deny(AuthError::JwksKidAlgMismatch), "every token must verify");
        headers.retain(|(n, _)| n != "authorization");
        headers.push(("authorization".into(), format!("Bearer {ok}")));
    }

    #[test]
    fn remote_provider_waits_for_keys() {
        let c = config(json!({}));
        assert_eq!(authenticate(&c, &request("/remote", Some(&format!("Bearer {}", good()))), &NoRemote, 1000), Decision::WaitForKeys(1));
        struct Failed;
        impl KeyLookup for Failed {
            fn remote(&self, _: usize) -> RemoteKeys<'_> {
                RemoteKeys::Failed
            }
        }
        assert_eq!(authenticate(&c, &request("/remote", Some(&format!("Bearer {}", good()))), &Failed, 1000), Decision::Deny(AuthError::JwksFetchFail));
        assert_eq!(authenticate(&c, &request("/remote", Some("Bearer x.y")), &Failed, 1000), Decision::Deny(AuthError::JwtBadFormat), "cheap checks first");
    }
}
