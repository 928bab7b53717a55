/*
 * Internals shared by ebpf_keys.c (the key requests) and ebpf_ks.c (the
 * keystream lanes): the BPF structures as user space sees them
 * (bpf/pdm_v2enc.h) and struct agent_ebpf_keys. Not an API.
 */
#ifndef PDM_TOOLS_AGENT_EBPF_KEYS_INT_H
#define PDM_TOOLS_AGENT_EBPF_KEYS_INT_H

#include "ebpf_keys.h"
#include "keys.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include <linux/types.h>
#include <openssl/evp.h>

#include "../../bpf/aead_user.h"
#include "../../bpf/pdm_bpf.h"
#include "../../bpf/pdm_v2key.h"

/* bpf/pdm_v2enc.h's values, as user space sees them. */
#define EK_OP_SLOT      1
#define EK_OP_TX_END    8
#define EK_OP_KS        16
#define EK_OP_KSR       32
#define EK_DONE_ARMED   1
#define EK_REQ_TX_START 1
#define EK_REQ_TX_KEY   2
#define EK_REQ_RX_FIND  3
#define EK_REQ_RX_KEY   4
#define EK_REQ_TX_LANE  5
#define EK_REQ_RX_LANE  6
#define EK_C_MAX        14
#define EK_S_TX_ARMED   1
#define EK_S_RX_ARMED   4
#define EK_KS_LANES     32            /* PDM_V2ENC_KS_LANES */
#define EK_KS_W         1024          /* PDM_V2ENC_KS_W */
#define EK_KS_IDLE_NS   2000000000ull /* a lane whose sender drew nothing for 2 s is given back */

struct ek_install { /* struct pdm_v2enc_install */
    struct pdm_bpf_flow_key flow;
    uint8_t dir, parity, pad[2];
    uint32_t op, tx_kri0, tx_limit, rx_kri;
    int32_t err;
    uint32_t done, pad2;
    uint64_t ks;
    struct aead_user_material mat;
    struct aead_user_key_args key;
    struct aead_user_gcm gcm;
};
_Static_assert(sizeof(struct ek_install) == 688, "layout of struct pdm_v2enc_install");

struct ek_state { /* struct pdm_v2enc_state */
    uint64_t seq, tx_req_ns, rx_req_ns, tx_key_ns, tx_rot_ns;
    uint32_t tx_kri0, tx_limit, tx_asked, rx_kri, flags, rx_pos;
    uint64_t ks, ksr;
};
_Static_assert(sizeof(struct ek_state) == 80, "layout of struct pdm_v2enc_state");

struct ek_ks_ent { /* struct pdm_v2enc_ks_ent */
    uint64_t tag;
    uint8_t blk[32];
};
_Static_assert(sizeof(struct ek_ks_ent) == 40, "layout of struct pdm_v2enc_ks_ent");

/* A keystream lane (bpf/pdm_v2enc.h, docs/agent.md): one busy AES
 * sender's next EK_KS_W options' counter blocks, written ahead; or a busy
 * receiver's, the peer's next EK_KS_W / 2 positions of its current Kri
 * and the first of its next. */
struct ek_lane {
    int used;
    int rx;       /* a receiver's: t is the peer's direction */
    uint32_t gen; /* the tag's high half, new for each flow given the lane */
    struct pdm_bpf_flow_key flow;
    struct pdm_flow_tuple t;
    struct pdm_profile_secret s;
    uint32_t kri0, limit;
    uint64_t filled;   /* entries are written for draws below this */
    uint64_t last_seq; /* the sender's seq at the last tick, and since when */
    uint64_t last_ns;
    uint32_t hkri[2], hfill[2]; /* rx: half p holds Kri hkri[p]'s positions below hfill[p] */
    int have_kri;               /* the key of kri is in c, base_nonce, rn_key */
    uint32_t kri;
    uint8_t base_nonce[12], rn_key[16];
    EVP_CIPHER_CTX *c;
};

struct ek_slot { /* struct pdm_v2enc_slot */
    struct aead_user_key aead;
    struct aead_user_material mat;
    uint32_t ready, pad;
    union {                   /* zero here: the install program writes gcm */
        uint32_t soft_rk[62]; /* struct pdm_aes_soft_key */
        struct aead_user_gcm gcm;
    } u;
};
_Static_assert(sizeof(struct ek_slot) == 616, "layout of struct pdm_v2enc_slot");

struct ek_req { /* struct pdm_v2enc_req */
    struct pdm_bpf_flow_key flow;
    uint8_t kind, pad;
    uint16_t kri;
    uint8_t opt[36];
};
_Static_assert(sizeof(struct ek_req) == 80, "layout of struct pdm_v2enc_req");

static const char *const ek_names[EK_C_MAX] = {
    "v2enc_sealed",         "v2enc_opened",           "v2enc_tx_key_pending",
    "v2enc_tx_exhausted",   "v2enc_tx_crypto",        "v2enc_rx_key_pending",
    "v2enc_rx_auth_failed", "v2enc_key_requests",     "v2enc_requests_lost",
    "v2enc_rotations",      "v2enc_peer_rotations",   "v2enc_derive_deferred",
    "v2enc_keystream_used", "v2enc_keystream_opened",
};

_Static_assert(PDM_V2KEY_BUCKETS == KRI_BUCKETS, "Kri history buckets");

struct agent_ebpf_keys {
    int install_fd, count_fd, slots_fd;
    int secret_fd, hist_fd; /* bpf/pdm_v2key.h: the pairs' secrets, the histories */
    int state_fd;
    void *stbuf;        /* a v2enc_state value (its size from the object) */
    uint8_t gc_cur[44]; /* ek_gc()'s place in the slots map */
    int gc_have;
    uint32_t gen;       /* k->gen the secrets map was last emptied at */
    uint64_t synced_ns; /* last ek_hist_sync() */
    struct pdm_v2key_hist *hbuf;
    struct ring_buffer *rb;
    struct agent_keys *keys;
    const struct agent_core_config *cc;
    pthread_t thread;
    int running, stop;
    /* serve(): one secret for every flow */
    const struct pdm_profile_secret *fixed;
    uint32_t fixed_limit;
    /* Bumped by the request thread only; read by --status. */
    uint64_t answered, no_secret, find_failed, install_failed;
    /* Keystream lanes (x86-64 only: the programs' torn-copy check relies
     * on its ordering of loads and of stores). ks NULL: none. */
    struct ek_ks_ent *ks;
    size_t ks_bytes, ks_max, nlanes; /* ks_max: the lanes the map holds; nlanes: allowed */
    uint32_t ks_gen;
    size_t lanes_used;
    struct ek_lane lanes[EK_KS_LANES];
    uint64_t ks_given, ks_refused, ks_written;
};

/* ebpf_keys.c */
int ek_run_install(struct agent_ebpf_keys *ek, struct ek_install *a);
int ek_derive_key(const struct pdm_profile_secret *s, const struct pdm_flow_tuple *t, uint16_t kri,
                  uint8_t stk[32], struct aead_user_material *mat);
int ek_secret_of(struct agent_ebpf_keys *ek, const struct ek_req *r, const struct pdm_flow_tuple *t,
                 struct pdm_profile_secret *s,
                 uint32_t (*fn)(struct khist *h, size_t b, uint32_t arg), uint32_t arg,
                 uint32_t *res);
uint64_t ek_mono_ns(void);

/* ebpf_ks.c: TX_LANE's and RX_LANE's answers (tt our direction's tuple,
 * rt the peer's), the refill tick, a lane given back. */
int ek_answer_tx_lane(struct agent_ebpf_keys *ek, const struct ek_req *r,
                      const struct pdm_flow_tuple *tt);
int ek_answer_rx_lane(struct agent_ebpf_keys *ek, const struct ek_req *r,
                      const struct pdm_flow_tuple *rt);
void ek_ks_tick(struct agent_ebpf_keys *ek);
void ek_lane_release(struct agent_ebpf_keys *ek, size_t i, int clear);

#endif
