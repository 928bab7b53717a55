/*
 * pdm registrar: the server side of PDMv2 registration (docs/profile.md §4,
 * docs/registration.md), over TCP.
 *
 * One thread, one epoll loop, non-blocking sockets: every connection is a
 * struct conn holding a sans-IO server (lib/reg.c) and its buffers. What
 * the loop adds around the state machine:
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
 *   - signals through a signalfd: SIGTERM/SIGINT stop cleanly (every
 *     connection closed, every secret wiped), SIGHUP reloads the PSK files
 *     and the authorized-keys file (the old set stays on error);
 *   - one log line per event on stderr (journald adds the time);
 *   - --user: bind first, then drop to that user before touching the store.
 */
#include "common/keyfile.h"
#include "common/net.h"
#include "common/suite.h"
#include "common/sys.h"
#include "common/store.h"
#include "common/tools.h"

#include <pdm/keylog.h>
#include <pdm/profile.h>
#include <pdm/reg.h>

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
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

static const char usage[] =
    "usage: pdm registrar --key FILE [--key FILE ...] [--listen [ADDR]:PORT]\n"
    "                     [--psk ID:FILE ...] [--authorized-keys FILE] [--modes LIST]\n"
    "                     [--suites LIST] [--store DIR] [--keylog FILE]\n"
    "                     [--lifetime DUR] [--timeout DUR] [--max-conns N] [--rate N]\n"
    "                     [--server-addr ADDR] [--user NAME] [--sync] [--verbose]\n"
    "\n"
    "Serves PDMv2 registrations (docs/profile.md §4): HPKE key agreement with\n"
    "each client, then keeps the shared secret for the PDM agent and analyser.\n"
    "\n"
    "  --listen A        address and port, [ADDR]:PORT (default [::]:8250;\n"
    "                    port 0 picks a free one, logged at start)\n"
    "  --key FILE        the server's private key KEM:HEX (pdm keygen); one per\n"
    "                    KEM; the file must not be readable by others\n"
    "  --psk ID:FILE     a PSK (hex, at least 32 bytes) and its id, for the psk\n"
    "                    and auth_psk modes; repeatable; reloaded on SIGHUP\n"
    "  --authorized-keys FILE  client public keys KEM:HEX [name], one a line,\n"
    "                    for the auth and auth_psk modes; reloaded on SIGHUP\n"
    "  --modes LIST      accepted modes: base,psk,auth,auth_psk (default: base\n"
    "                    when no PSK or authorized key is given, else the modes\n"
    "                    that those credentials allow; base is then refused)\n"
    "  --suites LIST     preference order, e.g. 0020-0001-0001,0010-0001-0001\n"
    "                    (default: every suite for which a key is given)\n"
    "  --store DIR       keep secrets in DIR (created mode 0700)\n"
    "  --sync            fsync each stored secret (slower: the loop waits on\n"
    "                    the disk); default: atomic rename, kernel writeback\n"
    "  --keylog FILE     append a PDMV2_SECRET line per registration (0600)\n"
    "  --lifetime DUR    lifetime of the secrets (default 24h; 0: none)\n"
    "  --timeout DUR     most time for each client message (default 5s)\n"
    "  --max-conns N     handshakes at once (default 256); BUSY beyond\n"
    "  --rate N          new handshakes per second per source address\n"
    "                    (default 20; 0: no limit); BUSY beyond\n"
    "  --server-addr A   the server address to record (default: the local\n"
    "                    address of each connection)\n"
    "  --user NAME       after binding, run as NAME\n"
    "  --verbose         also log each connection accepted\n"
    "\n"
    "DUR is a number with a unit ms, s, m, h or d. SIGHUP reloads PSKs and\n"
    "authorized keys; SIGTERM stops. See pdm-registrar(8).\n";

#define MAX_KEYS        4
#define MAX_PSKS        64
#define BUSY_SLOTS      64            /* extra slots to send BUSY politely */
#define LINGER_NS       1000000000ull /* after the last Status, drain for 1 s */
#define RATE_SLOTS      4096
#define RATE_PROBE      8
#define EXPIRE_EVERY_NS 60000000000ull /* look for expired secrets every minute */

enum { PH_FREE = 0, PH_HANDSHAKE, PH_LINGER };

struct conn {
    int fd;
    uint8_t phase;
    uint8_t want_out; /* EPOLLOUT registered */
    uint8_t kept;     /* the secret was kept */
    uint32_t id;
    uint64_t deadline; /* linger / flush deadline; the handshake's is srv's */
    struct sockaddr_storage peer, local;
    char peer_txt[64];
    char client_name[64]; /* authorized-keys name of the client key */
    struct pdm_reg_server srv;
    uint8_t in[PDM_REG_WIRE_MAX];
    size_t in_len;
    uint8_t out[2 * PDM_REG_SERVER_OUT_MAX];
    size_t out_off, out_len;
};

struct psk_entry {
    char id[PDM_REG_PSK_ID_MAX + 1];
    size_t id_len;
    uint8_t psk[PDM_REG_PSK_MAX];
    size_t len;
    const char *file;
};

struct rate_slot {
    uint8_t addr[16];
    uint8_t used;
    double tokens;
    uint64_t last_ns;
};

struct registrar {
    /* configuration */
    const char *listen;
    const char *key_files[MAX_KEYS];
    size_t nkey_files;
    struct psk_entry *psks;
    size_t npsks;
    const char *auth_file;
    struct tool_keyfile_pubkey *auth;
    size_t nauth;
    unsigned modes;
    struct pdm_hpke_suite suites[PDM_REG_SUITES_MAX];
    size_t nsuites;
    const char *tool_store_dir, *keylog, *user;
    uint64_t lifetime_s, timeout_ns;
    uint64_t max_conns, rate;
    uint8_t server_addr[16];
    int have_server_addr, verbose, sync;

    struct pdm_hpke_key keys[MAX_KEYS];
    size_t nkeys;
    struct pdm_reg_server_config cfg;
    struct tool_store *store;

    /* runtime */
    int epfd, lfd, sfd;
    struct conn *conns;
    size_t nconns; /* slots: max_conns + BUSY_SLOTS */
    size_t active; /* handshake slots in use */
    uint32_t next_id;
    uint64_t next_check;
    uint64_t next_expire; /* housekeeping: expired secrets leave the store */
    struct conn *cur;     /* the connection whose message is being handled */
    struct rate_slot *rates;
    int stop;
    /* BUSY log suppression: one line a second */
    uint64_t busy_log_ns, busy_suppressed;
    uint64_t n_ok, n_refused, n_timeout, n_busy;
};

/* One log line, written with one write(2). */
static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
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

/* ---- credentials ------------------------------------------------------------ */

static void psks_free(struct psk_entry *v, size_t n)
{
    if (v) {
        pdm_memzero(v, n * sizeof *v);
        free(v);
    }
}

/* (Re)reads every PSK file and the authorized keys into new sets; on
 * success replaces the old ones. */
static int load_creds(struct registrar *r, struct psk_entry *spec, size_t nspec, char *err,
                      size_t errlen)
{
    struct psk_entry *psks = NULL;
    struct tool_keyfile_pubkey *auth = NULL;
    size_t nauth = 0;

    if (nspec && !(psks = calloc(nspec, sizeof *psks))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < nspec; i++) {
        long n;
        psks[i] = spec[i];
        n = tool_keyfile_read_psk(spec[i].file, psks[i].psk, sizeof psks[i].psk, err, errlen);
        if (n < 0) {
            psks_free(psks, nspec);
            return -1;
        }
        psks[i].len = (size_t)n;
    }
    if (r->auth_file &&
        tool_keyfile_read_authorized(r->auth_file, &auth, &nauth, err, errlen) != 0) {
        psks_free(psks, nspec);
        return -1;
    }
    psks_free(r->psks, r->npsks);
    free(r->auth);
    r->psks = psks;
    r->npsks = nspec;
    r->auth = auth;
    r->nauth = nauth;
    return 0;
}

static int cb_psk(void *arg, const uint8_t *id, size_t id_len, uint8_t *psk, size_t cap)
{
    struct registrar *r = arg;
    for (size_t i = 0; i < r->npsks; i++) {
        const struct psk_entry *e = &r->psks[i];
        if (e->id_len == id_len && !memcmp(e->id, id, id_len)) {
            if (e->len > cap)
                return PDM_ERR_NOBUF;
            memcpy(psk, e->psk, e->len);
            return (int)e->len;
        }
    }
    return PDM_ERR_NOT_FOUND;
}

static int cb_client_key(void *arg, const struct pdm_hpke_key *pk)
{
    struct registrar *r = arg;
    size_t npk = tool_keyfile_npk(pk->kem_id);
    for (size_t i = 0; i < r->nauth; i++) {
        const struct tool_keyfile_pubkey *a = &r->auth[i];
        if (a->key.kem_id == pk->kem_id && npk && !memcmp(a->key.pk, pk->pk, npk)) {
            if (r->cur)
                snprintf(r->cur->client_name, sizeof r->cur->client_name, "%s",
                         a->name[0] ? a->name : "(unnamed)");
            return 0;
        }
    }
    return PDM_ERR_NOT_FOUND;
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
static int rate_ok(struct registrar *r, const uint8_t addr[16], uint64_t now)
{
    struct rate_slot *s = NULL, *oldest = NULL;
    uint32_t h = addr_hash(addr);
    double burst = (double)r->rate;

    if (r->rate == 0)
        return 1;
    for (int i = 0; i < RATE_PROBE; i++) {
        struct rate_slot *t = &r->rates[(h + (uint32_t)i) % RATE_SLOTS];
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

static void note_deadline(struct registrar *r, uint64_t d)
{
    if (d && (r->next_check == 0 || d < r->next_check))
        r->next_check = d;
}

static void conn_close(struct registrar *r, struct conn *c)
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

static void set_out(struct registrar *r, struct conn *c, int on)
{
    struct epoll_event ev;
    if (c->want_out == on)
        return;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    ev.data.u64 = (uint64_t)(c - r->conns) + 2;
    epoll_ctl(r->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = (uint8_t)on;
}

/* The secret is ours to keep: Status(OK) has been handed to the socket. */
static void keep_secret(struct registrar *r, struct conn *c)
{
    const struct pdm_reg_result *res = &c->srv.result;
    struct tool_store_entry e;
    char line[PDM_KEYLOG_LINE_MAX], err[300], suite[PDM_SUITE_TEXT_SIZE], extra[360] = "";
    int ok = 1;

    memset(&e, 0, sizeof e);
    e.k.kind = PDM_KEYLOG_SECRET;
    tool_sockaddr_addr16((const struct sockaddr *)&c->peer, e.k.client);
    e.k.client_plen = 128;
    if (r->have_server_addr)
        memcpy(e.k.server, r->server_addr, 16);
    else
        tool_sockaddr_addr16((const struct sockaddr *)&c->local, e.k.server);
    e.k.server_plen = 128;
    e.k.suite = res->suite;
    memcpy(e.k.salt, res->salt, sizeof e.k.salt);
    memcpy(e.k.secret, res->secret, res->secret_len);
    e.k.secret_len = (uint8_t)res->secret_len;
    e.created = tool_unix_now();
    e.lifetime = r->lifetime_s;

    if (r->store && tool_store_add(r->store, &e, err, sizeof err) != 0) {
        logf_("#%u %s: cannot store the secret: %s", c->id, c->peer_txt, err);
        ok = 0;
    }
    if (r->keylog) {
        if (pdm_keylog_format_line(&e.k, line, sizeof line) < 0 ||
            tool_keyfile_append_line(r->keylog, line, err, sizeof err) != 0) {
            logf_("#%u %s: cannot write the key log: %s", c->id, c->peer_txt, err);
            ok = 0;
        }
        pdm_memzero(line, sizeof line);
    }
    tool_store_entry_wipe(&e);
    pdm_suite_format(res->suite, suite);
    if (res->psk_id_len) {
        /* The id comes from the client: only printable ASCII reaches the log. */
        char id[PDM_REG_PSK_ID_MAX + 1];
        for (size_t i = 0; i < res->psk_id_len; i++)
            id[i] = res->psk_id[i] > 0x20 && res->psk_id[i] < 0x7F ? (char)res->psk_id[i] : '?';
        id[res->psk_id_len] = 0;
        snprintf(extra, sizeof extra, " psk_id=%s", id);
    }
    if (c->client_name[0])
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " client_key=%s",
                 c->client_name);
    logf_("#%u %s: registered mode=%s suite=%s%s%s", c->id, c->peer_txt,
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
static void conn_linger(struct registrar *r, struct conn *c, uint64_t now)
{
    shutdown(c->fd, SHUT_WR);
    c->phase = PH_LINGER;
    c->deadline = now + LINGER_NS;
    note_deadline(r, c->deadline);
}

/* Writes what is queued. Returns 0, or -1 when the connection was closed. */
static int conn_flush(struct registrar *r, struct conn *c, uint64_t now)
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
            logf_("#%u %s: send: %s", c->id, c->peer_txt, strerror(errno));
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
static int conn_process(struct registrar *r, struct conn *c, uint64_t now)
{
    while (c->phase == PH_HANDSHAKE && c->in_len > 0 &&
           (c->srv.state == PDM_REG_ST_WAIT_HELLO || c->srv.state == PDM_REG_ST_WAIT_KEY)) {
        uint8_t out[PDM_REG_SERVER_OUT_MAX];
        size_t out_len = 0;
        int rv;

        r->cur = c;
        rv = pdm_reg_server_recv(&c->srv, c->in, c->in_len, now, out, sizeof out, &out_len);
        r->cur = NULL;
        if (out_len > 0 && out_len <= sizeof c->out - c->out_len) {
            memcpy(c->out + c->out_len, out, out_len);
            c->out_len += out_len;
        }
        pdm_memzero(out, sizeof out);
        if (rv < 0) {
            logf_("#%u %s: refused: %s (%s)", c->id, c->peer_txt,
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
static void conn_end_linger(struct registrar *r, struct conn *c, const char *refused)
{
    if (c->srv.state == PDM_REG_ST_DONE && !c->kept) {
        if (refused) {
            logf_("#%u %s: the client refused the registration (%s): nothing kept", c->id,
                  c->peer_txt, refused);
            r->n_refused++;
            pdm_reg_server_wipe(&c->srv);
        } else {
            keep_secret(r, c);
        }
    }
    conn_close(r, c);
}

static void conn_readable(struct registrar *r, struct conn *c, uint64_t now)
{
    for (;;) {
        ssize_t n;
        if (c->phase == PH_LINGER) {
            uint8_t junk[2048];
            n = recv(c->fd, junk, sizeof junk, 0);
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
                logf_("#%u %s: closed by the client before its %s%s", c->id, c->peer_txt, what,
                      c->in_len ? " was whole" : "");
            else
                logf_("#%u %s: recv: %s", c->id, c->peer_txt, strerror(errno));
            r->n_refused++;
            conn_close(r, c);
            return;
        }
        c->in_len += (size_t)n;
        if (conn_process(r, c, now) != 0)
            return;
    }
}

static void log_busy(struct registrar *r, const char *peer, const char *why, uint64_t now)
{
    r->n_busy++;
    if (now - r->busy_log_ns >= 1000000000ull || r->busy_log_ns == 0) {
        if (r->busy_suppressed)
            logf_("%s: busy (%s); %" PRIu64 " more BUSY in the last second", peer, why,
                  r->busy_suppressed);
        else
            logf_("%s: busy (%s)", peer, why);
        r->busy_log_ns = now;
        r->busy_suppressed = 0;
    } else {
        r->busy_suppressed++;
    }
}

static struct conn *free_slot(struct registrar *r, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (r->conns[i].phase == PH_FREE)
            return &r->conns[i];
    return NULL;
}

static void on_accept(struct registrar *r)
{
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer, llen;
        struct epoll_event ev;
        struct conn *c;
        uint8_t a16[16];
        char txt[64];
        uint64_t now;
        int fd = accept4(r->lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        int one = 1, busy = 0;
        const char *why = NULL;

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                logf_("accept: %s", strerror(errno));
            return;
        }
        now = tool_mono_ns();
        tool_format_sockaddr((const struct sockaddr *)&peer, txt, sizeof txt);
        tool_sockaddr_addr16((const struct sockaddr *)&peer, a16);
        if (r->active >= r->max_conns) {
            busy = 1;
            why = "too many connections";
        } else if (!rate_ok(r, a16, now)) {
            busy = 1;
            why = "rate limit";
        }
        c = busy ? free_slot(r, r->max_conns, r->nconns) : free_slot(r, 0, r->max_conns);
        if (!c) {
            /* Even the slots for polite refusals are taken: just close. */
            log_busy(r, txt, why ? why : "no slot", now);
            close(fd);
            continue;
        }
        memset(c, 0, sizeof *c);
        c->fd = fd;
        c->phase = PH_HANDSHAKE;
        c->id = ++r->next_id;
        c->peer = peer;
        llen = sizeof c->local;
        if (getsockname(fd, (struct sockaddr *)&c->local, &llen) != 0)
            memset(&c->local, 0, sizeof c->local);
        snprintf(c->peer_txt, sizeof c->peer_txt, "%s", txt);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLIN;
        ev.data.u64 = (uint64_t)(c - r->conns) + 2;
        if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            logf_("epoll_ctl: %s", strerror(errno));
            close(fd);
            c->phase = PH_FREE;
            continue;
        }
        if (busy) {
            /* Status(BUSY), then linger like any refusal. */
            struct pdm_reg_status_msg st = {PDM_REG_STATUS_BUSY, NULL};
            int n = pdm_reg_status_encode(&st, c->out, sizeof c->out);
            log_busy(r, txt, why, now);
            c->out_len = n > 0 ? (size_t)n : 0;
            c->phase = PH_LINGER;
            c->deadline = now + LINGER_NS;
            note_deadline(r, c->deadline);
            if (conn_flush(r, c, now) == 0) {
                shutdown(fd, SHUT_WR);
            }
            continue;
        }
        r->active++;
        pdm_reg_server_init(&c->srv, &r->cfg, now);
        note_deadline(r, pdm_reg_server_deadline(&c->srv));
        if (r->verbose)
            logf_("#%u %s: accepted", c->id, c->peer_txt);
    }
}

/* Closes whatever is past its deadline; recomputes the next check. */
static void check_deadlines(struct registrar *r, uint64_t now)
{
    uint64_t next = 0;
    for (size_t i = 0; i < r->nconns; i++) {
        struct conn *c = &r->conns[i];
        uint64_t d;
        if (c->phase == PH_FREE)
            continue;
        if (c->phase == PH_HANDSHAKE &&
            (c->srv.state == PDM_REG_ST_WAIT_HELLO || c->srv.state == PDM_REG_ST_WAIT_KEY)) {
            const char *what = c->srv.state == PDM_REG_ST_WAIT_KEY ? "ClientKey" : "ClientHello";
            if (pdm_reg_server_expire(&c->srv, now) != 0) {
                logf_("#%u %s: timeout waiting for its %s", c->id, c->peer_txt, what);
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

static void on_signal(struct registrar *r, struct psk_entry *spec, size_t nspec)
{
    struct signalfd_siginfo si;
    while (read(r->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP) {
            char err[300];
            if (load_creds(r, spec, nspec, err, sizeof err) != 0)
                logf_("reload failed, keeping the old credentials: %s", err);
            else
                logf_("reloaded: %zu PSKs, %zu authorized keys", r->npsks, r->nauth);
        } else {
            logf_("signal %u: stopping", si.ssi_signo);
            r->stop = 1;
        }
    }
}

/* ---- setup ------------------------------------------------------------------ */

static int drop_privileges(const char *user)
{
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        tool_err("registrar: --user %s: no such user", user);
        return -1;
    }
    if (setgroups(1, &pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        tool_err("registrar: --user %s: %s", user, strerror(errno));
        return -1;
    }
    if (pw->pw_uid != 0 && setuid(0) == 0) {
        tool_err("registrar: --user %s: privileges could be regained", user);
        return -1;
    }
    return 0;
}

static int open_listener(struct registrar *r, char *where, size_t wcap)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char err[300];
    int one = 1, zero = 0;

    if (tool_parse_hostport(r->listen, PDM_REG_PORT, 1, &ss, &len, NULL, 0, err, sizeof err) != 0) {
        tool_err("registrar: --listen %s", err);
        return -1;
    }
    r->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (r->lfd < 0) {
        tool_err("registrar: socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(r->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6) {
        /* [::] serves IPv4 clients too (as ::ffff:a.b.c.d). */
        setsockopt(r->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    }
    if (bind(r->lfd, (struct sockaddr *)&ss, len) != 0) {
        tool_err("registrar: bind %s: %s", r->listen, strerror(errno));
        return -1;
    }
    if (listen(r->lfd, 1024) != 0) {
        tool_err("registrar: listen: %s", strerror(errno));
        return -1;
    }
    len = sizeof ss;
    getsockname(r->lfd, (struct sockaddr *)&ss, &len);
    tool_format_sockaddr((const struct sockaddr *)&ss, where, wcap);
    return 0;
}

static unsigned default_modes(const struct registrar *r)
{
    unsigned m = 0;
    if (r->npsks)
        m |= 1u << PDM_HPKE_MODE_PSK;
    if (r->auth_file)
        m |= 1u << PDM_HPKE_MODE_AUTH;
    if (r->npsks && r->auth_file)
        m |= 1u << PDM_HPKE_MODE_AUTH_PSK;
    return m ? m : 1u << PDM_HPKE_MODE_BASE;
}

static void modes_text(unsigned m, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = 0;
    for (unsigned i = 0; i < 4; i++)
        if (m & (1u << i))
            n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? "," : "", pdm_reg_mode_name(i));
}

static int parse_args(struct registrar *r, int argc, char **argv, struct psk_entry *spec,
                      size_t *nspec)
{
    char err[300];
    const char *suites = NULL, *modes = NULL;
    uint64_t ms;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 1;
        }
        if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
            r->verbose = 1;
            continue;
        }
        if (!strcmp(a, "--sync")) {
            r->sync = 1;
            continue;
        }
        if (!v || a[0] != '-') {
            fputs(usage, stderr);
            return 2;
        }
        i++;
        if (!strcmp(a, "--listen")) {
            r->listen = v;
        } else if (!strcmp(a, "--key")) {
            if (r->nkey_files == MAX_KEYS) {
                tool_err("registrar: at most %d --key (one per KEM)", MAX_KEYS);
                return 2;
            }
            r->key_files[r->nkey_files++] = v;
        } else if (!strcmp(a, "--psk")) {
            const char *file;
            if (*nspec == MAX_PSKS) {
                tool_err("registrar: at most %d --psk", MAX_PSKS);
                return 2;
            }
            if (tool_split_psk_arg(v, spec[*nspec].id, sizeof spec[*nspec].id, &file) != 0) {
                tool_err("registrar: --psk %s: want ID:FILE (ID 1..255 characters)", v);
                return 2;
            }
            spec[*nspec].id_len = strlen(spec[*nspec].id);
            spec[*nspec].file = file;
            for (size_t k = 0; k < *nspec; k++)
                if (!strcmp(spec[k].id, spec[*nspec].id)) {
                    tool_err("registrar: --psk: id '%s' given twice", spec[k].id);
                    return 2;
                }
            (*nspec)++;
        } else if (!strcmp(a, "--authorized-keys")) {
            r->auth_file = v;
        } else if (!strcmp(a, "--modes")) {
            modes = v;
        } else if (!strcmp(a, "--suites")) {
            suites = v;
        } else if (!strcmp(a, "--store")) {
            r->tool_store_dir = v;
        } else if (!strcmp(a, "--keylog")) {
            r->keylog = v;
        } else if (!strcmp(a, "--lifetime")) {
            if (tool_parse_duration_ms(v, &ms) != 0) {
                tool_err("registrar: --lifetime %s: want a duration such as 24h", v);
                return 2;
            }
            r->lifetime_s = (ms + 999) / 1000;
        } else if (!strcmp(a, "--timeout")) {
            if (tool_parse_duration_ms(v, &ms) != 0 || ms == 0) {
                tool_err("registrar: --timeout %s: want a duration such as 5s", v);
                return 2;
            }
            r->timeout_ns = ms * 1000000u;
        } else if (!strcmp(a, "--max-conns")) {
            if (tool_parse_uint(v, 1, 100000, &r->max_conns) != 0) {
                tool_err("registrar: --max-conns %s: want 1..100000", v);
                return 2;
            }
        } else if (!strcmp(a, "--rate")) {
            if (tool_parse_uint(v, 0, 1000000, &r->rate) != 0) {
                tool_err("registrar: --rate %s: want 0..1000000", v);
                return 2;
            }
        } else if (!strcmp(a, "--server-addr")) {
            if (tool_parse_addr16(v, r->server_addr) != 0) {
                tool_err("registrar: --server-addr %s: not an address", v);
                return 2;
            }
            r->have_server_addr = 1;
        } else if (!strcmp(a, "--user")) {
            r->user = v;
        } else {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (r->nkey_files == 0) {
        tool_err("registrar: --key FILE is required (make one with pdm keygen)");
        return 2;
    }
    if (suites) {
        int n = tool_parse_suites(suites, r->suites, PDM_REG_SUITES_MAX, err, sizeof err);
        if (n < 0) {
            tool_err("registrar: --suites: %s", err);
            return 2;
        }
        r->nsuites = (size_t)n;
    }
    if (modes && tool_parse_modes(modes, &r->modes) != 0) {
        tool_err("registrar: --modes %s: want a list of base, psk, auth, auth_psk", modes);
        return 2;
    }
    return 0;
}

static int load_keys(struct registrar *r)
{
    char err[300];
    for (size_t i = 0; i < r->nkey_files; i++) {
        struct pdm_hpke_key *k = &r->keys[r->nkeys];
        if (tool_keyfile_read_private(r->key_files[i], k, err, sizeof err) != 0) {
            tool_err("registrar: --key %s", err);
            return -1;
        }
        for (size_t j = 0; j < r->nkeys; j++)
            if (r->keys[j].kem_id == k->kem_id) {
                tool_err("registrar: two --key files for %s: give one per KEM",
                         tool_keyfile_kem_name(k->kem_id));
                return -1;
            }
        r->nkeys++;
    }
    if (r->nsuites == 0) {
        /* Default preference: every default suite of the KEMs we hold, in
         * the order the keys were given. */
        for (size_t i = 0; i < r->nkeys; i++)
            r->nsuites += tool_default_suites(r->keys[i].kem_id, r->suites + r->nsuites,
                                              PDM_REG_SUITES_MAX - r->nsuites);
    } else {
        int any = 0;
        for (size_t i = 0; i < r->nsuites; i++)
            for (size_t j = 0; j < r->nkeys; j++)
                any |= r->suites[i].kem_id == r->keys[j].kem_id;
        if (!any) {
            tool_err("registrar: --suites: no suite has the KEM of a --key");
            return -1;
        }
    }
    return 0;
}

static int check_modes(const struct registrar *r)
{
    if ((r->modes & ((1u << PDM_HPKE_MODE_PSK) | (1u << PDM_HPKE_MODE_AUTH_PSK))) &&
        r->npsks == 0) {
        tool_err("registrar: --modes has a psk mode but no --psk is given");
        return -1;
    }
    if ((r->modes & ((1u << PDM_HPKE_MODE_AUTH) | (1u << PDM_HPKE_MODE_AUTH_PSK))) &&
        !r->auth_file) {
        tool_err("registrar: --modes has an auth mode but no --authorized-keys is given");
        return -1;
    }
    return 0;
}

static void raise_nofile(size_t need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void cleanup(struct registrar *r)
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
    }
    free(r->rates);
    psks_free(r->psks, r->npsks);
    free(r->auth);
    for (size_t i = 0; i < MAX_KEYS; i++)
        pdm_hpke_key_wipe(&r->keys[i]);
    tool_store_close(r->store);
    if (r->lfd >= 0)
        close(r->lfd);
    if (r->sfd >= 0)
        close(r->sfd);
    if (r->epfd >= 0)
        close(r->epfd);
}

int cmd_registrar(int argc, char **argv)
{
    static struct psk_entry spec[MAX_PSKS];
    struct registrar r;
    struct epoll_event ev;
    sigset_t mask;
    char where[80], err[300], mt[64], st[600];
    size_t nspec = 0;
    int rv = 1, prv;

    memset(&r, 0, sizeof r);
    memset(spec, 0, sizeof spec);
    r.epfd = r.lfd = r.sfd = -1;
    r.listen = "[::]:8250";
    r.lifetime_s = 86400;
    r.timeout_ns = 5000000000ull;
    r.max_conns = 256;
    r.rate = 20;
    if ((prv = parse_args(&r, argc, argv, spec, &nspec)) != 0)
        return prv == 1 ? 0 : prv;
    if (load_keys(&r) != 0)
        goto out;
    if (load_creds(&r, spec, nspec, err, sizeof err) != 0) {
        tool_err("registrar: %s", err);
        goto out;
    }
    if (!r.modes)
        r.modes = default_modes(&r);
    if (check_modes(&r) != 0)
        goto out;
    if (!r.tool_store_dir && !r.keylog)
        logf_("warning: neither --store nor --keylog: secrets are not kept");

    r.cfg.suites = r.suites;
    r.cfg.nsuites = r.nsuites;
    r.cfg.keys = r.keys;
    r.cfg.nkeys = r.nkeys;
    r.cfg.modes = r.modes;
    r.cfg.psk_lookup = cb_psk;
    r.cfg.client_key_check = cb_client_key;
    r.cfg.arg = &r;
    r.cfg.timeout_ns = r.timeout_ns;

    r.nconns = r.max_conns + BUSY_SLOTS;
    raise_nofile(r.nconns + 32);
    if (!(r.conns = calloc(r.nconns, sizeof *r.conns)) ||
        !(r.rates = calloc(RATE_SLOTS, sizeof *r.rates))) {
        tool_err("registrar: out of memory");
        goto out;
    }
    for (size_t i = 0; i < r.nconns; i++)
        r.conns[i].fd = -1;

    /* Signals go to the signalfd, not to handlers. */
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    signal(SIGPIPE, SIG_IGN);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0 ||
        (r.sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        tool_err("registrar: signalfd: %s", strerror(errno));
        goto out;
    }
    if (open_listener(&r, where, sizeof where) != 0)
        goto out;
    if (r.user && drop_privileges(r.user) != 0)
        goto out;
    if (r.tool_store_dir && tool_store_open(&r.store, r.tool_store_dir, 1, err, sizeof err) != 0) {
        tool_err("registrar: --store %s", err);
        goto out;
    }
    if (r.store)
        tool_store_set_sync(r.store, r.sync);
    if ((r.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        tool_err("registrar: epoll: %s", strerror(errno));
        goto out;
    }
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.u64 = 0;
    epoll_ctl(r.epfd, EPOLL_CTL_ADD, r.lfd, &ev);
    ev.data.u64 = 1;
    epoll_ctl(r.epfd, EPOLL_CTL_ADD, r.sfd, &ev);

    modes_text(r.modes, mt, sizeof mt);
    tool_format_suites(r.suites, r.nsuites, st, sizeof st);
    logf_("listening on %s (modes %s; suites %s; %zu PSKs, %zu authorized keys)", where, mt, st,
          r.npsks, r.nauth);

    while (!r.stop) {
        struct epoll_event evs[64];
        uint64_t now = tool_mono_ns();
        int timeout = -1, n;

        if (r.next_check) {
            uint64_t wait = r.next_check > now ? r.next_check - now : 0;
            timeout = (int)((wait + 999999) / 1000000);
            if (timeout > 60000)
                timeout = 60000;
        }
        if (r.store) {
            uint64_t wait = r.next_expire > now ? r.next_expire - now : 0;
            int t = (int)((wait + 999999) / 1000000);
            if (timeout < 0 || t < timeout)
                timeout = t;
        }
        n = epoll_wait(r.epfd, evs, 64, timeout);
        if (n < 0 && errno != EINTR) {
            logf_("epoll_wait: %s", strerror(errno));
            break;
        }
        now = tool_mono_ns();
        for (int i = 0; i < n; i++) {
            uint64_t tag = evs[i].data.u64;
            if (tag == 0) {
                on_accept(&r);
            } else if (tag == 1) {
                on_signal(&r, spec, nspec);
            } else {
                struct conn *c = &r.conns[tag - 2];
                if (c->phase == PH_FREE)
                    continue;
                if ((evs[i].events & EPOLLOUT) && conn_flush(&r, c, now) != 0)
                    continue;
                if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    conn_readable(&r, c, now);
            }
        }
        if (r.next_check && now >= r.next_check)
            check_deadlines(&r, now);
        if (r.store && now >= r.next_expire) {
            int k = tool_store_expire(r.store, tool_unix_now(), err, sizeof err);
            if (k < 0)
                logf_("store: %s", err);
            else if (k > 0)
                logf_("store: %d expired secret%s removed", k, k == 1 ? "" : "s");
            r.next_expire = now + EXPIRE_EVERY_NS;
        }
    }
    logf_("stopped: %" PRIu64 " registered, %" PRIu64 " refused, %" PRIu64 " timed out, %" PRIu64
          " busy",
          r.n_ok, r.n_refused, r.n_timeout, r.n_busy);
    rv = 0;
out:
    cleanup(&r);
    pdm_memzero(spec, sizeof spec);
    return rv;
}
