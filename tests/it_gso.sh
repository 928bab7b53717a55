#!/bin/sh
# One PSN per wire packet on the tc-eBPF path (issue 10 item 3,
# docs/agent.md "GSO"): two namespaces, veth MTU 1500 with TSO on, pdm.bpf.o
# (mode v2) on both ends' va/vb, A's super-packets diverted to the segmenting
# pair of tools/agent/gso.c (held by tests/gso_attach while no loader wires
# it). A 50 MB TCP transfer A -> B whose SHA-256 must match; a capture at vb
# in which every TCP packet of the enabled flow carries an option, PSNTP is
# unique and +1 per direction in wire order, and nothing exceeds the MTU.
#
#   sh tests/it_gso.sh BUILD_DIR      (from the repository root, as root)
#
# Ends with "RESULT <passed> <failed> <skipped>".
set -u
. tests/agent/lib.sh
t_pdm_arg "$@"
B=$(cd "$1" && pwd)
OBJ=$B/bpf/pdm.bpf.o
ATT=$B/tests/gso_attach
. tests/gso/lib.sh
SIZE_MB=50

if [ "$(id -u)" != 0 ]; then
    skip "gso: needs root (namespaces, bpffs)"
elif [ ! -f "$OBJ" ] || [ ! -x "$ATT" ]; then
    skip "gso: $OBJ or $ATT not built (no BPF clang, bpftool or kernel BTF at build time)"
elif [ -z "$GSO_BPFTOOL" ] || ! command -v tcpdump >/dev/null 2>&1; then
    skip "gso: bpftool or tcpdump not installed"
else
    T_DIR=$(mktemp -d /tmp/openpdm-it-gso-XXXXXX)
    trap 'gso_pairs_stop; GSO_P=b gso_unload $NB vb; gso_unload $NA va; gso_umount; t_cleanup' EXIT
    trap 'exit 1' INT TERM HUP
    t_netns gso$$ || exit 1
    ip netns exec "$NA" ethtool -K va tso on gso on >/dev/null 2>&1
    check "a private bpffs mounts" gso_mount
    if ! gso_load "$OBJ" "$NA" va $B1 2 >"$T_DIR/load.log" 2>&1 ||
        ! GSO_P=b gso_load "$OBJ" "$NB" vb $A1 2 >>"$T_DIR/load.log" 2>&1; then
        if grep -q "tc\b\|Operation not supported" "$T_DIR/load.log"; then
            skip "gso: programs do not load or attach here: $(tail -n 1 "$T_DIR/load.log")"
        else
            bad "gso: pdm.bpf.o loads and attaches on both ends"
            tail -n 5 "$T_DIR/load.log" >&2
        fi
        t_result
        exit
    fi
    ok
    if ! gso_pairs_start "$ATT" "$NA" va; then
        if grep -q "TCX" "$T_DIR/gso.err"; then
            skip "gso: $(cat "$T_DIR/gso.err")"
            t_result
            exit
        fi
        bad "gso: the segmenting pair of va is set up"
    else
        ok
    fi
    check "the pair has IPv6 off (nothing of its own leaks)" \
        [ "$(ip netns exec "$NA" cat /proc/sys/net/ipv6/conf/pdms2/disable_ipv6 2>/dev/null ||
            ip netns exec "$NA" sh -c 'cat /proc/sys/net/ipv6/conf/pdms*/disable_ipv6')" = 1 ]

    head -c $((SIZE_MB * 1048576)) /dev/urandom >"$T_DIR/data"
    want=$(sha256sum "$T_DIR/data" | cut -d' ' -f1)
    ip netns exec "$NB" timeout 60 tcpdump -i vb -nn -s 160 -B 65536 -w "$T_DIR/cap.pcap" \
        ip6 2>"$T_DIR/tcpdump.err" &
    CAP=$!
    t_track $CAP
    wait_for "$T_DIR/tcpdump.err" "listening on" 50
    ip netns exec "$NB" timeout 60 $PY -c '
import hashlib, socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5001)); s.listen(1); print("listening", flush=True)
c, _ = s.accept(); h = hashlib.sha256()
while True:
    b = c.recv(1 << 20)
    if not b: break
    h.update(b)
open(sys.argv[2], "w").write(h.hexdigest())
' $B1 "$T_DIR/got" >"$T_DIR/srv.out" 2>&1 &
    SRV=$!
    t_track $SRV
    wait_for "$T_DIR/srv.out" listening 50
    check "a ${SIZE_MB} MB TCP transfer completes" ip netns exec "$NA" timeout 60 $PY -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 5001))
with open(sys.argv[2], "rb") as f:
    s.sendfile(f)
s.close()
' $B1 "$T_DIR/data"
    wait $SRV
    check "SHA-256 of what B received matches" [ "$(cat "$T_DIR/got" 2>/dev/null)" = "$want" ]
    sleep 0.5
    kill -INT $CAP 2>/dev/null
    wait $CAP
    dropped=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$T_DIR/tcpdump.err")
    echo "INFO tcpdump: $(grep -c . "$T_DIR/tcpdump.err") lines, dropped by kernel: ${dropped:-?}"
    $PY tests/gso/psn_check.py "$T_DIR/cap.pcap" --mtu 1500 >"$T_DIR/psn.out"
    sed 's/^/INFO /' "$T_DIR/psn.out"
    div=$(gso_counter 34)
    unm=$(gso_counter 30)
    echo "INFO A's counters: marked $(gso_counter 1) gso_diverted $div gso_unmarked $unm" \
        "tx_mtu $(gso_counter 8)"
    check "super-packets were diverted to the pair (the design was exercised)" [ "${div:-0}" -gt 0 ]
    check "no super-packet went out unmarked" [ "${unm:-1}" -eq 0 ]
    if [ "${dropped:-1}" != 0 ]; then
        skip "gso: tcpdump lost packets (${dropped:-?}): the wire-order checks need all of them"
    else
        check "the capture holds both directions of the transfer" \
            [ "$(grep -c '^dir ' "$T_DIR/psn.out")" -eq 2 ]
        check "no packet over the MTU (1500)" grep -q "over_mtu 0$" "$T_DIR/psn.out"
        # Per direction: every packet marked, all PSNTPs distinct, each one
        # the previous + 1 in wire order.
        check "every TCP packet carries a PSN, unique and +1 per direction" \
            awk '/^dir / { n++; if (!($4 == $6 && $6 == $8 && $10 == $4 - 1 && $12 == 0 && $4 > 100)) bad++ }
                 END { exit !(n == 2 && bad == 0) }' "$T_DIR/psn.out"
    fi
fi
t_result
