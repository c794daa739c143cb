//! Times `RsaPublic::public_op` (the RSA-2048 public-key operation, e = 65537) of two versions
//! of `src/crypto/rsa_verify/` in one process, alternating batches, and prints the median of the
//! per-pair ratios. On a host whose speed drifts by tens of per cent from one second to the
//! next (see BENCHMARKS.md), only a ratio taken this close in time is worth reading; the
//! absolute times are printed for orientation. Both versions must agree on the result.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "base/mod.rs"]
mod base;
#[path = "head/mod.rs"]
mod head;

use std::hint::black_box;
use std::time::Instant;

/// The demo RS256 key's modulus (envoy/demo-keys/rs256.json), big-endian.
const N_HEX: &str = include_str!("n.hex");

fn main() {
    let hex = N_HEX.trim();
    let n: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let a = base::RsaPublic::new(&n, base::Exponent::E65537).unwrap();
    let b = head::RsaPublic::new(&n, head::Exponent::E65537).unwrap();
    // Any value below n will do: the cost does not depend on it.
    let mut s = n.clone();
    s[0] /= 2;
    for (i, x) in s.iter_mut().enumerate().skip(1) {
        *x ^= (i * 37) as u8;
    }
    // Both versions must agree, here under V8 (where the fast engine's products come from
    // relaxed SIMD): on the timed value, on 500 random ones, and on other key sizes.
    assert_eq!(
        a.public_op(&s).unwrap(),
        b.public_op(&s).unwrap(),
        "the versions disagree"
    );
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut bytes = |len: usize| -> Vec<u8> {
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    };
    for round in 0..500 {
        let mut r = bytes(n.len());
        r[0] = r[0].min(n[0] - 1);
        assert_eq!(
            a.public_op(&r).unwrap(),
            b.public_op(&r).unwrap(),
            "disagree on random value {round}"
        );
    }
    // And on random odd moduli of other sizes (the arithmetic needs no primes), both exponents.
    for len in [128, 192, 257, 384, 512, 1024] {
        let mut m = bytes(len);
        m[0] |= 0x80;
        m[len - 1] |= 1;
        for (ea, eb) in [
            (base::Exponent::E65537, head::Exponent::E65537),
            (base::Exponent::E3, head::Exponent::E3),
        ] {
            let (ka, kb) = (
                base::RsaPublic::new(&m, ea).unwrap(),
                head::RsaPublic::new(&m, eb).unwrap(),
            );
            for round in 0..20 {
                let mut r = bytes(len);
                r[0] = r[0].min(m[0] - 1);
                assert_eq!(
                    ka.public_op(&r).unwrap(),
                    kb.public_op(&r).unwrap(),
                    "{len}-byte modulus: disagree on random value {round}"
                );
            }
        }
    }
    let pairs: usize = std::env::args()
        .skip(1)
        .find_map(|x| x.parse().ok())
        .unwrap_or(60);
    let per_batch = 50;
    let time = |f: &dyn Fn()| {
        let t = Instant::now();
        for _ in 0..per_batch {
            f();
        }
        t.elapsed().as_secs_f64() * 1e6 / per_batch as f64
    };
    let run_a = || {
        black_box(a.public_op(black_box(&s)).unwrap());
    };
    let run_b = || {
        black_box(b.public_op(black_box(&s)).unwrap());
    };
    let (mut ta, mut tb, mut ratios) = (vec![], vec![], vec![]);
    for k in 0..pairs {
        // Alternate which goes first, so a drift within a pair cancels over pairs.
        let (x, y) = if k % 2 == 0 {
            let x = time(&run_a);
            (x, time(&run_b))
        } else {
            let y = time(&run_b);
            (time(&run_a), y)
        };
        ta.push(x);
        tb.push(y);
        ratios.push(y / x);
    }
    for v in [&mut ta, &mut tb, &mut ratios] {
        v.sort_by(|p, q| p.partial_cmp(q).unwrap());
    }
    let (m, q) = (pairs / 2, pairs / 4);
    println!(
        "base: min {:.1} median {:.1} µs | head: min {:.1} median {:.1} µs | head/base per pair: median {:.3} (quartiles {:.3}–{:.3}, {} pairs of {} ops)",
        ta[0], ta[m], tb[0], tb[m], ratios[m], ratios[q], ratios[pairs - 1 - q], pairs, per_batch
    );
}
