/*
 * One PSN per wire packet for TCP super-packets (issue 10 item 3; the design
 * and its figures: docs/agent.md "GSO"). For each real device X the agent
 * has a veth pair pdmsN/pdmrN (tools/agent/gso.c): X's egress program
 * diverts a super-packet of an enabled flow to pdmsN (GSO/TSO off), whose
 * transmit path segments it in software; pdmrN's ingress program
 * (pdm_gso_seg in pdm.bpf.c) stamps each segment and redirects it to X's
 * egress, where it passes untouched.
 *
 * Shared by the BPF programs and the host's loader (plain fixed-size
 * types): include after vmlinux.h or linux/types.h.
 */
#ifndef PDM_BPF_GSO_H
#define PDM_BPF_GSO_H

/* Roles of an interface in the gso_ifs map (key: its ifindex). */
#define PDM_GSO_DIVERT 1 /* a real device: .ifindex is its pair's pdmsN */
#define PDM_GSO_RETURN 2 /* a pair's pdmrN: .ifindex is the real device */

struct pdm_gso_if {
    __u32 ifindex;
    __u32 role;
};

#define PDM_GSO_IFS_MAX 64

#ifdef __bpf__
/* Real device egress: a super-packet the kernel would segment later. A
 * packet of one MSS has gso_segs <= 1 and is stamped in place. */
static __always_inline int pdm_gso_is_super(const struct __sk_buff *skb)
{
    return skb->gso_segs > 1;
}
#endif

#endif
