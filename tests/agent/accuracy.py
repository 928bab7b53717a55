#!/usr/bin/python3
"""How far the server delay a server's agent writes into its options is from
the server delay on the wire, both read from one capture taken at the
server's interface.

    accuracy.py PCAP --server ADDR --port N [--min-pairs N] [--max-us X]
                [--option-median-ns NS]

For each UDP request to [ADDR]:N and the reply from it carrying the same
first 4 payload bytes (traffic.py udp-client numbers its requests): the wire
server delay is the reply's capture time minus the request's; the option's
is the reply's DeltaTLR (the time from the last packet the server's agent
saw arrive on the flow to this one leaving: that request, when nothing else
arrived between). The capture taps the interface where packets leave after
the agent's egress hook and arrive before its ingress hook, so whatever the
agent adds on the way (queueing to user space, its own work) shows up as the
difference.

Prints the median, 10th and 90th percentile of (option - wire) in
microseconds, one "note" line, and checks that at least --min-pairs pairs
were found and, with --max-us, that |median| <= X. Ends with
"RESULT <passed> <failed>".

Encrypted options (PDMv2 sealed) cannot be read here: with
--option-median-ns the options' median server delay comes from outside
(`pdm analyze --keylog`, which opens them), and the figure is that median
minus the wire's median over the pairs whose reply carries an option.
"""
import argparse
import socket
import struct
import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from pcapcheck import parse, fields_of  # noqa: E402

passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL " + what, file=sys.stderr)


def frames(path):
    """(time in ns, IPv6 packet) of a classic pcap, micro- or nanosecond."""
    data = open(path, "rb").read()
    magic = data[:4]
    end = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    lt = struct.unpack(end + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack(end + "IIII", data[off:off + 16])
        fr = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        t = sec * 10**9 + (frac if nano else frac * 1000)
        if lt == 1 and fr[12:14] == b"\x86\xdd":
            yield t, fr[14:]
        elif lt == 113 and fr[14:16] == b"\x86\xdd":
            yield t, fr[16:]
        elif lt in (101, 228):
            yield t, fr


def pct(v, q):
    return v[min(len(v) - 1, int(q * len(v)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pcap")
    ap.add_argument("--server", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--min-pairs", type=int, default=1)
    ap.add_argument("--max-us", type=float)
    ap.add_argument("--option-median-ns", type=int)
    a = ap.parse_args()
    srv = socket.inet_pton(socket.AF_INET6, a.server)
    req, diffs = {}, []
    for t, ip in frames(a.pcap):
        p = parse(ip)
        if p is None or p.errors or p.proto != 17:
            continue
        tag = bytes(ip[p.upper_off + 8:p.upper_off + 12])
        if p.dst == srv and p.dport == a.port:
            req[(p.src, p.sport, tag)] = t
        elif p.src == srv and p.sport == a.port and len(p.opts) == 1:
            t0 = req.pop((p.dst, p.dport, tag), None)
            if t0 is None:
                continue
            if a.option_median_ns is not None:
                diffs.append(t - t0)  # the wire's alone
                continue
            f = fields_of(p.opts[0][1])
            if f is None:
                continue
            opt_ns = (f["delta_tlr"] << f["scale_dtlr"]) // 10**9
            diffs.append(opt_ns - (t - t0))
    diffs.sort()
    check(len(diffs) >= a.min_pairs,
          "%d request/reply pairs with an option (want >= %d)" % (len(diffs), a.min_pairs))
    if diffs and a.option_median_ns is not None:
        med = (a.option_median_ns - pct(diffs, 0.5)) / 1000.0
        print("note option median - wire median server delay: %.1f us (wire p10 %.1f us,"
              " p90 %.1f us from its median; %d pairs)"
              % (med, (pct(diffs, 0.1) - pct(diffs, 0.5)) / 1000.0,
                 (pct(diffs, 0.9) - pct(diffs, 0.5)) / 1000.0, len(diffs)))
        if a.max_us is not None:
            check(abs(med) <= a.max_us, "|median| %.1f us <= %.1f us" % (abs(med), a.max_us))
    elif diffs:
        med = pct(diffs, 0.5) / 1000.0
        print("note option - wire server delay: median %.1f us, p10 %.1f us, p90 %.1f us "
              "(%d pairs)" % (med, pct(diffs, 0.1) / 1000.0, pct(diffs, 0.9) / 1000.0,
                              len(diffs)))
        if a.max_us is not None:
            check(abs(med) <= a.max_us, "|median| %.1f us <= %.1f us" % (abs(med), a.max_us))
    print("RESULT %d %d" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
