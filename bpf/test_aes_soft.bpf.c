// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test and bench object for bpf/aes_soft.h (tests/test_bpf_aes_soft.c,
 * bench/bench_bpf_aes_soft.c): a tc program that runs one operation of
 * the software AES (key expansion, blocks, GHASH table, GCM seal/open of
 * a whole option) on the io map under a key slot, and, for the side by
 * side figures, the kfunc path of bpf/aead.h on the same slots (a
 * sleepable syscall program installs the crypto context). Run with
 * BPF_PROG_TEST_RUN.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "aead.h"
#include "pdm_enc.h"
#include "aes_soft.h"
#include "kdf.h"

char LICENSE[] SEC("license") = "GPL";

/* What the integrator would keep per key: aead.h's key (GHASH table,
 * suite, the kfunc context once user space installs it) and the software
 * schedule beside it. */
struct soft_slot {
    struct pdm_aead_key aead;
    struct pdm_aes_soft_key soft;
};

#define SOFT_OP_NOP       0  /* lookups only: the bench's baseline */
#define SOFT_OP_EXPAND    1  /* key, key_len -> slot's schedule */
#define SOFT_OP_ENCRYPT   2  /* n (1..4) blocks in -> out */
#define SOFT_OP_GHASH     3  /* H and the GHASH table from the schedule */
#define SOFT_OP_KEY_SLOT  4  /* pdm_aes_soft_key_slot(suite, key) */
#define SOFT_OP_BLOCKS    5  /* software E(J0) || E(inc32(J0)) of nonce -> out */
#define SOFT_OP_BLOCKS_KF 6  /* the same through the kfunc (aead_gcm_blocks) */
#define SOFT_OP_SEAL      7  /* pdm_aes_soft_gcm_seal: in (14) -> out (30) */
#define SOFT_OP_OPEN      8  /* pdm_aes_soft_gcm_open: in (30) -> out (14) */
#define SOFT_OP_OPT_SEAL  9  /* whole option: type, rn, mat, in (14) -> opt */
#define SOFT_OP_OPT_OPEN  10 /* opt -> out (14) */
#define SOFT_OP_KEY_OPT   11 /* KEY_SLOT then OPT_SEAL: a flow's first packet */
#define SOFT_OP_BLOCKS3   12 /* E(0) and the two blocks: 3 blocks, software */
#define SOFT_OP_SEAL_KF   13 /* aead.h's pdm_aead_seal (kfunc) */
#define SOFT_OP_KDF_OPT                                                                            \
    14 /* a new flow's first option without user space:                                            \
        * bpf/kdf.h derives STK, BaseNonce (and RN key)                                            \
        * from soft_kdf_secrets[0] and the flow fields at                                          \
        * mat.kri, then KEY_SLOT and OPT_SEAL */

struct soft_io {
    __u32 op;
    __u32 slot;
    __u32 key_len;
    __u32 suite;
    __s32 rv;
    __u32 n;
    __u8 key[32];
    __u8 in[64];
    __u8 out[64];
    __u8 nonce[PDM_AEAD_NONCE];
    __u8 aad[PDM_AEAD_AAD_LEN];
    __u8 type;
    __u8 pad;
    __u16 rn;
    __u16 pad2;
    struct pdm_enc_material mat;
    __u8 opt[PDM_ENC_OPT_LEN];
    __u8 src[16]; /* SOFT_OP_KDF_OPT: the flow, the sender's view */
    __u8 dst[16];
    __u16 sport;
    __u16 dport;
    __u8 proto;
    __u8 pad3[3];
};
_Static_assert(sizeof(struct soft_io) == 316, "layout shared with bpf/aes_soft_user.h");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 8);
    __type(key, __u32);
    __type(value, struct soft_slot);
} soft_slots SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct soft_io);
} soft_io SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct pdm_kdf_secret);
} soft_kdf_secrets SEC(".maps");

SEC("syscall")
int soft_install(struct pdm_aead_install_args *a)
{
    struct soft_slot *v;
    __u32 slot = a->slot;

    v = bpf_map_lookup_elem(&soft_slots, &slot);
    if (!v)
        return -PDM_AEAD_ENOKEY;
    return pdm_aead_ctx_install(a, &v->aead);
}

/* For the bench: a context on a named kernel driver instead of the
 * kernel's pick for "ecb(aes)" (here ecb(aes-fixed-time)), to split the
 * kfunc's cost into the cipher and the rest. */
struct soft_install_drv_args {
    __u32 slot;
    __u32 key_len;
    __u8 key[32];
    __s32 err;
    __u32 drv; /* 0 "ecb(aes)", 1 "ecb(aes-generic)" */
};

SEC("syscall")
int soft_install_drv(struct soft_install_drv_args *a)
{
    struct bpf_crypto_params params = {.type = "skcipher", .algo = "ecb(aes)"};
    struct bpf_crypto_ctx *c, *old;
    struct soft_slot *v;
    __u32 slot = a->slot;
    int err = 0;

    if (!(v = bpf_map_lookup_elem(&soft_slots, &slot)))
        return -PDM_AEAD_ENOKEY;
    if (a->key_len != 16 && a->key_len != 32)
        return -PDM_AEAD_ESUITE;
    if (a->drv == 1)
        __builtin_memcpy(params.algo, "ecb(aes-generic)", sizeof("ecb(aes-generic)"));
    params.key_len = a->key_len;
    __builtin_memcpy(params.key, a->key, 32);
    c = bpf_crypto_ctx_create(&params, sizeof(params), &err);
    a->err = err;
    if (!c)
        return -PDM_AEAD_ECRYPTO;
    old = bpf_kptr_xchg(&v->aead.aes, c);
    if (old)
        bpf_crypto_ctx_release(old);
    return 0;
}

/*
 * GCM as a caller of aes_soft.h puts it together: the blocks (software,
 * or the kfunc once installed) into pdm_aead_scratch by one subprogram,
 * then aead.h's tag code over them in another, so the two frames are
 * never on the stack together (aead.h's unrolled GHASH alone takes ~400
 * bytes of it).
 */
static __noinline int soft_blocks_any(struct soft_slot *sl, const __u8 *nonce)
{
    int rv;

    return pdm_aes_soft_blocks_any(&sl->aead, &sl->soft, nonce, &rv) ? 0 : rv;
}

static __noinline int soft_tag_seal(struct soft_slot *sl, const __u8 *aad, const __u8 *pt,
                                    __u8 *out)
{
    struct pdm_aead_scratch_v *s;
    __u32 zero = 0;

    if (!(s = bpf_map_lookup_elem(&pdm_aead_scratch, &zero)))
        return -PDM_AEAD_ENOKEY;
#pragma unroll
    for (int i = 0; i < PDM_AEAD_PT_LEN; i++)
        out[i] = pt[i] ^ s->dst[16 + i];
    aead_gcm_tag(&sl->aead, s, aad, out, out + PDM_AEAD_PT_LEN);
    return 0;
}

static __noinline int soft_tag_open(struct soft_slot *sl, const __u8 *aad, const __u8 *in, __u8 *pt)
{
    struct pdm_aead_scratch_v *s;
    __u32 zero = 0;
    __u8 tag[16];

    if (!(s = bpf_map_lookup_elem(&pdm_aead_scratch, &zero)))
        return -PDM_AEAD_ENOKEY;
    aead_gcm_tag(&sl->aead, s, aad, in, tag);
    if (!aead_ct_eq16(tag, in + PDM_AEAD_PT_LEN))
        return -PDM_AEAD_EBADTAG;
#pragma unroll
    for (int i = 0; i < PDM_AEAD_PT_LEN; i++)
        pt[i] = in[i] ^ s->dst[16 + i];
    return 0;
}

static __always_inline int soft_seal(struct soft_slot *sl, const __u8 *nonce, const __u8 *aad,
                                     const __u8 *pt, __u8 *out)
{
    int rv = soft_blocks_any(sl, nonce);

    return rv ? rv : soft_tag_seal(sl, aad, pt, out);
}

static __always_inline int soft_open(struct soft_slot *sl, const __u8 *nonce, const __u8 *aad,
                                     const __u8 *in, __u8 *pt)
{
    int rv = soft_blocks_any(sl, nonce);

    return rv ? rv : soft_tag_open(sl, aad, in, pt);
}

/* The option's clear bytes (its AAD) and nonce into io, as pdm_enc_seal
 * does; 0 or -PDM_AEAD_ESUITE for an RN out of range. */
static __noinline int soft_opt_head(struct soft_io *io)
{
    __u16 rn = io->rn, w = (__u16)((rn << 1) | (io->mat.kri & 1));

    if (rn == 0 || rn > PDM_ENC_RN_COUNT)
        return -PDM_AEAD_ESUITE;
    io->opt[0] = io->type;
    io->opt[1] = 0x22;
    io->opt[2] = 0x20;
    io->opt[3] = 0x00;
    io->opt[4] = (__u8)(w >> 8);
    io->opt[5] = (__u8)w;
    pdm_enc_nonce(&io->mat, rn, io->nonce);
    return 0;
}

static __always_inline int soft_opt_seal(struct soft_slot *sl, struct soft_io *io)
{
    int rv = soft_opt_head(io);

    return rv ? rv : soft_seal(sl, io->nonce, io->opt, io->in, io->opt + PDM_AEAD_AAD_LEN);
}

/* pdm_enc_open's checks, then the nonce of the option's RN and the open. */
static __always_inline int soft_opt_open(struct soft_slot *sl, struct soft_io *io)
{
    __u16 w = (__u16)((io->opt[4] << 8) | io->opt[5]);

    if (io->opt[1] != 0x22 || (w & 1) != (io->mat.kri & 1) || (w >> 1) == 0)
        return -PDM_AEAD_EBADTAG;
    pdm_enc_nonce(&io->mat, (__u16)(w >> 1), io->nonce);
    return soft_open(sl, io->nonce, io->opt, io->opt + PDM_AEAD_AAD_LEN, io->out);
}

static __noinline int soft_blocks_kfunc(struct soft_slot *sl, struct soft_io *io)
{
    struct pdm_aead_scratch_v *s;
    int rv;

    if (!(s = aead_gcm_blocks(&sl->aead, io->nonce, &rv)))
        return rv;
    __builtin_memcpy(io->out, s->dst, sizeof(s->dst));
    return 0;
}

static __noinline int soft_seal_kfunc(struct soft_slot *sl, struct soft_io *io)
{
    return pdm_aead_seal(&sl->aead, io->nonce, io->aad, io->in, io->out);
}

static __noinline int soft_key_slot(struct soft_slot *sl, struct soft_io *io)
{
    return pdm_aes_soft_key_slot(&sl->soft, &sl->aead, io->suite, io->key);
}

/* bpf/kdf.h's usage: the flow into the KDF scratch's io, the keys out of
 * it into the slot (schedule, H, table) and the material (BaseNonce, RN
 * key). The caller then seals. */
static __noinline int soft_kdf_key(struct soft_slot *sl, struct soft_io *io)
{
    struct pdm_kdf_scratch *s = pdm_kdf_scratch_get();
    struct pdm_kdf_secret *sec;
    __u32 zero = 0;
    int rv;

    if (!s || !(sec = bpf_map_lookup_elem(&soft_kdf_secrets, &zero)))
        return -PDM_AEAD_ENOKEY;
    pdm_kdf_flow_info(s->io.flow, io->src, io->sport, io->dst, io->dport, io->proto, io->mat.kri);
    if ((rv = pdm_kdf_derive(sec, &s->io, PDM_KDF_F_RN)) != 0)
        return rv;
    __builtin_memcpy(io->mat.base_nonce, s->io.base_nonce, sizeof(io->mat.base_nonce));
    __builtin_memcpy(io->mat.rn_key, s->io.rn_key, sizeof(io->mat.rn_key));
    return pdm_aes_soft_key_slot(&sl->soft, &sl->aead, io->suite, s->io.stk);
}

static __noinline int soft_encrypt_n(struct soft_slot *sl, struct soft_io *io)
{
    int rv = 0;

#pragma unroll
    for (__u32 j = 0; j < 4; j++) {
        if (j >= io->n)
            break;
        if ((rv = pdm_aes_soft_encrypt(&sl->soft, io->in + 16 * j, io->out + 16 * j)) != 0)
            break;
    }
    return rv;
}

static __noinline int soft_blocks3(struct soft_slot *sl, struct soft_io *io)
{
    __u32 w[4] = {};
    int rv;

    if ((rv = pdm_aes_soft_encrypt_words(&sl->soft, w)) != 0)
        return rv;
    io->out[32] = (__u8)w[0]; /* keeps E(0) live */
    return pdm_aes_soft_gcm_blocks(&sl->soft, io->nonce, io->out);
}

SEC("tc")
int soft_run(struct __sk_buff *skb)
{
    struct soft_slot *sl;
    struct soft_io *io;
    __u32 zero = 0, slot;
    int rv;

    if (!(io = bpf_map_lookup_elem(&soft_io, &zero)))
        return 0;
    slot = io->slot;
    if (!(sl = bpf_map_lookup_elem(&soft_slots, &slot))) {
        io->rv = -PDM_AEAD_ENOKEY;
        return 0;
    }
    switch (io->op) {
    case SOFT_OP_NOP:
        rv = (int)sl->soft.rounds;
        break;
    case SOFT_OP_EXPAND:
        rv = pdm_aes_soft_expand(&sl->soft, io->key, io->key_len);
        break;
    case SOFT_OP_ENCRYPT:
        rv = soft_encrypt_n(sl, io);
        break;
    case SOFT_OP_GHASH:
        rv = pdm_aes_soft_ghash_init(&sl->soft, sl->aead.ghash);
        break;
    case SOFT_OP_KEY_SLOT:
        rv = soft_key_slot(sl, io);
        break;
    case SOFT_OP_BLOCKS:
        rv = pdm_aes_soft_gcm_blocks(&sl->soft, io->nonce, io->out);
        break;
    case SOFT_OP_BLOCKS_KF:
        rv = soft_blocks_kfunc(sl, io);
        break;
    case SOFT_OP_SEAL:
        rv = soft_seal(sl, io->nonce, io->aad, io->in, io->out);
        break;
    case SOFT_OP_OPEN:
        rv = soft_open(sl, io->nonce, io->aad, io->in, io->out);
        break;
    case SOFT_OP_OPT_SEAL:
        rv = soft_opt_seal(sl, io);
        break;
    case SOFT_OP_OPT_OPEN:
        rv = soft_opt_open(sl, io);
        break;
    case SOFT_OP_KEY_OPT:
        rv = soft_key_slot(sl, io);
        if (rv == 0)
            rv = soft_opt_seal(sl, io);
        break;
    case SOFT_OP_BLOCKS3:
        rv = soft_blocks3(sl, io);
        break;
    case SOFT_OP_SEAL_KF:
        rv = soft_seal_kfunc(sl, io);
        break;
    case SOFT_OP_KDF_OPT:
        rv = soft_kdf_key(sl, io);
        if (rv == 0)
            rv = soft_opt_seal(sl, io);
        break;
    default:
        rv = -PDM_AEAD_ESUITE;
    }
    io->rv = rv;
    return 0;
}
