/*
 * PDMv2 registration, docs/profile.md §4 (the draft's Appendix A.2): the
 * framing and the four message codecs. Every message on the TCP stream:
 *
 *    0                   1                   2
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ ... +
 *   |     Type      |            Length             | Body    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ ... +
 *                     Length <= 2048 bytes of Body
 *
 * Each body's layout is drawn above its encoder. Bytes are read and
 * written only through conv.h.
 */
#include "reg_int.h"

#include <string.h>

#include "conv.h"

#define SUITE_WIRE_SIZE 6

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
    if (pdm_reg_mode_has_psk(m->mode) != (m->psk_id != NULL) ||
        pdm_reg_mode_has_auth(m->mode) != (m->client_pk != NULL))
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
    if (pdm_reg_mode_has_psk(m->mode)) {
        if (len - off < 1)
            return PDM_ERR_MALFORMED;
        m->psk_id_len = body[off++];
        if (m->psk_id_len == 0 || len - off < m->psk_id_len)
            return PDM_ERR_MALFORMED;
        m->psk_id = body + off;
        off += m->psk_id_len;
    }
    if (pdm_reg_mode_has_auth(m->mode)) {
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
