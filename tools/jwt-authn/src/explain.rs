//! `jwt-authn explain`: one request decided by the filter's own routine
//! ([`authn::authenticate`], with a trace recorded from inside it by [`trace::record`]), then
//! carried out as the filter carries it out ([`response::carried_out`], [`response::refusal`],
//! [`shadow::edits`]). This file only gathers the inputs and prints: it decides nothing.

use std::fmt::Write as _;
use std::process::ExitCode;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use jwt_authn_wasm::authn::model::{Config, JwksSource, Requirement};
use jwt_authn_wasm::authn::response::{self, CarriedOut, Reply};
use jwt_authn_wasm::authn::trace::{self, Event, KeyOutcome, KeysState, Node, Result_};
use jwt_authn_wasm::authn::{self, shadow, Decision, Input, KeyLookup, RemoteKeys};
use jwt_authn_wasm::config;
use jwt_authn_wasm::error::AuthError;
use jwt_authn_wasm::keys::jwks::{self, KeySet};
use jwt_authn_wasm::request::extract::Location;
use jwt_authn_wasm::request::matcher::{PathMatch, Request};
use serde_json::{json, Value};

use crate::fetch;

/// The command line of `explain`.
pub struct Args {
    config: String,
    path: String,
    method: String,
    headers: Vec<(String, String)>,
    route_name: Option<String>,
    jwks: Vec<(String, String)>,
    fetch: bool,
    ca_files: Vec<String>,
    now: Option<u64>,
    json: bool,
}

impl Args {
    pub fn parse(args: &[String]) -> Result<Args, String> {
        let mut out = Args {
            config: String::new(),
            path: String::new(),
            method: "GET".into(),
            headers: Vec::new(),
            route_name: None,
            jwks: Vec::new(),
            fetch: false,
            ca_files: Vec::new(),
            now: None,
            json: false,
        };
        let (mut config, mut path) = (None, None);
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{name} needs a value"))
            };
            match arg.as_str() {
                "--path" => path = Some(value("--path")?),
                "--method" => out.method = value("--method")?,
                "--header" | "-H" => {
                    let header = value("--header")?;
                    out.headers.push(split_header(&header)?);
                }
                "--route-name" => out.route_name = Some(value("--route-name")?),
                "--jwks" => {
                    let spec = value("--jwks")?;
                    let (provider, file) = spec
                        .split_once('=')
                        .ok_or_else(|| format!("--jwks {spec}: expected PROVIDER=FILE"))?;
                    out.jwks.push((provider.to_string(), file.to_string()));
                }
                "--fetch" => out.fetch = true,
                "--ca-file" => out.ca_files.push(value("--ca-file")?),
                "--now" => {
                    let now = value("--now")?;
                    out.now = Some(
                        now.parse()
                            .map_err(|_| format!("--now {now}: expected unix seconds"))?,
                    );
                }
                "--json" => out.json = true,
                flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
                file if config.is_none() => config = Some(file.to_string()),
                other => return Err(format!("unexpected argument {other}")),
            }
        }
        out.config = config.ok_or("explain needs CONFIG.json")?;
        out.path = path.ok_or("explain needs --path")?;
        if !out.ca_files.is_empty() && !out.fetch {
            return Err("--ca-file is for --fetch: it adds trust anchors for the fetch".into());
        }
        Ok(out)
    }
}

/// `Name: value` → (lowercase name, value); `host` is HTTP/2's `:authority`, as Envoy sees it.
fn split_header(header: &str) -> Result<(String, String), String> {
    // A pseudo-header (`:authority: x`) has its first colon in its name.
    let from = usize::from(header.starts_with(':'));
    let at = header
        .get(from..)
        .and_then(|rest| rest.find(':'))
        .map(|i| i + from)
        .ok_or_else(|| format!("--header {header:?}: expected 'Name: value'"))?;
    let (name, value) = header.split_at(at);
    let name = name.trim().to_ascii_lowercase();
    let value = value.get(1..).unwrap_or_default().trim().to_string();
    if name.is_empty() {
        return Err(format!("--header {header:?}: empty name"));
    }
    Ok((
        if name == "host" {
            ":authority".into()
        } else {
            name
        },
        value,
    ))
}

/// Where each provider's keys come from for this run.
enum KeySource {
    /// `local_jwks` (`None`: given but without a usable key).
    Local(Option<usize>),
    File(String, KeySet),
    Fetched(String, KeySet),
    /// A remote provider without `--jwks` or `--fetch`, or whose fetch failed (why).
    Unavailable(String),
}

/// The remote key sets as `--jwks` and `--fetch` supplied them; the rest is unavailable, as
/// after a failed fetch.
struct Keys<'k>(&'k [KeySource]);

impl KeyLookup for Keys<'_> {
    fn remote(&self, provider: usize) -> RemoteKeys<'_> {
        match self.0.get(provider) {
            Some(KeySource::File(_, set) | KeySource::Fetched(_, set)) => RemoteKeys::Ready(set),
            _ => RemoteKeys::Failed,
        }
    }
}

/// The answer as the filter carries it out.
enum Answer {
    /// The request continues with these header edits.
    Continue {
        remove: Vec<String>,
        add: Vec<(String, String)>,
        /// Providers with `replay_protection` whose `jti` the filter records first.
        one_time: usize,
    },
    /// A local reply.
    Reply {
        error: AuthError,
        reply: Reply<'static>,
    },
    /// A rule in shadow mode would have refused with this reply; the request continues.
    Shadow {
        error: AuthError,
        would: Reply<'static>,
        remove: Vec<String>,
        add: Vec<(String, String)>,
    },
}

fn owned(reply: Reply) -> Reply<'static> {
    Reply {
        status: reply.status,
        headers: reply.headers,
        body: reply.body.into_owned().into(),
    }
}

pub fn run(args: &Args) -> ExitCode {
    let bytes = match std::fs::read(&args.config) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("{}: cannot read: {e}", args.config);
            return ExitCode::from(2);
        }
    };
    let config = match config::load(&bytes) {
        Ok(config) => config,
        Err(e) => {
            // The filter would refuse the configuration: no request reaches it.
            eprintln!("{}: {}", args.config, e.refusal());
            return ExitCode::from(2);
        }
    };
    let sources = match key_sources(&config, args) {
        Ok(sources) => sources,
        Err(e) => {
            eprintln!("jwt-authn explain: {e}");
            return ExitCode::from(2);
        }
    };
    let now = args.now.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    let mut headers: Vec<(String, String)> = vec![
        (":method".into(), args.method.clone()),
        (":path".into(), args.path.clone()),
    ];
    if !args.headers.iter().any(|(n, _)| n == ":authority") {
        headers.push((":authority".into(), "localhost".into()));
    }
    for (name, value) in &args.headers {
        // Envoy joins the repeated values of `authorization` into one before any filter runs.
        match headers.iter_mut().find(|(n, _)| n == name) {
            Some((_, joined)) if name == "authorization" => {
                joined.push(',');
                joined.push_str(value);
            }
            _ => headers.push((name.clone(), value.clone())),
        }
    }
    let request = Request {
        headers: &headers,
        route_name: args.route_name.as_deref(),
    };
    let keys = Keys(&sources);
    let input = Input {
        config: &config,
        request: &request,
        keys: &keys,
        now,
        cache: None,
    };
    // The filter's decision, recorded from inside.
    let (outcome, events) = trace::record(|| authn::authenticate(input));
    let refused =
        |error: AuthError, scope: Option<&str>| match response::carried_out(&config, &request) {
            CarriedOut::Shadow(setting) => {
                let shape = config.rule(&request).and_then(|r| r.reply.as_ref());
                let edits = shadow::edits(&config, setting, &request, &keys, now, None, error);
                Answer::Shadow {
                    error,
                    would: owned(response::refusal(error, scope, &headers, shape)),
                    remove: edits.remove,
                    add: edits.add,
                }
            }
            CarriedOut::Reply(shape) => Answer::Reply {
                error,
                reply: owned(response::refusal(error, scope, &headers, shape)),
            },
        };
    let mut notes = Vec::new();
    let answer = match &outcome.decision {
        Decision::Allow(allowed) => Answer::Continue {
            remove: allowed.edits.remove.clone(),
            add: allowed.edits.add.clone(),
            one_time: allowed.one_time.len(),
        },
        Decision::Deny(error) => refused(*error, None),
        Decision::Forbid(refusal) => refused(refusal.error, refusal.scope.as_deref()),
        Decision::WaitForKeys(_) => {
            notes.push("the filter would wait for the provider's keys, which cannot be had here");
            refused(AuthError::JwksFetchFail, None)
        }
        Decision::RefetchKeys(_) => {
            notes.push(
                "the token names a kid the keys lack: the filter first asks for one refetch \
                 (at most one per unknown_kid_refetch_interval); with these keys it still lacks it",
            );
            refused(AuthError::JwksKidAlgMismatch, None)
        }
    };
    let out = Explained {
        config: &config,
        args,
        headers: &headers,
        now,
        sources: &sources,
        events: &events,
        answer: &answer,
        notes: &notes,
    };
    if args.json {
        println!("{:#}", out.json());
    } else {
        print!("{}", out.text());
    }
    match answer {
        Answer::Reply { .. } => ExitCode::from(1),
        Answer::Continue { .. } | Answer::Shadow { .. } => ExitCode::SUCCESS,
    }
}

fn key_sources(config: &Config, args: &Args) -> Result<Vec<KeySource>, String> {
    for (name, _) in &args.jwks {
        match config.providers.iter().find(|p| &p.name == name) {
            None => return Err(format!("--jwks {name}=...: no provider {name}")),
            Some(p) if p.remote().is_none() => {
                return Err(format!(
                    "--jwks {name}=...: provider {name} has local_jwks, not remote_jwks"
                ))
            }
            Some(_) => {}
        }
    }
    // Read even when no provider is fetched: a bad `--ca-file` is refused either way.
    let trust = if args.fetch {
        Some(fetch::Trust::new(&args.ca_files)?)
    } else {
        None
    };
    let mut sources = Vec::new();
    for provider in &config.providers {
        let source = match &provider.jwks {
            JwksSource::Local(set) => KeySource::Local(Some(set.len())),
            JwksSource::Empty => KeySource::Local(None),
            JwksSource::Remote(remote) => {
                match args.jwks.iter().find(|(name, _)| *name == provider.name) {
                    Some((_, file)) => {
                        let text = std::fs::read_to_string(file)
                            .map_err(|e| format!("{file}: cannot read: {e}"))?;
                        // The filter's parser for a fetched JWKS.
                        let set = jwks::parse_jwks(&text)
                            .map_err(|e| format!("{file}: {}", e.message))?;
                        KeySource::File(file.clone(), set)
                    }
                    None => match &trust {
                        Some(trust) => match fetch::keys(remote, provider.issuer.as_deref(), trust)
                        {
                            Ok(fetched) => KeySource::Fetched(fetched.jwks_uri, fetched.keys),
                            Err(e) => KeySource::Unavailable(format!("fetch failed: {e}")),
                        },
                        None => KeySource::Unavailable(format!(
                            "remote_jwks {} not fetched (no --jwks {}=FILE, no --fetch)",
                            remote.uri, provider.name
                        )),
                    },
                }
            }
        };
        sources.push(source);
    }
    Ok(sources)
}

struct Explained<'a> {
    config: &'a Config,
    args: &'a Args,
    headers: &'a [(String, String)],
    now: u64,
    sources: &'a [KeySource],
    events: &'a [Event],
    answer: &'a Answer,
    notes: &'a [&'static str],
}

const B64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A token's header and payload as JSON (`None` when a segment does not decode).
fn decoded(token: &str) -> (Option<Value>, Option<Value>) {
    let mut parts = token.split('.');
    let mut segment = || {
        parts
            .next()
            .and_then(|s| B64URL.decode(s).ok())
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
    };
    let header = segment();
    (header, segment())
}

/// A token cut short: it is a credential, and its parts are shown decoded anyway.
fn abbreviated(token: &str) -> String {
    let head: String = token.chars().take(16).collect();
    format!("{head}… ({} bytes)", token.len())
}

fn location_text(location: &Location) -> String {
    match location {
        Location::Header { name, value_prefix } if value_prefix.is_empty() => {
            format!("header {name}")
        }
        Location::Header { name, value_prefix } => {
            format!("header {name} (prefix {value_prefix:?})")
        }
        Location::Param(name) => format!("query parameter {name}"),
        Location::Cookie(name) => format!("cookie {name}"),
    }
}

fn location_json(location: &Location) -> Value {
    match location {
        Location::Header { name, value_prefix } => {
            json!({"header": name, "value_prefix": value_prefix})
        }
        Location::Param(name) => json!({"query_parameter": name}),
        Location::Cookie(name) => json!({"cookie": name}),
    }
}

fn header_value<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

impl Explained<'_> {
    fn provider(&self, index: usize) -> String {
        self.config
            .providers
            .get(index)
            .map_or_else(|| format!("#{index}"), |p| p.name.clone())
    }

    fn providers(&self, list: &[usize]) -> String {
        list.iter()
            .map(|i| self.provider(*i))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn rule_text(&self, index: usize) -> String {
        let Some(rule) = self.config.rules.get(index) else {
            return format!("#{index}");
        };
        let m = &rule.matcher;
        let mut text = match &m.path {
            PathMatch::Prefix(p) => format!("prefix {p:?}"),
            PathMatch::Exact(p) => format!("path {p:?}"),
            PathMatch::Regex(r) => format!("safe_regex {r:?}"),
        };
        if !m.case_sensitive {
            text.push_str(", case-insensitive");
        }
        if !m.headers.is_empty() {
            let names: Vec<&str> = m.headers.iter().map(|h| h.name.as_str()).collect();
            let _ = write!(text, ", headers {names:?}");
        }
        if !m.query_parameters.is_empty() {
            let names: Vec<&str> = m.query_parameters.iter().map(|q| q.name.as_str()).collect();
            let _ = write!(text, ", query parameters {names:?}");
        }
        if let Some(route) = &m.route_name {
            let _ = write!(text, ", route name {route:?}");
        }
        let mut extras = Vec::new();
        if rule.authorization.is_some() {
            extras.push("authorization");
        }
        if rule.shadow.is_some() {
            extras.push("shadow");
        }
        if rule.reply.is_some() {
            extras.push("reply");
        }
        if !extras.is_empty() {
            let _ = write!(text, "; with {}", extras.join(", "));
        }
        format!("rules[{index}] ({text})")
    }

    fn node_text(&self, node: &Node) -> String {
        match node {
            Node::Provider {
                index,
                audiences: None,
            } => format!("provider {}", self.provider(*index)),
            Node::Provider {
                index,
                audiences: Some(a),
            } => format!("provider {} with audiences {a:?}", self.provider(*index)),
            Node::Any => "requires_any".into(),
            Node::All => "requires_all".into(),
            Node::AllowMissing(p) => format!("allow_missing ({})", self.providers(p)),
            Node::AllowMissingOrFailed(p) => {
                format!("allow_missing_or_failed ({})", self.providers(p))
            }
        }
    }

    fn tree_text(&self, requirement: &Requirement, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        match requirement {
            Requirement::Any(children) | Requirement::All(children) => {
                let _ = writeln!(out, "{pad}{}", self.node_text(&Node::of(requirement)));
                for child in children {
                    self.tree_text(child, depth + 1, out);
                }
            }
            other => {
                let _ = writeln!(out, "{pad}{}", self.node_text(&Node::of(other)));
            }
        }
    }

    fn tree_json(&self, requirement: &Requirement) -> Value {
        match requirement {
            Requirement::Provider { index, audiences } => {
                json!({"provider": self.provider(*index), "audiences": audiences})
            }
            Requirement::Any(children) => {
                json!({"requires_any": children.iter().map(|c| self.tree_json(c)).collect::<Vec<_>>()})
            }
            Requirement::All(children) => {
                json!({"requires_all": children.iter().map(|c| self.tree_json(c)).collect::<Vec<_>>()})
            }
            Requirement::AllowMissing(p) => json!({"allow_missing": self.names(p)}),
            Requirement::AllowMissingOrFailed(p) => {
                json!({"allow_missing_or_failed": self.names(p)})
            }
        }
    }

    fn names(&self, list: &[usize]) -> Vec<String> {
        list.iter().map(|i| self.provider(*i)).collect()
    }

    fn rule_index(&self) -> Option<Option<usize>> {
        self.events.iter().find_map(|e| match e {
            Event::Rule(index) => Some(*index),
            _ => None,
        })
    }

    fn source_text(&self, source: &KeySource) -> String {
        match source {
            KeySource::Local(Some(n)) => format!("local_jwks, {n} usable key(s)"),
            KeySource::Local(None) => "local_jwks without a usable key".into(),
            KeySource::File(file, set) => {
                format!("remote_jwks, from {file}: {} usable key(s)", set.len())
            }
            KeySource::Fetched(uri, set) => {
                format!("remote_jwks, fetched {uri}: {} usable key(s)", set.len())
            }
            KeySource::Unavailable(why) => format!("unavailable: {why}"),
        }
    }

    fn key_list(&self, index: usize) -> Vec<(Option<String>, &'static str, Option<&'static str>)> {
        let set = match (self.sources.get(index), self.config.providers.get(index)) {
            (Some(KeySource::File(_, set) | KeySource::Fetched(_, set)), _) => Some(set),
            (_, Some(p)) => match &p.jwks {
                JwksSource::Local(set) => Some(set.as_ref()),
                _ => None,
            },
            _ => None,
        };
        set.map(|s| {
            s.keys
                .iter()
                .map(|k| (k.kid.clone(), trace::kty(&k.key), k.alg.map(|a| a.name())))
                .collect()
        })
        .unwrap_or_default()
    }

    fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "request: {} {} (authority {})",
            self.args.method,
            self.args.path,
            header_value(self.headers, ":authority").unwrap_or_default()
        );
        let _ = writeln!(out, "clock: {} (unix seconds)", self.now);
        out.push_str("providers:\n");
        for (i, p) in self.config.providers.iter().enumerate() {
            let source = self
                .sources
                .get(i)
                .map(|s| self.source_text(s))
                .unwrap_or_default();
            let _ = writeln!(out, "  {}: {source}", p.name);
            for (kid, kty, alg) in self.key_list(i) {
                let _ = writeln!(
                    out,
                    "    key kid {} {kty} alg {}",
                    kid.map_or("(none)".into(), |k| format!("{k:?}")),
                    alg.unwrap_or("(any)")
                );
            }
        }
        match self.rule_index() {
            Some(Some(i)) => {
                let _ = writeln!(
                    out,
                    "rule: {} matched (the first that matches)",
                    self.rule_text(i)
                );
                if let Some(requirement) =
                    self.config.rules.get(i).and_then(|r| r.requires.as_ref())
                {
                    out.push_str("requirement tree:\n");
                    self.tree_text(requirement, 1, &mut out);
                }
            }
            Some(None) => out.push_str("rule: none matches: the request continues unchecked\n"),
            None => {}
        }
        out.push_str("trace:\n");
        let mut depth = 1;
        for event in self.events {
            let pad = "  ".repeat(depth);
            match event {
                Event::CorsPreflight => {
                    let _ = writeln!(
                        out,
                        "{pad}CORS preflight let through (bypass_cors_preflight)"
                    );
                }
                Event::Rule(_) => {}
                Event::NoRequirement => {
                    let _ = writeln!(out, "{pad}the rule requires nothing: no token is checked");
                }
                Event::Enter(node) => {
                    let _ = writeln!(out, "{pad}{}:", self.node_text(node));
                    depth += 1;
                }
                Event::Leave(result) => {
                    depth = depth.saturating_sub(1).max(1);
                    let pad = "  ".repeat(depth + 1);
                    let _ = writeln!(out, "{pad}=> {}", result_text(*result, self));
                }
                Event::Found(found) if found.is_empty() => {
                    let _ = writeln!(out, "{pad}no token found");
                }
                Event::Found(found) => {
                    for (location, token) in found {
                        let _ = writeln!(
                            out,
                            "{pad}token found in {}: {}",
                            location_text(location),
                            abbreviated(token)
                        );
                    }
                }
                Event::TooManyTokens(n) => {
                    let _ = writeln!(
                        out,
                        "{pad}{n} tokens: more than the filter checks in one request"
                    );
                }
                Event::ByIssuer { iss, provider } => {
                    let _ = writeln!(
                        out,
                        "{pad}iss {} picks provider {}",
                        iss.as_deref().map_or("(none)".into(), |i| format!("{i:?}")),
                        provider.map_or("(none: no provider has this issuer)".into(), |p| self
                            .provider(p))
                    );
                }
                Event::Token {
                    provider,
                    location,
                    token,
                } => {
                    let _ = writeln!(
                        out,
                        "{pad}token from {} against provider {}",
                        location_text(location),
                        provider.map_or("(none)".into(), |p| self.provider(p))
                    );
                    let (header, payload) = decoded(token);
                    let shown =
                        |v: Option<Value>| v.map_or("(does not decode)".into(), |v| v.to_string());
                    let _ = writeln!(out, "{pad}  header:  {}", shown(header));
                    let _ = writeln!(out, "{pad}  payload: {}", shown(payload));
                }
                Event::ParseFailed(e) => {
                    let _ = writeln!(out, "{pad}  FAIL parse: {} ({})", e.name(), e.message());
                }
                Event::Check { name, pass, detail } => {
                    let _ = writeln!(
                        out,
                        "{pad}  {} {name}: {detail}",
                        if *pass { "ok  " } else { "FAIL" }
                    );
                }
                Event::Keys(state) => {
                    let _ = writeln!(out, "{pad}  keys: {}", keys_text(*state));
                }
                Event::Key {
                    kid,
                    kty,
                    alg,
                    outcome,
                } => {
                    let _ = writeln!(
                        out,
                        "{pad}    key kid {} {kty} alg {}: {}",
                        kid.as_deref().map_or("(none)".into(), |k| format!("{k:?}")),
                        alg.unwrap_or("(any)"),
                        key_outcome_text(*outcome)
                    );
                }
                Event::Signature(Ok(())) => {
                    let _ = writeln!(out, "{pad}  ok   signature");
                }
                Event::Signature(Err(e)) => {
                    let _ = writeln!(out, "{pad}  FAIL signature: {} ({})", e.name(), e.message());
                }
                Event::UnknownKid(kid) => {
                    let _ = writeln!(
                        out,
                        "{pad}  kid {kid:?} is not in the provider's keys: a refetch is asked for"
                    );
                }
                Event::Replay(Ok(())) => {
                    let _ = writeln!(out, "{pad}  ok   replay protection: the jti is recorded first; a second use is refused (JwtReplayed)");
                }
                Event::Replay(Err(e)) => {
                    let _ = writeln!(
                        out,
                        "{pad}  FAIL replay protection: {} ({})",
                        e.name(),
                        e.message()
                    );
                }
                Event::Ignored(e) => {
                    let _ = writeln!(
                        out,
                        "{pad}  (refusal {} set aside: allow_missing_or_failed)",
                        e.name()
                    );
                }
                Event::Authorization { pass, refusal } => {
                    let _ = writeln!(
                        out,
                        "{pad}{} authorization{}",
                        if *pass { "ok  " } else { "FAIL" },
                        refusal.map_or(String::new(), |e| format!(
                            ": {} ({})",
                            e.name(),
                            e.message()
                        ))
                    );
                }
            }
        }
        for note in self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        out.push_str("answer:\n");
        match self.answer {
            Answer::Continue {
                remove,
                add,
                one_time,
            } => {
                out.push_str("  the request continues (200 from upstream, if it agrees)\n");
                edits_text(&mut out, remove, add);
                if *one_time > 0 {
                    out.push_str("  replay protection: the token's jti is recorded before; a replayed token is refused with JwtReplayed\n");
                }
            }
            Answer::Reply { error, reply } => {
                let _ = writeln!(out, "  refused: {} ({})", error.name(), error.message());
                reply_text(&mut out, reply);
            }
            Answer::Shadow {
                error,
                would,
                remove,
                add,
            } => {
                let _ = writeln!(
                    out,
                    "  shadow mode: would refuse with {} ({}), this reply:",
                    error.name(),
                    error.message()
                );
                reply_text(&mut out, would);
                out.push_str("  the request continues (counted as jwt_authn.shadow.denied)\n");
                edits_text(&mut out, remove, add);
            }
        }
        out
    }

    fn event_json(&self, event: &Event) -> Value {
        match event {
            Event::CorsPreflight => json!({"event": "cors_preflight"}),
            Event::Rule(index) => json!({"event": "rule", "index": index}),
            Event::NoRequirement => json!({"event": "no_requirement"}),
            Event::Enter(node) => json!({"event": "enter", "node": self.node_text(node)}),
            Event::Leave(result) => match result {
                Result_::Pass => json!({"event": "leave", "result": "pass"}),
                Result_::Fail(e) => json!({"event": "leave", "result": "fail", "status": e.name()}),
                Result_::Wait(p) => {
                    json!({"event": "leave", "result": "wait_for_keys", "provider": self.provider(*p)})
                }
            },
            Event::Found(found) => {
                json!({"event": "tokens_found", "tokens": found.iter().map(|(l, t)| {
                json!({"location": location_json(l), "token": abbreviated(t)})
            }).collect::<Vec<_>>()})
            }
            Event::TooManyTokens(n) => json!({"event": "too_many_tokens", "count": n}),
            Event::ByIssuer { iss, provider } => json!({"event": "by_issuer", "iss": iss,
                "provider": provider.map(|p| self.provider(p))}),
            Event::Token {
                provider,
                location,
                token,
            } => {
                let (header, payload) = decoded(token);
                json!({"event": "token", "provider": provider.map(|p| self.provider(p)),
                    "location": location_json(location), "token": abbreviated(token),
                    "header": header, "payload": payload})
            }
            Event::ParseFailed(e) => json!({"event": "parse", "pass": false, "status": e.name()}),
            Event::Check { name, pass, detail } => {
                json!({"event": "check", "check": name, "pass": pass, "detail": detail})
            }
            Event::Keys(state) => json!({"event": "keys", "keys": keys_text(*state)}),
            Event::Key {
                kid,
                kty,
                alg,
                outcome,
            } => json!({"event": "key", "kid": kid, "kty": kty, "alg": alg,
                "outcome": key_outcome_text(*outcome)}),
            Event::Signature(result) => json!({"event": "check", "check": "signature",
                "pass": result.is_ok(), "status": result.err().map(AuthError::name)}),
            Event::UnknownKid(kid) => json!({"event": "unknown_kid", "kid": kid}),
            Event::Replay(result) => json!({"event": "check", "check": "replay",
                "pass": result.is_ok(), "status": result.err().map(AuthError::name)}),
            Event::Ignored(e) => json!({"event": "ignored", "status": e.name()}),
            Event::Authorization { pass, refusal } => json!({"event": "check",
                "check": "authorization", "pass": pass, "status": refusal.map(AuthError::name)}),
        }
    }

    fn json(&self) -> Value {
        let providers: Vec<Value> = self
            .config
            .providers
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let keys: Vec<Value> = self
                    .key_list(i)
                    .into_iter()
                    .map(|(kid, kty, alg)| json!({"kid": kid, "kty": kty, "alg": alg}))
                    .collect();
                json!({"name": p.name, "keys_source": self.sources.get(i).map(|s| self.source_text(s)),
                    "keys": keys})
            })
            .collect();
        let rule = self.rule_index().flatten();
        let requirement = rule
            .and_then(|i| self.config.rules.get(i))
            .and_then(|r| r.requires.as_ref())
            .map(|r| self.tree_json(r));
        let answer = match self.answer {
            Answer::Continue {
                remove,
                add,
                one_time,
            } => json!({"action": "continue", "status_name": "Ok",
                "remove_headers": remove, "add_headers": pairs(add), "replay_recorded": *one_time > 0}),
            Answer::Reply { error, reply } => reply_json(reply, *error, Some("reply")),
            Answer::Shadow {
                error,
                would,
                remove,
                add,
            } => {
                json!({"action": "continue", "status_name": "Ok",
                    "shadow_refusal": reply_json(would, *error, None),
                    "remove_headers": remove, "add_headers": pairs(add)})
            }
        };
        json!({
            // Header names only: a token is a credential (its parts are in the trace, decoded).
            "request": {"method": self.args.method, "path": self.args.path,
                "authority": header_value(self.headers, ":authority"),
                "header_names": self.headers.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>()},
            "now": self.now,
            "providers": providers,
            "rule": rule.map(|i| json!({"index": i, "match": self.rule_text(i)})),
            "requirement": requirement,
            "trace": self.events.iter().map(|e| self.event_json(e)).collect::<Vec<_>>(),
            "notes": self.notes,
            "answer": answer,
        })
    }
}

fn pairs(list: &[(String, String)]) -> Vec<Value> {
    list.iter().map(|(n, v)| json!([n, v])).collect()
}

/// A reply for `error` as JSON; `action` first when given.
fn reply_json(reply: &Reply, error: AuthError, action: Option<&str>) -> Value {
    let mut v = serde_json::Map::new();
    if let Some(action) = action {
        v.insert("action".into(), json!(action));
    }
    v.insert("status_name".into(), json!(error.name()));
    v.insert("status".into(), json!(reply.status));
    v.insert("body".into(), json!(reply.body));
    v.insert(
        "www_authenticate".into(),
        json!(header_value(&reply.headers, "www-authenticate")),
    );
    v.insert("headers".into(), json!(pairs(&reply.headers)));
    Value::Object(v)
}

fn reply_text(out: &mut String, reply: &Reply) {
    let _ = writeln!(
        out,
        "  status: {} {}",
        reply.status,
        response::reason_phrase(reply.status)
    );
    let _ = writeln!(out, "  body: {}", reply.body);
    for (name, value) in &reply.headers {
        let _ = writeln!(out, "  {name}: {value}");
    }
}

fn edits_text(out: &mut String, remove: &[String], add: &[(String, String)]) {
    if !remove.is_empty() {
        let _ = writeln!(out, "  request headers removed: {}", remove.join(", "));
    }
    for (name, value) in add {
        let _ = writeln!(out, "  request header added: {name}: {value}");
    }
}

fn result_text(result: Result_, out: &Explained) -> String {
    match result {
        Result_::Pass => "pass".into(),
        Result_::Fail(e) => format!("fail: {} ({})", e.name(), e.message()),
        Result_::Wait(p) => format!("waits for provider {}'s keys", out.provider(p)),
    }
}

fn keys_text(state: KeysState) -> String {
    match state {
        KeysState::Local(n) => format!("local_jwks, {n} usable key(s)"),
        KeysState::Empty => "local_jwks without a usable key".into(),
        KeysState::Remote(n) => format!("remote_jwks, {n} usable key(s)"),
        KeysState::Pending => "remote_jwks not fetched yet".into(),
        KeysState::Unavailable => "remote_jwks unavailable (as after a failed fetch)".into(),
    }
}

fn key_outcome_text(outcome: KeyOutcome) -> &'static str {
    match outcome {
        KeyOutcome::KidDiffers => "skipped, kid differs",
        KeyOutcome::AlgDiffers => "skipped, alg differs",
        KeyOutcome::WrongType => "skipped, wrong key type for the token's alg",
        KeyOutcome::OverLimit => "not tried (at most 8 keys per token)",
        KeyOutcome::Verified => "signature verified",
        KeyOutcome::Invalid => "signature does not verify",
        KeyOutcome::WrongLength => "signature of the wrong length",
    }
}
