/* Tests for the flow table, the RFC 8250 send/receive rules and the Global
 * Pointer counters (lib/flow.c). Fixed clock, fixed "random" inputs. */
#include "harness.h"

#include <arpa/inet.h>
#include <time.h>

#include <pdm/flow.h>
#include <pdm/time.h>

#define MS ((uint64_t)1000000)
#define S  1000000000ull

static const uint8_t KEY1[PDM_FLOW_HASH_KEY_SIZE] = {1, 2,  3,  4,  5,  6,  7,  8,
                                                     9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t KEY2[PDM_FLOW_HASH_KEY_SIZE] = {1, 2,  3,  4,  5,  6,  7,  8,
                                                     9, 10, 11, 12, 13, 14, 15, 17};

static struct pdm_flow_tuple mk(const char *src, uint16_t sport, const char *dst, uint16_t dport,
                                uint8_t proto)
{
    struct pdm_flow_tuple t;
    memset(&t, 0, sizeof t);
    if (inet_pton(AF_INET6, src, t.src) != 1 || inet_pton(AF_INET6, dst, t.dst) != 1)
        abort();
    t.sport = sport;
    t.dport = dport;
    t.proto = proto;
    return t;
}

static struct pdm_flow_tuple rev(const struct pdm_flow_tuple *t)
{
    struct pdm_flow_tuple r = *t;
    memcpy(r.src, t->dst, 16);
    memcpy(r.dst, t->src, 16);
    r.sport = t->dport;
    r.dport = t->sport;
    return r;
}

static int tuple_eq(const struct pdm_flow_tuple *a, const struct pdm_flow_tuple *b)
{
    return memcmp(a->src, b->src, 16) == 0 && memcmp(a->dst, b->dst, 16) == 0 &&
           a->sport == b->sport && a->dport == b->dport && a->proto == b->proto;
}

/* Deterministic tuple number i (distinct for distinct i < 2^32). */
static struct pdm_flow_tuple tuple_n(uint32_t i)
{
    struct pdm_flow_tuple t;
    memset(&t, 0, sizeof t);
    t.src[0] = 0x20, t.src[1] = 0x01, t.src[2] = 0x0d, t.src[3] = 0xb8;
    t.dst[0] = 0x20, t.dst[1] = 0x01, t.dst[2] = 0x0d, t.dst[3] = 0xb8, t.dst[5] = 1;
    t.src[12] = (uint8_t)(i >> 24), t.src[13] = (uint8_t)(i >> 16);
    t.src[14] = (uint8_t)(i >> 8), t.src[15] = (uint8_t)i;
    t.dst[15] = (uint8_t)(i % 7);
    t.sport = (uint16_t)(1024 + i % 50000);
    t.dport = 443;
    t.proto = 6;
    return t;
}

static void test_insert_lookup(void)
{
    struct pdm_flow_table *t = NULL;
    CHECK_INT(pdm_flow_table_new(&t, 16, 0, KEY1), 0);
    if (!t)
        return;
    struct pdm_flow_tuple c2s = mk("2001:db8::2", 40000, "2001:db8::1", 443, 6);
    struct pdm_flow_tuple s2c = rev(&c2s);
    struct pdm_flow *f = NULL, *g = NULL;
    unsigned d = 9, e = 9;

    CHECK_INT(pdm_flow_lookup(t, &c2s, &f, &d), PDM_ERR_NOT_FOUND);
    CHECK_INT(pdm_flow_get(t, &c2s, 100, 0x22221111u, &f, &d), 1);
    CHECK_INT(pdm_flow_table_count(t), 1);
    /* ::1 < ::2, so the server (::1) is endpoint A: client → server is 1. */
    CHECK_INT(d, 1);
    CHECK_INT(f->dir[0].psn_next, 0x1111);
    CHECK_INT(f->dir[1].psn_next, 0x2222);
    CHECK_INT(f->last_used_ns, 100);
    CHECK_INT(f->user, 0);
    CHECK(pdm_flow_ext(t, f) == NULL); /* a table without extension */
    CHECK_INT(pdm_flow_table_ext_size(t), 0);

    CHECK_INT(pdm_flow_lookup(t, &s2c, &g, &e), 0);
    CHECK(g == f);
    CHECK_INT(e, 0);
    CHECK_INT(pdm_flow_get(t, &s2c, 200, 0, &g, &e), 0); /* found: no new flow */
    CHECK(g == f);
    CHECK_INT(e, 0);
    CHECK_INT(f->last_used_ns, 200);
    CHECK_INT(pdm_flow_table_count(t), 1);
    CHECK_INT(pdm_flow_hash(t, &c2s) == pdm_flow_hash(t, &s2c), 1);

    struct pdm_flow_tuple back;
    pdm_flow_tuple_get(f, 1, &back);
    CHECK(tuple_eq(&back, &c2s));
    pdm_flow_tuple_get(f, 0, &back);
    CHECK(tuple_eq(&back, &s2c));

    /* Anything else in the 5-tuple makes another flow. */
    struct pdm_flow_tuple other = c2s;
    other.proto = 17;
    CHECK_INT(pdm_flow_lookup(t, &other, &g, NULL), PDM_ERR_NOT_FOUND);
    CHECK_INT(pdm_flow_get(t, &other, 300, 0, &g, NULL), 1);
    CHECK(g != f);
    other = c2s;
    other.sport = 40001;
    CHECK_INT(pdm_flow_lookup(t, &other, &g, NULL), PDM_ERR_NOT_FOUND);
    other = c2s;
    other.src[15] = 3;
    CHECK_INT(pdm_flow_lookup(t, &other, &g, NULL), PDM_ERR_NOT_FOUND);

    /* Same address, ports decide the order; equal endpoints: direction 0. */
    struct pdm_flow_tuple lo = mk("::1", 5000, "::1", 4000, 17);
    CHECK_INT(pdm_flow_get(t, &lo, 400, 0, &g, &d), 1);
    CHECK_INT(d, 1);
    struct pdm_flow_tuple lor = rev(&lo);
    CHECK_INT(pdm_flow_lookup(t, &lor, &f, &d), 0);
    CHECK(f == g);
    CHECK_INT(d, 0);
    struct pdm_flow_tuple self = mk("::1", 7, "::1", 7, 58);
    CHECK_INT(pdm_flow_get(t, &self, 400, 0, &g, &d), 1);
    CHECK_INT(d, 0);
    CHECK_INT(pdm_flow_table_count(t), 4);

    /* Iteration visits each flow once; removal works while iterating. */
    size_t pos = 0, n = 0;
    while ((f = pdm_flow_table_next(t, &pos)) != NULL) {
        n++;
        if (f == g)
            pdm_flow_remove(t, f);
    }
    CHECK_INT(n, 4);
    CHECK_INT(pdm_flow_table_count(t), 3);
    CHECK_INT(pdm_flow_lookup(t, &self, &f, NULL), PDM_ERR_NOT_FOUND);
    pdm_flow_table_free(t);

    /* Argument checks. */
    t = (struct pdm_flow_table *)1;
    CHECK_INT(pdm_flow_table_new(&t, 0, 0, KEY1), PDM_ERR_INVAL);
    CHECK_INT(pdm_flow_table_new(&t, PDM_FLOW_CAPACITY_MAX + 1, 0, KEY1), PDM_ERR_INVAL);
    CHECK_INT(pdm_flow_table_new(NULL, 1, 0, KEY1), PDM_ERR_INVAL);
    CHECK_INT(pdm_flow_table_new(&t, 1, 0, NULL), PDM_ERR_INVAL);
    CHECK(t == (struct pdm_flow_table *)1); /* untouched on error */
}

static void check_fields(const struct pdm_fields *p, uint16_t psntp, uint16_t psnlr, uint16_t dtlr,
                         uint8_t sdtlr, uint16_t dtls, uint8_t sdtls)
{
    CHECK_INT(p->psntp, psntp);
    CHECK_INT(p->psnlr, psnlr);
    CHECK_INT(p->delta_tlr, dtlr);
    CHECK_INT(p->scale_dtlr, sdtlr);
    CHECK_INT(p->delta_tls, dtls);
    CHECK_INT(p->scale_dtls, sdtls);
    CHECK_INT(p->global_pointer, 0);
}

/*
 * The brief's exchange, one flow table per host, client below server in
 * address order (client → server is direction 0):
 *   t=0     client sends P1
 *   t=1ms   server receives P1
 *   t=6ms   server sends P2           server delay 5 ms
 *   t=8ms   client receives P2
 *   t=9ms   client sends P3           client delay 1 ms, RTD 8 − 5 = 3 ms
 *   t=10ms  server receives P3
 *   t=12ms  server sends P4           DeltaTLR 2 ms, DeltaTLS 10 − 6 = 4 ms
 * Expected encodings computed by hand (PROFILE §2 rule):
 *   1 ms = 10^15 as: bitlen 50 → (58207, 34); 2 ms → (58207, 35);
 *   4 ms → (58207, 36); 8 ms → (58207, 37); 5 ms = 5·10^15 as: bitlen 53
 *   → scale 37, 5·10^15 >> 37 = 36379.
 */
static void test_scripted_exchange(void)
{
    struct pdm_flow_table *tc = NULL, *ts = NULL;
    CHECK_INT(pdm_flow_table_new(&tc, 8, 0, KEY1), 0);
    CHECK_INT(pdm_flow_table_new(&ts, 8, 0, KEY2), 0);
    if (!tc || !ts)
        return;
    struct pdm_flow_tuple c2s = mk("2001:db8::10", 50000, "2001:db8::20", 80, 6);
    struct pdm_flow_tuple s2c = rev(&c2s);
    struct pdm_flow *fc, *fs;
    unsigned dc, ds;
    struct pdm_fields p;

    /* Client: PSNTP starts at 1000 (dir 0); server: 5000 (dir 1). */
    CHECK_INT(pdm_flow_get(tc, &c2s, 0, (uint32_t)7 << 16 | 1000, &fc, &dc), 1);
    CHECK_INT(dc, 0);
    pdm_flow_on_send(fc, dc, 0, &p);
    check_fields(&p, 1000, 0, 0, 0, 0, 0);
    uint16_t p1 = p.psntp;

    CHECK_INT(pdm_flow_get(ts, &c2s, 1 * MS, (uint32_t)5000 << 16 | 7, &fs, &ds), 1);
    CHECK_INT(ds, 0);
    pdm_flow_on_recv(fs, ds, 1 * MS, p1);
    CHECK_INT(pdm_flow_get(ts, &s2c, 6 * MS, 0, &fs, &ds), 0);
    CHECK_INT(ds, 1);
    pdm_flow_on_send(fs, ds, 6 * MS, &p);
    check_fields(&p, 5000, 1000, 36379, 37, 0, 0);
    uint16_t p2 = p.psntp;

    CHECK_INT(pdm_flow_get(tc, &s2c, 8 * MS, 0, &fc, &dc), 0);
    CHECK_INT(dc, 1);
    pdm_flow_on_recv(fc, dc, 8 * MS, p2);
    pdm_flow_on_send(fc, 0, 9 * MS, &p);
    check_fields(&p, 1001, 5000, 58207, 34, 58207, 37);
    uint16_t p3 = p.psntp;

    pdm_flow_on_recv(fs, 0, 10 * MS, p3);
    pdm_flow_on_send(fs, 1, 12 * MS, &p);
    check_fields(&p, 5001, 1001, 58207, 35, 58207, 36);

    /* A second client packet with nothing received in between: PSNLR,
     * DeltaTLS unchanged, DeltaTLR grows (13 − 8 = 5 ms). */
    pdm_flow_on_send(fc, 0, 13 * MS, &p);
    check_fields(&p, 1002, 5000, 36379, 37, 58207, 37);

    /* State as documented. */
    CHECK_INT(fc->dir[0].flags, PDM_FLOW_SENT | PDM_FLOW_RECEIVED | PDM_FLOW_SENT_BEFORE_RECV);
    CHECK_INT(fc->dir[0].last_sent_ns, 13 * MS);
    CHECK_INT(fc->dir[0].last_recv_ns, 8 * MS);
    CHECK_INT(fc->dir[0].sent_before_recv_ns, 0);
    CHECK_INT(fc->dir[1].flags, 0); /* the client never sends as the server */
    CHECK_INT(fs->dir[1].sent_before_recv_ns, 6 * MS);
    CHECK_INT(fc->last_used_ns, 13 * MS);

    /* A clock that goes back gives 0, not a huge delta. */
    pdm_flow_on_recv(fc, 1, 20 * MS, 5001);
    pdm_flow_on_send(fc, 0, 19 * MS, &p);
    /* DeltaTLR = 19 − 20 < 0 → 0; DeltaTLS = 20 − 13 = 7 ms = 7·10^15 as:
     * bitlen 53 → scale 37, 7·10^15 >> 37 = 50931. */
    check_fields(&p, 1003, 5001, 0, 0, 50931, 37);
    pdm_flow_table_free(tc);
    pdm_flow_table_free(ts);
}

/* Ten round trips with an irregular schedule, client ABOVE server in address
 * order (client → server is direction 1), client PSNTP wrapping through 0.
 * Expected values from the definitions, independently of the table. */
static void test_ping_pong(void)
{
    struct pdm_flow_table *tc = NULL, *ts = NULL;
    CHECK_INT(pdm_flow_table_new(&tc, 8, 0, KEY1), 0);
    CHECK_INT(pdm_flow_table_new(&ts, 8, 0, KEY1), 0);
    if (!tc || !ts)
        return;
    struct pdm_flow_tuple c2s = mk("2001:db8::ff", 33333, "2001:db8::1", 53, 17);
    struct pdm_flow_tuple s2c = rev(&c2s);
    const uint16_t cinit = 65530, sinit = 12345;
    uint64_t c_send[10], s_recv[10], s_send[10], c_recv[10];
    struct pdm_flow *fc, *fs;
    unsigned dc, ds;
    struct pdm_fields p;
    int bad = 0;

    for (int i = 0; i < 10; i++) {
        uint64_t u = (uint64_t)i;
        c_send[i] = 1 * S + u * 10 * MS + u * u * 1000; /* not a constant period */
        s_recv[i] = c_send[i] + 1 * MS + u * 10000;
        s_send[i] = s_recv[i] + 3 * MS + u * 777;
        c_recv[i] = s_send[i] + 2 * MS - u * 5000;
    }
    for (int i = 0; i < 10; i++) {
        uint16_t dl, dls;
        uint8_t sl, sls;
        /* client sends request i */
        CHECK_INT(pdm_flow_get(tc, &c2s, c_send[i], (uint32_t)cinit << 16, &fc, &dc), i == 0);
        CHECK_INT(dc, 1);
        pdm_flow_on_send(fc, dc, c_send[i], &p);
        uint16_t want_psn = (uint16_t)(cinit + i);
        if (i == 0) {
            dl = dls = 0;
            sl = sls = 0;
        } else {
            pdm_time_encode_ns(c_send[i] - c_recv[i - 1], &dl, &sl);
            pdm_time_encode_ns(c_recv[i - 1] - c_send[i - 1], &dls, &sls);
        }
        bad += p.psntp != want_psn;
        bad += p.psnlr != (i ? (uint16_t)(sinit + i - 1) : 0);
        bad += p.delta_tlr != dl || p.scale_dtlr != sl || p.delta_tls != dls || p.scale_dtls != sls;
        uint16_t req = p.psntp;

        /* server receives it and replies */
        CHECK_INT(pdm_flow_get(ts, &c2s, s_recv[i], sinit, &fs, &ds), i == 0);
        pdm_flow_on_recv(fs, ds, s_recv[i], req);
        CHECK_INT(pdm_flow_get(ts, &s2c, s_send[i], 0, &fs, &ds), 0);
        CHECK_INT(ds, 0);
        pdm_flow_on_send(fs, ds, s_send[i], &p);
        pdm_time_encode_ns(s_send[i] - s_recv[i], &dl, &sl);
        if (i == 0) {
            dls = 0;
            sls = 0;
        } else {
            pdm_time_encode_ns(s_recv[i] - s_send[i - 1], &dls, &sls);
        }
        bad += p.psntp != (uint16_t)(sinit + i);
        bad += p.psnlr != want_psn;
        bad += p.delta_tlr != dl || p.scale_dtlr != sl || p.delta_tls != dls || p.scale_dtls != sls;

        /* client receives the reply */
        CHECK_INT(pdm_flow_lookup(tc, &s2c, &fc, &dc), 0);
        pdm_flow_on_recv(fc, dc, c_recv[i], p.psntp);
    }
    CHECK_INT(bad, 0);
    /* 65530 + 10 wrapped: the next client PSNTP is 4. */
    CHECK_INT(fc->dir[1].psn_next, 4);
    pdm_flow_table_free(tc);
    pdm_flow_table_free(ts);
}

static void test_psn_wrap(void)
{
    struct pdm_flow_table *t = NULL;
    CHECK_INT(pdm_flow_table_new(&t, 1, 0, KEY1), 0);
    if (!t)
        return;
    struct pdm_flow_tuple a = mk("fe80::1", 1, "fe80::2", 2, 17);
    struct pdm_flow *f;
    unsigned d;
    struct pdm_fields p;
    CHECK_INT(pdm_flow_get(t, &a, 0, 0xffffu, &f, &d), 1);
    CHECK_INT(d, 0);
    pdm_flow_on_send(f, 0, 1, &p);
    CHECK_INT(p.psntp, 65535);
    pdm_flow_on_send(f, 0, 2, &p);
    CHECK_INT(p.psntp, 0);
    pdm_flow_on_send(f, 0, 3, &p);
    CHECK_INT(p.psntp, 1);
    /* The peer's PSN 65535 then 0 are echoed as PSNLR as they are. */
    pdm_flow_on_recv(f, 1, 4, 65535);
    pdm_flow_on_send(f, 0, 5, &p);
    CHECK_INT(p.psnlr, 65535);
    pdm_flow_on_recv(f, 1, 6, 0);
    pdm_flow_on_send(f, 0, 7, &p);
    CHECK_INT(p.psnlr, 0);
    CHECK_INT(p.delta_tlr, 1000000000u >> 14); /* 1 ns = 10^9 as: (61035, 14) */
    CHECK_INT(p.scale_dtlr, 14);
    pdm_flow_table_free(t);
}

static int removed_expired, removed_evicted;
static struct pdm_flow_tuple last_removed;

static void on_remove(void *arg, struct pdm_flow *f, enum pdm_flow_removal why)
{
    CHECK(arg == &removed_expired);
    if (why == PDM_FLOW_EXPIRED)
        removed_expired++;
    else if (why == PDM_FLOW_EVICTED)
        removed_evicted++;
    pdm_flow_tuple_get(f, 0, &last_removed);
}

static void test_full_and_evict(void)
{
    struct pdm_flow_table *t = NULL;
    struct pdm_flow *f, *fl[4];
    CHECK_INT(pdm_flow_table_new_ext(&t, 4, 1 * S, KEY1, 72), 0);
    if (!t)
        return;
    pdm_flow_table_set_remove_cb(t, on_remove, &removed_expired);
    removed_evicted = removed_expired = 0;
    for (uint32_t i = 0; i < 4; i++) {
        struct pdm_flow_tuple x = tuple_n(i);
        CHECK_INT(pdm_flow_get(t, &x, 0, i, &fl[i], NULL), 1);
        fl[i]->user = i + 100;
        ((uint8_t *)pdm_flow_ext(t, fl[i]))[71] = 0xaa;
    }
    struct pdm_flow_tuple x4 = tuple_n(4);
    CHECK_INT(pdm_flow_get(t, &x4, 0, 0, &f, NULL), PDM_ERR_FULL);
    CHECK_INT(pdm_flow_get(t, &x4, 1 * S, 0, &f, NULL), PDM_ERR_FULL); /* idle = timeout */
    CHECK_INT(pdm_flow_table_count(t), 4);
    CHECK_INT(removed_evicted, 0);

    /* Flows 0, 2, 3 are used at 1.5 s; flow 1 stays the least recently used. */
    struct pdm_fields p;
    pdm_flow_on_send(fl[0], 0, 1500 * MS, &p);
    pdm_flow_on_recv(fl[2], 0, 1500 * MS, 9);
    struct pdm_flow_tuple x3 = tuple_n(3);
    CHECK_INT(pdm_flow_get(t, &x3, 1500 * MS, 0, &f, NULL), 0);
    CHECK(f == fl[3]);
    /* At 1.9 s flow 1 is idle 1.9 s > 1 s: evicted; the others are not idle. */
    CHECK_INT(pdm_flow_get(t, &x4, 1900 * MS, 0, &f, NULL), 1);
    CHECK_INT(removed_evicted, 1);
    struct pdm_flow_tuple x1 = tuple_n(1), got;
    CHECK(tuple_eq(&last_removed, &x1) || (got = rev(&x1), tuple_eq(&last_removed, &got)));
    CHECK(f == fl[1]);                                 /* the evicted slot was reused ... */
    CHECK_INT(f->user, 0);                             /* ... and reset */
    CHECK_INT(((uint8_t *)pdm_flow_ext(t, f))[71], 0); /* extension wiped */
    CHECK_INT(pdm_flow_table_count(t), 4);
    CHECK_INT(pdm_flow_lookup(t, &x1, &f, NULL), PDM_ERR_NOT_FOUND);
    for (uint32_t i = 0; i < 5; i++) {
        struct pdm_flow_tuple x = tuple_n(i);
        CHECK_INT(pdm_flow_lookup(t, &x, &f, NULL), i == 1 ? PDM_ERR_NOT_FOUND : 0);
    }
    /* Nothing idle now: full again. */
    CHECK_INT(pdm_flow_get(t, &x1, 2 * S, 0, &f, NULL), PDM_ERR_FULL);
    pdm_flow_table_free(t);

    /* Timeout 0: never evicted. */
    CHECK_INT(pdm_flow_table_new(&t, 1, 0, KEY1), 0);
    if (!t)
        return;
    struct pdm_flow_tuple x0 = tuple_n(0);
    CHECK_INT(pdm_flow_get(t, &x0, 0, 0, &f, NULL), 1);
    CHECK_INT(pdm_flow_get(t, &x1, UINT64_MAX, 0, &f, NULL), PDM_ERR_FULL);
    CHECK_INT(pdm_flow_table_expire(t, UINT64_MAX, 100), 0);
    pdm_flow_table_free(t);
}

/* The bucket pair of a hash, as lib/flow.c computes it (white-box). */
static void buckets_of(uint64_t h, uint32_t mask, uint32_t *b1, uint32_t *b2)
{
    uint16_t tag = (uint16_t)h ? (uint16_t)h : 1;
    uint32_t m = (uint32_t)tag * 0x5bd1e995u;
    m ^= m >> 15;
    *b1 = (uint32_t)(h >> 32) & mask;
    *b2 = (*b1 ^ (m | 1u)) & mask;
}

/*
 * White-box: in a 4-bucket table, flows whose two buckets are 0 and 1.
 * Sixteen fill both buckets; for the seventeenth no cuckoo path exists
 * (every resident's other bucket is full too), so it is refused although
 * the table is far below capacity, until the least recently used of the
 * sixteen is idle.
 */
static void test_bucket_full(void)
{
    struct pdm_flow_table *t = NULL;
    CHECK_INT(pdm_flow_table_new(&t, 25, 1 * S, KEY2), 0);
    if (!t)
        return;
    CHECK_INT(pdm_flow_table_slots(t), 32); /* 25 × 5/4 → 4 buckets */
    struct pdm_flow_tuple pick[17];
    int n = 0;
    for (uint32_t i = 0; n < 17 && i < 100000; i++) {
        struct pdm_flow_tuple x = tuple_n(i);
        uint32_t b1, b2;
        buckets_of(pdm_flow_hash(t, &x), 3, &b1, &b2);
        if (b1 + b2 == 1) /* one is bucket 0, the other bucket 1 */
            pick[n++] = x;
    }
    CHECK_INT(n, 17);
    if (n < 17) {
        pdm_flow_table_free(t);
        return;
    }
    struct pdm_flow *f;
    int ok = 0;
    for (int i = 0; i < 16; i++)
        ok += pdm_flow_get(t, &pick[i], (uint64_t)i * MS, 0, &f, NULL) == 1;
    CHECK_INT(ok, 16);
    CHECK_INT(pdm_flow_get(t, &pick[16], 500 * MS, 0, &f, NULL), PDM_ERR_FULL);
    CHECK_INT(pdm_flow_table_count(t), 16);
    /* A flow with other buckets still goes in. */
    int other = 0;
    for (uint32_t i = 0; i < 1000 && !other; i++) {
        struct pdm_flow_tuple x = tuple_n(i);
        uint32_t b1, b2;
        buckets_of(pdm_flow_hash(t, &x), 3, &b1, &b2);
        if (b1 >= 2 && b2 >= 2)
            other = pdm_flow_get(t, &x, 500 * MS, 0, &f, NULL) == 1;
    }
    CHECK_INT(other, 1);
    /* At 1.0005 s only pick[0] (used at 0) is idle past 1 s. */
    CHECK_INT(pdm_flow_get(t, &pick[16], 1 * S + 500000, 0, &f, NULL), 1);
    CHECK_INT(pdm_flow_lookup(t, &pick[0], &f, NULL), PDM_ERR_NOT_FOUND);
    for (int i = 1; i < 17; i++)
        CHECK_INT(pdm_flow_lookup(t, &pick[i], &f, NULL), 0);
    CHECK_INT(pdm_flow_table_count(t), 17);
    struct pdm_flow_stats st;
    pdm_flow_table_stats(t, &st);
    CHECK_INT(st.inserted, 18);
    CHECK_INT(st.evicted, 1);
    CHECK_INT(st.full, 1);
    pdm_flow_table_free(t);
}

/*
 * Fill a table to its 80 % design load (52428 flows in 65536 slots): the
 * cuckoo search must place every flow, moving residents without moving
 * entries (the pointers handed out at insertion still find their flows).
 * Then churn: remove every third flow and insert as many new ones.
 */
static void test_cuckoo_fill(void)
{
    const uint32_t n = 52428;
    struct pdm_flow_table *t = NULL;
    CHECK_INT(pdm_flow_table_new(&t, n, 0, KEY2), 0);
    if (!t)
        return;
    CHECK_INT(pdm_flow_table_slots(t), 65536);
    struct pdm_flow **ptr = calloc(n, sizeof *ptr);
    if (!ptr)
        abort();
    uint32_t created = 0, same = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct pdm_flow_tuple x = tuple_n(i);
        if (pdm_flow_get(t, &x, 1, i, &ptr[i], NULL) == 1)
            created++;
        ptr[i]->user = i;
    }
    CHECK_INT(created, n);
    struct pdm_flow_stats st;
    pdm_flow_table_stats(t, &st);
    CHECK(st.moves > 0); /* at 80 % some bucket pairs filled up */
    CHECK_INT(st.full, 0);
    for (uint32_t i = 0; i < n; i++) {
        struct pdm_flow_tuple x = tuple_n(i);
        struct pdm_flow *f = NULL;
        same += pdm_flow_lookup(t, &x, &f, NULL) == 0 && f == ptr[i] && f->user == i;
    }
    CHECK_INT(same, n);
    for (uint32_t i = 0; i < n; i += 3)
        pdm_flow_remove(t, ptr[i]);
    CHECK_INT(pdm_flow_table_count(t), n - (n + 2) / 3);
    uint32_t again = 0, found = 0;
    for (uint32_t i = n; i < n + (n + 2) / 3; i++) {
        struct pdm_flow_tuple x = tuple_n(i);
        struct pdm_flow *f;
        again += pdm_flow_get(t, &x, 2, 0, &f, NULL) == 1;
    }
    CHECK_INT(again, (n + 2) / 3);
    CHECK_INT(pdm_flow_table_count(t), n);
    for (uint32_t i = 0; i < n + (n + 2) / 3; i++) {
        struct pdm_flow_tuple x = tuple_n(i);
        struct pdm_flow *f;
        int want = i >= n || i % 3 != 0;
        found += (pdm_flow_lookup(t, &x, &f, NULL) == 0) == want;
    }
    CHECK_INT(found, n + (n + 2) / 3);
    free(ptr);
    pdm_flow_table_free(t);
}

static void test_expire(void)
{
    struct pdm_flow_table *t = NULL;
    CHECK_INT(pdm_flow_table_new(&t, 100, 10 * S, KEY1), 0);
    if (!t)
        return;
    pdm_flow_table_set_remove_cb(t, on_remove, &removed_expired);
    removed_expired = removed_evicted = 0;
    struct pdm_flow *f;
    for (uint32_t i = 0; i < 50; i++) {
        struct pdm_flow_tuple x = tuple_n(i);
        CHECK_INT(pdm_flow_get(t, &x, 0, 0, &f, NULL), 1);
    }
    for (uint32_t i = 0; i < 50; i += 5) { /* 10 flows used at 8 s */
        struct pdm_flow_tuple x = tuple_n(i);
        CHECK_INT(pdm_flow_get(t, &x, 8 * S, 0, &f, NULL), 0);
    }
    size_t slots = pdm_flow_table_slots(t);
    CHECK_INT(slots, 128);
    /* At 10 s nobody is idle past 10 s: a whole sweep removes nothing. */
    CHECK_INT(pdm_flow_table_expire(t, 10 * S, slots), 0);
    /* Bounded work: one slot per call removes at most one flow. */
    size_t one = pdm_flow_table_expire(t, 12 * S, 1);
    CHECK(one <= 1);
    /* The rest of the sweep in four bounded calls. */
    size_t total = one;
    for (int i = 0; i < 4; i++) {
        size_t r = pdm_flow_table_expire(t, 12 * S, slots / 4);
        CHECK(r <= slots / 4);
        total += r;
    }
    CHECK_INT(total, 40);
    CHECK_INT(removed_expired, 40);
    CHECK_INT(removed_evicted, 0);
    CHECK_INT(pdm_flow_table_count(t), 10);
    for (uint32_t i = 0; i < 50; i++) {
        struct pdm_flow_tuple x = tuple_n(i);
        CHECK_INT(pdm_flow_lookup(t, &x, &f, NULL), i % 5 ? PDM_ERR_NOT_FOUND : 0);
    }
    /* At 18.000000001 s the rest are idle past 10 s. */
    CHECK_INT(pdm_flow_table_expire(t, 18 * S + 1, slots), 10);
    CHECK_INT(pdm_flow_table_count(t), 0);
    pdm_flow_table_free(t);
}

static void test_keyed_hash(void)
{
    struct pdm_flow_table *a = NULL, *b = NULL, *c = NULL;
    CHECK_INT(pdm_flow_table_new(&a, 10, 0, KEY1), 0);
    CHECK_INT(pdm_flow_table_new(&b, 10, 0, KEY2), 0);
    CHECK_INT(pdm_flow_table_new(&c, 99, 5, KEY1), 0);
    if (!a || !b || !c)
        return;
    int same_ab = 0, same_ac = 0, sym = 0, distinct = 0;
    uint64_t prev = 0;
    for (uint32_t i = 0; i < 1000; i++) {
        struct pdm_flow_tuple x = tuple_n(i), y = rev(&x);
        uint64_t ha = pdm_flow_hash(a, &x);
        same_ab += ha == pdm_flow_hash(b, &x);
        same_ac += ha == pdm_flow_hash(c, &x);
        sym += ha == pdm_flow_hash(a, &y);
        distinct += ha != prev;
        prev = ha;
    }
    CHECK_INT(same_ab, 0);    /* one key bit changes every hash */
    CHECK_INT(same_ac, 1000); /* the hash depends on the key only */
    CHECK_INT(sym, 1000);     /* both directions hash alike */
    CHECK_INT(distinct, 1000);
    pdm_flow_table_free(a);
    pdm_flow_table_free(b);
    pdm_flow_table_free(c);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_million(void)
{
    const uint32_t n = 1000000;
    struct pdm_flow_table *t = NULL;
    CHECK_INT(pdm_flow_table_new(&t, n, 60 * S, KEY1), 0);
    if (!t)
        return;
    size_t bytes = pdm_flow_table_bytes(t);
    CHECK(bytes >= (size_t)n * (pdm_flow_entry_size(0) + 10) &&
          bytes <= (size_t)n * pdm_flow_table_bytes_per_flow() + 4096);
    double t0 = now_s();
    uint32_t created = 0, found = 0, dir_ok = 0;
    struct pdm_flow *f;
    unsigned d;
    for (uint32_t i = 0; i < n; i++) {
        struct pdm_flow_tuple x = tuple_n(i);
        if (pdm_flow_get(t, &x, i, i, &f, NULL) == 1) {
            created++;
            f->user = i;
        }
    }
    double t1 = now_s();
    for (uint32_t i = 0; i < n; i++) {
        /* look up the reverse direction, in a scattered order */
        uint32_t j = (uint32_t)(((uint64_t)i * 2654435761u) % n);
        struct pdm_flow_tuple x = tuple_n(j), y = rev(&x);
        if (pdm_flow_lookup(t, &y, &f, &d) == 0 && f->user == j) {
            found++;
            dir_ok += d == 1; /* 2001:db8:0:..  < 2001:db8:1:.. : src is A */
        }
    }
    double t2 = now_s();
    CHECK_INT(created, n);
    CHECK_INT(found, n);
    CHECK_INT(dir_ok, n);
    CHECK_INT(pdm_flow_table_count(t), n);
    struct pdm_flow_tuple x = tuple_n(n);
    CHECK_INT(pdm_flow_get(t, &x, n, 0, &f, NULL), PDM_ERR_FULL);
    fprintf(stderr, "million: %zu bytes (%.1f per flow), insert %.0f ns/flow, lookup %.0f ns\n",
            bytes, (double)bytes / n, (t1 - t0) * 1e9 / n, (t2 - t1) * 1e9 / n);
    pdm_flow_table_free(t);
}

static void test_gp(void)
{
    struct pdm_gp gp;
    uint8_t ll[16] = {0xfe, 0x80}, ll2[16] = {0xfe, 0xbf, 0xff}, site[16] = {0xfe, 0xc0};
    uint8_t glob[16] = {0x20, 0x01, 0x0d, 0xb8}, loop[16] = {0};
    loop[15] = 1;
    pdm_gp_init(&gp);
    CHECK_INT(pdm_gp_next(&gp, ll), 1);
    CHECK_INT(pdm_gp_next(&gp, ll2), 2); /* fe80::/10 reaches febf:... */
    CHECK_INT(pdm_gp_next(&gp, glob), 1);
    CHECK_INT(pdm_gp_next(&gp, site), 2); /* fec0:: is outside fe80::/10 */
    CHECK_INT(pdm_gp_next(&gp, loop), 3);
    CHECK_INT(pdm_gp_next(&gp, ll), 3);
    CHECK_INT(gp.link_local, 3);
    CHECK_INT(gp.other, 3);
    gp.other = UINT32_MAX - 1;
    CHECK_INT(pdm_gp_next(&gp, glob), UINT32_MAX);
    CHECK_INT(pdm_gp_next(&gp, glob), 1); /* wraps past 0 */
    CHECK_INT(pdm_gp_next(&gp, ll), 4);
}

/* A caller's per-flow extension: sized and aligned as promised, in its
 * own entry (writing one flow's never touches a neighbour's), zero when
 * a flow is created, wiped when it is removed, and counted in the bytes. */
static void test_extension(void)
{
    struct ext {
        uint64_t a;
        uint8_t b[60];
    };
    struct pdm_flow_table *t = NULL;
    struct pdm_flow *f[8], *g;
    const size_t n = 8;

    CHECK_INT(pdm_flow_entry_size(0), 128);
    CHECK_INT(pdm_flow_entry_size(72), 192);
    CHECK_INT(pdm_flow_entry_size(73), 256);
    CHECK_INT(pdm_flow_table_new_ext(&t, 8, 0, KEY1, PDM_FLOW_EXT_MAX + 1), PDM_ERR_INVAL);
    CHECK(t == NULL);
    CHECK_INT(pdm_flow_table_new_ext(&t, n, 0, KEY1, sizeof(struct ext)), 0);
    if (!t)
        return;
    CHECK_INT(pdm_flow_table_ext_size(t), sizeof(struct ext));
    CHECK(pdm_flow_table_bytes(t) >= n * pdm_flow_entry_size(sizeof(struct ext)));
    for (uint32_t i = 0; i < n; i++) {
        struct pdm_flow_tuple x = tuple_n(i);
        struct ext *e;
        CHECK_INT(pdm_flow_get(t, &x, 1, i, &f[i], NULL), 1);
        e = pdm_flow_ext(t, f[i]);
        CHECK(e != NULL && (uintptr_t)e % PDM_FLOW_EXT_ALIGN == 0);
        CHECK((uint8_t *)e >= (uint8_t *)f[i] + sizeof *f[i]);
        CHECK(e->a == 0 && e->b[0] == 0 && e->b[59] == 0);
        e->a = 0x1111111111111111ull * (i + 1);
        memset(e->b, (int)(0xa0 + i), sizeof e->b);
    }
    for (uint32_t i = 0; i < n; i++) {
        struct ext *e = pdm_flow_ext(t, f[i]);
        struct pdm_flow_tuple x = tuple_n(i);
        CHECK(e->a == 0x1111111111111111ull * (i + 1) && e->b[59] == 0xa0 + i);
        CHECK_INT(pdm_flow_lookup(t, &x, &g, NULL), 0);
        CHECK(g == f[i] && pdm_flow_ext(t, g) == e);
        CHECK_INT(f[i]->user, 0); /* the extension is not the table's part */
    }
    /* Removed: the same entry comes back zeroed for the next flow. */
    pdm_flow_remove(t, f[3]);
    struct pdm_flow_tuple x9 = tuple_n(9);
    CHECK_INT(pdm_flow_get(t, &x9, 2, 0, &g, NULL), 1);
    CHECK(g == f[3]);
    struct ext *e = pdm_flow_ext(t, g);
    CHECK(e->a == 0 && e->b[0] == 0 && e->b[59] == 0);
    pdm_flow_table_free(t);
}

int main(void)
{
    CHECK_INT(pdm_flow_table_bytes_per_flow(), 148);
    RUN(test_insert_lookup);
    RUN(test_scripted_exchange);
    RUN(test_ping_pong);
    RUN(test_psn_wrap);
    RUN(test_full_and_evict);
    RUN(test_extension);

    RUN(test_bucket_full);
    RUN(test_cuckoo_fill);
    RUN(test_expire);
    RUN(test_keyed_hash);
    RUN(test_million);
    RUN(test_gp);
    return harness_done();
}
