/* openpdm: error strings and the two secret-hygiene primitives. */
#include <pdm/common.h>

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
