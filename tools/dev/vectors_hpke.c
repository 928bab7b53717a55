/*
 * pdm vectors: RFC 9180 test vectors (Appendix A's JSON, as published
 * with the RFC), each replayed through lib/hpke.c in the order of the
 * RFC: DeriveKeyPair (§7.1.3), Encap with the fixed ikmE and Decap
 * (§4.1), the key schedule (§5.1), every encryption (§5.2) and every
 * export (§5.3), on the sender's and the receiver's side.
 */
#include "dev/dev.h"

#include <pdm/hpke.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The most sequence numbers one RFC 9180 encryption may ask us to step. */
#define SEQ_STEP_MAX 1000000u

/* One vector being replayed: its inputs, then what the steps make. */
struct hpke_vec {
    const json_t *v;
    struct pdm_hpke_suite suite;
    struct pdm_hpke_sizes sz;
    uint64_t mode;
    int auth;
    uint8_t ikmE[DEV_VBUF], ikmR[DEV_VBUF], ikmS[DEV_VBUF], info[DEV_VBUF];
    uint8_t psk[DEV_VBUF], psk_id[DEV_VBUF];
    long ikmE_n, ikmR_n, ikmS_n, info_n, psk_n, psk_id_n;
    struct pdm_hpke_key skR, pkR, skS, pkS, skE;
    struct pdm_hpke_eph eph;
    uint8_t ss[DEV_VBUF];
    struct pdm_hpke_params ps, pr;
    struct pdm_hpke_ctx cs, cr; /* zeroed, set up, or failed: ctx_free takes all */
};

/* A fresh sender and receiver context pair for the vector (SetupS/SetupR). */
static int hpke_setup(struct hpke_vec *h)
{
    uint8_t enc[DEV_VBUF];
    int n = pdm_hpke_setup_s(&h->cs, &h->ps, &h->pkR, &h->eph, enc, sizeof enc);

    if (n < 0)
        return n;
    return pdm_hpke_setup_r(&h->cr, &h->pr, &h->skR, enc, (size_t)n);
}

/* Advances both contexts by one message, to reach a sequence number. */
static int hpke_step(struct pdm_hpke_ctx *cs, struct pdm_hpke_ctx *cr)
{
    uint8_t ct[32], pt[32];
    const uint8_t msg[1] = {0};
    int n = pdm_hpke_ctx_seal(cs, NULL, 0, msg, sizeof msg, ct, sizeof ct);

    if (n < 0)
        return n;
    n = pdm_hpke_ctx_open(cr, NULL, 0, ct, (size_t)n, pt, sizeof pt);
    return n < 0 ? n : 0;
}

/* Reads the suite, the mode and the inputs the mode needs; -1 after
 * reporting what is missing. */
static int hpke_inputs(struct dev_run *r, struct hpke_vec *h)
{
    const json_t *v = h->v;
    uint64_t kem, kdf, aead;
    int rv;

    if (dev_get_uint(v, "kem_id", 0xFFFF, &kem) || dev_get_uint(v, "kdf_id", 0xFFFF, &kdf) ||
        dev_get_uint(v, "aead_id", 0xFFFF, &aead) || dev_get_uint(v, "mode", 3, &h->mode)) {
        dev_bad_input(r, "kem_id/kdf_id/aead_id/mode", "missing or out of range");
        return -1;
    }
    h->suite.kem_id = (uint16_t)kem;
    h->suite.kdf_id = (uint16_t)kdf;
    h->suite.aead_id = (uint16_t)aead;
    if ((rv = pdm_hpke_suite_sizes(h->suite, &h->sz)) != 0) {
        dev_fail(r, "suite", "%04x-%04x-%04x: %s", h->suite.kem_id, h->suite.kdf_id,
                 h->suite.aead_id, pdm_strerror(rv));
        return -1;
    }
    h->auth = h->mode == PDM_HPKE_MODE_AUTH || h->mode == PDM_HPKE_MODE_AUTH_PSK;
    h->ikmE_n = dev_get_hex(v, "ikmE", h->ikmE, sizeof h->ikmE);
    h->ikmR_n = dev_get_hex(v, "ikmR", h->ikmR, sizeof h->ikmR);
    h->info_n = dev_get_hex(v, "info", h->info, sizeof h->info);
    if (h->ikmE_n < 0 || h->ikmR_n < 0 || h->info_n < 0) {
        dev_bad_input(r, "ikmE/ikmR/info", "missing or not hex");
        return -1;
    }
    if (h->auth && (h->ikmS_n = dev_get_hex(v, "ikmS", h->ikmS, sizeof h->ikmS)) < 0) {
        dev_bad_input(r, "ikmS", "missing or not hex (auth mode)");
        return -1;
    }
    if (h->mode == PDM_HPKE_MODE_PSK || h->mode == PDM_HPKE_MODE_AUTH_PSK) {
        h->psk_n = dev_get_hex(v, "psk", h->psk, sizeof h->psk);
        h->psk_id_n = dev_get_hex(v, "psk_id", h->psk_id, sizeof h->psk_id);
        if (h->psk_n < 0 || h->psk_id_n < 0) {
            dev_bad_input(r, "psk/psk_id", "missing or not hex (psk mode)");
            return -1;
        }
    }
    return 0;
}

/* DeriveKeyPair of ikm into *sk, checked against the vector's skX/pkX. */
static int hpke_derive(struct dev_run *r, struct hpke_vec *h, const uint8_t *ikm, long ikm_n,
                       const char *sk_key, const char *pk_key, struct pdm_hpke_key *sk)
{
    char step[32];
    int rv = pdm_hpke_keygen(h->suite.kem_id, ikm, (size_t)ikm_n, sk);

    if (rv != 0) {
        snprintf(step, sizeof step, "DeriveKeyPair(ikm%c)", sk_key[2]);
        dev_fail_err(r, sk_key, step, rv);
        return -1;
    }
    dev_check_hex(r, h->v, sk_key, sk->sk, h->sz.nsk);
    dev_check_hex(r, h->v, pk_key, sk->pk, h->sz.npk);
    return 0;
}

/* DeriveKeyPair (§7.1.3) of the receiver, the ephemeral and (auth modes)
 * the sender, and the public keys as the other side reads them. */
static int hpke_keys(struct dev_run *r, struct hpke_vec *h)
{
    int rv;

    if (hpke_derive(r, h, h->ikmR, h->ikmR_n, "skRm", "pkRm", &h->skR) != 0 ||
        hpke_derive(r, h, h->ikmE, h->ikmE_n, "skEm", "pkEm", &h->skE) != 0)
        return -1;
    if (h->auth) {
        if (hpke_derive(r, h, h->ikmS, h->ikmS_n, "skSm", "pkSm", &h->skS) != 0)
            return -1;
        rv = pdm_hpke_pubkey_deserialize(h->suite.kem_id, h->skS.pk, h->sz.npk, &h->pkS);
        if (rv != 0) {
            dev_fail_err(r, "pkSm", "DeserializePublicKey", rv);
            return -1;
        }
    }
    if ((rv = pdm_hpke_pubkey_deserialize(h->suite.kem_id, h->skR.pk, h->sz.npk, &h->pkR)) != 0) {
        dev_fail_err(r, "pkRm", "DeserializePublicKey", rv);
        return -1;
    }
    return 0;
}

/* Encap with the fixed ikmE, then Decap of what it made (§4.1). */
static int hpke_encap(struct dev_run *r, struct hpke_vec *h)
{
    uint8_t enc[DEV_VBUF], back[DEV_VBUF];
    int rv;

    memset(&h->eph, 0, sizeof h->eph);
    h->eph.ikm = h->ikmE;
    h->eph.ikm_len = (size_t)h->ikmE_n;
    rv = pdm_hpke_encap(&h->pkR, h->auth ? &h->skS : NULL, &h->eph, enc, sizeof enc, h->ss,
                        sizeof h->ss);
    if (rv != 0) {
        dev_fail_err(r, "enc", "Encap", rv);
        return -1;
    }
    dev_check_hex(r, h->v, "enc", enc, h->sz.nenc);
    dev_check_hex(r, h->v, "shared_secret", h->ss, h->sz.nsecret);
    rv = pdm_hpke_decap(&h->skR, h->auth ? &h->pkS : NULL, enc, h->sz.nenc, back, sizeof back);
    if (rv != 0)
        dev_fail_err(r, "shared_secret (decap)", "Decap", rv);
    else if (memcmp(back, h->ss, h->sz.nsecret) != 0)
        dev_fail(r, "shared_secret (decap)", "Decap disagrees with Encap");
    else
        dev_pass(r);
    pdm_memzero(back, sizeof back);
    return 0;
}

/* The key schedule (§5.1): key_schedule_context and secret computed here
 * with LabeledExtract, then key, base_nonce and exporter_secret from
 * SetupS, and SetupR agreeing with it. */
static int hpke_schedule(struct dev_run *r, struct hpke_vec *h)
{
    const struct pdm_hpke_sizes *sz = &h->sz;
    uint8_t ksc[1 + 2 * PDM_HPKE_NH_MAX], secret[PDM_HPKE_NH_MAX];
    int rv;

    ksc[0] = (uint8_t)h->mode;
    if ((rv = pdm_hpke_labeled_extract(h->suite, NULL, 0, "psk_id_hash", h->psk_id,
                                       (size_t)h->psk_id_n, ksc + 1, sz->nh)) != 0 ||
        (rv = pdm_hpke_labeled_extract(h->suite, NULL, 0, "info_hash", h->info, (size_t)h->info_n,
                                       ksc + 1 + sz->nh, sz->nh)) != 0 ||
        (rv = pdm_hpke_labeled_extract(h->suite, h->ss, sz->nsecret, "secret", h->psk,
                                       (size_t)h->psk_n, secret, sz->nh)) != 0) {
        dev_fail_err(r, "key_schedule_context", "LabeledExtract", rv);
        return -1;
    }
    dev_check_hex(r, h->v, "key_schedule_context", ksc, 1 + 2 * sz->nh);
    dev_check_hex(r, h->v, "secret", secret, sz->nh);
    pdm_memzero(secret, sizeof secret);

    memset(&h->ps, 0, sizeof h->ps);
    h->ps.suite = h->suite;
    h->ps.mode = (enum pdm_hpke_mode)h->mode;
    h->ps.info = h->info;
    h->ps.info_len = (size_t)h->info_n;
    if (h->psk_n > 0) {
        h->ps.psk = h->psk;
        h->ps.psk_len = (size_t)h->psk_n;
        h->ps.psk_id = h->psk_id;
        h->ps.psk_id_len = (size_t)h->psk_id_n;
    }
    h->pr = h->ps;
    h->ps.sender = h->auth ? &h->skS : NULL;
    h->pr.sender = h->auth ? &h->pkS : NULL;
    if ((rv = hpke_setup(h)) != 0) {
        dev_fail_err(r, "key", "SetupS/SetupR", rv);
        return -1;
    }
    if (sz->nk != 0)
        dev_check_hex(r, h->v, "key", h->cs.key, sz->nk);
    if (sz->nn != 0)
        dev_check_hex(r, h->v, "base_nonce", h->cs.base_nonce, sz->nn);
    dev_check_hex(r, h->v, "exporter_secret", h->cs.exporter_secret, sz->nh);
    if (memcmp(h->cs.key, h->cr.key, sizeof h->cs.key) != 0 ||
        memcmp(h->cs.base_nonce, h->cr.base_nonce, sizeof h->cs.base_nonce) != 0 ||
        memcmp(h->cs.exporter_secret, h->cr.exporter_secret, sizeof h->cs.exporter_secret) != 0)
        dev_fail(r, "key (receiver)", "SetupR's context differs from SetupS's");
    else
        dev_pass(r);
    return 0;
}

/* Brings both contexts to sequence number seq (starting over to go
 * back). Returns 0, 1 after reporting a failure of this encryption, or
 * -1 when the contexts are lost (the vector cannot go on). */
static int hpke_seek(struct dev_run *r, struct hpke_vec *h, uint64_t seq, const char *label)
{
    int rv = 0;

    if (seq < h->cs.seq) {
        pdm_hpke_ctx_free(&h->cs);
        pdm_hpke_ctx_free(&h->cr);
        if ((rv = hpke_setup(h)) != 0) {
            dev_fail_err(r, label, "SetupS/SetupR", rv);
            return -1;
        }
    }
    if (seq - h->cs.seq > SEQ_STEP_MAX) {
        dev_fail(r, label, "sequence number %" PRIu64 " is too far to step to", seq);
        return 1;
    }
    while (h->cs.seq < seq && (rv = hpke_step(&h->cs, &h->cr)) == 0)
        ;
    if (h->cs.seq != seq) {
        dev_fail_err(r, label, "stepping to the sequence number", rv);
        return 1;
    }
    return 0;
}

/* Encryption i of the vector (§5.2): nonce, ct, and opening it back.
 * Returns -1 when the contexts are lost. */
static int hpke_encryption(struct dev_run *r, struct hpke_vec *h, size_t i, const json_t *e)
{
    uint8_t pt[DEV_VBUF], aad[DEV_VBUF], ct[DEV_VBUF], nonce[PDM_HPKE_NN_MAX], back[DEV_VBUF];
    long pt_n = dev_get_hex(e, "pt", pt, sizeof pt), aad_n = dev_get_hex(e, "aad", aad, sizeof aad);
    size_t nn = h->sz.nn;
    char label[64];
    uint64_t seq;
    int n;

    snprintf(label, sizeof label, "encryptions[%zu].ct", i);
    if (dev_get_uint(e, "sequence number", UINT64_MAX, &seq) != 0 || pt_n < 0 || aad_n < 0 ||
        (size_t)pt_n + h->sz.nt > sizeof ct) {
        dev_bad_input(r, label, "(sequence number, pt, aad) missing or malformed");
        return 0;
    }
    if ((n = hpke_seek(r, h, seq, label)) != 0)
        return n < 0 ? -1 : 0;
    /* nonce = base_nonce XOR I2OSP(seq, Nn) (§5.2) */
    if (nn != 0 && json_object_get(e, "nonce") != NULL) {
        char nlabel[64];
        memcpy(nonce, h->cs.base_nonce, nn);
        for (size_t b = 0; b < 8 && b < nn; b++)
            nonce[nn - 1 - b] ^= (uint8_t)(seq >> (8 * b));
        snprintf(nlabel, sizeof nlabel, "encryptions[%zu].nonce", i);
        dev_check_hex_as(r, e, "nonce", nlabel, nonce, nn);
    }
    n = pdm_hpke_ctx_seal(&h->cs, aad, (size_t)aad_n, pt, (size_t)pt_n, ct, sizeof ct);
    if (n < 0) {
        dev_fail_err(r, label, "Seal", n);
        return 0;
    }
    dev_check_hex_as(r, e, "ct", label, ct, (size_t)n);
    n = pdm_hpke_ctx_open(&h->cr, aad, (size_t)aad_n, ct, (size_t)n, back, sizeof back);
    snprintf(label, sizeof label, "encryptions[%zu].pt", i);
    if (n != pt_n || memcmp(back, pt, (size_t)pt_n) != 0)
        dev_fail(r, label, "Open of the sealed message did not give pt back (%s)",
                 n < 0 ? pdm_strerror(n) : "different bytes");
    else
        dev_pass(r);
    return 0;
}

/* Export i of the vector (§5.3), on both sides. */
static void hpke_export(struct dev_run *r, struct hpke_vec *h, size_t i, const json_t *e)
{
    uint8_t c[DEV_VBUF], out1[DEV_VBUF], out2[DEV_VBUF];
    long c_n = dev_get_hex(e, "exporter_context", c, sizeof c);
    char label[64];
    uint64_t L;
    int rv;

    snprintf(label, sizeof label, "exports[%zu].exported_value", i);
    if (c_n < 0 || dev_get_uint(e, "L", sizeof out1, &L) != 0 || L == 0) {
        dev_bad_input(r, label, "(exporter_context, L) missing or malformed");
        return;
    }
    if ((rv = pdm_hpke_ctx_export(&h->cs, c, (size_t)c_n, out1, (size_t)L)) != 0 ||
        (rv = pdm_hpke_ctx_export(&h->cr, c, (size_t)c_n, out2, (size_t)L)) != 0) {
        dev_fail_err(r, label, "Export", rv);
        return;
    }
    dev_check_hex_as(r, e, "exported_value", label, out1, (size_t)L);
    if (memcmp(out1, out2, (size_t)L) != 0)
        dev_fail(r, label, "the receiver exports another value");
}

static void hpke_vector(struct dev_run *r, const json_t *v)
{
    struct hpke_vec h;
    const json_t *list;

    memset(&h, 0, sizeof h);
    h.v = v;
    if (hpke_inputs(r, &h) != 0 || hpke_keys(r, &h) != 0 || hpke_encap(r, &h) != 0 ||
        hpke_schedule(r, &h) != 0)
        goto out;
    list = json_object_get(v, "encryptions");
    for (size_t i = 0; i < json_array_size(list); i++)
        if (hpke_encryption(r, &h, i, json_array_get(list, i)) != 0)
            goto out;
    list = json_object_get(v, "exports");
    for (size_t i = 0; i < json_array_size(list); i++)
        hpke_export(r, &h, i, json_array_get(list, i));
out:
    pdm_hpke_ctx_free(&h.cs);
    pdm_hpke_ctx_free(&h.cr);
    pdm_hpke_key_wipe(&h.skR);
    pdm_hpke_key_wipe(&h.skS);
    pdm_hpke_key_wipe(&h.skE);
    pdm_memzero(&h, sizeof h);
}

void dev_vectors_rfc9180(struct dev_run *r, const json_t *doc)
{
    r->section = "vectors";
    for (size_t i = 0; i < json_array_size(doc); i++) {
        r->index = i;
        hpke_vector(r, json_array_get(doc, i));
    }
}
