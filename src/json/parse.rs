//! The reader: RFC 8259 JSON into a [`Value`], serde_json's acceptance, numbers and error
//! messages (the rules are in the module doc, src/json/mod.rs). A recursive descent over the
//! bytes; the depth is bounded (127 levels), so recursion cannot exhaust the stack.

use std::fmt;

use super::{Map, Number, Value, N};

/// serde_json's recursion budget: 128, of which the 128th opened array or object runs out.
const RECURSION_LIMIT: u8 = 128;

/// Why a document was refused, and where: serde_json's message and position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    code: Code,
    line: usize,
    column: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Code {
    EofWhileParsingList,
    EofWhileParsingObject,
    EofWhileParsingString,
    EofWhileParsingValue,
    ExpectedColon,
    ExpectedListCommaOrEnd,
    ExpectedObjectCommaOrEnd,
    ExpectedSomeIdent,
    ExpectedSomeValue,
    InvalidEscape,
    InvalidNumber,
    NumberOutOfRange,
    InvalidUnicodeCodePoint,
    ControlCharacterWhileParsingString,
    KeyMustBeAString,
    LoneLeadingSurrogateInHexEscape,
    TrailingComma,
    TrailingCharacters,
    UnexpectedEndOfHexEscape,
    RecursionLimitExceeded,
}

impl Error {
    /// The error at byte `index` of `bytes`: line from 1, column in bytes from the line's start.
    fn at(bytes: &[u8], index: usize, code: Code) -> Error {
        let before = bytes.get(..index).unwrap_or(bytes);
        let start_of_line = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        Error {
            code,
            line,
            column: before.len() - start_of_line,
        }
    }

    /// The line of the error, from 1.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The column of the error, in bytes.
    pub fn column(&self) -> usize {
        self.column
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = match self.code {
            Code::EofWhileParsingList => "EOF while parsing a list",
            Code::EofWhileParsingObject => "EOF while parsing an object",
            Code::EofWhileParsingString => "EOF while parsing a string",
            Code::EofWhileParsingValue => "EOF while parsing a value",
            Code::ExpectedColon => "expected `:`",
            Code::ExpectedListCommaOrEnd => "expected `,` or `]`",
            Code::ExpectedObjectCommaOrEnd => "expected `,` or `}`",
            Code::ExpectedSomeIdent => "expected ident",
            Code::ExpectedSomeValue => "expected value",
            Code::InvalidEscape => "invalid escape",
            Code::InvalidNumber => "invalid number",
            Code::NumberOutOfRange => "number out of range",
            Code::InvalidUnicodeCodePoint => "invalid unicode code point",
            Code::ControlCharacterWhileParsingString => {
                "control character (\\u0000-\\u001F) found while parsing a string"
            }
            Code::KeyMustBeAString => "key must be a string",
            Code::LoneLeadingSurrogateInHexEscape => "lone leading surrogate in hex escape",
            Code::TrailingComma => "trailing comma",
            Code::TrailingCharacters => "trailing characters",
            Code::UnexpectedEndOfHexEscape => "unexpected end of hex escape",
            Code::RecursionLimitExceeded => "recursion limit exceeded",
        };
        write!(f, "{message} at line {} column {}", self.line, self.column)
    }
}

impl std::error::Error for Error {}

/// Reads one JSON document (whitespace around it allowed, nothing else).
pub fn from_slice(bytes: &[u8]) -> Result<Value, Error> {
    let mut parser = Parser {
        bytes,
        at: 0,
        depth_left: RECURSION_LIMIT,
    };
    let value = parser.value()?;
    match parser.whitespace() {
        None => Ok(value),
        Some(_) => Err(parser.peek_error(Code::TrailingCharacters)),
    }
}

/// [`from_slice`] of a string's bytes.
pub fn from_str(text: &str) -> Result<Value, Error> {
    from_slice(text.as_bytes())
}

struct Parser<'a> {
    bytes: &'a [u8],
    /// The next byte to read.
    at: usize,
    depth_left: u8,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek();
        if byte.is_some() {
            self.at += 1;
        }
        byte
    }

    /// An error at the last byte read (serde_json's `error`).
    fn error(&self, code: Code) -> Error {
        Error::at(self.bytes, self.at, code)
    }

    /// An error at the byte just peeked (serde_json's `peek_error`).
    fn peek_error(&self, code: Code) -> Error {
        Error::at(self.bytes, (self.at + 1).min(self.bytes.len()), code)
    }

    /// Skips whitespace; the next byte, not consumed.
    fn whitespace(&mut self) -> Option<u8> {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.at += 1;
        }
        self.peek()
    }

    fn value(&mut self) -> Result<Value, Error> {
        let Some(peek) = self.whitespace() else {
            return Err(self.peek_error(Code::EofWhileParsingValue));
        };
        match peek {
            b'n' => {
                self.at += 1;
                self.ident(b"ull").map(|()| Value::Null)
            }
            b't' => {
                self.at += 1;
                self.ident(b"rue").map(|()| Value::Bool(true))
            }
            b'f' => {
                self.at += 1;
                self.ident(b"alse").map(|()| Value::Bool(false))
            }
            b'-' => {
                self.at += 1;
                self.number(false).map(Value::Number)
            }
            b'0'..=b'9' => self.number(true).map(Value::Number),
            b'"' => {
                self.at += 1;
                self.string().map(Value::String)
            }
            b'[' | b'{' => {
                self.depth_left -= 1;
                if self.depth_left == 0 {
                    return Err(self.peek_error(Code::RecursionLimitExceeded));
                }
                self.at += 1;
                let value = if peek == b'[' {
                    self.array()
                } else {
                    self.object()
                };
                self.depth_left += 1;
                value
            }
            _ => Err(self.peek_error(Code::ExpectedSomeValue)),
        }
    }

    fn ident(&mut self, rest: &[u8]) -> Result<(), Error> {
        for &expected in rest {
            match self.next() {
                None => return Err(self.error(Code::EofWhileParsingValue)),
                Some(b) if b != expected => return Err(self.error(Code::ExpectedSomeIdent)),
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// After `[`: the elements and the closing `]`.
    fn array(&mut self) -> Result<Value, Error> {
        let mut items = Vec::new();
        loop {
            let peek = match self.whitespace() {
                Some(b']') => break,
                Some(b',') if !items.is_empty() => {
                    self.at += 1;
                    self.whitespace()
                }
                Some(_) if !items.is_empty() => {
                    return Err(self.peek_error(Code::ExpectedListCommaOrEnd))
                }
                Some(b) => Some(b),
                None => return Err(self.peek_error(Code::EofWhileParsingList)),
            };
            match peek {
                Some(b']') => return Err(self.peek_error(Code::TrailingComma)),
                Some(_) => items.push(self.value()?),
                None => return Err(self.peek_error(Code::EofWhileParsingValue)),
            }
        }
        self.at += 1;
        Ok(Value::Array(items))
    }

    /// After `{`: the members and the closing `}`. A repeated key keeps its last value.
    fn object(&mut self) -> Result<Value, Error> {
        let mut members = Map::new();
        let mut first = true;
        loop {
            let peek = match self.whitespace() {
                Some(b'}') => break,
                Some(b',') if !first => {
                    self.at += 1;
                    self.whitespace()
                }
                Some(_) if !first => return Err(self.peek_error(Code::ExpectedObjectCommaOrEnd)),
                Some(b) => Some(b),
                None => return Err(self.peek_error(Code::EofWhileParsingObject)),
            };
            first = false;
            let key = match peek {
                Some(b'"') => {
                    self.at += 1;
                    self.string()?
                }
                Some(b'}') => return Err(self.peek_error(Code::TrailingComma)),
                Some(_) => return Err(self.peek_error(Code::KeyMustBeAString)),
                None => return Err(self.peek_error(Code::EofWhileParsingValue)),
            };
            match self.whitespace() {
                Some(b':') => self.at += 1,
                Some(_) => return Err(self.peek_error(Code::ExpectedColon)),
                None => return Err(self.peek_error(Code::EofWhileParsingObject)),
            }
            let value = self.value()?;
            members.insert(key, value);
        }
        self.at += 1;
        Ok(Value::Object(members))
    }

    /// After the opening `"`: the string up to and including its closing `"`.
    fn string(&mut self) -> Result<String, Error> {
        // The common case, a string without escapes: validated where it lies, copied once.
        let rest = self.bytes.get(self.at..).unwrap_or_default();
        let run = plain_run(rest);
        if let (Some(b'"'), Some(raw)) = (rest.get(run), rest.get(..run)) {
            self.at += run + 1;
            return match std::str::from_utf8(raw) {
                Ok(text) => Ok(text.to_owned()),
                Err(e) => Err(self.utf8_error(raw.len() - e.valid_up_to())),
            };
        }
        let mut out: Vec<u8> = Vec::new();
        loop {
            let start = self.at;
            let rest = self.bytes.get(start..).unwrap_or_default();
            let run = plain_run(rest);
            out.extend_from_slice(rest.get(..run).unwrap_or_default());
            self.at = start + run;
            match self.next() {
                None => return Err(self.error(Code::EofWhileParsingString)),
                Some(b'"') => break,
                Some(b'\\') => self.escape(&mut out)?,
                Some(_) => return Err(self.error(Code::ControlCharacterWhileParsingString)),
            }
        }
        String::from_utf8(out)
            .map_err(|e| self.utf8_error(e.as_bytes().len() - e.utf8_error().valid_up_to()))
    }

    /// Bytes that are not UTF-8, `bad` of them from the first to the closing quote just read:
    /// serde_json's position, the column moved back to the first (approximate after escapes).
    #[cold]
    fn utf8_error(&self, bad: usize) -> Error {
        let mut err = self.error(Code::InvalidUnicodeCodePoint);
        err.column = err.column.saturating_sub(bad);
        err
    }

    /// After a `\`: one escape, appended to `out` as UTF-8.
    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        let byte = match self.next() {
            Some(b'"') => b'"',
            Some(b'\\') => b'\\',
            Some(b'/') => b'/',
            Some(b'b') => b'\x08',
            Some(b'f') => b'\x0c',
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b't') => b'\t',
            Some(b'u') => return self.unicode_escape(out),
            Some(_) => return Err(self.error(Code::InvalidEscape)),
            None => return Err(self.error(Code::EofWhileParsingString)),
        };
        out.push(byte);
        Ok(())
    }

    /// After `\u`: a character, or a surrogate pair `\uD8xx\uDCxx`; a lone surrogate is refused.
    fn unicode_escape(&mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        let n = self.hex4()?;
        let code = match n {
            0xDC00..=0xDFFF => return Err(self.error(Code::LoneLeadingSurrogateInHexEscape)),
            0xD800..=0xDBFF => {
                for expected in [b'\\', b'u'] {
                    match self.next() {
                        None => return Err(self.error(Code::EofWhileParsingString)),
                        Some(b) if b != expected => {
                            return Err(self.error(Code::UnexpectedEndOfHexEscape))
                        }
                        Some(_) => {}
                    }
                }
                let n2 = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&n2) {
                    return Err(self.error(Code::LoneLeadingSurrogateInHexEscape));
                }
                0x1_0000 + (((u32::from(n) - 0xD800) << 10) | (u32::from(n2) - 0xDC00))
            }
            _ => u32::from(n),
        };
        let Some(c) = char::from_u32(code) else {
            return Err(self.error(Code::InvalidUnicodeCodePoint));
        };
        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        Ok(())
    }

    /// Four hex digits of a `\u` escape.
    fn hex4(&mut self) -> Result<u16, Error> {
        let Some(digits) = self.bytes.get(self.at..self.at + 4) else {
            self.at = self.bytes.len();
            return Err(self.error(Code::EofWhileParsingString));
        };
        self.at += 4;
        let mut n: u16 = 0;
        for &d in digits {
            let Some(v) = char::from(d).to_digit(16) else {
                return Err(self.error(Code::InvalidEscape));
            };
            n = (n << 4) | v as u16;
        }
        Ok(n)
    }

    /// After an optional `-`: a number, serde_json's `parse_integer` and `parse_number`.
    fn number(&mut self, positive: bool) -> Result<Number, Error> {
        let mut significand = match self.next() {
            None => return Err(self.error(Code::EofWhileParsingValue)),
            Some(b'0') => {
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.peek_error(Code::InvalidNumber));
                }
                0
            }
            Some(c @ b'1'..=b'9') => u64::from(c - b'0'),
            Some(_) => return Err(self.error(Code::InvalidNumber)),
        };
        while let Some(c @ b'0'..=b'9') = self.peek() {
            match significand
                .checked_mul(10)
                .and_then(|s| s.checked_add(u64::from(c - b'0')))
            {
                Some(s) => {
                    self.at += 1;
                    significand = s;
                }
                None => return self.long_integer(positive, significand).map(float),
            }
        }
        Ok(match self.peek() {
            Some(b'.') => float(self.decimal(positive, significand, 0)?),
            Some(b'e' | b'E') => float(self.exponent(positive, significand, 0)?),
            _ if positive => Number(N::PosInt(significand)),
            _ => {
                let negated = (significand as i64).wrapping_neg();
                // -0 and integers below i64::MIN are floats.
                if negated >= 0 {
                    float(-(significand as f64))
                } else {
                    Number(N::NegInt(negated))
                }
            }
        })
    }

    /// An integer with more digits than a u64 holds: the digits past it only scale it.
    fn long_integer(&mut self, positive: bool, significand: u64) -> Result<f64, Error> {
        let mut exponent: i32 = 0;
        loop {
            match self.peek() {
                Some(b'0'..=b'9') => {
                    self.at += 1;
                    exponent = exponent.saturating_add(1);
                }
                Some(b'.') => return self.decimal(positive, significand, exponent),
                Some(b'e' | b'E') => return self.exponent(positive, significand, exponent),
                _ => return self.scaled(positive, significand, exponent),
            }
        }
    }

    /// At `.`: the fraction digits, then an optional exponent.
    fn decimal(&mut self, positive: bool, mut significand: u64, before: i32) -> Result<f64, Error> {
        self.at += 1;
        let mut after: i32 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            match significand
                .checked_mul(10)
                .and_then(|s| s.checked_add(u64::from(c - b'0')))
            {
                Some(s) => {
                    self.at += 1;
                    significand = s;
                    after -= 1;
                }
                None => {
                    // The digits past a u64 are dropped.
                    while let Some(b'0'..=b'9') = self.peek() {
                        self.at += 1;
                    }
                    return self.fraction_end(positive, significand, before.saturating_add(after));
                }
            }
        }
        if after == 0 {
            return Err(match self.peek() {
                Some(_) => self.peek_error(Code::InvalidNumber),
                None => self.peek_error(Code::EofWhileParsingValue),
            });
        }
        self.fraction_end(positive, significand, before.saturating_add(after))
    }

    fn fraction_end(
        &mut self,
        positive: bool,
        significand: u64,
        exponent: i32,
    ) -> Result<f64, Error> {
        match self.peek() {
            Some(b'e' | b'E') => self.exponent(positive, significand, exponent),
            _ => self.scaled(positive, significand, exponent),
        }
    }

    /// At `e`/`E`: the exponent, added to the one the digits so far imply.
    fn exponent(&mut self, positive: bool, significand: u64, starting: i32) -> Result<f64, Error> {
        self.at += 1;
        let positive_exp = match self.peek() {
            Some(b'+') => {
                self.at += 1;
                true
            }
            Some(b'-') => {
                self.at += 1;
                false
            }
            _ => true,
        };
        let mut exp = match self.next() {
            None => return Err(self.error(Code::EofWhileParsingValue)),
            Some(c @ b'0'..=b'9') => i32::from(c - b'0'),
            Some(_) => return Err(self.error(Code::InvalidNumber)),
        };
        while let Some(c @ b'0'..=b'9') = self.peek() {
            self.at += 1;
            match exp
                .checked_mul(10)
                .and_then(|e| e.checked_add(i32::from(c - b'0')))
            {
                Some(e) => exp = e,
                None => {
                    // An exponent beyond i32: infinity is refused, anything else is 0.
                    if significand != 0 && positive_exp {
                        return Err(self.error(Code::NumberOutOfRange));
                    }
                    while let Some(b'0'..=b'9') = self.peek() {
                        self.at += 1;
                    }
                    return Ok(if positive { 0.0 } else { -0.0 });
                }
            }
        }
        let exponent = if positive_exp {
            starting.saturating_add(exp)
        } else {
            starting.saturating_sub(exp)
        };
        self.scaled(positive, significand, exponent)
    }

    /// `significand × 10^exponent` as serde_json computes it without `float_roundtrip`: one
    /// multiplication or division by a power of ten from the table (several divisions by
    /// 1e308 first below 1e-308). Too large is refused; too small becomes 0.
    fn scaled(&self, positive: bool, significand: u64, mut exponent: i32) -> Result<f64, Error> {
        let mut f = significand as f64;
        loop {
            match usize::try_from(exponent.unsigned_abs())
                .ok()
                .and_then(|i| POW10.get(i))
            {
                Some(&pow) => {
                    if exponent >= 0 {
                        f *= pow;
                        if f.is_infinite() {
                            return Err(self.error(Code::NumberOutOfRange));
                        }
                    } else {
                        f /= pow;
                    }
                    break;
                }
                None => {
                    if f == 0.0 {
                        break;
                    }
                    if exponent >= 0 {
                        return Err(self.error(Code::NumberOutOfRange));
                    }
                    f /= 1e308;
                    exponent += 308;
                }
            }
        }
        Ok(if positive { f } else { -f })
    }
}

/// The length of the run of plain string bytes at the start of `rest`: up to the first `"`,
/// `\` or control character, or the end. Eight bytes at a time, as serde_json skips them: in
/// each 64-bit word a byte below 0x20 or equal to `"` or `\` sets its top bit in `found` (the
/// lowest such byte exactly; bytes above it may be flagged falsely, which does not matter).
pub(super) fn plain_run(rest: &[u8]) -> usize {
    const ONES: u64 = u64::MAX / 255;
    const TOPS: u64 = ONES << 7;
    let has = |w: u64, byte: u8| {
        let x = w ^ (ONES * u64::from(byte));
        x.wrapping_sub(ONES) & !x
    };
    let mut chunks = rest.chunks_exact(8);
    let mut at = 0;
    for chunk in chunks.by_ref() {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let control = w.wrapping_sub(ONES * 0x20) & !w;
        let found = (control | has(w, b'"') | has(w, b'\\')) & TOPS;
        if found != 0 {
            return at + found.trailing_zeros() as usize / 8;
        }
        at += 8;
    }
    let tail = chunks.remainder();
    at + tail
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .unwrap_or(tail.len())
}

fn float(f: f64) -> Number {
    Number(N::Float(f))
}

/// 1e0 to 1e308, each the nearest double to the power (Rust's literals are correctly rounded).
static POW10: [f64; 309] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28, 1e29, 1e30, 1e31, 1e32,
    1e33, 1e34, 1e35, 1e36, 1e37, 1e38, 1e39, 1e40, 1e41, 1e42, 1e43, 1e44, 1e45, 1e46, 1e47, 1e48,
    1e49, 1e50, 1e51, 1e52, 1e53, 1e54, 1e55, 1e56, 1e57, 1e58, 1e59, 1e60, 1e61, 1e62, 1e63, 1e64,
    1e65, 1e66, 1e67, 1e68, 1e69, 1e70, 1e71, 1e72, 1e73, 1e74, 1e75, 1e76, 1e77, 1e78, 1e79, 1e80,
    1e81, 1e82, 1e83, 1e84, 1e85, 1e86, 1e87, 1e88, 1e89, 1e90, 1e91, 1e92, 1e93, 1e94, 1e95, 1e96,
    1e97, 1e98, 1e99, 1e100, 1e101, 1e102, 1e103, 1e104, 1e105, 1e106, 1e107, 1e108, 1e109, 1e110,
    1e111, 1e112, 1e113, 1e114, 1e115, 1e116, 1e117, 1e118, 1e119, 1e120, 1e121, 1e122, 1e123,
    1e124, 1e125, 1e126, 1e127, 1e128, 1e129, 1e130, 1e131, 1e132, 1e133, 1e134, 1e135, 1e136,
    1e137, 1e138, 1e139, 1e140, 1e141, 1e142, 1e143, 1e144, 1e145, 1e146, 1e147, 1e148, 1e149,
    1e150, 1e151, 1e152, 1e153, 1e154, 1e155, 1e156, 1e157, 1e158, 1e159, 1e160, 1e161, 1e162,
    1e163, 1e164, 1e165, 1e166, 1e167, 1e168, 1e169, 1e170, 1e171, 1e172, 1e173, 1e174, 1e175,
    1e176, 1e177, 1e178, 1e179, 1e180, 1e181, 1e182, 1e183, 1e184, 1e185, 1e186, 1e187, 1e188,
    1e189, 1e190, 1e191, 1e192, 1e193, 1e194, 1e195, 1e196, 1e197, 1e198, 1e199, 1e200, 1e201,
    1e202, 1e203, 1e204, 1e205, 1e206, 1e207, 1e208, 1e209, 1e210, 1e211, 1e212, 1e213, 1e214,
    1e215, 1e216, 1e217, 1e218, 1e219, 1e220, 1e221, 1e222, 1e223, 1e224, 1e225, 1e226, 1e227,
    1e228, 1e229, 1e230, 1e231, 1e232, 1e233, 1e234, 1e235, 1e236, 1e237, 1e238, 1e239, 1e240,
    1e241, 1e242, 1e243, 1e244, 1e245, 1e246, 1e247, 1e248, 1e249, 1e250, 1e251, 1e252, 1e253,
    1e254, 1e255, 1e256, 1e257, 1e258, 1e259, 1e260, 1e261, 1e262, 1e263, 1e264, 1e265, 1e266,
    1e267, 1e268, 1e269, 1e270, 1e271, 1e272, 1e273, 1e274, 1e275, 1e276, 1e277, 1e278, 1e279,
    1e280, 1e281, 1e282, 1e283, 1e284, 1e285, 1e286, 1e287, 1e288, 1e289, 1e290, 1e291, 1e292,
    1e293, 1e294, 1e295, 1e296, 1e297, 1e298, 1e299, 1e300, 1e301, 1e302, 1e303, 1e304, 1e305,
    1e306, 1e307, 1e308,
];
