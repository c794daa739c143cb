//! Public keys from X.509 and PEM: a DER `SubjectPublicKeyInfo` (RFC 5280 §4.1.2.7), a PKCS#1
//! `RSAPublicKey` (RFC 8017 §A.1.1), or the subject key of a DER certificate, and PEM text
//! (RFC 7468) holding any of them, read with our own DER reader ([`super::der`]) and mapped to
//! the keys of [`crate::crypto`].
//!
//! What is accepted is what RustCrypto's decoders accepted before they left the module
//! (`x509-cert` with its `Raw` profile, `spki`, `pkcs1`, `pem-rfc7468`); they remain the
//! reference of the differential tests (`x509/differential.rs`) and of the `x509` fuzz target.
//! A certificate is read whole and must be well-formed throughout (version 1 to 3, any serial
//! number, names, validity times in their RFC 5280 forms from 1970 on, unique identifiers,
//! extensions), but it is a key carrier, nothing more: its validity dates are not compared with
//! the clock, its extensions, issuer and signature are not interpreted (as Envoy does for its
//! X.509 key maps) and no chain is built. A key document is trusted because of where it comes
//! from, not because of what signed it.
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

use sha2::{Digest, Sha256};

use super::der::{self, Reader, Tag, Tlv};
use crate::crypto::alg::Family;
use crate::crypto::{Curve, KeyError, PublicKey};
use crate::token::b64;

/// Largest DER certificate (or key) accepted, in bytes. Real certificates are 1-2 KiB; an RSA
/// 8192-bit key certificate stays well under this.
pub const MAX_CERT_BYTES: usize = 16 * 1024;
/// Largest PEM text accepted, in bytes.
pub const MAX_PEM_BYTES: usize = 256 * 1024;
/// Most PEM blocks accepted in one text.
pub const MAX_PEM_BLOCKS: usize = 100;

// Object identifiers, as their DER content octets (compared octet for octet: an identifier
// encoded otherwise is another one).
/// 1.2.840.113549.1.1.1
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// 1.2.840.10045.2.1
const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// 1.3.101.112
const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
/// 1.2.840.10045.3.1.7
const SECP256R1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// 1.3.132.0.34
const SECP384R1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
/// 1.3.132.0.35
const SECP521R1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
/// 1.3.132.0.10
const SECP256K1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x0a];

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
    let info = der::parse(der, read_spki).map_err(malformed("public key"))?;
    from_spki(&info)
}

/// The key of a DER PKCS#1 `RSAPublicKey` (PEM label `RSA PUBLIC KEY`).
pub fn rsa_public_key(der: &[u8]) -> Result<KeyMaterial, X509Error> {
    check_size("RSA public key", der)?;
    der::parse(der, |reader| {
        // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
        let mut key = reader.sequence()?;
        let n = der::uint(&key.read(Tag::INTEGER)?)?;
        let e = der::uint(&key.read(Tag::INTEGER)?)?;
        key.finish()?;
        Ok(KeyMaterial::Rsa {
            n: n.to_vec(),
            e: e.to_vec(),
        })
    })
    .map_err(malformed("RSA public key"))
}

/// The subject public key of a DER X.509 certificate (PEM label `CERTIFICATE`). Dates,
/// extensions and the signature are ignored.
pub fn certificate(der: &[u8]) -> Result<KeyMaterial, X509Error> {
    check_size("certificate", der)?;
    let info = der::parse(der, read_certificate).map_err(malformed("certificate"))?;
    from_spki(&info)
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

/// A `SubjectPublicKeyInfo`, read but not yet interpreted.
struct Spki<'a> {
    /// The algorithm OID's content octets.
    oid: &'a [u8],
    params: Option<Tlv<'a>>,
    unused_bits: u8,
    key: &'a [u8],
}

/// `AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL }`
fn read_algorithm<'a>(reader: &mut Reader<'a>) -> Result<(&'a [u8], Option<Tlv<'a>>), der::Error> {
    let mut algorithm = reader.sequence()?;
    let oid = algorithm.oid()?;
    let params = if algorithm.is_empty() {
        None
    } else {
        Some(algorithm.any()?)
    };
    algorithm.finish()?;
    Ok((oid, params))
}

/// `SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }`
fn read_spki<'a>(reader: &mut Reader<'a>) -> Result<Spki<'a>, der::Error> {
    let mut info = reader.sequence()?;
    let (oid, params) = read_algorithm(&mut info)?;
    let (unused_bits, key) = der::bit_string(&info.read(Tag::BIT_STRING)?)?;
    info.finish()?;
    Ok(Spki {
        oid,
        params,
        unused_bits,
        key,
    })
}

/// `Name ::= SEQUENCE OF SET OF SEQUENCE { type OBJECT IDENTIFIER, value ANY }` (RFC 5280
/// §4.1.2.4). Empty sequences and sets are let through, and the order in a SET is not checked.
fn read_name(reader: &mut Reader<'_>) -> Result<(), der::Error> {
    let mut rdns = reader.sequence()?;
    while !rdns.is_empty() {
        let mut set = rdns.read(Tag::SET)?.reader();
        while !set.is_empty() {
            let mut attribute = set.sequence()?;
            attribute.oid()?;
            attribute.any()?;
            attribute.finish()?;
        }
    }
    Ok(())
}

/// The next element if it is the context-specific `[number]`, primitive or constructed as
/// `constructed` says (the other form is an error).
fn read_context<'a>(
    reader: &mut Reader<'a>,
    number: u32,
    constructed: bool,
) -> Result<Option<Tlv<'a>>, der::Error> {
    match reader.peek_tag()? {
        Some(tag) if tag.is_context(number) => {
            let tlv = reader.any()?;
            if tlv.tag.is_constructed() != constructed {
                return Err(der::Error {
                    at: tlv.at,
                    what: "context-specific element of the wrong form",
                });
            }
            Ok(Some(tlv))
        }
        _ => Ok(None),
    }
}

/// The subject public key info of a certificate, with the checks of RustCrypto's `x509-cert`
/// (its `Raw` profile: any serial number, no RFC 5280 time encoding rules) over the whole
/// certificate:
///
/// ```text
/// Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm AlgorithmIdentifier, signature BIT STRING }
/// TBSCertificate ::= SEQUENCE {
///     version [0] EXPLICIT INTEGER { v1(0), v2(1), v3(2) } DEFAULT v1,
///     serialNumber INTEGER, signature AlgorithmIdentifier, issuer Name,
///     validity SEQUENCE { notBefore Time, notAfter Time }, subject Name,
///     subjectPublicKeyInfo, issuerUniqueID [1] IMPLICIT BIT STRING OPTIONAL,
///     subjectUniqueID [2] IMPLICIT BIT STRING OPTIONAL, extensions [3] EXPLICIT Extensions OPTIONAL }
/// Extension ::= SEQUENCE { extnID OBJECT IDENTIFIER, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
/// ```
fn read_certificate<'a>(reader: &mut Reader<'a>) -> Result<Spki<'a>, der::Error> {
    let mut cert = reader.sequence()?;
    let mut tbs = cert.sequence()?;
    if let Some(version) = read_context(&mut tbs, 0, true)? {
        let mut inner = version.reader();
        let number = inner.read(Tag::INTEGER)?;
        if !matches!(number.value, [0..=2]) {
            return Err(der::Error {
                at: number.at,
                what: "certificate version is not 1, 2 or 3",
            });
        }
        inner.finish()?;
    }
    der::int(&tbs.read(Tag::INTEGER)?)?;
    read_algorithm(&mut tbs)?;
    read_name(&mut tbs)?;
    let mut validity = tbs.sequence()?;
    for _ in 0..2 {
        der::time(&validity.any()?)?;
    }
    validity.finish()?;
    read_name(&mut tbs)?;
    let info = read_spki(&mut tbs)?;
    for number in [1, 2] {
        if let Some(unique_id) = read_context(&mut tbs, number, false)? {
            der::bit_string(&unique_id)?;
        }
    }
    if let Some(extensions) = read_context(&mut tbs, 3, true)? {
        let mut inner = extensions.reader();
        let mut list = inner.sequence()?;
        while !list.is_empty() {
            let mut extension = list.sequence()?;
            extension.oid()?;
            if extension.peek_tag()? == Some(Tag::BOOLEAN) {
                der::boolean(&extension.any()?)?;
            }
            extension.read(Tag::OCTET_STRING)?;
            extension.finish()?;
        }
        inner.finish()?;
    }
    tbs.finish()?;
    read_algorithm(&mut cert)?;
    der::bit_string(&cert.read(Tag::BIT_STRING)?)?;
    cert.finish()?;
    Ok(info)
}

fn from_spki(info: &Spki<'_>) -> Result<KeyMaterial, X509Error> {
    let (oid, params) = (info.oid, info.params);
    if info.unused_bits != 0 {
        return Err(X509Error::BadParameters {
            what: "public key bit string has unused bits",
        });
    }
    let bits = info.key;
    if oid == RSA_ENCRYPTION {
        // RFC 3279 §2.3.1: parameters NULL; some encoders leave them out.
        if params.is_some_and(|p| p.tag != Tag::NULL || !p.value.is_empty()) {
            return Err(X509Error::BadParameters {
                what: "RSA key parameters are not NULL",
            });
        }
        rsa_public_key(bits)
    } else if oid == EC_PUBLIC_KEY {
        // RFC 5480 §2.1.1: only `namedCurve` is allowed in certificates.
        let named = params
            .filter(|p| p.tag == Tag::OID && der::oid(p.value).is_ok())
            .ok_or(X509Error::BadParameters {
                what: "EC key parameters are not a named curve",
            })?
            .value;
        let curve = curve_for(named).ok_or_else(|| X509Error::UnsupportedCurve {
            oid: der::oid_string(named),
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
            oid: der::oid_string(oid),
        })
    }
}

fn curve_for(oid: &[u8]) -> Option<Curve> {
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
    split_pem(text, decode_pem_block)
}

fn split_pem(
    text: &str,
    decode_pem_block: fn(&str) -> Result<PemBlock, X509Error>,
) -> Result<Vec<Result<PemBlock, X509Error>>, X509Error> {
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

/// RFC 7468's grammar, as RustCrypto's `pem-rfc7468` 1.0 reads it (the checks and messages
/// are its own, with its base64 decoder's wrapped-line rules):
///
/// - `-----BEGIN LABEL-----`, an end of line (LF, CRLF or CR), the base64 lines, an end of
///   line and `-----END LABEL-----` with the same label. A label is printable ASCII without
///   `-`, with single spaces or tabs inside.
/// - Lines of one width (that of the first line, at least 4: 64 is RFC 7468's, 76 is seen too),
///   the last one shorter or equal; no headers, no blank lines, no other whitespace.
/// - The base64 is the standard alphabet, padded, with zero trailing bits.
fn decode_pem_block(block: &str) -> Result<PemBlock, X509Error> {
    let pem_error = |detail: &str| X509Error::Pem {
        detail: detail.to_owned(),
    };
    let (label, text) = pem_encapsulation(block.as_bytes()).map_err(pem_error)?;
    let base64 = pem_base64_lines(text).map_err(pem_error)?;
    // The decoded size, from the length and the last block, before decoding the rest.
    let bad_length = || pem_error("PEM Base64 error: invalid Base64 length");
    let bad_encoding = || pem_error("PEM Base64 error: invalid Base64 encoding");
    let last_block = base64
        .len()
        .checked_sub(4)
        .filter(|_| base64.len() % 4 == 0)
        .and_then(|start| base64.get(start..))
        .ok_or_else(bad_length)?;
    let last = pem_base64(last_block).ok_or_else(bad_encoding)?;
    let len = (base64.len() / 4 - 1) * 3 + last.len();
    if len > MAX_CERT_BYTES {
        return Err(X509Error::TooLarge {
            what: "PEM block",
            len,
            max: MAX_CERT_BYTES,
        });
    }
    let der = pem_base64(&base64).ok_or_else(bad_encoding)?;
    Ok(PemBlock {
        label: label.to_owned(),
        der,
    })
}

/// Standard base64, padding required, trailing bits zero.
fn pem_base64(base64: &[u8]) -> Option<Vec<u8>> {
    b64::decode_with(base64, b64::Alphabet::Standard, b64::Padding::Canonical)
}

fn strip_eol_start(bytes: &[u8]) -> Option<&[u8]> {
    match bytes {
        [b'\r', b'\n', rest @ ..] | [b'\n' | b'\r', rest @ ..] => Some(rest),
        _ => None,
    }
}

fn strip_eol_end(bytes: &[u8]) -> Option<&[u8]> {
    match bytes {
        [head @ .., b'\r', b'\n'] | [head @ .., b'\n' | b'\r'] => Some(head),
        _ => None,
    }
}

/// The label and the encapsulated text of one block (from `-----BEGIN ` to the final `-----`).
fn pem_encapsulation(block: &[u8]) -> Result<(&str, &[u8]), &'static str> {
    const BOUNDARY_ERROR: &str = "PEM error in post-encapsulation boundary";
    let after_begin = block
        .strip_prefix(b"-----BEGIN ")
        .ok_or("PEM error in pre-encapsulation boundary")?;
    // The label: label characters, single spaces or tabs after the first character, up to `-`.
    let mut len = 0;
    let mut last_was_space = false;
    for &c in after_begin {
        match c {
            0x21..=0x2C | 0x2E..=0x7E => last_was_space = false,
            b'-' => break,
            b' ' | b'\t' if len != 0 && !last_was_space => last_was_space = true,
            _ => return Err("PEM type label invalid"),
        }
        len += 1;
    }
    let (label, rest) = after_begin
        .split_at_checked(len)
        .ok_or("PEM type label invalid")?;
    let label = std::str::from_utf8(label).map_err(|_| "PEM type label invalid")?;
    let body = rest
        .strip_prefix(b"-----")
        .and_then(strip_eol_start)
        .ok_or("PEM type label invalid")?;
    let body = strip_eol_end(body).unwrap_or(body);
    let body = body
        .strip_suffix(b"-----")
        .ok_or("PEM error in pre-encapsulation boundary")?;
    let text = body
        .strip_suffix(label.as_bytes())
        .and_then(|body| body.strip_suffix(b"-----END "))
        .ok_or(BOUNDARY_ERROR)?;
    Ok((label, strip_eol_end(text).ok_or(BOUNDARY_ERROR)?))
}

/// The base64 of the encapsulated text, its lines joined: every line but the last exactly as
/// wide as the first, each followed by one end of line.
fn pem_base64_lines(text: &[u8]) -> Result<Vec<u8>, &'static str> {
    let width = text
        .iter()
        .position(|&c| c == b'\n' || c == b'\r')
        .unwrap_or(text.len());
    if width < 4 {
        return Err("PEM Base64 error: invalid Base64 length");
    }
    let mut base64 = Vec::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let Some((line, after)) = rest
            .split_at_checked(width)
            .filter(|(_, after)| !after.is_empty())
        else {
            // The last line, without one end of line.
            base64.extend_from_slice(strip_eol_end(rest).unwrap_or(rest));
            break;
        };
        base64.extend_from_slice(line);
        rest = strip_eol_start(after).ok_or("PEM Base64 error: invalid Base64 encoding")?;
    }
    Ok(base64)
}

/// Test material: SPKI, PKCS#1 and certificate DER for a key, made by `jwt_mint::x509` with the
/// RustCrypto encoders (x509-cert's own certificate builder, with a stub signer: nothing reads
/// the signature).
#[cfg(test)]
pub(crate) mod test_support;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod differential;
