use super::*;
use crate::authn::model::Config;
use crate::token::jws;
use crate::request::matcher::StringMatcher;
use serde_json::json;

fn provider(extra: Value) -> Provider {
    let mut p = json!({"local_jwks": {"inline_string": ""}});
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    let text = json!({"providers": {"p": p}}).to_string();
    Config::parse(&text).unwrap().providers.pop().unwrap()
}

fn token(payload: Value) -> String {
    format!(
        "{}.{}.c2ln",
        crate::token::b64::encode(br#"{"alg":"RS256"}"#),
        crate::token::b64::encode(payload.to_string().as_bytes())
    )
}

fn run(p: &Provider, payload: Value, now: u64) -> Result<(), AuthError> {
    let t = token(payload);
    check(p, &p.audiences, &jws::parse(&t).unwrap(), now)
}

#[test]
fn time_at_the_skew_boundaries() {
    let p = provider(json!({"clock_skew_seconds": 10}));
    assert_eq!(run(&p, json!({"exp": 100}), 110), Ok(()));
    assert_eq!(
        run(&p, json!({"exp": 100}), 111),
        Err(AuthError::JwtExpired)
    );
    assert_eq!(run(&p, json!({"nbf": 100}), 90), Ok(()));
    assert_eq!(
        run(&p, json!({"nbf": 100}), 89),
        Err(AuthError::JwtNotYetValid)
    );
    assert_eq!(
        run(&p, json!({"exp": 0}), 1000),
        Err(AuthError::JwtExpired),
        "exp 0 is not 'never'"
    );
    let huge = provider(json!({"clock_skew_seconds": 4294967295u64}));
    assert_eq!(
        run(&huge, json!({"exp": u64::MAX}), u64::MAX),
        Ok(()),
        "no overflow"
    );
}

#[test]
fn issuer_then_time_then_audience() {
    let p = provider(json!({"issuer": "https://iss", "audiences": ["api"]}));
    assert_eq!(
        run(
            &p,
            json!({"iss": "https://other", "exp": 1, "aud": "x"}),
            1000
        ),
        Err(AuthError::JwtUnknownIssuer)
    );
    assert_eq!(
        run(
            &p,
            json!({"iss": "https://iss", "exp": 1, "aud": "x"}),
            1000
        ),
        Err(AuthError::JwtExpired)
    );
    assert_eq!(
        run(&p, json!({"iss": "https://iss", "aud": "x"}), 1000),
        Err(AuthError::JwtAudienceNotAllowed)
    );
    assert_eq!(
        run(&p, json!({"iss": "https://iss"}), 1000),
        Err(AuthError::JwtAudienceNotAllowed)
    );
    assert_eq!(
        run(&p, json!({"iss": "https://iss", "aud": ["x", "api"]}), 1000),
        Ok(())
    );
    assert_eq!(
        run(&p, json!({"aud": "api"}), 1000),
        Err(AuthError::JwtUnknownIssuer),
        "missing iss"
    );
}

#[test]
fn multi_tenant_issuer() {
    let any = provider(
        json!({"issuer": "https://login.example/{tenantid}/v2.0", "allowed_tenants": ["*"]}),
    );
    let listed = provider(
        json!({"issuer": "https://login.example/{tenantid}/v2.0", "allowed_tenants": ["t1", "t2"]}),
    );
    let ok = |p: &Provider, iss: &str, tid: Value| {
        run(p, json!({"iss": iss, "tid": tid}), 1).is_ok()
    };
    assert!(ok(&any, "https://login.example/t9/v2.0", json!("t9")));
    assert!(ok(&listed, "https://login.example/t2/v2.0", json!("t2")));
    assert!(
        !ok(&listed, "https://login.example/t3/v2.0", json!("t3")),
        "unlisted tenant"
    );
    assert!(
        !ok(&listed, "https://login.example/t1/v2.0", json!("t2")),
        "tid differs from the issuer's tenant"
    );
    assert!(
        !ok(&any, "https://login.example/t1/x/v2.0", json!("t1/x")),
        "two path segments"
    );
    assert!(
        !ok(&any, "https://login.example//v2.0", json!("")),
        "empty tenant"
    );
    assert!(
        !ok(&any, "https://login.example/t1/v2.0", json!(null)),
        "no tid"
    );
    assert!(!ok(&any, "https://evil.example/t1/v2.0", json!("t1")));
}

#[test]
fn audience_normalisation_like_native() {
    let allowed = vec!["https://api.example/".to_string()];
    assert!(audience_allowed(&allowed, &["api.example".into()]));
    assert!(audience_allowed(&allowed, &["http://api.example".into()]));
    assert!(!audience_allowed(&allowed, &["api.example.evil".into()]));
    assert!(audience_allowed(&[], &[]));
}

#[test]
fn subjects_expiration_and_lifetime() {
    let p = provider(json!({"subjects": {"suffix": "@example.com"}}));
    assert!(matches!(p.subjects, Some(StringMatcher::Suffix(..))));
    assert_eq!(run(&p, json!({"sub": "a@example.com"}), 1), Ok(()));
    assert_eq!(
        run(&p, json!({"sub": "a@evil.com"}), 1),
        Err(AuthError::JwtVerificationFail)
    );
    assert_eq!(run(&p, json!({}), 1), Err(AuthError::JwtVerificationFail));
    let p = provider(json!({"require_expiration": true}));
    assert_eq!(run(&p, json!({}), 1), Err(AuthError::JwtVerificationFail));
    let p = provider(json!({"max_lifetime": "100s"}));
    assert_eq!(run(&p, json!({"iat": 10, "exp": 110}), 50), Ok(()));
    assert_eq!(
        run(&p, json!({"iat": 10, "exp": 111}), 50),
        Err(AuthError::JwtVerificationFail)
    );
    assert_eq!(
        run(&p, json!({"exp": 111}), 50),
        Err(AuthError::JwtVerificationFail)
    );
}

/// Native's rendering of numbers (checked against Envoy in tests/envoy/e2e.rs), except integers
/// above 2^53, which native rounds through a double.
#[test]
fn numbers_print_as_native_prints_them() {
    let cases = [
        ("42", "42"),
        ("3.0", "3"),
        ("1e3", "1000"),
        ("-7", "-7.000000"),
        ("1.5", "1.500000"),
        ("0.1", "0.100000"),
        ("123456789.125", "123456789.125000"),
        ("1e-7", "0.000000"),
        ("-1e-7", "-0.000000"),
        ("100000000000000000000", "100000000000000000000.000000"),
        ("18446744073709551615", "18446744073709551615"),
        ("9007199254740993", "9007199254740993"),
    ];
    for (raw, want) in cases {
        let value: Value = serde_json::from_str(raw).unwrap();
        assert_eq!(render(&value), want, "{raw}");
    }
}

/// [`fixed6`] against Rust's own exact formatting (which agrees with C's `%f`, ties to
/// even included): edge values, then random doubles of every magnitude.
#[test]
fn fixed6_is_printf_f() {
    let edges = [
        0.0078125, // a tie at the sixth decimal, rounded to even
        0.0234375,
        -0.0000005,
        1e-7,
        -1e-7,
        5e-324,
        2.2250738585072014e-308,
        0.999_999_5,
        0.999_999_499_999,
        123456789.125,
        -7.0,
        9007199254740993.0,
        18446744073709551616.0,
        1e20,
        1e300,
        f64::MAX,
        -f64::MAX,
        f64::MIN_POSITIVE,
    ];
    for v in edges {
        assert_eq!(fixed6(v), format!("{v:.6}"), "{v:e}");
    }
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..200_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let v = f64::from_bits(state);
        if v.is_finite() {
            assert_eq!(fixed6(v), format!("{v:.6}"), "{v:e}");
        }
        // Decimal-looking values too, as JSON numbers usually are.
        let d = (state % 2_000_000_000) as f64 / 1000.0 - 1_000_000.0;
        assert_eq!(fixed6(d), format!("{d:.6}"), "{d}");
    }
}

#[test]
fn header_values() {
    let claims = json!({"s": "v", "i": 42, "n": -3, "f": 1.5, "b": true, "o": {"k": [1, "x"]}, "a": [1, "two", true], "e": "", "c": "a\r\nx: y",
        "realm_access": {"roles": ["admin", "ops"]}, "address": {"country": "NZ"}, "https://example.com/roles": ["r"], "ca": ["ok", "bad\n"]});
    let claims = claims.as_object().unwrap();
    let v = |k| header_value(claims, k);
    assert_eq!(v("s").as_deref(), Some("v"));
    assert_eq!(v("i").as_deref(), Some("42"));
    assert_eq!(v("n").as_deref(), Some("-3.000000"));
    assert_eq!(v("f").as_deref(), Some("1.500000"));
    assert_eq!(v("b").as_deref(), Some("true"));
    assert_eq!(v("a").as_deref(), Some("1,two,true"));
    assert_eq!(v("o").as_deref(), Some(r#"{"k":[1,"x"]}"#));
    assert_eq!(v("realm_access.roles").as_deref(), Some("admin,ops"));
    assert_eq!(v("address.country").as_deref(), Some("NZ"));
    assert_eq!(v("https://example.com/roles").as_deref(), Some("r"));
    for k in ["e", "c", "ca", "missing", "address.city", "s.x"] {
        assert_eq!(v(k), None, "{k}");
    }
}
