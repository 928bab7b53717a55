#!/bin/sh
# v2-encrypted in `pdm agent`: where secrets come from, key rotation, and
# the Kri history that keeps a returning 5-tuple from reusing a nonce.
#
#   - secrets from the store (--store: a registration's record file, as
#     tools/common/store.h writes it), and from a primary pair (--primary-secret:
#     a PDMV2_PRIMARY line; each end derives ClientSecret(A) itself);
#   - rotation by policy (rotate-packets=5): the sender's Kri moves on, the
#     receiver follows (peer_key_rotations), nothing fails authentication;
#   - ping is one 5-tuple (ICMPv6 has no ports): the same tuple again after
#     a clean restart of both agents, then after SIGKILL of both (no clean
#     save), must start at Kris never used before, and the receiver must
#     still open every option (tests/agent/records.py: rx all "ok");
#   - with no secret for the peer, packets go out unchanged and counted;
#   - an option sealed under another secret fails authentication, is
#     counted and logged as failed, and its contents are not used.
#
#   sh tests/it_agent_keys.sh BUILD_DIR     (as root, from the repository root)
set -u
. tests/agent/lib.sh
t_pdm_arg "$@"
T_DIR=$(mktemp -d /tmp/openpdm-it-agent-keys.XXXXXX)
trap 't_cleanup' EXIT
trap 'exit 1' INT TERM HUP
check "create namespaces" t_netns y$$


# A store for each end holding the registration's secret (same record).
SALT=$(hex32)
SECRET=$(hex32)
for s in a b; do
    mkdir -m 700 "$T_DIR/store-$s"
    cat >"$T_DIR/store-$s/secret-test" <<EOF
# pdm secret record
PDMV2_SECRET $A1 $B1 0020-0001-0001 $SALT $SECRET
created $(date +%s)
lifetime 0
EOF
    chmod 600 "$T_DIR/store-$s/secret-test"
done

# kris FILE DIRECTION: the Kri values of the ICMPv6 records, one per line.
kris() {
    $PY -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["direction"] == sys.argv[2] and r["protocol"] == 58:
        print(r["kri"])' "$1" "$2"
}

# session N [kill]: both agents from the store, 12 pings, then SIGTERM
# (or SIGKILL); records appended to a.jsonl / b.jsonl.
session() {
    check "session $1: agent A" start_agent "$NA" a --peer "$B1,mode=v2-encrypted,rotate-packets=5" \
        --store "$T_DIR/store-a" --state "$T_DIR/a.state" --records "$T_DIR/a$1.jsonl"
    pa=$AGENT_PID
    check "session $1: agent B" start_agent "$NB" b --peer "$A1,mode=v2-encrypted,rotate-packets=5" \
        --store "$T_DIR/store-b" --state "$T_DIR/b.state" --records "$T_DIR/b$1.jsonl"
    pb=$AGENT_PID
    check "session $1: ping" sh -c "ip netns exec $NA ping -6 -c 12 -i 0.02 -W 2 $B1 >/dev/null"
    check "session $1: A sealed every packet" test "$(counter a tx_marked)" -ge 12 -a \
        "$(counter a tx_unchanged_no_secret)" -eq 0
    check "session $1: B opened everything ($(counter b rx_logged) ok, \
$(counter b rx_auth_failed) failed)" test "$(counter b rx_logged)" -ge 12 -a \
        "$(counter b rx_auth_failed)" -eq 0
    check "session $1: A opened everything" test "$(counter a rx_logged)" -ge 12 -a \
        "$(counter a rx_auth_failed)" -eq 0
    check "session $1: A rotated ($(counter a key_rotations))" test "$(counter a key_rotations)" -ge 2
    check "session $1: B followed ($(counter b peer_key_rotations))" \
        test "$(counter b peer_key_rotations)" -ge 2
    sleep 0.4 # records flushed
    if [ "${2:-}" = kill ]; then
        sleep 1.2 # the Kri history is saved within a second of a change
        stop_pid $pa KILL
        stop_pid $pb KILL
    else
        stop_pid $pa TERM
        stop_pid $pb TERM
    fi
    $PY tests/agent/records.py "$T_DIR/b$1.jsonl" --mode v2-encrypted --peer $A1 \
        >"$T_DIR/rec$1.out" 2>&1
    add_result "$T_DIR/rec$1.out"
}

session 1
session 2
session 3 kill
# After the SIGKILL the rules are stale; the next agents replace them.
session 4

# Every session's Kris are new for the tuple: strictly above the last one's.
prev=-1
for n in 1 2 3 4; do
    lo=$(kris "$T_DIR/a$n.jsonl" tx | sort -n | head -n 1)
    hi=$(kris "$T_DIR/a$n.jsonl" tx | sort -n | tail -n 1)
    check "session $n: Kris $lo..$hi all above $prev" test -n "$lo" -a "${lo:-0}" -gt "$prev"
    prev=${hi:--1}
done
check "state files kept" test -s "$T_DIR/a.state" -a -s "$T_DIR/b.state"
check "clean exit recorded" grep -q "^clean 1" "$T_DIR/a.state"

# --- a primary pair: both ends derive ClientSecret(A1) --------------------------
echo "PDMV2_PRIMARY 2001:db8:1::/64 $B1 0020-0001-0001 $(hex32) $(hex32)" >"$T_DIR/primary"
chmod 600 "$T_DIR/primary"
check "primary: agent A" start_agent "$NA" a --peer "$B1,mode=v2-encrypted" \
    --primary-secret "$T_DIR/primary" --state "$T_DIR/pa.state"
pa=$AGENT_PID
check "primary: agent B" start_agent "$NB" b --peer "$A1,mode=v2-encrypted" \
    --primary-secret "$T_DIR/primary" --state "$T_DIR/pb.state"
pb=$AGENT_PID
check "primary: ping" sh -c "ip netns exec $NA ping -6 -c 4 -i 0.02 -W 2 $B1 >/dev/null"
check "primary: B opened A's options" test "$(counter b rx_logged)" -ge 4 -a \
    "$(counter b rx_auth_failed)" -eq 0
stop_pid $pa TERM
stop_pid $pb TERM

# --- no secret; and a secret that does not match -----------------------------
echo "PDMV2_SECRET $A1 $B1 0020-0001-0001 $(hex32) $(hex32)" >"$T_DIR/other"
chmod 600 "$T_DIR/other"
check "mismatch: agent A (no secret at all)" start_agent "$NA" a --peer "$B1,mode=v2-encrypted" \
    --state "$T_DIR/ma.state"
pa=$AGENT_PID
check "mismatch: agent B (another secret)" start_agent "$NB" b --peer "$A1,mode=v2-encrypted" \
    --keylog "$T_DIR/other" --state "$T_DIR/mb.state" --records "$T_DIR/mb.jsonl"
pb=$AGENT_PID
check "no secret: ping still works" sh -c "ip netns exec $NA ping -6 -c 3 -i 0.02 -W 2 $B1 >/dev/null"
check "no secret: A's packets went out unchanged, counted" \
    test "$(counter a tx_unchanged_no_secret)" -ge 3 -a "$(counter a tx_marked)" -eq 0
check "B sealed its answers (it has a secret)" test "$(counter b tx_marked)" -ge 3
check "A cannot open them: no secret, counted" test "$(counter a rx_no_secret)" -ge 3
stop_pid $pa TERM
# A now with the store's secret: B, holding another one, fails authentication.
check "mismatch: agent A (the store's secret)" start_agent "$NA" a --peer "$B1,mode=v2-encrypted" \
    --store "$T_DIR/store-a" --state "$T_DIR/a.state"
pa=$AGENT_PID
check "mismatch: ping still works" sh -c "ip netns exec $NA ping -6 -c 3 -i 0.02 -W 2 $B1 >/dev/null"
check "mismatch: B counts failed authentication ($(counter b rx_auth_failed))" \
    test "$(counter b rx_auth_failed)" -ge 3 -a "$(counter b rx_logged)" -eq 0
sleep 0.4
check "mismatch: failures logged without contents" \
    grep -q '"auth":"failed"' "$T_DIR/mb.jsonl"
check "mismatch: no field of a failed option is logged" \
    sh -c "! grep '\"auth\":\"failed\"' $T_DIR/mb.jsonl | grep -q '\"psntp\":[0-9]'"
stop_pid $pa TERM
stop_pid $pb TERM
t_result
