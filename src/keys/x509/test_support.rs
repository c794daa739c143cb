//! The crate's key material in the encodings of `jwt_mint::x509`.

use jwt_mint::x509::{self, Signer, Template};
use serde_json::Value;

pub(crate) use jwt_mint::x509::{pem, pkcs1_from as pkcs1_der, spki_from};

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

pub(crate) fn spki_der(material: &KeyMaterial) -> Vec<u8> {
    match material {
        KeyMaterial::Rsa { n, e } => x509::rsa_spki(n, e),
        KeyMaterial::Ec { curve, x, y } => x509::ec_spki(curve.name(), x, y),
        KeyMaterial::Ed25519 { x } => x509::ed25519_spki(x),
    }
}

/// A v3 certificate (BasicConstraints, not a CA) for `spki` (DER) that expired in 2001: dates
/// are never checked. Its signature is a stub: nothing reads it.
pub(crate) fn certificate_der(spki: &[u8]) -> Vec<u8> {
    let template = Template {
        serial: vec![0x12, 0x34, 0x56, 0x78],
        issuer: "CN=test issuer,O=jwt-authn-wasm".into(),
        subject: "CN=test key,O=jwt-authn-wasm".into(),
        not_before: 946_684_800,
        not_after: 978_307_200,
        basic_constraints: Some(false),
    };
    x509::certificate(spki, &template, Signer::Stub(&[0x5a; 32]))
}
