#!/usr/bin/env python3
"""Paired, concurrent CPU comparison of two Envoy configurations (`make bench-pair`).

`make bench` runs one Envoy at a time, so two configurations are measured seconds apart; on a
shared virtual machine the CPU cost of the same request drifts by 10-30 % between such runs,
more than the few per cent a cache hit is to be judged by. Here both Envoys of a pair run at
once, pinned to the same CPU, each saturated by its own wrk (pinned to the other CPUs): whatever
slows the machine down slows both, and the ratio of their CPU per request cancels it. Each round
gives one ratio; the report is the median and range of the rounds' ratios.

Configurations, scenarios, tokens, Envoy bootstraps and the wrk script are bench/run.py's.

Environment (defaults in brackets):
  BENCH_PAIRS     comma list of A:B pairs; the ratio is B/A   [noop:ours,native-cache:ours,noop:native-cache]
                  a side `config@scenario` runs that scenario whatever BENCH_SCENARIOS says, e.g.
                  `ours@unique:ours-alt@invalid` with JWT_AUTHN_WASM_ALT=dist/jwt_authn.wasm
                  prices a flood of bad signatures against valid tokens, at once
  BENCH_ALGS      comma list                                  [RS256,ES256,HS256]
  BENCH_SCENARIOS comma list (floors only take part in `repeated`)  [repeated]
  BENCH_ROUNDS    rounds per pair, alg and scenario            [8]
  BENCH_DURATION  seconds per round                            [3]
  BENCH_WARMUP    warm-up seconds per pair and alg             [2]
  BENCH_POOL      distinct tokens in the unique/invalid pools  [20000]
  JWT_AUTHN_WASM_ALT  another build of the filter, the config `ours-alt` (A/B of two builds)
  NOOP_WASM_ALT   another build of the no-op filter, the config `noop-alt`
"""

import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as B  # noqa: E402  (bench/run.py: configs, pools, Proxy, wrk)

def side(spec):
    """`config` or `config@scenario` (that side always runs that scenario)."""
    config, _, scenario = spec.partition("@")
    return config, scenario or None


PAIRS = [tuple(side(x) for x in p.split(":", 1))
         for p in B.env_list("BENCH_PAIRS", ["noop:ours", "native-cache:ours", "noop:native-cache"])]
ALGS = B.ALGS  # BENCH_ALGS, as bench/run.py reads it (`all`: every alg it knows)
SCENARIOS = B.env_list("BENCH_SCENARIOS", ["repeated"])
ROUNDS = B.env_num("BENCH_ROUNDS", 8, 8, int)
DURATION = B.env_num("BENCH_DURATION", 3, 3, int)
WARMUP = B.env_num("BENCH_WARMUP", 2, 2, int)
POOL = B.env_num("BENCH_POOL", 20000, 20000, int)


def run_pair(a, b, sides, duration, cpus):
    """Both wrk at once, each with its (pool, expected status); each Envoy's CPU per request
    over the same wall interval."""
    c0, t0 = (a.cpu_ns(), b.cpu_ns()), time.monotonic()
    procs = [subprocess.Popen(B.wrk_command(p, pool, expect, duration, cpus), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for p, (pool, expect) in zip((a, b), sides)]
    outs = [p.communicate() for p in procs]
    c1, t1 = (a.cpu_ns(), b.cpu_ns()), time.monotonic()
    results = []
    for i, (proc, (out, err)) in enumerate(zip(procs, outs)):
        r = B.wrk_result(proc.returncode, out, err)
        reqs = max(r["requests"], 1)
        r.update({"cpu_us_per_req": (c1[i] - c0[i]) / 1e3 / reqs,
                  "envoy_cpu_util": (c1[i] - c0[i]) / 1e9 / (t1 - t0),
                  "rps": r["requests"] / (r["duration_us"] / 1e6)})
        results.append(r)
    return results


def main():
    configs = sorted({c for pair in PAIRS for c, _ in pair})
    scenarios_used = set(SCENARIOS) | {s for pair in PAIRS for _, s in pair if s}
    alt = (["ours-alt"] if B.OURS_ALT_WASM else []) + (["noop-alt"] if B.NOOP_ALT_WASM else [])
    unknown = [c for c in configs if not B.known_config(c, alt)] \
        + [a for a in ALGS if a not in B.KEYS] + [s for s in scenarios_used if s not in B.ALL_SCENARIOS]
    if unknown:
        B.die(f"unknown config/alg/scenario: {unknown}")
    if any(a[0] == b[0] for a, b in PAIRS):
        B.die("a pair needs two different configurations (one Envoy each)")
    for path, hint in ((B.ENVOY, "make setup"), (B.OURS_WASM, "make build"), (B.NOOP_WASM, "make bench-tools"),
                       (B.NOOP_LEAN_WASM, "make bench-tools"), (B.NOOP_RAW_WASM, "make bench-tools"),
                       (B.MINT, "make bench-tools")):
        if not os.path.exists(path):
            B.die(f"{path} missing (run `{hint}`, or simply `make bench-pair`)")
    if shutil.which("wrk") is None:
        B.die("wrk not found (`make bench-pair` installs it with apt-get)")
    ncpu = os.cpu_count() or 1
    if ncpu < 2:
        B.die("needs 2 CPUs: the Envoys share one, the wrk processes the others")
    envoy_cpu, wrk_cpus = ncpu - 1, (f"0-{ncpu - 2}" if ncpu > 2 else "0")
    os.makedirs(B.POOLS, exist_ok=True)
    pools = {}
    for alg in ALGS:
        pools[("repeated", alg)] = B.pool_file(alg, "good", 1)
        if "unique" in scenarios_used:
            pools[("unique", alg)] = B.pool_file(alg, "good", POOL)
        if "invalid" in scenarios_used:
            pools[("invalid", alg)] = B.pool_file(alg, "bad", POOL)

    workdir = tempfile.mkdtemp(prefix="jwt-pair-")
    B.use_private_copies(workdir, ["OURS_WASM", "NOOP_WASM", "NOOP_LEAN_WASM", "NOOP_RAW_WASM", "OURS_ALT_WASM",
                                   "NOOP_ALT_WASM"] + B.opt_in_modules(configs))
    started = datetime.datetime.now(datetime.timezone.utc)
    proxies, rows, raw = {}, [], []
    try:
        for c in configs:
            p = B.Proxy(c, workdir, envoy_cpu)
            ok, out = p.validate()
            if not ok:
                B.die(f"{c}: Envoy refused the configuration:\n{out}")
            p.start()
            proxies[c] = p
        for c, p in proxies.items():
            if not p.wait_ready():
                B.die(f"{c}: Envoy did not become ready:\n{p.log_tail()}")
        for alg in ALGS:
            good = B.first_line(pools[("repeated", alg)])
            for c, p in proxies.items():
                if p.get(good) != 200:
                    B.die(f"pre-flight: {c} {alg} did not answer 200 to a valid token")
        B.log(f"bench-pair: {len(PAIRS)} pairs × {len(ALGS)} algs × {len(SCENARIOS)} scenarios × "
              f"{ROUNDS} rounds × {DURATION} s; Envoys share CPU {envoy_cpu}, wrk on {wrk_cpus}")
        for (a_name, a_fixed), (b_name, b_fixed) in PAIRS:
            a, b = proxies[a_name], proxies[b_name]
            for scenario in ([None] if a_fixed and b_fixed else SCENARIOS):
                a_scen, b_scen = a_fixed or scenario, b_fixed or scenario
                if any(s != "repeated" and B.is_floor(c) for c, s in ((a_name, a_scen), (b_name, b_scen))):
                    continue
                scenario = a_scen if a_scen == b_scen else f"{a_scen}/{b_scen}"
                for alg in ALGS:
                    sides = [(pools[(a_scen, alg)], 401 if a_scen == "invalid" else 200),
                             (pools[(b_scen, alg)], 401 if b_scen == "invalid" else 200)]
                    if WARMUP > 0:
                        run_pair(a, b, sides, WARMUP, wrk_cpus)
                    ratios, a_us, b_us, bad, utils = [], [], [], 0, []
                    for rnd in range(ROUNDS):
                        ra, rb = run_pair(a, b, sides, DURATION, wrk_cpus)
                        ratios.append(rb["cpu_us_per_req"] / ra["cpu_us_per_req"])
                        a_us.append(ra["cpu_us_per_req"])
                        b_us.append(rb["cpu_us_per_req"])
                        utils += [ra["envoy_cpu_util"], rb["envoy_cpu_util"]]
                        bad += ra["bad"] + rb["bad"]
                        raw.append({"pair": [a_name, b_name], "scenario": scenario, "alg": alg,
                                    "round": rnd + 1, "a": ra, "b": rb})
                    row = {"a": a_name, "b": b_name, "scenario": scenario, "alg": alg,
                           "ratio": statistics.median(ratios), "lo": min(ratios), "hi": max(ratios),
                           "a_us": statistics.median(a_us), "b_us": statistics.median(b_us),
                           "util": (min(utils), max(utils)), "bad": bad}
                    rows.append(row)
                    B.log(f"  {b_name}/{a_name} {scenario} {alg}: {row['ratio']:.3f} "
                          f"(rounds {row['lo']:.3f}–{row['hi']:.3f}); {a_name} {row['a_us']:.1f} µs, "
                          f"{b_name} {row['b_us']:.1f} µs; util {row['util'][0]:.2f}–{row['util'][1]:.2f}"
                          + (f"; {bad} unexpected statuses" if bad else ""))
    finally:
        for p in proxies.values():
            p.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    lines = [f"run {started:%Y-%m-%d %H:%M} UTC, {ROUNDS} rounds × {DURATION} s per pair, alg and scenario; "
             f"both Envoys of a pair on CPU {envoy_cpu} at once, wrk on {wrk_cpus}", "",
             "| B / A | scenario | alg | ratio, median | rounds min–max | A µs/req | B µs/req | Envoy CPU share (each) | unexpected statuses |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['b']} / {r['a']} | {r['scenario']} | {r['alg']} | {r['ratio']:.3f} | "
                     f"{r['lo']:.3f}–{r['hi']:.3f} | {r['a_us']:.1f} | {r['b_us']:.1f} | "
                     f"{r['util'][0]:.2f}–{r['util'][1]:.2f} | {r['bad']} |")
    text = "\n".join(lines)
    print(text)
    os.makedirs(B.RESULTS, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    with open(os.path.join(B.RESULTS, f"pair-{stamp}.json"), "w") as f:
        json.dump({"started": stamp, "rows": rows, "runs": raw}, f, indent=1)
    with open(os.path.join(B.RESULTS, "pair-latest.md"), "w") as f:
        f.write(text + "\n")
    if any(r["bad"] for r in rows):
        B.die("some responses had an unexpected status: the ratios above measure the wrong thing")


if __name__ == "__main__":
    main()
