//! secp256k1 for JWS ES256K (RFC 8812) on the generic engine of [`crate::crypto::ec_verify`]: the
//! curve's constants and its field multiplication. Field elements are 8 × 32-bit limbs;
//! products are reduced by folding with `2²⁵⁶ ≡ 2³² + 977 (mod p)` (`p = 2²⁵⁶ − 2³² − 977`,
//! SEC 2 §2.4.1) in one pass of unsigned carries, cheaper here than the engine's generic signed
//! fold ([`crate::crypto::ec_verify::reduce_sparse`]). The curve has `a = 0`, so doublings use the
//! a = 0 formula.
//!
//! High-S signatures verify: JWS has no low-S rule (that is Bitcoin's), and Wycheproof's
//! standard secp256k1 vectors expect both `s` and `n − s` to be accepted.

use std::sync::OnceLock;

use crate::crypto::ec_verify::{self, adc, hex, mul_wide, neg_inverse, sbb, sqr_wide, Table};

const L: usize = 8;

/// The curve secp256k1.
pub struct K256;

/// A secp256k1 public key, checked on the curve when it is built.
pub type VerifyingKey = ec_verify::VerifyingKey<K256, L>;

impl ec_verify::Curve<L> for K256 {
    const NAME: &'static str = "K256VerifyingKey";
    const BYTES: usize = 32;
    const N_BITS: usize = 256;
    const P: [u32; L] = hex("fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f");
    const N: [u32; L] = hex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
    const B: [u32; L] = hex("07");
    const GX: [u32; L] = hex("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
    const GY: [u32; L] = hex("483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8");
    const A_MINUS_3: bool = false;
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

/// `t mod p` for a 512-bit `t = hi·2²⁵⁶ + lo`: `t ≡ lo + 977·hi + 2³²·hi`, summed word by word
/// into 8 words and a top below 2³³, which folds the same way once more (a sum below
/// `2²⁵⁶ + 2⁶⁶`: a carry out leaves a value below 2⁶⁶, whose fold cannot carry), then at most
/// one subtraction of p.
#[inline(always)]
fn reduce(t: &[u32; 2 * L]) -> [u32; L] {
    let mut r = [0u32; L];
    let mut c = 0u64;
    let mut prev_hi = 0u64;
    for ((ri, &lo), &hi) in r.iter_mut().zip(t.iter()).zip(t.iter().skip(L)) {
        let hi = u64::from(hi);
        // Below 2³² + 977·2³² + 2³² + 2¹¹: no overflow.
        let s = u64::from(lo) + hi * 977 + prev_hi + c;
        *ri = s as u32;
        c = s >> 32;
        prev_hi = hi;
    }
    let top = c + prev_hi;
    // top·2²⁵⁶ ≡ top·977 + top·2³², as three words.
    let low = top * 977;
    let rest = (low >> 32) + top;
    let mut fold = [0u32; L];
    let [f0, f1, f2, ..] = &mut fold;
    (*f0, *f1, *f2) = (low as u32, rest as u32, (rest >> 32) as u32);
    let (mut r, carry) = adc(&r, &fold);
    if carry != 0 {
        // r + 2²⁵⁶ with r below 2⁶⁶ now: 2²⁵⁶ ≡ 2³² + 977 adds without a carry.
        let mut again = [0u32; L];
        let [a0, a1, ..] = &mut again;
        (*a0, *a1) = (977, 1);
        r = adc(&r, &again).0;
    }
    let (s, borrow) = sbb(&r, &<K256 as ec_verify::Curve<L>>::P);
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

    use k256::ecdsa::signature::hazmat::PrehashSigner;
    use k256::elliptic_curve::ops::Reduce;
    use k256::elliptic_curve::sec1::ToSec1Point;
    use k256::{FieldBytes, ProjectivePoint, Scalar};

    use super::*;
    use crate::crypto::ec_verify::testing::*;
    use crate::crypto::ec_verify::{adc, from_be_slice, sbb, Curve};

    type C = K256;
    const BYTES: usize = 32;

    #[test]
    fn constants() {
        // p = 2²⁵⁶ − 2³² − 977.
        let p = sbb(&sbb(&[0; L], &pow2(32)).0, &small(977)).0;
        assert_eq!(p, C::P);
        let g = ProjectivePoint::GENERATOR.to_affine().to_sec1_point(false);
        assert_eq!(to_be_bytes(&C::GX, BYTES), g.as_bytes()[1..1 + BYTES]);
        assert_eq!(to_be_bytes(&C::GY, BYTES), g.as_bytes()[1 + BYTES..]);
        curve_constants::<C, L>();
    }

    #[test]
    fn field_arithmetic_matches_a_slow_reference() {
        field_arithmetic::<C, L>(7);
        // 2²⁵⁶ mod p = 2³² + 977, from 2¹²⁸ squared.
        assert_eq!(
            C::mul(&pow2(128), &pow2(128)),
            adc(&pow2(32), &small(977)).0
        );
    }

    #[test]
    fn reduction_of_any_512_bit_value() {
        // t = hi·2²⁵⁶ + lo ≡ (hi mod p)·(2²⁵⁶ mod p) + lo mod p, by the slow reference; all-ones
        // words drive every carry of both folds.
        let two_256 = adc(&pow2(32), &small(977)).0;
        let mut rng = Rng(23);
        let mut halves = vec![[0; L], [u32::MAX; L], C::P, minus(&C::P, 1)];
        for _ in 0..200 {
            halves.push(rng.limbs());
        }
        for hi in &halves {
            for lo in halves.iter().step_by(3) {
                let mut t = [0u32; 2 * L];
                t[..L].copy_from_slice(lo);
                t[L..].copy_from_slice(hi);
                let hi_part = mul_mod_slow(&reduce_slow(hi, &C::P), &two_256, &C::P);
                let expected = ec_verify::add_mod(&hi_part, &reduce_slow(lo, &C::P), &C::P);
                assert_eq!(reduce(&t), expected, "{t:x?}");
            }
        }
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
        use k256::elliptic_curve::group::Group;
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
    fn scalar_multiples_match_k256() {
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
            if let Ok(pk) = k256::PublicKey::from_sec1_bytes(&sec1) {
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
        // The curve point with the smallest x at or above n (even y), by `k256`'s decoder.
        let mut x = C::N;
        let point = loop {
            let mut sec1 = vec![0x02];
            sec1.extend_from_slice(&to_be_bytes(&x, BYTES));
            if let Ok(pk) = k256::PublicKey::from_sec1_bytes(&sec1) {
                break pk.to_projective();
            }
            x = adc(&x, &small(1)).0;
        };
        let (xb, yb) = affine_bytes(&point).unwrap();
        x_above_n::<C, L>(&from_be_slice(&xb).unwrap(), &from_be_slice(&yb).unwrap());
    }

    #[test]
    fn verifies_k256_signatures_high_s_included_and_refuses_bad_scalars() {
        let sk = k256::ecdsa::SigningKey::from_slice(&[0x42; BYTES]).unwrap();
        let point = sk.verifying_key().to_sec1_point(false);
        let b = point.as_bytes();
        let key = VerifyingKey::from_affine(&b[1..1 + BYTES], &b[1 + BYTES..]).unwrap();
        let n = to_be_bytes(&C::N, BYTES);
        for digest in [
            vec![0u8; BYTES],
            vec![0xff; BYTES],
            n.clone(),
            vec![7; BYTES],
        ] {
            let sig: k256::ecdsa::Signature = sk.sign_prehash(&digest).unwrap();
            let sig_bytes = sig.to_bytes();
            assert!(key.verify_prehash(&digest, &sig_bytes));
            let (r, s) = sig.split_scalars();
            let high: k256::ecdsa::Signature = k256::ecdsa::Signature::from_scalars(r, -s).unwrap();
            assert!(key.verify_prehash(&digest, &high.to_bytes()), "n − s");
            let mut other = digest.clone();
            other[BYTES - 1] ^= 1;
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
        }
    }
}
