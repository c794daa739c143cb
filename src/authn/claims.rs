//! Claim checks that need no key (issuer, time, audience, subject, lifetime), in native
//! Envoy's order, and the rendering of claims into header values.

use serde_json::Value;

use crate::authn::model::Provider;
#[cfg(feature = "trace")]
use crate::authn::trace::Event;
use crate::error::AuthError;
use crate::token::jws::UnverifiedJwt;

/// RFC 7515 §4.1.9: `typ` is compared case-insensitively and `application/` may be omitted.
pub fn normalize_typ(typ: &str) -> String {
    let lower = typ.to_ascii_lowercase();
    lower
        .strip_prefix("application/")
        .map(str::to_string)
        .unwrap_or(lower)
}

/// Longest value copied from a claim into a header.
pub const MAX_CLAIM_HEADER_BYTES: usize = 4096;

/// Issuer → time → audience → subject and lifetime, as native Envoy checks them, all before
/// any key is looked at.
/// `audiences` are the provider's, or those of a `provider_and_audiences` requirement.
pub fn check(
    provider: &Provider,
    audiences: &[String],
    jwt: &UnverifiedJwt,
    now: u64,
) -> Result<(), AuthError> {
    let iss_ok = issuer_allowed(provider, jwt);
    note!(Event::Check {
        name: "iss",
        pass: iss_ok,
        detail: format!(
            "token iss {}; provider issuer {}",
            shown(jwt.iss.as_deref()),
            match (&provider.issuer, &provider.tenants) {
                (None, _) => "(any)".to_string(),
                (Some(i), None) => format!("{i:?}"),
                (Some(i), Some(_)) => format!(
                    "{i:?} (tenant template; token tid {})",
                    shown(jwt.claims.get("tid").and_then(Value::as_str))
                ),
            }
        )
    });
    if !iss_ok {
        return Err(AuthError::JwtUnknownIssuer);
    }
    check_time(jwt, now, provider.clock_skew_seconds)?;
    let aud_ok = audience_allowed(audiences, &jwt.aud);
    note!(Event::Check {
        name: "aud",
        pass: aud_ok,
        detail: format!(
            "token aud {:?}; allowed {}",
            jwt.aud,
            if audiences.is_empty() {
                "(any)".to_string()
            } else {
                format!("{audiences:?}")
            }
        )
    });
    if !aud_ok {
        return Err(AuthError::JwtAudienceNotAllowed);
    }
    // Native Envoy answers these three with "Jwt verification fails".
    if let Some(subjects) = &provider.subjects {
        let sub_ok = jwt.sub.as_deref().is_some_and(|sub| subjects.matches(sub));
        note!(Event::Check {
            name: "sub",
            pass: sub_ok,
            detail: format!(
                "token sub {}; provider subjects {subjects:?}",
                shown(jwt.sub.as_deref())
            )
        });
        if !sub_ok {
            return Err(AuthError::JwtVerificationFail);
        }
    }
    if !provider.allowed_token_types.is_empty() {
        let typ_ok = jwt.typ.as_deref().is_some_and(|t| {
            provider
                .allowed_token_types
                .contains(&normalize_typ(t))
        });
        note!(Event::Check {
            name: "typ",
            pass: typ_ok,
            detail: format!(
                "token typ {}; allowed {:?}",
                shown(jwt.typ.as_deref()),
                provider.allowed_token_types
            )
        });
        if !typ_ok {
            return Err(AuthError::JwtTypeNotAllowed);
        }
    }
    if provider.require_expiration {
        note!(Event::Check {
            name: "require_expiration",
            pass: jwt.exp.is_some(),
            detail: format!("token exp {}", shown_n(jwt.exp))
        });
        if jwt.exp.is_none() {
            return Err(AuthError::JwtVerificationFail);
        }
    }
    if let Some(max) = provider.max_lifetime_seconds {
        // A lifetime needs both ends; a token without them cannot prove it is short-lived.
        let lifetime_ok = matches!((jwt.iat, jwt.exp), (Some(iat), Some(exp)) if exp.saturating_sub(iat) <= max);
        note!(Event::Check {
            name: "max_lifetime",
            pass: lifetime_ok,
            detail: format!(
                "token iat {}, exp {}; longest lifetime {max}s",
                shown_n(jwt.iat),
                shown_n(jwt.exp)
            )
        });
        if !lifetime_ok {
            return Err(AuthError::JwtVerificationFail);
        }
    }
    Ok(())
}

/// A claim for a trace: quoted, or `(none)`.
#[cfg(feature = "trace")]
fn shown(value: Option<&str>) -> String {
    value.map_or_else(|| "(none)".to_string(), |v| format!("{v:?}"))
}

#[cfg(feature = "trace")]
fn shown_n(value: Option<u64>) -> String {
    value.map_or_else(|| "(none)".to_string(), |v| v.to_string())
}

/// The provider's `issuer` (none: any) equals the token's `iss`; for a multi-tenant template,
/// `iss` names an allowed tenant and the token's `tid` is that same tenant, so a token of one
/// tenant cannot pass under another tenant's issuer.
pub fn issuer_allowed(provider: &Provider, jwt: &UnverifiedJwt) -> bool {
    match (&provider.issuer, &provider.tenants) {
        (None, _) => true,
        (Some(issuer), None) => jwt.iss.as_deref() == Some(issuer.as_str()),
        (Some(_), Some(tenants)) => {
            let tenant = jwt.iss.as_deref().and_then(|iss| tenants.tenant_of(iss));
            tenant.is_some_and(|t| jwt.claims.get("tid").and_then(Value::as_str) == Some(t))
        }
    }
}

/// `nbf` and `exp` with the clock skew on both sides. Unlike native Envoy, `exp: 0` is an
/// expiry in 1970, not "no expiry".
pub fn check_time(jwt: &UnverifiedJwt, now: u64, skew: u64) -> Result<(), AuthError> {
    if let Some(nbf) = jwt.nbf {
        let early = now.saturating_add(skew) < nbf;
        note!(Event::Check {
            name: "nbf",
            pass: !early,
            detail: format!(
                "nbf {nbf}; now {now}, clock skew {skew}s: valid from {}",
                nbf.saturating_sub(skew)
            )
        });
        if early {
            return Err(AuthError::JwtNotYetValid);
        }
    }
    if let Some(exp) = jwt.exp {
        let expired = now > exp.saturating_add(skew);
        note!(Event::Check {
            name: "exp",
            pass: !expired,
            detail: format!(
                "exp {exp}; now {now}, clock skew {skew}s: valid through {}",
                exp.saturating_add(skew)
            )
        });
        if expired {
            return Err(AuthError::JwtExpired);
        }
    }
    Ok(())
}

/// Native `CheckAudience`: no configured audiences allows any token; otherwise one of the
/// token's audiences must match, ignoring an `http://`/`https://` scheme and a trailing `/`.
pub fn audience_allowed(allowed: &[String], token: &[String]) -> bool {
    if allowed.is_empty() {
        return true;
    }
    token.iter().any(|aud| {
        allowed
            .iter()
            .any(|a| normalize_audience(a) == normalize_audience(aud))
    })
}

fn normalize_audience(aud: &str) -> &str {
    let aud = aud
        .strip_prefix("http://")
        .or_else(|| aud.strip_prefix("https://"))
        .unwrap_or(aud);
    aud.strip_suffix('/').unwrap_or(aud)
}

/// A claim by name, or by a dotted path into nested objects (`realm_access.roles`). The whole
/// name is tried first, so URL-shaped claim names (`https://example.com/roles`) still work.
pub fn lookup<'c>(claims: &'c serde_json::Map<String, Value>, path: &str) -> Option<&'c Value> {
    if let Some(v) = claims.get(path) {
        return Some(v);
    }
    let mut parts = path.split('.');
    let mut value = claims.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// A claim as a header value: strings as they are, numbers and booleans printed as native does
/// (see [`render`]), arrays joined with `,`, objects as compact JSON; `None` for empty
/// values and anything a header cannot carry safely (control characters, over
/// [`MAX_CLAIM_HEADER_BYTES`]).
pub fn header_value(claims: &serde_json::Map<String, Value>, claim: &str) -> Option<String> {
    let value = match lookup(claims, claim)? {
        Value::Array(items) => items.iter().map(render).collect::<Vec<_>>().join(","),
        other => render(other),
    };
    if value.is_empty()
        || value.len() > MAX_CLAIM_HEADER_BYTES
        || value.chars().any(char::is_control)
    {
        return None;
    }
    Some(value)
}

fn render(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        // An integer literal that fits u64 exactly as written. Native holds every number as a
        // double, so above 2^53 it would print a neighbour; the exact value is kept here.
        Value::Number(n) => n.as_u64().map_or_else(
            || number_like_native(n.as_f64().unwrap_or(0.0)),
            |u| u.to_string(),
        ),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Native's `convertClaimDoubleToString`: a whole number in `[0, 2^64)` as an integer (`3.0`
/// and `1e3` give `3` and `1000`), anything else as C's `%f` (`-7` gives `-7.000000`, `1.5`
/// gives `1.500000`).
fn number_like_native(v: f64) -> String {
    const TWO_TO_64: f64 = 18_446_744_073_709_551_616.0;
    if (0.0..TWO_TO_64).contains(&v) && v.fract() == 0.0 {
        format!("{}", v as u64)
    } else {
        fixed6(v)
    }
}

/// `v` as C's `%f`: the exact binary value with six decimals, rounded half to even (as
/// `format!("{v:.6}")`, which the tests compare it with; that path would add about 25 KB of
/// float formatting to the module for this one use). `v` is finite: JSON has no NaN or
/// infinity.
fn fixed6(v: f64) -> String {
    const MICRO: u64 = 1_000_000;
    let bits = v.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    // |v| = m·2^e.
    let (m, e) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | 1 << 52, biased - 1075)
    };
    let (whole, micro) = if e >= 0 {
        (big_decimal(m, e.unsigned_abs()), 0)
    } else {
        // The whole part, and the fraction `f / 2^s` taken to six decimals: `f·10^6 / 2^s`,
        // below 2^73 (no u128 division, so no 128-bit division routine in the module). From
        // s = 75 on, |v|·10^6 < 1/2 and everything rounds to 0.
        let s = e.unsigned_abs();
        let (mut whole, f) = if s >= 64 {
            (0, m)
        } else {
            (m >> s, m & ((1 << s) - 1))
        };
        let mut micro = if s > 75 {
            0
        } else {
            let n = u128::from(f) * u128::from(MICRO);
            let q = n >> s;
            let rem = n - (q << s);
            let half = 1u128 << (s - 1);
            let rounded = q + u128::from(rem > half || (rem == half && q & 1 == 1));
            u64::try_from(rounded).unwrap_or(MICRO)
        };
        if micro >= MICRO {
            whole += 1;
            micro -= MICRO;
        }
        (whole.to_string(), micro)
    };
    let sign = if bits >> 63 == 1 { "-" } else { "" };
    format!("{sign}{whole}.{micro:06}")
}

/// `m·2^e` in decimal, for the integers a double can hold above 2^53 (up to about 2^1024).
fn big_decimal(m: u64, e: u32) -> String {
    const BASE: u64 = 1_000_000_000;
    // Base-10^9 limbs, least significant first; doubled 29 bits at a time (limb·2^29 < 2^64).
    let mut limbs = vec![m % BASE, (m / BASE) % BASE, m / (BASE * BASE)];
    let mut left = e;
    while left > 0 {
        let step = left.min(29);
        let mut carry = 0;
        for limb in &mut limbs {
            let x = (*limb << step) + carry;
            *limb = x % BASE;
            carry = x / BASE;
        }
        while carry > 0 {
            limbs.push(carry % BASE);
            carry /= BASE;
        }
        left -= step;
    }
    while limbs.len() > 1 && limbs.last() == Some(&0) {
        limbs.pop();
    }
    let mut out = String::new();
    for (i, limb) in limbs.iter().rev().enumerate() {
        if i == 0 {
            out.push_str(&limb.to_string());
        } else {
            out.push_str(&format!("{limb:09}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
