/*
 * The agent's secrets (v2-encrypted): where they come from and which one a
 * flow uses, cached per address pair.
 *
 * For the flow between our address L and a peer's address P: the secret
 * store (--store, tools/common/store.h: registrations), then the key-log
 * lines of --keylog and --primary-secret (include/pdm/keylog.h), each tried
 * with L as the client, then with P as the client. Every one of those four
 * lookups is pdm_keylog_lookup(), the one lookup of openpdm: a
 * PDMV2_SECRET for exactly the pair before any PDMV2_PRIMARY; among
 * primaries the longest client prefix, then the longest server prefix
 * (ClientSecret(C), the draft's Appendix A.1: a secondary server derives it
 * on the first packet from C); among equals the later one (a store's
 * newer record, a key log's later line; the --primary-secret file's lines
 * come after --keylog's). Answers, missing ones too, are cached per pair;
 * a miss is retried after a second, the store is re-read every few seconds
 * and on SIGHUP, so a registration made while the agent runs is picked up.
 */
#include "keys.h"

#include "common/tools.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint64_t unix_now(void)
{
    return (uint64_t)time(NULL);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- loading -------------------------------------------------------------- */

/* Appends the key-log lines of path to k->klog. Returns 0 or -1 with err. */
static int load_keylog_file(struct agent_keys *k, const char *path, char *err, size_t errlen)
{
    char *line = NULL, why[160];
    size_t cap = 0;
    ssize_t n;
    unsigned lineno = 0;
    FILE *f = fopen(path, "r");
    int rv = 0;

    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    while ((n = getline(&line, &cap, f)) >= 0) {
        struct pdm_keylog_entry e;
        lineno++;
        int r = pdm_keylog_parse_line(line, (size_t)n, &e, why, sizeof why);
        if (r == 0)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "%s:%u: %s", path, lineno,
                     r == PDM_ERR_UNSUPPORTED ? "suite not supported" : why);
            rv = -1;
            break;
        }
        struct pdm_keylog_entry *v = realloc(k->klog, (k->nklog + 1) * sizeof *v);
        if (v == NULL) {
            pdm_keylog_entry_wipe(&e);
            snprintf(err, errlen, "out of memory");
            rv = -1;
            break;
        }
        k->klog = v;
        k->klog[k->nklog++] = e;
        pdm_keylog_entry_wipe(&e);
    }
    if (line != NULL) {
        pdm_memzero(line, cap);
        free(line);
    }
    fclose(f);
    return rv;
}

static void klog_free(struct agent_keys *k)
{
    if (k->klog != NULL) {
        pdm_memzero(k->klog, k->nklog * sizeof *k->klog);
        free(k->klog);
    }
    k->klog = NULL;
    k->nklog = 0;
}

static int load_sources(struct agent_keys *k, char *err, size_t errlen)
{
    if (k->keylog != NULL && load_keylog_file(k, k->keylog, err, errlen) != 0)
        return -1;
    if (k->primary != NULL && load_keylog_file(k, k->primary, err, errlen) != 0)
        return -1;
    return 0;
}

/* Empties the pair cache (secrets wiped); flows notice through gen. */
static void pairs_clear(struct agent_keys *k)
{
    for (size_t i = 0; i < PAIR_SLOTS; i++)
        pdm_profile_secret_wipe(&k->pairs[i].sec);
    memset(k->pairs, 0, sizeof k->pairs);
    k->gen++;
}

/* ---- set-up ------------------------------------------------------------------ */

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

int agent_keys_load(struct agent_keys **out, const char *tool_store_dir, const char *keylog,
                    const char *primary, const char *state, char *err, size_t errlen)
{
    struct agent_keys *k = calloc(1, sizeof *k);

    *out = NULL;
    if (k == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&k->lock, NULL);
    k->tool_store_dir = dup_or_null(tool_store_dir);
    k->keylog = dup_or_null(keylog);
    k->primary = dup_or_null(primary);
    k->state = dup_or_null(state);
    k->now_s = unix_now();
    k->last_reload_ns = mono_ns();
    if (k->tool_store_dir != NULL) {
        struct stat st;
        if (stat(k->tool_store_dir, &st) == 0)
            k->store_mtime = st.st_mtim;
        if (tool_store_open(&k->store, k->tool_store_dir, 0, err, errlen) != 0)
            goto fail;
    }
    if (load_sources(k, err, errlen) != 0)
        goto fail;
    if (k->state != NULL) {
        if (agent_kri_load(k, err, errlen) != 0)
            goto fail;
        /* From now on a crash must be noticed by the next run. */
        if (agent_kri_save(k, 0) != 0) {
            snprintf(err, errlen, "cannot write %s: %s", k->state, strerror(errno));
            goto fail;
        }
    } else {
        fprintf(stderr, "pdm: agent: no --state: the Kri history of v2-encrypted flows is "
                        "lost at exit (a restarted agent could repeat nonces of a returning "
                        "5-tuple under the same secret)\n");
    }
    *out = k;
    return 0;
fail:
    agent_keys_free(k);
    return -1;
}

/* Called with every shard stopped (cmd_agent.c): secrets in use go. */
int agent_keys_reload(struct agent_keys *k, char *err, size_t errlen)
{
    struct pdm_keylog_entry *old;
    size_t nold;
    int rv = 0;

    pthread_mutex_lock(&k->lock);
    old = k->klog;
    nold = k->nklog;
    if (k->store != NULL && tool_store_reload(k->store, err, errlen) != 0)
        rv = -1;
    k->klog = NULL;
    k->nklog = 0;
    if (load_sources(k, err, errlen) != 0) {
        klog_free(k);
        k->klog = old;
        k->nklog = nold;
        rv = -1;
    } else if (old != NULL) {
        pdm_memzero(old, nold * sizeof *old);
        free(old);
    }
    pairs_clear(k);
    pthread_mutex_unlock(&k->lock);
    return rv;
}

int agent_keys_tick(struct agent_keys *k)
{
    uint64_t now = mono_ns();
    struct tool_store *fresh = NULL, *old = NULL;
    struct stat st;
    char err[256];

    int pending;

    if (k == NULL)
        return 0;
    if (k->store != NULL && now - k->last_reload_ns >= STORE_RELOAD_NS) {
        /* New registrations are picked up without a signal: the store
         * writes by rename, so the directory's mtime tells. Only misses
         * are retried against the new set (found secrets stay until
         * SIGHUP or their expiry). The directory is read WITHOUT k->lock
         * (every encrypted packet takes it: packets must never wait for
         * the disk) into a new set swapped in below; only this thread
         * (main) ever replaces k->store or reads these fields. */
        k->last_reload_ns = now;
        if (stat(k->tool_store_dir, &st) == 0 && (st.st_mtim.tv_sec != k->store_mtime.tv_sec ||
                                                  st.st_mtim.tv_nsec != k->store_mtime.tv_nsec)) {
            k->store_mtime = st.st_mtim;
            if (tool_store_open(&fresh, k->tool_store_dir, 0, err, sizeof err) != 0) {
                fprintf(stderr, "pdm: agent: reloading the store: %s\n", err);
                fresh = NULL;
            }
        }
    }
    pthread_mutex_lock(&k->lock);
    k->now_s = unix_now();
    if (fresh != NULL) {
        /* Pairs hold copies of their secrets: nothing points into the
         * old set, which goes once the lock is released. */
        old = k->store;
        k->store = fresh;
    }
    if (k->save_failed) {
        k->dirty = 1;
        k->save_failed = 0;
    }
    if (k->state != NULL && k->dirty && !k->snap_pending &&
        now - k->last_save_ns >= SAVE_EVERY_NS) {
        /* A copy now (microseconds), the file later without the lock: an
         * fsync must not stall the packet path. */
        if (agent_kri_snapshot(k) == 0) {
            k->dirty = 0;
            k->snap_pending = 1;
        }
        k->last_save_ns = now;
    }
    pending = k->snap_pending;
    pthread_mutex_unlock(&k->lock);
    tool_store_close(old);
    return pending;
}

void agent_keys_io(struct agent_keys *k)
{
    if (k == NULL || !k->snap_pending)
        return;
    if (agent_kri_write(k, 0) != 0) {
        fprintf(stderr, "pdm: agent: cannot save the Kri history to %s: %s\n", k->state,
                strerror(errno));
        k->save_failed = 1;
    }
    k->snap_pending = 0;
}

void agent_keys_free(struct agent_keys *k)
{
    if (k == NULL)
        return;
    if (k->state != NULL)
        (void)agent_kri_save(k, 1);
    pairs_clear(k);
    klog_free(k);
    tool_store_close(k->store);
    agent_kri_free(k);
    free(k->tool_store_dir);
    free(k->keylog);
    free(k->primary);
    free(k->state);
    pthread_mutex_destroy(&k->lock);
    free(k);
}

/* ---- secrets for a pair ------------------------------------------------------ */

/* The i-th key-log line, for pdm_keylog_lookup(). */
static const struct pdm_keylog_entry *klog_at(void *ctx, size_t i)
{
    const struct agent_keys *k = ctx;
    return &k->klog[i];
}

/* (client, server) in the key-log lines: pdm_keylog_lookup() at rank 0,
 * the lines in file order (--keylog's, then --primary-secret's), so that
 * of two equally good lines the later wins. Returns 1 with *out, 0, or -1
 * (a primary's derivation failed). */
static int klog_lookup(struct agent_keys *k, const uint8_t client[16], const uint8_t server[16],
                       struct tool_store_entry *out)
{
    int rv;

    memset(out, 0, sizeof *out);
    rv = pdm_keylog_lookup(klog_at, k, k->nklog, client, server, 0, &out->k, NULL);
    return rv < 0 ? -1 : rv;
}

/* Fills *pr for (local, peer): store first, then the key-log lines, each
 * with either end as the client. */
static void pair_resolve(struct agent_keys *k, struct agent_secret *pr)
{
    struct tool_store_entry e;
    int r = 0;

    memset(&e, 0, sizeof e);
    if (k->store != NULL) {
        r = tool_store_lookup(k->store, pr->local, pr->peer, k->now_s, &e);
        if (r <= 0)
            r = tool_store_lookup(k->store, pr->peer, pr->local, k->now_s, &e);
    }
    if (r <= 0) {
        r = klog_lookup(k, pr->local, pr->peer, &e);
        if (r <= 0)
            r = klog_lookup(k, pr->peer, pr->local, &e);
    }
    pr->found = 0;
    pr->proven = 0;
    pr->expires_s = k->now_s + MISS_RETRY_S;
    if (r > 0 && pdm_profile_secret_init(&pr->sec, e.k.suite, e.k.salt, sizeof e.k.salt, e.k.secret,
                                         e.k.secret_len) == 0) {
        if ((pr->hist = agent_kri_of(k, &pr->sec)) != NULL) {
            pr->found = 1;
            pr->expires_s = e.lifetime ? e.created + e.lifetime : 0;
        } else {
            pdm_profile_secret_wipe(&pr->sec);
        }
    }
    tool_store_entry_wipe(&e);
}

static size_t pair_hash(const uint8_t local[16], const uint8_t peer[16])
{
    uint64_t x = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < 16; i++)
        x = (x ^ local[i]) * 0x100000001b3ull;
    for (size_t i = 0; i < 16; i++)
        x = (x ^ peer[i]) * 0x100000001b3ull;
    return (size_t)(x ^ (x >> 32));
}

/* The cached answer for (local, peer), resolved when absent or stale.
 * NULL when the cache is full of other pairs' secrets (then: no secret).
 *
 * Slots are never emptied (open addressing without deletion), so a miss,
 * once cached, would hold its slot for good: packets to or from
 * PAIR_SLOTS addresses without a secret (any host in a peer prefix, or
 * forged sources) would leave no room for a peer that has one. So when no
 * slot is free, the first miss on the probe path gives way. A miss holds
 * no secret that anyone reads (flow_secret() only hands out found slots,
 * and a found slot never turns back into a miss: it retires, "dead"), and
 * flows that cached its index check the addresses again. */
struct agent_secret *agent_pair_get(struct agent_keys *k, const uint8_t local[16],
                                    const uint8_t peer[16], size_t *idx)
{
    size_t h = pair_hash(local, peer), spare = PAIR_SLOTS;
    struct agent_secret *pr;

    for (size_t i = 0; i < PAIR_SLOTS; i++) {
        size_t j = (h + i) & (PAIR_SLOTS - 1);
        pr = &k->pairs[j];
        if (pr->used && (pr->dead || memcmp(pr->local, local, 16) || memcmp(pr->peer, peer, 16))) {
            if (spare == PAIR_SLOTS && !pr->dead && !pr->found)
                spare = j;
            continue;
        }
        if (!pr->used) {
            pr->used = 1;
            memcpy(pr->local, local, 16);
            memcpy(pr->peer, peer, 16);
            pair_resolve(k, pr);
        } else if (pr->expires_s != 0 && k->now_s >= pr->expires_s) {
            if (pr->found) {
                /* Past its lifetime. Another thread may be sealing with it
                 * right now (outside k->lock): retire the slot as it is
                 * (wiped at the next SIGHUP or exit) and look further. */
                pr->dead = 1;
                pr->found = 0;
                continue;
            }
            /* A miss to retry: nobody uses its (empty) secret. */
            pair_resolve(k, pr);
        }
        *idx = j;
        return pr;
    }
    if (spare == PAIR_SLOTS) {
        /* Full of found secrets: the main thread prunes those that never
         * served a packet (agent_keys_maybe_prune()). */
        __atomic_store_n(&k->prune_wanted, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    pr = &k->pairs[spare];
    memcpy(pr->local, local, 16);
    memcpy(pr->peer, peer, 16);
    pair_resolve(k, pr);
    *idx = spare;
    return pr;
}

/*
 * With --primary-secret every source of the primary prefix has a secret
 * (derived), so forged sources fill the cache with found slots, which never
 * give way: new real peers then get none (it_flood.sh showed it). Found
 * slots that never served a packet are emptied here, with every shard
 * stopped (nobody seals or opens outside k->lock then); flows re-resolve
 * (gen), and those of proven pairs find their slot again.
 */
size_t agent_keys_prune(struct agent_keys *k)
{
    size_t n = 0;

    pthread_mutex_lock(&k->lock);
    __atomic_store_n(&k->prune_wanted, 0, __ATOMIC_RELAXED);
    for (size_t i = 0; i < PAIR_SLOTS; i++) {
        struct agent_secret *pr = &k->pairs[i];
        if (!pr->used || pr->proven || (!pr->found && !pr->dead))
            continue;
        pdm_profile_secret_wipe(&pr->sec);
        memset(pr, 0, sizeof *pr);
        n++;
    }
    if (n != 0) {
        k->gen++;
        agent_kri_drop_unused(k);
    }
    pthread_mutex_unlock(&k->lock);
    return n;
}

void agent_keys_maybe_prune(struct agent_keys *k, struct agent_rt *rt)
{
    uint64_t now = mono_ns();

    /* At most once a second: a sustained flood refills the cache. */
    if (k == NULL || !__atomic_load_n(&k->prune_wanted, __ATOMIC_RELAXED) ||
        now - k->last_prune_ns < 1000000000ull)
        return;
    k->last_prune_ns = now;
    for (unsigned i = 0; i < AGENT_SHARDS; i++)
        pthread_mutex_lock(&rt->shards[i].lock);
    (void)agent_keys_prune(k);
    for (unsigned i = AGENT_SHARDS; i-- > 0;)
        pthread_mutex_unlock(&rt->shards[i].lock);
}

int agent_keys_have(struct agent_keys *k, const uint8_t src[16], const uint8_t dst[16])
{
    size_t idx;
    struct agent_secret *pr;

    int found;

    if (k == NULL)
        return 0;
    pthread_mutex_lock(&k->lock);
    pr = agent_pair_get(k, src, dst, &idx);
    found = pr != NULL && pr->found;
    pthread_mutex_unlock(&k->lock);
    return found;
}
