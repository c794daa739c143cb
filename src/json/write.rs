//! The writer: compact JSON, byte for byte as `serde_json::to_string` writes a `Value`.

use super::{Number, Value, N};

/// `value` as compact JSON.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => number(out, n),
        Value::String(s) => string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(members) => {
            out.push('{');
            for (i, (key, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(out, key);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

/// Integers in decimal; floats in the shortest form that reads back to the same bits (zmij,
/// as serde_json: `1.0`, `1e21`, `-0.0`).
pub(super) fn number(out: &mut String, n: &Number) {
    match n.0 {
        N::PosInt(u) => out.push_str(&u.to_string()),
        N::NegInt(i) => out.push_str(&i.to_string()),
        N::Float(f) if f.is_finite() => out.push_str(zmij::Buffer::new().format_finite(f)),
        N::Float(_) => out.push_str("null"),
    }
}

/// A string in quotes: `"`, `\` and the control characters escaped (`\b \t \n \f \r`, the
/// rest as `\u00xx`), every other character, non-ASCII included, as it is.
fn string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut start = 0;
    for (i, byte) in s.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\x08' => "\\b",
            b'\x0c' => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        // Escaped bytes are ASCII, so `start..i` is on character boundaries.
        out.push_str(s.get(start..i).unwrap_or_default());
        start = i + 1;
        if escape.is_empty() {
            out.push_str("\\u00");
            for nibble in [byte >> 4, byte & 0xf] {
                out.push(char::from(
                    HEX.get(usize::from(nibble)).copied().unwrap_or(b'0'),
                ));
            }
        } else {
            out.push_str(escape);
        }
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
}
