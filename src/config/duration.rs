//! Protobuf `Duration` values as proto3 JSON writes them: `"300s"`, `"1.5s"`, or
//! `{"seconds": 300, "nanos": 0}`. Parsed into whole milliseconds.

use serde_json::Value;

use crate::config::fields::{member, parse_u64};

/// Milliseconds, or a reason the value is not a duration.
#[inline(never)]
pub fn parse_millis(value: &Value) -> Result<u64, String> {
    match value {
        Value::String(s) => parse_text(s).ok_or_else(|| {
            reason(&["`", s, "` is not a duration like \"300s\" or \"0.5s\""])
        }),
        Value::Object(map) => {
            for key in map.keys() {
                if key != "seconds" && key != "nanos" {
                    return Err(reason(&[
                        "unknown member `",
                        key,
                        "` (expected `seconds` and `nanos`)",
                    ]));
                }
            }
            let seconds = match member(map, "seconds") {
                None => Some(0),
                Some(Value::Number(n)) => n.as_u64(),
                // proto3 JSON writes int64 as a string.
                Some(Value::String(s)) => parse_u64(s),
                Some(_) => None,
            };
            let Some(seconds) = seconds else {
                return Err(reason(&["`seconds` must be a non-negative integer"]));
            };
            let nanos = match member(map, "nanos") {
                None => 0,
                Some(Value::Number(n)) => match n.as_u64().filter(|n| *n < 1_000_000_000) {
                    Some(n) => n,
                    None => return Err(reason(&["`nanos` must be in 0..1e9"])),
                },
                Some(_) => return Err(reason(&["`nanos` must be an integer"])),
            };
            seconds
                .checked_mul(1000)
                .and_then(|ms| ms.checked_add(nanos / 1_000_000))
                .ok_or_else(|| reason(&["duration too large"]))
        }
        _ => Err(reason(&[
            "must be a string like \"300s\" or an object {\"seconds\": 300}",
        ])),
    }
}

/// A refusal's reason, joined from static parts out of line.
#[cold]
#[inline(never)]
fn reason(parts: &[&str]) -> String {
    parts.concat()
}

/// `"300s"`, `"1.5s"`: `None` for anything else.
fn parse_text(s: &str) -> Option<u64> {
    let number = s.strip_suffix('s')?;
    let (whole, frac) = match number.split_once('.') {
        Some((w, f)) => (w, f),
        None => (number, ""),
    };
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 9
    {
        return None;
    }
    let seconds = parse_u64(whole)?;
    let mut millis_frac = 0u64;
    for (i, digit) in frac.bytes().take(3).enumerate() {
        let place = [100u64, 10, 1].get(i).copied().unwrap_or(0);
        millis_frac += u64::from(digit - b'0') * place;
    }
    seconds
        .checked_mul(1000)
        .and_then(|ms| ms.checked_add(millis_frac))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_both_proto3_spellings() {
        assert_eq!(parse_millis(&json!("300s")), Ok(300_000));
        assert_eq!(parse_millis(&json!("1.5s")), Ok(1_500));
        assert_eq!(parse_millis(&json!("0.000000001s")), Ok(0));
        assert_eq!(parse_millis(&json!({"seconds": 300})), Ok(300_000));
        assert_eq!(
            parse_millis(&json!({"seconds": "2", "nanos": 500_000_000})),
            Ok(2_500)
        );
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            json!("300"),
            json!("5m"),
            json!("-1s"),
            json!("s"),
            json!(".5s"),
            json!(5),
            json!({"secs": 1}),
            json!({"seconds": -1}),
            json!("1.0000000001s"),
        ] {
            assert!(parse_millis(&bad).is_err(), "{bad}");
        }
    }
}
