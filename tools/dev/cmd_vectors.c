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
 *     and every export (vectors_hpke.c);
 *   - the profile's vector object (docs/profile.md; sections "scaling",
 *     "options", "client_secrets", "registrations"): time scaling, every
 *     derived value and the three option/header encodings of each option,
 *     client secrets, and whole registrations through the real client and
 *     server state machines (pdm_reg_vector_run) (vectors_profile.c).
 *
 * Every expected value is recomputed from the vector's inputs only, so an
 * altered expected value shows up as exactly that field failing. One line
 * per failure on stdout ("FILE: section[i]: field: expected X, got Y"),
 * then "N passed, N failed" (N counts checked values). Exit status 0 when
 * all pass, 1 on any failure or a file that cannot be read or is of
 * neither format, 2 on a usage error.
 *
 * This file: the command, reading the files (jansson), and the checks
 * and tallies both formats use.
 *
 * Numbers: jansson keeps integers as json_int_t (64-bit signed) and
 * refuses a document holding a larger one ("too big integer"): such a
 * file is reported as unreadable, with a hint, never read truncated.
 * Integer fields refuse reals (1.0, 1e3) and negatives. The values that
 * may not fit (attoseconds, up to 2^128; nanoseconds, up to 2^64 - 1) are
 * also read from decimal strings, as the profile's file writes attoseconds.
 */
#include "dev/dev.h"

#include "common/tools.h"

#include <errno.h>
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

/* ---- checks and tallies -------------------------------------------------- */

static void print_hex_to(FILE *f, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
}

static void where(const struct dev_run *r)
{
    printf("%s: %s[%zu]: ", r->file, r->section, r->index);
}

void dev_pass(struct dev_run *r)
{
    r->passed++;
}

void dev_fail(struct dev_run *r, const char *field, const char *fmt, ...)
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

void dev_fail_err(struct dev_run *r, const char *field, const char *step, int err)
{
    dev_fail(r, field, "%s failed: %s", step, pdm_strerror(err));
}

void dev_bad_input(struct dev_run *r, const char *field, const char *what)
{
    dev_fail(r, field, "input %s", what);
}

long dev_get_hex(const json_t *v, const char *key, uint8_t *out, size_t cap)
{
    const char *s = json_string_value(json_object_get(v, key));

    if (s == NULL)
        return -1;
    return tool_unhex(out, cap, s);
}

int dev_get_uint(const json_t *v, const char *key, uint64_t max, uint64_t *out)
{
    const json_t *j = json_object_get(v, key);
    json_int_t x;

    if (!json_is_integer(j) || (x = json_integer_value(j)) < 0 || (uint64_t)x > max)
        return -1;
    *out = (uint64_t)x;
    return 0;
}

void dev_check_hex_as(struct dev_run *r, const json_t *v, const char *key, const char *label,
                      const uint8_t *got, size_t n)
{
    uint8_t want[DEV_VBUF];
    long wn = dev_get_hex(v, key, want, sizeof want);

    if (wn >= 0 && (size_t)wn == n && memcmp(want, got, n) == 0) {
        dev_pass(r);
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

void dev_check_hex(struct dev_run *r, const json_t *v, const char *key, const uint8_t *got,
                   size_t n)
{
    dev_check_hex_as(r, v, key, key, got, n);
}

/* ---- files --------------------------------------------------------------- */

/* Reads and parses a file; NULL after printing why (with line and column
 * for a parse error). Duplicate keys are refused: a vector must not say
 * two things. The file is opened here so that a missing file is told
 * with errno's words rather than jansson's. */
static json_t *load(const char *path)
{
    json_error_t e;
    FILE *f = fopen(path, "r");
    json_t *doc;

    if (f == NULL) {
        tool_err("vectors: %s: %s", path, strerror(errno));
        return NULL;
    }
    doc = json_loadf(f, JSON_REJECT_DUPLICATES, &e);
    fclose(f);
    if (doc == NULL)
        tool_err("vectors: %s: line %d, column %d: %s%s", path, e.line, e.column, e.text,
                 strstr(e.text, "too big integer") != NULL
                     ? " (write integers above 2^63 - 1, such as attoseconds, as decimal strings)"
                     : "");
    return doc;
}

static int is_profile_doc(const json_t *doc)
{
    return json_is_object(doc) &&
           (json_object_get(doc, "scaling") != NULL || json_object_get(doc, "options") != NULL ||
            json_object_get(doc, "client_secrets") != NULL ||
            json_object_get(doc, "registrations") != NULL);
}

static int is_rfc9180_doc(const json_t *doc)
{
    return json_is_array(doc) && json_array_size(doc) > 0 &&
           json_object_get(json_array_get(doc, 0), "kem_id") != NULL;
}

/* Checks one file; -1 when it cannot be read or is of neither format. */
static int check_file(struct dev_run *r, const char *path)
{
    json_t *doc = load(path);
    int rv = 0;

    if (doc == NULL)
        return -1;
    r->file = path;
    if (is_rfc9180_doc(doc)) {
        dev_vectors_rfc9180(r, doc);
    } else if (is_profile_doc(doc)) {
        dev_vectors_profile(r, doc);
    } else {
        tool_err("vectors: %s: neither an array of RFC 9180 vectors nor a profile vector "
                 "object (with scaling, options, client_secrets or registrations)",
                 path);
        rv = -1;
    }
    json_decref(doc);
    return rv;
}

int cmd_vectors(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct dev_run r;
    int c, bad_file = 0;

    optind = 0; /* glibc: start afresh, argv[0] is "vectors" */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return 0;
        }
        tool_getopt_error("vectors", c, argv, opts);
        return 2;
    }
    if (optind == argc) {
        fputs(usage, stderr);
        return 2;
    }
    memset(&r, 0, sizeof r);
    for (int i = optind; i < argc; i++)
        if (check_file(&r, argv[i]) != 0)
            bad_file = 1;
    printf("%ld passed, %ld failed\n", r.passed, r.failed);
    return r.failed || bad_file ? 1 : 0;
}
