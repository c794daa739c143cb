use super::*;
use serde_json::json;

fn token(header: Value, payload: Value) -> String {
    format!(
        "{}.{}.c2ln",
        b64::encode(header.to_string().as_bytes()),
        b64::encode(payload.to_string().as_bytes())
    )
}

fn err(t: &str) -> AuthError {
    parse(t).expect_err("must fail")
}

#[test]
fn parses_registered_claims() {
    let t = token(
        json!({"alg": "RS256", "kid": "k1", "typ": "JWT"}),
        json!({"iss": "i", "sub": "s", "aud": ["a", "b"], "exp": 10, "nbf": 1.9, "iat": 1}),
    );
    let jwt = parse(&t).unwrap();
    assert_eq!(jwt.alg, Alg::Rs256);
    assert_eq!(jwt.kid.as_deref(), Some("k1"));
    assert_eq!(jwt.aud, vec!["a", "b"]);
    assert_eq!((jwt.exp, jwt.nbf, jwt.iat), (Some(10), Some(1), Some(1)));
    assert_eq!(jwt.signature().unwrap(), b"sig");
    assert_eq!(jwt.signing_input(), t.rsplit_once('.').unwrap().0);
    assert_eq!(jwt.compact(), t);
}

#[test]
fn structure_errors() {
    for bad in ["", "a", "a.b", "a.b.c.d", "a..c", ".b.c", "a.b.", "a.b.c."] {
        assert_eq!(err(bad), AuthError::JwtBadFormat, "{bad:?}");
    }
    assert_eq!(
        err(&"a".repeat(MAX_TOKEN_BYTES + 1)),
        AuthError::JwtTooLarge
    );
}

#[test]
fn header_errors() {
    let p = json!({});
    assert_eq!(err("!!.e30.c2ln"), AuthError::JwtHeaderParseErrorBadBase64);
    assert_eq!(
        err(&format!("{}.e30.c2ln", b64::encode(b"not json"))),
        AuthError::JwtHeaderParseErrorBadJson
    );
    assert_eq!(
        err(&token(json!([1]), p.clone())),
        AuthError::JwtHeaderParseErrorBadJson
    );
    assert_eq!(
        err(&token(json!({}), p.clone())),
        AuthError::JwtHeaderBadAlg
    );
    assert_eq!(
        err(&token(json!({"alg": 256}), p.clone())),
        AuthError::JwtHeaderBadAlg
    );
    assert_eq!(
        err(&token(json!({"alg": "none"}), p.clone())),
        AuthError::JwtHeaderNotImplementedAlg
    );
    assert_eq!(
        err(&token(json!({"alg": "HS256", "kid": 1}), p.clone())),
        AuthError::JwtHeaderBadKid
    );
    assert_eq!(
        err(&token(
            json!({"alg": "HS256", "crit": ["exp"], "exp": 1}),
            p.clone()
        )),
        AuthError::JwtHeaderCritUnsupported
    );
    assert_eq!(
        err(&token(json!({"alg": "HS256", "crit": []}), p)),
        AuthError::JwtHeaderCritUnsupported
    );
}

#[test]
fn payload_errors() {
    let h = json!({"alg": "ES256"});
    let cases = [
        (
            json!({"iss": 1}),
            AuthError::JwtPayloadParseErrorIssNotString,
        ),
        (
            json!({"sub": []}),
            AuthError::JwtPayloadParseErrorSubNotString,
        ),
        (
            json!({"exp": "1700000000"}),
            AuthError::JwtPayloadParseErrorExpNotInteger,
        ),
        (
            json!({"exp": -1}),
            AuthError::JwtPayloadParseErrorExpOutOfRange,
        ),
        (
            json!({"nbf": 1e30}),
            AuthError::JwtPayloadParseErrorNbfOutOfRange,
        ),
        (
            json!({"iat": true}),
            AuthError::JwtPayloadParseErrorIatNotInteger,
        ),
        (
            json!({"jti": 5}),
            AuthError::JwtPayloadParseErrorJtiNotString,
        ),
        (
            json!({"aud": 5}),
            AuthError::JwtPayloadParseErrorAudNotString,
        ),
        (
            json!({"aud": ["a", 5]}),
            AuthError::JwtPayloadParseErrorAudNotString,
        ),
        (json!([1, 2]), AuthError::JwtPayloadParseErrorBadJson),
        (json!("string"), AuthError::JwtPayloadParseErrorBadJson),
    ];
    for (payload, expected) in cases {
        assert_eq!(
            err(&token(h.clone(), payload.clone())),
            expected,
            "{payload}"
        );
    }
    let header = b64::encode(h.to_string().as_bytes());
    assert_eq!(
        err(&format!("{header}.e30+.c2ln")),
        AuthError::JwtPayloadParseErrorBadBase64
    );
    assert_eq!(
        err(&format!("{header}.e30.c2ln+")),
        AuthError::JwtSignatureParseErrorBadBase64
    );
}

/// A payload of `n` claims `{"c0":0,"c1":0,...}`.
fn claims_payload(n: usize) -> Value {
    Value::Object((0..n).map(|i| (format!("c{i}"), json!(0))).collect())
}

/// `depth` arrays and objects nested, the top level counting as 1.
fn nested(depth: usize) -> String {
    let inner = depth.saturating_sub(1);
    format!("{{\"n\":{}1{}}}", "[".repeat(inner), "]".repeat(inner))
}

fn raw_token(header: &str, payload: &str) -> String {
    format!(
        "{}.{}.c2ln",
        b64::encode(header.as_bytes()),
        b64::encode(payload.as_bytes())
    )
}

#[test]
fn header_size_limit() {
    let sized = |len: usize| {
        let fixed = r#"{"alg":"HS256","x":""}"#.len();
        format!(r#"{{"alg":"HS256","x":"{}"}}"#, "a".repeat(len - fixed))
    };
    let at = sized(MAX_HEADER_BYTES);
    assert_eq!(at.len(), MAX_HEADER_BYTES);
    assert!(parse(&raw_token(&at, "{}")).is_ok());
    assert_eq!(
        err(&raw_token(&sized(MAX_HEADER_BYTES + 1), "{}")),
        AuthError::JwtTooLarge
    );
}

#[test]
fn nesting_depth_limit() {
    let h = r#"{"alg":"HS256"}"#;
    assert!(parse(&raw_token(h, &nested(MAX_JSON_DEPTH))).is_ok());
    assert_eq!(
        err(&raw_token(h, &nested(MAX_JSON_DEPTH + 1))),
        AuthError::JwtPayloadParseErrorBadJson
    );
    // Far past serde_json's own limit, refused by the scan before parsing.
    assert_eq!(
        err(&raw_token(h, &"[".repeat(8000))),
        AuthError::JwtPayloadParseErrorBadJson
    );
    let deep_header = |depth: usize| {
        let inner = depth - 1;
        format!(
            r#"{{"alg":"HS256","x":{}1{}}}"#,
            "[".repeat(inner),
            "]".repeat(inner)
        )
    };
    assert!(parse(&raw_token(&deep_header(MAX_JSON_DEPTH), "{}")).is_ok());
    assert_eq!(
        err(&raw_token(&deep_header(MAX_JSON_DEPTH + 1), "{}")),
        AuthError::JwtHeaderParseErrorBadJson
    );
}

#[test]
fn brackets_and_commas_in_strings_do_not_count() {
    let text = format!(r#"{{"s":"{}","e":"\"[{{,","t":"\\"}}"#, "[{,".repeat(4000));
    assert_eq!(check_shape(text.as_bytes(), 3), Ok(()));
    assert_eq!(
        check_shape(br#"{"a":1,"b":"\",","c":[1,2],"d":{"e":1,"f":2}}"#, 3),
        Err(ShapeError::Members),
        "four top-level members, commas in strings and nested values aside"
    );
    assert_eq!(
        check_shape(br#"{"a":1,"b":"\",","c":[1,2],"d":{"e":1,"f":2}}"#, 4),
        Ok(())
    );
}

#[test]
fn claim_count_limit() {
    let h = json!({"alg": "HS256"});
    let at = parse(&token(h.clone(), claims_payload(MAX_CLAIMS))).unwrap();
    assert_eq!(at.claims.len(), MAX_CLAIMS);
    assert_eq!(
        err(&token(h, claims_payload(MAX_CLAIMS + 1))),
        AuthError::JwtTooLarge
    );
}

#[test]
fn value_count_limit() {
    // The object, the array and its elements.
    let with_values = |n: usize| json!({"v": vec![0; n - 2]});
    let h = json!({"alg": "HS256"});
    assert!(parse(&token(h.clone(), with_values(MAX_JSON_VALUES))).is_ok());
    assert_eq!(
        err(&token(h.clone(), with_values(MAX_JSON_VALUES + 1))),
        AuthError::JwtTooLarge
    );
    let header_with_values = |n: usize| json!({"alg": "HS256", "v": vec![0; n - 3]});
    assert!(parse(&token(header_with_values(MAX_JSON_VALUES), json!({}))).is_ok());
    assert_eq!(
        err(&token(header_with_values(MAX_JSON_VALUES + 1), json!({}))),
        AuthError::JwtTooLarge
    );
}

#[test]
fn padded_signature_is_accepted_like_native() {
    let t = token(json!({"alg": "HS256"}), json!({}));
    let padded = format!("{}=", t.trim_end_matches("c2ln").to_string() + "c2k");
    assert_eq!(parse(&padded).unwrap().signature().unwrap(), b"si");
}
