/*
 * The agent's v2-encrypted packet path: a flow's sender and receiver
 * states of lib/profile.c (struct agent_flow's tx and rx), the secret they
 * are under, and the Kri history they feed (kri.c).
 *
 * Egress is two calls around the insertion (core.c): agent_keys_tx_begin()
 * finds the secret and starts the sending state, with k->lock; the core
 * makes room in the packet; agent_keys_tx_seal() seals straight into it,
 * without k->lock (the flow's state is its shard's, and a found secret
 * stays put until a reload, which stops every shard). Ingress opens the
 * option where the parse found it.
 */
#include "keys.h"

#include <string.h>

/* The secret of a flow (local, peer) and its per-flow state, reset when
 * the secret changed since the state was made. k->lock held. The secret
 * returned stays valid after the lock is released: found slots are only
 * wiped by agent_keys_reload() and agent_keys_free(), which run with
 * every shard stopped. */
static struct agent_secret *flow_secret(struct agent_keys *k, struct agent_flow *af,
                                        const uint8_t local[16], const uint8_t peer[16])
{
    struct agent_secret *pr;
    size_t idx;
    uint32_t tag;

    /*
     * The flow caches the slot of its secret for this cache generation,
     * and only a found one: a found slot keeps its pair and secret until
     * it retires (found 0) or the cache is emptied (a new generation),
     * whereas a miss may give its slot to another pair (agent_pair_get()).
     */
    if (af->pair_gen == k->gen && af->pair_slot != 0) {
        pr = &k->pairs[af->pair_slot - 1];
        if (pr->found && (pr->expires_s == 0 || k->now_s < pr->expires_s))
            goto have;
    }
    if ((pr = agent_pair_get(k, local, peer, &idx)) == NULL || !pr->found)
        return NULL;
    af->pair_gen = k->gen;
    af->pair_slot = (uint16_t)(idx + 1);
have:
    tag = (uint32_t)pr->hist->id[0] << 24 | (uint32_t)pr->hist->id[1] << 16 |
          (uint32_t)pr->hist->id[2] << 8 | pr->hist->id[3];
    if (af->secret_tag != tag) {
        /* Another secret (a new registration): start over under it. */
        pdm_profile_tx_clear(&af->tx);
        pdm_profile_rx_clear(&af->rx);
        af->rx_started = 0;
        af->rx_opened = 0;
        af->secret_tag = tag;
    }
    return pr;
}

int agent_keys_tx_begin(struct agent_keys *k, struct agent_flow *af,
                        const struct pdm_flow_tuple *tup, uint64_t now_ns,
                        const struct agent_secret **sec)
{
    struct agent_secret *pr;
    int rv = 0;

    if (k == NULL)
        return PDM_ERR_NOT_FOUND;
    pthread_mutex_lock(&k->lock);
    if ((pr = flow_secret(k, af, tup->src, tup->dst)) == NULL) {
        rv = PDM_ERR_NOT_FOUND;
    } else if (af->tx.key == NULL && !(af->tx.flags & PDM_PROFILE_TX_EXHAUSTED)) {
        /* A new sending state: the first Kri this tuple's bucket never used. */
        size_t b = agent_kri_bucket(pr->hist, tup);
        uint32_t start = pr->hist->tx[b];
        if (start > PDM_KRI_MAX) {
            rv = PDM_ERR_KEY_EXHAUSTED;
        } else if ((rv = pdm_profile_tx_start(&af->tx, &pr->sec, tup, (uint16_t)start, now_ns)) ==
                   0) {
            pr->hist->tx[b] = start + 1u;
            k->dirty = 1;
            pr->proven = 1; /* we send to it: a pair to keep */
        }
    }
    pthread_mutex_unlock(&k->lock);
    *sec = rv == 0 ? pr : NULL;
    return rv;
}

int agent_keys_tx_seal(struct agent_keys *k, struct agent_flow *af, const struct agent_secret *sec,
                       const struct pdm_flow_tuple *tup, const struct agent_peer *peer,
                       uint64_t now_ns, uint8_t type, const struct pdm_fields *fields,
                       uint8_t out[PDM_OPTSIZE_V2_ENC], uint16_t *kri)
{
    const struct agent_secret *pr = sec;
    struct pdm_profile_policy pol;
    uint16_t before = af->tx.kri;
    int rv;

    /* The flow's own state (its shard's lock held) and the secret, which
     * stays put: no need for k->lock while sealing. */
    pol.max_packets = (uint16_t)peer->rotate_packets;
    pol.max_key_age_ns = peer->rotate_ns;
    rv = pdm_profile_tx_seal(&af->tx, &pr->sec, tup, &pol, now_ns, type, fields, out,
                             PDM_OPTSIZE_V2_ENC);
    if (af->tx.kri != before || (af->tx.flags & PDM_PROFILE_TX_EXHAUSTED)) {
        /* Rotated (or used up): never start this bucket at or below it. */
        uint32_t next = (uint32_t)af->tx.kri + 1u;
        pthread_mutex_lock(&k->lock);
        size_t b = agent_kri_bucket(pr->hist, tup);
        if (pr->hist->tx[b] < next)
            pr->hist->tx[b] = next;
        k->dirty = 1;
        pthread_mutex_unlock(&k->lock);
    }
    if (rv < 0)
        return rv;
    *kri = af->tx.kri;
    return af->tx.kri != before ? 1 : 0;
}

int agent_keys_open(struct agent_keys *k, struct agent_flow *af, const struct pdm_flow_tuple *tup,
                    const uint8_t *in, size_t inlen, uint8_t type, struct pdm_fields *f,
                    uint16_t *kri)
{
    struct pdm_option out;
    struct agent_secret *pr;
    uint16_t got = 0, before;
    int rv;

    if (k == NULL)
        return PDM_ERR_NOT_FOUND;
    pthread_mutex_lock(&k->lock);
    /* The packet's tuple is the sender's (the peer's) view. */
    pr = flow_secret(k, af, tup->dst, tup->src);
    if (pr != NULL && !af->rx_started) {
        uint32_t expect = pr->hist->rx[agent_kri_bucket(pr->hist, tup)];
        if (expect > PDM_KRI_MAX)
            expect = PDM_KRI_MAX;
        pdm_profile_rx_init(&af->rx, expect > KRI_BEHIND ? (uint16_t)(expect - KRI_BEHIND) : 0);
        af->rx_started = 1;
    }
    pthread_mutex_unlock(&k->lock);
    if (pr == NULL)
        return PDM_ERR_NOT_FOUND;

    /* The option's bytes where the parse found them: AAD and sealed part
     * are read in place, nothing is encoded again. */
    before = af->rx.kri;
    rv = pdm_profile_rx_open(&af->rx, &pr->sec, tup, in, inlen, type, &out, &got);
    if (rv < 0)
        return rv == PDM_ERR_NOT_FOUND ? PDM_ERR_AUTH : rv;
    *f = out.fields;
    pdm_memzero(&out, sizeof out);
    *kri = got;
    if (!af->rx_opened || af->rx.kri != before) {
        /* First option of the flow, or the peer rotated: the history
         * learns the highest Kri seen in this bucket. */
        pthread_mutex_lock(&k->lock);
        pr->proven = 1; /* an option opened under it: a real peer */
        size_t b = agent_kri_bucket(pr->hist, tup);
        if (pr->hist->rx[b] < (uint32_t)got + 1u) {
            pr->hist->rx[b] = (uint32_t)got + 1u;
            k->dirty = 1;
        }
        pthread_mutex_unlock(&k->lock);
    }
    rv = af->rx_opened && af->rx.kri != before ? 1 : 0;
    af->rx_opened = 1;
    return rv;
}

void agent_keys_flow_gone(struct agent_keys *k, struct agent_flow *af)
{
    (void)k;
    /* Zero for flows that never used keys: both clears accept that. */
    pdm_profile_tx_clear(&af->tx);
    pdm_profile_rx_clear(&af->rx);
}
