/*
 * Helpers shared by the tests that read JSON with jansson: the known-answer
 * vectors (the JSON files in tests/vectors/) and the JSON the tools print
 * (agent records, `pdm analyze --format json`). Hex fields, integer
 * fields, and a check that a computed value equals a vector's hex field
 * byte for byte. Include after harness.h.
 *
 * Numbers. jansson keeps an integer as a json_int_t (long long, 64 bits
 * here) and a number with a fraction or an exponent as a double. Nothing
 * is truncated or rounded silently:
 *   - an integer beyond the range of json_int_t makes jansson refuse the
 *     whole document ("too big integer", with line and column), so
 *     vec_load() fails and the test that loads it fails;
 *   - vec_u64() accepts only an integer that is >= 0, so a value written
 *     as 1.0, 1e3 or -1 fails the check that reads it;
 *   - values that may exceed 64 bits (the attoseconds of the scaling
 *     vectors, up to 2^128) are decimal strings in the vector files and are
 *     parsed as strings (tests/test_time.c).
 * The largest integer the vector files hold is 8581747781261 (a scaling
 * vector's nanoseconds), far below INT64_MAX; none has a fraction.
 * Duplicate keys are refused (JSON_REJECT_DUPLICATES), so a test never
 * reads one of two different values, and so are strings holding \u0000
 * (jansson's default), which C strings would cut short.
 */
#ifndef PDM_TEST_VECTORS_H
#define PDM_TEST_VECTORS_H

#include <errno.h>
#include <jansson.h>

/* Largest hex field any vector file holds, in bytes. */
#define VEC_FIELD_MAX 4096

/* Parses a whole JSON file; NULL (after printing why, with line and
 * column for a parse error, on stderr) when it cannot be read or parsed.
 * Duplicate keys are refused: a vector must not say two things. */
static inline json_t *vec_load(const char *path)
{
    json_error_t e;
    FILE *f = fopen(path, "r");
    json_t *doc;

    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return NULL;
    }
    doc = json_loadf(f, JSON_REJECT_DUPLICATES, &e);
    fclose(f);
    if (doc == NULL)
        fprintf(stderr, "%s:%d:%d: %s\n", path, e.line, e.column, e.text);
    return doc;
}

/* Parses text[0..len) (e.g. a line a tool printed); NULL after printing
 * jansson's message on stderr. */
static inline json_t *vec_parse(const char *text, size_t len)
{
    json_error_t e;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);

    if (doc == NULL)
        fprintf(stderr, "JSON:%d:%d: %s in %.*s\n", e.line, e.column, e.text, (int)len, text);
    return doc;
}

/* The string member `key` of object o; NULL when o is not an object, has
 * no such member, or it is not a string. */
static inline const char *vec_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* 0 and *out when member `key` of o is an integer >= 0; -1 when it is
 * missing, negative or not an integer (a real such as 1.0 is not). */
static inline int vec_u64(const json_t *o, const char *key, uint64_t *out)
{
    const json_t *j = json_object_get(o, key);

    if (!json_is_integer(j) || json_integer_value(j) < 0)
        return -1;
    *out = (uint64_t)json_integer_value(j);
    return 0;
}

/* Decodes the hex string field `key` of o into out; bytes, or -1 when it
 * is missing, not hex, or longer than cap. */
static inline long get_hex(const json_t *o, const char *key, uint8_t *out, size_t cap)
{
    const char *s = vec_str(o, key);
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
