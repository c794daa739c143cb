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

use crate::alg::Family;
use crate::b64;
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
pub(crate) mod test_support {
    use std::str::FromStr;
    use std::time::Duration;

    use der::asn1::{Any, BitString, UintRef, UtcTime};
    use der::Encode;
    use serde_json::Value;
    use spki::{
        AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, EncodePublicKey,
        SignatureBitStringEncoding, SubjectPublicKeyInfoOwned,
    };
    use x509_cert::builder::profile::BuilderProfile;
    use x509_cert::builder::{Builder, CertificateBuilder};
    use x509_cert::ext::pkix::BasicConstraints;
    use x509_cert::name::Name;
    use x509_cert::serial_number::SerialNumber;
    use x509_cert::time::{Time, Validity};
    use x509_cert::TbsCertificate;

    use super::*;

    /// The key material of a jwt-mint public JWK.
    pub(crate) fn material(jwk: &Value) -> KeyMaterial {
        let field = |name: &str| b64::decode(jwk[name].as_str().unwrap()).unwrap();
        match jwk["kty"].as_str().unwrap() {
            "RSA" => KeyMaterial::Rsa {
                n: field("n"),
                e: field("e"),
            },
            "EC" => KeyMaterial::Ec {
                curve: Curve::parse(jwk["crv"].as_str().unwrap()).unwrap(),
                x: field("x"),
                y: field("y"),
            },
            "OKP" => KeyMaterial::Ed25519 { x: field("x") },
            other => panic!("no key material for kty {other}"),
        }
    }

    pub(crate) fn curve_oid(curve: Curve) -> ObjectIdentifier {
        match curve {
            Curve::P256 => SECP256R1,
            Curve::P384 => SECP384R1,
            Curve::P521 => SECP521R1,
            Curve::Secp256k1 => SECP256K1,
        }
    }

    pub(crate) fn pkcs1_der(n: &[u8], e: &[u8]) -> Vec<u8> {
        pkcs1::RsaPublicKey {
            modulus: UintRef::new(n).unwrap(),
            public_exponent: UintRef::new(e).unwrap(),
        }
        .to_der()
        .unwrap()
    }

    /// An SPKI from its parts, valid or not.
    pub(crate) fn spki_from(oid: ObjectIdentifier, params: Option<Any>, key: &[u8]) -> Vec<u8> {
        SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid,
                parameters: params,
            },
            subject_public_key: BitString::from_bytes(key).unwrap(),
        }
        .to_der()
        .unwrap()
    }

    pub(crate) fn spki_der(material: &KeyMaterial) -> Vec<u8> {
        match material {
            KeyMaterial::Rsa { n, e } => {
                spki_from(RSA_ENCRYPTION, Some(Any::null()), &pkcs1_der(n, e))
            }
            KeyMaterial::Ec { curve, x, y } => {
                let point = [&[0x04][..], x, y].concat();
                let params = Any::encode_from(&curve_oid(*curve)).unwrap();
                spki_from(EC_PUBLIC_KEY, Some(params), &point)
            }
            KeyMaterial::Ed25519 { x } => spki_from(ED25519, None, x),
        }
    }

    struct Profile;

    impl BuilderProfile for Profile {
        fn get_issuer(&self, _subject: &Name) -> Name {
            Name::from_str("CN=test issuer,O=jwt-authn-wasm").unwrap()
        }
        fn get_subject(&self) -> Name {
            Name::from_str("CN=test key,O=jwt-authn-wasm").unwrap()
        }
        fn build_extensions(
            &self,
            _spk: SubjectPublicKeyInfoRef<'_>,
            _issuer_spk: SubjectPublicKeyInfoRef<'_>,
            _tbs: &TbsCertificate,
        ) -> x509_cert::builder::Result<Vec<x509_cert::ext::Extension>> {
            Ok(Vec::new())
        }
    }

    /// Signs nothing: the "signature" is a hash of the TBS, and the issuer key a fixed point.
    struct StubSigner;
    #[derive(Clone)]
    struct StubIssuerKey;
    struct StubSignature(Vec<u8>);

    impl EncodePublicKey for StubIssuerKey {
        fn to_public_key_der(&self) -> spki::Result<der::Document> {
            let issuer =
                material(&jwt_mint::Key::from_seed(jwt_mint::Alg::ES256, "ca", 99).public_jwk());
            Ok(der::Document::try_from(spki_der(&issuer))?)
        }
    }

    impl signature::Keypair for StubSigner {
        type VerifyingKey = StubIssuerKey;
        fn verifying_key(&self) -> StubIssuerKey {
            StubIssuerKey
        }
    }

    impl DynSignatureAlgorithmIdentifier for StubSigner {
        fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
            Ok(AlgorithmIdentifierOwned {
                oid: ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2"),
                parameters: None,
            })
        }
    }

    impl SignatureBitStringEncoding for StubSignature {
        fn to_bitstring(&self) -> der::Result<BitString> {
            BitString::from_bytes(&self.0)
        }
    }

    impl signature::Signer<StubSignature> for StubSigner {
        fn try_sign(&self, msg: &[u8]) -> Result<StubSignature, signature::Error> {
            Ok(StubSignature(Sha256::digest(msg).to_vec()))
        }
    }

    /// A v3 certificate for `spki` (DER) that expired in 2001: dates are never checked.
    pub(crate) fn certificate_der(spki: &[u8]) -> Vec<u8> {
        let spki = SubjectPublicKeyInfoOwned::from_der(spki).unwrap();
        let time =
            |secs| Time::UtcTime(UtcTime::from_unix_duration(Duration::from_secs(secs)).unwrap());
        let validity = Validity::new(time(946_684_800), time(978_307_200));
        let mut builder =
            CertificateBuilder::new(Profile, SerialNumber::from(0x1234_5678_u32), validity, spki)
                .unwrap();
        builder
            .add_extension(&BasicConstraints {
                ca: false,
                path_len_constraint: None,
            })
            .unwrap();
        let cert = builder.build::<_, StubSignature>(&StubSigner).unwrap();
        cert.to_der().unwrap()
    }

    pub(crate) fn pem(label: &str, der: &[u8]) -> String {
        pem_rfc7468::encode_string(label, pem_rfc7468::LineEnding::LF, der).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use der::asn1::Any;
    use jwt_mint::{Alg as MintAlg, Key};

    use super::test_support::*;
    use super::*;
    use crate::alg::Alg;

    /// One jwt-mint key of each supported kind, with the alg its tokens use here.
    fn keys() -> Vec<(Key, Alg)> {
        [
            (MintAlg::RS256, Alg::Rs256),
            (MintAlg::ES256, Alg::Es256),
            (MintAlg::ES384, Alg::Es384),
            (MintAlg::ES512, Alg::Es512),
            (MintAlg::ES256K, Alg::Es256k),
            (MintAlg::EdDSA, Alg::EdDsa),
        ]
        .into_iter()
        .map(|(mint, alg)| (Key::from_seed(mint, "k", 7), alg))
        .collect()
    }

    /// The key verifies a signature made by the private half, and only over the signed input.
    fn assert_verifies(key: &PublicKey, signer: &Key, alg: Alg) {
        let sig = signer.sign_raw(b"header.payload");
        assert_eq!(key.verify(alg, b"header.payload", &sig), Ok(()), "{alg}");
        assert!(key.verify(alg, b"header.other", &sig).is_err(), "{alg}");
    }

    #[test]
    fn every_key_kind_from_spki_certificate_and_pem() {
        for (signer, alg) in keys() {
            let expected = material(&signer.public_jwk());
            let spki = spki_der(&expected);
            let cert = certificate_der(&spki);
            assert_eq!(super::spki(&spki), Ok(expected.clone()), "{alg} SPKI");
            assert_eq!(
                certificate(&cert),
                Ok(expected.clone()),
                "{alg} certificate"
            );
            assert_eq!(expected.family(), alg.family(), "{alg}");

            let text = format!(
                "{}\n{}",
                pem("PUBLIC KEY", &spki),
                pem("CERTIFICATE", &cert)
            );
            let blocks = pem_keys(&text).unwrap();
            assert_eq!(
                blocks,
                [Ok(expected.clone()), Ok(expected.clone())],
                "{alg} PEM"
            );

            for key in [
                spki_public_key(&spki).unwrap(),
                certificate_public_key(&cert).unwrap(),
            ] {
                assert!(key.supports(alg) && key.family() == alg.family(), "{alg}");
                assert_verifies(&key, &signer, alg);
            }
        }
    }

    #[test]
    fn pkcs1_rsa_public_key() {
        let signer = Key::from_seed(MintAlg::RS256, "k", 7);
        let expected = material(&signer.public_jwk());
        let KeyMaterial::Rsa { n, e } = &expected else {
            unreachable!()
        };
        let der = pkcs1_der(n, e);
        assert_eq!(rsa_public_key(&der), Ok(expected.clone()));
        let blocks = pem_keys(&pem("RSA PUBLIC KEY", &der)).unwrap();
        let [Ok(from_pem)] = &blocks[..] else {
            panic!("{blocks:?}")
        };
        assert_eq!(from_pem, &expected);
        assert_verifies(&from_pem.public_key().unwrap(), &signer, Alg::Rs256);
        // A PKCS#1 key is not an SPKI, nor the other way round.
        assert!(spki(&der).is_err());
        assert!(rsa_public_key(&spki_der(&expected)).is_err());
    }

    #[test]
    fn key_checks_still_apply() {
        // A 1024-bit modulus parses but is refused as a key; e = 5 too.
        let small = KeyMaterial::Rsa {
            n: [&[0xc1][..], &[0x55; 127]].concat(),
            e: vec![1, 0, 1],
        };
        let cert = certificate_der(&spki_der(&small));
        assert_eq!(certificate(&cert), Ok(small));
        let err = certificate_public_key(&cert).unwrap_err();
        assert!(err.to_string().contains("1024 bits"), "{err}");

        // A point off the curve parses as coordinates, then is refused.
        let Some(KeyMaterial::Ec { curve, x, mut y }) = keys()
            .into_iter()
            .map(|(k, _)| material(&k.public_jwk()))
            .find(|m| m.family() == Family::Ec)
        else {
            unreachable!()
        };
        y[5] ^= 1;
        let off = spki_der(&KeyMaterial::Ec { curve, x, y });
        assert!(matches!(
            spki_public_key(&off),
            Err(X509Error::Key(KeyError::EcNotOnCurve { .. }))
        ));

        // A small-order Ed25519 point (the identity) is refused.
        let mut identity = vec![0u8; 32];
        identity[0] = 1;
        let weak = spki_from(ED25519, None, &identity);
        assert!(matches!(
            spki_public_key(&weak),
            Err(X509Error::Key(KeyError::Ed25519InvalidPoint))
        ));
    }

    #[test]
    fn unsupported_algorithms_and_parameters_are_refused() {
        let rsa = material(&Key::from_seed(MintAlg::RS256, "k", 7).public_jwk());
        let KeyMaterial::Rsa { n, e } = &rsa else {
            unreachable!()
        };
        let pkcs1 = pkcs1_der(n, e);
        let ec = material(&Key::from_seed(MintAlg::ES256, "k", 7).public_jwk());
        let KeyMaterial::Ec { x, y, .. } = &ec else {
            unreachable!()
        };
        let point = [&[0x04][..], x, y].concat();
        let mut compressed = [&[0x02][..], x].concat();
        let oid = ObjectIdentifier::new_unwrap;
        let named = |o: &str| Some(Any::encode_from(&oid(o)).unwrap());
        let table: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "DSA",
                spki_from(oid("1.2.840.10040.4.1"), None, &pkcs1),
                "unsupported key algorithm DSA",
            ),
            (
                "RSASSA-PSS",
                spki_from(oid("1.2.840.113549.1.1.10"), None, &pkcs1),
                "RSASSA-PSS",
            ),
            (
                "X25519",
                spki_from(oid("1.3.101.110"), None, &[9; 32]),
                "X25519",
            ),
            (
                "Ed448",
                spki_from(oid("1.3.101.113"), None, &[9; 57]),
                "Ed448",
            ),
            (
                "unknown",
                spki_from(oid("1.2.3.4"), None, &[9; 32]),
                "unsupported key algorithm 1.2.3.4",
            ),
            (
                "RSA params",
                spki_from(RSA_ENCRYPTION, named("1.2.3"), &pkcs1),
                "not NULL",
            ),
            (
                "RSA key not PKCS#1",
                spki_from(RSA_ENCRYPTION, Some(Any::null()), &point),
                "RSA public key is not valid DER",
            ),
            (
                "EC no params",
                spki_from(EC_PUBLIC_KEY, None, &point),
                "not a named curve",
            ),
            (
                "EC NULL params",
                spki_from(EC_PUBLIC_KEY, Some(Any::null()), &point),
                "not a named curve",
            ),
            (
                "EC P-192",
                spki_from(EC_PUBLIC_KEY, named("1.2.840.10045.3.1.1"), &point),
                "unsupported EC curve 1.2.840.10045.3.1.1",
            ),
            (
                "EC brainpool",
                spki_from(EC_PUBLIC_KEY, named("1.3.36.3.3.2.8.1.1.7"), &point),
                "unsupported EC curve",
            ),
            (
                "EC compressed",
                spki_from(EC_PUBLIC_KEY, named("1.2.840.10045.3.1.7"), &compressed),
                "compressed EC points",
            ),
            (
                "EC P-256 point as P-384",
                spki_from(EC_PUBLIC_KEY, named("1.3.132.0.34"), &point),
                "not an uncompressed P-384 point (97 bytes)",
            ),
            (
                "EC hybrid point",
                spki_from(
                    EC_PUBLIC_KEY,
                    named("1.2.840.10045.3.1.7"),
                    &[&[0x06][..], x, y].concat(),
                ),
                "65 bytes",
            ),
            (
                "EC empty point",
                spki_from(EC_PUBLIC_KEY, named("1.2.840.10045.3.1.7"), &[]),
                "0 bytes",
            ),
            (
                "Ed25519 params",
                spki_from(ED25519, Some(Any::null()), &[9; 32]),
                "Ed25519 key has parameters",
            ),
            (
                "Ed25519 short",
                spki_from(ED25519, None, &[9; 31]),
                "must be 32 bytes, got 31",
            ),
        ];
        compressed[0] = 0x03;
        assert_eq!(
            spki(&spki_from(
                EC_PUBLIC_KEY,
                named("1.2.840.10045.3.1.7"),
                &compressed
            )),
            Err(X509Error::CompressedPoint)
        );
        for (name, der, reason) in table {
            let err = spki_public_key(&der).unwrap_err().to_string();
            assert!(err.contains(reason), "{name}: {err:?} lacks {reason:?}");
            // The same key inside a certificate is refused the same way.
            let err = certificate_public_key(&certificate_der(&der))
                .unwrap_err()
                .to_string();
            assert!(err.contains(reason), "{name} (certificate): {err:?}");
        }
    }

    #[test]
    fn unused_bits_in_the_key_bit_string_are_refused() {
        let ec = material(&Key::from_seed(MintAlg::ES256, "k", 7).public_jwk());
        let mut der = spki_der(&ec);
        // The BIT STRING is the last element: its header is 3 bytes before the 65-byte point.
        let at = der.len() - 66;
        assert_eq!(der[at], 0, "unused-bits octet");
        der[at] = 1;
        assert!(matches!(
            spki(&der),
            Err(X509Error::BadParameters { .. }) | Err(X509Error::Malformed { .. })
        ));
    }

    #[test]
    fn garbage_and_truncated_der_are_errors() {
        let (signer, _) = &keys()[0];
        let spki = spki_der(&material(&signer.public_jwk()));
        let cert = certificate_der(&spki);
        for input in [
            &b""[..],
            b"\x30",
            b"\x30\x00",
            b"\x30\x80\x00\x00",
            b"garbage",
            &[0xff; 64],
        ] {
            assert!(super::spki(input).is_err(), "{input:?}");
            assert!(certificate(input).is_err(), "{input:?}");
            assert!(rsa_public_key(input).is_err(), "{input:?}");
        }
        for len in 0..cert.len() {
            assert!(
                certificate(&cert[..len]).is_err(),
                "certificate cut at {len}"
            );
        }
        for len in 0..spki.len() {
            assert!(super::spki(&spki[..len]).is_err(), "SPKI cut at {len}");
        }
        // Trailing bytes after the DER value.
        assert!(certificate(&[&cert[..], &[0]].concat()).is_err());
        assert!(super::spki(&[&spki[..], &[0]].concat()).is_err());
        // An SPKI is not a certificate and a certificate is not an SPKI.
        assert!(certificate(&spki).is_err());
        assert!(super::spki(&cert).is_err());
        let err = certificate(b"nope").unwrap_err().to_string();
        assert!(err.starts_with("certificate is not valid DER"), "{err}");
    }

    #[test]
    fn flipped_bits_never_panic() {
        for (signer, _) in keys() {
            let spki = spki_der(&material(&signer.public_jwk()));
            let cert = certificate_der(&spki);
            for (der, parse) in [
                (
                    &cert,
                    certificate as fn(&[u8]) -> Result<KeyMaterial, X509Error>,
                ),
                (&spki, super::spki),
            ] {
                for i in 0..der.len() {
                    for bit in 0..8 {
                        let mut mutated = der.clone();
                        mutated[i] ^= 1 << bit;
                        if let Ok(material) = parse(&mutated) {
                            let _ = material.public_key();
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn size_caps() {
        let big = vec![0u8; MAX_CERT_BYTES + 1];
        for result in [certificate(&big), super::spki(&big), rsa_public_key(&big)] {
            assert!(
                matches!(result, Err(X509Error::TooLarge { len, max: MAX_CERT_BYTES, .. }) if len == MAX_CERT_BYTES + 1)
            );
        }
        // A well-formed certificate over the cap (an oversized extension-free key bit string).
        let huge = certificate_der(&spki_from(ED25519, None, &[7; MAX_CERT_BYTES]));
        assert!(matches!(
            certificate(&huge),
            Err(X509Error::TooLarge { .. })
        ));
        assert!(matches!(
            pem_keys(&pem("CERTIFICATE", &huge)).unwrap()[..],
            [Err(X509Error::TooLarge { .. })]
        ));

        let text = "-----BEGIN PUBLIC KEY-----\n".repeat(MAX_PEM_BYTES / 20);
        assert!(matches!(pem_keys(&text), Err(X509Error::TooLarge { .. })));
        let one = pem(
            "PUBLIC KEY",
            &spki_der(&material(&keys()[5].0.public_jwk())),
        );
        assert_eq!(
            pem_keys(&one.repeat(MAX_PEM_BLOCKS)).unwrap().len(),
            MAX_PEM_BLOCKS
        );
        assert_eq!(
            pem_keys(&one.repeat(MAX_PEM_BLOCKS + 1)),
            Err(X509Error::TooManyPemBlocks)
        );
    }

    #[test]
    fn pem_framing() {
        let ed = material(&keys()[5].0.public_jwk());
        let spki = spki_der(&ed);
        let good = pem("PUBLIC KEY", &spki);
        let body = good.lines().nth(1).unwrap().to_owned();

        // Accepted: surrounding whitespace, CRLF, blank lines between blocks, other line widths.
        let crlf = good.replace('\n', "\r\n");
        let spaced = format!("\n\t  {good}\n\n{crlf}  \n");
        assert_eq!(pem_keys(&spaced).unwrap(), [Ok(ed.clone()), Ok(ed.clone())]);
        let cert = certificate_der(&spki);
        let base64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &cert);
        for width in [64, 76, base64.len()] {
            let lines: Vec<&str> = base64
                .as_bytes()
                .chunks(width)
                .map(|line| std::str::from_utf8(line).unwrap())
                .collect();
            let text = format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                lines.join("\n")
            );
            let blocks = pem_blocks(&text).unwrap();
            let [Ok(block)] = &blocks[..] else {
                panic!("width {width}: {blocks:?}")
            };
            assert_eq!((block.label.as_str(), &block.der), ("CERTIFICATE", &cert));
        }
        assert!(is_pem("  \n-----BEGIN X"));
        assert!(!is_pem("{\"keys\": []}"));

        // Whole-text errors.
        for (name, text, expected) in [
            ("empty", String::new(), X509Error::NotPem),
            ("blank", " \n ".to_owned(), X509Error::NotPem),
            ("JSON", "{}".to_owned(), X509Error::NotPem),
            ("text before", format!("key:\n{good}"), X509Error::NotPem),
            (
                "text between",
                format!("{good}and\n{good}"),
                X509Error::NotPem,
            ),
            ("text after", format!("{good}trailer"), X509Error::NotPem),
        ] {
            assert_eq!(pem_keys(&text), Err(expected), "{name}");
        }
        for (name, text) in [
            ("no END", "-----BEGIN PUBLIC KEY-----\nAAAA\n".to_owned()),
            (
                "END without dashes",
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY".to_owned(),
            ),
        ] {
            assert!(
                matches!(pem_keys(&text), Err(X509Error::Pem { .. })),
                "{name}"
            );
        }

        // Per-block errors: the other blocks still count.
        let table = [
            (
                "private key",
                pem("PRIVATE KEY", &spki),
                "\"PRIVATE KEY\" is not a PUBLIC KEY",
            ),
            (
                "EC parameters",
                pem("EC PARAMETERS", &[6, 3, 1, 2, 3]),
                "EC PARAMETERS",
            ),
            (
                "label mismatch",
                good.replace("END PUBLIC KEY", "END CERTIFICATE"),
                "invalid PEM",
            ),
            (
                "bad base64",
                good.replace(&body, &body.replace('A', "*")),
                "invalid PEM",
            ),
            (
                "headers",
                good.replacen("-----\n", "-----\nProc-Type: 4,ENCRYPTED\n\n", 1),
                "invalid PEM",
            ),
            (
                "wrong key inside",
                pem("CERTIFICATE", &spki),
                "certificate is not valid DER",
            ),
            (
                "empty",
                "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n".to_owned(),
                "",
            ),
        ];
        for (name, bad, reason) in table {
            let text = format!("{good}{bad}{good}");
            let blocks = pem_keys(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let [Ok(first), Err(err), Ok(last)] = &blocks[..] else {
                panic!("{name}: {blocks:?}")
            };
            assert_eq!((first, last), (&ed, &ed), "{name}");
            assert!(err.to_string().contains(reason), "{name}: {err}");
        }
    }

    #[test]
    fn thumbprint() {
        // SHA-256("abc"), base64url.
        assert_eq!(
            thumbprint_sha256(b"abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
    }

    #[test]
    fn error_messages() {
        let table = [
            (
                X509Error::CompressedPoint,
                "compressed EC points are not supported",
            ),
            (X509Error::NotPem, "text outside PEM blocks"),
            (X509Error::TooManyPemBlocks, "more than 100 PEM blocks"),
            (
                X509Error::UnsupportedPemLabel { label: "X".into() },
                "PEM block \"X\" is not a PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE",
            ),
            (
                X509Error::BadPoint {
                    curve: Curve::P521,
                    len: 3,
                },
                "EC point is 3 bytes, not an uncompressed P-521 point (133 bytes)",
            ),
            (
                X509Error::Key(KeyError::RsaExponent),
                "RSA exponent is neither 3 nor 65537",
            ),
        ];
        for (err, text) in table {
            assert_eq!(err.to_string(), text);
        }
        let long = pem_block_key(&"L".repeat(500), b"")
            .unwrap_err()
            .to_string();
        assert!(long.len() < 200, "{long}");
    }
}
