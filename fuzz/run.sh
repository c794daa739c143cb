#!/usr/bin/env bash
# Runs the fuzz targets one after the other, FUZZ_SECONDS each (default 600), after seeding
# fuzz/corpus/ (fuzz/seed.py). Installs what is missing: the nightly toolchain (minimal profile;
# where none can be fetched, stable with RUSTC_BOOTSTRAP=1) and cargo-fuzz. Prints executions and exec/s per target; exits non-zero on any crash, timeout
# (-timeout=10 s per input), leak or out-of-memory (-rss_limit_mb=2048), naming the artifact.
#
#   fuzz/run.sh [target...]        (default: all targets)
#   FUZZ_SECONDS=20 fuzz/run.sh    (what `make fuzz-smoke` and CI run)
#   FUZZ_RUNS=10000000 fuzz/run.sh (a number of executions per target instead of a time)
#   FUZZ_SANITIZER=none fuzz/run.sh  (no AddressSanitizer: about 4x the executions per second;
#                                     the crate has no `unsafe`, overflow checks stay on)
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-600}
FUZZ_SANITIZER=${FUZZ_SANITIZER:-address}
FUZZ_RUNS=${FUZZ_RUNS:-}
if [[ -n $FUZZ_RUNS ]]; then
    limit=(-runs="$FUZZ_RUNS")
    per="$FUZZ_RUNS runs"
else
    limit=(-max_total_time="$FUZZ_SECONDS")
    per="${FUZZ_SECONDS}s"
fi
ALL=(token jwks x509 discovery config claim_headers matchers)
targets=("$@")
((${#targets[@]})) || targets=("${ALL[@]}")

max_len() {
    case $1 in
        token | x509) echo 20000 ;;
        jwks | config) echo 65536 ;;
        claim_headers) echo 16384 ;;
        *) echo 8192 ;;
    esac
}

# cargo-fuzz needs nightly's -Z flags (AddressSanitizer). A machine that cannot fetch another
# toolchain uses its stable one with RUSTC_BOOTSTRAP=1, which accepts the same flags.
toolchain=(+nightly)
if ! rustup toolchain list | grep -q '^nightly'; then
    if ! timeout 600 rustup toolchain install nightly --profile minimal; then
        echo "fuzz: nightly could not be installed; using the default toolchain with RUSTC_BOOTSTRAP=1" >&2
        toolchain=()
        export RUSTC_BOOTSTRAP=1
    fi
fi
cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked
cargo fuzz --version
python3 fuzz/seed.py

# One build for every target: release, debug assertions (overflow checks), AddressSanitizer
# unless FUZZ_SANITIZER says otherwise.
cargo "${toolchain[@]}" fuzz build -O --debug-assertions -s "$FUZZ_SANITIZER"

summary=()
failed=0
for t in "${targets[@]}"; do
    log=fuzz/artifacts/$t.log
    mkdir -p "fuzz/artifacts/$t" "fuzz/corpus/$t"
    dict=()
    [[ -f fuzz/dicts/$t.dict ]] && dict=(-dict="fuzz/dicts/$t.dict")
    echo "== fuzz $t for $per (log: $log)"
    rc=0
    cargo "${toolchain[@]}" fuzz run -O --debug-assertions -s "$FUZZ_SANITIZER" "$t" "fuzz/corpus/$t" -- \
        "${limit[@]}" -max_len="$(max_len "$t")" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" >"$log" 2>&1 || rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    [[ -n $runs ]] || runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p; s/^#\([0-9]*\)[[:space:]]*DONE.*/\1/p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
    line=$(printf '%-14s %12s runs  %8s exec/s  %s' "$t" "${runs:-?}" "${rate:-?}" "${cov:-}")
    if ((rc != 0)); then
        failed=1
        artifact=$(grep -o 'Test unit written to [^ ]*' "$log" | tail -1 | sed 's/Test unit written to //' || true)
        tail -40 "$log" >&2
        line+="  FAILED (exit $rc) artifact: ${artifact:-none, see $log}"
        echo "fuzz: $t FAILED; artifact: ${artifact:-none}; reproduce: ${RUSTC_BOOTSTRAP:+RUSTC_BOOTSTRAP=1 }cargo ${toolchain[*]} fuzz run -O --debug-assertions -s $FUZZ_SANITIZER $t ${artifact:-}" >&2
    fi
    summary+=("$line")
    echo "$line"
done

echo "== fuzz summary ($per per target, sanitizer: $FUZZ_SANITIZER)"
printf '%s\n' "${summary[@]}"
exit "$failed"
