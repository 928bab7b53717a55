#!/bin/sh
# v2-encrypted on the tc-eBPF fast path end to end (bpf/pdm_v2enc.h,
# tools/agent/ebpf_keys.c): both agents on `--datapath ebpf`, one key log,
# --rotate-packets 10. 30 pings and 20 UDP exchanges (5 ms apart); then a capture at A's
# veth opened by `pdm analyze --keylog` (lib's code, not BPF's): every
# option authenticates, none replayed, both directions rotated. Keys are
# derived in BPF (bpf/pdm_v2key.h) from the pair's secret, which user
# space gives the program at start (the key log names the pair): every
# flow is sealed from its first packet and rotations (every 10 packets)
# never wait; tx_unchanged_no_secret may count the very first ping when
# it beats the agent's preload on this shared machine. SKIPs without the
# fast path or root.
#
#   sh tests/it_bpf_v2enc.sh BUILD_DIR        (as root, from the repository root)
set -u
. tests/agent/lib.sh
t_pdm_arg "$@"
T_DIR=$(mktemp -d /tmp/openpdm-it-bpfenc.XXXXXX)
trap 't_cleanup' EXIT
trap 'exit 1' INT TERM HUP
TR=tests/agent/traffic.py

if [ "$(id -u)" != 0 ]; then
    skip "bpf v2enc: needs root (namespaces, BPF)"
    t_result
    exit 0
fi
if ! command -v tcpdump >/dev/null 2>&1; then
    skip "bpf v2enc: no tcpdump"
    t_result
    exit 0
fi
check "create namespaces" t_netns v$$
echo "PDMV2_SECRET $A1 $B1 0020-0001-0001 $(hex32) $(hex32)" >"$T_DIR/klog"
chmod 600 "$T_DIR/klog"
if ! start_agent "$NA" a --peer "$B1,mode=v2-encrypted,rotate-packets=10" --datapath ebpf \
    --keylog "$T_DIR/klog" --state "$T_DIR/a.state" 2>/dev/null; then
    if grep -q "not in the eBPF fast path\|no eBPF fast path" "$T_DIR/a.err"; then
        skip "bpf v2enc: $(grep -o 'v2-encrypted is not in the eBPF fast path yet\|no eBPF fast path' "$T_DIR/a.err" | head -1)"
        t_result
        exit 0
    fi
    bad "agent A did not start: $(head -c 300 "$T_DIR/a.err")"
    t_result
    exit 1
fi
check "agent B" start_agent "$NB" b --peer "$A1,mode=v2-encrypted,rotate-packets=10" \
    --datapath ebpf --keylog "$T_DIR/klog" --state "$T_DIR/b.state"
ip netns exec "$NA" tcpdump -i va -w "$T_DIR/c.pcap" -s 0 -B 65536 --immediate-mode -U ip6 \
    2>"$T_DIR/td" &
TCPD=$!
t_track $TCPD
wait_for "$T_DIR/td" "listening on" || bad "tcpdump did not start"

check "ping6 through both agents" sh -c "ip netns exec $NA ping -6 -c 30 -i 0.02 -W 2 $B1 >/dev/null"
ip netns exec "$NB" $PY $TR udp-echo :: 7000 >"$T_DIR/echo.out" 2>&1 &
_e=$!
t_track $_e
wait_for "$T_DIR/echo.out" listening || bad "UDP server did not start"
# Back to back (20 exchanges in about 1 ms): the flow is keyed in BPF on
# its first packet, nothing waits for user space (when it did, such a
# burst could go out before the first key).
out=$(ip netns exec "$NA" timeout 20 $PY $TR udp-client $B1 7000 20 --size 200 --interval-ms 0)
check "UDP exchange ($out)" [ "$out" = "sent 20 received 20" ]
kill $_e 2>/dev/null
sleep 0.5
stop_pid $TCPD INT

for s in a b; do
    "$PDM" agent --status --control "$T_DIR/$s.sock" >"$T_DIR/$s.status"
    unm=$(sed -n 's/^tx_unchanged_no_secret \([0-9]*\)$/\1/p' "$T_DIR/$s.status")
    mk=$(sed -n 's/^tx_marked \([0-9]*\)$/\1/p' "$T_DIR/$s.status")
    echo "note: $s: tx_marked ${mk:-?} tx_unchanged_no_secret ${unm:-?}"
    # Two flow directions leave each agent (ICMPv6 echo, then UDP).
    check "$s: at most the first packet unmarked (${unm:-?})" \
        sh -c "[ -n '$unm' ] && [ '$unm' -le 1 ]"
    check "$s: marked packets (${mk:-?})" sh -c "[ -n '$mk' ] && [ '$mk' -ge 49 ]"
done

"$PDM" analyze --keylog "$T_DIR/klog" --format json "$T_DIR/c.pcap" >"$T_DIR/an.json" 2>"$T_DIR/an.err"
check "pdm analyze reads the capture" [ -s "$T_DIR/an.json" ]
res=$($PY tests/agent/enccheck.py "$T_DIR/an.json" --flows 2 --rotations both 2>&1)
check "capture: every option opens with the key log, rotations followed ($res)" [ "$res" = "ok 2" ]
t_result
