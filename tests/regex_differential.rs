//! Our `safe_regex` engine (src/request/regex/) against regex-lite, the engine it replaced, as
//! the filter used it: the pattern checked alone, then compiled as `^(?:pattern)$` and searched.
//! Seeded and reproducible: generated patterns with every construct over a small alphabet (and
//! random strings of syntax characters, for the refusals), each matched against generated
//! values. Compared: accept/refuse of the pattern and the full-match result. The one intended
//! difference is RE2's repetition limit (counts multiplying to more than 1000), which Envoy's RE2
//! refuses and regex-lite accepts; the generator's counts stay below it and a refusal for it is
//! counted apart. `cargo test --release --test regex_differential -- --nocapture` prints counts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use jwt_authn_wasm::request::regex::Regex;

/// The project's one seeded test generator (SplitMix64).
use jwt_mint::Rng;

const ATOMS: &[&str] = &[
    "a", "b", "A", "-", "é", "1", "_", " ", ".", r"\d", r"\w", r"\s", r"\D", r"\W", r"\S", r"\x41",
    r"\x{e9}", r"\u0062", r"\.", r"\-", r"\n", r"\r", r"\t", r"\ ", "^", "$", r"\A", r"\z", r"\b",
    r"\B", r"\<", r"\>", r"\b{start}", r"\b{end}", r"\b{start-half}", r"\b{end-half}",
];

const CLASS_ITEMS: &[&str] = &[
    "a", "b", "A", "B", "-", "é", "1", "_", " ", "a-b", "A-Z", "0-9", "a-é", r"\d", r"\w", r"\s",
    r"\W", r"\x41", r"\n", r"\-", r"\]", "[:alpha:]", "[:^lower:]", "[:digit:]", "[:space:]",
    "[:punct:]", "[:word:]", "[:upper:]", ".", "^", "$", "*", "(", "|",
];

const FLAGS: &[&str] = &["i", "m", "s", "U", "R", "x", "-i", "i-s", "im", "-x", "u", "ms"];

const REPEATS: &[&str] = &[
    "*", "+", "?", "*?", "+?", "??", "{2}", "{0}", "{1}", "{0,2}", "{1,3}", "{2,}", "{0,}", "{2}?",
    "{1,2}?", "{ 1 , 2 }",
];

/// A pattern of every construct, `depth` levels of nesting at most.
fn pattern(rng: &mut Rng, depth: u32, names: &mut u32) -> String {
    let mut out = String::new();
    let items = 1 + rng.below(4);
    for _ in 0..items {
        let item = match rng.below(if depth == 0 { 3 } else { 8 }) {
            0 | 1 => rng.pick::<&str>(ATOMS).to_string(),
            2 => class(rng),
            3 => format!("({})", pattern(rng, depth - 1, names)),
            4 => format!("(?:{})", pattern(rng, depth - 1, names)),
            5 => {
                *names += 1;
                let open = if rng.below(2) == 0 { "?P<" } else { "?<" };
                format!("({open}n{names}>{})", pattern(rng, depth - 1, names))
            }
            6 => format!("(?{}:{})", *rng.pick::<&str>(FLAGS), pattern(rng, depth - 1, names)),
            _ => format!("(?{})", *rng.pick::<&str>(FLAGS)),
        };
        out.push_str(&item);
        if rng.below(3) == 0 {
            out.push_str(rng.pick::<&str>(REPEATS));
        }
        if rng.below(6) == 0 {
            out.push('|');
        }
    }
    out
}

fn class(rng: &mut Rng) -> String {
    let mut out = String::from("[");
    if rng.below(3) == 0 {
        out.push('^');
    }
    for _ in 0..1 + rng.below(3) {
        out.push_str(rng.pick::<&str>(CLASS_ITEMS));
    }
    out.push(']');
    out
}

/// Syntax characters at random: mostly refused, in every way the parser can refuse.
fn noise(rng: &mut Rng) -> String {
    const CHARS: &[&str] = &[
        "a", "b", "(", ")", "[", "]", "{", "}", "|", "*", "+", "?", "\\", "^", "$", ".", "-", ",",
        ":", "0", "1", "9", " ", "#", "\n", "<", ">", "P", "i", "x", "=", "!", "&", "~", "d", "b",
        "u", "U", "p", "z", "é",
    ];
    let len = 1 + rng.below(10);
    (0..len).map(|_| *rng.pick::<&str>(CHARS)).collect()
}

fn value(rng: &mut Rng) -> String {
    const CHARS: &[&str] = &["a", "b", "A", "B", "-", "é", "1", "_", " ", "\n", "\r", "\t", "É"];
    let len = rng.below(7);
    (0..len).map(|_| *rng.pick::<&str>(CHARS)).collect()
}

/// regex-lite as the filter used it; `Err` with its reason when refused.
fn reference(pattern: &str) -> Result<regex_lite::Regex, String> {
    regex_lite::Regex::new(pattern).map_err(|e| e.to_string())?;
    regex_lite::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| e.to_string())
}

fn reference_match(re: &regex_lite::Regex, value: &str) -> bool {
    re.find(value).is_some_and(|m| m.start() == 0 && m.end() == value.len())
}

const RE2_REPEAT_LIMIT: &str = "counted repetitions multiply to more than 1000 (RE2's limit)";

#[test]
fn agrees_with_regex_lite() {
    let mut rng = Rng(0x5afe_4e6e_0022);
    let (mut patterns, mut accepted, mut refused, mut same_reason, mut re2_limit) = (0, 0, 0, 0, 0);
    let (mut comparisons, mut full_matches) = (0u64, 0u64);
    let mut disagreements = Vec::new();
    for i in 0..30_000 {
        let mut names = 0;
        let p = match i % 4 {
            0 => noise(&mut rng),
            _ => pattern(&mut rng, 3, &mut names),
        };
        patterns += 1;
        let ours = Regex::new(&p);
        let theirs = reference(&p);
        let (re, lite) = match (ours, theirs) {
            (Ok(re), Ok(lite)) => (re, lite),
            (Err(ours), Err(theirs)) => {
                refused += 1;
                same_reason += u32::from(ours.as_str() == theirs);
                continue;
            }
            (Err(ours), Ok(_)) if ours.as_str() == RE2_REPEAT_LIMIT => {
                re2_limit += 1;
                continue;
            }
            (ours, theirs) => {
                disagreements.push(format!("{p:?}: ours {:?}, regex-lite {:?}", ours.err(), theirs.err()));
                continue;
            }
        };
        accepted += 1;
        let values = 24;
        for _ in 0..values {
            let v = value(&mut rng);
            let (a, b) = (re.is_full_match(&v), reference_match(&lite, &v));
            comparisons += 1;
            full_matches += u64::from(a);
            if a != b {
                disagreements.push(format!("{p:?} on {v:?}: ours {a}, regex-lite {b}"));
            }
        }
    }
    println!(
        "regex differential: {patterns} patterns ({accepted} accepted, {refused} refused by both, \
         {same_reason} of those with regex-lite's reason word for word, {re2_limit} refused by RE2's \
         repetition limit only); {comparisons} full-match comparisons, {full_matches} matches; \
         {} disagreements",
        disagreements.len()
    );
    assert!(disagreements.is_empty(), "{} disagreements:\n{}", disagreements.len(), disagreements[..disagreements.len().min(40)].join("\n"));
    assert!(accepted > 10_000 && refused > 3_000 && full_matches > 10_000, "the generator lost its reach");
}

/// Patterns around the limits: nesting, sizes, RE2's repetition limit.
#[test]
fn limits_agree_with_regex_lite_or_re2() {
    for n in 1..60 {
        let groups = format!("{}a{}", "(".repeat(n), ")".repeat(n));
        let stars = format!("a{}", "*".repeat(n));
        let flags = format!("{}a{}", "(?i:".repeat(n), ")".repeat(n));
        for p in [groups, stars, flags] {
            assert_eq!(Regex::new(&p).is_ok(), reference(&p).is_ok(), "{p}");
        }
    }
    for p in ["a{1000}", "(a{10}){100}", "[a-z]{1000}", "(?:(?:a|b){10}){100}"] {
        assert!(Regex::new(p).is_ok() && reference(p).is_ok(), "{p}");
    }
    // regex-lite accepts these; Envoy's RE2 refuses them ("bad repetition operator").
    for p in ["a{1001}", "(a{2}){501}", "(?:a{100}){11}"] {
        assert!(reference(p).is_ok(), "{p}");
        assert_eq!(Regex::new(p).map(|_| ()).map_err(|e| e.as_str()), Err(RE2_REPEAT_LIMIT), "{p}");
    }
    // Dense patterns up to 1 KiB (the configuration's limit): ours refuses for size only what
    // regex-lite refuses for size. The reverse happens: regex-lite's states are larger than our
    // instructions, so the densest it refuses (more than 10 MiB of its states) fit ours.
    let units = ["a{1000}", "[a-z]{1000}", r"\w{1000}", "(?:a|b){1000}", "(?:a|b|c|d|e|f|g){1000}",
        "(?:a|b|c|d|e|f|g|h|i|j|k|l|m|n|o|p|q|r|s|t|u|v|w|x|y|z){1000}", "(?:ab|){1000}", "(a?){1000}"];
    let (mut both, mut ours_only) = (0, 0);
    for unit in units {
        for k in 1..=1024 / unit.len() {
            let p = unit.repeat(k);
            let (ours, theirs) = (Regex::new(&p).is_ok(), reference(&p).is_ok());
            assert!(ours || !theirs, "{unit} x{k}: refused by us only");
            both += u32::from(ours && theirs);
            ours_only += u32::from(ours && !theirs);
        }
    }
    println!("dense patterns: {both} accepted by both, {ours_only} accepted by us only (too large for regex-lite)");
    assert!(both > 100);
}
