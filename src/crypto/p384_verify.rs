//! P-384 for JWS ES384 on the generic engine of [`crate::crypto::ec_verify`]: the curve's constants and
//! its field multiplication. Field elements are 12 × 32-bit limbs; products are reduced by
//! folding with `2³⁸⁴ ≡ 2¹²⁸ + 2⁹⁶ − 2³² + 1 (mod p)` (p is Solinas' prime
//! `2³⁸⁴ − 2¹²⁸ − 2⁹⁶ + 2³² − 1`, FIPS 186-5 / SP 800-186 §3.2.1.4).

use std::sync::OnceLock;

use crate::crypto::ec_verify::{self, hex, mul_wide, neg_inverse, reduce_sparse, sqr_wide, Table};

const L: usize = 12;

/// The curve P-384 (secp384r1).
pub struct P384;

/// A P-384 public key, checked on the curve when it is built.
pub type VerifyingKey = ec_verify::VerifyingKey<P384, L>;

/// `2³⁸⁴ ≡ Σ s·2^(32·o) (mod p)`, as `(o, s)`.
const FOLD: [(usize, i64); 4] = [(0, 1), (1, -1), (3, 1), (4, 1)];

impl ec_verify::Curve<L> for P384 {
    const NAME: &'static str = "P384VerifyingKey";
    const BYTES: usize = 48;
    const N_BITS: usize = 384;
    const P: [u32; L] = hex("fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff");
    const N: [u32; L] = hex("ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973");
    const B: [u32; L] = hex("b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef");
    const GX: [u32; L] = hex("aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7");
    const GY: [u32; L] = hex("3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f");
    const A_MINUS_3: bool = true;
    const N0_INV: u32 = neg_inverse(Self::N[0]);
    const W_G: u32 = 8;
    const W_Q: u32 = 6;

    #[inline(never)]
    fn mul(a: &[u32; L], b: &[u32; L]) -> [u32; L] {
        let mut t = [0u32; 2 * L];
        mul_wide(a, b, &mut t);
        reduce_sparse(&t, &FOLD, &Self::P)
    }

    #[inline(never)]
    fn sqr(a: &[u32; L]) -> [u32; L] {
        let mut t = [0u32; 2 * L];
        sqr_wide(a, &mut t);
        reduce_sparse(&t, &FOLD, &Self::P)
    }

    fn g_table() -> Option<&'static Table<L>> {
        static TABLE: OnceLock<Option<Table<L>>> = OnceLock::new();
        TABLE.get_or_init(Table::generator::<Self>).as_ref()
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]

    use p384::ecdsa::signature::hazmat::PrehashSigner;
    use p384::elliptic_curve::ops::Reduce;
    use p384::elliptic_curve::sec1::ToSec1Point;
    use p384::{FieldBytes, ProjectivePoint, Scalar};

    use super::*;
    use crate::crypto::ec_verify::testing::*;
    use crate::crypto::ec_verify::{adc, from_be_slice, Curve};

    type C = P384;

    #[test]
    fn constants() {
        // p = 2³⁸⁴ − 2¹²⁸ − 2⁹⁶ + 2³² − 1, built from its powers of two.
        let mut p = sbb_all(&[0; L], &pow2(128));
        p = sbb_all(&p, &pow2(96));
        p = adc(&p, &pow2(32)).0;
        p = sbb_all(&p, &small(1));
        assert_eq!(p, C::P);
        let g = ProjectivePoint::GENERATOR.to_affine().to_sec1_point(false);
        assert_eq!(to_be_bytes(&C::GX, 48), g.as_bytes()[1..49]);
        assert_eq!(to_be_bytes(&C::GY, 48), g.as_bytes()[49..]);
        curve_constants::<C, L>();
    }

    fn sbb_all(a: &[u32; L], b: &[u32; L]) -> [u32; L] {
        crate::crypto::ec_verify::sbb(a, b).0
    }

    #[test]
    fn field_arithmetic_matches_a_slow_reference() {
        field_arithmetic::<C, L>(7);
        // 2³⁸⁴ mod p, from 2¹⁹² squared.
        let expected = adc(
            &adc(&pow2(128), &pow2(96)).0,
            &sbb_all(&small(1), &pow2(32)),
        )
        .0;
        assert_eq!(C::mul(&pow2(192), &pow2(192)), expected);
    }

    #[test]
    fn inversion_mod_p_and_n() {
        inversion::<C, L>(11);
    }

    #[test]
    fn montgomery_multiplication_mod_n() {
        montgomery::<C, L>(13);
    }

    fn scalar(a: &[u32; L]) -> Scalar {
        <Scalar as Reduce<FieldBytes>>::reduce(
            &FieldBytes::try_from(to_be_bytes(a, 48).as_slice()).unwrap(),
        )
    }

    fn affine_bytes(p: &ProjectivePoint) -> Option<(Vec<u8>, Vec<u8>)> {
        use p384::elliptic_curve::group::Group;
        if bool::from(p.is_identity()) {
            return None;
        }
        let enc = p.to_affine().to_sec1_point(false);
        let b = enc.as_bytes();
        Some((b[1..49].to_vec(), b[49..].to_vec()))
    }

    fn key_for(d: &[u32; L]) -> (ProjectivePoint, VerifyingKey) {
        let point = ProjectivePoint::GENERATOR * scalar(d);
        let (x, y) = affine_bytes(&point).unwrap();
        (point, VerifyingKey::from_affine(&x, &y).unwrap())
    }

    #[test]
    fn scalar_multiples_match_p384() {
        let mut rng = Rng(19);
        let mut qs = vec![
            small(1),
            minus(&C::N, 1),
            small(2),
            pow2(64),
            minus(&C::N, 3),
        ];
        qs.push(rng.below(&C::N));
        for (i, d) in qs.iter().enumerate() {
            let (q_point, key) = key_for(d);
            let mut scalars = edge_scalars::<C, L>();
            for _ in 0..(if i + 1 == qs.len() { 10 } else { 2 }) {
                scalars.push(rng.below(&C::N));
            }
            let last = i + 1 == qs.len();
            for u1 in scalars.iter().step_by(if last { 1 } else { 2 }) {
                for u2 in scalars.iter().step_by(if last { 3 } else { 7 }) {
                    let expected = ProjectivePoint::GENERATOR * scalar(u1) + q_point * scalar(u2);
                    assert_eq!(
                        lincomb_bytes(u1, u2, &key),
                        affine_bytes(&expected),
                        "d = {d:x?}, u1 = {u1:x?}, u2 = {u2:x?}"
                    );
                }
            }
        }
    }

    #[test]
    fn keys_must_be_on_the_curve() {
        let (gx, gy) = (to_be_bytes(&C::GX, 48), to_be_bytes(&C::GY, 48));
        assert!(VerifyingKey::from_affine(&gx, &gy).is_some());
        let mut bad_y = gy.clone();
        bad_y[47] ^= 1;
        assert!(VerifyingKey::from_affine(&gx, &bad_y).is_none());
        assert!(VerifyingKey::from_affine(&[0; 48], &[0; 48]).is_none());
        assert!(
            VerifyingKey::from_affine(&gx[1..], &gy).is_none(),
            "short x"
        );
        let (x_plus_p, carry) = adc(&C::GX, &C::P);
        if carry == 0 {
            assert!(VerifyingKey::from_affine(&to_be_bytes(&x_plus_p, 48), &gy).is_none());
        }
        assert!(VerifyingKey::from_affine(&to_be_bytes(&C::P, 48), &gy).is_none());
    }

    #[test]
    fn x_comparison_handles_x_above_n() {
        // The curve point with the smallest x at or above n (even y), by `p384`'s decoder.
        let mut x = C::N;
        let point = loop {
            let mut sec1 = vec![0x02];
            sec1.extend_from_slice(&to_be_bytes(&x, 48));
            if let Ok(pk) = p384::PublicKey::from_sec1_bytes(&sec1) {
                break pk.to_projective();
            }
            x = adc(&x, &small(1)).0;
        };
        let (xb, yb) = affine_bytes(&point).unwrap();
        x_above_n::<C, L>(&from_be_slice(&xb).unwrap(), &from_be_slice(&yb).unwrap());
    }

    #[test]
    fn verifies_p384_signatures_and_refuses_bad_scalars() {
        let sk = p384::ecdsa::SigningKey::from_slice(&[0x42; 48]).unwrap();
        let point = sk.verifying_key().to_sec1_point(false);
        let b = point.as_bytes();
        let key = VerifyingKey::from_affine(&b[1..49], &b[49..]).unwrap();
        let n = to_be_bytes(&C::N, 48);
        for digest in [[0u8; 48].to_vec(), vec![0xff; 48], n.clone(), vec![7; 48]] {
            let sig: p384::ecdsa::Signature = sk.sign_prehash(&digest).unwrap();
            let sig = sig.to_bytes();
            assert!(key.verify_prehash(&digest, &sig));
            let mut other = digest.clone();
            other[47] ^= 1;
            assert!(!key.verify_prehash(&other, &sig));
            let (r, s) = sig.split_at(48);
            for (r, s) in [
                (r, &[0u8; 48][..]),
                (&[0u8; 48][..], s),
                (&n[..], s),
                (r, &n[..]),
                (s, r),
            ] {
                assert!(!key.verify_prehash(&digest, &[r, s].concat()));
            }
            assert!(!key.verify_prehash(&digest, &sig[..95]));
            assert!(!key.verify_prehash(&digest, &[&sig[..], &[0]].concat()));
        }
        let sig: p384::ecdsa::Signature = sk.sign_prehash(&[0u8; 48]).unwrap();
        assert!(
            key.verify_prehash(&n, &sig.to_bytes()),
            "a digest of n is e = 0"
        );
        assert!(
            !key.verify_prehash(&[0u8; 49], &sig.to_bytes()),
            "digest longer than n"
        );
    }
}
