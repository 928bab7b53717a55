#!/bin/sh
# The HTML report of `pdm analyze --report` (tools/analyze/html.c) renders
# in a real browser: headless Chromium (Debian package chromium) takes a
# screenshot of the report of a simulated encrypted PDMv2 flow (from
# `BUILD/tests/test_analyze --emit`), and the PNG must show the plots: many
# pixels in each plot colour (server delay #1f77b4, client delay #ff7f0e,
# round-trip delay #2ca02c; the colours tools/analyze/html.c draws with), with
# the bars of each histogram and the points of each time series, and the
# page must not be blank. The browser runs with the network and every
# background service off: the page needs nothing but itself.
#
#   sh tests/it_report_chromium.sh BUILD_DIR      (from the repository root)
#
# Ends with "RESULT <passed> <failed>". Fails (does not skip) when chromium
# or python3-pil is missing: `make check` installs them.
set -u
if [ $# -ne 1 ] || [ ! -x "$1/pdm" ] || [ ! -x "$1/tests/test_analyze" ]; then
    echo "usage: sh tests/it_report_chromium.sh BUILD_DIR (with pdm and tests/test_analyze built)" >&2
    echo "RESULT 0 1"
    exit 1
fi
B=$(cd "$1" && pwd)
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
    echo "chromium not found (Debian package chromium)" >&2
    echo "RESULT 0 1"
    exit 1
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/pdm-it-report.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() {
    echo "FAIL $1" >&2
    echo "RESULT 0 1"
    exit 1
}
"$B/tests/test_analyze" --emit "$dir" >/dev/null || fail "test_analyze --emit"
"$B/pdm" analyze --keylog "$dir/enc.keys" --report "$dir/report.html" "$dir/enc.pcap" \
    >/dev/null || fail "pdm analyze --report"
mkdir "$dir/profile"
# --no-sandbox: tests run as root, where Chromium's sandbox cannot start.
timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$dir/profile" --screenshot="$dir/shot.png" --window-size=1200,1600 \
    "file://$dir/report.html" >"$dir/chromium.log" 2>&1
[ -s "$dir/shot.png" ] || {
    tail -n 5 "$dir/chromium.log" >&2
    fail "no screenshot"
}
[ -n "${KEEP_SCREENSHOT:-}" ] && cp "$dir/shot.png" "$KEEP_SCREENSHOT"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
"$PY" - "$dir/shot.png" <<'PYEOF'
import sys

passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL " + what, file=sys.stderr)


try:
    from PIL import Image
except ImportError:
    print("python3-pil is not installed (Debian package python3-pil)", file=sys.stderr)
    print("RESULT 0 1")
    sys.exit(1)

img = Image.open(sys.argv[1]).convert("RGB")
W, H = img.size
check((W, H) == (1200, 1600), "screenshot size %dx%d" % (W, H))
px = img.load()
colours = {"server delay": (0x1f, 0x77, 0xb4), "client delay": (0xff, 0x7f, 0x0e),
           "round trip": (0x2c, 0xa0, 0x2c)}


def near(a, b, tol=12):
    return all(abs(x - y) <= tol for x, y in zip(a, b))


count = {k: 0 for k in colours}
left = {k: 0 for k in colours}   # pixels in the left half: time series
right = {k: 0 for k in colours}  # right half: histograms
rows = {k: set() for k in colours}
nonwhite = 0
for y in range(H):
    for x in range(W):
        p = px[x, y]
        if p[0] < 245 or p[1] < 245 or p[2] < 245:
            nonwhite += 1
        for k, c in colours.items():
            if near(p, c):
                count[k] += 1
                rows[k].add(y)
                if x < 640:
                    left[k] += 1
                else:
                    right[k] += 1
                break
check(nonwhite > 0.05 * W * H, "page not blank: %d non-white pixels" % nonwhite)
for k in colours:
    # A histogram's bars alone cover thousands of pixels; a time series of
    # 2000 points (3x3 squares) as many.
    check(count[k] > 3000, "%s: %d pixels in its colour" % (k, count[k]))
    check(left[k] > 500, "%s time series: %d pixels" % (k, left[k]))
    check(right[k] > 500, "%s histogram: %d pixels" % (k, right[k]))
    check(len(rows[k]) > 40, "%s spans %d rows" % (k, len(rows[k])))
# The plots come in the report's order, top to bottom.
tops = {k: min(rows[k]) if rows[k] else 0 for k in colours}
check(tops["server delay"] < tops["client delay"] < tops["round trip"], "plot order %r" % tops)
print("RESULT %d %d" % (passed, failed))
sys.exit(1 if failed else 0)
PYEOF
status=$?
# (not exec: the EXIT trap removes the temporary directory)
exit $status
