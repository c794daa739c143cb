use ::der::asn1::{Any, ObjectIdentifier};
use jwt_mint::{Alg as MintAlg, Key};

use super::test_support::*;
use super::*;
use crate::crypto::alg::Alg;

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
