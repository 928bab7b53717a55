#!/bin/sh
# Benchmark of `pdm analyze` (tools/analyze/), standalone:
#
#   sh bench/analyze.sh BUILD_DIR      (BUILD_DIR/pdm and BUILD_DIR/bench/ built)
#
# Generates, with BUILD_DIR/bench/bench_gencap, captures of encrypted and of
# unencrypted PDMv2 packets (64 UDP flows on Ethernet, a key rotation every
# 1000 packets per direction, ClientSecrets from a PDMV2_PRIMARY key log):
# N packets (1,000,000), TN packets (100,000: tshark is slow) and 1 packet,
# each kind. Every program is timed the same way, in the same run:
#
#   - wall clock and CPU time (user + system of the process and its
#     threads), each the best of several runs (the machine is shared), with
#     the files in the page cache (an untimed read warms it);
#   - per packet with its start-up, time(file) / packets, and without it,
#     (time(file) - time(1-packet file)) / (packets - 1).
#
# Programs: pdm analyze --format json [--keylog KEYS]; a bare libpcap loop
# that only reads the file (BUILD_DIR/bench/bench_pcaploop, the floor);
# tshark -T fields -e ipv6.opt.pdm.... (Wireshark's dissector).
#
# Targets, each checked on the one figure its line names, both sides
# measured alike:
#   1. unencrypted, N packets: pdm analyze at least 1/3 of the bare loop's
#      packet rate, CPU time per packet without start-up (the analysis may
#      cost at most twice what reading the capture costs);
#   2. each kind, the same TN packets: pdm analyze at least 50 times faster
#      than tshark, CPU time per packet without start-up (tshark's start-up,
#      about half a second, would flatter pdm).
# A missed target is printed as MISSED and makes the exit status 1.
set -u
if [ $# -ne 1 ] || [ ! -x "$1/pdm" ] || [ ! -x "$1/bench/bench_gencap" ] ||
    [ ! -x "$1/bench/bench_pcaploop" ]; then
    echo "usage: sh bench/analyze.sh BUILD_DIR (with pdm and bench/bench_* built)" >&2
    exit 2
fi
B=$1
N=${ANALYZE_BENCH_PACKETS:-1000000}
TN=${ANALYZE_BENCH_TSHARK_PACKETS:-100000}
dir=$(mktemp -d "${TMPDIR:-/tmp}/pdm-bench-analyze.XXXXXX")
trap 'rm -rf "$dir"' EXIT

for n in "$N" "$TN" 1; do
    "$B/bench/bench_gencap" "$dir/enc-$n.pcap" "$n" encrypted "$dir/enc.keys" || exit 1
    "$B/bench/bench_gencap" "$dir/clear-$n.pcap" "$n" clear || exit 1
done

PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
"$PY" - "$B" "$dir" "$N" "$TN" <<'PYEOF'
import os, shutil, subprocess, sys, time

B, DIR, N, TN = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
PDM = os.path.join(B, "pdm")
LOOP = os.path.join(B, "bench", "bench_pcaploop")
KEYS = os.path.join(DIR, "enc.keys")
FIELDS = ["-e", "ipv6.opt.pdm.psn_this_pkt", "-e", "ipv6.opt.pdm.psn_last_recv",
          "-e", "ipv6.opt.pdm.delta_last_recv", "-e", "ipv6.opt.pdm.delta_last_sent"]


def cap(kind, n):
    return os.path.join(DIR, "%s-%d.pcap" % (kind, n))


def run(cmd, repeat):
    """Best wall and best CPU seconds over `repeat` runs (each minimum on
    its own); stdout discarded."""
    wall = cpu = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, ru = os.wait4(p.pid, 0)
        w = time.perf_counter() - t0
        err = p.stderr.read().decode(errors="replace")
        p.stderr.close()
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit("bench: %s failed: %s" % (" ".join(cmd), err.strip()))
        c = ru.ru_utime + ru.ru_stime
        wall = w if wall is None else min(wall, w)
        cpu = c if cpu is None else min(cpu, c)
    return wall, cpu


class Timing:
    """One program on an n-packet file and on the 1-packet file."""

    def __init__(self, name, cmd_of, kind, n, repeat, repeat_one=None):
        self.name, self.n = name, n
        self.one = run(cmd_of(cap(kind, 1)), repeat_one or repeat)
        self.full = run(cmd_of(cap(kind, n)), repeat)

    def per(self, i, startup):
        """ns per packet of measure i (0 wall, 1 cpu), with or without start-up."""
        if startup:
            return self.full[i] / self.n * 1e9
        return max(self.full[i] - self.one[i], 1e-9) / (self.n - 1) * 1e9

    def print(self):
        print("%-40s %8d pkts  wall %8.3f s (1 pkt %6.3f s)  cpu %8.3f s (1 pkt %6.3f s)"
              % (self.name, self.n, self.full[0], self.one[0], self.full[1], self.one[1]))
        print("%-40s per packet: wall %9.1f ns, %9.1f ns without start-up; "
              "cpu %9.1f ns, %9.1f ns without start-up"
              % ("", self.per(0, 1), self.per(0, 0), self.per(1, 1), self.per(1, 0)))


def pdm_cmd(kind):
    keys = ["--keylog", KEYS] if kind == "enc" else []
    return lambda f: [PDM, "analyze", "--format", "json"] + keys + [f]


def verdict(ok):
    return "met" if ok else "MISSED"


for n in (N, TN, 1):  # page cache
    for kind in ("clear", "enc"):
        run([LOOP, cap(kind, n)], 1)
print("captures: %d packets, %d bytes (unencrypted), %d bytes (encrypted); %d-packet and "
      "1-packet files alike" % (N, os.path.getsize(cap("clear", N)), os.path.getsize(cap("enc", N)),
                                 TN))

status = 0
names = {"clear": "unencrypted", "enc": "encrypted"}
loops, pdms = {}, {}
for kind in ("clear", "enc"):
    loops[kind] = Timing("bare libpcap loop, " + names[kind], lambda f: [LOOP, f], kind, N, 5)
    pdms[kind] = Timing("pdm analyze, " + names[kind], pdm_cmd(kind), kind, N, 5)
    loops[kind].print()
    pdms[kind].print()
    print("%s: pdm analyze runs at %.2f of the bare loop's packet rate (cpu, start-up excluded); "
          "wall %.2f, with start-up %.2f (cpu) %.2f (wall); analysis beyond reading %.1f ns/pkt cpu"
          % (names[kind], loops[kind].per(1, 0) / pdms[kind].per(1, 0),
             loops[kind].per(0, 0) / pdms[kind].per(0, 0),
             loops[kind].per(1, 1) / pdms[kind].per(1, 1),
             loops[kind].per(0, 1) / pdms[kind].per(0, 1),
             pdms[kind].per(1, 0) - loops[kind].per(1, 0)))
rate = loops["clear"].per(1, 0) / pdms["clear"].per(1, 0)
print("TARGET unencrypted: pdm analyze at %.3f of the bare libpcap loop's packet rate "
      "(cpu per packet, start-up excluded, %d packets); target >= 0.333: %s"
      % (rate, N, verdict(rate >= 1 / 3)))
status |= rate < 1 / 3

if shutil.which("tshark") is None:
    print("TARGET tshark: not checked: tshark not found (Debian package tshark)")
    sys.exit(1)
for kind in ("clear", "enc"):
    ts = Timing("tshark -T fields, " + names[kind], lambda f: ["tshark", "-n", "-r", f, "-T",
                                                              "fields"] + FIELDS, kind, TN, 1, 3)
    pa = Timing("pdm analyze, " + names[kind], pdm_cmd(kind), kind, TN, 5)
    ts.print()
    pa.print()
    x = ts.per(1, 0) / pa.per(1, 0)
    print("%s, the same %d packets: pdm analyze %.0fx faster than tshark (cpu, start-up "
          "excluded); wall %.0fx; with start-up %.0fx (cpu) %.0fx (wall)"
          % (names[kind], TN, x, ts.per(0, 0) / pa.per(0, 0), ts.per(1, 1) / pa.per(1, 1),
             ts.per(0, 1) / pa.per(0, 1)))
    print("TARGET %s: pdm analyze %.0fx faster than tshark (cpu per packet, start-up "
          "excluded, the same %d packets); target >= 50x: %s" % (names[kind], x, TN,
                                                                  verdict(x >= 50)))
    status |= x < 50
sys.exit(status)
PYEOF
status=$?
# (not exec: the EXIT trap removes the temporary directory)
exit $status
