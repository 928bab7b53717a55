/*
 * Keystream lanes of the v2-encrypted fast path (bpf/pdm_v2enc.h
 * v2enc_ks, docs/agent.md "Keystream from user space"): the AES counter
 * blocks of a busy AES-GCM sender's next options, computed here with
 * OpenSSL (AES-NI where the CPU has it) into the mmapped map, so the
 * program skips the kernel's ecb(aes). Request thread only (or serve()).
 */
#include "ebpf_keys.h"

#ifdef PDM_HAVE_LIBBPF

#include <string.h>

#include "ebpf_keys_int.h"
#include "keys.h"

/* The state's ks of lane i: gen << 32 | i. */
static uint64_t lane_ks(const struct ek_lane *l, size_t i)
{
    return (uint64_t)l->gen << 32 | (uint64_t)i;
}

/* Tells the program lane i's sender has ks (0: none any more). */
static int lane_set(struct agent_ebpf_keys *ek, const struct ek_lane *l, uint64_t ks)
{
    struct ek_install a;

    memset(&a, 0, sizeof a);
    a.flow = l->flow;
    a.op = EK_OP_KS;
    a.tx_kri0 = l->kri0;
    a.tx_limit = l->limit;
    a.ks = ks;
    return ek_run_install(ek, &a);
}

void ek_lane_release(struct agent_ebpf_keys *ek, size_t i, int clear)
{
    struct ek_lane *l = &ek->lanes[i];

    if (!l->used)
        return;
    if (clear)
        (void)lane_set(ek, l, 0); /* the sender may ask again once busy */
    EVP_CIPHER_CTX_free(l->c);
    pdm_profile_secret_wipe(&l->s);
    pdm_memzero(l, sizeof *l);
    ek->lanes_used--;
}

/* Lane l's key of Kri kri into its cipher context. 0 or -1. */
static int lane_key(struct ek_lane *l, uint32_t kri)
{
    struct aead_user_material mat;
    uint8_t stk[32];
    int ok;

    memset(&mat, 0, sizeof mat);
    ok = ek_derive_key(&l->s, &l->t, EBPF_KEYS_TX, (uint16_t)kri, stk, &mat) == 0 &&
         EVP_EncryptInit_ex(l->c, l->s.nk == 16 ? EVP_aes_128_ecb() : EVP_aes_256_ecb(), NULL, stk,
                            NULL) == 1 &&
         EVP_CIPHER_CTX_set_padding(l->c, 0) == 1;
    memcpy(l->base_nonce, mat.base_nonce, sizeof l->base_nonce);
    memcpy(l->rn_key, mat.rn_key, sizeof l->rn_key);
    pdm_memzero(stk, sizeof stk);
    pdm_memzero(&mat, sizeof mat);
    l->have_kri = ok;
    l->kri = kri;
    return ok ? 0 : -1;
}

#define EK_KS_BATCH 64

/*
 * Writes lane i's entries for the draws [max(filled, seq), seq + W): each
 * one's slot held a draw W earlier, below seq, so drawn already (or
 * skipped): never one a CPU has still to take. An entry's tag is zeroed
 * before its blocks are written and set after (a program copying it
 * meanwhile sees the tag change and uses the kfunc).
 */
static void lane_fill(struct agent_ebpf_keys *ek, size_t i, uint64_t seq)
{
    struct ek_lane *l = &ek->lanes[i];
    uint8_t in[EK_KS_BATCH * 32], out[EK_KS_BATCH * 32];
    uint64_t m = l->filled > seq ? l->filled : seq, to = seq + EK_KS_W;
    struct ek_ks_ent *lane = ek->ks + i * EK_KS_W;

    while (m < to) {
        uint64_t kri = l->kri0 + m / l->limit, first = m;
        int n = 0, len;

        if (kri > PDM_KRI_MAX ||
            ((!l->have_kri || l->kri != kri) && lane_key(l, (uint32_t)kri) != 0))
            break;
        /* One batch within one Kri. */
        for (; m < to && n < EK_KS_BATCH && l->kri0 + m / l->limit == kri; m++, n++) {
            uint16_t rn = pdm_profile_rn_at(l->rn_key, (uint16_t)(m % l->limit));
            uint8_t *b = in + n * 32;

            memcpy(b, l->base_nonce, 12);
            b[10] ^= (uint8_t)(rn >> 8);
            b[11] ^= (uint8_t)rn;
            b[12] = b[13] = b[14] = 0;
            b[15] = 1;
            memcpy(b + 16, b, 15);
            b[31] = 2;
        }
        if (EVP_EncryptUpdate(l->c, out, &len, in, n * 32) != 1 || len != n * 32) {
            m = first;
            break;
        }
        for (int j = 0; j < n; j++) {
            struct ek_ks_ent *e = &lane[(first + (uint64_t)j) & (EK_KS_W - 1)];

            __atomic_store_n(&e->tag, 0, __ATOMIC_RELAXED);
            __atomic_signal_fence(__ATOMIC_SEQ_CST); /* x86 keeps the stores' order */
            memcpy(e->blk, out + j * 32, 32);
            __atomic_store_n(&e->tag, (uint64_t)l->gen << 32 | (uint32_t)(first + (uint64_t)j),
                             __ATOMIC_RELEASE);
        }
        ek->ks_written += (uint64_t)n;
    }
    pdm_memzero(out, sizeof out);
    l->filled = m;
}

/* Every lane: refilled from its sender's seq, or given back when the
 * sender is gone, made again, or idle. Request thread. */
void ek_ks_tick(struct agent_ebpf_keys *ek)
{
    struct ek_state *st = ek->stbuf;
    uint64_t now = ek_mono_ns();

    for (size_t i = 0; i < ek->nlanes && ek->lanes_used > 0; i++) {
        struct ek_lane *l = &ek->lanes[i];

        if (!l->used)
            continue;
        if (bpf_map_lookup_elem(ek->state_fd, &l->flow, st) != 0 || st->ks != lane_ks(l, i) ||
            st->tx_kri0 != l->kri0) {
            ek_lane_release(ek, i, 0);
            continue;
        }
        if (st->seq == l->last_seq) {
            if (now - l->last_ns >= EK_KS_IDLE_NS)
                ek_lane_release(ek, i, 1);
            continue;
        }
        l->last_seq = st->seq;
        l->last_ns = now;
        lane_fill(ek, i, st->seq);
    }
}

/* TX_LANE: a busy AES sender gets a free lane, filled before the program
 * is told. With none free it asks again W options later. */
int ek_answer_tx_lane(struct agent_ebpf_keys *ek, const struct ek_req *r,
                      const struct pdm_flow_tuple *tt)
{
    struct ek_state *st = ek->stbuf;
    struct ek_lane *l = NULL;
    size_t i, fr = ek->nlanes;
    uint32_t v;

    if (ek->ks == NULL)
        return 0;
    for (i = 0; i < ek->nlanes; i++) {
        if (ek->lanes[i].used && memcmp(&ek->lanes[i].flow, &r->flow, sizeof r->flow) == 0)
            return 0; /* asked again before the program saw its lane */
        if (!ek->lanes[i].used && fr == ek->nlanes)
            fr = i;
    }
    if (fr == ek->nlanes) {
        ek->ks_refused++;
        return 0;
    }
    if (bpf_map_lookup_elem(ek->state_fd, &r->flow, st) != 0 || !(st->flags & EK_S_TX_ARMED) ||
        st->ks != 0)
        return 0;
    l = &ek->lanes[fr];
    memset(l, 0, sizeof *l);
    if (ek_secret_of(ek, r, tt, &l->s, NULL, 0, &v) != 0 || l->s.suite.aead_id == 3 ||
        (l->c = EVP_CIPHER_CTX_new()) == NULL) {
        EVP_CIPHER_CTX_free(l->c);
        pdm_profile_secret_wipe(&l->s);
        pdm_memzero(l, sizeof *l);
        return 0;
    }
    l->used = 1;
    ek->lanes_used++;
    if (++ek->ks_gen == 0)
        ek->ks_gen = 1;
    l->gen = ek->ks_gen;
    l->flow = r->flow;
    l->t = *tt;
    l->kri0 = st->tx_kri0;
    l->limit = st->tx_limit == 0 || st->tx_limit > PDM_RN_COUNT ? PDM_RN_COUNT : st->tx_limit;
    l->last_seq = st->seq;
    l->last_ns = ek_mono_ns();
    lane_fill(ek, fr, st->seq);
    if (lane_set(ek, l, lane_ks(l, fr)) < 0) {
        ek_lane_release(ek, fr, 0);
        return PDM_ERR_CRYPTO;
    }
    ek->ks_given++;
    return 0;
}

#endif /* PDM_HAVE_LIBBPF */
