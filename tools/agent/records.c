/*
 * The agent's records (docs/agent.md §5): one JSON line per PDM packet of
 * an enabled flow, sent or received, appended to --records.
 *
 * Double-buffered, so that a slow file never holds up a packet: queue
 * threads only copy their line into rt->rec_buf[rt->rec_cur] under
 * rt->rec_lock (a memcpy, never file I/O; a full buffer drops the record,
 * counted); the main thread swaps the buffers every 50 ms and writes the
 * full one to the file outside the lock (agent_records_flush()).
 */
#include "agent.h"

#include "common/tools.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- one record --------------------------------------------------------- */

/*
 * A record line is written piece by piece, not by snprintf(): under a flood
 * the fast path hands user space several hundred thousand records a second
 * and the main thread formats them all (tools/agent/ebpf.c on_event()); a
 * dozen snprintf() and two inet_ntop() calls a record made the formatting
 * the rate limit of --records. The line is the one documented above
 * agent_record_json(), byte for byte (tests/test_agent.c compares it with
 * a snprintf() reference on random records).
 */
#define RECORD_MAX 640 /* longer than any record line (< 600 bytes) */

static char *put_mem(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}
#define PUT(p, lit) put_mem((p), (lit), sizeof(lit) - 1)

static char *put_u64(char *p, uint64_t v)
{
    char t[20];
    size_t n = 0;

    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0)
        *p++ = t[--n];
    return p;
}

/* The text of the last addresses formatted on this thread: a flow's records
 * repeat its two addresses, and glibc's inet_ntop() prints each group with
 * sprintf(). Per thread: NFQUEUE's queue threads format their own records. */
struct addr_text {
    uint8_t addr[16];
    char text[INET6_ADDRSTRLEN];
    size_t len;
    int used;
};
static __thread struct addr_text addr_memo[2];
static __thread unsigned addr_next;

static char *put_addr(char *p, const uint8_t addr[16])
{
    struct addr_text *m = NULL;

    for (int i = 0; i < 2; i++)
        if (addr_memo[i].used && memcmp(addr_memo[i].addr, addr, 16) == 0)
            m = &addr_memo[i];
    if (m == NULL) {
        m = &addr_memo[addr_next];
        addr_next ^= 1u;
        if (inet_ntop(AF_INET6, addr, m->text, sizeof m->text) == NULL)
            strcpy(m->text, "::"); /* never: the buffer is INET6_ADDRSTRLEN */
        memcpy(m->addr, addr, 16);
        m->len = strlen(m->text);
        m->used = 1;
    }
    return put_mem(p, m->text, m->len);
}

/* ,"key":N, or ,"key":null when the value is not known. */
static char *put_field(char *p, const char *key, size_t klen, int known, uint64_t v)
{
    p = put_mem(p, key, klen);
    return known ? put_u64(p, v) : PUT(p, "null");
}
#define FIELD(p, key, known, v) put_field((p), (key), sizeof(key) - 1, (known), (v))

/*
 * {"time_ns":N,"direction":"tx","src":"..","dst":"..","sport":N,"dport":N,
 *  "protocol":N,"format":"v2","psntp":N,"psnlr":N,"scale_dtlr":N,
 *  "delta_tlr":N,"scale_dtls":N,"delta_tls":N,"delta_tlr_ns":N,
 *  "delta_tls_ns":N,"global_pointer":N|null,"kri":N|null,"auth":"ok"|"failed"|null}
 * Fields that a failed authentication leaves unknown are null.
 */
int agent_record_json(const struct agent_record *r, char *buf, size_t cap)
{
    const struct pdm_fields *f = &r->f;
    int known = r->auth != 0, v214 = r->format == PDM_FORMAT_V2_14;
    const char *fmt = pdm_format_name(r->format);
    char line[RECORD_MAX], *p = line;
    size_t n;

    p = PUT(p, "{\"time_ns\":");
    p = put_u64(p, r->time_ns);
    p = r->rx ? PUT(p, ",\"direction\":\"rx\",\"src\":\"")
              : PUT(p, ",\"direction\":\"tx\",\"src\":\"");
    p = put_addr(p, r->tup.src);
    p = PUT(p, "\",\"dst\":\"");
    p = put_addr(p, r->tup.dst);
    p = PUT(p, "\"");
    p = FIELD(p, ",\"sport\":", 1, r->tup.sport);
    p = FIELD(p, ",\"dport\":", 1, r->tup.dport);
    p = FIELD(p, ",\"protocol\":", 1, r->tup.proto);
    p = PUT(p, ",\"format\":\"");
    n = strlen(fmt);
    if (n > 32)
        return -1; /* never: the format names are short */
    p = put_mem(p, fmt, n);
    p = PUT(p, "\"");
    p = FIELD(p, ",\"psntp\":", known, v214 ? r->psntp32 : f->psntp);
    p = FIELD(p, ",\"psnlr\":", known, v214 ? r->psnlr32 : f->psnlr);
    p = FIELD(p, ",\"scale_dtlr\":", known, f->scale_dtlr);
    p = FIELD(p, ",\"delta_tlr\":", known, f->delta_tlr);
    p = FIELD(p, ",\"scale_dtls\":", known, f->scale_dtls);
    p = FIELD(p, ",\"delta_tls\":", known, f->delta_tls);
    p = FIELD(p, ",\"delta_tlr_ns\":", known, r->delta_tlr_ns);
    p = FIELD(p, ",\"delta_tls_ns\":", known, r->delta_tls_ns);
    p = FIELD(p, ",\"global_pointer\":", known && r->format != PDM_FORMAT_RFC8250,
              f->global_pointer);
    p = FIELD(p, ",\"kri\":", r->format == PDM_FORMAT_V2_ENCRYPTED, r->kri);
    p = PUT(p, ",\"auth\":");
    p = r->auth < 0 ? PUT(p, "null") : r->auth ? PUT(p, "\"ok\"") : PUT(p, "\"failed\"");
    p = PUT(p, "}\n");
    n = (size_t)(p - line);
    if (n >= cap)
        return -1;
    memcpy(buf, line, n);
    buf[n] = '\0';
    return (int)n;
}

/* ---- the file ------------------------------------------------------------ */

/* Opens path for appending (created 0640), fully buffered. NULL with a
 * message on stderr. */
static FILE *file_open(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    FILE *f;

    if (fd < 0) {
        tool_err("agent: cannot open records file %s: %s", path, strerror(errno));
        return NULL;
    }
    if ((f = fdopen(fd, "a")) == NULL) {
        close(fd);
        return NULL;
    }
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    return f;
}

int agent_records_open(struct agent_rt *rt)
{
    if (rt->cfg->records_path == NULL)
        return 0;
    if ((rt->records = file_open(rt->cfg->records_path)) == NULL)
        return -1;
    if ((rt->rec_buf[0] = malloc(AGENT_REC_BUF)) == NULL ||
        (rt->rec_buf[1] = malloc(AGENT_REC_BUF)) == NULL) {
        tool_err("agent: out of memory for the records buffers");
        return -1;
    }
    return 0;
}

void agent_records_add(struct agent_rt *rt, const struct agent_record *rec, char *scratch,
                       size_t cap)
{
    int n;

    if (rt->cfg->records_path == NULL || rec->time_ns == 0)
        return;
    n = agent_record_json(rec, scratch, cap);
    pthread_mutex_lock(&rt->rec_lock);
    unsigned b = rt->rec_cur;
    /* No buffer or no room (the disk is that slow): a record lost, counted;
     * the packet itself is never held up. */
    if (rt->rec_buf[b] == NULL || n < 0 || rt->rec_len[b] + (size_t)n > AGENT_REC_BUF) {
        rt->records_errors++;
    } else {
        memcpy(rt->rec_buf[b] + rt->rec_len[b], scratch, (size_t)n);
        rt->rec_len[b] += (size_t)n;
        rt->rec_n[b]++;
    }
    pthread_mutex_unlock(&rt->rec_lock);
}

void agent_records_flush(struct agent_rt *rt)
{
    unsigned b;
    size_t len;
    uint64_t n;
    int ok;

    if (rt->rec_buf[0] == NULL)
        return;
    /* The other buffer is empty: this thread wrote it out last time. */
    pthread_mutex_lock(&rt->rec_lock);
    b = rt->rec_cur;
    rt->rec_cur = b ^ 1u;
    len = rt->rec_len[b];
    n = rt->rec_n[b];
    pthread_mutex_unlock(&rt->rec_lock);

    ok = rt->records != NULL && (len == 0 || fwrite(rt->rec_buf[b], 1, len, rt->records) == len) &&
         fflush(rt->records) == 0;
    rt->rec_len[b] = 0; /* no queue thread touches b until the next swap */
    rt->rec_n[b] = 0;

    pthread_mutex_lock(&rt->rec_lock);
    if (ok)
        rt->records_written += n;
    else
        rt->records_errors += n;
    pthread_mutex_unlock(&rt->rec_lock);
}

void agent_records_reopen(struct agent_rt *rt)
{
    if (rt->cfg->records_path == NULL)
        return;
    /* The file is the main thread's alone: what is pending goes to the old
     * file, then the new one is opened (log rotation). */
    agent_records_flush(rt);
    if (rt->records != NULL)
        fclose(rt->records);
    rt->records = file_open(rt->cfg->records_path);
}

int agent_records_close(struct agent_rt *rt)
{
    int rv = 0;

    /* The queue threads are gone: both buffers may hold records. */
    agent_records_flush(rt);
    agent_records_flush(rt);
    if (rt->records != NULL && fclose(rt->records) != 0)
        rv = -1;
    rt->records = NULL;
    free(rt->rec_buf[0]);
    free(rt->rec_buf[1]);
    rt->rec_buf[0] = rt->rec_buf[1] = NULL;
    return rv;
}
