#!/usr/bin/env python3
"""Envoy's memory with our filter vs native jwt_authn vs the no-op filters vs none, at 1, 2, 4
and 8 workers (issue #22: ours ≤ native + 30 MiB at every worker count).

Run through `make bench-footprint`. For each round, each `--concurrency` in FOOTPRINT_WORKERS and
each config (order rotated every round), one Envoy is started with bench/run.py's bootstrap
(same filters, JWKS and direct_response upstream), measured idle once ready, then sent a fixed
amount of traffic: FOOTPRINT_REQUESTS requests by wrk (FOOTPRINT_CONNS connections, so every
worker gets some), each with a valid token, RS256, ES256 and HS256 in turn, from bench/run.py's
`unique` pools (distinct up to BENCH_POOL per alg): every verify path runs and every cache fills. One second after the last response it is measured
again and stopped. Measured: VmRSS and VmHWM of the process (/proc), and the admin `/memory`
figures (`allocated`, `heap_size`: Envoy's tcmalloc heap, which holds the V8 isolates' own
allocations but not the wasm linear memories, mapped outside it).

Environment: FOOTPRINT_ROUNDS [2], FOOTPRINT_WORKERS [1,2,4,8], FOOTPRINT_CONFIGS
[noauth,native-nocache,noop,noop-lean,ours], FOOTPRINT_REQUESTS [20000], FOOTPRINT_CONNS [32],
FOOTPRINT_RELEASE_MIB [0: off] (bootstrap memory_allocator_manager releasing that many MiB of
tcmalloc's free memory every 0.1 s: what the allocator holds unused then leaves the RSS),
ENVOY, JWT_AUTHN_WASM (as bench/run.py). Writes bench/results/footprint-workers-<time>.json and
bench/results/footprint-workers-latest.md. Exits non-zero only when a response was not 200.
"""

import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as B  # noqa: E402  (bench/run.py: bootstrap, Proxy, pools, wrk)

ROUNDS = int(os.environ.get("FOOTPRINT_ROUNDS") or 2)
WORKERS = [int(x) for x in B.env_list("FOOTPRINT_WORKERS", ["1", "2", "4", "8"])]
CONFIGS = B.env_list("FOOTPRINT_CONFIGS", ["noauth", "native-nocache", "noop", "noop-lean", "ours"])
REQUESTS = int(os.environ.get("FOOTPRINT_REQUESTS") or 20000)
CONNS = int(os.environ.get("FOOTPRINT_CONNS") or 32)
NATIVE = "native-nocache"
# Opt-in: Envoy's bootstrap `memory_allocator_manager` returning this many MiB of tcmalloc's free
# memory to the system every 0.1 s, to tell memory in use from memory the allocator merely holds.
RELEASE_MIB = int(os.environ.get("FOOTPRINT_RELEASE_MIB") or 0)
MIB = 1024 * 1024


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def mixed_pool(workdir, count):
    """RS256, ES256 and HS256 valid tokens in turn, `count` in all, all distinct."""
    per = max(1, -(-count // 3))
    lines = []
    for alg in ("RS256", "ES256", "HS256"):  # bench/run.py's unique pools (BENCH_POOL tokens each)
        with open(B.pool_file(alg, "good", B.POOL)) as fh:
            pool = [x.strip() for x in fh if x.strip()]
        lines.append((pool * -(-per // len(pool)))[:per])
    path = os.path.join(workdir, "mixed.txt")
    with open(path, "w") as out:
        for trio in zip(*lines):
            for t in trio:
                out.write(t + "\n")
    return path


def measure(p):
    kb = p.status_kb()
    _, body = p.admin_get("/memory")
    mem = json.loads(body)
    return {"rss": kb.get("VmRSS", 0) * 1024, "hwm": kb.get("VmHWM", 0) * 1024,
            "allocated": int(mem.get("allocated", 0)), "heap_size": int(mem.get("heap_size", 0))}


def completed(p):
    """Requests Envoy has completed on the bench listener (admin stats)."""
    try:
        _, body = p.admin_get("/stats?filter=^http\\.bench\\.downstream_rq_completed$")
        return int(body.split(":")[-1].strip() or 0)
    except (OSError, ValueError):
        return 0


def one(config, workers, workdir, pool, n):
    p = B.Proxy(config, workdir, None, concurrency=workers, name=f"{config}-{workers}-{n}")
    if RELEASE_MIB:
        with open(p.path) as f:
            boot = json.load(f)
        boot["memory_allocator_manager"] = {"bytes_to_release": RELEASE_MIB * MIB, "memory_release_interval": "0.1s"}
        with open(p.path, "w") as f:
            json.dump(boot, f, indent=1)
    p.start()
    try:
        if not p.wait_ready(60):
            B.die(f"{config} w{workers}: Envoy did not become ready:\n{p.log_tail()}")
        time.sleep(1)
        idle = measure(p)
        cmd = ["wrk", "-t1", f"-c{CONNS}", "-d120s", "--timeout", "10s", f"http://127.0.0.1:{p.port}/api",
               "-s", B.WRK_LUA, "--", pool, "200", "0", str(REQUESTS)]
        # wrk's main thread sleeps out -d whatever its threads do; wrk.lua stops sending after
        # REQUESTS responses, and SIGINT (which wrk answers with its report) ends the wait.
        w = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        end = time.time() + 120
        while w.poll() is None and time.time() < end and completed(p) < REQUESTS:
            time.sleep(0.05)
        if w.poll() is None:
            w.send_signal(signal.SIGINT)
        out, err = w.communicate(timeout=30)
        res = B.wrk_result(w.returncode, out, err)
        time.sleep(1)
        loaded = measure(p)
    finally:
        p.stop()
    return {"config": config, "workers": workers, "idle": idle, "loaded": loaded,
            "requests": res["requests"], "bad": res["bad"], "last_bad_status": res["last_bad_status"]}


def table(results):
    cell = {}
    for r in results:
        cell.setdefault((r["config"], r["workers"]), []).append(r)

    def m(c, w, phase, key):
        return B.med([r[phase][key] for r in cell.get((c, w), [])])

    lines = [f"Envoy RSS after {REQUESTS} requests (valid RS256/ES256/HS256 tokens in turn, distinct up to BENCH_POOL per alg), MiB, "
             "median over rounds; and over native jwt_authn", "",
             "| workers | " + " | ".join(CONFIGS) + " | ours − native | noop − native | noop-lean − native | "
             "ours − noop-lean | ours − none |",
             "|---:|" + "---:|" * (len(CONFIGS) + 5)]
    for w in WORKERS:
        rss = {c: m(c, w, "loaded", "rss") for c in CONFIGS}
        row = [str(w)] + [B.fmt(rss[c] / MIB if rss[c] is not None else None) for c in CONFIGS]
        for a, b in (("ours", NATIVE), ("noop", NATIVE), ("noop-lean", NATIVE), ("ours", "noop-lean"), ("ours", "noauth")):
            row.append("—" if rss.get(a) is None or rss.get(b) is None else f"{(rss[a] - rss[b]) / MIB:+.1f}")
        lines.append("| " + " | ".join(row) + " |")
    for phase, what in (("idle", "idle (ready + 1 s, before any request)"), ("loaded", "after the traffic")):
        lines += ["", f"RSS {what} · VmHWM · admin /memory allocated · heap_size, MiB (medians)", "",
                  "| workers | " + " | ".join(CONFIGS) + " |", "|---:|" + "---:|" * len(CONFIGS)]
        for w in WORKERS:
            row = [str(w)]
            for c in CONFIGS:
                vals = [m(c, w, phase, k) for k in ("rss", "hwm", "allocated", "heap_size")]
                row.append("—" if None in vals else " · ".join(f"{v / MIB:.1f}" for v in vals))
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main():
    modules = ["OURS_WASM", "NOOP_WASM", "NOOP_LEAN_WASM"] + B.opt_in_modules(CONFIGS)
    for path in [B.ENVOY, B.MINT] + [getattr(B, name) for name in modules]:
        if not os.path.exists(path):
            B.die(f"{path} missing (run `make bench-footprint`)")
    if shutil.which("wrk") is None:
        B.die("wrk not found (`make bench-wrk` installs it)")
    started = datetime.datetime.now(datetime.timezone.utc)
    workdir = tempfile.mkdtemp(prefix="jwt-footprint-")
    B.use_private_copies(workdir, modules)
    pool = mixed_pool(workdir, REQUESTS)
    load0 = open("/proc/loadavg").read().split()[:3]
    log(f"footprint: rounds={ROUNDS} workers={WORKERS} configs={CONFIGS} requests={REQUESTS}; loadavg {load0}")
    results, n = [], 0
    try:
        for rnd in range(ROUNDS):
            for w in WORKERS:
                k = (rnd + w) % len(CONFIGS)
                for c in CONFIGS[k:] + CONFIGS[:k]:
                    n += 1
                    r = one(c, w, workdir, pool, n)
                    r["round"] = rnd + 1
                    results.append(r)
                    flag = f"  !! {r['bad']} not 200 (last {r['last_bad_status']})" if r["bad"] else ""
                    log(f"  r{rnd + 1} w{w} {c:15} RSS idle {r['idle']['rss'] / MIB:6.1f} MiB, after "
                        f"{r['requests']} requests {r['loaded']['rss'] / MIB:6.1f} MiB (heap "
                        f"{r['loaded']['heap_size'] / MIB:.1f}){flag}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    load1 = open("/proc/loadavg").read().split()[:3]
    ver = subprocess.run([B.ENVOY, "--version"], capture_output=True, text=True).stdout.strip().split("version:")[-1].strip()
    header = (f"footprint run {started:%Y-%m-%d %H:%M} UTC, envoy {ver}, {os.cpu_count()} CPUs, {ROUNDS} rounds, "
              f"{REQUESTS} requests over {CONNS} connections per Envoy"
              f"{f', tcmalloc release {RELEASE_MIB} MiB / 0.1 s' if RELEASE_MIB else ''}, loadavg {' '.join(load0)} → {' '.join(load1)}")
    text = table(results)
    print()
    print(header)
    print()
    print(text)
    bad = [r for r in results if r["bad"]]
    if bad:
        print(f"STATUS MISMATCHES in {len(bad)} runs")
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    os.makedirs(B.RESULTS, exist_ok=True)
    with open(os.path.join(B.RESULTS, f"footprint-workers-{stamp}.json"), "w") as f:
        json.dump({"header": header, "results": results}, f, indent=1)
    with open(os.path.join(B.RESULTS, "footprint-workers-latest.md"), "w") as f:
        f.write(header + "\n\n" + text + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
