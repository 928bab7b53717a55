/*
 * The agent's packet logic, sans-IO: packet bytes, direction and time in;
 * new bytes, a verdict and a record out. No system call, no clock, no file:
 * the NFQUEUE loop (agent_nfq.c) feeds it today, and a tc/eBPF loader or a
 * pcap replayer can feed it the same way. Random bytes (PSN starts) come
 * from the caller's callback, time from its argument.
 *
 * Rules it carries out (docs/agent.md has the reasons):
 *  - only flows whose remote address lies in an enabled peer prefix are
 *    touched; everything else is returned unchanged and counted;
 *  - egress: RFC 8250 §3.1 fields from the flow table (PROFILE §2), the
 *    option inserted into, or merged with, the Destination Options header
 *    right before the upper layer (pdm_pkt_insert); any failure returns the
 *    packet unchanged and counts why: PDM never costs a user packet;
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

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* IPv6 header offsets (RFC 8200 §3). */
#define IP6_OFF_SRC 8
#define IP6_OFF_DST 24

/* TCP header (RFC 9293 §3.1): flags at 13, checksum at 16, options from 20. */
#define TCP_OFF_DOFF  12
#define TCP_OFF_FLAGS 13
#define TCP_OFF_CSUM  16
#define TCP_HDR_MIN   20
#define TCP_FLAG_SYN  0x02
#define TCPOPT_EOL    0
#define TCPOPT_NOP    1
#define TCPOPT_MSS    2

#define ICMPV6_PACKET_TOO_BIG 2

/* Fixed IPv6 + TCP header: the part of a packet an MSS does not count. */
#define IP6_TCP_HDRS 60

/* Idle-flow sweep: slots visited per agent_core_tick(). */
#define TICK_SLOTS 4096

/* Path MTUs learned from Packet Too Big, per peer address. */
#define PMTU_SLOTS       64
#define PMTU_LIFETIME_NS (600ull * 1000000000ull) /* Linux's ip6_rt_mtu_expires */

struct pmtu_entry {
    uint8_t dst[16];
    uint32_t mtu; /* 0: empty */
    uint64_t expires_ns;
};

struct agent_core {
    const struct agent_core_config *cfg;
    struct pdm_flow_table *flows;
    struct pdm_gp own_gp;
    struct pdm_gp *gp; /* shared by the node's cores: atomic updates */
    agent_rand_fn rnd;
    void *rnd_arg;
    struct agent_keys *keys;
    uint64_t ctr[AGENT_C_MAX];
    struct pmtu_entry pmtu[PMTU_SLOTS];
};

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

/* ---- helpers ------------------------------------------------------------- */

static int prefix_match(const uint8_t *addr, const struct agent_peer *p)
{
    unsigned full = p->plen / 8u, rest = p->plen % 8u;

    if (memcmp(addr, p->prefix, full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (addr[full] & mask) == (p->prefix[full] & mask);
}

const struct agent_peer *agent_core_peer(const struct agent_core *c, const uint8_t addr[16])
{
    const struct agent_peer *best = NULL;

    /* A handful of prefixes: a linear longest-match scan is cheaper than
     * any structure (the rules already filtered everything else). */
    for (size_t i = 0; i < c->cfg->npeers; i++) {
        const struct agent_peer *p = &c->cfg->peers[i];
        if (prefix_match(addr, p) && (best == NULL || p->plen > best->plen))
            best = p;
    }
    return best;
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

/* An entry of three cache lines: the table's 120 bytes and ours. */
_Static_assert(sizeof(struct agent_flow) <= 72, "struct agent_flow outgrew its 72 bytes");

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
}

/* ---- path MTUs ------------------------------------------------------------ */

static size_t pmtu_slot(const uint8_t dst[16])
{
    uint32_t x = 2166136261u;
    for (size_t i = 0; i < 16; i++)
        x = (x ^ dst[i]) * 16777619u;
    return x % PMTU_SLOTS;
}

void agent_core_pmtu_set(struct agent_core *c, const uint8_t dst[16], uint32_t mtu, uint64_t now_ns)
{
    struct pmtu_entry *e = &c->pmtu[pmtu_slot(dst)];

    /* Direct-mapped: a collision replaces the older entry (a cache). */
    memcpy(e->dst, dst, 16);
    e->mtu = mtu;
    e->expires_ns = now_ns + PMTU_LIFETIME_NS;
}

/* The path MTU learned for dst, or 0. */
static size_t pmtu_get(const struct agent_core *c, const uint8_t dst[16], uint64_t now_ns)
{
    const struct pmtu_entry *e = &c->pmtu[pmtu_slot(dst)];

    if (e->mtu == 0 || now_ns >= e->expires_ns || memcmp(e->dst, dst, 16) != 0)
        return 0;
    return e->mtu;
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

uint64_t agent_core_flow_hash(const uint8_t *pkt, size_t len, uint64_t seed)
{
    struct pdm_pkt_info info;
    uint64_t a = seed ^ 0x9e3779b97f4a7c15ull, b = a;
    int ports;

    if (len < PDM_IPV6_HDR_SIZE)
        return seed;
    /* Each endpoint (address, port) hashed alone, then combined with a
     * commutative operation: the same value for both directions. */
    ports = pdm_pkt_parse(pkt, len, PDM_OPT_TYPE, &info) == 0 && info.has_ports;
    for (size_t i = 0; i < 16; i++) {
        a = (a ^ pkt[IP6_OFF_SRC + i]) * 0x100000001b3ull;
        b = (b ^ pkt[IP6_OFF_DST + i]) * 0x100000001b3ull;
    }
    if (ports) {
        a = (a ^ info.sport) * 0x100000001b3ull;
        b = (b ^ info.dport) * 0x100000001b3ull;
    }
    a ^= a >> 31;
    b ^= b >> 31;
    return (a + b) * 0x9e3779b97f4a7c15ull;
}

/* ---- egress ---------------------------------------------------------------- */

enum agent_verdict agent_core_tx(struct agent_core *c, uint8_t *pkt, size_t *len, size_t cap,
                                 size_t mtu, uint64_t now_ns, struct agent_record *rec)
{
    struct pdm_pkt_info info;
    struct pdm_flow_tuple tup;
    struct pdm_flow *flow;
    struct pdm_flow_dir saved;
    struct pdm_option opt;
    const struct agent_peer *peer;
    uint8_t optbuf[PDM_OPTSIZE_MAX];
    size_t limit, pmtu;
    ssize_t n;
    unsigned dir;
    uint32_t r;
    int rv;

    if (rec != NULL)
        rec->time_ns = 0;
    c->ctr[AGENT_C_TX_SEEN]++;
    if (pdm_pkt_parse(pkt, *len, c->cfg->opt_type, &info) != 0) {
        c->ctr[AGENT_C_TX_MALFORMED]++;
        return AGENT_UNCHANGED;
    }
    if ((peer = agent_core_peer(c, pkt + IP6_OFF_DST)) == NULL) {
        c->ctr[AGENT_C_TX_NOT_ENABLED]++;
        return AGENT_UNCHANGED;
    }
    if (is_link_local_icmp(pkt, &info)) {
        c->ctr[AGENT_C_TX_EXCLUDED]++;
        return AGENT_UNCHANGED;
    }
    if (info.upper_proto == PDM_NH_ESP) {
        c->ctr[AGENT_C_TX_ESP]++;
        return AGENT_UNCHANGED;
    }
    if (info.is_fragment) {
        c->ctr[AGENT_C_TX_FRAGMENT]++;
        return AGENT_UNCHANGED;
    }
    if (info.has_pdm) {
        c->ctr[AGENT_C_TX_HAS_PDM]++;
        return AGENT_UNCHANGED;
    }
    /*
     * Room: the option never adds more than a fresh header (merging into an
     * existing header adds at most as much), so checking that bound before
     * any state changes means no PSN or RN is spent on a packet that then
     * cannot carry it. A packet already larger than the MTU (to be
     * fragmented by the stack) is left alone too.
     */
    limit = cap;
    if (mtu != 0 && mtu < limit)
        limit = mtu;
    if ((pmtu = pmtu_get(c, pkt + IP6_OFF_DST, now_ns)) != 0 && pmtu < limit)
        limit = pmtu;
    if (info.pkt_len + agent_mode_growth(peer->mode) > limit) {
        c->ctr[limit == cap ? AGENT_C_TX_NO_ROOM : AGENT_C_TX_MTU]++;
        return AGENT_UNCHANGED;
    }
    if (peer->mode == PDM_FORMAT_V2_ENCRYPTED &&
        !agent_keys_have(c->keys, pkt + IP6_OFF_SRC, pkt + IP6_OFF_DST)) {
        c->ctr[AGENT_C_TX_NO_SECRET]++;
        return AGENT_UNCHANGED;
    }

    tuple_of(&tup, pkt, &info);
    c->rnd(c->rnd_arg, &r, sizeof r);
    if (pdm_flow_get(c->flows, &tup, now_ns, r, &flow, &dir) < 0) {
        c->ctr[AGENT_C_TX_FLOW_FULL]++;
        return AGENT_UNCHANGED;
    }
    saved = flow->dir[dir];

    memset(&opt, 0, sizeof opt);
    opt.type = c->cfg->opt_type;
    opt.format = peer->mode;
    pdm_flow_on_send(flow, dir, now_ns, &opt.fields);
    if (peer->mode != PDM_FORMAT_RFC8250)
        opt.fields.global_pointer = gp_next(c->gp, pkt + IP6_OFF_SRC);
    if (rec != NULL)
        record_fill(rec, now_ns, 0, &tup, peer->mode, &opt.fields);

    if (peer->mode == PDM_FORMAT_V2_ENCRYPTED) {
        uint16_t kri = 0;
        rv = agent_keys_seal(c->keys, pdm_flow_ext(c->flows, flow), dir, &tup, peer, now_ns, &opt,
                             &kri);
        if (rv < 0) {
            c->ctr[rv == PDM_ERR_KEY_EXHAUSTED ? AGENT_C_TX_KEY_EXHAUSTED
                   : rv == PDM_ERR_NOT_FOUND   ? AGENT_C_TX_NO_SECRET
                                               : AGENT_C_TX_CRYPTO]++;
            goto undo;
        }
        if (rv > 0)
            c->ctr[AGENT_C_KEY_ROTATIONS]++;
        if (rec != NULL)
            rec->kri = kri;
    } else {
        /* RN/F unused without encryption: sent as 0 (PROFILE §1). */
        opt.rn = 0;
        opt.f = 0;
    }
    if ((n = pdm_option_encode(optbuf, sizeof optbuf, &opt)) < 0) {
        c->ctr[AGENT_C_TX_CRYPTO]++;
        goto undo;
    }
    if ((n = pdm_pkt_insert(pkt, len, limit, optbuf, (size_t)n, NULL)) < 0) {
        c->ctr[n == PDM_ERR_TOO_BIG ? AGENT_C_TX_NO_ROOM : AGENT_C_TX_MALFORMED]++;
        goto undo;
    }
    c->ctr[AGENT_C_TX_MARKED]++;
    return AGENT_MODIFIED;

undo:
    /* The packet leaves without an option: give its PSN back so that the
     * receiver sees no gap (an RN, once sealed with, is never given back:
     * PROFILE §3; nor is a Global Pointer value, which other threads may
     * have moved past since: a rare gap there says nothing wrong). */
    flow->dir[dir] = saved;
    if (rec != NULL)
        rec->time_ns = 0;
    return AGENT_UNCHANGED;
}

/* ---- ingress --------------------------------------------------------------- */

/* One's-complement sum of the 16-bit big-endian words of p[0..n), n even. */
static uint32_t sum16(const uint8_t *p, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        s += pdm_get_u16be(p + i);
    return s;
}

static uint16_t fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

/*
 * Lowers the MSS option of a TCP SYN (or SYN-ACK) at tcp[0..tcplen) to at
 * most mss, fixing the checksum incrementally (RFC 1624 eqn. 3:
 * HC' = ~(~HC + ~m + m'), over the aligned words that change).
 * Returns 1 when the packet changed, 0 otherwise.
 *
 *   TCP options (RFC 9293 §3.2): kind 0 = end, 1 = NOP, else kind, length,
 *   data; MSS is kind 2, length 4, a 16-bit value.
 */
static int clamp_mss(uint8_t *tcp, size_t tcplen, uint16_t mss)
{
    size_t hl, i, w0, w1;
    uint32_t before, after;
    uint16_t hc;

    if (tcplen < TCP_HDR_MIN || !(tcp[TCP_OFF_FLAGS] & TCP_FLAG_SYN))
        return 0;
    hl = (size_t)(tcp[TCP_OFF_DOFF] >> 4) * 4;
    if (hl < TCP_HDR_MIN || hl > tcplen)
        return 0;
    for (i = TCP_HDR_MIN; i < hl;) {
        uint8_t kind = tcp[i];
        if (kind == TCPOPT_EOL)
            break;
        if (kind == TCPOPT_NOP) {
            i++;
            continue;
        }
        if (i + 1 >= hl || tcp[i + 1] < 2 || i + tcp[i + 1] > hl)
            return 0;
        if (kind == TCPOPT_MSS && tcp[i + 1] == 4)
            break;
        i += tcp[i + 1];
    }
    if (i >= hl || tcp[i] != TCPOPT_MSS || pdm_get_u16be(tcp + i + 2) <= mss)
        return 0;
    /* The value sits at i + 2, at either parity: sum the words that hold it. */
    w0 = (i + 2) & ~(size_t)1;
    w1 = (i + 4 + 1) & ~(size_t)1;
    before = sum16(tcp + w0, w1 - w0);
    pdm_put_u16be(tcp + i + 2, mss);
    after = sum16(tcp + w0, w1 - w0);
    hc = pdm_get_u16be(tcp + TCP_OFF_CSUM);
    hc = (uint16_t)~fold((uint32_t)(uint16_t)~hc + (uint32_t)(uint16_t)~fold(before) + fold(after));
    pdm_put_u16be(tcp + TCP_OFF_CSUM, hc);
    return 1;
}

/*
 * ICMPv6 Packet Too Big (RFC 4443 §3.2) about a packet we sent to an
 * enabled peer: the path to it is narrower than our link. The stack learns
 * the same MTU and sizes its packets to it, with no room for our option;
 * and it checks every packet against that MTU after our hook, so lowering
 * the MTU it is told would only make it refuse our longer packets. So the
 * packet is let through as it is, and the core remembers the path MTU per
 * peer address (as long as the stack does, 10 minutes): packets that would
 * exceed it with the option go out without it (counted), and the MSS of
 * later connections' SYNs leaves room for the option on that path.
 *
 *   ICMPv6: Type 2 | Code 0 | Checksum(2) | MTU(4) | as much of the packet
 *   that was too big as fits (its IPv6 header first: dst at offset 24)
 *
 * Returns 1 and fills *rec's learned_* fields when it learned something.
 */
static int learn_ptb(struct agent_core *c, const uint8_t *pkt, const struct pdm_pkt_info *info,
                     uint64_t now_ns, struct agent_record *rec)
{
    const uint8_t *icmp = pkt + info->upper_off;
    size_t ulen = info->pkt_len - info->upper_off;
    uint32_t mtu;

    if (ulen < 8 + PDM_IPV6_HDR_SIZE || icmp[0] != ICMPV6_PACKET_TOO_BIG || icmp[1] != 0)
        return 0;
    /* The embedded packet: IPv6, to an enabled peer. */
    if ((icmp[8] >> 4) != 6 || agent_core_peer(c, icmp + 8 + IP6_OFF_DST) == NULL)
        return 0;
    mtu = pdm_get_u32be(icmp + 4);
    if (mtu < PDM_IPV6_MIN_MTU)
        mtu = PDM_IPV6_MIN_MTU; /* what the stack does too (RFC 8200 §5) */
    agent_core_pmtu_set(c, icmp + 8 + IP6_OFF_DST, mtu, now_ns);
    if (rec != NULL) {
        memcpy(rec->learned_dst, icmp + 8 + IP6_OFF_DST, 16);
        rec->learned_pmtu = mtu;
    }
    return 1;
}

/* draft-04 §7.1: is psn an expected PSNTP after the last one accepted?
 * Serial arithmetic on 16 bits: up to `window` ahead (losses) or behind
 * (reordering, late packets); never the same value (a duplicate). */
static int psn_expected(uint16_t last, uint16_t psn, uint16_t window)
{
    uint16_t ahead = (uint16_t)(psn - last);
    return ahead != 0 && (ahead <= window || ahead >= (uint16_t)(0u - window));
}

enum agent_verdict agent_core_rx(struct agent_core *c, uint8_t *pkt, size_t len, size_t in_mtu,
                                 uint64_t now_ns, struct agent_record *rec)
{
    struct pdm_pkt_info info;
    struct pdm_flow_tuple tup;
    struct pdm_flow *flow;
    struct pdm_fields f;
    struct agent_flow *st;

    const struct agent_peer *peer;
    enum agent_verdict v = AGENT_UNCHANGED;
    uint16_t kri = 0;
    unsigned dir;
    uint32_t r;
    size_t pmtu;
    int rv, auth = -1;

    if (rec != NULL) {
        rec->time_ns = 0;
        rec->learned_pmtu = 0;
    }
    c->ctr[AGENT_C_RX_SEEN]++;
    if (pdm_pkt_parse(pkt, len, c->cfg->opt_type, &info) != 0) {
        c->ctr[AGENT_C_RX_MALFORMED]++;
        return AGENT_UNCHANGED;
    }
    /* A Packet Too Big about one of our packets comes from a router, not
     * from the peer: handled before the peer check. */
    if (info.upper_proto == PDM_NH_ICMPV6 && !info.is_fragment &&
        learn_ptb(c, pkt, &info, now_ns, rec) != 0) {
        c->ctr[AGENT_C_RX_PTB]++;
        return AGENT_UNCHANGED;
    }
    /* Not enabled: not even looked at, let alone logged (draft-04 §7.1). */
    if ((peer = agent_core_peer(c, pkt + IP6_OFF_SRC)) == NULL) {
        c->ctr[AGENT_C_RX_NOT_ENABLED]++;
        return AGENT_UNCHANGED;
    }
    if (is_link_local_icmp(pkt, &info)) {
        c->ctr[AGENT_C_RX_EXCLUDED]++;
        return AGENT_UNCHANGED;
    }
    /*
     * Our segments to this peer carry our option, so the MSS the peer
     * offers us must leave room for it: MSS ≤ MTU − 60 − growth, the MTU
     * being that of the link the SYN came in on (the way back, as a rule).
     * Lowering an MSS is always safe (RFC 9293 §3.7.1); raising never done.
     */
    if ((pmtu = pmtu_get(c, pkt + IP6_OFF_SRC, now_ns)) != 0 && (in_mtu == 0 || pmtu < in_mtu))
        in_mtu = pmtu; /* the way back to the peer is narrower than our link */
    if (c->cfg->clamp_mss && info.upper_proto == PDM_NH_TCP && !info.is_fragment &&
        in_mtu > IP6_TCP_HDRS + agent_mode_growth(peer->mode) + 64) {
        uint16_t mss = (uint16_t)(in_mtu - IP6_TCP_HDRS - agent_mode_growth(peer->mode));
        if (clamp_mss(pkt + info.upper_off, info.pkt_len - info.upper_off, mss)) {
            c->ctr[AGENT_C_RX_MSS_CLAMPED]++;
            v = AGENT_MODIFIED;
        }
    }
    if (info.upper_proto == PDM_NH_ESP || (info.is_fragment && info.upper_off >= info.pkt_len)) {
        /* No 5-tuple to file it under (a later fragment, or ESP). */
        if (!info.has_pdm)
            c->ctr[AGENT_C_RX_NO_OPTION]++;
        return v;
    }

    tuple_of(&tup, pkt, &info);
    c->rnd(c->rnd_arg, &r, sizeof r);
    if (pdm_flow_get(c->flows, &tup, now_ns, r, &flow, &dir) < 0) {
        c->ctr[AGENT_C_RX_FLOW_FULL]++;
        return v;
    }
    if (!info.has_pdm) {
        /* A packet of an enabled flow without PDM (the peer runs no agent,
         * or skipped this one): its time still counts for our DeltaTLR;
         * PSNLR says 0, "no PSN known" (PROFILE §2). */
        c->ctr[AGENT_C_RX_NO_OPTION]++;
        pdm_flow_on_recv(flow, dir, now_ns, 0);
        return v;
    }

    if (info.pdm.format == PDM_FORMAT_V2_ENCRYPTED) {
        rv = agent_keys_open(c->keys, pdm_flow_ext(c->flows, flow), dir, &tup, &info.pdm, &f, &kri);
        if (rv == PDM_ERR_NOT_FOUND) {
            c->ctr[AGENT_C_RX_NO_SECRET]++;
            return v;
        }
        if (rv < 0) {
            /* Its contents are never used (PROFILE §3); the failure is
             * logged, without fields, and counted. */
            c->ctr[AGENT_C_RX_AUTH_FAILED]++;
            if (rec != NULL) {
                memset(&f, 0, sizeof f);
                record_fill(rec, now_ns, 1, &tup, info.pdm.format, &f);
                rec->auth = 0;
            }
            return v;
        }
        if (rv > 0)
            c->ctr[AGENT_C_PEER_ROTATIONS]++;
        auth = 1;
    } else {
        f = info.pdm.fields;
    }

    st = pdm_flow_ext(c->flows, flow);
    if (st->have_psn[dir] && !psn_expected(st->last_psn[dir], f.psntp, c->cfg->psn_window)) {
        /* A jump (the peer restarted its flow state, or a forgery). Follow
         * it only once AGENT_RESYNC_PACKETS consecutive PSNTPs agree. */
        if (st->resync_n[dir] != 0 && f.psntp == (uint16_t)(st->resync_psn[dir] + 1u))
            st->resync_n[dir]++;
        else
            st->resync_n[dir] = 1;
        st->resync_psn[dir] = f.psntp;
        if (st->resync_n[dir] < AGENT_RESYNC_PACKETS) {
            c->ctr[AGENT_C_RX_UNEXPECTED_PSN]++;
            return v;
        }
        c->ctr[AGENT_C_RX_RESYNC]++;
    }
    st->have_psn[dir] = 1;
    st->last_psn[dir] = f.psntp;
    st->resync_n[dir] = 0;

    pdm_flow_on_recv(flow, dir, now_ns, f.psntp);
    c->ctr[AGENT_C_RX_LOGGED]++;
    if (rec != NULL) {
        record_fill(rec, now_ns, 1, &tup, info.pdm.format, &f);
        rec->kri = kri;
        rec->auth = auth;
    }
    return v;
}

/* ---- records --------------------------------------------------------------- */

/*
 * {"time_ns":N,"direction":"tx","src":"..","dst":"..","sport":N,"dport":N,
 *  "protocol":N,"format":"v2","psntp":N,"psnlr":N,"scale_dtlr":N,
 *  "delta_tlr":N,"scale_dtls":N,"delta_tls":N,"delta_tlr_ns":N,
 *  "delta_tls_ns":N,"global_pointer":N|null,"kri":N|null,"auth":"ok"|"failed"|null}
 * Fields that a failed authentication leaves unknown are null.
 */
int agent_record_json(const struct agent_record *r, char *buf, size_t cap)
{
    char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], gp[16], kri[8], num[8][24];
    const struct pdm_fields *f = &r->f;
    int known = r->auth != 0, n;

    inet_ntop(AF_INET6, r->tup.src, src, sizeof src);
    inet_ntop(AF_INET6, r->tup.dst, dst, sizeof dst);
    if (known && r->format != PDM_FORMAT_RFC8250)
        snprintf(gp, sizeof gp, "%" PRIu32, f->global_pointer);
    else
        strcpy(gp, "null");
    if (r->format == PDM_FORMAT_V2_ENCRYPTED)
        snprintf(kri, sizeof kri, "%u", (unsigned)r->kri);
    else
        strcpy(kri, "null");
    if (known) {
        snprintf(num[0], sizeof num[0], "%u", (unsigned)f->psntp);
        snprintf(num[1], sizeof num[1], "%u", (unsigned)f->psnlr);
        snprintf(num[2], sizeof num[2], "%u", (unsigned)f->scale_dtlr);
        snprintf(num[3], sizeof num[3], "%u", (unsigned)f->delta_tlr);
        snprintf(num[4], sizeof num[4], "%u", (unsigned)f->scale_dtls);
        snprintf(num[5], sizeof num[5], "%u", (unsigned)f->delta_tls);
        snprintf(num[6], sizeof num[6], "%" PRIu64, r->delta_tlr_ns);
        snprintf(num[7], sizeof num[7], "%" PRIu64, r->delta_tls_ns);
    } else {
        for (size_t i = 0; i < 8; i++)
            strcpy(num[i], "null");
    }
    n = snprintf(buf, cap,
                 "{\"time_ns\":%" PRIu64 ",\"direction\":\"%s\",\"src\":\"%s\",\"dst\":\"%s\","
                 "\"sport\":%u,\"dport\":%u,\"protocol\":%u,\"format\":\"%s\",\"psntp\":%s,"
                 "\"psnlr\":%s,\"scale_dtlr\":%s,\"delta_tlr\":%s,\"scale_dtls\":%s,"
                 "\"delta_tls\":%s,\"delta_tlr_ns\":%s,\"delta_tls_ns\":%s,"
                 "\"global_pointer\":%s,\"kri\":%s,\"auth\":%s}\n",
                 r->time_ns, r->rx ? "rx" : "tx", src, dst, (unsigned)r->tup.sport,
                 (unsigned)r->tup.dport, (unsigned)r->tup.proto, pdm_format_name(r->format), num[0],
                 num[1], num[2], num[3], num[4], num[5], num[6], num[7], gp, kri,
                 r->auth < 0 ? "null"
                 : r->auth   ? "\"ok\""
                             : "\"failed\"");
    if (n < 0 || (size_t)n >= cap)
        return -1;
    return n;
}
