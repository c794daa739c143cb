//! The signature layer: public keys parsed once into verifier-ready form, and `verify` for every
//! JWS algorithm in [`Alg`]. It knows nothing about JWTs, JWKS or `kid`s; callers hand it the
//! signing input and the decoded signature. A key verifies only the algorithms of its own kind
//! (see [`PublicKey::supports`]), so an RSA, EC or OKP public key can never be used as an HMAC
//! secret, whatever the token's header says.

use std::fmt;

use ed25519_dalek::Signature as EdSignature;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::alg::{Alg, Family};
use crate::rsa_verify::{self, bit_len, strip_leading_zeros, Engine, Exponent, Padding, RsaPublic};
use crate::{k256_verify, p256_verify, p384_verify, p521_verify};

/// Smallest RSA modulus accepted, in bits (as jwt-compact's `StrongAlg`).
pub const RSA_MIN_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits: caps the cost of one verification.
pub const RSA_MAX_BITS: usize = 8192;

/// The curves of the ECDSA algorithms (RFC 7518 §3.4, RFC 8812 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    P256,
    P384,
    P521,
    Secp256k1,
}

impl Curve {
    /// The JWK `crv` name.
    pub fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
            Curve::Secp256k1 => "secp256k1",
        }
    }

    /// Parses a JWK `crv` name.
    pub fn parse(name: &str) -> Option<Curve> {
        [Curve::P256, Curve::P384, Curve::P521, Curve::Secp256k1]
            .into_iter()
            .find(|c| c.name() == name)
    }

    /// Bytes of one coordinate, and of one of R and S in a JWS signature.
    pub fn field_len(self) -> usize {
        match self {
            Curve::P256 | Curve::Secp256k1 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// The one JWS algorithm that uses this curve.
    pub fn alg(self) -> Alg {
        match self {
            Curve::P256 => Alg::Es256,
            Curve::P384 => Alg::Es384,
            Curve::P521 => Alg::Es512,
            Curve::Secp256k1 => Alg::Es256k,
        }
    }

    /// The curve an ECDSA algorithm requires; `None` for other algorithms.
    pub fn for_alg(alg: Alg) -> Option<Curve> {
        match alg {
            Alg::Es256 => Some(Curve::P256),
            Alg::Es384 => Some(Curve::P384),
            Alg::Es512 => Some(Curve::P521),
            Alg::Es256k => Some(Curve::Secp256k1),
            _ => None,
        }
    }
}

/// An RSA public key with a 2048..=8192-bit modulus and `e` of 3 or 65537.
#[derive(Debug, Clone)]
pub struct RsaKey(RsaPublic);

impl RsaKey {
    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.0.bits()
    }
}

/// An HMAC secret, kept as the three keyed hash states (one per HS* algorithm) so that a
/// verification clones a state instead of re-keying. Boxed: the states are ~700 bytes and
/// would otherwise set the size of every [`PublicKey`]. `Debug` never prints the secret.
#[derive(Clone)]
pub struct HmacKey(Box<HmacStates>);

#[derive(Clone)]
struct HmacStates {
    hs256: Hmac<Sha256>,
    hs384: Hmac<Sha384>,
    hs512: Hmac<Sha512>,
}

impl fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HmacKey(..)")
    }
}

/// A verification key, parsed and checked once and reused for every request.
#[derive(Debug, Clone)]
pub enum PublicKey {
    Rsa(RsaKey),
    /// Verified by our own variable-time code ([`crate::p256_verify`]), not `p256`'s.
    P256(p256_verify::VerifyingKey),
    /// This and the next two: our own variable-time code as well, one engine generic over the
    /// curve ([`crate::ec_verify`]).
    P384(p384_verify::VerifyingKey),
    P521(p521_verify::VerifyingKey),
    K256(k256_verify::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
    Hmac(HmacKey),
}

/// Why a key was refused. The `Display` text is meant for log lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    RsaModulusTooSmall {
        bits: usize,
    },
    RsaModulusTooLarge {
        bits: usize,
    },
    /// `e` other than 3 or 65537 (Envoy refuses the rest too).
    RsaExponent,
    /// Refused by the RSA implementation, e.g. an even modulus.
    RsaInvalid,
    EcCoordinateLength {
        curve: Curve,
        x: usize,
        y: usize,
    },
    EcNotOnCurve {
        curve: Curve,
    },
    Ed25519Length {
        len: usize,
    },
    Ed25519InvalidPoint,
    HmacEmpty,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::RsaModulusTooSmall { bits } => {
                write!(
                    f,
                    "RSA modulus is {bits} bits, less than the minimum {RSA_MIN_BITS}"
                )
            }
            KeyError::RsaModulusTooLarge { bits } => {
                write!(
                    f,
                    "RSA modulus is {bits} bits, more than the maximum {RSA_MAX_BITS}"
                )
            }
            KeyError::RsaExponent => f.write_str("RSA exponent is neither 3 nor 65537"),
            KeyError::RsaInvalid => f.write_str("RSA public key is invalid"),
            KeyError::EcCoordinateLength { curve, x, y } => write!(
                f,
                "{} coordinates must be {} bytes each, got x={x} y={y}",
                curve.name(),
                curve.field_len()
            ),
            KeyError::EcNotOnCurve { curve } => {
                write!(f, "EC point is not a valid {} public key", curve.name())
            }
            KeyError::Ed25519Length { len } => {
                write!(f, "Ed25519 public key must be 32 bytes, got {len}")
            }
            KeyError::Ed25519InvalidPoint => f.write_str("Ed25519 public key is not a valid point"),
            KeyError::HmacEmpty => f.write_str("HMAC key is empty"),
        }
    }
}

impl std::error::Error for KeyError {}

/// Why a signature did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigError {
    /// Wrong signature, wrong encoding, or an algorithm the key does not support.
    Invalid,
    /// An EdDSA signature that is not 64 bytes (Envoy reports this case separately).
    WrongLength,
}

impl fmt::Display for SigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SigError::Invalid => f.write_str("signature is invalid"),
            SigError::WrongLength => f.write_str("signature has the wrong length"),
        }
    }
}

impl std::error::Error for SigError {}

impl PublicKey {
    /// An RSA key from the big-endian modulus and exponent (leading zero bytes allowed).
    pub fn rsa(n: &[u8], e: &[u8]) -> Result<PublicKey, KeyError> {
        PublicKey::rsa_on(n, e, Engine::best())
    }

    /// As [`rsa`](Self::rsa), with the public operation on `engine` (the tests run both).
    pub fn rsa_on(n: &[u8], e: &[u8], engine: Engine) -> Result<PublicKey, KeyError> {
        let n = strip_leading_zeros(n);
        let bits = bit_len(n);
        if bits < RSA_MIN_BITS {
            return Err(KeyError::RsaModulusTooSmall { bits });
        }
        if bits > RSA_MAX_BITS {
            return Err(KeyError::RsaModulusTooLarge { bits });
        }
        let e = Exponent::from_be_bytes(e).ok_or(KeyError::RsaExponent)?;
        let key = RsaPublic::with_engine(n, e, engine).ok_or(KeyError::RsaInvalid)?;
        Ok(PublicKey::Rsa(RsaKey(key)))
    }

    /// An EC key from its affine coordinates, each exactly [`Curve::field_len`] bytes.
    pub fn ec(curve: Curve, x: &[u8], y: &[u8]) -> Result<PublicKey, KeyError> {
        let len = curve.field_len();
        if x.is_empty() || y.is_empty() || x.len() > len || y.len() > len {
            return Err(KeyError::EcCoordinateLength {
                curve,
                x: x.len(),
                y: y.len(),
            });
        }
        // SEC1 uncompressed form; decoding checks both coordinates are field elements, the point
        // is on the curve, and it is not the identity. RFC 7518 §6.2.1.2 asks for full-length
        // coordinates, but some issuers drop leading zero bytes (seen on P-521 keys) and Envoy
        // accepts that, so a short coordinate is left-padded: it names the same point.
        let mut sec1 = Vec::with_capacity(1 + 2 * len);
        sec1.push(0x04);
        sec1.resize(1 + len - x.len(), 0);
        sec1.extend_from_slice(x);
        sec1.resize(1 + 2 * len - y.len(), 0);
        sec1.extend_from_slice(y);
        // Our verifiers check the point themselves (both coordinates below p, on the curve; the
        // identity has no affine form), as RustCrypto's SEC1 decoders did: using those decoders
        // only for the check would link their curve arithmetic into the .wasm.
        let bad = KeyError::EcNotOnCurve { curve };
        let Some((x, y)) = sec1.get(1..).and_then(|c| c.split_at_checked(len)) else {
            return Err(bad);
        };
        Ok(match curve {
            Curve::P256 => {
                let (Ok(x), Ok(y)) = (x.try_into(), y.try_into()) else {
                    return Err(bad);
                };
                PublicKey::P256(p256_verify::VerifyingKey::from_affine(x, y).ok_or(bad)?)
            }
            Curve::P384 => {
                PublicKey::P384(p384_verify::VerifyingKey::from_affine(x, y).ok_or(bad)?)
            }
            Curve::P521 => {
                PublicKey::P521(p521_verify::VerifyingKey::from_affine(x, y).ok_or(bad)?)
            }
            Curve::Secp256k1 => {
                PublicKey::K256(k256_verify::VerifyingKey::from_affine(x, y).ok_or(bad)?)
            }
        })
    }

    /// An Ed25519 key from its 32-byte encoding.
    pub fn ed25519(x: &[u8]) -> Result<PublicKey, KeyError> {
        let bytes: &[u8; 32] = x
            .try_into()
            .map_err(|_| KeyError::Ed25519Length { len: x.len() })?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map_err(|_| KeyError::Ed25519InvalidPoint)?;
        // A small-order key has no secret behind it: signatures for it can be forged.
        // `verify_strict` would refuse every signature; refusing the key up front says why.
        if key.is_weak() {
            return Err(KeyError::Ed25519InvalidPoint);
        }
        Ok(PublicKey::Ed25519(key))
    }

    /// An HMAC secret (the JWK `k`), any non-empty length.
    pub fn hmac(k: &[u8]) -> Result<PublicKey, KeyError> {
        if k.is_empty() {
            return Err(KeyError::HmacEmpty);
        }
        // HMAC accepts keys of every length; these cannot fail.
        let hs256 = Hmac::<Sha256>::new_from_slice(k).map_err(|_| KeyError::HmacEmpty)?;
        let hs384 = Hmac::<Sha384>::new_from_slice(k).map_err(|_| KeyError::HmacEmpty)?;
        let hs512 = Hmac::<Sha512>::new_from_slice(k).map_err(|_| KeyError::HmacEmpty)?;
        Ok(PublicKey::Hmac(HmacKey(Box::new(HmacStates {
            hs256,
            hs384,
            hs512,
        }))))
    }

    /// The kind of key, matching [`Alg::family`].
    pub fn family(&self) -> Family {
        match self {
            PublicKey::Rsa(_) => Family::Rsa,
            PublicKey::P256(_) | PublicKey::P384(_) | PublicKey::P521(_) | PublicKey::K256(_) => {
                Family::Ec
            }
            PublicKey::Ed25519(_) => Family::Okp,
            PublicKey::Hmac(_) => Family::Hmac,
        }
    }

    /// The curve of an EC key.
    pub fn curve(&self) -> Option<Curve> {
        match self {
            PublicKey::P256(_) => Some(Curve::P256),
            PublicKey::P384(_) => Some(Curve::P384),
            PublicKey::P521(_) => Some(Curve::P521),
            PublicKey::K256(_) => Some(Curve::Secp256k1),
            _ => None,
        }
    }

    /// Whether this key can verify `alg`: RSA keys RS*/PS*, each EC key the one ES* of its curve,
    /// Ed25519 keys EdDSA, HMAC secrets HS*.
    pub fn supports(&self, alg: Alg) -> bool {
        match self {
            PublicKey::Rsa(_) => alg.family() == Family::Rsa,
            PublicKey::P256(_) => alg == Alg::Es256,
            PublicKey::P384(_) => alg == Alg::Es384,
            PublicKey::P521(_) => alg == Alg::Es512,
            PublicKey::K256(_) => alg == Alg::Es256k,
            PublicKey::Ed25519(_) => alg == Alg::EdDsa,
            PublicKey::Hmac(_) => alg.family() == Family::Hmac,
        }
    }

    /// Verifies `signature` (already base64url-decoded) over `signing_input`
    /// (`BASE64URL(header) || '.' || BASE64URL(payload)`).
    pub fn verify(&self, alg: Alg, signing_input: &[u8], signature: &[u8]) -> Result<(), SigError> {
        if !self.supports(alg) {
            return Err(SigError::Invalid);
        }
        match self {
            PublicKey::Rsa(key) => verify_rsa(key, alg, signing_input, signature),
            PublicKey::P256(key) => {
                // R || S, 64 bytes, each in [1, n − 1]; high S accepted (as `p256` does).
                if key.verify_prehash(&Sha256::digest(signing_input).into(), signature) {
                    Ok(())
                } else {
                    Err(SigError::Invalid)
                }
            }
            // R || S of the curve's fixed length, each in [1, n − 1]; high S accepted.
            PublicKey::P384(key) => {
                ec_result(key.verify_prehash(&Sha384::digest(signing_input), signature))
            }
            PublicKey::P521(key) => {
                ec_result(key.verify_prehash(&Sha512::digest(signing_input), signature))
            }
            PublicKey::K256(key) => {
                // JWS, like Wycheproof's standard secp256k1 vectors, accepts both S and n − S
                // (the low-S rule is Bitcoin's, which `k256` applied and we do not).
                ec_result(key.verify_prehash(&Sha256::digest(signing_input), signature))
            }
            PublicKey::Ed25519(key) => {
                let bytes: &[u8; 64] = signature.try_into().map_err(|_| SigError::WrongLength)?;
                key.verify_strict(signing_input, &EdSignature::from_bytes(bytes))
                    .map_err(|_| SigError::Invalid)
            }
            PublicKey::Hmac(key) => verify_hmac(key, alg, signing_input, signature),
        }
    }
}

fn ec_result(valid: bool) -> Result<(), SigError> {
    if valid {
        Ok(())
    } else {
        Err(SigError::Invalid)
    }
}

/// RS*: PKCS#1 v1.5. PS*: PSS with MGF1 of the same hash and a salt as long as the hash
/// (RFC 7518 §3.5). The signature must be exactly the modulus length and below the modulus.
fn verify_rsa(key: &RsaKey, alg: Alg, input: &[u8], signature: &[u8]) -> Result<(), SigError> {
    let (padding, hash) = match alg {
        Alg::Rs256 => (Padding::Pkcs1v15, rsa_verify::Hash::Sha256),
        Alg::Rs384 => (Padding::Pkcs1v15, rsa_verify::Hash::Sha384),
        Alg::Rs512 => (Padding::Pkcs1v15, rsa_verify::Hash::Sha512),
        Alg::Ps256 => (Padding::Pss, rsa_verify::Hash::Sha256),
        Alg::Ps384 => (Padding::Pss, rsa_verify::Hash::Sha384),
        Alg::Ps512 => (Padding::Pss, rsa_verify::Hash::Sha512),
        _ => return Err(SigError::Invalid),
    };
    key.0
        .verify(padding, hash, input, signature)
        .map_err(|_| SigError::Invalid)
}

/// `verify_slice` refuses any tag that is not the full hash output (a truncated MAC is not a
/// JWS MAC) and compares in constant time.
fn verify_hmac(key: &HmacKey, alg: Alg, input: &[u8], tag: &[u8]) -> Result<(), SigError> {
    let result = match alg {
        Alg::Hs256 => key.0.hs256.clone().chain_update(input).verify_slice(tag),
        Alg::Hs384 => key.0.hs384.clone().chain_update(input).verify_slice(tag),
        Alg::Hs512 => key.0.hs512.clone().chain_update(input).verify_slice(tag),
        _ => return Err(SigError::Invalid),
    };
    result.map_err(|_| SigError::Invalid)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::convert::Infallible;

    use p256::ecdsa::signature::Signer;
    use rsa::traits::PublicKeyParts;
    use rsa::{BoxedUint, Pkcs1v15Sign, Pss, RsaPrivateKey};

    use super::*;

    const INPUT: &[u8] = b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0";

    /// A fixed 2048-bit test key (primes from `openssl genrsa 2048`), e = 65537.
    const RSA_P: &str = "d091c57179fd52450e38d0ec5499e186c127d254d0125fe36bc56fbaf2dfc673eafe0ee0e662dda25209f7180d117d84ce491b11cdb026abc885373a89be83474da469347ddc08b8269c8e1984c3c49ac6355e61cdfa1be3cc1b822d1a8944b2a3048c79f5bf6f3878232f0feddb0d80fef3577a8b86740ae58e246521386d49";
    const RSA_Q: &str = "c9b8b95e9b85c0e31cbf413b499eb1bd0607a552f5afb3e6b0dbffbbe2a4efafce90a6456d63f3315d9e2534ff055b4d84a2abe1cf417d3f8fa6393e9cb62775fa96aa2c22c6ad96f69ba35103d245b63114f75d286d5c0ad7f9f7cfc59a8678c59381e5ec29ec9c10f96547323be84136aecd489d48f8dd15f0804844b4fb2d";
    const HMAC_SECRET: &[u8] = b"a 32-byte secret for the tests!!";

    /// Deterministic stand-in for an RNG: PSS salts only need to be well-formed here.
    pub(crate) struct TestRng(pub(crate) u64);

    impl rand_core::TryRng for TestRng {
        type Error = Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Infallible> {
            Ok(self.try_next_u64()? as u32)
        }
        fn try_next_u64(&mut self) -> Result<u64, Infallible> {
            // splitmix64
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            Ok(z ^ (z >> 31))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
            for chunk in dst.chunks_mut(8) {
                let word = self.try_next_u64()?.to_le_bytes();
                chunk.copy_from_slice(&word[..chunk.len()]);
            }
            Ok(())
        }
    }

    impl rand_core::TryCryptoRng for TestRng {}

    pub(crate) fn rsa_private() -> RsaPrivateKey {
        let p = BoxedUint::from_be_slice(&hex::decode(RSA_P).unwrap(), 1024).unwrap();
        let q = BoxedUint::from_be_slice(&hex::decode(RSA_Q).unwrap(), 1024).unwrap();
        RsaPrivateKey::from_p_q(p, q, BoxedUint::from(65537u32)).unwrap()
    }

    fn rsa_public(private: &RsaPrivateKey) -> PublicKey {
        let public = private.to_public_key();
        PublicKey::rsa(&public.n().to_be_bytes(), &public.e().to_be_bytes()).unwrap()
    }

    /// The affine coordinates of a fixed test key on `curve` (for building JWKs).
    pub(crate) fn ec_coordinates(curve: Curve) -> (Vec<u8>, Vec<u8>) {
        let point = match curve {
            Curve::P256 => p256::ecdsa::SigningKey::from_slice(&[0x11; 32])
                .unwrap()
                .verifying_key()
                .to_sec1_point(false)
                .as_bytes()
                .to_vec(),
            Curve::P384 => p384::ecdsa::SigningKey::from_slice(&[0x22; 48])
                .unwrap()
                .verifying_key()
                .to_sec1_point(false)
                .as_bytes()
                .to_vec(),
            Curve::P521 => {
                let mut secret = [0x33; 66];
                secret[0] = 0x01;
                p521::ecdsa::SigningKey::from_slice(&secret)
                    .unwrap()
                    .verifying_key()
                    .to_sec1_point(false)
                    .as_bytes()
                    .to_vec()
            }
            Curve::Secp256k1 => k256::ecdsa::SigningKey::from_slice(&[0x44; 32])
                .unwrap()
                .verifying_key()
                .to_sec1_point(false)
                .as_bytes()
                .to_vec(),
        };
        let len = curve.field_len();
        (point[1..1 + len].to_vec(), point[1 + len..].to_vec())
    }

    /// A key, an algorithm it supports, and a valid signature over [`INPUT`].
    struct Case {
        alg: Alg,
        key: PublicKey,
        sig: Vec<u8>,
    }

    fn ec_public(curve: Curve, sec1_uncompressed: &[u8]) -> PublicKey {
        let len = curve.field_len();
        PublicKey::ec(
            curve,
            &sec1_uncompressed[1..1 + len],
            &sec1_uncompressed[1 + len..],
        )
        .unwrap()
    }

    /// One valid signature for each of the 14 algorithms.
    fn cases() -> Vec<Case> {
        let rsa = rsa_private();
        let rsa_key = rsa_public(&rsa);
        let mut rng = TestRng(1);
        let mut cases = vec![
            (
                Alg::Rs256,
                rsa.sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(INPUT))
                    .unwrap(),
            ),
            (
                Alg::Rs384,
                rsa.sign(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(INPUT))
                    .unwrap(),
            ),
            (
                Alg::Rs512,
                rsa.sign(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(INPUT))
                    .unwrap(),
            ),
            (
                Alg::Ps256,
                rsa.sign_with_rng(&mut rng, Pss::<Sha256>::new(), &Sha256::digest(INPUT))
                    .unwrap(),
            ),
            (
                Alg::Ps384,
                rsa.sign_with_rng(&mut rng, Pss::<Sha384>::new(), &Sha384::digest(INPUT))
                    .unwrap(),
            ),
            (
                Alg::Ps512,
                rsa.sign_with_rng(&mut rng, Pss::<Sha512>::new(), &Sha512::digest(INPUT))
                    .unwrap(),
            ),
        ]
        .into_iter()
        .map(|(alg, sig)| Case {
            alg,
            key: rsa_key.clone(),
            sig,
        })
        .collect::<Vec<_>>();

        let p256 = p256::ecdsa::SigningKey::from_slice(&[0x11; 32]).unwrap();
        let sig: p256::ecdsa::Signature = p256.sign(INPUT);
        let key = ec_public(
            Curve::P256,
            p256.verifying_key().to_sec1_point(false).as_bytes(),
        );
        cases.push(Case {
            alg: Alg::Es256,
            key,
            sig: sig.to_bytes().to_vec(),
        });

        let p384 = p384::ecdsa::SigningKey::from_slice(&[0x22; 48]).unwrap();
        let sig: p384::ecdsa::Signature = p384.sign(INPUT);
        let key = ec_public(
            Curve::P384,
            p384.verifying_key().to_sec1_point(false).as_bytes(),
        );
        cases.push(Case {
            alg: Alg::Es384,
            key,
            sig: sig.to_bytes().to_vec(),
        });

        let mut p521_secret = [0x33; 66];
        p521_secret[0] = 0x01;
        let p521 = p521::ecdsa::SigningKey::from_slice(&p521_secret).unwrap();
        let sig: p521::ecdsa::Signature = p521.sign(INPUT);
        let key = ec_public(
            Curve::P521,
            p521.verifying_key().to_sec1_point(false).as_bytes(),
        );
        cases.push(Case {
            alg: Alg::Es512,
            key,
            sig: sig.to_bytes().to_vec(),
        });

        let k256 = k256::ecdsa::SigningKey::from_slice(&[0x44; 32]).unwrap();
        let sig: k256::ecdsa::Signature = k256.sign(INPUT);
        let key = ec_public(
            Curve::Secp256k1,
            k256.verifying_key().to_sec1_point(false).as_bytes(),
        );
        cases.push(Case {
            alg: Alg::Es256k,
            key,
            sig: sig.to_bytes().to_vec(),
        });

        let ed = ed25519_dalek::SigningKey::from_bytes(&[0x55; 32]);
        let sig = ed.sign(INPUT).to_bytes().to_vec();
        let key = PublicKey::ed25519(ed.verifying_key().as_bytes()).unwrap();
        cases.push(Case {
            alg: Alg::EdDsa,
            key,
            sig,
        });

        let hmac = PublicKey::hmac(HMAC_SECRET).unwrap();
        for alg in [Alg::Hs256, Alg::Hs384, Alg::Hs512] {
            let sig = match alg {
                Alg::Hs256 => Hmac::<Sha256>::new_from_slice(HMAC_SECRET)
                    .unwrap()
                    .chain_update(INPUT)
                    .finalize()
                    .into_bytes()
                    .to_vec(),
                Alg::Hs384 => Hmac::<Sha384>::new_from_slice(HMAC_SECRET)
                    .unwrap()
                    .chain_update(INPUT)
                    .finalize()
                    .into_bytes()
                    .to_vec(),
                _ => Hmac::<Sha512>::new_from_slice(HMAC_SECRET)
                    .unwrap()
                    .chain_update(INPUT)
                    .finalize()
                    .into_bytes()
                    .to_vec(),
            };
            cases.push(Case {
                alg,
                key: hmac.clone(),
                sig,
            });
        }
        cases
    }

    /// The error a damaged signature of this algorithm must produce.
    fn bad_length_error(alg: Alg) -> SigError {
        if alg == Alg::EdDsa {
            SigError::WrongLength
        } else {
            SigError::Invalid
        }
    }

    #[test]
    fn valid_signatures_verify_for_every_alg() {
        let cases = cases();
        for alg in Alg::ALL {
            assert_eq!(
                cases.iter().filter(|c| c.alg == alg).count(),
                1,
                "one case for {alg}"
            );
        }
        for case in &cases {
            assert_eq!(
                case.key.verify(case.alg, INPUT, &case.sig),
                Ok(()),
                "{}",
                case.alg
            );
        }
    }

    #[test]
    fn other_input_is_refused() {
        for case in cases() {
            assert_eq!(
                case.key
                    .verify(case.alg, b"eyJhbGciOiJub25lIn0.e30", &case.sig),
                Err(SigError::Invalid),
                "{}",
                case.alg
            );
        }
    }

    /// Flips each bit of the valid signature in turn; every one must be refused. Split by
    /// algorithm below so the test harness runs the slow (debug-build) curves in parallel.
    fn assert_every_flipped_bit_is_refused(algs: &[Alg]) {
        for case in cases().into_iter().filter(|c| algs.contains(&c.alg)) {
            let mut sig = case.sig.clone();
            for bit in 0..sig.len() * 8 {
                sig[bit / 8] ^= 1 << (bit % 8);
                assert_eq!(
                    case.key.verify(case.alg, INPUT, &sig),
                    Err(SigError::Invalid),
                    "{} bit {bit}",
                    case.alg
                );
                sig[bit / 8] ^= 1 << (bit % 8);
            }
        }
    }

    #[test]
    fn every_flipped_bit_is_refused_rs() {
        assert_every_flipped_bit_is_refused(&[Alg::Rs256, Alg::Rs384, Alg::Rs512]);
    }

    #[test]
    fn every_flipped_bit_is_refused_ps() {
        assert_every_flipped_bit_is_refused(&[Alg::Ps256, Alg::Ps384, Alg::Ps512]);
    }

    #[test]
    fn every_flipped_bit_is_refused_es256_es256k() {
        assert_every_flipped_bit_is_refused(&[Alg::Es256, Alg::Es256k]);
    }

    #[test]
    fn every_flipped_bit_is_refused_es384() {
        assert_every_flipped_bit_is_refused(&[Alg::Es384]);
    }

    #[test]
    fn every_flipped_bit_is_refused_es512() {
        assert_every_flipped_bit_is_refused(&[Alg::Es512]);
    }

    #[test]
    fn every_flipped_bit_is_refused_eddsa_hs() {
        assert_every_flipped_bit_is_refused(&[Alg::EdDsa, Alg::Hs256, Alg::Hs384, Alg::Hs512]);
    }

    #[test]
    fn every_truncation_and_extension_is_refused() {
        for case in cases() {
            let expected = Err(bad_length_error(case.alg));
            for len in 0..case.sig.len() {
                assert_eq!(
                    case.key.verify(case.alg, INPUT, &case.sig[..len]),
                    expected,
                    "{} truncated to {len}",
                    case.alg
                );
            }
            let mut longer = case.sig.clone();
            longer.push(0);
            assert_eq!(
                case.key.verify(case.alg, INPUT, &longer),
                expected,
                "{} extended",
                case.alg
            );
            let mut prefixed = vec![0];
            prefixed.extend_from_slice(&case.sig);
            assert_eq!(
                case.key.verify(case.alg, INPUT, &prefixed),
                expected,
                "{} zero-prefixed",
                case.alg
            );
        }
    }

    #[test]
    fn supports_matches_key_kind_exactly() {
        use Alg::*;
        let table: [(&str, &[Alg]); 7] = [
            ("rsa", &[Rs256, Rs384, Rs512, Ps256, Ps384, Ps512]),
            ("p256", &[Es256]),
            ("p384", &[Es384]),
            ("p521", &[Es512]),
            ("k256", &[Es256k]),
            ("ed25519", &[EdDsa]),
            ("hmac", &[Hs256, Hs384, Hs512]),
        ];
        let cases = cases();
        for (name, supported) in table {
            let key = &cases.iter().find(|c| c.alg == supported[0]).unwrap().key;
            for alg in Alg::ALL {
                assert_eq!(
                    key.supports(alg),
                    supported.contains(&alg),
                    "{name} key, {alg}"
                );
            }
        }
    }

    #[test]
    fn no_key_verifies_a_signature_under_another_alg() {
        let cases = cases();
        for case in &cases {
            for other in &cases {
                if other.alg == case.alg || case.key.supports(other.alg) {
                    continue;
                }
                assert_eq!(
                    case.key.verify(other.alg, INPUT, &case.sig),
                    Err(SigError::Invalid),
                    "{} key as {}",
                    case.alg,
                    other.alg
                );
                assert_eq!(
                    case.key.verify(other.alg, INPUT, &other.sig),
                    Err(SigError::Invalid),
                    "{} key, {} sig",
                    case.alg,
                    other.alg
                );
            }
        }
    }

    #[test]
    fn public_key_bytes_are_not_an_hmac_secret() {
        // The classic RS256 → HS256 confusion: HMAC the input with the RSA public key's bytes.
        let rsa = rsa_private().to_public_key();
        let n = rsa.n().to_be_bytes();
        let forged = Hmac::<Sha256>::new_from_slice(&n)
            .unwrap()
            .chain_update(INPUT)
            .finalize()
            .into_bytes();
        let key = rsa_public(&rsa_private());
        assert!(!key.supports(Alg::Hs256));
        assert_eq!(
            key.verify(Alg::Hs256, INPUT, &forged),
            Err(SigError::Invalid)
        );

        let cases = cases();
        let hmac = &cases.iter().find(|c| c.alg == Alg::Hs256).unwrap().key;
        let rs256 = cases.iter().find(|c| c.alg == Alg::Rs256).unwrap();
        assert_eq!(
            hmac.verify(Alg::Rs256, INPUT, &rs256.sig),
            Err(SigError::Invalid)
        );

        let es256 = cases.iter().find(|c| c.alg == Alg::Es256).unwrap();
        assert_eq!(
            es256.key.verify(Alg::Es384, INPUT, &es256.sig),
            Err(SigError::Invalid)
        );
    }

    /// ASN.1 DER `SEQUENCE { INTEGER r, INTEGER s }` for a JWS R||S signature.
    fn der(raw: &[u8]) -> Vec<u8> {
        fn integer(bytes: &[u8]) -> Vec<u8> {
            let bytes = strip_leading_zeros(bytes);
            let mut out = vec![0x02];
            let pad = bytes.first().is_some_and(|b| b & 0x80 != 0);
            out.push((bytes.len() + usize::from(pad)) as u8);
            if pad {
                out.push(0);
            }
            out.extend_from_slice(bytes);
            out
        }
        let (r, s) = raw.split_at(raw.len() / 2);
        let body = [integer(r), integer(s)].concat();
        let mut out = vec![0x30];
        if body.len() >= 0x80 {
            out.push(0x81);
        }
        out.push(body.len() as u8);
        out.extend(body);
        out
    }

    #[test]
    fn der_encoded_ecdsa_signatures_are_refused() {
        for case in cases().into_iter().filter(|c| c.alg.family() == Family::Ec) {
            let der = der(&case.sig);
            assert_eq!(
                case.key.verify(case.alg, INPUT, &der),
                Err(SigError::Invalid),
                "{}",
                case.alg
            );
        }
    }

    #[test]
    fn ecdsa_accepts_high_s_on_every_curve() {
        macro_rules! high_s {
            ($sig:ty, $bytes:expr) => {{
                let (r, s) = <$sig>::from_slice($bytes).unwrap().split_scalars();
                <$sig>::from_scalars(r, -s).unwrap().to_bytes().to_vec()
            }};
        }
        for case in cases().into_iter().filter(|c| c.alg.family() == Family::Ec) {
            let negated = match case.alg {
                Alg::Es256 => high_s!(p256::ecdsa::Signature, &case.sig),
                Alg::Es384 => high_s!(p384::ecdsa::Signature, &case.sig),
                Alg::Es512 => high_s!(p521::ecdsa::Signature, &case.sig),
                _ => high_s!(k256::ecdsa::Signature, &case.sig),
            };
            assert_ne!(negated, case.sig);
            assert_eq!(
                case.key.verify(case.alg, INPUT, &negated),
                Ok(()),
                "{} with n - s",
                case.alg
            );
        }
    }

    #[test]
    fn ecdsa_zero_or_out_of_range_scalars_are_refused() {
        // secp256r1 group order n.
        let n = hex::decode("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551")
            .unwrap();
        let case = cases().into_iter().find(|c| c.alg == Alg::Es256).unwrap();
        let (r, s) = case.sig.split_at(32);
        let zero = [0u8; 32];
        let ff = [0xffu8; 32];
        let table: [(&str, Vec<u8>); 6] = [
            ("r = 0", [&zero[..], s].concat()),
            ("s = 0", [r, &zero[..]].concat()),
            ("r = s = 0", [zero, zero].concat()),
            ("r = n", [&n[..], s].concat()),
            ("s = n", [r, &n[..]].concat()),
            ("s = 2^256 - 1", [r, &ff[..]].concat()),
        ];
        for (name, sig) in table {
            assert_eq!(
                case.key.verify(Alg::Es256, INPUT, &sig),
                Err(SigError::Invalid),
                "{name}"
            );
        }
    }

    #[test]
    fn rsa_constructor_enforces_size_and_exponent() {
        let good = rsa_private().to_public_key().n().to_be_bytes().to_vec();
        let odd = |bits: usize| {
            let mut n = vec![0xff; bits.div_ceil(8)];
            n[0] = 0xff >> ((8 - bits % 8) % 8);
            n
        };
        let mut padded = vec![0, 0, 0];
        padded.extend_from_slice(&good);
        let mut even = good.clone();
        *even.last_mut().unwrap() &= 0xfe;
        let f4 = [1, 0, 1];
        /// name, n, e, modulus bits or error
        type Row<'a> = (&'a str, Vec<u8>, &'a [u8], Result<usize, KeyError>);
        let table: [Row; 10] = [
            ("2048-bit, e=65537", good.clone(), &f4, Ok(2048)),
            ("2048-bit, e=3", good.clone(), &[3], Ok(2048)),
            (
                "leading zero bytes in n and e",
                padded,
                &[0, 0, 1, 0, 1],
                Ok(2048),
            ),
            (
                "1024-bit",
                odd(1024),
                &f4,
                Err(KeyError::RsaModulusTooSmall { bits: 1024 }),
            ),
            (
                "2047-bit",
                odd(2047),
                &f4,
                Err(KeyError::RsaModulusTooSmall { bits: 2047 }),
            ),
            (
                "8193-bit",
                odd(8193),
                &f4,
                Err(KeyError::RsaModulusTooLarge { bits: 8193 }),
            ),
            ("e=5", good.clone(), &[5], Err(KeyError::RsaExponent)),
            ("e=1", good.clone(), &[1], Err(KeyError::RsaExponent)),
            ("empty e", good, &[], Err(KeyError::RsaExponent)),
            ("even n", even, &f4, Err(KeyError::RsaInvalid)),
        ];
        for (name, n, e, expected) in table {
            let got = PublicKey::rsa(&n, e).map(|key| match key {
                PublicKey::Rsa(rsa) => rsa.bits(),
                _ => 0,
            });
            assert_eq!(got, expected, "{name}");
        }
        assert!(
            PublicKey::rsa(&odd(8192), &f4).is_ok(),
            "8192 bits is the maximum"
        );
        assert_eq!(
            PublicKey::rsa(&[], &f4).unwrap_err(),
            KeyError::RsaModulusTooSmall { bits: 0 }
        );
    }

    #[test]
    fn ec_constructor_checks_length_and_curve() {
        let (x, y) = ec_coordinates(Curve::P256);
        let (x, y) = (&x[..], &y[..]);
        let mut y_plus_one = y.to_vec();
        y_plus_one[31] ^= 1;
        let short = &x[1..];
        let long = [&[0u8][..], x].concat();
        let zero = [0u8; 32];
        let p = hex::decode("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff")
            .unwrap();
        /// name, curve, x, y, error
        type Row<'a> = (&'a str, Curve, &'a [u8], &'a [u8], Option<KeyError>);
        let table: [Row; 8] = [
            ("valid", Curve::P256, x, y, None),
            (
                "x short, padded to another point",
                Curve::P256,
                short,
                y,
                Some(KeyError::EcNotOnCurve { curve: Curve::P256 }),
            ),
            (
                "x long",
                Curve::P256,
                &long,
                y,
                Some(KeyError::EcCoordinateLength {
                    curve: Curve::P256,
                    x: 33,
                    y: 32,
                }),
            ),
            (
                "P-256 point as P-384",
                Curve::P384,
                x,
                y,
                Some(KeyError::EcNotOnCurve { curve: Curve::P384 }),
            ),
            (
                "not on curve",
                Curve::P256,
                x,
                &y_plus_one,
                Some(KeyError::EcNotOnCurve { curve: Curve::P256 }),
            ),
            (
                "origin",
                Curve::P256,
                &zero,
                &zero,
                Some(KeyError::EcNotOnCurve { curve: Curve::P256 }),
            ),
            (
                "x = p",
                Curve::P256,
                &p,
                y,
                Some(KeyError::EcNotOnCurve { curve: Curve::P256 }),
            ),
            (
                "P-256 point on secp256k1",
                Curve::Secp256k1,
                x,
                y,
                Some(KeyError::EcNotOnCurve {
                    curve: Curve::Secp256k1,
                }),
            ),
        ];
        for (name, curve, x, y, expected) in table {
            assert_eq!(PublicKey::ec(curve, x, y).err(), expected, "{name}");
        }
    }

    #[test]
    fn ed25519_constructor_checks_length_and_point() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let good = *ed25519_dalek::SigningKey::from_bytes(&[0x55; 32])
            .verifying_key()
            .as_bytes();
        let table: [(&str, &[u8], Option<KeyError>); 5] = [
            ("valid", &good, None),
            (
                "31 bytes",
                &good[..31],
                Some(KeyError::Ed25519Length { len: 31 }),
            ),
            ("empty", &[], Some(KeyError::Ed25519Length { len: 0 })),
            (
                "identity (small order)",
                &identity,
                Some(KeyError::Ed25519InvalidPoint),
            ),
            (
                "y = 2 has no x",
                &ED25519_NOT_ON_CURVE,
                Some(KeyError::Ed25519InvalidPoint),
            ),
        ];
        for (name, x, expected) in table {
            assert_eq!(PublicKey::ed25519(x).err(), expected, "{name}");
        }
    }

    const ED25519_NOT_ON_CURVE: [u8; 32] = {
        let mut y = [0u8; 32];
        y[0] = 2;
        y
    };

    #[test]
    fn hmac_constructor_refuses_empty_and_hides_secret() {
        assert_eq!(PublicKey::hmac(&[]).err(), Some(KeyError::HmacEmpty));
        let key = PublicKey::hmac(b"very secret").unwrap();
        assert!(!format!("{key:?}").contains("very secret"));
        assert_eq!(PublicKey::hmac(&[0]).map(|k| k.family()), Ok(Family::Hmac));
    }

    #[test]
    fn curve_names_round_trip() {
        for curve in [Curve::P256, Curve::P384, Curve::P521, Curve::Secp256k1] {
            assert_eq!(Curve::parse(curve.name()), Some(curve));
            assert_eq!(Curve::for_alg(curve.alg()), Some(curve));
        }
        assert_eq!(Curve::parse("P-256K"), None);
    }

    /// Rough timing, not an assertion: `cargo test --release --lib -- --ignored --nocapture timing`.
    #[test]
    #[ignore]
    fn timing() {
        for case in cases() {
            let rounds = 200;
            let start = std::time::Instant::now();
            for _ in 0..rounds {
                assert!(case.key.verify(case.alg, INPUT, &case.sig).is_ok());
            }
            println!("{}: {:?} per verify", case.alg, start.elapsed() / rounds);
        }
    }
}
