#!/usr/bin/env python3
"""What V8's TurboFan spends compiling a wasm module at load, by crate and by function.

    python3 bench/compile-profile/profile.py [--runs N] [--top K] [--vs OTHER.wasm] MODULE.wasm

Envoy's V8 runs with Liftoff off, so every function of the module is compiled by TurboFan when the
module loads (once per process). This compiles MODULE in Node's V8 the same way
(`--no-liftoff --no-wasm-lazy-compilation`, on one thread so the time is the work) and prints:

- the compile's CPU time, median and range over N runs (each in a fresh `node`), of MODULE with
  its custom sections dropped (what `make build` ships has none), and of OTHER.wasm in the same
  interleaved runs (`--vs`, e.g. the no-op filter);
- the section sizes (code, data);
- per crate: functions, body bytes and TurboFan ms (V8's `--trace-wasm-compilation-times`,
  median per function over the traced runs; V8 prints whole milliseconds, so functions under
  1 ms count 0 and the per-function sum falls short of the wall time);
- the top K functions by compile ms and by body bytes.

Crates and functions are named only when MODULE has a name section: build it with
`CARGO_PROFILE_RELEASE_STRIP=false` (`make bench-compile` does). Needs node on PATH. A bench tool:
nothing asserts on time.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_FLAGS = ["--no-liftoff", "--single-threaded", "--no-wasm-lazy-compilation",
              "--experimental-wasm-relaxed-simd"]
TRACE_LINE = re.compile(r"Compiled function \S+#(\d+) using TurboFan, took (\d+) ms .*bodysize (\d+)")


def uleb(data, pos):
    value, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def sections(data):
    """(id, name or None, start, end, payload start) of each section."""
    if data[:8] != b"\0asm\x01\0\0\0":
        sys.exit("not a wasm module")
    pos, out = 8, []
    while pos < len(data):
        sid = data[pos]
        size, body = uleb(data, pos + 1)
        name = None
        if sid == 0:
            n, p = uleb(data, body)
            name = data[p:p + n].decode("utf-8", "replace")
        out.append((sid, name, pos, body + size, body))
        pos = body + size
    return out


def imported_functions(data, secs):
    for sid, _, _, end, body in secs:
        if sid != 2:
            continue
        count, pos = uleb(data, body)
        funcs = 0
        for _ in range(count):
            for _ in range(2):  # module, field
                n, pos = uleb(data, pos)
                pos += n
            kind = data[pos]
            pos += 1
            if kind == 0:
                _, pos = uleb(data, pos)
                funcs += 1
            elif kind == 1:  # table: reftype, limits
                pos += 1
                flags, pos = uleb(data, pos)
                _, pos = uleb(data, pos)
                if flags & 1:
                    _, pos = uleb(data, pos)
            elif kind == 2:  # memory: limits
                flags, pos = uleb(data, pos)
                _, pos = uleb(data, pos)
                if flags & 1:
                    _, pos = uleb(data, pos)
            elif kind == 3:  # global
                pos += 2
            else:
                sys.exit(f"unknown import kind {kind}")
        return funcs
    return 0


def body_sizes(data, secs, first):
    """{function index: body bytes} from the code section."""
    for sid, _, _, end, body in secs:
        if sid != 10:
            continue
        count, pos = uleb(data, body)
        sizes = {}
        for i in range(count):
            size, p = uleb(data, pos)
            sizes[first + i] = size
            pos = p + size
        return sizes
    return {}


def function_names(data, secs):
    for sid, name, _, end, body in secs:
        if sid != 0 or name != "name":
            continue
        n, pos = uleb(data, body)
        pos += n
        while pos < end:
            sub = data[pos]
            size, p = uleb(data, pos + 1)
            if sub == 1:
                count, q = uleb(data, p)
                names = {}
                for _ in range(count):
                    idx, q = uleb(data, q)
                    ln, q = uleb(data, q)
                    names[idx] = data[q:q + ln].decode("utf-8", "replace")
                    q += ln
                return names
            pos = p + size
    return {}


ESCAPES = {"SP": "@", "BP": "*", "RF": "&", "LT": "<", "GT": ">", "LP": "(", "RP": ")", "C": ","}


def demangle(name):
    """Rust's legacy mangling (`_ZN...17h<hash>E`) to a path, without the hash; v0 names
    (`_R...`) to their identifiers joined by `::` (enough to tell the crate and function)."""
    if name.startswith("_ZN") and name.endswith("E"):
        pos, parts = 3, []
        while pos < len(name) - 1:
            m = re.match(r"\d+", name[pos:])
            if not m:
                return name
            n = int(m.group(0))
            pos += len(m.group(0))
            parts.append(name[pos:pos + n])
            pos += n
        if parts and re.fullmatch(r"h[0-9a-f]{16}", parts[-1]):
            parts.pop()
        out = []
        for part in parts:
            if part.startswith("_$"):
                part = part[1:]
            part = re.sub(r"\$([A-Z]+)\$", lambda m: ESCAPES.get(m.group(1), m.group(0)), part)
            part = re.sub(r"\$u([0-9a-f]+)\$", lambda m: chr(int(m.group(1), 16)), part)
            out.append(part.replace("..", "::"))
        return "::".join(out)
    if name.startswith("_R"):
        # Identifiers are `<len>[_]<ident>`; skip the tags between them, disambiguators
        # (`s<base62>_`) and back-references (`B<base62>_`) whole.
        words, pos = [], 2
        while pos < len(name):
            m = re.match(r"(\d+)_?", name[pos:])
            if m:
                n = int(m.group(1))
                start = pos + m.end()
                ident = name[start:start + n]
                if ident and ident not in words:
                    words.append(ident)
                pos = start + n
                continue
            m = re.match(r"[sB][0-9A-Za-z]*_", name[pos:])
            pos += m.end() if m else 1
        return "::".join(words) if words else name
    return name


def short(name):
    return demangle(name)


def crate_of(name):
    """The crate a function belongs to: the type's for `<T as Trait>::f`, else the path's first
    segment; the trait's when T is a primitive or slice."""
    s = demangle(name)
    m = re.match(r"^<(.*?) as ([A-Za-z_][\w]*)::", s)
    if m:
        self_ty = m.group(1).lstrip("&*[(").replace("mut ", "").replace("const ", "").replace("dyn ", "")
        seg = re.match(r"([A-Za-z_]\w*)::", self_ty)
        return seg.group(1) if seg else m.group(2)
    s = s.lstrip("<&*[(")
    seg = re.match(r"([A-Za-z_]\w*)::", s)
    if seg:
        return seg.group(1)
    return "(unnamed)"


def leb(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def stub_bodies(data, secs, first, stubbed):
    """The module without custom sections, and with the bodies of the functions in `stubbed`
    replaced by `unreachable` (valid for any signature): compiling it prices what they cost."""
    out = bytearray(data[:8])
    for sid, _, s, e, body in secs:
        if sid == 0:
            continue
        if sid != 10:
            out += data[s:e]
            continue
        count, pos = uleb(data, body)
        payload = bytearray(leb(count))
        for i in range(count):
            size, p = uleb(data, pos)
            if first + i in stubbed:
                payload += leb(3) + b"\x00\x00\x0b"
            else:
                payload += data[pos:p + size]
            pos = p + size
        out += bytes([10]) + leb(len(payload)) + payload
    return bytes(out)


def strip_custom(data, secs):
    return data[:8] + b"".join(data[s:e] for sid, _, s, e, _ in secs if sid != 0)


def compile_ms(path, trace=False):
    flags = NODE_FLAGS + (["--trace-wasm-compilation-times"] if trace else [])
    out = subprocess.run(["node", *flags, os.path.join(HERE, "compile.mjs"), path],
                         check=True, capture_output=True, text=True).stdout
    cpu = float(re.search(r"^compile_cpu_ms (\S+)", out, re.M).group(1))
    per = {}
    for m in TRACE_LINE.finditer(out):
        per[int(m.group(1))] = int(m.group(2))
    return cpu, per


def summary(xs):
    return f"{statistics.median(xs):7.1f} ms (min {min(xs):.1f}, max {max(xs):.1f}, n={len(xs)})"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("module")
    ap.add_argument("--runs", type=int, default=7, help="timed compiles of each module (median)")
    ap.add_argument("--trace-runs", type=int, default=3, help="traced compiles (per-function ms)")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--vs", help="another module timed in the same interleaved runs")
    ap.add_argument("--ablate", type=int, default=0, metavar="K",
                    help="also price the K biggest crates exactly: compile the module with each "
                         "crate's function bodies replaced by `unreachable` (median of --runs) "
                         "and print the CPU time saved")
    ap.add_argument("--within", metavar="CRATE",
                    help="with --ablate: price the modules of CRATE (its first two path segments, "
                         "e.g. crypto::ec_verify) instead of the crates")
    args = ap.parse_args()

    data = open(args.module, "rb").read()
    secs = sections(data)
    first = imported_functions(data, secs)
    sizes = body_sizes(data, secs, first)
    names = function_names(data, secs)
    sec_bytes = defaultdict(int)
    for sid, name, s, e, _ in secs:
        sec_bytes[{10: "code", 11: "data"}.get(sid, "custom" if sid == 0 else "other")] += e - s

    with tempfile.TemporaryDirectory() as tmp:
        stripped = os.path.join(tmp, "module.wasm")
        with open(stripped, "wb") as f:
            f.write(strip_custom(data, secs))
        shipped = os.path.getsize(stripped)
        times, other = [], []
        for _ in range(args.runs):
            times.append(compile_ms(stripped)[0])
            if args.vs:
                other.append(compile_ms(args.vs)[0])
        traced = defaultdict(list)
        for _ in range(args.trace_runs):
            for idx, ms in compile_ms(stripped, trace=True)[1].items():
                traced[idx].append(ms)
    ms = {idx: statistics.median(v) for idx, v in traced.items()}

    print(f"module: {args.module}")
    print(f"  {shipped:,} bytes without custom sections; code {sec_bytes['code']:,}, data {sec_bytes['data']:,}, "
          f"{len(sizes)} functions")
    print(f"  compile CPU time (TurboFan, all functions, one thread): {summary(times)}")
    if args.vs:
        print(f"  {args.vs}: {summary(other)}")
        print(f"  ratio of medians: {statistics.median(times) / statistics.median(other):.2f}")
    if not names:
        print("  (no name section: build with CARGO_PROFILE_RELEASE_STRIP=false for crates and names)")

    crates = defaultdict(lambda: [0, 0, 0.0])
    for idx, size in sizes.items():
        c = crates[crate_of(names.get(idx, ""))]
        c[0] += 1
        c[1] += size
        c[2] += ms.get(idx, 0)
    if args.ablate:
        # Each ablated compile is paired with a compile of the whole module right before it, so a
        # drift of the machine's speed cancels in the difference.
        print("\nper crate, by ablation: CPU time saved when the crate's function bodies are "
              f"replaced by `unreachable` (median of {args.runs} paired differences)")
        print(f"  {'crate':<24} {'bytes':>9} {'saves ms':>9} {'share':>6}")
        base = statistics.median(times)
        groups = crates
        group_of = lambda idx: crate_of(names.get(idx, ""))  # noqa: E731
        if args.within:
            def group_of(idx):
                if crate_of(names.get(idx, "")) != args.within:
                    return None
                path = demangle(names.get(idx, ""))
                m = re.search(re.escape(args.within) + r"::(\w+)(?:::([a-z_]\w*))?", path)
                return "::".join(g for g in m.groups() if g) if m else "(other)"
            groups = defaultdict(lambda: [0, 0, 0.0])
            for idx, size in sizes.items():
                g = group_of(idx)
                if g is not None:
                    groups[g][0] += 1
                    groups[g][1] += size
        with tempfile.TemporaryDirectory() as tmp:
            whole = os.path.join(tmp, "whole.wasm")
            ablated = os.path.join(tmp, "ablated.wasm")
            with open(whole, "wb") as f:
                f.write(strip_custom(data, secs))
            for crate, (n, b, t) in sorted(groups.items(), key=lambda kv: -kv[1][1])[:args.ablate]:
                stubbed = {i for i in sizes if group_of(i) == crate}
                with open(ablated, "wb") as f:
                    f.write(stub_bodies(data, secs, first, stubbed))
                saved = statistics.median(compile_ms(whole)[0] - compile_ms(ablated)[0]
                                          for _ in range(args.runs))
                print(f"  {crate:<24} {b:>9,} {saved:>9.1f} {saved / base:>6.0%}")
    print(f"\nper crate (traced ms: sum of per-function medians, {sum(ms.values()):.0f} ms in all)")
    print(f"  {'crate':<24} {'funcs':>6} {'bytes':>9} {'ms':>6}")
    for crate, (n, b, t) in sorted(crates.items(), key=lambda kv: -kv[1][1]):
        print(f"  {crate:<24} {n:>6} {b:>9,} {t:>6.0f}")

    def row(idx):
        return f"  {ms.get(idx, 0):>5.0f} {sizes[idx]:>8,}  #{idx} {short(names.get(idx, '?'))[:150]}"
    print(f"\ntop {args.top} by compile ms   (ms, body bytes, function)")
    for idx in sorted(sizes, key=lambda i: (-ms.get(i, 0), -sizes[i]))[:args.top]:
        print(row(idx))
    print(f"\ntop {args.top} by body bytes")
    for idx in sorted(sizes, key=lambda i: -sizes[i])[:args.top]:
        print(row(idx))


if __name__ == "__main__":
    main()
