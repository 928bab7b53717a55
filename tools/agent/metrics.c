/*
 * The agent's Prometheus endpoint (metrics.h, docs/export.md).
 *
 * Series, low cardinality by construction: the counters are the agent's
 * (one series each), the histograms have one series set per configured
 * peer prefix (at most AGENT_PEERS_MAX), never one per address or flow.
 *
 *   pdm_agent_<status name>_total       counters of `pdm agent --status`
 *   pdm_agent_flows, pdm_agent_passthrough    gauges
 *   pdm_agent_info{queues,firewall}     1
 *   pdm_server_delay_seconds{peer}      histogram: the peer's DeltaTLR
 *   pdm_round_trip_delay_seconds{peer}  histogram: our round trip to it
 *
 * The counters come from agent_status_write() itself (its "name value"
 * lines turned into series), so the page and --status never disagree and
 * a counter added there appears here too.
 */
#include "metrics.h"

#include "common/tools.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef AGENT_HAVE_MHD
#include <microhttpd.h>
#endif

/* Upper bounds in ns (le="..." in seconds): 1, 2.5, 5 per decade. */
static const uint64_t bounds_ns[AGENT_METRICS_BOUNDS] = {
    1000,      2500,      5000,        10000,       25000,      50000,       100000,   250000,
    500000,    1000000,   2500000,     5000000,     10000000,   25000000,    50000000, 100000000,
    250000000, 500000000, 1000000000u, 2500000000u, 5000000000, 10000000000,
};

enum { KIND_SERVER = 0, KIND_RTD = 1, KINDS = 2 };

/* One histogram of one shard: per-bucket counts (not cumulative; the last
 * is +Inf only) and the sum. 24 words: three whole cache lines, so that
 * two shards never write the same line. Written by the shard's queue
 * thread only (under its lock), read by the HTTP thread: relaxed atomic
 * loads and stores of whole words, no read-modify-write needed. */
struct hist {
    uint64_t bucket[AGENT_METRICS_BOUNDS + 1];
    uint64_t sum_ns;
};
_Static_assert(sizeof(struct hist) % 64 == 0, "struct hist must be whole cache lines");

struct agent_metrics {
    const struct agent_config *cfg;
    size_t npeers;
    struct hist *h; /* [shard][peer][kind], 64-byte aligned */
    int lfd;        /* the listening socket */
    void *daemon;   /* struct MHD_Daemon */
};

static struct hist *hist_of(struct agent_metrics *m, unsigned shard, size_t peer, unsigned kind)
{
    return &m->h[((size_t)shard * m->npeers + peer) * KINDS + kind];
}

/* ---- packet path ------------------------------------------------------------ */

/* Only this shard's thread writes: a plain add made of a relaxed load and
 * store is enough, and costs what a non-atomic add does. */
static void bump(uint64_t *p, uint64_t d)
{
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + d, __ATOMIC_RELAXED);
}

static void hist_add(struct hist *h, uint64_t v)
{
    unsigned lo = 0, hi = AGENT_METRICS_BOUNDS;

    /* The first bound >= v (Prometheus' le), or the +Inf bucket. */
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (bounds_ns[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    bump(&h->bucket[lo], 1);
    bump(&h->sum_ns, v);
}

void agent_metrics_add(struct agent_metrics *m, unsigned shard, const struct agent_record *rec)
{
    const struct pdm_fields *f = &rec->f;
    size_t peer;

    if (m == NULL || rec->time_ns == 0 || !rec->rx || rec->peer == NULL || rec->auth == 0 ||
        shard >= AGENT_SHARDS)
        return;
    peer = (size_t)(rec->peer - m->cfg->core.peers);
    if (peer >= m->npeers)
        return;
    /* An absent DeltaTLR (PROFILE §2: the peer had received nothing) is
     * no sample. */
    if (f->delta_tlr != 0 || f->scale_dtlr != 0 || f->psnlr != 0)
        hist_add(hist_of(m, shard, peer, KIND_SERVER), rec->delta_tlr_ns);
    if (rec->rtd_ns >= 0)
        hist_add(hist_of(m, shard, peer, KIND_RTD), (uint64_t)rec->rtd_ns);
}

/* ---- the page --------------------------------------------------------------- */

/* A Prometheus metric name part: [a-zA-Z0-9_], anything else as '_'. */
static void name_clean(char *s)
{
    for (; *s != '\0'; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
            *s = '_';
}

static int is_number(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* The --status lines as series: numbers as counters (gauges for the two
 * that are states), words as labels of pdm_agent_info; pid left out. */
static void write_counters(FILE *f, struct agent_rt *rt)
{
    char *text = NULL, *save = NULL, info[256] = "";
    size_t len = 0;
    FILE *mf = open_memstream(&text, &len);

    if (mf == NULL)
        return;
    agent_status_write(mf, rt);
    if (fclose(mf) != 0 || text == NULL) {
        free(text);
        return;
    }
    for (char *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char *v = strchr(line, ' ');
        if (v == NULL)
            continue;
        *v++ = '\0';
        name_clean(line);
        if (!strcmp(line, "pid"))
            continue;
        if (!is_number(v)) {
            size_t n = strlen(info);
            /* Words of our own (queue numbers, a back end's name): no
             * quote or backslash to escape. */
            snprintf(info + n, sizeof info - n, "%s%s=\"%s\"", n ? "," : "", line, v);
        } else if (!strcmp(line, "flows") || !strcmp(line, "passthrough")) {
            fprintf(f,
                    "# HELP pdm_agent_%s The agent's %s (pdm agent --status).\n"
                    "# TYPE pdm_agent_%s gauge\npdm_agent_%s %s\n",
                    line, line, line, line, v);
        } else {
            fprintf(f,
                    "# HELP pdm_agent_%s_total Counter %s of pdm agent --status.\n"
                    "# TYPE pdm_agent_%s_total counter\npdm_agent_%s_total %s\n",
                    line, line, line, line, v);
        }
    }
    fprintf(f,
            "# HELP pdm_agent_info The running agent's set-up.\n"
            "# TYPE pdm_agent_info gauge\npdm_agent_info{%s} 1\n",
            info);
    free(text);
}

static void write_hist(FILE *f, struct agent_metrics *m, unsigned kind, const char *name,
                       const char *help)
{
    char pfx[INET6_ADDRSTRLEN];

    fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (size_t p = 0; p < m->npeers; p++) {
        const struct agent_peer *peer = &m->cfg->core.peers[p];
        uint64_t b[AGENT_METRICS_BOUNDS + 1] = {0}, sum = 0, cum = 0;

        for (unsigned s = 0; s < AGENT_SHARDS; s++) {
            struct hist *h = hist_of(m, s, p, kind);
            for (unsigned i = 0; i <= AGENT_METRICS_BOUNDS; i++)
                b[i] += __atomic_load_n(&h->bucket[i], __ATOMIC_RELAXED);
            sum += __atomic_load_n(&h->sum_ns, __ATOMIC_RELAXED);
        }
        inet_ntop(AF_INET6, peer->prefix, pfx, sizeof pfx);
        for (unsigned i = 0; i < AGENT_METRICS_BOUNDS; i++) {
            cum += b[i];
            fprintf(f, "%s_bucket{peer=\"%s/%u\",le=\"%g\"} %" PRIu64 "\n", name, pfx,
                    (unsigned)peer->plen, (double)bounds_ns[i] / 1e9, cum);
        }
        /* The count from the same reads as the buckets: +Inf and _count
         * always agree, even while packets come in. */
        cum += b[AGENT_METRICS_BOUNDS];
        fprintf(f, "%s_bucket{peer=\"%s/%u\",le=\"+Inf\"} %" PRIu64 "\n", name, pfx,
                (unsigned)peer->plen, cum);
        fprintf(f, "%s_sum{peer=\"%s/%u\"} %.9f\n", name, pfx, (unsigned)peer->plen,
                (double)sum / 1e9);
        fprintf(f, "%s_count{peer=\"%s/%u\"} %" PRIu64 "\n", name, pfx, (unsigned)peer->plen, cum);
    }
}

void agent_metrics_write(FILE *f, struct agent_rt *rt)
{
    write_counters(f, rt);
    if (rt->metrics == NULL)
        return;
    write_hist(f, rt->metrics, KIND_SERVER, "pdm_server_delay_seconds",
               "Time the peer held our last packet before it sent this one (its DeltaTLR).");
    write_hist(f, rt->metrics, KIND_RTD, "pdm_round_trip_delay_seconds",
               "Round trip to the peer: time since our packet it answers, less its DeltaTLR.");
}

/* ---- the socket --------------------------------------------------------------- */

static unsigned parse_port(const char *s)
{
    char *end;
    unsigned long v;

    if (!is_number(s))
        return 0;
    errno = 0;
    v = strtoul(s, &end, 10);
    return errno == 0 && v >= 1 && v <= 65535 ? (unsigned)v : 0;
}

int agent_metrics_parse_addr(const char *text, void *ss, size_t sscap, unsigned *sslen, char *err,
                             size_t errlen)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *colon = strrchr(text, ':');
    struct sockaddr_in6 s6;
    struct sockaddr_in s4;
    unsigned port;
    size_t hl;

    if (colon == NULL || (port = parse_port(colon + 1)) == 0)
        return tool_fail(err, errlen, "'%s' is not [ADDR]:PORT (PORT 1..65535)", text);
    hl = (size_t)(colon - text);
    if (hl >= sizeof host)
        return tool_fail(err, errlen, "'%s': address too long", text);
    memcpy(host, text, hl);
    host[hl] = '\0';
    memset(&s6, 0, sizeof s6);
    memset(&s4, 0, sizeof s4);
    s6.sin6_family = AF_INET6;
    s6.sin6_port = htons((uint16_t)port);
    s4.sin_family = AF_INET;
    s4.sin_port = htons((uint16_t)port);
    if (hl == 0) {
        s6.sin6_addr = in6addr_any; /* and IPv4 too: the socket is not v6-only */
    } else if (host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &s6.sin6_addr) != 1)
            return tool_fail(err, errlen, "'%s': '%s' is not an IPv6 address", text, host + 1);
    } else if (inet_pton(AF_INET, host, &s4.sin_addr) == 1) {
        if (sscap < sizeof s4)
            return tool_fail(err, errlen, "address buffer too small");
        memcpy(ss, &s4, sizeof s4);
        *sslen = (unsigned)sizeof s4;
        return 0;
    } else {
        return tool_fail(err, errlen, "'%s': '%s' is not an IPv4 address or [IPv6]", text, host);
    }
    if (sscap < sizeof s6)
        return tool_fail(err, errlen, "address buffer too small");
    memcpy(ss, &s6, sizeof s6);
    *sslen = (unsigned)sizeof s6;
    return 0;
}

static int listen_on(const char *text)
{
    struct sockaddr_storage ss;
    char err[256];
    unsigned sslen = 0;
    int fd, one = 1, zero = 0;

    if (agent_metrics_parse_addr(text, &ss, sizeof ss, &sslen, err, sizeof err) != 0) {
        tool_err("agent: --metrics %s", err);
        return -1;
    }
    if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        tool_err("agent: --metrics: socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, 16) != 0) {
        tool_err("agent: --metrics: cannot listen on %s: %s", text, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

struct agent_metrics *agent_metrics_new(const struct agent_config *cfg)
{
    struct agent_metrics *m = calloc(1, sizeof *m);
    size_t n;

    if (m == NULL)
        return NULL;
    m->cfg = cfg;
    m->npeers = cfg->core.npeers;
    m->lfd = -1;
    n = (size_t)AGENT_SHARDS * (m->npeers ? m->npeers : 1) * KINDS * sizeof(struct hist);
    if ((m->h = aligned_alloc(64, n)) == NULL) {
        free(m);
        return NULL;
    }
    memset(m->h, 0, n);
    return m;
}

int agent_metrics_listen(struct agent_rt *rt)
{
    const struct agent_config *cfg = rt->cfg;

    if (cfg->metrics_addr == NULL)
        return 0;
#ifndef AGENT_HAVE_MHD
    tool_err("agent: --metrics: this pdm was built without libmicrohttpd "
             "(install libmicrohttpd-dev and rebuild)");
    return -1;
#endif
    if ((rt->metrics = agent_metrics_new(cfg)) == NULL) {
        tool_err("agent: out of memory for --metrics");
        return -1;
    }
    return (rt->metrics->lfd = listen_on(cfg->metrics_addr)) < 0 ? -1 : 0;
}

#ifdef AGENT_HAVE_MHD
/* Runs in the HTTP thread: GET (or HEAD) /metrics only. */
static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    struct agent_rt *rt = cls;
    struct MHD_Response *resp;
    char *page = NULL;
    size_t len = 0;
    unsigned code = MHD_HTTP_OK;
    enum MHD_Result rv;
    FILE *f;

    (void)version;
    (void)upload;
    (void)upload_size;
    (void)state;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        code = MHD_HTTP_METHOD_NOT_ALLOWED;
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    } else if (strcmp(url, "/metrics") != 0) {
        static char nf[] = "not found: the agent serves /metrics\n";
        code = MHD_HTTP_NOT_FOUND;
        resp = MHD_create_response_from_buffer(sizeof nf - 1, nf, MHD_RESPMEM_PERSISTENT);
    } else {
        if ((f = open_memstream(&page, &len)) == NULL)
            return MHD_NO;
        agent_metrics_write(f, rt);
        if (fclose(f) != 0) {
            free(page);
            return MHD_NO;
        }
        resp = MHD_create_response_from_buffer(len, page, MHD_RESPMEM_MUST_FREE);
        if (resp == NULL)
            free(page);
        else
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                    "text/plain; version=0.0.4; charset=utf-8");
    }
    if (resp == NULL)
        return MHD_NO;
    rv = MHD_queue_response(conn, code, resp);
    MHD_destroy_response(resp);
    return rv;
}
#endif

int agent_metrics_start(struct agent_rt *rt)
{
    struct agent_metrics *m = rt->metrics;

    if (m == NULL)
        return 0;
#ifdef AGENT_HAVE_MHD
    /* One internal thread polls every connection: scrapes are rare and
     * small, and one thread is all the HTTP side ever costs. */
    m->daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL, answer, rt,
                         MHD_OPTION_LISTEN_SOCKET, m->lfd, MHD_OPTION_CONNECTION_LIMIT, 32u,
                         MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (m->daemon == NULL) {
        tool_err("agent: --metrics: libmicrohttpd did not start");
        return -1;
    }
    m->lfd = -1; /* the daemon's now: MHD_stop_daemon() closes it */
    return 0;
#else
    return -1;
#endif
}

void agent_metrics_free(struct agent_metrics *m)
{
    if (m == NULL)
        return;
#ifdef AGENT_HAVE_MHD
    if (m->daemon != NULL)
        MHD_stop_daemon(m->daemon);
#endif
    /* Bound but never handed to a daemon (the start failed or never came). */
    if (m->lfd >= 0)
        close(m->lfd);
    free(m->h);
    free(m);
}

void agent_metrics_stop(struct agent_rt *rt)
{
    agent_metrics_free(rt->metrics);
    rt->metrics = NULL;
}
