/*
 * pdm option, format v2-14: the newest draft's 24-byte layout (draft -14
 * §7, PROFILE §1; include/pdm/codec.h PDM_V214_*). Its PSNs are 32 bits
 * and it has an Epoch, which struct pdm_fields cannot hold, so encode and
 * decode go through struct pdm_v214 here; cmd_option.c and
 * option_decode.c call in for this format only. Never encrypted: the
 * draft leaves protection to the registration system.
 */
#include "dev/dev.h"

#include "common/tools.h"

#include <pdm/codec.h>
#include <pdm/time.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define WHO "option encode"

/* The FIELD=VALUE names of v2-14 and their ranges. */
static const struct {
    const char *name;
    uint64_t max;
} v214_fields[] = {
    {"epoch", PDM_V214_EPOCH_MAX},  {"psntp", UINT32_MAX},     {"psnlr", UINT32_MAX},
    {"global_pointer", UINT32_MAX}, {"scale_dtlr", UINT8_MAX}, {"scale_dtls", UINT8_MAX},
    {"delta_tlr", UINT16_MAX},      {"delta_tls", UINT16_MAX},
};
#define NV214 (sizeof v214_fields / sizeof v214_fields[0])

static void v214_set(struct pdm_v214 *o, size_t i, uint64_t v)
{
    switch (i) {
    case 0:
        o->epoch = (uint16_t)v;
        break;
    case 1:
        o->psntp = (uint32_t)v;
        break;
    case 2:
        o->psnlr = (uint32_t)v;
        break;
    case 3:
        o->global_pointer = (uint32_t)v;
        break;
    case 4:
        o->scale_dtlr = (uint8_t)v;
        break;
    case 5:
        o->scale_dtls = (uint8_t)v;
        break;
    case 6:
        o->delta_tlr = (uint16_t)v;
        break;
    default:
        o->delta_tls = (uint16_t)v;
        break;
    }
}

/* One FIELD=VALUE of v2-14; prints the error itself. */
static int v214_apply(struct pdm_v214 *o, unsigned *seen, const char *arg)
{
    const char *eq = strchr(arg, '=');
    size_t namelen;
    uint64_t v;

    if (!eq) {
        tool_err(WHO ": '%s' is not FIELD=VALUE (see 'pdm option encode --help')", arg);
        return -1;
    }
    namelen = (size_t)(eq - arg);
    for (size_t i = 0; i < NV214; i++) {
        if (strlen(v214_fields[i].name) != namelen || strncmp(v214_fields[i].name, arg, namelen))
            continue;
        if (*seen & (1u << i)) {
            tool_err(WHO ": %s given twice", v214_fields[i].name);
            return -1;
        }
        if (dev_parse_uint(eq + 1, v214_fields[i].max, &v) != 0) {
            tool_err(WHO ": %s '%s' is not a number in 0..%" PRIu64 " (v2-14)", v214_fields[i].name,
                     eq + 1, v214_fields[i].max);
            return -1;
        }
        *seen |= 1u << i;
        v214_set(o, i, v);
        return 0;
    }
    tool_err(WHO ": unknown v2-14 field '%.*s' (fields: epoch psntp psnlr global_pointer "
                 "scale_dtlr scale_dtls delta_tlr delta_tls)",
             (int)namelen, arg);
    return -1;
}

ssize_t dev_v214_encode(uint8_t type, char **args, int nargs, uint8_t *out, size_t cap)
{
    struct pdm_v214 o;
    unsigned seen = 0;
    ssize_t n;

    memset(&o, 0, sizeof o);
    o.type = type;
    for (int k = 0; k < nargs; k++)
        if (v214_apply(&o, &seen, args[k]) != 0)
            return -2;
    if ((n = pdm_v214_encode(out, cap, &o)) < 0) {
        tool_err(WHO ": %s", pdm_strerror((int)n));
        return -1;
    }
    return n;
}

static void print_ns(const char *key, uint16_t delta, uint8_t scale)
{
    uint64_t ns = pdm_time_decode_ns(delta, scale);

    if (ns == UINT64_MAX)
        printf(",\"%s\":null", key);
    else
        printf(",\"%s\":%" PRIu64, key, ns);
}

int dev_v214_print(const uint8_t *in, size_t avail, uint8_t type, int next_header)
{
    struct pdm_v214 o;
    ssize_t n = pdm_v214_decode(&o, in, avail, type);

    if (n < 0) {
        tool_err("option decode: %s", pdm_strerror((int)n));
        return 1;
    }
    putchar('{');
    if (next_header >= 0)
        printf("\"next_header\":%d,", next_header);
    printf("\"format\":\"v2-14\",\"version\":%u,\"epoch\":%u", PDM_V214_VERSION, o.epoch);
    printf(",\"scale_dtlr\":%u,\"scale_dtls\":%u,\"global_pointer\":%" PRIu32, o.scale_dtlr,
           o.scale_dtls, o.global_pointer);
    printf(",\"psntp\":%" PRIu32 ",\"psnlr\":%" PRIu32 ",\"reserved\":%u", o.psntp, o.psnlr,
           o.reserved);
    printf(",\"delta_tlr\":%u,\"delta_tls\":%u", o.delta_tlr, o.delta_tls);
    print_ns("delta_tlr_ns", o.delta_tlr, o.scale_dtlr);
    print_ns("delta_tls_ns", o.delta_tls, o.scale_dtls);
    printf("}\n");
    return 0;
}
