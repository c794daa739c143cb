//! Base64 (RFC 4648): base64url (§5) for tokens and JWKs (RFC 7515 §2), the standard alphabet
//! (§4) for `x5c` certificates and PEM blocks. Our own, in place of the `base64` crate (issue
//! #22: the module is 8.6 KB smaller without it), with that crate's (0.22) accept/refuse
//! decisions and bytes for each configuration used here; `tests/b64_differential.rs` compares
//! them.
//!
//! Tokens: padding is tolerated because Envoy's native filter accepts it; the standard alphabet
//! (`+`, `/`) and non-canonical trailing bits are refused, so each byte string has exactly one
//! accepted unpadded spelling.

/// The two symbols after `A-Z`, `a-z`, `0-9`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alphabet {
    /// `-` and `_` (base64url, RFC 4648 §5).
    UrlSafe,
    /// `+` and `/` (RFC 4648 §4).
    Standard,
}

/// Which trailing `=` are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// No `=` at all.
    Refused,
    /// Exactly the `=` that complete the last block of 4 (none when it is complete).
    Canonical,
    /// Either none or up to the `=` that complete the last block of 4.
    Optional,
}

/// Decodes `input` in `alphabet` with `padding`, as the `base64` crate (0.22) with that alphabet,
/// padding mode and trailing bits refused: `None` for a length of 1 mod 4 (padding left out), a
/// byte outside the alphabet, `=` anywhere but at the end, more `=` than the last block needs, or
/// non-zero bits after the last whole byte.
pub fn decode_with(input: &[u8], alphabet: Alphabet, padding: Padding) -> Option<Vec<u8>> {
    let data_len = input.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    let (data, pad) = input.split_at(data_len);
    // How many `=` complete the last block: 2 after 2 symbols, 1 after 3, none after 4.
    let room = match data.len() % 4 {
        0 => 0,
        1 => return None,
        rem => 4 - rem,
    };
    let padding_ok = match padding {
        Padding::Refused => pad.is_empty(),
        Padding::Canonical => pad.len() == room,
        Padding::Optional => pad.len() <= room,
    };
    if !padding_ok {
        return None;
    }
    let table = match alphabet {
        Alphabet::UrlSafe => &URL_SAFE,
        Alphabet::Standard => &STANDARD,
    };
    // Each symbol's 6 bits, or 0xff for a byte outside the alphabet.
    let six = |b: &u8| u32::from(table.get(usize::from(*b)).copied().unwrap_or(INVALID));
    let blocks = data.chunks_exact(4);
    let tail = blocks.remainder();
    // Whole blocks of 4 symbols give 3 bytes each; a tail of 2 or 3 symbols gives 1 or 2.
    let mut out = vec![0u8; data.len() / 4 * 3 + tail.len().saturating_sub(1)];
    let (whole, last) = out.split_at_mut(data.len() / 4 * 3);
    // The symbols' bits, and all their values OR-ed: above 63 when one is outside the alphabet.
    let gather = |symbols: &[u8]| {
        symbols.iter().fold((0u32, 0u32), |(bits, any), b| {
            let v = six(b);
            (bits << 6 | v, any | v)
        })
    };
    for (block, bytes) in blocks.zip(whole.chunks_exact_mut(3)) {
        let (bits, any) = gather(block);
        if any > 63 {
            return None;
        }
        let [_, b0, b1, b2] = bits.to_be_bytes();
        bytes.copy_from_slice(&[b0, b1, b2]);
    }
    if !tail.is_empty() {
        let (bits, any) = gather(tail);
        if any > 63 {
            return None;
        }
        // 12 bits give 1 byte and 18 give 2; the 4 or 2 bits left over must be zero.
        let spare = 6 * tail.len() % 8;
        if bits & ((1 << spare) - 1) != 0 {
            return None;
        }
        let bytes = (bits >> spare).to_be_bytes();
        last.copy_from_slice(bytes.get(4 - last.len()..).unwrap_or_default());
    }
    Some(out)
}

/// A byte outside the alphabet in [`URL_SAFE`] and [`STANDARD`].
const INVALID: u8 = 0xff;
/// Each byte's 6 bits in base64url, [`INVALID`] for the bytes outside it.
static URL_SAFE: [u8; 256] = table(b'-', b'_');
/// Each byte's 6 bits in the standard alphabet, [`INVALID`] for the bytes outside it.
static STANDARD: [u8; 256] = table(b'+', b'/');

/// The decoding table of the alphabet `A-Z a-z 0-9` followed by `s62` and `s63`.
#[allow(clippy::indexing_slicing)] // constant evaluation: an index out of bounds fails the build
const fn table(s62: u8, s63: u8) -> [u8; 256] {
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 26 {
        t[(b'A' + i) as usize] = i;
        t[(b'a' + i) as usize] = 26 + i;
        if i < 10 {
            t[(b'0' + i) as usize] = 52 + i;
        }
        i += 1;
    }
    t[s62 as usize] = 62;
    t[s63 as usize] = 63;
    t
}

/// Decodes base64url, unpadded or with complete `=` padding. `None` for anything else.
pub fn decode(input: &str) -> Option<Vec<u8>> {
    let padding = if input.ends_with('=') {
        Padding::Canonical
    } else {
        Padding::Refused
    };
    decode_with(input.as_bytes(), Alphabet::UrlSafe, padding)
}

/// Encodes base64url without padding.
pub fn encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        // The chunk's bytes, left-aligned in 24 bits; one symbol per started 6 bits.
        let bits =
            chunk.iter().fold(0u32, |acc, &b| acc << 8 | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(symbol(bits >> (18 - 6 * i) & 0x3f));
        }
    }
    out
}

/// The base64url symbol of 6 bits.
fn symbol(v: u32) -> char {
    // `v` < 64: the casts keep every value.
    let v = v as u8;
    char::from(match v {
        0..=25 => b'A' + v,
        26..=51 => b'a' + (v - 26),
        52..=61 => b'0' + (v - 52),
        62 => b'-',
        _ => b'_',
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each configuration in use: tokens and JWK members (`decode`), `x5c`, PEM.
    fn url(input: &str) -> Option<Vec<u8>> {
        decode(input)
    }
    fn x5c(input: &str) -> Option<Vec<u8>> {
        decode_with(input.as_bytes(), Alphabet::Standard, Padding::Optional)
    }
    fn pem(input: &str) -> Option<Vec<u8>> {
        decode_with(input.as_bytes(), Alphabet::Standard, Padding::Canonical)
    }
    fn url_unpadded(input: &str) -> Option<Vec<u8>> {
        decode_with(input.as_bytes(), Alphabet::UrlSafe, Padding::Refused)
    }
    type Decoder = fn(&str) -> Option<Vec<u8>>;
    const ALL: [Decoder; 4] = [url, x5c, pem, url_unpadded];

    fn some(bytes: &[u8]) -> Option<Vec<u8>> {
        Some(bytes.to_vec())
    }

    #[test]
    fn empty_input_is_empty_output() {
        for decode in ALL {
            assert_eq!(decode(""), some(b""));
        }
    }

    #[test]
    fn length_one_mod_four_is_refused() {
        for decode in ALL {
            for input in ["Y", "YWJjZ", "YWJjZ=", "YWJjZ==", "YWJjZ==="] {
                assert_eq!(decode(input), None, "{input}");
            }
        }
    }

    #[test]
    fn padding_per_configuration() {
        // (input, url, x5c, pem, url_unpadded)
        let cases: [(&str, [Option<&[u8]>; 4]); 12] = [
            ("YWI", [Some(b"ab"), Some(b"ab"), None, Some(b"ab")]),
            ("YWI=", [Some(b"ab"), Some(b"ab"), Some(b"ab"), None]),
            ("YQ", [Some(b"a"), Some(b"a"), None, Some(b"a")]),
            ("YQ=", [None, Some(b"a"), None, None]),
            ("YQ==", [Some(b"a"), Some(b"a"), Some(b"a"), None]),
            ("YQ===", [None; 4]),
            ("YWI==", [None; 4]),
            (
                "YWJj",
                [Some(b"abc"), Some(b"abc"), Some(b"abc"), Some(b"abc")],
            ),
            ("YWJj=", [None; 4]),
            ("YWJj====", [None; 4]),
            ("=", [None; 4]),
            ("====", [None; 4]),
        ];
        for (input, expected) in cases {
            for (decode, want) in ALL.into_iter().zip(expected) {
                assert_eq!(decode(input), want.map(<[u8]>::to_vec), "{input}");
            }
        }
    }

    #[test]
    fn padding_in_the_middle_or_followed_by_data_is_refused() {
        for decode in ALL {
            for input in [
                "YQ==YWJj", "YQ=a", "Y=Jj", "=WJj", "YWJj=WJj", "YQ==YQ==", "YWI=YQ",
            ] {
                assert_eq!(decode(input), None, "{input}");
            }
        }
    }

    #[test]
    fn non_zero_trailing_bits_are_refused() {
        for decode in ALL {
            // The last symbol carries 4 (`YR`) or 2 (`YWJ`) bits past the last byte.
            for input in ["YR", "YR==", "YWJ", "YWJ=", "YWJjZR", "YWJjZWJ="] {
                assert_eq!(decode(input), None, "{input}");
            }
        }
        assert_eq!(url("YWJjZQ"), some(b"abce"));
        assert_eq!(pem("YWJjZWI="), some(b"abceb"));
    }

    #[test]
    fn each_alphabet_refuses_the_other() {
        for decode in [url, url_unpadded] {
            assert_eq!(decode("-_8"), some(&[0xfb, 0xff]));
            assert_eq!(decode("+_8"), None);
            assert_eq!(decode("-/8"), None);
        }
        for decode in [x5c, pem] {
            assert_eq!(decode("+/8="), some(&[0xfb, 0xff]));
            assert_eq!(decode("-/8="), None);
            assert_eq!(decode("+_8="), None);
        }
    }

    #[test]
    fn bytes_outside_the_alphabet_are_refused() {
        for decode in ALL {
            for input in [
                "YW I",
                "YWI\n",
                "\nYWI",
                "YW\tJj",
                "YWJ.",
                "YW\u{e9}",
                "\u{ff}\u{ff}",
                "YW\0=",
            ] {
                assert_eq!(decode(input), None, "{input:?}");
            }
        }
    }

    #[test]
    fn round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        for len in 0..bytes.len() {
            let prefix = bytes.get(..len).unwrap_or_default();
            let encoded = encode(prefix);
            assert_eq!(encoded.len(), (len * 4).div_ceil(3));
            assert_eq!(decode(&encoded).as_deref(), Some(prefix));
        }
        assert_eq!(encode(b"\xfb\xff\xbf"), "-_-_");
        assert_eq!(encode(b"abc"), "YWJj");
        assert_eq!(encode(b"ab"), "YWI");
        assert_eq!(encode(b"a"), "YQ");
        assert_eq!(encode(b""), "");
    }
}
