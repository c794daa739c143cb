//! [`Engine::Int`](super::Engine::Int): Montgomery arithmetic on 28-bit limbs with 64-bit
//! accumulators, the engine every build has and the reference [`mont52`](super::mont52) is
//! checked against. Products of 28-bit limbs leave room in an accumulator for a whole row's worth
//! of them, so carries are delayed and the inner loops only multiply and add, four limbs at a
//! time: with wasm SIMD128 on wasm32 (`i64x2.extmul_*_i32x4_u`, two 32×32→64-bit products per
//! instruction), and with plain arrays elsewhere (the native tests run the same loops).

use std::cmp::Ordering;

/// Bits per limb. A product of two limbs is below 2⁵⁶, so a 64-bit accumulator takes 255 of them
/// with room to spare: carries are propagated once per row, or once per [`ROWS_PER_CARRY`] rows,
/// instead of once per product, and the inner loops are multiply-and-add only.
pub(super) const LIMB_BITS: u32 = 28;
pub(super) const LIMB_MASK: u32 = (1 << LIMB_BITS) - 1;

/// Zero limbs kept after the last one, so the four-lane loops can read a whole group of four
/// past the end of a row without a scalar tail.
pub(super) const PAD: usize = 4;

/// Rows of products an accumulator may take between two carry propagations. Once normalized an
/// accumulator is below 2²⁸; a row adds at most two products below 2⁵⁶ and one carry below 2³⁶,
/// so 64 rows keep it below 2²⁸ + 128·2⁵⁶ + 2³⁶ < 2⁶⁴.
const ROWS_PER_CARRY: usize = 64;

/// The limb count `L` for a modulus of `bits` bits: `R = 2^(28·L) > 4n`, which keeps every
/// Montgomery product below `2n` without a final subtraction (inputs below `2n` give
/// `(a·b + m·n)/R < (4n² + R·n)/R < 2n`), and a multiple of 4 for the four-lane loops.
pub(super) fn limb_count(bits: usize) -> usize {
    (bits + 2).div_ceil(LIMB_BITS as usize).next_multiple_of(4)
}

/// Four-lane operations: wasm SIMD128 (`i64x2.extmul_{low,high}_i32x4_u`, two 32×32→64-bit
/// products per instruction) on wasm32 with the `simd128` feature, the same operations on arrays
/// elsewhere (natively, and in the portable wasm build, where they compile to scalar code), so
/// the native tests run the very loops the wasm build runs. `Quad` holds four limbs, `Pair` two 64-bit
/// accumulators.
#[cfg(all(target_arch = "wasm32", feature = "simd128"))]
mod lanes {
    use core::arch::wasm32::{
        i32x4_add, i64x2_add, i64x2_extmul_high_u32x4, i64x2_extmul_low_u32x4, u32x4, u32x4_splat,
        u64x2, u64x2_extract_lane, v128, v128_or,
    };

    pub type Quad = v128;
    pub type Pair = v128;

    #[inline]
    #[target_feature(enable = "simd128")]
    pub fn splat(x: u32) -> Quad {
        u32x4_splat(x)
    }

    /// A zero the compiler cannot see through (see [`opaque`]).
    #[inline]
    #[target_feature(enable = "simd128")]
    pub fn opaque_zero() -> Quad {
        std::hint::black_box(u32x4_splat(0))
    }

    /// `x + zero`: the same value, but not loop-invariant and not known to be a load. Without it
    /// LLVM hoists the zero-extension of a splat out of the loop, or narrows a load to
    /// `i64x2.load32x2_u`, and then multiplies with `i64x2.mul` (emulated by V8 on x64 with
    /// three 32-bit multiplies) instead of one `extmul`.
    #[inline]
    #[target_feature(enable = "simd128")]
    pub fn opaque(x: Quad, zero: Quad) -> Quad {
        i32x4_add(x, zero)
    }

    #[inline]
    #[target_feature(enable = "simd128")]
    pub fn quad(x: [u32; 4], zero: Quad) -> Quad {
        v128_or(u32x4(x[0], x[1], x[2], x[3]), zero)
    }

    #[inline]
    #[target_feature(enable = "simd128")]
    pub fn pair(x: [u64; 2]) -> Pair {
        u64x2(x[0], x[1])
    }

    #[inline]
    #[target_feature(enable = "simd128")]
    pub fn unpair(x: Pair) -> [u64; 2] {
        [u64x2_extract_lane::<0>(x), u64x2_extract_lane::<1>(x)]
    }

    #[inline]
    #[target_feature(enable = "simd128")]
    pub fn add(x: Pair, y: Pair) -> Pair {
        i64x2_add(x, y)
    }

    /// Lanes 0 and 1 of `x` times those of `y`, as two 64-bit lanes.
    #[inline]
    #[target_feature(enable = "simd128")]
    pub fn mul_low(x: Quad, y: Quad) -> Pair {
        i64x2_extmul_low_u32x4(x, y)
    }

    /// Lanes 2 and 3 of `x` times those of `y`.
    #[inline]
    #[target_feature(enable = "simd128")]
    pub fn mul_high(x: Quad, y: Quad) -> Pair {
        i64x2_extmul_high_u32x4(x, y)
    }
}

#[cfg(not(all(target_arch = "wasm32", feature = "simd128")))]
mod lanes {
    pub type Quad = [u32; 4];
    pub type Pair = [u64; 2];

    pub fn splat(x: u32) -> Quad {
        [x; 4]
    }

    pub fn opaque_zero() -> Quad {
        [0; 4]
    }

    pub fn opaque(x: Quad, _zero: Quad) -> Quad {
        x
    }

    pub fn quad(x: [u32; 4], _zero: Quad) -> Quad {
        x
    }

    pub fn pair(x: [u64; 2]) -> Pair {
        x
    }

    pub fn unpair(x: Pair) -> [u64; 2] {
        x
    }

    // Plain `+` (not wrapping): debug builds of the tests check the accumulator bounds.
    pub fn add(x: Pair, y: Pair) -> Pair {
        [x[0] + y[0], x[1] + y[1]]
    }

    pub fn mul_low(x: Quad, y: Quad) -> Pair {
        [
            u64::from(x[0]) * u64::from(y[0]),
            u64::from(x[1]) * u64::from(y[1]),
        ]
    }

    pub fn mul_high(x: Quad, y: Quad) -> Pair {
        [
            u64::from(x[2]) * u64::from(y[2]),
            u64::from(x[3]) * u64::from(y[3]),
        ]
    }
}

/// `dst[j] = src[j] + a·w[j] + b·x[j] + c·y[j] + d·z[j]` for `j < dst.len()`, four at a time
/// (lengths are multiples of 4; the shortest slice bounds the loop): two rows of
/// [`mont_mul`]. No carries: the caller bounds the sums.
#[cfg_attr(
    all(target_arch = "wasm32", feature = "simd128"),
    target_feature(enable = "simd128")
)]
fn mul_add_rows(dst: &mut [u64], src: &[u64], terms: [(&[u32], u32); 4]) {
    let zero = lanes::opaque_zero();
    let [(w, a), (x, b), (y, c), (z, d)] = terms;
    let (mut a, mut b, mut c, mut d) = (
        lanes::splat(a),
        lanes::splat(b),
        lanes::splat(c),
        lanes::splat(d),
    );
    let rows = dst.chunks_exact_mut(4).zip(src.chunks_exact(4));
    let limbs =
        (w.chunks_exact(4).zip(x.chunks_exact(4))).zip(y.chunks_exact(4).zip(z.chunks_exact(4)));
    for ((dst, src), ((w, x), (y, z))) in rows.zip(limbs) {
        let (Ok::<&mut [u64; 4], _>(dst), Ok::<[u64; 4], _>(src)) =
            (dst.try_into(), src.try_into())
        else {
            continue;
        };
        (a, b) = (lanes::opaque(a, zero), lanes::opaque(b, zero));
        (c, d) = (lanes::opaque(c, zero), lanes::opaque(d, zero));
        let sum = (lanes::pair([src[0], src[1]]), lanes::pair([src[2], src[3]]));
        let sum = add_products(sum, w, a, zero);
        let sum = add_products(sum, x, b, zero);
        let sum = add_products(sum, y, c, zero);
        let (low, high) = add_products(sum, z, d, zero);
        [dst[0], dst[1]] = lanes::unpair(low);
        [dst[2], dst[3]] = lanes::unpair(high);
    }
}

/// `dst[j] += a·x[j] + b·y[j]` for `j < dst.len()`, as [`mul_add_rows`]: two rows of
/// [`mont_sqr`].
#[cfg_attr(
    all(target_arch = "wasm32", feature = "simd128"),
    target_feature(enable = "simd128")
)]
fn add_rows(dst: &mut [u64], terms: [(&[u32], u32); 2]) {
    let zero = lanes::opaque_zero();
    let [(x, a), (y, b)] = terms;
    let (mut a, mut b) = (lanes::splat(a), lanes::splat(b));
    for (dst, (x, y)) in dst
        .chunks_exact_mut(4)
        .zip(x.chunks_exact(4).zip(y.chunks_exact(4)))
    {
        let Ok::<&mut [u64; 4], _>(dst) = dst.try_into() else {
            continue;
        };
        (a, b) = (lanes::opaque(a, zero), lanes::opaque(b, zero));
        let sum = (lanes::pair([dst[0], dst[1]]), lanes::pair([dst[2], dst[3]]));
        let sum = add_products(sum, x, a, zero);
        let (low, high) = add_products(sum, y, b, zero);
        [dst[0], dst[1]] = lanes::unpair(low);
        [dst[2], dst[3]] = lanes::unpair(high);
    }
}

/// `(low, high) + limbs·factor`: the four products of four limbs (a group of a row) and a
/// factor splat over the lanes, added to the four accumulators.
#[inline]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "simd128"),
    target_feature(enable = "simd128")
)]
fn add_products(
    (low, high): (lanes::Pair, lanes::Pair),
    limbs: &[u32],
    factor: lanes::Quad,
    zero: lanes::Quad,
) -> (lanes::Pair, lanes::Pair) {
    let Ok::<[u32; 4], _>(limbs) = limbs.try_into() else {
        return (low, high);
    };
    let limbs = lanes::quad(limbs, zero);
    (
        lanes::add(low, lanes::mul_low(limbs, factor)),
        lanes::add(high, lanes::mul_high(limbs, factor)),
    )
}

/// Carry propagation: every accumulator but the last brought below 2²⁸, the value unchanged
/// (the last keeps whatever is above; callers know the value fits).
fn propagate_carries(t: &mut [u64]) {
    let Some((last, rest)) = t.split_last_mut() else {
        return;
    };
    let mut carry = 0u64;
    for v in rest {
        let sum = *v + carry;
        *v = sum & u64::from(LIMB_MASK);
        carry = sum >> LIMB_BITS;
    }
    *last += carry;
}

/// `out` = the accumulators `t` as limbs, carries propagated. `out` may be longer (its other
/// limbs are zero when, as callers ensure, the value fits in `t.len()` limbs).
fn limbs_from_accumulators(out: &mut [u32], t: &[u64]) {
    let mut carry = 0u64;
    let mut values = t.iter();
    for o in out.iter_mut() {
        let sum = values.next().copied().unwrap_or(0) + carry;
        *o = sum as u32 & LIMB_MASK;
        carry = sum >> LIMB_BITS;
    }
}

/// Scratch space of the Montgomery operations for a modulus of `L` limbs.
pub(super) struct Scratch {
    /// `2L + PAD` accumulators: a row of [`mont_mul`], or the double-width square.
    t: Vec<u64>,
    /// `L + PAD` accumulators: [`mont_mul`]'s other row.
    u: Vec<u64>,
    /// `L + PAD` limbs: the doubled operand of [`mont_sqr`].
    doubled: Vec<u32>,
}

impl Scratch {
    pub(super) fn new(limbs: usize) -> Scratch {
        Scratch {
            t: vec![0; 2 * limbs + PAD],
            u: vec![0; limbs + PAD],
            doubled: vec![0; limbs + PAD],
        }
    }
}

/// Montgomery multiplication `out = a·b·R⁻¹ mod n`, up to one `n`: inputs below `2n`, output
/// below `2n` (see [`limb_count`]). All limb slices have `L + PAD` limbs, the last `PAD` zero;
/// `out` may not alias `a` or `b`.
///
/// Operand scanning with the multiply and reduce passes fused (CIOS, Koç, Acar, Kaliski 1996),
/// but with delayed carries, two rows per pass over the accumulators: rows `i` and `i+1` compute
/// `t = (t + a_i·b + m_i·n + (a_{i+1}·b + m_{i+1}·n)·2²⁸) / 2⁵⁶` on 64-bit accumulators. Only the
/// two lowest take their carries (the division shifts the rest down two places); `m_i` and
/// `m_{i+1}` need only the low 28 bits of those two, which are exact. Every [`ROWS_PER_CARRY`]
/// rows all carries are propagated.
#[cfg_attr(
    all(target_arch = "wasm32", feature = "simd128"),
    target_feature(enable = "simd128")
)]
pub(super) fn mont_mul(
    out: &mut [u32],
    a: &[u32],
    b: &[u32],
    n: &[u32],
    n0_inv: u32,
    scratch: &mut Scratch,
) {
    let limbs = n.len().saturating_sub(PAD);
    let limb = |x: &[u32], j: usize| u64::from(x.get(j).copied().unwrap_or(0));
    let (b0, b1, n0, n1) = (limb(b, 0), limb(b, 1), limb(n, 0), limb(n, 1));
    let (Some(b_from_1), Some(b_from_2), Some(n_from_1), Some(n_from_2)) = (
        b.get(1..=limbs),
        b.get(2..limbs + 2),
        n.get(1..=limbs),
        n.get(2..limbs + 2),
    ) else {
        return;
    };
    let (Some(mut t), Some(mut next)) = (
        scratch.t.get_mut(..limbs + PAD),
        scratch.u.get_mut(..limbs + PAD),
    ) else {
        return;
    };
    t.fill(0);
    next.fill(0);
    let pairs = a.get(..limbs).unwrap_or_default().chunks_exact(2);
    for (rows_done, pair) in (2..).step_by(2).zip(pairs) {
        let &[ai, aj] = pair else {
            continue;
        };
        let (xi, xj) = (u64::from(ai), u64::from(aj));
        let (t0, t1) = (t.first().copied(), t.get(1).copied());
        let s0 = t0.unwrap_or(0) + xi * b0;
        // `as u32`: only the low bits of s0 matter for m = s0·(-n⁻¹) mod 2²⁸.
        let mi = (s0 as u32).wrapping_mul(n0_inv) & LIMB_MASK;
        let c0 = (s0 + u64::from(mi) * n0) >> LIMB_BITS;
        let s1 = t1.unwrap_or(0) + xi * b1 + u64::from(mi) * n1 + c0 + xj * b0;
        let mj = (s1 as u32).wrapping_mul(n0_inv) & LIMB_MASK;
        let c1 = (s1 + u64::from(mj) * n0) >> LIMB_BITS;
        // Accumulator j+2 lands in slot j of the next pass; slots from L on stay zero.
        let (Some(src), Some(dst)) = (t.get(2..limbs + 2), next.get_mut(..limbs)) else {
            return;
        };
        mul_add_rows(
            dst,
            src,
            [
                (b_from_2, ai),
                (n_from_2, mi),
                (b_from_1, aj),
                (n_from_1, mj),
            ],
        );
        if let Some(low) = dst.first_mut() {
            *low += c1;
        }
        if rows_done % ROWS_PER_CARRY == 0 {
            propagate_carries(dst);
        }
        std::mem::swap(&mut t, &mut next);
    }
    limbs_from_accumulators(out, t.get(..limbs).unwrap_or_default());
}

/// Montgomery squaring, `out = a²·R⁻¹ mod n` up to one `n`, with [`mont_mul`]'s conditions:
/// the square is computed in full first, each cross product `a_i·a_j` once (as `a_i·2a_j`),
/// then reduced; both two rows per pass. About 1.5·L² limb products against 2·L² for
/// [`mont_mul`].
#[cfg_attr(
    all(target_arch = "wasm32", feature = "simd128"),
    target_feature(enable = "simd128")
)]
pub(super) fn mont_sqr(out: &mut [u32], a: &[u32], n: &[u32], n0_inv: u32, scratch: &mut Scratch) {
    let limbs = n.len().saturating_sub(PAD);
    let Some(t) = scratch.t.get_mut(..2 * limbs + PAD) else {
        return;
    };
    let doubled = &mut scratch.doubled;
    t.fill(0);
    // Limbs are below 2²⁸, so doubling them does not carry.
    for (d, &x) in doubled.iter_mut().zip(a) {
        *d = x << 1;
    }
    let limb = |x: &[u32], j: usize| u64::from(x.get(j).copied().unwrap_or(0));
    // Row i adds a_i² at 2i and a_i·2a_j (j > i) at i + j. Rows i and i+1 (i even) together:
    // the first three places by hand, then both rows from 2i+3 on, in groups of four over zero
    // limbs past the end (the last group ends before 2L + 2).
    for i in (0..limbs).step_by(2) {
        let (ai, aj) = (
            a.get(i).copied().unwrap_or(0),
            a.get(i + 1).copied().unwrap_or(0),
        );
        let (xi, xj) = (u64::from(ai), u64::from(aj));
        let Some([p0, p1, p2]) = t.get_mut(2 * i..2 * i + 3) else {
            return;
        };
        *p0 += xi * xi;
        *p1 += xi * limb(doubled, i + 1);
        *p2 += xi * limb(doubled, i + 2) + xj * xj;
        let run = (limbs.saturating_sub(i + 3)).next_multiple_of(4);
        let (Some(dst), Some(x), Some(y)) = (
            t.get_mut(2 * i + 3..2 * i + 3 + run),
            doubled.get(i + 3..i + 3 + run),
            doubled.get(i + 2..i + 2 + run),
        ) else {
            return;
        };
        add_rows(dst, [(x, ai), (y, aj)]);
        if (i + 2) % ROWS_PER_CARRY == 0 {
            propagate_carries(t);
        }
    }
    // a² < R², so all of it is in the first 2L accumulators.
    propagate_carries(t.get_mut(..2 * limbs).unwrap_or_default());
    // Reduction, rows i and i+1 together: m_i·n at i clears the low 28 bits of accumulator i,
    // m_{i+1}·n at i+1 those of accumulator i+1 (with i's carry). Both are added from i+1 on;
    // at i only the carry matters. Then accumulators L..2L hold a²·R⁻¹ + (a multiple of n).
    let (n0, n1) = (limb(n, 0), limb(n, 1));
    let (Some(n_from_0), Some(n_from_1)) = (n.get(..limbs), n.get(1..=limbs)) else {
        return;
    };
    for i in (0..limbs).step_by(2) {
        let (low, high) = (t.get(i).copied().unwrap_or(0), t.get(i + 1).copied());
        let mi = (low as u32).wrapping_mul(n0_inv) & LIMB_MASK;
        let c0 = (low + u64::from(mi) * n0) >> LIMB_BITS;
        let s1 = high.unwrap_or(0) + u64::from(mi) * n1 + c0;
        let mj = (s1 as u32).wrapping_mul(n0_inv) & LIMB_MASK;
        let Some(row) = t.get_mut(i + 1..i + 1 + limbs) else {
            return;
        };
        add_rows(row, [(n_from_1, mi), (n_from_0, mj)]);
        let Some([low, next]) = t.get_mut(i + 1..i + 3) else {
            return;
        };
        *low += c0;
        *next += *low >> LIMB_BITS;
        if (i + 2) % ROWS_PER_CARRY == 0 {
            propagate_carries(t.get_mut(i + 2..2 * limbs).unwrap_or_default());
        }
    }
    limbs_from_accumulators(out, t.get(limbs..2 * limbs).unwrap_or_default());
}

/// `a -= b` modulo `2^(28·len)` (the caller knows the true result is non-negative).
pub(super) fn sub_in_place(a: &mut [u32], b: &[u32]) {
    let mut borrow = 0u32;
    for (x, &y) in a.iter_mut().zip(b) {
        let d = x.wrapping_sub(y).wrapping_sub(borrow);
        borrow = d >> 31;
        *x = d & LIMB_MASK;
    }
}

/// `a` compared with `b`, both little-endian with the same number of limbs.
pub(super) fn compare(a: &[u32], b: &[u32]) -> Ordering {
    a.iter().rev().cmp(b.iter().rev())
}

/// `x mod n` for `x < 2n`.
pub(super) fn reduce_once(x: &mut [u32], n: &[u32]) {
    if compare(x, n) != Ordering::Less {
        sub_in_place(x, n);
    }
}

/// `x = 2x mod n` for `x < n` (the padding limbs leave room for the carry).
pub(super) fn double_mod(x: &mut [u32], n: &[u32]) {
    let mut carry = 0u32;
    for limb in x.iter_mut() {
        let doubled = *limb << 1 | carry;
        carry = doubled >> LIMB_BITS;
        *limb = doubled & LIMB_MASK;
    }
    reduce_once(x, n);
}

/// `-n0⁻¹ mod 2²⁸` for odd `n0`.
pub(super) fn neg_inverse(n0: u32) -> u32 {
    neg_inverse_mod(u64::from(n0), LIMB_BITS) as u32
}

/// `-n0⁻¹ mod 2^bits` for odd `n0` and `bits ≤ 64`, by Newton's iteration: `n0` is its own
/// inverse mod 8, and each step doubles the number of correct low bits (3, 6, 12, 24, 48, 96).
/// Both engines' Montgomery factor.
pub(super) fn neg_inverse_mod(n0: u64, bits: u32) -> u64 {
    let mut inv = n0;
    for _ in 0..5 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(n0.wrapping_mul(inv)));
    }
    inv.wrapping_neg() & (u64::MAX >> (64 - bits))
}

/// `R² mod n`, `R = 2^(28·L)`, for odd `n` of `bits` bits (`bits ≥ 2`), fully reduced.
///
/// Tracks `x = 2^a·R mod n` (the Montgomery form of `2^a`): a Montgomery squaring doubles `a`,
/// a modular doubling adds one. Doublings are cheap (linear) and squarings are not (quadratic),
/// so: double `2^(bits-1)` (below `n`) up to `a = 28·L / 16`, then four squarings, each followed
/// by a doubling where the next binary digit of `28·L` is one, reach `a = 28·L`.
pub(super) fn r_squared(n: &[u32], n0_inv: u32, bits: usize) -> Vec<u32> {
    const SQUARINGS: u32 = 4;
    let limbs = n.len().saturating_sub(PAD);
    let target = LIMB_BITS as usize * limbs;
    let mut x = vec![0u32; n.len()];
    let top_bit = bits - 1;
    if let Some(limb) = x.get_mut(top_bit / LIMB_BITS as usize) {
        *limb = 1 << (top_bit % LIMB_BITS as usize);
    }
    // 2^(bits-1) → 2^(28·L + a) = 2^a·R, with a = target >> SQUARINGS (at least 2).
    for _ in top_bit..target + (target >> SQUARINGS) {
        double_mod(&mut x, n);
    }
    let mut t = vec![0u32; n.len()];
    let mut scratch = Scratch::new(limbs);
    for shift in (0..SQUARINGS).rev() {
        mont_sqr(&mut t, &x, n, n0_inv, &mut scratch);
        reduce_once(&mut t, n);
        std::mem::swap(&mut x, &mut t);
        if target >> shift & 1 == 1 {
            double_mod(&mut x, n);
        }
    }
    x
}

/// Big-endian bytes to `len` little-endian limbs of 28 bits; the value must fit.
pub(super) fn limbs_from_be(bytes: &[u8], len: usize) -> Vec<u32> {
    let mut out = Vec::with_capacity(len + 1);
    let (mut acc, mut acc_bits) = (0u64, 0u32);
    for &byte in bytes.iter().rev() {
        acc |= u64::from(byte) << acc_bits;
        acc_bits += 8;
        if acc_bits >= LIMB_BITS {
            out.push(acc as u32 & LIMB_MASK);
            acc >>= LIMB_BITS;
            acc_bits -= LIMB_BITS;
        }
    }
    out.push(acc as u32);
    out.resize(len, 0);
    out
}

/// The low `len` bytes of the 28-bit limbs, big-endian (the value must fit: the bits dropped
/// are zero).
pub(super) fn be_from_limbs(limbs: &[u32], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let mut bytes = out.iter_mut().rev();
    let (mut acc, mut acc_bits) = (0u64, 0u32);
    for &limb in limbs {
        acc |= u64::from(limb) << acc_bits;
        acc_bits += LIMB_BITS;
        while acc_bits >= 8 {
            if let Some(byte) = bytes.next() {
                *byte = acc as u8;
            }
            acc >>= 8;
            acc_bits -= 8;
        }
    }
    if let Some(byte) = bytes.next() {
        *byte = acc as u8;
    }
    out
}
