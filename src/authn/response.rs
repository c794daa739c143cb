//! The local reply for a refused request, shaped like native `jwt_authn`'s: status, the
//! status text as body, and `WWW-Authenticate: Bearer realm="<request URL>"` with
//! `error="invalid_token"` when a token was presented (RFC 6750 §3).

use std::borrow::Cow;

use crate::error::AuthError;
use crate::request::extract::{self, Headers};

/// Native Envoy cuts the path in the realm at this length.
const MAX_REALM_PATH: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u32,
    pub headers: Vec<(String, String)>,
    pub body: &'static str,
}

pub fn deny(error: AuthError, request: &Headers) -> Reply {
    reply(error, None, request)
}

/// A 403 for a verified token that lacks what the rule requires: `error="insufficient_scope"`
/// and, when the rule names scopes, `scope="..."` (RFC 6750 §3.1).
pub fn forbid(error: AuthError, scope: Option<&str>, request: &Headers) -> Reply {
    reply(error, scope, request)
}

fn reply(error: AuthError, scope: Option<&str>, request: &Headers) -> Reply {
    // Native's realm is the request URL (`Http::Utility::buildOriginalUri`): the path as the
    // client sent it (`x-envoy-original-path` when an earlier hop rewrote it), cut to 256
    // bytes, after the scheme and `:authority`; empty when the request has no path.
    let path = extract::header(request, "x-envoy-original-path")
        .or_else(|| extract::header(request, ":path"));
    let scheme = extract::header(request, "x-forwarded-proto")
        .or_else(|| extract::header(request, ":scheme"))
        .unwrap_or("http");
    let host = extract::header(request, ":authority").unwrap_or_default();
    // Built by pushing onto one string: a flood of refusals is made of these.
    let mut value = String::with_capacity(64 + host.len() + MAX_REALM_PATH);
    value.push_str("Bearer realm=\"");
    if let Some(path) = path {
        value.push_str(&quoted(scheme));
        value.push_str("://");
        value.push_str(&quoted(host));
        value.push_str(&quoted(truncate(path, MAX_REALM_PATH)));
    }
    value.push('"');
    if let Some(code) = error.bearer_error() {
        value.push_str(", error=\"");
        value.push_str(code);
        value.push('"');
    }
    if let Some(scope) = scope {
        value.push_str(", scope=\"");
        value.push_str(&quoted(scope));
        value.push('"');
    }
    Reply {
        status: error.http_status(),
        headers: vec![("www-authenticate".into(), value)],
        body: error.message(),
    }
}

fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

/// Keeps the quoted-string valid: `s` without `"`, `\` and control characters, so nothing
/// from the request can end it early; borrowed when there are none, as in nearly every request.
fn quoted(s: &str) -> Cow<'_, str> {
    let plain = |b: &u8| b.is_ascii() && *b != b'"' && *b != b'\\' && !b.is_ascii_control();
    if s.as_bytes().iter().all(plain) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(path: &str) -> Vec<(String, String)> {
        vec![
            (":authority".into(), "api.example:8080".into()),
            (":path".into(), path.into()),
            ("x-forwarded-proto".into(), "http".into()),
        ]
    }

    #[test]
    fn like_native() {
        let r = deny(AuthError::JwtExpired, &req("/case/1?x=1"));
        assert_eq!(r.status, 401);
        assert_eq!(r.body, "Jwt is expired");
        assert_eq!(
            r.headers,
            vec![(
                "www-authenticate".to_string(),
                "Bearer realm=\"http://api.example:8080/case/1?x=1\", error=\"invalid_token\""
                    .to_string()
            )]
        );
        let r = deny(AuthError::JwtMissed, &req("/"));
        assert_eq!(r.headers[0].1, "Bearer realm=\"http://api.example:8080/\"");
        assert_eq!(
            deny(AuthError::JwtAudienceNotAllowed, &req("/")).status,
            403
        );
    }

    #[test]
    fn realm_is_the_path_before_rewrites_and_empty_without_one() {
        let mut rewritten = req("/v2/orders");
        rewritten.push(("x-envoy-original-path".into(), "/orders?page=2".into()));
        assert_eq!(
            deny(AuthError::JwtMissed, &rewritten).headers[0].1,
            "Bearer realm=\"http://api.example:8080/orders?page=2\""
        );
        let no_path: Vec<(String, String)> =
            req("/").into_iter().filter(|(n, _)| n != ":path").collect();
        assert_eq!(
            deny(AuthError::JwtExpired, &no_path).headers[0].1,
            "Bearer realm=\"\", error=\"invalid_token\""
        );
    }

    #[test]
    fn insufficient_scope() {
        let r = forbid(
            AuthError::JwtInsufficientScope,
            Some("orders:read orders:write"),
            &req("/o"),
        );
        assert_eq!(r.status, 403);
        assert_eq!(r.headers[0].1, "Bearer realm=\"http://api.example:8080/o\", error=\"insufficient_scope\", scope=\"orders:read orders:write\"");
    }

    #[test]
    fn realm_cannot_be_broken_out_of() {
        let r = deny(AuthError::JwtMissed, &req("/\"x\\"));
        assert_eq!(r.headers[0].1, "Bearer realm=\"http://api.example:8080/x\"");
        let long = format!("/{}", "é".repeat(300));
        assert!(deny(AuthError::JwtMissed, &req(&long)).headers[0].1.len() < 300);
    }

    #[test]
    fn quoted_strips_what_a_quoted_string_cannot_carry() {
        assert!(matches!(
            quoted("/api/v1?x=1"),
            Cow::Borrowed("/api/v1?x=1")
        ));
        assert_eq!(quoted("/a\"b\\c\u{1}d\u{7f}e"), "/abcde");
        // Non-ASCII takes the slow path: C1 controls go, other characters stay.
        assert_eq!(quoted("/é\u{85}ü"), "/éü");
    }
}
