#!/bin/sh
# Integration test of the `pdm analyze` and `pdm decrypt` command lines
# (tools/analyze/cmd_analyze.c, tools/analyze/cmd_decrypt.c). The analysis itself is tested
# in tests/test_analyze.c; this checks what a user runs:
#
#  - captures and expectations come from `BUILD/tests/test_analyze --emit`
#    (a simulated encrypted PDMv2 flow on Ethernet with a lost packet in
#    each direction, a replay and an altered option); `pdm analyze --format
#    json` must report exactly those numbers; CSV has one row per flow with
#    the header's columns; the table names the flow;
#  - `pdm decrypt`, then `pdm analyze` of the result without keys, gives
#    the same delays as the original with keys;
#  - --flow and --filter select flows, and `--filter udp` shows the pitfall
#    the man page warns of (libpcap's `udp` does not look past extension
#    headers, so it matches nothing here);
#  - usage errors exit 2, unreadable input exits 1, with a message;
#  - live capture (-i lo in a fresh network namespace, frames injected with
#    an AF_PACKET socket): -c stops after COUNT frames, -d after SECONDS,
#    SIGINT ends the capture and still prints the results; as root the
#    capture runs as nobody once the interface is open (or --user NAME;
#    --user root stays root) and still writes --report. Needs root and
#    unshare(1); skipped (and said so) otherwise.
#
#   sh tests/it_analyze.sh BUILD_DIR      (from the repository root)
#
# Ends with "RESULT <passed> <failed>" like the unit tests.
set -u
if [ $# -ne 1 ] || [ ! -x "$1/pdm" ] || [ ! -x "$1/tests/test_analyze" ]; then
    echo "usage: sh tests/it_analyze.sh BUILD_DIR (with pdm and tests/test_analyze built)" >&2
    echo "RESULT 0 1"
    exit 1
fi
B=$(cd "$1" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/pdm-it-analyze.XXXXXX")
trap 'rm -rf "$dir"' EXIT
if ! "$B/tests/test_analyze" --emit "$dir" >/dev/null; then
    echo "FAIL: test_analyze --emit"
    echo "RESULT 0 1"
    exit 1
fi
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
"$PY" - "$B/pdm" "$dir" <<'PYEOF'
import csv, io, json, os, pwd, shutil, signal, socket, struct, subprocess, sys, time

PDM, D = sys.argv[1], sys.argv[2]
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL " + what, file=sys.stderr)


def run(*args, timeout=60):
    p = subprocess.run([PDM] + list(args), capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def f(name):
    return os.path.join(D, name)


want = json.load(open(f("expected.json")))

# ---- JSON: the emitted ground truth -------------------------------------
rc, out, err = run("analyze", "--format", "json", "--keylog", f("enc.keys"), f("enc.pcap"))
check(rc == 0, "analyze json exit %d: %s" % (rc, err))
doc = json.loads(out) if rc == 0 else {"flows": [], "capture": {}}
check(len(doc["flows"]) == 1, "one flow")
fl = doc["flows"][0] if doc["flows"] else {}
for k in ("src", "dst", "sport", "dport", "packets", "lost", "replayed", "auth_failures"):
    check(fl.get(k) == want[k], "json %s: %r != %r" % (k, fl.get(k), want[k]))
check(doc["capture"].get("frames") == want["frames"], "frames")
check(doc["capture"].get("not_ipv6") == 2, "IPv4 and ARP frames skipped")
check(fl.get("protocol") == 17 and fl.get("format") == "v2-encrypted", "protocol/format")
sd = fl.get("server_delay_ns", {})
check(sd.get("count") == want["server_delay_count"], "server delay count")
check(sd.get("min") == want["server_delay_min"], "server delay min")
check(sd.get("max") == want["server_delay_max"], "server delay max")
check(fl.get("rtd_ns", {}).get("count") == want["rtd_count"], "rtd count")
check(fl.get("client_delay_ns", {}).get("count") == want["client_delay_count"], "client delay count")
for kind in ("server_delay_ns", "client_delay_ns", "rtd_ns"):
    st = fl.get(kind, {})
    check(set(st) >= {"count", "negative", "min", "mean", "median", "p95", "max"}, kind + " keys")
    check(st.get("negative") == 0, kind + ": no negative values in this capture")
    check(st.get("min", 0) <= st.get("median", -1) <= st.get("p95", -1) <= st.get("max", -1),
          kind + " order")
check(fl["client"]["rotations"] >= 9 and fl["server"]["rotations"] >= 9, "rotations followed")
check(len(doc.get("sources", [])) == 2, "two GP sources")

# ---- CSV and table -------------------------------------------------------
rc, out, err = run("analyze", "--format", "csv", "--keylog", f("enc.keys"), f("enc.pcap"))
rows = list(csv.reader(io.StringIO(out)))
check(rc == 0 and len(rows) == 2 and len(rows[0]) == len(rows[1]), "csv shape")
if len(rows) == 2:
    row = dict(zip(rows[0], rows[1]))
    check(int(row["lost"]) == want["lost"] and row["src"] == want["src"], "csv values")
    check(int(row["server_delay_count"]) == want["server_delay_count"], "csv server count")
    check(all(row[k + "_negative"] == "0" for k in ("server_delay", "client_delay", "rtd")),
          "csv negative columns")
rc, out, err = run("analyze", "--keylog", f("enc.keys"), f("enc.pcap"))
check(rc == 0 and "flow 1:" in out and "server delay" in out and "round trip" in out, "table")

# ---- decrypt, then analyse without keys -----------------------------------
rc, out, err = run("decrypt", f("enc.pcap"), f("dec.pcap"), "--keylog", f("enc.keys"))
check(rc == 0 and "options opened" in out, "decrypt: %s %s" % (out, err))
rc, out2, err = run("analyze", "--format", "json", f("dec.pcap"))
check(rc == 0, "analyze decrypted")
if rc == 0:
    fd = json.loads(out2)["flows"][0]
    for kind in ("server_delay_ns", "client_delay_ns", "rtd_ns"):
        check(fd[kind] == fl.get(kind), "decrypted %s equal" % kind)
    check(fd["format"] == "mixed" and fd["no_key"] == 1, "altered option left encrypted")

# ---- selecting flows --------------------------------------------------------
rc, out, err = run("analyze", "--format", "json", "--flow", ":9", f("enc.pcap"))
check(rc == 0 and json.loads(out)["flows"] == [], "--flow :9 keeps nothing")
rc, out, err = run("analyze", "--format", "json", "--flow", "[%s]:%d" % (want["dst"], want["dport"]),
                   f("enc.pcap"))
check(rc == 0 and len(json.loads(out)["flows"]) == 1, "--flow server endpoint")
rc, out, err = run("analyze", "--format", "json", "--filter", "ip6", f("enc.pcap"))
check(rc == 0 and json.loads(out)["capture"]["frames"] == want["packets"], "--filter ip6")
rc, out, err = run("analyze", "--format", "json", "--filter", "udp", f("enc.pcap"))
check(rc == 0 and json.loads(out)["flows"] == [], "--filter udp misses extension headers")
rc, out, err = run("analyze", "--format", "json", "--server", want["src"], f("enc.pcap"))
if rc == 0:
    fs = json.loads(out)["flows"][0]
    check(fs["src"] == want["dst"] and fs["client_by"] == "server-option", "--server swaps roles")

# ---- report ---------------------------------------------------------------
rc, out, err = run("analyze", "--format", "json", "--keylog", f("enc.keys"), "--report",
                   f("r.html"), f("enc.pcap"))
html = open(f("r.html")).read() if os.path.exists(f("r.html")) else ""
check(rc == 0 and html.count("<svg") == 6 and "<script" not in html, "report")

# ---- errors ----------------------------------------------------------------
for args, code in ((["analyze"], 2), (["analyze", "--format", "xml", f("enc.pcap")], 2),
                   (["analyze", "--bogus", f("enc.pcap")], 2),
                   (["analyze", "-c", "5", f("enc.pcap")], 2),
                   (["analyze", "--server", "not-an-address", f("enc.pcap")], 2),
                   (["analyze", "--filter", "ip6 and (", f("enc.pcap")], 2),
                   (["analyze", f("missing.pcap")], 1),
                   (["analyze", "--keylog", f("missing.keys"), f("enc.pcap")], 1),
                   (["analyze", "--keylog", f("expected.json"), f("enc.pcap")], 1),
                   (["analyze", f("expected.json")], 1),
                   (["decrypt", f("enc.pcap")], 2),
                   (["decrypt", f("enc.pcap"), f("enc.pcap"), "--keylog", f("enc.keys")], 2),
                   (["decrypt", f("missing.pcap"), f("x.pcap"), "--keylog", f("enc.keys")], 1)):
    rc, out, err = run(*args)
    check(rc == code and err.startswith("pdm: ") and err.count("\n") == 1,
          "%s: exit %d (want %d), stderr %r" % (" ".join(args[:3]), rc, code, err))
# getopt_long: values after '=' or as the next word, options after the files,
# --help on stdout with status 0.
for cmd in ("analyze", "decrypt"):
    for h in ("-h", "--help"):
        rc, out, err = run(cmd, h)
        check(rc == 0 and out.startswith("usage: pdm " + cmd) and err == "",
              "%s %s: exit %d" % (cmd, h, rc))
rc, out, err = run("analyze", f("enc.pcap"), "--format=csv", "--keylog=" + f("enc.keys"))
check(rc == 0 and out.startswith("src,dst,"), "options after the file, --opt=value")
for args, msg in ((["analyze", f("enc.pcap"), "--format"], "--format needs a value"),
                  (["analyze", "--f", "json", f("enc.pcap")], "option '--f' is ambiguous"),
                  (["analyze", "--help=1"], "--help takes no value"),
                  (["analyze", "-x", f("enc.pcap")], "unknown option '-x'"),
                  (["decrypt", "--keylog"], "--keylog needs a value"),
                  (["decrypt", "--type", "256", "a", "b", "--keylog", "k"], "not a number")):
    rc, out, err = run(*args)
    check(rc == 2 and msg in err and err.count("\n") == 1, "%s: %d %r" % (args, rc, err))

# ---- live capture ------------------------------------------------------------
def frames_of(path):
    """Raw IPv6 packets of a classic pcap (pcapw writes the host's byte order)."""
    data = open(path, "rb").read()
    off, out = 24, []
    e = ">" if data[:2] == b"\xa1\xb2" else "<"
    lt = struct.unpack(e + "I", data[20:24])[0]
    while off + 16 <= len(data):
        cl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        pkt = data[off + 16:off + 16 + cl]
        off += 16 + cl
        if lt == 1:
            if pkt[12:14] != b"\x86\xdd":
                continue
            pkt = pkt[14:]
        out.append(pkt)
    return out


LIVE = r'''
import socket, sys, time
frames = [bytes.fromhex(l) for l in open(sys.argv[1]).read().split()]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("lo", 0))
for fr in frames:
    s.send(b"\0" * 12 + b"\x86\xdd" + fr)
'''


def live(args, nsend, sigint=False):
    """Runs pdm analyze -i lo in a new network namespace, sends nsend
    frames, returns (rc, json)."""
    pk = frames_of(f("enc.pcap"))[:nsend]
    open(f("live.hex"), "w").write("\n".join(p.hex() for p in pk))
    open(f("live.py"), "w").write(LIVE)
    script = ('ip link set lo up || exit 9; "%s" analyze -i lo --format json %s >"%s" & pid=$!; '
              'sleep 1; "%s" "%s" "%s"; %s wait $pid' %
              (PDM, " ".join(args), f("live.json"), sys.executable, f("live.py"), f("live.hex"),
               "sleep 1; kill -INT $pid;" if sigint else ""))
    p = subprocess.run(["unshare", "-n", "sh", "-c", script], capture_output=True, text=True,
                       timeout=60)
    try:
        return p.returncode, json.load(open(f("live.json")))
    except (OSError, ValueError):
        return p.returncode, None


if os.geteuid() != 0 or shutil.which("unshare") is None or \
        subprocess.run(["unshare", "-n", "true"]).returncode != 0:
    print("SKIP live capture: needs root and unshare(1)")
else:
    t0 = time.monotonic()
    rc, doc = live(["-c", "40", "-d", "20"], 60)
    check(rc == 0 and doc is not None and doc["capture"]["frames"] == 40, "live -c 40: rc %d" % rc)
    if doc and doc["flows"]:
        check(doc["flows"][0]["packets"] == 40 and doc["flows"][0]["format"] == "v2-encrypted",
              "live flow")
    check(time.monotonic() - t0 < 15, "live -c stops early")
    t0 = time.monotonic()
    rc, doc = live(["-d", "3", "--keylog", f("enc.keys")], 30)
    took = time.monotonic() - t0
    check(rc == 0 and doc is not None and doc["capture"]["frames"] == 30, "live -d 3")
    check(2.5 < took < 10, "live -d 3 took %.1f s" % took)
    if doc and doc["flows"]:
        check(doc["flows"][0]["server_delay_ns"]["count"] > 0, "live: delays with the key log")
    rc, doc = live(["-d", "30"], 20, sigint=True)
    check(rc == 0 and doc is not None and doc["capture"]["frames"] == 20, "live SIGINT")

    # As root, the capture leaves root once lo is open (nobody by default,
    # SUDO_USER unset), yet writes its --report, opened before.
    def live_uid(args):
        script = ('ip link set lo up || exit 9; env -u SUDO_USER "%s" analyze -i lo -d 2 %s '
                  '>/dev/null 2>"%s" & pid=$!; sleep 1; '
                  'awk \'/^Uid:/ {print $3}\' /proc/$pid/status; wait $pid; echo rc=$?' %
                  (PDM, " ".join(args), f("live.err")))
        p = subprocess.run(["unshare", "-n", "sh", "-c", script], capture_output=True, text=True,
                           timeout=60)
        return p.stdout.split()
    nobody = pwd.getpwnam("nobody").pw_uid
    out = live_uid(["--report", f("live.html")])
    check(out == [str(nobody), "rc=0"], "live capture runs as nobody: %s" % out)
    check(os.path.getsize(f("live.html")) > 0 and os.stat(f("live.html")).st_uid == 0,
          "live --report written though root was left")
    out = live_uid(["--user", "root"])
    check(out == ["0", "rc=0"], "live --user root stays root: %s" % out)
    out = live_uid(["--user", "no-such-user-opdm"])
    err = open(f("live.err")).read()
    check(out[-1:] == ["rc=1"] and "no-such-user-opdm: no such user" in err,
          "live --user unknown: %s %r" % (out, err))

print("RESULT %d %d" % (passed, failed))
sys.exit(1 if failed else 0)
PYEOF
status=$?
# (not exec: the EXIT trap removes the temporary directory)
exit $status
