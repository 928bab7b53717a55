#!/bin/sh
# Integration test of `pdm option` (tools/dev/cmd_option.c) against the profile's
# known-answer vectors: every "options" vector is encoded from its fields and
# compared byte for byte (RFC 8250, unencrypted PDMv2, and encrypted PDMv2
# sealed with the vector's key material, each as a bare option and as a whole
# Destination Options header), every encoding is decoded back (encrypted ones
# opened with the key material) and its JSON compared field by field, and
# malformed input must fail with exit status 1 and a one-line message naming
# the problem (usage errors: 2). An encrypted option that does not
# authenticate (wrong key material, any altered bit) must print no field.
# One packet per format is also parsed by Scapy as a cross-check of the
# header structure: python3-scapy is installed by mk/deps.sh, so failing to
# import it is a failed check, not a skip. The command line follows the
# house style (getopt_long): flags and operands in any order, "--" ends
# the flags, abbreviations that are unique work, usage errors are one line.
#
#   sh tests/it_option_cli.sh BUILD_DIR      (from the repository root)
#
# Ends with "RESULT <passed> <failed>" like the unit tests.
set -u
if [ $# -ne 1 ] || [ ! -x "$1/pdm" ]; then
    echo "usage: sh tests/it_option_cli.sh BUILD_DIR (with BUILD_DIR/pdm built)" >&2
    echo "RESULT 0 1"
    exit 1
fi
# Debian's own python3 first: python3-scapy is installed for it.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
# tests/itcheck.py: check(), run(), finish().
PYTHONPATH="$(dirname "$0")${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPATH
exec "$PY" - "$1/pdm" tests/vectors/pdmv2-profile-vectors.json <<'PYEOF'
import json
import random
import sys

from itcheck import check, finish, run as run_argv

PDM, VECTORS = sys.argv[1], sys.argv[2]
FIELDS = ["scale_dtlr", "scale_dtls", "global_pointer", "psntp", "psnlr",
          "delta_tlr", "delta_tls"]
PDM_FIELDS = [f for f in FIELDS if f != "global_pointer"]


def ns(delta, scale):
    """DELTA x 2^SCALE attoseconds in whole nanoseconds; None (JSON null)
    when that does not fit below 2^64 - 1, as pdm_time_decode_ns() says."""
    v = (delta << scale) // 10**9
    return None if v >= 2**64 - 1 else v


def with_ns(want):
    """Adds the decoded deltas that decode prints for clear formats."""
    if want["format"] in ("pdm", "v2"):
        want = dict(want, delta_tlr_ns=ns(want["delta_tlr"], want["scale_dtlr"]),
                    delta_tls_ns=ns(want["delta_tls"], want["scale_dtls"]))
    return want


def run(*args):
    return run_argv([PDM, "option"] + list(args))


def encode(fmt, fields, rn=None, f=None, nh=None, typ=None):
    args = ["encode", "--format", fmt]
    if rn is not None:
        args += ["--rn", str(rn)]
    if f is not None:
        args += ["--f", str(f)]
    if typ is not None:
        args += ["--type", typ]
    if nh is not None:
        args += ["--next-header", str(nh)]
    names = PDM_FIELDS if fmt == "pdm" else FIELDS
    args += ["%s=%d" % (k, fields[k]) for k in names]
    return run(*args)


def jload(text):
    """The JSON object in text, or {} when it is not one."""
    try:
        obj = json.loads(text)
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}


def expect_encode(what, expected_hex, *a, **kw):
    rc, out, err = encode(*a, **kw)
    check(rc == 0 and out == expected_hex + "\n" and err == "",
          "%s: encode gave rc=%d out=%r err=%r, want %s" % (what, rc, out, err, expected_hex))


def expect_decode(what, hexstr, want, header=False, typ=None):
    args = ["decode"] + (["--header"] if header else []) + (["--type", typ] if typ else [])
    rc, out, err = run(*(args + [hexstr]))
    try:
        got = json.loads(out)
        one_line = out.count("\n") == 1 and out.endswith("\n")
    except ValueError:
        got, one_line = None, False
    want = with_ns(want)
    ok = rc == 0 and one_line and err == "" and got == want
    check(ok, "%s: decode %s gave rc=%d out=%r err=%r, want %s" % (what, hexstr, rc, out, err, want))


def expect_error(what, rc_want, needle, *args):
    rc, out, err = run(*args)
    lines = err.splitlines()
    check(rc == rc_want and out == "" and len(lines) == 1 and lines[0].startswith("pdm: option")
          and needle in lines[0],
          "%s: %r gave rc=%d out=%r err=%r, want rc=%d and %r" % (what, args, rc, out, err,
                                                                 rc_want, needle))


vectors = json.load(open(VECTORS))["options"]
check(len(vectors) > 0, "vectors: no options vectors")

for i, v in enumerate(vectors):
    fl, nh = v["fields"], v["protocol"]
    name = "vector %d" % i
    pdm_want = dict({"format": "pdm"}, **{k: fl[k] for k in PDM_FIELDS})
    v2_want = dict({"format": "v2", "rn": v["rn"], "f": v["f"]}, **fl)
    enc_want = {"format": "v2-encrypted", "rn": v["rn"], "f": v["f"],
                "sealed": v["encrypted_option"][12:]}

    expect_encode(name + " rfc8250_option", v["rfc8250_option"], "pdm", fl)
    expect_encode(name + " rfc8250_dest_opts_header", v["rfc8250_dest_opts_header"], "pdm", fl,
                  nh=nh)
    expect_encode(name + " unencrypted_option", v["unencrypted_option"], "v2", fl, rn=v["rn"],
                  f=v["f"])
    expect_encode(name + " unencrypted_dest_opts_header", v["unencrypted_dest_opts_header"],
                  "v2", fl, rn=v["rn"], f=v["f"], nh=nh)

    expect_decode(name + " rfc8250_option", v["rfc8250_option"], pdm_want)
    expect_decode(name + " unencrypted_option", v["unencrypted_option"], v2_want)
    expect_decode(name + " encrypted_option", v["encrypted_option"], enc_want)
    expect_decode(name + " rfc8250 header", v["rfc8250_dest_opts_header"],
                  dict(pdm_want, next_header=nh), header=True)
    expect_decode(name + " unencrypted header", v["unencrypted_dest_opts_header"],
                  dict(v2_want, next_header=nh), header=True)
    expect_decode(name + " encrypted header", v["encrypted_dest_opts_header"],
                  dict(enc_want, next_header=nh), header=True)

# Round trips over field extremes and a fixed pseudo-random sample.
rng = random.Random(8250)
widths = {"scale_dtlr": 8, "scale_dtls": 8, "global_pointer": 32, "psntp": 16, "psnlr": 16,
          "delta_tlr": 16, "delta_tls": 16}
samples = [{k: 0 for k in FIELDS}, {k: (1 << w) - 1 for k, w in widths.items()}]
samples += [{k: rng.getrandbits(w) for k, w in widths.items()} for _ in range(6)]
for s in samples:
    rn, f = rng.getrandbits(15), rng.getrandbits(1)
    for fmt, want in (("pdm", dict({"format": "pdm"}, **{k: s[k] for k in PDM_FIELDS})),
                      ("v2", dict({"format": "v2", "rn": rn, "f": f}, **s))):
        kw = {"rn": rn, "f": f} if fmt == "v2" else {}
        rc, out, _ = encode(fmt, s, **kw)
        check(rc == 0, "round trip %s %s: encode rc=%d" % (fmt, s, rc))
        if rc == 0:
            expect_decode("round trip " + fmt, out.strip(), want)
        rc, out, _ = encode(fmt, s, nh=58, **kw)
        check(rc == 0 and len(out.strip()) == (32 if fmt == "pdm" else 48),
              "round trip %s header: rc=%d out=%r" % (fmt, rc, out))
        if rc == 0:
            expect_decode("round trip %s header" % fmt, out.strip(), dict(want, next_header=58),
                          header=True)

# Hex input: white space and ':' between digits, and 0x-hex field values.
v = vectors[0]
spaced = " ".join(v["rfc8250_option"][i:i + 2] for i in range(0, 24, 2))
coloned = ":".join(v["rfc8250_option"][i:i + 2] for i in range(0, 24, 2))
want = dict({"format": "pdm"}, **{k: v["fields"][k] for k in PDM_FIELDS})
expect_decode("spaced hex", spaced, want)
expect_decode("colon hex", coloned, want)
expect_decode("upper-case hex", v["rfc8250_option"].upper(), want)
rc, out, _ = run("decode", *spaced.split(" "))
check(rc == 0 and jload(out).get("psntp") == want["psntp"], "hex over many words: %r" % out)
rc, out, _ = run("encode", "--format", "pdm", "psntp=0xBEEF", "delta_tls=0xffff")
check(rc == 0 and out == "0f0a0000beef00000000ffff\n", "0x-hex values: %r" % out)
rc, out, _ = run("encode", "psntp=1", "--format=pdm")
check(rc == 0 and out == "0f0a00000001000000000000\n", "flags after fields: %r" % out)

# Configurable option type.
rc, out, _ = run("encode", "--format", "v2", "--type", "0x1e", "--rn", "5", "psntp=7")
check(rc == 0 and out.startswith("1e12200000"), "--type encode: %r" % out)
expect_decode("--type decode", out.strip(),
              dict({k: 0 for k in FIELDS}, format="v2", rn=5, f=0, psntp=7), typ="0x1e")
expect_error("default type rejects 0x1e", 1, "option type 0x1e is not the PDM type 0x0f",
             "decode", out.strip())

# Malformed input: exit status 1 and a message naming the problem.
pdm_opt = v["rfc8250_option"]
enc_opt = v["encrypted_option"]
expect_error("length 11", 1, "option length 11 is not 10, 18, 22 or 34", "decode",
             "0f0b" + pdm_opt[4:] + "00")
expect_error("length 0", 1, "option length 0 is not 10, 18, 22 or 34", "decode", "0f00")
expect_error("truncated option", 1, "truncated", "decode", pdm_opt[:-2])
expect_error("one byte", 1, "truncated", "decode", "0f")
expect_error("trailing byte", 1, "trailing byte", "decode", pdm_opt + "00")
expect_error("v2 version 3", 1, "version 3 is not 2", "decode",
             v["unencrypted_option"][:4] + "3" + v["unencrypted_option"][5:])
expect_error("v2-encrypted version 1", 1, "version 1 is not 2", "decode",
             enc_opt[:4] + "1" + enc_opt[5:])
expect_error("encrypted RN 0", 1, "random number 0", "decode", enc_opt[:8] + "0001" + enc_opt[12:])
expect_error("not hex", 1, "not a hex digit", "decode", "0f0g")
expect_error("odd digits", 1, "odd number of hex digits", "decode", pdm_opt[:-1])
hdr = v["rfc8250_dest_opts_header"]
expect_error("header too short", 1, "16-byte header, 15 bytes given", "decode", "--header",
             hdr[:-2])
expect_error("header too long", 1, "16-byte header, 17 bytes given", "decode", "--header",
             hdr + "00")
expect_error("PadN not zero", 1, "PadN at offset 2 carries a non-zero byte", "decode",
             "--header", "1100010401000000")
expect_error("option past header", 1, "runs past the 8-byte header", "decode", "--header",
             "11000f0a4a49e0bf")
expect_error("padding run", 1, "8 bytes of padding in a row at offset 14", "decode", "--header",
             hdr[:2] + "02" + pdm_opt + "00" * 10)
expect_error("two PDM options", 1, "more than one option of type 0x0f", "decode", "--header",
             "1103" + pdm_opt + pdm_opt + "010400000000")
expect_error("no PDM option", 1, "no option of type 0x0f", "decode", "--header",
             "1100010400000000")
expect_error("bad option in header", 1, "option length 11 is not 10, 18, 22 or 34", "decode",
             "--header", hdr[:6] + "0b" + hdr[8:28] + "0000")

# Usage errors: exit status 2.
expect_error("unknown field", 2, "unknown field 'psn'", "encode", "--format", "v2", "psn=1")
expect_error("not FIELD=VALUE", 2, "not FIELD=VALUE", "encode", "--format", "v2", "psntp")
expect_error("field twice", 2, "psntp given twice", "encode", "--format", "v2", "psntp=1",
             "psntp=2")
for k, w in widths.items():
    expect_error("%s out of range" % k, 2, "%s '%d' is not a number in 0..%d" % (k, 1 << w,
                 (1 << w) - 1), "encode", "--format", "v2", "%s=%d" % (k, 1 << w))
expect_error("negative", 2, "is not a number", "encode", "--format", "v2", "psntp=-1")
expect_error("junk", 2, "is not a number", "encode", "--format", "v2", "psntp=12x")
expect_error("pdm global_pointer", 2, "global_pointer exists only in PDMv2", "encode",
             "--format", "pdm", "global_pointer=1")
expect_error("pdm --rn", 2, "--rn exists only in PDMv2", "encode", "--format", "pdm", "--rn", "1")
expect_error("pdm --f", 2, "--f exists only in PDMv2", "encode", "--format", "pdm", "--f", "1")
expect_error("rn range", 2, "--rn '32768' is not a number in 0..32767", "encode", "--format",
             "v2", "--rn", "32768")
expect_error("f range", 2, "--f '2' is not a number in 0..1", "encode", "--format", "v2", "--f",
             "2")
expect_error("type range", 2, "--type '256'", "encode", "--format", "v2", "--type", "256")
expect_error("next-header range", 2, "--next-header '256'", "encode", "--format", "v2",
             "--next-header", "256")
expect_error("no format", 2, "--format pdm|v2|v2-encrypted|v2-14 is required", "encode", "psntp=1")
expect_error("unknown format", 2, "unknown format 'v3'", "encode", "--format", "v3")
expect_error("encrypted encode", 2, "v2-encrypted", "encode", "--format", "v2-encrypted")
expect_error("unknown flag", 2, "unknown option '--bogus'", "encode", "--bogus")
expect_error("missing value", 2, "--rn needs a value", "encode", "--format", "v2", "--rn")
expect_error("decode no hex", 2, "no HEX given", "decode")
expect_error("decode unknown flag", 2, "unknown option '--x'", "decode", "--x", pdm_opt)
expect_error("unknown subcommand", 2, "unknown subcommand 'frob'", "frob")
for args in (["--help"], ["encode", "--help"], ["decode", "--help"]):
    rc, out, err = run(*args)
    check(rc == 0 and out.startswith("usage: pdm option") and err == "", "help %s" % args)
rc, out, err = run()
check(rc == 2 and out == "" and err.startswith("usage: pdm option"), "no arguments")
for args in (["encode", "-h"], ["decode", "-h"], ["encode", "psntp=1", "--help"]):
    rc, out, err = run(*args)
    check(rc == 0 and out.startswith("usage: pdm option " + args[0]) and err == "",
          "help %s" % args)

# getopt_long: unique abbreviations, "--" ends the flags, and the errors
# it leaves to us are one line each.
rc, out, _ = run("encode", "--form", "pdm", "--next", "58", "psntp=1")
check(rc == 0 and out == "3a01" + "0f0a00000001000000000000" + "0100" + "\n",
      "abbreviated flags: %r" % out)
rc, out, _ = run("decode", "--", v["rfc8250_option"])
check(rc == 0 and jload(out).get("psntp") == v["fields"]["psntp"], "--: %r" % out)
expect_error("ambiguous flag", 2, "'--s' is ambiguous: --secret, --salt, --suite, --src, --sport",
             "decode", "--s", "x", pdm_opt)
expect_error("value to a flag without one", 2, "--header takes no value", "decode",
             "--header=1", pdm_opt)
expect_error("unknown short flag", 2, "unknown option '-x'", "decode", "-x", pdm_opt)
expect_error("value missing at the end", 2, "--type needs a value", "decode", pdm_opt, "--type")
expect_error("unknown flag with a value", 2, "unknown option '--bogus'", "encode", "--bogus=1")

# Encrypted PDMv2 with key material (profile pdmv2-hpke-1, docs/profile.md §3).
PORT_PROTOCOLS = (6, 17, 33, 132, 136)  # TCP, UDP, DCCP, SCTP, UDP-Lite


def key_args(v, **over):
    """The key material flags of vector v; over replaces values (None drops)."""
    a = {"--suite": v["suite"], "--secret": v["shared_secret"], "--salt": v["salt"],
         "--src": v["src"], "--dst": v["dst"], "--protocol": str(v["protocol"]),
         "--kri": str(v["kri"])}
    if v["protocol"] in PORT_PROTOCOLS:
        a["--sport"] = str(v["sport"])
        a["--dport"] = str(v["dport"])
    for k, val in over.items():
        k = "--" + k
        if val is None:
            a.pop(k, None)
        else:
            a[k] = str(val)
    out = []
    for k, val in a.items():
        out += [k, val]
    return out


def opened_want(v, nh=None):
    """What decode prints for an opened option: the fields and their ns."""
    w = with_ns(dict(v["fields"], format="v2"))
    w.update({"format": "v2-encrypted", "rn": v["rn"], "f": v["f"], "kri": v["kri"],
              "auth": "ok"})
    if nh is not None:
        w["next_header"] = nh
    return w


def expect_auth_fail(what, *args):
    rc, out, err = run(*args)
    lines = err.splitlines()
    check(rc == 1 and out == "" and len(lines) == 1 and
          lines[0].startswith("pdm: option decode: authentication failed"),
          "%s: gave rc=%d out=%r err=%r, want rc=1, no output, authentication failed"
          % (what, rc, out, err))


for i, v in enumerate(vectors):
    name = "vector %d encrypted" % i
    fl = v["fields"]
    fargs = ["%s=%d" % (k, fl[k]) for k in FIELDS]
    args = ["encode", "--format", "v2-encrypted", "--rn", str(v["rn"])] + key_args(v) + fargs
    rc, out, err = run(*(args + ["--f", str(v["f"])]))
    check(rc == 0 and out == v["encrypted_option"] + "\n" and err == "",
          "%s: encode gave rc=%d out=%r err=%r, want %s" % (name, rc, out, err,
                                                            v["encrypted_option"]))
    rc, out, err = run(*(args + ["--next-header", str(v["protocol"])]))
    check(rc == 0 and out == v["encrypted_dest_opts_header"] + "\n",
          "%s header: encode gave rc=%d out=%r err=%r" % (name, rc, out, err))

    # Decode: opened, with "kri" and "auth":"ok".
    rc, out, err = run("decode", *(key_args(v) + [v["encrypted_option"]]))
    check(rc == 0 and err == "" and jload(out) == opened_want(v) and out.count("\n") == 1,
          "%s: decode gave rc=%d out=%r err=%r, want %s" % (name, rc, out, err, opened_want(v)))
    rc, out, err = run("decode", "--header", *(key_args(v) + [v["encrypted_dest_opts_header"]]))
    check(rc == 0 and jload(out) == opened_want(v, v["protocol"]),
          "%s: decode --header gave rc=%d out=%r err=%r" % (name, rc, out, err))
    # A receiver expecting an earlier Kri finds the option ahead (window).
    if v["kri"] >= 4:
        rc, out, err = run("decode", *(key_args(v, kri=v["kri"] - 4) + [v["encrypted_option"]]))
        check(rc == 0 and jload(out).get("kri") == v["kri"],
              "%s: decode from Kri - 4 gave rc=%d out=%r err=%r" % (name, rc, out, err))

    # Wrong key material: never a field, exit status 1.
    ss = bytearray.fromhex(v["shared_secret"])
    ss[0] ^= 1
    expect_auth_fail(name + " wrong secret", "decode",
                     *(key_args(v, secret=ss.hex()) + [v["encrypted_option"]]))
    salt = bytearray.fromhex(v["salt"])
    salt[31] ^= 0x80
    expect_auth_fail(name + " wrong salt", "decode",
                     *(key_args(v, salt=salt.hex()) + [v["encrypted_option"]]))
    rev = {"src": v["dst"], "dst": v["src"]}
    if v["protocol"] in PORT_PROTOCOLS:
        rev.update(sport=v["dport"], dport=v["sport"])
    expect_auth_fail(name + " other direction", "decode",
                     *(key_args(v, **rev) + [v["encrypted_option"]]))
    if v["kri"] + 18 <= 65535:
        expect_auth_fail(name + " Kri far behind", "decode",
                         *(key_args(v, kri=v["kri"] + 18) + [v["encrypted_option"]]))
    # Altered bytes: single-bit flips past the version nibble, a sample per
    # vector, every one for the first (tests/test_profile.c does all 288 for
    # all vectors in the library).
    opt = bytes.fromhex(v["encrypted_option"])
    for bit in range(20, 288) if i == 0 else (20, 31, 39, 40, 47, 48, 100, 160, 200, 287):
        bad = bytearray(opt)
        bad[bit // 8] ^= 0x80 >> (bit % 8)
        if ((bad[4] << 8 | bad[5]) >> 1) == 0:
            continue  # RN 0: malformed (exit 1 too), not an authentication question
        expect_auth_fail("%s bit %d flipped" % (name, bit), "decode",
                         *(key_args(v) + [bad.hex()]))

v = vectors[0]
# Without key material an encrypted option still decodes to its sealed bytes.
rc, out, _ = run("decode", v["encrypted_option"])
check(rc == 0 and "sealed" in jload(out) and "psntp" not in jload(out), "no key: %r" % out)
# Key material given with a clear option: the clear option is shown.
rc, out, _ = run("decode", *(key_args(v) + [v["unencrypted_option"]]))
check(rc == 0 and jload(out).get("format") == "v2" and "auth" not in jload(out),
      "key with clear option: %r" % out)
enc_args = ["encode", "--format", "v2-encrypted", "--rn", "5"]
expect_error("encrypted no key", 2, "give the key material", "encode", "--format",
             "v2-encrypted", "--rn", "5")
expect_error("encrypted no rn", 2, "needs --rn in 1..32767",
             *(["encode", "--format", "v2-encrypted"] + key_args(v)))
expect_error("encrypted rn 0", 2, "needs --rn in 1..32767",
             *(["encode", "--format", "v2-encrypted", "--rn", "0"] + key_args(v)))
expect_error("F not Kri parity", 2, "F is always Kri mod 2",
             *(enc_args + ["--f", "0"] + key_args(v)))
expect_error("key flag with v2", 2, "--secret is key material, only for --format v2-encrypted",
             *(["encode", "--format", "v2"] + key_args(v)))
expect_error("missing salt", 2, "key material needs --salt", *(enc_args + key_args(v, salt=None)))
expect_error("missing src", 2, "key material needs --src", "decode",
             *(key_args(v, src=None) + [v["encrypted_option"]]))
expect_error("short secret", 2, "--secret has 62 hex digits; 0020-0001-0001 needs 32 bytes",
             *(enc_args + key_args(v, secret=v["shared_secret"][:62])))
expect_error("secret for SHA-512", 2, "0020-0003-0001 needs 64 bytes",
             *(enc_args + key_args(v, suite="0020-0003-0001")))
expect_error("not hex secret", 2, "--secret is not hex",
             *(enc_args + key_args(v, secret="zz" * 32)))
expect_error("short salt", 2, "--salt has 2 hex digits; the salt needs 32 bytes",
             *(enc_args + key_args(v, salt="00")))
expect_error("bad suite", 2, "--suite '20-1-1' is not KEM-KDF-AEAD",
             *(enc_args + key_args(v, suite="20-1-1")))
expect_error("export-only suite", 2, "suite 0020-0001-ffff cannot carry PDM data",
             *(enc_args + key_args(v, suite="0020-0001-ffff")))
expect_error("unknown kem", 2, "suite 0099-0001-0001 cannot carry PDM data",
             *(enc_args + key_args(v, suite="0099-0001-0001")))
expect_error("bad src", 2, "--src 'fe80::g' is not an IPv6 address",
             *(enc_args + key_args(v, src="fe80::g")))
expect_error("kri range", 2, "--kri '65536' is not a number in 0..65535",
             *(enc_args + key_args(v, kri=65536)))
expect_error("ports for ICMPv6", 2, "protocol 58 has no ports",
             *(enc_args + key_args(v, protocol=58)))
expect_error("key flag twice", 2, "--salt given twice",
             *(enc_args + key_args(v) + ["--salt", v["salt"]]))
expect_error("key flag no value", 2, "--kri needs a value",
             *(enc_args + key_args(v, kri=None) + ["--kri"]))

# Cross-check with Scapy: the header parses as a Destination Options
# header holding our option, followed by the upper layer.
try:
    from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt
    from scapy.layers.inet import UDP
    scapy_error = None
except Exception as e:  # ImportError, or scapy failing as it loads
    scapy_error = e
check(scapy_error is None, "scapy: cannot import python3 scapy (%r); mk/deps.sh installs "
      "python3-scapy" % scapy_error)
if scapy_error is None:
    import struct
    for key, opt_key in (("rfc8250_dest_opts_header", "rfc8250_option"),
                         ("unencrypted_dest_opts_header", "unencrypted_option"),
                         ("encrypted_dest_opts_header", "encrypted_option")):
        hdr = bytearray.fromhex(v[key])
        hdr[0] = 17  # UDP follows, whatever the vector's protocol
        hdr = bytes(hdr)
        udp = struct.pack("!HHHH", 4242, 8250, 12, 0) + b"pdm!"
        raw = (struct.pack("!IHBB", 0x60000000, len(hdr) + len(udp), 60, 64)
               + bytes(15) + b"\x01" + bytes(15) + b"\x02" + hdr + udp)
        p = IPv6(raw)
        d = p.getlayer(IPv6ExtHdrDestOpt)
        opt = bytes.fromhex(v[opt_key])
        ok = d is not None and d.nh == 17 and len(d.options) >= 1
        if ok:
            o = d.options[0]
            ok = (o.otype == opt[0] and o.optlen == opt[1] and bytes(o.optdata) == opt[2:]
                  and p.haslayer(UDP) and p[UDP].sport == 4242 and p[UDP].dport == 8250)
        check(ok, "scapy: %s does not parse as DestOpt + UDP" % key)

finish()
PYEOF
