//! Differential test of our P-256 verifier (`src/crypto/p256_verify.rs`, reached through
//! `crypto::PublicKey` and directly with chosen digests) against `p256`'s `VerifyingKey`, the
//! implementation it replaced, called exactly as `crypto.rs` used to call it
//! (`Signature::from_slice`, then `verify_prehash` of the SHA-256 digest). On every input both
//! must give the same verdict.
//!
//! Cases, for random keys and messages: the valid signature (must verify), its high-S twin
//! `(r, n − s)`, bit flips in r, s and the message, r or s set to 0, 1, n − 1, n, n + 1, p − 1,
//! p, 2²⁵⁶ − 1, `r + n` (the same residue), swapped r and s, another key, wrong lengths, and
//! digests at or above n. Then "crafted" signatures, valid by construction for a chosen point R
//! (`Q = u2⁻¹·(R − u1·G)`), which reach cases a signer almost never does: `x(R) ≥ n` (so
//! `r = x(R) − n`), u1 = 0, u1 or u2 with zero 64-bit pieces, R = ±G.
//!
//! The RNG is seeded from `P256_DIFF_SEED` (decimal or 0x-hex) or else from the clock; the seed
//! is printed and every failure names it, so `P256_DIFF_SEED=<seed> cargo test --test
//! p256_differential` replays a run. `P256_DIFF_ROUNDS` sets the number of keys.

// The whole file is test harness: clippy's test allowances only cover `#[test]` functions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{SystemTime, UNIX_EPOCH};

use jwt_authn_wasm::crypto::alg::Alg;
use jwt_authn_wasm::crypto::{Curve, PublicKey};
use jwt_authn_wasm::crypto::p256_verify;
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::elliptic_curve::group::Group;
use p256::elliptic_curve::ops::Reduce;
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::elliptic_curve::Field;
use p256::{FieldBytes, ProjectivePoint, Scalar};
use sha2::{Digest, Sha256};

const N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
const P: &str = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";

/// SHA-256 in counter mode: deterministic for a seed.
struct Drbg {
    seed: u64,
    counter: u64,
}

impl Drbg {
    fn bytes32(&mut self) -> [u8; 32] {
        self.counter += 1;
        Sha256::new()
            .chain_update(self.seed.to_le_bytes())
            .chain_update(self.counter.to_le_bytes())
            .finalize()
            .into()
    }

    fn below(&mut self, k: u64) -> u64 {
        u64::from_le_bytes(self.bytes32()[..8].try_into().unwrap()) % k
    }

    fn scalar(&mut self) -> Scalar {
        scalar(&self.bytes32())
    }
}

fn seed() -> u64 {
    match std::env::var("P256_DIFF_SEED") {
        Ok(s) => match s.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).expect("P256_DIFF_SEED"),
            None => s.parse().expect("P256_DIFF_SEED"),
        },
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    }
}

fn scalar(bytes: &[u8; 32]) -> Scalar {
    <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(*bytes))
}

fn be32(hex_str: &str) -> [u8; 32] {
    hex::decode(hex_str).unwrap().try_into().unwrap()
}

/// Big-endian 256-bit `a + b`, `None` on overflow.
fn add256(a: &[u8; 32], b: &[u8; 32]) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let s = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = s as u8;
        carry = s >> 8;
    }
    (carry == 0).then_some(out)
}

/// Big-endian 256-bit `a − b`, `None` if negative.
fn sub256(a: &[u8; 32], b: &[u8; 32]) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        out[i] = d as u8;
        borrow = i16::from(d < 0);
    }
    (borrow == 0).then_some(out)
}

fn small(k: u8) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[31] = k;
    out
}

/// Both verifiers for one key.
struct Key {
    ours: PublicKey,
    ours_raw: p256_verify::VerifyingKey,
    theirs: p256::ecdsa::VerifyingKey,
}

impl Key {
    fn new(point: &ProjectivePoint) -> Key {
        let sec1 = point.to_affine().to_sec1_point(false);
        let b = sec1.as_bytes();
        let (x, y) = (&b[1..33], &b[33..65]);
        Key {
            ours: PublicKey::ec(Curve::P256, x, y).unwrap(),
            ours_raw: p256_verify::VerifyingKey::from_affine(
                x.try_into().unwrap(),
                y.try_into().unwrap(),
            )
            .unwrap(),
            theirs: p256::ecdsa::VerifyingKey::from_sec1_bytes(b).unwrap(),
        }
    }

    /// The old `crypto.rs` code path, over a digest.
    fn theirs_prehash(&self, digest: &[u8; 32], sig: &[u8]) -> bool {
        match p256::ecdsa::Signature::from_slice(sig) {
            Ok(sig) => self.theirs.verify_prehash(digest, &sig).is_ok(),
            Err(_) => false,
        }
    }

    /// Compares the two verdicts over a message (through `crypto::PublicKey`) and returns it.
    fn check_message(&self, ctx: &Ctx, what: &str, msg: &[u8], sig: &[u8]) -> bool {
        let ours = self.ours.verify(Alg::Es256, msg, sig).is_ok();
        let theirs = self.theirs_prehash(&Sha256::digest(msg).into(), sig);
        assert_eq!(
            ours,
            theirs,
            "seed {:#x}: {what}: ours {ours}, p256 {theirs}; msg {}, sig {}",
            ctx.seed,
            hex::encode(msg),
            hex::encode(sig)
        );
        ours
    }

    /// Compares the two verdicts over a chosen digest and returns it.
    fn check_digest(&self, ctx: &Ctx, what: &str, digest: &[u8; 32], sig: &[u8]) -> bool {
        let ours = self.ours_raw.verify_prehash(digest, sig);
        let theirs = self.theirs_prehash(digest, sig);
        assert_eq!(
            ours,
            theirs,
            "seed {:#x}: {what}: ours {ours}, p256 {theirs}; digest {}, sig {}",
            ctx.seed,
            hex::encode(digest),
            hex::encode(sig)
        );
        ours
    }
}

struct Ctx {
    seed: u64,
    n: [u8; 32],
    p: [u8; 32],
}

fn sig_of(r: &[u8], s: &[u8]) -> Vec<u8> {
    [r, s].concat()
}

/// Mutations of a valid `(r, s)` over `msg`: high S, another key, bit flips; with `full`, also
/// special values of r and s, `r + n`, swaps and wrong lengths.
fn mutations(
    ctx: &Ctx,
    key: &Key,
    other: &Key,
    rng: &mut Drbg,
    msg: &[u8],
    sig: &[u8; 64],
    full: bool,
) {
    let (r, s): ([u8; 32], [u8; 32]) =
        (sig[..32].try_into().unwrap(), sig[32..].try_into().unwrap());
    assert!(
        key.check_message(ctx, "valid", msg, sig),
        "seed {:#x}",
        ctx.seed
    );
    let high_s = sub256(&ctx.n, &s).unwrap();
    assert!(key.check_message(ctx, "high S", msg, &sig_of(&r, &high_s)));
    assert!(!other.check_message(ctx, "other key", msg, sig));

    for _ in 0..3 {
        let mut flipped = *sig;
        let bit = rng.below(512) as usize;
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

    let specials: Vec<[u8; 32]> = [
        Some([0u8; 32]),
        Some(small(1)),
        sub256(&ctx.n, &small(1)),
        Some(ctx.n),
        add256(&ctx.n, &small(1)),
        sub256(&ctx.p, &small(1)),
        Some(ctx.p),
        Some([0xff; 32]),
    ]
    .into_iter()
    .flatten()
    .collect();
    for v in &specials {
        key.check_message(ctx, "special r", msg, &sig_of(v, &s));
        key.check_message(ctx, "special s", msg, &sig_of(&r, v));
    }
    if let Some(r_plus_n) = add256(&r, &ctx.n) {
        key.check_message(ctx, "r + n", msg, &sig_of(&r_plus_n, &s));
    }
    if let Some(s_plus_n) = add256(&s, &ctx.n) {
        key.check_message(ctx, "s + n", msg, &sig_of(&r, &s_plus_n));
    }
    key.check_message(ctx, "swapped", msg, &sig_of(&s, &r));
    key.check_message(ctx, "r = s", msg, &sig_of(&r, &r));
    key.check_message(ctx, "truncated", msg, &sig[..63]);
    key.check_message(ctx, "extended", msg, &[&sig[..], &[0]].concat());
    key.check_message(ctx, "zero-prefixed", msg, &[&[0][..], &sig[..]].concat());
    key.check_message(ctx, "empty", msg, &[]);
}

/// A signature valid by construction: for chosen `u1`, `u2 ≠ 0` and point `R`, the key
/// `Q = u2⁻¹·(R − u1·G)` with `r = x(R) mod n`, `s = r·u2⁻¹`, `e = u1·s` has
/// `e·s⁻¹·G + r·s⁻¹·Q = u1·G + u2·Q = R`. `None` if r or Q degenerates.
fn crafted(
    u1: &Scalar,
    u2: &Scalar,
    point: &ProjectivePoint,
) -> Option<(ProjectivePoint, [u8; 32], [u8; 64])> {
    let u2_inv: Scalar = Option::from(u2.invert())?;
    let q = (*point - ProjectivePoint::GENERATOR * u1) * u2_inv;
    if bool::from(q.is_identity()) || bool::from(point.is_identity()) {
        return None;
    }
    let x: [u8; 32] = point.to_affine().to_sec1_point(false).as_bytes()[1..33]
        .try_into()
        .unwrap();
    let r = scalar(&x);
    if bool::from(r.is_zero()) {
        return None;
    }
    let s = r * u2_inv;
    let e = *u1 * s;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&r.to_bytes());
    sig[32..].copy_from_slice(&s.to_bytes());
    Some((q, e.to_bytes().into(), sig))
}

/// A point with `x ≥ n` (x in [n, p)), found by walking x up from `start` ≥ n.
fn point_with_large_x(start: &[u8; 32], odd: bool) -> ProjectivePoint {
    let mut x = *start;
    loop {
        let mut sec1 = vec![if odd { 0x03 } else { 0x02 }];
        sec1.extend_from_slice(&x);
        if let Ok(pk) = p256::PublicKey::from_sec1_bytes(&sec1) {
            return pk.to_projective();
        }
        x = add256(&x, &small(1)).unwrap();
    }
}

fn check_crafted(ctx: &Ctx, what: &str, u1: &Scalar, u2: &Scalar, point: &ProjectivePoint) {
    let Some((q, e, sig)) = crafted(u1, u2, point) else {
        return;
    };
    let key = Key::new(&q);
    assert!(
        key.check_digest(ctx, what, &e, &sig),
        "seed {:#x}: {what}: crafted signature refused",
        ctx.seed
    );
    let (r, s) = (&sig[..32], &sig[32..]);
    let high_s = sub256(&ctx.n, s.try_into().unwrap()).unwrap();
    key.check_digest(ctx, what, &e, &sig_of(r, &high_s));
    // e + n: the same residue as a digest.
    if let Some(e_plus_n) = add256(&e, &ctx.n) {
        assert!(key.check_digest(ctx, what, &e_plus_n, &sig));
    }
    // x(R) itself as r (≥ n when R was chosen so): out of range.
    let x: [u8; 32] = point.to_affine().to_sec1_point(false).as_bytes()[1..33]
        .try_into()
        .unwrap();
    key.check_digest(ctx, what, &e, &sig_of(&x, s));
    let mut e_flipped = e;
    e_flipped[31] ^= 1;
    key.check_digest(ctx, what, &e_flipped, &sig);
}

fn rounds() -> usize {
    std::env::var("P256_DIFF_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

/// Signed messages per key (the first few get every mutation, the rest the cheap ones).
const MESSAGES_PER_KEY: usize = 32;

#[test]
fn random_keys_messages_and_mutations() {
    let seed = seed();
    println!("P256_DIFF_SEED={seed:#x}");
    let ctx = Ctx {
        seed,
        n: be32(N),
        p: be32(P),
    };
    let mut rng = Drbg { seed, counter: 0 };
    let keys: Vec<(p256::ecdsa::SigningKey, Key)> = (0..rounds())
        .map(|_| loop {
            if let Ok(sk) = p256::ecdsa::SigningKey::from_slice(&rng.bytes32()) {
                let key = Key::new(&sk.verifying_key().as_affine().into());
                break (sk, key);
            }
        })
        .collect();
    let mut valid = 0;
    for (i, (sk, key)) in keys.iter().enumerate() {
        let other = &keys[(i + 1) % keys.len()].1;
        for m in 0..MESSAGES_PER_KEY {
            let len = rng.below(200) as usize + 1;
            let msg: Vec<u8> = (0..len.div_ceil(32))
                .flat_map(|_| rng.bytes32())
                .take(len)
                .collect();
            let digest: [u8; 32] = Sha256::digest(&msg).into();
            let sig: p256::ecdsa::Signature = sk.sign_prehash(&digest).unwrap();
            let sig: [u8; 64] = sig.to_bytes().into();
            mutations(&ctx, key, other, &mut rng, &msg, &sig, m < 3);
            valid += 1;
        }
        // Digests at the edges of n, signed directly.
        for digest in [
            [0u8; 32],
            [0xff; 32],
            ctx.n,
            sub256(&ctx.n, &small(1)).unwrap(),
            add256(&ctx.n, &small(1)).unwrap(),
            rng.bytes32(),
        ] {
            let sig: p256::ecdsa::Signature = sk.sign_prehash(&digest).unwrap();
            let sig: [u8; 64] = sig.to_bytes().into();
            assert!(key.check_digest(&ctx, "edge digest", &digest, &sig));
            let mut flipped = sig;
            flipped[rng.below(64) as usize] ^= 1;
            key.check_digest(&ctx, "edge digest, flipped", &digest, &flipped);
        }
    }
    println!("{valid} valid signatures and their mutations agreed");
}

#[test]
fn crafted_signatures_reach_rare_cases() {
    let seed = seed();
    println!("P256_DIFF_SEED={seed:#x}");
    let ctx = Ctx {
        seed,
        n: be32(N),
        p: be32(P),
    };
    let mut rng = Drbg {
        seed: seed ^ 0x5eed,
        counter: 0,
    };
    let g = ProjectivePoint::GENERATOR;
    let piece = |k: usize, bytes: &[u8; 32]| {
        // Only 64-bit piece k (0 = least significant) of `bytes`.
        let mut out = [0u8; 32];
        out[32 - 8 * (k + 1)..32 - 8 * k].copy_from_slice(&bytes[32 - 8 * (k + 1)..32 - 8 * k]);
        scalar(&out)
    };
    for round in 0..rounds() {
        // x(R) ≥ n: r = x(R) − n; both y parities.
        // (p − n ≈ 2¹²⁶: n plus a 64-bit offset, walked up to a point, stays below p.)
        let mut offset = [0u8; 32];
        offset[24..].copy_from_slice(&rng.bytes32()[..8]);
        let big_x = point_with_large_x(&add256(&ctx.n, &offset).unwrap(), round % 2 == 0);
        check_crafted(&ctx, "x(R) >= n", &rng.scalar(), &rng.scalar(), &big_x);
        check_crafted(
            &ctx,
            "x(R) >= n, u1 = 0",
            &Scalar::ZERO,
            &rng.scalar(),
            &big_x,
        );
        // Random R; u1 = 0; u1 or u2 restricted to one 64-bit piece; R = ±G, R = Q-ish.
        let r_point = g * rng.scalar();
        check_crafted(&ctx, "random", &rng.scalar(), &rng.scalar(), &r_point);
        check_crafted(&ctx, "u1 = 0", &Scalar::ZERO, &rng.scalar(), &r_point);
        let k = round % 4;
        let bytes = rng.bytes32();
        check_crafted(
            &ctx,
            "u1 one piece",
            &piece(k, &bytes),
            &rng.scalar(),
            &r_point,
        );
        check_crafted(
            &ctx,
            "u2 one piece",
            &rng.scalar(),
            &piece(k, &bytes),
            &r_point,
        );
        check_crafted(&ctx, "u2 = 1", &rng.scalar(), &Scalar::ONE, &r_point);
        check_crafted(&ctx, "u2 = -1", &rng.scalar(), &-Scalar::ONE, &r_point);
        check_crafted(&ctx, "R = G", &rng.scalar(), &rng.scalar(), &g);
        check_crafted(&ctx, "R = -G", &rng.scalar(), &rng.scalar(), &-g);
        // u1·G = R: Q = O, refused by `crafted`; u1·G = −R... covered by randomness.
        // Q = G (u2⁻¹·(R − u1·G) = G ⟺ R = (u1 + u2)·G).
        let (u1, u2) = (rng.scalar(), rng.scalar());
        check_crafted(&ctx, "Q = G", &u1, &u2, &(g * (u1 + u2)));
        check_crafted(&ctx, "Q = -G", &u1, &u2, &(g * (u1 - u2)));
    }
}

#[test]
fn key_validation_agrees_with_p256() {
    let seed = seed();
    println!("P256_DIFF_SEED={seed:#x}");
    let (n, p) = (be32(N), be32(P));
    let mut rng = Drbg {
        seed: seed ^ 0x006b_6579,
        counter: 0,
    };
    let check = |what: &str, x: &[u8; 32], y: &[u8; 32]| {
        let ours = PublicKey::ec(Curve::P256, x, y).is_ok();
        let theirs =
            p256::ecdsa::VerifyingKey::from_sec1_bytes(&[&[4u8][..], x, y].concat()).is_ok();
        assert_eq!(
            ours,
            theirs,
            "seed {seed:#x}: {what}: x {}, y {}",
            hex::encode(x),
            hex::encode(y)
        );
        ours
    };
    let mut points = vec![ProjectivePoint::GENERATOR, -ProjectivePoint::GENERATOR];
    // Points with a small x (so that x + p still fits in 32 bytes).
    for x in 0..40u8 {
        if let Ok(pk) = p256::PublicKey::from_sec1_bytes(&[&[2u8][..], &small(x)].concat()) {
            points.push(pk.to_projective());
        }
    }
    for _ in 0..200 {
        points.push(ProjectivePoint::GENERATOR * rng.scalar());
    }
    for point in &points {
        let sec1 = point.to_affine().to_sec1_point(false);
        let b = sec1.as_bytes();
        let (x, y): ([u8; 32], [u8; 32]) =
            (b[1..33].try_into().unwrap(), b[33..].try_into().unwrap());
        assert!(check("valid", &x, &y));
        assert!(check("negated", &x, &sub256(&p, &y).unwrap()));
        let mut flipped = y;
        let bit = rng.below(256) as usize;
        flipped[bit / 8] ^= 1 << (bit % 8);
        check("y bit flip", &x, &flipped);
        let mut flipped = x;
        let bit = rng.below(256) as usize;
        flipped[bit / 8] ^= 1 << (bit % 8);
        check("x bit flip", &flipped, &y);
        if let Some(x_plus_p) = add256(&x, &p) {
            assert!(!check("x + p", &x_plus_p, &y));
        }
        if let Some(y_plus_p) = add256(&y, &p) {
            assert!(!check("y + p", &x, &y_plus_p));
        }
        check("swapped", &y, &x);
    }
    for v in [
        [0u8; 32],
        small(1),
        p,
        sub256(&p, &small(1)).unwrap(),
        n,
        [0xff; 32],
    ] {
        for w in [
            [0u8; 32],
            small(1),
            p,
            sub256(&p, &small(1)).unwrap(),
            [0xff; 32],
        ] {
            check("special coordinates", &v, &w);
        }
    }
    for _ in 0..200 {
        check("random", &rng.bytes32(), &rng.bytes32());
    }
}
