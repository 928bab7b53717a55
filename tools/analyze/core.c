/*
 * The analyser's per-packet path (tools/analyze/analyze.h): link layer to IPv6,
 * the PDM option (pdm_pkt_parse: any options header of the chain), the
 * flow (pdm_flow_get), opening encrypted options (analyze_crypto.c), then
 * pdm_metrics_update() and the sample arrays behind median and p95.
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

#include <pdm/time.h>

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

/* ---- link layer ---------------------------------------------------------- */

int an_link_supported(int dlt)
{
    return dlt == AN_DLT_EN10MB || dlt == AN_DLT_RAW || dlt == AN_LINKTYPE_RAW ||
           dlt == AN_DLT_LINUX_SLL || dlt == AN_DLT_LINUX_SLL2 || dlt == AN_DLT_IPV6;
}

/*
 * Ethernet II:   dst(6) src(6) EtherType(2), then payload; each 802.1Q /
 *                802.1ad tag inserts TPID(2) TCI(2) before the EtherType.
 * Linux SLL:     packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2)
 * Linux SLL2:    protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1)
 *                addr len(1) addr(8)
 * (https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html, _SLL2.html)
 */
static inline int link_ipv6(int dlt, const uint8_t *frame, size_t caplen, size_t *off)
{
    uint16_t et;
    size_t o;

    switch (dlt) {
    case AN_DLT_EN10MB:
        if (caplen < 14)
            return PDM_ERR_TRUNCATED;
        et = pdm_get_u16be(frame + 12);
        o = 14;
        while (et == AN_ETHERTYPE_VLAN || et == AN_ETHERTYPE_QINQ || et == AN_ETHERTYPE_QINQ9) {
            if (caplen < o + 4)
                return PDM_ERR_TRUNCATED;
            et = pdm_get_u16be(frame + o + 2);
            o += 4;
        }
        break;
    case AN_DLT_LINUX_SLL:
        if (caplen < 16)
            return PDM_ERR_TRUNCATED;
        et = pdm_get_u16be(frame + 14);
        o = 16;
        break;
    case AN_DLT_LINUX_SLL2:
        if (caplen < 20)
            return PDM_ERR_TRUNCATED;
        et = pdm_get_u16be(frame);
        o = 20;
        break;
    case AN_DLT_RAW:
    case AN_LINKTYPE_RAW:
    case AN_DLT_IPV6:
        et = AN_ETHERTYPE_IPV6; /* the version nibble decides below */
        o = 0;
        break;
    default:
        return PDM_ERR_UNSUPPORTED;
    }
    if (et != AN_ETHERTYPE_IPV6)
        return PDM_ERR_NOT_FOUND;
    if (caplen <= o)
        return PDM_ERR_TRUNCATED;
    if (frame[o] >> 4 != 6)
        return PDM_ERR_NOT_FOUND;
    *off = o;
    return 0;
}

int an_link_ipv6(int dlt, const uint8_t *frame, size_t caplen, size_t *off)
{
    return link_ipv6(dlt, frame, caplen, off);
}

/* ---- samples ------------------------------------------------------------- */

/* xorshift64* (Vigna): the reservoir's choices; fixed seed, reproducible. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

int an_series_add(struct an_series *s, uint64_t t_ns, uint64_t v_ns, int keep_times,
                  size_t max_samples, uint64_t *rng)
{
    s->offered++;
    if (max_samples && s->n >= max_samples) {
        /* Algorithm R: the k-th sample replaces a random kept one with
         * probability max/k, so every sample is kept with equal chance. */
        uint64_t j = rng_next(rng) % s->offered;
        if (j < max_samples) {
            s->v[j] = v_ns;
            if (s->t)
                s->t[j] = t_ns;
        }
        return 0;
    }
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 256;
        uint64_t *p;
        if (max_samples && ncap > max_samples)
            ncap = max_samples;
        if (!(p = realloc(s->v, ncap * sizeof *p)))
            return PDM_ERR_NOMEM;
        s->v = p;
        if (keep_times) {
            if (!(p = realloc(s->t, ncap * sizeof *p)))
                return PDM_ERR_NOMEM;
            s->t = p;
        }
        s->cap = ncap;
    }
    if (s->t)
        s->t[s->n] = t_ns;
    s->v[s->n++] = v_ns;
    return 0;
}

void an_series_free(struct an_series *s)
{
    free(s->v);
    free(s->t);
    memset(s, 0, sizeof *s);
}

/*
 * Selection for the percentiles: puts the k-th smallest of v[0..n) at v[k],
 * with every value before it no larger and every value after it no
 * smaller (an_series_summary() relies on that for the p95).
 *
 * Partitions are branch-free (Lomuto's scheme with an unconditional swap
 * and a counted compare): delay samples come in random order, so the
 * compares of a classic Hoare partition mispredict about every other
 * element, which cost more than the passes themselves. Each round splits
 * v into < pivot, == pivot and > pivot with two such passes, so repeated
 * values (common: delays are quantised) cannot make it quadratic.
 */

/* Moves the values of v[0..n) below p to the front; returns their count. */
static size_t part_below(uint64_t *v, size_t n, uint64_t p)
{
    size_t i = 0;

    for (size_t j = 0; j < n; j++) {
        uint64_t x = v[j];
        v[j] = v[i];
        v[i] = x;
        i += x < p;
    }
    return i;
}

/* Moves the values of v[0..n) at most p to the front; returns their count. */
static size_t part_upto(uint64_t *v, size_t n, uint64_t p)
{
    size_t i = 0;

    for (size_t j = 0; j < n; j++) {
        uint64_t x = v[j];
        v[j] = v[i];
        v[i] = x;
        i += x <= p;
    }
    return i;
}

static uint64_t median3(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t lo = a < b ? a : b, hi = a < b ? b : a;
    return c < lo ? lo : c > hi ? hi : c;
}

#define SEL_SMALL 16 /* at most this many: insertion sort */

/* Quickselect (Hoare's FIND) over the three-way split above, pivot the
 * median of three. O(n) on average. */
static void select_kth(uint64_t *v, size_t n, size_t k)
{
    while (n > SEL_SMALL) {
        uint64_t pivot = median3(v[0], v[n / 2], v[n - 1]);
        size_t lt = part_below(v, n, pivot), le;
        if (k < lt) {
            n = lt;
            continue;
        }
        le = lt + part_upto(v + lt, n - lt, pivot); /* v[lt..le) == pivot, le > lt */
        if (k < le)
            return;
        v += le;
        n -= le;
        k -= le;
    }
    for (size_t i = 1; i < n; i++) {
        uint64_t x = v[i];
        size_t j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

/*
 * select_kth() for large arrays, in the spirit of Floyd and Rivest's
 * SELECT: a sample of SEL_SAMPLE values estimates two values that
 * bracket rank k; two partition passes (< lo over all of v, then <= hi
 * over the rest) leave k almost always in the small middle part, where
 * quickselect finishes: 1 to 2 passes over the data instead of the 3 to 4
 * of select_kth()'s rounds.
 */
#define SEL_SAMPLE 256
#define SEL_SPREAD 12
#define SEL_MIN    2048

static void select_large(uint64_t *v, size_t n, size_t k)
{
    uint64_t smp[SEL_SAMPLE], lo, hi;
    size_t ks, rlo, rhi, i, g;

    if (n < SEL_MIN) {
        select_kth(v, n, k);
        return;
    }
    for (size_t t = 0; t < SEL_SAMPLE; t++)
        smp[t] = v[(t * n) / SEL_SAMPLE + (n / SEL_SAMPLE) / 2];
    ks = (size_t)(((unsigned __int128)k * SEL_SAMPLE) / n);
    rlo = ks > SEL_SPREAD ? ks - SEL_SPREAD : 0;
    rhi = ks + SEL_SPREAD < SEL_SAMPLE ? ks + SEL_SPREAD : SEL_SAMPLE - 1;
    /* The sample's values of ranks rlo and rhi (no need to sort it all). */
    select_kth(smp, SEL_SAMPLE, rlo);
    select_kth(smp + rlo, SEL_SAMPLE - rlo, rhi - rlo);
    lo = smp[rlo];
    hi = smp[rhi];
    /* v[0..i) < lo <= v[i..g) <= hi < v[g..n) */
    i = part_below(v, n, lo);
    if (k < i) {
        select_kth(v, i, k);
        return;
    }
    g = i + part_upto(v + i, n - i, hi);
    if (k >= g)
        select_kth(v + g, n - g, k - g);
    else
        select_kth(v + i, g - i, k - i);
}

uint64_t an_percentile(uint64_t *v, size_t n, unsigned pct)
{
    /* Nearest rank: the smallest value with at least pct % of the values
     * at or below it, rank ceil(pct × n / 100). The median is the lower of
     * the two middle values for an even count. */
    size_t rank = (size_t)(((unsigned __int128)n * pct + 99) / 100);
    if (rank == 0)
        rank = 1;
    select_large(v, n, rank - 1);
    return v[rank - 1];
}

int an_series_summary(struct an_series *s, const struct pdm_metrics_stat *st,
                      struct an_summary *sum)
{
    uint64_t *v = s->v;

    memset(sum, 0, sizeof *sum);
    sum->count = st->count;
    if (st->count == 0) {
        sum->exact = 1;
        return 0;
    }
    sum->min = st->min;
    sum->max = st->max;
    sum->mean = pdm_metrics_stat_mean(st);
    sum->exact = s->n == st->count;
    if (s->n == 0)
        return 0;
    /* With times kept, v must keep its pairing with t: select in a copy. */
    if (s->t) {
        if (!(v = malloc(s->n * sizeof *v)))
            return PDM_ERR_NOMEM;
        memcpy(v, s->v, s->n * sizeof *v);
    }
    sum->median = an_percentile(v, s->n, 50);
    {
        /* After the median's selection everything from its rank on is at
         * least the median: the p95 is among those. */
        size_t m = (s->n * 50 + 99) / 100, q = (s->n * 95 + 99) / 100;
        m = m ? m - 1 : 0;
        select_large(v + m, s->n - m, q - 1 - m);
        sum->p95 = v[q - 1];
    }
    if (v != s->v)
        free(v);
    return 0;
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

static void tuple_swap(struct pdm_flow_tuple *out, const struct pdm_flow_tuple *in)
{
    memset(out, 0, sizeof *out);
    memcpy(out->src, in->dst, 16);
    memcpy(out->dst, in->src, 16);
    out->sport = in->dport;
    out->dport = in->sport;
    out->proto = in->proto;
}

static int flow_filtered(const struct an_ctx *a, const struct pdm_flow_tuple *t)
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
        tuple_swap(&f->tup, t);
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
    struct pdm_flow_tuple tt, *t = &tt;
    size_t slot = cache_slot(k);
    struct an_cache_ent *ce;
    struct pdm_flow *pf;
    struct an_flow *f;
    unsigned dir;
    int rv;

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
    tuple_of_key(t, k);
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
        return 0;
    e = &d->rn_ring[psn % AN_RN_RING];
    if (behind && *e == v)
        return 1;
    *e = v;
    return 0;
}

/* Opens opt for role r of f. Returns the an_status. */
static enum an_status open_option(struct an_ctx *a, struct an_flow *f, unsigned r,
                                  const uint8_t *pkt, const struct pdm_pkt_info *info,
                                  struct pdm_fields *fields, int *replayed)
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
            tuple_swap(&st, &f->tup);
        rv = an_rx_new(a->o.keys, &st, &d->rx);
        d->rx_state = rv == 0 ? 1 : (rv < 0 ? rv : PDM_ERR_NOT_FOUND);
    }
    if (d->rx_state != 1) {
        d->no_key++;
        return AN_ST_NO_KEY;
    }
    if ((rv = an_rx_open(d->rx, pkt + info->pdm_off, info->pkt_len - info->pdm_off, a->o.opt_type,
                         fields, &kri)) != 0) {
        d->auth_failures++;
        return AN_ST_AUTH_FAILED;
    }
    if (!d->kri_seen) {
        d->kri_seen = 1;
        d->kri_last = kri;
    } else if (kri > d->kri_last) {
        d->rotations += kri - d->kri_last;
        d->kri_last = kri;
    }
    *replayed =
        replay_check(d, kri, info->pdm.rn, fields->psntp, psn_behind(&f->m.seq[r], fields->psntp));
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
    return rv ? PDM_ERR_NOMEM : 0;
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

    if ((rv = link_ipv6(dlt, frame, caplen, &off)) != 0) {
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
        if (!a->scratch && !(a->scratch = malloc(AN_SCRATCH_SIZE)))
            return PDM_ERR_NOMEM;
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
        if (flow_filtered(a, &t)) {
            a->c.filtered++;
            return 0;
        }
    }
    if (!(f = flow_find(a, key, ts_ns, &r))) {
        a->c.table_full++;
        return PDM_ERR_NOMEM;
    }
    f->packets++;
    f->last_ns = ts_ns;
    f->dir[r].packets++;
    f->formats |= AN_FMT_BIT(res->info.pdm.format);

    if (res->info.pdm.format == PDM_FORMAT_V2_ENCRYPTED) {
        res->status = open_option(a, f, r, pkt, &res->info, &res->fields, &res->replayed);
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
