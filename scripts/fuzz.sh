#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) with clang in build-fuzz/ and
# runs each for a bounded time. Any crash, leak, timeout or sanitizer report
# fails the run; the input that caused it is left in build-fuzz/artifacts/.
#
#   scripts/fuzz.sh                  every target, 60 s each
#   scripts/fuzz.sh -t 600 tap       one target, 10 minutes
#   scripts/fuzz.sh -j 2 -t 3600     every target, 2 jobs each, an hour
#
# The seed corpora in tests/fuzz/corpus/<target>/ are read, never written:
# what a run discovers goes to build-fuzz/corpus/<target>/, which later
# runs start from too. A finding worth keeping (a fixed crash) is copied
# into the seed corpus by hand, so every later run replays it first.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
jobs=1
while getopts "t:j:h" o; do
    case "$o" in
    t) seconds=$OPTARG ;;
    j) jobs=$OPTARG ;;
    *) sed -n '2,13p' "$0"; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(tap profile fault import)

if ! command -v clang >/dev/null 2>&1; then
    echo "fuzz: clang is not installed (scripts/setup.sh installs clang and libclang-rt-14-dev)" >&2
    exit 1
fi

echo "== fuzz: build (clang, libFuzzer + ASan + UBSan)"
CC=clang cmake -S . -B build-fuzz -DSSHMOCK_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j"$(nproc 2>/dev/null || echo 2)" \
    --target "${targets[@]/#/fuzz_}"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
status=0
passed=0
failed=0
for t in "${targets[@]}"; do
    log=build-fuzz/fuzz_$t.log
    mkdir -p "build-fuzz/corpus/$t" build-fuzz/artifacts
    echo "== fuzz: $t for ${seconds}s (log: $log)"
    args=("corpus/$t" "../tests/fuzz/corpus/$t" -max_total_time="$seconds"
          -print_final_stats=1 -artifact_prefix="artifacts/$t-")
    [ -f "tests/fuzz/$t.dict" ] && args+=(-dict="../tests/fuzz/$t.dict")
    # Profiles added after the seeds were copied are seeds too.
    [ "$t" = profile ] && args=("${args[@]:0:2}" ../profiles "${args[@]:2}")
    # More than one job runs that many fuzzers in parallel, each logging to
    # build-fuzz/fuzz-N.log.
    [ "$jobs" -gt 1 ] && args+=(-jobs="$jobs" -workers="$jobs")
    # -timeout: one input taking 10 s is a hang worth a report;
    # -rss_limit_mb: a parser of small inputs has no business using 2 GiB.
    if ! (cd build-fuzz && "./fuzz_$t" "${args[@]}" -timeout=10 -rss_limit_mb=2048) \
            >"$log" 2>&1; then
        echo "fuzz: $t FAILED; the report:" >&2
        grep -E -A40 "ERROR: |runtime error|broken promise|does not parse|does not split" "$log" \
            | head -60 >&2 || tail -40 "$log" >&2
        ls build-fuzz/artifacts/"$t"-* 2>/dev/null | sed 's/^/   reproducer: /' >&2
        status=1
        failed=$((failed + 1))
        continue
    fi
    # The last status line: executions and coverage (cov: edges, ft: features).
    grep -E "^#[0-9]+.*(DONE|cov:)" "$log" | tail -1 | sed "s/^/   $t: /"
    passed=$((passed + 1))
done
echo "fuzz: $passed passed, $failed failed"
exit $status
