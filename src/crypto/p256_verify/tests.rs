#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use p256::elliptic_curve::group::Group;
use p256::elliptic_curve::ops::Reduce;
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::{FieldBytes, ProjectivePoint, Scalar};

use super::*;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64, the project's one test RNG (`jwt_mint::Rng`)
        let mut inner = jwt_mint::Rng(self.0);
        let value = inner.next_u64();
        self.0 = inner.0;
        value
    }

    /// Random limbs, often with runs of all-zero or all-one words (carry paths).
    fn limbs(&mut self) -> Limbs {
        let mut out = ZERO;
        let style = self.next() % 4;
        for l in out.iter_mut() {
            let r = self.next();
            *l = match (style, r % 3) {
                (0, 0) => 0,
                (0, 1) => u32::MAX,
                _ => (r >> 32) as u32,
            };
        }
        out
    }

    /// Below m (rejection sampling).
    fn below(&mut self, m: &Limbs) -> Limbs {
        loop {
            let x = self.limbs();
            if lt(&x, m) {
                return x;
            }
        }
    }
}

fn to_be_bytes(a: &Limbs) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (chunk, l) in out.chunks_mut(4).zip(a.iter().rev()) {
        chunk.copy_from_slice(&l.to_be_bytes());
    }
    out
}

fn hex_limbs(s: &str) -> Limbs {
    from_be_bytes(&hex::decode(s).unwrap().try_into().unwrap())
}

fn add_mod(a: &Limbs, b: &Limbs, m: &Limbs) -> Limbs {
    let (s, carry) = adc(a, b);
    let (t, borrow) = sbb(&s, m);
    if carry != 0 || !borrow {
        t
    } else {
        s
    }
}

/// `a·b mod m` by double-and-add: slow, and independent of the multipliers under test.
fn mul_mod_slow(a: &Limbs, b: &Limbs, m: &Limbs) -> Limbs {
    let mut acc = ZERO;
    for bit in (0..256).rev() {
        acc = add_mod(&acc, &acc, m);
        if b[bit / 32] >> (bit % 32) & 1 == 1 {
            acc = add_mod(&acc, a, m);
        }
    }
    acc
}

/// `a mod m` for `a < 2m`.
fn reduce_once(a: &Limbs, m: &Limbs) -> Limbs {
    if lt(a, m) {
        *a
    } else {
        sbb(a, m).0
    }
}

fn minus(m: &Limbs, k: u32) -> Limbs {
    sbb(m, &[k, 0, 0, 0, 0, 0, 0, 0]).0
}

fn small(k: u32) -> Limbs {
    [k, 0, 0, 0, 0, 0, 0, 0]
}

fn pow2(bit: usize) -> Limbs {
    let mut out = ZERO;
    out[bit / 32] = 1 << (bit % 32);
    out
}

/// Values around every carry boundary of p and of the limbs.
fn edge_values() -> Vec<Limbs> {
    let mut v = vec![
        ZERO,
        ONE,
        small(2),
        minus(&P, 1),
        minus(&P, 2),
        P,
        minus(&N, 1),
        N,
        [u32::MAX; 8],
        [0, 0, 0, u32::MAX, u32::MAX, u32::MAX, 0, 0],
        [u32::MAX, u32::MAX, u32::MAX, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 1, 0],
        [0, 0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 0, u32::MAX],
    ];
    for bit in [31, 32, 63, 64, 95, 96, 127, 128, 191, 192, 223, 224, 255] {
        v.push(pow2(bit));
        v.push(minus(&pow2(bit), 1));
    }
    v
}

#[test]
fn constants() {
    assert_eq!(N[0].wrapping_mul(N0_INV), u32::MAX, "n·(−n⁻¹) ≡ −1");
    assert_eq!(
        P,
        hex_limbs("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff")
    );
    assert_eq!(
        N,
        hex_limbs("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551")
    );
    let g = ProjectivePoint::GENERATOR.to_affine().to_sec1_point(false);
    assert_eq!(to_be_bytes(&GX), g.as_bytes()[1..33]);
    assert_eq!(to_be_bytes(&GY), g.as_bytes()[33..]);
    assert!(Affine { x: GX, y: GY }.is_on_curve(), "checks B too");
    // (n − 1)·G + G = O: checks N against the curve.
    let g_table = g_table().unwrap();
    let q_table = Table::new(&Affine { x: GX, y: GY }, W_Q).unwrap();
    assert!(lincomb(&minus(&N, 1), g_table, W_G, &ONE, &q_table, W_Q)
        .unwrap()
        .is_infinity());
}

#[test]
fn field_arithmetic_matches_a_slow_reference() {
    let mut rng = Rng(7);
    let mut values = edge_values();
    for _ in 0..300 {
        values.push(rng.limbs());
    }
    for a in &values {
        let ar = reduce_once(a, &P);
        assert_eq!(fsqr(a), mul_mod_slow(&ar, &ar, &P), "{a:x?}²");
        for b in values.iter().step_by(7) {
            let br = reduce_once(b, &P);
            let expected = mul_mod_slow(&ar, &br, &P);
            assert_eq!(fmul(a, b), expected, "{a:x?}·{b:x?}");
            assert_eq!(fmul(b, a), expected);
            if lt(a, &P) && lt(b, &P) {
                assert_eq!(fadd(a, b), add_mod(a, b, &P));
                assert_eq!(fadd(&fsub(a, b), b), *a);
                assert_eq!(fsub(&fadd(a, b), b), *a);
            }
        }
    }
    // Known value: 2²⁵⁶ mod p = 2²²⁴ − 2¹⁹² − 2⁹⁶ + 1.
    assert_eq!(
        fmul(&pow2(128), &pow2(128)),
        hex_limbs("00000000fffffffeffffffffffffffffffffffff000000000000000000000001")
    );
    assert_eq!(fmul(&minus(&P, 1), &minus(&P, 1)), ONE, "(−1)² = 1");
    assert_eq!(fsub(&ZERO, &ONE), minus(&P, 1));
    assert_eq!(fadd(&minus(&P, 1), &ONE), ZERO);
}

#[test]
fn inversion_mod_p_and_n() {
    let mut rng = Rng(11);
    for m in [P, N] {
        let mut values = vec![ONE, small(2), minus(&m, 1), minus(&m, 2)];
        for _ in 0..200 {
            values.push(rng.below(&m));
        }
        for a in values.iter().filter(|a| !is_zero(a)) {
            let inv = inv_mod(a, &m).unwrap();
            assert!(lt(&inv, &m));
            assert_eq!(mul_mod_slow(a, &inv, &m), ONE, "{a:x?}");
        }
        assert_eq!(inv_mod(&ZERO, &m), None);
        assert_eq!(inv_mod(&m, &m), None);
        assert_eq!(inv_mod(&[u32::MAX; 8], &m), None);
    }
}

#[test]
fn montgomery_multiplication_mod_n() {
    // R = 2²⁵⁶ mod n = 2²⁵⁶ − n; R⁻¹ by the (tested) inversion.
    let r_inv = inv_mod(&sbb(&ZERO, &N).0, &N).unwrap();
    let mut rng = Rng(13);
    let mut values = vec![ZERO, ONE, minus(&N, 1), minus(&N, 2)];
    for _ in 0..100 {
        values.push(rng.below(&N));
    }
    for a in &values {
        for b in values.iter().step_by(5) {
            let expected = mul_mod_slow(&mul_mod_slow(a, b, &N), &r_inv, &N);
            assert_eq!(mont_mul_n(a, b), expected, "{a:x?}·{b:x?}");
        }
    }
}

fn scalar(a: &Limbs) -> Scalar {
    <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(to_be_bytes(a)))
}

fn affine_bytes(p: &ProjectivePoint) -> Option<([u8; 32], [u8; 32])> {
    if bool::from(p.is_identity()) {
        return None;
    }
    let enc = p.to_affine().to_sec1_point(false);
    let b = enc.as_bytes();
    Some((b[1..33].try_into().unwrap(), b[33..].try_into().unwrap()))
}

fn ours_bytes(p: &Jacobian) -> Option<([u8; 32], [u8; 32])> {
    if p.is_infinity() {
        return None;
    }
    let a = normalize(&[*p]).unwrap()[0];
    Some((to_be_bytes(&a.x), to_be_bytes(&a.y)))
}

/// Scalars at the edges of the 64-bit pieces and of n.
fn edge_scalars() -> Vec<Limbs> {
    let mut v = vec![ZERO, ONE, small(2), minus(&N, 1), minus(&N, 2)];
    for bit in [32, 63, 64, 65, 127, 128, 129, 191, 192, 193, 255] {
        v.push(pow2(bit));
        v.push(minus(&pow2(bit), 1));
    }
    // One piece only, or one piece zero; pieces of all ones (their NAF carries out).
    for k in 0..4 {
        let mut only = ZERO;
        only[2 * k] = 0x1234_5678;
        only[2 * k + 1] = 0x9abc_def1;
        v.push(only);
        let mut all_but = [0x5555_5555; 8];
        all_but[2 * k] = 0;
        all_but[2 * k + 1] = 0;
        v.push(all_but);
    }
    v.push([
        u32::MAX,
        u32::MAX,
        u32::MAX,
        u32::MAX,
        u32::MAX,
        u32::MAX,
        0,
        0,
    ]);
    v.push([u32::MAX, u32::MAX, 0, 0, u32::MAX, u32::MAX, 0, 0]);
    v.retain(|s| lt(s, &N));
    v
}

fn key_for(d: &Limbs) -> (ProjectivePoint, VerifyingKey) {
    let point = ProjectivePoint::GENERATOR * scalar(d);
    let (x, y) = affine_bytes(&point).unwrap();
    (point, VerifyingKey::from_affine(&x, &y).unwrap())
}

#[test]
fn scalar_multiples_match_p256() {
    let g = g_table().unwrap();
    let d = hex_limbs("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721");
    let (q_point, key) = key_for(&d);
    let q = key.table().unwrap();
    let mut rng = Rng(19);
    let mut scalars = edge_scalars();
    for _ in 0..40 {
        scalars.push(rng.below(&N));
    }
    for u1 in &scalars {
        for u2 in scalars.iter().step_by(3) {
            let ours = lincomb(u1, g, W_G, u2, q, W_Q).unwrap();
            let expected = ProjectivePoint::GENERATOR * scalar(u1) + q_point * scalar(u2);
            assert_eq!(
                ours_bytes(&ours),
                affine_bytes(&expected),
                "u1 = {u1:x?}, u2 = {u2:x?}"
            );
        }
    }
}

#[test]
fn special_cases_of_addition_in_the_ladder() {
    // Q = G, −G, 2G, 2⁶⁴·G: the accumulator meets equal and opposite table points.
    let g = g_table().unwrap();
    for q_scalar in [ONE, minus(&N, 1), small(2), pow2(64), minus(&N, 3)] {
        let (q_point, key) = key_for(&q_scalar);
        let q = key.table().unwrap();
        let mut scalars = edge_scalars();
        scalars.extend([small(3), minus(&N, 3), pow2(64)]);
        for u1 in &scalars {
            for u2 in &scalars {
                let ours = lincomb(u1, g, W_G, u2, q, W_Q).unwrap();
                let expected = ProjectivePoint::GENERATOR * scalar(u1) + q_point * scalar(u2);
                assert_eq!(ours_bytes(&ours), affine_bytes(&expected));
            }
        }
    }
}

#[test]
fn point_formulas_special_cases() {
    let g = Affine { x: GX, y: GY };
    let gj = Jacobian::from_affine(&g);
    let neg_g_y = fsub(&ZERO, &GY);
    let two_g = ProjectivePoint::GENERATOR.double();
    assert_eq!(ours_bytes(&gj.double()), affine_bytes(&two_g));
    assert_eq!(ours_bytes(&gj.add_affine(&GX, &GY)), affine_bytes(&two_g));
    assert_eq!(ours_bytes(&gj.add(&gj)), affine_bytes(&two_g));
    assert!(gj.add_affine(&GX, &neg_g_y).is_infinity());
    let neg = Jacobian::from_affine(&Affine { x: GX, y: neg_g_y });
    assert!(gj.add(&neg).is_infinity());
    assert!(Jacobian::INFINITY.double().is_infinity());
    assert_eq!(ours_bytes(&Jacobian::INFINITY.add(&gj)), ours_bytes(&gj));
    assert_eq!(ours_bytes(&gj.add(&Jacobian::INFINITY)), ours_bytes(&gj));
    assert_eq!(
        ours_bytes(&Jacobian::INFINITY.add_affine(&GX, &GY)),
        ours_bytes(&gj)
    );
    // Non-trivial Z on both sides, and the special cases with them.
    let g2 = gj.double();
    let g3 = g2.add_affine(&GX, &GY);
    let three_g = ProjectivePoint::GENERATOR * Scalar::from(3u32);
    assert_eq!(ours_bytes(&g3), affine_bytes(&three_g));
    assert_eq!(ours_bytes(&g2.add(&gj)), affine_bytes(&three_g));
    assert_eq!(
        ours_bytes(&g3.add(&g2)),
        affine_bytes(&(ProjectivePoint::GENERATOR * Scalar::from(5u32)))
    );
    let six_g = ProjectivePoint::GENERATOR * Scalar::from(6u32);
    assert_eq!(ours_bytes(&g3.add(&g3)), affine_bytes(&six_g));
    let g3_neg = Jacobian {
        y: fsub(&ZERO, &g3.y),
        ..g3
    };
    assert!(g3.add(&g3_neg).is_infinity());
    let g3_affine = normalize(&[g3]).unwrap()[0];
    assert_eq!(
        ours_bytes(&g3.add_affine(&g3_affine.x, &g3_affine.y)),
        affine_bytes(&six_g)
    );
    assert!(g3
        .add_affine(&g3_affine.x, &fsub(&ZERO, &g3_affine.y))
        .is_infinity());
}

#[test]
fn keys_must_be_on_the_curve() {
    let (gx, gy) = (to_be_bytes(&GX), to_be_bytes(&GY));
    assert!(VerifyingKey::from_affine(&gx, &gy).is_some());
    assert!(VerifyingKey::from_affine(&gx, &to_be_bytes(&fsub(&ZERO, &GY))).is_some());
    let mut bad_y = gy;
    bad_y[31] ^= 1;
    assert!(VerifyingKey::from_affine(&gx, &bad_y).is_none());
    assert!(VerifyingKey::from_affine(&[0; 32], &[0; 32]).is_none());
    // Coordinates of p or more are refused even where they name a curve point mod p: a
    // point with a small x, given as x + p.
    let point = first_point_from(ZERO);
    let (xb, yb) = affine_bytes(&point).unwrap();
    assert!(VerifyingKey::from_affine(&xb, &yb).is_some());
    let (x_plus_p, carry) = adc(&from_be_bytes(&xb), &P);
    assert_eq!(carry, 0);
    assert!(VerifyingKey::from_affine(&to_be_bytes(&x_plus_p), &yb).is_none());
    assert!(VerifyingKey::from_affine(&to_be_bytes(&P), &yb).is_none());
}

/// The curve point with the smallest x at or above `x` (and even y), by `p256`'s decoder.
fn first_point_from(mut x: Limbs) -> p256::ProjectivePoint {
    loop {
        let mut sec1 = vec![0x02];
        sec1.extend_from_slice(&to_be_bytes(&x));
        if let Ok(pk) = p256::PublicKey::from_sec1_bytes(&sec1) {
            return pk.to_projective();
        }
        x = adc(&x, &ONE).0;
    }
}

#[test]
fn x_comparison_handles_x_above_n() {
    // A point whose x is in [n, p): x mod n = x − n.
    let point = first_point_from(N);
    let (xb, yb) = affine_bytes(&point).unwrap();
    let (x, y) = (from_be_bytes(&xb), from_be_bytes(&yb));
    assert!(!lt(&x, &N) && lt(&x, &P));
    let z = hex_limbs("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    let z2 = fsqr(&z);
    let jac = Jacobian {
        x: fmul(&x, &z2),
        y: fmul(&y, &fmul(&z2, &z)),
        z,
    };
    let r = sbb(&x, &N).0;
    assert!(x_matches(&jac, &r));
    assert!(!x_matches(&jac, &adc(&r, &ONE).0));
    assert!(!x_matches(&Jacobian::INFINITY, &r));
    let g = Jacobian::from_affine(&Affine { x: GX, y: GY });
    assert!(x_matches(&g, &GX));
    assert!(!x_matches(&g, &adc(&GX, &ONE).0));
}

#[test]
fn verifies_p256_signatures_and_refuses_bad_scalars() {
    use p256::ecdsa::signature::hazmat::PrehashSigner;
    let sk = p256::ecdsa::SigningKey::from_slice(&[0x42; 32]).unwrap();
    let point = sk.verifying_key().to_sec1_point(false);
    let b = point.as_bytes();
    let key =
        VerifyingKey::from_affine(b[1..33].try_into().unwrap(), b[33..].try_into().unwrap())
            .unwrap();
    let digests = [
        [0u8; 32],
        [0xff; 32],
        to_be_bytes(&N),
        to_be_bytes(&minus(&N, 1)),
        [7; 32],
    ];
    for digest in digests {
        let sig: p256::ecdsa::Signature = sk.sign_prehash(&digest).unwrap();
        let sig = sig.to_bytes();
        assert!(key.verify_prehash(&digest, &sig));
        let mut other = digest;
        other[31] ^= 1;
        assert!(!key.verify_prehash(&other, &sig));
        let (r, s) = sig.split_at(32);
        let n = to_be_bytes(&N);
        for (r, s) in [
            (r, &[0u8; 32][..]),
            (&[0u8; 32][..], s),
            (&n[..], s),
            (r, &n[..]),
            (s, r),
        ] {
            assert!(!key.verify_prehash(&digest, &[r, s].concat()));
        }
        assert!(!key.verify_prehash(&digest, &sig[..63]));
        assert!(!key.verify_prehash(&digest, &[&sig[..], &[0]].concat()));
    }
    // A digest of n and one of 0 are the same e.
    let sig: p256::ecdsa::Signature = sk.sign_prehash(&[0u8; 32]).unwrap();
    assert!(key.verify_prehash(&to_be_bytes(&N), &sig.to_bytes()));
}
