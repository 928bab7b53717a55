#!/bin/sh
# End-to-end test of `pdm demo` (tools/demo/), the whole project in one
# command:
#
#   - the command line: --help on stdout, exit 0; a usage error is one line
#     "pdm: demo: ..." on stderr and exit 2;
#   - a full run (as root): exit 0 within 60 s; client.pcap, server.pcap
#     (classic pcap with nanosecond timestamps, as libpcap's dumper writes
#     them), keylog (mode 0600, the registration's line), report.json
#     and report.html in --out; report.json: three flows (ping, UDP, TCP), all
#     v2-encrypted, nothing failed authentication or lacked a key, nothing
#     lost, the UDP flow's server delay median within 10% of the server's
#     known delay (5 ms, then 3 ms with --delay-ms), the TCP flow's packets
#     above what 4 MB need; the server's capture analyses the same way;
#   - afterwards nothing is left: no namespace, no process, no temporary
#     directory of that run (the veths and the agents' netfilter rules lived
#     only inside the namespaces);
#   - SIGINT in the middle of the traffic, with the agents' rules in place:
#     exit 130, everything removed the same way, the captures so far closed
#     and readable; SIGTERM during the registration: exit 143, same;
#   - not root: it says so and analyses the shipped sample
#     (docs/sample/demo-client.pcap), with the same checks on its report.
#
#   sh tests/it_demo.sh BUILD_DIR      (from the repository root; the live
#                                      parts need root)
#
# Ends with "RESULT <passed> <failed> <skipped>" (tests/lib.sh).
set -u
. "$(dirname "$0")/lib.sh" # t_pdm_arg, check, ok, bad, skip, add_result, t_result
t_pdm_arg "$@"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
T=$(mktemp -d /tmp/openpdm-it-demo.XXXXXX)
chmod 755 "$T" # the unprivileged run reaches its directory through it
BG=""
cleanup() {
    # Only a demo this test started, by its pid (it then cleans up itself).
    [ -n "$BG" ] && kill -TERM "$BG" 2>/dev/null && sleep 3
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP


# report_ok JSON DELAY_MS MIN_TCP_PACKETS: the report's figures (prints
# "note" lines and a RESULT line).
report_ok() {
    $PY - "$1" "$2" "$3" <<'EOF'
import json, sys
path, delay_ms, min_tcp = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
p = f = 0
def check(ok, what):
    global p, f
    if ok:
        p += 1
    else:
        f += 1
        print("FAIL", path + ":", what)
try:
    r = json.load(open(path))
except Exception as e:
    check(False, "parses as JSON: %s" % e)
    print("RESULT %d %d" % (p, f))
    sys.exit(0)
check(True, "parses")
flows = r.get("flows", [])
check(len(flows) == 3, "three flows (%d)" % len(flows))
for fl in flows:
    what = "flow %s %s" % (fl.get("protocol_name"), fl.get("dport"))
    check(fl.get("format") == "v2-encrypted", what + ": format v2-encrypted (%s)" % fl.get("format"))
    check(fl.get("auth_failures") == 0 and fl.get("no_key") == 0,
          what + ": auth_failures %s no_key %s" % (fl.get("auth_failures"), fl.get("no_key")))
    check(fl.get("lost") == 0, what + ": lost %s" % fl.get("lost"))
    check(fl.get("src") == "fd00:ad::1" and fl.get("dst") == "fd00:ad::2",
          what + ": client fd00:ad::1, server fd00:ad::2")
def flow(proto, dport=None):
    for fl in flows:
        if fl.get("protocol") == proto and (dport is None or fl.get("dport") == dport):
            return fl
    return None
udp, tcp, icmp = flow(17, 9000), flow(6, 5001), flow(58)
check(udp is not None and tcp is not None and icmp is not None, "UDP, TCP and ICMPv6 flows")
if udp:
    sd = udp["server_delay_ns"]
    med = sd["median"] or 0
    check(udp["packets"] == 200, "UDP: 100 requests and 100 answers (%d)" % udp["packets"])
    check(sd["count"] == 100, "UDP: a server delay per answer (%d)" % sd["count"])
    check(abs(med - delay_ms * 1e6) <= 0.1 * delay_ms * 1e6,
          "UDP: server delay median %d ns within 10%% of %g ms" % (med, delay_ms))
    check(udp["rtd_ns"]["count"] >= 90, "UDP: round-trip delays (%d)" % udp["rtd_ns"]["count"])
    check(0 < (udp["rtd_ns"]["median"] or 0) < med,
          "UDP: round trip below the server delay (%s)" % udp["rtd_ns"]["median"])
    print("note: %s: UDP server delay median %.3f ms (known %g ms), round trip %.3f ms" %
          (path, med / 1e6, delay_ms, (udp["rtd_ns"]["median"] or 0) / 1e6))
if tcp:
    check(tcp["packets"] > min_tcp, "TCP: packets %d > %d" % (tcp["packets"], min_tcp))
    check(tcp["client"]["packets"] > tcp["server"]["packets"] > 0,
          "TCP: data one way, ACKs the other")
    print("note: %s: TCP packets %d" % (path, tcp["packets"]))
if icmp:
    check(icmp["packets"] == 40, "ping: 20 requests and 20 replies (%d)" % icmp["packets"])
    check(icmp["rtd_ns"]["count"] >= 15, "ping: round-trip delays (%d)" % icmp["rtd_ns"]["count"])
print("RESULT %d %d" % (p, f))
EOF
}

# add_report FILE: report_ok's counts (add_result), and its FAIL and note
# lines on stderr.
add_report() {
    add_result "$1"
    grep -E '^(FAIL|note)' "$1" >&2
}

# leftovers PID: namespaces, processes, temporary directories of demo PID.
leftovers() {
    _p=$1
    if ip netns list 2>/dev/null | grep -Eq "^pdm-demo-[cs]-$_p( |\$)"; then
        echo "namespace left: $(ip netns list | grep "pdm-demo-[cs]-$_p")" >&2
        return 0
    fi
    for _f in /proc/[0-9]*/cmdline; do
        # shellcheck disable=SC2002 # cat: a process gone meanwhile is no error
        _c=$(cat "$_f" 2>/dev/null | tr '\0' ' ')
        case "$_c" in
        *pdm-demo-$_p.* | *pdm-demo-c-$_p* | *pdm-demo-s-$_p*)
            echo "process left: $_f: $_c" >&2
            return 0
            ;;
        esac
    done
    if ls -d /tmp/pdm-demo-"$_p".* >/dev/null 2>&1; then
        echo "temporary directory left: $(ls -d /tmp/pdm-demo-"$_p".*)" >&2
        return 0
    fi
    return 1
}

# is_pcap_ns FILE: a classic pcap with nanosecond timestamps (magic
# 0xa1b23c4d, in either byte order).
is_pcap_ns() {
    case "$(od -An -tx1 -N4 "$1" | tr -d ' \n')" in
    a1b23c4d | 4d3cb2a1) return 0 ;;
    *) return 1 ;;
    esac
}

# usage_error ARGS...: exit 2, nothing on stdout, one line "pdm: demo: " on stderr.
usage_error() {
    "$PDM" demo "$@" >"$T/u.out" 2>"$T/u.err"
    _rc=$?
    [ $_rc -eq 2 ] && [ ! -s "$T/u.out" ] && [ "$(wc -l <"$T/u.err")" -eq 1 ] &&
        grep -q "^pdm: demo: " "$T/u.err"
}

# wait_for FILE TEXT TENTHS
wait_for() {
    _i=0
    while [ "$_i" -lt "$3" ]; do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
        _i=$((_i + 1))
    done
    return 1
}

# has_rules NS: the agent's nft table or ip6tables chains are there.
has_rules() {
    ip netns exec "$1" nft list table ip6 openpdm >/dev/null 2>&1 ||
        ip netns exec "$1" ip6tables -w -t mangle -S 2>/dev/null | grep -q OPENPDM
}

# --- usage ---------------------------------------------------------------------
"$PDM" demo --help >"$T/help" 2>"$T/help.err"
check "demo --help exits 0" [ $? -eq 0 ]
check "demo --help: usage on stdout" grep -q -- "--out DIR" "$T/help"
check "demo --help: nothing on stderr" [ ! -s "$T/help.err" ]
"$PDM" demo -h >"$T/help" 2>&1
check "demo -h" grep -q -- "--out DIR" "$T/help"
check "an unknown option is a usage error" usage_error --bogus
check "a missing value is a usage error" usage_error --out
check "--delay-ms 0 is refused" usage_error --delay-ms 0
check "--snaplen=64 is refused" usage_error --snaplen=64
check "--sample=x is refused" usage_error --sample=x
check "an argument is a usage error" usage_error extra
check "pdm --help lists demo" sh -c "'$PDM' --help | grep -q '^  demo '"

# --- the sample, as root (--sample) and as nobody --------------------------------
"$PDM" demo --sample --out "$T/sample" >"$T/sample.log" 2>&1
check "demo --sample exits 0" [ $? -eq 0 ]
check "demo --sample: report.html" test -s "$T/sample/report.html"
report_ok "$T/sample/report.json" 5 600 >"$T/sample.out" 2>&1
add_report "$T/sample.out"
check "demo --sample explains the figures" grep -q "known 5.000 ms" "$T/sample.log"
check "the shipped sample is a nanosecond pcap" is_pcap_ns docs/sample/demo-client.pcap
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1 &&
    setpriv --reuid 65534 --regid 65534 --clear-groups test -x "$PDM"; then
    mkdir -m 777 "$T/nobody"
    (cd "$T/nobody" && setpriv --reuid 65534 --regid 65534 --clear-groups "$PDM" demo \
        --out "$T/nobody/out") >"$T/nobody.log" 2>&1
    check "not root: exit 0" [ $? -eq 0 ]
    check "not root: says so" grep -q "^Not root" "$T/nobody.log"
    check "not root: analyses the sample" grep -q "demo-client.pcap" "$T/nobody.log"
    check "not root: made no namespace" sh -c "! grep -q 'namespaces pdm-demo' '$T/nobody.log'"
    report_ok "$T/nobody/out/report.json" 5 600 >"$T/nobody.out" 2>&1
    add_report "$T/nobody.out"
else
    skip "the unprivileged run: needs root and setpriv(1)"
fi

if [ "$(id -u)" != 0 ]; then
    skip "the live demo: needs root"
    t_result
    exit
fi

# --- a full run ---------------------------------------------------------------------
t0=$(date +%s)
"$PDM" demo --out "$T/run" >"$T/run.log" 2>&1 &
BG=$!
pid=$BG
wait $pid
rc=$?
BG=""
t1=$(date +%s)
check "demo exits 0 (rc $rc)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || sed 's/^/  | /' "$T/run.log" >&2
check "demo took $((t1 - t0)) s (< 60)" [ $((t1 - t0)) -lt 60 ]
for f in client.pcap server.pcap keylog report.json report.html; do
    check "demo wrote $f" test -s "$T/run/$f"
done
check "client.pcap is a nanosecond pcap" is_pcap_ns "$T/run/client.pcap"
check "server.pcap is a nanosecond pcap" is_pcap_ns "$T/run/server.pcap"
check "keylog is mode 0600" [ "$(stat -c %a "$T/run/keylog")" = 600 ]
check "keylog holds the registration of fd00:ad::1 with fd00:ad::2" \
    grep -q "^PDMV2_SECRET fd00:ad::1 fd00:ad::2 0020-0001-0001 [0-9a-f]\{64\} [0-9a-f]\{64\}$" \
    "$T/run/keylog"
check "report.html is a page with plots" grep -q "<svg" "$T/run/report.html"
report_ok "$T/run/report.json" 5 2000 >"$T/run.out" 2>&1
add_report "$T/run.out"
"$PDM" analyze --keylog "$T/run/keylog" --server fd00:ad::2 --format json "$T/run/server.pcap" \
    >"$T/server.json" 2>"$T/server.err"
check "server.pcap analyses" [ $? -eq 0 ]
report_ok "$T/server.json" 5 2000 >"$T/server.out" 2>&1
add_report "$T/server.out"
check "demo printed the table" grep -q "^flow [0-9]: \[fd00:ad::1\]:[0-9]* -> \[fd00:ad::2\]:9000 udp, v2-encrypted" \
    "$T/run.log"
check "demo explains the server delay" grep -q "server delay  median .*known 5.000 ms" "$T/run.log"
check "demo compares with ping" grep -q "ping's median" "$T/run.log"
check "agents stopped cleanly" grep -q "agents stopped, rules removed" "$T/run.log"
check "nothing failed authentication in the agents" grep -q "opened; 0 failed$" "$T/run.log"
check "demo names its namespaces after its pid" grep -q "pdm-demo-c-$pid " "$T/run.log"
if leftovers $pid; then bad "nothing left after the run"; else ok; fi

# Another delay, another output directory: the figure follows.
"$PDM" demo --out "$T/run3" --delay-ms 3 --tcp-bytes 1000000 >"$T/run3.log" 2>&1
check "demo --delay-ms 3 exits 0" [ $? -eq 0 ]
report_ok "$T/run3/report.json" 3 600 >"$T/run3.out" 2>&1
add_report "$T/run3.out"

# --- SIGINT in the middle of the traffic ----------------------------------------------
"$PDM" demo --out "$T/int" --tcp-bytes 1000000000 >"$T/int.log" 2>&1 &
BG=$!
pid=$BG
if wait_for "$T/int.log" "traffic " 300; then
    ok
    check "SIGINT: the agents' rules are in place before" has_rules "pdm-demo-c-$pid"
    sleep 0.5
    kill -INT $pid
    wait $pid
    rc=$?
    BG=""
    check "SIGINT: exit 130 (rc $rc)" [ $rc -eq 130 ]
    check "SIGINT: says it cleans up" grep -q "interrupted (signal 2): cleaning up" "$T/int.log"
    if leftovers $pid; then bad "SIGINT: nothing left"; else ok; fi
    check "SIGINT: the capture so far is closed and readable" \
        sh -c "'$PDM' analyze --keylog '$T/int/keylog' '$T/int/client.pcap' | grep -q '(0 malformed'"
else
    bad "SIGINT: the demo did not reach the traffic"
    sed 's/^/  | /' "$T/int.log" >&2
fi

# --- SIGTERM during the registration -----------------------------------------------
"$PDM" demo --out "$T/term" >"$T/term.log" 2>&1 &
BG=$!
pid=$BG
if wait_for "$T/term.log" "keys " 100; then
    ok
    kill -TERM $pid
    wait $pid
    rc=$?
    BG=""
    check "SIGTERM: exit 143 (rc $rc)" [ $rc -eq 143 ]
    if leftovers $pid; then bad "SIGTERM: nothing left"; else ok; fi
else
    bad "SIGTERM: the demo did not reach the keys"
    sed 's/^/  | /' "$T/term.log" >&2
fi

t_result
