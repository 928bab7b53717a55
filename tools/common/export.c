/*
 * The per-flow aggregator of the fleet export (export.h): a flow table of
 * its own (open addressing over the unordered address/port pair, rebuilt
 * when it grows or when a flush forgot flows), pdm_metrics per flow, and
 * per-interval deltas.
 */
#include "export.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct ent {
    struct pdm_flow_tuple tup; /* client -> server */
    struct pdm_metrics m;
    struct exp_stat iv[EXP_KINDS]; /* this interval's samples */
    uint64_t iv_packets, iv_auth, iv_start, iv_end;
    uint64_t done_lost, done_reordered, done_duplicates; /* exported so far */
};

struct exp_agg {
    pthread_mutex_t lock;
    struct ent **e;
    size_t n, cap, max;
    uint32_t *idx; /* entry index + 1, 0 empty */
    size_t idx_cap;
    uint64_t dropped;
    struct exp_rec *out; /* flush's copies */
    size_t out_cap;
};

void exp_stat_from(struct exp_stat *s, const struct pdm_metrics_stat *st)
{
    s->count = st->count;
    s->sum = st->sum > (pdm_u128)UINT64_MAX ? UINT64_MAX : (uint64_t)st->sum;
    s->min = st->count ? st->min : 0;
    s->max = st->count ? st->max : 0;
}

static void stat_add(struct exp_stat *s, uint64_t v)
{
    if (s->count == 0 || v < s->min)
        s->min = v;
    if (s->count == 0 || v > s->max)
        s->max = v;
    s->count++;
    s->sum = s->sum > UINT64_MAX - v ? UINT64_MAX : s->sum + v;
}

/* Same value for both directions of a flow. */
static uint64_t pair_hash(const struct pdm_flow_tuple *t)
{
    uint64_t a = 0, b = 0;
    for (int i = 0; i < 16; i += 8) {
        uint64_t x, y;
        memcpy(&x, t->src + i, 8);
        memcpy(&y, t->dst + i, 8);
        a = a * 0x9e3779b97f4a7c15ull ^ x;
        b = b * 0x9e3779b97f4a7c15ull ^ y;
    }
    a ^= t->sport;
    b ^= t->dport;
    uint64_t h = (a ^ b) + (a & b) * 3 + t->proto; /* symmetric in a, b */
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 29);
}

static int same(const struct pdm_flow_tuple *a, const struct pdm_flow_tuple *b)
{
    return a->sport == b->sport && a->dport == b->dport && a->proto == b->proto &&
           !memcmp(a->src, b->src, 16) && !memcmp(a->dst, b->dst, 16);
}

static void swap_tuple(struct pdm_flow_tuple *o, const struct pdm_flow_tuple *t)
{
    memset(o, 0, sizeof *o);
    memcpy(o->src, t->dst, 16);
    memcpy(o->dst, t->src, 16);
    o->sport = t->dport;
    o->dport = t->sport;
    o->proto = t->proto;
}

/* Fills idx (cap entries, zeroed; NULL: allocated here) from g->e and
 * makes it g's index. */
static int index_build(struct exp_agg *g, size_t cap, uint32_t *idx)
{
    if (!idx && !(idx = calloc(cap, sizeof *idx)))
        return PDM_ERR_NOMEM;
    for (size_t k = 0; k < g->n; k++) {
        size_t i = pair_hash(&g->e[k]->tup) & (cap - 1);
        while (idx[i])
            i = (i + 1) & (cap - 1);
        idx[i] = (uint32_t)k + 1;
    }
    free(g->idx);
    g->idx = idx;
    g->idx_cap = cap;
    return 0;
}

int exp_agg_new(struct exp_agg **out, size_t max_flows)
{
    struct exp_agg *g = calloc(1, sizeof *g);

    *out = NULL;
    if (!g)
        return PDM_ERR_NOMEM;
    g->max = max_flows ? max_flows : 1;
    if (index_build(g, 64, NULL) != 0) {
        free(g);
        return PDM_ERR_NOMEM;
    }
    pthread_mutex_init(&g->lock, NULL);
    *out = g;
    return 0;
}

void exp_agg_free(struct exp_agg *g)
{
    if (!g)
        return;
    for (size_t k = 0; k < g->n; k++)
        free(g->e[k]);
    free(g->e);
    free(g->idx);
    free(g->out);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

/* The flow of t (created when new, the sender as its client); *role the
 * sender's. NULL when full or out of memory. Lock held. */
static struct ent *lookup(struct exp_agg *g, const struct pdm_flow_tuple *t, unsigned *role)
{
    struct pdm_flow_tuple rev;
    size_t mask = g->idx_cap - 1, i;
    struct ent *e;

    swap_tuple(&rev, t);
    for (i = pair_hash(t) & mask; g->idx[i]; i = (i + 1) & mask) {
        e = g->e[g->idx[i] - 1];
        if (same(&e->tup, t)) {
            *role = PDM_METRICS_FROM_CLIENT;
            return e;
        }
        if (same(&e->tup, &rev)) {
            *role = PDM_METRICS_FROM_SERVER;
            return e;
        }
    }
    if (g->n >= g->max)
        return NULL;
    if (g->n == g->cap) {
        size_t ncap = g->cap ? g->cap * 2 : 16;
        struct ent **p = realloc(g->e, ncap * sizeof *p);
        if (!p)
            return NULL;
        g->e = p;
        g->cap = ncap;
    }
    if (!(e = calloc(1, sizeof *e)))
        return NULL;
    memset(&e->tup, 0, sizeof e->tup);
    memcpy(e->tup.src, t->src, 16);
    memcpy(e->tup.dst, t->dst, 16);
    e->tup.sport = t->sport;
    e->tup.dport = t->dport;
    e->tup.proto = t->proto;
    pdm_metrics_init(&e->m);
    g->e[g->n++] = e;
    if (g->n * 2 > g->idx_cap) {
        if (index_build(g, g->idx_cap * 2, NULL) != 0) {
            free(g->e[--g->n]);
            return NULL;
        }
    } else {
        g->idx[i] = (uint32_t)g->n;
    }
    *role = PDM_METRICS_FROM_CLIENT;
    return e;
}

/* An option behind the highest PSN keeps its sequence accounting but gives
 * no delay (tools/analyze/core.c does the same). */
static int psn_behind(const struct pdm_metrics_seq *q, uint16_t psn)
{
    uint16_t ahead = (uint16_t)(psn - (uint16_t)q->highest);
    return q->started && (ahead == 0 || ahead >= 0x8000u);
}

int exp_agg_add(struct exp_agg *g, const struct pdm_flow_tuple *tup, uint64_t ts_ns,
                const struct pdm_fields *f)
{
    struct pdm_metrics_sample smp;
    struct ent *e;
    unsigned r;

    pthread_mutex_lock(&g->lock);
    if (!(e = lookup(g, tup, &r))) {
        g->dropped++;
        pthread_mutex_unlock(&g->lock);
        return PDM_ERR_FULL;
    }
    if (e->iv_packets == 0)
        e->iv_start = ts_ns;
    e->iv_end = ts_ns;
    e->iv_packets++;
    if (!f) {
        e->iv_auth++;
    } else {
        struct pdm_fields mf = *f;
        if (psn_behind(&e->m.seq[r], f->psntp)) {
            mf.delta_tlr = mf.delta_tls = mf.psnlr = 0;
            mf.scale_dtlr = mf.scale_dtls = 0;
        }
        if (pdm_metrics_update(&e->m, r, ts_ns, &mf, &smp) >= 0) {
            if (smp.have & PDM_METRICS_HAVE_SERVER_DELAY)
                stat_add(&e->iv[EXP_SERVER_DELAY], smp.server_delay_ns);
            if (smp.have & PDM_METRICS_HAVE_CLIENT_DELAY)
                stat_add(&e->iv[EXP_CLIENT_DELAY], smp.client_delay_ns);
            if (smp.have & PDM_METRICS_HAVE_RTD)
                stat_add(&e->iv[EXP_RTD], smp.rtd_ns);
        }
    }
    pthread_mutex_unlock(&g->lock);
    return 0;
}

static uint64_t delta(uint64_t now, uint64_t *done)
{
    uint64_t d = now > *done ? now - *done : 0;
    *done += d;
    return d;
}

/* The interval's record of e; ending: the flow goes away, so the PSNs
 * still missing in the window count as lost. */
static void take(struct ent *e, int ending, struct exp_rec *r)
{
    uint64_t lost = 0, reo = 0, dup = 0;

    for (unsigned d = 0; d < 2; d++) {
        lost += ending ? pdm_metrics_lost(&e->m, d) : e->m.seq[d].lost;
        reo += e->m.seq[d].reordered;
        dup += e->m.seq[d].duplicates;
    }
    memset(r, 0, sizeof *r);
    r->tup = e->tup;
    r->start_ns = e->iv_start;
    r->end_ns = e->iv_end;
    r->packets = e->iv_packets;
    r->auth_failures = e->iv_auth;
    r->lost = delta(lost, &e->done_lost);
    r->reordered = delta(reo, &e->done_reordered);
    r->duplicates = delta(dup, &e->done_duplicates);
    memcpy(r->delay, e->iv, sizeof r->delay);
    memset(e->iv, 0, sizeof e->iv);
    e->iv_packets = e->iv_auth = 0;
}

int exp_agg_flush(struct exp_agg *g, uint64_t now_ns, uint64_t idle_ns, int final, exp_emit_fn fn,
                  void *arg)
{
    size_t nout = 0, keep = 0, cap = 64;
    uint32_t *nidx;

    pthread_mutex_lock(&g->lock);
    /* The index for after the flows that end are gone, allocated first:
     * without it no flow is forgotten this time. */
    while (cap < g->n * 2)
        cap *= 2;
    nidx = calloc(cap, sizeof *nidx);
    if (g->out_cap < g->n) {
        struct exp_rec *p = realloc(g->out, g->n * sizeof *p);
        if (!p) {
            free(nidx);
            pthread_mutex_unlock(&g->lock);
            return PDM_ERR_NOMEM;
        }
        g->out = p;
        g->out_cap = g->n;
    }
    for (size_t k = 0; k < g->n; k++) {
        struct ent *e = g->e[k];
        uint64_t last = e->m.last_ns > e->iv_end ? e->m.last_ns : e->iv_end;
        int ending = nidx && (final || (now_ns >= last && now_ns - last >= idle_ns));
        /* An ending flow with missing PSNs still has something to say. */
        if (e->iv_packets ||
            (ending && pdm_metrics_lost(&e->m, 0) + pdm_metrics_lost(&e->m, 1) > e->done_lost)) {
            take(e, ending, &g->out[nout]);
            if (g->out[nout].packets == 0)
                g->out[nout].start_ns = g->out[nout].end_ns = last;
            nout++;
        }
        if (ending)
            free(e);
        else
            g->e[keep++] = e;
    }
    if (keep != g->n) {
        g->n = keep;
        index_build(g, cap, nidx); /* cannot fail: nidx is there */
    } else {
        free(nidx);
    }
    pthread_mutex_unlock(&g->lock);
    for (size_t k = 0; k < nout; k++)
        fn(arg, &g->out[k]);
    return (int)nout;
}

uint64_t exp_agg_dropped(struct exp_agg *g)
{
    uint64_t d;
    pthread_mutex_lock(&g->lock);
    d = g->dropped;
    pthread_mutex_unlock(&g->lock);
    return d;
}
