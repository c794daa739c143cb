//! The host calls the filter makes, each with its answer to a refusal: the calls go through
//! `proxy_wasm_abi::host`, which returns any status a host answers (never a panic), and here
//! each refusal becomes the fallback the caller needs (`None`, an empty value, or the status
//! for the caller to act on). docs/hosts.md lists every call and what a refusal does.
//!
//! The log level is the plugin's own (`log_level` in its configuration), not asked of the
//! host: `proxy_get_log_level` traps on Kong's host, and nothing inside the VM can catch a trap.

use std::cell::Cell;
use std::time::Duration;

use proxy_wasm_abi::host;
use proxy_wasm_abi::{BufferType, LogLevel, MapType, MetricType, Status};

thread_local! {
    /// The lowest level handed to the host (the configuration's `log_level`).
    static LOG_FLOOR: Cell<LogLevel> = const { Cell::new(LogLevel::Info) };
}

/// Sets the lowest level of the lines handed to the host.
pub fn set_log_floor(level: LogLevel) {
    LOG_FLOOR.with(|floor| floor.set(level));
}

/// Whether a line of `level` would be handed to the host: a caller checks before formatting a
/// line that a flood of requests could make.
pub fn log_enabled(level: LogLevel) -> bool {
    LOG_FLOOR.with(|floor| level >= floor.get())
}

/// Hands a line to the host's log, unless it is below the configured level; a host that
/// refuses the line loses it (there is nowhere else to say so).
pub fn log(level: LogLevel, message: &str) {
    if log_enabled(level) {
        let _ = host::log(level, message);
    }
}

pub fn now_ms() -> Option<u64> {
    host::current_time_ns().ok().map(|ns| ns / 1_000_000)
}

/// Envoy's name for the route this request matched (`xds.route_name`); `None` when the host
/// has no such property or refuses it.
pub fn route_name() -> Option<String> {
    let bytes = host::property(&["xds", "route_name"]).ok().flatten()?;
    String::from_utf8(bytes).ok()
}

/// The request headers. HTTP lets a header value carry bytes that are not UTF-8 (obs-text),
/// and the SDK's `get_map` unwraps a UTF-8 conversion on them: one such request would abort
/// the VM, and every later request with it. Values are read as bytes instead and made text
/// here, invalid bytes becoming U+FFFD (never part of a token, so such a token is refused).
/// Names are validated by Envoy's codecs (a name that is not a token is a 400 before any
/// filter runs), and `proxy_wasm_abi` makes any that is not UTF-8 text the same way.
pub fn request_headers() -> Option<Vec<(String, String)>> {
    host::map_pairs(MapType::HttpRequestHeaders)
        .ok()
        .map(text_pairs)
}

/// The request headers whose names (the host's bytes) `keep` accepts, as [`request_headers`];
/// the others are never made text.
pub fn request_headers_kept(keep: &dyn Fn(&[u8]) -> bool) -> Option<Vec<(String, String)>> {
    host::map_pairs_kept(MapType::HttpRequestHeaders, keep)
        .ok()
        .map(text_pairs)
}

/// The first value of request header `name` (lowercase) as the only pair, or no pair when
/// the request has no such header; `None` when the host refused the call.
pub fn request_header(name: &str) -> Option<Vec<(String, String)>> {
    let value = host::map_value(MapType::HttpRequestHeaders, name).ok()?;
    Some(value.map_or_else(Vec::new, |v| vec![(name.to_string(), text(v))]))
}

/// Header pairs with byte values as text, invalid UTF-8 replaced (see [`request_headers`]).
fn text_pairs(pairs: Vec<(String, Vec<u8>)>) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .map(|(name, value)| (name, text(value)))
        .collect()
}

/// Bytes as text: as is when UTF-8 (no copy), with U+FFFD for invalid bytes otherwise.
fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

pub fn remove_request_header(name: &str) -> Result<(), Status> {
    host::remove_map_value(MapType::HttpRequestHeaders, name)
}

pub fn add_request_header(name: &str, value: &str) -> Result<(), Status> {
    host::add_map_value(MapType::HttpRequestHeaders, name, value)
}

pub fn send_reply(status: u32, headers: &[(String, String)], body: &str) -> Result<(), Status> {
    let headers: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    host::send_local_response(status, &headers, body.as_bytes())
}

pub fn plugin_configuration() -> Option<Vec<u8>> {
    host::buffer(BufferType::PluginConfiguration, 0, usize::MAX)
        .ok()
        .flatten()
}

/// A shared-data entry and its CAS; `(None, None)` when it does not exist or the host refuses.
pub fn shared(key: &str) -> (Option<Vec<u8>>, Option<u32>) {
    host::shared_data(key).unwrap_or((None, None))
}

pub fn set_shared(key: &str, value: &[u8], cas: Option<u32>) -> Result<(), Status> {
    host::set_shared_data(key, value, cas)
}

/// Asks for `on_tick` every `period`.
pub fn set_tick_period(period: Duration) -> Result<(), Status> {
    host::set_tick_period_ms(u32::try_from(period.as_millis()).unwrap_or(u32::MAX))
}

pub fn dispatch_get(
    cluster: &str,
    authority: &str,
    path: &str,
    timeout: Duration,
) -> Result<u32, Status> {
    let headers: [(&str, &[u8]); 5] = [
        (":method", b"GET"),
        (":path", path.as_bytes()),
        (":authority", authority.as_bytes()),
        (":scheme", b"http"),
        ("accept", b"application/json"),
    ];
    let timeout_ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
    host::http_call(cluster, &headers, timeout_ms)
}

pub fn callout_status() -> Option<u32> {
    host::map_value(MapType::HttpCallResponseHeaders, ":status")
        .ok()
        .flatten()
        .and_then(|s| std::str::from_utf8(&s).ok()?.parse().ok())
}

/// The callout's response headers, read as bytes like [`request_headers`]: an identity
/// provider (or anything on its path) sending a header value that is not UTF-8 must not
/// abort the VM.
pub fn callout_headers() -> Vec<(String, String)> {
    host::map_pairs(MapType::HttpCallResponseHeaders)
        .map(text_pairs)
        .unwrap_or_default()
}

pub fn callout_body(size: usize) -> Option<Vec<u8>> {
    host::buffer(BufferType::HttpCallResponseBody, 0, size)
        .ok()
        .flatten()
}

pub fn set_effective_context(context_id: u32) -> bool {
    host::set_effective_context(context_id).is_ok()
}

pub fn resume_request() -> Result<(), Status> {
    host::continue_request()
}

pub fn define_metric(kind: MetricType, name: &str) -> Option<u32> {
    host::define_metric(kind, name).ok()
}

pub fn increment_metric(id: u32, offset: i64) {
    let _ = host::increment_metric(id, offset);
}

pub fn record_metric(id: u32, value: u64) {
    let _ = host::record_metric(id, value);
}

/// A metric's value; `None` when the host refuses (the caller then writes it anyway).
pub fn metric(id: u32) -> Option<u64> {
    host::metric(id).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_floor_lets_through_its_level_and_above() {
        assert!(log_enabled(LogLevel::Info), "info by default");
        assert!(!log_enabled(LogLevel::Debug), "no debug by default");
        set_log_floor(LogLevel::Debug);
        assert!(log_enabled(LogLevel::Debug));
        assert!(!log_enabled(LogLevel::Trace));
        set_log_floor(LogLevel::Error);
        assert!(!log_enabled(LogLevel::Warn));
        assert!(log_enabled(LogLevel::Critical));
        set_log_floor(LogLevel::Info);
    }

    #[test]
    fn header_bytes_become_text_with_invalid_bytes_replaced() {
        assert_eq!(text(b"Bearer abc".to_vec()), "Bearer abc");
        assert_eq!(text(vec![b'a', 0xff, b'b']), "a\u{fffd}b");
        assert_eq!(
            text_pairs(vec![("x".to_string(), vec![0xc3])]),
            [("x".to_string(), "\u{fffd}".to_string())]
        );
    }
}
