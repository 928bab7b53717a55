/*
 * A flow direction's keys derived in BPF (issue 10 item 2, PROFILE.md §3),
 * so a tc program can key a new flow without a round trip to user space:
 *
 *   STK       = LabeledExpand(prk, "pdmv2 key",   flow, Nk)
 *   BaseNonce = LabeledExpand(prk, "pdmv2 nonce", flow, Nn)
 *   rn key    = LabeledExpand(prk, "pdmv2 rn",    flow, 16)  (lib/profile.c)
 *
 * with flow = SrcIP(16) || SrcPort(2) || DstIP(16) || DstPort(2) ||
 * Protocol(1) || Kri(2), the sender's view. Every L here is at most Nh, so
 * HKDF-Expand is its first block alone: T(1) = HMAC(prk, labeled_info ||
 * 0x01), cut to L bytes. HMAC starts from states user space computes once
 * per secret (tools/agent/ebpf_kdf.c): the SHA-2 chaining values after one
 * block of prk ^ ipad and prk ^ opad, so prk itself never enters the
 * kernel. What is left per expansion: the inner message (labeled_info ||
 * 0x01 is 67..70 bytes: two SHA-256 blocks or one SHA-512 block) and one
 * outer block. A whole direction (three labels) is 9 SHA-256 or 6
 * SHA-384/512 compressions.
 *
 * The first part (struct layouts) is shared with user space, which
 * includes this file after <linux/types.h>; the rest is for BPF programs
 * only. The compression functions and pdm_kdf_derive() are global
 * (__noinline, not static) functions: the verifier checks each once, not
 * once per call, and the caller's instruction count grows by a call. The
 * message schedule and the message blocks live in the per-CPU map
 * pdm_kdf_scratch, not on the stack (the tc programs need theirs); tc
 * programs run with bottom halves off, so one CPU never runs two
 * derivations at once on its scratch.
 *
 * From a tc program, with sec a struct pdm_kdf_secret in the caller's map
 * (one entry per secret, written by user space) and k its flow key:
 *     struct pdm_kdf_scratch *s = pdm_kdf_scratch_get();
 *     if (s) {
 *         pdm_kdf_flow_info(s->io.flow, k->local, k->lport, k->remote, k->rport,
 *                           k->proto, kri);          (the sender's view: TX)
 *         rv = pdm_kdf_derive(sec, &s->io, PDM_KDF_F_RN);
 *     }
 * then s->io.stk (Nk bytes), s->io.base_nonce and s->io.rn_key. For the
 * peer's direction (RX) swap local and remote and leave out the flag.
 * Cost: docs/fastpath-design.md (about 3 us per direction).
 */
#ifndef PDM_BPF_KDF_H
#define PDM_BPF_KDF_H

#define PDM_KDF_SHA256 1 /* RFC 9180 KDF ids: HKDF-SHA256 */
#define PDM_KDF_SHA384 2
#define PDM_KDF_SHA512 3

#define PDM_KDF_FLOW_LEN 39 /* PROFILE.md §3 flow */
#define PDM_KDF_RN_LEN   16 /* the RN permutation key */

/* pdm_kdf_derive() flags */
#define PDM_KDF_F_RN 1 /* also the RN key (a sender's) */

/* pdm_kdf_derive() errors (negative) */
#define PDM_KDF_EINVAL 1 /* a secret that is not filled in, or NULL */

/*
 * One secret (one SharedSecret and salt, so one prk), written by user
 * space (agent_ebpf_kdf_secret()). SHA-256 chaining values sit in the low
 * 32 bits of ih and oh (the rest zero); SHA-384 uses SHA-512's words. A
 * slot whose kdf is 0 is empty.
 */
struct pdm_kdf_secret {
    __u64 ih[8];       /* inner: after the block prk ^ ipad */
    __u64 oh[8];       /* outer: after the block prk ^ opad */
    __u8 suite_id[10]; /* "HPKE" || kem_id || kdf_id || aead_id (RFC 9180 §5.1) */
    __u8 kdf;          /* PDM_KDF_SHA256 .. PDM_KDF_SHA512 */
    __u8 nh;           /* 32, 48, 64 */
    __u8 nk;           /* 16 or 32 */
    __u8 nn;           /* 12 */
    __u8 pad[2];
};

/* In and out of one derivation. */
struct pdm_kdf_io {
    __u8 flow[40];       /* in: the 39-byte flow (pdm_kdf_flow_info()), 1 byte pad */
    __u8 stk[32];        /* out: STK, Nk bytes (the rest zero) */
    __u8 base_nonce[12]; /* out: BaseNonce */
    __u8 rn_key[16];     /* out: with PDM_KDF_F_RN, else untouched */
};

#ifdef __bpf__

/* Per-CPU working memory; io is free for callers that have no room. */
struct pdm_kdf_scratch {
    __u64 w64[80]; /* SHA-512 message schedule */
    __u32 w32[64]; /* SHA-256 message schedule */
    __u64 h64[8];  /* chaining value in work */
    __u32 h32[8];
    __u64 v64[8]; /* working variables a .. h of the compression */
    __u32 v32[8];
    __u8 m[128]; /* the block(s) being hashed */
    __u8 t[64];  /* T(1) */
    struct pdm_kdf_io io;
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct pdm_kdf_scratch);
} pdm_kdf_scratch SEC(".maps");

static const __u32 pdm_kdf_k256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const __u64 pdm_kdf_k512[80] = {
    0x428a2f98d728ae22ull, 0x7137449123ef65cdull, 0xb5c0fbcfec4d3b2full, 0xe9b5dba58189dbbcull,
    0x3956c25bf348b538ull, 0x59f111f1b605d019ull, 0x923f82a4af194f9bull, 0xab1c5ed5da6d8118ull,
    0xd807aa98a3030242ull, 0x12835b0145706fbeull, 0x243185be4ee4b28cull, 0x550c7dc3d5ffb4e2ull,
    0x72be5d74f27b896full, 0x80deb1fe3b1696b1ull, 0x9bdc06a725c71235ull, 0xc19bf174cf692694ull,
    0xe49b69c19ef14ad2ull, 0xefbe4786384f25e3ull, 0x0fc19dc68b8cd5b5ull, 0x240ca1cc77ac9c65ull,
    0x2de92c6f592b0275ull, 0x4a7484aa6ea6e483ull, 0x5cb0a9dcbd41fbd4ull, 0x76f988da831153b5ull,
    0x983e5152ee66dfabull, 0xa831c66d2db43210ull, 0xb00327c898fb213full, 0xbf597fc7beef0ee4ull,
    0xc6e00bf33da88fc2ull, 0xd5a79147930aa725ull, 0x06ca6351e003826full, 0x142929670a0e6e70ull,
    0x27b70a8546d22ffcull, 0x2e1b21385c26c926ull, 0x4d2c6dfc5ac42aedull, 0x53380d139d95b3dfull,
    0x650a73548baf63deull, 0x766a0abb3c77b2a8ull, 0x81c2c92e47edaee6ull, 0x92722c851482353bull,
    0xa2bfe8a14cf10364ull, 0xa81a664bbc423001ull, 0xc24b8b70d0f89791ull, 0xc76c51a30654be30ull,
    0xd192e819d6ef5218ull, 0xd69906245565a910ull, 0xf40e35855771202aull, 0x106aa07032bbd1b8ull,
    0x19a4c116b8d2d0c8ull, 0x1e376c085141ab53ull, 0x2748774cdf8eeb99ull, 0x34b0bcb5e19b48a8ull,
    0x391c0cb3c5c95a63ull, 0x4ed8aa4ae3418acbull, 0x5b9cca4f7763e373ull, 0x682e6ff3d6b2b8a3ull,
    0x748f82ee5defb2fcull, 0x78a5636f43172f60ull, 0x84c87814a1f0ab72ull, 0x8cc702081a6439ecull,
    0x90befffa23631e28ull, 0xa4506cebde82bde9ull, 0xbef9a3f7b2c67915ull, 0xc67178f2e372532bull,
    0xca273eceea26619cull, 0xd186b8c721c0c207ull, 0xeada7dd6cde0eb1eull, 0xf57d4f7fee6ed178ull,
    0x06f067aa72176fbaull, 0x0a637dc5a2c898a6ull, 0x113f9804bef90daeull, 0x1b710b35131c471bull,
    0x28db77f523047d84ull, 0x32caab7b40c72493ull, 0x3c9ebe0a15c9bebcull, 0x431d67c49c100d4cull,
    0x4cc5d4becb3e42b6ull, 0x597f299cfc657e2aull, 0x5fcb6fab3ad6faecull, 0x6c44198c4a475817ull,
};

/*
 * p made opaque to the compiler: addresses computed from it before are
 * not reused after, so they are not kept in stack spills across a loop or
 * a call (a few adds instead of stack the tc programs cannot spare).
 */
#define KDF_OPAQUE(p) asm volatile("" : "+r"(p))

#define KDF_ROR32(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define KDF_ROR64(x, n) (((x) >> (n)) | ((x) << (64 - (n))))

/*
 * One SHA-256 round on the working variables v[0..7] in the scratch map,
 * a .. h being indices the caller rotates instead of moving the values.
 * Kept in memory on purpose: with them in registers clang spills about
 * 100 bytes of stack per compression, which the tc programs cannot spare;
 * the barrier keeps it from caching them across rounds.
 */
#define KDF_M256(a, b, c, d, e, f, g, h, i)                                                        \
    do {                                                                                           \
        __u32 e_ = v[e], t_;                                                                       \
        t_ = v[h] + (KDF_ROR32(e_, 6) ^ KDF_ROR32(e_, 11) ^ KDF_ROR32(e_, 25)) +                   \
             ((e_ & v[f]) ^ (~e_ & v[g])) + w[i];                                                  \
        v[d] += t_;                                                                                \
        e_ = v[a];                                                                                 \
        t_ += (KDF_ROR32(e_, 2) ^ KDF_ROR32(e_, 13) ^ KDF_ROR32(e_, 22)) +                         \
              ((e_ & v[b]) | (v[c] & (e_ | v[b])));                                                \
        v[h] = t_;                                                                                 \
        asm volatile("" ::: "memory");                                                             \
    } while (0)

#define KDF_M512(a, b, c, d, e, f, g, h, i)                                                        \
    do {                                                                                           \
        __u64 e_ = v[e], t_;                                                                       \
        t_ = v[h] + (KDF_ROR64(e_, 14) ^ KDF_ROR64(e_, 18) ^ KDF_ROR64(e_, 41)) +                  \
             ((e_ & v[f]) ^ (~e_ & v[g])) + w[i];                                                  \
        v[d] += t_;                                                                                \
        e_ = v[a];                                                                                 \
        t_ += (KDF_ROR64(e_, 28) ^ KDF_ROR64(e_, 34) ^ KDF_ROR64(e_, 39)) +                        \
              ((e_ & v[b]) | (v[c] & (e_ | v[b])));                                                \
        v[h] = t_;                                                                                 \
        asm volatile("" ::: "memory");                                                             \
    } while (0)

/*
 * SHA-256 compression of the 64-byte block at s->m + off (off 0 or 64)
 * into s->h32. Returns 0 (a global function returns a scalar).
 */
__noinline int pdm_kdf_sha256_block(struct pdm_kdf_scratch *s, __u32 off)
{
    __u32 *w, *v;

    if (!s)
        return 0;
    off &= 64;
    w = s->w32;
    for (int i = 0; i < 16; i++)
        w[i] = __builtin_bswap32(*(__u32 *)(s->m + off + 4 * i));
    for (int i = 16; i < 64; i++) {
        __u32 x = w[i - 15], y = w[i - 2];

        w[i] = w[i - 16] + w[i - 7] + (KDF_ROR32(x, 7) ^ KDF_ROR32(x, 18) ^ (x >> 3)) +
               (KDF_ROR32(y, 17) ^ KDF_ROR32(y, 19) ^ (y >> 10));
    }
    KDF_OPAQUE(s);
    w = s->w32;
    v = s->v32;
    /* The rounds need only W + K: one load each. */
    for (int i = 0; i < 64; i++)
        w[i] += pdm_kdf_k256[i & 63];
    for (int i = 0; i < 8; i++)
        v[i] = s->h32[i];
#pragma nounroll
    for (int i = 0; i < 64; i += 8) {
        KDF_M256(0, 1, 2, 3, 4, 5, 6, 7, (i + 0) & 63);
        KDF_M256(7, 0, 1, 2, 3, 4, 5, 6, (i + 1) & 63);
        KDF_M256(6, 7, 0, 1, 2, 3, 4, 5, (i + 2) & 63);
        KDF_M256(5, 6, 7, 0, 1, 2, 3, 4, (i + 3) & 63);
        KDF_M256(4, 5, 6, 7, 0, 1, 2, 3, (i + 4) & 63);
        KDF_M256(3, 4, 5, 6, 7, 0, 1, 2, (i + 5) & 63);
        KDF_M256(2, 3, 4, 5, 6, 7, 0, 1, (i + 6) & 63);
        KDF_M256(1, 2, 3, 4, 5, 6, 7, 0, (i + 7) & 63);
    }
    for (int i = 0; i < 8; i++)
        s->h32[i] += v[i];
    return 0;
}

/* SHA-512 compression of the 128-byte block s->m into s->h64. */
__noinline int pdm_kdf_sha512_block(struct pdm_kdf_scratch *s)
{
    __u64 *w, *v;

    if (!s)
        return 0;
    w = s->w64;
    for (int i = 0; i < 16; i++)
        w[i] = __builtin_bswap64(*(__u64 *)(s->m + 8 * i));
    for (int i = 16; i < 80; i++) {
        __u64 x = w[i - 15], y = w[i - 2];

        w[i] = w[i - 16] + w[i - 7] + (KDF_ROR64(x, 1) ^ KDF_ROR64(x, 8) ^ (x >> 7)) +
               (KDF_ROR64(y, 19) ^ KDF_ROR64(y, 61) ^ (y >> 6));
    }
    KDF_OPAQUE(s);
    w = s->w64;
    v = s->v64;
    for (int i = 0; i < 80; i++)
        w[i] += pdm_kdf_k512[i % 80];
    for (int i = 0; i < 8; i++)
        v[i] = s->h64[i];
#pragma nounroll
    for (int i = 0; i < 80; i += 8) {
        KDF_M512(0, 1, 2, 3, 4, 5, 6, 7, (i + 0) % 80);
        KDF_M512(7, 0, 1, 2, 3, 4, 5, 6, (i + 1) % 80);
        KDF_M512(6, 7, 0, 1, 2, 3, 4, 5, (i + 2) % 80);
        KDF_M512(5, 6, 7, 0, 1, 2, 3, 4, (i + 3) % 80);
        KDF_M512(4, 5, 6, 7, 0, 1, 2, 3, (i + 4) % 80);
        KDF_M512(3, 4, 5, 6, 7, 0, 1, 2, (i + 5) % 80);
        KDF_M512(2, 3, 4, 5, 6, 7, 0, 1, (i + 6) % 80);
        KDF_M512(1, 2, 3, 4, 5, 6, 7, 0, (i + 7) % 80);
    }
    for (int i = 0; i < 8; i++)
        s->h64[i] += v[i];
    return 0;
}

/* The scratch map's value of this CPU (its io is free for the caller). */
static __always_inline struct pdm_kdf_scratch *pdm_kdf_scratch_get(void)
{
    __u32 zero = 0;

    return bpf_map_lookup_elem(&pdm_kdf_scratch, &zero);
}

/*
 * T(1) of LabeledExpand(prk, label, flow, L) into s->t (Nh bytes):
 * HMAC(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id || label || flow || 0x01)
 * from the secret's precomputed inner and outer states. label and its
 * length are constants at every call, so the message offsets are too.
 */
static __always_inline void kdf_t1(struct pdm_kdf_scratch *s, const struct pdm_kdf_secret *sec,
                                   const __u8 *flow, const char *label, const __u32 lablen, __u32 L)
{
    const __u32 n = 2 + 7 + 10 + lablen + PDM_KDF_FLOW_LEN + 1; /* 67 .. 70 */
    const char hpke[7] = {'H', 'P', 'K', 'E', '-', 'v', '1'};
    int wide = sec->kdf != PDM_KDF_SHA256;
    __u64 bits;

    KDF_OPAQUE(s);
    /* labeled_info || 0x01, then the padding of a message after one block. */
#pragma nounroll
    for (int i = 0; i < 16; i++)
        ((__u64 *)s->m)[i] = 0;
    s->m[0] = (__u8)(L >> 8);
    s->m[1] = (__u8)L;
#pragma nounroll
    for (int i = 0; i < 7; i++)
        s->m[2 + i] = hpke[i];
#pragma nounroll
    for (int i = 0; i < 10; i++)
        s->m[9 + i] = sec->suite_id[i];
#pragma nounroll
    for (__u32 i = 0; i < lablen; i++)
        s->m[19 + i] = label[i];
#pragma nounroll
    for (int i = 0; i < PDM_KDF_FLOW_LEN; i++)
        s->m[19 + lablen + i] = flow[i];
    s->m[n - 1] = 0x01;
    s->m[n] = 0x80;
    /* Bit length of block + message: SHA-256 blocks are 64 bytes, SHA-512's 128. */
    bits = ((wide ? 128 : 64) + n) * 8;
    ((__u64 *)s->m)[15] = __builtin_bswap64(bits);

    if (!wide) {
#pragma nounroll
        for (int i = 0; i < 8; i++)
            s->h32[i] = (__u32)sec->ih[i];
        pdm_kdf_sha256_block(s, 0);
        KDF_OPAQUE(s);
        pdm_kdf_sha256_block(s, 64);
        KDF_OPAQUE(s);
        /* Outer: the 32-byte inner digest, padded, after the opad block. */
#pragma nounroll
        for (int i = 0; i < 8; i++) {
            ((__u32 *)s->m)[i] = __builtin_bswap32(s->h32[i]);
            ((__u32 *)s->m)[8 + i] = 0;
            s->h32[i] = (__u32)sec->oh[i];
        }
        s->m[32] = 0x80;
        ((__u32 *)s->m)[15] = __builtin_bswap32((64 + 32) * 8);
        pdm_kdf_sha256_block(s, 0);
        KDF_OPAQUE(s);
#pragma nounroll
        for (int i = 0; i < 8; i++)
            ((__u32 *)s->t)[i] = __builtin_bswap32(s->h32[i]);
        return;
    }
#pragma nounroll
    for (int i = 0; i < 8; i++)
        s->h64[i] = sec->ih[i];
    pdm_kdf_sha512_block(s);
    KDF_OPAQUE(s);
    /* Outer: the Nh-byte inner digest (SHA-384: its first 6 words), padded. */
    __u32 nh = sec->kdf == PDM_KDF_SHA384 ? 48 : 64;
#pragma nounroll
    for (int i = 0; i < 8; i++) {
        ((__u64 *)s->m)[i] = i * 8 < nh ? __builtin_bswap64(s->h64[i]) : 0;
        ((__u64 *)s->m)[8 + i] = 0;
        s->h64[i] = sec->oh[i];
    }
    if (nh == 48)
        s->m[48] = 0x80;
    else
        s->m[64] = 0x80;
    ((__u64 *)s->m)[15] = __builtin_bswap64((__u64)(128 + nh) * 8);
    pdm_kdf_sha512_block(s);
    KDF_OPAQUE(s);
#pragma nounroll
    for (int i = 0; i < 8; i++)
        ((__u64 *)s->t)[i] = __builtin_bswap64(s->h64[i]);
}

/* The first L (<= max) bytes of T(1) into out, zeros after them up to max. */
static __always_inline void kdf_out(const struct pdm_kdf_scratch *s, __u8 *out, const __u32 max,
                                    __u32 L)
{
#pragma nounroll
    for (__u32 i = 0; i < max; i++)
        out[i] = i < L ? s->t[i] : 0;
}

/*
 * STK, BaseNonce and (flags & PDM_KDF_F_RN) the RN key of the flow
 * direction io->flow under sec into io: byte for byte what lib's
 * pdm_profile_derive() and the "pdmv2 rn" expansion give. sec and io may
 * be map values (or io the scratch map's own io). 0 or -PDM_KDF_EINVAL.
 */
__noinline int pdm_kdf_derive(const struct pdm_kdf_secret *sec, struct pdm_kdf_io *io, __u32 flags)
{
    struct pdm_kdf_scratch *s;
    __u32 nk;

    if (!sec || !io)
        return -PDM_KDF_EINVAL;
    nk = sec->nk;
    if (sec->kdf < PDM_KDF_SHA256 || sec->kdf > PDM_KDF_SHA512 || (nk != 16 && nk != 32) ||
        sec->nn != 12)
        return -PDM_KDF_EINVAL;
    s = pdm_kdf_scratch_get();
    if (!s)
        return -PDM_KDF_EINVAL;
    kdf_t1(s, sec, io->flow, "pdmv2 key", 9, nk);
    kdf_out(s, io->stk, 32, nk);
    kdf_t1(s, sec, io->flow, "pdmv2 nonce", 11, 12);
    kdf_out(s, io->base_nonce, 12, 12);
    if (flags & PDM_KDF_F_RN) {
        kdf_t1(s, sec, io->flow, "pdmv2 rn", 8, PDM_KDF_RN_LEN);
        kdf_out(s, io->rn_key, PDM_KDF_RN_LEN, PDM_KDF_RN_LEN);
    }
    return 0;
}

/* Protocols whose ports enter flow (PROFILE.md §3): TCP, UDP, DCCP, SCTP, UDP-Lite. */
static __always_inline int pdm_kdf_has_ports(__u8 proto)
{
    return proto == 6 || proto == 17 || proto == 33 || proto == 132 || proto == 136;
}

/* The 39-byte flow of the direction src -> dst at kri (ports in host order). */
static __always_inline void pdm_kdf_flow_info(__u8 *out, const __u8 *src, __u16 sport,
                                              const __u8 *dst, __u16 dport, __u8 proto, __u16 kri)
{
    if (!pdm_kdf_has_ports(proto))
        sport = dport = 0;
#pragma nounroll
    for (int i = 0; i < 16; i++) {
        out[i] = src[i];
        out[18 + i] = dst[i];
    }
    out[16] = (__u8)(sport >> 8);
    out[17] = (__u8)sport;
    out[34] = (__u8)(dport >> 8);
    out[35] = (__u8)dport;
    out[36] = proto;
    out[37] = (__u8)(kri >> 8);
    out[38] = (__u8)kri;
}

#endif /* __bpf__ */
#endif /* PDM_BPF_KDF_H */
