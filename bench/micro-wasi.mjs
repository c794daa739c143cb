// Runs a wasm32-wasip1 command under Node's WASI (V8, the engine Envoy embeds).
// usage: node micro-wasi.mjs MODULE.wasm HOST_DIR [ARGS...]   (HOST_DIR is visible as /pools)
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
import { argv, exit } from "node:process";
import v8 from "node:v8";

// The filter's RSA engine uses relaxed SIMD, which Node 20 (V8 11.3) keeps behind this flag and
// later versions ship (where the flag is ignored). Set before any module is compiled.
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

const [module, dir, ...rest] = argv.slice(2);
const wasi = new WASI({ version: "preview1", args: ["bench-micro", "/pools", ...rest], env: {}, preopens: { "/pools": dir } });
const wasm = await WebAssembly.compile(await readFile(module));
// The filter crate links proxy-wasm, whose host imports ("env" module) the micro-benchmark never
// calls: stub them so the module instantiates.
const imports = wasi.getImportObject();
imports.env = {};
for (const imp of WebAssembly.Module.imports(wasm)) {
  if (imp.module === "env" && imp.kind === "function") {
    imports.env[imp.name] = () => { throw new Error(`host import ${imp.name} called outside Envoy`); };
  }
}
const instance = await WebAssembly.instantiate(wasm, imports);
// proxy-wasm's main! also exports `_initialize`, which a WASI command must not have: hand WASI a
// view of the exports without it.
const view = { exports: { _start: instance.exports._start, memory: instance.exports.memory } };
exit(wasi.start(view) ?? 0);
