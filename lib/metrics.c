/*
 * openpdm metrics: delays from DeltaTLR / DeltaTLS (RFC 8250 §4, PROFILE
 * §2) and loss, reordering and duplicates from the PSNTP sequence.
 *
 * The sequence tracker is the usual extended-sequence-number window (as in
 * RTP receivers and IPsec anti-replay, RFC 4303 §3.4.3): 16-bit PSNs are
 * extended to 64 bits relative to the highest seen, and a bitmap of the last
 * W extended PSNs says which arrived. Extended numbers start at 2^32 + PSN
 * so that packets from before the first one seen stay positive.
 */
#include <pdm/metrics.h>
#include <pdm/time.h>

#include <string.h>

#define W          PDM_METRICS_WINDOW
#define EXT_ORIGIN ((uint64_t)1 << 32)

_Static_assert(W % 64 == 0 && (W & (W - 1)) == 0, "window is a power of 2, whole words");
_Static_assert(W <= 32768, "window below the serial-number horizon");

PDM_EXTERN void pdm_metrics_stat_add(struct pdm_metrics_stat *s, uint64_t v)
{
    if (s->count == 0 || v < s->min)
        s->min = v;
    if (s->count == 0 || v > s->max)
        s->max = v;
    s->count++;
    s->sum += v;
}

PDM_EXTERN uint64_t pdm_metrics_stat_mean(const struct pdm_metrics_stat *s)
{
    return s->count ? (uint64_t)(s->sum / s->count) : 0;
}

PDM_EXTERN void pdm_metrics_init(struct pdm_metrics *m)
{
    memset(m, 0, sizeof *m);
}

static inline int bit_get(const struct pdm_metrics_seq *q, uint64_t ext)
{
    unsigned i = (unsigned)(ext % W);
    return (int)((q->window[i / 64] >> (i % 64)) & 1);
}

static inline void bit_put(struct pdm_metrics_seq *q, uint64_t ext, int v)
{
    unsigned i = (unsigned)(ext % W);
    uint64_t b = (uint64_t)1 << (i % 64);
    if (v)
        q->window[i / 64] |= b;
    else
        q->window[i / 64] &= ~b;
}

/* Moves the highest PSN forward to ext: PSNs leaving the window unseen are
 * lost, the new positions (highest, ext) start as missing. */
static void seq_advance(struct pdm_metrics_seq *q, uint64_t ext)
{
    uint64_t n = ext - q->highest;
    if (n > W) {
        /* The whole old window leaves; PSNs (highest, ext − W] never even
         * enter it. All are ≥ base. */
        for (uint64_t p = q->highest - W + 1; p <= q->highest; p++)
            q->lost += p >= q->base && !bit_get(q, p);
        q->lost += n - W;
        memset(q->window, 0, sizeof q->window);
    } else {
        /* Position p reuses the bit of p − W, which leaves the window. */
        for (uint64_t p = q->highest + 1; p <= ext; p++) {
            q->lost += p - W >= q->base && !bit_get(q, p);
            bit_put(q, p, 0);
        }
    }
    q->highest = ext;
}

static enum pdm_metrics_seq_event seq_update(struct pdm_metrics_seq *q, uint16_t psn, uint32_t *gap)
{
    *gap = 0;
    if (!q->started) {
        q->started = 1;
        q->highest = q->base = EXT_ORIGIN + psn;
        memset(q->window, 0, sizeof q->window);
        bit_put(q, q->highest, 1);
        q->received = 1;
        return PDM_METRICS_SEQ_FIRST;
    }
    /* Serial number arithmetic (RFC 1982 style) on 16 bits. */
    uint16_t ahead = (uint16_t)(psn - (uint16_t)q->highest);
    if (ahead != 0 && ahead < 0x8000u) {
        uint64_t ext = q->highest + ahead;
        seq_advance(q, ext);
        bit_put(q, ext, 1);
        q->received++;
        *gap = ahead - 1u;
        return ahead == 1 ? PDM_METRICS_SEQ_NEXT : PDM_METRICS_SEQ_GAP;
    }
    uint64_t behind = ahead == 0 ? 0 : 65536u - ahead; /* 0 .. 32768 */
    if (behind >= W) {
        q->late++;
        q->received++;
        return PDM_METRICS_SEQ_LATE;
    }
    uint64_t ext = q->highest - behind;
    if (bit_get(q, ext)) {
        q->duplicates++;
        return PDM_METRICS_SEQ_DUPLICATE;
    }
    bit_put(q, ext, 1);
    q->received++;
    q->reordered++;
    return PDM_METRICS_SEQ_REORDERED;
}

PDM_EXTERN uint64_t pdm_metrics_lost(const struct pdm_metrics *m, unsigned from)
{
    if (from > 1)
        return 0;
    const struct pdm_metrics_seq *q = &m->seq[from];
    uint64_t n = q->lost;
    if (!q->started)
        return 0;
    for (uint64_t p = q->highest - W + 1; p < q->highest; p++)
        n += p >= q->base && !bit_get(q, p);
    return n;
}

/* PROFILE §2: with no packet to measure from, the delta and scale are 0,
 * and PSNLR too for DeltaTLR. */
static inline int has_dtlr(const struct pdm_fields *f)
{
    return f->delta_tlr != 0 || f->scale_dtlr != 0 || f->psnlr != 0;
}

static inline int has_dtls(const struct pdm_fields *f)
{
    return f->delta_tls != 0 || f->scale_dtls != 0;
}

/* pdm_metrics_hist.used: 0 empty, else one of these. */
#define HIST_KEPT      1 /* a server packet, not yet matched by a round trip */
#define HIST_RTD_TAKEN 2 /* a client packet's round trip was measured against it */

/* The most recent remembered server packet with this PSNTP, or NULL. */
static struct pdm_metrics_hist *hist_find(struct pdm_metrics *m, uint16_t psntp)
{
    for (unsigned i = 1; i <= PDM_METRICS_HISTORY; i++) {
        struct pdm_metrics_hist *h =
            &m->hist[(m->hist_next + PDM_METRICS_HISTORY - i) % PDM_METRICS_HISTORY];
        if (!h->used)
            break;
        if (h->psntp == psntp)
            return h;
    }
    return NULL;
}

/*
 * Round trip (RFC 8250 §4.1): the client's DeltaTLS spans from its request
 * leaving to the server's reply arriving; the server's DeltaTLR is the part
 * of that spent in the server.
 *
 *   client  send ──────────────────────────────── receive   DeltaTLS (client)
 *   server          receive ───────── send                  DeltaTLR (server)
 *   RTD = DeltaTLS(client packet) − DeltaTLR(server packet with PSNTP = PSNLR)
 *
 * The sample is written in place into *out (or a local when out is NULL):
 * building it in a local and copying it at the end made the copy's wide
 * loads wait on the narrow stores just before them (a store-forwarding
 * stall on every packet).
 */
PDM_EXTERN int pdm_metrics_update(struct pdm_metrics *m, unsigned from, uint64_t now_ns,
                                  const struct pdm_fields *f, struct pdm_metrics_sample *out)
{
    struct pdm_metrics_sample local;
    struct pdm_metrics_sample *smp = out != NULL ? out : &local;
    int n = 0;

    if (!m || !f || from > 1)
        return PDM_ERR_INVAL;
    memset(smp, 0, sizeof *smp);
    smp->time_ns = now_ns;
    if (m->packets[0] + m->packets[1] == 0)
        m->first_ns = now_ns;
    m->last_ns = now_ns;
    m->packets[from]++;
    smp->seq = seq_update(&m->seq[from], f->psntp, &smp->gap);
    if (smp->seq == PDM_METRICS_SEQ_DUPLICATE)
        return 0;

    if (from == PDM_METRICS_FROM_SERVER) {
        if (has_dtlr(f)) {
            smp->server_delay_ns = pdm_time_decode_ns(f->delta_tlr, f->scale_dtlr);
            smp->have |= PDM_METRICS_HAVE_SERVER_DELAY;
            pdm_metrics_stat_add(&m->server_delay, smp->server_delay_ns);
            n++;
            struct pdm_metrics_hist *h = &m->hist[m->hist_next];
            h->psntp = f->psntp;
            h->delta_tlr = f->delta_tlr;
            h->scale_dtlr = f->scale_dtlr;
            h->used = HIST_KEPT;
            m->hist_next = (m->hist_next + 1) % PDM_METRICS_HISTORY;
        }
        return n;
    }
    if (has_dtlr(f)) {
        smp->client_delay_ns = pdm_time_decode_ns(f->delta_tlr, f->scale_dtlr);
        smp->have |= PDM_METRICS_HAVE_CLIENT_DELAY;
        pdm_metrics_stat_add(&m->client_delay, smp->client_delay_ns);
        n++;
    }
    if (has_dtls(f)) {
        struct pdm_metrics_hist *h = hist_find(m, f->psnlr);
        if (!h) {
            m->rtd_unmatched++;
            return n;
        }
        /* Every packet the client sends until it receives again carries
         * the same PSNLR and DeltaTLS (pdm_flow_on_send()): one round
         * trip, measured by the first of them. Counting the others again
         * would weight a round trip by how many packets followed it (a
         * TCP sender's burst after one ACK). */
        if (h->used == HIST_RTD_TAKEN)
            return n;
        h->used = HIST_RTD_TAKEN;
        uint64_t tls = pdm_time_decode_ns(f->delta_tls, f->scale_dtls);
        uint64_t tlr = pdm_time_decode_ns(h->delta_tlr, h->scale_dtlr);
        if (tls < tlr) {
            /* The server claims more time than the whole round trip took:
             * truncation (< 2^-15 of each value) next to a long server
             * delay, the two ends' clock granularity, or a bogus option.
             * A negative round trip is no delay; a 0 in its place would
             * pull the minimum, mean and median down. */
            smp->rtd_ns = tlr - tls;
            smp->have |= PDM_METRICS_RTD_NEGATIVE;
            m->rtd_negative++;
            return n;
        }
        smp->rtd_ns = tls - tlr;
        smp->have |= PDM_METRICS_HAVE_RTD;
        pdm_metrics_stat_add(&m->rtd, smp->rtd_ns);
        n++;
    }
    return n;
}
