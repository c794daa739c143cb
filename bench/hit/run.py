#!/usr/bin/env python3
"""What a cache hit costs inside V8, and where it goes (`make bench-hit`).

    python3 bench/hit/run.py [--runs N] [--requests N] [--top K] MODULE.wasm [OTHER.wasm ...]

`host.mjs` is a minimal proxy-wasm host in Node: it configures the filter with bench/run.py's
configuration (one provider, local JWKS, native default token locations) and sends requests with
eight headers and one RS256 token, so every request after the first is a cache hit. Envoy's own
work is absent, so this prices the module alone: its callbacks, allocations and host calls as
seen from the wasm side. V8 runs as in Envoy (`--no-liftoff --no-wasm-lazy-compilation`).

Prints the CPU µs per request of each module (median and range over `--runs` fresh `node`
processes, modules interleaved), then a V8 CPU profile of the first module's hit path: self time
by group (allocator, header map, token cache, context registry, other wasm, the JS host) and the
top K functions. Functions are named when the module has a name section (`make bench-hit` builds
one as `make bench-compile` does). A bench tool: nothing asserts on time.
"""

import argparse
import collections
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "compile-profile"))
import run as B  # noqa: E402  (bench/run.py: the configuration and the token pools)
import profile as names  # noqa: E402  (bench/compile-profile/profile.py: demangling)

NODE = ["node", "--no-liftoff", "--no-wasm-lazy-compilation", "--experimental-wasm-relaxed-simd"]
GROUPS = [
    ("allocator", r"dlmalloc|dlfree|dlrealloc|^malloc$|^free$|__rust_alloc|__rust_dealloc|__rdl_|__rust_no_alloc|finish_grow|__rust_realloc"),
    ("header map", r"proxy_wasm_abi3map|map_pairs|request_headers|host4text|from_utf8"),
    ("token cache", r"token_cache"),
    ("context registry", r"hashbrown|proxy_wasm_abi8dispatch"),
]
WASM = re.compile(r"^(_ZN|_RN|dl|malloc$|free$|mem(cmp|cpy|move|set)$|proxy_on|wasm-to-js|wasm-function|__)")


def run_host(module, config, token, requests, profile_to=None):
    env = dict(os.environ, HIT_PROFILE=profile_to) if profile_to else None
    out = subprocess.run(NODE + [os.path.join(HERE, "host.mjs"), module, config, token, str(requests)],
                         capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"host.mjs failed on {module}:\n{out.stderr}")
    return float(out.stdout.split()[0])


def profile(module, config, token, requests, top):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "hit.cpuprofile")
        run_host(module, config, token, requests, path)
        with open(path) as f:
            prof = json.load(f)
    nodes = {n["id"]: n for n in prof["nodes"]}
    self_time = collections.Counter()
    for sample in prof["samples"]:
        frame = nodes[sample]["callFrame"]
        self_time[frame["functionName"] or frame["url"]] += 1
    total = sum(self_time.values()) or 1
    groups = collections.Counter()
    for name, count in self_time.items():
        if not WASM.match(name):
            groups["JS host and harness"] += count
            continue
        groups[next((g for g, pat in GROUPS if re.search(pat, name)), "other wasm")] += count
    wasm_total = sum(c for g, c in groups.items() if g != "JS host and harness") or 1
    print(f"\nself time of {os.path.basename(module)}'s hit path (V8 CPU profile, {total} samples)")
    for group, count in groups.most_common():
        share = "" if group == "JS host and harness" else f"  {100 * count / wasm_total:5.1f} % of wasm"
        print(f"  {group:22s} {100 * count / total:5.1f} %{share}")
    print(f"\ntop {top} functions by self time")
    for name, count in self_time.most_common(top):
        shown = names.demangle(name) if WASM.match(name) else name
        print(f"  {100 * count / total:5.1f} %  {shown[:140]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("modules", nargs="+")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        config = os.path.join(d, "config.json")
        with open(config, "w") as f:
            json.dump(B.authn_config(native_cache=False), f)
        token = B.pool_file("RS256", "good", 1)
        times = {m: [] for m in args.modules}
        for _ in range(args.runs):
            for m in args.modules:
                times[m].append(run_host(m, config, token, args.requests))
        print(f"CPU µs per request, a cache hit (RS256, 8 headers), {args.runs} runs of {args.requests}")
        for m, xs in times.items():
            print(f"  {statistics.median(xs):7.3f}  ({min(xs):.3f}–{max(xs):.3f})  {m}")
        profile(args.modules[0], config, token, args.requests, args.top)


if __name__ == "__main__":
    main()
