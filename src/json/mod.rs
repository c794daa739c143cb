//! The module's JSON: a document model ([`Value`], [`Map`], [`Number`]), a strict reader
//! ([`from_slice`], [`from_str`]) and a compact writer (`Display`, [`to_string`]), in place of
//! serde_json (issue #22: serde_json, serde's `Value` (de)serialisation and their helpers were
//! some 30 KB of the module's code, all of it compiled by the host at load).
//!
//! The behaviour is serde_json's, as the module used it before (`serde_json::from_slice` into a
//! `Value`, `Value`'s `Display`), so configurations, keys and tokens are accepted and printed
//! as they were. `tests/json_differential.rs` compares both on generated documents and
//! mutations of them; the unit tests beside each part pin the rules one by one.
//!
//! Reading (parse.rs):
//! - RFC 8259 exactly: no trailing commas, no comments, no leading zeros, no `NaN` or
//!   `Infinity`, whitespace is space, tab, CR and LF only, and only whitespace may follow the
//!   value. Bytes that are not UTF-8 inside a string are refused; outside strings any byte
//!   that is not JSON is.
//! - `\u` escapes: a surrogate pair makes one character; a lone leading or trailing surrogate
//!   is refused (serde_json's "lone leading surrogate in hex escape" / "unexpected end of hex
//!   escape"). Control characters below 0x20 inside strings are refused.
//! - Nesting: arrays and objects deeper than 127 are refused with "recursion limit exceeded"
//!   (serde_json's limit of 128 levels of its own recursion), never a stack overflow.
//! - Objects: a repeated key keeps the last value; members are kept sorted by key (a
//!   `BTreeMap`, serde_json's default map), which is the order they are iterated and printed in.
//! - Numbers: an integer that fits `u64` is a `u64`, a negative one that fits `i64` an `i64`;
//!   everything else, `-0` and any number with a fraction or exponent (`1.0`, `1e2`) is an
//!   `f64`. [`Number::as_u64`]/[`Number::as_i64`] of a float are `None`. Floats are computed as
//!   serde_json does without its `float_roundtrip` feature (the way the module built it): the
//!   first 19 or 20 significant digits as a `u64`, times or divided by one power of ten from a
//!   table. That is not always correctly rounded (the last bit may differ from
//!   `str::parse::<f64>`), but it is bit for bit what the module did, and costs a 2.5 KB table
//!   and a few lines instead of core's correctly rounded parser. A number too large for an `f64`
//!   is refused ("number out of range"); one too small becomes `0.0`.
//! - Errors: serde_json's wording and position ("expected `,` or `}` at line 1 column 9"; the
//!   column counts bytes from 1, at the byte that could not be read).
//!
//! Writing (write.rs): compact, as `serde_json::to_string` writes: no spaces, object members in
//! key order, `"` `\` and control characters escaped (`\b \t \n \f \r`, the others as
//! `\u00xx`), everything else, non-ASCII included, as it is; integers in decimal and floats in
//! the shortest form that reads back to the same bits (the `zmij` crate serde_json uses: `1.0`,
//! `1e21`, `-0.0`).

use std::collections::BTreeMap;
use std::fmt;

mod parse;
mod write;

pub use parse::{from_slice, from_str, Error};
pub use write::to_string;

/// A JSON object: members sorted by key.
pub type Map<K = String, V = Value> = BTreeMap<K, V>;

/// A JSON value.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Value>),
    Object(Map<String, Value>),
}

/// A JSON number: a `u64`, a negative `i64`, or a finite `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Number(N);

#[derive(Debug, Clone, Copy, PartialEq)]
enum N {
    PosInt(u64),
    /// Always below zero.
    NegInt(i64),
    /// Always finite.
    Float(f64),
}

impl Number {
    /// A float as a number; `None` for NaN and the infinities, which JSON cannot hold.
    pub fn from_f64(f: f64) -> Option<Number> {
        f.is_finite().then_some(Number(N::Float(f)))
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self.0 {
            N::PosInt(u) => Some(u),
            N::NegInt(_) | N::Float(_) => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self.0 {
            N::PosInt(u) => i64::try_from(u).ok(),
            N::NegInt(i) => Some(i),
            N::Float(_) => None,
        }
    }

    /// The number as a float (integers above 2^53 rounded); always `Some`, as serde_json's.
    pub fn as_f64(&self) -> Option<f64> {
        Some(match self.0 {
            N::PosInt(u) => u as f64,
            N::NegInt(i) => i as f64,
            N::Float(f) => f,
        })
    }

    pub fn is_u64(&self) -> bool {
        matches!(self.0, N::PosInt(_))
    }

    pub fn is_i64(&self) -> bool {
        match self.0 {
            N::PosInt(u) => i64::try_from(u).is_ok(),
            N::NegInt(_) => true,
            N::Float(_) => false,
        }
    }

    pub fn is_f64(&self) -> bool {
        matches!(self.0, N::Float(_))
    }
}

impl From<u64> for Number {
    fn from(u: u64) -> Number {
        Number(N::PosInt(u))
    }
}

impl From<i64> for Number {
    fn from(i: i64) -> Number {
        match u64::try_from(i) {
            Ok(u) => Number(N::PosInt(u)),
            Err(_) => Number(N::NegInt(i)),
        }
    }
}

impl Value {
    /// A member of an object; `None` for a missing key or a value that is not an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?.get(key)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.as_object_mut()?.get_mut(key)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Map<String, Value>> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_object_mut(&mut self) -> Option<&mut Map<String, Value>> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn is_boolean(&self) -> bool {
        matches!(self, Value::Bool(_))
    }

    pub fn is_number(&self) -> bool {
        matches!(self, Value::Number(_))
    }

    pub fn is_u64(&self) -> bool {
        matches!(self, Value::Number(n) if n.is_u64())
    }

    pub fn is_i64(&self) -> bool {
        matches!(self, Value::Number(n) if n.is_i64())
    }

    pub fn is_f64(&self) -> bool {
        matches!(self, Value::Number(n) if n.is_f64())
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Value::String(_))
    }

    pub fn is_array(&self) -> bool {
        matches!(self, Value::Array(_))
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }

    /// The value, leaving `Null` in its place.
    pub fn take(&mut self) -> Value {
        std::mem::take(self)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<u64> for Value {
    fn from(u: u64) -> Value {
        Value::Number(u.into())
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Number(i.into())
    }
}

impl From<Map<String, Value>> for Value {
    fn from(m: Map<String, Value>) -> Value {
        Value::Object(m)
    }
}

impl From<Vec<Value>> for Value {
    fn from(a: Vec<Value>) -> Value {
        Value::Array(a)
    }
}

/// Compact JSON, byte for byte as `serde_json::to_string` writes it.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_string(self))
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write::number(&mut out, self);
        f.write_str(&out)
    }
}

/// Test-only: serde_json's `json!` literal as one of our values (through its text).
#[cfg(test)]
macro_rules! json {
    ($($t:tt)+) => {
        $crate::json::from_serde(&::serde_json::json!($($t)+))
    };
}
#[cfg(test)]
pub(crate) use json;

/// Test-only: a serde_json value as one of ours, through its compact text.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn from_serde(value: &serde_json::Value) -> Value {
    from_str(&value.to_string()).unwrap()
}

impl PartialEq<str> for Value {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl PartialEq<String> for Value {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == Some(other.as_str())
    }
}

/// Test-only, as serde_json's: `value["key"]` is the member or `Null`.
#[cfg(test)]
impl std::ops::Index<&str> for Value {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.get(key).unwrap_or(&NULL)
    }
}

/// Test-only, as serde_json's: `value["key"] = v` sets a member, turning `Null` into an object.
#[cfg(test)]
#[allow(clippy::panic)]
impl std::ops::IndexMut<&str> for Value {
    fn index_mut(&mut self, key: &str) -> &mut Value {
        if self.is_null() {
            *self = Value::Object(Map::new());
        }
        match self {
            Value::Object(members) => members.entry(key.to_owned()).or_insert(Value::Null),
            _ => panic!("cannot index {self:?} with {key:?}"),
        }
    }
}

/// Test-only: our values inside serde_json's `json!` literals and comparisons.
#[cfg(test)]
impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(Number(N::PosInt(u))) => s.serialize_u64(*u),
            Value::Number(Number(N::NegInt(i))) => s.serialize_i64(*i),
            Value::Number(Number(N::Float(f))) => s.serialize_f64(*f),
            Value::String(text) => s.serialize_str(text),
            Value::Array(items) => s.collect_seq(items),
            Value::Object(members) => s.collect_map(members),
        }
    }
}

#[cfg(test)]
mod tests;
