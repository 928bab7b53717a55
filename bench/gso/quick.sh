#!/bin/sh
# Quick probe of design A plumbing (run as root from the worktree): no program vs
# divert to the pdm0/pdm1 veth pair and back (no stamping yet). Not yet in the
# bench/run.sh protocol.
set -e
A=gsoqa$$; B=gsoqb$$
trap 'ip netns del $A 2>/dev/null; ip netns del $B 2>/dev/null' EXIT
ip netns add $A; ip netns add $B
ip link add va netns $A type veth peer name vb netns $B
ip -n $A link set va up; ip -n $B link set vb up; ip -n $A link set lo up; ip -n $B link set lo up
ip -n $A addr add fd00::1/64 dev va nodad; ip -n $B addr add fd00::2/64 dev vb nodad
ip -n $A link add pdm0 type veth peer name pdm1
ip netns exec $A ethtool -K pdm0 gso off tso off gro off >/dev/null 2>&1 || true
ip -n $A link set pdm0 up; ip -n $A link set pdm1 up
ip -n $A link set pdm0 mtu 65535 || true; ip -n $A link set pdm1 mtu 65535 || true
SEG=$(ip netns exec $A cat /sys/class/net/pdm0/ifindex); OUT=$(ip netns exec $A cat /sys/class/net/va/ifindex)
clang -O2 -target bpf -Wall -I/usr/include/x86_64-linux-gnu -I/work/wt/gso/bpf -DSEG_IF=$SEG -DOUT_IF=$OUT -c /work/wt/gso/bench/gso/divert.bpf.c -o /tmp/divert$$.o
ip netns exec $B iperf3 -s -D -1 >/dev/null; sleep 0.3
echo "none: $(ip netns exec $A iperf3 -c fd00::2 -t 2 -J | python3 -c 'import json,sys;print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9,2))') Gb/s"
ip netns exec $A tc qdisc add dev va clsact; ip netns exec $A tc filter add dev va egress bpf da obj /tmp/divert$$.o sec tc/out
ip netns exec $A tc qdisc add dev pdm1 clsact; ip netns exec $A tc filter add dev pdm1 ingress bpf da obj /tmp/divert$$.o sec tc/seg
ip netns exec $B sh -c "timeout 6 tcpdump -i vb -nn -s 100 -w /tmp/gsoq$$.pcap tcp >/dev/null 2>&1 &"
sleep 0.5
ip netns exec $B iperf3 -s -D -1 >/dev/null; sleep 0.3
echo "veth-divert: $(ip netns exec $A iperf3 -c fd00::2 -t 2 -J | python3 -c 'import json,sys;print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9,2))') Gb/s"
sleep 2
echo "captured packets: $(tcpdump -nn -r /tmp/gsoq$$.pcap 2>/dev/null | wc -l); max frame: $(tcpdump -nn -e -r /tmp/gsoq$$.pcap 2>/dev/null | sed -n 's/.*length \([0-9]*\):.*/\1/p' | sort -n | tail -1)"
ip -n $A -s link show pdm1 | sed -n 4p
