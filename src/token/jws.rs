//! Compact JWS parsing (RFC 7515 §7.1) into an [`UnverifiedJwt`]: structure, header and the
//! registered claims, with the statuses of Envoy's native parser. Nothing here is trusted
//! until `authn` has checked the signature.

use serde_json::{Map, Value};

use crate::crypto::alg::Alg;
use crate::token::b64;
use crate::error::AuthError;

/// Tokens longer than this are refused before any decoding. Native Envoy has no such limit;
/// 16 KiB leaves room for large but real tokens (Azure AD with many groups, long custom
/// claims) well inside Envoy's default 60 KiB header budget.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Largest decoded JOSE header, in bytes. Real headers are under 1 KiB (an `x5c` chain is the
/// biggest thing one may carry, and this filter never reads it).
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
/// Deepest nesting of arrays and objects in the header or the payload, the top-level object
/// counting as 1. Checked by a byte scan before serde_json (whose own limit is 128) parses:
/// real tokens nest 3 or 4 deep.
pub const MAX_JSON_DEPTH: usize = 32;
/// Most top-level members (claims) in the payload.
pub const MAX_CLAIMS: usize = 256;
/// Most JSON values in the header or the payload (counted from above: 1 + commas + `[`/`{`).
/// Bounds the memory a parse can build from one token: a 16 KiB token of `[0,0,0,...]`
/// would otherwise be some 6000 values.
pub const MAX_JSON_VALUES: usize = 2048;

/// A token that parsed but whose signature has not been checked.
#[derive(Debug, Clone)]
pub struct UnverifiedJwt {
    pub alg: Alg,
    pub kid: Option<String>,
    /// Header `typ`, when it is a string.
    pub typ: Option<String>,
    /// The token as it arrived, owned so a verified token can be kept in the per-worker cache,
    /// where it is also the key. The signing input and the signature are read from it rather
    /// than kept beside it: a cache entry holds the token's bytes once.
    compact: Box<str>,
    /// Bytes of `header.payload` at the start of `compact`.
    signing_input_len: usize,
    pub claims: Map<String, Value>,
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub aud: Vec<String>,
    pub exp: Option<u64>,
    pub nbf: Option<u64>,
    pub iat: Option<u64>,
}

/// Parses a compact JWS. Checks run in native Envoy's order so the first failure reported
/// is the one it would report.
pub fn parse(token: &str) -> Result<UnverifiedJwt, AuthError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AuthError::JwtTooLarge);
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::JwtBadFormat);
    };
    // An empty section is never a JWT; native Envoy also skips empty sections when counting.
    if header_b64.is_empty() || payload_b64.is_empty() || signature_b64.is_empty() {
        return Err(AuthError::JwtBadFormat);
    }
    let signing_input = token
        .get(..header_b64.len() + 1 + payload_b64.len())
        .ok_or(AuthError::JwtBadFormat)?;

    let header_bytes = b64::decode(header_b64).ok_or(AuthError::JwtHeaderParseErrorBadBase64)?;
    if header_bytes.len() > MAX_HEADER_BYTES {
        return Err(AuthError::JwtTooLarge);
    }
    check_shape(&header_bytes, usize::MAX).map_err(|limit| match limit {
        ShapeError::Depth => AuthError::JwtHeaderParseErrorBadJson,
        ShapeError::Members | ShapeError::Values => AuthError::JwtTooLarge,
    })?;
    let header = json_object(&header_bytes).ok_or(AuthError::JwtHeaderParseErrorBadJson)?;
    let alg = match header.get("alg") {
        Some(Value::String(name)) => {
            Alg::parse(name).ok_or(AuthError::JwtHeaderNotImplementedAlg)?
        }
        _ => return Err(AuthError::JwtHeaderBadAlg),
    };
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(AuthError::JwtHeaderBadKid),
    };
    let typ = header
        .get("typ")
        .and_then(Value::as_str)
        .map(str::to_string);
    // RFC 7515 §4.1.11: a recipient must refuse a token whose `crit` lists an extension it does
    // not understand. This filter understands none, and an empty or malformed `crit` is invalid
    // on its own (native Envoy ignores `crit`).
    if header.contains_key("crit") {
        return Err(AuthError::JwtHeaderCritUnsupported);
    }

    let payload_bytes = b64::decode(payload_b64).ok_or(AuthError::JwtPayloadParseErrorBadBase64)?;
    check_shape(&payload_bytes, MAX_CLAIMS).map_err(|limit| match limit {
        ShapeError::Depth => AuthError::JwtPayloadParseErrorBadJson,
        ShapeError::Members | ShapeError::Values => AuthError::JwtTooLarge,
    })?;
    let claims = json_object(&payload_bytes).ok_or(AuthError::JwtPayloadParseErrorBadJson)?;
    let iss = string_claim(&claims, "iss", AuthError::JwtPayloadParseErrorIssNotString)?;
    let sub = string_claim(&claims, "sub", AuthError::JwtPayloadParseErrorSubNotString)?;
    let iat = time_claim(
        &claims,
        "iat",
        AuthError::JwtPayloadParseErrorIatNotInteger,
        AuthError::JwtPayloadParseErrorIatOutOfRange,
    )?;
    let nbf = time_claim(
        &claims,
        "nbf",
        AuthError::JwtPayloadParseErrorNbfNotInteger,
        AuthError::JwtPayloadParseErrorNbfOutOfRange,
    )?;
    let exp = time_claim(
        &claims,
        "exp",
        AuthError::JwtPayloadParseErrorExpNotInteger,
        AuthError::JwtPayloadParseErrorExpOutOfRange,
    )?;
    string_claim(&claims, "jti", AuthError::JwtPayloadParseErrorJtiNotString)?;
    let aud = match claims.get("aud") {
        None => Vec::new(),
        Some(Value::String(aud)) => vec![aud.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or(AuthError::JwtPayloadParseErrorAudNotString)?,
        Some(_) => return Err(AuthError::JwtPayloadParseErrorAudNotString),
    };

    // Checked here, in native order; decoded again for the signature check (`signature`).
    b64::decode(signature_b64).ok_or(AuthError::JwtSignatureParseErrorBadBase64)?;
    Ok(UnverifiedJwt {
        alg,
        kid,
        typ,
        compact: token.into(),
        signing_input_len: signing_input.len(),
        claims,
        iss,
        sub,
        aud,
        exp,
        nbf,
        iat,
    })
}

impl UnverifiedJwt {
    /// The compact token this was parsed from.
    pub fn compact(&self) -> &str {
        &self.compact
    }

    /// `header.payload`, the bytes the signature covers.
    pub fn signing_input(&self) -> &str {
        self.compact.get(..self.signing_input_len).unwrap_or("")
    }

    /// The decoded signature (it decoded at [`parse`], so this is `None` only for a value not
    /// made by it).
    pub fn signature(&self) -> Option<Vec<u8>> {
        let encoded = self.compact.get(self.signing_input_len + 1..)?;
        b64::decode(encoded)
    }

    /// The payload exactly as it arrived, for `forward_payload_header`.
    pub fn payload_b64(&self) -> &str {
        self.signing_input()
            .split_once('.')
            .map_or("", |(_, payload)| payload)
    }
}

/// A limit [`check_shape`] found exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShapeError {
    /// Arrays and objects nested deeper than [`MAX_JSON_DEPTH`].
    Depth,
    /// More top-level members than allowed.
    Members,
    /// More than [`MAX_JSON_VALUES`] values.
    Values,
}

/// One linear pass over a JSON text, before any parser builds anything from it: outside
/// strings, `[`/`{` nesting must stay within [`MAX_JSON_DEPTH`], the top level may have at most
/// `max_members` members (commas at depth 1, plus one) and the text at most
/// [`MAX_JSON_VALUES`] values (1 + commas + `[`/`{`, never fewer than the values it holds).
/// Invalid JSON may pass; the parser refuses it next.
pub(crate) fn check_shape(bytes: &[u8], max_members: usize) -> Result<(), ShapeError> {
    check_depth_and_counts(bytes, MAX_JSON_DEPTH, max_members, MAX_JSON_VALUES)
}

/// [`check_shape`] with every limit given; `usize::MAX` turns a count off.
pub(crate) fn check_depth_and_counts(
    bytes: &[u8],
    max_depth: usize,
    max_members: usize,
    max_values: usize,
) -> Result<(), ShapeError> {
    let (mut depth, mut members, mut values) = (0usize, 1usize, 1usize);
    let (mut in_string, mut escaped) = (false, false);
    for &byte in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                values += 1;
                if depth > max_depth {
                    return Err(ShapeError::Depth);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' => {
                values += 1;
                if depth == 1 {
                    members += 1;
                    if members > max_members {
                        return Err(ShapeError::Members);
                    }
                }
            }
            _ => continue,
        }
        if values > max_values {
            return Err(ShapeError::Values);
        }
    }
    Ok(())
}

fn json_object(bytes: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

fn string_claim(
    claims: &Map<String, Value>,
    name: &str,
    wrong_type: AuthError,
) -> Result<Option<String>, AuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(wrong_type),
    }
}

/// A NumericDate (RFC 7519 §2): a JSON number, fractions truncated, negative or beyond 64 bits
/// refused; a string such as `"1700000000"` is not a number.
fn time_claim(
    claims: &Map<String, Value>,
    name: &str,
    not_integer: AuthError,
    out_of_range: AuthError,
) -> Result<Option<u64>, AuthError> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    let Value::Number(n) = value else {
        return Err(not_integer);
    };
    if let Some(u) = n.as_u64() {
        return Ok(Some(u));
    }
    match n.as_f64() {
        // 2^64 as f64; anything at or above it cannot be a u64.
        Some(f) if (0.0..18_446_744_073_709_551_616.0).contains(&f) => Ok(Some(f as u64)),
        _ => Err(out_of_range),
    }
}

#[cfg(test)]
mod tests;
