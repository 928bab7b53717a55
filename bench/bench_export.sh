#!/bin/sh
# Benchmark of the IPFIX export's cost in `pdm agent` (issue 12,
# docs/export.md), standalone or by `make bench` through bench/run.sh:
#
#   sh bench/bench_export.sh BUILD_DIR      (as root; BUILD_DIR/pdm and
#                                            BUILD_DIR/bench/bench_agent built)
#
# The set-up of bench/agent.sh: UDP, 64-byte payloads, bench_agent's
# sendmmsg() generator (2 threads) from namespace A to a port B drops,
# through an agent in A (mode v2, queues 0-1, fanout). Configurations:
#
#   v2            no export (the baseline, measured in the same run)
#   ipfix-udp     --ipfix to a UDP collector in A (a socket that reads
#                 and discards), --ipfix-interval 1
#   ipfix-down    --ipfix-transport tcp to a port nobody listens on: every
#                 record dropped, counted; must not slow packets down
#
# For each: packets/s the agent handled (best of 5 rounds of 1 s, rounds
# interleaving the configurations) and the agent's CPU time per packet
# (user + system, all threads, /proc). Target: each export configuration
# at least 80 % of the baseline rate; exit 1 (MISSED) when one misses it.
set -u
if [ $# -ne 1 ] || [ ! -x "$1/pdm" ] || [ ! -x "$1/bench/bench_agent" ]; then
    echo "usage: sh bench/bench_export.sh BUILD_DIR (with pdm and bench/bench_agent built)" >&2
    exit 2
fi
cd "$(dirname "$0")/.."
PDM=$(cd "$1" && pwd)/pdm
GEN=$(cd "$1" && pwd)/bench/bench_agent
if [ "$(id -u)" != 0 ]; then
    echo "SKIP export: needs root for network namespaces"
    exit 0
fi
if "$PDM" analyze --ipfix '[::1]:9' /dev/null 2>&1 | grep -q 'no IPFIX export'; then
    echo "SKIP export: this build has no IPFIX export (libfixbuf-dev missing)"
    exit 0
fi
. tests/agent/lib.sh
T_DIR=$(mktemp -d /tmp/openpdm-bench-export.XXXXXX)
trap 't_cleanup' EXIT
trap 'exit 1' INT TERM HUP
RUNS=5
SECONDS_PER_RUN=1
SINK=47391
DOWN=47392
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

t_netns e$$ || exit 1
ip netns exec "$NB" ip6tables -w -A INPUT -p udp --dport 9 -j DROP
ip netns exec "$NA" "$PY" -c "
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(('::1', $SINK))
while True:
    s.recv(65536)
" &
t_track $!

agent_args() { # CONFIG
    case $1 in
    v2) echo "" ;;
    ipfix-udp) echo "--ipfix [::1]:$SINK --ipfix-interval 1" ;;
    ipfix-down) echo "--ipfix [::1]:$DOWN --ipfix-transport tcp --ipfix-interval 1" ;;
    esac
}
cpu_ticks() { # PID: utime + stime in clock ticks
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}
HZ=$(getconf CLK_TCK)
CONFIGS="v2 ipfix-udp ipfix-down"

r=0
while [ $r -lt $RUNS ]; do
    for cfg in $CONFIGS; do
        # shellcheck disable=SC2046
        start_agent "$NA" "a-$cfg" --peer $B1 --mode v2 $(agent_args $cfg) --queue 0-1 \
            --fanout || { echo "agent A ($cfg) did not start" >&2; exit 1; }
        pa=$AGENT_PID
        c0=$(cpu_ticks $pa)
        out=$(ip netns exec "$NA" "$GEN" send $B1 9 $SECONDS_PER_RUN 64 2)
        secs=$(echo "$out" | awk '{ print $5 }')
        q=$(counter "a-$cfg" nfq_packets)
        sleep 1.1 # one export interval: its records go out while the agent runs
        sent=$(counter "a-$cfg" ipfix_sent)
        dropped=$(counter "a-$cfg" ipfix_dropped)
        echo "$cfg $(awk "BEGIN { printf \"%.0f\", $q / $secs }") $q $(($(cpu_ticks $pa) - c0)) \
${sent:-0} ${dropped:-0}" >>"$T_DIR/runs"
        stop_pid $pa TERM
    done
    r=$((r + 1))
done

printf '%-12s %10s %8s %11s %12s %12s\n' config packets/s vs_base cpu_ns/pkt ipfix_sent \
    ipfix_dropped
base=$(awk '$1 == "v2" && $2 > b { b = $2 } END { print b + 0 }' "$T_DIR/runs")
status=0
for cfg in $CONFIGS; do
    best=$(awk -v c=$cfg '$1 == c && $2 > b { b = $2 } END { print b + 0 }' "$T_DIR/runs")
    # shellcheck disable=SC2046
    set -- $(awk -v c=$cfg '$1 == c { q += $3; t += $4; s += $5; d += $6 }
        END { print q, t, s, d }' "$T_DIR/runs")
    cpu=$(awk "BEGIN { printf \"%.0f\", $2 * 1e9 / $HZ / $1 }")
    vs=$(awk "BEGIN { printf \"%.0f%%\", 100 * $best / $base }")
    if [ $cfg != v2 ] && [ $((best * 100)) -lt $((base * 80)) ]; then
        status=1
        vs="$vs MISSED"
    fi
    [ $cfg = v2 ] && set -- "$1" "$2" - -
    printf '%-12s %10s %8s %11s %12s %12s\n' $cfg "$best" "$vs" "$cpu" "$3" "$4"
done
echo "(packets/s: best of $RUNS runs of ${SECONDS_PER_RUN} s, agent in A, mode v2; vs_base:"
echo " against no export; target >= 80%; cpu_ns/pkt: the agent's CPU per packet it handled,"
echo " its main thread's export work included; ipfix_*: records, totals over the runs)"
exit $status
