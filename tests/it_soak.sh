#!/bin/sh
# Soak test of the registrar (issue 13 item 5): 1,000 slow connections
# (half send one byte every 2 s, half send nothing), from 1,000 distinct
# loopback addresses 127.0.x.y so the per-address --rate bucket does not
# hide the effect, then a legitimate `pdm register` must complete within
# 2 s; the registrar stays up and every slow connection is closed by it
# (its --timeout) by the end.
#
#   sh tests/it_soak.sh BUILD_DIR      (from the repository root)
#
# Prints the figures (connections held, register latency) and ends with
# "RESULT <passed> <failed> [<skipped>]". Bounded: about 15 s.
set -u
if [ $# -lt 1 ] || [ ! -x "$1/pdm" ]; then
    echo "usage: sh tests/it_soak.sh BUILD_DIR (with BUILD_DIR/pdm built)" >&2
    echo "RESULT 0 1"
    exit 1
fi
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
exec timeout 60 "$PY" - "$1/pdm" <<'PYEOF'
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

PDM = os.path.abspath(sys.argv[1])
N = 1000
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL", what, file=sys.stderr)
    return ok


soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = 4 * N
if hard != resource.RLIM_INFINITY and hard < want:
    print("SKIP RLIMIT_NOFILE hard limit %d < %d" % (hard, want))
    print("RESULT 0 0 1")
    sys.exit(0)
resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

tmp = tempfile.mkdtemp(prefix="pdm-it-soak-")
key = os.path.join(tmp, "srv.key")
r = subprocess.run([PDM, "keygen", "--kem", "x25519", "--out", key], capture_output=True, text=True)
pub = subprocess.run([PDM, "pubkey", key], capture_output=True, text=True).stdout.strip()
# The child inherits the raised RLIMIT_NOFILE.
reg = subprocess.Popen([PDM, "registrar", "--listen", "127.0.0.1:0", "--key", key, "--store",
                        os.path.join(tmp, "srv-store"), "--timeout", "5s"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
lines = []
got = threading.Event()


def reader():
    for line in reg.stderr:
        lines.append(line.rstrip("\n"))
        got.set()


threading.Thread(target=reader, daemon=True).start()
port = None
end = time.time() + 5
while time.time() < end and port is None:
    got.wait(0.1)
    for l in lines:
        m = re.search(r"listening on [0-9.]+:(\d+)", l)
        if m:
            port = int(m.group(1))
if not check(port is not None, "registrar starts: %s" % lines):
    reg.kill()
    print("RESULT %d %d" % (passed, failed))
    sys.exit(1)

slow = []
t0 = time.time()
for i in range(N):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.%d.%d" % (2 + i // 250, 1 + i % 250), 0))
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    slow.append(s)
time.sleep(0.5)
open_fds = len(os.listdir("/proc/%d/fd" % reg.pid))
print("soak: %d slow connections opened in %.2f s; registrar holds %d fds" %
      (N, time.time() - t0, open_fds))


def drip(stop):
    # Half the connections send one byte (a ClientHello's type) every 2 s.
    while not stop.is_set():
        for s in slow[::2]:
            try:
                s.send(b"\x01")
            except OSError:
                pass
        stop.wait(2)


stop = threading.Event()
threading.Thread(target=drip, args=(stop,), daemon=True).start()
# The registrar evicts only handshakes idle for 1 s or more.
time.sleep(1.2)

t1 = time.time()
p = subprocess.run([PDM, "register", "--server", "127.0.0.1:%d" % port, "--pin", pub,
                    "--store", os.path.join(tmp, "cli-store"), "--timeout", "5s"],
                   capture_output=True, text=True, timeout=20)
lat = time.time() - t1
print("soak: legitimate pdm register under %d slow connections: rc=%d in %.3f s" %
      (N, p.returncode, lat))
check(p.returncode == 0, "register under soak succeeds: %s" % p.stderr.strip())
check(lat < 2.0, "register under soak within 2 s (took %.3f s)" % lat)
check(reg.poll() is None, "registrar still up after the soak")

# The registrar closes the slow ones at its --timeout (5 s): wait up to 8 s.
stop.set()
end = time.time() + 8
left = N
while time.time() < end:
    left = 0
    for s in slow:
        try:
            s.setblocking(False)
            b = s.recv(64)
            if b == b"":
                continue
            left += 1
        except BlockingIOError:
            left += 1
        except OSError:
            continue
    if left == 0:
        break
    time.sleep(0.5)
print("soak: %d of %d slow connections still open after the registrar's timeout" % (left, N))
check(left == 0, "registrar closed every slow connection (%d left)" % left)
for s in slow:
    s.close()
time.sleep(0.3)
check(reg.poll() is None, "registrar still up at the end")
reg.send_signal(signal.SIGTERM)
try:
    reg.wait(5)
except subprocess.TimeoutExpired:
    reg.kill()
shutil.rmtree(tmp, ignore_errors=True)
print("RESULT %d %d" % (passed, failed))
sys.exit(1 if failed else 0)
PYEOF
