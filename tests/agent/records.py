#!/usr/bin/python3
"""Checks a `pdm agent --records` file.

    records.py FILE --mode M [--tx N] [--rx N] [--peer ADDR ...]
    records.py FILE --delays --server ADDR --port P --delay-ms D --rtt-ms R

The first form: every line is one JSON object with the documented fields;
there are exactly N "tx" and N "rx" lines (the agent's tx_marked and
rx_logged counters); sent options have the mode's format and their PSNTP
goes up by one per 5-tuple direction; every record is of an enabled peer
(--peer: the remote addresses allowed).

The second form reads a client's records of a request/response exchange
with a UDP server at ADDR port P that answers after D ms: the server delay
(DeltaTLR of the server's packets, measured by the server's agent and read
from its options) must be within 10% of D, and the round-trip delay
(DeltaTLS of a client packet minus DeltaTLR of the server packet it
follows, matched by PSNLR: RFC 8250 §4) within 20% of R, the round trip
that ping measured on the same link.

Prints one line per failed check and "RESULT <passed> <failed>".
"""
import argparse
import json
import statistics
import sys

passed = failed = 0
FIELDS = ["time_ns", "direction", "src", "dst", "sport", "dport", "protocol", "format", "psntp",
          "psnlr", "delta_tlr_ns", "delta_tls_ns", "global_pointer", "kri", "auth"]


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL " + what, file=sys.stderr)
    return ok


def load(path):
    recs, bad = [], 0
    with open(path) as f:
        for line in f:
            try:
                r = json.loads(line)
                if not isinstance(r, dict) or any(k not in r for k in FIELDS):
                    bad += 1
                    continue
                recs.append(r)
            except ValueError:
                bad += 1
    return recs, bad


def plain(a):
    recs, bad = load(a.file)
    check(bad == 0, "%d malformed record lines" % bad)
    tx = [r for r in recs if r["direction"] == "tx"]
    rx = [r for r in recs if r["direction"] == "rx"]
    if a.tx is not None:
        check(len(tx) == a.tx, "%d tx records, agent counted %d" % (len(tx), a.tx))
    if a.rx is not None:
        check(len(rx) == a.rx, "%d rx records, agent counted %d" % (len(rx), a.rx))
    check(all(r["format"] == a.mode for r in tx), "tx record of another format than %s" % a.mode)
    last, jumps = {}, 0
    for r in tx:
        t = (r["src"], r["dst"], r["sport"], r["dport"], r["protocol"])
        if t in last and r["psntp"] != (last[t] + 1) & 0xFFFF:
            jumps += 1
        last[t] = r["psntp"]
    check(jumps == 0, "tx records: PSNTP jumped %d times" % jumps)
    if a.peer:
        strays = [r for r in recs if (r["dst"] if r["direction"] == "tx" else r["src"])
                  not in a.peer]
        check(not strays, "%d records of flows that are not enabled" % len(strays))
    if a.mode == "v2-encrypted":
        check(all(r["auth"] == "ok" for r in rx), "rx records that failed authentication")
        check(all(r["kri"] is not None for r in recs), "encrypted records without kri")
    elif a.mode == "v2":
        check(all(isinstance(r["global_pointer"], int) and r["global_pointer"] > 0 for r in tx),
              "v2 tx records without a Global Pointer")
    else:
        check(all(r["global_pointer"] is None for r in recs), "pdm records with a Global Pointer")


def delays(a):
    recs, bad = load(a.file)
    check(bad == 0, "%d malformed record lines" % bad)
    srv = [r for r in recs if r["direction"] == "rx" and r["src"] == a.server
           and r["protocol"] == 17 and r["sport"] == a.port]
    cli = [r for r in recs if r["direction"] == "tx" and r["dst"] == a.server
           and r["protocol"] == 17 and r["dport"] == a.port]
    check(len(srv) >= 10 and len(cli) >= 10,
          "too few records: %d from the server, %d to it" % (len(srv), len(cli)))
    if len(srv) < 10 or len(cli) < 10:
        return
    # Server delay: DeltaTLR of each response (the first has none).
    sd = [r["delta_tlr_ns"] / 1e6 for r in srv if r["delta_tlr_ns"]]
    sd_med = statistics.median(sd)
    # Round trip: client DeltaTLS minus the DeltaTLR of the server packet
    # whose PSNTP the client packet's PSNLR names.
    by_psn = {r["psntp"]: r for r in srv}
    rtd = []
    for r in cli:
        s = by_psn.get(r["psnlr"])
        if s is not None and r["delta_tls_ns"] and s["delta_tlr_ns"]:
            rtd.append((r["delta_tls_ns"] - s["delta_tlr_ns"]) / 1e6)
    check(len(rtd) >= 10, "only %d round trips matched" % len(rtd))
    rtd_med = statistics.median(rtd) if rtd else 0.0
    print("note: server delay median %.3f ms (want %.3f ms, %d samples); round trip median "
          "%.3f ms (ping %.3f ms, %d samples)" % (sd_med, a.delay_ms, len(sd), rtd_med, a.rtt_ms,
                                                 len(rtd)), file=sys.stderr)
    check(abs(sd_med - a.delay_ms) <= 0.10 * a.delay_ms,
          "server delay %.3f ms is not within 10%% of %.3f ms" % (sd_med, a.delay_ms))
    check(abs(rtd_med - a.rtt_ms) <= 0.20 * a.rtt_ms,
          "round-trip delay %.3f ms is not within 20%% of ping's %.3f ms" % (rtd_med, a.rtt_ms))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--mode")
    ap.add_argument("--tx", type=int)
    ap.add_argument("--rx", type=int)
    ap.add_argument("--peer", action="append", default=[])
    ap.add_argument("--delays", action="store_true")
    ap.add_argument("--server")
    ap.add_argument("--port", type=int)
    ap.add_argument("--delay-ms", type=float)
    ap.add_argument("--rtt-ms", type=float)
    a = ap.parse_args()
    if a.delays:
        delays(a)
    else:
        plain(a)
    print("RESULT %d %d" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
