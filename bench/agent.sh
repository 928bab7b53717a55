#!/bin/sh
# Benchmark of `pdm agent` on a veth pair between two network namespaces,
# standalone (also run by `make bench` through bench/run.sh):
#
#   sh bench/agent.sh BUILD_DIR      (as root; BUILD_DIR/pdm and
#                                     BUILD_DIR/bench/bench_agent built)
#
# In one run, for: no agent; the agent queueing and accepting without
# looking (--passthrough: the NFQUEUE floor); and each mode (pdm, v2,
# v2-encrypted):
#
#   packet rate   UDP, 64-byte payloads (112-byte packets), sent by
#                 bench_agent's sendmmsg() generator with 2 threads
#                 to a port B drops, through an agent at the sender only
#                 (queues 0-1, fanout: one per core): packets the agent
#                 handled per second (with no agent: packets sent).
#                 "queued" is the share of the packets sent that the agent
#                 saw (the rest passed by fail-open, unmarked, when its
#                 queue overflowed), "marked" the share that carry PDM.
#   cpu/pkt       the sending agent's CPU time (user + system, all its
#                 threads, from /proc) per packet it handled: steadier than
#                 the rate on a loaded machine
#   latency       ping6 RTT (300 echoes, 2 ms apart) with an agent at both
#                 ends: 4 passages through a queue per round trip.
#
# The rate is the best of 5 rounds of 1 s, the rounds interleaving the
# configurations (the machine is shared: load comes and goes). Target:
# every mode at least 80 % of the passthrough rate; exit status 1 when one
# misses it.
set -u
if [ $# -ne 1 ] || [ ! -x "$1/pdm" ] || [ ! -x "$1/bench/bench_agent" ]; then
    echo "usage: sh bench/agent.sh BUILD_DIR (with pdm and bench/bench_agent built)" >&2
    exit 2
fi
cd "$(dirname "$0")/.."
PDM=$(cd "$1" && pwd)/pdm
GEN=$(cd "$1" && pwd)/bench/bench_agent
if [ "$(id -u)" != 0 ]; then
    echo "agent: skipped (needs root for network namespaces)"
    exit 0
fi
. tests/agent/lib.sh
T_DIR=$(mktemp -d /tmp/openpdm-bench-agent.XXXXXX)
trap 't_cleanup' EXIT
trap 'exit 1' INT TERM HUP
RUNS=5
SECONDS_PER_RUN=1

t_netns b$$ || exit 1
ip netns exec "$NB" ip6tables -w -A INPUT -p udp --dport 9 -j DROP
SALT=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "PDMV2_SECRET $A1 $B1 0020-0001-0001 $SALT $SECRET" >"$T_DIR/keys.log"
chmod 600 "$T_DIR/keys.log"

agent_args() { # CONFIG PEER STATE
    case $1 in
    passthrough) echo "--peer $2 --passthrough" ;;
    v2-encrypted) echo "--peer $2 --mode $1 --keylog $T_DIR/keys.log --state $3" ;;
    *) echo "--peer $2 --mode $1" ;;
    esac
}

cpu_ticks() { # PID: utime + stime in clock ticks
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}
HZ=$(getconf CLK_TCK)
CONFIGS="none passthrough pdm v2 v2-encrypted"

# Rounds interleave the configurations, so that the machine's load
# fluctuations hit them all alike; each keeps its best rate.
r=0
while [ $r -lt $RUNS ]; do
    for cfg in $CONFIGS; do
        pa=""
        if [ $cfg != none ]; then
            # shellcheck disable=SC2046
            start_agent "$NA" "a-$cfg" $(agent_args $cfg $B1 "$T_DIR/a.state") --queue 0-1 \
                --fanout || { echo "agent A ($cfg) did not start" >&2; exit 1; }
            pa=$AGENT_PID
            c0=$(cpu_ticks $pa)
        fi
        out=$(ip netns exec "$NA" "$GEN" send $B1 9 $SECONDS_PER_RUN 64 2)
        pps=$(echo "$out" | sed -n 's/.*(\([0-9]*\) pps).*/\1/p')
        n=$(echo "$out" | awk '{ print $2 }')
        secs=$(echo "$out" | awk '{ print $5 }')
        if [ -n "$pa" ]; then
            q=$(counter "a-$cfg" nfq_packets)
            # The agent's rate: packets it handled (the rest, if any, went
            # by fail-open when its queue overflowed).
            pps=$(awk "BEGIN { printf \"%.0f\", $q / $secs }")
            echo "$cfg $n $q $(counter "a-$cfg" tx_marked) $(($(cpu_ticks $pa) - c0))" \
                >>"$T_DIR/counts"
            stop_pid $pa TERM
        fi
        echo "$cfg $pps" >>"$T_DIR/rates"
    done
    r=$((r + 1))
done

# Latency: an agent at both ends.
for cfg in $CONFIGS; do
    pa=""
    pb=""
    if [ $cfg != none ]; then
        # shellcheck disable=SC2046
        start_agent "$NA" "a-$cfg" $(agent_args $cfg $B1 "$T_DIR/a.state") --queue 0-1 \
            --fanout || exit 1
        pa=$AGENT_PID
        # shellcheck disable=SC2046
        start_agent "$NB" "b-$cfg" $(agent_args $cfg $A1 "$T_DIR/b.state") --queue 0-1 \
            --fanout || exit 1
        pb=$AGENT_PID
    fi
    ip netns exec "$NA" ping -6 -q -c 300 -i 0.002 $B1 |
        sed -n "s|^rtt [^=]*= \([0-9.]*\)/\([0-9.]*\)/.*|$cfg \1 \2|p" >>"$T_DIR/rtt"
    for p in $pa $pb; do
        stop_pid "$p" TERM
    done
done

printf '%-14s %10s %9s %8s %8s %11s %11s %11s\n' config packets/s vs_floor queued marked \
    cpu_ns/pkt rtt_avg_us rtt_min_us
floor=$(awk '$1 == "passthrough" && $2 > b { b = $2 } END { print b + 0 }' "$T_DIR/rates")
status=0
for cfg in $CONFIGS; do
    best=$(awk -v c=$cfg '$1 == c && $2 > b { b = $2 } END { print b + 0 }' "$T_DIR/rates")
    vs=-
    queued=-
    marked=-
    cpu=-
    if [ $cfg != none ]; then
        vs=$(awk "BEGIN { printf \"%.0f%%\", 100 * $best / $floor }")
        # Totals over the rounds: packets sent, seen, marked, CPU ticks.
        set -- $(awk -v c=$cfg '$1 == c { n += $2; s += $3; m += $4; t += $5 }
            END { print n, s, m, t }' "$T_DIR/counts")
        cpu=$(awk "BEGIN { printf \"%.0f\", $4 * 1e9 / $HZ / $2 }")
        queued=$(awk "BEGIN { printf \"%.1f%%\", 100 * $2 / $1 }")
        marked=$(awk "BEGIN { printf \"%.1f%%\", 100 * $3 / $1 }")
        if [ $cfg != passthrough ]; then
            if [ $((best * 100)) -lt $((floor * 80)) ]; then
                status=1
                vs="$vs MISSED"
            fi
        fi
    fi
    rmin=$(awk -v c=$cfg '$1 == c { printf "%.0f", $2 * 1000 }' "$T_DIR/rtt")
    ravg=$(awk -v c=$cfg '$1 == c { printf "%.0f", $3 * 1000 }' "$T_DIR/rtt")
    printf '%-14s %10s %9s %8s %8s %11s %11s %11s\n' $cfg "$best" "$vs" "$queued" "$marked" \
        "$cpu" "$ravg" "$rmin"
done
echo "(packets/s: best of $RUNS runs of ${SECONDS_PER_RUN} s; vs_floor: against --passthrough;"
echo " target: each mode >= 80% of the floor; cpu_ns/pkt: the sending agent's CPU per"
echo " packet it handled; rtt: ping6 through agents at both ends)"
exit $status
