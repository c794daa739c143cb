//! `jwt_mint` keys in the encodings identity providers publish them in: SubjectPublicKeyInfo,
//! PKCS#1, SEC 1 and PKCS#8 private keys, PEM, and self-signed X.509 certificates made with
//! x509-cert's builder and signed by the key itself (sha256WithRSAEncryption, or ECDSA with the
//! curve's hash). None of it goes through the filter's parser.

use std::str::FromStr;
use std::time::Duration;

use der::asn1::{Any, AnyRef, BitString, ObjectIdentifier, OctetStringRef, UintRef, UtcTime};
use der::{Decode, Encode};
use jwt_mint::{b64url_decode, Alg, Family, Key};
use sha2::{Digest, Sha256};
use spki::{
    AlgorithmIdentifier, AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier,
    EncodePublicKey, SignatureBitStringEncoding, SubjectPublicKeyInfoOwned,
    SubjectPublicKeyInfoRef,
};
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};
use x509_cert::TbsCertificate;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");

/// 2024-01-01T00:00:00Z and 2049-12-31T23:59:59Z: the certificates' validity.
const NOT_BEFORE: u64 = 1_704_067_200;
const NOT_AFTER: u64 = 2_524_607_999;

/// A public JWK member's bytes.
fn member(key: &Key, name: &str) -> Vec<u8> {
    b64url_decode(key.public_jwk()[name].as_str().unwrap()).unwrap()
}

fn curve(key: &Key) -> ObjectIdentifier {
    match key.alg() {
        Alg::ES256 => P256,
        Alg::ES384 => P384,
        Alg::ES512 => P521,
        other => panic!("no named curve for {other}"),
    }
}

/// The uncompressed EC point `04 || x || y`.
fn ec_point(key: &Key) -> Vec<u8> {
    [vec![4], member(key, "x"), member(key, "y")].concat()
}

/// PKCS#1 `RSAPublicKey`.
pub fn pkcs1_der(key: &Key) -> Vec<u8> {
    let (n, e) = (member(key, "n"), member(key, "e"));
    pkcs1::RsaPublicKey {
        modulus: UintRef::new(&n).unwrap(),
        public_exponent: UintRef::new(&e).unwrap(),
    }
    .to_der()
    .unwrap()
}

/// `SubjectPublicKeyInfo` of an RSA or EC (P-256, P-384, P-521) key.
pub fn spki_der(key: &Key) -> Vec<u8> {
    let (oid, parameters, bits) = match key.alg().family() {
        Family::Rsa => (RSA_ENCRYPTION, Some(Any::null()), pkcs1_der(key)),
        Family::Ec => (
            EC_PUBLIC_KEY,
            Some(Any::encode_from(&curve(key)).unwrap()),
            ec_point(key),
        ),
        _ => panic!("no SPKI for {}", key.alg()),
    };
    SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned { oid, parameters },
        subject_public_key: BitString::from_bytes(&bits).unwrap(),
    }
    .to_der()
    .unwrap()
}

/// SEC 1 `ECPrivateKey` of an EC key, with its curve and public key.
pub fn sec1_der(key: &Key) -> Vec<u8> {
    let d = b64url_decode(key.private_jwk()["d"].as_str().unwrap()).unwrap();
    let point = ec_point(key);
    sec1::EcPrivateKey {
        private_key: &d,
        parameters: Some(sec1::EcParameters::NamedCurve(curve(key))),
        public_key: Some(&point),
    }
    .to_der()
    .unwrap()
}

/// PKCS#8 `PrivateKeyInfo` (v1) around the SEC 1 key.
pub fn pkcs8_der(key: &Key) -> Vec<u8> {
    let sec1 = sec1_der(key);
    let curve = curve(key);
    pkcs8::PrivateKeyInfoRef::new(
        AlgorithmIdentifier {
            oid: EC_PUBLIC_KEY,
            parameters: Some(AnyRef::from(&curve)),
        },
        OctetStringRef::new(&sec1).unwrap(),
    )
    .to_der()
    .unwrap()
}

/// PEM with 64-column lines and a final newline (Google's layout).
pub fn pem(label: &str, der: &[u8]) -> String {
    pem_rfc7468::encode_string(label, pem_rfc7468::LineEnding::LF, der).unwrap()
}

/// A self-signed certificate for `key` (subject = issuer = `CN=<cn>`; no extensions, so v1 as
/// RFC 5280 §4.1.2.1 has it), signed by the key itself. Its serial is 64 bits from the key, so
/// two certificates never share one, with `serial` mixed into the last byte.
pub fn self_signed(key: &Key, cn: &str, serial: u64) -> Vec<u8> {
    let spki = spki_der(key);
    let mut serial_bytes = Sha256::digest(&spki)[..8].to_vec();
    serial_bytes[0] &= 0x7f;
    serial_bytes[7] ^= serial as u8;
    // DER's minimal INTEGER: no leading zero byte unless the next one has its top bit set.
    while serial_bytes.len() > 1 && serial_bytes[0] == 0 && serial_bytes[1] & 0x80 == 0 {
        serial_bytes.remove(0);
    }
    let time =
        |secs| Time::UtcTime(UtcTime::from_unix_duration(Duration::from_secs(secs)).unwrap());
    let name = Name::from_str(&format!("CN={cn}")).unwrap();
    let signer = SelfSigner {
        key: match key.alg().family() {
            Family::Ec => key.clone(),
            _ => key.with_alg(Alg::RS256).unwrap(),
        },
        spki: spki.clone(),
    };
    CertificateBuilder::new(
        SelfSignedProfile(name),
        SerialNumber::new(&serial_bytes).unwrap(),
        Validity::new(time(NOT_BEFORE), time(NOT_AFTER)),
        SubjectPublicKeyInfoOwned::from_der(&spki).unwrap(),
    )
    .unwrap()
    .build::<_, DerSignature>(&signer)
    .unwrap()
    .to_der()
    .unwrap()
}

/// Issuer and subject are the same name; no extensions.
struct SelfSignedProfile(Name);

impl BuilderProfile for SelfSignedProfile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.0.clone()
    }
    fn get_subject(&self) -> Name {
        self.0.clone()
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

/// The certificate's key signing its own certificate (RSA keys as RS256).
struct SelfSigner {
    key: Key,
    spki: Vec<u8>,
}

#[derive(Clone)]
struct PublicKeyDer(Vec<u8>);

/// An X.509 signature: PKCS#1 v1.5 bytes, or ECDSA's `SEQUENCE { r, s }`.
struct DerSignature(Vec<u8>);

impl EncodePublicKey for PublicKeyDer {
    fn to_public_key_der(&self) -> spki::Result<der::Document> {
        Ok(der::Document::try_from(self.0.clone())?)
    }
}

impl signature::Keypair for SelfSigner {
    type VerifyingKey = PublicKeyDer;
    fn verifying_key(&self) -> PublicKeyDer {
        PublicKeyDer(self.spki.clone())
    }
}

impl DynSignatureAlgorithmIdentifier for SelfSigner {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        let (oid, parameters) = match self.key.alg() {
            Alg::ES256 => (ECDSA_SHA256, None),
            Alg::ES384 => (ECDSA_SHA384, None),
            Alg::ES512 => (ECDSA_SHA512, None),
            _ => (SHA256_WITH_RSA, Some(Any::null())),
        };
        Ok(AlgorithmIdentifierOwned { oid, parameters })
    }
}

impl SignatureBitStringEncoding for DerSignature {
    fn to_bitstring(&self) -> der::Result<BitString> {
        BitString::from_bytes(&self.0)
    }
}

impl signature::Signer<DerSignature> for SelfSigner {
    fn try_sign(&self, msg: &[u8]) -> Result<DerSignature, signature::Error> {
        let raw = self.key.sign_raw(msg);
        if self.key.alg().family() != Family::Ec {
            return Ok(DerSignature(raw));
        }
        // JWS gives R || S; X.509 wants SEQUENCE { INTEGER r, INTEGER s }.
        let (r, s) = raw.split_at(raw.len() / 2);
        let pair = vec![UintRef::new(r).unwrap(), UintRef::new(s).unwrap()];
        Ok(DerSignature(pair.to_der().unwrap()))
    }
}
