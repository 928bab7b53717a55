/*
 * The analyser's flow bookkeeping (analyze.h): endpoints for --server and
 * --flow, the analyser's context, the flow table behind the packet path's
 * cache (tools/analyze/core.c), each flow's roles, the per-source Global
 * Pointer figures, and the end-of-capture summaries.
 */
#include "analyze.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "conv.h"

#define FLOW_TABLE_START 1024

/* ---- endpoints ----------------------------------------------------------- */

int an_endpoint_parse(struct an_endpoint *ep, const char *s)
{
    char buf[64];
    const char *addr = NULL, *port = NULL;
    size_t n;

    memset(ep, 0, sizeof *ep);
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || (size_t)(close - s - 1) >= sizeof buf)
            return PDM_ERR_INVAL;
        memcpy(buf, s + 1, (size_t)(close - s - 1));
        buf[close - s - 1] = '\0';
        addr = buf;
        if (close[1] == ':')
            port = close + 2;
        else if (close[1] != '\0')
            return PDM_ERR_INVAL;
    } else if (s[0] == ':' && s[1] != ':') {
        port = s + 1;
    } else {
        if ((n = strlen(s)) >= sizeof buf)
            return PDM_ERR_INVAL;
        memcpy(buf, s, n + 1);
        addr = buf;
    }
    if (addr) {
        if (inet_pton(AF_INET6, addr, ep->addr) != 1)
            return PDM_ERR_INVAL;
        ep->has_addr = 1;
    }
    if (port) {
        unsigned long v = 0;
        if (*port == '\0')
            return PDM_ERR_INVAL;
        for (const char *p = port; *p; p++) {
            if (*p < '0' || *p > '9' || (v = v * 10 + (unsigned long)(*p - '0')) > 65535)
                return PDM_ERR_INVAL;
        }
        ep->port = (uint16_t)v;
        ep->has_port = 1;
    }
    return ep->has_addr || ep->has_port ? 0 : PDM_ERR_INVAL;
}

static int ep_match(const struct an_endpoint *ep, const uint8_t addr[16], uint16_t port)
{
    return (!ep->has_addr || memcmp(ep->addr, addr, 16) == 0) &&
           (!ep->has_port || ep->port == port);
}

void an_addr_str(const uint8_t addr[16], char *buf, size_t len)
{
    if (!inet_ntop(AF_INET6, addr, buf, (socklen_t)len) && len)
        buf[0] = '\0';
}

/* ---- contexts ------------------------------------------------------------ */

int an_new(struct an_ctx **out, const struct an_opts *o)
{
    uint8_t hk[PDM_FLOW_HASH_KEY_SIZE];
    struct an_ctx *a;
    int rv;

    *out = NULL;
    if (!(a = calloc(1, sizeof *a)))
        return PDM_ERR_NOMEM;
    a->o = *o;
    a->rng = 0x9e3779b97f4a7c15ull;
    /* A keyed hash so that a crafted capture cannot aim every flow at one
     * bucket; getrandom failing only costs that protection. */
    if (getrandom(hk, sizeof hk, 0) != (ssize_t)sizeof hk)
        memset(hk, 0x5a, sizeof hk);
    a->table_cap = FLOW_TABLE_START;
    if ((rv = pdm_flow_table_new(&a->table, a->table_cap, 0, hk)) != 0) {
        free(a);
        return rv;
    }
    *out = a;
    return 0;
}

static void dir_free(struct an_dir *d)
{
    if (d->rx)
        an_rx_free(d->rx);
    free(d->rn_ring);
}

void an_free(struct an_ctx *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nflows; i++) {
        struct an_flow *f = a->flows[i];
        dir_free(&f->dir[0]);
        dir_free(&f->dir[1]);
        for (int k = 0; k < AN_KINDS; k++)
            an_series_free(&f->series[k]);
        free(f);
    }
    free(a->flows);
    free(a->sources);
    free(a->src_hash);
    free(a->scratch);
    pdm_flow_table_free(a->table);
    free(a);
}

/* The table is sized once per capacity; when it fills up, a table of
 * twice the capacity takes over every flow (same canonical keys, so the
 * same directions). Analysis only: a daemon would expire flows instead. */
static int table_grow(struct an_ctx *a)
{
    uint8_t hk[PDM_FLOW_HASH_KEY_SIZE];
    struct pdm_flow_table *nt;
    struct pdm_flow *f, *nf;
    struct pdm_flow_tuple t;
    size_t pos = 0;
    int rv;

    if (a->table_cap >= PDM_FLOW_CAPACITY_MAX / 2)
        return PDM_ERR_FULL;
    if (getrandom(hk, sizeof hk, 0) != (ssize_t)sizeof hk)
        memset(hk, 0xa5, sizeof hk);
    if ((rv = pdm_flow_table_new(&nt, a->table_cap * 2, 0, hk)) != 0)
        return rv;
    while ((f = pdm_flow_table_next(a->table, &pos)) != NULL) {
        pdm_flow_tuple_get(f, 0, &t);
        if ((rv = pdm_flow_get(nt, &t, f->last_used_ns, 0, &nf, NULL)) < 0) {
            pdm_flow_table_free(nt);
            return rv;
        }
        nf->user = f->user;
    }
    pdm_flow_table_free(a->table);
    a->table = nt;
    a->table_cap *= 2;
    return 0;
}

static uint64_t addr_hash(const uint8_t addr[16])
{
    uint64_t x = pdm_get_u64be(addr) * 0x9e3779b97f4a7c15ull ^ pdm_get_u64be(addr + 8);
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    return x ^ (x >> 32);
}

/* Index + 1 of the source with this address, created if new; 0 when out
 * of memory. */
static uint32_t source_get(struct an_ctx *a, const uint8_t addr[16])
{
    size_t mask, i;

    if ((a->nsources + 1) * 2 > a->src_hash_cap) {
        size_t ncap = a->src_hash_cap ? a->src_hash_cap * 2 : 64;
        uint32_t *h = calloc(ncap, sizeof *h);
        if (!h)
            return 0;
        for (size_t s = 0; s < a->nsources; s++) {
            i = addr_hash(a->sources[s].addr) & (ncap - 1);
            while (h[i])
                i = (i + 1) & (ncap - 1);
            h[i] = (uint32_t)s + 1;
        }
        free(a->src_hash);
        a->src_hash = h;
        a->src_hash_cap = ncap;
    }
    mask = a->src_hash_cap - 1;
    for (i = addr_hash(addr) & mask; a->src_hash[i]; i = (i + 1) & mask)
        if (memcmp(a->sources[a->src_hash[i] - 1].addr, addr, 16) == 0)
            return a->src_hash[i];
    if (a->nsources == a->sources_cap) {
        size_t ncap = a->sources_cap ? a->sources_cap * 2 : 16;
        struct an_source *s = realloc(a->sources, ncap * sizeof *s);
        if (!s)
            return 0;
        a->sources = s;
        a->sources_cap = ncap;
    }
    memset(&a->sources[a->nsources], 0, sizeof a->sources[0]);
    memcpy(a->sources[a->nsources].addr, addr, 16);
    a->src_hash[i] = (uint32_t)++a->nsources;
    return a->src_hash[i];
}

void an_tuple_swap(struct pdm_flow_tuple *out, const struct pdm_flow_tuple *in)
{
    memset(out, 0, sizeof *out);
    memcpy(out->src, in->dst, 16);
    memcpy(out->dst, in->src, 16);
    out->sport = in->dport;
    out->dport = in->sport;
    out->proto = in->proto;
}

int an_flow_filtered(const struct an_ctx *a, const struct pdm_flow_tuple *t)
{
    if (a->o.nflows == 0)
        return 0;
    for (size_t i = 0; i < a->o.nflows; i++)
        if (ep_match(&a->o.flows[i], t->src, t->sport) ||
            ep_match(&a->o.flows[i], t->dst, t->dport))
            return 0;
    return 1;
}

/* Creates the analysis record of a flow first seen with packet tuple t
 * travelling in direction dir. */
static struct an_flow *flow_create(struct an_ctx *a, const struct pdm_flow_tuple *t, unsigned dir,
                                   uint64_t ts_ns)
{
    struct an_flow *f;
    int sender_is_server = 0;

    if (a->nflows == a->flows_cap) {
        size_t ncap = a->flows_cap ? a->flows_cap * 2 : 16;
        struct an_flow **p = realloc(a->flows, ncap * sizeof *p);
        if (!p)
            return NULL;
        a->flows = p;
        a->flows_cap = ncap;
    }
    if (!(f = calloc(1, sizeof *f)))
        return NULL;
    /* Roles: --server first (its end receives from the client), else the
     * first sender is the client. */
    for (size_t i = 0; i < a->o.nservers; i++) {
        if (ep_match(&a->o.servers[i], t->dst, t->dport)) {
            f->role_forced = 1;
            break;
        }
        if (ep_match(&a->o.servers[i], t->src, t->sport)) {
            f->role_forced = 1;
            sender_is_server = 1;
            break;
        }
    }
    if (sender_is_server) {
        an_tuple_swap(&f->tup, t);
        f->client_dir = dir ^ 1;
    } else {
        f->tup = *t;
        f->client_dir = dir;
    }
    f->first_ns = ts_ns;
    pdm_metrics_init(&f->m);
    a->flows[a->nflows++] = f;
    return f;
}

struct an_flow *an_flow_lookup(struct an_ctx *a, const struct pdm_flow_tuple *t, uint64_t ts_ns,
                               unsigned *role)
{
    struct pdm_flow *pf;
    struct an_flow *f;
    unsigned dir;
    int rv;

    while ((rv = pdm_flow_get(a->table, t, ts_ns, 0, &pf, &dir)) == PDM_ERR_FULL)
        if (table_grow(a) != 0)
            return NULL;
    if (rv < 0)
        return NULL;
    if (pf->user == 0) {
        if (!(f = flow_create(a, t, dir, ts_ns))) {
            pdm_flow_remove(a->table, pf);
            return NULL;
        }
        pf->user = a->nflows;
    }
    f = a->flows[pf->user - 1];
    *role = dir == f->client_dir ? AN_CLIENT : AN_SERVER;
    return f;
}

/* ---- end of capture ------------------------------------------------------ */

/* Per-source Global Pointer figures: the union of the directions that
 * source sends in (a node's counter covers all its flows, PROFILE §2). */
static int sources_collect(struct an_ctx *a)
{
    for (size_t i = 0; i < a->nflows; i++) {
        const struct an_flow *f = a->flows[i];
        for (unsigned r = 0; r < 2; r++) {
            const struct an_dir *d = &f->dir[r];
            uint32_t idx;
            struct an_source *s;
            if (d->gp_count == 0)
                continue;
            if ((idx = source_get(a, r == AN_CLIENT ? f->tup.src : f->tup.dst)) == 0)
                return PDM_ERR_NOMEM;
            s = &a->sources[idx - 1];
            if (s->packets == 0 || d->gp_min < s->gp_min)
                s->gp_min = d->gp_min;
            if (s->packets == 0 || d->gp_max > s->gp_max)
                s->gp_max = d->gp_max;
            if (s->packets == 0 || d->gp_first_ns < s->first_ns)
                s->first_ns = d->gp_first_ns;
            if (s->packets == 0 || d->gp_last_ns > s->last_ns)
                s->last_ns = d->gp_last_ns;
            s->packets += d->gp_count;
        }
    }
    return 0;
}

/* an_series_add() with its common case inline: room in the arrays (cap
 * never exceeds max_samples, so no reservoir decision either). */
int an_finish(struct an_ctx *a)
{
    int rv;

    if ((rv = sources_collect(a)) != 0)
        return rv;
    for (size_t i = 0; i < a->nflows; i++) {
        struct an_flow *f = a->flows[i];
        for (unsigned r = 0; r < 2; r++) {
            struct an_dir *d = &f->dir[r];
            d->lost = pdm_metrics_lost(&f->m, r);
            d->reordered = f->m.seq[r].reordered;
            d->duplicates = f->m.seq[r].duplicates;
            d->late = f->m.seq[r].late;
        }
        const struct pdm_metrics_stat *st[AN_KINDS] = {&f->m.server_delay, &f->m.client_delay,
                                                       &f->m.rtd};
        for (int k = 0; k < AN_KINDS; k++)
            if ((rv = an_series_summary(&f->series[k], st[k], &f->sum[k])) != 0)
                return rv;
        /* Only a round trip is a difference, so only it can come out
         * negative (server and client delays are one sender's DeltaTLR). */
        f->sum[AN_RTD].negative = f->m.rtd_negative;
    }
    return 0;
}

const char *an_flow_format(const struct an_flow *f)
{
    switch (f->formats) {
    case AN_FMT_BIT(PDM_FORMAT_RFC8250):
        return "pdm";
    case AN_FMT_BIT(PDM_FORMAT_V2):
        return "v2";
    case AN_FMT_BIT(PDM_FORMAT_V2_ENCRYPTED):
        return "v2-encrypted";
    case AN_FMT_BIT(PDM_FORMAT_V2_14): /* draft -14, recognised by its Length 22 */
        return "v2-14";
    case 0:
        return "none";
    default:
        return "mixed";
    }
}

double an_gp_rate(uint32_t gp_min, uint32_t gp_max, uint64_t t0, uint64_t t1)
{
    if (gp_max <= gp_min || t1 <= t0)
        return -1.0;
    return (double)(gp_max - gp_min) * 1e9 / (double)(t1 - t0);
}
