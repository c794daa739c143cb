//! SHA-2 of a list of parts, one function per hash, each out of line: every verifier calls these
//! instead of instantiating `sha2`'s buffered `Digest` code where it hashes (the RSA paddings,
//! ECDSA per curve, P-256 and Ed25519 had a copy each). HMAC keeps its own precomputed states.

use sha2::{Digest, Sha256, Sha384, Sha512};

/// SHA-256 of the concatenation of `parts`.
#[inline(never)]
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// SHA-384 of the concatenation of `parts`.
#[inline(never)]
pub fn sha384(parts: &[&[u8]]) -> [u8; 48] {
    let mut hasher = Sha384::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// SHA-512 of the concatenation of `parts`.
#[inline(never)]
pub fn sha512(parts: &[&[u8]]) -> [u8; 64] {
    let mut hasher = Sha512::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FIPS 180-2's "abc" vectors, hashed in one part and split in two.
    #[test]
    fn matches_the_fips_vectors_however_split() {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        for parts in [&[&b"abc"[..]][..], &[b"a", b"bc"], &[b"", b"abc", b""]] {
            assert_eq!(
                hex(&sha256(parts)),
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            );
            assert_eq!(
                hex(&sha384(parts)),
                "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed\
                 8086072ba1e7cc2358baeca134c825a7"
            );
            assert_eq!(
                hex(&sha512(parts)),
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                 2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
            );
        }
    }
}
