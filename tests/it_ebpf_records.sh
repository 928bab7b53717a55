#!/bin/sh
# Records of the tc-eBPF fast path under a flood (`pdm agent --datapath ebpf
# --records`, tools/agent/ebpf.c drain()): a 1 s UDP flood of 64-byte
# packets (bench_agent's generator, 2 threads) through the sender's agent,
# mode v2, to a port the other namespace drops. Every marked packet's
# record is either in the records file or counted as dropped by a full ring
# (ring_dropped); none is lost in user space (records_errors holds nothing
# but ring_dropped), and the file has a line for each record written. Before
# drain(), one ring_buffer__consume() held the main thread for the whole
# flood and the 8 MiB buffer overflowed (27,000 of 367,000 written).
#
#   sh tests/it_ebpf_records.sh BUILD_DIR   (as root, from the repository root)
#
# SKIP without root, the fast path, or bench/bench_agent.
# Ends with "RESULT <passed> <failed> <skipped>".
set -u
. tests/agent/lib.sh
t_pdm_arg "$@"
GEN=$(cd "$1" && pwd)/bench/bench_agent
T_DIR=$(mktemp -d /tmp/openpdm-it-ebpf-rec.XXXXXX)
trap 't_cleanup' EXIT
trap 'exit 1' INT TERM HUP

if [ "$(id -u)" != 0 ]; then
    skip "ebpf-records: needs root (network namespaces, BPF)"
    t_result
    exit 0
fi
if [ ! -x "$GEN" ]; then
    skip "ebpf-records: no $GEN (make all builds it)"
    t_result
    exit 0
fi
t_netns er$$ || {
    bad "ebpf-records: namespaces"
    t_result
    exit 1
}
ip netns exec "$NB" ip6tables -w -A INPUT -p udp --dport 9 -j DROP
if ! start_agent "$NA" a --peer $B1 --mode v2 --datapath ebpf \
    --records "$T_DIR/rec.jsonl" 2>/dev/null; then
    if grep -q "no eBPF fast path\|did not load\|TCX" "$T_DIR/a.err"; then
        skip "ebpf-records: the fast path does not run here ($(head -c 200 "$T_DIR/a.err"))"
        t_result
        exit 0
    fi
    bad "ebpf-records: agent did not start: $(head -c 300 "$T_DIR/a.err")"
    t_result
    exit 1
fi
PA=$AGENT_PID
ip netns exec "$NA" timeout 20 "$GEN" send $B1 9 1 64 2 >"$T_DIR/gen.out"
# What is left in the ring goes out on the next ticks of the main loop
# (50 ms apart): read until every record is accounted for, 5 s at most.
_i=0
while :; do
    marked=$(counter a tx_marked)
    written=$(counter a records_written)
    errors=$(counter a records_errors)
    dropped=$(counter a ring_dropped)
    [ $((${written:-0} + ${dropped:-0})) -lt "${marked:-0}" ] && [ $_i -lt 50 ] || break
    sleep 0.1
    _i=$((_i + 1))
done
stop_pid $PA TERM
lines=$(wc -l <"$T_DIR/rec.jsonl")
echo "note: flood $(cat "$T_DIR/gen.out"); marked $marked, records written $written," \
    "errors $errors (ring_dropped $dropped), file $lines lines"
check "ebpf-records: the flood was marked (${marked:-0} > 10000)" [ "${marked:-0}" -gt 10000 ]
check "ebpf-records: written + ring_dropped = marked ($written + $dropped, $marked)" \
    [ $((${written:-0} + ${dropped:-0})) -eq "${marked:-0}" ]
check "ebpf-records: no record lost in user space (records_errors $errors = ring_dropped $dropped)" \
    [ "${errors:-1}" -eq "${dropped:-0}" ]
check "ebpf-records: the file holds every record written ($lines >= $written)" \
    [ "$lines" -ge "${written:-0}" ]
check "ebpf-records: the file holds no more than marked ($lines <= $marked)" \
    [ "$lines" -le "${marked:-0}" ]
check "ebpf-records: the agent exited cleanly (status $STOP_RC)" [ "$STOP_RC" -eq 0 ]
t_result
