/*
 * ChaCha20-Poly1305 (RFC 8439) for the profile's fixed sizes, in plain BPF:
 * block 0 of ChaCha20 gives the Poly1305 key, block 1 the 14 bytes of
 * keystream; Poly1305 runs over exactly three full blocks (AAD padded,
 * ciphertext padded, the two lengths), with 26-bit limbs and 64-bit
 * products (poly1305-donna-32). Included by aead.h.
 */
#ifndef PDM_BPF_AEAD_CHACHA_H
#define PDM_BPF_AEAD_CHACHA_H

static __always_inline __u32 aead_le32(const __u8 *p)
{
    return (__u32)p[0] | ((__u32)p[1] << 8) | ((__u32)p[2] << 16) | ((__u32)p[3] << 24);
}

static __always_inline void aead_put_le32(__u8 *p, __u32 v)
{
    p[0] = (__u8)v;
    p[1] = (__u8)(v >> 8);
    p[2] = (__u8)(v >> 16);
    p[3] = (__u8)(v >> 24);
}

#define AEAD_ROTL(v, n) (((v) << (n)) | ((v) >> (32 - (n))))
#define AEAD_QR(x, a, b, c, d)                                                                     \
    do {                                                                                           \
        x[a] += x[b];                                                                              \
        x[d] ^= x[a];                                                                              \
        x[d] = AEAD_ROTL(x[d], 16);                                                                \
        x[c] += x[d];                                                                              \
        x[b] ^= x[c];                                                                              \
        x[b] = AEAD_ROTL(x[b], 12);                                                                \
        x[a] += x[b];                                                                              \
        x[d] ^= x[a];                                                                              \
        x[d] = AEAD_ROTL(x[d], 8);                                                                 \
        x[c] += x[d];                                                                              \
        x[b] ^= x[c];                                                                              \
        x[b] = AEAD_ROTL(x[b], 7);                                                                 \
    } while (0)

/* One ChaCha20 block (counter ctr) as 16 words in out. */
static __always_inline void aead_chacha_block(const struct pdm_aead_key *k, const __u8 *nonce,
                                              __u32 ctr, __u32 *out)
{
    __u32 x[16];

    out[0] = 0x61707865;
    out[1] = 0x3320646e;
    out[2] = 0x79622d32;
    out[3] = 0x6b206574;
#pragma unroll
    for (int i = 0; i < 8; i++)
        out[4 + i] = aead_le32(k->chacha + 4 * i);
    out[12] = ctr;
    out[13] = aead_le32(nonce);
    out[14] = aead_le32(nonce + 4);
    out[15] = aead_le32(nonce + 8);
#pragma unroll
    for (int i = 0; i < 16; i++)
        x[i] = out[i];
        /* Ten double rounds; kept a loop so the program stays small. */
#pragma clang loop unroll(disable)
    for (int i = 0; i < 10; i++) {
        AEAD_QR(x, 0, 4, 8, 12);
        AEAD_QR(x, 1, 5, 9, 13);
        AEAD_QR(x, 2, 6, 10, 14);
        AEAD_QR(x, 3, 7, 11, 15);
        AEAD_QR(x, 0, 5, 10, 15);
        AEAD_QR(x, 1, 6, 11, 12);
        AEAD_QR(x, 2, 7, 8, 13);
        AEAD_QR(x, 3, 4, 9, 14);
    }
#pragma unroll
    for (int i = 0; i < 16; i++)
        out[i] += x[i];
}

struct aead_poly {
    __u32 r[5], s[4], h[5];
};

static __always_inline void aead_poly_block(struct aead_poly *p, const __u8 *m)
{
    const __u32 mask = 0x3ffffff;
    __u32 r0 = p->r[0], r1 = p->r[1], r2 = p->r[2], r3 = p->r[3], r4 = p->r[4];
    __u32 s1 = r1 * 5, s2 = r2 * 5, s3 = r3 * 5, s4 = r4 * 5;
    __u32 h0 = p->h[0], h1 = p->h[1], h2 = p->h[2], h3 = p->h[3], h4 = p->h[4];
    __u64 d0, d1, d2, d3, d4, c;

    h0 += aead_le32(m) & mask;
    h1 += (aead_le32(m + 3) >> 2) & mask;
    h2 += (aead_le32(m + 6) >> 4) & mask;
    h3 += (aead_le32(m + 9) >> 6) & mask;
    h4 += (aead_le32(m + 12) >> 8) | (1u << 24);

    d0 = (__u64)h0 * r0 + (__u64)h1 * s4 + (__u64)h2 * s3 + (__u64)h3 * s2 + (__u64)h4 * s1;
    d1 = (__u64)h0 * r1 + (__u64)h1 * r0 + (__u64)h2 * s4 + (__u64)h3 * s3 + (__u64)h4 * s2;
    d2 = (__u64)h0 * r2 + (__u64)h1 * r1 + (__u64)h2 * r0 + (__u64)h3 * s4 + (__u64)h4 * s3;
    d3 = (__u64)h0 * r3 + (__u64)h1 * r2 + (__u64)h2 * r1 + (__u64)h3 * r0 + (__u64)h4 * s4;
    d4 = (__u64)h0 * r4 + (__u64)h1 * r3 + (__u64)h2 * r2 + (__u64)h3 * r1 + (__u64)h4 * r0;

    c = d0 >> 26;
    h0 = (__u32)d0 & mask;
    d1 += c;
    c = d1 >> 26;
    h1 = (__u32)d1 & mask;
    d2 += c;
    c = d2 >> 26;
    h2 = (__u32)d2 & mask;
    d3 += c;
    c = d3 >> 26;
    h3 = (__u32)d3 & mask;
    d4 += c;
    c = d4 >> 26;
    h4 = (__u32)d4 & mask;
    h0 += (__u32)c * 5;
    c = h0 >> 26;
    h0 &= mask;
    h1 += (__u32)c;

    p->h[0] = h0;
    p->h[1] = h1;
    p->h[2] = h2;
    p->h[3] = h3;
    p->h[4] = h4;
}

/* Poly1305 tag over the profile's three blocks, key from ChaCha block 0. */
static __always_inline void aead_poly_tag(const __u32 *b0, const __u8 *aad, const __u8 *ct,
                                          __u8 *tag)
{
    const __u32 mask = 0x3ffffff;
    struct aead_poly p = {};
    __u8 key[32], blk[16] = {};
    __u32 h0, h1, h2, h3, h4, g0, g1, g2, g3, g4, c, sel;
    __u64 f;

#pragma unroll
    for (int i = 0; i < 8; i++)
        aead_put_le32(key + 4 * i, b0[i]);
    p.r[0] = aead_le32(key) & 0x3ffffff;
    p.r[1] = (aead_le32(key + 3) >> 2) & 0x3ffff03;
    p.r[2] = (aead_le32(key + 6) >> 4) & 0x3ffc0ff;
    p.r[3] = (aead_le32(key + 9) >> 6) & 0x3f03fff;
    p.r[4] = (aead_le32(key + 12) >> 8) & 0x00fffff;

#pragma unroll
    for (int i = 0; i < PDM_AEAD_AAD_LEN; i++)
        blk[i] = aad[i];
    aead_poly_block(&p, blk);
#pragma unroll
    for (int i = 0; i < PDM_AEAD_PT_LEN; i++)
        blk[i] = ct[i];
    blk[14] = blk[15] = 0;
    aead_poly_block(&p, blk);
#pragma unroll
    for (int i = 0; i < 16; i++)
        blk[i] = 0;
    blk[0] = PDM_AEAD_AAD_LEN;
    blk[8] = PDM_AEAD_PT_LEN;
    aead_poly_block(&p, blk);

    h0 = p.h[0];
    h1 = p.h[1];
    h2 = p.h[2];
    h3 = p.h[3];
    h4 = p.h[4];
    c = h1 >> 26;
    h1 &= mask;
    h2 += c;
    c = h2 >> 26;
    h2 &= mask;
    h3 += c;
    c = h3 >> 26;
    h3 &= mask;
    h4 += c;
    c = h4 >> 26;
    h4 &= mask;
    h0 += c * 5;
    c = h0 >> 26;
    h0 &= mask;
    h1 += c;

    /* h - p when h >= p, selected without a branch. */
    g0 = h0 + 5;
    c = g0 >> 26;
    g0 &= mask;
    g1 = h1 + c;
    c = g1 >> 26;
    g1 &= mask;
    g2 = h2 + c;
    c = g2 >> 26;
    g2 &= mask;
    g3 = h3 + c;
    c = g3 >> 26;
    g3 &= mask;
    g4 = h4 + c - (1u << 26);
    sel = (g4 >> 31) - 1; /* all ones when g >= 0 */
    h0 = (h0 & ~sel) | (g0 & sel);
    h1 = (h1 & ~sel) | (g1 & sel);
    h2 = (h2 & ~sel) | (g2 & sel);
    h3 = (h3 & ~sel) | (g3 & sel);
    h4 = (h4 & ~sel) | (g4 & sel);

    h0 = h0 | (h1 << 26);
    h1 = (h1 >> 6) | (h2 << 20);
    h2 = (h2 >> 12) | (h3 << 14);
    h3 = (h3 >> 18) | (h4 << 8);

    f = (__u64)h0 + b0[4];
    aead_put_le32(tag, (__u32)f);
    f = (__u64)h1 + b0[5] + (f >> 32);
    aead_put_le32(tag + 4, (__u32)f);
    f = (__u64)h2 + b0[6] + (f >> 32);
    aead_put_le32(tag + 8, (__u32)f);
    f = (__u64)h3 + b0[7] + (f >> 32);
    aead_put_le32(tag + 12, (__u32)f);
}

/* Keystream byte i (0..13) of block 1. */
#define AEAD_KS(b1, i) ((__u8)((b1)[(i) / 4] >> (8 * ((i) % 4))))

static __always_inline int aead_chacha_seal(const struct pdm_aead_key *k, const __u8 *nonce,
                                            const __u8 *aad, const __u8 *pt, __u8 *out)
{
    __u32 b0[16], b1[16];

    aead_chacha_block(k, nonce, 0, b0);
    aead_chacha_block(k, nonce, 1, b1);
#pragma unroll
    for (int i = 0; i < PDM_AEAD_PT_LEN; i++)
        out[i] = pt[i] ^ AEAD_KS(b1, i);
    aead_poly_tag(b0, aad, out, out + PDM_AEAD_PT_LEN);
    return 0;
}

static __always_inline int aead_chacha_open(const struct pdm_aead_key *k, const __u8 *nonce,
                                            const __u8 *aad, const __u8 *in, __u8 *pt)
{
    __u32 b0[16], b1[16];
    __u8 tag[16];

    aead_chacha_block(k, nonce, 0, b0);
    aead_poly_tag(b0, aad, in, tag);
    if (!aead_ct_eq16(tag, in + PDM_AEAD_PT_LEN))
        return -PDM_AEAD_EBADTAG;
    aead_chacha_block(k, nonce, 1, b1);
#pragma unroll
    for (int i = 0; i < PDM_AEAD_PT_LEN; i++)
        pt[i] = in[i] ^ AEAD_KS(b1, i);
    return 0;
}

#endif
