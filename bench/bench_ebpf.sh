#!/bin/sh
# Benchmark of the tc-eBPF fast path (`pdm agent --datapath ebpf`, issue 10
# "Done means" (a), (b), (d)), on a veth pair between two namespaces
# (tests/agent/lib.sh), against baselines measured in the same run:
#
#   (a) latency   ping6 RTT (200 echoes 2 ms apart per round) with agents
#                 at both ends, mode v2, minus the RTT without agents:
#                 medians over every echo of the rounds. Target <= 10 us.
#   (b) rate      UDP 64-byte payloads (bench_agent's sendmmsg generator, 2
#                 threads, 1 s) to a port B drops, through the sender's
#                 agent only, mode v2, against no agent, RUNS rounds (one
#                 warm-up second before them, not counted). Target >= 90 %,
#                 held by the median over the rounds of each round's ratio
#                 ebpf / none in packets per second of CPU time the
#                 generator got (see rate_round: on the shared machine the
#                 wall-clock rate follows the other engineers' load more
#                 than the agent; the wall-clock median and the best wall
#                 rates are printed beside it). "marked" is the share of sent
#                 packets that the agent marked. The pair's order alternates
#                 (none first in even rounds, ebpf first in odd ones), so a
#                 load that rises or falls through a pair favours neither.
#                 Each round also has one second of the agent in mode pdm
#                 (RFC 8250, no Global Pointer), not judged: the difference
#                 is the cost of the node-wide Global Pointer counter that
#                 both sending CPUs increment.
#                 Kernel receive timestamping (net_enable_timestamp(), one
#                 clock read per received packet, system-wide) is held on
#                 through both configurations by a socket with SO_TIMESTAMPNS:
#                 the agent's own such socket would otherwise make the
#                 receiving namespace stamp every packet of the flood, a cost
#                 of this one-kernel bench (on two hosts the receiver's kernel
#                 is not the sender agent's), charged to the ebpf rounds only
#                 (and to none rounds at random, when another agent on the
#                 machine holds one).
#   (d) cost      the programs' own time per packet: kernel.bpf_stats_enabled
#                 on for one extra round of (b) and one of (a), then
#                 run_time_ns / run_cnt of each program (bpftool prog show).
#                 Target <= 300 ns (unencrypted), held by the egress program
#                 under the UDP flood; the ping round's figures (cold caches)
#                 are printed for information, and so are the flood's
#                 egress figures with one generator thread and in mode
#                 pdm (the judged figure minus those: what the node-wide
#                 Global Pointer's shared cache line costs with two sending
#                 CPUs). This figure includes the
#                 head reallocation bpf_skb_adjust_room() does for UDP
#                 sockets (10 bytes of headroom, CHECKSUM_PARTIAL: see
#                 docs/fastpath-design.md); bench/bench_ebpf_prog measures the
#                 program alone through BPF_PROG_TEST_RUN (docs/agent.md).
#
# EBPF_HEADROOM=1 runs everything with A's route through a bridge that has a
# VXLAN port, so the sockets leave headroom for the option (information: the
# cost of the head reallocation is the difference to a plain run).
#
# Rounds interleave the configurations (the machine is shared and noisy).
# kernel.bpf_stats_enabled is set back to what it was at exit.
#
#   sh bench/bench_ebpf.sh BUILD_DIR   (as root; pdm and bench/bench_agent built)
#
# Exit 0 when every target is met, 1 with a MISSED line otherwise; SKIP
# lines for what cannot run here.
set -u
if [ $# -ne 1 ] || [ ! -x "$1/pdm" ] || [ ! -x "$1/bench/bench_agent" ]; then
    echo "usage: sh bench/bench_ebpf.sh BUILD_DIR (with pdm and bench/bench_agent built)" >&2
    exit 2
fi
cd "$(dirname "$0")/.." || exit 2
PDM=$(cd "$1" && pwd)/pdm
GEN=$(cd "$1" && pwd)/bench/bench_agent
if [ "$(id -u)" != 0 ]; then
    echo "SKIP ebpf: needs root (network namespaces, BPF)"
    exit 0
fi
BPFTOOL=$(command -v bpftool 2>/dev/null || ls /usr/sbin/bpftool 2>/dev/null)
. tests/agent/lib.sh
T_DIR=$(mktemp -d /tmp/openpdm-bench-ebpf.XXXXXX)
STATS0=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)
trap 'sysctl -q -w kernel.bpf_stats_enabled=$STATS0 2>/dev/null; t_cleanup' EXIT
trap 'exit 1' INT TERM HUP
RUNS=${RUNS:-5}

t_netns be$$ || exit 1
# EBPF_HEADROOM=1 (information, not the judged set-up): A's veth in a bridge
# that also has a VXLAN port. The bridge takes its ports' largest
# needed_headroom and the route's device is the bridge, so a UDP socket
# leaves room for the option and bpf_skb_adjust_room() no longer
# reallocates the head: the difference to a plain run is that
# reallocation's cost (docs/fastpath-design.md).
if [ "${EBPF_HEADROOM:-0}" = 1 ]; then
    { ip -n "$NA" link add br0 type bridge &&
        ip -n "$NA" link add vx0 type vxlan id 7 dstport 4789 local fd99::1 &&
        ip -n "$NA" addr flush dev va && ip -n "$NA" link set va master br0 &&
        ip -n "$NA" link set vx0 master br0 && ip -n "$NA" link set br0 up &&
        ip -n "$NA" addr add $A1/64 dev br0 nodad && ip -n "$NA" addr add $A2/64 dev br0 nodad &&
        sleep 1 && ip netns exec "$NA" ping -6 -c 1 -W 2 $B1 >/dev/null; } ||
        { echo "SKIP ebpf: EBPF_HEADROOM=1: no bridge with a VXLAN port here"; exit 0; }
    echo "ebpf: EBPF_HEADROOM=1: A's route through a bridge with a VXLAN port (headroom for the option)"
fi
ip netns exec "$NB" ip6tables -w -A INPUT -p udp --dport 9 -j DROP
# SO_TIMESTAMPNS is 35 on Linux (asm-generic/socket.h; python's socket
# module lacks the name): receive stamping on for the whole run.
ip netns exec "$NA" "$PY" -c 'import socket, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 35, 1)
time.sleep(3600)' &
t_track $!

# The fast path must load here, else there is nothing to measure.
if ! start_agent "$NA" probe --peer $B1 --mode v2 --datapath ebpf 2>/dev/null; then
    echo "SKIP ebpf: the fast path does not run here ($(head -c 200 "$T_DIR/probe.err"))"
    exit 0
fi
stop_pid $AGENT_PID TERM

start_a() { # NAME [MODE]: the sender's agent on the fast path (v2); sets PA
    start_agent "$NA" "$1" --peer $B1 --mode "${2:-v2}" --datapath ebpf || exit 1
    PA=$AGENT_PID
}
start_b() {
    start_agent "$NB" "$1" --peer $A1 --mode v2 --datapath ebpf || exit 1
    PB=$AGENT_PID
}

# ping_round CONFIG: 200 echoes; every RTT (us) into $T_DIR/rtt.CONFIG.
ping_round() {
    ip netns exec "$NA" ping -6 -c 200 -i 0.002 $B1 |
        sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' |
        awk '{ printf "%.1f\n", $1 * 1000 }' >>"$T_DIR/rtt.$1"
}

# rate_round CONFIG: one second of the generator; "CONFIG PPS SENT ROUND
# CPU_PPS" to rates. CPU_PPS: packets per second of CPU time the generator
# got (user + system, which holds the softirq work done in its context:
# the veth hop and the receiving namespace's drop; `times` after it, in the
# same subshell), so that a CPU taken by another process on the shared
# machine does not count as the agent's cost or gain.
rate_round() {
    out=$(ip netns exec "$NA" "$GEN" send $B1 9 1 64 2; times)
    pps=$(echo "$out" | sed -n 's/.*(\([0-9]*\) pps).*/\1/p')
    n=$(echo "$out" | awk 'NR == 1 { print $2 }')
    cpu=$(echo "$out" | tail -n 1 | awk '{ s = 0; for (i = 1; i <= 2; i++) {
        split($i, t, "m"); s += t[1] * 60 + t[2] } print s }')
    cpp=$(awk "BEGIN { printf \"%.0f\", (${cpu:-0} > 0 ? ${n:-0} / $cpu : 0) }")
    echo "$1 ${pps:-0} ${n:-0} ${r:-0} $cpp" >>"$T_DIR/rates"
}
# The agent's start (program load, segmenting pairs) and its exit (links,
# maps and pairs freed through RCU and workqueues) are kept out of the
# measured seconds: a pause after each, so that neither the ebpf round nor
# the no-agent round after it carries them.
# ebpf_rate_round [pdm]: the judged v2 round, or the RFC 8250 one (no
# Global Pointer: see (b) below), "ebpf-pdm" in rates.
ebpf_rate_round() {
    start_a "ra$r${1:-}" "${1:-v2}"
    sleep 0.3
    rate_round "ebpf${1:+-$1}"
    [ -z "${1:-}" ] && echo "$(counter "ra$r" tx_marked)" >>"$T_DIR/marked"
    stop_pid $PA TERM
    sleep 0.3
}

median() { # FILE
    sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR == 0) print 0;
        else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

r=0
: >"$T_DIR/rates"
: >"$T_DIR/marked"
# A warm-up second, not counted: the first round of a run came out 10-25 %
# below the later ones in packets per CPU second (caches, the namespaces'
# first routes and neighbours), whichever configuration it was.
rate_round warmup
while [ $r -lt "$RUNS" ]; do
    if [ $((r % 2)) = 0 ]; then
        rate_round none
        ebpf_rate_round
        ebpf_rate_round pdm
    else
        ebpf_rate_round pdm
        ebpf_rate_round
        rate_round none
    fi
    ping_round none
    start_a "la$r"
    start_b "lb$r"
    ping_round ebpf
    stop_pid $PA TERM
    stop_pid $PB TERM
    r=$((r + 1))
done

# (d): the programs' run time, bpf_stats on for one round of each.
prog_ids() { # PID: the ids of the programs behind the links PID holds
    grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{ print $2 }' | sort -u
}
prog_cost() { # ID: "name run_time_ns run_cnt"
    "$BPFTOOL" prog show id "$1" 2>/dev/null |
        awk 'NR == 1 { for (i = 1; i < NF; i++) { if ($i == "name") n = $(i + 1);
                 if ($i == "run_time_ns") t = $(i + 1); if ($i == "run_cnt") c = $(i + 1) } }
             END { print n, t + 0, c + 0 }'
}
costs() { # LABEL PID: "LABEL name run_time_ns run_cnt" of each of PID's programs
    for id in $(prog_ids "$2"); do
        echo "$1 $(prog_cost "$id")" >>"$T_DIR/cost"
    done
}
: >"$T_DIR/cost"
if [ -z "$BPFTOOL" ]; then
    echo "SKIP ebpf (d): no bpftool"
elif ! sysctl -q -w kernel.bpf_stats_enabled=1 2>/dev/null; then
    echo "SKIP ebpf (d): cannot set kernel.bpf_stats_enabled"
else
    start_a sa
    rate_round stats
    costs udp-sender $PA
    stop_pid $PA TERM
    # Information: the same flood from one generator thread (one sending
    # CPU), and in mode pdm (no Global Pointer). Each program's counters
    # start at 0 with its agent. The judged figure minus each of these is
    # what the node-wide Global Pointer's cache line, taken in turn by the
    # two sending CPUs, costs per packet here.
    start_a s1
    ip netns exec "$NA" "$GEN" send $B1 9 1 64 1 >/dev/null
    costs udp-sender-1-thread $PA
    stop_pid $PA TERM
    start_a sp pdm
    ip netns exec "$NA" "$GEN" send $B1 9 1 64 2 >/dev/null
    costs udp-sender-pdm $PA
    stop_pid $PA TERM
    start_a pa
    start_b pb
    ping_round stats
    costs ping-A $PA
    costs ping-B $PB
    stop_pid $PA TERM
    stop_pid $PB TERM
    sysctl -q -w kernel.bpf_stats_enabled="$STATS0"
fi

[ -n "${BENCH_EBPF_RATES:-}" ] && cp "$T_DIR/rates" "$BENCH_EBPF_RATES"
status=0
best() { awk -v c="$1" '$1 == c && $2 > b { b = $2 } END { print b + 0 }' "$T_DIR/rates"; }
none=$(best none)
fast=$(best ebpf)
sent=$(awk '$1 == "ebpf" { n += $3 } END { print n + 0 }' "$T_DIR/rates")
marked=$(awk '{ n += $1 } END { print n + 0 }' "$T_DIR/marked")
share=$(awk "BEGIN { printf \"%.1f\", ($none > 0 ? 100 * $fast / $none : 0) }")
# Each round's ebpf rate over the no-agent rate of the same round (measured
# right before or right after it): the median of these ratios follows the
# load less than the best rates do.
# Judged on the rates per CPU second (column 5); the wall-clock ratios
# (column 2) are printed beside them.
ratios() { # COLUMN [CONFIG]
    awk -v c="$1" -v x="${2:-ebpf}" '$1 == "none" { n[$4] = $c } $1 == x { e[$4] = $c }
        END { for (r in e) if (n[r] > 0) printf "%.1f\n", 100 * e[r] / n[r] }' "$T_DIR/rates"
}
ratios 5 >"$T_DIR/ratios"
ratios 2 >"$T_DIR/ratios.wall"
ratios 5 ebpf-pdm >"$T_DIR/ratios.pdm"
wall=$(median "$T_DIR/ratios.wall")
pair=$(median "$T_DIR/ratios")
mark_share=$(awk "BEGIN { printf \"%.1f\", ($sent > 0 ? 100 * $marked / $sent : 0) }")
m0=$(median "$T_DIR/rtt.none")
m1=$(median "$T_DIR/rtt.ebpf")
added=$(awk "BEGIN { printf \"%.1f\", $m1 - $m0 }")

echo "(a) ping6 RTT median: no agent ${m0} us, ebpf at both ends ${m1} us: +${added} us" \
    "(target <= 10 us; $(wc -l <"$T_DIR/rtt.ebpf") echoes each over $RUNS rounds)"
if awk "BEGIN { exit !($added > 10) }"; then
    echo "MISSED ebpf (a): RTT through both agents +${added} us > 10 us"
    status=1
fi
echo "(b) UDP 64 B rate: median of the $RUNS rounds' ebpf/none ratios of packets per CPU" \
    "second ${pair} % (target >= 90 %; rounds $(sort -n "$T_DIR/ratios" | tr '\n' ' ')%);" \
    "wall clock: median ${wall} % (rounds $(sort -n "$T_DIR/ratios.wall" | tr '\n' ' ')%)," \
    "best of each: no agent $none pps, ebpf sender $fast pps (${share} %);" \
    "marked ${mark_share} % of the packets sent"
# The RFC 8250 mode, same rounds, not judged: its option has no Global
# Pointer, the one field every sending CPU writes (one counter per kind of
# source address for the whole node, draft-04 §6.2: an atomic add on a
# cache line that moves between the generator's two CPUs on each packet).
# The difference between the two is what that counter costs here.
echo "(b) RFC 8250 mode (no Global Pointer), same rounds, information: median" \
    "$(median "$T_DIR/ratios.pdm") % of no agent per CPU second" \
    "(rounds $(sort -n "$T_DIR/ratios.pdm" | tr '\n' ' ')%)"
if awk "BEGIN { exit !($pair < 90) }"; then
    echo "MISSED ebpf (b): UDP rate ${pair} % of no agent < 90 % (median of paired rounds, packets per CPU second; wall clock ${wall} %)"
    status=1
fi
if [ -s "$T_DIR/cost" ]; then
    # The target is held by the flood's egress figure (warm caches, the
    # packets that get stamped); a ping every 2 ms finds caches cold and
    # the core in a sleep state: printed for information.
    while read -r what name t c; do
        [ "$c" -gt 0 ] || continue
        ns=$(awk "BEGIN { printf \"%.0f\", $t / $c }")
        case "$what $name" in
        "udp-sender pdm_egress")
            echo "(d) $what $name: ${ns} ns/packet over $c runs (target <= 300 ns)"
            if [ "$ns" -gt 300 ]; then
                echo "MISSED ebpf (d): $what $name ${ns} ns/packet > 300 ns"
                status=1
            fi
            ;;
        "udp-sender-1-thread pdm_egress")
            echo "(d) $what $name: ${ns} ns/packet over $c runs (v2, one sending thread: information)"
            ;;
        "udp-sender-pdm pdm_egress")
            echo "(d) $what $name: ${ns} ns/packet over $c runs (mode pdm, no Global Pointer: information)"
            ;;
        "udp-sender-1-thread "* | "udp-sender-pdm "*) ;; # those rounds' other programs
        *) echo "(d) $what $name: ${ns} ns/packet over $c runs (cold, information)" ;;
        esac
    done <"$T_DIR/cost"
fi
exit $status
