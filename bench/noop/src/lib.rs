//! No-op proxy-wasm HTTP filter for the benchmarks: on request headers it reads the
//! `authorization` header (so the token crosses into wasm memory, as it must for any JWT filter)
//! and continues. Its cost over "no filter" is the floor any wasm filter pays in Envoy: the VM
//! call per stream and per callback, context creation, one header read.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(NoopRoot) });
}}

struct NoopRoot;

impl Context for NoopRoot {}

impl RootContext for NoopRoot {
    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Noop))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Noop;

impl Context for Noop {}

impl HttpContext for Noop {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        // Read, then drop: the value is not used, only fetched.
        let _token = self.get_http_request_header("authorization");
        Action::Continue
    }
}
