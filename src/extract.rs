//! Finding tokens in a request: headers (with a value prefix such as `Bearer `) and query
//! parameters, the way native Envoy's extractor does.

use crate::config::Location;

/// Request headers as the host hands them over: lowercase names, in arrival order.
pub type Headers = [(String, String)];

pub fn header<'h>(headers: &'h Headers, name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A token and where it came from, so it can be removed when `forward` is false.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found<'h> {
    pub token: &'h str,
    pub location: &'h Location,
}

/// Every token found at `locations`, in order; the same token found twice counts once.
pub fn tokens<'h>(locations: &'h [Location], headers: &'h Headers) -> Vec<Found<'h>> {
    let mut found: Vec<Found<'h>> = Vec::new();
    for location in locations {
        let token = match location {
            Location::Header { name, value_prefix } => headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .find_map(|(_, value)| from_header_value(value, value_prefix)),
            Location::Param(name) => {
                header(headers, ":path").and_then(|path| from_query(path, name))
            }
            Location::Cookie(name) => headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
                .find_map(|(_, value)| from_cookie(value, name)),
        };
        if let Some(token) = token {
            if !found.iter().any(|f| f.token == token) {
                found.push(Found { token, location });
            }
        }
    }
    found
}

/// Native behaviour: the prefix is matched case-sensitively anywhere in the value; the token
/// starts at the first base64url character or dot after it and runs to the end of the value
/// (so `Bearer   x` gives `x`, and `Bearer !!!.e30.sig` gives `.e30.sig`, a malformed token).
fn from_header_value<'v>(value: &'v str, prefix: &str) -> Option<&'v str> {
    // The usual value starts with the prefix: that test is cheap, and a substring search
    // (which must set up a two-way searcher) is the fallback.
    let rest = match value.strip_prefix(prefix) {
        Some(rest) => rest,
        None => {
            let at = value.find(prefix)?;
            value.get(at + prefix.len()..)?
        }
    };
    let token = rest.trim_start_matches(|c: char| {
        !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    });
    (!token.is_empty()).then_some(token)
}

/// The value of query parameter `name` in `:path`. Tokens are base64url and dots, which need
/// no percent-encoding, so a value that would need decoding is not a token we can use as is;
/// it is returned raw and fails parsing with a clear status.
fn from_query<'p>(path: &'p str, name: &str) -> Option<&'p str> {
    let query = path.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or_default();
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// The value of cookie `name` in one `Cookie` header (RFC 6265 §4.2), quotes removed.
fn from_cookie<'c>(header: &'c str, name: &str) -> Option<&'c str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn default_locations() -> Vec<Location> {
        vec![
            Location::Header {
                name: "authorization".into(),
                value_prefix: "Bearer ".into(),
            },
            Location::Param("access_token".into()),
        ]
    }

    fn first(headers: &[(&str, &str)]) -> Option<String> {
        let locations = default_locations();
        let headers = h(headers);
        tokens(&locations, &headers)
            .first()
            .map(|f| f.token.to_string())
    }

    #[test]
    fn bearer_like_native() {
        assert_eq!(
            first(&[("authorization", "Bearer abc.def.ghi")]).as_deref(),
            Some("abc.def.ghi")
        );
        assert_eq!(
            first(&[("authorization", "Bearer   abc")]).as_deref(),
            Some("abc")
        );
        assert_eq!(
            first(&[("authorization", "Basic x, Bearer abc")]).as_deref(),
            Some("abc")
        );
        assert_eq!(
            first(&[("authorization", "Bearer abc .jjj")]).as_deref(),
            Some("abc .jjj")
        );
        assert_eq!(
            first(&[("authorization", "bearer abc")]),
            None,
            "prefix is case-sensitive"
        );
        assert_eq!(first(&[("authorization", "Bearer ")]), None);
        assert_eq!(
            first(&[("authorization", "Bearer !!!.e30.sig")]).as_deref(),
            Some(".e30.sig")
        );
        assert_eq!(
            first(&[("authorization", "Bearer a!a.e30.sig")]).as_deref(),
            Some("a!a.e30.sig")
        );
        assert_eq!(first(&[("authorization", "Bearer \t+/")]), None);
        assert_eq!(first(&[("authorization", "abc")]), None);
        assert_eq!(first(&[]), None);
    }

    #[test]
    fn query_parameter() {
        assert_eq!(
            first(&[(":path", "/x?a=1&access_token=t.o.k&b=2")]).as_deref(),
            Some("t.o.k")
        );
        assert_eq!(first(&[(":path", "/x?access_token=")]), None);
        assert_eq!(first(&[(":path", "/x?other_access_token=t")]), None);
    }

    #[test]
    fn cookies() {
        let locations = vec![Location::Cookie("session".into())];
        let headers = h(&[("cookie", "a=1; session=tok.en.x; b=2")]);
        assert_eq!(tokens(&locations, &headers)[0].token, "tok.en.x");
        let headers = h(&[("cookie", "a=1"), ("cookie", "session=\"q.u.o\"")]);
        assert_eq!(tokens(&locations, &headers)[0].token, "q.u.o");
        let headers = h(&[("cookie", "xsession=t; session=")]);
        assert!(tokens(&locations, &headers).is_empty());
    }

    #[test]
    fn custom_header_without_prefix_and_duplicates() {
        let locations = vec![
            Location::Header {
                name: "x-token".into(),
                value_prefix: String::new(),
            },
            Location::Param("jwt".into()),
        ];
        let headers = h(&[("x-token", "tok"), (":path", "/?jwt=tok")]);
        let found = tokens(&locations, &headers);
        assert_eq!(found.len(), 1, "the same token twice is one token");
        let headers = h(&[("x-token", "tok"), (":path", "/?jwt=other")]);
        assert_eq!(tokens(&locations, &headers).len(), 2);
    }
}
