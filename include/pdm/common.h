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

/*
 * Hex text of secrets (key logs, key and PSK files, secret records), in
 * time independent of the digits: no branch and no table index depends on
 * a digit's value or on where a bad digit is; only the lengths, which are
 * public, are decided on before the end (docs/crypto.md §9, "Hex for
 * secrets"). Both check their arguments in the order listed below, and
 * write nothing on those errors.
 *
 * pdm_hex_encode writes the 2 * inlen lowercase digits of in[0..inlen)
 * and a NUL into out (outcap bytes: at least 2 * inlen + 1). Returns
 * 2 * inlen (the NUL not counted), or
 *   PDM_ERR_INVAL    out NULL, or in NULL with inlen > 0
 *   PDM_ERR_TOO_BIG  2 * inlen does not fit the int result
 *   PDM_ERR_NOBUF    outcap is less than 2 * inlen + 1
 */
PDM_EXTERN int pdm_hex_encode(char *out, size_t outcap, const uint8_t *in, size_t inlen);

/*
 * pdm_hex_decode reads hexlen characters at hex (no NUL needed) as hex
 * digits, '0'-'9', 'a'-'f' or 'A'-'F' (nothing else: no white space, no
 * "0x"), into out[0..hexlen / 2). Returns hexlen / 2, or
 *   PDM_ERR_INVAL     hex or out NULL with hexlen > 0
 *   PDM_ERR_MALFORMED an odd hexlen
 *   PDM_ERR_TOO_BIG   hexlen / 2 does not fit the int result
 *   PDM_ERR_NOBUF     hexlen / 2 is more than outcap
 *   PDM_ERR_MALFORMED a character that is not a hex digit: out[0..hexlen
 *                     / 2) is wiped, and nothing tells which character or
 *                     where (it may be one of a secret's), so neither may
 *                     the caller's message
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_hex_decode(uint8_t *out, size_t outcap, const char *hex,
                                              size_t hexlen);

#ifdef __cplusplus
}
#endif

#endif /* PDM_COMMON_H */
