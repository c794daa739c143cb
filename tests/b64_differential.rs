//! Our base64 (src/token/b64.rs) against the `base64` crate (0.22), which it replaced in the
//! module, in each of the four configurations the filter uses: base64url unpadded
//! (`DecodePaddingMode::RequireNone`) and padded (`RequireCanonical`) for tokens and JWK members,
//! the standard alphabet with optional padding (`Indifferent`) for `x5c`, and with canonical
//! padding (`general_purpose::STANDARD`) for PEM blocks; trailing bits refused in all four.
//! Seeded and reproducible: every string of up to 5 symbols from a small set with each suffix
//! case, then random byte strings encoded and mutated (truncation, `=` added or removed, a byte
//! substituted from `=+/-_`, whitespace and non-ASCII, a byte inserted, a bit flipped).
//! Compared: accept/refuse and the decoded bytes; and the unpadded base64url encoding.
//! `cargo test --release --test b64_differential -- --nocapture` prints counts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use jwt_authn_wasm::token::b64::{self, Alphabet, Padding};

/// The project's one seeded test generator (SplitMix64).
use jwt_mint::Rng;

const fn engine(alphabet: &alphabet::Alphabet, mode: DecodePaddingMode) -> GeneralPurpose {
    GeneralPurpose::new(
        alphabet,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(mode)
            .with_decode_allow_trailing_bits(false),
    )
}

/// One configuration: ours, the reference engine, and the reference's encoder for its inputs.
struct Config {
    name: &'static str,
    alphabet: Alphabet,
    padding: Padding,
    reference: GeneralPurpose,
    encoder: GeneralPurpose,
}

fn configs() -> [Config; 4] {
    let url_padded = engine(&alphabet::URL_SAFE, DecodePaddingMode::Indifferent);
    let standard_padded = STANDARD;
    [
        Config {
            name: "base64url RequireNone (tokens, JWK members)",
            alphabet: Alphabet::UrlSafe,
            padding: Padding::Refused,
            reference: engine(&alphabet::URL_SAFE, DecodePaddingMode::RequireNone),
            encoder: url_padded.clone(),
        },
        Config {
            name: "base64url RequireCanonical (tokens, JWK members ending in `=`)",
            alphabet: Alphabet::UrlSafe,
            padding: Padding::Canonical,
            reference: engine(&alphabet::URL_SAFE, DecodePaddingMode::RequireCanonical),
            encoder: url_padded,
        },
        Config {
            name: "standard Indifferent (x5c)",
            alphabet: Alphabet::Standard,
            padding: Padding::Optional,
            reference: engine(&alphabet::STANDARD, DecodePaddingMode::Indifferent),
            encoder: standard_padded.clone(),
        },
        Config {
            name: "standard, the crate's STANDARD (PEM)",
            alphabet: Alphabet::Standard,
            padding: Padding::Canonical,
            reference: STANDARD,
            encoder: standard_padded,
        },
    ]
}

#[derive(Default)]
struct Counts {
    compared: usize,
    accepted: usize,
    /// Of those, also compared through `b64::decode`.
    via_decode: usize,
}

/// Compares ours with the reference on `input` (and, for base64url, `b64::decode`, which picks
/// the padding rule from the last byte, against the same choice of reference engine).
fn compare(config: &Config, input: &[u8], counts: &mut Counts) {
    let ours = b64::decode_with(input, config.alphabet, config.padding);
    let reference = config.reference.decode(input).ok();
    assert_eq!(
        ours,
        reference,
        "{}: {:?} ({input:?})",
        config.name,
        String::from_utf8_lossy(input)
    );
    counts.compared += 1;
    counts.accepted += usize::from(ours.is_some());
    if config.alphabet == Alphabet::UrlSafe
        && (config.padding == Padding::Canonical) == input.ends_with(b"=")
    {
        if let Ok(text) = std::str::from_utf8(input) {
            assert_eq!(b64::decode(text), reference, "b64::decode({text:?})");
            counts.via_decode += 1;
        }
    }
}

#[test]
fn every_short_string_decodes_as_the_base64_crate() {
    // Symbols with each low-bit pattern, both alphabets' extra symbols, padding, junk.
    const SYMBOLS: &[u8] = b"AQgBw-_+/= \xc3";
    for config in configs() {
        let mut counts = Counts::default();
        let mut input = Vec::new();
        for len in 0..=5u32 {
            for mut n in 0..SYMBOLS.len().pow(len) {
                input.clear();
                for _ in 0..len {
                    input.push(SYMBOLS[n % SYMBOLS.len()]);
                    n /= SYMBOLS.len();
                }
                compare(&config, &input, &mut counts);
            }
        }
        println!(
            "{}: {} short strings compared ({} through b64::decode too), {} accepted, 0 disagreements",
            config.name, counts.compared, counts.via_decode, counts.accepted
        );
        assert!(counts.accepted > 1000);
    }
}

#[test]
fn mutated_encodings_decode_as_the_base64_crate() {
    const SUBSTITUTES: &[u8] = b"=+/-_ \n\r\t.A\x00\xc3\xa9\xff";
    const ROUNDS: usize = 100_000;
    let mut rng = Rng(0x6b36_3422);
    for config in configs() {
        let mut counts = Counts::default();
        for _ in 0..ROUNDS {
            let bytes: Vec<u8> = (0..rng.below(48)).map(|_| rng.next_u64() as u8).collect();
            let mut input = config.encoder.encode(&bytes).into_bytes();
            if rng.below(2) == 0 {
                while input.last() == Some(&b'=') {
                    input.pop();
                }
            }
            for _ in 0..rng.below(4) {
                let at = rng.below(input.len() + 1);
                match rng.below(6) {
                    0 => input.truncate(at),
                    1 => input.extend(std::iter::repeat_n(b'=', 1 + rng.below(3))),
                    2 if input.last() == Some(&b'=') => {
                        input.pop();
                    }
                    3 if at < input.len() => input[at] = SUBSTITUTES[rng.below(SUBSTITUTES.len())],
                    4 => input.insert(at, SUBSTITUTES[rng.below(SUBSTITUTES.len())]),
                    5 if at < input.len() => input[at] ^= 1 << rng.below(8),
                    _ => {}
                }
            }
            compare(&config, &input, &mut counts);
        }
        println!(
            "{}: {} mutated encodings compared ({} through b64::decode too), {} accepted, 0 disagreements",
            config.name, counts.compared, counts.via_decode, counts.accepted
        );
        assert!(counts.accepted > ROUNDS / 10 && counts.accepted < ROUNDS - ROUNDS / 10);
    }
}

#[test]
fn encodes_as_the_base64_crate() {
    let mut rng = Rng(0x22);
    let reference = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    for _ in 0..100_000 {
        let bytes: Vec<u8> = (0..rng.below(100)).map(|_| rng.next_u64() as u8).collect();
        assert_eq!(b64::encode(&bytes), reference.encode(&bytes));
    }
    println!("100000 random byte strings encoded, 0 disagreements");
}
