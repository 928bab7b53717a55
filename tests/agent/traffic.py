#!/usr/bin/python3
"""Ordinary applications for the agent tests: they know nothing of PDM.

    traffic.py tcp-recv ADDR PORT            accept one connection, read it all,
                                             print "bytes N sha256 HEX"
    traffic.py tcp-send ADDR PORT FILE [--rate BYTES_PER_S]
                                             send FILE, print "bytes N sha256 HEX"
    traffic.py udp-echo ADDR PORT [--delay-ms D]
                                             answer each datagram after D ms
                                             (until killed)
    traffic.py udp-client ADDR PORT COUNT [--interval-ms I] [--size S]
                                             COUNT requests, one at a time; print
                                             "sent N received M"
"""
import argparse
import hashlib
import socket
import sys
import time


def tcp_recv(a):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.addr, a.port))
    s.listen(1)
    print("listening", flush=True)
    c, _ = s.accept()
    h, n = hashlib.sha256(), 0
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    while True:
        k = c.recv_into(buf)
        if k == 0:
            break
        h.update(view[:k])
        n += k
    print("bytes %d sha256 %s" % (n, h.hexdigest()), flush=True)


def tcp_send(a):
    with open(a.file, "rb") as f:
        data = f.read()
    c = socket.create_connection((a.addr, a.port), timeout=60)
    if a.rate:
        chunk = 65536
        t0 = time.monotonic()
        for off in range(0, len(data), chunk):
            c.sendall(data[off:off + chunk])
            ahead = (off + chunk) / a.rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
    else:
        c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    c.recv(1)  # wait for the receiver to close
    c.close()
    print("bytes %d sha256 %s" % (len(data), hashlib.sha256(data).hexdigest()), flush=True)


def precise_sleep_until(t):
    """Sleeps until monotonic time t: coarse sleep, then a short spin."""
    while True:
        left = t - time.monotonic()
        if left <= 0:
            return
        if left > 0.0005:
            time.sleep(left - 0.0004)


def udp_echo(a):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind((a.addr, a.port))
    print("listening", flush=True)
    while True:
        data, peer = s.recvfrom(65535)
        t = time.monotonic()
        if a.delay_ms:
            precise_sleep_until(t + a.delay_ms / 1000.0)
        s.sendto(data, peer)


def udp_client(a):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    s.connect((a.addr, a.port))
    got = 0
    payload = bytes(a.size)
    for i in range(a.count):
        msg = i.to_bytes(4, "big") + payload[4:]
        s.send(msg)
        try:
            while True:
                r = s.recv(65535)
                if r[:4] == msg[:4]:
                    got += 1
                    break
        except socket.timeout:
            pass
        if a.interval_ms:
            time.sleep(a.interval_ms / 1000.0)
    print("sent %d received %d" % (a.count, got), flush=True)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("tcp-recv")
    p.add_argument("addr")
    p.add_argument("port", type=int)
    p = sub.add_parser("tcp-send")
    p.add_argument("addr")
    p.add_argument("port", type=int)
    p.add_argument("file")
    p.add_argument("--rate", type=float, default=0)
    p = sub.add_parser("udp-echo")
    p.add_argument("addr")
    p.add_argument("port", type=int)
    p.add_argument("--delay-ms", type=float, default=0)
    p = sub.add_parser("udp-client")
    p.add_argument("addr")
    p.add_argument("port", type=int)
    p.add_argument("count", type=int)
    p.add_argument("--interval-ms", type=float, default=0)
    p.add_argument("--size", type=int, default=64)
    a = ap.parse_args()
    {"tcp-recv": tcp_recv, "tcp-send": tcp_send, "udp-echo": udp_echo,
     "udp-client": udp_client}[a.cmd](a)


if __name__ == "__main__":
    main()
