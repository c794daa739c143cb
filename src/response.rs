//! The local reply for a refused request, shaped like native `jwt_authn`'s: status, the
//! status text as body, and `WWW-Authenticate: Bearer realm="<request URL>"` with
//! `error="invalid_token"` when a token was presented (RFC 6750 §3).

use crate::error::AuthError;
use crate::extract::{self, Headers};

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
    let scheme = extract::header(request, "x-forwarded-proto")
        .or_else(|| extract::header(request, ":scheme"))
        .unwrap_or("http");
    let host = extract::header(request, ":authority").unwrap_or_default();
    let path = extract::header(request, ":path").unwrap_or_default();
    let path = truncate(path, MAX_REALM_PATH);
    let mut value = format!(
        "Bearer realm=\"{}://{}{}\"",
        quoted(scheme),
        quoted(host),
        quoted(path)
    );
    if let Some(code) = error.bearer_error() {
        value.push_str(&format!(", error=\"{code}\""));
    }
    if let Some(scope) = scope {
        value.push_str(&format!(", scope=\"{}\"", quoted(scope)));
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

/// Keeps the quoted-string valid: a `"` or `\` from the request cannot end it early.
fn quoted(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
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
}
