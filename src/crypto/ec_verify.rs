//! ECDSA verification (FIPS 186-5 §6.4.2, SEC 1 §4.1.4) on short Weierstrass curves of prime
//! order, generic over the curve: the engine behind JWS ES384 ([`crate::crypto::p384_verify`]), ES512
//! ([`crate::crypto::p521_verify`]) and ES256K ([`crate::crypto::k256_verify`]). It is `src/crypto/p256_verify.rs`'s
//! design with the limb count a const parameter; each curve file supplies its constants and its
//! field multiplication (the reduction is what differs between primes).
//!
//! Every input of a verification is public (key, message, signature), so the code is
//! variable-time by design and branches freely; it never sees a secret.
//!
//! - Numbers are `L` × 32-bit limbs, least significant first; field elements are always fully
//!   reduced mod p. Products are 64-bit (wasm32's widest native multiply).
//! - Points are Jacobian `(X, Y, Z)` (`x = X/Z²`, `y = Y/Z³`, infinity `Z = 0`); doubling uses
//!   the a = −3 formula (3M + 5S) or the a = 0 one (2M + 5S), additions add an affine table
//!   point (8M + 3S) and branch on the special cases (infinity, equal and opposite points).
//! - `R = u1·G + u2·Q` by interleaved width-w NAF: each scalar is cut in 64-bit pieces, piece k
//!   multiplying `2^(64k)·P`, so all pieces share 64 doublings. The affine odd multiples of
//!   `2^(64k)·Q` are computed once per key (on its first verification, then kept with the key);
//!   those of `2^(64k)·G` once per VM. Each table is made affine with one inversion.
//! - Scalars mod `n`: `s⁻¹` by the binary extended Euclidean algorithm, products by Montgomery
//!   multiplication. `x(R) mod n = r` is checked without inverting `Z`: `X = r·Z²`, or
//!   `X = (r + n)·Z²` when `r + n < p`.

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

use crate::crypto::wnaf::{wnaf, DIGITS};

/// The most 64-bit pieces a scalar has (P-521's 17 limbs).
const MAX_PIECES: usize = 9;

/// What a curve supplies: `y² = x³ + a·x + b` over the prime field of `P`, with `a` either −3
/// or 0, a generator of prime order `N`, and the field multiplication.
pub trait Curve<const L: usize>: Sized + 'static {
    /// For `Debug` output.
    const NAME: &'static str;
    /// Bytes of a coordinate, and of each of r and s in a JWS signature.
    const BYTES: usize;
    /// Bits of `N`: a digest longer than this is refused (JWS pairs each curve with a hash no
    /// longer than its order, so ECDSA's truncation never applies).
    const N_BITS: usize;
    const P: [u32; L];
    const N: [u32; L];
    const B: [u32; L];
    const GX: [u32; L];
    const GY: [u32; L];
    /// `a = −3` (the NIST curves) rather than `a = 0` (secp256k1).
    const A_MINUS_3: bool;
    /// `−N⁻¹ mod 2³²` ([`neg_inverse`]).
    const N0_INV: u32;
    /// NAF width of G's table (`2^(W−2)` points per 64-bit piece, once per VM).
    const W_G: u32;
    /// NAF width of a key's table.
    const W_Q: u32;

    /// `a · b mod p` for field elements `a, b < p`; the result is below p.
    fn mul(a: &[u32; L], b: &[u32; L]) -> [u32; L];
    /// `a² mod p` for `a < p`.
    fn sqr(a: &[u32; L]) -> [u32; L];
    /// G's table, built on first use and kept for the life of the VM.
    fn g_table() -> Option<&'static Table<L>>;
}

/// `−x⁻¹ mod 2³²` for odd `x`, by Newton's iteration (each step doubles the correct bits).
pub const fn neg_inverse(x: u32) -> u32 {
    let mut inv = 1u32;
    let mut i = 0;
    while i < 5 {
        inv = inv.wrapping_mul(2u32.wrapping_sub(x.wrapping_mul(inv)));
        i += 1;
    }
    inv.wrapping_neg()
}

/// A big-endian hex constant (as the standards write them) to limbs; at most `8·L` digits.
/// Only for the constants of the curve files, which their tests check.
pub const fn hex<const L: usize>(s: &str) -> [u32; L] {
    let mut rest = s.as_bytes();
    let mut out = [0u32; L];
    // Limbs from the least significant, each from the next 8 digits taken off the end.
    let mut slots: &mut [u32] = &mut out;
    while let [limb, tail @ ..] = slots {
        let mut shift = 0;
        while shift < 32 {
            let [head @ .., c] = rest else {
                break;
            };
            let digit = match *c {
                b'0'..=b'9' => *c - b'0',
                b'a'..=b'f' => *c - b'a' + 10,
                b'A'..=b'F' => *c - b'A' + 10,
                _ => 0,
            };
            *limb |= (digit as u32) << shift;
            rest = head;
            shift += 4;
        }
        slots = tail;
    }
    out
}

// ---- Limb arithmetic ---------------------------------------------------------------------------

/// The least significant limb.
#[inline(always)]
fn low<const L: usize>(a: &[u32; L]) -> u32 {
    a.first().copied().unwrap_or(0)
}

fn one<const L: usize>() -> [u32; L] {
    let mut r = [0u32; L];
    if let Some(l) = r.first_mut() {
        *l = 1;
    }
    r
}

/// `a + b` and the carry out (0 or 1).
#[inline(always)]
pub fn adc<const L: usize>(a: &[u32; L], b: &[u32; L]) -> ([u32; L], u32) {
    let mut r = [0u32; L];
    let mut c = 0u64;
    for ((ri, &ai), &bi) in r.iter_mut().zip(a).zip(b) {
        let s = u64::from(ai) + u64::from(bi) + c;
        *ri = s as u32;
        c = s >> 32;
    }
    (r, c as u32)
}

/// `a − b mod 2^(32L)` and whether it borrowed (`a < b`).
#[inline(always)]
pub fn sbb<const L: usize>(a: &[u32; L], b: &[u32; L]) -> ([u32; L], bool) {
    let mut r = [0u32; L];
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

pub fn is_zero<const L: usize>(a: &[u32; L]) -> bool {
    a.iter().all(|&l| l == 0)
}

/// `a < b`.
pub fn lt<const L: usize>(a: &[u32; L], b: &[u32; L]) -> bool {
    for (&x, &y) in a.iter().zip(b).rev() {
        if x != y {
            return x < y;
        }
    }
    false
}

/// `(top·2^(32L) + a) / 2`, `top` being 0 or 1.
fn shr1<const L: usize>(a: &mut [u32; L], top: u32) {
    let mut high = top;
    for l in a.iter_mut().rev() {
        let low = *l & 1;
        *l = (*l >> 1) | (high << 31);
        high = low;
    }
}

/// A big-endian number of at most `4·L` bytes to limbs.
pub fn from_be_slice<const L: usize>(bytes: &[u8]) -> Option<[u32; L]> {
    if bytes.len() > 4 * L {
        return None;
    }
    let mut r = [0u32; L];
    let (head, words) = bytes.as_rchunks::<4>();
    for (l, w) in r.iter_mut().zip(words.iter().rev()) {
        *l = u32::from_be_bytes(*w);
    }
    if !head.is_empty() {
        let top = head.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
        *r.get_mut(words.len())? = top;
    }
    Some(r)
}

/// The full product of `a` and `b` into `t` (`2L` words, zeroed by the caller), schoolbook by
/// rows. Overflow: `t + a_i·b_j + c ≤ 2⁶⁴ − 1`.
#[inline(always)]
pub fn mul_wide<const L: usize>(a: &[u32; L], b: &[u32; L], t: &mut [u32]) {
    for (i, &ai) in a.iter().enumerate() {
        let ai = u64::from(ai);
        let mut c = 0u64;
        for (tj, &bj) in t.iter_mut().skip(i).zip(b) {
            let p = u64::from(*tj) + ai * u64::from(bj) + c;
            *tj = p as u32;
            c = p >> 32;
        }
        if let Some(top) = t.get_mut(i + L) {
            *top = c as u32;
        }
    }
}

/// The full square of `a` into `t` (`2L` words, zeroed by the caller): each cross product
/// once, doubled, then the diagonal added.
#[inline(always)]
pub fn sqr_wide<const L: usize>(a: &[u32; L], t: &mut [u32]) {
    for (i, &ai) in a.iter().enumerate() {
        let ai = u64::from(ai);
        let mut c = 0u64;
        for (tj, &aj) in t.iter_mut().skip(2 * i + 1).zip(a.iter().skip(i + 1)) {
            let p = u64::from(*tj) + ai * u64::from(aj) + c;
            *tj = p as u32;
            c = p >> 32;
        }
        if let Some(top) = t.get_mut(i + L) {
            *top = c as u32;
        }
    }
    // t = 2·t + Σ a_i²·2^(64i); the cross products are below 2^(64L − 1): no overflow.
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
}

/// `t mod p` for a `2L`-word `t` and a prime `p = 2^(32L) − c` whose `c` is a short signed sum
/// of words, `2^(32L) ≡ c = Σ s·2^(32·o)` for `(o, s)` in `fold` (P-384, secp256k1). The high
/// half is folded down twice at once (a term landing at or above word L folds again), summed
/// word by word in signed 64-bit accumulators, the carries propagated, and the small carry out
/// folded until none is left. Needs `2·max(o) < L` and `|s|² · (terms)² · 2³² < 2⁶²`.
#[inline(always)]
pub fn reduce_sparse<const L: usize>(t: &[u32], fold: &[(usize, i64)], p: &[u32; L]) -> [u32; L] {
    let mut w = [0i64; L];
    for (wi, &ti) in w.iter_mut().zip(t) {
        *wi = i64::from(ti);
    }
    for (j, &h) in t.iter().skip(L).enumerate() {
        let h = i64::from(h);
        for &(o, s) in fold {
            let q = j + o;
            if let Some(wq) = w.get_mut(q) {
                *wq += h * s;
            } else {
                for &(o2, s2) in fold {
                    let q2 = q - L + o2;
                    debug_assert!(q2 < L);
                    if let Some(wq) = w.get_mut(q2) {
                        *wq += h * s * s2;
                    }
                }
            }
        }
    }
    let mut carry = propagate(&mut w);
    // The value is w + carry·2^(32L), |carry| small; each fold of the carry shrinks it, so a
    // few rounds always suffice (two for the curves here).
    for _ in 0..4 {
        if carry == 0 {
            break;
        }
        for &(o, s) in fold {
            if let Some(wo) = w.get_mut(o) {
                *wo += carry * s;
            }
        }
        carry = propagate(&mut w);
    }
    debug_assert_eq!(carry, 0);
    let r = w.map(|x| x as u32);
    // r < 2^(32L) < 2p: at most one subtraction.
    let (s, borrow) = sbb(&r, p);
    if borrow {
        r
    } else {
        s
    }
}

/// Carries through signed 32-bit-word accumulators: afterwards every word is in `[0, 2³²)`;
/// returns the carry out of the top word.
#[inline(always)]
fn propagate<const L: usize>(w: &mut [i64; L]) -> i64 {
    let mut carry = 0i64;
    for x in w.iter_mut() {
        let v = *x + carry;
        *x = v & 0xffff_ffff;
        carry = v >> 32;
    }
    carry
}

// ---- Modular arithmetic ------------------------------------------------------------------------

/// `a + b mod m` for `a, b < m`.
///
/// Out of line, as `sub_mod`: a point doubling or addition makes a dozen of these, and inlined
/// (unrolled over the limbs) they made each formula 5–10 KB per curve, which V8 compiles at load;
/// the call costs little next to the field multiplications around it.
#[inline(never)]
pub fn add_mod<const L: usize>(a: &[u32; L], b: &[u32; L], m: &[u32; L]) -> [u32; L] {
    let (s, carry) = adc(a, b);
    let (t, borrow) = sbb(&s, m);
    if carry != 0 || !borrow {
        t
    } else {
        s
    }
}

/// `a − b mod m` for `a, b < m`.
#[inline(never)]
pub fn sub_mod<const L: usize>(a: &[u32; L], b: &[u32; L], m: &[u32; L]) -> [u32; L] {
    let (d, borrow) = sbb(a, b);
    if borrow {
        adc(&d, m).0
    } else {
        d
    }
}

/// `(x + m)/2` or `x/2` mod m, whichever is exact, for odd `m` and `x < m`.
fn halve_mod<const L: usize>(x: &mut [u32; L], m: &[u32; L]) {
    if low(x) & 1 == 0 {
        shr1(x, 0);
    } else {
        let (s, carry) = adc(x, m);
        *x = s;
        shr1(x, carry);
    }
}

/// `a⁻¹ mod m` for a prime `m` (p or n), by the binary extended Euclidean algorithm (Guide to
/// Elliptic Curve Cryptography, Alg. 2.22). `None` unless `0 < a < m`.
///
/// Invariants: `x1·a ≡ u` and `x2·a ≡ v (mod m)`, `gcd(u, v) = 1`; each round halves or
/// subtracts, so `u + v` falls until one of them is 1 (at most ~2·32L rounds; the cap is only a
/// guard).
pub fn inv_mod<const L: usize>(a: &[u32; L], m: &[u32; L]) -> Option<[u32; L]> {
    if is_zero(a) || !lt(a, m) {
        return None;
    }
    let one = one::<L>();
    let (mut u, mut v) = (*a, *m);
    let (mut x1, mut x2) = (one, [0u32; L]);
    for _ in 0..128 * L {
        if u == one {
            return Some(x1);
        }
        if v == one {
            return Some(x2);
        }
        while low(&u) & 1 == 0 {
            shr1(&mut u, 0);
            halve_mod(&mut x1, m);
        }
        while low(&v) & 1 == 0 {
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

/// Montgomery multiplication mod n, `a·b·2^(−32L) mod n` for `a, b < n` (CIOS: multiply and
/// reduce passes fused per limb of `a`): the running value stays below 2n, one word above the
/// limbs.
pub fn mont_mul<const L: usize>(a: &[u32; L], b: &[u32; L], n: &[u32; L], n0_inv: u32) -> [u32; L] {
    let mut t = [0u32; L];
    let mut top = 0u32;
    let b0 = u64::from(low(b));
    for &ai in a {
        let ai = u64::from(ai);
        let m = u64::from(
            (u64::from(low(&t)).wrapping_add(ai.wrapping_mul(b0)) as u32).wrapping_mul(n0_inv),
        );
        let (mut c1, mut c2) = (0u64, 0u64);
        // Limb j of the new t goes to slot j−1 (the division by 2³²); limb 0 is zero by the
        // choice of m and lands in `sink`.
        let mut sink = 0u32;
        let mut prev = &mut sink;
        for ((tj, &bj), &nj) in t.iter_mut().zip(b).zip(n) {
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
    let (d, borrow) = sbb(&t, n);
    if top != 0 || !borrow {
        d
    } else {
        t
    }
}

// ---- Points ------------------------------------------------------------------------------------

/// An affine point (never the identity).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Affine<const L: usize> {
    x: [u32; L],
    y: [u32; L],
}

/// A Jacobian point: `(X/Z², Y/Z³)`, the identity when `Z = 0`.
#[derive(Clone, Copy)]
struct Jacobian<const L: usize> {
    x: [u32; L],
    y: [u32; L],
    z: [u32; L],
}

impl<const L: usize> Affine<L> {
    /// Whether `(x, y)` is on the curve, coordinates below p included.
    fn is_on_curve<C: Curve<L>>(&self) -> bool {
        if !lt(&self.x, &C::P) || !lt(&self.y, &C::P) {
            return false;
        }
        // x³ + a·x + b = (x² + a)·x + b
        let mut x2a = C::sqr(&self.x);
        if C::A_MINUS_3 {
            let mut three = [0u32; L];
            if let Some(l) = three.first_mut() {
                *l = 3;
            }
            x2a = sub_mod(&x2a, &three, &C::P);
        }
        let rhs = add_mod(&C::mul(&x2a, &self.x), &C::B, &C::P);
        C::sqr(&self.y) == rhs
    }
}

impl<const L: usize> Jacobian<L> {
    fn infinity() -> Self {
        Jacobian {
            x: one(),
            y: one(),
            z: [0; L],
        }
    }

    fn from_affine(p: &Affine<L>) -> Self {
        Jacobian {
            x: p.x,
            y: p.y,
            z: one(),
        }
    }

    fn is_infinity(&self) -> bool {
        is_zero(&self.z)
    }

    /// `2·P`: dbl-2001-b for a = −3, dbl-2009-l for a = 0. The identity doubles to itself
    /// (`Z3 = 0` when `Z = 0`); curves of prime order have no point of order 2 (`Y = 0`).
    fn double<C: Curve<L>>(&self) -> Self {
        let p = &C::P;
        let add = |a: &[u32; L], b: &[u32; L]| add_mod(a, b, p);
        let sub = |a: &[u32; L], b: &[u32; L]| sub_mod(a, b, p);
        if C::A_MINUS_3 {
            let delta = C::sqr(&self.z);
            let gamma = C::sqr(&self.y);
            let beta = C::mul(&self.x, &gamma);
            let t = C::mul(&sub(&self.x, &delta), &add(&self.x, &delta));
            let alpha = add(&t, &add(&t, &t));
            let beta2 = add(&beta, &beta);
            let beta4 = add(&beta2, &beta2);
            let beta8 = add(&beta4, &beta4);
            let x3 = sub(&C::sqr(&alpha), &beta8);
            let z3 = sub(&sub(&C::sqr(&add(&self.y, &self.z)), &gamma), &delta);
            let gamma2 = C::sqr(&gamma);
            let g2 = add(&gamma2, &gamma2);
            let g4 = add(&g2, &g2);
            let g8 = add(&g4, &g4);
            let y3 = sub(&C::mul(&alpha, &sub(&beta4, &x3)), &g8);
            Jacobian {
                x: x3,
                y: y3,
                z: z3,
            }
        } else {
            let a = C::sqr(&self.x);
            let b = C::sqr(&self.y);
            let c = C::sqr(&b);
            let t = sub(&sub(&C::sqr(&add(&self.x, &b)), &a), &c);
            let d = add(&t, &t);
            let e = add(&a, &add(&a, &a));
            let f = C::sqr(&e);
            let x3 = sub(&f, &add(&d, &d));
            let c2 = add(&c, &c);
            let c4 = add(&c2, &c2);
            let c8 = add(&c4, &c4);
            let y3 = sub(&C::mul(&e, &sub(&d, &x3)), &c8);
            let yz = C::mul(&self.y, &self.z);
            Jacobian {
                x: x3,
                y: y3,
                z: add(&yz, &yz),
            }
        }
    }

    /// `P + (x2, y2)` for an affine point (madd-2004-hmv), with the special cases: P the
    /// identity, P equal to the other point (a doubling), P its opposite (the identity).
    fn add_affine<C: Curve<L>>(&self, x2: &[u32; L], y2: &[u32; L]) -> Self {
        if self.is_infinity() {
            return Jacobian {
                x: *x2,
                y: *y2,
                z: one(),
            };
        }
        let p = &C::P;
        let z1z1 = C::sqr(&self.z);
        let u2 = C::mul(x2, &z1z1);
        let s2 = C::mul(y2, &C::mul(&self.z, &z1z1));
        let h = sub_mod(&u2, &self.x, p);
        let r = sub_mod(&s2, &self.y, p);
        if is_zero(&h) {
            return if is_zero(&r) {
                self.double::<C>()
            } else {
                Jacobian::infinity()
            };
        }
        let hh = C::sqr(&h);
        let hhh = C::mul(&h, &hh);
        let v = C::mul(&self.x, &hh);
        let x3 = sub_mod(&sub_mod(&C::sqr(&r), &hhh, p), &add_mod(&v, &v, p), p);
        let y3 = sub_mod(&C::mul(&r, &sub_mod(&v, &x3, p)), &C::mul(&self.y, &hhh), p);
        let z3 = C::mul(&self.z, &h);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// `P + Q` for two Jacobian points (add-1998-cmo-2), with the same special cases. Only
    /// used to build tables.
    fn add<C: Curve<L>>(&self, q: &Self) -> Self {
        if self.is_infinity() {
            return *q;
        }
        if q.is_infinity() {
            return *self;
        }
        let p = &C::P;
        let z1z1 = C::sqr(&self.z);
        let z2z2 = C::sqr(&q.z);
        let u1 = C::mul(&self.x, &z2z2);
        let u2 = C::mul(&q.x, &z1z1);
        let s1 = C::mul(&self.y, &C::mul(&q.z, &z2z2));
        let s2 = C::mul(&q.y, &C::mul(&self.z, &z1z1));
        let h = sub_mod(&u2, &u1, p);
        let r = sub_mod(&s2, &s1, p);
        if is_zero(&h) {
            return if is_zero(&r) {
                self.double::<C>()
            } else {
                Jacobian::infinity()
            };
        }
        let hh = C::sqr(&h);
        let hhh = C::mul(&h, &hh);
        let v = C::mul(&u1, &hh);
        let x3 = sub_mod(&sub_mod(&C::sqr(&r), &hhh, p), &add_mod(&v, &v, p), p);
        let y3 = sub_mod(&C::mul(&r, &sub_mod(&v, &x3, p)), &C::mul(&s1, &hhh), p);
        let z3 = C::mul(&C::mul(&self.z, &q.z), &h);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }
}

/// The affine forms of `points`, with one field inversion (Montgomery's trick). `None` if any
/// of them is the identity.
fn normalize<C: Curve<L>, const L: usize>(points: &[Jacobian<L>]) -> Option<Vec<Affine<L>>> {
    // before[i] = z_0 · … · z_(i−1)
    let mut before = Vec::with_capacity(points.len());
    let mut acc = one::<L>();
    for p in points {
        before.push(acc);
        acc = C::mul(&acc, &p.z);
    }
    // inv = (z_0 · … · z_i)⁻¹, walking i down.
    let mut inv = inv_mod(&acc, &C::P)?;
    let zero = [0u32; L];
    let mut out = vec![Affine { x: zero, y: zero }; points.len()];
    for ((p, b), o) in points.iter().zip(&before).zip(out.iter_mut()).rev() {
        let zinv = C::mul(&inv, b);
        inv = C::mul(&inv, &p.z);
        let zinv2 = C::sqr(&zinv);
        o.x = C::mul(&p.x, &zinv2);
        o.y = C::mul(&p.y, &C::mul(&zinv2, &zinv));
    }
    Some(out)
}

/// A lookup table: for each 64-bit piece k, the affine odd multiples `1, 3, …, 2^(w−1) − 1` of
/// `2^(64k)·P`, stored k-major (`per` entries each).
pub struct Table<const L: usize> {
    points: Box<[Affine<L>]>,
    per: usize,
    pieces: usize,
    w: u32,
}

impl<const L: usize> Table<L> {
    pub fn new<C: Curve<L>>(base: &Affine<L>, w: u32) -> Option<Self> {
        let per = 1usize << (w - 2);
        let pieces = L.div_ceil(2);
        let mut jac = Vec::with_capacity(pieces * per);
        let mut b = Jacobian::from_affine(base);
        for k in 0..pieces {
            if k > 0 {
                for _ in 0..64 {
                    b = b.double::<C>();
                }
            }
            let twice = b.double::<C>();
            let mut m = b;
            for i in 0..per {
                jac.push(m);
                if i + 1 < per {
                    m = m.add::<C>(&twice);
                }
            }
        }
        Some(Table {
            points: normalize::<C, L>(&jac)?.into_boxed_slice(),
            per,
            pieces,
            w,
        })
    }

    /// G's table: for the curve files' `g_table`.
    pub fn generator<C: Curve<L>>() -> Option<Self> {
        Table::new::<C>(&Affine { x: C::GX, y: C::GY }, C::W_G)
    }

    /// `d·2^(64k)·P` for an odd NAF digit `d`: the affine coordinates (`y` negated for `d < 0`).
    fn lookup(&self, k: usize, d: i8, p: &[u32; L]) -> Option<(&[u32; L], [u32; L])> {
        let index = k * self.per + usize::from(d.unsigned_abs() >> 1);
        let point = self.points.get(index)?;
        let y = if d < 0 {
            sub_mod(&[0; L], &point.y, p)
        } else {
            point.y
        };
        Some((&point.x, y))
    }
}

/// The NAF digits of each 64-bit piece of a scalar, least significant piece first (the pieces
/// past `L` limbs stay zero).
fn recode<const L: usize>(a: &[u32; L], w: u32) -> [[i8; DIGITS]; MAX_PIECES] {
    let mut out = [[0i8; DIGITS]; MAX_PIECES];
    let (pairs, rest) = a.as_chunks::<2>();
    let pieces = pairs
        .iter()
        .map(|[lo, hi]| u64::from(*lo) | (u64::from(*hi) << 32))
        .chain(rest.iter().map(|&lo| u64::from(lo)));
    for (o, k) in out.iter_mut().zip(pieces) {
        *o = wnaf(k, w);
    }
    out
}

/// `u1·G + u2·Q` from the two tables, by interleaved wNAF with 65 shared doublings. `None`
/// only if a table lookup fails (it cannot).
fn lincomb<C: Curve<L>, const L: usize>(
    u1: &[u32; L],
    g: &Table<L>,
    u2: &[u32; L],
    q: &Table<L>,
) -> Option<Jacobian<L>> {
    let g_digits = recode(u1, g.w);
    let q_digits = recode(u2, q.w);
    let mut acc = Jacobian::infinity();
    for i in (0..DIGITS).rev() {
        if !acc.is_infinity() {
            acc = acc.double::<C>();
        }
        for (table, digits) in [(g, &g_digits), (q, &q_digits)] {
            for (k, row) in digits.iter().enumerate().take(table.pieces) {
                let d = row.get(i).copied().unwrap_or(0);
                if d != 0 {
                    let (x, y) = table.lookup(k, d, &C::P)?;
                    acc = acc.add_affine::<C>(x, &y);
                }
            }
        }
    }
    Some(acc)
}

/// Whether `x(R) mod n = r` for `R ≠ O`, with `0 < r < n`: `x = X/Z²` is below p, so
/// `x mod n = r` means `x = r` or `x = r + n` (possible only if `r + n < p`).
fn x_matches<C: Curve<L>, const L: usize>(point: &Jacobian<L>, r: &[u32; L]) -> bool {
    if point.is_infinity() {
        return false;
    }
    let z2 = C::sqr(&point.z);
    if C::mul(r, &z2) == point.x {
        return true;
    }
    let (r_plus_n, carry) = adc(r, &C::N);
    carry == 0 && lt(&r_plus_n, &C::P) && C::mul(&r_plus_n, &z2) == point.x
}

// ---- Keys --------------------------------------------------------------------------------------

/// A public key on curve `C`, checked on the curve; cheap to clone (the table is shared).
pub struct VerifyingKey<C: Curve<L>, const L: usize>(Arc<KeyInner<L>>, PhantomData<C>);

struct KeyInner<const L: usize> {
    point: Affine<L>,
    /// Built on the key's first verification: a JWKS may hold many keys that are never used.
    table: OnceLock<Option<Table<L>>>,
}

impl<C: Curve<L>, const L: usize> Clone for VerifyingKey<C, L> {
    fn clone(&self) -> Self {
        VerifyingKey(Arc::clone(&self.0), PhantomData)
    }
}

impl<C: Curve<L>, const L: usize> fmt::Debug for VerifyingKey<C, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = |l: &[u32; L]| {
            l.iter()
                .rev()
                .map(|w| format!("{w:08x}"))
                .collect::<String>()
        };
        f.debug_struct(C::NAME)
            .field("x", &hex(&self.0.point.x))
            .field("y", &hex(&self.0.point.y))
            .finish()
    }
}

impl<C: Curve<L>, const L: usize> VerifyingKey<C, L> {
    /// A key from its big-endian affine coordinates, each exactly [`Curve::BYTES`] long.
    /// `None` unless both are below p and the point is on the curve (the identity has no affine
    /// coordinates, so it cannot be given).
    pub fn from_affine(x: &[u8], y: &[u8]) -> Option<Self> {
        if x.len() != C::BYTES || y.len() != C::BYTES {
            return None;
        }
        let point = Affine {
            x: from_be_slice(x)?,
            y: from_be_slice(y)?,
        };
        if !point.is_on_curve::<C>() {
            return None;
        }
        Some(VerifyingKey(
            Arc::new(KeyInner {
                point,
                table: OnceLock::new(),
            }),
            PhantomData,
        ))
    }

    fn table(&self) -> Option<&Table<L>> {
        self.0
            .table
            .get_or_init(|| Table::new::<C>(&self.0.point, C::W_Q))
            .as_ref()
    }

    /// Verifies a JWS ECDSA signature (`R || S`, exactly `2·BYTES` bytes) over a digest of at
    /// most [`Curve::N_BITS`] bits. High-S signatures are accepted (ECDSA's definition; JWS has
    /// no low-S rule).
    pub fn verify_prehash(&self, digest: &[u8], signature: &[u8]) -> bool {
        if signature.len() != 2 * C::BYTES || digest.len() * 8 > C::N_BITS {
            return false;
        }
        let Some((r, s)) = signature.split_at_checked(C::BYTES) else {
            return false;
        };
        let (Some(r), Some(s), Some(mut e)) = (
            from_be_slice::<L>(r),
            from_be_slice::<L>(s),
            from_be_slice::<L>(digest),
        ) else {
            return false;
        };
        let n = &C::N;
        if is_zero(&r) || !lt(&r, n) || is_zero(&s) || !lt(&s, n) {
            return false;
        }
        // e: the digest as an integer, below 2^N_BITS < 2n, reduced mod n.
        if !lt(&e, n) {
            e = sbb(&e, n).0;
        }
        // (s·R⁻¹)⁻¹ = s⁻¹·R (R = 2^(32L)), so the Montgomery products below are plain ones.
        let Some(w) = inv_mod(&mont_mul(&s, &one(), n, C::N0_INV), n) else {
            return false;
        };
        let u1 = mont_mul(&e, &w, n, C::N0_INV);
        let u2 = mont_mul(&r, &w, n, C::N0_INV);
        let (Some(g), Some(q)) = (C::g_table(), self.table()) else {
            return false;
        };
        let Some(point) = lincomb::<C, L>(&u1, g, &u2, q) else {
            return false;
        };
        x_matches::<C, L>(&point, &r)
    }
}

/// Generic checks each curve file runs on its own curve, against its RustCrypto twin.
#[cfg(test)]
pub(crate) mod testing {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]

    use super::*;

    /// The project's seeded test RNG (`jwt_mint::Rng`, splitmix64), with limb-shaped draws.
    pub struct Rng(pub u64);

    impl Rng {
        pub fn next(&mut self) -> u64 {
            let mut inner = jwt_mint::Rng(self.0);
            let value = inner.next_u64();
            self.0 = inner.0;
            value
        }

        /// Random limbs, often with runs of all-zero or all-one words (carry paths).
        pub fn limbs<const L: usize>(&mut self) -> [u32; L] {
            let mut out = [0; L];
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

        /// Below m (rejection sampling on m's bit length).
        pub fn below<const L: usize>(&mut self, m: &[u32; L]) -> [u32; L] {
            let top = m.iter().rposition(|&l| l != 0).unwrap();
            let mask = u32::MAX >> m[top].leading_zeros();
            loop {
                let mut x = self.limbs::<L>();
                for l in x.iter_mut().skip(top + 1) {
                    *l = 0;
                }
                x[top] &= mask;
                if lt(&x, m) {
                    return x;
                }
            }
        }
    }

    pub fn to_be_bytes<const L: usize>(a: &[u32; L], len: usize) -> Vec<u8> {
        let all: Vec<u8> = a.iter().rev().flat_map(|l| l.to_be_bytes()).collect();
        let (high, low) = all.split_at(all.len() - len);
        assert!(high.iter().all(|&b| b == 0), "does not fit in {len} bytes");
        low.to_vec()
    }

    pub fn small<const L: usize>(k: u32) -> [u32; L] {
        let mut out = [0; L];
        out[0] = k;
        out
    }

    pub fn minus<const L: usize>(m: &[u32; L], k: u32) -> [u32; L] {
        sbb(m, &small(k)).0
    }

    pub fn pow2<const L: usize>(bit: usize) -> [u32; L] {
        let mut out = [0; L];
        out[bit / 32] = 1 << (bit % 32);
        out
    }

    /// `a·b mod m` by double-and-add: slow, and independent of the multipliers under test.
    pub fn mul_mod_slow<const L: usize>(a: &[u32; L], b: &[u32; L], m: &[u32; L]) -> [u32; L] {
        let mut acc = [0; L];
        for bit in (0..32 * L).rev() {
            acc = add_mod(&acc, &acc, m);
            if b[bit / 32] >> (bit % 32) & 1 == 1 {
                acc = add_mod(&acc, a, m);
            }
        }
        acc
    }

    /// `a mod m` for any `a`, by subtracting shifted copies of m.
    pub fn reduce_slow<const L: usize>(a: &[u32; L], m: &[u32; L]) -> [u32; L] {
        // a mod m = (a · 1) mod m with a's bits fed one by one.
        let mut acc = [0; L];
        for bit in (0..32 * L).rev() {
            acc = add_mod(&acc, &acc, m);
            if a[bit / 32] >> (bit % 32) & 1 == 1 {
                acc = add_mod(&acc, &small(1), m);
            }
        }
        acc
    }

    /// Values around every carry boundary of the limbs, of p and of n.
    pub fn edge_values<C: Curve<L>, const L: usize>() -> Vec<[u32; L]> {
        let mut v = vec![
            [0; L],
            small(1),
            small(2),
            minus(&C::P, 1),
            minus(&C::P, 2),
            minus(&C::N, 1),
            C::N,
            C::P,
            [u32::MAX; L],
        ];
        for bit in (0..32 * L).step_by(16).chain([31, 33, 63, 65, 32 * L - 1]) {
            v.push(pow2(bit));
            v.push(minus(&pow2(bit), 1));
        }
        v
    }

    /// The field multiplication and the modular helpers against slow references, on edge and
    /// random values below p.
    pub fn field_arithmetic<C: Curve<L>, const L: usize>(seed: u64) {
        let mut rng = Rng(seed);
        let mut values: Vec<[u32; L]> = edge_values::<C, L>()
            .iter()
            .map(|a| reduce_slow(a, &C::P))
            .collect();
        for _ in 0..200 {
            values.push(rng.below(&C::P));
        }
        let p = &C::P;
        for a in &values {
            assert_eq!(C::sqr(a), mul_mod_slow(a, a, p), "{a:x?}²");
            for b in values.iter().step_by(7) {
                let expected = mul_mod_slow(a, b, p);
                assert_eq!(C::mul(a, b), expected, "{a:x?}·{b:x?}");
                assert_eq!(C::mul(b, a), expected);
                assert_eq!(add_mod(&sub_mod(a, b, p), b, p), *a);
                assert_eq!(sub_mod(&add_mod(a, b, p), b, p), *a);
            }
        }
        assert_eq!(C::mul(&minus(p, 1), &minus(p, 1)), small(1), "(−1)² = 1");
        assert_eq!(C::sqr(&minus(p, 1)), small(1));
        assert_eq!(sub_mod(&[0; L], &small(1), p), minus(p, 1));
        assert_eq!(add_mod(&minus(p, 1), &small(1), p), [0; L]);
    }

    pub fn inversion<C: Curve<L>, const L: usize>(seed: u64) {
        let mut rng = Rng(seed);
        for m in [C::P, C::N] {
            let mut values = vec![small(1), small(2), minus(&m, 1), minus(&m, 2)];
            for _ in 0..100 {
                values.push(rng.below(&m));
            }
            for a in values.iter().filter(|a| !is_zero(a)) {
                let inv = inv_mod(a, &m).unwrap();
                assert!(lt(&inv, &m));
                assert_eq!(mul_mod_slow(a, &inv, &m), small(1), "{a:x?}");
            }
            assert_eq!(inv_mod(&[0; L], &m), None);
            assert_eq!(inv_mod(&m, &m), None);
            assert_eq!(inv_mod(&[u32::MAX; L], &m), None);
        }
    }

    pub fn montgomery<C: Curve<L>, const L: usize>(seed: u64) {
        let n = &C::N;
        assert_eq!(low(n).wrapping_mul(C::N0_INV), u32::MAX, "n·(−n⁻¹) ≡ −1");
        // R = 2^(32L) mod n = (2^(32L) − n) mod n; R⁻¹ by the (tested) inversion.
        let r = reduce_slow(&sbb(&[0; L], n).0, n);
        let r_inv = inv_mod(&r, n).unwrap();
        let mut rng = Rng(seed);
        let mut values = vec![[0; L], small(1), minus(n, 1), minus(n, 2)];
        for _ in 0..60 {
            values.push(rng.below(n));
        }
        for a in &values {
            for b in values.iter().step_by(5) {
                let expected = mul_mod_slow(&mul_mod_slow(a, b, n), &r_inv, n);
                assert_eq!(mont_mul(a, b, n, C::N0_INV), expected, "{a:x?}·{b:x?}");
            }
        }
    }

    /// The curve's constants hang together: G on the curve (checks B), `(n − 1)·G + G = O`
    /// (checks N), and doubling agrees with addition.
    pub fn curve_constants<C: Curve<L>, const L: usize>() {
        let g = Affine { x: C::GX, y: C::GY };
        assert!(g.is_on_curve::<C>());
        let gt = C::g_table().unwrap();
        let qt = Table::new::<C>(&g, C::W_Q).unwrap();
        assert!(lincomb::<C, L>(&minus(&C::N, 1), gt, &small(1), &qt)
            .unwrap()
            .is_infinity());
        assert!(!lincomb::<C, L>(&minus(&C::N, 2), gt, &small(1), &qt)
            .unwrap()
            .is_infinity());
        let gj = Jacobian::from_affine(&g);
        let two = normalize::<C, L>(&[gj.double::<C>()]).unwrap();
        let two_add = normalize::<C, L>(&[
            gj.add::<C>(&Jacobian::from_affine(&Affine { x: C::GX, y: C::GY }))
        ])
        .unwrap();
        assert!(two == two_add);
        assert!(Jacobian::<L>::infinity().double::<C>().is_infinity());
        let neg_gy = sub_mod(&[0; L], &C::GY, &C::P);
        assert!(gj.add_affine::<C>(&C::GX, &neg_gy).is_infinity());
    }

    /// `u1·G + u2·Q` as affine big-endian bytes, or `None` for the identity.
    pub fn lincomb_bytes<C: Curve<L>, const L: usize>(
        u1: &[u32; L],
        u2: &[u32; L],
        key: &VerifyingKey<C, L>,
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        let p = lincomb::<C, L>(u1, C::g_table().unwrap(), u2, key.table().unwrap()).unwrap();
        if p.is_infinity() {
            return None;
        }
        let a = normalize::<C, L>(&[p]).unwrap()[0];
        Some((to_be_bytes(&a.x, C::BYTES), to_be_bytes(&a.y, C::BYTES)))
    }

    /// Scalars at the edges of the 64-bit pieces and of n.
    pub fn edge_scalars<C: Curve<L>, const L: usize>() -> Vec<[u32; L]> {
        let mut v = vec![
            [0; L],
            small(1),
            small(2),
            small(3),
            minus(&C::N, 1),
            minus(&C::N, 2),
        ];
        for bit in (0..32 * L).step_by(64).flat_map(|b| [b, b + 1, b + 63]) {
            if bit < 32 * L {
                v.push(pow2(bit));
                v.push(minus(&pow2(bit), 1));
            }
        }
        for k in 0..L / 2 {
            let mut only = [0; L];
            only[2 * k] = 0x1234_5678;
            only[2 * k + 1] = 0x9abc_def1;
            v.push(only);
            let mut all_but = [0x5555_5555; L];
            all_but[2 * k] = 0;
            all_but[2 * k + 1] = 0;
            v.push(reduce_slow(&all_but, &C::N));
        }
        let mut ones = [u32::MAX; L];
        ones[L - 1] = 0;
        v.push(ones);
        v.retain(|s| lt(s, &C::N));
        v
    }

    /// x(R) ≥ n: a point whose x is in [n, p), given with a non-trivial Z.
    pub fn x_above_n<C: Curve<L>, const L: usize>(x: &[u32; L], y: &[u32; L]) {
        assert!(!lt(x, &C::N) && lt(x, &C::P));
        let mut z = [0x0123_4567u32; L];
        z[L - 1] = 0x89;
        let z2 = C::sqr(&z);
        let jac = Jacobian {
            x: C::mul(x, &z2),
            y: C::mul(y, &C::mul(&z2, &z)),
            z,
        };
        let r = sbb(x, &C::N).0;
        assert!(x_matches::<C, L>(&jac, &r));
        assert!(!x_matches::<C, L>(&jac, &adc(&r, &small(1)).0));
        assert!(!x_matches::<C, L>(&Jacobian::infinity(), &r));
        let g = Jacobian::from_affine(&Affine { x: C::GX, y: C::GY });
        assert!(x_matches::<C, L>(&g, &C::GX));
        assert!(!x_matches::<C, L>(&g, &adc(&C::GX, &small(1)).0));
    }

    #[test]
    fn hex_constants_and_byte_parsing() {
        assert_eq!(
            hex::<3>("0102030405060708090a0b0c"),
            [0x090a_0b0c, 0x0506_0708, 0x0102_0304]
        );
        assert_eq!(hex::<2>("1ff"), [0x1ff, 0]);
        assert_eq!(from_be_slice::<2>(&[1, 2, 3, 4, 5]), Some([0x0203_0405, 1]));
        assert_eq!(from_be_slice::<2>(&[]), Some([0, 0]));
        assert_eq!(from_be_slice::<2>(&[0; 9]), None);
        assert_eq!(to_be_bytes(&[0x0203_0405u32, 1], 5), vec![1, 2, 3, 4, 5]);
    }
}
