#!/bin/sh
# The tc-eBPF fast path follows the peers' routes (tools/agent/ebpf.c
# ifaces_follow()): agent A starts with two peers, B1 (routed through va)
# and C = 2001:db8:9::2, for which no route exists yet. Then a second veth
# pair (vc in A, vd in B) and C's address are made, with the agent running:
#   - within a few seconds A says "now routes through vc: TCX links
#     attached", and --status counts 2 interfaces;
#   - pings to C go out of vc with a PDM option (a capture on vc), and B1's
#     still do on va;
#   - a TCP transfer to C (1 MB) arrives with its SHA-256, every data
#     segment on vc carries an option (vc's segmenting pair exists), and
#     gso_unmarked stays 0;
#   - SIGTERM: A exits 0, no TCX link is left on va or vc, and both
#     segmenting pairs are gone.
# Bounded: every wait has a limit; cleanup by trap.
#
#   sh tests/it_ebpf_follow.sh BUILD_DIR   (as root, from the repository root)
#
# SKIP without root, tcpdump or the fast path.
set -u
. tests/agent/lib.sh
t_pdm_arg "$@"
T_DIR=$(mktemp -d /tmp/openpdm-it-follow.XXXXXX)
trap 't_cleanup' EXIT
trap 'exit 1' INT TERM HUP
TR=tests/agent/traffic.py
C_A=2001:db8:9::1
C_B=2001:db8:9::2

if [ "$(id -u)" != 0 ] || ! command -v tcpdump >/dev/null 2>&1; then
    skip "ebpf-follow: needs root and tcpdump"
    t_result
    exit 0
fi
t_netns fo$$ || {
    bad "ebpf-follow: namespaces"
    t_result
    exit 1
}
if ! start_agent "$NA" a --peer "$B1" --peer "$C_B" --mode v2 --datapath ebpf 2>/dev/null; then
    if grep -q "no eBPF fast path\|--datapath ebpf:" "$T_DIR/a.err"; then
        skip "ebpf-follow: no eBPF fast path here ($(head -c 200 "$T_DIR/a.err"))"
        t_result
        exit 0
    fi
    bad "agent A did not start: $(head -c 300 "$T_DIR/a.err")"
    t_result
    exit 1
fi
pa=$AGENT_PID
check "at start, C has no route: said" grep -q "peer $C_B/128: no route" "$T_DIR/a.err"
check "one interface at start" [ "$(counter a interfaces)" = 1 ]

# The second link, made while the agent runs.
ip link add vc netns "$NA" mtu 1500 type veth peer name vd netns "$NB" mtu 1500
ip -n "$NA" link set vc up
ip -n "$NB" link set vd up
ip -n "$NA" addr add $C_A/64 dev vc nodad
ip -n "$NB" addr add $C_B/64 dev vd nodad
check "A attaches to vc within 5 s" wait_for "$T_DIR/a.err" "peer $C_B/128 now routes through vc: TCX links attached" 50
check "two interfaces now" [ "$(counter a interfaces)" = 2 ]
vc_idx=$(ip netns exec "$NA" cat /sys/class/net/vc/ifindex)
check "vc's segmenting pair pdms$vc_idx exists" sh -c "ip -n $NA link show pdms$vc_idx >/dev/null"

ip netns exec "$NA" tcpdump -i vc -w "$T_DIR/vc.pcap" -U -s 0 ip6 >"$T_DIR/td-vc.log" 2>&1 &
td_vc=$!
t_track $td_vc
ip netns exec "$NA" tcpdump -i va -w "$T_DIR/va.pcap" -U -s 0 ip6 >"$T_DIR/td-va.log" 2>&1 &
td_va=$!
t_track $td_va
wait_for "$T_DIR/td-vc.log" "listening on" 50
wait_for "$T_DIR/td-va.log" "listening on" 50
ip netns exec "$NA" ping -6 -c 5 -i 0.05 -W 2 -q "$C_B" >/dev/null 2>&1
check "pings to C answered" [ $? = 0 ]
ip netns exec "$NA" ping -6 -c 5 -i 0.05 -W 2 -q "$B1" >/dev/null 2>&1
check "pings to B1 answered" [ $? = 0 ]

head -c 1000000 /dev/urandom >"$T_DIR/blob"
ip netns exec "$NB" timeout 30 $PY $TR tcp-recv :: 7100 >"$T_DIR/recv.out" 2>&1 &
rp=$!
t_track $rp
wait_for "$T_DIR/recv.out" listening 50
sent=$(ip netns exec "$NA" timeout 30 $PY $TR tcp-send "$C_B" 7100 "$T_DIR/blob")
wait $rp
got=$(tail -n 1 "$T_DIR/recv.out")
check "1 MB over vc arrives whole ($got)" [ -n "$sent" ] && [ "$sent" = "$got" ]
sleep 0.3
stop_pid $td_vc INT
stop_pid $td_va INT

# Egress from A on each link: ICMPv6 echo requests and TCP segments with
# data, each with a Destination Options header (next header 60) holding
# the PDM option (type 0x0F), read with tshark-free parsing (scapy).
cat >"$T_DIR/count.py" <<'PYEOF'
import sys
from scapy.all import rdpcap, IPv6, IPv6ExtHdrDestOpt, TCP, ICMPv6EchoRequest, Raw
src, dst, kind = sys.argv[2], sys.argv[3], sys.argv[4]
marked = unmarked = 0
for p in rdpcap(sys.argv[1]):
    if IPv6 not in p or (src != "-" and p[IPv6].src != src) or p[IPv6].dst != dst:
        continue
    if kind == "icmp" and ICMPv6EchoRequest not in p:
        continue
    if kind == "tcp" and (TCP not in p or len(p[TCP].payload) == 0):
        continue
    d = p.getlayer(IPv6ExtHdrDestOpt)
    if d is not None and any(getattr(o, "otype", None) == 0x0F for o in d.options):
        marked += 1
    else:
        unmarked += 1
print(marked, unmarked)
PYEOF
cnt() { $PY "$T_DIR/count.py" "$@" 2>/dev/null; }
r=$(cnt "$T_DIR/vc.pcap" "$C_A" "$C_B" icmp)
check "vc: 5 echo requests to C, all marked ($r)" [ "$r" = "5 0" ]
r=$(cnt "$T_DIR/va.pcap" - "$B1" icmp)
check "va: 5 echo requests to B1, all marked ($r)" [ "$r" = "5 0" ]
r=$(cnt "$T_DIR/vc.pcap" "$C_A" "$C_B" tcp)
check "vc: every TCP data segment to C marked ($r)" sh -c "[ \"\${1% *}\" -ge 600 ] && [ \"\${1#* }\" = 0 ]" - "$r"
check "gso_unmarked 0 ($(counter a gso_unmarked))" [ "$(counter a gso_unmarked)" = 0 ]

stop_pid $pa TERM
check "agent A exits 0" [ "$STOP_RC" = 0 ]
check "no TCX link left on va or vc" \
    sh -c "! ip netns exec $NA bpftool net show 2>/dev/null | grep -q 'tcx'"
check "the segmenting pairs are gone" \
    sh -c "! ip -n $NA -o link show | grep -q 'pdm[sr]'"
t_result
