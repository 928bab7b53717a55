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
 * {"time_ns":N,"direction":"tx","src":"..","dst":"..","sport":N,"dport":N,
 *  "protocol":N,"format":"v2","psntp":N,"psnlr":N,"scale_dtlr":N,
 *  "delta_tlr":N,"scale_dtls":N,"delta_tls":N,"delta_tlr_ns":N,
 *  "delta_tls_ns":N,"global_pointer":N|null,"kri":N|null,"auth":"ok"|"failed"|null}
 * Fields that a failed authentication leaves unknown are null.
 */
int agent_record_json(const struct agent_record *r, char *buf, size_t cap)
{
    char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], gp[16], kri[8], num[8][24];
    const struct pdm_fields *f = &r->f;
    int known = r->auth != 0, n;

    inet_ntop(AF_INET6, r->tup.src, src, sizeof src);
    inet_ntop(AF_INET6, r->tup.dst, dst, sizeof dst);
    if (known && r->format != PDM_FORMAT_RFC8250)
        snprintf(gp, sizeof gp, "%" PRIu32, f->global_pointer);
    else
        strcpy(gp, "null");
    if (r->format == PDM_FORMAT_V2_ENCRYPTED)
        snprintf(kri, sizeof kri, "%u", (unsigned)r->kri);
    else
        strcpy(kri, "null");
    if (known) {
        snprintf(num[0], sizeof num[0], "%u", (unsigned)f->psntp);
        snprintf(num[1], sizeof num[1], "%u", (unsigned)f->psnlr);
        if (r->format == PDM_FORMAT_V2_14) { /* 32-bit PSNs */
            snprintf(num[0], sizeof num[0], "%" PRIu32, r->psntp32);
            snprintf(num[1], sizeof num[1], "%" PRIu32, r->psnlr32);
        }
        snprintf(num[2], sizeof num[2], "%u", (unsigned)f->scale_dtlr);
        snprintf(num[3], sizeof num[3], "%u", (unsigned)f->delta_tlr);
        snprintf(num[4], sizeof num[4], "%u", (unsigned)f->scale_dtls);
        snprintf(num[5], sizeof num[5], "%u", (unsigned)f->delta_tls);
        snprintf(num[6], sizeof num[6], "%" PRIu64, r->delta_tlr_ns);
        snprintf(num[7], sizeof num[7], "%" PRIu64, r->delta_tls_ns);
    } else {
        for (size_t i = 0; i < 8; i++)
            strcpy(num[i], "null");
    }
    n = snprintf(buf, cap,
                 "{\"time_ns\":%" PRIu64 ",\"direction\":\"%s\",\"src\":\"%s\",\"dst\":\"%s\","
                 "\"sport\":%u,\"dport\":%u,\"protocol\":%u,\"format\":\"%s\",\"psntp\":%s,"
                 "\"psnlr\":%s,\"scale_dtlr\":%s,\"delta_tlr\":%s,\"scale_dtls\":%s,"
                 "\"delta_tls\":%s,\"delta_tlr_ns\":%s,\"delta_tls_ns\":%s,"
                 "\"global_pointer\":%s,\"kri\":%s,\"auth\":%s}\n",
                 r->time_ns, r->rx ? "rx" : "tx", src, dst, (unsigned)r->tup.sport,
                 (unsigned)r->tup.dport, (unsigned)r->tup.proto, pdm_format_name(r->format), num[0],
                 num[1], num[2], num[3], num[4], num[5], num[6], num[7], gp, kri,
                 r->auth < 0 ? "null"
                 : r->auth   ? "\"ok\""
                             : "\"failed\"");
    if (n < 0 || (size_t)n >= cap)
        return -1;
    return n;
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
