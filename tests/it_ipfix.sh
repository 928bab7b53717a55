#!/bin/sh
# IPFIX export (docs/export.md, tools/common/ipfix.c) into a real collector:
#
#  - `pdm analyze --ipfix` of captures with known ground truth
#    (`test_analyze --emit`: clear PDMv2, and encrypted PDMv2 opened with its
#    key log) to nfacctd (pmacct) on [::1], print plugin, JSON, the PDM
#    fields as aggregate primitives: every field of every record equals
#    what `pdm analyze --format json` says of the same capture;
#  - the UDP stream, caught by a listener here, parses with ipfixDump
#    --rfc5610 (templates, the RFC 5610 type records naming our fields) and
#    with our own decoder; a TCP stream the same way, PEN set to 4242;
#  - a TCP collector that is down: pdm analyze gives up within its bound,
#    says how many records were not sent, exits 1;
#  - as root: agents in two namespaces (mode v2, --ipfix-interval 1) with
#    UDP traffic between them, nfacctd in A's namespace; the records summed
#    over the intervals equal `pdm analyze --format json` of a capture of
#    A's interface taken at the same time; B exports to a TCP collector that
#    is down: its records are dropped and counted, the traffic (checked in
#    A's capture) does not notice. Twice: both agents on NFQUEUE, then on
#    the tc-eBPF fast path (no --records: its ring-buffer events are made
#    for the export alone; SKIP where the fast path does not load).
#
#   sh tests/it_ipfix.sh BUILD_DIR      (from the repository root)
set -u
. tests/agent/lib.sh
t_pdm_arg "$@"
B=$(dirname "$PDM")
T_DIR=$(mktemp -d /tmp/openpdm-it-ipfix.XXXXXX)
trap "t_cleanup" EXIT
trap 'exit 1' INT TERM HUP
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

if ! "$B/tests/test_analyze" --emit "$T_DIR" >/dev/null; then
    bad "test_analyze --emit"
    t_result
    exit
fi
if "$PDM" analyze --ipfix '[::1]:9' "$T_DIR/clear.pcap" 2>&1 >/dev/null | grep -q 'no IPFIX export'; then
    skip "this build has no IPFIX export (libfixbuf-dev missing)"
    t_result
    exit
fi
for t in nfacctd ipfixDump; do
    if ! command -v $t >/dev/null; then
        skip "$t not installed (mk/deps.d/ipfix.txt)"
        t_result
        exit
    fi
done

# ---- pdm analyze ------------------------------------------------------------
timeout 50 "$PY" - "$PDM" "$T_DIR" >"$T_DIR/analyze.out" 2>&1 <<'PYEOF'
import json, os, socket, subprocess, sys, threading, time
sys.path.insert(0, "tests")
import ipfix_check as ic

PDM, D = sys.argv[1], sys.argv[2]
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL " + what, file=sys.stderr)


def analyze(*args):
    p = subprocess.run([PDM, "analyze"] + list(args), capture_output=True, text=True, timeout=20)
    return p


cases = [("clear", [os.path.join(D, "clear.pcap")]),
         ("encrypted", ["--keylog", os.path.join(D, "enc.keys"), os.path.join(D, "enc.pcap")])]
truth = {}
for name, args in cases:
    p = analyze("--format", "json", *args)
    check(p.returncode == 0, "%s: analyze --format json: %s" % (name, p.stderr))
    truth[name] = json.loads(p.stdout)["flows"]
check(any(f["auth_failures"] for f in truth["encrypted"]) and
      any(f["lost"] for f in truth["clear"]), "the captures have losses and auth failures")

# nfacctd, one run per capture so that records do not mix
for name, args in cases:
    port = ic.free_port()
    sub = os.path.join(D, "nf-" + name)
    os.mkdir(sub)
    nf, out = ic.nfacctd_start(sub, port)
    try:
        p = analyze("--format", "json", "--ipfix", "[::1]:%d" % port, "--ipfix-pen", "32473", *args)
        check(p.returncode == 0, "%s: analyze --ipfix: %s" % (name, p.stderr))
        recs = ic.nfacctd_records(out, len(truth[name]))
    finally:
        ic.nfacctd_stop(nf)
    got = {(r["src"], r["dst"], r["sport"], r["dport"]): r for r in map(ic.from_nfacctd, recs)}
    check(len(got) == len(truth[name]) and len(recs) == len(truth[name]),
          "%s: nfacctd has %d records of %d flows" % (name, len(recs), len(truth[name])))
    for f in truth[name]:
        r = got.get((f["src"], f["dst"], f["sport"], f["dport"]))
        check(r is not None, "%s: flow %s -> %s in nfacctd" % (name, f["src"], f["dst"]))
        if r is not None:
            bad = ic.compare(r, f)
            check(not bad, "%s: nfacctd record differs: %s" % (name, "; ".join(bad)))


def listen(kind, port, path, secs):
    s = socket.socket(socket.AF_INET6, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::1", port))
    s.settimeout(secs)
    data = b""
    try:
        if kind == socket.SOCK_STREAM:
            s.listen(1)
            c, _ = s.accept()
            c.settimeout(secs)
            while True:
                b = c.recv(65536)
                if not b:
                    break
                data += b
        else:
            while True:
                data += s.recv(65536)
    except socket.timeout:
        pass
    with open(path, "wb") as f:
        f.write(data)


# UDP and TCP streams to a listener here: ipfixDump and our decoder
for kind, tname, pen in ((socket.SOCK_DGRAM, "udp", "32473"), (socket.SOCK_STREAM, "tcp", "4242")):
    port = ic.free_port(kind)
    path = os.path.join(D, "stream-%s.ipfix" % tname)
    t = threading.Thread(target=listen, args=(kind, port, path, 2))
    t.start()
    time.sleep(0.2)
    p = analyze("--ipfix", "[::1]:%d" % port, "--ipfix-transport", tname, "--ipfix-pen", pen,
                "--keylog", os.path.join(D, "enc.keys"), os.path.join(D, "clear.pcap"),
                os.path.join(D, "enc.pcap"))
    check(p.returncode == 0, "%s: analyze --ipfix: %s" % (tname, p.stderr))
    t.join()
    data = open(path, "rb").read()
    d = subprocess.run(["ipfixDump", "--rfc5610", "--in", path], capture_output=True, text=True,
                       timeout=10)
    check(d.returncode == 0, "%s: ipfixDump exits 0: %s" % (tname, d.stderr[:300]))
    for w in ("pdmRoundTripDelayMax", "pdmLostPackets", "pdmAuthFailures", "packetDeltaCount",
              "flowStartNanoseconds", "(%s/33)" % pen, "privateEnterpriseNumber : %s" % pen):
        check(w in d.stdout, "%s: ipfixDump shows %s" % (tname, w))
    check("_alienInformationElement" not in d.stdout.split("--- data record")[-1],
          "%s: ipfixDump knows every field of the data records" % tname)
    mine = ic.decode_stream(data)
    both = analyze("--format", "json", "--keylog", os.path.join(D, "enc.keys"),
                   os.path.join(D, "clear.pcap"), os.path.join(D, "enc.pcap"))
    flows = json.loads(both.stdout)["flows"]
    check(len(mine) == len(flows), "%s: %d records decoded, %d flows" % (tname, len(mine), len(flows)))
    for r, f in zip(mine, flows):
        bad = ic.compare(r, f)
        check(not bad, "%s: decoded record differs: %s" % (tname, "; ".join(bad)))

# A TCP collector that is down: bounded, counted, exit 1
port = ic.free_port(socket.SOCK_STREAM)
t0 = time.time()
p = analyze("--ipfix", "[::1]:%d" % port, "--ipfix-transport", "tcp", os.path.join(D, "clear.pcap"))
check(p.returncode == 1 and "not sent" in p.stderr and time.time() - t0 < 8,
      "a down TCP collector: exit %d in %.1f s, %r" % (p.returncode, time.time() - t0, p.stderr))
p = analyze("--ipfix", "nohost", os.path.join(D, "clear.pcap"))
check(p.returncode == 2 and "--ipfix" in p.stderr, "a bad destination exits 2: %r" % p.stderr)
p = analyze("--ipfix-transport", "sctp", os.path.join(D, "clear.pcap"))
check(p.returncode == 2, "--ipfix-transport sctp is a usage error")
print("RESULT %d %d" % (passed, failed))
PYEOF
add_result "$T_DIR/analyze.out"
grep '^FAIL' "$T_DIR/analyze.out" >&2

# ---- agents in two namespaces -----------------------------------------------
# run_agents DP [NS_SUFFIX]: the agents on data path DP, files in $T_DIR/DP.
run_agents() {
    D=$T_DIR/$1
    mkdir -p "$D"
    t_netns "$$$2" || return 1
    NFP=47390
    cat >"$T_DIR/agent.py" <<'PYEOF'
import os, sys
sys.path.insert(0, "tests")
import ipfix_check as ic
d, port = sys.argv[1], int(sys.argv[2])
nf, out = ic.nfacctd_start(d, port)
print(nf.pid, out, flush=True)
nf.wait()
PYEOF
    mkdir "$D/nf-agent"
    ip netns exec "$NA" "$PY" "$T_DIR/agent.py" "$D/nf-agent" $NFP >"$D/nf-agent.pid" 2>&1 &
    t_track $!
    sleep 1
    NF_PID=$(awk '{ print $1 }' "$D/nf-agent.pid")
    [ -n "$NF_PID" ] && t_track "$NF_PID"
    ip netns exec "$NA" tcpdump -i va -w "$D/agent.pcap" -U -s 0 ip6 >"$D/tcpdump.log" 2>&1 &
    TD_PID=$!
    t_track $TD_PID
    start_agent "$NA" a --peer $B1 --mode v2 --datapath "$1" --ipfix "[::1]:$NFP" \
        --ipfix-interval 1 || return 1
    A_PID=$AGENT_PID
    # B exports to a TCP collector that is down: its packets must not care.
    start_agent "$NB" b --peer $A1 --mode v2 --datapath "$1" --ipfix "[::1]:47399" \
        --ipfix-transport tcp --ipfix-interval 1 || return 1
    B_PID=$AGENT_PID
    sleep 0.5
    ip netns exec "$NB" "$PY" tests/agent/traffic.py udp-echo :: 7000 >"$D/echo.out" 2>&1 &
    t_track $!
    sleep 0.3
    ip netns exec "$NA" "$PY" tests/agent/traffic.py udp-client $B1 7000 150 --interval-ms 15 \
        >"$D/client.out" 2>&1
    sleep 0.5
    sleep 1 # one more interval of B's
    echo "a_sent $(counter a ipfix_sent)" >"$D/counters"
    echo "b_sent $(counter b ipfix_sent) b_dropped $(counter b ipfix_dropped)" >>"$D/counters"
    stop_pid "$A_PID" TERM
    stop_pid "$B_PID" TERM
    sleep 0.5
    stop_pid "$TD_PID" INT
    sleep 1.5 # nfacctd's next print
    return 0
}

# The capture against the collector's records (written once, run per case).
cat >"$T_DIR/agent_check.py" <<'PYEOF'
import json, os, subprocess, sys
sys.path.insert(0, "tests")
import ipfix_check as ic
PDM, D, DP = sys.argv[1], sys.argv[2], sys.argv[3]
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL %s: %s" % (DP, what), file=sys.stderr)


p = subprocess.run([PDM, "analyze", "--format", "json", os.path.join(D, "agent.pcap")],
                   capture_output=True, text=True, timeout=20)
check(p.returncode == 0, "analyze of the capture: " + p.stderr)
flows = [f for f in json.loads(p.stdout)["flows"] if f["protocol"] == 17]
recs = ic.nfacctd_records(os.path.join(D, "nf-agent", "nf-out.json"), 2, timeout=5)
merged = ic.merge([ic.from_nfacctd(r) for r in recs])
udp = {k: v for k, v in merged.items() if k[4] == 17}
check(len(flows) == 1 and len(udp) == 1,
      "one UDP flow: %d in the capture, %d exported" % (len(flows), len(udp)))
check(len(recs) >= 2, "several intervals' records (%d)" % len(recs))
if flows and udp:
    f, r = flows[0], list(udp.values())[0]
    check(f["packets"] >= 290, "traffic flowed (%d PDM packets)" % f["packets"])
    # Times: the agent's clock next to the capture's, a few ms apart.
    bad = ic.compare(r, f, time_slack_ns=50000000)
    check(not bad, "agent records differ from the capture: " + "; ".join(bad))
print("RESULT %d %d" % (passed, failed))
PYEOF

# agents_case DP NS_SUFFIX: run_agents, then the checks of what A exported.
agents_case() {
    if ! run_agents "$1" "$2"; then
        bad "$1: agents in two namespaces with --ipfix did not run"
        return 0
    fi
    timeout 30 "$PY" "$T_DIR/agent_check.py" "$PDM" "$T_DIR/$1" "$1" >"$T_DIR/$1/agent.out" 2>&1
    [ -n "${NF_PID:-}" ] && kill "$NF_PID" 2>/dev/null
    add_result "$T_DIR/$1/agent.out"
    grep '^FAIL' "$T_DIR/$1/agent.out" >&2
    check "$1: agent A: ipfix_sent in --status ($(head -n 1 "$T_DIR/$1/counters"))" \
        grep -q '^a_sent [1-9]' "$T_DIR/$1/counters"
    check "$1: agent B, collector down: nothing sent, records dropped ($(tail -n 1 "$T_DIR/$1/counters"))" \
        grep -q '^b_sent 0 b_dropped [1-9]' "$T_DIR/$1/counters"
}

if [ "$(id -u)" != 0 ] || ! command -v tcpdump >/dev/null; then
    skip "agents in namespaces: needs root and tcpdump"
else
    agents_case nfqueue ""
    if ebpf_ok; then
        agents_case ebpf e
    else
        skip "it_ipfix.sh: no eBPF fast path here ($(head -c 200 "$T_DIR/probe.err")): ebpf agents"
    fi
fi
t_result
