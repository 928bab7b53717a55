#!/bin/sh
# Integration test of the draft -14 layout end to end (format v2-14):
# two namespaces (tests/agent/lib.sh t_netns), an agent in each with
# --mode v2-14, ping6 and a UDP exchange between them, a capture on A's
# veth, and then the checks below; three times: both agents on the NFQUEUE
# path, both on the tc-eBPF path (bpf/pdm_v214.h), and A on eBPF with B on
# NFQUEUE (each reads the other's options). The eBPF runs SKIP when this
# build or kernel has no fast path.
#  - every captured PDM packet between the peers carries a -14 option
#    (Option Length 22, in a 32-byte Destination Options header), decoded
#    by `pdm option decode --header`; per direction and flow its 32-bit
#    PSNTP steps by one; each PSNLR is the peer's last PSNTP in full;
#  - the agents' records say v2-14 with the same 32-bit PSNs;
#  - `pdm analyze --format json` recognises the flows as v2-14 unaided and
#    finds server delays for the UDP flow;
#  - plain tshark parses the header (type 0x0f, Length 22, PadN, the UDP
#    after it): its own RFC 8250 dissector flags "Invalid length (22)", as
#    it does for every PDMv2 option, and that is the only malformed note;
#  - tshark with the plugin (BUILD/wireshark/pdmv2.so, when built) shows
#    format v2-14 with the same PSNs.
#
#   sh tests/it_v214.sh BUILD_DIR      (from the repository root, as root)
#
# V214_KEEP=1 keeps the run's files (capture, records, logs) in /tmp/v214-keep.
# Ends with "RESULT <passed> <failed> <skipped>" (docs/testing.md).
set -u
cd "$(dirname "$0")/.." || exit 2
. tests/agent/lib.sh
t_pdm_arg "$@"
B=$(cd "$1" && pwd)
if [ "$(id -u)" != 0 ]; then
    skip "it_v214.sh: needs root (network namespaces, netfilter)"
    t_result
    exit 0
fi
for t in tcpdump tshark; do
    if ! command -v $t >/dev/null 2>&1; then
        skip "it_v214.sh: no $t (mk/deps.sh installs it)"
        t_result
        exit 0
    fi
done
T_DIR=$(mktemp -d /tmp/openpdm-it-v214.XXXXXX)
trap '[ -n "${V214_KEEP:-}" ] && cp -r "$T_DIR" /tmp/v214-keep; t_cleanup' EXIT
trap 'exit 1' INT TERM HUP

check "create namespaces" t_netns $$
# The veths as a NIC without offloads (as tests/it_ebpf.sh): checksums done
# before the capture taps them, whichever path added the header.
if command -v ethtool >/dev/null 2>&1; then
    ip netns exec "$NA" ethtool -K va tx off tso off gso off >/dev/null 2>&1
    ip netns exec "$NB" ethtool -K vb tx off tso off gso off >/dev/null 2>&1
fi
cat >"$T_DIR/checks.py" <<'PYEOF'
import json, os, struct, subprocess, sys
sys.path.insert(0, "tests")
from itcheck import check as _check, finish

BUILD, D, A, B, TAG = sys.argv[1:6]
PDM = os.path.join(BUILD, "pdm")
CAP = os.path.join(D, TAG + ".pcap")


def check(cond, msg):
    _check(cond, TAG + ": " + msg)


def pcap_packets(path):
    """(ts, IPv6 bytes) of an Ethernet pcap (tcpdump's on a veth)."""
    data = open(path, "rb").read()
    endian = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
    off, out = 24, []
    while off + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(frame) > 14 and frame[12:14] == b"\x86\xdd":
            out.append((sec + usec / 1e6, frame[14:]))
    return out


def addr(b):
    import ipaddress
    return str(ipaddress.IPv6Address(b))


pkts = pcap_packets(CAP)
check(len(pkts) >= 50, "capture holds the exchange (%d IPv6 packets)" % len(pkts))
seen = {}  # (src, nh) -> list of decoded options
bad = []
for ts, p in pkts:
    src, dst, nh = addr(p[8:24]), addr(p[24:40]), p[6]
    if {src, dst} != {A, B} or nh == 58 and p[40] in (133, 134, 135, 136):
        continue
    if nh != 60:
        bad.append("no Destination Options header: %s > %s nh %d" % (src, dst, nh))
        continue
    hlen = (p[41] + 1) * 8
    r = subprocess.run([PDM, "option", "decode", "--header", p[40:40 + hlen].hex()],
                       capture_output=True, text=True)
    if r.returncode != 0:
        bad.append("decode: " + r.stderr.strip())
        continue
    o = json.loads(r.stdout)
    if o["format"] != "v2-14" or hlen != 32 or p[42:44] != b"\x0f\x16":
        bad.append("not a -14 option in a 32-byte header: %r" % o)
    # The fixed bytes as both paths write them: Version 2 / Epoch 0,
    # Reserved 0, then PadN of 4 zero bytes.
    if p[44:46] != b"\x20\x00" or p[60:62] != b"\x00\x00" or p[66:72] != b"\x01\x04" + bytes(4):
        bad.append("fixed bytes of the header differ: %s" % p[40:72].hex())
    seen.setdefault((src, o["next_header"]), []).append(o)
check(not bad, "every packet between the peers carries a -14 option: %s" % bad[:3])
for key in ((A, 58), (B, 58), (A, 17), (B, 17)):
    check(len(seen.get(key, [])) >= 5, "options from %s, next header %d: %d" %
          (key[0], key[1], len(seen.get(key, []))))
for key, opts in seen.items():
    steps = [(b["psntp"] - a["psntp"]) % 2**32 for a, b in zip(opts, opts[1:])]
    check(all(s == 1 for s in steps), "PSNTP of %s/%d steps by one: %s" % (key[0], key[1],
                                                                         steps[:8]))
    check(all(o["version"] == 2 and o["reserved"] == 0 and o["epoch"] == 0 for o in opts),
          "version 2, epoch 0, reserved 0 from %s/%d" % key)
# PSNLR of B's UDP answers: the PSNTP of A's request just before, in full.
a_udp = [o["psntp"] for o in seen.get((A, 17), [])]
b_udp = seen.get((B, 17), [])
check(len(b_udp) > 0 and all(o["psnlr"] in a_udp for o in b_udp),
      "each PSNLR of B names one of A's 32-bit PSNTPs")
# ... and A's requests name B's last answer (0 before the first one).
a_opts = seen.get((A, 17), [])
b_udp_psn = [o["psntp"] for o in b_udp]
check(a_opts and a_opts[0]["psnlr"] in [0] + b_udp_psn and
      all(o["psnlr"] in b_udp_psn for o in a_opts[1:]),
      "each PSNLR of A's requests after the first names one of B's 32-bit PSNTPs")
check(any(x >> 16 for x in a_udp + [o["psntp"] for o in b_udp]),
      "some PSNTP has a non-zero high half (32-bit random start)")

# Records.
for side, me in (("a", A), ("b", B)):
    try:
        recs = [json.loads(l) for l in open(os.path.join(D, "%s-%s.jsonl" % (TAG, side)))]
    except OSError as e:
        recs = []
        check(False, "records of %s: %s" % (side, e))
    fm = {r["format"] for r in recs}
    check(recs and fm == {"v2-14"}, "records of %s all say v2-14: %s" % (side, fm))
    tx = [r["psntp"] for r in recs if r["direction"] == "tx" and r["protocol"] == 17]
    cap_tx = [o["psntp"] for o in seen.get((me, 17), [])]
    check(tx and tx == cap_tx, "%s's tx records hold the captured 32-bit PSNTPs" % side)
    # What the receiving side read (on eBPF: the ring buffer's full PSNs).
    peer = B if me == A else A
    rx = [(r["psntp"], r["psnlr"]) for r in recs if r["direction"] == "rx" and r["protocol"] == 17]
    cap_rx = [(o["psntp"], o["psnlr"]) for o in seen.get((peer, 17), [])]
    check(rx and rx == cap_rx, "%s's rx records hold the peer's captured 32-bit PSNTP and PSNLR"
          % side)

# The analyser, unaided.
r = subprocess.run([PDM, "analyze", CAP, "--format", "json"], capture_output=True, text=True)
check(r.returncode == 0, "pdm analyze runs: %s" % r.stderr.strip()[:200])
try:
    doc = json.loads(r.stdout)
except ValueError:
    doc = {}
flows = doc.get("flows", []) if isinstance(doc, dict) else []
check(flows and all(f.get("format") == "v2-14" for f in flows),
      "analyser: every flow v2-14 (%s)" % [f.get("format") for f in flows])
udp = [f for f in flows if f.get("protocol") == 17]
sd = udp[0].get("server_delay_ns", {}) if udp else {}
check(udp and (sd.get("count") or 0) >= 15, "analyser: UDP server delays found: %s" % sd)
med = sd.get("median") or 0
check(2000000 <= med <= 50000000, "analyser: median server delay %s ns is about the 2 ms echo delay" % med)

# Plain tshark: the header is well formed; only Wireshark's RFC 8250 length note.
r = subprocess.run(["tshark", "-r", CAP, "-Y", "udp && ipv6.dst == %s" % B, "-T", "fields",
                    "-e", "ipv6.dstopts.len", "-e", "ipv6.opt.type", "-e", "ipv6.opt.length",
                    "-e", "udp.dstport", "-e", "_ws.expert.message"],
                   capture_output=True, text=True)
lines = [l.split("\t") for l in r.stdout.splitlines() if l]
check(len(lines) == 20, "plain tshark: 20 UDP packets to B (%d)" % len(lines))
okl = [l for l in lines if l[0] == "3" and l[1].split(",")[:2] in (["0x0f", "0x01"], ["15", "1"])
       and l[2].split(",")[:2] == ["22", "4"] and l[3] == "7014"]
check(len(okl) == len(lines), "plain tshark: header of 32 bytes, PDM option Length 22, PadN, UDP")
notes = {m for l in lines for m in l[4].split(",") if m}
check(notes == {"PDM: Invalid length (22 bytes)", "Unknown Data (not interpreted)"} or
      notes == {"PDM: Invalid length (22 bytes)"},
      "plain tshark: only its RFC 8250 dissector's length notes: %s" % notes)

# tshark with the plugin, when it is built.
so = os.path.join(BUILD, "wireshark", "pdmv2.so")
if os.path.exists(so):
    r = subprocess.run(["sh", "wireshark/tshark-with-plugin.sh", BUILD, "-r", CAP, "-Y",
                        "pdmv2 && udp && ipv6.src == %s" % A, "-T", "fields", "-e",
                        "pdmv2.format", "-e", "pdmv2.psntp", "-e", "pdmv2.version", "-e",
                        "pdmv2.epoch"], capture_output=True, text=True)
    rows = [l.split("\t") for l in r.stdout.splitlines() if l]
    check([x[0] for x in rows] == ["v2-14"] * len(rows) and len(rows) == 20,
          "plugin: 20 v2-14 options from A (%d rows; %s)" % (len(rows), r.stderr.strip()[:200]))
    check([int(x[1]) for x in rows] == a_udp, "plugin: the same 32-bit PSNTPs as pdm option")
    check(all(x[2] == "2" and x[3] == "0" for x in rows), "plugin: version 2, epoch 0")
else:
    print("SKIP " + TAG + ": plugin view: BUILD/wireshark/pdmv2.so not built (libwireshark-dev missing)")
finish()
PYEOF

# run_pair TAG DATAPATH_A DATAPATH_B: agents, capture $T_DIR/TAG.pcap,
# records TAG-a/b.jsonl, the traffic, then checks.py on them.
run_pair() {
    _t=$1
    if ! start_agent "$NA" "$_t-a" --peer "$B1" --mode v2-14 --datapath "$2" -v \
        --records "$T_DIR/$_t-a.jsonl"; then
        bad "$_t: agent A --mode v2-14 --datapath $2 starts"
        return 0
    fi
    PA=$AGENT_PID
    if ! start_agent "$NB" "$_t-b" --peer "$A1,mode=v2-14" --datapath "$3" -v \
        --records "$T_DIR/$_t-b.jsonl"; then
        bad "$_t: agent B mode=v2-14 --datapath $3 starts"
        stop_pid "$PA" TERM
        return 0
    fi
    PB=$AGENT_PID
    check "$_t: A says datapath $2" grep -q "datapath $2" "$T_DIR/$_t-a.err"
    check "$_t: B says datapath $3" grep -q "datapath $3" "$T_DIR/$_t-b.err"

    rm -f "$T_DIR/tcpdump.err" "$T_DIR/server.out"
    ip netns exec "$NA" tcpdump -i va --immediate-mode -U -w "$T_DIR/$_t.pcap" -s 256 ip6 \
        2>"$T_DIR/tcpdump.err" &
    CAP_PID=$!
    t_track $CAP_PID
    wait_for "$T_DIR/tcpdump.err" "listening on" 50 || echo "tcpdump did not say it listens" >&2

    check "$_t: ping6 through both agents" ip netns exec "$NA" timeout 20 ping -6 -c 5 -i 0.2 \
        -W 2 "$B1" >/dev/null
    # UDP: B echoes after 2 ms (a server delay the analyser must find), A sends 20.
    ip netns exec "$NB" timeout 20 "$PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("'"$B1"'", 7014))
print("ready", flush=True)
for _ in range(20):
    d, a = s.recvfrom(2048)
    time.sleep(0.002)
    s.sendto(d, a)
' >"$T_DIR/server.out" 2>&1 &
    SRV=$!
    t_track $SRV
    wait_for "$T_DIR/server.out" ready 50
    check "$_t: UDP exchange of 20 through both agents" ip netns exec "$NA" timeout 20 "$PY" -c '
import socket, sys
c = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
c.settimeout(2)
c.bind(("'"$A1"'", 7015))
for i in range(20):
    c.sendto(b"v214 %d" % i, ("'"$B1"'", 7014))
    d, _ = c.recvfrom(2048)
    assert d == b"v214 %d" % i
'
    wait $SRV 2>/dev/null
    sleep 1
    stop_pid $CAP_PID INT
    stop_pid "$PA" TERM
    stop_pid "$PB" TERM

    "$PY" "$T_DIR/checks.py" "$B" "$T_DIR" "$A1" "$B1" "$_t" >"$T_DIR/$_t.out" 2>&1
    cat "$T_DIR/$_t.out"
    add_result "$T_DIR/$_t.out"
}

run_pair nfq nfqueue nfqueue
if ebpf_ok --mode v2-14; then
    run_pair ebpf ebpf ebpf
    run_pair mixed ebpf nfqueue
else
    skip "it_v214.sh: no eBPF fast path here ($(head -c 200 "$T_DIR/probe.err")): ebpf runs"
fi
t_result
