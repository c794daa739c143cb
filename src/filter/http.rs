//! The HTTP context: hands each request to the worker's `process` and forgets the request if
//! it goes away while waiting for keys.

use proxy_wasm_abi::{Action, HttpContext};

use super::worker::{self, Shared};

pub struct Http {
    id: u32,
    shared: Shared,
}

impl Http {
    pub fn new(id: u32, shared: Shared) -> Http {
        Http { id, shared }
    }
}

impl HttpContext for Http {
    fn on_done(&mut self) -> bool {
        worker::forget_waiter(&self.shared, self.id);
        true
    }

    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let action = worker::process(&self.shared, self.id, None);
        // Requests are what makes memory grow: report it here too (only when it changed), so
        // configurations without remote JWKS, which have no tick, keep the gauge current.
        if let Ok(mut worker) = self.shared.try_borrow_mut() {
            worker.metrics.report_vm_memory(false);
        }
        action
    }
}
