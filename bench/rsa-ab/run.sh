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
# Each version of the RSA verifier becomes a module directory, src/base/ and src/head/: the files
# of src/crypto/rsa_verify/ but its tests (mod.rs and its children: the engines and the padding),
# or, at a revision before the tree was grouped into folders, src/rsa_verify.rs as mod.rs with
# src/mont52.rs beside it.
rm -rf src/base src/head && mkdir -p src/base src/head
files=$(git ls-tree --name-only "$base" ../../src/crypto/rsa_verify/ 2>/dev/null | sed 's|.*/||' | grep -v '^tests.rs$' || true)
if [[ -n $files ]]; then
  for f in $files; do git show "$base:src/crypto/rsa_verify/$f" > "src/base/$f"; done
else
  git show "$base:src/rsa_verify.rs" > src/base/mod.rs
  git show "$base:src/mont52.rs" > src/base/mont52.rs 2>/dev/null || rm -f src/base/mont52.rs
fi
for f in ../../src/crypto/rsa_verify/*.rs; do
  [[ $(basename "$f") == tests.rs ]] || cp "$f" src/head/
done
# A child pulled in by an explicit path (`#[path = "mont52.rs"]`, before the folders) is found
# beside mod.rs without it.
sed -i '/^#\[path = "mont52.rs"\]$/d' src/base/mod.rs src/head/mod.rs
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
