//! The proxy-wasm adapter: the only module that talks to the host. It reads what the host
//! offers (configuration, headers, clock, shared data, callout replies), hands it to the pure
//! core, and carries out the answer. It decides nothing itself.

mod host;
mod http;
mod metrics;
mod replay;
mod root;
mod worker;

use proxy_wasm_abi::RootContext;

proxy_wasm_abi::main!(|_| -> Box<dyn RootContext> { Box::new(root::Root::new()) });
