/*
 * Inside the agent's key module (v2-encrypted), shared by its three files:
 *
 *   secrets.c   where secrets come from (the store, the key logs) and the
 *               cache of answers per address pair; loading, reloading,
 *               the periodic tick, freeing (agent_keys_load() & co.)
 *   kri.c       the Kri history per secret and its --state file
 *   flowkeys.c  a flow's sender and receiver states in the packet path
 *               (agent_keys_tx_begin(), _tx_seal(), _open())
 *
 * The rest of the agent sees only agent.h. Locking: k->lock guards the
 * pair cache, the histories and the sources; a flow's own states
 * (struct agent_flow) are guarded by its shard's lock; the snapshot
 * fields are the main thread's.
 */
#ifndef PDM_TOOLS_AGENT_KEYS_H
#define PDM_TOOLS_AGENT_KEYS_H

#include "agent.h"

#include "common/store.h"

#include <pdm/keylog.h>
#include <pdm/profile.h>

#include <pthread.h>
#include <time.h>

#define KRI_BUCKETS     4096
#define KRI_BEHIND      8   /* a fresh receiver searches from rx[b] − this */
#define CRASH_MARGIN    4   /* senders' head start after an unclean exit */
#define PAIR_SLOTS      512 /* cached (local, peer) pairs; a power of 2 */
#define MISS_RETRY_S    1
#define STORE_RELOAD_NS (5ull * 1000000000ull)
#define SAVE_EVERY_NS   (1ull * 1000000000ull)
#define ID_SIZE         16
#define KRI_END         (PDM_KRI_MAX + 1u) /* "every Kri used" */

/* Kri history of one secret. */
struct khist {
    uint8_t id[ID_SIZE];      /* LabeledExpand(prk, "openpdm agent id"): names it */
    uint8_t hkey[ID_SIZE];    /* bucket hash key (same derivation, other label) */
    uint32_t tx[KRI_BUCKETS]; /* next Kri to start at (65536: used up) */
    uint32_t rx[KRI_BUCKETS]; /* 1 + highest Kri opened; 0 none */
    int loaded;               /* came from the state file (for the crash margin) */
    struct khist *next;
};

/* One cached answer for a (local, peer) pair: a slot of the pair cache.
 * Found, it is the secret the packet path holds (agent.h). */
struct agent_secret {
    uint8_t local[16], peer[16];
    int used;
    int found;
    int dead;           /* retired (expired); its memory is kept until a reload */
    int proven;         /* a seal started or an option opened under it: a real peer's */
    uint64_t expires_s; /* secret's end of life (0 never), or retry time of a miss */
    struct pdm_profile_secret sec;
    struct khist *hist;
};

/* A copy of one secret's history, written to the state file outside the
 * runtime lock (agent_keys_io). */
struct hsnap {
    uint8_t id[ID_SIZE];
    uint32_t tx[KRI_BUCKETS];
    uint32_t rx[KRI_BUCKETS];
};

struct agent_keys {
    /* Guards everything below but the per-flow states (their shard's lock
     * guards those) and the main-thread-only snapshot fields. */
    pthread_mutex_t lock;
    char *tool_store_dir, *keylog, *primary, *state;
    struct hsnap *snap; /* main thread only: the copy to write */
    size_t nsnap, capsnap;
    int snap_pending, save_failed;
    struct timespec store_mtime;
    struct tool_store *store;
    struct pdm_keylog_entry *klog; /* --keylog and --primary-secret lines */
    size_t nklog;
    struct agent_secret pairs[PAIR_SLOTS];
    uint32_t gen; /* bumped when the cache is emptied */
    struct khist *hists;
    int unclean; /* the last run did not save "clean 1" */
    int dirty;
    uint64_t now_s; /* Unix seconds, from agent_keys_tick() */
    uint64_t last_save_ns, last_reload_ns;
    int prune_wanted;       /* the cache was found full (atomic: read unlocked) */
    uint64_t last_prune_ns; /* main thread only */
};

/* ---- secrets.c ---- */

/*
 * The cached answer for (local, peer), resolved when absent or stale;
 * *idx gets its slot. NULL when the cache is full of other pairs' secrets
 * (then: no secret). k->lock held.
 */
struct agent_secret *agent_pair_get(struct agent_keys *k, const uint8_t local[16],
                                    const uint8_t peer[16], size_t *idx);

/* Empties the slots of secrets that never served a packet (and retired
 * ones), with every shard stopped by the caller; frees the histories left
 * unused and empty. Returns the number of slots emptied. */
size_t agent_keys_prune(struct agent_keys *k);

/* ---- kri.c ---- */

/* Frees the histories that no pair slot points to and that hold nothing
 * (a never-used secret's: made again the same if needed). k->lock held. */
void agent_kri_drop_unused(struct agent_keys *k);

/* The history of secret s (created when new; with the crash margin when
 * the last run did not exit cleanly). NULL on allocation failure. */
struct khist *agent_kri_of(struct agent_keys *k, const struct pdm_profile_secret *s);

/* Bucket of the sender's tuple t in h (the same at both ends). */
size_t agent_kri_bucket(const struct khist *h, const struct pdm_flow_tuple *t);

/* Copies every history into k->snap. Returns 0 or -1 (no memory). */
int agent_kri_snapshot(struct agent_keys *k);

/* Writes k->snap to the state file (temporary file, fsync, rename), with
 * "clean" as given. Returns 0 or -1 (errno says why). */
int agent_kri_write(const struct agent_keys *k, int clean);

/* agent_kri_snapshot() then agent_kri_write(): set-up and exit, when
 * nothing runs concurrently. No state file: 0. */
int agent_kri_save(struct agent_keys *k, int clean);

/* Reads the state file (a missing one is a first run). Returns 0 or -1
 * with err. */
int agent_kri_load(struct agent_keys *k, char *err, size_t errlen);

/* Wipes and frees every history and the snapshot. */
void agent_kri_free(struct agent_keys *k);

#endif /* PDM_TOOLS_AGENT_KEYS_H */
