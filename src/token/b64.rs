//! base64url decoding for tokens and JWKs (RFC 7515 §2, RFC 4648 §5). Padding is tolerated
//! because Envoy's native filter accepts it; the standard alphabet (`+`, `/`) and non-canonical
//! trailing bits are refused, so each byte string has exactly one accepted unpadded spelling.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

const URL_UNPADDED: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

const URL_PADDED: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical)
        .with_decode_allow_trailing_bits(false),
);

const URL_NO_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_encode_padding(false),
);

/// Decodes base64url, unpadded or with complete `=` padding. `None` for anything else.
pub fn decode(input: &str) -> Option<Vec<u8>> {
    let engine = if input.ends_with('=') {
        &URL_PADDED
    } else {
        &URL_UNPADDED
    };
    engine.decode(input).ok()
}

/// Encodes base64url without padding.
pub fn encode(input: &[u8]) -> String {
    URL_NO_PAD.encode(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_padded_and_unpadded() {
        assert_eq!(decode("YWI").as_deref(), Some(&b"ab"[..]));
        assert_eq!(decode("YWI=").as_deref(), Some(&b"ab"[..]));
        assert_eq!(decode("").as_deref(), Some(&b""[..]));
    }

    #[test]
    fn refuses_standard_alphabet_and_junk() {
        assert_eq!(decode("+/8"), None);
        assert_eq!(decode("YW I"), None);
        assert_eq!(decode("Y"), None);
        assert_eq!(decode("YWJ="), None, "non-zero trailing bits");
        assert_eq!(decode("YQ="), None, "incomplete padding");
        assert_eq!(decode("YQ==").as_deref(), Some(&b"a"[..]));
    }

    #[test]
    fn round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(decode(&encode(&bytes)), Some(bytes));
    }
}
