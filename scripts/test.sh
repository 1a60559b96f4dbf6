#!/usr/bin/env bash
# Builds sshmock and runs the whole test suite twice: once in a normal
# build, once built with AddressSanitizer + UndefinedBehaviorSanitizer, where
# any sanitizer report fails the run. Warnings are errors in both. Then the
# libFuzzer targets (tests/fuzz/) run for a bounded time each
# (SSHMOCK_FUZZ_SECONDS, default 60); a crash, leak or report fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

echo "== build (warnings are errors)"
cmake -S . -B build -DSSHMOCK_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
# Skipped tests say why (a client that could not be installed); ctest does
# not show their output, so their reasons are printed here.
skip_reasons() {
    grep -hoE "(sshmock-driver: [a-z0-9]+ not installed: .*|client tests: every test was skipped: .*|skipped [a-z0-9]+: .*)" \
        "$1/Testing/Temporary/LastTest.log" 2>/dev/null | sort -u | sed 's/^/   skipped because: /' || true
}

echo "== tests"
(cd build && ctest --output-on-failure --timeout 600)
skip_reasons build

echo "== build with ASan + UBSan"
cmake -S . -B build-asan -DSSHMOCK_WERROR=ON -DSSHMOCK_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$jobs"
echo "== tests under ASan + UBSan"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:exitcode=86
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
(cd build-asan && ctest --output-on-failure --timeout 900)
skip_reasons build-asan

# Last, so a finding here never hides a failing test above.
fuzz_seconds=${SSHMOCK_FUZZ_SECONDS:-60}
echo "== fuzz: each target for ${fuzz_seconds}s (clang, libFuzzer + ASan + UBSan)"
scripts/fuzz.sh -t "$fuzz_seconds"
