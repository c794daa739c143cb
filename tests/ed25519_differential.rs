//! Differential test of our Ed25519 verifier (`src/crypto/ed25519_verify.rs`, reached through
//! `crypto::PublicKey`) against ed25519-dalek, the implementation it replaced, called exactly as
//! `crypto/mod.rs` used to call it: `VerifyingKey::from_bytes`, the key refused if `is_weak()`,
//! then `verify_strict`. On every input both must give the same verdict, and keys the same
//! acceptance.
//!
//! Cases, for random keys and messages: the valid signature (must verify), every bit of it
//! flipped, bit flips in the message and the key (the key's acceptance compared too), S set to
//! L + j and S + L (non-canonical), 0, 1, L − 1, 2²⁵⁶ − 1, R with its sign bit flipped, R set to
//! each of the 8 small-order points and their non-canonical encodings, another key's signature,
//! wrong lengths. Keys: the small-order points in every encoding, y and y + p for y < 19 with
//! either sign, random 32-byte strings (about half are points), wrong lengths.
//! src/crypto/ed25519_verify/tests.rs adds what needs the curve's arithmetic: keys and R with a
//! torsion component.
//!
//! The RNG is seeded from `ED25519_DIFF_SEED` (decimal or 0x-hex) or else from the clock; the
//! seed is printed and every failure names it, so `ED25519_DIFF_SEED=<seed> cargo test --test
//! ed25519_differential` replays a run. `ED25519_DIFF_ROUNDS` sets the number of keys.

// The whole file is test harness: clippy's test allowances only cover `#[test]` functions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signature, Signer, SigningKey};
use jwt_authn_wasm::crypto::alg::Alg;
use jwt_authn_wasm::crypto::{KeyError, PublicKey, SigError};
use jwt_mint::torsion::{TORSION, TORSION_NON_CANONICAL};
use sha2::{Digest, Sha256};

/// L, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// The 8 points of small order, then non-canonical encodings of those with y = 0, 1, −1.
fn small_order() -> impl Iterator<Item = &'static str> {
    TORSION.into_iter().chain(TORSION_NON_CANONICAL)
}

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

    fn message(&mut self) -> Vec<u8> {
        let len = self.below(200) as usize;
        (0..len).map(|_| self.bytes32()[0]).collect()
    }
}

fn seed() -> u64 {
    match std::env::var("ED25519_DIFF_SEED") {
        Ok(s) => match s.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).expect("ED25519_DIFF_SEED"),
            None => s.parse().expect("ED25519_DIFF_SEED"),
        },
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    }
}

/// dalek's verdict on a key, as `PublicKey::ed25519` used to give it.
fn dalek_key(x: &[u8]) -> Result<ed25519_dalek::VerifyingKey, KeyError> {
    let bytes: &[u8; 32] = x
        .try_into()
        .map_err(|_| KeyError::Ed25519Length { len: x.len() })?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(bytes)
        .map_err(|_| KeyError::Ed25519InvalidPoint)?;
    if key.is_weak() {
        return Err(KeyError::Ed25519InvalidPoint);
    }
    Ok(key)
}

/// dalek's verdict on a signature, as `PublicKey::verify` used to give it.
fn dalek_verify(key: &[u8], msg: &[u8], sig: &[u8]) -> Result<Result<(), SigError>, KeyError> {
    let key = dalek_key(key)?;
    Ok(match <&[u8; 64]>::try_from(sig) {
        Err(_) => Err(SigError::WrongLength),
        Ok(bytes) => key
            .verify_strict(msg, &Signature::from_bytes(bytes))
            .map_err(|_| SigError::Invalid),
    })
}

fn ours_verify(key: &[u8], msg: &[u8], sig: &[u8]) -> Result<Result<(), SigError>, KeyError> {
    Ok(PublicKey::ed25519(key)?.verify(Alg::EdDsa, msg, sig))
}

struct Check {
    seed: u64,
    cases: usize,
    valid: usize,
}

impl Check {
    fn same(&mut self, what: &str, key: &[u8], msg: &[u8], sig: &[u8]) {
        let ours = ours_verify(key, msg, sig);
        let dalek = dalek_verify(key, msg, sig);
        assert_eq!(
            ours,
            dalek,
            "{what}: seed {:#x}, key {}, msg {}, sig {}",
            self.seed,
            hex::encode(key),
            hex::encode(msg),
            hex::encode(sig)
        );
        self.cases += 1;
        self.valid += usize::from(matches!(ours, Ok(Ok(()))));
    }

    fn same_key(&mut self, what: &str, key: &[u8]) {
        let ours = PublicKey::ed25519(key).map(|_| ());
        let dalek = dalek_key(key).map(|_| ());
        assert_eq!(
            ours,
            dalek,
            "{what}: seed {:#x}, key {}",
            self.seed,
            hex::encode(key)
        );
        self.cases += 1;
    }
}

fn with_s(sig: &[u8; 64], s: &[u8; 32]) -> [u8; 64] {
    let mut out = *sig;
    out[32..].copy_from_slice(s);
    out
}

/// `a + b` of little-endian 256-bit numbers, mod 2²⁵⁶.
fn add256(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = v as u8;
        carry = v >> 8;
    }
    out
}

#[test]
fn ed25519_matches_dalek() {
    let seed = seed();
    let rounds: usize = std::env::var("ED25519_DIFF_ROUNDS")
        .ok()
        .map(|r| r.parse().expect("ED25519_DIFF_ROUNDS"))
        .unwrap_or(24);
    println!("ED25519_DIFF_SEED={seed:#x} ED25519_DIFF_ROUNDS={rounds}");
    let mut rng = Drbg { seed, counter: 0 };
    let mut check = Check {
        seed,
        cases: 0,
        valid: 0,
    };

    let other = SigningKey::from_bytes(&rng.bytes32());
    for _ in 0..rounds {
        let sk = SigningKey::from_bytes(&rng.bytes32());
        let key = sk.verifying_key().to_bytes();
        let msg = rng.message();
        let sig = sk.sign(&msg).to_bytes();
        assert_eq!(ours_verify(&key, &msg, &sig), Ok(Ok(())), "seed {seed:#x}");
        check.same("valid", &key, &msg, &sig);

        for bit in 0..512 {
            let mut bad = sig;
            bad[bit / 8] ^= 1 << (bit % 8);
            check.same("signature bit flip", &key, &msg, &bad);
        }
        for _ in 0..8 {
            let mut bad = msg.clone();
            if bad.is_empty() {
                bad.push(0);
            } else {
                let i = rng.below(bad.len() as u64) as usize;
                bad[i] ^= 1 << rng.below(8);
            }
            check.same("message bit flip", &key, &bad, &sig);
        }
        for _ in 0..16 {
            let mut bad = key;
            let bit = rng.below(256) as usize;
            bad[bit / 8] ^= 1 << (bit % 8);
            check.same_key("key bit flip", &bad);
            check.same("key bit flip", &bad, &msg, &sig);
        }

        // S out of range or at its edges.
        let s: [u8; 32] = sig[32..].try_into().unwrap();
        let mut l_plus = L;
        for j in 0..4u8 {
            l_plus[0] = L[0] + j;
            check.same("S = L + j", &key, &msg, &with_s(&sig, &l_plus));
        }
        check.same("S + L", &key, &msg, &with_s(&sig, &add256(&s, &L)));
        let mut l_minus_1 = L;
        l_minus_1[0] -= 1;
        let mut one = [0u8; 32];
        one[0] = 1;
        for (what, s) in [
            ("S = 0", [0u8; 32]),
            ("S = 1", one),
            ("S = L − 1", l_minus_1),
            ("S = 2²⁵⁶ − 1", [0xff; 32]),
        ] {
            check.same(what, &key, &msg, &with_s(&sig, &s));
        }

        // R's sign bit flipped; R a small-order point in any encoding; another key's R and S.
        let mut flipped = sig;
        flipped[31] ^= 0x80;
        check.same("R sign flipped", &key, &msg, &flipped);
        for r in small_order() {
            let mut bad = sig;
            bad[..32].copy_from_slice(&hex::decode(r).unwrap());
            check.same("small-order R", &key, &msg, &bad);
            check.same("small-order R, S = 0", &key, &msg, &with_s(&bad, &[0; 32]));
        }
        check.same(
            "another key's signature",
            &key,
            &msg,
            &other.sign(&msg).to_bytes(),
        );

        // Wrong lengths: a 64-byte signature one byte short or long, or empty.
        for len in [0, 63, 65] {
            let mut bad = sig.to_vec();
            bad.resize(len, 0);
            check.same("signature length", &key, &msg, &bad);
        }
    }

    // Keys: small order in every encoding, y and y + p for y < 19 with each sign, random bytes,
    // wrong lengths.
    for k in small_order() {
        check.same_key("small-order key", &hex::decode(k).unwrap());
    }
    for y in 0u8..19 {
        for sign in [0u8, 0x80] {
            let mut small = [0u8; 32];
            small[0] = y;
            small[31] = sign;
            check.same_key("small y", &small);
            let mut big = [0xffu8; 32];
            big[0] = 0xed + y;
            big[31] = 0x7f | sign;
            check.same_key("y + p", &big);
        }
    }
    let mut points = 0;
    for _ in 0..(50 * rounds) {
        let bytes = rng.bytes32();
        check.same_key("random key", &bytes);
        if PublicKey::ed25519(&bytes).is_ok() {
            points += 1;
            let mut sig = [0u8; 64];
            sig[..32].copy_from_slice(&rng.bytes32());
            sig[32..].copy_from_slice(&rng.bytes32());
            sig[63] &= 0x0f;
            check.same("random key and signature", &bytes, b"m", &sig);
        }
    }
    assert!(
        points > 10 * rounds,
        "seed {seed:#x}: {points} random keys were points"
    );
    for len in [0, 31, 33] {
        check.same_key("key length", &vec![1u8; len]);
    }
    println!("{} cases, {} valid signatures", check.cases, check.valid);
    assert_eq!(check.valid, rounds, "seed {seed:#x}");
}
