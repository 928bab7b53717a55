/* The secret store (tools/common/store.h): a directory of 0600 record files. */
#include "tools.h"
#include "store.h"

#include "keyfile.h"

#include <pdm/profile.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tool_store {
    char *dir;
    int nosync;
    struct tool_store_entry *v;
    size_t n, cap;
};

/* ---- records -------------------------------------------------------------- */

int tool_store_entry_expired(const struct tool_store_entry *e, uint64_t now)
{
    if (e->lifetime == 0)
        return 0;
    if (e->created > UINT64_MAX - e->lifetime)
        return 0;
    return now >= e->created + e->lifetime;
}

void tool_store_entry_wipe(struct tool_store_entry *e)
{
    if (e)
        pdm_memzero(e, sizeof *e);
}

int tool_store_entry_format(const struct tool_store_entry *e, char *out, size_t cap)
{
    char line[PDM_KEYLOG_LINE_MAX];
    int n = pdm_keylog_format_line(&e->k, line, sizeof line), m;

    if (n < 0)
        return -1;
    m = snprintf(out, cap, "# pdm secret record\n%s\ncreated %" PRIu64 "\nlifetime %" PRIu64 "\n",
                 line, e->created, e->lifetime);
    pdm_memzero(line, sizeof line);
    if (m < 0 || (size_t)m >= cap) {
        pdm_memzero(out, cap);
        return -1;
    }
    return m;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int tool_store_entry_parse(const char *text, size_t len, struct tool_store_entry *e, char *why,
                           size_t whylen)
{
    const char *p = text, *end = text + len;
    unsigned lineno = 0;
    int have_key = 0;
    char kwhy[160];

    memset(e, 0, sizeof *e);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char attr[128];
        const char *q = p;

        lineno++;
        while (q < p + n && isspace((unsigned char)*q))
            q++;
        if (q == p + n || *q == '#') {
            p += n + (nl ? 1 : 0);
            continue;
        }
        if (!have_key) {
            int rv = pdm_keylog_parse_line(p, n, &e->k, kwhy, sizeof kwhy);
            if (rv != 1) {
                tool_fail(why, whylen, "line %u: %s", lineno,
                          rv == PDM_ERR_UNSUPPORTED ? "suite not supported" : kwhy);
                goto bad;
            }
            have_key = 1;
        } else {
            char key[32], val[64], extra;
            if (n >= sizeof attr) {
                tool_fail(why, whylen, "line %u: too long", lineno);
                goto bad;
            }
            memcpy(attr, p, n);
            attr[n] = 0;
            if (sscanf(attr, " %31s %63s %c", key, val, &extra) != 2) {
                tool_fail(why, whylen, "line %u: want 'NAME VALUE'", lineno);
                goto bad;
            }
            if (!strcmp(key, "created")) {
                if (parse_u64(val, &e->created) != 0) {
                    tool_fail(why, whylen, "line %u: created: not a number", lineno);
                    goto bad;
                }
            } else if (!strcmp(key, "lifetime")) {
                if (parse_u64(val, &e->lifetime) != 0) {
                    tool_fail(why, whylen, "line %u: lifetime: not a number", lineno);
                    goto bad;
                }
            } else {
                tool_fail(why, whylen, "line %u: unknown attribute '%s'", lineno, key);
                goto bad;
            }
        }
        p += n + (nl ? 1 : 0);
    }
    if (!have_key) {
        tool_fail(why, whylen, "no PDMV2_SECRET or PDMV2_PRIMARY line");
        goto bad;
    }
    return 0;
bad:
    tool_store_entry_wipe(e);
    return -1;
}

/* ---- files ---------------------------------------------------------------- */

/* The file name of an entry: kind and addresses, so that a newer record of
 * the same pair replaces the older. */
static void entry_filename(const struct pdm_keylog_entry *k, char out[96])
{
    char c[33], s[33];
    /* Addresses, not secrets, but the one codec all the same. */
    (void)pdm_hex_encode(c, sizeof c, k->client, 16);
    (void)pdm_hex_encode(s, sizeof s, k->server, 16);
    if (k->kind == PDM_KEYLOG_PRIMARY)
        snprintf(out, 96, "primary-%s-%u-%s-%u", c, k->client_plen, s, k->server_plen);
    else
        snprintf(out, 96, "secret-%s-%s", c, s);
}

static int is_record_name(const char *name)
{
    return (!strncmp(name, "secret-", 7) || !strncmp(name, "primary-", 8)) && !strstr(name, ".tmp");
}

static int check_dir(const char *dir, int create, char *err, size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT || !create)
            return tool_fail(err, errlen, "%s: %s", dir, strerror(errno));
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return tool_fail(err, errlen, "%s: %s", dir, strerror(errno));
        if (stat(dir, &st) != 0)
            return tool_fail(err, errlen, "%s: %s", dir, strerror(errno));
    }
    return tool_keyfile_check_private_stat(&st, dir, 1, err, errlen);
}

static int push(struct tool_store_entry **v, size_t *n, size_t *cap,
                const struct tool_store_entry *e)
{
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 32;
        struct tool_store_entry *nv = calloc(nc, sizeof *nv);
        if (!nv)
            return -1;
        if (*n)
            memcpy(nv, *v, *n * sizeof *nv);
        if (*v) {
            pdm_memzero(*v, *cap * sizeof **v);
            free(*v);
        }
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = *e;
    return 0;
}

/* The slot of a record (what its file name says): kind, then the prefix
 * lengths and addresses. 0 when a and b are the same slot. */
static int slot_cmp(const struct pdm_keylog_entry *a, const struct pdm_keylog_entry *b)
{
    int d;

    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    if (a->client_plen != b->client_plen)
        return a->client_plen < b->client_plen ? -1 : 1;
    if (a->server_plen != b->server_plen)
        return a->server_plen < b->server_plen ? -1 : 1;
    if ((d = memcmp(a->client, b->client, 16)) != 0)
        return d;
    return memcmp(a->server, b->server, 16);
}

/*
 * The order records are kept in: oldest first (by created), the order
 * pdm_keylog_lookup()'s tie-break reads as "newest wins"; records created
 * in the same second by slot, so every process that loads the directory
 * sees one order whatever readdir(3) gives. (Two records can only tie in
 * the lookup when they are of one slot: prefixes of one length that
 * differ are disjoint.)
 */
static int record_cmp(const struct tool_store_entry *a, const struct tool_store_entry *b)
{
    if (a->created != b->created)
        return a->created < b->created ? -1 : 1;
    return slot_cmp(&a->k, &b->k);
}

static void swap_records(struct tool_store_entry *a, struct tool_store_entry *b,
                         struct tool_store_entry *tmp)
{
    *tmp = *a;
    *a = *b;
    *b = *tmp;
}

static void sift_down(struct tool_store_entry *v, size_t root, size_t n,
                      struct tool_store_entry *tmp)
{
    for (size_t child; (child = 2 * root + 1) < n; root = child) {
        if (child + 1 < n && record_cmp(&v[child], &v[child + 1]) < 0)
            child++;
        if (record_cmp(&v[root], &v[child]) >= 0)
            return;
        swap_records(&v[root], &v[child], tmp);
    }
}

/* Heapsort in place, in record_cmp's order: O(n log n) for a directory of
 * thousands of records, no allocation, and the one temporary that holds a
 * secret is wiped (qsort(3) may copy entries into a buffer it frees as
 * is). */
static void sort_records(struct tool_store_entry *v, size_t n)
{
    struct tool_store_entry tmp;

    if (n < 2)
        return;
    for (size_t i = n / 2; i-- > 0;)
        sift_down(v, i, n, &tmp);
    for (size_t end = n - 1; end > 0; end--) {
        swap_records(&v[0], &v[end], &tmp);
        sift_down(v, 0, end, &tmp);
    }
    pdm_memzero(&tmp, sizeof tmp);
}

static void free_entries(struct tool_store_entry *v, size_t cap)
{
    if (v) {
        pdm_memzero(v, cap * sizeof *v);
        free(v);
    }
}

static int load_dir(const char *dir, struct tool_store_entry **out, size_t *n_out, size_t *cap_out,
                    char *err, size_t errlen)
{
    struct tool_store_entry *v = NULL, e;
    size_t n = 0, cap = 0;
    struct dirent *de;
    DIR *d = opendir(dir);
    char text[2048], why[200], path[4096];

    if (!d)
        return tool_fail(err, errlen, "%s: %s", dir, strerror(errno));
    while ((de = readdir(d))) {
        long len;
        if (!is_record_name(de->d_name))
            continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= sizeof path)
            continue;
        len = tool_keyfile_read_text(path, 1, text, sizeof text, why, sizeof why);
        if (len < 0) {
            fprintf(stderr, "pdm: store: skipping %s\n", why);
            continue;
        }
        if (tool_store_entry_parse(text, (size_t)len, &e, why, sizeof why) != 0) {
            fprintf(stderr, "pdm: store: skipping %s: %s\n", path, why);
            pdm_memzero(text, sizeof text);
            continue;
        }
        pdm_memzero(text, sizeof text);
        if (push(&v, &n, &cap, &e) != 0) {
            tool_store_entry_wipe(&e);
            closedir(d);
            free_entries(v, cap);
            return tool_fail(err, errlen, "%s: out of memory", dir);
        }
        tool_store_entry_wipe(&e);
    }
    closedir(d);
    sort_records(v, n);
    *out = v;
    *n_out = n;
    *cap_out = cap;
    return 0;
}

int tool_store_open(struct tool_store **out, const char *dir, int create, char *err, size_t errlen)
{
    struct tool_store *st;

    *out = NULL;
    if (check_dir(dir, create, err, errlen) != 0)
        return -1;
    if (!(st = calloc(1, sizeof *st)) || !(st->dir = strdup(dir))) {
        free(st);
        return tool_fail(err, errlen, "out of memory");
    }
    if (load_dir(dir, &st->v, &st->n, &st->cap, err, errlen) != 0) {
        free(st->dir);
        free(st);
        return -1;
    }
    *out = st;
    return 0;
}

int tool_store_reload(struct tool_store *st, char *err, size_t errlen)
{
    struct tool_store_entry *v;
    size_t n, cap;

    if (check_dir(st->dir, 0, err, errlen) != 0 ||
        load_dir(st->dir, &v, &n, &cap, err, errlen) != 0)
        return -1;
    free_entries(st->v, st->cap);
    st->v = v;
    st->n = n;
    st->cap = cap;
    return 0;
}

void tool_store_close(struct tool_store *st)
{
    if (!st)
        return;
    free_entries(st->v, st->cap);
    free(st->dir);
    free(st);
}

const char *tool_store_dir(const struct tool_store *st)
{
    return st->dir;
}

void tool_store_set_sync(struct tool_store *st, int sync)
{
    st->nosync = !sync;
}

int tool_store_add(struct tool_store *st, const struct tool_store_entry *e, char *err,
                   size_t errlen)
{
    char text[TOOL_STORE_RECORD_MAX], name[96], path[4096];
    int rv;

    if (tool_store_entry_format(e, text, sizeof text) < 0)
        return tool_fail(err, errlen, "cannot format the secret record (bad suite or secret size)");
    entry_filename(&e->k, name);
    if ((size_t)snprintf(path, sizeof path, "%s/%s", st->dir, name) >= sizeof path) {
        pdm_memzero(text, sizeof text);
        return tool_fail(err, errlen, "%s: path too long", st->dir);
    }
    rv = tool_keyfile_write_private(
        path, text, TOOL_KEYFILE_REPLACE | (st->nosync ? TOOL_KEYFILE_NOSYNC : 0), err, errlen);
    pdm_memzero(text, sizeof text);
    if (rv != 0)
        return -1;
    for (size_t i = 0; i < st->n; i++) {
        if (slot_cmp(&st->v[i].k, &e->k) == 0) {
            st->v[i] = *e;
            sort_records(st->v, st->n);
            return 0;
        }
    }
    if (push(&st->v, &st->n, &st->cap, e) != 0)
        return tool_fail(err, errlen, "out of memory");
    sort_records(st->v, st->n);
    return 0;
}

struct lookup_ctx {
    const struct tool_store *st;
    uint64_t now;
};

static const struct pdm_keylog_entry *lookup_at(void *arg, size_t i)
{
    const struct lookup_ctx *c = arg;
    return tool_store_entry_expired(&c->st->v[i], c->now) ? NULL : &c->st->v[i].k;
}

int tool_store_lookup(const struct tool_store *st, const uint8_t client[16],
                      const uint8_t server[16], uint64_t now, struct tool_store_entry *out)
{
    struct lookup_ctx c = {st, now};
    size_t i = 0;
    int rv;

    /* The records are kept oldest first (record_cmp), so the lookup's
     * tie-break (the higher index) picks the newest. */
    memset(out, 0, sizeof *out);
    rv = pdm_keylog_lookup(lookup_at, &c, st->n, client, server, 0, &out->k, &i);
    if (rv <= 0)
        return rv < 0 ? -1 : 0;
    out->created = st->v[i].created;
    out->lifetime = st->v[i].lifetime;
    return st->v[i].k.kind == PDM_KEYLOG_PRIMARY ? 2 : 1;
}

size_t tool_store_count(const struct tool_store *st)
{
    return st->n;
}

const struct tool_store_entry *tool_store_at(const struct tool_store *st, size_t i)
{
    return i < st->n ? &st->v[i] : NULL;
}

int tool_store_expire(struct tool_store *st, uint64_t now, char *err, size_t errlen)
{
    size_t keep = 0;
    int removed = 0;
    char name[96], path[4096];

    for (size_t i = 0; i < st->n; i++) {
        if (!tool_store_entry_expired(&st->v[i], now)) {
            if (keep != i)
                st->v[keep] = st->v[i];
            keep++;
            continue;
        }
        entry_filename(&st->v[i].k, name);
        snprintf(path, sizeof path, "%s/%s", st->dir, name);
        if (unlink(path) != 0 && errno != ENOENT) {
            tool_fail(err, errlen, "%s: %s", path, strerror(errno));
            /* Keep what could not be removed, and the rest. */
            for (; i < st->n; i++)
                st->v[keep++] = st->v[i];
            st->n = keep;
            return -1;
        }
        removed++;
    }
    for (size_t i = keep; i < st->n; i++)
        tool_store_entry_wipe(&st->v[i]);
    st->n = keep;
    return removed;
}

/* ---- known servers (trust on first use) ----------------------------------- */

int tool_store_known_get(const struct tool_store *st, const char *host, unsigned port, char *out,
                         size_t cap, char *err, size_t errlen)
{
    char path[4096], line[1024];
    FILE *f;
    int found = 0;

    snprintf(path, sizeof path, "%s/known_servers", st->dir);
    if (!(f = fopen(path, "re"))) {
        if (errno == ENOENT)
            return 0;
        return tool_fail(err, errlen, "%s: %s", path, strerror(errno));
    }
    while (fgets(line, sizeof line, f)) {
        char h[300], key[TOOL_KEYFILE_LINE_MAX];
        unsigned p;
        if (line[0] == '#')
            continue;
        if (sscanf(line, "%299s %u %319s", h, &p, key) != 3)
            continue;
        if (!strcmp(h, host) && p == port) {
            snprintf(out, cap, "%s", key); /* the last one recorded wins */
            found = 1;
        }
    }
    fclose(f);
    return found;
}

int tool_store_known_put(struct tool_store *st, const char *host, unsigned port,
                         const char *key_line, char *err, size_t errlen)
{
    char path[4096], line[1024];
    snprintf(path, sizeof path, "%s/known_servers", st->dir);
    snprintf(line, sizeof line, "%s %u %s", host, port, key_line);
    return tool_keyfile_append_line(path, line, err, errlen);
}
