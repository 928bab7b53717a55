/*
 * Encrypted PDMv2 options in BPF (PROFILE.md §3) on top of bpf/aead.h: the
 * RN sequence (lib/profile.c's keyed 15-bit Feistel permutation, so BPF
 * and user space draw the same RNs from one key), nonce = BaseNonce XOR
 * I2OSP(RN, 12), the 6 clear bytes as AAD, and the 36-byte option.
 * Per-key material besides the AEAD slot is struct pdm_enc_material (kept
 * in its own map value: a kptr inside a nested struct is not needed then).
 * Include after aead.h.
 */
#ifndef PDM_BPF_ENC_H
#define PDM_BPF_ENC_H

#define PDM_ENC_OPT_LEN  36
#define PDM_ENC_RN_COUNT 32767

struct pdm_enc_material {
    __u8 base_nonce[PDM_AEAD_NONCE];
    __u8 rn_key[16];
    __u16 kri;
    __u16 pad;
};

static __always_inline __u32 pdm_enc_round(__u64 k0, __u64 k1, __u32 round, __u32 b, __u32 bits)
{
    __u64 h = (((__u64)round << 32) | b) ^ k0;

    h *= 0x9E3779B97F4A7C15ull;
    h ^= h >> 32;
    h ^= k1;
    h *= 0xD6E8FEB86659FD93ull;
    h ^= h >> 32;
    return (__u32)(h >> (64 - bits));
}

/* 8 rounds, halves of 7 and 8 bits alternating (lib/profile.c rn_feistel). */
static __always_inline __u32 pdm_enc_feistel(__u64 k0, __u64 k1, __u32 x)
{
    __u32 a = x >> 8, b = x & 0xFF, c;

#pragma unroll
    for (__u32 i = 0; i < 8; i += 2) {
        c = (a + pdm_enc_round(k0, k1, i, b, 7)) & 0x7F; /* A: 7 bits, B: 8 */
        a = b;
        b = c;
        c = (a + pdm_enc_round(k0, k1, i + 1, b, 8)) & 0xFF; /* A: 8 bits, B: 7 */
        a = b;
        b = c;
    }
    return (a << 8) | b;
}

/* RN at position index (0 .. 32766) of the sequence under rn_key: 1 .. 32767. */
static __always_inline __u16 pdm_enc_rn_at(const __u8 *rn_key, __u32 index)
{
    __u64 k0 = aead_be64(rn_key), k1 = aead_be64(rn_key + 8);
    __u32 x = pdm_enc_feistel(k0, k1, index);

    /* Cycle walking: only 32767 lies outside, so one more step at most. */
    if (x >= PDM_ENC_RN_COUNT)
        x = pdm_enc_feistel(k0, k1, x);
    return (__u16)(x + 1);
}

/* pdm_enc_feistel()'s inverse: the rounds undone last to first. */
static __always_inline __u32 pdm_enc_feistel_inv(__u64 k0, __u64 k1, __u32 y)
{
    __u32 a = y >> 8, b = y & 0xFF, c;

#pragma unroll
    for (int i = 6; i >= 0; i -= 2) {
        c = a; /* A: 7 bits, B: 8 */
        a = (b - pdm_enc_round(k0, k1, (__u32)i + 1, c, 8)) & 0xFF;
        b = c;
        c = a; /* A: 8 bits, B: 7 */
        a = (b - pdm_enc_round(k0, k1, (__u32)i, c, 7)) & 0x7F;
        b = c;
    }
    return (a << 8) | b;
}

/*
 * The position (0 .. 32766) at which rn (1 .. 32767) lies in the sequence
 * under rn_key: pdm_enc_rn_at()'s inverse (a receiver holding the peer's
 * RN key knows where in the peer's sequence an option is). With cycle
 * walking, the one position whose first image is 32767 maps to that
 * image's image; so a preimage of 32767 means that position.
 */
static __always_inline __u32 pdm_enc_pos_of(const __u8 *rn_key, __u32 rn)
{
    __u64 k0 = aead_be64(rn_key), k1 = aead_be64(rn_key + 8);
    __u32 z = pdm_enc_feistel_inv(k0, k1, (rn - 1) & 0x7FFF);

    if (z >= PDM_ENC_RN_COUNT)
        z = pdm_enc_feistel_inv(k0, k1, PDM_ENC_RN_COUNT);
    return z;
}

static __always_inline void pdm_enc_nonce(const struct pdm_enc_material *m, __u16 rn, __u8 *nonce)
{
#pragma unroll
    for (int i = 0; i < PDM_AEAD_NONCE; i++)
        nonce[i] = m->base_nonce[i];
    nonce[10] ^= (__u8)(rn >> 8);
    nonce[11] ^= (__u8)rn;
}

/*
 * Seals one option of type `type` with RN rn (1 .. 32767) under the key of
 * Kri m->kri (F = Kri mod 2) into opt (36 bytes): the clear bytes, then
 * the 14-byte plaintext pt sealed with its tag. The caller guarantees rn
 * was never used under this key. 0 or a negative PDM_AEAD_E* code.
 */
static __always_inline int pdm_enc_seal(struct pdm_aead_key *k, const struct pdm_enc_material *m,
                                        __u8 type, __u16 rn, const __u8 *pt, __u8 *opt)
{
    __u16 w = (__u16)((rn << 1) | (m->kri & 1));
    __u8 nonce[PDM_AEAD_NONCE];

    if (rn == 0 || rn > PDM_ENC_RN_COUNT)
        return -PDM_AEAD_ESUITE;
    opt[0] = type;
    opt[1] = 0x22;
    opt[2] = 0x20;
    opt[3] = 0x00;
    opt[4] = (__u8)(w >> 8);
    opt[5] = (__u8)w;
    pdm_enc_nonce(m, rn, nonce);
    return pdm_aead_seal(k, nonce, opt, pt, opt + PDM_AEAD_AAD_LEN);
}

/*
 * Opens a 36-byte option under the key of Kri m->kri: an F that is not
 * Kri's parity or a wrong length byte is refused before the AEAD; pt gets
 * the 14 bytes only when the tag matches. 0 or -PDM_AEAD_EBADTAG.
 */
static __always_inline int pdm_enc_open(struct pdm_aead_key *k, const struct pdm_enc_material *m,
                                        const __u8 *opt, __u8 *pt)
{
    __u16 w = (__u16)((opt[4] << 8) | opt[5]);
    __u8 nonce[PDM_AEAD_NONCE];

    if (opt[1] != 0x22 || (w & 1) != (m->kri & 1) || (w >> 1) == 0)
        return -PDM_AEAD_EBADTAG;
    pdm_enc_nonce(m, (__u16)(w >> 1), nonce);
    return pdm_aead_open(k, nonce, opt, opt + PDM_AEAD_AAD_LEN, pt);
}

#endif
