/*
 * openpdm time scaling (RFC 8250 §3.2, §4.3; PROFILE §2).
 *
 * RFC 8250 keeps 16 significant bits of an attosecond count and a power-of-2
 * exponent. The encoder below finds the bit length with count-leading-zeros
 * on the two 64-bit halves: no loop, no division, a handful of instructions.
 */
#include <pdm/time.h>

/* Number of significant bits of v (0 for 0). */
static inline unsigned bitlen128(pdm_u128 v)
{
    uint64_t hi = (uint64_t)(v >> 64), lo = (uint64_t)v;
    if (hi)
        return 128u - (unsigned)__builtin_clzll(hi);
    if (lo)
        return 64u - (unsigned)__builtin_clzll(lo);
    return 0;
}

PDM_EXTERN void pdm_time_encode_as(pdm_u128 as, uint16_t *delta, uint8_t *scale)
{
    unsigned n = bitlen128(as);
    unsigned s = n > 16 ? n - 16 : 0; /* at most 112 */
    *scale = (uint8_t)s;
    *delta = (uint16_t)(as >> s);
}

PDM_EXTERN void pdm_time_encode_ns(uint64_t ns, uint16_t *delta, uint8_t *scale)
{
    /* ns × 10^9 < 2^64 × 2^30: exact in 128 bits, never overflows. The
     * product of two 64-bit halves is one widening multiply. */
    pdm_time_encode_as((pdm_u128)ns * PDM_AS_PER_NS, delta, scale);
}

PDM_EXTERN pdm_u128 pdm_time_decode_as(uint16_t delta, uint8_t scale)
{
    if (delta == 0)
        return 0;
    /* delta has bitlen(delta) ≤ 16 bits; the product fits in 128 bits iff
     * bitlen(delta) + scale ≤ 128. This also keeps the shift below 128. */
    unsigned n = 64u - (unsigned)__builtin_clzll(delta);
    if (n + scale > 128u)
        return ~(pdm_u128)0;
    return (pdm_u128)delta << scale;
}

PDM_EXTERN uint64_t pdm_time_decode_ns(uint16_t delta, uint8_t scale)
{
    pdm_u128 as = pdm_time_decode_as(delta, scale);
    /* as / 10^9 ≥ 2^64 exactly when the high half is ≥ 10^9. */
    if ((uint64_t)(as >> 64) >= PDM_AS_PER_NS)
        return UINT64_MAX;
    if ((as >> 64) == 0)
        return (uint64_t)as / PDM_AS_PER_NS; /* common case: 64-bit divide */
    return (uint64_t)(as / PDM_AS_PER_NS);
}
