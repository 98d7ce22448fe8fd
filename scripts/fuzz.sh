#!/usr/bin/env bash
# Runs every libFuzzer target (or the ones named) for SECONDS each, up to one per core
# at a time. Seeds come from tests/fuzz/corpus/<target>; new coverage goes to
# build-fuzz/corpus/<target>; any crash, leak or UBSan input is written into the
# committed corpus (tests/fuzz/corpus/<target>/crash-*) so every later test run
# replays it.
#   scripts/fuzz.sh [SECONDS] [TARGET...]     default 600 s, all targets
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-600}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(rtp_parse rtcp_parse h264_depack vp8_depack opus_depack jitter srtp_unprotect)

scripts/install-deps.sh
CC=clang cmake -S . -B build-fuzz -DMCU_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target $(printf 'fuzz_%s ' "${TARGETS[@]}")

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
run_one() {
  local t=$1 work=build-fuzz/corpus/$1
  mkdir -p "$work"
  build-fuzz/tests/fuzz_"$t" -max_total_time="$SECONDS_EACH" -print_final_stats=1 \
    -max_len=4096 -artifact_prefix="tests/fuzz/corpus/$t/" \
    "$work" "tests/fuzz/corpus/$t" >"build-fuzz/$t.log" 2>&1
  local rc=$?
  local execs
  execs=$(grep -m1 'stat::number_of_executed_units' "build-fuzz/$t.log" | awk '{print $2}')
  echo "fuzz $t: exit $rc, ${execs:-?} executions in ${SECONDS_EACH}s (log build-fuzz/$t.log)"
  return $rc
}

status=0
pids=()
for t in "${TARGETS[@]}"; do
  run_one "$t" & pids+=($!)
  if [ ${#pids[@]} -ge "$(nproc)" ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
