use std::str::FromStr;
use std::time::Duration;

use ::der::asn1::{Any, BitString, ObjectIdentifier, UintRef, UtcTime};
use ::der::Decode;
use ::der::Encode;
use serde_json::Value;
use spki::{
    AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, EncodePublicKey,
    SignatureBitStringEncoding, SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef,
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
    ObjectIdentifier::from_bytes(match curve {
        Curve::P256 => SECP256R1,
        Curve::P384 => SECP384R1,
        Curve::P521 => SECP521R1,
        Curve::Secp256k1 => SECP256K1,
    })
    .unwrap()
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
pub(crate) fn spki_from(oid: impl AsRef<[u8]>, params: Option<Any>, key: &[u8]) -> Vec<u8> {
    SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::from_bytes(oid.as_ref()).unwrap(),
            parameters: params,
        },
        subject_public_key: BitString::from_bytes(key).unwrap(),
    }
    .to_der()
    .unwrap()
}

pub(crate) fn spki_der(material: &KeyMaterial) -> Vec<u8> {
    match material {
        KeyMaterial::Rsa { n, e } => spki_from(RSA_ENCRYPTION, Some(Any::null()), &pkcs1_der(n, e)),
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
    fn to_public_key_der(&self) -> spki::Result<::der::Document> {
        let issuer =
            material(&jwt_mint::Key::from_seed(jwt_mint::Alg::ES256, "ca", 99).public_jwk());
        Ok(::der::Document::try_from(spki_der(&issuer))?)
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
    fn to_bitstring(&self) -> ::der::Result<BitString> {
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
