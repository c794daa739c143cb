#!/usr/bin/env python3
"""Runs a wasm32-wasip1 program (a cargo test binary) in wasmtime with one host's features.

    .venv-wasmtime/bin/python tools/wasm_run.py --simd LEVEL PROGRAM.wasm [ARGS...]

Cargo's runner for `make test-wasm` (CARGO_TARGET_WASM32_WASIP1_RUNNER): LEVEL is the SIMD the
build's hosts have (none, simd128 or relaxed; tools/wasm_hosts.py), so a test binary that holds
an opcode its hosts lack is refused before it runs, and relaxed SIMD's multiply-add is fused as
in Envoy's V8. The program gets its arguments, the environment, stdout and stderr, and the
current directory (cargo's: the package root) both as `.` and under its own absolute path, so
relative paths and paths built from `env!("CARGO_MANIFEST_DIR")` both resolve; nothing outside
it. Imports WASI does not provide (the proxy-wasm host calls the library links) trap if called.
The program's exit code is ours; a trap (a panic: wasm32-wasip1 aborts) exits 101, as a failed
native test does.
"""

import argparse
import os
import sys

import wasm_hosts
import wasmtime


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simd", required=True, choices=wasm_hosts.LEVELS)
    parser.add_argument("program")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    opts = parser.parse_args()

    engine = wasm_hosts.engine(opts.simd)
    try:
        module = wasmtime.Module.from_file(engine, opts.program)
    except wasmtime.WasmtimeError as err:
        sys.exit(f"wasm_run: a {opts.simd} host refuses {opts.program}: {err}")

    wasi = wasmtime.WasiConfig()
    wasi.argv = [os.path.basename(opts.program), *opts.args]
    wasi.env = list(os.environ.items())
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    cwd = os.getcwd()
    wasi.preopen_dir(cwd, ".")
    wasi.preopen_dir(cwd, cwd)

    store = wasmtime.Store(engine)
    store.set_wasi(wasi)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    linker.define_unknown_imports_as_traps(module)
    try:
        instance = linker.instantiate(store, module)
        start = instance.exports(store)["_start"]
        start(store)
    except wasmtime.ExitTrap as exit_trap:
        sys.exit(exit_trap.code)
    except wasmtime.Trap as trap:
        sys.stdout.flush()
        print(f"wasm_run: {opts.program} trapped: {trap}", file=sys.stderr)
        sys.exit(101)
    sys.exit(0)


if __name__ == "__main__":
    main()
