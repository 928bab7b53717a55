#!/bin/sh
# End-to-end test of registration (docs/profile.md §4): `pdm registrar` and
# `pdm register` over loopback (::1 and 127.0.0.1 only, ports chosen by the
# kernel), plus raw clients that misbehave.
#
#  - all four modes with X25519 and P-256 keys: both sides end with the same
#    key-log line and the same stored secret;
#  - a wrong pin, an unknown PSK id, a wrong PSK, an unknown client key:
#    exit status 1 with a clear message, nothing stored by either side (for
#    the wrong PSK the server learns it only from the client's refusal after
#    Status OK: docs/decisions.md D14);
#  - truncated, oversized, garbage, wrong-version and slow (one byte a
#    second, --timeout 2s) clients get Status(MALFORMED / VERSION) or a
#    timeout and leave nothing stored, while a legitimate client is served
#    meanwhile;
#  - BUSY from --max-conns and --rate, SIGHUP reload of a PSK, SIGTERM stop,
#    trust on first use, key-file permission checks, the secret subcommands;
#  - the command lines: --help on stdout, each usage error one line and
#    exit 2 (before any connection), --name=VALUE and abbreviations.
#
#   sh tests/it_registration.sh BUILD_DIR      (from the repository root)
#
# Ends with "RESULT <passed> <failed>".
set -u
if [ $# -lt 1 ] || [ ! -x "$1/pdm" ]; then
    echo "usage: sh tests/it_registration.sh BUILD_DIR (with BUILD_DIR/pdm built)" >&2
    echo "RESULT 0 1"
    exit 1
fi
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
exec "$PY" - "$1/pdm" <<'PYEOF'
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

PDM = os.path.abspath(sys.argv[1])
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL", what, file=sys.stderr)
    return ok


def run(*args, stdin=None):
    p = subprocess.run([PDM] + list(args), input=stdin, capture_output=True, text=True,
                       timeout=30)
    return p.returncode, p.stdout, p.stderr


class Registrar:
    """A `pdm registrar` child; its log lines are collected by a thread."""

    def __init__(self, *args, listen="[::1]:0"):
        self.p = subprocess.Popen([PDM, "registrar", "--listen", listen] + list(args),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.eof = False  # the reader thread has read all the child wrote
        self.cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        m = self.wait(r"listening on (\[[^\]]*\]|[0-9.]+):(\d+)", 5)
        if not m:
            raise RuntimeError("registrar did not start: %s" % self.lines)
        self.host = m.group(1).strip("[]")
        self.port = int(m.group(2))
        self.addr = ("[%s]:%d" if ":" in self.host else "%s:%d") % (self.host, self.port)

    def _read(self):
        for line in self.p.stderr:
            with self.cv:
                self.lines.append(line.rstrip("\n"))
                self.cv.notify_all()
        with self.cv:
            self.eof = True
            self.cv.notify_all()

    def wait(self, pattern, timeout=5.0, start=0):
        end = time.time() + timeout
        rx = re.compile(pattern)
        with self.cv:
            while True:
                for line in self.lines[start:]:
                    m = rx.search(line)
                    if m:
                        return m
                left = end - time.time()
                # Past the deadline, or the child exited and every line it
                # wrote has been read: the pattern will not come.
                if left <= 0 or self.eof:
                    return None
                self.cv.wait(min(left, 0.1))

    def mark(self):
        with self.cv:
            return len(self.lines)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return -1


def keygen(d, name, kem):
    path = os.path.join(d, name)
    rc, _, err = run("keygen", "--kem", kem, "--out", path)
    assert rc == 0, err
    rc, pub, err = run("pubkey", path)
    assert rc == 0, err
    return path, pub.strip()


def write_secret_file(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, text.encode())
    os.close(fd)


def lines_of(path):
    try:
        with open(path) as f:
            return [l.strip() for l in f if l.strip() and not l.startswith("#")]
    except FileNotFoundError:
        return []


def store_state(d):
    """Names and contents of a store's secret files."""
    out = {}
    if os.path.isdir(d):
        for n in sorted(os.listdir(d)):
            if n.startswith(("secret-", "primary-")):
                with open(os.path.join(d, n)) as f:
                    out[n] = f.read()
    return out


def raw(addr, data, read=True, timeout=5.0, want=None):
    """Sends data on a fresh connection; returns (reply bytes, seconds). Reads
    until the server closes, or until `want` bytes came."""
    host, port = addr
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    s.settimeout(timeout)
    t0 = time.time()
    s.connect((host, port))
    s.sendall(data)
    reply = b""
    if read:
        try:
            while True:
                b = s.recv(4096)
                if not b:
                    break
                reply += b
                if want is not None and len(reply) >= want:
                    break
        except (socket.timeout, ConnectionResetError):
            pass
    s.close()
    return reply, time.time() - t0


def status(code):
    return bytes([4, 0, 1, code])


def client_hello(mode=0, suites=((0x20, 1, 1),), version=1):
    body = bytes([version, mode, len(suites)])
    for k, d, a in suites:
        body += struct.pack(">HHH", k, d, a)
    return bytes([1]) + struct.pack(">H", len(body)) + body


tmp = tempfile.mkdtemp(prefix="pdm-it-reg-")
os.chdir(tmp)
S, C = os.path.join(tmp, "srv-store"), os.path.join(tmp, "cli-store")
SK, CK = os.path.join(tmp, "srv.keylog"), os.path.join(tmp, "cli.keylog")

srv_x, pub_x = keygen(tmp, "srv-x25519.key", "x25519")
srv_p, pub_p = keygen(tmp, "srv-p256.key", "p256")
cli_x, cpub_x = keygen(tmp, "cli-x25519.key", "x25519")
cli_p, cpub_p = keygen(tmp, "cli-p256.key", "p256")
other_x, opub_x = keygen(tmp, "other.key", "x25519")
check(oct(os.stat(srv_x).st_mode & 0o777) == "0o600", "keygen --out creates mode 0600")
check(pub_x.startswith("x25519:") and len(pub_x) == 7 + 64, "pubkey prints x25519:HEX")
check(pub_p.startswith("p256:04") and len(pub_p) == 5 + 130, "pubkey prints p256:04...")
psk = os.path.join(tmp, "site-1.psk")
write_secret_file(psk, os.urandom(32).hex() + "\n")
wrong_psk = os.path.join(tmp, "wrong.psk")
write_secret_file(wrong_psk, os.urandom(32).hex() + "\n")
auth = os.path.join(tmp, "authorized_keys")
with open(auth, "w") as f:
    f.write("# clients\n%s alice\n%s bob\n" % (cpub_x, cpub_p))

# ---- permission checks ---------------------------------------------------------
loose = os.path.join(tmp, "loose.key")
with open(loose, "w") as f:
    f.write(open(srv_x).read())
os.chmod(loose, 0o644)
rc, _, err = run("registrar", "--listen", "[::1]:0", "--key", loose)
check(rc == 1 and "chmod 600" in err, "registrar refuses a key file others can read: " + err)
rc, _, err = run("pubkey", loose)
check(rc == 1 and "mode 0644" in err, "pubkey refuses a key file others can read")

reg = Registrar("--key", srv_x, "--key", srv_p, "--psk", "site-1:" + psk,
                "--authorized-keys", auth, "--modes", "base,psk,auth,auth_psk",
                "--store", S, "--keylog", SK, "--timeout", "2s", "--rate", "0",
                "--lifetime", "1h")
check(oct(os.stat(S).st_mode & 0o777) == "0o700", "store directory is mode 0700")
ADDR = reg.addr

# ---- all four modes, X25519 and P-256 ------------------------------------------
for kem, pin, ckey in (("x25519", pub_x, cli_x), ("p256", pub_p, cli_p)):
    for mode in ("base", "psk", "auth", "auth_psk"):
        args = ["register", "--server", ADDR, "--pin", pin, "--store", C, "--keylog", CK]
        if "psk" in mode:
            args += ["--psk", "site-1:" + psk]
        if mode.startswith("auth"):
            args += ["--key", ckey]
        mark = reg.mark()
        rc, out, err = run(*args)
        ok = check(rc == 0, "register %s %s: %s" % (kem, mode, err.strip()))
        m = reg.wait(r"registered mode=(\S+) suite=(\S+)", 3, mark)
        check(m is not None and m.group(1) == mode, "registrar logs %s %s" % (kem, mode))
        want_kem = "0020" if kem == "x25519" else "0010"
        cl, sl = lines_of(CK), lines_of(SK)
        if ok and cl and sl:
            check(cl[-1] == sl[-1], "same key-log line both sides, %s %s" % (kem, mode))
            f = cl[-1].split()
            check(f[0] == "PDMV2_SECRET" and f[1] == "::1" and f[2] == "::1"
                  and f[3].startswith(want_kem) and len(f[4]) == 64 and len(f[5]) == 64,
                  "key-log line shape %s %s: %s" % (kem, mode, cl[-1]))
        if mode.startswith("auth") and m:
            check(reg.wait(r"client_key=%s" % ("alice" if kem == "x25519" else "bob"), 1, mark)
                  is not None, "registrar names the client key")
def keyline(rec):
    return [l for l in rec.split("\n") if l.startswith("PDMV2_")]


cs, ss = store_state(C), store_state(S)
check(len(cs) == 1 and len(ss) == 1 and list(cs) == list(ss)
      and keyline(list(cs.values())[0]) == keyline(list(ss.values())[0]),
      "client and server stores hold the same secret")
check(all(oct(os.stat(os.path.join(S, n)).st_mode & 0o777) == "0o600" for n in ss),
      "stored secret files are mode 0600")
check(oct(os.stat(SK).st_mode & 0o777) == "0o600", "key log is mode 0600")

# A --print run: the record on standard output matches the server's line.
mark = reg.mark()
rc, out, err = run("register", "--server", ADDR, "--pin", pub_x, "--print")
reg.wait(r"registered", 3, mark)
check(rc == 0 and lines_of(SK)[-1] in out, "--print prints the record")

# IPv4 loopback.
reg4 = Registrar("--key", srv_x, "--rate", "0", "--keylog", SK + "4", listen="127.0.0.1:0")
mark4 = reg4.mark()
rc, out, err = run("register", "--server", reg4.addr, "--pin", pub_x, "--keylog", CK + "4")
reg4.wait(r"registered", 3, mark4)  # the server keeps the secret once the client closes
check(rc == 0 and lines_of(CK + "4") == lines_of(SK + "4")
      and "::ffff:127.0.0.1" in lines_of(CK + "4")[0], "IPv4 registration: " + err)
reg4.stop()


def nothing_new(before_c, before_s, what):
    check(store_state(C) == before_c[0] and lines_of(CK) == before_c[1],
          what + ": client stored nothing")
    if before_s is not None:
        check(store_state(S) == before_s[0] and lines_of(SK) == before_s[1],
              what + ": server stored nothing")


def snap():
    return (store_state(C), lines_of(CK)), (store_state(S), lines_of(SK))


# ---- refusals ------------------------------------------------------------------
bc, bs = snap()
rc, _, err = run("register", "--server", ADDR, "--pin", opub_x, "--store", C, "--keylog", CK)
check(rc == 1 and "pinned" in err, "wrong pin fails clearly: " + err.strip())
nothing_new(bc, bs, "wrong pin")

mark = reg.mark()
rc, _, err = run("register", "--server", ADDR, "--pin", pub_x, "--psk", "nobody:" + psk,
                 "--store", C, "--keylog", CK)
check(rc == 1 and "UNAUTHORIZED" in err, "unknown PSK id: " + err.strip())
check(reg.wait(r"refused: UNAUTHORIZED \(unknown PSK id\)", 2, mark) is not None,
      "registrar logs the unknown PSK id")
nothing_new(bc, bs, "unknown PSK id")

mark = reg.mark()
rc, _, err = run("register", "--server", ADDR, "--pin", pub_x, "--psk", "site-1:" + wrong_psk,
                 "--store", C, "--keylog", CK)
check(rc == 1 and "Confirm mismatch" in err, "wrong PSK: " + err.strip())
check(reg.wait(r"the client refused the registration \(Confirm mismatch\): nothing kept", 3,
               mark) is not None, "registrar learns of the client's Confirm mismatch")
nothing_new(bc, bs, "wrong PSK")

mark = reg.mark()
rc, _, err = run("register", "--server", ADDR, "--pin", pub_x, "--key", other_x,
                 "--store", C, "--keylog", CK)
check(rc == 1 and "UNAUTHORIZED" in err, "unknown client key: " + err.strip())
check(reg.wait(r"unknown client key", 2, mark) is not None, "registrar logs the unknown key")
nothing_new(bc, bs, "unknown client key")

A = ("::1", reg.port)
hello = client_hello()
mark = reg.mark()
reply, _ = raw(A, hello[:5])  # half a ClientHello, then our side closes... after reading
check(reply == b"", "truncated hello: no reply before the timeout")
check(reg.wait(r"timeout waiting for its ClientHello", 3, mark) is not None,
      "truncated hello: registrar times out")
reply, _ = raw(A, b"\x01\x10\x00" + b"\x00" * 8)
check(reply == status(2), "oversized message: Status(MALFORMED), got %r" % reply)
reply, _ = raw(A, bytes(range(0xF0, 0x100)))
check(reply == status(2), "garbage: Status(MALFORMED), got %r" % reply)
reply, _ = raw(A, client_hello(version=2))
check(reply == status(6), "version 2: Status(VERSION), got %r" % reply)
reply, _ = raw(A, client_hello(suites=((0x11, 2, 2),)))
check(reply == status(1), "P-384 only: Status(NO_COMMON_SUITE), got %r" % reply)
reply, _ = raw(A, client_hello(mode=5))
check(reply == status(2), "mode 5: Status(MALFORMED), got %r" % reply)
# A ServerHello, then a ClientKey whose Enc is all zeros (an X25519 low-order
# point): decapsulation fails.
sh_len = 3 + 8 + 32
ck = bytes([3]) + struct.pack(">H", 2 + 32 + 32) + struct.pack(">H", 32) + bytes(64)
reply, _ = raw(A, hello + ck)
check(len(reply) == sh_len + 4 and reply[sh_len:] == status(3),
      "zero Enc: Status(UNAUTHORIZED), got %r" % reply[sh_len:])
nothing_new(bc, bs, "malformed clients")

# The slow client: one byte a second of a valid hello; the 2 s per-message
# timeout closes it without a Status, and a legitimate client is served
# meanwhile.
slow = {}


def slow_client():
    s = socket.socket(socket.AF_INET6)
    s.settimeout(8)
    s.connect(A)
    t0 = time.time()
    data = b""
    try:
        for b in hello:
            s.send(bytes([b]))
            time.sleep(1.0)
    except OSError:
        pass
    try:
        data = s.recv(100)
    except OSError:
        data = b"<error>"
    slow["reply"], slow["t"] = data, time.time() - t0
    s.close()


mark = reg.mark()
th = threading.Thread(target=slow_client)
th.start()
time.sleep(0.3)
t0 = time.time()
rc, _, err = run("register", "--server", ADDR, "--pin", pub_x, "--keylog", CK)
dt = time.time() - t0
check(rc == 0 and dt < 1.5, "served while a slow client is pending (%.2fs)" % dt)
reg.wait(r"registered", 3, mark)
check(lines_of(CK)[-1] == lines_of(SK)[-1], "the concurrent registration agrees")
th.join()
check(slow.get("reply") == b"", "slow client: closed without a Status (%r)" % slow.get("reply"))
check(reg.wait(r"timeout waiting for its ClientHello", 3, mark) is not None,
      "slow client: registrar logs the timeout")
check(1.5 < slow.get("t", 0) < 5, "slow client closed after about 2 s (%.2fs)" % slow.get("t", 0))
bc, bs = snap()

# ---- SIGHUP: a new PSK value is picked up ---------------------------------------
new_psk = os.urandom(32).hex()
write_secret_file(psk, new_psk + "\n")
mark = reg.mark()
reg.p.send_signal(signal.SIGHUP)
check(reg.wait(r"reloaded: 1 PSKs, 2 authorized keys", 3, mark) is not None, "SIGHUP reloads")
mark = reg.mark()
rc, _, err = run("register", "--server", ADDR, "--pin", pub_x, "--psk", "site-1:" + psk,
                 "--keylog", CK)
reg.wait(r"registered", 3, mark)
check(rc == 0 and lines_of(CK)[-1] == lines_of(SK)[-1], "registration with the reloaded PSK")
os.chmod(psk, 0o644)
mark = reg.mark()
reg.p.send_signal(signal.SIGHUP)
check(reg.wait(r"reload failed, keeping the old credentials: .*chmod 600", 3, mark) is not None,
      "a failed reload keeps the old set and says why")
os.chmod(psk, 0o600)
rc, _, _ = run("register", "--server", ADDR, "--pin", pub_x, "--psk", "site-1:" + psk,
               "--keylog", CK)
check(rc == 0, "the old set still serves")

# ---- trust on first use ---------------------------------------------------------
T = os.path.join(tmp, "tofu-store")
rc, _, err = run("register", "--server", ADDR, "--tofu", "--store", T)
check(rc == 0 and "recorded" in err, "tofu: first use records the key")
known = open(os.path.join(T, "known_servers")).read()
check(pub_x in known or pub_p in known, "tofu: known_servers holds the registrar's key")
rc, _, err = run("register", "--server", ADDR, "--tofu", "--store", T)
check(rc == 0 and "recorded" not in err, "tofu: second use pins the recorded key")
with open(os.path.join(T, "known_servers"), "w") as f:
    f.write("::1 %d %s\n" % (reg.port, opub_x))
before = store_state(T)
rc, _, err = run("register", "--server", ADDR, "--tofu", "--store", T)
check(rc == 1 and "differs from the one recorded" in err, "tofu: a changed key fails: " + err)
check(store_state(T) == before, "tofu: nothing stored on a changed key")
rc, _, err = run("register", "--server", ADDR)
check(rc == 2 and "--pin" in err, "no pin and no --tofu is a usage error")

# ---- BUSY: --max-conns and --rate ----------------------------------------------
regb = Registrar("--key", srv_x, "--max-conns", "1", "--rate", "0", "--timeout", "3s")
idle = socket.socket(socket.AF_INET6)
idle.connect(("::1", regb.port))
time.sleep(0.2)
reply, _ = raw(("::1", regb.port), hello)
check(reply == status(4), "max-conns: Status(BUSY), got %r" % reply)
idle.close()
regb.stop()
regr = Registrar("--key", srv_x, "--rate", "2", "--keylog", os.path.join(tmp, "r.keylog"))
codes = []
for i in range(4):
    reply, _ = raw(("::1", regr.port), hello, want=4)
    codes.append(reply[:3] == b"\x02\x00\x28" and "hello" or reply == status(4) and "busy")
check(codes[:2] == ["hello", "hello"] and "busy" in codes[2:], "rate 2/s: BUSY after 2: %s" % codes)
regr.stop()

# ---- the secret subcommands over the stores ------------------------------------
rc, out, _ = run("secret", "list", "--store", S)
check(rc == 0 and "secret  ::1/128 ::1/128" in out, "secret list")
rc, out, _ = run("secret", "export", "--store", C, "--client", "::1", "--server", "::1")
check(rc == 0 and keyline(out) == keyline(list(store_state(C).values())[0]), "secret export")
rk, rpub = keygen(tmp, "recipient.key", "p256")
rc, sealed, _ = run("secret", "seal", "--to", rpub, stdin=out)
check(rc == 0 and sealed.startswith("PDMV2_SEALED 0010-0001-0001 ")
      and out.split("\n")[1].split()[-1] not in sealed, "seal hides the secret")
rc, opened, _ = run("secret", "open", "--key", rk, stdin=sealed)
check(rc == 0 and opened == out, "open gives the record back")
rc, _, err = run("secret", "open", "--key", other_x, stdin=sealed)
check(rc == 1 and "sealed to a p256 key" in err, "open with another key's KEM fails")
P = os.path.join(tmp, "primary-store")
rc, _, err = run("secret", "import", "--store", P, "--primary", "fd00::/16", stdin=out)
check(rc == 0, "import --primary: " + err)
rc, d1, _ = run("secret", "derive", "--store", P, "--client", "fd00::1234")
rc2, d2, _ = run("secret", "export", "--store", P, "--client", "fd00::1234", "--server", "::1")
check(rc == 0 and rc2 == 0 and d1 == d2 and "PDMV2_SECRET fd00::1234 ::1" in d1,
      "derive and store lookup agree on ClientSecret")
rc, _, err = run("secret", "derive", "--store", P, "--client", "fe80::1")
check(rc == 1 and "no unexpired primary" in err, "derive outside the prefix fails")

# ---- the command lines: getopt_long, one-line usage errors ----------------------
for cmd in ("registrar", "register", "keygen", "pubkey", "secret"):
    rc, out, err = run(cmd, "--help")
    check(rc == 0 and out.startswith("usage: pdm " + cmd) and err == "",
          "%s --help: usage on stdout, exit 0" % cmd)
mark = reg.mark()
for args, want in ((("registrar", "--key", srv_x, "--bogus"),
                    "unknown option '--bogus'"),
                   (("registrar", "--key"), "--key needs a value"),
                   (("registrar", "--key", srv_x, "--sync=yes"), "--sync takes no value"),
                   (("registrar", "--key", srv_x, "stray"), "unexpected argument 'stray'"),
                   (("registrar", "--key", srv_x, "--rate", "x"), "--rate x: want 0..1000000"),
                   (("register", "--server", ADDR, "--pin", pub_x, "--print", "-z"),
                    "unknown option '-z'"),
                   (("register", "--server", ADDR, "--pin", pub_x, "--print",
                     "--client-addr", "nowhere"), "--client-addr nowhere: not an address"),
                   (("keygen", "--kem", "p999"), "unknown KEM 'p999'"),
                   (("pubkey", srv_x, srv_p), "unexpected argument"),
                   (("secret", "seal", "--to", rpub, "--store", S), "option '--store'"),
                   (("secret",), "a command is required"),
                   (("secret", "frobnicate"), "unknown command 'frobnicate'")):
    rc, out, err = run(*args)
    lines = err.splitlines()
    check(rc == 2 and len(lines) == 1 and lines[0].startswith("pdm: " + args[0]) and want in err
          and out == "", "usage error %s: %r" % (" ".join(args[:2]), err))
check(reg.wait(r"#\d+ ", 0.3, mark) is None,
      "a register usage error never reaches the registrar: %s" % reg.lines[mark:])
# --name=VALUE and unambiguous abbreviations are the same options.
rc, out, err = run("register", "--server=" + ADDR, "--pin=" + pub_x, "--prin")
check(rc == 0 and "PDMV2_SECRET" in out, "--name=VALUE and abbreviations: " + err.strip())
rc, out, _ = run("secret", "list", "--store=" + S)
check(rc == 0 and "secret  ::1/128 ::1/128" in out, "secret list --store=DIR")

# ---- stop ----------------------------------------------------------------------
mark = reg.mark()
rc = reg.stop()
check(rc == 0 and reg.wait(r"stopped: \d+ registered", 2, mark) is not None,
      "SIGTERM stops cleanly (exit %s)" % rc)

subprocess.run(["rm", "-rf", tmp])
print("RESULT %d %d" % (passed, failed))
sys.exit(1 if failed else 0)
PYEOF
