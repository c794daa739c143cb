//! The signature layer: public keys parsed once into verifier-ready form, and `verify` for every
//! JWS algorithm in [`Alg`]. It knows nothing about JWTs, JWKS or `kid`s; callers hand it the
//! signing input and the decoded signature. A key verifies only the algorithms of its own kind
//! (see [`PublicKey::supports`]), so an RSA, EC or OKP public key can never be used as an HMAC
//! secret, whatever the token's header says.

pub mod alg;
pub mod ec_verify;
pub mod ed25519_verify;
pub mod k256_verify;
pub mod p256_verify;
pub mod p384_verify;
pub mod p521_verify;
pub mod rsa_verify;
pub mod sha;
pub mod wnaf;

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Sha256, Sha384, Sha512};

use crate::crypto::alg::{Alg, Family};
use crate::crypto::rsa_verify::{bit_len, strip_leading_zeros, Engine, Exponent, Padding, RsaPublic};

/// The line the filter logs once per VM: which RSA engine this build and host use, and why
/// ([`Engine::describe`] of [`Engine::best`] in this build's [`Simd`](rsa_verify::Simd)).
pub fn engine_description() -> &'static str {
    Engine::best().describe(rsa_verify::Simd::BUILT)
}

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
    /// Verified by our own variable-time code ([`crate::crypto::p256_verify`]), not `p256`'s.
    P256(p256_verify::VerifyingKey),
    /// This and the next two: our own variable-time code as well, one engine generic over the
    /// curve ([`crate::crypto::ec_verify`]).
    P384(p384_verify::VerifyingKey),
    P521(p521_verify::VerifyingKey),
    K256(k256_verify::VerifyingKey),
    /// Our own variable-time code as well ([`crate::crypto::ed25519_verify`]), with
    /// ed25519-dalek's rules (`verify_strict`, weak keys refused).
    Ed25519(ed25519_verify::VerifyingKey),
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
        // Refused: no point has this encoding, or it is one of small order. A small-order key
        // has no secret behind it: signatures for it can be forged, and ed25519-dalek's
        // `verify_strict` (whose rules ours follows) would refuse every signature; refusing
        // the key up front says why.
        let key =
            ed25519_verify::VerifyingKey::from_bytes(bytes).ok_or(KeyError::Ed25519InvalidPoint)?;
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
        // One call per family, each out of line: inlined, the hashes and verifiers of every
        // family made this one function of 16 KB, which V8 compiles at load (`make bench-compile`).
        match self {
            PublicKey::Rsa(key) => verify_rsa(key, alg, signing_input, signature),
            PublicKey::P256(key) => verify_p256(key, signing_input, signature),
            // R || S of the curve's fixed length, each in [1, n − 1]; high S accepted.
            PublicKey::P384(key) => verify_ec(key, &sha::sha384(&[signing_input]), signature),
            PublicKey::P521(key) => verify_ec(key, &sha::sha512(&[signing_input]), signature),
            // JWS, like Wycheproof's standard secp256k1 vectors, accepts both S and n − S (the
            // low-S rule is Bitcoin's, which `k256` applied and we do not).
            PublicKey::K256(key) => verify_ec(key, &sha::sha256(&[signing_input]), signature),
            PublicKey::Ed25519(key) => verify_ed25519(key, signing_input, signature),
            PublicKey::Hmac(key) => verify_hmac(key, alg, signing_input, signature),
        }
    }
}

/// ES256: R || S, 64 bytes, each in [1, n − 1]; high S accepted (as `p256` does).
#[inline(never)]
fn verify_p256(
    key: &p256_verify::VerifyingKey,
    input: &[u8],
    signature: &[u8],
) -> Result<(), SigError> {
    ec_result(key.verify_prehash(&sha::sha256(&[input]), signature))
}

/// ES384, ES512, ES256K on the generic engine, given the signing input's hash (the curve's).
#[inline(never)]
fn verify_ec<C: ec_verify::Curve<L>, const L: usize>(
    key: &ec_verify::VerifyingKey<C, L>,
    digest: &[u8],
    signature: &[u8],
) -> Result<(), SigError> {
    ec_result(key.verify_prehash(digest, signature))
}

#[inline(never)]
fn verify_ed25519(
    key: &ed25519_verify::VerifyingKey,
    input: &[u8],
    signature: &[u8],
) -> Result<(), SigError> {
    let bytes: &[u8; 64] = signature.try_into().map_err(|_| SigError::WrongLength)?;
    ec_result(key.verify(input, bytes))
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
#[inline(never)]
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
#[inline(never)]
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
pub(crate) mod tests;
