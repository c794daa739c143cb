//! One test per rule of the module doc; tests/json_differential.rs compares with serde_json at
//! scale.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;

/// Our error for `text`, checked to be serde_json's word for word.
fn refused(text: &str) -> String {
    let ours = from_str(text).unwrap_err().to_string();
    let theirs = serde_json::from_str::<serde_json::Value>(text)
        .unwrap_err()
        .to_string();
    assert_eq!(ours, theirs, "{text:?}");
    ours
}

fn float_bits(text: &str) -> u64 {
    match from_str(text).unwrap() {
        Value::Number(Number(N::Float(f))) => f.to_bits(),
        other => panic!("{text}: not a float: {other:?}"),
    }
}

#[test]
fn reads_every_kind_of_value() {
    let v = from_str(r#" {"a": [null, true, false, 1, -2, 1.5, "x"], "b": {}} "#).unwrap();
    assert_eq!(v["a"].as_array().unwrap().len(), 7);
    assert!(v["a"].as_array().unwrap()[0].is_null());
    assert_eq!(v["a"].as_array().unwrap()[1].as_bool(), Some(true));
    assert_eq!(v["a"].as_array().unwrap()[3].as_u64(), Some(1));
    assert_eq!(v["a"].as_array().unwrap()[4].as_i64(), Some(-2));
    assert_eq!(v["a"].as_array().unwrap()[5].as_f64(), Some(1.5));
    assert_eq!(v["a"].as_array().unwrap()[6], "x");
    assert!(v["b"].as_object().unwrap().is_empty());
    assert_eq!(v.get("missing"), None);
    assert_eq!(Value::Bool(true).get("a"), None);
}

#[test]
fn refuses_what_rfc_8259_does_not_allow() {
    for (text, message) in [
        ("[1,]", "trailing comma at line 1 column 4"),
        (r#"{"a":1,}"#, "trailing comma at line 1 column 8"),
        ("[1 2]", "expected `,` or `]` at line 1 column 4"),
        (r#"{"a":1 "b":2}"#, "expected `,` or `}` at line 1 column 8"),
        (r#"{"a" 1}"#, "expected `:` at line 1 column 6"),
        ("{1:2}", "key must be a string at line 1 column 2"),
        ("// c\n1", "expected value at line 1 column 1"),
        ("01", "invalid number at line 1 column 2"),
        ("-01", "invalid number at line 1 column 3"),
        ("1.", "EOF while parsing a value at line 1 column 2"),
        ("1.e5", "invalid number at line 1 column 3"),
        (".5", "expected value at line 1 column 1"),
        ("+1", "expected value at line 1 column 1"),
        ("1e", "EOF while parsing a value at line 1 column 2"),
        ("1e+x", "invalid number at line 1 column 4"),
        ("NaN", "expected value at line 1 column 1"),
        ("nul", "EOF while parsing a value at line 1 column 3"),
        ("nulL", "expected ident at line 1 column 4"),
        ("\u{a0}1", "expected value at line 1 column 1"),
        ("\x0c1", "expected value at line 1 column 1"),
        ("1 2", "trailing characters at line 1 column 3"),
        ("", "EOF while parsing a value at line 1 column 0"),
        ("[", "EOF while parsing a list at line 1 column 1"),
        ("{", "EOF while parsing an object at line 1 column 1"),
        (
            r#"{"a":1"#,
            "EOF while parsing an object at line 1 column 6",
        ),
        (r#""abc"#, "EOF while parsing a string at line 1 column 4"),
        (
            "\"a\nb\"",
            "control character (\\u0000-\\u001F) found while parsing a string at line 2 column 0",
        ),
        (r#""\x""#, "invalid escape at line 1 column 3"),
        (r#""\u12G4""#, "invalid escape at line 1 column 7"),
        ("1e309", "number out of range at line 1 column 5"),
        ("[\n  1,\n  2 3]", "expected `,` or `]` at line 3 column 5"),
    ] {
        assert_eq!(refused(text), message, "{text:?}");
    }
}

#[test]
fn whitespace_is_space_tab_cr_lf_only() {
    assert_eq!(
        from_str(" \t\r\n[ \t\r\n1 \t\r\n] \t\r\n").unwrap(),
        Value::Array(vec![1u64.into()])
    );
    assert!(from_str("[1,\x0b2]").is_err());
}

#[test]
fn invalid_utf8_in_strings_is_refused() {
    assert_eq!(
        from_slice(b"\"a\xffb\"").unwrap_err().to_string(),
        "invalid unicode code point at line 1 column 3"
    );
    assert!(from_slice(b"\"\xc3\"").is_err());
    assert!(from_slice(b"\xef\xbb\xbf1").is_err(), "no byte-order mark");
    assert_eq!(from_slice("\"é\"".as_bytes()).unwrap(), "é");
}

#[test]
fn escapes_and_surrogate_pairs() {
    assert_eq!(
        from_str(r#""\"\\\/\b\f\n\r\t""#).unwrap(),
        "\"\\/\x08\x0c\n\r\t"
    );
    assert_eq!(from_str(r#""\u0041\u00e9\u20AC""#).unwrap(), "Aé€");
    assert_eq!(from_str(r#""\ud83d\ude00""#).unwrap(), "😀");
    for (text, message) in [
        (
            r#""\ude00""#,
            "lone leading surrogate in hex escape at line 1 column 7",
        ),
        (
            r#""\ud83d""#,
            "unexpected end of hex escape at line 1 column 8",
        ),
        (
            r#""\ud83dx""#,
            "unexpected end of hex escape at line 1 column 8",
        ),
        (
            r#""\ud83d\n""#,
            "unexpected end of hex escape at line 1 column 9",
        ),
        (
            r#""\ud83d\u0041""#,
            "lone leading surrogate in hex escape at line 1 column 13",
        ),
        (
            r#""\ud83d\ud83d""#,
            "lone leading surrogate in hex escape at line 1 column 13",
        ),
        (
            r#""\ud83d"#,
            "EOF while parsing a string at line 1 column 7",
        ),
        (r#""\u12"#, "EOF while parsing a string at line 1 column 5"),
    ] {
        assert_eq!(refused(text), message, "{text:?}");
    }
}

#[test]
fn control_characters_in_strings_are_refused() {
    for c in 0u8..0x20 {
        let text = format!("\"a{}\"", char::from(c));
        assert!(from_str(&text).is_err(), "{c:#x}");
    }
    assert_eq!(from_str("\"\x7f\"").unwrap(), "\x7f");
}

#[test]
fn nesting_stops_at_serde_jsons_limit() {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    assert!(from_str(&deep(127)).is_ok());
    assert_eq!(
        refused(&deep(128)),
        "recursion limit exceeded at line 1 column 128"
    );
    // Far deeper input is refused the same way, without exhausting the stack.
    assert!(from_str(&deep(1_000_000)).is_err());
    assert!(from_str(&"{\"a\":".repeat(200)).is_err());
}

#[test]
fn the_last_duplicate_key_wins_and_keys_are_sorted() {
    let v = from_str(r#"{"b": 1, "a": 2, "b": 3, "C": 4}"#).unwrap();
    assert_eq!(v["b"].as_u64(), Some(3));
    let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["C", "a", "b"]);
    assert_eq!(v.to_string(), r#"{"C":4,"a":2,"b":3}"#);
}

#[test]
fn numbers_are_u64_i64_or_f64() {
    let n = |text: &str| match from_str(text).unwrap() {
        Value::Number(n) => n,
        other => panic!("{other:?}"),
    };
    assert_eq!(n("18446744073709551615").as_u64(), Some(u64::MAX));
    assert!(n("18446744073709551616").is_f64());
    assert_eq!(
        n("18446744073709551616").as_f64(),
        Some(18446744073709551616.0)
    );
    assert_eq!(n("-9223372036854775808").as_i64(), Some(i64::MIN));
    assert!(n("-9223372036854775809").is_f64());
    assert_eq!(n("9223372036854775808").as_i64(), None);
    assert_eq!(n("1").as_i64(), Some(1));
    for float in ["1.0", "1e2", "1E2", "0.5", "-0", "-0.0", "1e-400"] {
        assert!(n(float).is_f64(), "{float}");
        assert_eq!(n(float).as_u64(), None, "{float}");
        assert_eq!(n(float).as_i64(), None, "{float}");
    }
    assert_eq!(float_bits("-0"), (-0.0f64).to_bits());
    assert_eq!(float_bits("1e-400"), 0.0f64.to_bits());
    assert_eq!(float_bits("-1e-400"), (-0.0f64).to_bits());
    assert_eq!(float_bits("0e99999999999"), 0.0f64.to_bits());
    assert_eq!(
        refused("1e99999999999"),
        "number out of range at line 1 column 12"
    );
    assert_eq!(refused("1.8e308"), "number out of range at line 1 column 7");
    assert_eq!(float_bits("1.7976931348623157e308"), f64::MAX.to_bits());
}

#[test]
fn floats_are_read_as_serde_json_without_float_roundtrip() {
    let serde_bits = |text: &str| match serde_json::from_str::<serde_json::Value>(text).unwrap() {
        serde_json::Value::Number(n) => n.as_f64().unwrap().to_bits(),
        other => panic!("{other:?}"),
    };
    let mut not_nearest = 0;
    for text in [
        "0.1",
        "1.5e3",
        "2.5e91",
        "123456789012345678901",
        "2.2250738585072014e-308",
        "4.9e-324",
        "1e-320",
        "9007199254740993.0",
        "0.30000000000000004",
        "1.00000000000000000000000001",
        "184467440737095516160.5",
        "-1.7976931348623157e308",
        "8.98846567431158e307",
    ] {
        assert_eq!(float_bits(text), serde_bits(text), "{text}");
        not_nearest += usize::from(float_bits(text) != text.parse::<f64>().unwrap().to_bits());
    }
    // One multiplication or division by a power of ten is not always the nearest double.
    assert!(not_nearest > 0);
    // Beyond 20 digits only the first 19 or 20 count.
    assert_eq!(
        float_bits("1.00000000000000000000000001"),
        float_bits("1.0000000000000000000")
    );
}

#[test]
fn writes_compact_json_as_serde_json() {
    let v =
        from_str(r#"{ "b" : [ 1 , -2 , 1.5 , true , null ] , "a" : { } , "c" : [ ] }"#).unwrap();
    assert_eq!(v.to_string(), r#"{"a":{},"b":[1,-2,1.5,true,null],"c":[]}"#);
    assert_eq!(to_string(&v), v.to_string());
}

#[test]
fn writes_escapes_as_serde_json() {
    let v = Value::from("q\"b\\s/\x08\x0c\n\r\t\x00\x01\x1f\x7fé😀");
    assert_eq!(
        v.to_string(),
        "\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0000\\u0001\\u001f\x7fé😀\""
    );
    let mut m = Map::new();
    m.insert("k\n".to_owned(), Value::Null);
    assert_eq!(Value::Object(m).to_string(), r#"{"k\n":null}"#);
}

#[test]
fn writes_floats_in_shortest_round_trip_form() {
    for (text, written) in [
        ("1.0", "1.0"),
        ("1e21", "1e+21"),
        ("1e20", "1e+20"),
        ("1e15", "1000000000000000.0"),
        ("1e16", "1e+16"),
        ("-0", "-0.0"),
        ("-0.0", "-0.0"),
        ("0.1", "0.1"),
        ("1.5e-7", "1.5e-7"),
        ("18446744073709551616", "1.8446744073709552e+19"),
        ("-9223372036854775809", "-9.223372036854776e+18"),
        ("-9223372036854775808", "-9223372036854775808"),
        ("1.7976931348623157e308", "1.7976931348623157e+308"),
    ] {
        assert_eq!(from_str(text).unwrap().to_string(), written, "{text}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(text)
                .unwrap()
                .to_string(),
            written,
            "serde_json, {text}"
        );
    }
    assert_eq!(Number::from_f64(f64::NAN), None);
    assert_eq!(
        Value::Number(Number::from_f64(2.0).unwrap()).to_string(),
        "2.0"
    );
}

#[test]
fn accessors_follow_serde_json() {
    let mut v = from_str(r#"{"s": "x", "n": -1, "a": [1], "o": {"k": true}}"#).unwrap();
    assert!(v.is_object() && v["s"].is_string() && v["a"].is_array() && v["o"]["k"].is_boolean());
    assert!(v["n"].is_i64() && !v["n"].is_u64() && v["n"].is_number());
    assert_eq!(v["n"].as_f64(), Some(-1.0));
    assert_eq!(v["s"].as_u64(), None);
    assert!(v["missing"].is_null());
    *v.get_mut("s").unwrap() = Value::from(2u64);
    assert_eq!(v["s"].as_u64(), Some(2));
    let taken = v.as_object_mut().unwrap().get_mut("o").unwrap().take();
    assert_eq!(taken.to_string(), r#"{"k":true}"#);
    assert!(v["o"].is_null());
    assert_eq!(Value::from(-3i64).as_i64(), Some(-3));
    assert_eq!(Value::from(3i64).as_u64(), Some(3));
}

#[test]
fn errors_count_lines_and_columns_in_bytes() {
    let e = from_str("{\n  \"é\": tru }").unwrap_err();
    assert_eq!((e.line(), e.column()), (2, 12));
    assert_eq!(e.to_string(), "expected ident at line 2 column 12");
}

#[test]
fn plain_runs_stop_at_the_first_quote_backslash_or_control_character() {
    for len in 0..40 {
        for stop in [b'"', b'\\', 0x00, 0x1f] {
            for fill in [b'a', 0x20, 0x7f, 0x80, 0xff, b'!', b'#', b'[', b']'] {
                let mut bytes = vec![fill; len];
                assert_eq!(parse::plain_run(&bytes), len);
                for at in 0..len {
                    bytes[at] = stop;
                    assert_eq!(
                        parse::plain_run(&bytes),
                        at,
                        "{len} {stop:#x} {fill:#x} {at}"
                    );
                    bytes[at] = fill;
                }
            }
        }
    }
}
