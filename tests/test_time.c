/* Tests for time scaling (lib/time.c): profile vectors and edge cases. */
#include "harness.h"
#include "vectors.h"

#include <pdm/time.h>

#define U128_MAX (~(pdm_u128)0)

/* Parses a decimal string into *out; -1 on a non-digit, empty or overflow. */
static int parse_u128(const char *s, pdm_u128 *out)
{
    pdm_u128 v = 0;
    if (!s || !*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (U128_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Writes v in decimal into buf (at least 40 bytes); returns buf. */
static char *fmt_u128(char *buf, pdm_u128 v)
{
    char tmp[40];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = 0;
    return buf;
}

#define CHECK_U128(a, b)                                                                           \
    do {                                                                                           \
        pdm_u128 c_a = (a), c_b = (b);                                                             \
        char c_x[40], c_y[40], c_msg[160];                                                         \
        snprintf(c_msg, sizeof c_msg, "%s == %s (%s != %s)", #a, #b, fmt_u128(c_x, c_a),           \
                 fmt_u128(c_y, c_b));                                                              \
        h_report(c_a == c_b, __FILE__, __LINE__, c_msg);                                           \
    } while (0)

static void test_parser(void)
{
    pdm_u128 v = 1;
    char buf[40];
    CHECK_INT(parse_u128("0", &v), 0);
    CHECK_U128(v, 0);
    CHECK_INT(parse_u128("340282366920938463463374607431768211455", &v), 0);
    CHECK_U128(v, U128_MAX);
    CHECK(strcmp(fmt_u128(buf, v), "340282366920938463463374607431768211455") == 0);
    CHECK_INT(parse_u128("340282366920938463463374607431768211456", &v), -1);
    CHECK_INT(parse_u128("12a", &v), -1);
    CHECK_INT(parse_u128("", &v), -1);
}

static void test_vectors(void)
{
    json_t *doc = vec_load("tests/vectors/pdmv2-profile-vectors.json");
    CHECK(doc != NULL);
    if (!doc)
        return;
    const json_t *sc = json_object_get(doc, "scaling");
    CHECK(json_is_array(sc));
    size_t n = json_array_size(sc), with_ns = 0;
    CHECK(n >= 20);
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(sc, i);
        pdm_u128 as = 0, dec = 0;
        uint64_t want_delta = 0, want_scale = 0, ns = 0;
        CHECK_INT(parse_u128(vec_str(v, "attoseconds"), &as), 0);
        CHECK_INT(parse_u128(vec_str(v, "decoded_attoseconds"), &dec), 0);
        CHECK_INT(vec_u64(v, "delta", &want_delta), 0);
        CHECK_INT(vec_u64(v, "scale", &want_scale), 0);

        uint16_t d = 0;
        uint8_t s = 0;
        pdm_time_encode_as(as, &d, &s);
        CHECK_INT(d, want_delta);
        CHECK_INT(s, want_scale);
        CHECK_U128(pdm_time_decode_as(d, s), dec);
        CHECK_INT(pdm_time_decode_ns(d, s), (uint64_t)(dec / PDM_AS_PER_NS));

        if (json_object_get(v, "nanoseconds")) {
            with_ns++;
            CHECK_INT(vec_u64(v, "nanoseconds", &ns), 0);
            CHECK_U128((pdm_u128)ns * PDM_AS_PER_NS, as);
            uint16_t d2 = 1;
            uint8_t s2 = 1;
            pdm_time_encode_ns(ns, &d2, &s2);
            CHECK_INT(d2, want_delta);
            CHECK_INT(s2, want_scale);
        }
    }
    CHECK(with_ns >= 10);
    json_decref(doc);
}

/* The profile's own examples (PROFILE §2), independent of the JSON file. */
static void test_profile_examples(void)
{
    static const struct {
        uint64_t ns;
        uint16_t delta;
        uint8_t scale;
    } ex[] = {{1, 61035, 14}, {1000, 59604, 24}, {1000000, 58207, 34}, {1000000000, 56843, 44}};
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        uint16_t d;
        uint8_t s;
        pdm_time_encode_ns(ex[i].ns, &d, &s);
        CHECK_INT(d, ex[i].delta);
        CHECK_INT(s, ex[i].scale);
    }
}

static void test_edges(void)
{
    uint16_t d = 7;
    uint8_t s = 7;

    pdm_time_encode_as(0, &d, &s);
    CHECK_INT(d, 0);
    CHECK_INT(s, 0);
    pdm_time_encode_ns(0, &d, &s);
    CHECK_INT(d, 0);
    CHECK_INT(s, 0);
    CHECK_U128(pdm_time_decode_as(0, 0), 0);
    CHECK_U128(pdm_time_decode_as(0, 255), 0); /* zero at any scale is zero */
    CHECK_INT(pdm_time_decode_ns(0, 200), 0);

    pdm_time_encode_as(65535, &d, &s);
    CHECK_INT(d, 65535);
    CHECK_INT(s, 0);
    pdm_time_encode_as(65536, &d, &s);
    CHECK_INT(d, 32768);
    CHECK_INT(s, 1);

    /* Values straddling the 64-bit halves. */
    pdm_time_encode_as((pdm_u128)UINT64_MAX, &d, &s);
    CHECK_INT(d, 65535);
    CHECK_INT(s, 48);
    pdm_time_encode_as((pdm_u128)1 << 64, &d, &s);
    CHECK_INT(d, 32768);
    CHECK_INT(s, 49);
    pdm_time_encode_as(((pdm_u128)1 << 64) + 12345, &d, &s);
    CHECK_INT(d, 32768);
    CHECK_INT(s, 49);

    /* Largest nanosecond count: 18446744073709551615 × 10^9 as
     * = 18446744073709551615000000000, bitlen 94 → scale 78. */
    pdm_time_encode_ns(UINT64_MAX, &d, &s);
    pdm_u128 big = (pdm_u128)UINT64_MAX * PDM_AS_PER_NS;
    CHECK_INT(s, 78);
    CHECK_INT(d, (uint16_t)(big >> 78));
    CHECK(d >= 32768);
    uint64_t back = pdm_time_decode_ns(d, s);
    CHECK(back <= UINT64_MAX && back >= UINT64_MAX - (UINT64_MAX >> 15));

    /* Largest u128. */
    pdm_time_encode_as(U128_MAX, &d, &s);
    CHECK_INT(d, 65535);
    CHECK_INT(s, PDM_TIME_SCALE_MAX);
    CHECK_U128(pdm_time_decode_as(d, s), (pdm_u128)65535 << 112);
    CHECK_INT(pdm_time_decode_ns(d, s), UINT64_MAX);

    /* Saturation: 65535 has 16 bits, so scale 112 fits and 113 does not;
     * 1 fits up to scale 127. */
    CHECK_U128(pdm_time_decode_as(65535, 113), U128_MAX);
    CHECK_U128(pdm_time_decode_as(32768, 113), U128_MAX);
    CHECK_U128(pdm_time_decode_as(1, 127), (pdm_u128)1 << 127);
    CHECK_U128(pdm_time_decode_as(1, 128), U128_MAX);
    CHECK_U128(pdm_time_decode_as(1, 255), U128_MAX);
    CHECK_U128(pdm_time_decode_as(2, 127), U128_MAX);

    /* decode_ns saturates exactly at 2^64 ns = 2^64 × 10^9 as. 10^9 < 2^30,
     * so 1 << 93 as ≈ 9.9e18 ns still fits, 1 << 94 ≈ 1.98e19 ns does not. */
    CHECK_INT(pdm_time_decode_ns(1, 93), (uint64_t)(((pdm_u128)1 << 93) / PDM_AS_PER_NS));
    CHECK_INT(pdm_time_decode_ns(1, 94), UINT64_MAX);
    CHECK_INT(pdm_time_decode_ns(65535, 100), UINT64_MAX);

    /* Truncation: 999 as is below a nanosecond. */
    CHECK_INT(pdm_time_decode_ns(999, 0), 0);
    CHECK_INT(pdm_time_decode_ns(61035, 14), 0); /* 1 ns encodes to 999997440 as */
}

/* Encode is exact truncation for every bit length: check against the
 * definition with a simple loop-based reference on a deterministic sweep. */
static void test_sweep(void)
{
    uint64_t x = 0x9e3779b97f4a7c15u;
    int bad = 0;
    for (unsigned bits = 1; bits <= 128; bits++) {
        for (int k = 0; k < 64; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            pdm_u128 v = ((pdm_u128)x << 64) | (x * 0x2545f4914f6cdd1du);
            if (bits < 128)
                v &= ((pdm_u128)1 << bits) - 1;
            v |= (pdm_u128)1 << (bits - 1); /* exactly `bits` long */
            unsigned ref_s = 0;
            pdm_u128 t = v;
            while (t >> 16) {
                t >>= 1;
                ref_s++;
            }
            uint16_t d;
            uint8_t s;
            pdm_time_encode_as(v, &d, &s);
            if (s != ref_s || d != (uint16_t)t)
                bad++;
            /* decode never exceeds the input and loses < 2^-15 of it */
            pdm_u128 r = pdm_time_decode_as(d, s);
            if (r > v || v - r >= ((pdm_u128)1 << s))
                bad++;
        }
    }
    CHECK_INT(bad, 0);
}

int main(void)
{
    RUN(test_parser);
    RUN(test_vectors);
    RUN(test_profile_examples);
    RUN(test_edges);
    RUN(test_sweep);
    return harness_done();
}
