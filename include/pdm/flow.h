/*
 * openpdm flow state: a fixed-capacity table of bidirectional 5-tuple
 * flows, the RFC 8250 per-flow rules that fill a packet's PDM fields, and
 * the PDMv2 Global Pointer counters.
 *
 * Sans-IO: the table is allocated once by pdm_flow_table_new(); lookups,
 * inserts, per-packet updates, expiry and eviction never allocate, never
 * read a clock (every time is an argument, in nanoseconds on any monotonic
 * clock the caller likes) and draw no randomness (the hash key and the
 * initial sequence numbers are arguments).
 *
 * Directions. A flow is stored once, under a canonical key: of its two
 * endpoints (address, port), endpoint A is the smaller (address bytes
 * compared first, then the port as a number) and B the other. A packet
 * from A to B travels in direction 0, a packet from B to A in direction 1
 * (a flow whose two endpoints are equal only has direction 0). Every lookup
 * tells the caller the direction of the packet it looked up.
 *
 * flow->dir[d] is the state of the endpoint that SENDS in direction d: the
 * PSNTP it will send next, and what it knows of the packets it received
 * (those travelling in direction d ^ 1). A host that both sends and
 * receives on one flow (the usual case) uses dir[d] for its sends and the
 * same dir[d] is updated when it receives a packet travelling in d ^ 1;
 * pdm_flow_on_send() and pdm_flow_on_recv() take the direction of the
 * packet and pick the right side themselves.
 *
 * Table layout (docs/flow-table.md): a power-of-2 array of 64-byte buckets,
 * each holding 8 (16-bit tag, 32-bit entry index) slots, and a separate
 * array of `capacity` entries: a 120-byte struct pdm_flow followed by the
 * caller's per-flow extension (pdm_flow_ext()), rounded up to whole
 * 64-byte lines (128 bytes without extension, 192 with up to 72 bytes of
 * extension). A key has two candidate buckets
 * (bucketised cuckoo hashing), chosen by a keyed SipHash-1-3 of its
 * canonical key, so remote peers cannot aim flows at one bucket. A lookup
 * reads the first bucket's line, then the one entry whose tag matches:
 * two random memory reads for most hits (a bucket line is shared by 8
 * slots, so at a million flows the bucket array is 16 MiB and often
 * cached), three when the flow sits in its second bucket, two bucket
 * lines for a miss. Entries never move.
 */
#ifndef PDM_FLOW_H
#define PDM_FLOW_H

#include <pdm/codec.h>
#include <pdm/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Slots per bucket; a key may live in either of its two buckets. */
#define PDM_FLOW_BUCKET_SLOTS 8

/* Bytes of the hash key given to pdm_flow_table_new(). */
#define PDM_FLOW_HASH_KEY_SIZE 16

/* Largest capacity pdm_flow_table_new() accepts (2^28 flows). */
#define PDM_FLOW_CAPACITY_MAX ((size_t)1 << 28)

/* sizeof(struct pdm_flow): the table's part of an entry. */
#define PDM_FLOW_SIZE 120

/* Largest per-flow extension pdm_flow_table_new_ext() accepts, in bytes,
 * and the alignment the table guarantees for it. */
#define PDM_FLOW_EXT_MAX   4096
#define PDM_FLOW_EXT_ALIGN 8

/* A packet's 5-tuple as seen on the wire. Ports are host-order numbers; 0
 * for protocols without ports (PROFILE §3: everything but TCP, UDP,
 * UDP-Lite, SCTP and DCCP; pdm_pkt_parse() reports them that way). */
struct pdm_flow_tuple {
    uint8_t src[16];
    uint8_t dst[16];
    uint16_t sport;
    uint16_t dport;
    uint8_t proto;
};

/* pdm_flow_dir.flags */
#define PDM_FLOW_SENT             0x01 /* this endpoint has sent a packet */
#define PDM_FLOW_RECEIVED         0x02 /* it has received a packet from its peer */
#define PDM_FLOW_SENT_BEFORE_RECV 0x04 /* sent_before_recv_ns is meaningful */

/* One endpoint's view of the flow: the side that sends in this direction
 * (RFC 8250 §3.1 fields PSNTP and PSNLR, and the two times behind
 * DeltaTLR and DeltaTLS). 32 bytes. */
struct pdm_flow_dir {
    uint64_t last_recv_ns;        /* when it last received a packet from its peer */
    uint64_t last_sent_ns;        /* when it last sent a packet */
    uint64_t sent_before_recv_ns; /* last_sent_ns as it was at that last receive */
    uint16_t psn_next;            /* PSNTP of the next packet it sends */
    uint16_t psn_last_recv;       /* PSNTP of the last packet it received (PSNLR) */
    uint8_t flags;                /* PDM_FLOW_* above */
};

/*
 * One flow: 120 bytes at the start of a 64-byte aligned entry (the key is
 * in its first cache line), followed by the caller's extension, if the
 * table has one (pdm_flow_ext()). The pointer stays valid until the flow
 * is removed (pdm_flow_remove(), expiry, eviction, pdm_flow_table_free()).
 */
struct pdm_flow {
    uint64_t key[5];            /* canonical key, internal: use pdm_flow_tuple_get() */
    uint64_t last_used_ns;      /* latest time passed to get/on_send/on_recv */
    struct pdm_flow_dir dir[2]; /* dir[d]: the endpoint sending in direction d */
    uint64_t user;              /* caller's, 0 when the flow is created */
};

struct pdm_flow_table;

/* Why a flow left the table, as told to the removal callback. */
enum pdm_flow_removal {
    PDM_FLOW_EXPIRED = 1, /* idle past the timeout, found by pdm_flow_table_expire() */
    PDM_FLOW_EVICTED = 2, /* idle past the timeout, replaced by a new flow */
};

/* Called just before an expired or evicted flow is wiped. It must not call
 * back into the table. */
typedef void (*pdm_flow_remove_fn)(void *arg, struct pdm_flow *flow, enum pdm_flow_removal why);

/*
 * Allocates a table for up to `capacity` flows (1 .. PDM_FLOW_CAPACITY_MAX).
 * A flow idle for longer than idle_timeout_ns (no get/on_send/on_recv) may
 * be expired or evicted; 0 means flows never expire and are never evicted.
 * hash_key is PDM_FLOW_HASH_KEY_SIZE random bytes (keep them secret: they
 * are what stops a remote peer from forcing collisions).
 * The table's flows have no extension (pdm_flow_table_new_ext()).
 * Returns 0 and *tp, or
 *   PDM_ERR_INVAL  NULL argument, capacity 0 or above PDM_FLOW_CAPACITY_MAX
 *   PDM_ERR_NOMEM  allocation failed
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_flow_table_new(struct pdm_flow_table **tp, size_t capacity,
                                                  uint64_t idle_timeout_ns,
                                                  const uint8_t hash_key[PDM_FLOW_HASH_KEY_SIZE]);

/*
 * The same table, whose every flow carries ext_size bytes of the caller's
 * own state (0 .. PDM_FLOW_EXT_MAX): its extension, a struct of the
 * caller's type reached with pdm_flow_ext(). It lives in the flow's entry,
 * right after struct pdm_flow (so usually in a cache line the lookup has
 * already read), PDM_FLOW_EXT_ALIGN-aligned; it is all zeros when the flow
 * is created and wiped with pdm_memzero() when the flow is removed
 * (expiry, eviction, pdm_flow_remove(), pdm_flow_table_free()). Wiped
 * only: what it points to (e.g. the keys of a struct pdm_profile_tx) is
 * the caller's to release first, in the removal callback and before
 * pdm_flow_remove() or pdm_flow_table_free(). Nothing is allocated per
 * flow: the extension is part of the entry array allocated here.
 * Returns what pdm_flow_table_new() returns; PDM_ERR_INVAL also for an
 * ext_size above PDM_FLOW_EXT_MAX.
 */
PDM_EXTERN PDM_WARN_UNUSED int
pdm_flow_table_new_ext(struct pdm_flow_table **tp, size_t capacity, uint64_t idle_timeout_ns,
                       const uint8_t hash_key[PDM_FLOW_HASH_KEY_SIZE], size_t ext_size);

/*
 * The extension of flow (a pointer from table t): ext_size bytes, as given
 * to pdm_flow_table_new_ext(), valid as long as the flow. Returns NULL when
 * t was made without one.
 */
PDM_EXTERN void *pdm_flow_ext(const struct pdm_flow_table *t, struct pdm_flow *flow);

/* Returns the extension size t was made with (0 for pdm_flow_table_new()). */
PDM_EXTERN size_t pdm_flow_table_ext_size(const struct pdm_flow_table *t);

/* Wipes every flow (extensions included) and frees the table; NULL is a
 * no-op. No removal callback is called. Returns nothing. */
PDM_EXTERN void pdm_flow_table_free(struct pdm_flow_table *t);

/* Sets (or clears, with fn NULL) the callback told of expired and evicted
 * flows. Returns nothing. */
PDM_EXTERN void pdm_flow_table_set_remove_cb(struct pdm_flow_table *t, pdm_flow_remove_fn fn,
                                             void *arg);

/* Returns the number of flows in the table. */
PDM_EXTERN size_t pdm_flow_table_count(const struct pdm_flow_table *t);

/* Returns the capacity given to pdm_flow_table_new(). */
PDM_EXTERN size_t pdm_flow_table_capacity(const struct pdm_flow_table *t);

/* Returns the number of slots (buckets × PDM_FLOW_BUCKET_SLOTS; the bucket
 * count is the smallest power of 2 giving at least capacity × 5/4 slots):
 * the number of positions one full pdm_flow_table_expire() sweep visits. */
PDM_EXTERN size_t pdm_flow_table_slots(const struct pdm_flow_table *t);

/* Returns the bytes this table allocated (entries, buckets and the table). */
PDM_EXTERN size_t pdm_flow_table_bytes(const struct pdm_flow_table *t);

/* Returns the bytes of one entry of a table with ext_size bytes of
 * extension: PDM_FLOW_SIZE + ext_size rounded up to a multiple of 64
 * (128 for none, 192 for up to 72). */
PDM_EXTERN size_t pdm_flow_entry_size(size_t ext_size);

/* Returns the most memory one unit of capacity costs in a table without
 * extension, in bytes: the 128-byte entry plus its share of 64-byte
 * buckets, 5/4 to 5/2 slots of 8 bytes (the bucket count is rounded up to
 * a power of 2): 128 + 20 = 148. A table of capacity C allocates between
 * C × (E + 10) and C × (E + 20) bytes for entries of E bytes
 * (pdm_flow_entry_size(); plus one bucket for tiny tables);
 * pdm_flow_table_bytes() is exact. */
PDM_EXTERN size_t pdm_flow_table_bytes_per_flow(void);

/* Event counters since the table was created. */
struct pdm_flow_stats {
    uint64_t inserted; /* flows created */
    uint64_t moves;    /* slot moves made by cuckoo insertion */
    uint64_t evicted;  /* idle flows replaced by new ones */
    uint64_t expired;  /* flows removed by pdm_flow_table_expire() */
    uint64_t full;     /* pdm_flow_get() calls refused with PDM_ERR_FULL */
};

/* Copies the table's counters into *st. Returns nothing. */
PDM_EXTERN void pdm_flow_table_stats(const struct pdm_flow_table *t, struct pdm_flow_stats *st);

/*
 * Returns the table's keyed hash of the flow of tup: SipHash-1-3 under the
 * table's key of the canonical key, so both directions of a flow give the
 * same value. Useful to spread flows over workers.
 */
PDM_EXTERN uint64_t pdm_flow_hash(const struct pdm_flow_table *t, const struct pdm_flow_tuple *tup);

/*
 * Finds the flow of tup, in either direction; does not change it.
 * Returns 0 with *flow and *dir (the direction of a packet with this tuple,
 * 0 or 1), or PDM_ERR_NOT_FOUND. dir may be NULL.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_flow_lookup(struct pdm_flow_table *t,
                                               const struct pdm_flow_tuple *tup,
                                               struct pdm_flow **flow, unsigned *dir);

/*
 * Finds the flow of tup or creates it, and marks it used at now_ns.
 * A new flow starts with PSNTP (low 16 bits of psn_random) for direction 0
 * and (high 16 bits) for direction 1 (RFC 8250 §3.1: a random start),
 * nothing sent or received, user 0 and a zero extension. (A caller that
 * draws its random bytes only for new flows may pass 0 and set
 * flow->dir[0].psn_next and dir[1].psn_next itself when this returns 1,
 * before the flow's first on_send: the same start.)
 *
 * Full table policy: when the table holds `capacity` flows, or both of the
 * new flow's buckets are full and no short cuckoo path frees a slot (at
 * 80 % load this practically never happens), the least recently used flow
 * among the 16 slots of those two buckets is evicted (removal callback with
 * PDM_FLOW_EVICTED) if it has been idle for longer than the idle timeout;
 * otherwise nothing changes. So a full table never drops an active flow
 * for a new one, and a flood of new flows cannot push out live ones.
 * Returns 0 (found) or 1 (created) with *flow and *dir (may be NULL), or
 *   PDM_ERR_FULL   no room and no evictable flow
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_flow_get(struct pdm_flow_table *t,
                                            const struct pdm_flow_tuple *tup, uint64_t now_ns,
                                            uint32_t psn_random, struct pdm_flow **flow,
                                            unsigned *dir);

/* Removes flow (a pointer from this table) and wipes it. No callback.
 * Returns nothing. */
PDM_EXTERN void pdm_flow_remove(struct pdm_flow_table *t, struct pdm_flow *flow);

/*
 * Visits at most max_slots slots, continuing from where the last call
 * stopped (wrapping), and removes every flow there that has been idle for
 * longer than the idle timeout at now_ns, calling the removal callback with
 * PDM_FLOW_EXPIRED first. Bounded work: a sweep of the whole table takes
 * pdm_flow_table_slots() / max_slots calls.
 * Returns the number of flows removed (0 when the timeout is 0).
 */
PDM_EXTERN size_t pdm_flow_table_expire(struct pdm_flow_table *t, uint64_t now_ns,
                                        size_t max_slots);

/*
 * Iterates: returns the first flow at slot index *pos or later and sets
 * *pos just past it, or NULL at the end. Start with *pos = 0. Removing the
 * returned flow during the iteration is allowed; inserting is not.
 */
PDM_EXTERN struct pdm_flow *pdm_flow_table_next(struct pdm_flow_table *t, size_t *pos);

/* Writes the tuple of a packet travelling in direction dir (0 or 1) of
 * flow into *out. Returns nothing. */
PDM_EXTERN void pdm_flow_tuple_get(const struct pdm_flow *flow, unsigned dir,
                                   struct pdm_flow_tuple *out);

/*
 * The egress rule (RFC 8250 §3.1-3.2 semantics, PROFILE §2): computes the
 * PDM fields of a packet sent now_ns in direction dir (0 or 1) and records
 * the send. With s = flow->dir[dir]:
 *   psntp      = s.psn_next, then s.psn_next += 1 (wrapping at 65535 to 0)
 *   psnlr      = PSNTP of the last packet s received, 0 if none
 *   DeltaTLR   = now − time of that last received packet
 *   DeltaTLS   = time of that last received packet − time of the last
 *                packet s sent before receiving it
 * Each delta is scaled with pdm_time_encode_ns(); a delta whose packets do
 * not exist yet is 0 with scale 0. A time difference that would be negative
 * (clock went back) counts as 0. global_pointer is set to 0: PDMv2 senders
 * fill it from pdm_gp_next(). Returns nothing (it cannot fail).
 */
PDM_EXTERN void pdm_flow_on_send(struct pdm_flow *flow, unsigned dir, uint64_t now_ns,
                                 struct pdm_fields *out);

/*
 * The ingress rule: records that a packet travelling in direction dir
 * (0 or 1) with PSNTP psntp was received at now_ns, by the endpoint that
 * sends in dir ^ 1: its PSNLR becomes psntp, its last-receive time now_ns,
 * and the time of its last send so far is kept for DeltaTLS.
 * Returns nothing (it cannot fail).
 */
PDM_EXTERN void pdm_flow_on_recv(struct pdm_flow *flow, unsigned dir, uint64_t now_ns,
                                 uint16_t psntp);

/*
 * PDMv2 Global Pointer counters (draft-04 §6.2, PROFILE §2): one for
 * packets sent from link-local sources (fe80::/10), one for all other
 * sources. Zero-initialise (or call pdm_gp_init()) once per node.
 */
struct pdm_gp {
    uint32_t link_local; /* last value sent from a link-local source, 0 if none */
    uint32_t other;      /* last value sent from any other source, 0 if none */
};

/* Sets both counters to "nothing sent yet". Returns nothing. */
PDM_EXTERN void pdm_gp_init(struct pdm_gp *gp);

/*
 * Returns the Global Pointer for the next PDMv2 packet sent from src and
 * counts it: 1 for the first packet from that kind of source, then 2, 3 ...
 * After 4294967295 the counter wraps to 1 (never 0, which no packet carries).
 */
PDM_EXTERN uint32_t pdm_gp_next(struct pdm_gp *gp, const uint8_t src[16]);

#ifdef __cplusplus
}
#endif

#endif /* PDM_FLOW_H */
