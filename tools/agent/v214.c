/*
 * The agent's draft -14 mode (--mode v2-14, PROFILE §1; docs/agent.md):
 * the 24-byte layout with 32-bit PSNs, sent unencrypted (the draft leaves
 * protection to the registration system, and defines none).
 *
 * The flow table keeps 16-bit PSNs (RFC 8250 and draft-04 need no more),
 * and the agent's per-flow extension is full (72 bytes, three cache
 * lines). The high halves the -14 PSNs need go into the flow's `user`
 * word, which the agent uses for nothing else:
 *   bits  0-15  high half of the PSNTP sent in direction 0
 *   bits 16-31  the same for direction 1
 *   bits 32-47  high half of the PSNTP last received travelling in dir 0
 *   bits 48-63  the same for direction 1
 * So the 32-bit PSNTP is (high << 16) | the table's 16-bit one, the high
 * half stepping when the low half wraps; it starts at random in all 32
 * bits (draft -14 §7: "initialized at a random number").
 */
#include "agent.h"

#include <string.h>

static unsigned shift_tx(unsigned dir)
{
    return 16u * (dir & 1u);
}

static unsigned shift_rx(unsigned dir)
{
    return 32u + 16u * (dir & 1u);
}

static uint16_t get16(uint64_t w, unsigned shift)
{
    return (uint16_t)(w >> shift);
}

static uint64_t put16(uint64_t w, unsigned shift, uint16_t v)
{
    return (w & ~((uint64_t)0xffff << shift)) | (uint64_t)v << shift;
}

void agent_v214_flow_new(struct pdm_flow *flow, uint32_t r)
{
    flow->user = (uint64_t)(uint16_t)r << shift_tx(0) | (uint64_t)(uint16_t)(r >> 16)
                                                            << shift_tx(1);
}

int agent_v214_tx(struct pdm_flow *flow, unsigned dir, const struct pdm_option *opt, uint8_t *out,
                  struct pdm_v214 *v)
{
    uint16_t hi = get16(flow->user, shift_tx(dir));

    memset(v, 0, sizeof *v);
    v->type = opt->type;
    v->epoch = 0; /* no registration-derived epoch: nothing is encrypted */
    v->psntp = (uint32_t)hi << 16 | opt->fields.psntp;
    /* pdm_flow_on_send() stepped the 16-bit PSN: a wrap to 0 carries. */
    if (flow->dir[dir].psn_next == 0)
        flow->user = put16(flow->user, shift_tx(dir), (uint16_t)(hi + 1u));
    /* PSNLR: the last PSNTP received, from packets travelling the other
     * way; 0 when none (or the last one carried no -14 option). */
    v->psnlr = (uint32_t)get16(flow->user, shift_rx(dir ^ 1u)) << 16 | opt->fields.psnlr;
    v->global_pointer = opt->fields.global_pointer;
    v->scale_dtlr = opt->fields.scale_dtlr;
    v->scale_dtls = opt->fields.scale_dtls;
    v->delta_tlr = opt->fields.delta_tlr;
    v->delta_tls = opt->fields.delta_tls;
    return pdm_v214_encode(out, PDM_V214_OPT_SIZE, v) == PDM_V214_OPT_SIZE ? 0 : PDM_ERR_INVAL;
}

int agent_v214_rx(struct pdm_flow *flow, unsigned dir, const uint8_t *pkt,
                  const struct pdm_pkt_info *info, uint8_t type, struct pdm_v214 *v)
{
    uint16_t hi = 0;
    int rv = 0;

    memset(v, 0, sizeof *v);
    if (info->has_pdm && info->pdm.format == PDM_FORMAT_V2_14) {
        ssize_t n = pdm_v214_decode(v, pkt + info->pdm_off, info->pkt_len - info->pdm_off, type);
        if (n < 0)
            return (int)n; /* the parse decoded the same bytes: not reached */
        hi = (uint16_t)(v->psntp >> 16);
        rv = 1;
    }
    flow->user = put16(flow->user, shift_rx(dir), hi);
    return rv;
}
