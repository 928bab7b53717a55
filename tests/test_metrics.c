/* Tests for the metrics module (lib/metrics.c): delays recovered from
 * scripted exchanges, round-trip matching, loss, reordering, duplicates
 * and PSN wrap-around. */
#include "harness.h"

#include <pdm/flow.h>
#include <pdm/metrics.h>
#include <pdm/time.h>

#define MS ((uint64_t)1000000)
#define C  PDM_METRICS_FROM_CLIENT
#define SV PDM_METRICS_FROM_SERVER

static const uint8_t KEY[PDM_FLOW_HASH_KEY_SIZE] = {9, 9, 9};

/* What a delay of `ns` reads as after encoding and decoding. */
static uint64_t trunc_ns(uint64_t ns)
{
    uint16_t d;
    uint8_t s;
    pdm_time_encode_ns(ns, &d, &s);
    return pdm_time_decode_ns(d, s);
}

/* v recovers `ns` within scaling truncation: v ≤ ns and ns − v ≤ ns/2^15 + 1. */
static int close_to(uint64_t v, uint64_t ns)
{
    return v <= ns && ns - v <= (ns >> 15) + 1;
}

static struct pdm_fields fld(uint16_t psntp, uint16_t psnlr, uint64_t dtlr_ns, uint64_t dtls_ns)
{
    struct pdm_fields f;
    memset(&f, 0, sizeof f);
    f.psntp = psntp;
    f.psnlr = psnlr;
    pdm_time_encode_ns(dtlr_ns, &f.delta_tlr, &f.scale_dtlr);
    pdm_time_encode_ns(dtls_ns, &f.delta_tls, &f.scale_dtls);
    return f;
}

/* A client and a server, each with its own flow table, one flow. */
struct duo {
    struct pdm_flow_table *tc, *ts;
    struct pdm_flow *fc, *fs;
    unsigned c_dir; /* direction of client → server packets */
};

static int duo_open(struct duo *d, uint16_t cpsn, uint16_t spsn)
{
    struct pdm_flow_tuple c2s;
    memset(&c2s, 0, sizeof c2s);
    memset(d, 0, sizeof *d);
    c2s.src[0] = 0x20, c2s.src[15] = 1;
    c2s.dst[0] = 0x20, c2s.dst[15] = 2;
    c2s.sport = 40000, c2s.dport = 443, c2s.proto = 6;
    if (pdm_flow_table_new(&d->tc, 4, 0, KEY) || pdm_flow_table_new(&d->ts, 4, 0, KEY))
        return -1;
    /* client ::1 < server ::2: client → server is direction 0 */
    uint32_t rnd = (uint32_t)spsn << 16 | cpsn;
    if (pdm_flow_get(d->tc, &c2s, 0, rnd, &d->fc, &d->c_dir) != 1 ||
        pdm_flow_get(d->ts, &c2s, 0, rnd, &d->fs, NULL) != 1)
        return -1;
    return 0;
}

static void duo_close(struct duo *d)
{
    pdm_flow_table_free(d->tc);
    pdm_flow_table_free(d->ts);
}

/* The client sends at t; the server receives at t + owd; returns the fields. */
static struct pdm_fields c_send(struct duo *d, uint64_t t, uint64_t owd)
{
    struct pdm_fields p;
    pdm_flow_on_send(d->fc, d->c_dir, t, &p);
    pdm_flow_on_recv(d->fs, d->c_dir, t + owd, p.psntp);
    return p;
}

static struct pdm_fields s_send(struct duo *d, uint64_t t, uint64_t owd)
{
    struct pdm_fields p;
    pdm_flow_on_send(d->fs, d->c_dir ^ 1, t, &p);
    pdm_flow_on_recv(d->fc, d->c_dir ^ 1, t + owd, p.psntp);
    return p;
}

/*
 * The flow test's exchange, observed in the middle of the path:
 * client sends P1 at 0, server gets it at 1 ms and replies P2 at 6 ms
 * (server delay 5 ms), client gets P2 at 8 ms and sends P3 at 9 ms
 * (client delay 1 ms; round trip 1 + 2 = 3 ms), server gets P3 at 10 ms
 * and sends P4 at 12 ms (server delay 2 ms).
 */
static void test_scripted(void)
{
    struct duo d;
    struct pdm_metrics m;
    struct pdm_metrics_sample s;
    CHECK_INT(duo_open(&d, 100, 200), 0);
    pdm_metrics_init(&m);

    struct pdm_fields p1 = c_send(&d, 0, 1 * MS);
    CHECK_INT(pdm_metrics_update(&m, C, 0, &p1, &s), 0);
    CHECK_INT(s.have, 0);
    CHECK_INT(s.seq, PDM_METRICS_SEQ_FIRST);

    struct pdm_fields p2 = s_send(&d, 6 * MS, 2 * MS);
    CHECK_INT(pdm_metrics_update(&m, SV, 7 * MS, &p2, &s), 1);
    CHECK_INT(s.have, PDM_METRICS_HAVE_SERVER_DELAY);
    CHECK_INT(s.time_ns, 7 * MS);
    CHECK_INT(s.server_delay_ns, trunc_ns(5 * MS));
    CHECK(close_to(s.server_delay_ns, 5 * MS));
    CHECK(s.server_delay_ns != 5 * MS); /* 5 ms is not exact in 16 bits */

    struct pdm_fields p3 = c_send(&d, 9 * MS, 1 * MS);
    CHECK_INT(pdm_metrics_update(&m, C, 9500000, &p3, &s), 2);
    CHECK_INT(s.have, PDM_METRICS_HAVE_CLIENT_DELAY | PDM_METRICS_HAVE_RTD);
    CHECK_INT(s.seq, PDM_METRICS_SEQ_NEXT);
    CHECK_INT(s.client_delay_ns, trunc_ns(1 * MS));
    CHECK(close_to(s.client_delay_ns, 1 * MS));
    CHECK_INT(s.rtd_ns, trunc_ns(8 * MS) - trunc_ns(5 * MS));
    /* 8 ms truncates by < 8 ms / 2^15, 5 ms by < 5 ms / 2^15. */
    CHECK(s.rtd_ns + (8 * MS >> 15) + 1 >= 3 * MS && s.rtd_ns <= 3 * MS + (5 * MS >> 15) + 1);

    struct pdm_fields p4 = s_send(&d, 12 * MS, 1 * MS);
    CHECK_INT(pdm_metrics_update(&m, SV, 12 * MS, &p4, &s), 1);
    CHECK_INT(s.server_delay_ns, trunc_ns(2 * MS));

    CHECK_INT(m.server_delay.count, 2);
    CHECK_INT(m.server_delay.min, trunc_ns(2 * MS));
    CHECK_INT(m.server_delay.max, trunc_ns(5 * MS));
    CHECK_INT(pdm_metrics_stat_mean(&m.server_delay), (trunc_ns(2 * MS) + trunc_ns(5 * MS)) / 2);
    CHECK_INT(m.client_delay.count, 1);
    CHECK_INT(m.rtd.count, 1);
    CHECK_INT(m.rtd_unmatched, 0);
    CHECK_INT(m.packets[C], 2);
    CHECK_INT(m.packets[SV], 2);
    CHECK_INT(m.first_ns, 0);
    CHECK_INT(m.last_ns, 12 * MS);
    CHECK_INT(pdm_metrics_lost(&m, C) + pdm_metrics_lost(&m, SV), 0);
    duo_close(&d);
}

/* 200 round trips with varying delays; every sample checked against the
 * schedule; the client PSN wraps. */
static void test_ping_pong(void)
{
    struct duo d;
    struct pdm_metrics m;
    struct pdm_metrics_sample s;
    CHECK_INT(duo_open(&d, 65500, 7), 0);
    pdm_metrics_init(&m);
    uint64_t t = 1000 * MS, p_up = 0, p_down = 0, p_sdelay = 0, p_cdelay = 0;
    int bad = 0, near = 0;
    uint64_t smin = UINT64_MAX, smax = 0;
    for (uint64_t i = 0; i < 200; i++) {
        uint64_t up = 1 * MS + i * 3000, down = 2 * MS + (i % 7) * 11000;
        uint64_t sdelay = 100000 + i * i * 50, cdelay = 20000 + (i % 13) * 1000;
        struct pdm_fields q = c_send(&d, t, up);
        int n = pdm_metrics_update(&m, C, t + up / 2, &q, &s);
        if (i == 0) {
            bad += n != 0;
        } else {
            /* client delay of the last exchange; its round trip is
             * DeltaTLS (up + server delay + down) − server delay */
            bad += n != 2 || s.client_delay_ns != trunc_ns(p_cdelay);
            bad += s.rtd_ns != trunc_ns(p_up + p_sdelay + p_down) - trunc_ns(p_sdelay);
            uint64_t rt = p_up + p_down, slack = ((p_up + p_sdelay + p_down) >> 15) + 1;
            near += s.rtd_ns + slack >= rt && s.rtd_ns <= rt + (p_sdelay >> 15) + 1;
        }
        struct pdm_fields r = s_send(&d, t + up + sdelay, down);
        n = pdm_metrics_update(&m, SV, t + up + sdelay + down / 2, &r, &s);
        bad += n != 1 || s.server_delay_ns != trunc_ns(sdelay);
        bad += !close_to(s.server_delay_ns, sdelay);
        smin = trunc_ns(sdelay) < smin ? trunc_ns(sdelay) : smin;
        smax = trunc_ns(sdelay) > smax ? trunc_ns(sdelay) : smax;
        t += up + sdelay + down + cdelay;
        p_up = up, p_down = down, p_sdelay = sdelay, p_cdelay = cdelay;
    }
    CHECK_INT(bad, 0);
    CHECK_INT(near, 199);
    CHECK_INT(m.rtd.count, 199);
    CHECK_INT(m.client_delay.count, 199);
    CHECK_INT(m.rtd_unmatched, 0);
    CHECK_INT(m.rtd_negative, 0);
    CHECK_INT(m.server_delay.count, 200);
    CHECK_INT(m.server_delay.min, smin);
    CHECK_INT(m.server_delay.max, smax);
    CHECK_INT(m.seq[C].received, 200);
    CHECK_INT(m.seq[C].lost + m.seq[C].reordered + m.seq[C].duplicates, 0);
    CHECK_INT(m.seq[SV].received, 200);
    CHECK_INT(pdm_metrics_lost(&m, SV), 0);
    CHECK_INT(d.fc->dir[d.c_dir].psn_next, (65500 + 200) % 65536); /* wrapped */
    uint64_t mean = pdm_metrics_stat_mean(&m.rtd);
    CHECK(mean > 3 * MS && mean < 3 * MS + 200 * 3000 + 7 * 11000);
    duo_close(&d);
}

/* RTD uses the server packet whose PSNTP the client packet names. */
static void test_rtd_matching(void)
{
    struct pdm_metrics m;
    struct pdm_metrics_sample s;
    pdm_metrics_init(&m);
    struct pdm_fields f = fld(10, 0, 0, 0);
    CHECK_INT(pdm_metrics_update(&m, C, 0, &f, NULL), 0);
    /* three server packets, PSNTP 500..502, server delays 1, 2, 3 ms */
    for (uint16_t k = 0; k < 3; k++) {
        f = fld((uint16_t)(500 + k), 10, (uint64_t)(k + 1) * MS, 0);
        CHECK_INT(pdm_metrics_update(&m, SV, k, &f, NULL), 1);
    }
    /* client names 501: RTD = 10 ms − 2 ms */
    f = fld(11, 501, 1 * MS, 10 * MS);
    CHECK_INT(pdm_metrics_update(&m, C, 5, &f, &s), 2);
    CHECK_INT(s.rtd_ns, trunc_ns(10 * MS) - trunc_ns(2 * MS));
    /* client names 502: 10 ms − 3 ms */
    f = fld(12, 502, 1 * MS, 10 * MS);
    CHECK_INT(pdm_metrics_update(&m, C, 6, &f, &s), 2);
    CHECK_INT(s.rtd_ns, trunc_ns(10 * MS) - trunc_ns(3 * MS));
    /* unknown PSNLR: client delay only, counted unmatched */
    f = fld(13, 999, 1 * MS, 10 * MS);
    CHECK_INT(pdm_metrics_update(&m, C, 7, &f, &s), 1);
    CHECK_INT(s.have, PDM_METRICS_HAVE_CLIENT_DELAY);
    CHECK_INT(m.rtd_unmatched, 1);
    /* The client's next packet, sent before it received again, repeats
     * PSNLR 502 and its DeltaTLS: the same round trip, not a second one
     * (nor an unmatched one). */
    f = fld(14, 502, 2 * MS, 10 * MS);
    CHECK_INT(pdm_metrics_update(&m, C, 7, &f, &s), 1);
    CHECK_INT(s.have, PDM_METRICS_HAVE_CLIENT_DELAY);
    CHECK_INT(m.rtd.count, 2);
    CHECK_INT(m.rtd_unmatched, 1);
    /* DeltaTLS smaller than the server delay (1 ms): a negative round
     * trip, counted, and no sample: the statistics keep the two round
     * trips above (7 and 8 ms), no 0 among them. */
    f = fld(15, 500, 1 * MS, MS / 2);
    CHECK_INT(pdm_metrics_update(&m, C, 8, &f, &s), 1);
    CHECK_INT(s.have, PDM_METRICS_HAVE_CLIENT_DELAY | PDM_METRICS_RTD_NEGATIVE);
    CHECK_INT(s.rtd_ns, trunc_ns(1 * MS) - trunc_ns(MS / 2));
    CHECK_INT(m.rtd_negative, 1);
    CHECK_INT(m.rtd.count, 2);
    CHECK_INT(m.rtd.min, trunc_ns(10 * MS) - trunc_ns(3 * MS));
    CHECK_INT(m.client_delay.count, 5);
    /* a server packet without DeltaTLR (nothing received yet) is not
     * remembered: a client naming it gets no RTD */
    f = fld(600, 0, 0, 0);
    CHECK_INT(pdm_metrics_update(&m, SV, 9, &f, &s), 0);
    CHECK_INT(s.have, 0);
    f = fld(16, 600, 1 * MS, 10 * MS);
    CHECK_INT(pdm_metrics_update(&m, C, 10, &f, &s), 1);
    CHECK_INT(m.rtd_unmatched, 2);
    /* History is bounded: after PDM_METRICS_HISTORY newer server packets,
     * 500 is forgotten. */
    for (uint16_t k = 0; k < PDM_METRICS_HISTORY; k++) {
        f = fld((uint16_t)(601 + k), 15, 1 * MS, 0);
        CHECK_INT(pdm_metrics_update(&m, SV, 11, &f, NULL), 1);
    }
    f = fld(17, 500, 1 * MS, 10 * MS);
    CHECK_INT(pdm_metrics_update(&m, C, 12, &f, &s), 1);
    CHECK_INT(m.rtd_unmatched, 3);
    f = fld(18, 601, 1 * MS, 10 * MS); /* the oldest still remembered */
    CHECK_INT(pdm_metrics_update(&m, C, 13, &f, &s), 2);
    /* A zero PSNLR with zero DeltaTLR is "absent", but PSNLR 0 with a
     * DeltaTLR is a real sample (PSN 0 after wrap). */
    f = fld(19, 0, 0, 0);
    CHECK_INT(pdm_metrics_update(&m, C, 14, &f, &s), 0);
    f = fld(20, 0, 0, 0);
    f.scale_dtlr = 1; /* 0 × 2^1: present, zero */
    CHECK_INT(pdm_metrics_update(&m, C, 15, &f, &s), 1);
    CHECK_INT(s.client_delay_ns, 0);

    CHECK_INT(pdm_metrics_update(&m, 2, 0, &f, &s), PDM_ERR_INVAL);
    CHECK_INT(pdm_metrics_update(NULL, 0, 0, &f, &s), PDM_ERR_INVAL);
    CHECK_INT(pdm_metrics_update(&m, 0, 0, NULL, &s), PDM_ERR_INVAL);
}

/* Feeds PSNs of one direction (server packets, no delays); events counted. */
static void feed(struct pdm_metrics *m, const uint16_t *psn, size_t n, unsigned ev_count[6])
{
    struct pdm_metrics_sample s;
    for (size_t i = 0; i < n; i++) {
        struct pdm_fields f = fld(psn[i], 0, 0, 0);
        if (pdm_metrics_update(m, SV, i, &f, &s) >= 0 && s.seq <= PDM_METRICS_SEQ_LATE)
            ev_count[s.seq]++;
    }
}

static void test_loss(void)
{
    struct pdm_metrics m;
    unsigned ev[6] = {0};
    uint16_t psn[400];
    size_t n = 0;
    pdm_metrics_init(&m);
    for (uint16_t p = 100; p < 200; p++)
        if (p != 105 && p != 150 && p != 151)
            psn[n++] = p;
    feed(&m, psn, n, ev);
    CHECK_INT(m.seq[SV].received, 97);
    CHECK_INT(m.seq[SV].lost, 0);           /* still inside the window */
    CHECK_INT(pdm_metrics_lost(&m, SV), 3); /* ... but missing */
    CHECK_INT(ev[PDM_METRICS_SEQ_GAP], 2);  /* 104→106, 149→152 */
    CHECK_INT(ev[PDM_METRICS_SEQ_NEXT], 94);
    CHECK_INT(ev[PDM_METRICS_SEQ_FIRST], 1);
    /* push them out of the window: now definitively lost */
    n = 0;
    for (uint16_t p = 200; p < 200 + PDM_METRICS_WINDOW; p++)
        psn[n++] = p;
    feed(&m, psn, n, ev);
    CHECK_INT(m.seq[SV].lost, 3);
    CHECK_INT(pdm_metrics_lost(&m, SV), 3);
    CHECK_INT(m.seq[SV].reordered + m.seq[SV].duplicates + m.seq[SV].late, 0);
    CHECK_INT(pdm_metrics_lost(&m, C), 0); /* other direction untouched */

    /* A jump far past the window: everything in between is lost at once. */
    pdm_metrics_init(&m);
    memset(ev, 0, sizeof ev);
    psn[0] = 0;
    psn[1] = 1000;
    feed(&m, psn, 2, ev);
    CHECK_INT(m.seq[SV].lost, 1000 - PDM_METRICS_WINDOW);
    CHECK_INT(pdm_metrics_lost(&m, SV), 999);
    struct pdm_metrics_sample s;
    struct pdm_fields f = fld(1002, 0, 0, 0);
    CHECK_INT(pdm_metrics_update(&m, SV, 0, &f, &s), 0);
    CHECK_INT(s.seq, PDM_METRICS_SEQ_GAP);
    CHECK_INT(s.gap, 1);
    CHECK_INT(pdm_metrics_lost(&m, SV), 1000);
}

static void test_reorder(void)
{
    struct pdm_metrics m;
    unsigned ev[6] = {0};
    pdm_metrics_init(&m);
    static const uint16_t a[] = {1, 2, 4, 3, 5, 8, 7, 6, 9};
    feed(&m, a, sizeof a / sizeof a[0], ev);
    CHECK_INT(m.seq[SV].received, 9);
    CHECK_INT(m.seq[SV].reordered, 3); /* 3, 7, 6 */
    CHECK_INT(ev[PDM_METRICS_SEQ_REORDERED], 3);
    CHECK_INT(ev[PDM_METRICS_SEQ_GAP], 2);
    CHECK_INT(pdm_metrics_lost(&m, SV), 0);
    CHECK_INT(m.seq[SV].duplicates, 0);

    /* Before the first PSN seen: reordered, never "lost". */
    pdm_metrics_init(&m);
    memset(ev, 0, sizeof ev);
    static const uint16_t b[] = {10, 8, 11};
    feed(&m, b, 3, ev);
    CHECK_INT(m.seq[SV].reordered, 1);
    CHECK_INT(pdm_metrics_lost(&m, SV), 0); /* 9 is before the start */

    /* Too far behind to tell: late. */
    pdm_metrics_init(&m);
    memset(ev, 0, sizeof ev);
    static const uint16_t c[] = {1000, 1000 - PDM_METRICS_WINDOW, 1000 - PDM_METRICS_WINDOW + 1};
    feed(&m, c, 3, ev);
    CHECK_INT(m.seq[SV].late, 1);
    CHECK_INT(m.seq[SV].reordered, 1); /* W − 1 behind is still in the window */
    CHECK_INT(ev[PDM_METRICS_SEQ_LATE], 1);
}

static void test_duplicates(void)
{
    struct pdm_metrics m;
    unsigned ev[6] = {0};
    pdm_metrics_init(&m);
    static const uint16_t a[] = {1, 2, 2, 3, 1, 5, 4, 4, 5};
    feed(&m, a, sizeof a / sizeof a[0], ev);
    CHECK_INT(m.seq[SV].received, 5);
    CHECK_INT(m.seq[SV].duplicates, 4); /* 2, 1, 4, 5 */
    CHECK_INT(m.seq[SV].reordered, 1);  /* 4 after 5 */
    CHECK_INT(m.packets[SV], 9);
    CHECK_INT(pdm_metrics_lost(&m, SV), 0);

    /* A duplicate gives no delay sample. */
    pdm_metrics_init(&m);
    struct pdm_metrics_sample s;
    struct pdm_fields f = fld(7, 3, 5 * MS, 0);
    CHECK_INT(pdm_metrics_update(&m, SV, 1, &f, &s), 1);
    CHECK_INT(pdm_metrics_update(&m, SV, 2, &f, &s), 0);
    CHECK_INT(s.seq, PDM_METRICS_SEQ_DUPLICATE);
    CHECK_INT(s.have, 0);
    CHECK_INT(m.server_delay.count, 1);
}

static void test_wrap(void)
{
    struct pdm_metrics m;
    unsigned ev[6] = {0};
    pdm_metrics_init(&m);
    /* 65533 .. 2 with 0 missing, 65535 duplicated, 1 before 65535's dup */
    static const uint16_t a[] = {65533, 65534, 65535, 2, 1, 65535, 3};
    feed(&m, a, sizeof a / sizeof a[0], ev);
    CHECK_INT(ev[PDM_METRICS_SEQ_GAP], 1);  /* 65535 → 2 skips 0 and 1 */
    CHECK_INT(m.seq[SV].reordered, 1);      /* 1 */
    CHECK_INT(m.seq[SV].duplicates, 1);     /* 65535 */
    CHECK_INT(pdm_metrics_lost(&m, SV), 1); /* 0 */
    CHECK_INT(m.seq[SV].received, 6);

    /* A long run through several wraps, every 1000th PSN dropped. */
    pdm_metrics_init(&m);
    struct pdm_metrics_sample s;
    uint64_t drops = 0;
    for (uint32_t i = 0; i < 200500; i++) {
        if (i % 1000 == 999) {
            drops++;
            continue;
        }
        struct pdm_fields f = fld((uint16_t)(60000 + i), 0, 0, 0);
        pdm_metrics_update(&m, C, i, &f, &s);
    }
    CHECK_INT(pdm_metrics_lost(&m, C), drops);
    CHECK_INT(drops, 200);
    CHECK_INT(m.seq[C].received, 200500 - drops);
    CHECK_INT(m.seq[C].reordered + m.seq[C].duplicates + m.seq[C].late, 0);
    CHECK_INT(m.seq[C].highest - m.seq[C].base, 200499);
}

static void test_stat(void)
{
    struct pdm_metrics_stat st;
    memset(&st, 0, sizeof st);
    CHECK_INT(pdm_metrics_stat_mean(&st), 0);
    pdm_metrics_stat_add(&st, 30);
    CHECK_INT(st.min, 30);
    CHECK_INT(st.max, 30);
    pdm_metrics_stat_add(&st, 10);
    pdm_metrics_stat_add(&st, 21);
    CHECK_INT(st.count, 3);
    CHECK_INT(st.min, 10);
    CHECK_INT(st.max, 30);
    CHECK_INT(pdm_metrics_stat_mean(&st), 20); /* 61 / 3 truncated */
    pdm_metrics_stat_add(&st, UINT64_MAX);
    pdm_metrics_stat_add(&st, UINT64_MAX);
    CHECK(st.max == UINT64_MAX);
    /* (2^65 − 2 + 61) / 5 does not overflow the sum */
    CHECK(pdm_metrics_stat_mean(&st) == (uint64_t)(((pdm_u128)UINT64_MAX * 2 + 61) / 5));
}

int main(void)
{
    RUN(test_scripted);
    RUN(test_ping_pong);
    RUN(test_rtd_matching);
    RUN(test_loss);
    RUN(test_reorder);
    RUN(test_duplicates);
    RUN(test_wrap);
    RUN(test_stat);
    return harness_done();
}
