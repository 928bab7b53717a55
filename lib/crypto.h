/*
 * Internal crypto backend interface: small descriptor tables with the
 * RFC 9180 sizes and function pointers (the picotls pattern). HPKE
 * (lib/hpke.c) and the PDMv2 profile (lib/profile.c) are written once on
 * top of these; lib/crypto/ossl.c (OpenSSL 3.0 EVP) is the only backend and
 * the only file that includes OpenSSL headers.
 *
 * Sans-IO: no function here draws random bytes or reads a clock. Only
 * pdm_aead_alg.ctx_new allocates (once per key); seal and open allocate
 * nothing, so one context keyed at setup seals any number of packets.
 *
 * Every function returns 0 or a negative PDM_ERR_* code. Secrets that pass
 * through the backend are wiped by it (OPENSSL_cleanse / pdm_memzero).
 *
 * Use from the profile (docs/profile.md §3), for one flow direction:
 *
 *     const struct pdm_aead_alg *aead = pdm_aead_find(suite.aead_id);
 *     struct pdm_aead_ctx *actx;
 *     // STK, BaseNonce from pdm_hpke_labeled_extract / _expand (pdm/hpke.h)
 *     if ((rv = aead->ctx_new(aead, stk, &actx)) != 0) goto out;
 *     pdm_memzero(stk, sizeof stk);
 *     ...per packet: nonce = BaseNonce XOR I2OSP(RN, Nn);
 *     rv = aead->seal(actx, nonce, aad, 6, pt, 14, out);   // 30 bytes out
 *     ...
 *     aead->ctx_free(actx);
 */
#ifndef PDM_CRYPTO_H
#define PDM_CRYPTO_H

#include <pdm/common.h>
#include <pdm/hpke.h>

/* One piece of a message fed to a hash or HMAC without concatenating first. */
struct pdm_iov {
    const void *base;
    size_t len;
};

/* ---- KDF: HKDF (RFC 5869) over HMAC-SHA-256/384/512, RFC 9180 §7.2 ---- */

struct pdm_kdf_alg {
    uint16_t id; /* RFC 9180 KDF id */
    size_t nh;   /* Nh: hash output size */
    const char *name;
    /*
     * HKDF-Extract: prk (nh bytes) = HMAC(salt, ikm[0] || ... || ikm[n-1]).
     * An empty salt means nh zero bytes (RFC 5869 §2.2).
     */
    int (*extract)(const struct pdm_kdf_alg *kdf, const uint8_t *salt, size_t salt_len,
                   const struct pdm_iov *ikm, size_t n, uint8_t *prk);
    /*
     * HKDF-Expand: out_len bytes (1 .. 255 * nh) from prk (prk_len bytes)
     * and info = info[0] || ... || info[n-1]. PDM_ERR_INVAL for a bad
     * out_len.
     */
    int (*expand)(const struct pdm_kdf_alg *kdf, const uint8_t *prk, size_t prk_len,
                  const struct pdm_iov *info, size_t n, uint8_t *out, size_t out_len);
};

/* ---- AEAD, RFC 9180 §7.3 ---- */

/* A key ready to seal and open; made by ctx_new, opaque outside the backend. */
struct pdm_aead_ctx;

struct pdm_aead_alg {
    uint16_t id;       /* RFC 9180 AEAD id */
    size_t nk, nn, nt; /* key, nonce, tag sizes; all 0 for export-only */
    const char *name;
    /*
     * Keys a new context with key (nk bytes). Returns 0, PDM_ERR_NOMEM,
     * PDM_ERR_CRYPTO; *out is NULL on failure. NULL for export-only.
     */
    int (*ctx_new)(const struct pdm_aead_alg *alg, const uint8_t *key, struct pdm_aead_ctx **out);
    /*
     * Seals pt (pt_len bytes) with nonce (nn bytes) and aad into ct:
     * pt_len bytes of ciphertext then the nt-byte tag. ct may equal pt.
     * Allocates nothing. Returns 0, PDM_ERR_INVAL (a length beyond
     * INT_MAX), PDM_ERR_CRYPTO.
     */
    int (*seal)(struct pdm_aead_ctx *ctx, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                const uint8_t *pt, size_t pt_len, uint8_t *ct);
    /*
     * Opens ct (ct_len bytes, tag included) into pt (ct_len - nt bytes;
     * pt may equal ct). Returns 0, PDM_ERR_AUTH (tag mismatch: pt is then
     * zeroed; or ct_len < nt), PDM_ERR_INVAL, PDM_ERR_CRYPTO.
     */
    int (*open)(struct pdm_aead_ctx *ctx, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                const uint8_t *ct, size_t ct_len, uint8_t *pt);
    /* Wipes and frees ctx; NULL is fine. */
    void (*ctx_free)(struct pdm_aead_ctx *ctx);
};

/* ---- KEM: the Diffie-Hellman groups under DHKEM, RFC 9180 §4.1, §7.1 ---- */

struct pdm_kem_alg {
    uint16_t id; /* RFC 9180 KEM id */
    const char *name;
    const struct pdm_kdf_alg *kdf;  /* the KEM's own KDF (ExtractAndExpand) */
    size_t nsecret, nenc, npk, nsk; /* RFC 9180 §7.1 sizes */
    size_t ndh;                     /* size of one DH output */
    /*
     * DeriveKeyPair (§7.1.3): 0xFF (P-256, P-384) or 0x01 (P-521) is the
     * mask on the first candidate byte of the rejection-sampling loop; 0
     * means the X25519 form (one "sk" expand, no candidates).
     */
    uint8_t bitmask;
    /*
     * Public key (npk bytes, serialized) of the private key sk (nsk bytes).
     * Returns 0, PDM_ERR_KEY (P-curves: scalar 0 or >= the group order, the
     * rejection test of DeriveKeyPair), PDM_ERR_CRYPTO.
     */
    int (*pk_from_sk)(const struct pdm_kem_alg *kem, const uint8_t *sk, uint8_t *pk);
    /*
     * DeserializePublicKey validation (§7.1.4) of pk (pk_len bytes):
     * returns 0, PDM_ERR_KEY, PDM_ERR_CRYPTO.
     */
    int (*check_pk)(const struct pdm_kem_alg *kem, const uint8_t *pk, size_t pk_len);
    /*
     * DH(sk, pk): writes ndh bytes (the x-coordinate on P-curves). own_pk
     * is the public key of sk (npk bytes), which spares the backend from
     * recomputing it. The peer's pk (pk_len bytes) is validated as
     * check_pk does; an all-zero X25519 result is refused. Returns 0,
     * PDM_ERR_KEY, PDM_ERR_CRYPTO; out is zeroed on failure.
     */
    int (*dh)(const struct pdm_kem_alg *kem, const uint8_t *sk, const uint8_t *own_pk,
              const uint8_t *pk, size_t pk_len, uint8_t *out);
};

/* Descriptors by RFC 9180 id; NULL when unknown. */
const struct pdm_kdf_alg *pdm_kdf_find(uint16_t id);
const struct pdm_aead_alg *pdm_aead_find(uint16_t id);
const struct pdm_kem_alg *pdm_kem_find(uint16_t id);

#define PDM_SHA256_SIZE 32

/* SHA-256 of in[0] || ... || in[n-1]. Returns 0 or PDM_ERR_CRYPTO. */
int pdm_sha256(const struct pdm_iov *in, size_t n, uint8_t out[PDM_SHA256_SIZE]);

#endif /* PDM_CRYPTO_H */
