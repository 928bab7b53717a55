/*
 * lib-private: what the parts of registration share (docs/profile.md §4).
 *
 *   reg_msg.c      framing, the four message codecs, names
 *   reg_common.c   suite policy, the key schedule, deadlines (this header)
 *   reg_server.c   the server state machine
 *   reg_client.c   the client state machine
 *   reg_vector.c   the known-answer replay (reg_vector.h, tests only)
 *
 * Nothing here is exported (no PDM_EXTERN): the names keep the library's
 * pdm_reg_ prefix but are hidden by -fvisibility=hidden.
 */
#ifndef PDM_REG_INT_H
#define PDM_REG_INT_H

#include <pdm/reg.h>

/* The modes that carry a PSK id, and those that carry a ClientPk. */
static inline int pdm_reg_mode_has_psk(unsigned mode)
{
    return mode == PDM_HPKE_MODE_PSK || mode == PDM_HPKE_MODE_AUTH_PSK;
}

static inline int pdm_reg_mode_has_auth(unsigned mode)
{
    return mode == PDM_HPKE_MODE_AUTH || mode == PDM_HPKE_MODE_AUTH_PSK;
}

static inline int pdm_reg_suite_eq(struct pdm_hpke_suite a, struct pdm_hpke_suite b)
{
    return a.kem_id == b.kem_id && a.kdf_id == b.kdf_id && a.aead_id == b.aead_id;
}

/*
 * 1 when registration can agree on s: known ids and an AEAD that can seal
 * PDM data (the export-only AEAD cannot, docs/profile.md §3); else 0.
 */
int pdm_reg_suite_usable(struct pdm_hpke_suite s);

/*
 * info = "pdmv2 registration" || SHA-256(ClientHello body || ServerHello
 * body), the bodies without Type and Length. Returns 0 or the backend's
 * error.
 */
int pdm_reg_make_info(const uint8_t *ch, size_t ch_len, const uint8_t *sh, size_t sh_len,
                      uint8_t info[PDM_REG_INFO_SIZE]);

/*
 * The HPKE parameters of the registration recorded in *r (its mode, suite
 * and, in the psk modes, psk_id) with info and, in the psk modes, the PSK
 * (psk, psk_len) and, in the auth modes, the sender's key (the client's
 * key pair for SetupS, its public key for SetupR). Points into *r, info,
 * psk and sender: they must outlive *p.
 */
void pdm_reg_params(struct pdm_hpke_params *p, const struct pdm_reg_result *r,
                    const uint8_t info[PDM_REG_INFO_SIZE], const uint8_t *psk, size_t psk_len,
                    const struct pdm_hpke_key *sender);

/*
 * SharedSecret = ctx.Export("pdmv2 shared secret", nh) into r->secret and
 * Confirm = ctx.Export("pdmv2 confirm" || r->salt, 32) into r->confirm
 * (r->salt already set). The context stays the caller's to free. Returns 0
 * or the backend's error, with both outputs wiped.
 */
int pdm_reg_export_secrets(const struct pdm_hpke_ctx *ctx, size_t nh, struct pdm_reg_result *r);

/*
 * Deadlines, the same for both sides. A side waits for a message in
 * WAIT_HELLO, WAIT_KEY (server) and WAIT_STATUS (client).
 *
 * pdm_reg_next_deadline: after a call that left a side in state at now_ns,
 * the time it waits until: now_ns + timeout_ns (saturating) while it
 * waits and timeout_ns is not 0, else 0.
 * pdm_reg_wait_deadline: the deadline_ns a side in state has, or 0 when it
 * does not wait.
 * pdm_reg_due: 1 when deadline (0: none) has been reached at now_ns.
 */
uint64_t pdm_reg_next_deadline(uint8_t state, uint64_t now_ns, uint64_t timeout_ns);
uint64_t pdm_reg_wait_deadline(uint8_t state, uint64_t deadline_ns);
int pdm_reg_due(uint64_t deadline, uint64_t now_ns);

#endif /* PDM_REG_INT_H */
