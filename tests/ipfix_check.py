"""Helpers of tests/it_ipfix.sh and tests/it_ipfix_sqlite.sh: a real nfacctd
(pmacct) collecting IPFIX on loopback, a raw IPFIX decoder, and the checks of
an exported record against `pdm analyze --format json`.

The PDM fields reach nfacctd as aggregate primitives (pmacct decodes the
5-tuple itself; it does not read flowStart/EndNanoseconds, so those two are
primitives too and decoded here from NTP format)."""
import json
import os
import signal
import socket
import struct
import subprocess
import time

PEN = 32473
# name, IE (enterprise ones under PEN), key in our decoded record
PRIMS = [
    ("pdm_packets", "2", "packets"),
    ("pdm_fstart", "156", "start_ntp"),
    ("pdm_fend", "157", "end_ntp"),
    ("pdm_lost", "%d:1" % PEN, "lost"),
    ("pdm_reordered", "%d:2" % PEN, "reordered"),
    ("pdm_duplicates", "%d:3" % PEN, "duplicates"),
    ("pdm_authfail", "%d:4" % PEN, "auth_failures"),
]
KINDS = [("sd", "server_delay_ns", 10), ("cd", "client_delay_ns", 20), ("rtd", "rtd_ns", 30)]
for _k, _j, _base in KINDS:
    for _i, _s in enumerate(("count", "sum", "min", "max")):
        PRIMS.append(("pdm_%s_%s" % (_k, _s), "%d:%d" % (PEN, _base + _i), "%s_%s" % (_k, _s)))


def free_port(kind=socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_INET6, kind)
    s.bind(("::1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def ntp_to_ns(v):
    return ((v >> 32) - 2208988800) * 1000000000 + (((v & 0xFFFFFFFF) * 1000000000) >> 32)


def nfacctd_start(d, port, plugin="print", extra=""):
    """Starts nfacctd on [::1]:port with every PDM field as a primitive.
    Returns (process, output path)."""
    prim = os.path.join(d, "prim.lst")
    with open(prim, "w") as f:
        for name, ie, _ in PRIMS:
            f.write("name=%s field_type=%s len=8 semantics=u_int\n" % (name, ie))
    agg = "src_host, dst_host, src_port, dst_port, proto, " + ", ".join(p[0] for p in PRIMS)
    out = os.path.join(d, "nf-out." + ("json" if plugin == "print" else "db"))
    conf = os.path.join(d, "nf.conf")
    with open(conf, "w") as f:
        f.write("daemonize: false\nnfacctd_ip: ::1\nnfacctd_port: %d\n" % port)
        f.write("aggregate_primitives: %s\nplugins: %s[p]\naggregate[p]: %s\n" % (prim, plugin, agg))
        if plugin == "print":
            f.write("print_output[p]: json\nprint_output_file[p]: %s\n" % out)
            f.write("print_output_file_append[p]: true\nprint_refresh_time[p]: 1\n")
        f.write(extra)
    log = open(os.path.join(d, "nf.log"), "w")
    # Its own process group: nfacctd forks a process per plugin.
    p = subprocess.Popen(["nfacctd", "-f", conf], stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    time.sleep(0.5)
    return p, out


def nfacctd_stop(p):
    """Ends nfacctd and its plugin processes."""
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait(5)


def nfacctd_records(path, want, timeout=10):
    """JSON lines of the print plugin; waits until `want` records are there."""
    end = time.time() + timeout
    recs = []
    while time.time() < end:
        recs = []
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    line = line.strip()
                    if line.startswith("{"):
                        recs.append(json.loads(line))
        if len(recs) >= want:
            break
        time.sleep(0.3)
    return recs


def from_nfacctd(r):
    """A decoded record from one nfacctd JSON object."""
    o = {"src": r["ip_src"], "dst": r["ip_dst"], "sport": r["port_src"], "dport": r["port_dst"]}
    o["proto"] = {"udp": 17, "tcp": 6, "ipv6-icmp": 58, "icmp6": 58}.get(r["ip_proto"], r["ip_proto"])
    for name, _, key in PRIMS:
        o[key] = int(r[name])
    o["start_ns"] = ntp_to_ns(o.pop("start_ntp"))
    o["end_ns"] = ntp_to_ns(o.pop("end_ntp"))
    return o


def decode_stream(b, data_tid=256):
    """Our own decoder of an IPFIX byte stream (messages back to back):
    the data records of data_tid (fixed layout, docs/export.md)."""
    out, off = [], 0
    while off + 16 <= len(b):
        ver, ln = struct.unpack(">HH", b[off:off + 4])
        if ver != 10 or ln < 16:
            raise ValueError("not an IPFIX message at %d" % off)
        o = off + 16
        while o + 4 <= off + ln:
            sid, sl = struct.unpack(">HH", b[o:o + 4])
            if sid == data_tid:
                for r in range(o + 4, o + sl - 188, 189):
                    v = struct.unpack(">19Q", b[r:r + 152])
                    src = socket.inet_ntop(socket.AF_INET6, b[r + 152:r + 168])
                    dst = socket.inet_ntop(socket.AF_INET6, b[r + 168:r + 184])
                    sp, dp, pr = struct.unpack(">HHB", b[r + 184:r + 189])
                    rec = {"src": src, "dst": dst, "sport": sp, "dport": dp, "proto": pr,
                           "start_ns": ntp_to_ns(v[0]), "end_ns": ntp_to_ns(v[1]),
                           "packets": v[2], "lost": v[3], "reordered": v[4],
                           "duplicates": v[5], "auth_failures": v[6]}
                    for i, (k, _, _) in enumerate(KINDS):
                        for j, s in enumerate(("count", "sum", "min", "max")):
                            rec["%s_%s" % (k, s)] = v[7 + 4 * i + j]
                    out.append(rec)
            o += sl
        off += ln
    return out


def merge(recs):
    """Records of one flow over several intervals, summed (min of mins,
    max of maxes over intervals that had samples)."""
    flows = {}
    for r in recs:
        k = (r["src"], r["dst"], r["sport"], r["dport"], r["proto"])
        if k not in flows:
            flows[k] = dict(r)
            continue
        m = flows[k]
        m["start_ns"] = min(m["start_ns"], r["start_ns"])
        m["end_ns"] = max(m["end_ns"], r["end_ns"])
        for f in ("packets", "lost", "reordered", "duplicates", "auth_failures"):
            m[f] += r[f]
        for k2, _, _ in KINDS:
            if r[k2 + "_count"]:
                if m[k2 + "_count"] == 0:
                    m[k2 + "_min"], m[k2 + "_max"] = r[k2 + "_min"], r[k2 + "_max"]
                m[k2 + "_min"] = min(m[k2 + "_min"], r[k2 + "_min"])
                m[k2 + "_max"] = max(m[k2 + "_max"], r[k2 + "_max"])
            m[k2 + "_count"] += r[k2 + "_count"]
            m[k2 + "_sum"] += r[k2 + "_sum"]
    return flows


def compare(rec, flow, times=True, time_slack_ns=0):
    """Differences between an exported record and a flow of `pdm analyze
    --format json`: a list of strings, empty when every field agrees."""
    bad = []

    def eq(name, a, b):
        if a != b:
            bad.append("%s: exported %r, analyze %r" % (name, a, b))

    for a, b in (("src", "src"), ("dst", "dst"), ("sport", "sport"), ("dport", "dport"),
                 ("proto", "protocol"), ("packets", "packets"), ("lost", "lost"),
                 ("reordered", "reordered"), ("duplicates", "duplicates"),
                 ("auth_failures", "auth_failures")):
        eq(a, rec[a], flow[b])
    if times:
        for a, b in (("start_ns", "first_ns"), ("end_ns", "last_ns")):
            if abs(rec[a] - flow[b]) > time_slack_ns:
                bad.append("%s: exported %d, analyze %d" % (a, rec[a], flow[b]))
    for k, j, _ in KINDS:
        s = flow[j]
        eq(k + "_count", rec[k + "_count"], s["count"])
        if s["count"]:
            eq(k + "_min", rec[k + "_min"], s["min"])
            eq(k + "_max", rec[k + "_max"], s["max"])
            eq(k + "_sum // count (the mean)", rec[k + "_sum"] // s["count"], s["mean"])
    return bad
