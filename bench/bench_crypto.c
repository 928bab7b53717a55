/*
 * Crypto benchmarks (issue: cryptography). In one run:
 *   - seal+encode and open+decode of one encrypted PDMv2 option, per AEAD,
 *     through the sender and receiver paths the agent uses;
 *   - the floor: OpenSSL's raw EVP AES-128-GCM seal of the same 14 bytes
 *     with 6 bytes of AAD and a reused context;
 *   - a new flow's key derivation (STK, BaseNonce, keyed AEAD context);
 *   - HPKE SetupS / SetupR (X25519, base mode) next to a raw X25519 derive
 *     with prebuilt keys, as `openssl speed` measures it.
 * The benchmark includes OpenSSL itself only to measure those floors.
 */
#include <pdm/codec.h>
#include <pdm/hpke.h>
#include <pdm/profile.h>

#include <openssl/evp.h>
#include <string.h>

#include "bench.h"

#define ROUNDS 5

static const struct pdm_flow_tuple tuple = {
    .src = {0xfd, 0, 0, 1, [15] = 1},
    .dst = {0xfd, 0, 0, 1, [15] = 2},
    .sport = 40000,
    .dport = 443,
    .proto = 6,
};

static double raw_evp_gcm_floor(void)
{
    uint8_t key[16] = {1}, nonce[12] = {2}, aad[6] = {0x0f, 0x22, 0x20, 0, 0, 2}, pt[14] = {3};
    uint8_t ct[14], tag[16];
    int outl;
    double ns;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, NULL);
    BENCH_BEST_NS(ns, ROUNDS, 1000000, {
        nonce[11] = (uint8_t)i;
        EVP_EncryptInit_ex(c, NULL, NULL, NULL, nonce);
        EVP_EncryptUpdate(c, NULL, &outl, aad, sizeof aad);
        EVP_EncryptUpdate(c, ct, &outl, pt, sizeof pt);
        EVP_EncryptFinal_ex(c, ct + outl, &outl);
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag);
        bench_sink += tag[0];
    });
    EVP_CIPHER_CTX_free(c);
    return ns;
}

static void bench_aead(uint16_t aead_id, const char *name, double floor_ns)
{
    struct pdm_hpke_suite suite = {PDM_HPKE_KEM_X25519_SHA256, PDM_HPKE_KDF_HKDF_SHA256, aead_id};
    uint8_t salt[32] = {7}, secret[32] = {9};
    struct pdm_profile_secret s;
    struct pdm_profile_tx tx;
    struct pdm_profile_rx rx;
    struct pdm_fields f = {10, 20, 1, 100, 200, 300, 400};
    static uint8_t sealed[PDM_RN_COUNT][PDM_OPTSIZE_V2_ENC];
    uint8_t out[PDM_OPTSIZE_V2_ENC];
    double seal_ns, open_ns;
    struct pdm_option o;

    memset(&tx, 0, sizeof tx);
    memset(&rx, 0, sizeof rx);
    if (pdm_profile_secret_init(&s, suite, salt, sizeof salt, secret, sizeof secret) != 0 ||
        pdm_profile_tx_start(&tx, &s, &tuple, 0, 0) != 0) {
        printf("%s: setup failed\n", name);
        return;
    }
    /* Seal+encode: the sender's whole per-packet path (RN draw, nonce,
     * AEAD, option bytes), key rotations every 32,767 packets included. */
    BENCH_BEST_NS(seal_ns, ROUNDS, 300000, {
        f.psntp = (uint16_t)i;
        bench_sink += (uint64_t)pdm_profile_tx_seal(&tx, &s, &tuple, NULL, i, PDM_OPT_TYPE, &f, out,
                                                    sizeof out) +
                      out[7];
    });
    pdm_profile_tx_clear(&tx);

    /* Open+decode: one whole RN sequence sealed under Kri 0, then opened
     * in a loop by a receiver (the peer's key cached, as in steady state). */
    if (pdm_profile_tx_start(&tx, &s, &tuple, 0, 0) != 0)
        return;
    struct pdm_profile_policy pol = {PDM_RN_COUNT, 0};
    for (size_t k = 0; k < PDM_RN_COUNT; k++)
        if (pdm_profile_tx_seal(&tx, &s, &tuple, &pol, 0, PDM_OPT_TYPE, &f, sealed[k],
                                sizeof sealed[k]) < 0) {
            printf("%s: seal failed\n", name);
            return;
        }
    pdm_profile_tx_clear(&tx);
    BENCH_BEST_NS(open_ns, ROUNDS, 300000, {
        bench_sink += (uint64_t)pdm_profile_rx_open(&rx, &s, &tuple, sealed[i % PDM_RN_COUNT],
                                                    PDM_OPTSIZE_V2_ENC, PDM_OPT_TYPE, &o, NULL) +
                      o.fields.psntp;
    });
    pdm_profile_rx_clear(&rx);
    printf("%-18s seal+encode %7.1f ns/op (%.2fx raw EVP AES-128-GCM floor)   "
           "open+decode %7.1f ns/op\n",
           name, seal_ns, seal_ns / floor_ns, open_ns);

    /* A new flow: derive STK and BaseNonce and key the AEAD context once. */
    double kd_ns;
    struct pdm_profile_key k;
    BENCH_BEST_NS(kd_ns, ROUNDS, 20000, {
        if (pdm_profile_key_init(&k, &s, &tuple, (uint16_t)i) == 0)
            bench_sink += k.base_nonce[0];
        pdm_profile_key_clear(&k);
    });
    printf("%-18s new flow key derivation %.2f us\n", name, kd_ns / 1000.0);
    pdm_profile_secret_wipe(&s);
}

static void bench_hpke(void)
{
    struct pdm_hpke_suite suite = {PDM_HPKE_KEM_X25519_SHA256, PDM_HPKE_KDF_HKDF_SHA256,
                                   PDM_HPKE_AEAD_AES_128_GCM};
    uint8_t ikmR[32] = {1}, ikmE[32] = {2}, enc[PDM_HPKE_NENC_MAX];
    struct pdm_hpke_key skR;
    struct pdm_hpke_params p = {.suite = suite, .mode = PDM_HPKE_MODE_BASE};
    struct pdm_hpke_eph eph = {.ikm = ikmE, .ikm_len = sizeof ikmE};
    struct pdm_hpke_ctx ctx;
    double s_ns, r_ns, dh_ns;

    if (pdm_hpke_keygen(PDM_HPKE_KEM_X25519_SHA256, ikmR, sizeof ikmR, &skR) != 0) {
        printf("hpke: keygen failed\n");
        return;
    }
    BENCH_BEST_NS(s_ns, ROUNDS, 2000, {
        ikmE[0] = (uint8_t)i;
        if (pdm_hpke_setup_s(&ctx, &p, &skR, &eph, enc, sizeof enc) == 0)
            bench_sink += ctx.seq;
        pdm_hpke_ctx_free(&ctx);
    });
    BENCH_BEST_NS(r_ns, ROUNDS, 2000, {
        if (pdm_hpke_setup_r(&ctx, &p, &skR, enc, 32) == 0)
            bench_sink += ctx.seq;
        pdm_hpke_ctx_free(&ctx);
    });
    pdm_hpke_key_wipe(&skR);

    /* openssl speed's ecdhx25519: derive with both keys already built. */
    EVP_PKEY *a = NULL, *b = NULL;
    EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
    EVP_PKEY_keygen_init(kc);
    EVP_PKEY_keygen(kc, &a);
    EVP_PKEY_keygen(kc, &b);
    EVP_PKEY_CTX_free(kc);
    EVP_PKEY_CTX *dc = EVP_PKEY_CTX_new(a, NULL);
    EVP_PKEY_derive_init(dc);
    EVP_PKEY_derive_set_peer(dc, b);
    uint8_t z[32];
    BENCH_BEST_NS(dh_ns, ROUNDS, 2000, {
        size_t zl = sizeof z;
        EVP_PKEY_derive(dc, z, &zl);
        bench_sink += z[0];
    });
    EVP_PKEY_CTX_free(dc);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
    printf("hpke x25519 SetupS %.1f us  SetupR %.1f us   raw X25519 derive %.1f us "
           "(SetupS = %.1f derives, SetupR = %.1f)\n",
           s_ns / 1000, r_ns / 1000, dh_ns / 1000, s_ns / dh_ns, r_ns / dh_ns);
}

int main(void)
{
    double floor_ns = raw_evp_gcm_floor();
    printf("raw EVP AES-128-GCM seal, 14 B + 6 B AAD, reused context: %.1f ns/op (floor)\n",
           floor_ns);
    bench_aead(PDM_HPKE_AEAD_AES_128_GCM, "AES-128-GCM", floor_ns);
    bench_aead(PDM_HPKE_AEAD_AES_256_GCM, "AES-256-GCM", floor_ns);
    bench_aead(PDM_HPKE_AEAD_CHACHA20POLY1305, "ChaCha20Poly1305", floor_ns);
    bench_hpke();
    return 0;
}
