//! The module's JSON reader and writer (src/json/) against serde_json, the parser the module
//! used before it (without `float_roundtrip`, as the module built it): generated documents
//! (nesting, escapes, surrogates, numbers at the integer/float boundaries, huge and tiny
//! exponents, duplicate keys, odd whitespace) and invalid ones made from them by truncation,
//! byte flips, inserted commas and deleted bytes. Each must be accepted or refused alike, with
//! the same error message and position, read to the same value (floats to the same bits), and
//! written back byte for byte as `serde_json::to_string` writes it.
//!
//! Seeded and reproducible: `JSON_DIFF_SEED` and `JSON_DIFF_CASES` override the defaults; the
//! counts are printed (`cargo test --test json_differential -- --nocapture`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use jwt_authn_wasm::json;

/// splitmix64: small, seedable, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn whitespace(rng: &mut Rng, out: &mut String) {
    if rng.one_in(3) {
        for _ in 0..rng.below(3) {
            out.push(*rng.pick(&[' ', '\t', '\n', '\r']));
        }
    }
}

fn digits(rng: &mut Rng, out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(char::from(b'0' + rng.below(10) as u8));
    }
}

fn number(rng: &mut Rng, out: &mut String) {
    const EDGES: &[&str] = &[
        "0",
        "-0",
        "1",
        "-1",
        "0.0",
        "-0.0",
        "1.0",
        "1e0",
        "1E+0",
        "1e-0",
        "18446744073709551615",
        "18446744073709551616",
        "18446744073709551614",
        "-9223372036854775808",
        "-9223372036854775809",
        "-9223372036854775807",
        "9223372036854775807",
        "9223372036854775808",
        "9007199254740993",
        "-9007199254740993",
        "1.7976931348623157e308",
        "1.7976931348623158e308",
        "1.8e308",
        "-1.8e308",
        "2.2250738585072014e-308",
        "2.2250738585072011e-308",
        "4.9e-324",
        "5e-324",
        "2e-324",
        "1e-400",
        "-1e-400",
        "1e400",
        "0e400",
        "0.0e999999999999",
        "1e999999999999",
        "1e-999999999999",
        "-1e2147483647",
        "1e2147483648",
        "1e-2147483648",
        "123456789012345678901234567890",
        "0.000000000000000000000000000001",
        "184467440737095516160.5",
        "1844674407370955161.55",
        "100000000000000000000000e-3",
        "3.141592653589793238462643383279",
        "1e22",
        "1e23",
        "8.98846567431158e307",
    ];
    match rng.below(6) {
        0 => out.push_str(rng.pick::<&str>(EDGES)),
        1 => out.push_str(&(rng.next() >> rng.below(64)).to_string()),
        2 => out.push_str(&(-((rng.next() >> (rng.below(63) + 1)) as i64)).to_string()),
        _ => {
            if rng.one_in(2) {
                out.push('-');
            }
            if rng.one_in(4) {
                out.push('0');
            } else {
                out.push(char::from(b'1' + rng.below(9) as u8));
                let n = *rng.pick(&[0, 1, 3, 8, 15, 18, 19, 20, 25, 40]);
                digits(rng, out, n);
            }
            if rng.one_in(2) {
                out.push('.');
                let n = *rng.pick(&[1, 2, 5, 10, 17, 19, 20, 21, 30]);
                digits(rng, out, n);
            }
            if rng.one_in(2) {
                out.push(*rng.pick(&['e', 'E']));
                match rng.below(3) {
                    0 => out.push('-'),
                    1 => out.push('+'),
                    _ => {}
                }
                let e = *rng.pick(&[
                    0u64, 1, 5, 22, 23, 100, 290, 307, 308, 309, 310, 320, 323, 324, 330, 400, 1000,
                ]);
                let e = if rng.one_in(3) { rng.next() % 400 } else { e };
                out.push_str(&e.to_string());
            }
        }
    }
}

fn string(rng: &mut Rng, out: &mut String) {
    out.push('"');
    for _ in 0..rng.below(12) {
        match rng.below(12) {
            0 => out.push_str(
                rng.pick::<&str>(&["\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"]),
            ),
            1 => out.push_str(&format!("\\u{:04x}", rng.below(0x1_0000))),
            2 => {
                // A surrogate pair, or (sometimes) a broken one.
                let hi = 0xD800 + rng.below(0x400);
                let lo = 0xDC00 + rng.below(0x400);
                match rng.below(6) {
                    0 => out.push_str(&format!("\\u{hi:04X}")),
                    1 => out.push_str(&format!("\\u{lo:04x}\\u{hi:04x}")),
                    2 => out.push_str(&format!("\\u{hi:04x}\\u{hi:04x}")),
                    _ => out.push_str(&format!("\\u{hi:04x}\\u{lo:04X}")),
                }
            }
            3 => {
                out.push(*rng.pick(&['é', '€', '😀', '\u{7f}', '\u{a0}', '\u{2028}', '\u{10ffff}']))
            }
            4 if rng.one_in(8) => out.push(char::from(rng.below(0x20) as u8)),
            _ => {
                // Printable ASCII; a raw `"` or `\` would end or break the string.
                let c = char::from(b' ' + rng.below(95) as u8);
                out.push(if c == '"' || c == '\\' { 'x' } else { c });
            }
        }
    }
    out.push('"');
}

fn value(rng: &mut Rng, out: &mut String, depth: usize) {
    whitespace(rng, out);
    let kind = if depth > 6 {
        rng.below(4)
    } else {
        rng.below(7)
    };
    match kind {
        0 => out.push_str(rng.pick::<&str>(&["null", "true", "false"])),
        1 | 2 => number(rng, out),
        3 => string(rng, out),
        4 | 5 => {
            out.push('[');
            for i in 0..rng.below(5) {
                if i > 0 {
                    out.push(',');
                }
                value(rng, out, depth + 1);
            }
            whitespace(rng, out);
            out.push(']');
        }
        _ => {
            out.push('{');
            let keys = ["a", "b", "B", "kid", "é", "a\\u0000", "", "\\ud83d\\ude00"];
            for i in 0..rng.below(6) {
                if i > 0 {
                    out.push(',');
                }
                whitespace(rng, out);
                if rng.one_in(3) {
                    string(rng, out);
                } else {
                    out.push_str(&format!("\"{}\"", rng.pick(&keys)));
                }
                whitespace(rng, out);
                out.push(':');
                value(rng, out, depth + 1);
            }
            whitespace(rng, out);
            out.push('}');
        }
    }
    whitespace(rng, out);
}

fn document(rng: &mut Rng) -> Vec<u8> {
    let mut text = String::new();
    if rng.one_in(200) {
        // Around the nesting limit.
        let n = 120 + rng.below(16);
        for _ in 0..n {
            text.push_str(rng.pick::<&str>(&["[", "{\"k\":"]));
        }
        text.push('1');
        // Closing brackets are not matched to the openers: often invalid, which is fine too.
        for _ in 0..n {
            text.push(']');
        }
    } else {
        value(rng, &mut text, 0);
    }
    let mut bytes = text.into_bytes();
    if rng.one_in(2) {
        mutate(rng, &mut bytes);
    }
    bytes
}

fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) {
    for _ in 0..=rng.below(2) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(6) {
            0 => bytes.truncate(at),
            1 if at < bytes.len() => bytes[at] = rng.next() as u8,
            2 if at < bytes.len() => {
                bytes[at] = *rng.pick(b"\"\\,:[]{}0-.eE+ \t\n\x00\x1f\x7f\x80\xc3\xed\xf0\xff");
            }
            3 => bytes.insert(at, b','),
            4 if at < bytes.len() => {
                bytes.remove(at);
            }
            _ => bytes.insert(at, *rng.pick(b"\"\\]}0 a")),
        }
    }
}

/// Same kinds, keys in the same order, integers equal, floats with equal bits.
fn same(ours: &json::Value, theirs: &serde_json::Value) -> bool {
    use json::Value as O;
    use serde_json::Value as T;
    match (ours, theirs) {
        (O::Null, T::Null) => true,
        (O::Bool(a), T::Bool(b)) => a == b,
        (O::Number(a), T::Number(b)) => {
            a.is_u64() == b.is_u64()
                && a.is_i64() == b.is_i64()
                && a.is_f64() == b.is_f64()
                && a.as_u64() == b.as_u64()
                && a.as_i64() == b.as_i64()
                && a.as_f64().map(f64::to_bits) == b.as_f64().map(f64::to_bits)
        }
        (O::String(a), T::String(b)) => a == b,
        (O::Array(a), T::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (O::Object(a), T::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
        }
        _ => false,
    }
}

#[derive(Default, Debug)]
struct Counts {
    accepted: usize,
    refused: usize,
    floats: usize,
}

fn compare(bytes: &[u8], counts: &mut Counts) {
    let ours = json::from_slice(bytes);
    let theirs = serde_json::from_slice::<serde_json::Value>(bytes);
    let shown = String::from_utf8_lossy(bytes);
    match (ours, theirs) {
        (Ok(ours), Ok(theirs)) => {
            assert!(
                same(&ours, &theirs),
                "{shown:?}: read as {ours:?}, serde_json {theirs:?}"
            );
            assert_eq!(
                ours.to_string(),
                serde_json::to_string(&theirs).unwrap(),
                "{shown:?}"
            );
            counts.accepted += 1;
            counts.floats += usize::from(ours.to_string().contains(['.', 'e']));
        }
        (Err(ours), Err(theirs)) => {
            assert_eq!(ours.to_string(), theirs.to_string(), "{shown:?}");
            assert_eq!(
                (ours.line(), ours.column()),
                (theirs.line(), theirs.column())
            );
            counts.refused += 1;
        }
        (ours, theirs) => panic!("{shown:?}: ours {ours:?}, serde_json {theirs:?}"),
    }
    // `from_str` reads valid UTF-8 the same way.
    if let Ok(text) = std::str::from_utf8(bytes) {
        assert_eq!(json::from_str(text), json::from_slice(bytes));
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn generated_documents_read_and_write_as_serde_json() {
    let seed = env_or("JSON_DIFF_SEED", 22);
    let cases = env_or("JSON_DIFF_CASES", 300_000);
    let mut rng = Rng(seed);
    let mut counts = Counts::default();
    for _ in 0..cases {
        let doc = document(&mut rng);
        compare(&doc, &mut counts);
    }
    println!("json_differential: seed {seed}, {cases} documents: {counts:?}");
    // The generator must exercise both sides.
    assert!(counts.accepted > cases as usize / 5, "{counts:?}");
    assert!(counts.refused > cases as usize / 5, "{counts:?}");
    assert!(counts.floats > cases as usize / 20, "{counts:?}");
}

#[test]
fn every_prefix_of_a_document_reads_as_serde_json() {
    let text =
        " {\"a\" : [1, -0.5e-3, true, null, \"x\\u00e9\\ud83d\\ude00\"], \"b\": {\"c\": 1e400}}\n";
    let mut counts = Counts::default();
    for end in 0..=text.len() {
        compare(&text.as_bytes()[..end], &mut counts);
    }
    assert_eq!(counts.accepted, 0, "1e400 is out of range");
}
