#!/bin/sh
# End-to-end test of `pdm agent` (tools/agent/cmd_agent.c and tools/agent/*.c):
# two network namespaces joined by a veth pair (MTU 1500), an agent in
# each, for each mode (pdm, v2, v2-encrypted):
#
#   - ping6, a UDP request/response exchange and a 50 MB TCP transfer
#     between the enabled addresses (2001:db8:1::1 and ::2), whose SHA-256
#     must match at the other end;
#   - the same kinds of traffic between addresses that are not enabled
#     (2001:db8:2::1 and ::2);
#   - a capture on the veth (tcpdump) in which every packet of the enabled
#     flows carries one valid option of the mode (structure checked by
#     tests/agent/pcapcheck.py, a sample decoded by `pdm option decode
#     --header`, encrypted ones opened by `pdm decrypt` with the key log),
#     PSNTP goes up by one per packet per direction, upper-layer checksums
#     are valid, no packet exceeds the MTU, and the other flows carry none;
#   - the agents' counters and records agree; SIGTERM removes every rule.
#
# Agent A uses two queues (spread by address pair), B one.
#
#   sh tests/it_agent.sh BUILD_DIR        (as root, from the repository root)
#
# Ends with "RESULT <passed> <failed>".
set -u
. tests/agent/lib.sh
t_pdm_arg "$@"
T_DIR=$(mktemp -d /tmp/openpdm-it-agent.XXXXXX)
trap 't_cleanup' EXIT
trap 'exit 1' INT TERM HUP
TR=tests/agent/traffic.py
BULK=50000000

if [ "$(id -u)" != 0 ]; then
    echo "FAIL it_agent.sh must run as root (network namespaces, netfilter)" >&2
    echo "RESULT 0 1"
    exit 1
fi
check "create namespaces" t_netns $$
head -c $BULK /dev/urandom >"$T_DIR/bulk.bin"
head -c 1000000 /dev/urandom >"$T_DIR/small.bin"

# A key log for v2-encrypted: one registration's secret between A1 and B1
# (as `pdm register` would leave it), made up for the test.
SALT=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "PDMV2_SECRET $A1 $B1 0020-0001-0001 $SALT $SECRET" >"$T_DIR/keys.log"
chmod 600 "$T_DIR/keys.log"

# run_mode MODE
run_mode() {
    m=$1
    d=$T_DIR/$m
    mkdir -p "$d"
    extra=""
    if [ "$m" = v2-encrypted ]; then
        extra="--keylog $T_DIR/keys.log"
    fi
    # In one mode B keeps every capability: the check below must see it.
    keep=""
    [ "$m" = pdm ] && keep="--keep-caps"

    ip netns exec "$NA" tcpdump -i va -w "$d/cap.pcap" -s 0 -B 65536 -U ip6 2>"$d/tcpdump.err" &
    tcpd=$!
    t_track $tcpd
    wait_for "$d/tcpdump.err" "listening on" || bad "$m: tcpdump did not start"

    # shellcheck disable=SC2086
    check "$m: agent A starts" start_agent "$NA" "a-$m" --peer "$B1" --mode "$m" \
        --queue 0-1 --records "$d/a.jsonl" --state "$d/a.state" $extra
    pa=$AGENT_PID
    # shellcheck disable=SC2086
    check "$m: agent B starts" start_agent "$NB" "b-$m" --peer "$A1,mode=$m" \
        --queue 3 --records "$d/b.jsonl" --state "$d/b.state" $extra $keep
    pb=$AGENT_PID
    check "$m: rules installed" has_rules "$NA"
    # Privileges after set-up (libcap-ng): CAP_NET_ADMIN alone, in the main
    # thread and both queue threads; with --keep-caps, more.
    check "$m: agent A keeps CAP_NET_ADMIN only" caps_only_net_admin "$pa" 3
    if [ -n "$keep" ]; then
        if caps_only_net_admin "$pb" 2; then bad "$m: --keep-caps dropped capabilities"; else ok; fi

    else
        check "$m: agent B keeps CAP_NET_ADMIN only" caps_only_net_admin "$pb" 2
    fi


    # ping6, both kinds of flows.
    check "$m: ping enabled" sh -c "ip netns exec $NA ping -6 -c 5 -i 0.05 -W 2 $B1 >$d/ping.out"
    check "$m: ping not enabled" sh -c "ip netns exec $NA ping -6 -c 3 -i 0.05 -W 2 $B2 >/dev/null"

    # UDP request/response.
    ip netns exec "$NB" $PY $TR udp-echo :: 7000 >"$d/echo.out" 2>&1 &
    t_track $!
    echo_pid=$!
    wait_for "$d/echo.out" listening || bad "$m: UDP server did not start"
    out=$(ip netns exec "$NA" $PY $TR udp-client $B1 7000 20 --size 200)
    check "$m: UDP exchange enabled ($out)" [ "$out" = "sent 20 received 20" ]
    out=$(ip netns exec "$NA" $PY $TR udp-client $B2 7000 5)
    check "$m: UDP exchange not enabled ($out)" [ "$out" = "sent 5 received 5" ]
    kill $echo_pid 2>/dev/null

    # TCP bulk, enabled: A sends 50 MB to B.
    ip netns exec "$NB" timeout 90 $PY $TR tcp-recv $B1 5001 >"$d/recv.out" 2>&1 &
    rpid=$!
    t_track $rpid
    wait_for "$d/recv.out" listening || bad "$m: TCP receiver did not start"
    t0=$(date +%s.%N)
    sent=$(ip netns exec "$NA" timeout 60 $PY $TR tcp-send $B1 5001 "$T_DIR/bulk.bin")
    t1=$(date +%s.%N)
    wait $rpid
    got=$(grep '^bytes' "$d/recv.out")
    check "$m: 50 MB over TCP arrive intact" test -n "$sent" -a "$sent" = "$got"
    echo "note: $m: $BULK bytes in $(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }") s" >&2

    # TCP, not enabled.
    ip netns exec "$NB" timeout 60 $PY $TR tcp-recv $B2 5002 >"$d/recv2.out" 2>&1 &
    rpid=$!
    t_track $rpid
    wait_for "$d/recv2.out" listening || bad "$m: TCP receiver 2 did not start"
    sent=$(ip netns exec "$NA" timeout 30 $PY $TR tcp-send $B2 5002 "$T_DIR/small.bin")
    wait $rpid
    got=$(grep '^bytes' "$d/recv2.out")
    check "$m: TCP not enabled arrives intact" test -n "$sent" -a "$sent" = "$got"

    # Counters.
    "$PDM" agent --status --control "$T_DIR/a-$m.sock" >"$d/a.status"
    "$PDM" agent --status --control "$T_DIR/b-$m.sock" >"$d/b.status"
    c() { awk -v k="$2" '$1 == k { print $2 }' "$d/$1.status"; }
    check "$m: A marked packets ($(c a tx_marked))" [ "$(c a tx_marked)" -gt 35000 ]
    check "$m: B marked packets ($(c b tx_marked))" [ "$(c b tx_marked)" -gt 10 ]
    check "$m: A marked every enabled packet" [ "$(c a tx_marked)" -eq "$(c a tx_seen)" ]
    check "$m: B marked every enabled packet" [ "$(c b tx_marked)" -eq "$(c b tx_seen)" ]
    check "$m: B read every option A sent" [ "$(c b rx_logged)" -eq "$(c a tx_marked)" ]
    check "$m: A read every option B sent" [ "$(c a rx_logged)" -eq "$(c b tx_marked)" ]
    check "$m: MSS clamped on both sides" test "$(c a rx_mss_clamped)" -ge 1 -a \
        "$(c b rx_mss_clamped)" -ge 1
    check "$m: nothing unexpected" test "$(c a rx_unexpected_psn)" -eq 0 -a \
        "$(c b rx_unexpected_psn)" -eq 0 -a "$(c b rx_auth_failed)" -eq 0 -a \
        "$(c a rx_auth_failed)" -eq 0 -a "$(c a nfq_verdict_errors)" -eq 0 -a \
        "$(c b nfq_verdict_errors)" -eq 0
    if [ "$m" = v2-encrypted ]; then
        check "$m: no packet went out for lack of a secret" [ "$(c a tx_unchanged_no_secret)" -eq 0 ]
    fi

    # Stop: SIGTERM removes the rules; the status socket goes away.
    sleep 1 # let tcpdump write what it has
    stop_pid $tcpd INT
    stop_pid $pa TERM
    rca=$STOP_RC
    stop_pid $pb TERM
    rcb=$STOP_RC
    check "$m: agents exit 0 on SIGTERM ($rca $rcb)" test $rca -eq 0 -a $rcb -eq 0
    check "$m: rules removed in A" no_rules "$NA"
    check "$m: rules removed in B" no_rules "$NB"
    check "$m: status socket removed" [ ! -e "$T_DIR/a-$m.sock" ]
    check "$m: tcpdump dropped nothing" grep -q "^0 packets dropped by kernel" "$d/tcpdump.err"

    # Records.
    $PY tests/agent/records.py "$d/a.jsonl" --mode "$m" --tx "$(c a tx_marked)" \
        --rx "$(c a rx_logged)" --peer $B1 >"$d/rec-a.out" 2>&1
    add_result "$d/rec-a.out"
    $PY tests/agent/records.py "$d/b.jsonl" --mode "$m" --tx "$(c b tx_marked)" \
        --rx "$(c b rx_logged)" --peer $A1 >"$d/rec-b.out" 2>&1
    add_result "$d/rec-b.out"

    # The capture.
    clear=""
    if [ "$m" = v2-encrypted ]; then
        "$PDM" decrypt "$d/cap.pcap" "$d/clear.pcap" --keylog "$T_DIR/keys.log" >"$d/decrypt.out" 2>&1
        check "$m: pdm decrypt opens the capture" grep -q " 0 failed authentication" "$d/decrypt.out"
        clear="--clear $d/clear.pcap"
    fi
    # shellcheck disable=SC2086
    $PY tests/agent/pcapcheck.py "$d/cap.pcap" --mode "$m" --pair $A1 $B1 --other $A2 $B2 \
        --mtu 1500 --pdm "$PDM" --min-enabled 35000 $clear >"$d/pcap.out" 2>&1
    add_result "$d/pcap.out"
    grep -E '^(FAIL|  )' "$d/pcap.out" "$d/rec-a.out" "$d/rec-b.out" >&2
    grep '^note' "$d/pcap.out" | sed "s/^note: /note: $m: /" >&2
    [ -f "$d/decrypt.out" ] && sed "s/^/note: $m: pdm decrypt: /" "$d/decrypt.out" >&2
    rm -f "$d/cap.pcap" "$d/clear.pcap"
}

for m in ${AGENT_MODES:-pdm v2 v2-encrypted}; do
    run_mode $m
done
t_result
