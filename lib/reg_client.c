/*
 * PDMv2 registration, docs/profile.md §4: the client state machine,
 * sans-IO:
 *
 *   start: ClientHello, WAIT_HELLO --ServerHello--> ClientKey, WAIT_STATUS
 *          --Status(OK) with the expected Confirm--> DONE
 *
 * Any other message, a refusal, a key that is not the pin or a Confirm
 * mismatch ends in FAILED with the result wiped. The ephemeral key and the
 * salt come in the config: the client draws no randomness itself.
 */
#include "reg_int.h"

#include <string.h>

static int offered_kem(const struct pdm_reg_client_config *cfg, uint16_t kem)
{
    for (size_t i = 0; i < cfg->nsuites; i++)
        if (cfg->suites[i].kem_id == kem)
            return 1;
    return 0;
}

static int client_check_config(const struct pdm_reg_client_config *cfg)
{
    if (cfg->mode > PDM_HPKE_MODE_AUTH_PSK || !cfg->suites || cfg->nsuites == 0 ||
        cfg->nsuites > PDM_REG_SUITES_MAX)
        return PDM_ERR_INVAL;
    for (size_t i = 0; i < cfg->nsuites; i++)
        if (!pdm_reg_suite_usable(cfg->suites[i]))
            return PDM_ERR_INVAL;
    if (pdm_reg_mode_has_psk(cfg->mode)) {
        if (!cfg->psk || cfg->psk_len < PDM_HPKE_PSK_MIN || cfg->psk_len > PDM_REG_PSK_MAX ||
            !cfg->psk_id || cfg->psk_id_len == 0 || cfg->psk_id_len > PDM_REG_PSK_ID_MAX)
            return PDM_ERR_INVAL;
    } else if (cfg->psk || cfg->psk_id) {
        return PDM_ERR_INVAL;
    }
    if (pdm_reg_mode_has_auth(cfg->mode)) {
        if (!cfg->key || !cfg->key->has_sk || !offered_kem(cfg, cfg->key->kem_id))
            return PDM_ERR_INVAL;
    } else if (cfg->key) {
        return PDM_ERR_INVAL;
    }
    if (cfg->pin && !offered_kem(cfg, cfg->pin->kem_id))
        return PDM_ERR_INVAL;
    return 0;
}

PDM_EXTERN int pdm_reg_client_start(struct pdm_reg_client *c,
                                    const struct pdm_reg_client_config *cfg, uint64_t now_ns,
                                    uint8_t *out, size_t out_cap)
{
    struct pdm_reg_client_hello ch;
    struct pdm_hpke_sizes sz;
    int rv, n;

    if (!c || !cfg || !out)
        return PDM_ERR_INVAL;
    memset(c, 0, sizeof *c);
    c->status = PDM_REG_STATUS_NONE;
    if ((rv = client_check_config(cfg)) != 0)
        return rv;

    memset(&ch, 0, sizeof ch);
    ch.version = PDM_REG_VERSION;
    ch.mode = cfg->mode;
    ch.nsuites = (uint8_t)cfg->nsuites;
    memcpy(ch.suites, cfg->suites, cfg->nsuites * sizeof cfg->suites[0]);
    if (pdm_reg_mode_has_psk(cfg->mode)) {
        ch.psk_id = cfg->psk_id;
        ch.psk_id_len = cfg->psk_id_len;
    }
    if (pdm_reg_mode_has_auth(cfg->mode)) {
        struct pdm_hpke_suite ks = {cfg->key->kem_id, PDM_HPKE_KDF_HKDF_SHA256,
                                    PDM_HPKE_AEAD_AES_128_GCM};
        if (pdm_hpke_suite_sizes(ks, &sz) != 0)
            return PDM_ERR_INVAL;
        ch.client_pk = cfg->key->pk;
        ch.client_pk_len = sz.npk;
    }
    if ((n = pdm_reg_client_hello_encode(&ch, out, out_cap)) < 0)
        return n;
    c->hello_len = (size_t)n - PDM_REG_HDR_SIZE;
    memcpy(c->hello, out + PDM_REG_HDR_SIZE, c->hello_len);
    c->cfg = cfg;
    c->state = PDM_REG_ST_WAIT_HELLO;
    c->deadline_ns = pdm_reg_next_deadline(c->state, now_ns, cfg->timeout_ns);
    return n;
}

static int client_fail(struct pdm_reg_client *c, int err, const char *reason)
{
    pdm_reg_result_wipe(&c->result);
    c->state = PDM_REG_ST_FAILED;
    c->reason = reason;
    c->deadline_ns = 0;
    return err;
}

/* A Status in place of the expected message: the server refused. */
static int client_on_refusal(struct pdm_reg_client *c, const uint8_t *body, size_t len)
{
    struct pdm_reg_status_msg st;
    if (pdm_reg_status_decode(body, len, &st) != 0)
        return client_fail(c, PDM_ERR_MALFORMED, "malformed Status from the server");
    c->status = st.code;
    if (st.code == PDM_REG_STATUS_OK)
        return client_fail(c, PDM_ERR_PROTO, "server sent Status OK before the key exchange");
    return client_fail(c, PDM_ERR_AUTH, "server refused the registration");
}

static int client_on_hello(struct pdm_reg_client *c, const uint8_t *body, size_t len, uint8_t *out,
                           size_t out_cap, size_t *out_len)
{
    const struct pdm_reg_client_config *cfg = c->cfg;
    struct pdm_reg_server_hello sh;
    struct pdm_reg_client_key ck;
    struct pdm_hpke_sizes sz;
    struct pdm_hpke_key pkR;
    struct pdm_hpke_ctx ctx;
    struct pdm_hpke_params p;
    uint8_t info[PDM_REG_INFO_SIZE];
    uint8_t enc[PDM_HPKE_NENC_MAX];
    int rv, n, offered = 0;

    memset(&ctx, 0, sizeof ctx);
    memset(&pkR, 0, sizeof pkR);
    if (pdm_reg_server_hello_decode(body, len, &sh) != 0)
        return client_fail(c, PDM_ERR_MALFORMED, "malformed ServerHello");
    for (size_t i = 0; i < cfg->nsuites; i++)
        offered |= pdm_reg_suite_eq(cfg->suites[i], sh.suite);
    if (!offered)
        return client_fail(c, PDM_ERR_PROTO, "server chose a suite that was not offered");
    if (pdm_reg_mode_has_auth(cfg->mode) && sh.suite.kem_id != cfg->key->kem_id)
        return client_fail(c, PDM_ERR_PROTO, "server chose a KEM other than the client key's");
    if (pdm_hpke_suite_sizes(sh.suite, &sz) != 0)
        return client_fail(c, PDM_ERR_PROTO, "server chose an unsupported suite");
    if (sh.server_pk_len != sz.npk)
        return client_fail(c, PDM_ERR_MALFORMED, "ServerHello: key length does not fit the suite");
    /* The pin is public: no need for a constant-time compare. */
    if (cfg->pin &&
        (cfg->pin->kem_id != sh.suite.kem_id || memcmp(cfg->pin->pk, sh.server_pk, sz.npk) != 0))
        return client_fail(c, PDM_ERR_KEY, "server key does not match the pinned key");
    if (pdm_hpke_pubkey_deserialize(sh.suite.kem_id, sh.server_pk, sh.server_pk_len, &pkR) != 0)
        return client_fail(c, PDM_ERR_KEY, "server key is not a valid public key");
    c->result.mode = cfg->mode;
    c->result.suite = sh.suite;
    memcpy(c->result.peer_pk, sh.server_pk, sz.npk);
    c->result.peer_pk_len = sz.npk;
    memcpy(c->result.salt, cfg->salt, PDM_REG_SALT_SIZE);
    if (pdm_reg_mode_has_psk(cfg->mode)) {
        memcpy(c->result.psk_id, cfg->psk_id, cfg->psk_id_len);
        c->result.psk_id_len = cfg->psk_id_len;
    }

    if ((rv = pdm_reg_make_info(c->hello, c->hello_len, body, len, info)) != 0)
        goto out;
    pdm_reg_params(&p, &c->result, info, cfg->psk, cfg->psk_len, cfg->key);
    if ((n = pdm_hpke_setup_s(&ctx, &p, &pkR, &cfg->eph, enc, sizeof enc)) < 0) {
        rv = n;
        goto out;
    }
    if ((rv = pdm_reg_export_secrets(&ctx, sz.nh, &c->result)) != 0)
        goto out;
    ck.enc = enc;
    ck.enc_len = (size_t)n;
    ck.salt = cfg->salt;
    if ((n = pdm_reg_client_key_encode(&ck, out, out_cap)) < 0) {
        rv = n;
        goto out;
    }
    *out_len = (size_t)n;
    c->state = PDM_REG_ST_WAIT_STATUS;
out:
    pdm_hpke_ctx_free(&ctx);
    pdm_hpke_key_wipe(&pkR);
    if (rv != 0)
        return client_fail(
            c, rv, rv == PDM_ERR_KEY ? "server key rejected by HPKE" : "HPKE SetupS failed");
    return 0;
}

static int client_on_status(struct pdm_reg_client *c, const uint8_t *body, size_t len,
                            uint64_t now_ns)
{
    struct pdm_reg_status_msg st;

    if (pdm_reg_status_decode(body, len, &st) != 0)
        return client_fail(c, PDM_ERR_MALFORMED, "malformed Status from the server");
    c->status = st.code;
    if (st.code != PDM_REG_STATUS_OK)
        return client_fail(c, PDM_ERR_AUTH, "server refused the registration");
    if (pdm_memcmp_ct(st.confirm, c->result.confirm, PDM_REG_CONFIRM_SIZE) != 0)
        return client_fail(c, PDM_ERR_AUTH,
                           "Confirm mismatch: the server does not hold the same secret");
    c->result.created_ns = now_ns;
    c->state = PDM_REG_ST_DONE;
    c->reason = NULL;
    return 0;
}

PDM_EXTERN int pdm_reg_client_recv(struct pdm_reg_client *c, const uint8_t *in, size_t in_len,
                                   uint64_t now_ns, uint8_t *out, size_t out_cap, size_t *out_len)
{
    uint8_t type = 0;
    size_t blen = 0;
    const uint8_t *body;
    int n, rv;

    if (!c || !c->cfg || !out || !out_len || (!in && in_len))
        return PDM_ERR_INVAL;
    *out_len = 0;
    if (c->state != PDM_REG_ST_WAIT_HELLO && c->state != PDM_REG_ST_WAIT_STATUS)
        return PDM_ERR_STATE;
    if (out_cap < PDM_REG_CLIENT_OUT_MAX)
        return PDM_ERR_NOBUF;

    n = pdm_reg_frame(in, in_len, &type, &blen);
    if (n < 0)
        return client_fail(c, PDM_ERR_MALFORMED, "message from the server longer than 2048 bytes");
    if (n == 0)
        return 0;
    body = in + PDM_REG_HDR_SIZE;
    if (c->state == PDM_REG_ST_WAIT_HELLO) {
        if (type == PDM_REG_MSG_STATUS)
            return client_on_refusal(c, body, blen);
        if (type != PDM_REG_MSG_SERVER_HELLO)
            return client_fail(c, PDM_ERR_PROTO, "expected ServerHello");
        rv = client_on_hello(c, body, blen, out, out_cap, out_len);
    } else {
        if (type != PDM_REG_MSG_STATUS)
            return client_fail(c, PDM_ERR_PROTO, "expected Status");
        rv = client_on_status(c, body, blen, now_ns);
    }
    if (rv != 0)
        return rv;
    c->deadline_ns = pdm_reg_next_deadline(c->state, now_ns, c->cfg->timeout_ns);
    return n;
}

PDM_EXTERN uint64_t pdm_reg_client_deadline(const struct pdm_reg_client *c)
{
    return c ? pdm_reg_wait_deadline(c->state, c->deadline_ns) : 0;
}

PDM_EXTERN int pdm_reg_client_expire(struct pdm_reg_client *c, uint64_t now_ns)
{
    if (!pdm_reg_due(pdm_reg_client_deadline(c), now_ns))
        return 0;
    return client_fail(c, PDM_ERR_EXPIRED, "timeout");
}

PDM_EXTERN void pdm_reg_client_wipe(struct pdm_reg_client *c)
{
    if (!c)
        return;
    pdm_reg_result_wipe(&c->result);
    c->deadline_ns = 0;
}
