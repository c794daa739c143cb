//! Our DER and PEM reader against the RustCrypto decoders it replaced (`x509-cert` with its
//! `Raw` profile, `spki`, `pkcs1`, `pem-rfc7468`), kept as dev-dependencies: [`reference`] is
//! the module's former code, word for word but for names. On certificates, SPKIs, PKCS#1 keys
//! and PEM texts (the fixtures, generated keys of every kind and size, certificates v1 and v3
//! built field by field, and many malformed variants of each), both give the same key or the
//! same refusal. Only the wording of a refusal's DER detail differs (`der`'s error text against
//! ours), so `Malformed` compares by its `what` alone.

use std::fmt::Write as _;
use std::path::Path;

use base64::Engine;
use jwt_mint::{Alg as MintAlg, Key, Rng};

use super::test_support::*;
use super::*;

/// The module's code before src/keys/der.rs: RustCrypto's decoders.
mod reference {
    use der::asn1::{ObjectIdentifier, UintRef};
    use der::referenced::OwnedToRef;
    use der::Decode;
    use spki::SubjectPublicKeyInfoRef;
    use x509_cert::certificate::{CertificateInner, Raw};

    use super::super::{
        check_size, curve_for, ec_point, KeyMaterial, PemBlock, X509Error, MAX_CERT_BYTES,
    };

    fn malformed(what: &'static str) -> impl Fn(der::Error) -> X509Error {
        move |err| X509Error::Malformed {
            what,
            detail: err.to_string(),
        }
    }

    pub fn spki(der: &[u8]) -> Result<KeyMaterial, X509Error> {
        check_size("public key", der)?;
        let info = SubjectPublicKeyInfoRef::from_der(der).map_err(malformed("public key"))?;
        from_spki(&info)
    }

    pub fn rsa_public_key(der: &[u8]) -> Result<KeyMaterial, X509Error> {
        check_size("RSA public key", der)?;
        let key = pkcs1::RsaPublicKey::<UintRef<'_>>::from_der(der)
            .map_err(malformed("RSA public key"))?;
        Ok(KeyMaterial::Rsa {
            n: key.modulus.as_bytes().to_vec(),
            e: key.public_exponent.as_bytes().to_vec(),
        })
    }

    pub fn certificate(der: &[u8]) -> Result<KeyMaterial, X509Error> {
        check_size("certificate", der)?;
        let cert = CertificateInner::<Raw>::from_der(der).map_err(malformed("certificate"))?;
        from_spki(
            &cert
                .tbs_certificate()
                .subject_public_key_info()
                .owned_to_ref(),
        )
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
        if oid.as_bytes() == super::super::RSA_ENCRYPTION {
            if params.is_some_and(|p| !p.is_null()) {
                return Err(X509Error::BadParameters {
                    what: "RSA key parameters are not NULL",
                });
            }
            rsa_public_key(bits)
        } else if oid.as_bytes() == super::super::EC_PUBLIC_KEY {
            let named = params
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or(X509Error::BadParameters {
                    what: "EC key parameters are not a named curve",
                })?;
            let curve = curve_for(named.as_bytes()).ok_or_else(|| X509Error::UnsupportedCurve {
                oid: named.to_string(),
            })?;
            ec_point(curve, bits)
        } else if oid.as_bytes() == super::super::ED25519 {
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

    pub fn decode_pem_block(block: &str) -> Result<PemBlock, X509Error> {
        let pem_error = |err: pem_rfc7468::Error| X509Error::Pem {
            detail: err.to_string(),
        };
        let mut decoder =
            pem_rfc7468::Decoder::new_detect_wrap(block.as_bytes()).map_err(pem_error)?;
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
}

/// A result with the DER error's wording left out.
fn normalized<T>(result: Result<T, X509Error>) -> Result<T, X509Error> {
    result.map_err(|err| match err {
        X509Error::Malformed { what, .. } => X509Error::Malformed {
            what,
            detail: String::new(),
        },
        other => other,
    })
}

type Parse = fn(&[u8]) -> Result<KeyMaterial, X509Error>;

/// The three DER entry points, ours and the reference.
const PARSERS: [(&str, Parse, Parse); 3] = [
    ("certificate", certificate, reference::certificate),
    ("SPKI", spki, reference::spki),
    ("PKCS#1", rsa_public_key, reference::rsa_public_key),
];

/// Counts of agreeing inputs, by outcome: (accepted, refused).
#[derive(Default, Debug)]
struct Tally {
    accepted: usize,
    refused: usize,
}

fn agree(input: &[u8], tally: &mut Tally) {
    for (name, ours, theirs) in PARSERS {
        let (a, b) = (normalized(ours(input)), normalized(theirs(input)));
        assert_eq!(a, b, "{name} disagrees on {}", hex::encode(input));
        match a {
            Ok(_) => tally.accepted += 1,
            Err(_) => tally.refused += 1,
        }
    }
}

// ---- A small DER encoder, to build certificates field by field and to break them.

fn length(len: usize) -> Vec<u8> {
    match len {
        0..=0x7F => vec![len as u8],
        _ => {
            let bytes: Vec<u8> = (len as u32)
                .to_be_bytes()
                .into_iter()
                .skip_while(|&b| b == 0)
                .collect();
            [vec![0x80 | bytes.len() as u8], bytes].concat()
        }
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    [vec![tag], length(content.len()), content.to_vec()].concat()
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn oid(dotted: &str) -> Vec<u8> {
    let oid = ::der::asn1::ObjectIdentifier::new_unwrap(dotted);
    tlv(0x06, oid.as_bytes())
}

fn name(cn: &str) -> Vec<u8> {
    seq(&[
        tlv(0x31, &seq(&[oid("2.5.4.3"), tlv(0x0C, cn.as_bytes())])),
        tlv(0x31, &seq(&[oid("2.5.4.10"), tlv(0x13, b"jwt-authn-wasm")])),
    ])
}

/// The parts of a hand-built certificate, each a whole DER element (or several).
#[derive(Clone)]
struct Parts {
    version: Vec<u8>,
    serial: Vec<u8>,
    signature: Vec<u8>,
    issuer: Vec<u8>,
    validity: Vec<u8>,
    subject: Vec<u8>,
    spki: Vec<u8>,
    unique_ids: Vec<u8>,
    extensions: Vec<u8>,
    after: Vec<u8>,
}

impl Parts {
    fn v3(spki: &[u8]) -> Parts {
        let ext = |id: &str, critical: bool, value: &[u8]| {
            let flag = if critical {
                tlv(0x01, &[0xFF])
            } else {
                Vec::new()
            };
            seq(&[oid(id), flag, tlv(0x04, value)])
        };
        Parts {
            version: tlv(0xA0, &tlv(0x02, &[2])),
            serial: tlv(0x02, &[0x00, 0x8F, 0x12, 0x34]),
            signature: seq(&[oid("1.2.840.10045.4.3.2")]),
            issuer: name("issuer"),
            validity: seq(&[tlv(0x17, b"200101000000Z"), tlv(0x18, b"20991231235959Z")]),
            subject: name("subject"),
            spki: spki.to_vec(),
            unique_ids: Vec::new(),
            extensions: tlv(
                0xA3,
                &seq(&[
                    ext("2.5.29.19", true, &seq(&[])),
                    ext("2.5.29.15", false, &tlv(0x03, &[0x07, 0x80])),
                ]),
            ),
            after: Vec::new(),
        }
    }

    /// Version 1: no version field (DEFAULT v1), no extensions.
    fn v1(spki: &[u8]) -> Parts {
        Parts {
            version: Vec::new(),
            extensions: Vec::new(),
            ..Parts::v3(spki)
        }
    }

    fn der(&self) -> Vec<u8> {
        let tbs = seq(&[
            self.version.clone(),
            self.serial.clone(),
            self.signature.clone(),
            self.issuer.clone(),
            self.validity.clone(),
            self.subject.clone(),
            self.spki.clone(),
            self.unique_ids.clone(),
            self.extensions.clone(),
            self.after.clone(),
        ]);
        seq(&[
            tbs,
            seq(&[oid("1.2.840.10045.4.3.2")]),
            tlv(0x03, &[&[0][..], &[0x5A; 70]].concat()),
        ])
    }
}

/// One key of each supported kind and size.
fn keys() -> Vec<KeyMaterial> {
    let mut keys: Vec<Key> = [
        MintAlg::ES256,
        MintAlg::ES384,
        MintAlg::ES512,
        MintAlg::ES256K,
    ]
    .into_iter()
    .chain([MintAlg::EdDSA])
    .map(|alg| Key::from_seed(alg, "d", 3))
    .collect();
    for bits in [2048, 3072, 4096] {
        keys.push(Key::from_seed_rsa(bits, "d", 3));
    }
    keys.iter().map(|key| material(&key.public_jwk())).collect()
}

/// Every PEM file of the fixtures and the conformance corpus, as text.
fn pem_texts() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut texts = Vec::new();
    let dir = root.join("tests/fixtures/x509");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "pem"))
        .collect();
    files.sort();
    for path in files {
        texts.push(std::fs::read_to_string(path).unwrap());
    }
    let corpus = std::fs::read_to_string(root.join("tests/data/conformance/corpus.json")).unwrap();
    collect_pem(&serde_json::from_str(&corpus).unwrap(), &mut texts);
    assert!(texts.len() >= 13, "{} PEM texts", texts.len());
    texts
}

fn collect_pem(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) if s.contains("-----BEGIN") => out.push(s.clone()),
        serde_json::Value::String(s) => {
            if let Ok(inner) = serde_json::from_str::<serde_json::Value>(s) {
                if !inner.is_string() {
                    collect_pem(&inner, out);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_pem(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| collect_pem(v, out)),
        _ => {}
    }
}

/// The DER of every block of every PEM text of the fixtures.
fn fixture_der() -> Vec<Vec<u8>> {
    pem_texts()
        .iter()
        .filter_map(|text| reference_blocks(text).ok())
        .flatten()
        .filter_map(Result::ok)
        .map(|block| block.der)
        .collect()
}

/// Valid inputs: the fixtures' DER, and for each generated key its SPKI, PKCS#1 form (RSA),
/// builder-made v3 certificate and hand-built v1 and v3 certificates.
fn valid_der() -> Vec<Vec<u8>> {
    let mut all = fixture_der();
    for key in keys() {
        let spki = spki_der(&key);
        if let KeyMaterial::Rsa { n, e } = &key {
            all.push(pkcs1_der(n, e));
        }
        all.push(certificate_der(&spki));
        all.push(Parts::v1(&spki).der());
        all.push(Parts::v3(&spki).der());
        all.push(spki);
    }
    all
}

#[test]
fn same_keys_from_valid_inputs() {
    let mut tally = Tally::default();
    let inputs = valid_der();
    for input in &inputs {
        agree(input, &mut tally);
        // Each input is one of the three kinds, and gives a key.
        assert!(
            PARSERS.iter().any(|(_, ours, _)| ours(input).is_ok()),
            "{}",
            hex::encode(input)
        );
    }
    // 13 fixture blocks and 8 generated keys with their certificates; RSA ones also PKCS#1.
    assert!(tally.accepted >= 13 + 8 * 4 + 3, "{tally:?}");
}

/// Certificates that differ from the v3 one in one field, valid or not.
fn certificate_variants(spki: &[u8]) -> Vec<Vec<u8>> {
    let v3 = Parts::v3(spki);
    let mut out = Vec::new();
    let mut with = |change: &dyn Fn(&mut Parts)| {
        let mut parts = v3.clone();
        change(&mut parts);
        out.push(parts.der());
    };
    // Versions: explicit v1 (a DEFAULT encoded: `der` lets it through), v2, 4, out of range,
    // non-minimal, negative, primitive [0], empty [0], two integers in [0].
    for version in [
        tlv(0xA0, &tlv(0x02, &[0])),
        tlv(0xA0, &tlv(0x02, &[1])),
        tlv(0xA0, &tlv(0x02, &[3])),
        tlv(0xA0, &tlv(0x02, &[0, 2])),
        tlv(0xA0, &tlv(0x02, &[0xFF])),
        tlv(0x80, &tlv(0x02, &[2])),
        tlv(0xA0, &[]),
        tlv(0xA0, &[tlv(0x02, &[2]), tlv(0x02, &[2])].concat()),
        tlv(0xA1, &tlv(0x02, &[2])),
    ] {
        with(&|p| p.version = version.clone());
    }
    // Serial numbers: zero, negative, long (RFC 5280's 20 octets broken), non-minimal, empty.
    for serial in [
        vec![0],
        vec![0xFF],
        vec![0x80, 1],
        vec![0x7F; 40],
        vec![0, 1],
        vec![0xFF, 0x80],
        vec![],
    ] {
        with(&|p| p.serial = tlv(0x02, &serial));
    }
    // Times: both kinds, limits of each field, 1970, years before, other forms.
    for (tag, text) in [
        (0x17, &b"491231235959Z"[..]),
        (0x17, b"700101000000Z"),
        (0x17, b"691231235959Z"),
        (0x17, b"500101000000Z"),
        (0x17, b"000229000000Z"),
        (0x17, b"010229000000Z"),
        (0x17, b"201301000000Z"),
        (0x17, b"200132000000Z"),
        (0x17, b"200100000000Z"),
        (0x17, b"200101240000Z"),
        (0x17, b"200101006000Z"),
        (0x17, b"200101000060Z"),
        (0x17, b"2001010000Z"),
        (0x17, b"200101000000+0100"),
        (0x17, b"20010100000aZ"),
        (0x17, b"200101000000z"),
        (0x18, b"19691231235959Z"),
        (0x18, b"19700101000000Z"),
        (0x18, b"21000229000000Z"),
        (0x18, b"20000229000000Z"),
        (0x18, b"99991231235959Z"),
        (0x18, b"20200101000000.5Z"),
        (0x18, b"202001010000Z"),
        (0x13, b"200101000000Z"),
        (0x37, b"200101000000Z"),
    ] {
        let time = tlv(tag, text);
        with(&|p| p.validity = seq(&[time.clone(), tlv(0x17, b"300101000000Z")]));
        with(&|p| p.validity = seq(&[tlv(0x17, b"300101000000Z"), time.clone()]));
    }
    with(&|p| p.validity = seq(&[tlv(0x17, b"300101000000Z")]));
    with(&|p| p.validity = seq(&[]));
    // Names: empty, empty RDN, unsorted SET, odd string types (UniversalString is a tag `der`
    // does not know), a constructed value, missing value, extra member.
    for name in [
        seq(&[]),
        seq(&[tlv(0x31, &[])]),
        seq(&[tlv(
            0x31,
            &[
                seq(&[oid("2.5.4.10"), tlv(0x0C, b"b")]),
                seq(&[oid("2.5.4.3"), tlv(0x0C, b"a")]),
            ]
            .concat(),
        )]),
        seq(&[tlv(0x31, &seq(&[oid("2.5.4.3"), tlv(0x1C, b"\0\0\0a")]))]),
        seq(&[tlv(0x31, &seq(&[oid("2.5.4.3"), tlv(0x1E, b"\0a")]))]),
        seq(&[tlv(
            0x31,
            &seq(&[oid("2.5.4.3"), tlv(0x13, b"bad*chars\xff")]),
        )]),
        seq(&[tlv(0x31, &seq(&[oid("2.5.4.3"), seq(&[seq(&[])])]))]),
        seq(&[tlv(0x31, &seq(&[oid("2.5.4.3"), tlv(0xBF, &[])]))]),
        seq(&[tlv(0x31, &seq(&[oid("2.5.4.3")]))]),
        seq(&[tlv(
            0x31,
            &seq(&[oid("2.5.4.3"), tlv(0x0C, b"a"), tlv(0x05, &[])]),
        )]),
        seq(&[seq(&[seq(&[oid("2.5.4.3"), tlv(0x0C, b"a")])])]),
        tlv(0x31, &[]),
    ] {
        with(&|p| p.issuer = name.clone());
        with(&|p| p.subject = name.clone());
    }
    // Algorithm identifiers: parameters of any kind, long and malformed OIDs.
    for signature in [
        seq(&[oid("1.2.840.113549.1.1.11"), tlv(0x05, &[])]),
        seq(&[oid("1.2.840.113549.1.1.11"), tlv(0x05, &[1])]),
        seq(&[oid("1.2.840.10045.4.3.2"), seq(&[seq(&[seq(&[])])])]),
        seq(&[oid("1.2.840.10045.4.3.2"), tlv(0x05, &[]), tlv(0x05, &[])]),
        seq(&[tlv(0x06, &[])]),
        seq(&[tlv(0x06, &[0x2A, 0x86])]),
        seq(&[tlv(0x06, &[0x78, 1])]),
        seq(&[tlv(0x06, &[0x2A, 0x80, 0x01])]),
        seq(&[tlv(0x06, &[0x2A, 0x90, 0x80, 0x80, 0x80, 0x00])]),
        seq(&[tlv(0x06, &[0x2A, 0x8F, 0xFF, 0xFF, 0xFF, 0x7F])]),
        seq(&[tlv(0x06, &[0x2A; 39])]),
        seq(&[tlv(0x06, &[0x2A; 40])]),
        seq(&[]),
    ] {
        with(&|p| p.signature = signature.clone());
    }
    // Unique identifiers and what may follow the key.
    for extra in [
        tlv(0x81, &[0]),
        tlv(0x81, &[7, 0x80]),
        tlv(0x81, &[8, 0x80]),
        tlv(0x81, &[1]),
        tlv(0x81, &[]),
        tlv(0xA1, &tlv(0x03, &[0])),
        [tlv(0x81, &[0]), tlv(0x82, &[0])].concat(),
        [tlv(0x82, &[0]), tlv(0x81, &[0])].concat(),
        tlv(0x82, &[0, 1, 2]),
        tlv(0x84, &[]),
        tlv(0x05, &[]),
    ] {
        with(&|p| p.unique_ids = extra.clone());
    }
    // Extensions: none, empty list, critical FALSE written out, bad booleans, missing value,
    // a [3] that is primitive, two lists, then data after the extensions.
    let ext = |parts: &[Vec<u8>]| tlv(0xA3, &seq(&[seq(parts)]));
    for extensions in [
        tlv(0xA3, &seq(&[])),
        tlv(0xA3, &[]),
        ext(&[oid("2.5.29.19"), tlv(0x01, &[0]), tlv(0x04, &[])]),
        ext(&[oid("2.5.29.19"), tlv(0x01, &[1]), tlv(0x04, &[])]),
        ext(&[oid("2.5.29.19"), tlv(0x01, &[]), tlv(0x04, &[])]),
        ext(&[oid("2.5.29.19"), tlv(0x01, &[0xFF, 0xFF]), tlv(0x04, &[])]),
        ext(&[oid("2.5.29.19"), tlv(0x01, &[0xFF])]),
        ext(&[oid("2.5.29.19"), tlv(0x04, &[]), tlv(0x04, &[])]),
        ext(&[oid("2.5.29.19"), tlv(0x0C, &[]), tlv(0x04, &[])]),
        ext(&[oid("2.5.29.19"), vec![0x1C, 0], tlv(0x04, &[])]),
        ext(&[tlv(0x06, &[0x2A; 40]), tlv(0x04, &[])]),
        tlv(0x83, &seq(&[])),
        tlv(0xA3, &[seq(&[]), seq(&[])].concat()),
        tlv(0xA4, &seq(&[])),
    ] {
        with(&|p| p.extensions = extensions.clone());
    }
    for after in [tlv(0xA4, &[]), tlv(0x05, &[]), vec![0], vec![0x1F, 0x7F, 0]] {
        with(&|p| p.after = after.clone());
    }
    out
}

/// SPKIs that differ from a valid one in the algorithm, its parameters or the key bits.
fn spki_variants(key: &KeyMaterial) -> Vec<Vec<u8>> {
    let good = spki_der(key);
    let (algorithm, inner) = {
        let mut reader = der::Reader::new(&good);
        let mut info = reader.sequence().unwrap();
        let algorithm = info.any().unwrap();
        let bits = info.read(der::Tag::BIT_STRING).unwrap();
        (tlv(0x30, algorithm.value), bits.value[1..].to_vec())
    };
    let key_bits = &tlv(0x03, &[&[0][..], &inner].concat())[..];
    let bits = |unused: u8, bytes: &[u8]| tlv(0x03, &[&[unused][..], bytes].concat());
    let mut out = Vec::new();
    for params in [
        Vec::new(),
        tlv(0x05, &[]),
        tlv(0x05, &[0]),
        oid("1.2.840.10045.3.1.7"),
        oid("1.3.132.0.34"),
        oid("1.3.132.0.35"),
        oid("1.3.132.0.10"),
        oid("1.2.840.10045.3.1.1"),
        tlv(0x06, &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x87]),
        tlv(
            0x06,
            &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x80, 0x07],
        ),
        tlv(0x06, &[0x2A; 40]),
        tlv(0x06, &[]),
        seq(&[oid("1.2.840.10045.3.1.7")]),
        tlv(0x80, &[]),
    ] {
        for algorithm_oid in [
            oid("1.2.840.113549.1.1.1"),
            oid("1.2.840.10045.2.1"),
            oid("1.3.101.112"),
            oid("1.3.101.113"),
            oid("1.2.840.113549.1.1.10"),
            tlv(
                0x06,
                &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x80, 0x01],
            ),
        ] {
            out.push(seq(&[
                seq(&[algorithm_oid, params.clone()]),
                key_bits.to_vec(),
            ]));
        }
    }
    for key_bits in [
        bits(1, &inner),
        bits(7, &inner),
        bits(8, &inner),
        bits(0, &[]),
        bits(1, &[]),
        tlv(0x03, &[]),
        tlv(0x23, &bits(0, &inner)),
        tlv(0x04, &inner),
    ] {
        out.push(seq(&[algorithm.clone(), key_bits]));
    }
    out.push(seq(std::slice::from_ref(&algorithm)));
    out.push(seq(&[algorithm.clone(), key_bits.to_vec(), tlv(0x05, &[])]));
    out.push(seq(&[key_bits.to_vec(), algorithm]));
    out
}

/// PKCS#1 keys with integers of every encoding.
fn pkcs1_variants() -> Vec<Vec<u8>> {
    let ints: [&[u8]; 9] = [
        &[0],
        &[1, 0, 1],
        &[0, 0x80],
        &[0, 1],
        &[0x80],
        &[0xFF, 0x80],
        &[],
        &[0, 0, 0x80],
        &[3],
    ];
    let mut out = Vec::new();
    for n in ints {
        for e in ints {
            out.push(seq(&[tlv(0x02, n), tlv(0x02, e)]));
        }
    }
    out.push(seq(&[tlv(0x02, &[1])]));
    out.push(seq(&[tlv(0x02, &[1]), tlv(0x02, &[1]), tlv(0x02, &[1])]));
    out.push(seq(&[tlv(0x22, &tlv(0x02, &[1])), tlv(0x02, &[1])]));
    out
}

/// The encoding-level breakages of one input: every truncation, trailing bytes, each
/// definite length rewritten (longer form than needed, indefinite, one more, one less,
/// absurd), and tags changed to neighbouring ones.
fn encoding_variants(input: &[u8], rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = (0..input.len()).map(|len| input[..len].to_vec()).collect();
    out.push([input, &[0]].concat());
    out.push([input, &tlv(0x05, &[])].concat());
    // Every element header, found by walking the whole tree (values of primitive elements
    // are not entered).
    let mut headers = Vec::new();
    let mut stack = vec![(0usize, input.len())];
    while let Some((start, end)) = stack.pop() {
        let mut reader = der::Reader::new(&input[start..end]);
        let mut at = start;
        while let Ok(tlv) = reader.any() {
            let value_at = start + tlv.at;
            headers.push((at, value_at, tlv.value.len()));
            if tlv.tag.is_constructed() && !tlv.value.is_empty() {
                stack.push((value_at, value_at + tlv.value.len()));
            }
            at = value_at + tlv.value.len();
        }
    }
    for &(tag_at, value_at, len) in &headers {
        let splice = |header: &[u8], tail: &[u8]| {
            [&input[..tag_at], header, &input[value_at..], tail].concat()
        };
        let tag = &input[tag_at..value_at - length(len).len()];
        // Non-minimal: the same length one octet longer.
        let long = {
            let minimal = length(len);
            let digits = if len < 0x80 {
                vec![len as u8]
            } else {
                minimal[1..].to_vec()
            };
            [vec![0x80 | (digits.len() + 1) as u8, 0], digits].concat()
        };
        out.push(splice(&[tag, &long[..]].concat(), &[]));
        // Indefinite, with end-of-contents octets after the whole input.
        out.push(splice(&[tag, &[0x80][..]].concat(), &[0, 0]));
        for other in [len + 1, len.saturating_sub(1), 0x7FFF_FFFF, 0xFFFF_FFFF] {
            let header = [tag, &length(other)[..]].concat();
            out.push(splice(&header, &[]));
        }
        out.push(splice(&[tag, &[0x85, 0, 0, 0, 0, 1][..]].concat(), &[]));
        let first = input[tag_at];
        for replacement in [first ^ 0x20, first ^ 0x80, first ^ 0x01, first | 0x1F] {
            let mut variant = input.to_vec();
            variant[tag_at] = replacement;
            out.push(variant);
        }
    }
    // Random single-byte changes.
    for _ in 0..input.len().min(400) {
        let mut variant = input.to_vec();
        let at = rng.below(variant.len());
        variant[at] = rng.bytes(1)[0];
        out.push(variant);
    }
    out
}

/// Nesting far deeper than any certificate, in the places an `ANY` may hold it.
fn deep_nesting(spki: &[u8]) -> Vec<Vec<u8>> {
    let mut deep = tlv(0x05, &[]);
    for _ in 0..2000 {
        deep = seq(&[deep]);
    }
    let mut parts = Parts::v3(spki);
    parts.signature = seq(&[oid("1.2.840.10045.4.3.2"), deep.clone()]);
    let mut unclosed = [0x30, 0x80].repeat(5000);
    unclosed.extend([0; 2].repeat(5000));
    vec![parts.der(), deep, unclosed]
}

#[test]
fn same_answers_on_malformed_der() {
    let mut rng = Rng(22);
    let mut tally = Tally::default();
    let keys = keys();
    let mut inputs = valid_der();
    for key in &keys {
        let spki = spki_der(key);
        inputs.extend(certificate_variants(&spki));
        inputs.extend(spki_variants(key));
        inputs.extend(deep_nesting(&spki));
    }
    inputs.extend(pkcs1_variants());
    let bases = inputs.clone();
    for input in &bases {
        agree(input, &mut tally);
    }
    // The encoding breakages of the smaller valid inputs (the RSA-4096 ones add only length).
    for input in valid_der().iter().filter(|input| input.len() < 1200) {
        for variant in encoding_variants(input, &mut rng) {
            agree(&variant, &mut tally);
        }
    }
    eprintln!("DER: {tally:?}");
    assert!(tally.accepted > 500 && tally.refused > 50_000, "{tally:?}");
}

/// The blocks of a PEM text, the reference way (the splitting is shared).
fn reference_blocks(text: &str) -> Result<Vec<Result<PemBlock, X509Error>>, X509Error> {
    split_pem(text, reference::decode_pem_block)
}

/// A PEM result with the base64 decoder's wording left out ("invalid Base64 encoding" or
/// "length": base64ct names the first fault it meets, in its own order).
fn pem_normalized(
    result: Result<Vec<Result<PemBlock, X509Error>>, X509Error>,
) -> Result<Vec<Result<PemBlock, X509Error>>, X509Error> {
    let base64 = |err| match err {
        X509Error::Pem { detail } if detail.starts_with("PEM Base64 error") => X509Error::Pem {
            detail: "PEM Base64 error".into(),
        },
        other => other,
    };
    result.map(|blocks| {
        blocks
            .into_iter()
            .map(|block| block.map_err(base64))
            .collect()
    })
}

fn pem_agree(text: &str, tally: &mut Tally) {
    let ours = pem_normalized(pem_blocks(text));
    let theirs = pem_normalized(reference_blocks(text));
    assert_eq!(ours, theirs, "PEM disagrees on {text:?}");
    match ours {
        Ok(blocks) if blocks.iter().all(Result::is_ok) => tally.accepted += 1,
        _ => tally.refused += 1,
    }
}

/// `text` with its base64 rewrapped at `width` and its line ends replaced by `eol`.
fn rewrap(block: &PemBlock, width: usize, eol: &str) -> String {
    let base64 = base64::engine::general_purpose::STANDARD.encode(&block.der);
    let mut text = format!("-----BEGIN {}-----{eol}", block.label);
    for line in base64.as_bytes().chunks(width) {
        text.push_str(std::str::from_utf8(line).unwrap());
        text.push_str(eol);
    }
    let _ = write!(text, "-----END {}-----{eol}", block.label);
    text
}

#[test]
fn same_blocks_from_pem() {
    let mut rng = Rng(7468);
    let mut tally = Tally::default();
    let mut texts = pem_texts();
    let ed = pem("PUBLIC KEY", &spki_der(&keys()[4]));
    texts.push(ed.clone());
    let blocks: Vec<PemBlock> = texts
        .iter()
        .filter_map(|text| reference_blocks(text).ok())
        .flatten()
        .filter_map(Result::ok)
        .collect();
    for block in blocks.iter().take(8) {
        for width in [1, 2, 3, 4, 5, 8, 63, 64, 65, 76, 100, 4096] {
            for eol in ["\n", "\r\n", "\r"] {
                texts.push(rewrap(block, width, eol));
            }
        }
    }
    // Hand-made framings around one good body.
    let body = base64::engine::general_purpose::STANDARD.encode(spki_der(&keys()[4]));
    for framing in [
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----{}\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\n{}-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\n{}\n\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\n\n{}\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\n{} \n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\n {}\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\r\n{}\r\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY----- ",
        "-----BEGIN PUBLIC  KEY-----\n{}\n-----END PUBLIC  KEY-----",
        "-----BEGIN  PUBLIC KEY-----\n{}\n-----END  PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY -----\n{}\n-----END PUBLIC KEY -----",
        "-----BEGIN PUBLIC\tKEY-----\n{}\n-----END PUBLIC\tKEY-----",
        "-----BEGIN -----\n{}\n-----END -----",
        "-----BEGIN X-Y-----\n{}\n-----END X-Y-----",
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEYS-----",
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KE-----",
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END CERTIFICATE-----",
        "-----BEGIN PUBLIC KEY----\n{}\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY------\n{}\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\nHdr: 1\n\n{}\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\n\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\nAAA\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\nAB==\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\nAAA=\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\nAA==AAAA\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\nA===\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\nAAAAA\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\nAAAA\nAAAA\nAA\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\nAAAA\nAA\nAAAA\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\nAAAA\nAAAAA\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\nAAAA\r\nAAAA\rAAAA\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n\rAAAA\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\nAA-A\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\nAA_A\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\n-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----",
        "-----BEGIN \u{e9}-----\n{}\n-----END \u{e9}-----",
    ] {
        texts.push(framing.replace("{}", &body));
    }
    // Sizes around the cap.
    for len in [
        MAX_CERT_BYTES - 1,
        MAX_CERT_BYTES,
        MAX_CERT_BYTES + 1,
        MAX_CERT_BYTES + 2,
    ] {
        let block = PemBlock {
            label: "CERTIFICATE".into(),
            der: vec![0x30; len],
        };
        texts.push(rewrap(&block, 64, "\n"));
        let mut broken = rewrap(&block, 64, "\n");
        broken.replace_range(100..101, "*");
        texts.push(broken);
    }
    let bases = texts.clone();
    for text in &bases {
        pem_agree(text, &mut tally);
    }
    // Random edits with the characters PEM is made of.
    const ALPHABET: &[u8] = b"-\n\r \t=+/:AZaz09 BEGINEND";
    for text in bases.iter().filter(|text| text.len() < 4000) {
        for _ in 0..300 {
            let mut bytes = text.as_bytes().to_vec();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(bytes.len() + 1);
                let c = *rng.pick(ALPHABET);
                match rng.below(3) {
                    0 if at < bytes.len() => bytes[at] = c,
                    1 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, c),
                }
            }
            if let Ok(text) = String::from_utf8(bytes) {
                pem_agree(&text, &mut tally);
            }
        }
    }
    eprintln!("PEM: {tally:?}");
    assert!(tally.accepted > 200 && tally.refused > 5_000, "{tally:?}");
}
