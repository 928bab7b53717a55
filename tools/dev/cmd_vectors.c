/*
 * pdm vectors: checks known-answer vector files against this build.
 *
 *   pdm vectors FILE...
 *
 * Two formats are recognised by their shape:
 *
 *   - an array of RFC 9180 test vectors (Appendix A's JSON, as published
 *     with the RFC): each is replayed through lib/hpke.c: DeriveKeyPair,
 *     Encap with the fixed ikmE, Decap, the key schedule, every encryption
 *     and every export;
 *   - the profile's vector object (docs/profile.md; sections "scaling",
 *     "options", "client_secrets", "registrations"): time scaling, every
 *     derived value and the three option/header encodings of each option,
 *     client secrets, and whole registrations through the real client and
 *     server state machines (pdm_reg_vector_run).
 *
 * Every expected value is recomputed from the vector's inputs only, so an
 * altered expected value shows up as exactly that field failing. One line
 * per failure on stdout ("FILE: section[i]: field: expected X, got Y"),
 * then "N passed, N failed" (N counts checked values). Exit status 0 when
 * all pass, 1 on any failure or a file that cannot be read or is of
 * neither format, 2 on a usage error.
 */
#include "common/json.h"
#include "common/tools.h"
#include "reg_vector.h"

#include <pdm/codec.h>
#include <pdm/hpke.h>
#include <pdm/profile.h>
#include <pdm/time.h>

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: pdm vectors FILE...\n"
    "\n"
    "Checks every known answer in each FILE against this build: an array of\n"
    "RFC 9180 HPKE test vectors, or the PDMv2 profile's vector object\n"
    "(sections scaling, options, client_secrets, registrations). Prints one\n"
    "line per failure, then \"N passed, N failed\"; exits 1 on any failure.\n"
    "See pdm-vectors(8).\n";

/* Largest value of any vector field we read (hex bytes). */
#define VBUF 512
/* The most sequence numbers one RFC 9180 encryption may ask us to step. */
#define SEQ_STEP_MAX 1000000u

/* Where the checks are: file, section, vector index; and the tallies. */
struct run {
    const char *file;
    const char *section;
    size_t index;
    long passed, failed;
};

static void print_hex_to(FILE *f, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
}

static void where(const struct run *r)
{
    printf("%s: %s[%zu]: ", r->file, r->section, r->index);
}

/* A failure in words (for values that are not byte strings). */
static void fail_text(struct run *r, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail_text(struct run *r, const char *field, const char *fmt, ...)
{
    va_list ap;

    r->failed++;
    where(r);
    printf("%s: ", field);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static void pass(struct run *r)
{
    r->passed++;
}

/* Reads hex field `key` of v into out; -1 when absent or not hex. */
static long get_hex(const struct json *v, const char *key, uint8_t *out, size_t cap)
{
    const char *s = json_str(json_get(v, key));

    if (s == NULL)
        return -1;
    return tool_unhex(out, cap, s);
}

/* An unsigned integer field at most max; -1 when absent or out of range. */
static int get_uint(const struct json *v, const char *key, uint64_t max, uint64_t *out)
{
    uint64_t x;

    if (json_u64(json_get(v, key), &x) != 0 || x > max)
        return -1;
    *out = x;
    return 0;
}

/* Checks got[0..n) against the hex field `key` of v (field name printed as
 * `label`, which may add a note to key). */
static void check_hex_as(struct run *r, const struct json *v, const char *key, const char *label,
                         const uint8_t *got, size_t n)
{
    uint8_t want[VBUF];
    long wn = get_hex(v, key, want, sizeof want);

    if (wn >= 0 && (size_t)wn == n && memcmp(want, got, n) == 0) {
        pass(r);
        return;
    }
    r->failed++;
    where(r);
    printf("%s: expected ", label);
    if (wn < 0)
        printf("(missing or not hex)");
    else
        print_hex_to(stdout, want, (size_t)wn);
    printf(", got ");
    print_hex_to(stdout, got, n);
    putchar('\n');
}

static void check_hex(struct run *r, const struct json *v, const char *key, const uint8_t *got,
                      size_t n)
{
    check_hex_as(r, v, key, key, got, n);
}

/* An input field that is missing or malformed: the vector cannot run. */
static void bad_input(struct run *r, const char *field, const char *what)
{
    fail_text(r, field, "input %s", what);
}

static void fail_err(struct run *r, const char *field, const char *step, int err)
{
    fail_text(r, field, "%s failed: %s", step, pdm_strerror(err));
}

/* ------------------------------------------------------------------------ */
/* RFC 9180 vectors                                                         */

/* A fresh sender and receiver context pair for the vector (SetupS/SetupR). */
static int hpke_setup(const struct pdm_hpke_params *ps, const struct pdm_hpke_params *pr,
                      const struct pdm_hpke_key *pkR, const struct pdm_hpke_key *skR,
                      const struct pdm_hpke_eph *eph, struct pdm_hpke_ctx *cs,
                      struct pdm_hpke_ctx *cr, uint8_t *enc, size_t enc_cap)
{
    int n = pdm_hpke_setup_s(cs, ps, pkR, eph, enc, enc_cap);

    if (n < 0)
        return n;
    return pdm_hpke_setup_r(cr, pr, skR, enc, (size_t)n);
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

static void hpke_vector(struct run *r, const struct json *v)
{
    uint8_t ikmE[VBUF], ikmR[VBUF], ikmS[VBUF], info[VBUF], psk[VBUF], psk_id[VBUF];
    uint8_t enc[VBUF], ss[VBUF], ksc[VBUF], secret[VBUF], buf[VBUF];
    long ikmE_n, ikmR_n, ikmS_n = 0, info_n, psk_n = 0, psk_id_n = 0;
    struct pdm_hpke_key skR, pkR, skS, pkS, skE;
    struct pdm_hpke_ctx cs, cr;
    struct pdm_hpke_sizes sz;
    struct pdm_hpke_params ps, pr;
    struct pdm_hpke_eph eph;
    struct pdm_hpke_suite suite;
    const struct json *list;
    uint64_t kem, kdf, aead, mode;
    int auth, n, rv, have_ctx = 0;

    memset(&cs, 0, sizeof cs);
    memset(&cr, 0, sizeof cr);
    memset(&skR, 0, sizeof skR);
    memset(&skS, 0, sizeof skS);
    memset(&skE, 0, sizeof skE);
    if (get_uint(v, "kem_id", 0xFFFF, &kem) || get_uint(v, "kdf_id", 0xFFFF, &kdf) ||
        get_uint(v, "aead_id", 0xFFFF, &aead) || get_uint(v, "mode", 3, &mode)) {
        bad_input(r, "kem_id/kdf_id/aead_id/mode", "missing or out of range");
        return;
    }
    suite.kem_id = (uint16_t)kem;
    suite.kdf_id = (uint16_t)kdf;
    suite.aead_id = (uint16_t)aead;
    if ((rv = pdm_hpke_suite_sizes(suite, &sz)) != 0) {
        fail_text(r, "suite", "%04x-%04x-%04x: %s", suite.kem_id, suite.kdf_id, suite.aead_id,
                  pdm_strerror(rv));
        return;
    }
    auth = mode == PDM_HPKE_MODE_AUTH || mode == PDM_HPKE_MODE_AUTH_PSK;
    ikmE_n = get_hex(v, "ikmE", ikmE, sizeof ikmE);
    ikmR_n = get_hex(v, "ikmR", ikmR, sizeof ikmR);
    info_n = get_hex(v, "info", info, sizeof info);
    if (ikmE_n < 0 || ikmR_n < 0 || info_n < 0) {
        bad_input(r, "ikmE/ikmR/info", "missing or not hex");
        return;
    }
    if (auth && (ikmS_n = get_hex(v, "ikmS", ikmS, sizeof ikmS)) < 0) {
        bad_input(r, "ikmS", "missing or not hex (auth mode)");
        return;
    }
    if (mode == PDM_HPKE_MODE_PSK || mode == PDM_HPKE_MODE_AUTH_PSK) {
        psk_n = get_hex(v, "psk", psk, sizeof psk);
        psk_id_n = get_hex(v, "psk_id", psk_id, sizeof psk_id);
        if (psk_n < 0 || psk_id_n < 0) {
            bad_input(r, "psk/psk_id", "missing or not hex (psk mode)");
            return;
        }
    }

    /* DeriveKeyPair (§7.1.3). */
    if ((rv = pdm_hpke_keygen(suite.kem_id, ikmR, (size_t)ikmR_n, &skR)) != 0) {
        fail_err(r, "skRm", "DeriveKeyPair(ikmR)", rv);
        goto out;
    }
    check_hex(r, v, "skRm", skR.sk, sz.nsk);
    check_hex(r, v, "pkRm", skR.pk, sz.npk);
    if ((rv = pdm_hpke_keygen(suite.kem_id, ikmE, (size_t)ikmE_n, &skE)) != 0) {
        fail_err(r, "skEm", "DeriveKeyPair(ikmE)", rv);
        goto out;
    }
    check_hex(r, v, "skEm", skE.sk, sz.nsk);
    check_hex(r, v, "pkEm", skE.pk, sz.npk);
    if (auth) {
        if ((rv = pdm_hpke_keygen(suite.kem_id, ikmS, (size_t)ikmS_n, &skS)) != 0) {
            fail_err(r, "skSm", "DeriveKeyPair(ikmS)", rv);
            goto out;
        }
        check_hex(r, v, "skSm", skS.sk, sz.nsk);
        check_hex(r, v, "pkSm", skS.pk, sz.npk);
        if ((rv = pdm_hpke_pubkey_deserialize(suite.kem_id, skS.pk, sz.npk, &pkS)) != 0) {
            fail_err(r, "pkSm", "DeserializePublicKey", rv);
            goto out;
        }
    }
    if ((rv = pdm_hpke_pubkey_deserialize(suite.kem_id, skR.pk, sz.npk, &pkR)) != 0) {
        fail_err(r, "pkRm", "DeserializePublicKey", rv);
        goto out;
    }

    /* Encap with the fixed ikmE, then Decap of what it made (§4.1). */
    memset(&eph, 0, sizeof eph);
    eph.ikm = ikmE;
    eph.ikm_len = (size_t)ikmE_n;
    if ((rv = pdm_hpke_encap(&pkR, auth ? &skS : NULL, &eph, enc, sizeof enc, ss, sizeof ss)) !=
        0) {
        fail_err(r, "enc", "Encap", rv);
        goto out;
    }
    check_hex(r, v, "enc", enc, sz.nenc);
    check_hex(r, v, "shared_secret", ss, sz.nsecret);
    if ((rv = pdm_hpke_decap(&skR, auth ? &pkS : NULL, enc, sz.nenc, buf, sizeof buf)) != 0)
        fail_err(r, "shared_secret (decap)", "Decap", rv);
    else if (memcmp(buf, ss, sz.nsecret) != 0)
        fail_text(r, "shared_secret (decap)", "Decap disagrees with Encap");
    else
        pass(r);

    /* Key schedule (§5.1): key_schedule_context, secret, key. */
    ksc[0] = (uint8_t)mode;
    if ((rv = pdm_hpke_labeled_extract(suite, NULL, 0, "psk_id_hash", psk_id, (size_t)psk_id_n,
                                       ksc + 1, sz.nh)) != 0 ||
        (rv = pdm_hpke_labeled_extract(suite, NULL, 0, "info_hash", info, (size_t)info_n,
                                       ksc + 1 + sz.nh, sz.nh)) != 0 ||
        (rv = pdm_hpke_labeled_extract(suite, ss, sz.nsecret, "secret", psk, (size_t)psk_n, secret,
                                       sz.nh)) != 0) {
        fail_err(r, "key_schedule_context", "LabeledExtract", rv);
        goto out;
    }
    check_hex(r, v, "key_schedule_context", ksc, 1 + 2 * sz.nh);
    check_hex(r, v, "secret", secret, sz.nh);

    memset(&ps, 0, sizeof ps);
    ps.suite = suite;
    ps.mode = (enum pdm_hpke_mode)mode;
    ps.info = info;
    ps.info_len = (size_t)info_n;
    if (psk_n > 0) {
        ps.psk = psk;
        ps.psk_len = (size_t)psk_n;
        ps.psk_id = psk_id;
        ps.psk_id_len = (size_t)psk_id_n;
    }
    pr = ps;
    ps.sender = auth ? &skS : NULL;
    pr.sender = auth ? &pkS : NULL;
    if ((rv = hpke_setup(&ps, &pr, &pkR, &skR, &eph, &cs, &cr, buf, sizeof buf)) != 0) {
        fail_err(r, "key", "SetupS/SetupR", rv);
        goto out;
    }
    have_ctx = 1;
    if (sz.nk != 0)
        check_hex(r, v, "key", cs.key, sz.nk);
    if (sz.nn != 0)
        check_hex(r, v, "base_nonce", cs.base_nonce, sz.nn);
    check_hex(r, v, "exporter_secret", cs.exporter_secret, sz.nh);
    if (memcmp(cs.key, cr.key, sizeof cs.key) != 0 ||
        memcmp(cs.base_nonce, cr.base_nonce, sizeof cs.base_nonce) != 0 ||
        memcmp(cs.exporter_secret, cr.exporter_secret, sizeof cs.exporter_secret) != 0)
        fail_text(r, "key (receiver)", "SetupR's context differs from SetupS's");
    else
        pass(r);

    /* Every encryption (§5.2), stepping both contexts to its sequence. */
    list = json_get(v, "encryptions");
    for (size_t i = 0; i < json_len(list); i++) {
        const struct json *e = json_at(list, i);
        uint8_t pt[VBUF], aad[VBUF], ct[VBUF], nonce[PDM_HPKE_NN_MAX], back[VBUF];
        long pt_n = get_hex(e, "pt", pt, sizeof pt), aad_n = get_hex(e, "aad", aad, sizeof aad);
        char label[64];
        uint64_t seq;

        snprintf(label, sizeof label, "encryptions[%zu].ct", i);
        if (get_uint(e, "sequence number", UINT64_MAX, &seq) != 0 || pt_n < 0 || aad_n < 0 ||
            (size_t)pt_n + sz.nt > sizeof ct) {
            bad_input(r, label, "(sequence number, pt, aad) missing or malformed");
            continue;
        }
        if (seq < cs.seq) { /* going back: start over */
            pdm_hpke_ctx_free(&cs);
            pdm_hpke_ctx_free(&cr);
            if ((rv = hpke_setup(&ps, &pr, &pkR, &skR, &eph, &cs, &cr, buf, sizeof buf)) != 0) {
                fail_err(r, label, "SetupS/SetupR", rv);
                goto out;
            }
        }
        if (seq - cs.seq > SEQ_STEP_MAX) {
            fail_text(r, label, "sequence number %" PRIu64 " is too far to step to", seq);
            continue;
        }
        while (cs.seq < seq && (rv = hpke_step(&cs, &cr)) == 0)
            ;
        if (cs.seq != seq) {
            fail_err(r, label, "stepping to the sequence number", rv);
            continue;
        }
        /* nonce = base_nonce XOR I2OSP(seq, Nn) (§5.2) */
        if (sz.nn != 0 && json_get(e, "nonce") != NULL) {
            char nlabel[64];
            memcpy(nonce, cs.base_nonce, sz.nn);
            for (size_t b = 0; b < 8 && b < sz.nn; b++)
                nonce[sz.nn - 1 - b] ^= (uint8_t)(seq >> (8 * b));
            snprintf(nlabel, sizeof nlabel, "encryptions[%zu].nonce", i);
            check_hex_as(r, e, "nonce", nlabel, nonce, sz.nn);
        }
        n = pdm_hpke_ctx_seal(&cs, aad, (size_t)aad_n, pt, (size_t)pt_n, ct, sizeof ct);
        if (n < 0) {
            fail_err(r, label, "Seal", n);
            continue;
        }
        check_hex_as(r, e, "ct", label, ct, (size_t)n);
        n = pdm_hpke_ctx_open(&cr, aad, (size_t)aad_n, ct, (size_t)n, back, sizeof back);
        snprintf(label, sizeof label, "encryptions[%zu].pt", i);
        if (n != pt_n || memcmp(back, pt, (size_t)pt_n) != 0)
            fail_text(r, label, "Open of the sealed message did not give pt back (%s)",
                      n < 0 ? pdm_strerror(n) : "different bytes");
        else
            pass(r);
    }

    /* Every export (§5.3), on both sides. */
    list = json_get(v, "exports");
    for (size_t i = 0; i < json_len(list); i++) {
        const struct json *e = json_at(list, i);
        uint8_t c[VBUF], out1[VBUF], out2[VBUF];
        long c_n = get_hex(e, "exporter_context", c, sizeof c);
        char label[64];
        uint64_t L;

        snprintf(label, sizeof label, "exports[%zu].exported_value", i);
        if (c_n < 0 || get_uint(e, "L", sizeof out1, &L) != 0 || L == 0) {
            bad_input(r, label, "(exporter_context, L) missing or malformed");
            continue;
        }
        if ((rv = pdm_hpke_ctx_export(&cs, c, (size_t)c_n, out1, (size_t)L)) != 0 ||
            (rv = pdm_hpke_ctx_export(&cr, c, (size_t)c_n, out2, (size_t)L)) != 0) {
            fail_err(r, label, "Export", rv);
            continue;
        }
        check_hex_as(r, e, "exported_value", label, out1, (size_t)L);
        if (memcmp(out1, out2, (size_t)L) != 0)
            fail_text(r, label, "the receiver exports another value");
    }
out:
    if (have_ctx) {
        pdm_hpke_ctx_free(&cs);
        pdm_hpke_ctx_free(&cr);
    }
    pdm_hpke_key_wipe(&skR);
    pdm_hpke_key_wipe(&skS);
    pdm_hpke_key_wipe(&skE);
    pdm_memzero(ss, sizeof ss);
    pdm_memzero(secret, sizeof secret);
}

static void check_rfc9180(struct run *r, const struct json *doc)
{
    r->section = "vectors";
    for (size_t i = 0; i < json_len(doc); i++) {
        r->index = i;
        hpke_vector(r, json_at(doc, i));
    }
}

/* ------------------------------------------------------------------------ */
/* Profile vectors                                                          */

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

/* A number or decimal-string field as u128 ("attoseconds" are strings). */
static int get_u128(const struct json *v, const char *key, pdm_u128 *out)
{
    const struct json *j = json_get(v, key);
    const char *s = json_type(j) == JSON_STR ? json_str(j) : json_num_text(j);

    return parse_u128(s, out);
}

static void check_uint(struct run *r, const struct json *v, const char *key, uint64_t got)
{
    uint64_t want;

    if (json_u64(json_get(v, key), &want) != 0)
        fail_text(r, key, "expected value missing or not an integer, got %" PRIu64, got);
    else if (want != got)
        fail_text(r, key, "expected %" PRIu64 ", got %" PRIu64, want, got);
    else
        pass(r);
}

/*
 * Time scaling (profile §2): (delta, scale) of nanoseconds and of
 * attoseconds (which must agree when both are given), and the attoseconds
 * that (delta, scale) stands for, each computed from the inputs alone.
 */
static void scaling_vector(struct run *r, const struct json *v)
{
    pdm_u128 as, dec, want;
    uint64_t ns;
    uint16_t d = 0, d2;
    uint8_t sc = 0, sc2;
    char a[48], b[48];
    int have_ns = json_get(v, "nanoseconds") != NULL, have_as = json_get(v, "attoseconds") != NULL;

    if (have_ns && json_u64(json_get(v, "nanoseconds"), &ns) != 0) {
        bad_input(r, "nanoseconds", "is not an integer");
        return;
    }
    if (have_as && get_u128(v, "attoseconds", &as) != 0) {
        bad_input(r, "attoseconds", "is not a decimal integer below 2^128");
        return;
    }
    if (have_ns)
        pdm_time_encode_ns(ns, &d, &sc);
    if (have_as) {
        pdm_time_encode_as(as, &d2, &sc2);
        if (have_ns && (d2 != d || sc2 != sc)) {
            fail_text(r, "attoseconds", "encodes to (%u, %u) but nanoseconds to (%u, %u)", d2, sc2,
                      d, sc);
            return;
        }
        d = d2;
        sc = sc2;
    }
    if (!have_ns && !have_as) {
        bad_input(r, "nanoseconds/attoseconds", "both missing");
        return;
    }
    check_uint(r, v, "delta", d);
    check_uint(r, v, "scale", sc);
    if (json_get(v, "decoded_attoseconds") == NULL)
        return;
    dec = pdm_time_decode_as(d, sc);
    u128_text(dec, b);
    if (get_u128(v, "decoded_attoseconds", &want) != 0) {
        fail_text(r, "decoded_attoseconds", "expected (missing or not a decimal integer), got %s",
                  b);
    } else if (want != dec) {
        u128_text(want, a);
        fail_text(r, "decoded_attoseconds", "expected %s, got %s", a, b);
    } else {
        pass(r);
    }
}

/* The fields object of an options vector. */
static int get_fields(const struct json *v, struct pdm_fields *f)
{
    const struct json *fl = json_get(v, "fields");
    uint64_t x[7];
    static const char *const names[7] = {"scale_dtlr", "scale_dtls", "global_pointer", "psntp",
                                         "psnlr",      "delta_tlr",  "delta_tls"};
    static const uint64_t max[7] = {0xFF, 0xFF, 0xFFFFFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF};

    for (int i = 0; i < 7; i++)
        if (get_uint(fl, names[i], max[i], &x[i]) != 0)
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

static int get_addr(const struct json *v, const char *key, uint8_t out[16])
{
    const char *s = json_str(json_get(v, key));

    return s != NULL && inet_pton(AF_INET6, s, out) == 1 ? 0 : -1;
}

static int get_suite(const struct json *v, const char *key, struct pdm_hpke_suite *s)
{
    const char *t = json_str(json_get(v, key));

    return t != NULL && pdm_suite_parse(t, s) == 0 ? 0 : -1;
}

/* Checks an option's encoding and the header built around it. */
static void check_encoding(struct run *r, const struct json *v, const char *opt_key,
                           const char *hdr_key, const struct pdm_option *o, uint8_t nh)
{
    uint8_t opt[PDM_OPTSIZE_MAX], hdr[PDM_HDRSIZE_V2_ENC];
    ssize_t n = pdm_option_encode(opt, sizeof opt, o), h;

    if (n < 0) {
        fail_err(r, opt_key, "encoding", (int)n);
        return;
    }
    check_hex(r, v, opt_key, opt, (size_t)n);
    if ((h = pdm_dstopt_build(hdr, sizeof hdr, nh, opt, (size_t)n)) < 0) {
        fail_err(r, hdr_key, "building the header", (int)h);
        return;
    }
    check_hex(r, v, hdr_key, hdr, (size_t)h);
}

static void options_vector(struct run *r, const struct json *v)
{
    uint8_t ss[VBUF], salt[VBUF], stk[PDM_HPKE_NK_MAX], bn[PDM_HPKE_NN_MAX], nonce[PDM_HPKE_NN_MAX];
    uint8_t info[PDM_PROFILE_FLOW_INFO_SIZE], sealed[PDM_OPTSIZE_V2_ENC];
    uint8_t want[VBUF], hdr[PDM_HDRSIZE_V2_ENC];
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
    ss_n = get_hex(v, "shared_secret", ss, sizeof ss);
    salt_n = get_hex(v, "salt", salt, sizeof salt);
    if (get_suite(v, "suite", &suite) != 0 || ss_n < 0 || salt_n < 0 ||
        get_addr(v, "src", t.src) != 0 || get_addr(v, "dst", t.dst) != 0 ||
        get_uint(v, "sport", 0xFFFF, &sport) != 0 || get_uint(v, "dport", 0xFFFF, &dport) != 0 ||
        get_uint(v, "protocol", 0xFF, &proto) != 0 || get_uint(v, "kri", PDM_KRI_MAX, &kri) != 0 ||
        get_uint(v, "rn", PDM_RN_MAX, &rn) != 0 || get_uint(v, "f", 1, &f) != 0 ||
        get_fields(v, &o.fields) != 0) {
        bad_input(r, "inputs",
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
    check_hex(r, v, "flow_info", info, sizeof info);
    if ((rv = pdm_profile_secret_init(&secret, suite, salt, (size_t)salt_n, ss, (size_t)ss_n)) !=
        0) {
        fail_err(r, "prk", "preparing the secret (suite, salt, shared_secret)", rv);
        return;
    }
    check_hex(r, v, "prk", secret.prk, secret.nh);
    if ((rv = pdm_profile_derive(&secret, &t, (uint16_t)kri, stk, secret.nk, bn, secret.nn)) != 0) {
        fail_err(r, "stk", "deriving STK and BaseNonce", rv);
        goto out;
    }
    check_hex(r, v, "stk", stk, secret.nk);
    check_hex(r, v, "base_nonce", bn, secret.nn);
    if ((rv = pdm_profile_key_init(&key, &secret, &t, (uint16_t)kri)) != 0) {
        fail_err(r, "encrypted_option", "keying the AEAD", rv);
        goto out;
    }
    if (rn == 0) {
        bad_input(r, "rn", "is 0 (an encrypted option has RN 1..32767)");
        goto out;
    }
    if ((rv = pdm_profile_key_nonce(&key, (uint16_t)rn, nonce, sizeof nonce)) < 0) {
        fail_err(r, "nonce", "computing the nonce", rv);
        goto out;
    }
    check_hex(r, v, "nonce", nonce, secret.nn);
    if (f != (kri & 1)) {
        fail_text(r, "f",
                  "the vector has F %" PRIu64 " but F is always Kri mod 2 (Kri %" PRIu64 ")", f,
                  kri);
        goto out;
    }
    if ((rv = pdm_profile_seal(&key, PDM_OPT_TYPE, (uint16_t)rn, &o.fields, sealed,
                               sizeof sealed)) < 0) {
        fail_err(r, "encrypted_option", "sealing", rv);
        goto out;
    }
    check_hex(r, v, "encrypted_option", sealed, sizeof sealed);
    if ((h = pdm_dstopt_build(hdr, sizeof hdr, t.proto, sealed, sizeof sealed)) < 0)
        fail_err(r, "encrypted_dest_opts_header", "building the header", (int)h);
    else
        check_hex(r, v, "encrypted_dest_opts_header", hdr, (size_t)h);

    /* Opening gives the fields back: the vector's bytes when they are what
     * we sealed, else (that failure is reported above) our own, so that
     * each altered expected value costs exactly one check. */
    wn = get_hex(v, "encrypted_option", want, sizeof want);
    if (wn != PDM_OPTSIZE_V2_ENC || memcmp(want, sealed, sizeof sealed) != 0)
        memcpy(want, sealed, sizeof sealed);
    rv = pdm_profile_open(&key, want, sizeof sealed, PDM_OPT_TYPE, &opened);
    if (rv < 0)
        fail_text(r, "encrypted_option (open)", "expected the fields, got %s", pdm_strerror(rv));
    else if (!fields_equal(&opened.fields, &o.fields) || opened.rn != rn || opened.f != f)
        fail_text(r, "encrypted_option (open)", "opened to other fields");
    else
        pass(r);
out:
    pdm_profile_key_clear(&key);
    pdm_profile_secret_wipe(&secret);
    pdm_memzero(ss, sizeof ss);
    pdm_memzero(stk, sizeof stk);
}

static void client_secret_vector(struct run *r, const struct json *v)
{
    uint8_t ps[VBUF], salt[VBUF], client[16], cs[PDM_HPKE_NH_MAX];
    long ps_n = get_hex(v, "primary_secret", ps, sizeof ps);
    long salt_n = get_hex(v, "salt", salt, sizeof salt);
    struct pdm_profile_primary p;
    struct pdm_hpke_suite suite;
    int rv;

    if (get_suite(v, "suite", &suite) != 0 || ps_n < 0 || salt_n < 0 ||
        get_addr(v, "client", client) != 0) {
        bad_input(r, "inputs", "(suite, primary_secret, salt, client) missing or malformed");
        return;
    }
    if ((rv = pdm_profile_primary_init(&p, suite, salt, (size_t)salt_n, ps, (size_t)ps_n)) != 0) {
        fail_err(r, "client_secret", "preparing the primary secret", rv);
        return;
    }
    if ((rv = pdm_profile_primary_client(&p, client, cs, p.nh)) != 0)
        fail_err(r, "client_secret", "deriving", rv);
    else
        check_hex(r, v, "client_secret", cs, p.nh);
    pdm_profile_primary_wipe(&p);
    pdm_memzero(ps, sizeof ps);
    pdm_memzero(cs, sizeof cs);
}

static void registration_vector(struct run *r, const struct json *v)
{
    uint8_t ikmR[VBUF], ikmE[VBUF], ikmS[VBUF], psk[VBUF], psk_id[VBUF], salt[VBUF];
    struct pdm_hpke_suite offered[PDM_REG_SUITES_MAX];
    const struct json *off = json_get(v, "offered");
    struct pdm_reg_vector_in in;
    struct pdm_reg_transcript t;
    struct pdm_hpke_suite suite;
    long ikmR_n, ikmE_n, ikmS_n, psk_n, psk_id_n, salt_n;
    uint64_t mode;
    int rv, auth;

    memset(&in, 0, sizeof in);
    ikmR_n = get_hex(v, "ikmR", ikmR, sizeof ikmR);
    ikmE_n = get_hex(v, "ikmE", ikmE, sizeof ikmE);
    ikmS_n = get_hex(v, "ikmS", ikmS, sizeof ikmS);
    psk_n = get_hex(v, "psk", psk, sizeof psk);
    psk_id_n = get_hex(v, "psk_id", psk_id, sizeof psk_id);
    salt_n = get_hex(v, "salt", salt, sizeof salt);
    if (get_uint(v, "mode", 3, &mode) != 0 || get_suite(v, "suite", &suite) != 0 || ikmR_n < 0 ||
        ikmE_n < 0 || salt_n != PDM_REG_SALT_SIZE || json_len(off) == 0 ||
        json_len(off) > PDM_REG_SUITES_MAX) {
        bad_input(r, "inputs", "(mode, suite, offered, ikmR, ikmE, salt) missing or malformed");
        return;
    }
    for (size_t i = 0; i < json_len(off); i++) {
        const char *s = json_str(json_at(off, i));
        if (s == NULL || pdm_suite_parse(s, &offered[i]) != 0) {
            bad_input(r, "offered", "holds something that is not a suite");
            return;
        }
    }
    auth = mode == PDM_HPKE_MODE_AUTH || mode == PDM_HPKE_MODE_AUTH_PSK;
    in.mode = (uint8_t)mode;
    in.offered = offered;
    in.noffered = json_len(off);
    in.server_suite = suite;
    in.ikm_r = ikmR;
    in.ikm_r_len = (size_t)ikmR_n;
    in.ikm_e = ikmE;
    in.ikm_e_len = (size_t)ikmE_n;
    if (auth) {
        if (ikmS_n <= 0) {
            bad_input(r, "ikmS", "missing (auth mode)");
            return;
        }
        in.ikm_s = ikmS;
        in.ikm_s_len = (size_t)ikmS_n;
    }
    if (mode == PDM_HPKE_MODE_PSK || mode == PDM_HPKE_MODE_AUTH_PSK) {
        if (psk_n <= 0 || psk_id_n <= 0) {
            bad_input(r, "psk/psk_id", "missing (psk mode)");
            return;
        }
        in.psk = psk;
        in.psk_len = (size_t)psk_n;
        in.psk_id = psk_id;
        in.psk_id_len = (size_t)psk_id_n;
    }
    in.salt = salt;
    if ((rv = pdm_reg_vector_run(&in, &t)) != 0) {
        fail_err(r, "registration", "running the registration", rv);
        return;
    }
    if (memcmp(&t.suite, &suite, sizeof suite) != 0) {
        char a[PDM_SUITE_TEXT_SIZE], b[PDM_SUITE_TEXT_SIZE];
        pdm_suite_format(suite, a);
        pdm_suite_format(t.suite, b);
        fail_text(r, "suite", "expected %s, got %s", a, b);
    } else {
        pass(r);
    }
    check_hex(r, v, "skR", t.sk_r, t.sk_r_len);
    check_hex(r, v, "pkR", t.pk_r, t.pk_r_len);
    if (auth)
        check_hex(r, v, "pkS", t.pk_s, t.pk_s_len);
    check_hex(r, v, "client_hello", t.client_hello, t.client_hello_len);
    check_hex(r, v, "server_hello", t.server_hello, t.server_hello_len);
    check_hex(r, v, "info", t.info, sizeof t.info);
    check_hex(r, v, "enc", t.enc, t.enc_len);
    check_hex(r, v, "client_key", t.client_key, t.client_key_len);
    check_hex(r, v, "shared_secret", t.shared_secret, t.shared_secret_len);
    check_hex(r, v, "confirm", t.confirm, sizeof t.confirm);
    check_hex(r, v, "status_ok", t.status_ok, sizeof t.status_ok);
    pdm_reg_transcript_wipe(&t);
    pdm_memzero(psk, sizeof psk);
}

static void check_profile(struct run *r, const struct json *doc)
{
    static const struct {
        const char *name;
        void (*fn)(struct run *, const struct json *);
    } sections[] = {
        {"scaling", scaling_vector},
        {"options", options_vector},
        {"client_secrets", client_secret_vector},
        {"registrations", registration_vector},
    };

    for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++) {
        const struct json *list = json_get(doc, sections[s].name);
        if (list == NULL)
            continue;
        r->section = sections[s].name;
        if (json_type(list) != JSON_ARR) {
            r->index = 0;
            fail_text(r, "(section)", "is not an array");
            continue;
        }
        for (size_t i = 0; i < json_len(list); i++) {
            r->index = i;
            sections[s].fn(r, json_at(list, i));
        }
    }
}

/* ------------------------------------------------------------------------ */

static int is_profile_doc(const struct json *doc)
{
    return json_type(doc) == JSON_OBJ &&
           (json_get(doc, "scaling") != NULL || json_get(doc, "options") != NULL ||
            json_get(doc, "client_secrets") != NULL || json_get(doc, "registrations") != NULL);
}

static int is_rfc9180_doc(const struct json *doc)
{
    return json_type(doc) == JSON_ARR && json_len(doc) > 0 &&
           json_get(json_at(doc, 0), "kem_id") != NULL;
}

int cmd_vectors(int argc, char **argv)
{
    struct run r;
    int bad_file = 0;

    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return 0;
        }
    }
    memset(&r, 0, sizeof r);
    for (int i = 1; i < argc; i++) {
        char err[256];
        struct json *doc = json_load_file(argv[i], err, sizeof err);

        if (doc == NULL) {
            tool_err("vectors: %s: %s", argv[i], err);
            bad_file = 1;
            continue;
        }
        r.file = argv[i];
        if (is_rfc9180_doc(doc)) {
            check_rfc9180(&r, doc);
        } else if (is_profile_doc(doc)) {
            check_profile(&r, doc);
        } else {
            tool_err("vectors: %s: neither an array of RFC 9180 vectors nor a profile vector "
                     "object (with scaling, options, client_secrets or registrations)",
                     argv[i]);
            bad_file = 1;
        }
        json_free(doc);
    }
    printf("%ld passed, %ld failed\n", r.passed, r.failed);
    return r.failed || bad_file ? 1 : 0;
}
