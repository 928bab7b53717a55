#!/bin/sh
# Integration test of `pdm vectors` (tools/dev/cmd_vectors.c): the two shipped
# vector files pass; then altered copies, made here with python3's json
# module, must fail exactly where they were altered. Changing one digit of
# an expected value gives exactly one failure line naming that file, vector
# and field with both values, and exit status 1; a truncated file, a file of
# neither format and a missing file are refused with a message; reordered
# or trimmed files still pass (the checker must work on any file of these
# formats, not only on the two it ships with). Numbers: an integer too big
# for jansson (above 2^63 - 1) refuses the file with a hint, the same value
# as a decimal string is read whole; reals and negatives fail their field;
# duplicate keys refuse the file. Usage errors exit 2 with one line.
#
#   sh tests/it_vectors.sh BUILD_DIR      (from the repository root)
#
# Ends with "RESULT <passed> <failed>" like the unit tests.
set -u
if [ $# -ne 1 ] || [ ! -x "$1/pdm" ]; then
    echo "usage: sh tests/it_vectors.sh BUILD_DIR (with BUILD_DIR/pdm built)" >&2
    echo "RESULT 0 1"
    exit 1
fi
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
# tests/itcheck.py: check(), run(), finish().
PYTHONPATH="$(dirname "$0")${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPATH
exec "$PY" - "$1/pdm" tests/vectors/hpke-rfc9180-appendix-a-vectors.json \
    tests/vectors/pdmv2-profile-vectors.json <<'PYEOF'
import copy
import json
import os
import re
import sys
import tempfile

from itcheck import check, finish, run as run_argv

PDM, RFC, PROFILE = sys.argv[1], sys.argv[2], sys.argv[3]
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$")


def run(*files):
    return run_argv([PDM, "vectors"] + list(files))


def summary(out):
    """(passed, failed) from the last line, or None."""
    lines = out.splitlines()
    m = SUMMARY.match(lines[-1]) if lines else None
    return (int(m.group(1)), int(m.group(2))) if m else None


tmp = tempfile.mkdtemp(prefix="pdm-vectors-")


def write(name, obj=None, text=None):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text if text is not None else json.dumps(obj))
    return path


rfc = json.load(open(RFC))
prof = json.load(open(PROFILE))

# The shipped files pass, alone and together.
totals = {}
for path in (RFC, PROFILE):
    rc, out, err = run(path)
    s = summary(out)
    check(rc == 0 and s is not None and s[0] > 0 and s[1] == 0 and err == "" and
          out.count("\n") == 1, "%s: rc=%d out=%r err=%r" % (path, rc, out[-300:], err))
    totals[path] = s[0] if s else 0
rc, out, err = run(RFC, PROFILE)
check(rc == 0 and summary(out) == (totals[RFC] + totals[PROFILE], 0), "both files: %r" % out)
# Every section and every vector is visited: a sanity floor on the counts.
check(totals[RFC] >= 28 * 10, "RFC 9180 checks: %d" % totals[RFC])
check(totals[PROFILE] >= len(prof["scaling"]) * 3 + len(prof["options"]) * 12 +
      len(prof["client_secrets"]) + len(prof["registrations"]) * 11,
      "profile checks: %d" % totals[PROFILE])


def flip_hex(s):
    """s with its last hex digit changed."""
    return s[:-1] + ("0" if s[-1] != "0" else "1")


def alter(doc, path):
    """A copy of doc with the value at path (list of keys/indexes) changed;
    returns (copy, old value, new value)."""
    d = copy.deepcopy(doc)
    node = d
    for k in path[:-1]:
        node = node[k]
    old = node[path[-1]]
    if isinstance(old, str) and re.fullmatch(r"[0-9a-f]+", old) and path[-1] not in (
            "attoseconds", "decoded_attoseconds"):
        new = flip_hex(old)
    elif isinstance(old, str):
        new = str(int(old) + 1)
    else:
        new = old + 1
    node[path[-1]] = new
    return d, old, new


def expect_one_failure(base, name, doc, path, section, index, field, total):
    d, old, new = alter(doc, path)
    f = write(name, d)
    rc, out, err = run(f)
    lines = out.splitlines()
    fails = lines[:-1]
    prefix = "%s: %s[%d]: %s: " % (f, section, index, field)
    ok = (rc == 1 and summary(out) == (total - 1, 1) and len(fails) == 1 and
          fails[0].startswith(prefix) and ("expected %s, got %s" % (new, old)) in fails[0])
    check(ok, "%s %s: rc=%d out=%r err=%r (want one failure %r)" % (base, path, rc, out[-600:],
                                                                     err, prefix))


# RFC 9180: one expected output at a time, across vectors and kinds.
rfc_fields = [
    ([0, "skRm"], "skRm"), ([1, "pkEm"], "pkEm"), ([2, "enc"], "enc"),
    ([3, "shared_secret"], "shared_secret"), ([5, "key_schedule_context"], "key_schedule_context"),
    ([7, "secret"], "secret"), ([8, "key"], "key"), ([9, "base_nonce"], "base_nonce"),
    ([10, "exporter_secret"], "exporter_secret"), ([11, "pkSm"], "pkSm"),
    ([27, "pkRm"], "pkRm"),
]
for path, field in rfc_fields:
    expect_one_failure("rfc9180", "rfc-%d-%s.json" % (path[0], field), rfc, path, "vectors",
                       path[0], field, totals[RFC])
# Inside the lists of encryptions and exports.
vi = next(i for i, v in enumerate(rfc) if len(v.get("encryptions", [])) > 3)
ei = len(rfc[vi]["encryptions"]) - 1
expect_one_failure("rfc9180", "rfc-ct.json", rfc, [vi, "encryptions", ei, "ct"], "vectors", vi,
                   "encryptions[%d].ct" % ei, totals[RFC])
expect_one_failure("rfc9180", "rfc-nonce.json", rfc, [vi, "encryptions", 1, "nonce"], "vectors",
                   vi, "encryptions[1].nonce", totals[RFC])
expect_one_failure("rfc9180", "rfc-export.json", rfc, [20, "exports", 1, "exported_value"],
                   "vectors", 20, "exports[1].exported_value", totals[RFC])

# Profile: every kind of expected value.
last = len(prof["options"]) - 1
prof_fields = [
    (["scaling", 3, "delta"], "scaling", 3, "delta"),
    (["scaling", 5, "scale"], "scaling", 5, "scale"),
    (["scaling", 7, "decoded_attoseconds"], "scaling", 7, "decoded_attoseconds"),
]
for i, key in enumerate(["flow_info", "prk", "stk", "base_nonce", "nonce", "encrypted_option",
                         "encrypted_dest_opts_header", "unencrypted_option",
                         "unencrypted_dest_opts_header", "rfc8250_option",
                         "rfc8250_dest_opts_header"]):
    idx = i % (last + 1)
    prof_fields.append((["options", idx, key], "options", idx, key))
prof_fields.append((["client_secrets", 2, "client_secret"], "client_secrets", 2, "client_secret"))
for i, key in enumerate(["skR", "pkR", "client_hello", "server_hello", "info", "enc", "client_key",
                         "shared_secret", "confirm", "status_ok"]):
    idx = i % len(prof["registrations"])
    prof_fields.append((["registrations", idx, key], "registrations", idx, key))
# pkS exists in the auth modes only.
ai = next(i for i, v in enumerate(prof["registrations"]) if v["mode"] in (2, 3))
prof_fields.append((["registrations", ai, "pkS"], "registrations", ai, "pkS"))
for path, section, idx, field in prof_fields:
    expect_one_failure("profile", "prof-%s-%d-%s.json" % (section, idx, field), prof, path,
                       section, idx, field, totals[PROFILE])

# An altered input: derived values fail, nothing crashes, exit status 1.
d, _, _ = alter(prof, ["options", 0, "kri"])
rc, out, err = run(write("prof-input.json", d))
s = summary(out)
check(rc == 1 and s is not None and s[1] >= 4 and
      all(l.startswith(os.path.join(tmp, "prof-input.json") + ": options[0]: ")
          for l in out.splitlines()[:-1]),
      "altered kri: rc=%d out=%r" % (rc, out[-400:]))
# F that is not Kri mod 2 is named.
d = copy.deepcopy(prof)
d["options"][0]["f"] ^= 1
rc, out, err = run(write("prof-f.json", d))
check(rc == 1 and "options[0]: f: " in out and "Kri mod 2" in out, "F parity: %r" % out[-400:])
# A missing expected value is a failure, not a crash.
d = copy.deepcopy(prof)
del d["options"][1]["stk"]
rc, out, err = run(write("prof-missing.json", d))
check(rc == 1 and summary(out) == (totals[PROFILE] - 1, 1) and
      "options[1]: stk: expected (missing or not hex), got " in out, "missing stk: %r" % out[-300:])

# Any file of the format: reordered, trimmed, sections alone, sequences
# in another order.
r2 = list(reversed(rfc))
for v in r2:
    if "encryptions" in v:
        v["encryptions"].reverse()
rc, out, err = run(write("rfc-reordered.json", r2))
check(rc == 0 and summary(out) == (totals[RFC], 0), "reordered RFC file: %r %r" % (out, err))
rc, out, err = run(write("rfc-one.json", rfc[5:6]))
s = summary(out)
check(rc == 0 and s is not None and 0 < s[0] < totals[RFC] and s[1] == 0, "one RFC vector: %r" % out)
n_sections = 0
for sec in ("scaling", "options", "client_secrets", "registrations"):
    rc, out, err = run(write("prof-%s.json" % sec, {sec: prof[sec]}))
    s = summary(out)
    check(rc == 0 and s is not None and s[0] > 0 and s[1] == 0, "section %s alone: %r" % (sec, out))
    n_sections += s[0] if s else 0
check(n_sections == totals[PROFILE], "sections add up: %d != %d" % (n_sections, totals[PROFILE]))
d = copy.deepcopy(prof)
d["options"] = d["options"][::-1]
rc, out, err = run(write("prof-reversed.json", d))
check(rc == 0 and summary(out) == (totals[PROFILE], 0), "reversed options: %r" % out)

# Files that cannot be checked.
text = open(PROFILE).read()
trunc = write("truncated.json", text=text[:len(text) // 2])
rc, out, err = run(trunc)
check(rc == 1 and err.startswith("pdm: vectors: " + trunc + ": ") and summary(out) == (0, 0),
      "truncated: rc=%d out=%r err=%r" % (rc, out, err))
other = write("other.json", {"hello": [1, 2]})
rc, out, err = run(other)
check(rc == 1 and "neither an array of RFC 9180 vectors nor a profile vector object" in err,
      "other format: rc=%d err=%r" % (rc, err))
rc, out, err = run(os.path.join(tmp, "does-not-exist.json"))
check(rc == 1 and err.startswith("pdm: vectors: ") and "does-not-exist.json" in err,
      "missing file: rc=%d err=%r" % (rc, err))

# Numbers. jansson holds integers in 64 signed bits and refuses a file
# with a larger one: pdm vectors says so (with a hint) rather than read a
# truncated value. Such values are read from decimal strings instead: here
# 2^64 - 1 ns, whose encoding a value cut to 2^63 - 1 would not give
# (scale 78, not 77). Reals and negatives in integer fields fail them;
# duplicate keys refuse the file.
def encode_as(a):
    """(delta, scale) of a attoseconds (profile section 2): the smallest
    scale whose delta fits in 16 bits, truncating."""
    scale = max(0, a.bit_length() - 16)
    return a >> scale, scale


check(all(encode_as(int(v["attoseconds"])) == (v["delta"], v["scale"]) for v in prof["scaling"]),
      "encode_as() disagrees with the shipped scaling vectors")
ns = 2**64 - 1
d_, s_ = encode_as(ns * 10**9)
big = {"nanoseconds": str(ns), "attoseconds": str(ns * 10**9), "delta": d_, "scale": s_,
       "decoded_attoseconds": str(d_ << s_)}
rc, out, err = run(write("prof-u64-string.json", {"scaling": [big]}))
check(rc == 0 and summary(out) == (3, 0) and err == "",
      "2^64 - 1 ns as a string: rc=%d out=%r err=%r" % (rc, out, err))
f = write("prof-u64-number.json", {"scaling": [dict(big, nanoseconds=ns)]})
rc, out, err = run(f)
check(rc == 1 and summary(out) == (0, 0) and
      err.startswith("pdm: vectors: %s: line 1, column " % f) and "too big integer" in err and
      "as decimal strings" in err and err.count("\n") == 1,
      "2^64 - 1 ns as a number: rc=%d out=%r err=%r" % (rc, out, err))
d = copy.deepcopy(prof)
d["scaling"][3]["delta"] = float(d["scaling"][3]["delta"])
rc, out, err = run(write("prof-real.json", d))
check(rc == 1 and summary(out) == (totals[PROFILE] - 1, 1) and
      "scaling[3]: delta: expected value missing or not an integer, got " in out,
      "real delta: rc=%d out=%r" % (rc, out[-300:]))
d = copy.deepcopy(prof)
d["options"][0]["sport"] = -1
rc, out, err = run(write("prof-negative.json", d))
check(rc == 1 and "options[0]: inputs: input " in out, "negative sport: %r" % out[-300:])
f = write("prof-dup.json", text='{"scaling": [{"nanoseconds": 0, "delta": 0, "delta": 1, '
          '"scale": 0}]}')
rc, out, err = run(f)
check(rc == 1 and summary(out) == (0, 0) and "duplicate object key" in err,
      "duplicate key: rc=%d out=%r err=%r" % (rc, out, err))

# A bad file among good ones: the good ones are still checked.
rc, out, err = run(RFC, trunc)
check(rc == 1 and summary(out) == (totals[RFC], 0) and trunc in err, "good + bad: %r" % out)
# Usage.
rc, out, err = run()
check(rc == 2 and out == "" and err.startswith("usage: pdm vectors"), "no file: %r" % err)
for h in ("--help", "-h"):
    rc, out, err = run(h)
    check(rc == 0 and out.startswith("usage: pdm vectors") and err == "", "%s: %r" % (h, out))
rc, out, err = run("--bogus", RFC)
check(rc == 2 and out == "" and err == "pdm: vectors: unknown option '--bogus' (see 'pdm vectors "
      "--help')\n", "unknown flag: rc=%d out=%r err=%r" % (rc, out, err))

for f in os.listdir(tmp):
    os.unlink(os.path.join(tmp, f))
os.rmdir(tmp)
finish()
PYEOF
