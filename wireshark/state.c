/*
 * The analysis half of the plugin (pdmv2.h): per flow and per frame, the
 * same decisions as `pdm analyze`, so that the delays Wireshark shows are
 * the analyser's. Nothing here knows Wireshark; glib is used for the flow
 * map only. The rules and where they come from:
 *
 *   roles      the endpoint that sent the first PDM packet of a flow is its
 *              client (tools/analyze/flows.c, flow_create without --server);
 *   keys       per sender direction, up to PW_CANDIDATES secrets from
 *              pdm_keylog_lookup(), ranks 0, 1, ... of both orientations
 *              interleaved; the first that opens an option is kept, the
 *              others dropped (tools/analyze/keys.c, docs/analysis.md);
 *   replays    an opened option whose (Kri, RN) opened before within the
 *              last PDM_METRICS_WINDOW PSNs of its direction is a copy: not
 *              accounted (tools/analyze/core.c, replay_check);
 *   order      an option whose PSNTP is behind the highest of its direction
 *              counts for the sequence but its deltas are dropped
 *              (tools/analyze/core.c, account);
 *   metrics    pdm_metrics_update() (lib/metrics.c) does the rest.
 */
#include "pdmv2.h"

#include <pdm/flow.h>
#include <pdm/keylog.h>
#include <pdm/profile.h>

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PW_CANDIDATES 8 /* secrets a direction tries, as the analyser */
#define PW_RING       PDM_METRICS_WINDOW

/* The receiver of one sender direction. */
struct pw_rx {
    struct pdm_flow_tuple t; /* t.src sealed the options */
    struct pdm_profile_secret sec[PW_CANDIDATES];
    struct pdm_profile_rx rx[PW_CANDIDATES];
    size_t n;
    int locked; /* sec[0] opened an option: the only one tried */
};

struct pw_dir {
    int rx_state; /* 0 untried, 1 ready, -1 no key for the direction */
    struct pw_rx *rx;
    uint32_t rn_ring[PW_RING];   /* (Kri, RN) of opened options, by PSN */
    uint32_t psn_frame[PW_RING]; /* frame that carried PSNTP p, at p % PW_RING */
    uint16_t psn_of[PW_RING];    /* the PSN of that entry */
};

struct pw_flow {
    uint32_t index;
    struct pdm_flow_tuple tup; /* client -> server */
    struct pdm_metrics m;
    struct pw_dir dir[2]; /* [PDM_METRICS_FROM_*] */
    /* The frames of the server packets pdm_metrics keeps for round trips
     * (the same ring, filled at the same moments: lib/metrics.c). */
    uint32_t hist_frame[PDM_METRICS_HISTORY];
    uint16_t hist_psn[PDM_METRICS_HISTORY];
    unsigned hist_next, hist_n;
};

/* The map key: the two endpoints in a canonical order. */
struct pw_key {
    uint8_t a[16], b[16];
    uint16_t pa, pb;
    uint8_t proto;
};

static GHashTable *flows; /* struct pw_key * -> struct pw_flow * */
static uint32_t nflows;
static struct pdm_keylog_entry *keys;
static size_t nkeys;

/* ---- key log ----------------------------------------------------------- */

static void keys_free(void)
{
    for (size_t i = 0; i < nkeys; i++)
        pdm_keylog_entry_wipe(&keys[i]);
    g_free(keys);
    keys = NULL;
    nkeys = 0;
}

int pw_keys_load(const char *path, unsigned *bad)
{
    char line[1024];
    size_t cap = 0;
    FILE *fp;

    *bad = 0;
    keys_free();
    if (!path || !*path)
        return 0;
    if (!(fp = fopen(path, "r")))
        return -1;
    while (fgets(line, sizeof line, fp)) {
        struct pdm_keylog_entry e;
        int rv = pdm_keylog_parse_line(line, strlen(line), &e, NULL, 0);
        if (rv < 0)
            (*bad)++;
        if (rv <= 0)
            continue;
        if (nkeys == cap) {
            cap = cap ? cap * 2 : 16;
            keys = g_renew(struct pdm_keylog_entry, keys, cap);
        }
        keys[nkeys++] = e;
    }
    pdm_memzero(line, sizeof line);
    fclose(fp);
    return (int)nkeys;
}

/* ---- receivers ----------------------------------------------------------- */

struct pw_sub {
    const struct pdm_keylog_entry **e;
    size_t n;
};

static const struct pdm_keylog_entry *sub_at(void *ctx, size_t i)
{
    return ((const struct pw_sub *)ctx)->e[i];
}

static void rx_free(struct pw_rx *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < PW_CANDIDATES; i++) {
        pdm_profile_rx_clear(&r->rx[i]);
        pdm_profile_secret_wipe(&r->sec[i]);
    }
    g_free(r);
}

/* The receiver for sender direction t, or NULL when no key log line covers
 * its addresses (or a derivation failed: then nothing opens either). */
static struct pw_rx *rx_new(const struct pdm_flow_tuple *t)
{
    struct pw_sub sub = {g_new0(const struct pdm_keylog_entry *, nkeys + 1), 0};
    struct pw_rx *r = g_new0(struct pw_rx, 1);
    /* Orientation 0: the sender is the registered client; 1: the server.
     * An address talking to itself has one orientation. */
    int live[2] = {1, memcmp(t->src, t->dst, 16) != 0};

    for (size_t i = 0; i < nkeys; i++)
        if (pdm_keylog_match(&keys[i], t->src, t->dst) ||
            pdm_keylog_match(&keys[i], t->dst, t->src))
            sub.e[sub.n++] = &keys[i];
    r->t = *t;
    for (size_t rank = 0; sub.n && (live[0] || live[1]); rank++) {
        for (int o = 0; o < 2; o++) {
            struct pdm_keylog_entry e;
            if (!live[o] || r->n == PW_CANDIDATES)
                continue;
            const uint8_t *c = o ? t->dst : t->src, *s = o ? t->src : t->dst;
            int rv = pdm_keylog_lookup(sub_at, &sub, sub.n, c, s, rank, &e, NULL);
            live[o] = rv > 0;
            if (rv > 0 && pdm_profile_secret_init(&r->sec[r->n], e.suite, e.salt, sizeof e.salt,
                                                  e.secret, e.secret_len) == 0)
                r->n++;
            pdm_keylog_entry_wipe(&e);
        }
        if (r->n == PW_CANDIDATES)
            break;
    }
    g_free(sub.e);
    if (r->n == 0) {
        rx_free(r);
        return NULL;
    }
    return r;
}

/* Opens the option at in (inlen bytes); returns 0 with *opt and *kri, or
 * PDM_ERR_AUTH. The first candidate that opens is moved to the front and
 * the rest are wiped (tools/analyze/keys.c, an_rx_open). */
static int rx_open(struct pw_rx *r, const uint8_t *in, size_t inlen, struct pdm_option *opt,
                   uint32_t *kri)
{
    size_t tries = r->locked ? 1 : r->n;

    for (size_t i = 0; i < tries; i++) {
        uint16_t k = 0;
        /* Returns the bytes consumed; negative: not under this secret. */
        if (pdm_profile_rx_open(&r->rx[i], &r->sec[i], &r->t, in, inlen, in[0], opt, &k) < 0)
            continue;
        if (!r->locked) {
            if (i != 0) {
                struct pdm_profile_secret s = r->sec[0];
                struct pdm_profile_rx x = r->rx[0];
                r->sec[0] = r->sec[i], r->rx[0] = r->rx[i];
                r->sec[i] = s, r->rx[i] = x;
                pdm_memzero(&s, sizeof s);
            }
            for (size_t j = 1; j < r->n; j++) {
                pdm_profile_rx_clear(&r->rx[j]);
                pdm_profile_secret_wipe(&r->sec[j]);
            }
            r->n = 1;
            r->locked = 1;
        }
        *kri = k;
        return 0;
    }
    return PDM_ERR_AUTH;
}

/* ---- flows ------------------------------------------------------------- */

static guint key_hash(gconstpointer p)
{
    const uint8_t *b = p;
    guint h = 2166136261u;
    for (size_t i = 0; i < sizeof(struct pw_key); i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

static gboolean key_equal(gconstpointer x, gconstpointer y)
{
    return memcmp(x, y, sizeof(struct pw_key)) == 0;
}

static void flow_free(gpointer p)
{
    struct pw_flow *f = p;
    rx_free(f->dir[0].rx);
    rx_free(f->dir[1].rx);
    g_free(f);
}

void pw_flows_reset(void)
{
    if (flows)
        g_hash_table_destroy(flows);
    flows = g_hash_table_new_full(key_hash, key_equal, g_free, flow_free);
    nflows = 0;
}

void pw_free_all(void)
{
    if (flows)
        g_hash_table_destroy(flows);
    flows = NULL;
    keys_free();
}

/* The flow of a packet with tuple t (t->src sent it), created with t->src
 * as its client when new; *role gets the sender's role. */
static struct pw_flow *flow_get(const struct pdm_flow_tuple *t, unsigned *role)
{
    struct pw_key *k = g_new0(struct pw_key, 1);
    int src_first =
        memcmp(t->src, t->dst, 16) < 0 || (memcmp(t->src, t->dst, 16) == 0 && t->sport <= t->dport);
    struct pw_flow *f;

    memcpy(k->a, src_first ? t->src : t->dst, 16);
    memcpy(k->b, src_first ? t->dst : t->src, 16);
    k->pa = src_first ? t->sport : t->dport;
    k->pb = src_first ? t->dport : t->sport;
    k->proto = t->proto;
    if (!flows)
        pw_flows_reset();
    if ((f = g_hash_table_lookup(flows, k)) != NULL) {
        g_free(k);
        *role = memcmp(f->tup.src, t->src, 16) == 0 && f->tup.sport == t->sport
                    ? PDM_METRICS_FROM_CLIENT
                    : PDM_METRICS_FROM_SERVER;
        return f;
    }
    f = g_new0(struct pw_flow, 1);
    f->index = nflows++;
    f->tup = *t;
    pdm_metrics_init(&f->m);
    g_hash_table_insert(flows, k, f);
    *role = PDM_METRICS_FROM_CLIENT;
    return f;
}

/* ---- per packet ---------------------------------------------------------- */

/* Is psn behind (or equal to) the highest PSN of the direction? (the
 * analyser's psn_behind, tools/analyze/core.c) */
static int psn_behind(const struct pdm_metrics_seq *q, uint16_t psn)
{
    uint16_t ahead = (uint16_t)(psn - (uint16_t)q->highest);
    return q->started && (ahead == 0 || ahead >= 0x8000u);
}

/* Opens the encrypted option of the packet (role r of f); sets out->status
 * and, when it opened, the fields, Kri and replay verdict. */
static void open_encrypted(struct pw_flow *f, unsigned r, const uint8_t *pkt,
                           const struct pdm_pkt_info *info, struct pw_frame *out)
{
    struct pw_dir *d = &f->dir[r];
    struct pdm_option opt;
    uint32_t v, *slot;

    if (d->rx_state == 0) {
        struct pdm_flow_tuple st = f->tup;
        if (r == PDM_METRICS_FROM_SERVER) {
            memcpy(st.src, f->tup.dst, 16);
            memcpy(st.dst, f->tup.src, 16);
            st.sport = f->tup.dport;
            st.dport = f->tup.sport;
        }
        d->rx = rx_new(&st);
        d->rx_state = d->rx ? 1 : -1;
    }
    if (d->rx_state != 1) {
        out->status = PW_NO_KEY;
        return;
    }
    if (rx_open(d->rx, pkt + info->pdm_off, info->pkt_len - info->pdm_off, &opt, &out->kri) != 0) {
        out->status = PW_AUTH_FAILED;
        return;
    }
    out->status = PW_OPENED;
    out->fields = opt.fields;
    pdm_fields_pack(out->plain, &opt.fields);
    pdm_memzero(&opt, sizeof opt);
    /* The replay record (tools/analyze/core.c, replay_check). */
    v = (out->kri & 0xffffu) << 16 | 0x8000u | info->pdm.rn;
    slot = &d->rn_ring[out->fields.psntp % PW_RING];
    out->replayed = psn_behind(&f->m.seq[r], out->fields.psntp) && *slot == v;
    *slot = v;
}

/* pdm_metrics_update() with the analyser's out-of-order rule, plus the
 * frames the delays pair with. */
static void account(struct pw_flow *f, unsigned r, uint64_t ts_ns, uint32_t frame,
                    struct pw_frame *out)
{
    struct pdm_fields mf = out->fields;
    struct pw_dir *peer = &f->dir[r ^ 1u];
    size_t at = out->fields.psnlr % PW_RING;

    out->behind = psn_behind(&f->m.seq[r], mf.psntp);
    if (out->behind) {
        /* Out of order: keep the sequence accounting, drop the deltas. */
        mf.delta_tlr = mf.delta_tls = mf.psnlr = 0;
        mf.scale_dtlr = mf.scale_dtls = 0;
    }
    if (peer->psn_frame[at] && peer->psn_of[at] == out->fields.psnlr)
        out->psnlr_frame = peer->psn_frame[at];
    (void)pdm_metrics_update(&f->m, r, ts_ns, &mf, &out->sample);
    out->accounted = 1;
    if (out->sample.seq != PDM_METRICS_SEQ_DUPLICATE) {
        f->dir[r].psn_frame[mf.psntp % PW_RING] = frame;
        f->dir[r].psn_of[mf.psntp % PW_RING] = mf.psntp;
    }
    if (r == PDM_METRICS_FROM_SERVER && (out->sample.have & PDM_METRICS_HAVE_SERVER_DELAY)) {
        f->hist_frame[f->hist_next] = frame;
        f->hist_psn[f->hist_next] = mf.psntp;
        f->hist_next = (f->hist_next + 1) % PDM_METRICS_HISTORY;
        if (f->hist_n < PDM_METRICS_HISTORY)
            f->hist_n++;
    }
    if (r == PDM_METRICS_FROM_CLIENT &&
        (out->sample.have & (PDM_METRICS_HAVE_RTD | PDM_METRICS_RTD_NEGATIVE))) {
        /* The most recent remembered server packet with PSNTP = PSNLR, as
         * lib/metrics.c hist_find(). */
        for (unsigned i = 1; i <= f->hist_n; i++) {
            unsigned j = (f->hist_next + PDM_METRICS_HISTORY - i) % PDM_METRICS_HISTORY;
            if (f->hist_psn[j] == mf.psnlr) {
                out->rtd_frame = f->hist_frame[j];
                break;
            }
        }
    }
}

int pw_account(const uint8_t *pkt, const struct pdm_pkt_info *info, uint64_t ts_ns, uint32_t frame,
               struct pw_frame *out)
{
    struct pdm_flow_tuple t;
    struct pw_flow *f;
    unsigned r;

    memset(out, 0, sizeof *out);
    switch (info->upper_proto) {
    case PDM_NH_TCP:
    case PDM_NH_UDP:
    case PDM_NH_UDPLITE:
    case PDM_NH_SCTP:
    case PDM_NH_DCCP:
        if (!info->has_ports && !info->is_fragment)
            return -1; /* the analyser counts it as truncated */
        break;
    default:
        break;
    }
    memset(&t, 0, sizeof t);
    memcpy(t.src, pkt + 8, 16);
    memcpy(t.dst, pkt + 24, 16);
    t.sport = info->sport;
    t.dport = info->dport;
    t.proto = info->upper_proto;
    f = flow_get(&t, &r);
    out->flow = f->index;
    out->role = r;
    if (info->pdm.format == PDM_FORMAT_V2_ENCRYPTED) {
        open_encrypted(f, r, pkt, info, out);
        if (out->status != PW_OPENED || out->replayed)
            return 0;
    } else {
        out->status = PW_CLEAR;
        out->fields = info->pdm.fields;
    }
    account(f, r, ts_ns, frame, out);
    return 0;
}
