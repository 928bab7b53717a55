/* Small helpers shared by the subcommands. */
#include "tools.h"

#include <pdm/common.h>

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void tool_err(const char *fmt, ...)
{
    va_list ap;
    fputs("pdm: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

long tool_unhex(uint8_t *out, size_t cap, const char *hex)
{
    int n = pdm_hex_decode(out, cap, hex, strlen(hex));
    return n < 0 ? -1 : n;
}

void tool_print_hex(const uint8_t *p, size_t n)
{
    char text[2 * 64 + 1];

    /* By the codec in chunks: what is printed may be a secret. */
    for (size_t i = 0; i < n; i += 64) {
        size_t k = n - i < 64 ? n - i : 64;
        if (pdm_hex_encode(text, sizeof text, p + i, k) > 0)
            fputs(text, stdout);
    }
    pdm_memzero(text, sizeof text);
}

int tool_flag_value(int argc, char **argv, int *i, const char *name, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);

    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *val = argv[++*i];
    return 1;
}

int tool_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int tool_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    /* strtoull accepts leading space and a sign: refuse both. */
    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

int tool_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int tool_parse_duration_ms(const char *s, uint64_t *ms)
{
    char *end;
    unsigned long long v;
    uint64_t mul;

    if (!s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    if (!strcmp(end, "ms"))
        mul = 1;
    else if (!*end || !strcmp(end, "s"))
        mul = 1000;
    else if (!strcmp(end, "m"))
        mul = 60000;
    else if (!strcmp(end, "h"))
        mul = 3600000;
    else if (!strcmp(end, "d"))
        mul = 86400000;
    else
        return -1;
    if (v > UINT64_MAX / mul / 1000000)
        return -1; /* keep room for nanoseconds */
    *ms = v * mul;
    return 0;
}
