//! No-op proxy-wasm HTTP filter on the raw ABI (no SDK): on request headers it reads the
//! `authorization` header into wasm memory and continues. It exports only the callbacks it
//! answers, so against `noop-lean` (the SDK's no-op, trimmed the same way) the difference is
//! the SDK's per-request bookkeeping.

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_get_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
}

const REQUEST_HEADERS: u32 = 0;
const STATUS_OK: u32 = 0;
const CONTINUE: u32 = 0;

#[no_mangle]
pub extern "C" fn proxy_abi_version_0_2_1() {}

/// The host's buffers (here the header value) are allocated in wasm memory through this.
#[no_mangle]
pub extern "C" fn proxy_on_memory_allocate(size: usize) -> *mut u8 {
    let mut buffer: Vec<u8> = Vec::with_capacity(size);
    let ptr = buffer.as_mut_ptr();
    std::mem::forget(buffer);
    ptr
}

#[no_mangle]
pub extern "C" fn proxy_on_vm_start(_root_context_id: u32, _configuration_size: usize) -> u32 {
    1
}

#[no_mangle]
pub extern "C" fn proxy_on_configure(_root_context_id: u32, _configuration_size: usize) -> u32 {
    1
}

#[no_mangle]
pub extern "C" fn proxy_on_context_create(_context_id: u32, _parent_context_id: u32) {}

#[no_mangle]
pub extern "C" fn proxy_on_request_headers(_context_id: u32, _headers: usize, _end_of_stream: u32) -> u32 {
    let name = b"authorization";
    let mut ptr: *mut u8 = std::ptr::null_mut();
    let mut size: usize = 0;
    // SAFETY: on success the host wrote a buffer of `size` bytes it allocated through
    // proxy_on_memory_allocate (a Vec's allocation with that capacity), which we now own.
    unsafe {
        if proxy_get_header_map_value(REQUEST_HEADERS, name.as_ptr(), name.len(), &mut ptr, &mut size) == STATUS_OK
            && !ptr.is_null()
        {
            let value = Vec::from_raw_parts(ptr, size, size);
            std::hint::black_box(&value);
        }
    }
    CONTINUE
}

#[no_mangle]
pub extern "C" fn proxy_on_done(_context_id: u32) -> u32 {
    1
}

#[no_mangle]
pub extern "C" fn proxy_on_delete(_context_id: u32) {}
