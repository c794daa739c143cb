//! What the host keeps between calls: the requests and their replies, shared data with its
//! CAS numbers, metrics, the log, the tick period, callouts in flight, the clock, and which
//! host calls the filter made.

use std::collections::{BTreeMap, BTreeSet};

/// How the host answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// As Envoy does: every call implemented (`proxy_get_log_level` answers `info`).
    Envoy,
    /// As Kong's ngx_wasm_module does: the calls it leaves out ([`KONG_MISSING`]) answer
    /// `UNIMPLEMENTED`; a second tick period or a second local reply traps.
    KongUnimplemented,
    /// As Kong's ngx_wasm_module really does: a call it leaves out traps.
    KongTrap,
    /// Envoy's answers, except that every call a filter can do without (log, log level,
    /// metrics, properties) answers `UNIMPLEMENTED`: the proxy-wasm SDK panics on each.
    RefuseOptional,
    /// Envoy's answers, except that adding or removing a request header answers
    /// `INTERNAL_FAILURE`: a request whose headers cannot be made safe must not go on.
    RefuseHeaderEdits,
}

/// The ABI calls Kong's ngx_wasm_module leaves out (its `ngx_proxy_wasm_hfuncs_nop`, which
/// traps with "function not yet implemented").
pub const KONG_MISSING: &[&str] = &[
    "proxy_get_log_level",
    "proxy_done",
    "proxy_close_stream",
    "proxy_resume_downstream",
    "proxy_resume_upstream",
    "proxy_continue_response",
    "proxy_resolve_shared_queue",
    "proxy_grpc_call",
    "proxy_grpc_stream",
    "proxy_grpc_send",
    "proxy_grpc_cancel",
    "proxy_grpc_close",
    "proxy_get_status",
];

/// The calls [`Mode::RefuseOptional`] refuses.
pub const OPTIONAL: &[&str] = &[
    "proxy_log",
    "proxy_get_log_level",
    "proxy_define_metric",
    "proxy_increment_metric",
    "proxy_record_metric",
    "proxy_get_metric",
    "proxy_get_property",
];

/// The calls [`Mode::RefuseHeaderEdits`] refuses.
pub const HEADER_EDITS: &[&str] = &[
    "proxy_add_header_map_value",
    "proxy_replace_header_map_value",
    "proxy_remove_header_map_value",
];

/// A local reply the filter sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: u32,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// The first header with this (lowercase) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What a cluster answers to a callout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A callout the filter made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Callout {
    pub token: u32,
    pub upstream: String,
    pub headers: Vec<(String, String)>,
}

pub(crate) struct Request {
    pub headers: Vec<(String, Vec<u8>)>,
    pub reply: Option<Reply>,
    pub continued: bool,
}

impl Request {
    pub fn new(headers: &[(&str, &str)]) -> Request {
        Request {
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
                .collect(),
            reply: None,
            continued: false,
        }
    }
}

struct Metric {
    name: String,
    value: u64,
}

pub(crate) struct State {
    pub mode: Mode,
    pub vm_config: Vec<u8>,
    pub plugin_config: Vec<u8>,
    /// The host clock (unix ms); moves only when the host says so.
    pub clock_ms: u64,
    /// The context host calls act on.
    pub effective: u32,
    pub requests: BTreeMap<u32, Request>,
    /// key -> (value, CAS); CAS numbers start at 1 and grow with every write.
    pub shared: BTreeMap<String, (Vec<u8>, u32)>,
    pub next_cas: u32,
    metrics: Vec<Metric>,
    pub log: Vec<String>,
    pub tick_period_ms: u32,
    pub callouts: Vec<Callout>,
    pub answered: Vec<Callout>,
    pub next_token: u32,
    pub upstreams: BTreeMap<String, Upstream>,
    /// The upstream answer being delivered (during `proxy_on_http_call_response`).
    pub answering: Option<Upstream>,
    pub calls: BTreeSet<&'static str>,
}

impl State {
    pub fn new(mode: Mode, vm_config: &str, plugin_config: &str, clock_ms: u64) -> State {
        State {
            mode,
            vm_config: vm_config.as_bytes().to_vec(),
            plugin_config: plugin_config.as_bytes().to_vec(),
            clock_ms,
            effective: 0,
            requests: BTreeMap::new(),
            shared: BTreeMap::new(),
            next_cas: 1,
            metrics: Vec::new(),
            log: Vec::new(),
            tick_period_ms: 0,
            callouts: Vec::new(),
            answered: Vec::new(),
            next_token: 1,
            upstreams: BTreeMap::new(),
            answering: None,
            calls: BTreeSet::new(),
        }
    }

    /// Whether this mode is Kong's.
    pub fn kong(&self) -> bool {
        matches!(self.mode, Mode::KongUnimplemented | Mode::KongTrap)
    }

    /// What a call answers before doing anything, when the mode refuses it: `Some(status)` to
    /// answer, `Err` to trap.
    pub fn refusal(&mut self, call: &'static str) -> Result<Option<u32>, String> {
        self.calls.insert(call);
        let missing = KONG_MISSING.contains(&call);
        match self.mode {
            Mode::KongTrap if missing => {
                Err(format!("host trap (function not yet implemented): {call}"))
            }
            Mode::KongUnimplemented if missing => Ok(Some(UNIMPLEMENTED)),
            Mode::RefuseOptional if OPTIONAL.contains(&call) => Ok(Some(UNIMPLEMENTED)),
            Mode::RefuseHeaderEdits if HEADER_EDITS.contains(&call) => Ok(Some(INTERNAL_FAILURE)),
            _ => Ok(None),
        }
    }

    pub fn request(&mut self) -> Option<&mut Request> {
        let id = self.effective;
        self.requests.get_mut(&id)
    }

    pub fn continue_request(&mut self, id: u32) {
        if let Some(request) = self.requests.get_mut(&id) {
            request.continued = true;
        }
    }

    /// Whether request `id` still waits (neither answered nor sent on).
    pub fn pending(&self, id: u32) -> bool {
        self.requests
            .get(&id)
            .is_some_and(|r| r.reply.is_none() && !r.continued)
    }

    pub fn outcome(&self, id: u32) -> crate::Outcome {
        match self.requests.get(&id) {
            Some(Request {
                reply: Some(reply), ..
            }) => crate::Outcome::Reply(reply.clone()),
            Some(request) if request.continued => crate::Outcome::Forwarded(
                request
                    .headers
                    .iter()
                    .map(|(n, v)| (n.clone(), String::from_utf8_lossy(v).into_owned()))
                    .collect(),
            ),
            _ => crate::Outcome::Stuck,
        }
    }

    /// The id of metric `name`, defined now if new (ids start at 1).
    pub fn define_metric(&mut self, name: &str) -> u32 {
        let at = match self.metrics.iter().position(|m| m.name == name) {
            Some(at) => at,
            None => {
                self.metrics.push(Metric {
                    name: name.to_string(),
                    value: 0,
                });
                self.metrics.len() - 1
            }
        };
        u32::try_from(at + 1).unwrap_or(u32::MAX)
    }

    pub fn metric_value(&mut self, id: u32) -> Option<&mut u64> {
        let at = usize::try_from(id).ok()?.checked_sub(1)?;
        self.metrics.get_mut(at).map(|m| &mut m.value)
    }

    pub fn metric(&self, name: &str) -> Option<u64> {
        self.metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.value)
    }
}

pub const OK: u32 = 0;
pub const NOT_FOUND: u32 = 1;
pub const BAD_ARGUMENT: u32 = 2;
pub const CAS_MISMATCH: u32 = 8;
pub const INTERNAL_FAILURE: u32 = 10;
pub const UNIMPLEMENTED: u32 = 12;
