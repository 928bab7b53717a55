/*
 * Encrypted PDMv2 for the analyser (analyze.h): the key log and one
 * receiver per flow direction.
 *
 * Key log (docs/profile.md §3, include/pdm/keylog.h): PDMV2_SECRET lines
 * give a registration's SharedSecret for one (client, server) address
 * pair; PDMV2_PRIMARY lines give a primary pair's PrimarySecret, from
 * which ClientSecret(C) is derived for any client C in the prefix. The
 * lines are kept in file order.
 *
 * Candidates. Which secret protects a pair is pdm_keylog_lookup()'s
 * answer, the one lookup the store and the agent use too: rank 0 is the
 * best entry (an exact PDMV2_SECRET before any PDMV2_PRIMARY, then the
 * longer client prefix, then the longer server prefix, and among equals
 * the later line), rank 1 the next, and so on. The analyser does not know
 * which end registered as the client, so for a sender S talking to D it
 * asks for both orientations, interleaved:
 *
 *   (client S, server D) rank 0, (client D, server S) rank 0,
 *   (client S, server D) rank 1, (client D, server S) rank 1, ...
 *
 * up to RX_CANDIDATES secrets (an orientation with no more entries drops
 * out). The lookups run over the lines that match the two addresses in
 * either orientation (one pass over the log, file order kept), so a long
 * log costs one scan per flow direction. The first candidate that opens one of S's options becomes
 * the direction's secret; the others are forgotten. So a log may hold several registrations of a
 * pair (re-registrations, a stale line): the newest line is tried first.
 *
 * Receiver: pdm_profile_rx_open() (lib/profile.c) follows the sender's Kri
 * (F-bit parity, nearest first, window PDM_KRI_WINDOW ahead); options that
 * open under no candidate are authentication failures, never used.
 */
#include "analyze.h"

#include <pdm/keylog.h>
#include <pdm/profile.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Secrets one direction tries before one of them opens an option. */
#define RX_CANDIDATES 8

struct an_keys {
    struct pdm_keylog_entry *v; /* the key log's entries, in file order */
    size_t n;
};

struct an_rx {
    struct pdm_flow_tuple t; /* the sender's view: t.src sealed the options */
    struct pdm_profile_secret cand[RX_CANDIDATES];
    size_t ncand;
    int locked; /* cand[0] opened an option: only it is tried from now on */
    struct pdm_profile_rx rx[RX_CANDIDATES];
};

void an_keys_free(struct an_keys *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->n; i++)
        pdm_keylog_entry_wipe(&k->v[i]);
    free(k->v);
    free(k);
}

int an_keys_load(struct an_keys **out, const char *path, char *err, size_t errlen)
{
    struct an_keys *k = NULL;
    struct pdm_keylog_entry ent;
    char why[160], *line = NULL;
    size_t cap = 0, lineno = 0, vcap = 0;
    ssize_t len;
    FILE *f;
    int rv = 0;

    *out = NULL;
    if (!(f = fopen(path, "r"))) {
        snprintf(err, errlen, "%s", strerror(errno));
        return PDM_ERR_SYSTEM;
    }
    if (!(k = calloc(1, sizeof *k))) {
        rv = PDM_ERR_NOMEM;
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        memset(&ent, 0, sizeof ent);
        why[0] = '\0';
        rv = pdm_keylog_parse_line(line, (size_t)len, &ent, why, sizeof why);
        if (rv == 0)
            continue;
        if (rv < 0) {
            snprintf(err, errlen, "line %zu: %s", lineno, why[0] ? why : pdm_strerror(rv));
            goto out;
        }
        if (k->n == vcap) {
            size_t ncap = vcap ? vcap * 2 : 8;
            struct pdm_keylog_entry *v = realloc(k->v, ncap * sizeof *v);
            if (!v) {
                rv = PDM_ERR_NOMEM;
                snprintf(err, errlen, "out of memory");
                goto out;
            }
            k->v = v;
            vcap = ncap;
        }
        k->v[k->n++] = ent;
        rv = 0;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s", strerror(errno));
        rv = PDM_ERR_SYSTEM;
        goto out;
    }
    if (k->n == 0) {
        snprintf(err, errlen, "no PDMV2_SECRET or PDMV2_PRIMARY line");
        rv = PDM_ERR_MALFORMED;
        goto out;
    }
    *out = k;
    k = NULL;
out:
    pdm_keylog_entry_wipe(&ent);
    if (line) {
        pdm_memzero(line, cap);
        free(line);
    }
    fclose(f);
    an_keys_free(k);
    return rv;
}

/* The entries of a key log that can cover one flow direction, in file
 * order: pdm_keylog_lookup() runs over these instead of the whole log. */
struct subset {
    const struct pdm_keylog_entry **v;
    size_t n;
};

static const struct pdm_keylog_entry *entry_at(void *ctx, size_t i)
{
    const struct subset *sub = ctx;
    return sub->v[i];
}

/* Adds the secret of rank `rank` for (client, server) to r's candidates.
 * Returns 1 added, 0 no entry at that rank, or PDM_ERR_CRYPTO /
 * PDM_ERR_UNSUPPORTED / PDM_ERR_INVAL. */
static int add_candidate(struct an_rx *r, struct subset *sub, const uint8_t client[16],
                         const uint8_t server[16], size_t rank)
{
    struct pdm_keylog_entry e;
    int rv;

    if ((rv = pdm_keylog_lookup(entry_at, sub, sub->n, client, server, rank, &e, NULL)) <= 0)
        return rv;
    rv = pdm_profile_secret_init(&r->cand[r->ncand], e.suite, e.salt, sizeof e.salt, e.secret,
                                 e.secret_len);
    pdm_keylog_entry_wipe(&e);
    if (rv != 0)
        return rv;
    r->ncand++;
    return 1;
}

/* The candidates of r in the order of the comment at the top. Returns 0
 * or an add_candidate() error. */
static int add_candidates(struct an_rx *r, struct subset *sub, const struct pdm_flow_tuple *tup)
{
    /* Orientation 0: the sender registered as the client; 1: as the
     * server. A flow between an address and itself has one orientation. */
    int more[2] = {1, memcmp(tup->src, tup->dst, 16) != 0};
    int rv;

    for (size_t rank = 0; (more[0] || more[1]) && r->ncand < RX_CANDIDATES; rank++) {
        for (int o = 0; o < 2 && r->ncand < RX_CANDIDATES; o++) {
            if (!more[o])
                continue;
            rv = add_candidate(r, sub, o ? tup->dst : tup->src, o ? tup->src : tup->dst, rank);
            if (rv < 0)
                return rv;
            more[o] = rv;
        }
    }
    return 0;
}

int an_rx_new(struct an_keys *k, const struct pdm_flow_tuple *tup, void **out)
{
    struct subset sub = {NULL, 0};
    struct an_rx *r;
    int rv;

    *out = NULL;
    if (!k)
        return PDM_ERR_NOT_FOUND;
    /* One pass over the log: each lookup rank is a pass over what it is
     * given, and a log may hold thousands of lines for other hosts. */
    if (!(sub.v = malloc(k->n * sizeof *sub.v)))
        return PDM_ERR_NOMEM;
    for (size_t i = 0; i < k->n; i++)
        if (pdm_keylog_match(&k->v[i], tup->src, tup->dst) ||
            pdm_keylog_match(&k->v[i], tup->dst, tup->src))
            sub.v[sub.n++] = &k->v[i];
    if (sub.n == 0) {
        free(sub.v);
        return PDM_ERR_NOT_FOUND;
    }
    if (!(r = calloc(1, sizeof *r))) {
        free(sub.v);
        return PDM_ERR_NOMEM;
    }
    r->t = *tup;
    rv = add_candidates(r, &sub, tup);
    free(sub.v);
    if (rv == 0 && r->ncand == 0)
        rv = PDM_ERR_NOT_FOUND;
    if (rv != 0) {
        an_rx_free(r);
        return rv;
    }
    *out = r;
    return 0;
}

int an_rx_open(void *rxp, const uint8_t *in, size_t inlen, uint8_t type, struct pdm_fields *out,
               uint32_t *kri)
{
    struct an_rx *r = rxp;
    struct pdm_option opt;
    uint16_t k16 = 0;
    int rv;

    for (size_t i = 0; i < (r->locked ? 1 : r->ncand); i++) {
        rv = pdm_profile_rx_open(&r->rx[i], &r->cand[i], &r->t, in, inlen, type, &opt, &k16);
        if (rv == PDM_ERR_AUTH)
            continue; /* not under this secret: try the next */
        if (rv == PDM_ERR_NOMEM || rv == PDM_ERR_CRYPTO || rv == PDM_ERR_INVAL)
            return rv; /* this machine failed, not the option */
        if (rv < 0)
            return PDM_ERR_MALFORMED; /* no secret makes these bytes an encrypted option */
        if (!r->locked) {
            /* This secret opens the direction's options: keep it first and
             * forget the others. */
            struct pdm_profile_secret s = r->cand[i];
            struct pdm_profile_rx x = r->rx[i];
            r->cand[i] = r->cand[0];
            r->rx[i] = r->rx[0];
            r->cand[0] = s;
            r->rx[0] = x;
            pdm_memzero(&s, sizeof s);
            for (size_t j = 1; j < r->ncand; j++) {
                pdm_profile_rx_clear(&r->rx[j]);
                pdm_profile_secret_wipe(&r->cand[j]);
            }
            r->ncand = 1;
            r->locked = 1;
        }
        *out = opt.fields;
        *kri = k16;
        pdm_memzero(&opt, sizeof opt);
        return 0;
    }
    return PDM_ERR_AUTH;
}

void an_rx_free(void *rxp)
{
    struct an_rx *r = rxp;

    if (!r)
        return;
    for (size_t i = 0; i < RX_CANDIDATES; i++) {
        pdm_profile_rx_clear(&r->rx[i]);
        pdm_profile_secret_wipe(&r->cand[i]);
    }
    free(r);
}
