/*
 * The segmenting veth pairs of the tc-eBPF data path (issue 10 item 3,
 * docs/agent.md "GSO"): one pair per real device, so that every TCP segment
 * on the wire carries its own PSN. The loader (tools/agent/ebpf.c) calls
 * gso_pairs_attach() once after it has loaded pdm.bpf.o and attached
 * pdm_egress to the devices, and gso_pairs_detach() before it detaches them.
 */
#ifndef PDM_AGENT_GSO_H
#define PDM_AGENT_GSO_H

#include <stddef.h>

#define GSO_PAIRS_MAX 32 /* real devices; the map holds two entries each */

struct gso_pair {
    unsigned dev; /* the real device's ifindex */
    unsigned seg; /* pdmsN: the super-packet's way in, GSO/TSO off */
    unsigned ret; /* pdmrN: pdm_gso_seg on its ingress */
    int link_fd;  /* the TCX link of pdm_gso_seg on ret */
    char seg_name[16];
};

struct gso_pairs {
    int map_fd; /* gso_ifs of pdm.bpf.o (not owned) */
    size_t n;
    struct gso_pair p[GSO_PAIRS_MAX];
};

/*
 * For each of the n real devices devs[]: (re)creates its pair (a stale one
 * of a killed agent is replaced), turns segmentation offloads off on pdmsN,
 * attaches the program seg_prog_fd (pdm_gso_seg) to pdmrN's TCX ingress
 * through a link (gone with the agent), then fills gso_ifs (map_fd): the
 * return entry first, the divert entry last, so that no super-packet is
 * diverted before its way back exists. On failure undoes what it did and
 * returns -1 with a one-line reason in err; super-packets then go out
 * unmarked (counted as gso_unmarked), nothing else changes. 0 on success.
 */
int gso_pairs_attach(struct gso_pairs *g, int map_fd, int seg_prog_fd, const unsigned *devs,
                     size_t n, char *err, size_t errlen);

/* One more device's pair, as gso_pairs_attach() makes each, for a device
 * a peer's route takes after start (g: attached before, successfully or
 * not). 0, or -1 with err and nothing left of it. */
int gso_pairs_add(struct gso_pairs *g, int seg_prog_fd, unsigned dev, char *err, size_t errlen);

/* Stops diverting (map entries first), detaches and deletes the pairs. */
void gso_pairs_detach(struct gso_pairs *g);

#endif
