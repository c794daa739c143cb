use std::convert::Infallible;

use p256::ecdsa::signature::Signer;
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, Pkcs1v15Sign, Pss, RsaPrivateKey};
use sha2::Digest;

use super::*;

const INPUT: &[u8] = b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0";

/// A fixed 2048-bit test key (primes from `openssl genrsa 2048`), e = 65537.
const RSA_P: &str = "d091c57179fd52450e38d0ec5499e186c127d254d0125fe36bc56fbaf2dfc673eafe0ee0e662dda25209f7180d117d84ce491b11cdb026abc885373a89be83474da469347ddc08b8269c8e1984c3c49ac6355e61cdfa1be3cc1b822d1a8944b2a3048c79f5bf6f3878232f0feddb0d80fef3577a8b86740ae58e246521386d49";
const RSA_Q: &str = "c9b8b95e9b85c0e31cbf413b499eb1bd0607a552f5afb3e6b0dbffbbe2a4efafce90a6456d63f3315d9e2534ff055b4d84a2abe1cf417d3f8fa6393e9cb62775fa96aa2c22c6ad96f69ba35103d245b63114f75d286d5c0ad7f9f7cfc59a8678c59381e5ec29ec9c10f96547323be84136aecd489d48f8dd15f0804844b4fb2d";
const HMAC_SECRET: &[u8] = b"a 32-byte secret for the tests!!";

/// Deterministic stand-in for an RNG: PSS salts only need to be well-formed here.
pub(crate) struct TestRng(pub(crate) u64);

impl rand_core::TryRng for TestRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        // splitmix64, the project's one test RNG (`jwt_mint::Rng`)
        let mut inner = jwt_mint::Rng(self.0);
        let value = inner.next_u64();
        self.0 = inner.0;
        Ok(value)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let word = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for TestRng {}

pub(crate) fn rsa_private() -> RsaPrivateKey {
    let p = BoxedUint::from_be_slice(&hex::decode(RSA_P).unwrap(), 1024).unwrap();
    let q = BoxedUint::from_be_slice(&hex::decode(RSA_Q).unwrap(), 1024).unwrap();
    RsaPrivateKey::from_p_q(p, q, BoxedUint::from(65537u32)).unwrap()
}

fn rsa_public(private: &RsaPrivateKey) -> PublicKey {
    let public = private.to_public_key();
    PublicKey::rsa(&public.n().to_be_bytes(), &public.e().to_be_bytes()).unwrap()
}

/// The affine coordinates of a fixed test key on `curve` (for building JWKs).
pub(crate) fn ec_coordinates(curve: Curve) -> (Vec<u8>, Vec<u8>) {
    let point = match curve {
        Curve::P256 => p256::ecdsa::SigningKey::from_slice(&[0x11; 32])
            .unwrap()
            .verifying_key()
            .to_sec1_point(false)
            .as_bytes()
            .to_vec(),
        Curve::P384 => p384::ecdsa::SigningKey::from_slice(&[0x22; 48])
            .unwrap()
            .verifying_key()
            .to_sec1_point(false)
            .as_bytes()
            .to_vec(),
        Curve::P521 => {
            let mut secret = [0x33; 66];
            secret[0] = 0x01;
            p521::ecdsa::SigningKey::from_slice(&secret)
                .unwrap()
                .verifying_key()
                .to_sec1_point(false)
                .as_bytes()
                .to_vec()
        }
        Curve::Secp256k1 => k256::ecdsa::SigningKey::from_slice(&[0x44; 32])
            .unwrap()
            .verifying_key()
            .to_sec1_point(false)
            .as_bytes()
            .to_vec(),
    };
    let len = curve.field_len();
    (point[1..1 + len].to_vec(), point[1 + len..].to_vec())
}

/// A key, an algorithm it supports, and a valid signature over [`INPUT`].
struct Case {
    alg: Alg,
    key: PublicKey,
    sig: Vec<u8>,
}

fn ec_public(curve: Curve, sec1_uncompressed: &[u8]) -> PublicKey {
    let len = curve.field_len();
    PublicKey::ec(
        curve,
        &sec1_uncompressed[1..1 + len],
        &sec1_uncompressed[1 + len..],
    )
    .unwrap()
}

/// One valid signature for each of the 14 algorithms.
fn cases() -> Vec<Case> {
    let rsa = rsa_private();
    let rsa_key = rsa_public(&rsa);
    let mut rng = TestRng(1);
    let mut cases = vec![
        (
            Alg::Rs256,
            rsa.sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(INPUT))
                .unwrap(),
        ),
        (
            Alg::Rs384,
            rsa.sign(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(INPUT))
                .unwrap(),
        ),
        (
            Alg::Rs512,
            rsa.sign(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(INPUT))
                .unwrap(),
        ),
        (
            Alg::Ps256,
            rsa.sign_with_rng(&mut rng, Pss::<Sha256>::new(), &Sha256::digest(INPUT))
                .unwrap(),
        ),
        (
            Alg::Ps384,
            rsa.sign_with_rng(&mut rng, Pss::<Sha384>::new(), &Sha384::digest(INPUT))
                .unwrap(),
        ),
        (
            Alg::Ps512,
            rsa.sign_with_rng(&mut rng, Pss::<Sha512>::new(), &Sha512::digest(INPUT))
                .unwrap(),
        ),
    ]
    .into_iter()
    .map(|(alg, sig)| Case {
        alg,
        key: rsa_key.clone(),
        sig,
    })
    .collect::<Vec<_>>();

    let p256 = p256::ecdsa::SigningKey::from_slice(&[0x11; 32]).unwrap();
    let sig: p256::ecdsa::Signature = p256.sign(INPUT);
    let key = ec_public(
        Curve::P256,
        p256.verifying_key().to_sec1_point(false).as_bytes(),
    );
    cases.push(Case {
        alg: Alg::Es256,
        key,
        sig: sig.to_bytes().to_vec(),
    });

    let p384 = p384::ecdsa::SigningKey::from_slice(&[0x22; 48]).unwrap();
    let sig: p384::ecdsa::Signature = p384.sign(INPUT);
    let key = ec_public(
        Curve::P384,
        p384.verifying_key().to_sec1_point(false).as_bytes(),
    );
    cases.push(Case {
        alg: Alg::Es384,
        key,
        sig: sig.to_bytes().to_vec(),
    });

    let mut p521_secret = [0x33; 66];
    p521_secret[0] = 0x01;
    let p521 = p521::ecdsa::SigningKey::from_slice(&p521_secret).unwrap();
    let sig: p521::ecdsa::Signature = p521.sign(INPUT);
    let key = ec_public(
        Curve::P521,
        p521.verifying_key().to_sec1_point(false).as_bytes(),
    );
    cases.push(Case {
        alg: Alg::Es512,
        key,
        sig: sig.to_bytes().to_vec(),
    });

    let k256 = k256::ecdsa::SigningKey::from_slice(&[0x44; 32]).unwrap();
    let sig: k256::ecdsa::Signature = k256.sign(INPUT);
    let key = ec_public(
        Curve::Secp256k1,
        k256.verifying_key().to_sec1_point(false).as_bytes(),
    );
    cases.push(Case {
        alg: Alg::Es256k,
        key,
        sig: sig.to_bytes().to_vec(),
    });

    let ed = ed25519_dalek::SigningKey::from_bytes(&[0x55; 32]);
    let sig = ed.sign(INPUT).to_bytes().to_vec();
    let key = PublicKey::ed25519(ed.verifying_key().as_bytes()).unwrap();
    cases.push(Case {
        alg: Alg::EdDsa,
        key,
        sig,
    });

    let hmac = PublicKey::hmac(HMAC_SECRET).unwrap();
    for alg in [Alg::Hs256, Alg::Hs384, Alg::Hs512] {
        let sig = match alg {
            Alg::Hs256 => Hmac::<Sha256>::new_from_slice(HMAC_SECRET)
                .unwrap()
                .chain_update(INPUT)
                .finalize()
                .into_bytes()
                .to_vec(),
            Alg::Hs384 => Hmac::<Sha384>::new_from_slice(HMAC_SECRET)
                .unwrap()
                .chain_update(INPUT)
                .finalize()
                .into_bytes()
                .to_vec(),
            _ => Hmac::<Sha512>::new_from_slice(HMAC_SECRET)
                .unwrap()
                .chain_update(INPUT)
                .finalize()
                .into_bytes()
                .to_vec(),
        };
        cases.push(Case {
            alg,
            key: hmac.clone(),
            sig,
        });
    }
    cases
}

/// The error a damaged signature of this algorithm must produce.
fn bad_length_error(alg: Alg) -> SigError {
    if alg == Alg::EdDsa {
        SigError::WrongLength
    } else {
        SigError::Invalid
    }
}

#[test]
fn valid_signatures_verify_for_every_alg() {
    let cases = cases();
    for alg in Alg::ALL {
        assert_eq!(
            cases.iter().filter(|c| c.alg == alg).count(),
            1,
            "one case for {alg}"
        );
    }
    for case in &cases {
        assert_eq!(
            case.key.verify(case.alg, INPUT, &case.sig),
            Ok(()),
            "{}",
            case.alg
        );
    }
}

#[test]
fn other_input_is_refused() {
    for case in cases() {
        assert_eq!(
            case.key
                .verify(case.alg, b"eyJhbGciOiJub25lIn0.e30", &case.sig),
            Err(SigError::Invalid),
            "{}",
            case.alg
        );
    }
}

/// Flips each bit of the valid signature in turn; every one must be refused. Split by
/// algorithm below so the test harness runs the slow (debug-build) curves in parallel.
fn assert_every_flipped_bit_is_refused(algs: &[Alg]) {
    for case in cases().into_iter().filter(|c| algs.contains(&c.alg)) {
        let mut sig = case.sig.clone();
        for bit in 0..sig.len() * 8 {
            sig[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                case.key.verify(case.alg, INPUT, &sig),
                Err(SigError::Invalid),
                "{} bit {bit}",
                case.alg
            );
            sig[bit / 8] ^= 1 << (bit % 8);
        }
    }
}

#[test]
fn every_flipped_bit_is_refused_rs() {
    assert_every_flipped_bit_is_refused(&[Alg::Rs256, Alg::Rs384, Alg::Rs512]);
}

#[test]
fn every_flipped_bit_is_refused_ps() {
    assert_every_flipped_bit_is_refused(&[Alg::Ps256, Alg::Ps384, Alg::Ps512]);
}

#[test]
fn every_flipped_bit_is_refused_es256_es256k() {
    assert_every_flipped_bit_is_refused(&[Alg::Es256, Alg::Es256k]);
}

#[test]
fn every_flipped_bit_is_refused_es384() {
    assert_every_flipped_bit_is_refused(&[Alg::Es384]);
}

#[test]
fn every_flipped_bit_is_refused_es512() {
    assert_every_flipped_bit_is_refused(&[Alg::Es512]);
}

#[test]
fn every_flipped_bit_is_refused_eddsa_hs() {
    assert_every_flipped_bit_is_refused(&[Alg::EdDsa, Alg::Hs256, Alg::Hs384, Alg::Hs512]);
}

#[test]
fn every_truncation_and_extension_is_refused() {
    for case in cases() {
        let expected = Err(bad_length_error(case.alg));
        for len in 0..case.sig.len() {
            assert_eq!(
                case.key.verify(case.alg, INPUT, &case.sig[..len]),
                expected,
                "{} truncated to {len}",
                case.alg
            );
        }
        let mut longer = case.sig.clone();
        longer.push(0);
        assert_eq!(
            case.key.verify(case.alg, INPUT, &longer),
            expected,
            "{} extended",
            case.alg
        );
        let mut prefixed = vec![0];
        prefixed.extend_from_slice(&case.sig);
        assert_eq!(
            case.key.verify(case.alg, INPUT, &prefixed),
            expected,
            "{} zero-prefixed",
            case.alg
        );
    }
}

#[test]
fn supports_matches_key_kind_exactly() {
    use Alg::*;
    let table: [(&str, &[Alg]); 7] = [
        ("rsa", &[Rs256, Rs384, Rs512, Ps256, Ps384, Ps512]),
        ("p256", &[Es256]),
        ("p384", &[Es384]),
        ("p521", &[Es512]),
        ("k256", &[Es256k]),
        ("ed25519", &[EdDsa]),
        ("hmac", &[Hs256, Hs384, Hs512]),
    ];
    let cases = cases();
    for (name, supported) in table {
        let key = &cases.iter().find(|c| c.alg == supported[0]).unwrap().key;
        for alg in Alg::ALL {
            assert_eq!(
                key.supports(alg),
                supported.contains(&alg),
                "{name} key, {alg}"
            );
        }
    }
}

#[test]
fn no_key_verifies_a_signature_under_another_alg() {
    let cases = cases();
    for case in &cases {
        for other in &cases {
            if other.alg == case.alg || case.key.supports(other.alg) {
                continue;
            }
            assert_eq!(
                case.key.verify(other.alg, INPUT, &case.sig),
                Err(SigError::Invalid),
                "{} key as {}",
                case.alg,
                other.alg
            );
            assert_eq!(
                case.key.verify(other.alg, INPUT, &other.sig),
                Err(SigError::Invalid),
                "{} key, {} sig",
                case.alg,
                other.alg
            );
        }
    }
}

#[test]
fn public_key_bytes_are_not_an_hmac_secret() {
    // The classic RS256 → HS256 confusion: HMAC the input with the RSA public key's bytes.
    let rsa = rsa_private().to_public_key();
    let n = rsa.n().to_be_bytes();
    let forged = Hmac::<Sha256>::new_from_slice(&n)
        .unwrap()
        .chain_update(INPUT)
        .finalize()
        .into_bytes();
    let key = rsa_public(&rsa_private());
    assert!(!key.supports(Alg::Hs256));
    assert_eq!(
        key.verify(Alg::Hs256, INPUT, &forged),
        Err(SigError::Invalid)
    );

    let cases = cases();
    let hmac = &cases.iter().find(|c| c.alg == Alg::Hs256).unwrap().key;
    let rs256 = cases.iter().find(|c| c.alg == Alg::Rs256).unwrap();
    assert_eq!(
        hmac.verify(Alg::Rs256, INPUT, &rs256.sig),
        Err(SigError::Invalid)
    );

    let es256 = cases.iter().find(|c| c.alg == Alg::Es256).unwrap();
    assert_eq!(
        es256.key.verify(Alg::Es384, INPUT, &es256.sig),
        Err(SigError::Invalid)
    );
}

/// ASN.1 DER `SEQUENCE { INTEGER r, INTEGER s }` for a JWS R||S signature.
fn der(raw: &[u8]) -> Vec<u8> {
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let bytes = strip_leading_zeros(bytes);
        let mut out = vec![0x02];
        let pad = bytes.first().is_some_and(|b| b & 0x80 != 0);
        out.push((bytes.len() + usize::from(pad)) as u8);
        if pad {
            out.push(0);
        }
        out.extend_from_slice(bytes);
        out
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let body = [integer(r), integer(s)].concat();
    let mut out = vec![0x30];
    if body.len() >= 0x80 {
        out.push(0x81);
    }
    out.push(body.len() as u8);
    out.extend(body);
    out
}

#[test]
fn der_encoded_ecdsa_signatures_are_refused() {
    for case in cases().into_iter().filter(|c| c.alg.family() == Family::Ec) {
        let der = der(&case.sig);
        assert_eq!(
            case.key.verify(case.alg, INPUT, &der),
            Err(SigError::Invalid),
            "{}",
            case.alg
        );
    }
}

#[test]
fn ecdsa_accepts_high_s_on_every_curve() {
    macro_rules! high_s {
        ($sig:ty, $bytes:expr) => {{
            let (r, s) = <$sig>::from_slice($bytes).unwrap().split_scalars();
            <$sig>::from_scalars(r, -s).unwrap().to_bytes().to_vec()
        }};
    }
    for case in cases().into_iter().filter(|c| c.alg.family() == Family::Ec) {
        let negated = match case.alg {
            Alg::Es256 => high_s!(p256::ecdsa::Signature, &case.sig),
            Alg::Es384 => high_s!(p384::ecdsa::Signature, &case.sig),
            Alg::Es512 => high_s!(p521::ecdsa::Signature, &case.sig),
            _ => high_s!(k256::ecdsa::Signature, &case.sig),
        };
        assert_ne!(negated, case.sig);
        assert_eq!(
            case.key.verify(case.alg, INPUT, &negated),
            Ok(()),
            "{} with n - s",
            case.alg
        );
    }
}

#[test]
fn ecdsa_zero_or_out_of_range_scalars_are_refused() {
    // secp256r1 group order n.
    let n = hex::decode("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551")
        .unwrap();
    let case = cases().into_iter().find(|c| c.alg == Alg::Es256).unwrap();
    let (r, s) = case.sig.split_at(32);
    let zero = [0u8; 32];
    let ff = [0xffu8; 32];
    let table: [(&str, Vec<u8>); 6] = [
        ("r = 0", [&zero[..], s].concat()),
        ("s = 0", [r, &zero[..]].concat()),
        ("r = s = 0", [zero, zero].concat()),
        ("r = n", [&n[..], s].concat()),
        ("s = n", [r, &n[..]].concat()),
        ("s = 2^256 - 1", [r, &ff[..]].concat()),
    ];
    for (name, sig) in table {
        assert_eq!(
            case.key.verify(Alg::Es256, INPUT, &sig),
            Err(SigError::Invalid),
            "{name}"
        );
    }
}

#[test]
fn rsa_constructor_enforces_size_and_exponent() {
    let good = rsa_private().to_public_key().n().to_be_bytes().to_vec();
    let odd = |bits: usize| {
        let mut n = vec![0xff; bits.div_ceil(8)];
        n[0] = 0xff >> ((8 - bits % 8) % 8);
        n
    };
    let mut padded = vec![0, 0, 0];
    padded.extend_from_slice(&good);
    let mut even = good.clone();
    *even.last_mut().unwrap() &= 0xfe;
    let f4 = [1, 0, 1];
    /// name, n, e, modulus bits or error
    type Row<'a> = (&'a str, Vec<u8>, &'a [u8], Result<usize, KeyError>);
    let table: [Row; 10] = [
        ("2048-bit, e=65537", good.clone(), &f4, Ok(2048)),
        ("2048-bit, e=3", good.clone(), &[3], Ok(2048)),
        (
            "leading zero bytes in n and e",
            padded,
            &[0, 0, 1, 0, 1],
            Ok(2048),
        ),
        (
            "1024-bit",
            odd(1024),
            &f4,
            Err(KeyError::RsaModulusTooSmall { bits: 1024 }),
        ),
        (
            "2047-bit",
            odd(2047),
            &f4,
            Err(KeyError::RsaModulusTooSmall { bits: 2047 }),
        ),
        (
            "8193-bit",
            odd(8193),
            &f4,
            Err(KeyError::RsaModulusTooLarge { bits: 8193 }),
        ),
        ("e=5", good.clone(), &[5], Err(KeyError::RsaExponent)),
        ("e=1", good.clone(), &[1], Err(KeyError::RsaExponent)),
        ("empty e", good, &[], Err(KeyError::RsaExponent)),
        ("even n", even, &f4, Err(KeyError::RsaInvalid)),
    ];
    for (name, n, e, expected) in table {
        let got = PublicKey::rsa(&n, e).map(|key| match key {
            PublicKey::Rsa(rsa) => rsa.bits(),
            _ => 0,
        });
        assert_eq!(got, expected, "{name}");
    }
    assert!(
        PublicKey::rsa(&odd(8192), &f4).is_ok(),
        "8192 bits is the maximum"
    );
    assert_eq!(
        PublicKey::rsa(&[], &f4).unwrap_err(),
        KeyError::RsaModulusTooSmall { bits: 0 }
    );
}

#[test]
fn ec_constructor_checks_length_and_curve() {
    let (x, y) = ec_coordinates(Curve::P256);
    let (x, y) = (&x[..], &y[..]);
    let mut y_plus_one = y.to_vec();
    y_plus_one[31] ^= 1;
    let short = &x[1..];
    let long = [&[0u8][..], x].concat();
    let zero = [0u8; 32];
    let p = hex::decode("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff")
        .unwrap();
    /// name, curve, x, y, error
    type Row<'a> = (&'a str, Curve, &'a [u8], &'a [u8], Option<KeyError>);
    let table: [Row; 8] = [
        ("valid", Curve::P256, x, y, None),
        (
            "x short, padded to another point",
            Curve::P256,
            short,
            y,
            Some(KeyError::EcNotOnCurve { curve: Curve::P256 }),
        ),
        (
            "x long",
            Curve::P256,
            &long,
            y,
            Some(KeyError::EcCoordinateLength {
                curve: Curve::P256,
                x: 33,
                y: 32,
            }),
        ),
        (
            "P-256 point as P-384",
            Curve::P384,
            x,
            y,
            Some(KeyError::EcNotOnCurve { curve: Curve::P384 }),
        ),
        (
            "not on curve",
            Curve::P256,
            x,
            &y_plus_one,
            Some(KeyError::EcNotOnCurve { curve: Curve::P256 }),
        ),
        (
            "origin",
            Curve::P256,
            &zero,
            &zero,
            Some(KeyError::EcNotOnCurve { curve: Curve::P256 }),
        ),
        (
            "x = p",
            Curve::P256,
            &p,
            y,
            Some(KeyError::EcNotOnCurve { curve: Curve::P256 }),
        ),
        (
            "P-256 point on secp256k1",
            Curve::Secp256k1,
            x,
            y,
            Some(KeyError::EcNotOnCurve {
                curve: Curve::Secp256k1,
            }),
        ),
    ];
    for (name, curve, x, y, expected) in table {
        assert_eq!(PublicKey::ec(curve, x, y).err(), expected, "{name}");
    }
}

#[test]
fn ed25519_constructor_checks_length_and_point() {
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let good = *ed25519_dalek::SigningKey::from_bytes(&[0x55; 32])
        .verifying_key()
        .as_bytes();
    let table: [(&str, &[u8], Option<KeyError>); 5] = [
        ("valid", &good, None),
        (
            "31 bytes",
            &good[..31],
            Some(KeyError::Ed25519Length { len: 31 }),
        ),
        ("empty", &[], Some(KeyError::Ed25519Length { len: 0 })),
        (
            "identity (small order)",
            &identity,
            Some(KeyError::Ed25519InvalidPoint),
        ),
        (
            "y = 2 has no x",
            &ED25519_NOT_ON_CURVE,
            Some(KeyError::Ed25519InvalidPoint),
        ),
    ];
    for (name, x, expected) in table {
        assert_eq!(PublicKey::ed25519(x).err(), expected, "{name}");
    }
}

const ED25519_NOT_ON_CURVE: [u8; 32] = {
    let mut y = [0u8; 32];
    y[0] = 2;
    y
};

#[test]
fn hmac_constructor_refuses_empty_and_hides_secret() {
    assert_eq!(PublicKey::hmac(&[]).err(), Some(KeyError::HmacEmpty));
    let key = PublicKey::hmac(b"very secret").unwrap();
    assert!(!format!("{key:?}").contains("very secret"));
    assert_eq!(PublicKey::hmac(&[0]).map(|k| k.family()), Ok(Family::Hmac));
}

#[test]
fn curve_names_round_trip() {
    for curve in [Curve::P256, Curve::P384, Curve::P521, Curve::Secp256k1] {
        assert_eq!(Curve::parse(curve.name()), Some(curve));
        assert_eq!(Curve::for_alg(curve.alg()), Some(curve));
    }
    assert_eq!(Curve::parse("P-256K"), None);
}

/// Rough timing, not an assertion: `cargo test --release --lib -- --ignored --nocapture timing`.
#[test]
#[ignore]
fn timing() {
    for case in cases() {
        let rounds = 200;
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            assert!(case.key.verify(case.alg, INPUT, &case.sig).is_ok());
        }
        println!("{}: {:?} per verify", case.alg, start.elapsed() / rounds);
    }
}
