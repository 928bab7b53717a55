#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/option/ and fuzz/corpus/packet/.

Run from the repository root: python3 fuzz/make_corpus.py
Deterministic: the same files every time (names are the seeds' purposes).
Inputs come from the profile's vectors plus hand-made packet shapes that
reach every branch of the chain walker and of the inserter.
"""
import json
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VEC = os.path.join(ROOT, "tests", "vectors", "pdmv2-profile-vectors.json")
OUT_OPT = os.path.join(ROOT, "fuzz", "corpus", "option")
OUT_PKT = os.path.join(ROOT, "fuzz", "corpus", "packet")

PDM = 0x0F


def write(d, name, data):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(bytes(data))


def opts_hdr(nh, tlvs):
    """Options header: NH, HdrExtLen, TLVs, padded to 8 with Pad1/PadN."""
    body = bytes(tlvs)
    total = (2 + len(body) + 7) // 8 * 8
    pad = total - 2 - len(body)
    if pad == 1:
        body += b"\x00"
    elif pad > 1:
        body += bytes([1, pad - 2]) + bytes(pad - 2)
    return bytes([nh, total // 8 - 1]) + body


def ipv6(nh, payload, plen=None):
    src = bytes.fromhex("fe80000000000000f11ae651070506a6")
    dst = bytes.fromhex("fe8000000000000002f0e161af37f86c")
    if plen is None:
        plen = len(payload)
    return struct.pack("!IHBB", 0x60012345, plen, nh, 64) + src + dst + payload


def chain(headers, upper_proto, upper):
    """headers: list of (proto, bytes with NH placeholder at [0])."""
    protos = [h[0] for h in headers] + [upper_proto]
    body = b""
    for i, (_, h) in enumerate(headers):
        body += bytes([protos[i + 1]]) + h[1:]
    return ipv6(protos[0], body + upper)


def udp(n=16, sport=47570, dport=1904):
    return struct.pack("!HHHH", sport, dport, 8 + n, 0) + bytes((i * 7) & 255 for i in range(n))


def tcp(n=0):
    return struct.pack("!HHIIBBHHH", 443, 51000, 1, 2, 0x50, 0x18, 512, 0, 0) + bytes(n)


def icmp6(n=8):
    return bytes([128, 0, 0, 0, 0, 1, 0, 1]) + bytes(n)


def routing():
    return bytes([0, 2, 4, 0, 0, 0, 0, 0]) + bytes(range(0x90, 0xA0))


def ah():
    return bytes([0, 4, 0, 0]) + b"\xde\xad\xbe\xef" + b"\x00\x00\x00\x01" + bytes(12)


def frag(offset, more):
    return struct.pack("!BBHI", 0, 0, (offset << 3) | more, 0x12345678)


def main():
    vec = json.load(open(VEC))["options"]

    # ---- option corpus: single options and whole options headers ----------
    for i, v in enumerate(vec[:4]):
        for key in ("rfc8250_option", "unencrypted_option", "encrypted_option",
                    "rfc8250_dest_opts_header", "unencrypted_dest_opts_header",
                    "encrypted_dest_opts_header"):
            write(OUT_OPT, "v%d-%s" % (i, key), bytes.fromhex(v[key]))
    enc = bytes.fromhex(vec[0]["encrypted_option"])
    une = bytes.fromhex(vec[0]["unencrypted_option"])
    r8250 = bytes.fromhex(vec[0]["rfc8250_option"])
    write(OUT_OPT, "bad-len-12", bytes([PDM, 12]) + bytes(12))
    write(OUT_OPT, "bad-version-3", une[:2] + b"\x30\x00" + une[4:])
    write(OUT_OPT, "reserved-bits", une[:2] + b"\x2f\xff" + une[4:])
    write(OUT_OPT, "enc-rn0", enc[:4] + b"\x00\x01" + enc[6:])
    write(OUT_OPT, "truncated-enc", enc[:20])
    write(OUT_OPT, "type-only", bytes([PDM]))
    write(OUT_OPT, "hdr-empty", opts_hdr(17, b""))
    write(OUT_OPT, "hdr-unknown-then-pdm", opts_hdr(6, bytes([0xC5, 3, 9, 9, 9, 0]) + une))
    write(OUT_OPT, "hdr-odd-then-pdm", opts_hdr(6, bytes([0x3E, 1, 7, 0]) + r8250))
    write(OUT_OPT, "hdr-duplicate", opts_hdr(17, r8250 + r8250))
    write(OUT_OPT, "hdr-padn-nonzero", bytes([17, 0, 1, 4, 0, 0, 1, 0]))
    write(OUT_OPT, "hdr-pad1-run8", bytes([17, 1, 0x3E, 4, 1, 2, 3, 4]) + bytes(8))
    write(OUT_OPT, "hdr-overrun", bytes([17, 0, 0x3E, 9, 0, 0, 0, 0]))
    write(OUT_OPT, "hdr-len-mismatch", bytes([17, 2]) + r8250 + b"\x01\x00")

    # ---- packet corpus ------------------------------------------------------
    pdm_hdr = lambda: opts_hdr(0, r8250)
    unk = bytes([0x1E, 2, 0xAA, 0xBB])
    seeds = {
        "udp": chain([], 17, udp()),
        "udp-1240": chain([], 17, udp(1232)),
        "tcp": chain([], 6, tcp()),
        "icmp6": chain([], 58, icmp6()),
        "sctp": chain([], 132, udp(12)),
        "dccp": chain([], 33, udp(12)),
        "udplite": chain([], 136, udp(4)),
        "no-next": chain([], 59, b""),
        "no-next-trailing": chain([], 59, b"\x01\x02\x03\x04"),
        "plen0-tcp": ipv6(6, b""),
        "hbh-udp": chain([(0, opts_hdr(0, unk))], 17, udp()),
        "hbh-dst-rt-ah-tcp": chain([(0, opts_hdr(0, unk)), (60, opts_hdr(0, unk)),
                                    (43, routing()), (51, ah())], 6, tcp()),
        "final-dst-udp": chain([(60, opts_hdr(0, unk))], 17, udp()),
        "final-dst-empty": chain([(60, opts_hdr(0, b""))], 17, udp()),
        "final-dst-odd": chain([(60, opts_hdr(0, bytes([0x3E, 3, 1, 2, 3])))], 6, tcp()),
        "final-dst-pdm": chain([(60, pdm_hdr())], 17, udp()),
        "hbh-pdm": chain([(0, pdm_hdr())], 17, udp()),
        "hbh-pdm-dst-pdm": chain([(0, pdm_hdr()), (60, pdm_hdr())], 17, udp()),
        "esp": chain([], 50, bytes(range(40))),
        "dst-esp": chain([(60, opts_hdr(0, unk))], 50, bytes(range(40))),
        "frag-first": chain([(44, frag(0, 1))], 17, udp(32)),
        "frag-later": chain([(44, frag(185, 0))], 17, bytes(32)),
        "mobility": chain([(135, bytes([0, 1]) + bytes(14))], 6, tcp()),
        "hip-shim6": chain([(139, bytes([0, 1]) + bytes(14)), (140, bytes([0, 0]) + bytes(6))],
                           17, udp()),
        "hbh-not-first": chain([(60, opts_hdr(0, unk)), (0, opts_hdr(0, unk))], 17, udp()),
        "jumbo": ipv6(0, opts_hdr(17, bytes([0xC2, 4, 0, 1, 0, 0])) + udp(64), plen=0),
        "bad-version": b"\x45" + chain([], 17, udp())[1:],
        "plen-too-big": ipv6(17, udp(), plen=200),
        "hdr-overrun": chain([(60, bytes([0, 5]) + bytes(6))], 17, udp()),
        "big-final-dst": chain([(60, opts_hdr(0, (bytes([0x3E, 255]) + bytes(255)) * 7
                                              + bytes([0x3E, 233]) + bytes(233)))], 17, udp()),
    }
    eth_pad = chain([], 6, b"")
    seeds["ethernet-padding"] = eth_pad + bytes(6)
    for name, data in seeds.items():
        write(OUT_PKT, name, data)


if __name__ == "__main__":
    main()
