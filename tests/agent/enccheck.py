#!/usr/bin/env python3
"""Reads `pdm analyze --keylog --format json` output (lib's reading of a
capture) for the v2-encrypted tests: prints "ok N" when every encrypted
flow's options all opened, none replayed or duplicated, and (with
--rotations SIDES) the named sides rotated at least once; else "bad N" and
why. N is the number of encrypted flows; --flows N makes any other count
bad.

    enccheck.py AN_JSON [--flows N] [--rotations client|both]
"""
import argparse
import json


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("json")
    ap.add_argument("--flows", type=int)
    ap.add_argument("--rotations", choices=("client", "both"))
    a = ap.parse_args()
    try:
        d = json.load(open(a.json))
    except (OSError, ValueError) as e:
        print("bad 0 unreadable: %s" % e)
        return
    bad, n = [], 0
    for f in d["flows"]:
        if f["format"] != "v2-encrypted":
            continue
        n += 1
        for side in ("client", "server"):
            s = f[side]
            if s["auth_failures"] or s["no_key"] or s["replayed"] or s["duplicates"]:
                bad.append("%s %s: %r" % (f["protocol_name"], side, s))
            if a.rotations and (a.rotations == "both" or side == "client") \
                    and s["rotations"] < 1:
                bad.append("%s %s: no rotation" % (f["protocol_name"], side))
    if a.flows is not None and n != a.flows:
        bad.append("%d encrypted flows, want %d" % (n, a.flows))
    print("ok %d" % n if not bad else "bad %d %s" % (n, "; ".join(bad)))


main()
