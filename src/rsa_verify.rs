//! RSA signature verification (RFC 8017 §8.1.2 RSASSA-PSS-VERIFY and §8.2.2
//! RSASSA-PKCS1-V1_5-VERIFY) for the JWS RS* and PS* algorithms, on a small public-key operation
//! of its own: `s^e mod n` for `e` = 3 or 65537 by a Montgomery loop on 32-bit limbs with 64-bit
//! accumulators. That is the widest multiply wasm32 has natively, and a fixed short addition
//! chain needs no general exponentiation, so a verification costs a few times less under V8 than
//! a general bignum library does.
//!
//! Everything that depends only on the key (limbs of `n`, `-n⁻¹ mod 2³²`, `R² mod n`, sizes) is
//! computed once in [`RsaPublic::new`]. Every input here is public (key, message, signature), so
//! the code is variable-time by design; it never sees a secret.
//!
//! Encodings are checked by rebuilding what a correct signer would have produced, never by
//! parsing: PKCS#1 v1.5 compares the whole encoded message with `00 01 FF.. 00 DigestInfo(H)`
//! (the DigestInfo prefixes are fixed byte strings, RFC 8017 §9.2 note 1), so no ASN.1 reader or
//! "lenient" variant exists to attack. PSS runs EMSA-PSS-VERIFY (§9.1.2) with MGF1 of the same
//! hash and a salt as long as the hash (RFC 7518 §3.5).

use std::cmp::Ordering;
use std::fmt;
use std::iter;

use sha2::{Digest, Sha256, Sha384, Sha512};

/// The public exponents accepted (as Envoy: other values are refused at key load).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exponent {
    E3,
    E65537,
}

impl Exponent {
    /// Parses a big-endian exponent; leading zero bytes are allowed.
    pub fn from_be_bytes(e: &[u8]) -> Option<Exponent> {
        match strip_leading_zeros(e) {
            [3] => Some(Exponent::E3),
            [1, 0, 1] => Some(Exponent::E65537),
            _ => None,
        }
    }

    pub fn value(self) -> u32 {
        match self {
            Exponent::E3 => 3,
            Exponent::E65537 => 65537,
        }
    }
}

/// The hash of an RS*/PS* algorithm (also the MGF1 hash for PSS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    /// Output length in bytes (`hLen`).
    pub fn output_len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }

    /// The DER `DigestInfo` header that precedes the hash in a PKCS#1 v1.5 encoding
    /// (RFC 8017 §9.2 note 1).
    fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            Hash::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            Hash::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            Hash::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }

    /// The hash of the concatenation of `parts`.
    fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut hasher = D::new();
            for part in parts {
                hasher.update(part);
            }
            hasher.finalize().to_vec()
        }
        match self {
            Hash::Sha256 => run::<Sha256>(parts),
            Hash::Sha384 => run::<Sha384>(parts),
            Hash::Sha512 => run::<Sha512>(parts),
        }
    }
}

/// The signature schemes of RFC 8017 §8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// RSASSA-PKCS1-v1_5 (JWS RS*).
    Pkcs1v15,
    /// RSASSA-PSS with MGF1 of the same hash and `sLen = hLen` (JWS PS*).
    Pss,
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The signature is not exactly as long as the modulus (RFC 8017 §8.1.2 step 1).
    Length,
    /// The signature, as an integer, is not below the modulus (RSAVP1 step 1).
    OutOfRange,
    /// The recovered encoded message is not the one expected for this message and hash.
    Encoding,
}

/// An RSA public key in the form the verifier uses, precomputed once per key.
#[derive(Clone)]
pub struct RsaPublic {
    /// `n` as little-endian 32-bit limbs; the top limb is non-zero. `L = n.len()`.
    n: Vec<u32>,
    /// `-n⁻¹ mod 2³²`, the Montgomery reduction factor.
    n0_inv: u32,
    /// `R² mod n` with `R = 2^(32·L)`: multiplying by it enters Montgomery form.
    r2: Vec<u32>,
    e: Exponent,
    /// `k`, the modulus length in bytes: every signature is exactly this long.
    byte_len: usize,
    bits: usize,
}

/// Limbs are not worth printing; the size and exponent identify the key well enough in logs.
impl fmt::Debug for RsaPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaPublic")
            .field("bits", &self.bits)
            .field("e", &self.e.value())
            .finish_non_exhaustive()
    }
}

impl RsaPublic {
    /// The key with big-endian modulus `n` (leading zero bytes allowed). `None` if `n` is even
    /// or below 3: Montgomery arithmetic needs an odd modulus, and no RSA modulus is even.
    /// Size limits are the caller's policy.
    pub fn new(n: &[u8], e: Exponent) -> Option<RsaPublic> {
        let n_bytes = strip_leading_zeros(n);
        let bits = bit_len(n_bytes);
        let byte_len = n_bytes.len();
        let n = limbs_from_be(n_bytes, byte_len.div_ceil(4));
        let low = *n.first()?;
        if low & 1 == 0 || bits < 2 {
            return None;
        }
        let n0_inv = neg_inverse(low);
        let r2 = r_squared(&n, n0_inv, bits);
        Some(RsaPublic {
            n,
            n0_inv,
            r2,
            e,
            byte_len,
            bits,
        })
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// Modulus size in bytes (`k`), the length of every signature.
    pub fn byte_len(&self) -> usize {
        self.byte_len
    }

    pub fn exponent(&self) -> Exponent {
        self.e
    }

    /// Verifies `signature` over `message` (hashed here with `hash`).
    pub fn verify(
        &self,
        padding: Padding,
        hash: Hash,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), Refused> {
        let em = self.public_op(signature)?;
        let m_hash = hash.digest(&[message]);
        let good = match padding {
            Padding::Pkcs1v15 => pkcs1v15_matches(&em, hash, &m_hash),
            Padding::Pss => pss_matches(&em, self.bits - 1, hash, &m_hash),
        };
        if good {
            Ok(())
        } else {
            Err(Refused::Encoding)
        }
    }

    /// RSAVP1 with its I2OSP (RFC 8017 §5.2.2, §8.1.2 step 2): `signature^e mod n` as
    /// [`byte_len`](Self::byte_len) big-endian bytes. Refuses a signature of the wrong length or
    /// not below `n`.
    pub fn public_op(&self, signature: &[u8]) -> Result<Vec<u8>, Refused> {
        if signature.len() != self.byte_len {
            return Err(Refused::Length);
        }
        let limbs = self.n.len();
        let s = limbs_from_be(signature, limbs);
        if compare(&s, &self.n) != Ordering::Less {
            return Err(Refused::OutOfRange);
        }
        // x = s·R (Montgomery form). Squarings keep the form: x = s^(2^i)·R. The last product
        // takes the plain s, and Montgomery's R⁻¹ cancels the R: out = s^e, no conversion back.
        let (n, n0_inv) = (self.n.as_slice(), self.n0_inv);
        let mut x = vec![0; limbs];
        let mut t = vec![0; limbs];
        let mut wide = vec![0; 2 * limbs];
        mont_mul(&mut x, &s, &self.r2, n, n0_inv);
        let squarings = match self.e {
            Exponent::E3 => 1,
            Exponent::E65537 => 16,
        };
        for _ in 0..squarings {
            mont_sqr(&mut t, &x, n, n0_inv, &mut wide);
            std::mem::swap(&mut x, &mut t);
        }
        mont_mul(&mut t, &x, &s, n, n0_inv);
        Ok(be_from_limbs(&t, self.byte_len))
    }
}

/// Montgomery multiplication, CIOS with the multiply and reduce passes fused (Koç, Acar,
/// Kaliski 1996): for each limb `a_i`, `t = (t + a_i·b + m·n) / 2³²` with `m` chosen so the
/// division is exact. With `a, b < n` the running `t` stays below `2n`, so one limb above `L`
/// (`top`, 0 or 1) suffices, and one conditional subtraction finishes. All slices have `L`
/// limbs; `out` may not alias `a` or `b`.
///
/// Overflow: `t_j + a_i·b_j + c1 ≤ (2³²-1) + (2³²-1)² + (2³²-1) = 2⁶⁴-1`, and the same bound
/// holds for `lo + m·n_j + c2`.
fn mont_mul(out: &mut [u32], a: &[u32], b: &[u32], n: &[u32], n0_inv: u32) {
    out.fill(0);
    let mut top = 0u32;
    let b0 = u64::from(b.first().copied().unwrap_or(0));
    for &ai in a {
        let ai = u64::from(ai);
        let t0 = u64::from(out.first().copied().unwrap_or(0));
        // `as u32` keeps the low limb: m = (t_0 + a_i·b_0)·(-n⁻¹) mod 2³².
        let m = u64::from((t0.wrapping_add(ai.wrapping_mul(b0)) as u32).wrapping_mul(n0_inv));
        let (mut c1, mut c2) = (0u64, 0u64);
        // Limb j of the new t is written to slot j-1 (the division by 2³²): `prev` trails the
        // iterator by one slot. Limb 0 is zero by the choice of m and lands in `sink`.
        let mut sink = 0u32;
        let mut prev = &mut sink;
        for ((tj, &bj), &nj) in out.iter_mut().zip(b).zip(n) {
            let p = u64::from(*tj) + ai * u64::from(bj) + c1;
            c1 = p >> 32;
            let q = (p & 0xffff_ffff) + m * u64::from(nj) + c2;
            c2 = q >> 32;
            *prev = q as u32;
            prev = tj;
        }
        let s = u64::from(top) + c1 + c2;
        *prev = s as u32;
        top = (s >> 32) as u32;
    }
    if top != 0 || compare(out, n) != Ordering::Less {
        sub_in_place(out, n);
    }
}

/// Montgomery squaring, `out = a²·R⁻¹ mod n` for `a < n`, fully reduced: the square is
/// computed in full first, which needs each cross product `a_i·a_j` once instead of twice, then
/// reduced. About 1.5·L² limb products against 2·L² for [`mont_mul`]. `wide` is scratch space
/// of `2L` limbs.
fn mont_sqr(out: &mut [u32], a: &[u32], n: &[u32], n0_inv: u32, wide: &mut [u32]) {
    square_wide(wide, a);
    redc(out, wide, n, n0_inv);
}

/// `t = a²`, `t` of twice as many limbs as `a`.
fn square_wide(t: &mut [u32], a: &[u32]) {
    t.fill(0);
    let limbs = a.len();
    // The cross products a_i·a_j (i < j), row by row: row i adds a_i·a_{i+1..} from limb 2i+1
    // on, and its carry lands in limb i+L, which no earlier row has reached.
    for (i, &ai) in a.iter().enumerate() {
        let (Some(rest), Some(row)) = (a.get(i + 1..), t.get_mut(2 * i + 1..=i + limbs)) else {
            continue;
        };
        let Some((carry_limb, row)) = row.split_last_mut() else {
            continue;
        };
        let ai = u64::from(ai);
        let mut c = 0u64;
        for (tj, &aj) in row.iter_mut().zip(rest) {
            let p = u64::from(*tj) + ai * u64::from(aj) + c;
            *tj = p as u32;
            c = p >> 32;
        }
        *carry_limb = c as u32;
    }
    // Twice the cross products, plus the squares a_i² at limbs 2i and 2i+1. The total is a² <
    // 2^(64·L), so neither the shifted-out bit nor the carry leaves the top limb.
    let (mut shifted_out, mut c) = (0u32, 0u64);
    for (pair, &ai) in t.chunks_exact_mut(2).zip(a) {
        let square = u64::from(ai) * u64::from(ai);
        for (limb, half) in pair.iter_mut().zip([square & 0xffff_ffff, square >> 32]) {
            let doubled = *limb << 1 | shifted_out;
            shifted_out = *limb >> 31;
            let sum = u64::from(doubled) + half + c;
            *limb = sum as u32;
            c = sum >> 32;
        }
    }
}

/// Montgomery reduction, `out = t·R⁻¹ mod n` for `t < n·R` of `2L` limbs (overwritten): for
/// each low limb, add the multiple `m·n` that clears it, then keep the high half. The result is
/// below `2n` before the final subtraction.
fn redc(out: &mut [u32], t: &mut [u32], n: &[u32], n0_inv: u32) {
    let limbs = n.len();
    // Carry out of limb i+L, owed to limb i+L+1 (the next row's last limb), finally to 2^(32·2L).
    let mut pending = 0u64;
    for i in 0..limbs {
        let Some((top, row)) = t.get_mut(i..=i + limbs).and_then(|w| w.split_last_mut()) else {
            continue;
        };
        let m = u64::from(row.first().copied().unwrap_or(0).wrapping_mul(n0_inv));
        let mut c = 0u64;
        for (tj, &nj) in row.iter_mut().zip(n) {
            let p = u64::from(*tj) + m * u64::from(nj) + c;
            *tj = p as u32;
            c = p >> 32;
        }
        let sum = u64::from(*top) + c + pending;
        *top = sum as u32;
        pending = sum >> 32;
    }
    for (o, &h) in out.iter_mut().zip(t.get(limbs..).unwrap_or_default()) {
        *o = h;
    }
    if pending != 0 || compare(out, n) != Ordering::Less {
        sub_in_place(out, n);
    }
}

/// `a -= b` modulo `2^(32·L)` (the caller knows the true result is non-negative, or that the
/// borrow cancels a limb above `L`).
fn sub_in_place(a: &mut [u32], b: &[u32]) {
    let mut borrow = 0u64;
    for (x, &y) in a.iter_mut().zip(b) {
        let d = u64::from(*x)
            .wrapping_sub(u64::from(y))
            .wrapping_sub(borrow);
        *x = d as u32;
        borrow = d >> 63;
    }
}

/// `a` compared with `b`, both little-endian with the same number of limbs.
fn compare(a: &[u32], b: &[u32]) -> Ordering {
    a.iter().rev().cmp(b.iter().rev())
}

/// `x = 2x mod n` for `x < n`.
fn double_mod(x: &mut [u32], n: &[u32]) {
    let mut carry = 0u32;
    for limb in x.iter_mut() {
        let next = *limb >> 31;
        *limb = *limb << 1 | carry;
        carry = next;
    }
    if carry != 0 || compare(x, n) != Ordering::Less {
        sub_in_place(x, n);
    }
}

/// `-n0⁻¹ mod 2³²` for odd `n0`, by Newton's iteration: `n0` is its own inverse mod 8, and each
/// step doubles the number of correct low bits (3, 6, 12, 24, 48).
fn neg_inverse(n0: u32) -> u32 {
    let mut inv = n0;
    for _ in 0..4 {
        inv = inv.wrapping_mul(2u32.wrapping_sub(n0.wrapping_mul(inv)));
    }
    inv.wrapping_neg()
}

/// `R² mod n`, `R = 2^(32·L)`, for odd `n` of `bits` bits (`bits ≥ 2`).
///
/// Tracks `x = 2^a·R mod n` (the Montgomery form of `2^a`): a Montgomery squaring doubles `a`,
/// a modular doubling adds one. Doublings are cheap (linear) and squarings are not (quadratic),
/// so: double `2^(bits-1)` (below `n`) up to `a = 32·L / 16`, then four squarings, each followed
/// by a doubling where the next binary digit of `32·L` is one, reach `a = 32·L`.
fn r_squared(n: &[u32], n0_inv: u32, bits: usize) -> Vec<u32> {
    const SQUARINGS: u32 = 4;
    let limbs = n.len();
    let target = 32 * limbs;
    let mut x = vec![0u32; limbs];
    let top_bit = bits - 1;
    if let Some(limb) = x.get_mut(top_bit / 32) {
        *limb = 1 << (top_bit % 32);
    }
    // 2^(bits-1) → 2^(32·L + a) = 2^a·R, with a = target >> SQUARINGS (at least 2).
    for _ in top_bit..target + (target >> SQUARINGS) {
        double_mod(&mut x, n);
    }
    let mut t = vec![0u32; limbs];
    let mut wide = vec![0u32; 2 * limbs];
    for shift in (0..SQUARINGS).rev() {
        mont_sqr(&mut t, &x, n, n0_inv, &mut wide);
        std::mem::swap(&mut x, &mut t);
        if target >> shift & 1 == 1 {
            double_mod(&mut x, n);
        }
    }
    x
}

/// Big-endian bytes to `limbs` little-endian limbs; the value must fit.
fn limbs_from_be(bytes: &[u8], limbs: usize) -> Vec<u32> {
    let mut out: Vec<u32> = bytes
        .rchunks(4)
        .map(|chunk| {
            chunk
                .iter()
                .fold(0u32, |acc, &byte| acc << 8 | u32::from(byte))
        })
        .collect();
    out.resize(limbs, 0);
    out
}

/// The low `len` bytes of the limbs, big-endian (the value must fit: the bytes dropped are zero).
fn be_from_limbs(limbs: &[u32], len: usize) -> Vec<u8> {
    let bytes: Vec<u8> = limbs.iter().rev().flat_map(|l| l.to_be_bytes()).collect();
    let skip = bytes.len().saturating_sub(len);
    bytes.get(skip..).unwrap_or_default().to_vec()
}

/// EMSA-PKCS1-v1_5 (RFC 8017 §9.2) rebuilt and compared in full:
/// `00 01 FF..FF 00 DigestInfo(hash)` with at least 8 bytes of `FF`.
fn pkcs1v15_matches(em: &[u8], hash: Hash, m_hash: &[u8]) -> bool {
    let prefix = hash.digest_info_prefix();
    let t_len = prefix.len() + m_hash.len();
    let Some(ps_len) = em.len().checked_sub(t_len + 3).filter(|&len| len >= 8) else {
        return false;
    };
    let expected = [0x00, 0x01]
        .iter()
        .chain(iter::repeat_n(&0xff, ps_len))
        .chain(&[0x00])
        .chain(prefix)
        .chain(m_hash);
    em.iter().eq(expected)
}

/// EMSA-PSS-VERIFY (RFC 8017 §9.1.2) with MGF1(hash) and `sLen = hLen`. `em` is the `k`-byte
/// output of RSAVP1; `em_bits` is `modBits - 1`.
fn pss_matches(em: &[u8], em_bits: usize, hash: Hash, m_hash: &[u8]) -> bool {
    let h_len = hash.output_len();
    let s_len = h_len;
    let em_len = em_bits.div_ceil(8);
    // I2OSP(m, emLen) (§8.1.2 step 2c): when modBits - 1 is a multiple of 8, emLen = k - 1 and
    // the integer must fit, i.e. the k-byte form starts with a zero byte.
    let Some((head, em)) = em.split_at_checked(em.len().saturating_sub(em_len)) else {
        return false;
    };
    if head.iter().any(|&b| b != 0) || em.len() != em_len {
        return false;
    }
    // Step 3.
    if em_len < h_len + s_len + 2 {
        return false;
    }
    // Steps 4 and 5: maskedDB || H || 0xbc.
    let Some((masked_db, rest)) = em.split_at_checked(em_len - h_len - 1) else {
        return false;
    };
    let Some((h, trailer)) = rest.split_at_checked(h_len) else {
        return false;
    };
    if trailer != [0xbc] {
        return false;
    }
    // Step 6: the leftmost 8·emLen - emBits bits of maskedDB are zero.
    let top_mask = 0xffu8 >> (8 * em_len - em_bits);
    if masked_db.first().is_some_and(|&b| b & !top_mask != 0) {
        return false;
    }
    // Steps 7 to 9: DB = maskedDB xor MGF1(H), leftmost bits cleared.
    let mut db = masked_db.to_vec();
    mgf1_xor(hash, h, &mut db);
    if let Some(first) = db.first_mut() {
        *first &= top_mask;
    }
    // Step 10: DB = PS (zeros) || 0x01 || salt.
    let Some((ps, rest)) = db.split_at_checked(em_len - h_len - s_len - 2) else {
        return false;
    };
    let Some((&separator, salt)) = rest.split_first() else {
        return false;
    };
    if ps.iter().any(|&b| b != 0) || separator != 0x01 || salt.len() != s_len {
        return false;
    }
    // Steps 12 to 14: H = Hash(0^8 || mHash || salt).
    hash.digest(&[&[0u8; 8], m_hash, salt]) == h
}

/// `out ^= MGF1(seed)` with `hash` (RFC 8017 §B.2.1), as long as `out`.
fn mgf1_xor(hash: Hash, seed: &[u8], out: &mut [u8]) {
    for (counter, chunk) in (0u32..).zip(out.chunks_mut(hash.output_len())) {
        let mask = hash.digest(&[seed, &counter.to_be_bytes()]);
        for (byte, m) in chunk.iter_mut().zip(&mask) {
            *byte ^= m;
        }
    }
}

pub(crate) fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// Bit length of a big-endian integer without leading zero bytes.
pub(crate) fn bit_len(bytes: &[u8]) -> usize {
    match bytes.first() {
        None => 0,
        Some(&top) => bytes.len() * 8 - top.leading_zeros() as usize,
    }
}

#[cfg(test)]
mod tests {
    use rsa::traits::PublicKeyParts;
    use rsa::{BoxedUint, RsaPrivateKey};

    use super::*;
    use crate::crypto::tests::{rsa_private, TestRng};

    /// splitmix64: reproducible test values.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
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

    /// `R² mod n` the slow way: `1` doubled `2·32·L` times.
    fn r_squared_by_doubling(n: &[u32]) -> Vec<u32> {
        let mut x = vec![0u32; n.len()];
        x[0] = 1;
        for _ in 0..64 * n.len() {
            double_mod(&mut x, n);
        }
        x
    }

    #[test]
    fn neg_inverse_is_minus_the_inverse() {
        let mut rng = Rng(7);
        let samples = (0..1000).map(|_| rng.next() as u32 | 1);
        for n0 in [1, 3, 0xffff_ffff, 0x8000_0001].into_iter().chain(samples) {
            assert_eq!(n0.wrapping_mul(neg_inverse(n0)), u32::MAX, "n0 = {n0:#x}");
        }
    }

    #[test]
    fn montgomery_constants_match_the_slow_way() {
        let mut rng = Rng(11);
        let mut moduli: Vec<Vec<u8>> = vec![
            vec![3],
            vec![0x0c, 0xa1], // 3233 = 61·53
            vec![0xff; 4],
            vec![0x01, 0, 0, 0, 1], // 2^32 + 1: two limbs, the top one small
            vec![0xff; 8],
            n_bytes(&rsa_private()),
        ];
        for len in [5, 31, 64, 255, 257, 384, 512] {
            let mut n = rng.bytes(len);
            n[0] |= 1;
            *n.last_mut().unwrap() |= 1;
            moduli.push(n);
        }
        for n in moduli {
            let key = key(&n, Exponent::E65537);
            assert_eq!(key.byte_len(), n.len());
            assert_eq!(
                key.r2,
                r_squared_by_doubling(&key.n),
                "n = {}",
                hex::encode(&n)
            );
            let low = key.n[0];
            assert_eq!(low.wrapping_mul(key.n0_inv), u32::MAX);
            assert_ne!(*key.n.last().unwrap(), 0, "top limb non-zero");
        }
    }

    #[test]
    fn squaring_matches_multiplication() {
        let mut rng = Rng(17);
        let mut moduli: Vec<Vec<u8>> = vec![
            vec![3],
            vec![0xff; 4],
            vec![0xff; 8],
            n_bytes(&rsa_private()),
        ];
        for len in [5, 9, 64, 255, 512] {
            let mut n = rng.bytes(len);
            n[0] |= 1;
            *n.last_mut().unwrap() |= 1;
            moduli.push(n);
        }
        for n in moduli {
            let key = key(&n, Exponent::E65537);
            let limbs = key.n.len();
            let mut n_minus_1 = key.n.clone();
            n_minus_1[0] -= 1;
            let mut values = vec![vec![0; limbs], n_minus_1, key.r2.clone()];
            for _ in 0..20 {
                let mut v = limbs_from_be(&rng.bytes(n.len()), limbs);
                while compare(&v, &key.n) != Ordering::Less {
                    sub_in_place(&mut v, &key.n);
                }
                values.push(v);
            }
            for a in values {
                let (mut by_mul, mut by_sqr) = (vec![0; limbs], vec![0; limbs]);
                let mut wide = vec![0; 2 * limbs];
                mont_mul(&mut by_mul, &a, &a, &key.n, key.n0_inv);
                mont_sqr(&mut by_sqr, &a, &key.n, key.n0_inv, &mut wide);
                assert_eq!(by_sqr, by_mul, "n = {}", hex::encode(&n));
                assert_eq!(compare(&by_sqr, &key.n), Ordering::Less);
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
            for e in [Exponent::E3, Exponent::E65537] {
                let key = key(n_be, e);
                let samples = (0..200).map(|_| u128::from(rng.next()) % n);
                for s in [0, 1, 2, n - 1].into_iter().chain(samples) {
                    let sig = s.to_be_bytes()[16 - n_be.len()..].to_vec();
                    let got = key.public_op(&sig).unwrap();
                    let want =
                        mod_pow_u128(s, e.value(), n).to_be_bytes()[16 - n_be.len()..].to_vec();
                    assert_eq!(got, want, "n = {n}, e = {}, s = {s}", e.value());
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
            for e in [Exponent::E3, Exponent::E65537] {
                let key = key(&n, e);
                for round in 0..8 {
                    let mut s = rng.bytes(n.len());
                    s[0] = s[0].min(n[0].saturating_sub(1));
                    if round == 0 {
                        s[0] = 0; // leading zero byte
                    }
                    assert_eq!(
                        key.public_op(&s).unwrap(),
                        oracle(&n, e, &s),
                        "round {round}"
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
        for e in [Exponent::E3, Exponent::E65537] {
            let key = key(&n, e);
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
        assert_eq!(format!("{plain:?}"), "RsaPublic { bits: 2048, e: 3, .. }");
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
        let key = key(&n, Exponent::E65537);
        let raw_sign = |em: &[u8]| {
            let c = BoxedUint::from_be_slice(em, 2048).unwrap();
            let s = rsa::hazmat::rsa_decrypt::<TestRng>(None, &private, &c).unwrap();
            s.to_be_bytes().to_vec()
        };
        let message = b"header.payload";
        for hash in [Hash::Sha256, Hash::Sha384, Hash::Sha512] {
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
}
