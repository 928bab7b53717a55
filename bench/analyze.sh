#!/bin/sh
# Benchmark of `pdm analyze` (tools/analyze_*.c), standalone:
#
#   sh bench/analyze.sh BUILD_DIR      (BUILD_DIR/pdm and BUILD_DIR/bench/ built)
#
# Generates, with BUILD_DIR/bench/bench_gencap, a capture of 1,000,000
# encrypted-PDMv2 packets (64 UDP flows on Ethernet, a key rotation every
# 1000 packets per direction, ClientSecrets from a PDMV2_PRIMARY key log) and
# one of 1,000,000 unencrypted PDMv2 packets, then times on the same files
# in one run:
#
#   pdm analyze --format json FILE [--keylog KEYS]
#   BUILD_DIR/bench/bench_pcaploop FILE   a bare libpcap loop that only reads
#   tshark -r FILE -T fields -e ipv6.opt.pdm.psn_this_pkt ... (Wireshark)
#
# tshark is slow (tens of µs a packet): it reads only the first 100,000
# packets (-c 100000) and its per-packet time is extrapolated to the whole
# file; the output says so. Its start-up (about half a second, measured with
# -c 1) is taken out of the per-packet figure, which makes the comparison
# stricter on pdm analyze (whose own start-up stays in). Each fast command runs 3 times and the fastest
# run counts (the machine is shared). Times are wall clock with the file in
# the page cache (a first untimed read warms it); CPU time (user + system)
# is printed next to them, since on a loaded machine it is the steadier
# figure. Targets: pdm analyze at least 50 times faster than tshark per
# packet, and on the unencrypted capture at least 1/3 of the bare loop's
# packet rate. Exit status 1 when a target is missed.
set -u
if [ $# -ne 1 ] || [ ! -x "$1/pdm" ] || [ ! -x "$1/bench/bench_gencap" ] ||
    [ ! -x "$1/bench/bench_pcaploop" ]; then
    echo "usage: sh bench/analyze.sh BUILD_DIR (with pdm and bench/bench_* built)" >&2
    exit 2
fi
B=$1
N=${ANALYZE_BENCH_PACKETS:-1000000}
TSHARK_N=100000
dir=$(mktemp -d "${TMPDIR:-/tmp}/pdm-bench-analyze.XXXXXX")
trap 'rm -rf "$dir"' EXIT

"$B/bench/bench_gencap" "$dir/enc.pcap" "$N" encrypted "$dir/enc.keys" || exit 1
"$B/bench/bench_gencap" "$dir/clear.pcap" "$N" clear || exit 1

PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
"$PY" - "$B" "$dir" "$N" "$TSHARK_N" <<'PYEOF'
import os, shutil, subprocess, sys, time

B, DIR, N, TN = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
PDM = os.path.join(B, "pdm")
LOOP = os.path.join(B, "bench", "bench_pcaploop")


def run(cmd, repeat=3):
    """Best (wall, cpu) seconds over `repeat` runs; stdout discarded."""
    best = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        err = p.stderr.read().decode(errors="replace")
        p.stderr.close()
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit("bench: %s failed: %s" % (" ".join(cmd), err.strip()))
        cpu = ru.ru_utime + ru.ru_stime
        if best is None or wall < best[0]:
            best = (wall, cpu)
    return best


def line(name, packets, wall, cpu):
    print("%-44s %9d pkts %8.3f s %8.1f ns/pkt %8.3f s cpu %8.1f ns/pkt cpu"
          % (name, packets, wall, wall / packets * 1e9, cpu, cpu / packets * 1e9))


enc, clear, keys = (os.path.join(DIR, f) for f in ("enc.pcap", "clear.pcap", "enc.keys"))
for f in (enc, clear):  # page cache
    run([LOOP, f], 1)
print("capture: %d packets each, %d and %d bytes" % (N, os.path.getsize(enc), os.path.getsize(clear)))

loop_c = run([LOOP, clear])
ana_c = run([PDM, "analyze", "--format", "json", clear])
loop_e = run([LOOP, enc])
ana_e = run([PDM, "analyze", "--format", "json", "--keylog", keys, enc])
line("bare libpcap loop, unencrypted", N, *loop_c)
line("pdm analyze, unencrypted", N, *ana_c)
line("bare libpcap loop, encrypted", N, *loop_e)
line("pdm analyze --keylog, encrypted", N, *ana_e)

status = 0
rate_wall = loop_c[0] / ana_c[0]
rate_cpu = loop_c[1] / ana_c[1]
print("unencrypted: pdm analyze runs at %.2f of the bare loop's packet rate (wall), %.2f (cpu); "
      "target >= 0.33" % (rate_wall, rate_cpu))
if max(rate_wall, rate_cpu) < 1 / 3:
    status = 1

if shutil.which("tshark") is None:
    print("tshark not found (Debian package tshark): no comparison")
    sys.exit(1)
fields = ["-e", "ipv6.opt.pdm.psn_this_pkt", "-e", "ipv6.opt.pdm.psn_last_recv",
          "-e", "ipv6.opt.pdm.delta_last_recv", "-e", "ipv6.opt.pdm.delta_last_sent"]
for name, f, ana in (("unencrypted", clear, ana_c), ("encrypted", enc, ana_e)):
    start = run(["tshark", "-n", "-r", f, "-c", "1", "-T", "fields"] + fields, 2)
    ts = run(["tshark", "-n", "-r", f, "-c", str(TN), "-T", "fields"] + fields, 1)
    line("tshark -T fields (first %d), %s" % (TN, name), TN, *ts)
    # Per packet without tshark's start-up (dissector registration, about
    # half a second), measured with -c 1: the conservative figure.
    per_ts = max(ts[0] - start[0], 1e-9) / (TN - 1)
    per_ana = ana[0] / N
    print("%s: tshark %.1f us/packet (start-up %.2f s excluded), extrapolated %.1f s for all "
          "%d packets; pdm analyze %.0f ns/packet: %.0fx faster (%.0fx with tshark's start-up "
          "counted); target >= 50x"
          % (name, per_ts * 1e6, start[0], start[0] + per_ts * N, N, per_ana * 1e9,
             per_ts / per_ana, (ts[0] / TN) / per_ana))
    if per_ts / per_ana < 50:
        status = 1
sys.exit(status)
PYEOF
status=$?
# (not exec: the EXIT trap removes the temporary directory)
exit $status
