/*
 * Keys of the v2-encrypted tc-eBPF data path (ebpf_keys.h,
 * bpf/pdm_v2enc.h). The programs never derive anything: a flow
 * direction's STK, BaseNonce and RN key come from lib/ (the same calls as
 * the NFQUEUE path: pdm_profile_derive and the "pdmv2 rn" expansion of
 * docs/crypto.md §2), the GHASH table from bpf/aead_user.h, and one run of
 * the object's sleepable install program writes them into their slot.
 *
 * The request thread answers what the programs ask through the v2enc_req
 * ring buffer:
 *   TX_START  a new sending state: its first Kri is the Kri history's next
 *             start for the tuple's bucket (kri.c, so a tuple that comes
 *             back never reuses a key), reserved with the next one; the
 *             sender armed with the first, then the next one installed.
 *   TX_KEY    the key after a rotation's (reserved in the history too).
 *   RX_FIND   a peer's option that opened in no slot: lib's Kri search
 *             from the history's expectation (agent_keys_open's rule)
 *             finds its Kri; that key installed and armed, then the next.
 *   RX_KEY    the peer's next key after it rotated.
 * Requests are answered in the order they come; a lost one is asked again
 * by the program (at most every 2 ms per flow direction).
 */
#include "ebpf_keys.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#ifdef PDM_HAVE_LIBBPF

#include "keys.h"

#include <linux/types.h>

#include "../../bpf/aead_user.h"
#include "../../bpf/pdm_bpf.h"
#include "../../bpf/pdm_v2key.h"
#include "ebpf_kdf.h"

#include <openssl/evp.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "ebpf_keys_int.h"

static int has_ports(uint8_t proto)
{
    return proto == 6 || proto == 17 || proto == 136 || proto == 132 || proto == 33;
}

/* The flow key of the BPF maps (our view) for direction t and dir. */
static void flow_key(const struct pdm_flow_tuple *t, int dir, struct pdm_bpf_flow_key *k)
{
    int tx = dir == EBPF_KEYS_TX;

    memset(k, 0, sizeof *k);
    memcpy(k->local, tx ? t->src : t->dst, 16);
    memcpy(k->remote, tx ? t->dst : t->src, 16);
    if (has_ports(t->proto)) {
        k->lport = tx ? t->sport : t->dport;
        k->rport = tx ? t->dport : t->sport;
    }
    k->proto = t->proto;
}

int ek_run_install(struct agent_ebpf_keys *ek, struct ek_install *a)
{
    LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = a, .ctx_size_in = sizeof *a);
    int rv;

    if (a->op & EK_OP_SLOT) {
        /* The slot is created here, zeroed (a BPF helper may not copy a
         * value holding a kptr); an existing one is left as it is. */
        static const struct ek_slot zero;
        struct {
            struct pdm_bpf_flow_key flow;
            uint8_t dir, parity, pad[2];
        } id;
        memcpy(&id, a, sizeof id);
        if (bpf_map_update_elem(ek->slots_fd, &id, &zero, BPF_NOEXIST) != 0 && errno != EEXIST)
            return PDM_ERR_FULL;
    }
    rv = bpf_prog_test_run_opts(ek->install_fd, &o);

    if (rv != 0 || o.retval != 0)
        return PDM_ERR_CRYPTO;
    return a->done == EK_DONE_ARMED ? EBPF_KEYS_ALREADY_ARMED : 0;
}

/* STK (s->nk bytes), BaseNonce and the RN key of flow direction t (its
 * sender's) at kri. 0 or a negative PDM_ERR_* code. */
int ek_derive_key(const struct pdm_profile_secret *s, const struct pdm_flow_tuple *t, uint16_t kri,
                  uint8_t stk[32], struct aead_user_material *mat)
{
    uint8_t info[PDM_PROFILE_FLOW_INFO_SIZE];
    int rv;

    if (s->nk > 32 || s->nn != 12)
        return PDM_ERR_INVAL;
    rv = pdm_profile_derive(s, t, kri, stk, s->nk, mat->base_nonce, s->nn);
    if (rv == 0) {
        /* The sender's RN permutation key (lib/profile.c's label); a
         * receiver's slot holds the peer's, for its keystream lane
         * (pdm_enc_pos_of()). */
        pdm_profile_flow_info(t, kri, info);
        rv = pdm_hpke_labeled_expand(s->suite, s->prk, s->nh, "pdmv2 rn", info, sizeof info,
                                     mat->rn_key, sizeof mat->rn_key);
    }
    mat->kri = kri;
    return rv;
}

int agent_ebpf_keys_install(struct agent_ebpf_keys *ek, const struct pdm_profile_secret *s,
                            const struct pdm_flow_tuple *t, int dir, uint16_t kri, int arm,
                            uint32_t limit)
{
    uint8_t stk[32];
    struct ek_install a;
    int rv;

    if (ek == NULL || s == NULL || t == NULL || s->nk > sizeof stk || s->nn != 12)
        return PDM_ERR_INVAL;
    memset(&a, 0, sizeof a);
    flow_key(t, dir, &a.flow);
    a.dir = (uint8_t)dir;
    a.parity = (uint8_t)(kri & 1);
    rv = ek_derive_key(s, t, kri, stk, &a.mat);
    if (rv == 0 && aead_user_key_args(&a.key, 0, s->suite.aead_id, stk) != 0)
        rv = PDM_ERR_CRYPTO;
    if (rv == 0 && s->suite.aead_id != 3)
        aead_user_gcm_tables(a.key.ghash, &a.gcm); /* the slot's GHASH material */
    if (rv == 0) {
        a.op = EK_OP_SLOT | (uint32_t)arm;
        a.tx_kri0 = kri;
        a.tx_limit = limit == 0 || limit > PDM_RN_COUNT ? PDM_RN_COUNT : limit;
        a.rx_kri = kri;
        rv = ek_run_install(ek, &a);
    }
    pdm_memzero(stk, sizeof stk);
    pdm_memzero(&a, sizeof a);
    return rv;
}

/* The longest peer prefix holding addr, or NULL. */
static const struct agent_peer *peer_of(const struct agent_ebpf_keys *ek, const uint8_t addr[16])
{
    const struct agent_peer *best = NULL;

    for (size_t i = 0; ek->cc != NULL && i < ek->cc->npeers; i++) {
        const struct agent_peer *p = &ek->cc->peers[i];
        unsigned full = p->plen / 8u, rest = p->plen % 8u;

        if (memcmp(p->prefix, addr, full) != 0)
            continue;
        if (rest && ((p->prefix[full] ^ addr[full]) & (0xffu << (8 - rest))) != 0)
            continue;
        if (best == NULL || p->plen > best->plen)
            best = p;
    }
    return best;
}

/* --rotate-packets of the longest peer prefix holding addr. */
static uint32_t peer_limit(const struct agent_ebpf_keys *ek, const uint8_t addr[16])
{
    const struct agent_peer *best = peer_of(ek, addr);

    if (ek->cc == NULL)
        return ek->fixed_limit;
    return best == NULL || best->rotate_packets == 0 || best->rotate_packets > PDM_RN_COUNT
               ? PDM_RN_COUNT
               : (uint32_t)best->rotate_packets;
}

/* The secret of (local, remote) copied into *s; with the Kri history's
 * bucket of t updated by fn under the lock. 0 or -1 (no secret). */
int ek_secret_of(struct agent_ebpf_keys *ek, const struct ek_req *r, const struct pdm_flow_tuple *t,
                 struct pdm_profile_secret *s,
                 uint32_t (*fn)(struct khist *h, size_t b, uint32_t arg), uint32_t arg,
                 uint32_t *res)
{
    struct agent_secret *pr;
    size_t idx;

    if (ek->keys == NULL) {
        if (ek->fixed == NULL)
            return -1;
        *s = *ek->fixed;
        *res = fn == NULL ? 0 : fn(NULL, 0, arg);
        return 0;
    }
    pthread_mutex_lock(&ek->keys->lock);
    pr = agent_pair_get(ek->keys, r->flow.local, r->flow.remote, &idx);
    if (pr == NULL || !pr->found) {
        pthread_mutex_unlock(&ek->keys->lock);
        return -1;
    }
    *s = pr->sec;
    if (fn != NULL) {
        *res = fn(pr->hist, agent_kri_bucket(pr->hist, t), arg);
        ek->keys->dirty = 1;
    }
    pthread_mutex_unlock(&ek->keys->lock);
    return 0;
}

/* History updates (k->lock held; h NULL without a history). */
static uint32_t hist_tx_start(struct khist *h, size_t b, uint32_t arg)
{
    uint32_t start = h == NULL ? arg : h->tx[b];

    if (h != NULL && start <= PDM_KRI_MAX)
        h->tx[b] = start + 2u > KRI_END ? KRI_END : start + 2u; /* start and the next */
    return start;
}

static uint32_t hist_tx_key(struct khist *h, size_t b, uint32_t kri)
{
    if (h != NULL && h->tx[b] < kri + 1u)
        h->tx[b] = kri + 1u;
    return kri;
}

static uint32_t hist_rx_expect(struct khist *h, size_t b, uint32_t arg)
{
    (void)arg;
    return h == NULL ? 0 : h->rx[b];
}

static uint32_t hist_rx_seen(struct khist *h, size_t b, uint32_t kri)
{
    if (h != NULL && h->rx[b] < kri + 1u)
        h->rx[b] = kri + 1u;
    return kri;
}

static int answer_rx_find(struct agent_ebpf_keys *ek, const struct ek_req *r,
                          const struct pdm_flow_tuple *rt, struct pdm_profile_secret *s,
                          uint32_t expect)
{
    struct pdm_profile_rx rx;
    struct pdm_option out;
    uint16_t got = 0;
    uint32_t dummy;
    int rv;

    if (expect > PDM_KRI_MAX)
        expect = PDM_KRI_MAX;
    memset(&rx, 0, sizeof rx);
    pdm_profile_rx_init(&rx, expect > KRI_BEHIND ? (uint16_t)(expect - KRI_BEHIND) : 0);
    rv = pdm_profile_rx_open(&rx, s, rt, r->opt, sizeof r->opt, r->opt[0], &out, &got);
    pdm_profile_rx_clear(&rx);
    pdm_memzero(&out, sizeof out);
    if (rv < 0) {
        ek->find_failed++;
        return rv;
    }
    /* The key that opens the flow now first (as for TX_START), the next after. */
    if ((rv = agent_ebpf_keys_install(ek, s, rt, EBPF_KEYS_RX, got, EBPF_KEYS_ARM_RX, 0)) != 0)
        return rv;
    if (got < PDM_KRI_MAX &&
        (rv = agent_ebpf_keys_install(ek, s, rt, EBPF_KEYS_RX, (uint16_t)(got + 1), 0, 0)) != 0)
        return rv;
    return ek_secret_of(ek, r, rt, s, hist_rx_seen, got, &dummy) == 0 ? 0 : PDM_ERR_NOT_FOUND;
}

uint64_t ek_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * TX_START: puts the secret of the request's pair into v2enc_secret (and
 * its Kri history into v2enc_hist, if that one is not there yet), so the
 * program starts this and every later flow of the pair itself, senders
 * and receivers (bpf/pdm_v2key.h, pdm_v2enc_rx_derive()). A history already in the map is the live
 * one (the program adds to it): it is never written over, only read back (ek_hist_sync()). Without
 * the agent's key module (tests: a fixed secret) each pair gets a history of its own, from zero.
 */
static int answer_tx_start(struct agent_ebpf_keys *ek, const struct ek_req *r, int proven)
{
    struct pdm_v2key_pair pair;
    struct pdm_v2key_secret v;
    struct pdm_profile_secret s;
    uint64_t expires_s = 0;
    int have_hist = 0, rv;

    memset(&v, 0, sizeof v);
    memset(ek->hbuf, 0, sizeof *ek->hbuf);
    if (ek->keys == NULL) {
        if (ek->fixed == NULL)
            return PDM_ERR_NOT_FOUND;
        s = *ek->fixed;
        for (size_t i = 0; i < 16; i++)
            v.hist_id[i] = (uint8_t)(r->flow.local[i] ^ r->flow.remote[15 - i] ^ (i * 37u));
        have_hist = 1;
    } else {
        struct agent_secret *pr;
        size_t idx;

        pthread_mutex_lock(&ek->keys->lock);
        pr = agent_pair_get(ek->keys, r->flow.local, r->flow.remote, &idx);
        if (pr == NULL || !pr->found) {
            pthread_mutex_unlock(&ek->keys->lock);
            return PDM_ERR_NOT_FOUND;
        }
        s = pr->sec;
        expires_s = pr->expires_s;
        if (pr->hist != NULL) {
            memcpy(v.hist_id, pr->hist->id, sizeof v.hist_id);
            memcpy(v.hkey, pr->hist->hkey, sizeof v.hkey);
            memcpy(ek->hbuf->tx, pr->hist->tx, sizeof ek->hbuf->tx);
            memcpy(ek->hbuf->rx, pr->hist->rx, sizeof ek->hbuf->rx);
            have_hist = 1;
        }
        if (proven)
            pr->proven = 1; /* a packet asked: a real peer's */
        pthread_mutex_unlock(&ek->keys->lock);
    }
    rv = have_hist ? 0 : PDM_ERR_NOMEM;
    if (rv == 0 && (rv = agent_ebpf_kdf_secret(&v.kdf, &s)) == 0) {
        uint64_t now_s = (uint64_t)time(NULL);

        if (expires_s != 0)
            v.expires_ns = ek_mono_ns() + (expires_s > now_s ? expires_s - now_s : 0) * 1000000000u;
        v.limit = peer_limit(ek, r->flow.remote);
        const struct agent_peer *pp = peer_of(ek, r->flow.remote);
        v.rotate_ns = pp != NULL ? pp->rotate_ns : 0;
        v.aead = s.suite.aead_id;
        memcpy(pair.local, r->flow.local, 16);
        memcpy(pair.remote, r->flow.remote, 16);
        /* The history first (NOEXIST: a live one stays), then the secret
         * that points to it. */
        if (bpf_map_update_elem(ek->hist_fd, v.hist_id, ek->hbuf, BPF_NOEXIST) != 0 &&
            errno != EEXIST)
            rv = PDM_ERR_FULL;
        else if (bpf_map_update_elem(ek->secret_fd, &pair, &v, BPF_ANY) != 0)
            rv = PDM_ERR_FULL;
    }
    agent_ebpf_kdf_wipe(&v.kdf);
    pdm_memzero(&v, sizeof v);
    pdm_profile_secret_wipe(&s);
    return rv;
}

/* 1 when the longest --peer prefix holding addr is a v2-encrypted one. */
static int peer_encrypted(const struct agent_ebpf_keys *ek, const uint8_t addr[16])
{
    const struct agent_peer *p = peer_of(ek, addr);

    return p != NULL && p->mode == PDM_FORMAT_V2_ENCRYPTED;
}

#define EK_PRELOAD_MAX 256

/*
 * Gives the program, before any packet, the secrets of the pairs the
 * agent can name in advance: a PDMV2_SECRET of two full addresses (key
 * log, --primary-secret file, registration store) whose far end is an
 * encrypted peer. Their flows, the first one too, are then keyed in BPF
 * from their first packet. A primary secret's clients are not known in
 * advance: the first flow of each waits for user space (docs/agent.md).
 */
static void ek_preload(struct agent_ebpf_keys *ek)
{
    struct agent_keys *k = ek->keys;
    struct pdm_bpf_flow_key *pairs;
    size_t n = 0;

    if (k == NULL || ek->secret_fd < 0 || (pairs = calloc(EK_PRELOAD_MAX, sizeof *pairs)) == NULL)
        return;
    pthread_mutex_lock(&k->lock);
    size_t nstore = k->store != NULL ? tool_store_count(k->store) : 0;
    for (size_t i = 0; i < k->nklog + nstore && n + 2 <= EK_PRELOAD_MAX; i++) {
        const struct pdm_keylog_entry *e =
            i < k->nklog ? &k->klog[i] : &tool_store_at(k->store, i - k->nklog)->k;

        if (e->kind != PDM_KEYLOG_SECRET || e->client_plen != 128 || e->server_plen != 128)
            continue;
        if (peer_encrypted(ek, e->server)) {
            memcpy(pairs[n].local, e->client, 16);
            memcpy(pairs[n++].remote, e->server, 16);
        }
        if (peer_encrypted(ek, e->client)) {
            memcpy(pairs[n].local, e->server, 16);
            memcpy(pairs[n++].remote, e->client, 16);
        }
    }
    pthread_mutex_unlock(&k->lock);
    for (size_t i = 0; i < n; i++) {
        struct ek_req r;

        memset(&r, 0, sizeof r);
        r.flow = pairs[i];
        (void)answer_tx_start(ek, &r, 0); /* a pair without its secret: nothing */
    }
    free(pairs);
}

/*
 * Folds the program's Kri histories into the agent's (which the --state
 * file saves): every bucket raised to the map's value. Also empties the
 * secrets map when the agent emptied its cache (SIGHUP, k->gen), so
 * nothing is sealed under a secret that is gone. Request thread, and stop.
 */
static void ek_hist_sync(struct agent_ebpf_keys *ek, int preload)
{
    struct agent_keys *k = ek->keys;
    struct pdm_v2key_pair next;
    int changed = 0, reload = 0;

    if (k == NULL)
        return;
    pthread_mutex_lock(&k->lock);
    if (k->gen != ek->gen) {
        while (bpf_map_get_next_key(ek->secret_fd, NULL, &next) == 0 &&
               bpf_map_delete_elem(ek->secret_fd, &next) == 0)
            ;
        ek->gen = k->gen;
        reload = 1;
    }
    for (struct khist *h = k->hists; h != NULL; h = h->next) {
        if (bpf_map_lookup_elem(ek->hist_fd, h->id, ek->hbuf) != 0)
            continue;
        for (size_t b = 0; b < KRI_BUCKETS; b++) {
            if (ek->hbuf->tx[b] > h->tx[b]) {
                h->tx[b] = ek->hbuf->tx[b] > KRI_END ? KRI_END : ek->hbuf->tx[b];
                changed = 1;
            }
            if (ek->hbuf->rx[b] > h->rx[b]) {
                h->rx[b] = ek->hbuf->rx[b] > KRI_END ? KRI_END : ek->hbuf->rx[b];
                changed = 1;
            }
        }
    }
    if (changed)
        k->dirty = 1;
    pthread_mutex_unlock(&k->lock);
    ek->synced_ns = ek_mono_ns();
    if (reload && preload)
        ek_preload(ek); /* the sources were re-read */
}

static int answer(struct agent_ebpf_keys *ek, const struct ek_req *r)
{
    struct pdm_flow_tuple tt, rt; /* our direction, the peer's */
    struct pdm_profile_secret s;
    uint32_t v = 0;
    int rv = 0;

    memset(&tt, 0, sizeof tt);
    memcpy(tt.src, r->flow.local, 16);
    memcpy(tt.dst, r->flow.remote, 16);
    tt.sport = r->flow.lport;
    tt.dport = r->flow.rport;
    tt.proto = r->flow.proto;
    memset(&rt, 0, sizeof rt);
    memcpy(rt.src, r->flow.remote, 16);
    memcpy(rt.dst, r->flow.local, 16);
    rt.sport = r->flow.rport;
    rt.dport = r->flow.lport;
    rt.proto = r->flow.proto;

    switch (r->kind) {
    case EK_REQ_TX_START:
        if (ek->secret_fd >= 0) {
            /* The program starts its flows itself once it has the secret. */
            if ((rv = answer_tx_start(ek, r, 1)) == PDM_ERR_NOT_FOUND)
                goto no_secret;
            if (rv < 0)
                ek->install_failed++;
            ek->answered++;
            return rv;
        }
        if (ek_secret_of(ek, r, &tt, &s, hist_tx_start, 0, &v) != 0)
            goto no_secret;
        if (v > PDM_KRI_MAX) {
            struct ek_install a;
            memset(&a, 0, sizeof a);
            flow_key(&tt, EBPF_KEYS_TX, &a.flow);
            a.op = EK_OP_TX_END;
            rv = ek_run_install(ek, &a);
            break;
        }
        /* Armed at Kri0 first, the next key after: until it is armed every
         * packet goes out unmarked, and so the peer, seeing no option,
         * never asks for its receiving key either; a short burst (20 UDP
         * exchanges take a few ms) can end within two crypto-context
         * set-ups on a loaded machine. The next key is needed only
         * --rotate-packets packets later (missing, one position is
         * skipped and asked again). */
        rv = agent_ebpf_keys_install(ek, &s, &tt, EBPF_KEYS_TX, (uint16_t)v, EBPF_KEYS_ARM_TX,
                                     peer_limit(ek, r->flow.remote));
        /* EBPF_KEYS_ALREADY_ARMED: a repeated request, answered before
         * (the Kri it reserved stays unused). */
        if (rv == 0 && v < PDM_KRI_MAX)
            rv = agent_ebpf_keys_install(ek, &s, &tt, EBPF_KEYS_TX, (uint16_t)(v + 1), 0, 0);
        break;
    case EK_REQ_TX_KEY:
        if (ek_secret_of(ek, r, &tt, &s, hist_tx_key, r->kri, &v) != 0)
            goto no_secret;
        rv = agent_ebpf_keys_install(ek, &s, &tt, EBPF_KEYS_TX, r->kri, 0, 0);
        break;
    case EK_REQ_RX_FIND:
        if (ek_secret_of(ek, r, &rt, &s, hist_rx_expect, 0, &v) != 0)
            goto no_secret;
        rv = answer_rx_find(ek, r, &rt, &s, v);
        break;
    case EK_REQ_RX_KEY:
        if (ek_secret_of(ek, r, &rt, &s, NULL, 0, &v) != 0)
            goto no_secret;
        rv = agent_ebpf_keys_install(ek, &s, &rt, EBPF_KEYS_RX, r->kri, 0, 0);
        break;
    case EK_REQ_TX_LANE:
        /* Not a key: not counted among the answers. */
        return ek_answer_tx_lane(ek, r, &tt);
    case EK_REQ_RX_LANE:
        return ek_answer_rx_lane(ek, r, &rt);
    default:
        return 0;
    }
    pdm_profile_secret_wipe(&s);
    if (rv < 0 && r->kind != EK_REQ_RX_FIND)
        ek->install_failed++; /* RX_FIND's own failures are find_failed */
    ek->answered++;
    return rv;
no_secret:
    ek->no_secret++;
    return PDM_ERR_NOT_FOUND;
}

static int on_req(void *ctx, void *data, size_t len)
{
    struct ek_req r;

    if (len < sizeof r)
        return 0;
    memcpy(&r, data, sizeof r);
    (void)answer(ctx, &r);
    pdm_memzero(&r, sizeof r);
    return 0;
}

#define EK_GC_STEP 2048 /* slot keys looked at per tick (5 ticks a second) */

/*
 * The slots map is not an LRU (a preallocated one would hold 8 slots of
 * ~620 bytes for every flow --flows allows, ~400 MB by default): slots
 * are made as flows need them and those whose flow state the LRU state
 * map has dropped are deleted here, EK_GC_STEP keys a tick, resuming
 * where the last tick stopped. Request thread only.
 */
static void ek_gc(struct agent_ebpf_keys *ek)
{
    struct {
        struct pdm_bpf_flow_key flow;
        uint8_t dir, parity, kind, pad;
    } cur, next;
    _Static_assert(sizeof cur == sizeof ek->gc_cur, "struct pdm_v2enc_slot_key");

    if (!ek->gc_have) {
        if (bpf_map_get_next_key(ek->slots_fd, NULL, &next) != 0)
            return; /* empty */
        memcpy(ek->gc_cur, &next, sizeof next);
        ek->gc_have = 1;
    }
    for (int i = 0; i < EK_GC_STEP; i++) {
        /* gc_cur is the next key to look at; its successor is taken
         * before it may be deleted (a deleted key's successor is the
         * map's first). */
        memcpy(&cur, ek->gc_cur, sizeof cur);
        int last = bpf_map_get_next_key(ek->slots_fd, &cur, &next) != 0;
        if (bpf_map_lookup_elem(ek->state_fd, &cur.flow, ek->stbuf) != 0 && errno == ENOENT)
            (void)bpf_map_delete_elem(ek->slots_fd, &cur);
        if (last) {
            ek->gc_have = 0; /* the end: from the start next tick */
            return;
        }
        memcpy(ek->gc_cur, &next, sizeof next);
    }
}

static void *req_thread(void *arg)
{
    struct agent_ebpf_keys *ek = arg;

    while (!__atomic_load_n(&ek->stop, __ATOMIC_ACQUIRE)) {
        /* Lanes in use: woken every millisecond to keep them W ahead. */
        (void)ring_buffer__poll(ek->rb, ek->lanes_used > 0 ? 1 : 200);
        if (ek->lanes_used > 0)
            ek_ks_tick(ek);
        if (ek_mono_ns() - ek->synced_ns >= 200000000u) { /* five times a second */
            ek_hist_sync(ek, 1);
            ek_gc(ek);
        }
    }
    return NULL;
}

int agent_ebpf_keys_size(struct bpf_object *obj, const struct agent_core_config *cc)
{
    struct bpf_map *st = bpf_object__find_map_by_name(obj, "v2enc_state");
    struct bpf_map *sl = bpf_object__find_map_by_name(obj, "v2enc_slots");
    struct bpf_map *ks = bpf_object__find_map_by_name(obj, "v2enc_ks");
    size_t flows = 1;
    int enc = 0;

    if (st == NULL || sl == NULL)
        return PDM_ERR_UNSUPPORTED;
    for (size_t i = 0; i < cc->npeers; i++)
        if (cc->peers[i].mode == PDM_FORMAT_V2_ENCRYPTED) {
            flows = cc->flow_capacity;
            enc = 1;
        }
    if (flows < 64)
        flows = 64;
    if (flows > (1u << 22))
        flows = 1u << 22;
    if (bpf_map__set_max_entries(st, (uint32_t)flows) != 0 ||
        bpf_map__set_max_entries(sl, (uint32_t)(8 * flows)) != 0)
        return PDM_ERR_STATE;
    /* Keystream lanes (1.3 MB) only with an encrypted peer: else one. */
    if (ks != NULL && !enc && bpf_map__set_max_entries(ks, EK_KS_W) != 0)
        return PDM_ERR_STATE;
    return 0;
}

int agent_ebpf_keys_start(struct agent_ebpf_keys **out, struct bpf_object *obj,
                          struct agent_keys *keys, const struct agent_core_config *cc)
{
    struct bpf_program *p = bpf_object__find_program_by_name(obj, "pdm_v2enc_install");
    int req_fd = bpf_object__find_map_fd_by_name(obj, "v2enc_req");
    struct agent_ebpf_keys *ek;

    *out = NULL;
    if (p == NULL || req_fd < 0 || bpf_object__find_map_fd_by_name(obj, "v2enc_slots") < 0)
        return PDM_ERR_UNSUPPORTED;
    if ((ek = calloc(1, sizeof *ek)) == NULL)
        return PDM_ERR_NOMEM;
    ek->install_fd = bpf_program__fd(p);
    ek->count_fd = bpf_object__find_map_fd_by_name(obj, "v2enc_counters");
    ek->slots_fd = bpf_object__find_map_fd_by_name(obj, "v2enc_slots");
    ek->state_fd = bpf_object__find_map_fd_by_name(obj, "v2enc_state");
    ek->secret_fd = bpf_object__find_map_fd_by_name(obj, "v2enc_secret");
    ek->hist_fd = bpf_object__find_map_fd_by_name(obj, "v2enc_hist");
    if (ek->secret_fd < 0 || ek->hist_fd < 0)
        ek->secret_fd = ek->hist_fd = -1; /* an object without them: user space starts flows */
    struct bpf_map *stm = bpf_object__find_map_by_name(obj, "v2enc_state");
    if ((ek->hbuf = calloc(1, sizeof *ek->hbuf)) == NULL || stm == NULL ||
        (ek->stbuf = calloc(1, bpf_map__value_size(stm))) == NULL) {
        free(ek->hbuf);
        free(ek);
        return PDM_ERR_NOMEM;
    }
    ek->gen = keys != NULL ? keys->gen : 0;
    ek->keys = keys;
    ek->cc = cc;
#if defined(__x86_64__)
    struct bpf_map *ksm = bpf_object__find_map_by_name(obj, "v2enc_ks");
    if (ksm != NULL && bpf_map__value_size(ksm) == sizeof(struct ek_ks_ent) &&
        (bpf_map__map_flags(ksm) & BPF_F_MMAPABLE)) {
        size_t n = bpf_map__max_entries(ksm) / EK_KS_W, pg = (size_t)sysconf(_SC_PAGESIZE);
        size_t bytes = (bpf_map__max_entries(ksm) * sizeof(struct ek_ks_ent) + pg - 1) / pg * pg;
        void *km = n == 0
                       ? MAP_FAILED
                       : mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(ksm), 0);
        if (km != MAP_FAILED) {
            ek->ks = km;
            ek->ks_bytes = bytes;
            ek->ks_max = ek->nlanes = n > EK_KS_LANES ? EK_KS_LANES : n;
        } /* else no lanes: every block from the kfunc, as before */
    }
#endif
    if ((ek->rb = ring_buffer__new(req_fd, on_req, ek, NULL)) == NULL) {
        free(ek->stbuf);
        free(ek->hbuf);
        free(ek);
        return PDM_ERR_NOMEM;
    }
    /* Here, before the programs are attached: the pairs' first packets
     * find their secrets already. */
    ek_preload(ek);
    *out = ek;
    return 0;
}

int agent_ebpf_keys_run(struct agent_ebpf_keys *ek)
{
    if (ek == NULL || ek->keys == NULL || ek->running)
        return 0;
    if (pthread_create(&ek->thread, NULL, req_thread, ek) != 0)
        return PDM_ERR_NOMEM;
    ek->running = 1;
    return 0;
}

void agent_ebpf_keys_stop(struct agent_ebpf_keys *ek)
{
    if (ek == NULL)
        return;
    if (ek->running) {
        __atomic_store_n(&ek->stop, 1, __ATOMIC_RELEASE);
        pthread_join(ek->thread, NULL);
    }
    if (ek->hist_fd >= 0)
        ek_hist_sync(ek, 0); /* the last starts, into the exit's save */
    for (size_t i = 0; i < ek->nlanes; i++)
        ek_lane_release(ek, i, 0);
    if (ek->ks != NULL) {
        memset(ek->ks, 0, ek->ks_bytes); /* no keystream left in the map */
        munmap(ek->ks, ek->ks_bytes);
    }
    ring_buffer__free(ek->rb);
    free(ek->stbuf);
    free(ek->hbuf);
    pdm_memzero(ek, sizeof *ek);
    free(ek);
}

size_t agent_ebpf_keys_lanes(struct agent_ebpf_keys *ek, size_t n)
{
    if (ek == NULL || ek->ks == NULL || ek->running)
        return 0;
    if (n > ek->ks_max)
        n = ek->ks_max;
    for (size_t i = n; i < ek->nlanes; i++)
        ek_lane_release(ek, i, 1);
    ek->nlanes = n;
    return n;
}

int agent_ebpf_keys_serve(struct agent_ebpf_keys *ek, const struct pdm_profile_secret *s,
                          uint32_t limit, int timeout_ms)
{
    uint64_t before;
    int rv;

    if (ek == NULL || ek->running)
        return PDM_ERR_STATE;
    ek->fixed = s;
    ek->fixed_limit = limit;
    before = ek->answered;
    rv = ring_buffer__poll(ek->rb, timeout_ms);
    if (rv >= 0)
        rv = ring_buffer__consume(ek->rb);
    if (ek->lanes_used > 0)
        ek_ks_tick(ek);
    ek->fixed = NULL;
    ek_gc(ek);
    return rv < 0 ? PDM_ERR_STATE : (int)(ek->answered - before);
}

void agent_ebpf_keys_status_write(FILE *f, struct agent_ebpf_keys *ek)
{
    int ncpu = libbpf_num_possible_cpus();
    uint64_t *v;

    if (ek == NULL)
        return;
    if (ncpu > 0 && ek->count_fd >= 0 && (v = calloc((size_t)ncpu, sizeof *v)) != NULL) {
        for (uint32_t i = 0; i < EK_C_MAX; i++) {
            uint64_t sum = 0;
            if (bpf_map_lookup_elem(ek->count_fd, &i, v) == 0)
                for (int c = 0; c < ncpu; c++)
                    sum += v[c];
            fprintf(f, "%s %llu\n", ek_names[i], (unsigned long long)sum);
        }
        free(v);
    }
    fprintf(f, "v2enc_keys_answered %llu\nv2enc_keys_no_secret %llu\n",
            (unsigned long long)ek->answered, (unsigned long long)ek->no_secret);
    fprintf(f, "v2enc_keys_find_failed %llu\nv2enc_keys_install_failed %llu\n",
            (unsigned long long)ek->find_failed, (unsigned long long)ek->install_failed);
    fprintf(f,
            "v2enc_keystream_lanes %zu\nv2enc_keystream_lanes_used %zu\n"
            "v2enc_keystream_given %llu\nv2enc_keystream_refused %llu\n"
            "v2enc_keystream_written %llu\n",
            ek->nlanes, ek->lanes_used, (unsigned long long)ek->ks_given,
            (unsigned long long)ek->ks_refused, (unsigned long long)ek->ks_written);
}

#else /* !PDM_HAVE_LIBBPF */

int agent_ebpf_keys_size(struct bpf_object *obj, const struct agent_core_config *cc)
{
    (void)obj;
    (void)cc;
    return PDM_ERR_UNSUPPORTED;
}

int agent_ebpf_keys_start(struct agent_ebpf_keys **out, struct bpf_object *obj,
                          struct agent_keys *keys, const struct agent_core_config *cc)
{
    (void)obj;
    (void)keys;
    (void)cc;
    *out = NULL;
    return PDM_ERR_UNSUPPORTED;
}

int agent_ebpf_keys_run(struct agent_ebpf_keys *ek)
{
    (void)ek;
    return 0;
}

void agent_ebpf_keys_stop(struct agent_ebpf_keys *ek)
{
    (void)ek;
}

int agent_ebpf_keys_install(struct agent_ebpf_keys *ek, const struct pdm_profile_secret *s,
                            const struct pdm_flow_tuple *t, int dir, uint16_t kri, int arm,
                            uint32_t limit)
{
    (void)ek;
    (void)s;
    (void)t;
    (void)dir;
    (void)kri;
    (void)arm;
    (void)limit;
    return PDM_ERR_UNSUPPORTED;
}

int agent_ebpf_keys_serve(struct agent_ebpf_keys *ek, const struct pdm_profile_secret *s,
                          uint32_t limit, int timeout_ms)
{
    (void)ek;
    (void)s;
    (void)limit;
    (void)timeout_ms;
    return PDM_ERR_UNSUPPORTED;
}

size_t agent_ebpf_keys_lanes(struct agent_ebpf_keys *ek, size_t n)
{
    (void)ek;
    (void)n;
    return 0;
}

void agent_ebpf_keys_status_write(FILE *f, struct agent_ebpf_keys *ek)
{
    (void)f;
    (void)ek;
}

#endif
