/*
 * PDMv2 registration, docs/profile.md §4: what the client and the server
 * share. The key agreement is RFC 9180 HPKE in the mode the client asks
 * for:
 *
 *   info         = "pdmv2 registration" || SHA-256(ClientHello body || ServerHello body)
 *   SharedSecret = ctx.Export("pdmv2 shared secret", Nh)
 *   Confirm      = ctx.Export("pdmv2 confirm" || Salt, 32)
 *
 * Binding info to both hellos means a man in the middle who edits the
 * offer (a downgrade to a weaker suite, another mode) ends with another
 * context than the server, and the client's Confirm check fails.
 */
#include "reg_int.h"

#include <string.h>

#include "crypto.h"

static const char label_registration[] = "pdmv2 registration";
static const char label_shared[] = "pdmv2 shared secret";
static const char label_confirm[] = "pdmv2 confirm";

#define LABEL_REG_LEN     (sizeof label_registration - 1) /* 18 */
#define LABEL_CONFIRM_LEN (sizeof label_confirm - 1)      /* 13 */

_Static_assert(LABEL_REG_LEN + PDM_SHA256_SIZE == PDM_REG_INFO_SIZE, "info size");

int pdm_reg_suite_usable(struct pdm_hpke_suite s)
{
    struct pdm_hpke_sizes sz;
    if (s.aead_id == PDM_HPKE_AEAD_EXPORT_ONLY)
        return 0;
    return pdm_hpke_suite_sizes(s, &sz) == 0;
}

int pdm_reg_make_info(const uint8_t *ch, size_t ch_len, const uint8_t *sh, size_t sh_len,
                      uint8_t info[PDM_REG_INFO_SIZE])
{
    const struct pdm_iov v[2] = {{ch, ch_len}, {sh, sh_len}};
    memcpy(info, label_registration, LABEL_REG_LEN);
    return pdm_sha256(v, 2, info + LABEL_REG_LEN);
}

void pdm_reg_params(struct pdm_hpke_params *p, const struct pdm_reg_result *r,
                    const uint8_t info[PDM_REG_INFO_SIZE], const uint8_t *psk, size_t psk_len,
                    const struct pdm_hpke_key *sender)
{
    memset(p, 0, sizeof *p);
    p->suite = r->suite;
    p->mode = (enum pdm_hpke_mode)r->mode;
    p->info = info;
    p->info_len = PDM_REG_INFO_SIZE;
    if (pdm_reg_mode_has_psk(r->mode)) {
        p->psk = psk;
        p->psk_len = psk_len;
        p->psk_id = r->psk_id;
        p->psk_id_len = r->psk_id_len;
    }
    if (pdm_reg_mode_has_auth(r->mode))
        p->sender = sender;
}

int pdm_reg_export_secrets(const struct pdm_hpke_ctx *ctx, size_t nh, struct pdm_reg_result *r)
{
    uint8_t cctx[LABEL_CONFIRM_LEN + PDM_REG_SALT_SIZE];
    int rv;

    memcpy(cctx, label_confirm, LABEL_CONFIRM_LEN);
    memcpy(cctx + LABEL_CONFIRM_LEN, r->salt, PDM_REG_SALT_SIZE);
    if ((rv = pdm_hpke_ctx_export(ctx, (const uint8_t *)label_shared, sizeof label_shared - 1,
                                  r->secret, nh)) != 0)
        goto out;
    r->secret_len = nh;
    rv = pdm_hpke_ctx_export(ctx, cctx, sizeof cctx, r->confirm, PDM_REG_CONFIRM_SIZE);
out:
    if (rv != 0) {
        pdm_memzero(r->secret, sizeof r->secret);
        pdm_memzero(r->confirm, sizeof r->confirm);
        r->secret_len = 0;
    }
    return rv;
}

PDM_EXTERN void pdm_reg_result_wipe(struct pdm_reg_result *r)
{
    if (r)
        pdm_memzero(r, sizeof *r);
}

static int waiting(uint8_t state)
{
    return state == PDM_REG_ST_WAIT_HELLO || state == PDM_REG_ST_WAIT_KEY ||
           state == PDM_REG_ST_WAIT_STATUS;
}

uint64_t pdm_reg_next_deadline(uint8_t state, uint64_t now_ns, uint64_t timeout_ns)
{
    if (!waiting(state) || timeout_ns == 0)
        return 0;
    return now_ns > UINT64_MAX - timeout_ns ? UINT64_MAX : now_ns + timeout_ns;
}

uint64_t pdm_reg_wait_deadline(uint8_t state, uint64_t deadline_ns)
{
    return waiting(state) ? deadline_ns : 0;
}

int pdm_reg_due(uint64_t deadline, uint64_t now_ns)
{
    return deadline != 0 && now_ns >= deadline;
}
