#!/bin/sh
# `pdm agent` and a path MTU smaller than the link MTU: no packet may be
# too big for the path because of the option, and none is lost to it.
#
#   A (va, MTU 1500) --- (ra) R (rb, MTU 1400) --- (vb, MTU 1400) B
#
# A sends 4 MB over TCP to B through the router R. A's first full-size
# segments carry the option and exceed 1400 bytes: R answers ICMPv6 Packet
# Too Big (MTU 1400); A's stack lowers its segments to fit 1400, and A's
# agent, which saw the Packet Too Big too, sends those that no longer have
# room for the option without it (counted), rather than too big. The
# transfer completes intact. A second connection then starts with an MSS
# that leaves room for the option on that path (the agent clamps the SYN
# with the learned path MTU): 8 MB, every packet on R's 1400-byte link
# carries the option and fits. In pdm and v2 mode.
#
#   sh tests/it_agent_pmtu.sh BUILD_DIR      (as root, from the repository root)
set -u
. tests/agent/lib.sh
t_pdm_arg "$@"
T_DIR=$(mktemp -d /tmp/openpdm-it-agent-pmtu.XXXXXX)
trap 't_cleanup' EXIT
trap 'exit 1' INT TERM HUP
TR=tests/agent/traffic.py
B3=2001:db8:3::2

NA=opdm-pa-$$
NB=opdm-pb-$$
NR=opdm-pr-$$
T_NS="$NA $NB $NR"
setup() {
    ip netns add $NA && ip netns add $NB && ip netns add $NR || return 1
    for n in $NA $NB $NR; do
        # No duplicate address detection: link-local addresses (the
        # router's next hop) are usable at once.
        ip netns exec $n sysctl -qw net.ipv6.conf.default.accept_dad=0
        ip netns exec $n sysctl -qw net.ipv6.conf.all.accept_dad=0
    done
    ip link add va netns $NA mtu 1500 type veth peer name ra netns $NR mtu 1500 || return 1
    ip link add vb netns $NB mtu 1400 type veth peer name rb netns $NR mtu 1400 || return 1
    for n in $NA $NB $NR; do
        ip -n $n link set lo up
    done
    ip -n $NA link set dev va up
    ip -n $NB link set dev vb up
    ip -n $NR link set dev ra up
    ip -n $NR link set dev rb up
    ip netns exec $NR sysctl -qw net.ipv6.conf.all.forwarding=1
    ip -n $NA addr add $A1/64 dev va nodad
    ip -n $NR addr add 2001:db8:1::ff/64 dev ra nodad
    ip -n $NR addr add 2001:db8:3::ff/64 dev rb nodad
    ip -n $NB addr add $B3/64 dev vb nodad
    ip -n $NA route add 2001:db8:3::/64 via 2001:db8:1::ff
    ip -n $NB route add 2001:db8:1::/64 via 2001:db8:3::ff
    for i in 1 2 3; do
        ip netns exec $NA ping -6 -c 1 -W 2 $B3 >/dev/null && return 0
    done
    return 1
}
check "topology A - R - B with a 1400-byte hop" setup
head -c 8000000 /dev/urandom >"$T_DIR/bulk.bin"
head -c 4000000 /dev/urandom >"$T_DIR/small.bin"

# transfer NAME PORT FILE: A sends FILE to B over TCP; checks it arrived.
transfer() {
    ip netns exec $NB timeout 60 $PY $TR tcp-recv $B3 $2 >"$T_DIR/$1.recv" 2>&1 &
    rpid=$!
    t_track $rpid
    wait_for "$T_DIR/$1.recv" listening || bad "$1: TCP receiver did not start"
    sent=$(ip netns exec $NA timeout 50 $PY $TR tcp-send $B3 $2 "$3")
    wait $rpid
    got=$(grep '^bytes' "$T_DIR/$1.recv")
    check "$1: arrives intact" test -n "$sent" -a "$sent" = "$got"
}

for m in pdm v2; do
    ip -n $NA -6 route flush cache 2>/dev/null
    check "$m: agent A" start_agent $NA a-$m --peer $B3 --mode $m
    pa=$AGENT_PID
    check "$m: agent B" start_agent $NB b-$m --peer $A1 --mode $m
    pb=$AGENT_PID
    transfer "$m first connection (4 MB)" 5001 "$T_DIR/small.bin"
    check "$m: A's agent learned the path MTU ($(counter a-$m rx_packet_too_big))" \
        test "$(counter a-$m rx_packet_too_big)" -ge 1
    check "$m: segments without room went without the option ($(counter a-$m tx_unchanged_mtu))" \
        test "$(counter a-$m tx_unchanged_mtu)" -ge 1

    ip netns exec $NR tcpdump -i rb -w "$T_DIR/$m.pcap" -s 200 -B 32768 -U ip6 \
        2>"$T_DIR/$m.td" &
    tcpd=$!
    t_track $tcpd
    wait_for "$T_DIR/$m.td" "listening on" || bad "$m: tcpdump did not start"
    before=$(counter a-$m tx_unchanged_mtu)
    transfer "$m second connection (8 MB)" 5002 "$T_DIR/bulk.bin"
    check "$m: second connection: every segment had room ($before $(counter a-$m tx_unchanged_mtu))" \
        test "$(counter a-$m tx_unchanged_mtu)" -eq "$before"
    sleep 1
    stop_pid $tcpd INT
    stop_pid $pa TERM
    stop_pid $pb TERM
    # On the 1400-byte hop: every packet of the flow carries the option
    # and fits.
    $PY tests/agent/pcapcheck.py "$T_DIR/$m.pcap" --mode $m --pair $A1 $B3 --mtu 1400 \
        --min-enabled 5000 >"$T_DIR/$m.out" 2>&1
    add_result "$T_DIR/$m.out"
    grep -E '^(FAIL|  )' "$T_DIR/$m.out" >&2
done
t_result
