//! The extensions `rules[].shadow` and `rules[].reply`: how a rule's refusals are carried out.

use crate::authn::model::{Provider, Requirement};
use crate::authn::response::{Body, ReplyShape};
use crate::authn::shadow::Shadow;
use crate::config::fields::{owned, decimal, Fields};
use crate::config::provider::header_name;
use crate::config::fields::Refused;
use crate::request::extract::Location;

/// Longest fixed body or problem `type` accepted.
pub const MAX_FIXED_BODY_BYTES: usize = 16 * 1024;
const MAX_TYPE_URI_BYTES: usize = 1024;
const MAX_CONTENT_TYPE_BYTES: usize = 256;

/// `shadow: {}` or `shadow: {"header": "x-jwt-shadow"}`.
#[inline(never)]
pub(super) fn parse_shadow(
    f: &Fields,
    providers: &[Provider],
    requires: Option<&Requirement>,
) -> Result<Shadow, Refused> {
    f.refuse_unknown(&["header"], &[])?;
    if requires.is_none() {
        return Err(f.err_here("needs `requires` or `requirement_name`: a rule without one refuses nothing"));
    }
    let header = match f.get("header") {
        None => None,
        Some(_) => Some(header_name(f, "header")?),
    };
    if let Some(name) = &header {
        let clash = |parts: &[&str]| Err(f.err_parts("header", parts));
        // Removed from every request, so it must not be a header anything else needs.
        if name.starts_with(':') || name.starts_with("x-envoy-") || name == "cookie" {
            return clash(&["`", name, "` is Envoy's or the client's; name another"]);
        }
        for p in providers {
            let generated = p
                .claim_to_headers
                .iter()
                .map(|c| &c.header_name)
                .chain(p.forward_payload_header.iter());
            for g in generated {
                if g == name {
                    return clash(&["`", name, "` is a header provider `", &p.name, "` already sets"]);
                }
            }
            for l in &p.locations {
                if matches!(l, Location::Header { name: n, .. } if n == name) {
                    return clash(&["`", name, "` is where provider `", &p.name, "` reads its tokens"]);
                }
            }
        }
    }
    Ok(Shadow::new(header, requires))
}

/// `reply: {missing_status, invalid_status, forbidden_status, format, problem_type,
/// content_type, body}`.
#[inline(never)]
pub(super) fn parse_reply(f: &Fields) -> Result<ReplyShape, Refused> {
    f.refuse_unknown(
        &[
            "missing_status",
            "invalid_status",
            "forbidden_status",
            "format",
            "problem_type",
            "content_type",
            "body",
        ],
        &[],
    )?;
    let native = ReplyShape::default();
    let missing_status = status(f, "missing_status", native.missing_status)?;
    let invalid_status = status(f, "invalid_status", native.invalid_status)?;
    let forbidden_status = status(f, "forbidden_status", native.forbidden_status)?;
    let format = f.string("format")?.unwrap_or("native");
    let body = match format {
        "native" => {
            only_with(f, "problem_type", "problem_json")?;
            only_with(f, "content_type", "fixed")?;
            only_with(f, "body", "fixed")?;
            Body::Native
        }
        "problem_json" => {
            only_with(f, "content_type", "fixed")?;
            only_with(f, "body", "fixed")?;
            let type_uri = match f.get("problem_type") {
                None => None,
                Some(_) => {
                    let uri = f.required_string("problem_type")?;
                    if uri.len() > MAX_TYPE_URI_BYTES || !uri.bytes().all(|b| b.is_ascii_graphic())
                    {
                        return Err(f.err_parts(
                            "problem_type",
                            &["must be a URI of at most ", &decimal(MAX_TYPE_URI_BYTES as u64), " printable ASCII characters"],
                        ));
                    }
                    Some(owned(uri))
                }
            };
            Body::Problem { type_uri }
        }
        "fixed" => {
            only_with(f, "problem_type", "problem_json")?;
            let content_type = f.required_string("content_type")?;
            // A header value: no line breaks or other control characters (RFC 9110 §5.5).
            if content_type.len() > MAX_CONTENT_TYPE_BYTES
                || !content_type
                    .bytes()
                    .all(|b| b == b' ' || b.is_ascii_graphic())
            {
                return Err(f.err_parts(
                    "content_type",
                    &["must be a media type of at most ", &decimal(MAX_CONTENT_TYPE_BYTES as u64), " printable ASCII characters"],
                ));
            }
            let text = f.string("body")?.ok_or_else(|| {
                f.err("body", "is required with `format: \"fixed\"`")
            })?;
            if text.len() > MAX_FIXED_BODY_BYTES {
                return Err(f.err_parts(
                    "body",
                    &["longer than ", &decimal(MAX_FIXED_BODY_BYTES as u64), " bytes"],
                ));
            }
            Body::Fixed {
                content_type: owned(content_type),
                text: owned(text),
            }
        }
        other => {
            return Err(f.err_parts(
                "format",
                &["unknown format `", other, "`: use `native`, `problem_json` or `fixed`"],
            ))
        }
    };
    Ok(ReplyShape {
        missing_status,
        invalid_status,
        forbidden_status,
        body,
    })
}

#[inline(never)]
fn status(f: &Fields, name: &str, default: u32) -> Result<u32, Refused> {
    match f.get(name) {
        None => Ok(default),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (400..=599).contains(n))
            .ok_or_else(|| f.err(name, "must be an HTTP status from 400 to 599")),
    }
}

/// Refuses `member` when present: it belongs to another `format`.
#[inline(never)]
fn only_with(f: &Fields, member: &str, with: &str) -> Result<(), Refused> {
    if f.has(member) {
        return Err(f.err_parts(member, &["only applies with `format: \"", with, "\"`"]));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
