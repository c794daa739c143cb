//! `rules[]` and `requirement_map`: route matches, requirement trees and the per-rule
//! authorization extension.

use serde_json::Value;

use crate::authn::model::{Provider, Requirement, Rule, MAX_REQUIREMENT_DEPTH};
use crate::authn::policy::{Authorization, ClaimRule, ClaimTest, ClientBinding};
use crate::config::fields::{owned, self, decimal, refusal, Fields, Path};
use crate::config::provider::header_name;
use crate::config::reply::{parse_reply, parse_shadow};
use crate::request::regex::{self, Regex};
use crate::request::matcher::{HeaderMatch, PathMatch, QueryMatch, RouteMatch, StringMatcher, ValueMatch};
use crate::config::fields::Refused;

/// Longest regular expression accepted in a matcher.
const MAX_REGEX_BYTES: usize = 1024;

#[inline(never)]
fn parse_regex(f: &Fields) -> Result<Regex, Refused> {
    f.refuse_unknown(&["regex", "google_re2"], &[])?;
    let pattern = f.required_string("regex")?;
    if pattern.len() > MAX_REGEX_BYTES {
        return Err(f.err_parts(
            "regex",
            &["longer than ", &decimal(MAX_REGEX_BYTES as u64), " bytes"],
        ));
    }
    // Envoy's safe_regex is a full match (RE2 FullMatch): the engine matches only the whole value.
    Regex::new(pattern).map_err(|e| invalid_regex(f, &e))
}

#[cold]
#[inline(never)]
fn invalid_regex(f: &Fields, e: &regex::Error) -> Refused {
    f.err_parts("regex", &["invalid regular expression: ", e.as_str()])
}

/// Envoy's `StringMatcher`: one of `exact`, `prefix`, `suffix`, `contains`, `safe_regex`, and
/// `ignore_case`.
#[inline(never)]
pub(super) fn parse_string_matcher(f: &Fields) -> Result<StringMatcher, Refused> {
    f.refuse_unknown(
        &[
            "exact",
            "prefix",
            "suffix",
            "contains",
            "safe_regex",
            "ignore_case",
        ],
        &[],
    )?;
    let ignore_case = f.bool("ignore_case")?;
    // Every member is read (and type-checked) before the count is: the first refusal in
    // document order wins, as it always has.
    let mut count = 0;
    let mut text = None;
    for (kind, name) in ["exact", "prefix", "suffix", "contains"].into_iter().enumerate() {
        if let Some(s) = f.string(name)? {
            text = Some((kind, s));
            count += 1;
        }
    }
    let regex = match f.object("safe_regex")? {
        None => None,
        Some(re) => {
            count += 1;
            Some(parse_regex(&re)?)
        }
    };
    match count {
        1 => {}
        0 => {
            return Err(
                f.err_here("needs one of `exact`, `prefix`, `suffix`, `contains`, `safe_regex`")
            )
        }
        _ => {
            return Err(f.err_here(
                "set only one of `exact`, `prefix`, `suffix`, `contains`, `safe_regex`",
            ))
        }
    }
    if let Some(re) = regex {
        return Ok(StringMatcher::Regex(re));
    }
    let Some((kind, s)) = text else {
        return Err(f.err_here("needs one matcher"));
    };
    let s = if ignore_case {
        s.to_ascii_lowercase()
    } else {
        owned(s)
    };
    Ok(match kind {
        0 => StringMatcher::Exact(s, ignore_case),
        1 => StringMatcher::Prefix(s, ignore_case),
        2 => StringMatcher::Suffix(s, ignore_case),
        _ => StringMatcher::Contains(s, ignore_case),
    })
}

/// Member `name` as a `StringMatcher`, if present.
#[inline(never)]
pub(super) fn parse_optional_string_matcher(
    f: &Fields,
    name: &str,
) -> Result<Option<StringMatcher>, Refused> {
    match f.object(name)? {
        None => Ok(None),
        Some(m) => parse_string_matcher(&m).map(Some),
    }
}

#[inline(never)]
pub(super) fn parse_rule(
    index: usize,
    value: &Value,
    providers: &[Provider],
    requirement_map: &[(String, Requirement)],
) -> Result<Rule, Refused> {
    let f = Fields::at(value, Path::Item(&Path::Root, "rules", index))?;
    f.refuse_unknown(
        &[
            "match",
            "requires",
            "requirement_name",
            "authorization",
            "shadow",
            "reply",
        ],
        &[],
    )?;
    let m = f
        .object("match")?
        .ok_or_else(|| f.err("match", "is required"))?;
    let matcher = parse_route_match(&m)?;
    let requires = match (f.object("requires")?, f.string("requirement_name")?) {
        (Some(_), Some(_)) => {
            return Err(f.err_here("set either `requires` or `requirement_name`, not both"))
        }
        (Some(r), None) => parse_optional_requirement(&r, providers)?,
        (None, Some(name)) => Some(
            requirement_map
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, r)| r.clone())
                .ok_or_else(|| {
                    f.err_parts(
                        "requirement_name",
                        &["names unknown requirement `", name, "` (not in `requirement_map`)"],
                    )
                })?,
        ),
        (None, None) => None,
    };
    let authorization = f
        .object("authorization")?
        .map(|a| parse_authorization(&a))
        .transpose()?;
    if authorization.is_some() && requires.is_none() {
        return Err(f.err("authorization", "needs `requires` or `requirement_name`: there is no token to authorize"));
    }
    let shadow = f
        .object("shadow")?
        .map(|s| parse_shadow(&s, providers, requires.as_ref()))
        .transpose()?;
    let reply = f.object("reply")?.map(|r| parse_reply(&r)).transpose()?;
    Ok(Rule {
        matcher,
        requires,
        authorization,
        shadow,
        reply,
    })
}

#[inline(never)]
fn parse_route_match(m: &Fields) -> Result<RouteMatch, Refused> {
    m.refuse_unknown(
        &[
            "prefix",
            "path",
            "safe_regex",
            "case_sensitive",
            "headers",
            "query_parameters",
            "route_name",
        ],
        &[
            ("path_separated_prefix", "path-separated prefixes"),
            ("path_match_policy", "path match policies"),
            ("connect_matcher", "CONNECT matches"),
            ("runtime_fraction", "runtime fractions"),
            ("grpc", "gRPC matches"),
            ("tls_context", "TLS context matches"),
            ("dynamic_metadata", "metadata matches"),
            ("filter_state", "filter state matches"),
            ("cookies", "cookie matches"),
        ],
    )?;
    let path = match (
        m.string("prefix")?,
        m.string("path")?,
        m.object("safe_regex")?,
    ) {
        (Some(prefix), None, None) => PathMatch::Prefix(owned(prefix)),
        (None, Some(path), None) => PathMatch::Exact(owned(path)),
        (None, None, Some(re)) => PathMatch::Regex(StringMatcher::Regex(parse_regex(&re)?)),
        _ => {
            return Err(m.err_here("set exactly one of `prefix`, `path` or `safe_regex`"))
        }
    };
    let case_sensitive = match m.get("case_sensitive") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(m.err("case_sensitive", "must be true or false"))
        }
    };
    let mut headers = Vec::new();
    for (i, h) in m.array("headers")?.iter().enumerate() {
        headers.push(parse_header_match(&m.item("headers", i, h)?)?);
    }
    let mut query_parameters = Vec::new();
    for (i, q) in m.array("query_parameters")?.iter().enumerate() {
        query_parameters.push(parse_query_match(&m.item("query_parameters", i, q)?)?);
    }
    let route_name = match m.get("route_name") {
        None => None,
        Some(Value::String(name)) => Some(StringMatcher::Exact(name.clone(), false)),
        Some(_) => parse_optional_string_matcher(m, "route_name")?,
    };
    Ok(RouteMatch {
        path,
        case_sensitive,
        headers,
        query_parameters,
        route_name,
    })
}

#[inline(never)]
fn parse_query_match(q: &Fields) -> Result<QueryMatch, Refused> {
        q.refuse_unknown(&["name", "string_match", "present_match"], &[])?;
        let name = owned(q.required_string("name")?);
        let value = match (q.object("string_match")?, q.get("present_match")) {
            (Some(sm), None) => ValueMatch::String(parse_string_matcher(&sm)?),
            (None, Some(Value::Bool(b))) => ValueMatch::Present(*b),
            (None, None) => ValueMatch::Present(true),
            _ => {
                return Err(q.err_here("set one of `string_match` or `present_match` (true or false)"))
            }
        };
        Ok(QueryMatch { name, value })
}

/// Envoy's `HeaderMatcher` with the value matchers it still supports.
#[inline(never)]
fn parse_header_match(h: &Fields) -> Result<HeaderMatch, Refused> {
    h.refuse_unknown(
        &[
            "name",
            "exact_match",
            "prefix_match",
            "suffix_match",
            "contains_match",
            "safe_regex_match",
            "present_match",
            "string_match",
            "invert_match",
        ],
        &[
            ("range_match", "range matches"),
            (
                "treat_missing_header_as_empty",
                "`treat_missing_header_as_empty`",
            ),
        ],
    )?;
    let name = h.required_string("name")?.to_ascii_lowercase();
    // The last value matcher read; more than one is refused once all are read.
    let mut count = 0;
    let mut found = None;
    for (member, make) in [
        (
            "exact_match",
            StringMatcher::Exact as fn(String, bool) -> StringMatcher,
        ),
        ("prefix_match", StringMatcher::Prefix),
        ("suffix_match", StringMatcher::Suffix),
        ("contains_match", StringMatcher::Contains),
    ] {
        if let Some(v) = h.string(member)? {
            found = Some(ValueMatch::String(make(owned(v), false)));
            count += 1;
        }
    }
    if let Some(re) = h.object("safe_regex_match")? {
        found = Some(ValueMatch::String(StringMatcher::Regex(parse_regex(&re)?)));
        count += 1;
    }
    if let Some(sm) = h.object("string_match")? {
        found = Some(ValueMatch::String(parse_string_matcher(&sm)?));
        count += 1;
    }
    match h.get("present_match") {
        None => {}
        Some(Value::Bool(b)) => {
            found = Some(ValueMatch::Present(*b));
            count += 1;
        }
        Some(_) => return Err(h.err("present_match", "must be true or false")),
    }
    let value = match (count, found) {
        // Envoy: a header matcher with no value matcher matches when the header is present.
        (0, _) => ValueMatch::Present(true),
        (1, Some(value)) => value,
        (1, None) => return Err(h.err_here("needs one value matcher")),
        _ => return Err(h.err_here("set only one value matcher")),
    };
    Ok(HeaderMatch {
        name,
        value,
        invert: h.bool("invert_match")?,
    })
}

/// `requires` of a rule: `{}` (no requirement) is accepted like native, as no auth.
fn parse_optional_requirement(
    r: &Fields,
    providers: &[Provider],
) -> Result<Option<Requirement>, Refused> {
    if r.map.is_empty() {
        return Ok(None);
    }
    parse_requirement(r, providers, 0).map(Some)
}

#[inline(never)]
pub(super) fn parse_requirement(
    r: &Fields,
    providers: &[Provider],
    depth: usize,
) -> Result<Requirement, Refused> {
    if depth > MAX_REQUIREMENT_DEPTH {
        return Err(refusal(
            &r.path.text(),
            &["requirements nested deeper than ", &decimal(MAX_REQUIREMENT_DEPTH as u64)],
        ));
    }
    r.refuse_unknown(
        &[
            "provider_name",
            "provider_and_audiences",
            "requires_any",
            "requires_all",
            "allow_missing_or_failed",
            "allow_missing",
        ],
        &[],
    )?;
    if r.map.len() != 1 {
        return Err(r.err_here("set exactly one of `provider_name`, `provider_and_audiences`, `requires_any`, `requires_all`, `allow_missing`, `allow_missing_or_failed`"));
    }
    if r.has("provider_name") {
        return Ok(Requirement::Provider {
            index: provider_index(r, providers)?,
            audiences: None,
        });
    }
    if let Some(pa) = r.object("provider_and_audiences")? {
        pa.refuse_unknown(&["provider_name", "audiences"], &[])?;
        return Ok(Requirement::Provider {
            index: provider_index(&pa, providers)?,
            audiences: Some(pa.string_list("audiences")?),
        });
    }
    if r.has("allow_missing") {
        return Ok(Requirement::AllowMissing(all_providers(providers)));
    }
    if r.has("allow_missing_or_failed") {
        return Ok(Requirement::AllowMissingOrFailed(all_providers(providers)));
    }
    let (member, any) = if r.has("requires_any") {
        ("requires_any", true)
    } else {
        ("requires_all", false)
    };
    let list = r.object(member)?.ok_or_else(|| {
        r.err(member, "must be an object with `requirements`")
    })?;
    list.refuse_unknown(&["requirements"], &[])?;
    let items = list.array("requirements")?;
    if items.is_empty() {
        return Err(list.err("requirements", "must list at least one requirement"));
    }
    let mut children = Vec::new();
    for (i, item) in items.iter().enumerate() {
        children.push(parse_requirement(
            &list.item("requirements", i, item)?,
            providers,
            depth + 1,
        )?);
    }
    if !any {
        return Ok(Requirement::All(children));
    }
    // Native: `allow_missing*` inside `requires_any` looks for the tokens of its sibling
    // providers only.
    let siblings: Vec<usize> = children
        .iter()
        .filter_map(|c| {
            if let Requirement::Provider { index, .. } = c {
                Some(*index)
            } else {
                None
            }
        })
        .collect();
    if !siblings.is_empty() {
        for child in &mut children {
            if let Requirement::AllowMissing(p) | Requirement::AllowMissingOrFailed(p) = child {
                p.clone_from(&siblings);
            }
        }
    }
    Ok(Requirement::Any(children))
}

/// The index of the provider that member `provider_name` names.
#[inline(never)]
fn provider_index(f: &Fields, providers: &[Provider]) -> Result<usize, Refused> {
    let name = f.required_string("provider_name")?;
    match providers.iter().position(|p| p.name == name) {
        Some(index) => Ok(index),
        None => Err(f.err_parts("provider_name", &["names unknown provider `", name, "`"])),
    }
}

#[inline(never)]
fn all_providers(providers: &[Provider]) -> Vec<usize> {
    (0..providers.len()).collect()
}

/// The `authorization` extension of a rule.
#[inline(never)]
fn parse_authorization(a: &Fields) -> Result<Authorization, Refused> {
    a.refuse_unknown(&["scopes", "claims", "client_id_header"], &[])?;
    let scopes = a.string_list("scopes")?;
    if let Some((i, _)) = scopes
        .iter()
        .enumerate()
        .find(|(_, s)| s.is_empty() || s.contains(' '))
    {
        return Err(refusal(
            &fields::index(&a.field("scopes"), i),
            &["a scope is one non-empty word"],
        ));
    }
    let mut claims = Vec::new();
    for (i, item) in a.array("claims")?.iter().enumerate() {
        claims.push(parse_claim_rule(&a.item("claims", i, item)?)?);
    }
    let client = match a.object("client_id_header")? {
        None => None,
        Some(b) => Some(parse_client_binding(&b)?),
    };
    if scopes.is_empty() && claims.is_empty() && client.is_none() {
        return Err(a.err_here("needs at least one of `scopes`, `claims`, `client_id_header`"));
    }
    Ok(Authorization {
        scopes,
        claims,
        client,
    })
}


/// One entry of `authorization.claims`: a claim and exactly one test.
#[inline(never)]
fn parse_claim_rule(c: &Fields) -> Result<ClaimRule, Refused> {
    c.refuse_unknown(
        &[
            "claim",
            "equals",
            "one_of",
            "contains_all",
            "contains_any",
            "absent",
        ],
        &[],
    )?;
    let claim = owned(c.required_string("claim")?);
    let mut tests = Vec::new();
    if let Some(v) = c.get("equals") {
        tests.push(ClaimTest::Equals(v.clone()));
    }
    for (member, make) in [
        ("one_of", ClaimTest::OneOf as fn(Vec<Value>) -> ClaimTest),
        ("contains_all", ClaimTest::ContainsAll),
        ("contains_any", ClaimTest::ContainsAny),
    ] {
        if c.has(member) {
            tests.push(make(non_empty_array(c, member)?));
        }
    }
    match c.get("absent") {
        None => {}
        Some(Value::Bool(true)) => tests.push(ClaimTest::Absent),
        Some(_) => return Err(c.err("absent", "must be true")),
    }
    let test = match tests.len() {
        1 => tests.pop().ok_or_else(|| c.err_here("needs one matcher"))?,
        0 => return Err(c.err_here(
            "needs one matcher: `equals`, `one_of`, `contains_all`, `contains_any` or `absent`",
        )),
        _ => {
            return Err(c.err_here("set only one matcher per entry (add another entry for more)"))
        }
    };
    Ok(ClaimRule { claim, test })
}

#[inline(never)]
fn non_empty_array(c: &Fields, member: &str) -> Result<Vec<Value>, Refused> {
    match c.get(member) {
        Some(Value::Array(items)) if !items.is_empty() => Ok(items.clone()),
        _ => Err(c.err(member, "must be a non-empty array")),
    }
}

/// `authorization.client_id_header`.
#[inline(never)]
fn parse_client_binding(b: &Fields) -> Result<ClientBinding, Refused> {
    b.refuse_unknown(&["header", "claims"], &[])?;
    let header = header_name(b, "header")?;
    let mut names = b.string_list("claims")?;
    if names.is_empty() {
        names = vec!["client_id".into(), "azp".into(), "cid".into()];
    }
    Ok(ClientBinding {
        header,
        claims: names,
    })
}
