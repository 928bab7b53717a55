// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test and bench object for bpf/aead.h (tests/test_bpf_aead.c,
 * bench/bench_bpf_aead.c): a sleepable syscall program that installs an
 * AES crypto context into a key slot, and a tc program that seals or opens
 * the io map's buffer under a slot, run with BPF_PROG_TEST_RUN.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "aead.h"
#include "pdm_enc.h"

char LICENSE[] SEC("license") = "GPL";

struct aead_test_io {
    __u32 slot;
    __u32 op; /* 0 seal, 1 open, 2 nothing (the bench's baseline) */
    __u8 nonce[PDM_AEAD_NONCE];
    __u8 aad[PDM_AEAD_AAD_LEN];
    __u8 in[PDM_AEAD_CT_LEN];
    __u8 out[PDM_AEAD_CT_LEN];
    __s32 rv;
    /* Options (pdm_enc.h): op 3 seals in[0..14) into opt with type, rn
     * and the slot's material; op 4 opens opt into out; op 5 puts
     * pdm_enc_rn_at(rn_key, rn) into rv, op 6 pdm_enc_pos_of(rn_key, rn). */
    __u8 type;
    __u8 pad;
    __u16 rn;
    __u8 opt[PDM_ENC_OPT_LEN];
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 8);
    __type(key, __u32);
    __type(value, struct pdm_aead_key);
} aead_keys SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct aead_test_io);
} aead_io SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 8);
    __type(key, __u32);
    __type(value, struct pdm_enc_material);
} aead_mat SEC(".maps");

SEC("syscall")
int aead_install(struct pdm_aead_install_args *a)
{
    struct pdm_aead_key *v;
    __u32 slot = a->slot;

    v = bpf_map_lookup_elem(&aead_keys, &slot);
    if (!v)
        return -PDM_AEAD_ENOKEY;
    return pdm_aead_ctx_install(a, v);
}

SEC("syscall")
int aead_key(struct pdm_aead_key_args *a)
{
    struct pdm_aead_key *v;
    __u32 slot = a->slot;

    v = bpf_map_lookup_elem(&aead_keys, &slot);
    if (!v)
        return -PDM_AEAD_ENOKEY;
    return pdm_aead_key_install(a, v);
}

SEC("tc")
int aead_run(struct __sk_buff *skb)
{
    struct aead_test_io *io;
    struct pdm_enc_material *m;
    struct pdm_aead_key *k;
    __u32 zero = 0, slot;

    io = bpf_map_lookup_elem(&aead_io, &zero);
    if (!io)
        return 0;
    slot = io->slot;
    k = bpf_map_lookup_elem(&aead_keys, &slot);
    m = bpf_map_lookup_elem(&aead_mat, &slot);
    if (!k || !m) {
        io->rv = -PDM_AEAD_ENOKEY;
        return 0;
    }
    if (io->op == 2)
        io->rv = (int)k->suite;
    else if (io->op == 0)
        io->rv = pdm_aead_seal(k, io->nonce, io->aad, io->in, io->out);
    else if (io->op == 1)
        io->rv = pdm_aead_open(k, io->nonce, io->aad, io->in, io->out);
    else if (io->op == 3)
        io->rv = pdm_enc_seal(k, m, io->type, io->rn, io->in, io->opt);
    else if (io->op == 4)
        io->rv = pdm_enc_open(k, m, io->opt, io->out);
    else if (io->op == 5)
        io->rv = pdm_enc_rn_at(m->rn_key, io->rn);
    else if (io->op == 6)
        io->rv = (int)pdm_enc_pos_of(m->rn_key, io->rn);
    return 0;
}
