//! The field GF(2²⁵⁵ − 19) for [`super`]: ref10's radix 2^25.5 (Ed25519's reference code, also
//! curve25519-dalek's 32-bit backend). An element is ten signed limbs, `Σ h_i·2^⌈25.5·i⌉`
//! (26 bits in even limbs, 25 in odd), so a product is 100 64-bit multiplications of 32-bit
//! values (wasm32's widest native multiply) summed without carries, and the carries run once at
//! the end.
//!
//! Limbs are signed and not kept fully reduced: [`Fe::mul`] and [`Fe::sq`] return limbs of at
//! most about 2²⁵ in magnitude, and accept inputs of up to 2²⁷ (a sum or difference of up to
//! four such outputs): the ten terms of an output limb then stay below 267·2⁵⁴ < 2⁶³. Only
//! [`Fe::to_bytes`] (and what compares through it) computes the canonical value below p.

/// A field element (see the module comment for the limbs' bounds).
#[derive(Clone, Copy)]
pub(super) struct Fe([i32; 10]);

/// Bits of limb `i`: 26 for even `i`, 25 for odd.
const fn width(i: usize) -> u32 {
    if i & 1 == 0 {
        26
    } else {
        25
    }
}

pub(super) const ZERO: Fe = Fe([0; 10]);
pub(super) const ONE: Fe = Fe([1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

/// Carries 64-bit limb sums into an [`Fe`] (ref10's order: two chains interleaved, each carry
/// rounded to the nearest, so limbs end in `[−2²⁵, 2²⁵]` (even) and `[−2²⁴, 2²⁴]` (odd), up to
/// the small last carries into h0 and h1).
#[inline(always)]
fn carry(h: [i64; 10]) -> Fe {
    let [mut h0, mut h1, mut h2, mut h3, mut h4, mut h5, mut h6, mut h7, mut h8, mut h9] = h;
    let mut c;
    c = (h0 + (1 << 25)) >> 26;
    h1 += c;
    h0 -= c << 26;
    c = (h4 + (1 << 25)) >> 26;
    h5 += c;
    h4 -= c << 26;
    c = (h1 + (1 << 24)) >> 25;
    h2 += c;
    h1 -= c << 25;
    c = (h5 + (1 << 24)) >> 25;
    h6 += c;
    h5 -= c << 25;
    c = (h2 + (1 << 25)) >> 26;
    h3 += c;
    h2 -= c << 26;
    c = (h6 + (1 << 25)) >> 26;
    h7 += c;
    h6 -= c << 26;
    c = (h3 + (1 << 24)) >> 25;
    h4 += c;
    h3 -= c << 25;
    c = (h7 + (1 << 24)) >> 25;
    h8 += c;
    h7 -= c << 25;
    c = (h4 + (1 << 25)) >> 26;
    h5 += c;
    h4 -= c << 26;
    c = (h8 + (1 << 25)) >> 26;
    h9 += c;
    h8 -= c << 26;
    c = (h9 + (1 << 24)) >> 25;
    h0 += 19 * c;
    h9 -= c << 25;
    c = (h0 + (1 << 25)) >> 26;
    h1 += c;
    h0 -= c << 26;
    // Every limb now fits in 27 bits with its sign.
    Fe([h0, h1, h2, h3, h4, h5, h6, h7, h8, h9].map(|x| x as i32))
}

impl Fe {
    /// The low 255 bits of a little-endian encoding (bit 255 is ignored, as RFC 8032 §5.1.3
    /// and curve25519-dalek do). A value in `[p, 2²⁵⁵)` is kept as it is: it stands for the
    /// same element as its value minus p.
    pub(super) fn from_bytes(bytes: &[u8; 32]) -> Fe {
        let mut limbs = [0i32; 10];
        let mut acc = 0u64;
        let mut bits = 0u32;
        let mut input = bytes.iter();
        for (i, limb) in limbs.iter_mut().enumerate() {
            let w = width(i);
            while bits < w {
                acc |= u64::from(input.next().copied().unwrap_or(0)) << bits;
                bits += 8;
            }
            *limb = (acc & ((1 << w) - 1)) as i32;
            acc >>= w;
            bits -= w;
        }
        Fe(limbs)
    }

    /// The canonical little-endian encoding of the value, below p (ref10's `fe_tobytes`).
    pub(super) fn to_bytes(self) -> [u8; 32] {
        let h = carry(self.0.map(i64::from)).0.map(i64::from);
        // q = floor(h / p), 0 or 1 (−1 for a slightly negative h): h + 19 reaches 2²⁵⁵ exactly
        // when h ≥ p, and the top limb's carry estimates it from h9 (ref10's claim).
        let mut q = (19 * h.last().copied().unwrap_or(0) + (1 << 24)) >> 25;
        for (i, &l) in h.iter().enumerate() {
            q = (l + q) >> width(i);
        }
        // h − q·p = h + 19q − q·2²⁵⁵: add 19q, carry exactly, drop the carry out of bit 255.
        let mut limbs = h;
        let mut c = 19 * q;
        for (i, l) in limbs.iter_mut().enumerate() {
            let v = *l + c;
            let w = width(i);
            c = v >> w;
            *l = v & ((1 << w) - 1);
        }
        let mut out = [0u8; 32];
        let mut bytes = out.iter_mut();
        let mut acc = 0u64;
        let mut bits = 0u32;
        for (i, &l) in limbs.iter().enumerate() {
            acc |= (l as u64) << bits;
            bits += width(i);
            while bits >= 8 {
                if let Some(b) = bytes.next() {
                    *b = acc as u8;
                }
                acc >>= 8;
                bits -= 8;
            }
        }
        if let Some(b) = bytes.next() {
            *b = acc as u8;
        }
        out
    }

    /// Whether the value is 0 mod p.
    pub(super) fn is_zero(&self) -> bool {
        self.to_bytes() == [0; 32]
    }

    /// Whether the canonical value is odd: RFC 8032's "negative" x, the sign bit of an encoding.
    pub(super) fn is_negative(&self) -> bool {
        self.to_bytes()[0] & 1 == 1
    }

    /// `self + g`, limb by limb, without carries.
    #[inline(always)]
    pub(super) fn add(&self, g: &Fe) -> Fe {
        let mut h = self.0;
        for (hi, gi) in h.iter_mut().zip(g.0) {
            *hi += gi;
        }
        Fe(h)
    }

    /// `self − g`, limb by limb, without carries.
    #[inline(always)]
    pub(super) fn sub(&self, g: &Fe) -> Fe {
        let mut h = self.0;
        for (hi, gi) in h.iter_mut().zip(g.0) {
            *hi -= gi;
        }
        Fe(h)
    }

    /// `−self`.
    pub(super) fn neg(&self) -> Fe {
        ZERO.sub(self)
    }

    /// The same value with its limbs carried back to the bounds of a product.
    pub(super) fn carried(&self) -> Fe {
        carry(self.0.map(i64::from))
    }

    /// `self · g`, schoolbook on the limbs: a product of limbs `i` and `j` lands in limb
    /// `i + j`, doubled when both are odd (their weights are each half a bit above the
    /// radix), and wraps to limb `i + j − 10` times 19 (2²⁵⁵ ≡ 19).
    #[inline(never)]
    pub(super) fn mul(&self, g: &Fe) -> Fe {
        let [f0, f1, f2, f3, f4, f5, f6, f7, f8, f9] = self.0.map(i64::from);
        let [g0, g1, g2, g3, g4, g5, g6, g7, g8, g9] = g.0.map(i64::from);
        let f1_2 = 2 * f1;
        let f3_2 = 2 * f3;
        let f5_2 = 2 * f5;
        let f7_2 = 2 * f7;
        let f9_2 = 2 * f9;
        let g1_19 = 19 * g1;
        let g2_19 = 19 * g2;
        let g3_19 = 19 * g3;
        let g4_19 = 19 * g4;
        let g5_19 = 19 * g5;
        let g6_19 = 19 * g6;
        let g7_19 = 19 * g7;
        let g8_19 = 19 * g8;
        let g9_19 = 19 * g9;
        carry([
            f0 * g0
                + f1_2 * g9_19
                + f2 * g8_19
                + f3_2 * g7_19
                + f4 * g6_19
                + f5_2 * g5_19
                + f6 * g4_19
                + f7_2 * g3_19
                + f8 * g2_19
                + f9_2 * g1_19,
            f0 * g1
                + f1 * g0
                + f2 * g9_19
                + f3 * g8_19
                + f4 * g7_19
                + f5 * g6_19
                + f6 * g5_19
                + f7 * g4_19
                + f8 * g3_19
                + f9 * g2_19,
            f0 * g2
                + f1_2 * g1
                + f2 * g0
                + f3_2 * g9_19
                + f4 * g8_19
                + f5_2 * g7_19
                + f6 * g6_19
                + f7_2 * g5_19
                + f8 * g4_19
                + f9_2 * g3_19,
            f0 * g3
                + f1 * g2
                + f2 * g1
                + f3 * g0
                + f4 * g9_19
                + f5 * g8_19
                + f6 * g7_19
                + f7 * g6_19
                + f8 * g5_19
                + f9 * g4_19,
            f0 * g4
                + f1_2 * g3
                + f2 * g2
                + f3_2 * g1
                + f4 * g0
                + f5_2 * g9_19
                + f6 * g8_19
                + f7_2 * g7_19
                + f8 * g6_19
                + f9_2 * g5_19,
            f0 * g5
                + f1 * g4
                + f2 * g3
                + f3 * g2
                + f4 * g1
                + f5 * g0
                + f6 * g9_19
                + f7 * g8_19
                + f8 * g7_19
                + f9 * g6_19,
            f0 * g6
                + f1_2 * g5
                + f2 * g4
                + f3_2 * g3
                + f4 * g2
                + f5_2 * g1
                + f6 * g0
                + f7_2 * g9_19
                + f8 * g8_19
                + f9_2 * g7_19,
            f0 * g7
                + f1 * g6
                + f2 * g5
                + f3 * g4
                + f4 * g3
                + f5 * g2
                + f6 * g1
                + f7 * g0
                + f8 * g9_19
                + f9 * g8_19,
            f0 * g8
                + f1_2 * g7
                + f2 * g6
                + f3_2 * g5
                + f4 * g4
                + f5_2 * g3
                + f6 * g2
                + f7_2 * g1
                + f8 * g0
                + f9_2 * g9_19,
            f0 * g9
                + f1 * g8
                + f2 * g7
                + f3 * g6
                + f4 * g5
                + f5 * g4
                + f6 * g3
                + f7 * g2
                + f8 * g1
                + f9 * g0,
        ])
    }

    /// `self²`: [`mul`](Self::mul) with each cross product computed once, doubled.
    #[inline(never)]
    pub(super) fn sq(&self) -> Fe {
        let [f0, f1, f2, f3, f4, f5, f6, f7, f8, f9] = self.0.map(i64::from);
        let f0_2 = 2 * f0;
        let f1_2 = 2 * f1;
        let f2_2 = 2 * f2;
        let f3_2 = 2 * f3;
        let f4_2 = 2 * f4;
        let f5_2 = 2 * f5;
        let f6_2 = 2 * f6;
        let f7_2 = 2 * f7;
        let f8_2 = 2 * f8;
        let f9_2 = 2 * f9;
        let f5_19 = 19 * f5;
        let f6_19 = 19 * f6;
        let f7_19 = 19 * f7;
        let f8_19 = 19 * f8;
        let f9_19 = 19 * f9;
        let f7_38 = 38 * f7;
        let f9_38 = 38 * f9;
        carry([
            f0 * f0 + f1_2 * f9_38 + f2_2 * f8_19 + f3_2 * f7_38 + f4_2 * f6_19 + f5_2 * f5_19,
            f0_2 * f1 + f2_2 * f9_19 + f3_2 * f8_19 + f4_2 * f7_19 + f5_2 * f6_19,
            f0_2 * f2 + f1_2 * f1 + f3_2 * f9_38 + f4_2 * f8_19 + f5_2 * f7_38 + f6 * f6_19,
            f0_2 * f3 + f1_2 * f2 + f4_2 * f9_19 + f5_2 * f8_19 + f6_2 * f7_19,
            f0_2 * f4 + f1_2 * f3_2 + f2 * f2 + f5_2 * f9_38 + f6_2 * f8_19 + f7_2 * f7_19,
            f0_2 * f5 + f1_2 * f4 + f2_2 * f3 + f6_2 * f9_19 + f7_2 * f8_19,
            f0_2 * f6 + f1_2 * f5_2 + f2_2 * f4 + f3_2 * f3 + f7_2 * f9_38 + f8 * f8_19,
            f0_2 * f7 + f1_2 * f6 + f2_2 * f5 + f3_2 * f4 + f8_2 * f9_19,
            f0_2 * f8 + f1_2 * f7_2 + f2_2 * f6 + f3_2 * f5_2 + f4 * f4 + f9_2 * f9_19,
            f0_2 * f9 + f1_2 * f8 + f2_2 * f7 + f3_2 * f6 + f4_2 * f5,
        ])
    }

    /// `self^(2ⁿ)`, n ≥ 1 squarings.
    #[inline(never)]
    pub(super) fn sq_n(&self, n: u32) -> Fe {
        let mut h = self.sq();
        for _ in 1..n {
            h = h.sq();
        }
        h
    }

    /// `(self^(2²⁵⁰ − 1), self¹¹)`, the common start of [`invert`](Self::invert) and
    /// [`pow_p58`](Self::pow_p58) (ref10's addition chain).
    fn pow_2_250_1(&self) -> (Fe, Fe) {
        let z2 = self.sq();
        let z9 = z2.sq_n(2).mul(self);
        let z11 = z9.mul(&z2);
        let z_5 = z11.sq().mul(&z9); // 2⁵ − 1
        let z_10 = z_5.sq_n(5).mul(&z_5);
        let z_20 = z_10.sq_n(10).mul(&z_10);
        let z_40 = z_20.sq_n(20).mul(&z_20);
        let z_50 = z_40.sq_n(10).mul(&z_10);
        let z_100 = z_50.sq_n(50).mul(&z_50);
        let z_200 = z_100.sq_n(100).mul(&z_100);
        let z_250 = z_200.sq_n(50).mul(&z_50);
        (z_250, z11)
    }

    /// `self⁻¹ = self^(p − 2)` (0 for 0).
    pub(super) fn invert(&self) -> Fe {
        let (z_250, z11) = self.pow_2_250_1();
        // (2²⁵⁰ − 1)·2⁵ + 11 = 2²⁵⁵ − 21 = p − 2
        z_250.sq_n(5).mul(&z11)
    }

    /// `self^((p − 5)/8) = self^(2²⁵² − 3)`, for square roots (RFC 8032 §5.1.3).
    pub(super) fn pow_p58(&self) -> Fe {
        let (z_250, _) = self.pow_2_250_1();
        z_250.sq_n(2).mul(self)
    }
}

#[cfg(test)]
mod tests;
