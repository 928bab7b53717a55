/*
 * libFuzzer target for the HPKE receiver side (lib/hpke.c, lib/crypto/ossl.c):
 * arbitrary bytes as public keys (DeserializePublicKey), as enc (Decap,
 * SetupR) and as ciphertext (Open), for every KEM and AEAD.
 *
 * Input layout:
 *
 *     sel(1) || enc (Nenc) || [pkS (Npk) when sel & 0x10] || ct (rest)
 *
 *     sel bits 0-1: KEM (P-256, P-384, P-521, X25519)
 *     sel bits 2-3: AEAD (AES-128-GCM, AES-256-GCM, ChaCha20Poly1305, export-only)
 *     sel bit 4:    auth mode, sender public key taken from the input
 *     sel bit 5:    psk mode (fixed psk and psk_id)
 *
 * Besides "no crash, no leak, no undefined behaviour" it checks:
 * - every failure is one of the documented codes (PDM_ERR_KEY for keys);
 * - a public key that deserializes serializes back to the same bytes;
 * - Decap succeeds only on input that DeserializePublicKey accepts;
 * - nothing the fuzzer makes ever opens: the receiver keys are fixed and
 *   derived here, so a success would be a forgery. (Do not seed the corpus
 *   with messages sealed to these keys: those would rightly open.)
 */
#include <pdm/hpke.h>

#include <stdlib.h>
#include <string.h>

#include "crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint16_t kems[4] = {PDM_HPKE_KEM_P256_SHA256, PDM_HPKE_KEM_P384_SHA384,
                                 PDM_HPKE_KEM_P521_SHA512, PDM_HPKE_KEM_X25519_SHA256};
static const uint16_t aeads[4] = {PDM_HPKE_AEAD_AES_128_GCM, PDM_HPKE_AEAD_AES_256_GCM,
                                  PDM_HPKE_AEAD_CHACHA20POLY1305, PDM_HPKE_AEAD_EXPORT_ONLY};
static struct pdm_hpke_key receivers[4];
static int ready;

static void init_keys(void)
{
    uint8_t ikm[66];

    for (size_t i = 0; i < 4; i++) {
        memset(ikm, (int)(0xa0 + i), sizeof ikm);
        if (pdm_hpke_keygen(kems[i], ikm, sizeof ikm, &receivers[i]) != 0)
            abort();
    }
    ready = 1;
}

/* The input as a public key: validation must agree with re-serialization. */
static int try_pubkey(uint16_t kem_id, const uint8_t *p, size_t n, struct pdm_hpke_key *key)
{
    uint8_t out[PDM_HPKE_NPK_MAX];
    int rv = pdm_hpke_pubkey_deserialize(kem_id, p, n, key);

    if (rv == 0) {
        if (pdm_hpke_pubkey_serialize(key, out, sizeof out) != (int)n || memcmp(out, p, n) != 0)
            abort();
    } else if (rv != PDM_ERR_KEY) {
        abort();
    }
    return rv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t pt[1 << 16];
    static const uint8_t psk[32] = {1, 2, 3};
    const struct pdm_kem_alg *kem;
    struct pdm_hpke_key pkS, any;
    struct pdm_hpke_params p;
    struct pdm_hpke_ctx ctx;
    uint8_t ss[PDM_HPKE_NSECRET_MAX], exported[32];
    const uint8_t *enc, *ct;
    size_t n, ct_len;
    unsigned sel;
    int rv, rv_key;

    if (!ready)
        init_keys();
    if (size < 1)
        return 0;
    sel = data[0];
    data++;
    n = size - 1;
    kem = pdm_kem_find(kems[sel & 3]);

    /* The whole rest as a public key and as enc. */
    rv_key = try_pubkey(kem->id, data, n, &any);
    rv = pdm_hpke_decap(&receivers[sel & 3], NULL, data, n, ss, sizeof ss);
    if (rv == 0 && rv_key != 0)
        abort();
    if (rv != 0 && rv != PDM_ERR_KEY)
        abort();

    /* Then the layout above: SetupR and Open. */
    if (n < kem->nenc)
        return 0;
    enc = data;
    ct = data + kem->nenc;
    ct_len = n - kem->nenc;
    memset(&p, 0, sizeof p);
    p.suite.kem_id = kem->id;
    p.suite.kdf_id = (uint16_t)(1 + (sel >> 6) % 3);
    p.suite.aead_id = aeads[(sel >> 2) & 3];
    p.info = (const uint8_t *)"fuzz";
    p.info_len = 4;
    if (sel & 0x10) {
        if (ct_len < kem->npk || try_pubkey(kem->id, ct, kem->npk, &pkS) != 0)
            return 0;
        ct += kem->npk;
        ct_len -= kem->npk;
        p.sender = &pkS;
    }
    if (sel & 0x20) {
        p.psk = psk;
        p.psk_len = sizeof psk;
        p.psk_id = (const uint8_t *)"fuzz";
        p.psk_id_len = 4;
    }
    p.mode = (enum pdm_hpke_mode)(((sel & 0x10) ? 2 : 0) | ((sel & 0x20) ? 1 : 0));

    rv = pdm_hpke_setup_r(&ctx, &p, &receivers[sel & 3], enc, kem->nenc);
    if (rv != 0) {
        if (rv != PDM_ERR_KEY || ctx.role != 0 || ctx.actx != NULL)
            abort();
        return 0;
    }
    if (pdm_hpke_ctx_export(&ctx, ct, ct_len < 8 ? ct_len : 8, exported, sizeof exported) != 0)
        abort();
    rv = pdm_hpke_ctx_open(&ctx, ct, ct_len < 6 ? ct_len : 6, ct, ct_len, pt, sizeof pt);
    if (p.suite.aead_id == PDM_HPKE_AEAD_EXPORT_ONLY) {
        if (rv != PDM_ERR_UNSUPPORTED)
            abort();
    } else if (rv >= 0 || (rv != PDM_ERR_AUTH && rv != PDM_ERR_NOBUF) || ctx.seq != 0) {
        abort(); /* garbage opened, or an undocumented failure */
    }
    pdm_hpke_ctx_free(&ctx);

    /* Single-shot Open of the same bytes must fail the same way. */
    rv = pdm_hpke_open(&p, &receivers[sel & 3], enc, kem->nenc, NULL, 0, ct, ct_len, pt, sizeof pt);
    if (rv >= 0)
        abort();
    return 0;
}
