#!/usr/bin/env python3
"""Checks a capture (pcap, Ethernet) of tests/it_gso.sh: for every IPv6 TCP
packet, its length against the MTU and the PSNTP of its PDM option (type
--type, RFC 8250 or PDMv2 layout) right after the IPv6 header. Prints one
line per direction (5-tuple) and the totals, "key value" words:

  dir SRC.SPORT>DST.DPORT packets N marked M unique U steps_ok S reorders R
  total packets N marked M over_mtu O

With --encrypted (PDMv2 encrypted, whose PSNs are sealed): a packet is
marked when its option has the encrypted length (34) in a 40-byte
destination options header, "unique" counts distinct ciphertexts (a repeat
means a reused nonce or a replay), steps_ok and reorders are 0, and "other"
counts options of the type with any other layout.
"""
import argparse
import ipaddress
import struct
import sys


def packets(path):
    with open(path, "rb") as f:
        hdr = f.read(24)
        magic = struct.unpack("<I", hdr[:4])[0]
        end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
        if struct.unpack(end + "I", hdr[20:24])[0] != 1:
            sys.exit("psn_check: not an Ethernet capture")
        while True:
            ph = f.read(16)
            if len(ph) < 16:
                return
            _, _, incl, orig = struct.unpack(end + "IIII", ph)
            yield f.read(incl), orig


def psn_of(ip6, opt_type, enc=False):
    """(PSNTP or None, upper-layer protocol, offset of the upper layer);
    with enc, instead of the PSNTP: the ciphertext, or b"" for an option of
    another layout."""
    nh, off = ip6[6], 40
    psn = None
    if nh == 60 and len(ip6) >= off + 2:
        hl = (ip6[off + 1] + 1) * 8
        i = off + 2
        while i + 2 <= off + hl and i + 2 <= len(ip6):
            t = ip6[i]
            if t == 0:
                i += 1
                continue
            ln = ip6[i + 1]
            if t == opt_type and enc:
                psn = bytes(ip6[i + 4:i + 2 + ln]) if ln == 34 and hl == 40 else b""
                break
            if t == opt_type:
                at = i + (4 if ln == 10 else 6 if ln == 22 else 12)  # after scales; -14: low PSNTP half
                if at + 2 <= len(ip6):
                    psn = struct.unpack(">H", ip6[at:at + 2])[0]
                break
            i += 2 + ln
        nh, off = ip6[off], off + hl
    return psn, nh, off


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pcap")
    ap.add_argument("--mtu", type=int, default=1500)
    ap.add_argument("--type", type=lambda x: int(x, 0), default=0x0F)
    ap.add_argument("--encrypted", action="store_true")
    a = ap.parse_args()
    other = 0
    dirs = {}
    total = marked = over = over_marked = 0
    for frame, orig in packets(a.pcap):
        if len(frame) < 54 or frame[12:14] != b"\x86\xdd":
            continue
        ip6 = frame[14:]
        psn, nh, off = psn_of(ip6, a.type, a.encrypted)
        if nh != 6 or len(ip6) < off + 4:
            continue
        total += 1
        big = orig - 14 > a.mtu
        if big:
            over += 1
        sp, dp = struct.unpack(">HH", ip6[off:off + 4])
        key = "%s.%d>%s.%d" % (ipaddress.IPv6Address(ip6[8:24]), sp,
                               ipaddress.IPv6Address(ip6[24:40]), dp)
        d = dirs.setdefault(key, {"n": 0, "m": 0, "psns": set(), "ok": 0, "re": 0, "last": None,
                                  "gaps": []})
        d["n"] += 1
        if psn is None:
            # Where the unmarked ones are, as runs [first, last] of wire
            # positions (diagnosis: a flow's start, or a key missing later).
            g = d["gaps"]
            if g and g[-1][1] == d["n"] - 2:
                g[-1][1] = d["n"] - 1
            else:
                g.append([d["n"] - 1, d["n"] - 1])
            continue
        if psn == b"":
            other += 1
            continue
        marked += 1
        over_marked += big
        d["m"] += 1
        d["psns"].add(psn)
        if d["last"] is not None and not a.encrypted:
            if (psn - d["last"]) & 0xFFFF == 1:
                d["ok"] += 1
            else:
                d["re"] += 1
        d["last"] = psn
    for key, d in dirs.items():
        print("dir %s packets %d marked %d unique %d steps_ok %d reorders %d" %
              (key, d["n"], d["m"], len(d["psns"]), d["ok"], d["re"]))
    for key, d in dirs.items():
        if d["gaps"]:
            print("unmarked %s at %s" % (key, " ".join(
                "%d" % a if a == b else "%d-%d" % (a, b) for a, b in d["gaps"][:12])))
    print("total packets %d marked %d over_mtu %d" % (total, marked, over) +
          (" other %d" % other if a.encrypted else ""))
    # A super-packet that left unmarked (no agent: a veth delivers it whole)
    # is over the MTU in the capture but not on a real wire; a marked one
    # is the agent's.
    print("marked_over_mtu %d" % over_marked)


main()
