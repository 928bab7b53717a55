/*
 * openpdm: the PDMv2 profile "pdmv2-hpke-1" (docs/profile.md §3): keys for
 * PDM data, sealing and opening encrypted PDMv2 options, key rotation on the
 * sending side, Kri tracking on the receiving side, and primary/secondary
 * client secrets. docs/crypto.md explains the choices and what an observer
 * learns.
 *
 * Layers, from the bottom:
 *
 *   struct pdm_profile_secret   suite + prk = LabeledExtract(salt,
 *                               "pdmv2 prk", SharedSecret): once per secret
 *   struct pdm_profile_key      one flow direction at one Kri: the AEAD keyed
 *                               once with STK, and BaseNonce (setup path)
 *   pdm_profile_seal/open       one 36-byte option; allocate nothing, re-key
 *                               nothing (packet path)
 *   struct pdm_profile_tx       a sender's state for one flow direction: RN
 *                               sequence, rotation, no (key, nonce) reuse
 *   struct pdm_profile_rx       a receiver's state for one flow direction:
 *                               the peer's Kri, cached keys, the Kri search
 *
 *     prk        = LabeledExtract(salt, "pdmv2 prk", SharedSecret)
 *     flow       = SrcIP(16) || SrcPort(2) || DstIP(16) || DstPort(2) ||
 *                  Protocol(1) || Kri(2)                     (39 bytes)
 *     STK        = LabeledExpand(prk, "pdmv2 key",   flow, Nk)
 *     BaseNonce  = LabeledExpand(prk, "pdmv2 nonce", flow, Nn)
 *     aad        = Type || 0x22 || 0x20 || 0x00 || I2OSP((RN << 1) | F, 2)
 *     nonce      = BaseNonce XOR I2OSP(RN, Nn)
 *     option     = aad || AEAD.Seal(STK, nonce, aad, pt)     (6 + 14 + 16)
 *
 * `flow` is the sender's view (SrcIP is the sender), so the two directions of
 * a flow never share a key. Ports count only for TCP, UDP, UDP-Lite, SCTP and
 * DCCP; for every other protocol they are written as 0 whatever the tuple
 * holds.
 *
 * Sans-IO: no clock (times are arguments, nanoseconds on any monotonic
 * clock), no randomness (the RN sequence is keyed from the secret, see
 * docs/crypto.md), no system calls. Allocation happens only where a key is
 * derived: pdm_profile_key_init (the backend's AEAD context), and the tx/rx
 * functions on a flow's first packet and at a rotation. Sealing and opening
 * under a derived key allocate nothing.
 *
 * Functions return 0 or a byte count, or a negative PDM_ERR_* code
 * (include/pdm/common.h). Secrets are wiped on every path.
 */
#ifndef PDM_PROFILE_H
#define PDM_PROFILE_H

#include <pdm/codec.h>
#include <pdm/common.h>
#include <pdm/flow.h>
#include <pdm/hpke.h>
#include <pdm/protocol.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The profile's name, as key logs and vectors call it. */
#define PDM_PROFILE_NAME "pdmv2-hpke-1"

/* The profile's default suite: X25519, HKDF-SHA256, AES-128-GCM. */
#define PDM_PROFILE_SUITE_DEFAULT                                                                  \
    ((struct pdm_hpke_suite){PDM_HPKE_KEM_X25519_SHA256, PDM_HPKE_KDF_HKDF_SHA256,                 \
                             PDM_HPKE_AEAD_AES_128_GCM})

/* "kkkk-dddd-aaaa" and its NUL. */
#define PDM_SUITE_TEXT_LEN  14
#define PDM_SUITE_TEXT_SIZE 15

/* The `flow` input of the key schedule: 16 + 2 + 16 + 2 + 1 + 2. */
#define PDM_PROFILE_FLOW_INFO_SIZE 39

/* Bytes of the key of a sender's RN permutation (docs/crypto.md §2). */
#define PDM_PROFILE_RN_KEY_SIZE 16

/* The salt of a registration (profile §3, §4): 32 bytes. */
#define PDM_PROFILE_SALT_SIZE PDM_REG_SALT_SIZE

/* ---- Suites ---- */

/*
 * Parses "kkkk-dddd-aaaa" (KEM, KDF, AEAD ids as exactly 4 hex digits each,
 * either case; e.g. "0020-0001-0001") into *out. Only the syntax is
 * checked: pdm_profile_suite_check() tells whether the profile can use it.
 * Returns 0, or PDM_ERR_INVAL (NULL argument, not of that form).
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_suite_parse(const char *s, struct pdm_hpke_suite *out);

/* Writes suite as "kkkk-dddd-aaaa" (lowercase hex) and a NUL. Returns
 * nothing. */
PDM_EXTERN void pdm_suite_format(struct pdm_hpke_suite suite, char out[PDM_SUITE_TEXT_SIZE]);

/*
 * Whether the profile can carry PDM data with suite: every id known
 * (profile §3) and an AEAD that seals (the export-only AEAD 0xFFFF cannot).
 * Returns 0 or PDM_ERR_UNSUPPORTED.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_profile_suite_check(struct pdm_hpke_suite suite);

/* ---- Key schedule ---- */

/*
 * Writes the 39-byte `flow` of the key schedule for a packet with tuple t
 * (t->src is the sender) under Kri kri. Ports are written as 0 unless
 * t->proto is TCP, UDP, UDP-Lite, SCTP or DCCP. Returns nothing.
 */
PDM_EXTERN void pdm_profile_flow_info(const struct pdm_flow_tuple *t, uint16_t kri,
                                      uint8_t out[PDM_PROFILE_FLOW_INFO_SIZE]);

/*
 * A shared secret made ready for flow keys: the suite, its sizes, and
 * prk = LabeledExtract(salt, "pdmv2 prk", SharedSecret). Computed once per
 * secret; plain data (no allocation), wiped by pdm_profile_secret_wipe().
 * Fields are readable (tests compare prk with known answers).
 */
struct pdm_profile_secret {
    struct pdm_hpke_suite suite;
    uint8_t nh, nk, nn; /* the suite's Nh, Nk, Nn */
    uint8_t prk[PDM_HPKE_NH_MAX];
};

/*
 * Fills *s from the suite, the registration's salt (PDM_PROFILE_SALT_SIZE
 * bytes) and SharedSecret (Nh bytes of the suite's KDF). Returns 0,
 * PDM_ERR_INVAL (NULL, a salt or secret of another size),
 * PDM_ERR_UNSUPPORTED (see pdm_profile_suite_check), PDM_ERR_CRYPTO.
 * *s is wiped on failure.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_profile_secret_init(struct pdm_profile_secret *s,
                                                       struct pdm_hpke_suite suite,
                                                       const uint8_t *salt, size_t salt_len,
                                                       const uint8_t *shared_secret,
                                                       size_t secret_len);

/* Wipes *s (NULL is fine). Returns nothing. */
PDM_EXTERN void pdm_profile_secret_wipe(struct pdm_profile_secret *s);

/*
 * The raw key material of one flow direction at Kri kri: STK (stk_len must
 * be Nk) and BaseNonce (nonce_len must be Nn). For known-answer checks and
 * debugging; senders and receivers use struct pdm_profile_key, which never
 * hands STK out. Returns 0, PDM_ERR_INVAL, PDM_ERR_CRYPTO; outputs are
 * wiped on failure.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_profile_derive(const struct pdm_profile_secret *s,
                                                  const struct pdm_flow_tuple *t, uint16_t kri,
                                                  uint8_t *stk, size_t stk_len, uint8_t *base_nonce,
                                                  size_t nonce_len);

/* Backend types (lib/crypto.h); callers never look inside. */
struct pdm_aead_alg;
struct pdm_aead_ctx;

/*
 * One flow direction at one Kri: the AEAD context keyed once with STK (STK
 * itself is wiped right after), BaseNonce, and for senders the key of the
 * RN permutation. Made by pdm_profile_key_init() (which allocates the AEAD
 * context: a setup-path call), released by pdm_profile_key_clear(). Fields
 * are readable; a zeroed struct is "no key".
 */
struct pdm_profile_key {
    const struct pdm_aead_alg *aead;
    struct pdm_aead_ctx *actx;
    uint16_t kri;
    uint8_t nn;
    uint8_t base_nonce[PDM_HPKE_NN_MAX];
    uint8_t rn_key[PDM_PROFILE_RN_KEY_SIZE]; /* zero unless made for a sender */
};

/*
 * Derives the key of the flow direction of tuple t (t->src sends) at Kri
 * kri from s into *k (overwritten: clear an earlier key first). Returns 0,
 * PDM_ERR_INVAL, PDM_ERR_UNSUPPORTED, PDM_ERR_NOMEM, PDM_ERR_CRYPTO; *k is
 * zeroed on failure.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_profile_key_init(struct pdm_profile_key *k,
                                                    const struct pdm_profile_secret *s,
                                                    const struct pdm_flow_tuple *t, uint16_t kri);

/* Frees the AEAD context and wipes *k (a zeroed key and NULL are fine).
 * Returns nothing. */
PDM_EXTERN void pdm_profile_key_clear(struct pdm_profile_key *k);

/*
 * The RN at position index (0 .. 32766) of a sender's sequence under
 * rn_key (a sender's pdm_profile_key.rn_key): what pdm_profile_tx_seal()
 * draws for its index-th option under that key, 1 .. 32767. Distinct
 * indexes give distinct RNs. For a sender that computes its keystream
 * ahead (the agent's fast path, docs/agent.md). Returns 0 for index
 * 32767 or more, or rn_key NULL.
 */
PDM_EXTERN uint16_t pdm_profile_rn_at(const uint8_t rn_key[PDM_PROFILE_RN_KEY_SIZE],
                                      uint16_t index);

/*
 * Writes the AEAD nonce of RN rn under k, BaseNonce XOR I2OSP(rn, Nn), into
 * out (cap bytes). Returns Nn, PDM_ERR_INVAL (no key, rn outside 1..32767),
 * PDM_ERR_NOBUF.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_profile_key_nonce(const struct pdm_profile_key *k, uint16_t rn,
                                                     uint8_t *out, size_t cap);

/*
 * Seals one encrypted PDMv2 option with option type `type`, random number rn
 * and F = k->kri mod 2 into out (outlen >= 36): the 6 clear bytes, then the
 * 14-byte pdm_fields_pack() layout of *fields sealed with its tag. The low
 * layer: it does not know which RNs were used; the caller guarantees that
 * (k, rn) never seals twice (pdm_profile_tx_seal does). Allocates nothing.
 * Returns 36, PDM_ERR_INVAL (no key, NULL, rn outside 1..32767),
 * PDM_ERR_NOBUF, PDM_ERR_CRYPTO (out is then zeroed).
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_profile_seal(const struct pdm_profile_key *k, uint8_t type,
                                                uint16_t rn, const struct pdm_fields *fields,
                                                uint8_t *out, size_t outlen);

/*
 * Opens the encrypted option at in (inlen bytes from its Type byte; bytes
 * past the option are ignored) with option type `type` under k. The tag is
 * checked before anything is released: on success *out is the decoded
 * option (format PDM_FORMAT_V2_ENCRYPTED, rn, f, sealed) with the opened
 * fields; on any failure *out is all zeros. An F that is not k->kri mod 2
 * is refused without trying the AEAD. Allocates nothing.
 * Returns 36 (bytes consumed), or
 *   PDM_ERR_AUTH          tag mismatch, or F not k's parity
 *   PDM_ERR_OPT_LENGTH    not an encrypted option (Option Length not 34)
 *   any pdm_option_decode() error for malformed bytes
 *   PDM_ERR_INVAL         no key, NULL argument
 *   PDM_ERR_CRYPTO        the backend failed
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_profile_open(const struct pdm_profile_key *k, const uint8_t *in,
                                                size_t inlen, uint8_t type, struct pdm_option *out);

/* ---- Sender: RN sequence and key rotation ---- */

/*
 * Rotation policy, passed to each seal (NULL means the defaults): a key is
 * retired after max_packets options (1 .. 32767; 0 means 32767, the whole
 * RN sequence) or once it is max_key_age_ns old (0: no time limit),
 * whichever comes first.
 */
struct pdm_profile_policy {
    uint16_t max_packets;
    uint64_t max_key_age_ns;
};

#define PDM_PROFILE_TX_EXHAUSTED 0x01 /* Kri 65535 used up: re-register */

/*
 * A sender's state for one flow direction: 24 bytes, made to live in a flow
 * table entry (the caller's extension, pdm_flow_table_new_ext(), with a
 * receiver's state beside it).
 * The key (AEAD context, BaseNonce, RN permutation key) is a separate
 * allocation made at start and at each rotation. All zeros is "not
 * started"; fields are readable, only these functions change them.
 *
 * Never copy a started state and seal from both copies: that reuses nonces.
 */
struct pdm_profile_tx {
    struct pdm_profile_key *key; /* current key; NULL before start / after exhaustion */
    uint64_t key_start_ns;       /* when key was derived (time policy) */
    uint16_t kri;                /* Kri of key */
    uint16_t used;               /* RNs drawn from key's sequence, 0 .. 32767 */
    uint8_t flags;               /* PDM_PROFILE_TX_* */
};

/*
 * Starts sending on the flow direction of tuple t (t->src is this sender)
 * at Kri kri (F = kri mod 2) at time now_ns: derives the key (allocates).
 * *tx must be all zeros (a fresh flow extension, or after pdm_profile_tx_clear).
 *
 * kri must never have been used by this tuple under this secret: 0 for the
 * tuple's first flow. A sender that lost a flow's state (flow expired,
 * process restarted) and sees the tuple again must start past the highest
 * Kri it ever used for it, or use a new secret: starting again at 0 would
 * seal under the same keys and nonces (docs/crypto.md §4).
 * Returns 0, PDM_ERR_STATE (already started: clear it first), or a
 * pdm_profile_key_init() error (the state stays "not started").
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_profile_tx_start(struct pdm_profile_tx *tx,
                                                    const struct pdm_profile_secret *s,
                                                    const struct pdm_flow_tuple *t, uint16_t kri,
                                                    uint64_t now_ns);

/*
 * Seals one option for the next packet at now_ns into out (outlen >= 36):
 * takes the next RN of the key's sequence (a keyed permutation of 1..32767,
 * so RN never repeats under one key), rotating first when the sequence is
 * used up or *pol says so: Kri + 1, F flips, a new key (derived from s and
 * t, which must be the ones given to start) and a new sequence. The one
 * allocation is at a rotation. An RN is counted as used before sealing, so
 * no failure can make a (key, nonce) pair seal twice.
 * Returns 36, or
 *   PDM_ERR_STATE          not started
 *   PDM_ERR_KEY_EXHAUSTED  Kri 65535 is used up: nothing more is sealed on
 *                          this flow direction; a new registration is needed
 *   PDM_ERR_NONCE_REUSE    the state is inconsistent (a nonce could repeat)
 *   PDM_ERR_INVAL, PDM_ERR_NOBUF
 *   PDM_ERR_NOMEM, PDM_ERR_CRYPTO   deriving the next key failed (the state
 *                          is unchanged: a later call tries again)
 */
PDM_EXTERN PDM_WARN_UNUSED int
pdm_profile_tx_seal(struct pdm_profile_tx *tx, const struct pdm_profile_secret *s,
                    const struct pdm_flow_tuple *t, const struct pdm_profile_policy *pol,
                    uint64_t now_ns, uint8_t type, const struct pdm_fields *fields, uint8_t *out,
                    size_t outlen);

/* Frees the key and zeroes *tx ("not started"). Returns nothing. */
PDM_EXTERN void pdm_profile_tx_clear(struct pdm_profile_tx *tx);

/* ---- Receiver: the peer's Kri ---- */

/*
 * A receiver's (or analyser's) state for one flow direction: 24 bytes, for
 * a flow table entry's extension. Keeps
 the peer's current Kri and the keys of that Kri
 * and the one before (derived when first needed, then cached), so the
 * common case is one AEAD open. All zeros is "expect Kri 0, nothing
 * cached". Fields are readable; only these functions change them.
 */
struct pdm_profile_rx {
    struct pdm_profile_key *cur;  /* key at kri, or NULL until needed */
    struct pdm_profile_key *prev; /* key at kri - 1, or NULL */
    uint32_t auth_failures;       /* options that opened under no candidate */
    uint16_t kri;                 /* the peer's current Kri */
};

/* Makes *rx expect the peer at Kri kri (an analyser that joins late, or a
 * receiver told the peer's Kri). *rx must be all zeros or a state these
 * functions made: its cached keys are freed. Returns nothing. */
PDM_EXTERN void pdm_profile_rx_init(struct pdm_profile_rx *rx, uint16_t kri);

/*
 * Opens the encrypted option at in (inlen bytes from its Type byte) sent
 * on the flow direction of tuple t (t->src is the peer that sealed it).
 * Kri candidates have the parity of the option's F bit and are tried
 * nearest first: the current Kri, or (other parity) the previous one for a
 * late packet, then ahead for rotations whose packets were lost: at most
 * PDM_KRI_WINDOW candidates of that parity beyond the current Kri. On
 * success at a higher Kri the state advances to it. An option that opens
 * under none counts in rx->auth_failures and leaves *out zeroed; its
 * contents are never used. *kri (may be NULL) gets the Kri it opened under.
 * Deriving a candidate allocates (the current and previous keys once;
 * candidates ahead on each try, so a flood of forged options costs up to
 * PDM_KRI_WINDOW derivations each: see docs/crypto.md §3).
 * Returns 36 (bytes consumed), or
 *   PDM_ERR_AUTH        no candidate opens it
 *   PDM_ERR_OPT_LENGTH  not an encrypted option
 *   any pdm_option_decode() error for malformed bytes
 *   PDM_ERR_INVAL, PDM_ERR_NOMEM, PDM_ERR_CRYPTO (deriving a key failed)
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_profile_rx_open(struct pdm_profile_rx *rx,
                                                   const struct pdm_profile_secret *s,
                                                   const struct pdm_flow_tuple *t,
                                                   const uint8_t *in, size_t inlen, uint8_t type,
                                                   struct pdm_option *out, uint16_t *kri);

/* Frees the cached keys and zeroes *rx. Returns nothing. */
PDM_EXTERN void pdm_profile_rx_clear(struct pdm_profile_rx *rx);

/* ---- Primary and secondary nodes (the draft's Appendix A.1) ---- */

/*
 * A primary pair's secret made ready for client secrets:
 * prk = LabeledExtract(salt, "pdmv2 primary", PrimarySecret), computed once.
 */
struct pdm_profile_primary {
    struct pdm_hpke_suite suite;
    uint8_t nh;
    uint8_t salt[PDM_PROFILE_SALT_SIZE];
    uint8_t prk[PDM_HPKE_NH_MAX];
};

/*
 * Fills *p from suite, salt (32 bytes) and PrimarySecret (Nh bytes).
 * Returns 0, PDM_ERR_INVAL, PDM_ERR_UNSUPPORTED, PDM_ERR_CRYPTO; *p is
 * wiped on failure.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_profile_primary_init(struct pdm_profile_primary *p,
                                                        struct pdm_hpke_suite suite,
                                                        const uint8_t *salt, size_t salt_len,
                                                        const uint8_t *primary_secret,
                                                        size_t secret_len);

/*
 * ClientSecret(C) = LabeledExpand(prk, "pdmv2 client", C(16), Nh) for the
 * client with address client, into out (out_len must be Nh). It is the
 * SharedSecret of C's flows, with p's salt and suite. Returns 0,
 * PDM_ERR_INVAL, PDM_ERR_CRYPTO.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_profile_primary_client(const struct pdm_profile_primary *p,
                                                          const uint8_t client[16], uint8_t *out,
                                                          size_t out_len);

/*
 * A secondary node's shortcut: ClientSecret(C) made ready as the secret of
 * C's flows (pdm_profile_secret_init with p's suite and salt) into *s.
 * Returns 0, PDM_ERR_INVAL, PDM_ERR_UNSUPPORTED, PDM_ERR_CRYPTO.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_profile_primary_secret(const struct pdm_profile_primary *p,
                                                          const uint8_t client[16],
                                                          struct pdm_profile_secret *s);

/* Wipes *p (NULL is fine). Returns nothing. */
PDM_EXTERN void pdm_profile_primary_wipe(struct pdm_profile_primary *p);

#ifdef __cplusplus
}
#endif

#endif /* PDM_PROFILE_H */
