/*
 * The PDMv2 profile "pdmv2-hpke-1" (docs/profile.md §3), written on the HPKE
 * labeled KDF (lib/hpke.c) and the backend's AEAD table (lib/crypto.h).
 * docs/crypto.md explains the choices made here: the RN permutation and
 * where its key comes from, rotation, the receiver's Kri search, and what
 * an observer learns.
 *
 * Secrets handled here: prk (in struct pdm_profile_secret, the caller's),
 * STK (a stack buffer, wiped as soon as the AEAD context is keyed),
 * plaintext fields (stack, wiped), BaseNonce and the RN key (in the key
 * object, wiped when it is freed).
 */
#include <pdm/profile.h>

#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "crypto.h"

_Static_assert(PDM_V2_AAD_SIZE + PDM_V2_PT_SIZE + PDM_V2_TAG_SIZE == PDM_OPTSIZE_V2_ENC,
               "aad || ct || tag is one encrypted option");

/* Labels of the key schedule (profile §3), and our own for the RN key. */
static const char label_prk[] = "pdmv2 prk";
static const char label_key[] = "pdmv2 key";
static const char label_nonce[] = "pdmv2 nonce";
static const char label_primary[] = "pdmv2 primary";
static const char label_client[] = "pdmv2 client";
/* Not part of the wire contract: only the sender uses its RN sequence, so
 * a peer never needs this key (docs/crypto.md §2). */
static const char label_rn[] = "pdmv2 rn";

/* ------------------------------------------------------------------------ */
/* Suites                                                                   */

/* Four hex digits at s into *v; -1 if any is not a hex digit. */
static int hex4(const char *s, uint16_t *v)
{
    unsigned acc = 0;

    for (int i = 0; i < 4; i++) {
        int d = pdm_hexval((unsigned char)s[i]);
        if (d < 0)
            return -1;
        acc = acc << 4 | (unsigned)d;
    }
    *v = (uint16_t)acc;
    return 0;
}

/*
 *   0    4 5    9 10  14
 *   kkkk - dddd - aaaa
 */
PDM_EXTERN int pdm_suite_parse(const char *s, struct pdm_hpke_suite *out)
{
    struct pdm_hpke_suite v;

    if (s == NULL || out == NULL)
        return PDM_ERR_INVAL;
    if (strnlen(s, PDM_SUITE_TEXT_LEN + 1) != PDM_SUITE_TEXT_LEN || s[4] != '-' || s[9] != '-')
        return PDM_ERR_INVAL;
    if (hex4(s, &v.kem_id) != 0 || hex4(s + 5, &v.kdf_id) != 0 || hex4(s + 10, &v.aead_id) != 0)
        return PDM_ERR_INVAL;
    *out = v;
    return 0;
}

PDM_EXTERN void pdm_suite_format(struct pdm_hpke_suite suite, char out[PDM_SUITE_TEXT_SIZE])
{
    static const char digits[] = "0123456789abcdef";
    const uint16_t ids[3] = {suite.kem_id, suite.kdf_id, suite.aead_id};
    char *p = out;

    for (int i = 0; i < 3; i++) {
        for (int shift = 12; shift >= 0; shift -= 4)
            *p++ = digits[(ids[i] >> shift) & 0xF];
        *p++ = i < 2 ? '-' : '\0';
    }
}

PDM_EXTERN int pdm_profile_suite_check(struct pdm_hpke_suite suite)
{
    const struct pdm_aead_alg *aead = pdm_aead_find(suite.aead_id);

    /* Export-only (0xFFFF) has no Seal: it cannot carry PDM data. */
    if (pdm_kem_find(suite.kem_id) == NULL || pdm_kdf_find(suite.kdf_id) == NULL || aead == NULL ||
        aead->nk == 0 || aead->ctx_new == NULL)
        return PDM_ERR_UNSUPPORTED;
    /* The option has room for exactly a 16-byte tag (profile §3). */
    if (aead->nt != PDM_V2_TAG_SIZE || aead->nn < 2 || aead->nn > PDM_HPKE_NN_MAX)
        return PDM_ERR_UNSUPPORTED;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Key schedule                                                             */

/* Protocols whose ports enter `flow` (profile §3); 0 for all others. */
static int has_ports(uint8_t proto)
{
    return proto == PDM_NH_TCP || proto == PDM_NH_UDP || proto == PDM_NH_UDPLITE ||
           proto == PDM_NH_SCTP || proto == PDM_NH_DCCP;
}

/*
 *   0          16        18          34        36         37    39
 *   +----------+---------+-----------+---------+----------+-----+
 *   | SrcIP    | SrcPort | DstIP     | DstPort | Protocol | Kri |
 *   +----------+---------+-----------+---------+----------+-----+
 */
PDM_EXTERN void pdm_profile_flow_info(const struct pdm_flow_tuple *t, uint16_t kri,
                                      uint8_t out[PDM_PROFILE_FLOW_INFO_SIZE])
{
    int ports = has_ports(t->proto);
    uint8_t *p = out;

    p = pdm_put_bytes(p, t->src, 16);
    p = pdm_put_u16be(p, ports ? t->sport : 0);
    p = pdm_put_bytes(p, t->dst, 16);
    p = pdm_put_u16be(p, ports ? t->dport : 0);
    p = pdm_put_u8(p, t->proto);
    pdm_put_u16be(p, kri);
}

PDM_EXTERN void pdm_profile_secret_wipe(struct pdm_profile_secret *s)
{
    if (s != NULL)
        pdm_memzero(s, sizeof *s);
}

/*
 * What a flow secret and a primary secret share (profile §3): a suite the
 * profile can use, a 32-byte salt and an Nh-byte input secret, then
 * prk = LabeledExtract(salt, label, ikm) into prk and Nh into *nh. The
 * callers wipe their struct on failure.
 */
static int extract_prk(struct pdm_hpke_suite suite, const uint8_t *salt, size_t salt_len,
                       const char *label, const uint8_t *ikm, size_t ikm_len,
                       uint8_t prk[PDM_HPKE_NH_MAX], uint8_t *nh)
{
    const struct pdm_kdf_alg *kdf;
    int rv;

    if ((rv = pdm_profile_suite_check(suite)) != 0)
        return rv;
    kdf = pdm_kdf_find(suite.kdf_id);
    if (salt == NULL || salt_len != PDM_PROFILE_SALT_SIZE || ikm == NULL || ikm_len != kdf->nh)
        return PDM_ERR_INVAL;
    rv = pdm_hpke_labeled_extract(suite, salt, salt_len, label, ikm, ikm_len, prk, kdf->nh);
    if (rv == 0)
        *nh = (uint8_t)kdf->nh;
    return rv;
}

PDM_EXTERN int pdm_profile_secret_init(struct pdm_profile_secret *s, struct pdm_hpke_suite suite,
                                       const uint8_t *salt, size_t salt_len,
                                       const uint8_t *shared_secret, size_t secret_len)
{
    const struct pdm_aead_alg *aead;
    int rv;

    if (s == NULL)
        return PDM_ERR_INVAL;
    pdm_memzero(s, sizeof *s);
    /* prk = LabeledExtract(salt, "pdmv2 prk", SharedSecret) */
    if ((rv = extract_prk(suite, salt, salt_len, label_prk, shared_secret, secret_len, s->prk,
                          &s->nh)) != 0)
        goto out;
    aead = pdm_aead_find(suite.aead_id); /* known: extract_prk checked the suite */
    s->suite = suite;
    s->nk = (uint8_t)aead->nk;
    s->nn = (uint8_t)aead->nn;
out:
    if (rv != 0)
        pdm_memzero(s, sizeof *s);
    return rv;
}

/* A secret that pdm_profile_secret_init filled (nh is 0 in a wiped one). */
static int secret_ok(const struct pdm_profile_secret *s)
{
    return s != NULL && s->nh != 0 && s->nk != 0 && s->nn >= 2 && s->nn <= PDM_HPKE_NN_MAX;
}

/* LabeledExpand(prk, label, flow, L) of one flow direction at one Kri. */
static int flow_expand(const struct pdm_profile_secret *s, const char *label,
                       const uint8_t info[PDM_PROFILE_FLOW_INFO_SIZE], uint8_t *out, size_t L)
{
    return pdm_hpke_labeled_expand(s->suite, s->prk, s->nh, label, info, PDM_PROFILE_FLOW_INFO_SIZE,
                                   out, L);
}

PDM_EXTERN int pdm_profile_derive(const struct pdm_profile_secret *s,
                                  const struct pdm_flow_tuple *t, uint16_t kri, uint8_t *stk,
                                  size_t stk_len, uint8_t *base_nonce, size_t nonce_len)
{
    uint8_t info[PDM_PROFILE_FLOW_INFO_SIZE];
    int rv;

    if (!secret_ok(s) || t == NULL || stk == NULL || base_nonce == NULL || stk_len != s->nk ||
        nonce_len != s->nn)
        return PDM_ERR_INVAL;
    pdm_profile_flow_info(t, kri, info);
    if ((rv = flow_expand(s, label_key, info, stk, stk_len)) != 0)
        goto out;
    rv = flow_expand(s, label_nonce, info, base_nonce, nonce_len);
out:
    if (rv != 0) {
        pdm_memzero(stk, stk_len);
        pdm_memzero(base_nonce, nonce_len);
    }
    return rv;
}

/*
 * STK, BaseNonce and (for a sender) the RN key of one flow direction at one
 * Kri; the AEAD is keyed once here and STK wiped.
 */
static int key_derive(struct pdm_profile_key *k, const struct pdm_profile_secret *s,
                      const struct pdm_flow_tuple *t, uint16_t kri, int sender)
{
    uint8_t info[PDM_PROFILE_FLOW_INFO_SIZE], stk[PDM_HPKE_NK_MAX];
    const struct pdm_aead_alg *aead;
    int rv;

    memset(k, 0, sizeof *k);
    if (!secret_ok(s) || t == NULL)
        return PDM_ERR_INVAL;
    aead = pdm_aead_find(s->suite.aead_id);
    if (aead == NULL || aead->ctx_new == NULL)
        return PDM_ERR_UNSUPPORTED;
    if (aead->nk != s->nk || aead->nn != s->nn)
        return PDM_ERR_INVAL;
    pdm_profile_flow_info(t, kri, info);
    if ((rv = flow_expand(s, label_key, info, stk, s->nk)) != 0)
        goto out;
    if ((rv = flow_expand(s, label_nonce, info, k->base_nonce, s->nn)) != 0)
        goto out;
    if (sender && (rv = flow_expand(s, label_rn, info, k->rn_key, sizeof k->rn_key)) != 0)
        goto out;
    if ((rv = aead->ctx_new(aead, stk, &k->actx)) != 0)
        goto out;
    k->aead = aead;
    k->kri = kri;
    k->nn = s->nn;
out:
    pdm_memzero(stk, sizeof stk);
    if (rv != 0)
        pdm_memzero(k, sizeof *k);
    return rv;
}

PDM_EXTERN int pdm_profile_key_init(struct pdm_profile_key *k, const struct pdm_profile_secret *s,
                                    const struct pdm_flow_tuple *t, uint16_t kri)
{
    if (k == NULL)
        return PDM_ERR_INVAL;
    return key_derive(k, s, t, kri, 0);
}

PDM_EXTERN void pdm_profile_key_clear(struct pdm_profile_key *k)
{
    if (k == NULL)
        return;
    if (k->aead != NULL && k->actx != NULL)
        k->aead->ctx_free(k->actx);
    pdm_memzero(k, sizeof *k);
}

/* A key for the tx/rx states, which hold keys by pointer to stay small. */
static int key_new(struct pdm_profile_key **out, const struct pdm_profile_secret *s,
                   const struct pdm_flow_tuple *t, uint16_t kri, int sender)
{
    struct pdm_profile_key *k = malloc(sizeof *k);
    int rv;

    *out = NULL;
    if (k == NULL)
        return PDM_ERR_NOMEM;
    if ((rv = key_derive(k, s, t, kri, sender)) != 0) {
        free(k);
        return rv;
    }
    *out = k;
    return 0;
}

static void key_free(struct pdm_profile_key *k)
{
    if (k == NULL)
        return;
    pdm_profile_key_clear(k);
    free(k);
}

static int key_ok(const struct pdm_profile_key *k)
{
    return k != NULL && k->aead != NULL && k->actx != NULL && k->nn >= 2;
}

/* nonce = BaseNonce XOR I2OSP(RN, Nn): RN lands in the last two bytes. */
static void make_nonce(const struct pdm_profile_key *k, uint16_t rn, uint8_t *nonce)
{
    memcpy(nonce, k->base_nonce, k->nn);
    nonce[k->nn - 2] ^= (uint8_t)(rn >> 8);
    nonce[k->nn - 1] ^= (uint8_t)rn;
}

PDM_EXTERN int pdm_profile_key_nonce(const struct pdm_profile_key *k, uint16_t rn, uint8_t *out,
                                     size_t cap)
{
    if (!key_ok(k) || out == NULL || rn < PDM_RN_MIN || rn > PDM_RN_MAX)
        return PDM_ERR_INVAL;
    if (cap < k->nn)
        return PDM_ERR_NOBUF;
    make_nonce(k, rn, out);
    return k->nn;
}

/* ------------------------------------------------------------------------ */
/* One option                                                               */

/*
 * The encrypted option (profile §1, §3), 36 bytes:
 *
 *   0      1        2                4              6                 20        36
 *   +------+--------+----------------+--------------+-----------------+---------+
 *   | Type | 0x22   | 0x2000         | RN<<1 | F    | ciphertext (14) | tag (16)|
 *   +------+--------+----------------+--------------+-----------------+---------+
 *   |<------------ aad (6 bytes, as sent) --------->|
 *
 * The plaintext is pdm_fields_pack()'s 14-byte layout.
 */
static int seal_one(const struct pdm_profile_key *k, uint8_t type, uint16_t rn,
                    const struct pdm_fields *f, uint8_t *out)
{
    uint8_t nonce[PDM_HPKE_NN_MAX], pt[PDM_V2_PT_SIZE];
    int rv;

    pdm_option_write_clear(out, type, PDM_FORMAT_V2_ENCRYPTED, rn, (uint8_t)(k->kri & 1));
    pdm_fields_pack(pt, f);
    make_nonce(k, rn, nonce);
    rv = k->aead->seal(k->actx, nonce, out, PDM_V2_AAD_SIZE, pt, sizeof pt, out + PDM_V2_AAD_SIZE);
    pdm_memzero(pt, sizeof pt);
    pdm_memzero(nonce, sizeof nonce); /* BaseNonce XOR RN gives BaseNonce away */
    if (rv != 0) {
        pdm_memzero(out, PDM_OPTSIZE_V2_ENC);
        return rv;
    }
    return PDM_OPTSIZE_V2_ENC;
}

/* Tries k on the option at in (already decoded: RN rn). pt is all zeros
 * unless it returns 0. */
static int open_one(const struct pdm_profile_key *k, const uint8_t *in, uint16_t rn,
                    uint8_t pt[PDM_V2_PT_SIZE])
{
    uint8_t nonce[PDM_HPKE_NN_MAX];
    int rv;

    make_nonce(k, rn, nonce);
    /* aad is the 6 bytes as received (reserved bits included: the tag
     * covers them). The backend checks the tag before releasing pt. */
    rv = k->aead->open(k->actx, nonce, in, PDM_V2_AAD_SIZE, in + PDM_V2_AAD_SIZE,
                       PDM_V2_SEALED_SIZE, pt);
    pdm_memzero(nonce, sizeof nonce);
    if (rv != 0)
        pdm_memzero(pt, PDM_V2_PT_SIZE);
    return rv;
}

/* Decodes the clear part of an encrypted option; only those are accepted. */
static int decode_encrypted(struct pdm_option *opt, const uint8_t *in, size_t inlen, uint8_t type)
{
    ssize_t n = pdm_option_decode(opt, in, inlen, type);

    if (n < 0)
        return (int)n;
    if (opt->format != PDM_FORMAT_V2_ENCRYPTED)
        return PDM_ERR_OPT_LENGTH;
    return 0;
}

PDM_EXTERN int pdm_profile_seal(const struct pdm_profile_key *k, uint8_t type, uint16_t rn,
                                const struct pdm_fields *fields, uint8_t *out, size_t outlen)
{
    if (!key_ok(k) || fields == NULL || out == NULL || rn < PDM_RN_MIN || rn > PDM_RN_MAX)
        return PDM_ERR_INVAL;
    if (outlen < PDM_OPTSIZE_V2_ENC)
        return PDM_ERR_NOBUF;
    return seal_one(k, type, rn, fields, out);
}

PDM_EXTERN int pdm_profile_open(const struct pdm_profile_key *k, const uint8_t *in, size_t inlen,
                                uint8_t type, struct pdm_option *out)
{
    struct pdm_option opt;
    uint8_t pt[PDM_V2_PT_SIZE];
    int rv;

    if (out == NULL)
        return PDM_ERR_INVAL;
    memset(out, 0, sizeof *out);
    if (!key_ok(k) || in == NULL)
        return PDM_ERR_INVAL;
    if ((rv = decode_encrypted(&opt, in, inlen, type)) != 0)
        return rv;
    /* F = Kri mod 2 always (profile §3): the other parity is never this
     * key's, whatever the tag would say. */
    if (opt.f != (k->kri & 1))
        return PDM_ERR_AUTH;
    if ((rv = open_one(k, in, opt.rn, pt)) != 0)
        return rv;
    pdm_fields_unpack(&opt.fields, pt);
    *out = opt;
    pdm_memzero(pt, sizeof pt);
    pdm_memzero(&opt, sizeof opt);
    return PDM_OPTSIZE_V2_ENC;
}

/* ------------------------------------------------------------------------ */
/* The sender's RN sequence (docs/crypto.md §2)                             */

/*
 * A keyed permutation of the 15-bit values: an unbalanced Feistel network
 * (halves of 7 and 8 bits, alternating), 8 rounds, whose round function is
 * a keyed 64-bit multiply-xorshift mix. Each round maps (A, B) to
 * (B, A + F(i, B) mod 2^|A|), which is invertible whatever F is, so the
 * whole network is a bijection on 0 .. 32767. It is meant to spread RNs
 * unpredictably, not to resist cryptanalysis: RN is sent in the clear and
 * only has to be unique under one key (docs/crypto.md §2).
 */
#define RN_ROUNDS 8

static unsigned rn_round(uint64_t k0, uint64_t k1, unsigned round, unsigned b, unsigned bits)
{
    uint64_t h = ((uint64_t)round << 32 | b) ^ k0;

    h *= 0x9E3779B97F4A7C15u;
    h ^= h >> 32;
    h ^= k1;
    h *= 0xD6E8FEB86659FD93u;
    h ^= h >> 32;
    return (unsigned)(h >> (64 - bits));
}

static unsigned rn_feistel(uint64_t k0, uint64_t k1, unsigned x)
{
    unsigned abits = 7, bbits = 8;
    unsigned a = x >> 8, b = x & 0xFF;

    for (unsigned i = 0; i < RN_ROUNDS; i++) {
        unsigned c = (a + rn_round(k0, k1, i, b, abits)) & ((1u << abits) - 1);
        unsigned cbits = abits;

        a = b;
        abits = bbits;
        b = c;
        bbits = cbits;
    }
    /* An even number of rounds brings the halves back to 7 and 8 bits. */
    return a << 8 | b;
}

/*
 * The RN at position `index` (0 .. 32766) of the sequence under key: the
 * permutation restricted to 0 .. 32766 by cycle walking (32767 maps on),
 * plus 1. Distinct indexes give distinct RNs in 1 .. 32767.
 */
static uint16_t rn_at(const uint8_t key[PDM_PROFILE_RN_KEY_SIZE], uint16_t index)
{
    uint64_t k0 = pdm_get_u64be(key), k1 = pdm_get_u64be(key + 8);
    unsigned x = rn_feistel(k0, k1, index);

    /* At most one extra step: only one value (32767) is outside. */
    while (x >= PDM_RN_COUNT)
        x = rn_feistel(k0, k1, x);
    return (uint16_t)(x + 1);
}

PDM_EXTERN uint16_t pdm_profile_rn_at(const uint8_t rn_key[PDM_PROFILE_RN_KEY_SIZE], uint16_t index)
{
    return rn_key == NULL || index >= PDM_RN_COUNT ? 0 : rn_at(rn_key, index);
}

/* ------------------------------------------------------------------------ */
/* Sender state                                                             */

PDM_EXTERN int pdm_profile_tx_start(struct pdm_profile_tx *tx, const struct pdm_profile_secret *s,
                                    const struct pdm_flow_tuple *t, uint16_t kri, uint64_t now_ns)
{
    struct pdm_profile_key *k;
    int rv;

    if (tx == NULL || s == NULL || t == NULL)
        return PDM_ERR_INVAL;
    if (tx->key != NULL || tx->flags != 0)
        return PDM_ERR_STATE;
    if ((rv = key_new(&k, s, t, kri, 1)) != 0)
        return rv;
    tx->key = k;
    tx->key_start_ns = now_ns;
    tx->kri = kri;
    tx->used = 0;
    return 0;
}

/* Whether the current key must be retired before the next option. */
static int must_rotate(const struct pdm_profile_tx *tx, const struct pdm_profile_policy *pol,
                       uint64_t now_ns)
{
    unsigned limit = PDM_RN_COUNT;

    if (pol != NULL && pol->max_packets != 0 && pol->max_packets < PDM_RN_COUNT)
        limit = pol->max_packets;
    if (tx->used >= limit)
        return 1;
    /* A clock that went back counts as no time passed. */
    return pol != NULL && pol->max_key_age_ns != 0 && now_ns > tx->key_start_ns &&
           now_ns - tx->key_start_ns >= pol->max_key_age_ns;
}

/*
 * Kri + 1 (F flips with it), a new key and a new sequence. At Kri 65535
 * there is no next key: the flow direction stops for good.
 */
static int rotate(struct pdm_profile_tx *tx, const struct pdm_profile_secret *s,
                  const struct pdm_flow_tuple *t, uint64_t now_ns)
{
    struct pdm_profile_key *k;
    int rv;

    if (tx->kri == PDM_KRI_MAX) {
        key_free(tx->key);
        tx->key = NULL;
        tx->flags |= PDM_PROFILE_TX_EXHAUSTED;
        return PDM_ERR_KEY_EXHAUSTED;
    }
    if ((rv = key_new(&k, s, t, (uint16_t)(tx->kri + 1), 1)) != 0)
        return rv;
    key_free(tx->key);
    tx->key = k;
    tx->kri = k->kri;
    tx->used = 0;
    tx->key_start_ns = now_ns;
    return 0;
}

PDM_EXTERN int pdm_profile_tx_seal(struct pdm_profile_tx *tx, const struct pdm_profile_secret *s,
                                   const struct pdm_flow_tuple *t,
                                   const struct pdm_profile_policy *pol, uint64_t now_ns,
                                   uint8_t type, const struct pdm_fields *fields, uint8_t *out,
                                   size_t outlen)
{
    uint16_t rn;
    int rv;

    if (tx == NULL || s == NULL || t == NULL || fields == NULL || out == NULL)
        return PDM_ERR_INVAL;
    if (tx->flags & PDM_PROFILE_TX_EXHAUSTED)
        return PDM_ERR_KEY_EXHAUSTED;
    if (tx->key == NULL)
        return PDM_ERR_STATE;
    if (outlen < PDM_OPTSIZE_V2_ENC)
        return PDM_ERR_NOBUF;
    if (must_rotate(tx, pol, now_ns) && (rv = rotate(tx, s, t, now_ns)) != 0)
        return rv;
    /* Rotation keeps used below 32767 under tx->kri; anything else means
     * the state was damaged or copied, and an RN could repeat. */
    if (tx->used >= PDM_RN_COUNT || tx->key->kri != tx->kri || !key_ok(tx->key))
        return PDM_ERR_NONCE_REUSE;
    rn = rn_at(tx->key->rn_key, tx->used);
    tx->used++; /* before sealing: a failed seal never retries this nonce */
    return seal_one(tx->key, type, rn, fields, out);
}

PDM_EXTERN void pdm_profile_tx_clear(struct pdm_profile_tx *tx)
{
    if (tx == NULL)
        return;
    key_free(tx->key);
    pdm_memzero(tx, sizeof *tx);
}

/* ------------------------------------------------------------------------ */
/* Receiver state                                                           */

PDM_EXTERN void pdm_profile_rx_init(struct pdm_profile_rx *rx, uint16_t kri)
{
    if (rx == NULL)
        return;
    pdm_profile_rx_clear(rx);
    rx->kri = kri;
}

PDM_EXTERN void pdm_profile_rx_clear(struct pdm_profile_rx *rx)
{
    if (rx == NULL)
        return;
    key_free(rx->cur);
    key_free(rx->prev);
    pdm_memzero(rx, sizeof *rx);
}

/* The peer rotated to cand->kri (> rx->kri): its key becomes the current
 * one; the old current one stays as previous only when it is cand's
 * predecessor. */
static void rx_advance(struct pdm_profile_rx *rx, struct pdm_profile_key *cand)
{
    key_free(rx->prev);
    rx->prev = NULL;
    if (cand->kri == rx->kri + 1)
        rx->prev = rx->cur;
    else
        key_free(rx->cur);
    rx->cur = cand;
    rx->kri = cand->kri;
}

/* Tries the cached key *slot (deriving it at kri first if absent). */
static int rx_try_cached(struct pdm_profile_key **slot, const struct pdm_profile_secret *s,
                         const struct pdm_flow_tuple *t, uint16_t kri, const uint8_t *in,
                         uint16_t rn, uint8_t pt[PDM_V2_PT_SIZE])
{
    int rv;

    if (*slot == NULL && (rv = key_new(slot, s, t, kri, 0)) != 0)
        return rv;
    return open_one(*slot, in, rn, pt);
}

/*
 * Candidates of the option's parity, nearest first (profile §3):
 *
 *   F == kri mod 2:  kri (cached),      then kri + 2, kri + 4, ...
 *   F != kri mod 2:  kri - 1 (cached),  then kri + 1, kri + 3, ...
 *
 * with at most PDM_KRI_WINDOW candidates ahead and none past 65535.
 */
PDM_EXTERN int pdm_profile_rx_open(struct pdm_profile_rx *rx, const struct pdm_profile_secret *s,
                                   const struct pdm_flow_tuple *t, const uint8_t *in, size_t inlen,
                                   uint8_t type, struct pdm_option *out, uint16_t *kri)
{
    struct pdm_profile_key *cand = NULL;
    struct pdm_option opt;
    uint8_t pt[PDM_V2_PT_SIZE];
    uint32_t ahead;
    uint16_t got = 0;
    int rv;

    if (out == NULL)
        return PDM_ERR_INVAL;
    memset(out, 0, sizeof *out);
    memset(pt, 0, sizeof pt);
    if (rx == NULL || s == NULL || t == NULL || in == NULL)
        return PDM_ERR_INVAL;
    if ((rv = decode_encrypted(&opt, in, inlen, type)) != 0)
        return rv;

    if ((rx->kri & 1) == opt.f) {
        got = rx->kri;
        rv = rx_try_cached(&rx->cur, s, t, got, in, opt.rn, pt);
        ahead = (uint32_t)rx->kri + 2;
    } else {
        rv = PDM_ERR_AUTH;
        if (rx->kri >= 1) {
            got = (uint16_t)(rx->kri - 1);
            rv = rx_try_cached(&rx->prev, s, t, got, in, opt.rn, pt);
        }
        ahead = (uint32_t)rx->kri + 1;
    }
    if (rv != PDM_ERR_AUTH)
        goto out; /* opened (0), or a derivation failed */

    for (unsigned j = 0; j < PDM_KRI_WINDOW && ahead <= PDM_KRI_MAX; j++, ahead += 2) {
        if ((rv = key_new(&cand, s, t, (uint16_t)ahead, 0)) != 0)
            goto out;
        rv = open_one(cand, in, opt.rn, pt);
        if (rv == 0) {
            got = cand->kri;
            rx_advance(rx, cand);
            cand = NULL;
            goto out;
        }
        key_free(cand);
        cand = NULL;
        if (rv != PDM_ERR_AUTH)
            goto out;
    }
    rv = PDM_ERR_AUTH;
out:
    if (rv == 0) {
        pdm_fields_unpack(&opt.fields, pt);
        *out = opt;
        if (kri != NULL)
            *kri = got;
        rv = PDM_OPTSIZE_V2_ENC;
    } else if (rv == PDM_ERR_AUTH && rx->auth_failures != UINT32_MAX) {
        rx->auth_failures++;
    }
    pdm_memzero(pt, sizeof pt);
    pdm_memzero(&opt, sizeof opt);
    return rv;
}

/* ------------------------------------------------------------------------ */
/* Primary and secondary nodes (the draft's Appendix A.1)                   */

PDM_EXTERN void pdm_profile_primary_wipe(struct pdm_profile_primary *p)
{
    if (p != NULL)
        pdm_memzero(p, sizeof *p);
}

PDM_EXTERN int pdm_profile_primary_init(struct pdm_profile_primary *p, struct pdm_hpke_suite suite,
                                        const uint8_t *salt, size_t salt_len,
                                        const uint8_t *primary_secret, size_t secret_len)
{
    int rv;

    if (p == NULL)
        return PDM_ERR_INVAL;
    pdm_memzero(p, sizeof *p);
    /* LabeledExtract(salt, "pdmv2 primary", PrimarySecret) */
    if ((rv = extract_prk(suite, salt, salt_len, label_primary, primary_secret, secret_len, p->prk,
                          &p->nh)) != 0)
        goto out;
    p->suite = suite;
    memcpy(p->salt, salt, salt_len);
out:
    if (rv != 0)
        pdm_memzero(p, sizeof *p);
    return rv;
}

PDM_EXTERN int pdm_profile_primary_client(const struct pdm_profile_primary *p,
                                          const uint8_t client[16], uint8_t *out, size_t out_len)
{
    if (p == NULL || p->nh == 0 || client == NULL || out == NULL || out_len != p->nh)
        return PDM_ERR_INVAL;
    /* ClientSecret(C) = LabeledExpand(prk, "pdmv2 client", C(16), Nh) */
    return pdm_hpke_labeled_expand(p->suite, p->prk, p->nh, label_client, client, 16, out, out_len);
}

PDM_EXTERN int pdm_profile_primary_secret(const struct pdm_profile_primary *p,
                                          const uint8_t client[16], struct pdm_profile_secret *s)
{
    uint8_t cs[PDM_HPKE_NH_MAX];
    int rv;

    if (s == NULL)
        return PDM_ERR_INVAL;
    pdm_memzero(s, sizeof *s);
    if (p == NULL || p->nh == 0)
        return PDM_ERR_INVAL;
    if ((rv = pdm_profile_primary_client(p, client, cs, p->nh)) != 0)
        goto out;
    rv = pdm_profile_secret_init(s, p->suite, p->salt, sizeof p->salt, cs, p->nh);
out:
    pdm_memzero(cs, sizeof cs);
    return rv;
}
