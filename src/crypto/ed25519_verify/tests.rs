//! The verifier's pieces, and a differential against ed25519-dalek (`verify_strict`, and
//! `from_bytes` + `is_weak` for keys) small enough to run in wasmtime too (`make test-wasm`);
//! tests/ed25519_differential.rs runs the wide one natively.

use super::*;

use ed25519_dalek::{Signature, Signer, SigningKey};

/// The project's one seeded test generator (splitmix64): the tests are reproducible.
use jwt_mint::Rng;
/// Ed25519's small-order points in every encoding, shared with tests/ed25519_differential.rs.
use jwt_mint::torsion::{TORSION, TORSION_NON_CANONICAL};

/// 32 bytes, the low byte of one draw each.
fn bytes32(rng: &mut Rng) -> [u8; 32] {
    rng.bytes(32).try_into().unwrap()
}

fn hex32(s: &str) -> [u8; 32] {
    hex::decode(s).unwrap().try_into().unwrap()
}

fn dalek_key_ok(bytes: &[u8; 32]) -> bool {
    ed25519_dalek::VerifyingKey::from_bytes(bytes).is_ok_and(|k| !k.is_weak())
}

fn dalek_verify(key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> Option<bool> {
    let key = ed25519_dalek::VerifyingKey::from_bytes(key).ok()?;
    if key.is_weak() {
        return None;
    }
    Some(key.verify_strict(msg, &Signature::from_bytes(sig)).is_ok())
}

fn ours_verify(key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> Option<bool> {
    Some(VerifyingKey::from_bytes(key)?.verify(msg, sig))
}

/// `[s]P` for any point, by the verifier's own multiplication (B's table and an all-zero s).
fn mul(s: &[u8; 32], p: &Point) -> Point {
    lincomb(&[0; 32], b_table().unwrap(), s, &Table::new(p, W_A)).unwrap()
}

fn point(s: &str) -> Point {
    Point::decompress(&hex32(s)).unwrap()
}

#[test]
fn base_point_round_trips_and_has_order_l() {
    let b = Point::decompress(&B_BYTES).unwrap();
    assert_eq!(b.compress(), B_BYTES);
    assert!(!b.is_small_order());
    let mut l = [0u8; 32];
    for (c, w) in l.chunks_mut(4).zip(L) {
        c.copy_from_slice(&w.to_le_bytes());
    }
    assert!(mul(&l, &b).is_identity());
    let mut l_minus_1 = l;
    l_minus_1[0] -= 1;
    assert_eq!(mul(&l_minus_1, &b).compress(), b.neg().compress());
    // [S]B through B's table agrees with the generic table, and with dalek's public key.
    let mut rng = Rng(5);
    for _ in 0..8 {
        let seed: [u8; 32] = bytes32(&mut rng);
        let sk = SigningKey::from_bytes(&seed);
        // RFC 8032 §5.1.5: the low half of SHA-512(seed), clamped.
        let mut scalar = sk.to_scalar_bytes();
        scalar[0] &= 248;
        scalar[31] &= 127;
        scalar[31] |= 64;
        let a = lincomb(&scalar, b_table().unwrap(), &[0; 32], &Table::new(&b, W_A)).unwrap();
        assert_eq!(a.compress(), sk.verifying_key().to_bytes());
        assert_eq!(mul(&scalar, &b).compress(), a.compress());
    }
}

#[test]
fn torsion_points_are_small_order_and_refused_as_keys() {
    for (k, enc) in TORSION.iter().enumerate() {
        let p = point(enc);
        assert!(p.is_small_order(), "{k}");
        assert_eq!(p.compress(), hex32(enc), "{k}");
        assert!(VerifyingKey::from_bytes(&hex32(enc)).is_none(), "{k}");
        assert!(!dalek_key_ok(&hex32(enc)), "{k}");
    }
    for enc in TORSION_NON_CANONICAL {
        let bytes = hex32(enc);
        // They decode (as dalek's do), to small-order points, and are refused as keys.
        assert!(Point::decompress(&bytes).unwrap().is_small_order(), "{enc}");
        assert!(
            ed25519_dalek::VerifyingKey::from_bytes(&bytes).is_ok(),
            "{enc}"
        );
        assert!(VerifyingKey::from_bytes(&bytes).is_none(), "{enc}");
    }
}

#[test]
fn key_acceptance_matches_dalek_on_small_y_and_random_bytes() {
    let mut rng = Rng(6);
    let mut candidates: Vec<[u8; 32]> = Vec::new();
    // y and y + p for y < 19, each sign.
    for y in 0u8..19 {
        for sign in [0u8, 0x80] {
            let mut small = [0u8; 32];
            small[0] = y;
            small[31] = sign;
            candidates.push(small);
            let mut big = [0xffu8; 32];
            big[0] = 0xed + y;
            big[31] = 0x7f | sign;
            candidates.push(big);
        }
    }
    for _ in 0..300 {
        candidates.push(bytes32(&mut rng));
    }
    let mut accepted = 0;
    for c in &candidates {
        let ours = VerifyingKey::from_bytes(c).is_some();
        assert_eq!(ours, dalek_key_ok(c), "{}", hex::encode(c));
        accepted += usize::from(ours);
    }
    // About half of all y have an x.
    assert!(accepted > 100, "{accepted}");
}

#[test]
fn scalars_reduce_mod_l() {
    let cases = [
        (
            [0xffu8; 64],
            "000f9c44e31106a447938568a71b0ed065bef517d273ecce3d9a307c1b419903",
        ),
        (
            {
                let mut v = [0u8; 64];
                v[32] = 1;
                v
            },
            "1d95988d7431ecd670cf7d73f45befc6feffffffffffffffffffffffffffff0f",
        ),
    ];
    for (wide, want) in cases {
        assert_eq!(hex::encode(reduce_wide(&wide)), want);
    }
    let mut l = [0u8; 64];
    for (c, w) in l.chunks_mut(4).zip(L) {
        c.copy_from_slice(&w.to_le_bytes());
    }
    assert_eq!(reduce_wide(&l), [0; 32]);
    let l32: [u8; 32] = l[..32].try_into().unwrap();
    assert!(!is_canonical(&l32));
    let mut below = l;
    below[0] -= 1;
    assert_eq!(reduce_wide(&below)[..], below[..32]);
    assert!(is_canonical(&below[..32].try_into().unwrap()));
    assert!(!is_canonical(&[0xff; 32]));
    // Values below L come back unchanged.
    let mut rng = Rng(7);
    for _ in 0..200 {
        let mut v = [0u8; 64];
        let low: [u8; 32] = bytes32(&mut rng);
        v[..32].copy_from_slice(&low);
        v[31] &= 0x0f;
        assert_eq!(reduce_wide(&v)[..], v[..32]);
    }
}

#[test]
fn differential_with_dalek() {
    let mut rng = Rng(9);
    for round in 0..12 {
        let sk = SigningKey::from_bytes(&bytes32(&mut rng));
        let key = sk.verifying_key().to_bytes();
        let msg: Vec<u8> = (0..(round * 13)).map(|_| rng.next_u64() as u8).collect();
        let sig = sk.sign(&msg).to_bytes();
        assert_eq!(ours_verify(&key, &msg, &sig), Some(true));
        assert_eq!(dalek_verify(&key, &msg, &sig), Some(true));
        // Every bit of the signature flipped, some of the key and message.
        for bit in 0..512 {
            let mut bad = sig;
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                ours_verify(&key, &msg, &bad),
                dalek_verify(&key, &msg, &bad),
                "bit {bit}"
            );
        }
        for bit in (0..256).step_by(7) {
            let mut bad = key;
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                ours_verify(&bad, &msg, &sig),
                dalek_verify(&bad, &msg, &sig),
                "key bit {bit}"
            );
        }
        let mut other = msg.clone();
        other.push(0);
        assert_eq!(ours_verify(&key, &other, &sig), Some(false));
    }
}

/// Keys and R with a torsion component: `A + T` is a valid key (not of small order), but the
/// cofactorless check refuses signatures of A for it unless `[k]T` vanishes; `R + T` never
/// verifies. S + L, and R and A in non-canonical or sign-flipped forms, as dalek.
#[test]
fn mixed_order_points_and_edge_encodings_match_dalek() {
    let mut rng = Rng(10);
    let mut cases = 0;
    for _ in 0..6 {
        let sk = SigningKey::from_bytes(&bytes32(&mut rng));
        let key = sk.verifying_key().to_bytes();
        let a = Point::decompress(&key).unwrap();
        for t in TORSION {
            let t = point(t);
            let mixed = a.add(&t).compress();
            for m in 0..8u8 {
                let msg = [m; 3];
                let sig = sk.sign(&msg).to_bytes();
                assert_eq!(
                    ours_verify(&mixed, &msg, &sig),
                    dalek_verify(&mixed, &msg, &sig)
                );
                let r = Point::decompress(sig[..32].try_into().unwrap()).unwrap();
                let mut bad = sig;
                bad[..32].copy_from_slice(&r.add(&t).compress());
                assert_eq!(
                    ours_verify(&key, &msg, &bad),
                    dalek_verify(&key, &msg, &bad)
                );
                cases += 2;
            }
        }
        // S + L (still below 2²⁵⁶ when S < 2²⁵⁶ − L): refused as non-canonical by both.
        let msg = b"s plus l";
        let sig = sk.sign(msg).to_bytes();
        let mut s = [0u32; 9];
        for (w, c) in s.iter_mut().zip(sig[32..].chunks(4)) {
            *w = u32::from_le_bytes(c.try_into().unwrap());
        }
        let mut carry = 0u64;
        for (w, l) in s.iter_mut().zip(L) {
            let v = u64::from(*w) + u64::from(l) + carry;
            *w = v as u32;
            carry = v >> 32;
        }
        let mut bad = sig;
        for (c, w) in bad[32..].chunks_mut(4).zip(s) {
            c.copy_from_slice(&w.to_le_bytes());
        }
        assert_eq!(ours_verify(&key, msg, &bad), Some(false));
        assert_eq!(dalek_verify(&key, msg, &bad), Some(false));
        // R with the sign bit flipped, and R = y + p where y is small enough.
        let mut flipped = sig;
        flipped[31] ^= 0x80;
        assert_eq!(
            ours_verify(&key, msg, &flipped),
            dalek_verify(&key, msg, &flipped)
        );
    }
    assert!(cases > 0);
    // Small-order R with any S, under a good key; small-order and non-canonical R encodings.
    let sk = SigningKey::from_bytes(&bytes32(&mut rng));
    let key = sk.verifying_key().to_bytes();
    for r in TORSION.iter().chain(&TORSION_NON_CANONICAL) {
        for s in [[0u8; 32], [1; 32].map(|b: u8| b & 0x0f)] {
            let mut sig = [0u8; 64];
            sig[..32].copy_from_slice(&hex32(r));
            sig[32..].copy_from_slice(&s);
            assert_eq!(
                ours_verify(&key, b"", &sig),
                dalek_verify(&key, b"", &sig),
                "{r}"
            );
        }
    }
}

#[test]
fn key_formats_debug_and_bytes() {
    let sk = SigningKey::from_bytes(&[7; 32]);
    let bytes = sk.verifying_key().to_bytes();
    let key = VerifyingKey::from_bytes(&bytes).unwrap();
    assert_eq!(key.as_bytes(), &bytes);
    assert_eq!(
        format!("{key:?}"),
        format!("Ed25519VerifyingKey(\"{}\")", hex::encode(bytes))
    );
}
