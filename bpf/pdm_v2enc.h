/*
 * v2-encrypted PDMv2 in the tc-eBPF data path (issue 10 item 2, PROFILE.md
 * §3, docs/agent.md "Fast path: v2-encrypted"): egress seals the option,
 * ingress opens the peer's, keys derived here from the pair's secret
 * (bpf/pdm_v2key.h) or installed by user space (tools/agent/ebpf_keys.c,
 * HKDF in lib/) through the maps below. Included by bpf/pdm.bpf.c and
 * bpf/test_v2enc.bpf.c after pdm_bpf.h.
 *
 * Maps:
 *   v2enc_slots  (flow, direction, Kri parity, kind) -> AEAD key +
 *                BaseNonce + RN key + Kri. Two slots per direction and
 *                kind: the key in use and the next (tx) or the peer's
 *                current and next (rx), so a rotation finds its key
 *                already there; kind PDM_V2ENC_HW is user space's (a
 *                kernel crypto context), PDM_V2ENC_SOFT the program's.
 *   v2enc_state  flow -> the sender's position and the receiver's Kri.
 *   v2enc_req    ring buffer of key requests to user space.
 *   v2enc_counters  per-CPU counters (PDM_V2ENC_C_*), for --status.
 *
 * Sender. The state holds seq (options drawn, atomically incremented: no
 * lock, no two CPUs ever get the same value), Kri0 and limit (packets per
 * key, the profile's rotation policy). Option n of the flow direction is
 * at Kri = Kri0 + n / limit and position n % limit of that Kri's RN
 * permutation (bpf/pdm_enc.h, the same permutation as lib/profile.c), so
 * the sequence is lib's pdm_profile_tx_seal() with max_packets = limit,
 * byte for byte (tests/test_bpf_v2enc.c checks that), F = Kri mod 2, and a
 * (key, nonce) pair cannot repeat: n only grows, and a slot is used only
 * when its material says it is that Kri's. Past Kri 65535 nothing is
 * sealed. limit comes from --rotate-packets (32767 without it); with
 * --rotate-seconds, the first draw past a key's lifetime moves n to the
 * next multiple of limit (the positions skipped are never used).
 *
 * Keys for a new flow: derived here (bpf/pdm_v2key.h) from the pair's
 * secret, which user space hands over (at start for every pair it can
 * name, else on the pair's first packet, which then goes out unmarked,
 * counted tx_key_pending, with a TX_START request). The first packet of a
 * flow direction takes Kri0 from the Kri history in a map, derives Kri0
 * and Kri0 + 1, arms the sender and is sealed itself; user space is asked
 * for its kernel-crypto slots of both, which take over when ready. At a
 * rotation to Kri the program derives Kri + 1 into the slot of Kri - 1
 * (idle by then): the next key is in place one whole key's worth of
 * packets before it is needed.
 *
 * Receiver. The option's F bit picks the slot; one AEAD open. The first
 * option of a flow direction is tried under the Kri history's expected
 * Kri and the next of its parity, derived here (pdm_v2enc_rx_derive());
 * an option that opens under neither, or later in neither slot (the peer
 * restarted, or rotated more than once while we lost its packets), goes
 * to user space with the option's bytes: lib's Kri search
 * (pdm_profile_rx_open, the same window as the NFQUEUE path) finds its
 * Kri and installs that key and the next. Opened at a higher Kri, the
 * receiver asks for the one after. Unopened options are never used.
 */
#ifndef PDM_BPF_V2ENC_H
#define PDM_BPF_V2ENC_H

#include "aead.h"
/* The program's own AES (its slots, until user space's crypto context is
 * there) in the kernel's fixed-time construction, not T-tables: packets
 * are sealed next to whatever else shares the CPU's caches. */
#define PDM_AES_SOFT_FIXED_TIME 1
#include "aes_soft.h"
#include "pdm_enc.h"

/* The agent's counters (enum agent_counter) this file returns. */
#ifndef PDM_BPF_C_TX_NO_SECRET
#define PDM_BPF_C_TX_NO_SECRET     11
#define PDM_BPF_C_TX_KEY_EXHAUSTED 12
#define PDM_BPF_C_TX_CRYPTO        13
#define PDM_BPF_C_RX_AUTH_FAILED   22
#endif

#define PDM_V2ENC_TX 0
#define PDM_V2ENC_RX 1

#define PDM_V2ENC_KRI_MAX    65535
#define PDM_V2ENC_REQ_GAP_NS 2000000ull /* a repeated request at most every 2 ms */

/* pdm_v2enc_reserve()'s *out besides an RN or a counter index. */
#define PDM_V2ENC_OUT_START   0x8000  /* not armed: pdm_v2enc_start(), then again */
#define PDM_V2ENC_OUT_ROTATED 0x10000 /* with an RN: pdm_v2enc_rotated() after */
#define PDM_V2ENC_OUT_KS      0x20000 /* with an RN: the AES blocks are in v2enc_buf already */

/* Requests to user space. */
#define PDM_V2ENC_REQ_TX_START 1 /* new sending state: pick Kri0, keys Kri0 and Kri0+1 */
#define PDM_V2ENC_REQ_TX_KEY   2 /* the sender's key for kri (the next one) */
#define PDM_V2ENC_REQ_RX_FIND  3 /* find the Kri of opt (lib's search), install it and +1 */
#define PDM_V2ENC_REQ_RX_KEY   4 /* the peer's key for kri (the next one) */
#define PDM_V2ENC_REQ_TX_LANE  5 /* a busy AES sender: a keystream lane, please */
#define PDM_V2ENC_REQ_RX_LANE  6 /* a busy AES receiver: a keystream lane, please */

/* Counters (v2enc_counters). */
#define PDM_V2ENC_C_SEALED       0
#define PDM_V2ENC_C_OPENED       1
#define PDM_V2ENC_C_TX_PENDING   2 /* unmarked: key not installed yet */
#define PDM_V2ENC_C_TX_EXHAUSTED 3 /* unmarked: Kri 65535 used up */
#define PDM_V2ENC_C_TX_CRYPTO    4
#define PDM_V2ENC_C_RX_PENDING   5 /* not opened: no key yet (asked) */
#define PDM_V2ENC_C_RX_AUTH      6 /* opened under neither slot (asked) */
#define PDM_V2ENC_C_REQUESTS     7
#define PDM_V2ENC_C_REQ_DROPPED  8 /* request ring full */
#define PDM_V2ENC_C_ROTATIONS    9 /* our Kri moved on */
#define PDM_V2ENC_C_PEER_ROT     10
#define PDM_V2ENC_C_DEFERRED     11 /* a derivation in BPF refused: over its budget */
#define PDM_V2ENC_C_KS_USED      12 /* sealed with user space's keystream blocks */
#define PDM_V2ENC_C_KS_OPENED    13 /* opened with user space's keystream blocks */
#define PDM_V2ENC_C_MAX          14

/* Install flags (struct pdm_v2enc_install.op). */
#define PDM_V2ENC_OP_SLOT   1  /* key, material into the slot named by id */
#define PDM_V2ENC_OP_TX     2  /* arm the sender: seq 0, tx_kri0, tx_limit */
#define PDM_V2ENC_OP_RX     4  /* the receiver's Kri: rx_kri */
#define PDM_V2ENC_OP_TX_END 8  /* the sender has no Kri left: stop asking */
#define PDM_V2ENC_OP_KS     16 /* the armed sender's keystream lane: ks (0: none) */
#define PDM_V2ENC_OP_KSR    32 /* the armed receiver's keystream lane: ks (0: none) */

/* struct pdm_v2enc_install.done: why an install wrote nothing. */
#define PDM_V2ENC_DONE_ARMED 1 /* OP_TX, but the sender is armed already */
#define PDM_V2ENC_DONE_SAME  2 /* the slot holds this Kri's key already */

/* Slot kinds: installed by user space with a kernel crypto context, or
 * derived by the program itself (bpf/pdm_v2key.h). */
#define PDM_V2ENC_HW   0
#define PDM_V2ENC_SOFT 1

struct pdm_v2enc_slot_key {
    struct pdm_bpf_flow_key flow;
    __u8 dir; /* PDM_V2ENC_TX / _RX */
    __u8 parity;
    __u8 kind; /* PDM_V2ENC_HW / _SOFT */
    __u8 pad;
};

struct pdm_v2enc_slot {
    struct pdm_aead_key aead;
    struct pdm_enc_material mat;
    __u32 ready; /* 1 once aead and mat are the key of mat.kri */
    __u32 pad;
    union {
        /* AES schedule of a slot the program keyed itself (PDM_V2ENC_SOFT,
         * bpf/aes_soft.h), which has no kernel crypto context; */
        struct pdm_aes_soft_key soft;
        /* or, in a slot with a kernel crypto context (written by the
         * install program, user space's), GHASH's table of H^2 and L * H
         * (aead_gcm_tag2()). The slot's aead.aes says which. */
        struct pdm_aead_gcm gcm;
    };
};

#define PDM_V2ENC_S_TX_ARMED    0x01
#define PDM_V2ENC_S_TX_END      0x02
#define PDM_V2ENC_S_RX_ARMED    0x04
#define PDM_V2ENC_S_TX_STARTING 0x08 /* a CPU is deriving Kri0 (bpf/pdm_v2key.h) */

struct pdm_v2enc_state {
    __u64 seq; /* options drawn since Kri0 (atomic) */
    __u64 tx_req_ns, rx_req_ns;
    __u64 tx_key_ns; /* when the sender's current Kri began */
    __u64 tx_rot_ns; /* --rotate-seconds: a key's lifetime, 0 none */
    __u32 tx_kri0;
    __u32 tx_limit; /* 1 .. 32767 */
    __u32 tx_asked; /* 1 + the Kri last asked for (rotation) */
    __u32 rx_kri;   /* the peer's highest opened Kri */
    __u32 flags;
    __u32 rx_pos; /* with ksr: Kri << 15 | position of an option opened lately */
    __u64 ks;     /* keystream lane (user space's): gen << 32 | lane, 0 none */
    __u64 ksr;    /* the receiver's lane, the same way */
};

struct pdm_v2enc_req {
    struct pdm_bpf_flow_key flow;
    __u8 kind;
    __u8 pad;
    __u16 kri;
    __u8 opt[PDM_ENC_OPT_LEN];
};

/* ctx_in of pdm_v2enc_install (user space: tools/agent/ebpf_keys.c). */
struct pdm_v2enc_install {
    struct pdm_v2enc_slot_key id;
    __u32 op;
    __u32 tx_kri0, tx_limit, rx_kri;
    __s32 err;  /* out: the kernel's error of bpf_crypto_ctx_create */
    __u32 done; /* out: PDM_V2ENC_DONE_* when nothing had to be written */
    __u32 pad;
    __u64 ks; /* PDM_V2ENC_OP_KS, PDM_V2ENC_OP_KSR */
    struct pdm_enc_material mat;
    struct pdm_aead_key_args key;
    struct pdm_aead_gcm gcm; /* AES suites: written into the slot with the key */
};

#ifndef PDM_V2ENC_FLOWS
#define PDM_V2ENC_FLOWS 1024 /* the loader sizes both maps (agent_ebpf_keys_size) */
#endif

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 8 * PDM_V2ENC_FLOWS); /* two directions x two parities x two kinds */
    __type(key, struct pdm_v2enc_slot_key);
    __type(value, struct pdm_v2enc_slot);
} v2enc_slots SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, PDM_V2ENC_FLOWS);
    __type(key, struct pdm_bpf_flow_key);
    __type(value, struct pdm_v2enc_state);
} v2enc_state SEC(".maps");

/*
 * Keystream lanes (docs/agent.md "Keystream from user space"). The
 * kernel's ecb(aes) is about half of an AES-GCM seal here (no AES-NI
 * driver), and the blocks of a sender's option n depend only on its key
 * and nonce, both known ahead: the sender's RN sequence is its own. So
 * user space (OpenSSL, AES-NI) computes E(J0) || E(J0+1) of a busy
 * sender's next PDM_V2ENC_KS_W options into its lane, entry n mod W
 * tagged gen << 32 | n, and the program uses an entry only when the tag
 * is its own draw's before and after the copy (user space zeroes the tag,
 * writes the blocks, then the tag: a copy torn by a refill is refused,
 * x86's stores and loads being ordered; user space gives lanes out on
 * x86-64 only). The kfunc stays the fallback for anything else. An
 * entry is only ever the blocks of (key, nonce) of draw n, so it adds no
 * way for a (key, nonce) pair to repeat: n is drawn once.
 *
 * A busy AES receiver gets a lane too: it holds the peer's RN key (user
 * space's slots carry it), so an option's RN tells its position in the
 * peer's sequence (pdm_enc_pos_of()), and the peer draws positions in
 * order. Half kri & 1 of the lane holds Kri kri's positions, entry
 * pos mod W/2 tagged gen << 32 | kri << 15 | pos; the state's rx_pos says
 * where the receiver is, user space fills the next W/2 positions of that
 * Kri and the first W/2 of the next one. Blocks that turn out wrong (the
 * tag does not match with them: a forgery, or a key changed under the
 * lane) are never trusted: the kfunc's are computed and the tag checked
 * again, so a lane can cost an open time but never accept or lose one.
 */
#define PDM_V2ENC_KS_LANES 32
#define PDM_V2ENC_KS_W     1024 /* a power of two */

struct pdm_v2enc_ks_ent {
    __u64 tag; /* gen << 32 | n, 0 while written */
    __u8 blk[32];
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(map_flags, BPF_F_MMAPABLE);
    __uint(max_entries, PDM_V2ENC_KS_LANES *PDM_V2ENC_KS_W);
    __type(key, __u32);
    __type(value, struct pdm_v2enc_ks_ent);
} v2enc_ks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 256 << 10);
} v2enc_req SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, PDM_V2ENC_C_MAX);
    __type(key, __u32);
    __type(value, __u64);
} v2enc_counters SEC(".maps");

/* Per-CPU scratch: the option being sealed or opened, off the stack. */
struct pdm_v2enc_buf {
    struct pdm_aead_scratch_v aes; /* GCM: nonce || 1, nonce || 2 and their AES */
    __u32 b0[16], b1[16];          /* ChaCha20 blocks 0 and 1 */
    __u8 pt[PDM_AEAD_PT_LEN];
    __u8 pad[2];
    __u8 opt[PDM_ENC_OPT_LEN];
    __u8 tag[16];
    __u8 nonce[PDM_AEAD_NONCE]; /* ChaCha20 */
    __u8 clear[20];             /* the clear v2 option of the last seal (for its record) */
    __u16 rx_ks;                /* open: aes.dst holds the lane's blocks (v2enc_ksr_take()) */
    __u16 rx_want;              /* open: 1 rx_pos is the option's, 2 and a lane is wanted */
    __u32 rx_pos;               /* open: Kri << 15 | position of the option */
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct pdm_v2enc_buf);
} v2enc_buf SEC(".maps");

static __always_inline void v2enc_count(__u32 i)
{
    __u64 *v = bpf_map_lookup_elem(&v2enc_counters, &i);

    if (v)
        *v += 1;
}

#define v2enc_barrier() asm volatile("" ::: "memory")

/* Entry e's blocks into b->aes.dst: 1 when its tag is want both before
 * and after the copy (whole, not torn by a refill), else 0. */
static __always_inline int v2enc_ks_copy(struct pdm_v2enc_ks_ent *e, __u64 want,
                                         struct pdm_v2enc_buf *b)
{
    const volatile __u64 *src = (const volatile __u64 *)e->blk;
    __u64 *d = (__u64 *)b->aes.dst;

    if (*(volatile __u64 *)&e->tag != want)
        return 0;
    v2enc_barrier();
    d[0] = src[0];
    d[1] = src[1];
    d[2] = src[2];
    d[3] = src[3];
    v2enc_barrier();
    return *(volatile __u64 *)&e->tag == want;
}

/*
 * Draw seq's blocks from the sender's keystream lane ks (state's ks) into
 * v2enc_buf's aes.dst: 1 when they were there and whole (the tag, read
 * before and after the copy, is this draw's), else 0 (the kfunc then).
 */
static __noinline int v2enc_ks_take(__u64 ks, __u64 seq)
{
    __u32 lane = (__u32)ks, zero = 0, idx;
    __u64 want = (ks & 0xffffffff00000000ull) | (__u32)seq;
    struct pdm_v2enc_ks_ent *e;
    struct pdm_v2enc_buf *b;

    if (lane >= PDM_V2ENC_KS_LANES)
        return 0;
    idx = lane * PDM_V2ENC_KS_W + ((__u32)seq & (PDM_V2ENC_KS_W - 1));
    if (!(e = bpf_map_lookup_elem(&v2enc_ks, &idx)) ||
        !(b = bpf_map_lookup_elem(&v2enc_buf, &zero)))
        return 0;
    return v2enc_ks_copy(e, want, b);
}

/*
 * The receiver's lane (state's ksr): the blocks of the option in b->opt,
 * opened under slot s (a user space slot: it has the peer's RN key), into
 * b->aes.dst when its lane holds them whole (b->rx_ks = 1). With a lane,
 * b->rx_want = 1 and b->rx_pos = Kri << 15 | the option's position; with
 * none, rx_want = 2 when one should be asked for: at position 256 of a
 * Kri (a busy receiver, as a sender asks at its 256th draw), and, for a
 * peer rotating sooner, at one RN in 1024. The answers are in b, not on
 * the stack: the open's chain has no room.
 */
static __noinline void v2enc_ksr_take(__u64 ksr, const struct pdm_v2enc_slot *s,
                                      struct pdm_v2enc_buf *b)
{
    __u32 rn = (((__u32)b->opt[4] << 8) | b->opt[5]) >> 1, lane = (__u32)ksr, pos, idx, v;
    struct pdm_v2enc_ks_ent *e;
    __u64 want;

    if (!s || !s->aead.aes || s->aead.suite == PDM_AEAD_CHACHA20 || rn == 0)
        return;
    pos = pdm_enc_pos_of(s->mat.rn_key, rn);
    v = ((__u32)s->mat.kri << 15) | pos;
    b->rx_pos = v;
    if (ksr == 0) {
        if ((pos & (PDM_V2ENC_KS_W - 1)) == 256 || (rn & (PDM_V2ENC_KS_W - 1)) == 256)
            b->rx_want = 2;
        return;
    }
    b->rx_want = 1;
    if (lane >= PDM_V2ENC_KS_LANES)
        return;
    idx = lane * PDM_V2ENC_KS_W + (s->mat.kri & 1) * (PDM_V2ENC_KS_W / 2) +
          (pos & (PDM_V2ENC_KS_W / 2 - 1));
    want = (ksr & 0xffffffff00000000ull) | v;
    if ((e = bpf_map_lookup_elem(&v2enc_ks, &idx)))
        b->rx_ks = v2enc_ks_copy(e, want, b);
}

/* A flow key copied byte by byte in a loop: the key is 2-byte aligned,
 * and an unrolled copy from the caller's stack spills every half-word
 * (the 512 bytes of stack are the data path's tightest budget). */
static __always_inline void v2enc_key_copy(struct pdm_bpf_flow_key *dst,
                                           const struct pdm_bpf_flow_key *src)
{
#pragma clang loop unroll(disable)
    for (int i = 0; i < (int)sizeof *dst; i++)
        ((__u8 *)dst)[i] = ((const __u8 *)src)[i];
}

/* A request to user space: kind << 16 | kri, the option's bytes or none;
 * at most one per PDM_V2ENC_REQ_GAP_NS per direction of a flow (*last,
 * unless NULL), so a burst of packets before the key costs one. A
 * subprogram, as is v2enc_state_get(): their frames are not on the stack
 * while the AEAD (or the key derivation) runs. */
static __noinline void v2enc_ask_send(const struct pdm_bpf_flow_key *k, __u32 kind_kri,
                                      const __u8 *opt, __u64 now, __u64 *last)
{
    struct pdm_v2enc_req *r;

    if (last) {
        if (*last != 0 && now - *last < PDM_V2ENC_REQ_GAP_NS)
            return;
        *last = now;
    }
    if (!(r = bpf_ringbuf_reserve(&v2enc_req, sizeof *r, 0))) {
        v2enc_count(PDM_V2ENC_C_REQ_DROPPED);
        return;
    }
    v2enc_key_copy(&r->flow, k);
    r->kind = (__u8)(kind_kri >> 16);
    r->pad = 0;
    r->kri = (__u16)kind_kri;
    if (opt)
        __builtin_memcpy(r->opt, opt, PDM_ENC_OPT_LEN);
    else
        __builtin_memset(r->opt, 0, PDM_ENC_OPT_LEN);
    /* Woken now, not at the next batch: the flow waits for this key. */
    bpf_ringbuf_submit(r, BPF_RB_FORCE_WAKEUP);
    v2enc_count(PDM_V2ENC_C_REQUESTS);
}

static __always_inline void v2enc_ask(const struct pdm_bpf_flow_key *k, __u8 kind, __u32 kri,
                                      const __u8 *opt, __u64 now, __u64 *last)
{
    v2enc_ask_send(k, ((__u32)kind << 16) | (kri & 0xffff), opt, now, last);
}

/* A new state's value, from the object's read-only data: not a copy on
 * the stack (the sender's chain has no 80 bytes to spare). */
static const struct pdm_v2enc_state v2enc_state_init = {};

/* After an open with b->rx_want under slot s: where the receiver is, for
 * the refill (one store in 64 positions); or a lane asked for, with the
 * position user space starts at, at most once per request interval (an
 * option replayed must not flood the ring). */
static __noinline void v2enc_ksr_note(const struct pdm_bpf_flow_key *k, struct pdm_v2enc_state *st,
                                      const struct pdm_v2enc_slot *s, const struct pdm_v2enc_buf *b,
                                      __u64 now)
{
    if ((b->rx_pos >> 15) != s->mat.kri)
        return; /* opened under the other kind's slot, of another Kri */
    if (b->rx_want == 2) {
        st->rx_pos = b->rx_pos;
        v2enc_ask(k, PDM_V2ENC_REQ_RX_LANE, 0, NULL, now, &st->rx_req_ns);
    } else if ((st->rx_pos >> 6) != (b->rx_pos >> 6)) {
        st->rx_pos = b->rx_pos;
    }
}

static __always_inline struct pdm_v2enc_state *v2enc_state_get_i(const struct pdm_bpf_flow_key *k,
                                                                 int *fresh)
{
    struct pdm_v2enc_state *st = bpf_map_lookup_elem(&v2enc_state, k);

    *fresh = 0;
    if (st)
        return st;
    if (bpf_map_update_elem(&v2enc_state, k, &v2enc_state_init, BPF_NOEXIST) == 0)
        *fresh = 1;
    return bpf_map_lookup_elem(&v2enc_state, k);
}

/* The tc programs' (a subprogram: see v2enc_ask_send()); the install
 * program, whose frame is large, has it inline. */
static __noinline struct pdm_v2enc_state *v2enc_state_get(const struct pdm_bpf_flow_key *k,
                                                          int *fresh)
{
    return v2enc_state_get_i(k, fresh);
}

static __noinline struct pdm_v2enc_slot *v2enc_slot(const struct pdm_bpf_flow_key *k, __u8 dir,
                                                    __u32 parity, __u8 kind)
{
    struct pdm_v2enc_slot_key id = {};

    v2enc_key_copy(&id.flow, k);
    id.dir = dir;
    id.parity = (__u8)(parity & 1);
    id.kind = kind;
    return bpf_map_lookup_elem(&v2enc_slots, &id);
}

#include "pdm_v2key.h" /* the sender keyed in BPF */

/* The slot of flow k's sending key at kri: user space's (a kernel crypto
 * context) when it holds that key, else the program's own. A subprogram:
 * its key's frame is not under pdm_v2enc_reserve()'s. */
static __noinline struct pdm_v2enc_slot *v2enc_tx_slot(const struct pdm_bpf_flow_key *k, __u32 kri)
{
    struct pdm_v2enc_slot_key id = {};
    struct pdm_v2enc_slot *s;

    v2enc_key_copy(&id.flow, k);
    id.dir = PDM_V2ENC_TX;
    id.parity = (__u8)(kri & 1);
    s = bpf_map_lookup_elem(&v2enc_slots, &id);
    if (s && s->ready && s->mat.kri == (__u16)kri)
        return s;
    id.kind = PDM_V2ENC_SOFT;
    s = bpf_map_lookup_elem(&v2enc_slots, &id);
    if (s && s->ready && s->mat.kri == (__u16)kri)
        return s;
    return NULL;
}

/*
 * Draws the next (Kri, RN) of flow k's sending direction, before the
 * packet is changed. Returns the slot of that Kri with *out = RN (with
 * PDM_V2ENC_OUT_ROTATED when this draw rotated: then the caller runs
 * pdm_v2enc_rotated()), or NULL with *out = PDM_V2ENC_OUT_START (the
 * sender is not armed: the caller runs pdm_v2enc_start() and draws again)
 * or the counter index (the agent's) of why the packet goes out unmarked:
 * PDM_BPF_C_TX_NO_SECRET (key not there yet: asked),
 * PDM_BPF_C_TX_KEY_EXHAUSTED. A subprogram: its frame is gone before the
 * AEAD's (the stack holds 512 bytes for the whole chain).
 */
static __noinline struct pdm_v2enc_slot *pdm_v2enc_reserve(const struct pdm_bpf_flow_key *k,
                                                           __u64 now, __u32 *out)
{
    struct pdm_v2enc_state *st;
    struct pdm_v2enc_slot *s;
    __u64 seq, kri;
    __u32 limit, pos, rotated = 0;
    int fresh;

    *out = PDM_BPF_C_TX_NO_SECRET;
    if (!(st = v2enc_state_get_i(k, &fresh))) {
        v2enc_count(PDM_V2ENC_C_TX_PENDING);
        return NULL;
    }
    if (st->flags & PDM_V2ENC_S_TX_END)
        goto exhausted;
    if (!(st->flags & PDM_V2ENC_S_TX_ARMED)) {
        /* The caller starts it (pdm_v2enc_start(), at the bottom of its
         * stack: the derivation's frames do not fit under this one). */
        *out = PDM_V2ENC_OUT_START;
        return NULL;
    }
    limit = st->tx_limit;
    if (limit == 0 || limit > PDM_ENC_RN_COUNT)
        limit = PDM_ENC_RN_COUNT;
    seq = __sync_fetch_and_add(&st->seq, 1);
    kri = st->tx_kri0 + seq / limit;
    pos = (__u32)(seq % limit);
    if (pos != 0 && st->tx_rot_ns != 0 && now - st->tx_key_ns >= st->tx_rot_ns) {
        /* The key's time is up (--rotate-seconds): this draw takes the
         * first position of the next Kri instead, the rest of this one's
         * are skipped (never used). Only if no other CPU drew meanwhile:
         * else the next packet tries again. */
        __u64 next = (seq / limit + 1) * limit;

        if (__sync_val_compare_and_swap(&st->seq, seq + 1, next + 1) == seq + 1) {
            seq = next;
            kri++;
            pos = 0;
        }
    }
    if (kri > PDM_V2ENC_KRI_MAX)
        goto exhausted;
    if (pos == 0 && seq != 0) {
        /* Rotated: the key after this one goes into the idle slots now
         * (the program's: the caller, pdm_v2enc_rotated(); user space's:
         * asked). */
        st->tx_key_ns = now;
        v2enc_count(PDM_V2ENC_C_ROTATIONS);
        if (kri < PDM_V2ENC_KRI_MAX) {
            st->tx_asked = (__u32)kri + 2;
            rotated = PDM_V2ENC_OUT_ROTATED;
            v2enc_ask(k, PDM_V2ENC_REQ_TX_KEY, (__u32)kri + 1, NULL, now, NULL);
        }
    }
    if (!(s = v2enc_tx_slot(k, (__u32)kri))) {
        /* Not installed (yet): this position is skipped, never reused. */
        v2enc_ask(k, PDM_V2ENC_REQ_TX_KEY, (__u32)kri, NULL, now, &st->tx_req_ns);
        v2enc_count(PDM_V2ENC_C_TX_PENDING);
        return NULL;
    }
    *out = (pdm_enc_rn_at(s->mat.rn_key, pos) & 0x7fff) | rotated;
    if (s->aead.suite != PDM_AEAD_CHACHA20) {
        __u64 ks = st->ks;

        if (ks == 0) {
            /* A busy sender (a few hundred options since its start, and
             * once every W after while it has none) asks for a lane. */
            if (((__u32)seq & (PDM_V2ENC_KS_W - 1)) == 256)
                v2enc_ask(k, PDM_V2ENC_REQ_TX_LANE, 0, NULL, now, NULL);
        } else if (!rotated && v2enc_ks_take(ks, seq)) {
            /* (A rotation's draw does not: pdm_v2enc_rotated() runs the
             * program's own AES in between.) */
            *out |= PDM_V2ENC_OUT_KS;
        }
    }
    return s;
exhausted:
    v2enc_count(PDM_V2ENC_C_TX_EXHAUSTED);
    *out = PDM_BPF_C_TX_KEY_EXHAUSTED;
    return NULL;
}

/*
 * Starts flow k's sender (bpf/pdm_v2key.h): 0 when armed now (draw
 * again), else the counter index of why this packet goes out unmarked.
 * Called by the tc program itself, not under another subprogram: the
 * derivation's frames need the stack that is left. The deepest chain is
 * pdm_gso_seg (264) + this (72) + pdm_aes_soft_ghash_init (40) + the
 * fixed-time cipher (104), 512 with the verifier's rounding to 16: no room
 * is left there (tests/it_bpf_load.sh fails when a frame grows).
 */
static __noinline __u32 pdm_v2enc_start(const struct pdm_bpf_flow_key *k, __u64 now)
{
    struct pdm_v2enc_state *st = bpf_map_lookup_elem(&v2enc_state, k);
    int r;

    if (!st) {
        v2enc_count(PDM_V2ENC_C_TX_PENDING);
        return PDM_BPF_C_TX_NO_SECRET;
    }
    if (st->flags & PDM_V2ENC_S_TX_ARMED)
        return 0; /* another CPU did it */
    r = v2key_tx_start(k, st, now);
    if (r == 2) {
        v2enc_count(PDM_V2ENC_C_TX_EXHAUSTED);
        return PDM_BPF_C_TX_KEY_EXHAUSTED;
    }
    if (r != 0) {
        /* No secret here yet (asked), over the budget, or another CPU is
         * starting it. */
        if (r == 1)
            v2enc_ask(k, PDM_V2ENC_REQ_TX_START, 0, NULL, now, &st->tx_req_ns);
        if (r == 3)
            v2enc_count(PDM_V2ENC_C_DEFERRED);
        v2enc_count(PDM_V2ENC_C_TX_PENDING);
        return PDM_BPF_C_TX_NO_SECRET;
    }
    /* Started here; user space's kernel-crypto slots for both keys. */
    v2enc_ask(k, PDM_V2ENC_REQ_TX_KEY, st->tx_kri0, NULL, now, NULL);
    if (st->tx_kri0 < PDM_V2ENC_KRI_MAX)
        v2enc_ask(k, PDM_V2ENC_REQ_TX_KEY, st->tx_kri0 + 1, NULL, now, NULL);
    return 0;
}

/* After a draw that rotated to kri: the program's key of kri + 1. */
static __noinline void pdm_v2enc_rotated(const struct pdm_bpf_flow_key *k, __u32 kri, __u64 now)
{
    v2key_rotated(k, kri, now);
}

/*
 * The sender's whole draw, as the tc program runs it: pdm_v2enc_reserve(),
 * the start in BPF when the sender is not armed (this packet sealed too),
 * the next key after a rotation. Returns the slot with *rn = RN, or NULL
 * with *rn = the counter index of why the packet goes out unmarked. For
 * the program itself (the calls' frames sit right under its own).
 */
static __always_inline struct pdm_v2enc_slot *pdm_v2enc_draw(const struct pdm_bpf_flow_key *k,
                                                             __u64 now, __u32 *rn)
{
    struct pdm_v2enc_slot *es = pdm_v2enc_reserve(k, now, rn);

    if (!es && *rn == PDM_V2ENC_OUT_START && (*rn = pdm_v2enc_start(k, now)) == 0)
        es = pdm_v2enc_reserve(k, now, rn);
    if (es && (*rn & PDM_V2ENC_OUT_ROTATED)) {
        pdm_v2enc_rotated(k, es->mat.kri, now);
        *rn &= ~PDM_V2ENC_OUT_ROTATED;
    }
    return es;
}

/*
 * The AEAD, one subprogram per suite kind, built from bpf/aead.h's pieces
 * but with the blocks in this file's scratch map (one look-up per packet,
 * passed down): the frames must leave room for the tc programs' own, the
 * stack being 512 bytes for the whole call chain. b->pt in, b->opt out
 * (seal); b->opt in, b->pt out (open, only when the tag matches).
 */
/* E(J0) || E(J0+1) into b->aes.dst, the nonce being in b->aes.src: the
 * kernel's context when the slot has one, else the program's own AES
 * schedule (a slot keyed in BPF, bpf/pdm_v2key.h), whose rounds must be
 * those of the slot's suite (pdm_aes_soft_blocks_any()'s rule, here
 * writing into this file's scratch instead of pdm_aead_scratch's). */
static __noinline int v2enc_gcm_kfunc(struct pdm_v2enc_slot *sl, struct pdm_v2enc_buf *b)
{
    return aead_gcm_ctr(&sl->aead, &b->aes);
}

/* (The kfunc's dynptrs in a frame of their own: not on the stack under
 * the software AES's.) */
static __always_inline int v2enc_gcm_blocks(struct pdm_v2enc_slot *sl, struct pdm_v2enc_buf *b)
{
    __u32 suite = sl->aead.suite, want;

    if (sl->aead.aes)
        return v2enc_gcm_kfunc(sl, b);
    want = suite == PDM_AEAD_AES128GCM ? 10 : suite == PDM_AEAD_AES256GCM ? 14 : 0;
    if (want == 0 || sl->soft.rounds != want)
        return -PDM_AEAD_ENOKEY;
    return pdm_aes_soft_gcm_blocks(&sl->soft, b->aes.src, b->aes.dst);
}

/* The tag of b->opt's AAD and ciphertext into tag: with the slot's GHASH
 * material (user space's slots), or from the table of H alone (a slot
 * keyed in BPF, used only until user space's arrives). */
static __noinline void v2enc_gcm_tag_h(struct pdm_v2enc_slot *sl, struct pdm_v2enc_buf *b,
                                       __u8 *tag)
{
    aead_gcm_tag(&sl->aead, &b->aes, b->opt, b->opt + PDM_AEAD_AAD_LEN, tag);
}

static __always_inline void v2enc_gcm_tag(struct pdm_v2enc_slot *sl, struct pdm_v2enc_buf *b,
                                          __u8 *tag)
{
    if (sl->aead.aes)
        aead_gcm_tag2(&sl->aead, &sl->gcm, &b->aes, b->opt, b->opt + PDM_AEAD_AAD_LEN, tag);
    else
        v2enc_gcm_tag_h(sl, b, tag);
}

static __noinline int v2enc_seal_gcm(struct pdm_v2enc_slot *sl, __u32 rn, struct pdm_v2enc_buf *b)
{
    int rv;

    if (rn & PDM_V2ENC_OUT_KS) {
        v2enc_count(PDM_V2ENC_C_KS_USED); /* the blocks are there (v2enc_ks_take()) */
    } else {
        pdm_enc_nonce(&sl->mat, (__u16)rn, b->aes.src);
        if ((rv = v2enc_gcm_blocks(sl, b)) != 0)
            return rv;
    }
#pragma unroll
    for (int i = 0; i < PDM_AEAD_PT_LEN; i++)
        b->opt[PDM_AEAD_AAD_LEN + i] = b->pt[i] ^ b->aes.dst[16 + i];
    v2enc_gcm_tag(sl, b, b->opt + PDM_AEAD_AAD_LEN + PDM_AEAD_PT_LEN);
    return 0;
}

/* The open with the receiver's lane's blocks (b->rx_ks), for this one
 * try: 0, or -1 when the tag does not match with them, and then the
 * kfunc's decide (see the lanes above). Its own frame, beside the
 * kfunc's: the open's chain has no room for both. */
static __noinline int v2enc_open_gcm_ks(struct pdm_v2enc_slot *sl, struct pdm_v2enc_buf *b)
{
    b->rx_ks = 0;
    v2enc_gcm_tag(sl, b, b->tag);
    if (!aead_ct_eq16(b->tag, b->opt + PDM_AEAD_AAD_LEN + PDM_AEAD_PT_LEN))
        return -1;
    v2enc_count(PDM_V2ENC_C_KS_OPENED);
#pragma unroll
    for (int i = 0; i < PDM_AEAD_PT_LEN; i++)
        b->pt[i] = b->opt[PDM_AEAD_AAD_LEN + i] ^ b->aes.dst[16 + i];
    return 0;
}

static __noinline int v2enc_open_gcm(struct pdm_v2enc_slot *sl, struct pdm_v2enc_buf *b)
{
    int rv;

    if (b->rx_ks && v2enc_open_gcm_ks(sl, b) == 0)
        return 0;
    pdm_enc_nonce(&sl->mat, (__u16)(((b->opt[4] << 8) | b->opt[5]) >> 1), b->aes.src);
    if ((rv = v2enc_gcm_blocks(sl, b)) != 0)
        return rv;
    v2enc_gcm_tag(sl, b, b->tag);
    if (!aead_ct_eq16(b->tag, b->opt + PDM_AEAD_AAD_LEN + PDM_AEAD_PT_LEN))
        return -PDM_AEAD_EBADTAG;
#pragma unroll
    for (int i = 0; i < PDM_AEAD_PT_LEN; i++)
        b->pt[i] = b->opt[PDM_AEAD_AAD_LEN + i] ^ b->aes.dst[16 + i];
    return 0;
}

/* ChaCha20's block and Poly1305's tag as subprograms of their own: their
 * locals are never on the stack together. */
static __noinline void v2enc_chacha_block(const struct pdm_aead_key *k, const __u8 *nonce,
                                          __u32 ctr, __u32 *out)
{
    aead_chacha_block(k, nonce, ctr, out);
}

static __noinline void v2enc_poly_tag(const __u32 *b0, const __u8 *aad, const __u8 *ct, __u8 *tag)
{
    aead_poly_tag(b0, aad, ct, tag);
}

static __noinline int v2enc_seal_chacha(struct pdm_v2enc_slot *sl, __u32 rn,
                                        struct pdm_v2enc_buf *b)
{
    pdm_enc_nonce(&sl->mat, (__u16)rn, b->nonce);
    v2enc_chacha_block(&sl->aead, b->nonce, 0, b->b0);
    v2enc_chacha_block(&sl->aead, b->nonce, 1, b->b1);
#pragma unroll
    for (int i = 0; i < PDM_AEAD_PT_LEN; i++)
        b->opt[PDM_AEAD_AAD_LEN + i] = b->pt[i] ^ AEAD_KS(b->b1, i);
    v2enc_poly_tag(b->b0, b->opt, b->opt + PDM_AEAD_AAD_LEN,
                   b->opt + PDM_AEAD_AAD_LEN + PDM_AEAD_PT_LEN);
    return 0;
}

static __noinline int v2enc_open_chacha(struct pdm_v2enc_slot *sl, struct pdm_v2enc_buf *b)
{
    pdm_enc_nonce(&sl->mat, (__u16)(((b->opt[4] << 8) | b->opt[5]) >> 1), b->nonce);
    v2enc_chacha_block(&sl->aead, b->nonce, 0, b->b0);
    v2enc_poly_tag(b->b0, b->opt, b->opt + PDM_AEAD_AAD_LEN, b->tag);
    if (!aead_ct_eq16(b->tag, b->opt + PDM_AEAD_AAD_LEN + PDM_AEAD_PT_LEN))
        return -PDM_AEAD_EBADTAG;
    v2enc_chacha_block(&sl->aead, b->nonce, 1, b->b1);
#pragma unroll
    for (int i = 0; i < PDM_AEAD_PT_LEN; i++)
        b->pt[i] = b->opt[PDM_AEAD_AAD_LEN + i] ^ AEAD_KS(b->b1, i);
    return 0;
}

/*
 * Turns the clear PDMv2 Destination Options header hdr (24 bytes: NH,
 * HdrExtLen 2, the 20-byte option, PadN 0) into the encrypted one (40
 * bytes: NH, HdrExtLen 4, the 36-byte option, PadN 0) under slot s with
 * RN rn (pdm_v2enc_reserve(), with PDM_V2ENC_OUT_KS when its AES blocks
 * are in v2enc_buf already). 0 or PDM_BPF_C_TX_CRYPTO.
 */
static __always_inline int pdm_v2enc_seal_hdr(struct pdm_v2enc_slot *s, __u32 rn, __u8 *hdr)
{
    struct pdm_v2enc_buf *b;
    __u32 zero = 0, suite = s->aead.suite;
    __u32 ks = rn & PDM_V2ENC_OUT_KS;
    __u16 w;
    int rv = -1;

    rn &= ~PDM_V2ENC_OUT_KS;
    w = (__u16)((rn << 1) | (s->mat.kri & 1));
    if (!(b = bpf_map_lookup_elem(&v2enc_buf, &zero)) || rn == 0 || rn > PDM_ENC_RN_COUNT)
        goto fail;
    __builtin_memcpy(b->pt, hdr + 2 + 6, PDM_AEAD_PT_LEN);
    b->opt[0] = hdr[2];
    b->opt[1] = 0x22;
    b->opt[2] = 0x20;
    b->opt[3] = 0x00;
    b->opt[4] = (__u8)(w >> 8);
    b->opt[5] = (__u8)w;
    if (suite == PDM_AEAD_CHACHA20)
        rv = v2enc_seal_chacha(s, rn, b);
    else if (suite == PDM_AEAD_AES128GCM || suite == PDM_AEAD_AES256GCM)
        rv = v2enc_seal_gcm(s, rn | ks, b);
    if (rv != 0)
        goto fail;
    hdr[1] = 4;
    __builtin_memcpy(b->clear, hdr + 2, sizeof b->clear);
    __builtin_memcpy(hdr + 2, b->opt, PDM_ENC_OPT_LEN);
    hdr[38] = 1; /* PadN, 0 bytes of padding */
    hdr[39] = 0;
    v2enc_count(PDM_V2ENC_C_SEALED);
    return 0;
fail:
    v2enc_count(PDM_V2ENC_C_TX_CRYPTO);
    return PDM_BPF_C_TX_CRYPTO;
}

/*
 * The receiver, one subprogram, one look-up of each map: the option in
 * b->opt opened under the slot its F bit picks into clear (20 bytes: the
 * unencrypted PDMv2 layout, Type, 0x12, version, RN/F, then the 14 opened
 * bytes), the peer's rotation followed. 0, or the counter index of why
 * not: PDM_BPF_C_RX_NO_SECRET (no key yet: asked), PDM_BPF_C_RX_AUTH_FAILED
 * (opened in neither slot: user space's search is asked, at most every
 * PDM_V2ENC_REQ_GAP_NS per flow direction, so forged floods cost one
 * request per flow and interval). Nothing of an option that does not
 * open is written to clear.
 */
/* Opens b->opt under slot s when it holds a Kri of the option's parity
 * (the F bit is bound to the Kri). 0 or -1 (b->pt written only on 0). */
static __always_inline int v2enc_open_slot(struct pdm_v2enc_slot *s, struct pdm_v2enc_buf *b)
{
    const __u8 *opt = b->opt;
    __u32 suite;

    if (!s || !s->ready || (s->mat.kri & 1) != (opt[5] & 1) || opt[1] != 0x22 ||
        (opt[4] | (opt[5] & 0xfe)) == 0)
        return -1;
    suite = s->aead.suite;
    if (suite == PDM_AEAD_CHACHA20)
        return v2enc_open_chacha(s, b);
    if (suite == PDM_AEAD_AES128GCM || suite == PDM_AEAD_AES256GCM)
        return v2enc_open_gcm(s, b);
    return -1;
}

/* v2enc_open_buf()'s answer for a receiver not armed yet: the tc program
 * starts it (pdm_v2enc_rx_start()), then opens again. */
#define PDM_V2ENC_RX_START 0x100

static __noinline int v2enc_open_buf(const struct pdm_bpf_flow_key *k, struct pdm_v2enc_buf *b,
                                     __u64 now, __u8 *clear)
{
    const __u8 *opt = b->opt;
    struct pdm_v2enc_state *st;
    struct pdm_v2enc_slot *s, *o;
    __u32 kri;
    int fresh, rv, hw;

    if (!(st = v2enc_state_get(k, &fresh))) {
        v2enc_count(PDM_V2ENC_C_RX_PENDING);
        return PDM_BPF_C_RX_NO_SECRET;
    }
    if (!(st->flags & PDM_V2ENC_S_RX_ARMED))
        return PDM_V2ENC_RX_START;
    /* User space's slot of the option's parity, else the program's own;
     * the other kind too when the first holds another Kri (a late packet
     * across a rotation). */
    s = v2enc_slot(k, PDM_V2ENC_RX, opt[5] & 1, PDM_V2ENC_HW);
    hw = s && s->ready;
    if (!hw)
        s = v2enc_slot(k, PDM_V2ENC_RX, opt[5] & 1, PDM_V2ENC_SOFT);
    /* The receiver's lane: user space's AES slots only (the program's own
     * slots have no RN key of the peer). */
    b->rx_ks = 0;
    b->rx_want = 0;
    if (hw)
        v2enc_ksr_take(st->ksr, s, b);
    if ((rv = v2enc_open_slot(s, b)) != 0 && hw && s &&
        (o = v2enc_slot(k, PDM_V2ENC_RX, opt[5] & 1, PDM_V2ENC_SOFT)) && o->ready &&
        o->mat.kri != s->mat.kri && (rv = v2enc_open_slot(o, b)) == 0)
        s = o;
    if (rv != 0 || !s) {
        v2enc_ask(k, PDM_V2ENC_REQ_RX_FIND, 0, opt, now, &st->rx_req_ns);
        v2enc_count(PDM_V2ENC_C_RX_AUTH);
        return PDM_BPF_C_RX_AUTH_FAILED;
    }
    v2enc_count(PDM_V2ENC_C_OPENED);
    if (b->rx_want)
        v2enc_ksr_note(k, st, s, b, now);
    kri = s->mat.kri;
    if (kri > st->rx_kri) {
        /* The peer rotated: its next key replaces the one before. */
        st->rx_kri = kri;
        v2enc_count(PDM_V2ENC_C_PEER_ROT);
        if (kri < PDM_V2ENC_KRI_MAX)
            v2enc_ask(k, PDM_V2ENC_REQ_RX_KEY, kri + 1, NULL, now, NULL);
    }
    __builtin_memcpy(clear, opt, 6);
    clear[1] = 0x12;
    __builtin_memcpy(clear + 6, b->pt, PDM_AEAD_PT_LEN);
    return 0;
}

#define PDM_V2ENC_RX_TRIES 2 /* Kri candidates a receiver started in BPF tries */

/*
 * A receiver keyed in BPF (bpf/pdm_v2key.h), on the first option of a
 * flow direction whose pair's secret the program has: the Kri history's
 * expectation for the peer's tuple (rx[bucket], 1 + the highest Kri
 * opened there) gives the first candidate of the option's parity, then
 * the next one of that parity; each is derived into the program's own
 * slot and tried. Opened: the receiver is armed at that Kri, the next key
 * derived into the other slot, user space asked for its kernel-crypto
 * slots of both. Else (no secret here, or another Kri: a flow that shares
 * the bucket and started in another order, an agent restarted...) user
 * space's search is asked, as before (RX_FIND). Four subprograms called
 * one after the other by the tc program (v2enc_open_all()): a try's AEAD
 * chain and a derivation's each need the stack that is left.
 */

/* Candidate i's Kri derived into the soft slot of its parity; -1: none. */
static __noinline int pdm_v2enc_rx_derive(const struct pdm_bpf_flow_key *k,
                                          const struct pdm_v2enc_buf *b, __u64 now, __u32 i)
{
    struct pdm_kdf_scratch *ks = pdm_kdf_scratch_get();
    struct pdm_v2key_secret *sec;
    struct pdm_v2key_hist *h;
    __u32 bkt, c;

    if (!ks || !(sec = v2key_secret(k, now)) ||
        !(h = bpf_map_lookup_elem(&v2enc_hist, sec->hist_id)))
        return -1;
    if (v2key_spend(now, 1) != 0) {
        v2enc_count(PDM_V2ENC_C_DEFERRED);
        return -1;
    }
    v2key_flow_rx(ks->io.flow, k, 0);
    bkt = v2key_bucket(sec->hkey, ks->io.flow) & (PDM_V2KEY_BUCKETS - 1);
    c = h->rx[bkt];
    c += ((c & 1) != (b->opt[5] & 1u)) + 2 * i;
    if (c > PDM_V2ENC_KRI_MAX || v2key_derive(k, sec, c, PDM_V2ENC_RX) != 0)
        return -1;
    return (int)c;
}

/* b->opt opened under the soft receiving slot of kri's parity: 0 or -1. */
static __noinline int v2enc_rx_try(const struct pdm_bpf_flow_key *k, struct pdm_v2enc_buf *b,
                                   __u32 kri)
{
    return v2enc_open_slot(v2enc_slot(k, PDM_V2ENC_RX, kri, PDM_V2ENC_SOFT), b);
}

/* Opened at kri: armed, the history's expectation raised, the next key. */
static __noinline void pdm_v2enc_rx_armed(const struct pdm_bpf_flow_key *k, __u32 kri, __u64 now)
{
    struct pdm_kdf_scratch *ks = pdm_kdf_scratch_get();
    struct pdm_v2enc_state *st = bpf_map_lookup_elem(&v2enc_state, k);
    struct pdm_v2key_secret *sec = v2key_secret(k, now);
    struct pdm_v2key_hist *h;
    __u32 bkt;

    if (!st || !ks || !sec || kri > PDM_V2ENC_KRI_MAX)
        return;
    st->rx_kri = kri;
    __sync_fetch_and_or(&st->flags, PDM_V2ENC_S_RX_ARMED);
    v2key_flow_rx(ks->io.flow, k, 0);
    if ((h = bpf_map_lookup_elem(&v2enc_hist, sec->hist_id))) {
        bkt = v2key_bucket(sec->hkey, ks->io.flow) & (PDM_V2KEY_BUCKETS - 1);
        if (h->rx[bkt] < kri + 1)
            h->rx[bkt] = kri + 1;
    }
    v2enc_ask(k, PDM_V2ENC_REQ_RX_KEY, kri, NULL, now, NULL);
    if (kri < PDM_V2ENC_KRI_MAX) {
        if (v2key_spend(now, 1) == 0)                          /* else user space's, asked below */
            (void)v2key_derive(k, sec, kri + 1, PDM_V2ENC_RX); /* the peer's rotation */
        v2enc_ask(k, PDM_V2ENC_REQ_RX_KEY, kri + 1, NULL, now, NULL);
    }
}

/* Not opened in BPF: user space's search (RX_FIND), as for a flow
 * without the pair's secret here. */
static __noinline int v2enc_rx_find(const struct pdm_bpf_flow_key *k, const struct pdm_v2enc_buf *b,
                                    __u64 now)
{
    struct pdm_v2enc_state *st = bpf_map_lookup_elem(&v2enc_state, k);

    if (st)
        v2enc_ask(k, PDM_V2ENC_REQ_RX_FIND, 0, b->opt, now, &st->rx_req_ns);
    v2enc_count(PDM_V2ENC_C_RX_PENDING);
    return PDM_BPF_C_RX_NO_SECRET;
}

/* The receiver's whole open of b->opt, as the tc program runs it. */
static __always_inline int v2enc_open_all(const struct pdm_bpf_flow_key *k, struct pdm_v2enc_buf *b,
                                          __u64 now, __u8 *clear)
{
    int rv = v2enc_open_buf(k, b, now, clear), c;

    if (rv != PDM_V2ENC_RX_START)
        return rv;
    for (__u32 i = 0; i < PDM_V2ENC_RX_TRIES; i++) {
        if ((c = pdm_v2enc_rx_derive(k, b, now, i)) < 0)
            break;
        if (v2enc_rx_try(k, b, (__u32)c) == 0) {
            pdm_v2enc_rx_armed(k, (__u32)c, now);
            rv = v2enc_open_buf(k, b, now, clear);
            return rv == PDM_V2ENC_RX_START ? PDM_BPF_C_RX_NO_SECRET : rv;
        }
    }
    return v2enc_rx_find(k, b, now);
}

/*
 * Opens the peer's 36-byte option opt of flow k (our view) into clear
 * (v2enc_open_all()), so the caller reads its fields as a v2 option's.
 * 0 or the counter index of why not.
 */
static __always_inline int pdm_v2enc_open(const struct pdm_bpf_flow_key *k, const __u8 *opt,
                                          __u64 now, __u8 *clear)
{
    struct pdm_v2enc_buf *b;
    __u32 zero = 0;

    if (!(b = bpf_map_lookup_elem(&v2enc_buf, &zero)))
        return PDM_BPF_C_RX_NO_SECRET;
    __builtin_memcpy(b->opt, opt, PDM_ENC_OPT_LEN);
    return v2enc_open_all(k, b, now, clear);
}

/* The clear v2 option of this CPU's last seal (pdm_v2enc_seal_hdr()), for
 * the egress record; NULL only if the scratch map is missing. */
static __always_inline const __u8 *pdm_v2enc_clear(void)
{
    __u32 zero = 0;
    struct pdm_v2enc_buf *b = bpf_map_lookup_elem(&v2enc_buf, &zero);

    return b ? b->clear : NULL;
}

/* Ingress: reads the 36-byte option at off of skb straight into the
 * scratch buffer and opens it into clear (v2enc_open_buf()). 0 or a
 * counter index. */
static __always_inline int pdm_v2enc_rx(struct __sk_buff *skb, __u32 off,
                                        const struct pdm_bpf_flow_key *k, __u64 now, __u8 *clear)
{
    __u32 zero = 0;
    struct pdm_v2enc_buf *b = bpf_map_lookup_elem(&v2enc_buf, &zero);

    if (!b || bpf_skb_load_bytes(skb, off, b->opt, PDM_ENC_OPT_LEN) < 0)
        return PDM_BPF_C_RX_MALFORMED;
    return v2enc_open_all(k, b, now, clear);
}

/*
 * Key installation, run by user space with BPF_PROG_TEST_RUN (a crypto
 * context can only be made by a sleepable syscall program). Writes in
 * place: bpf_map_update_elem would free the slot's kptr. A slot being
 * re-keyed is marked not ready first; the one re-keyed is the idle
 * parity (see above).
 */
SEC("syscall")
int pdm_v2enc_install(struct pdm_v2enc_install *a)
{
    struct pdm_v2enc_slot_key id;
    struct pdm_v2enc_state *st;
    __u32 op = a->op;
    int rv, fresh;

    __builtin_memcpy(&id, &a->id, sizeof id);
    a->err = 0;
    a->done = 0;
    if ((op & PDM_V2ENC_OP_TX) && (st = bpf_map_lookup_elem(&v2enc_state, &id.flow)) &&
        (st->flags & PDM_V2ENC_S_TX_ARMED)) {
        /* A repeated start (asked again before the first was answered):
         * the sender runs already, its slots stay as they are (re-keying
         * one would take the key from under the Kri in use). */
        a->done = PDM_V2ENC_DONE_ARMED;
        return 0;
    }
    if (op & PDM_V2ENC_OP_SLOT) {
        /* User space creates the slot (a helper may not copy a value
         * holding a kptr); this fills it. */
        struct pdm_v2enc_slot *s = bpf_map_lookup_elem(&v2enc_slots, &id);

        if (!s)
            return -PDM_AEAD_ENOKEY;
        if (s->ready && s->mat.kri == a->mat.kri) {
            /* Already this Kri's key (a request repeated while the
             * first was answered): nothing to do, and never a moment
             * with the slot not ready. */
            a->done = PDM_V2ENC_DONE_SAME;
            goto state;
        }
        __sync_lock_test_and_set(&s->ready, 0);
        __builtin_memcpy(&s->mat, &a->mat, sizeof s->mat);
        /* Over the software schedule if there was one: a slot with a
         * context never uses it (v2enc_gcm_blocks()). */
        __builtin_memcpy(&s->gcm, &a->gcm, sizeof s->gcm);
        rv = pdm_aead_key_install(&a->key, &s->aead);
        a->err = a->key.err;
        if (rv != 0)
            return rv;
        __sync_lock_test_and_set(&s->ready, 1);
    }
state:
    if (!(op & (PDM_V2ENC_OP_TX | PDM_V2ENC_OP_RX | PDM_V2ENC_OP_TX_END | PDM_V2ENC_OP_KS |
                PDM_V2ENC_OP_KSR)))
        return 0;
    if (!(st = v2enc_state_get_i(&id.flow, &fresh)))
        return -PDM_AEAD_ENOKEY;
    if ((op & PDM_V2ENC_OP_TX) && !(st->flags & PDM_V2ENC_S_TX_ARMED)) {
        /* Only an unarmed sender is armed: no CPU draws from it meanwhile. */
        st->seq = 0;
        st->tx_kri0 = a->tx_kri0;
        st->tx_limit = a->tx_limit;
        st->tx_asked = 0;
        st->ks = 0;
        __sync_fetch_and_or(&st->flags, PDM_V2ENC_S_TX_ARMED);
    }
    /* Only on the sender user space read (its Kri0 and limit: a state
     * made again since starts at another Kri0, so its keys differ). One
     * 8-byte store: a CPU drawing meanwhile sees the old lane or the new. */
    if ((op & PDM_V2ENC_OP_KS) && (st->flags & PDM_V2ENC_S_TX_ARMED) && st->tx_kri0 == a->tx_kri0 &&
        st->tx_limit == a->tx_limit)
        st->ks = a->ks;
    if ((op & PDM_V2ENC_OP_KSR) && (st->flags & PDM_V2ENC_S_RX_ARMED))
        st->ksr = a->ks;
    if (op & PDM_V2ENC_OP_TX_END)
        __sync_fetch_and_or(&st->flags, PDM_V2ENC_S_TX_END);
    if (op & PDM_V2ENC_OP_RX) {
        st->rx_kri = a->rx_kri;
        __sync_fetch_and_or(&st->flags, PDM_V2ENC_S_RX_ARMED);
    }
    return 0;
}

#endif /* PDM_BPF_V2ENC_H */
