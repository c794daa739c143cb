#!/usr/bin/env bash
# In-process A/B of the RSA verifier (src/crypto/rsa_verify/) against its version at BASE (default HEAD), as wasm in
# Node's V8: `make bench-rsa-ab BASE=<rev>` or `bash bench/rsa-ab/run.sh <rev> [pairs] [runs]`.
# Nothing asserts on time; it prints one line per run.
set -euo pipefail
cd "$(dirname "$0")"
base=${1:-HEAD}
pairs=${2:-60}
runs=${3:-3}
command -v node >/dev/null || { echo "bench-rsa-ab needs node (Node's WASI runs the wasm)" >&2; exit 1; }
# The RSA verifier (src/crypto/rsa_verify/mod.rs; src/rsa_verify.rs before the tree was grouped
# into folders) takes its 50-bit engine from a child module `mont52`: each version gets its own.
at_rev() { git show "$base:src/crypto/rsa_verify/$1" 2>/dev/null || git show "$base:src/$2" 2>/dev/null; }
at_rev mod.rs rsa_verify.rs \
  | sed -e 's/"mont52.rs"/"base_mont52.rs"/' -e 's/^mod mont52;/#[path = "base_mont52.rs"]\nmod mont52;/' > src/base.rs
at_rev mont52.rs mont52.rs > src/base_mont52.rs || : > src/base_mont52.rs
sed 's/^mod mont52;/#[path = "mont52.rs"]\nmod mont52;/' ../../src/crypto/rsa_verify/mod.rs > src/head.rs
cp ../../src/crypto/rsa_verify/mont52.rs src/mont52.rs
python3 - <<'PY'
import base64, json
key = json.load(open("../../envoy/demo-keys/rs256.json"))
n = key["n"] + "=" * (-len(key["n"]) % 4)
open("src/n.hex", "w").write(base64.urlsafe_b64decode(n).hex())
PY
# RSA_AB_FEATURES: cargo feature flags for both versions (Cargo.toml here), e.g. the simd128 build's.
cargo build -q --release --target wasm32-wasip1 ${RSA_AB_FEATURES:-}
echo "== rsa_verify: working tree (head${RSA_AB_FEATURES:+ with $RSA_AB_FEATURES}) against $base (base), RSA-2048 public op in V8 (Node $(node --version))"
for _ in $(seq "$runs"); do
  node --no-warnings ../micro-wasi.mjs target/wasm32-wasip1/release/rsa-ab.wasm . "$pairs"
done
