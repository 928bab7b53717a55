/*
 * Helpers shared by the tests that read known-answer vectors from JSON
 * (the JSON files in tests/vectors/): hex fields, and a check that a computed value
 * equals a vector's hex field byte for byte. Include after harness.h.
 */
#ifndef PDM_TEST_VECTORS_H
#define PDM_TEST_VECTORS_H

#include "common/json.h"

/* Largest hex field any vector file holds, in bytes. */
#define VEC_FIELD_MAX 4096

/* Decodes the hex string field `key` of o into out; bytes, or -1 when it
 * is missing, not hex, or longer than cap. */
static inline long get_hex(const struct json *o, const char *key, uint8_t *out, size_t cap)
{
    const char *s = json_str(json_get(o, key));
    return s ? h_unhex(out, cap, s) : -1;
}

/* A get_hex() result as a length: 0 for a missing field. */
static inline size_t ulen(long n)
{
    return n < 0 ? 0 : (size_t)n;
}

/* The hex field `name` of vector v equals got[0..n). */
#define CHECK_FIELD(v, name, got, n)                                                               \
    do {                                                                                           \
        static uint8_t cf_want[VEC_FIELD_MAX];                                                     \
        long cf_n = get_hex((v), (name), cf_want, sizeof cf_want);                                 \
        CHECK_INT(cf_n, (long)(n));                                                                \
        if (cf_n == (long)(n))                                                                     \
            CHECK_MEM(got, cf_want, (size_t)(n));                                                  \
    } while (0)

#endif /* PDM_TEST_VECTORS_H */
