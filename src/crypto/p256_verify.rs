//! P-256 ECDSA verification (FIPS 186-5 §6.4.2, SEC 1 §4.1.4) for JWS ES256, on arithmetic of
//! its own tuned for wasm32 under V8: `p256`'s generic, constant-time code costs several times
//! more there than a verifier needs to.
//!
//! Every input of a verification is public (key, message, signature), so the code is
//! variable-time by design and branches freely; it never sees a secret.
//!
//! - Field elements mod `p = 2²⁵⁶ − 2²²⁴ + 2¹⁹² + 2⁹⁶ − 1` are 8 × 32-bit limbs, always fully
//!   reduced, multiplied with 64-bit products (wasm32's widest native multiply) and reduced by
//!   Solinas' fast reduction (FIPS 186-5 / SP 800-186 §G.1.2: p's words are 0 and ±1).
//! - Points are Jacobian `(X, Y, Z)` (`x = X/Z²`, `y = Y/Z³`, infinity `Z = 0`); doubling uses
//!   the a = −3 formula (3M + 5S), additions add an affine table point (8M + 3S) and branch on
//!   the special cases (infinity, equal points, opposite points).
//! - `R = u1·G + u2·Q` by interleaved width-w NAF: each scalar is cut in four 64-bit pieces,
//!   piece k multiplying `2^(64k)·P`, so the eight pieces share 64 doublings. The affine odd
//!   multiples of `2^(64k)·Q` are computed once per key (on its first verification, then kept
//!   with the key); those of `2^(64k)·G` once per VM. Each table is brought to affine form with
//!   one inversion (Montgomery's trick).
//! - Scalars mod `n`: `s⁻¹` by the binary extended Euclidean algorithm, products by Montgomery
//!   multiplication. `x(R) mod n = r` is checked without inverting `Z`: `X = r·Z²`, or
//!   `X = (r + n)·Z²` when `r + n < p`.

use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::crypto::wnaf::{wnaf, DIGITS};

/// A 256-bit number, least significant limb first.
type Limbs = [u32; 8];

/// Big-endian 32-bit words (as the constants are written in the standards) to [`Limbs`].
const fn from_be_words(w: [u32; 8]) -> Limbs {
    [w[7], w[6], w[5], w[4], w[3], w[2], w[1], w[0]]
}

/// The field prime.
const P: Limbs = from_be_words([
    0xffff_ffff,
    0x0000_0001,
    0x0000_0000,
    0x0000_0000,
    0x0000_0000,
    0xffff_ffff,
    0xffff_ffff,
    0xffff_ffff,
]);
/// The group order.
const N: Limbs = from_be_words([
    0xffff_ffff,
    0x0000_0000,
    0xffff_ffff,
    0xffff_ffff,
    0xbce6_faad,
    0xa717_9e84,
    0xf3b9_cac2,
    0xfc63_2551,
]);
/// The curve's `b` (`y² = x³ − 3x + b`).
const B: Limbs = from_be_words([
    0x5ac6_35d8,
    0xaa3a_93e7,
    0xb3eb_bd55,
    0x7698_86bc,
    0x651d_06b0,
    0xcc53_b0f6,
    0x3bce_3c3e,
    0x27d2_604b,
]);
const GX: Limbs = from_be_words([
    0x6b17_d1f2,
    0xe12c_4247,
    0xf8bc_e6e5,
    0x63a4_40f2,
    0x7703_7d81,
    0x2deb_33a0,
    0xf4a1_3945,
    0xd898_c296,
]);
const GY: Limbs = from_be_words([
    0x4fe3_42e2,
    0xfe1a_7f9b,
    0x8ee7_eb4a,
    0x7c0f_9e16,
    0x2bce_3357,
    0x6b31_5ece,
    0xcbb6_4068,
    0x37bf_51f5,
]);
const ZERO: Limbs = [0; 8];
const ONE: Limbs = [1, 0, 0, 0, 0, 0, 0, 0];
/// `−n⁻¹ mod 2³²`, for Montgomery multiplication mod n.
const N0_INV: u32 = neg_inverse(N[0]);

/// NAF width for G's table: 2^(W−2) odd multiples for each of the 4 bases (16 KB, once per VM).
const W_G: u32 = 8;
/// NAF width for a key's table: 4 KB per key.
const W_Q: u32 = 6;

/// `−x⁻¹ mod 2³²` for odd `x`, by Newton's iteration (each step doubles the correct bits).
const fn neg_inverse(x: u32) -> u32 {
    let mut inv = 1u32;
    let mut i = 0;
    while i < 5 {
        inv = inv.wrapping_mul(2u32.wrapping_sub(x.wrapping_mul(inv)));
        i += 1;
    }
    inv.wrapping_neg()
}

// ---- 256-bit limb arithmetic -------------------------------------------------------------------

/// `a + b` and the carry out (0 or 1).
#[inline(always)]
fn adc(a: &Limbs, b: &Limbs) -> (Limbs, u32) {
    let mut r = ZERO;
    let mut c = 0u64;
    for ((ri, &ai), &bi) in r.iter_mut().zip(a).zip(b) {
        let s = u64::from(ai) + u64::from(bi) + c;
        *ri = s as u32;
        c = s >> 32;
    }
    (r, c as u32)
}

/// `a − b mod 2²⁵⁶` and whether it borrowed (`a < b`).
#[inline(always)]
fn sbb(a: &Limbs, b: &Limbs) -> (Limbs, bool) {
    let mut r = ZERO;
    let mut borrow = 0u64;
    for ((ri, &ai), &bi) in r.iter_mut().zip(a).zip(b) {
        let d = u64::from(ai)
            .wrapping_sub(u64::from(bi))
            .wrapping_sub(borrow);
        *ri = d as u32;
        borrow = d >> 63;
    }
    (r, borrow != 0)
}

fn is_zero(a: &Limbs) -> bool {
    a.iter().all(|&l| l == 0)
}

/// `a < b`.
fn lt(a: &Limbs, b: &Limbs) -> bool {
    for (&x, &y) in a.iter().zip(b).rev() {
        if x != y {
            return x < y;
        }
    }
    false
}

/// `(top·2²⁵⁶ + a) / 2`, `top` being 0 or 1.
fn shr1(a: &mut Limbs, top: u32) {
    let mut high = top;
    for l in a.iter_mut().rev() {
        let low = *l & 1;
        *l = (*l >> 1) | (high << 31);
        high = low;
    }
}

fn from_be_bytes(bytes: &[u8; 32]) -> Limbs {
    let mut r = ZERO;
    let (words, _) = bytes.as_chunks::<4>();
    for (l, w) in r.iter_mut().zip(words.iter().rev()) {
        *l = u32::from_be_bytes(*w);
    }
    r
}

// ---- The field mod p ---------------------------------------------------------------------------

/// `a + b mod p` for `a, b < p`.
#[inline(always)]
fn fadd(a: &Limbs, b: &Limbs) -> Limbs {
    let (s, carry) = adc(a, b);
    let (t, borrow) = sbb(&s, &P);
    if carry != 0 || !borrow {
        t
    } else {
        s
    }
}

/// `a − b mod p` for `a, b < p`.
#[inline(always)]
fn fsub(a: &Limbs, b: &Limbs) -> Limbs {
    let (d, borrow) = sbb(a, b);
    if borrow {
        adc(&d, &P).0
    } else {
        d
    }
}

/// `a · b mod p`, for any `a, b < 2²⁵⁶`; the result is below p.
#[inline(never)]
fn fmul(a: &Limbs, b: &Limbs) -> Limbs {
    reduce(&mul_wide(a, b))
}

/// `a² mod p`, for any `a < 2²⁵⁶`.
#[inline(never)]
fn fsqr(a: &Limbs) -> Limbs {
    reduce(&sqr_wide(a))
}

/// The 512-bit product, schoolbook by rows. Overflow: `t + a_i·b_j + c ≤ 2⁶⁴ − 1`.
#[inline(always)]
fn mul_wide(a: &Limbs, b: &Limbs) -> [u32; 16] {
    let mut t = [0u32; 16];
    for (i, &ai) in a.iter().enumerate() {
        let ai = u64::from(ai);
        let mut c = 0u64;
        for (tj, &bj) in t.iter_mut().skip(i).zip(b) {
            let p = u64::from(*tj) + ai * u64::from(bj) + c;
            *tj = p as u32;
            c = p >> 32;
        }
        if let Some(top) = t.get_mut(i + 8) {
            *top = c as u32;
        }
    }
    t
}

/// The 512-bit square: each cross product once, doubled, then the diagonal added.
#[inline(always)]
fn sqr_wide(a: &Limbs) -> [u32; 16] {
    let mut t = [0u32; 16];
    for (i, &ai) in a.iter().enumerate() {
        let ai = u64::from(ai);
        let mut c = 0u64;
        for (tj, &aj) in t.iter_mut().skip(2 * i + 1).zip(a.iter().skip(i + 1)) {
            let p = u64::from(*tj) + ai * u64::from(aj) + c;
            *tj = p as u32;
            c = p >> 32;
        }
        if let Some(top) = t.get_mut(i + 8) {
            *top = c as u32;
        }
    }
    // t = 2·t + Σ a_i²·2^(64i); the cross products are below 2⁵¹¹, so doubling cannot overflow.
    let (pairs, _) = t.as_chunks_mut::<2>();
    let mut shifted_out = 0u32;
    let mut c = 0u64;
    for ([lo, hi], &ai) in pairs.iter_mut().zip(a) {
        let square = u64::from(ai) * u64::from(ai);
        let doubled = (*lo << 1) | shifted_out;
        shifted_out = *lo >> 31;
        let s = u64::from(doubled) + (square & 0xffff_ffff) + c;
        *lo = s as u32;
        c = s >> 32;
        let doubled = (*hi << 1) | shifted_out;
        shifted_out = *hi >> 31;
        let s = u64::from(doubled) + (square >> 32) + c;
        *hi = s as u32;
        c = s >> 32;
    }
    t
}

/// `t mod p` for a 512-bit `t` (words `c0..c15`), by Solinas' reduction:
/// `t ≡ s1 + 2s2 + 2s3 + s4 + s5 − d1 − d2 − d3 − d4 (mod p)` (SP 800-186 §G.1.2), summed word
/// by word in signed 64-bit accumulators, then the carries propagated.
#[inline(always)]
fn reduce(t: &[u32; 16]) -> Limbs {
    let [c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15] = t.map(i64::from);
    let mut w: [i64; 8] = [
        c0 + c8 + c9 - c11 - c12 - c13 - c14,
        c1 + c9 + c10 - c12 - c13 - c14 - c15,
        c2 + c10 + c11 - c13 - c14 - c15,
        c3 + 2 * (c11 + c12) + c13 - c15 - c8 - c9,
        c4 + 2 * (c12 + c13) + c14 - c9 - c10,
        c5 + 2 * (c13 + c14) + c15 - c10 - c11,
        c6 + 3 * c14 + 2 * c15 + c13 - c8 - c9,
        c7 + 3 * c15 + c8 - c10 - c11 - c12 - c13,
    ];
    let mut carry = propagate(&mut w);
    // The value is now w + carry·2²⁵⁶ with |carry| ≤ 7, and 2²⁵⁶ ≡ 2²²⁴ − 2¹⁹² − 2⁹⁶ + 1.
    // Folding a carry c > 0 leaves a value below 2²⁵⁶ + 7·2²²⁴, so a second carry is at most 1
    // and its fold cannot carry again (symmetrically for c < 0): two rounds always suffice.
    for _ in 0..2 {
        if carry == 0 {
            break;
        }
        let [w0, _, _, w3, _, _, w6, w7] = &mut w;
        *w0 += carry;
        *w3 -= carry;
        *w6 -= carry;
        *w7 += carry;
        carry = propagate(&mut w);
    }
    debug_assert_eq!(carry, 0);
    let r = w.map(|x| x as u32);
    // r < 2²⁵⁶ < 2p: at most one subtraction.
    let (s, borrow) = sbb(&r, &P);
    if borrow {
        r
    } else {
        s
    }
}

/// Carries through signed 32-bit-word accumulators: afterwards every word is in `[0, 2³²)`;
/// returns the carry out of the top word.
#[inline(always)]
fn propagate(w: &mut [i64; 8]) -> i64 {
    let mut carry = 0i64;
    for x in w.iter_mut() {
        let v = *x + carry;
        *x = v & 0xffff_ffff;
        carry = v >> 32;
    }
    carry
}

/// `(x + m)/2` or `x/2` mod m, whichever is exact, for odd `m` and `x < m`.
fn halve_mod(x: &mut Limbs, m: &Limbs) {
    if x[0] & 1 == 0 {
        shr1(x, 0);
    } else {
        let (s, carry) = adc(x, m);
        *x = s;
        shr1(x, carry);
    }
}

/// `a − b mod m` for `a, b < m`.
fn sub_mod(a: &Limbs, b: &Limbs, m: &Limbs) -> Limbs {
    let (d, borrow) = sbb(a, b);
    if borrow {
        adc(&d, m).0
    } else {
        d
    }
}

/// `a⁻¹ mod m` for a prime `m` (p or n), by the binary extended Euclidean algorithm (Guide to
/// Elliptic Curve Cryptography, Alg. 2.22). `None` unless `0 < a < m`.
///
/// Invariants: `x1·a ≡ u` and `x2·a ≡ v (mod m)`, `gcd(u, v) = 1`; each round halves or
/// subtracts, so `u + v` falls until one of them is 1 (at most ~2·256 rounds; the cap is only a
/// guard).
fn inv_mod(a: &Limbs, m: &Limbs) -> Option<Limbs> {
    if is_zero(a) || !lt(a, m) {
        return None;
    }
    let (mut u, mut v) = (*a, *m);
    let (mut x1, mut x2) = (ONE, ZERO);
    for _ in 0..1024 {
        if u == ONE {
            return Some(x1);
        }
        if v == ONE {
            return Some(x2);
        }
        while u[0] & 1 == 0 {
            shr1(&mut u, 0);
            halve_mod(&mut x1, m);
        }
        while v[0] & 1 == 0 {
            shr1(&mut v, 0);
            halve_mod(&mut x2, m);
        }
        if lt(&u, &v) {
            v = sbb(&v, &u).0;
            x2 = sub_mod(&x2, &x1, m);
        } else {
            u = sbb(&u, &v).0;
            x1 = sub_mod(&x1, &x2, m);
        }
    }
    None
}

// ---- Scalars mod n -----------------------------------------------------------------------------

/// Montgomery multiplication mod n, `a·b·2⁻²⁵⁶ mod n` for `a, b < n` (CIOS: multiply and
/// reduce passes fused per limb of `a`): the running value stays below 2n, one word above the
/// limbs.
fn mont_mul_n(a: &Limbs, b: &Limbs) -> Limbs {
    let mut t = ZERO;
    let mut top = 0u32;
    let b0 = u64::from(b[0]);
    for &ai in a {
        let ai = u64::from(ai);
        let m = u64::from(
            (u64::from(t[0]).wrapping_add(ai.wrapping_mul(b0)) as u32).wrapping_mul(N0_INV),
        );
        let (mut c1, mut c2) = (0u64, 0u64);
        // Limb j of the new t goes to slot j−1 (the division by 2³²); limb 0 is zero by the
        // choice of m and lands in `sink`.
        let mut sink = 0u32;
        let mut prev = &mut sink;
        for ((tj, &bj), &nj) in t.iter_mut().zip(b).zip(&N) {
            let p = u64::from(*tj) + ai * u64::from(bj) + c1;
            c1 = p >> 32;
            let q = (p & 0xffff_ffff) + m * u64::from(nj) + c2;
            c2 = q >> 32;
            *prev = q as u32;
            prev = tj;
        }
        let s = u64::from(top) + c1 + c2;
        *prev = s as u32;
        top = (s >> 32) as u32;
    }
    let (d, borrow) = sbb(&t, &N);
    if top != 0 || !borrow {
        d
    } else {
        t
    }
}

// ---- Points ------------------------------------------------------------------------------------

/// An affine point (never the identity).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Affine {
    x: Limbs,
    y: Limbs,
}

/// A Jacobian point: `(X/Z², Y/Z³)`, the identity when `Z = 0`.
#[derive(Clone, Copy)]
struct Jacobian {
    x: Limbs,
    y: Limbs,
    z: Limbs,
}

impl Affine {
    /// Whether `(x, y)` is on the curve, coordinates below p included.
    fn is_on_curve(&self) -> bool {
        if !lt(&self.x, &P) || !lt(&self.y, &P) {
            return false;
        }
        // x³ − 3x + b = (x² − 3)·x + b
        let x2 = fsqr(&self.x);
        let three = [3, 0, 0, 0, 0, 0, 0, 0];
        let rhs = fadd(&fmul(&fsub(&x2, &three), &self.x), &B);
        fsqr(&self.y) == rhs
    }
}

impl Jacobian {
    const INFINITY: Jacobian = Jacobian {
        x: ONE,
        y: ONE,
        z: ZERO,
    };

    fn from_affine(p: &Affine) -> Jacobian {
        Jacobian {
            x: p.x,
            y: p.y,
            z: ONE,
        }
    }

    fn is_infinity(&self) -> bool {
        is_zero(&self.z)
    }

    /// `2·P` (dbl-2001-b, a = −3). The identity doubles to itself (`Z3 = 0` when `Z = 0`);
    /// P-256 has no point of order 2 (`Y = 0`).
    fn double(&self) -> Jacobian {
        let delta = fsqr(&self.z);
        let gamma = fsqr(&self.y);
        let beta = fmul(&self.x, &gamma);
        let t = fmul(&fsub(&self.x, &delta), &fadd(&self.x, &delta));
        let alpha = fadd(&t, &fadd(&t, &t));
        let beta2 = fadd(&beta, &beta);
        let beta4 = fadd(&beta2, &beta2);
        let beta8 = fadd(&beta4, &beta4);
        let x3 = fsub(&fsqr(&alpha), &beta8);
        let z3 = fsub(&fsub(&fsqr(&fadd(&self.y, &self.z)), &gamma), &delta);
        let gamma2 = fsqr(&gamma);
        let g2 = fadd(&gamma2, &gamma2);
        let g4 = fadd(&g2, &g2);
        let g8 = fadd(&g4, &g4);
        let y3 = fsub(&fmul(&alpha, &fsub(&beta4, &x3)), &g8);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// `P + (x2, y2)` for an affine point (madd-2004-hmv), with the special cases: P the
    /// identity, P equal to the other point (a doubling), P its opposite (the identity).
    fn add_affine(&self, x2: &Limbs, y2: &Limbs) -> Jacobian {
        if self.is_infinity() {
            return Jacobian {
                x: *x2,
                y: *y2,
                z: ONE,
            };
        }
        let z1z1 = fsqr(&self.z);
        let u2 = fmul(x2, &z1z1);
        let s2 = fmul(y2, &fmul(&self.z, &z1z1));
        let h = fsub(&u2, &self.x);
        let r = fsub(&s2, &self.y);
        if is_zero(&h) {
            return if is_zero(&r) {
                self.double()
            } else {
                Jacobian::INFINITY
            };
        }
        let hh = fsqr(&h);
        let hhh = fmul(&h, &hh);
        let v = fmul(&self.x, &hh);
        let x3 = fsub(&fsub(&fsqr(&r), &hhh), &fadd(&v, &v));
        let y3 = fsub(&fmul(&r, &fsub(&v, &x3)), &fmul(&self.y, &hhh));
        let z3 = fmul(&self.z, &h);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// `P + Q` for two Jacobian points (add-1998-cmo-2), with the same special cases. Only
    /// used to build tables.
    fn add(&self, q: &Jacobian) -> Jacobian {
        if self.is_infinity() {
            return *q;
        }
        if q.is_infinity() {
            return *self;
        }
        let z1z1 = fsqr(&self.z);
        let z2z2 = fsqr(&q.z);
        let u1 = fmul(&self.x, &z2z2);
        let u2 = fmul(&q.x, &z1z1);
        let s1 = fmul(&self.y, &fmul(&q.z, &z2z2));
        let s2 = fmul(&q.y, &fmul(&self.z, &z1z1));
        let h = fsub(&u2, &u1);
        let r = fsub(&s2, &s1);
        if is_zero(&h) {
            return if is_zero(&r) {
                self.double()
            } else {
                Jacobian::INFINITY
            };
        }
        let hh = fsqr(&h);
        let hhh = fmul(&h, &hh);
        let v = fmul(&u1, &hh);
        let x3 = fsub(&fsub(&fsqr(&r), &hhh), &fadd(&v, &v));
        let y3 = fsub(&fmul(&r, &fsub(&v, &x3)), &fmul(&s1, &hhh));
        let z3 = fmul(&fmul(&self.z, &q.z), &h);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }
}

/// The affine forms of `points`, with one field inversion (Montgomery's trick). `None` if any
/// of them is the identity.
fn normalize(points: &[Jacobian]) -> Option<Vec<Affine>> {
    // before[i] = z_0 · … · z_(i−1)
    let mut before = Vec::with_capacity(points.len());
    let mut acc = ONE;
    for p in points {
        before.push(acc);
        acc = fmul(&acc, &p.z);
    }
    // inv = (z_0 · … · z_i)⁻¹, walking i down.
    let mut inv = inv_mod(&acc, &P)?;
    let mut out = vec![Affine { x: ZERO, y: ZERO }; points.len()];
    for ((p, b), o) in points.iter().zip(&before).zip(out.iter_mut()).rev() {
        let zinv = fmul(&inv, b);
        inv = fmul(&inv, &p.z);
        let zinv2 = fsqr(&zinv);
        o.x = fmul(&p.x, &zinv2);
        o.y = fmul(&p.y, &fmul(&zinv2, &zinv));
    }
    Some(out)
}

/// A lookup table: for k in 0..4, the affine odd multiples `1, 3, …, 2^(w−1) − 1` of
/// `2^(64k)·P`, stored k-major (`per` entries each).
struct Table {
    points: Box<[Affine]>,
    per: usize,
}

impl Table {
    fn new(base: &Affine, w: u32) -> Option<Table> {
        let per = 1usize << (w - 2);
        let mut jac = Vec::with_capacity(4 * per);
        let mut b = Jacobian::from_affine(base);
        for k in 0..4 {
            if k > 0 {
                for _ in 0..64 {
                    b = b.double();
                }
            }
            let twice = b.double();
            let mut m = b;
            for i in 0..per {
                jac.push(m);
                if i + 1 < per {
                    m = m.add(&twice);
                }
            }
        }
        Some(Table {
            points: normalize(&jac)?.into_boxed_slice(),
            per,
        })
    }

    /// `d·2^(64k)·P` for an odd NAF digit `d`: the affine coordinates (`y` negated for `d < 0`).
    fn lookup(&self, k: usize, d: i8) -> Option<(&Limbs, Limbs)> {
        let index = k * self.per + usize::from(d.unsigned_abs() >> 1);
        let p = self.points.get(index)?;
        let y = if d < 0 { fsub(&ZERO, &p.y) } else { p.y };
        Some((&p.x, y))
    }
}

/// G's table, built on first use, once per VM.
fn g_table() -> Option<&'static Table> {
    static TABLE: OnceLock<Option<Table>> = OnceLock::new();
    TABLE
        .get_or_init(|| Table::new(&Affine { x: GX, y: GY }, W_G))
        .as_ref()
}

/// The four 64-bit pieces of a scalar, least significant first.
fn pieces(a: &Limbs) -> [u64; 4] {
    let (pairs, _) = a.as_chunks::<2>();
    let mut out = [0u64; 4];
    for (o, [lo, hi]) in out.iter_mut().zip(pairs) {
        *o = u64::from(*lo) | (u64::from(*hi) << 32);
    }
    out
}

/// `u1·G + u2·Q` from the two tables, by interleaved wNAF with 64 shared doublings. `None`
/// only if a table lookup fails (it cannot).
fn lincomb(u1: &Limbs, g: &Table, wg: u32, u2: &Limbs, q: &Table, wq: u32) -> Option<Jacobian> {
    let g_digits = pieces(u1).map(|k| wnaf(k, wg));
    let q_digits = pieces(u2).map(|k| wnaf(k, wq));
    let mut acc = Jacobian::INFINITY;
    for i in (0..DIGITS).rev() {
        if !acc.is_infinity() {
            acc = acc.double();
        }
        for (table, digits) in [(g, &g_digits), (q, &q_digits)] {
            for (k, row) in digits.iter().enumerate() {
                let d = row.get(i).copied().unwrap_or(0);
                if d != 0 {
                    let (x, y) = table.lookup(k, d)?;
                    acc = acc.add_affine(x, &y);
                }
            }
        }
    }
    Some(acc)
}

// ---- Keys --------------------------------------------------------------------------------------

/// A P-256 public key, checked on the curve; cheap to clone (the table is shared).
#[derive(Clone)]
pub struct VerifyingKey(Arc<KeyInner>);

struct KeyInner {
    point: Affine,
    /// Built on the key's first verification: a JWKS may hold many keys that are never used.
    table: OnceLock<Option<Table>>,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = |l: &Limbs| {
            l.iter()
                .rev()
                .map(|w| format!("{w:08x}"))
                .collect::<String>()
        };
        f.debug_struct("P256VerifyingKey")
            .field("x", &hex(&self.0.point.x))
            .field("y", &hex(&self.0.point.y))
            .finish()
    }
}

impl VerifyingKey {
    /// A key from its big-endian affine coordinates. `None` unless both are below p and the
    /// point is on the curve (the identity has no affine coordinates, so it cannot be given).
    pub fn from_affine(x: &[u8; 32], y: &[u8; 32]) -> Option<VerifyingKey> {
        let point = Affine {
            x: from_be_bytes(x),
            y: from_be_bytes(y),
        };
        if !point.is_on_curve() {
            return None;
        }
        Some(VerifyingKey(Arc::new(KeyInner {
            point,
            table: OnceLock::new(),
        })))
    }

    fn table(&self) -> Option<&Table> {
        self.0
            .table
            .get_or_init(|| Table::new(&self.0.point, W_Q))
            .as_ref()
    }

    /// Verifies a JWS ES256 signature (`R || S`, exactly 64 bytes) over a SHA-256 digest.
    /// High-S signatures are accepted (ECDSA's definition; JWS has no low-S rule).
    pub fn verify_prehash(&self, digest: &[u8; 32], signature: &[u8]) -> bool {
        let Ok(signature) = <&[u8; 64]>::try_from(signature) else {
            return false;
        };
        let (Some(r), Some(s)) = (signature.first_chunk::<32>(), signature.last_chunk::<32>())
        else {
            return false;
        };
        let (r, s) = (from_be_bytes(r), from_be_bytes(s));
        if is_zero(&r) || !lt(&r, &N) || is_zero(&s) || !lt(&s, &N) {
            return false;
        }
        // e: the digest as an integer (exactly the 256 bits of n), reduced mod n (e < 2n).
        let mut e = from_be_bytes(digest);
        if !lt(&e, &N) {
            e = sbb(&e, &N).0;
        }
        // (s·2⁻²⁵⁶)⁻¹ = s⁻¹·2²⁵⁶, so the Montgomery products below are plain ones.
        let Some(w) = inv_mod(&mont_mul_n(&s, &ONE), &N) else {
            return false;
        };
        let u1 = mont_mul_n(&e, &w);
        let u2 = mont_mul_n(&r, &w);
        let (Some(g), Some(q)) = (g_table(), self.table()) else {
            return false;
        };
        let Some(point) = lincomb(&u1, g, W_G, &u2, q, W_Q) else {
            return false;
        };
        x_matches(&point, &r)
    }
}

/// Whether `x(R) mod n = r` for `R ≠ O`, with `0 < r < n`: `x = X/Z²` is below p, so
/// `x mod n = r` means `x = r` or `x = r + n` (possible only if `r + n < p`).
fn x_matches(point: &Jacobian, r: &Limbs) -> bool {
    if point.is_infinity() {
        return false;
    }
    let z2 = fsqr(&point.z);
    if fmul(r, &z2) == point.x {
        return true;
    }
    let (r_plus_n, carry) = adc(r, &N);
    carry == 0 && lt(&r_plus_n, &P) && fmul(&r_plus_n, &z2) == point.x
}

#[cfg(test)]
mod tests;
