/*
 * The crypto backend on OpenSSL 3.0 (EVP), behind lib/crypto.h: the only
 * file of the project that includes OpenSSL headers.
 *
 * Choices, measured on the development machine (OpenSSL 3.0, x86-64):
 * - HKDF is HMAC through EVP_MAC (about 1.0 us per HMAC including the
 *   fetch) rather than EVP_KDF "HKDF" with EXTRACT_ONLY / EXPAND_ONLY
 *   (1.2-1.7 us per step): the profile derives keys per flow. The fetch
 *   is not cached: a static cache would save about 0.2 us per HMAC at the
 *   price of global state in a sans-IO library.
 * - An AEAD context keeps one EVP_CIPHER_CTX keyed once; each seal or open
 *   only sets the nonce (EVP_CipherInit_ex with a NULL cipher and key keeps
 *   the key schedule), so nothing is allocated per packet.
 * - The tag goes through EVP_CIPHER_CTX_get_params / set_params with an
 *   OSSL_PARAM array built once per context, not EVP_CIPHER_CTX_ctrl(
 *   GET_TAG / SET_TAG): on 3.0 the ctrl shim zeroes and fills a parameter
 *   array and converts on every call, about 15-25 ns of a 170-200 ns seal of
 *   one option (bench/bench_crypto.c). What remains per call is the
 *   provider's own parameter lookup (a strcmp per name it knows) and
 *   EVP_CipherInit_ex's IV-length query: 3.0 resets its cached IV length
 *   at every init, and no public call sets a nonce without an init, so
 *   that part stays (docs/decisions.md D12).
 * - OpenSSL 3.0 imports an EC private key without its public point but
 *   does not compute that point (EVP_PKEY_fromdata leaves it unset; 3.2+
 *   derives it). DeriveKeyPair needs it, so pk_from_sk uses EC_POINT_mul
 *   on the generator from the low-level EC API, which 3.0 keeps (it is not
 *   among the functions 3.0 deprecates, so no diagnostic pragma is needed).
 * - X25519 DH imports the private key together with its public key:
 *   EVP_PKEY_new_raw_private_key would recompute the public key, a second
 *   scalar multiplication (about 35 us of a 40 us DH). The P-curve imports
 *   build their EC_GROUP each time (about 9 us each); acceptable for setup.
 *
 * OSSL_PARAM constructors take non-const char *; names are therefore kept
 * in writable static arrays rather than cast from string literals.
 */
#include "crypto.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>

/* ------------------------------------------------------------------ */
/* Hash and HMAC                                                        */
/* ------------------------------------------------------------------ */

/* The hash of a KDF by its Nh, named as OpenSSL wants it (a char *, which
 * is why these are writable arrays). */
static char *kdf_digest(const struct pdm_kdf_alg *kdf)
{
    static char sha256[] = "SHA256", sha384[] = "SHA384", sha512[] = "SHA512";
    return kdf->nh == 32 ? sha256 : kdf->nh == 48 ? sha384 : sha512;
}

/* A new HMAC context keyed with key; NULL on failure. */
static EVP_MAC_CTX *hmac_new(const struct pdm_kdf_alg *kdf, const uint8_t *key, size_t key_len)
{
    OSSL_PARAM params[2];
    EVP_MAC *mac;
    EVP_MAC_CTX *ctx;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, kdf_digest(kdf), 0);
    params[1] = OSSL_PARAM_construct_end();
    if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
        return NULL;
    ctx = EVP_MAC_CTX_new(mac); /* holds its own reference to mac */
    EVP_MAC_free(mac);
    if (ctx != NULL && !EVP_MAC_init(ctx, key, key_len, params)) {
        EVP_MAC_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

static int mac_update_iov(EVP_MAC_CTX *ctx, const struct pdm_iov *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].len != 0 && !EVP_MAC_update(ctx, v[i].base, v[i].len))
            return PDM_ERR_CRYPTO;
    return 0;
}

/* RFC 5869 §2.2. */
static int hkdf_extract(const struct pdm_kdf_alg *kdf, const uint8_t *salt, size_t salt_len,
                        const struct pdm_iov *ikm, size_t n, uint8_t *prk)
{
    static const uint8_t zeros[PDM_HPKE_NH_MAX];
    EVP_MAC_CTX *ctx = NULL;
    size_t outl = 0;
    int rv;

    if (salt_len == 0) {
        salt = zeros; /* "if not provided, it is set to a string of HashLen zeros" */
        salt_len = kdf->nh;
    }
    if ((ctx = hmac_new(kdf, salt, salt_len)) == NULL) {
        rv = PDM_ERR_CRYPTO;
        goto out;
    }
    if ((rv = mac_update_iov(ctx, ikm, n)) != 0)
        goto out;
    if (!EVP_MAC_final(ctx, prk, &outl, kdf->nh) || outl != kdf->nh) {
        rv = PDM_ERR_CRYPTO;
        goto out;
    }
    rv = 0;
out:
    if (rv != 0)
        OPENSSL_cleanse(prk, kdf->nh);
    EVP_MAC_CTX_free(ctx); /* the provider cleanses its key copy */
    return rv;
}

/*
 * RFC 5869 §2.3: T(0) = "", T(i) = HMAC(PRK, T(i-1) || info || i),
 * out = first out_len bytes of T(1) || T(2) || ...
 * One MAC context serves every block: EVP_MAC_init with a NULL key
 * restarts it under the same key.
 */
static int hkdf_expand(const struct pdm_kdf_alg *kdf, const uint8_t *prk, size_t prk_len,
                       const struct pdm_iov *info, size_t n, uint8_t *out, size_t out_len)
{
    uint8_t t[PDM_HPKE_NH_MAX];
    size_t tlen = 0, done = 0, outl;
    EVP_MAC_CTX *ctx = NULL;
    uint8_t counter = 0;
    int rv;

    if (out_len == 0 || out_len > 255 * kdf->nh)
        return PDM_ERR_INVAL;
    if ((ctx = hmac_new(kdf, prk, prk_len)) == NULL) {
        rv = PDM_ERR_CRYPTO;
        goto out;
    }
    while (done < out_len) {
        size_t take = out_len - done < kdf->nh ? out_len - done : kdf->nh;

        counter++;
        if (counter > 1 && !EVP_MAC_init(ctx, NULL, 0, NULL)) {
            rv = PDM_ERR_CRYPTO;
            goto out;
        }
        if ((tlen != 0 && !EVP_MAC_update(ctx, t, tlen)) ||
            (rv = mac_update_iov(ctx, info, n)) != 0 || !EVP_MAC_update(ctx, &counter, 1)) {
            rv = PDM_ERR_CRYPTO;
            goto out;
        }
        outl = 0;
        if (!EVP_MAC_final(ctx, t, &outl, sizeof t) || outl != kdf->nh) {
            rv = PDM_ERR_CRYPTO;
            goto out;
        }
        tlen = outl;
        memcpy(out + done, t, take);
        done += take;
    }
    rv = 0;
out:
    if (rv != 0)
        OPENSSL_cleanse(out, out_len);
    OPENSSL_cleanse(t, sizeof t);
    EVP_MAC_CTX_free(ctx);
    return rv;
}

int pdm_sha256(const struct pdm_iov *in, size_t n, uint8_t out[PDM_SHA256_SIZE])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int outl = 0;
    int rv = PDM_ERR_CRYPTO;

    if (ctx == NULL || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
        goto out;
    for (size_t i = 0; i < n; i++)
        if (in[i].len != 0 && !EVP_DigestUpdate(ctx, in[i].base, in[i].len))
            goto out;
    if (!EVP_DigestFinal_ex(ctx, out, &outl) || outl != PDM_SHA256_SIZE)
        goto out;
    rv = 0;
out:
    EVP_MD_CTX_free(ctx);
    return rv;
}

/* ------------------------------------------------------------------ */
/* AEAD                                                                 */
/* ------------------------------------------------------------------ */

static char name_aead_tag[] = OSSL_CIPHER_PARAM_AEAD_TAG;

/*
 * tag_param points at tag (nt bytes): seal reads the tag into it, open
 * writes the received tag there first, so that pt may equal ct. Built once
 * in aead_ctx_new; the struct is heap-allocated, so the pointer stays valid.
 */
struct pdm_aead_ctx {
    const struct pdm_aead_alg *alg;
    EVP_CIPHER_CTX *evp;
    uint8_t tag[PDM_HPKE_NT_MAX];
    OSSL_PARAM tag_param[2];
};

static const EVP_CIPHER *aead_cipher(uint16_t id)
{
    switch (id) {
    case PDM_HPKE_AEAD_AES_128_GCM:
        return EVP_aes_128_gcm();
    case PDM_HPKE_AEAD_AES_256_GCM:
        return EVP_aes_256_gcm();
    case PDM_HPKE_AEAD_CHACHA20POLY1305:
        return EVP_chacha20_poly1305();
    default:
        return NULL;
    }
}

static void aead_ctx_free(struct pdm_aead_ctx *ctx)
{
    if (ctx == NULL)
        return;
    EVP_CIPHER_CTX_free(ctx->evp); /* cleanses the key schedule */
    free(ctx);
}

static int aead_ctx_new(const struct pdm_aead_alg *alg, const uint8_t *key,
                        struct pdm_aead_ctx **out)
{
    const EVP_CIPHER *cipher = aead_cipher(alg->id);
    struct pdm_aead_ctx *ctx;

    *out = NULL;
    if (cipher == NULL)
        return PDM_ERR_UNSUPPORTED;
    if ((ctx = calloc(1, sizeof *ctx)) == NULL)
        return PDM_ERR_NOMEM;
    ctx->alg = alg;
    ctx->tag_param[0] = OSSL_PARAM_construct_octet_string(name_aead_tag, ctx->tag, alg->nt);
    ctx->tag_param[1] = OSSL_PARAM_construct_end();
    if (alg->nt > sizeof ctx->tag || (ctx->evp = EVP_CIPHER_CTX_new()) == NULL) {
        free(ctx);
        return PDM_ERR_NOMEM;
    }
    /* Key now, nonce per message. All three AEADs default to 12-byte nonces. */
    if (!EVP_CipherInit_ex(ctx->evp, cipher, NULL, key, NULL, 1) ||
        EVP_CIPHER_CTX_get_iv_length(ctx->evp) != (int)alg->nn) {
        aead_ctx_free(ctx);
        return PDM_ERR_CRYPTO;
    }
    *out = ctx;
    return 0;
}

static int aead_seal(struct pdm_aead_ctx *ctx, const uint8_t *nonce, const uint8_t *aad,
                     size_t aad_len, const uint8_t *pt, size_t pt_len, uint8_t *ct)
{
    EVP_CIPHER_CTX *evp = ctx->evp;
    size_t nt = ctx->alg->nt;
    int n;

    if (aad_len > INT_MAX || pt_len > (size_t)INT_MAX)
        return PDM_ERR_INVAL;
    if (!EVP_CipherInit_ex(evp, NULL, NULL, NULL, nonce, 1))
        return PDM_ERR_CRYPTO;
    if (aad_len != 0 && !EVP_CipherUpdate(evp, NULL, &n, aad, (int)aad_len))
        return PDM_ERR_CRYPTO;
    if (pt_len != 0 && (!EVP_CipherUpdate(evp, ct, &n, pt, (int)pt_len) || n != (int)pt_len))
        return PDM_ERR_CRYPTO;
    /* (The ChaCha20-Poly1305 provider fills the tag without setting
     * return_size: only the call's result tells success.) */
    if (!EVP_CipherFinal_ex(evp, ct + pt_len, &n) || n != 0 ||
        !EVP_CIPHER_CTX_get_params(evp, ctx->tag_param))
        return PDM_ERR_CRYPTO;
    memcpy(ct + pt_len, ctx->tag, nt);
    return 0;
}

/* EVP decrypts before it checks the tag: the plaintext is wiped on failure. */
static int aead_open(struct pdm_aead_ctx *ctx, const uint8_t *nonce, const uint8_t *aad,
                     size_t aad_len, const uint8_t *ct, size_t ct_len, uint8_t *pt)
{
    EVP_CIPHER_CTX *evp = ctx->evp;
    size_t nt = ctx->alg->nt, pt_len;
    int n, rv;

    if (ct_len < nt)
        return PDM_ERR_AUTH; /* no room for a tag: nothing is written */
    pt_len = ct_len - nt;
    if (aad_len > INT_MAX || pt_len > (size_t)INT_MAX)
        return PDM_ERR_INVAL;
    memcpy(ctx->tag, ct + pt_len, nt); /* before pt (which may be ct) is written */
    /* The tag is set after the init: the providers take it only once the
     * context is in decrypt mode. */
    if (!EVP_CipherInit_ex(evp, NULL, NULL, NULL, nonce, 0) ||
        !EVP_CIPHER_CTX_set_params(evp, ctx->tag_param) ||
        (aad_len != 0 && !EVP_CipherUpdate(evp, NULL, &n, aad, (int)aad_len)) ||
        (pt_len != 0 && (!EVP_CipherUpdate(evp, pt, &n, ct, (int)pt_len) || n != (int)pt_len))) {
        rv = PDM_ERR_CRYPTO;
        goto out;
    }
    rv = EVP_CipherFinal_ex(evp, pt + pt_len, &n) ? 0 : PDM_ERR_AUTH;
out:
    if (rv != 0)
        OPENSSL_cleanse(pt, pt_len);
    return rv;
}

/* ------------------------------------------------------------------ */
/* Diffie-Hellman groups                                                */
/* ------------------------------------------------------------------ */

/* The P-curves: group name (a char * for OSSL_PARAM) and NID by KEM. */
static struct ec_curve {
    uint16_t kem_id;
    int nid;
    char name[8];
} ec_curves[] = {
    {PDM_HPKE_KEM_P256_SHA256, NID_X9_62_prime256v1, "P-256"},
    {PDM_HPKE_KEM_P384_SHA384, NID_secp384r1, "P-384"},
    {PDM_HPKE_KEM_P521_SHA512, NID_secp521r1, "P-521"},
};

static struct ec_curve *ec_curve(const struct pdm_kem_alg *kem)
{
    size_t n = sizeof ec_curves / sizeof ec_curves[0];

    for (size_t i = 0; i < n; i++)
        if (ec_curves[i].kem_id == kem->id)
            return &ec_curves[i];
    return &ec_curves[n - 1]; /* only the P-curve KEMs call this */
}

static char *ec_group_name(const struct pdm_kem_alg *kem)
{
    return ec_curve(kem)->name;
}

static int ec_nid(const struct pdm_kem_alg *kem)
{
    return ec_curve(kem)->nid;
}

/* DH(self, peer) into out (kem->ndh bytes). */
static int pkey_derive(const struct pdm_kem_alg *kem, EVP_PKEY *self, EVP_PKEY *peer, uint8_t *out)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, self, NULL);
    size_t len = kem->ndh;
    int rv = PDM_ERR_CRYPTO;

    /*
     * validate_peer 0: the peer key was validated when it was imported (on
     * the curve, coordinates below p, not the identity; all four groups
     * here have cofactor 1 or clamp, so that is RFC 9180 §7.1.4's check).
     * The default full check would add a scalar multiplication per DH.
     */
    if (ctx == NULL || EVP_PKEY_derive_init(ctx) <= 0 ||
        EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) <= 0)
        goto out;
    if (EVP_PKEY_derive(ctx, out, &len) <= 0) {
        /* X25519 (bitmask 0): OpenSSL refuses an all-zero result, which
         * a low-order peer point gives (RFC 7748 §6.1). */
        rv = kem->bitmask == 0 ? PDM_ERR_KEY : PDM_ERR_CRYPTO;
        goto out;
    }
    if (len != kem->ndh)
        goto out;
    rv = 0;
out:
    EVP_PKEY_CTX_free(ctx);
    return rv;
}

/* -- X25519 (RFC 7748), DHKEM §7.1 -- */

static int x25519_pk_from_sk(const struct pdm_kem_alg *kem, const uint8_t *sk, uint8_t *pk)
{
    EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, kem->nsk);
    size_t len = kem->npk;
    int rv = PDM_ERR_CRYPTO;

    if (key != NULL && EVP_PKEY_get_raw_public_key(key, pk, &len) && len == kem->npk)
        rv = 0;
    EVP_PKEY_free(key);
    return rv;
}

/* Any 32 bytes decode (RFC 7748 §5); low-order points are caught in dh. */
static int x25519_check_pk(const struct pdm_kem_alg *kem, const uint8_t *pk, size_t pk_len)
{
    (void)pk;
    return pk_len == kem->npk ? 0 : PDM_ERR_KEY;
}

/*
 * A new EVP_PKEY of key type `type` ("X25519", "EC") from params, for
 * selection (EVP_PKEY_KEYPAIR or EVP_PKEY_PUBLIC_KEY). Returns 0,
 * PDM_ERR_CRYPTO when the backend fails, or `refused` when the import
 * itself refuses the values (a point off the curve, say).
 */
static int pkey_fromdata(const char *type, OSSL_PARAM *params, int selection, int refused,
                         EVP_PKEY **out)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    int rv = PDM_ERR_CRYPTO;

    *out = NULL;
    if (ctx != NULL && EVP_PKEY_fromdata_init(ctx) > 0)
        rv = EVP_PKEY_fromdata(ctx, out, selection, params) > 0 ? 0 : refused;
    EVP_PKEY_CTX_free(ctx);
    return rv;
}

/*
 * The private key as an EVP_PKEY. EVP_PKEY_new_raw_private_key would
 * recompute the public key (a second scalar multiplication, about 30 us);
 * importing it alongside the private key skips that. The public key only
 * travels with the key object: X25519 derives from the private key alone.
 */
static int x25519_pkey_from_priv(const struct pdm_kem_alg *kem, const uint8_t *sk,
                                 const uint8_t *pk, EVP_PKEY **out)
{
    uint8_t skbuf[32], pkbuf[32];
    OSSL_PARAM params[3];
    int rv;

    memcpy(skbuf, sk, sizeof skbuf); /* OSSL_PARAM wants non-const buffers */
    memcpy(pkbuf, pk, sizeof pkbuf);
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, skbuf, kem->nsk);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pkbuf, kem->npk);
    params[2] = OSSL_PARAM_construct_end();
    rv = pkey_fromdata("X25519", params, EVP_PKEY_KEYPAIR, PDM_ERR_CRYPTO, out);
    OPENSSL_cleanse(skbuf, sizeof skbuf);
    return rv;
}

static int x25519_dh(const struct pdm_kem_alg *kem, const uint8_t *sk, const uint8_t *own_pk,
                     const uint8_t *pk, size_t pk_len, uint8_t *out)
{
    EVP_PKEY *self = NULL, *peer = NULL;
    uint8_t acc = 0;
    int rv;

    if (pk_len != kem->npk) {
        rv = PDM_ERR_KEY;
        goto out;
    }
    if ((rv = x25519_pkey_from_priv(kem, sk, own_pk, &self)) != 0)
        goto out;
    if ((peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pk, pk_len)) == NULL) {
        rv = PDM_ERR_CRYPTO;
        goto out;
    }
    if ((rv = pkey_derive(kem, self, peer, out)) != 0)
        goto out;
    /* RFC 9180 §7.1.4: refuse the all-zero value (checked again here, in
     * constant time, rather than trusting the backend alone). */
    for (size_t i = 0; i < kem->ndh; i++)
        acc |= out[i];
    rv = acc == 0 ? PDM_ERR_KEY : 0;
out:
    if (rv != 0)
        OPENSSL_cleanse(out, kem->ndh);
    EVP_PKEY_free(self); /* frees cleanse private keys */
    EVP_PKEY_free(peer);
    return rv;
}

/* -- NIST P-curves (SEC 1), DHKEM §7.1 -- */

/*
 * An EVP_PKEY from a serialized public key, validated (§7.1.4):
 *
 *     0x04 || X (Nsk') || Y (Nsk')      Npk = 1 + 2 * field size
 *
 * Only the uncompressed form is accepted; the one-byte identity encoding
 * (0x00) fails the length check. The import (EC_POINT_oct2point) refuses
 * X or Y >= p and points not on the curve.
 */
static int ec_pkey_from_pub(const struct pdm_kem_alg *kem, const uint8_t *pk, size_t pk_len,
                            EVP_PKEY **out)
{
    uint8_t buf[PDM_HPKE_NPK_MAX];
    OSSL_PARAM params[3];

    *out = NULL;
    if (pk_len != kem->npk || pk[0] != 0x04)
        return PDM_ERR_KEY;
    memcpy(buf, pk, pk_len); /* OSSL_PARAM wants a non-const buffer */
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, ec_group_name(kem), 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, buf, pk_len);
    params[2] = OSSL_PARAM_construct_end();
    return pkey_fromdata("EC", params, EVP_PKEY_PUBLIC_KEY, PDM_ERR_KEY, out);
}

/* An EVP_PKEY from a private scalar (nsk bytes, big-endian), no public point. */
static int ec_pkey_from_priv(const struct pdm_kem_alg *kem, const uint8_t *sk, EVP_PKEY **out)
{
    uint8_t native[PDM_HPKE_NSK_MAX];
    OSSL_PARAM params[3];
    BIGNUM *d = NULL;
    int rv = PDM_ERR_CRYPTO;

    *out = NULL;
    /* OSSL_PARAM integers are in host byte order: go through a BIGNUM. */
    if ((d = BN_secure_new()) == NULL || BN_bin2bn(sk, (int)kem->nsk, d) == NULL ||
        BN_bn2nativepad(d, native, (int)kem->nsk) != (int)kem->nsk)
        goto out;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, ec_group_name(kem), 0);
    params[1] = OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_PRIV_KEY, native, kem->nsk);
    params[2] = OSSL_PARAM_construct_end();
    rv = pkey_fromdata("EC", params, EVP_PKEY_KEYPAIR, PDM_ERR_CRYPTO, out);
out:
    OPENSSL_cleanse(native, sizeof native);
    BN_clear_free(d);
    return rv;
}

/* pk = sk * G, serialized uncompressed; PDM_ERR_KEY unless 0 < sk < order. */
static int ec_pk_from_sk(const struct pdm_kem_alg *kem, const uint8_t *sk, uint8_t *pk)
{
    EC_GROUP *group = NULL;
    EC_POINT *point = NULL;
    BN_CTX *bnctx = NULL;
    BIGNUM *d = NULL;
    int rv = PDM_ERR_CRYPTO;

    if ((group = EC_GROUP_new_by_curve_name(ec_nid(kem))) == NULL ||
        (bnctx = BN_CTX_secure_new()) == NULL || (d = BN_secure_new()) == NULL ||
        BN_bin2bn(sk, (int)kem->nsk, d) == NULL)
        goto out;
    BN_set_flags(d, BN_FLG_CONSTTIME);
    /* The DeriveKeyPair rejection test (§7.1.3): sk == 0 or sk >= order. */
    if (BN_is_zero(d) || BN_cmp(d, EC_GROUP_get0_order(group)) >= 0) {
        rv = PDM_ERR_KEY;
        goto out;
    }
    if ((point = EC_POINT_new(group)) == NULL ||
        !EC_POINT_mul(group, point, d, NULL, NULL, bnctx) ||
        EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, pk, kem->npk, bnctx) !=
            kem->npk)
        goto out;
    rv = 0;
out:
    EC_POINT_free(point);
    BN_clear_free(d);
    BN_CTX_free(bnctx);
    EC_GROUP_free(group);
    return rv;
}

static int ec_check_pk(const struct pdm_kem_alg *kem, const uint8_t *pk, size_t pk_len)
{
    EVP_PKEY *key = NULL;
    int rv = ec_pkey_from_pub(kem, pk, pk_len, &key);

    EVP_PKEY_free(key);
    return rv;
}

/* own_pk is not needed: an imported EC private key carries no public point. */
static int ec_dh(const struct pdm_kem_alg *kem, const uint8_t *sk, const uint8_t *own_pk,
                 const uint8_t *pk, size_t pk_len, uint8_t *out)
{
    EVP_PKEY *self = NULL, *peer = NULL;
    int rv;

    (void)own_pk;
    if ((rv = ec_pkey_from_pub(kem, pk, pk_len, &peer)) != 0)
        goto out;
    if ((rv = ec_pkey_from_priv(kem, sk, &self)) != 0)
        goto out;
    rv = pkey_derive(kem, self, peer, out); /* x-coordinate, padded to ndh */
out:
    if (rv != 0)
        OPENSSL_cleanse(out, kem->ndh);
    EVP_PKEY_free(self);
    EVP_PKEY_free(peer);
    return rv;
}

/* ------------------------------------------------------------------ */
/* Descriptor tables                                                    */
/* ------------------------------------------------------------------ */

#define KDF_ALG(ident, hashsize, label)                                                            \
    {                                                                                              \
        .id = (ident), .nh = (hashsize), .name = (label), .extract = hkdf_extract,                 \
        .expand = hkdf_expand,                                                                     \
    }
static const struct pdm_kdf_alg kdf_sha256 = KDF_ALG(PDM_HPKE_KDF_HKDF_SHA256, 32, "HKDF-SHA256");
static const struct pdm_kdf_alg kdf_sha384 = KDF_ALG(PDM_HPKE_KDF_HKDF_SHA384, 48, "HKDF-SHA384");
static const struct pdm_kdf_alg kdf_sha512 = KDF_ALG(PDM_HPKE_KDF_HKDF_SHA512, 64, "HKDF-SHA512");

#define AEAD_ALG(ident, keysize, label)                                                            \
    {                                                                                              \
        .id = (ident), .nk = (keysize), .nn = 12, .nt = 16, .name = (label),                       \
        .ctx_new = aead_ctx_new, .seal = aead_seal, .open = aead_open, .ctx_free = aead_ctx_free,  \
    }
static const struct pdm_aead_alg aead_aes128gcm =
    AEAD_ALG(PDM_HPKE_AEAD_AES_128_GCM, 16, "AES-128-GCM");
static const struct pdm_aead_alg aead_aes256gcm =
    AEAD_ALG(PDM_HPKE_AEAD_AES_256_GCM, 32, "AES-256-GCM");
static const struct pdm_aead_alg aead_chacha =
    AEAD_ALG(PDM_HPKE_AEAD_CHACHA20POLY1305, 32, "ChaCha20Poly1305");
/* Export-only (§7.3): sizes 0, no functions; HPKE refuses Seal/Open. */
static const struct pdm_aead_alg aead_export_only = {
    .id = PDM_HPKE_AEAD_EXPORT_ONLY,
    .name = "Export-only",
};

/*
 * A DHKEM (§7.1): Nsecret is Nh of its KDF; Nenc is Npk (the serialized
 * ephemeral public key); one DH output is Nsk bytes (the x-coordinate on
 * the P-curves). fam is ec or x25519, the prefix of its functions above.
 */
#define DHKEM_ALG(ident, label, kdf_alg, nh, pk_size, sk_size, mask, fam)                          \
    {                                                                                              \
        .id = (ident), .name = (label), .kdf = (kdf_alg), .nsecret = (nh), .nenc = (pk_size),      \
        .npk = (pk_size), .nsk = (sk_size), .ndh = (sk_size), .bitmask = (mask),                   \
        .pk_from_sk = fam##_pk_from_sk, .check_pk = fam##_check_pk, .dh = fam##_dh,                \
    }
static const struct pdm_kem_alg kem_p256 = DHKEM_ALG(
    PDM_HPKE_KEM_P256_SHA256, "DHKEM(P-256, HKDF-SHA256)", &kdf_sha256, 32, 65, 32, 0xFF, ec);
static const struct pdm_kem_alg kem_p384 = DHKEM_ALG(
    PDM_HPKE_KEM_P384_SHA384, "DHKEM(P-384, HKDF-SHA384)", &kdf_sha384, 48, 97, 48, 0xFF, ec);
static const struct pdm_kem_alg kem_p521 = DHKEM_ALG(
    PDM_HPKE_KEM_P521_SHA512, "DHKEM(P-521, HKDF-SHA512)", &kdf_sha512, 64, 133, 66, 0x01, ec);
static const struct pdm_kem_alg kem_x25519 = DHKEM_ALG(
    PDM_HPKE_KEM_X25519_SHA256, "DHKEM(X25519, HKDF-SHA256)", &kdf_sha256, 32, 32, 32, 0, x25519);

static const struct pdm_kdf_alg *const kdfs[] = {&kdf_sha256, &kdf_sha384, &kdf_sha512};
static const struct pdm_aead_alg *const aeads[] = {&aead_aes128gcm, &aead_aes256gcm, &aead_chacha,
                                                   &aead_export_only};
static const struct pdm_kem_alg *const kems[] = {&kem_p256, &kem_p384, &kem_p521, &kem_x25519};

#define NELEMS(a) (sizeof(a) / sizeof(a)[0])

const struct pdm_kdf_alg *pdm_kdf_find(uint16_t id)
{
    for (size_t i = 0; i < NELEMS(kdfs); i++)
        if (kdfs[i]->id == id)
            return kdfs[i];
    return NULL;
}

const struct pdm_aead_alg *pdm_aead_find(uint16_t id)
{
    for (size_t i = 0; i < NELEMS(aeads); i++)
        if (aeads[i]->id == id)
            return aeads[i];
    return NULL;
}

const struct pdm_kem_alg *pdm_kem_find(uint16_t id)
{
    for (size_t i = 0; i < NELEMS(kems); i++)
        if (kems[i]->id == id)
            return kems[i];
    return NULL;
}
