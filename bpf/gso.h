/*
 * One PSN per wire packet for TCP super-packets (issue 10 item 3, design A
 * of docs/fastpath-design.md "GSO"): the real device's egress program
 * diverts a super-packet of an enabled flow to pdm0 (a veth with GSO/TSO
 * off, created by tools/agent/gso.c), pdm0's transmit path segments it in
 * software, and pdm1's ingress program stamps each segment and sends it back
 * to the real device's egress, where the mark makes it pass untouched.
 *
 * Include after vmlinux.h (or linux/bpf.h) and bpf/bpf_helpers.h. Not yet
 * measured on this machine: see docs/agent.md "GSO" for what is checked.
 */
#ifndef PDM_BPF_GSO_H
#define PDM_BPF_GSO_H

/* skb->mark bit of a segment already stamped at pdm1: the real device's
 * egress must let it pass (never divert or stamp it again). A bit the
 * agent's firewall rules do not use; the mark survives bpf_redirect within
 * one namespace (the skb is not scrubbed). */
#ifndef PDM_GSO_MARK
#define PDM_GSO_MARK 0x50444d00u /* "PDM\0" */
#endif

/* Set by the loader (tools/agent/gso.c): pdm0's ifindex (0: no veth pair,
 * super-packets go out unmarked and are counted) and the real device's. */
struct pdm_gso_cfg {
    __u32 seg_ifindex; /* pdm0: divert target */
    __u32 out_ifindex; /* the real device: where stamped segments go */
};

/* Real device egress: a stamped segment coming back from pdm1. */
static __always_inline int pdm_gso_is_returning(const struct __sk_buff *skb)
{
    return (skb->mark & PDM_GSO_MARK) == PDM_GSO_MARK;
}

/* Real device egress: a super-packet the kernel would segment later
 * (gso_segs > 1). A packet of one MSS has gso_segs <= 1 and is stamped in
 * place. */
static __always_inline int pdm_gso_is_super(const struct __sk_buff *skb)
{
    return skb->gso_segs > 1;
}

/* Real device egress: send a super-packet to pdm0 for software
 * segmentation. Returns TC_ACT_REDIRECT, or -1 when no pair is configured
 * (the caller sends it unmarked and counts it). The Ethernet header built
 * for the real device travels with each segment. */
static __always_inline int pdm_gso_divert(const struct pdm_gso_cfg *cfg)
{
    if (!cfg || !cfg->seg_ifindex)
        return -1;
    return (int)bpf_redirect(cfg->seg_ifindex, 0);
}

/* pdm1 ingress, after the segment has been stamped: mark it and send it to
 * the real device's egress. veth hands the frame over intact and tc ingress
 * sees skb->data at the MAC header, so the Ethernet header the real device's
 * neighbour entry produced is still in front: plain bpf_redirect, no
 * bpf_redirect_neigh (to be checked on a capture, docs/agent.md "GSO"). */
static __always_inline int pdm_gso_return(struct __sk_buff *skb, const struct pdm_gso_cfg *cfg)
{
    if (!cfg || !cfg->out_ifindex)
        return TC_ACT_SHOT;
    skb->mark |= PDM_GSO_MARK;
    return (int)bpf_redirect(cfg->out_ifindex, 0);
}

#endif
