use serde_json::{json, Value};

use crate::authn::model::Config;
use crate::authn::response::{Body, ReplyShape};

const JWKS: &str =
    r#"{"keys":[{"kty":"oct","kid":"k1","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}]}"#;

/// One provider `p` (token in `authorization`, claim header `x-sub`) and one rule with `extra`.
fn with_rule(extra: Value) -> String {
    let mut rule = json!({"match": {"prefix": "/"}, "requires": {"provider_name": "p"}});
    for (k, v) in extra.as_object().unwrap() {
        rule[k] = v.clone();
    }
    json!({
        "providers": {"p": {"issuer": "https://iss", "local_jwks": {"inline_string": JWKS},
            "claim_to_headers": [{"header_name": "x-sub", "claim_name": "sub"}],
            "forward_payload_header": "x-payload"}},
        "rules": [rule]
    })
    .to_string()
}

fn refused(extra: Value) -> (String, String) {
    let e = Config::parse(&with_rule(extra)).expect_err("must be refused");
    (e.field, e.reason)
}

#[test]
fn without_the_extensions_nothing_is_shaped() {
    let c = Config::parse(&with_rule(json!({}))).unwrap();
    assert!(!c.shapes_refusals);
    assert_eq!((&c.rules[0].shadow, &c.rules[0].reply), (&None, &None));
}

#[test]
fn shadow_with_header_is_stripped_from_every_request() {
    let c = Config::parse(&with_rule(json!({"shadow": {"header": "X-JWT-Shadow"}}))).unwrap();
    assert!(c.shapes_refusals);
    let shadow = c.rules[0].shadow.as_ref().unwrap();
    assert_eq!(shadow.header.as_deref(), Some("x-jwt-shadow"));
    assert_eq!(shadow.providers, vec![0]);
    assert!(c.generated_headers.contains(&"x-jwt-shadow".to_string()));
    // Without a header: counted only.
    let c = Config::parse(&with_rule(json!({"shadow": {}}))).unwrap();
    assert_eq!(c.rules[0].shadow.as_ref().unwrap().header, None);
}

#[test]
fn shadow_header_must_be_one_nothing_else_uses() {
    for (header, why) in [
        ("x-sub", "already sets"),
        ("x-payload", "already sets"),
        ("authorization", "reads its tokens"),
        ("cookie", "Envoy's or the client's"),
        ("x-envoy-original-path", "Envoy's or the client's"),
        ("bad header", "not a valid HTTP header name"),
        ("host", "cannot be used here"),
        ("", "non-empty"),
    ] {
        let (field, message) = refused(json!({"shadow": {"header": header}}));
        assert_eq!(field, "rules[0].shadow.header", "{header}");
        assert!(message.contains(why), "{header}: {message}");
    }
    let (field, _) = refused(json!({"shadow": {"header": 1}}));
    assert_eq!(field, "rules[0].shadow.header");
    let (field, _) = refused(json!({"shadow": {"mode": "dry-run"}}));
    assert_eq!(field, "rules[0].shadow.mode");
    let (field, _) = refused(json!({"shadow": true}));
    assert_eq!(field, "rules[0].shadow");
    // A rule that requires nothing refuses nothing.
    let text =
        json!({"providers": {}, "rules": [{"match": {"prefix": "/"}, "shadow": {}}]}).to_string();
    assert_eq!(Config::parse(&text).unwrap_err().field, "rules[0].shadow");
}

#[test]
fn reply_defaults_are_native() {
    let c = Config::parse(&with_rule(json!({"reply": {}}))).unwrap();
    assert!(c.shapes_refusals);
    assert_eq!(c.rules[0].reply, Some(ReplyShape::default()));
    let d = ReplyShape::default();
    assert_eq!(
        (d.missing_status, d.invalid_status, d.forbidden_status),
        (401, 401, 403)
    );
}

#[test]
fn reply_formats() {
    let c = Config::parse(&with_rule(json!({"reply": {
        "missing_status": 404, "invalid_status": 400, "forbidden_status": 404,
        "format": "problem_json", "problem_type": "https://errors.example/auth"}})))
    .unwrap();
    let shape = c.rules[0].reply.as_ref().unwrap();
    assert_eq!(
        (
            shape.missing_status,
            shape.invalid_status,
            shape.forbidden_status
        ),
        (404, 400, 404)
    );
    assert_eq!(
        shape.body,
        Body::Problem {
            type_uri: Some("https://errors.example/auth".into())
        }
    );
    let c = Config::parse(&with_rule(json!({"reply": {
        "format": "fixed", "content_type": "text/html; charset=utf-8", "body": "<p>Sign in</p>"}})))
    .unwrap();
    assert_eq!(
        c.rules[0].reply.as_ref().unwrap().body,
        Body::Fixed {
            content_type: "text/html; charset=utf-8".into(),
            text: "<p>Sign in</p>".into()
        }
    );
    // camelCase, as proto3 JSON allows.
    let c = Config::parse(&with_rule(json!({"reply": {"missingStatus": 403}}))).unwrap();
    assert_eq!(c.rules[0].reply.as_ref().unwrap().missing_status, 403);
}

#[test]
fn reply_refusals_name_the_field() {
    let cases = [
        (
            json!({"missing_status": 200}),
            "rules[0].reply.missing_status",
        ),
        (
            json!({"invalid_status": 302}),
            "rules[0].reply.invalid_status",
        ),
        (
            json!({"forbidden_status": 600}),
            "rules[0].reply.forbidden_status",
        ),
        (
            json!({"forbidden_status": "403"}),
            "rules[0].reply.forbidden_status",
        ),
        (
            json!({"missing_status": -1}),
            "rules[0].reply.missing_status",
        ),
        (json!({"format": "xml"}), "rules[0].reply.format"),
        (json!({"format": 1}), "rules[0].reply.format"),
        (json!({"problem_type": "x"}), "rules[0].reply.problem_type"),
        (
            json!({"format": "problem_json", "problem_type": "has space"}),
            "rules[0].reply.problem_type",
        ),
        (
            json!({"format": "problem_json", "problem_type": ""}),
            "rules[0].reply.problem_type",
        ),
        (
            json!({"format": "problem_json", "body": "x"}),
            "rules[0].reply.body",
        ),
        (
            json!({"format": "fixed", "body": "x"}),
            "rules[0].reply.content_type",
        ),
        (
            json!({"format": "fixed", "content_type": "text/plain"}),
            "rules[0].reply.body",
        ),
        (
            json!({"format": "fixed", "content_type": "text/plain\r\nx-evil: 1", "body": ""}),
            "rules[0].reply.content_type",
        ),
        (
            json!({"format": "fixed", "content_type": "text/plain", "body": "x".repeat(16 * 1024 + 1)}),
            "rules[0].reply.body",
        ),
        (
            json!({"content_type": "text/plain"}),
            "rules[0].reply.content_type",
        ),
        (json!({"status": 404}), "rules[0].reply.status"),
    ];
    for (reply, field) in cases {
        assert_eq!(refused(json!({"reply": reply.clone()})).0, field, "{reply}");
    }
}
