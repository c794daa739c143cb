//! No-op proxy-wasm HTTP filter for the benchmarks: on request headers it reads the
//! `authorization` header (so the token crosses into wasm memory, as it must for any JWT filter)
//! and continues. Its cost over "no filter" is the floor any wasm filter pays in Envoy: the VM
//! call per stream and per callback, context creation, one header read.
//!
//! Its plugin configuration may name other host calls to make instead, comma-separated, so the
//! benchmark can price each host call a real filter makes on a cache hit (the `floor-*` configs
//! of bench/run.py): `header` (the default: read `authorization`), `map` (read all request
//! headers, as the SDK does: a `String` per name and a `Vec` per value), `rawmap` (read all
//! request headers and walk the host's buffer in place, no allocation per header), `path` (read
//! `:path`), `time` (the clock), `remove` (remove `authorization`), `inc` (increment a counter).

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MapType, MetricType};
use std::rc::Rc;

#[cfg(feature = "verifiers")]
#[path = "../../../src/crypto/mod.rs"]
#[allow(dead_code)]
mod crypto;
#[cfg(feature = "verifiers")]
mod verifiers;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(NoopRoot { steps: Rc::new(vec![Step::Header]), counter: 0 })
    });
}}

#[derive(Clone, Copy)]
enum Step {
    Header,
    Map,
    RawMap,
    Path,
    Time,
    Remove,
    Inc,
}

struct NoopRoot {
    steps: Rc<Vec<Step>>,
    counter: u32,
}

impl Context for NoopRoot {}

impl RootContext for NoopRoot {
    fn on_configure(&mut self, _size: usize) -> bool {
        let config = self
            .get_plugin_configuration()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default();
        let mut steps = Vec::new();
        for word in config.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            steps.push(match word {
                "header" => Step::Header,
                "map" => Step::Map,
                "rawmap" => Step::RawMap,
                "path" => Step::Path,
                "time" => Step::Time,
                "remove" => Step::Remove,
                "inc" => Step::Inc,
                _ => return false,
            });
        }
        if steps.is_empty() {
            steps.push(Step::Header);
        }
        self.steps = Rc::new(steps);
        #[cfg(feature = "verifiers")]
        verifiers::exercise();
        self.counter = hostcalls::define_metric(MetricType::Counter, "bench_noop.requests").unwrap_or(0);
        true
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Noop { steps: self.steps.clone(), counter: self.counter }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Noop {
    steps: Rc<Vec<Step>>,
    counter: u32,
}

impl Context for Noop {}

impl HttpContext for Noop {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        // Read, then drop: values are not used, only fetched.
        for step in self.steps.iter() {
            match step {
                Step::Header => {
                    let _token = self.get_http_request_header("authorization");
                }
                Step::Map => {
                    let _headers = hostcalls::get_map(MapType::HttpRequestHeaders);
                }
                Step::RawMap => {
                    let _pairs = raw_map_pairs();
                }
                Step::Path => {
                    let _path = self.get_http_request_header(":path");
                }
                Step::Time => {
                    let _now = hostcalls::get_current_time();
                }
                Step::Remove => {
                    let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, "authorization", None);
                }
                Step::Inc => {
                    let _ = hostcalls::increment_metric(self.counter, 1);
                }
            }
        }
        Action::Continue
    }
}

extern "C" {
    fn proxy_get_header_map_pairs(
        map_type: MapType,
        return_map_data: *mut *mut u8,
        return_map_size: *mut usize,
    ) -> proxy_wasm::types::Status;
}

/// All request headers as the host serializes them (`u32` count, then a `u32` name and value
/// length per pair, then each name and value NUL-terminated), walked in place: one buffer, no
/// allocation per header. Returns the number of pairs that are valid UTF-8.
fn raw_map_pairs() -> usize {
    let mut ptr: *mut u8 = std::ptr::null_mut();
    let mut size: usize = 0;
    // SAFETY: the host writes a buffer it allocated through proxy_on_memory_allocate (the SDK's
    // allocator), which this function then owns.
    let buf = unsafe {
        if proxy_get_header_map_pairs(MapType::HttpRequestHeaders, &mut ptr, &mut size)
            != proxy_wasm::types::Status::Ok
            || ptr.is_null()
        {
            return 0;
        }
        Vec::from_raw_parts(ptr, size, size)
    };
    let word = |at: usize| {
        buf.get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, |b: [u8; 4]| u32::from_le_bytes(b) as usize)
    };
    let count = word(0);
    let mut data = 4 + 8 * count;
    let mut valid = 0;
    for i in 0..count {
        let (klen, vlen) = (word(4 + 8 * i), word(8 + 8 * i));
        let key = buf.get(data..data + klen);
        data += klen + 1;
        let value = buf.get(data..data + vlen);
        data += vlen + 1;
        if let (Some(k), Some(v)) = (key, value) {
            if std::str::from_utf8(k).is_ok() && std::str::from_utf8(v).is_ok() {
                valid += 1;
            }
        }
    }
    std::hint::black_box(valid)
}
