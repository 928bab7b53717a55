/*
 * PDMv2 registration, docs/profile.md §4 (the draft's Appendix A.2): the
 * message codec and the client and server state machines, sans-IO.
 *
 * Every message on the TCP stream:
 *
 *    0                   1                   2
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ ... +
 *   |     Type      |            Length             | Body    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ ... +
 *                     Length <= 2048 bytes of Body
 *
 * The key agreement is RFC 9180 HPKE in the mode the client asks for:
 *
 *   info         = "pdmv2 registration" || SHA-256(ClientHello body || ServerHello body)
 *   SharedSecret = ctx.Export("pdmv2 shared secret", Nh)
 *   Confirm      = ctx.Export("pdmv2 confirm" || Salt, 32)
 *
 * Binding info to both hellos means a man in the middle who edits the
 * offer (a downgrade to a weaker suite, another mode) ends with another
 * context than the server, and the client's Confirm check fails.
 */
#include <pdm/reg.h>

#include <string.h>

#include "conv.h"
#include "crypto.h"

static const char label_registration[] = "pdmv2 registration";
static const char label_shared[] = "pdmv2 shared secret";
static const char label_confirm[] = "pdmv2 confirm";

#define LABEL_REG_LEN     (sizeof label_registration - 1) /* 18 */
#define LABEL_CONFIRM_LEN (sizeof label_confirm - 1)      /* 13 */
#define SUITE_WIRE_SIZE   6

_Static_assert(LABEL_REG_LEN + PDM_SHA256_SIZE == PDM_REG_INFO_SIZE, "info size");

static int mode_has_psk(unsigned mode)
{
    return mode == PDM_HPKE_MODE_PSK || mode == PDM_HPKE_MODE_AUTH_PSK;
}

static int mode_has_auth(unsigned mode)
{
    return mode == PDM_HPKE_MODE_AUTH || mode == PDM_HPKE_MODE_AUTH_PSK;
}

static int suite_eq(struct pdm_hpke_suite a, struct pdm_hpke_suite b)
{
    return a.kem_id == b.kem_id && a.kdf_id == b.kdf_id && a.aead_id == b.aead_id;
}

/* A suite registration can agree on: known ids and an AEAD that can seal
 * PDM data (the export-only AEAD cannot, docs/profile.md §3). */
static int suite_usable(struct pdm_hpke_suite s, struct pdm_hpke_sizes *sz)
{
    struct pdm_hpke_sizes tmp;
    if (s.aead_id == PDM_HPKE_AEAD_EXPORT_ONLY)
        return 0;
    return pdm_hpke_suite_sizes(s, sz ? sz : &tmp) == 0;
}

static const char *const status_names[] = {
    "OK", "NO_COMMON_SUITE", "MALFORMED", "UNAUTHORIZED", "BUSY", "INTERNAL", "VERSION",
};

PDM_EXTERN const char *pdm_reg_status_name(unsigned code)
{
    return code <= PDM_REG_STATUS_MAX ? status_names[code] : "unknown";
}

PDM_EXTERN const char *pdm_reg_mode_name(unsigned mode)
{
    static const char *const names[] = {"base", "psk", "auth", "auth_psk"};
    return mode < 4 ? names[mode] : "unknown";
}

PDM_EXTERN uint16_t pdm_reg_kem_by_pk_len(size_t n)
{
    switch (n) {
    case 32:
        return PDM_HPKE_KEM_X25519_SHA256;
    case 65:
        return PDM_HPKE_KEM_P256_SHA256;
    case 97:
        return PDM_HPKE_KEM_P384_SHA384;
    case 133:
        return PDM_HPKE_KEM_P521_SHA512;
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------ */
/* Framing and message codec                                            */
/* ------------------------------------------------------------------ */

PDM_EXTERN int pdm_reg_frame(const uint8_t *in, size_t in_len, uint8_t *type, size_t *body_len)
{
    size_t len;

    if (in_len < PDM_REG_HDR_SIZE)
        return 0;
    len = pdm_get_u16be(in + 1);
    if (len > PDM_REG_MSG_MAX)
        return PDM_ERR_MALFORMED;
    if (in_len < PDM_REG_HDR_SIZE + len)
        return 0;
    if (type)
        *type = in[0];
    if (body_len)
        *body_len = len;
    return (int)(PDM_REG_HDR_SIZE + len);
}

/* Writes Type || Length in front of a body of body_len bytes at out + 3. */
static int put_header(uint8_t *out, uint8_t type, size_t body_len)
{
    if (body_len > PDM_REG_MSG_MAX)
        return PDM_ERR_INVAL;
    out[0] = type;
    pdm_put_u16be(out + 1, (uint16_t)body_len);
    return (int)(PDM_REG_HDR_SIZE + body_len);
}

static uint8_t *put_suite(uint8_t *p, struct pdm_hpke_suite s)
{
    p = pdm_put_u16be(p, s.kem_id);
    p = pdm_put_u16be(p, s.kdf_id);
    return pdm_put_u16be(p, s.aead_id);
}

static struct pdm_hpke_suite get_suite(const uint8_t *p)
{
    struct pdm_hpke_suite s;
    s.kem_id = pdm_get_u16be(p);
    s.kdf_id = pdm_get_u16be(p + 2);
    s.aead_id = pdm_get_u16be(p + 4);
    return s;
}

/*
 * ClientHello body:
 *
 *   Version(1)=1 | Mode(1) | NumSuites(1) 1..32 | NumSuites x (kem(2) kdf(2) aead(2))
 *   [psk, auth_psk]   PskIdLen(1) 1..255 | PskId
 *   [auth, auth_psk]  ClientPkLen(2)     | ClientPk (32, 65, 97 or 133 bytes)
 */
PDM_EXTERN int pdm_reg_client_hello_encode(const struct pdm_reg_client_hello *m, uint8_t *out,
                                           size_t out_cap)
{
    size_t body;
    uint8_t *p;

    if (!m || !out || m->mode > PDM_HPKE_MODE_AUTH_PSK || m->nsuites == 0 ||
        m->nsuites > PDM_REG_SUITES_MAX)
        return PDM_ERR_INVAL;
    if (mode_has_psk(m->mode) != (m->psk_id != NULL) ||
        mode_has_auth(m->mode) != (m->client_pk != NULL))
        return PDM_ERR_INVAL;
    body = 3 + (size_t)m->nsuites * SUITE_WIRE_SIZE;
    if (m->psk_id) {
        if (m->psk_id_len == 0 || m->psk_id_len > PDM_REG_PSK_ID_MAX)
            return PDM_ERR_INVAL;
        body += 1 + m->psk_id_len;
    }
    if (m->client_pk) {
        if (m->client_pk_len == 0 || m->client_pk_len > PDM_REG_MSG_MAX)
            return PDM_ERR_INVAL;
        body += 2 + m->client_pk_len;
    }
    if (body > PDM_REG_MSG_MAX)
        return PDM_ERR_INVAL;
    if (out_cap < PDM_REG_HDR_SIZE + body)
        return PDM_ERR_NOBUF;

    p = out + PDM_REG_HDR_SIZE;
    p = pdm_put_u8(p, m->version);
    p = pdm_put_u8(p, m->mode);
    p = pdm_put_u8(p, m->nsuites);
    for (unsigned i = 0; i < m->nsuites; i++)
        p = put_suite(p, m->suites[i]);
    if (m->psk_id) {
        p = pdm_put_u8(p, (uint8_t)m->psk_id_len);
        p = pdm_put_bytes(p, m->psk_id, m->psk_id_len);
    }
    if (m->client_pk) {
        p = pdm_put_u16be(p, (uint16_t)m->client_pk_len);
        p = pdm_put_bytes(p, m->client_pk, m->client_pk_len);
    }
    if ((size_t)(p - out) != PDM_REG_HDR_SIZE + body)
        return PDM_ERR_INVAL; /* cannot happen: the size computed above */
    return put_header(out, PDM_REG_MSG_CLIENT_HELLO, body);
}

PDM_EXTERN int pdm_reg_client_hello_decode(const uint8_t *body, size_t len,
                                           struct pdm_reg_client_hello *m)
{
    size_t off;

    if (!m || (!body && len))
        return PDM_ERR_INVAL;
    memset(m, 0, sizeof *m);
    if (len < 1)
        return PDM_ERR_MALFORMED;
    m->version = body[0];
    /* Another version may lay out the rest differently: read no further. */
    if (m->version != PDM_REG_VERSION)
        return PDM_ERR_UNSUPPORTED;
    if (len < 3)
        return PDM_ERR_MALFORMED;
    m->mode = body[1];
    m->nsuites = body[2];
    if (m->mode > PDM_HPKE_MODE_AUTH_PSK || m->nsuites == 0 || m->nsuites > PDM_REG_SUITES_MAX)
        return PDM_ERR_MALFORMED;
    off = 3;
    if (len - off < (size_t)m->nsuites * SUITE_WIRE_SIZE)
        return PDM_ERR_MALFORMED;
    for (unsigned i = 0; i < m->nsuites; i++, off += SUITE_WIRE_SIZE)
        m->suites[i] = get_suite(body + off);
    if (mode_has_psk(m->mode)) {
        if (len - off < 1)
            return PDM_ERR_MALFORMED;
        m->psk_id_len = body[off++];
        if (m->psk_id_len == 0 || len - off < m->psk_id_len)
            return PDM_ERR_MALFORMED;
        m->psk_id = body + off;
        off += m->psk_id_len;
    }
    if (mode_has_auth(m->mode)) {
        if (len - off < 2)
            return PDM_ERR_MALFORMED;
        m->client_pk_len = pdm_get_u16be(body + off);
        off += 2;
        if (pdm_reg_kem_by_pk_len(m->client_pk_len) == 0 || len - off < m->client_pk_len)
            return PDM_ERR_MALFORMED;
        m->client_pk = body + off;
        off += m->client_pk_len;
    }
    if (off != len)
        return PDM_ERR_MALFORMED;
    return 0;
}

/*
 * ServerHello body:
 *
 *   kem(2) | kdf(2) | aead(2) | ServerPkLen(2) | ServerPk
 */
PDM_EXTERN int pdm_reg_server_hello_encode(const struct pdm_reg_server_hello *m, uint8_t *out,
                                           size_t out_cap)
{
    size_t body;
    uint8_t *p;

    if (!m || !out || (!m->server_pk && m->server_pk_len))
        return PDM_ERR_INVAL;
    body = SUITE_WIRE_SIZE + 2 + m->server_pk_len;
    if (body > PDM_REG_MSG_MAX)
        return PDM_ERR_INVAL;
    if (out_cap < PDM_REG_HDR_SIZE + body)
        return PDM_ERR_NOBUF;
    p = put_suite(out + PDM_REG_HDR_SIZE, m->suite);
    p = pdm_put_u16be(p, (uint16_t)m->server_pk_len);
    pdm_put_bytes(p, m->server_pk, m->server_pk_len);
    return put_header(out, PDM_REG_MSG_SERVER_HELLO, body);
}

PDM_EXTERN int pdm_reg_server_hello_decode(const uint8_t *body, size_t len,
                                           struct pdm_reg_server_hello *m)
{
    if (!m || (!body && len))
        return PDM_ERR_INVAL;
    memset(m, 0, sizeof *m);
    if (len < SUITE_WIRE_SIZE + 2)
        return PDM_ERR_MALFORMED;
    m->suite = get_suite(body);
    m->server_pk_len = pdm_get_u16be(body + SUITE_WIRE_SIZE);
    if (m->server_pk_len == 0 || len - (SUITE_WIRE_SIZE + 2) != m->server_pk_len)
        return PDM_ERR_MALFORMED;
    m->server_pk = body + SUITE_WIRE_SIZE + 2;
    return 0;
}

/*
 * ClientKey body:
 *
 *   EncLen(2) | Enc | Salt(32)
 */
PDM_EXTERN int pdm_reg_client_key_encode(const struct pdm_reg_client_key *m, uint8_t *out,
                                         size_t out_cap)
{
    size_t body;
    uint8_t *p;

    if (!m || !out || !m->enc || m->enc_len == 0 || !m->salt)
        return PDM_ERR_INVAL;
    body = 2 + m->enc_len + PDM_REG_SALT_SIZE;
    if (body > PDM_REG_MSG_MAX)
        return PDM_ERR_INVAL;
    if (out_cap < PDM_REG_HDR_SIZE + body)
        return PDM_ERR_NOBUF;
    p = pdm_put_u16be(out + PDM_REG_HDR_SIZE, (uint16_t)m->enc_len);
    p = pdm_put_bytes(p, m->enc, m->enc_len);
    pdm_put_bytes(p, m->salt, PDM_REG_SALT_SIZE);
    return put_header(out, PDM_REG_MSG_CLIENT_KEY, body);
}

PDM_EXTERN int pdm_reg_client_key_decode(const uint8_t *body, size_t len,
                                         struct pdm_reg_client_key *m)
{
    if (!m || (!body && len))
        return PDM_ERR_INVAL;
    memset(m, 0, sizeof *m);
    if (len < 2)
        return PDM_ERR_MALFORMED;
    m->enc_len = pdm_get_u16be(body);
    if (m->enc_len == 0 || len - 2 != m->enc_len + PDM_REG_SALT_SIZE)
        return PDM_ERR_MALFORMED;
    m->enc = body + 2;
    m->salt = body + 2 + m->enc_len;
    return 0;
}

/*
 * Status body:
 *
 *   Code(1) | Confirm(32) when Code is 0 (OK)
 */
PDM_EXTERN int pdm_reg_status_encode(const struct pdm_reg_status_msg *m, uint8_t *out,
                                     size_t out_cap)
{
    size_t body;

    if (!m || !out || m->code > PDM_REG_STATUS_MAX || (m->code == PDM_REG_STATUS_OK && !m->confirm))
        return PDM_ERR_INVAL;
    body = m->code == PDM_REG_STATUS_OK ? 1 + PDM_REG_CONFIRM_SIZE : 1;
    if (out_cap < PDM_REG_HDR_SIZE + body)
        return PDM_ERR_NOBUF;
    out[PDM_REG_HDR_SIZE] = m->code;
    if (m->code == PDM_REG_STATUS_OK)
        memcpy(out + PDM_REG_HDR_SIZE + 1, m->confirm, PDM_REG_CONFIRM_SIZE);
    return put_header(out, PDM_REG_MSG_STATUS, body);
}

PDM_EXTERN int pdm_reg_status_decode(const uint8_t *body, size_t len, struct pdm_reg_status_msg *m)
{
    if (!m || (!body && len))
        return PDM_ERR_INVAL;
    memset(m, 0, sizeof *m);
    if (len < 1 || body[0] > PDM_REG_STATUS_MAX)
        return PDM_ERR_MALFORMED;
    m->code = body[0];
    if (len != (m->code == PDM_REG_STATUS_OK ? 1 + PDM_REG_CONFIRM_SIZE : 1))
        return PDM_ERR_MALFORMED;
    if (m->code == PDM_REG_STATUS_OK)
        m->confirm = body + 1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Key schedule shared by both sides                                    */
/* ------------------------------------------------------------------ */

/* info = "pdmv2 registration" || SHA-256(ClientHello body || ServerHello body) */
static int make_info(const uint8_t *ch, size_t ch_len, const uint8_t *sh, size_t sh_len,
                     uint8_t info[PDM_REG_INFO_SIZE])
{
    const struct pdm_iov v[2] = {{ch, ch_len}, {sh, sh_len}};
    memcpy(info, label_registration, LABEL_REG_LEN);
    return pdm_sha256(v, 2, info + LABEL_REG_LEN);
}

/*
 * SharedSecret = ctx.Export("pdmv2 shared secret", Nh) and
 * Confirm = ctx.Export("pdmv2 confirm" || Salt, 32) into r (salt already
 * in r->salt). The context is the caller's to free.
 */
static int export_secrets(const struct pdm_hpke_ctx *ctx, size_t nh, struct pdm_reg_result *r)
{
    uint8_t cctx[LABEL_CONFIRM_LEN + PDM_REG_SALT_SIZE];
    int rv;

    memcpy(cctx, label_confirm, LABEL_CONFIRM_LEN);
    memcpy(cctx + LABEL_CONFIRM_LEN, r->salt, PDM_REG_SALT_SIZE);
    if ((rv = pdm_hpke_ctx_export(ctx, (const uint8_t *)label_shared, sizeof label_shared - 1,
                                  r->secret, nh)) != 0)
        goto out;
    r->secret_len = nh;
    rv = pdm_hpke_ctx_export(ctx, cctx, sizeof cctx, r->confirm, PDM_REG_CONFIRM_SIZE);
out:
    if (rv != 0) {
        pdm_memzero(r->secret, sizeof r->secret);
        pdm_memzero(r->confirm, sizeof r->confirm);
        r->secret_len = 0;
    }
    return rv;
}

PDM_EXTERN void pdm_reg_result_wipe(struct pdm_reg_result *r)
{
    if (r)
        pdm_memzero(r, sizeof *r);
}

static uint64_t deadline_after(uint64_t now_ns, uint64_t timeout_ns)
{
    if (timeout_ns == 0)
        return 0;
    return now_ns > UINT64_MAX - timeout_ns ? UINT64_MAX : now_ns + timeout_ns;
}

/* ------------------------------------------------------------------ */
/* Server                                                               */
/* ------------------------------------------------------------------ */

PDM_EXTERN void pdm_reg_server_init(struct pdm_reg_server *s,
                                    const struct pdm_reg_server_config *cfg, uint64_t now_ns)
{
    if (!s)
        return;
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->state = PDM_REG_ST_WAIT_HELLO;
    s->status = PDM_REG_STATUS_NONE;
    s->deadline_ns = cfg ? deadline_after(now_ns, cfg->timeout_ns) : 0;
}

/* Wipes what the server holds between messages and marks it failed. */
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
        if (!suite_usable(pref, NULL) || !server_key(cfg, pref.kem_id))
            continue;
        if (client_kem && pref.kem_id != client_kem)
            continue;
        for (unsigned j = 0; j < ch->nsuites; j++)
            if (suite_eq(pref, ch->suites[j]))
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

    if (mode_has_psk(ch.mode)) {
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

    if (mode_has_auth(ch.mode)) {
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
    if ((rv = make_info(body, len, out + PDM_REG_HDR_SIZE, (size_t)n - PDM_REG_HDR_SIZE,
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

    memset(&p, 0, sizeof p);
    p.suite = s->result.suite;
    p.mode = (enum pdm_hpke_mode)s->result.mode;
    p.info = s->info;
    p.info_len = sizeof s->info;
    if (mode_has_psk(s->result.mode)) {
        p.psk = s->psk;
        p.psk_len = s->psk_len;
        p.psk_id = s->result.psk_id;
        p.psk_id_len = s->result.psk_id_len;
    }
    if (mode_has_auth(s->result.mode))
        p.sender = &s->client_pk;

    rv = pdm_hpke_setup_r(&ctx, &p, &s->key, ck.enc, ck.enc_len);
    pdm_hpke_key_wipe(&s->key); /* the private key is not needed any more */
    if (rv == PDM_ERR_KEY || rv == PDM_ERR_AUTH)
        return server_fail(s, PDM_REG_STATUS_UNAUTHORIZED, PDM_ERR_AUTH, "decapsulation failed",
                           out, out_len);
    if (rv != 0)
        return server_fail(s, PDM_REG_STATUS_INTERNAL, rv, "HPKE SetupR failed", out, out_len);
    rv = export_secrets(&ctx, sz.nh, &s->result);
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
    s->deadline_ns =
        s->state == PDM_REG_ST_WAIT_KEY ? deadline_after(now_ns, s->cfg->timeout_ns) : 0;
    return n;
}

PDM_EXTERN uint64_t pdm_reg_server_deadline(const struct pdm_reg_server *s)
{
    if (!s || (s->state != PDM_REG_ST_WAIT_HELLO && s->state != PDM_REG_ST_WAIT_KEY))
        return 0;
    return s->deadline_ns;
}

PDM_EXTERN int pdm_reg_server_expire(struct pdm_reg_server *s, uint64_t now_ns)
{
    uint64_t d = pdm_reg_server_deadline(s);
    if (d == 0 || now_ns < d)
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

/* ------------------------------------------------------------------ */
/* Client                                                               */
/* ------------------------------------------------------------------ */

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
        if (!suite_usable(cfg->suites[i], NULL))
            return PDM_ERR_INVAL;
    if (mode_has_psk(cfg->mode)) {
        if (!cfg->psk || cfg->psk_len < PDM_HPKE_PSK_MIN || cfg->psk_len > PDM_REG_PSK_MAX ||
            !cfg->psk_id || cfg->psk_id_len == 0 || cfg->psk_id_len > PDM_REG_PSK_ID_MAX)
            return PDM_ERR_INVAL;
    } else if (cfg->psk || cfg->psk_id) {
        return PDM_ERR_INVAL;
    }
    if (mode_has_auth(cfg->mode)) {
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
    if (mode_has_psk(cfg->mode)) {
        ch.psk_id = cfg->psk_id;
        ch.psk_id_len = cfg->psk_id_len;
    }
    if (mode_has_auth(cfg->mode)) {
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
    c->deadline_ns = deadline_after(now_ns, cfg->timeout_ns);
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
        offered |= suite_eq(cfg->suites[i], sh.suite);
    if (!offered)
        return client_fail(c, PDM_ERR_PROTO, "server chose a suite that was not offered");
    if (mode_has_auth(cfg->mode) && sh.suite.kem_id != cfg->key->kem_id)
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
    if (mode_has_psk(cfg->mode)) {
        memcpy(c->result.psk_id, cfg->psk_id, cfg->psk_id_len);
        c->result.psk_id_len = cfg->psk_id_len;
    }

    if ((rv = make_info(c->hello, c->hello_len, body, len, info)) != 0)
        goto out;
    memset(&p, 0, sizeof p);
    p.suite = sh.suite;
    p.mode = (enum pdm_hpke_mode)cfg->mode;
    p.info = info;
    p.info_len = sizeof info;
    if (mode_has_psk(cfg->mode)) {
        p.psk = cfg->psk;
        p.psk_len = cfg->psk_len;
        p.psk_id = cfg->psk_id;
        p.psk_id_len = cfg->psk_id_len;
    }
    if (mode_has_auth(cfg->mode))
        p.sender = cfg->key;
    if ((n = pdm_hpke_setup_s(&ctx, &p, &pkR, &cfg->eph, enc, sizeof enc)) < 0) {
        rv = n;
        goto out;
    }
    if ((rv = export_secrets(&ctx, sz.nh, &c->result)) != 0)
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
    c->deadline_ns =
        c->state == PDM_REG_ST_WAIT_STATUS ? deadline_after(now_ns, c->cfg->timeout_ns) : 0;
    return n;
}

PDM_EXTERN uint64_t pdm_reg_client_deadline(const struct pdm_reg_client *c)
{
    if (!c || (c->state != PDM_REG_ST_WAIT_HELLO && c->state != PDM_REG_ST_WAIT_STATUS))
        return 0;
    return c->deadline_ns;
}

PDM_EXTERN int pdm_reg_client_expire(struct pdm_reg_client *c, uint64_t now_ns)
{
    uint64_t d = pdm_reg_client_deadline(c);
    if (d == 0 || now_ns < d)
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

/* ------------------------------------------------------------------ */
/* Known-answer replay                                                  */
/* ------------------------------------------------------------------ */

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
        (mode_has_auth(in->mode) && !in->ikm_s)) {
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
    if (mode_has_auth(in->mode)) {
        if ((rv = pdm_hpke_keygen(in->server_suite.kem_id, in->ikm_s, in->ikm_s_len, &skS)) != 0)
            goto out;
        memcpy(t->pk_s, skS.pk, sz.npk);
        t->pk_s_len = sz.npk;
    }

    vc.in = in;
    vc.client_pk = mode_has_auth(in->mode) ? &skS : NULL;
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
    if (mode_has_psk(in->mode)) {
        ccfg.psk = in->psk;
        ccfg.psk_len = in->psk_len;
        ccfg.psk_id = in->psk_id;
        ccfg.psk_id_len = in->psk_id_len;
    }
    if (mode_has_auth(in->mode))
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
