/*
 * Keystream lanes of the v2-encrypted fast path (bpf/pdm_v2enc.h
 * v2enc_ks, docs/agent.md "Keystream from user space"): the AES counter
 * blocks of a busy AES-GCM sender's next options, or of the options a
 * busy receiver is about to open, computed here with OpenSSL (AES-NI
 * where the CPU has it) into the mmapped map, so the program skips the
 * kernel's ecb(aes). Request thread only (or serve()).
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
    a.op = l->rx ? EK_OP_KSR : EK_OP_KS;
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
    ok = ek_derive_key(&l->s, &l->t, (uint16_t)kri, stk, &mat) == 0 &&
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

/* E(J0) || E(J0 + 1) of the n (<= EK_KS_BATCH) RNs rn under the key in
 * l (lane_key()) into out. 0 or -1. */
static int lane_blocks(struct ek_lane *l, const uint16_t *rn, int n, uint8_t *out)
{
    uint8_t in[EK_KS_BATCH * 32];
    int len;

    for (int j = 0; j < n; j++) {
        uint8_t *b = in + j * 32;

        memcpy(b, l->base_nonce, 12);
        b[10] ^= (uint8_t)(rn[j] >> 8);
        b[11] ^= (uint8_t)rn[j];
        b[12] = b[13] = b[14] = 0;
        b[15] = 1;
        memcpy(b + 16, b, 15);
        b[31] = 2;
    }
    return EVP_EncryptUpdate(l->c, out, &len, in, n * 32) == 1 && len == n * 32 ? 0 : -1;
}

/* Entry e gets blocks blk and tag: the tag zeroed before the blocks are
 * written and set after (a program copying it meanwhile sees the tag
 * change and uses the kfunc; x86 keeps the stores' order). */
static void ent_write(struct ek_ks_ent *e, const uint8_t *blk, uint64_t tag)
{
    __atomic_store_n(&e->tag, 0, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    memcpy(e->blk, blk, 32);
    __atomic_store_n(&e->tag, tag, __ATOMIC_RELEASE);
}

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
    uint8_t out[EK_KS_BATCH * 32];
    uint64_t m = l->filled > seq ? l->filled : seq, to = seq + EK_KS_W;
    struct ek_ks_ent *lane = ek->ks + i * EK_KS_W;
    uint16_t rn[EK_KS_BATCH];

    while (m < to) {
        uint64_t kri = l->kri0 + m / l->limit, first = m;
        int n = 0;

        if (kri > PDM_KRI_MAX ||
            ((!l->have_kri || l->kri != kri) && lane_key(l, (uint32_t)kri) != 0))
            break;
        /* One batch within one Kri. */
        for (; m < to && n < EK_KS_BATCH && l->kri0 + m / l->limit == kri; m++, n++)
            rn[n] = pdm_profile_rn_at(l->rn_key, (uint16_t)(m % l->limit));
        if (lane_blocks(l, rn, n, out) != 0) {
            m = first;
            break;
        }
        for (int j = 0; j < n; j++)
            ent_write(&lane[(first + (uint64_t)j) & (EK_KS_W - 1)], out + j * 32,
                      (uint64_t)l->gen << 32 | (uint32_t)(first + (uint64_t)j));
        ek->ks_written += (uint64_t)n;
    }
    pdm_memzero(out, sizeof out);
    l->filled = m;
}

#define EK_KSR_HALF (EK_KS_W / 2) /* a receiving lane's positions per Kri */

/*
 * A receiving lane's half of kri (kri's parity): its positions
 * [max(hfill, from), to) written, entry pos mod EK_KSR_HALF tagged
 * gen << 32 | kri << 15 | pos. A half taken over by another Kri starts
 * at from. An entry written over held a position the peer drew before
 * from (its options opened, or late: then the kfunc).
 */
static void rx_fill(struct agent_ebpf_keys *ek, size_t i, uint32_t kri, uint32_t from, uint32_t to)
{
    struct ek_lane *l = &ek->lanes[i];
    struct ek_ks_ent *half = ek->ks + i * EK_KS_W + (kri & 1) * EK_KSR_HALF;
    uint8_t out[EK_KS_BATCH * 32];
    uint16_t rn[EK_KS_BATCH];
    uint32_t p = kri & 1, m;

    if (kri > PDM_KRI_MAX)
        return;
    if (to > PDM_RN_COUNT)
        to = PDM_RN_COUNT;
    if (l->hkri[p] != kri) {
        l->hkri[p] = kri;
        l->hfill[p] = from;
    }
    m = l->hfill[p] > from ? l->hfill[p] : from;
    if (m >= to || ((!l->have_kri || l->kri != kri) && lane_key(l, kri) != 0))
        return;
    while (m < to) {
        uint32_t first = m;
        int n = 0;

        for (; m < to && n < EK_KS_BATCH; m++, n++)
            rn[n] = pdm_profile_rn_at(l->rn_key, (uint16_t)m);
        if (lane_blocks(l, rn, n, out) != 0) {
            m = first;
            break;
        }
        for (int j = 0; j < n; j++)
            ent_write(&half[(first + (uint32_t)j) & (EK_KSR_HALF - 1)], out + j * 32,
                      (uint64_t)l->gen << 32 | kri << 15 | (first + (uint32_t)j));
        ek->ks_written += (uint64_t)n;
    }
    pdm_memzero(out, sizeof out);
    l->hfill[p] = m;
}

/* A receiving lane at the receiver's rx_pos w: the next EK_KSR_HALF
 * positions of its Kri, and the first EK_KSR_HALF of the next Kri (its
 * rotation, whenever the peer's policy makes it). */
static void rx_fill_at(struct agent_ebpf_keys *ek, size_t i, uint32_t w)
{
    uint32_t kri = w >> 15, pos = w & 0x7fff;

    rx_fill(ek, i, kri, pos, pos + EK_KSR_HALF);
    rx_fill(ek, i, kri + 1, 0, EK_KSR_HALF);
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
        if (bpf_map_lookup_elem(ek->state_fd, &l->flow, st) != 0 ||
            (l->rx ? st->ksr : st->ks) != lane_ks(l, i) || (!l->rx && st->tx_kri0 != l->kri0)) {
            ek_lane_release(ek, i, 0);
            continue;
        }
        if (l->rx) {
            /* The receiver's place (the program stores it every 64
             * positions); idle as a sender's. */
            if (st->rx_pos == l->last_seq) {
                if (now - l->last_ns >= EK_KS_IDLE_NS)
                    ek_lane_release(ek, i, 1);
                continue;
            }
            l->last_seq = st->rx_pos;
            l->last_ns = now;
            rx_fill_at(ek, i, st->rx_pos);
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

/*
 * A free lane for r's flow (rx: its receiver), its secret and cipher
 * context set, the state read into ek->stbuf; NULL when there is none to
 * give (all taken: counted refused; one already given, the state not
 * armed or given one already, no secret, ChaCha20). The caller fills it,
 * then tells the program (lane_set()).
 */
static struct ek_lane *lane_take(struct agent_ebpf_keys *ek, const struct ek_req *r,
                                 const struct pdm_flow_tuple *t, int rx, size_t *at)
{
    struct ek_state *st = ek->stbuf;
    struct ek_lane *l;
    size_t i, fr = ek->nlanes;
    uint32_t v;

    if (ek->ks == NULL)
        return NULL;
    for (i = 0; i < ek->nlanes; i++) {
        if (ek->lanes[i].used && ek->lanes[i].rx == rx &&
            memcmp(&ek->lanes[i].flow, &r->flow, sizeof r->flow) == 0)
            return NULL; /* asked again before the program saw its lane */
        if (!ek->lanes[i].used && fr == ek->nlanes)
            fr = i;
    }
    if (fr == ek->nlanes) {
        ek->ks_refused++;
        return NULL;
    }
    if (bpf_map_lookup_elem(ek->state_fd, &r->flow, st) != 0 ||
        !(st->flags & (rx ? EK_S_RX_ARMED : EK_S_TX_ARMED)) || (rx ? st->ksr : st->ks) != 0)
        return NULL;
    l = &ek->lanes[fr];
    memset(l, 0, sizeof *l);
    if (ek_secret_of(ek, r, t, &l->s, NULL, 0, &v) != 0 || l->s.suite.aead_id == 3 ||
        (l->c = EVP_CIPHER_CTX_new()) == NULL) {
        EVP_CIPHER_CTX_free(l->c);
        pdm_profile_secret_wipe(&l->s);
        pdm_memzero(l, sizeof *l);
        return NULL;
    }
    l->used = 1;
    l->rx = rx;
    ek->lanes_used++;
    if (++ek->ks_gen == 0)
        ek->ks_gen = 1;
    l->gen = ek->ks_gen;
    l->flow = r->flow;
    l->t = *t;
    l->last_ns = ek_mono_ns();
    *at = fr;
    return l;
}

/* The lane l (index i), filled, handed to the program. */
static int lane_give(struct agent_ebpf_keys *ek, struct ek_lane *l, size_t i)
{
    if (lane_set(ek, l, lane_ks(l, i)) < 0) {
        ek_lane_release(ek, i, 0);
        return PDM_ERR_CRYPTO;
    }
    ek->ks_given++;
    return 0;
}

/* TX_LANE: a busy AES sender gets a free lane, filled before the program
 * is told. With none free it asks again W options later. */
int ek_answer_tx_lane(struct agent_ebpf_keys *ek, const struct ek_req *r,
                      const struct pdm_flow_tuple *tt)
{
    struct ek_state *st = ek->stbuf;
    struct ek_lane *l;
    size_t fr;

    if ((l = lane_take(ek, r, tt, 0, &fr)) == NULL)
        return 0;
    l->kri0 = st->tx_kri0;
    l->limit = st->tx_limit == 0 || st->tx_limit > PDM_RN_COUNT ? PDM_RN_COUNT : st->tx_limit;
    l->last_seq = st->seq;
    lane_fill(ek, fr, st->seq);
    return lane_give(ek, l, fr);
}

/* RX_LANE: a busy AES receiver gets a free lane, filled from the position
 * the program stored with its request. With none free it asks again at
 * the next Kri's position 256. */
int ek_answer_rx_lane(struct agent_ebpf_keys *ek, const struct ek_req *r,
                      const struct pdm_flow_tuple *rt)
{
    struct ek_state *st = ek->stbuf;
    struct ek_lane *l;
    size_t fr;

    if ((l = lane_take(ek, r, rt, 1, &fr)) == NULL)
        return 0;
    l->hkri[0] = l->hkri[1] = UINT32_MAX; /* both halves empty */
    l->last_seq = st->rx_pos;
    rx_fill_at(ek, fr, st->rx_pos);
    return lane_give(ek, l, fr);
}

#endif /* PDM_HAVE_LIBBPF */
