//! The pattern syntax into a tree. The syntax, the refusals and their order are regex-lite 0.1's
//! (the engine the filter used before, itself a subset of RE2's syntax without Unicode classes),
//! for the pattern as the filter compiled it: `^(?:pattern)$`, so one level of nesting is spent
//! and an `(?x)` comment running to the end of the pattern would swallow the closing `)`. On top,
//! RE2's own limit on counted repetition (a product of counts above 1000 is refused, as Envoy's
//! RE2 refuses it).

use super::Error;

/// Deepest nesting of groups and operators (regex-lite's default).
const NEST_LIMIT: u32 = 50;
/// RE2's `kMaxRepeat`: the counts of nested counted repetitions multiply to at most this.
const MAX_REPEAT: u32 = 1000;

pub(super) const ERR_NESTING: &str = "pattern has too much nesting";
const ERR_DUPLICATE_NAME: &str = "duplicate capture group name";
const ERR_UNCLOSED_GROUP: &str = "found open group without closing ')'";
const ERR_UNCLOSED_GROUP_QUESTION: &str = "expected closing ')', but got end of pattern";
const ERR_UNOPENED_GROUP: &str = "found closing ')' without matching '('";
const ERR_LOOK_UNSUPPORTED: &str = "look-around is not supported";
const ERR_EMPTY_FLAGS: &str = "empty flag directive '(?)' is not allowed";
const ERR_MISSING_GROUP_NAME: &str = "expected capture group name, but got end of pattern";
const ERR_INVALID_GROUP_NAME: &str = "invalid group name";
const ERR_UNCLOSED_GROUP_NAME: &str = "expected end of capture group name, but got end of pattern";
const ERR_EMPTY_GROUP_NAME: &str = "empty capture group names are not allowed";
const ERR_FLAG_UNRECOGNIZED: &str = "unrecognized inline flag";
const ERR_FLAG_REPEATED_NEGATION: &str = "inline flag negation cannot be repeated";
const ERR_FLAG_DUPLICATE: &str = "duplicate inline flag is not allowed";
const ERR_FLAG_UNEXPECTED_EOF: &str = "expected ':' or ')' to end inline flags, but got end of pattern";
const ERR_FLAG_DANGLING_NEGATION: &str = "inline flags cannot end with negation directive";
const ERR_DECIMAL_NO_DIGITS: &str = "expected decimal number, but found no digits";
const ERR_DECIMAL_INVALID: &str = "got invalid decimal number";
const ERR_HEX_BRACE_INVALID_DIGIT: &str = "expected hexadecimal number in braces, but got non-hex digit";
const ERR_HEX_BRACE_UNEXPECTED_EOF: &str =
    "expected hexadecimal number, but saw end of pattern before closing brace";
const ERR_HEX_BRACE_EMPTY: &str = "expected hexadecimal number in braces, but got no digits";
const ERR_HEX_BRACE_INVALID: &str = "got invalid hexadecimal number in braces";
const ERR_HEX_FIXED_UNEXPECTED_EOF: &str =
    "expected fixed length hexadecimal number, but saw end of pattern first";
const ERR_HEX_FIXED_INVALID_DIGIT: &str = "expected fixed length hexadecimal number, but got non-hex digit";
const ERR_HEX_FIXED_INVALID: &str = "got invalid fixed length hexadecimal number";
const ERR_HEX_UNEXPECTED_EOF: &str = "expected hexadecimal number, but saw end of pattern first";
const ERR_ESCAPE_UNEXPECTED_EOF: &str =
    "saw start of escape sequence, but saw end of pattern before it finished";
const ERR_BACKREF_UNSUPPORTED: &str = "backreferences are not supported";
const ERR_UNICODE_CLASS_UNSUPPORTED: &str = "Unicode character classes are not supported";
const ERR_ESCAPE_UNRECOGNIZED: &str = "unrecognized escape sequence";
const ERR_UNCOUNTED_REP_SUB_MISSING: &str =
    "uncounted repetition operator must be applied to a sub-expression";
const ERR_COUNTED_REP_SUB_MISSING: &str =
    "counted repetition operator must be applied to a sub-expression";
const ERR_COUNTED_REP_UNCLOSED: &str = "found unclosed counted repetition operator";
const ERR_COUNTED_REP_MIN_UNCLOSED: &str = "found incomplete and unclosed counted repetition operator";
const ERR_COUNTED_REP_COMMA_UNCLOSED: &str =
    "found counted repetition operator with a comma that is unclosed";
const ERR_COUNTED_REP_MIN_MAX_UNCLOSED: &str = "found counted repetition with min and max that is unclosed";
const ERR_COUNTED_REP_INVALID: &str = "expected closing brace for counted repetition, but got something else";
const ERR_COUNTED_REP_INVALID_RANGE: &str = "found counted repetition with a min bigger than its max";
const ERR_REPEAT_TOO_LARGE: &str = "counted repetitions multiply to more than 1000 (RE2's limit)";
const ERR_CLASS_UNCLOSED_AFTER_ITEM: &str = "non-empty character class has no closing bracket";
const ERR_CLASS_INVALID_RANGE_ITEM: &str = "character class ranges must start and end with a single character";
const ERR_CLASS_INVALID_ITEM: &str = "invalid escape sequence in character class";
const ERR_CLASS_UNCLOSED_AFTER_DASH: &str = "non-empty character class has no closing bracket after dash";
const ERR_CLASS_UNCLOSED_AFTER_NEGATION: &str = "negated character class has no closing bracket";
const ERR_CLASS_UNCLOSED_AFTER_CLOSING: &str =
    "character class begins with literal ']' but has no closing bracket";
const ERR_CLASS_INVALID_RANGE: &str = "invalid range in character class";
const ERR_CLASS_UNCLOSED: &str = "found unclosed character class";
const ERR_CLASS_NEST_UNSUPPORTED: &str = "nested character classes are not supported";
const ERR_CLASS_SET_OPERATION_UNSUPPORTED: &str =
    "character class intersection, difference and symmetric difference are not supported";
const ERR_SPECIAL_WORD_BOUNDARY_UNCLOSED: &str =
    "special word boundary assertion is unclosed or has an invalid character";
const ERR_SPECIAL_WORD_BOUNDARY_UNRECOGNIZED: &str = "special word boundary assertion is unrecognized";
const ERR_SPECIAL_WORD_OR_REP_UNEXPECTED_EOF: &str =
    "found start of special word boundary or repetition without an end";

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

#[derive(Clone, Copy, Default)]
struct Flags {
    case_insensitive: bool,
    multi_line: bool,
    dot_all: bool,
    crlf: bool,
    ignore_whitespace: bool,
}

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
        flags: Flags::default(),
        names: Vec::new(),
        comment_to_end: false,
    };
    let node = p.parse_alternation(true)?;
    if p.comment_to_end {
        return Err(Error(ERR_UNCLOSED_GROUP));
    }
    check_nesting(&node, 1)?;
    if repeat_budget(&node, MAX_REPEAT) == 0 {
        return Err(Error(ERR_REPEAT_TOO_LARGE));
    }
    Ok(node)
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        self.pattern.get(self.pos..).unwrap_or_default()
    }

    fn cur(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn is_done(&self) -> bool {
        self.pos >= self.pattern.len()
    }

    /// Past the current character; false when that leaves nothing.
    fn bump(&mut self) -> bool {
        if let Some(c) = self.cur() {
            self.pos += c.len_utf8();
        }
        !self.is_done()
    }

    fn bump_if(&mut self, prefix: &str) -> bool {
        let hit = self.rest().starts_with(prefix);
        if hit {
            self.pos += prefix.len();
        }
        hit
    }

    fn bump_and_bump_space(&mut self) -> bool {
        if !self.bump() {
            return false;
        }
        self.bump_space();
        !self.is_done()
    }

    /// Under `(?x)`, past white space and `#` comments.
    fn bump_space(&mut self) {
        if !self.flags.ignore_whitespace {
            return;
        }
        while let Some(c) = self.cur() {
            if c.is_whitespace() {
                self.bump();
            } else if c == '#' {
                self.bump();
                loop {
                    let Some(c) = self.cur() else {
                        self.comment_to_end = true;
                        break;
                    };
                    self.bump();
                    if c == '\n' {
                        break;
                    }
                }
            } else {
                break;
            }
        }
    }

    /// The character after the current one.
    fn peek(&self) -> Option<char> {
        let mut chars = self.rest().chars();
        chars.next();
        chars.next()
    }

    /// The character after the current one, past white space under `(?x)` (regex-lite's scan,
    /// which stops at the first other character even inside a comment).
    fn peek_space(&self) -> Option<char> {
        if !self.flags.ignore_whitespace {
            return self.peek();
        }
        let mut chars = self.rest().chars();
        chars.next();
        let after = chars.as_str();
        let mut in_comment = false;
        for c in after.chars() {
            if c.is_whitespace() {
                continue;
            } else if !in_comment && c == '#' {
                in_comment = true;
            } else {
                return Some(c);
            }
        }
        after.chars().next()
    }

    fn parse_alternation(&mut self, top: bool) -> Result<Node, Error> {
        if self.depth > NEST_LIMIT {
            return Err(Error(ERR_NESTING));
        }
        self.depth += 1;
        let mut alternates = Vec::new();
        let mut concat = Vec::new();
        loop {
            self.bump_space();
            let Some(c) = self.cur() else { break };
            match c {
                '(' => {
                    let outer = self.flags;
                    if let Some(sub) = self.parse_group()? {
                        concat.push(sub);
                        self.flags = outer;
                    }
                    if self.cur() != Some(')') {
                        return Err(Error(ERR_UNCLOSED_GROUP));
                    }
                    self.bump();
                }
                ')' if top => return Err(Error(ERR_UNOPENED_GROUP)),
                ')' => break,
                '|' => {
                    alternates.push(concat_node(std::mem::take(&mut concat)));
                    self.bump();
                }
                '[' => concat.push(Node::Class(self.parse_class()?)),
                '?' | '*' | '+' => self.parse_uncounted_repetition(&mut concat)?,
                '{' => self.parse_counted_repetition(&mut concat)?,
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

    fn parse_primitive(&mut self) -> Result<Node, Error> {
        let Some(c) = self.cur() else {
            return Err(Error(ERR_ESCAPE_UNEXPECTED_EOF));
        };
        self.bump();
        Ok(match c {
            '\\' => self.parse_escape()?.into_node(),
            '.' => Node::Class(self.dot()),
            '^' => Node::Look(match (self.flags.multi_line, self.flags.crlf) {
                (false, _) => Look::Start,
                (true, false) => Look::StartLf,
                (true, true) => Look::StartCrlf,
            }),
            '$' => Node::Look(match (self.flags.multi_line, self.flags.crlf) {
                (false, _) => Look::End,
                (true, false) => Look::EndLf,
                (true, true) => Look::EndCrlf,
            }),
            c => self.literal(c).into_node(),
        })
    }

    fn dot(&self) -> Ranges {
        if self.flags.dot_all {
            vec![('\0', char::MAX)]
        } else if self.flags.crlf {
            vec![('\0', '\x09'), ('\x0B', '\x0C'), ('\x0E', char::MAX)]
        } else {
            vec![('\0', '\x09'), ('\x0B', char::MAX)]
        }
    }

    /// A literal character, both cases of an ASCII letter under `(?i)`.
    fn literal(&self, c: char) -> Prim {
        if self.flags.case_insensitive && c.is_ascii_alphabetic() {
            let (l, u) = (c.to_ascii_lowercase(), c.to_ascii_uppercase());
            return Prim::Class(vec![(u, u), (l, l)]);
        }
        Prim::Char(c)
    }

    /// After a `\`.
    fn parse_escape(&mut self) -> Result<Prim, Error> {
        let Some(c) = self.cur() else {
            return Err(Error(ERR_ESCAPE_UNEXPECTED_EOF));
        };
        match c {
            '0'..='9' => return Err(Error(ERR_BACKREF_UNSUPPORTED)),
            'p' | 'P' => return Err(Error(ERR_UNICODE_CLASS_UNSUPPORTED)),
            'x' | 'u' | 'U' => return self.parse_hex(c),
            'd' | 's' | 'w' | 'D' | 'S' | 'W' => {
                self.bump();
                let name = match c.to_ascii_lowercase() {
                    'd' => "digit",
                    's' => "space",
                    _ => "word",
                };
                let mut class = canonical(posix_class(name).unwrap_or_default());
                if c.is_ascii_uppercase() {
                    class = negate(&class);
                }
                return Ok(Prim::Class(class));
            }
            _ => {}
        }
        self.bump();
        if is_escapable(c) {
            return Ok(self.literal(c));
        }
        Ok(match c {
            'a' => self.literal('\x07'),
            'f' => self.literal('\x0C'),
            't' => self.literal('\t'),
            'n' => self.literal('\n'),
            'r' => self.literal('\r'),
            'v' => self.literal('\x0B'),
            'A' => Prim::Look(Look::Start),
            'z' => Prim::Look(Look::End),
            'b' if self.cur() == Some('{') => {
                Prim::Look(self.maybe_parse_special_word_boundary()?.unwrap_or(Look::Word))
            }
            'b' => Prim::Look(Look::Word),
            'B' => Prim::Look(Look::NotWord),
            '<' => Prim::Look(Look::WordStart),
            '>' => Prim::Look(Look::WordEnd),
            _ => return Err(Error(ERR_ESCAPE_UNRECOGNIZED)),
        })
    }

    /// `\b{start}`, `\b{end}`, `\b{start-half}`, `\b{end-half}`; `None` (and back at `{`) when
    /// the brace is a counted repetition of `\b`.
    fn maybe_parse_special_word_boundary(&mut self) -> Result<Option<Look>, Error> {
        let is_valid = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphabetic() || c == '-');
        let start = self.pos;
        if !self.bump_and_bump_space() {
            return Err(Error(ERR_SPECIAL_WORD_OR_REP_UNEXPECTED_EOF));
        }
        if !is_valid(self.cur()) {
            self.pos = start;
            return Ok(None);
        }
        let mut name = String::new();
        while let Some(c) = self.cur().filter(|&c| is_valid(Some(c))) {
            name.push(c);
            self.bump_and_bump_space();
        }
        if self.cur() != Some('}') {
            return Err(Error(ERR_SPECIAL_WORD_BOUNDARY_UNCLOSED));
        }
        self.bump();
        match name.as_str() {
            "start" => Ok(Some(Look::WordStart)),
            "end" => Ok(Some(Look::WordEnd)),
            "start-half" => Ok(Some(Look::WordStartHalf)),
            "end-half" => Ok(Some(Look::WordEndHalf)),
            _ => Err(Error(ERR_SPECIAL_WORD_BOUNDARY_UNRECOGNIZED)),
        }
    }

    /// `\xNN`, `\uNNNN`, `\UNNNNNNNN` or any of them with `{hex}`; at the `x`, `u` or `U`.
    #[inline(never)]
    fn parse_hex(&mut self, kind: char) -> Result<Prim, Error> {
        let digits = match kind {
            'x' => 2,
            'u' => 4,
            _ => 8,
        };
        if !self.bump_and_bump_space() {
            return Err(Error(ERR_HEX_UNEXPECTED_EOF));
        }
        let hex = |p: &Self| p.cur().and_then(|c| c.to_digit(16));
        let value = if self.cur() == Some('{') {
            let mut value: Option<u32> = Some(0);
            let mut count = 0;
            while self.bump_and_bump_space() && self.cur() != Some('}') {
                let Some(d) = hex(self) else {
                    return Err(Error(ERR_HEX_BRACE_INVALID_DIGIT));
                };
                count += 1;
                value = value.and_then(|v| v.checked_mul(16)?.checked_add(d));
            }
            if self.is_done() {
                return Err(Error(ERR_HEX_BRACE_UNEXPECTED_EOF));
            }
            self.bump_and_bump_space();
            if count == 0 {
                return Err(Error(ERR_HEX_BRACE_EMPTY));
            }
            value.and_then(char::from_u32).ok_or(Error(ERR_HEX_BRACE_INVALID))?
        } else {
            let mut value = 0u32;
            for i in 0..digits {
                if i > 0 && !self.bump_and_bump_space() {
                    return Err(Error(ERR_HEX_FIXED_UNEXPECTED_EOF));
                }
                let Some(d) = hex(self) else {
                    return Err(Error(ERR_HEX_FIXED_INVALID_DIGIT));
                };
                value = value.wrapping_mul(16).wrapping_add(d);
            }
            self.bump_and_bump_space();
            char::from_u32(value).ok_or(Error(ERR_HEX_FIXED_INVALID))?
        };
        Ok(self.literal(value))
    }

    /// Decimal digits, white space around them allowed.
    fn parse_decimal(&mut self) -> Result<u32, Error> {
        while self.cur().is_some_and(char::is_whitespace) {
            self.bump();
        }
        let mut value: Option<u32> = Some(0);
        let mut count = 0;
        while let Some(d) = self.cur().filter(char::is_ascii_digit).and_then(|c| c.to_digit(10)) {
            count += 1;
            value = value.and_then(|v| v.checked_mul(10)?.checked_add(d));
            self.bump_and_bump_space();
        }
        while self.cur().is_some_and(char::is_whitespace) {
            self.bump_and_bump_space();
        }
        if count == 0 {
            return Err(Error(ERR_DECIMAL_NO_DIGITS));
        }
        value.ok_or(Error(ERR_DECIMAL_INVALID))
    }

    /// `?`, `*`, `+` (and their lazy forms) on the last item of `concat`.
    fn parse_uncounted_repetition(&mut self, concat: &mut Vec<Node>) -> Result<(), Error> {
        let Some(sub) = concat.pop() else {
            return Err(Error(ERR_UNCOUNTED_REP_SUB_MISSING));
        };
        let (min, max) = match self.cur() {
            Some('?') => (0, Some(1)),
            Some('*') => (0, None),
            _ => (1, None),
        };
        // Greedy or lazy chooses among matches; a full match only asks whether there is one.
        if self.bump() && self.cur() == Some('?') {
            self.bump();
        }
        concat.push(Node::Repeat {
            min,
            max,
            sub: Box::new(sub),
        });
        Ok(())
    }

    /// `{n}`, `{n,}`, `{n,m}` (and their lazy forms) on the last item of `concat`.
    #[inline(never)]
    fn parse_counted_repetition(&mut self, concat: &mut Vec<Node>) -> Result<(), Error> {
        let Some(sub) = concat.pop() else {
            return Err(Error(ERR_COUNTED_REP_SUB_MISSING));
        };
        if !self.bump_and_bump_space() {
            return Err(Error(ERR_COUNTED_REP_UNCLOSED));
        }
        let min = self.parse_decimal()?;
        let mut max = Some(min);
        if self.is_done() {
            return Err(Error(ERR_COUNTED_REP_MIN_UNCLOSED));
        }
        if self.cur() == Some(',') {
            if !self.bump_and_bump_space() {
                return Err(Error(ERR_COUNTED_REP_COMMA_UNCLOSED));
            }
            max = if self.cur() != Some('}') {
                Some(self.parse_decimal()?)
            } else {
                None
            };
            if self.is_done() {
                return Err(Error(ERR_COUNTED_REP_MIN_MAX_UNCLOSED));
            }
        }
        if self.cur() != Some('}') {
            return Err(Error(ERR_COUNTED_REP_INVALID));
        }
        if self.bump_and_bump_space() && self.cur() == Some('?') {
            self.bump();
        }
        if max.is_some_and(|max| min > max) {
            return Err(Error(ERR_COUNTED_REP_INVALID_RANGE));
        }
        concat.push(Node::Repeat {
            min,
            max,
            sub: Box::new(sub),
        });
        Ok(())
    }

    /// At `(`: a group, or `None` for a flag directive such as `(?i)` (whose flags then stay
    /// until the enclosing group ends).
    #[inline(never)]
    fn parse_group(&mut self) -> Result<Option<Node>, Error> {
        self.bump_and_bump_space();
        if self.bump_if("?=") || self.bump_if("?!") || self.bump_if("?<=") || self.bump_if("?<!") {
            return Err(Error(ERR_LOOK_UNSUPPORTED));
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
            return Err(Error(ERR_UNCLOSED_GROUP_QUESTION));
        }
        let start = self.pos;
        self.flags = self.parse_flags()?;
        if self.cur() == Some(')') {
            if self.pos == start {
                return Err(Error(ERR_EMPTY_FLAGS));
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
            return Err(Error(ERR_MISSING_GROUP_NAME));
        }
        let start = self.pos;
        while let Some(c) = self.cur() {
            if c == '>' {
                break;
            }
            let valid = if self.pos == start {
                c == '_' || c.is_alphabetic()
            } else {
                c == '_' || c == '.' || c == '[' || c == ']' || c.is_alphanumeric()
            };
            if !valid {
                return Err(Error(ERR_INVALID_GROUP_NAME));
            }
            self.bump();
        }
        let end = self.pos;
        if self.is_done() {
            return Err(Error(ERR_UNCLOSED_GROUP_NAME));
        }
        self.bump();
        let name = self.pattern.get(start..end).unwrap_or_default();
        if name.is_empty() {
            return Err(Error(ERR_EMPTY_GROUP_NAME));
        }
        if self.names.contains(&name) {
            return Err(Error(ERR_DUPLICATE_NAME));
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
        let mut seen = 0u8;
        while let Some(c) = self.cur().filter(|&c| c != ':' && c != ')') {
            if c == '-' {
                last_was_negation = true;
                if negate {
                    return Err(Error(ERR_FLAG_REPEATED_NEGATION));
                }
                negate = true;
            } else {
                last_was_negation = false;
                let on = !negate;
                let bit = match c {
                    'i' => {
                        flags.case_insensitive = on;
                        0
                    }
                    'm' => {
                        flags.multi_line = on;
                        1
                    }
                    's' => {
                        flags.dot_all = on;
                        2
                    }
                    // Swapped greed chooses among matches, which a full match does not.
                    'U' => 3,
                    'R' => {
                        flags.crlf = on;
                        4
                    }
                    'x' => {
                        flags.ignore_whitespace = on;
                        5
                    }
                    // Accepted and ignored, as regex-lite does (there are no Unicode classes).
                    'u' => 6,
                    _ => return Err(Error(ERR_FLAG_UNRECOGNIZED)),
                };
                if seen & (1 << bit) != 0 {
                    return Err(Error(ERR_FLAG_DUPLICATE));
                }
                seen |= 1 << bit;
            }
            if !self.bump() {
                return Err(Error(ERR_FLAG_UNEXPECTED_EOF));
            }
        }
        if last_was_negation {
            return Err(Error(ERR_FLAG_DANGLING_NEGATION));
        }
        Ok(flags)
    }

    /// At `[`: a bracketed class.
    // Out of line: one large parser function costs TurboFan more than its parts.
    #[inline(never)]
    fn parse_class(&mut self) -> Result<Ranges, Error> {
        let mut union: Ranges = Vec::new();
        if !self.bump_and_bump_space() {
            return Err(Error(ERR_CLASS_UNCLOSED));
        }
        let negated = self.cur() == Some('^');
        if negated && !self.bump_and_bump_space() {
            return Err(Error(ERR_CLASS_UNCLOSED_AFTER_NEGATION));
        }
        // Leading `-` are literal.
        while self.cur() == Some('-') {
            union.push(('-', '-'));
            if !self.bump_and_bump_space() {
                return Err(Error(ERR_CLASS_UNCLOSED_AFTER_DASH));
            }
        }
        // A `]` first is literal: an empty class cannot be written.
        if union.is_empty() && self.cur() == Some(']') {
            union.push((']', ']'));
            if !self.bump_and_bump_space() {
                return Err(Error(ERR_CLASS_UNCLOSED_AFTER_CLOSING));
            }
        }
        loop {
            self.bump_space();
            let Some(c) = self.cur() else {
                return Err(Error(ERR_CLASS_UNCLOSED));
            };
            match c {
                '[' => {
                    let Some(class) = self.maybe_parse_posix_class() else {
                        return Err(Error(ERR_CLASS_NEST_UNSUPPORTED));
                    };
                    union.extend(class);
                }
                ']' => {
                    self.bump();
                    let mut class = canonical(union);
                    // Folded before negation: `(?i)[^x]` excludes `X` too.
                    if self.flags.case_insensitive {
                        class = ascii_case_fold(class);
                    }
                    if negated {
                        class = negate(&class);
                    }
                    return Ok(class);
                }
                '&' | '-' | '~' if self.peek() == Some(c) => {
                    return Err(Error(ERR_CLASS_SET_OPERATION_UNSUPPORTED))
                }
                _ => self.parse_class_range(&mut union)?,
            }
        }
    }

    /// One item of a class: a character, a range `a-z` or an escaped class such as `\d`.
    fn parse_class_range(&mut self, union: &mut Ranges) -> Result<(), Error> {
        let first = self.parse_class_item()?;
        self.bump_space();
        if self.is_done() {
            return Err(Error(ERR_CLASS_UNCLOSED_AFTER_ITEM));
        }
        if self.cur() != Some('-') || matches!(self.peek_space(), Some(']' | '-')) {
            match first {
                Prim::Char(c) => union.push((c, c)),
                Prim::Class(r) => union.extend(r),
                Prim::Look(_) => return Err(Error(ERR_CLASS_INVALID_ITEM)),
            }
            return Ok(());
        }
        if !self.bump_and_bump_space() {
            return Err(Error(ERR_CLASS_UNCLOSED_AFTER_DASH));
        }
        let last = self.parse_class_item()?;
        let (Prim::Char(start), Prim::Char(end)) = (first, last) else {
            return Err(Error(ERR_CLASS_INVALID_RANGE_ITEM));
        };
        if start > end {
            return Err(Error(ERR_CLASS_INVALID_RANGE));
        }
        union.push((start, end));
        Ok(())
    }

    fn parse_class_item(&mut self) -> Result<Prim, Error> {
        let Some(c) = self.cur() else {
            return Err(Error(ERR_CLASS_UNCLOSED));
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
        if !self.bump() || self.cur() != Some(':') || !self.bump() {
            return None;
        }
        let negated = self.cur() == Some('^');
        if negated && !self.bump() {
            return None;
        }
        let name_start = self.pos;
        while self.cur() != Some(':') && self.bump() {}
        if self.is_done() {
            return None;
        }
        let name = self.pattern.get(name_start..self.pos)?;
        if !self.bump_if(":]") {
            return None;
        }
        let class = canonical(posix_class(name)?);
        Some(if negated { negate(&class) } else { class })
    }
}

/// Characters a `\` makes literal: ASCII punctuation, space and controls, except `<` and `>`
/// (`\<`, `\>` are word boundaries).
fn is_escapable(c: char) -> bool {
    c.is_ascii() && !c.is_ascii_alphanumeric() && !matches!(c, '<' | '>')
}

fn posix_class(name: &str) -> Option<Ranges> {
    let ranges: &[(u8, u8)] = match name {
        "alnum" => &[(b'0', b'9'), (b'A', b'Z'), (b'a', b'z')],
        "alpha" => &[(b'A', b'Z'), (b'a', b'z')],
        "ascii" => &[(0, 0x7F)],
        "blank" => &[(b'\t', b'\t'), (b' ', b' ')],
        "cntrl" => &[(0, 0x1F), (0x7F, 0x7F)],
        "digit" => &[(b'0', b'9')],
        "graph" => &[(b'!', b'~')],
        "lower" => &[(b'a', b'z')],
        "print" => &[(b' ', b'~')],
        "punct" => &[(b'!', b'/'), (b':', b'@'), (b'[', b'`'), (b'{', b'~')],
        "space" => &[(b'\t', b'\r'), (b' ', b' ')],
        "upper" => &[(b'A', b'Z')],
        "word" => &[(b'0', b'9'), (b'A', b'Z'), (b'_', b'_'), (b'a', b'z')],
        "xdigit" => &[(b'0', b'9'), (b'A', b'F'), (b'a', b'f')],
        _ => return None,
    };
    Some(ranges.iter().map(|&(s, e)| (char::from(s), char::from(e))).collect())
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
fn ascii_case_fold(class: Ranges) -> Ranges {
    let mut folded = class.clone();
    for (s, e) in class {
        let shifted = |lo: char, hi: char, up: bool| {
            let (s, e) = (u32::from(s.max(lo)), u32::from(e.min(hi)));
            let shift = |c: u32| char::from_u32(if up { c - 32 } else { c + 32 });
            (s <= e).then(|| Some((shift(s)?, shift(e)?))).flatten()
        };
        if let Some(r) = shifted('a', 'z', true).or_else(|| shifted('A', 'Z', false)) {
            folded.push(r);
        }
    }
    canonical(folded)
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
        return Err(Error(ERR_NESTING));
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
