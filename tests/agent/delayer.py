#!/usr/bin/python3
"""A link with a known delay, for kernels without sch_netem.

    delayer.py IF1 IF2 DELAY_MS

Bridges two interfaces (run it in a namespace of their own, IPv6 off on
both, promiscuous): every frame received on one is sent out of the other
DELAY_MS later, in order. Ethernet frames only (no GSO super-packets: the
tests that use it send small packets). Runs until killed.
"""
import collections
import select
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def main():
    if1, if2, delay = sys.argv[1], sys.argv[2], float(sys.argv[3]) / 1000.0
    socks = []
    for name in (if1, if2):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((name, 0))
        s.setblocking(False)
        socks.append(s)
    out = {socks[0].fileno(): socks[1], socks[1].fileno(): socks[0]}
    queue = collections.deque()  # (due, socket, frame): FIFO, one delay
    print("bridging", flush=True)
    while True:
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, s, frame = queue.popleft()
            try:
                s.send(frame)
            except OSError:
                pass
        timeout = max(0.0, queue[0][0] - now) if queue else 1.0
        ready, _, _ = select.select(socks, [], [], timeout)
        for r in ready:
            while True:
                try:
                    frame, addr = r.recvfrom(65535)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue  # our own sends, seen again
                queue.append((time.monotonic() + delay, out[r.fileno()], frame))


if __name__ == "__main__":
    main()
