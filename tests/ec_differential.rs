//! Differential test of our ES384, ES512 and ES256K verifiers (`src/crypto/ec_verify.rs` with
//! `src/crypto/p384_verify.rs`, `src/crypto/p521_verify.rs`, `src/crypto/k256_verify.rs`; reached through
//! `crypto::PublicKey` and directly with chosen digests) against RustCrypto's `p384`, `p521` and
//! `k256`, the implementations they replaced, called exactly as `crypto.rs` used to call them
//! (`Signature::from_slice`, for `k256` then `normalize_s`, then `verify_prehash` of the digest).
//! On every input both must give the same verdict. The sibling of `tests/p256_differential.rs`.
//!
//! Cases, for random keys and messages on each curve: the valid signature (must verify), its
//! high-S twin `(r, n − s)` (must verify too), bit flips in r, s and the message, r or s set to
//! 0, 1, n − 1, n, n + 1, p − 1, p, all ones, `r + n` (the same residue), swapped r and s,
//! another key, wrong lengths, and digests at the edges of n. Then "crafted" signatures, valid
//! by construction for a chosen point R and digest e (`s = r·u2⁻¹`, `Q = u2⁻¹·(R − e·s⁻¹·G)`),
//! which reach cases a signer almost never does: `x(R) ≥ n` (so `r = x(R) − n`), e = 0,
//! R = ±G, Q = ±G. Last, key validation: points on and off the curve, coordinates ≥ p.
//!
//! The RNG is seeded from `EC_DIFF_SEED` (decimal or 0x-hex) or else from the clock; the seed is
//! printed and every failure names it, so `EC_DIFF_SEED=<seed> cargo test --test ec_differential`
//! replays a run. `EC_DIFF_ROUNDS` sets the number of keys per curve.

// The whole file is test harness: clippy's test allowances only cover `#[test]` functions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

/// SHA-256 in counter mode: deterministic for a seed.
struct Drbg {
    seed: u64,
    counter: u64,
}

impl Drbg {
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 32);
        while out.len() < len {
            self.counter += 1;
            out.extend(
                Sha256::new()
                    .chain_update(self.seed.to_le_bytes())
                    .chain_update(self.counter.to_le_bytes())
                    .finalize(),
            );
        }
        out.truncate(len);
        out
    }

    fn below(&mut self, k: u64) -> u64 {
        u64::from_le_bytes(self.bytes(8).try_into().unwrap()) % k
    }
}

fn seed() -> u64 {
    match std::env::var("EC_DIFF_SEED") {
        Ok(s) => match s.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).expect("EC_DIFF_SEED"),
            None => s.parse().expect("EC_DIFF_SEED"),
        },
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    }
}

fn rounds() -> usize {
    std::env::var("EC_DIFF_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16)
}

/// Big-endian `a + b` of equal lengths, `None` on overflow.
fn add(a: &[u8], b: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0u8; a.len()];
    let mut carry = 0u16;
    for i in (0..a.len()).rev() {
        let s = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = s as u8;
        carry = s >> 8;
    }
    (carry == 0).then_some(out)
}

/// Big-endian `a − b` of equal lengths, `None` if negative.
fn sub(a: &[u8], b: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0u8; a.len()];
    let mut borrow = 0i16;
    for i in (0..a.len()).rev() {
        let d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        out[i] = d as u8;
        borrow = i16::from(d < 0);
    }
    (borrow == 0).then_some(out)
}

fn small(len: usize, k: u8) -> Vec<u8> {
    let mut out = vec![0u8; len];
    out[len - 1] = k;
    out
}

/// One module per curve: the same checks, over that curve's types.
macro_rules! differential {
    (
        $module:ident, $rc:ident, $curve:expr, $alg:expr, $hash:ty, $ours:ident,
        bytes: $bytes:expr, digest: $digest_len:expr, n: $n:expr, p: $p:expr, normalize: $normalize:expr
    ) => {
        mod $module {
            use $rc::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
            use $rc::elliptic_curve::group::Group;
            use $rc::elliptic_curve::ops::Reduce;
            use $rc::elliptic_curve::sec1::ToSec1Point;
            use $rc::{FieldBytes, ProjectivePoint, Scalar};
            use jwt_authn_wasm::crypto::PublicKey;
            use jwt_authn_wasm::crypto::$ours;
            use sha2::Digest;

            use super::*;

            const BYTES: usize = $bytes;
            const DIGEST: usize = $digest_len;

            fn scalar(bytes: &[u8]) -> Scalar {
                let mut padded = vec![0u8; BYTES - bytes.len()];
                padded.extend_from_slice(bytes);
                <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::try_from(padded.as_slice()).unwrap())
            }

            fn random_scalar(rng: &mut Drbg) -> Scalar {
                scalar(&rng.bytes(BYTES))
            }

            fn sec1(point: &ProjectivePoint) -> (Vec<u8>, Vec<u8>) {
                let enc = point.to_affine().to_sec1_point(false);
                let b = enc.as_bytes();
                (b[1..1 + BYTES].to_vec(), b[1 + BYTES..].to_vec())
            }

            /// Both verifiers for one key.
            struct Key {
                ours: PublicKey,
                ours_raw: $ours::VerifyingKey,
                theirs: $rc::ecdsa::VerifyingKey,
            }

            impl Key {
                fn new(point: &ProjectivePoint) -> Key {
                    let (x, y) = sec1(point);
                    Key {
                        ours: PublicKey::ec($curve, &x, &y).unwrap(),
                        ours_raw: $ours::VerifyingKey::from_affine(&x, &y).unwrap(),
                        theirs: $rc::ecdsa::VerifyingKey::from_sec1_bytes(
                            &[&[4u8][..], &x, &y].concat(),
                        )
                        .unwrap(),
                    }
                }

                /// The old `crypto.rs` code path, over a digest.
                fn theirs_prehash(&self, digest: &[u8], sig: &[u8]) -> bool {
                    match $rc::ecdsa::Signature::from_slice(sig) {
                        Ok(sig) => {
                            let normalize: fn($rc::ecdsa::Signature) -> $rc::ecdsa::Signature =
                                $normalize;
                            self.theirs.verify_prehash(digest, &normalize(sig)).is_ok()
                        }
                        Err(_) => false,
                    }
                }

                fn check_message(&self, ctx: &Ctx, what: &str, msg: &[u8], sig: &[u8]) -> bool {
                    let ours = self.ours.verify($alg, msg, sig).is_ok();
                    let theirs = self.theirs_prehash(&<$hash>::digest(msg), sig);
                    assert_eq!(
                        ours,
                        theirs,
                        "{} seed {:#x}: {what}: ours {ours}, RustCrypto {theirs}; msg {}, sig {}",
                        stringify!($module),
                        ctx.seed,
                        hex::encode(msg),
                        hex::encode(sig)
                    );
                    ours
                }

                fn check_digest(&self, ctx: &Ctx, what: &str, digest: &[u8], sig: &[u8]) -> bool {
                    let ours = self.ours_raw.verify_prehash(digest, sig);
                    let theirs = self.theirs_prehash(digest, sig);
                    assert_eq!(
                        ours,
                        theirs,
                        "{} seed {:#x}: {what}: ours {ours}, RustCrypto {theirs}; digest {}, sig {}",
                        stringify!($module),
                        ctx.seed,
                        hex::encode(digest),
                        hex::encode(sig)
                    );
                    ours
                }
            }

            struct Ctx {
                seed: u64,
                n: Vec<u8>,
                p: Vec<u8>,
            }

            fn ctx(seed: u64) -> Ctx {
                Ctx {
                    seed,
                    n: hex::decode($n).unwrap(),
                    p: hex::decode($p).unwrap(),
                }
            }

            fn sig_of(r: &[u8], s: &[u8]) -> Vec<u8> {
                [r, s].concat()
            }

            fn mutations(ctx: &Ctx, key: &Key, other: &Key, rng: &mut Drbg, msg: &[u8], sig: &[u8], full: bool) {
                let (r, s) = sig.split_at(BYTES);
                assert!(key.check_message(ctx, "valid", msg, sig), "seed {:#x}", ctx.seed);
                let high_s = sub(&ctx.n, s).unwrap();
                assert!(key.check_message(ctx, "high S", msg, &sig_of(r, &high_s)));
                assert!(!other.check_message(ctx, "other key", msg, sig));
                for _ in 0..3 {
                    let mut flipped = sig.to_vec();
                    let bit = rng.below(16 * BYTES as u64) as usize;
                    flipped[bit / 8] ^= 1 << (bit % 8);
                    key.check_message(ctx, "bit flip in r||s", msg, &flipped);
                }
                let mut other_msg = msg.to_vec();
                let bit = rng.below(8 * msg.len() as u64) as usize;
                other_msg[bit / 8] ^= 1 << (bit % 8);
                key.check_message(ctx, "bit flip in message", &other_msg, sig);
                if !full {
                    return;
                }
                let specials: Vec<Vec<u8>> = [
                    Some(vec![0u8; BYTES]),
                    Some(small(BYTES, 1)),
                    sub(&ctx.n, &small(BYTES, 1)),
                    Some(ctx.n.clone()),
                    add(&ctx.n, &small(BYTES, 1)),
                    sub(&ctx.p, &small(BYTES, 1)),
                    Some(ctx.p.clone()),
                    Some(vec![0xff; BYTES]),
                ]
                .into_iter()
                .flatten()
                .collect();
                for v in &specials {
                    key.check_message(ctx, "special r", msg, &sig_of(v, s));
                    key.check_message(ctx, "special s", msg, &sig_of(r, v));
                }
                if let Some(r_plus_n) = add(r, &ctx.n) {
                    key.check_message(ctx, "r + n", msg, &sig_of(&r_plus_n, s));
                }
                if let Some(s_plus_n) = add(s, &ctx.n) {
                    key.check_message(ctx, "s + n", msg, &sig_of(r, &s_plus_n));
                }
                key.check_message(ctx, "swapped", msg, &sig_of(s, r));
                key.check_message(ctx, "r = s", msg, &sig_of(r, r));
                key.check_message(ctx, "truncated", msg, &sig[..2 * BYTES - 1]);
                key.check_message(ctx, "extended", msg, &[sig, &[0]].concat());
                key.check_message(ctx, "zero-prefixed", msg, &[&[0][..], sig].concat());
                key.check_message(ctx, "empty", msg, &[]);
            }

            #[test]
            fn random_keys_messages_and_mutations() {
                let seed = seed();
                println!("EC_DIFF_SEED={seed:#x}");
                let ctx = ctx(seed);
                let mut rng = Drbg { seed, counter: 0 };
                let keys: Vec<($rc::ecdsa::SigningKey, Key)> = (0..rounds())
                    .map(|_| {
                        let d = random_scalar(&mut rng);
                        let sk = $rc::ecdsa::SigningKey::from_slice(&d.to_bytes()).unwrap();
                        let key = Key::new(&(ProjectivePoint::GENERATOR * d));
                        (sk, key)
                    })
                    .collect();
                for (i, (sk, key)) in keys.iter().enumerate() {
                    let other = &keys[(i + 1) % keys.len()].1;
                    for m in 0..8 {
                        let len = rng.below(200) as usize + 1;
                        let msg = rng.bytes(len);
                        let digest = <$hash>::digest(&msg);
                        let sig: $rc::ecdsa::Signature = sk.sign_prehash(&digest).unwrap();
                        mutations(&ctx, key, other, &mut rng, &msg, &sig.to_bytes(), m < 2);
                    }
                    // Digests at the edges of n (of the digest's length), signed directly.
                    let n_digest = ctx.n[BYTES - DIGEST..].to_vec();
                    for digest in [
                        vec![0u8; DIGEST],
                        vec![0xff; DIGEST],
                        n_digest.clone(),
                        sub(&n_digest, &small(DIGEST, 1)).unwrap(),
                        add(&n_digest, &small(DIGEST, 1)).unwrap_or(vec![1; DIGEST]),
                        rng.bytes(DIGEST),
                    ] {
                        let sig: $rc::ecdsa::Signature = sk.sign_prehash(&digest).unwrap();
                        let sig = sig.to_bytes();
                        assert!(key.check_digest(&ctx, "edge digest", &digest, &sig));
                        let mut flipped = sig.to_vec();
                        flipped[rng.below(2 * BYTES as u64) as usize] ^= 1;
                        key.check_digest(&ctx, "edge digest, flipped", &digest, &flipped);
                    }
                }
            }

            /// A signature valid by construction for digest `e` (below 2^(8·DIGEST)), `u2 ≠ 0`
            /// and point `R`: `r = x(R) mod n`, `s = r·u2⁻¹`, `u1 = e·s⁻¹`,
            /// `Q = u2⁻¹·(R − u1·G)`. `None` if r, s or Q degenerate.
            fn crafted(e: &[u8], u2: &Scalar, point: &ProjectivePoint) -> Option<(ProjectivePoint, Vec<u8>)> {
                let u2_inv: Scalar = Option::from(u2.invert())?;
                if bool::from(point.is_identity()) {
                    return None;
                }
                let r = scalar(&sec1(point).0);
                let s = r * u2_inv;
                let s_inv: Scalar = Option::from(s.invert())?;
                let u1 = scalar(e) * s_inv;
                let q = (*point - ProjectivePoint::GENERATOR * u1) * u2_inv;
                if bool::from(q.is_identity()) {
                    return None;
                }
                Some((q, sig_of(&r.to_bytes(), &s.to_bytes())))
            }

            /// A point with `x ≥ n`, walking x up from `start` ≥ n.
            fn point_with_large_x(start: &[u8], odd: bool) -> ProjectivePoint {
                let mut x = start.to_vec();
                loop {
                    let enc = [&[if odd { 3u8 } else { 2 }][..], &x].concat();
                    if let Ok(pk) = $rc::PublicKey::from_sec1_bytes(&enc) {
                        return pk.to_projective();
                    }
                    x = add(&x, &small(BYTES, 1)).unwrap();
                }
            }

            fn check_crafted(ctx: &Ctx, what: &str, e: &[u8], u2: &Scalar, point: &ProjectivePoint) {
                let Some((q, sig)) = crafted(e, u2, point) else {
                    return;
                };
                let key = Key::new(&q);
                assert!(
                    key.check_digest(ctx, what, e, &sig),
                    "{} seed {:#x}: {what}: crafted signature refused",
                    stringify!($module),
                    ctx.seed
                );
                let (r, s) = sig.split_at(BYTES);
                key.check_digest(ctx, what, e, &sig_of(r, &sub(&ctx.n, s).unwrap()));
                let x = sec1(point).0;
                key.check_digest(ctx, what, e, &sig_of(&x, s));
                let mut e_flipped = e.to_vec();
                e_flipped[DIGEST - 1] ^= 1;
                key.check_digest(ctx, what, &e_flipped, &sig);
            }

            #[test]
            fn crafted_signatures_reach_rare_cases() {
                let seed = seed();
                println!("EC_DIFF_SEED={seed:#x}");
                let ctx = ctx(seed);
                let mut rng = Drbg { seed: seed ^ 0x5eed, counter: 0 };
                let g = ProjectivePoint::GENERATOR;
                for round in 0..rounds() {
                    // x(R) ≥ n: r = x(R) − n (p − n is far above 2⁶⁴ on these curves).
                    let mut offset = vec![0u8; BYTES];
                    offset[BYTES - 8..].copy_from_slice(&rng.bytes(8));
                    let big_x = point_with_large_x(&add(&ctx.n, &offset).unwrap(), round % 2 == 0);
                    let u2 = random_scalar(&mut rng);
                    check_crafted(&ctx, "x(R) >= n", &rng.bytes(DIGEST), &u2, &big_x);
                    check_crafted(&ctx, "x(R) >= n, e = 0", &[0u8; DIGEST], &u2, &big_x);
                    let r_point = g * random_scalar(&mut rng);
                    check_crafted(&ctx, "random", &rng.bytes(DIGEST), &random_scalar(&mut rng), &r_point);
                    check_crafted(&ctx, "e = 0", &[0u8; DIGEST], &random_scalar(&mut rng), &r_point);
                    check_crafted(&ctx, "u2 = 1", &rng.bytes(DIGEST), &Scalar::ONE, &r_point);
                    check_crafted(&ctx, "u2 = -1", &rng.bytes(DIGEST), &-Scalar::ONE, &r_point);
                    check_crafted(&ctx, "R = G", &rng.bytes(DIGEST), &random_scalar(&mut rng), &g);
                    check_crafted(&ctx, "R = -G", &rng.bytes(DIGEST), &random_scalar(&mut rng), &-g);
                }
            }

            #[test]
            fn key_validation_agrees() {
                let seed = seed();
                println!("EC_DIFF_SEED={seed:#x}");
                let ctx = ctx(seed);
                let (n, p) = (&ctx.n, &ctx.p);
                let mut rng = Drbg { seed: seed ^ 0x006b_6579, counter: 0 };
                let check = |what: &str, x: &[u8], y: &[u8]| {
                    let ours = PublicKey::ec($curve, x, y).is_ok();
                    let theirs = $rc::ecdsa::VerifyingKey::from_sec1_bytes(&[&[4u8][..], x, y].concat()).is_ok();
                    assert_eq!(ours, theirs, "seed {seed:#x}: {what}: x {}, y {}", hex::encode(x), hex::encode(y));
                    ours
                };
                let mut points = vec![ProjectivePoint::GENERATOR, -ProjectivePoint::GENERATOR];
                // Points with a small x (so that x + p still fits).
                for x in 0..40u8 {
                    if let Ok(pk) = $rc::PublicKey::from_sec1_bytes(&[&[2u8][..], &small(BYTES, x)].concat()) {
                        points.push(pk.to_projective());
                    }
                }
                for _ in 0..40 {
                    points.push(ProjectivePoint::GENERATOR * random_scalar(&mut rng));
                }
                for point in &points {
                    let (x, y) = sec1(point);
                    assert!(check("valid", &x, &y));
                    assert!(check("negated", &x, &sub(p, &y).unwrap()));
                    let mut flipped = y.clone();
                    let bit = rng.below(8 * BYTES as u64) as usize;
                    flipped[bit / 8] ^= 1 << (bit % 8);
                    check("y bit flip", &x, &flipped);
                    let mut flipped = x.clone();
                    flipped[bit / 8] ^= 1 << (bit % 8);
                    check("x bit flip", &flipped, &y);
                    if let Some(x_plus_p) = add(&x, p) {
                        assert!(!check("x + p", &x_plus_p, &y));
                    }
                    if let Some(y_plus_p) = add(&y, p) {
                        assert!(!check("y + p", &x, &y_plus_p));
                    }
                    check("swapped", &y, &x);
                }
                let edges = [vec![0u8; BYTES], small(BYTES, 1), p.clone(), sub(p, &small(BYTES, 1)).unwrap(), n.clone(), vec![0xff; BYTES]];
                for v in &edges {
                    for w in &edges {
                        check("special coordinates", v, w);
                    }
                }
                for _ in 0..100 {
                    check("random", &rng.bytes(BYTES), &rng.bytes(BYTES));
                }
            }
        }
    };
}

differential!(
    es384, p384, jwt_authn_wasm::crypto::Curve::P384, jwt_authn_wasm::crypto::alg::Alg::Es384, sha2::Sha384, p384_verify,
    bytes: 48, digest: 48,
    n: "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
    p: "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff",
    normalize: |sig| sig
);

differential!(
    es512, p521, jwt_authn_wasm::crypto::Curve::P521, jwt_authn_wasm::crypto::alg::Alg::Es512, sha2::Sha512, p521_verify,
    bytes: 66, digest: 64,
    n: "01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409",
    p: "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    normalize: |sig| sig
);

// `k256` refuses high S; `crypto.rs` normalized S before calling it, and so does the oracle.
differential!(
    es256k, k256, jwt_authn_wasm::crypto::Curve::Secp256k1, jwt_authn_wasm::crypto::alg::Alg::Es256k, sha2::Sha256, k256_verify,
    bytes: 32, digest: 32,
    n: "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
    p: "fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f",
    normalize: |sig| sig.normalize_s()
);
