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
    pub(super) path: Path<'a>,
}

/// Where an object sits in the configuration: a chain of borrowed names, written out as text
/// (`providers.p.from_headers[0]`) only when a refusal names it. Reading an accepted
/// configuration allocates no path.
#[derive(Clone, Copy)]
pub(super) enum Path<'a> {
    Root,
    /// `parent.name`.
    Key(&'a Path<'a>, &'a str),
    /// `parent.name[i]`.
    Item(&'a Path<'a>, &'a str, usize),
}

impl Path<'_> {
    /// The path as refusals name it.
    #[cold]
    #[inline(never)]
    pub(super) fn text(&self) -> String {
        match self {
            Path::Root => String::new(),
            Path::Key(parent, name) => join(&parent.text(), name),
            Path::Item(parent, name, i) => index(&join(&parent.text(), name), *i),
        }
    }
}

/// A refusal as the parsers pass it up: one pointer, so that each `?` moves a word rather than
/// two `String`s. [`Config::parse`](crate::authn::model::Config::parse) unboxes it.
pub(super) type Refused = Box<ConfigError>;

/// A refusal at `field`, its reason joined from `parts`.
#[cold]
#[inline(never)]
pub(super) fn refusal(field: &str, parts: &[&str]) -> Refused {
    Box::new(ConfigError {
        field: field.to_string(),
        reason: parts.concat(),
    })
}

/// The member `name` of `map`: one copy of the map's search for every reader.
#[inline(never)]
pub(super) fn member<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.get(name)
}

/// A decimal `u64` as `str::parse` reads it: one copy of the parser for every reader.
#[inline(never)]
pub(super) fn parse_u64(s: &str) -> Option<u64> {
    s.parse().ok()
}

/// `s` as an owned `String`: one copy of the allocation and copy for every parser.
#[inline(never)]
pub(super) fn owned(s: &str) -> String {
    s.to_string()
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
    /// `value` as an object at `path`.
    #[inline(never)]
    pub(super) fn at(value: &'a Value, path: Path<'a>) -> Result<Fields<'a>, Refused> {
        match value.as_object() {
            Some(map) => Ok(Fields { map, path }),
            None => Err(refusal(&path.text(), &["must be a JSON object"])),
        }
    }

    /// `value`, the member `name` of this object, as an object.
    pub(super) fn child<'s>(
        &'s self,
        name: &'s str,
        value: &'s Value,
    ) -> Result<Fields<'s>, Refused> {
        Fields::at(value, Path::Key(&self.path, name))
    }

    /// `value`, entry `i` of the array member `name`, as an object.
    pub(super) fn item<'s>(
        &'s self,
        name: &'s str,
        i: usize,
        value: &'s Value,
    ) -> Result<Fields<'s>, Refused> {
        Fields::at(value, Path::Item(&self.path, name, i))
    }

    /// The path of member `name`, as refusals name it.
    #[cold]
    #[inline(never)]
    pub(super) fn field(&self, name: &str) -> String {
        join(&self.path.text(), name)
    }

    /// A refusal of member `name`.
    #[cold]
    #[inline(never)]
    pub(super) fn err(&self, name: &str, reason: &str) -> Refused {
        self.err_parts(name, &[reason])
    }

    /// A refusal of member `name`, its reason joined from `parts`.
    #[cold]
    #[inline(never)]
    pub(super) fn err_parts(&self, name: &str, parts: &[&str]) -> Refused {
        Box::new(ConfigError {
            field: self.field(name),
            reason: parts.concat(),
        })
    }

    /// A refusal of this object as a whole.
    #[cold]
    #[inline(never)]
    pub(super) fn err_here(&self, reason: &str) -> Refused {
        refusal(&self.path.text(), &[reason])
    }

    /// Looks a member up by its snake_case name, also accepting proto3 JSON's lowerCamelCase.
    #[inline(never)]
    pub(super) fn get(&self, name: &str) -> Option<&'a Value> {
        match member(self.map, name) {
            Some(v) => Some(v),
            None => member(self.map, &camel(name)),
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
    ) -> Result<(), Refused> {
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
    ) -> Result<Option<&'a Value>, Refused> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if is(v) => Ok(Some(v)),
            Some(_) => Err(self.err(name, reason)),
        }
    }

    #[inline(never)]
    pub(super) fn string(&self, name: &str) -> Result<Option<&'a str>, Refused> {
        Ok(self
            .typed(name, Value::is_string, "must be a string")?
            .and_then(Value::as_str))
    }

    #[inline(never)]
    pub(super) fn required_string(&self, name: &str) -> Result<&'a str, Refused> {
        match self.string(name)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(self.err(name, "is required and must be a non-empty string")),
        }
    }

    /// A string member, owned; `None` when absent.
    #[inline(never)]
    pub(super) fn owned_string(&self, name: &str) -> Result<Option<String>, Refused> {
        Ok(self.string(name)?.map(owned))
    }

    #[inline(never)]
    pub(super) fn bool(&self, name: &str) -> Result<bool, Refused> {
        Ok(self
            .typed(name, Value::is_boolean, "must be true or false")?
            .and_then(Value::as_bool)
            .unwrap_or(false))
    }

    #[inline(never)]
    pub(super) fn array(&self, name: &str) -> Result<&'a [Value], Refused> {
        Ok(
            match self.typed(name, Value::is_array, "must be an array")? {
                Some(Value::Array(items)) => items,
                _ => &[],
            },
        )
    }

    #[inline(never)]
    pub(super) fn string_list(&self, name: &str) -> Result<Vec<String>, Refused> {
        let items = self.array(name)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, v) in items.iter().enumerate() {
            match v.as_str() {
                Some(s) => out.push(owned(s)),
                None => return Err(refusal(&index(&self.field(name), i), &["must be a string"])),
            }
        }
        Ok(out)
    }

    #[inline(never)]
    pub(super) fn duration_ms(&self, name: &str) -> Result<Option<u64>, Refused> {
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
    pub(super) fn duration_or(&self, name: &str, default: u64) -> Result<u64, Refused> {
        Ok(self.duration_ms(name)?.unwrap_or(default))
    }

    /// A proto3 `uint32`: a JSON number, or a string holding one.
    #[inline(never)]
    pub(super) fn uint32(&self, name: &str) -> Result<Option<u32>, Refused> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let n = match v {
            Value::String(s) => parse_u64(s),
            _ => v.as_u64(),
        };
        match n.and_then(|n| u32::try_from(n).ok()) {
            Some(n) => Ok(Some(n)),
            None => Err(self.err(name, "must be an integer between 0 and 4294967295")),
        }
    }

    #[inline(never)]
    pub(super) fn object<'s>(&'s self, name: &'s str) -> Result<Option<Fields<'s>>, Refused> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => self.child(name, v).map(Some),
        }
    }

    /// A member that must be present and an object; `is required` when absent.
    #[inline(never)]
    pub(super) fn required_object<'s>(&'s self, name: &'s str) -> Result<Fields<'s>, Refused> {
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

