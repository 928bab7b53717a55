/*
 * The tc-eBPF data path of `pdm agent --datapath ebpf` (docs/agent.md §9):
 * the same rules as the NFQUEUE core (tools/agent/core.c), in the kernel.
 *
 *   pdm_egress   TCX egress of each interface: for a packet to an enabled
 *                peer, the flow's PSNTP/PSNLR/DeltaTLR/DeltaTLS (lib/flow.c's
 *                rules), the Global Pointer (PDMv2), and a fresh Destination
 *                Options header right after the IPv6 header, byte for byte
 *                what pdm_pkt_insert_room() + pdm_option_encode() write.
 *   pdm_ingress  TCX ingress: the peer's option read (never removed), the
 *                flow updated, a record to user space through the ring
 *                buffer; a peer's TCP SYN gets its MSS lowered so that our
 *                own segments still fit the MTU with the option.
 *
 * What is not done here yet, and goes out unmarked, counted:
 *  - TCP super-packets (skb->gso_segs > 1) on a device without its
 *    segmenting veth pair (bpf/gso.h, pdm_gso_seg): gso_unmarked.
 *  - v2-encrypted (bpf/pdm_v2enc.h, at PDM_AEAD_HOOK below): a flow
 *    direction's packets before user space installed its key
 *    (tx_no_secret; the first packet of each, and those sent within the
 *    key request's round trip), and past Kri 65535 (tx_key_exhausted).
 *  - packets with extension headers before the upper layer (a merge into
 *    an existing Destination Options header): tx_unchanged_ext_headers.
 *
 * Every early exit is TCX_NEXT: the packet goes on exactly as it came.
 */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "pdm_bpf.h"
#include "gso.h"
#include "pdm_v2enc.h"

#define ETH_HLEN       14
#define ETH_P_IPV6     0x86DD
#define IP6_HLEN       40
#define NH_HBH         0
#define NH_TCP         6
#define NH_UDP         17
#define NH_DCCP        33
#define NH_ROUTING     43
#define NH_FRAGMENT    44
#define NH_ESP         50
#define NH_AH          51
#define NH_ICMPV6      58
#define NH_DSTOPTS     60
#define NH_SCTP        132
#define NH_UDPLITE     136
#define FMT_RFC8250    1
#define FMT_V2         2
#define FMT_V2_ENC     3
#define OPT_PAD1       0
#define OPT_PADN       1
#define IP6_TCP_HDRS   60
#define RESYNC_PACKETS 4 /* AGENT_RESYNC_PACKETS */

/* Set by the loader before the programs load (skeleton .rodata). */
const volatile __u8 cfg_opt_type = 0x0F;
const volatile __u16 cfg_psn_window = 4096;
const volatile __u8 cfg_clamp_mss = 1;
const volatile __u8 cfg_events = 0; /* records, IPFIX or metrics want them */

/* CLOCK_REALTIME - CLOCK_MONOTONIC in ns, written by the loader (ebpf.c,
 * every 50 ms, through the mmapped .bss): turns a receive stamp
 * (skb->tstamp, real time, taken when the packet was queued for the stack)
 * into bpf_ktime_get_ns()'s clock. 0 until known: stamps unused. */
volatile __s64 real_minus_mono = 0;

struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(max_entries, 64); /* AGENT_PEERS_MAX */
    __type(key, struct pdm_bpf_peer_key);
    __type(value, struct pdm_bpf_peer);
    __uint(map_flags, BPF_F_NO_PREALLOC);
} peers SEC(".maps");

/* Bounded by --flows (the loader sets max_entries); LRU: a full table
 * evicts the least recently used flow instead of refusing a new one. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, struct pdm_bpf_flow_key);
    __type(value, struct pdm_bpf_flow);
} flows SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, PDM_BPF_C_MAX);
    __type(key, __u32);
    __type(value, __u64);
} counters SEC(".maps");

/* The node's two Global Pointers (draft-04 §6.2), shared by every CPU. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u32);
} gp SEC(".maps");

/* The segmenting veth pairs (bpf/gso.h), filled by tools/agent/gso.c. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, PDM_GSO_IFS_MAX);
    __type(key, __u32);
    __type(value, struct pdm_gso_if);
} gso_ifs SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4 << 20);
} events SEC(".maps");

/* Records are submitted without a wakeup: the loader drains the ring on
 * its 50 ms timer (tools/agent/ebpf.c agent_ebpf_tick) and never sleeps on
 * it, so the wakeup the kernel would otherwise send on the first record
 * after each drain (an irq_work, a self-IPI: a VM exit in a guest) wakes
 * nobody. The ring holds 4 MiB / 80 bytes = 52,000 records: 50 ms of
 * 1,000,000 records a second; beyond that records drop, counted. */
#define EVENT_SUBMIT_FLAGS BPF_RB_NO_WAKEUP

static __always_inline void count(__u32 i)
{
    __u64 *v = bpf_map_lookup_elem(&counters, &i);

    if (v)
        *v += 1;
}

/* Number of significant bits of x (0 for 0), without clz: LLVM's BPF
 * back end expands ctlz into a DAG that exhausts memory. */
static __always_inline unsigned bitlen64(__u64 x)
{
    unsigned n = 0;

    if (x >> 32) {
        n += 32;
        x >>= 32;
    }
    if (x >> 16) {
        n += 16;
        x >>= 16;
    }
    if (x >> 8) {
        n += 8;
        x >>= 8;
    }
    if (x >> 4) {
        n += 4;
        x >>= 4;
    }
    if (x >> 2) {
        n += 2;
        x >>= 2;
    }
    if (x >> 1) {
        n += 1;
        x >>= 1;
    }
    return n + (unsigned)x;
}

/* pdm_time_encode_ns() without 128-bit integers: ns × 10^9 attoseconds
 * as two 64-bit halves, then 16 significant bits and the shift. */
static __always_inline void time_encode(__u64 ns, __u16 *delta, __u8 *scale)
{
    __u64 a = (ns >> 32) * 1000000000ull, b = (ns & 0xffffffffull) * 1000000000ull;
    __u64 lo = b + (a << 32), hi = (a >> 32) + (lo < b ? 1 : 0), v;
    unsigned n = hi ? 64 + bitlen64(hi) : bitlen64(lo);
    unsigned s = n > 16 ? n - 16 : 0;

    if (s >= 64)
        v = hi >> (s - 64);
    else if (s == 0)
        v = lo;
    else
        v = (lo >> s) | (hi << (64 - s));
    *scale = (__u8)s;
    *delta = (__u16)v;
}

static __always_inline __u64 sub_sat(__u64 a, __u64 b)
{
    return a > b ? a - b : 0;
}

static __always_inline __u16 get16(const __u8 *p)
{
    return (__u16)((p[0] << 8) | p[1]);
}

static __always_inline void put16(__u8 *p, __u16 v)
{
    p[0] = (__u8)(v >> 8);
    p[1] = (__u8)v;
}

/* MLD, neighbour discovery and the other link-local ICMPv6 messages
 * (core.c is_link_local_icmp()): never touched. */
static __always_inline int icmp_excluded(__u8 t)
{
    return (t >= 130 && t <= 137) || t == 141 || t == 142 || t == 143 || t == 148 || t == 149 ||
           (t >= 151 && t <= 153);
}

static __always_inline int has_ports(__u8 proto)
{
    return proto == NH_TCP || proto == NH_UDP || proto == NH_UDPLITE || proto == NH_SCTP ||
           proto == NH_DCCP;
}

static __always_inline int is_ext_header(__u8 nh)
{
    return nh == NH_HBH || nh == NH_ROUTING || nh == NH_FRAGMENT || nh == NH_AH ||
           nh == NH_DSTOPTS || nh == 135 || nh == 139 || nh == 140;
}

/*
 * Looks for an option of type cfg_opt_type in the options header at off
 * (hl bytes, NH and HdrExtLen included). Returns its offset in the packet,
 * 0 when there is none, -1 when the options do not parse.
 */
/* Global (noinline) functions are verified once, on their own: their
 * loops do not multiply the states of their callers'. */
__noinline long find_option(struct __sk_buff *skb, __u32 off, __u32 hl)
{
    __u32 i = 2;

    /* Eight options at most: the verifier walks every iteration, and a
     * header before the upper layer holds our option and its padding. */
#pragma clang loop unroll(disable)
    for (int k = 0; k < 8; k++) {
        __u8 tl[2];

        if (i >= hl || i > 2048)
            return 0;
        if (bpf_skb_load_bytes(skb, off + i, tl, 2) < 0)
            return tl[0] == OPT_PAD1 && i + 1 == hl ? 0 : -1;
        if (tl[0] == OPT_PAD1) {
            i++;
            continue;
        }
        if (tl[0] == cfg_opt_type)
            return i + 2 + tl[1] <= hl ? (long)(off + i) : -1;
        i += 2 + (__u32)tl[1];
    }
    return 0;
}

/* The Global Pointer for a packet from src: +1 per packet and kind of
 * source, 0xffffffff wraps to 1 (pdm_gp_next()), atomic across CPUs. */
static __always_inline __u32 gp_next(const __u8 *src)
{
    __u32 k =
        (src[0] == 0xfe && (src[1] & 0xc0) == 0x80) ? PDM_BPF_GP_LINK_LOCAL : PDM_BPF_GP_OTHER;
    __u32 *c = bpf_map_lookup_elem(&gp, &k);
    __u32 v;

    if (!c)
        return 1;
    v = __sync_fetch_and_add(c, 1) + 1;
    if (v == 0) /* wrapped past 0xffffffff: 0 is "none" */
        v = __sync_fetch_and_add(c, 1) + 1;
    return v;
}

/* A ring-buffer event with the flow's addresses and ports filled in, or
 * NULL (no records, IPFIX or metrics, or the ring full: counted). The
 * caller fills the option's fields and submits it. */
static __always_inline struct pdm_bpf_event *event_open(const struct pdm_bpf_flow_key *k, int rx,
                                                        __u8 fmt, __u64 now)
{
    struct pdm_bpf_event *e;

    if (!cfg_events)
        return NULL;
    if (!(e = bpf_ringbuf_reserve(&events, sizeof *e, 0))) {
        count(PDM_BPF_C_RING_DROPPED);
        return NULL;
    }
    e->time_ns = now;
    __builtin_memcpy(rx ? e->dst : e->src, k->local, 16);
    __builtin_memcpy(rx ? e->src : e->dst, k->remote, 16);
    e->sport = rx ? k->rport : k->lport;
    e->dport = rx ? k->lport : k->rport;
    e->proto = k->proto;
    e->rx = (__u8)rx;
    e->format = fmt;
    e->pad[0] = e->pad[1] = e->pad[2] = 0;
    e->since_sent_ns = 0;
    return e;
}

/* The event's since_sent_ns for a packet received in f at now whose PSNLR
 * is psnlr (mask: the bits the option carries): f's last send when the
 * PSNLR names it (psn_next is one past it), else 0. Read without a lock:
 * a send racing on another CPU makes this packet no sample, never a
 * wrong one (its PSN is then not psn_next - 1). */
static __always_inline __u64 since_sent(const struct pdm_bpf_flow *f, __u32 psnlr, __u32 mask,
                                        __u64 now)
{
    __u64 last = f->last_sent_ns;

    if (!(f->flags & PDM_BPF_F_SENT) || ((f->psn_next - 1) & mask) != psnlr || now <= last)
        return 0;
    return now - last;
}

/* f: the flow of a received packet (its round trip), NULL when sent. */
static __always_inline void record(const struct pdm_bpf_flow_key *k, const struct pdm_bpf_flow *f,
                                   __u8 fmt, __u64 now, const __u8 *opt)
{
    int rx = f != NULL;
    struct pdm_bpf_event *e = event_open(k, rx, fmt, now);

    if (!e)
        return;
    if (fmt == FMT_RFC8250) {
        e->scale_dtlr = opt[2];
        e->scale_dtls = opt[3];
        e->global_pointer = 0;
        opt += 4;
    } else {
        e->scale_dtlr = opt[6];
        e->scale_dtls = opt[7];
        e->global_pointer =
            ((__u32)opt[8] << 24) | ((__u32)opt[9] << 16) | ((__u32)opt[10] << 8) | opt[11];
        opt += 12;
    }
    e->psntp = get16(opt);
    e->psnlr = get16(opt + 2);
    e->delta_tlr = get16(opt + 4);
    e->delta_tls = get16(opt + 6);
    if (f)
        e->since_sent_ns = since_sent(f, e->psnlr, 0xffff, now);
    bpf_ringbuf_submit(e, EVENT_SUBMIT_FLAGS);
}

/* The flow of k, created with a random PSNTP start (RFC 8250 §3.1). */
static __always_inline struct pdm_bpf_flow *flow_get(const struct pdm_bpf_flow_key *k)
{
    struct pdm_bpf_flow *f = bpf_map_lookup_elem(&flows, k);
    struct pdm_bpf_flow init = {};

    if (f)
        return f;
    init.psn_next = bpf_get_prandom_u32(); /* all 32 bits: v2-14's PSNTP */
    bpf_map_update_elem(&flows, k, &init, BPF_NOEXIST);
    return bpf_map_lookup_elem(&flows, k);
}

/* The IPv6 header and the upper layer's first bytes of a packet (8-byte
 * aligned: pdm_egress fills ip6 and up with 8-byte stores). */
struct __attribute__((aligned(8))) view {
    __u8 ip6[IP6_HLEN];
    __u8 up[4]; /* right after ip6: one load can fill both */
    __u8 nh;
    __u8 up_loaded; /* up holds the 4 bytes after the IPv6 header */
    __u32 upper;    /* offset of the upper-layer header */
};
_Static_assert(__builtin_offsetof(struct view, up) == IP6_HLEN, "up follows ip6");

/* The flow key of a packet we send: our address and port first. */
static __always_inline void tx_flow_key(struct pdm_bpf_flow_key *k, const struct view *v)
{
    __builtin_memcpy(k->local, v->ip6 + 8, 16);
    __builtin_memcpy(k->remote, v->ip6 + 24, 16);
    if (has_ports(v->nh)) {
        k->lport = get16(v->up);
        k->rport = get16(v->up + 2);
    }
    k->proto = v->nh;
}

/*
 * lib/flow.c's send rule for every layout: once the flow has received,
 * DeltaTLR (now - last receive) and, when we had sent before that
 * receive, DeltaTLS go into the option, scales at sc[0], sc[1] and deltas
 * at dl[0..1], dl[2..3]; the flow is marked sent. Returns whether the flow
 * has received (the caller then writes its PSNLR).
 */
static __always_inline int tx_deltas(struct pdm_bpf_flow *f, __u64 now, __u8 *sc, __u8 *dl)
{
    int received = !!(f->flags & PDM_BPF_F_RECEIVED);
    __u16 d;
    __u8 s;

    if (received) {
        time_encode(sub_sat(now, f->last_recv_ns), &d, &s);
        sc[0] = s;
        put16(dl, d);
        if (f->flags & PDM_BPF_F_SENT_BEFORE_RECV) {
            time_encode(sub_sat(f->last_recv_ns, f->sent_before_recv_ns), &d, &s);
            sc[1] = s;
            put16(dl + 2, d);
        }
    }
    f->last_sent_ns = now;
    f->flags |= PDM_BPF_F_SENT;
    return received;
}

#include "pdm_v214.h" /* v2-14: pdm_v214_stamp(), pdm_v214_ingress() */

/*
 * Stamps one wire packet: the IPv6 header at l3 (the Ethernet header in
 * front), destined to an enabled peer (mode). The single place where an
 * option is written, and the call site for:
 *  - GSO (bpf/gso.h): pdm_gso_seg, on the ingress of the agent's
 *    segmenting veth, calls it for each software segment with the real
 *    device's ifindex for the MTU check, then redirects it there;
 *  - v2-encrypted (bpf/pdm_v2enc.h): PDM_AEAD_HOOK reserves (Kri, RN)
 *    first, then seals the clear v2 header into the 40-byte one.
 * Returns 0 when the packet carries the option, else the counter index of
 * why it does not (the packet then is unchanged).
 */
static __always_inline int pdm_egress_stamp(struct __sk_buff *skb, __u32 l3, __u8 mode,
                                            struct view *v, __u32 mtu_ifindex)
{
    struct pdm_bpf_flow_key k = {};
    struct pdm_bpf_flow *f;
    /* The new Destination Options header (40 bytes when sealed) and the
     * IPv6 header's payload length and next header (fix): small, because
     * the stack of pdm_egress and the GHASH loop together is near 512. */
    __u8 hdr[40] = {}, fix[3];
    __u8 *opt = hdr + 2;
    __u32 growth = mode == FMT_RFC8250 ? 16 : mode == FMT_V2 ? 24 : 40;
    __u32 optlen = mode == FMT_RFC8250 ? 12 : 20; /* encrypted: sealed from the v2 layout */
    __u16 plen = get16(v->ip6 + 4), psntp;
    struct pdm_v2enc_slot *es = NULL;
    const __u8 *rec = opt;
    __u32 mtu_len = 0, rn = 0;
    __u64 now;

    if (mode == FMT_V2_14)
        return pdm_v214_stamp(skb, l3, v, mtu_ifindex); /* bpf/pdm_v214.h */
    tx_flow_key(&k, v);
    /* PDM_AEAD_HOOK (bpf/pdm_v2enc.h): the (Kri, RN) first, so that a
     * flow without its key yet leaves the packet untouched. */
    if (mode == FMT_V2_ENC && !(es = pdm_v2enc_draw(&k, bpf_ktime_get_ns(), &rn)))
        return (int)rn;
    if ((__u32)plen + growth > 0xffff)
        return PDM_BPF_C_TX_NO_ROOM;
    /* Every IPv6 link has an MTU of 1280 or more (the kernel does not run
     * IPv6 on a device with less): a packet that still fits 1280 with the
     * option needs no MTU look-up, the common small packet saves a helper. */
    if (skb->len - l3 + growth > 1280 &&
        bpf_check_mtu(skb, mtu_ifindex, &mtu_len, (__s32)growth, 0) != 0)
        return PDM_BPF_C_TX_MTU;
    if (bpf_skb_adjust_room(skb, (__s32)growth, BPF_ADJ_ROOM_NET, 0) < 0)
        return PDM_BPF_C_TX_NO_ROOM;
    /* From here the packet has its gap and must get the header. */
    f = flow_get(&k);
    /* The send time, read as late as the option allows: whatever runs
     * between it and the wire (the head's growth and the flow look-up
     * before it, cold after a pause) would count against the server
     * delay this option tells the peer. */
    now = bpf_ktime_get_ns();

    hdr[0] = v->nh;
    hdr[1] = (__u8)(growth / 8 - 1);
    opt[0] = cfg_opt_type;
    opt[1] = (__u8)(optlen - 2);
    __u8 *m = opt + 2; /* RFC 8250: the scales; PDMv2: version, RN/F, then them */
    if (mode != FMT_RFC8250) {
        m[0] = 0x20; /* version 2, reserved 0; RN/F 0 unencrypted (PROFILE §1) */
        __u32 g = gp_next(v->ip6 + 8);
        m[6] = (__u8)(g >> 24);
        m[7] = (__u8)(g >> 16);
        m[8] = (__u8)(g >> 8);
        m[9] = (__u8)g;
        m += 4; /* the scales */
    }
    __u8 *ps = m + 2 + (mode != FMT_RFC8250 ? 4 : 0);
    if (f) {
        psntp = (__u16)__sync_fetch_and_add(&f->psn_next, 1);
        put16(ps, psntp);
        if (tx_deltas(f, now, m, ps + 4))
            put16(ps + 2, f->psn_last_recv);
    } else {
        put16(ps, (__u16)bpf_get_prandom_u32()); /* no table entry: a PSNTP all the same */
    }
    /* PadN of the remaining 2 bytes (dstopt_frame()). */
    hdr[2 + optlen] = OPT_PADN;
    hdr[3 + optlen] = 0;
    if (es) { /* PDM_AEAD_HOOK: the clear v2 header sealed into the 40-byte one */
        int why = pdm_v2enc_seal_hdr(es, rn, hdr);
        if (why != 0 || !(rec = pdm_v2enc_clear())) {
            bpf_skb_adjust_room(skb, -(__s32)growth, BPF_ADJ_ROOM_NET, 0);
            return why ? why : PDM_BPF_C_TX_NO_ROOM;
        }
    }

    put16(fix, (__u16)(plen + growth));
    fix[2] = NH_DSTOPTS;
    /* Written in place: after bpf_skb_adjust_room() the IPv6 header and
     * the gap are in the skb's private linear head (skb_cow_head()), and
     * stores there cost far less than the helper. The helper remains for
     * a head too short for the check (never seen; kept for safety). */
    __u8 *p = (__u8 *)(long)skb->data + l3, *end = (__u8 *)(long)skb->data_end;
    if (l3 <= ETH_HLEN && mode == FMT_RFC8250 && p + IP6_HLEN + 16 <= end) {
        __builtin_memcpy(p + 4, fix, 3);
        __builtin_memcpy(p + IP6_HLEN, hdr, 16);
    } else if (l3 <= ETH_HLEN && mode == FMT_V2 && p + IP6_HLEN + 24 <= end) {
        __builtin_memcpy(p + 4, fix, 3);
        __builtin_memcpy(p + IP6_HLEN, hdr, 24);
    } else if (l3 <= ETH_HLEN && mode == FMT_V2_ENC && p + IP6_HLEN + 40 <= end) {
        __builtin_memcpy(p + 4, fix, 3);
        __builtin_memcpy(p + IP6_HLEN, hdr, 40);
    } else if (bpf_skb_store_bytes(skb, l3 + 4, fix, 3, 0) < 0 ||
               bpf_skb_store_bytes(skb, l3 + IP6_HLEN, hdr, growth, 0) < 0) {
        bpf_skb_adjust_room(skb, -(__s32)growth, BPF_ADJ_ROOM_NET, 0);
        return PDM_BPF_C_TX_NO_ROOM;
    }
    record(&k, NULL, mode, now, rec);
    return 0;
}

/* Reads the headers the checks need; returns 0 or a counter index. */
static __always_inline int view_load(struct __sk_buff *skb, __u32 l3, struct view *v, int rx,
                                     long *optoff)
{
    __u8 eh[2];

    v->nh = v->ip6[6];
    v->upper = l3 + IP6_HLEN;
    *optoff = 0;
    if ((__u32)get16(v->ip6 + 4) + l3 + IP6_HLEN > skb->len)
        return rx ? PDM_BPF_C_RX_MALFORMED : PDM_BPF_C_TX_MALFORMED;
    if (v->nh == NH_DSTOPTS) {
        /* One Destination Options header right after IPv6: the only one
         * where an option of ours (or of the NFQUEUE path) can be, when
         * no other extension header is present. */
        if (bpf_skb_load_bytes(skb, v->upper, eh, 2) < 0)
            return rx ? PDM_BPF_C_RX_MALFORMED : PDM_BPF_C_TX_MALFORMED;
        __u32 hl = ((__u32)eh[1] + 1) * 8;
        if (!rx) /* a merge is not done here (an option of ours is there too) */
            return PDM_BPF_C_TX_EXT_HEADERS;
        *optoff = find_option(skb, v->upper, hl);
        if (*optoff < 0)
            return PDM_BPF_C_RX_MALFORMED;
        v->nh = eh[0];
        v->upper += hl;
    }
    if (v->nh == NH_ESP)
        return rx ? PDM_BPF_C_RX_NO_OPTION : PDM_BPF_C_TX_ESP;
    if (v->nh == NH_FRAGMENT && !rx)
        return PDM_BPF_C_TX_FRAGMENT;
    if (is_ext_header(v->nh))
        return rx ? PDM_BPF_C_RX_NO_OPTION : PDM_BPF_C_TX_EXT_HEADERS;
    if (v->up_loaded && v->upper == l3 + IP6_HLEN)
        ; /* the egress program's first load brought them */
    else if (__builtin_memset(v->up, 0, sizeof v->up), has_ports(v->nh) || v->nh == NH_ICMPV6)
        if (bpf_skb_load_bytes(skb, v->upper, v->up, v->nh == NH_ICMPV6 ? 1 : 4) < 0)
            return rx ? PDM_BPF_C_RX_MALFORMED : PDM_BPF_C_TX_MALFORMED;
    if (v->nh == NH_ICMPV6 && icmp_excluded(v->up[0]))
        return rx ? PDM_BPF_C_RX_EXCLUDED : PDM_BPF_C_TX_EXCLUDED;
    return 0;
}

/* The last address looked up in peers on this CPU and what the trie said
 * (mode 0: not enabled). A flood, a TCP window or a request and its answer
 * (egress to B, then ingress from B: the same address) ask for the same
 * address again and again; a per-CPU array look-up (inlined) and two
 * compares replace the trie walk (~25 ns under the UDP flood). The peers
 * map is written once, by the loader before it attaches the links
 * (tools/agent/ebpf.c fill_peers), so an entry never goes stale; a loader
 * that changed peers later would have to clear this map too. */
struct peer_memo {
    __u8 addr[16];
    struct pdm_bpf_peer peer;
    __u32 known;
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct peer_memo);
} peer_memo SEC(".maps");

/* The peer of addr (8-byte aligned: struct view's ip6 + 8 or + 24), or NULL
 * when it is not enabled. */
static __always_inline const struct pdm_bpf_peer *peer_of(const __u8 *addr)
{
    struct pdm_bpf_peer_key pk = {.prefixlen = 128};
    const struct pdm_bpf_peer *p;
    __u64 a0 = ((const __u64 *)addr)[0], a1 = ((const __u64 *)addr)[1];
    __u32 z = 0;
    struct peer_memo *m = bpf_map_lookup_elem(&peer_memo, &z);

    if (m && m->known && ((__u64 *)m->addr)[0] == a0 && ((__u64 *)m->addr)[1] == a1)
        return m->peer.mode ? &m->peer : NULL;
    __builtin_memcpy(pk.addr, addr, 16);
    p = bpf_map_lookup_elem(&peers, &pk);
    if (m) {
        ((__u64 *)m->addr)[0] = a0;
        ((__u64 *)m->addr)[1] = a1;
        m->peer.mode = p ? p->mode : 0;
        m->known = 1;
    }
    return p;
}

SEC("tc")
int pdm_egress(struct __sk_buff *skb)
{
    const struct pdm_bpf_peer *peer;
    const struct pdm_gso_if *gi;
    struct view v;
    long optoff;
    int why;

    if (skb->protocol != bpf_htons(ETH_P_IPV6))
        return TCX_NEXT;
    /* The IPv6 header and the upper layer's first 4 bytes (the ports of
     * the flow key) read straight from the linear head, where a socket's
     * packet has them (six loads instead of a helper call); else in one
     * helper call, a shorter packet in two. */
    const __u8 *d = (const __u8 *)(long)skb->data, *de = (const __u8 *)(long)skb->data_end;
    if (d + ETH_HLEN + IP6_HLEN + 4 <= de) {
        const __u64 *w = (const __u64 *)(d + ETH_HLEN); /* unaligned: fine for packet loads */
        __u64 t;
#pragma clang loop unroll(full)
        for (int i = 0; i < IP6_HLEN / 8; i++) {
            t = w[i];
            __builtin_memcpy(v.ip6 + 8 * i, &t, 8);
        }
        __u32 u = *(const __u32 *)(d + ETH_HLEN + IP6_HLEN);
        __builtin_memcpy(v.up, &u, 4);
        v.up_loaded = 1;
    } else {
        v.up_loaded = bpf_skb_load_bytes(skb, ETH_HLEN, &v, IP6_HLEN + 4) == 0;
        if (!v.up_loaded && bpf_skb_load_bytes(skb, ETH_HLEN, v.ip6, IP6_HLEN) < 0)
            return TCX_NEXT;
    }
    if ((v.ip6[0] >> 4) != 6)
        return TCX_NEXT;
    if (!(peer = peer_of(v.ip6 + 24)))
        return TCX_NEXT;              /* not enabled: never looked at further */
    __u32 iif = skb->ingress_ifindex; /* 0 for a packet sent by this host */
    if (iif && (gi = bpf_map_lookup_elem(&gso_ifs, &iif)) && gi->role == PDM_GSO_RETURN)
        return TCX_NEXT; /* a segment pdm_gso_seg stamped and sent back */
    if (pdm_gso_is_super(skb) || v.ip6[6] == NH_TCP) {
        /* A TCP super-packet is segmented in software by the device's
         * pair, each segment stamped by pdm_gso_seg; without a pair (or
         * not TCP: the pair keeps UDP segmentation offload on) it goes
         * out unmarked. The flow's single segments take the pair too:
         * behind the segments queued there, PSNs go out in wire order. */
        __u32 ifx = skb->ifindex;

        gi = bpf_map_lookup_elem(&gso_ifs, &ifx);
        if (gi && gi->role == PDM_GSO_DIVERT && v.ip6[6] == NH_TCP) {
            if (pdm_gso_is_super(skb))
                count(PDM_BPF_C_GSO_DIVERTED);
            return (int)bpf_redirect(gi->ifindex, 0);
        }
        if (pdm_gso_is_super(skb)) {
            count(PDM_BPF_C_TX_SEEN);
            why = PDM_BPF_C_GSO_UNMARKED;
            goto unchanged;
        }
    }
    count(PDM_BPF_C_TX_SEEN);
    if ((why = view_load(skb, ETH_HLEN, &v, 0, &optoff)) != 0)
        goto unchanged;
    if ((why = pdm_egress_stamp(skb, ETH_HLEN, peer->mode, &v, 0)) != 0)
        goto unchanged;
    count(PDM_BPF_C_TX_MARKED);
    return TCX_NEXT;
unchanged:
    count((__u32)why);
    return TCX_NEXT;
}

/*
 * tc ingress of a segmenting pair's pdmrN (bpf/gso.h): a software segment
 * of a super-packet pdm_egress diverted, with the real device's Ethernet
 * header in front. Stamped like any packet (the MTU that of the real
 * device), then sent to the real device's egress. Anything else arriving
 * here (the pair's own neighbour discovery) is dropped: it must not leak.
 */
SEC("tc")
int pdm_gso_seg(struct __sk_buff *skb)
{
    const struct pdm_bpf_peer *peer;
    const struct pdm_gso_if *gi;
    __u32 self = skb->ifindex;
    struct view v;
    long optoff;
    int why;

    if (!(gi = bpf_map_lookup_elem(&gso_ifs, &self)) || gi->role != PDM_GSO_RETURN)
        return TCX_DROP;
    v.up_loaded = 0;
    if (skb->protocol != bpf_htons(ETH_P_IPV6) ||
        bpf_skb_load_bytes(skb, ETH_HLEN, v.ip6, IP6_HLEN) < 0 || (v.ip6[0] >> 4) != 6 ||
        !(peer = peer_of(v.ip6 + 24)))
        return TCX_DROP;
    count(PDM_BPF_C_TX_SEEN);
    if ((why = view_load(skb, ETH_HLEN, &v, 0, &optoff)) == 0 &&
        (why = pdm_egress_stamp(skb, ETH_HLEN, peer->mode, &v, gi->ifindex)) == 0)
        count(PDM_BPF_C_TX_MARKED);
    else
        count((__u32)why);
    return (int)bpf_redirect(gi->ifindex, 0);
}

/* draft-04 §7.1 (core.c rx_psn_accept()): whether the peer's PSNTP is
 * expected; a jump is followed after RESYNC_PACKETS consecutive ones. */
static __always_inline int psn_accept(struct pdm_bpf_flow *f, __u16 psn)
{
    if (f->flags & PDM_BPF_F_HAVE_PSN) {
        __u16 ahead = (__u16)(psn - f->rx_last_psn), w = cfg_psn_window;
        int expected = ahead != 0 && (ahead <= w || ahead >= (__u16)(0u - w));

        if (!expected) {
            if (f->rx_resync_n != 0 && psn == (__u16)(f->rx_resync_psn + 1u))
                f->rx_resync_n++;
            else
                f->rx_resync_n = 1;
            f->rx_resync_psn = psn;
            if (f->rx_resync_n < RESYNC_PACKETS) {
                count(PDM_BPF_C_RX_UNEXPECTED_PSN);
                return 0;
            }
            count(PDM_BPF_C_RX_RESYNC);
        }
    }
    f->flags |= PDM_BPF_F_HAVE_PSN;
    f->rx_last_psn = psn;
    f->rx_resync_n = 0;
    return 1;
}

/* pdm_flow_on_recv(): our PSNLR, last-receive time and the send before. */
static __always_inline void on_recv(struct pdm_bpf_flow *f, __u64 now, __u16 psntp)
{
    f->psn_last_recv = psntp;
    f->psn_last_recv_hi = 0; /* v2-14: set after this when the option was one */
    f->last_recv_ns = now;
    if (f->flags & PDM_BPF_F_SENT) {
        f->sent_before_recv_ns = f->last_sent_ns;
        f->flags |= PDM_BPF_F_SENT_BEFORE_RECV;
    }
    f->flags |= PDM_BPF_F_RECEIVED;
}

/* core.c rx_clamp(): a peer's SYN offers MSS <= MTU - 60 - growth. The
 * TCP header is at upper. Returns 1 when the MSS was lowered. */
__noinline int mss_clamp(struct __sk_buff *skb, __u32 upper, __u32 growth)
{
    __u32 mtu = 0;
    __u8 th[20];

    if (upper > 4096 || bpf_skb_load_bytes(skb, upper, th, 20) < 0 || !(th[13] & 0x02))
        return 0;
    bpf_check_mtu(skb, 0, &mtu, 0, 0);
    if (mtu <= IP6_TCP_HDRS + growth + 64)
        return 0;
    __u16 target = (__u16)(mtu - IP6_TCP_HDRS - growth);
    __u32 optend = ((__u32)(th[12] >> 4)) * 4, i = 20;
#pragma clang loop unroll(disable)
    for (int n = 0; n < 12 && i + 1 < optend; n++) {
        __u8 o[4];

        if (i > 60 || bpf_skb_load_bytes(skb, upper + i, o, 1) < 0 || o[0] == 0)
            return 0;
        if (o[0] == 1) {
            i++;
            continue;
        }
        if (bpf_skb_load_bytes(skb, upper + i, o, 2) < 0 || o[1] < 2)
            return 0;
        if (o[0] == 2 && o[1] == 4 && i + 4 <= optend) {
            if (bpf_skb_load_bytes(skb, upper + i, o, 4) < 0)
                return 0;
            __u16 mss = get16(o + 2);
            if (mss <= target)
                return 0;
            __be16 from = bpf_htons(mss), to = bpf_htons(target);
            if (bpf_l4_csum_replace(skb, upper + 16, from, to, 2) < 0 ||
                bpf_skb_store_bytes(skb, upper + i + 2, &to, 2, 0) < 0)
                return 0;
            return 1;
        }
        i += o[1];
    }
    return 0;
}

/* When the packet arrived, on bpf_ktime_get_ns()'s clock: its receive stamp
 * when it has a plausible one (the time the capture shows too, before any
 * softirq delay: the agent's SO_TIMESTAMPNS socket keeps the kernel
 * stamping), else now. As the NFQUEUE path uses NFQA_TIMESTAMP. */
static __always_inline __u64 rx_time(struct __sk_buff *skb)
{
    __u64 now = bpf_ktime_get_ns(), ts = skb->tstamp, m;
    __s64 off = real_minus_mono;

    if (ts == 0 || off == 0)
        return now;
    m = ts - (__u64)off;
    return m <= now && now - m < 1000000000ull ? m : now;
}

SEC("tc")
int pdm_ingress(struct __sk_buff *skb)
{
    const struct pdm_bpf_peer *peer;
    struct pdm_bpf_flow_key k = {};
    struct pdm_bpf_flow *f;
    struct view v;
    __u8 opt[20], fmt;
    long optoff;
    int why;
    __u64 now;

    v.up_loaded = 0;
    if (skb->protocol != bpf_htons(ETH_P_IPV6) ||
        bpf_skb_load_bytes(skb, ETH_HLEN, v.ip6, IP6_HLEN) < 0 || (v.ip6[0] >> 4) != 6)
        return TCX_NEXT;
    if (!(peer = peer_of(v.ip6 + 8)))
        return TCX_NEXT;
    count(PDM_BPF_C_RX_SEEN);
    if ((why = view_load(skb, ETH_HLEN, &v, 1, &optoff)) != 0) {
        count((__u32)why);
        return TCX_NEXT;
    }
    if (cfg_clamp_mss && v.nh == NH_TCP &&
        mss_clamp(skb, v.upper,
                  peer->mode == FMT_RFC8250 ? 16
                  : peer->mode == FMT_V2    ? 24
                  : peer->mode == FMT_V2_14 ? V214_GROWTH
                                            : 40))
        count(PDM_BPF_C_RX_MSS_CLAMPED);

    __builtin_memcpy(k.local, v.ip6 + 24, 16);
    __builtin_memcpy(k.remote, v.ip6 + 8, 16);
    if (has_ports(v.nh)) {
        k.rport = get16(v.up);
        k.lport = get16(v.up + 2);
    }
    k.proto = v.nh;
    now = rx_time(skb);
    if (optoff > 0 && bpf_skb_load_bytes(skb, (__u32)optoff, opt, 2) < 0)
        return TCX_NEXT;
    /* A sealed option makes no flow before it opens (core.c
     * rx_new_sealed()): a flood of forged options from the peer's prefix,
     * each with a new 5-tuple, would otherwise fill the table and push
     * real flows out of it. Anything else makes its flow at once. */
    int sealed = optoff > 0 && opt[1] == 34 && peer->mode == FMT_V2_ENC;
    if (sealed)
        f = bpf_map_lookup_elem(&flows, &k);
    else if (!(f = flow_get(&k)))
        return TCX_NEXT;
    if (optoff <= 0) {
        count(PDM_BPF_C_RX_NO_OPTION);
        if (f)
            on_recv(f, now, 0);
        return TCX_NEXT;
    }
    if (sealed) {
        /* PDM_AEAD_HOOK: opened into the v2 layout, or not used at all. */
        if ((why = pdm_v2enc_rx(skb, (__u32)optoff, &k, now, opt)) != 0) {
            count((__u32)why);
            return TCX_NEXT;
        }
        if (!f && !(f = flow_get(&k)))
            return TCX_NEXT;
        fmt = FMT_V2_ENC;
    } else if (!f) {
        return TCX_NEXT; /* never: flow_get() made it */
    } else if (opt[1] == V214_OPT_LEN) {
        return pdm_v214_ingress(skb, f, &k, now, (__u32)optoff);
    } else if (opt[1] == 10 && bpf_skb_load_bytes(skb, (__u32)optoff, opt, 12) == 0) {
        fmt = FMT_RFC8250;
    } else if (opt[1] == 18 && bpf_skb_load_bytes(skb, (__u32)optoff, opt, 20) == 0 &&
               (opt[2] >> 4) == 2) {
        fmt = FMT_V2;
    } else {
        /* v2-encrypted from a peer we do not send encrypted to, or malformed. */
        count(opt[1] == 34 ? PDM_BPF_C_RX_NO_SECRET : PDM_BPF_C_RX_MALFORMED);
        return TCX_NEXT;
    }
    __u16 psntp = get16(opt + (fmt == FMT_RFC8250 ? 4 : 12));
    if (!psn_accept(f, psntp))
        return TCX_NEXT;
    on_recv(f, now, psntp);
    count(PDM_BPF_C_RX_LOGGED);
    record(&k, f, fmt, now, opt);
    return TCX_NEXT;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
