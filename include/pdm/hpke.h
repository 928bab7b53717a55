/*
 * openpdm: Hybrid Public Key Encryption, RFC 9180 (all four modes).
 *
 * Suites: KEMs DHKEM(P-256, HKDF-SHA256) 0x0010, DHKEM(P-384, HKDF-SHA384)
 * 0x0011, DHKEM(P-521, HKDF-SHA512) 0x0012, DHKEM(X25519, HKDF-SHA256) 0x0020;
 * KDFs HKDF-SHA256/384/512 (0x0001..0x0003); AEADs AES-128-GCM 0x0001,
 * AES-256-GCM 0x0002, ChaCha20Poly1305 0x0003 and export-only 0xFFFF.
 *
 * Sans-IO: nothing here draws randomness. The ephemeral key of SetupS comes
 * from a struct pdm_hpke_eph: a fixed ikm (tests, known answers) or a
 * callback that the caller wires to its random source. Long-term keys come
 * from pdm_hpke_keygen(ikm) (DeriveKeyPair) with ikm from the same place.
 *
 * Argument order: the object first (context, key), inputs next, outputs
 * last as (buffer, capacity). Functions return 0 or a byte count, or a
 * negative PDM_ERR_* code (include/pdm/common.h). Secrets on the stack are
 * wiped on every path; a failed call leaves its outputs zeroed or untouched,
 * never half-written with secret material.
 *
 * Errors common to most functions: PDM_ERR_UNSUPPORTED (unknown KEM, KDF or
 * AEAD id), PDM_ERR_INVAL (NULL where an argument is required, a key of
 * another KEM, a missing private key, sizes out of range), PDM_ERR_NOBUF
 * (output buffer too small), PDM_ERR_KEY (a public key fails RFC 9180
 * §7.1.4 validation, or an X25519 Diffie-Hellman gives all zeros),
 * PDM_ERR_CRYPTO (the crypto backend failed), PDM_ERR_NOMEM (setup only).
 */
#ifndef PDM_HPKE_H
#define PDM_HPKE_H

#include <pdm/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Identifiers, RFC 9180 §7.1-§7.3. */
#define PDM_HPKE_KEM_P256_SHA256       0x0010
#define PDM_HPKE_KEM_P384_SHA384       0x0011
#define PDM_HPKE_KEM_P521_SHA512       0x0012
#define PDM_HPKE_KEM_X25519_SHA256     0x0020
#define PDM_HPKE_KDF_HKDF_SHA256       0x0001
#define PDM_HPKE_KDF_HKDF_SHA384       0x0002
#define PDM_HPKE_KDF_HKDF_SHA512       0x0003
#define PDM_HPKE_AEAD_AES_128_GCM      0x0001
#define PDM_HPKE_AEAD_AES_256_GCM      0x0002
#define PDM_HPKE_AEAD_CHACHA20POLY1305 0x0003
#define PDM_HPKE_AEAD_EXPORT_ONLY      0xFFFF

/* Largest sizes over the supported algorithms (P-521 / SHA-512 / AES-256). */
#define PDM_HPKE_NSECRET_MAX 64  /* KEM shared secret */
#define PDM_HPKE_NENC_MAX    133 /* encapsulated key: 0x04 || X || Y on P-521 */
#define PDM_HPKE_NPK_MAX     133 /* serialized public key */
#define PDM_HPKE_NSK_MAX     66  /* serialized private key */
#define PDM_HPKE_NH_MAX      64  /* KDF output (Extract) */
#define PDM_HPKE_NK_MAX      32  /* AEAD key */
#define PDM_HPKE_NN_MAX      12  /* AEAD nonce */
#define PDM_HPKE_NT_MAX      16  /* AEAD tag */

/* "HPKE" || I2OSP(kem_id, 2) || I2OSP(kdf_id, 2) || I2OSP(aead_id, 2) (§5.1). */
#define PDM_HPKE_SUITE_ID_SIZE 10

/* Smallest PSK accepted: §9.5 asks for at least 32 bytes of entropy. */
#define PDM_HPKE_PSK_MIN 32

/* Modes, §5. */
enum pdm_hpke_mode {
    PDM_HPKE_MODE_BASE = 0,
    PDM_HPKE_MODE_PSK = 1,
    PDM_HPKE_MODE_AUTH = 2,
    PDM_HPKE_MODE_AUTH_PSK = 3,
};

struct pdm_hpke_suite {
    uint16_t kem_id;
    uint16_t kdf_id;
    uint16_t aead_id;
};

/* The RFC 9180 sizes of a suite (Nt is 0 for export-only, as are Nk, Nn). */
struct pdm_hpke_sizes {
    size_t nsecret, nenc, npk, nsk; /* KEM */
    size_t nh;                      /* KDF */
    size_t nk, nn, nt;              /* AEAD */
};

/*
 * A KEM key pair, or a public key alone (has_sk 0). Built only by the
 * functions below; the fields are readable. sk holds Nsk bytes as
 * DeriveKeyPair produced them (for X25519 not yet clamped: X25519 clamps on
 * use, and pdm_hpke_privkey_serialize clamps as §7.1.2 asks); pk holds the
 * Npk-byte SerializePublicKey form (uncompressed 0x04 || X || Y on P-curves).
 * Wipe with pdm_hpke_key_wipe.
 */
struct pdm_hpke_key {
    uint16_t kem_id;
    uint8_t has_sk;
    uint8_t sk[PDM_HPKE_NSK_MAX];
    uint8_t pk[PDM_HPKE_NPK_MAX];
};

/*
 * Where SetupS / Seal take the ephemeral key from: DeriveKeyPair(ikm) with
 * the caller's ikm when ikm is set (ikm_len >= Nsk: known-answer tests),
 * else DeriveKeyPair of Nsk bytes that rand(rand_arg, out, Nsk) writes
 * (rand returns 0 on success). The ikm of a real sender must be fresh random
 * bytes every time: reusing it reuses the ephemeral key.
 */
struct pdm_hpke_eph {
    const uint8_t *ikm;
    size_t ikm_len;
    int (*rand)(void *rand_arg, uint8_t *out, size_t n);
    void *rand_arg;
};

/*
 * Inputs that both sides of a setup share (§5.1). psk and psk_id are given
 * (both non-empty) exactly in the psk and auth_psk modes; psk is at least
 * PDM_HPKE_PSK_MIN bytes. sender is the sender's static key in the auth and
 * auth_psk modes (with its private key for SetupS, its public key is enough
 * for SetupR) and NULL in the others. info may be empty.
 */
struct pdm_hpke_params {
    struct pdm_hpke_suite suite;
    enum pdm_hpke_mode mode;
    const uint8_t *info;
    size_t info_len;
    const uint8_t *psk;
    size_t psk_len;
    const uint8_t *psk_id;
    size_t psk_id_len;
    const struct pdm_hpke_key *sender;
};

/* Backend types (lib/crypto.h); callers never look inside. */
struct pdm_kdf_alg;
struct pdm_aead_alg;
struct pdm_aead_ctx;

/*
 * An encryption context (§5.2): made by pdm_hpke_setup_s (seals) or
 * pdm_hpke_setup_r (opens), released by pdm_hpke_ctx_free. Fields are
 * readable (tests compare key, base_nonce and exporter_secret with known
 * answers) but only these functions change them. A zeroed struct is a valid
 * "no context" that pdm_hpke_ctx_free accepts. key[0..nk), base_nonce[0..nn),
 * exporter_secret[0..nh) are meaningful; seq is the next sequence number.
 */
struct pdm_hpke_ctx {
    struct pdm_hpke_suite suite;
    uint8_t role; /* 0 none, 1 sender, 2 receiver */
    uint64_t seq;
    const struct pdm_kdf_alg *kdf;
    const struct pdm_aead_alg *aead;
    struct pdm_aead_ctx *actx; /* AEAD keyed once with key; NULL for export-only */
    uint8_t key[PDM_HPKE_NK_MAX];
    uint8_t base_nonce[PDM_HPKE_NN_MAX];
    uint8_t exporter_secret[PDM_HPKE_NH_MAX];
};

/* Fills *out with the sizes of suite. Returns 0 or PDM_ERR_UNSUPPORTED. */
PDM_EXTERN PDM_WARN_UNUSED int pdm_hpke_suite_sizes(struct pdm_hpke_suite suite,
                                                    struct pdm_hpke_sizes *out);

/* Writes the 10-byte HPKE suite_id of suite (§5.1); ids are not checked. */
PDM_EXTERN void pdm_hpke_suite_id(struct pdm_hpke_suite suite, uint8_t out[PDM_HPKE_SUITE_ID_SIZE]);

/*
 * LabeledExtract(salt, label, ikm) of §4 with the suite's KDF and its HPKE
 * suite_id: HKDF-Extract(salt, "HPKE-v1" || suite_id || label || ikm).
 * label is a NUL-terminated ASCII string; salt may be empty (Nh zero bytes).
 * prk_len must equal Nh. The PDMv2 profile derives its flow keys with this
 * (docs/profile.md §3). Returns 0, PDM_ERR_INVAL, PDM_ERR_UNSUPPORTED (KDF),
 * PDM_ERR_CRYPTO.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_hpke_labeled_extract(struct pdm_hpke_suite suite,
                                                        const uint8_t *salt, size_t salt_len,
                                                        const char *label, const uint8_t *ikm,
                                                        size_t ikm_len, uint8_t *prk,
                                                        size_t prk_len);

/*
 * LabeledExpand(prk, label, info, L) of §4: HKDF-Expand(prk,
 * I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info, L). prk_len must
 * equal Nh; 1 <= L <= 255 * Nh. Returns 0, PDM_ERR_INVAL,
 * PDM_ERR_UNSUPPORTED (KDF), PDM_ERR_CRYPTO.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_hpke_labeled_expand(struct pdm_hpke_suite suite,
                                                       const uint8_t *prk, size_t prk_len,
                                                       const char *label, const uint8_t *info,
                                                       size_t info_len, uint8_t *out, size_t L);

/*
 * DeriveKeyPair(ikm) of §7.1.3 into *key (sk and pk). ikm must hold at least
 * Nsk bytes, and as much entropy. Returns 0, PDM_ERR_UNSUPPORTED,
 * PDM_ERR_INVAL, PDM_ERR_KEY (P-curves: 256 candidates all rejected, which
 * does not happen in practice), PDM_ERR_CRYPTO. *key is wiped on failure.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_hpke_keygen(uint16_t kem_id, const uint8_t *ikm, size_t ikm_len,
                                               struct pdm_hpke_key *key);

/*
 * DeserializePrivateKey (§7.1.2; X25519 input is clamped) and the matching
 * public key, into *key. sk_len must be Nsk. Returns 0, PDM_ERR_UNSUPPORTED,
 * PDM_ERR_INVAL, PDM_ERR_KEY (P-curves: scalar 0 or not below the group
 * order), PDM_ERR_CRYPTO. *key is wiped on failure.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_hpke_pubkey_from_priv(uint16_t kem_id, const uint8_t *sk,
                                                         size_t sk_len, struct pdm_hpke_key *key);

/*
 * DeserializePublicKey with validation (§7.1.4) into *key (has_sk 0):
 * P-curves need Npk bytes 0x04 || X || Y with X, Y below p and the point on
 * the curve (so never the identity); X25519 needs 32 bytes (a low-order
 * point is caught when a DH with it gives all zeros). Returns 0,
 * PDM_ERR_UNSUPPORTED, PDM_ERR_INVAL, PDM_ERR_KEY, PDM_ERR_CRYPTO.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_hpke_pubkey_deserialize(uint16_t kem_id, const uint8_t *pk,
                                                           size_t pk_len, struct pdm_hpke_key *key);

/* SerializePublicKey: writes Npk bytes. Returns Npk, PDM_ERR_INVAL,
 * PDM_ERR_UNSUPPORTED, PDM_ERR_NOBUF. */
PDM_EXTERN PDM_WARN_UNUSED int pdm_hpke_pubkey_serialize(const struct pdm_hpke_key *key,
                                                         uint8_t *out, size_t out_cap);

/* SerializePrivateKey (§7.1.2; X25519 output clamped): writes Nsk bytes.
 * Returns Nsk, PDM_ERR_INVAL (no private key), PDM_ERR_UNSUPPORTED,
 * PDM_ERR_NOBUF. */
PDM_EXTERN PDM_WARN_UNUSED int pdm_hpke_privkey_serialize(const struct pdm_hpke_key *key,
                                                          uint8_t *out, size_t out_cap);

/* Wipes *key. */
PDM_EXTERN void pdm_hpke_key_wipe(struct pdm_hpke_key *key);

/*
 * Encap(pkR) (§4.1), or AuthEncap(pkR, skS) when skS is non-NULL: writes
 * enc (Nenc bytes) and the KEM shared secret (Nsecret bytes). The ephemeral
 * key comes from *eph. Returns 0 or an error (see the top of this file);
 * the shared secret is wiped on failure.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_hpke_encap(const struct pdm_hpke_key *pkR,
                                              const struct pdm_hpke_key *skS,
                                              const struct pdm_hpke_eph *eph, uint8_t *enc,
                                              size_t enc_cap, uint8_t *shared_secret,
                                              size_t ss_cap);

/*
 * Decap(enc, skR), or AuthDecap(enc, skR, pkS) when pkS is non-NULL: writes
 * the Nsecret-byte shared secret. An enc that is not a valid public key
 * (length included) gives PDM_ERR_KEY. Returns 0 or an error.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_hpke_decap(const struct pdm_hpke_key *skR,
                                              const struct pdm_hpke_key *pkS, const uint8_t *enc,
                                              size_t enc_len, uint8_t *shared_secret,
                                              size_t ss_cap);

/*
 * SetupBaseS / SetupPSKS / SetupAuthS / SetupAuthPSKS (§5.1.1-§5.1.4, by
 * p->mode) towards pkR: writes enc (Nenc bytes) and makes *ctx a sender
 * context (the AEAD is keyed once here: allocation happens here, never in
 * Seal). *ctx is overwritten: free an earlier context first. Returns Nenc,
 * or an error with *ctx zeroed; PDM_ERR_INVAL also covers every §5.1
 * VerifyPSKInputs failure and a sender key missing or present against the
 * mode.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_hpke_setup_s(struct pdm_hpke_ctx *ctx,
                                                const struct pdm_hpke_params *p,
                                                const struct pdm_hpke_key *pkR,
                                                const struct pdm_hpke_eph *eph, uint8_t *enc,
                                                size_t enc_cap);

/*
 * The receiver's setup, SetupBaseR .. SetupAuthPSKR by p->mode, from enc
 * and skR; in the auth modes p->sender holds the sender's public key.
 * Returns 0, or an error with *ctx zeroed (PDM_ERR_KEY for a bad enc).
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_hpke_setup_r(struct pdm_hpke_ctx *ctx,
                                                const struct pdm_hpke_params *p,
                                                const struct pdm_hpke_key *skR, const uint8_t *enc,
                                                size_t enc_len);

/*
 * ContextS.Seal(aad, pt) (§5.2): writes pt_len + Nt bytes of ciphertext
 * and tag (ct may equal pt for sealing in place) and adds 1 to seq.
 * Allocates nothing. Returns pt_len + Nt, PDM_ERR_STATE (not a sender
 * context), PDM_ERR_UNSUPPORTED (export-only suite), PDM_ERR_NONCE_REUSE
 * (seq at 2^64 - 1: a new setup is needed), PDM_ERR_NOBUF, PDM_ERR_INVAL
 * (lengths beyond INT_MAX), PDM_ERR_CRYPTO.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_hpke_ctx_seal(struct pdm_hpke_ctx *ctx, const uint8_t *aad,
                                                 size_t aad_len, const uint8_t *pt, size_t pt_len,
                                                 uint8_t *ct, size_t ct_cap);

/*
 * ContextR.Open(aad, ct) (§5.2): checks the tag, writes ct_len - Nt bytes
 * of plaintext (pt may equal ct) and adds 1 to seq. On failure seq is
 * unchanged and nothing of the plaintext is left in pt. Returns
 * ct_len - Nt, PDM_ERR_AUTH (tag mismatch, or ct shorter than a tag),
 * PDM_ERR_STATE, PDM_ERR_UNSUPPORTED, PDM_ERR_NONCE_REUSE, PDM_ERR_NOBUF,
 * PDM_ERR_INVAL, PDM_ERR_CRYPTO.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_hpke_ctx_open(struct pdm_hpke_ctx *ctx, const uint8_t *aad,
                                                 size_t aad_len, const uint8_t *ct, size_t ct_len,
                                                 uint8_t *pt, size_t pt_cap);

/*
 * Context.Export(exporter_context, L) (§5.3), on either side:
 * LabeledExpand(exporter_secret, "sec", exporter_context, L), 1 <= L <=
 * 255 * Nh. Returns 0, PDM_ERR_STATE, PDM_ERR_INVAL, PDM_ERR_CRYPTO.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_hpke_ctx_export(const struct pdm_hpke_ctx *ctx,
                                                   const uint8_t *exporter_context,
                                                   size_t exporter_context_len, uint8_t *out,
                                                   size_t L);

/* Wipes *ctx and frees its AEAD context; accepts a zeroed or failed ctx. */
PDM_EXTERN void pdm_hpke_ctx_free(struct pdm_hpke_ctx *ctx);

/*
 * Single-shot Seal (§6.1): SetupS then one Seal. Writes enc (Nenc bytes)
 * and ct (pt_len + Nt bytes). Returns pt_len + Nt or an error of
 * pdm_hpke_setup_s / pdm_hpke_ctx_seal.
 */
PDM_EXTERN PDM_WARN_UNUSED int
pdm_hpke_seal(const struct pdm_hpke_params *p, const struct pdm_hpke_key *pkR,
              const struct pdm_hpke_eph *eph, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
              size_t pt_len, uint8_t *enc, size_t enc_cap, uint8_t *ct, size_t ct_cap);

/*
 * Single-shot Open (§6.1): SetupR then one Open. Returns ct_len - Nt or an
 * error of pdm_hpke_setup_r / pdm_hpke_ctx_open (PDM_ERR_AUTH, PDM_ERR_KEY).
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_hpke_open(const struct pdm_hpke_params *p,
                                             const struct pdm_hpke_key *skR, const uint8_t *enc,
                                             size_t enc_len, const uint8_t *aad, size_t aad_len,
                                             const uint8_t *ct, size_t ct_len, uint8_t *pt,
                                             size_t pt_cap);

/*
 * Single-shot export, sender side (§6.2 SendExport): SetupS then one
 * Export. Writes enc (Nenc bytes) and L exported bytes into out. Works with
 * every AEAD, export-only included. Returns 0 or an error of
 * pdm_hpke_setup_s / pdm_hpke_ctx_export (out is zeroed on failure).
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_hpke_send_export(const struct pdm_hpke_params *p,
                                                    const struct pdm_hpke_key *pkR,
                                                    const struct pdm_hpke_eph *eph,
                                                    const uint8_t *exporter_context,
                                                    size_t exporter_context_len, uint8_t *enc,
                                                    size_t enc_cap, uint8_t *out, size_t L);

/*
 * Single-shot export, receiver side (§6.2 ReceiveExport): SetupR then one
 * Export. Returns 0 or an error of pdm_hpke_setup_r / pdm_hpke_ctx_export
 * (out is zeroed on failure).
 */
PDM_EXTERN PDM_WARN_UNUSED int
pdm_hpke_receive_export(const struct pdm_hpke_params *p, const struct pdm_hpke_key *skR,
                        const uint8_t *enc, size_t enc_len, const uint8_t *exporter_context,
                        size_t exporter_context_len, uint8_t *out, size_t L);

#ifdef __cplusplus
}
#endif

#endif /* PDM_HPKE_H */
