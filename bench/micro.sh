#!/usr/bin/env bash
# Micro-benchmarks of the filter's verify path outside Envoy (`make bench-micro`). Nothing here
# asserts on time; it prints tables. Three parts:
#   1. bench/micro natively: parse / signature / full authenticate (miss, hit, bad signature).
#   2. the same code as wasm32-wasip1 under Node's WASI, i.e. in V8, the engine Envoy embeds
#      (skipped without node).
#   3. the filter's own ignored timing test in src/crypto/mod.rs (signature only, every alg), if it
#      is there: `cargo test --release --lib -- --ignored --nocapture timing`, built in a
#      separate target dir so it does not disturb target/ (MICRO_CRYPTO=0 skips it).
# Tokens come from bench/mint (pools shared with bench/run.py, under bench/results/pools).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
pools=$root/bench/results/pools
mint=$root/bench/mint/target/release/bench-mint
n=${MICRO_POOL:-2000}
mkdir -p "$pools"

[ -x "$mint" ] || (cd bench/mint && cargo build --release -q)
for alg in RS256 ES256 HS256; do
  key=envoy/demo-keys/$(echo "$alg" | tr A-Z a-z).json
  for spec in "good 1" "good $n" "bad $n"; do
    set -- $spec
    f=$pools/$alg-$1-$2.txt
    if [ ! -s "$f" ] || [ -n "$(find "$f" -mmin +720)" ]; then
      args=(--key "$key" --count "$2" --out "$f.tmp" --iss https://demo.example --aud demo-api --exp-in 86400)
      [ "$1" = bad ] && args+=(--bad-sig)
      "$mint" "${args[@]}" && mv "$f.tmp" "$f"
    fi
  done
done

echo "== bench/micro, native (CPU time per operation, µs; median of 5 batches)"
(cd bench/micro && cargo build --release -q)
bench/micro/target/release/bench-micro "$pools"
echo

if command -v node >/dev/null; then
  echo "== bench/micro, wasm32-wasip1 in V8 (Node $(node --version) WASI; Envoy embeds its own V8)"
  (cd bench/micro && cargo build --release -q --target wasm32-wasip1)
  node --no-warnings bench/micro-wasi.mjs bench/micro/target/wasm32-wasip1/release/bench-micro.wasm "$pools"
  echo
else
  echo "== node not found: skipping the wasm32 run"
fi

if [ "${MICRO_CRYPTO:-1}" != 0 ] && grep -q 'fn timing()' src/crypto/mod.rs 2>/dev/null; then
  echo "== src/crypto/mod.rs ignored timing test (native, signature verify only, wall time)"
  CARGO_TARGET_DIR=$root/bench/micro/target/root cargo test -q --release --lib -- --ignored --nocapture timing 2>&1 \
    | grep -E 'per verify|test result' || echo "(timing test did not run)"
fi
