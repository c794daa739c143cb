//! Envoy's `safe_regex`: a full match of the value (RE2's FullMatch), in time linear in the value.
//!
//! The pattern syntax is the RE2 subset regex-lite 0.1 accepts (parse.rs): literals and escapes,
//! `.`, classes with ranges, negation, `\d \w \s \D \W \S` and `[[:alpha:]]`-style ASCII classes,
//! anchors and ASCII word boundaries, groups, alternation, `* + ? {n} {n,} {n,m}` (greedy or
//! lazy), flags `i m s U R x u`; no Unicode classes, backreferences or look-around. Case folding
//! is ASCII only and matching is over Unicode scalar values (`.` is one `char`). The pattern is
//! compiled once into a Thompson NFA, which is run as a set of states over the value's characters
//! (no captures, no preference among matches: a full match only asks whether there is one).

mod parse;

use parse::{Look, Node};

/// Largest compiled pattern, counted as regex-lite counts its own (10 MiB): instructions and
/// class ranges. Each construct compiles here to no more bytes than in regex-lite, so nothing
/// it accepted is refused for size. Matching costs up to one step per instruction and character.
const MAX_PROGRAM_BYTES: usize = 10 << 20;


/// Why a pattern is refused.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Error(Reason);

impl Error {
    /// The reason, for the configuration's refusal.
    pub fn as_str(&self) -> &'static str {
        self.0.message()
    }
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Error").field(&self.as_str()).finish()
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A compiled pattern.
#[derive(Clone)]
pub struct Regex {
    pattern: Box<str>,
    insts: Vec<Inst>,
    classes: Vec<Box<[(char, char)]>>,
    start: u32,
    /// The bytes of `insts` and `classes`, against MAX_PROGRAM_BYTES.
    size: usize,
}

impl std::fmt::Debug for Regex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Regex").field(&self.pattern).finish()
    }
}

#[derive(Clone, Copy, Debug)]
enum Inst {
    /// One character, then `next`.
    Char(char, u32),
    /// One character of `classes[class]`, then `next`.
    Class(u32, u32),
    /// Both ways.
    Split(u32, u32),
    /// Only where the assertion holds.
    Look(Look, u32),
    Match,
    Fail,
}

impl Regex {
    /// `pattern` compiled, or why it is refused.
    pub fn new(pattern: &str) -> Result<Regex, Error> {
        let node = parse::parse(pattern)?;
        let mut re = Regex {
            pattern: pattern.into(),
            insts: Vec::new(),
            classes: Vec::new(),
            start: 0,
            size: 0,
        };
        let matched = re.push(Inst::Match)?;
        re.start = re.compile(&node, matched)?;
        re.insts.shrink_to_fit();
        Ok(re)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    #[inline(never)]
    fn push(&mut self, inst: Inst) -> Result<u32, Error> {
        self.grow(size_of::<Inst>())?;
        self.insts.push(inst);
        Ok((self.insts.len() - 1) as u32)
    }

    /// The instructions of `node` followed by `next`, compiled back to front; their entry.
    fn compile(&mut self, node: &Node, next: u32) -> Result<u32, Error> {
        match node {
            Node::Empty => Ok(next),
            Node::Char(c) => self.push(Inst::Char(*c, next)),
            Node::Class(ranges) if ranges.is_empty() => self.push(Inst::Fail),
            Node::Class(ranges) => {
                // The same class repeated (`[a-z]{8}`) is stored once.
                let class = match self.classes.iter().rposition(|c| **c == **ranges) {
                    Some(i) => i,
                    None => {
                        self.grow(size_of_val(ranges.as_slice()))?;
                        self.classes.push(ranges.as_slice().into());
                        self.classes.len() - 1
                    }
                };
                self.push(Inst::Class(class as u32, next))
            }
            Node::Look(look) => self.push(Inst::Look(*look, next)),
            Node::Group(sub) => self.compile(sub, next),
            Node::Concat(items) => items.iter().rev().try_fold(next, |n, item| self.compile(item, n)),
            Node::Alt(items) => {
                let mut entry: Option<u32> = None;
                for item in items.iter().rev() {
                    let branch = self.compile(item, next)?;
                    entry = Some(match entry {
                        None => branch,
                        Some(rest) => self.push(Inst::Split(branch, rest))?,
                    });
                }
                Ok(entry.unwrap_or(next))
            }
            Node::Repeat { min, max, sub } => {
                let mut entry = next;
                let mut copies = *min;
                match max {
                    // `x{n,}`: the last of the n copies loops back (`x*` when n is 0).
                    None => {
                        let split = self.push(Inst::Fail)?;
                        let body = self.compile(sub, split)?;
                        self.set(split, Inst::Split(body, next));
                        entry = if copies == 0 { split } else { body };
                        copies = copies.saturating_sub(1);
                    }
                    // `x{n,m}`: m - n nested optional copies, each of which may end the run.
                    Some(max) => {
                        for _ in *min..*max {
                            let body = self.compile(sub, entry)?;
                            entry = self.push(Inst::Split(body, next))?;
                        }
                    }
                }
                for _ in 0..copies {
                    entry = self.compile(sub, entry)?;
                }
                Ok(entry)
            }
        }
    }

    fn grow(&mut self, bytes: usize) -> Result<(), Error> {
        self.size += bytes;
        if self.size > MAX_PROGRAM_BYTES {
            return Err(Error(Reason::TooLarge));
        }
        Ok(())
    }

    fn set(&mut self, at: u32, inst: Inst) {
        if let Some(slot) = self.insts.get_mut(at as usize) {
            *slot = inst;
        }
    }

    /// Whether the whole of `value` matches (RE2's FullMatch).
    pub fn is_full_match(&self, value: &str) -> bool {
        let mut run = Run {
            insts: &self.insts,
            seen: vec![u32::MAX; self.insts.len()],
            stack: Vec::new(),
        };
        let mut now = Vec::new();
        let mut then = Vec::new();
        let mut chars = value.chars();
        let mut next = chars.next();
        run.close(self.start, 0, None, next, &mut now);
        let mut step = 0u32;
        while let Some(c) = next {
            if now.is_empty() {
                return false;
            }
            step += 1;
            next = chars.next();
            then.clear();
            for &id in &now {
                let target = match run.inst(id) {
                    Inst::Char(want, target) if want == c => target,
                    Inst::Class(class, target) if self.class_has(class, c) => target,
                    _ => continue,
                };
                run.close(target, step, Some(c), next, &mut then);
            }
            std::mem::swap(&mut now, &mut then);
        }
        now.iter().any(|&id| matches!(run.inst(id), Inst::Match))
    }

    fn class_has(&self, class: u32, c: char) -> bool {
        self.classes.get(class as usize).is_some_and(|ranges| {
            ranges
                .binary_search_by(|&(lo, hi)| {
                    if hi < c {
                        std::cmp::Ordering::Less
                    } else if lo > c {
                        std::cmp::Ordering::Greater
                    } else {
                        std::cmp::Ordering::Equal
                    }
                })
                .is_ok()
        })
    }
}

/// The state of one match: which instructions the current step has reached.
struct Run<'p> {
    insts: &'p [Inst],
    /// The step at which each instruction was last reached.
    seen: Vec<u32>,
    stack: Vec<u32>,
}

impl Run<'_> {
    fn inst(&self, id: u32) -> Inst {
        self.insts.get(id as usize).copied().unwrap_or(Inst::Fail)
    }

    /// Adds to `list` the consuming instructions (and `Match`) reachable from `id` without
    /// consuming, between the characters `before` and `after`.
    fn close(&mut self, id: u32, step: u32, before: Option<char>, after: Option<char>, list: &mut Vec<u32>) {
        self.stack.push(id);
        while let Some(id) = self.stack.pop() {
            match self.seen.get_mut(id as usize) {
                Some(seen) if *seen != step => *seen = step,
                _ => continue,
            }
            match self.inst(id) {
                Inst::Char(..) | Inst::Class(..) | Inst::Match => list.push(id),
                Inst::Split(a, b) => self.stack.extend([b, a]),
                Inst::Look(look, next) if holds(look, before, after) => self.stack.push(next),
                Inst::Look(..) | Inst::Fail => {}
            }
        }
    }
}

/// Whether `look` holds between `before` and `after` (`None`: the value's start or end).
fn holds(look: Look, before: Option<char>, after: Option<char>) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let (wb, wa) = (word(before), word(after));
    match look {
        Look::Start => before.is_none(),
        Look::End => after.is_none(),
        Look::StartLf => matches!(before, None | Some('\n')),
        Look::EndLf => matches!(after, None | Some('\n')),
        Look::StartCrlf => {
            matches!(before, None | Some('\n')) || (before == Some('\r') && after != Some('\n'))
        }
        Look::EndCrlf => {
            matches!(after, None | Some('\r')) || (after == Some('\n') && before != Some('\r'))
        }
        Look::Word => wb != wa,
        Look::NotWord => wb == wa,
        Look::WordStart => !wb && wa,
        Look::WordEnd => wb && !wa,
        Look::WordStartHalf => !wb,
        Look::WordEndHalf => !wa,
    }
}

/// Why a pattern is refused; `message` says it in regex-lite's words (and RE2's for its limit).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Reason {
    Nesting,
    DuplicateName,
    UnclosedGroup,
    UnclosedGroupQuestion,
    UnopenedGroup,
    LookUnsupported,
    EmptyFlags,
    MissingGroupName,
    InvalidGroupName,
    UnclosedGroupName,
    EmptyGroupName,
    FlagUnrecognized,
    FlagRepeatedNegation,
    FlagDuplicate,
    FlagUnexpectedEof,
    FlagDanglingNegation,
    DecimalNoDigits,
    DecimalInvalid,
    HexBraceInvalidDigit,
    HexBraceUnexpectedEof,
    HexBraceEmpty,
    HexBraceInvalid,
    HexFixedUnexpectedEof,
    HexFixedInvalidDigit,
    HexFixedInvalid,
    HexUnexpectedEof,
    EscapeUnexpectedEof,
    BackrefUnsupported,
    UnicodeClassUnsupported,
    EscapeUnrecognized,
    UncountedRepSubMissing,
    CountedRepSubMissing,
    CountedRepUnclosed,
    CountedRepMinUnclosed,
    CountedRepCommaUnclosed,
    CountedRepMinMaxUnclosed,
    CountedRepInvalid,
    CountedRepInvalidRange,
    RepeatTooLarge,
    ClassUnclosedAfterItem,
    ClassInvalidRangeItem,
    ClassInvalidItem,
    ClassUnclosedAfterDash,
    ClassUnclosedAfterNegation,
    ClassUnclosedAfterClosing,
    ClassInvalidRange,
    ClassUnclosed,
    ClassNestUnsupported,
    ClassSetOperationUnsupported,
    SpecialWordBoundaryUnclosed,
    SpecialWordBoundaryUnrecognized,
    SpecialWordOrRepUnexpectedEof,
    TooLarge,
}

impl Reason {
    fn message(self) -> &'static str {
        match self {
            Reason::Nesting => "pattern has too much nesting",
            Reason::DuplicateName => "duplicate capture group name",
            Reason::UnclosedGroup => "found open group without closing ')'",
            Reason::UnclosedGroupQuestion => "expected closing ')', but got end of pattern",
            Reason::UnopenedGroup => "found closing ')' without matching '('",
            Reason::LookUnsupported => "look-around is not supported",
            Reason::EmptyFlags => "empty flag directive '(?)' is not allowed",
            Reason::MissingGroupName => "expected capture group name, but got end of pattern",
            Reason::InvalidGroupName => "invalid group name",
            Reason::UnclosedGroupName => "expected end of capture group name, but got end of pattern",
            Reason::EmptyGroupName => "empty capture group names are not allowed",
            Reason::FlagUnrecognized => "unrecognized inline flag",
            Reason::FlagRepeatedNegation => "inline flag negation cannot be repeated",
            Reason::FlagDuplicate => "duplicate inline flag is not allowed",
            Reason::FlagUnexpectedEof => "expected ':' or ')' to end inline flags, but got end of pattern",
            Reason::FlagDanglingNegation => "inline flags cannot end with negation directive",
            Reason::DecimalNoDigits => "expected decimal number, but found no digits",
            Reason::DecimalInvalid => "got invalid decimal number",
            Reason::HexBraceInvalidDigit => "expected hexadecimal number in braces, but got non-hex digit",
            Reason::HexBraceUnexpectedEof => "expected hexadecimal number, but saw end of pattern before closing brace",
            Reason::HexBraceEmpty => "expected hexadecimal number in braces, but got no digits",
            Reason::HexBraceInvalid => "got invalid hexadecimal number in braces",
            Reason::HexFixedUnexpectedEof => "expected fixed length hexadecimal number, but saw end of pattern first",
            Reason::HexFixedInvalidDigit => "expected fixed length hexadecimal number, but got non-hex digit",
            Reason::HexFixedInvalid => "got invalid fixed length hexadecimal number",
            Reason::HexUnexpectedEof => "expected hexadecimal number, but saw end of pattern first",
            Reason::EscapeUnexpectedEof => "saw start of escape sequence, but saw end of pattern before it finished",
            Reason::BackrefUnsupported => "backreferences are not supported",
            Reason::UnicodeClassUnsupported => "Unicode character classes are not supported",
            Reason::EscapeUnrecognized => "unrecognized escape sequence",
            Reason::UncountedRepSubMissing => "uncounted repetition operator must be applied to a sub-expression",
            Reason::CountedRepSubMissing => "counted repetition operator must be applied to a sub-expression",
            Reason::CountedRepUnclosed => "found unclosed counted repetition operator",
            Reason::CountedRepMinUnclosed => "found incomplete and unclosed counted repetition operator",
            Reason::CountedRepCommaUnclosed => "found counted repetition operator with a comma that is unclosed",
            Reason::CountedRepMinMaxUnclosed => "found counted repetition with min and max that is unclosed",
            Reason::CountedRepInvalid => "expected closing brace for counted repetition, but got something else",
            Reason::CountedRepInvalidRange => "found counted repetition with a min bigger than its max",
            Reason::RepeatTooLarge => "counted repetitions multiply to more than 1000 (RE2's limit)",
            Reason::ClassUnclosedAfterItem => "non-empty character class has no closing bracket",
            Reason::ClassInvalidRangeItem => "character class ranges must start and end with a single character",
            Reason::ClassInvalidItem => "invalid escape sequence in character class",
            Reason::ClassUnclosedAfterDash => "non-empty character class has no closing bracket after dash",
            Reason::ClassUnclosedAfterNegation => "negated character class has no closing bracket",
            Reason::ClassUnclosedAfterClosing => "character class begins with literal ']' but has no closing bracket",
            Reason::ClassInvalidRange => "invalid range in character class",
            Reason::ClassUnclosed => "found unclosed character class",
            Reason::ClassNestUnsupported => "nested character classes are not supported",
            Reason::ClassSetOperationUnsupported => "character class intersection, difference and symmetric difference are not supported",
            Reason::SpecialWordBoundaryUnclosed => "special word boundary assertion is unclosed or has an invalid character",
            Reason::SpecialWordBoundaryUnrecognized => "special word boundary assertion is unrecognized",
            Reason::SpecialWordOrRepUnexpectedEof => "found start of special word boundary or repetition without an end",
            Reason::TooLarge => "compiled regex exceeded size limit",
        }
    }
}

#[cfg(test)]
mod tests;
