#!/bin/sh
# A returning tuple never reuses a key on the tc-eBPF fast path, where the
# program itself starts senders from the Kri history in a map
# (bpf/pdm_v2key.h): the agent folds that history into its --state file,
# and a restarted agent (after SIGTERM, and after SIGKILL with the crash
# margin) starts the same tuple at a higher Kri. ICMPv6 echo between two
# hosts is one tuple every time (no ports), so each run's pings are the
# same flow direction; `pdm analyze --keylog` (lib's code) reads the Kri
# of each run's capture. Then --rotate-seconds: a sender's key rotated by
# time in BPF. SKIPs without the fast path or root.
#
#   sh tests/it_bpf_v2enc_state.sh BUILD_DIR        (as root, from the repository root)
set -u
. tests/agent/lib.sh
t_pdm_arg "$@"
T_DIR=$(mktemp -d /tmp/openpdm-it-bpfstate.XXXXXX)
trap "t_cleanup" EXIT
trap 'exit 1' INT TERM HUP

if [ "$(id -u)" != 0 ]; then
    skip "bpf v2enc state: needs root (namespaces, BPF)"
    t_result
    exit 0
fi
if ! command -v tcpdump >/dev/null 2>&1; then
    skip "bpf v2enc state: no tcpdump"
    t_result
    exit 0
fi
check "create namespaces" t_netns s$$
echo "PDMV2_SECRET $A1 $B1 0020-0001-0003 $(hex32) $(hex32)" >"$T_DIR/klog"
chmod 600 "$T_DIR/klog"

# start_a: agent A on ebpf with its --state file.
start_a() {
    start_agent "$NA" a --peer "$B1,mode=v2-encrypted" --datapath ebpf \
        --keylog "$T_DIR/klog" --state "$T_DIR/a.state"
}

if ! start_a 2>/dev/null; then
    if grep -q "no eBPF fast path" "$T_DIR/a.err"; then
        skip "bpf v2enc state: $(grep -o 'no eBPF fast path' "$T_DIR/a.err" | head -1)"
        t_result
        exit 0
    fi
    bad "agent A did not start: $(head -c 300 "$T_DIR/a.err")"
    t_result
    exit 1
fi
PA=$AGENT_PID
check "agent B" start_agent "$NB" b --peer "$A1,mode=v2-encrypted" --datapath ebpf \
    --keylog "$T_DIR/klog" --state "$T_DIR/b.state"

# run N [COUNT [INTERVAL]]: COUNT (5) pings A -> B, INTERVAL (0.05 s)
# apart, captured at A's veth; prints A's sending direction ("client" in
# pdm analyze, the echo requests) as "LAST_KRI ROTATIONS", or "none none"
# when an option did not open or was replayed.
run() {
    ip netns exec "$NA" tcpdump -i va -w "$T_DIR/c$1.pcap" -s 0 -B 4096 --immediate-mode -U \
        ip6 2>"$T_DIR/td$1" &
    _t=$!
    t_track $_t
    wait_for "$T_DIR/td$1" "listening on" || bad "tcpdump $1 did not start"
    ip netns exec "$NA" ping -6 -c "${2:-5}" -i "${3:-0.05}" -W 2 $B1 >/dev/null 2>&1 ||
        bad "run $1: ping"
    sleep 0.3
    stop_pid $_t INT
    "$PDM" analyze --keylog "$T_DIR/klog" --format json "$T_DIR/c$1.pcap" 2>/dev/null |
        $PY -c '
import json, sys
d = json.load(sys.stdin)
k = [f["client"] for f in d["flows"] if f["format"] == "v2-encrypted"]
ok = k and not k[0]["auth_failures"] and not k[0]["replayed"] and k[0]["kri_last"] is not None
print("%d %d" % (k[0]["kri_last"], k[0]["rotations"]) if ok else "none none")'
}

k1=$(run 1)
k1=${k1% *}
check "run 1: A's pings sealed, Kri $k1" [ "$k1" != none ]
sleep 1.5 # the history folded (200 ms) and saved (within a second)
stop_pid $PA TERM
check "A exits cleanly ($STOP_RC)" [ "$STOP_RC" = 0 ]
check "A's state file is written" [ -s "$T_DIR/a.state" ]
check "agent A again (after SIGTERM)" start_a
PA=$AGENT_PID
k2=$(run 2)
k2=${k2% *}
check "run 2: the same tuple starts above run 1's Kri ($k1 -> $k2)" \
    sh -c "[ '$k2' != none ] && [ '$k1' != none ] && [ $k2 -gt $k1 ]"
sleep 1.5
stop_pid $PA KILL
check "agent A again (after SIGKILL)" start_a
PA=$AGENT_PID
k3=$(run 3)
k3=${k3% *}
check "run 3: after a crash, above run 2's Kri too ($k2 -> $k3)" \
    sh -c "[ '$k3' != none ] && [ '$k2' != none ] && [ $k3 -gt $k2 ]"
echo "note: A's Kri per run: $k1 $k2 $k3"
stop_pid $PA TERM

# --rotate-seconds on the fast path: a key lives 1 s, 12 pings over 3 s
# rotate at least twice, every option opens, the rotations followed.
check "agent A with rotate-seconds=1" start_agent "$NA" a --datapath ebpf \
    --peer "$B1,mode=v2-encrypted,rotate-seconds=1" --keylog "$T_DIR/klog" --state "$T_DIR/a.state"
PA=$AGENT_PID
rot=$(run 4 12 0.25)
k4=${rot% *}
rot=${rot#* }
check "rotate-seconds=1: A's key rotated by time over 3 s ($rot rotations, to Kri $k4), all open" \
    sh -c "[ '$rot' != none ] && [ '$rot' -ge 2 ] && [ '$rot' -le 4 ]"
sleep 1.5
stop_pid $PA TERM
# The rotations were reserved in the history too: the tuple's next start
# is above the last Kri it rotated to.
check "agent A again (after the rotations)" start_a
PA=$AGENT_PID
k5=$(run 5)
k5=${k5% *}
check "run 5: the tuple starts above its last rotation's Kri ($k4 -> $k5)" \
    sh -c "[ '$k5' != none ] && [ '$k4' != none ] && [ $k5 -gt $k4 ]"
stop_pid $PA TERM
t_result
