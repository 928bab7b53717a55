/*
 * Argument helpers of tools/dev/: whole numbers. (getopt_long()'s
 * complaints are worded by tool_getopt_error, the same for every
 * subcommand.)
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
