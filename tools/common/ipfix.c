/*
 * The IPFIX exporter (export.h, docs/export.md): libfixbuf encodes, this
 * file does the socket I/O.
 *
 * libfixbuf's own network exporter writes with blocking calls (a TCP
 * collector that is down or slow would stall the caller), so it is not
 * used: libfixbuf writes the IPFIX messages into a memory stream
 * (open_memstream + fbExporterAllocFP), and each message is then sent on
 * a non-blocking socket. UDP: one datagram per message, what the socket
 * refuses is dropped. TCP: connects in the background, retried every
 * second; a bounded output buffer holds what the socket has not taken
 * yet, whole messages that do not fit are dropped. Every dropped record is
 * counted. The templates (the data template and the RFC 5610 type
 * information template) and one type record per enterprise IE go at the
 * start of every TCP connection and with every UDP flush (RFC 7011 §8.4:
 * UDP templates are re-sent periodically).
 */
#include "export.h"

#include "net.h"
#include "tools.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef PDM_HAVE_FIXBUF
#include <fixbuf/public.h>

#define TID_DATA      256
#define TID_TYPE      257
#define QUEUE_MAX     65536      /* records waiting for a flush */
#define OUT_MAX       (1u << 20) /* TCP bytes the socket has not taken */
#define MSGS_MAX      4096
#define RECS_PER_MSG  6 /* 6 x 189 bytes: a message fits a 1280-byte MTU */
#define RETRY_NS      1000000000ull
#define NTP_UNIX_DIFF 2208988800ull

/* The internal record: libfixbuf copies it field by field into the
 * external (network) template, without the padding. */
struct wire {
    uint64_t start, end, packets, lost, reordered, duplicates, auth;
    uint64_t d[EXP_KINDS][4]; /* count, sum, min, max */
    uint8_t src[16], dst[16];
    uint16_t sport, dport;
    uint8_t proto;
    uint8_t pad[3];
};
#define WIRE_EXT_LEN 189 /* sizeof (struct wire) without pad */

/* The enterprise IEs, numbers under the PEN (docs/export.md). */
struct ent_ie {
    const char *name;
    uint16_t num;
    uint32_t flags;
    const char *desc;
};
static const struct ent_ie ent_ies[] = {
    {"pdmLostPackets", 1, FB_IE_DELTACOUNTER | FB_UNITS_PACKETS, "PSNs lost, both directions"},
    {"pdmReorderedPackets", 2, FB_IE_DELTACOUNTER | FB_UNITS_PACKETS, "packets reordered"},
    {"pdmDuplicatePackets", 3, FB_IE_DELTACOUNTER | FB_UNITS_PACKETS, "duplicate packets"},
    {"pdmAuthFailures", 4, FB_IE_DELTACOUNTER | FB_UNITS_PACKETS, "encrypted options not opened"},
    {"pdmServerDelayCount", 10, FB_IE_DELTACOUNTER, "server delay samples"},
    {"pdmServerDelaySum", 11, FB_IE_DELTACOUNTER | FB_UNITS_NANOSECONDS, "sum of server delays"},
    {"pdmServerDelayMin", 12, FB_IE_QUANTITY | FB_UNITS_NANOSECONDS, "smallest server delay"},
    {"pdmServerDelayMax", 13, FB_IE_QUANTITY | FB_UNITS_NANOSECONDS, "largest server delay"},
    {"pdmClientDelayCount", 20, FB_IE_DELTACOUNTER, "client delay samples"},
    {"pdmClientDelaySum", 21, FB_IE_DELTACOUNTER | FB_UNITS_NANOSECONDS, "sum of client delays"},
    {"pdmClientDelayMin", 22, FB_IE_QUANTITY | FB_UNITS_NANOSECONDS, "smallest client delay"},
    {"pdmClientDelayMax", 23, FB_IE_QUANTITY | FB_UNITS_NANOSECONDS, "largest client delay"},
    {"pdmRoundTripDelayCount", 30, FB_IE_DELTACOUNTER, "round-trip delay samples"},
    {"pdmRoundTripDelaySum", 31, FB_IE_DELTACOUNTER | FB_UNITS_NANOSECONDS, "sum of round trips"},
    {"pdmRoundTripDelayMin", 32, FB_IE_QUANTITY | FB_UNITS_NANOSECONDS, "smallest round trip"},
    {"pdmRoundTripDelayMax", 33, FB_IE_QUANTITY | FB_UNITS_NANOSECONDS, "largest round trip"},
};
#define N_ENT (sizeof ent_ies / sizeof ent_ies[0])

/* Same order as struct wire; flags 1: internal template only. */
static fbInfoElementSpec_t spec[] = {
    {"flowStartNanoseconds", 8, 0},
    {"flowEndNanoseconds", 8, 0},
    {"packetDeltaCount", 8, 0},
    {"pdmLostPackets", 8, 0},
    {"pdmReorderedPackets", 8, 0},
    {"pdmDuplicatePackets", 8, 0},
    {"pdmAuthFailures", 8, 0},
    {"pdmServerDelayCount", 8, 0},
    {"pdmServerDelaySum", 8, 0},
    {"pdmServerDelayMin", 8, 0},
    {"pdmServerDelayMax", 8, 0},
    {"pdmClientDelayCount", 8, 0},
    {"pdmClientDelaySum", 8, 0},
    {"pdmClientDelayMin", 8, 0},
    {"pdmClientDelayMax", 8, 0},
    {"pdmRoundTripDelayCount", 8, 0},
    {"pdmRoundTripDelaySum", 8, 0},
    {"pdmRoundTripDelayMin", 8, 0},
    {"pdmRoundTripDelayMax", 8, 0},
    {"sourceIPv6Address", 16, 0},
    {"destinationIPv6Address", 16, 0},
    {"sourceTransportPort", 2, 0},
    {"destinationTransportPort", 2, 0},
    {"protocolIdentifier", 1, 0},
    {"paddingOctets", 3, 1},
    FB_IESPEC_NULL,
};

enum tcp_state { T_DOWN, T_CONNECTING, T_UP };

struct ipfix {
    struct sockaddr_storage ss;
    socklen_t sslen;
    int tcp, fd;
    enum tcp_state st;
    uint64_t next_try_ns;
    fbInfoModel_t *model;
    fBuf_t *fbuf; /* owns the session and the exporter */
    FILE *ms;     /* the memory stream libfixbuf writes to */
    char *ms_buf;
    size_t ms_len;
    struct exp_rec *q; /* records waiting for a flush */
    size_t nq;
    uint8_t *out; /* TCP: bytes not taken by the socket yet */
    size_t out_len, out_head;
    struct {
        uint32_t len, nrec;
    } msg[MSGS_MAX]; /* the messages in out, in order */
    size_t nmsg, msg_head;
    uint64_t sent, dropped;
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* dateTimeNanoseconds is NTP format (RFC 7011 §6.1.10); the fraction is
 * rounded up so that a collector that truncates gets the ns back. */
static uint64_t ntp_of_ns(uint64_t ns)
{
    uint64_t frac = ((ns % 1000000000ull << 32) + 999999999ull) / 1000000000ull;
    return (ns / 1000000000ull + NTP_UNIX_DIFF) << 32 | frac;
}

static void gerr(char *err, size_t errlen, const char *what, GError *e)
{
    snprintf(err, errlen, "%s: %s", what, e ? e->message : "failed");
    if (e)
        g_clear_error(&e);
}

static void model_add(fbInfoModel_t *model, uint32_t pen)
{
    fbInfoElement_t ie[N_ENT + 1];

    memset(ie, 0, sizeof ie);
    for (size_t i = 0; i < N_ENT; i++) {
        ie[i].ref.name = ent_ies[i].name;
        ie[i].ent = pen;
        ie[i].num = ent_ies[i].num;
        ie[i].len = 8;
        ie[i].flags = FB_IE_F_ENDIAN | ent_ies[i].flags;
        ie[i].type = FB_UINT_64;
        ie[i].description = ent_ies[i].desc;
    }
    fbInfoModelAddElementArray(model, ie);
}

/* Templates into the session; the buffer. Returns 0 or -1 with err. */
static int session_make(struct ipfix *x, uint32_t pen, uint32_t domain, char *err, size_t errlen)
{
    GError *e = NULL;
    fbSession_t *s;
    fbTemplate_t *ti, *te, *yi, *ye;
    fbExporter_t *xp;

    x->model = fbInfoModelAlloc();
    model_add(x->model, pen);
    s = fbSessionAlloc(x->model);
    ti = fbTemplateAlloc(x->model);
    te = fbTemplateAlloc(x->model);
    if (!fbTemplateAppendSpecArray(ti, spec, 1, &e) ||
        !fbTemplateAppendSpecArray(te, spec, 0, &e) ||
        !fbSessionAddTemplate(s, TRUE, TID_DATA, ti, &e) ||
        !fbSessionAddTemplate(s, FALSE, TID_DATA, te, &e)) {
        gerr(err, errlen, "the data template", e);
        return -1;
    }
    if (!(yi = fbInfoElementAllocTypeTemplate(x->model, &e)) ||
        !(ye = fbInfoElementAllocTypeTemplate(x->model, &e)) ||
        !fbSessionAddTemplate(s, TRUE, TID_TYPE, yi, &e) ||
        !fbSessionAddTemplate(s, FALSE, TID_TYPE, ye, &e)) {
        gerr(err, errlen, "the type information template", e);
        return -1;
    }
    fbSessionSetDomain(s, domain);
    if (!(x->ms = open_memstream(&x->ms_buf, &x->ms_len))) {
        snprintf(err, errlen, "memory stream: %s", strerror(errno));
        return -1;
    }
    xp = fbExporterAllocFP(x->ms);
    x->fbuf = fBufAllocForExport(s, xp);
    return 0;
}

/* Templates and the type records, as one or more messages. */
static int encode_templates(struct ipfix *x)
{
    fbSession_t *s = fBufGetSession(x->fbuf);
    GError *e = NULL;

    if (!fbSessionExportTemplates(s, &e))
        goto fail;
    for (size_t i = 0; i < N_ENT; i++) {
        const fbInfoElement_t *ie = fbInfoModelGetElementByName(x->model, ent_ies[i].name);
        if (!ie || !fbInfoElementWriteOptionsRecord(x->fbuf, ie, TID_TYPE, TID_TYPE, &e))
            goto fail;
    }
    if (!fBufEmit(x->fbuf, &e))
        goto fail;
    return 0;
fail:
    if (e)
        g_clear_error(&e);
    return -1;
}

static void wire_of(struct wire *w, const struct exp_rec *r)
{
    memset(w, 0, sizeof *w);
    w->start = ntp_of_ns(r->start_ns);
    w->end = ntp_of_ns(r->end_ns);
    w->packets = r->packets;
    w->lost = r->lost;
    w->reordered = r->reordered;
    w->duplicates = r->duplicates;
    w->auth = r->auth_failures;
    for (int k = 0; k < EXP_KINDS; k++) {
        w->d[k][0] = r->delay[k].count;
        w->d[k][1] = r->delay[k].sum;
        w->d[k][2] = r->delay[k].min;
        w->d[k][3] = r->delay[k].max;
    }
    memcpy(w->src, r->tup.src, 16);
    memcpy(w->dst, r->tup.dst, 16);
    w->sport = r->tup.sport;
    w->dport = r->tup.dport;
    w->proto = r->tup.proto;
}

/* Encodes the queue (templates first when asked) into the memory stream;
 * records libfixbuf refuses are dropped. Returns 0 or -1. */
static int encode_queue(struct ipfix *x, int templates)
{
    GError *e = NULL;
    struct wire w;

    if (fseeko(x->ms, 0, SEEK_SET) != 0)
        return -1;
    if (templates && encode_templates(x) != 0)
        return -1;
    if (!fBufSetInternalTemplate(x->fbuf, TID_DATA, &e) ||
        !fBufSetExportTemplate(x->fbuf, TID_DATA, &e)) {
        g_clear_error(&e);
        return -1;
    }
    for (size_t i = 0; i < x->nq; i++) {
        wire_of(&w, &x->q[i]);
        if (!fBufAppend(x->fbuf, (uint8_t *)&w, sizeof w, &e)) {
            g_clear_error(&e);
            x->dropped++;
        }
        if ((i + 1) % RECS_PER_MSG == 0 && !fBufEmit(x->fbuf, &e))
            g_clear_error(&e);
    }
    if (!fBufEmit(x->fbuf, &e))
        g_clear_error(&e);
    x->nq = 0;
    return fflush(x->ms) == 0 ? 0 : -1;
}

/* Data records in the message at m (len bytes): its sets of TID_DATA. */
static uint32_t msg_records(const uint8_t *m, size_t len)
{
    uint32_t n = 0;
    for (size_t off = 16; off + 4 <= len;) {
        unsigned id = (unsigned)m[off] << 8 | m[off + 1];
        size_t sl = (size_t)m[off + 2] << 8 | m[off + 3];
        if (sl < 4 || off + sl > len)
            break;
        if (id == TID_DATA)
            n += (uint32_t)((sl - 4) / WIRE_EXT_LEN);
        off += sl;
    }
    return n;
}

static void tcp_reset(struct ipfix *x)
{
    for (size_t i = x->msg_head; i < x->nmsg; i++)
        x->dropped += x->msg[i].nrec;
    x->nmsg = x->msg_head = x->out_len = x->out_head = 0;
    if (x->fd >= 0)
        close(x->fd);
    x->fd = -1;
    x->st = T_DOWN;
    x->next_try_ns = mono_ns() + RETRY_NS;
}

/* Moves the TCP connection on without waiting. */
static void tcp_progress(struct ipfix *x)
{
    if (x->st == T_DOWN && mono_ns() >= x->next_try_ns) {
        x->fd = socket(x->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (x->fd < 0) {
            x->next_try_ns = mono_ns() + RETRY_NS;
            return;
        }
        if (connect(x->fd, (struct sockaddr *)&x->ss, x->sslen) == 0)
            x->st = T_UP;
        else if (errno == EINPROGRESS)
            x->st = T_CONNECTING;
        else
            tcp_reset(x);
        if (x->st == T_UP)
            x->nmsg = x->msg_head = 0;
        return;
    }
    if (x->st == T_CONNECTING) {
        struct pollfd p = {x->fd, POLLOUT, 0};
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (poll(&p, 1, 0) <= 0)
            return;
        if (getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
            tcp_reset(x);
            return;
        }
        x->st = T_UP;
    }
}

/* TCP: sends from out as far as the socket takes it. */
static void tcp_drain(struct ipfix *x)
{
    while (x->st == T_UP && x->out_head < x->out_len) {
        ssize_t n = send(x->fd, x->out + x->out_head, x->out_len - x->out_head,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                tcp_reset(x);
            break;
        }
        x->out_head += (size_t)n;
    }
    /* Messages wholly taken are sent. */
    size_t done = 0;
    for (size_t i = 0; i < x->msg_head; i++)
        done += x->msg[i].len;
    while (x->msg_head < x->nmsg && done + x->msg[x->msg_head].len <= x->out_head) {
        done += x->msg[x->msg_head].len;
        x->sent += x->msg[x->msg_head++].nrec;
    }
    if (x->out_head == x->out_len) {
        x->out_head = x->out_len = 0;
        x->nmsg = x->msg_head = 0;
    }
}

/* One encoded message: sent (UDP) or put in out (TCP), else dropped. */
static void msg_out(struct ipfix *x, const uint8_t *m, size_t len)
{
    uint32_t nrec = msg_records(m, len);

    if (!x->tcp) {
        if (send(x->fd, m, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len)
            x->sent += nrec;
        else
            x->dropped += nrec;
        return;
    }
    if (x->st != T_UP || x->out_len + len > OUT_MAX || x->nmsg == MSGS_MAX) {
        x->dropped += nrec;
        return;
    }
    memcpy(x->out + x->out_len, m, len);
    x->out_len += len;
    x->msg[x->nmsg].len = (uint32_t)len;
    x->msg[x->nmsg++].nrec = nrec;
}

/* keep: a TCP connection under way keeps the queue (ipfix_close waits). */
static void flush(struct ipfix *x, int keep)
{
    int fresh = 0;

    if (x->tcp) {
        enum tcp_state before = x->st;
        tcp_progress(x);
        fresh = x->st == T_UP && before != T_UP;
        if (x->st != T_UP) {
            if (!keep || x->st == T_DOWN) {
                x->dropped += x->nq;
                x->nq = 0;
            }
            return;
        }
        tcp_drain(x);
    }
    if (x->nq == 0 && !fresh)
        return;
    if (encode_queue(x, fresh || !x->tcp) != 0) {
        x->dropped += x->nq;
        x->nq = 0;
        return;
    }
    for (size_t off = 0; off + 16 <= x->ms_len;) {
        const uint8_t *m = (const uint8_t *)x->ms_buf + off;
        size_t len = (size_t)m[2] << 8 | m[3];
        if (len < 16 || off + len > x->ms_len)
            break;
        msg_out(x, m, len);
        off += len;
    }
    if (x->tcp)
        tcp_drain(x);
}

int ipfix_open(struct ipfix **out, const struct ipfix_opts *o, char *err, size_t errlen)
{
    struct ipfix *x;

    *out = NULL;
    if (!(x = calloc(1, sizeof *x)))
        return PDM_ERR_NOMEM;
    x->fd = -1;
    x->tcp = o->tcp;
    if (tool_parse_hostport(o->dest, 4739, 0, &x->ss, &x->sslen, NULL, 0, err, errlen) != 0) {
        free(x);
        return PDM_ERR_INVAL;
    }
    if (!(x->q = malloc(QUEUE_MAX * sizeof *x->q)) || (x->tcp && !(x->out = malloc(OUT_MAX)))) {
        ipfix_close(x);
        return PDM_ERR_NOMEM;
    }
    if (session_make(x, o->pen ? o->pen : IPFIX_DEFAULT_PEN, o->domain, err, errlen) != 0) {
        ipfix_close(x);
        return PDM_ERR_SYSTEM;
    }
    if (!x->tcp) {
        x->fd = socket(x->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (x->fd < 0 || connect(x->fd, (struct sockaddr *)&x->ss, x->sslen) != 0) {
            snprintf(err, errlen, "%s: %s", o->dest, strerror(errno));
            ipfix_close(x);
            return PDM_ERR_SYSTEM;
        }
    } else {
        tcp_progress(x);
    }
    *out = x;
    return 0;
}

int ipfix_add(struct ipfix *x, const struct exp_rec *r)
{
    if (x->nq == QUEUE_MAX) {
        x->dropped++;
        return PDM_ERR_FULL;
    }
    x->q[x->nq++] = *r;
    return 0;
}

void ipfix_flush(struct ipfix *x)
{
    flush(x, 0);
}

void ipfix_counters(const struct ipfix *x, uint64_t *sent, uint64_t *dropped)
{
    *sent = x->sent;
    *dropped = x->dropped;
}

void ipfix_drain(struct ipfix *x, int wait_ms)
{
    uint64_t end = mono_ns() + (uint64_t)(wait_ms > 0 ? wait_ms : 0) * 1000000u;

    for (;;) {
        flush(x, 1);
        if (!x->tcp || x->st == T_DOWN || (x->nq == 0 && x->out_len == 0) || mono_ns() >= end)
            break;
        struct pollfd p = {x->fd, POLLOUT, 0};
        poll(&p, 1, 20);
    }
    flush(x, 0);
    if (x->tcp && x->out_len)
        tcp_reset(x); /* what never went counts as dropped */
}

void ipfix_close(struct ipfix *x)
{
    if (!x)
        return;
    if (x->fbuf)
        fBufFree(x->fbuf);
    if (x->model)
        fbInfoModelFree(x->model);
    if (x->ms)
        fclose(x->ms);
    free(x->ms_buf);
    if (x->fd >= 0)
        close(x->fd);
    free(x->q);
    free(x->out);
    free(x);
}

#else /* no libfixbuf */

struct ipfix {
    int unused;
};

int ipfix_open(struct ipfix **out, const struct ipfix_opts *o, char *err, size_t errlen)
{
    (void)o;
    *out = NULL;
    snprintf(err, errlen, "this build has no IPFIX export (libfixbuf-dev was missing)");
    return PDM_ERR_UNSUPPORTED;
}

int ipfix_add(struct ipfix *x, const struct exp_rec *r)
{
    (void)x;
    (void)r;
    return PDM_ERR_UNSUPPORTED;
}

void ipfix_flush(struct ipfix *x)
{
    (void)x;
}

void ipfix_counters(const struct ipfix *x, uint64_t *sent, uint64_t *dropped)
{
    (void)x;
    *sent = *dropped = 0;
}

void ipfix_drain(struct ipfix *x, int wait_ms)
{
    (void)x;
    (void)wait_ms;
}

void ipfix_close(struct ipfix *x)
{
    (void)x;
}

#endif

int ipfix_parse_option(struct ipfix_opts *o, const char *name, const char *val, const char *who)
{
    uint64_t v;

    if (!strcmp(name, "transport")) {
        if (strcmp(val, "udp") && strcmp(val, "tcp")) {
            tool_err("%s: --ipfix-transport '%s' is not udp or tcp", who, val);
            return -1;
        }
        o->tcp = !strcmp(val, "tcp");
        return 0;
    }
    if (tool_parse_uint(val, 1, UINT32_MAX, &v) != 0) {
        tool_err("%s: --ipfix-pen '%s' is not a number in 1..4294967295", who, val);
        return -1;
    }
    o->pen = (uint32_t)v;
    return 0;
}

void ipfix_emit(void *arg, const struct exp_rec *r)
{
    ipfix_add(arg, r);
}
