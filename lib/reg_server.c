/*
 * PDMv2 registration, docs/profile.md §4: the server state machine,
 * sans-IO. One struct pdm_reg_server per connection:
 *
 *   WAIT_HELLO --ClientHello--> ServerHello, WAIT_KEY --ClientKey--> Status(OK), DONE
 *
 * and any refusal sends Status(code) and ends in FAILED. Between the two
 * messages it holds a copy of its chosen static key, the PSK and the
 * client's key; every exit wipes them (server_clear).
 */
#include "reg_int.h"

#include <string.h>

PDM_EXTERN void pdm_reg_server_init(struct pdm_reg_server *s,
                                    const struct pdm_reg_server_config *cfg, uint64_t now_ns)
{
    if (!s)
        return;
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->state = PDM_REG_ST_WAIT_HELLO;
    s->status = PDM_REG_STATUS_NONE;
    s->deadline_ns = cfg ? pdm_reg_next_deadline(s->state, now_ns, cfg->timeout_ns) : 0;
}

/* Wipes what the server holds between messages (callers set the state). */
static void server_clear(struct pdm_reg_server *s)
{
    pdm_memzero(s->psk, sizeof s->psk);
    s->psk_len = 0;
    pdm_hpke_key_wipe(&s->client_pk);
    pdm_reg_result_wipe(&s->result);
    pdm_hpke_key_wipe(&s->key);
    s->deadline_ns = 0;
}

/*
 * Fails *s with Status(code): writes it to out (which the caller checked
 * holds PDM_REG_SERVER_OUT_MAX bytes) and returns err.
 */
static int server_fail(struct pdm_reg_server *s, uint8_t code, int err, const char *reason,
                       uint8_t *out, size_t *out_len)
{
    struct pdm_reg_status_msg st = {code, NULL};
    int n;

    server_clear(s);
    s->state = PDM_REG_ST_FAILED;
    s->status = code;
    s->reason = reason;
    n = pdm_reg_status_encode(&st, out, PDM_REG_STATUS_ERR_SIZE);
    *out_len = n > 0 ? (size_t)n : 0;
    return err;
}

/* The server's key for kem, or NULL. */
static const struct pdm_hpke_key *server_key(const struct pdm_reg_server_config *cfg, uint16_t kem)
{
    for (size_t i = 0; i < cfg->nkeys; i++)
        if (cfg->keys[i].kem_id == kem && cfg->keys[i].has_sk)
            return &cfg->keys[i];
    return NULL;
}

/*
 * The first suite of the server's preference that the client offered,
 * that the server holds a key for and, in the auth modes, whose KEM is the
 * client key's. Returns its index in cfg->suites, or -1.
 */
static int choose_suite(const struct pdm_reg_server_config *cfg,
                        const struct pdm_reg_client_hello *ch, uint16_t client_kem)
{
    for (size_t i = 0; i < cfg->nsuites && i < 0x7FFFFFFF; i++) {
        struct pdm_hpke_suite pref = cfg->suites[i];
        if (!pdm_reg_suite_usable(pref) || !server_key(cfg, pref.kem_id))
            continue;
        if (client_kem && pref.kem_id != client_kem)
            continue;
        for (unsigned j = 0; j < ch->nsuites; j++)
            if (pdm_reg_suite_eq(pref, ch->suites[j]))
                return (int)i;
    }
    return -1;
}

static int server_on_hello(struct pdm_reg_server *s, const uint8_t *body, size_t len, uint8_t *out,
                           size_t out_cap, size_t *out_len)
{
    const struct pdm_reg_server_config *cfg = s->cfg;
    struct pdm_reg_client_hello ch;
    struct pdm_reg_server_hello sh;
    const struct pdm_hpke_key *key;
    struct pdm_hpke_sizes sz;
    unsigned modes = cfg->modes ? cfg->modes : PDM_REG_MODES_ALL;
    uint16_t client_kem = 0;
    int rv, idx, n;

    rv = pdm_reg_client_hello_decode(body, len, &ch);
    if (rv == PDM_ERR_UNSUPPORTED)
        return server_fail(s, PDM_REG_STATUS_VERSION, PDM_ERR_UNSUPPORTED,
                           "ClientHello has an unsupported version", out, out_len);
    if (rv != 0)
        return server_fail(s, PDM_REG_STATUS_MALFORMED, PDM_ERR_MALFORMED, "malformed ClientHello",
                           out, out_len);
    s->result.mode = ch.mode;
    if (!(modes & (1u << ch.mode)))
        return server_fail(s, PDM_REG_STATUS_UNAUTHORIZED, PDM_ERR_AUTH, "mode not accepted", out,
                           out_len);

    if (pdm_reg_mode_has_psk(ch.mode)) {
        rv = cfg->psk_lookup
                 ? cfg->psk_lookup(cfg->arg, ch.psk_id, ch.psk_id_len, s->psk, sizeof s->psk)
                 : PDM_ERR_NOT_FOUND;
        if (rv == PDM_ERR_NOT_FOUND)
            return server_fail(s, PDM_REG_STATUS_UNAUTHORIZED, PDM_ERR_AUTH, "unknown PSK id", out,
                               out_len);
        if (rv < PDM_HPKE_PSK_MIN || (size_t)rv > sizeof s->psk)
            return server_fail(s, PDM_REG_STATUS_INTERNAL, rv < 0 ? rv : PDM_ERR_INVAL,
                               "PSK lookup failed", out, out_len);
        s->psk_len = (size_t)rv;
        memcpy(s->result.psk_id, ch.psk_id, ch.psk_id_len);
        s->result.psk_id_len = ch.psk_id_len;
    }

    if (pdm_reg_mode_has_auth(ch.mode)) {
        client_kem = pdm_reg_kem_by_pk_len(ch.client_pk_len);
        if (pdm_hpke_pubkey_deserialize(client_kem, ch.client_pk, ch.client_pk_len,
                                        &s->client_pk) != 0)
            return server_fail(s, PDM_REG_STATUS_UNAUTHORIZED, PDM_ERR_AUTH, "invalid client key",
                               out, out_len);
        rv = cfg->client_key_check ? cfg->client_key_check(cfg->arg, &s->client_pk)
                                   : PDM_ERR_NOT_FOUND;
        if (rv == PDM_ERR_NOT_FOUND)
            return server_fail(s, PDM_REG_STATUS_UNAUTHORIZED, PDM_ERR_AUTH, "unknown client key",
                               out, out_len);
        if (rv != 0)
            return server_fail(s, PDM_REG_STATUS_INTERNAL, rv, "client key check failed", out,
                               out_len);
        memcpy(s->result.peer_pk, ch.client_pk, ch.client_pk_len);
        s->result.peer_pk_len = ch.client_pk_len;
    }

    if ((idx = choose_suite(cfg, &ch, client_kem)) < 0)
        return server_fail(s, PDM_REG_STATUS_NO_COMMON_SUITE, PDM_ERR_UNSUPPORTED,
                           "no common suite", out, out_len);
    s->result.suite = cfg->suites[idx];
    /* A copy, not a pointer: the config may be reloaded before ClientKey
     * arrives (struct pdm_reg_server_config). choose_suite() saw the key. */
    if ((key = server_key(cfg, s->result.suite.kem_id)) == NULL ||
        pdm_hpke_suite_sizes(s->result.suite, &sz) != 0)
        return server_fail(s, PDM_REG_STATUS_INTERNAL, PDM_ERR_UNSUPPORTED, "suite sizes", out,
                           out_len);
    s->key = *key;

    sh.suite = s->result.suite;
    sh.server_pk = s->key.pk;
    sh.server_pk_len = sz.npk;
    if ((n = pdm_reg_server_hello_encode(&sh, out, out_cap)) < 0)
        return server_fail(s, PDM_REG_STATUS_INTERNAL, n, "cannot encode ServerHello", out,
                           out_len);
    if ((rv = pdm_reg_make_info(body, len, out + PDM_REG_HDR_SIZE, (size_t)n - PDM_REG_HDR_SIZE,
                                s->info)) != 0)
        return server_fail(s, PDM_REG_STATUS_INTERNAL, rv, "transcript hash failed", out, out_len);
    *out_len = (size_t)n;
    s->state = PDM_REG_ST_WAIT_KEY;
    return 0;
}

static int server_on_key(struct pdm_reg_server *s, const uint8_t *body, size_t len, uint64_t now_ns,
                         uint8_t *out, size_t out_cap, size_t *out_len)
{
    struct pdm_reg_client_key ck;
    struct pdm_reg_status_msg st;
    struct pdm_hpke_sizes sz;
    struct pdm_hpke_ctx ctx;
    struct pdm_hpke_params p;
    int rv, n;

    memset(&ctx, 0, sizeof ctx);
    if (pdm_reg_client_key_decode(body, len, &ck) != 0)
        return server_fail(s, PDM_REG_STATUS_MALFORMED, PDM_ERR_MALFORMED, "malformed ClientKey",
                           out, out_len);
    if (pdm_hpke_suite_sizes(s->result.suite, &sz) != 0)
        return server_fail(s, PDM_REG_STATUS_INTERNAL, PDM_ERR_UNSUPPORTED, "suite sizes", out,
                           out_len);
    if (ck.enc_len != sz.nenc)
        return server_fail(s, PDM_REG_STATUS_MALFORMED, PDM_ERR_MALFORMED,
                           "ClientKey: Enc length does not fit the suite", out, out_len);
    memcpy(s->result.salt, ck.salt, PDM_REG_SALT_SIZE);

    pdm_reg_params(&p, &s->result, s->info, s->psk, s->psk_len, &s->client_pk);
    rv = pdm_hpke_setup_r(&ctx, &p, &s->key, ck.enc, ck.enc_len);
    pdm_hpke_key_wipe(&s->key); /* the private key is not needed any more */
    if (rv == PDM_ERR_KEY || rv == PDM_ERR_AUTH)
        return server_fail(s, PDM_REG_STATUS_UNAUTHORIZED, PDM_ERR_AUTH, "decapsulation failed",
                           out, out_len);
    if (rv != 0)
        return server_fail(s, PDM_REG_STATUS_INTERNAL, rv, "HPKE SetupR failed", out, out_len);
    rv = pdm_reg_export_secrets(&ctx, sz.nh, &s->result);
    pdm_hpke_ctx_free(&ctx);
    if (rv != 0)
        return server_fail(s, PDM_REG_STATUS_INTERNAL, rv, "HPKE Export failed", out, out_len);

    st.code = PDM_REG_STATUS_OK;
    st.confirm = s->result.confirm;
    if ((n = pdm_reg_status_encode(&st, out, out_cap)) < 0)
        return server_fail(s, PDM_REG_STATUS_INTERNAL, n, "cannot encode Status", out, out_len);
    *out_len = (size_t)n;
    s->result.created_ns = now_ns;
    pdm_memzero(s->psk, sizeof s->psk);
    s->psk_len = 0;
    s->state = PDM_REG_ST_DONE;
    s->status = PDM_REG_STATUS_OK;
    s->reason = NULL;
    return 0;
}

PDM_EXTERN int pdm_reg_server_recv(struct pdm_reg_server *s, const uint8_t *in, size_t in_len,
                                   uint64_t now_ns, uint8_t *out, size_t out_cap, size_t *out_len)
{
    uint8_t type = 0;
    size_t blen = 0;
    int n, rv;

    if (!s || !s->cfg || !out || !out_len || (!in && in_len))
        return PDM_ERR_INVAL;
    *out_len = 0;
    if (s->state != PDM_REG_ST_WAIT_HELLO && s->state != PDM_REG_ST_WAIT_KEY)
        return PDM_ERR_STATE;
    if (out_cap < PDM_REG_SERVER_OUT_MAX)
        return PDM_ERR_NOBUF;

    n = pdm_reg_frame(in, in_len, &type, &blen);
    if (n < 0)
        return server_fail(s, PDM_REG_STATUS_MALFORMED, PDM_ERR_MALFORMED,
                           "message longer than 2048 bytes", out, out_len);
    if (n == 0)
        return 0;
    if (s->state == PDM_REG_ST_WAIT_HELLO) {
        if (type != PDM_REG_MSG_CLIENT_HELLO)
            return server_fail(s, PDM_REG_STATUS_MALFORMED, PDM_ERR_MALFORMED,
                               "expected ClientHello", out, out_len);
        rv = server_on_hello(s, in + PDM_REG_HDR_SIZE, blen, out, out_cap, out_len);
    } else {
        if (type != PDM_REG_MSG_CLIENT_KEY)
            return server_fail(s, PDM_REG_STATUS_MALFORMED, PDM_ERR_MALFORMED, "expected ClientKey",
                               out, out_len);
        rv = server_on_key(s, in + PDM_REG_HDR_SIZE, blen, now_ns, out, out_cap, out_len);
    }
    if (rv != 0)
        return rv;
    s->deadline_ns = pdm_reg_next_deadline(s->state, now_ns, s->cfg->timeout_ns);
    return n;
}

PDM_EXTERN uint64_t pdm_reg_server_deadline(const struct pdm_reg_server *s)
{
    return s ? pdm_reg_wait_deadline(s->state, s->deadline_ns) : 0;
}

PDM_EXTERN int pdm_reg_server_expire(struct pdm_reg_server *s, uint64_t now_ns)
{
    if (!pdm_reg_due(pdm_reg_server_deadline(s), now_ns))
        return 0;
    server_clear(s);
    s->state = PDM_REG_ST_FAILED;
    s->status = PDM_REG_STATUS_NONE; /* nothing is sent on a timeout */
    s->reason = "timeout";
    return PDM_ERR_EXPIRED;
}

PDM_EXTERN void pdm_reg_server_wipe(struct pdm_reg_server *s)
{
    if (!s)
        return;
    server_clear(s);
    pdm_memzero(s->info, sizeof s->info);
}
