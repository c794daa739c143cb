//! The field against a plain 256-bit reference (`u64` words, `u128` products, reduced mod p by
//! folding 2²⁵⁶ ≡ 38), on random limbs up to the bounds `mul` accepts and on values next to p.

use super::*;

const P: [u64; 4] = [
    0xffff_ffff_ffff_ffed,
    0xffff_ffff_ffff_ffff,
    0xffff_ffff_ffff_ffff,
    0x7fff_ffff_ffff_ffff,
];

/// The project's one seeded test generator (splitmix64): the tests are reproducible.
use jwt_mint::Rng;

fn ge(a: &[u64; 4], b: &[u64; 4]) -> bool {
    for i in (0..4).rev() {
        if a[i] != b[i] {
            return a[i] > b[i];
        }
    }
    true
}

fn sub_p(a: &mut [u64; 4]) {
    let mut borrow = 0u128;
    for i in 0..4 {
        let d = (a[i] as u128)
            .wrapping_sub(P[i] as u128)
            .wrapping_sub(borrow);
        a[i] = d as u64;
        borrow = (d >> 127) & 1;
    }
}

fn canon(mut a: [u64; 4]) -> [u64; 4] {
    while ge(&a, &P) {
        sub_p(&mut a);
    }
    a
}

/// `a·b mod p`, canonical, for any `a, b < 2²⁵⁶`.
fn ref_mul(a: &[u64; 4], b: &[u64; 4]) -> [u64; 4] {
    let mut t = [0u128; 8];
    for i in 0..4 {
        let mut c = 0u128;
        for j in 0..4 {
            let v = t[i + j] + (a[i] as u128) * (b[j] as u128) + c;
            t[i + j] = v & u64::MAX as u128;
            c = v >> 64;
        }
        t[i + 4] = c;
    }
    // Fold the high half: 2²⁵⁶ ≡ 38, twice (the second carry is tiny).
    let mut r = [0u64; 4];
    let mut c = 0u128;
    for i in 0..4 {
        let v = t[i] + 38 * t[i + 4] + c;
        r[i] = v as u64;
        c = v >> 64;
    }
    let mut c = c * 38;
    for l in r.iter_mut() {
        let v = *l as u128 + c;
        *l = v as u64;
        c = v >> 64;
    }
    assert_eq!(c, 0);
    canon(r)
}

fn ref_add(a: &[u64; 4], b: &[u64; 4]) -> [u64; 4] {
    let mut r = [0u64; 4];
    let mut c = 0u128;
    for i in 0..4 {
        let v = a[i] as u128 + b[i] as u128 + c;
        r[i] = v as u64;
        c = v >> 64;
    }
    // a, b < p < 2²⁵⁵: no carry out.
    canon(r)
}

fn ref_neg(a: &[u64; 4]) -> [u64; 4] {
    let a = canon(*a);
    if a == [0; 4] {
        return a;
    }
    let mut r = P;
    let mut borrow = 0u128;
    for i in 0..4 {
        let d = (r[i] as u128)
            .wrapping_sub(a[i] as u128)
            .wrapping_sub(borrow);
        r[i] = d as u64;
        borrow = (d >> 127) & 1;
    }
    r
}

/// The value of an element's limbs, whatever their signs, mod p.
fn value(f: &Fe) -> [u64; 4] {
    let mut acc = [0u64; 4];
    let mut pos = 0u32;
    for (i, &l) in f.0.iter().enumerate() {
        let mut weight = [0u64; 4];
        weight[(pos / 64) as usize] = 1 << (pos % 64);
        let mag = [u64::from(l.unsigned_abs()), 0, 0, 0];
        let term = ref_mul(&mag, &weight);
        let term = if l < 0 { ref_neg(&term) } else { term };
        acc = ref_add(&acc, &term);
        pos += width(i);
    }
    acc
}

fn bytes(a: &[u64; 4]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for i in 0..4 {
        out[8 * i..8 * i + 8].copy_from_slice(&a[i].to_le_bytes());
    }
    out
}

fn random_fe(rng: &mut Rng, bound: i64) -> Fe {
    let mut l = [0i32; 10];
    for x in l.iter_mut() {
        *x = ((rng.next_u64() % (2 * bound as u64 + 1)) as i64 - bound) as i32;
    }
    Fe(l)
}

#[test]
fn mul_and_sq_match_the_reference_up_to_the_input_bounds() {
    let mut rng = Rng(1);
    for round in 0..2000 {
        let bound = [1 << 25, 1 << 26, 1 << 27][round % 3];
        let (a, b) = (random_fe(&mut rng, bound), random_fe(&mut rng, bound));
        let (va, vb) = (value(&a), value(&b));
        assert_eq!(a.to_bytes(), bytes(&va));
        assert_eq!(a.mul(&b).to_bytes(), bytes(&ref_mul(&va, &vb)));
        assert_eq!(a.sq().to_bytes(), bytes(&ref_mul(&va, &va)));
    }
    // The extremes: every limb at ±2²⁷.
    for (x, y) in [
        (1 << 27, 1 << 27),
        (-(1 << 27), 1 << 27),
        (-(1 << 27), -(1 << 27)),
    ] {
        let (a, b) = (Fe([x; 10]), Fe([y; 10]));
        let want = ref_mul(&value(&a), &value(&b));
        assert_eq!(a.mul(&b).to_bytes(), bytes(&want));
        assert_eq!(a.sq().to_bytes(), bytes(&ref_mul(&value(&a), &value(&a))));
    }
}

#[test]
fn products_come_back_within_the_bounds() {
    let mut rng = Rng(2);
    for _ in 0..1000 {
        let (a, b) = (random_fe(&mut rng, 1 << 27), random_fe(&mut rng, 1 << 27));
        for h in [a.mul(&b), a.sq(), a.carried()] {
            for (i, &l) in h.0.iter().enumerate() {
                let bound = (1i32 << (width(i) - 1)) + (1 << 20);
                assert!(l.abs() <= bound, "limb {i} = {l}");
            }
        }
    }
}

#[test]
fn encodings_next_to_p_reduce() {
    let le = |v: [u64; 4]| bytes(&v);
    let p = le(P);
    // p reads as 0, p + k as k, 2²⁵⁵ − 1 as 18, p − 1 stays.
    assert_eq!(Fe::from_bytes(&p).to_bytes(), [0; 32]);
    assert!(Fe::from_bytes(&p).is_zero());
    for k in 0..19u64 {
        let mut v = P;
        v[0] += k;
        assert_eq!(Fe::from_bytes(&le(v)).to_bytes(), le([k, 0, 0, 0]));
    }
    let mut pm1 = P;
    pm1[0] -= 1;
    assert_eq!(Fe::from_bytes(&le(pm1)).to_bytes(), le(pm1));
    // Bit 255 is ignored.
    let mut one_high = [0u8; 32];
    one_high[0] = 1;
    one_high[31] = 0x80;
    assert_eq!(Fe::from_bytes(&one_high).to_bytes(), ONE.to_bytes());
    // Negative representations: −1 is p − 1, and 0 − 0 is 0.
    assert_eq!(ZERO.sub(&ONE).to_bytes(), le(pm1));
    assert!(ONE.sub(&ONE).is_zero());
    assert!(ONE.neg().add(&ONE).is_zero());
    // Random canonical values round-trip.
    let mut rng = Rng(3);
    for _ in 0..1000 {
        let v = canon([rng.next_u64(), rng.next_u64(), rng.next_u64(), rng.next_u64() >> 1]);
        assert_eq!(Fe::from_bytes(&le(v)).to_bytes(), le(v));
    }
}

#[test]
fn inversion_and_square_roots() {
    assert!(ZERO.invert().is_zero());
    assert_eq!(ONE.invert().to_bytes(), ONE.to_bytes());
    let mut rng = Rng(4);
    for _ in 0..200 {
        let a = random_fe(&mut rng, 1 << 25);
        if a.is_zero() {
            continue;
        }
        assert_eq!(a.mul(&a.invert()).to_bytes(), ONE.to_bytes());
        // For a square s = a², x = s^((p+3)/8) = s·s^((p−5)/8) is a root, up to √−1.
        let s = a.sq();
        let x = s.mul(&s.pow_p58());
        let xx = x.sq();
        let sqrt_m1 = Fe::from_bytes(&super::super::SQRT_M1);
        assert!(xx.sub(&s).is_zero() || xx.mul(&sqrt_m1.sq()).sub(&s).is_zero());
        // p − 1 is even: −a·a⁻¹ = −1.
        assert!(a.neg().mul(&a.invert()).add(&ONE).is_zero());
    }
}

#[test]
fn constants() {
    let d = Fe::from_bytes(&super::super::D);
    let small = |n: i32| Fe([n, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    // d = −121665/121666
    assert!(d.mul(&small(121666)).add(&small(121665)).is_zero());
    assert_eq!(d.add(&d).to_bytes(), super::super::D2);
    let i = Fe::from_bytes(&super::super::SQRT_M1);
    assert!(i.sq().add(&ONE).is_zero());
}
