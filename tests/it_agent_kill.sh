#!/bin/sh
# `pdm agent` life cycle: what happens around it must never cost traffic.
#
#   - SIGKILL of both agents in the middle of a TCP transfer: the transfer
#     completes and its SHA-256 matches (the rules stay behind, fail-open:
#     "bypass" lets packets through while nobody listens);
#   - a new agent replaces the stale rules of the killed one (one set of
#     rules, not two) and marks packets again;
#   - --config (peers and settings from a file), --status, SIGHUP reopening
#     the records file, capabilities reduced to CAP_NET_ADMIN, a second
#     agent on the same status socket refused, --passthrough (queues,
#     touches nothing), SIGTERM removing every rule.
#
#   sh tests/it_agent_kill.sh BUILD_DIR      (as root, from the repository root)
set -u
. tests/agent/lib.sh
t_pdm_arg "$@"
T_DIR=$(mktemp -d /tmp/openpdm-it-agent-kill.XXXXXX)
trap 't_cleanup' EXIT
trap 'exit 1' INT TERM HUP
TR=tests/agent/traffic.py

check "create namespaces" t_netns k$$
head -c 24000000 /dev/urandom >"$T_DIR/bulk.bin"

# --- SIGKILL in the middle of a transfer ---------------------------------
check "agent A starts" start_agent "$NA" a --peer $B1 --mode v2 --records "$T_DIR/a.jsonl"
pa=$AGENT_PID
check "agent B starts" start_agent "$NB" b --peer $A1 --mode v2
pb=$AGENT_PID
ip netns exec "$NB" timeout 90 $PY $TR tcp-recv $B1 5001 >"$T_DIR/recv.out" 2>&1 &
rpid=$!
t_track $rpid
wait_for "$T_DIR/recv.out" listening || bad "TCP receiver did not start"
# 24 MB at 12 MB/s: two seconds; the agents die after half a second.
ip netns exec "$NA" timeout 60 $PY $TR tcp-send $B1 5001 "$T_DIR/bulk.bin" --rate 12000000 \
    >"$T_DIR/send.out" 2>&1 &
spid=$!
t_track $spid
sleep 0.5
marked=$(counter a tx_marked)
stop_pid $pa KILL
stop_pid $pb KILL
check "transfer was under way when the agents died ($marked packets marked)" \
    test "${marked:-0}" -gt 100
wait $spid
wait $rpid
sent=$(grep '^bytes' "$T_DIR/send.out")
got=$(grep '^bytes' "$T_DIR/recv.out")
check "transfer completes intact after SIGKILL" test -n "$sent" -a "$sent" = "$got"
check "the killed agent's rules are still there" has_rules "$NA"
check "ping passes the orphaned rules" sh -c "ip netns exec $NA ping -6 -c 3 -i 0.05 -W 2 $B1 >/dev/null"

# --- restart over the stale rules, with a configuration file -------------
cat >"$T_DIR/a.conf" <<EOF
# agent A: peers and settings
mode v2
peer $B1 mode pdm
peer 2001:db8:9::/48
queue 2-3
records $T_DIR/a2.jsonl
EOF
check "agent A restarts over stale rules (--config)" start_agent "$NA" a --config "$T_DIR/a.conf"
pa=$AGENT_PID
check "agent B restarts" start_agent "$NB" b --peer $A1 --mode pdm
pb=$AGENT_PID
n=$(ip netns exec "$NA" ip6tables -w -t mangle -S OUTPUT 2>/dev/null | grep -c OPENPDM)
nft=$(ip netns exec "$NA" nft list tables 2>/dev/null | grep -c openpdm)
check "one set of rules after the restart ($n jumps, $nft nft tables)" \
    test "$((n + nft))" -eq 1
check "config: queues 2-3" test "$("$PDM" agent --status --control "$T_DIR/a.sock" |
    awk '$1 == "queues" { print $2 }')" = 2-3
check "ping after restart" sh -c "ip netns exec $NA ping -6 -c 4 -i 0.05 -W 2 $B1 >/dev/null"
check "packets marked again ($(counter a tx_marked))" test "$(counter a tx_marked)" -ge 4
check "config: records in pdm format" sh -c "sleep 0.3; grep -q '\"format\":\"pdm\"' $T_DIR/a2.jsonl"

# Only CAP_NET_ADMIN (bit 12) left, in every set that matters.
eff=$(awk '/^CapEff/ { print $2 }' /proc/$pa/status)
bnd=$(awk '/^CapBnd/ { print $2 }' /proc/$pa/status)
check "capabilities reduced to CAP_NET_ADMIN ($eff $bnd)" \
    test "$eff" = 0000000000001000 -a "$bnd" = 0000000000001000

# SIGHUP reopens the records file (rotation).
mv "$T_DIR/a2.jsonl" "$T_DIR/a2.old"
kill -HUP $pa
sleep 0.3
ip netns exec "$NA" ping -6 -c 2 -i 0.05 -W 2 $B1 >/dev/null
check "SIGHUP reopens the records file" sh -c "sleep 0.5; test -s $T_DIR/a2.jsonl"

# A second agent on the same status socket is refused, the first unharmed.
# (bounded: were the first agent gone, this one would run until killed)
ip netns exec "$NA" timeout 10 "$PDM" agent --peer $B1 --control "$T_DIR/a.sock" \
    --table openpdm2 2>"$T_DIR/second.err"
rc=$?
check "a second agent is refused ($rc)" test $rc -ne 0
check "  ... saying why" grep -q "another agent is running" "$T_DIR/second.err"
check "the first still answers" sh -c "\"$PDM\" agent --status --control $T_DIR/a.sock >/dev/null"

# SIGTERM: everything removed.
stop_pid $pa TERM
rca=$STOP_RC
stop_pid $pb TERM
check "SIGTERM: exit 0 ($rca)" test $rca -eq 0
check "SIGTERM: rules removed in A" no_rules "$NA"
check "SIGTERM: rules removed in B" no_rules "$NB"
"$PDM" agent --status --control "$T_DIR/a.sock" >/dev/null 2>&1
rc=$?
check "--status without an agent fails ($rc)" test $rc -eq 1

# --- passthrough: queued, accepted, untouched ------------------------------
check "passthrough agent starts" start_agent "$NA" p --peer $B1 --passthrough
pp=$AGENT_PID
ip netns exec "$NA" tcpdump -i va -w "$T_DIR/pass.pcap" --immediate-mode -U ip6 2>"$T_DIR/td.err" &
tcpd=$!
t_track $tcpd
wait_for "$T_DIR/td.err" "listening on" || bad "tcpdump did not start"
check "ping through a passthrough agent" \
    sh -c "ip netns exec $NA ping -6 -c 3 -i 0.05 -W 2 $B1 >/dev/null"
check "passthrough verdicts issued" test "$(counter p nfq_batches)" -ge 3
check "passthrough marks nothing" test "$(counter p tx_marked)" -eq 0
sleep 0.3
stop_pid $tcpd INT
$PY tests/agent/pcapcheck.py "$T_DIR/pass.pcap" --mode pdm --pair $A1 $B1 --min-enabled 0 \
    >"$T_DIR/pass.out" 2>&1
check "no PDM option on the wire with --passthrough" grep -q "of 6 enabled packets without" \
    "$T_DIR/pass.out"
stop_pid $pp TERM
check "passthrough: rules removed" no_rules "$NA"

# --- usage errors -------------------------------------------------------------
"$PDM" agent >/dev/null 2>&1
check "no peer: usage error" test $? -eq 2
"$PDM" agent --peer 2001:db8::/129 >/dev/null 2>&1
check "bad prefix: usage error" test $? -eq 2
"$PDM" agent --peer $B1 --mode v3 >/dev/null 2>&1
check "bad mode: usage error" test $? -eq 2
"$PDM" agent --peer $B1 --queue 5-2 >/dev/null 2>&1
check "bad queue range: usage error" test $? -eq 2
printf 'peer %s mode v2 bogus 1\n' $B1 >"$T_DIR/bad.conf"
"$PDM" agent --config "$T_DIR/bad.conf" 2>"$T_DIR/bad.err"
check "bad config line: usage error naming the line" grep -q "bad.conf:1: unknown peer setting 'bogus'" \
    "$T_DIR/bad.err"
t_result
