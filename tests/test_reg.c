/*
 * Registration (lib/reg_*.c, docs/profile.md §4).
 *
 * Known answers: every "registrations" vector of
 * tests/vectors/pdmv2-profile-vectors.json, replayed through the real client
 * and server state machines with the vectors' fixed ephemeral keys, salts
 * and static keys (pdm_reg_vector_run); each message and derived value is
 * compared byte for byte. Then the codec on good and bad bodies, and the
 * state machines on every refusal the profile names: version, malformed
 * messages, modes, PSK ids, client keys, suites, a wrong PSK, a wrong pin,
 * a tampered hello, timeouts, and a stream fed one byte at a time.
 */
#include "harness.h"
#include "vectors.h"

#include <pdm/reg.h>
#include "reg_vector.h"

#include "conv.h"

#define VECTORS "tests/vectors/pdmv2-profile-vectors.json"
#define BUF     4096

static const struct pdm_hpke_suite X25519_AES128 = {
    PDM_HPKE_KEM_X25519_SHA256, PDM_HPKE_KDF_HKDF_SHA256, PDM_HPKE_AEAD_AES_128_GCM};
static const struct pdm_hpke_suite X25519_CHACHA = {
    PDM_HPKE_KEM_X25519_SHA256, PDM_HPKE_KDF_HKDF_SHA256, PDM_HPKE_AEAD_CHACHA20POLY1305};
static const struct pdm_hpke_suite P256_AES128 = {
    PDM_HPKE_KEM_P256_SHA256, PDM_HPKE_KDF_HKDF_SHA256, PDM_HPKE_AEAD_AES_128_GCM};
static const struct pdm_hpke_suite P384_AES256 = {
    PDM_HPKE_KEM_P384_SHA384, PDM_HPKE_KDF_HKDF_SHA384, PDM_HPKE_AEAD_AES_256_GCM};

/* "kkkk-dddd-aaaa" (the vectors' suite text). */
static int parse_suite(const char *s, struct pdm_hpke_suite *out)
{
    unsigned k, d, a;
    char tail;
    if (!s || strlen(s) != 14 || sscanf(s, "%4x-%4x-%4x%c", &k, &d, &a, &tail) != 3)
        return -1;
    out->kem_id = (uint16_t)k;
    out->kdf_id = (uint16_t)d;
    out->aead_id = (uint16_t)a;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Known-answer vectors                                                     */

static void run_vector(const json_t *v, int modes_seen[4])
{
    struct pdm_hpke_suite offered[PDM_REG_SUITES_MAX], suite;
    uint8_t ikm_r[BUF], ikm_e[BUF], ikm_s[BUF], psk[BUF], psk_id[BUF], salt[BUF];
    struct pdm_reg_vector_in in;
    struct pdm_reg_transcript t;
    const json_t *list = json_object_get(v, "offered");
    uint64_t mode = 99;
    long n;

    memset(&in, 0, sizeof in);
    CHECK(vec_u64(v, "mode", &mode) == 0 && mode <= 3);
    CHECK_INT(parse_suite(vec_str(v, "suite"), &suite), 0);
    CHECK(json_array_size(list) >= 1 && json_array_size(list) <= PDM_REG_SUITES_MAX);
    for (size_t i = 0; i < json_array_size(list) && i < PDM_REG_SUITES_MAX; i++)
        CHECK_INT(parse_suite(json_string_value(json_array_get(list, i)), &offered[i]), 0);
    in.mode = (uint8_t)mode;
    in.offered = offered;
    in.noffered = json_array_size(list);
    in.server_suite = suite;
    n = get_hex(v, "ikmR", ikm_r, sizeof ikm_r);
    in.ikm_r = ikm_r;
    in.ikm_r_len = ulen(n);
    n = get_hex(v, "ikmE", ikm_e, sizeof ikm_e);
    in.ikm_e = ikm_e;
    in.ikm_e_len = ulen(n);
    n = get_hex(v, "ikmS", ikm_s, sizeof ikm_s);
    in.ikm_s = n > 0 ? ikm_s : NULL;
    in.ikm_s_len = ulen(n);
    n = get_hex(v, "psk", psk, sizeof psk);
    in.psk = n > 0 ? psk : NULL;
    in.psk_len = ulen(n);
    n = get_hex(v, "psk_id", psk_id, sizeof psk_id);
    in.psk_id = n > 0 ? psk_id : NULL;
    in.psk_id_len = ulen(n);
    CHECK_INT(get_hex(v, "salt", salt, sizeof salt), PDM_REG_SALT_SIZE);
    in.salt = salt;
    if (mode <= 3)
        modes_seen[mode]++;

    CHECK_INT(pdm_reg_vector_run(&in, &t), 0);
    CHECK(t.suite.kem_id == suite.kem_id && t.suite.kdf_id == suite.kdf_id &&
          t.suite.aead_id == suite.aead_id);
    CHECK_FIELD(v, "skR", t.sk_r, t.sk_r_len);
    CHECK_FIELD(v, "pkR", t.pk_r, t.pk_r_len);
    if (mode == PDM_HPKE_MODE_AUTH || mode == PDM_HPKE_MODE_AUTH_PSK)
        CHECK_FIELD(v, "pkS", t.pk_s, t.pk_s_len);
    else
        CHECK_INT(t.pk_s_len, 0);
    CHECK_FIELD(v, "client_hello", t.client_hello, t.client_hello_len);
    CHECK_FIELD(v, "server_hello", t.server_hello, t.server_hello_len);
    CHECK_FIELD(v, "info", t.info, sizeof t.info);
    CHECK_FIELD(v, "enc", t.enc, t.enc_len);
    CHECK_FIELD(v, "client_key", t.client_key, t.client_key_len);
    CHECK_FIELD(v, "shared_secret", t.shared_secret, t.shared_secret_len);
    CHECK_FIELD(v, "confirm", t.confirm, sizeof t.confirm);
    CHECK_FIELD(v, "status_ok", t.status_ok, sizeof t.status_ok);
    pdm_reg_transcript_wipe(&t);
}

static void test_vectors(void)
{
    json_t *doc = vec_load(VECTORS);
    const json_t *regs;
    int modes_seen[4] = {0, 0, 0, 0};

    CHECK(doc != NULL);
    if (!doc)
        return;
    regs = json_object_get(doc, "registrations");
    CHECK(json_array_size(regs) >= 6);
    for (size_t i = 0; i < json_array_size(regs); i++)
        run_vector(json_array_get(regs, i), modes_seen);
    /* The vectors cover all four modes. */
    for (int m = 0; m < 4; m++)
        CHECK(modes_seen[m] > 0);
    printf("registration vectors: %zu\n", json_array_size(regs));
    json_decref(doc);
}

/* ------------------------------------------------------------------------ */
/* Codec                                                                    */

static void test_frame(void)
{
    uint8_t b[8] = {1, 0x00, 0x02, 0xAA, 0xBB, 0xCC};
    uint8_t type = 0;
    size_t blen = 0;

    CHECK_INT(pdm_reg_frame(b, 0, &type, &blen), 0);
    CHECK_INT(pdm_reg_frame(b, 2, &type, &blen), 0);
    CHECK_INT(pdm_reg_frame(b, 4, &type, &blen), 0); /* declares 2, has 1 */
    CHECK_INT(pdm_reg_frame(b, 5, &type, &blen), 5);
    CHECK_INT(type, 1);
    CHECK_INT(blen, 2);
    CHECK_INT(pdm_reg_frame(b, 6, NULL, NULL), 5); /* the next message's byte is not its */
    /* 2048 is the largest Length; 2049 is refused from the header alone. */
    pdm_put_u16be(b + 1, PDM_REG_MSG_MAX);
    CHECK_INT(pdm_reg_frame(b, 3, &type, &blen), 0);
    pdm_put_u16be(b + 1, PDM_REG_MSG_MAX + 1);
    CHECK_INT(pdm_reg_frame(b, 3, &type, &blen), PDM_ERR_MALFORMED);
    pdm_put_u16be(b + 1, 0xFFFF);
    CHECK_INT(pdm_reg_frame(b, 3, &type, &blen), PDM_ERR_MALFORMED);
}

static void test_client_hello_codec(void)
{
    struct pdm_reg_client_hello m, d;
    uint8_t out[BUF], pk[65];
    const uint8_t id[3] = {'a', 'b', 'c'};
    int n;

    memset(pk, 4, sizeof pk);
    memset(&m, 0, sizeof m);
    m.version = 1;
    m.mode = PDM_HPKE_MODE_AUTH_PSK;
    m.nsuites = 2;
    m.suites[0] = P256_AES128;
    m.suites[1] = X25519_AES128;
    m.psk_id = id;
    m.psk_id_len = sizeof id;
    m.client_pk = pk;
    m.client_pk_len = sizeof pk;
    n = pdm_reg_client_hello_encode(&m, out, sizeof out);
    /* 3 + 12 + 1 + 3 + 2 + 65 = 86 body bytes */
    CHECK_INT(n, 3 + 86);
    CHECK_INT(out[0], PDM_REG_MSG_CLIENT_HELLO);
    CHECK_INT(pdm_get_u16be(out + 1), 86);
    CHECK_INT(pdm_reg_client_hello_encode(&m, out, 88), PDM_ERR_NOBUF);
    CHECK_INT(pdm_reg_client_hello_decode(out + 3, 86, &d), 0);
    CHECK_INT(d.mode, PDM_HPKE_MODE_AUTH_PSK);
    CHECK_INT(d.nsuites, 2);
    CHECK_INT(d.suites[0].kem_id, PDM_HPKE_KEM_P256_SHA256);
    CHECK_INT(d.suites[1].aead_id, PDM_HPKE_AEAD_AES_128_GCM);
    CHECK(d.psk_id == out + 3 + 3 + 12 + 1);
    CHECK_INT(d.psk_id_len, 3);
    CHECK_INT(d.client_pk_len, 65);
    CHECK_MEM(d.client_pk, pk, 65);

    /* Truncated anywhere, or a byte too many: malformed. */
    for (size_t cut = 1; cut < 86; cut++)
        CHECK_INT(pdm_reg_client_hello_decode(out + 3, cut, &d), PDM_ERR_MALFORMED);
    out[3 + 86] = 0;
    CHECK_INT(pdm_reg_client_hello_decode(out + 3, 87, &d), PDM_ERR_MALFORMED);
    CHECK_INT(pdm_reg_client_hello_decode(out + 3, 0, &d), PDM_ERR_MALFORMED);

    /* Version: read first, nothing else. */
    out[3] = 2;
    CHECK_INT(pdm_reg_client_hello_decode(out + 3, 1, &d), PDM_ERR_UNSUPPORTED);
    CHECK_INT(d.version, 2);
    out[3] = 1;
    /* Mode 4. */
    out[4] = 4;
    CHECK_INT(pdm_reg_client_hello_decode(out + 3, 86, &d), PDM_ERR_MALFORMED);
    out[4] = 3;
    /* NumSuites 0 and 33. */
    out[5] = 0;
    CHECK_INT(pdm_reg_client_hello_decode(out + 3, 86, &d), PDM_ERR_MALFORMED);
    out[5] = 33;
    CHECK_INT(pdm_reg_client_hello_decode(out + 3, 86, &d), PDM_ERR_MALFORMED);
    out[5] = 2;
    /* PskIdLen 0. */
    out[3 + 15] = 0;
    CHECK_INT(pdm_reg_client_hello_decode(out + 3, 86, &d), PDM_ERR_MALFORMED);
    out[3 + 15] = 3;
    /* A ClientPk of a size no KEM has (64). */
    pdm_put_u16be(out + 3 + 19, 64);
    CHECK_INT(pdm_reg_client_hello_decode(out + 3, 85, &d), PDM_ERR_MALFORMED);
    pdm_put_u16be(out + 3 + 19, 65);
    CHECK_INT(pdm_reg_client_hello_decode(out + 3, 86, &d), 0);

    /* Encoder refuses what the decoder would. */
    m.psk_id = NULL;
    CHECK_INT(pdm_reg_client_hello_encode(&m, out, sizeof out), PDM_ERR_INVAL);
    m.psk_id = id;
    m.nsuites = 33;
    CHECK_INT(pdm_reg_client_hello_encode(&m, out, sizeof out), PDM_ERR_INVAL);
    m.nsuites = 0;
    CHECK_INT(pdm_reg_client_hello_encode(&m, out, sizeof out), PDM_ERR_INVAL);
    m.nsuites = 1;
    m.mode = PDM_HPKE_MODE_BASE;
    CHECK_INT(pdm_reg_client_hello_encode(&m, out, sizeof out), PDM_ERR_INVAL);
    m.psk_id = NULL;
    m.client_pk = NULL;
    /* A base-mode hello with 32 suites: 3 + 192 bytes. */
    m.nsuites = 32;
    for (int i = 0; i < 32; i++)
        m.suites[i] = X25519_AES128;
    CHECK_INT(pdm_reg_client_hello_encode(&m, out, sizeof out), 3 + 195);
    CHECK_INT(pdm_reg_client_hello_decode(out + 3, 195, &d), 0);
    CHECK_INT(d.nsuites, 32);
    CHECK(d.psk_id == NULL && d.client_pk == NULL);
}

static void test_other_codecs(void)
{
    uint8_t out[BUF], pk[32], salt[32], conf[32];
    struct pdm_reg_server_hello sh = {X25519_CHACHA, pk, sizeof pk}, shd;
    struct pdm_reg_client_key ck = {pk, sizeof pk, salt}, ckd;
    struct pdm_reg_status_msg st = {PDM_REG_STATUS_OK, conf}, std;

    memset(pk, 7, sizeof pk);
    memset(salt, 9, sizeof salt);
    memset(conf, 0xC0, sizeof conf);
    CHECK_INT(pdm_reg_server_hello_encode(&sh, out, sizeof out), 3 + 40);
    CHECK_INT(out[0], 2);
    CHECK_INT(pdm_reg_server_hello_decode(out + 3, 40, &shd), 0);
    CHECK_INT(shd.suite.aead_id, PDM_HPKE_AEAD_CHACHA20POLY1305);
    CHECK_INT(shd.server_pk_len, 32);
    CHECK_INT(pdm_reg_server_hello_decode(out + 3, 39, &shd), PDM_ERR_MALFORMED);
    CHECK_INT(pdm_reg_server_hello_decode(out + 3, 7, &shd), PDM_ERR_MALFORMED);

    CHECK_INT(pdm_reg_client_key_encode(&ck, out, sizeof out), 3 + 66);
    CHECK_INT(out[0], 3);
    CHECK_INT(pdm_reg_client_key_decode(out + 3, 66, &ckd), 0);
    CHECK_INT(ckd.enc_len, 32);
    CHECK_MEM(ckd.salt, salt, 32);
    CHECK_INT(pdm_reg_client_key_decode(out + 3, 65, &ckd), PDM_ERR_MALFORMED);
    CHECK_INT(pdm_reg_client_key_decode(out + 3, 67, &ckd), PDM_ERR_MALFORMED);
    CHECK_INT(pdm_reg_client_key_decode(out + 3, 1, &ckd), PDM_ERR_MALFORMED);

    CHECK_INT(pdm_reg_status_encode(&st, out, sizeof out), PDM_REG_STATUS_OK_SIZE);
    CHECK_INT(pdm_reg_status_decode(out + 3, 33, &std), 0);
    CHECK(std.confirm == out + 4);
    CHECK_INT(pdm_reg_status_decode(out + 3, 32, &std), PDM_ERR_MALFORMED);
    CHECK_INT(pdm_reg_status_decode(out + 3, 1, &std), PDM_ERR_MALFORMED);
    st.code = PDM_REG_STATUS_BUSY;
    CHECK_INT(pdm_reg_status_encode(&st, out, sizeof out), PDM_REG_STATUS_ERR_SIZE);
    CHECK_INT(pdm_reg_status_decode(out + 3, 1, &std), 0);
    CHECK_INT(std.code, PDM_REG_STATUS_BUSY);
    CHECK(std.confirm == NULL);
    CHECK_INT(pdm_reg_status_decode(out + 3, 2, &std), PDM_ERR_MALFORMED);
    out[3] = 7;
    CHECK_INT(pdm_reg_status_decode(out + 3, 1, &std), PDM_ERR_MALFORMED);
    st.code = 7;
    CHECK_INT(pdm_reg_status_encode(&st, out, sizeof out), PDM_ERR_INVAL);
    st.code = PDM_REG_STATUS_OK;
    st.confirm = NULL;
    CHECK_INT(pdm_reg_status_encode(&st, out, sizeof out), PDM_ERR_INVAL);

    CHECK(strcmp(pdm_reg_status_name(3), "UNAUTHORIZED") == 0);
    CHECK(strcmp(pdm_reg_status_name(6), "VERSION") == 0);
    CHECK(strcmp(pdm_reg_status_name(7), "unknown") == 0);
    CHECK(strcmp(pdm_reg_mode_name(3), "auth_psk") == 0);
    CHECK_INT(pdm_reg_kem_by_pk_len(65), PDM_HPKE_KEM_P256_SHA256);
    CHECK_INT(pdm_reg_kem_by_pk_len(133), PDM_HPKE_KEM_P521_SHA512);
    CHECK_INT(pdm_reg_kem_by_pk_len(33), 0);
}

/* ------------------------------------------------------------------------ */
/* State machines                                                           */

/* A small world: server keys, one client key, one PSK, fixed randomness. */
struct world {
    struct pdm_hpke_key srv_x25519, srv_p256, cli_x25519, cli_p256, pin_x25519, pin_p256;
    uint8_t psk[32];
    uint8_t ikm_e[66];
    const struct pdm_hpke_key *authorized[2];
    size_t nauthorized;
    struct pdm_hpke_key keys[2];
};

static struct world W;

static int w_psk_lookup(void *arg, const uint8_t *id, size_t id_len, uint8_t *psk, size_t cap)
{
    struct world *w = arg;
    if (id_len != 6 || memcmp(id, "site-1", 6) != 0)
        return PDM_ERR_NOT_FOUND;
    if (cap < sizeof w->psk)
        return PDM_ERR_NOBUF;
    memcpy(psk, w->psk, sizeof w->psk);
    return (int)sizeof w->psk;
}

static int w_key_check(void *arg, const struct pdm_hpke_key *pk)
{
    struct world *w = arg;
    for (size_t i = 0; i < w->nauthorized; i++)
        if (w->authorized[i]->kem_id == pk->kem_id &&
            memcmp(w->authorized[i]->pk, pk->pk, sizeof pk->pk) == 0)
            return 0;
    return PDM_ERR_NOT_FOUND;
}

static void key_from_seed(uint16_t kem, uint8_t seed, struct pdm_hpke_key *sk,
                          struct pdm_hpke_key *pub)
{
    uint8_t ikm[66];
    size_t npk = kem == PDM_HPKE_KEM_X25519_SHA256 ? 32 : 65;
    memset(ikm, seed, sizeof ikm);
    CHECK_INT(pdm_hpke_keygen(kem, ikm, sizeof ikm, sk), 0);
    if (pub)
        CHECK_INT(pdm_hpke_pubkey_deserialize(kem, sk->pk, npk, pub), 0);
}

static void world_init(void)
{
    memset(&W, 0, sizeof W);
    key_from_seed(PDM_HPKE_KEM_X25519_SHA256, 1, &W.srv_x25519, &W.pin_x25519);
    key_from_seed(PDM_HPKE_KEM_P256_SHA256, 2, &W.srv_p256, &W.pin_p256);
    key_from_seed(PDM_HPKE_KEM_X25519_SHA256, 3, &W.cli_x25519, NULL);
    key_from_seed(PDM_HPKE_KEM_P256_SHA256, 4, &W.cli_p256, NULL);
    memset(W.psk, 0x5A, sizeof W.psk);
    memset(W.ikm_e, 0xE0, sizeof W.ikm_e);
    W.keys[0] = W.srv_x25519;
    W.keys[1] = W.srv_p256;
    W.authorized[0] = &W.cli_x25519;
    W.authorized[1] = &W.cli_p256;
    W.nauthorized = 2;
}

static void server_cfg(struct pdm_reg_server_config *s, const struct pdm_hpke_suite *prefs,
                       size_t n)
{
    memset(s, 0, sizeof *s);
    s->suites = prefs;
    s->nsuites = n;
    s->keys = W.keys;
    s->nkeys = 2;
    s->psk_lookup = w_psk_lookup;
    s->client_key_check = w_key_check;
    s->arg = &W;
    s->timeout_ns = 5000;
}

static void client_cfg(struct pdm_reg_client_config *c, uint8_t mode,
                       const struct pdm_hpke_suite *offer, size_t n)
{
    memset(c, 0, sizeof *c);
    c->mode = mode;
    c->suites = offer;
    c->nsuites = n;
    if (mode == PDM_HPKE_MODE_PSK || mode == PDM_HPKE_MODE_AUTH_PSK) {
        c->psk = W.psk;
        c->psk_len = sizeof W.psk;
        c->psk_id = (const uint8_t *)"site-1";
        c->psk_id_len = 6;
    }
    if (mode == PDM_HPKE_MODE_AUTH || mode == PDM_HPKE_MODE_AUTH_PSK)
        c->key = offer[0].kem_id == PDM_HPKE_KEM_P256_SHA256 ? &W.cli_p256 : &W.cli_x25519;
    c->pin = offer[0].kem_id == PDM_HPKE_KEM_P256_SHA256 ? &W.pin_p256 : &W.pin_x25519;
    c->eph.ikm = W.ikm_e;
    c->eph.ikm_len = sizeof W.ikm_e;
    memset(c->salt, 0x11, sizeof c->salt);
    c->timeout_ns = 7000;
}

/*
 * Runs client against server in memory. Returns the server's status code
 * (or PDM_REG_STATUS_NONE when the server never sent one), with both objects left for
 * inspection.
 */
static int handshake(struct pdm_reg_client *c, const struct pdm_reg_client_config *cc,
                     struct pdm_reg_server *s, const struct pdm_reg_server_config *sc)
{
    uint8_t a[BUF], b[BUF];
    size_t alen = 0, blen = 0;
    int n;

    n = pdm_reg_client_start(c, cc, 100, a, sizeof a);
    CHECK(n > 0);
    if (n <= 0)
        return PDM_REG_STATUS_NONE;
    pdm_reg_server_init(s, sc, 100);
    for (int round = 0; round < 3; round++) {
        n = pdm_reg_server_recv(s, a, (size_t)n, 200, b, sizeof b, &blen);
        if (blen == 0)
            return PDM_REG_STATUS_NONE;
        n = pdm_reg_client_recv(c, b, blen, 300, a, sizeof a, &alen);
        if (s->state == PDM_REG_ST_DONE || s->state == PDM_REG_ST_FAILED)
            return s->status;
        if (n < 0 || alen == 0)
            return PDM_REG_STATUS_NONE;
        n = (int)alen;
    }
    return PDM_REG_STATUS_NONE;
}

static void test_all_modes(void)
{
    static const struct pdm_hpke_suite x[] = {X25519_AES128};
    static const struct pdm_hpke_suite p[] = {P256_AES128};
    struct pdm_reg_server_config sc;
    struct pdm_reg_client_config cc;
    struct pdm_reg_server s;
    struct pdm_reg_client c;

    for (uint8_t mode = 0; mode < 4; mode++) {
        for (int kem = 0; kem < 2; kem++) {
            const struct pdm_hpke_suite *suite = kem ? p : x;
            server_cfg(&sc, suite, 1);
            client_cfg(&cc, mode, suite, 1);
            CHECK_INT(handshake(&c, &cc, &s, &sc), PDM_REG_STATUS_OK);
            CHECK_INT(s.state, PDM_REG_ST_DONE);
            CHECK_INT(c.state, PDM_REG_ST_DONE);
            CHECK_INT(c.status, PDM_REG_STATUS_OK);
            CHECK_INT(c.result.secret_len, 32);
            CHECK_INT(s.result.secret_len, 32);
            CHECK_MEM(c.result.secret, s.result.secret, 32);
            CHECK_MEM(c.result.salt, s.result.salt, 32);
            CHECK_MEM(c.result.confirm, s.result.confirm, 32);
            CHECK_INT(c.result.mode, mode);
            CHECK_INT(s.result.mode, mode);
            CHECK_INT(s.result.created_ns, 200);
            CHECK_INT(c.result.created_ns, 300);
            CHECK_INT(c.result.peer_pk_len, kem ? 65 : 32);
            if (mode >= 2) {
                CHECK_INT(s.result.peer_pk_len, kem ? 65 : 32);
                CHECK_MEM(s.result.peer_pk, kem ? W.cli_p256.pk : W.cli_x25519.pk,
                          s.result.peer_pk_len);
            } else {
                CHECK_INT(s.result.peer_pk_len, 0);
            }
            CHECK_INT(s.result.psk_id_len, (mode & 1) ? 6 : 0);
            /* Done: no more input is taken; deadlines are off. */
            {
                uint8_t o[BUF];
                size_t ol;
                CHECK_INT(pdm_reg_server_recv(&s, (const uint8_t *)"x", 1, 0, o, sizeof o, &ol),
                          PDM_ERR_STATE);
                CHECK_INT(pdm_reg_server_deadline(&s), 0);
                CHECK_INT(pdm_reg_client_deadline(&c), 0);
            }
            pdm_reg_server_wipe(&s);
            pdm_reg_client_wipe(&c);
            CHECK_INT(s.result.secret_len, 0);
        }
    }
}

static void test_suite_choice(void)
{
    /* Server prefers ChaCha then AES; client offers AES first: ChaCha wins. */
    static const struct pdm_hpke_suite prefs[] = {P384_AES256, X25519_CHACHA, X25519_AES128,
                                                  P256_AES128};
    static const struct pdm_hpke_suite offer[] = {X25519_AES128, X25519_CHACHA, P256_AES128};
    static const struct pdm_hpke_suite offer_p256_first[] = {P256_AES128, X25519_AES128};
    static const struct pdm_hpke_suite offer_p384[] = {P384_AES256};
    struct pdm_reg_server_config sc;
    struct pdm_reg_client_config cc;
    struct pdm_reg_server s;
    struct pdm_reg_client c;

    server_cfg(&sc, prefs, 4);
    client_cfg(&cc, PDM_HPKE_MODE_BASE, offer, 3);
    CHECK_INT(handshake(&c, &cc, &s, &sc), PDM_REG_STATUS_OK);
    CHECK_INT(c.result.suite.aead_id, PDM_HPKE_AEAD_CHACHA20POLY1305);

    /* Auth with a P-256 client key: only P-256 suites qualify, though the
     * server prefers X25519. */
    client_cfg(&cc, PDM_HPKE_MODE_AUTH, offer_p256_first, 2);
    CHECK_INT(handshake(&c, &cc, &s, &sc), PDM_REG_STATUS_OK);
    CHECK_INT(s.result.suite.kem_id, PDM_HPKE_KEM_P256_SHA256);

    /* P-384 is in the server's list but it holds no P-384 key. */
    client_cfg(&cc, PDM_HPKE_MODE_BASE, offer_p384, 1);
    cc.pin = NULL;
    CHECK_INT(handshake(&c, &cc, &s, &sc), PDM_REG_STATUS_NO_COMMON_SUITE);
    CHECK_INT(s.state, PDM_REG_ST_FAILED);
    CHECK_INT(c.state, PDM_REG_ST_FAILED);
    CHECK_INT(c.status, PDM_REG_STATUS_NO_COMMON_SUITE);
    CHECK(strcmp(s.reason, "no common suite") == 0);
    CHECK_INT(c.result.secret_len, 0);
}

/* Feeds one whole hand-made message to a fresh server; returns its status. */
static int server_status_for(const uint8_t *msg, size_t len, const struct pdm_reg_server_config *sc,
                             int *rv)
{
    struct pdm_reg_server s;
    uint8_t out[BUF];
    size_t olen = 0;
    struct pdm_reg_status_msg st;

    pdm_reg_server_init(&s, sc, 0);
    *rv = pdm_reg_server_recv(&s, msg, len, 0, out, sizeof out, &olen);
    if (s.state != PDM_REG_ST_FAILED || olen != PDM_REG_STATUS_ERR_SIZE ||
        out[0] != PDM_REG_MSG_STATUS || pdm_reg_status_decode(out + 3, 1, &st) != 0)
        return PDM_REG_STATUS_NONE;
    CHECK_INT(st.code, s.status);
    CHECK_INT(s.result.secret_len, 0);
    CHECK_INT(s.psk_len, 0);
    return st.code;
}

static void test_server_refusals(void)
{
    static const struct pdm_hpke_suite x[] = {X25519_AES128};
    struct pdm_reg_server_config sc;
    struct pdm_reg_client_config cc;
    struct pdm_reg_server s;
    struct pdm_reg_client c;
    uint8_t hello[BUF];
    int n, rv;

    server_cfg(&sc, x, 1);

    /* A good base hello for edits. */
    client_cfg(&cc, PDM_HPKE_MODE_BASE, x, 1);
    n = pdm_reg_client_start(&c, &cc, 0, hello, sizeof hello);
    CHECK_INT(n, 3 + 9);

    hello[3] = 2; /* Version 2 */
    CHECK_INT(server_status_for(hello, (size_t)n, &sc, &rv), PDM_REG_STATUS_VERSION);
    CHECK_INT(rv, PDM_ERR_UNSUPPORTED);
    hello[3] = 1;
    hello[5] = 0; /* NumSuites 0 */
    CHECK_INT(server_status_for(hello, (size_t)n, &sc, &rv), PDM_REG_STATUS_MALFORMED);
    CHECK_INT(rv, PDM_ERR_MALFORMED);
    hello[5] = 1;
    hello[0] = PDM_REG_MSG_CLIENT_KEY; /* wrong first message */
    CHECK_INT(server_status_for(hello, (size_t)n, &sc, &rv), PDM_REG_STATUS_MALFORMED);
    hello[0] = PDM_REG_MSG_CLIENT_HELLO;
    {
        /* Oversized: refused from the three header bytes. */
        uint8_t big[3] = {1, 0x08, 0x01};
        CHECK_INT(server_status_for(big, 3, &sc, &rv), PDM_REG_STATUS_MALFORMED);
        /* Garbage. */
        uint8_t junk[16];
        memset(junk, 0xA5, sizeof junk);
        CHECK_INT(server_status_for(junk, sizeof junk, &sc, &rv), PDM_REG_STATUS_MALFORMED);
    }

    /* Mode not accepted. */
    sc.modes = 1u << PDM_HPKE_MODE_AUTH;
    CHECK_INT(server_status_for(hello, (size_t)n, &sc, &rv), PDM_REG_STATUS_UNAUTHORIZED);
    CHECK_INT(rv, PDM_ERR_AUTH);
    sc.modes = 0;

    /* Unknown PSK id. */
    client_cfg(&cc, PDM_HPKE_MODE_PSK, x, 1);
    cc.psk_id = (const uint8_t *)"site-2";
    CHECK_INT(handshake(&c, &cc, &s, &sc), PDM_REG_STATUS_UNAUTHORIZED);
    CHECK(strcmp(s.reason, "unknown PSK id") == 0);
    CHECK_INT(c.status, PDM_REG_STATUS_UNAUTHORIZED);
    CHECK_INT(c.state, PDM_REG_ST_FAILED);
    /* No PSK callback at all. */
    sc.psk_lookup = NULL;
    client_cfg(&cc, PDM_HPKE_MODE_PSK, x, 1);
    CHECK_INT(handshake(&c, &cc, &s, &sc), PDM_REG_STATUS_UNAUTHORIZED);
    sc.psk_lookup = w_psk_lookup;

    /* Unknown client key. */
    W.nauthorized = 1;             /* only the X25519 client key... */
    W.authorized[0] = &W.cli_p256; /* ...and it is the P-256 one */
    client_cfg(&cc, PDM_HPKE_MODE_AUTH, x, 1);
    CHECK_INT(handshake(&c, &cc, &s, &sc), PDM_REG_STATUS_UNAUTHORIZED);
    CHECK(strcmp(s.reason, "unknown client key") == 0);
    W.authorized[0] = &W.cli_x25519;
    W.nauthorized = 2;
    CHECK_INT(handshake(&c, &cc, &s, &sc), PDM_REG_STATUS_OK);

    /* An invalid P-256 client key (not on the curve). */
    {
        struct pdm_reg_client_hello m;
        uint8_t bad[65], msg[BUF];
        memset(&m, 0, sizeof m);
        memset(bad, 0, sizeof bad);
        bad[0] = 4;
        bad[64] = 1;
        m.version = 1;
        m.mode = PDM_HPKE_MODE_AUTH;
        m.nsuites = 1;
        m.suites[0] = P256_AES128;
        m.client_pk = bad;
        m.client_pk_len = sizeof bad;
        n = pdm_reg_client_hello_encode(&m, msg, sizeof msg);
        CHECK(n > 0);
        CHECK_INT(server_status_for(msg, (size_t)n, &sc, &rv), PDM_REG_STATUS_UNAUTHORIZED);
    }
}

/* Runs a base X25519 hello through a server, then feeds it `key`
 * (a ClientKey message, len bytes); returns the status. */
static int after_hello(const uint8_t *key, size_t len, int *rv)
{
    static const struct pdm_hpke_suite x[] = {X25519_AES128};
    struct pdm_reg_server_config sc;
    struct pdm_reg_client_config cc;
    struct pdm_reg_server s;
    struct pdm_reg_client c;
    uint8_t a[BUF], b[BUF];
    size_t blen;
    int n;

    server_cfg(&sc, x, 1);
    client_cfg(&cc, PDM_HPKE_MODE_BASE, x, 1);
    n = pdm_reg_client_start(&c, &cc, 0, a, sizeof a);
    pdm_reg_server_init(&s, &sc, 0);
    CHECK_INT(pdm_reg_server_recv(&s, a, (size_t)n, 0, b, sizeof b, &blen), n);
    CHECK_INT(s.state, PDM_REG_ST_WAIT_KEY);
    *rv = pdm_reg_server_recv(&s, key, len, 0, b, sizeof b, &blen);
    if (s.state == PDM_REG_ST_DONE)
        return PDM_REG_STATUS_OK;
    if (s.state != PDM_REG_ST_FAILED || blen != PDM_REG_STATUS_ERR_SIZE)
        return PDM_REG_STATUS_NONE;
    CHECK_INT(s.result.secret_len, 0);
    return b[3];
}

static void test_client_key_refusals(void)
{
    uint8_t enc[32], salt[32], msg[BUF];
    struct pdm_reg_client_key ck = {enc, 32, salt};
    int n, rv;

    memset(salt, 1, sizeof salt);
    /* An all-zero X25519 enc: the DH gives zeros, HPKE refuses. */
    memset(enc, 0, sizeof enc);
    n = pdm_reg_client_key_encode(&ck, msg, sizeof msg);
    CHECK_INT(after_hello(msg, (size_t)n, &rv), PDM_REG_STATUS_UNAUTHORIZED);
    CHECK_INT(rv, PDM_ERR_AUTH);
    /* An enc of the wrong length for the suite. */
    ck.enc_len = 31;
    n = pdm_reg_client_key_encode(&ck, msg, sizeof msg);
    CHECK_INT(after_hello(msg, (size_t)n, &rv), PDM_REG_STATUS_MALFORMED);
    CHECK_INT(rv, PDM_ERR_MALFORMED);
    /* A second ClientHello instead of ClientKey. */
    msg[0] = PDM_REG_MSG_CLIENT_HELLO;
    CHECK_INT(after_hello(msg, (size_t)n, &rv), PDM_REG_STATUS_MALFORMED);
    /* Any 32-byte enc that is a valid point works for base mode: the
     * server cannot tell; the client's Confirm check is what protects. */
    memset(enc, 9, sizeof enc);
    ck.enc_len = 32;
    n = pdm_reg_client_key_encode(&ck, msg, sizeof msg);
    CHECK_INT(after_hello(msg, (size_t)n, &rv), PDM_REG_STATUS_OK);
}

static void test_client_failures(void)
{
    static const struct pdm_hpke_suite x[] = {X25519_AES128};
    static const struct pdm_hpke_suite xp[] = {X25519_AES128, P256_AES128};
    static const struct pdm_hpke_suite p[] = {P256_AES128};
    struct pdm_reg_server_config sc;
    struct pdm_reg_client_config cc;
    struct pdm_reg_server s;
    struct pdm_reg_client c;
    uint8_t wrong_psk[32];
    uint8_t a[BUF], b[BUF];
    size_t alen, blen;
    int n;

    /* Wrong PSK value under a known id: the server answers OK (it cannot
     * tell), the client's Confirm check fails and it keeps nothing. */
    server_cfg(&sc, x, 1);
    client_cfg(&cc, PDM_HPKE_MODE_PSK, x, 1);
    memset(wrong_psk, 0x5B, sizeof wrong_psk);
    cc.psk = wrong_psk;
    CHECK_INT(handshake(&c, &cc, &s, &sc), PDM_REG_STATUS_OK);
    CHECK_INT(c.state, PDM_REG_ST_FAILED);
    CHECK(c.reason && strstr(c.reason, "Confirm mismatch"));
    CHECK_INT(c.result.secret_len, 0);

    /* Wrong pin: the client stops at the ServerHello. */
    client_cfg(&cc, PDM_HPKE_MODE_BASE, x, 1);
    {
        struct pdm_hpke_key other;
        key_from_seed(PDM_HPKE_KEM_X25519_SHA256, 77, &other, NULL);
        cc.pin = &other;
        n = pdm_reg_client_start(&c, &cc, 0, a, sizeof a);
        pdm_reg_server_init(&s, &sc, 0);
        CHECK_INT(pdm_reg_server_recv(&s, a, (size_t)n, 0, b, sizeof b, &blen), n);
        CHECK_INT(pdm_reg_client_recv(&c, b, blen, 0, a, sizeof a, &alen), PDM_ERR_KEY);
        CHECK_INT(alen, 0);
        CHECK_INT(c.state, PDM_REG_ST_FAILED);
        CHECK(strstr(c.reason, "pinned") != NULL);
        /* A pin of another KEM than the server chose fails the same way. */
        client_cfg(&cc, PDM_HPKE_MODE_BASE, xp, 2);
        cc.pin = &W.pin_p256;
        n = pdm_reg_client_start(&c, &cc, 0, a, sizeof a);
        pdm_reg_server_init(&s, &sc, 0);
        CHECK_INT(pdm_reg_server_recv(&s, a, (size_t)n, 0, b, sizeof b, &blen), n);
        CHECK_INT(pdm_reg_client_recv(&c, b, blen, 0, a, sizeof a, &alen), PDM_ERR_KEY);
    }

    /* A ServerHello with a suite the client never offered. */
    client_cfg(&cc, PDM_HPKE_MODE_BASE, p, 1);
    n = pdm_reg_client_start(&c, &cc, 0, a, sizeof a);
    {
        struct pdm_reg_server_hello sh = {X25519_AES128, W.srv_x25519.pk, 32};
        n = pdm_reg_server_hello_encode(&sh, b, sizeof b);
        CHECK_INT(pdm_reg_client_recv(&c, b, (size_t)n, 0, a, sizeof a, &alen), PDM_ERR_PROTO);
    }

    /* BUSY in place of a ServerHello. */
    client_cfg(&cc, PDM_HPKE_MODE_BASE, x, 1);
    n = pdm_reg_client_start(&c, &cc, 0, a, sizeof a);
    {
        struct pdm_reg_status_msg st = {PDM_REG_STATUS_BUSY, NULL};
        n = pdm_reg_status_encode(&st, b, sizeof b);
        CHECK_INT(pdm_reg_client_recv(&c, b, (size_t)n, 0, a, sizeof a, &alen), PDM_ERR_AUTH);
        CHECK_INT(c.status, PDM_REG_STATUS_BUSY);
    }

    /* A tampered Confirm. */
    n = pdm_reg_client_start(&c, &cc, 0, a, sizeof a);
    pdm_reg_server_init(&s, &sc, 0);
    CHECK_INT(pdm_reg_server_recv(&s, a, (size_t)n, 0, b, sizeof b, &blen), n);
    n = pdm_reg_client_recv(&c, b, blen, 0, a, sizeof a, &alen);
    CHECK(n > 0 && alen > 0);
    CHECK_INT(pdm_reg_server_recv(&s, a, alen, 0, b, sizeof b, &blen), (long)alen);
    CHECK_INT(blen, PDM_REG_STATUS_OK_SIZE);
    b[10] ^= 1;
    CHECK_INT(pdm_reg_client_recv(&c, b, blen, 0, a, sizeof a, &alen), PDM_ERR_AUTH);
    CHECK_INT(c.result.secret_len, 0);

    /* Bad client configs. */
    client_cfg(&cc, PDM_HPKE_MODE_PSK, x, 1);
    cc.psk_len = 31;
    CHECK_INT(pdm_reg_client_start(&c, &cc, 0, a, sizeof a), PDM_ERR_INVAL);
    client_cfg(&cc, PDM_HPKE_MODE_AUTH, x, 1);
    cc.key = &W.cli_p256; /* no P-256 suite offered */
    CHECK_INT(pdm_reg_client_start(&c, &cc, 0, a, sizeof a), PDM_ERR_INVAL);
    client_cfg(&cc, PDM_HPKE_MODE_BASE, x, 1);
    cc.key = &W.cli_x25519; /* a key in base mode */
    CHECK_INT(pdm_reg_client_start(&c, &cc, 0, a, sizeof a), PDM_ERR_INVAL);
    {
        static const struct pdm_hpke_suite exp_only[] = {
            {PDM_HPKE_KEM_X25519_SHA256, PDM_HPKE_KDF_HKDF_SHA256, PDM_HPKE_AEAD_EXPORT_ONLY}};
        client_cfg(&cc, PDM_HPKE_MODE_BASE, exp_only, 1);
        CHECK_INT(pdm_reg_client_start(&c, &cc, 0, a, sizeof a), PDM_ERR_INVAL);
    }
}

/* A man in the middle drops the client's first suite to force the second:
 * the server agrees, but the client hashed its own hello, so Confirm fails. */
static void test_tampered_hello(void)
{
    static const struct pdm_hpke_suite prefs[] = {X25519_AES128, X25519_CHACHA};
    static const struct pdm_hpke_suite offer[] = {X25519_CHACHA, X25519_AES128};
    static const struct pdm_hpke_suite offer_one[] = {X25519_AES128};
    struct pdm_reg_server_config sc;
    struct pdm_reg_client_config cc, cc2;
    struct pdm_reg_server s;
    struct pdm_reg_client c, c2;
    uint8_t a[BUF], b[BUF], forged[BUF];
    size_t alen, blen;
    int n, m;

    server_cfg(&sc, prefs, 2);
    client_cfg(&cc, PDM_HPKE_MODE_BASE, offer, 2);
    /* The hello the attacker forwards instead: the same, with one suite. */
    client_cfg(&cc2, PDM_HPKE_MODE_BASE, offer_one, 1);
    m = pdm_reg_client_start(&c2, &cc2, 0, forged, sizeof forged);
    n = pdm_reg_client_start(&c, &cc, 0, a, sizeof a);
    CHECK(n > m && m > 0);
    pdm_reg_server_init(&s, &sc, 0);
    CHECK_INT(pdm_reg_server_recv(&s, forged, (size_t)m, 0, b, sizeof b, &blen), m);
    CHECK_INT(pdm_reg_client_recv(&c, b, blen, 0, a, sizeof a, &alen), (long)blen);
    CHECK_INT(pdm_reg_server_recv(&s, a, alen, 0, b, sizeof b, &blen), (long)alen);
    CHECK_INT(s.state, PDM_REG_ST_DONE);
    CHECK_INT(pdm_reg_client_recv(&c, b, blen, 0, a, sizeof a, &alen), PDM_ERR_AUTH);
    CHECK(strstr(c.reason, "Confirm") != NULL);
}

/* The whole exchange with every byte fed alone, twice as a stream. */
static void test_byte_at_a_time(void)
{
    static const struct pdm_hpke_suite x[] = {X25519_AES128};
    struct pdm_reg_server_config sc;
    struct pdm_reg_client_config cc;
    struct pdm_reg_server s;
    struct pdm_reg_client c;
    uint8_t a[BUF], b[BUF], acc[BUF];
    size_t alen = 0, blen = 0, have;
    int n, consumed_at = -1;

    server_cfg(&sc, x, 1);
    client_cfg(&cc, PDM_HPKE_MODE_PSK, x, 1);
    n = pdm_reg_client_start(&c, &cc, 0, a, sizeof a);
    pdm_reg_server_init(&s, &sc, 0);
    for (have = 1; have <= (size_t)n; have++) {
        memcpy(acc, a, have);
        int r = pdm_reg_server_recv(&s, acc, have, 0, b, sizeof b, &blen);
        if (r != 0) {
            consumed_at = (int)have;
            CHECK_INT(r, n);
            break;
        }
        CHECK_INT(blen, 0);
    }
    CHECK_INT(consumed_at, n);
    for (have = 1; have <= blen; have++) {
        int r = pdm_reg_client_recv(&c, b, have, 0, a, sizeof a, &alen);
        CHECK_INT(r, have == blen ? (int)blen : 0);
    }
    /* ClientKey followed by trailing junk in the same read: one message
     * consumed, the rest left to the caller. */
    memcpy(acc, a, alen);
    memset(acc + alen, 0xEE, 5);
    CHECK_INT(pdm_reg_server_recv(&s, acc, alen + 5, 0, b, sizeof b, &blen), (long)alen);
    CHECK_INT(s.state, PDM_REG_ST_DONE);
    CHECK_INT(pdm_reg_client_recv(&c, b, blen, 0, a, sizeof a, &alen), (long)blen);
    CHECK_INT(c.state, PDM_REG_ST_DONE);
    CHECK_MEM(c.result.secret, s.result.secret, 32);
}

static void test_timeouts(void)
{
    static const struct pdm_hpke_suite x[] = {X25519_AES128};
    struct pdm_reg_server_config sc;
    struct pdm_reg_client_config cc;
    struct pdm_reg_server s;
    struct pdm_reg_client c;
    uint8_t a[BUF], b[BUF];
    size_t blen;
    int n;

    server_cfg(&sc, x, 1); /* 5000 ns per message */
    client_cfg(&cc, PDM_HPKE_MODE_BASE, x, 1);
    pdm_reg_server_init(&s, &sc, 1000);
    CHECK_INT(s.status, PDM_REG_STATUS_NONE);
    CHECK_INT(pdm_reg_server_deadline(&s), 6000);
    CHECK_INT(pdm_reg_server_expire(&s, 5999), 0);
    CHECK_INT(s.state, PDM_REG_ST_WAIT_HELLO);
    /* Progress moves the deadline. */
    n = pdm_reg_client_start(&c, &cc, 1000, a, sizeof a);
    CHECK_INT(pdm_reg_client_deadline(&c), 8000);
    CHECK_INT(pdm_reg_server_recv(&s, a, (size_t)n, 4000, b, sizeof b, &blen), n);
    CHECK_INT(pdm_reg_server_deadline(&s), 9000);
    CHECK_INT(pdm_reg_server_expire(&s, 8999), 0);
    CHECK_INT(pdm_reg_server_expire(&s, 9000), PDM_ERR_EXPIRED);
    CHECK_INT(s.state, PDM_REG_ST_FAILED);
    CHECK_INT(s.status, PDM_REG_STATUS_NONE);
    CHECK(strcmp(s.reason, "timeout") == 0);
    CHECK_INT(pdm_reg_server_deadline(&s), 0);
    CHECK_INT(pdm_reg_client_expire(&c, 8000), PDM_ERR_EXPIRED);
    CHECK_INT(c.state, PDM_REG_ST_FAILED);
    /* No timeout configured: no deadline. */
    sc.timeout_ns = 0;
    pdm_reg_server_init(&s, &sc, 1000);
    CHECK_INT(pdm_reg_server_deadline(&s), 0);
    CHECK_INT(pdm_reg_server_expire(&s, UINT64_MAX), 0);
}

/*
 * The config may be reloaded between calls (struct pdm_reg_server_config):
 * a server that chose its key at ClientHello must finish with that key even
 * when the config's key array changes before ClientKey arrives. It holds a
 * copy of the private key only while it needs it.
 */
static void test_key_reload(void)
{
    static const struct pdm_hpke_suite x[] = {X25519_AES128};
    static const uint8_t zeros[PDM_HPKE_NSK_MAX];
    struct pdm_hpke_key keys[2];
    struct pdm_reg_server_config sc;
    struct pdm_reg_client_config cc;
    struct pdm_reg_server s;
    struct pdm_reg_client c;
    uint8_t a[BUF], b[BUF];
    size_t alen = 0, blen = 0;
    int n;

    for (int fail = 0; fail < 2; fail++) {
        keys[0] = W.srv_x25519;
        keys[1] = W.srv_p256;
        server_cfg(&sc, x, 1);
        sc.keys = keys;
        client_cfg(&cc, PDM_HPKE_MODE_BASE, x, 1);
        n = pdm_reg_client_start(&c, &cc, 100, a, sizeof a);
        CHECK(n > 0);
        pdm_reg_server_init(&s, &sc, 100);
        CHECK_INT(pdm_reg_server_recv(&s, a, (size_t)n, 200, b, sizeof b, &blen), n);
        CHECK_INT(s.state, PDM_REG_ST_WAIT_KEY);
        CHECK(blen > 0);
        CHECK_INT(pdm_reg_client_recv(&c, b, blen, 300, a, sizeof a, &alen), (int)blen);
        CHECK(alen > 0);
        /* The reload: the old key is gone, another one of the same KEM
         * takes its place. */
        pdm_hpke_key_wipe(&keys[0]);
        keys[0] = W.cli_x25519;
        if (fail) /* Enc all zeros, a low-order point: decapsulation fails */
            memset(a + PDM_REG_HDR_SIZE + 2, 0, 32);
        CHECK_INT(pdm_reg_server_recv(&s, a, alen, 400, b, sizeof b, &blen),
                  fail ? PDM_ERR_AUTH : (int)alen);
        CHECK_INT(s.state, fail ? PDM_REG_ST_FAILED : PDM_REG_ST_DONE);
        /* No copy of the private key is left behind, either way. */
        CHECK_INT(s.key.has_sk, 0);
        CHECK_MEM(s.key.sk, zeros, sizeof s.key.sk);
        if (!fail) {
            CHECK_INT(pdm_reg_client_recv(&c, b, blen, 500, a, sizeof a, &alen), (int)blen);
            CHECK_INT(c.state, PDM_REG_ST_DONE);
            CHECK_MEM(c.result.secret, s.result.secret, 32);
        }
        pdm_reg_server_wipe(&s);
        pdm_reg_client_wipe(&c);
    }
}

static void test_api_misuse(void)
{
    static const struct pdm_hpke_suite x[] = {X25519_AES128};
    struct pdm_reg_server_config sc;
    struct pdm_reg_server s;
    uint8_t b[BUF];
    size_t blen = 99;

    server_cfg(&sc, x, 1);
    pdm_reg_server_init(&s, &sc, 0);
    CHECK_INT(pdm_reg_server_recv(&s, b, 3, 0, b, PDM_REG_SERVER_OUT_MAX - 1, &blen),
              PDM_ERR_NOBUF);
    CHECK_INT(s.state, PDM_REG_ST_WAIT_HELLO);
    CHECK_INT(pdm_reg_server_recv(NULL, b, 3, 0, b, sizeof b, &blen), PDM_ERR_INVAL);
    CHECK_INT(pdm_reg_server_recv(&s, NULL, 3, 0, b, sizeof b, &blen), PDM_ERR_INVAL);
    CHECK_INT(pdm_reg_server_recv(&s, NULL, 0, 0, b, sizeof b, &blen), 0);
    CHECK_INT(blen, 0);
    {
        struct pdm_reg_vector_in in;
        struct pdm_reg_transcript t;
        memset(&in, 0, sizeof in);
        CHECK_INT(pdm_reg_vector_run(&in, &t), PDM_ERR_INVAL);
    }
}

int main(void)
{
    world_init();
    RUN(test_vectors);
    RUN(test_frame);
    RUN(test_client_hello_codec);
    RUN(test_other_codecs);
    RUN(test_all_modes);
    RUN(test_suite_choice);
    RUN(test_server_refusals);
    RUN(test_client_key_refusals);
    RUN(test_client_failures);
    RUN(test_tampered_hello);
    RUN(test_byte_at_a_time);
    RUN(test_timeouts);
    RUN(test_key_reload);
    RUN(test_api_misuse);
    return harness_done();
}
