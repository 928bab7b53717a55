/*
 * What the tc-eBPF data path (bpf/pdm.bpf.c) and its loader
 * (tools/agent/ebpf.c) share: map keys and values, the ring-buffer record,
 * counter indices. Plain fixed-size types only, so that both compilers lay
 * them out alike (clang -target bpf and the host cc).
 */
#ifndef PDM_BPF_SHARED_H
#define PDM_BPF_SHARED_H

/* Counter indices: the first ones are enum agent_counter's (agent.h; the
 * loader checks the values at compile time), then the fast path's own. */
#define PDM_BPF_C_TX_SEEN           0
#define PDM_BPF_C_TX_MARKED         1
#define PDM_BPF_C_TX_EXCLUDED       3
#define PDM_BPF_C_TX_MALFORMED      4
#define PDM_BPF_C_TX_ESP            5
#define PDM_BPF_C_TX_FRAGMENT       6
#define PDM_BPF_C_TX_HAS_PDM        7
#define PDM_BPF_C_TX_MTU            8
#define PDM_BPF_C_TX_NO_ROOM        9
#define PDM_BPF_C_RX_SEEN           14
#define PDM_BPF_C_RX_LOGGED         15
#define PDM_BPF_C_RX_EXCLUDED       17
#define PDM_BPF_C_RX_MALFORMED      18
#define PDM_BPF_C_RX_NO_OPTION      19
#define PDM_BPF_C_RX_UNEXPECTED_PSN 20
#define PDM_BPF_C_RX_RESYNC         21
#define PDM_BPF_C_RX_NO_SECRET      23
#define PDM_BPF_C_RX_MSS_CLAMPED    25
#define PDM_BPF_C_AGENT_MAX         30 /* AGENT_C_MAX */
/* The fast path's own (printed after the usual ones by --status). */
#define PDM_BPF_C_GSO_UNMARKED   30 /* TCP super-packet of an enabled flow, sent unmarked */
#define PDM_BPF_C_TX_EXT_HEADERS 31 /* extension headers the fast path does not walk */
#define PDM_BPF_C_RING_DROPPED   32 /* record lost: ring buffer full */
#define PDM_BPF_C_TX_ENCRYPTED   33 /* v2-encrypted peer: not in the fast path yet */
#define PDM_BPF_C_GSO_DIVERTED   34 /* super-packet sent to its device's segmenting pair */
#define PDM_BPF_C_MAX            35

/* An enabled peer prefix (LPM trie key). */
struct pdm_bpf_peer_key {
    __u32 prefixlen;
    __u8 addr[16];
};

struct pdm_bpf_peer {
    __u8 mode; /* enum pdm_format */
    __u8 pad[3];
};

/* A flow, from this node's side: both directions share it. */
struct pdm_bpf_flow_key {
    __u8 local[16];
    __u8 remote[16];
    __u16 lport, rport; /* host order, 0 without ports */
    __u8 proto;
    __u8 pad[3];
};

#define PDM_BPF_F_SENT             0x01
#define PDM_BPF_F_RECEIVED         0x02
#define PDM_BPF_F_SENT_BEFORE_RECV 0x04
#define PDM_BPF_F_HAVE_PSN         0x08

/* Our sending side of the flow (struct pdm_flow_dir's rules, lib/flow.c)
 * and draft-04 §7.1's PSN check of what the peer sends. */
struct pdm_bpf_flow {
    __u64 last_recv_ns;
    __u64 last_sent_ns;
    __u64 sent_before_recv_ns;
    __u32 psn_next; /* atomically incremented; PSNTP: its low 16 bits, v2-14 all 32 */
    __u16 psn_last_recv;
    __u16 rx_last_psn; /* the peer's last accepted PSNTP */
    __u16 rx_resync_psn;
    __u8 rx_resync_n;
    __u8 flags;
    __u16 psn_last_recv_hi; /* v2-14: high half of the peer's last PSNTP */
};

/* One record for user space (records.c formats it). */
struct pdm_bpf_event {
    __u64 time_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
    __u8 src[16], dst[16];
    __u16 sport, dport;
    __u8 proto, rx, format, scale_dtlr;
    __u8 scale_dtls, pad[3];
    __u32 global_pointer;
    __u16 psntp, psnlr, delta_tlr, delta_tls;
    __u32 psntp32, psnlr32; /* v2-14: the full PSNs (psntp, psnlr: their low halves) */
    /* Received: ns from our last send on the flow to this packet when its
     * PSNLR names that send (the round trip plus the peer's DeltaTLR, as
     * core.c's rx_rtd() takes it), 0 otherwise and when sent. */
    __u64 since_sent_ns;
};

/* Global Pointer counters: index 0 link-local sources, 1 the others. */
#define PDM_BPF_GP_LINK_LOCAL 0
#define PDM_BPF_GP_OTHER      1

#endif /* PDM_BPF_SHARED_H */
