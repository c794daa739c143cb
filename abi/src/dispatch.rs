//! The callbacks the module exports, and the contexts they reach: one [`RootContext`] per
//! plugin (created when the host creates a context without a parent) and one
//! [`HttpContext`] per request (created by its root).
//!
//! Nothing a host passes can make this panic: a callback for a context id it never created,
//! or already deleted, does nothing and answers the ABI's neutral value (continue, done); a
//! callout answer goes to the context that made the call, or to the one the host names when
//! the token is unknown. A context is taken out of the registry while its callback runs, so a
//! host that calls back into the module from inside a host call (re-entrancy) finds no borrow
//! to collide with: the inner callback for that same context is simply not delivered.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::{host, Action, LogLevel};

/// The plugin's root context: configuration, the tick, and callout answers.
pub trait RootContext {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        true
    }
    fn on_configure(&mut self, plugin_configuration_size: usize) -> bool;
    fn on_tick(&mut self) {}
    fn on_http_call_response(
        &mut self,
        _token_id: u32,
        _num_headers: usize,
        _body_size: usize,
        _num_trailers: usize,
    ) {
    }
    /// The plugin is going away; `true` when it is done at once.
    fn on_done(&mut self) -> bool {
        true
    }
    /// The context for a new request, or `None` to let the request through untouched.
    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>>;
}

/// One request.
pub trait HttpContext {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        Action::Continue
    }
    /// The request is finished; `true` when the context is done at once.
    fn on_done(&mut self) -> bool {
        true
    }
}

/// Makes the plugin's root context for a context id.
pub type NewRoot = fn(u32) -> Box<dyn RootContext>;

/// Hash maps rather than B-trees: the filter's crates already link one hash table, and each
/// B-tree map type added ~9 KB of insert, remove and rebalancing code to the module, which the
/// host compiles at load.
#[derive(Default)]
struct Registry {
    new_root: Option<NewRoot>,
    roots: HashMap<u32, Box<dyn RootContext>>,
    http: HashMap<u32, Box<dyn HttpContext>>,
    /// The context whose callback is running (0: none): a callout it starts is its own.
    active: u32,
    /// Callout token -> the context that made the call.
    callouts: HashMap<u32, u32>,
    /// Contexts taken out for their callback, and those of them deleted meanwhile.
    running: Vec<u32>,
    deleted_while_running: Vec<u32>,
}

thread_local! {
    static REGISTRY: RefCell<Registry> = RefCell::new(Registry::default());
}

/// Runs `f` on the registry; `None` if it is unreachable (thread-local torn down, or already
/// borrowed), which callers treat as "no such context".
fn registry<R>(f: impl FnOnce(&mut Registry) -> R) -> Option<R> {
    REGISTRY
        .try_with(|r| r.try_borrow_mut().ok().map(|mut r| f(&mut r)))
        .ok()
        .flatten()
}

/// Module start (`_initialize`, through [`crate::main!`]): runs the static constructors,
/// makes a panic at least leave a log line, and records how to make root contexts.
pub fn start(new_root: NewRoot) {
    #[cfg(target_os = "wasi")]
    {
        extern "C" {
            fn __wasm_call_ctors();
        }
        // SAFETY: the linker's constructor list, run once at start as the reactor ABI asks.
        unsafe { __wasm_call_ctors() };
    }
    // `panic = "abort"` still runs the hook first: the line says why the VM is gone.
    std::panic::set_hook(Box::new(|info| {
        let _ = host::log(LogLevel::Critical, &info.to_string());
    }));
    registry(|r| r.new_root = Some(new_root));
}

/// Records a callout the running context started, so its answer comes back to it.
pub(crate) fn note_callout(token: u32) {
    registry(|r| {
        let active = r.active;
        r.callouts.insert(token, active);
    });
}

fn create_context(context_id: u32, parent_id: u32) {
    if parent_id == 0 {
        let Some(Some(new_root)) = registry(|r| r.new_root) else {
            return;
        };
        let root = new_root(context_id);
        registry(|r| r.roots.insert(context_id, root));
        return;
    }
    let context = with_root(parent_id, None, |root| root.create_http_context(context_id));
    if let Some(context) = context {
        registry(|r| r.http.insert(context_id, context));
    }
}

/// Runs `f` on root context `id`, taken out of the registry meanwhile; `default` when there
/// is no such root.
fn with_root<R>(id: u32, default: R, f: impl FnOnce(&mut dyn RootContext) -> R) -> R {
    let Some(Some(mut root)) = registry(|r| take(r, id, |r| &mut r.roots)) else {
        return default;
    };
    let result = f(root.as_mut());
    registry(|r| put_back(r, id, root, |r| &mut r.roots));
    result
}

/// Runs `f` on HTTP context `id`, as [`with_root`] does.
fn with_http<R>(id: u32, default: R, f: impl FnOnce(&mut dyn HttpContext) -> R) -> R {
    let Some(Some(mut context)) = registry(|r| take(r, id, |r| &mut r.http)) else {
        return default;
    };
    let result = f(context.as_mut());
    registry(|r| put_back(r, id, context, |r| &mut r.http));
    result
}

fn take<C: ?Sized>(
    r: &mut Registry,
    id: u32,
    map: impl Fn(&mut Registry) -> &mut HashMap<u32, Box<C>>,
) -> Option<Box<C>> {
    let context = map(r).remove(&id)?;
    r.running.push(id);
    r.active = id;
    Some(context)
}

fn put_back<C: ?Sized>(
    r: &mut Registry,
    id: u32,
    context: Box<C>,
    map: impl Fn(&mut Registry) -> &mut HashMap<u32, Box<C>>,
) {
    if let Some(at) = r.running.iter().rposition(|running| *running == id) {
        r.running.swap_remove(at);
    }
    r.active = r.running.last().copied().unwrap_or(0);
    if let Some(at) = r.deleted_while_running.iter().position(|d| *d == id) {
        r.deleted_while_running.swap_remove(at);
        return; // the host deleted it while its callback ran: drop it now
    }
    map(r).insert(id, context);
}

fn delete(id: u32) {
    registry(|r| {
        let removed = r.http.remove(&id).is_some() || r.roots.remove(&id).is_some();
        if !removed && r.running.contains(&id) {
            r.deleted_while_running.push(id);
        }
        r.callouts.retain(|_, owner| *owner != id);
    });
}

fn call_response(context_id: u32, token: u32, headers: usize, body: usize, trailers: usize) {
    let owner = registry(|r| r.callouts.remove(&token))
        .flatten()
        .unwrap_or(context_id);
    let is_root = registry(|r| r.roots.contains_key(&owner)).unwrap_or(false);
    if is_root {
        with_root(owner, (), |root| {
            root.on_http_call_response(token, headers, body, trailers)
        });
    }
}

fn done(id: u32) -> bool {
    let is_root = registry(|r| r.roots.contains_key(&id)).unwrap_or(false);
    if is_root {
        with_root(id, true, |root| root.on_done())
    } else {
        with_http(id, true, |context| context.on_done())
    }
}

/// The callbacks as the ABI names them. `bool`s cross as `u32` both ways: a host may pass any
/// number, which a Rust `bool` parameter could not hold.
mod exports {
    use super::*;

    #[no_mangle]
    pub extern "C" fn proxy_abi_version_0_2_1() {}

    /// Buffers the host hands to the module are allocated here: a `size`-byte slice the module
    /// then owns (see `host::take`); null when memory is exhausted, never a trap.
    #[no_mangle]
    pub extern "C" fn proxy_on_memory_allocate(size: usize) -> *mut u8 {
        let mut buffer: Vec<u8> = Vec::new();
        if buffer.try_reserve_exact(size).is_err() {
            return std::ptr::null_mut();
        }
        buffer.resize(size, 0);
        Box::leak(buffer.into_boxed_slice()).as_mut_ptr()
    }

    #[no_mangle]
    pub extern "C" fn proxy_on_context_create(context_id: u32, parent_context_id: u32) {
        create_context(context_id, parent_context_id);
    }

    #[no_mangle]
    pub extern "C" fn proxy_on_vm_start(root_id: u32, vm_configuration_size: usize) -> u32 {
        u32::from(with_root(root_id, false, |root| {
            root.on_vm_start(vm_configuration_size)
        }))
    }

    #[no_mangle]
    pub extern "C" fn proxy_on_configure(root_id: u32, plugin_configuration_size: usize) -> u32 {
        u32::from(with_root(root_id, false, |root| {
            root.on_configure(plugin_configuration_size)
        }))
    }

    #[no_mangle]
    pub extern "C" fn proxy_on_tick(root_id: u32) {
        with_root(root_id, (), |root| root.on_tick());
    }

    #[no_mangle]
    pub extern "C" fn proxy_on_http_call_response(
        context_id: u32,
        token: u32,
        num_headers: usize,
        body_size: usize,
        num_trailers: usize,
    ) {
        call_response(context_id, token, num_headers, body_size, num_trailers);
    }

    #[no_mangle]
    pub extern "C" fn proxy_on_request_headers(
        context_id: u32,
        num_headers: usize,
        end_of_stream: u32,
    ) -> u32 {
        with_http(context_id, Action::Continue, |context| {
            context.on_http_request_headers(num_headers, end_of_stream != 0)
        }) as u32
    }

    #[no_mangle]
    pub extern "C" fn proxy_on_done(context_id: u32) -> u32 {
        u32::from(done(context_id))
    }

    #[no_mangle]
    pub extern "C" fn proxy_on_delete(context_id: u32) {
        delete(context_id);
    }
}

/// Exports `_initialize`, which starts the module with `new_root` making its root contexts
/// (see [`start`]). Invoke once, in the cdylib crate. The `#[no_mangle]` it expands to is the
/// one item that crate cannot write itself (it forbids unsafe code, which includes
/// `no_mangle`); as with the SDK's `main!`, that lint does not look into another crate's macro.
#[macro_export]
macro_rules! main {
    ($new_root:expr) => {
        #[no_mangle]
        pub extern "C" fn _initialize() {
            $crate::dispatch::start($new_root);
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        static SEEN: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    }

    fn seen(event: String) {
        SEEN.with(|s| s.borrow_mut().push(event));
    }

    fn events() -> Vec<String> {
        SEEN.with(|s| std::mem::take(&mut *s.borrow_mut()))
    }

    struct Root {
        id: u32,
    }

    impl RootContext for Root {
        fn on_configure(&mut self, size: usize) -> bool {
            seen(format!("configure {} {size}", self.id));
            true
        }
        fn on_tick(&mut self) {
            seen(format!("tick {}", self.id));
            // A host calling back into this same root from inside a host call: not delivered.
            with_root(self.id, (), |_| seen("re-entered".to_string()));
        }
        fn on_http_call_response(&mut self, token: u32, headers: usize, body: usize, _: usize) {
            seen(format!("response {} {token} {headers} {body}", self.id));
        }
        fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
            Some(Box::new(Http { id: context_id }))
        }
    }

    struct Http {
        id: u32,
    }

    impl HttpContext for Http {
        fn on_http_request_headers(&mut self, headers: usize, end: bool) -> Action {
            seen(format!("headers {} {headers} {end}", self.id));
            Action::Pause
        }
        fn on_done(&mut self) -> bool {
            seen(format!("done {}", self.id));
            delete(self.id); // deleted while its own callback runs
            true
        }
    }

    fn new_root(id: u32) -> Box<dyn RootContext> {
        Box::new(Root { id })
    }

    fn reset() {
        registry(|r| *r = Registry::default());
        events();
    }

    #[test]
    fn callbacks_reach_the_contexts_the_host_created() {
        reset();
        registry(|r| r.new_root = Some(new_root));
        create_context(1, 0);
        assert!(with_root(1, false, |root| root.on_configure(7)));
        create_context(2, 1);
        let action = with_http(2, Action::Continue, |c| c.on_http_request_headers(3, true));
        assert_eq!(action, Action::Pause);
        assert_eq!(events(), ["configure 1 7", "headers 2 3 true"]);
    }

    #[test]
    fn unknown_context_ids_answer_the_neutral_value_without_a_panic() {
        reset();
        registry(|r| r.new_root = Some(new_root));
        assert!(!with_root(9, false, |root| root.on_configure(0)));
        let action = with_http(9, Action::Continue, |c| c.on_http_request_headers(0, false));
        assert_eq!(action, Action::Continue);
        assert!(done(9));
        delete(9);
        call_response(9, 42, 1, 1, 0);
        create_context(10, 9); // a parent that does not exist: no context
        assert_eq!(registry(|r| r.http.len()), Some(0));
        assert!(events().is_empty());
    }

    #[test]
    fn without_a_start_no_root_is_made() {
        reset();
        create_context(1, 0);
        assert_eq!(registry(|r| r.roots.len()), Some(0));
    }

    #[test]
    fn a_callout_answer_goes_to_the_context_that_made_the_call() {
        reset();
        registry(|r| r.new_root = Some(new_root));
        create_context(1, 0);
        create_context(5, 0);
        // Root 5 makes the call; the host names root 1 in its answer (or any id): 5 gets it.
        registry(|r| r.active = 5);
        note_callout(77);
        registry(|r| r.active = 0);
        call_response(1, 77, 2, 10, 0);
        // A token nobody recorded goes to the context the host names.
        call_response(1, 78, 0, 0, 0);
        assert_eq!(events(), ["response 5 77 2 10", "response 1 78 0 0"]);
    }

    #[test]
    fn a_callback_into_a_running_context_is_not_delivered() {
        reset();
        registry(|r| r.new_root = Some(new_root));
        create_context(1, 0);
        with_root(1, (), |root| root.on_tick());
        assert_eq!(events(), ["tick 1"]);
        // The root is back in place afterwards.
        with_root(1, (), |root| root.on_tick());
        assert_eq!(events(), ["tick 1"]);
    }

    #[test]
    fn a_context_deleted_while_its_callback_runs_is_dropped_afterwards() {
        reset();
        registry(|r| r.new_root = Some(new_root));
        create_context(1, 0);
        create_context(2, 1);
        assert!(done(2));
        assert_eq!(events(), ["done 2"]);
        assert_eq!(registry(|r| r.http.contains_key(&2)), Some(false));
        assert_eq!(registry(|r| r.deleted_while_running.len()), Some(0));
        // A later context may reuse the id.
        create_context(2, 1);
        assert_eq!(registry(|r| r.http.contains_key(&2)), Some(true));
    }
}
