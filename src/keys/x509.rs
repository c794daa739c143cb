//! Public keys from X.509 and PEM: a DER `SubjectPublicKeyInfo` (RFC 5280 §4.1.2.7), a PKCS#1
//! `RSAPublicKey` (RFC 8017 §A.1.1), or the subject key of a DER certificate, and PEM text
//! (RFC 7468) holding any of them. The ASN.1 is RustCrypto's (`spki`, `pkcs1`, `x509-cert`,
//! `pem-rfc7468`); this module only maps algorithm identifiers to the keys of [`crate::crypto`].
//!
//! Certificates are key carriers, nothing more: their validity dates, extensions, issuer and
//! signature are not looked at (as Envoy does for its X.509 key maps) and no chain is built. A
//! key document is trusted because of where it comes from, not because of what signed it.
//!
//! Supported keys: RSA (`rsaEncryption`), EC on P-256, P-384, P-521 and secp256k1 (named curve,
//! uncompressed point; compressed points are refused) and Ed25519. Everything else (DSA,
//! RSASSA-PSS-only keys, X25519, Ed448, explicit curve parameters) is refused with a reason.
//! Nothing here panics on any input; sizes are capped before parsing.
//!
//! Thumbprints: only `x5t#S256` (SHA-256) is computed, with the `sha2` the crate already has.
//! The SHA-1 `x5t` would need a SHA-1 implementation in the .wasm for no gain: it names the same
//! certificate, and a JWKS member that only restates the certificate adds no trust.

use std::fmt;

use der::asn1::{ObjectIdentifier, UintRef};
use der::referenced::OwnedToRef;
use der::Decode;
use sha2::{Digest, Sha256};
use spki::SubjectPublicKeyInfoRef;
use x509_cert::certificate::{CertificateInner, Raw};

use crate::crypto::alg::Family;
use crate::token::b64;
use crate::crypto::{Curve, KeyError, PublicKey};

/// Largest DER certificate (or key) accepted, in bytes. Real certificates are 1-2 KiB; an RSA
/// 8192-bit key certificate stays well under this.
pub const MAX_CERT_BYTES: usize = 16 * 1024;
/// Largest PEM text accepted, in bytes.
pub const MAX_PEM_BYTES: usize = 256 * 1024;
/// Most PEM blocks accepted in one text.
pub const MAX_PEM_BLOCKS: usize = 100;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const SECP521R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const SECP256K1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.10");

/// Key algorithms refused by name in messages (the rest are shown as their OID).
const KNOWN_UNSUPPORTED: [(&str, &str); 5] = [
    ("1.2.840.113549.1.1.10", "RSASSA-PSS"),
    ("1.2.840.10040.4.1", "DSA"),
    ("1.3.101.110", "X25519"),
    ("1.3.101.111", "X448"),
    ("1.3.101.113", "Ed448"),
];

/// The public key carried by an SPKI, a PKCS#1 key or a certificate, before the checks of
/// [`PublicKey`]. Integers and coordinates are big-endian; RSA integers have no leading zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    Ec {
        curve: Curve,
        x: Vec<u8>,
        y: Vec<u8>,
    },
    Ed25519 {
        x: Vec<u8>,
    },
}

impl KeyMaterial {
    /// The kind of key, as [`PublicKey::family`] will report it.
    pub fn family(&self) -> Family {
        match self {
            KeyMaterial::Rsa { .. } => Family::Rsa,
            KeyMaterial::Ec { .. } => Family::Ec,
            KeyMaterial::Ed25519 { .. } => Family::Okp,
        }
    }

    /// The JWK `kty` of this kind of key.
    pub fn kty(&self) -> &'static str {
        match self {
            KeyMaterial::Rsa { .. } => "RSA",
            KeyMaterial::Ec { .. } => "EC",
            KeyMaterial::Ed25519 { .. } => "OKP",
        }
    }

    /// The verification key, with all of [`PublicKey`]'s checks (RSA size and exponent, point
    /// on the curve, Ed25519 point not weak). Never an HMAC secret.
    pub fn public_key(&self) -> Result<PublicKey, X509Error> {
        match self {
            KeyMaterial::Rsa { n, e } => PublicKey::rsa(n, e),
            KeyMaterial::Ec { curve, x, y } => PublicKey::ec(*curve, x, y),
            KeyMaterial::Ed25519 { x } => PublicKey::ed25519(x),
        }
        .map_err(X509Error::Key)
    }
}

/// Why no key came out of a DER or PEM input. The `Display` text is meant for log lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum X509Error {
    /// Input larger than the cap for its kind.
    TooLarge {
        what: &'static str,
        len: usize,
        max: usize,
    },
    /// Not a DER encoding of the expected structure.
    Malformed { what: &'static str, detail: String },
    /// A key algorithm other than RSA, EC and Ed25519.
    UnsupportedAlgorithm { oid: String },
    /// An EC key on a curve other than P-256, P-384, P-521 and secp256k1.
    UnsupportedCurve { oid: String },
    /// Algorithm parameters that do not fit the algorithm (e.g. an EC key without a named
    /// curve, an Ed25519 key with parameters).
    BadParameters { what: &'static str },
    /// A compressed EC point (SEC1 `02`/`03` prefix).
    CompressedPoint,
    /// An EC point that is not an uncompressed point of the curve's size.
    BadPoint { curve: Curve, len: usize },
    /// Refused by [`PublicKey`] (RSA size or exponent, point not on the curve, ...).
    Key(KeyError),
    /// PEM framing or base64 broken.
    Pem { detail: String },
    /// A PEM block that holds neither a public key nor a certificate.
    UnsupportedPemLabel { label: String },
    /// Text that is not PEM, or text between PEM blocks.
    NotPem,
    /// More than [`MAX_PEM_BLOCKS`] blocks.
    TooManyPemBlocks,
}

impl fmt::Display for X509Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            X509Error::TooLarge { what, len, max } => {
                write!(f, "{what} is {len} bytes, more than the limit of {max}")
            }
            X509Error::Malformed { what, detail } => write!(f, "{what} is not valid DER: {detail}"),
            X509Error::UnsupportedAlgorithm { oid } => {
                match KNOWN_UNSUPPORTED.iter().find(|(known, _)| known == oid) {
                    Some((_, name)) => write!(f, "unsupported key algorithm {name} ({oid})"),
                    None => write!(f, "unsupported key algorithm {oid}"),
                }
            }
            X509Error::UnsupportedCurve { oid } => write!(f, "unsupported EC curve {oid}"),
            X509Error::BadParameters { what } => f.write_str(what),
            X509Error::CompressedPoint => f.write_str("compressed EC points are not supported"),
            X509Error::BadPoint { curve, len } => write!(
                f,
                "EC point is {len} bytes, not an uncompressed {} point ({} bytes)",
                curve.name(),
                1 + 2 * curve.field_len()
            ),
            X509Error::Key(err) => err.fmt(f),
            X509Error::Pem { detail } => write!(f, "invalid PEM: {detail}"),
            X509Error::UnsupportedPemLabel { label } => write!(
                f,
                "PEM block {label:?} is not a PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE"
            ),
            X509Error::NotPem => f.write_str("text outside PEM blocks"),
            X509Error::TooManyPemBlocks => {
                write!(f, "more than {MAX_PEM_BLOCKS} PEM blocks")
            }
        }
    }
}

impl std::error::Error for X509Error {}

fn malformed(what: &'static str) -> impl Fn(der::Error) -> X509Error {
    move |err| X509Error::Malformed {
        what,
        detail: err.to_string(),
    }
}

fn check_size(what: &'static str, der: &[u8]) -> Result<(), X509Error> {
    if der.len() > MAX_CERT_BYTES {
        return Err(X509Error::TooLarge {
            what,
            len: der.len(),
            max: MAX_CERT_BYTES,
        });
    }
    Ok(())
}

/// The key of a DER `SubjectPublicKeyInfo` (PEM label `PUBLIC KEY`).
pub fn spki(der: &[u8]) -> Result<KeyMaterial, X509Error> {
    check_size("public key", der)?;
    let info = SubjectPublicKeyInfoRef::from_der(der).map_err(malformed("public key"))?;
    from_spki(&info)
}

/// The key of a DER PKCS#1 `RSAPublicKey` (PEM label `RSA PUBLIC KEY`).
pub fn rsa_public_key(der: &[u8]) -> Result<KeyMaterial, X509Error> {
    check_size("RSA public key", der)?;
    let key =
        pkcs1::RsaPublicKey::<UintRef<'_>>::from_der(der).map_err(malformed("RSA public key"))?;
    Ok(KeyMaterial::Rsa {
        n: key.modulus.as_bytes().to_vec(),
        e: key.public_exponent.as_bytes().to_vec(),
    })
}

/// The subject public key of a DER X.509 certificate (PEM label `CERTIFICATE`). Dates,
/// extensions and the signature are ignored.
pub fn certificate(der: &[u8]) -> Result<KeyMaterial, X509Error> {
    check_size("certificate", der)?;
    // The `Raw` profile: RFC 5280's serial-number length rule is broken by real certificates
    // and says nothing about the key.
    let cert = CertificateInner::<Raw>::from_der(der).map_err(malformed("certificate"))?;
    from_spki(
        &cert
            .tbs_certificate()
            .subject_public_key_info()
            .owned_to_ref(),
    )
}

/// [`spki`], checked into a verification key.
pub fn spki_public_key(der: &[u8]) -> Result<PublicKey, X509Error> {
    spki(der)?.public_key()
}

/// [`certificate`], checked into a verification key.
pub fn certificate_public_key(der: &[u8]) -> Result<PublicKey, X509Error> {
    certificate(der)?.public_key()
}

/// The `x5t#S256` thumbprint of a DER certificate (RFC 7517 §4.9): base64url(SHA-256(DER)).
pub fn thumbprint_sha256(der: &[u8]) -> String {
    b64::encode(&Sha256::digest(der))
}

fn from_spki(info: &SubjectPublicKeyInfoRef<'_>) -> Result<KeyMaterial, X509Error> {
    let oid = info.algorithm.oid;
    let params = info.algorithm.parameters;
    let bits = info
        .subject_public_key
        .as_bytes()
        .ok_or(X509Error::BadParameters {
            what: "public key bit string has unused bits",
        })?;
    if oid == RSA_ENCRYPTION {
        // RFC 3279 §2.3.1: parameters NULL; some encoders leave them out.
        if params.is_some_and(|p| !p.is_null()) {
            return Err(X509Error::BadParameters {
                what: "RSA key parameters are not NULL",
            });
        }
        rsa_public_key(bits)
    } else if oid == EC_PUBLIC_KEY {
        // RFC 5480 §2.1.1: only `namedCurve` is allowed in certificates.
        let named = params
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
            .ok_or(X509Error::BadParameters {
                what: "EC key parameters are not a named curve",
            })?;
        let curve = curve_for(named).ok_or_else(|| X509Error::UnsupportedCurve {
            oid: named.to_string(),
        })?;
        ec_point(curve, bits)
    } else if oid == ED25519 {
        // RFC 8410 §3: parameters absent.
        if params.is_some() {
            return Err(X509Error::BadParameters {
                what: "Ed25519 key has parameters",
            });
        }
        Ok(KeyMaterial::Ed25519 { x: bits.to_vec() })
    } else {
        Err(X509Error::UnsupportedAlgorithm {
            oid: oid.to_string(),
        })
    }
}

fn curve_for(oid: ObjectIdentifier) -> Option<Curve> {
    [
        (SECP256R1, Curve::P256),
        (SECP384R1, Curve::P384),
        (SECP521R1, Curve::P521),
        (SECP256K1, Curve::Secp256k1),
    ]
    .into_iter()
    .find(|(known, _)| *known == oid)
    .map(|(_, curve)| curve)
}

/// SEC1 `04 || X || Y` → coordinates.
fn ec_point(curve: Curve, point: &[u8]) -> Result<KeyMaterial, X509Error> {
    let len = curve.field_len();
    match point.split_first() {
        Some((0x02 | 0x03, _)) => Err(X509Error::CompressedPoint),
        Some((0x04, coords)) if coords.len() == 2 * len => {
            let (x, y) = coords.split_at(len);
            Ok(KeyMaterial::Ec {
                curve,
                x: x.to_vec(),
                y: y.to_vec(),
            })
        }
        _ => Err(X509Error::BadPoint {
            curve,
            len: point.len(),
        }),
    }
}

/// The key of one decoded PEM block, by its label.
pub fn pem_block_key(label: &str, der: &[u8]) -> Result<KeyMaterial, X509Error> {
    match label {
        "PUBLIC KEY" => spki(der),
        "RSA PUBLIC KEY" => rsa_public_key(der),
        "CERTIFICATE" => certificate(der),
        other => Err(X509Error::UnsupportedPemLabel {
            label: other.chars().take(64).collect(),
        }),
    }
}

/// Whether `text` looks like PEM: its first non-whitespace characters open a PEM block.
pub fn is_pem(text: &str) -> bool {
    text.trim_start().starts_with("-----BEGIN")
}

/// The keys of PEM text: one or more `PUBLIC KEY`, `RSA PUBLIC KEY` or `CERTIFICATE` blocks,
/// separated by whitespace only. The outer error is for the text as a whole (too large, too
/// many blocks, text between blocks, a block never closed); each block then has its own result,
/// in order, so callers can keep the good blocks and report the bad ones.
pub fn pem_keys(text: &str) -> Result<Vec<Result<KeyMaterial, X509Error>>, X509Error> {
    Ok(pem_blocks(text)?
        .into_iter()
        .map(|block| block.and_then(|block| pem_block_key(&block.label, &block.der)))
        .collect())
}

/// One decoded PEM block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemBlock {
    pub label: String,
    pub der: Vec<u8>,
}

/// Splits PEM text into blocks and decodes each: label and DER, or why the block is unusable.
pub fn pem_blocks(text: &str) -> Result<Vec<Result<PemBlock, X509Error>>, X509Error> {
    const BEGIN: &str = "-----BEGIN ";
    const END: &str = "-----END ";
    const DASHES: &str = "-----";
    if text.len() > MAX_PEM_BYTES {
        return Err(X509Error::TooLarge {
            what: "PEM text",
            len: text.len(),
            max: MAX_PEM_BYTES,
        });
    }
    let mut blocks = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        if !rest.starts_with(BEGIN) {
            return Err(X509Error::NotPem);
        }
        if blocks.len() == MAX_PEM_BLOCKS {
            return Err(X509Error::TooManyPemBlocks);
        }
        // The block runs to the closing dashes of the first post-encapsulation boundary.
        let unterminated = || X509Error::Pem {
            detail: "a block has no -----END line".into(),
        };
        let end = rest.find(END).ok_or_else(unterminated)? + END.len();
        let after_end = rest.get(end..).ok_or_else(unterminated)?;
        let close = end + after_end.find(DASHES).ok_or_else(unterminated)? + DASHES.len();
        let (block, tail) = rest.split_at_checked(close).ok_or_else(unterminated)?;
        blocks.push(decode_pem_block(block));
        rest = tail.trim_start();
    }
    if blocks.is_empty() {
        return Err(X509Error::NotPem);
    }
    Ok(blocks)
}

fn decode_pem_block(block: &str) -> Result<PemBlock, X509Error> {
    let pem_error = |err: pem_rfc7468::Error| X509Error::Pem {
        detail: err.to_string(),
    };
    // Lines of any one width (64 is RFC 7468's, 76 is seen too), as long as they agree.
    let mut decoder = pem_rfc7468::Decoder::new_detect_wrap(block.as_bytes()).map_err(pem_error)?;
    if decoder.remaining_len() > MAX_CERT_BYTES {
        return Err(X509Error::TooLarge {
            what: "PEM block",
            len: decoder.remaining_len(),
            max: MAX_CERT_BYTES,
        });
    }
    let label = decoder.type_label().to_owned();
    let mut der = Vec::new();
    decoder.decode_to_end(&mut der).map_err(pem_error)?;
    Ok(PemBlock { label, der })
}

/// Test material: SPKI, PKCS#1 and certificate DER for a key, made with the RustCrypto encoders
/// (x509-cert's own certificate builder, with a stub signer: nothing reads the signature).
#[cfg(test)]
pub(crate) mod test_support;

#[cfg(test)]
mod tests;
