/*
 * The agent's packet logic, sans-IO: a parsed packet, its direction and
 * time in; new bytes, a verdict and a record out. No system call, no
 * clock, no file: the NFQUEUE loop (nfq.c) feeds it today, and a tc/eBPF
 * loader or a pcap replayer can feed it the same way. Random bytes (PSN
 * starts) come from the caller's callback, time from its argument.
 *
 * One path per packet (docs/agent.md §3 draws it): the caller parses the
 * header chain once (agent_pkt_parse()); egress makes room for the option
 * from that parse (pdm_pkt_insert_room()) and encodes or seals the option
 * straight into it; ingress opens the option where the parse found it.
 *
 * Rules it carries out (docs/agent.md has the reasons):
 *  - only flows whose remote address lies in an enabled peer prefix are
 *    touched; everything else is returned unchanged and counted;
 *  - egress: RFC 8250 §3.1 fields from the flow table (PROFILE §2), the
 *    option inserted into, or merged with, the Destination Options header
 *    right before the upper layer; any failure returns the packet
 *    unchanged and counts why: PDM never costs a user packet;
 *  - the packet never grows past the link MTU because of the option;
 *  - ingress: the option is read, never removed (RFC 8250 §3.3 leaves it to
 *    the receiver's stack, which skips it: type 0x0F has action bits 00);
 *    the packet is accepted unchanged, except TCP SYNs whose MSS is lowered
 *    by our option's size so that our own segments still fit the MTU;
 *  - draft-04 §7.1: a received option is logged only for enabled flows and
 *    only with an expected PSNTP (within psn_window of the last one).
 */
#include "agent.h"

#include <pdm/time.h>

#include "conv.h"

#include <stdlib.h>
#include <string.h>

/* IPv6 header offsets (RFC 8200 §3). */
#define IP6_OFF_SRC 8
#define IP6_OFF_DST 24

/* Fixed IPv6 + TCP header: the part of a packet an MSS does not count. */
#define IP6_TCP_HDRS 60

/* Idle-flow sweep: slots visited per agent_core_tick(). */
#define TICK_SLOTS 4096

/* Records of failed authentication per second and core (shard); the
 * counter rx_auth_failed has them all. */
#define FAIL_RECORDS_PER_S 4

struct agent_core {
    const struct agent_core_config *cfg;
    struct pdm_flow_table *flows; /* extension: struct agent_flow */
    struct pdm_gp own_gp;
    struct pdm_gp *gp; /* shared by the node's cores: atomic updates */
    agent_rand_fn rnd;
    void *rnd_arg;
    struct agent_keys *keys;
    uint64_t ctr[AGENT_C_MAX];
    struct agent_pmtu pmtu;
    uint64_t fail_rec_ns; /* start of the second fail_rec_n counts in */
    unsigned fail_rec_n;  /* failure records in it */
};

/* An entry of three cache lines: the table's 120 bytes and ours. */
_Static_assert(sizeof(struct agent_flow) <= 72, "struct agent_flow outgrew its 72 bytes");

static const char *const counter_names[AGENT_C_MAX] = {
    [AGENT_C_TX_SEEN] = "tx_seen",
    [AGENT_C_TX_MARKED] = "tx_marked",
    [AGENT_C_TX_NOT_ENABLED] = "tx_unchanged_not_enabled",
    [AGENT_C_TX_EXCLUDED] = "tx_unchanged_excluded",
    [AGENT_C_TX_MALFORMED] = "tx_unchanged_malformed",
    [AGENT_C_TX_ESP] = "tx_unchanged_esp",
    [AGENT_C_TX_FRAGMENT] = "tx_unchanged_fragment",
    [AGENT_C_TX_HAS_PDM] = "tx_unchanged_has_pdm",
    [AGENT_C_TX_MTU] = "tx_unchanged_mtu",
    [AGENT_C_TX_NO_ROOM] = "tx_unchanged_no_room",
    [AGENT_C_TX_FLOW_FULL] = "tx_unchanged_flow_table_full",
    [AGENT_C_TX_NO_SECRET] = "tx_unchanged_no_secret",
    [AGENT_C_TX_KEY_EXHAUSTED] = "tx_unchanged_key_exhausted",
    [AGENT_C_TX_CRYPTO] = "tx_unchanged_crypto_error",
    [AGENT_C_RX_SEEN] = "rx_seen",
    [AGENT_C_RX_LOGGED] = "rx_logged",
    [AGENT_C_RX_NOT_ENABLED] = "rx_not_enabled",
    [AGENT_C_RX_EXCLUDED] = "rx_excluded",
    [AGENT_C_RX_MALFORMED] = "rx_malformed",
    [AGENT_C_RX_NO_OPTION] = "rx_no_option",
    [AGENT_C_RX_UNEXPECTED_PSN] = "rx_unexpected_psn",
    [AGENT_C_RX_RESYNC] = "rx_psn_resync",
    [AGENT_C_RX_AUTH_FAILED] = "rx_auth_failed",
    [AGENT_C_RX_NO_SECRET] = "rx_no_secret",
    [AGENT_C_RX_FLOW_FULL] = "rx_flow_table_full",
    [AGENT_C_RX_MSS_CLAMPED] = "rx_mss_clamped",
    [AGENT_C_RX_PTB] = "rx_packet_too_big",
    [AGENT_C_FLOWS_EXPIRED] = "flows_expired",
    [AGENT_C_KEY_ROTATIONS] = "key_rotations",
    [AGENT_C_PEER_ROTATIONS] = "peer_key_rotations",
};

const char *agent_counter_name(enum agent_counter c)
{
    return (unsigned)c < AGENT_C_MAX ? counter_names[c] : "?";
}

size_t agent_mode_growth(enum pdm_format mode)
{
    switch (mode) {
    case PDM_FORMAT_RFC8250:
        return PDM_HDRSIZE_RFC8250;
    case PDM_FORMAT_V2:
        return PDM_HDRSIZE_V2;
    case PDM_FORMAT_V2_ENCRYPTED:
        return PDM_HDRSIZE_V2_ENC;
    case PDM_FORMAT_V2_14:
        return PDM_V214_HDR_SIZE;
    case PDM_FORMAT_NONE:
        break;
    }
    return 0;
}

/* ---- set-up ---------------------------------------------------------------- */

static void on_flow_removed(void *arg, struct pdm_flow *flow, enum pdm_flow_removal why)
{
    struct agent_core *c = arg;

    (void)why;
    c->ctr[AGENT_C_FLOWS_EXPIRED]++;
    agent_keys_flow_gone(c->keys, pdm_flow_ext(c->flows, flow));
}

int agent_core_new(struct agent_core **out, const struct agent_core_config *cfg, size_t capacity,
                   const uint8_t hash_key[PDM_FLOW_HASH_KEY_SIZE], agent_rand_fn rnd, void *rnd_arg,
                   struct agent_keys *keys, struct pdm_gp *gp)
{
    struct agent_core *c;
    int rv;

    if (out == NULL)
        return PDM_ERR_INVAL;
    *out = NULL;
    /* An option a receiver would discard its packet for is never sent. */
    if (cfg == NULL || rnd == NULL || !agent_opt_type_ok(cfg->opt_type))
        return PDM_ERR_INVAL;
    if ((c = calloc(1, sizeof *c)) == NULL)
        return PDM_ERR_NOMEM;
    c->cfg = cfg;
    c->rnd = rnd;
    c->rnd_arg = rnd_arg;
    c->keys = keys;
    pdm_gp_init(&c->own_gp);
    c->gp = gp != NULL ? gp : &c->own_gp;
    if ((rv = pdm_flow_table_new_ext(&c->flows, capacity, cfg->idle_timeout_ns, hash_key,
                                     sizeof(struct agent_flow))) != 0) {
        free(c);
        return rv;
    }
    pdm_flow_table_set_remove_cb(c->flows, on_flow_removed, c);
    *out = c;
    return 0;
}

void agent_core_free(struct agent_core *c)
{
    size_t pos = 0;
    struct pdm_flow *f;

    if (c == NULL)
        return;
    /* Key contexts hang off the flows: release them before the table goes. */
    while ((f = pdm_flow_table_next(c->flows, &pos)) != NULL)
        agent_keys_flow_gone(c->keys, pdm_flow_ext(c->flows, f));
    pdm_flow_table_free(c->flows);
    free(c);
}

void agent_core_tick(struct agent_core *c, uint64_t now_ns)
{
    (void)pdm_flow_table_expire(c->flows, now_ns, TICK_SLOTS);
}

void agent_core_counters(const struct agent_core *c, uint64_t out[AGENT_C_MAX])
{
    memcpy(out, c->ctr, sizeof c->ctr);
}

size_t agent_core_flows(const struct agent_core *c)
{
    return pdm_flow_table_count(c->flows);
}

void agent_core_pmtu_set(struct agent_core *c, const uint8_t dst[16], uint32_t mtu, uint64_t now_ns)
{
    agent_pmtu_set(&c->pmtu, dst, mtu, now_ns);
}

/* ---- the parse -------------------------------------------------------------- */

void agent_pkt_parse(struct agent_pkt *p, uint8_t *buf, size_t len, size_t cap, uint8_t opt_type)
{
    p->buf = buf;
    p->len = len;
    p->cap = cap;
    p->parsed = pdm_pkt_parse(buf, len, opt_type, &p->info);
}

uint64_t agent_pkt_flow_hash(const struct agent_pkt *p, uint64_t seed)
{
    const uint8_t *pkt = p->buf;
    uint64_t a = seed ^ 0x9e3779b97f4a7c15ull, b = a;

    if (p->len < PDM_IPV6_HDR_SIZE)
        return seed;
    /* Each endpoint (address, port) hashed alone, then combined with a
     * commutative operation: the same value for both directions. */
    for (size_t i = 0; i < 16; i++) {
        a = (a ^ pkt[IP6_OFF_SRC + i]) * 0x100000001b3ull;
        b = (b ^ pkt[IP6_OFF_DST + i]) * 0x100000001b3ull;
    }
    if (p->parsed == 0 && p->info.has_ports) {
        a = (a ^ p->info.sport) * 0x100000001b3ull;
        b = (b ^ p->info.dport) * 0x100000001b3ull;
    }
    a ^= a >> 31;
    b ^= b >> 31;
    return (a + b) * 0x9e3779b97f4a7c15ull;
}

uint64_t agent_core_flow_hash(const uint8_t *pkt, size_t len, uint64_t seed)
{
    struct agent_pkt p;

    /* Only read: the cast is for the struct's one type for both paths. */
    agent_pkt_parse(&p, (uint8_t *)(uintptr_t)pkt, len, len, PDM_OPT_TYPE);
    return agent_pkt_flow_hash(&p, seed);
}

/* ---- helpers ------------------------------------------------------------- */

/* Whether addr lies in p's prefix: the two 64-bit halves compared under
 * the prefix's mask (two loads and a few operations, no call; this runs
 * for every packet, once per peer prefix). */
static int prefix_match(const uint8_t *addr, const struct agent_peer *p)
{
    unsigned plen = p->plen > 128 ? 128 : p->plen;
    uint64_t m0 = plen >= 64 ? ~0ull : plen == 0 ? 0 : ~0ull << (64 - plen);
    uint64_t m1 = plen >= 128 ? ~0ull : plen <= 64 ? 0 : ~0ull << (128 - plen);

    return ((pdm_get_u64be(addr) ^ pdm_get_u64be(p->prefix)) & m0) == 0 &&
           ((pdm_get_u64be(addr + 8) ^ pdm_get_u64be(p->prefix + 8)) & m1) == 0;
}

const struct agent_peer *agent_config_peer(const struct agent_core_config *cfg,
                                           const uint8_t addr[16])
{
    const struct agent_peer *best = NULL;

    /* A handful of prefixes: a linear longest-match scan is cheaper than
     * any structure (the rules already filtered everything else). */
    for (size_t i = 0; i < cfg->npeers; i++) {
        const struct agent_peer *p = &cfg->peers[i];
        if (prefix_match(addr, p) && (best == NULL || p->plen > best->plen))
            best = p;
    }
    return best;
}

const struct agent_peer *agent_core_peer(const struct agent_core *c, const uint8_t addr[16])
{
    return agent_config_peer(c->cfg, addr);
}

/*
 * ICMPv6 messages that stay local to the link and must reach the neighbour
 * exactly as the stack wrote them: MLD (RFC 2710, 3810: 130-132, 143),
 * neighbour discovery (RFC 4861: 133-137), inverse ND (RFC 3122: 141,
 * 142), SEND (RFC 3971: 148, 149), multicast router discovery (RFC 4286:
 * 151-153). The rules do not queue them either; this is the second line.
 */
static int is_link_local_icmp(const uint8_t *pkt, const struct pdm_pkt_info *info)
{
    if (info->upper_proto != PDM_NH_ICMPV6 || info->upper_off >= info->pkt_len)
        return 0;
    uint8_t t = pkt[info->upper_off];
    return (t >= 130 && t <= 137) || t == 141 || t == 142 || t == 143 || t == 148 || t == 149 ||
           (t >= 151 && t <= 153);
}

static void tuple_of(struct pdm_flow_tuple *tup, const uint8_t *pkt,
                     const struct pdm_pkt_info *info)
{
    memcpy(tup->src, pkt + IP6_OFF_SRC, 16);
    memcpy(tup->dst, pkt + IP6_OFF_DST, 16);
    tup->sport = info->has_ports ? info->sport : 0;
    tup->dport = info->has_ports ? info->dport : 0;
    tup->proto = info->upper_proto;
}

/*
 * The flow of tup, found or created at now_ns. A new flow's PSNTPs start
 * at random (RFC 8250 §3.1): the random bytes are drawn only then, not for
 * every packet (pdm_flow_get() lets the caller set the start itself).
 * Returns 0 with *flow, *af and *dir, or PDM_ERR_FULL.
 */
static int flow_of(struct agent_core *c, const struct pdm_flow_tuple *tup, uint64_t now_ns,
                   enum pdm_format mode, struct pdm_flow **flow, struct agent_flow **af,
                   unsigned *dir)
{
    int rv = pdm_flow_get(c->flows, tup, now_ns, 0, flow, dir);
    uint32_t r;

    if (rv < 0)
        return rv;
    if (rv == 1) {
        c->rnd(c->rnd_arg, &r, sizeof r);
        (*flow)->dir[0].psn_next = (uint16_t)r;
        (*flow)->dir[1].psn_next = (uint16_t)(r >> 16);
        if (mode == PDM_FORMAT_V2_14) { /* 32-bit PSNs: random high halves too */
            c->rnd(c->rnd_arg, &r, sizeof r);
            agent_v214_flow_new(*flow, r);
        }
    }
    *af = pdm_flow_ext(c->flows, *flow);
    return 0;
}

static void record_fill(struct agent_record *rec, uint64_t now_ns, int rx,
                        const struct pdm_flow_tuple *tup, enum pdm_format fmt,
                        const struct pdm_fields *f)
{
    rec->time_ns = now_ns;
    rec->rx = rx;
    rec->tup = *tup;
    rec->format = fmt;
    rec->f = *f;
    rec->delta_tlr_ns = pdm_time_decode_ns(f->delta_tlr, f->scale_dtlr);
    rec->delta_tls_ns = pdm_time_decode_ns(f->delta_tls, f->scale_dtls);
    rec->kri = 0;
    rec->auth = -1;
    rec->psntp32 = rec->psnlr32 = 0;
}

/*
 * pdm_gp_next() made atomic: the node's cores share the counters (draft-04
 * §6.2: one Global Pointer per node and kind of source address). Same
 * rule: 1 for the first packet, +1 each, 4294967295 wraps to 1.
 */
static uint32_t gp_next(struct pdm_gp *gp, const uint8_t src[16])
{
    int ll = src[0] == 0xfe && (src[1] & 0xc0) == 0x80;
    uint32_t *ctr = ll ? &gp->link_local : &gp->other;
    uint32_t old = __atomic_load_n(ctr, __ATOMIC_RELAXED), next;

    do {
        next = old == UINT32_MAX ? 1 : old + 1;
    } while (!__atomic_compare_exchange_n(ctr, &old, next, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return next;
}

/* ---- egress ---------------------------------------------------------------- */

/*
 * What the parse alone decides about a packet to send: AGENT_C_MAX when it
 * may carry the option (its peer in *peer, the length it may grow to in
 * *limit), else the counter that says why it stays unchanged.
 *
 * Room: the option never adds more than a fresh header (merging into an
 * existing header adds at most as much), so checking that bound before
 * any state changes means no PSN or RN is spent on a packet that then
 * cannot carry it. A packet already larger than the MTU (to be fragmented
 * by the stack) is left alone too.
 */
static enum agent_counter tx_check(struct agent_core *c, const struct agent_pkt *p, size_t mtu,
                                   uint64_t now_ns, const struct agent_peer **peer, size_t *limit)
{
    const struct pdm_pkt_info *info = &p->info;
    const uint8_t *dst = p->buf + IP6_OFF_DST;
    size_t pmtu;

    if (p->parsed != 0)
        return AGENT_C_TX_MALFORMED;
    if ((*peer = agent_core_peer(c, dst)) == NULL)
        return AGENT_C_TX_NOT_ENABLED;
    if (is_link_local_icmp(p->buf, info))
        return AGENT_C_TX_EXCLUDED;
    if (info->upper_proto == PDM_NH_ESP)
        return AGENT_C_TX_ESP;
    if (info->is_fragment)
        return AGENT_C_TX_FRAGMENT;
    if (info->has_pdm)
        return AGENT_C_TX_HAS_PDM;
    *limit = p->cap;
    if (mtu != 0 && mtu < *limit)
        *limit = mtu;
    if ((pmtu = agent_pmtu_get(&c->pmtu, dst, now_ns)) != 0 && pmtu < *limit)
        *limit = pmtu;
    if (info->pkt_len + agent_mode_growth((*peer)->mode) > *limit)
        return *limit == p->cap ? AGENT_C_TX_NO_ROOM : AGENT_C_TX_MTU;
    return AGENT_C_MAX;
}

/* The counter of a key module failure. */
static enum agent_counter tx_key_error(int rv)
{
    return rv == PDM_ERR_KEY_EXHAUSTED ? AGENT_C_TX_KEY_EXHAUSTED
           : rv == PDM_ERR_NOT_FOUND   ? AGENT_C_TX_NO_SECRET
                                       : AGENT_C_TX_CRYPTO;
}

/*
 *   parse (the caller's) -> checks -> flow -> [secret, sending state] ->
 *   fields -> room in the packet -> Global Pointer -> option written there
 *   (encoded, or sealed: 6 clear bytes, then the AEAD's output in place)
 *
 * A failure after the fields were taken gives the PSN back (so that the
 * receiver sees no gap) and, after the room was made, takes the room back:
 * the packet leaves as it came. An RN, once sealed with, is never given
 * back (PROFILE §3), nor a Global Pointer value, which other threads may
 * have moved past since (a rare gap there says nothing wrong).
 */
enum agent_verdict agent_core_tx_pkt(struct agent_core *c, struct agent_pkt *p, size_t mtu,
                                     uint64_t now_ns, struct agent_record *rec)
{
    const struct agent_peer *peer = NULL;
    const struct agent_secret *sec = NULL;
    struct pdm_insert_undo undo;
    struct pdm_flow_tuple tup;
    struct pdm_flow_dir saved;
    struct pdm_flow *flow;
    struct agent_flow *af;
    struct pdm_option opt;
    struct pdm_v214 v14;
    uint64_t saved_user;
    enum agent_counter why;
    size_t limit = 0, off = 0, size;
    uint16_t kri = 0;
    unsigned dir;
    ssize_t n;
    int rv;

    if (rec != NULL)
        rec->time_ns = 0;
    c->ctr[AGENT_C_TX_SEEN]++;
    if ((why = tx_check(c, p, mtu, now_ns, &peer, &limit)) != AGENT_C_MAX)
        goto unchanged;
    tuple_of(&tup, p->buf, &p->info);
    if (flow_of(c, &tup, now_ns, peer->mode, &flow, &af, &dir) != 0) {
        why = AGENT_C_TX_FLOW_FULL;
        goto unchanged;
    }
    if (peer->mode == PDM_FORMAT_V2_ENCRYPTED &&
        (rv = agent_keys_tx_begin(c->keys, af, &tup, now_ns, &sec)) != 0) {
        why = tx_key_error(rv);
        goto unchanged;
    }

    saved = flow->dir[dir];
    saved_user = flow->user;     /* v2-14: PSN high halves (v214.c) */
    memset(&opt, 0, sizeof opt); /* RN/F unused without encryption: 0 (PROFILE §1) */
    opt.type = c->cfg->opt_type;
    opt.format = peer->mode;
    pdm_flow_on_send(flow, dir, now_ns, &opt.fields);
    size = pdm_option_size(peer->mode);
    if ((n = pdm_pkt_insert_room(p->buf, &p->len, limit, &p->info, size, &off, &undo)) < 0) {
        why = n == PDM_ERR_TOO_BIG ? AGENT_C_TX_NO_ROOM : AGENT_C_TX_MALFORMED;
        goto give_back;
    }
    if (peer->mode != PDM_FORMAT_RFC8250)
        opt.fields.global_pointer = gp_next(c->gp, p->buf + IP6_OFF_SRC);
    if (peer->mode == PDM_FORMAT_V2_ENCRYPTED) {
        rv = agent_keys_tx_seal(c->keys, af, sec, &tup, peer, now_ns, opt.type, &opt.fields,
                                p->buf + off, &kri);
        if (rv > 0)
            c->ctr[AGENT_C_KEY_ROTATIONS]++;
    } else if (peer->mode == PDM_FORMAT_V2_14) {
        rv = agent_v214_tx(flow, dir, &opt, p->buf + off, &v14);
    } else {
        rv = pdm_option_encode(p->buf + off, size, &opt) == (ssize_t)size ? 0 : PDM_ERR_INVAL;
    }
    if (rv < 0) {
        pdm_pkt_insert_undo(p->buf, &p->len, &undo);
        why = tx_key_error(rv);
        goto give_back;
    }

    c->ctr[AGENT_C_TX_MARKED]++;
    if (rec != NULL) {
        record_fill(rec, now_ns, 0, &tup, peer->mode, &opt.fields);
        rec->kri = kri;
        if (peer->mode == PDM_FORMAT_V2_14) {
            rec->psntp32 = v14.psntp;
            rec->psnlr32 = v14.psnlr;
        }
    }
    return AGENT_MODIFIED;

give_back:
    flow->dir[dir] = saved;
    flow->user = saved_user;
unchanged:
    c->ctr[why]++;
    return AGENT_UNCHANGED;
}

enum agent_verdict agent_core_tx(struct agent_core *c, uint8_t *pkt, size_t *len, size_t cap,
                                 size_t mtu, uint64_t now_ns, struct agent_record *rec)
{
    struct agent_pkt p;
    enum agent_verdict v;

    agent_pkt_parse(&p, pkt, *len, cap, c->cfg->opt_type);
    v = agent_core_tx_pkt(c, &p, mtu, now_ns, rec);
    *len = p.len;
    return v;
}

/* ---- ingress --------------------------------------------------------------- */

/*
 * A Packet Too Big (from a router, not from the peer) about a packet we
 * sent to an enabled peer: the path to it is narrower than our link. The
 * stack learns the same MTU and sizes its packets to it, with no room for
 * our option; and it checks every packet against that MTU after our hook,
 * so lowering the MTU it is told would only make it refuse our longer
 * packets. So the packet is let through as it is, and the core remembers
 * the path MTU per peer address (as long as the stack does, 10 minutes):
 * packets that would exceed it with the option go out without it
 * (counted), and the MSS of later connections' SYNs leaves room for the
 * option on that path.
 * Returns 1 and fills *rec's learned_* fields when it learned something.
 */
static int learn_ptb(struct agent_core *c, const struct agent_pkt *p, uint64_t now_ns,
                     struct agent_record *rec)
{
    const struct pdm_pkt_info *info = &p->info;
    const uint8_t *dst = NULL;
    uint32_t mtu;

    if (info->upper_proto != PDM_NH_ICMPV6 || info->is_fragment)
        return 0;
    mtu = agent_ptb_parse(p->buf + info->upper_off, info->pkt_len - info->upper_off, &dst);
    if (mtu == 0 || agent_core_peer(c, dst) == NULL)
        return 0;
    agent_pmtu_set(&c->pmtu, dst, mtu, now_ns);
    if (rec != NULL) {
        memcpy(rec->learned_dst, dst, 16);
        rec->learned_pmtu = mtu;
    }
    return 1;
}

/*
 * Our segments to this peer carry our option, so the MSS the peer offers
 * us must leave room for it: MSS ≤ MTU − 60 − growth, the MTU being that
 * of the link the SYN came in on (the way back, as a rule), or the path
 * MTU learned for the peer when smaller. Lowering an MSS is always safe
 * (RFC 9293 §3.7.1); raising it is never done. Returns AGENT_MODIFIED
 * when it lowered one.
 */
static enum agent_verdict rx_clamp(struct agent_core *c, struct agent_pkt *p,
                                   const struct agent_peer *peer, size_t in_mtu, uint64_t now_ns)
{
    const struct pdm_pkt_info *info = &p->info;
    size_t pmtu = agent_pmtu_get(&c->pmtu, p->buf + IP6_OFF_SRC, now_ns);
    size_t growth = agent_mode_growth(peer->mode);

    if (pmtu != 0 && (in_mtu == 0 || pmtu < in_mtu))
        in_mtu = pmtu; /* the way back to the peer is narrower than our link */
    if (!c->cfg->clamp_mss || info->upper_proto != PDM_NH_TCP || info->is_fragment ||
        in_mtu <= IP6_TCP_HDRS + growth + 64)
        return AGENT_UNCHANGED;
    if (!agent_mss_clamp(p->buf + info->upper_off, info->pkt_len - info->upper_off,
                         (uint16_t)(in_mtu - IP6_TCP_HDRS - growth)))
        return AGENT_UNCHANGED;
    c->ctr[AGENT_C_RX_MSS_CLAMPED]++;
    return AGENT_MODIFIED;
}

/* draft-04 §7.1: is psn an expected PSNTP after the last one accepted?
 * Serial arithmetic on 16 bits: up to `window` ahead (losses) or behind
 * (reordering, late packets); never the same value (a duplicate). */
static int psn_expected(uint16_t last, uint16_t psn, uint16_t window)
{
    uint16_t ahead = (uint16_t)(psn - last);
    return ahead != 0 && (ahead <= window || ahead >= (uint16_t)(0u - window));
}

/* Whether a PSNTP of a packet travelling in dir is to be used. A jump (the
 * peer restarted its flow state, or a forgery) is followed only once
 * AGENT_RESYNC_PACKETS consecutive PSNTPs agree. */
static int rx_psn_accept(struct agent_core *c, struct agent_flow *af, unsigned dir, uint16_t psn)
{
    if (af->have_psn[dir] && !psn_expected(af->last_psn[dir], psn, c->cfg->psn_window)) {
        if (af->resync_n[dir] != 0 && psn == (uint16_t)(af->resync_psn[dir] + 1u))
            af->resync_n[dir]++;
        else
            af->resync_n[dir] = 1;
        af->resync_psn[dir] = psn;
        if (af->resync_n[dir] < AGENT_RESYNC_PACKETS) {
            c->ctr[AGENT_C_RX_UNEXPECTED_PSN]++;
            return 0;
        }
        c->ctr[AGENT_C_RX_RESYNC]++;
    }
    af->have_psn[dir] = 1;
    af->last_psn[dir] = psn;
    af->resync_n[dir] = 0;
    return 1;
}

/*
 * The fields of the packet's option: the clear ones as parsed, or the
 * sealed ones opened where the parse found them (the tag checked first).
 * Returns 0 (with *kri and *auth for an encrypted one) or the counter of
 * the failure; an authentication failure is recorded, without fields.
 */
static int rx_fields(struct agent_core *c, struct agent_flow *af, const struct agent_pkt *p,
                     const struct pdm_flow_tuple *tup, uint64_t now_ns, struct pdm_fields *f,
                     uint16_t *kri, int *auth, struct agent_record *rec)
{
    const struct pdm_pkt_info *info = &p->info;
    int rv;

    if (info->pdm.format != PDM_FORMAT_V2_ENCRYPTED) {
        *f = info->pdm.fields;
        return 0;
    }
    rv = agent_keys_open(c->keys, af, tup, p->buf + info->pdm_off, info->pkt_len - info->pdm_off,
                         c->cfg->opt_type, f, kri);
    if (rv == PDM_ERR_NOT_FOUND)
        return AGENT_C_RX_NO_SECRET;
    if (rv < 0) {
        /* Its contents are never used (PROFILE §3); the failure is
         * counted, and logged without fields, at most FAIL_RECORDS_PER_S
         * a second: a flood of forged options must not fill the disk. */
        if (now_ns - c->fail_rec_ns >= 1000000000ull) {
            c->fail_rec_ns = now_ns;
            c->fail_rec_n = 0;
        }
        if (rec != NULL && c->fail_rec_n++ < FAIL_RECORDS_PER_S) {
            memset(f, 0, sizeof *f);
            record_fill(rec, now_ns, 1, tup, info->pdm.format, f);
            rec->auth = 0;
        }
        return AGENT_C_RX_AUTH_FAILED;
    }
    if (rv > 0)
        c->ctr[AGENT_C_PEER_ROTATIONS]++;
    *auth = 1;
    return 0;
}

/*
 * For --metrics: our round trip to the peer when the packet travelling in
 * dir answers the last packet we sent on the flow (its PSNLR names it),
 * read before pdm_flow_on_recv() moves our state on: time since that send
 * less the peer's DeltaTLR, what it spent before answering (RFC 8250 §4,
 * measured at the endpoint). -1 when there is none, or it is negative.
 */
static int64_t rx_rtd(const struct pdm_flow *flow, unsigned dir, uint64_t now_ns,
                      const struct pdm_fields *f)
{
    const struct pdm_flow_dir *us = &flow->dir[dir ^ 1];
    uint64_t since, held;

    if (!(us->flags & PDM_FLOW_SENT) || f->psnlr != (uint16_t)(us->psn_next - 1u) ||
        (f->delta_tlr == 0 && f->scale_dtlr == 0 && f->psnlr == 0) || now_ns < us->last_sent_ns)
        return -1;
    since = now_ns - us->last_sent_ns;
    held = pdm_time_decode_ns(f->delta_tlr, f->scale_dtlr);
    return held <= since && since - held <= (uint64_t)INT64_MAX ? (int64_t)(since - held) : -1;
}

/*
 * A v2-encrypted option of a flow not in the table: opened under a scratch
 * state first, and the flow made (the state moved into it) only once it
 * authenticated. Forged options, a flood of them from made-up sources or
 * ports, then take no entry from the peers' real flows (issue 13: a full
 * table of forged flows left new real ones unmeasured). Returns 0 with
 * the flow, or the counter of the failure.
 */
static int rx_new_sealed(struct agent_core *c, const struct agent_pkt *p,
                         const struct pdm_flow_tuple *tup, uint64_t now_ns, struct pdm_fields *f,
                         uint16_t *kri, int *auth, struct agent_record *rec, struct pdm_flow **flow,
                         struct agent_flow **af, unsigned *dir)
{
    struct agent_flow tmp;
    int why;

    memset(&tmp, 0, sizeof tmp);
    if ((why = rx_fields(c, &tmp, p, tup, now_ns, f, kri, auth, rec)) == 0 &&
        flow_of(c, tup, now_ns, PDM_FORMAT_V2_ENCRYPTED, flow, af, dir) != 0)
        why = AGENT_C_RX_FLOW_FULL;
    if (why != 0) {
        agent_keys_flow_gone(c->keys, &tmp); /* the keys it derived */
        if (rec != NULL && why == AGENT_C_RX_FLOW_FULL)
            rec->time_ns = 0;
        return why;
    }
    memcpy(*af, &tmp, sizeof tmp); /* its keys' owner is the flow now */
    return 0;
}

enum agent_verdict agent_core_rx_pkt(struct agent_core *c, struct agent_pkt *p, size_t in_mtu,
                                     uint64_t now_ns, struct agent_record *rec)
{
    const struct pdm_pkt_info *info = &p->info;
    const struct agent_peer *peer;
    enum agent_verdict v;
    struct pdm_flow_tuple tup;
    struct pdm_flow *flow;
    struct agent_flow *af;
    struct pdm_fields f;
    struct pdm_v214 v14 = {0};
    uint16_t kri = 0;
    unsigned dir;
    int why, sealed, auth = -1;

    if (rec != NULL) {
        rec->time_ns = 0;
        rec->learned_pmtu = 0;
        rec->peer = NULL;
        rec->rtd_ns = -1;
    }
    c->ctr[AGENT_C_RX_SEEN]++;
    if (p->parsed != 0) {
        c->ctr[AGENT_C_RX_MALFORMED]++;
        return AGENT_UNCHANGED;
    }
    /* From a router: handled before the peer check. */
    if (learn_ptb(c, p, now_ns, rec)) {
        c->ctr[AGENT_C_RX_PTB]++;
        return AGENT_UNCHANGED;
    }
    /* Not enabled: not even looked at, let alone logged (draft-04 §7.1). */
    if ((peer = agent_core_peer(c, p->buf + IP6_OFF_SRC)) == NULL) {
        c->ctr[AGENT_C_RX_NOT_ENABLED]++;
        return AGENT_UNCHANGED;
    }
    if (is_link_local_icmp(p->buf, info)) {
        c->ctr[AGENT_C_RX_EXCLUDED]++;
        return AGENT_UNCHANGED;
    }
    v = rx_clamp(c, p, peer, in_mtu, now_ns);
    if (info->upper_proto == PDM_NH_ESP ||
        (info->is_fragment && info->upper_off >= info->pkt_len)) {
        /* No 5-tuple to file it under (a later fragment, or ESP). */
        if (!info->has_pdm)
            c->ctr[AGENT_C_RX_NO_OPTION]++;
        return v;
    }

    tuple_of(&tup, p->buf, info);
    sealed = info->has_pdm && info->pdm.format == PDM_FORMAT_V2_ENCRYPTED;
    if (sealed && pdm_flow_lookup(c->flows, &tup, &flow, &dir) != 0) {
        why = rx_new_sealed(c, p, &tup, now_ns, &f, &kri, &auth, rec, &flow, &af, &dir);
    } else if (sealed) {
        /* A known flow: touched once its option opened, not before (a
         * forged option does not keep a flow alive). */
        af = pdm_flow_ext(c->flows, flow);
        why = rx_fields(c, af, p, &tup, now_ns, &f, &kri, &auth, rec);
    } else if (flow_of(c, &tup, now_ns, peer->mode, &flow, &af, &dir) != 0) {
        c->ctr[AGENT_C_RX_FLOW_FULL]++;
        return v;
    } else if (!info->has_pdm) {
        /* A packet of an enabled flow without PDM (the peer runs no agent,
         * or skipped this one): its time still counts for our DeltaTLR;
         * PSNLR says 0, "no PSN known" (PROFILE §2). */
        c->ctr[AGENT_C_RX_NO_OPTION]++;
        pdm_flow_on_recv(flow, dir, now_ns, 0);
        if (peer->mode == PDM_FORMAT_V2_14)
            (void)agent_v214_rx(flow, dir, p->buf, info, c->cfg->opt_type, &v14);
        return v;
    } else {
        why = rx_fields(c, af, p, &tup, now_ns, &f, &kri, &auth, rec);
    }
    if (why != 0) {
        c->ctr[why]++;
        return v;
    }
    if (!rx_psn_accept(c, af, dir, f.psntp))
        return v;

    if (rec != NULL) {
        rec->peer = peer;
        rec->rtd_ns = rx_rtd(flow, dir, now_ns, &f);
    }
    pdm_flow_on_recv(flow, dir, now_ns, f.psntp);
    if (peer->mode == PDM_FORMAT_V2_14 || info->pdm.format == PDM_FORMAT_V2_14)
        (void)agent_v214_rx(flow, dir, p->buf, info, c->cfg->opt_type, &v14);
    c->ctr[AGENT_C_RX_LOGGED]++;
    if (rec != NULL) {
        record_fill(rec, now_ns, 1, &tup, info->pdm.format, &f);
        rec->kri = kri;
        rec->auth = auth;
        rec->psntp32 = v14.psntp;
        rec->psnlr32 = v14.psnlr;
    }
    return v;
}

enum agent_verdict agent_core_rx(struct agent_core *c, uint8_t *pkt, size_t len, size_t in_mtu,
                                 uint64_t now_ns, struct agent_record *rec)
{
    struct agent_pkt p;

    agent_pkt_parse(&p, pkt, len, len, c->cfg->opt_type);
    return agent_core_rx_pkt(c, &p, in_mtu, now_ns, rec);
}
