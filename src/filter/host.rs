//! Thin, non-panicking wrappers over the host calls the filter uses, turning host statuses
//! into `Option`/`Result` and the clock into unix milliseconds.

use std::time::{Duration, UNIX_EPOCH};

use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, LogLevel, MapType, Status};

pub fn log(level: LogLevel, message: &str) {
    let _ = hostcalls::log(level, message);
}

/// Whether the host would print a log line of `level` (the host's level for this plugin; true
/// when it cannot say).
pub fn log_enabled(level: LogLevel) -> bool {
    hostcalls::get_log_level().map_or(true, |host| host as u32 <= level as u32)
}

pub fn now_ms() -> Option<u64> {
    let now = hostcalls::get_current_time().ok()?;
    let since = now.duration_since(UNIX_EPOCH).ok()?;
    u64::try_from(since.as_millis()).ok()
}

/// Envoy's name for the route this request matched (`xds.route_name`).
pub fn route_name() -> Option<String> {
    let bytes = hostcalls::get_property(vec!["xds", "route_name"])
        .ok()
        .flatten()?;
    String::from_utf8(bytes).ok()
}

/// The request headers. HTTP lets a header value carry bytes that are not UTF-8 (obs-text),
/// and the SDK's `get_map` unwraps a UTF-8 conversion on them: one such request would abort
/// the VM, and every later request with it. Values are read as bytes instead and made text
/// here, invalid bytes becoming U+FFFD (never part of a token, so such a token is refused).
/// Names are validated by Envoy's codecs (a name that is not a token is a 400 before any
/// filter runs).
pub fn request_headers() -> Option<Vec<(String, String)>> {
    hostcalls::get_map_bytes(MapType::HttpRequestHeaders)
        .ok()
        .map(text_pairs)
}

/// The first value of request header `name` (lowercase) as the only pair, or no pair when
/// the request has no such header; `None` when the host refused the call.
pub fn request_header(name: &str) -> Option<Vec<(String, String)>> {
    let value = hostcalls::get_map_value_bytes(MapType::HttpRequestHeaders, name).ok()?;
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
    hostcalls::set_map_value(MapType::HttpRequestHeaders, name, None)
}

pub fn add_request_header(name: &str, value: &str) -> Result<(), Status> {
    hostcalls::add_map_value(MapType::HttpRequestHeaders, name, value)
}

pub fn send_reply(status: u32, headers: &[(String, String)], body: &str) -> Result<(), Status> {
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    hostcalls::send_http_response(status, headers, Some(body.as_bytes()))
}

pub fn plugin_configuration() -> Option<Vec<u8>> {
    hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX)
        .ok()
        .flatten()
}

/// A shared-data entry and its CAS; `(None, None)` when it does not exist.
pub fn shared(key: &str) -> (Option<Vec<u8>>, Option<u32>) {
    hostcalls::get_shared_data(key).unwrap_or((None, None))
}

pub fn set_shared(key: &str, value: &[u8], cas: Option<u32>) -> Result<(), Status> {
    hostcalls::set_shared_data(key, Some(value), cas)
}

pub fn dispatch_get(
    cluster: &str,
    authority: &str,
    path: &str,
    timeout: Duration,
) -> Result<u32, Status> {
    let headers = vec![
        (":method", "GET"),
        (":path", path),
        (":authority", authority),
        (":scheme", "http"),
        ("accept", "application/json"),
    ];
    hostcalls::dispatch_http_call(cluster, headers, None, vec![], timeout)
}

pub fn callout_status() -> Option<u32> {
    hostcalls::get_map_value_bytes(MapType::HttpCallResponseHeaders, ":status")
        .ok()
        .flatten()
        .and_then(|s| std::str::from_utf8(&s).ok()?.parse().ok())
}

/// The callout's response headers, read as bytes like [`request_headers`]: an identity
/// provider (or anything on its path) sending a header value that is not UTF-8 must not
/// abort the VM.
pub fn callout_headers() -> Vec<(String, String)> {
    hostcalls::get_map_bytes(MapType::HttpCallResponseHeaders)
        .map(text_pairs)
        .unwrap_or_default()
}

pub fn callout_body(size: usize) -> Option<Vec<u8>> {
    hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, size)
        .ok()
        .flatten()
}

pub fn set_effective_context(context_id: u32) -> bool {
    hostcalls::set_effective_context(context_id).is_ok()
}

pub fn resume_request() -> Result<(), Status> {
    hostcalls::resume_http_request()
}
