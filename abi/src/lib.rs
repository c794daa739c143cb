//! The proxy-wasm ABI 0.2.1, as much of it as the filter uses, written so that no host can kill
//! the VM through it.
//!
//! The proxy-wasm Rust SDK panics on any status it did not expect from a host call (its
//! `hostcalls::*` functions return `Result` but `panic!` on every status outside a short list,
//! `get_log_level` on anything but `Ok`), unwraps UTF-8 on header names, indexes a host's map
//! buffer unchecked, and its dispatcher panics on a callout token or context id it does not
//! know. With `panic = "abort"` each of these is a trap, and a trap ends the VM for every
//! request. Here instead:
//! - [`host`] imports the host functions; each safe wrapper returns `Result<_, Status>` for any
//!   status a host answers, including ones the SDK cannot even represent (`UNIMPLEMENTED`), and
//!   a malformed buffer from the host is an error, not a panic;
//! - [`dispatch`] exports the callbacks and hands them to the filter's [`RootContext`] and
//!   [`HttpContext`]s; an unknown context id or callout token is ignored, never a panic;
//! - [`map`] (de)serializes header maps and property paths, bounds-checked.
//!
//! What cannot be handled from inside the VM is a host that traps in a host function it does
//! not implement (Kong's ngx_wasm_module does so for `proxy_get_log_level`): the filter simply
//! never calls such a function, and this crate does not even import `proxy_get_log_level`.

pub mod dispatch;
pub mod host;
pub mod map;

pub use dispatch::{HttpContext, RootContext};

/// A host call's answer (`proxy_status_t`). A plain number, not an enum: a host may answer any
/// value, and an enum would make one it does not list undefined behaviour.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Status(pub u32);

impl Status {
    pub const OK: Status = Status(0);
    pub const NOT_FOUND: Status = Status(1);
    pub const BAD_ARGUMENT: Status = Status(2);
    pub const SERIALIZATION_FAILURE: Status = Status(3);
    pub const PARSE_FAILURE: Status = Status(4);
    pub const INVALID_MEMORY_ACCESS: Status = Status(6);
    pub const EMPTY: Status = Status(7);
    pub const CAS_MISMATCH: Status = Status(8);
    pub const INTERNAL_FAILURE: Status = Status(10);
    pub const UNIMPLEMENTED: Status = Status(12);

    /// The spec's name for this status, or `None` for a number the spec does not define.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "OK",
            1 => "NOT_FOUND",
            2 => "BAD_ARGUMENT",
            3 => "SERIALIZATION_FAILURE",
            4 => "PARSE_FAILURE",
            6 => "INVALID_MEMORY_ACCESS",
            7 => "EMPTY",
            8 => "CAS_MISMATCH",
            10 => "INTERNAL_FAILURE",
            12 => "UNIMPLEMENTED",
            _ => return None,
        })
    }
}

impl std::fmt::Debug for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "status {}", self.0),
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// `proxy_log_level_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
    Critical = 5,
}

/// `proxy_action_t`: what the host does with the stream after a callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Continue = 0,
    Pause = 1,
}

/// `proxy_map_type_t`, the maps the filter reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapType {
    HttpRequestHeaders = 0,
    HttpCallResponseHeaders = 6,
}

/// `proxy_buffer_type_t`, the buffers the filter reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufferType {
    HttpCallResponseBody = 4,
    VmConfiguration = 6,
    PluginConfiguration = 7,
}

/// `proxy_metric_type_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    Counter = 0,
    Gauge = 1,
    Histogram = 2,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_print_their_spec_names_and_unknown_ones_their_number() {
        assert_eq!(format!("{:?}", Status::UNIMPLEMENTED), "UNIMPLEMENTED");
        assert_eq!(format!("{}", Status::CAS_MISMATCH), "CAS_MISMATCH");
        assert_eq!(format!("{:?}", Status(5)), "status 5");
        assert_eq!(format!("{}", Status(99)), "status 99");
    }

    #[test]
    fn log_levels_order_as_the_spec_numbers_them() {
        assert!(LogLevel::Trace < LogLevel::Debug);
        assert!(LogLevel::Debug < LogLevel::Info);
        assert!(LogLevel::Error < LogLevel::Critical);
        assert_eq!(LogLevel::Critical as u32, 5);
    }
}
