//! Request matching for `rules[].match`, with Envoy's `RouteMatch` semantics for the parts this
//! filter implements (path `prefix`/`path`/`safe_regex`, `case_sensitive`, `headers`,
//! `query_parameters`) plus `route_name`, an extension matched against Envoy's `xds.route_name`
//! property so policy can follow the route table. Also Envoy's `StringMatcher`.


use crate::request::extract::{self, Headers};
use crate::request::regex::Regex;

/// What a rule is matched against.
pub struct Request<'r> {
    pub headers: &'r Headers,
    /// Envoy's route name for this request (`xds.route_name`), when the configuration uses it.
    pub route_name: Option<&'r str>,
}

impl<'r> Request<'r> {
    pub fn new(headers: &'r Headers) -> Request<'r> {
        Request {
            headers,
            route_name: None,
        }
    }

    pub fn header(&self, name: &str) -> Option<&'r str> {
        extract::header(self.headers, name)
    }

    /// `:path` without query and fragment.
    pub fn path(&self) -> &'r str {
        let path = self.header(":path").unwrap_or("/");
        path.split(['?', '#']).next().unwrap_or_default()
    }

    /// Values of query parameter `name` (raw, not percent-decoded).
    pub fn query_values(&self, name: &'r str) -> impl Iterator<Item = &'r str> + 'r {
        extract::query_pairs(self.header(":path").unwrap_or_default())
            .filter(move |(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

/// Envoy's `type.matcher.v3.StringMatcher`.
#[derive(Debug, Clone)]
pub enum StringMatcher {
    Exact(String, bool),
    Prefix(String, bool),
    Suffix(String, bool),
    Contains(String, bool),
    Regex(Regex),
}

impl StringMatcher {
    pub fn matches(&self, value: &str) -> bool {
        fn fold(s: &str, ignore_case: bool) -> std::borrow::Cow<'_, str> {
            if ignore_case {
                std::borrow::Cow::Owned(s.to_ascii_lowercase())
            } else {
                std::borrow::Cow::Borrowed(s)
            }
        }
        match self {
            StringMatcher::Exact(s, ic) => *fold(value, *ic) == **s,
            StringMatcher::Prefix(s, ic) => fold(value, *ic).starts_with(s.as_str()),
            StringMatcher::Suffix(s, ic) => fold(value, *ic).ends_with(s.as_str()),
            StringMatcher::Contains(s, ic) => fold(value, *ic).contains(s.as_str()),
            // Envoy's safe_regex must match the whole value.
            StringMatcher::Regex(re) => re.is_full_match(value),
        }
    }
}

impl PartialEq for StringMatcher {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (StringMatcher::Exact(a, x), StringMatcher::Exact(b, y))
            | (StringMatcher::Prefix(a, x), StringMatcher::Prefix(b, y))
            | (StringMatcher::Suffix(a, x), StringMatcher::Suffix(b, y))
            | (StringMatcher::Contains(a, x), StringMatcher::Contains(b, y)) => a == b && x == y,
            (StringMatcher::Regex(a), StringMatcher::Regex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum PathMatch {
    Prefix(String),
    Exact(String),
    Regex(StringMatcher),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ValueMatch {
    /// `present_match`: the header or parameter is there (or, with `false`, is not).
    Present(bool),
    String(StringMatcher),
}

#[derive(Debug, Clone, PartialEq)]
pub struct HeaderMatch {
    pub name: String,
    pub value: ValueMatch,
    pub invert: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueryMatch {
    pub name: String,
    pub value: ValueMatch,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RouteMatch {
    pub path: PathMatch,
    pub case_sensitive: bool,
    pub headers: Vec<HeaderMatch>,
    pub query_parameters: Vec<QueryMatch>,
    pub route_name: Option<StringMatcher>,
}

impl RouteMatch {
    pub fn matches(&self, request: &Request) -> bool {
        let path = request.path();
        let path_ok = match &self.path {
            PathMatch::Prefix(prefix) if self.case_sensitive => path.starts_with(prefix.as_str()),
            PathMatch::Prefix(prefix) => path
                .get(..prefix.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(prefix)),
            PathMatch::Exact(exact) if self.case_sensitive => path == exact,
            PathMatch::Exact(exact) => path.eq_ignore_ascii_case(exact),
            PathMatch::Regex(re) => re.matches(path),
        };
        path_ok
            && self.headers.iter().all(|h| h.matches(request))
            && self.query_parameters.iter().all(|q| q.matches(request))
            && self
                .route_name
                .as_ref()
                .is_none_or(|m| request.route_name.is_some_and(|name| m.matches(name)))
    }
}

impl HeaderMatch {
    /// Envoy's header matching: several values of one header are matched joined with `,`;
    /// `invert_match` flips the result, except that a missing header never matches a value
    /// matcher, inverted or not (so an inverted matcher cannot be satisfied by leaving the
    /// header out).
    fn matches(&self, request: &Request) -> bool {
        let values: Vec<&str> = request
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(&self.name))
            .map(|(_, v)| v.as_str())
            .collect();
        match (&self.value, values.is_empty()) {
            (ValueMatch::Present(want), missing) => (*want != missing) != self.invert,
            (ValueMatch::String(_), true) => false,
            (ValueMatch::String(m), false) => m.matches(&values.join(",")) != self.invert,
        }
    }
}

impl QueryMatch {
    fn matches(&self, request: &Request) -> bool {
        let mut values = request.query_values(&self.name);
        match &self.value {
            ValueMatch::Present(want) => values.next().is_some() == *want,
            ValueMatch::String(m) => values.next().is_some_and(|v| m.matches(v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(path: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut h = vec![(":path".to_string(), path.to_string())];
        h.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        h
    }

    fn route(path: PathMatch) -> RouteMatch {
        RouteMatch {
            path,
            case_sensitive: true,
            headers: vec![],
            query_parameters: vec![],
            route_name: None,
        }
    }

    #[test]
    fn paths() {
        let h = headers("/Api/v1?x=1", &[]);
        let r = Request::new(&h);
        assert!(!route(PathMatch::Prefix("/api".into())).matches(&r));
        assert!(RouteMatch {
            case_sensitive: false,
            ..route(PathMatch::Prefix("/api".into()))
        }
        .matches(&r));
        assert!(route(PathMatch::Exact("/Api/v1".into())).matches(&r));
        let re = Regex::new("/[A-Z]pi/v[0-9]+").unwrap();
        assert!(route(PathMatch::Regex(StringMatcher::Regex(re))).matches(&r));
        let partial = Regex::new("/Api").unwrap();
        assert!(
            !route(PathMatch::Regex(StringMatcher::Regex(partial))).matches(&r),
            "regex must match the whole path"
        );
    }

    #[test]
    fn headers_and_query() {
        let h = headers("/x?tenant=a&debug", &[("x-env", "prod"), ("x-env", "eu")]);
        let r = Request::new(&h);
        let hm = |value, invert| RouteMatch {
            headers: vec![HeaderMatch {
                name: "x-env".into(),
                value,
                invert,
            }],
            ..route(PathMatch::Prefix("/".into()))
        };
        assert!(hm(
            ValueMatch::String(StringMatcher::Exact("prod,eu".into(), false)),
            false
        )
        .matches(&r));
        assert!(hm(ValueMatch::Present(true), false).matches(&r));
        assert!(!hm(ValueMatch::Present(true), true).matches(&r));
        assert!(hm(
            ValueMatch::String(StringMatcher::Prefix("staging".into(), false)),
            true
        )
        .matches(&r));
        let bare = headers("/x", &[]);
        let bare = Request::new(&bare);
        assert!(
            !hm(
                ValueMatch::String(StringMatcher::Exact("prod".into(), false)),
                true
            )
            .matches(&bare),
            "a missing header never matches, inverted or not"
        );
        assert!(hm(ValueMatch::Present(true), true).matches(&bare));
        assert!(hm(ValueMatch::Present(false), false).matches(&bare));
        let qm = |name: &str, value| RouteMatch {
            query_parameters: vec![QueryMatch {
                name: name.into(),
                value,
            }],
            ..route(PathMatch::Prefix("/".into()))
        };
        assert!(qm(
            "tenant",
            ValueMatch::String(StringMatcher::Exact("a".into(), false))
        )
        .matches(&r));
        assert!(qm("debug", ValueMatch::Present(true)).matches(&r));
        assert!(!qm("other", ValueMatch::Present(true)).matches(&r));
        assert!(qm("other", ValueMatch::Present(false)).matches(&r));
    }

    #[test]
    fn route_name() {
        let h = headers("/x", &[]);
        let m = RouteMatch {
            route_name: Some(StringMatcher::Exact("orders".into(), false)),
            ..route(PathMatch::Prefix("/".into()))
        };
        assert!(!m.matches(&Request::new(&h)));
        assert!(m.matches(&Request {
            headers: &h,
            route_name: Some("orders")
        }));
        assert!(!m.matches(&Request {
            headers: &h,
            route_name: Some("billing")
        }));
    }

    #[test]
    fn ignore_case_string_matcher() {
        assert!(StringMatcher::Exact("abc".into(), true).matches("ABC"));
        assert!(!StringMatcher::Exact("abc".into(), false).matches("ABC"));
    }
}
