/*
 * v2-encrypted for the agent: where secrets come from, which secret a flow
 * uses, the per-flow sender and receiver states of lib/profile.c, and the
 * Kri history that keeps a (key, nonce) pair from ever sealing twice.
 *
 * Secrets. For the flow between our address L and a peer's address P:
 * the secret store (--store, tools/common/store.h: registrations), then the key
 * log lines of --keylog and --primary-secret (include/pdm/keylog.h), each
 * tried with L as the client and with P as the client: a PDMV2_SECRET for
 * the pair, else ClientSecret(C) of a PDMV2_PRIMARY whose prefixes hold the
 * pair (the draft's Appendix A.1; a secondary server derives it on the
 * first packet from C). Results, missing ones too, are cached per pair;
 * a miss is retried after a second, the store is re-read every few seconds
 * and on SIGHUP, so a registration made while the agent runs is picked up.
 *
 * Kri history (docs/agent.md §"Keys"). The profile derives a flow
 * direction's key, BaseNonce and RN sequence from (secret, 5-tuple, Kri)
 * alone, so a tuple that comes back under the same secret after its flow
 * state was forgotten (an idle ICMPv6 echo flow has no ports: every ping
 * between two hosts is the same tuple) must start at a Kri it never used
 * (PROFILE §3, pdm_profile_tx_start). Per secret we keep two arrays of
 * KRI_BUCKETS counters indexed by a hash of the sender's tuple that both
 * ends compute alike (keyed by the secret): tx[b] = the next Kri a new
 * flow of bucket b may start at (raised at every start and rotation), and
 * rx[b] = 1 + the highest Kri we opened in bucket b. A new sending state
 * starts at tx[b]; a new receiving state expects rx[b] and searches from
 * KRI_BEHIND below it (the profile's search looks PDM_KRI_WINDOW
 * candidates ahead), which covers flows that share a bucket and started
 * in another order. The arrays are saved (--state, atomically, fsync) within
 * a second of a change and at exit; a run that did not exit cleanly is
 * followed by one whose senders start CRASH_MARGIN higher, so that starts
 * made after the last save are not repeated.
 */
#include "agent.h"

#include "common/store.h"
#include "common/tools.h"

#include <pdm/keylog.h>
#include <pdm/profile.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
};

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

/* ---- Kri history ----------------------------------------------------------- */

static int hist_derive(const struct pdm_profile_secret *s, const char *label, uint8_t out[ID_SIZE])
{
    return pdm_hpke_labeled_expand(s->suite, s->prk, s->nh, label, NULL, 0, out, ID_SIZE);
}

static struct khist *hist_find(struct agent_keys *k, const uint8_t id[ID_SIZE])
{
    for (struct khist *h = k->hists; h != NULL; h = h->next)
        if (memcmp(h->id, id, ID_SIZE) == 0)
            return h;
    return NULL;
}

static struct khist *hist_new(struct agent_keys *k, const uint8_t id[ID_SIZE])
{
    struct khist *h = calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    memcpy(h->id, id, ID_SIZE);
    if (k->unclean) {
        /* Starts made after the last save of a crashed run stay unused. */
        for (size_t i = 0; i < KRI_BUCKETS; i++)
            h->tx[i] = CRASH_MARGIN;
        k->dirty = 1;
    }
    h->next = k->hists;
    k->hists = h;
    return h;
}

/* The history of secret s (created when new). NULL on allocation failure. */
static struct khist *hist_of(struct agent_keys *k, const struct pdm_profile_secret *s)
{
    uint8_t id[ID_SIZE];
    struct khist *h;

    if (hist_derive(s, "openpdm agent kri id", id) != 0)
        return NULL;
    if ((h = hist_find(k, id)) == NULL && (h = hist_new(k, id)) == NULL)
        return NULL;
    if (hist_derive(s, "openpdm agent kri bucket", h->hkey) != 0)
        return NULL;
    return h;
}

/* Bucket of the sender's tuple t: FNV-1a over the key and the 39-byte flow
 * input of the key schedule at Kri 0 (the same bytes at both ends). */
static size_t hist_bucket(const struct khist *h, const struct pdm_flow_tuple *t)
{
    uint8_t info[PDM_PROFILE_FLOW_INFO_SIZE];
    uint64_t x = 0xcbf29ce484222325ull;

    pdm_profile_flow_info(t, 0, info);
    for (size_t i = 0; i < ID_SIZE; i++)
        x = (x ^ h->hkey[i]) * 0x100000001b3ull;
    for (size_t i = 0; i < sizeof info; i++)
        x = (x ^ info[i]) * 0x100000001b3ull;
    x ^= x >> 29;
    return (size_t)(x % KRI_BUCKETS);
}

/* Hex helpers for the state file. */
static void hex(char *out, const uint8_t *p, size_t n)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/*
 * State file, text, replaced atomically:
 *   # openpdm agent Kri history
 *   clean 0|1
 *   secret <id-hex>
 *   t <bucket> <next Kri>        (non-zero buckets only)
 *   r <bucket> <1 + highest Kri opened>
 */
/* Copies every history into k->snap. Returns 0 or -1 (no memory). */
static int snapshot(struct agent_keys *k)
{
    size_t n = 0;

    for (struct khist *h = k->hists; h != NULL; h = h->next)
        n++;
    if (n > k->capsnap) {
        struct hsnap *v = realloc(k->snap, n * sizeof *v);
        if (v == NULL)
            return -1;
        k->snap = v;
        k->capsnap = n;
    }
    n = 0;
    for (struct khist *h = k->hists; h != NULL; h = h->next, n++) {
        memcpy(k->snap[n].id, h->id, ID_SIZE);
        memcpy(k->snap[n].tx, h->tx, sizeof h->tx);
        memcpy(k->snap[n].rx, h->rx, sizeof h->rx);
    }
    k->nsnap = n;
    return 0;
}

/* Writes k->snap (see state_save). */
static int state_write(const struct agent_keys *k, int clean)
{
    char tmp[4096], idhex[2 * ID_SIZE + 1];
    FILE *f;
    int fd, rv = 0;

    if (k->state == NULL)
        return 0;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", k->state) >= sizeof tmp)
        return -1;
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
        return -1;
    if ((f = fdopen(fd, "w")) == NULL) {
        close(fd);
        return -1;
    }
    fprintf(f, "# openpdm agent Kri history (pdm agent --state)\nclean %d\n", clean);
    for (size_t s = 0; s < k->nsnap; s++) {
        const struct hsnap *h = &k->snap[s];
        hex(idhex, h->id, ID_SIZE);
        fprintf(f, "secret %s\n", idhex);
        for (size_t i = 0; i < KRI_BUCKETS; i++) {
            if (h->tx[i])
                fprintf(f, "t %zu %u\n", i, (unsigned)h->tx[i]);
            if (h->rx[i])
                fprintf(f, "r %zu %u\n", i, (unsigned)h->rx[i]);
        }
    }
    if (fflush(f) != 0 || fsync(fd) != 0)
        rv = -1;
    if (fclose(f) != 0)
        rv = -1;
    if (rv == 0 && rename(tmp, k->state) != 0)
        rv = -1;
    if (rv != 0)
        unlink(tmp);
    return rv;
}

/* Saves the histories now (set-up and exit: nothing runs concurrently). */
static int state_save(struct agent_keys *k, int clean)
{
    if (k->state == NULL)
        return 0;
    if (snapshot(k) != 0)
        return -1;
    return state_write(k, clean);
}

static int state_load(struct agent_keys *k, char *err, size_t errlen)
{
    char line[256];
    struct khist *cur = NULL;
    unsigned lineno = 0;
    int clean = 0, seen_clean = 0;
    FILE *f;

    if ((f = fopen(k->state, "r")) == NULL) {
        if (errno == ENOENT)
            return 0; /* first run */
        snprintf(err, errlen, "%s: %s", k->state, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        char word[16], idh[2 * ID_SIZE + 2];
        size_t b;
        unsigned v;

        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (sscanf(line, "clean %d", &clean) == 1) {
            seen_clean = 1;
        } else if (sscanf(line, "secret %33s", idh) == 1 && strlen(idh) == 2 * ID_SIZE) {
            uint8_t id[ID_SIZE];
            if (tool_unhex(id, sizeof id, idh) != ID_SIZE)
                goto bad;
            if ((cur = hist_find(k, id)) == NULL) {
                if ((cur = calloc(1, sizeof *cur)) == NULL)
                    goto bad;
                memcpy(cur->id, id, ID_SIZE);
                cur->next = k->hists;
                k->hists = cur;
            }
            cur->loaded = 1;
        } else if (sscanf(line, "%15s %zu %u", word, &b, &v) == 3 && cur != NULL &&
                   b < KRI_BUCKETS && v <= KRI_END && (!strcmp(word, "t") || !strcmp(word, "r"))) {
            if (word[0] == 't')
                cur->tx[b] = v;
            else
                cur->rx[b] = v;
        } else {
            goto bad;
        }
    }
    fclose(f);
    k->unclean = !seen_clean || clean != 1;
    if (k->unclean) {
        for (struct khist *h = k->hists; h != NULL; h = h->next)
            for (size_t i = 0; i < KRI_BUCKETS; i++)
                h->tx[i] = h->tx[i] + CRASH_MARGIN > KRI_END ? KRI_END : h->tx[i] + CRASH_MARGIN;
    }
    return 0;
bad:
    fclose(f);
    snprintf(err, errlen,
             "%s:%u: not a Kri history line (remove the file only with a new "
             "registration: it keeps nonces from repeating)",
             k->state, lineno);
    return -1;
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
        if (state_load(k, err, errlen) != 0)
            goto fail;
        /* From now on a crash must be noticed by the next run. */
        if (state_save(k, 0) != 0) {
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
        if (snapshot(k) == 0) {
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
    if (state_write(k, 0) != 0) {
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
        (void)state_save(k, 1);
    pairs_clear(k);
    klog_free(k);
    tool_store_close(k->store);
    while (k->hists != NULL) {
        struct khist *h = k->hists;
        k->hists = h->next;
        pdm_memzero(h, sizeof *h);
        free(h);
    }
    free(k->tool_store_dir);
    free(k->keylog);
    free(k->primary);
    free(k->state);
    free(k->snap);
    pthread_mutex_destroy(&k->lock);
    free(k);
}

/* ---- secrets for a pair ------------------------------------------------------ */

/* Looks (client, server) up in the key-log lines like tool_store_lookup() does
 * in the store. Returns 1 with *out, 0, or -1 (derivation failed). */
static int klog_lookup(const struct agent_keys *k, const uint8_t client[16],
                       const uint8_t server[16], struct tool_store_entry *out)
{
    const struct pdm_keylog_entry *prim = NULL;
    struct pdm_profile_primary p;
    int rv;

    for (size_t i = 0; i < k->nklog; i++) {
        const struct pdm_keylog_entry *e = &k->klog[i];
        if (e->kind == PDM_KEYLOG_SECRET && !memcmp(e->client, client, 16) &&
            !memcmp(e->server, server, 16)) {
            memset(out, 0, sizeof *out);
            out->k = *e;
            return 1;
        }
        if (e->kind == PDM_KEYLOG_PRIMARY && pdm_keylog_match(e, client, server) &&
            (prim == NULL || e->client_plen > prim->client_plen))
            prim = e;
    }
    if (prim == NULL)
        return 0;
    memset(out, 0, sizeof *out);
    if (pdm_profile_primary_init(&p, prim->suite, prim->salt, sizeof prim->salt, prim->secret,
                                 prim->secret_len) != 0)
        return -1;
    rv = pdm_profile_primary_client(&p, client, out->k.secret, prim->secret_len);
    pdm_profile_primary_wipe(&p);
    if (rv != 0)
        return -1;
    out->k.kind = PDM_KEYLOG_SECRET;
    memcpy(out->k.client, client, 16);
    memcpy(out->k.server, server, 16);
    out->k.client_plen = out->k.server_plen = 128;
    out->k.suite = prim->suite;
    memcpy(out->k.salt, prim->salt, sizeof out->k.salt);
    out->k.secret_len = prim->secret_len;
    return 1;
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
    pr->expires_s = k->now_s + MISS_RETRY_S;
    if (r > 0 && pdm_profile_secret_init(&pr->sec, e.k.suite, e.k.salt, sizeof e.k.salt, e.k.secret,
                                         e.k.secret_len) == 0) {
        if ((pr->hist = hist_of(k, &pr->sec)) != NULL) {
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
static struct agent_secret *pair_get(struct agent_keys *k, const uint8_t local[16],
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
    if (spare == PAIR_SLOTS)
        return NULL;
    pr = &k->pairs[spare];
    memcpy(pr->local, local, 16);
    memcpy(pr->peer, peer, 16);
    pair_resolve(k, pr);
    *idx = spare;
    return pr;
}

int agent_keys_have(struct agent_keys *k, const uint8_t src[16], const uint8_t dst[16])
{
    size_t idx;
    struct agent_secret *pr;

    int found;

    if (k == NULL)
        return 0;
    pthread_mutex_lock(&k->lock);
    pr = pair_get(k, src, dst, &idx);
    found = pr != NULL && pr->found;
    pthread_mutex_unlock(&k->lock);
    return found;
}

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
     * whereas a miss may give its slot to another pair (pair_get()).
     */
    if (af->pair_gen == k->gen && af->pair_slot != 0) {
        pr = &k->pairs[af->pair_slot - 1];
        if (pr->found && (pr->expires_s == 0 || k->now_s < pr->expires_s))
            goto have;
    }
    if ((pr = pair_get(k, local, peer, &idx)) == NULL || !pr->found)
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

/* ---- the packet path ------------------------------------------------------------ */

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
        size_t b = hist_bucket(pr->hist, tup);
        uint32_t start = pr->hist->tx[b];
        if (start > PDM_KRI_MAX) {
            rv = PDM_ERR_KEY_EXHAUSTED;
        } else if ((rv = pdm_profile_tx_start(&af->tx, &pr->sec, tup, (uint16_t)start, now_ns)) ==
                   0) {
            pr->hist->tx[b] = start + 1u;
            k->dirty = 1;
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
        size_t b = hist_bucket(pr->hist, tup);
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
        uint32_t expect = pr->hist->rx[hist_bucket(pr->hist, tup)];
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
        size_t b = hist_bucket(pr->hist, tup);
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
