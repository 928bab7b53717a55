/*
 * openpdm time scaling: the 16-bit DELTA and 8-bit SCALE pair that every
 * PDM time field uses (RFC 8250 §3.2 and §4.3; PROFILE §2).
 *
 * A time is DELTA × 2^SCALE attoseconds. Encoding truncates toward zero:
 *
 *     SCALE = max(0, bitlen(as) − 16)      DELTA = as >> SCALE
 *
 * so DELTA keeps the 16 most significant bits of the value, the relative
 * error is below 2^-15, and the representation of a given value is unique
 * (DELTA has its top bit set whenever SCALE > 0). Examples:
 * 1 ns → (61035, 14), 1 ms → (58207, 34), 1 s → (56843, 44),
 * 65535 as → (65535, 0), 65536 as → (32768, 1), 0 → (0, 0).
 *
 * Every function here is pure: no state, no allocation, no failure.
 */
#ifndef PDM_TIME_H
#define PDM_TIME_H

#include <pdm/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Attoseconds per nanosecond. */
#define PDM_AS_PER_NS 1000000000u

/* Largest SCALE the encoder produces: bitlen(2^128 − 1) − 16. */
#define PDM_TIME_SCALE_MAX 112

/*
 * Encodes a time of `as` attoseconds into *delta and *scale, truncating.
 * Any pdm_u128 value is accepted; the largest gives (65535, 112).
 * Returns nothing: the encoding always exists.
 */
PDM_EXTERN void pdm_time_encode_as(pdm_u128 as, uint16_t *delta, uint8_t *scale);

/*
 * Encodes a time of `ns` nanoseconds (converted exactly to attoseconds in
 * 128-bit arithmetic, ns × 10^9 < 2^94) into *delta and *scale, truncating.
 * Gives the same result as pdm_time_encode_as(ns × 10^9).
 * Returns nothing: the encoding always exists.
 */
PDM_EXTERN void pdm_time_encode_ns(uint64_t ns, uint16_t *delta, uint8_t *scale);

/*
 * Returns DELTA × 2^SCALE in attoseconds, or the largest pdm_u128
 * (2^128 − 1) when that product does not fit in 128 bits (any SCALE is
 * accepted; SCALE ≥ 128 with DELTA ≠ 0 saturates). DELTA 0 gives 0.
 */
PDM_EXTERN pdm_u128 pdm_time_decode_as(uint16_t delta, uint8_t scale);

/*
 * Returns DELTA × 2^SCALE attoseconds converted to nanoseconds, truncated
 * toward zero, or UINT64_MAX when the result would not fit in 64 bits
 * (about 584 years; also when pdm_time_decode_as() saturates).
 */
PDM_EXTERN uint64_t pdm_time_decode_ns(uint16_t delta, uint8_t scale);

#ifdef __cplusplus
}
#endif

#endif /* PDM_TIME_H */
