/*
 * Minimal deterministic test harness. Each tests/test_<module>.c includes
 * this once, defines test functions and a main() that calls RUN() for each
 * and returns harness_done(). Checks are counted one by one; the runner
 * (tests/run.sh) reads the final "RESULT <passed> <failed> <skipped>" line
 * and the "SKIP <reason>" lines (protocol: tests/run.sh, docs/testing.md).
 *
 * A part that cannot run here (no privilege, a missing facility) calls
 * SKIP("reason") and returns: it is reported as skipped, with its reason,
 * never as passed. Skipping is for the environment, not for a result the
 * code got wrong: that is a failed CHECK.
 */
#ifndef PDM_TEST_HARNESS_H
#define PDM_TEST_HARNESS_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int h_passed, h_failed, h_skipped;
static const char *h_test = "";

static inline void h_report(int ok, const char *file, int line, const char *what)
{
    if (ok) {
        h_passed++;
    } else {
        h_failed++;
        fprintf(stderr, "FAIL %s:%d [%s] %s\n", file, line, h_test, what);
    }
}

/* Counts one skipped part; prints "SKIP <test>: <reason>" on stdout. */
static inline void h_skip(const char *reason)
{
    h_skipped++;
    printf("SKIP %s: %s\n", h_test, reason);
}

#define SKIP(reason) h_skip(reason)

#define CHECK(cond) h_report(!!(cond), __FILE__, __LINE__, #cond)

#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long h_a = (long long)(a), h_b = (long long)(b);                                      \
        char h_msg[256];                                                                           \
        snprintf(h_msg, sizeof h_msg, "%s == %s (%lld != %lld)", #a, #b, h_a, h_b);                \
        h_report(h_a == h_b, __FILE__, __LINE__, h_msg);                                           \
    } while (0)

#define CHECK_MEM(a, b, n)                                                                         \
    h_report(memcmp((a), (b), (n)) == 0, __FILE__, __LINE__, "memcmp(" #a ", " #b ", " #n ")")

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        h_test = #fn;                                                                              \
        fn();                                                                                      \
    } while (0)

static inline int harness_done(void)
{
    printf("RESULT %d %d %d\n", h_passed, h_failed, h_skipped);
    return h_failed ? 1 : 0;
}

/* Decodes lowercase/uppercase hex into out; returns bytes or -1. */
static inline long h_unhex(uint8_t *out, size_t cap, const char *hex)
{
    size_t n = strlen(hex);
    if (n % 2 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return (long)(n / 2);
}

#endif /* PDM_TEST_HARNESS_H */
