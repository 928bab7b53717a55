/*
 * openpdm: common definitions shared by every module.
 *
 * Error convention (one for the whole library): a function returns 0 or a
 * non-negative count on success, and one of the negative PDM_ERR_* codes
 * below on failure. pdm_strerror() turns a code into a one-line message.
 * Each function's comment lists the codes it can return.
 */
#ifndef PDM_COMMON_H
#define PDM_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exported symbols; everything else in libpdm is built hidden. */
#define PDM_EXTERN __attribute__((visibility("default")))

/* Callers must look at the result of functions whose failure matters. */
#define PDM_WARN_UNUSED __attribute__((warn_unused_result))

/* 128-bit unsigned, used for attosecond arithmetic (2^64 as is ~18 s). */
__extension__ typedef unsigned __int128 pdm_u128;

enum pdm_error {
    PDM_OK = 0,
    PDM_ERR_INVAL = -1,           /* an argument is out of its documented range */
    PDM_ERR_NOBUF = -2,           /* the output buffer is too small */
    PDM_ERR_TRUNCATED = -3,       /* input ends before a length it declares */
    PDM_ERR_OPT_TYPE = -4,        /* option type is not the PDM type */
    PDM_ERR_OPT_LENGTH = -5,      /* option length is not 10, 18 or 34 */
    PDM_ERR_OPT_VERSION = -6,     /* PDMv2 version nibble is not 2 */
    PDM_ERR_OPT_RN = -7,          /* encrypted option with RN 0, or RN > 32767 */
    PDM_ERR_HDR_LENGTH = -8,      /* extension header length runs past the packet */
    PDM_ERR_HDR_OPTIONS = -9,     /* malformed TLV options inside an options header */
    PDM_ERR_NOT_IPV6 = -10,       /* version field is not 6, or shorter than 40 bytes */
    PDM_ERR_PAYLOAD_LENGTH = -11, /* IPv6 Payload Length disagrees with the buffer */
    PDM_ERR_JUMBO = -12,          /* jumbogram (Payload Length 0): not supported */
    PDM_ERR_ESP = -13,            /* chain reaches ESP: upper layer is not visible */
    PDM_ERR_FRAGMENT = -14,       /* packet is a fragment: cannot add an option */
    PDM_ERR_DUPLICATE = -15,      /* packet already carries a PDM option */
    PDM_ERR_TOO_BIG = -16,        /* result would exceed the buffer or header limits */
    PDM_ERR_NOT_FOUND = -17,      /* no such option, flow or entry */
    PDM_ERR_FULL = -18,           /* a fixed-size table is full */
    PDM_ERR_NOMEM = -19,          /* allocation failed (setup paths only) */
    PDM_ERR_CRYPTO = -20,         /* the crypto backend failed */
    PDM_ERR_AUTH = -21,           /* authentication failed: contents not used */
    PDM_ERR_UNSUPPORTED = -22,    /* algorithm or suite not supported */
    PDM_ERR_KEY = -23,            /* invalid key (public key validation, size) */
    PDM_ERR_KEY_EXHAUSTED = -24,  /* Kri past 65535: a new registration is needed */
    PDM_ERR_NONCE_REUSE = -25,    /* refusing: the (key, nonce) pair was used */
    PDM_ERR_MALFORMED = -26,      /* malformed message (registration, key file) */
    PDM_ERR_PROTO = -27,          /* peer broke the protocol (unexpected message) */
    PDM_ERR_EXPIRED = -28,        /* secret is past its lifetime */
    PDM_ERR_STATE = -29,          /* call not valid in the object's current state */
    PDM_ERR_SYSTEM = -30,         /* a system call failed (tools only; see errno) */
    PDM_ERR_LAST = -30
};

/* Returns a static one-line description of err (never NULL). */
PDM_EXTERN const char *pdm_strerror(int err);

/* Overwrites n bytes at p with zeros in a way the compiler may not elide. */
PDM_EXTERN void pdm_memzero(void *p, size_t n);

/* Compares n bytes in time independent of their contents; 0 when equal. */
PDM_EXTERN int pdm_memcmp_ct(const void *a, const void *b, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* PDM_COMMON_H */
