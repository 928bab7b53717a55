/*
 * pdm demo: the traffic between the hosts, each kind with something known
 * to compare the analysis with:
 *
 *   ping      20 echo requests (iputils' ping, its own round-trip times);
 *   UDP       100 requests of 64 bytes, one every 12 ms, to a server that
 *             answers each one a known delay after it arrived (the figure
 *             the server delay must show), timed by the client too;
 *   TCP       a transfer of --tcp-bytes to a sink that counts them.
 *
 * The servers and clients are children of the demo in their namespace
 * (demo_spawn_fn); each reports on its pipe: "ready" for a server, one
 * line of figures for a client.
 */
#include "demo/demo.h"

#include "conv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PING_COUNT      20
#define PING_COUNT_S    "20"
#define UDP_COUNT       100
#define UDP_INTERVAL_MS 12
#define UDP_REQ_SIZE    64

/* What the UDP server and client are told. */
struct udp_arg {
    unsigned delay_ms;
    unsigned count;
};

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A socket of type bound to [::]:port with SOL_SOCKET option opt set to 1.
 * Returns it or -1 (after saying why on the report pipe fd). */
static int server_socket(int type, int port, int opt, int fd)
{
    struct sockaddr_in6 sa;
    int s, one = 1;

    memset(&sa, 0, sizeof sa);
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons((uint16_t)port);
    sa.sin6_addr = in6addr_any;
    if ((s = socket(AF_INET6, type | SOCK_CLOEXEC, 0)) < 0 ||
        setsockopt(s, SOL_SOCKET, opt, &one, sizeof one) != 0 ||
        bind(s, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        (type == SOCK_STREAM && listen(s, 4) != 0)) {
        dprintf(fd, "error %s/%d: %s\n", type == SOCK_STREAM ? "tcp" : "udp", port,
                strerror(errno));
        return -1;
    }
    return s;
}

/* A socket of type connected to the server's port. Returns it or -1. */
static int client_socket(int type, int port)
{
    struct sockaddr_in6 sa;
    int s;

    memset(&sa, 0, sizeof sa);
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, DEMO_SERVER_ADDR, &sa.sin6_addr) != 1 ||
        (s = socket(AF_INET6, type | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    if (type == SOCK_STREAM) {
        struct timeval tv = {20, 0};
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(s);
        return -1;
    }
    return s;
}

static unsigned local_port(int s)
{
    struct sockaddr_in6 local;
    socklen_t ll = sizeof local;
    if (getsockname(s, (struct sockaddr *)&local, &ll) != 0)
        return 0;
    return ntohs(local.sin6_port);
}

/* ---- UDP ---------------------------------------------------------------------- */

/*
 * The UDP server: echoes each datagram delay_ms after it arrived. "Arrived"
 * is the kernel's receive time of the packet (SO_TIMESTAMPNS, the same
 * clock the agents read), and the answer waits for an absolute deadline, so
 * scheduling delays before the wake-up do not add up: it sleeps until
 * SPIN_NS before the deadline (timer slack 1 ns instead of 50 us), then
 * spins on the clock, so that the wake-up latency of a busy machine (tens
 * to hundreds of microseconds) is not part of the answer's delay. 100
 * requests cost 20 ms of spinning.
 */
#define SPIN_NS 200000u

/* Receives one datagram into buf; its kernel receive time goes to *at_ns.
 * Returns its length or -1. */
static ssize_t recv_stamped(int s, uint8_t *buf, size_t cap, struct sockaddr_in6 *from,
                            socklen_t *fromlen, uint64_t *at_ns)
{
    union {
        char b[CMSG_SPACE(sizeof(struct timespec))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {buf, cap};
    struct msghdr m;
    struct timespec at;
    ssize_t n;

    memset(&m, 0, sizeof m);
    m.msg_name = from;
    m.msg_namelen = sizeof *from;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl.b;
    m.msg_controllen = sizeof ctl.b;
    while ((n = recvmsg(s, &m, 0)) < 0)
        if (errno != EINTR)
            return -1;
    clock_gettime(CLOCK_REALTIME, &at);
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm != NULL; cm = CMSG_NXTHDR(&m, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS)
            memcpy(&at, CMSG_DATA(cm), sizeof at);
    *fromlen = m.msg_namelen;
    *at_ns = (uint64_t)at.tv_sec * 1000000000u + (uint64_t)at.tv_nsec;
    return n;
}

static int udp_server(const void *varg, int fd)
{
    const struct udp_arg *a = varg;
    int s;

    prctl(PR_SET_TIMERSLACK, 1UL);
    signal(SIGTERM, SIG_DFL);
    if ((s = server_socket(SOCK_DGRAM, DEMO_UDP_PORT, SO_TIMESTAMPNS, fd)) < 0)
        return 1;
    dprintf(fd, "ready\n");
    for (;;) {
        uint8_t buf[2048];
        struct sockaddr_in6 from;
        socklen_t fromlen;
        struct timespec wake;
        uint64_t at, deadline;
        ssize_t n = recv_stamped(s, buf, sizeof buf, &from, &fromlen, &at);

        if (n < 0)
            return 1;
        deadline = at + (uint64_t)a->delay_ms * 1000000u;
        wake.tv_sec = (time_t)((deadline - SPIN_NS) / 1000000000u);
        wake.tv_nsec = (long)((deadline - SPIN_NS) % 1000000000u);
        while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &wake, NULL) == EINTR)
            ;
        while (realtime_ns() < deadline)
            ;
        sendto(s, buf, (size_t)n, 0, (struct sockaddr *)&from, fromlen);
    }
}

/* Sends request i and waits for its answer (1 s at most). Returns -1 when
 * it could not be sent, 0 when no answer came, 1 with the round trip in
 * *rtt_ns. */
static int udp_exchange(int s, uint32_t i, uint64_t *rtt_ns)
{
    uint8_t req[UDP_REQ_SIZE] = {0}, ans[128];
    uint64_t t0 = demo_mono_ns(), end = t0 + 1000000000u;

    pdm_put_u32be(req, i);
    if (send(s, req, sizeof req, 0) != (ssize_t)sizeof req)
        return -1;
    for (;;) {
        struct pollfd pfd = {s, POLLIN, 0};
        uint64_t now = demo_mono_ns();
        ssize_t n;
        if (now >= end || poll(&pfd, 1, (int)((end - now) / 1000000u) + 1) <= 0)
            return 0;
        n = recv(s, ans, sizeof ans, 0);
        if (n == (ssize_t)sizeof req && pdm_get_u32be(ans) == i) {
            *rtt_ns = demo_mono_ns() - t0;
            return 1;
        }
    }
}

/*
 * The UDP client: count requests, one every UDP_INTERVAL_MS, each waiting
 * for its answer. Reports "udp SENT RECEIVED MEDIAN_NS PORT": the
 * application's own round trip, request to answer.
 */
static int udp_client(const void *varg, int fd)
{
    const struct udp_arg *a = varg;
    uint64_t rtt[UDP_COUNT], next;
    unsigned got = 0, sent = 0;
    int s;

    signal(SIGTERM, SIG_DFL);
    if ((s = client_socket(SOCK_DGRAM, DEMO_UDP_PORT)) < 0) {
        dprintf(fd, "error udp client: %s\n", strerror(errno));
        return 1;
    }
    next = demo_mono_ns();
    for (unsigned i = 0; i < a->count && i < UDP_COUNT; i++) {
        int r;
        while (demo_mono_ns() < next)
            demo_sleep_ms(1);
        next += (uint64_t)UDP_INTERVAL_MS * 1000000u;
        if ((r = udp_exchange(s, i, &rtt[got])) >= 0)
            sent++;
        if (r > 0)
            got++;
    }
    qsort(rtt, got, sizeof rtt[0], cmp_u64);
    dprintf(fd, "udp %u %u %" PRIu64 " %u\n", sent, got, got ? rtt[(got - 1) / 2] : 0,
            local_port(s));
    return 0;
}

/* ---- TCP ---------------------------------------------------------------------- */

/* Reads from s until the end (or until cap bytes when buf is not NULL: the
 * count answer). Returns the bytes read. */
static uint64_t read_all(int s, uint8_t *buf, size_t cap)
{
    static uint8_t sink[65536];
    uint64_t total = 0;
    for (;;) {
        size_t want = buf ? cap - (size_t)total : sizeof sink;
        ssize_t n;
        if (want == 0)
            break;
        n = read(s, buf ? buf + total : sink, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        total += (uint64_t)n;
    }
    return total;
}

/* The TCP sink: one connection, read to the end, answer the byte count
 * (8 bytes), close. */
static int tcp_server(const void *varg, int fd)
{
    uint8_t cnt[8];
    int s, c;

    (void)varg;
    signal(SIGTERM, SIG_DFL);
    if ((s = server_socket(SOCK_STREAM, DEMO_TCP_PORT, SO_REUSEADDR, fd)) < 0)
        return 1;
    dprintf(fd, "ready\n");
    if ((c = accept(s, NULL, NULL)) < 0)
        return 1;
    pdm_put_u64be(cnt, read_all(c, NULL, 0));
    if (write(c, cnt, sizeof cnt) != (ssize_t)sizeof cnt)
        return 1;
    close(c);
    close(s);
    return 0;
}

/* The TCP source: sends *bytes (a counter pattern), half-closes, reads the
 * sink's count. Reports "tcp SENT COUNTED NANOSECONDS PORT". */
static int tcp_client(const void *varg, int fd)
{
    const uint64_t *bytes = varg;
    static uint8_t buf[65536];
    uint64_t sent = 0, t0, counted = 0;
    uint8_t cnt[8];
    int s;

    signal(SIGTERM, SIG_DFL);
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)i;
    t0 = demo_mono_ns();
    if ((s = client_socket(SOCK_STREAM, DEMO_TCP_PORT)) < 0) {
        dprintf(fd, "error tcp connect: %s\n", strerror(errno));
        return 1;
    }
    while (sent < *bytes) {
        size_t chunk = *bytes - sent < sizeof buf ? (size_t)(*bytes - sent) : sizeof buf;
        ssize_t n = write(s, buf, chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            dprintf(fd, "error tcp send: %s\n", strerror(errno));
            return 1;
        }
        sent += (uint64_t)n;
    }
    shutdown(s, SHUT_WR);
    if (read_all(s, cnt, sizeof cnt) == sizeof cnt)
        counted = pdm_get_u64be(cnt);
    dprintf(fd, "tcp %" PRIu64 " %" PRIu64 " %" PRIu64 " %u\n", sent, counted, demo_mono_ns() - t0,
            local_port(s));
    close(s);
    return 0;
}

/* ---- the steps ------------------------------------------------------------------ */

int demo_traffic_reach(struct demo *d)
{
    struct demo_argv a;

    demo_av_init(&a);
    DEMO_AV(&a, d->ping, "-6", "-c", "1", "-W", "2", DEMO_SERVER_ADDR);
    if (demo_run(d, d->ns_c, a.v, NULL, NULL, 5000) != 0) {
        demo_err("demo: the two hosts cannot reach each other");
        return -1;
    }
    return 0;
}

int demo_traffic_servers(struct demo *d, struct demo_side *s)
{
    struct udp_arg ua = {d->delay_ms, UDP_COUNT};
    char line[256];

    if (demo_spawn_ready(d, s->ns, udp_server, &ua, "udp server", &s->udp, &s->udp_fd, line,
                         sizeof line) != 0) {
        demo_err("demo: UDP server: %s", line);
        return -1;
    }
    if (demo_spawn_ready(d, s->ns, tcp_server, NULL, "tcp server", &s->tcp, &s->tcp_fd, line,
                         sizeof line) != 0) {
        demo_err("demo: TCP server: %s", line);
        return -1;
    }
    return 0;
}

/* ping's answers: "64 bytes from ...: icmp_seq=1 ttl=64 time=0.223 ms", one
 * a line. The median of the times (ping prints only min/avg/max, and the
 * first answer, which waits for the agents' first key derivations, pulls
 * the average up); the count in *received. Returns 0, or -1 if none. */
static int parse_ping(const char *text, double *median, unsigned *received)
{
    double t[PING_COUNT];
    unsigned n = 0;
    for (const char *p = strstr(text, " time="); p != NULL && n < PING_COUNT;
         p = strstr(p + 1, " time="))
        if (sscanf(p + 6, "%lf", &t[n]) == 1)
            n++;
    *received = n;
    if (n == 0)
        return -1;
    qsort(t, n, sizeof t[0], cmp_double);
    *median = t[(n - 1) / 2];
    return 0;
}

int demo_traffic_ping(struct demo *d, struct demo_measured *m)
{
    char pingout[PATH_MAX], text[8192];
    struct demo_argv a;

    if (demo_work_path(d, pingout, sizeof pingout, "ping.out"))
        return -1;
    demo_av_init(&a);
    DEMO_AV(&a, d->ping, "-6", "-c", PING_COUNT_S, "-i", "0.05", "-W", "2", DEMO_SERVER_ADDR);
    if (demo_run(d, d->ns_c, a.v, pingout, NULL, 15000) != 0) {
        demo_err("demo: ping failed");
        demo_show_log(pingout);
        return -1;
    }
    demo_read_text(pingout, text, sizeof text);
    m->have_ping = parse_ping(text, &m->ping_median_ms, &m->ping_count) == 0;
    demo_step(d, "traffic", "ping -6 -c %d -i 0.05 %s: %u answered, median rtt %.3f ms", PING_COUNT,
              DEMO_SERVER_ADDR, m->ping_count, m->ping_median_ms);
    return 0;
}

/* Runs a client child in the client's namespace and reads its one-line
 * report into line (timeout_ms). Returns 0, or -1 (line holds what came). */
static int client_report(struct demo *d, demo_child_fn fn, const void *arg, const char *what,
                         unsigned timeout_ms, char *line, size_t cap)
{
    pid_t pid;
    int fd, rv;

    line[0] = '\0';
    if ((pid = demo_spawn_fn(d, d->ns_c, fn, arg, &fd, what)) < 0)
        return -1;
    rv = demo_read_line(fd, line, cap, timeout_ms);
    close(fd);
    if (rv != 0)
        demo_stop_pid(d, pid, SIGTERM, 1000);
    else
        demo_wait_pid(d, pid, 2000, 0, NULL);
    return rv;
}

int demo_traffic_udp(struct demo *d, struct demo_measured *m)
{
    struct udp_arg ua = {d->delay_ms, UDP_COUNT};
    char line[256];

    if (client_report(d, udp_client, &ua, "udp client", 20000, line, sizeof line) != 0 ||
        sscanf(line, "udp %u %u %" SCNu64 " %u", &m->udp_sent, &m->udp_got, &m->udp_app_median_ns,
               &m->udp_port) != 4) {
        demo_err("demo: UDP client: %s", line);
        return -1;
    }
    demo_step(d, "",
              "UDP: %u requests to port %d (answered %u ms after arrival): %u answers, median "
              "%.3f ms",
              m->udp_sent, DEMO_UDP_PORT, d->delay_ms, m->udp_got,
              (double)m->udp_app_median_ns / 1e6);
    if (m->udp_got == 0) {
        demo_err("demo: no UDP request was answered");
        return -1;
    }
    return 0;
}

int demo_traffic_tcp(struct demo *d, struct demo_measured *m)
{
    char line[256];

    if (client_report(d, tcp_client, &d->tcp_bytes, "tcp client",
                      (unsigned)(30000 + d->tcp_bytes / 5000), line, sizeof line) != 0 ||
        sscanf(line, "tcp %" SCNu64 " %" SCNu64 " %" SCNu64 " %u", &m->tcp_sent, &m->tcp_counted,
               &m->tcp_ns, &m->tcp_port) != 4) {
        demo_err("demo: TCP client: %s", line);
        return -1;
    }
    demo_step(d, "", "TCP: %" PRIu64 " bytes to port %d in %.2f s, %" PRIu64 " arrived",
              m->tcp_sent, DEMO_TCP_PORT, (double)m->tcp_ns / 1e9, m->tcp_counted);
    if (m->tcp_counted != m->tcp_sent) {
        demo_err("demo: the TCP transfer did not arrive whole");
        return -1;
    }
    return 0;
}
