//! The built module exports only the callbacks listed in `src/filter/exports.txt`
//! (`tools/keep_exports.py` drops the others at `make build`), and every callback the adapter
//! implements is on that list: a callback the module does not export is never called by the
//! host, so an implemented but unlisted one would silently do nothing.

use std::collections::BTreeSet;
use std::path::Path;

use crate::support::CRATE_ROOT;

fn listed() -> BTreeSet<String> {
    let text =
        std::fs::read_to_string(Path::new(CRATE_ROOT).join("src/filter/exports.txt")).unwrap();
    text.lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

/// The context callbacks, as the proxy-wasm SDK's traits name them (`abi/`'s `RootContext` and
/// `HttpContext` keep those names), and the export each one is reached through.
const CALLBACKS: &[(&str, &str)] = &[
    ("on_vm_start", "proxy_on_vm_start"),
    ("on_configure", "proxy_on_configure"),
    ("on_tick", "proxy_on_tick"),
    ("on_queue_ready", "proxy_on_queue_ready"),
    ("on_log", "proxy_on_log"),
    ("on_done", "proxy_on_done"),
    ("create_http_context", "proxy_on_context_create"),
    ("create_stream_context", "proxy_on_context_create"),
    ("on_http_call_response", "proxy_on_http_call_response"),
    ("on_grpc_call_response", "proxy_on_grpc_receive"),
    (
        "on_grpc_stream_initial_metadata",
        "proxy_on_grpc_receive_initial_metadata",
    ),
    ("on_grpc_stream_message", "proxy_on_grpc_receive"),
    (
        "on_grpc_stream_trailing_metadata",
        "proxy_on_grpc_receive_trailing_metadata",
    ),
    ("on_grpc_stream_close", "proxy_on_grpc_close"),
    ("on_foreign_function", "proxy_on_foreign_function"),
    ("on_http_request_headers", "proxy_on_request_headers"),
    ("on_http_request_body", "proxy_on_request_body"),
    ("on_http_request_trailers", "proxy_on_request_trailers"),
    ("on_http_response_headers", "proxy_on_response_headers"),
    ("on_http_response_body", "proxy_on_response_body"),
    ("on_http_response_trailers", "proxy_on_response_trailers"),
    ("on_new_connection", "proxy_on_new_connection"),
    ("on_downstream_data", "proxy_on_downstream_data"),
    (
        "on_downstream_close",
        "proxy_on_downstream_connection_close",
    ),
    ("on_upstream_data", "proxy_on_upstream_data"),
    ("on_upstream_close", "proxy_on_upstream_connection_close"),
];

#[test]
fn every_implemented_callback_is_listed() {
    let listed = listed();
    let mut implemented = Vec::new();
    for entry in std::fs::read_dir(Path::new(CRATE_ROOT).join("src/filter")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let source = std::fs::read_to_string(&path).unwrap();
            for (method, export) in CALLBACKS {
                if source.contains(&format!("fn {method}(")) {
                    implemented.push((path.display().to_string(), *method, *export));
                }
            }
        }
    }
    // The adapter answers at least these; if the scan found none, it is looking in the wrong place.
    for method in [
        "on_configure",
        "on_http_request_headers",
        "on_http_call_response",
        "create_http_context",
    ] {
        assert!(
            implemented.iter().any(|(_, m, _)| *m == method),
            "{method} not found in src/filter/"
        );
    }
    for (file, method, export) in implemented {
        assert!(
            listed.contains(export),
            "{file} implements {method}, which the host reaches through {export}: add it to src/filter/exports.txt"
        );
    }
}

/// The names of the function exports of a wasm module.
fn function_exports(module: &[u8]) -> BTreeSet<String> {
    fn uleb(data: &[u8], pos: &mut usize) -> usize {
        let (mut value, mut shift) = (0usize, 0);
        loop {
            let byte = data[*pos];
            *pos += 1;
            value |= usize::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return value;
            }
            shift += 7;
        }
    }
    assert_eq!(&module[..8], b"\0asm\x01\0\0\0", "not a wasm module");
    let mut pos = 8;
    let mut names = BTreeSet::new();
    while pos < module.len() {
        let id = module[pos];
        pos += 1;
        let size = uleb(module, &mut pos);
        let end = pos + size;
        if id == 7 {
            let mut p = pos;
            for _ in 0..uleb(module, &mut p) {
                let len = uleb(module, &mut p);
                let name = String::from_utf8(module[p..p + len].to_vec()).unwrap();
                p += len;
                let kind = module[p];
                p += 1;
                uleb(module, &mut p);
                if kind == 0 {
                    names.insert(name);
                }
            }
            assert_eq!(p, end, "export section length");
        }
        pos = end;
    }
    names
}

#[test]
fn the_built_module_exports_exactly_the_listed_callbacks() {
    let path = crate::support::wasm_path().unwrap_or_else(|e| panic!("{e}"));
    let module = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        function_exports(&module),
        listed(),
        "{} is not trimmed to src/filter/exports.txt (build it with `make build`)",
        path.display()
    );
}
