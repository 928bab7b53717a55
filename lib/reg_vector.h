/*
 * lib-private, for tests only: the known-answer replay of registration
 * (lib/reg_vector.c). Not part of the API in include/pdm/: tests/test_reg.c
 * and `pdm vectors` (tools/dev/cmd_vectors.c) include it with -Ilib. Its
 * functions keep PDM_EXTERN: the tests and the `pdm` binary link them from
 * the library like any other.
 */
#ifndef PDM_REG_VECTOR_H
#define PDM_REG_VECTOR_H

#include <pdm/reg.h>

/*
 * The inputs of one "registrations" vector of
 * tests/vectors/pdmv2-profile-vectors.json: the server key is
 * DeriveKeyPair(ikm_r) for server_suite's KEM and the server prefers
 * server_suite alone; the client offers offered[], draws its ephemeral key
 * from DeriveKeyPair(ikm_e) and, in the auth modes, holds
 * DeriveKeyPair(ikm_s); psk / psk_id in the psk modes; salt is the
 * client's 32-byte salt.
 */
struct pdm_reg_vector_in {
    uint8_t mode;
    const struct pdm_hpke_suite *offered;
    size_t noffered;
    struct pdm_hpke_suite server_suite;
    const uint8_t *ikm_r;
    size_t ikm_r_len;
    const uint8_t *ikm_e;
    size_t ikm_e_len;
    const uint8_t *ikm_s;
    size_t ikm_s_len;
    const uint8_t *psk;
    size_t psk_len;
    const uint8_t *psk_id;
    size_t psk_id_len;
    const uint8_t *salt;
};

/*
 * What the replay computed, named like the vector's fields: whole messages
 * (client_hello, server_hello, client_key, status_ok) with Type and Length,
 * the rest as bytes. shared_secret and confirm are the client's, checked
 * equal to the server's. Wipe with pdm_reg_transcript_wipe.
 */
struct pdm_reg_transcript {
    struct pdm_hpke_suite suite;
    uint8_t sk_r[PDM_HPKE_NSK_MAX];
    size_t sk_r_len;
    uint8_t pk_r[PDM_HPKE_NPK_MAX];
    size_t pk_r_len;
    uint8_t pk_s[PDM_HPKE_NPK_MAX]; /* auth modes */
    size_t pk_s_len;
    uint8_t client_hello[PDM_REG_WIRE_MAX];
    size_t client_hello_len;
    uint8_t server_hello[PDM_REG_SERVER_OUT_MAX];
    size_t server_hello_len;
    uint8_t info[PDM_REG_INFO_SIZE];
    uint8_t enc[PDM_HPKE_NENC_MAX];
    size_t enc_len;
    uint8_t client_key[PDM_REG_CLIENT_OUT_MAX];
    size_t client_key_len;
    uint8_t shared_secret[PDM_HPKE_NH_MAX];
    size_t shared_secret_len;
    uint8_t confirm[PDM_REG_CONFIRM_SIZE];
    uint8_t status_ok[PDM_REG_STATUS_OK_SIZE];
};

/*
 * Runs a whole registration through the real client and server state
 * machines, in memory, from the vector's inputs, and fills *t. Returns 0,
 * PDM_ERR_INVAL (inputs missing or against the mode), PDM_ERR_AUTH (the
 * two sides disagree, or the handshake failed: impossible unless the
 * library is broken), or any error of the calls it makes. *t is wiped on
 * failure.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_reg_vector_run(const struct pdm_reg_vector_in *in,
                                                  struct pdm_reg_transcript *t);

PDM_EXTERN void pdm_reg_transcript_wipe(struct pdm_reg_transcript *t);

#endif /* PDM_REG_VECTOR_H */
