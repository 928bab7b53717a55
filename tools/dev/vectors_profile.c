/*
 * pdm vectors: the PDMv2 profile's vector object (docs/profile.md, the
 * format of tests/vectors/pdmv2-profile-vectors.json), section by section:
 * "scaling" (time scaling, profile §2), "options" (every derived value
 * and the three option/header encodings), "client_secrets" (primary to
 * client secret) and "registrations" (whole registrations through the
 * real client and server state machines, pdm_reg_vector_run).
 */
#include "dev/dev.h"

#include <pdm/codec.h>
#include <pdm/hpke.h>
#include <pdm/profile.h>
#include <pdm/reg.h>
#include <pdm/time.h>

#include "reg_vector.h" /* lib-private: the known-answer replay */

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ---- scaling -------------------------------------------------------------- */

/* A decimal string (attoseconds may exceed 64 bits) into *out. */
static int parse_u128(const char *s, pdm_u128 *out)
{
    const pdm_u128 max = ~(pdm_u128)0;
    pdm_u128 v = 0;

    if (s == NULL || *s == '\0')
        return -1;
    for (; *s; s++) {
        unsigned d;
        if (*s < '0' || *s > '9')
            return -1;
        d = (unsigned)(*s - '0');
        if (v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static void u128_text(pdm_u128 v, char out[48])
{
    char tmp[48];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + (unsigned)(v % 10));
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

/*
 * A field as u128: an integer >= 0, or a decimal string, which is how the
 * profile's file writes attoseconds (they may exceed 64 bits, and jansson
 * refuses a file with an integer above 2^63 - 1). -1 for anything else.
 */
static int get_u128(const json_t *v, const char *key, pdm_u128 *out)
{
    const json_t *j = json_object_get(v, key);

    if (json_is_integer(j)) {
        if (json_integer_value(j) < 0)
            return -1;
        *out = (pdm_u128)json_integer_value(j);
        return 0;
    }
    return parse_u128(json_string_value(j), out);
}

static void check_uint(struct dev_run *r, const json_t *v, const char *key, uint64_t got)
{
    uint64_t want;

    if (dev_get_uint(v, key, UINT64_MAX, &want) != 0)
        dev_fail(r, key, "expected value missing or not an integer, got %" PRIu64, got);
    else if (want != got)
        dev_fail(r, key, "expected %" PRIu64 ", got %" PRIu64, want, got);
    else
        dev_pass(r);
}

/*
 * Time scaling (profile §2): (delta, scale) of nanoseconds and of
 * attoseconds (which must agree when both are given), and the attoseconds
 * that (delta, scale) stands for, each computed from the inputs alone.
 */
static void scaling_vector(struct dev_run *r, const json_t *v)
{
    pdm_u128 as, dec, want, ns = 0;
    uint16_t d = 0, d2;
    uint8_t sc = 0, sc2;
    char a[48], b[48];
    int have_ns = json_object_get(v, "nanoseconds") != NULL;
    int have_as = json_object_get(v, "attoseconds") != NULL;

    /* Nanoseconds go up to 2^64 - 1: above 2^63 - 1 only as a string. */
    if (have_ns && (get_u128(v, "nanoseconds", &ns) != 0 || ns > UINT64_MAX)) {
        dev_bad_input(r, "nanoseconds", "is not an integer below 2^64 (a number or a string)");
        return;
    }
    if (have_as && get_u128(v, "attoseconds", &as) != 0) {
        dev_bad_input(r, "attoseconds", "is not a decimal integer below 2^128");
        return;
    }
    if (have_ns)
        pdm_time_encode_ns((uint64_t)ns, &d, &sc);
    if (have_as) {
        pdm_time_encode_as(as, &d2, &sc2);
        if (have_ns && (d2 != d || sc2 != sc)) {
            dev_fail(r, "attoseconds", "encodes to (%u, %u) but nanoseconds to (%u, %u)", d2, sc2,
                     d, sc);
            return;
        }
        d = d2;
        sc = sc2;
    }
    if (!have_ns && !have_as) {
        dev_bad_input(r, "nanoseconds/attoseconds", "both missing");
        return;
    }
    check_uint(r, v, "delta", d);
    check_uint(r, v, "scale", sc);
    if (json_object_get(v, "decoded_attoseconds") == NULL)
        return;
    dec = pdm_time_decode_as(d, sc);
    u128_text(dec, b);
    if (get_u128(v, "decoded_attoseconds", &want) != 0) {
        dev_fail(r, "decoded_attoseconds", "expected (missing or not a decimal integer), got %s",
                 b);
    } else if (want != dec) {
        u128_text(want, a);
        dev_fail(r, "decoded_attoseconds", "expected %s, got %s", a, b);
    } else {
        dev_pass(r);
    }
}

/* ---- options ------------------------------------------------------------ */

/* The fields object of an options vector. */
static int get_fields(const json_t *v, struct pdm_fields *f)
{
    const json_t *fl = json_object_get(v, "fields");
    uint64_t x[7];
    static const char *const names[7] = {"scale_dtlr", "scale_dtls", "global_pointer", "psntp",
                                         "psnlr",      "delta_tlr",  "delta_tls"};
    static const uint64_t max[7] = {0xFF, 0xFF, 0xFFFFFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF};

    for (int i = 0; i < 7; i++)
        if (dev_get_uint(fl, names[i], max[i], &x[i]) != 0)
            return -1;
    f->scale_dtlr = (uint8_t)x[0];
    f->scale_dtls = (uint8_t)x[1];
    f->global_pointer = (uint32_t)x[2];
    f->psntp = (uint16_t)x[3];
    f->psnlr = (uint16_t)x[4];
    f->delta_tlr = (uint16_t)x[5];
    f->delta_tls = (uint16_t)x[6];
    return 0;
}

static int fields_equal(const struct pdm_fields *a, const struct pdm_fields *b)
{
    return a->scale_dtlr == b->scale_dtlr && a->scale_dtls == b->scale_dtls &&
           a->global_pointer == b->global_pointer && a->psntp == b->psntp && a->psnlr == b->psnlr &&
           a->delta_tlr == b->delta_tlr && a->delta_tls == b->delta_tls;
}

static int get_addr(const json_t *v, const char *key, uint8_t out[16])
{
    const char *s = json_string_value(json_object_get(v, key));

    return s != NULL && inet_pton(AF_INET6, s, out) == 1 ? 0 : -1;
}

static int get_suite(const json_t *v, const char *key, struct pdm_hpke_suite *s)
{
    const char *t = json_string_value(json_object_get(v, key));

    return t != NULL && pdm_suite_parse(t, s) == 0 ? 0 : -1;
}

/* Checks an option's encoding and the header built around it. */
static void check_encoding(struct dev_run *r, const json_t *v, const char *opt_key,
                           const char *hdr_key, const struct pdm_option *o, uint8_t nh)
{
    uint8_t opt[PDM_OPTSIZE_MAX], hdr[PDM_HDRSIZE_V2_ENC];
    ssize_t n = pdm_option_encode(opt, sizeof opt, o), h;

    if (n < 0) {
        dev_fail_err(r, opt_key, "encoding", (int)n);
        return;
    }
    dev_check_hex(r, v, opt_key, opt, (size_t)n);
    if ((h = pdm_dstopt_build(hdr, sizeof hdr, nh, opt, (size_t)n)) < 0) {
        dev_fail_err(r, hdr_key, "building the header", (int)h);
        return;
    }
    dev_check_hex(r, v, hdr_key, hdr, (size_t)h);
}

static void options_vector(struct dev_run *r, const json_t *v)
{
    uint8_t ss[DEV_VBUF], salt[DEV_VBUF], stk[PDM_HPKE_NK_MAX], bn[PDM_HPKE_NN_MAX],
        nonce[PDM_HPKE_NN_MAX];
    uint8_t info[PDM_PROFILE_FLOW_INFO_SIZE], sealed[PDM_OPTSIZE_V2_ENC];
    uint8_t want[DEV_VBUF], hdr[PDM_HDRSIZE_V2_ENC];
    struct pdm_profile_secret secret;
    struct pdm_profile_key key;
    struct pdm_hpke_suite suite;
    struct pdm_flow_tuple t;
    struct pdm_option o, opened;
    uint64_t sport, dport, proto, kri, rn, f;
    long ss_n, salt_n, wn;
    ssize_t h;
    int rv;

    memset(&t, 0, sizeof t);
    memset(&o, 0, sizeof o);
    memset(&key, 0, sizeof key);
    ss_n = dev_get_hex(v, "shared_secret", ss, sizeof ss);
    salt_n = dev_get_hex(v, "salt", salt, sizeof salt);
    if (get_suite(v, "suite", &suite) != 0 || ss_n < 0 || salt_n < 0 ||
        get_addr(v, "src", t.src) != 0 || get_addr(v, "dst", t.dst) != 0 ||
        dev_get_uint(v, "sport", 0xFFFF, &sport) != 0 ||
        dev_get_uint(v, "dport", 0xFFFF, &dport) != 0 ||
        dev_get_uint(v, "protocol", 0xFF, &proto) != 0 ||
        dev_get_uint(v, "kri", PDM_KRI_MAX, &kri) != 0 ||
        dev_get_uint(v, "rn", PDM_RN_MAX, &rn) != 0 || dev_get_uint(v, "f", 1, &f) != 0 ||
        get_fields(v, &o.fields) != 0) {
        dev_bad_input(r, "inputs",
                      "(suite, shared_secret, salt, src, sport, dst, dport, protocol, "
                      "kri, rn, f, fields) missing or out of range");
        return;
    }
    t.sport = (uint16_t)sport;
    t.dport = (uint16_t)dport;
    t.proto = (uint8_t)proto;
    o.type = PDM_OPT_TYPE;
    o.rn = (uint16_t)rn;
    o.f = (uint8_t)f;

    /* The clear encodings need no key. */
    o.format = PDM_FORMAT_RFC8250;
    check_encoding(r, v, "rfc8250_option", "rfc8250_dest_opts_header", &o, t.proto);
    o.format = PDM_FORMAT_V2;
    check_encoding(r, v, "unencrypted_option", "unencrypted_dest_opts_header", &o, t.proto);

    pdm_profile_flow_info(&t, (uint16_t)kri, info);
    dev_check_hex(r, v, "flow_info", info, sizeof info);
    if ((rv = pdm_profile_secret_init(&secret, suite, salt, (size_t)salt_n, ss, (size_t)ss_n)) !=
        0) {
        dev_fail_err(r, "prk", "preparing the secret (suite, salt, shared_secret)", rv);
        return;
    }
    dev_check_hex(r, v, "prk", secret.prk, secret.nh);
    if ((rv = pdm_profile_derive(&secret, &t, (uint16_t)kri, stk, secret.nk, bn, secret.nn)) != 0) {
        dev_fail_err(r, "stk", "deriving STK and BaseNonce", rv);
        goto out;
    }
    dev_check_hex(r, v, "stk", stk, secret.nk);
    dev_check_hex(r, v, "base_nonce", bn, secret.nn);
    if ((rv = pdm_profile_key_init(&key, &secret, &t, (uint16_t)kri)) != 0) {
        dev_fail_err(r, "encrypted_option", "keying the AEAD", rv);
        goto out;
    }
    if (rn == 0) {
        dev_bad_input(r, "rn", "is 0 (an encrypted option has RN 1..32767)");
        goto out;
    }
    if ((rv = pdm_profile_key_nonce(&key, (uint16_t)rn, nonce, sizeof nonce)) < 0) {
        dev_fail_err(r, "nonce", "computing the nonce", rv);
        goto out;
    }
    dev_check_hex(r, v, "nonce", nonce, secret.nn);
    if (f != (kri & 1)) {
        dev_fail(r, "f", "the vector has F %" PRIu64 " but F is always Kri mod 2 (Kri %" PRIu64 ")",
                 f, kri);
        goto out;
    }
    if ((rv = pdm_profile_seal(&key, PDM_OPT_TYPE, (uint16_t)rn, &o.fields, sealed,
                               sizeof sealed)) < 0) {
        dev_fail_err(r, "encrypted_option", "sealing", rv);
        goto out;
    }
    dev_check_hex(r, v, "encrypted_option", sealed, sizeof sealed);
    if ((h = pdm_dstopt_build(hdr, sizeof hdr, t.proto, sealed, sizeof sealed)) < 0)
        dev_fail_err(r, "encrypted_dest_opts_header", "building the header", (int)h);
    else
        dev_check_hex(r, v, "encrypted_dest_opts_header", hdr, (size_t)h);

    /* Opening gives the fields back: the vector's bytes when they are what
     * we sealed, else (that failure is reported above) our own, so that
     * each altered expected value costs exactly one check. */
    wn = dev_get_hex(v, "encrypted_option", want, sizeof want);
    if (wn != PDM_OPTSIZE_V2_ENC || memcmp(want, sealed, sizeof sealed) != 0)
        memcpy(want, sealed, sizeof sealed);
    rv = pdm_profile_open(&key, want, sizeof sealed, PDM_OPT_TYPE, &opened);
    if (rv < 0)
        dev_fail(r, "encrypted_option (open)", "expected the fields, got %s", pdm_strerror(rv));
    else if (!fields_equal(&opened.fields, &o.fields) || opened.rn != rn || opened.f != f)
        dev_fail(r, "encrypted_option (open)", "opened to other fields");
    else
        dev_pass(r);
out:
    pdm_profile_key_clear(&key);
    pdm_profile_secret_wipe(&secret);
    pdm_memzero(ss, sizeof ss);
    pdm_memzero(stk, sizeof stk);
}

/* ---- client secrets ----------------------------------------------------- */

static void client_secret_vector(struct dev_run *r, const json_t *v)
{
    uint8_t ps[DEV_VBUF], salt[DEV_VBUF], client[16], cs[PDM_HPKE_NH_MAX];
    long ps_n = dev_get_hex(v, "primary_secret", ps, sizeof ps);
    long salt_n = dev_get_hex(v, "salt", salt, sizeof salt);
    struct pdm_profile_primary p;
    struct pdm_hpke_suite suite;
    int rv;

    if (get_suite(v, "suite", &suite) != 0 || ps_n < 0 || salt_n < 0 ||
        get_addr(v, "client", client) != 0) {
        dev_bad_input(r, "inputs", "(suite, primary_secret, salt, client) missing or malformed");
        return;
    }
    if ((rv = pdm_profile_primary_init(&p, suite, salt, (size_t)salt_n, ps, (size_t)ps_n)) != 0) {
        dev_fail_err(r, "client_secret", "preparing the primary secret", rv);
        return;
    }
    if ((rv = pdm_profile_primary_client(&p, client, cs, p.nh)) != 0)
        dev_fail_err(r, "client_secret", "deriving", rv);
    else
        dev_check_hex(r, v, "client_secret", cs, p.nh);
    pdm_profile_primary_wipe(&p);
    pdm_memzero(ps, sizeof ps);
    pdm_memzero(cs, sizeof cs);
}

/* ---- registrations ------------------------------------------------------ */

static void registration_vector(struct dev_run *r, const json_t *v)
{
    uint8_t ikmR[DEV_VBUF], ikmE[DEV_VBUF], ikmS[DEV_VBUF], psk[DEV_VBUF], psk_id[DEV_VBUF],
        salt[DEV_VBUF];
    struct pdm_hpke_suite offered[PDM_REG_SUITES_MAX];
    const json_t *off = json_object_get(v, "offered");
    struct pdm_reg_vector_in in;
    struct pdm_reg_transcript t;
    struct pdm_hpke_suite suite;
    long ikmR_n, ikmE_n, ikmS_n, psk_n, psk_id_n, salt_n;
    uint64_t mode;
    int rv, auth;

    memset(&in, 0, sizeof in);
    ikmR_n = dev_get_hex(v, "ikmR", ikmR, sizeof ikmR);
    ikmE_n = dev_get_hex(v, "ikmE", ikmE, sizeof ikmE);
    ikmS_n = dev_get_hex(v, "ikmS", ikmS, sizeof ikmS);
    psk_n = dev_get_hex(v, "psk", psk, sizeof psk);
    psk_id_n = dev_get_hex(v, "psk_id", psk_id, sizeof psk_id);
    salt_n = dev_get_hex(v, "salt", salt, sizeof salt);
    if (dev_get_uint(v, "mode", 3, &mode) != 0 || get_suite(v, "suite", &suite) != 0 ||
        ikmR_n < 0 || ikmE_n < 0 || salt_n != PDM_REG_SALT_SIZE || json_array_size(off) == 0 ||
        json_array_size(off) > PDM_REG_SUITES_MAX) {
        dev_bad_input(r, "inputs", "(mode, suite, offered, ikmR, ikmE, salt) missing or malformed");
        return;
    }
    for (size_t i = 0; i < json_array_size(off); i++) {
        const char *s = json_string_value(json_array_get(off, i));
        if (s == NULL || pdm_suite_parse(s, &offered[i]) != 0) {
            dev_bad_input(r, "offered", "holds something that is not a suite");
            return;
        }
    }
    auth = mode == PDM_HPKE_MODE_AUTH || mode == PDM_HPKE_MODE_AUTH_PSK;
    in.mode = (uint8_t)mode;
    in.offered = offered;
    in.noffered = json_array_size(off);
    in.server_suite = suite;
    in.ikm_r = ikmR;
    in.ikm_r_len = (size_t)ikmR_n;
    in.ikm_e = ikmE;
    in.ikm_e_len = (size_t)ikmE_n;
    if (auth) {
        if (ikmS_n <= 0) {
            dev_bad_input(r, "ikmS", "missing (auth mode)");
            return;
        }
        in.ikm_s = ikmS;
        in.ikm_s_len = (size_t)ikmS_n;
    }
    if (mode == PDM_HPKE_MODE_PSK || mode == PDM_HPKE_MODE_AUTH_PSK) {
        if (psk_n <= 0 || psk_id_n <= 0) {
            dev_bad_input(r, "psk/psk_id", "missing (psk mode)");
            return;
        }
        in.psk = psk;
        in.psk_len = (size_t)psk_n;
        in.psk_id = psk_id;
        in.psk_id_len = (size_t)psk_id_n;
    }
    in.salt = salt;
    if ((rv = pdm_reg_vector_run(&in, &t)) != 0) {
        dev_fail_err(r, "registration", "running the registration", rv);
        return;
    }
    if (memcmp(&t.suite, &suite, sizeof suite) != 0) {
        char a[PDM_SUITE_TEXT_SIZE], b[PDM_SUITE_TEXT_SIZE];
        pdm_suite_format(suite, a);
        pdm_suite_format(t.suite, b);
        dev_fail(r, "suite", "expected %s, got %s", a, b);
    } else {
        dev_pass(r);
    }
    dev_check_hex(r, v, "skR", t.sk_r, t.sk_r_len);
    dev_check_hex(r, v, "pkR", t.pk_r, t.pk_r_len);
    if (auth)
        dev_check_hex(r, v, "pkS", t.pk_s, t.pk_s_len);
    dev_check_hex(r, v, "client_hello", t.client_hello, t.client_hello_len);
    dev_check_hex(r, v, "server_hello", t.server_hello, t.server_hello_len);
    dev_check_hex(r, v, "info", t.info, sizeof t.info);
    dev_check_hex(r, v, "enc", t.enc, t.enc_len);
    dev_check_hex(r, v, "client_key", t.client_key, t.client_key_len);
    dev_check_hex(r, v, "shared_secret", t.shared_secret, t.shared_secret_len);
    dev_check_hex(r, v, "confirm", t.confirm, sizeof t.confirm);
    dev_check_hex(r, v, "status_ok", t.status_ok, sizeof t.status_ok);
    pdm_reg_transcript_wipe(&t);
    pdm_memzero(psk, sizeof psk);
}

/* ---- the sections ------------------------------------------------------- */

void dev_vectors_profile(struct dev_run *r, const json_t *doc)
{
    static const struct {
        const char *name;
        void (*fn)(struct dev_run *, const json_t *);
    } sections[] = {
        {"scaling", scaling_vector},
        {"options", options_vector},
        {"client_secrets", client_secret_vector},
        {"registrations", registration_vector},
    };

    for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++) {
        const json_t *list = json_object_get(doc, sections[s].name);
        if (list == NULL)
            continue;
        r->section = sections[s].name;
        if (!json_is_array(list)) {
            r->index = 0;
            dev_fail(r, "(section)", "is not an array");
            continue;
        }
        for (size_t i = 0; i < json_array_size(list); i++) {
            r->index = i;
            sections[s].fn(r, json_array_get(list, i));
        }
    }
}
