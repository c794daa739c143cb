//! A minimal DER reader (X.690 §8 and §10), for the few structures [`super::x509`] reads: a
//! walk over tag-length-value elements with the checks of RustCrypto's `der` 0.8, whose place it
//! takes in the module.
//!
//! - Tags: the universal tags `der` knows (BOOLEAN … BMPString, SEQUENCE and SET constructed
//!   only); application, context-specific and private tags with numbers up to 2^32-1 in the
//!   minimal high-tag-number form. Anything else is refused, wherever it occurs.
//! - Lengths: definite only, in the fewest octets (at most 4 after `0x8N`), never past the end
//!   of the enclosing element.
//! - Every constructed element is read to its end: bytes left over are refused.
//! - Values are checked only where the caller reads them ([`int`], [`uint`], [`bit_string`],
//!   [`boolean`], [`oid`], [`time`]); an element only skipped (an ASN.1 `ANY`) is checked for its
//!   header and length alone, as `der`'s `Any` does.
//!
//! There is no recursion: nesting is as deep as the caller's fixed structure. Nothing here
//! panics or indexes unchecked.

use std::fmt;

/// Why a DER input was refused, and at which byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Offset of the offending byte in the whole input.
    pub at: usize,
    pub what: &'static str,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

impl std::error::Error for Error {}

/// An identifier octet's class and constructed bits (`0xE0`), and the tag number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag {
    bits: u8,
    number: u32,
}

const CONSTRUCTED: u8 = 0x20;
const CONTEXT: u8 = 0x80;

impl Tag {
    const fn universal(number: u32, constructed: bool) -> Tag {
        Tag {
            bits: if constructed { CONSTRUCTED } else { 0 },
            number,
        }
    }
    pub const BOOLEAN: Tag = Tag::universal(1, false);
    pub const INTEGER: Tag = Tag::universal(2, false);
    pub const BIT_STRING: Tag = Tag::universal(3, false);
    pub const OCTET_STRING: Tag = Tag::universal(4, false);
    pub const NULL: Tag = Tag::universal(5, false);
    pub const OID: Tag = Tag::universal(6, false);
    pub const UTC_TIME: Tag = Tag::universal(0x17, false);
    pub const GENERALIZED_TIME: Tag = Tag::universal(0x18, false);
    pub const SEQUENCE: Tag = Tag::universal(0x10, true);
    pub const SET: Tag = Tag::universal(0x11, true);

    /// The identifier octet's class and constructed bits, and the tag number.
    #[cfg(test)]
    pub fn parts(self) -> (u8, u32) {
        (self.bits, self.number)
    }

    pub fn is_constructed(self) -> bool {
        self.bits & CONSTRUCTED != 0
    }

    /// A context-specific tag `[number]`, primitive or constructed alike.
    pub fn is_context(self, number: u32) -> bool {
        self.bits & 0xC0 == CONTEXT && self.number == number
    }
}

/// The universal identifier octets `der` 0.8 decodes (its `Tag::decode`); others are refused.
fn known_universal(byte: u8) -> bool {
    matches!(
        byte,
        0x01..=0x06 | 0x09 | 0x0A | 0x0C | 0x0D | 0x12..=0x18 | 0x1A | 0x1B | 0x1E | 0x30 | 0x31
    )
}

/// One element: its tag and value bytes.
#[derive(Debug, Clone, Copy)]
pub struct Tlv<'a> {
    pub tag: Tag,
    pub value: &'a [u8],
    /// Offset of the value in the whole input.
    pub at: usize,
}

impl<'a> Tlv<'a> {
    /// A reader over the value (the elements inside a constructed element).
    pub fn reader(&self) -> Reader<'a> {
        Reader {
            bytes: self.value,
            at: self.at,
        }
    }

    fn error(&self, what: &'static str) -> Error {
        Error { at: self.at, what }
    }
}

/// A cursor over consecutive elements.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    /// Offset of `bytes` in the whole input.
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn error(&self, what: &'static str) -> Error {
        Error { at: self.at, what }
    }

    fn byte(&mut self) -> Result<u8, Error> {
        let (&byte, rest) = self
            .bytes
            .split_first()
            .ok_or_else(|| self.error("input ends inside an element header"))?;
        self.bytes = rest;
        self.at += 1;
        Ok(byte)
    }

    fn tag(&mut self) -> Result<Tag, Error> {
        let first = self.byte()?;
        let bits = first & 0xE0;
        if first < 0x40 {
            return if known_universal(first) {
                Ok(Tag {
                    bits,
                    number: u32::from(first & 0x1F),
                })
            } else {
                Err(self.error("unknown universal tag"))
            };
        }
        if first & 0x1F != 0x1F {
            return Ok(Tag {
                bits,
                number: u32::from(first & 0x1F),
            });
        }
        // High tag number form: base-128, no leading zero digit, at least 31, at most 5 octets.
        let mut number = 0u32;
        for i in 0..5 {
            let byte = self.byte()?;
            number |= u32::from(byte & 0x7F);
            if byte & 0x80 == 0 {
                if number < 0x1F {
                    return Err(self.error("tag number not in its shortest form"));
                }
                return Ok(Tag { bits, number });
            }
            if (i == 0 && number == 0) || number.leading_zeros() < 7 {
                return Err(self.error("tag number not in its shortest form or too large"));
            }
            number <<= 7;
        }
        Err(self.error("tag number too large"))
    }

    fn length(&mut self) -> Result<usize, Error> {
        let first = self.byte()?;
        match first {
            0..=0x7F => Ok(usize::from(first)),
            0x80 => Err(self.error("indefinite length")),
            0x81..=0x84 => {
                let mut len = 0u32;
                for _ in 0..first - 0x80 {
                    len = (len << 8) | u32::from(self.byte()?);
                }
                // X.690 §10.1: the fewest octets.
                let octets = 4 - len.leading_zeros() / 8;
                if len < 0x80 || octets != u32::from(first - 0x80) {
                    return Err(self.error("length not in its shortest form"));
                }
                usize::try_from(len).map_err(|_| self.error("length too large"))
            }
            _ => Err(self.error("length too large")),
        }
    }

    /// The next element's tag, or `None` at the end. A malformed tag is an error.
    pub fn peek_tag(&self) -> Result<Option<Tag>, Error> {
        if self.is_empty() {
            return Ok(None);
        }
        self.clone().tag().map(Some)
    }

    /// The next element, whatever its tag.
    pub fn any(&mut self) -> Result<Tlv<'a>, Error> {
        let tag = self.tag()?;
        let len = self.length()?;
        let (value, rest) = self
            .bytes
            .split_at_checked(len)
            .ok_or_else(|| self.error("length runs past the end of the input"))?;
        let tlv = Tlv {
            tag,
            value,
            at: self.at,
        };
        self.bytes = rest;
        self.at += len;
        Ok(tlv)
    }

    /// The next element, which must have this tag.
    pub fn read(&mut self, tag: Tag) -> Result<Tlv<'a>, Error> {
        let at = self.at;
        let tlv = self.any()?;
        if tlv.tag != tag {
            return Err(Error {
                at,
                what: "unexpected tag",
            });
        }
        Ok(tlv)
    }

    /// The next element, a SEQUENCE: a reader over its elements.
    pub fn sequence(&mut self) -> Result<Reader<'a>, Error> {
        Ok(self.read(Tag::SEQUENCE)?.reader())
    }

    /// The next element, an OBJECT IDENTIFIER: its checked content octets.
    pub fn oid(&mut self) -> Result<&'a [u8], Error> {
        let tlv = self.read(Tag::OID)?;
        oid(tlv.value).map_err(|what| tlv.error(what))?;
        Ok(tlv.value)
    }

    /// The end of this reader's elements: nothing may follow.
    pub fn finish(&self) -> Result<(), Error> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.error("trailing data"))
        }
    }
}

/// The single element of `der`, read by `f`, with nothing after it.
pub fn parse<'a, T>(
    der: &'a [u8],
    f: impl FnOnce(&mut Reader<'a>) -> Result<T, Error>,
) -> Result<T, Error> {
    let mut reader = Reader::new(der);
    let value = f(&mut reader)?;
    reader.finish()?;
    Ok(value)
}

/// The magnitude of a non-negative INTEGER, big-endian without leading zeros (`0` is `[0]`).
/// Refuses empty, negative and non-minimal encodings, as `der`'s `UintRef`.
pub fn uint<'a>(tlv: &Tlv<'a>) -> Result<&'a [u8], Error> {
    match tlv.value {
        [] => Err(tlv.error("empty INTEGER")),
        [0] => Ok(tlv.value),
        [0, next, ..] if *next < 0x80 => Err(tlv.error("INTEGER not in its shortest form")),
        [0, rest @ ..] => Ok(rest),
        [first, ..] if *first >= 0x80 => Err(tlv.error("negative INTEGER")),
        _ => Ok(tlv.value),
    }
}

/// Checks a signed INTEGER's encoding: not empty, no redundant leading `00` or `FF`.
pub fn int(tlv: &Tlv<'_>) -> Result<(), Error> {
    match tlv.value {
        [] => Err(tlv.error("empty INTEGER")),
        [0x00, next, ..] if *next < 0x80 => Err(tlv.error("INTEGER not in its shortest form")),
        [0xFF, next, ..] if *next >= 0x80 => Err(tlv.error("INTEGER not in its shortest form")),
        _ => Ok(()),
    }
}

/// A BIT STRING's unused-bit count (0-7; 0 when empty) and octets.
pub fn bit_string<'a>(tlv: &Tlv<'a>) -> Result<(u8, &'a [u8]), Error> {
    match tlv.value.split_first() {
        Some((&unused, bits)) if unused <= 7 && (unused == 0 || !bits.is_empty()) => {
            Ok((unused, bits))
        }
        _ => Err(tlv.error("invalid BIT STRING")),
    }
}

/// A BOOLEAN: one octet, `00` or `FF`.
pub fn boolean(tlv: &Tlv<'_>) -> Result<bool, Error> {
    match tlv.value {
        [0x00] => Ok(false),
        [0xFF] => Ok(true),
        _ => Err(tlv.error("invalid BOOLEAN")),
    }
}

/// Most content octets of an OBJECT IDENTIFIER (`const-oid`'s limit).
const MAX_OID_BYTES: usize = 39;

/// The arcs of an OBJECT IDENTIFIER's content octets, with `const-oid` 0.10's checks: 1 to 39
/// octets, a first octet below 120 (first arc 0-2, second 0-39), arcs within `u32` and ended.
fn arcs(bytes: &[u8]) -> Result<Vec<u32>, &'static str> {
    let (&root, mut rest) = bytes.split_first().ok_or("empty OBJECT IDENTIFIER")?;
    if bytes.len() > MAX_OID_BYTES {
        return Err("OBJECT IDENTIFIER too long");
    }
    if root >= 120 {
        return Err("invalid OBJECT IDENTIFIER");
    }
    let mut arcs = vec![u32::from(root / 40), u32::from(root % 40)];
    while !rest.is_empty() {
        let mut arc = 0u32;
        loop {
            let (&byte, tail) = rest
                .split_first()
                .ok_or("unterminated OBJECT IDENTIFIER arc")?;
            rest = tail;
            arc = arc
                .checked_mul(0x80)
                .and_then(|arc| arc.checked_add(u32::from(byte & 0x7F)))
                .ok_or("OBJECT IDENTIFIER arc too large")?;
            if byte & 0x80 == 0 {
                break;
            }
        }
        arcs.push(arc);
    }
    Ok(arcs)
}

/// Checks an OBJECT IDENTIFIER's content octets (see [`arcs`]).
pub fn oid(bytes: &[u8]) -> Result<(), &'static str> {
    arcs(bytes).map(|_| ())
}

/// Dotted decimal of an OBJECT IDENTIFIER's content octets (checked by [`oid`] before).
pub fn oid_string(bytes: &[u8]) -> String {
    match arcs(bytes) {
        Ok(arcs) => arcs
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join("."),
        Err(what) => what.to_owned(),
    }
}

/// Checks a UTCTime or GeneralizedTime as `der` 0.8 does for certificate validity: exactly
/// `YYMMDDHHMMSSZ` or `YYYYMMDDHHMMSSZ`, a real date from 1970 on (UTCTime years 50-99 are
/// 1950-1999, so 50-69 are refused). The date is not compared with any clock.
pub fn time(tlv: &Tlv<'_>) -> Result<(), Error> {
    let bad = || tlv.error("invalid time");
    let digits = |pair: &[u8]| -> Option<u16> {
        match pair {
            [hi, lo] if hi.is_ascii_digit() && lo.is_ascii_digit() => {
                Some(u16::from(hi - b'0') * 10 + u16::from(lo - b'0'))
            }
            _ => None,
        }
    };
    let (year, rest) = match (tlv.tag, tlv.value.len()) {
        (Tag::UTC_TIME, 13) => {
            let (yy, rest) = tlv.value.split_at(2);
            let yy = digits(yy).ok_or_else(bad)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, rest)
        }
        (Tag::GENERALIZED_TIME, 15) => {
            let (yyyy, rest) = tlv.value.split_at(4);
            let (hi, lo) = yyyy.split_at(2);
            (
                digits(hi).ok_or_else(bad)? * 100 + digits(lo).ok_or_else(bad)?,
                rest,
            )
        }
        _ => return Err(bad()),
    };
    let [mo1, mo2, d1, d2, h1, h2, mi1, mi2, s1, s2, b'Z'] = *rest else {
        return Err(bad());
    };
    let [month, day, hour, minute, second] =
        [[mo1, mo2], [d1, d2], [h1, h2], [mi1, mi2], [s1, s2]].map(|pair| digits(&pair));
    let (Some(month), Some(day), Some(hour), Some(minute), Some(second)) =
        (month, day, hour, minute, second)
    else {
        return Err(bad());
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    if year < 1970 || day == 0 || day > days || hour > 23 || minute > 59 || second > 59 {
        return Err(bad());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
