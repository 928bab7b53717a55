/*
 * Argument helpers of tools/dev/: whole numbers, and getopt_long()'s
 * complaints turned into the one-line usage errors of the house style
 * ("pdm: <who>: ...", exit status 2, decided by the caller).
 */
#include "dev/dev.h"

#include "common/tools.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int dev_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    unsigned base = 10;
    uint64_t v = 0;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (*s == '\0')
        return -1;
    for (; *s; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            return -1;
        if (d > max || v > (max - d) / base)
            return -1;
        v = v * base + d;
    }
    *out = v;
    return 0;
}

int dev_flag_uint(const char *who, const char *flag, const char *val, uint64_t max, uint64_t *out)
{
    if (dev_parse_uint(val, max, out) != 0) {
        tool_err("%s: %s '%s' is not a number in 0..%" PRIu64, who, flag, val, max);
        return -1;
    }
    return 0;
}

/* The entry of opts whose getopt_long() value is val; NULL if none. */
static const struct option *option_of(const struct option *opts, int val)
{
    for (; opts->name != NULL; opts++)
        if (opts->flag == NULL && opts->val == val)
            return opts;
    return NULL;
}

/*
 * getopt_long() leaves these cases (glibc, POSIX for the short ones):
 *   ':'  a flag that needs a value came last; optopt is its value code;
 *   '?'  optopt is a long flag's value code: it was given "=VALUE" but
 *        takes none; optopt is another character: an unknown short flag;
 *        optopt is 0: an unknown long flag, or an abbreviation that
 *        matches several (argv[optind - 1] is the word).
 */
void dev_getopt_error(const char *who, int c, char *const argv[], const struct option *opts,
                      const char *help)
{
    const struct option *o = optopt != 0 ? option_of(opts, optopt) : NULL;
    const char *arg = argv[optind - 1];
    char list[256];
    size_t len, used = 0;
    int matches = 0;

    if (c == ':') {
        if (o != NULL)
            tool_err("%s: --%s needs a value", who, o->name);
        else
            tool_err("%s: -%c needs a value", who, optopt);
        return;
    }
    if (o != NULL) {
        tool_err("%s: --%s takes no value", who, o->name);
        return;
    }
    if (optopt != 0 || strncmp(arg, "--", 2) != 0) {
        tool_err("%s: unknown flag '-%c' (%s)", who, optopt != 0 ? optopt : '?', help);
        return;
    }
    len = strcspn(arg + 2, "=");
    list[0] = '\0';
    for (o = opts; o->name != NULL; o++) {
        if (strncmp(o->name, arg + 2, len) != 0)
            continue;
        matches++;
        if (used < sizeof list) {
            int n = snprintf(list + used, sizeof list - used, "%s--%s", used ? ", " : "", o->name);
            used += n > 0 ? (size_t)n : 0;
        }
    }
    if (matches > 1)
        tool_err("%s: '%.*s' is ambiguous: %s", who, (int)(len + 2), arg, list);
    else
        tool_err("%s: unknown flag '%.*s' (%s)", who, (int)(len + 2), arg, help);
}
