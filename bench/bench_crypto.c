/*
 * Crypto benchmarks. Per AEAD of the profile, each next to its own raw
 * OpenSSL floor measured in the same run (bench.h, bench_vs()):
 *
 *   seal+encode   pdm_profile_tx_seal(): the sender's whole per-packet path
 *                 (RN draw, nonce, AEAD, option bytes), against the raw EVP
 *                 seal of the same sizes with the same cipher: 14 bytes of
 *                 plaintext, 6 bytes of AAD, a context keyed once.
 *   open+decode   pdm_profile_rx_open() with the peer's key cached (steady
 *                 state), against the raw EVP open of the same sizes.
 *   flow key      pdm_profile_key_init() for a new flow (STK, BaseNonce,
 *                 keyed AEAD context), against the same OpenSSL work with
 *                 its objects prepared ahead: two HMAC-SHA256 blocks on a
 *                 context keyed with the PRK once, then an AEAD context
 *                 created, keyed and freed.
 *   hpke          SetupS / SetupR (X25519, base mode) against a raw X25519
 *                 derive with both keys prebuilt, as `openssl speed`
 *                 measures it.
 *
 * The raw floors call EVP exactly as lib/crypto/ossl.c does at its best
 * (the tag through an OSSL_PARAM array built once, docs/decisions.md D12):
 * the gap to a floor is the profile's own work plus the backend's wrapper,
 * not a slower way of calling OpenSSL. The benchmark includes OpenSSL
 * itself only to measure these floors; a floor that fails (a tag that does
 * not verify, a call that returns 0) is an error: exit status 1.
 */
#include <pdm/codec.h>
#include <pdm/hpke.h>
#include <pdm/profile.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <string.h>

#include "bench.h"

#define ROUNDS 5
#define TAG    PDM_V2_TAG_SIZE

static const struct pdm_flow_tuple tuple = {
    .src = {0xfd, 0, 0, 1, [15] = 1},
    .dst = {0xfd, 0, 0, 1, [15] = 2},
    .sport = 40000,
    .dport = 443,
    .proto = 6,
};

/* OSSL_PARAM constructors take non-const buffers and names. */
static char name_tag[] = OSSL_CIPHER_PARAM_AEAD_TAG;
static char name_sha256[] = "SHA256";

/* The same messages as the profile's, sealed under one key: one per RN, so
 * that the floor's open touches as much memory as the receiver's. */
static uint8_t raw_ct[PDM_RN_COUNT][PDM_V2_SEALED_SIZE];

static void raw_nonce(uint8_t nonce[12], uint64_t k)
{
    nonce[10] = (uint8_t)(k >> 8);
    nonce[11] = (uint8_t)k;
}

/* Raw EVP seal and open floors for one cipher; 0, or -1 if a call failed. */
static int raw_evp(const EVP_CIPHER *cipher, double *seal_ns, double *open_ns)
{
    uint8_t key[32] = {1}, nonce[12] = {2}, aad[PDM_V2_AAD_SIZE] = {0x0f, 0x22, 0x20, 0, 0, 2};
    uint8_t pt[PDM_V2_PT_SIZE] = {3}, out[PDM_V2_SEALED_SIZE], tag[TAG];
    OSSL_PARAM tp[2] = {OSSL_PARAM_construct_octet_string(name_tag, tag, TAG),
                        OSSL_PARAM_construct_end()};
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n, ok;

    if (c == NULL || !EVP_CipherInit_ex(c, cipher, NULL, key, NULL, 1)) {
        EVP_CIPHER_CTX_free(c);
        return -1;
    }
    ok = 1;
    BENCH_BEST_NS(*seal_ns, ROUNDS, 300000, {
        uint8_t *ct = raw_ct[i % PDM_RN_COUNT];
        raw_nonce(nonce, i % PDM_RN_COUNT);
        ok &= EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, 1);
        ok &= EVP_CipherUpdate(c, NULL, &n, aad, sizeof aad);
        ok &= EVP_CipherUpdate(c, ct, &n, pt, sizeof pt);
        ok &= EVP_CipherFinal_ex(c, ct + sizeof pt, &n);
        ok &= EVP_CIPHER_CTX_get_params(c, tp);
        memcpy(ct + sizeof pt, tag, TAG);
    });
    /* The seal rounds above covered every RN: raw_ct now holds one valid
     * message per nonce. */
    BENCH_BEST_NS(*open_ns, ROUNDS, 300000, {
        const uint8_t *ct = raw_ct[i % PDM_RN_COUNT];
        raw_nonce(nonce, i % PDM_RN_COUNT);
        memcpy(tag, ct + sizeof pt, TAG);
        ok &= EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, 0);
        ok &= EVP_CIPHER_CTX_set_params(c, tp);
        ok &= EVP_CipherUpdate(c, NULL, &n, aad, sizeof aad);
        ok &= EVP_CipherUpdate(c, out, &n, ct, sizeof pt);
        ok &= EVP_CipherFinal_ex(c, out + sizeof pt, &n); /* 0 if the tag is wrong */
        bench_sink += out[0];
    });
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -1;
}

/*
 * The floor of a new flow's key: LabeledExpand of the STK and of the
 * BaseNonce are one HMAC block each over a labeled info of 67 and 69 bytes
 * plus the counter byte (RFC 9180 §4, RFC 5869 §2.3); then the AEAD
 * context is keyed. Here the HMAC is fetched and keyed with the PRK once
 * and only restarted per block, and the whole input goes in one update.
 */
static int raw_key_floor(const EVP_CIPHER *cipher, double *ns)
{
    uint8_t prk[32] = {5}, info_key[2 + 7 + 10 + 9 + PDM_PROFILE_FLOW_INFO_SIZE + 1] = {0},
            info_nonce[2 + 7 + 10 + 11 + PDM_PROFILE_FLOW_INFO_SIZE + 1] = {0}, stk[32], bn[32];
    OSSL_PARAM mp[2] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, name_sha256, 0),
                        OSSL_PARAM_construct_end()};
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *m = mac ? EVP_MAC_CTX_new(mac) : NULL;
    size_t outl;
    int ok = m != NULL && EVP_MAC_init(m, prk, sizeof prk, mp);

    BENCH_BEST_NS(*ns, ROUNDS, 20000, {
        if (!ok)
            break;
        info_key[sizeof info_key - 2] = (uint8_t)i; /* the info differs per flow */
        info_nonce[sizeof info_nonce - 2] = (uint8_t)i;
        ok &= EVP_MAC_init(m, NULL, 0, NULL) && EVP_MAC_update(m, info_key, sizeof info_key) &&
              EVP_MAC_final(m, stk, &outl, sizeof stk);
        ok &= EVP_MAC_init(m, NULL, 0, NULL) && EVP_MAC_update(m, info_nonce, sizeof info_nonce) &&
              EVP_MAC_final(m, bn, &outl, sizeof bn);
        EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
        ok &= c != NULL && EVP_CipherInit_ex(c, cipher, NULL, stk, NULL, 1);
        EVP_CIPHER_CTX_free(c);
        bench_sink += bn[0];
    });
    EVP_MAC_CTX_free(m);
    EVP_MAC_free(mac);
    return ok ? 0 : -1;
}

/* The profile's seal and open of one option; 0, or -1 on a failure. */
static int profile_seal_open(const struct pdm_profile_secret *s, double *seal_ns, double *open_ns)
{
    static uint8_t sealed[PDM_RN_COUNT][PDM_OPTSIZE_V2_ENC];
    struct pdm_fields f = {10, 20, 1, 100, 200, 300, 400};
    struct pdm_profile_policy pol = {PDM_RN_COUNT, 0};
    uint8_t out[PDM_OPTSIZE_V2_ENC];
    struct pdm_profile_tx tx;
    struct pdm_profile_rx rx;
    struct pdm_option o;
    int bad = 0;

    memset(&tx, 0, sizeof tx);
    memset(&rx, 0, sizeof rx);
    /* Seal+encode, key rotations every 32,767 packets included. */
    if (pdm_profile_tx_start(&tx, s, &tuple, 0, 0) != 0)
        return -1;
    BENCH_BEST_NS(*seal_ns, ROUNDS, 300000, {
        f.psntp = (uint16_t)i;
        bench_sink += (uint64_t)pdm_profile_tx_seal(&tx, s, &tuple, NULL, i, PDM_OPT_TYPE, &f, out,
                                                    sizeof out) +
                      out[7];
    });
    pdm_profile_tx_clear(&tx);

    /* Open+decode: one whole RN sequence sealed under Kri 0, then opened
     * in a loop by a receiver (the peer's key cached, as in steady state). */
    if (pdm_profile_tx_start(&tx, s, &tuple, 0, 0) != 0)
        return -1;
    for (size_t k = 0; k < PDM_RN_COUNT; k++)
        if (pdm_profile_tx_seal(&tx, s, &tuple, &pol, 0, PDM_OPT_TYPE, &f, sealed[k],
                                sizeof sealed[k]) < 0)
            bad = 1;
    pdm_profile_tx_clear(&tx);
    if (bad)
        return -1;
    BENCH_BEST_NS(*open_ns, ROUNDS, 300000, {
        int rv = pdm_profile_rx_open(&rx, s, &tuple, sealed[i % PDM_RN_COUNT], PDM_OPTSIZE_V2_ENC,
                                     PDM_OPT_TYPE, &o, NULL);
        bad |= rv < 0;
        bench_sink += o.fields.psntp;
    });
    pdm_profile_rx_clear(&rx);
    return bad ? -1 : 0;
}

static int bench_aead(uint16_t aead_id, const char *name, const EVP_CIPHER *cipher)
{
    struct pdm_hpke_suite suite = {PDM_HPKE_KEM_X25519_SHA256, PDM_HPKE_KDF_HKDF_SHA256, aead_id};
    uint8_t salt[32] = {7}, secret[32] = {9};
    struct pdm_profile_secret s;
    struct pdm_profile_key k;
    double seal_ns, open_ns, kd_ns, raw_seal_ns, raw_open_ns, raw_kd_ns;
    char label[64];
    int bad = 0;

    if (raw_evp(cipher, &raw_seal_ns, &raw_open_ns) != 0 ||
        raw_key_floor(cipher, &raw_kd_ns) != 0) {
        fprintf(stderr, "bench_crypto: %s: a raw EVP floor failed\n", name);
        return 1;
    }
    if (pdm_profile_secret_init(&s, suite, salt, sizeof salt, secret, sizeof secret) != 0 ||
        profile_seal_open(&s, &seal_ns, &open_ns) != 0) {
        fprintf(stderr, "bench_crypto: %s: the profile's seal or open failed\n", name);
        pdm_profile_secret_wipe(&s);
        return 1;
    }
    BENCH_BEST_NS(kd_ns, ROUNDS, 20000, {
        bad |= pdm_profile_key_init(&k, &s, &tuple, (uint16_t)i) != 0;
        bench_sink += k.base_nonce[0];
        pdm_profile_key_clear(&k);
    });
    pdm_profile_secret_wipe(&s);
    if (bad) {
        fprintf(stderr, "bench_crypto: %s: key derivation failed\n", name);
        return 1;
    }
    snprintf(label, sizeof label, "%s seal+encode", name);
    bench_vs(label, seal_ns, "raw EVP seal, 14 B + 6 B AAD", raw_seal_ns);
    snprintf(label, sizeof label, "%s open+decode", name);
    bench_vs(label, open_ns, "raw EVP open, 14 B + 6 B AAD", raw_open_ns);
    snprintf(label, sizeof label, "%s flow key", name);
    bench_vs(label, kd_ns, "raw EVP: 2 HMAC blocks + keyed ctx", raw_kd_ns);
    return 0;
}

/* openssl speed's ecdhx25519: derive with both keys already built. */
static int raw_x25519(double *ns)
{
    EVP_PKEY *a = NULL, *b = NULL;
    EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL), *dc = NULL;
    uint8_t z[32];
    size_t zl;
    int ok = kc != NULL && EVP_PKEY_keygen_init(kc) > 0 && EVP_PKEY_keygen(kc, &a) > 0 &&
             EVP_PKEY_keygen(kc, &b) > 0 && (dc = EVP_PKEY_CTX_new(a, NULL)) != NULL &&
             EVP_PKEY_derive_init(dc) > 0 && EVP_PKEY_derive_set_peer(dc, b) > 0;

    BENCH_BEST_NS(*ns, ROUNDS, 2000, {
        if (!ok)
            break;
        zl = sizeof z;
        ok &= EVP_PKEY_derive(dc, z, &zl) > 0;
        bench_sink += z[0];
    });
    EVP_PKEY_CTX_free(dc);
    EVP_PKEY_CTX_free(kc);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
    return ok ? 0 : -1;
}

/* SetupS derives the ephemeral key pair (one scalar multiplication) and
 * does one DH; SetupR does one DH: about 2 and 1 derives plus the KDFs. */
static int bench_hpke(void)
{
    struct pdm_hpke_suite suite = {PDM_HPKE_KEM_X25519_SHA256, PDM_HPKE_KDF_HKDF_SHA256,
                                   PDM_HPKE_AEAD_AES_128_GCM};
    uint8_t ikmR[32] = {1}, ikmE[32] = {2}, enc[PDM_HPKE_NENC_MAX];
    struct pdm_hpke_key skR;
    struct pdm_hpke_params p = {.suite = suite, .mode = PDM_HPKE_MODE_BASE};
    struct pdm_hpke_eph eph = {.ikm = ikmE, .ikm_len = sizeof ikmE};
    struct pdm_hpke_ctx ctx;
    double s_ns, r_ns, dh_ns;
    int bad = 0;

    if (pdm_hpke_keygen(PDM_HPKE_KEM_X25519_SHA256, ikmR, sizeof ikmR, &skR) != 0 ||
        raw_x25519(&dh_ns) != 0) {
        fprintf(stderr, "bench_crypto: hpke: key generation failed\n");
        return 1;
    }
    BENCH_BEST_NS(s_ns, ROUNDS, 2000, {
        ikmE[0] = (uint8_t)i;
        bad |= pdm_hpke_setup_s(&ctx, &p, &skR, &eph, enc, sizeof enc) < 0; /* Nenc */
        bench_sink += ctx.seq;
        pdm_hpke_ctx_free(&ctx);
    });
    BENCH_BEST_NS(r_ns, ROUNDS, 2000, {
        bad |= pdm_hpke_setup_r(&ctx, &p, &skR, enc, 32) != 0;
        bench_sink += ctx.seq;
        pdm_hpke_ctx_free(&ctx);
    });
    pdm_hpke_key_wipe(&skR);
    if (bad) {
        fprintf(stderr, "bench_crypto: hpke: a setup failed\n");
        return 1;
    }
    bench_vs("hpke x25519 SetupS", s_ns, "raw X25519 derive, keys prebuilt", dh_ns);
    bench_vs("hpke x25519 SetupR", r_ns, "raw X25519 derive, keys prebuilt", dh_ns);
    return 0;
}

int main(void)
{
    int rv = 0;

    rv |= bench_aead(PDM_HPKE_AEAD_AES_128_GCM, "AES-128-GCM", EVP_aes_128_gcm());
    rv |= bench_aead(PDM_HPKE_AEAD_AES_256_GCM, "AES-256-GCM", EVP_aes_256_gcm());
    rv |= bench_aead(PDM_HPKE_AEAD_CHACHA20POLY1305, "ChaCha20Poly1305", EVP_chacha20_poly1305());
    rv |= bench_hpke();
    return rv;
}
