/*
 * The analyser's per-packet path (analyze.h): link layer to IPv6
 * (link.c), the PDM option (pdm_pkt_parse: any options header of the
 * chain), the flow (a cache here, the flow table behind it in flows.c),
 * opening encrypted options (keys.c), then pdm_metrics_update() and the
 * sample arrays behind median and p95 (series.c).
 *
 * Replayed and out-of-order options (draft-ietf-ippm-encrypted-pdmv2-04
 * §7.1: "the offline decryption and analysis should be able to find and
 * eliminate out-of-order data") never reach the delay statistics:
 *   - an encrypted option whose (Kri, RN) already opened on its direction
 *     is a replay: the sender never reuses an RN under one key (PROFILE §3),
 *     so a repeat is a copy, by the network or by an attacker who pasted a
 *     sniffed option into a packet of their own. It is counted as
 *     `replayed` and given to nothing else;
 *   - an option whose PSNTP is behind the highest PSN of its direction
 *     (reordered, late or a duplicate, pdm_metrics' serial arithmetic)
 *     still counts in the sequence statistics, but its delays are dropped
 *     (counted as `excluded`): its DeltaTLR / DeltaTLS describe an older
 *     exchange than the one the sample would be matched with.
 */
#include "analyze.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"

/* ---- flow cache ---------------------------------------------------------- */

/*
 * The flow cache's key of a packet: its source and destination addresses
 * as raw 64-bit words (host order: only compared, never interpreted) and
 * sport << 32 | dport << 16 | protocol. The reverse direction's key swaps
 * the address pairs and the ports.
 */
static void cache_key(uint64_t k[5], const uint8_t *pkt, uint16_t sport, uint16_t dport,
                      uint8_t proto)
{
    memcpy(k, pkt + 8, 32);
    k[4] = (uint64_t)sport << 32 | (uint64_t)dport << 16 | proto;
}

static uint64_t ports_swapped(uint64_t w)
{
    return (w >> 32 & 0xffff) << 16 | (w >> 16 & 0xffff) << 32 | (w & 0xff);
}

/* A hash that both directions of a flow share: the cache slot. Not keyed:
 * a crafted capture can only make the cache miss, and the keyed flow
 * table behind it answers. XOR pairs the directions (src ^ dst, sport ^
 * dport); one fold and one multiply bring every input bit into the top
 * bits, which index the cache (cheap: it runs once a packet). */
static size_t cache_slot(const uint64_t k[5])
{
    uint64_t x = (k[0] ^ k[2]) * 0x9e3779b97f4a7c15ull + (k[1] ^ k[3]);
    x ^= ((k[4] >> 32 ^ k[4] >> 16) & 0xffff) << 8 ^ (k[4] & 0xff);
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    return (size_t)(x >> (64 - AN_CACHE_BITS));
}

/* The tuple of the packet whose cache key is k. */
static void tuple_of_key(struct pdm_flow_tuple *t, const uint64_t k[5])
{
    memset(t, 0, sizeof *t);
    memcpy(t->src, k, 16);
    memcpy(t->dst, k + 2, 16);
    t->sport = (uint16_t)(k[4] >> 32);
    t->dport = (uint16_t)(k[4] >> 16);
    t->proto = (uint8_t)k[4];
}

/* Finds (or creates) the flow of the packet with cache key k; sets *role.
 * NULL: out of memory. */
static struct an_flow *flow_find(struct an_ctx *a, const uint64_t k[5], uint64_t ts_ns,
                                 unsigned *role)
{
    struct pdm_flow_tuple t;
    size_t slot = cache_slot(k);
    struct an_cache_ent *ce;
    struct an_flow *f;

    /* Two ways: the slot and its neighbour (slot ^ 1). */
    for (size_t w = 0; w < 2; w++) {
        const uint64_t *c;
        ce = &a->cache[slot ^ w];
        c = ce->k;
        if (!ce->f)
            continue;
        if (((k[0] ^ c[0]) | (k[1] ^ c[1]) | (k[2] ^ c[2]) | (k[3] ^ c[3]) | (k[4] ^ c[4])) == 0) {
            *role = ce->role;
            return ce->f;
        }
        if (((k[0] ^ c[2]) | (k[1] ^ c[3]) | (k[2] ^ c[0]) | (k[3] ^ c[1]) |
             (k[4] ^ ports_swapped(c[4]))) == 0) {
            *role = ce->role ^ 1;
            return ce->f;
        }
    }
    /* A miss fills an empty way, else the one filled longer ago. */
    ce = &a->cache[slot];
    if (ce->f && (!a->cache[slot ^ 1].f || a->cache[slot ^ 1].stamp < ce->stamp))
        ce = &a->cache[slot ^ 1];
    tuple_of_key(&t, k);
    if (!(f = an_flow_lookup(a, &t, ts_ns, role)))
        return NULL;
    memcpy(ce->k, k, sizeof ce->k);
    ce->f = f;
    ce->role = *role;
    ce->stamp = ++a->cache_stamp;
    return f;
}

/* ---- encrypted options --------------------------------------------------- */

/* Is psn behind (or equal to) the highest PSN seen in this direction? */
static int psn_behind(const struct pdm_metrics_seq *q, uint16_t psn)
{
    uint16_t ahead = (uint16_t)(psn - (uint16_t)q->highest);
    return q->started && (ahead == 0 || ahead >= 0x8000u);
}

/*
 * Returns 1 when the option (kri, rn) carrying PSNTP psn is a copy of one
 * that opened before on this direction, and records it. The sender never
 * seals two options under one (Kri, RN) (PROFILE §3), so the same pair
 * again is the same option: a network duplicate or an attacker's replay.
 * The record is a ring indexed by PSN (AN_RN_RING entries, like the PSN
 * window of pdm_metrics): a copy is recognised while its original is among
 * the last AN_RN_RING PSNs of the direction; an older copy is "late" for
 * the sequence statistics and kept out of the delays all the same. Indexed
 * by PSN, the ring is read and written in order: no cache misses on the
 * packet path (a bitmap over RNs, which come in random order, had them).
 */
static int replay_check(struct an_dir *d, uint32_t kri, uint16_t rn, uint16_t psn, int behind)
{
    uint32_t v = (kri & 0xffffu) << 16 | 0x8000u | rn; /* rn < 0x8000 */
    uint32_t *e;

    if (!d->rn_ring && !(d->rn_ring = calloc(AN_RN_RING, sizeof *d->rn_ring)))
        return PDM_ERR_NOMEM;
    e = &d->rn_ring[psn % AN_RN_RING];
    if (behind && *e == v)
        return 1;
    *e = v;
    return 0;
}

/*
 * Opens the encrypted option of a packet from role r of f. Returns the
 * an_status, or a failure of this machine (PDM_ERR_NOMEM, PDM_ERR_CRYPTO,
 * ...; a->fail says what failed), which an_frame() passes up: counting it
 * as an authentication failure or a missing key would blame the traffic.
 */
static int open_option(struct an_ctx *a, struct an_flow *f, unsigned r, const uint8_t *pkt,
                       const struct pdm_pkt_info *info, struct pdm_fields *fields, int *replayed)
{
    struct an_dir *d = &f->dir[r];
    uint32_t kri;
    int rv;

    if (!a->o.keys) {
        d->no_key++;
        return AN_ST_NO_KEY;
    }
    if (d->rx_state == 0) {
        struct pdm_flow_tuple st;
        if (r == AN_CLIENT)
            st = f->tup;
        else
            an_tuple_swap(&st, &f->tup);
        if ((rv = an_rx_new(a->o.keys, &st, &d->rx)) != 0 && rv != PDM_ERR_NOT_FOUND) {
            a->fail = "deriving the secrets of a flow direction from the key log";
            return rv;
        }
        d->rx_state = rv == 0 ? 1 : PDM_ERR_NOT_FOUND;
    }
    if (d->rx_state != 1) {
        d->no_key++;
        return AN_ST_NO_KEY;
    }
    rv = an_rx_open(d->rx, pkt + info->pdm_off, info->pkt_len - info->pdm_off, a->o.opt_type,
                    fields, &kri);
    if (rv == PDM_ERR_AUTH) {
        d->auth_failures++;
        return AN_ST_AUTH_FAILED;
    }
    if (rv == PDM_ERR_MALFORMED) {
        /* Not an encrypted option after all (pdm_pkt_parse() decodes the
         * same way, so this does not happen): a malformed packet. */
        a->c.malformed++;
        return AN_ST_SKIPPED;
    }
    if (rv != 0) {
        a->fail = "opening an encrypted option";
        return rv;
    }
    if (!d->kri_seen) {
        d->kri_seen = 1;
        d->kri_last = kri;
    } else if (kri > d->kri_last) {
        d->rotations += kri - d->kri_last;
        d->kri_last = kri;
    }
    rv = replay_check(d, kri, info->pdm.rn, fields->psntp, psn_behind(&f->m.seq[r], fields->psntp));
    if (rv < 0) {
        a->fail = "the replay record of a flow direction";
        return rv;
    }
    *replayed = rv;
    return AN_ST_OPENED;
}

/* ---- per packet ---------------------------------------------------------- */

static void gp_note(struct an_dir *d, uint32_t gp, uint64_t ts_ns)
{
    if (gp == 0) /* never sent (PROFILE §2): a sender that leaves it unset */
        return;
    if (d->gp_count == 0) {
        d->gp_min = d->gp_max = gp;
        d->gp_first_ns = ts_ns;
    } else if (gp < d->gp_min) {
        d->gp_min = gp;
    } else if (gp > d->gp_max) {
        d->gp_max = gp;
    }
    d->gp_last_ns = ts_ns;
    d->gp_count++;
}

static inline int series_put(const struct an_ctx *a, struct an_series *s, uint64_t t_ns,
                             uint64_t v_ns, uint64_t *rng)
{
    if (s->n < s->cap) {
        s->offered++;
        if (s->t)
            s->t[s->n] = t_ns;
        s->v[s->n++] = v_ns;
        return 0;
    }
    return an_series_add(s, t_ns, v_ns, a->o.keep_times, a->o.max_samples, rng);
}

static int account(struct an_ctx *a, struct an_flow *f, unsigned r, uint64_t ts_ns,
                   const struct pdm_fields *fields)
{
    struct pdm_metrics_sample smp;
    struct pdm_fields mf = *fields;
    int rv = 0;

    if (psn_behind(&f->m.seq[r], fields->psntp)) {
        /* Out of order: keep the sequence accounting, drop the deltas. */
        mf.delta_tlr = mf.delta_tls = mf.psnlr = 0;
        mf.scale_dtlr = mf.scale_dtls = 0;
    }
    if (pdm_metrics_update(&f->m, r, ts_ns, &mf, &smp) < 0)
        return 0;
    if (smp.seq == PDM_METRICS_SEQ_REORDERED || smp.seq == PDM_METRICS_SEQ_LATE)
        f->dir[r].excluded++;
    if (smp.have & PDM_METRICS_HAVE_SERVER_DELAY)
        rv |= series_put(a, &f->series[AN_SERVER_DELAY], ts_ns, smp.server_delay_ns, &a->rng);
    if (smp.have & PDM_METRICS_HAVE_CLIENT_DELAY)
        rv |= series_put(a, &f->series[AN_CLIENT_DELAY], ts_ns, smp.client_delay_ns, &a->rng);
    if (smp.have & PDM_METRICS_HAVE_RTD)
        rv |= series_put(a, &f->series[AN_RTD], ts_ns, smp.rtd_ns, &a->rng);
    if (rv) {
        a->fail = "the delay samples";
        return PDM_ERR_NOMEM;
    }
    return 0;
}

int an_frame(struct an_ctx *a, int dlt, uint64_t ts_ns, const uint8_t *frame, size_t caplen,
             size_t wirelen, struct an_result *res)
{
    struct an_result local;
    struct pdm_flow_tuple t;
    uint64_t key[5];
    struct an_flow *f;
    const uint8_t *pkt;
    size_t off, len;
    unsigned r;
    int rv;

    if (!res)
        res = &local;
    res->status = AN_ST_SKIPPED;
    res->replayed = 0;
    if (a->c.frames++ == 0)
        a->first_ns = ts_ns;
    a->last_ns = ts_ns;

    if ((rv = an_link_ipv6(dlt, frame, caplen, &off)) != 0) {
        if (rv == PDM_ERR_TRUNCATED)
            a->c.truncated++;
        else
            a->c.not_ipv6++;
        return 0;
    }
    a->c.ipv6++;
    res->ip_off = off;
    pkt = frame + off;
    len = caplen - off;
    if (len >= PDM_IPV6_HDR_SIZE && wirelen > caplen &&
        PDM_IPV6_HDR_SIZE + (size_t)pdm_get_u16be(pkt + 4) > len) {
        /* Cut by the snapshot length: analyse what was captured as if it
         * were the whole packet (the option and ports come early). */
        if (!a->scratch && !(a->scratch = malloc(AN_SCRATCH_SIZE))) {
            a->fail = "a copy of a truncated packet";
            return PDM_ERR_NOMEM;
        }
        if (len > AN_SCRATCH_SIZE)
            len = AN_SCRATCH_SIZE;
        memcpy(a->scratch, pkt, len);
        pdm_put_u16be(a->scratch + 4, (uint16_t)(len - PDM_IPV6_HDR_SIZE));
        pkt = a->scratch;
    }
    if ((rv = pdm_pkt_parse(pkt, len, a->o.opt_type, &res->info)) != 0) {
        if (pkt == a->scratch || (len < PDM_IPV6_HDR_SIZE && wirelen > caplen))
            a->c.truncated++;
        else
            a->c.malformed++;
        return 0;
    }
    if (!res->info.has_pdm)
        return 0;
    switch (res->info.upper_proto) {
    case PDM_NH_TCP:
    case PDM_NH_UDP:
    case PDM_NH_UDPLITE:
    case PDM_NH_SCTP:
    case PDM_NH_DCCP:
        if (!res->info.has_ports && !res->info.is_fragment) {
            a->c.truncated++;
            return 0;
        }
        break;
    default:
        break;
    }
    a->c.pdm++;

    cache_key(key, pkt, res->info.sport, res->info.dport, res->info.upper_proto);
    if (a->o.nflows) {
        tuple_of_key(&t, key);
        if (an_flow_filtered(a, &t)) {
            a->c.filtered++;
            return 0;
        }
    }
    if (!(f = flow_find(a, key, ts_ns, &r))) {
        a->c.table_full++;
        a->fail = "a new flow";
        return PDM_ERR_NOMEM;
    }
    f->packets++;
    f->last_ns = ts_ns;
    f->dir[r].packets++;
    f->formats |= AN_FMT_BIT(res->info.pdm.format);

    if (res->info.pdm.format == PDM_FORMAT_V2_ENCRYPTED) {
        if ((rv = open_option(a, f, r, pkt, &res->info, &res->fields, &res->replayed)) < 0)
            return rv;
        res->status = (enum an_status)rv;
        if (res->status != AN_ST_OPENED)
            return 0;
        if (res->replayed) {
            f->dir[r].replayed++;
            return 0;
        }
    } else {
        res->status = AN_ST_CLEAR;
        res->fields = res->info.pdm.fields;
    }
    if (res->info.pdm.format != PDM_FORMAT_RFC8250)
        gp_note(&f->dir[r], res->fields.global_pointer, ts_ns);
    return account(a, f, r, ts_ns, &res->fields);
}

void an_frame_error(const struct an_ctx *a, int rv, char *buf, size_t len)
{
    snprintf(buf, len, "frame %" PRIu64 ": %s: %s", a->c.frames, a->fail ? a->fail : "analysis",
             pdm_strerror(rv));
}
