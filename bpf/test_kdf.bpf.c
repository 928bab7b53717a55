// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test and bench object for bpf/kdf.h (tests/test_bpf_kdf.c,
 * bench/bench_bpf_kdf.c): a tc program that derives one flow direction's
 * keys (STK, BaseNonce, RN key) from the secret in slot io.slot of
 * kdf_secrets, through BPF_PROG_TEST_RUN. KDF_T_FLOW builds the flow in
 * BPF first (pdm_kdf_flow_info). KDF_T_DEEP first fills a 432-byte stack
 * buffer, as a tc program with little room left would have: the verifier
 * adds up the frames of the whole call chain (512 bytes at most), so with
 * kdf_run's 48 the object loads only while bpf/kdf.h's frames take at most
 * 32 bytes.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "kdf.h"

char LICENSE[] SEC("license") = "GPL";

#define KDF_T_DERIVE  0 /* key, nonce and RN key */
#define KDF_T_NO_RN   1 /* key and nonce (a receiver's) */
#define KDF_T_NONE    2 /* the bench's baseline: the lookups alone */
#define KDF_T_DEEP    3 /* KDF_T_DERIVE under a 432-byte stack frame */
#define KDF_T_FLOW    4 /* flow from the fields (pdm_kdf_flow_info), then KDF_T_DERIVE */
#define KDF_T_SCRATCH 5 /* KDF_T_FLOW in the scratch map's io (kdf.h's usage), copied out */

#define KDF_TEST_SLOTS 16
#ifndef KDF_TEST_DEEP
#define KDF_TEST_DEEP 432 /* bytes of the caller frame of KDF_T_DEEP */
#endif

struct kdf_test_io {
    __u32 slot;
    __u32 op;
    __s32 rv;
    __u32 pad;
    struct pdm_kdf_io io;
    __u8 src[16], dst[16]; /* KDF_T_FLOW */
    __u16 sport, dport, kri;
    __u8 proto, pad2;
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, KDF_TEST_SLOTS);
    __type(key, __u32);
    __type(value, struct pdm_kdf_secret);
} kdf_secrets SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct kdf_test_io);
} kdf_io SEC(".maps");

static __noinline int deep(struct pdm_kdf_secret *sec, struct kdf_test_io *io)
{
    __u8 buf[KDF_TEST_DEEP];
    __s64 c;
    int rv;

    /* The helper reads all of buf, so all of it is on the stack. */
    __builtin_memset(buf, 0, sizeof(buf));
    c = bpf_csum_diff(NULL, 0, (__be32 *)buf, sizeof(buf), 0);
    rv = pdm_kdf_derive(sec, &io->io, PDM_KDF_F_RN);
    return c == 0 && buf[sizeof(buf) - 1] == 0 ? rv : -99;
}

SEC("tc")
int kdf_run(struct __sk_buff *skb)
{
    struct pdm_kdf_secret *sec;
    struct kdf_test_io *io;
    __u32 zero = 0, slot;

    if (!(io = bpf_map_lookup_elem(&kdf_io, &zero)))
        return 0;
    slot = io->slot;
    if (!(sec = bpf_map_lookup_elem(&kdf_secrets, &slot))) {
        io->rv = -100;
        return 0;
    }
    if (io->op == KDF_T_DERIVE)
        io->rv = pdm_kdf_derive(sec, &io->io, PDM_KDF_F_RN);
    else if (io->op == KDF_T_NO_RN)
        io->rv = pdm_kdf_derive(sec, &io->io, 0);
    else if (io->op == KDF_T_FLOW) {
        pdm_kdf_flow_info(io->io.flow, io->src, io->sport, io->dst, io->dport, io->proto, io->kri);
        io->rv = pdm_kdf_derive(sec, &io->io, PDM_KDF_F_RN);
    } else if (io->op == KDF_T_SCRATCH) {
        struct pdm_kdf_scratch *s = pdm_kdf_scratch_get();

        if (!s)
            return 0;
        pdm_kdf_flow_info(s->io.flow, io->src, io->sport, io->dst, io->dport, io->proto, io->kri);
        io->rv = pdm_kdf_derive(sec, &s->io, PDM_KDF_F_RN);
        __builtin_memcpy(&io->io, &s->io, sizeof(io->io));
    } else if (io->op == KDF_T_DEEP)
        io->rv = deep(sec, io);
    else
        io->rv = 0;
    return 0;
}
