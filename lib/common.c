/* openpdm: error strings and the secret-hygiene primitives: wiping,
 * comparing, and the hex codec of secrets. */
#include <pdm/common.h>

#include <limits.h>
#include <string.h>

static const char *const errstr[] = {
    [0] = "success",
    [-PDM_ERR_INVAL] = "invalid argument",
    [-PDM_ERR_NOBUF] = "output buffer too small",
    [-PDM_ERR_TRUNCATED] = "input truncated",
    [-PDM_ERR_OPT_TYPE] = "not a PDM option type",
    [-PDM_ERR_OPT_LENGTH] = "PDM option length is not 10, 18 or 34",
    [-PDM_ERR_OPT_VERSION] = "PDMv2 option version is not 2",
    [-PDM_ERR_OPT_RN] = "encrypted PDMv2 option has random number 0",
    [-PDM_ERR_HDR_LENGTH] = "extension header runs past the end of the packet",
    [-PDM_ERR_HDR_OPTIONS] = "malformed options in an options header",
    [-PDM_ERR_NOT_IPV6] = "not an IPv6 packet",
    [-PDM_ERR_PAYLOAD_LENGTH] = "IPv6 payload length disagrees with the packet size",
    [-PDM_ERR_JUMBO] = "IPv6 jumbogram not supported",
    [-PDM_ERR_ESP] = "extension-header chain reaches ESP",
    [-PDM_ERR_FRAGMENT] = "packet is a fragment",
    [-PDM_ERR_DUPLICATE] = "packet already carries a PDM option",
    [-PDM_ERR_TOO_BIG] = "result too big for the buffer or the header",
    [-PDM_ERR_NOT_FOUND] = "not found",
    [-PDM_ERR_FULL] = "table full",
    [-PDM_ERR_NOMEM] = "out of memory",
    [-PDM_ERR_CRYPTO] = "cryptographic backend failure",
    [-PDM_ERR_AUTH] = "authentication failed",
    [-PDM_ERR_UNSUPPORTED] = "unsupported algorithm or suite",
    [-PDM_ERR_KEY] = "invalid key",
    [-PDM_ERR_KEY_EXHAUSTED] = "key rotation index exhausted: a new registration is needed",
    [-PDM_ERR_NONCE_REUSE] = "refusing to reuse a (key, nonce) pair",
    [-PDM_ERR_MALFORMED] = "malformed message",
    [-PDM_ERR_PROTO] = "protocol violation by the peer",
    [-PDM_ERR_EXPIRED] = "secret expired",
    [-PDM_ERR_STATE] = "operation not valid in this state",
    [-PDM_ERR_SYSTEM] = "system call failed",
};

PDM_EXTERN const char *pdm_strerror(int err)
{
    if (err > 0 || err < PDM_ERR_LAST)
        return "unknown error";
    return errstr[-err] ? errstr[-err] : "unknown error";
}

PDM_EXTERN void pdm_memzero(void *p, size_t n)
{
    if (n == 0)
        return;
    memset(p, 0, n);
    /* The barrier tells the compiler the zeroed memory is read, so the
     * memset cannot be removed as a dead store (WireGuard's approach). */
    __asm__ __volatile__("" : : "r"(p) : "memory");
}

PDM_EXTERN int pdm_memcmp_ct(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (uint8_t)(x[i] ^ y[i]);
    return d != 0;
}

/*
 * Hex for secrets (docs/crypto.md §9). Every step below is arithmetic on
 * 32-bit unsigned values of at most 9 bits, so nothing depends on the
 * digits but the values computed: no comparison feeds a branch, no digit
 * indexes a table. ct_lt() is the building block:
 *
 *   for x, y in 0..256, x - y (mod 2^32) is at least 2^31 exactly when
 *   x < y (the difference wraps), so its bit 31 is that comparison, and
 *   0 - bit is the all-ones or all-zero mask.
 */
static inline uint32_t ct_lt(uint32_t x, uint32_t y)
{
    return 0u - ((x - y) >> 31);
}

/* The lowercase digit of a nibble v (0..15): '0' + v, plus the distance
 * from '9' + 1 to 'a' (39) when v > 9. */
static inline char hex_digit(uint32_t v)
{
    return (char)(0x30u + v + (ct_lt(9u, v) & 39u));
}

/*
 * The value of hex digit c (0..255) in the low 4 bits, and in *bad all
 * ones when c is not a digit (0 when it is). c | 0x20 maps 'A'-'F' onto
 * 'a'-'f' and no other character into that range (the two cases differ in
 * bit 5 only), which is how both cases are read without tolower().
 */
static inline uint32_t hex_value(uint32_t c, uint32_t *bad)
{
    uint32_t lc = c | 0x20u;
    uint32_t is_dig = ~ct_lt(c, 0x30u) & ct_lt(c, 0x3Au);   /* '0'..'9' */
    uint32_t is_let = ~ct_lt(lc, 0x61u) & ct_lt(lc, 0x67u); /* 'a'..'f' */

    *bad = ~(is_dig | is_let);
    return ((c - 0x30u) & is_dig) | ((lc - 0x61u + 10u) & is_let);
}

PDM_EXTERN int pdm_hex_encode(char *out, size_t outcap, const uint8_t *in, size_t inlen)
{
    if (out == NULL || (in == NULL && inlen > 0))
        return PDM_ERR_INVAL;
    if (inlen > (size_t)INT_MAX / 2)
        return PDM_ERR_TOO_BIG;
    if (outcap < 2 * inlen + 1)
        return PDM_ERR_NOBUF;
    for (size_t i = 0; i < inlen; i++) {
        out[2 * i] = hex_digit((uint32_t)in[i] >> 4);
        out[2 * i + 1] = hex_digit((uint32_t)in[i] & 0xFu);
    }
    out[2 * inlen] = '\0';
    return (int)(2 * inlen);
}

PDM_EXTERN int pdm_hex_decode(uint8_t *out, size_t outcap, const char *hex, size_t hexlen)
{
    size_t n = hexlen / 2;
    uint32_t err = 0;

    if (hexlen > 0 && (hex == NULL || out == NULL))
        return PDM_ERR_INVAL;
    if (hexlen % 2 != 0)
        return PDM_ERR_MALFORMED;
    if (n > (size_t)INT_MAX)
        return PDM_ERR_TOO_BIG;
    if (n > outcap)
        return PDM_ERR_NOBUF;
    /* Every byte is written, good or not; the error flag is only
     * accumulated, and read once after the loop. */
    for (size_t i = 0; i < n; i++) {
        uint32_t bad_hi, bad_lo;
        uint32_t hi = hex_value((unsigned char)hex[2 * i], &bad_hi);
        uint32_t lo = hex_value((unsigned char)hex[2 * i + 1], &bad_lo);
        out[i] = (uint8_t)(hi << 4 | lo);
        err |= bad_hi | bad_lo;
    }
    if (err != 0) {
        pdm_memzero(out, n);
        return PDM_ERR_MALFORMED;
    }
    return (int)n;
}
