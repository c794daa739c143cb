#!/usr/bin/env python3
"""Each build of `make dist` validated and compiled by wasmtime with exactly its hosts' features.

    .venv-wasmtime/bin/python tools/validate_builds.py DIST_DIR

Run by `make test` (target test-builds). For every build in tools/wasm_hosts.py's BUILDS:
  - it validates and compiles (Cranelift) with the features of the hosts it is for: a build
    holding an opcode its hosts lack is refused, and so is this check;
  - it is refused one level down (the default build without relaxed SIMD, the simd128 build
    without SIMD): it does use what it is named after, and the check above can fail at all;
  - it exports exactly what the default build exports (tests/envoy/exports.rs checks that one
    against src/filter/exports.txt);
  - dist/SHA256SUMS lists it with its digest.
Ends with 'N passed, N failed' and exits non-zero on any failure.
"""

import hashlib
import sys
import time
from pathlib import Path

import wasm_hosts
import wasmtime


def refusal(level, wasm):
    """Why a host at `level` refuses `wasm`, or None if it takes it."""
    try:
        wasmtime.Module.validate(wasm_hosts.engine(level), wasm)
    except wasmtime.WasmtimeError as err:
        return str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
    return None


def sums(dist):
    """dist/SHA256SUMS as {file name: hex digest}."""
    listed = {}
    for line in (dist / "SHA256SUMS").read_text().splitlines():
        digest, _, name = line.partition("  ")
        listed[name.strip()] = digest.strip()
    return listed


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    dist = Path(sys.argv[1])
    passed, failed = 0, 0

    def outcome(ok, what):
        nonlocal passed, failed
        print(f"{'ok  ' if ok else 'FAIL'} {what}")
        if ok:
            passed += 1
        else:
            failed += 1

    try:
        listed = sums(dist)
    except OSError as err:
        listed = {}
        outcome(False, f"{dist}/SHA256SUMS: {err} (run `make dist`)")

    exports = {}
    for name, level in wasm_hosts.BUILDS.items():
        path = dist / name
        try:
            wasm = path.read_bytes()
        except OSError as err:
            outcome(False, f"{path}: {err} (run `make dist`)")
            continue
        why = refusal(level, wasm)
        outcome(why is None, f"{name} validates for a {level} host" + (f": {why}" if why else ""))
        if why is None:
            start = time.monotonic()
            try:
                module = wasmtime.Module(wasm_hosts.engine(level), wasm)
                outcome(True, f"{name} compiles for a {level} host ({time.monotonic() - start:.1f} s)")
                exports[name] = sorted(e.name for e in module.exports)
            except wasmtime.WasmtimeError as err:
                outcome(False, f"{name} compiles for a {level} host: {err}")
        below = wasm_hosts.LEVELS.index(level) - 1
        if below >= 0:
            lower = wasm_hosts.LEVELS[below]
            why = refusal(lower, wasm)
            outcome(
                why is not None,
                f"{name} is refused by a {lower} host"
                + (f" ({why})" if why else ": it does not use what it is built for"),
            )
        digest = hashlib.sha256(wasm).hexdigest()
        outcome(
            listed.get(name) == digest,
            f"{name} is in SHA256SUMS with its digest {digest[:16]}…"
            + ("" if listed.get(name) == digest else f" (listed: {listed.get(name)})"),
        )

    default = exports.get("jwt_authn.wasm")
    for name, names in exports.items():
        if name != "jwt_authn.wasm":
            same = names == default
            outcome(
                same,
                f"{name} exports what jwt_authn.wasm exports ({len(names)} exports)"
                + ("" if same else f": {names} against {default}"),
            )

    print(f"builds: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
