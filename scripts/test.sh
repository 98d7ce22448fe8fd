#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the full suite in a normal
# build (warnings are errors), then the unit tests, the fuzz-corpus replays and the
# control API test (whose daemon is then the sanitised one) again under
# AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
JOBS=$(nproc)

echo "== browser test dependencies (playwright-core, from package-lock.json)"
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

echo "== build (RelWithDebInfo, -Werror)"
cmake -S . -B build -DMCU_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$JOBS"
echo "== tests"
(cd build && ctest --output-on-failure -j"$JOBS")

echo "== build (ASan + UBSan)"
cmake -S . -B build-asan -DMCU_WERROR=ON -DMCU_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$JOBS"
echo "== unit tests, fuzz corpora and the API test under ASan + UBSan"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
(cd build-asan && ctest -L 'unit|asan' --output-on-failure -j"$JOBS")
