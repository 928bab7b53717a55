/*
 * AES-128 and AES-256 in plain BPF (no kfunc), for the packets of a flow
 * whose keys were derived in BPF before user space has installed the
 * kernel's crypto context (bpf/aead.h's "ecb(aes)" kptr, which only a
 * sleepable syscall program run by user space can create). It makes what
 * aead.h's GCM path needs, so the existing GHASH and tag code runs as is:
 * H = AES_K(0^128) and its GHASH table once per key, and per option
 * E(J0) || E(inc32(J0)) (J0 = nonce || 00000001), the 32 bytes
 * aead_gcm_blocks() leaves in pdm_aead_scratch's dst. Include after
 * aead.h.
 *
 * API (all 0 or a negative PDM_AEAD_E* / PDM_AES_SOFT_E* code):
 *   pdm_aes_soft_key_slot(k, a, suite, stk)  keys a slot from STK: schedule,
 *                          H, table, suite (what a BPF key derivation calls)
 *   pdm_aes_soft_blocks_any(a, k, nonce, &rv)  drop-in for
 *                          aead_gcm_blocks(a, nonce, &rv): the kfunc when
 *                          a->aes is there, else the schedule k
 *   pdm_aes_soft_expand(k, key, len), pdm_aes_soft_encrypt(k, in, out),
 *   pdm_aes_soft_encrypt_words(k, w), pdm_aes_soft_gcm_blocks(k, nonce,
 *   dst), pdm_aes_soft_ghash_init(k, a->ghash)  the pieces.
 * Wired into bpf/pdm_v2enc.h this way (the program's own slots, bpf/pdm_v2key.h):
 * `struct pdm_aes_soft_key soft;` at the end of struct pdm_v2enc_slot, and
 * in v2enc_seal_gcm() / v2enc_open_gcm() aead_gcm_blocks(&sl->aead, ...)
 * is pdm_aes_soft_blocks_any(&sl->aead, &sl->soft, ...). User space
 * creating or writing a whole slot must leave soft zeroed (rounds 0: no
 * key), its mirror of the slot (tools/agent/ebpf_keys.c) 248 bytes longer.
 *
 * Round keys (struct pdm_aes_soft_key, 248 bytes) live in a map value the
 * caller provides (the flow's key slot, beside its struct pdm_aead_key),
 * never on the stack: the stack is 512 bytes for the whole tc call chain.
 * The cipher and the blocks are __noinline subprograms (frames of 80, 104
 * fixed-time, and 24 bytes), the rest thin inline wrappers around them.
 *
 * The cipher is by default the classic 32-bit T-table one
 * (rijndael-alg-fst.c): four 1 KiB tables in .rodata, built by the
 * compiler from the S-box below, every offset masked to 0..1020 so the
 * verifier sees it inside its array. Table lookups depend on key and
 * data, so like any T-table AES this is not constant time against an
 * attacker sharing the CPU's caches. With PDM_AES_SOFT_FIXED_TIME defined
 * before the include it is instead the kernel's fixed-time construction
 * (lib/crypto/aes.c, the "aes-fixed-time" the kfunc uses here): one
 * 256-byte S-box whose 4 cache lines are all read before any
 * data-dependent lookup, MixColumns computed; ~1.6x the T-table's cost.
 * A slot is keyed once and not re-keyed while in use (aead.h's rule);
 * the schedule's rounds word is written last.
 */
#ifndef PDM_BPF_AES_SOFT_H
#define PDM_BPF_AES_SOFT_H

#define PDM_AES_SOFT_RK_WORDS 60 /* 4 * (14 + 1): AES-256's schedule */

/* pdm_aes_soft_key_slot(): the slot holds a kfunc context (returned as
 * -PDM_AES_SOFT_EBUSY; aead.h's codes are 1 .. 4). */
#define PDM_AES_SOFT_EBUSY 5

struct pdm_aes_soft_key {
    __u32 rk[PDM_AES_SOFT_RK_WORDS]; /* FIPS-197 w[i], big-endian words */
    __u32 rounds;                    /* 10 (AES-128), 14 (AES-256), 0: no key */
    __u32 pad;
};

/* The FIPS-197 S-box, as X(value) for the table builders below. */
// clang-format off
#define AES_SOFT_SBOX(X) \
    X(0x63) X(0x7c) X(0x77) X(0x7b) X(0xf2) X(0x6b) X(0x6f) X(0xc5) \
    X(0x30) X(0x01) X(0x67) X(0x2b) X(0xfe) X(0xd7) X(0xab) X(0x76) \
    X(0xca) X(0x82) X(0xc9) X(0x7d) X(0xfa) X(0x59) X(0x47) X(0xf0) \
    X(0xad) X(0xd4) X(0xa2) X(0xaf) X(0x9c) X(0xa4) X(0x72) X(0xc0) \
    X(0xb7) X(0xfd) X(0x93) X(0x26) X(0x36) X(0x3f) X(0xf7) X(0xcc) \
    X(0x34) X(0xa5) X(0xe5) X(0xf1) X(0x71) X(0xd8) X(0x31) X(0x15) \
    X(0x04) X(0xc7) X(0x23) X(0xc3) X(0x18) X(0x96) X(0x05) X(0x9a) \
    X(0x07) X(0x12) X(0x80) X(0xe2) X(0xeb) X(0x27) X(0xb2) X(0x75) \
    X(0x09) X(0x83) X(0x2c) X(0x1a) X(0x1b) X(0x6e) X(0x5a) X(0xa0) \
    X(0x52) X(0x3b) X(0xd6) X(0xb3) X(0x29) X(0xe3) X(0x2f) X(0x84) \
    X(0x53) X(0xd1) X(0x00) X(0xed) X(0x20) X(0xfc) X(0xb1) X(0x5b) \
    X(0x6a) X(0xcb) X(0xbe) X(0x39) X(0x4a) X(0x4c) X(0x58) X(0xcf) \
    X(0xd0) X(0xef) X(0xaa) X(0xfb) X(0x43) X(0x4d) X(0x33) X(0x85) \
    X(0x45) X(0xf9) X(0x02) X(0x7f) X(0x50) X(0x3c) X(0x9f) X(0xa8) \
    X(0x51) X(0xa3) X(0x40) X(0x8f) X(0x92) X(0x9d) X(0x38) X(0xf5) \
    X(0xbc) X(0xb6) X(0xda) X(0x21) X(0x10) X(0xff) X(0xf3) X(0xd2) \
    X(0xcd) X(0x0c) X(0x13) X(0xec) X(0x5f) X(0x97) X(0x44) X(0x17) \
    X(0xc4) X(0xa7) X(0x7e) X(0x3d) X(0x64) X(0x5d) X(0x19) X(0x73) \
    X(0x60) X(0x81) X(0x4f) X(0xdc) X(0x22) X(0x2a) X(0x90) X(0x88) \
    X(0x46) X(0xee) X(0xb8) X(0x14) X(0xde) X(0x5e) X(0x0b) X(0xdb) \
    X(0xe0) X(0x32) X(0x3a) X(0x0a) X(0x49) X(0x06) X(0x24) X(0x5c) \
    X(0xc2) X(0xd3) X(0xac) X(0x62) X(0x91) X(0x95) X(0xe4) X(0x79) \
    X(0xe7) X(0xc8) X(0x37) X(0x6d) X(0x8d) X(0xd5) X(0x4e) X(0xa9) \
    X(0x6c) X(0x56) X(0xf4) X(0xea) X(0x65) X(0x7a) X(0xae) X(0x08) \
    X(0xba) X(0x78) X(0x25) X(0x2e) X(0x1c) X(0xa6) X(0xb4) X(0xc6) \
    X(0xe8) X(0xdd) X(0x74) X(0x1f) X(0x4b) X(0xbd) X(0x8b) X(0x8a) \
    X(0x70) X(0x3e) X(0xb5) X(0x66) X(0x48) X(0x03) X(0xf6) X(0x0e) \
    X(0x61) X(0x35) X(0x57) X(0xb9) X(0x86) X(0xc1) X(0x1d) X(0x9e) \
    X(0xe1) X(0xf8) X(0x98) X(0x11) X(0x69) X(0xd9) X(0x8e) X(0x94) \
    X(0x9b) X(0x1e) X(0x87) X(0xe9) X(0xce) X(0x55) X(0x28) X(0xdf) \
    X(0x8c) X(0xa1) X(0x89) X(0x0d) X(0xbf) X(0xe6) X(0x42) X(0x68) \
    X(0x41) X(0x99) X(0x2d) X(0x0f) X(0xb0) X(0x54) X(0xbb) X(0x16)
// clang-format on

#define AES_SOFT_X2(s) ((((s) << 1) ^ (((s) >> 7) * 0x1b)) & 0xff)
#ifndef PDM_AES_SOFT_FIXED_TIME
/* Te0[x] = {2s, s, s, 3s} with s = S[x]; Te1..Te3 are its byte rotations. */
#define AES_SOFT_TE0(s)                                                                            \
    (((__u32)AES_SOFT_X2(s) << 24) | ((__u32)(s) << 16) | ((__u32)(s) << 8) |                      \
     (__u32)(AES_SOFT_X2(s) ^ (s))),
#define AES_SOFT_TE1(s)                                                                            \
    (((__u32)(AES_SOFT_X2(s) ^ (s)) << 24) | ((__u32)AES_SOFT_X2(s) << 16) | ((__u32)(s) << 8) |   \
     (__u32)(s)),
#define AES_SOFT_TE2(s)                                                                            \
    (((__u32)(s) << 24) | ((__u32)(AES_SOFT_X2(s) ^ (s)) << 16) | ((__u32)AES_SOFT_X2(s) << 8) |   \
     (__u32)(s)),
#define AES_SOFT_TE3(s)                                                                            \
    (((__u32)(s) << 24) | ((__u32)(s) << 16) | ((__u32)(AES_SOFT_X2(s) ^ (s)) << 8) |              \
     (__u32)AES_SOFT_X2(s)),

static const __u32 aes_soft_te0[256] = {AES_SOFT_SBOX(AES_SOFT_TE0)};
static const __u32 aes_soft_te1[256] = {AES_SOFT_SBOX(AES_SOFT_TE1)};
static const __u32 aes_soft_te2[256] = {AES_SOFT_SBOX(AES_SOFT_TE2)};
static const __u32 aes_soft_te3[256] = {AES_SOFT_SBOX(AES_SOFT_TE3)};

/* The S-box bytes, taken from the tables (S[x] sits in every one). */
#define AES_SOFT_S3(x) (aes_soft_te2[(x)&0xff] & 0xff000000u) /* S[x] << 24 */
#define AES_SOFT_S2(x) (aes_soft_te3[(x)&0xff] & 0x00ff0000u) /* S[x] << 16 */
#define AES_SOFT_S1(x) (aes_soft_te0[(x)&0xff] & 0x0000ff00u) /* S[x] << 8 */
#define AES_SOFT_S0(x) (aes_soft_te1[(x)&0xff] & 0x000000ffu) /* S[x] */

/* Te[byte n of x]: the byte index scaled to the table's byte offset by
 * one shift and one mask (0..1020, 4-aligned: inside the 1 KiB array for
 * the verifier), one instruction fewer than index then scale. */
#define AES_SOFT_T(te, x, n)                                                                       \
    (*(const __u32 *)((const __u8 *)(te) +                                                         \
                      ((n) == 0 ? (((x) << 2) & 0x3fc) : (((x) >> (8 * (n)-2)) & 0x3fc))))

/* One full round: MixColumns(ShiftRows(SubBytes(i))) ^ rk[0..3] into o. */
#define AES_SOFT_ROUND(o, i, rk)                                                                   \
    do {                                                                                           \
        (o)[0] = AES_SOFT_T(aes_soft_te0, (i)[0], 3) ^ AES_SOFT_T(aes_soft_te1, (i)[1], 2) ^       \
                 AES_SOFT_T(aes_soft_te2, (i)[2], 1) ^ AES_SOFT_T(aes_soft_te3, (i)[3], 0) ^       \
                 (rk)[0];                                                                          \
        (o)[1] = AES_SOFT_T(aes_soft_te0, (i)[1], 3) ^ AES_SOFT_T(aes_soft_te1, (i)[2], 2) ^       \
                 AES_SOFT_T(aes_soft_te2, (i)[3], 1) ^ AES_SOFT_T(aes_soft_te3, (i)[0], 0) ^       \
                 (rk)[1];                                                                          \
        (o)[2] = AES_SOFT_T(aes_soft_te0, (i)[2], 3) ^ AES_SOFT_T(aes_soft_te1, (i)[3], 2) ^       \
                 AES_SOFT_T(aes_soft_te2, (i)[0], 1) ^ AES_SOFT_T(aes_soft_te3, (i)[1], 0) ^       \
                 (rk)[2];                                                                          \
        (o)[3] = AES_SOFT_T(aes_soft_te0, (i)[3], 3) ^ AES_SOFT_T(aes_soft_te1, (i)[0], 2) ^       \
                 AES_SOFT_T(aes_soft_te2, (i)[1], 1) ^ AES_SOFT_T(aes_soft_te3, (i)[2], 0) ^       \
                 (rk)[3];                                                                          \
    } while (0)

#define AES_SOFT_PRELOAD(j) 0

#else /* PDM_AES_SOFT_FIXED_TIME */

/* Fixed-time variant: the 256-byte S-box alone (4 cache lines, all read
 * at the start of every block), MixColumns computed on the column word,
 * as the kernel's lib/crypto/aes.c (aes-fixed-time) does. */
#define AES_SOFT_SB(s) (s),
static const volatile __u8 aes_soft_sbox[256]
    __attribute__((aligned(64))) = {AES_SOFT_SBOX(AES_SOFT_SB)};

#define AES_SOFT_S3(x) ((__u32)aes_soft_sbox[(x)&0xff] << 24)
#define AES_SOFT_S2(x) ((__u32)aes_soft_sbox[(x)&0xff] << 16)
#define AES_SOFT_S1(x) ((__u32)aes_soft_sbox[(x)&0xff] << 8)
#define AES_SOFT_S0(x) ((__u32)aes_soft_sbox[(x)&0xff])

/* S[0] ^ S[64] ^ S[134] ^ S[195] and the like are 0: one read in each of
 * the S-box's cache lines before any data-dependent one (the kernel's
 * trick; volatile keeps the compiler from folding them). */
#define AES_SOFT_PL(a, b, c, d)                                                                    \
    ((__u32)(aes_soft_sbox[a] ^ aes_soft_sbox[b] ^ aes_soft_sbox[c] ^ aes_soft_sbox[d]))
#define AES_SOFT_PRELOAD(j)                                                                        \
    ((j) == 0   ? AES_SOFT_PL(0, 64, 134, 195)                                                     \
     : (j) == 1 ? AES_SOFT_PL(16, 82, 158, 221)                                                    \
     : (j) == 2 ? AES_SOFT_PL(32, 96, 160, 234)                                                    \
                : AES_SOFT_PL(48, 112, 186, 241))

static __always_inline __u32 aes_soft_rol(__u32 x, int n)
{
    return (x << n) | (x >> (32 - n));
}

/* MixColumns of one column, row 0 in the top byte. */
static __always_inline __u32 aes_soft_mix(__u32 x)
{
    __u32 y = (((x & 0x7f7f7f7fu) << 1) ^ (((x >> 7) & 0x01010101u) * 0x1b)) ^ aes_soft_rol(x, 16);

    return y ^ aes_soft_rol(x ^ y, 8);
}

#define AES_SOFT_SUBSHIFT(i, a, b, c, d)                                                           \
    (AES_SOFT_S3((i)[a] >> 24) ^ AES_SOFT_S2((i)[b] >> 16) ^ AES_SOFT_S1((i)[c] >> 8) ^            \
     AES_SOFT_S0((i)[d]))

#define AES_SOFT_ROUND(o, i, rk)                                                                   \
    do {                                                                                           \
        (o)[0] = aes_soft_mix(AES_SOFT_SUBSHIFT(i, 0, 1, 2, 3)) ^ (rk)[0];                         \
        (o)[1] = aes_soft_mix(AES_SOFT_SUBSHIFT(i, 1, 2, 3, 0)) ^ (rk)[1];                         \
        (o)[2] = aes_soft_mix(AES_SOFT_SUBSHIFT(i, 2, 3, 0, 1)) ^ (rk)[2];                         \
        (o)[3] = aes_soft_mix(AES_SOFT_SUBSHIFT(i, 3, 0, 1, 2)) ^ (rk)[3];                         \
    } while (0)

#endif /* PDM_AES_SOFT_FIXED_TIME */

/* The last round (no MixColumns). */
#define AES_SOFT_FINAL(o, i, rk)                                                                   \
    do {                                                                                           \
        (o)[0] = AES_SOFT_S3((i)[0] >> 24) ^ AES_SOFT_S2((i)[1] >> 16) ^                           \
                 AES_SOFT_S1((i)[2] >> 8) ^ AES_SOFT_S0((i)[3]) ^ (rk)[0];                         \
        (o)[1] = AES_SOFT_S3((i)[1] >> 24) ^ AES_SOFT_S2((i)[2] >> 16) ^                           \
                 AES_SOFT_S1((i)[3] >> 8) ^ AES_SOFT_S0((i)[0]) ^ (rk)[1];                         \
        (o)[2] = AES_SOFT_S3((i)[2] >> 24) ^ AES_SOFT_S2((i)[3] >> 16) ^                           \
                 AES_SOFT_S1((i)[0] >> 8) ^ AES_SOFT_S0((i)[1]) ^ (rk)[2];                         \
        (o)[3] = AES_SOFT_S3((i)[3] >> 24) ^ AES_SOFT_S2((i)[0] >> 16) ^                           \
                 AES_SOFT_S1((i)[1] >> 8) ^ AES_SOFT_S0((i)[2]) ^ (rk)[3];                         \
    } while (0)

static __always_inline __u32 aes_soft_be32(const __u8 *p)
{
    return ((__u32)p[0] << 24) | ((__u32)p[1] << 16) | ((__u32)p[2] << 8) | (__u32)p[3];
}

static __always_inline void aes_soft_put_be32(__u8 *p, __u32 v)
{
    p[0] = (__u8)(v >> 24);
    p[1] = (__u8)(v >> 16);
    p[2] = (__u8)(v >> 8);
    p[3] = (__u8)v;
}

/* SubWord(RotWord(t)) ^ rc << 24, and SubWord(t) (AES-256's extra step). */
static __always_inline __u32 aes_soft_subrot(__u32 t, __u32 rc)
{
    return AES_SOFT_S3(t >> 16) ^ AES_SOFT_S2(t >> 8) ^ AES_SOFT_S1(t) ^ AES_SOFT_S0(t >> 24) ^
           (rc << 24);
}

static __always_inline __u32 aes_soft_sub(__u32 t)
{
    return AES_SOFT_S3(t >> 24) ^ AES_SOFT_S2(t >> 16) ^ AES_SOFT_S1(t >> 8) ^ AES_SOFT_S0(t);
}

/*
 * Key expansion (FIPS-197 §5.2) of key (key_len 16 or 32 bytes, anywhere
 * the verifier can read) into *k, a map value. rounds is written last, so
 * a reader that sees it non-zero sees the whole schedule. Returns 0, or
 * -PDM_AEAD_ESUITE for another length (k->rounds is then 0).
 */
static __noinline int pdm_aes_soft_expand(struct pdm_aes_soft_key *k, const __u8 *key,
                                          __u32 key_len)
{
    __u32 *w = k->rk, rc = 1;

    k->rounds = 0;
    if (key_len == 16) {
#pragma unroll
        for (int i = 0; i < 4; i++)
            w[i] = aes_soft_be32(key + 4 * i);
#pragma unroll
        for (int i = 4; i < 44; i += 4) {
            w[i] = w[i - 4] ^ aes_soft_subrot(w[i - 1], rc);
            w[i + 1] = w[i - 3] ^ w[i];
            w[i + 2] = w[i - 2] ^ w[i + 1];
            w[i + 3] = w[i - 1] ^ w[i + 2];
            rc = AES_SOFT_X2(rc);
        }
        __sync_lock_test_and_set(&k->rounds, 10);
        return 0;
    }
    if (key_len != 32)
        return -PDM_AEAD_ESUITE;
#pragma unroll
    for (int i = 0; i < 8; i++)
        w[i] = aes_soft_be32(key + 4 * i);
#pragma unroll
    for (int i = 8; i < 60; i += 8) {
        w[i] = w[i - 8] ^ aes_soft_subrot(w[i - 1], rc);
        w[i + 1] = w[i - 7] ^ w[i];
        w[i + 2] = w[i - 6] ^ w[i + 1];
        w[i + 3] = w[i - 5] ^ w[i + 2];
        rc = AES_SOFT_X2(rc);
        if (i + 4 < 60) {
            w[i + 4] = w[i - 4] ^ aes_soft_sub(w[i + 3]);
            w[i + 5] = w[i - 3] ^ w[i + 4];
            w[i + 6] = w[i - 2] ^ w[i + 5];
            w[i + 7] = w[i - 1] ^ w[i + 6];
        }
    }
    __sync_lock_test_and_set(&k->rounds, 14);
    return 0;
}

/*
 * Encrypts the block w (4 big-endian words, 4-byte aligned: a __u32[4] on
 * the caller's stack or in a map value) in place under k. Two rounds per
 * pass of a loop the verifier walks at most 7 times. Returns 0, or
 * -PDM_AEAD_ENOKEY when k holds no schedule (w is then untouched).
 */
static __noinline int pdm_aes_soft_encrypt_words(const struct pdm_aes_soft_key *k, __u32 *w)
{
    const __u32 *rk = k->rk;
    __u32 nr = k->rounds, s[4], t[4];

    if (nr != 10 && nr != 14)
        return -PDM_AEAD_ENOKEY;
#pragma unroll
    for (int j = 0; j < 4; j++)
        s[j] = w[j] ^ rk[j] ^ AES_SOFT_PRELOAD(j);
#pragma clang loop unroll(disable)
    for (__u32 i = 0; i < 7; i++) {
        AES_SOFT_ROUND(t, s, rk + 8 * i + 4);
        if (2 * i + 2 == nr) {
            AES_SOFT_FINAL(w, t, rk + 8 * i + 8);
            return 0;
        }
        AES_SOFT_ROUND(s, t, rk + 8 * i + 8);
    }
    return -PDM_AEAD_ENOKEY; /* not reached: nr is 10 or 14 */
}

/* One 16-byte block, in and out anywhere (bytes, any alignment; they may
 * be the same buffer). 0 or -PDM_AEAD_ENOKEY. */
static __always_inline int pdm_aes_soft_encrypt(const struct pdm_aes_soft_key *k, const __u8 *in,
                                                __u8 *out)
{
    __u32 w[4];
    int rv;

#pragma unroll
    for (int j = 0; j < 4; j++)
        w[j] = aes_soft_be32(in + 4 * j);
    if ((rv = pdm_aes_soft_encrypt_words(k, w)) != 0)
        return rv;
#pragma unroll
    for (int j = 0; j < 4; j++)
        aes_soft_put_be32(out + 4 * j, w[j]);
    return 0;
}

/*
 * GCM's blocks for one option with the 12-byte nonce: dst (32 bytes) gets
 * E(J0) || E(inc32(J0)), J0 = nonce || 00 00 00 01, the layout of
 * struct pdm_aead_scratch_v's dst that aead_gcm_tag() and the option's
 * XOR read. 0 or -PDM_AEAD_ENOKEY.
 */
static __noinline int pdm_aes_soft_gcm_blocks(const struct pdm_aes_soft_key *k, const __u8 *nonce,
                                              __u8 *dst)
{
    __u32 w[4], n0 = aes_soft_be32(nonce), n1 = aes_soft_be32(nonce + 4),
                n2 = aes_soft_be32(nonce + 8);

#pragma unroll
    for (__u32 c = 1; c <= 2; c++) {
        w[0] = n0;
        w[1] = n1;
        w[2] = n2;
        w[3] = c;
        if (pdm_aes_soft_encrypt_words(k, w) != 0)
            return -PDM_AEAD_ENOKEY;
#pragma unroll
        for (int j = 0; j < 4; j++)
            aes_soft_put_be32(dst + 16 * (c - 1) + 4 * j, w[j]);
    }
    return 0;
}

/*
 * Once per key: H = E(0^128) and the 4-bit GHASH table of struct
 * pdm_aead_key (t = that struct's ghash; OpenSSL's gcm_init_4bit, the
 * same table bpf/aead_user.h's aead_user_htable() makes in user space:
 * t[i] = i * H in GCM's bit order, t[8] = H). 0 or -PDM_AEAD_ENOKEY.
 */
static __noinline int pdm_aes_soft_ghash_init(const struct pdm_aes_soft_key *k, __u64 (*t)[2])
{
    /* The block 0^128 encrypted in t[0] (zero again below): no frame of
     * its own under the cipher's, whose chain is deep in the tc program. */
    __u32 *w = (__u32 *)t[0];
    __u64 vh, vl, red;

    t[0][0] = t[0][1] = 0;
    if (pdm_aes_soft_encrypt_words(k, w) != 0)
        return -PDM_AEAD_ENOKEY;
    vh = ((__u64)w[0] << 32) | w[1];
    vl = ((__u64)w[2] << 32) | w[3];
    t[0][0] = t[0][1] = 0;
    t[8][0] = vh;
    t[8][1] = vl;
#pragma unroll
    for (int i = 4; i > 0; i >>= 1) {
        red = 0xe100000000000000ull & (0 - (vl & 1));
        vl = (vh << 63) | (vl >> 1);
        vh = (vh >> 1) ^ red;
        t[i][0] = vh;
        t[i][1] = vl;
    }
#pragma unroll
    for (int i = 2; i < 16; i <<= 1)
#pragma unroll
        for (int j = 1; j < i; j++) {
            t[i + j][0] = t[i][0] ^ t[j][0];
            t[i + j][1] = t[i][1] ^ t[j][1];
        }
    return 0;
}

/*
 * Keys a flow slot from an STK derived in BPF: the schedule into *k and,
 * in *a, the GHASH table and the suite (written last). Only a slot without
 * a kfunc context: one there may be an older key's (a slot reused for the
 * next Kri of its parity), and a tc program can neither release it
 * (bpf_crypto_ctx_release is for syscall programs) nor let
 * pdm_aes_soft_blocks_any() prefer it over the new schedule, which would
 * seal under the old key with the new key's nonces and table. User space's
 * context for this key, when it arrives, goes in through
 * pdm_aead_key_install() as today (same table, then the kptr, then the
 * suite) and takes over. suite: PDM_AEAD_AES128GCM (16-byte stk) or
 * PDM_AEAD_AES256GCM (32). 0, -PDM_AES_SOFT_EBUSY, or a negative
 * PDM_AEAD_E* code.
 */
static __always_inline int pdm_aes_soft_key_slot(struct pdm_aes_soft_key *k, struct pdm_aead_key *a,
                                                 __u32 suite, const __u8 *stk)
{
    int rv;

    if (suite != PDM_AEAD_AES128GCM && suite != PDM_AEAD_AES256GCM)
        return -PDM_AEAD_ESUITE;
    if (a->aes)
        return -PDM_AES_SOFT_EBUSY;
    if ((rv = pdm_aes_soft_expand(k, stk, suite == PDM_AEAD_AES128GCM ? 16 : 32)) != 0)
        return rv;
    if ((rv = pdm_aes_soft_ghash_init(k, a->ghash)) != 0)
        return rv;
    __sync_lock_test_and_set(&a->suite, suite);
    return 0;
}

/*
 * Drop-in for aead_gcm_blocks(): the same scratch (pdm_aead_scratch, src =
 * J0 || inc32(J0), dst = their encryptions) through the kfunc context when
 * a->aes is there, else through the software schedule *k (NULL: none).
 * The schedule must be the one of a's suite (10 rounds for AES-128-GCM,
 * 14 for AES-256-GCM): anything else is -PDM_AEAD_ENOKEY, never a seal
 * under the wrong key size. NULL on failure with *rv set.
 */
static __always_inline struct pdm_aead_scratch_v *
pdm_aes_soft_blocks_any(struct pdm_aead_key *a, const struct pdm_aes_soft_key *k, const __u8 *nonce,
                        int *rv)
{
    struct pdm_aead_scratch_v *s;
    __u32 zero = 0, want;

    if (a->aes)
        return aead_gcm_blocks(a, nonce, rv);
    *rv = -PDM_AEAD_ENOKEY;
    want = a->suite == PDM_AEAD_AES128GCM ? 10 : a->suite == PDM_AEAD_AES256GCM ? 14 : 0;
    if (!k || want == 0 || k->rounds != want)
        return NULL;
    if (!(s = bpf_map_lookup_elem(&pdm_aead_scratch, &zero)))
        return NULL;
#pragma unroll
    for (int i = 0; i < 12; i++) {
        s->src[i] = nonce[i];
        s->src[16 + i] = nonce[i];
    }
    s->src[12] = s->src[13] = s->src[14] = 0;
    s->src[15] = 1;
    s->src[28] = s->src[29] = s->src[30] = 0;
    s->src[31] = 2;
    if ((*rv = pdm_aes_soft_gcm_blocks(k, nonce, s->dst)) != 0)
        return NULL;
    return s;
}

#endif
