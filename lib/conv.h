/*
 * Byte access helpers: the only place that turns packet bytes (and the
 * hex of suite ids) into integers.
 * Never cast a struct over packet bytes; read and write through these.
 * Callers check lengths before calling (these do no bounds checks).
 */
#ifndef PDM_CONV_H
#define PDM_CONV_H

#include <stdint.h>
#include <string.h>

static inline uint16_t pdm_get_u16be(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t pdm_get_u32be(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t pdm_get_u64be(const uint8_t *p)
{
    return (uint64_t)pdm_get_u32be(p) << 32 | pdm_get_u32be(p + 4);
}

static inline uint8_t *pdm_put_u8(uint8_t *p, uint8_t v)
{
    *p = v;
    return p + 1;
}

static inline uint8_t *pdm_put_u16be(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

static inline uint8_t *pdm_put_u32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

static inline uint8_t *pdm_put_u64be(uint8_t *p, uint64_t v)
{
    pdm_put_u32be(p, (uint32_t)(v >> 32));
    return pdm_put_u32be(p + 4, (uint32_t)v);
}

static inline uint8_t *pdm_put_bytes(uint8_t *p, const void *src, size_t n)
{
    if (n)
        memcpy(p, src, n);
    return p + n;
}

/* Value of one hex digit, either case, or -1, for public text only (the
 * suite ids of pdm_suite_parse): it branches on the digit. Secrets go
 * through the constant-time pdm_hex_decode (include/pdm/common.h). */
static inline int pdm_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif /* PDM_CONV_H */
