//! The host functions the filter calls, each imported from the ABI 0.2.1 `env` module and
//! wrapped in a safe function that never panics: any status other than `OK` is returned as
//! `Err(Status)` (except where the ABI gives it a meaning, such as `NOT_FOUND` for a missing
//! header or shared-data key), and a buffer the host hands over is taken only when the host
//! said `OK` and gave a pointer.
//!
//! Deliberately absent: `proxy_get_log_level` (Kong's host traps on it, which no status check
//! can catch), and everything the filter does not use.

use std::ptr::{null, null_mut};

use crate::{map, BufferType, LogLevel, MapType, MetricType, Status};

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_log(level: u32, message_data: *const u8, message_size: usize) -> u32;
    fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> u32;
    fn proxy_set_tick_period_milliseconds(period: u32) -> u32;
    fn proxy_get_buffer_bytes(
        buffer_type: u32,
        start: usize,
        max_size: usize,
        return_buffer_data: *mut *mut u8,
        return_buffer_size: *mut usize,
    ) -> u32;
    fn proxy_get_header_map_pairs(
        map_type: u32,
        return_map_data: *mut *mut u8,
        return_map_size: *mut usize,
    ) -> u32;
    fn proxy_get_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    fn proxy_add_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_remove_header_map_value(map_type: u32, key_data: *const u8, key_size: usize) -> u32;
    fn proxy_get_property(
        path_data: *const u8,
        path_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    fn proxy_get_shared_data(
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
        return_cas: *mut u32,
    ) -> u32;
    fn proxy_set_shared_data(
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
        cas: u32,
    ) -> u32;
    fn proxy_continue_stream(stream_type: u32) -> u32;
    #[allow(clippy::too_many_arguments)]
    fn proxy_send_local_response(
        status_code: u32,
        status_code_details_data: *const u8,
        status_code_details_size: usize,
        body_data: *const u8,
        body_size: usize,
        headers_data: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
    #[allow(clippy::too_many_arguments)]
    fn proxy_http_call(
        upstream_data: *const u8,
        upstream_size: usize,
        headers_data: *const u8,
        headers_size: usize,
        body_data: *const u8,
        body_size: usize,
        trailers_data: *const u8,
        trailers_size: usize,
        timeout: u32,
        return_token: *mut u32,
    ) -> u32;
    fn proxy_set_effective_context(context_id: u32) -> u32;
    fn proxy_define_metric(
        metric_type: u32,
        name_data: *const u8,
        name_size: usize,
        return_id: *mut u32,
    ) -> u32;
    fn proxy_get_metric(metric_id: u32, return_value: *mut u64) -> u32;
    fn proxy_record_metric(metric_id: u32, value: u64) -> u32;
    fn proxy_increment_metric(metric_id: u32, offset: i64) -> u32;
}

/// `proxy_stream_type_t` of the request stream.
const STREAM_HTTP_REQUEST: u32 = 0;

/// `OK` as `Ok(())`, any other status as itself.
fn ok(status: u32) -> Result<(), Status> {
    match Status(status) {
        Status::OK => Ok(()),
        other => Err(other),
    }
}

/// Takes ownership of a buffer the host wrote into wasm memory; `None` for a null pointer.
///
/// # Safety
/// `data` must be null or a buffer of `size` bytes that the host allocated through
/// [`crate::dispatch`]'s `proxy_on_memory_allocate(size)` (a `Vec<u8>` of that capacity) and
/// gave up: what the ABI promises for every `return_*_data` of a call that answered `OK`.
unsafe fn take(data: *mut u8, size: usize) -> Option<Vec<u8>> {
    if data.is_null() {
        return None;
    }
    // SAFETY: per this function's contract, the allocation is a Vec<u8> of capacity `size`
    // that nothing else owns, and the host initialised its `size` bytes.
    Some(unsafe { Vec::from_raw_parts(data, size, size) })
}

/// Hands a line to the host's log.
pub fn log(level: LogLevel, message: &str) -> Result<(), Status> {
    // SAFETY: the pointer and length describe `message`, alive for the call.
    ok(unsafe { proxy_log(level as u32, message.as_ptr(), message.len()) })
}

/// The host's clock, in nanoseconds since the Unix epoch.
pub fn current_time_ns() -> Result<u64, Status> {
    let mut time = 0u64;
    // SAFETY: `time` is a valid u64 for the host to write.
    ok(unsafe { proxy_get_current_time_nanoseconds(&mut time) })?;
    Ok(time)
}

/// Asks for `proxy_on_tick` every `period_ms` on the calling root context.
pub fn set_tick_period_ms(period_ms: u32) -> Result<(), Status> {
    // SAFETY: plain values only.
    ok(unsafe { proxy_set_tick_period_milliseconds(period_ms) })
}

/// Up to `max_size` bytes of a buffer from `start`; `Ok(None)` when the host has none.
pub fn buffer(kind: BufferType, start: usize, max_size: usize) -> Result<Option<Vec<u8>>, Status> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: `data` and `size` are valid for the host to write.
    let status =
        unsafe { proxy_get_buffer_bytes(kind as u32, start, max_size, &mut data, &mut size) };
    match Status(status) {
        // SAFETY: the host answered OK, so `data`/`size` are its buffer (see `take`).
        Status::OK => Ok(unsafe { take(data, size) }),
        Status::NOT_FOUND => Ok(None),
        other => Err(other),
    }
}

/// Every pair of a header map, names as text and values as bytes (HTTP lets a value carry
/// bytes that are not UTF-8). A map the host serialized wrongly is `SERIALIZATION_FAILURE`.
pub fn map_pairs(kind: MapType) -> Result<Vec<(String, Vec<u8>)>, Status> {
    map_pairs_kept(kind, &|_| true)
}

/// [`map_pairs`], keeping only the pairs whose name `keep` accepts (see
/// [`map::deserialize_kept`]).
pub fn map_pairs_kept(kind: MapType, keep: &dyn Fn(&[u8]) -> bool) -> Result<Vec<(String, Vec<u8>)>, Status> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: `data` and `size` are valid for the host to write.
    ok(unsafe { proxy_get_header_map_pairs(kind as u32, &mut data, &mut size) })?;
    // SAFETY: the host answered OK (see `take`).
    match unsafe { take(data, size) } {
        None => Ok(Vec::new()),
        Some(bytes) => map::deserialize_kept(&bytes, keep).ok_or(Status::SERIALIZATION_FAILURE),
    }
}

/// The value of header `name`; `Ok(None)` when the map has no such header.
pub fn map_value(kind: MapType, name: &str) -> Result<Option<Vec<u8>>, Status> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: the key describes `name`; `data` and `size` are valid for the host to write.
    let status = unsafe {
        proxy_get_header_map_value(kind as u32, name.as_ptr(), name.len(), &mut data, &mut size)
    };
    match Status(status) {
        // SAFETY: the host answered OK (see `take`). OK without a pointer: an empty value.
        Status::OK => Ok(Some(unsafe { take(data, size) }.unwrap_or_default())),
        Status::NOT_FOUND => Ok(None),
        other => Err(other),
    }
}

/// Adds a header (another value when the name is already there).
pub fn add_map_value(kind: MapType, name: &str, value: &str) -> Result<(), Status> {
    // SAFETY: the pointers and lengths describe `name` and `value`, alive for the call.
    ok(unsafe {
        proxy_add_header_map_value(
            kind as u32,
            name.as_ptr(),
            name.len(),
            value.as_ptr(),
            value.len(),
        )
    })
}

/// Removes every value of a header.
pub fn remove_map_value(kind: MapType, name: &str) -> Result<(), Status> {
    // SAFETY: the pointer and length describe `name`, alive for the call.
    ok(unsafe { proxy_remove_header_map_value(kind as u32, name.as_ptr(), name.len()) })
}

/// A property's value (`["xds", "route_name"]`); `Ok(None)` when the host has no such property.
pub fn property(path: &[&str]) -> Result<Option<Vec<u8>>, Status> {
    let path = map::path(path);
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: the path describes the local buffer; `data` and `size` are valid to write.
    let status = unsafe { proxy_get_property(path.as_ptr(), path.len(), &mut data, &mut size) };
    match Status(status) {
        // SAFETY: the host answered OK (see `take`).
        Status::OK => Ok(unsafe { take(data, size) }),
        Status::NOT_FOUND => Ok(None),
        other => Err(other),
    }
}

/// A shared-data entry and its CAS; `Ok((None, None))` when there is no such key.
pub fn shared_data(key: &str) -> Result<(Option<Vec<u8>>, Option<u32>), Status> {
    let (mut data, mut size, mut cas) = (null_mut(), 0usize, 0u32);
    // SAFETY: the key describes `key`; `data`, `size` and `cas` are valid for the host to write.
    let status =
        unsafe { proxy_get_shared_data(key.as_ptr(), key.len(), &mut data, &mut size, &mut cas) };
    match Status(status) {
        // SAFETY: the host answered OK (see `take`).
        Status::OK => Ok((unsafe { take(data, size) }, (cas != 0).then_some(cas))),
        Status::NOT_FOUND => Ok((None, None)),
        other => Err(other),
    }
}

/// Writes a shared-data entry; with `cas`, only if the entry still has that CAS
/// (`Err(CAS_MISMATCH)` otherwise).
pub fn set_shared_data(key: &str, value: &[u8], cas: Option<u32>) -> Result<(), Status> {
    // SAFETY: the pointers and lengths describe `key` and `value`, alive for the call.
    ok(unsafe {
        proxy_set_shared_data(
            key.as_ptr(),
            key.len(),
            value.as_ptr(),
            value.len(),
            cas.unwrap_or(0),
        )
    })
}

/// Resumes the (paused) request of the effective context.
pub fn continue_request() -> Result<(), Status> {
    // SAFETY: plain values only.
    ok(unsafe { proxy_continue_stream(STREAM_HTTP_REQUEST) })
}

/// Answers the request of the effective context with a local reply.
pub fn send_local_response(
    status: u32,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Result<(), Status> {
    let headers = map::serialize(headers);
    // SAFETY: every pointer and length describes a buffer alive for the call (no details).
    ok(unsafe {
        proxy_send_local_response(
            status,
            null(),
            0,
            body.as_ptr(),
            body.len(),
            headers.as_ptr(),
            headers.len(),
            -1,
        )
    })
}

/// Starts an HTTP callout to `upstream` (an Envoy cluster); the answer comes to
/// `proxy_on_http_call_response` with the returned token.
pub fn http_call(
    upstream: &str,
    headers: &[(&str, &[u8])],
    timeout_ms: u32,
) -> Result<u32, Status> {
    let headers = map::serialize(headers);
    let trailers = map::serialize(&[]);
    let mut token = 0u32;
    // SAFETY: every pointer and length describes a buffer alive for the call (no body);
    // `token` is valid for the host to write.
    ok(unsafe {
        proxy_http_call(
            upstream.as_ptr(),
            upstream.len(),
            headers.as_ptr(),
            headers.len(),
            null(),
            0,
            trailers.as_ptr(),
            trailers.len(),
            timeout_ms,
            &mut token,
        )
    })?;
    crate::dispatch::note_callout(token);
    Ok(token)
}

/// Makes `context_id` the context later host calls act on (a paused request, from the root).
pub fn set_effective_context(context_id: u32) -> Result<(), Status> {
    // SAFETY: plain values only.
    ok(unsafe { proxy_set_effective_context(context_id) })
}

/// Defines (or finds) a metric by name; its id.
pub fn define_metric(kind: MetricType, name: &str) -> Result<u32, Status> {
    let mut id = 0u32;
    // SAFETY: the pointer and length describe `name`; `id` is valid for the host to write.
    ok(unsafe { proxy_define_metric(kind as u32, name.as_ptr(), name.len(), &mut id) })?;
    Ok(id)
}

pub fn metric(id: u32) -> Result<u64, Status> {
    let mut value = 0u64;
    // SAFETY: `value` is valid for the host to write.
    ok(unsafe { proxy_get_metric(id, &mut value) })?;
    Ok(value)
}

pub fn record_metric(id: u32, value: u64) -> Result<(), Status> {
    // SAFETY: plain values only.
    ok(unsafe { proxy_record_metric(id, value) })
}

pub fn increment_metric(id: u32, offset: i64) -> Result<(), Status> {
    // SAFETY: plain values only.
    ok(unsafe { proxy_increment_metric(id, offset) })
}
