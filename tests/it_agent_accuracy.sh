#!/bin/sh
# How much the agent disturbs what it measures (issue 10): a UDP server in
# B answers each request after 2 ms; agents at both ends; a capture at B's
# interface. For each request and its reply, tests/agent/accuracy.py puts
# the server delay the reply's option carries (DeltaTLR, written by B's
# agent) next to the one the capture sees on the wire (reply out minus
# request in). The difference is the agent's own latency: time spent
# between the wire and the point where it reads its clock.
#
# Each data path the agent offers (`--datapath`, when it has the option),
# modes pdm, v2 and v2-encrypted (both agents with one key log; the sealed
# options opened by `pdm analyze --keylog`, whose median server delay is set
# against the wire's median, printed only). The kernel path (ebpf) must be
# within 10 us (median) in modes pdm and v2;
# the NFQUEUE path's figure is printed, not held to that bound (it queues
# every packet to user space and back: ~100 us were measured).
#
#   sh tests/it_agent_accuracy.sh BUILD_DIR  (as root, from the repository root)
#
# Ends with "RESULT <passed> <failed> <skipped>".
set -u
. tests/agent/lib.sh
t_pdm_arg "$@"
T_DIR=$(mktemp -d /tmp/openpdm-it-agent-acc.XXXXXX)
trap "t_cleanup" EXIT
trap 'exit 1' INT TERM HUP
TR=tests/agent/traffic.py
PORT=7100

if [ "$(id -u)" != 0 ]; then
    skip "agent accuracy: needs root (network namespaces, netfilter)"
    t_result
fi
if ! command -v tcpdump >/dev/null; then
    bad "tcpdump is not installed (mk/deps.sh installs it)"
    t_result
fi
check "two namespaces" t_netns $$

DATAPATHS=nfqueue
if "$PDM" agent --help | grep -q -- '--datapath'; then
    DATAPATHS="nfqueue ebpf"
fi

echo "PDMV2_SECRET $A1 $B1 0020-0001-0001 $(hex32) $(hex32)" >"$T_DIR/keys.log"
chmod 600 "$T_DIR/keys.log"

ip netns exec $NB $PY $TR udp-echo :: $PORT --delay-ms 2 >"$T_DIR/echo.out" 2>&1 &
t_track $!
wait_for "$T_DIR/echo.out" listening || bad "UDP server did not start"

# run DATAPATH MODE: one configuration; the figure goes to stderr.
run() {
    dparg=""
    [ "$DATAPATHS" != nfqueue ] && dparg="--datapath $1"
    name="$1-$2"
    # shellcheck disable=SC2086
    start_agent $NA "a-$name" --peer $B1 --mode "$2" --keylog "$T_DIR/keys.log" $dparg || return 1
    pa=$AGENT_PID
    # shellcheck disable=SC2086
    start_agent $NB "b-$name" --peer $A1 --mode "$2" --keylog "$T_DIR/keys.log" $dparg || return 1
    pb=$AGENT_PID
    ip netns exec $NB tcpdump -i vb -n -U --immediate-mode -s 256 --time-stamp-precision=nano \
        -w "$T_DIR/$name.pcap" ip6 2>"$T_DIR/$name.tcpdump" &
    pc=$!
    t_track $pc
    wait_for "$T_DIR/$name.tcpdump" "listening on" || return 1
    out=$(ip netns exec $NA $PY $TR udp-client $B1 $PORT 200 --interval-ms 8)
    sleep 0.2
    stop_pid $pc INT
    stop_pid $pa TERM
    stop_pid $pb TERM
    [ "$out" = "sent 200 received 200" ] || {
        echo "FAIL $name: UDP exchange: $out" >&2
        return 1
    }
    lim=""
    [ "$1" = ebpf ] && lim="--max-us 10"
    if [ "$2" = v2-encrypted ]; then
        # Printed, not held to the bound: a median of options against a
        # median of wire delays (not pairs) carries the echo server's
        # +-40 us jitter twice; -5.5 to -8.5 us on the fast path here, with
        # single runs past 10.
        lim=""
        # The replies' median server delay from their opened options.
        "$PDM" analyze --keylog "$T_DIR/keys.log" --server "[$B1]:$PORT" --format json \
            "$T_DIR/$name.pcap" >"$T_DIR/$name.json" 2>"$T_DIR/$name.an.err"
        om=$($PY -c 'import json, sys
d = json.load(open(sys.argv[1]))
m = [f["server_delay_ns"]["median"] for f in d["flows"] if f["protocol"] == 17 and
     f["format"] == "v2-encrypted" and f["server_delay_ns"]["count"] >= 190]
print(m[0] if len(m) == 1 else "")' "$T_DIR/$name.json" 2>>"$T_DIR/$name.an.err")
        [ -n "$om" ] || {
            echo "FAIL $name: no opened server delays: $(head -c 300 "$T_DIR/$name.an.err")" >&2
            return 1
        }
        lim="$lim --option-median-ns $om"
    fi
    # shellcheck disable=SC2086
    $PY tests/agent/accuracy.py "$T_DIR/$name.pcap" --server $B1 --port $PORT \
        --min-pairs 190 $lim >"$T_DIR/$name.acc" 2>&1
    sed -n "s/^note /note $name: /p" "$T_DIR/$name.acc" >&2
    add_result "$T_DIR/$name.acc"
    grep '^FAIL' "$T_DIR/$name.acc" >&2
    return 0
}

for dp in $DATAPATHS; do
    for mode in pdm v2 v2-encrypted; do
        check "$dp $mode: agents, capture and exchange" run $dp $mode
    done
done
t_result
