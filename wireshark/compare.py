#!/usr/bin/env python3
"""Compares the plugin's per-flow delays with `pdm analyze --format json`.

    wireshark/compare.py BUILD_DIR CAPTURE [KEYLOG]

Runs tshark with the plugin (tshark-with-plugin.sh) and the analyser on
CAPTURE, and for each flow (pdmv2.flow N is the analyser's Nth flow: both
number flows in order of their first PDM packet) compares count and median
(nearest rank, the lower middle value, as tools/analyze/series.c) of the
server delay, client delay and round trip. Prints one line per flow and
delay kind; exits 1 on any difference, 0 when everything agrees.
"""
import json
import os
import subprocess
import sys

KINDS = ("server_delay_ns", "client_delay_ns", "rtd_ns")


def median(v):
    v = sorted(v)
    return v[(len(v) * 50 + 99) // 100 - 1] if v else None


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    build, cap = sys.argv[1], sys.argv[2]
    key = sys.argv[3] if len(sys.argv) == 4 else None
    here = os.path.dirname(os.path.abspath(__file__))
    cmd = ["sh", os.path.join(here, "tshark-with-plugin.sh"), build, "-r", cap, "-Y", "pdmv2",
           "-T", "fields", "-E", "occurrence=f", "-e", "pdmv2.flow"]
    if key:
        cmd[3:3] = ["-o", "pdmv2.keylog_file:" + key]
    for k in KINDS:
        cmd += ["-e", "pdmv2." + k]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    ws = {}
    for line in out.splitlines():
        cols = line.split("\t")
        if not cols[0]:
            continue
        per = ws.setdefault(int(cols[0]), {k: [] for k in KINDS})
        for k, c in zip(KINDS, cols[1:]):
            if c:
                per[k].append(int(c))
    acmd = [os.path.join(build, "pdm"), "analyze", cap, "--format", "json"]
    if key:
        acmd += ["--keylog", key]
    an = json.loads(subprocess.run(acmd, check=True, capture_output=True, text=True).stdout)
    bad = 0
    for i, f in enumerate(an["flows"]):
        for k in KINDS:
            mine = ws.get(i, {}).get(k, [])
            theirs = f[k]
            m = median(mine)
            ok = len(mine) == theirs["count"] and (m == theirs.get("median") or not mine)
            bad += not ok
            print(f"flow {i} {k}: plugin n={len(mine)} median={m}  analyze n={theirs['count']} "
                  f"median={theirs.get('median')}  {'ok' if ok else 'DIFFER'}")
    extra = set(ws) - set(range(len(an["flows"])))
    if extra:
        print(f"plugin flows the analyser has not: {sorted(extra)}")
        bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
