//! Width-w NAF recoding of 64-bit scalar pieces, shared by the P-256, generic ECDSA and Ed25519
//! engines (each cuts its scalars into 64-bit pieces that share one run of doublings).

/// Digits of the width-w NAF of a 64-bit piece: one more than its bits (a final carry).
pub const DIGITS: usize = 65;

/// The width-w NAF of a 64-bit `k`, least significant digit first: every digit is 0 or odd in
/// `(−2^(w−1), 2^(w−1))`, and `k = Σ d_i·2^i`.
#[inline(never)]
pub fn wnaf(k: u64, w: u32) -> [i8; DIGITS] {
    let mut out = [0i8; DIGITS];
    let full = 1i64 << w;
    let half = full >> 1;
    let mask = (full - 1) as u64;
    // The value being recoded is `hi·2⁶⁴ + k` (subtracting a negative digit can carry out).
    let mut k = k;
    let mut hi = 0u64;
    for d in out.iter_mut() {
        if k == 0 && hi == 0 {
            break;
        }
        if k & 1 == 1 {
            let mut digit = (k & mask) as i64;
            if digit >= half {
                digit -= full;
            }
            if digit > 0 {
                k -= digit as u64;
            } else {
                let (s, overflow) = k.overflowing_add(digit.unsigned_abs());
                k = s;
                hi = u64::from(overflow);
            }
            *d = digit as i8;
        }
        k = (k >> 1) | (hi << 63);
        hi = 0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wnaf_recodes_exactly() {
        let mut rng = jwt_mint::Rng(17);
        let mut values = vec![0, 1, 2, 3, u64::MAX, u64::MAX - 1, 1 << 63, (1 << 63) - 1];
        for _ in 0..2000 {
            values.push(rng.next_u64());
        }
        for w in [4, 5, 6, 7, 8] {
            for &k in &values {
                let digits = wnaf(k, w);
                let mut value = 0i128;
                let mut last_nonzero: Option<usize> = None;
                for (i, &d) in digits.iter().enumerate() {
                    value += i128::from(d) << i;
                    if d != 0 {
                        assert!(d % 2 != 0 && i32::from(d).abs() < 1 << (w - 1), "{d}");
                        if let Some(j) = last_nonzero {
                            assert!(i - j >= w as usize, "digits too close");
                        }
                        last_nonzero = Some(i);
                    }
                }
                assert_eq!(value, i128::from(k), "k = {k:x}, w = {w}");
            }
        }
    }
}
