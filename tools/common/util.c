/* Small helpers shared by the subcommands. */
#include "tools.h"

#include <pdm/common.h>

#include <errno.h>
#include <stdlib.h>
#include <ctype.h>
#include <getopt.h>
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

/*
 * getopt_long() leaves these cases (glibc, POSIX for the short ones):
 *   ':'  an option that needs a value came last; optopt is its value;
 *   '?'  with a long word and optopt != 0: "--NAME=VALUE" for an option
 *        that takes none; optopt 0: an unknown long option, or an
 *        abbreviation of several; with a short word: optopt is the
 *        unknown letter (argv[optind - 1] may be a cluster still read).
 */
void tool_getopt_error(const char *who, int c, char *const argv[], const struct option *opts)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    int is_long = strncmp(arg, "--", 2) == 0, matches = 0;
    /* The option as typed, without "=VALUE": several long options may
     * share one value code (a table of settings), so the word, not the
     * code, names the option. */
    int len = is_long ? (int)strcspn(arg, "=") : 0;
    size_t used = 0;
    char list[256];

    if (c == ':') {
        if (is_long)
            tool_err("%s: %.*s needs a value", who, len, arg);
        else
            tool_err("%s: -%c needs a value", who, optopt);
        return;
    }
    if (is_long && optopt != 0) {
        tool_err("%s: %.*s takes no value", who, len, arg);
        return;
    }
    if (!is_long) {
        tool_err("%s: unknown option '-%c' (see 'pdm %s --help')", who,
                 optopt > 0 && optopt < 256 ? optopt : '?', who);
        return;
    }
    list[0] = '\0';
    for (const struct option *o = opts; o->name != NULL; o++) {
        if (strncmp(o->name, arg + 2, (size_t)len - 2) != 0)
            continue;
        matches++;
        if (used < sizeof list) {
            int n = snprintf(list + used, sizeof list - used, "%s--%s", used ? ", " : "", o->name);
            used += n > 0 ? (size_t)n : 0;
        }
    }
    if (matches > 1)
        tool_err("%s: option '%.*s' is ambiguous: %s", who, len, arg, list);
    else
        tool_err("%s: unknown option '%.*s' (see 'pdm %s --help')", who, len, arg, who);
}
