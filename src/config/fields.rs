//! The proto3-JSON reader: a JSON object walked member by member, with its path for error
//! messages, refusing unknown members and accepting both `snake_case` and `lowerCamelCase` names
//! as protobuf's JSON mapping does.

use serde_json::{Map, Value};

use crate::config::duration;
use crate::error::ConfigError;

/// A JSON object being validated, with its path for error messages.
pub(super) struct Fields<'a> {
    pub(super) map: &'a Map<String, Value>,
    pub(super) path: String,
}

impl<'a> Fields<'a> {
    pub(super) fn new(value: &'a Value, path: &str) -> Result<Fields<'a>, ConfigError> {
        let map = value
            .as_object()
            .ok_or_else(|| ConfigError::new(path, "must be a JSON object"))?;
        Ok(Fields {
            map,
            path: path.to_string(),
        })
    }

    pub(super) fn field(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    /// Looks a member up by its snake_case name, also accepting proto3 JSON's lowerCamelCase.
    pub(super) fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).or_else(|| self.map.get(&camel(name)))
    }

    /// Refuses members that are neither known nor expressly unsupported, and names the
    /// unsupported ones with what they would have done.
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
                return Err(ConfigError::new(
                    self.field(key),
                    format!("{what} are not supported by this filter; remove the field"),
                ));
            }
            return Err(ConfigError::new(self.field(key), "unknown field"));
        }
        Ok(())
    }

    pub(super) fn string(&self, name: &str) -> Result<Option<&'a str>, ConfigError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ConfigError::new(self.field(name), "must be a string")),
        }
    }

    pub(super) fn required_string(&self, name: &str) -> Result<&'a str, ConfigError> {
        match self.string(name)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(ConfigError::new(
                self.field(name),
                "is required and must be a non-empty string",
            )),
        }
    }

    pub(super) fn bool(&self, name: &str) -> Result<bool, ConfigError> {
        match self.get(name) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(ConfigError::new(self.field(name), "must be true or false")),
        }
    }

    pub(super) fn array(&self, name: &str) -> Result<&'a [Value], ConfigError> {
        match self.get(name) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(ConfigError::new(self.field(name), "must be an array")),
        }
    }

    pub(super) fn string_list(&self, name: &str) -> Result<Vec<String>, ConfigError> {
        self.array(name)?
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    ConfigError::new(format!("{}[{i}]", self.field(name)), "must be a string")
                })
            })
            .collect()
    }

    pub(super) fn duration_ms(&self, name: &str) -> Result<Option<u64>, ConfigError> {
        self.get(name)
            .map(|v| {
                duration::parse_millis(v)
                    .map_err(|reason| ConfigError::new(self.field(name), reason))
            })
            .transpose()
    }

    /// A proto3 `uint32`: a JSON number, or a string holding one.
    pub(super) fn uint32(&self, name: &str) -> Result<Option<u32>, ConfigError> {
        self.get(name)
            .map(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| {
                        ConfigError::new(
                            self.field(name),
                            "must be an integer between 0 and 4294967295",
                        )
                    })
            })
            .transpose()
    }

    pub(super) fn object(&self, name: &str) -> Result<Option<Fields<'a>>, ConfigError> {
        self.get(name)
            .map(|v| Fields::new(v, &self.field(name)))
            .transpose()
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

