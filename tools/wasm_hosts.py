"""The wasm features of the hosts each build of `make dist` is for, as wasmtime configurations.

Shared by tools/validate_builds.py (does each build load where it should?) and tools/wasm_run.py
(the crypto tests run as wasm, `make test-wasm`). docs/builds.md says which host is which.

Every host here has WebAssembly 2.0 without SIMD: bulk memory, reference types, multi-value,
sign extension, non-trapping float-to-int conversions, mutable globals. Rust's wasm32-wasip1
standard library is built with bulk memory and reference types, so no stable-Rust module avoids
those two; the portable build needs nothing more. Everything after 2.0 (threads, tail calls,
GC, exceptions, memory64, ...) is switched off, so a build that came to need one fails here.

The SIMD levels, from the least a host may have:
  none     no SIMD at all: WAMR, wasm interpreters        dist/jwt_authn.portable.wasm
  simd128  SIMD128, no relaxed SIMD: V8 before 11.4,      dist/jwt_authn.simd128.wasm
           wasmtime before 15 or with it off, WasmEdge
  relaxed  SIMD128 and relaxed SIMD: V8 11.4 and later    dist/jwt_authn.wasm
"""

import sys

try:
    import wasmtime
except ImportError:
    sys.exit(
        "the wasmtime Python package is missing: run `make setup` "
        "(it installs wasmtime from PyPI into .venv-wasmtime/) and use that virtualenv's python"
    )

LEVELS = ("none", "simd128", "relaxed")

# Each build of `make dist` and the SIMD level of the hosts it is for.
BUILDS = {
    "jwt_authn.portable.wasm": "none",
    "jwt_authn.simd128.wasm": "simd128",
    "jwt_authn.wasm": "relaxed",
}


def config(level):
    """A wasmtime configuration with exactly the features of a host at `level`."""
    if level not in LEVELS:
        raise ValueError(f"unknown SIMD level {level!r}: one of {', '.join(LEVELS)}")
    cfg = wasmtime.Config()
    # WebAssembly 2.0, nothing later.
    cfg.wasm_bulk_memory = True
    cfg.wasm_reference_types = True
    cfg.wasm_multi_value = True
    cfg.wasm_threads = False
    cfg.wasm_tail_call = False
    cfg.wasm_gc = False
    cfg.wasm_function_references = False
    cfg.wasm_exceptions = False
    cfg.wasm_memory64 = False
    cfg.wasm_multi_memory = False
    cfg.wasm_wide_arithmetic = False
    cfg.wasm_custom_page_sizes = False
    cfg.wasm_stack_switching = False
    cfg.wasm_component_model = False
    cfg.wasm_simd = level != "none"
    cfg.wasm_relaxed_simd = level == "relaxed"
    # Relaxed SIMD as V8 runs it: `f64x2.relaxed_madd` fused where the CPU has FMA, so the tests
    # reach the 50-bit engine exactly where Envoy's V8 would.
    cfg.wasm_relaxed_simd_deterministic = False
    return cfg


def engine(level):
    return wasmtime.Engine(config(level))
