/*
 * The fleet export's aggregator and IPFIX exporter (tools/common/export.h):
 * interval records that add up to what one pdm_metrics run over the same
 * packets says, roles, idle expiry, a full table; the exporter's UDP
 * datagrams (IPFIX messages with every record) and a TCP collector that is
 * down (bounded, every record counted dropped).
 */
#include "harness.h"

#include "common/export.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct exp_rec got[16];
static size_t ngot;

static void collect(void *arg, const struct exp_rec *r)
{
    (void)arg;
    if (ngot < 16)
        got[ngot++] = *r;
}

static void tuple(struct pdm_flow_tuple *t, int reverse)
{
    static const uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    static const uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};
    memset(t, 0, sizeof *t);
    memcpy(t->src, reverse ? b : a, 16);
    memcpy(t->dst, reverse ? a : b, 16);
    t->sport = reverse ? 7000 : 40000;
    t->dport = reverse ? 40000 : 7000;
    t->proto = 17;
}

/* Packet i of a ping-pong: even ones from the client (PSN i/2+1, PSN 4
 * lost), odd ones from the server answering after 1000 + i us. */
static void packet(int i, int *from, struct pdm_fields *f)
{
    memset(f, 0, sizeof *f);
    *from = i % 2;
    f->psntp = (uint16_t)(i / 2 + 1);
    if (i > 0) {
        f->psnlr = (uint16_t)((i - 1) / 2 + 1);
        f->delta_tlr = (uint16_t)(1000 + i);
        f->scale_dtlr = 10; /* units of 1024 ns: values are large enough */
        f->delta_tls = (uint16_t)(2000 + i);
        f->scale_dtls = 10;
    }
}

static void test_intervals(void)
{
    struct exp_agg *g;
    struct pdm_metrics m;
    struct pdm_flow_tuple t;
    struct exp_rec sum;
    int from;

    CHECK_INT(exp_agg_new(&g, 8), 0);
    pdm_metrics_init(&m);
    memset(&sum, 0, sizeof sum);
    ngot = 0;
    for (int i = 0; i < 40; i++) {
        struct pdm_fields f;
        packet(i, &from, &f);
        if (i == 8) /* client PSN 5 never arrives */
            continue;
        tuple(&t, from);
        CHECK_INT(exp_agg_add(g, &t, 1000u + (uint64_t)i, &f), 0);
        pdm_metrics_update(&m, (unsigned)from, 1000u + (uint64_t)i, &f, NULL);
        if (i == 19)
            CHECK_INT(exp_agg_flush(g, 2000, 1000000, 0, collect, NULL), 1);
    }
    CHECK_INT(exp_agg_add(g, &t, 1050, NULL), 0); /* an authentication failure */
    CHECK_INT(exp_agg_flush(g, 3000, 1000000, 0, collect, NULL), 1);
    CHECK_INT(exp_agg_flush(g, 4000, 1000000, 0, collect, NULL), 0); /* nothing new */
    /* The flow ends: PSN 5, still inside the window, is lost now. */
    CHECK_INT(exp_agg_flush(g, 5000, 0, 1, collect, NULL), 1);
    CHECK_INT(exp_agg_flush(g, 6000, 0, 1, collect, NULL), 0); /* gone */
    CHECK_INT(ngot, 3);
    CHECK_INT(got[2].packets, 0);
    CHECK_INT(got[2].lost, 1);
    CHECK_INT(got[2].delay[EXP_RTD].count, 0);
    tuple(&t, 0);
    CHECK_MEM(&got[0].tup, &t, sizeof t); /* the first sender is the client */
    CHECK_INT(got[0].start_ns, 1000);
    CHECK_INT(got[0].end_ns, 1019);
    CHECK_INT(got[1].start_ns, 1020);
    CHECK_INT(got[0].packets + got[1].packets, 40);
    CHECK_INT(got[1].auth_failures, 1);
    CHECK_INT(got[0].lost + got[1].lost + got[2].lost,
              pdm_metrics_lost(&m, 0) + pdm_metrics_lost(&m, 1));
    const struct pdm_metrics_stat *st[EXP_KINDS] = {&m.server_delay, &m.client_delay, &m.rtd};
    for (int k = 0; k < EXP_KINDS; k++) {
        struct exp_stat all;
        exp_stat_from(&all, st[k]);
        CHECK(all.count > 0);
        CHECK_INT(got[0].delay[k].count + got[1].delay[k].count, all.count);
        CHECK_INT(got[0].delay[k].sum + got[1].delay[k].sum, all.sum);
        CHECK_INT(got[0].delay[k].min < got[1].delay[k].min ? got[0].delay[k].min
                                                            : got[1].delay[k].min,
                  all.min);
        CHECK_INT(got[0].delay[k].max > got[1].delay[k].max ? got[0].delay[k].max
                                                            : got[1].delay[k].max,
                  all.max);
    }
    exp_agg_free(g);
}

static void test_idle_and_full(void)
{
    struct exp_agg *g;
    struct pdm_flow_tuple t;
    struct pdm_fields f;
    int from;

    CHECK_INT(exp_agg_new(&g, 1), 0);
    ngot = 0;
    packet(0, &from, &f);
    tuple(&t, 0);
    CHECK_INT(exp_agg_add(g, &t, 100, &f), 0);
    t.sport++;
    CHECK_INT(exp_agg_add(g, &t, 100, &f), PDM_ERR_FULL);
    CHECK_INT(exp_agg_dropped(g), 1);
    /* Idle for 50 of 60: kept; for 60: forgotten, and room again. */
    CHECK_INT(exp_agg_flush(g, 150, 60, 0, collect, NULL), 1);
    CHECK_INT(exp_agg_add(g, &t, 160, &f), PDM_ERR_FULL);
    CHECK_INT(exp_agg_flush(g, 160, 60, 0, collect, NULL), 0);
    CHECK_INT(exp_agg_flush(g, 200, 60, 0, collect, NULL), 0);
    CHECK_INT(exp_agg_add(g, &t, 210, &f), 0);
    exp_agg_free(g);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void some_record(struct exp_rec *r, int i)
{
    memset(r, 0, sizeof *r);
    tuple(&r->tup, 0);
    r->tup.sport = (uint16_t)(40000 + i);
    r->start_ns = 1700000000123456789ull;
    r->end_ns = r->start_ns + 1000;
    r->packets = 10;
    r->delay[EXP_RTD].count = 1;
    r->delay[EXP_RTD].sum = r->delay[EXP_RTD].min = r->delay[EXP_RTD].max = 5000;
}

static void test_udp(void)
{
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    socklen_t sl = sizeof sa;
    struct ipfix_opts o = {0};
    struct ipfix *x;
    struct exp_rec r;
    uint8_t buf[65536];
    char dest[64], err[256];
    uint64_t sent, dropped, data = 0;
    int s = socket(AF_INET6, SOCK_DGRAM, 0);

    if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(s, (struct sockaddr *)&sa, &sl) != 0) {
        SKIP("no IPv6 loopback");
        return;
    }
    snprintf(dest, sizeof dest, "[::1]:%u", ntohs(sa.sin6_port));
    o.dest = dest;
    if (ipfix_open(&x, &o, err, sizeof err) == PDM_ERR_UNSUPPORTED) {
        SKIP("built without libfixbuf");
        close(s);
        return;
    }
    CHECK(x != NULL);
    if (!x)
        return;
    for (int i = 0; i < 20; i++) {
        some_record(&r, i);
        CHECK_INT(ipfix_add(x, &r), 0);
    }
    ipfix_flush(x);
    ipfix_counters(x, &sent, &dropped);
    CHECK_INT(sent, 20);
    CHECK_INT(dropped, 0);
    /* Every datagram is one IPFIX message; the data sets hold 20 records. */
    for (;;) {
        struct pollfd p = {s, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0)
            break;
        ssize_t n = recv(s, buf, sizeof buf, 0);
        CHECK(n >= 16 && buf[0] == 0 && buf[1] == 10 && (buf[2] << 8 | buf[3]) == n);
        CHECK(n <= 1280); /* messages fit the IPv6 minimum MTU */
        for (ssize_t off = 16; off + 4 <= n;) {
            unsigned id = (unsigned)buf[off] << 8 | buf[off + 1];
            unsigned len = (unsigned)buf[off + 2] << 8 | buf[off + 3];
            if (len < 4)
                break;
            if (id == 256)
                data += (len - 4) / 189;
            off += len;
        }
    }
    CHECK_INT(data, 20);
    ipfix_close(x);
    close(s);
}

static void test_tcp_down(void)
{
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    socklen_t sl = sizeof sa;
    struct ipfix_opts o = {0};
    struct ipfix *x;
    struct exp_rec r;
    char dest[64], err[256];
    uint64_t sent, dropped, t0;
    int s = socket(AF_INET6, SOCK_STREAM, 0);

    /* A port nobody listens on: bound, never listened, then closed. */
    if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(s, (struct sockaddr *)&sa, &sl) != 0) {
        SKIP("no IPv6 loopback");
        return;
    }
    close(s);
    snprintf(dest, sizeof dest, "[::1]:%u", ntohs(sa.sin6_port));
    o.dest = dest;
    o.tcp = 1;
    if (ipfix_open(&x, &o, err, sizeof err) == PDM_ERR_UNSUPPORTED) {
        SKIP("built without libfixbuf");
        return;
    }
    CHECK(x != NULL);
    if (!x)
        return;
    t0 = mono_ms();
    for (int i = 0; i < 5; i++) {
        some_record(&r, i);
        ipfix_add(x, &r);
        ipfix_flush(x); /* never waits */
    }
    ipfix_drain(x, 300);
    CHECK(mono_ms() - t0 < 2000);
    ipfix_counters(x, &sent, &dropped);
    CHECK_INT(sent, 0);
    CHECK_INT(dropped, 5);
    ipfix_close(x);
    CHECK_INT(ipfix_open(&x, &(struct ipfix_opts){.dest = "[::1"}, err, sizeof err), PDM_ERR_INVAL);
}

int main(void)
{
    RUN(test_intervals);
    RUN(test_idle_and_full);
    RUN(test_udp);
    RUN(test_tcp_down);
    return harness_done();
}
