/*
 * The PDMv2 profile (lib/profile.c) and key log lines (lib/keylog.c).
 *
 * Known answers: every "options" vector of the profile's vector file
 * (flow_info, prk, STK, BaseNonce, nonce, the 36 encrypted bytes, opening
 * them) and every "client_secrets" vector. Then behaviour: all 288
 * single-bit flips of an option are refused, the RN sequence never repeats
 * over a full cycle and rotation follows it, a receiver follows rotations
 * across loss and reordering within its window (and not beyond), the F bit's
 * parity is enforced, Kri exhaustion stops the sender, and key log lines
 * round-trip and fail with reasons.
 */
#include "harness.h"
#include "vectors.h"

#include <pdm/keylog.h>
#include <pdm/profile.h>

#include <arpa/inet.h>

#include "crypto.h"

#define VECTORS "tests/vectors/pdmv2-profile-vectors.json"
#define BUF     256

static uint64_t get_u64(const json_t *o, const char *key)
{
    uint64_t v = UINT64_MAX;
    if (vec_u64(o, key, &v) != 0)
        return UINT64_MAX;
    return v;
}

static int get_addr(const json_t *o, const char *key, uint8_t out[16])
{
    const char *s = vec_str(o, key);
    return s != NULL && inet_pton(AF_INET6, s, out) == 1 ? 0 : -1;
}

static int fields_equal(const struct pdm_fields *a, const struct pdm_fields *b)
{
    return a->scale_dtlr == b->scale_dtlr && a->scale_dtls == b->scale_dtls &&
           a->global_pointer == b->global_pointer && a->psntp == b->psntp && a->psnlr == b->psnlr &&
           a->delta_tlr == b->delta_tlr && a->delta_tls == b->delta_tls;
}

static int all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return 0;
    return 1;
}

static int get_fields(const json_t *o, struct pdm_fields *f)
{
    const json_t *fl = json_object_get(o, "fields");
    uint64_t v[7];
    const char *names[7] = {"scale_dtlr", "scale_dtls", "global_pointer", "psntp",
                            "psnlr",      "delta_tlr",  "delta_tls"};

    for (int i = 0; i < 7; i++)
        if ((v[i] = get_u64(fl, names[i])) == UINT64_MAX)
            return -1;
    f->scale_dtlr = (uint8_t)v[0];
    f->scale_dtls = (uint8_t)v[1];
    f->global_pointer = (uint32_t)v[2];
    f->psntp = (uint16_t)v[3];
    f->psnlr = (uint16_t)v[4];
    f->delta_tlr = (uint16_t)v[5];
    f->delta_tls = (uint16_t)v[6];
    return 0;
}

static uint16_t opt_rn(const uint8_t *o)
{
    return (uint16_t)((o[4] << 8 | o[5]) >> 1);
}

static uint8_t opt_f(const uint8_t *o)
{
    return o[5] & 1;
}

static json_t *load_vectors(void)
{
    return vec_load(VECTORS);
}

/* One options vector, read: secret, tuple, Kri, RN, F, fields. */
struct optvec {
    struct pdm_hpke_suite suite;
    struct pdm_profile_secret secret;
    struct pdm_flow_tuple t;
    uint16_t kri, rn;
    uint8_t f;
    struct pdm_fields fields;
    uint8_t option[PDM_OPTSIZE_V2_ENC];
};

static int read_optvec(const json_t *v, struct optvec *o)
{
    uint8_t ss[BUF], salt[BUF];
    long ss_n = get_hex(v, "shared_secret", ss, sizeof ss),
         salt_n = get_hex(v, "salt", salt, sizeof salt);
    uint64_t sport = get_u64(v, "sport"), dport = get_u64(v, "dport"),
             proto = get_u64(v, "protocol");
    uint64_t kri = get_u64(v, "kri"), rn = get_u64(v, "rn"), f = get_u64(v, "f");
    int rv;

    memset(o, 0, sizeof *o);
    if (pdm_suite_parse(vec_str(v, "suite"), &o->suite) != 0 || ss_n <= 0 || salt_n <= 0 ||
        get_addr(v, "src", o->t.src) != 0 || get_addr(v, "dst", o->t.dst) != 0 || sport > 65535 ||
        dport > 65535 || proto > 255 || kri > 65535 || rn > 32767 || f > 1 ||
        get_fields(v, &o->fields) != 0 ||
        get_hex(v, "encrypted_option", o->option, sizeof o->option) != PDM_OPTSIZE_V2_ENC)
        return -1;
    o->t.sport = (uint16_t)sport;
    o->t.dport = (uint16_t)dport;
    o->t.proto = (uint8_t)proto;
    o->kri = (uint16_t)kri;
    o->rn = (uint16_t)rn;
    o->f = (uint8_t)f;
    rv = pdm_profile_secret_init(&o->secret, o->suite, salt, ulen(salt_n), ss, ulen(ss_n));
    pdm_memzero(ss, sizeof ss);
    return rv;
}

/* ------------------------------------------------------------------------ */
/* Suites and the key schedule's inputs                                     */

static void test_suite_text(void)
{
    struct pdm_hpke_suite s;
    char buf[PDM_SUITE_TEXT_SIZE];
    static const char *const bad[] = {
        "",       "0020-0001",       "0020-0001-00011", "0020_0001_0001", "0020-0001-000g",
        "20-1-1", "0020-0001-0001 ", " 0020-0001-0001", "0020--001-0001", "+020-0001-0001",
    };

    CHECK_INT(pdm_suite_parse("0020-0001-0001", &s), 0);
    CHECK(s.kem_id == 0x20 && s.kdf_id == 1 && s.aead_id == 1);
    CHECK_INT(pdm_profile_suite_check(s), 0);
    pdm_suite_format(s, buf);
    CHECK(strcmp(buf, "0020-0001-0001") == 0);
    CHECK_INT(pdm_suite_parse("0012-0003-FFFF", &s), 0);
    CHECK(s.kem_id == 0x12 && s.kdf_id == 3 && s.aead_id == 0xFFFF);
    pdm_suite_format(s, buf);
    CHECK(strcmp(buf, "0012-0003-ffff") == 0);
    /* Export-only cannot carry PDM data; unknown ids are not usable. */
    CHECK_INT(pdm_profile_suite_check(s), PDM_ERR_UNSUPPORTED);
    s.aead_id = 4;
    CHECK_INT(pdm_profile_suite_check(s), PDM_ERR_UNSUPPORTED);
    s.aead_id = 3;
    CHECK_INT(pdm_profile_suite_check(s), 0);
    s.kem_id = 0x21;
    CHECK_INT(pdm_profile_suite_check(s), PDM_ERR_UNSUPPORTED);
    s.kem_id = 0x10;
    s.kdf_id = 4;
    CHECK_INT(pdm_profile_suite_check(s), PDM_ERR_UNSUPPORTED);

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s.kem_id = 0x1234;
        CHECK_INT(pdm_suite_parse(bad[i], &s), PDM_ERR_INVAL);
        CHECK_INT(s.kem_id, 0x1234); /* untouched on failure */
    }
    CHECK_INT(pdm_suite_parse(NULL, &s), PDM_ERR_INVAL);
}

static void test_secret_args(void)
{
    struct pdm_profile_secret s;
    uint8_t salt[32] = {1}, ss[64] = {2};
    struct pdm_hpke_suite suite = PDM_PROFILE_SUITE_DEFAULT;
    struct pdm_hpke_suite eo = {0x20, 1, PDM_HPKE_AEAD_EXPORT_ONLY};

    CHECK_INT(pdm_profile_secret_init(&s, suite, salt, 32, ss, 32), 0);
    CHECK(s.nh == 32 && s.nk == 16 && s.nn == 12 && !all_zero(s.prk, 32));
    pdm_profile_secret_wipe(&s);
    CHECK(all_zero(&s, sizeof s));
    CHECK_INT(pdm_profile_secret_init(&s, eo, salt, 32, ss, 32), PDM_ERR_UNSUPPORTED);
    CHECK(all_zero(&s, sizeof s));
    CHECK_INT(pdm_profile_secret_init(&s, suite, salt, 31, ss, 32), PDM_ERR_INVAL);
    CHECK_INT(pdm_profile_secret_init(&s, suite, salt, 32, ss, 48), PDM_ERR_INVAL);
    CHECK_INT(pdm_profile_secret_init(&s, suite, NULL, 32, ss, 32), PDM_ERR_INVAL);
    suite.kdf_id = PDM_HPKE_KDF_HKDF_SHA512;
    CHECK_INT(pdm_profile_secret_init(&s, suite, salt, 32, ss, 32), PDM_ERR_INVAL);
    CHECK_INT(pdm_profile_secret_init(&s, suite, salt, 32, ss, 64), 0);
    CHECK(s.nh == 64);
    pdm_profile_secret_wipe(&s);
}

static void test_flow_info_ports(void)
{
    struct pdm_flow_tuple t;
    uint8_t a[PDM_PROFILE_FLOW_INFO_SIZE], b[PDM_PROFILE_FLOW_INFO_SIZE];
    static const uint8_t with_ports[] = {PDM_NH_TCP, PDM_NH_UDP, PDM_NH_UDPLITE, PDM_NH_SCTP,
                                         PDM_NH_DCCP};

    memset(&t, 0, sizeof t);
    memset(t.src, 0xAA, 16);
    memset(t.dst, 0xBB, 16);
    t.sport = 0x1234;
    t.dport = 0x5678;
    for (size_t i = 0; i < sizeof with_ports; i++) {
        t.proto = with_ports[i];
        pdm_profile_flow_info(&t, 0x0102, a);
        CHECK(a[16] == 0x12 && a[17] == 0x34 && a[34] == 0x56 && a[35] == 0x78);
        CHECK(a[36] == with_ports[i] && a[37] == 1 && a[38] == 2);
    }
    /* ICMPv6 and everything else: ports are 0 whatever the tuple says. */
    t.proto = PDM_NH_ICMPV6;
    pdm_profile_flow_info(&t, 7, a);
    t.sport = t.dport = 0;
    pdm_profile_flow_info(&t, 7, b);
    CHECK_MEM(a, b, sizeof a);
    CHECK(a[16] == 0 && a[17] == 0 && a[34] == 0 && a[35] == 0 && a[36] == 58);
    CHECK(a[0] == 0xAA && a[15] == 0xAA && a[18] == 0xBB && a[33] == 0xBB);
}

/* ------------------------------------------------------------------------ */
/* Known answers                                                            */

static void test_option_vectors(void)
{
    json_t *doc = load_vectors();
    const json_t *list = json_object_get(doc, "options");
    size_t n = json_array_size(list);
    int passed = 0;

    CHECK(doc != NULL && n >= 12);
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(list, i);
        int failed_before = h_failed;
        uint8_t info[PDM_PROFILE_FLOW_INFO_SIZE], stk[BUF], bn[BUF], nonce[BUF];
        uint8_t out[64];
        struct pdm_profile_key k;
        struct pdm_option opt;
        struct optvec o;

        CHECK_INT(read_optvec(v, &o), 0);
        pdm_profile_flow_info(&o.t, o.kri, info);
        CHECK_FIELD(v, "flow_info", info, sizeof info);
        CHECK_FIELD(v, "prk", o.secret.prk, o.secret.nh);
        CHECK_INT(pdm_profile_derive(&o.secret, &o.t, o.kri, stk, o.secret.nk, bn, o.secret.nn), 0);
        CHECK_FIELD(v, "stk", stk, o.secret.nk);
        CHECK_FIELD(v, "base_nonce", bn, o.secret.nn);
        /* Sizes other than Nk / Nn are refused. */
        CHECK_INT(
            pdm_profile_derive(&o.secret, &o.t, o.kri, stk, o.secret.nk + 1u, bn, o.secret.nn),
            PDM_ERR_INVAL);
        CHECK_INT(o.f, o.kri & 1); /* the vectors keep F = Kri mod 2 */

        CHECK_INT(pdm_profile_key_init(&k, &o.secret, &o.t, o.kri), 0);
        CHECK_MEM(k.base_nonce, bn, o.secret.nn);
        CHECK_INT(pdm_profile_key_nonce(&k, o.rn, nonce, sizeof nonce), (long)o.secret.nn);
        CHECK_FIELD(v, "nonce", nonce, o.secret.nn);
        CHECK_INT(pdm_profile_seal(&k, PDM_OPT_TYPE, o.rn, &o.fields, out, sizeof out),
                  PDM_OPTSIZE_V2_ENC);
        CHECK_MEM(out, o.option, PDM_OPTSIZE_V2_ENC);

        /* Opening the vector's bytes gives the fields back. */
        CHECK_INT(pdm_profile_open(&k, o.option, sizeof o.option, PDM_OPT_TYPE, &opt),
                  PDM_OPTSIZE_V2_ENC);
        CHECK(opt.format == PDM_FORMAT_V2_ENCRYPTED && opt.rn == o.rn && opt.f == o.f);
        CHECK(fields_equal(&opt.fields, &o.fields));
        CHECK_MEM(opt.sealed, o.option + 6, PDM_V2_SEALED_SIZE);

        /* The other direction of the flow has another key. */
        {
            struct pdm_flow_tuple r = o.t;
            struct pdm_profile_key kr;
            memcpy(r.src, o.t.dst, 16);
            memcpy(r.dst, o.t.src, 16);
            r.sport = o.t.dport;
            r.dport = o.t.sport;
            CHECK_INT(pdm_profile_key_init(&kr, &o.secret, &r, o.kri), 0);
            CHECK(memcmp(kr.base_nonce, k.base_nonce, o.secret.nn) != 0);
            CHECK_INT(pdm_profile_open(&kr, o.option, sizeof o.option, PDM_OPT_TYPE, &opt),
                      PDM_ERR_AUTH);
            CHECK(all_zero(&opt, sizeof opt));
            pdm_profile_key_clear(&kr);
        }
        /* A receiver expecting the vector's Kri opens it at once. */
        {
            struct pdm_profile_rx rx;
            uint16_t got = 0;
            memset(&rx, 0, sizeof rx);
            pdm_profile_rx_init(&rx, o.kri);
            CHECK_INT(pdm_profile_rx_open(&rx, &o.secret, &o.t, o.option, sizeof o.option,
                                          PDM_OPT_TYPE, &opt, &got),
                      PDM_OPTSIZE_V2_ENC);
            CHECK_INT(got, o.kri);
            CHECK(fields_equal(&opt.fields, &o.fields));
            pdm_profile_rx_clear(&rx);
        }
        pdm_profile_key_clear(&k);
        CHECK(all_zero(&k, sizeof k));
        pdm_profile_secret_wipe(&o.secret);
        if (h_failed == failed_before)
            passed++;
        else
            fprintf(stderr, "options vector %zu failed\n", i);
    }
    printf("options vectors: %d/%zu passed\n", passed, n);
    CHECK_INT(passed, (long)n);
    json_decref(doc);
}

static void test_client_secret_vectors(void)
{
    json_t *doc = load_vectors();
    const json_t *list = json_object_get(doc, "client_secrets");
    size_t n = json_array_size(list);
    int passed = 0;

    CHECK(doc != NULL && n >= 4);
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(list, i);
        int failed_before = h_failed;
        uint8_t ps[BUF], salt[BUF], client[16], cs[BUF];
        long ps_n = get_hex(v, "primary_secret", ps, sizeof ps);
        long salt_n = get_hex(v, "salt", salt, sizeof salt);
        struct pdm_profile_primary p;
        struct pdm_profile_secret s1, s2;
        struct pdm_hpke_suite suite;

        CHECK(pdm_suite_parse(vec_str(v, "suite"), &suite) == 0);
        CHECK(get_addr(v, "client", client) == 0 && ps_n > 0 && salt_n > 0);
        CHECK_INT(pdm_profile_primary_init(&p, suite, salt, ulen(salt_n), ps, ulen(ps_n)), 0);
        CHECK_INT(pdm_profile_primary_client(&p, client, cs, p.nh), 0);
        CHECK_FIELD(v, "client_secret", cs, p.nh);
        CHECK_INT(pdm_profile_primary_client(&p, client, cs, p.nh + 1u), PDM_ERR_INVAL);
        /* The shortcut equals secret_init over the client secret. */
        CHECK_INT(pdm_profile_primary_secret(&p, client, &s1), 0);
        CHECK_INT(pdm_profile_secret_init(&s2, suite, salt, ulen(salt_n), cs, p.nh), 0);
        CHECK_MEM(&s1, &s2, sizeof s1);
        /* Another client gets another secret. */
        client[15] ^= 1;
        CHECK_INT(pdm_profile_primary_client(&p, client, ps, p.nh), 0);
        CHECK(memcmp(ps, cs, p.nh) != 0);
        pdm_profile_primary_wipe(&p);
        CHECK(all_zero(&p, sizeof p));
        pdm_profile_secret_wipe(&s1);
        pdm_profile_secret_wipe(&s2);
        if (h_failed == failed_before)
            passed++;
    }
    printf("client_secrets vectors: %d/%zu passed\n", passed, n);
    CHECK_INT(passed, (long)n);
    json_decref(doc);
}

/* ------------------------------------------------------------------------ */
/* Forgeries                                                                */

/* Every single-bit flip of every vector's option is refused, by the key and
 * by a receiver (which also tries the other parity's candidates), and
 * nothing of the contents comes out. */
static void test_bit_flips(void)
{
    json_t *doc = load_vectors();
    const json_t *list = json_object_get(doc, "options");
    long refused = 0, auth = 0, total = 0, vec_auth;

    for (size_t i = 0; i < json_array_size(list); i++) {
        struct pdm_profile_key k;
        struct pdm_profile_rx rx;
        struct optvec o;

        if (read_optvec(json_array_get(list, i), &o) != 0 ||
            pdm_profile_key_init(&k, &o.secret, &o.t, o.kri) != 0) {
            CHECK(0);
            continue;
        }
        memset(&rx, 0, sizeof rx);
        pdm_profile_rx_init(&rx, o.kri);
        vec_auth = 0;
        for (size_t bit = 0; bit < 8 * PDM_OPTSIZE_V2_ENC; bit++) {
            uint8_t bad[PDM_OPTSIZE_V2_ENC];
            struct pdm_option opt;
            int r1, r2;

            memcpy(bad, o.option, sizeof bad);
            bad[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
            memset(&opt, 0xA5, sizeof opt);
            r1 = pdm_profile_open(&k, bad, sizeof bad, PDM_OPT_TYPE, &opt);
            CHECK(r1 < 0 && all_zero(&opt, sizeof opt));
            memset(&opt, 0xA5, sizeof opt);
            r2 = pdm_profile_rx_open(&rx, &o.secret, &o.t, bad, sizeof bad, PDM_OPT_TYPE, &opt,
                                     NULL);
            CHECK(r2 < 0 && all_zero(&opt, sizeof opt));
            /* Past Type, Length and the version nibble the codec accepts
             * the bytes (unless RN became 0) and only authentication
             * refuses them. */
            if (bit >= 20) {
                int want = opt_rn(bad) == 0 ? PDM_ERR_OPT_RN : PDM_ERR_AUTH;
                CHECK_INT(r1, want);
                CHECK_INT(r2, want);
                auth += want == PDM_ERR_AUTH;
                vec_auth += want == PDM_ERR_AUTH;
            }
            refused += r1 < 0 && r2 < 0;
            total++;
        }
        /* The receiver counted each authentication failure and stayed put. */
        CHECK_INT(rx.auth_failures, vec_auth);
        CHECK_INT(rx.kri, o.kri);
        pdm_profile_rx_clear(&rx);
        pdm_profile_key_clear(&k);
        pdm_profile_secret_wipe(&o.secret);
    }
    printf("bit flips: %ld/%ld refused (%ld by authentication)\n", refused, total, auth);
    CHECK(total == 288 * (long)json_array_size(list) && refused == total);
    json_decref(doc);
}

/* An option whose tag is valid but whose F is not its key's parity: built
 * with the backend directly, as no profile function makes one. */
static void test_wrong_parity(void)
{
    json_t *doc = load_vectors();
    struct optvec o;
    const struct pdm_aead_alg *aead;
    struct pdm_aead_ctx *actx = NULL;
    struct pdm_profile_key k;
    struct pdm_profile_rx rx;
    struct pdm_option opt;
    uint8_t stk[32], bn[12], nonce[12], pt[14], forged[36];
    uint16_t got = 0;

    CHECK(read_optvec(json_array_get(json_object_get(doc, "options"), 0), &o) == 0);
    aead = pdm_aead_find(o.suite.aead_id);
    CHECK(aead != NULL);
    CHECK_INT(pdm_profile_derive(&o.secret, &o.t, o.kri, stk, o.secret.nk, bn, o.secret.nn), 0);
    CHECK_INT(aead->ctx_new(aead, stk, &actx), 0);
    pdm_option_write_clear(forged, PDM_OPT_TYPE, PDM_FORMAT_V2_ENCRYPTED, o.rn,
                           (uint8_t)(~o.kri & 1));
    pdm_fields_pack(pt, &o.fields);
    memcpy(nonce, bn, 12);
    nonce[10] ^= (uint8_t)(o.rn >> 8);
    nonce[11] ^= (uint8_t)o.rn;
    CHECK_INT(aead->seal(actx, nonce, forged, 6, pt, 14, forged + 6), 0);
    aead->ctx_free(actx);

    CHECK_INT(pdm_profile_key_init(&k, &o.secret, &o.t, o.kri), 0);
    CHECK_INT(pdm_profile_open(&k, forged, sizeof forged, PDM_OPT_TYPE, &opt), PDM_ERR_AUTH);
    CHECK(all_zero(&opt, sizeof opt));
    memset(&rx, 0, sizeof rx);
    pdm_profile_rx_init(&rx, o.kri);
    CHECK_INT(
        pdm_profile_rx_open(&rx, &o.secret, &o.t, forged, sizeof forged, PDM_OPT_TYPE, &opt, &got),
        PDM_ERR_AUTH);
    CHECK_INT(rx.auth_failures, 1);
    /* The genuine option still opens, at the vector's Kri. */
    CHECK_INT(pdm_profile_rx_open(&rx, &o.secret, &o.t, o.option, sizeof o.option, PDM_OPT_TYPE,
                                  &opt, &got),
              PDM_OPTSIZE_V2_ENC);
    CHECK_INT(got, o.kri);
    pdm_profile_rx_clear(&rx);
    pdm_profile_key_clear(&k);
    pdm_profile_secret_wipe(&o.secret);
    json_decref(doc);
}

static void test_api_errors(void)
{
    json_t *doc = load_vectors();
    struct optvec o;
    struct pdm_profile_key k, none;
    struct pdm_option opt;
    uint8_t out[64], clear[PDM_OPTSIZE_V2];
    struct pdm_option v2;

    CHECK(read_optvec(json_array_get(json_object_get(doc, "options"), 0), &o) == 0);
    CHECK_INT(pdm_profile_key_init(&k, &o.secret, &o.t, o.kri), 0);
    memset(&none, 0, sizeof none);
    CHECK_INT(pdm_profile_seal(&k, PDM_OPT_TYPE, 0, &o.fields, out, sizeof out), PDM_ERR_INVAL);
    CHECK_INT(pdm_profile_seal(&k, PDM_OPT_TYPE, 32768, &o.fields, out, sizeof out), PDM_ERR_INVAL);
    CHECK_INT(pdm_profile_seal(&k, PDM_OPT_TYPE, 1, &o.fields, out, 35), PDM_ERR_NOBUF);
    CHECK_INT(pdm_profile_seal(&none, PDM_OPT_TYPE, 1, &o.fields, out, sizeof out), PDM_ERR_INVAL);
    CHECK_INT(pdm_profile_key_nonce(&k, 0, out, sizeof out), PDM_ERR_INVAL);
    CHECK_INT(pdm_profile_key_nonce(&k, 1, out, 11), PDM_ERR_NOBUF);
    /* Open: only encrypted options; codec errors pass through. */
    memset(&v2, 0, sizeof v2);
    v2.type = PDM_OPT_TYPE;
    v2.format = PDM_FORMAT_V2;
    v2.rn = 5;
    CHECK_INT(pdm_option_encode(clear, sizeof clear, &v2), PDM_OPTSIZE_V2);
    CHECK_INT(pdm_profile_open(&k, clear, sizeof clear, PDM_OPT_TYPE, &opt), PDM_ERR_OPT_LENGTH);
    CHECK_INT(pdm_profile_open(&k, o.option, 35, PDM_OPT_TYPE, &opt), PDM_ERR_TRUNCATED);
    CHECK_INT(pdm_profile_open(&k, o.option, 36, 0x1E, &opt), PDM_ERR_OPT_TYPE);
    CHECK_INT(pdm_profile_open(&none, o.option, 36, PDM_OPT_TYPE, &opt), PDM_ERR_INVAL);
    /* Trailing bytes are not the option's. */
    memcpy(out, o.option, 36);
    memset(out + 36, 0xEE, 8);
    CHECK_INT(pdm_profile_open(&k, out, 44, PDM_OPT_TYPE, &opt), PDM_OPTSIZE_V2_ENC);
    /* A configured option type is bound by the tag as well. */
    CHECK_INT(pdm_profile_seal(&k, 0x1E, o.rn, &o.fields, out, sizeof out), PDM_OPTSIZE_V2_ENC);
    CHECK_INT(pdm_profile_open(&k, out, 36, 0x1E, &opt), PDM_OPTSIZE_V2_ENC);
    out[0] = PDM_OPT_TYPE;
    CHECK_INT(pdm_profile_open(&k, out, 36, PDM_OPT_TYPE, &opt), PDM_ERR_AUTH);
    /* Reserved bits: covered by the tag, so a changed one fails. */
    memcpy(out, o.option, 36);
    out[3] |= 1;
    CHECK_INT(pdm_profile_open(&k, out, 36, PDM_OPT_TYPE, &opt), PDM_ERR_AUTH);
    pdm_profile_key_clear(&k);
    pdm_profile_key_clear(&k); /* twice is fine */
    pdm_profile_secret_wipe(&o.secret);
    json_decref(doc);
}

/* ------------------------------------------------------------------------ */
/* Sender: RN sequence and rotation                                         */

static const uint8_t test_salt[32] = {0x53, 0x41, 0x4c, 0x54};
static const uint8_t test_ss[32] = {0x53, 0x53, 0x01, 0x02, 0x03};

static void test_tuple(struct pdm_flow_tuple *t)
{
    memset(t, 0, sizeof *t);
    inet_pton(AF_INET6, "2001:db8::1", t->src);
    inet_pton(AF_INET6, "2001:db8::2", t->dst);
    t->sport = 40000;
    t->dport = 443;
    t->proto = PDM_NH_TCP;
}

static int make_secret(struct pdm_profile_secret *s, uint16_t aead)
{
    struct pdm_hpke_suite suite = {PDM_HPKE_KEM_X25519_SHA256, PDM_HPKE_KDF_HKDF_SHA256, aead};
    return pdm_profile_secret_init(s, suite, test_salt, sizeof test_salt, test_ss, sizeof test_ss);
}

static void test_rn_cycle(void)
{
    static uint8_t seen[PDM_RN_MAX + 1];
    uint8_t first_kri0[36], opt[36], last_kri0[36];
    uint16_t first[16], prev_rn = 0;
    struct pdm_profile_secret s;
    struct pdm_flow_tuple t;
    struct pdm_profile_tx tx;
    struct pdm_profile_key k0, k1;
    struct pdm_fields f;
    struct pdm_option out;
    long bad_range = 0, repeats = 0, wrong_f = 0, steps = 0, errors = 0, at_differs = 0;

    CHECK_INT(make_secret(&s, PDM_HPKE_AEAD_AES_128_GCM), 0);
    test_tuple(&t);
    memset(&tx, 0, sizeof tx);
    memset(&f, 0, sizeof f);
    memset(seen, 0, sizeof seen);
    CHECK_INT(sizeof tx, 24);
    CHECK_INT(pdm_profile_tx_seal(&tx, &s, &t, NULL, 0, PDM_OPT_TYPE, &f, opt, sizeof opt),
              PDM_ERR_STATE);
    CHECK_INT(pdm_profile_tx_start(&tx, &s, &t, 0, 0), 0);
    CHECK_INT(pdm_profile_tx_start(&tx, &s, &t, 0, 0), PDM_ERR_STATE);

    for (uint32_t i = 0; i < PDM_RN_COUNT; i++) {
        uint16_t rn;
        f.psntp = (uint16_t)i;
        if (pdm_profile_tx_seal(&tx, &s, &t, NULL, i, PDM_OPT_TYPE, &f, opt, sizeof opt) != 36) {
            errors++;
            continue;
        }
        rn = opt_rn(opt);
        /* pdm_profile_rn_at() tells the same sequence ahead (the agent's
         * keystream lanes rely on it). */
        at_differs += tx.key == NULL || pdm_profile_rn_at(tx.key->rn_key, (uint16_t)i) != rn;
        bad_range += rn < 1 || rn > PDM_RN_MAX;
        repeats += seen[rn & PDM_RN_MAX]++ != 0;
        wrong_f += opt_f(opt) != 0;
        if (i < 16)
            first[i] = rn;
        if (i > 0 && rn == prev_rn + 1)
            steps++;
        prev_rn = rn;
        if (i == 0)
            memcpy(first_kri0, opt, 36);
        memcpy(last_kri0, opt, 36);
    }
    printf("RN cycle: 32767 options, %ld repeats, %ld out of range, %ld consecutive steps\n",
           repeats, bad_range, steps);
    CHECK_INT(errors, 0);
    CHECK_INT(at_differs, 0);
    CHECK_INT(pdm_profile_rn_at(tx.key->rn_key, PDM_RN_COUNT), 0);
    CHECK_INT(pdm_profile_rn_at(NULL, 0), 0);
    CHECK_INT(repeats, 0);
    CHECK_INT(bad_range, 0);
    CHECK_INT(wrong_f, 0);
    /* A sequence, not a counter: consecutive RNs rarely follow each other. */
    CHECK(steps < 64);
    CHECK(tx.kri == 0 && tx.used == PDM_RN_COUNT);

    /* The cycle is used up: the next option rotates. */
    CHECK_INT(pdm_profile_tx_seal(&tx, &s, &t, NULL, 99999, PDM_OPT_TYPE, &f, opt, sizeof opt), 36);
    CHECK(tx.kri == 1 && tx.used == 1 && opt_f(opt) == 1 && tx.key_start_ns == 99999);
    CHECK_INT(pdm_profile_key_init(&k0, &s, &t, 0), 0);
    CHECK_INT(pdm_profile_key_init(&k1, &s, &t, 1), 0);
    CHECK_INT(pdm_profile_open(&k0, opt, 36, PDM_OPT_TYPE, &out), PDM_ERR_AUTH);
    CHECK_INT(pdm_profile_open(&k1, opt, 36, PDM_OPT_TYPE, &out), 36);
    CHECK_INT(out.fields.psntp, f.psntp);
    CHECK_INT(pdm_profile_open(&k0, first_kri0, 36, PDM_OPT_TYPE, &out), 36);
    CHECK_INT(out.fields.psntp, 0);
    CHECK_INT(pdm_profile_open(&k0, last_kri0, 36, PDM_OPT_TYPE, &out), 36);
    CHECK_INT(out.fields.psntp, PDM_RN_COUNT - 1);
    CHECK_INT(pdm_profile_open(&k1, last_kri0, 36, PDM_OPT_TYPE, &out), PDM_ERR_AUTH);
    /* The new key's sequence is another permutation. */
    {
        int same = opt_rn(opt) == first[0];
        uint8_t o2[36];
        for (int i = 1; i < 16; i++) {
            CHECK_INT(
                pdm_profile_tx_seal(&tx, &s, &t, NULL, 99999, PDM_OPT_TYPE, &f, o2, sizeof o2), 36);
            same += opt_rn(o2) == first[i];
        }
        CHECK(same < 3);
    }
    pdm_profile_key_clear(&k0);
    pdm_profile_key_clear(&k1);
    pdm_profile_tx_clear(&tx);
    CHECK(all_zero(&tx, sizeof tx));
    pdm_profile_secret_wipe(&s);
}

static void test_rotation_policy(void)
{
    struct pdm_profile_secret s;
    struct pdm_flow_tuple t;
    struct pdm_profile_tx tx;
    struct pdm_profile_policy pol = {5, 0};
    struct pdm_fields f;
    uint8_t opt[36];
    int ok = 1;

    CHECK_INT(make_secret(&s, PDM_HPKE_AEAD_CHACHA20POLY1305), 0);
    test_tuple(&t);
    memset(&tx, 0, sizeof tx);
    memset(&f, 0, sizeof f);
    CHECK_INT(pdm_profile_tx_start(&tx, &s, &t, 0, 1000), 0);
    /* Packet limit: 5 per key. */
    for (int i = 0; i < 23; i++) {
        ok &= pdm_profile_tx_seal(&tx, &s, &t, &pol, 1000, PDM_OPT_TYPE, &f, opt, 36) == 36;
        ok &= tx.kri == i / 5 && opt_f(opt) == (i / 5) % 2 && tx.used == i % 5 + 1;
    }
    CHECK(ok);
    /* Time limit: a key at most 1 ms old, checked at each seal. */
    pol.max_packets = 0;
    pol.max_key_age_ns = 1000000;
    CHECK_INT(pdm_profile_tx_seal(&tx, &s, &t, &pol, 1000, PDM_OPT_TYPE, &f, opt, 36), 36);
    CHECK_INT(tx.kri, 4);
    CHECK_INT(pdm_profile_tx_seal(&tx, &s, &t, &pol, 1000000, PDM_OPT_TYPE, &f, opt, 36), 36);
    CHECK_INT(tx.kri, 4); /* 999000 ns old: kept */
    CHECK_INT(pdm_profile_tx_seal(&tx, &s, &t, &pol, 1001000, PDM_OPT_TYPE, &f, opt, 36), 36);
    CHECK(tx.kri == 5 && tx.used == 1 && tx.key_start_ns == 1001000);
    /* A clock going back is no time passing. */
    CHECK_INT(pdm_profile_tx_seal(&tx, &s, &t, &pol, 5, PDM_OPT_TYPE, &f, opt, 36), 36);
    CHECK_INT(tx.kri, 5);
    CHECK_INT(pdm_profile_tx_seal(&tx, &s, &t, &pol, 5, PDM_OPT_TYPE, &f, opt, 35), PDM_ERR_NOBUF);
    CHECK_INT(tx.used, 2); /* a refused call draws no RN */
    pdm_profile_tx_clear(&tx);
    pdm_profile_secret_wipe(&s);
}

static void test_kri_exhaustion(void)
{
    struct pdm_profile_secret s;
    struct pdm_flow_tuple t;
    struct pdm_profile_tx tx;
    struct pdm_profile_policy pol = {2, 0};
    struct pdm_fields f;
    uint8_t opt[36];

    CHECK_INT(make_secret(&s, PDM_HPKE_AEAD_AES_256_GCM), 0);
    test_tuple(&t);
    memset(&tx, 0, sizeof tx);
    memset(&f, 0, sizeof f);
    CHECK_INT(pdm_profile_tx_start(&tx, &s, &t, 65534, 0), 0);
    for (int i = 0; i < 4; i++) {
        CHECK_INT(pdm_profile_tx_seal(&tx, &s, &t, &pol, 0, PDM_OPT_TYPE, &f, opt, 36), 36);
        CHECK_INT(tx.kri, 65534 + i / 2);
        CHECK_INT(opt_f(opt), i / 2);
    }
    memset(opt, 0x77, sizeof opt);
    CHECK_INT(pdm_profile_tx_seal(&tx, &s, &t, &pol, 0, PDM_OPT_TYPE, &f, opt, 36),
              PDM_ERR_KEY_EXHAUSTED);
    CHECK(tx.key == NULL && (tx.flags & PDM_PROFILE_TX_EXHAUSTED) && opt[0] == 0x77);
    /* And for good, whatever the policy says now. */
    CHECK_INT(pdm_profile_tx_seal(&tx, &s, &t, NULL, 0, PDM_OPT_TYPE, &f, opt, 36),
              PDM_ERR_KEY_EXHAUSTED);
    CHECK_INT(pdm_profile_tx_start(&tx, &s, &t, 0, 0), PDM_ERR_STATE);
    pdm_profile_tx_clear(&tx);

    /* A state whose Kri disagrees with its key is refused, not used. */
    CHECK_INT(pdm_profile_tx_start(&tx, &s, &t, 3, 0), 0);
    tx.kri = 4;
    CHECK_INT(pdm_profile_tx_seal(&tx, &s, &t, NULL, 0, PDM_OPT_TYPE, &f, opt, 36),
              PDM_ERR_NONCE_REUSE);
    pdm_profile_tx_clear(&tx);
    pdm_profile_secret_wipe(&s);
}

/* ------------------------------------------------------------------------ */
/* Receiver: following rotations                                            */

#define NPKT 80

/*
 * A sender seals NPKT packets with 3 per key (Kri 0 .. 26); the network
 * drops some (whole rotations among them) and swaps others; the receiver
 * must open every delivered packet whose Kri is within its reach, and
 * refuse the others.
 */
static void test_rx_follows(void)
{
    struct pdm_profile_secret s;
    struct pdm_flow_tuple t;
    struct pdm_profile_tx tx;
    struct pdm_profile_rx rx;
    struct pdm_profile_policy pol = {3, 0};
    static uint8_t pkt[NPKT][36];
    uint16_t kri_of[NPKT];
    struct pdm_fields f;
    struct pdm_option out;
    /* Delivery order (packet indexes). Kri of packet i is i / 3. */
    static const int order[] = {
        0,  1,  2,  3,  5, 4, /* swap within Kri 1 */
        8,  6,  7,            /* Kri 2 first packet late: 8 then 6, 7 */
        9,  12, 10,           /* Kri 4 (12) arrives before Kri 3's 10: 10 is late (prev) */
        13, 14, 24, 25,       /* Kri 5..7 lost entirely: jump to Kri 8 (3 rotations) */
        11,                   /* Kri 3: two behind now, refused */
        27, 30, 28,           /* Kri 9, 10; then Kri 9 late */
        54,                   /* Kri 18: 7 rotations lost (4th candidate ahead) */
        57,                   /* Kri 19 */
        79,                   /* Kri 26: 6 rotations lost, other parity */
    };
    static const int expect_ok[] = {
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1,
    };
    int ok_count = 0, n = (int)(sizeof order / sizeof order[0]);

    CHECK_INT(n, (int)(sizeof expect_ok / sizeof expect_ok[0]));
    CHECK_INT(make_secret(&s, PDM_HPKE_AEAD_AES_128_GCM), 0);
    test_tuple(&t);
    memset(&tx, 0, sizeof tx);
    memset(&rx, 0, sizeof rx);
    memset(&f, 0, sizeof f);
    CHECK_INT(sizeof rx, 24);
    CHECK_INT(pdm_profile_tx_start(&tx, &s, &t, 0, 0), 0);
    for (int i = 0; i < NPKT; i++) {
        f.psntp = (uint16_t)(1000 + i);
        CHECK_INT(pdm_profile_tx_seal(&tx, &s, &t, &pol, 0, PDM_OPT_TYPE, &f, pkt[i], 36), 36);
        kri_of[i] = tx.kri;
        CHECK_INT(kri_of[i], i / 3);
    }

    for (int j = 0; j < n; j++) {
        int i = order[j];
        uint16_t got = 0xFFFF;
        int rv = pdm_profile_rx_open(&rx, &s, &t, pkt[i], 36, PDM_OPT_TYPE, &out, &got);
        if (expect_ok[j]) {
            CHECK_INT(rv, 36);
            CHECK_INT(got, kri_of[i]);
            CHECK_INT(out.fields.psntp, 1000 + i);
            if (rv == 36)
                ok_count++;
        } else {
            CHECK_INT(rv, PDM_ERR_AUTH);
            CHECK(all_zero(&out, sizeof out));
        }
    }
    CHECK_INT(ok_count, n - 1);
    CHECK_INT(rx.auth_failures, 1);
    CHECK_INT(rx.kri, 26);

    /* Beyond the window: Kri 26 + 17 (other parity, 9th candidate ahead)
     * and 26 + 18 (same parity, 9th ahead) are refused ... */
    {
        struct pdm_profile_tx far;
        uint8_t o1[36], o2[36];
        uint16_t got;
        memset(&far, 0, sizeof far);
        CHECK_INT(pdm_profile_tx_start(&far, &s, &t, 26 + 2 * PDM_KRI_WINDOW + 1, 0), 0);
        CHECK_INT(pdm_profile_tx_seal(&far, &s, &t, NULL, 0, PDM_OPT_TYPE, &f, o1, 36), 36);
        pdm_profile_tx_clear(&far);
        CHECK_INT(pdm_profile_tx_start(&far, &s, &t, 26 + 2 * PDM_KRI_WINDOW + 2, 0), 0);
        CHECK_INT(pdm_profile_tx_seal(&far, &s, &t, NULL, 0, PDM_OPT_TYPE, &f, o2, 36), 36);
        pdm_profile_tx_clear(&far);
        CHECK_INT(pdm_profile_rx_open(&rx, &s, &t, o1, 36, PDM_OPT_TYPE, &out, &got), PDM_ERR_AUTH);
        CHECK_INT(pdm_profile_rx_open(&rx, &s, &t, o2, 36, PDM_OPT_TYPE, &out, &got), PDM_ERR_AUTH);
        CHECK_INT(rx.kri, 26);
        CHECK_INT(rx.auth_failures, 3);
        /* ... while the window's last candidates open: 26 + 15, and then
         * (from 41) 41 + 16. */
        CHECK_INT(pdm_profile_tx_start(&far, &s, &t, 26 + 2 * PDM_KRI_WINDOW - 1, 0), 0);
        CHECK_INT(pdm_profile_tx_seal(&far, &s, &t, NULL, 0, PDM_OPT_TYPE, &f, o1, 36), 36);
        pdm_profile_tx_clear(&far);
        CHECK_INT(pdm_profile_rx_open(&rx, &s, &t, o1, 36, PDM_OPT_TYPE, &out, &got), 36);
        CHECK_INT(got, 41);
        CHECK_INT(pdm_profile_tx_start(&far, &s, &t, 41 + 2 * PDM_KRI_WINDOW, 0), 0);
        CHECK_INT(pdm_profile_tx_seal(&far, &s, &t, NULL, 0, PDM_OPT_TYPE, &f, o1, 36), 36);
        pdm_profile_tx_clear(&far);
        CHECK_INT(pdm_profile_rx_open(&rx, &s, &t, o1, 36, PDM_OPT_TYPE, &out, &got), 36);
        CHECK_INT(got, 57);
        CHECK(rx.cur != NULL && rx.cur->kri == 57 && rx.prev == NULL);
    }

    /* The other direction's options never open here. */
    {
        struct pdm_flow_tuple r = t;
        struct pdm_profile_tx back;
        uint8_t o[36];
        memcpy(r.src, t.dst, 16);
        memcpy(r.dst, t.src, 16);
        r.sport = t.dport;
        r.dport = t.sport;
        memset(&back, 0, sizeof back);
        CHECK_INT(pdm_profile_tx_start(&back, &s, &r, 57, 0), 0);
        CHECK_INT(pdm_profile_tx_seal(&back, &s, &r, NULL, 0, PDM_OPT_TYPE, &f, o, 36), 36);
        CHECK_INT(pdm_profile_rx_open(&rx, &s, &t, o, 36, PDM_OPT_TYPE, &out, NULL), PDM_ERR_AUTH);
        pdm_profile_tx_clear(&back);
    }
    pdm_profile_rx_clear(&rx);
    CHECK(all_zero(&rx, sizeof rx));
    pdm_profile_tx_clear(&tx);
    pdm_profile_secret_wipe(&s);
}

/* The receiver keeps the previous key: late packets of the last rotation
 * open with one AEAD try and no derivation. */
static void test_rx_cache(void)
{
    struct pdm_profile_secret s;
    struct pdm_flow_tuple t;
    struct pdm_profile_tx tx;
    struct pdm_profile_rx rx;
    struct pdm_profile_policy pol = {2, 0};
    struct pdm_fields f;
    struct pdm_option out;
    uint8_t p[6][36];
    const struct pdm_profile_key *k1;

    CHECK_INT(make_secret(&s, PDM_HPKE_AEAD_AES_128_GCM), 0);
    test_tuple(&t);
    memset(&tx, 0, sizeof tx);
    memset(&rx, 0, sizeof rx);
    memset(&f, 0, sizeof f);
    CHECK_INT(pdm_profile_tx_start(&tx, &s, &t, 0, 0), 0);
    for (int i = 0; i < 6; i++)
        CHECK_INT(pdm_profile_tx_seal(&tx, &s, &t, &pol, 0, PDM_OPT_TYPE, &f, p[i], 36), 36);
    CHECK_INT(pdm_profile_rx_open(&rx, &s, &t, p[0], 36, PDM_OPT_TYPE, &out, NULL), 36);
    CHECK(rx.cur != NULL && rx.cur->kri == 0 && rx.prev == NULL);
    CHECK_INT(pdm_profile_rx_open(&rx, &s, &t, p[2], 36, PDM_OPT_TYPE, &out, NULL), 36);
    CHECK(rx.cur != NULL && rx.cur->kri == 1 && rx.prev != NULL && rx.prev->kri == 0);
    k1 = rx.cur;
    CHECK_INT(pdm_profile_rx_open(&rx, &s, &t, p[1], 36, PDM_OPT_TYPE, &out, NULL), 36);
    CHECK_INT(pdm_profile_rx_open(&rx, &s, &t, p[4], 36, PDM_OPT_TYPE, &out, NULL), 36);
    CHECK(rx.cur->kri == 2 && rx.prev == k1); /* the old current key moved, not re-derived */
    CHECK_INT(pdm_profile_rx_open(&rx, &s, &t, p[3], 36, PDM_OPT_TYPE, &out, NULL), 36);
    /* Two rotations back is out of reach. */
    CHECK_INT(pdm_profile_rx_open(&rx, &s, &t, p[0], 36, PDM_OPT_TYPE, &out, NULL), PDM_ERR_AUTH);
    /* A receiver told the Kri derives the previous key when it needs it. */
    pdm_profile_rx_init(&rx, 2);
    CHECK(rx.cur == NULL && rx.prev == NULL && rx.auth_failures == 0);
    CHECK_INT(pdm_profile_rx_open(&rx, &s, &t, p[2], 36, PDM_OPT_TYPE, &out, NULL), 36);
    CHECK(rx.prev != NULL && rx.prev->kri == 1 && rx.cur == NULL && rx.kri == 2);
    pdm_profile_rx_clear(&rx);
    pdm_profile_tx_clear(&tx);
    pdm_profile_secret_wipe(&s);
}

/* ------------------------------------------------------------------------ */
/* Key log lines                                                            */

static void test_keylog_round_trip(void)
{
    struct pdm_keylog_entry e, back;
    char line[PDM_KEYLOG_LINE_MAX], why[128];
    int n;

    memset(&e, 0, sizeof e);
    e.kind = PDM_KEYLOG_SECRET;
    inet_pton(AF_INET6, "2001:db8::1", e.client);
    inet_pton(AF_INET6, "fe80::2f0:e161:af37:f86c", e.server);
    e.client_plen = e.server_plen = 128;
    e.suite = PDM_PROFILE_SUITE_DEFAULT;
    for (int i = 0; i < 32; i++)
        e.salt[i] = (uint8_t)(i * 7);
    for (int i = 0; i < 32; i++)
        e.secret[i] = (uint8_t)(255 - i);
    e.secret_len = 32;
    n = pdm_keylog_format_line(&e, line, sizeof line);
    CHECK(n > 0 && (size_t)n == strlen(line));
    {
        const char *want = "PDMV2_SECRET 2001:db8::1 fe80::2f0:e161:af37:f86c 0020-0001-0001 "
                           "00070e151c";
        CHECK(strncmp(line, want, strlen(want)) == 0);
    }
    CHECK_INT(pdm_keylog_parse_line(line, (size_t)n, &back, why, sizeof why), 1);
    CHECK_MEM(&back, &e, sizeof e);
    CHECK_INT(pdm_keylog_format_line(&e, line, (size_t)n), PDM_ERR_NOBUF);
    CHECK_INT(pdm_keylog_format_line(&e, line, (size_t)n + 1), n);

    /* A primary pair: client prefix, server prefix, SHA-512 secret. */
    e.kind = PDM_KEYLOG_PRIMARY;
    memset(e.client, 0, 16);
    inet_pton(AF_INET6, "fd00:1::", e.client);
    e.client_plen = 32;
    inet_pton(AF_INET6, "2001:db8:8000::", e.server);
    e.server_plen = 33;
    e.suite.kem_id = PDM_HPKE_KEM_P521_SHA512;
    e.suite.kdf_id = PDM_HPKE_KDF_HKDF_SHA512;
    e.suite.aead_id = PDM_HPKE_AEAD_AES_256_GCM;
    for (int i = 0; i < 64; i++)
        e.secret[i] = (uint8_t)(i + 1);
    e.secret_len = 64;
    n = pdm_keylog_format_line(&e, line, sizeof line);
    {
        const char *want = "PDMV2_PRIMARY fd00:1::/32 2001:db8:8000::/33 0012-0003-0002 ";
        CHECK(n > 0 && strncmp(line, want, strlen(want)) == 0);
    }
    CHECK_INT(pdm_keylog_parse_line(line, (size_t)n, &back, why, sizeof why), 1);
    CHECK_MEM(&back, &e, sizeof e);
    /* A PRIMARY server given as one address prints without /128. */
    e.server_plen = 128;
    inet_pton(AF_INET6, "2001:db8::5", e.server);
    n = pdm_keylog_format_line(&e, line, sizeof line);
    CHECK(n > 0 && strstr(line, " 2001:db8::5 0012") != NULL);
    CHECK_INT(pdm_keylog_parse_line(line, (size_t)n, &back, why, sizeof why), 1);
    CHECK_MEM(&back, &e, sizeof e);

    /* Matching. */
    {
        uint8_t c[16], sv[16];
        inet_pton(AF_INET6, "fd00:1:ffff::9", c);
        inet_pton(AF_INET6, "2001:db8::5", sv);
        CHECK_INT(pdm_keylog_match(&e, c, sv), 1);
        c[3] ^= 0x80; /* fd00:1 -> fd00:8001: outside /32 */
        CHECK_INT(pdm_keylog_match(&e, c, sv), 0);
        c[3] ^= 0x80;
        sv[15] = 6;
        CHECK_INT(pdm_keylog_match(&e, c, sv), 0);
    }
    /* Bad entries are not formatted. */
    e.secret_len = 32;
    CHECK_INT(pdm_keylog_format_line(&e, line, sizeof line), PDM_ERR_INVAL);
    e.secret_len = 64;
    e.client_plen = 129;
    CHECK_INT(pdm_keylog_format_line(&e, line, sizeof line), PDM_ERR_INVAL);
    pdm_keylog_entry_wipe(&e);
    pdm_keylog_entry_wipe(&back);
}

static void test_keylog_text(void)
{
    static const char S[] = "80eff76c81d4e9ab304d4896f9e17fd8f0816496da087a3ebecc676aaa2c5d8c";
    static const char K[] = "8d3b583bad38c275f34aed056ad6ea8eeca4192fa1feb9dc4b1ebe55e5b8f9b6";
    static const char S62[] = "80eff76c81d4e9ab304d4896f9e17fd8f0816496da087a3ebecc676aaa2c5d";
    static const char SX[] = "x0eff76c81d4e9ab304d4896f9e17fd8f0816496da087a3ebecc676aaa2c5d8c";
    struct pdm_keylog_entry e;
    char line[512], why[160];
    /* A line is head, then " salt" and " secret" when given, then tail. */
    const struct {
        const char *head, *salt, *secret, *tail;
        int rv;
        const char *why;
    } cases[] = {
        {"", NULL, NULL, "", 0, ""},
        {"   \t ", NULL, NULL, "", 0, ""},
        {"# a comment", NULL, NULL, "", 0, ""},
        {"  # indented comment", NULL, NULL, "\r\n", 0, ""},
        {"PDMV2_SECRET 2001:db8::1 2001:db8::2 0020-0001-0001", S, K, "", 1, ""},
        {"PDMV2_SECRET\t2001:db8::1  2001:db8::2\t0020-0001-0001", S, K, " # note\r\n", 1, ""},
        {"PDMV2_PRIMARY fd00::/8 2001:db8::/32 0020-0001-0003", S, K, "\n", 1, ""},
        {"PDMV2_PRIMARY ::/0 2001:db8::9 0020-0001-0001", S, K, "", 1, ""},
        {"PDMV2_SECRET 2001:db8::1 2001:db8::2 0020-0001-0001", S, NULL, "", PDM_ERR_MALFORMED,
         "5 fields, want 6"},
        {"PDMV2_SECRET 2001:db8::1 2001:db8::2 0020-0001-0001", S, K, " extra", PDM_ERR_MALFORMED,
         "more than 6 fields"},
        {"CLIENT_RANDOM 2001:db8::1 2001:db8::2 0020-0001-0001", S, K, "", PDM_ERR_MALFORMED,
         "field 1 (label): unknown label"},
        {"pdmv2_secret 2001:db8::1 2001:db8::2 0020-0001-0001", S, K, "", PDM_ERR_MALFORMED,
         "unknown label"},
        {"PDMV2_SECRET 2001:db8::g 2001:db8::2 0020-0001-0001", S, K, "", PDM_ERR_MALFORMED,
         "field 2 (client): '2001:db8::g' is not an IPv6 address"},
        {"PDMV2_SECRET 192.0.2.1 2001:db8::2 0020-0001-0001", S, K, "", PDM_ERR_MALFORMED,
         "is not an IPv6 address"},
        {"PDMV2_SECRET 2001:db8::1/128 2001:db8::2 0020-0001-0001", S, K, "", PDM_ERR_MALFORMED,
         "field 2 (client): an address is needed here, not a prefix"},
        {"PDMV2_PRIMARY fd00:: 2001:db8::2 0020-0001-0001", S, K, "", PDM_ERR_MALFORMED,
         "field 2 (client): a prefix/len is needed here"},
        {"PDMV2_PRIMARY fd00::/129 2001:db8::2 0020-0001-0001", S, K, "", PDM_ERR_MALFORMED,
         "prefix length '129' is not 0..128"},
        {"PDMV2_PRIMARY fd00::/ 2001:db8::2 0020-0001-0001", S, K, "", PDM_ERR_MALFORMED,
         "prefix length '' is not 0..128"},
        {"PDMV2_PRIMARY fd00::1/64 2001:db8::2 0020-0001-0001", S, K, "", PDM_ERR_MALFORMED,
         "field 2 (client): bits set past the /64 prefix"},
        {"PDMV2_PRIMARY fd00::/8 2001:db8::/x 0020-0001-0001", S, K, "", PDM_ERR_MALFORMED,
         "field 3 (server): prefix length 'x' is not 0..128"},
        {"PDMV2_SECRET 2001:db8::1 2001:db8::2 0020-0001", S, K, "", PDM_ERR_MALFORMED,
         "field 4 (suite): '0020-0001' is not kem-kdf-aead"},
        {"PDMV2_SECRET 2001:db8::1 2001:db8::2 0020-0001-00z1", S, K, "", PDM_ERR_MALFORMED,
         "field 4 (suite): '0020-0001-00z1' is not kem-kdf-aead"},
        {"PDMV2_SECRET 2001:db8::1 2001:db8::2 0020-0001-ffff", S, K, "", PDM_ERR_UNSUPPORTED,
         "field 4 (suite): 0020-0001-ffff is not usable for PDM data"},
        {"PDMV2_SECRET 2001:db8::1 2001:db8::2 0020-0009-0001", S, K, "", PDM_ERR_UNSUPPORTED,
         "not usable"},
        {"PDMV2_SECRET 2001:db8::1 2001:db8::2 0020-0003-0001", S, K, "", PDM_ERR_MALFORMED,
         "field 6 (secret): 64 hex digits, want 128"},
        {"PDMV2_SECRET 2001:db8::1 2001:db8::2 0020-0001-0001", S62, K, "", PDM_ERR_MALFORMED,
         "field 5 (salt): 62 hex digits, want 64"},
        {"PDMV2_SECRET 2001:db8::1 2001:db8::2 0020-0001-0001", SX, K, "", PDM_ERR_MALFORMED,
         "field 5 (salt): not hex (0-9, a-f, A-F)"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = snprintf(line, sizeof line, "%s%s%s%s%s%s", cases[i].head, cases[i].salt ? " " : "",
                         cases[i].salt ? cases[i].salt : "", cases[i].secret ? " " : "",
                         cases[i].secret ? cases[i].secret : "", cases[i].tail);
        int rv;
        memset(why, 'Z', sizeof why);
        rv = pdm_keylog_parse_line(line, (size_t)n, &e, why, sizeof why);
        CHECK_INT(rv, cases[i].rv);
        if (rv != cases[i].rv)
            fprintf(stderr, "  keylog case %zu: %s -> %s\n", i, line, why);
        if (cases[i].rv < 0) {
            CHECK(strstr(why, cases[i].why) != NULL);
            CHECK(all_zero(&e, sizeof e));
            if (strstr(why, cases[i].why) == NULL)
                fprintf(stderr, "  keylog case %zu: reason '%s', want '%s'\n", i, why,
                        cases[i].why);
        } else {
            CHECK(why[0] == '\0');
        }
        if (rv == 1) {
            uint8_t want[32];
            CHECK(h_unhex(want, sizeof want, K) == 32);
            CHECK(e.secret_len == 32);
            CHECK_MEM(e.secret, want, 32);
        }
    }
    /* A NUL or a line break inside a line is refused. */
    memcpy(line, "PDMV2_SECRET\0x", 14);
    CHECK_INT(pdm_keylog_parse_line(line, 14, &e, why, sizeof why), PDM_ERR_MALFORMED);
    CHECK(strstr(why, "NUL") != NULL);
    CHECK_INT(pdm_keylog_parse_line("# a\nPDMV2_SECRET", 16, &e, why, sizeof why), 0);
    CHECK_INT(pdm_keylog_parse_line("x\ny", 3, &e, why, sizeof why), PDM_ERR_MALFORMED);
    CHECK(strstr(why, "line break") != NULL);
    CHECK_INT(pdm_keylog_parse_line(NULL, 0, &e, why, sizeof why), PDM_ERR_INVAL);
    /* why may be NULL. */
    CHECK_INT(pdm_keylog_parse_line("bogus", 5, &e, NULL, 0), PDM_ERR_MALFORMED);
}

/* A parsed PDMV2_SECRET line is the secret: with the vector's values it
 * reproduces the vector's option. */
static void test_keylog_to_secret(void)
{
    json_t *doc = load_vectors();
    const json_t *v = json_array_get(json_object_get(doc, "options"), 0);
    struct pdm_keylog_entry e;
    struct pdm_profile_secret s;
    struct pdm_profile_key k;
    struct pdm_option out;
    struct optvec o;
    char line[PDM_KEYLOG_LINE_MAX];

    CHECK(read_optvec(v, &o) == 0);
    snprintf(line, sizeof line, "PDMV2_SECRET %s %s %s %s %s", vec_str(v, "src"), vec_str(v, "dst"),
             vec_str(v, "suite"), vec_str(v, "salt"), vec_str(v, "shared_secret"));
    CHECK_INT(pdm_keylog_parse_line(line, strlen(line), &e, NULL, 0), 1);
    CHECK_INT(pdm_profile_secret_init(&s, e.suite, e.salt, sizeof e.salt, e.secret, e.secret_len),
              0);
    CHECK_INT(pdm_keylog_match(&e, o.t.src, o.t.dst), 1);
    CHECK_INT(pdm_profile_key_init(&k, &s, &o.t, o.kri), 0);
    CHECK_INT(pdm_profile_open(&k, o.option, 36, PDM_OPT_TYPE, &out), 36);
    CHECK(fields_equal(&out.fields, &o.fields));
    pdm_profile_key_clear(&k);
    pdm_profile_secret_wipe(&s);
    pdm_profile_secret_wipe(&o.secret);
    pdm_keylog_entry_wipe(&e);
    json_decref(doc);
}

int main(void)
{
    RUN(test_suite_text);
    RUN(test_secret_args);
    RUN(test_flow_info_ports);
    RUN(test_option_vectors);
    RUN(test_client_secret_vectors);
    RUN(test_bit_flips);
    RUN(test_wrong_parity);
    RUN(test_api_errors);
    RUN(test_rn_cycle);
    RUN(test_rotation_policy);
    RUN(test_kri_exhaustion);
    RUN(test_rx_follows);
    RUN(test_rx_cache);
    RUN(test_keylog_round_trip);
    RUN(test_keylog_text);
    RUN(test_keylog_to_secret);
    return harness_done();
}
