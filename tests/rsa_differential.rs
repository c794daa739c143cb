//! Differential test of our RSA verifier (`src/crypto/rsa_verify/`, reached through
//! `crypto::PublicKey`) against the `rsa` crate, the implementation it replaced: on the same key,
//! message and signature both must give the same verdict, for all six RS*/PS* algorithms and
//! 2048-, 2049-, 3072- and 4096-bit keys (e = 65537 and e = 3).
//!
//! Cases per key, algorithm and message: the valid signature (must verify), every other
//! algorithm on it, another message, random bit flips, random byte strings, values at or above
//! `n` (including `s + n`, the same residue), wrong lengths, PSS salts of other lengths, and
//! "crafted" signatures: the valid encoded message with a bit or byte changed, signed with raw
//! RSA so that the damage reaches the encoding checks. The raw public operation is also compared
//! value for value with the `rsa` crate's. Every case runs on both engines of the public
//! operation (`Engine::Fma`, the one the default wasm build picks, and `Engine::Int`), which
//! must agree; a wasm build without the fast engine (`make test-wasm`) runs them on `Engine::Int`.
//!
//! The RNG is seeded from `RSA_DIFF_SEED` (decimal or 0x-hex) or else from the clock; the seed
//! is printed, and every failure names it, so `RSA_DIFF_SEED=<seed> cargo test --test
//! rsa_differential` replays a run. Keys come from fixed seeds (generation is slow), not the run
//! seed. `RSA_DIFF_ROUNDS` sets messages per key and algorithm; the `#[ignore]`d `*_long` test
//! runs many more: `cargo test --release --test rsa_differential -- --ignored --nocapture`.

// The whole file is test harness: clippy's test allowances only cover `#[test]` functions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use jwt_mint::Rng;
use rsa::hazmat::{rsa_decrypt, rsa_encrypt};
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, Pkcs1v15Sign, Pss, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256, Sha384, Sha512};

use jwt_authn_wasm::crypto::alg::Alg;
use jwt_authn_wasm::crypto::PublicKey;
use jwt_authn_wasm::crypto::rsa_verify::{Engine, Exponent, RsaPublic};

const RSA_ALGS: [Alg; 6] = [
    Alg::Rs256,
    Alg::Rs384,
    Alg::Rs512,
    Alg::Ps256,
    Alg::Ps384,
    Alg::Ps512,
];

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let text = text.trim();
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    Some(parsed.unwrap_or_else(|e| panic!("{name}={text}: {e}")))
}

/// The run seed: one per process, printed once.
fn run_seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| {
        let seed = env_u64("RSA_DIFF_SEED").unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        });
        println!("rsa_differential: RSA_DIFF_SEED={seed:#x}");
        seed
    })
}

/// A key pair in both forms: the `rsa` crate's (to sign and as the reference verifier) and ours.
struct Pair {
    private: RsaPrivateKey,
    public: RsaPublicKey,
    /// Ours on each engine of the public operation: [`Engine::Fma`] (the one the default wasm
    /// build picks; [`Engine::Int`] again in a build without it) and [`Engine::Int`].
    ours: PublicKey,
    ours_int: PublicKey,
    raw: RsaPublic,
    raw_int: RsaPublic,
    k: usize,
    n: Vec<u8>,
}

impl Pair {
    fn generate(bits: usize, e: u32, key_seed: u64) -> Pair {
        let mut rng = Rng(key_seed);
        let private =
            RsaPrivateKey::new_with_exp(&mut rng, bits, BoxedUint::from(e)).expect("keygen");
        let public = private.to_public_key();
        assert_eq!(public.n().bits() as usize, bits, "generated modulus size");
        let k = bits.div_ceil(8);
        let n = fixed(&public.n().to_be_bytes(), k);
        let e_bytes = public.e().to_be_bytes();
        let fast = if Engine::Fma.built() {
            Engine::Fma
        } else {
            Engine::Int
        };
        let ours = PublicKey::rsa_on(&n, &e_bytes, fast).expect("our constructor");
        let ours_int = PublicKey::rsa_on(&n, &e_bytes, Engine::Int).expect("our constructor");
        let e = Exponent::from_be_bytes(&e_bytes).unwrap();
        let raw = RsaPublic::with_engine(&n, e, fast).unwrap();
        assert_eq!(raw.engine(), fast);
        let raw_int = RsaPublic::with_engine(&n, e, Engine::Int).unwrap();
        Pair {
            private,
            public,
            ours,
            ours_int,
            raw,
            raw_int,
            k,
            n,
        }
    }

    fn precision(&self) -> u32 {
        self.public.n().bits_precision()
    }

    fn int(&self, bytes: &[u8]) -> BoxedUint {
        BoxedUint::from_be_slice(bytes, self.precision()).unwrap()
    }

    fn sign(&self, alg: Alg, msg: &[u8], rng: &mut Rng) -> Vec<u8> {
        let sig = match alg {
            Alg::Rs256 => self
                .private
                .sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(msg)),
            Alg::Rs384 => self
                .private
                .sign(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(msg)),
            Alg::Rs512 => self
                .private
                .sign(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(msg)),
            Alg::Ps256 => {
                self.private
                    .sign_with_rng(rng, Pss::<Sha256>::new(), &Sha256::digest(msg))
            }
            Alg::Ps384 => {
                self.private
                    .sign_with_rng(rng, Pss::<Sha384>::new(), &Sha384::digest(msg))
            }
            Alg::Ps512 => {
                self.private
                    .sign_with_rng(rng, Pss::<Sha512>::new(), &Sha512::digest(msg))
            }
            other => panic!("not an RSA algorithm: {other}"),
        };
        fixed(&sig.expect("sign"), self.k)
    }

    /// A PSS signature with a salt of `salt_len` bytes (PS* requires the hash length).
    fn sign_pss_salt(&self, alg: Alg, msg: &[u8], salt_len: usize, rng: &mut Rng) -> Vec<u8> {
        let sig = match alg {
            Alg::Ps256 => self.private.sign_with_rng(
                rng,
                Pss::<Sha256>::new_with_salt(salt_len),
                &Sha256::digest(msg),
            ),
            Alg::Ps384 => self.private.sign_with_rng(
                rng,
                Pss::<Sha384>::new_with_salt(salt_len),
                &Sha384::digest(msg),
            ),
            _ => self.private.sign_with_rng(
                rng,
                Pss::<Sha512>::new_with_salt(salt_len),
                &Sha512::digest(msg),
            ),
        };
        fixed(&sig.expect("sign"), self.k)
    }

    /// `em^d mod n`: a signature whose public operation gives back `em` (which must be < n).
    fn raw_sign(&self, em: &[u8]) -> Vec<u8> {
        let s = rsa_decrypt::<Rng>(None, &self.private, &self.int(em)).expect("raw sign");
        fixed(&s.to_be_bytes(), self.k)
    }

    /// `s^e mod n` by the `rsa` crate, `k` bytes.
    fn raw_public(&self, s: &[u8]) -> Vec<u8> {
        fixed(
            &rsa_encrypt(&self.public, &self.int(s))
                .expect("raw public")
                .to_be_bytes(),
            self.k,
        )
    }

    /// The `rsa` crate's verdict.
    fn reference(&self, alg: Alg, msg: &[u8], sig: &[u8]) -> bool {
        let pk = &self.public;
        match alg {
            Alg::Rs256 => pk.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(msg), sig),
            Alg::Rs384 => pk.verify(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(msg), sig),
            Alg::Rs512 => pk.verify(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(msg), sig),
            Alg::Ps256 => pk.verify(Pss::<Sha256>::new(), &Sha256::digest(msg), sig),
            Alg::Ps384 => pk.verify(Pss::<Sha384>::new(), &Sha384::digest(msg), sig),
            Alg::Ps512 => pk.verify(Pss::<Sha512>::new(), &Sha512::digest(msg), sig),
            other => panic!("not an RSA algorithm: {other}"),
        }
        .is_ok()
    }
}

/// Big-endian `bytes` as exactly `len` bytes (left-padded with zeros, or leading zeros dropped).
fn fixed(bytes: &[u8], len: usize) -> Vec<u8> {
    let start = bytes.len().saturating_sub(len);
    assert!(
        bytes[..start].iter().all(|&b| b == 0),
        "value wider than {len} bytes"
    );
    let mut out = vec![0u8; len - (bytes.len() - start)];
    out.extend_from_slice(&bytes[start..]);
    out
}

/// `a + b` for big-endian byte strings of equal length; `None` on overflow.
fn add(a: &[u8], b: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0u8; a.len()];
    let mut carry = 0u16;
    for i in (0..a.len()).rev() {
        let sum = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = sum as u8;
        carry = sum >> 8;
    }
    (carry == 0).then_some(out)
}

/// Verdict counts per case kind, and the disagreements.
#[derive(Default)]
struct Tally {
    /// kind → (cases, accepted)
    kinds: BTreeMap<&'static str, (usize, usize)>,
    failures: Vec<String>,
}

impl Tally {
    fn total(&self) -> usize {
        self.kinds.values().map(|(cases, _)| cases).sum()
    }
}

struct Run<'a> {
    pair: &'a Pair,
    label: String,
    seed: u64,
    tally: Tally,
}

impl Run<'_> {
    /// Both verdicts on one case; `expect` pins the verdict where the case kind fixes it.
    fn case(&mut self, kind: &'static str, alg: Alg, msg: &[u8], sig: &[u8], expect: Option<bool>) {
        let ours = self.pair.ours.verify(alg, msg, sig).is_ok();
        let ours_int = self.pair.ours_int.verify(alg, msg, sig).is_ok();
        let reference = self.pair.reference(alg, msg, sig);
        let entry = self.tally.kinds.entry(kind).or_default();
        entry.0 += 1;
        entry.1 += usize::from(ours);
        if ours != reference || ours_int != ours || expect.is_some_and(|want| want != ours) {
            self.tally.failures.push(format!(
                "{} {alg} {kind}: ours {ours} (Int engine {ours_int}), rsa crate {reference}, \
                 expected {expect:?} \
                 (RSA_DIFF_SEED={:#x}) msg={} sig={}",
                self.label,
                self.seed,
                hex::encode(msg),
                hex::encode(sig)
            ));
        }
    }

    fn round(&mut self, alg: Alg, rng: &mut Rng) {
        let pair = self.pair;
        let k = pair.k;
        let msg_len = rng.below(200);
        let msg = rng.bytes(msg_len);
        let sig = pair.sign(alg, &msg, rng);

        self.case("valid", alg, &msg, &sig, Some(true));
        for other in RSA_ALGS.into_iter().filter(|&a| a != alg) {
            self.case("other algorithm", other, &msg, &sig, Some(false));
        }
        let mut other_msg = msg.clone();
        match other_msg.first_mut() {
            Some(byte) => *byte ^= 1,
            None => other_msg.push(0),
        }
        self.case("other message", alg, &other_msg, &sig, Some(false));

        for _ in 0..8 {
            let mut flipped = sig.clone();
            flipped[rng.below(k)] ^= 1 << rng.below(8);
            self.case("bit flip", alg, &msg, &flipped, Some(false));
        }
        // The leading bytes carry the most structure (and decide s < n).
        let mut flipped = sig.clone();
        flipped[rng.below(4)] ^= 1 << rng.below(8);
        self.case("bit flip (top bytes)", alg, &msg, &flipped, Some(false));

        for _ in 0..2 {
            self.case("random", alg, &msg, &rng.bytes(k), Some(false));
        }
        // Below n with a leading zero byte, and the other extreme.
        let mut small = rng.bytes(k);
        small[0] = 0;
        self.case("random, leading zero", alg, &msg, &small, Some(false));

        // At or above n: n itself, s + n (same residue as the valid s), 2^8k - 1, random.
        self.case(">= n: n", alg, &msg, &pair.n, Some(false));
        if let Some(s_plus_n) = add(&sig, &pair.n) {
            self.case(">= n: s + n", alg, &msg, &s_plus_n, Some(false));
        }
        self.case(">= n: all ones", alg, &msg, &vec![0xff; k], Some(false));
        let mut offset = vec![0u8; k];
        let tail = rng.bytes(k / 2);
        offset[k - tail.len()..].copy_from_slice(&tail);
        if let Some(above) = add(&pair.n, &offset) {
            self.case(">= n: n + random", alg, &msg, &above, Some(false));
        }

        // Lengths: the same integer in k - 1 or k + 1 bytes, truncated, empty.
        if sig[0] == 0 {
            self.case(
                "length: k - 1, same value",
                alg,
                &msg,
                &sig[1..],
                Some(false),
            );
        }
        let padded = [&[0u8][..], &sig].concat();
        self.case("length: k + 1, same value", alg, &msg, &padded, Some(false));
        self.case("length: truncated", alg, &msg, &sig[..k - 1], Some(false));
        let appended = [&sig[..], &[0u8][..]].concat();
        self.case("length: appended zero", alg, &msg, &appended, Some(false));
        self.case("length: empty", alg, &msg, &[], Some(false));

        if matches!(alg, Alg::Ps256 | Alg::Ps384 | Alg::Ps512) {
            let h_len = match alg {
                Alg::Ps256 => 32,
                Alg::Ps384 => 48,
                _ => 64,
            };
            let salt_len = [0, 20, h_len - 1, h_len + 1][rng.below(4)];
            let other_salt = pair.sign_pss_salt(alg, &msg, salt_len, rng);
            self.case(
                "pss: other salt length",
                alg,
                &msg,
                &other_salt,
                Some(false),
            );
        }

        // Crafted: the recovered EM with a bit or a byte changed, signed raw.
        let em = pair.raw_public(&sig);
        let mut crafted = Vec::new();
        let mut bit = em.clone();
        bit[rng.below(k)] ^= 1 << rng.below(8);
        crafted.push(("crafted: EM bit flip", bit));
        let mut byte = em.clone();
        byte[rng.below(k)] ^= 1 + rng.below(255) as u8; // never a no-op
        crafted.push(("crafted: EM byte changed", byte));
        // The last 70 bytes hold the DigestInfo/hash (RS) or H and the trailer (PS).
        let mut tail = em.clone();
        tail[k - 1 - rng.below(70)] ^= 1 << rng.below(8);
        crafted.push(("crafted: EM tail bit flip", tail));
        let mut head = em.clone();
        head[rng.below(3)] ^= 1 << rng.below(8);
        crafted.push(("crafted: EM head bit flip", head));
        for (kind, em) in crafted {
            if em < pair.n {
                let sig = pair.raw_sign(&em);
                self.case(kind, alg, &msg, &sig, Some(false));
            }
        }
    }

    /// The raw public operation, value for value.
    fn raw_round(&mut self, rng: &mut Rng) {
        let pair = self.pair;
        let mut s = rng.bytes(pair.k);
        if s >= pair.n {
            s[0] = rng.below(usize::from(pair.n[0])) as u8;
        }
        let ours = pair.raw.public_op(&s).ok();
        let ours_int = pair.raw_int.public_op(&s).ok();
        let reference = pair.raw_public(&s);
        let equal = ours.as_ref() == Some(&reference) && ours_int == ours;
        // "accepted" counts the values equal to the rsa crate's here.
        let entry = self.tally.kinds.entry("raw s^e mod n").or_default();
        entry.0 += 1;
        entry.1 += usize::from(equal);
        if !equal {
            self.tally.failures.push(format!(
                "{} raw s^e mod n differs (RSA_DIFF_SEED={:#x}) s={}",
                self.label,
                self.seed,
                hex::encode(&s)
            ));
        }
    }
}

/// Runs `rounds` messages per algorithm on a key of `bits` bits with exponent `e`.
fn differential(bits: usize, e: u32, rounds: usize) {
    let seed = run_seed();
    let key_seed = (bits as u64) << 32 | u64::from(e);
    let started = Instant::now();
    let pair = Pair::generate(bits, e, key_seed);
    let keygen = started.elapsed();
    // One stream per key: tests run in parallel and must not depend on each other's order.
    let mut rng = Rng(seed ^ key_seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut run = Run {
        pair: &pair,
        label: format!("RSA-{bits} e={e}"),
        seed,
        tally: Tally::default(),
    };
    for _ in 0..rounds {
        for alg in RSA_ALGS {
            run.round(alg, &mut rng);
        }
        run.raw_round(&mut rng);
    }
    let tally = run.tally;
    println!(
        "{}: {} cases in {:?} (key generation {:?}), seed {seed:#x}",
        run.label,
        tally.total(),
        started.elapsed(),
        keygen
    );
    for (kind, (cases, accepted)) in &tally.kinds {
        println!("  {kind}: {cases} cases, {accepted} accepted");
    }
    assert!(
        tally.failures.is_empty(),
        "{} disagreements:\n{}",
        tally.failures.len(),
        tally.failures.join("\n")
    );
}

fn rounds(default: usize) -> usize {
    env_u64("RSA_DIFF_ROUNDS").map_or(default, |r| r as usize)
}

#[test]
fn rsa_2048_e65537() {
    differential(2048, 65537, rounds(12));
}

#[test]
fn rsa_2048_e3() {
    differential(2048, 3, rounds(12));
}

/// modBits = 8·k - 7: PSS's emLen is k - 1, so EM must fit one byte short of the modulus.
#[test]
fn rsa_2049_e65537() {
    differential(2049, 65537, rounds(6));
}

#[test]
fn rsa_3072_e65537() {
    differential(3072, 65537, rounds(5));
}

#[test]
fn rsa_4096_e65537() {
    differential(4096, 65537, rounds(3));
}

/// Many more rounds; run it in release: `cargo test --release --test rsa_differential --
/// --ignored --nocapture`.
#[test]
#[ignore]
fn rsa_long() {
    for (bits, e) in [
        (2048, 65537),
        (2048, 3),
        (2049, 65537),
        (2052, 65537),
        (3072, 65537),
        (3072, 3),
        (4096, 65537),
    ] {
        differential(bits, e, rounds(200));
    }
}
