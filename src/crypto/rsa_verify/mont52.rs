//! Montgomery arithmetic on 50-bit limbs held in `f64`, with exact products from fused
//! multiply-add: the RSA public operation's fast path where the engine fuses
//! `f64x2.relaxed_madd` (V8 on any x64 with FMA3, and every arm64).
//!
//! A product `p = x·y` of two limbs below 2⁵¹ is below 2¹⁰², and two fused multiply-adds split it
//! exactly (the trick of Emmart, Zheng and Weems, "Faster modular exponentiation using double
//! precision floating point arithmetic on the GPU", ARITH 2018):
//!
//! - `h = fma(x, y, 2¹⁰²)` lies in `[2¹⁰², 2¹⁰³]`, where a double's step is 2⁵⁰: `h = 2¹⁰² +
//!   H·2⁵⁰` with `H = round(p / 2⁵⁰)`, and the bits of `h` as an integer are those of `2¹⁰²` plus
//!   `H`;
//! - `l = fma(x, y, -(h - 2¹⁰²)) = p - H·2⁵⁰` is exact and in `[-2⁴⁹, 2⁴⁹]`, and `l + 3·2⁵¹`
//!   lies in `[2⁵², 2⁵³]`, where the step is 1: its bits are those of `3·2⁵¹` plus `l`.
//!
//! So `p = l + H·2⁵⁰` with both parts as 64-bit integers: the bit patterns are added to 64-bit
//! accumulators as they are, and the constant part of every pattern added (a multiple of 2⁵⁰)
//! is taken off at once by starting each accumulator at minus their sum (`Modulus::mul_bias`,
//! `sqr_bias`). A place takes at most `2L` high parts below 2⁵¹ and as many low parts, so for
//! the largest keys (8192 bits, `L` = 164) its value stays below 2⁶¹: no accumulator overflows,
//! and carries wait until the reduction reaches the place. Against
//! [`crate::crypto::rsa_verify`]'s 28-bit limbs on 32-bit multiplies this is 0.31× the limb products,
//! and a wasm `f64x2` fused multiply-add costs V8 no shuffle, where every 32×32→64-bit product
//! costs it two.
//!
//! The exactness rests on the multiply-add being fused. `relaxed_madd` may round twice on an
//! engine without FMA; [`fused`] tells which one this engine does, and the caller keeps the
//! 28-bit engine where it rounds twice. Native builds (the tests) use `f64::mul_add`, which is
//! always fused (in software on an x86-64 target without `fma`, which is why native builds
//! there pick the 28-bit engine unless asked by name). Only the default wasm build (cargo
//! feature `relaxed-simd`) has this engine; the `simd128` and portable builds leave it out
//! (docs/builds.md).

/// Bits per limb.
const BITS: u32 = 50;
const MASK: u64 = (1 << BITS) - 1;

/// Zero limbs after the last, so the two-lane loops can read a whole pair past a row's end.
const PAD: usize = 2;

/// Accumulators for `L` limbs: places up to `2L + 2` (the output's `L + PAD` from `L` on), in
/// groups of two places from place -1 (see [`lo_ix`]).
fn acc_len(limbs: usize) -> usize {
    lo_ix(2 * limbs + PAD + 1) + 4
}

/// `2¹⁰²`: added to a product, the sum's step is 2⁵⁰ (the high part's unit).
const HIGH: f64 = 5_070_602_400_912_917_605_986_812_821_504.0;
/// `3·2⁵¹`: added to a low part in `[-2⁴⁹, 2⁴⁹]`, the sum's step is 1.
const LOW: f64 = 6_755_399_441_055_744.0;

/// Two-lane operations: wasm SIMD128 with relaxed SIMD's fused multiply-add on wasm32, the same
/// on arrays elsewhere (`f64::mul_add`, always fused), so the native tests run the same loops.
/// A wasm build without the `relaxed-simd` feature gets the arrays too, but never runs them:
/// [`crate::crypto::rsa_verify::Engine::built`] leaves this engine out of such a build (`mul_add` would be
/// a software routine there, far slower than the 28-bit engine).
#[cfg(all(target_arch = "wasm32", feature = "relaxed-simd"))]
mod lanes {
    use core::arch::wasm32::{
        f64x2, f64x2_add, f64x2_extract_lane, f64x2_relaxed_madd, f64x2_splat, f64x2_sub, i64x2,
        i64x2_add, i64x2_extract_lane, v128,
    };

    pub type F = v128;
    pub type I = v128;

    #[inline]
    #[target_feature(enable = "simd128")]
    pub fn splat(x: f64) -> F {
        f64x2_splat(x)
    }

    #[inline]
    #[target_feature(enable = "simd128")]
    pub fn load(x: &[f64; 2]) -> F {
        f64x2(x[0], x[1])
    }

    #[inline]
    #[target_feature(enable = "simd128")]
    pub fn load_i(x: &[i64; 2]) -> I {
        i64x2(x[0], x[1])
    }

    #[inline]
    #[target_feature(enable = "simd128")]
    pub fn unpack_i(x: I) -> [i64; 2] {
        [i64x2_extract_lane::<0>(x), i64x2_extract_lane::<1>(x)]
    }

    #[inline]
    #[target_feature(enable = "simd128,relaxed-simd")]
    pub fn madd(a: F, b: F, c: F) -> F {
        f64x2_relaxed_madd(a, b, c)
    }

    #[inline]
    #[target_feature(enable = "simd128")]
    pub fn add(a: F, b: F) -> F {
        f64x2_add(a, b)
    }

    #[inline]
    #[target_feature(enable = "simd128")]
    pub fn sub(a: F, b: F) -> F {
        f64x2_sub(a, b)
    }

    /// `a + (the bits of b)`, lane by lane, wrapping.
    #[inline]
    #[target_feature(enable = "simd128")]
    pub fn add_bits(a: I, b: F) -> I {
        i64x2_add(a, b)
    }

    #[inline]
    #[target_feature(enable = "simd128")]
    pub fn first(x: F) -> f64 {
        f64x2_extract_lane::<0>(x)
    }
}

#[cfg(not(all(target_arch = "wasm32", feature = "relaxed-simd")))]
mod lanes {
    pub type F = [f64; 2];
    pub type I = [i64; 2];

    pub fn splat(x: f64) -> F {
        [x; 2]
    }

    pub fn load(x: &[f64; 2]) -> F {
        *x
    }

    pub fn load_i(x: &[i64; 2]) -> I {
        *x
    }

    pub fn unpack_i(x: I) -> [i64; 2] {
        x
    }

    pub fn madd(a: F, b: F, c: F) -> F {
        [a[0].mul_add(b[0], c[0]), a[1].mul_add(b[1], c[1])]
    }

    pub fn add(a: F, b: F) -> F {
        [a[0] + b[0], a[1] + b[1]]
    }

    pub fn sub(a: F, b: F) -> F {
        [a[0] - b[0], a[1] - b[1]]
    }

    pub fn add_bits(a: I, b: F) -> I {
        [
            a[0].wrapping_add(b[0].to_bits() as i64),
            a[1].wrapping_add(b[1].to_bits() as i64),
        ]
    }

    pub fn first(x: F) -> f64 {
        x[0]
    }
}

/// Whether this engine's multiply-add is fused: `(1 + 2⁻³⁰)² - (1 + 2⁻²⁹)` is `2⁻⁶⁰` with one
/// rounding and 0 with two.
#[cfg_attr(
    all(target_arch = "wasm32", feature = "relaxed-simd"),
    target_feature(enable = "simd128,relaxed-simd")
)]
pub fn fused() -> bool {
    let x = std::hint::black_box(1.0 + 1.0 / f64::from(1u32 << 30));
    let c = std::hint::black_box(-(1.0 + 1.0 / f64::from(1u32 << 29)));
    let r = lanes::madd(lanes::splat(x), lanes::splat(x), lanes::splat(c));
    lanes::first(r) != 0.0
}

/// Two rows at once, from an odd place `s` on: for `t = 0, 1, ..`, place `s + t` takes
/// `p·x[t+1] + q·x[t]`, as the bit patterns of the module. `acc` is [`Work::acc`] from `s`'s
/// group on, and `x` has one more element than the places to fill (pairs of them, bounded by the
/// shorter of the two). The two low parts are added as doubles first: their sum, within ±2⁵⁰, is
/// exact, and so is that plus `3·2⁵¹`.
#[cfg_attr(
    all(target_arch = "wasm32", feature = "relaxed-simd"),
    target_feature(enable = "simd128,relaxed-simd")
)]
fn add_rows(acc: &mut [i64], x: &[f64], p: f64, q: f64) {
    let (p, q) = (lanes::splat(p), lanes::splat(q));
    let (high, low) = (lanes::splat(HIGH), lanes::splat(LOW));
    let operands = x
        .get(1..)
        .unwrap_or_default()
        .chunks_exact(2)
        .zip(x.chunks_exact(2));
    for (acc, (x, y)) in acc.chunks_exact_mut(4).zip(operands) {
        let (Ok::<&mut [i64; 4], _>(acc), Ok::<&[f64; 2], _>(x), Ok::<&[f64; 2], _>(y)) =
            (acc.try_into(), x.try_into(), y.try_into())
        else {
            continue;
        };
        let (x, y) = (lanes::load(x), lanes::load(y));
        let (hx, hy) = (lanes::madd(x, p, high), lanes::madd(y, q, high));
        let lx = lanes::madd(x, p, lanes::sub(high, hx));
        let ly = lanes::madd(y, q, lanes::sub(high, hy));
        let sum_lo = lanes::add_bits(
            lanes::load_i(&[acc[0], acc[1]]),
            lanes::add(lanes::add(lx, ly), low),
        );
        let sum_hi = lanes::add_bits(lanes::add_bits(lanes::load_i(&[acc[2], acc[3]]), hx), hy);
        [acc[0], acc[1]] = lanes::unpack_i(sum_lo);
        [acc[2], acc[3]] = lanes::unpack_i(sum_hi);
    }
}

/// `x·y = low + high·2⁵⁰` exactly, for `x, y < 2⁵¹`, in integers (`low < 2⁵¹`, `high < 2⁵³`).
fn mul_exact(x: u64, y: u64) -> (i64, i64) {
    const HALF: u32 = BITS / 2;
    const HALF_MASK: u64 = (1 << HALF) - 1;
    let (x1, x0, y1, y0) = (x >> HALF, x & HALF_MASK, y >> HALF, y & HALF_MASK);
    let mid = x1 * y0 + x0 * y1;
    let low = x0 * y0 + ((mid & HALF_MASK) << HALF);
    let high = x1 * y1 + (mid >> HALF);
    (low as i64, high as i64)
}

/// Where place `k`'s low accumulator is in [`Work::acc`]: places go in groups of two from
/// place -1 (a place that is never used), so that every odd place starts a group, and a group
/// is four accumulators, the two low ones then the two high ones.
fn lo_ix(k: usize) -> usize {
    4 * k.div_ceil(2) + (k + 1) % 2
}

/// Where place `k`'s high accumulator (a part of place `k + 1`) is in [`Work::acc`].
fn hi_ix(k: usize) -> usize {
    lo_ix(k) + 2
}

/// The accumulators of place `k`'s group and those after it.
fn group_from(acc: &mut [i64], k: usize) -> &mut [i64] {
    acc.get_mut(lo_ix(k)..).unwrap_or_default()
}

/// Adds a product found by hand (exact, no constant part) at place `k`.
fn add_at(acc: &mut [i64], k: usize, (low, high): (i64, i64)) {
    if let Some(lo) = acc.get_mut(lo_ix(k)) {
        *lo = lo.wrapping_add(low);
    }
    if let Some(hi) = acc.get_mut(hi_ix(k)) {
        *hi = hi.wrapping_add(high);
    }
}

/// A modulus prepared for Montgomery arithmetic with `R = 2^(50·L)`, `R > 4n`.
#[derive(Clone)]
pub struct Modulus {
    /// `L` limbs of `n`, then `PAD` zeros.
    n: Vec<f64>,
    /// `-n⁻¹ mod 2⁵⁰`.
    n_inv: u64,
    /// `R² mod n`, as `n`.
    r2: Vec<f64>,
    limbs: usize,
    /// The accumulators' starting values for [`mul`](Self::mul) and [`sqr`](Self::sqr): minus
    /// the constant part of every bit pattern each adds (see the module). Found by running the
    /// operation on zeros, where every product is 0 and adds exactly that constant part.
    mul_bias: Vec<i64>,
    sqr_bias: Vec<i64>,
}

/// The scratch space of one operation.
struct Work {
    /// The 64-bit accumulators of the double-width value, in groups (see [`lo_ix`]).
    acc: Vec<i64>,
    doubled: Vec<f64>,
    /// Set while finding the biases: every `m` is then 0 (the carries are meaningless).
    counting: bool,
}

impl Modulus {
    /// `n` big-endian, odd, of `bits` bits.
    pub fn new(n: &[u8], bits: usize) -> Option<Modulus> {
        let limbs = (bits + 2).div_ceil(BITS as usize).next_multiple_of(2);
        let n = limbs_from_be(n, limbs + PAD)?;
        let low = n.first().copied()? as u64;
        if low & 1 == 0 {
            return None;
        }
        let mut m = Modulus {
            n,
            n_inv: neg_inverse(low),
            r2: Vec::new(),
            limbs,
            mul_bias: vec![0; acc_len(limbs)],
            sqr_bias: vec![0; acc_len(limbs)],
        };
        let zeros = vec![0.0; limbs + PAD];
        let mut out = zeros.clone();
        let mut work = m.work();
        work.counting = true;
        m.mul(&mut out, &zeros, &zeros, &mut work);
        m.mul_bias = work.acc.iter().map(|x| x.wrapping_neg()).collect();
        m.sqr(&mut out, &zeros, &mut work);
        m.sqr_bias = work.acc.iter().map(|x| x.wrapping_neg()).collect();
        m.r2 = m.r_squared(bits);
        Some(m)
    }

    fn work(&self) -> Work {
        Work {
            acc: vec![0; acc_len(self.limbs)],
            doubled: vec![0.0; self.limbs + PAD],
            counting: false,
        }
    }

    /// `s^e mod n` for `s < n` (big-endian, at most `byte_len` bytes), as `byte_len` big-endian
    /// bytes; `squarings` is 1 for `e = 3` and 16 for `e = 65537`.
    pub fn pow(&self, s: &[u8], squarings: usize, byte_len: usize) -> Option<Vec<u8>> {
        let s = limbs_from_be(s, self.limbs + PAD)?;
        let mut work = self.work();
        let mut x = vec![0.0; self.limbs + PAD];
        let mut t = x.clone();
        self.mul(&mut x, &s, &self.r2, &mut work);
        for _ in 0..squarings {
            self.sqr(&mut t, &x, &mut work);
            std::mem::swap(&mut x, &mut t);
        }
        self.mul(&mut t, &x, &s, &mut work);
        reduce_once(&mut t, &self.n);
        be_from_limbs(&t, byte_len)
    }

    /// `out = a·b·R⁻¹ mod n` up to one `n`: inputs below `2n`, output below `2n`. Rows `i` and
    /// `i+1` together: `a_i·b_0` by hand at `i`, then `a_i·b_{t+1} + a_{i+1}·b_t` at `i+1+t`.
    fn mul(&self, out: &mut [f64], a: &[f64], b: &[f64], work: &mut Work) {
        let l = self.limbs;
        work.acc.copy_from_slice(&self.mul_bias);
        let Some(b) = b.get(..=l) else {
            return;
        };
        let b0 = b.first().copied().unwrap_or(0.0) as u64;
        for (i, pair) in (0..)
            .step_by(2)
            .zip(a.get(..l).unwrap_or_default().chunks_exact(2))
        {
            let &[ai, aj] = pair else {
                continue;
            };
            add_at(&mut work.acc, i, mul_exact(ai as u64, b0));
            add_rows(group_from(&mut work.acc, i + 1), b, ai, aj);
        }
        self.reduce(out, work);
    }

    /// `out = a²·R⁻¹ mod n`, as [`mul`](Self::mul): each cross product `a_i·a_j` once, as
    /// `a_i·2a_j` (limbs below 2⁵¹, products below 2¹⁰¹). Rows `i` and `i+1` together: the
    /// places `2i` to `2i+2` by hand, then `a_i·2a_{t+3} + a_{i+1}·2a_{t+2}` at `2i+3+t`.
    fn sqr(&self, out: &mut [f64], a: &[f64], work: &mut Work) {
        let l = self.limbs;
        work.acc.copy_from_slice(&self.sqr_bias);
        for (d, &x) in work.doubled.iter_mut().zip(a) {
            *d = 2.0 * x;
        }
        let limb = |x: &[f64], j: usize| x.get(j).copied().unwrap_or(0.0) as u64;
        for i in (0..l).step_by(2) {
            let (ai, aj) = (limb(a, i), limb(a, i + 1));
            let acc = &mut work.acc;
            add_at(acc, 2 * i, mul_exact(ai, ai));
            add_at(acc, 2 * i + 1, mul_exact(ai, limb(&work.doubled, i + 1)));
            add_at(acc, 2 * i + 2, mul_exact(aj, aj));
            add_at(acc, 2 * i + 2, mul_exact(ai, limb(&work.doubled, i + 2)));
            // Row i's last product is at i + L - 1, row i+1's at i + L.
            let run = (l - i - 2).next_multiple_of(2);
            let Some(x) = work.doubled.get(i + 2..=i + 2 + run) else {
                return;
            };
            add_rows(group_from(acc, 2 * i + 3), x, ai as f64, aj as f64);
        }
        self.reduce(out, work);
    }

    /// Montgomery reduction of the double-width value in `work`, where the value at place `k` is
    /// its low accumulator and the high one of `k - 1`. Rows `i` and `i+1` together: `m_i`
    /// clears the low 50 bits of place `i`, `m_{i+1}` those of place `i+1` with `i`'s carry
    /// (and `m_i·n_0`'s high part and `m_i·n_1`, found by hand); then `m_i·n_{t+1} +
    /// m_{i+1}·n_t` at `i+1+t`. `out` = the places from `L` on.
    fn reduce(&self, out: &mut [f64], work: &mut Work) {
        let l = self.limbs;
        let Some(n) = self.n.get(..=l) else {
            return;
        };
        let limb = |x: &[f64], j: usize| x.get(j).copied().unwrap_or(0.0) as u64;
        let (n0, n1) = (limb(n, 0), limb(n, 1));
        let acc = &mut work.acc;
        // The value at place k, without the carry from below.
        let place = |acc: &[i64], k: usize| {
            let below = match k {
                0 => 0,
                _ => acc.get(hi_ix(k - 1)).copied().unwrap_or(0),
            };
            acc.get(lo_ix(k)).copied().unwrap_or(0).wrapping_add(below)
        };
        let factor = |v: i64| (v as u64 & MASK).wrapping_mul(self.n_inv) & MASK;
        let mut carry = 0i64;
        for i in (0..l).step_by(2) {
            let v = place(acc, i).wrapping_add(carry);
            let mi = if work.counting { 0 } else { factor(v) };
            // v + m_i·n_0 is a multiple of 2⁵⁰: place i's carry, m_i·n_0's high part included.
            let (low, high) = mul_exact(mi, n0);
            let carry_i = high.wrapping_add(v.wrapping_add(low) >> BITS);
            let next = place(acc, i + 1)
                .wrapping_add(carry_i)
                .wrapping_add(mi.wrapping_mul(n1) as i64);
            let mj = if work.counting { 0 } else { factor(next) };
            add_rows(group_from(acc, i + 1), n, mi as f64, mj as f64);
            carry = place(acc, i + 1).wrapping_add(carry_i) >> BITS;
        }
        for (k, o) in out.iter_mut().enumerate() {
            let v = place(acc, l + k).wrapping_add(carry);
            *o = (v as u64 & MASK) as f64;
            carry = v >> BITS;
        }
    }

    /// `R² mod n`: `2^(bits-1)` doubled up to `2^a·R` with `a = 50·L/16`, then four squarings,
    /// each followed by a doubling where the next binary digit of `50·L` is one.
    fn r_squared(&self, bits: usize) -> Vec<f64> {
        const SQUARINGS: u32 = 4;
        let target = BITS as usize * self.limbs;
        let mut x = vec![0.0; self.limbs + PAD];
        let top = bits - 1;
        if let Some(limb) = x.get_mut(top / BITS as usize) {
            *limb = (1u64 << (top % BITS as usize)) as f64;
        }
        for _ in top..target + (target >> SQUARINGS) {
            double_mod(&mut x, &self.n);
        }
        let mut t = x.clone();
        let mut work = self.work();
        for shift in (0..SQUARINGS).rev() {
            self.sqr(&mut t, &x, &mut work);
            reduce_once(&mut t, &self.n);
            std::mem::swap(&mut x, &mut t);
            if target >> shift & 1 == 1 {
                double_mod(&mut x, &self.n);
            }
        }
        x
    }
}

fn compare(a: &[f64], b: &[f64]) -> std::cmp::Ordering {
    a.iter()
        .rev()
        .zip(b.iter().rev())
        .map(|(x, y)| (*x as u64).cmp(&(*y as u64)))
        .find(|o| o.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

/// `x mod n` for `x < 2n`.
fn reduce_once(x: &mut [f64], n: &[f64]) {
    if compare(x, n).is_ge() {
        let mut borrow = 0i64;
        for (a, &b) in x.iter_mut().zip(n) {
            let d = *a as i64 - b as i64 - borrow;
            borrow = i64::from(d < 0);
            *a = (d as u64 & MASK) as f64;
        }
    }
}

/// `x = 2x mod n` for `x < n` (the padding limbs take the carry).
fn double_mod(x: &mut [f64], n: &[f64]) {
    let mut carry = 0u64;
    for limb in x.iter_mut() {
        let d = (*limb as u64) << 1 | carry;
        carry = d >> BITS;
        *limb = (d & MASK) as f64;
    }
    reduce_once(x, n);
}

/// `-n0⁻¹ mod 2⁵⁰` for odd `n0`.
fn neg_inverse(n0: u64) -> u64 {
    super::int28::neg_inverse_mod(n0, BITS)
}

/// Big-endian bytes to `len` little-endian 50-bit limbs; `None` if the value does not fit.
fn limbs_from_be(bytes: &[u8], len: usize) -> Option<Vec<f64>> {
    let mut out = Vec::with_capacity(len);
    let (mut acc, mut acc_bits) = (0u64, 0u32);
    for &byte in bytes.iter().rev() {
        acc |= u64::from(byte) << acc_bits;
        acc_bits += 8;
        if acc_bits >= BITS {
            out.push((acc & MASK) as f64);
            acc >>= BITS;
            acc_bits -= BITS;
        }
    }
    out.push(acc as f64);
    if out.len() > len {
        return None;
    }
    out.resize(len, 0.0);
    Some(out)
}

/// The low `len` bytes of the limbs, big-endian; `None` if a dropped bit is set.
fn be_from_limbs(limbs: &[f64], len: usize) -> Option<Vec<u8>> {
    let mut out = vec![0u8; len];
    let mut bytes = out.iter_mut().rev();
    let (mut acc, mut acc_bits) = (0u128, 0u32);
    for &limb in limbs {
        acc |= u128::from(limb as u64) << acc_bits;
        acc_bits += BITS;
        while acc_bits >= 8 {
            let byte = acc as u8;
            match bytes.next() {
                Some(b) => *b = byte,
                None if byte != 0 => return None,
                None => {}
            }
            acc >>= 8;
            acc_bits -= 8;
        }
    }
    Some(out)
}

/// Where the build has this engine: natively, and in a wasm build with relaxed SIMD.
#[cfg(all(test, any(not(target_arch = "wasm32"), feature = "relaxed-simd")))]
mod tests {
    use super::*;

    /// splitmix64, the project's one test RNG (`jwt_mint::Rng`), on a bare state.
    fn next(state: &mut u64) -> u64 {
        let mut inner = jwt_mint::Rng(*state);
        let value = inner.next_u64();
        *state = inner.0;
        value
    }

    /// Operands below 2⁵¹: the edges and random ones.
    fn operands() -> Vec<u64> {
        let max = (1u64 << 51) - 1;
        let mut state = 11;
        let mut v = vec![
            0,
            1,
            2,
            MASK - 1,
            MASK,
            MASK + 1,
            max - 1,
            max,
            1 << 49,
            1 << 25,
        ];
        v.extend((0..200).map(|_| next(&mut state) & max));
        v.extend((0..200).map(|_| next(&mut state) & MASK));
        v
    }

    /// Natively `f64::mul_add`; in wasm, the test runner fuses as Envoy's V8 does.
    #[test]
    fn multiply_add_is_fused() {
        assert!(fused());
    }

    #[test]
    fn products_by_hand_are_exact() {
        for &x in &operands() {
            for &y in &operands() {
                let (low, high) = mul_exact(x, y);
                assert!((0..1 << 51).contains(&low) && (0..1 << 53).contains(&high));
                let got = i128::from(low) + (i128::from(high) << BITS);
                assert_eq!(got, i128::from(x) * i128::from(y), "{x} · {y}");
            }
        }
    }

    /// The split of the module, through [`add_rows`]: starting from zero, place `t` holds
    /// `p·x[t+1] + q·x[t]` plus the constant parts of three bit patterns (two high, one low).
    #[test]
    fn fused_products_split_exactly() {
        let ops = operands();
        let (k_low, k_high) = (LOW.to_bits() as i64, HIGH.to_bits() as i64);
        let x: Vec<f64> = ops.iter().map(|&x| x as f64).collect();
        let places = (x.len() - 1) & !1;
        for pq in ops.chunks(2) {
            let (p, q) = (pq[0], pq.get(1).copied().unwrap_or(3));
            let mut acc = vec![0i64; 2 * places];
            add_rows(&mut acc, &x, p as f64, q as f64);
            for t in 0..places {
                let (lo, hi) = (acc[4 * (t / 2) + t % 2], acc[4 * (t / 2) + 2 + t % 2]);
                let low = lo.wrapping_sub(k_low);
                let high = hi.wrapping_sub(k_high.wrapping_mul(2));
                let got = i128::from(low) + (i128::from(high) << BITS);
                let want =
                    i128::from(p) * i128::from(ops[t + 1]) + i128::from(q) * i128::from(ops[t]);
                assert_eq!(got, want, "p = {p}, q = {q}, t = {t}");
            }
        }
    }

    #[test]
    fn accumulator_layout() {
        // Place -1 would be 0; every odd place starts a group of four.
        assert_eq!((lo_ix(0), hi_ix(0)), (1, 3));
        assert_eq!((lo_ix(1), lo_ix(2), hi_ix(1), hi_ix(2)), (4, 5, 6, 7));
        assert_eq!(lo_ix(7), 16);
        let ix: Vec<usize> = (0..40).flat_map(|k| [lo_ix(k), hi_ix(k)]).collect();
        let mut sorted = ix.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ix.len(), "no two accumulators share a slot");
        assert!(acc_len(42) > *ix.iter().max().unwrap().min(&hi_ix(2 * 42 + PAD)));
    }

    #[test]
    fn negative_inverse() {
        let mut state = 5;
        for _ in 0..1000 {
            let n0 = next(&mut state) & MASK | 1;
            assert_eq!(
                n0.wrapping_mul(neg_inverse(n0)) & MASK,
                MASK,
                "n0 = {n0:#x}"
            );
        }
    }

    #[test]
    fn limbs_round_trip_and_refuse_what_does_not_fit() {
        let bytes: Vec<u8> = (1..=64).collect();
        let limbs = limbs_from_be(&bytes, 12).unwrap();
        assert!(limbs
            .iter()
            .all(|&l| l >= 0.0 && (l as u64) <= MASK && l.fract() == 0.0));
        assert_eq!(be_from_limbs(&limbs, 64).unwrap(), bytes);
        assert_eq!(be_from_limbs(&limbs, 70).unwrap()[6..], bytes[..]);
        assert_eq!(be_from_limbs(&limbs, 63), None, "a set byte dropped");
        assert_eq!(limbs_from_be(&bytes, 10), None, "512 bits in 500");
    }
}
