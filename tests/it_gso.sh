#!/bin/sh
# One PSN per wire packet on the tc-eBPF path (issue 10 item 3,
# docs/agent.md "GSO"): two namespaces, veth MTU 1500 with TSO on, both
# agents on --datapath ebpf, A's TCP super-packets diverted to the
# segmenting pair of tools/agent/gso.c. For each of the modes pdm and v2: a
# 50 MB TCP transfer A -> B whose SHA-256 must match; a capture at vb in
# which every TCP packet of the flow carries an option, PSNTP is unique and
# +1 per direction in wire order, and nothing exceeds the MTU (v2-encrypted,
# one key log, PSNs sealed: every packet but a direction's first few carries
# a 40-byte encrypted option, ciphertexts distinct); A's counters
# show super-packets diverted and none unmarked; the pair goes with A. The
# same with B on --datapath nfqueue (v2-14, v2-encrypted: mixed pairs; pdm
# and v2 in it_ebpf.sh), and an encrypted transfer during which A is
# SIGKILLed: it completes, its hash matches, every option that went out
# opens, none marked is over the MTU. After SIGKILL the idle pair stays,
# traffic flows, and the next start replaces it.
#
#   sh tests/it_gso.sh BUILD_DIR      (from the repository root, as root)
#
# Ends with "RESULT <passed> <failed> <skipped>".
set -u
. tests/agent/lib.sh
t_pdm_arg "$@"
SIZE_MB=50

# analyze_encrypted [rotation]: lib's reading of cap.pcap (pdm analyze
# --keylog) into res: "ok 1" when the one encrypted flow's options all
# open, none replayed or duplicated (and, with rotation, the data
# direction rotated: it sends more than 32767 options).
analyze_encrypted() {
    "$PDM" analyze --keylog "$T_DIR/klog" --format json "$T_DIR/cap.pcap" \
        >"$T_DIR/an.json" 2>"$T_DIR/an.err"
    res=$($PY tests/agent/enccheck.py "$T_DIR/an.json" --flows 1 ${1:+--rotations client} 2>&1)
}

# transfer MODE PORT [B_DATAPATH [KILL]]: one run of the checks above, both
# agents in MODE, B on B_DATAPATH (ebpf; nfqueue: a mixed pair, the same
# checks). With KILL, A is killed (SIGKILL) in the middle of the transfer:
# then only the transfer, its hash, the MTU and lib's reading of whatever
# options went out are checked (A's later packets go out unmarked).
transfer() {
    m=$1
    port=$2
    bdp=${3:-ebpf}
    kill_a=${4:-}
    t="$m"
    [ "$bdp" = ebpf ] || t="$m (B on $bdp)"
    [ -z "$kill_a" ] || t="$m (A killed)"
    kl=
    enc=
    if [ $m = v2-encrypted ]; then
        kl="--keylog $T_DIR/klog"
        enc=--encrypted
    fi
    check "$t: agent A starts on ebpf" start_agent "$NA" "a-$m" --peer $B1 --mode $m \
        --datapath ebpf $kl
    pa=$AGENT_PID
    check "$t: agent B starts on $bdp" start_agent "$NB" "b-$m" --peer $A1 --mode $m \
        --datapath $bdp $kl
    pb=$AGENT_PID
    if grep -q "gso:" "$T_DIR/a-$m.err"; then
        bad "$t: A sets up its segmenting pair: $(grep "gso:" "$T_DIR/a-$m.err")"
    else
        ok
    fi
    check "$t: the pair is there, without IPv6 addresses (nothing of its own leaks)" \
        sh -c "ip -n $NA link show pdmr2 >/dev/null &&
            test -z \"\$(ip -n $NA -6 addr show dev pdms2; ip -n $NA -6 addr show dev pdmr2)\""
    check "$t: RPS on pdmr2 over every CPU (one flow, one CPU: wire order)" \
        ip netns exec "$NA" sh -c '! grep -qx "[0,]*" /sys/class/net/pdmr2/queues/rx-0/rps_cpus'
    # Removed first: a "listening" left by the previous mode must not be read.
    rm -f "$T_DIR/tcpdump.err" "$T_DIR/srv.out" "$T_DIR/got"
    ip netns exec "$NB" timeout 60 tcpdump -i vb -nn -s 160 -B 65536 -w "$T_DIR/cap.pcap" \
        ip6 2>"$T_DIR/tcpdump.err" &
    CAP=$!
    t_track $CAP
    wait_for "$T_DIR/tcpdump.err" "listening on" 50
    ip netns exec "$NB" timeout 60 $PY -c '
import hashlib, socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[3]))); s.listen(1); print("listening", flush=True)
c, _ = s.accept(); h = hashlib.sha256()
while True:
    b = c.recv(1 << 20)
    if not b: break
    h.update(b)
open(sys.argv[2], "w").write(h.hexdigest())
' $B1 "$T_DIR/got" $port >"$T_DIR/srv.out" 2>&1 &
    SRV=$!
    t_track $SRV
    wait_for "$T_DIR/srv.out" listening 50
    # The client; with KILL paced (256 KiB every 10 ms: about 2 s) so that
    # A dies in the middle of it.
    ip netns exec "$NA" timeout 60 $PY -c '
import socket, sys, time
for i in range(5):  # the listener may lag behind its "listening"
    try:
        s = socket.create_connection((sys.argv[1], int(sys.argv[3])), timeout=5)
        break
    except OSError as e:
        print("connect:", e, file=sys.stderr); time.sleep(0.5)
s.settimeout(None)
with open(sys.argv[2], "rb") as f:
    if len(sys.argv) > 4:
        while True:
            b = f.read(256 << 10)
            if not b: break
            s.sendall(b); time.sleep(0.01)
    else:
        s.sendfile(f)
s.close()
' $B1 "$T_DIR/data" $port $kill_a 2>"$T_DIR/cli.err" &
    CLI=$!
    if [ -n "$kill_a" ]; then
        sleep 0.8
        stop_pid $pa KILL
    fi
    check "$t: a ${SIZE_MB} MB TCP transfer completes" wait $CLI
    [ ! -s "$T_DIR/cli.err" ] || sed "s/^/note: $t: client: /" "$T_DIR/cli.err"
    wait $SRV
    check "$t: SHA-256 of what B received matches" [ "$(cat "$T_DIR/got" 2>/dev/null)" = "$want" ]
    sleep 0.5
    kill -INT $CAP 2>/dev/null
    wait $CAP
    dropped=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$T_DIR/tcpdump.err")
    $PY tests/gso/psn_check.py "$T_DIR/cap.pcap" --mtu 1500 $enc >"$T_DIR/psn.out"
    sed "s/^/note: $t: /" "$T_DIR/psn.out"
    if [ -n "$kill_a" ]; then
        # A is gone (its tc links with it: the rest went out unmarked, as
        # super-packets again, which the veth delivers whole: over the MTU
        # in this capture, segmented by a real NIC's TSO).
        check "$t: no marked packet over the MTU (1500)" grep -qx "marked_over_mtu 0" \
            "$T_DIR/psn.out"
        check "$t: A's options before the kill, then unmarked packets" \
            awk '/^dir / && n++ == 0 { exit !($6 > 100 && $6 < $4) }' "$T_DIR/psn.out"
        analyze_encrypted
        check "$t: pdm analyze --keylog opens every option that went out ($res)" \
            [ "$res" = "ok 1" ]
        stop_pid $pb TERM
        return
    fi
    div=$(counter "a-$m" gso_diverted)
    unm=$(counter "a-$m" gso_unmarked)
    echo "note: $t: A tx_marked $(counter "a-$m" tx_marked) gso_diverted $div gso_unmarked $unm" \
        "tx_unchanged_mtu $(counter "a-$m" tx_unchanged_mtu) tx_unchanged_no_secret" \
        "$(counter "a-$m" tx_unchanged_no_secret); tcpdump dropped ${dropped:-?}"
    if [ $m = v2-encrypted ]; then
        for e in a b; do
            echo "note: $t: $e $("$PDM" agent --status --control "$T_DIR/$e-$m.sock" |
                awk '/^v2enc_/ && $2 != 0 { printf "%s %s ", $1, $2 }')"
        done
        if [ "$bdp" = ebpf ]; then
            # Receivers keyed in BPF too: every option the peer sealed is
            # opened (PSNLR and records from the first packet on).
            as=$(counter "a-$m" v2enc_sealed)
            bo=$(counter "b-$m" v2enc_opened)
            bs=$(counter "b-$m" v2enc_sealed)
            ao=$(counter "a-$m" v2enc_opened)
            check "$t: B opened every option A sealed ($bo of $as), A every one of B's ($ao of $bs)" \
                [ "${bo:-0}" -eq "${as:-1}" -a "${ao:-0}" -eq "${bs:-1}" ]
        fi
    fi
    check "$t: super-packets were diverted to the pair (the design was exercised)" \
        [ "${div:-0}" -gt 0 ]
    check "$t: no super-packet went out unmarked" [ "${unm:-1}" -eq 0 ]
    if [ "${dropped:-1}" != 0 ]; then
        skip "$t: tcpdump lost packets (${dropped:-?}): the wire-order checks need all of them"
    else
        check "$t: the capture holds both directions of the transfer" \
            [ "$(grep -c '^dir ' "$T_DIR/psn.out")" -eq 2 ]
        check "$t: no packet over the MTU (1500)" grep -q "over_mtu 0\( other 0\)\?$" \
            "$T_DIR/psn.out"
    fi
    if [ "${dropped:-1}" != 0 ]; then
        :
    elif [ $m = v2-encrypted ]; then
        # PSNs are sealed: every option in the encrypted layout (40-byte
        # header, no other), ciphertexts distinct. The pair's secret is in
        # the program before the first packet (one key log: preloaded), so
        # every packet is sealed, the SYN too; at most a direction's first
        # may not be (issue 10's bound).
        check "$t: every packet but at most a direction's first sealed (40 bytes), all distinct" \
            awk '/^dir / { n++; if (!($6 >= $4 - 1 && $8 == $6 && $6 > 100)) bad++ }
                 /^total / && $9 != 0 { bad++ }
                 END { exit !(n == 2 && bad == 0) }' "$T_DIR/psn.out"
        # lib's reading of the same capture: every option opens with the
        # key log, no (Kri, RN) twice, the rotation (32767 per key) followed.
        analyze_encrypted rotation
        check "$t: pdm analyze --keylog opens every option, none replayed ($res)" [ "$res" = "ok 1" ]
    else
        # Per direction: every packet marked, all PSNTPs distinct, each one
        # the previous + 1 in wire order.
        check "$t: every TCP packet carries a PSN, unique and +1 per direction" \
            awk '/^dir / { n++; if (!($4 == $6 && $6 == $8 && $10 == $4 - 1 && $12 == 0 && $4 > 100)) bad++ }
                 END { exit !(n == 2 && bad == 0) }' "$T_DIR/psn.out"
    fi
    stop_pid $pa TERM
    stop_pid $pb TERM
    check "$t: A's pair is gone with A" sh -c "! ip -n $NA link show pdms2 >/dev/null 2>&1"
}

if [ "$(id -u)" != 0 ]; then
    skip "gso: needs root (namespaces)"
elif ! command -v tcpdump >/dev/null 2>&1; then
    skip "gso: tcpdump not installed"
elif ! "$PDM" agent --help 2>&1 | grep -q -- "--datapath"; then
    skip "gso: the agent has no --datapath"
else
    T_DIR=$(mktemp -d /tmp/openpdm-it-gso-XXXXXX)
    trap 't_cleanup' EXIT
    trap 'exit 1' INT TERM HUP
    t_netns gso$$ || exit 1
    ip netns exec "$NA" ethtool -K va tso on gso on >/dev/null 2>&1
    start_agent "$NA" probe --peer $B1 --mode v2 --datapath ebpf >/dev/null 2>&1
    if [ -n "${AGENT_PID:-}" ] && grep -q "datapath ebpf" "$T_DIR/probe.err"; then
        stop_pid $AGENT_PID TERM
        head -c $((SIZE_MB * 1048576)) /dev/urandom >"$T_DIR/data"
        want=$(sha256sum "$T_DIR/data" | cut -d' ' -f1)
        echo "PDMV2_SECRET $A1 $B1 0020-0001-0001 $(hex32) $(hex32)" >"$T_DIR/klog"
        chmod 600 "$T_DIR/klog"
        for mode in pdm v2 v2-14 v2-encrypted; do
            transfer $mode $((5000 + ${#mode}))
        done
        # Mixed pairs (it_ebpf.sh has pdm and v2), and SIGKILL encrypted.
        transfer v2-14 5100 nfqueue
        transfer v2-encrypted 5101 nfqueue
        transfer v2-encrypted 5102 ebpf kill
        # A killed agent leaves its idle pair; the next start replaces it.
        start_agent "$NA" k1 --peer $B1 --mode v2 --datapath ebpf
        stop_pid $AGENT_PID KILL
        check "kill: the idle pair stays after SIGKILL" ip -n "$NA" link show pdms2
        check "kill: ping through the idle pair's device after SIGKILL" \
            sh -c "ip netns exec $NA ping -6 -c 2 -i 0.2 -W 2 $B1 >/dev/null"
        check "kill: the next agent starts" start_agent "$NA" k2 --peer $B1 --mode v2 \
            --datapath ebpf
        check "kill: ... and replaces the pair without a warning" sh -c \
            "! grep -q 'gso:' '$T_DIR/k2.err' && ip -n $NA link show pdms2 >/dev/null"
        stop_pid $AGENT_PID TERM
    else
        [ -n "${AGENT_PID:-}" ] && stop_pid $AGENT_PID TERM
        skip "gso: --datapath ebpf does not run here: $(tail -n 1 "$T_DIR/probe.err")"
    fi
fi
t_result
