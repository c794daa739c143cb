// Compiles a wasm module once in this V8 and prints the wall time of the compile:
//   node [V8 flags] compile.mjs MODULE.wasm
// profile.py passes Envoy's setting (Liftoff off, every function compiled by TurboFan up front,
// on one thread) and reads the lines `compile_ms <wall ms>` and `compile_cpu_ms <CPU ms>`, plus V8's own per-function trace when
// --trace-wasm-compilation-times is given.
import { readFileSync } from "node:fs";
import { argv } from "node:process";

const bytes = readFileSync(argv[2]);
const c0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
new WebAssembly.Module(bytes);
const t1 = process.hrtime.bigint();
const c1 = process.cpuUsage(c0);
// CPU time (user + system) of the process over the compile: with --single-threaded it is the
// compile's own work, which other processes on a busy machine inflate less than the wall time.
console.log(`compile_ms ${Number(t1 - t0) / 1e6}`);
console.log(`compile_cpu_ms ${(c1.user + c1.system) / 1e3}`);
