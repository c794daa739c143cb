#!/usr/bin/env python3
"""Memory soak of the filter in a real Envoy (issues #5 and #8): is memory flat under load?

Run through `make soak` (SOAK_MINUTES, default 10), which builds what this needs first. It starts
one Envoy (`--concurrency 2`, two worker VMs) with dist/jwt_authn.wasm in front of a free
upstream (a `direct_response` 200, as bench/run.py), its provider's keys coming from a local
JWKS server through a cluster (`remote_jwks`, `cache_duration` 5 s, so refreshes run all along),
and drives it with five wrk processes at once, one per request class:

  repeated   3 valid tokens (RS256, ES256, HS256), reused          expect 200 (cache hits)
  unique     distinct valid tokens, 3 × SOAK_POOL, cycled          expect 200 (pool > cache)
  badsig     distinct bad-signature tokens, 3 × SOAK_POOL          expect 401
  randkid    tokens with a random `kid` each (unknown-kid refetch)  expect 401
  garbage    malformed/absent/oversized/expired tokens, `alg: none`  expect 401

wrk runs in chunks of SOAK_CHUNK seconds (each continues where the last stopped in its pool), so
status counts and progress come in all along. Every SOAK_SAMPLE seconds it samples Envoy's RSS
(/proc/<pid>/status VmRSS), the filter's `vm_memory_bytes{,_max}` gauges and counters from the
admin /stats, and the per-VM wasm memory from the filter's log lines ("wasm memory of this VM
..."; each VM logs its size at start and on every growth, with its thread id).

Verdict, with the first half as warm-up: wasm linear memory of every VM the same at the end as at
half-time, Envoy's RSS grew less than SOAK_RSS_TOLERANCE (5 %) over the second half, every
response had its class's status, no socket errors, no 5xx, JWKS refreshes in the second half.
Exit status 0 only if all hold. Raw results: bench/results/soak-<UTC time>.json (and
soak-latest.md).

`bench/soak.py --footprint` (`make soak-footprint`) instead compares Envoy's RSS with our filter,
with native jwt_authn (same remote JWKS), with bench/noop (a proxy-wasm filter that does nothing:
what any wasm filter costs) and with no filter, each `--concurrency 2`: idle after start, then
after SOAK_FOOTPRINT_LOAD seconds of the same mix; plus our per-VM wasm memory.

Environment: SOAK_MINUTES [10], SOAK_SAMPLE [10] s, SOAK_CHUNK [30] s, SOAK_POOL [2000] tokens
per alg, SOAK_RSS_TOLERANCE [0.05], SOAK_FOOTPRINT_LOAD [30] s, SOAK_FOOTPRINT_IDLE [5] s,
ENVOY, JWT_AUTHN_WASM. Loopback only; every process started here is stopped at the end.
"""

import base64
import datetime
import http.server
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402  (bench/run.py: Envoy binary, token pools, minter, Proxy)

ROOT, RESULTS = bench.ROOT, bench.RESULTS
SOAK_LUA = os.path.join(bench.BENCH, "soak.lua")
MINUTES = float(os.environ.get("SOAK_MINUTES") or 10)
SAMPLE_S = float(os.environ.get("SOAK_SAMPLE") or 10)
CHUNK_S = int(os.environ.get("SOAK_CHUNK") or 30)
POOL = int(os.environ.get("SOAK_POOL") or 2000)
RSS_TOLERANCE = float(os.environ.get("SOAK_RSS_TOLERANCE") or 0.05)
FOOTPRINT_LOAD_S = int(os.environ.get("SOAK_FOOTPRINT_LOAD") or 30)
FOOTPRINT_IDLE_S = float(os.environ.get("SOAK_FOOTPRINT_IDLE") or 5)
CONCURRENCY = 2
CACHE_DURATION = "5s"
ALGS = ("RS256", "ES256", "HS256")
# class -> (wrk connections, expected status with an auth filter)
CLASSES = {"repeated": (4, 200), "unique": (4, 200), "badsig": (2, 401), "randkid": (2, 401), "garbage": (2, 401)}
VM_LOG = re.compile(r"^\[[^\]]*\]\[(\d+)\].*wasm memory of this VM(?:: (\d+)| grew from \d+ to (\d+)) bytes")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------
# JWKS server and Envoy


class JwksServer:
    """Serves envoy/demo-jwks.json on 127.0.0.1 (no cache headers: `cache_duration` rules)."""

    def __init__(self):
        with open(bench.JWKS_FILE, "rb") as f:
            body = f.read()
        self.fetches = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                server.fetches += 1
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def authn_config(jwks_port, native):
    provider = {
        "issuer": bench.ISSUER,
        "audiences": [bench.AUDIENCE],
        "remote_jwks": {
            "http_uri": {"uri": f"http://127.0.0.1:{jwks_port}/jwks.json", "cluster": "jwks", "timeout": "2s"},
            "cache_duration": CACHE_DURATION,
            "async_fetch": {},
        },
        "forward": False,
    }
    cfg = {"providers": {"soak": provider},
           "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "soak"}}]}
    if native:
        cfg["@type"] = "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"
    return cfg


def bootstrap(config, jwks_port, wasm):
    if config == "noauth":
        filters = []
    elif config == "noop":
        filters = [bench.wasm_filter("bench_noop", bench.NOOP_WASM, "")]
    elif config == "native":
        filters = [{"name": "envoy.filters.http.jwt_authn", "typed_config": authn_config(jwks_port, True)}]
    else:
        filters = [bench.wasm_filter("jwt_authn", wasm, json.dumps(authn_config(jwks_port, False)))]
    filters.append({"name": "envoy.filters.http.router",
                    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}})
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "soak",
        "route_config": {"name": "soak", "virtual_hosts": [{
            "name": "soak", "domains": ["*"],
            "routes": [{"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "ok\n"}}}],
        }]},
        "http_filters": filters,
    }
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "static_resources": {
            "listeners": [{
                "name": "soak",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
                "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}],
            }],
            "clusters": [{
                "name": "jwks", "type": "STATIC", "connect_timeout": "1s",
                "load_assignment": {"cluster_name": "jwks", "endpoints": [{"lb_endpoints": [{"endpoint": {
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": jwks_port}}}}]}]},
            }],
        },
    }


class Envoy(bench.Proxy):
    """bench/run.py's Proxy (ports read back, admin, stop), --concurrency 2, wasm logs at info."""

    def __init__(self, config, workdir, jwks_port, wasm):
        self.config = config
        self.port = self.admin_port = None
        self.dir = os.path.join(workdir, config)
        os.makedirs(self.dir, exist_ok=True)
        self.path = os.path.join(self.dir, "envoy.json")
        with open(self.path, "w") as f:
            json.dump(bootstrap(config, jwks_port, wasm), f, indent=1)
        self.log_path = os.path.join(self.dir, "envoy.log")
        self.admin_file = os.path.join(self.dir, "admin.address")
        self.cpu = None
        self.proc = None
        self.log_offset = 0
        self.vm_memory = {}  # Envoy thread id -> this VM's last reported linear memory (bytes)

    def start(self):
        cmd = [bench.ENVOY, "-c", self.path, "--concurrency", str(CONCURRENCY), "--disable-hot-restart",
               "--log-level", "warn", "--component-log-level", "wasm:info", "--file-flush-interval-msec", "1000",
               "--log-path", self.log_path, "--admin-address-path", self.admin_file]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def stats(self):
        """{name: int} of the filter's stats, the listener's request counters and wasm's own."""
        _, body = self.admin_get("/stats?filter=" + urllib.parse.quote(r"^(wasmcustom|http\.soak\.downstream_rq_|wasm\.)"))
        out = {}
        for line in body.splitlines():
            name, _, value = line.partition(": ")
            try:
                out[name] = int(value)
            except ValueError:
                pass
        return out

    def read_vm_log(self):
        """Follows the log: the filter's per-VM memory lines, by Envoy thread id."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_offset)
                data = f.read()
        except OSError:
            return self.vm_memory
        end = data.rfind(b"\n") + 1
        self.log_offset += end
        for line in data[:end].decode(errors="replace").splitlines():
            m = VM_LOG.match(line)
            if m:
                self.vm_memory[m.group(1)] = int(m.group(2) or m.group(3))
        return self.vm_memory


# ------------------------------------------------------------------------------------------
# Request pools


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(header, claims, sig_len):
    return ".".join([b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()),
                     b64(random.randbytes(sig_len))])


def write_pool(path, lines):
    with open(path, "w") as f:
        for line in lines:
            assert "\n" not in line
            f.write(line + "\n")
    return path


def interleave(files):
    lists = []
    for path in files:
        with open(path) as f:
            lists.append([line.strip() for line in f if line.strip()])
    return [x for group in zip(*lists) for x in group]


def bearer(token):
    return f"/api\tAuthorization: Bearer {token}"


def make_pools(workdir):
    """One file per request class, in soak.lua's format; tokens from bench/run.py's pools."""
    rng = random.Random(5)
    random.seed(8)
    now = int(time.time())
    claims = lambda i: {"iss": bench.ISSUER, "aud": bench.AUDIENCE, "sub": f"soak-{i}", "iat": now, "exp": now + 86400}
    sig_len = {"RS256": 256, "ES256": 64, "HS256": 32}
    pools = {}
    pools["repeated"] = write_pool(os.path.join(workdir, "repeated.txt"),
                                   [bearer(bench.first_line(bench.pool_file(a, "good", 1))) for a in ALGS])
    pools["unique"] = write_pool(os.path.join(workdir, "unique.txt"),
                                 [bearer(t) for t in interleave([bench.pool_file(a, "good", POOL) for a in ALGS])])
    pools["badsig"] = write_pool(os.path.join(workdir, "badsig.txt"),
                                 [bearer(t) for t in interleave([bench.pool_file(a, "bad", POOL) for a in ALGS])])
    randkid = []
    for i in range(POOL):
        alg = ALGS[i % 3]
        kid = "%032x" % rng.getrandbits(128)
        randkid.append(bearer(unsigned_token({"alg": alg, "typ": "JWT", "kid": kid}, claims(i), sig_len[alg])))
    pools["randkid"] = write_pool(os.path.join(workdir, "randkid.txt"), randkid)

    # Expired but well signed (HS256: cheap to mint).
    expired_path = os.path.join(workdir, "expired.tmp")
    subprocess.run([bench.MINT, "--key", bench.KEYS["HS256"], "--count", "200", "--out", expired_path,
                    "--iss", bench.ISSUER, "--aud", bench.AUDIENCE, "--exp-in", "-3600"], check=True)
    with open(expired_path) as f:
        expired = [line.strip() for line in f if line.strip()]
    good = bench.first_line(bench.pool_file("HS256", "good", 1))
    garbage = []
    printable = "".join(chr(c) for c in range(0x21, 0x7F))
    for i in range(POOL):
        kind = i % 12
        if kind == 0:
            garbage.append("/api")  # no token at all
        elif kind == 1:
            garbage.append("/api\tAuthorization: Basic " + b64(f"user{i}:secret".encode()))
        elif kind == 2:
            garbage.append("/api\tAuthorization: Bearer " + "".join(rng.choice(printable) for _ in range(rng.randint(1, 200))))
        elif kind == 3:
            garbage.append(bearer(".".join(b64(random.randbytes(rng.randint(1, 60))) for _ in range(3))))
        elif kind == 4:
            garbage.append(bearer(unsigned_token({"alg": "none", "typ": "JWT"}, claims(i), 0)))
        elif kind == 5:
            garbage.append(bearer(unsigned_token({"alg": "RS256", "kid": "demo-rs256", "crit": ["x"]}, claims(i), 256)))
        elif kind == 6:
            garbage.append(bearer(b64(random.randbytes(17 * 1024))))  # over the 16 KiB cap
        elif kind == 7:
            garbage.append(bearer(expired[i % len(expired)]))
        elif kind == 8:
            garbage.append(bearer(good[: rng.randint(1, len(good) - 1)]))  # truncated
        elif kind == 9:
            garbage.append(f"/api?access_token={b64(random.randbytes(rng.randint(8, 300)))}")
        elif kind == 10:
            garbage.append(bearer(b64(b'{"alg":"HS256"') + "." + b64(b"[1,2") + "." + b64(random.randbytes(32))))
        else:
            garbage.append(bearer(good + "." + b64(random.randbytes(8))))  # four sections
    pools["garbage"] = write_pool(os.path.join(workdir, "garbage.txt"), garbage)
    return pools


# ------------------------------------------------------------------------------------------
# Load: one thread per class, each running wrk in chunks until the deadline


class Load:
    def __init__(self, envoy, pools, deadline, expect_override=None):
        self.envoy, self.pools, self.deadline = envoy, pools, deadline
        self.expect_override = expect_override
        self.chunks = {c: [] for c in CLASSES}
        self.stop = threading.Event()
        self.procs = set()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.loop, args=(c,), daemon=True) for c in CLASSES]

    def start(self):
        for t in self.threads:
            t.start()

    def loop(self, cls):
        conns, expect = CLASSES[cls]
        if self.expect_override:
            expect = self.expect_override
        offset = 0
        while not self.stop.is_set():
            left = int(self.deadline - time.time())
            if left < 1:
                return
            cmd = ["wrk", "-t1", f"-c{conns}", f"-d{min(CHUNK_S, left)}s", "--timeout", "5s",
                   f"http://127.0.0.1:{self.envoy.port}/api", "-s", SOAK_LUA, "--",
                   self.pools[cls], str(expect), str(offset)]
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            with self.lock:
                self.procs.add(p)
            out, err = p.communicate()
            with self.lock:
                self.procs.discard(p)
            result = None
            for line in out.splitlines():
                if line.startswith("SOAK_RESULT "):
                    result = json.loads(line[len("SOAK_RESULT "):])
            if result is None:
                if not self.stop.is_set():
                    self.chunks[cls].append({"failed": True, "rc": p.returncode, "stderr": err[-500:],
                                             "requests": 0, "ok": 0, "bad": 0, "statuses": {}, "errors": {}})
                    time.sleep(1)
                continue
            result["ended"] = time.time()
            self.chunks[cls].append(result)
            offset += result["requests"]

    def finish(self):
        self.stop.set()
        with self.lock:
            for p in list(self.procs):
                if p.poll() is None:
                    p.terminate()
        for t in self.threads:
            t.join(timeout=CHUNK_S + 10)

    def totals(self):
        out = {}
        for cls, chunks in self.chunks.items():
            statuses = {}
            for c in chunks:
                for k, v in c.get("statuses", {}).items():
                    statuses[k] = statuses.get(k, 0) + v
            errors = {}
            for c in chunks:
                for k, v in c.get("errors", {}).items():
                    errors[k] = errors.get(k, 0) + v
            out[cls] = {"requests": sum(c["requests"] for c in chunks), "ok": sum(c["ok"] for c in chunks),
                        "bad": sum(c["bad"] for c in chunks), "statuses": statuses, "socket_errors": errors,
                        "chunks": len(chunks), "failed_chunks": sum(1 for c in chunks if c.get("failed"))}
        return out


# ------------------------------------------------------------------------------------------


def mib(b):
    return "—" if b is None else f"{b / 1048576:.2f}"


def sample(envoy, t0, load):
    st = envoy.stats()
    kb = envoy.status_kb()
    vms = dict(envoy.read_vm_log())
    return {
        "t": round(time.time() - t0, 1),
        "rss_kb": kb.get("VmRSS"), "hwm_kb": kb.get("VmHWM"),
        "wasm_gauge": st.get("wasmcustom.jwt_authn.vm_memory_bytes"),
        "wasm_max": st.get("wasmcustom.jwt_authn.vm_memory_bytes_max"),
        "vm_memory": vms,
        "allowed": st.get("wasmcustom.jwt_authn.allowed", 0),
        "denied": st.get("wasmcustom.jwt_authn.denied", 0),
        "rq_total": st.get("http.soak.downstream_rq_total", 0),
        "rq_2xx": st.get("http.soak.downstream_rq_2xx", 0),
        "rq_4xx": st.get("http.soak.downstream_rq_4xx", 0),
        "rq_5xx": st.get("http.soak.downstream_rq_5xx", 0),
        "jwks_fetch_success": st.get("wasmcustom.jwt_authn.provider.soak.jwks_fetch_success", 0),
        "jwks_fetch_failed": st.get("wasmcustom.jwt_authn.provider.soak.jwks_fetch_failed", 0),
        "refetch_unknown_kid": st.get("wasmcustom.jwt_authn.provider.soak.jwks_refetch_unknown_kid", 0),
        "wrk_requests": sum(c["requests"] for cs in load.chunks.values() for c in cs) if load else 0,
        "stats": st,
    }


def vm_str(vms):
    return " ".join(f"{tid}:{mib(b)}" for tid, b in sorted(vms.items())) or "—"


def preflight(envoy, expect_auth):
    """valid → 200, none → 401 (with auth), before any load: a soak of 401s measures nothing."""
    problems = []
    for alg in ALGS:
        token = bench.first_line(bench.pool_file(alg, "good", 1))
        for _ in range(50):  # the first fetch may still be under way
            got = envoy.get(token)
            if got == 200:
                break
            time.sleep(0.1)
        if got != 200:
            problems.append(f"{alg} valid token: {got}")
    if expect_auth and envoy.get(None) != 401:
        problems.append("no token: not 401")
    return problems


def start_envoy(config, workdir, jwks, wasm):
    envoy = Envoy(config, workdir, jwks.port, wasm)
    ok, out = envoy.validate()
    if not ok:
        raise RuntimeError(f"{config}: Envoy refused the configuration:\n{out}")
    envoy.start()
    if not envoy.wait_ready():
        raise RuntimeError(f"{config}: Envoy did not become ready:\n{envoy.log_tail()}")
    return envoy


def soak(workdir, wasm, meta):
    duration = MINUTES * 60
    jwks = JwksServer()
    envoy = load = None
    try:
        pools = make_pools(workdir)
        envoy = start_envoy("ours", workdir, jwks, wasm)
        time.sleep(2)
        t0 = time.time()
        idle = sample(envoy, t0, None)
        log(f"soak: idle after config load: RSS {idle['rss_kb'] / 1024:.1f} MiB, wasm per VM (thread:MiB) "
            f"{vm_str(idle['vm_memory'])}, gauge max {mib(idle['wasm_max'])} MiB")
        problems = preflight(envoy, True)
        if problems:
            raise RuntimeError("pre-flight failed: " + "; ".join(problems))
        log(f"soak: pre-flight ok; {MINUTES:g} min of load, {len(CLASSES)} wrk processes "
            f"({', '.join(f'{c} ×{n}' for c, (n, _) in CLASSES.items())} connections), sample every {SAMPLE_S:g} s")
        t0 = time.time()
        load = Load(envoy, pools, t0 + duration)
        load.start()
        samples = [sample(envoy, t0, load)]
        while time.time() < t0 + duration:
            time.sleep(max(0.0, min(SAMPLE_S, t0 + duration - time.time())))
            if envoy.proc.poll() is not None:
                raise RuntimeError(f"Envoy exited ({envoy.proc.returncode}):\n{envoy.log_tail()}")
            s = sample(envoy, t0, load)
            samples.append(s)
            prev = samples[-2]
            rps = (s["rq_total"] - prev["rq_total"]) / max(s["t"] - prev["t"], 0.1)
            log(f"  t={s['t']:6.0f}s RSS {s['rss_kb'] / 1024:7.1f} MiB  wasm max {mib(s['wasm_max'])} MiB "
                f"per VM {vm_str(s['vm_memory'])}  rq {s['rq_total']:9d} ({rps:6.0f}/s) allowed {s['allowed']} "
                f"denied {s['denied']} 5xx {s['rq_5xx']} jwks fetches {s['jwks_fetch_success']}")
        load.finish()
        time.sleep(1)
        final = sample(envoy, t0, load)
        samples.append(final)
        return verdict(idle, samples, load.totals(), jwks.fetches, duration, meta)
    finally:
        if load:
            load.finish()
        if envoy:
            envoy.stop()
        jwks.stop()


def at(samples, t):
    return next((s for s in samples if s["t"] >= t), samples[-1])


def verdict(idle, samples, totals, jwks_fetches, duration, meta):
    mid, last = at(samples, duration / 2), samples[-1]
    first = samples[0]
    vm_mid, vm_end = mid["vm_memory"], last["vm_memory"]
    grew = {tid: (vm_mid.get(tid), b) for tid, b in vm_end.items() if vm_mid.get(tid) != b}
    rss_growth = (last["rss_kb"] - mid["rss_kb"]) / mid["rss_kb"]
    bad = sum(t["bad"] for t in totals.values())
    sock = sum(sum(t["socket_errors"].values()) for t in totals.values())
    failed_chunks = sum(t["failed_chunks"] for t in totals.values())
    checks = {
        "wasm memory flat over the second half (every VM)": not grew and mid["wasm_max"] == last["wasm_max"],
        f"RSS growth over the second half < {RSS_TOLERANCE:.0%}": rss_growth < RSS_TOLERANCE,
        "every response had its class's status": bad == 0,
        "no socket errors, no failed wrk runs": sock == 0 and failed_chunks == 0,
        "no 5xx": last["rq_5xx"] == 0,
        "JWKS refreshed during the second half": last["jwks_fetch_success"] > mid["jwks_fetch_success"],
    }
    lines = []
    lines.append(f"Soak: {meta['header']}")
    lines.append("")
    lines.append("| t (s) | Envoy RSS MiB | wasm max MiB | wasm per VM (thread: MiB) | requests | allowed | denied | req/s |")
    lines.append("|---:|---:|---:|---|---:|---:|---:|---:|")
    step = max(1, round(60 / SAMPLE_S))
    shown = [s for i, s in enumerate(samples) if i % step == 0 or s is mid or s is last]
    prev = None
    for s in shown:
        rps = "" if prev is None else f"{(s['rq_total'] - prev['rq_total']) / max(s['t'] - prev['t'], 0.1):.0f}"
        lines.append(f"| {s['t']:.0f}{' (half)' if s is mid else ''} | {s['rss_kb'] / 1024:.1f} | {mib(s['wasm_max'])} | "
                     f"{vm_str(s['vm_memory'])} | {s['rq_total']} | {s['allowed']} | {s['denied']} | {rps} |")
        prev = s
    lines.append("")
    lines.append(f"idle after config load: RSS {idle['rss_kb'] / 1024:.1f} MiB, wasm per VM {vm_str(idle['vm_memory'])} MiB")
    lines.append(f"RSS: start of load {first['rss_kb'] / 1024:.1f} MiB, half-time {mid['rss_kb'] / 1024:.1f}, "
                 f"end {last['rss_kb'] / 1024:.1f} (second half {rss_growth:+.2%}), peak (VmHWM) {last['hwm_kb'] / 1024:.1f}")
    lines.append(f"wasm linear memory per VM: half-time {vm_str(vm_mid)}, end {vm_str(vm_end)}"
                 + (f"; GREW in the second half: {grew}" if grew else ""))
    lines.append("")
    lines.append("| class | expect | requests | statuses | not expected | socket errors |")
    lines.append("|---|---:|---:|---|---:|---:|")
    for cls, t in totals.items():
        lines.append(f"| {cls} | {CLASSES[cls][1]} | {t['requests']} | "
                     f"{', '.join(f'{k}: {v}' for k, v in sorted(t['statuses'].items()))} | {t['bad']} | "
                     f"{sum(t['socket_errors'].values())} |")
    lines.append("")
    lines.append(f"Envoy: {last['rq_total']} requests ({last['rq_2xx']} 2xx, {last['rq_4xx']} 4xx, {last['rq_5xx']} 5xx); "
                 f"filter allowed {last['allowed']}, denied {last['denied']}; JWKS fetches stored "
                 f"{last['jwks_fetch_success']} (server saw {jwks_fetches}), failed {last['jwks_fetch_failed']}, "
                 f"unknown-kid refetches {last['refetch_unknown_kid']}")
    lines.append("")
    for name, ok in checks.items():
        lines.append(f"- {'ok  ' if ok else 'FAIL'} {name}")
    passed = all(checks.values())
    lines.append("")
    lines.append(f"verdict: {'memory flat, all checks passed' if passed else 'FAILED'}")
    return passed, "\n".join(lines), {"idle": idle, "samples": samples, "totals": totals, "checks": checks,
                                      "jwks_server_fetches": jwks_fetches, "rss_growth_second_half": rss_growth}


def footprint(workdir, wasm, meta):
    """RSS of Envoy --concurrency 2: no auth filter, bench/noop (the floor of any wasm filter),
    native jwt_authn, ours; idle and after load."""
    jwks = JwksServer()
    rows, raw = [], {}
    try:
        pools = make_pools(workdir)
        for config in ("noauth", "noop", "native", "ours"):
            envoy = load = None
            try:
                envoy = start_envoy(config, workdir, jwks, wasm)
                time.sleep(FOOTPRINT_IDLE_S)
                t0 = time.time()
                idle = sample(envoy, t0, None)
                problems = preflight(envoy, config not in bench.FLOORS)
                if problems:
                    raise RuntimeError(f"{config}: pre-flight failed: " + "; ".join(problems))
                load = Load(envoy, pools, time.time() + FOOTPRINT_LOAD_S,
                            expect_override=200 if config in bench.FLOORS else None)
                load.start()
                time.sleep(FOOTPRINT_LOAD_S + 1)
                load.finish()
                time.sleep(3)
                after = sample(envoy, t0, load)
                totals = load.totals()
                raw[config] = {"idle": idle, "after": after, "totals": totals}
                rows.append((config, idle, after, totals))
                log(f"  {config:7} idle RSS {idle['rss_kb'] / 1024:.1f} MiB, after {FOOTPRINT_LOAD_S} s of load "
                    f"{after['rss_kb'] / 1024:.1f} MiB (peak {after['hwm_kb'] / 1024:.1f}); "
                    f"{sum(t['requests'] for t in totals.values())} requests; wasm per VM idle {vm_str(idle['vm_memory'])} "
                    f"after {vm_str(after['vm_memory'])}")
            finally:
                if load:
                    load.finish()
                if envoy:
                    envoy.stop()
    finally:
        jwks.stop()
    lines = [f"Footprint: {meta['header']}", "",
             f"| config | RSS idle MiB | RSS after {FOOTPRINT_LOAD_S} s load MiB | peak (VmHWM) MiB | requests | "
             "not expected | wasm per VM idle (thread: MiB) | wasm per VM after load |",
             "|---|---:|---:|---:|---:|---:|---|---|"]
    for config, idle, after, totals in rows:
        lines.append(f"| {config} | {idle['rss_kb'] / 1024:.1f} | {after['rss_kb'] / 1024:.1f} | {after['hwm_kb'] / 1024:.1f} | "
                     f"{sum(t['requests'] for t in totals.values())} | {sum(t['bad'] for t in totals.values())} | "
                     f"{vm_str(idle['vm_memory'])} | {vm_str(after['vm_memory'])} |")
    return True, "\n".join(lines), raw


def main():
    mode = "footprint" if "--footprint" in sys.argv[1:] else "soak"
    wasm_src = bench.OURS_WASM
    for path, hint in ((bench.ENVOY, "make setup"), (wasm_src, "make build"), (bench.MINT, "make bench-tools")):
        if not os.path.exists(path):
            bench.die(f"{path} missing (run `{hint}`, or simply `make soak`)")
    if shutil.which("wrk") is None:
        bench.die("wrk not found (`make bench-wrk` installs it)")

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    os.makedirs(bench.POOLS, exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc)
    workdir = tempfile.mkdtemp(prefix="jwt-soak-")
    wasm = os.path.join(workdir, "jwt_authn.wasm")
    shutil.copyfile(wasm_src, wasm)  # a rebuild of dist/ during the soak changes nothing
    if mode == "footprint":
        if not os.path.exists(bench.NOOP_WASM):
            bench.die(f"{bench.NOOP_WASM} missing (run `make bench-tools`)")
        noop = os.path.join(workdir, "bench_noop.wasm")
        shutil.copyfile(bench.NOOP_WASM, noop)
        bench.NOOP_WASM = noop
    envoy_version = subprocess.run([bench.ENVOY, "--version"], capture_output=True, text=True).stdout.strip().split("version:")[-1].strip()
    git = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock"],
                           capture_output=True, text=True).stdout.strip()
    loadavg = open("/proc/loadavg").read().split()[:3]
    header = (f"{started:%Y-%m-%d %H:%M} UTC, envoy {envoy_version} --concurrency {CONCURRENCY}, git {git}"
              f"{' (src modified)' if dirty else ''}, wasm sha256 {bench.sha256(wasm)[:12]} ({os.path.getsize(wasm)} bytes), {os.cpu_count()} CPUs, "
              f"loadavg at start {' '.join(loadavg)}"
              + (f", {MINUTES:g} min, pool {POOL}/alg, cache_duration {CACHE_DURATION}" if mode == "soak" else
                 f", {FOOTPRINT_LOAD_S} s load each"))
    log(f"{mode}: {header}")
    try:
        if mode == "soak":
            passed, text, raw = soak(workdir, wasm, {"header": header})
        else:
            passed, text, raw = footprint(workdir, wasm, {"header": header})
    except KeyboardInterrupt:
        log(f"{mode}: interrupted; processes stopped (work dir {workdir} kept)")
        return 130
    except RuntimeError as e:
        log(f"{mode}: {e}\n(work dir {workdir} kept)")
        return 1
    loadavg_end = open("/proc/loadavg").read().split()[:3]
    text += f"\n\nloadavg at end {' '.join(loadavg_end)}"
    print()
    print(text)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    name = f"soak-{stamp}" if mode == "soak" else f"footprint-{stamp}"
    with open(os.path.join(RESULTS, name + ".json"), "w") as f:
        for v in (raw.get("samples") or [])[:-1]:
            v.pop("stats", None)  # every stat of the last sample is kept; the others, the figures above
        json.dump({"mode": mode, "started": started.isoformat(), "header": header, "passed": passed,
                   "minutes": MINUTES, "pool": POOL, "classes": CLASSES, "wasm_source": wasm_src,
                   "loadavg_start": loadavg, "loadavg_end": loadavg_end, **raw}, f, indent=1, default=str)
    with open(os.path.join(RESULTS, ("soak" if mode == "soak" else "footprint") + "-latest.md"), "w") as f:
        f.write(text + "\n")
    print(f"raw results: bench/results/{name}.json (table also in bench/results/"
          f"{'soak' if mode == 'soak' else 'footprint'}-latest.md)")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
