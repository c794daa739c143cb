use crate::authn::model::{JwksSource, LogLevel};
use crate::request::extract::Location;
use super::*;
use serde_json::json;

const JWKS: &str = r#"{"keys":[{"kty":"oct","kid":"k1","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}]}"#;

fn with_provider(extra: Value) -> String {
    let mut provider = json!({"issuer": "https://iss", "local_jwks": {"inline_string": JWKS}});
    if let (Some(p), Some(e)) = (provider.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            p.insert(k.clone(), v.clone());
        }
    }
    json!({"providers": {"p": provider}, "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]}).to_string()
}

fn error_field(text: &str) -> String {
    Config::parse(text).expect_err("must be refused").field
}

#[test]
fn log_level_defaults_to_info_and_names_its_field_when_wrong() {
    let with_level = |level: Value| {
        let mut config: Value = serde_json::from_str(&with_provider(json!({}))).unwrap();
        config["log_level"] = level;
        config.to_string()
    };
    assert_eq!(
        Config::parse(&with_provider(json!({}))).unwrap().log_level,
        LogLevel::Info
    );
    for (name, level) in LogLevel::NAMES {
        assert_eq!(
            Config::parse(&with_level(json!(name))).unwrap().log_level,
            level
        );
    }
    assert_eq!(
        Config::parse(&with_level(json!("DEBUG")))
            .expect_err("refused")
            .field,
        "log_level"
    );
    assert_eq!(error_field(&with_level(json!("verbose"))), "log_level");
    assert_eq!(error_field(&with_level(json!(1))), "log_level");
    assert!(LogLevel::Debug < LogLevel::Info && LogLevel::Error < LogLevel::Critical);
}

#[test]
fn native_jwt_cache_config_sizes_the_shared_cache() {
    let parse = |extra: Value| Config::parse(&with_provider(extra));
    let plain = parse(json!({})).unwrap();
    assert_eq!(plain.providers[0].jwt_cache_size, None);
    assert_eq!(plain.providers[0].max_cached_token_bytes, 4096);
    assert_eq!(plain.token_cache_size, crate::authn::token_cache::DEFAULT_CAPACITY);
    // Native's defaults for 0 and unset; a uint32 may be a JSON string.
    let defaults = parse(json!({"jwt_cache_config": {"jwt_cache_size": 0}})).unwrap();
    assert_eq!(defaults.providers[0].jwt_cache_size, Some(100));
    assert_eq!(defaults.providers[0].max_cached_token_bytes, 4096);
    let sized = parse(
        json!({"jwt_cache_config": {"jwt_cache_size": "5000", "jwt_max_token_size": 8192}}),
    )
    .unwrap();
    assert_eq!(sized.providers[0].max_cached_token_bytes, 8192);
    assert_eq!(
        sized.token_cache_size, 5000,
        "room for the provider's share"
    );
    let mut explicit: Value = serde_json::from_str(&with_provider(
        json!({"jwt_cache_config": {"jwt_cache_size": 5000}}),
    ))
    .unwrap();
    explicit["token_cache_size"] = json!(10);
    assert_eq!(
        Config::parse(&explicit.to_string())
            .unwrap()
            .token_cache_size,
        10,
        "token_cache_size, when set, decides"
    );
    let huge = parse(json!({"jwt_cache_config": {"jwt_cache_size": 4294967295u64}})).unwrap();
    assert_eq!(huge.token_cache_size, MAX_TOKEN_CACHE_SIZE);
    for (extra, field) in [
        (
            json!({"jwt_cache_config": {"jwt_cache_size": -1}}),
            "providers.p.jwt_cache_config.jwt_cache_size",
        ),
        (
            json!({"jwt_cache_config": {"jwt_max_token_size": 4294967296u64}}),
            "providers.p.jwt_cache_config.jwt_max_token_size",
        ),
        (
            json!({"jwt_cache_config": {"ttl": 5}}),
            "providers.p.jwt_cache_config.ttl",
        ),
        (
            json!({"jwt_cache_config": 5}),
            "providers.p.jwt_cache_config",
        ),
    ] {
        assert_eq!(error_field(&with_provider(extra)), field);
    }
}

/// The refusal README.md shows as its example, word for word.
#[test]
fn unsupported_fields_are_named_with_what_they_would_do() {
    let mut config: serde_json::Value =
        serde_json::from_str(&with_provider(json!({}))).unwrap();
    config["filter_state_rules"] = json!({"name": "x", "requires": {}});
    let e = Config::parse(&config.to_string()).expect_err("must be refused");
    assert_eq!(
        e.to_string(),
        "field `filter_state_rules`: filter state rules are not supported by this filter; \
         remove the field"
    );
}

#[test]
fn native_defaults() {
    let config = Config::parse(&with_provider(json!({}))).unwrap();
    let p = &config.providers[0];
    assert_eq!(p.clock_skew_seconds, 60);
    assert!(!p.forward);
    assert_eq!(
        p.locations,
        vec![
            Location::Header {
                name: "authorization".into(),
                value_prefix: "Bearer ".into()
            },
            Location::Param("access_token".into())
        ]
    );
    assert!(matches!(p.jwks, JwksSource::Local(_)));
}

#[test]
fn full_provider() {
    let config = Config::parse(&with_provider(json!({
        "audiences": ["a", "b"],
        "from_headers": [{"name": "X-Token", "value_prefix": "Tok "}],
        "from_params": ["jwt"],
        "forward": true,
        "forward_payload_header": "X-Payload",
        "claim_to_headers": [{"header_name": "X-Sub", "claim_name": "sub"}],
        "clock_skew_seconds": 5,
        "require_expiration": true,
        "max_lifetime": {"seconds": 3600},
    })))
    .unwrap();
    let p = &config.providers[0];
    assert_eq!(p.audiences, vec!["a", "b"]);
    assert_eq!(
        p.locations,
        vec![
            Location::Header {
                name: "x-token".into(),
                value_prefix: "Tok ".into()
            },
            Location::Param("jwt".into())
        ]
    );
    assert_eq!(p.forward_payload_header.as_deref(), Some("x-payload"));
    assert_eq!(p.clock_skew_seconds, 5);
    assert_eq!(p.max_lifetime_seconds, Some(3600));
    assert_eq!(config.generated_headers, vec!["x-sub", "x-payload"]);
}

#[test]
fn remote_jwks() {
    let text = json!({"providers": {"r": {"remote_jwks": {"http_uri": {"uri": "https://idp.example:8443/keys?x=1", "cluster": "idp", "timeout": "2s"}, "cache_duration": {"seconds": 60}}}}}).to_string();
    let config = Config::parse(&text).unwrap();
    let remote = config.providers[0].remote().unwrap();
    assert_eq!(remote.authority, "idp.example:8443");
    assert_eq!(remote.path, "/keys?x=1");
    assert_eq!(remote.timeout_ms, 2000);
    assert_eq!(remote.cache_duration_ms, 60_000);
}

#[test]
fn camel_case_members_are_accepted() {
    let text = json!({"providers": {"p": {"localJwks": {"inlineString": JWKS}, "clockSkewSeconds": 7}}}).to_string();
    assert_eq!(
        Config::parse(&text).unwrap().providers[0].clock_skew_seconds,
        7
    );
}

#[test]
fn rules_first_match_wins_and_unmatched_passes() {
    let text = json!({
        "providers": {"p": {"local_jwks": {"inline_string": JWKS}}},
        "rules": [
            {"match": {"prefix": "/public"}},
            {"match": {"path": "/exact"}, "requires": {"provider_name": "p"}},
            {"match": {"prefix": "/api"}, "requires": {"provider_name": "p"}},
        ]
    })
    .to_string();
    let config = Config::parse(&text).unwrap();
    let requires = |path: &str| {
        let headers = vec![(":path".to_string(), path.to_string())];
        let request = crate::request::matcher::Request::new(&headers);
        config
            .rules
            .iter()
            .find(|r| r.matcher.matches(&request))
            .and_then(|r| r.requires.clone())
    };
    assert!(requires("/public/x").is_none());
    assert!(requires("/exact?q=1").is_some());
    assert!(requires("/exact/more").is_none());
    assert!(requires("/api/v1").is_some());
    assert!(requires("/other").is_none());
}

#[test]
fn refusals_name_the_field() {
    let cases = [
        (with_provider(json!({"bogus": 1})), "providers.p.bogus"),
        (with_provider(json!({"from_cookies": [""]})), "providers.p.from_cookies[0]"),
        (with_provider(json!({"payload_in_metadata": "x"})), "providers.p.payload_in_metadata"),
        (with_provider(json!({"issuer": "https://login.example/{tenantid}/v2.0"})), "providers.p.allowed_tenants"),
        (with_provider(json!({"allowed_tenants": ["t1"]})), "providers.p.allowed_tenants"),
        (with_provider(json!({"issuer": "https://x/{tenantid}/{tenantid}", "allowed_tenants": ["*"]})), "providers.p.issuer"),
        (with_provider(json!({"issuer": "https://x/{tenantid}", "allowed_tenants": ["*", "t1"]})), "providers.p.allowed_tenants"),
        (with_provider(json!({"max_lifetime": "10m"})), "providers.p.max_lifetime"),
        (with_provider(json!({"audiences": "a"})), "providers.p.audiences"),
        (with_provider(json!({"claim_to_headers": [{"header_name": "bad header", "claim_name": "sub"}]})), "providers.p.claim_to_headers[0].header_name"),
        (with_provider(json!({"local_jwks": {"inline_string": "{\"keys\": 5}"}})), "providers.p.local_jwks.inline_string"),
        (with_provider(json!({"local_jwks": {"filename": "/etc/jwks.json"}})), "providers.p.local_jwks.filename"),
        (json!({"providers": {}, "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "nope"}}]}).to_string(), "rules[0].requires.provider_name"),
        (json!({"providers": {}, "rules": [{"match": {"safe_regex": {"regex": "(unclosed"}}}]}).to_string(), "rules[0].match.safe_regex.regex"),
        (json!({"providers": {}, "rules": [{"match": {"prefix": "/"}, "requires": {"requires_any": {}}}]}).to_string(), "rules[0].requires.requires_any.requirements"),
        (json!({"providers": {}, "rules": [{"match": {"prefix": "/"}, "requirement_name": "nope"}]}).to_string(), "rules[0].requirement_name"),
        (json!({"providers": {}, "rules": [{"match": {"prefix": "/", "grpc": {}}}]}).to_string(), "rules[0].match.grpc"),
        (with_provider(json!({})).replace("\"requires\"", "\"authorization\": {}, \"requires\""), "rules[0].authorization"),
        (json!({"providers": {"r": {"remote_jwks": {"http_uri": {"uri": "idp/keys", "cluster": "c"}}}}}).to_string(), "providers.r.remote_jwks.http_uri.uri"),
        (json!({"providers": {"r": {"remote_jwks": {"http_uri": {"uri": "http://idp/keys", "cluster": "c"}, "cache_duration": "5"}}}}).to_string(), "providers.r.remote_jwks.cache_duration"),
        (json!({"providers": {"r": {"remote_jwks": {"http_uri": {"uri": "http://idp/keys"}}}}}).to_string(), "providers.r.remote_jwks.http_uri.cluster"),
        (json!({"bypass_cors_preflight": "yes"}).to_string(), "bypass_cors_preflight"),
        (json!({"unknown_top": true}).to_string(), "unknown_top"),
    ];
    for (text, field) in cases {
        assert_eq!(error_field(&text), field, "{text}");
    }
}

#[test]
fn empty_local_jwks_is_accepted_like_native() {
    let config =
        Config::parse(&with_provider(json!({"local_jwks": {"inline_string": ""}}))).unwrap();
    assert!(matches!(config.providers[0].jwks, JwksSource::Empty));
}

#[test]
fn only_the_headers_the_configuration_reads_are_made_text() {
    let fetch = |provider: Value, rules: Value, extra: Value| {
        let mut root = json!({
            "providers": {"p": provider},
            "rules": rules,
        });
        if let (Some(r), Some(e)) = (root.as_object_mut(), extra.as_object()) {
            r.extend(e.clone());
        }
        Config::parse(&root.to_string()).unwrap().header_fetch
    };
    let named = |names: &[&str]| HeaderFetch::Named(names.iter().map(|n| n.to_string()).collect());
    let header_only = json!({"issuer": "https://iss", "local_jwks": {"inline_string": JWKS},
        "from_headers": [{"name": "Authorization", "value_prefix": "Bearer "}]});
    let all = json!([{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]);
    assert_eq!(
        fetch(header_only.clone(), all.clone(), json!({})),
        HeaderFetch::One("authorization".into())
    );
    // Envoy keeps repeated values of other headers apart: the map, to see them all.
    let mut custom = header_only.clone();
    custom["from_headers"] = json!([{"name": "X-Token"}]);
    assert_eq!(fetch(custom, all.clone(), json!({})), named(&[":path", "x-token"]));
    // Native's default locations include the `access_token` query parameter (`:path`).
    let mut default = header_only.clone();
    default.as_object_mut().unwrap().remove("from_headers");
    assert_eq!(fetch(default, all.clone(), json!({})), named(&[":path", "authorization"]));
    let mut two = header_only.clone();
    two["from_headers"] = json!([{"name": "authorization"}, {"name": "x-token"}]);
    assert_eq!(
        fetch(two, all.clone(), json!({})),
        named(&[":path", "authorization", "x-token"])
    );
    let mut cookie = header_only.clone();
    cookie["from_cookies"] = json!(["session"]);
    assert_eq!(
        fetch(cookie, all.clone(), json!({})),
        named(&[":path", "authorization", "cookie"])
    );
    for (rules, names) in [
        (json!([{"match": {"prefix": "/api"}, "requires": {"provider_name": "p"}}]), vec![":path", "authorization"]),
        (json!([{"match": {"path": "/"}, "requires": {"provider_name": "p"}}]), vec![":path", "authorization"]),
        (json!([{"match": {"prefix": "/", "headers": [{"name": "X-A", "present_match": true}]}, "requires": {"provider_name": "p"}}]), vec![":path", "x-a", "authorization"]),
        (json!([{"match": {"prefix": "/", "query_parameters": [{"name": "a", "present_match": true}]}, "requires": {"provider_name": "p"}}]), vec![":path", "authorization"]),
        (json!([]), vec![":path", "authorization"]),
        (json!([{"match": {"prefix": "/a"}}, {"match": {"prefix": "/"}, "requires": {"provider_name": "p"},
            "authorization": {"client_id_header": {"header": "x-client-id"}}}]), vec![":path", "x-client-id", "authorization"]),
    ] {
        assert_eq!(fetch(header_only.clone(), rules.clone(), json!({})), named(&names), "{rules}");
    }
    assert_eq!(
        fetch(
            header_only.clone(),
            all.clone(),
            json!({"bypass_cors_preflight": true})
        ),
        named(&[":path", "authorization", ":method", "origin", "access-control-request-method"])
    );
    // Later rules are never reached behind a catch-all.
    let shadowed = json!([{"match": {"prefix": "/"}}, {"match": {"prefix": "/x", "headers": [{"name": "x-a", "present_match": true}]}}]);
    assert_eq!(
        fetch(header_only, shadowed, json!({})),
        HeaderFetch::One("authorization".into())
    );
}

#[test]
fn not_json_is_refused() {
    assert!(Config::parse("{providers").is_err());
    assert!(Config::parse("[]").is_err());
}
