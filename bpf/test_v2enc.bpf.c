// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test and bench object for bpf/pdm_v2enc.h (tests/test_bpf_v2enc.c,
 * bench/bench_bpf_v2enc.c): its maps and install program, and a tc
 * program that runs the sender's reserve + seal or the receiver's open on
 * the io map's buffers, with BPF_PROG_TEST_RUN.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "pdm_bpf.h"
#include "pdm_v2enc.h"

char LICENSE[] SEC("license") = "GPL";

#define V2ENC_T_SEAL    0 /* reserve + seal hdr (the egress path) */
#define V2ENC_T_SEAL_RN 1 /* seal hdr with rn under the tx slot of parity kri */
#define V2ENC_T_OPEN    2 /* open opt into clear (the ingress path) */
#define V2ENC_T_NONE    3 /* the bench's baseline */

struct v2enc_test_io {
    struct pdm_bpf_flow_key flow;
    __u32 op;
    __s32 rv;
    __u16 rn;
    __u16 kri;
    __u8 hdr[40];
    __u8 opt[PDM_ENC_OPT_LEN];
    __u8 clear[20];
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct v2enc_test_io);
} v2enc_io SEC(".maps");

SEC("tc")
int v2enc_run(struct __sk_buff *skb)
{
    struct pdm_v2enc_slot *s;
    struct v2enc_test_io *io;
    __u32 zero = 0, rn = 0;
    __u64 now = bpf_ktime_get_ns();

    if (!(io = bpf_map_lookup_elem(&v2enc_io, &zero)))
        return 0;
    if (io->op == V2ENC_T_SEAL) {
        s = pdm_v2enc_draw(&io->flow, now, &rn);
        io->rv = s ? pdm_v2enc_seal_hdr(s, rn, io->hdr) : (int)rn;
    } else if (io->op == V2ENC_T_SEAL_RN) {
        s = v2enc_slot(&io->flow, PDM_V2ENC_TX, io->kri, PDM_V2ENC_HW);
        io->rv = s ? pdm_v2enc_seal_hdr(s, io->rn, io->hdr) : -1;
    } else if (io->op == V2ENC_T_OPEN) {
        io->rv = pdm_v2enc_open(&io->flow, io->opt, now, io->clear);
    } else {
        io->rv = 0;
    }
    return 0;
}
