#!/bin/sh
# `make bench`: runs every benchmark against the build in $1 (built with
# -O2 -march=native by the Makefile). Each compares against a baseline
# measured in the same run, because this machine is shared and noisy.
set -u
B=${1:-build-bench}
cd "$(dirname "$0")/.."
status=0
section() { printf '\n== %s ==\n' "$1"; }

for prog in "$B"/bench/bench_*; do
    case "$prog" in *.o | *.d) continue ;; esac
    [ -x "$prog" ] || continue
    name=$(basename "$prog")
    # Helper programs used by the scripts below are not benchmarks themselves.
    case "$name" in bench_gencap | bench_pcaploop) continue ;; esac
    section "$name"
    "$prog" || status=1
done

for script in bench/*.sh; do
    [ "$(basename "$script")" = run.sh ] && continue
    section "$(basename "$script" .sh)"
    sh "$script" "$B" || status=1
done
exit $status
