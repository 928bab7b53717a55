#!/bin/sh
# IPFIX export into SQLite through a real collector (docs/export.md): nfacctd
# (pmacct) on [::1] with its sqlite3 plugin, a table made with the sqlite3
# tool for the PDM fields (aggregate primitives); `pdm analyze --ipfix` of
# captures with known ground truth (`test_analyze --emit`: clear and
# encrypted PDMv2), then a query with the sqlite3 tool: every column equals
# what `pdm analyze --format json` says (flow start and end within 1 ms:
# SQLite keeps the NTP timestamps, above 2^63, as REAL).
#
#   sh tests/it_ipfix_sqlite.sh BUILD_DIR      (from the repository root)
set -u
. tests/lib.sh
t_pdm_arg "$@"
B=$(dirname "$PDM")
T_DIR=$(mktemp -d /tmp/openpdm-it-ipfix-sqlite.XXXXXX)
trap 'rm -rf "$T_DIR"' EXIT
trap 'exit 1' INT TERM HUP
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

if ! "$B/tests/test_analyze" --emit "$T_DIR" >/dev/null; then
    bad "test_analyze --emit"
    t_result
    exit
fi
if "$PDM" analyze --ipfix '[::1]:9' "$T_DIR/clear.pcap" 2>&1 >/dev/null | grep -q 'no IPFIX export'; then
    skip "this build has no IPFIX export (libfixbuf-dev missing)"
    t_result
    exit
fi
for t in nfacctd sqlite3; do
    if ! command -v $t >/dev/null; then
        skip "$t not installed (mk/deps.d/ipfix.txt)"
        t_result
        exit
    fi
done

timeout 50 "$PY" - "$PDM" "$T_DIR" >"$T_DIR/sqlite.out" 2>&1 <<'PYEOF'
import json, os, subprocess, sys, time
sys.path.insert(0, "tests")
import ipfix_check as ic

PDM, D = sys.argv[1], sys.argv[2]
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL " + what, file=sys.stderr)


def sql(db, q):
    p = subprocess.run(["sqlite3", "-json", "-cmd", ".timeout 5000", db, q], capture_output=True, text=True, timeout=10)
    check(p.returncode == 0, "sqlite3 %r: %s" % (q, p.stderr))
    return json.loads(p.stdout) if p.stdout.strip() else []


cases = [("clear", [os.path.join(D, "clear.pcap")]),
         ("encrypted", ["--keylog", os.path.join(D, "enc.keys"), os.path.join(D, "enc.pcap")])]
for name, args in cases:
    sub = os.path.join(D, name)
    os.mkdir(sub)
    db = os.path.join(sub, "pdm.db")
    cols = ", ".join("%s INT NOT NULL DEFAULT 0" % p[0] for p in ic.PRIMS)
    sql(db, "CREATE TABLE acct (ip_src CHAR(45) NOT NULL, ip_dst CHAR(45) NOT NULL, "
            "src_port INT NOT NULL, dst_port INT NOT NULL, ip_proto CHAR(6) NOT NULL, %s, "
            "packets INT, bytes INT, stamp_inserted DATETIME, stamp_updated DATETIME)" % cols)
    port = ic.free_port()
    nf, _ = ic.nfacctd_start(sub, port, plugin="sqlite3", extra=(
        "sql_db[p]: %s\nsql_table[p]: acct\nsql_refresh_time[p]: 1\n"
        "sql_optimize_clauses[p]: true\n" % db))
    p = subprocess.run([PDM, "analyze", "--format", "json", "--ipfix", "[::1]:%d" % port] + args,
                       capture_output=True, text=True, timeout=20)
    check(p.returncode == 0, "%s: analyze --ipfix: %s" % (name, p.stderr))
    flows = json.loads(p.stdout)["flows"]
    rows = []
    end = time.time() + 10
    while time.time() < end and len(rows) < len(flows):
        time.sleep(0.5)
        rows = sql(db, "SELECT * FROM acct ORDER BY ip_src, src_port")
    ic.nfacctd_stop(nf)
    check(len(rows) == len(flows), "%s: %d rows for %d flows" % (name, len(rows), len(flows)))
    by = {(r["ip_src"], r["ip_dst"], r["src_port"], r["dst_port"]): r for r in rows}
    for f in flows:
        r = by.get((f["src"], f["dst"], f["sport"], f["dport"]))
        check(r is not None, "%s: a row for %s -> %s" % (name, f["src"], f["dst"]))
        if r is None:
            continue
        rec = ic.from_nfacctd({"ip_src": r["ip_src"], "ip_dst": r["ip_dst"],
                               "port_src": r["src_port"], "port_dst": r["dst_port"],
                               "ip_proto": r["ip_proto"],
                               **{k: int(r[k]) for k, _, _ in ic.PRIMS}})
        bad = ic.compare(rec, f, time_slack_ns=1000000)
        check(not bad, "%s: row differs: %s" % (name, "; ".join(bad)))
    # An aggregate query, as a dashboard would run it: mean RTD from sums.
    q = sql(db, "SELECT SUM(pdm_rtd_sum) / SUM(pdm_rtd_count) AS m FROM acct WHERE pdm_rtd_count > 0")
    with_rtd = [f for f in flows if f["rtd_ns"]["count"]]
    if len(with_rtd) == 1:
        check(q and q[0]["m"] == with_rtd[0]["rtd_ns"]["mean"],
              "%s: mean RTD from SQL %r, analyze %r" % (name, q, with_rtd[0]["rtd_ns"]["mean"]))
print("RESULT %d %d" % (passed, failed))
PYEOF
add_result "$T_DIR/sqlite.out"
grep -a '^FAIL\|Traceback\|Error' "$T_DIR/sqlite.out" >&2
t_result
