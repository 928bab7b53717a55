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
 *
 * kdf_seal goes all the way for a new flow direction with nothing per flow
 * from user space: keys derived here, a key slot made from them
 * (ChaCha20-Poly1305: STK is the key; AES-GCM: bpf/aes_soft.h's schedule,
 * H and GHASH table, no kfunc context), and the direction's first option
 * sealed (RN at position 0 of its permutation, bpf/pdm_enc.h).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "aead.h"
#include "aes_soft.h"
#include "kdf.h"
#include "pdm_enc.h"

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

/* kdf_seal: secret slot, suite, direction and Kri in; the option out. */
struct kdf_seal_io {
    __u32 slot;
    __u32 suite; /* PDM_AEAD_* */
    __s32 rv;
    __u16 kri;
    __u8 type;
    __u8 proto;
    __u8 src[16], dst[16];
    __u16 sport, dport;
    __u8 pt[PDM_AEAD_PT_LEN];
    __u8 opt[PDM_ENC_OPT_LEN];
};

struct kdf_seal_slot {
    struct pdm_aead_key aead;
    struct pdm_aes_soft_key soft;
    struct pdm_enc_material mat;
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct kdf_seal_io);
} kdf_seal_io SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct kdf_seal_slot);
} kdf_seal_slots SEC(".maps");

/* The slot of the derived keys in s->io. */
static __noinline int seal_key(struct kdf_seal_slot *sl, struct pdm_kdf_scratch *s, __u32 suite,
                               __u16 kri)
{
    if (!sl || !s)
        return -PDM_AEAD_ENOKEY;
    __builtin_memcpy(sl->mat.base_nonce, s->io.base_nonce, sizeof(sl->mat.base_nonce));
    __builtin_memcpy(sl->mat.rn_key, s->io.rn_key, sizeof(sl->mat.rn_key));
    sl->mat.kri = kri;
    if (suite == PDM_AEAD_CHACHA20) {
        __builtin_memcpy(sl->aead.chacha, s->io.stk, sizeof(sl->aead.chacha));
        sl->aead.suite = suite;
        return 0;
    }
    return pdm_aes_soft_key_slot(&sl->soft, &sl->aead, suite, s->io.stk);
}

/* The first option of a ChaCha20-Poly1305 key (RN at position 0) into io->opt. */
static __noinline int seal_first_chacha(struct kdf_seal_slot *sl, struct kdf_seal_io *io)
{
    if (!sl || !io)
        return -PDM_AEAD_ENOKEY;
    return pdm_enc_seal(&sl->aead, &sl->mat, io->type, pdm_enc_rn_at(sl->mat.rn_key, 0), io->pt,
                        io->opt);
}

/* GCM's tag over the option in io->opt, E(J0) in pdm_aead_scratch (its own
 * frame: the unrolled GHASH needs ~360 bytes of stack). */
static __noinline int seal_tag(struct kdf_seal_slot *sl, struct kdf_seal_io *io)
{
    struct pdm_aead_scratch_v *b;
    __u32 zero = 0;

    if (!sl || !io || !(b = bpf_map_lookup_elem(&pdm_aead_scratch, &zero)))
        return -PDM_AEAD_ENOKEY;
    aead_gcm_tag(&sl->aead, b, io->opt, io->opt + PDM_AEAD_AAD_LEN,
                 io->opt + PDM_AEAD_AAD_LEN + PDM_AEAD_PT_LEN);
    return 0;
}

/* The same for AES-GCM up to the tag (seal_tag): pdm_enc_seal() with the
 * software blocks instead of the kfunc's. */
static __noinline int seal_first_gcm(struct kdf_seal_slot *sl, struct kdf_seal_io *io)
{
    struct pdm_aead_scratch_v *b;
    __u8 nonce[PDM_AEAD_NONCE];
    __u16 rn, w;
    int rv;

    if (!sl || !io)
        return -PDM_AEAD_ENOKEY;
    rn = pdm_enc_rn_at(sl->mat.rn_key, 0);
    w = (__u16)((rn << 1) | (sl->mat.kri & 1));
    io->opt[0] = io->type;
    io->opt[1] = 0x22;
    io->opt[2] = 0x20;
    io->opt[3] = 0x00;
    io->opt[4] = (__u8)(w >> 8);
    io->opt[5] = (__u8)w;
    pdm_enc_nonce(&sl->mat, rn, nonce);
    if (!(b = pdm_aes_soft_blocks_any(&sl->aead, &sl->soft, nonce, &rv)))
        return rv;
    for (int i = 0; i < PDM_AEAD_PT_LEN; i++)
        io->opt[PDM_AEAD_AAD_LEN + i] = io->pt[i] ^ b->dst[16 + i];
    return 0;
}

SEC("tc")
int kdf_seal(struct __sk_buff *skb)
{
    struct pdm_kdf_secret *sec;
    struct kdf_seal_slot *sl;
    struct pdm_kdf_scratch *s;
    struct kdf_seal_io *io;
    __u32 zero = 0, slot;

    if (!(io = bpf_map_lookup_elem(&kdf_seal_io, &zero)))
        return 0;
    slot = io->slot;
    sec = bpf_map_lookup_elem(&kdf_secrets, &slot);
    sl = bpf_map_lookup_elem(&kdf_seal_slots, &zero);
    s = pdm_kdf_scratch_get();
    if (!sec || !sl || !s) {
        io->rv = -100;
        return 0;
    }
    pdm_kdf_flow_info(s->io.flow, io->src, io->sport, io->dst, io->dport, io->proto, io->kri);
    io->rv = pdm_kdf_derive(sec, &s->io, PDM_KDF_F_RN);
    if (io->rv == 0)
        io->rv = seal_key(sl, s, io->suite, io->kri);
    if (io->rv == 0)
        io->rv =
            io->suite == PDM_AEAD_CHACHA20 ? seal_first_chacha(sl, io) : seal_first_gcm(sl, io);
    /* The tag apart: each frame after the other, not nested. */
    if (io->rv == 0 && io->suite != PDM_AEAD_CHACHA20)
        io->rv = seal_tag(sl, io);
    return 0;
}
