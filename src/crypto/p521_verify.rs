//! P-521 for JWS ES512 on the generic engine of [`crate::crypto::ec_verify`]: the curve's constants
//! and its field multiplication. Field elements are 17 × 32-bit limbs (544 bits); p is the
//! Mersenne prime `2⁵²¹ − 1`, so a product `hi·2⁵²¹ + lo` reduces to `hi + lo` (a shift and an
//! addition), then one more fold of the bit above 521 and at most one subtraction. 32-bit limbs
//! with 64-bit products, because wasm32 has no wider multiply: 58-bit limbs would need 128-bit
//! products, which cost four 64-bit multiplies each.

use std::sync::OnceLock;

use crate::crypto::ec_verify::{self, adc, hex, mul_wide, neg_inverse, sbb, sqr_wide, Table};

const L: usize = 17;

/// The curve P-521 (secp521r1).
pub struct P521;

/// A P-521 public key, checked on the curve when it is built.
pub type VerifyingKey = ec_verify::VerifyingKey<P521, L>;

impl ec_verify::Curve<L> for P521 {
    const NAME: &'static str = "P521VerifyingKey";
    const BYTES: usize = 66;
    const N_BITS: usize = 521;
    const P: [u32; L] = hex("01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
    const N: [u32; L] = hex("01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409");
    const B: [u32; L] = hex("0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00");
    const GX: [u32; L] = hex("00c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd66");
    const GY: [u32; L] = hex("011839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e662c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650");
    const A_MINUS_3: bool = true;
    const N0_INV: u32 = neg_inverse(Self::N[0]);
    const W_G: u32 = 8;
    const W_Q: u32 = 6;

    #[inline(never)]
    fn mul(a: &[u32; L], b: &[u32; L]) -> [u32; L] {
        let mut t = [0u32; 2 * L];
        mul_wide(a, b, &mut t);
        reduce(&t)
    }

    #[inline(never)]
    fn sqr(a: &[u32; L]) -> [u32; L] {
        let mut t = [0u32; 2 * L];
        sqr_wide(a, &mut t);
        reduce(&t)
    }

    fn g_table() -> Option<&'static Table<L>> {
        static TABLE: OnceLock<Option<Table<L>>> = OnceLock::new();
        TABLE.get_or_init(Table::generator::<Self>).as_ref()
    }
}

/// `t mod p` for `t < 2¹⁰⁴²` (a product of two numbers below 2⁵²¹): `t = hi·2⁵²¹ + lo ≡ hi + lo`
/// with `hi, lo < 2⁵²¹`; the sum is below 2⁵²², its bit 521 folds back as 1, and what is left
/// is at most 2⁵²¹ = p + 1.
#[inline(always)]
fn reduce(t: &[u32; 2 * L]) -> [u32; L] {
    // Word i of hi is bits 521 + 32i.. of t: words 16 + i and 17 + i, shifted by 9.
    let his = t
        .iter()
        .skip(L - 1)
        .zip(t.iter().skip(L).chain(std::iter::once(&0)))
        .map(|(&a, &b)| (a >> 9) | (b << 23));
    let mut r = [0u32; L];
    let mut c = 0u64;
    for (i, ((ri, &lo), hi)) in r.iter_mut().zip(t.iter()).zip(his).enumerate() {
        let lo = if i == L - 1 { lo & 0x1ff } else { lo };
        let s = u64::from(lo) + u64::from(hi) + c;
        *ri = s as u32;
        c = s >> 32;
    }
    debug_assert_eq!(c, 0);
    let mut top = 0u32;
    if let Some(last) = r.last_mut() {
        top = *last >> 9;
        *last &= 0x1ff;
    }
    let mut carry_in = [0u32; L];
    if let Some(first) = carry_in.first_mut() {
        *first = top;
    }
    let r = adc(&r, &carry_in).0;
    let (s, borrow) = sbb(&r, &<P521 as ec_verify::Curve<L>>::P);
    if borrow {
        r
    } else {
        s
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

    use p521::ecdsa::signature::hazmat::PrehashSigner;
    use p521::elliptic_curve::ops::Reduce;
    use p521::elliptic_curve::sec1::ToSec1Point;
    use p521::{FieldBytes, ProjectivePoint, Scalar};

    use super::*;
    use crate::crypto::ec_verify::testing::*;
    use crate::crypto::ec_verify::{adc, from_be_slice, sbb, Curve};

    type C = P521;
    const BYTES: usize = 66;

    #[test]
    fn constants() {
        // p = 2⁵²¹ − 1.
        let p = sbb(&pow2(521), &small(1)).0;
        assert_eq!(p, C::P);
        let g = ProjectivePoint::GENERATOR.to_affine().to_sec1_point(false);
        assert_eq!(to_be_bytes(&C::GX, BYTES), g.as_bytes()[1..1 + BYTES]);
        assert_eq!(to_be_bytes(&C::GY, BYTES), g.as_bytes()[1 + BYTES..]);
        curve_constants::<C, L>();
    }

    #[test]
    fn field_arithmetic_matches_a_slow_reference() {
        field_arithmetic::<C, L>(7);
        // 2⁵²² mod p = 2, from 2²⁶¹ squared; 2⁵²⁰·2 = 2⁵²¹ ≡ 1.
        assert_eq!(C::mul(&pow2(261), &pow2(261)), small(2));
        assert_eq!(C::mul(&pow2(520), &small(2)), small(1));
        assert_eq!(C::sqr(&pow2(520)), pow2(519));
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
        let bytes = to_be_bytes(a, BYTES);
        <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::try_from(bytes.as_slice()).unwrap())
    }

    fn affine_bytes(p: &ProjectivePoint) -> Option<(Vec<u8>, Vec<u8>)> {
        use p521::elliptic_curve::group::Group;
        if bool::from(p.is_identity()) {
            return None;
        }
        let enc = p.to_affine().to_sec1_point(false);
        let b = enc.as_bytes();
        Some((b[1..1 + BYTES].to_vec(), b[1 + BYTES..].to_vec()))
    }

    fn key_for(d: &[u32; L]) -> (ProjectivePoint, VerifyingKey) {
        let point = ProjectivePoint::GENERATOR * scalar(d);
        let (x, y) = affine_bytes(&point).unwrap();
        (point, VerifyingKey::from_affine(&x, &y).unwrap())
    }

    #[test]
    fn scalar_multiples_match_p521() {
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
            let last = i + 1 == qs.len();
            let (q_point, key) = key_for(d);
            let mut scalars = edge_scalars::<C, L>();
            for _ in 0..(if last { 10 } else { 2 }) {
                scalars.push(rng.below(&C::N));
            }
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
        let (gx, gy) = (to_be_bytes(&C::GX, BYTES), to_be_bytes(&C::GY, BYTES));
        assert!(VerifyingKey::from_affine(&gx, &gy).is_some());
        let mut bad_y = gy.clone();
        bad_y[BYTES - 1] ^= 1;
        assert!(VerifyingKey::from_affine(&gx, &bad_y).is_none());
        assert!(VerifyingKey::from_affine(&[0; BYTES], &[0; BYTES]).is_none());
        assert!(
            VerifyingKey::from_affine(&gx[1..], &gy).is_none(),
            "short x"
        );
        // A point with a small x, given as x + p.
        let mut x = [0u32; L];
        let (xb, yb) = loop {
            let mut sec1 = vec![0x02];
            sec1.extend_from_slice(&to_be_bytes(&x, BYTES));
            if let Ok(pk) = p521::PublicKey::from_sec1_bytes(&sec1) {
                break affine_bytes(&pk.to_projective()).unwrap();
            }
            x = adc(&x, &small(1)).0;
        };
        assert!(VerifyingKey::from_affine(&xb, &yb).is_some());
        let (x_plus_p, carry) = adc(&from_be_slice(&xb).unwrap(), &C::P);
        assert_eq!(carry, 0);
        assert!(VerifyingKey::from_affine(&to_be_bytes(&x_plus_p, BYTES), &yb).is_none());
        assert!(VerifyingKey::from_affine(&to_be_bytes(&C::P, BYTES), &yb).is_none());
    }

    #[test]
    fn x_comparison_handles_x_above_n() {
        // The curve point with the smallest x at or above n (even y), by `p521`'s decoder.
        let mut x = C::N;
        let point = loop {
            let mut sec1 = vec![0x02];
            sec1.extend_from_slice(&to_be_bytes(&x, BYTES));
            if let Ok(pk) = p521::PublicKey::from_sec1_bytes(&sec1) {
                break pk.to_projective();
            }
            x = adc(&x, &small(1)).0;
        };
        let (xb, yb) = affine_bytes(&point).unwrap();
        x_above_n::<C, L>(&from_be_slice(&xb).unwrap(), &from_be_slice(&yb).unwrap());
    }

    #[test]
    fn verifies_p521_signatures_high_s_included_and_refuses_bad_scalars() {
        let mut secret = [0x42; BYTES];
        secret[0] = 0x01;
        let sk = p521::ecdsa::SigningKey::from_slice(&secret).unwrap();
        let point = sk.verifying_key().to_sec1_point(false);
        let b = point.as_bytes();
        let key = VerifyingKey::from_affine(&b[1..1 + BYTES], &b[1 + BYTES..]).unwrap();
        let n = to_be_bytes(&C::N, BYTES);
        // SHA-512 digests are 64 bytes; n's 66 bytes are a digest too long for ECDSA's
        // no-truncation case, refused below.
        for digest in [vec![0u8; 64], vec![0xff; 64], vec![7; 64]] {
            let sig: p521::ecdsa::Signature = sk.sign_prehash(&digest).unwrap();
            let sig_bytes = sig.to_bytes();
            assert!(key.verify_prehash(&digest, &sig_bytes));
            let (r, s) = sig.split_scalars();
            let high: p521::ecdsa::Signature = p521::ecdsa::Signature::from_scalars(r, -s).unwrap();
            assert!(key.verify_prehash(&digest, &high.to_bytes()), "n − s");
            let mut other = digest.clone();
            other[63] ^= 1;
            assert!(!key.verify_prehash(&other, &sig_bytes));
            let (r, s) = sig_bytes.split_at(BYTES);
            let zero = [0u8; BYTES];
            for (r, s) in [
                (r, &zero[..]),
                (&zero[..], s),
                (&n[..], s),
                (r, &n[..]),
                (s, r),
            ] {
                assert!(!key.verify_prehash(&digest, &[r, s].concat()));
            }
            assert!(!key.verify_prehash(&digest, &sig_bytes[..2 * BYTES - 1]));
            assert!(!key.verify_prehash(&digest, &[&sig_bytes[..], &[0]].concat()));
            assert!(!key.verify_prehash(&[&[0u8; 2][..], &digest].concat(), &sig_bytes));
        }
    }
}
