#!/bin/sh
# The GSO designs of the tc-eBPF path side by side (issue 10 item 3,
# docs/agent.md "GSO"): one iperf3 TCP flow from A to B over a veth pair
# (MTU 1500) between two namespaces, programs at the sender only, mode v2:
#
#   none     no program: the baseline (super-packets cross the veth whole)
#   swseg    no program, TSO and GSO off on va: the kernel segments at va,
#            the floor of any design that puts 1500-byte packets on this veth
#   veth     the design kept: pdm agent --datapath ebpf, super-packets (and,
#            for wire order, the flow's single segments) diverted to the
#            segmenting pair of tools/agent/gso.c, each segment stamped by
#            pdm_gso_seg; RPS on the pair keeps a flow on one CPU
#   veth-norps  the same without RPS on the pair: the cost of that order
#            (without it ~0.1 % of packets leave with PSNs swapped)
#   nfqueue  super-packets through the NFQUEUE core (pdm agent --mode v2,
#            its nft chains limited to packets over 1500 bytes; the kernel
#            segments them before queueing), everything else on tc
#   segs1    gso_max_segs 1 on va with the programs (issue 10: ~0.3 Gb/s)
#
#   sh bench/bench_gso.sh BUILD_DIR   (as root)
#
# GSO_ROUNDS (4), GSO_CONFIGS (all), GSO_RX_GRO=1 (GRO at the receiver).
# Rounds of 2 s interleave the configurations; best and median of each, as
# a share of none's best. Also the veth design's counters: segments marked
# against super-packets diverted and packets left unmarked. Target (issue 10
# item 3: keep the fastest correct design): veth's best above the best of
# each other design that marks every wire packet with its own PSN (nfqueue,
# segs1); exit 1 when not. veth-norps is not one (PSNs can swap), none and
# swseg mark nothing. The veth / nfqueue ratio is printed beside it; it is
# not issue 10's 2.5x, which compares the whole fast path with the whole
# NFQUEUE path, encrypted, end to end (bench/bench_tcp_enc.sh), where this
# nfqueue design already takes every single segment on tc (until
# 2026-12-08 this bench held that ratio to 2.5x, a misreading).
set -u
if [ $# -ne 1 ] || [ ! -x "$1/pdm" ]; then
    echo "usage: sh bench/bench_gso.sh BUILD_DIR" >&2
    exit 2
fi
cd "$(dirname "$0")/.." || exit 2
B=$(cd "$1" && pwd)
PDM=$B/pdm
OBJ=$B/bpf/pdm.bpf.o
[ "$(id -u)" = 0 ] || { echo "SKIP gso: needs root"; exit 0; }
for t in iperf3 ethtool nft; do
    command -v $t >/dev/null 2>&1 || { echo "SKIP gso: $t not installed"; exit 0; }
done
[ -f "$OBJ" ] || { echo "SKIP gso: $OBJ not built"; exit 0; }
. tests/agent/lib.sh
. tests/gso/lib.sh
[ -n "$GSO_BPFTOOL" ] || { echo "SKIP gso: bpftool not installed"; exit 0; }
T_DIR=$(mktemp -d /tmp/openpdm-bench-gso.XXXXXX)
trap 'gso_umount; t_cleanup' EXIT
trap 'exit 1' INT TERM HUP
ROUNDS=${GSO_ROUNDS:-4}
CONFIGS=${GSO_CONFIGS:-"none swseg veth veth-norps nfqueue segs1"}
t_netns g$$ || exit 1
gso_mount || { echo "SKIP gso: cannot mount a bpffs"; exit 0; }
# GSO_RX_GRO=1: GRO on the receiver's veth, as a NIC's receiver would have:
# segments merge again at B, and what is left is the sender's cost.
if [ "${GSO_RX_GRO:-0}" = 1 ]; then
    ip netns exec "$NB" ethtool -K vb gro on >/dev/null && echo "receiver GRO on"
fi

# iperf3 for 2 s; prints Gb/s received.
flow() {
    ip netns exec "$NB" iperf3 -s -1 -D -p 5201 >/dev/null 2>&1
    sleep 0.3
    ip netns exec "$NA" timeout 10 iperf3 -c $B1 -p 5201 -t 2 -J 2>/dev/null |
        $PY -c 'import json,sys
try: print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))
except Exception: print("0")'
}

# The agent's chains (nft or ip6tables, whichever it chose) limited to
# packets over 1500 bytes: the super-packets.
nfq_only_super() {
    if ip netns exec "$NA" nft list table ip6 openpdm >/dev/null 2>&1; then
        ip netns exec "$NA" nft insert rule ip6 openpdm egress meta length le 1500 return &&
            ip netns exec "$NA" nft insert rule ip6 openpdm ingress meta length le 1500 return
    else
        ip netns exec "$NA" ip6tables -w -t mangle -I OPENPDM-OUT 1 -m length --length 0:1500 \
            -j RETURN &&
            ip netns exec "$NA" ip6tables -w -t mangle -I OPENPDM-IN 1 -m length --length 0:1500 \
                -j RETURN
    fi
}

setup() {
    case $1 in
    swseg) ip netns exec "$NA" ethtool -K va tso off gso off >/dev/null ;;
    veth*)
        start_agent "$NA" a-ebpf --peer $B1 --mode v2 --datapath ebpf &&
            ! grep -q "gso:" "$T_DIR/a-ebpf.err" || return 1
        [ $1 = veth ] ||
            ip netns exec "$NA" sh -c 'echo 0 >/sys/class/net/pdmr2/queues/rx-0/rps_cpus'
        ;;
    nfqueue)
        gso_load "$OBJ" "$NA" va $B1 2 >/dev/null &&
            start_agent "$NA" a-nfq --peer $B1 --mode v2 &&
            nfq_only_super
        ;;
    segs1) ip -n "$NA" link set va gso_max_segs 1 && gso_load "$OBJ" "$NA" va $B1 2 >/dev/null ;;
    esac
}

teardown() {
    case $1 in
    swseg) ip netns exec "$NA" ethtool -K va tso on gso on >/dev/null ;;
    veth*)
        echo "$1 counters: tx_marked $(counter a-ebpf tx_marked)" \
            "gso_diverted $(counter a-ebpf gso_diverted) gso_unmarked" \
            "$(counter a-ebpf gso_unmarked) tx_unchanged_mtu $(counter a-ebpf tx_unchanged_mtu)"
        [ -n "${AGENT_PID:-}" ] && stop_pid "$AGENT_PID" TERM
        AGENT_PID=
        ;;
    nfqueue)
        [ -n "${AGENT_PID:-}" ] && stop_pid "$AGENT_PID" TERM
        AGENT_PID=
        gso_unload "$NA" va
        ;;
    segs1)
        ip -n "$NA" link set va gso_max_segs 65535
        gso_unload "$NA" va
        ;;
    esac
}

r=0
while [ $r -lt $ROUNDS ]; do
    for c in $CONFIGS; do
        if setup $c; then
            v=$(flow)
        else
            v=0
            echo "$c: set-up failed" >&2
        fi
        teardown $c
        echo "round $r $c $v Gb/s"
        echo "$c $v" >>"$T_DIR/results"
    done
    r=$((r + 1))
done

$PY - "$T_DIR/results" "$CONFIGS" <<'EOF'
import sys
rows = {}
for line in open(sys.argv[1]):
    c, v = line.split()
    rows.setdefault(c, []).append(float(v))
best = {c: max(v) for c, v in rows.items()}
base = best.get("none") or 1
for c in sys.argv[2].split():
    v = sorted(rows.get(c, [0]))
    med = v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2
    print("%-10s best %6.2f Gb/s  median %6.2f Gb/s  %5.1f %% of none" % (c, best.get(c, 0), med, 100 * best.get(c, 0) / base))
veth = best.get("veth", 0)
others = {c: best[c] for c in ("nfqueue", "segs1") if c in best}
ratio = veth / (best.get("nfqueue") or 1e-9)
print("veth / nfqueue: %.2fx (information)" % ratio)
if "veth" not in best:
    sys.exit(0)
rival = max(others, key=others.get) if others else None
if rival is None:
    print("gso: veth %.2f Gb/s, no other marking design measured" % veth)
elif veth > others[rival]:
    print("gso: the veth design is the fastest that marks every packet: %.2f Gb/s, next %s %.2f Gb/s (target: fastest)" % (veth, rival, others[rival]))
else:
    print("MISSED gso: the veth design (%.2f Gb/s) is not the fastest that marks every packet: %s %.2f Gb/s" % (veth, rival, others[rival]))
    sys.exit(1)
EOF
