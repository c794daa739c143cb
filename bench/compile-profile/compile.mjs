// Compiles a wasm module once in this V8 and prints the wall time of the compile:
//   node [V8 flags] compile.mjs MODULE.wasm
// profile.py passes Envoy's setting (Liftoff off, every function compiled by TurboFan up front,
// on one thread) and reads the line `compile_ms <ms>`, plus V8's own per-function trace when
// --trace-wasm-compilation-times is given.
import { readFileSync } from "node:fs";
import { argv } from "node:process";

const bytes = readFileSync(argv[2]);
const t0 = process.hrtime.bigint();
new WebAssembly.Module(bytes);
const t1 = process.hrtime.bigint();
console.log(`compile_ms ${Number(t1 - t0) / 1e6}`);
