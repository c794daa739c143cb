//! Protobuf `Duration` values as proto3 JSON writes them: `"300s"`, `"1.5s"`, or
//! `{"seconds": 300, "nanos": 0}`. Parsed into whole milliseconds.

use serde_json::Value;

/// Milliseconds, or a reason the value is not a duration.
#[inline(never)]
pub fn parse_millis(value: &Value) -> Result<u64, String> {
    match value {
        Value::String(s) => parse_text(s),
        Value::Object(map) => {
            for key in map.keys() {
                if key != "seconds" && key != "nanos" {
                    return Err(format!(
                        "unknown member `{key}` (expected `seconds` and `nanos`)"
                    ));
                }
            }
            let seconds = match map.get("seconds") {
                None => 0,
                Some(Value::Number(n)) => n
                    .as_u64()
                    .ok_or("`seconds` must be a non-negative integer")?,
                // proto3 JSON writes int64 as a string.
                Some(Value::String(s)) => s
                    .parse::<u64>()
                    .map_err(|_| "`seconds` must be a non-negative integer")?,
                Some(_) => return Err("`seconds` must be a non-negative integer".into()),
            };
            let nanos = match map.get("nanos") {
                None => 0,
                Some(Value::Number(n)) => n
                    .as_u64()
                    .filter(|n| *n < 1_000_000_000)
                    .ok_or("`nanos` must be in 0..1e9")?,
                Some(_) => return Err("`nanos` must be an integer".into()),
            };
            seconds
                .checked_mul(1000)
                .and_then(|ms| ms.checked_add(nanos / 1_000_000))
                .ok_or_else(|| "duration too large".into())
        }
        _ => Err("must be a string like \"300s\" or an object {\"seconds\": 300}".into()),
    }
}

fn parse_text(s: &str) -> Result<u64, String> {
    let bad = || format!("`{s}` is not a duration like \"300s\" or \"0.5s\"");
    let number = s.strip_suffix('s').ok_or_else(bad)?;
    let (whole, frac) = match number.split_once('.') {
        Some((w, f)) => (w, f),
        None => (number, ""),
    };
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 9
    {
        return Err(bad());
    }
    let seconds: u64 = whole.parse().map_err(|_| bad())?;
    let mut millis_frac = 0u64;
    for (i, digit) in frac.bytes().take(3).enumerate() {
        let place = [100u64, 10, 1].get(i).copied().unwrap_or(0);
        millis_frac += u64::from(digit - b'0') * place;
    }
    seconds
        .checked_mul(1000)
        .and_then(|ms| ms.checked_add(millis_frac))
        .ok_or_else(bad)
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
