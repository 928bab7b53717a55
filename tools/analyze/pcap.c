/*
 * The analyser's capture input (analyze.h): files through
 * pcap_open_offline_with_tstamp_precision(NANO), which reads pcap and
 * pcapng, and live interfaces with pcap_set_tstamp_precision(NANO). In
 * both cases tv_usec of each record holds nanoseconds.
 */
#include "analyze.h"
#include "common/user.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LIVE_SNAPLEN 65535

static volatile sig_atomic_t stop_flag;

/* Ctrl-C (or SIGTERM) ends a live capture: the loop sees the flag within
 * one poll() wait (the signal also interrupts it). */
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

struct run {
    struct an_ctx *a;
    int dlt;
    int err;
};

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
    struct run *r = (struct run *)user;
    uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec;
    int rv;

    if (r->err)
        return;
    if ((rv = an_frame(r->a, r->dlt, ts, data, h->caplen, h->len, NULL)) != 0)
        r->err = rv;
}

static int set_filter(pcap_t *p, const char *filter, char *err, size_t errlen)
{
    struct bpf_program prog;

    if (!filter)
        return 0;
    if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0 ||
        pcap_setfilter(p, &prog) != 0) {
        snprintf(err, errlen, "filter '%s': %s", filter, pcap_geterr(p));
        return PDM_ERR_INVAL;
    }
    pcap_freecode(&prog);
    return 0;
}

static int check_link(int dlt, const char *what, char *err, size_t errlen)
{
    const char *name = pcap_datalink_val_to_name(dlt);

    if (an_link_supported(dlt))
        return 0;
    snprintf(err, errlen,
             "%s: link type %s (%d) is not supported (Ethernet, Linux cooked v1/v2 and raw "
             "IPv6 are)",
             what, name ? name : "unknown", dlt);
    return PDM_ERR_UNSUPPORTED;
}

int an_read_file(struct an_ctx *a, const char *path, const char *filter, char *err, size_t errlen)
{
    char eb[PCAP_ERRBUF_SIZE];
    struct run r = {a, 0, 0};
    pcap_t *p;
    int rv, n;

    if (!(p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, eb))) {
        snprintf(err, errlen, "%s", eb);
        return PDM_ERR_SYSTEM;
    }
    r.dlt = pcap_datalink(p);
    if ((rv = check_link(r.dlt, path, err, errlen)) != 0 ||
        (rv = set_filter(p, filter, err, errlen)) != 0)
        goto out;
    while ((n = pcap_dispatch(p, 4096, on_packet, (u_char *)&r)) > 0 && r.err == 0)
        ;
    if (r.err) {
        char what[160];
        an_frame_error(a, r.err, what, sizeof what);
        snprintf(err, errlen, "%s: %s", path, what);
        rv = r.err;
    } else if (n == PCAP_ERROR) {
        snprintf(err, errlen, "%s: %s", path, pcap_geterr(p));
        rv = PDM_ERR_MALFORMED;
    }
out:
    pcap_close(p);
    return rv;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int an_read_live(struct an_ctx *a, const struct an_live *l, char *err, size_t errlen)
{
    const char *iface = l->iface;
    uint64_t count = l->count;
    char eb[PCAP_ERRBUF_SIZE];
    struct run r = {a, 0, 0};
    struct sigaction sa, old_int, old_term;
    uint64_t deadline = 0;
    struct pollfd pfd;
    pcap_t *p;
    int rv = 0, n;

    if (!(p = pcap_create(iface, eb))) {
        snprintf(err, errlen, "%s", eb);
        return PDM_ERR_SYSTEM;
    }
    pcap_set_snaplen(p, LIVE_SNAPLEN);
    pcap_set_timeout(p, 100); /* wake up to check the duration and Ctrl-C */
    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
    if (pcap_activate(p) < 0) {
        snprintf(err, errlen, "%s: %s", iface, pcap_geterr(p));
        pcap_close(p);
        return PDM_ERR_SYSTEM;
    }
    r.dlt = pcap_datalink(p);
    if ((rv = check_link(r.dlt, iface, err, errlen)) != 0 ||
        (rv = set_filter(p, l->filter, err, errlen)) != 0) {
        pcap_close(p);
        return rv;
    }
    /* Root was needed to open the interface, not to parse what arrives on
     * it: the packets are untrusted input (docs/security.md). */
    if (l->run_as && geteuid() == 0 && tool_run_as(l->run_as, eb, sizeof eb) != 0) {
        snprintf(err, errlen, "--user %s", eb);
        pcap_close(p);
        return PDM_ERR_SYSTEM;
    }
    /* The read timeout alone does not bound a wait with no traffic on
     * every platform (pcap(3PCAP)): wait in poll() ourselves, read
     * without blocking. */
    if (pcap_setnonblock(p, 1, eb) != 0 || (pfd.fd = pcap_get_selectable_fd(p)) < 0) {
        snprintf(err, errlen, "%s: cannot wait for packets without blocking", iface);
        pcap_close(p);
        return PDM_ERR_SYSTEM;
    }
    pfd.events = POLLIN;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: the capture wait returns on Ctrl-C */
    sigemptyset(&sa.sa_mask);
    stop_flag = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    if (l->seconds)
        deadline = mono_ns() + l->seconds * 1000000000u;
    while (!stop_flag && r.err == 0) {
        int max = -1;
        if (count) {
            uint64_t left = count - a->c.frames;
            max = left > 4096 ? 4096 : (int)left;
        }
        if (poll(&pfd, 1, 100) < 0 && errno != EINTR) {
            snprintf(err, errlen, "%s: poll: %s", iface, strerror(errno));
            rv = PDM_ERR_SYSTEM;
            break;
        }
        n = pcap_dispatch(p, max, on_packet, (u_char *)&r);
        if (n == PCAP_ERROR) {
            snprintf(err, errlen, "%s: %s", iface, pcap_geterr(p));
            rv = PDM_ERR_SYSTEM;
            break;
        }
        if ((count && a->c.frames >= count) || (deadline && mono_ns() >= deadline))
            break;
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    pcap_close(p);
    if (rv == 0 && r.err) {
        char what[160];
        an_frame_error(a, r.err, what, sizeof what);
        snprintf(err, errlen, "%s: %s", iface, what);
        rv = r.err;
    }
    return rv;
}
