/*
 * The three AEADs of the PDMv2 profile (PROFILE.md §3) for BPF programs:
 * AES-128-GCM and AES-256-GCM through the kernel's BPF crypto kfuncs
 * ("skcipher" "ecb(aes)": one call makes the two counter blocks) with
 * GHASH in BPF, and ChaCha20-Poly1305 in plain BPF. Sizes are the
 * profile's and fixed: 6 bytes of AAD (the option's clear bytes), 14 of
 * plaintext, a 16-byte tag, a 12-byte nonce; sealed output is ct || tag
 * (30 bytes). Include after vmlinux.h and bpf_helpers.h.
 *
 * Keys live in a map value (struct pdm_aead_key, the flow/key map's value
 * or part of it):
 *   - suite: PDM_AEAD_AES128GCM, PDM_AEAD_AES256GCM or PDM_AEAD_CHACHA20;
 *   - aes: the bpf_crypto_ctx kptr keyed with STK. A crypto ctx can only be
 *     created by a sleepable BPF_PROG_TYPE_SYSCALL program
 *     (pdm_aead_ctx_install() below, run with BPF_PROG_TEST_RUN);
 *   - ghash: the 4-bit (Shoup) multiplication table of H = AES_K(0^128),
 *     computed in user space (bpf/aead_user.h) because BPF cannot run AES
 *     from a syscall program and the table is per key anyway (or in BPF
 *     by bpf/aes_soft.h for keys derived there); a caller with room beside
 *     the key adds struct pdm_aead_gcm (the table of H^2 and L * H, from
 *     user space) for a shorter GHASH (aead_gcm_tag2());
 *   - chacha: the 32-byte ChaCha20 key.
 * bpf_map_update_elem frees the kptr of an element it overwrites: either
 * write the value first and then run pdm_aead_ctx_install(), or (flow
 * maps) write the whole slot in place with pdm_aead_key_install().
 *
 * The crypto kfunc works on dynptrs; they are made over a per-CPU scratch
 * map (pdm_aead_scratch) so the stack keeps room for the caller.
 *
 * Open checks the tag in constant time (OR of XORs, no early exit) and
 * writes plaintext only when it matches.
 */
#ifndef PDM_BPF_AEAD_H
#define PDM_BPF_AEAD_H

#define PDM_AEAD_AES128GCM 1 /* the profile's AEAD ids (RFC 9180) */
#define PDM_AEAD_AES256GCM 2
#define PDM_AEAD_CHACHA20  3

#define PDM_AEAD_AAD_LEN 6
#define PDM_AEAD_PT_LEN  14
#define PDM_AEAD_TAG_LEN 16
#define PDM_AEAD_NONCE   12
#define PDM_AEAD_CT_LEN  (PDM_AEAD_PT_LEN + PDM_AEAD_TAG_LEN)

/* Errors (negative, like the kernel's): */
#define PDM_AEAD_EBADTAG 1 /* returned as -PDM_AEAD_EBADTAG */
#define PDM_AEAD_ENOKEY  2
#define PDM_AEAD_ECRYPTO 3
#define PDM_AEAD_ESUITE  4

struct pdm_aead_key {
    struct bpf_crypto_ctx __kptr *aes;
    __u32 suite;
    __u32 gen;          /* bumped by user space per new key; free for the caller */
    __u64 ghash[16][2]; /* Htable[i] = {hi, lo}, big-endian halves */
    __u8 chacha[32];
};

/* Argument of the install program (its ctx_in). */
struct pdm_aead_install_args {
    __u32 slot;    /* index in the caller's map; interpreted by the caller */
    __u32 key_len; /* 16 or 32 */
    __u8 key[32];
    __s32 err; /* out: kernel error of bpf_crypto_ctx_create */
    __u32 pad;
};

struct pdm_aead_scratch_v {
    __u8 src[32]; /* J0 || J0+1 */
    __u8 dst[32]; /* E(J0) || E(J0+1) */
    __u8 x[16];   /* GHASH: a pass's input block */
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct pdm_aead_scratch_v);
} pdm_aead_scratch SEC(".maps");

extern struct bpf_crypto_ctx *bpf_crypto_ctx_create(const struct bpf_crypto_params *params,
                                                    __u32 params__sz, int *err) __ksym __weak;
extern struct bpf_crypto_ctx *bpf_crypto_ctx_acquire(struct bpf_crypto_ctx *ctx) __ksym __weak;
extern void bpf_crypto_ctx_release(struct bpf_crypto_ctx *ctx) __ksym __weak;
extern int bpf_crypto_encrypt(struct bpf_crypto_ctx *ctx, const struct bpf_dynptr *src,
                              const struct bpf_dynptr *dst,
                              const struct bpf_dynptr *siv__nullable) __ksym __weak;

static __always_inline __u64 aead_be64(const __u8 *p)
{
    return ((__u64)p[0] << 56) | ((__u64)p[1] << 48) | ((__u64)p[2] << 40) | ((__u64)p[3] << 32) |
           ((__u64)p[4] << 24) | ((__u64)p[5] << 16) | ((__u64)p[6] << 8) | (__u64)p[7];
}

static __always_inline void aead_put_be64(__u8 *p, __u64 v)
{
#pragma unroll
    for (int i = 0; i < 8; i++)
        p[i] = (__u8)(v >> (56 - 8 * i));
}

/* Bytes p[0 .. n) big-endian in the top of a 64-bit word (n <= 8). */
static __always_inline __u64 aead_be64n(const __u8 *p, int n)
{
    __u64 v = 0;

#pragma unroll
    for (int i = 0; i < n; i++)
        v |= (__u64)p[i] << (56 - 8 * i);
    return v;
}

/* Folds the 64 bits f shifted out below x^127 (f's top bit being x^128)
 * back into (zh, zl): x^128 = x^7 + x^2 + x + 1, and f times that is
 * below x^71, so one fold is exact. */
static __always_inline void aead_gcm_fold(__u64 *zh, __u64 *zl, __u64 f)
{
    *zh ^= f ^ (f >> 1) ^ (f >> 2) ^ (f >> 7);
    *zl ^= (f << 63) ^ (f << 62) ^ (f << 57);
}

/*
 * X * M in GF(2^128) with t, the 4-bit (Shoup) table of M (OpenSSL's
 * gcm_gmult_4bit order: byte 15's low nibble first, byte 0's high last),
 * for the X of the bytes x[0 .. nbytes), the rest zero (they add nothing:
 * the pass starts at byte nbytes - 1). The bits each step shifts out are
 * kept in z2 and folded back once per 16 steps instead of through a table
 * load per step inside the dependency chain. Unrolled, one step at a time,
 * X read from memory step by step (a compiler barrier: work hoisted from
 * later steps outgrows the stack).
 */
static __always_inline void aead_gcm_pass(const __u64 (*t)[2], const __u8 *x, const int nbytes,
                                          __u64 *oh, __u64 *ol)
{
    __u64 zh = 0, zl = 0, z2 = 0;

#pragma unroll
    for (int st = 0; st < 2 * nbytes; st++) {
        int i = nbytes - 1 - st / 2;
        __u32 n;

        asm volatile("" ::: "memory");
        n = (st & 1) ? x[i] >> 4 : x[i] & 0xf;
        if (st != 0) {
            z2 = (zl << 60) | (z2 >> 4);
            zl = (zh << 60) | (zl >> 4);
            zh >>= 4;
            if (st % 16 == 0) { /* z2 full: 16 shifts since the last fold */
                aead_gcm_fold(&zh, &zl, z2);
                z2 = 0;
            }
        }
        zh ^= t[n][0];
        zl ^= t[n][1];
    }
    aead_gcm_fold(&zh, &zl, z2);
    *oh = zh;
    *ol = zl;
}

/* s->x = (xh, xl) ^ C, C the 14 bytes of ct zero-padded. */
static __always_inline void aead_gcm_xor_ct(struct pdm_aead_scratch_v *s, __u64 xh, __u64 xl,
                                            const __u8 *ct)
{
    aead_put_be64(s->x, xh ^ aead_be64n(ct, 8));
    aead_put_be64(s->x + 8, xl ^ aead_be64n(ct + 8, PDM_AEAD_PT_LEN - 8));
}

static __always_inline int aead_ct_eq16(const __u8 *a, const __u8 *b)
{
    __u8 d = 0;

#pragma unroll
    for (int i = 0; i < 16; i++)
        d |= (__u8)(a[i] ^ b[i]);
    return d == 0;
}

/* Tag of (aad, ct) with the AES blocks in s->dst (E(J0) first), from the
 * key's table of H alone: ((A * H ^ C) * H ^ L) * H, A's pass 12 steps
 * (6 bytes), the others 32; s->x is the passes' input. */
static __always_inline void aead_gcm_tag(const struct pdm_aead_key *k, struct pdm_aead_scratch_v *s,
                                         const __u8 *aad, const __u8 *ct, __u8 *tag)
{
    __u64 xh, xl;

    aead_gcm_pass(k->ghash, aad, PDM_AEAD_AAD_LEN, &xh, &xl);
    aead_gcm_xor_ct(s, xh, xl, ct);
    aead_gcm_pass(k->ghash, s->x, 16, &xh, &xl);
    /* L = len(A) || len(C) in bits, 64 bits each */
    aead_put_be64(s->x, xh ^ (__u64)PDM_AEAD_AAD_LEN * 8);
    aead_put_be64(s->x + 8, xl ^ (__u64)PDM_AEAD_PT_LEN * 8);
    aead_gcm_pass(k->ghash, s->x, 16, &xh, &xl);
    aead_put_be64(tag, xh ^ aead_be64(s->dst));
    aead_put_be64(tag + 8, xl ^ aead_be64(s->dst + 8));
}

/*
 * Per-key GHASH material beyond the table of H, for a caller that keeps it
 * beside the key (bpf/pdm_v2enc.h's slots): the 4-bit table of H^2 and
 * L * H (L the lengths block of the profile's sizes), both from user
 * space with the key (bpf/aead_user.h). With it the tag is
 * (A * H ^ C) * H^2 ^ L * H: 12 + 32 steps instead of 12 + 32 + 32.
 */
struct pdm_aead_gcm {
    __u64 h2[16][2];
    __u64 lh[2];
};

/* The tag of (aad, ct) with k's table of H and *g, E(J0) from s->dst;
 * s->x is the second pass's input. */
static __always_inline void aead_gcm_tag2(const struct pdm_aead_key *k,
                                          const struct pdm_aead_gcm *g,
                                          struct pdm_aead_scratch_v *s, const __u8 *aad,
                                          const __u8 *ct, __u8 *tag)
{
    __u64 xh, xl;

    aead_gcm_pass(k->ghash, aad, PDM_AEAD_AAD_LEN, &xh, &xl);
    aead_gcm_xor_ct(s, xh, xl, ct);
    aead_gcm_pass(g->h2, s->x, 16, &xh, &xl);
    aead_put_be64(tag, xh ^ g->lh[0] ^ aead_be64(s->dst));
    aead_put_be64(tag + 8, xl ^ g->lh[1] ^ aead_be64(s->dst + 8));
}

/* E(J0) || E(J0+1) into s->dst, the nonce being in s->src[0..12): one
 * kfunc call for both blocks. 0 or a negative PDM_AEAD_E* code. */
static __always_inline int aead_gcm_ctr(struct pdm_aead_key *k, struct pdm_aead_scratch_v *s)
{
    struct bpf_dynptr psrc, pdst;
    struct bpf_crypto_ctx *c = k->aes;

    if (!c)
        return -PDM_AEAD_ENOKEY;
    __builtin_memcpy(s->src + 16, s->src, PDM_AEAD_NONCE);
    s->src[12] = s->src[13] = s->src[14] = 0;
    s->src[15] = 1;
    s->src[28] = s->src[29] = s->src[30] = 0;
    s->src[31] = 2;
    if (bpf_dynptr_from_mem(s->src, sizeof(s->src), 0, &psrc) ||
        bpf_dynptr_from_mem(s->dst, sizeof(s->dst), 0, &pdst) ||
        bpf_crypto_encrypt(c, &psrc, &pdst, NULL))
        return -PDM_AEAD_ECRYPTO;
    return 0;
}

/* E(J0) || E(J0+1) into the scratch map's dst; NULL on failure. */
static __always_inline struct pdm_aead_scratch_v *aead_gcm_blocks(struct pdm_aead_key *k,
                                                                  const __u8 *nonce, int *rv)
{
    struct pdm_aead_scratch_v *s;
    __u32 zero = 0;

    *rv = -PDM_AEAD_ENOKEY;
    if (!k->aes || !(s = bpf_map_lookup_elem(&pdm_aead_scratch, &zero)))
        return NULL;
    __builtin_memcpy(s->src, nonce, PDM_AEAD_NONCE);
    if ((*rv = aead_gcm_ctr(k, s)) != 0)
        return NULL;
    return s;
}

static __always_inline int aead_gcm_seal(struct pdm_aead_key *k, const __u8 *nonce, const __u8 *aad,
                                         const __u8 *pt, __u8 *out)
{
    struct pdm_aead_scratch_v *s;
    int rv;

    s = aead_gcm_blocks(k, nonce, &rv);
    if (!s)
        return rv;
#pragma unroll
    for (int i = 0; i < PDM_AEAD_PT_LEN; i++)
        out[i] = pt[i] ^ s->dst[16 + i];
    aead_gcm_tag(k, s, aad, out, out + PDM_AEAD_PT_LEN);
    return 0;
}

static __always_inline int aead_gcm_open(struct pdm_aead_key *k, const __u8 *nonce, const __u8 *aad,
                                         const __u8 *in, __u8 *pt)
{
    struct pdm_aead_scratch_v *s;
    __u8 tag[16];
    int rv;

    s = aead_gcm_blocks(k, nonce, &rv);
    if (!s)
        return rv;
    aead_gcm_tag(k, s, aad, in, tag);
    if (!aead_ct_eq16(tag, in + PDM_AEAD_PT_LEN))
        return -PDM_AEAD_EBADTAG;
#pragma unroll
    for (int i = 0; i < PDM_AEAD_PT_LEN; i++)
        pt[i] = in[i] ^ s->dst[16 + i];
    return 0;
}

#include "aead_chacha.h"

/* Seals pt (14 bytes) under k and nonce with aad (6 bytes): out gets
 * ct (14) || tag (16). 0 or a negative PDM_AEAD_E* code. */
static __always_inline int pdm_aead_seal(struct pdm_aead_key *k, const __u8 *nonce, const __u8 *aad,
                                         const __u8 *pt, __u8 *out)
{
    if (k->suite == PDM_AEAD_CHACHA20)
        return aead_chacha_seal(k, nonce, aad, pt, out);
    if (k->suite == PDM_AEAD_AES128GCM || k->suite == PDM_AEAD_AES256GCM)
        return aead_gcm_seal(k, nonce, aad, pt, out);
    return -PDM_AEAD_ESUITE;
}

/* Opens in (ct || tag, 30 bytes): pt (14) is written only when the tag
 * matches; -PDM_AEAD_EBADTAG otherwise. */
static __always_inline int pdm_aead_open(struct pdm_aead_key *k, const __u8 *nonce, const __u8 *aad,
                                         const __u8 *in, __u8 *pt)
{
    if (k->suite == PDM_AEAD_CHACHA20)
        return aead_chacha_open(k, nonce, aad, in, pt);
    if (k->suite == PDM_AEAD_AES128GCM || k->suite == PDM_AEAD_AES256GCM)
        return aead_gcm_open(k, nonce, aad, in, pt);
    return -PDM_AEAD_ESUITE;
}

/*
 * For a sleepable SEC("syscall") program: creates an "ecb(aes)" context
 * keyed with a->key and puts it into *slot (releasing the previous one).
 * Returns 0 or a negative error (a->err gets the kernel's).
 */
static __always_inline int pdm_aead_ctx_install(struct pdm_aead_install_args *a,
                                                struct pdm_aead_key *v)
{
    struct bpf_crypto_params params = {
        .type = "skcipher",
        .algo = "ecb(aes)",
    };
    struct bpf_crypto_ctx *c, *old;
    int err = 0;

    if (a->key_len != 16 && a->key_len != 32)
        return -PDM_AEAD_ESUITE;
    params.key_len = a->key_len;
    __builtin_memcpy(params.key, a->key, 32);
    c = bpf_crypto_ctx_create(&params, sizeof(params), &err);
    a->err = err;
    if (!c)
        return -PDM_AEAD_ECRYPTO;
    old = bpf_kptr_xchg(&v->aes, c);
    if (old)
        bpf_crypto_ctx_release(old);
    return 0;
}

/* Argument of a key program that writes the whole slot (its ctx_in). */
struct pdm_aead_key_args {
    __u32 slot;
    __u32 suite;
    __u32 gen;
    __s32 err;    /* out: kernel error of bpf_crypto_ctx_create */
    __u8 key[32]; /* STK: 16 or 32 bytes (AES), the ChaCha20 key */
    __u64 ghash[16][2];
};

/*
 * For a sleepable SEC("syscall") program: writes suite, GHASH table and
 * ChaCha20 key into *v in place and, for the AES suites, a new crypto
 * context (the previous one released; for ChaCha20 the slot's context is
 * dropped). Writing in place keeps the kptr out of bpf_map_update_elem,
 * which frees it (hash and LRU flow maps included). The suite is written
 * last, after the material, so a reader that sees the new suite of a
 * fresh slot sees its key; a slot being re-keyed must not be in use (the
 * profile's slots are by Kri parity, so the one re-keyed is idle).
 * Returns 0 or a negative PDM_AEAD_E* code (a->err: the kernel's).
 */
static __always_inline int pdm_aead_key_install(struct pdm_aead_key_args *a, struct pdm_aead_key *v)
{
    struct bpf_crypto_params params = {
        .type = "skcipher",
        .algo = "ecb(aes)",
    };
    struct bpf_crypto_ctx *c = NULL, *old;
    __u32 suite = a->suite;
    int err = 0;

    if (suite != PDM_AEAD_AES128GCM && suite != PDM_AEAD_AES256GCM && suite != PDM_AEAD_CHACHA20)
        return -PDM_AEAD_ESUITE;
    if (suite != PDM_AEAD_CHACHA20) {
        params.key_len = suite == PDM_AEAD_AES128GCM ? 16 : 32;
        __builtin_memcpy(params.key, a->key, 32);
        c = bpf_crypto_ctx_create(&params, sizeof(params), &err);
        a->err = err;
        if (!c)
            return -PDM_AEAD_ECRYPTO;
    }
    __builtin_memcpy(v->ghash, a->ghash, sizeof(v->ghash));
    __builtin_memcpy(v->chacha, a->key, sizeof(v->chacha));
    v->gen = a->gen;
    old = bpf_kptr_xchg(&v->aes, c);
    if (old)
        bpf_crypto_ctx_release(old);
    __sync_lock_test_and_set(&v->suite, suite);
    return 0;
}

#endif
