//! A private signing key for one JWS algorithm, plus its `kid`: key generation (random or from a
//! seed, so fixtures are reproducible) and signing. JWK import/export lives in `jwk.rs`.
//!
//! This is a test tool: it panics on misuse (e.g. an HMAC secret the MAC refuses) instead of
//! threading errors through every test, and it never runs inside the filter.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock, PoisonError};

use chacha20::ChaCha20Rng;
use ed25519_dalek::Signer as _;
use hmac::{Hmac, KeyInit, Mac};
use p256::elliptic_curve::Generate as _;
use rand_core::{Rng, SeedableRng};
use rsa::{Pkcs1v15Sign, Pss, RsaPrivateKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::alg::{Alg, Family};
use crate::b64url;

/// RSA modulus size used by [`Key::generate`] and [`Key::from_seed`].
pub const DEFAULT_RSA_BITS: usize = 2048;

macro_rules! ecdsa_sign {
    ($curve:ident, $sk:expr, $msg:expr) => {{
        let sig: $curve::ecdsa::Signature = $sk.sign($msg);
        sig.to_bytes().to_vec()
    }};
}

#[derive(Clone)]
pub struct Key {
    pub(crate) alg: Alg,
    pub(crate) kid: String,
    pub(crate) secret: Secret,
}

#[derive(Clone)]
pub(crate) enum Secret {
    Rsa(Box<RsaPrivateKey>),
    P256(p256::ecdsa::SigningKey),
    K256(k256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
    Oct(Vec<u8>),
}

impl Key {
    /// A fresh random key (RSA: 2048 bits; HMAC: a secret as long as the hash output).
    pub fn generate(alg: Alg, kid: &str) -> Key {
        Key::generate_with(alg, kid, DEFAULT_RSA_BITS, &mut os_seeded_rng())
    }

    /// A fresh random RSA key of `bits` bits (1024..=8192) for RS256; see [`Key::with_alg`].
    pub fn generate_rsa(bits: usize, kid: &str) -> Key {
        Key::generate_with(Alg::RS256, kid, bits, &mut os_seeded_rng())
    }

    /// The same key for the same `(alg, seed)` on every run and machine (ChaCha20 seeded from
    /// `seed`). Algorithms of one family and size share key material for equal seeds.
    ///
    /// Seeded RSA keys are memoized per process, since RSA key generation takes a while in
    /// an unoptimized test build.
    pub fn from_seed(alg: Alg, kid: &str, seed: u64) -> Key {
        match alg.family() {
            Family::Rsa => Key::from_seed_rsa(DEFAULT_RSA_BITS, kid, seed).with_alg_unchecked(alg),
            _ => Key::generate_with(
                alg,
                kid,
                DEFAULT_RSA_BITS,
                &mut ChaCha20Rng::seed_from_u64(seed),
            ),
        }
    }

    /// Like [`Key::from_seed`] with an RSA modulus of `bits` bits, for RS256.
    pub fn from_seed_rsa(bits: usize, kid: &str, seed: u64) -> Key {
        static CACHE: OnceLock<Mutex<HashMap<(usize, u64), RsaPrivateKey>>> = OnceLock::new();
        let cache = CACHE.get_or_init(Mutex::default);
        let cached = cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(bits, seed))
            .cloned();
        // Generated outside the lock so tests running in parallel do not queue behind one keygen;
        // two threads may both generate the same (identical) key, which is harmless.
        let key = cached.unwrap_or_else(|| {
            let key = rsa_keygen(&mut ChaCha20Rng::seed_from_u64(seed), bits);
            cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert((bits, seed), key.clone());
            key
        });
        Key {
            alg: Alg::RS256,
            kid: kid.to_owned(),
            secret: Secret::Rsa(Box::new(key)),
        }
    }

    /// An HMAC key with the given secret, whatever its length (tests use this for the classic
    /// "HS256 keyed with the RSA public key" confusion attack).
    ///
    /// # Panics
    /// If `alg` is not HS256/HS384/HS512.
    pub fn hmac(alg: Alg, kid: &str, secret: &[u8]) -> Key {
        assert_eq!(
            alg.family(),
            Family::Oct,
            "Key::hmac needs an HS* alg, got {alg}"
        );
        Key {
            alg,
            kid: kid.to_owned(),
            secret: Secret::Oct(secret.to_vec()),
        }
    }

    fn generate_with(alg: Alg, kid: &str, rsa_bits: usize, rng: &mut ChaCha20Rng) -> Key {
        let secret = match alg {
            Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512 => {
                Secret::Rsa(Box::new(rsa_keygen(rng, rsa_bits)))
            }
            Alg::ES256 => Secret::P256(p256::ecdsa::SigningKey::generate_from_rng(rng)),
            Alg::ES256K => Secret::K256(k256::ecdsa::SigningKey::generate_from_rng(rng)),
            Alg::ES384 => Secret::P384(p384::ecdsa::SigningKey::generate_from_rng(rng)),
            Alg::ES512 => Secret::P521(p521::ecdsa::SigningKey::generate_from_rng(rng)),
            Alg::EdDSA => {
                let mut seed = [0u8; 32];
                rng.fill_bytes(&mut seed);
                Secret::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed))
            }
            Alg::HS256 | Alg::HS384 | Alg::HS512 => {
                let mut k = vec![0u8; hash_len(alg)];
                rng.fill_bytes(&mut k);
                Secret::Oct(k)
            }
        };
        Key {
            alg,
            kid: kid.to_owned(),
            secret,
        }
    }

    pub fn alg(&self) -> Alg {
        self.alg
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The same key material under another kid.
    pub fn with_kid(&self, kid: &str) -> Key {
        Key {
            kid: kid.to_owned(),
            ..self.clone()
        }
    }

    /// The same key material used with another algorithm of the same key type: any RS*/PS* for
    /// an RSA key, any HS* for an HMAC secret. EC and Ed25519 keys are bound to one alg.
    pub fn with_alg(&self, alg: Alg) -> Result<Key, String> {
        let ok = alg == self.alg
            || matches!(
                (&self.secret, alg.family()),
                (Secret::Rsa(_), Family::Rsa) | (Secret::Oct(_), Family::Oct)
            );
        if !ok {
            return Err(format!("a {} key cannot sign {alg}", self.alg));
        }
        Ok(self.clone().with_alg_unchecked(alg))
    }

    fn with_alg_unchecked(self, alg: Alg) -> Key {
        Key { alg, ..self }
    }

    /// Compact JWS `b64(header).b64(claims).b64(sig)`. The header is used exactly as given (it
    /// may even lie about `alg`); the signature is always made with this key's own alg.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        self.sign_segments(&b64url(&to_json(header)), &b64url(&to_json(claims)))
    }

    /// A JWS of `header` and `payload` as written (any text, JSON or not), base64url-encoded.
    pub fn sign_text(&self, header: &str, payload: &str) -> String {
        self.sign_segments(&b64url(header.as_bytes()), &b64url(payload.as_bytes()))
    }

    /// `header_b64.payload_b64.sig`, signing the two segments exactly as given (padded,
    /// malformed, anything): for tokens no encoder would produce.
    pub fn sign_segments(&self, header_b64: &str, payload_b64: &str) -> String {
        let input = format!("{header_b64}.{payload_b64}");
        let sig = self.sign_raw(input.as_bytes());
        format!("{input}.{}", b64url(&sig))
    }

    /// A JWT with header `{"alg": <alg>, "kid": <kid>, "typ": "JWT"}`.
    pub fn token(&self, claims: &Value) -> String {
        self.sign(&self.header(), claims)
    }

    /// The header [`Key::token`] uses, for callers that want to add or change a field.
    pub fn header(&self) -> Value {
        json!({ "alg": self.alg.name(), "typ": "JWT", "kid": self.kid })
    }

    /// The raw JWS signature over `signing_input`: PKCS#1 v1.5 or PSS (salt = hash length)
    /// for RSA, fixed-width R||S for ECDSA (132 bytes for ES512), 64 bytes for Ed25519, the MAC
    /// for HMAC.
    pub fn sign_raw(&self, signing_input: &[u8]) -> Vec<u8> {
        let msg = signing_input;
        match &self.secret {
            Secret::Rsa(key) => sign_rsa(key, self.alg, msg),
            // RFC 6979 deterministic ECDSA with the curve's JWS hash, as fixed-width R||S.
            Secret::P256(sk) => ecdsa_sign!(p256, sk, msg),
            Secret::K256(sk) => ecdsa_sign!(k256, sk, msg),
            Secret::P384(sk) => ecdsa_sign!(p384, sk, msg),
            Secret::P521(sk) => ecdsa_sign!(p521, sk, msg),
            Secret::Ed25519(sk) => sk.sign(msg).to_bytes().to_vec(),
            Secret::Oct(k) => match self.alg {
                Alg::HS384 => mac::<Hmac<Sha384>>(k, msg),
                Alg::HS512 => mac::<Hmac<Sha512>>(k, msg),
                _ => mac::<Hmac<Sha256>>(k, msg),
            },
        }
    }
}

/// Never prints key material.
impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

pub(crate) fn hash_len(alg: Alg) -> usize {
    match alg {
        Alg::RS384 | Alg::PS384 | Alg::ES384 | Alg::HS384 => 48,
        Alg::RS512 | Alg::PS512 | Alg::ES512 | Alg::HS512 => 64,
        _ => 32,
    }
}

fn rsa_keygen(rng: &mut ChaCha20Rng, bits: usize) -> RsaPrivateKey {
    RsaPrivateKey::new(rng, bits)
        .unwrap_or_else(|e| panic!("RSA-{bits} key generation failed: {e}"))
}

fn sign_rsa(key: &RsaPrivateKey, alg: Alg, msg: &[u8]) -> Vec<u8> {
    let result = match alg {
        Alg::RS384 => key.sign(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(msg)),
        Alg::RS512 => key.sign(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(msg)),
        Alg::PS256 => key.sign_with_rng(
            &mut os_seeded_rng(),
            Pss::<Sha256>::new_with_salt(32),
            &Sha256::digest(msg),
        ),
        Alg::PS384 => key.sign_with_rng(
            &mut os_seeded_rng(),
            Pss::<Sha384>::new_with_salt(48),
            &Sha384::digest(msg),
        ),
        Alg::PS512 => key.sign_with_rng(
            &mut os_seeded_rng(),
            Pss::<Sha512>::new_with_salt(64),
            &Sha512::digest(msg),
        ),
        _ => key.sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(msg)),
    };
    result.unwrap_or_else(|e| panic!("{alg} signing failed: {e}"))
}

fn mac<M: Mac + KeyInit>(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m =
        <M as KeyInit>::new_from_slice(key).unwrap_or_else(|e| panic!("HMAC key refused: {e}"));
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

fn to_json(v: &Value) -> Vec<u8> {
    // Serializing a `Value` cannot fail: every map key is already a string.
    serde_json::to_vec(v).unwrap_or_default()
}

/// A CSPRNG seeded from the OS, so random keys and PSS salts use the same generator type as
/// seeded fixtures.
fn os_seeded_rng() -> ChaCha20Rng {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).unwrap_or_else(|e| panic!("OS randomness unavailable: {e}"));
    ChaCha20Rng::from_seed(seed)
}
