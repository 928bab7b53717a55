/*
 * openpdm flow table and the RFC 8250 per-flow rules.
 *
 * Layout (docs/flow-table.md has the numbers):
 *
 *   buckets: struct bucket [nbuckets]    64 bytes = one cache line each,
 *            nbuckets a power of 2       8 × (16-bit tag, 32-bit entry index)
 *   entries: capacity × stride bytes     64-byte aligned; each a struct
 *            pdm_flow (120 bytes), then  stride = round64(120 + extension)
 *            the caller's extension
 *
 * A key hashes (keyed SipHash-1-3) to a bucket b1 and a nonzero 16-bit tag;
 * its second bucket is b2 = b1 XOR f(tag) ("partial-key cuckoo hashing",
 * as in MemC3 and cuckoo filters), so a resident's other bucket is known
 * from its tag alone, without reading the entry or rehashing. Lookup
 * compares the 8 tags of b1 (one cache line), reads the entry whose tag
 * matches, and only then tries b2: one or two random reads for a hit
 * (a false tag match costs one extra read with probability about 8/65535).
 *
 * Insertion takes b1 when it has room (so most hits cost one bucket read),
 * else b2. When both are full it looks for a short cuckoo path (breadth
 * first, at most CUCKOO_NODES slots): a resident of b1 or b2 that can move
 * to its other bucket, possibly after one of that bucket's residents moves
 * on, and so on. Only the (tag, index) pairs move: entries never do, so a
 * struct pdm_flow pointer stays valid until the flow is removed. Entries
 * come from a free list threaded through freed entries, then from a
 * never-used tail, so the entry array's pages are touched only as flows
 * arrive.
 *
 * Nothing here allocates after pdm_flow_table_new().
 */
#include <pdm/flow.h>
#include <pdm/time.h>

#include "conv.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(struct pdm_flow_dir) == 32, "pdm_flow_dir is 32 bytes");
_Static_assert(sizeof(struct pdm_flow) == PDM_FLOW_SIZE, "pdm_flow is 120 bytes");
_Static_assert(PDM_FLOW_SIZE % PDM_FLOW_EXT_ALIGN == 0, "the extension is aligned");

#define SLOTS        PDM_FLOW_BUCKET_SLOTS
#define LINE         64
#define KEY_WORDS    5
#define NO_ENTRY     UINT32_MAX
#define CUCKOO_NODES 80 /* bound on the path search: bucket reads per insert */

struct bucket {
    uint16_t tag[SLOTS]; /* 0 = empty slot */
    uint32_t idx[SLOTS]; /* entry index when tag != 0 */
    uint32_t reserved[4];
};
_Static_assert(sizeof(struct bucket) == LINE, "a bucket is one cache line");

struct pdm_flow_table {
    struct bucket *bk;     /* nbuckets buckets, 64-byte aligned */
    uint8_t *ent;          /* capacity entries of `stride` bytes, 64-byte aligned */
    size_t stride;         /* pdm_flow_entry_size(ext_size) */
    size_t ext_size;       /* the caller's extension after each struct pdm_flow */
    size_t nbuckets;       /* power of 2 */
    uint32_t mask;         /* nbuckets − 1 */
    uint32_t capacity;     /* entries */
    uint32_t count;        /* flows held now */
    uint32_t fresh;        /* entries [fresh, capacity) were never used */
    uint32_t free_head;    /* freed entries, linked through key[0] */
    size_t expire_pos;     /* next slot pdm_flow_table_expire() visits */
    uint64_t idle_timeout; /* ns; 0 = never */
    uint64_t k0, k1;       /* SipHash key */
    pdm_flow_remove_fn on_remove;
    void *on_remove_arg;
    struct pdm_flow_stats st;
};

/* The canonical key: two endpoints, the smaller (A) first.
 *
 *   w[0] w[1]  A's address, bytes 0-7 and 8-15 read big-endian
 *   w[2] w[3]  B's address
 *   w[4]       A's port << 48 | B's port << 32 | protocol
 *
 * Comparing (w[0], w[1], port) as numbers is comparing the address bytes
 * then the port, so the order is the byte order the header promises. */
struct ckey {
    uint64_t w[KEY_WORDS];
};

/* Builds the canonical key of tup; returns the direction of a packet with
 * this tuple: 0 when its source is A, 1 when its source is B. */
static unsigned ckey_make(struct ckey *k, const struct pdm_flow_tuple *tup)
{
    uint64_t s0 = pdm_get_u64be(tup->src), s1 = pdm_get_u64be(tup->src + 8);
    uint64_t d0 = pdm_get_u64be(tup->dst), d1 = pdm_get_u64be(tup->dst + 8);
    unsigned dir;
    if (s0 != d0)
        dir = s0 > d0;
    else if (s1 != d1)
        dir = s1 > d1;
    else
        dir = tup->sport > tup->dport;
    if (dir == 0) {
        k->w[0] = s0, k->w[1] = s1, k->w[2] = d0, k->w[3] = d1;
        k->w[4] = (uint64_t)tup->sport << 48 | (uint64_t)tup->dport << 32 | tup->proto;
    } else {
        k->w[0] = d0, k->w[1] = d1, k->w[2] = s0, k->w[3] = s1;
        k->w[4] = (uint64_t)tup->dport << 48 | (uint64_t)tup->sport << 32 | tup->proto;
    }
    return dir;
}

static inline int key_eq(const uint64_t a[KEY_WORDS], const struct ckey *b)
{
    return ((a[0] ^ b->w[0]) | (a[1] ^ b->w[1]) | (a[2] ^ b->w[2]) | (a[3] ^ b->w[3]) |
            (a[4] ^ b->w[4])) == 0;
}

/*
 * SipHash-1-3 (Aumasson and Bernstein; one compression round, three
 * finalisation rounds, as used for hash tables by Rust and CPython) of the
 * 40-byte message formed by the five key words in little-endian order.
 * Keyed, so the bucket a flow lands in cannot be predicted by a peer.
 */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = ROTL(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = ROTL(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = ROTL(v2, 32);                                                                         \
    } while (0)

static uint64_t siphash13_key(uint64_t k0, uint64_t k1, const struct ckey *k)
{
    uint64_t v0 = k0 ^ 0x736f6d6570736575u, v1 = k1 ^ 0x646f72616e646f6du;
    uint64_t v2 = k0 ^ 0x6c7967656e657261u, v3 = k1 ^ 0x7465646279746573u;
    for (int i = 0; i < KEY_WORDS; i++) {
        v3 ^= k->w[i];
        SIPROUND;
        v0 ^= k->w[i];
    }
    uint64_t b = (uint64_t)(8 * KEY_WORDS) << 56; /* length byte, no tail */
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* Where a hash points: first bucket and a nonzero tag. b1 takes bits from
 * the high half, the tag the low 16 bits: independent of each other. */
struct where {
    uint32_t b1, b2;
    uint16_t tag;
};

/* The other bucket of a resident of bucket b with tag `tag`. An involution
 * (alt(alt(b)) = b). The offset is forced odd, so with 2 or more buckets
 * the two candidates always differ. */
static inline uint32_t alt_bucket(const struct pdm_flow_table *t, uint32_t b, uint16_t tag)
{
    uint32_t m = (uint32_t)tag * 0x5bd1e995u; /* MurmurHash2's multiplier */
    m ^= m >> 15;
    return (b ^ (m | 1u)) & t->mask;
}

static inline struct where where_of(const struct pdm_flow_table *t, uint64_t h)
{
    struct where w;
    w.b1 = (uint32_t)(h >> 32) & t->mask;
    w.tag = (uint16_t)h;
    if (w.tag == 0)
        w.tag = 1;
    w.b2 = alt_bucket(t, w.b1, w.tag);
    return w;
}

/* Entry i: a struct pdm_flow at the start of its stride (64-byte aligned,
 * memory the table allocated for exactly this layout). */
static inline struct pdm_flow *ent_at(const struct pdm_flow_table *t, uint32_t i)
{
    return (struct pdm_flow *)(void *)(t->ent + (size_t)i * t->stride);
}

/* Index of the entry holding flow. */
static inline uint32_t ent_index(const struct pdm_flow_table *t, const struct pdm_flow *flow)
{
    return (uint32_t)((size_t)((const uint8_t *)flow - t->ent) / t->stride);
}

/* Slot number (bucket × SLOTS + position) of the key in bucket b, or SIZE_MAX. */
static inline size_t bucket_find(const struct pdm_flow_table *t, uint32_t b, uint16_t tag,
                                 const struct ckey *k)
{
    const struct bucket *bk = &t->bk[b];
    for (unsigned i = 0; i < SLOTS; i++)
        if (bk->tag[i] == tag && key_eq(ent_at(t, bk->idx[i])->key, k))
            return (size_t)b * SLOTS + i;
    return SIZE_MAX;
}

static size_t table_find(const struct pdm_flow_table *t, const struct where *w,
                         const struct ckey *k)
{
    size_t s = bucket_find(t, w->b1, w->tag, k);
    if (s == SIZE_MAX && w->b2 != w->b1)
        s = bucket_find(t, w->b2, w->tag, k);
    return s;
}

/* Number of free slots of bucket b; the first one's position in *first. */
static unsigned bucket_free(const struct pdm_flow_table *t, uint32_t b, unsigned *first)
{
    unsigned n = 0;
    *first = SLOTS;
    for (unsigned i = 0; i < SLOTS; i++) {
        if (t->bk[b].tag[i] == 0 && n++ == 0)
            *first = i;
    }
    return n;
}

static inline uint16_t *slot_tag(struct pdm_flow_table *t, size_t s)
{
    return &t->bk[s / SLOTS].tag[s % SLOTS];
}

static inline uint32_t *slot_idx(struct pdm_flow_table *t, size_t s)
{
    return &t->bk[s / SLOTS].idx[s % SLOTS];
}

static inline int is_idle(const struct pdm_flow_table *t, const struct pdm_flow *f, uint64_t now_ns)
{
    return t->idle_timeout != 0 && now_ns > f->last_used_ns &&
           now_ns - f->last_used_ns > t->idle_timeout;
}

static inline void touch(struct pdm_flow *f, uint64_t now_ns)
{
    if (now_ns > f->last_used_ns)
        f->last_used_ns = now_ns;
}

/* Takes an unused entry (count < capacity guarantees one). */
static uint32_t entry_alloc(struct pdm_flow_table *t)
{
    uint32_t i = t->free_head;
    if (i != NO_ENTRY)
        t->free_head = (uint32_t)ent_at(t, i)->key[0];
    else
        i = t->fresh++;
    return i;
}

/* Empties slot s and returns its entry to the free list. The extension
 * may hold key-rotation state: wipe the whole entry, don't just forget it. */
static void slot_clear(struct pdm_flow_table *t, size_t s)
{
    uint32_t i = *slot_idx(t, s);
    pdm_memzero(ent_at(t, i), t->stride);
    ent_at(t, i)->key[0] = t->free_head;
    t->free_head = i;
    *slot_tag(t, s) = 0;
    *slot_idx(t, s) = 0;
    t->count--;
}

PDM_EXTERN size_t pdm_flow_entry_size(size_t ext_size)
{
    return (sizeof(struct pdm_flow) + ext_size + LINE - 1) / LINE * LINE;
}

PDM_EXTERN size_t pdm_flow_table_bytes_per_flow(void)
{
    /* Entry, plus the bucket share: 5/4 slots per flow rounded up to a
     * power of 2 of buckets, so between 5/4 and 5/2 slots of 8 bytes. */
    return pdm_flow_entry_size(0) + LINE * 5 / 2 / SLOTS;
}

PDM_EXTERN int pdm_flow_table_new(struct pdm_flow_table **tp, size_t capacity,
                                  uint64_t idle_timeout_ns,
                                  const uint8_t hash_key[PDM_FLOW_HASH_KEY_SIZE])
{
    return pdm_flow_table_new_ext(tp, capacity, idle_timeout_ns, hash_key, 0);
}

PDM_EXTERN int pdm_flow_table_new_ext(struct pdm_flow_table **tp, size_t capacity,
                                      uint64_t idle_timeout_ns,
                                      const uint8_t hash_key[PDM_FLOW_HASH_KEY_SIZE],
                                      size_t ext_size)
{
    struct pdm_flow_table *t = NULL;
    int rv = PDM_ERR_INVAL;

    if (!tp || !hash_key || capacity == 0 || capacity > PDM_FLOW_CAPACITY_MAX ||
        ext_size > PDM_FLOW_EXT_MAX)
        goto out;
    rv = PDM_ERR_NOMEM;
    if ((t = calloc(1, sizeof *t)) == NULL)
        goto out;
    /* At most 80 % of the slots are ever used: cuckoo insertion with
     * 8-slot buckets practically never fails below about 95 %. */
    size_t want = (capacity * 5 + 3) / 4, nb = 1;
    while (nb * SLOTS < want)
        nb <<= 1;
    t->nbuckets = nb;
    t->mask = (uint32_t)(nb - 1); /* nb ≤ 2^26 */
    t->capacity = (uint32_t)capacity;
    t->free_head = NO_ENTRY;
    t->idle_timeout = idle_timeout_ns;
    t->ext_size = ext_size;
    t->stride = pdm_flow_entry_size(ext_size);
    t->k0 = pdm_get_u64be(hash_key);
    t->k1 = pdm_get_u64be(hash_key + 8);
    /* Buckets must start empty (tag 0). Entries are initialised when taken,
     * so their pages are only touched as flows arrive. */
    if ((t->bk = aligned_alloc(LINE, nb * sizeof *t->bk)) == NULL)
        goto out;
    memset(t->bk, 0, nb * sizeof *t->bk);
    if ((t->ent = aligned_alloc(LINE, capacity * t->stride)) == NULL)
        goto out;
    *tp = t;
    t = NULL;
    rv = 0;
out:
    if (t) {
        free(t->bk);
        free(t);
    }
    return rv;
}

PDM_EXTERN void pdm_flow_table_free(struct pdm_flow_table *t)
{
    if (!t)
        return;
    for (size_t s = 0; s < t->nbuckets * SLOTS; s++)
        if (*slot_tag(t, s))
            pdm_memzero(ent_at(t, *slot_idx(t, s)), t->stride);
    free(t->ent);
    free(t->bk);
    pdm_memzero(t, sizeof *t); /* the hash key */
    free(t);
}

PDM_EXTERN void pdm_flow_table_set_remove_cb(struct pdm_flow_table *t, pdm_flow_remove_fn fn,
                                             void *arg)
{
    t->on_remove = fn;
    t->on_remove_arg = arg;
}

PDM_EXTERN size_t pdm_flow_table_count(const struct pdm_flow_table *t)
{
    return t->count;
}

PDM_EXTERN size_t pdm_flow_table_capacity(const struct pdm_flow_table *t)
{
    return t->capacity;
}

PDM_EXTERN size_t pdm_flow_table_slots(const struct pdm_flow_table *t)
{
    return t->nbuckets * SLOTS;
}

PDM_EXTERN size_t pdm_flow_table_bytes(const struct pdm_flow_table *t)
{
    return sizeof *t + t->nbuckets * sizeof *t->bk + (size_t)t->capacity * t->stride;
}

PDM_EXTERN size_t pdm_flow_table_ext_size(const struct pdm_flow_table *t)
{
    return t->ext_size;
}

PDM_EXTERN void *pdm_flow_ext(const struct pdm_flow_table *t, struct pdm_flow *flow)
{
    /* Right after the table's part, in the same entry. */
    return t->ext_size != 0 ? (void *)(flow + 1) : NULL;
}

PDM_EXTERN void pdm_flow_table_stats(const struct pdm_flow_table *t, struct pdm_flow_stats *st)
{
    *st = t->st;
}

PDM_EXTERN uint64_t pdm_flow_hash(const struct pdm_flow_table *t, const struct pdm_flow_tuple *tup)
{
    struct ckey k;
    ckey_make(&k, tup);
    return siphash13_key(t->k0, t->k1, &k);
}

PDM_EXTERN int pdm_flow_lookup(struct pdm_flow_table *t, const struct pdm_flow_tuple *tup,
                               struct pdm_flow **flow, unsigned *dir)
{
    struct ckey k;
    unsigned d = ckey_make(&k, tup);
    struct where w = where_of(t, siphash13_key(t->k0, t->k1, &k));
    size_t s = table_find(t, &w, &k);
    if (s == SIZE_MAX)
        return PDM_ERR_NOT_FOUND;
    *flow = ent_at(t, *slot_idx(t, s));
    if (dir)
        *dir = d;
    return 0;
}

/*
 * Both candidate buckets are full: breadth-first search for a resident
 * that can move to its other bucket, following at most CUCKOO_NODES
 * slots. Each node is a slot; its resident's other bucket is read; if
 * that has a free slot the path is found, else (once per bucket) its 8
 * slots join the queue. Then the residents move along the path from its
 * far end, and the path's first slot (in b1 or b2) is returned empty.
 * Returns that slot, or SIZE_MAX when no path was found (nothing moved).
 */
static size_t cuckoo_make_room(struct pdm_flow_table *t, const struct where *w)
{
    struct node {
        size_t slot;
        int parent;
    } q[CUCKOO_NODES];
    uint32_t seen[CUCKOO_NODES / SLOTS + 2];
    int qn = 0, nseen = 0;

    for (unsigned j = 0; j < (w->b1 == w->b2 ? 1u : 2u); j++) {
        uint32_t b = j ? w->b2 : w->b1;
        seen[nseen++] = b;
        for (unsigned i = 0; i < SLOTS; i++)
            q[qn++] = (struct node){(size_t)b * SLOTS + i, -1};
    }
    for (int qi = 0; qi < qn; qi++) {
        size_t s = q[qi].slot;
        uint32_t alt = alt_bucket(t, (uint32_t)(s / SLOTS), *slot_tag(t, s));
        unsigned free_pos;
        if (bucket_free(t, alt, &free_pos) > 0) {
            /* Move residents along the path, far end first. */
            size_t dst = (size_t)alt * SLOTS + free_pos;
            for (int n = qi; n >= 0; n = q[n].parent) {
                size_t src = q[n].slot;
                *slot_tag(t, dst) = *slot_tag(t, src);
                *slot_idx(t, dst) = *slot_idx(t, src);
                *slot_tag(t, src) = 0;
                t->st.moves++;
                dst = src;
            }
            return dst;
        }
        int known = 0;
        for (int i = 0; i < nseen; i++)
            known |= seen[i] == alt;
        if (known || qn + SLOTS > CUCKOO_NODES)
            continue;
        seen[nseen++] = alt;
        for (unsigned i = 0; i < SLOTS; i++)
            q[qn++] = (struct node){(size_t)alt * SLOTS + i, qi};
    }
    return SIZE_MAX;
}

/* Full-table policy: the least recently used flow among the two candidate
 * buckets goes, if it is idle. Returns its (now empty) slot, or SIZE_MAX. */
static size_t evict_candidate(struct pdm_flow_table *t, const struct where *w, uint64_t now_ns)
{
    size_t best = SIZE_MAX;
    const struct pdm_flow *bf = NULL;
    for (unsigned j = 0; j < (w->b1 == w->b2 ? 1u : 2u); j++) {
        size_t base = (size_t)(j ? w->b2 : w->b1) * SLOTS;
        for (size_t s = base; s < base + SLOTS; s++) {
            if (*slot_tag(t, s) == 0)
                continue;
            const struct pdm_flow *f = ent_at(t, *slot_idx(t, s));
            if (!bf || f->last_used_ns < bf->last_used_ns) {
                best = s;
                bf = f;
            }
        }
    }
    if (!bf || !is_idle(t, bf, now_ns))
        return SIZE_MAX;
    if (t->on_remove)
        t->on_remove(t->on_remove_arg, ent_at(t, *slot_idx(t, best)), PDM_FLOW_EVICTED);
    slot_clear(t, best);
    t->st.evicted++;
    return best;
}

PDM_EXTERN int pdm_flow_get(struct pdm_flow_table *t, const struct pdm_flow_tuple *tup,
                            uint64_t now_ns, uint32_t psn_random, struct pdm_flow **flow,
                            unsigned *dir)
{
    struct ckey k;
    unsigned d = ckey_make(&k, tup);
    struct where w = where_of(t, siphash13_key(t->k0, t->k1, &k));
    size_t s = table_find(t, &w, &k);
    int created = 0;

    if (s == SIZE_MAX) {
        unsigned f1, f2 = SLOTS;
        unsigned n1 = bucket_free(t, w.b1, &f1);
        unsigned n2 = w.b2 != w.b1 ? bucket_free(t, w.b2, &f2) : 0;
        if (t->count < t->capacity && n1 + n2 > 0)
            s = n1 ? (size_t)w.b1 * SLOTS + f1 : (size_t)w.b2 * SLOTS + f2;
        else if (t->count < t->capacity)
            s = cuckoo_make_room(t, &w);
        if (s == SIZE_MAX && (s = evict_candidate(t, &w, now_ns)) == SIZE_MAX) {
            t->st.full++;
            return PDM_ERR_FULL;
        }
        uint32_t i = entry_alloc(t);
        struct pdm_flow *f = ent_at(t, i);
        memset(f, 0, t->stride); /* the extension too */
        memcpy(f->key, k.w, sizeof f->key);
        f->dir[0].psn_next = (uint16_t)psn_random;
        f->dir[1].psn_next = (uint16_t)(psn_random >> 16);
        f->last_used_ns = now_ns;
        *slot_tag(t, s) = w.tag;
        *slot_idx(t, s) = i;
        t->count++;
        t->st.inserted++;
        created = 1;
    }
    struct pdm_flow *f = ent_at(t, *slot_idx(t, s));
    touch(f, now_ns);
    *flow = f;
    if (dir)
        *dir = d;
    return created;
}

PDM_EXTERN void pdm_flow_remove(struct pdm_flow_table *t, struct pdm_flow *flow)
{
    /* Find the flow's slot from its own key: rehash, then match the index. */
    struct ckey k;
    memcpy(k.w, flow->key, sizeof k.w);
    struct where w = where_of(t, siphash13_key(t->k0, t->k1, &k));
    uint32_t i = ent_index(t, flow);
    for (unsigned j = 0; j < 2; j++) {
        size_t base = (size_t)(j ? w.b2 : w.b1) * SLOTS;
        for (size_t s = base; s < base + SLOTS; s++) {
            if (*slot_tag(t, s) == w.tag && *slot_idx(t, s) == i) {
                slot_clear(t, s);
                return;
            }
        }
    }
}

PDM_EXTERN size_t pdm_flow_table_expire(struct pdm_flow_table *t, uint64_t now_ns, size_t max_slots)
{
    size_t removed = 0, s = t->expire_pos, nslots = t->nbuckets * SLOTS;
    if (t->idle_timeout == 0)
        return 0;
    if (max_slots > nslots)
        max_slots = nslots;
    for (size_t n = 0; n < max_slots; n++) {
        if (*slot_tag(t, s)) {
            struct pdm_flow *f = ent_at(t, *slot_idx(t, s));
            if (is_idle(t, f, now_ns)) {
                if (t->on_remove)
                    t->on_remove(t->on_remove_arg, f, PDM_FLOW_EXPIRED);
                slot_clear(t, s);
                t->st.expired++;
                removed++;
            }
        }
        if (++s == nslots)
            s = 0;
    }
    t->expire_pos = s;
    return removed;
}

PDM_EXTERN struct pdm_flow *pdm_flow_table_next(struct pdm_flow_table *t, size_t *pos)
{
    size_t nslots = t->nbuckets * SLOTS;
    for (size_t s = *pos; s < nslots; s++) {
        if (*slot_tag(t, s)) {
            *pos = s + 1;
            return ent_at(t, *slot_idx(t, s));
        }
    }
    *pos = nslots;
    return NULL;
}

PDM_EXTERN void pdm_flow_tuple_get(const struct pdm_flow *flow, unsigned dir,
                                   struct pdm_flow_tuple *out)
{
    const uint64_t *w = flow->key;
    uint16_t pa = (uint16_t)(w[4] >> 48), pb = (uint16_t)(w[4] >> 32);
    uint8_t *a = (dir & 1) ? out->dst : out->src, *b = (dir & 1) ? out->src : out->dst;
    pdm_put_u64be(a, w[0]);
    pdm_put_u64be(a + 8, w[1]);
    pdm_put_u64be(b, w[2]);
    pdm_put_u64be(b + 8, w[3]);
    out->sport = (dir & 1) ? pb : pa;
    out->dport = (dir & 1) ? pa : pb;
    out->proto = (uint8_t)w[4];
}

/* a − b, or 0 when the clock went back. */
static inline uint64_t sub_sat(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

/*
 * RFC 8250 §3.1-3.2, restated by PROFILE §2, for a packet sent at time T
 * by endpoint s, whose last received packet arrived at R and whose last
 * send before R happened at S:
 *
 *      s sends (S) ----------->
 *                  <----------- peer's packet arrives (R), PSNTP p
 *      s sends now (T): PSNLR = p, DeltaTLR = T − R, DeltaTLS = R − S
 *
 * So a server's DeltaTLR is its own processing delay (server delay), and
 * a client's DeltaTLS minus the server's DeltaTLR is the round trip.
 */
PDM_EXTERN void pdm_flow_on_send(struct pdm_flow *flow, unsigned dir, uint64_t now_ns,
                                 struct pdm_fields *out)
{
    struct pdm_flow_dir *s = &flow->dir[dir & 1];

    memset(out, 0, sizeof *out);
    out->psntp = s->psn_next;
    s->psn_next = (uint16_t)(s->psn_next + 1u);
    if (s->flags & PDM_FLOW_RECEIVED) {
        out->psnlr = s->psn_last_recv;
        pdm_time_encode_ns(sub_sat(now_ns, s->last_recv_ns), &out->delta_tlr, &out->scale_dtlr);
        if (s->flags & PDM_FLOW_SENT_BEFORE_RECV)
            pdm_time_encode_ns(sub_sat(s->last_recv_ns, s->sent_before_recv_ns), &out->delta_tls,
                               &out->scale_dtls);
    }
    s->last_sent_ns = now_ns;
    s->flags |= PDM_FLOW_SENT;
    touch(flow, now_ns);
}

PDM_EXTERN void pdm_flow_on_recv(struct pdm_flow *flow, unsigned dir, uint64_t now_ns,
                                 uint16_t psntp)
{
    /* The receiver of a packet travelling in dir is the endpoint that
     * sends in the other direction. */
    struct pdm_flow_dir *r = &flow->dir[(dir & 1) ^ 1];

    r->psn_last_recv = psntp;
    r->last_recv_ns = now_ns;
    if (r->flags & PDM_FLOW_SENT) {
        r->sent_before_recv_ns = r->last_sent_ns;
        r->flags |= PDM_FLOW_SENT_BEFORE_RECV;
    }
    r->flags |= PDM_FLOW_RECEIVED;
    touch(flow, now_ns);
}

PDM_EXTERN void pdm_gp_init(struct pdm_gp *gp)
{
    gp->link_local = 0;
    gp->other = 0;
}

PDM_EXTERN uint32_t pdm_gp_next(struct pdm_gp *gp, const uint8_t src[16])
{
    /* fe80::/10: first 10 bits 1111 1110 10. */
    int ll = src[0] == 0xfe && (src[1] & 0xc0) == 0x80;
    uint32_t *c = ll ? &gp->link_local : &gp->other;
    *c = *c == UINT32_MAX ? 1 : *c + 1;
    return *c;
}
