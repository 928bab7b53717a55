#!/usr/bin/python3
"""Checks a capture taken on the link between two `pdm agent`s.

    pcapcheck.py PCAP --mode pdm|v2|v2-encrypted --pair A B [--pair ...]
                 [--other A B] [--mtu 1500] [--pdm BUILD/pdm] [--clear PCAP]
                 [--min-enabled N]

Every IPv6 packet between the addresses of a --pair (either direction),
apart from neighbour discovery and MLD, must carry exactly one PDM option of
the mode's format, in a well-formed Destination Options header right before
the upper layer (PROFILE §1: option at an even offset, padding Pad1/PadN of
zeros, header a multiple of 8). Per 5-tuple direction the PSNTP must go up
by exactly one from packet to packet. No enabled packet may be larger than
--mtu (GSO super-packets of flows that are not queued cross a veth whole).
Upper-layer checksums (TCP, UDP, ICMPv6) of the enabled packets must be
valid (they were computed before the option went in: the pseudo-header
length is the upper-layer length). Packets between --other addresses must
carry no PDM option at all. A sample of the Destination Options headers is
decoded with `pdm option decode --header` (the library) and compared.

For v2-encrypted the fields are sealed: --clear names the same capture
rewritten by `pdm decrypt` (options opened with the key log); the PSN and
field checks are run on it, the structure and sizes on the original.

Prints one line per failed check and "RESULT <passed> <failed>".
"""
import argparse
import array
import json
import socket
import struct
import subprocess
import sys

passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL " + what, file=sys.stderr)
    return ok


def read_pcap(path):
    """Yields (caplen, wirelen, frame bytes) of a classic pcap file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        raise SystemExit("%s: not a pcap file" % path)
    linktype = struct.unpack(end + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _, _, caplen, wirelen = struct.unpack(end + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        if linktype == 1:  # Ethernet
            if len(frame) < 14 or frame[12:14] != b"\x86\xdd":
                continue
            yield caplen - 14, wirelen - 14, frame[14:]
        elif linktype in (101, 228):  # raw IPv6
            yield caplen, wirelen, frame
        elif linktype == 113:  # Linux cooked
            if len(frame) < 16 or frame[14:16] != b"\x86\xdd":
                continue
            yield caplen - 16, wirelen - 16, frame[16:]


LOCAL_ICMP = set(range(130, 138)) | {141, 142, 143, 148, 149, 151, 152, 153}
PORTS = {6, 17, 33, 132, 136}
OPTLEN = {"pdm": 10, "v2": 18, "v2-encrypted": 34}


class Pkt:
    pass


def parse(ip):
    """Walks the extension headers. Returns a Pkt or None."""
    if len(ip) < 40 or ip[0] >> 4 != 6:
        return None
    p = Pkt()
    p.plen = struct.unpack("!H", ip[4:6])[0]
    p.src, p.dst = ip[8:24], ip[24:40]
    p.opts = []          # (format length, option bytes, header offset, option offset)
    p.dst_hdrs = []      # (offset, length)
    p.errors = []
    nh, off = ip[6], 40
    last_dst = None
    while nh in (0, 43, 44, 51, 60):
        if off + 2 > len(ip):
            p.errors.append("header past capture")
            return p
        if nh == 44:
            hl = 8
        elif nh == 51:
            hl = (ip[off + 1] + 2) * 4
        else:
            hl = (ip[off + 1] + 1) * 8
        if off + hl > len(ip):
            p.errors.append("header past capture")
            return p
        if nh in (0, 60):
            i, pad_run = off + 2, 0
            while i < off + hl:
                t = ip[i]
                if t == 0:
                    pad_run += 1
                    i += 1
                    continue
                if i + 2 > off + hl or i + 2 + ip[i + 1] > off + hl:
                    p.errors.append("option runs past its header")
                    break
                ln = ip[i + 1]
                if t == 1:
                    pad_run += 2 + ln
                    if any(ip[i + 2:i + 2 + ln]):
                        p.errors.append("PadN with non-zero bytes")
                else:
                    pad_run = 0
                    if t == 0x0F:
                        p.opts.append((ln, bytes(ip[i:i + 2 + ln]), off, i - off))
                if pad_run > 7:
                    p.errors.append("more than 7 bytes of padding")
                i += 2 + ln
            if nh == 60:
                p.dst_hdrs.append((off, hl))
                last_dst = (off, hl)
        nxt = ip[off]
        prev_off = off
        off += hl
        nh = nxt
        if nh not in (0, 43, 44, 51, 60):
            p.final_dst = last_dst if last_dst and last_dst[0] == prev_off else None
    if not hasattr(p, "final_dst"):
        p.final_dst = None
    p.proto, p.upper_off = nh, off
    p.sport = p.dport = 0
    if nh in PORTS and off + 4 <= len(ip):
        p.sport, p.dport = struct.unpack("!HH", ip[off:off + 4])
    p.icmp_type = ip[off] if nh == 58 and off < len(ip) else None
    return p


def csum_ok(ip, p):
    """Upper-layer checksum over the pseudo-header (RFC 8200 §8.1)."""
    ulen = 40 + p.plen - p.upper_off
    seg = bytes(ip[p.upper_off:p.upper_off + ulen])
    if len(seg) != ulen:
        return None  # not captured whole
    pseudo = p.src + p.dst + struct.pack("!IxxxB", ulen, p.proto)
    data = pseudo + seg
    if len(data) % 2:
        data += b"\0"
    a = array.array("H", data)
    if sys.byteorder == "little":
        a.byteswap()
    s = sum(a)
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s == 0xFFFF


def fields_of(opt):
    """PSNTP etc. of a clear option (pdm or v2) as a dict."""
    ln = opt[1]
    if ln == 10:
        sdtlr, sdtls, psntp, psnlr, dtlr, dtls = struct.unpack("!BBHHHH", opt[2:12])
        return {"format": "pdm", "scale_dtlr": sdtlr, "scale_dtls": sdtls, "psntp": psntp,
                "psnlr": psnlr, "delta_tlr": dtlr, "delta_tls": dtls}
    if ln == 18:
        ver, rnf, sdtlr, sdtls, gp, psntp, psnlr, dtlr, dtls = struct.unpack(
            "!HHBBIHHHH", opt[2:20])
        return {"format": "v2", "rn": rnf >> 1, "f": rnf & 1, "scale_dtlr": sdtlr,
                "scale_dtls": sdtls, "global_pointer": gp, "psntp": psntp, "psnlr": psnlr,
                "delta_tlr": dtlr, "delta_tls": dtls, "version": ver}
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pcap")
    ap.add_argument("--mode", required=True, choices=list(OPTLEN))
    ap.add_argument("--pair", nargs=2, action="append", default=[])
    ap.add_argument("--other", nargs=2, action="append", default=[])
    ap.add_argument("--mtu", type=int, default=1500)
    ap.add_argument("--pdm")
    ap.add_argument("--clear")
    ap.add_argument("--min-enabled", type=int, default=1)
    ap.add_argument("--samples", type=int, default=24)
    a = ap.parse_args()

    def key(x, y):
        return frozenset((socket.inet_pton(socket.AF_INET6, x), socket.inet_pton(socket.AF_INET6, y)))

    pairs = {key(*p) for p in a.pair}
    others = {key(*p) for p in a.other}
    want_len = OPTLEN[a.mode]

    n_enabled = n_other = n_other_pdm = 0
    bad_struct = bad_size = bad_csum = no_opt = 0
    csum_checked = 0
    biggest = 0
    samples = []
    first_errors = []
    protos = {}
    for caplen, wirelen, ip in read_pcap(a.pcap):
        p = parse(ip)
        if p is None:
            continue
        k = frozenset((p.src, p.dst))
        if k in others:
            # GSO super-packets of flows that are not queued cross a veth
            # whole: only the enabled flows' sizes are the agent's doing.
            n_other += 1
            n_other_pdm += len(p.opts) > 0
            continue
        if k not in pairs or p.icmp_type in LOCAL_ICMP:
            continue
        n_enabled += 1
        biggest = max(biggest, wirelen)
        if wirelen > a.mtu:
            bad_size += 1
            if len(first_errors) < 5:
                first_errors.append("packet of %d bytes > MTU %d" % (wirelen, a.mtu))
        protos[p.proto] = protos.get(p.proto, 0) + 1
        if len(p.opts) != 1:
            no_opt += 1
            if len(first_errors) < 5:
                first_errors.append("enabled packet with %d PDM options (proto %d)"
                                    % (len(p.opts), p.proto))
            continue
        ln, opt, hoff, ooff = p.opts[0]
        errs = list(p.errors)
        if ln != want_len:
            errs.append("option length %d, want %d" % (ln, want_len))
        if p.final_dst is None or p.final_dst[0] != hoff:
            errs.append("option not in the header right before the upper layer")
        if ooff % 2:
            errs.append("option at an odd offset")
        if ln in (18, 34) and (opt[2] >> 4) != 2:
            errs.append("v2 version nibble %d" % (opt[2] >> 4))
        if ln == 34 and (struct.unpack("!H", opt[4:6])[0] >> 1) == 0:
            errs.append("encrypted option with RN 0")
        if errs:
            bad_struct += 1
            if len(first_errors) < 5:
                first_errors.append("; ".join(errs))
        ok = csum_ok(ip, p)
        if ok is not None:
            csum_checked += 1
            if not ok:
                bad_csum += 1
                if len(first_errors) < 5:
                    first_errors.append("bad checksum (proto %d, %d bytes)" % (p.proto, wirelen))
        if len(samples) < a.samples or n_enabled % 997 == 0:
            hoff_, hl = p.final_dst
            samples.append((bytes(ip[hoff_:hoff_ + hl]), opt, p.proto))

    for e in first_errors:
        print("  first problems: " + e, file=sys.stderr)
    check(n_enabled >= a.min_enabled, "only %d enabled packets captured (want >= %d)"
          % (n_enabled, a.min_enabled))
    check(no_opt == 0, "%d of %d enabled packets without exactly one PDM option"
          % (no_opt, n_enabled))
    check(bad_struct == 0, "%d enabled packets with a malformed option or header" % bad_struct)
    check(bad_size == 0, "%d enabled packets larger than the MTU %d (largest %d)"
          % (bad_size, a.mtu, biggest))
    check(bad_csum == 0, "%d of %d checksums wrong" % (bad_csum, csum_checked))
    check(csum_checked > 0 or n_enabled == 0, "no checksum could be checked")
    if a.other:
        check(n_other > 0, "no packet of the flows that are not enabled was captured")
        check(n_other_pdm == 0, "%d of %d packets of flows not enabled carry PDM"
              % (n_other_pdm, n_other))

    # The library's view of a sample of headers: `pdm option decode --header`.
    if a.pdm:
        bad = 0
        for hdr, opt, proto in samples:
            r = subprocess.run([a.pdm, "option", "decode", "--header", hdr.hex()],
                               capture_output=True, text=True)
            try:
                got = json.loads(r.stdout)
            except ValueError:
                got = None
            exp = fields_of(opt)
            ok = r.returncode == 0 and got is not None and got.get("format") == a.mode
            ok = ok and got.get("next_header") == proto
            if ok and exp is not None:
                ok = all(got.get(f) == v for f, v in exp.items() if f != "version")
            if ok and a.mode == "v2-encrypted":
                ok = got.get("sealed") == opt[6:].hex()
            if not ok:
                bad += 1
                if bad <= 3:
                    print("  library disagrees on %s: %r %r" % (hdr.hex(), r.stdout, r.stderr),
                          file=sys.stderr)
        check(len(samples) > 0 and bad == 0, "library decode: %d of %d samples disagree"
              % (bad, len(samples)))

    # PSNs: +1 per packet per 5-tuple direction, on the clear capture.
    src = a.clear if a.mode == "v2-encrypted" else a.pcap
    if src:
        last = {}
        steps = jumps = 0
        gp_last = {}
        gp_bad = 0
        n_clear = 0
        for caplen, wirelen, ip in read_pcap(src):
            p = parse(ip)
            if p is None or frozenset((p.src, p.dst)) not in pairs or p.icmp_type in LOCAL_ICMP:
                continue
            if len(p.opts) != 1:
                continue
            f = fields_of(p.opts[0][1])
            if f is None:
                continue
            n_clear += 1
            t = (p.src, p.dst, p.sport, p.dport, p.proto)
            if t in last:
                if f["psntp"] == (last[t] + 1) & 0xFFFF:
                    steps += 1
                else:
                    jumps += 1
                    if jumps <= 3:
                        print("  PSN jump %d -> %d on %r" % (last[t], f["psntp"], t[2:]),
                              file=sys.stderr)
            last[t] = f["psntp"]
            if "global_pointer" in f:
                # Global Pointer: per sender, +1 per PDMv2 packet it sends
                # (it counts every peer's packets, so only "it grows").
                g = gp_last.get(p.src)
                if g is not None and f["global_pointer"] <= g:
                    gp_bad += 1
                gp_last[p.src] = f["global_pointer"]
        if a.mode == "v2-encrypted":
            check(n_clear == n_enabled, "decrypted capture: %d clear options, %d enabled packets"
                  % (n_clear, n_enabled))
        check(steps > 0 and jumps == 0, "PSNTP: %d steps of +1, %d other" % (steps, jumps))
        if a.mode != "pdm":
            check(gp_bad == 0, "Global Pointer went backwards %d times" % gp_bad)
    print("note: %d enabled packets (%s), %d checksums checked, %d other packets, largest %d"
          % (n_enabled, ", ".join("proto %d: %d" % kv for kv in sorted(protos.items())),
             csum_checked, n_other, biggest), file=sys.stderr)
    print("RESULT %d %d" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
