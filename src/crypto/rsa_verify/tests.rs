use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, RsaPrivateKey};

use super::int28::{double_mod, sub_in_place, LIMB_BITS, LIMB_MASK};
use super::*;
use crate::crypto::tests::{rsa_private, TestRng};

/// splitmix64: reproducible test values.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64, the project's one test RNG (`jwt_mint::Rng`)
        let mut inner = jwt_mint::Rng(self.0);
        let value = inner.next_u64();
        self.0 = inner.0;
        value
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn n_bytes(private: &RsaPrivateKey) -> Vec<u8> {
    private.to_public_key().n().to_be_bytes().to_vec()
}

fn key(n: &[u8], e: Exponent) -> RsaPublic {
    RsaPublic::new(n, e).unwrap()
}

/// Natively both engines are built and multiply-add is always fused. In wasm, the runner
/// (`tools/wasm_run.py`, `make test-wasm`) fuses it as Envoy's V8 does, so a build with the
/// fast engine must pick it: a build that fell back here would leave that engine untested.
#[test]
fn the_known_answer_check_passes_and_the_build_has_its_engines() {
    assert!(Engine::Int.available());
    assert_eq!(Engine::Fma.available(), Engine::Fma.built());
    if Engine::Fma.built() {
        assert!(fma_agrees_with_int());
    }
    // Native test builds target x86-64 without FMA, or arm64 (which has it).
    let fast_here = cfg!(any(target_arch = "wasm32", target_feature = "fma"));
    let best = if fast_here && Engine::Fma.built() {
        Engine::Fma
    } else {
        Engine::Int
    };
    assert_eq!(Engine::best(), best);
}

#[test]
fn the_builds_have_the_engines_their_simd_allows() {
    let native = cfg!(not(target_arch = "wasm32"));
    assert!(Engine::Int.built());
    assert_eq!(Engine::Fma.built(), native || Simd::BUILT == Simd::Relaxed);
    let simd = if cfg!(feature = "relaxed-simd") {
        Simd::Relaxed
    } else if cfg!(feature = "simd128") {
        Simd::Simd128
    } else {
        Simd::None
    };
    assert_eq!(Simd::BUILT, simd);
}

#[test]
fn the_engine_line_says_which_engine_and_why() {
    let cases = [
        (
            Engine::Fma,
            Simd::Relaxed,
            "50-bit limbs with fused multiply-add",
        ),
        (
            Engine::Int,
            Simd::Relaxed,
            "this host does not fuse multiply-add",
        ),
        (
            Engine::Int,
            Simd::Simd128,
            "(jwt_authn.simd128.wasm) has no relaxed SIMD",
        ),
        (
            Engine::Int,
            Simd::None,
            "(jwt_authn.portable.wasm) has no SIMD",
        ),
    ];
    for (engine, simd, says) in cases {
        let line = engine.describe(simd);
        assert!(line.starts_with("RSA signatures checked on "), "{line}");
        assert!(line.contains(says), "{engine:?} {simd:?}: {line}");
    }
}

/// The key on each engine this build has (natively both).
fn keys(n: &[u8], e: Exponent) -> Vec<RsaPublic> {
    let int = RsaPublic::with_engine(n, e, Engine::Int).unwrap();
    assert_eq!(int.engine(), Engine::Int);
    if !Engine::Fma.built() {
        assert!(RsaPublic::with_engine(n, e, Engine::Fma).is_none());
        return vec![int];
    }
    let fast = RsaPublic::with_engine(n, e, Engine::Fma).unwrap();
    assert_eq!(fast.engine(), Engine::Fma, "the fast engine fell back");
    vec![fast, int]
}

/// `s^e mod n` by the `rsa` crate's public operation.
fn oracle(n: &[u8], e: Exponent, s: &[u8]) -> Vec<u8> {
    let precision = (n.len() * 8).div_ceil(64) as u32 * 64;
    let public = rsa::RsaPublicKey::new(
        BoxedUint::from_be_slice(n, precision).unwrap(),
        BoxedUint::from(e.value()),
    )
    .unwrap();
    let m = rsa::hazmat::rsa_encrypt(&public, &BoxedUint::from_be_slice(s, precision).unwrap())
        .unwrap()
        .to_be_bytes();
    m[m.len() - n.len()..].to_vec()
}

fn mod_pow_u128(s: u128, e: u32, n: u128) -> u128 {
    // n < 2^64, so products fit.
    let (mut acc, mut base, mut e) = (1 % n, s % n, e);
    while e > 0 {
        if e & 1 == 1 {
            acc = acc * base % n;
        }
        base = base * base % n;
        e >>= 1;
    }
    acc
}

/// `R² mod n` the slow way: `1` doubled `2·28·L` times.
fn r_squared_by_doubling(n: &[u32]) -> Vec<u32> {
    let mut x = vec![0u32; n.len()];
    x[0] = 1;
    for _ in 0..2 * LIMB_BITS as usize * (n.len() - PAD) {
        double_mod(&mut x, n);
    }
    x
}

/// A random odd modulus of exactly `bits` bits, big-endian.
fn random_modulus(rng: &mut Rng, bits: usize) -> Vec<u8> {
    let mut n = rng.bytes(bits.div_ceil(8));
    let top = (bits - 1) % 8;
    n[0] = n[0] & ((1u16 << (top + 1)) - 1) as u8 | 1 << top;
    *n.last_mut().unwrap() |= 1;
    n
}

/// `2^bits - 1`: every limb all ones (28-bit and byte limbs alike when `bits` is a multiple).
fn all_ones(bits: usize) -> Vec<u8> {
    let mut n = vec![0xff; bits.div_ceil(8)];
    n[0] = ((1u16 << ((bits - 1) % 8 + 1)) - 1) as u8;
    n
}

/// `x - 1` for big-endian `x > 0`.
fn minus_one(x: &[u8]) -> Vec<u8> {
    let mut x = x.to_vec();
    for byte in x.iter_mut().rev() {
        let (d, borrow) = byte.overflowing_sub(1);
        *byte = d;
        if !borrow {
            break;
        }
    }
    x
}

/// `x + n` for limbs `x < n`: a value in `[n, 2n)`, which Montgomery products accept.
fn plus_n(x: &[u32], n: &[u32]) -> Vec<u32> {
    let mut carry = 0;
    x.iter()
        .zip(n)
        .map(|(&a, &b)| {
            let sum = a + b + carry;
            carry = sum >> LIMB_BITS;
            sum & LIMB_MASK
        })
        .collect()
}

#[test]
fn neg_inverse_is_minus_the_inverse() {
    let mut rng = Rng(7);
    let samples = (0..1000).map(|_| rng.next() as u32 & LIMB_MASK | 1);
    for n0 in [1, 3, LIMB_MASK, 0x800_0001].into_iter().chain(samples) {
        assert_eq!(
            n0.wrapping_mul(neg_inverse(n0)) & LIMB_MASK,
            LIMB_MASK,
            "n0 = {n0:#x}"
        );
        assert!(neg_inverse(n0) <= LIMB_MASK);
    }
}

#[test]
fn limb_conversion_round_trips() {
    let mut rng = Rng(19);
    let mut values: Vec<Vec<u8>> =
        vec![vec![], vec![0], vec![1], vec![0xff; 7], vec![0xff; 64]];
    for len in 1..=72 {
        values.push(rng.bytes(len));
        values.push(vec![0xff; len]);
    }
    // Single bits and all-ones runs ending on each side of limb boundaries (28·k ± 1).
    for bit in [
        0, 1, 27, 28, 29, 55, 56, 57, 83, 84, 111, 112, 223, 224, 2047, 2048,
    ] {
        let len = bit / 8 + 1;
        let mut single = vec![0u8; len];
        single[len - 1 - bit / 8] = 1 << (bit % 8);
        values.push(single);
        values.push(all_ones(bit + 1));
    }
    for bytes in values {
        let len = (8 * bytes.len()).div_ceil(28) + 1;
        let limbs = limbs_from_be(&bytes, len);
        assert_eq!(limbs.len(), len);
        assert!(
            limbs.iter().all(|&l| l <= LIMB_MASK),
            "{}",
            hex::encode(&bytes)
        );
        assert_eq!(be_from_limbs(&limbs, bytes.len()), bytes);
        // Longer outputs get leading zeros; the limbs agree bit for bit with the bytes.
        let wide = be_from_limbs(&limbs, bytes.len() + 5);
        assert_eq!(wide[..5], [0; 5]);
        assert_eq!(wide[5..], bytes[..]);
        for (i, &limb) in limbs.iter().enumerate() {
            for b in 0..28 {
                let bit = 28 * i + b;
                let byte = bytes.len().checked_sub(1 + bit / 8).map_or(0, |j| bytes[j]);
                assert_eq!(limb >> b & 1, u32::from(byte >> (bit % 8) & 1), "bit {bit}");
            }
        }
    }
}

#[test]
fn limb_counts_leave_room_for_lazy_reduction() {
    for bits in 2..=8200 {
        let limbs = limb_count(bits);
        assert_eq!(limbs % 4, 0);
        // R = 2^(28·L) > 4n for every n below 2^bits, and no more limbs than that needs.
        assert!(28 * limbs >= bits + 2, "{bits}");
        assert!(28 * (limbs - 4) < bits + 2, "{bits}");
    }
    assert_eq!(limb_count(2048), 76);
    assert_eq!(limb_count(8192), 296);
}

#[test]
fn montgomery_constants_match_the_slow_way() {
    let mut rng = Rng(11);
    let mut moduli: Vec<Vec<u8>> = vec![
        vec![3],
        vec![0x0c, 0xa1], // 3233 = 61·53
        vec![0xff; 4],
        vec![0x01, 0, 0, 0, 1], // 2^32 + 1
        vec![0xff; 8],
        all_ones(28 * 4),
        all_ones(28 * 76 - 2), // the largest modulus for 76 limbs
        all_ones(28 * 76 - 1), // the smallest for 80
        n_bytes(&rsa_private()),
    ];
    for len in [5, 31, 64, 255, 257, 384, 512, 1024] {
        let mut n = rng.bytes(len);
        n[0] |= 1;
        *n.last_mut().unwrap() |= 1;
        moduli.push(n);
    }
    for n in moduli {
        let key = key(&n, Exponent::E65537);
        assert_eq!(key.byte_len(), n.len());
        assert_eq!(key.n.len(), limb_count(key.bits()) + PAD);
        assert_eq!(
            key.r2,
            r_squared_by_doubling(&key.n),
            "n = {}",
            hex::encode(&n)
        );
        assert_eq!(compare(&key.r2, &key.n), Ordering::Less);
        let low = key.n[0];
        assert_eq!(low.wrapping_mul(key.n0_inv) & LIMB_MASK, LIMB_MASK);
        assert!(key.n.iter().all(|&l| l <= LIMB_MASK));
        assert_eq!(key.n[key.n.len() - PAD..], [0; PAD], "padding limbs");
        assert_eq!(be_from_limbs(&key.n, n.len()), n);
    }
}

#[test]
fn squaring_matches_multiplication() {
    let mut rng = Rng(17);
    let mut moduli: Vec<Vec<u8>> = vec![
        vec![3],
        vec![0xff; 4],
        vec![0xff; 8],
        all_ones(28 * 73),
        all_ones(28 * 76 - 2),
        all_ones(8192),
        n_bytes(&rsa_private()),
    ];
    for len in [5, 9, 64, 255, 512, 1024] {
        let mut n = rng.bytes(len);
        n[0] |= 1;
        *n.last_mut().unwrap() |= 1;
        moduli.push(n);
    }
    for n in moduli {
        let key = key(&n, Exponent::E65537);
        let len = key.n.len();
        let mut scratch = Scratch::new(len - PAD);
        let mut n_minus_1 = key.n.clone();
        n_minus_1[0] -= 1;
        let mut values = vec![vec![0; len], n_minus_1, key.r2.clone()];
        for _ in 0..6 {
            let mut v = limbs_from_be(&rng.bytes(n.len()), len);
            while compare(&v, &key.n) != Ordering::Less {
                sub_in_place(&mut v, &key.n);
            }
            values.push(v);
        }
        // Inputs in [n, 2n), as the squarings of `public_op` see them, up to 2n - 1.
        for v in values.clone() {
            values.push(plus_n(&v, &key.n));
        }
        for a in &values {
            let (mut by_mul, mut by_sqr) = (vec![0; len], vec![0; len]);
            mont_mul(&mut by_mul, a, a, &key.n, key.n0_inv, &mut scratch);
            mont_sqr(&mut by_sqr, a, &key.n, key.n0_inv, &mut scratch);
            assert_eq!(by_sqr, by_mul, "n = {}", hex::encode(&n));
            // Below 2n, limbs normalized, padding zero.
            assert!(by_sqr.iter().all(|&l| l <= LIMB_MASK));
            assert_eq!(by_sqr[len - PAD..], [0; PAD]);
            let mut reduced = by_sqr.clone();
            reduce_once(&mut reduced, &key.n);
            assert_eq!(compare(&reduced, &key.n), Ordering::Less);
            // Same residue as from the reduced input.
            let mut a_reduced = a.clone();
            reduce_once(&mut a_reduced, &key.n);
            let mut from_reduced = vec![0; len];
            mont_sqr(
                &mut from_reduced,
                &a_reduced,
                &key.n,
                key.n0_inv,
                &mut scratch,
            );
            reduce_once(&mut from_reduced, &key.n);
            assert_eq!(reduced, from_reduced);
        }
        // Products of distinct values, lazy or not, against one another.
        for pair in values.windows(2) {
            let (mut ab, mut ba) = (vec![0; len], vec![0; len]);
            mont_mul(
                &mut ab,
                &pair[0],
                &pair[1],
                &key.n,
                key.n0_inv,
                &mut scratch,
            );
            mont_mul(
                &mut ba,
                &pair[1],
                &pair[0],
                &key.n,
                key.n0_inv,
                &mut scratch,
            );
            assert_eq!(ab, ba);
        }
    }
}

#[test]
fn public_op_matches_the_rsa_crate_at_every_size() {
    // Key sizes from 2048 to RSA_MAX_BITS, multiples of 64 or not of 32 or 8, the largest
    // and smallest moduli for a limb count (28·L - 2 and - 1 bits; 50·L - 2 and - 1 for
    // the fast engine), all-ones moduli (every limb at its maximum), and a sparse one; on
    // both engines.
    let mut rng = Rng(23);
    let mut moduli = vec![
        all_ones(2048),
        all_ones(28 * 80),
        all_ones(50 * 42),
        all_ones(8191),
        {
            let mut n = vec![0u8; 256];
            n[0] = 0x80;
            n[255] = 1;
            n
        },
    ];
    for bits in [
        2048, 2049, 2050, 2055, 2056, 2080, 2098, 2099, 2126, 2127, 3000, 3072, 4095, 4096,
        4100, 4198, 4199, 6001, 8191, 8192,
    ] {
        moduli.push(random_modulus(&mut rng, bits));
    }
    for n in moduli {
        let bits = bit_len(&n);
        for (e, key) in [Exponent::E3, Exponent::E65537]
            .into_iter()
            .flat_map(|e| keys(&n, e).into_iter().map(move |key| (e, key)))
        {
            assert_eq!(key.bits(), bits);
            let mut n_minus_2 = minus_one(&minus_one(&n));
            let mut signatures = vec![vec![0; n.len()], minus_one(&n), n_minus_2.clone()];
            let mut one = vec![0; n.len()];
            one[n.len() - 1] = 1;
            signatures.push(one);
            for _ in 0..2 {
                let mut s = rng.bytes(n.len());
                s[0] = s[0].min(n[0].saturating_sub(1));
                signatures.push(s);
            }
            // Many all-ones limbs below the top: n - 2 with its lower bytes all set.
            for byte in n_minus_2.iter_mut().skip(2) {
                *byte = 0xff;
            }
            if n_minus_2 < n {
                signatures.push(n_minus_2);
            }
            for s in signatures {
                assert_eq!(
                    key.public_op(&s).unwrap(),
                    oracle(&n, e, &s),
                    "{bits} bits, e = {}, {:?}, s = {}",
                    e.value(),
                    key.engine(),
                    hex::encode(&s)
                );
            }
            assert_eq!(key.public_op(&n), Err(Refused::OutOfRange), "s = n");
        }
    }
}

#[test]
fn public_op_matches_u128_arithmetic_on_small_moduli() {
    let mut rng = Rng(3);
    for n in [
        3u128,
        3233,
        0xffff_fffb,
        0x1_0000_0001,
        0xffff_ffff_ffff_ffc5,
        0x8000_0000_0000_0001,
    ] {
        let n_be = n.to_be_bytes();
        let n_be = strip_leading_zeros(&n_be);
        for (e, key) in [Exponent::E3, Exponent::E65537]
            .into_iter()
            .flat_map(|e| keys(n_be, e).into_iter().map(move |key| (e, key)))
        {
            let samples = (0..200).map(|_| u128::from(rng.next()) % n);
            for s in [0, 1, 2, n - 1].into_iter().chain(samples) {
                let sig = s.to_be_bytes()[16 - n_be.len()..].to_vec();
                let got = key.public_op(&sig).unwrap();
                let want =
                    mod_pow_u128(s, e.value(), n).to_be_bytes()[16 - n_be.len()..].to_vec();
                assert_eq!(
                    got,
                    want,
                    "n = {n}, e = {}, {:?}, s = {s}",
                    e.value(),
                    key.engine()
                );
            }
        }
    }
}

#[test]
fn public_op_matches_the_rsa_crate() {
    let mut rng = Rng(5);
    let n = n_bytes(&rsa_private());
    // A 3072-bit and a 4095-bit odd modulus: the arithmetic needs no primes.
    let mut n3072 = rng.bytes(384);
    n3072[0] |= 0x80;
    n3072[383] |= 1;
    let mut n4095 = rng.bytes(512);
    n4095[0] = n4095[0] & 0x7f | 0x40;
    n4095[511] |= 1;
    for n in [n, n3072, n4095] {
        for (e, key) in [Exponent::E3, Exponent::E65537]
            .into_iter()
            .flat_map(|e| keys(&n, e).into_iter().map(move |key| (e, key)))
        {
            for round in 0..8 {
                let mut s = rng.bytes(n.len());
                s[0] = s[0].min(n[0].saturating_sub(1));
                if round == 0 {
                    s[0] = 0; // leading zero byte
                }
                assert_eq!(
                    key.public_op(&s).unwrap(),
                    oracle(&n, e, &s),
                    "round {round}, {:?}",
                    key.engine()
                );
            }
        }
    }
}

#[test]
fn public_op_edge_values() {
    let n = n_bytes(&rsa_private());
    let k = n.len();
    let one = {
        let mut v = vec![0u8; k];
        v[k - 1] = 1;
        v
    };
    let mut n_minus_1 = n.clone();
    n_minus_1[k - 1] -= 1; // n is odd
    let mut n_plus_1 = n.clone();
    n_plus_1[k - 1] += 1;
    for key in [Exponent::E3, Exponent::E65537]
        .into_iter()
        .flat_map(|e| keys(&n, e))
    {
        assert_eq!(key.public_op(&vec![0; k]), Ok(vec![0; k]), "0^e = 0");
        assert_eq!(key.public_op(&one), Ok(one.clone()), "1^e = 1");
        // e is odd: (n-1)^e = (-1)^e = -1.
        assert_eq!(key.public_op(&n_minus_1), Ok(n_minus_1.clone()), "(n-1)^e");
        assert_eq!(key.public_op(&n), Err(Refused::OutOfRange), "s = n");
        assert_eq!(
            key.public_op(&n_plus_1),
            Err(Refused::OutOfRange),
            "s = n+1"
        );
        assert_eq!(
            key.public_op(&vec![0xff; k]),
            Err(Refused::OutOfRange),
            "2^8k - 1"
        );
        assert_eq!(
            key.public_op(&one[1..]),
            Err(Refused::Length),
            "k - 1 bytes"
        );
        let padded = [&[0u8][..], &one].concat();
        assert_eq!(
            key.public_op(&padded),
            Err(Refused::Length),
            "k + 1 bytes, small value"
        );
        assert_eq!(key.public_op(&[]), Err(Refused::Length), "empty");
        for padding in [Padding::Pkcs1v15, Padding::Pss] {
            for sig in [vec![0; k], one.clone(), n_minus_1.clone()] {
                assert_eq!(
                    key.verify(padding, Hash::Sha256, b"m", &sig),
                    Err(Refused::Encoding)
                );
            }
        }
    }
}

#[test]
fn constructor_refuses_even_and_tiny_moduli_and_ignores_leading_zeros() {
    let n = n_bytes(&rsa_private());
    let mut even = n.clone();
    *even.last_mut().unwrap() &= 0xfe;
    assert!(RsaPublic::new(&even, Exponent::E65537).is_none());
    assert!(RsaPublic::new(&[], Exponent::E65537).is_none());
    assert!(RsaPublic::new(&[0, 0], Exponent::E65537).is_none());
    assert!(RsaPublic::new(&[1], Exponent::E65537).is_none());
    assert!(RsaPublic::new(&[3], Exponent::E65537).is_some());
    let padded = key(&[&[0, 0][..], &n].concat(), Exponent::E3);
    let plain = key(&n, Exponent::E3);
    assert_eq!((padded.bits(), padded.byte_len()), (2048, 256));
    assert_eq!((&padded.n, &padded.r2), (&plain.n, &plain.r2));
    assert_eq!(
        format!("{plain:?}"),
        format!(
            "RsaPublic {{ bits: 2048, e: 3, engine: {:?}, .. }}",
            Engine::best()
        )
    );
}

#[test]
fn exponent_parsing() {
    assert_eq!(Exponent::from_be_bytes(&[3]), Some(Exponent::E3));
    assert_eq!(Exponent::from_be_bytes(&[0, 0, 3]), Some(Exponent::E3));
    assert_eq!(Exponent::from_be_bytes(&[1, 0, 1]), Some(Exponent::E65537));
    assert_eq!(
        Exponent::from_be_bytes(&[0, 1, 0, 1]),
        Some(Exponent::E65537)
    );
    for bad in [&[][..], &[0], &[1], &[5], &[1, 0, 0, 1], &[3, 0]] {
        assert_eq!(Exponent::from_be_bytes(bad), None, "{bad:?}");
    }
}

#[test]
fn digest_info_prefixes_are_the_rfc_ones() {
    // RFC 8017 §9.2 note 1.
    let table = [
        (Hash::Sha256, "3031300d060960864801650304020105000420"),
        (Hash::Sha384, "3041300d060960864801650304020205000430"),
        (Hash::Sha512, "3051300d060960864801650304020305000440"),
    ];
    for (hash, prefix) in table {
        assert_eq!(hex::encode(hash.digest_info_prefix()), prefix);
        assert_eq!(hash.digest(&[b"abc"]).len(), hash.output_len());
    }
    assert_eq!(
        hex::encode(Hash::Sha256.digest(&[b"a", b"bc"])),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

/// EMSA-PKCS1-v1_5 encoding, written out independently of `pkcs1v15_matches`.
fn pkcs1_em(k: usize, hash: Hash, m_hash: &[u8]) -> Vec<u8> {
    let t = [hash.digest_info_prefix(), m_hash].concat();
    let mut em = vec![0x00, 0x01];
    em.resize(k - t.len() - 1, 0xff);
    em.push(0x00);
    em.extend_from_slice(&t);
    em
}

/// EMSA-PSS-ENCODE (RFC 8017 §9.1.1) as the `k`-byte integer form.
fn pss_em(k: usize, em_bits: usize, hash: Hash, m_hash: &[u8], salt: &[u8]) -> Vec<u8> {
    let h_len = hash.output_len();
    let em_len = em_bits.div_ceil(8);
    let h = hash.digest(&[&[0u8; 8], m_hash, salt]);
    let mut db = vec![0u8; em_len - salt.len() - h_len - 2];
    db.push(0x01);
    db.extend_from_slice(salt);
    let mut mask = Vec::new();
    for counter in 0u32.. {
        if mask.len() >= db.len() {
            break;
        }
        mask.extend(hash.digest(&[&h, &counter.to_be_bytes()]));
    }
    for (d, m) in db.iter_mut().zip(mask) {
        *d ^= m;
    }
    db[0] &= 0xff >> (8 * em_len - em_bits);
    let mut em = vec![0u8; k - em_len];
    em.extend(db);
    em.extend(h);
    em.push(0xbc);
    em
}

#[test]
fn pkcs1v15_needs_the_exact_encoding() {
    let m_hash = Hash::Sha256.digest(&[b"message"]);
    let good = pkcs1_em(256, Hash::Sha256, &m_hash);
    assert!(pkcs1v15_matches(&good, Hash::Sha256, &m_hash));
    assert!(
        !pkcs1v15_matches(&good, Hash::Sha384, &m_hash),
        "other hash"
    );
    for i in 0..good.len() {
        for bit in [0x01, 0x80] {
            let mut bad = good.clone();
            bad[i] ^= bit;
            assert!(!pkcs1v15_matches(&bad, Hash::Sha256, &m_hash), "byte {i}");
        }
    }
    // DigestInfo without the NULL parameters (some signers' variant) is refused.
    let mut no_null = vec![0x00, 0x01];
    no_null.resize(256 - 17 - 32 - 1, 0xff);
    no_null.push(0);
    no_null.extend(hex::decode("302f300b0609608648016503040201").unwrap());
    no_null.extend(hex::decode("0420").unwrap());
    no_null.extend(&m_hash);
    assert_eq!(no_null.len(), 256);
    assert!(!pkcs1v15_matches(&no_null, Hash::Sha256, &m_hash));
    // Room for only 7 bytes of 0xff: too short a modulus for this hash.
    let short = pkcs1_em(19 + 32 + 3 + 7, Hash::Sha256, &m_hash);
    assert!(!pkcs1v15_matches(&short, Hash::Sha256, &m_hash));
    let shortest = pkcs1_em(19 + 32 + 3 + 8, Hash::Sha256, &m_hash);
    assert!(pkcs1v15_matches(&shortest, Hash::Sha256, &m_hash));
    assert!(!pkcs1v15_matches(&[], Hash::Sha256, &m_hash));
}

#[test]
fn pss_checks_every_field() {
    let mut rng = Rng(9);
    for hash in [Hash::Sha256, Hash::Sha384, Hash::Sha512] {
        let h_len = hash.output_len();
        let m_hash = hash.digest(&[b"message"]);
        let salt = rng.bytes(h_len);
        // modBits 2048 (emLen = k), 2049 (emLen = k - 1), 2052 (4 leftmost bits cleared).
        for (k, mod_bits) in [(256, 2048), (257, 2049), (257, 2052)] {
            let em_bits = mod_bits - 1;
            let good = pss_em(k, em_bits, hash, &m_hash, &salt);
            assert_eq!(good.len(), k);
            assert!(
                pss_matches(&good, em_bits, hash, &m_hash),
                "{hash:?} {mod_bits}"
            );
            let other = hash.digest(&[b"other"]);
            assert!(!pss_matches(&good, em_bits, hash, &other), "other message");
            // Every single-bit change is caught: in the leading zero byte, the leftmost
            // bits, maskedDB (PS, separator or salt), H, or the trailer.
            for i in 0..k {
                for bit in 0..8 {
                    let mut bad = good.clone();
                    bad[i] ^= 1 << bit;
                    assert!(
                        !pss_matches(&bad, em_bits, hash, &m_hash),
                        "{hash:?} {mod_bits}: byte {i} bit {bit}"
                    );
                }
            }
            // Other salt lengths are not PS*.
            for salt_len in [0, h_len - 1, h_len + 1] {
                let other_salt = rng.bytes(salt_len);
                let em = pss_em(k, em_bits, hash, &m_hash, &other_salt);
                assert!(!pss_matches(&em, em_bits, hash, &m_hash), "sLen {salt_len}");
            }
        }
        // Too short for hLen + sLen + 2.
        let tiny = pss_em(2 * h_len + 2, 8 * (2 * h_len + 2) - 1, hash, &m_hash, &salt);
        assert!(pss_matches(&tiny, 8 * (2 * h_len + 2) - 1, hash, &m_hash));
        assert!(!pss_matches(
            &tiny[1..],
            8 * (2 * h_len + 1) - 1,
            hash,
            &m_hash
        ));
    }
    assert!(!pss_matches(&[], 0, Hash::Sha256, &[0; 32]));
}

#[test]
fn end_to_end_with_crafted_encodings() {
    // Sign encodings built here with the private key (raw RSA), so the whole verify path
    // runs on encodings no standard signer would make.
    let private = rsa_private();
    let n = n_bytes(&private);
    let raw_sign = |em: &[u8]| {
        let c = BoxedUint::from_be_slice(em, 2048).unwrap();
        let s = rsa::hazmat::rsa_decrypt::<TestRng>(None, &private, &c).unwrap();
        s.to_be_bytes().to_vec()
    };
    let message = b"header.payload";
    let hashes = [Hash::Sha256, Hash::Sha384, Hash::Sha512];
    for (hash, key) in hashes.into_iter().flat_map(|hash| {
        keys(&n, Exponent::E65537)
            .into_iter()
            .map(move |key| (hash, key))
    }) {
        let m_hash = hash.digest(&[message]);
        let sig = raw_sign(&pkcs1_em(256, hash, &m_hash));
        assert_eq!(key.verify(Padding::Pkcs1v15, hash, message, &sig), Ok(()));
        assert_eq!(
            key.verify(Padding::Pss, hash, message, &sig),
            Err(Refused::Encoding)
        );
        let salt = vec![0x5a; hash.output_len()];
        let sig = raw_sign(&pss_em(256, 2047, hash, &m_hash, &salt));
        assert_eq!(key.verify(Padding::Pss, hash, message, &sig), Ok(()));
        assert_eq!(
            key.verify(Padding::Pkcs1v15, hash, message, &sig),
            Err(Refused::Encoding)
        );
        assert_eq!(
            key.verify(Padding::Pss, hash, b"other", &sig),
            Err(Refused::Encoding)
        );
    }
}

/// Rough timing, not an assertion:
/// `cargo test --release --lib -- --ignored --nocapture rsa_verify::tests::timing`.
#[test]
#[ignore]
fn timing() {
    let mut rng = Rng(13);
    let n2048 = n_bytes(&rsa_private());
    let mut moduli = vec![n2048];
    for len in [384, 512] {
        let mut n = rng.bytes(len);
        n[0] |= 0x80;
        n[len - 1] |= 1;
        moduli.push(n);
    }
    for n in moduli {
        let start = std::time::Instant::now();
        let rounds = 200;
        for _ in 0..rounds {
            std::hint::black_box(key(&n, Exponent::E65537));
        }
        println!(
            "RSA-{}: key setup {:?}",
            n.len() * 8,
            start.elapsed() / rounds
        );
        for e in [Exponent::E65537, Exponent::E3] {
            let key = key(&n, e);
            let mut s = rng.bytes(n.len());
            s[0] = 0;
            let rounds = 2000;
            let start = std::time::Instant::now();
            for _ in 0..rounds {
                std::hint::black_box(key.public_op(std::hint::black_box(&s)).unwrap());
            }
            println!(
                "RSA-{} e={}: s^e mod n {:?}",
                n.len() * 8,
                e.value(),
                start.elapsed() / rounds
            );
        }
    }
}
