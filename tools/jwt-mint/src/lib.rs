//! jwt-mint: signed JWTs and JWKS for the jwt-authn-wasm tests, demo and benchmarks.
//!
//! Test keys only: nothing here is meant to protect anything real. Native-only; never built
//! for wasm. It uses the same RustCrypto generation as the filter but none of the filter's code,
//! and its own tests check every signature with the RustCrypto verifiers, so a token it mints
//! is known-good independently of the filter.
//!
//! With the `x509` feature, `jwt_mint::x509` writes its keys as the filter's tests need them:
//! SPKI, PKCS#1, SEC 1, PKCS#8, PEM and X.509 certificates (x509-cert's builder).
//!
//! ```
//! use jwt_mint::{jwks, Alg, Key};
//! let key = Key::from_seed(Alg::ES256, "k1", 7);
//! let token = key.token(&serde_json::json!({"iss": "https://demo.example", "sub": "u"}));
//! assert_eq!(token.split('.').count(), 3);
//! assert_eq!(jwks(&[&key])["keys"][0]["kid"], "k1");
//! ```

mod alg;
mod jwk;
mod key;
mod rng;
pub mod torsion;
#[cfg(feature = "x509")]
pub mod x509;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

pub use crate::alg::{Alg, Family};
pub use crate::key::{Key, DEFAULT_RSA_BITS};
pub use crate::rng::Rng;

/// `{"keys": [public JWK, ...]}` in the given order.
pub fn jwks(keys: &[&Key]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>() })
}

/// Unpadded base64url (RFC 7515 §2).
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Strict unpadded base64url decoding (no padding, no whitespace, no standard alphabet).
pub fn b64url_decode(s: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD.decode(s).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    //! Every alg's signature is checked with the RustCrypto verifier for that alg, never with
    //! the code under test.

    use hmac::{Hmac, KeyInit, Mac};
    use p256::ecdsa::signature::Verifier as _;
    use rsa::{Pkcs1v15Sign, Pss, RsaPublicKey};
    use sha2::{Digest, Sha256, Sha384, Sha512};

    use super::*;

    fn part(token: &str, i: usize) -> Vec<u8> {
        b64url_decode(token.split('.').nth(i).unwrap()).unwrap()
    }

    fn rsa_public(jwk: &Value) -> RsaPublicKey {
        let n = rsa::BoxedUint::from_be_slice_vartime(
            &b64url_decode(jwk["n"].as_str().unwrap()).unwrap(),
        );
        let e = rsa::BoxedUint::from_be_slice_vartime(
            &b64url_decode(jwk["e"].as_str().unwrap()).unwrap(),
        );
        RsaPublicKey::new(n, e).unwrap()
    }

    fn sec1(jwk: &Value) -> Vec<u8> {
        let mut point = vec![4u8];
        point.extend(b64url_decode(jwk["x"].as_str().unwrap()).unwrap());
        point.extend(b64url_decode(jwk["y"].as_str().unwrap()).unwrap());
        point
    }

    /// Verifies `sig` over `input` using only the public JWK and the RustCrypto verifiers.
    fn verify(jwk: &Value, alg: Alg, input: &[u8], sig: &[u8]) -> bool {
        macro_rules! ecdsa_ok {
            ($curve:ident) => {{
                let vk = $curve::ecdsa::VerifyingKey::from_sec1_bytes(&sec1(jwk)).unwrap();
                match $curve::ecdsa::Signature::from_slice(sig) {
                    Ok(s) => vk.verify(input, &s).is_ok(),
                    Err(_) => false,
                }
            }};
        }
        macro_rules! hmac_ok {
            ($hash:ty) => {{
                let k = b64url_decode(jwk["k"].as_str().unwrap()).unwrap();
                let mut m = <Hmac<$hash> as KeyInit>::new_from_slice(&k).unwrap();
                m.update(input);
                m.verify_slice(sig).is_ok()
            }};
        }
        match alg {
            Alg::RS256 => rsa_public(jwk)
                .verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(input), sig)
                .is_ok(),
            Alg::RS384 => rsa_public(jwk)
                .verify(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(input), sig)
                .is_ok(),
            Alg::RS512 => rsa_public(jwk)
                .verify(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(input), sig)
                .is_ok(),
            Alg::PS256 => rsa_public(jwk)
                .verify(
                    Pss::<Sha256>::new_with_salt(32),
                    &Sha256::digest(input),
                    sig,
                )
                .is_ok(),
            Alg::PS384 => rsa_public(jwk)
                .verify(
                    Pss::<Sha384>::new_with_salt(48),
                    &Sha384::digest(input),
                    sig,
                )
                .is_ok(),
            Alg::PS512 => rsa_public(jwk)
                .verify(
                    Pss::<Sha512>::new_with_salt(64),
                    &Sha512::digest(input),
                    sig,
                )
                .is_ok(),
            Alg::ES256 => ecdsa_ok!(p256),
            Alg::ES256K => ecdsa_ok!(k256),
            Alg::ES384 => ecdsa_ok!(p384),
            Alg::ES512 => ecdsa_ok!(p521),
            Alg::EdDSA => {
                let x: [u8; 32] = b64url_decode(jwk["x"].as_str().unwrap())
                    .unwrap()
                    .try_into()
                    .unwrap();
                let vk = ed25519_dalek::VerifyingKey::from_bytes(&x).unwrap();
                match ed25519_dalek::Signature::from_slice(sig) {
                    Ok(s) => vk.verify_strict(input, &s).is_ok(),
                    Err(_) => false,
                }
            }
            Alg::HS256 => hmac_ok!(Sha256),
            Alg::HS384 => hmac_ok!(Sha384),
            Alg::HS512 => hmac_ok!(Sha512),
        }
    }

    fn sig_len(alg: Alg) -> usize {
        match alg.family() {
            Family::Rsa => 256,
            Family::Okp => 64,
            Family::Oct | Family::Ec => match alg {
                Alg::ES256 | Alg::ES256K => 64,
                Alg::ES384 => 96,
                Alg::ES512 => 132,
                Alg::HS384 => 48,
                Alg::HS512 => 64,
                _ => 32,
            },
        }
    }

    #[test]
    fn every_alg_signs_a_token_the_rustcrypto_verifier_accepts() {
        let claims = json!({"iss": "https://demo.example", "sub": "s", "aud": ["a"], "exp": 2_000_000_000u64});
        for alg in Alg::ALL {
            let key = Key::from_seed(alg, &format!("kid-{alg}"), 42);
            let token = key.token(&claims);
            let (input, _) = token.rsplit_once('.').unwrap();
            let sig = part(&token, 2);
            assert_eq!(sig.len(), sig_len(alg), "{alg}");
            assert!(
                verify(&key.public_jwk(), alg, input.as_bytes(), &sig),
                "{alg}: {token}"
            );

            let header: Value = serde_json::from_slice(&part(&token, 0)).unwrap();
            assert_eq!(
                header,
                json!({"alg": alg.name(), "typ": "JWT", "kid": format!("kid-{alg}")})
            );
            let body: Value = serde_json::from_slice(&part(&token, 1)).unwrap();
            assert_eq!(body, claims);
        }
    }

    #[test]
    fn a_flipped_bit_or_another_key_fails_verification() {
        for alg in Alg::ALL {
            let key = Key::from_seed(alg, "k", 1);
            let other = Key::from_seed(alg, "k", 2);
            let mut sig = key.sign_raw(b"a.b");
            assert!(verify(&key.public_jwk(), alg, b"a.b", &sig), "{alg}");
            assert!(
                !verify(&other.public_jwk(), alg, b"a.b", &sig),
                "{alg} other key"
            );
            assert!(
                !verify(&key.public_jwk(), alg, b"a.c", &sig),
                "{alg} other input"
            );
            sig[0] ^= 0x01;
            assert!(
                !verify(&key.public_jwk(), alg, b"a.b", &sig),
                "{alg} flipped bit"
            );
        }
    }

    #[test]
    fn fresh_random_keys_sign_and_differ() {
        for alg in [Alg::ES256, Alg::ES512, Alg::EdDSA, Alg::HS512, Alg::PS256] {
            let a = Key::generate(alg, "a");
            let b = Key::generate(alg, "a");
            assert_ne!(a.public_jwk(), b.public_jwk(), "{alg}");
            assert!(
                verify(&a.public_jwk(), alg, b"x.y", &a.sign_raw(b"x.y")),
                "{alg}"
            );
        }
    }

    #[test]
    fn seeded_keys_are_reproducible() {
        for alg in [Alg::RS256, Alg::ES256K, Alg::EdDSA, Alg::HS256] {
            assert_eq!(
                Key::from_seed(alg, "s", 9).private_jwk(),
                Key::from_seed(alg, "s", 9).private_jwk()
            );
            assert_ne!(
                Key::from_seed(alg, "s", 9).public_jwk(),
                Key::from_seed(alg, "s", 10).public_jwk()
            );
        }
    }

    #[test]
    fn rsa_key_sizes_are_honoured() {
        let key = Key::generate_rsa(1024, "small");
        assert_eq!(
            b64url_decode(key.public_jwk()["n"].as_str().unwrap())
                .unwrap()
                .len(),
            128
        );
        let big = Key::from_seed_rsa(3072, "big", 1)
            .with_alg(Alg::PS384)
            .unwrap();
        let sig = big.sign_raw(b"i");
        assert_eq!(sig.len(), 384);
        assert!(verify(&big.public_jwk(), Alg::PS384, b"i", &sig));
    }

    #[test]
    fn with_alg_keeps_the_key_type() {
        let rsa = Key::from_seed(Alg::RS256, "r", 1);
        let ps = rsa.with_alg(Alg::PS512).unwrap();
        assert_eq!(ps.public_jwk()["n"], rsa.public_jwk()["n"]);
        assert_eq!(ps.public_jwk()["alg"], "PS512");
        assert!(rsa.with_alg(Alg::ES256).is_err());
        assert!(Key::from_seed(Alg::ES256, "e", 1)
            .with_alg(Alg::ES384)
            .is_err());
        assert!(Key::from_seed(Alg::HS256, "h", 1)
            .with_alg(Alg::HS512)
            .is_ok());
        assert_eq!(rsa.with_kid("r2").kid(), "r2");
    }

    #[test]
    fn sign_uses_the_header_as_given() {
        let key = Key::from_seed(Alg::HS256, "h", 1);
        let header = json!({"alg": "none"});
        let token = key.sign(&header, &json!({}));
        assert_eq!(
            serde_json::from_slice::<Value>(&part(&token, 0)).unwrap(),
            header
        );
        let (input, _) = token.rsplit_once('.').unwrap();
        assert!(verify(
            &key.public_jwk(),
            Alg::HS256,
            input.as_bytes(),
            &part(&token, 2)
        ));
    }

    #[test]
    fn hmac_accepts_any_secret_such_as_a_public_key() {
        let rsa = Key::from_seed(Alg::RS256, "r", 1);
        let secret = rsa.public_jwk().to_string();
        let forged = Key::hmac(Alg::HS256, "r", secret.as_bytes());
        assert_eq!(forged.public_jwk()["k"], b64url(secret.as_bytes()));
        assert_eq!(forged.sign_raw(b"m").len(), 32);
    }

    #[test]
    fn jwks_lists_public_keys_in_order() {
        let a = Key::from_seed(Alg::RS256, "a", 1);
        let b = Key::from_seed(Alg::ES256, "b", 1);
        let set = jwks(&[&a, &b]);
        assert_eq!(set["keys"].as_array().unwrap().len(), 2);
        assert_eq!(set["keys"][0], a.public_jwk());
        assert_eq!(set["keys"][1]["kid"], "b");
        assert!(set["keys"][0].get("d").is_none());
    }

    #[test]
    fn debug_output_hides_key_material() {
        let key = Key::from_seed(Alg::HS256, "h", 1);
        let k = key.public_jwk()["k"].as_str().unwrap().to_owned();
        let shown = format!("{key:?}");
        assert!(shown.contains("HS256") && !shown.contains(&k), "{shown}");
    }

    #[test]
    fn b64url_is_unpadded_and_strict() {
        assert_eq!(b64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(b64url_decode("-_8").unwrap(), vec![0xfb, 0xff]);
        assert!(b64url_decode("+/8=").is_err());
        assert!(b64url_decode("-_8=").is_err());
    }
}
