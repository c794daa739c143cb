//! Finding tokens in a request: headers (with a value prefix such as `Bearer `) and query
//! parameters, the way native Envoy's extractor does.

use std::borrow::Cow;


/// Where a token is looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A header (lowercase name) and the prefix before the token (`"Bearer "`), may be empty.
    Header { name: String, value_prefix: String },
    /// A query parameter.
    Param(String),
    /// A cookie.
    Cookie(String),
}

/// Request headers as the host hands them over: lowercase names, in arrival order.
pub type Headers = [(String, String)];

pub fn header<'h>(headers: &'h Headers, name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A token and where it came from, so it can be removed when `forward` is false. Borrowed
/// from the request, except a query parameter that had to be percent-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found<'h> {
    pub token: Cow<'h, str>,
    pub location: &'h Location,
}

/// Every token found at `locations`, in order; the same token found twice counts once. As
/// native, each value of a header (Envoy keeps the repeated values of most headers apart; it
/// joins those of `Authorization` into one) holding the prefix is a token of its own, and every
/// token must verify; a query parameter or cookie gives its first value only.
pub fn tokens<'h>(locations: &'h [Location], headers: &'h Headers) -> Vec<Found<'h>> {
    let mut found: Vec<Found<'h>> = Vec::new();
    let mut push = |token: Cow<'h, str>, location: &'h Location| {
        if !found.iter().any(|f| f.token == token) {
            found.push(Found { token, location });
        }
    };
    for location in locations {
        match location {
            Location::Header { name, value_prefix } => {
                for (n, value) in headers {
                    if n.eq_ignore_ascii_case(name) {
                        if let Some(token) = from_header_value(value, value_prefix) {
                            push(Cow::Borrowed(token), location);
                        }
                    }
                }
            }
            Location::Param(name) => {
                if let Some(token) = header(headers, ":path").and_then(|p| from_query(p, name)) {
                    push(token, location);
                }
            }
            Location::Cookie(name) => {
                let cookie = headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
                    .find_map(|(_, value)| from_cookie(value, name));
                if let Some(token) = cookie {
                    push(Cow::Borrowed(token), location);
                }
            }
        }
    }
    found
}

/// Native behaviour: the prefix is matched case-sensitively anywhere in the value; the token
/// starts at the first base64url character or dot after it and runs to the end of the value
/// (so `Bearer   x` gives `x`, and `Bearer !!!.e30.sig` gives `.e30.sig`, a malformed token).
/// With no such character after the prefix the whole value is the token (malformed, so the
/// answer is "bad format", never "missing"); with no prefix configured, the value as it is.
fn from_header_value<'v>(value: &'v str, prefix: &str) -> Option<&'v str> {
    if prefix.is_empty() {
        return Some(value);
    }
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
    Some(if token.is_empty() { value } else { token })
}

/// The first value of query parameter `name` in `:path`, as native reads it
/// (`Http::Utility::parseAndDecodeQueryString`): names and values percent-decoded, a parameter
/// without `=` present with an empty value. A parameter that is there but empty is a token
/// all the same (malformed, as native answers), not a missing one.
fn from_query<'p>(path: &'p str, name: &str) -> Option<Cow<'p, str>> {
    query_pairs(path)
        .find(|(k, _)| percent_decoded(k) == name)
        .map(|(_, v)| percent_decoded(v))
}

/// The query of `:path` as raw `(name, value)` pairs, in order: after `?`, before any `#`,
/// split at `&`; a pair without `=` has an empty value, and empty pairs are skipped.
pub fn query_pairs(path: &str) -> impl Iterator<Item = (&str, &str)> {
    let query = path.split_once('?').map_or("", |(_, q)| q);
    query
        .split('#')
        .next()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// `%XX` (two hex digits, either case) decoded, anything else as it is; borrowed when there is
/// no `%`, as in every token sent plainly. Bytes that decode to invalid UTF-8 become U+FFFD
/// (never part of a token, so such a token is refused as malformed).
fn percent_decoded(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |at: usize| bytes.get(at).and_then(|h| char::from(*h).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// The value of cookie `name` in one `Cookie` header (RFC 6265 §4.2), as native reads it
/// (`Http::Utility::parseCookies`): the first of that name, without the double quotes only
/// when they wrap it; one there but empty is a (malformed) token, not a missing one.
fn from_cookie<'c>(header: &'c str, name: &str) -> Option<&'c str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| {
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v)
        })
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
        // Nothing a token could start with after the prefix: the whole value, as native.
        assert_eq!(
            first(&[("authorization", "Bearer ")]).as_deref(),
            Some("Bearer ")
        );
        assert_eq!(
            first(&[("authorization", "Bearer !!!.e30.sig")]).as_deref(),
            Some(".e30.sig")
        );
        assert_eq!(
            first(&[("authorization", "Bearer a!a.e30.sig")]).as_deref(),
            Some("a!a.e30.sig")
        );
        assert_eq!(
            first(&[("authorization", "Bearer \t+/")]).as_deref(),
            Some("Bearer \t+/")
        );
        assert_eq!(first(&[("authorization", "abc")]), None);
        assert_eq!(first(&[]), None);
    }

    #[test]
    fn query_parameter() {
        assert_eq!(
            first(&[(":path", "/x?a=1&access_token=t.o.k&b=2")]).as_deref(),
            Some("t.o.k")
        );
        // There but empty is a (malformed) token, not a missing one, as native.
        assert_eq!(first(&[(":path", "/x?access_token=")]).as_deref(), Some(""));
        assert_eq!(first(&[(":path", "/x?access_token")]).as_deref(), Some(""));
        assert_eq!(first(&[(":path", "/x?other_access_token=t")]), None);
        assert_eq!(
            first(&[(":path", "/x?access_token=a&access_token=b")]).as_deref(),
            Some("a"),
            "the first value"
        );
    }

    #[test]
    fn query_parameters_are_percent_decoded_like_native() {
        assert_eq!(
            first(&[(":path", "/x?access%5ftoken=h%2Ep%2es")]).as_deref(),
            Some("h.p.s")
        );
        // Plain values are borrowed, not copied.
        let locations = default_locations();
        let headers = h(&[(":path", "/x?access_token=h.p.s")]);
        assert!(matches!(
            tokens(&locations, &headers)[0].token,
            Cow::Borrowed("h.p.s")
        ));
        // Not two hex digits: kept as is; `+` is not a space.
        assert_eq!(percent_decoded("%zz%4%+%41"), "%zz%4%+A");
        assert_eq!(percent_decoded("a%2"), "a%2");
        // Bytes that are not UTF-8 cannot pass as a token.
        assert_eq!(percent_decoded("%FFx"), "\u{FFFD}x");
    }

    #[test]
    fn cookies() {
        let locations = vec![Location::Cookie("session".into())];
        let headers = h(&[("cookie", "a=1; session=tok.en.x; b=2")]);
        assert_eq!(tokens(&locations, &headers)[0].token, "tok.en.x");
        let headers = h(&[("cookie", "a=1"), ("cookie", "session=\"q.u.o\"")]);
        assert_eq!(tokens(&locations, &headers)[0].token, "q.u.o");
        let headers = h(&[("cookie", "xsession=t")]);
        assert!(tokens(&locations, &headers).is_empty());
        // There but empty is a (malformed) token; a quote on one side stays, as native.
        let headers = h(&[("cookie", "xsession=t; session=")]);
        assert_eq!(tokens(&locations, &headers)[0].token, "");
        let headers = h(&[("cookie", "session=\"q.u.o")]);
        assert_eq!(tokens(&locations, &headers)[0].token, "\"q.u.o");
        let headers = h(&[("cookie", "session=\"")]);
        assert_eq!(tokens(&locations, &headers)[0].token, "\"");
    }

    #[test]
    fn without_a_prefix_the_value_is_the_token_as_it_is() {
        let locations = vec![Location::Header {
            name: "x-token".into(),
            value_prefix: String::new(),
        }];
        let headers = h(&[("x-token", "!tok.en.x")]);
        assert_eq!(tokens(&locations, &headers)[0].token, "!tok.en.x");
    }

    #[test]
    fn each_value_of_a_repeated_header_is_a_token() {
        let locations = default_locations();
        let headers = h(&[
            ("authorization", "Basic x"),
            ("authorization", "Bearer a.b.c"),
            ("authorization", "Bearer d.e.f"),
            ("authorization", "Bearer a.b.c"),
        ]);
        let found: Vec<String> = tokens(&locations, &headers)
            .iter()
            .map(|f| f.token.to_string())
            .collect();
        assert_eq!(found, ["a.b.c", "d.e.f"]);
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
