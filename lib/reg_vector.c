/*
 * Known-answer replay of registration (reg_vector.h): a whole exchange
 * through the real client and server state machines, in memory, from a
 * vector's fixed inputs. Used by tests/test_reg.c and `pdm vectors` only.
 */
#include "reg_vector.h"

#include <string.h>

#include "conv.h"
#include "reg_int.h"

struct vector_creds {
    const struct pdm_reg_vector_in *in;
    const struct pdm_hpke_key *client_pk;
};

static int vector_psk_lookup(void *arg, const uint8_t *id, size_t id_len, uint8_t *psk, size_t cap)
{
    const struct vector_creds *vc = arg;
    const struct pdm_reg_vector_in *in = vc->in;
    if (!in->psk || id_len != in->psk_id_len || memcmp(id, in->psk_id, id_len) != 0)
        return PDM_ERR_NOT_FOUND;
    if (in->psk_len > cap || in->psk_len > 0x7FFFFFFF)
        return PDM_ERR_NOBUF;
    memcpy(psk, in->psk, in->psk_len);
    return (int)in->psk_len;
}

static int vector_key_check(void *arg, const struct pdm_hpke_key *pk)
{
    const struct vector_creds *vc = arg;
    struct pdm_hpke_suite s = {pk->kem_id, PDM_HPKE_KDF_HKDF_SHA256, PDM_HPKE_AEAD_AES_128_GCM};
    struct pdm_hpke_sizes sz;

    if (!vc->client_pk || pk->kem_id != vc->client_pk->kem_id ||
        pdm_hpke_suite_sizes(s, &sz) != 0 || memcmp(pk->pk, vc->client_pk->pk, sz.npk) != 0)
        return PDM_ERR_NOT_FOUND;
    return 0;
}

/* Copies a whole message of n bytes into dst (cap bytes). */
static int keep(uint8_t *dst, size_t cap, size_t *dst_len, const uint8_t *src, size_t n)
{
    if (n > cap)
        return PDM_ERR_NOBUF;
    memcpy(dst, src, n);
    *dst_len = n;
    return 0;
}

PDM_EXTERN int pdm_reg_vector_run(const struct pdm_reg_vector_in *in, struct pdm_reg_transcript *t)
{
    struct pdm_hpke_key skR, pkR, skS;
    struct pdm_hpke_sizes sz;
    struct pdm_reg_server_config scfg;
    struct pdm_reg_client_config ccfg;
    struct pdm_reg_server srv;
    struct pdm_reg_client cli;
    struct vector_creds vc;
    uint8_t buf[PDM_REG_WIRE_MAX];
    size_t len = 0, unused = 0;
    int rv, n;

    if (!in || !t)
        return PDM_ERR_INVAL;
    memset(t, 0, sizeof *t);
    memset(&skR, 0, sizeof skR);
    memset(&pkR, 0, sizeof pkR);
    memset(&skS, 0, sizeof skS);
    memset(&srv, 0, sizeof srv);
    memset(&cli, 0, sizeof cli);
    memset(&ccfg, 0, sizeof ccfg);
    memset(&scfg, 0, sizeof scfg);
    if (!in->ikm_r || !in->ikm_e || !in->salt || in->mode > PDM_HPKE_MODE_AUTH_PSK ||
        (pdm_reg_mode_has_auth(in->mode) && !in->ikm_s)) {
        rv = PDM_ERR_INVAL;
        goto out;
    }
    if ((rv = pdm_hpke_suite_sizes(in->server_suite, &sz)) != 0)
        goto out;

    /* The server's static key pair, and its public half for the pin. */
    if ((rv = pdm_hpke_keygen(in->server_suite.kem_id, in->ikm_r, in->ikm_r_len, &skR)) != 0)
        goto out;
    if ((rv = pdm_hpke_pubkey_deserialize(skR.kem_id, skR.pk, sz.npk, &pkR)) != 0)
        goto out;
    memcpy(t->sk_r, skR.sk, sz.nsk);
    t->sk_r_len = sz.nsk;
    memcpy(t->pk_r, skR.pk, sz.npk);
    t->pk_r_len = sz.npk;
    if (pdm_reg_mode_has_auth(in->mode)) {
        if ((rv = pdm_hpke_keygen(in->server_suite.kem_id, in->ikm_s, in->ikm_s_len, &skS)) != 0)
            goto out;
        memcpy(t->pk_s, skS.pk, sz.npk);
        t->pk_s_len = sz.npk;
    }

    vc.in = in;
    vc.client_pk = pdm_reg_mode_has_auth(in->mode) ? &skS : NULL;
    scfg.suites = &in->server_suite;
    scfg.nsuites = 1;
    scfg.keys = &skR;
    scfg.nkeys = 1;
    scfg.psk_lookup = vector_psk_lookup;
    scfg.client_key_check = vector_key_check;
    scfg.arg = &vc;

    ccfg.mode = in->mode;
    ccfg.suites = in->offered;
    ccfg.nsuites = in->noffered;
    if (pdm_reg_mode_has_psk(in->mode)) {
        ccfg.psk = in->psk;
        ccfg.psk_len = in->psk_len;
        ccfg.psk_id = in->psk_id;
        ccfg.psk_id_len = in->psk_id_len;
    }
    if (pdm_reg_mode_has_auth(in->mode))
        ccfg.key = &skS;
    ccfg.pin = &pkR;
    ccfg.eph.ikm = in->ikm_e;
    ccfg.eph.ikm_len = in->ikm_e_len;
    memcpy(ccfg.salt, in->salt, PDM_REG_SALT_SIZE);

    /* ClientHello */
    if ((n = pdm_reg_client_start(&cli, &ccfg, 0, buf, sizeof buf)) < 0) {
        rv = n;
        goto out;
    }
    if ((rv = keep(t->client_hello, sizeof t->client_hello, &t->client_hello_len, buf,
                   (size_t)n)) != 0)
        goto out;
    pdm_reg_server_init(&srv, &scfg, 0);
    if ((rv = pdm_reg_server_recv(&srv, t->client_hello, t->client_hello_len, 0, buf, sizeof buf,
                                  &len)) < 0)
        goto out;
    /* ServerHello */
    if ((rv = keep(t->server_hello, sizeof t->server_hello, &t->server_hello_len, buf, len)) != 0)
        goto out;
    memcpy(t->info, srv.info, sizeof t->info);
    if ((rv = pdm_reg_client_recv(&cli, t->server_hello, t->server_hello_len, 0, buf, sizeof buf,
                                  &len)) < 0)
        goto out;
    /* ClientKey: EncLen(2) || Enc || Salt after the header */
    if ((rv = keep(t->client_key, sizeof t->client_key, &t->client_key_len, buf, len)) != 0)
        goto out;
    t->enc_len = pdm_get_u16be(t->client_key + PDM_REG_HDR_SIZE);
    if (t->enc_len > sizeof t->enc || t->client_key_len < PDM_REG_HDR_SIZE + 2 + t->enc_len) {
        rv = PDM_ERR_INVAL;
        goto out;
    }
    memcpy(t->enc, t->client_key + PDM_REG_HDR_SIZE + 2, t->enc_len);
    if ((rv = pdm_reg_server_recv(&srv, t->client_key, t->client_key_len, 0, buf, sizeof buf,
                                  &len)) < 0)
        goto out;
    if (srv.state != PDM_REG_ST_DONE || len != PDM_REG_STATUS_OK_SIZE) {
        rv = PDM_ERR_AUTH;
        goto out;
    }
    /* Status(OK) */
    memcpy(t->status_ok, buf, PDM_REG_STATUS_OK_SIZE);
    if ((rv = pdm_reg_client_recv(&cli, t->status_ok, sizeof t->status_ok, 0, buf, sizeof buf,
                                  &unused)) < 0)
        goto out;
    if (cli.state != PDM_REG_ST_DONE || cli.result.secret_len != srv.result.secret_len ||
        pdm_memcmp_ct(cli.result.secret, srv.result.secret, cli.result.secret_len) != 0) {
        rv = PDM_ERR_AUTH;
        goto out;
    }
    t->suite = cli.result.suite;
    memcpy(t->shared_secret, cli.result.secret, cli.result.secret_len);
    t->shared_secret_len = cli.result.secret_len;
    memcpy(t->confirm, cli.result.confirm, sizeof t->confirm);
    rv = 0;
out:
    pdm_reg_server_wipe(&srv);
    pdm_reg_client_wipe(&cli);
    pdm_hpke_key_wipe(&skR);
    pdm_hpke_key_wipe(&pkR);
    pdm_hpke_key_wipe(&skS);
    pdm_memzero(buf, sizeof buf);
    if (rv != 0)
        pdm_reg_transcript_wipe(t);
    return rv < 0 ? rv : 0;
}

PDM_EXTERN void pdm_reg_transcript_wipe(struct pdm_reg_transcript *t)
{
    if (t)
        pdm_memzero(t, sizeof *t);
}
