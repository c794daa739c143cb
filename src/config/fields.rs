//! The proto3-JSON reader: a JSON object walked member by member, with its path for error
//! messages, refusing unknown members and accepting both `snake_case` and `lowerCamelCase` names
//! as protobuf's JSON mapping does.
//!
//! Shaped for size (the parsers run once, at load; TurboFan compiles every byte of them): each
//! reader is one out-of-line function, and refusals are built by the cold [`Fields::err`] family
//! from static parts, so a parser's body holds calls and string constants, not formatting code.

use serde_json::{Map, Value};

use crate::config::duration;
use crate::error::ConfigError;

/// A JSON object being validated, with its path for error messages.
pub(super) struct Fields<'a> {
    pub(super) map: &'a Map<String, Value>,
    pub(super) path: String,
}

/// A refusal at `field`, its reason joined from `parts`.
#[cold]
#[inline(never)]
pub(super) fn refusal(field: &str, parts: &[&str]) -> ConfigError {
    ConfigError {
        field: field.to_string(),
        reason: parts.concat(),
    }
}

/// `n` in decimal, for a refusal's parts.
#[cold]
#[inline(never)]
pub(super) fn decimal(n: u64) -> String {
    n.to_string()
}

/// `path.name`, or `name` at the root.
#[inline(never)]
pub(super) fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        [path, ".", name].concat()
    }
}

/// `path[i]`.
#[inline(never)]
pub(super) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

impl<'a> Fields<'a> {
    #[inline(never)]
    pub(super) fn new(value: &'a Value, path: &str) -> Result<Fields<'a>, ConfigError> {
        match value.as_object() {
            Some(map) => Ok(Fields {
                map,
                path: path.to_string(),
            }),
            None => Err(refusal(path, &["must be a JSON object"])),
        }
    }

    /// `value` as an object at `self.field(name)[i]`.
    #[inline(never)]
    pub(super) fn item(&self, name: &str, i: usize, value: &'a Value) -> Result<Fields<'a>, ConfigError> {
        Fields::new(value, &index(&self.field(name), i))
    }

    pub(super) fn field(&self, name: &str) -> String {
        join(&self.path, name)
    }

    /// A refusal of member `name`.
    #[cold]
    #[inline(never)]
    pub(super) fn err(&self, name: &str, reason: &str) -> ConfigError {
        self.err_parts(name, &[reason])
    }

    /// A refusal of member `name`, its reason joined from `parts`.
    #[cold]
    #[inline(never)]
    pub(super) fn err_parts(&self, name: &str, parts: &[&str]) -> ConfigError {
        ConfigError {
            field: self.field(name),
            reason: parts.concat(),
        }
    }

    /// A refusal of this object as a whole.
    #[cold]
    #[inline(never)]
    pub(super) fn err_here(&self, reason: &str) -> ConfigError {
        refusal(&self.path, &[reason])
    }

    /// Looks a member up by its snake_case name, also accepting proto3 JSON's lowerCamelCase.
    #[inline(never)]
    pub(super) fn get(&self, name: &str) -> Option<&'a Value> {
        match self.map.get(name) {
            Some(v) => Some(v),
            None => self.map.get(&camel(name)),
        }
    }

    /// Whether member `name` is present, in either spelling.
    pub(super) fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Refuses members that are neither known nor expressly unsupported, and names the
    /// unsupported ones with what they would have done.
    #[inline(never)]
    pub(super) fn refuse_unknown(
        &self,
        known: &[&str],
        unsupported: &[(&str, &str)],
    ) -> Result<(), ConfigError> {
        for key in self.map.keys() {
            let snake = snake(key);
            // Only the two spellings `get` reads: a mix such as `safe_regexMatch` would pass
            // the snake_case test and then be silently ignored.
            if known.contains(&snake.as_str()) && (*key == snake || *key == camel(&snake)) {
                continue;
            }
            if let Some((_, what)) = unsupported.iter().find(|(name, _)| *name == snake) {
                return Err(self.err_parts(
                    key,
                    &[what, " are not supported by this filter; remove the field"],
                ));
            }
            return Err(self.err(key, "unknown field"));
        }
        Ok(())
    }

    /// Member `name` if present, refused with `reason` unless `is` holds for it.
    #[inline(never)]
    fn typed(
        &self,
        name: &str,
        is: fn(&Value) -> bool,
        reason: &str,
    ) -> Result<Option<&'a Value>, ConfigError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if is(v) => Ok(Some(v)),
            Some(_) => Err(self.err(name, reason)),
        }
    }

    #[inline(never)]
    pub(super) fn string(&self, name: &str) -> Result<Option<&'a str>, ConfigError> {
        Ok(self
            .typed(name, Value::is_string, "must be a string")?
            .and_then(Value::as_str))
    }

    #[inline(never)]
    pub(super) fn required_string(&self, name: &str) -> Result<&'a str, ConfigError> {
        match self.string(name)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(self.err(name, "is required and must be a non-empty string")),
        }
    }

    /// A string member, owned; `None` when absent.
    #[inline(never)]
    pub(super) fn owned_string(&self, name: &str) -> Result<Option<String>, ConfigError> {
        Ok(self.string(name)?.map(str::to_string))
    }

    #[inline(never)]
    pub(super) fn bool(&self, name: &str) -> Result<bool, ConfigError> {
        Ok(self
            .typed(name, Value::is_boolean, "must be true or false")?
            .and_then(Value::as_bool)
            .unwrap_or(false))
    }

    #[inline(never)]
    pub(super) fn array(&self, name: &str) -> Result<&'a [Value], ConfigError> {
        Ok(
            match self.typed(name, Value::is_array, "must be an array")? {
                Some(Value::Array(items)) => items,
                _ => &[],
            },
        )
    }

    #[inline(never)]
    pub(super) fn string_list(&self, name: &str) -> Result<Vec<String>, ConfigError> {
        let items = self.array(name)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, v) in items.iter().enumerate() {
            match v.as_str() {
                Some(s) => out.push(s.to_string()),
                None => return Err(refusal(&index(&self.field(name), i), &["must be a string"])),
            }
        }
        Ok(out)
    }

    #[inline(never)]
    pub(super) fn duration_ms(&self, name: &str) -> Result<Option<u64>, ConfigError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => match duration::parse_millis(v) {
                Ok(ms) => Ok(Some(ms)),
                Err(reason) => Err(self.err(name, &reason)),
            },
        }
    }

    /// A duration member in milliseconds, `default` when absent.
    #[inline(never)]
    pub(super) fn duration_or(&self, name: &str, default: u64) -> Result<u64, ConfigError> {
        Ok(self.duration_ms(name)?.unwrap_or(default))
    }

    /// A proto3 `uint32`: a JSON number, or a string holding one.
    #[inline(never)]
    pub(super) fn uint32(&self, name: &str) -> Result<Option<u32>, ConfigError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let n = match v {
            Value::String(s) => s.parse::<u64>().ok(),
            _ => v.as_u64(),
        };
        match n.and_then(|n| u32::try_from(n).ok()) {
            Some(n) => Ok(Some(n)),
            None => Err(self.err(name, "must be an integer between 0 and 4294967295")),
        }
    }

    #[inline(never)]
    pub(super) fn object(&self, name: &str) -> Result<Option<Fields<'a>>, ConfigError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => Fields::new(v, &self.field(name)).map(Some),
        }
    }

    /// A member that must be present and an object; `is required` when absent.
    #[inline(never)]
    pub(super) fn required_object(&self, name: &str) -> Result<Fields<'a>, ConfigError> {
        match self.object(name)? {
            Some(f) => Ok(f),
            None => Err(self.err(name, "is required")),
        }
    }
}

pub(super) fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

pub(super) fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

