//! The local reply for a refused request, shaped like native `jwt_authn`'s: status, the
//! status text as body, and `WWW-Authenticate: Bearer realm="<request URL>"` with
//! `error="invalid_token"` when a token was presented (RFC 6750 §3). Also the extension
//! `rules[].reply` ([`ReplyShape`]): another status per class of failure, and the body as RFC
//! 9457 problem JSON or a fixed text; the `WWW-Authenticate` challenge stays native's.

use std::borrow::Cow;

use crate::authn::model::{Config, Rule};
use crate::authn::shadow::Shadow;
use crate::error::AuthError;
use crate::request::extract::{self, Headers};
use crate::request::matcher::Request;

/// Native Envoy cuts the path in the realm at this length.
const MAX_REALM_PATH: usize = 256;

/// A local reply. The body is borrowed (a native text, a configured fixed body) except for
/// problem JSON, which is written per refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply<'b> {
    pub status: u32,
    pub headers: Vec<(String, String)>,
    pub body: Cow<'b, str>,
}

pub fn deny(error: AuthError, request: &Headers) -> Reply<'static> {
    reply(error, None, request)
}

/// A 403 for a verified token that lacks what the rule requires: `error="insufficient_scope"`
/// and, when the rule names scopes, `scope="..."` (RFC 6750 §3.1).
pub fn forbid(error: AuthError, scope: Option<&str>, request: &Headers) -> Reply<'static> {
    reply(error, scope, request)
}

/// How a refusal of a request is carried out: the filter and `jwt-authn explain` both ask
/// [`carried_out`], then build the reply with [`refusal`].
#[derive(Debug, Clone, Copy)]
pub enum CarriedOut<'c> {
    /// The request's rule is in shadow mode: counted, and the request continues
    /// ([`shadow::edits`](crate::authn::shadow::edits)).
    Shadow(&'c Shadow),
    /// A local reply, shaped by the rule's `reply` when it has one.
    Reply(Option<&'c ReplyShape>),
}

/// How a refusal of `request` is carried out under `config`. The rule is looked up again only
/// when some rule has `shadow` or `reply` (`shapes_refusals`, one flag read).
pub fn carried_out<'c>(config: &'c Config, request: &Request) -> CarriedOut<'c> {
    let rule = if config.shapes_refusals {
        config.rule(request)
    } else {
        None
    };
    match rule {
        Some(Rule {
            shadow: Some(shadow),
            ..
        }) => CarriedOut::Shadow(shadow),
        rule => CarriedOut::Reply(rule.and_then(|r| r.reply.as_ref())),
    }
}

/// The local reply for a refusal with `error` (and the rule's `scope` for an `authorization`
/// refusal): native's, or shaped by the rule's `reply`.
pub fn refusal<'s>(
    error: AuthError,
    scope: Option<&str>,
    request: &Headers,
    shape: Option<&'s ReplyShape>,
) -> Reply<'s> {
    match shape {
        Some(shape) => shaped(error, scope, request, shape),
        None if scope.is_some() => forbid(error, scope, request),
        None => deny(error, request),
    }
}

/// Extension `rules[].reply`: how a rule's refusals are answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyShape {
    /// The status for no token at all (`JwtMissed`); native: 401.
    pub missing_status: u32,
    /// The status for a token that does not verify, or keys that cannot be had; native: 401.
    pub invalid_status: u32,
    /// The status for a verified token refused for its audience or by the rule's
    /// `authorization`; native: 403.
    pub forbidden_status: u32,
    pub body: Body,
}

/// The body of a shaped refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Native's text for the status, as without `reply`.
    Native,
    /// RFC 9457 `application/problem+json`: `type` (this URI, or `about:blank`), `title` (the
    /// reason phrase of the status sent), `status`, and `detail`, the native text.
    Problem { type_uri: Option<String> },
    /// This body with this content type, whatever the failure.
    Fixed { content_type: String, text: String },
}

/// The three classes of failure an operator gives a status to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Missing,
    Invalid,
    Forbidden,
}

impl Class {
    /// Forbidden is what native answers with 403 (a verified token for another audience, and
    /// the `authorization` refusals); missing is no token at all; invalid is everything else.
    pub fn of(error: AuthError) -> Class {
        match error {
            AuthError::JwtMissed => Class::Missing,
            e if e.http_status() == 403 => Class::Forbidden,
            _ => Class::Invalid,
        }
    }
}

impl Default for ReplyShape {
    /// Native's answers.
    fn default() -> ReplyShape {
        ReplyShape {
            missing_status: 401,
            invalid_status: 401,
            forbidden_status: 403,
            body: Body::Native,
        }
    }
}

/// The refusal of `error` (with the rule's `scope` for an `authorization` refusal) shaped by
/// `shape`. The challenge is native's whatever the status: its `error` code says what failed
/// (none when no token was sent, RFC 6750 §3.1), never what status was chosen, and a 401
/// always carries it (RFC 6750 §3, RFC 9110 §15.5.2); other statuses may (RFC 9110 §11.6.1).
/// Nothing of the token reaches the body: the details are native's fixed texts.
pub fn shaped<'s>(
    error: AuthError,
    scope: Option<&str>,
    request: &Headers,
    shape: &'s ReplyShape,
) -> Reply<'s> {
    let native = reply(error, scope, request);
    let status = match Class::of(error) {
        Class::Missing => shape.missing_status,
        Class::Invalid => shape.invalid_status,
        Class::Forbidden => shape.forbidden_status,
    };
    let mut headers = native.headers;
    let body = match &shape.body {
        Body::Native => native.body,
        Body::Problem { type_uri } => {
            headers.push(("content-type".into(), "application/problem+json".into()));
            Cow::Owned(problem_json(type_uri.as_deref(), status, error.message()))
        }
        Body::Fixed { content_type, text } => {
            headers.push(("content-type".into(), content_type.clone()));
            Cow::Borrowed(text.as_str())
        }
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// `{"type":...,"title":...,"status":...,"detail":...}`, every string JSON-escaped.
fn problem_json(type_uri: Option<&str>, status: u32, detail: &str) -> String {
    let mut out = String::with_capacity(96 + detail.len() + type_uri.map_or(11, str::len));
    out.push_str("{\"type\":");
    json_string(&mut out, type_uri.unwrap_or("about:blank"));
    out.push_str(",\"title\":");
    json_string(&mut out, reason_phrase(status));
    out.push_str(",\"status\":");
    out.push_str(&status.to_string());
    out.push_str(",\"detail\":");
    json_string(&mut out, detail);
    out.push('}');
    out
}

/// `s` as a JSON string: quotes, backslashes and control characters escaped (RFC 8259 §7).
fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                // `\u00XX` for the rest of U+0000..U+001F and DEL..U+009F.
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The reason phrase RFC 9110 (and the IANA registry) gives a 4xx or 5xx status, which is the
/// `title` RFC 9457 §4.2.1 asks for with `about:blank`; a generic one for unregistered codes.
pub fn reason_phrase(status: u32) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        423 => "Locked",
        424 => "Failed Dependency",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        510 => "Not Extended",
        511 => "Network Authentication Required",
        s if s < 500 => "Client Error",
        _ => "Server Error",
    }
}

fn reply(error: AuthError, scope: Option<&str>, request: &Headers) -> Reply<'static> {
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
        body: Cow::Borrowed(error.message()),
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

    fn shape(body: Body) -> ReplyShape {
        ReplyShape {
            missing_status: 404,
            invalid_status: 400,
            forbidden_status: 404,
            body,
        }
    }

    #[test]
    fn statuses_follow_the_class_and_the_challenge_stays_native() {
        let s = shape(Body::Native);
        for (error, status) in [
            (AuthError::JwtMissed, 404),
            (AuthError::JwtExpired, 400),
            (AuthError::JwksFetchFail, 400),
            (AuthError::JwtAudienceNotAllowed, 404),
            (AuthError::JwtInsufficientScope, 404),
        ] {
            let native = deny(error, &req("/a"));
            let shaped = shaped(error, None, &req("/a"), &s);
            assert_eq!(shaped.status, status, "{error:?}");
            // Same challenge, same native text: the `error` code says what failed, not the
            // status chosen, and a missing token still has none.
            assert_eq!(shaped.headers, native.headers, "{error:?}");
            assert_eq!(shaped.body, native.body);
        }
        let r = shaped(
            AuthError::JwtInsufficientScope,
            Some("orders:read"),
            &req("/o"),
            &s,
        );
        assert_eq!(r.headers[0].1, "Bearer realm=\"http://api.example:8080/o\", error=\"insufficient_scope\", scope=\"orders:read\"");
        assert_eq!(Class::of(AuthError::JwtClientMismatch), Class::Forbidden);
        assert_eq!(Class::of(AuthError::JwtUnknownIssuer), Class::Invalid);
    }

    #[test]
    fn problem_json_is_rfc_9457() {
        let problem = shape(Body::Problem { type_uri: None });
        let r = shaped(AuthError::JwtExpired, None, &req("/\"}x"), &problem);
        assert_eq!(r.status, 400);
        assert!(matches!(r.body, Cow::Owned(_)));
        assert_eq!(
            r.body,
            r#"{"type":"about:blank","title":"Bad Request","status":400,"detail":"Jwt is expired"}"#
        );
        assert_eq!(
            r.headers[1],
            (
                "content-type".to_string(),
                "application/problem+json".to_string()
            )
        );
        assert_eq!(r.headers[0].0, "www-authenticate");
        let typed = ReplyShape {
            body: Body::Problem {
                type_uri: Some("https://errors.example/auth?a=\"b\"".into()),
            },
            ..ReplyShape::default()
        };
        let r = shaped(AuthError::JwtMissed, None, &req("/"), &typed);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type": "https://errors.example/auth?a=\"b\"", "title": "Unauthorized",
                "status": 401, "detail": "Jwt is missing"})
        );
        // Every native text goes into JSON unchanged.
        for error in [AuthError::JwtHeaderBadAlg, AuthError::JwksKidAlgMismatch] {
            let body = problem_json(None, 401, error.message());
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["detail"], error.message());
        }
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut out = String::new();
        json_string(&mut out, "a\"b\\c\nd\u{1}e\u{7f}é</");
        assert_eq!(out, r#""a\"b\\c\nd\u0001e\u007fé</""#);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v, "a\"b\\c\nd\u{1}e\u{7f}é</");
    }

    #[test]
    fn fixed_body_is_borrowed_with_its_content_type() {
        let s = shape(Body::Fixed {
            content_type: "text/html".into(),
            text: "<p>Sign in</p>".into(),
        });
        let r = shaped(AuthError::JwtMissed, None, &req("/x"), &s);
        assert_eq!((r.status, r.body.as_ref()), (404, "<p>Sign in</p>"));
        assert!(matches!(r.body, Cow::Borrowed(_)));
        assert_eq!(
            r.headers,
            vec![
                (
                    "www-authenticate".to_string(),
                    "Bearer realm=\"http://api.example:8080/x\"".to_string()
                ),
                ("content-type".to_string(), "text/html".to_string())
            ]
        );
    }

    #[test]
    fn reason_phrases() {
        assert_eq!(reason_phrase(401), "Unauthorized");
        assert_eq!(reason_phrase(429), "Too Many Requests");
        assert_eq!(reason_phrase(499), "Client Error");
        assert_eq!(reason_phrase(599), "Server Error");
    }
}
