/*
 * A v2-encrypted sender keyed in BPF (issue 10 item 2, docs/agent.md
 * "Fast path: v2-encrypted"): the first packet of a new flow direction
 * derives its own keys, so nothing waits for user space.
 *
 * User space (tools/agent/ebpf_keys.c) resolves a (local, remote) pair's
 * secret as the NFQUEUE path does and writes it here, as HMAC states
 * (bpf/kdf.h: prk itself never enters the kernel) with the Kri history's
 * bucket key and the pair's packets per key. From then on, a new sending
 * state of that pair:
 *   - takes Kri0 from the history (v2enc_hist: per secret, the next Kri a
 *     flow of each bucket may start at; the same buckets as
 *     tools/agent/kri.c, raised here by two with one atomic add: Kri0 and
 *     the next are reserved, as user space's start did). User space folds
 *     these counters into its --state file within a second (the crash
 *     margin covers the rest), so a tuple that comes back never reuses a
 *     key;
 *   - derives the keys of Kri0 and Kri0 + 1 (bpf/kdf.h) into slots of
 *     their own kind (PDM_V2ENC_SOFT in v2enc_slots), which the program
 *     itself makes and writes: no crypto context, ChaCha20 runs from them
 *     directly (and AES, with a software block cipher);
 *   - arms the state and seals this very packet.
 * At a rotation to Kri the program derives Kri + 1 into the idle slot. The
 * kernel-crypto slots user space installs on request are used where they
 * are ready (both hold the same key): they are constant time, as the
 * program's fixed-time AES is, and use AES-NI where the kernel has it.
 *
 * Without the pair's secret in the map yet (the first flow of a pair after
 * the agent started, or after SIGHUP emptied the cache), the packet goes
 * out unmarked, counted, and user space is asked for it (TX_START): that
 * is the one wait left, once per pair, not per flow.
 *
 * Receivers use the same secret and history (rx: 1 + the highest Kri
 * opened per bucket): pdm_v2enc.h's pdm_v2enc_rx_derive() and its
 * neighbours try the expected Kri of the option's parity and the next
 * one, derived here, before asking user space's search.
 */
#ifndef PDM_BPF_V2KEY_H
#define PDM_BPF_V2KEY_H

#include "kdf.h"

#define PDM_V2KEY_BUCKETS 4096 /* tools/agent/keys.h KRI_BUCKETS */
#define PDM_V2KEY_KRI_END 65536u

/* v2enc_secret's key: a (local, remote) address pair. */
struct pdm_v2key_pair {
    __u8 local[16];
    __u8 remote[16];
};

struct pdm_v2key_secret {
    struct pdm_kdf_secret kdf;
    __u8 hist_id[16]; /* v2enc_hist's key (kri.c's id of the secret) */
    __u8 hkey[16];    /* the bucket hash key (kri.c) */
    __u64 expires_ns; /* bpf_ktime_get_ns() end of life; 0: none */
    __u64 rotate_ns;  /* a key's lifetime (--rotate-seconds); 0: none */
    __u32 limit;      /* packets per key, 1 .. 32767 */
    __u32 aead;       /* PDM_AEAD_* */
};

struct pdm_v2key_hist {
    __u32 tx[PDM_V2KEY_BUCKETS]; /* the next Kri a new sender of the bucket starts at */
    __u32 rx[PDM_V2KEY_BUCKETS]; /* 1 + the highest Kri opened (the receiver's guess) */
};

#ifdef __bpf__

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 512); /* tools/agent/keys.h PAIR_SLOTS */
    __type(key, struct pdm_v2key_pair);
    __type(value, struct pdm_v2key_secret);
} v2enc_secret SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 512);
    __type(key, __u8[16]);
    __type(value, struct pdm_v2key_hist);
} v2enc_hist SEC(".maps");

/* Per-CPU scratch of this file: the start runs at the bottom of the tc
 * program's stack (its frames and kdf.h's must fit under pdm_egress's). */
struct pdm_v2key_scratch {
    struct pdm_v2enc_slot_key id;
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct pdm_v2key_scratch);
} v2key_scratch SEC(".maps");

/*
 * Derivations are paid for by whoever makes new flows, a forger too (an
 * option with a new port from the peer's address costs a receiver's two
 * tries): each CPU may derive PDM_V2KEY_BUDGET keys per 100 ms (some 4 %
 * of it at most). Over it, a sender's new flow goes out unmarked until
 * the next window and a receiver's first options go to user space's
 * search (bounded by its ring and its 2 ms per flow), counted
 * (v2enc_derive_deferred); a rotation's next key is never refused.
 */
#define PDM_V2KEY_BUDGET    1000
#define PDM_V2KEY_WINDOW_NS 100000000ull

struct pdm_v2key_budget {
    __u64 start_ns;
    __u32 used;
    __u32 pad;
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct pdm_v2key_budget);
} v2key_budget SEC(".maps");

/* 0 when n more derivations fit this CPU's budget (then spent), else -1. */
static __always_inline int v2key_spend(__u64 now, __u32 n)
{
    __u32 zero = 0;
    struct pdm_v2key_budget *b = bpf_map_lookup_elem(&v2key_budget, &zero);

    if (!b)
        return -1;
    if (now - b->start_ns >= PDM_V2KEY_WINDOW_NS) {
        b->start_ns = now;
        b->used = 0;
    }
    if (b->used + n > PDM_V2KEY_BUDGET)
        return -1;
    b->used += n;
    return 0;
}

/* kri.c's agent_kri_bucket(): FNV-1a over hkey and the sender's flow at
 * Kri 0, folded. */
static __always_inline __u32 v2key_bucket(const __u8 *hkey, const __u8 *flow)
{
    __u64 x = 0xcbf29ce484222325ull;

#pragma clang loop unroll(disable)
    for (int i = 0; i < 16; i++)
        x = (x ^ hkey[i]) * 0x100000001b3ull;
#pragma clang loop unroll(disable)
    for (int i = 0; i < PDM_KDF_FLOW_LEN - 2; i++)
        x = (x ^ flow[i]) * 0x100000001b3ull;
    x = (x ^ 0) * 0x100000001b3ull; /* Kri 0 */
    x = (x ^ 0) * 0x100000001b3ull;
    x ^= x >> 29;
    return (__u32)(x % PDM_V2KEY_BUCKETS);
}

/* kdf.h's flow of k's sending direction at kri into out (k in our view:
 * local sends), rolled so nothing spills to the stack. */
static __always_inline void v2key_flow(__u8 *out, const struct pdm_bpf_flow_key *k, __u32 kri)
{
    __u16 sp = pdm_kdf_has_ports(k->proto) ? k->lport : 0;
    __u16 dp = pdm_kdf_has_ports(k->proto) ? k->rport : 0;

#pragma clang loop unroll(disable)
    for (int i = 0; i < 16; i++) {
        out[i] = k->local[i];
        out[18 + i] = k->remote[i];
    }
    out[16] = (__u8)(sp >> 8);
    out[17] = (__u8)sp;
    out[34] = (__u8)(dp >> 8);
    out[35] = (__u8)dp;
    out[36] = k->proto;
    out[37] = (__u8)(kri >> 8);
    out[38] = (__u8)kri;
}

/* The same for the peer's sending direction of k (remote sends). */
static __always_inline void v2key_flow_rx(__u8 *out, const struct pdm_bpf_flow_key *k, __u32 kri)
{
    __u16 sp = pdm_kdf_has_ports(k->proto) ? k->rport : 0;
    __u16 dp = pdm_kdf_has_ports(k->proto) ? k->lport : 0;

#pragma clang loop unroll(disable)
    for (int i = 0; i < 16; i++) {
        out[i] = k->remote[i];
        out[18 + i] = k->local[i];
    }
    out[16] = (__u8)(sp >> 8);
    out[17] = (__u8)sp;
    out[34] = (__u8)(dp >> 8);
    out[35] = (__u8)dp;
    out[36] = k->proto;
    out[37] = (__u8)(kri >> 8);
    out[38] = (__u8)kri;
}

/* The secret of flow k's pair, if user space has put it here and it is
 * alive. */
static __always_inline struct pdm_v2key_secret *v2key_secret(const struct pdm_bpf_flow_key *k,
                                                             __u64 now)
{
    struct pdm_v2key_secret *s = bpf_map_lookup_elem(&v2enc_secret, k);

    if (!s || (s->expires_ns != 0 && now >= s->expires_ns))
        return NULL;
    return s;
}

/*
 * Derives flow k's key of direction dir (PDM_V2ENC_TX: ours, with the RN
 * key; PDM_V2ENC_RX: the peer's) at kri under sec into the soft slot of
 * kri's parity (created when absent); the kdf scratch's io.flow holds that
 * direction's flow already (v2key_flow() / v2key_flow_rx(), any Kri). The
 * slot is marked not ready while it is written: only the idle parity is
 * ever re-keyed. 0 or -1.
 */
static __always_inline int v2key_derive(const struct pdm_bpf_flow_key *k,
                                        const struct pdm_v2key_secret *sec, __u32 kri, __u8 dir)
{
    struct pdm_kdf_scratch *ks = pdm_kdf_scratch_get();
    __u32 zero = 0;
    struct pdm_v2key_scratch *vs = bpf_map_lookup_elem(&v2key_scratch, &zero);
    struct pdm_v2enc_slot_key *id;
    struct pdm_v2enc_slot *sl;

    if (!ks || !vs)
        return -1;
    id = &vs->id;
    v2enc_key_copy(&id->flow, k);
    id->dir = dir;
    id->parity = (__u8)(kri & 1);
    id->kind = PDM_V2ENC_SOFT;
    id->pad = 0;
    if (!(sl = bpf_map_lookup_elem(&v2enc_slots, id))) {
        /* Made from zeroes (the schedule's words: overwritten by the
         * derivation below anyway); its context stays NULL. */
        _Static_assert(sizeof ks->w64 >= sizeof *sl, "zero source");
        __builtin_memset(ks->w64, 0, sizeof *sl);
        bpf_map_update_elem(&v2enc_slots, id, ks->w64, BPF_NOEXIST);
        if (!(sl = bpf_map_lookup_elem(&v2enc_slots, id)))
            return -1;
    }
    __sync_lock_test_and_set(&sl->ready, 0);
    ks->io.flow[37] = (__u8)(kri >> 8); /* the rest: the caller's v2key_flow() */
    ks->io.flow[38] = (__u8)kri;
    if (pdm_kdf_derive(&sec->kdf, &ks->io, dir == PDM_V2ENC_TX ? PDM_KDF_F_RN : 0) != 0)
        return -1;
    if (sec->aead == PDM_AEAD_CHACHA20) {
        __builtin_memcpy(sl->aead.chacha, ks->io.stk, sizeof sl->aead.chacha);
        sl->aead.suite = PDM_AEAD_CHACHA20;
    } else if (pdm_aes_soft_key_slot(&sl->soft, &sl->aead, sec->aead, ks->io.stk) != 0) {
        return -1; /* schedule, H, GHASH table (bpf/aes_soft.h): left not ready */
    }
    __builtin_memcpy(sl->mat.base_nonce, ks->io.base_nonce, sizeof sl->mat.base_nonce);
    if (dir == PDM_V2ENC_TX)
        __builtin_memcpy(sl->mat.rn_key, ks->io.rn_key, sizeof sl->mat.rn_key);
    sl->mat.kri = (__u16)kri;
    __builtin_memset(ks->io.stk, 0, sizeof ks->io.stk);
    __sync_lock_test_and_set(&sl->ready, 1);
    return 0;
}

/*
 * Starts the sending state st of flow k in BPF: Kri0 from the history,
 * the keys of Kri0 and Kri0 + 1, armed. Only the CPU that made the state
 * (fresh) starts it: a second CPU's packet meanwhile goes out unmarked.
 * Returns 0 (armed), 1 (no secret here yet: the caller asks user space),
 * 2 (Kri used up: armed as ended), 3 (over the derivation budget), -1
 * (failed).
 */
static __always_inline int v2key_tx_start(const struct pdm_bpf_flow_key *k,
                                          struct pdm_v2enc_state *st, __u64 now)
{
    struct pdm_kdf_scratch *ks = pdm_kdf_scratch_get();
    struct pdm_v2key_secret *sec;
    struct pdm_v2key_hist *h;
    __u32 b, kri0;

    if (!ks)
        return -1;
    if (!(sec = v2key_secret(k, now)))
        return 1;
    if (!(h = bpf_map_lookup_elem(&v2enc_hist, sec->hist_id)))
        return 1;
    if (v2key_spend(now, 2) != 0)
        return 3;
    if (__sync_fetch_and_or(&st->flags, PDM_V2ENC_S_TX_STARTING) & PDM_V2ENC_S_TX_STARTING)
        return -1; /* another CPU is at it */
    v2key_flow(ks->io.flow, k, 0);
    b = v2key_bucket(sec->hkey, ks->io.flow) & (PDM_V2KEY_BUCKETS - 1);
    kri0 = __sync_fetch_and_add(&h->tx[b], 2);
    if (kri0 > PDM_V2ENC_KRI_MAX) {
        __sync_fetch_and_or(&st->flags, PDM_V2ENC_S_TX_END);
        return 2;
    }
    if (v2key_derive(k, sec, kri0, PDM_V2ENC_TX) != 0) {
        __sync_fetch_and_and(&st->flags, ~PDM_V2ENC_S_TX_STARTING);
        return -1;
    }
    if (kri0 < PDM_V2ENC_KRI_MAX)
        (void)v2key_derive(k, sec, kri0 + 1, PDM_V2ENC_TX); /* missing, derived at the rotation */
    st->seq = 0;
    st->tx_kri0 = kri0;
    st->tx_limit = sec->limit == 0 || sec->limit > PDM_ENC_RN_COUNT ? PDM_ENC_RN_COUNT : sec->limit;
    st->tx_asked = 0;
    st->tx_key_ns = now;
    st->tx_rot_ns = sec->rotate_ns;
    __sync_fetch_and_or(&st->flags, PDM_V2ENC_S_TX_ARMED);
    return 0;
}

/* At a rotation to kri: kri + 1 into the idle soft slot, now. */
static __always_inline void v2key_rotated(const struct pdm_bpf_flow_key *k, __u32 kri, __u64 now)
{
    struct pdm_v2key_secret *sec = v2key_secret(k, now);
    struct pdm_kdf_scratch *ks = pdm_kdf_scratch_get();
    struct pdm_v2key_hist *h;
    __u32 b, old;

    if (!sec || !ks || kri >= PDM_V2ENC_KRI_MAX)
        return;
    v2key_flow(ks->io.flow, k, 0);
    /* The history reserves kri and kri + 1 too: a start of this tuple
     * after its state is gone (or after a restart) begins above them. */
    if ((h = bpf_map_lookup_elem(&v2enc_hist, sec->hist_id))) {
        b = v2key_bucket(sec->hkey, ks->io.flow) & (PDM_V2KEY_BUCKETS - 1);
#pragma clang loop unroll(disable)
        for (int i = 0; i < 8; i++) { /* a few racing CPUs at most */
            old = h->tx[b];
            if (old >= kri + 2 || __sync_val_compare_and_swap(&h->tx[b], old, kri + 2) == old)
                break;
        }
    }
    (void)v2key_derive(k, sec, kri + 1, PDM_V2ENC_TX);
}

#endif /* __bpf__ */
#endif /* PDM_BPF_V2KEY_H */
