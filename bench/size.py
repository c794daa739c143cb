#!/usr/bin/env python3
"""The size of every build of `make dist` against issue #22's target (dist/jwt_authn.wasm ≤ 600 KB,
KB = 1000 bytes), plus the no-op floor filters for scale. Run by `make bench-size` after `make dist`.
Prints a table and appends one JSON line per run to bench/results/size.jsonl."""

import datetime
import gzip
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = 600_000
BUILDS = ["dist/jwt_authn.wasm", "dist/jwt_authn.simd128.wasm", "dist/jwt_authn.portable.wasm",
          "bench/noop/target/wasm32-wasip1/release/bench_noop_lean.wasm"]


def main():
    rows, missing = [], []
    for rel in BUILDS:
        path = os.path.join(ROOT, rel)
        if not os.path.exists(path):
            missing.append(rel)
            continue
        with open(path, "rb") as f:
            data = f.read()
        rows.append({"file": rel, "bytes": len(data), "gzip": len(gzip.compress(data, 9))})
    if not rows or "dist/jwt_authn.wasm" in missing:
        print("bench-size: dist/jwt_authn.wasm missing (run `make dist`)", file=sys.stderr)
        return 1
    git = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True, text=True).stdout.strip()
    print(f"sizes at {git} (target: dist/jwt_authn.wasm ≤ {TARGET:,} bytes)")
    print()
    print("| file | bytes | gzip -9 | ÷ target |")
    print("|---|---:|---:|---:|")
    for r in rows:
        print(f"| `{r['file']}` | {r['bytes']:,} | {r['gzip']:,} | {r['bytes'] / TARGET:.2f} |")
    if missing:
        print(f"\nnot built: {', '.join(missing)}")
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "size.jsonl"), "a") as f:
        f.write(json.dumps({"time": datetime.datetime.now(datetime.timezone.utc).isoformat(), "git": git,
                            "sizes": rows}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
