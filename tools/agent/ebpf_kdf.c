/*
 * Per-secret HMAC states for bpf/kdf.h (ebpf_kdf.h).
 *
 * The states are SHA-2 chaining values after one block, which no API of
 * lib/'s backend exposes: EVP (OpenSSL 3) gives digests only, and the
 * low-level SHA256_Transform / SHA512_Transform that would give them are
 * deprecated in OpenSSL 3.0 (a -Werror build would need the deprecation
 * warnings off, and they may go in a later release). So the two
 * compression functions are written here, in plain C after FIPS 180-4;
 * they run once per secret, never per packet. The same code computes
 * LabeledExpand from the states (agent_ebpf_kdf_expand), which the test
 * compares with lib's HKDF: a wrong compression function cannot pass.
 */
#include "ebpf_kdf.h"

#include <string.h>

static const uint32_t k256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint64_t k512[80] = {
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

/* Initial hash values (FIPS 180-4 §5.3). */
static const uint32_t iv256[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                  0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
static const __u64 iv384[8] = {0xcbbb9d5dc1059ed8ull, 0x629a292a367cd507ull, 0x9159015a3070dd17ull,
                               0x152fecd8f70e5939ull, 0x67332667ffc00b31ull, 0x8eb44a8768581511ull,
                               0xdb0c2e0d64f98fa7ull, 0x47b5481dbefa4fa4ull};
static const __u64 iv512[8] = {0x6a09e667f3bcc908ull, 0xbb67ae8584caa73bull, 0x3c6ef372fe94f82bull,
                               0xa54ff53a5f1d36f1ull, 0x510e527fade682d1ull, 0x9b05688c2b3e6c1full,
                               0x1f83d9abfb41bd6bull, 0x5be0cd19137e2179ull};

static uint32_t ror32(uint32_t x, unsigned n)
{
    return x >> n | x << (32 - n);
}

static uint64_t ror64(uint64_t x, unsigned n)
{
    return x >> n | x << (64 - n);
}

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64], v[8];

    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++)
        w[i] = w[i - 16] + w[i - 7] +
               (ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3)) +
               (ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10));
    memcpy(v, h, sizeof v);
    for (int i = 0; i < 64; i++) {
        uint32_t e = v[4], a = v[0];
        uint32_t t1 = v[7] + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) +
                      ((e & v[5]) ^ (~e & v[6])) + k256[i] + w[i];
        uint32_t t2 =
            (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) + ((a & v[1]) ^ (a & v[2]) ^ (v[1] & v[2]));

        memmove(v + 1, v, 7 * sizeof v[0]);
        v[4] += t1;
        v[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++)
        h[i] += v[i];
    pdm_memzero(w, sizeof w);
    pdm_memzero(v, sizeof v);
}

static void sha512_block(__u64 h[8], const uint8_t *p)
{
    uint64_t w[80], v[8];

    for (int i = 0; i < 16; i++) {
        w[i] = 0;
        for (int j = 0; j < 8; j++)
            w[i] = w[i] << 8 | p[8 * i + j];
    }
    for (int i = 16; i < 80; i++)
        w[i] = w[i - 16] + w[i - 7] +
               (ror64(w[i - 15], 1) ^ ror64(w[i - 15], 8) ^ (w[i - 15] >> 7)) +
               (ror64(w[i - 2], 19) ^ ror64(w[i - 2], 61) ^ (w[i - 2] >> 6));
    memcpy(v, h, sizeof v);
    for (int i = 0; i < 80; i++) {
        uint64_t e = v[4], a = v[0];
        uint64_t t1 = v[7] + (ror64(e, 14) ^ ror64(e, 18) ^ ror64(e, 41)) +
                      ((e & v[5]) ^ (~e & v[6])) + k512[i] + w[i];
        uint64_t t2 = (ror64(a, 28) ^ ror64(a, 34) ^ ror64(a, 39)) +
                      ((a & v[1]) ^ (a & v[2]) ^ (v[1] & v[2]));

        memmove(v + 1, v, 7 * sizeof v[0]);
        v[4] += t1;
        v[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++)
        h[i] += v[i];
    pdm_memzero(w, sizeof w);
    pdm_memzero(v, sizeof v);
}

/* Chaining value after one block of key ^ pad (key zero-padded to the block). */
static void pad_state(const struct pdm_kdf_secret *k, const uint8_t *key, uint8_t pad, __u64 out[8])
{
    uint8_t blk[128];
    size_t bs = k->kdf == PDM_KDF_SHA256 ? 64 : 128;

    memset(blk, pad, sizeof blk);
    for (size_t i = 0; i < k->nh; i++)
        blk[i] ^= key[i];
    if (k->kdf == PDM_KDF_SHA256) {
        uint32_t h[8];

        memcpy(h, iv256, sizeof h);
        sha256_block(h, blk);
        for (int i = 0; i < 8; i++)
            out[i] = h[i];
        pdm_memzero(h, sizeof h);
    } else {
        memcpy(out, k->kdf == PDM_KDF_SHA384 ? iv384 : iv512, 8 * sizeof out[0]);
        sha512_block(out, blk);
    }
    pdm_memzero(blk, bs);
}

int agent_ebpf_kdf_secret(struct pdm_kdf_secret *out, const struct pdm_profile_secret *s)
{
    static const uint8_t nh_of[4] = {0, 32, 48, 64};

    if (out == NULL)
        return PDM_ERR_INVAL;
    memset(out, 0, sizeof *out);
    if (s == NULL || s->nh == 0 || (s->nk != 16 && s->nk != 32) || s->nn != 12)
        return PDM_ERR_INVAL;
    if (s->suite.kdf_id < PDM_KDF_SHA256 || s->suite.kdf_id > PDM_KDF_SHA512)
        return PDM_ERR_UNSUPPORTED;
    if (s->nh != nh_of[s->suite.kdf_id])
        return PDM_ERR_INVAL;
    out->kdf = (uint8_t)s->suite.kdf_id;
    out->nh = s->nh;
    out->nk = s->nk;
    out->nn = s->nn;
    pdm_hpke_suite_id(s->suite, out->suite_id);
    /* HMAC: K ^ ipad and K ^ opad, K = prk (Nh <= block size, so no hashing of K). */
    pad_state(out, s->prk, 0x36, out->ih);
    pad_state(out, s->prk, 0x5c, out->oh);
    return 0;
}

void agent_ebpf_kdf_wipe(struct pdm_kdf_secret *k)
{
    if (k != NULL)
        pdm_memzero(k, sizeof *k);
}

/* The hash of msg (n bytes) after one block already in h; pads and finishes. */
static void finish(const struct pdm_kdf_secret *k, const __u64 h0[8], const uint8_t *msg, size_t n,
                   uint8_t digest[64])
{
    size_t bs = k->kdf == PDM_KDF_SHA256 ? 64 : 128, lenb = bs / 8, total;
    uint8_t buf[256];
    uint64_t bits = (uint64_t)(bs + n) * 8;

    memset(buf, 0, sizeof buf);
    memcpy(buf, msg, n);
    buf[n] = 0x80;
    total = (n + 1 + lenb + bs - 1) / bs * bs;
    for (int i = 0; i < 8; i++)
        buf[total - 1 - (size_t)i] = (uint8_t)(bits >> (8 * i));
    if (k->kdf == PDM_KDF_SHA256) {
        uint32_t h[8];

        for (int i = 0; i < 8; i++)
            h[i] = (uint32_t)h0[i];
        for (size_t off = 0; off < total; off += bs)
            sha256_block(h, buf + off);
        for (int i = 0; i < 32; i++)
            digest[i] = (uint8_t)(h[i / 4] >> (24 - 8 * (i % 4)));
        pdm_memzero(h, sizeof h);
    } else {
        __u64 h[8];

        memcpy(h, h0, sizeof h);
        for (size_t off = 0; off < total; off += bs)
            sha512_block(h, buf + off);
        for (int i = 0; i < 64; i++)
            digest[i] = (uint8_t)(h[i / 8] >> (56 - 8 * (i % 8)));
        pdm_memzero(h, sizeof h);
    }
    pdm_memzero(buf, sizeof buf);
}

int agent_ebpf_kdf_expand(const struct pdm_kdf_secret *k, const char *label, const uint8_t *info,
                          size_t info_len, uint8_t *out, size_t L)
{
    uint8_t msg[128], inner[64], t[64];
    size_t lab, n;

    if (k == NULL || label == NULL || out == NULL || (info == NULL && info_len != 0) ||
        k->kdf < PDM_KDF_SHA256 || k->kdf > PDM_KDF_SHA512 || L == 0 || L > k->nh)
        return PDM_ERR_INVAL;
    lab = strlen(label);
    n = 2 + 7 + sizeof k->suite_id + lab + info_len + 1;
    if (n > 119) /* two SHA-256 blocks with the padding */
        return PDM_ERR_INVAL;
    /* labeled_info = I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info; T(1) adds 0x01. */
    msg[0] = (uint8_t)(L >> 8);
    msg[1] = (uint8_t)L;
    memcpy(msg + 2, "HPKE-v1", 7);
    memcpy(msg + 9, k->suite_id, sizeof k->suite_id);
    memcpy(msg + 19, label, lab);
    if (info_len != 0)
        memcpy(msg + 19 + lab, info, info_len);
    msg[n - 1] = 0x01;
    finish(k, k->ih, msg, n, inner);
    finish(k, k->oh, inner, k->nh, t);
    memcpy(out, t, L);
    pdm_memzero(msg, sizeof msg);
    pdm_memzero(inner, sizeof inner);
    pdm_memzero(t, sizeof t);
    return 0;
}
