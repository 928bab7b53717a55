/*
 * libFuzzer target for registration (lib/reg_*.c): the server's framing,
 * message parsers and state machine on arbitrary bytes from a client, and
 * (one selector bit) the client's on arbitrary bytes from a server.
 *
 * Input layout:
 *
 *     sel(1) || stream (rest)
 *
 *     sel bits 0-1: the server's suite preference list (PREFS below)
 *     sel bits 2-5: accepted modes (0: all four)
 *     sel bit 6:    fuzz a client instead: it sends its ClientHello, and
 *                   the stream is what "the server" answers
 *     sel bit 7:    deliver the stream one byte more at a time (a slow
 *                   peer), else all of it at once
 *
 * The server holds the X25519 key of the first registration vector and the
 * P-256 key of the fifth, so seeds made from those vectors' ClientHello and
 * ClientKey reach Status OK. PSK ids starting with 's' are known; "!" makes
 * the lookup fail, "?" returns a PSK that is too short. A client key is
 * authorized when its last byte is even.
 *
 * Besides "no crash, no leak, no undefined behaviour" it checks:
 * - consumed bytes never exceed the input, replies never exceed
 *   PDM_REG_SERVER_OUT_MAX / PDM_REG_CLIENT_OUT_MAX;
 * - every failure writes exactly one well-formed Status with an error code
 *   that matches s.status, and leaves no secret in the result;
 * - DONE happens only after a Status(OK) that decodes, with Nh secret bytes;
 * - a body that decodes re-encodes to the same bytes.
 */
#include <pdm/reg.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S(k, d, a)                                                                                 \
    {                                                                                              \
        PDM_HPKE_KEM_##k, PDM_HPKE_KDF_##d, PDM_HPKE_AEAD_##a                                      \
    }
static const struct pdm_hpke_suite PREFS[4][3] = {
    {S(X25519_SHA256, HKDF_SHA256, AES_128_GCM), S(X25519_SHA256, HKDF_SHA256, CHACHA20POLY1305),
     S(P256_SHA256, HKDF_SHA256, AES_128_GCM)},
    {S(P256_SHA256, HKDF_SHA256, AES_128_GCM), S(X25519_SHA256, HKDF_SHA256, AES_128_GCM),
     S(P384_SHA384, HKDF_SHA384, AES_256_GCM)},
    {S(X25519_SHA256, HKDF_SHA256, EXPORT_ONLY), S(X25519_SHA256, HKDF_SHA256, AES_256_GCM),
     S(P521_SHA512, HKDF_SHA512, AES_256_GCM)},
    {S(X25519_SHA256, HKDF_SHA256, CHACHA20POLY1305), S(P256_SHA256, HKDF_SHA256, AES_128_GCM),
     S(X25519_SHA256, HKDF_SHA256, AES_128_GCM)},
};

/* ikmR of registration vectors 0 (X25519) and 4 (P-256). */
static const uint8_t IKM_X25519[32] = {
    0x37, 0xb7, 0xd4, 0x7d, 0xf3, 0xf8, 0x66, 0xb7, 0x6c, 0x17, 0x10, 0x21, 0x34, 0xf7, 0x26, 0x3a,
    0xba, 0x06, 0x1a, 0x40, 0x27, 0x7a, 0xc6, 0xf3, 0x19, 0x66, 0xa6, 0xb9, 0x2f, 0xd5, 0x00, 0x16};
static const uint8_t IKM_P256[32] = {
    0x44, 0xd6, 0x20, 0x26, 0x03, 0x60, 0x6a, 0x1b, 0xcc, 0x06, 0xa7, 0x13, 0xf0, 0x2e, 0x75, 0xc4,
    0x60, 0xaa, 0x80, 0xcc, 0xd0, 0x49, 0xea, 0x27, 0x27, 0xf8, 0x86, 0xd3, 0x1b, 0xf2, 0x41, 0x04};

static struct pdm_hpke_key keys[2];
static int ready;

static int psk_lookup(void *arg, const uint8_t *id, size_t id_len, uint8_t *psk, size_t cap)
{
    (void)arg;
    if (id_len < 1 || cap < 32)
        abort();
    if (id[0] == '!')
        return PDM_ERR_CRYPTO;
    if (id[0] == '?') {
        memset(psk, 0x3F, 16);
        return 16;
    }
    if (id[0] != 's')
        return PDM_ERR_NOT_FOUND;
    memset(psk, 0x5A, 32);
    return 32;
}

static int key_check(void *arg, const struct pdm_hpke_key *pk)
{
    size_t n;
    (void)arg;
    switch (pk->kem_id) {
    case PDM_HPKE_KEM_X25519_SHA256:
        n = 32;
        break;
    case PDM_HPKE_KEM_P256_SHA256:
        n = 65;
        break;
    case PDM_HPKE_KEM_P384_SHA384:
        n = 97;
        break;
    default:
        n = 133;
    }
    return (pk->pk[n - 1] & 1) ? PDM_ERR_NOT_FOUND : 0;
}

static void init(void)
{
    if (pdm_hpke_keygen(PDM_HPKE_KEM_X25519_SHA256, IKM_X25519, 32, &keys[0]) != 0 ||
        pdm_hpke_keygen(PDM_HPKE_KEM_P256_SHA256, IKM_P256, 32, &keys[1]) != 0)
        abort();
    ready = 1;
}

/*
 * Every body the decoders accept must re-encode to itself. ROUNDTRIP(x,
 * dec, enc) decodes the body with dec into u.x and, when that succeeds,
 * encodes u.x again with enc into out; m is the size written, or -1.
 */
#define ROUNDTRIP(x, dec, enc) m = dec(b, blen, &u.x) == 0 ? enc(&u.x, out, sizeof out) : -1

static void check_codecs(const uint8_t *msg, size_t len)
{
    union {
        struct pdm_reg_client_hello ch;
        struct pdm_reg_server_hello sh;
        struct pdm_reg_client_key ck;
        struct pdm_reg_status_msg st;
    } u;
    uint8_t type, out[PDM_REG_WIRE_MAX];
    size_t blen;
    const uint8_t *b = msg + PDM_REG_HDR_SIZE;
    int n = pdm_reg_frame(msg, len, &type, &blen), m;

    if (n <= 0)
        return;
    switch (type) {
    case PDM_REG_MSG_CLIENT_HELLO:
        ROUNDTRIP(ch, pdm_reg_client_hello_decode, pdm_reg_client_hello_encode);
        break;
    case PDM_REG_MSG_SERVER_HELLO:
        ROUNDTRIP(sh, pdm_reg_server_hello_decode, pdm_reg_server_hello_encode);
        break;
    case PDM_REG_MSG_CLIENT_KEY:
        ROUNDTRIP(ck, pdm_reg_client_key_decode, pdm_reg_client_key_encode);
        break;
    case PDM_REG_MSG_STATUS:
        ROUNDTRIP(st, pdm_reg_status_decode, pdm_reg_status_encode);
        break;
    default:
        return;
    }
    if (m >= 0 && (m != n || memcmp(out, msg, (size_t)n) != 0))
        abort();
}

static void check_server_reply(const struct pdm_reg_server *s, int rv, const uint8_t *out,
                               size_t out_len)
{
    struct pdm_reg_status_msg st;
    uint8_t type;
    size_t blen;

    if (out_len > PDM_REG_SERVER_OUT_MAX)
        abort();
    if (rv < 0) {
        if (s->state != PDM_REG_ST_FAILED || out_len != PDM_REG_STATUS_ERR_SIZE ||
            pdm_reg_frame(out, out_len, &type, &blen) != (int)out_len ||
            type != PDM_REG_MSG_STATUS || pdm_reg_status_decode(out + 3, blen, &st) != 0 ||
            st.code == PDM_REG_STATUS_OK || st.code != s->status || !s->reason ||
            s->result.secret_len != 0 || s->psk_len != 0)
            abort();
        return;
    }
    if (s->state == PDM_REG_ST_DONE) {
        if (out_len != PDM_REG_STATUS_OK_SIZE || out[0] != PDM_REG_MSG_STATUS ||
            pdm_reg_status_decode(out + 3, out_len - 3, &st) != 0 || st.code != 0 ||
            s->result.secret_len == 0 || memcmp(st.confirm, s->result.confirm, 32) != 0)
            abort();
    } else if (out_len != 0 && out[0] != PDM_REG_MSG_SERVER_HELLO) {
        abort();
    }
}

static void fuzz_server(uint8_t sel, const uint8_t *in, size_t len)
{
    struct pdm_reg_server_config cfg;
    struct pdm_reg_server s;
    uint8_t out[PDM_REG_SERVER_OUT_MAX];
    size_t off = 0, avail = (sel & 0x80) ? 0 : len, out_len;

    memset(&cfg, 0, sizeof cfg);
    cfg.suites = PREFS[sel & 3];
    cfg.nsuites = 3;
    cfg.keys = keys;
    cfg.nkeys = 2;
    cfg.modes = (sel >> 2) & 0x0F;
    cfg.psk_lookup = psk_lookup;
    cfg.client_key_check = key_check;
    cfg.timeout_ns = 10;
    pdm_reg_server_init(&s, &cfg, 0);
    while (s.state == PDM_REG_ST_WAIT_HELLO || s.state == PDM_REG_ST_WAIT_KEY) {
        int rv;
        if (sel & 0x80) {
            if (avail == len)
                break;
            avail++; /* one more byte arrived */
        }
        rv = pdm_reg_server_recv(&s, in + off, avail - off, 1, out, sizeof out, &out_len);
        if (rv > 0 && (size_t)rv > avail - off)
            abort();
        check_server_reply(&s, rv, out, out_len);
        if (rv < 0)
            break;
        if (rv == 0) {
            if (!(sel & 0x80))
                break; /* a partial message: wait for more that never comes */
            continue;
        }
        off += (size_t)rv;
        if (!(sel & 0x80))
            avail = len;
    }
    if (s.state != PDM_REG_ST_DONE && s.state != PDM_REG_ST_FAILED) {
        if (pdm_reg_server_expire(&s, 100) != PDM_ERR_EXPIRED || s.state != PDM_REG_ST_FAILED)
            abort();
    }
    pdm_reg_server_wipe(&s);
}

static void fuzz_client(uint8_t sel, const uint8_t *in, size_t len)
{
    struct pdm_reg_client_config cfg;
    struct pdm_reg_client c;
    uint8_t out[PDM_REG_WIRE_MAX], ikm[32];
    size_t off = 0, out_len;

    memset(&cfg, 0, sizeof cfg);
    memset(ikm, 0xE7, sizeof ikm);
    cfg.mode = PDM_HPKE_MODE_BASE;
    cfg.suites = PREFS[sel & 1]; /* lists 0 and 1 have usable suites only */
    cfg.nsuites = 3;
    cfg.pin = (sel & 0x20) ? &keys[0] : NULL;
    cfg.eph.ikm = ikm;
    cfg.eph.ikm_len = sizeof ikm;
    if (pdm_reg_client_start(&c, &cfg, 0, out, sizeof out) <= 0)
        abort();
    while (c.state == PDM_REG_ST_WAIT_HELLO || c.state == PDM_REG_ST_WAIT_STATUS) {
        int rv = pdm_reg_client_recv(&c, in + off, len - off, 1, out, sizeof out, &out_len);
        if (out_len > PDM_REG_CLIENT_OUT_MAX || (rv > 0 && (size_t)rv > len - off))
            abort();
        if (rv < 0) {
            if (c.state != PDM_REG_ST_FAILED || !c.reason || c.result.secret_len != 0)
                abort();
            break;
        }
        if (rv == 0)
            break;
        off += (size_t)rv;
    }
    /* Reaching DONE would need the fuzzer to forge Confirm. */
    if (c.state == PDM_REG_ST_DONE)
        abort();
    pdm_reg_client_wipe(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off;

    if (!ready)
        init();
    if (size < 1)
        return 0;
    for (off = 1; off < size;) {
        int n = pdm_reg_frame(data + off, size - off, NULL, NULL);
        if (n <= 0)
            break;
        check_codecs(data + off, (size_t)n);
        off += (size_t)n;
    }
    if (data[0] & 0x40)
        fuzz_client(data[0], data + 1, size - 1);
    else
        fuzz_server(data[0], data + 1, size - 1);
    return 0;
}
