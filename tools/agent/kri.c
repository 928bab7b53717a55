/*
 * The agent's Kri history (docs/agent.md §6, "Kri history"): the profile
 * derives a flow direction's key, BaseNonce and RN sequence from (secret,
 * 5-tuple, Kri) alone, so a tuple that comes back under the same secret
 * after its flow state was forgotten (an idle ICMPv6 echo flow has no
 * ports: every ping between two hosts is the same tuple) must start at a
 * Kri it never used (PROFILE §3, pdm_profile_tx_start).
 *
 * Per secret we keep two arrays of KRI_BUCKETS counters indexed by a hash
 * of the sender's tuple that both ends compute alike (keyed by the
 * secret): tx[b] = the next Kri a new flow of bucket b may start at
 * (raised at every start and rotation), and rx[b] = 1 + the highest Kri we
 * opened in bucket b. A new sending state starts at tx[b]; a new receiving
 * state expects rx[b] and searches from KRI_BEHIND below it (the profile's
 * search looks PDM_KRI_WINDOW candidates ahead), which covers flows that
 * share a bucket and started in another order. The arrays are saved
 * (--state, atomically, fsync) within a second of a change and at exit; a
 * run that did not exit cleanly is followed by one whose senders start
 * CRASH_MARGIN higher, so that starts made after the last save are not
 * repeated.
 */
#include "keys.h"

#include "common/tools.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

void agent_kri_drop_unused(struct agent_keys *k)
{
    struct khist **pp = &k->hists;

    while (*pp != NULL) {
        struct khist *h = *pp;
        int keep = 0;
        for (size_t i = 0; i < PAIR_SLOTS && !keep; i++)
            keep = k->pairs[i].used && k->pairs[i].hist == h;
        /* Empty: what hist_new() would make again (no Kri started past
         * the crash margin, none opened). */
        for (size_t i = 0; i < KRI_BUCKETS && !keep; i++)
            keep = h->rx[i] != 0 || h->tx[i] > CRASH_MARGIN;
        if (keep) {
            pp = &h->next;
            continue;
        }
        *pp = h->next;
        pdm_memzero(h, sizeof *h);
        free(h);
    }
}

struct khist *agent_kri_of(struct agent_keys *k, const struct pdm_profile_secret *s)
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
size_t agent_kri_bucket(const struct khist *h, const struct pdm_flow_tuple *t)
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
int agent_kri_snapshot(struct agent_keys *k)
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

int agent_kri_write(const struct agent_keys *k, int clean)
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

int agent_kri_save(struct agent_keys *k, int clean)
{
    if (k->state == NULL)
        return 0;
    if (agent_kri_snapshot(k) != 0)
        return -1;
    return agent_kri_write(k, clean);
}

int agent_kri_load(struct agent_keys *k, char *err, size_t errlen)
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

void agent_kri_free(struct agent_keys *k)
{
    while (k->hists != NULL) {
        struct khist *h = k->hists;
        k->hists = h->next;
        pdm_memzero(h, sizeof *h);
        free(h);
    }
    free(k->snap);
    k->snap = NULL;
    k->nsnap = k->capsnap = 0;
}
