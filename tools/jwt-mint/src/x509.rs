//! Keys in the encodings identity providers publish them in, for tests (feature `x509`):
//! SubjectPublicKeyInfo, PKCS#1, SEC 1 and PKCS#8 private keys, PEM, and X.509 certificates made
//! with x509-cert's builder, signed by a jwt-mint key or by a stub (fixed signature bytes) when
//! only a public key is known. Everything is made with the RustCrypto encoders, never with the
//! filter's code, so a test that reads them checks the filter's parser against an independent
//! writer.
//!
//! Test scaffolding: every function panics on what it cannot encode (a symmetric key, a
//! malformed SPKI given to [`certificate`], ...).
//!
//! ```
//! use jwt_mint::x509::{self, Signer, Template};
//! use jwt_mint::{Alg, Key};
//! let key = Key::from_seed(Alg::ES256, "k1", 7);
//! let cert = x509::self_signed(&key, &Template::new("CN=k1"));
//! assert!(x509::pem("CERTIFICATE", &cert).starts_with("-----BEGIN CERTIFICATE-----\n"));
//! let stub = x509::certificate(&x509::spki_der(&key), &Template::new("CN=k1"), Signer::Stub(&[0x30, 0]));
//! assert_ne!(cert, stub);
//! ```

use std::str::FromStr;
use std::time::Duration;

use der::asn1::{AnyRef, BitString, ObjectIdentifier, OctetStringRef, UintRef, UtcTime};
use der::{Decode, Encode};
use spki::{
    AlgorithmIdentifier, AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier,
    EncodePublicKey, SignatureBitStringEncoding, SubjectPublicKeyInfoOwned,
    SubjectPublicKeyInfoRef,
};
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};
use x509_cert::TbsCertificate;

/// The DER types of [`spki_from`]'s parameters (`Any::null()`, `Any::encode_from(&oid)`).
pub use der;

use crate::{b64url_decode, Alg, Family, Key};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const SECP256K1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.10");
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");

// --- Public keys ------------------------------------------------------------------------------

/// PKCS#1 `RSAPublicKey` of a modulus and exponent (big-endian, as in a JWK).
pub fn pkcs1_from(n: &[u8], e: &[u8]) -> Vec<u8> {
    pkcs1::RsaPublicKey {
        modulus: UintRef::new(n).expect("modulus"),
        public_exponent: UintRef::new(e).expect("exponent"),
    }
    .to_der()
    .expect("RSAPublicKey")
}

/// A `SubjectPublicKeyInfo` from its parts, valid or not: the algorithm's OID (its content
/// bytes), its parameters and the key's bits.
pub fn spki_from(oid: impl AsRef<[u8]>, parameters: Option<der::asn1::Any>, key: &[u8]) -> Vec<u8> {
    SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::from_bytes(oid.as_ref()).expect("algorithm OID"),
            parameters,
        },
        subject_public_key: BitString::from_bytes(key).expect("key bits"),
    }
    .to_der()
    .expect("SubjectPublicKeyInfo")
}

/// The SPKI of an RSA key (`rsaEncryption`, NULL parameters, PKCS#1 key).
pub fn rsa_spki(n: &[u8], e: &[u8]) -> Vec<u8> {
    spki_from(
        RSA_ENCRYPTION,
        Some(der::asn1::Any::null()),
        &pkcs1_from(n, e),
    )
}

/// The SPKI of an EC key on the curve of JWK `crv` (`P-256`, `P-384`, `P-521`, `secp256k1`):
/// `id-ecPublicKey`, the named curve, the uncompressed point `04 || x || y`.
pub fn ec_spki(crv: &str, x: &[u8], y: &[u8]) -> Vec<u8> {
    let curve = der::asn1::Any::encode_from(&curve_oid(crv)).expect("curve OID");
    spki_from(EC_PUBLIC_KEY, Some(curve), &[&[4][..], x, y].concat())
}

/// The SPKI of an Ed25519 key (`id-Ed25519`, no parameters).
pub fn ed25519_spki(x: &[u8]) -> Vec<u8> {
    spki_from(ED25519, None, x)
}

/// The SPKI of a jwt-mint RSA, EC or Ed25519 key.
pub fn spki_der(key: &Key) -> Vec<u8> {
    let jwk = key.public_jwk();
    let member = |name: &str| member(&jwk, name);
    match key.alg().family() {
        Family::Rsa => rsa_spki(&member("n"), &member("e")),
        Family::Ec => ec_spki(crv(key), &member("x"), &member("y")),
        Family::Okp => ed25519_spki(&member("x")),
        Family::Oct => panic!("an HMAC secret has no SPKI"),
    }
}

/// PKCS#1 `RSAPublicKey` of a jwt-mint RSA key.
pub fn pkcs1_der(key: &Key) -> Vec<u8> {
    assert_eq!(
        key.alg().family(),
        Family::Rsa,
        "PKCS#1 of a {} key",
        key.alg()
    );
    let jwk = key.public_jwk();
    pkcs1_from(&member(&jwk, "n"), &member(&jwk, "e"))
}

// --- Private keys (what a user may paste by mistake) ------------------------------------------

/// SEC 1 `ECPrivateKey` of a jwt-mint EC key, with its curve and public key.
pub fn sec1_der(key: &Key) -> Vec<u8> {
    let d = member(&key.private_jwk(), "d");
    let jwk = key.public_jwk();
    let point = [vec![4], member(&jwk, "x"), member(&jwk, "y")].concat();
    sec1::EcPrivateKey {
        private_key: &d,
        parameters: Some(sec1::EcParameters::NamedCurve(curve_oid(crv(key)))),
        public_key: Some(&point),
    }
    .to_der()
    .expect("ECPrivateKey")
}

/// PKCS#8 `PrivateKeyInfo` (v1) around the SEC 1 key of a jwt-mint EC key.
pub fn pkcs8_der(key: &Key) -> Vec<u8> {
    let sec1 = sec1_der(key);
    let curve = curve_oid(crv(key));
    pkcs8::PrivateKeyInfoRef::new(
        AlgorithmIdentifier {
            oid: EC_PUBLIC_KEY,
            parameters: Some(AnyRef::from(&curve)),
        },
        OctetStringRef::new(&sec1).expect("private key octets"),
    )
    .to_der()
    .expect("PrivateKeyInfo")
}

/// PEM with 64-column lines, LF line ends and a final newline (Google's layout).
pub fn pem(label: &str, der: &[u8]) -> String {
    pem_rfc7468::encode_string(label, pem_rfc7468::LineEnding::LF, der).expect("PEM")
}

// --- Certificates -----------------------------------------------------------------------------

/// What a certificate says besides its key and signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    /// The serial number's big-endian bytes (a DER INTEGER's content: minimal, and positive
    /// unless a test wants otherwise).
    pub serial: Vec<u8>,
    /// The issuer's name, RFC 4514 (`CN=test CA,O=example`).
    pub issuer: String,
    /// The subject's name, RFC 4514.
    pub subject: String,
    /// The validity, as Unix seconds (UTCTime: years 1950-2049).
    pub not_before: u64,
    pub not_after: u64,
    /// `Some(ca)`: a v3 certificate whose one extension is BasicConstraints `cA = ca`. `None`:
    /// no extensions, so a v1 certificate as RFC 5280 §4.1.2.1 has it.
    pub basic_constraints: Option<bool>,
}

impl Template {
    /// Issuer = subject = `name`, serial 1, valid from 2024-01-01T00:00:00Z to
    /// 2049-12-31T23:59:59Z, v1.
    pub fn new(name: &str) -> Template {
        Template {
            serial: vec![1],
            issuer: name.to_owned(),
            subject: name.to_owned(),
            not_before: 1_704_067_200,
            not_after: 2_524_607_999,
            basic_constraints: None,
        }
    }
}

/// Who signs a certificate.
#[derive(Clone, Copy, Debug)]
pub enum Signer<'a> {
    /// A jwt-mint key: RSA keys as sha256WithRSAEncryption (RS256), EC keys as ECDSA with their
    /// curve's hash (signature `SEQUENCE { r, s }`), Ed25519 as Ed25519.
    Key(&'a Key),
    /// Nobody: the certificate claims ecdsa-with-SHA256 and carries these bytes as its
    /// signature, for readers that never check it.
    Stub(&'a [u8]),
}

/// A certificate for the key of `spki` (DER), described by `template`, signed by `signer`.
pub fn certificate(spki: &[u8], template: &Template, signer: Signer<'_>) -> Vec<u8> {
    let subject_key = SubjectPublicKeyInfoOwned::from_der(spki).expect("SPKI");
    let time = |secs| {
        Time::UtcTime(UtcTime::from_unix_duration(Duration::from_secs(secs)).expect("UTCTime"))
    };
    let profile = Profile {
        issuer: Name::from_str(&template.issuer).expect("issuer name"),
        subject: Name::from_str(&template.subject).expect("subject name"),
    };
    let mut builder = CertificateBuilder::new(
        profile,
        SerialNumber::new(&template.serial).expect("serial"),
        Validity::new(time(template.not_before), time(template.not_after)),
        subject_key,
    )
    .expect("certificate builder");
    if let Some(ca) = template.basic_constraints {
        builder
            .add_extension(&BasicConstraints {
                ca,
                path_len_constraint: None,
            })
            .expect("BasicConstraints");
    }
    let signer = CertSigner {
        signer,
        // The builder hands the issuer's key to the profile only, which ignores it.
        spki: spki.to_vec(),
    };
    builder
        .build::<_, DerSignature>(&signer)
        .expect("certificate")
        .to_der()
        .expect("certificate DER")
}

/// A certificate for `key` signed by `key` itself.
pub fn self_signed(key: &Key, template: &Template) -> Vec<u8> {
    certificate(&spki_der(key), template, Signer::Key(key))
}

/// Fixed names; extensions only as added to the builder.
struct Profile {
    issuer: Name,
    subject: Name,
}

impl BuilderProfile for Profile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }
    fn get_subject(&self) -> Name {
        self.subject.clone()
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

struct CertSigner<'a> {
    signer: Signer<'a>,
    spki: Vec<u8>,
}

#[derive(Clone)]
struct PublicKeyDer(Vec<u8>);

/// An X.509 signature's bits.
struct DerSignature(Vec<u8>);

impl EncodePublicKey for PublicKeyDer {
    fn to_public_key_der(&self) -> spki::Result<der::Document> {
        Ok(der::Document::try_from(self.0.clone())?)
    }
}

impl signature::Keypair for CertSigner<'_> {
    type VerifyingKey = PublicKeyDer;
    fn verifying_key(&self) -> PublicKeyDer {
        PublicKeyDer(self.spki.clone())
    }
}

impl DynSignatureAlgorithmIdentifier for CertSigner<'_> {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        let (oid, parameters) = match self.signer {
            Signer::Stub(_) => (ECDSA_SHA256, None),
            Signer::Key(key) => match key.alg() {
                Alg::ES256 | Alg::ES256K => (ECDSA_SHA256, None),
                Alg::ES384 => (ECDSA_SHA384, None),
                Alg::ES512 => (ECDSA_SHA512, None),
                Alg::EdDSA => (ED25519, None),
                _ => (SHA256_WITH_RSA, Some(der::asn1::Any::null())),
            },
        };
        Ok(AlgorithmIdentifierOwned { oid, parameters })
    }
}

impl SignatureBitStringEncoding for DerSignature {
    fn to_bitstring(&self) -> der::Result<BitString> {
        BitString::from_bytes(&self.0)
    }
}

impl signature::Signer<DerSignature> for CertSigner<'_> {
    fn try_sign(&self, msg: &[u8]) -> Result<DerSignature, signature::Error> {
        let key = match self.signer {
            Signer::Stub(bytes) => return Ok(DerSignature(bytes.to_vec())),
            Signer::Key(key) => key,
        };
        match key.alg().family() {
            Family::Rsa => {
                let rs256 = key
                    .with_alg(Alg::RS256)
                    .map_err(|_| signature::Error::new())?;
                Ok(DerSignature(rs256.sign_raw(msg)))
            }
            Family::Okp => Ok(DerSignature(key.sign_raw(msg))),
            Family::Ec => {
                // JWS gives R || S; X.509 wants SEQUENCE { INTEGER r, INTEGER s }.
                let raw = key.sign_raw(msg);
                let (r, s) = raw.split_at(raw.len() / 2);
                let der = |e: der::Error| signature::Error::from_source(e);
                let pair = vec![UintRef::new(r).map_err(der)?, UintRef::new(s).map_err(der)?];
                Ok(DerSignature(pair.to_der().map_err(der)?))
            }
            Family::Oct => Err(signature::Error::new()),
        }
    }
}

// --- JWK members and curves -------------------------------------------------------------------

fn member(jwk: &serde_json::Value, name: &str) -> Vec<u8> {
    let text = jwk[name]
        .as_str()
        .unwrap_or_else(|| panic!("JWK without {name}"));
    b64url_decode(text).unwrap_or_else(|e| panic!("JWK {name}: {e}"))
}

fn crv(key: &Key) -> &'static str {
    match key.alg().family() {
        Family::Ec => key.alg().curve().unwrap_or_default(),
        _ => panic!("a {} key is not an EC key", key.alg()),
    }
}

/// The named curve of a JWK `crv`.
fn curve_oid(crv: &str) -> ObjectIdentifier {
    match crv {
        "P-256" => P256,
        "P-384" => P384,
        "P-521" => P521,
        "secp256k1" => SECP256K1,
        other => panic!("no named curve for {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Vec<Key> {
        [
            Alg::RS256,
            Alg::ES256,
            Alg::ES384,
            Alg::ES512,
            Alg::ES256K,
            Alg::EdDSA,
        ]
        .into_iter()
        .map(|alg| Key::from_seed(alg, "k", 5))
        .collect()
    }

    #[test]
    fn self_signed_certificates_verify_with_their_own_key() {
        use x509_cert::Certificate;
        for key in keys() {
            let mut template = Template::new("CN=self");
            template.basic_constraints = Some(true);
            let der = self_signed(&key, &template);
            let cert = Certificate::from_der(&der).unwrap();
            let tbs = cert.tbs_certificate().to_der().unwrap();
            let sig = cert.signature().raw_bytes();
            assert_eq!(
                cert.tbs_certificate()
                    .subject_public_key_info()
                    .to_der()
                    .unwrap(),
                spki_der(&key)
            );
            assert_eq!(
                cert.tbs_certificate().issuer(),
                cert.tbs_certificate().subject()
            );
            let ok = match key.alg() {
                Alg::RS256 => {
                    use sha2::Digest as _;
                    let jwk = key.public_jwk();
                    let public = rsa::RsaPublicKey::new(
                        rsa::BoxedUint::from_be_slice_vartime(&member(&jwk, "n")),
                        rsa::BoxedUint::from_be_slice_vartime(&member(&jwk, "e")),
                    )
                    .unwrap();
                    let digest = sha2::Sha256::digest(&tbs);
                    public
                        .verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &digest, sig)
                        .is_ok()
                }
                Alg::ES256 => {
                    use p256::ecdsa::signature::Verifier as _;
                    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(
                        &[
                            vec![4],
                            member(&key.public_jwk(), "x"),
                            member(&key.public_jwk(), "y"),
                        ]
                        .concat(),
                    )
                    .unwrap();
                    vk.verify(&tbs, &p256::ecdsa::Signature::from_der(sig).unwrap())
                        .is_ok()
                }
                _ => true,
            };
            assert!(ok, "{}", key.alg());
        }
    }

    #[test]
    fn stub_certificates_carry_the_template() {
        use x509_cert::Certificate;
        let key = Key::from_seed(Alg::ES256, "k", 5);
        let template = Template {
            serial: vec![0x12, 0x34],
            issuer: "CN=issuer,O=test".into(),
            subject: "CN=subject".into(),
            not_before: 946_684_800,
            not_after: 978_307_200,
            basic_constraints: Some(false),
        };
        let der = certificate(&spki_der(&key), &template, Signer::Stub(&[0x30, 0]));
        let cert = Certificate::from_der(&der).unwrap();
        let tbs = cert.tbs_certificate();
        assert_eq!(tbs.serial_number().as_bytes(), [0x12, 0x34]);
        assert_eq!(tbs.issuer().to_string(), "CN=issuer,O=test");
        assert_eq!(tbs.subject().to_string(), "CN=subject");
        assert_eq!(tbs.version(), x509_cert::Version::V3);
        assert_eq!(tbs.extensions().map(|e| e.len()), Some(1));
        assert_eq!(cert.signature().raw_bytes(), [0x30, 0]);
        let v1 = certificate(
            &spki_der(&key),
            &Template::new("CN=v1"),
            Signer::Stub(&[0x30, 0]),
        );
        assert_eq!(
            Certificate::from_der(&v1)
                .unwrap()
                .tbs_certificate()
                .version(),
            x509_cert::Version::V1
        );
    }

    #[test]
    fn private_keys_hold_the_public_key() {
        let key = Key::from_seed(Alg::ES384, "k", 5);
        let sec1 = sec1_der(&key);
        let parsed = sec1::EcPrivateKey::from_der(&sec1).unwrap();
        let jwk = key.public_jwk();
        assert_eq!(
            parsed.public_key.unwrap(),
            [vec![4], member(&jwk, "x"), member(&jwk, "y")].concat()
        );
        let pkcs8 = pkcs8_der(&key);
        let info = pkcs8::PrivateKeyInfoRef::from_der(&pkcs8).unwrap();
        assert_eq!(info.private_key.as_bytes(), sec1);
        assert!(pem("EC PRIVATE KEY", &sec1).ends_with("-----END EC PRIVATE KEY-----\n"));
    }
}
