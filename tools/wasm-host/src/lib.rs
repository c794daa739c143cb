//! A small proxy-wasm host on wasmtime, for tests: it loads a build of the filter with the
//! wasm features its target hosts have ([`Features`]), starts one plugin (root context 1) with
//! a configuration, and drives requests through it the way a proxy does: context creation,
//! request headers, pauses resumed by ticks and callout answers, local replies.
//!
//! It implements the ABI 0.2.1 calls the filter makes ([`imports`]) and the few WASI preview1
//! calls its standard library imports ([`wasi`]), and it can behave like another host
//! ([`Mode`]): Envoy's answers, Kong's (`UNIMPLEMENTED` or a trap for each call Kong's
//! ngx_wasm_module leaves out, a trap on a second tick period or a second local reply), a host
//! that refuses every optional call, or one that refuses header edits. A trap ends the host:
//! every later call answers with the trap, as a real proxy loses the VM.

mod imports;
mod state;
mod wasi;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use wasmtime::{Config, Engine, Instance, Linker, Module, Store, TypedFunc};

pub use state::{Callout, Mode, Reply, Upstream};
use state::{Request, State};

/// The root context's id (the host makes one plugin).
const ROOT: u32 = 1;

/// How many tick-and-callout rounds a paused request gets before it is declared stuck.
const MAX_ROUNDS: usize = 200;

/// The wasm features the engine enables: those of the hosts a build is made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Features {
    /// MVP and the usual post-MVP features, no SIMD (WAMR, MVP-only hosts).
    NoSimd,
    /// SIMD128 without relaxed SIMD (V8 before 11.4, wasmtime/WasmEdge with their defaults).
    Simd128,
    /// SIMD128 and relaxed SIMD (V8 11.4+).
    RelaxedSimd,
}

/// What became of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Sent on upstream, with its request headers as the filter left them.
    Forwarded(Vec<(String, String)>),
    /// Answered by the filter.
    Reply(Reply),
    /// Still paused after every tick and callout the host could give it.
    Stuck,
}

/// The exports the host calls.
struct Exports {
    context_create: TypedFunc<(u32, u32), ()>,
    vm_start: TypedFunc<(u32, u32), u32>,
    configure: TypedFunc<(u32, u32), u32>,
    tick: TypedFunc<u32, ()>,
    call_response: TypedFunc<(u32, u32, u32, u32, u32), ()>,
    request_headers: TypedFunc<(u32, u32, u32), u32>,
    done: TypedFunc<u32, u32>,
    delete: TypedFunc<u32, ()>,
}

/// One loaded and configured plugin.
pub struct Host {
    store: Store<State>,
    exports: Exports,
    next_context: u32,
    /// The first trap, after which the VM is gone.
    trap: Option<String>,
}

/// A build of the filter, compiled by an engine with the features of its target hosts.
pub struct Build {
    engine: Engine,
    module: Module,
    name: String,
}

impl Build {
    /// Compiles `wasm` with `features`; `Err` when the engine refuses it (an instruction of a
    /// feature it lacks: the target host would refuse it too).
    pub fn load(wasm: &Path, features: Features) -> Result<Build, String> {
        let mut config = Config::new();
        config
            .wasm_simd(features != Features::NoSimd)
            .wasm_relaxed_simd(features == Features::RelaxedSimd);
        let engine = Engine::new(&config).map_err(|e| format!("engine: {e}"))?;
        let module = Module::from_file(&engine, wasm)
            .map_err(|e| format!("{} refused with {features:?}: {e:?}", wasm.display()))?;
        Ok(Build {
            engine,
            module,
            name: wasm.display().to_string(),
        })
    }

    /// Links the host calls as `mode` answers them, runs `_initialize`, creates the root
    /// context and hands it `vm_config` and `plugin_config`. `Err` when a call traps or the
    /// filter refuses its configuration; the message has the filter's log.
    pub fn start(&self, mode: Mode, vm_config: &str, plugin_config: &str) -> Result<Host, String> {
        let mut linker: Linker<State> = Linker::new(&self.engine);
        imports::link(&mut linker).map_err(|e| format!("linking the host calls: {e}"))?;
        wasi::link(&mut linker).map_err(|e| format!("linking WASI: {e}"))?;
        let state = State::new(mode, vm_config, plugin_config, unix_ms());
        let mut store = Store::new(&self.engine, state);
        let instance = linker
            .instantiate(&mut store, &self.module)
            .map_err(|e| format!("instantiating {}: {e:?}", self.name))?;
        let exports = Exports::find(&instance, &mut store)?;
        let initialize = instance
            .get_typed_func::<(), ()>(&mut store, "_initialize")
            .map_err(|e| format!("_initialize: {e}"))?;
        let mut host = Host {
            store,
            exports,
            next_context: ROOT + 1,
            trap: None,
        };
        host.guard(|store, _| initialize.call(store, ()))?;
        let vm_size = len32(vm_config.len());
        let plugin_size = len32(plugin_config.len());
        host.guard(|store, e| e.context_create.call(store, (ROOT, 0)))?;
        host.store.data_mut().effective = ROOT;
        if host.guard(|store, e| e.vm_start.call(store, (ROOT, vm_size)))? == 0 {
            return Err(format!("proxy_on_vm_start refused\n{}", host.log()));
        }
        host.store.data_mut().effective = ROOT;
        if host.guard(|store, e| e.configure.call(store, (ROOT, plugin_size)))? == 0 {
            return Err(format!(
                "proxy_on_configure refused the configuration\n{}",
                host.log()
            ));
        }
        Ok(host)
    }
}

impl Host {
    /// Runs one call into the VM; a trap is kept (the VM is gone) and returned.
    fn guard<R>(
        &mut self,
        call: impl FnOnce(&mut Store<State>, &Exports) -> wasmtime::Result<R>,
    ) -> Result<R, String> {
        if let Some(trap) = &self.trap {
            return Err(format!("the VM trapped earlier: {trap}"));
        }
        match call(&mut self.store, &self.exports) {
            Ok(value) => Ok(value),
            Err(e) => {
                let trap = format!("{e:?}");
                self.trap = Some(trap.clone());
                Err(format!("trap: {trap}\n{}", self.log()))
            }
        }
    }

    /// Sends a request with these headers (`:method`, `:path`, `:authority`, `:scheme` and
    /// the rest) through the filter. A paused request gets ticks (the clock moving by the
    /// tick period) and callout answers until it is answered or resumed.
    pub fn request(&mut self, headers: &[(&str, &str)]) -> Result<Outcome, String> {
        let id = self.next_context;
        self.next_context += 1;
        let request = Request::new(headers);
        let count = len32(request.headers.len());
        self.store.data_mut().requests.insert(id, request);
        self.guard(|store, e| e.context_create.call(store, (id, ROOT)))?;
        self.store.data_mut().effective = id;
        let action = self.guard(|store, e| e.request_headers.call(store, (id, count, 1)))?;
        if action == 0 {
            self.store.data_mut().continue_request(id);
        }
        let mut rounds = 0;
        while self.store.data().pending(id) && rounds < MAX_ROUNDS {
            rounds += 1;
            self.round()?;
        }
        let outcome = self.store.data().outcome(id);
        self.store.data_mut().effective = id;
        self.guard(|store, e| e.done.call(store, id))?;
        self.guard(|store, e| e.delete.call(store, id))?;
        self.store.data_mut().requests.remove(&id);
        Ok(outcome)
    }

    /// One turn of the host's loop: callout answers, then the clock moves by the tick period
    /// and the root's tick runs.
    pub fn round(&mut self) -> Result<(), String> {
        self.deliver_callouts()?;
        let period = self.store.data().tick_period_ms;
        if period > 0 {
            self.store.data_mut().clock_ms += u64::from(period);
            self.store.data_mut().effective = ROOT;
            self.guard(|store, e| e.tick.call(store, ROOT))?;
        }
        Ok(())
    }

    /// Answers every callout the filter made, from the upstreams set with [`Host::upstream`]
    /// (a cluster without one: the call failed, no headers).
    fn deliver_callouts(&mut self) -> Result<(), String> {
        let callouts = std::mem::take(&mut self.store.data_mut().callouts);
        for callout in callouts {
            let answer = self.store.data().upstreams.get(&callout.upstream).cloned();
            let (headers, body) = match &answer {
                Some(up) => (len32(up.headers.len() + 1), len32(up.body.len())),
                None => (0, 0),
            };
            self.store.data_mut().answering = answer;
            self.store.data_mut().effective = ROOT;
            let token = callout.token;
            self.store.data_mut().answered.push(callout);
            let result =
                self.guard(|store, e| e.call_response.call(store, (ROOT, token, headers, body, 0)));
            self.store.data_mut().answering = None;
            result?;
        }
        Ok(())
    }

    /// What cluster `name` answers to a callout from now on.
    pub fn upstream(&mut self, name: &str, upstream: Upstream) {
        self.store
            .data_mut()
            .upstreams
            .insert(name.to_string(), upstream);
    }

    /// The callouts answered so far.
    pub fn answered_callouts(&self) -> &[Callout] {
        &self.store.data().answered
    }

    /// The filter's log, one `level: line` per line (WASI output included).
    pub fn log(&self) -> String {
        self.store.data().log.join("\n")
    }

    /// The host calls the filter made, by ABI name, each once.
    pub fn calls(&self) -> Vec<&'static str> {
        self.store.data().calls.iter().copied().collect()
    }

    /// A metric's value by name, `None` when the filter did not define it.
    pub fn metric(&self, name: &str) -> Option<u64> {
        self.store.data().metric(name)
    }
}

impl Exports {
    fn find(instance: &Instance, store: &mut Store<State>) -> Result<Exports, String> {
        macro_rules! export {
            ($name:literal) => {
                instance
                    .get_typed_func(&mut *store, $name)
                    .map_err(|e| format!("export {}: {e}", $name))?
            };
        }
        Ok(Exports {
            context_create: export!("proxy_on_context_create"),
            vm_start: export!("proxy_on_vm_start"),
            configure: export!("proxy_on_configure"),
            tick: export!("proxy_on_tick"),
            call_response: export!("proxy_on_http_call_response"),
            request_headers: export!("proxy_on_request_headers"),
            done: export!("proxy_on_done"),
            delete: export!("proxy_on_delete"),
        })
    }
}

fn len32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
