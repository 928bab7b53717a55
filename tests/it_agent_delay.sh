#!/bin/sh
# What `pdm agent` measures, against known delays: a UDP server that answers
# after 5 ms, behind a link that adds 2 ms each way (a bridge namespace
# running tests/agent/delayer.py: the kernel may lack sch_netem).
#
#   A (va) --- (ma) M (mb) --- (vb) B       agents in A and B, mode pdm
#
# From the client's records (RFC 8250 §4 derivations over the options the
# two agents exchanged): the server delay (the DeltaTLR the server's agent
# put in its answers) must be within 10% of 5 ms, and the round-trip delay
# (client DeltaTLS minus the server DeltaTLR it follows) within 20% of the
# round trip ping measures on the same link at the same time.
#
#   sh tests/it_agent_delay.sh BUILD_DIR      (as root, from the repository root)
set -u
. tests/agent/lib.sh
t_pdm_arg "$@"
T_DIR=$(mktemp -d /tmp/openpdm-it-agent-delay.XXXXXX)
trap 't_cleanup' EXIT
trap 'exit 1' INT TERM HUP
TR=tests/agent/traffic.py
SERVER_MS=5
LINK_MS=2

NA=opdm-da-$$
NB=opdm-db-$$
NM=opdm-dm-$$
T_NS="$NA $NB $NM"
setup() {
    ip netns add $NA && ip netns add $NB && ip netns add $NM || return 1
    ip link add va netns $NA type veth peer name ma netns $NM || return 1
    ip link add vb netns $NB type veth peer name mb netns $NM || return 1
    for i in ma mb; do
        ip netns exec $NM sysctl -qw net.ipv6.conf.$i.disable_ipv6=1
        ip -n $NM link set dev $i promisc on up
    done
    ip -n $NA link set lo up
    ip -n $NB link set lo up
    ip -n $NA link set va up
    ip -n $NB link set vb up
    ip -n $NA addr add $A1/64 dev va nodad
    ip -n $NB addr add $B1/64 dev vb nodad
    ip netns exec $NM $PY tests/agent/delayer.py ma mb $LINK_MS >"$T_DIR/delayer.out" 2>&1 &
    t_track $!
    wait_for "$T_DIR/delayer.out" bridging || return 1
    ip netns exec $NA ping -6 -c 1 -W 2 $B1 >/dev/null
}
check "topology with a 2 ms link" setup

check "agent A starts" start_agent $NA a --peer $B1 --records "$T_DIR/a.jsonl"
pa=$AGENT_PID
check "agent B starts" start_agent $NB b --peer $A1
pb=$AGENT_PID

ip netns exec $NB $PY $TR udp-echo :: 7000 --delay-ms $SERVER_MS >"$T_DIR/echo.out" 2>&1 &
t_track $!
wait_for "$T_DIR/echo.out" listening || bad "UDP server did not start"
# The exchange and ping at the same time, so that both see the same link.
ip netns exec $NA ping -6 -c 40 -i 0.025 $B1 >"$T_DIR/ping.out" 2>&1 &
ppid=$!
out=$(ip netns exec $NA $PY $TR udp-client $B1 7000 40 --interval-ms 15)
wait $ppid
check "UDP exchange ($out)" [ "$out" = "sent 40 received 40" ]
# rtt min/avg/max/mdev = a/b/c/d ms: the average.
rtt=$(sed -n 's|^rtt [^=]*= [0-9.]*/\([0-9.]*\)/.*|\1|p' "$T_DIR/ping.out")
check "ping measured a round trip ($rtt ms)" [ -n "$rtt" ]
sleep 0.5 # the records file is flushed 5 times a second
stop_pid $pa TERM
stop_pid $pb TERM
$PY tests/agent/records.py "$T_DIR/a.jsonl" --delays --server $B1 --port 7000 \
    --delay-ms $SERVER_MS --rtt-ms "${rtt:-0}" >"$T_DIR/rec.out" 2>&1
add_result "$T_DIR/rec.out"
grep -E '^(FAIL|note)' "$T_DIR/rec.out" >&2
t_result
