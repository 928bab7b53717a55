#!/bin/sh
# Runs every test: unit tests from each build directory given (plain, then
# sanitized), then the integration scripts tests/it_*.sh. Each test prints a
# line "RESULT <passed> <failed>"; a test that exits non-zero without one
# counts as one failure. The last line is "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
TOTAL_P=0
TOTAL_F=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run_one() { # name, command...
    name=$1
    shift
    "$@" >"$log" 2>&1
    rc=$?
    res=$(grep '^RESULT ' "$log" | tail -n 1)
    if [ -n "$res" ]; then
        p=$(echo "$res" | cut -d' ' -f2)
        f=$(echo "$res" | cut -d' ' -f3)
    else
        p=0
        f=1
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    TOTAL_P=$((TOTAL_P + p))
    TOTAL_F=$((TOTAL_F + f))
    if [ "$f" -eq 0 ]; then
        printf 'ok    %-40s %5d checks\n' "$name" "$p"
    else
        printf 'FAIL  %-40s %5d passed %d failed (exit %d)\n' "$name" "$p" "$f" "$rc"
        sed 's/^/      | /' "$log" | tail -n 40
    fi
}

for b in "$@"; do
    for t in "$b"/tests/test_*; do
        [ -x "$t" ] || continue
        case "$t" in *.o | *.d) continue ;; esac
        run_one "$b/$(basename "$t")" "$t"
    done
done

for s in tests/it_*.sh; do
    [ -f "$s" ] || continue
    run_one "$(basename "$s")" sh "$s" "$1"
done

echo "$TOTAL_P passed, $TOTAL_F failed"
[ "$TOTAL_F" -eq 0 ]
