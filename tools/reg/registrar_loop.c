/*
 * pdm registrar: the epoll loop (reg/reg.h; setup is cmd_registrar.c).
 *
 * One thread, one epoll loop, non-blocking sockets: every connection is a
 * struct rg_conn holding a sans-IO server (lib/reg_server.c) and its
 * buffers. What the loop adds around the state machine:
 *   - limits: --max-conns handshakes at once (beyond it a client gets
 *     Status(BUSY)), --rate new handshakes per second per source address
 *     (a token bucket per address, BUSY beyond it), --timeout per message
 *     (the state machine's deadline: a client that sends one byte a second
 *     is closed when its message is not whole in time);
 *   - the rule that the server keeps nothing before Status(OK) is sent:
 *     the secret is stored once the Status has been written to the socket;
 *   - after the last Status the write side is shut and the rest of the
 *     client's bytes drained (a short linger) so that the Status is not
 *     lost to a reset;
 *   - signals through the signalfd: SIGTERM/SIGINT stop cleanly (every
 *     connection closed, every secret wiped), SIGHUP reloads the PSK files
 *     and the authorized-keys file (the old set stays on error);
 *   - one log line per event on stderr (journald adds the time).
 *
 * epoll tags: 0 the listening socket, 1 the signalfd, 2 + i connection i.
 */
#include "reg/reg.h"

#include "common/net.h"
#include "common/sys.h"
#include "common/store.h"
#include "common/tools.h"

#include <pdm/keylog.h>
#include <pdm/profile.h>

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUSY_SLOTS      64            /* extra slots to send BUSY politely */
#define LINGER_NS       1000000000ull /* after the last Status, drain for 1 s */
#define RATE_SLOTS      4096
#define RATE_PROBE      8
#define EXPIRE_EVERY_NS 60000000000ull /* look for expired secrets every minute */
#define TAG_LISTEN      0
#define TAG_SIGNAL      1
#define TAG_CONN0       2

enum { PH_FREE = 0, PH_HANDSHAKE, PH_LINGER };

struct rg_conn {
    int fd;
    uint8_t phase;
    uint8_t want_out; /* EPOLLOUT registered */
    uint8_t kept;     /* the secret was kept */
    uint32_t id;
    uint64_t deadline; /* linger / flush deadline; the handshake's is srv's */
    struct sockaddr_storage peer, local;
    char peer_txt[64];
    char client_name[RG_NAME_SIZE]; /* authorized-keys name of the client key */
    struct pdm_reg_server srv;
    uint8_t in[PDM_REG_WIRE_MAX];
    size_t in_len;
    uint8_t out[2 * PDM_REG_SERVER_OUT_MAX];
    size_t out_off, out_len;
};

struct rg_rate_slot {
    uint8_t addr[16];
    uint8_t used;
    double tokens;
    uint64_t last_ns;
};

void rg_log(const char *fmt, ...)
{
    char line[600];
    va_list ap;
    int n = snprintf(line, sizeof line, "pdm registrar: ");
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* nowhere else to report it */
    }
}

/* ---- rate limit: a token bucket per source address --------------------------- */

static uint32_t addr_hash(const uint8_t a[16])
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 16; i++)
        h = (h ^ a[i]) * 16777619u;
    return h;
}

/* 1 when a new handshake from addr is within the rate, else 0. */
static int rate_ok(struct rg_registrar *r, const uint8_t addr[16], uint64_t now)
{
    struct rg_rate_slot *s = NULL, *oldest = NULL;
    uint32_t h = addr_hash(addr);
    double burst = (double)r->rate;

    if (r->rate == 0)
        return 1;
    for (int i = 0; i < RATE_PROBE; i++) {
        struct rg_rate_slot *t = &r->rates[(h + (uint32_t)i) % RATE_SLOTS];
        if (t->used && !memcmp(t->addr, addr, 16)) {
            s = t;
            break;
        }
        if (!oldest || !t->used || (oldest->used && t->last_ns < oldest->last_ns))
            oldest = t;
    }
    if (!s) {
        /* A new address, or one evicted (the least recently seen goes):
         * it starts with a full bucket. */
        s = oldest;
        memcpy(s->addr, addr, 16);
        s->used = 1;
        s->tokens = burst;
        s->last_ns = now;
    }
    s->tokens += (double)(now - s->last_ns) * 1e-9 * (double)r->rate;
    if (s->tokens > burst)
        s->tokens = burst;
    s->last_ns = now;
    if (s->tokens < 1.0)
        return 0;
    s->tokens -= 1.0;
    return 1;
}

/* ---- connections -------------------------------------------------------------- */

static void note_deadline(struct rg_registrar *r, uint64_t d)
{
    if (d && (r->next_check == 0 || d < r->next_check))
        r->next_check = d;
}

static void conn_close(struct rg_registrar *r, struct rg_conn *c)
{
    if (c->phase == PH_FREE)
        return;
    epoll_ctl(r->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    if (c < r->conns + r->max_conns && r->active > 0)
        r->active--;
    pdm_reg_server_wipe(&c->srv);
    pdm_memzero(c->in, sizeof c->in);
    c->fd = -1;
    c->phase = PH_FREE;
    c->in_len = c->out_off = c->out_len = 0;
    c->want_out = 0;
}

static void set_out(struct rg_registrar *r, struct rg_conn *c, int on)
{
    struct epoll_event ev;
    if (c->want_out == on)
        return;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    ev.data.u64 = (uint64_t)(c - r->conns) + TAG_CONN0;
    epoll_ctl(r->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = (uint8_t)on;
}

/* The PSK id as logged: it comes from the client, so only printable ASCII
 * reaches the log. */
static void psk_id_text(const struct pdm_reg_result *res, char *out, size_t cap)
{
    size_t n = res->psk_id_len < cap - 1 ? res->psk_id_len : cap - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = res->psk_id[i] > 0x20 && res->psk_id[i] < 0x7F ? (char)res->psk_id[i] : '?';
    out[n] = 0;
}

/* The secret is ours to keep: Status(OK) has been handed to the socket. */
static void keep_secret(struct rg_registrar *r, struct rg_conn *c)
{
    const struct pdm_reg_result *res = &c->srv.result;
    struct tool_store_entry e;
    char err[300], suite[PDM_SUITE_TEXT_SIZE], id[PDM_REG_PSK_ID_MAX + 1], extra[360] = "";
    uint8_t client[16], server[16];
    int ok = 1;

    tool_sockaddr_addr16((const struct sockaddr *)&c->peer, client);
    if (r->have_server_addr)
        memcpy(server, r->server_addr, 16);
    else
        tool_sockaddr_addr16((const struct sockaddr *)&c->local, server);
    rg_entry_set(&e, res, client, server, 128, r->lifetime_s);
    /* Both are tried: one place that fails does not lose the other. */
    if (r->store && tool_store_add(r->store, &e, err, sizeof err) != 0) {
        rg_log("#%u %s: cannot store the secret: %s", c->id, c->peer_txt, err);
        ok = 0;
    }
    if (r->keylog && rg_keylog_append(r->keylog, &e, err, sizeof err) != 0) {
        rg_log("#%u %s: cannot write the key log: %s", c->id, c->peer_txt, err);
        ok = 0;
    }
    tool_store_entry_wipe(&e);
    pdm_suite_format(res->suite, suite);
    if (res->psk_id_len) {
        psk_id_text(res, id, sizeof id);
        snprintf(extra, sizeof extra, " psk_id=%s", id);
    }
    if (c->client_name[0])
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " client_key=%s",
                 c->client_name);
    rg_log("#%u %s: registered mode=%s suite=%s%s%s", c->id, c->peer_txt,
           pdm_reg_mode_name(res->mode), suite, extra, ok ? "" : " (NOT kept)");
    r->n_ok++;
    c->kept = 1;
    pdm_reg_server_wipe(&c->srv);
}

/*
 * After the last Status: no more writes; drain the client's bytes until it
 * closes or the linger ends, so the Status is not lost to a reset.
 *
 * After Status OK the secret is kept only now, when the client has closed
 * or reset the connection (or the linger ended with it still open): a
 * client whose Confirm check failed sends Status(UNAUTHORIZED) first, and
 * then nothing is kept. The profile's four messages give a
 * server no other way to learn that a PSK was wrong or that a client did
 * not hold its key (docs/decisions.md D14); a client that follows the
 * profile alone sends nothing more, and is kept as before.
 */
static void conn_linger(struct rg_registrar *r, struct rg_conn *c, uint64_t now)
{
    shutdown(c->fd, SHUT_WR);
    c->phase = PH_LINGER;
    c->deadline = now + LINGER_NS;
    note_deadline(r, c->deadline);
}

/* Writes what is queued. Returns 0, or -1 when the connection was closed. */
static int conn_flush(struct rg_registrar *r, struct rg_conn *c, uint64_t now)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_out(r, c, 1);
            return 0;
        }
        if (n < 0) {
            rg_log("#%u %s: send: %s", c->id, c->peer_txt, strerror(errno));
            conn_close(r, c);
            return -1;
        }
        c->out_off += (size_t)n;
    }
    c->out_off = c->out_len = 0;
    set_out(r, c, 0);
    if (c->phase != PH_HANDSHAKE)
        return 0;
    if (c->srv.state == PDM_REG_ST_DONE || c->srv.state == PDM_REG_ST_FAILED)
        conn_linger(r, c, now);
    return 0;
}

/* Runs the state machine over the bytes received. Returns -1 when the
 * connection was closed. */
static int conn_process(struct rg_registrar *r, struct rg_conn *c, uint64_t now)
{
    while (c->phase == PH_HANDSHAKE && c->in_len > 0 &&
           (c->srv.state == PDM_REG_ST_WAIT_HELLO || c->srv.state == PDM_REG_ST_WAIT_KEY)) {
        uint8_t out[PDM_REG_SERVER_OUT_MAX];
        size_t out_len = 0;
        int rv;

        r->cur_client_name = c->client_name;
        rv = pdm_reg_server_recv(&c->srv, c->in, c->in_len, now, out, sizeof out, &out_len);
        r->cur_client_name = NULL;
        if (out_len > 0 && out_len <= sizeof c->out - c->out_len) {
            memcpy(c->out + c->out_len, out, out_len);
            c->out_len += out_len;
        }
        pdm_memzero(out, sizeof out);
        if (rv < 0) {
            rg_log("#%u %s: refused: %s (%s)", c->id, c->peer_txt,
                   pdm_reg_status_name(c->srv.status), c->srv.reason ? c->srv.reason : "?");
            r->n_refused++;
            c->in_len = 0;
            break;
        }
        if (rv == 0)
            break;
        memmove(c->in, c->in + rv, c->in_len - (size_t)rv);
        c->in_len -= (size_t)rv;
        note_deadline(r, pdm_reg_server_deadline(&c->srv));
    }
    if (c->srv.state == PDM_REG_ST_DONE || c->srv.state == PDM_REG_ST_FAILED) {
        c->deadline = now + LINGER_NS; /* bounds a flush that cannot finish */
        note_deadline(r, c->deadline);
    }
    return conn_flush(r, c, now);
}

/* Ends a lingering connection: keeps a registered secret unless the
 * client refused it (refused: why, or NULL). */
static void conn_end_linger(struct rg_registrar *r, struct rg_conn *c, const char *refused)
{
    if (c->srv.state == PDM_REG_ST_DONE && !c->kept) {
        if (refused) {
            rg_log("#%u %s: the client refused the registration (%s): nothing kept", c->id,
                   c->peer_txt, refused);
            r->n_refused++;
            pdm_reg_server_wipe(&c->srv);
        } else {
            keep_secret(r, c);
        }
    }
    conn_close(r, c);
}

/* A lingering connection is readable: drain it, and end the linger on
 * EOF, a reset, or a refusal. */
static void conn_drain(struct rg_registrar *r, struct rg_conn *c)
{
    for (;;) {
        uint8_t junk[2048];
        ssize_t n = recv(c->fd, junk, sizeof junk, 0);
        if (n > 0) {
            /* Anything after Status OK is the client's refusal (its
             * Status(UNAUTHORIZED)): the profile has no further message. */
            if (c->srv.state == PDM_REG_ST_DONE && !c->kept) {
                conn_end_linger(r, c, "Confirm mismatch");
                return;
            }
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        /* EOF or reset: the client did not refuse (clients may close with
         * a reset to spare their ports TIME_WAIT): keep. */
        conn_end_linger(r, c, NULL);
        return;
    }
}

static void conn_readable(struct rg_registrar *r, struct rg_conn *c, uint64_t now)
{
    for (;;) {
        ssize_t n;
        if (c->phase == PH_LINGER) {
            /* Also after the message just handled sent the last Status. */
            conn_drain(r, c);
            return;
        }
        if (c->in_len == sizeof c->in)
            return; /* cannot happen: a full buffer holds a whole message */
        n = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            const char *what = c->srv.state == PDM_REG_ST_WAIT_KEY ? "ClientKey" : "ClientHello";
            if (n == 0)
                rg_log("#%u %s: closed by the client before its %s%s", c->id, c->peer_txt, what,
                       c->in_len ? " was whole" : "");
            else
                rg_log("#%u %s: recv: %s", c->id, c->peer_txt, strerror(errno));
            r->n_refused++;
            conn_close(r, c);
            return;
        }
        c->in_len += (size_t)n;
        if (conn_process(r, c, now) != 0)
            return;
    }
}

static void log_busy(struct rg_registrar *r, const char *peer, const char *why, uint64_t now)
{
    r->n_busy++;
    if (now - r->busy_log_ns >= 1000000000ull || r->busy_log_ns == 0) {
        if (r->busy_suppressed)
            rg_log("%s: busy (%s); %" PRIu64 " more BUSY in the last second", peer, why,
                   r->busy_suppressed);
        else
            rg_log("%s: busy (%s)", peer, why);
        r->busy_log_ns = now;
        r->busy_suppressed = 0;
    } else {
        r->busy_suppressed++;
    }
}

static struct rg_conn *free_slot(struct rg_registrar *r, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (r->conns[i].phase == PH_FREE)
            return &r->conns[i];
    return NULL;
}

/* Takes c for the accepted fd; registers it with epoll. Returns 0, or -1
 * with fd closed and c free again. */
static int conn_open(struct rg_registrar *r, struct rg_conn *c, int fd,
                     const struct sockaddr_storage *peer, const char *txt)
{
    struct epoll_event ev;
    socklen_t llen = sizeof c->local;
    int one = 1;

    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->phase = PH_HANDSHAKE;
    c->id = ++r->next_id;
    c->peer = *peer;
    if (getsockname(fd, (struct sockaddr *)&c->local, &llen) != 0)
        memset(&c->local, 0, sizeof c->local);
    snprintf(c->peer_txt, sizeof c->peer_txt, "%s", txt);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.u64 = (uint64_t)(c - r->conns) + TAG_CONN0;
    if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        rg_log("epoll_ctl: %s", strerror(errno));
        close(fd);
        c->fd = -1;
        c->phase = PH_FREE;
        return -1;
    }
    return 0;
}

/* With every handshake slot taken, closes the handshake accepted first, so
 * that slow or silent clients holding all --max-conns slots (a slowloris)
 * cannot starve a new client: each slot is held at most until
 * --max-conns newer clients arrive or --timeout passes. Only a handshake
 * waiting EVICT_IDLE_NS or more for its next message is evicted, so that
 * a burst of live clients still gets BUSY beyond --max-conns. */
#define EVICT_IDLE_NS 1000000000ull
static void evict_oldest(struct rg_registrar *r, const char *txt, uint64_t now)
{
    struct rg_conn *old = NULL;

    for (size_t i = 0; i < r->max_conns; i++) {
        struct rg_conn *c = &r->conns[i];
        uint64_t since = pdm_reg_server_deadline(&c->srv) - r->timeout_ns;
        if (c->phase == PH_HANDSHAKE && now - since >= EVICT_IDLE_NS &&
            (!old || (int32_t)(c->id - old->id) < 0))
            old = c;
    }
    if (!old)
        return;
    log_busy(r, txt, "all slots taken: evicted the oldest handshake", now);
    conn_close(r, old);
}

/* A new connection: a handshake slot, or Status(BUSY) from a spare slot
 * (beyond --max-conns or over --rate), or, with no spare slot, a close. */
static void admit(struct rg_registrar *r, int fd, const struct sockaddr_storage *peer)
{
    uint64_t now = tool_mono_ns();
    const char *why = NULL;
    struct rg_conn *c;
    uint8_t a16[16];
    char txt[64];

    tool_format_sockaddr((const struct sockaddr *)peer, txt, sizeof txt);
    tool_sockaddr_addr16((const struct sockaddr *)peer, a16);
    if (!rate_ok(r, a16, now))
        why = "rate limit";
    else if (r->active >= r->max_conns)
        evict_oldest(r, txt, now);
    if (!why && r->active >= r->max_conns)
        why = "too many connections";
    c = why ? free_slot(r, r->max_conns, r->nconns) : free_slot(r, 0, r->max_conns);
    if (!c) {
        /* Even the slots for polite refusals are taken: just close. */
        log_busy(r, txt, why ? why : "no slot", now);
        close(fd);
        return;
    }
    if (conn_open(r, c, fd, peer, txt) != 0)
        return;
    if (why) {
        /* Status(BUSY), then linger like any refusal. */
        struct pdm_reg_status_msg st = {PDM_REG_STATUS_BUSY, NULL};
        int n = pdm_reg_status_encode(&st, c->out, sizeof c->out);
        log_busy(r, txt, why, now);
        c->out_len = n > 0 ? (size_t)n : 0;
        c->phase = PH_LINGER;
        c->deadline = now + LINGER_NS;
        note_deadline(r, c->deadline);
        if (conn_flush(r, c, now) == 0)
            shutdown(fd, SHUT_WR);
        return;
    }
    r->active++;
    pdm_reg_server_init(&c->srv, &r->cfg, now);
    note_deadline(r, pdm_reg_server_deadline(&c->srv));
    if (r->verbose)
        rg_log("#%u %s: accepted", c->id, c->peer_txt);
}

static void on_accept(struct rg_registrar *r)
{
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        int fd = accept4(r->lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd >= 0) {
            admit(r, fd, &peer);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            rg_log("accept: %s", strerror(errno));
        return;
    }
}

/* Closes whatever is past its deadline; recomputes the next check. */
static void check_deadlines(struct rg_registrar *r, uint64_t now)
{
    uint64_t next = 0;
    for (size_t i = 0; i < r->nconns; i++) {
        struct rg_conn *c = &r->conns[i];
        uint64_t d;
        if (c->phase == PH_FREE)
            continue;
        if (c->phase == PH_HANDSHAKE &&
            (c->srv.state == PDM_REG_ST_WAIT_HELLO || c->srv.state == PDM_REG_ST_WAIT_KEY)) {
            const char *what = c->srv.state == PDM_REG_ST_WAIT_KEY ? "ClientKey" : "ClientHello";
            if (pdm_reg_server_expire(&c->srv, now) != 0) {
                rg_log("#%u %s: timeout waiting for its %s", c->id, c->peer_txt, what);
                r->n_timeout++;
                conn_close(r, c);
                continue;
            }
            d = pdm_reg_server_deadline(&c->srv);
        } else {
            if (now >= c->deadline) {
                if (c->phase == PH_LINGER)
                    conn_end_linger(r, c, NULL); /* still open: it did not refuse */
                else
                    conn_close(r, c);
                continue;
            }
            d = c->deadline;
        }
        if (d && (next == 0 || d < next))
            next = d;
    }
    r->next_check = next;
}

static void on_signal(struct rg_registrar *r)
{
    struct signalfd_siginfo si;
    while (read(r->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP) {
            char err[300];
            if (rg_load_creds(r, err, sizeof err) != 0)
                rg_log("reload failed, keeping the old credentials: %s", err);
            else
                rg_log("reloaded: %zu PSKs, %zu authorized keys", r->npsks, r->nauth);
        } else {
            rg_log("signal %u: stopping", si.ssi_signo);
            r->stop = 1;
        }
    }
}

/* ---- the loop -------------------------------------------------------------------- */

/* Enough descriptors for every connection slot and a few files. */
static void raise_nofile(size_t need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int watch(const struct rg_registrar *r, int fd, uint64_t tag)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    return epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int rg_loop_init(struct rg_registrar *r)
{
    r->nconns = r->max_conns + BUSY_SLOTS;
    raise_nofile(r->nconns + 32);
    if (!(r->conns = calloc(r->nconns, sizeof *r->conns)) ||
        !(r->rates = calloc(RATE_SLOTS, sizeof *r->rates))) {
        tool_err("registrar: out of memory");
        return -1;
    }
    for (size_t i = 0; i < r->nconns; i++)
        r->conns[i].fd = -1;
    if ((r->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 || watch(r, r->lfd, TAG_LISTEN) != 0 ||
        watch(r, r->sfd, TAG_SIGNAL) != 0) {
        tool_err("registrar: epoll: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* How long epoll_wait may sleep (ms; -1: until an event): until the next
 * connection deadline, and with a store until the next housekeeping. */
static int wait_ms(const struct rg_registrar *r, uint64_t now)
{
    int timeout = -1;

    if (r->next_check) {
        uint64_t wait = r->next_check > now ? r->next_check - now : 0;
        timeout = (int)((wait + 999999) / 1000000);
        if (timeout > 60000)
            timeout = 60000;
    }
    if (r->store) {
        uint64_t wait = r->next_expire > now ? r->next_expire - now : 0;
        int t = (int)((wait + 999999) / 1000000);
        if (timeout < 0 || t < timeout)
            timeout = t;
    }
    return timeout;
}

static void on_event(struct rg_registrar *r, const struct epoll_event *ev, uint64_t now)
{
    struct rg_conn *c;

    if (ev->data.u64 == TAG_LISTEN) {
        on_accept(r);
        return;
    }
    if (ev->data.u64 == TAG_SIGNAL) {
        on_signal(r);
        return;
    }
    c = &r->conns[ev->data.u64 - TAG_CONN0];
    if (c->phase == PH_FREE)
        return;
    if ((ev->events & EPOLLOUT) && conn_flush(r, c, now) != 0)
        return;
    if (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        conn_readable(r, c, now);
}

/* Expired secrets leave the store every EXPIRE_EVERY_NS. */
static void housekeeping(struct rg_registrar *r, uint64_t now)
{
    char err[300];
    int k = tool_store_expire(r->store, tool_unix_now(), err, sizeof err);

    if (k < 0)
        rg_log("store: %s", err);
    else if (k > 0)
        rg_log("store: %d expired secret%s removed", k, k == 1 ? "" : "s");
    r->next_expire = now + EXPIRE_EVERY_NS;
}

void rg_loop_run(struct rg_registrar *r)
{
    while (!r->stop) {
        struct epoll_event evs[64];
        int n = epoll_wait(r->epfd, evs, 64, wait_ms(r, tool_mono_ns()));
        uint64_t now;

        if (n < 0 && errno != EINTR) {
            rg_log("epoll_wait: %s", strerror(errno));
            break;
        }
        now = tool_mono_ns();
        for (int i = 0; i < n; i++)
            on_event(r, &evs[i], now);
        if (r->next_check && now >= r->next_check)
            check_deadlines(r, now);
        if (r->store && now >= r->next_expire)
            housekeeping(r, now);
    }
    rg_log("stopped: %" PRIu64 " registered, %" PRIu64 " refused, %" PRIu64 " timed out, %" PRIu64
           " busy",
           r->n_ok, r->n_refused, r->n_timeout, r->n_busy);
}

void rg_loop_free(struct rg_registrar *r)
{
    if (r->conns) {
        for (size_t i = 0; i < r->nconns; i++) {
            /* A client told OK that has not refused by now keeps its secret. */
            if (r->conns[i].phase == PH_LINGER)
                conn_end_linger(r, &r->conns[i], NULL);
            else
                conn_close(r, &r->conns[i]);
        }
        pdm_memzero(r->conns, r->nconns * sizeof *r->conns);
        free(r->conns);
        r->conns = NULL;
    }
    free(r->rates);
    r->rates = NULL;
    if (r->epfd >= 0)
        close(r->epfd);
    r->epfd = -1;
}
