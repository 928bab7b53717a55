#!/bin/sh
# The tc-eBPF fast path end to end (`pdm agent --datapath ebpf`, loader
# tools/agent/ebpf.c, programs bpf/pdm.bpf.c): two namespaces over a veth
# pair (MTU 1500, tests/agent/lib.sh), both agents on the fast path, modes
# pdm and v2:
#
#   - ping6, a UDP request/response exchange, enabled and not enabled, and
#     1 MB over TCP between the addresses that are not enabled,
#     captured on A's veth: every enabled packet carries one valid option,
#     PSNTP +1 per direction, checksums right, nothing over the MTU, the
#     other flows untouched (tests/agent/pcapcheck.py, as for NFQUEUE);
#   - a TCP transfer whose SHA-256 matches, captured: nothing over the MTU,
#     every marked packet valid with PSNTP +1, unmarked ones only segments
#     of super-packets (GSO is engineer "gso"'s part; tests/agent/ebpfcheck.py);
#   - counters and records agree (tests/agent/records.py);
#   - SIGKILL of an agent in the middle of a transfer: the transfer
#     completes intact, and the kernel has dropped its TCX links;
#   - a mixed pair, A on ebpf and B on nfqueue, each mode: the same capture
#     checks and both read every option of the other;
#   - --datapath ebpf and auto with a v2-encrypted peer run on the fast path.
#
#   sh tests/it_ebpf.sh BUILD_DIR        (as root, from the repository root)
#
# SKIP when the fast path is not built (no clang/bpftool/libbpf/BTF).
# Ends with "RESULT <passed> <failed> <skipped>".
set -u
. tests/agent/lib.sh
t_pdm_arg "$@"
T_DIR=$(mktemp -d /tmp/openpdm-it-ebpf.XXXXXX)
trap 't_cleanup' EXIT
trap 'exit 1' INT TERM HUP
TR=tests/agent/traffic.py
BULK=20000000
BPFTOOL=$(command -v bpftool 2>/dev/null || ls /usr/sbin/bpftool 2>/dev/null)

# capture NAME [NS DEV]: tcpdump on A's veth (or DEV in NS) into
# $T_DIR/NAME.pcap; sets TCPD.
capture() {
    ip netns exec "${2:-$NA}" tcpdump -i "${3:-va}" -w "$T_DIR/$1.pcap" -s 0 -B 65536 --immediate-mode -U ip6 \
        2>"$T_DIR/$1.td" &
    TCPD=$!
    t_track $TCPD
    wait_for "$T_DIR/$1.td" "listening on" || bad "tcpdump $1 did not start"
}

# capture_end NAME
capture_end() {
    sleep 0.5
    stop_pid $TCPD INT
    check "$1: tcpdump dropped nothing" grep -q "^0 packets dropped by kernel" "$T_DIR/$1.td"
}

# small_traffic TAG: ping6 and UDP, enabled (A1-B1) and not (A2-B2).
small_traffic() {
    check "$1: ping enabled" sh -c "ip netns exec $NA ping -6 -c 5 -i 0.05 -W 2 $B1 >/dev/null"
    check "$1: ping not enabled" sh -c "ip netns exec $NA ping -6 -c 3 -i 0.05 -W 2 $B2 >/dev/null"
    rm -f "$T_DIR/echo.out" # a "listening" of the last server must not be read
    ip netns exec "$NB" $PY $TR udp-echo :: 7000 >"$T_DIR/echo.out" 2>&1 &
    _e=$!
    t_track $_e
    wait_for "$T_DIR/echo.out" listening || bad "$1: UDP server did not start"
    out=$(ip netns exec "$NA" timeout 20 $PY $TR udp-client $B1 7000 20 --size 200)
    check "$1: UDP exchange enabled ($out)" [ "$out" = "sent 20 received 20" ]
    out=$(ip netns exec "$NA" timeout 20 $PY $TR udp-client $B2 7000 5)
    check "$1: UDP exchange not enabled ($out)" [ "$out" = "sent 5 received 5" ]
    kill $_e 2>/dev/null
    # TCP between the addresses that are not enabled: must stay untouched.
    rm -f "$T_DIR/recv2.out"
    ip netns exec "$NB" timeout 30 $PY $TR tcp-recv $B2 5002 >"$T_DIR/recv2.out" 2>&1 &
    _r=$!
    t_track $_r
    wait_for "$T_DIR/recv2.out" listening || bad "$1: TCP receiver 2 did not start"
    sent=$(ip netns exec "$NA" timeout 20 $PY $TR tcp-send $B2 5002 "$T_DIR/small.bin")
    wait $_r
    check "$1: TCP not enabled arrives intact" test -n "$sent" -a \
        "$sent" = "$(grep '^bytes' "$T_DIR/recv2.out")"
}

# tcp_transfer TAG [RATE]: $T_DIR/bulk.bin from A1 to B1; checks the hash.
tcp_transfer() {
    rm -f "$T_DIR/recv.out"
    ip netns exec "$NB" timeout 40 $PY $TR tcp-recv $B1 5001 >"$T_DIR/recv.out" 2>&1 &
    _r=$!
    t_track $_r
    wait_for "$T_DIR/recv.out" listening || bad "$1: TCP receiver did not start"
    sent=$(ip netns exec "$NA" timeout 30 $PY $TR tcp-send $B1 5001 "$T_DIR/bulk.bin")
    wait $_r
    got=$(grep '^bytes' "$T_DIR/recv.out")
    check "$1: TCP transfer arrives intact (SHA-256)" test -n "$sent" -a "$sent" = "$got"
}

# links_of PID: the ids of the BPF links PID holds (its fdinfo).
links_of() {
    grep -h '^link_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{ print $2 }' | tr '\n' ' '
}

# links_gone IDS...: none of these links exists any more (bpftool 7.1
# does not list TCX links by device, but finds them by id).
links_gone() {
    for _l in "$@"; do
        "$BPFTOOL" link show id "$_l" >/dev/null 2>&1 && return 1
    done
    return 0
}

run_mode() {
    m=$1
    capture "$m-small"
    check "$m: agent A starts on ebpf" start_agent "$NA" "a-$m" --peer "$B1" --mode "$m" \
        --datapath ebpf --records "$T_DIR/a-$m.jsonl"
    pa=$AGENT_PID
    check "$m: agent B starts on ebpf" start_agent "$NB" "b-$m" --peer "$A1,mode=$m" \
        --datapath ebpf --records "$T_DIR/b-$m.jsonl"
    pb=$AGENT_PID
    check "$m: A says it runs ebpf" grep -q "datapath ebpf" "$T_DIR/a-$m.err"
    if has_rules "$NA"; then bad "$m: netfilter rules on the fast path"; else ok; fi
    la=$(links_of $pa)
    # shellcheck disable=SC2086
    check "$m: A holds three links, TCX egress and ingress and the GSO pair's ($la)" \
        test "$(echo $la | wc -w)" -eq 3
    if [ -n "$BPFTOOL" ]; then
        # shellcheck disable=SC2086
        if links_gone $la; then bad "$m: bpftool does not find A's links"; else ok; fi
    fi
    small_traffic "$m"
    capture_end "$m-small"
    $PY tests/agent/pcapcheck.py "$T_DIR/$m-small.pcap" --mode "$m" --pair $A1 $B1 \
        --other $A2 $B2 --mtu 1500 --pdm "$PDM" --min-enabled 50 >"$T_DIR/pc.out" 2>&1
    add_result "$T_DIR/pc.out"
    grep -E '^(FAIL|  )' "$T_DIR/pc.out" | sed "s/^/$m: /" >&2

    # Each end's packets checked where they leave (see ebpfcheck.py --from).
    capture "$m-tcpb" "$NB" vb
    tcpb=$TCPD
    capture "$m-tcp"
    tcp_transfer "$m"
    capture_end "$m-tcp"
    TCPD=$tcpb
    capture_end "$m-tcpb"
    for side in "$m-tcp $A1" "$m-tcpb $B1"; do
        set -- $side
        $PY tests/agent/ebpfcheck.py "$T_DIR/$1.pcap" --mode "$m" --pair $A1 $B1 \
            --from $2 --mtu 1500 --min-marked 100 >"$T_DIR/ec.out" 2>&1
        add_result "$T_DIR/ec.out"
        grep -E '^(FAIL|  )' "$T_DIR/ec.out" | sed "s/^/$1: /" >&2
        grep '^note' "$T_DIR/ec.out" | sed "s/^note: /note: $1 (from $2): /" >&2
    done
    rm -f "$T_DIR/$m-small.pcap" "$T_DIR/$m-tcp.pcap" "$T_DIR/$m-tcpb.pcap"

    "$PDM" agent --status --control "$T_DIR/a-$m.sock" >"$T_DIR/a.status"
    "$PDM" agent --status --control "$T_DIR/b-$m.sock" >"$T_DIR/b.status"
    c() { awk -v k="$2" '$1 == k { print $2 }' "$T_DIR/$1.status"; }
    echo "note: $m: A tx_seen $(c a tx_seen) tx_marked $(c a tx_marked) gso_unmarked" \
        "$(c a gso_unmarked) rx_logged $(c a rx_logged) flows $(c a flows)" >&2
    check "$m: A's seen = marked + gso_unmarked" \
        [ "$(c a tx_seen)" -eq "$(($(c a tx_marked) + $(c a gso_unmarked)))" ]
    check "$m: B read every option A sent" [ "$(c b rx_logged)" -eq "$(c a tx_marked)" ]
    check "$m: A read every option B sent" [ "$(c a rx_logged)" -eq "$(c b tx_marked)" ]
    check "$m: MSS clamped on both sides" test "$(c a rx_mss_clamped)" -ge 1 -a \
        "$(c b rx_mss_clamped)" -ge 1
    check "$m: nothing unexpected" test "$(c a rx_unexpected_psn)" -eq 0 -a \
        "$(c b rx_unexpected_psn)" -eq 0 -a "$(c a ring_dropped)" -eq 0

    stop_pid $pa TERM
    rca=$STOP_RC
    stop_pid $pb TERM
    check "$m: agents exit 0 on SIGTERM ($rca $STOP_RC)" test $rca -eq 0 -a $STOP_RC -eq 0
    sleep 0.2 # links are freed from a work queue
    # shellcheck disable=SC2086
    [ -n "$BPFTOOL" ] && check "$m: SIGTERM detaches (A's links gone)" links_gone $la
    $PY tests/agent/records.py "$T_DIR/a-$m.jsonl" --mode "$m" --tx "$(c a tx_marked)" \
        --rx "$(c a rx_logged)" --peer $B1 >"$T_DIR/rec.out" 2>&1
    add_result "$T_DIR/rec.out"
    grep -E '^(FAIL|  )' "$T_DIR/rec.out" | sed "s/^/$m: records: /" >&2
}

# SIGKILL of A (ebpf) in the middle of a paced transfer.
run_kill() {
    check "kill: agent A starts" start_agent "$NA" ka --peer "$B1" --mode v2 --datapath ebpf
    pa=$AGENT_PID
    check "kill: agent B starts" start_agent "$NB" kb --peer "$A1" --mode v2 --datapath ebpf
    pb=$AGENT_PID
    ip netns exec "$NB" timeout 40 $PY $TR tcp-recv $B1 5003 >"$T_DIR/krecv.out" 2>&1 &
    rpid=$!
    t_track $rpid
    wait_for "$T_DIR/krecv.out" listening || bad "kill: TCP receiver did not start"
    # 20 MB at 10 MB/s: two seconds; A dies after half a second.
    ip netns exec "$NA" timeout 30 $PY $TR tcp-send $B1 5003 "$T_DIR/bulk.bin" --rate 10000000 \
        >"$T_DIR/ksend.out" 2>&1 &
    spid=$!
    t_track $spid
    sleep 0.5
    seen=$(counter ka tx_seen)
    la=$(links_of $pa)
    running=no
    kill -0 $spid 2>/dev/null && running=yes
    stop_pid $pa KILL
    check "kill: transfer under way when A died ($seen seen, sender running: $running)" \
        test "${seen:-0}" -gt 20 -a $running = yes
    check "kill: A held its links ($la)" test -n "$la"
    sleep 0.2 # the kernel frees a link from a work queue once its last fd is closed
    # shellcheck disable=SC2086
    [ -n "$BPFTOOL" ] && check "kill: the kernel dropped A's TCX links" links_gone $la
    wait $spid
    wait $rpid
    sent=$(grep '^bytes' "$T_DIR/ksend.out")
    got=$(grep '^bytes' "$T_DIR/krecv.out")
    check "kill: transfer completes intact after SIGKILL" test -n "$sent" -a "$sent" = "$got"
    check "kill: ping after SIGKILL" sh -c "ip netns exec $NA ping -6 -c 3 -i 0.05 -W 2 $B1 >/dev/null"
    stop_pid $pb TERM
}

# A on ebpf, B on nfqueue.
run_mixed() {
    m=$1
    capture "mix-$m"
    check "mixed $m: A starts on ebpf" start_agent "$NA" "ma-$m" --peer "$B1" --mode "$m" \
        --datapath ebpf
    pa=$AGENT_PID
    check "mixed $m: B starts on nfqueue" start_agent "$NB" "mb-$m" --peer "$A1" --mode "$m" \
        --datapath nfqueue
    pb=$AGENT_PID
    small_traffic "mixed $m"
    tcp_transfer "mixed $m"
    capture_end "mix-$m"
    $PY tests/agent/ebpfcheck.py "$T_DIR/mix-$m.pcap" --mode "$m" --pair $A1 $B1 \
        --from $A1 --mtu 1500 --min-marked 100 >"$T_DIR/ec.out" 2>&1
    add_result "$T_DIR/ec.out"
    grep -E '^(FAIL|  )' "$T_DIR/ec.out" | sed "s/^/mixed $m: /" >&2
    rm -f "$T_DIR/mix-$m.pcap"
    a_tx=$(counter "ma-$m" tx_marked)
    b_rx=$(counter "mb-$m" rx_logged)
    b_tx=$(counter "mb-$m" tx_marked)
    a_rx=$(counter "ma-$m" rx_logged)
    check "mixed $m: nfqueue B read every option of ebpf A ($b_rx of $a_tx)" [ "$b_rx" -eq "$a_tx" ]
    check "mixed $m: ebpf A read every option of nfqueue B ($a_rx of $b_tx)" [ "$a_rx" -eq "$b_tx" ]
    stop_pid $pa TERM
    stop_pid $pb TERM
}

if [ "$(id -u)" != 0 ]; then
    skip "ebpf: needs root (namespaces, BPF)"
    t_result
    exit 0
fi
check "create namespaces" t_netns e$$
# The veths as a NIC without offloads: checksums and segmentation done in
# software before the capture taps them (tc egress still sees TCP
# super-packets: TCP always builds them), so the capture shows the frames a
# wire would carry.
if command -v ethtool >/dev/null 2>&1; then
    ip netns exec "$NA" ethtool -K va tx off tso off gso off >/dev/null 2>&1
    ip netns exec "$NB" ethtool -K vb tx off tso off gso off >/dev/null 2>&1
else
    skip "ebpf: no ethtool: veth offloads stay on (capture sees super-packets)"
fi
# Built without the fast path, --datapath ebpf says so and exits.
ebpf_ok
if grep -q "no eBPF fast path" "$T_DIR/probe.err"; then
    skip "ebpf: this build has no eBPF fast path (clang, bpftool, libbpf or BTF missing)"
    t_result
    exit 0
elif ! grep -q "agent: ready" "$T_DIR/probe.err"; then
    bad "ebpf: the fast path does not start here: $(head -c 300 "$T_DIR/probe.err")"
    t_result
    exit 1
fi
[ -n "$BPFTOOL" ] || skip "ebpf: no bpftool: attachment not inspected"
head -c $BULK /dev/urandom >"$T_DIR/bulk.bin"
head -c 1000000 /dev/urandom >"$T_DIR/small.bin"

for m in pdm v2; do
    run_mode $m
done
run_kill
for m in pdm v2; do
    run_mixed $m
done

# v2-encrypted is on the fast path (bpf/pdm_v2enc.h; tests/it_bpf_v2enc.sh
# checks its packets): ebpf loads it with its key thread, auto picks ebpf.
check "v2-encrypted on --datapath ebpf starts" start_agent "$NA" enc \
    --peer "$B1,mode=v2-encrypted" --datapath ebpf
check "  ... on the fast path, key thread counted in --status" sh -c \
    "grep -q 'datapath ebpf (' '$T_DIR/enc.err' &&
     '$PDM' agent --status --control '$T_DIR/enc.sock' | grep -q '^v2enc_keys_answered '"
stop_pid $AGENT_PID TERM
check "auto with v2-encrypted picks ebpf" start_agent "$NA" auto \
    --peer "$B1,mode=v2-encrypted" --datapath auto
check "  ... and says so" grep -q "datapath ebpf (auto" "$T_DIR/auto.err"
stop_pid $AGENT_PID TERM
check "auto with v2 picks ebpf" start_agent "$NA" auto2 --peer "$B1" --mode v2 --datapath auto
check "  ... and says so" grep -q "datapath ebpf (auto" "$T_DIR/auto2.err"
stop_pid $AGENT_PID TERM
t_result
