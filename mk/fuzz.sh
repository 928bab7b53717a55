#!/bin/sh
# Runs every libFuzzer binary BUILD_DIR/fuzz_<name> for SECONDS seconds.
#
#   sh mk/fuzz.sh BUILD_DIR SECONDS
#
# Each target starts from its committed seed corpus fuzz/corpus/<name>/,
# copied to BUILD_DIR/corpus-<name> first so that the run never writes into
# the repository; new inputs stay in that scratch copy, crash reproducers go
# to BUILD_DIR/artifacts-<name>/ and the full log to BUILD_DIR/fuzz_<name>.log.
# Prints "fuzz_<name>: N runs, C crashes" per target; exits 1 if any target
# crashed (or failed to run), 0 otherwise.
set -u
cd "$(dirname "$0")/.."

if [ $# -ne 2 ]; then
    echo "usage: sh mk/fuzz.sh BUILD_DIR SECONDS" >&2
    exit 2
fi
build=$1
secs=$2
status=0
found=0

for bin in "$build"/fuzz_*; do
    [ -f "$bin" ] && [ -x "$bin" ] || continue
    case "$bin" in *.log | *.o | *.d) continue ;; esac
    found=1
    target=$(basename "$bin")
    name=${target#fuzz_}
    scratch="$build/corpus-$name"
    artifacts="$build/artifacts-$name"
    log="$build/$target.log"
    rm -rf "$scratch" "$artifacts"
    mkdir -p "$scratch" "$artifacts"
    if [ -d "fuzz/corpus/$name" ]; then
        cp -R "fuzz/corpus/$name/." "$scratch/"
    fi

    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "$scratch" >"$log" 2>&1
    rc=$?

    runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    [ -n "$runs" ] || runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
    [ -n "$runs" ] || runs=0
    crashes=$(find "$artifacts" -type f | wc -l | tr -d ' ')
    if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        crashes=1 # died without leaving a reproducer (e.g. could not start)
    fi
    echo "$target: $runs runs, $crashes crashes"
    if [ "$crashes" -ne 0 ]; then
        status=1
        echo "  log: $log" >&2
        grep -E 'ERROR|SUMMARY|Test unit written|deadly signal' "$log" | head -n 10 | sed 's/^/  | /' >&2
    fi
done

if [ "$found" -eq 0 ]; then
    echo "fuzz: no fuzz_* binaries in $build" >&2
    exit 1
fi
exit "$status"
