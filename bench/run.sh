#!/bin/sh
# `make bench`: runs every benchmark against the build in $1 (built with
# -O2 -march=native by the Makefile): the programs $1/bench/bench_* (but the
# helpers bench_gencap and bench_pcaploop), then the scripts bench/*.sh.
# Each compares against a baseline measured in the same run, because this
# machine is shared and noisy.
#
# Protocol of a benchmark (docs/testing.md):
#   exit 0      it ran, and met every target it has;
#   exit 1      a target was missed (each such line says MISSED), or it failed;
#   other       it could not run (2: usage);
#   SKIP <reason>   a line for each part it could not run (needs root, a
#                   missing tool); "<name>: skipped (<reason>)", the form
#                   bench/agent.sh prints, is read the same way.
# Output passes through as it comes; at the end a summary has one row per
# benchmark (ok, skip, MISSED or FAIL, with the MISSED lines and the skip
# reasons) and one closing line of counts. The exit status is 1 when any
# benchmark exited non-zero, 0 otherwise.
set -u
B=${1:-build-bench}
cd "$(dirname "$0")/.." || exit 2
out=$(mktemp -d "${TMPDIR:-/tmp}/pdm-bench-run.XXXXXX")
trap 'rm -rf "$out"' EXIT
status=0
n_ok=0
n_missed=0
n_failed=0
n_skipped=0
: >"$out/summary"

# run NAME COMMAND...: runs one benchmark, its output shown and kept.
run() {
    name=$1
    shift
    printf '\n== %s ==\n' "$name"
    { "$@" 2>&1; echo $? >"$out/rc"; } | tee "$out/log"
    rc=$(cat "$out/rc")
    missed=$(grep 'MISSED' "$out/log")
    skips=$(sed -n -e 's/^SKIP //p' -e 's/^[A-Za-z0-9_.-]*: skipped (\(.*\))$/\1/p' "$out/log" |
        awk 'NR > 1 { printf "; " } { printf "%s", $0 }')
    [ "$rc" -eq 0 ] || status=1
    if [ "$rc" -eq 0 ] && [ -z "$skips" ]; then
        row="ok"
        n_ok=$((n_ok + 1))
    elif [ "$rc" -eq 0 ]; then
        row="skip"
        n_skipped=$((n_skipped + 1))
    elif [ "$rc" -eq 1 ] && [ -n "$missed" ]; then
        row="MISSED"
        n_missed=$((n_missed + 1))
    else
        row="FAIL"
        n_failed=$((n_failed + 1))
    fi
    extra=""
    [ "$rc" -eq 0 ] || extra=" exit $rc"
    [ -z "$skips" ] || extra="$extra skipped: $skips"
    [ "$row" != FAIL ] || [ -n "$missed" ] || extra="$extra (no MISSED line: see its output)"
    printf '%-7s %-16s%s\n' "$row" "$name" "$extra" | sed 's/ *$//' >>"$out/summary"
    [ -z "$missed" ] || printf '%s\n' "$missed" | sed 's/^/        | /' >>"$out/summary"
}

for prog in "$B"/bench/bench_*; do
    case "$prog" in *.o | *.d) continue ;; esac
    [ -x "$prog" ] || continue
    name=$(basename "$prog")
    # Helper programs used by the scripts below are not benchmarks themselves.
    case "$name" in bench_gencap | bench_pcaploop) continue ;; esac
    run "$name" "$prog"
done

for script in bench/*.sh; do
    [ "$(basename "$script")" = run.sh ] && continue
    run "$(basename "$script" .sh)" sh "$script" "$B"
done

printf '\n== summary ==\n'
cat "$out/summary"
echo "$n_ok ok, $n_missed missed, $n_failed failed, $n_skipped skipped"
exit $status
