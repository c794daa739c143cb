//! The pattern syntax into a tree. The syntax, the refusals and their order are regex-lite 0.1's
//! (the engine the filter used before, itself a subset of RE2's syntax without Unicode classes),
//! for the pattern as the filter compiled it: `^(?:pattern)$`, so one level of nesting is spent
//! and an `(?x)` comment running to the end of the pattern would swallow the closing `)`. On top,
//! RE2's own limit on counted repetition (a product of counts above 1000 is refused, as Envoy's
//! RE2 refuses it).

use super::{Error, Reason};

/// Deepest nesting of groups and operators (regex-lite's default).
const NEST_LIMIT: u32 = 50;
/// RE2's `kMaxRepeat`: the counts of nested counted repetitions multiply to at most this.
const MAX_REPEAT: u32 = 1000;


/// A zero-width assertion, tested between the previous and the next character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Look {
    /// `^` (`\A`): the start of the value.
    Start,
    /// `$` (`\z`): the end of the value.
    End,
    /// `(?m)^`: after `\n` or at the start.
    StartLf,
    /// `(?m)$`: before `\n` or at the end.
    EndLf,
    /// `(?mR)^`: after `\n`, after `\r` not followed by `\n`, or at the start.
    StartCrlf,
    /// `(?mR)$`: before `\r`, before `\n` not preceded by `\r`, or at the end.
    EndCrlf,
    /// `\b`: an ASCII word character on one side only.
    Word,
    /// `\B`: on both sides or on neither.
    NotWord,
    /// `\<`, `\b{start}`.
    WordStart,
    /// `\>`, `\b{end}`.
    WordEnd,
    /// `\b{start-half}`: no word character before.
    WordStartHalf,
    /// `\b{end-half}`: no word character after.
    WordEndHalf,
}

/// A character class: sorted, disjoint, non-adjacent ranges (empty: matches nothing).
pub(super) type Ranges = Vec<(char, char)>;

/// The parsed pattern. `Repeat` keeps `{0}` and `{1}` (regex-lite drops them, which only the
/// nesting count sees) so that RE2's repetition limit sees every count.
#[derive(Debug)]
pub(super) enum Node {
    Empty,
    Char(char),
    Class(Ranges),
    Look(Look),
    Repeat {
        min: u32,
        max: Option<u32>,
        sub: Box<Node>,
    },
    /// A capturing group: no capture is kept, only its nesting counts.
    Group(Box<Node>),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
}

/// What an escape or a class item stands for.
enum Prim {
    Char(char),
    Class(Ranges),
    Look(Look),
}

impl Prim {
    fn into_node(self) -> Node {
        match self {
            Prim::Char(c) => Node::Char(c),
            Prim::Class(r) => Node::Class(r),
            Prim::Look(l) => Node::Look(l),
        }
    }
}

/// The inline flags in force, one bit each in the order of `FLAG_LETTERS`.
type Flags = u8;
/// `i m s U R x u`: `U` (swapped greed chooses among matches, which a full match does not) and
/// `u` (accepted and ignored, as regex-lite does: there are no Unicode classes) change nothing.
const FLAG_LETTERS: &[u8; 7] = b"imsURxu";
const CASE_INSENSITIVE: Flags = 1;
const MULTI_LINE: Flags = 1 << 1;
const DOT_ALL: Flags = 1 << 2;
const CRLF: Flags = 1 << 4;
const IGNORE_WHITESPACE: Flags = 1 << 5;

struct Parser<'a> {
    pattern: &'a str,
    pos: usize,
    depth: u32,
    flags: Flags,
    names: Vec<&'a str>,
    /// An `(?x)` comment ran to the end of the pattern: in `^(?:pattern)$` it would swallow `)$`.
    comment_to_end: bool,
}

/// The tree of `pattern`, or why it is refused.
pub(super) fn parse(pattern: &str) -> Result<Node, Error> {
    let mut p = Parser {
        pattern,
        pos: 0,
        // The filter's `^(?:` is the first level.
        depth: 1,
        flags: 0,
        names: Vec::new(),
        comment_to_end: false,
    };
    let node = p.parse_alternation(true)?;
    if p.comment_to_end {
        return Err(Error(Reason::UnclosedGroup));
    }
    check_nesting(&node, 1)?;
    if repeat_budget(&node, MAX_REPEAT) == 0 {
        return Err(Error(Reason::RepeatTooLarge));
    }
    Ok(node)
}

impl<'a> Parser<'a> {
    /// The current byte: the syntax is ASCII, so a byte of a multi-byte character (>= 0x80)
    /// never equals a syntax character.
    fn cur(&self) -> Option<u8> {
        self.pattern.as_bytes().get(self.pos).copied()
    }

    fn at(&self, b: u8) -> bool {
        self.cur() == Some(b)
    }

    /// The current character, where a literal or a name needs the whole of it.
    #[inline(never)]
    fn cur_char(&self) -> Option<char> {
        self.pattern.get(self.pos..)?.chars().next()
    }

    fn at_space(&self) -> bool {
        self.cur_char().is_some_and(char::is_whitespace)
    }

    fn is_done(&self) -> bool {
        self.pos >= self.pattern.len()
    }

    /// Where the character after the current one starts.
    fn next_pos(&self) -> usize {
        let bytes = self.pattern.as_bytes();
        let mut at = self.pos.saturating_add(1);
        while bytes.get(at).is_some_and(|&b| b & 0xC0 == 0x80) {
            at += 1;
        }
        at.min(bytes.len())
    }

    /// Past the current character; false when that leaves nothing.
    fn bump(&mut self) -> bool {
        self.pos = self.next_pos();
        !self.is_done()
    }

    fn bump_if(&mut self, prefix: &str) -> bool {
        let hit = self.pattern.as_bytes().get(self.pos..).is_some_and(|r| r.starts_with(prefix.as_bytes()));
        if hit {
            self.pos += prefix.len();
        }
        hit
    }

    #[inline(never)]
    fn bump_and_bump_space(&mut self) -> bool {
        if !self.bump() {
            return false;
        }
        self.bump_space();
        !self.is_done()
    }

    /// Under `(?x)`, past white space and `#` comments.
    #[inline(never)]
    fn bump_space(&mut self) {
        if !self.flag(IGNORE_WHITESPACE) {
            return;
        }
        loop {
            if self.at_space() {
                self.bump();
            } else if self.at(b'#') {
                self.bump();
                loop {
                    let Some(b) = self.cur() else {
                        self.comment_to_end = true;
                        break;
                    };
                    self.bump();
                    if b == b'\n' {
                        break;
                    }
                }
            } else {
                break;
            }
        }
    }

    /// The byte after the current character.
    fn peek(&self) -> Option<u8> {
        self.pattern.as_bytes().get(self.next_pos()).copied()
    }

    /// The character after the current one, past white space under `(?x)` (regex-lite's scan,
    /// which stops at the first other character even inside a comment), as `peek` does.
    fn peek_space(&self) -> Option<u8> {
        if !self.flag(IGNORE_WHITESPACE) {
            return self.peek();
        }
        let after = self.pattern.get(self.next_pos()..).unwrap_or_default();
        let mut in_comment = false;
        for c in after.chars() {
            if c.is_whitespace() {
                continue;
            } else if !in_comment && c == '#' {
                in_comment = true;
            } else {
                // Only compared with ASCII: any other character stands as a byte >= 0x80.
                return Some(u8::try_from(c).unwrap_or(0x80));
            }
        }
        // Nothing else: white space, `#` or the end, none of which the caller looks for.
        None
    }

    fn flag(&self, flag: Flags) -> bool {
        self.flags & flag != 0
    }

    fn parse_alternation(&mut self, top: bool) -> Result<Node, Error> {
        if self.depth > NEST_LIMIT {
            return Err(Error(Reason::Nesting));
        }
        self.depth += 1;
        let mut alternates = Vec::new();
        let mut concat = Vec::new();
        loop {
            self.bump_space();
            let Some(c) = self.cur() else { break };
            match c {
                b'(' => {
                    let outer = self.flags;
                    if let Some(sub) = self.parse_group()? {
                        concat.push(sub);
                        self.flags = outer;
                    }
                    if !self.at(b')') {
                        return Err(Error(Reason::UnclosedGroup));
                    }
                    self.bump();
                }
                b')' if top => return Err(Error(Reason::UnopenedGroup)),
                b')' => break,
                b'|' => {
                    alternates.push(concat_node(std::mem::take(&mut concat)));
                    self.bump();
                }
                b'[' => concat.push(Node::Class(self.parse_class()?)),
                b'?' | b'*' | b'+' | b'{' => self.parse_repetition(&mut concat)?,
                _ => concat.push(self.parse_primitive()?),
            }
        }
        self.depth -= 1;
        alternates.push(concat_node(concat));
        Ok(if alternates.len() == 1 {
            alternates.pop().unwrap_or(Node::Empty)
        } else {
            Node::Alt(alternates)
        })
    }

    #[inline(never)]
    fn parse_primitive(&mut self) -> Result<Node, Error> {
        let Some(c) = self.cur_char() else {
            return Err(Error(Reason::EscapeUnexpectedEof));
        };
        self.bump();
        let (plain, lf, crlf) = match c {
            '\\' => return Ok(self.parse_escape()?.into_node()),
            '.' => return Ok(Node::Class(self.dot())),
            '^' => (Look::Start, Look::StartLf, Look::StartCrlf),
            '$' => (Look::End, Look::EndLf, Look::EndCrlf),
            c => return Ok(self.literal(c).into_node()),
        };
        Ok(Node::Look(if !self.flag(MULTI_LINE) {
            plain
        } else if self.flag(CRLF) {
            crlf
        } else {
            lf
        }))
    }

    fn dot(&self) -> Ranges {
        let ranges: &[(char, char)] = if self.flag(DOT_ALL) {
            &[('\0', char::MAX)]
        } else if self.flag(CRLF) {
            &[('\0', '\x09'), ('\x0B', '\x0C'), ('\x0E', char::MAX)]
        } else {
            &[('\0', '\x09'), ('\x0B', char::MAX)]
        };
        ranges.to_vec()
    }

    /// A literal character, both cases of an ASCII letter under `(?i)`.
    fn literal(&self, c: char) -> Prim {
        if self.flag(CASE_INSENSITIVE) && c.is_ascii_alphabetic() {
            let (l, u) = (c.to_ascii_lowercase(), c.to_ascii_uppercase());
            return Prim::Class(vec![(u, u), (l, l)]);
        }
        Prim::Char(c)
    }

    /// After a `\`.
    #[inline(never)]
    fn parse_escape(&mut self) -> Result<Prim, Error> {
        let Some(c) = self.cur() else {
            return Err(Error(Reason::EscapeUnexpectedEof));
        };
        match c {
            b'0'..=b'9' => return Err(Error(Reason::BackrefUnsupported)),
            b'p' | b'P' => return Err(Error(Reason::UnicodeClassUnsupported)),
            b'x' | b'u' | b'U' => return self.parse_hex(c),
            b'd' | b's' | b'w' | b'D' | b'S' | b'W' => {
                self.bump();
                let name = match c | 0x20 {
                    b'd' => "digit",
                    b's' => "space",
                    _ => "word",
                };
                let mut class = posix_class(name).unwrap_or_default();
                if c.is_ascii_uppercase() {
                    class = negate(&class);
                }
                return Ok(Prim::Class(class));
            }
            _ => {}
        }
        // A multi-byte character is past whole, and refused below.
        self.bump();
        if is_escapable(c) {
            return Ok(self.literal(char::from(c)));
        }
        Ok(match c {
            b'a' => self.literal('\x07'),
            b'f' => self.literal('\x0C'),
            b't' => self.literal('\t'),
            b'n' => self.literal('\n'),
            b'r' => self.literal('\r'),
            b'v' => self.literal('\x0B'),
            b'A' => Prim::Look(Look::Start),
            b'z' => Prim::Look(Look::End),
            b'b' if self.at(b'{') => {
                Prim::Look(self.maybe_parse_special_word_boundary()?.unwrap_or(Look::Word))
            }
            b'b' => Prim::Look(Look::Word),
            b'B' => Prim::Look(Look::NotWord),
            b'<' => Prim::Look(Look::WordStart),
            b'>' => Prim::Look(Look::WordEnd),
            _ => return Err(Error(Reason::EscapeUnrecognized)),
        })
    }

    /// `\b{start}`, `\b{end}`, `\b{start-half}`, `\b{end-half}`; `None` (and back at `{`) when
    /// the brace is a counted repetition of `\b`.
    #[inline(never)]
    fn maybe_parse_special_word_boundary(&mut self) -> Result<Option<Look>, Error> {
        let valid = |p: &Self| p.cur().filter(|&b| b.is_ascii_alphabetic() || b == b'-');
        let start = self.pos;
        if !self.bump_and_bump_space() {
            return Err(Error(Reason::SpecialWordOrRepUnexpectedEof));
        }
        if valid(self).is_none() {
            self.pos = start;
            return Ok(None);
        }
        // The name's letters (white space between them is skipped under `(?x)`), one byte each
        // in `key` (none is 0, so different names of up to 16 letters have different keys).
        let mut key = 0u128;
        let mut len = 0;
        while let Some(b) = valid(self) {
            key = key << 8 | u128::from(b);
            len += 1;
            self.bump_and_bump_space();
        }
        if !self.at(b'}') {
            return Err(Error(Reason::SpecialWordBoundaryUnclosed));
        }
        self.bump();
        match (len <= 16).then_some(key) {
            Some(WORD_START) => Ok(Some(Look::WordStart)),
            Some(WORD_END) => Ok(Some(Look::WordEnd)),
            Some(WORD_START_HALF) => Ok(Some(Look::WordStartHalf)),
            Some(WORD_END_HALF) => Ok(Some(Look::WordEndHalf)),
            _ => Err(Error(Reason::SpecialWordBoundaryUnrecognized)),
        }
    }

    /// `\xNN`, `\uNNNN`, `\UNNNNNNNN` or any of them with `{hex}`; at the `x`, `u` or `U`.
    #[inline(never)]
    fn parse_hex(&mut self, kind: u8) -> Result<Prim, Error> {
        let digits = match kind {
            b'x' => 2,
            b'u' => 4,
            _ => 8,
        };
        if !self.bump_and_bump_space() {
            return Err(Error(Reason::HexUnexpectedEof));
        }
        let braced = self.at(b'{');
        let mut value: Option<u32> = Some(0);
        let mut count = 0;
        loop {
            // Braced: up to `}`. Fixed: exactly `digits` digits (8 at most, so no overflow).
            if braced {
                if !self.bump_and_bump_space() || self.at(b'}') {
                    break;
                }
            } else if count == digits {
                break;
            } else if count > 0 && !self.bump_and_bump_space() {
                return Err(Error(Reason::HexFixedUnexpectedEof));
            }
            let Some(d) = self.cur().and_then(|b| char::from(b).to_digit(16)) else {
                return Err(Error(if braced {
                    Reason::HexBraceInvalidDigit
                } else {
                    Reason::HexFixedInvalidDigit
                }));
            };
            count += 1;
            value = value.and_then(|v| v.checked_mul(16)?.checked_add(d));
        }
        if braced && self.is_done() {
            return Err(Error(Reason::HexBraceUnexpectedEof));
        }
        self.bump_and_bump_space();
        if braced && count == 0 {
            return Err(Error(Reason::HexBraceEmpty));
        }
        let value = value.and_then(char::from_u32).ok_or(Error(if braced {
            Reason::HexBraceInvalid
        } else {
            Reason::HexFixedInvalid
        }))?;
        Ok(self.literal(value))
    }

    /// Decimal digits, white space around them allowed.
    fn parse_decimal(&mut self) -> Result<u32, Error> {
        while self.at_space() {
            self.bump();
        }
        let mut value: Option<u32> = Some(0);
        let mut count = 0;
        while let Some(b) = self.cur().filter(u8::is_ascii_digit) {
            count += 1;
            value = value.and_then(|v| v.checked_mul(10)?.checked_add(u32::from(b - b'0')));
            self.bump_and_bump_space();
        }
        while self.at_space() {
            self.bump_and_bump_space();
        }
        if count == 0 {
            return Err(Error(Reason::DecimalNoDigits));
        }
        value.ok_or(Error(Reason::DecimalInvalid))
    }

    /// `?`, `*`, `+`, `{n}`, `{n,}`, `{n,m}` (and their lazy forms) on the last item of `concat`.
    #[inline(never)]
    fn parse_repetition(&mut self, concat: &mut Vec<Node>) -> Result<(), Error> {
        let counted = self.at(b'{');
        let Some(sub) = concat.pop() else {
            return Err(Error(if counted {
                Reason::CountedRepSubMissing
            } else {
                Reason::UncountedRepSubMissing
            }));
        };
        let (min, max) = if counted {
            self.parse_counts()?
        } else {
            let counts = match self.cur() {
                Some(b'?') => (0, Some(1)),
                Some(b'*') => (0, None),
                _ => (1, None),
            };
            self.bump();
            counts
        };
        // Greedy or lazy chooses among matches; a full match only asks whether there is one.
        // (After `}` white space is skipped under `(?x)`, as regex-lite does; not after `*`.)
        if !self.is_done() && self.at(b'?') {
            self.bump();
        }
        if max.is_some_and(|max| min > max) {
            return Err(Error(Reason::CountedRepInvalidRange));
        }
        concat.push(Node::Repeat {
            min,
            max,
            sub: Box::new(sub),
        });
        Ok(())
    }

    /// At `{`: the counts of `{n}`, `{n,}`, `{n,m}`, past the `}` and any white space after it.
    fn parse_counts(&mut self) -> Result<(u32, Option<u32>), Error> {
        if !self.bump_and_bump_space() {
            return Err(Error(Reason::CountedRepUnclosed));
        }
        let min = self.parse_decimal()?;
        let mut max = Some(min);
        if self.is_done() {
            return Err(Error(Reason::CountedRepMinUnclosed));
        }
        if self.at(b',') {
            if !self.bump_and_bump_space() {
                return Err(Error(Reason::CountedRepCommaUnclosed));
            }
            max = if !self.at(b'}') {
                Some(self.parse_decimal()?)
            } else {
                None
            };
            if self.is_done() {
                return Err(Error(Reason::CountedRepMinMaxUnclosed));
            }
        }
        if !self.at(b'}') {
            return Err(Error(Reason::CountedRepInvalid));
        }
        self.bump_and_bump_space();
        Ok((min, max))
    }

    /// At `(`: a group, or `None` for a flag directive such as `(?i)` (whose flags then stay
    /// until the enclosing group ends).
    #[inline(never)]
    fn parse_group(&mut self) -> Result<Option<Node>, Error> {
        self.bump_and_bump_space();
        if self.bump_if("?=") || self.bump_if("?!") || self.bump_if("?<=") || self.bump_if("?<!") {
            return Err(Error(Reason::LookUnsupported));
        }
        if self.bump_if("?P<") || self.bump_if("?<") {
            self.parse_capture_name()?;
            let sub = self.parse_alternation(false)?;
            return Ok(Some(Node::Group(Box::new(sub))));
        }
        if !self.bump_if("?") {
            let sub = self.parse_alternation(false)?;
            return Ok(Some(Node::Group(Box::new(sub))));
        }
        if self.is_done() {
            return Err(Error(Reason::UnclosedGroupQuestion));
        }
        let start = self.pos;
        self.flags = self.parse_flags()?;
        if self.at(b')') {
            if self.pos == start {
                return Err(Error(Reason::EmptyFlags));
            }
            return Ok(None);
        }
        // At `:`.
        self.bump();
        self.parse_alternation(false).map(Some)
    }

    /// After `(?P<` or `(?<`, up to and past `>`.
    #[inline(never)]
    fn parse_capture_name(&mut self) -> Result<(), Error> {
        if self.is_done() {
            return Err(Error(Reason::MissingGroupName));
        }
        let start = self.pos;
        while let Some(c) = self.cur_char() {
            if c == '>' {
                break;
            }
            let valid = if self.pos == start {
                c == '_' || c.is_alphabetic()
            } else {
                c == '_' || c == '.' || c == '[' || c == ']' || c.is_alphanumeric()
            };
            if !valid {
                return Err(Error(Reason::InvalidGroupName));
            }
            self.bump();
        }
        let end = self.pos;
        if self.is_done() {
            return Err(Error(Reason::UnclosedGroupName));
        }
        self.bump();
        let name = self.pattern.get(start..end).unwrap_or_default();
        if name.is_empty() {
            return Err(Error(Reason::EmptyGroupName));
        }
        if self.names.contains(&name) {
            return Err(Error(Reason::DuplicateName));
        }
        self.names.push(name);
        Ok(())
    }

    /// The flags of `(?flags)` or `(?flags:`, up to the `)` or `:`.
    #[inline(never)]
    fn parse_flags(&mut self) -> Result<Flags, Error> {
        let mut flags = self.flags;
        let mut negate = false;
        let mut last_was_negation = false;
        let mut seen: Flags = 0;
        while let Some(c) = self.cur().filter(|&c| c != b':' && c != b')') {
            if c == b'-' {
                last_was_negation = true;
                if negate {
                    return Err(Error(Reason::FlagRepeatedNegation));
                }
                negate = true;
            } else {
                last_was_negation = false;
                let Some(bit) = FLAG_LETTERS.iter().position(|&f| f == c).map(|i| 1 << i) else {
                    return Err(Error(Reason::FlagUnrecognized));
                };
                if seen & bit != 0 {
                    return Err(Error(Reason::FlagDuplicate));
                }
                seen |= bit;
                if negate {
                    flags &= !bit;
                } else {
                    flags |= bit;
                }
            }
            if !self.bump() {
                return Err(Error(Reason::FlagUnexpectedEof));
            }
        }
        if last_was_negation {
            return Err(Error(Reason::FlagDanglingNegation));
        }
        Ok(flags)
    }

    /// At `[`: a bracketed class.
    // Out of line: one large parser function costs TurboFan more than its parts.
    #[inline(never)]
    fn parse_class(&mut self) -> Result<Ranges, Error> {
        let mut union: Ranges = Vec::new();
        if !self.bump_and_bump_space() {
            return Err(Error(Reason::ClassUnclosed));
        }
        let negated = self.at(b'^');
        if negated && !self.bump_and_bump_space() {
            return Err(Error(Reason::ClassUnclosedAfterNegation));
        }
        // Leading `-` are literal.
        while self.at(b'-') {
            union.push(('-', '-'));
            if !self.bump_and_bump_space() {
                return Err(Error(Reason::ClassUnclosedAfterDash));
            }
        }
        // A `]` first is literal: an empty class cannot be written.
        if union.is_empty() && self.at(b']') {
            union.push((']', ']'));
            if !self.bump_and_bump_space() {
                return Err(Error(Reason::ClassUnclosedAfterClosing));
            }
        }
        loop {
            self.bump_space();
            let Some(c) = self.cur() else {
                return Err(Error(Reason::ClassUnclosed));
            };
            match c {
                b'[' => {
                    let Some(class) = self.maybe_parse_posix_class() else {
                        return Err(Error(Reason::ClassNestUnsupported));
                    };
                    union.extend(class);
                }
                b']' => {
                    self.bump();
                    let mut class = canonical(union);
                    // Folded before negation: `(?i)[^x]` excludes `X` too.
                    if self.flag(CASE_INSENSITIVE) {
                        class = ascii_case_fold(class);
                    }
                    if negated {
                        class = negate(&class);
                    }
                    return Ok(class);
                }
                b'&' | b'-' | b'~' if self.peek() == Some(c) => {
                    return Err(Error(Reason::ClassSetOperationUnsupported))
                }
                _ => self.parse_class_range(&mut union)?,
            }
        }
    }

    /// One item of a class: a character, a range `a-z` or an escaped class such as `\d`.
    #[inline(never)]
    fn parse_class_range(&mut self, union: &mut Ranges) -> Result<(), Error> {
        let first = self.parse_class_item()?;
        self.bump_space();
        if self.is_done() {
            return Err(Error(Reason::ClassUnclosedAfterItem));
        }
        if !self.at(b'-') || matches!(self.peek_space(), Some(b']' | b'-')) {
            match first {
                Prim::Char(c) => union.push((c, c)),
                Prim::Class(r) => union.extend(r),
                Prim::Look(_) => return Err(Error(Reason::ClassInvalidItem)),
            }
            return Ok(());
        }
        if !self.bump_and_bump_space() {
            return Err(Error(Reason::ClassUnclosedAfterDash));
        }
        let last = self.parse_class_item()?;
        let (Prim::Char(start), Prim::Char(end)) = (first, last) else {
            return Err(Error(Reason::ClassInvalidRangeItem));
        };
        if start > end {
            return Err(Error(Reason::ClassInvalidRange));
        }
        union.push((start, end));
        Ok(())
    }

    #[inline(never)]
    fn parse_class_item(&mut self) -> Result<Prim, Error> {
        let Some(c) = self.cur_char() else {
            return Err(Error(Reason::ClassUnclosed));
        };
        self.bump();
        if c == '\\' {
            self.parse_escape()
        } else {
            Ok(Prim::Char(c))
        }
    }

    /// At `[` inside a class: `[:name:]` or `[:^name:]`, else `None` and back at `[`.
    #[inline(never)]
    fn maybe_parse_posix_class(&mut self) -> Option<Ranges> {
        let start = self.pos;
        let class = self.posix_class_at_bracket();
        if class.is_none() {
            self.pos = start;
        }
        class
    }

    fn posix_class_at_bracket(&mut self) -> Option<Ranges> {
        if !self.bump() || !self.at(b':') || !self.bump() {
            return None;
        }
        let negated = self.at(b'^');
        if negated && !self.bump() {
            return None;
        }
        let name_start = self.pos;
        while !self.at(b':') && self.bump() {}
        if self.is_done() {
            return None;
        }
        let name = self.pattern.get(name_start..self.pos)?;
        if !self.bump_if(":]") {
            return None;
        }
        let class = posix_class(name)?;
        Some(if negated { negate(&class) } else { class })
    }
}

/// The names of `\b{start}`, `\b{end}`, `\b{start-half}` and `\b{end-half}` as
/// `maybe_parse_special_word_boundary` keys them.
const WORD_START: u128 = word_key(b"start");
const WORD_END: u128 = word_key(b"end");
const WORD_START_HALF: u128 = word_key(b"start-half");
const WORD_END_HALF: u128 = word_key(b"end-half");

const fn word_key(mut name: &[u8]) -> u128 {
    let mut key = 0u128;
    while let [b, rest @ ..] = name {
        key = key << 8 | *b as u128;
        name = rest;
    }
    key
}

/// Characters a `\` makes literal: ASCII punctuation, space and controls, except `<` and `>`
/// (`\<`, `\>` are word boundaries).
fn is_escapable(b: u8) -> bool {
    b.is_ascii() && !b.is_ascii_alphanumeric() && b != b'<' && b != b'>'
}

/// The ASCII classes by name, each as canonical ranges.
const POSIX_CLASSES: [(u64, &[(char, char)]); 14] = [
    (name_key(b"alnum"), &[('0', '9'), ('A', 'Z'), ('a', 'z')]),
    (name_key(b"alpha"), &[('A', 'Z'), ('a', 'z')]),
    (name_key(b"ascii"), &[('\0', '\x7F')]),
    (name_key(b"blank"), &[('\t', '\t'), (' ', ' ')]),
    (name_key(b"cntrl"), &[('\0', '\x1F'), ('\x7F', '\x7F')]),
    (name_key(b"digit"), &[('0', '9')]),
    (name_key(b"graph"), &[('!', '~')]),
    (name_key(b"lower"), &[('a', 'z')]),
    (name_key(b"print"), &[(' ', '~')]),
    (name_key(b"punct"), &[('!', '/'), (':', '@'), ('[', '`'), ('{', '~')]),
    (name_key(b"space"), &[('\t', '\r'), (' ', ' ')]),
    (name_key(b"upper"), &[('A', 'Z')]),
    (name_key(b"word"), &[('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')]),
    (name_key(b"xdigit"), &[('0', '9'), ('A', 'F'), ('a', 'f')]),
];

/// A name as a number in bijective base 257 (each byte a digit 1 to 256), so that different
/// names have different keys; `u64::MAX` (no class's key) for names longer than any class's.
const fn name_key(mut name: &[u8]) -> u64 {
    let mut key = 0u64;
    let mut len = 0;
    while let [b, rest @ ..] = name {
        if len == 6 {
            return u64::MAX;
        }
        key = key * 257 + *b as u64 + 1;
        len += 1;
        name = rest;
    }
    key
}

fn posix_class(name: &str) -> Option<Ranges> {
    let key = name_key(name.as_bytes());
    let (_, ranges) = POSIX_CLASSES.iter().find(|(k, _)| *k == key)?;
    Some(ranges.to_vec())
}

/// Sorted, with overlapping and adjacent ranges merged.
pub(super) fn canonical(mut ranges: Ranges) -> Ranges {
    // An insertion sort: classes are short, and the standard sorts would add 8 KB of code.
    for i in 1..ranges.len() {
        let mut j = i;
        while j > 0 && ranges.get(j - 1) > ranges.get(j) {
            ranges.swap(j - 1, j);
            j -= 1;
        }
    }
    let mut out: Ranges = Vec::with_capacity(ranges.len());
    for (s, e) in ranges {
        match out.last_mut() {
            Some(last) if u32::from(s) <= u32::from(last.1).saturating_add(1) => {
                last.1 = last.1.max(e);
            }
            _ => out.push((s, e)),
        }
    }
    out
}

/// Every character the class does not hold.
pub(super) fn negate(class: &[(char, char)]) -> Ranges {
    let mut out = Vec::with_capacity(class.len() + 1);
    let mut from = Some('\0');
    for &(s, e) in class {
        if let (Some(f), Some(p)) = (from, prev_char(s)) {
            if f <= p {
                out.push((f, p));
            }
        }
        from = next_char(e);
    }
    if let Some(f) = from {
        out.push((f, char::MAX));
    }
    out
}

fn next_char(c: char) -> Option<char> {
    match c {
        '\u{D7FF}' => Some('\u{E000}'),
        c => char::from_u32(u32::from(c) + 1),
    }
}

fn prev_char(c: char) -> Option<char> {
    match c {
        '\u{E000}' => Some('\u{D7FF}'),
        c => char::from_u32(u32::from(c).checked_sub(1)?),
    }
}

/// regex-lite's ASCII case folding of a class: each range's part in `a-z` adds its upper case,
/// or else its part in `A-Z` its lower case.
fn ascii_case_fold(mut class: Ranges) -> Ranges {
    for i in 0..class.len() {
        let Some(&(s, e)) = class.get(i) else { break };
        for (lo, hi) in [('a', 'z'), ('A', 'Z')] {
            let (s, e) = (s.max(lo), e.min(hi));
            if s <= e {
                // Both ends are ASCII letters, whose case is bit 5.
                class.push((char::from(s as u8 ^ 0x20), char::from(e as u8 ^ 0x20)));
                break;
            }
        }
    }
    canonical(class)
}

fn concat_node(mut items: Vec<Node>) -> Node {
    match items.len() {
        0 => Node::Empty,
        1 => items.pop().unwrap_or(Node::Empty),
        _ => Node::Concat(items),
    }
}

/// regex-lite's check of the tree's depth, where `{0}` is empty and `{1}` its operand.
fn check_nesting(node: &Node, depth: u32) -> Result<(), Error> {
    if depth > NEST_LIMIT {
        return Err(Error(Reason::Nesting));
    }
    match node {
        Node::Empty | Node::Char(_) | Node::Class(_) | Node::Look(_) => Ok(()),
        Node::Repeat {
            min: 0,
            max: Some(0),
            ..
        } => Ok(()),
        Node::Repeat {
            min: 1,
            max: Some(1),
            sub,
        } => check_nesting(sub, depth),
        Node::Repeat { sub, .. } | Node::Group(sub) => check_nesting(sub, depth + 1),
        Node::Concat(items) | Node::Alt(items) => {
            items.iter().try_for_each(|n| check_nesting(n, depth + 1))
        }
    }
}

/// RE2's RepetitionWalker: `budget` divided by the count (max, or min when unbounded) of each
/// counted repetition on the way down; 0 somewhere means refused.
fn repeat_budget(node: &Node, budget: u32) -> u32 {
    match node {
        Node::Repeat { min, max, sub } => {
            let m = max.unwrap_or(*min);
            let budget = budget.checked_div(m).unwrap_or(budget);
            if budget == 0 {
                return 0;
            }
            repeat_budget(sub, budget)
        }
        Node::Group(sub) => repeat_budget(sub, budget),
        Node::Concat(items) | Node::Alt(items) => {
            items.iter().map(|n| repeat_budget(n, budget)).min().unwrap_or(budget)
        }
        _ => budget,
    }
}
