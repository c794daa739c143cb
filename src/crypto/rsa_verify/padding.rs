//! The encodings of RFC 8017 §9, checked by rebuilding what a correct signer would have
//! produced, never by parsing: PKCS#1 v1.5 compares the whole encoded message with
//! `00 01 FF.. 00 DigestInfo(H)` (the DigestInfo prefixes are fixed byte strings, §9.2 note 1),
//! so no ASN.1 reader or "lenient" variant exists to attack. PSS runs EMSA-PSS-VERIFY (§9.1.2)
//! with MGF1 of the same hash and a salt as long as the hash (RFC 7518 §3.5).

use std::iter;

use super::Hash;
use crate::crypto::sha;

impl Hash {
    /// The DER `DigestInfo` header that precedes the hash in a PKCS#1 v1.5 encoding
    /// (RFC 8017 §9.2 note 1).
    pub(super) fn digest_info_prefix(self) -> &'static [u8] {
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
    pub(super) fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        match self {
            Hash::Sha256 => sha::sha256(parts).to_vec(),
            Hash::Sha384 => sha::sha384(parts).to_vec(),
            Hash::Sha512 => sha::sha512(parts).to_vec(),
        }
    }
}

/// EMSA-PKCS1-v1_5 (RFC 8017 §9.2) rebuilt and compared in full:
/// `00 01 FF..FF 00 DigestInfo(hash)` with at least 8 bytes of `FF`.
pub(super) fn pkcs1v15_matches(em: &[u8], hash: Hash, m_hash: &[u8]) -> bool {
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
pub(super) fn pss_matches(em: &[u8], em_bits: usize, hash: Hash, m_hash: &[u8]) -> bool {
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
