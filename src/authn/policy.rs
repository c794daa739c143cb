//! Authorization from the claims of a verified token, per rule (an extension: native
//! `jwt_authn` has none): required scopes, matchers on any claim, and binding the token's
//! client to a request header. Runs only after the signature has been checked.

use serde_json::{Map, Value};

use crate::authn::claims;
use crate::error::AuthError;
use crate::request::matcher::Request;

#[derive(Debug, Clone, PartialEq)]
pub struct Authorization {
    /// Every one of these must be granted, by `scope` (space-separated) or `scp` (array or
    /// space-separated string).
    pub scopes: Vec<String>,
    pub claims: Vec<ClaimRule>,
    pub client: Option<ClientBinding>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClaimRule {
    /// A claim name, or a dotted path into nested objects (`realm_access.roles`).
    pub claim: String,
    pub test: ClaimTest,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ClaimTest {
    Equals(Value),
    OneOf(Vec<Value>),
    /// The claim (an array, or a space-separated string) holds all of these.
    ContainsAll(Vec<Value>),
    /// The claim (an array, or a space-separated string) holds at least one of these.
    ContainsAny(Vec<Value>),
    Absent,
}

/// The token's client (the first of `claims` it carries, e.g. `client_id`, `azp`, `cid`) must
/// equal the value of request header `header`, so a token stolen from another application is
/// refused even with a valid signature.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientBinding {
    pub header: String,
    pub claims: Vec<String>,
}

/// Why a verified token is not authorized: a 403 with `error="insufficient_scope"`, and the
/// scopes the resource needs when there are any (RFC 6750 §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forbidden {
    pub error: AuthError,
    pub scope: Option<String>,
}

impl Authorization {
    pub fn check(
        &self,
        token_claims: &Map<String, Value>,
        request: &Request,
    ) -> Result<(), Forbidden> {
        let scope = (!self.scopes.is_empty()).then(|| self.scopes.join(" "));
        let forbid = |error| Forbidden {
            error,
            scope: scope.clone(),
        };
        if !self.scopes.is_empty() {
            let granted = granted_scopes(token_claims);
            if !self.scopes.iter().all(|s| granted.contains(&s.as_str())) {
                return Err(forbid(AuthError::JwtInsufficientScope));
            }
        }
        for rule in &self.claims {
            if !rule.test.holds(claims::lookup(token_claims, &rule.claim)) {
                return Err(forbid(AuthError::JwtClaimsNotAllowed));
            }
        }
        if let Some(binding) = &self.client {
            let token_client = binding
                .claims
                .iter()
                .find_map(|c| claims::lookup(token_claims, c))
                .and_then(Value::as_str);
            match (token_client, request.header(&binding.header)) {
                (Some(a), Some(b)) if a == b => {}
                _ => return Err(forbid(AuthError::JwtClientMismatch)),
            }
        }
        Ok(())
    }
}

fn granted_scopes(token_claims: &Map<String, Value>) -> Vec<&str> {
    let mut granted = Vec::new();
    for name in ["scope", "scp"] {
        match token_claims.get(name) {
            Some(Value::String(s)) => granted.extend(s.split(' ').filter(|s| !s.is_empty())),
            Some(Value::Array(items)) => granted.extend(items.iter().filter_map(Value::as_str)),
            _ => {}
        }
    }
    granted
}

impl ClaimTest {
    fn holds(&self, value: Option<&Value>) -> bool {
        match (self, value) {
            (ClaimTest::Absent, v) => v.is_none(),
            (_, None) => false,
            (ClaimTest::Equals(want), Some(v)) => v == want,
            (ClaimTest::OneOf(options), Some(v)) => options.contains(v),
            (ClaimTest::ContainsAll(wanted), Some(v)) => {
                let held = members(v);
                wanted.iter().all(|w| held.contains(w))
            }
            (ClaimTest::ContainsAny(wanted), Some(v)) => {
                let held = members(v);
                wanted.iter().any(|w| held.contains(w))
            }
        }
    }
}

/// The members of a claim for `contains_*`: an array's elements, the words of a
/// space-separated string, or the value itself.
fn members(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::String(s) => s
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(|w| Value::String(w.to_string()))
            .collect(),
        other => vec![other.clone()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn auth(
        scopes: &[&str],
        rules: Vec<ClaimRule>,
        client: Option<ClientBinding>,
    ) -> Authorization {
        Authorization {
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            claims: rules,
            client,
        }
    }

    #[test]
    fn scopes_from_scope_or_scp() {
        let h = vec![];
        let r = Request::new(&h);
        let a = auth(&["read", "write"], vec![], None);
        assert_eq!(
            a.check(&claims(json!({"scope": "read write admin"})), &r),
            Ok(())
        );
        assert_eq!(
            a.check(&claims(json!({"scp": ["write", "read"]})), &r),
            Ok(())
        );
        let err = a.check(&claims(json!({"scope": "read"})), &r).unwrap_err();
        assert_eq!(
            err,
            Forbidden {
                error: AuthError::JwtInsufficientScope,
                scope: Some("read write".into())
            }
        );
        assert!(a.check(&claims(json!({"scope": "readwrite"})), &r).is_err());
        assert!(a.check(&claims(json!({})), &r).is_err());
    }

    #[test]
    fn claim_tests() {
        let h = vec![];
        let r = Request::new(&h);
        let c = claims(
            json!({"realm_access": {"roles": ["admin", "ops"]}, "tier": "gold", "email_verified": true, "groups": "a b"}),
        );
        let ok = |claim: &str, test: ClaimTest| {
            auth(
                &[],
                vec![ClaimRule {
                    claim: claim.into(),
                    test,
                }],
                None,
            )
            .check(&c, &r)
            .is_ok()
        };
        assert!(ok(
            "realm_access.roles",
            ClaimTest::ContainsAny(vec![json!("admin"), json!("x")])
        ));
        assert!(!ok(
            "realm_access.roles",
            ClaimTest::ContainsAll(vec![json!("admin"), json!("x")])
        ));
        assert!(ok(
            "realm_access.roles",
            ClaimTest::ContainsAll(vec![json!("admin"), json!("ops")])
        ));
        assert!(ok(
            "groups",
            ClaimTest::ContainsAll(vec![json!("b"), json!("a")])
        ));
        assert!(ok(
            "tier",
            ClaimTest::OneOf(vec![json!("gold"), json!("silver")])
        ));
        assert!(!ok("tier", ClaimTest::OneOf(vec![json!("bronze")])));
        assert!(ok("email_verified", ClaimTest::Equals(json!(true))));
        assert!(!ok("email_verified", ClaimTest::Equals(json!("true"))));
        assert!(ok("act", ClaimTest::Absent));
        assert!(!ok("tier", ClaimTest::Absent));
        assert!(!ok("missing", ClaimTest::Equals(json!(null))));
    }

    #[test]
    fn client_binding() {
        let binding = Some(ClientBinding {
            header: "x-client-id".into(),
            claims: vec!["client_id".into(), "azp".into(), "cid".into()],
        });
        let a = auth(&[], vec![], binding);
        let h = vec![("x-client-id".to_string(), "app-1".to_string())];
        let r = Request::new(&h);
        assert_eq!(a.check(&claims(json!({"azp": "app-1"})), &r), Ok(()));
        assert_eq!(
            a.check(&claims(json!({"client_id": "app-2", "azp": "app-1"})), &r)
                .unwrap_err()
                .error,
            AuthError::JwtClientMismatch,
            "first present claim decides"
        );
        assert!(a.check(&claims(json!({})), &r).is_err());
        let none = vec![];
        assert!(
            a.check(&claims(json!({"cid": "app-1"})), &Request::new(&none))
                .is_err(),
            "missing header"
        );
    }
}
