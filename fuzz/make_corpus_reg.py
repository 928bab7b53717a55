#!/usr/bin/env python3
"""Writes the seed corpus fuzz/corpus/reg/ for fuzz/fuzz_reg.c.

Run from anywhere: python3 fuzz/make_corpus_reg.py
Deterministic. Each seed is sel(1) || stream (see fuzz/fuzz_reg.c): the
registration vectors' ClientHello + ClientKey (vectors 0 and 4 reach Status
OK against the target's server keys), the same delivered one byte at a time,
server answers for the client side, and hand-made malformed messages.
"""
import json
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VEC = os.path.join(ROOT, "tests", "vectors", "pdmv2-profile-vectors.json")
OUT = os.path.join(ROOT, "fuzz", "corpus", "reg")


def write(name, data):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes(data))


def msg(t, body):
    return bytes([t]) + struct.pack(">H", len(body)) + bytes(body)


def main():
    regs = json.load(open(VEC))["registrations"]
    for i, r in enumerate(regs):
        ch = bytes.fromhex(r["client_hello"])
        ck = bytes.fromhex(r["client_key"])
        sh = bytes.fromhex(r["server_hello"])
        st = bytes.fromhex(r["status_ok"])
        # sel 0: prefs list 0 (X25519 first), all modes. Vector 4 (P-256)
        # needs list 1.
        sel = 1 if r["suite"].startswith("0010") else 0
        if r["suite"] == "0020-0001-0003":
            sel = 3
        write("vec%d-server" % i, bytes([sel]) + ch + ck)
        write("vec%d-server-slow" % i, bytes([sel | 0x80]) + ch + ck)
        write("vec%d-client" % i, bytes([0x40]) + sh + st)
    base = bytes.fromhex(regs[0]["client_hello"])
    write("version-2", b"\x00" + msg(1, b"\x02\x00\x01" + base[6:12]))
    write("nsuites-0", b"\x00" + msg(1, b"\x01\x00\x00"))
    write("nsuites-33", b"\x00" + msg(1, b"\x01\x00\x21" + b"\x00\x20\x00\x01\x00\x01" * 33))
    write("mode-4", b"\x00" + msg(1, b"\x01\x04\x01\x00\x20\x00\x01\x00\x01"))
    write("oversized", b"\x00\x01\x08\x01" + b"\x00" * 16)
    write("wrong-first", b"\x00" + msg(3, b"\x00\x20" + b"\x09" * 64))
    write("psk-unknown", b"\x00" + msg(1, b"\x01\x01\x01\x00\x20\x00\x01\x00\x01\x03xyz"))
    write("psk-known", b"\x00" + msg(1, b"\x01\x01\x01\x00\x20\x00\x01\x00\x01\x03sxy")
          + msg(3, b"\x00\x20" + b"\x09" * 64))
    write("psk-fail", b"\x00" + msg(1, b"\x01\x01\x01\x00\x20\x00\x01\x00\x01\x01!"))
    write("psk-short", b"\x00" + msg(1, b"\x01\x01\x01\x00\x20\x00\x01\x00\x01\x01?"))
    write("auth-even", b"\x00" + msg(1, b"\x01\x02\x01\x00\x20\x00\x01\x00\x01\x00\x20"
                                     + b"\x08" * 32) + msg(3, b"\x00\x20" + b"\x09" * 64))
    write("auth-odd", b"\x00" + msg(1, b"\x01\x02\x01\x00\x20\x00\x01\x00\x01\x00\x20"
                                    + b"\x09" * 32))
    write("mode-refused", bytes([0x04]) + msg(1, b"\x01\x02\x01\x00\x20\x00\x01\x00\x01\x00\x20"
                                             + b"\x08" * 32))
    write("enc-zero", b"\x00" + base + msg(3, b"\x00\x20" + b"\x00" * 64))
    write("enc-short", b"\x00" + base + msg(3, b"\x00\x1f" + b"\x09" * 63))
    write("client-busy", b"\x40" + msg(4, b"\x04"))
    write("client-bad-status", b"\x40" + msg(4, b"\x07"))


if __name__ == "__main__":
    main()
