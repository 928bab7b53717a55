#!/bin/sh
# Runs every test: unit tests from each build directory given (plain, then
# sanitized), then the integration scripts tests/it_*.sh against the first.
#
#   sh tests/run.sh BUILD_DIR [BUILD_DIR...]      (from anywhere)
#
# Protocol of a test (docs/testing.md; tests/harness.h for C, tests/lib.sh
# for shell):
#   RESULT <passed> <failed> [<skipped>]
#                 the last such line of its output (stdout and stderr) is its
#                 count; <skipped> is optional and 0 when absent.
#   SKIP <reason> one line per part it did not run, and why. Skipped counts
#                 the larger of <skipped> and the number of SKIP lines, so a
#                 skip said in either place is never counted as a pass.
#   A test with no RESULT line counts one failure; one that exits non-zero
#   with no failure counted counts one failure too.
# One row per test:
#   ok    NAME   <passed> checks[, <skipped> skipped: <reason>; <reason>...]
#   skip  NAME   0 checks, <skipped> skipped: <reasons>   (nothing ran)
#   FAIL  NAME   <passed> passed <failed> failed (exit <status>)[, skips]
#                and the last 40 lines of its output.
# The last line, alone, is "N passed, N failed, N skipped"; the exit status
# is 1 when N failed is not 0, else 0 (skips do not fail a run).
set -u
cd "$(dirname "$0")/.." || exit 2
TOTAL_P=0
TOTAL_F=0
TOTAL_S=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run_one() { # name, command...
    name=$1
    shift
    "$@" >"$log" 2>&1
    rc=$?
    res=$(grep '^RESULT ' "$log" | tail -n 1)
    p=0
    f=1
    s=0
    # A malformed count is no count: the test fails.
    set -f
    # shellcheck disable=SC2086 # split into words on purpose
    set -- $res
    set +f
    if [ $# -ge 3 ] && [ $# -le 4 ]; then
        case "$2$3${4:-0}" in
        *[!0-9]*) ;;
        *) p=$2 f=$3 s=${4:-0} ;;
        esac
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    nskip=$(grep -c '^SKIP ' "$log")
    [ "$nskip" -le "$s" ] || s=$nskip
    reasons=$(sed -n 's/^SKIP //p' "$log" | awk 'NR > 1 { printf "; " } { printf "%s", $0 }')
    skips=""
    if [ "$s" -gt 0 ]; then
        skips=", $s skipped"
        [ -z "$reasons" ] || skips="$skips: $reasons"
    fi
    TOTAL_P=$((TOTAL_P + p))
    TOTAL_F=$((TOTAL_F + f))
    TOTAL_S=$((TOTAL_S + s))
    if [ "$f" -ne 0 ]; then
        printf 'FAIL  %-40s %5d passed %d failed (exit %d)%s\n' "$name" "$p" "$f" "$rc" "$skips"
        sed 's/^/      | /' "$log" | tail -n 40
    elif [ "$p" -eq 0 ] && [ "$s" -gt 0 ]; then
        printf 'skip  %-40s %5d checks%s\n' "$name" "$p" "$skips"
    else
        printf 'ok    %-40s %5d checks%s\n' "$name" "$p" "$skips"
    fi
}

for b in "$@"; do
    for t in "$b"/tests/test_*; do
        [ -x "$t" ] || continue
        case "$t" in *.o | *.d) continue ;; esac
        run_one "$b/$(basename "$t")" "$t"
    done
done

for script in tests/it_*.sh; do
    [ -f "$script" ] || continue
    run_one "$(basename "$script")" sh "$script" "$1"
done

echo "$TOTAL_P passed, $TOTAL_F failed, $TOTAL_S skipped"
[ "$TOTAL_F" -eq 0 ]
