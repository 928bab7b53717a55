#!/bin/sh
# Integration test of the Wireshark plugin (wireshark/, BUILD/wireshark/pdmv2.so,
# a tshark 4.0 postdissector, protocol pdmv2) against the library's own answers:
#
#  - it makes its own captures with known content (scapy around options built
#    by `pdm option encode`; Ethernet, two UDP flows each): RFC 8250 PDM,
#    unencrypted PDMv2, encrypted PDMv2 with a key rotation every 5 packets per
#    direction (PDMV2_SECRET lines), and a copy of that one with one ciphertext
#    byte of one server packet flipped; and it reads captures made elsewhere:
#    bench_gencap's encrypted (PDMV2_PRIMARY key log) and clear ones,
#    test_analyze --emit's simulated flow (losses, a replay, altered options)
#    and the demo's sample (docs/sample: ICMPv6, UDP, TCP);
#  - per packet, every field the plugin shows must equal `pdm option decode` of
#    that packet's option bytes (taken out with scapy; for encrypted options of
#    our own captures decoded with the key material they were sealed with, for
#    the others decoded after `pdm decrypt`), and an option the library does
#    not open shows no field;
#  - per flow and delay kind, the count and the median (lower middle, as
#    docs/analysis.md says), min and max of the plugin's derived delays must
#    equal `pdm analyze --format json`;
#  - the tampered option is flagged (auth failed, an expert item the clean
#    copy of the frame lacks, found by -Y) and shows no field; without the key
#    log every encrypted option says "no key" and shows no field;
#  - on RFC 8250 options the plugin agrees with Wireshark's own ipv6.opt.pdm.*;
#  - `tshark -V` of one decrypted packet (Kri 2): the pdmv2 tree shows its
#    PSNs, GP, deltas in ns, Kri and "opened"; rendered (-V -O pdmv2) by
#    headless Chromium into BUILD/wireshark-tree.png (a PNG of the size asked
#    for, with text on it), printed in a "note:" line.
# The plugin's field and preference names (all at the top of the Python part)
# are checked first (tshark -G), so a renamed field is one clear failure.
#
# Everything is capture files: no network, no namespace. The expected values are
# computed first (and printed with -v); the plugin's part is one function,
# plugin_checks(). The plugin not being built is a failure, not a skip
# (mk/deps.sh installs libwireshark-dev); PDM_WSTEST_EXPECT_ONLY=1 computes and
# prints the expected values only, and says so with a SKIP line, and
# PDM_WSTEST_TSHARK=WRAPPER runs WRAPPER BUILD_DIR ARGS... in place of
# wireshark/tshark-with-plugin.sh (both for working on the test itself).
#
#   sh tests/it_wireshark.sh [-v] BUILD_DIR      (from the repository root)
#
# Ends with "RESULT <passed> <failed> [<skipped>]" (docs/testing.md).
set -u
VERBOSE=0
if [ "${1:-}" = "-v" ]; then
    VERBOSE=1
    shift
fi
if [ $# -ne 1 ] || [ ! -x "$1/pdm" ]; then
    echo "usage: sh tests/it_wireshark.sh [-v] BUILD_DIR (with BUILD_DIR/pdm built)" >&2
    echo "RESULT 0 1"
    exit 1
fi
B=$(cd "$1" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/pdm-it-wireshark.XXXXXX")
trap 'rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM
# Debian's own python3 first: python3-scapy and python3-pil are installed for it.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
PYTHONPATH="$ROOT/tests${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPATH
timeout 300 "$PY" - "$B" "$ROOT" "$dir" "$VERBOSE" <<'PYEOF'
import ipaddress
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from itcheck import check, finish

BUILD, ROOT, D, VERBOSE = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
PDM = os.path.join(BUILD, "pdm")
PLUGIN_SO = os.path.join(BUILD, "wireshark", "pdmv2.so")
# PDM_WSTEST_TSHARK: another wrapper with the same arguments (BUILD_DIR ARGS...),
# e.g. a stand-in for the plugin while working on this test.
TSHARK = os.environ.get("PDM_WSTEST_TSHARK") or os.path.join(ROOT, "wireshark",
                                                             "tshark-with-plugin.sh")

# ---- the plugin's names: adjust here --------------------------------------
KEYLOG_PREF = "pdmv2.keylog_file"
# our name -> the plugin's field. Our names are those of `pdm option decode`.
PF = {
    "format": "pdmv2.format",
    "psntp": "pdmv2.psntp",
    "psnlr": "pdmv2.psnlr",
    "global_pointer": "pdmv2.gp",
    "rn": "pdmv2.rn",
    "f": "pdmv2.f",
    "scale_dtlr": "pdmv2.scale_dtlr",
    "scale_dtls": "pdmv2.scale_dtls",
    "delta_tlr": "pdmv2.delta_tlr",
    "delta_tls": "pdmv2.delta_tls",
    "delta_tlr_ns": "pdmv2.delta_tlr_ns",
    "delta_tls_ns": "pdmv2.delta_tls_ns",
    "kri": "pdmv2.kri",
    "auth": "pdmv2.auth",
}
# delay kind of `pdm analyze` -> the plugin's per-packet field
PD = {
    "server_delay_ns": "pdmv2.server_delay_ns",
    "client_delay_ns": "pdmv2.client_delay_ns",
    "rtd_ns": "pdmv2.rtd_ns",
}
AUTH_FAILED_FIELD = "pdmv2.auth_failed"  # a flag field, if the plugin has one
# pdmv2.auth values: opened, failed authentication, no key for the flow
AUTH_OPENED = ("opened", "ok")
AUTH_FAILED = ("failed",)
AUTH_NO_KEY = ("no key", "no_key")
# Fields shown only by an opened (or clear) option: never for one that fails.
CONTENT = ("psntp", "psnlr", "global_pointer", "scale_dtlr", "scale_dtls", "delta_tlr",
           "delta_tls", "delta_tlr_ns", "delta_tls_ns", "kri")
CLEAR_FIELDS = {  # what each format carries, as `pdm option decode` names it
    "pdm": ("scale_dtlr", "scale_dtls", "psntp", "psnlr", "delta_tlr", "delta_tls",
            "delta_tlr_ns", "delta_tls_ns"),
    "v2": ("rn", "f", "scale_dtlr", "scale_dtls", "global_pointer", "psntp", "psnlr",
           "delta_tlr", "delta_tls", "delta_tlr_ns", "delta_tls_ns"),
}
CLEAR_FIELDS["v2-encrypted"] = CLEAR_FIELDS["v2"] + ("kri",)
# Wireshark's own RFC 8250 dissector (tshark -G fields | grep ipv6.opt.pdm)
WS_PDM = {
    "scale_dtlr": "ipv6.opt.pdm.scale_dtlr",
    "scale_dtls": "ipv6.opt.pdm.scale_dtls",
    "psntp": "ipv6.opt.pdm.psn_this_pkt",
    "psnlr": "ipv6.opt.pdm.psn_last_recv",
    "delta_tlr": "ipv6.opt.pdm.delta_last_recv",
    "delta_tls": "ipv6.opt.pdm.delta_last_sent",
}
PDM_TYPE = 0x0F
SUITE = "0020-0001-0001"


def f(name):
    return os.path.join(D, name)


def say(*a):
    if VERBOSE:
        print(*a)


def run(argv, timeout=120, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    return p.returncode, p.stdout, p.stderr


def pdm(*args):
    rc, out, err = run([PDM] + list(args))
    if rc != 0:
        raise RuntimeError("pdm %s: exit %d: %s" % (" ".join(args[:3]), rc, err.strip()))
    return out


try:
    from scapy.all import Ether, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop, Raw, UDP, \
        rdpcap, wrpcap
    from scapy.layers.inet import TCP
    import scapy.config
    scapy.config.conf.verb = 0
except Exception as e:  # ImportError, or scapy failing as it loads
    check(False, "scapy: cannot import python3 scapy (%r); mk/deps.sh installs python3-scapy" % e)
    finish()

# ==== 1. captures with known content ========================================
MAC_C, MAC_S = "02:00:00:00:00:01", "02:00:00:00:00:02"
SERVER = "2001:db8:2::20"
SPORT = 8250
FLOWS = (("2001:db8:1::10", 40001), ("2001:db8:1::11", 40002))
EXCHANGES = 16  # per flow: 32 packets, 16 per direction
ROTATE = 5  # encrypted: the sender's Kri steps every ROTATE packets it sends
rng = random.Random(8250)
SALT = bytes(rng.randrange(256) for _ in range(32)).hex()
SECRETS = {c: bytes(rng.randrange(256) for _ in range(32)).hex() for c, _ in FLOWS}


def time_fields(ns):
    """(scale, delta) for a delay of ns nanoseconds: delta x 2^scale attoseconds,
    delta in 16 bits (truncated, as a sender does)."""
    if ns == 0:
        return 0, 0
    a = ns * 10**9
    scale = max(0, a.bit_length() - 16)
    return scale, a >> scale


def exchanges(client_idx):
    """The option fields of one flow's packets, in sending order: (sender is
    the client, fields). Client packet k names server packet k-1 in PSNLR, its
    DeltaTLS is the round trip through that packet (server delay + network),
    its DeltaTLR the client's think time; each server packet answers the
    client packet before it, its DeltaTLR the server delay."""
    r = random.Random(1000 + client_idx)
    c_psn, s_psn = r.randrange(65536), r.randrange(65536)
    c_gp, s_gp = r.randrange(1, 1 << 20), r.randrange(1, 1 << 20)
    out, prev_server_delay = [], None
    for k in range(EXCHANGES):
        fl = {"psntp": (c_psn + k) & 0xFFFF, "global_pointer": c_gp + k}
        if k:
            fl["psnlr"] = (s_psn + k - 1) & 0xFFFF
            fl["scale_dtlr"], fl["delta_tlr"] = time_fields(r.randrange(50_000, 400_000))
            rtt = r.randrange(1_000_000, 3_000_000)
            if client_idx == 1 and k == 7:
                rtt = -prev_server_delay // 2  # a negative round trip (docs/analysis.md)
            fl["scale_dtls"], fl["delta_tls"] = time_fields(prev_server_delay + rtt)
        out.append((True, fl))
        sd = r.randrange(100_000, 900_000)
        out.append((False, {"psntp": (s_psn + k) & 0xFFFF, "psnlr": (c_psn + k) & 0xFFFF,
                            "global_pointer": s_gp + k, "scale_dtlr": time_fields(sd)[0],
                            "delta_tlr": time_fields(sd)[1],
                            "scale_dtls": time_fields(sd + 20_000)[0],
                            "delta_tls": time_fields(sd + 20_000)[1]}))
        prev_server_delay = sd
    return out


def key_args(src, sport, dst, dport, client):
    return ["--suite", SUITE, "--secret", SECRETS[client], "--salt", SALT, "--src", src,
            "--sport", str(sport), "--dst", dst, "--dport", str(dport), "--protocol", "17"]


def make_capture(fmt, name):
    """Writes NAME.pcap: the two flows interleaved, 1 ms apart, every packet
    with a Destination Options header carrying one option of format fmt.
    Returns what was encoded, per frame: the tuple, the sender's fields and,
    for encrypted options, the key arguments, Kri and RN."""
    flows = [exchanges(i) for i in range(len(FLOWS))]
    pkts, meta, sent = [], [], {}
    t0 = 1_764_000_000.0
    for step in range(2 * EXCHANGES):
        for i, (client, cport) in enumerate(FLOWS):
            is_client, fields = flows[i][step]
            src, sport, dst, dport = (client, cport, SERVER, SPORT) if is_client else \
                (SERVER, SPORT, client, cport)
            n = sent.get((src, dst), 0)
            sent[(src, dst)] = n + 1
            args = ["option", "encode", "--format", fmt, "--next-header", "17"]
            m = {"tuple": (src, sport, dst, dport, 17), "fields": fields}
            if fmt != "pdm":
                m["rn"] = rng.randrange(1, 32768)
                args += ["--rn", str(m["rn"])]
            if fmt == "v2":
                m["f"] = rng.randrange(2)
                args += ["--f", str(m["f"])]
            if fmt == "v2-encrypted":
                m["kri"] = n // ROTATE
                m["key"] = key_args(src, sport, dst, dport, client)
                args += m["key"] + ["--kri", str(m["kri"])]
            args += ["%s=%d" % kv for kv in fields.items()
                     if fmt != "pdm" or kv[0] != "global_pointer"]
            hdr = bytes.fromhex(pdm(*args).strip())
            payload = b"payload %d" % len(pkts)
            dest = IPv6ExtHdrDestOpt(hdr)  # our header's bytes, as encode wrote them
            dest.remove_payload()
            p = (Ether(src=MAC_C if is_client else MAC_S, dst=MAC_S if is_client else MAC_C)
                 / IPv6(src=src, dst=dst, hlim=64) / dest / UDP(sport=sport, dport=dport)
                 / Raw(payload))
            p = Ether(bytes(p))  # lengths and the UDP checksum computed once
            check(bytes(p[IPv6ExtHdrDestOpt])[:len(hdr)] == hdr,
                  "%s packet %d: scapy kept the header as encoded" % (name, len(pkts) + 1))
            p.time = t0 + len(pkts) / 1000
            pkts.append(p)
            meta.append(m)
    wrpcap(f(name + ".pcap"), pkts)
    return meta


def server_frame(k):
    """Frame number (1-based) of flow 0's server packet of exchange k: the
    flows take turns, each sends a client then a server packet per exchange."""
    return len(FLOWS) * (2 * k + 1) + 1


def keylog_own():
    with open(f("own.keys"), "w") as kf:
        for c, _ in FLOWS:
            kf.write("PDMV2_SECRET %s %s %s %s %s\n" % (c, SERVER, SUITE, SALT, SECRETS[c]))
    os.chmod(f("own.keys"), 0o600)
    return f("own.keys")


# ---- frames and their PDM options, as scapy reads them ----------------------
def pdm_option(pkt):
    """(option bytes from its Type, header layer) of the packet's PDM option,
    or (None, None)."""
    for cls in (IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt):
        layer = pkt.getlayer(cls)
        while layer is not None:
            raw = bytes(layer)[2:(layer.len + 1) * 8]
            i = 0
            while i < len(raw):
                if raw[i] == 0:  # Pad1
                    i += 1
                    continue
                if i + 2 > len(raw):
                    break
                if raw[i] == PDM_TYPE:
                    return raw[i:i + 2 + raw[i + 1]], layer
                i += 2 + raw[i + 1]
            layer = layer.payload.getlayer(cls) if layer.payload else None
    return None, None


def frames(path):
    """Per frame (1-based, as tshark numbers them): tuple and option bytes."""
    out = []
    for n, p in enumerate(rdpcap(path), 1):
        opt, _ = pdm_option(p) if p.haslayer(IPv6) else (None, None)
        fr = {"frame": n, "opt": opt}
        if opt is not None:
            ip = p[IPv6]
            # the upper layer: the Next Header of the last extension header seen
            nh, l = ip.nh, ip.payload
            while nh in (0, 43, 60) and l is not None and hasattr(l, "nh"):
                nh, l = l.nh, l.payload
            sport = dport = 0
            for cls in (UDP, TCP):
                if p.haslayer(cls):
                    sport, dport = p[cls].sport, p[cls].dport
            fr["tuple"] = (ip.src, sport, ip.dst, dport, nh)
        out.append(fr)
    return out


def flow_key(t):
    a = (ipaddress.ip_address(t[0]).compressed, t[1])
    b = (ipaddress.ip_address(t[2]).compressed, t[3])
    return (t[4],) + tuple(sorted((a, b)))


# ==== 2. expected per packet: the library's decoding ===========================
def decode(opt, key=None, kri=None):
    args = ["option", "decode"] + (key or []) + (["--kri", str(kri)] if kri is not None else [])
    rc, out, err = run([PDM] + args + [opt.hex()])
    if rc != 0:
        return {"error": err.strip()}
    return json.loads(out)


def pmap(fn, items):
    with ThreadPoolExecutor(max_workers=4) as ex:
        return list(ex.map(fn, items))


def expect_own(path, meta, tampered=()):
    """Expected per frame of one of our captures: `pdm option decode` of the
    frame's option bytes (with the key material it was sealed with), checked
    against what was encoded. Returns {frame: want}, want having "tuple",
    "format", "auth" (None for clear formats) and the decoded fields."""
    frs = frames(path)
    check(len(frs) == len(meta),
          "%s: %d frames read back, %d written" % (path, len(frs), len(meta)))
    dec = pmap(lambda fm: decode(fm[0]["opt"], fm[1].get("key"), fm[1].get("kri")),
               zip(frs, meta))
    want = {}
    for fr, m, d in zip(frs, meta, dec):
        n = fr["frame"]
        check(fr["opt"] is not None and fr["tuple"] == m["tuple"],
              "%s frame %d: option or tuple not read back by scapy" % (path, n))
        if n in tampered:
            check("error" in d and "authentication failed" in d["error"],
                  "%s frame %d: the library opens the tampered option: %r" % (path, n, d))
            want[n] = {"tuple": m["tuple"], "format": "v2-encrypted", "auth": "failed",
                       "rn": m["rn"], "f": m["kri"] % 2}
            continue
        ok = "error" not in d
        for k, v in m["fields"].items():
            if k == "global_pointer" and d.get("format") == "pdm":
                continue
            ok = ok and d.get(k) == v
        for k in ("rn", "f", "kri"):
            if k in m:
                ok = ok and d.get(k) == m[k]
        check(ok, "%s frame %d: decode %r does not give what was encoded %r" % (path, n, d, m))
        w = {k: d[k] for k in CLEAR_FIELDS.get(d.get("format"), ()) if k in d}
        w.update(tuple=m["tuple"], format=d.get("format"),
                 auth="opened" if d.get("format") == "v2-encrypted" else None)
        want[n] = w
    return want


def expect_decrypted(path, keylog):
    """Expected per frame of a capture made elsewhere: `pdm decrypt`, then
    `pdm option decode` of each option of the result (frame numbers are kept).
    The Kri is not known this way (not compared); an option still encrypted
    after decrypt did not open (failed, or no key: either is accepted)."""
    if keylog:
        out = pdm("decrypt", path, f("dec.pcap"), "--keylog", keylog)
        say("  %s: pdm decrypt: %s" % (os.path.basename(path), out.strip().splitlines()[-1]))
        clear = frames(f("dec.pcap"))
    orig = frames(path)
    if not keylog:
        clear = orig
    check(len(clear) == len(orig),
          "%s: decrypt kept %d of %d frames" % (path, len(clear), len(orig)))
    pairs = [(o, c) for o, c in zip(orig, clear) if o["opt"] is not None]
    dec = pmap(lambda oc: decode(oc[1]["opt"]), pairs)
    want = {}
    for (o, c), d in zip(pairs, dec):
        n = o["frame"]
        if "error" in d:
            check(False, "%s frame %d: pdm option decode: %s" % (path, n, d["error"]))
            continue
        enc = len(o["opt"]) == 36
        w = {"tuple": o["tuple"], "format": "v2-encrypted" if enc else d["format"]}
        if d["format"] == "v2-encrypted":  # not opened by decrypt
            w.update(auth="not opened", rn=d["rn"], f=d["f"])
        else:
            w.update({k: d[k] for k in CLEAR_FIELDS[d["format"]] if k in d})
            w["auth"] = "opened" if enc else None
        want[n] = w
    return want


# ==== 3. expected per flow: the analyser ======================================
def expect_flows(path, keylog):
    """{flow key: {kind: stats}} from pdm analyze --format json."""
    args = ["analyze", "--format", "json"] + (["--keylog", keylog] if keylog else []) + [path]
    doc = json.loads(pdm(*args))
    out = {}
    for fl in doc["flows"]:
        k = flow_key((fl["src"], fl["sport"], fl["dst"], fl["dport"], fl["protocol"]))
        out[k] = {kind: fl[kind] for kind in PD}
        out[k]["_summary"] = "%s %s packets %d lost %d auth_failures %d replayed %d" % (
            fl["format"], "[%s]:%d-[%s]:%d/%d" % (fl["src"], fl["sport"], fl["dst"], fl["dport"],
                                                  fl["protocol"]),
            fl["packets"], fl["lost"], fl["auth_failures"], fl["replayed"])
    return out


def lower_median(v):
    s = sorted(v)
    return s[(len(s) - 1) // 2]


# ---- the cases ---------------------------------------------------------------
CASES = []  # (name, pcap, keylog, {frame: want}, {flow: stats})
TAMPERED = {}  # name -> (frame, the same capture without the flip)


def add_case(name, path, keylog, want):
    flows = expect_flows(path, keylog)
    CASES.append((name, path, keylog, want, flows))
    say("case %s: %s, %d PDM frames, %d flows" % (name, os.path.basename(path), len(want),
                                                   len(flows)))
    for i, st in enumerate(flows.values()):
        if i == 3:
            say("  ... %d more flows" % (len(flows) - 3))
            break
        say("  flow %s" % st["_summary"])
        for kind in PD:
            s = st[kind]
            say("    %-16s count %-5d negative %-3d median %s min %s max %s" % (
                kind, s["count"], s["negative"], s["median"], s["min"], s["max"]))
    for n in sorted(want)[:4] if VERBOSE else ():
        say("  frame %d: %s" % (n, {k: v for k, v in want[n].items() if k != "tuple"}))


try:
    keys = keylog_own()
    for fmt, name in (("pdm", "pdm"), ("v2", "v2"), ("v2-encrypted", "enc")):
        meta = make_capture(fmt, name)
        add_case(name, f(name + ".pcap"), keys if fmt == "v2-encrypted" else None,
                 expect_own(f(name + ".pcap"), meta))
        if fmt == "v2-encrypted":
            enc_meta = meta
    check(max(m["kri"] for m in enc_meta) >= 2, "enc: the senders rotated Kri")

    # The tampered copy: one ciphertext byte of a server packet of flow 0 flipped,
    # so that the next client packet's round trip has nothing to match.
    pk = list(rdpcap(f("enc.pcap")))
    victim = server_frame(6)
    p = pk[victim - 1]
    check(p[IPv6].src == SERVER, "the tampered frame is a server packet")
    raw = bytearray(bytes(p))
    opt, _ = pdm_option(p)
    at = bytes(p).find(opt) + 12  # Type, Len, version word, RN|F, then 6 ciphertext bytes in
    raw[at] ^= 0x10
    pk[victim - 1] = Ether(bytes(raw))
    pk[victim - 1].time = p.time
    wrpcap(f("enc-tampered.pcap"), pk)
    add_case("enc-tampered", f("enc-tampered.pcap"), keys,
             expect_own(f("enc-tampered.pcap"), enc_meta, tampered=(victim,)))
    TAMPERED["enc-tampered"] = (victim, f("enc.pcap"))

    # Captures made elsewhere.
    gencap = os.path.join(BUILD, "bench", "bench_gencap")
    if os.access(gencap, os.X_OK):
        for kind in ("encrypted", "clear"):
            path, kl = f("gencap-%s.pcap" % kind), f("gencap.keys") if kind == "encrypted" else None
            rc, out, err = run([gencap, path, "640", kind] + ([kl] if kl else []))
            check(rc == 0, "bench_gencap %s: %s" % (kind, err))
            if rc == 0:
                add_case("gencap-" + kind, path, kl, expect_decrypted(path, kl))
    else:
        check(False, "%s not built (make all builds it)" % gencap)
    emit = os.path.join(BUILD, "tests", "test_analyze")
    if os.access(emit, os.X_OK):
        os.mkdir(f("emit"))
        rc, out, err = run([emit, "--emit", f("emit")])
        check(rc == 0, "test_analyze --emit: %s" % err)
        if rc == 0:
            add_case("emit", f("emit/enc.pcap"), f("emit/enc.keys"),
                     expect_decrypted(f("emit/enc.pcap"), f("emit/enc.keys")))
    else:
        check(False, "%s not built (make all builds it)" % emit)
    demo = os.path.join(ROOT, "docs", "sample")
    add_case("demo", os.path.join(demo, "demo-client.pcap"), os.path.join(demo, "demo.keylog"),
             expect_decrypted(os.path.join(demo, "demo-client.pcap"),
                              os.path.join(demo, "demo.keylog")))
except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as e:
    check(False, "making the captures and the expected values: %s" % e)
    finish()

# Self-checks of the expected values (they must hold whatever the plugin does).
for name, path, keylog, want, flows in CASES:
    fmts = sorted({w["format"] for w in want.values()})
    say("case %s formats %s" % (name, fmts))
    check(want and flows, "%s: PDM frames and flows found" % name)
    check(sum(st["server_delay_ns"]["count"] for st in flows.values()) > 0,
          "%s: the analyser finds server delays" % name)
byname = {c[0]: c for c in CASES}
check({w["format"] for w in byname["pdm"][3].values()} == {"pdm"}, "pdm case is RFC 8250")
check({w["format"] for w in byname["v2"][3].values()} == {"v2"}, "v2 case is unencrypted PDMv2")
check({w["auth"] for w in byname["enc"][3].values()} == {"opened"}, "enc: every option opens")
check(sum(st["rtd_ns"]["negative"] for st in byname["v2"][4].values()) == 1,
      "v2: the analyser counts the one negative round trip")
check(sum(st["rtd_ns"]["count"] for st in byname["enc-tampered"][4].values()) ==
      sum(st["rtd_ns"]["count"] for st in byname["enc"][4].values()) - 1,
      "enc-tampered: the analyser loses the round trip through the tampered packet")
if "demo" in byname:
    check({w["auth"] for w in byname["demo"][3].values()} == {"opened"},
          "demo: pdm decrypt opens every option of the sample")


# ==== 4. the plugin ============================================================
def parse_val(s):
    """A -T fields value: int (decimal or 0x), boolean as 0/1, else the string."""
    low = s.lower()
    if low in ("true", "false"):
        return int(low == "true")
    try:
        return int(s, 0)
    except ValueError:
        return s


def wrapper():
    """The command that runs tshark with the plugin: BUILD_DIR comes next."""
    return ([TSHARK] if os.access(TSHARK, os.X_OK) else ["sh", TSHARK]) + [BUILD]


def tshark(path, keylog, fields, extra=()):
    """Per frame number: {field: [values]} for the fields present."""
    argv = wrapper() + ["-n", "-r", path, "-T", "fields", "-E", "separator=\t",
            "-E", "occurrence=a", "-E", "aggregator=\x1f", "-e", "frame.number"]
    if keylog:
        argv += ["-o", "%s:%s" % (KEYLOG_PREF, keylog)]
    for fl in fields:
        argv += ["-e", fl]
    rc, out, err = run(argv + list(extra), timeout=120)
    if rc != 0:
        check(False, "tshark on %s: exit %d: %s" % (path, rc, err.strip()[-500:]))
        return None
    res = {}
    for line in out.splitlines():
        cols = line.split("\t")
        vals = {}
        for fl, c in zip(fields, cols[1:]):
            if c != "":
                vals[fl] = [parse_val(x) for x in c.split("\x1f")]
        res[int(cols[0])] = vals
    return res


def auth_class(v):
    for cls, names in (("opened", AUTH_OPENED), ("failed", AUTH_FAILED),
                       ("no key", AUTH_NO_KEY)):
        if v in names:
            return cls
    return "unknown %r" % (v,)


class Frames:
    """One check per frame, its message naming every field that differs.
    Past the first SHOWN failing frames of a case, the others are counted
    together in one failed check at close() (a plugin that gets one thing
    wrong gets it wrong on thousands of frames)."""
    SHOWN = 25

    def __init__(self, name):
        self.name, self.bad, self.hidden = name, 0, []

    def frame(self, n, problems):
        if not problems:
            check(True, "")
            return
        self.bad += 1
        if self.bad <= self.SHOWN:
            check(False, "%s frame %d: %s" % (self.name, n, "; ".join(problems)))
        else:
            self.hidden.append(n)

    def close(self):
        check(not self.hidden, "%s: %d more frames fail (frames %s ...)"
              % (self.name, len(self.hidden), self.hidden[:8]))


def compare_packets(name, want, got):
    """Every decoded field of every PDM frame; fields never shown where the
    library shows none."""
    rep = Frames(name)
    for n in sorted(want):
        w, g = want[n], got.get(n, {})
        one = {k: v[0] for k, v in g.items()}
        bad = ["%s shown %d times: %r" % (k, len(v), v) for k, v in g.items() if len(v) != 1]

        def differs(fl, exp, got_v, ok):
            if not ok:
                bad.append("%s expected %s, got %r" % (fl, exp, got_v))

        differs(PF["format"], repr(w["format"]), one.get(PF["format"]),
                one.get(PF["format"]) == w["format"])
        a = one.get(PF["auth"])
        if w["auth"] is None:
            differs(PF["auth"], "none (a clear option)", a, PF["auth"] not in one)
        elif w["auth"] == "not opened":
            differs(PF["auth"], "failed or no key", a, auth_class(a) in ("failed", "no key"))
        else:
            differs(PF["auth"], w["auth"], a, auth_class(a) == w["auth"])
        for k in CLEAR_FIELDS["v2-encrypted"]:
            fl = PF[k]
            if k in ("rn", "f") and w["auth"] in ("failed", "not opened"):
                # in the clear, but part of an option that did not open:
                # the plugin may leave them out; if shown, they are right
                differs(fl, "%r or none" % w[k], one.get(fl), one.get(fl) in (w[k], None))
            elif k in w:
                differs(fl, repr(w[k]), one.get(fl), one.get(fl) == w[k])
            elif k == "kri" and w["auth"] == "opened":
                pass  # opened by pdm decrypt, which does not say under which Kri
            elif k in CONTENT or w["format"] == "pdm":
                differs(fl, "none", one.get(fl), fl not in one)
        rep.frame(n, bad)
    rep.close()
    extra = sorted(n for n, g in got.items() if n not in want and any(
        fl in g for fl in PF.values()))
    check(not extra, "%s: pdmv2 fields on frames without a PDM option: %s" % (name, extra[:10]))


def compare_flows(name, want, flows, got):
    """Per flow and kind: count, negative, median (lower middle), min, max."""
    per = {}
    for n, g in got.items():
        if n not in want:
            continue
        k = flow_key(want[n]["tuple"])
        for kind, fl in PD.items():
            for v in g.get(fl, []):
                per.setdefault((k, kind), []).append(v)
    for k, st in flows.items():
        for kind in PD:
            vals = per.get((k, kind), [])
            pos = [v for v in vals if isinstance(v, int) and v >= 0]
            neg = [v for v in vals if not (isinstance(v, int) and v >= 0)]
            a = st[kind]
            where = "%s flow %s %s" % (name, st["_summary"].split(" packets")[0], kind)
            check(len(pos) == a["count"], "%s: count expected %d, got %d" % (where, a["count"],
                                                                            len(pos)))
            check(len(neg) in (0, a["negative"]), "%s: negative expected %d (or none shown), got %r"
                  % (where, a["negative"], neg[:5]))
            if pos and a["count"]:
                got_st = (lower_median(pos), min(pos), max(pos))
                exp_st = (a["median"], a["min"], a["max"])
                check(got_st == exp_st, "%s: (median, min, max) expected %r, got %r"
                      % (where, exp_st, got_st))
    stray = sorted({k for k, _ in per} - set(flows))
    check(not stray, "%s: delays on flows the analyser does not have: %s" % (name, stray))


def compare_builtin(name, path):
    """RFC 8250 options: the plugin's fields equal Wireshark's ipv6.opt.pdm.*."""
    fields = [PF[k] for k in WS_PDM] + list(WS_PDM.values())
    got = tshark(path, None, fields)
    if got is None:
        return
    n_pdm = 0
    for n, g in sorted(got.items()):
        if WS_PDM["psntp"] not in g:
            continue
        n_pdm += 1
        for k, ws in WS_PDM.items():
            check(g.get(PF[k]) == g.get(ws), "%s frame %d: %s %r, Wireshark's %s %r"
                  % (name, n, PF[k], g.get(PF[k]), ws, g.get(ws)))
    check(n_pdm == len(byname[name][3]), "%s: Wireshark decodes %d RFC 8250 options of %d"
          % (name, n_pdm, len(byname[name][3])))


def compare_tampered(name, frame, clean, have_flag):
    """The tampered option: auth failed (or the flag field), no content field,
    and an expert item that the same frame of the clean capture lacks."""
    exp = ["_ws.expert.message", PF["auth"]] + [PF[k] for k in CONTENT] + \
        ([AUTH_FAILED_FIELD] if have_flag else [])
    bad = tshark(byname[name][1], byname[name][2], exp)
    good = tshark(clean, byname[name][2], exp)
    if bad is None or good is None:
        return
    b, g = bad.get(frame, {}), good.get(frame, {})
    where = "%s frame %d (tampered)" % (name, frame)
    flagged = AUTH_FAILED_FIELD in b or auth_class((b.get(PF["auth"]) or [None])[0]) == "failed"
    check(flagged, "%s: %s or %s=failed expected, got %r" % (where, AUTH_FAILED_FIELD, PF["auth"],
                                                             b))
    new = set(b.get("_ws.expert.message", [])) - set(g.get("_ws.expert.message", []))
    check(bool(new), "%s: an expert item expected that the clean frame lacks; tampered %r, clean %r"
          % (where, b.get("_ws.expert.message"), g.get("_ws.expert.message")))
    shown = [PF[k] for k in CONTENT if PF[k] in b]
    check(not shown, "%s: fields shown: %s" % (where, shown))
    check(auth_class((g.get(PF["auth"]) or [None])[0]) == "opened",
          "%s: the clean copy of the frame opens: %r" % (where, g.get(PF["auth"])))
    # the display filter finds exactly that frame
    rc, out, err = run(wrapper() + ["-n", "-r", byname[name][1], "-o",
                        "%s:%s" % (KEYLOG_PREF, byname[name][2]), "-Y",
                        ("%s || " % AUTH_FAILED_FIELD if have_flag else "")
                        + "%s == \"%s\"" % (PF["auth"], AUTH_FAILED[0]),
                        "-T", "fields", "-e", "frame.number"])
    check(rc == 0 and out.split() == [str(frame)],
          "%s: -Y finds frames %r (exit %d: %s)" % (where, out.split(), rc, err.strip()[-300:]))


def screenshot(name, frame):
    """tshark -V of one decrypted packet: the pdmv2 tree must show its fields;
    then the packet (the pdmv2 tree expanded, -O) rendered by headless Chromium."""
    path, keylog, want = byname[name][1], byname[name][2], byname[name][3][frame]
    base = wrapper() + ["-n", "-r", path, "-o", "%s:%s" % (KEYLOG_PREF, keylog),
            "-Y", "frame.number == %d" % frame, "-V"]
    rc, text, err = run(base)
    check(rc == 0 and text, "tshark -V: exit %d: %s" % (rc, err.strip()[-300:]))
    lines = text.splitlines()
    # the plugin's tree: from the top-level line that starts with its
    # protocol's name to the next top-level line
    rc, out, err = run(wrapper() + ["-G", "protocols"])
    pname = [l.split("\t")[0] for l in out.splitlines() if l.endswith("\tpdmv2")]
    check(len(pname) == 1, "tshark -G protocols: no protocol pdmv2 (exit %d)" % rc)
    at = [i for i, l in enumerate(lines) if pname and l.startswith(pname[0])]
    tree = []
    if at:
        tree = [lines[at[0]]]
        for l in lines[at[0] + 1:]:
            if l[:1].strip():
                break
            tree.append(l)
    check(len(tree) > 5, "tshark -V %s frame %d: no top-level pdmv2 tree with its fields: %r"
          % (name, frame, tree))
    for k in ("psntp", "psnlr", "global_pointer", "delta_tlr_ns", "delta_tls_ns", "kri"):
        # a small Kri is told from other small numbers by its label
        pat = re.compile((r"(?i)(kri|rotation).*" if k == "kri" else "") + r"\b%d\b" % want[k])
        check(any(pat.search(l) for l in tree[1:]),
              "tshark -V %s frame %d: the pdmv2 tree shows no %s %d" % (name, frame, k, want[k]))
    check(any(a in l.lower() for l in tree for a in AUTH_OPENED),
          "tshark -V %s frame %d: the pdmv2 tree does not say %s" % (name, frame, AUTH_OPENED[0]))
    rc, text, err = run(base + ["-O", "pdmv2"])
    check(rc == 0 and text, "tshark -V -O pdmv2: exit %d: %s" % (rc, err.strip()[-300:]))
    width, height = 1000, min(4000, 40 + 16 * len(text.splitlines()))
    html = ("<!doctype html><meta charset=utf-8><title>pdmv2</title><body style='margin:8px;"
            "background:#fff'><pre style='font:13px monospace;color:#000'>%s</pre>"
            % text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    open(f("tree.html"), "w").write(html)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("SKIP screenshot: chromium not installed (Debian package chromium)")
        return
    os.mkdir(f("profile"))
    png = os.path.join(BUILD, "wireshark-tree.png")
    # --no-sandbox: tests run as root, where Chromium's sandbox cannot start.
    rc, out, err = run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        "--user-data-dir=" + f("profile"), "--screenshot=" + f("shot.png"),
                        "--window-size=%d,%d" % (width, height), "file://" + f("tree.html")],
                       timeout=120)
    if not os.path.exists(f("shot.png")):
        check(False, "chromium wrote no screenshot: %s" % err.strip()[-300:])
        return
    shutil.copyfile(f("shot.png"), png)
    data = open(png, "rb").read()
    ok = data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    w, h = struct.unpack(">II", data[16:24]) if ok else (0, 0)
    check(ok and (w, h) == (width, height), "screenshot: PNG %dx%d expected %dx%d"
          % (w, h, width, height))
    check(5_000 < len(data) < 5_000_000, "screenshot: %d bytes" % len(data))
    try:
        from PIL import Image
        img = Image.open(png).convert("L")
        dark = sum(1 for y in range(0, h, 4) if min(img.crop((0, y, w, y + 1)).getdata()) < 100)
        check(dark > h // 4 // 4, "screenshot: %d of %d sampled rows have text" % (dark, h // 4))
    except ImportError:
        print("SKIP screenshot pixels: python3-pil not installed")
    print("note: %s (tshark -V of %s frame %d, decrypted)" % (png, name, frame))


def plugin_checks():
    if not os.environ.get("PDM_WSTEST_TSHARK") and not os.path.exists(PLUGIN_SO) or \
            not os.path.exists(TSHARK):
        check(False, "the plugin is not built: %s or %s missing (make all builds it; mk/deps.sh "
              "installs libwireshark-dev)" % (PLUGIN_SO, TSHARK))
        return
    # The names first: tshark refuses to run with one unknown -e field or -o
    # preference, and says little about which.
    rc, out, err = run(wrapper() + ["-G", "fields"])
    have = {l.split("\t")[2] for l in out.splitlines() if l.startswith("F\t") and
            l.count("\t") >= 2 and l.split("\t")[2].startswith("pdmv2.")}
    missing = sorted((set(PF.values()) | set(PD.values())) - have)
    check(rc == 0 and not missing, "the plugin registers no %s (it has: %s; exit %d %s)"
          % (", ".join(missing), ", ".join(sorted(have)), rc, err.strip()[-200:]))
    rc, out, err = run(wrapper() + ["-G", "defaultprefs"])
    check(rc == 0 and re.search(r"(?m)^#?\s*%s:" % re.escape(KEYLOG_PREF), out),
          "the plugin has no preference %s (exit %d)" % (KEYLOG_PREF, rc))
    if missing:
        return
    if AUTH_FAILED_FIELD not in have:
        say("no field %s: the tampered option is found by %s" % (AUTH_FAILED_FIELD, PF["auth"]))
    fields = list(PF.values()) + list(PD.values())
    for name, path, keylog, want, flows in CASES:
        got = tshark(path, keylog, fields)
        if got is None:
            continue
        compare_packets(name, want, got)
        compare_flows(name, want, flows, got)
    compare_builtin("pdm", byname["pdm"][1])
    for name, (frame, clean) in TAMPERED.items():
        compare_tampered(name, frame, clean, AUTH_FAILED_FIELD in have)
    # the key log matters: without it no encrypted option opens
    got = tshark(byname["enc"][1], None, [PF["auth"], PF["psntp"]])
    if got is not None:
        check(all(auth_class((g.get(PF["auth"]) or [None])[0]) == "no key" and PF["psntp"] not in g
                  for n, g in got.items()),
              "enc without a key log: every option %s, no psntp" % AUTH_NO_KEY[0])
    screenshot("enc", server_frame(12))  # Kri 2


if os.environ.get("PDM_WSTEST_EXPECT_ONLY") == "1":
    print("SKIP plugin part: PDM_WSTEST_EXPECT_ONLY=1 (expected values only)")
else:
    try:
        plugin_checks()
    except (OSError, ValueError, KeyError, IndexError, subprocess.TimeoutExpired) as e:
        check(False, "the plugin's part stopped: %r" % e)
finish()
PYEOF
status=$?
# (not exec: the EXIT trap removes the temporary directory)
exit $status
