/*
 * Draft -14's layout (format v2-14, PROFILE §1; tools/agent/v214.c is the
 * NFQUEUE path's) in the tc-eBPF data path: the 24-byte option, Length 22,
 * Version 2 and Epoch 0 (nothing is encrypted: the draft leaves that to the
 * registration system), 32-bit PSNTP and PSNLR, the Global Pointer as
 * PDMv2's, the scales, Reserved 0, the deltas.
 *
 * Egress writes a fresh 32-byte Destination Options header, byte for byte
 * what the NFQUEUE path writes (pdm_pkt_insert_room() + pdm_v214_encode()):
 *   NH, HdrExtLen 3, the option (24 bytes), PadN with 4 zero bytes.
 * The flow's psn_next is the full 32-bit PSNTP (flow_get() draws all 32
 * bits at random); psn_last_recv_hi keeps the high half of the peer's last
 * PSNTP (0 when the last packet carried no -14 option, as v214.c does), so
 * PSNLR goes out in full. Ingress reads a Length 22 option whatever the
 * peer's mode (as the NFQUEUE path does), checks the PSN's low 16 bits as
 * the other layouts' (draft-04 §7.1 window), and records the full PSNs.
 *
 * Included by pdm.bpf.c after struct view, before pdm_egress_stamp().
 */
#ifndef PDM_BPF_V214_H
#define PDM_BPF_V214_H

#define FMT_V2_14     4  /* PDM_FORMAT_V2_14 */
#define V214_OPT_LEN  22 /* Option Data Length */
#define V214_OPT_SIZE 24
#define V214_GROWTH   32 /* the Destination Options header added */

/* Defined in pdm.bpf.c after this header's place. */
static __always_inline int psn_accept(struct pdm_bpf_flow *f, __u16 psn);
static __always_inline void on_recv(struct pdm_bpf_flow *f, __u64 now, __u16 psntp);

static __always_inline __u32 v214_get32(const __u8 *p)
{
    return ((__u32)p[0] << 24) | ((__u32)p[1] << 16) | ((__u32)p[2] << 8) | p[3];
}

static __always_inline void v214_put32(__u8 *p, __u32 v)
{
    p[0] = (__u8)(v >> 24);
    p[1] = (__u8)(v >> 16);
    p[2] = (__u8)(v >> 8);
    p[3] = (__u8)v;
}

/* record() for a -14 option (opt: its 24 bytes). */
static __always_inline void v214_record(const struct pdm_bpf_flow_key *k,
                                        const struct pdm_bpf_flow *f, __u64 now, const __u8 *opt)
{
    struct pdm_bpf_event *e = event_open(k, f != NULL, FMT_V2_14, now);

    if (!e)
        return;
    e->psntp32 = v214_get32(opt + 4);
    e->psnlr32 = v214_get32(opt + 8);
    e->psntp = (__u16)e->psntp32;
    e->psnlr = (__u16)e->psnlr32;
    e->global_pointer = v214_get32(opt + 12);
    e->scale_dtlr = opt[16];
    e->scale_dtls = opt[17];
    e->delta_tlr = get16(opt + 20);
    e->delta_tls = get16(opt + 22);
    if (f)
        e->since_sent_ns = since_sent(f, e->psnlr32, 0xffffffff, now);
    bpf_ringbuf_submit(e, EVENT_SUBMIT_FLAGS);
}

/* pdm_egress_stamp() for a v2-14 peer: same contract (0 when stamped, else
 * the counter index of why not, the packet then unchanged), mtu_ifindex
 * the device whose MTU counts (0: the skb's; a GSO segment: the real one). */
static __noinline int pdm_v214_stamp(struct __sk_buff *skb, __u32 l3, const struct view *v,
                                     __u32 mtu_ifindex)
{
    struct pdm_bpf_flow_key k = {};
    struct pdm_bpf_flow *f;
    __u8 hdr[V214_GROWTH] = {};
    __u8 *opt = hdr + 2;
    __u16 plen = get16(v->ip6 + 4);
    __u32 mtu_len = 0, psntp, psnlr = 0;
    __u8 fix[3];
    __u64 now;

    if ((__u32)plen + V214_GROWTH > 0xffff)
        return PDM_BPF_C_TX_NO_ROOM;
    if (bpf_check_mtu(skb, mtu_ifindex, &mtu_len, V214_GROWTH, 0) != 0)
        return PDM_BPF_C_TX_MTU;
    if (bpf_skb_adjust_room(skb, V214_GROWTH, BPF_ADJ_ROOM_NET, 0) < 0)
        return PDM_BPF_C_TX_NO_ROOM;
    /* From here the packet has its gap and must get the header. */

    tx_flow_key(&k, v);
    now = bpf_ktime_get_ns();
    f = flow_get(&k);

    hdr[0] = v->nh;
    hdr[1] = V214_GROWTH / 8 - 1;
    opt[0] = cfg_opt_type;
    opt[1] = V214_OPT_LEN;
    opt[2] = 0x20; /* Version 2, Epoch 0 (opt[3]) */
    if (f) {
        psntp = __sync_fetch_and_add(&f->psn_next, 1);
        if (tx_deltas(f, now, opt + 16, opt + 20))
            psnlr = ((__u32)f->psn_last_recv_hi << 16) | f->psn_last_recv;
    } else {
        psntp = bpf_get_prandom_u32(); /* no table entry: a PSNTP all the same */
    }
    v214_put32(opt + 4, psntp);
    v214_put32(opt + 8, psnlr);
    v214_put32(opt + 12, gp_next(v->ip6 + 8));
    /* opt[18..19] Reserved: 0. Then PadN of 6 bytes (dstopt_frame()). */
    hdr[2 + V214_OPT_SIZE] = OPT_PADN;
    hdr[3 + V214_OPT_SIZE] = V214_GROWTH - V214_OPT_SIZE - 4;

    put16(fix, (__u16)(plen + V214_GROWTH));
    fix[2] = NH_DSTOPTS;
    if (bpf_skb_store_bytes(skb, l3 + 4, fix, 3, 0) < 0 ||
        bpf_skb_store_bytes(skb, l3 + IP6_HLEN, hdr, V214_GROWTH, 0) < 0) {
        bpf_skb_adjust_room(skb, -(__s32)V214_GROWTH, BPF_ADJ_ROOM_NET, 0);
        return PDM_BPF_C_TX_NO_ROOM;
    }
    v214_record(&k, NULL, now, opt);
    return 0;
}

/* pdm_ingress() for an option of Length 22 at optoff, in the flow f of k
 * (a received packet of an enabled peer). Always TCX_NEXT: the option is
 * read, never removed. */
static __always_inline int pdm_v214_ingress(struct __sk_buff *skb, struct pdm_bpf_flow *f,
                                            const struct pdm_bpf_flow_key *k, __u64 now,
                                            __u32 optoff)
{
    __u8 opt[V214_OPT_SIZE];
    __u32 psntp;

    if (bpf_skb_load_bytes(skb, optoff, opt, V214_OPT_SIZE) < 0 || (opt[2] >> 4) != 2) {
        count(PDM_BPF_C_RX_MALFORMED);
        return TCX_NEXT;
    }
    psntp = v214_get32(opt + 4);
    /* The window check on the low 16 bits, as core.c does for -14. */
    if (!psn_accept(f, (__u16)psntp))
        return TCX_NEXT;
    on_recv(f, now, (__u16)psntp); /* clears psn_last_recv_hi */
    f->psn_last_recv_hi = (__u16)(psntp >> 16);
    count(PDM_BPF_C_RX_LOGGED);
    v214_record(k, f, now, opt);
    return TCX_NEXT;
}

#endif
