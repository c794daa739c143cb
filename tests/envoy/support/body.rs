// The reply bodies (tests/envoy/support/expect.rs's `body`), included by the Envoy suites and by
// `jwt-authn explain`'s run of the policy table (tools/jwt-authn/tests/policy_table.rs).
pub const MISSING: &str = "Jwt is missing";
pub const EXPIRED: &str = "Jwt is expired";
pub const NOT_YET_VALID: &str = "Jwt not yet valid";
pub const BAD_FORMAT: &str =
    "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections";
pub const HEADER_BAD_BASE64: &str = "Jwt header is an invalid Base64url encoded";
pub const SIGNATURE_BAD_BASE64: &str = "Jwt signature is an invalid Base64url encoded";
pub const UNKNOWN_ISSUER: &str = "Jwt issuer is not configured";
pub const AUDIENCE: &str = "Audiences in Jwt are not allowed";
pub const VERIFICATION: &str = "Jwt verification fails";
pub const KID_ALG: &str = "Jwks doesn't have key to match kid or alg from Jwt";
pub const ALG_NOT_IMPLEMENTED: &str = "Jwt header [alg] is not supported";
pub const FETCH_FAIL: &str = "Jwks remote fetch is failed";
pub const TYP: &str = "Jwt header [typ] is not allowed";
pub const SCOPE: &str = "Jwt does not have the required scope";
pub const CLAIMS: &str = "Jwt claims are not allowed for this resource";
pub const CLIENT: &str = "Jwt client does not match the request";
