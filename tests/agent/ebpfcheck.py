#!/usr/bin/python3
"""Checks a capture of TCP traffic between two agents on the tc-eBPF path.

    ebpfcheck.py PCAP --mode pdm|v2 --pair A B [--mtu 1500] [--min-marked N]

pcapcheck.py wants an option on every enabled packet; on the eBPF path a
TCP super-packet (GSO) goes out unmarked until the segmenting path lands
(counted as gso_unmarked, docs/agent.md). So here, for the enabled pair:

  - no packet is larger than --mtu;
  - a packet that carries options carries exactly one, of the mode's
    length, in the Destination Options header right before the upper layer,
    with valid upper-layer checksum;
  - per 5-tuple direction the PSNTP of the marked packets goes up by one
    (with --from, only the packets that sender sent: a veth hands received
    packets to the stack through per-CPU backlogs, so a capture on the
    receiving side may see a sender's packets in an order the sender did
    not send them in);
  - an unmarked packet is a TCP segment with payload (only data segments
    come from super-packets): SYNs, pure ACKs, FINs and non-TCP are marked.

Prints the counts as a note and "RESULT <passed> <failed>".
"""
import argparse
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pcapcheck import OPTLEN, LOCAL_ICMP, check, csum_ok, fields_of, parse, read_pcap  # noqa: E402
import pcapcheck  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pcap")
    ap.add_argument("--mode", required=True, choices=["pdm", "v2"])
    ap.add_argument("--pair", nargs=2, required=True)
    ap.add_argument("--mtu", type=int, default=1500)
    ap.add_argument("--min-marked", type=int, default=1)
    ap.add_argument("--from", dest="src",
                    help="check PSNTP steps of this sender only (the capture is at its side)")
    a = ap.parse_args()
    pair = frozenset(socket.inet_pton(socket.AF_INET6, x) for x in a.pair)
    want = OPTLEN[a.mode]
    src = socket.inet_pton(socket.AF_INET6, a.src) if a.src else None
    marked = unmarked = big = bad = bad_unmarked = bad_csum = psn_bad = 0
    last = {}
    first = []
    for caplen, wirelen, ip in read_pcap(a.pcap):
        p = parse(ip)
        if p is None or frozenset((p.src, p.dst)) != pair or p.icmp_type in LOCAL_ICMP:
            continue
        if wirelen > a.mtu:
            big += 1
        if not p.opts:
            unmarked += 1
            payload = 40 + p.plen - p.upper_off
            if p.proto == 6 and p.upper_off + 13 < len(ip):
                payload -= (ip[p.upper_off + 12] >> 4) * 4
            if p.proto != 6 or payload <= 0:
                bad_unmarked += 1
                if len(first) < 5:
                    first.append("unmarked packet that is no data segment (proto %d)" % p.proto)
            continue
        marked += 1
        ln, opt, hoff, ooff = p.opts[0]
        if len(p.opts) != 1 or ln != want or p.errors or p.final_dst is None or \
                p.final_dst[0] != hoff or ooff % 2:
            bad += 1
            if len(first) < 5:
                first.append("malformed option or header: %s" % (p.errors or ln))
            continue
        if csum_ok(ip, p) is False:
            bad_csum += 1
        f = fields_of(opt)
        k = (p.src, p.dst, p.proto, p.sport, p.dport)
        if src is not None and p.src != src:
            continue
        if k in last and f["psntp"] != (last[k] + 1) & 0xFFFF:
            psn_bad += 1
            if len(first) < 5:
                first.append("PSNTP %d after %d from %s" % (f["psntp"], last[k],
                                                             socket.inet_ntop(socket.AF_INET6, p.src)))
        last[k] = f["psntp"]
    for e in first:
        print("  first problems: " + e, file=sys.stderr)
    check(marked >= a.min_marked, "only %d marked packets (want >= %d)" % (marked, a.min_marked))
    check(big == 0, "%d enabled packets larger than the MTU %d" % (big, a.mtu))
    check(bad == 0, "%d marked packets with a malformed option or header" % bad)
    check(bad_csum == 0, "%d marked packets with a wrong checksum" % bad_csum)
    check(psn_bad == 0, "%d PSNTP steps other than +1 among the marked packets" % psn_bad)
    check(bad_unmarked == 0, "%d unmarked packets that are not TCP data segments" % bad_unmarked)
    print("note: TCP capture: %d marked, %d unmarked (segments of super-packets)"
          % (marked, unmarked))
    print("RESULT %d %d" % (pcapcheck.passed, pcapcheck.failed))
    sys.exit(1 if pcapcheck.failed else 0)


if __name__ == "__main__":
    main()
