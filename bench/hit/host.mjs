// A minimal proxy-wasm host in Node's V8 for bench/hit/run.py: it configures the filter, then
// drives N requests that carry one token (a cache hit after the first) and prints the CPU µs per
// request. Envoy's own work is absent: only the module's callbacks and this host's answers run.
//   node --no-liftoff --no-wasm-lazy-compilation host.mjs MODULE.wasm CONFIG.json TOKEN_FILE N
// Every host call the filter imports answers as Envoy would for a request that is allowed:
// headers from a fixed list, no shared data, no properties, metrics accepted.
import fs from "node:fs";
import crypto from "node:crypto";

const [modPath, cfgPath, tokPath, nStr] = process.argv.slice(2);
const N = Number(nStr || 200000);
const config = Buffer.from(fs.readFileSync(cfgPath, "utf8").trim());
const token = fs.readFileSync(tokPath, "utf8").trim();
const headers = [
  [":authority", "bench"], [":path", "/api"], [":method", "GET"], [":scheme", "http"],
  ["authorization", "Bearer " + token], ["x-forwarded-proto", "http"],
  ["x-request-id", "5f0c2a53-4d1c-4b7e-9a2e-6c1d2f3a4b5c"], ["user-agent", "wrk"],
];
let inst, mem;
const u8 = () => new Uint8Array(mem.buffer);
const dv = () => new DataView(mem.buffer);
const enc = new TextEncoder(), dec = new TextDecoder();
const str = (p, l) => dec.decode(u8().subarray(p, p + l));
function give(bytes, retPtr, retSize) {
  const p = inst.exports.proxy_on_memory_allocate(bytes.length);
  u8().set(bytes, p);
  dv().setUint32(retPtr, p, true);
  dv().setUint32(retSize, bytes.length, true);
}
function serialize(pairs) {
  const parts = pairs.map(([k, v]) => [enc.encode(k), enc.encode(v)]);
  let size = 4 + 8 * parts.length;
  for (const [k, v] of parts) size += k.length + v.length + 2;
  const out = new Uint8Array(size), d = new DataView(out.buffer);
  d.setUint32(0, parts.length, true);
  let o = 4 + 8 * parts.length;
  parts.forEach(([k, v], i) => {
    d.setUint32(4 + 8 * i, k.length, true); d.setUint32(8 + 8 * i, v.length, true);
    out.set(k, o); o += k.length + 1; out.set(v, o); o += v.length + 1;
  });
  return out;
}
const headerBytes = serialize(headers);
let replies = 0, logs = 0;
const env = {
  proxy_log: (lvl, p, l) => { logs++; if (lvl >= 3) console.error("log", lvl, str(p, l)); return 0; },
  proxy_get_buffer_bytes: (type, start, max, rp, rs) => { give(config, rp, rs); return 0; },
  proxy_get_header_map_pairs: (t, rp, rs) => { give(headerBytes, rp, rs); return 0; },
  proxy_get_header_map_value: (t, kp, kl, rp, rs) => {
    const k = str(kp, kl); const h = headers.find(([n]) => n === k);
    if (!h) return 1; give(enc.encode(h[1]), rp, rs); return 0;
  },
  proxy_add_header_map_value: () => 0,
  proxy_remove_header_map_value: () => 0,
  proxy_get_current_time_nanoseconds: (rp) => { dv().setBigUint64(rp, BigInt(Date.now()) * 1000000n, true); return 0; },
  proxy_define_metric: (t, p, l, rp) => { dv().setUint32(rp, 7, true); return 0; },
  proxy_increment_metric: () => 0, proxy_record_metric: () => 0,
  proxy_get_metric: (id, rp) => { dv().setBigUint64(rp, 0n, true); return 0; },
  proxy_get_property: () => 1,
  proxy_get_shared_data: () => 1, proxy_set_shared_data: () => 0,
  proxy_set_tick_period_milliseconds: () => 0,
  proxy_http_call: () => 2,
  proxy_send_local_response: () => { replies++; return 0; },
  proxy_continue_stream: () => 0, proxy_set_effective_context: () => 0,
};
const wasi = {
  random_get: (p, l) => { crypto.randomFillSync(u8().subarray(p, p + l)); return 0; },
  environ_sizes_get: (a, b) => { dv().setUint32(a, 0, true); dv().setUint32(b, 0, true); return 0; },
  environ_get: () => 0,
  fd_write: (fd, iovs, n, nw) => { let t = 0; for (let i = 0; i < n; i++) t += dv().getUint32(iovs + 8 * i + 4, true); dv().setUint32(nw, t, true); return 0; },
  proc_exit: (c) => { throw new Error("proc_exit " + c); },
};
const module = new WebAssembly.Module(fs.readFileSync(modPath));
inst = new WebAssembly.Instance(module, { env, wasi_snapshot_preview1: wasi });
mem = inst.exports.memory;
const e = inst.exports;
e._initialize();
e.proxy_on_context_create(1, 0);
e.proxy_on_vm_start(1, 0);
if (!e.proxy_on_configure(1, config.length)) throw new Error("configure refused");
e.proxy_on_tick(1); // the worker's clock, as Envoy's first tick sets it
let ctx = 2;
function request() {
  const c = ctx++;
  e.proxy_on_context_create(c, 1);
  const action = e.proxy_on_request_headers(c, headers.length, 1);
  e.proxy_on_done(c);
  e.proxy_on_delete(c);
  return action;
}
if (request() !== 0) throw new Error("first request not continued; replies " + replies);
for (let i = 0; i < 20000; i++) request();
// HIT_PROFILE=<file>: a V8 CPU profile of the timed requests alone (after the module's compile
// and the warm-up), written as a .cpuprofile.
const profileTo = process.env.HIT_PROFILE;
let session;
if (profileTo) {
  const inspector = await import("node:inspector");
  session = new inspector.Session();
  session.connect();
  const post = (method, params) => new Promise((ok, fail) =>
    session.post(method, params, (err, res) => (err ? fail(err) : ok(res))));
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: 50 });
  await post("Profiler.start");
  session.stopTo = async () => fs.writeFileSync(profileTo, JSON.stringify((await post("Profiler.stop")).profile));
}
const t0 = process.cpuUsage();
for (let i = 0; i < N; i++) request();
const t = process.cpuUsage(t0);
if (session) await session.stopTo();
console.log(`${((t.user + t.system) / N).toFixed(3)} µs per request (${N}); replies ${replies}, logs ${logs}`);
