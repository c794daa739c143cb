//! Why a request was refused, with the status names and texts of Envoy's native `jwt_authn`
//! (jwt_verify_lib's `Status`), so clients and dashboards see the same answers.

use std::fmt;

/// Why a request was refused. The names are jwt_verify_lib's, so logs and the conformance
/// corpus can be compared one to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthError {
    JwksFetchFail,
    JwksKidAlgMismatch,
    JwksNoValidKeys,
    JwtAudienceNotAllowed,
    JwtBadFormat,
    /// Authorization extension: a claim matcher of the rule did not hold (403).
    JwtClaimsNotAllowed,
    /// Authorization extension: the token's client is not the one the request names (403).
    JwtClientMismatch,
    JwtEd25519SignatureWrongLength,
    JwtExpired,
    JwtHeaderBadAlg,
    JwtHeaderBadKid,
    /// A `crit` header we do not understand (RFC 7515 §4.1.11).
    JwtHeaderCritUnsupported,
    JwtHeaderNotImplementedAlg,
    JwtHeaderParseErrorBadBase64,
    JwtHeaderParseErrorBadJson,
    /// Authorization extension: a required scope is not granted (403).
    JwtInsufficientScope,
    JwtMissed,
    /// More tokens in one request than the filter looks at.
    JwtMultipleTokens,
    JwtNotYetValid,
    JwtPayloadParseErrorAudNotString,
    JwtPayloadParseErrorBadBase64,
    JwtPayloadParseErrorBadJson,
    JwtPayloadParseErrorExpNotInteger,
    JwtPayloadParseErrorExpOutOfRange,
    JwtPayloadParseErrorIatNotInteger,
    JwtPayloadParseErrorIatOutOfRange,
    JwtPayloadParseErrorIssNotString,
    JwtPayloadParseErrorJtiNotString,
    JwtPayloadParseErrorNbfNotInteger,
    JwtPayloadParseErrorNbfOutOfRange,
    JwtPayloadParseErrorSubNotString,
    /// Replay protection extension: the token lacks a `jti` or an `exp`, or lives longer than
    /// the provider's `max_token_lifetime`, so it cannot be held to one use.
    JwtReplayUncheckable,
    /// Replay protection extension: the token's `jti` was seen before within its lifetime.
    JwtReplayed,
    JwtSignatureParseErrorBadBase64,
    /// The token is longer than the configured limit; refused before any decoding.
    JwtTooLarge,
    /// The header `typ` is not one the provider accepts (e.g. an ID token where `at+jwt` is required).
    JwtTypeNotAllowed,
    JwtUnknownIssuer,
    JwtVerificationFail,
}

impl AuthError {
    /// 403 when the token is good but not for this audience (as native Envoy) or does not
    /// grant what the rule requires; 401 for everything else.
    pub fn http_status(self) -> u32 {
        match self {
            AuthError::JwtAudienceNotAllowed
            | AuthError::JwtInsufficientScope
            | AuthError::JwtClaimsNotAllowed
            | AuthError::JwtClientMismatch => 403,
            _ => 401,
        }
    }

    /// The RFC 6750 §3.1 error code for `WWW-Authenticate`; `None` when no token was presented.
    pub fn bearer_error(self) -> Option<&'static str> {
        match self {
            AuthError::JwtMissed => None,
            AuthError::JwtInsufficientScope
            | AuthError::JwtClaimsNotAllowed
            | AuthError::JwtClientMismatch => Some("insufficient_scope"),
            _ => Some("invalid_token"),
        }
    }

    /// The stable status name, for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            AuthError::JwksFetchFail => "JwksFetchFail",
            AuthError::JwksKidAlgMismatch => "JwksKidAlgMismatch",
            AuthError::JwksNoValidKeys => "JwksNoValidKeys",
            AuthError::JwtAudienceNotAllowed => "JwtAudienceNotAllowed",
            AuthError::JwtBadFormat => "JwtBadFormat",
            AuthError::JwtClaimsNotAllowed => "JwtClaimsNotAllowed",
            AuthError::JwtClientMismatch => "JwtClientMismatch",
            AuthError::JwtEd25519SignatureWrongLength => "JwtEd25519SignatureWrongLength",
            AuthError::JwtExpired => "JwtExpired",
            AuthError::JwtHeaderBadAlg => "JwtHeaderBadAlg",
            AuthError::JwtHeaderBadKid => "JwtHeaderBadKid",
            AuthError::JwtHeaderCritUnsupported => "JwtHeaderCritUnsupported",
            AuthError::JwtHeaderNotImplementedAlg => "JwtHeaderNotImplementedAlg",
            AuthError::JwtHeaderParseErrorBadBase64 => "JwtHeaderParseErrorBadBase64",
            AuthError::JwtHeaderParseErrorBadJson => "JwtHeaderParseErrorBadJson",
            AuthError::JwtInsufficientScope => "JwtInsufficientScope",
            AuthError::JwtMissed => "JwtMissed",
            AuthError::JwtMultipleTokens => "JwtMultipleTokens",
            AuthError::JwtNotYetValid => "JwtNotYetValid",
            AuthError::JwtPayloadParseErrorAudNotString => "JwtPayloadParseErrorAudNotString",
            AuthError::JwtPayloadParseErrorBadBase64 => "JwtPayloadParseErrorBadBase64",
            AuthError::JwtPayloadParseErrorBadJson => "JwtPayloadParseErrorBadJson",
            AuthError::JwtPayloadParseErrorExpNotInteger => "JwtPayloadParseErrorExpNotInteger",
            AuthError::JwtPayloadParseErrorExpOutOfRange => "JwtPayloadParseErrorExpOutOfRange",
            AuthError::JwtPayloadParseErrorIatNotInteger => "JwtPayloadParseErrorIatNotInteger",
            AuthError::JwtPayloadParseErrorIatOutOfRange => "JwtPayloadParseErrorIatOutOfRange",
            AuthError::JwtPayloadParseErrorIssNotString => "JwtPayloadParseErrorIssNotString",
            AuthError::JwtPayloadParseErrorJtiNotString => "JwtPayloadParseErrorJtiNotString",
            AuthError::JwtPayloadParseErrorNbfNotInteger => "JwtPayloadParseErrorNbfNotInteger",
            AuthError::JwtPayloadParseErrorNbfOutOfRange => "JwtPayloadParseErrorNbfOutOfRange",
            AuthError::JwtPayloadParseErrorSubNotString => "JwtPayloadParseErrorSubNotString",
            AuthError::JwtReplayUncheckable => "JwtReplayUncheckable",
            AuthError::JwtReplayed => "JwtReplayed",
            AuthError::JwtSignatureParseErrorBadBase64 => "JwtSignatureParseErrorBadBase64",
            AuthError::JwtTooLarge => "JwtTooLarge",
            AuthError::JwtTypeNotAllowed => "JwtTypeNotAllowed",
            AuthError::JwtUnknownIssuer => "JwtUnknownIssuer",
            AuthError::JwtVerificationFail => "JwtVerificationFail",
        }
    }

    /// The response body: the same text native Envoy sends for the same status.
    pub fn message(self) -> &'static str {
        match self {
            AuthError::JwksFetchFail => "Jwks remote fetch is failed",
            AuthError::JwksKidAlgMismatch => "Jwks doesn't have key to match kid or alg from Jwt",
            AuthError::JwksNoValidKeys => "Jwks doesn't have any valid public key",
            AuthError::JwtAudienceNotAllowed => "Audiences in Jwt are not allowed",
            AuthError::JwtBadFormat => {
                "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"
            }
            AuthError::JwtClaimsNotAllowed => "Jwt claims are not allowed for this resource",
            AuthError::JwtClientMismatch => "Jwt client does not match the request",
            AuthError::JwtEd25519SignatureWrongLength => "Jwt ED25519 signature is wrong length",
            AuthError::JwtExpired => "Jwt is expired",
            AuthError::JwtHeaderBadAlg => "Jwt header [alg] field is required and must be a string",
            AuthError::JwtHeaderBadKid => "Jwt header [kid] field is not a string",
            AuthError::JwtHeaderCritUnsupported => {
                "Jwt header [crit] names an unsupported extension"
            }
            AuthError::JwtHeaderNotImplementedAlg => "Jwt header [alg] is not supported",
            AuthError::JwtHeaderParseErrorBadBase64 => "Jwt header is an invalid Base64url encoded",
            AuthError::JwtHeaderParseErrorBadJson => "Jwt header is an invalid JSON",
            AuthError::JwtInsufficientScope => "Jwt does not have the required scope",
            AuthError::JwtMissed => "Jwt is missing",
            AuthError::JwtMultipleTokens => "Found multiple Jwt tokens",
            AuthError::JwtNotYetValid => "Jwt not yet valid",
            AuthError::JwtPayloadParseErrorAudNotString => {
                "Jwt payload [aud] field is not a string or string list"
            }
            AuthError::JwtPayloadParseErrorBadBase64 => {
                "Jwt payload is an invalid Base64url encoded"
            }
            AuthError::JwtPayloadParseErrorBadJson => "Jwt payload is an invalid JSON",
            AuthError::JwtPayloadParseErrorExpNotInteger => {
                "Jwt payload [exp] field is not an integer"
            }
            AuthError::JwtPayloadParseErrorExpOutOfRange => {
                "Jwt payload [exp] field is not a positive 64 bit integer"
            }
            AuthError::JwtPayloadParseErrorIatNotInteger => {
                "Jwt payload [iat] field is not an integer"
            }
            AuthError::JwtPayloadParseErrorIatOutOfRange => {
                "Jwt payload [iat] field is not a positive 64 bit integer"
            }
            AuthError::JwtPayloadParseErrorIssNotString => {
                "Jwt payload [iss] field is not a string"
            }
            AuthError::JwtPayloadParseErrorJtiNotString => {
                "Jwt payload [jti] field is not a string"
            }
            AuthError::JwtPayloadParseErrorNbfNotInteger => {
                "Jwt payload [nbf] field is not an integer"
            }
            AuthError::JwtPayloadParseErrorNbfOutOfRange => {
                "Jwt payload [nbf] field is not a positive 64 bit integer"
            }
            AuthError::JwtPayloadParseErrorSubNotString => {
                "Jwt payload [sub] field is not a string"
            }
            AuthError::JwtReplayUncheckable => {
                "Jwt needs [jti] and [exp] within the one-time token lifetime"
            }
            AuthError::JwtReplayed => "Jwt replayed",
            AuthError::JwtSignatureParseErrorBadBase64 => {
                "Jwt signature is an invalid Base64url encoded"
            }
            AuthError::JwtTooLarge => "Jwt is too large",
            AuthError::JwtTypeNotAllowed => "Jwt header [typ] is not allowed",
            AuthError::JwtUnknownIssuer => "Jwt issuer is not configured",
            AuthError::JwtVerificationFail => "Jwt verification fails",
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// A plugin configuration the filter refuses to load. `field` is the JSON path of the culprit
/// (e.g. `providers.okta.remote_jwks.cache_duration`), so the log line points at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub field: String,
    pub reason: String,
}

impl ConfigError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The line the filter logs when it refuses a configuration at load, and the one
    /// `jwt-authn validate` prints: the same words in both places.
    pub fn refusal(&self) -> String {
        format!("invalid plugin configuration: {self}")
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "field `{}`: {}", self.field, self.reason)
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_audience_is_forbidden() {
        assert_eq!(AuthError::JwtAudienceNotAllowed.http_status(), 403);
        assert_eq!(AuthError::JwtExpired.http_status(), 401);
        assert_eq!(AuthError::JwtMissed.http_status(), 401);
    }

    #[test]
    fn missing_token_is_not_an_invalid_token() {
        assert_eq!(AuthError::JwtMissed.bearer_error(), None);
        assert_eq!(
            AuthError::JwtVerificationFail.bearer_error(),
            Some("invalid_token")
        );
        assert_eq!(
            AuthError::JwtInsufficientScope.bearer_error(),
            Some("insufficient_scope")
        );
        assert_eq!(AuthError::JwtInsufficientScope.http_status(), 403);
    }
}
