/*
 * HPKE, RFC 9180, written once on the backend tables of lib/crypto.h (no
 * crypto library is included here). The pseudocode of the RFC is quoted
 * above the function that implements it; section numbers are RFC 9180's.
 *
 * Secrets handled here (ephemeral private keys, DH outputs, KEM shared
 * secrets, the key-schedule secret, PRKs) live in fixed-size stack buffers
 * that every function wipes on its single exit path.
 */
#include <pdm/hpke.h>

#include <limits.h>
#include <string.h>

#include "conv.h"
#include "crypto.h"

enum { ROLE_NONE = 0, ROLE_SENDER = 1, ROLE_RECEIVER = 2 };

/* "KEM" || I2OSP(kem_id, 2), §4.1. */
#define KEM_SUITE_ID_SIZE 5

/* Largest single DH output (P-521: 66 bytes). */
#define NDH_MAX 66

static const uint8_t hpke_v1[7] = {'H', 'P', 'K', 'E', '-', 'v', '1'};

/* ------------------------------------------------------------------ */
/* Labeled KDF, §4                                                      */
/* ------------------------------------------------------------------ */

/*
 * def LabeledExtract(salt, label, ikm):
 *   labeled_ikm = concat("HPKE-v1", suite_id, label, ikm)
 *   return Extract(salt, labeled_ikm)
 *
 * The pieces go to HMAC one after the other: nothing is concatenated, so
 * there is no length limit to enforce on ikm.
 */
static int labeled_extract(const struct pdm_kdf_alg *kdf, const uint8_t *suite_id,
                           size_t suite_id_len, const uint8_t *salt, size_t salt_len,
                           const char *label, const uint8_t *ikm, size_t ikm_len, uint8_t *prk)
{
    const struct pdm_iov v[4] = {
        {hpke_v1, sizeof hpke_v1},
        {suite_id, suite_id_len},
        {label, strlen(label)},
        {ikm, ikm_len},
    };

    return kdf->extract(kdf, salt, salt_len, v, 4, prk);
}

/*
 * def LabeledExpand(prk, label, info, L):
 *   labeled_info = concat(I2OSP(L, 2), "HPKE-v1", suite_id, label, info)
 *   return Expand(prk, labeled_info, L)
 */
static int labeled_expand(const struct pdm_kdf_alg *kdf, const uint8_t *suite_id,
                          size_t suite_id_len, const uint8_t *prk, size_t prk_len,
                          const char *label, const uint8_t *info, size_t info_len, uint8_t *out,
                          size_t L)
{
    uint8_t l2[2];
    const struct pdm_iov v[5] = {
        {l2, sizeof l2},        {hpke_v1, sizeof hpke_v1}, {suite_id, suite_id_len},
        {label, strlen(label)}, {info, info_len},
    };

    /* 255 * Nh <= 16320 also keeps L within I2OSP(L, 2). */
    if (L == 0 || L > 255 * kdf->nh)
        return PDM_ERR_INVAL;
    pdm_put_u16be(l2, (uint16_t)L);
    return kdf->expand(kdf, prk, prk_len, v, 5, out, L);
}

PDM_EXTERN void pdm_hpke_suite_id(struct pdm_hpke_suite suite, uint8_t out[PDM_HPKE_SUITE_ID_SIZE])
{
    uint8_t *p = pdm_put_bytes(out, "HPKE", 4);

    p = pdm_put_u16be(p, suite.kem_id);
    p = pdm_put_u16be(p, suite.kdf_id);
    pdm_put_u16be(p, suite.aead_id);
}

PDM_EXTERN int pdm_hpke_labeled_extract(struct pdm_hpke_suite suite, const uint8_t *salt,
                                        size_t salt_len, const char *label, const uint8_t *ikm,
                                        size_t ikm_len, uint8_t *prk, size_t prk_len)
{
    const struct pdm_kdf_alg *kdf = pdm_kdf_find(suite.kdf_id);
    uint8_t sid[PDM_HPKE_SUITE_ID_SIZE];

    if (kdf == NULL)
        return PDM_ERR_UNSUPPORTED;
    if (label == NULL || prk == NULL || prk_len != kdf->nh || (salt == NULL && salt_len != 0) ||
        (ikm == NULL && ikm_len != 0))
        return PDM_ERR_INVAL;
    pdm_hpke_suite_id(suite, sid);
    return labeled_extract(kdf, sid, sizeof sid, salt, salt_len, label, ikm, ikm_len, prk);
}

PDM_EXTERN int pdm_hpke_labeled_expand(struct pdm_hpke_suite suite, const uint8_t *prk,
                                       size_t prk_len, const char *label, const uint8_t *info,
                                       size_t info_len, uint8_t *out, size_t L)
{
    const struct pdm_kdf_alg *kdf = pdm_kdf_find(suite.kdf_id);
    uint8_t sid[PDM_HPKE_SUITE_ID_SIZE];

    if (kdf == NULL)
        return PDM_ERR_UNSUPPORTED;
    if (prk == NULL || prk_len != kdf->nh || label == NULL || out == NULL ||
        (info == NULL && info_len != 0))
        return PDM_ERR_INVAL;
    pdm_hpke_suite_id(suite, sid);
    return labeled_expand(kdf, sid, sizeof sid, prk, prk_len, label, info, info_len, out, L);
}

/* ------------------------------------------------------------------ */
/* Suites                                                               */
/* ------------------------------------------------------------------ */

struct algs {
    const struct pdm_kem_alg *kem;
    const struct pdm_kdf_alg *kdf;
    const struct pdm_aead_alg *aead;
};

static int find_algs(struct pdm_hpke_suite suite, struct algs *a)
{
    a->kem = pdm_kem_find(suite.kem_id);
    a->kdf = pdm_kdf_find(suite.kdf_id);
    a->aead = pdm_aead_find(suite.aead_id);
    return a->kem && a->kdf && a->aead ? 0 : PDM_ERR_UNSUPPORTED;
}

PDM_EXTERN int pdm_hpke_suite_sizes(struct pdm_hpke_suite suite, struct pdm_hpke_sizes *out)
{
    struct algs a;
    int rv;

    if (out == NULL)
        return PDM_ERR_INVAL;
    if ((rv = find_algs(suite, &a)) != 0)
        return rv;
    out->nsecret = a.kem->nsecret;
    out->nenc = a.kem->nenc;
    out->npk = a.kem->npk;
    out->nsk = a.kem->nsk;
    out->nh = a.kdf->nh;
    out->nk = a.aead->nk;
    out->nn = a.aead->nn;
    out->nt = a.aead->nt;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Keys, §4.1, §7.1                                                     */
/* ------------------------------------------------------------------ */

static void kem_suite_id(const struct pdm_kem_alg *kem, uint8_t sid[KEM_SUITE_ID_SIZE])
{
    pdm_put_u16be(pdm_put_bytes(sid, "KEM", 3), kem->id);
}

/* RFC 7748 §5 decodeScalar25519's bit operations (§7.1.2 "clamping"). */
static void x25519_clamp(uint8_t sk[32])
{
    sk[0] &= 248;
    sk[31] &= 127;
    sk[31] |= 64;
}

/*
 * DeriveKeyPair(ikm), §7.1.3. X25519:
 *
 *   dkp_prk = LabeledExtract("", "dkp_prk", ikm)
 *   sk = LabeledExpand(dkp_prk, "sk", "", Nsk)
 *
 * P-256, P-384, P-521 (bitmask 0xFF, 0xFF, 0x01):
 *
 *   dkp_prk = LabeledExtract("", "dkp_prk", ikm)
 *   sk = 0
 *   counter = 0
 *   while sk == 0 or sk >= order:
 *     if counter > 255:
 *       raise DeriveKeyPairError
 *     bytes = LabeledExpand(dkp_prk, "candidate", I2OSP(counter, 1), Nsk)
 *     bytes[0] = bytes[0] & bitmask
 *     sk = OS2IP(bytes)
 *     counter = counter + 1
 *
 * with the KEM's suite_id. pk_from_sk is the "sk == 0 or sk >= order" test:
 * it answers PDM_ERR_KEY for a rejected candidate.
 */
static int derive_key_pair(const struct pdm_kem_alg *kem, const uint8_t *ikm, size_t ikm_len,
                           uint8_t *sk, uint8_t *pk)
{
    const struct pdm_kdf_alg *kdf = kem->kdf;
    uint8_t sid[KEM_SUITE_ID_SIZE], prk[PDM_HPKE_NH_MAX];
    int rv;

    kem_suite_id(kem, sid);
    if ((rv = labeled_extract(kdf, sid, sizeof sid, NULL, 0, "dkp_prk", ikm, ikm_len, prk)) != 0)
        goto out;
    if (kem->bitmask == 0) {
        if ((rv = labeled_expand(kdf, sid, sizeof sid, prk, kdf->nh, "sk", NULL, 0, sk,
                                 kem->nsk)) != 0)
            goto out;
        rv = kem->pk_from_sk(kem, sk, pk);
        goto out;
    }
    rv = PDM_ERR_KEY;
    for (unsigned counter = 0; counter <= 255 && rv == PDM_ERR_KEY; counter++) {
        uint8_t c = (uint8_t)counter;

        if ((rv = labeled_expand(kdf, sid, sizeof sid, prk, kdf->nh, "candidate", &c, 1, sk,
                                 kem->nsk)) != 0)
            goto out;
        sk[0] &= kem->bitmask;
        rv = kem->pk_from_sk(kem, sk, pk);
    }
out:
    pdm_memzero(prk, sizeof prk);
    if (rv != 0)
        pdm_memzero(sk, kem->nsk);
    return rv;
}

/* A key argument must be of this KEM, and hold a private key if need_sk. */
static int check_key(const struct pdm_hpke_key *key, const struct pdm_kem_alg *kem, int need_sk)
{
    if (key == NULL || key->kem_id != kem->id || (need_sk && !key->has_sk))
        return PDM_ERR_INVAL;
    return 0;
}

PDM_EXTERN void pdm_hpke_key_wipe(struct pdm_hpke_key *key)
{
    if (key != NULL)
        pdm_memzero(key, sizeof *key);
}

/*
 * A key pair of kem_id into *key, from in[0..len): with derive, DeriveKeyPair
 * of that IKM (§7.1.3); else DeserializePrivateKey of it (§7.1.2, X25519
 * clamped). The one body of pdm_hpke_keygen and pdm_hpke_pubkey_from_priv.
 */
static int make_key_pair(uint16_t kem_id, const uint8_t *in, size_t len, int derive,
                         struct pdm_hpke_key *key)
{
    const struct pdm_kem_alg *kem = pdm_kem_find(kem_id);
    int rv;

    if (key == NULL)
        return PDM_ERR_INVAL;
    pdm_hpke_key_wipe(key);
    if (kem == NULL)
        return PDM_ERR_UNSUPPORTED;
    /* §7.1.3: ikm SHOULD have at least Nsk bytes of entropy; fewer bytes
     * cannot, so they are refused. A serialized key is exactly Nsk. */
    if (in == NULL || (derive ? len < kem->nsk : len != kem->nsk))
        return PDM_ERR_INVAL;
    if (derive) {
        rv = derive_key_pair(kem, in, len, key->sk, key->pk);
    } else {
        memcpy(key->sk, in, len);
        if (kem->bitmask == 0)
            x25519_clamp(key->sk); /* §7.1.2: DeserializePrivateKey clamps */
        rv = kem->pk_from_sk(kem, key->sk, key->pk);
    }
    if (rv != 0) {
        pdm_hpke_key_wipe(key);
        return rv;
    }
    key->kem_id = kem_id;
    key->has_sk = 1;
    return 0;
}

PDM_EXTERN int pdm_hpke_keygen(uint16_t kem_id, const uint8_t *ikm, size_t ikm_len,
                               struct pdm_hpke_key *key)
{
    return make_key_pair(kem_id, ikm, ikm_len, 1, key);
}

PDM_EXTERN int pdm_hpke_pubkey_from_priv(uint16_t kem_id, const uint8_t *sk, size_t sk_len,
                                         struct pdm_hpke_key *key)
{
    return make_key_pair(kem_id, sk, sk_len, 0, key);
}

PDM_EXTERN int pdm_hpke_pubkey_deserialize(uint16_t kem_id, const uint8_t *pk, size_t pk_len,
                                           struct pdm_hpke_key *key)
{
    const struct pdm_kem_alg *kem = pdm_kem_find(kem_id);
    int rv;

    if (key == NULL)
        return PDM_ERR_INVAL;
    pdm_hpke_key_wipe(key);
    if (kem == NULL)
        return PDM_ERR_UNSUPPORTED;
    if (pk == NULL)
        return PDM_ERR_INVAL;
    if ((rv = kem->check_pk(kem, pk, pk_len)) != 0)
        return rv;
    memcpy(key->pk, pk, kem->npk);
    key->kem_id = kem_id;
    return 0;
}

PDM_EXTERN int pdm_hpke_pubkey_serialize(const struct pdm_hpke_key *key, uint8_t *out,
                                         size_t out_cap)
{
    const struct pdm_kem_alg *kem;

    if (key == NULL || out == NULL)
        return PDM_ERR_INVAL;
    if ((kem = pdm_kem_find(key->kem_id)) == NULL)
        return PDM_ERR_UNSUPPORTED;
    if (out_cap < kem->npk)
        return PDM_ERR_NOBUF;
    memcpy(out, key->pk, kem->npk);
    return (int)kem->npk;
}

PDM_EXTERN int pdm_hpke_privkey_serialize(const struct pdm_hpke_key *key, uint8_t *out,
                                          size_t out_cap)
{
    const struct pdm_kem_alg *kem;

    if (key == NULL || out == NULL || !key->has_sk)
        return PDM_ERR_INVAL;
    if ((kem = pdm_kem_find(key->kem_id)) == NULL)
        return PDM_ERR_UNSUPPORTED;
    if (out_cap < kem->nsk)
        return PDM_ERR_NOBUF;
    memcpy(out, key->sk, kem->nsk);
    if (kem->bitmask == 0)
        x25519_clamp(out); /* §7.1.2: SerializePrivateKey clamps */
    return (int)kem->nsk;
}

/* ------------------------------------------------------------------ */
/* DHKEM, §4.1                                                          */
/* ------------------------------------------------------------------ */

/* skE, pkE = GenerateKeyPair(), as DeriveKeyPair of fixed or random ikm. */
static int eph_key_pair(const struct pdm_kem_alg *kem, const struct pdm_hpke_eph *eph, uint8_t *skE,
                        uint8_t *pkE)
{
    uint8_t ikm[PDM_HPKE_NSK_MAX];
    int rv;

    if (eph == NULL)
        return PDM_ERR_INVAL;
    if (eph->ikm != NULL) {
        if (eph->ikm_len < kem->nsk)
            return PDM_ERR_INVAL;
        return derive_key_pair(kem, eph->ikm, eph->ikm_len, skE, pkE);
    }
    if (eph->rand == NULL)
        return PDM_ERR_INVAL;
    if (eph->rand(eph->rand_arg, ikm, kem->nsk) != 0) {
        rv = PDM_ERR_CRYPTO;
        goto out;
    }
    rv = derive_key_pair(kem, ikm, kem->nsk, skE, pkE);
out:
    pdm_memzero(ikm, sizeof ikm);
    return rv;
}

/*
 * def ExtractAndExpand(dh, kem_context):
 *   eae_prk = LabeledExtract("", "eae_prk", dh)
 *   shared_secret = LabeledExpand(eae_prk, "shared_secret", kem_context, Nsecret)
 */
static int extract_and_expand(const struct pdm_kem_alg *kem, const uint8_t *dh, size_t dh_len,
                              const uint8_t *kem_context, size_t kem_context_len, uint8_t *ss)
{
    uint8_t sid[KEM_SUITE_ID_SIZE], prk[PDM_HPKE_NH_MAX];
    int rv;

    kem_suite_id(kem, sid);
    if ((rv = labeled_extract(kem->kdf, sid, sizeof sid, NULL, 0, "eae_prk", dh, dh_len, prk)) != 0)
        goto out;
    rv = labeled_expand(kem->kdf, sid, sizeof sid, prk, kem->kdf->nh, "shared_secret", kem_context,
                        kem_context_len, ss, kem->nsecret);
out:
    pdm_memzero(prk, sizeof prk);
    return rv;
}

/*
 * The common end of the four KEM operations below: dh holds the first DH
 * (Ndh bytes); in the auth modes (dh2_key not NULL) the second,
 * DH(dh2_key, dh2_peer), is appended; then shared_secret =
 * ExtractAndExpand(dh, concat(enc, pkRm[, pkSm])) into ss.
 */
static int kem_shared_secret(const struct pdm_kem_alg *kem, uint8_t *dh,
                             const struct pdm_hpke_key *dh2_key, const uint8_t *dh2_peer,
                             const uint8_t *enc, const uint8_t *pkRm, const uint8_t *pkSm,
                             uint8_t *ss)
{
    uint8_t kem_context[3 * PDM_HPKE_NPK_MAX], *p;
    size_t dh_len = kem->ndh;
    int rv;

    if (dh2_key != NULL) {
        if ((rv = kem->dh(kem, dh2_key->sk, dh2_key->pk, dh2_peer, kem->npk, dh + kem->ndh)) != 0)
            return rv;
        dh_len += kem->ndh;
    }
    p = pdm_put_bytes(kem_context, enc, kem->nenc);
    p = pdm_put_bytes(p, pkRm, kem->npk);
    if (pkSm != NULL)
        p = pdm_put_bytes(p, pkSm, kem->npk);
    return extract_and_expand(kem, dh, dh_len, kem_context, (size_t)(p - kem_context), ss);
}

/*
 * def Encap(pkR):                          def AuthEncap(pkR, skS):
 *   skE, pkE = GenerateKeyPair()             skE, pkE = GenerateKeyPair()
 *   dh = DH(skE, pkR)                        dh = concat(DH(skE, pkR), DH(skS, pkR))
 *   enc = SerializePublicKey(pkE)            enc = SerializePublicKey(pkE)
 *   pkRm = SerializePublicKey(pkR)           pkRm = SerializePublicKey(pkR)
 *   kem_context = concat(enc, pkRm)          pkSm = SerializePublicKey(pk(skS))
 *   shared_secret = ExtractAndExpand(        kem_context = concat(enc, pkRm, pkSm)
 *       dh, kem_context)                     shared_secret = ExtractAndExpand(dh, kem_context)
 *   return shared_secret, enc                return shared_secret, enc
 *
 * skS is NULL for Encap. Writes enc (Nenc) and ss (Nsecret).
 */
static int kem_encap(const struct pdm_kem_alg *kem, const struct pdm_hpke_key *pkR,
                     const struct pdm_hpke_key *skS, const struct pdm_hpke_eph *eph, uint8_t *enc,
                     uint8_t *ss)
{
    uint8_t skE[PDM_HPKE_NSK_MAX], dh[2 * NDH_MAX];
    int rv;

    if ((rv = eph_key_pair(kem, eph, skE, enc)) == 0 &&
        (rv = kem->dh(kem, skE, enc, pkR->pk, kem->npk, dh)) == 0)
        rv = kem_shared_secret(kem, dh, skS, pkR->pk, enc, pkR->pk, skS ? skS->pk : NULL, ss);
    pdm_memzero(skE, sizeof skE);
    pdm_memzero(dh, sizeof dh);
    if (rv != 0)
        pdm_memzero(ss, kem->nsecret);
    return rv;
}

/*
 * def Decap(enc, skR):                     def AuthDecap(enc, skR, pkS):
 *   pkE = DeserializePublicKey(enc)          pkE = DeserializePublicKey(enc)
 *   dh = DH(skR, pkE)                        dh = concat(DH(skR, pkE), DH(skR, pkS))
 *   pkRm = SerializePublicKey(pk(skR))       pkRm = SerializePublicKey(pk(skR))
 *   kem_context = concat(enc, pkRm)          pkSm = SerializePublicKey(pkS)
 *   shared_secret = ExtractAndExpand(        kem_context = concat(enc, pkRm, pkSm)
 *       dh, kem_context)                     shared_secret = ExtractAndExpand(dh, kem_context)
 *
 * pkS is NULL for Decap. DeserializePublicKey's validation of enc happens
 * in kem->dh (PDM_ERR_KEY); the length is checked here.
 */
static int kem_decap(const struct pdm_kem_alg *kem, const uint8_t *enc, size_t enc_len,
                     const struct pdm_hpke_key *skR, const struct pdm_hpke_key *pkS, uint8_t *ss)
{
    const uint8_t *pkSm = pkS != NULL ? pkS->pk : NULL;
    uint8_t dh[2 * NDH_MAX];
    int rv = PDM_ERR_KEY;

    if (enc_len == kem->nenc && (rv = kem->dh(kem, skR->sk, skR->pk, enc, enc_len, dh)) == 0)
        rv = kem_shared_secret(kem, dh, pkS != NULL ? skR : NULL, pkSm, enc, skR->pk, pkSm, ss);
    pdm_memzero(dh, sizeof dh);
    if (rv != 0)
        pdm_memzero(ss, kem->nsecret);
    return rv;
}

PDM_EXTERN int pdm_hpke_encap(const struct pdm_hpke_key *pkR, const struct pdm_hpke_key *skS,
                              const struct pdm_hpke_eph *eph, uint8_t *enc, size_t enc_cap,
                              uint8_t *shared_secret, size_t ss_cap)
{
    const struct pdm_kem_alg *kem;
    int rv;

    if (pkR == NULL || enc == NULL || shared_secret == NULL)
        return PDM_ERR_INVAL;
    if ((kem = pdm_kem_find(pkR->kem_id)) == NULL)
        return PDM_ERR_UNSUPPORTED;
    if (skS != NULL && (rv = check_key(skS, kem, 1)) != 0)
        return rv;
    if (enc_cap < kem->nenc || ss_cap < kem->nsecret)
        return PDM_ERR_NOBUF;
    return kem_encap(kem, pkR, skS, eph, enc, shared_secret);
}

PDM_EXTERN int pdm_hpke_decap(const struct pdm_hpke_key *skR, const struct pdm_hpke_key *pkS,
                              const uint8_t *enc, size_t enc_len, uint8_t *shared_secret,
                              size_t ss_cap)
{
    const struct pdm_kem_alg *kem;
    int rv;

    if (skR == NULL || enc == NULL || shared_secret == NULL)
        return PDM_ERR_INVAL;
    if ((kem = pdm_kem_find(skR->kem_id)) == NULL)
        return PDM_ERR_UNSUPPORTED;
    if ((rv = check_key(skR, kem, 1)) != 0 || (pkS != NULL && (rv = check_key(pkS, kem, 0)) != 0))
        return rv;
    if (ss_cap < kem->nsecret)
        return PDM_ERR_NOBUF;
    return kem_decap(kem, enc, enc_len, skR, pkS, shared_secret);
}

/* ------------------------------------------------------------------ */
/* Key schedule, §5.1                                                   */
/* ------------------------------------------------------------------ */

/*
 * def VerifyPSKInputs(mode, psk, psk_id):
 *   got_psk = (psk != default_psk)
 *   got_psk_id = (psk_id != default_psk_id)
 *   if got_psk != got_psk_id:
 *     raise Exception("Inconsistent PSK inputs")
 *   if got_psk and (mode in [mode_base, mode_auth]):
 *     raise Exception("PSK input provided when not needed")
 *   if (not got_psk) and (mode in [mode_psk, mode_auth_psk]):
 *     raise Exception("Missing required PSK input")
 *
 * and, the same way for the sender's static key: present exactly in the
 * auth modes. A psk shorter than PDM_HPKE_PSK_MIN is refused (§9.5).
 */
static int check_params(const struct pdm_hpke_params *p, const struct pdm_kem_alg *kem,
                        int need_sender_sk)
{
    int got_psk = p->psk_len != 0, got_psk_id = p->psk_id_len != 0;
    int psk_mode, auth_mode;

    if ((unsigned)p->mode > PDM_HPKE_MODE_AUTH_PSK || (p->info == NULL && p->info_len != 0) ||
        (p->psk == NULL && p->psk_len != 0) || (p->psk_id == NULL && p->psk_id_len != 0))
        return PDM_ERR_INVAL;
    psk_mode = p->mode == PDM_HPKE_MODE_PSK || p->mode == PDM_HPKE_MODE_AUTH_PSK;
    auth_mode = p->mode == PDM_HPKE_MODE_AUTH || p->mode == PDM_HPKE_MODE_AUTH_PSK;
    if (got_psk != got_psk_id || got_psk != psk_mode)
        return PDM_ERR_INVAL;
    if (got_psk && p->psk_len < PDM_HPKE_PSK_MIN)
        return PDM_ERR_INVAL;
    if (auth_mode != (p->sender != NULL))
        return PDM_ERR_INVAL;
    return p->sender != NULL ? check_key(p->sender, kem, need_sender_sk) : 0;
}

/*
 * def KeySchedule<ROLE>(mode, shared_secret, info, psk, psk_id):
 *   VerifyPSKInputs(mode, psk, psk_id)
 *   psk_id_hash = LabeledExtract("", "psk_id_hash", psk_id)
 *   info_hash = LabeledExtract("", "info_hash", info)
 *   key_schedule_context = concat(mode, psk_id_hash, info_hash)
 *   secret = LabeledExtract(shared_secret, "secret", psk)
 *   key = LabeledExpand(secret, "key", key_schedule_context, Nk)
 *   base_nonce = LabeledExpand(secret, "base_nonce", key_schedule_context, Nn)
 *   exporter_secret = LabeledExpand(secret, "exp", key_schedule_context, Nh)
 *   return Context<ROLE>(key, base_nonce, 0, exporter_secret)
 *
 * (VerifyPSKInputs ran in check_params.) The AEAD is keyed here, once.
 * On failure the caller frees ctx.
 */
static int key_schedule(struct pdm_hpke_ctx *ctx, const struct pdm_hpke_params *p,
                        const struct algs *a, const uint8_t *ss, uint8_t role)
{
    const struct pdm_kdf_alg *kdf = a->kdf;
    const struct pdm_aead_alg *aead = a->aead;
    uint8_t sid[PDM_HPKE_SUITE_ID_SIZE], ksc[1 + 2 * PDM_HPKE_NH_MAX], secret[PDM_HPKE_NH_MAX];
    size_t nh = kdf->nh, ksc_len = 1 + 2 * nh;
    int rv;

    pdm_hpke_suite_id(p->suite, sid);
    ksc[0] = (uint8_t)p->mode;
    if ((rv = labeled_extract(kdf, sid, sizeof sid, NULL, 0, "psk_id_hash", p->psk_id,
                              p->psk_id_len, ksc + 1)) != 0 ||
        (rv = labeled_extract(kdf, sid, sizeof sid, NULL, 0, "info_hash", p->info, p->info_len,
                              ksc + 1 + nh)) != 0 ||
        (rv = labeled_extract(kdf, sid, sizeof sid, ss, a->kem->nsecret, "secret", p->psk,
                              p->psk_len, secret)) != 0)
        goto out;
    /* Export-only has Nk = Nn = 0: no key, no nonce. */
    if (aead->nk != 0 && (rv = labeled_expand(kdf, sid, sizeof sid, secret, nh, "key", ksc, ksc_len,
                                              ctx->key, aead->nk)) != 0)
        goto out;
    if (aead->nn != 0 && (rv = labeled_expand(kdf, sid, sizeof sid, secret, nh, "base_nonce", ksc,
                                              ksc_len, ctx->base_nonce, aead->nn)) != 0)
        goto out;
    if ((rv = labeled_expand(kdf, sid, sizeof sid, secret, nh, "exp", ksc, ksc_len,
                             ctx->exporter_secret, nh)) != 0)
        goto out;
    ctx->suite = p->suite;
    ctx->kdf = kdf;
    ctx->aead = aead;
    ctx->seq = 0;
    if (aead->ctx_new != NULL && (rv = aead->ctx_new(aead, ctx->key, &ctx->actx)) != 0)
        goto out;
    ctx->role = role;
out:
    pdm_memzero(secret, sizeof secret);
    pdm_memzero(ksc, sizeof ksc);
    return rv;
}

/*
 * What SetupS and SetupR check before any work: ctx zeroed, the suite
 * known, the parameters consistent with the mode (check_params), and the
 * key of the suite's KEM (the receiver's with its private key). enc is
 * only checked for NULL.
 */
static int setup_check(struct pdm_hpke_ctx *ctx, const struct pdm_hpke_params *p,
                       const struct pdm_hpke_key *key, const uint8_t *enc, int sender,
                       struct algs *a)
{
    int rv;

    if (ctx == NULL)
        return PDM_ERR_INVAL;
    pdm_memzero(ctx, sizeof *ctx);
    if (p == NULL || enc == NULL)
        return PDM_ERR_INVAL;
    if ((rv = find_algs(p->suite, a)) != 0 || (rv = check_params(p, a->kem, sender)) != 0)
        return rv;
    return check_key(key, a->kem, !sender);
}

PDM_EXTERN int pdm_hpke_setup_s(struct pdm_hpke_ctx *ctx, const struct pdm_hpke_params *p,
                                const struct pdm_hpke_key *pkR, const struct pdm_hpke_eph *eph,
                                uint8_t *enc, size_t enc_cap)
{
    uint8_t ss[PDM_HPKE_NSECRET_MAX];
    struct algs a;
    int rv;

    if ((rv = setup_check(ctx, p, pkR, enc, 1, &a)) != 0)
        goto out;
    if (enc_cap < a.kem->nenc) {
        rv = PDM_ERR_NOBUF;
        goto out;
    }
    if ((rv = kem_encap(a.kem, pkR, p->sender, eph, enc, ss)) != 0 ||
        (rv = key_schedule(ctx, p, &a, ss, ROLE_SENDER)) != 0)
        goto out;
    rv = (int)a.kem->nenc;
out:
    pdm_memzero(ss, sizeof ss);
    if (rv < 0)
        pdm_hpke_ctx_free(ctx);
    return rv;
}

PDM_EXTERN int pdm_hpke_setup_r(struct pdm_hpke_ctx *ctx, const struct pdm_hpke_params *p,
                                const struct pdm_hpke_key *skR, const uint8_t *enc, size_t enc_len)
{
    uint8_t ss[PDM_HPKE_NSECRET_MAX];
    struct algs a;
    int rv;

    if ((rv = setup_check(ctx, p, skR, enc, 0, &a)) != 0 ||
        (rv = kem_decap(a.kem, enc, enc_len, skR, p->sender, ss)) != 0 ||
        (rv = key_schedule(ctx, p, &a, ss, ROLE_RECEIVER)) != 0)
        goto out;
out:
    pdm_memzero(ss, sizeof ss);
    if (rv != 0)
        pdm_hpke_ctx_free(ctx);
    return rv;
}

PDM_EXTERN void pdm_hpke_ctx_free(struct pdm_hpke_ctx *ctx)
{
    if (ctx == NULL)
        return;
    if (ctx->aead != NULL && ctx->aead->ctx_free != NULL)
        ctx->aead->ctx_free(ctx->actx);
    pdm_memzero(ctx, sizeof *ctx);
}

/* ------------------------------------------------------------------ */
/* Encryption and export, §5.2, §5.3                                    */
/* ------------------------------------------------------------------ */

/*
 * def Context<ROLE>.ComputeNonce(seq):
 *   seq_bytes = I2OSP(seq, Nn)
 *   return xor(self.base_nonce, seq_bytes)
 *
 * seq is 64 bits here, so only the last 8 bytes of the nonce change.
 */
static void compute_nonce(const struct pdm_hpke_ctx *ctx, uint8_t nonce[PDM_HPKE_NN_MAX])
{
    size_t nn = ctx->aead->nn;
    uint8_t s[8];

    pdm_put_u64be(s, ctx->seq);
    memcpy(nonce, ctx->base_nonce, nn);
    for (size_t i = 0; i < 8 && i < nn; i++)
        nonce[nn - 1 - i] ^= s[7 - i];
}

/*
 * Checks before Seal / Open. IncrementSeq (§5.2) fails once seq reaches
 * 2^(8*Nn) - 1; with a 64-bit counter the limit is 2^64 - 1, which is
 * refused before use, so no nonce ever repeats.
 */
static int ctx_ready(const struct pdm_hpke_ctx *ctx, uint8_t role)
{
    if (ctx == NULL || ctx->role != role)
        return PDM_ERR_STATE;
    if (ctx->actx == NULL)
        return PDM_ERR_UNSUPPORTED; /* export-only: Seal and Open do not exist */
    if (ctx->seq == UINT64_MAX)
        return PDM_ERR_NONCE_REUSE;
    return 0;
}

/*
 * def ContextS.Seal(aad, pt):
 *   ct = Seal(self.key, self.ComputeNonce(self.seq), aad, pt)
 *   self.IncrementSeq()
 *   return ct
 */
PDM_EXTERN int pdm_hpke_ctx_seal(struct pdm_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
                                 const uint8_t *pt, size_t pt_len, uint8_t *ct, size_t ct_cap)
{
    uint8_t nonce[PDM_HPKE_NN_MAX];
    size_t nt;
    int rv;

    if ((rv = ctx_ready(ctx, ROLE_SENDER)) != 0)
        return rv;
    nt = ctx->aead->nt;
    if ((aad == NULL && aad_len != 0) || (pt == NULL && pt_len != 0) || ct == NULL ||
        pt_len > (size_t)INT_MAX - nt)
        return PDM_ERR_INVAL;
    if (ct_cap < pt_len + nt)
        return PDM_ERR_NOBUF;
    compute_nonce(ctx, nonce);
    rv = ctx->aead->seal(ctx->actx, nonce, aad, aad_len, pt, pt_len, ct);
    pdm_memzero(nonce, sizeof nonce); /* base_nonce XOR seq gives base_nonce away */
    if (rv != 0)
        return rv;
    ctx->seq++;
    return (int)(pt_len + nt);
}

/*
 * def ContextR.Open(aad, ct):
 *   pt = Open(self.key, self.ComputeNonce(self.seq), aad, ct)
 *   if pt == OpenError:
 *     raise OpenError
 *   self.IncrementSeq()
 *   return pt
 */
PDM_EXTERN int pdm_hpke_ctx_open(struct pdm_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
                                 const uint8_t *ct, size_t ct_len, uint8_t *pt, size_t pt_cap)
{
    uint8_t nonce[PDM_HPKE_NN_MAX];
    size_t nt;
    int rv;

    if ((rv = ctx_ready(ctx, ROLE_RECEIVER)) != 0)
        return rv;
    nt = ctx->aead->nt;
    if ((aad == NULL && aad_len != 0) || ct == NULL || pt == NULL || ct_len > (size_t)INT_MAX)
        return PDM_ERR_INVAL;
    if (ct_len < nt)
        return PDM_ERR_AUTH;
    if (pt_cap < ct_len - nt)
        return PDM_ERR_NOBUF;
    compute_nonce(ctx, nonce);
    rv = ctx->aead->open(ctx->actx, nonce, aad, aad_len, ct, ct_len, pt);
    pdm_memzero(nonce, sizeof nonce);
    if (rv != 0)
        return rv;
    ctx->seq++;
    return (int)(ct_len - nt);
}

/*
 * def Context.Export(exporter_context, L):
 *   return LabeledExpand(self.exporter_secret, "sec", exporter_context, L)
 */
PDM_EXTERN int pdm_hpke_ctx_export(const struct pdm_hpke_ctx *ctx, const uint8_t *exporter_context,
                                   size_t exporter_context_len, uint8_t *out, size_t L)
{
    uint8_t sid[PDM_HPKE_SUITE_ID_SIZE];

    if (ctx == NULL || ctx->role == ROLE_NONE)
        return PDM_ERR_STATE;
    if ((exporter_context == NULL && exporter_context_len != 0) || out == NULL)
        return PDM_ERR_INVAL;
    pdm_hpke_suite_id(ctx->suite, sid);
    return labeled_expand(ctx->kdf, sid, sizeof sid, ctx->exporter_secret, ctx->kdf->nh, "sec",
                          exporter_context, exporter_context_len, out, L);
}

/* ------------------------------------------------------------------ */
/* Single-shot APIs, §6.1                                               */
/* ------------------------------------------------------------------ */

/*
 * def Seal<MODE>(pkR, info, aad, pt, ...):
 *   enc, ctx = Setup<MODE>S(pkR, info, ...)
 *   ct = ctx.Seal(aad, pt)
 *   return enc, ct
 */
PDM_EXTERN int pdm_hpke_seal(const struct pdm_hpke_params *p, const struct pdm_hpke_key *pkR,
                             const struct pdm_hpke_eph *eph, const uint8_t *aad, size_t aad_len,
                             const uint8_t *pt, size_t pt_len, uint8_t *enc, size_t enc_cap,
                             uint8_t *ct, size_t ct_cap)
{
    struct pdm_hpke_ctx ctx;
    int rv;

    if ((rv = pdm_hpke_setup_s(&ctx, p, pkR, eph, enc, enc_cap)) < 0)
        return rv; /* ctx is zeroed */
    rv = pdm_hpke_ctx_seal(&ctx, aad, aad_len, pt, pt_len, ct, ct_cap);
    pdm_hpke_ctx_free(&ctx);
    return rv;
}

/*
 * def Open<MODE>(enc, skR, info, aad, ct, ...):
 *   ctx = Setup<MODE>R(enc, skR, info, ...)
 *   return ctx.Open(aad, ct)
 */
PDM_EXTERN int pdm_hpke_open(const struct pdm_hpke_params *p, const struct pdm_hpke_key *skR,
                             const uint8_t *enc, size_t enc_len, const uint8_t *aad, size_t aad_len,
                             const uint8_t *ct, size_t ct_len, uint8_t *pt, size_t pt_cap)
{
    struct pdm_hpke_ctx ctx;
    int rv;

    if ((rv = pdm_hpke_setup_r(&ctx, p, skR, enc, enc_len)) != 0)
        return rv;
    rv = pdm_hpke_ctx_open(&ctx, aad, aad_len, ct, ct_len, pt, pt_cap);
    pdm_hpke_ctx_free(&ctx);
    return rv;
}

/*
 * def SendExport<MODE>(pkR, info, exporter_context, L, ...):
 *   enc, ctx = Setup<MODE>S(pkR, info, ...)
 *   exported = ctx.Export(exporter_context, L)
 *   return enc, exported
 */
PDM_EXTERN int pdm_hpke_send_export(const struct pdm_hpke_params *p, const struct pdm_hpke_key *pkR,
                                    const struct pdm_hpke_eph *eph, const uint8_t *exporter_context,
                                    size_t exporter_context_len, uint8_t *enc, size_t enc_cap,
                                    uint8_t *out, size_t L)
{
    struct pdm_hpke_ctx ctx;
    int rv;

    if ((rv = pdm_hpke_setup_s(&ctx, p, pkR, eph, enc, enc_cap)) < 0)
        return rv; /* ctx is zeroed */
    rv = pdm_hpke_ctx_export(&ctx, exporter_context, exporter_context_len, out, L);
    pdm_hpke_ctx_free(&ctx);
    if (rv != 0 && out != NULL)
        pdm_memzero(out, L);
    return rv;
}

/*
 * def ReceiveExport<MODE>(enc, skR, info, exporter_context, L, ...):
 *   ctx = Setup<MODE>R(enc, skR, info, ...)
 *   return ctx.Export(exporter_context, L)
 */
PDM_EXTERN int pdm_hpke_receive_export(const struct pdm_hpke_params *p,
                                       const struct pdm_hpke_key *skR, const uint8_t *enc,
                                       size_t enc_len, const uint8_t *exporter_context,
                                       size_t exporter_context_len, uint8_t *out, size_t L)
{
    struct pdm_hpke_ctx ctx;
    int rv;

    if ((rv = pdm_hpke_setup_r(&ctx, p, skR, enc, enc_len)) != 0)
        return rv;
    rv = pdm_hpke_ctx_export(&ctx, exporter_context, exporter_context_len, out, L);
    pdm_hpke_ctx_free(&ctx);
    if (rv != 0 && out != NULL)
        pdm_memzero(out, L);
    return rv;
}
