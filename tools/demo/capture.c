/*
 * pdm demo: a capture on each veth end, DIR/client.pcap and server.pcap.
 *
 * Each capture is a child of the demo inside its namespace. libpcap
 * captures (immediate mode: packets are handed over as they come, with no
 * block timeout, so nothing waits in the ring when it stops) with
 * nanosecond timestamps asked of the live handle
 * (pcap_set_tstamp_precision), and libpcap's own dumper writes them: the
 * file is a classic pcap with the nanosecond magic, exactly what tcpdump
 * -w --time-stamp-precision=nano writes (libpcap 1.10 writes no pcapng).
 *
 * The child talks to the demo through its report pipe: "ready" once the
 * socket captures, and after SIGTERM (drain what the kernel holds, flush,
 * close) "stats RECEIVED DROPPED", followed by " write-error" when the
 * file could not be written whole.
 */
#include "demo/demo.h"

#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CAP_BUFFER (16 << 20) /* the kernel's ring: a TCP burst fits */

struct cap_arg {
    const char *iface;
    const char *path;
    unsigned snaplen;
};

/* The live handle, activated and non-blocking; NULL after saying why on
 * the report pipe. */
static pcap_t *open_live(const struct cap_arg *a, int fd)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *p;

    if ((p = pcap_create(a->iface, errbuf)) == NULL) {
        dprintf(fd, "error %s\n", errbuf);
        return NULL;
    }
    pcap_set_snaplen(p, (int)a->snaplen);
    pcap_set_promisc(p, 0);
    pcap_set_immediate_mode(p, 1);
    pcap_set_buffer_size(p, CAP_BUFFER);
    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
    if (pcap_activate(p) < 0 || pcap_setnonblock(p, 1, errbuf) != 0) {
        dprintf(fd, "error %s: %s\n", a->iface, pcap_geterr(p));
        pcap_close(p);
        return NULL;
    }
    return p;
}

/* The capture child (a demo_child_fn): runs until SIGTERM. */
static int cap_main(const void *varg, int fd)
{
    const struct cap_arg *a = varg;
    struct pcap_stat ps;
    pcap_dumper_t *dump;
    pcap_t *p;
    int sel, err;

    signal(SIGTERM, demo_on_signal);
    if ((p = open_live(a, fd)) == NULL)
        return 1;
    if ((sel = pcap_get_selectable_fd(p)) < 0 || (dump = pcap_dump_open(p, a->path)) == NULL) {
        dprintf(fd, "error %s: %s\n", a->path, pcap_geterr(p));
        pcap_close(p);
        return 1;
    }
    dprintf(fd, "ready\n");
    while (!demo_signal) {
        struct pollfd pfd = {sel, POLLIN, 0};
        poll(&pfd, 1, 100);
        if (pcap_dispatch(p, -1, pcap_dump, (u_char *)dump) < 0)
            break;
    }
    while (pcap_dispatch(p, -1, pcap_dump, (u_char *)dump) > 0)
        ;
    /* pcap_dump() reports nothing: a failed write shows in the FILE's
     * error flag and in the flush. */
    err = pcap_dump_flush(dump) != 0 || ferror(pcap_dump_file(dump));
    if (pcap_stats(p, &ps) != 0)
        memset(&ps, 0, sizeof ps);
    pcap_dump_close(dump);
    pcap_close(p);
    dprintf(fd, "stats %u %u%s\n", ps.ps_recv, ps.ps_drop, err ? " write-error" : "");
    return err;
}

int demo_capture_start(struct demo *d, struct demo_side *s, const char *iface)
{
    struct cap_arg ca;
    char line[256];

    if (demo_fmt(line, sizeof line, "%s.pcap", s->name) ||
        demo_out_path(d, s->cap_path, sizeof s->cap_path, line))
        return -1;
    ca.iface = iface;
    ca.path = s->cap_path;
    ca.snaplen = d->snaplen;
    if (demo_spawn_ready(d, s->ns, cap_main, &ca, "capture", &s->cap, &s->cap_fd, line,
                         sizeof line) != 0) {
        demo_err("demo: capture on the %s's %s did not start: %s", s->name, iface, line);
        return -1;
    }
    return 0;
}

long demo_capture_stop(struct demo *d, struct demo_side *s)
{
    char line[256];
    unsigned recv_n = 0, drop = 0;
    long rv = -1;
    int st;

    if (s->cap <= 0)
        return -1;
    /* Its last words stay in the pipe after it exits. */
    st = demo_stop_pid(d, s->cap, SIGTERM, 8000);
    if (demo_exited_ok(st) && demo_read_line(s->cap_fd, line, sizeof line, 1000) == 0 &&
        sscanf(line, "stats %u %u", &recv_n, &drop) == 2 && strstr(line, "error") == NULL)
        rv = drop;
    close(s->cap_fd);
    s->cap = 0;
    return rv;
}
