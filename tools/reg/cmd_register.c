/*
 * pdm register: the client side of PDMv2 registration (docs/profile.md §4,
 * docs/registration.md). Connects to a registrar, runs the sans-IO client
 * of lib/reg_client.c over a blocking-with-deadlines socket, and on success
 * keeps the secret (store, key log, or standard output).
 *
 * The server's key is pinned (--pin), or with --tofu recorded on first use
 * in the store's known_servers file and pinned from then on. Randomness:
 * the ephemeral key (through the eph callback, getrandom) and the salt
 * (getrandom) are drawn here, per registration.
 *
 * One registration, in steps over struct session: the options, the
 * credentials (pin, client key, PSK), the client config, the exchange,
 * then what to report on a failure or keep on success.
 *
 * Exit status: 0 registered; 1 failure (pin or Confirm mismatch, refusal,
 * timeout, I/O; nothing is stored); 2 usage.
 */
#include "reg/reg.h"

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
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char usage[] =
    "usage: pdm register --server [ADDR]:PORT (--pin KEM:HEX | --tofu --store DIR)\n"
    "                    [--suite LIST] [--psk ID:FILE] [--key FILE]\n"
    "                    [--store DIR] [--keylog FILE] [--print] [--lifetime DUR]\n"
    "                    [--timeout DUR] [--client-addr ADDR] [--server-addr ADDR]\n"
    "                    [--primary PREFIX/LEN]\n"
    "\n"
    "Registers with a PDMv2 registrar (docs/profile.md §4) and keeps the\n"
    "shared secret. The mode follows from the credentials: none is base,\n"
    "--psk is psk, --key is auth, both are auth_psk.\n"
    "\n"
    "  --server A        the registrar, [ADDR]:PORT or HOST:PORT (port 8250 if\n"
    "                    none)\n"
    "  --pin KEY         the registrar's public key KEM:HEX (pdm pubkey);\n"
    "                    another key fails the registration\n"
    "  --tofu            no pin: record the registrar's key on first use in\n"
    "                    DIR/known_servers, and pin it from then on\n"
    "  --suite LIST      suites to offer, in order (default: those of the pin's\n"
    "                    KEM, or of the client key's)\n"
    "  --psk ID:FILE     a PSK file (hex) and its id: psk mode\n"
    "  --key FILE        the client's private key: auth mode\n"
    "  --store DIR       keep the secret in DIR (created mode 0700)\n"
    "  --keylog FILE     append the PDMV2_SECRET line to FILE (mode 0600)\n"
    "  --print           print the secret record on standard output\n"
    "  --lifetime DUR    lifetime recorded with the secret (default 24h)\n"
    "  --timeout DUR     most time for connecting and for each reply (5s)\n"
    "  --client-addr A   the client address to record (default: the local\n"
    "                    address of the connection)\n"
    "  --server-addr A   the server address to record (default: the peer\n"
    "                    address of the connection); with --primary it may be\n"
    "                    a prefix ADDR/LEN\n"
    "  --primary P/LEN   keep the secret as the PrimarySecret of the clients in\n"
    "                    P/LEN (PDMV2_PRIMARY), not as this client's own\n"
    "\n"
    "See pdm-register(8).\n";

static unsigned sa_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)(const void *)ss)->sin6_port);
    return ntohs(((const struct sockaddr_in *)(const void *)ss)->sin_port);
}

/* Waits for fd to be ready for events until deadline (monotonic ns).
 * Returns 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = tool_mono_ns();
        struct pollfd p = {fd, events, 0};
        int ms, n;
        if (now >= deadline)
            return 0;
        ms = (int)((deadline - now + 999999) / 1000000);
        n = poll(&p, 1, ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n > 0)
            return 1;
    }
}

static int send_all(int fd, const uint8_t *p, size_t n, uint64_t deadline)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(fd, POLLOUT, deadline) <= 0)
                return -1;
            continue;
        }
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int connect_to(const struct sockaddr_storage *ss, socklen_t len, uint64_t deadline,
                      const char *name)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    int soerr = 0;
    socklen_t sl = sizeof soerr;

    if (fd < 0) {
        tool_err("register: socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (const struct sockaddr *)ss, len) != 0 && errno != EINPROGRESS) {
        tool_err("register: connect %s: %s", name, strerror(errno));
        close(fd);
        return -1;
    }
    if (wait_fd(fd, POLLOUT, deadline) <= 0) {
        tool_err("register: connect %s: timed out", name);
        close(fd);
        return -1;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
        tool_err("register: connect %s: %s", name, strerror(soerr ? soerr : errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- options ----------------------------------------------------------------- */

struct opts {
    const char *server, *pin, *suites, *psk_arg, *key_file, *store_dir, *keylog;
    const char *client_addr, *server_addr, *primary, *lifetime, *timeout;
    int tofu, print;
    uint64_t lifetime_s, timeout_ms; /* parsed from lifetime, timeout */
};

/* What the options must say together, and values that must parse (so
 * that a typo fails before the registration, not after it). Returns 0 or
 * 2. */
static int check_opts(struct opts *o)
{
    uint8_t a16[16], plen;
    uint64_t ms = 0;

    if (!o->server)
        return rg_usage("register: --server is required");
    if (o->pin && o->tofu)
        return rg_usage("register: --pin and --tofu exclude each other");
    if (!o->pin && !o->tofu) {
        tool_err("register: --pin KEM:HEX is required (the registrar's key from pdm pubkey); "
                 "--tofu records it on first use instead");
        return 2;
    }
    if (o->tofu && !o->store_dir)
        return rg_usage("register: --tofu needs --store DIR (where known_servers is kept)");
    if (!o->store_dir && !o->keylog && !o->print) {
        tool_err("register: nowhere to keep the secret: give --store, --keylog or --print");
        return 2;
    }
    if (o->server_addr && !o->primary && strchr(o->server_addr, '/'))
        return rg_usage("register: --server-addr: a prefix only goes with --primary");
    if (o->client_addr && tool_parse_addr16(o->client_addr, a16) != 0)
        return rg_usage("register: --client-addr %s: not an address", o->client_addr);
    if (o->server_addr && tool_parse_prefix(o->server_addr, a16, &plen) != 0)
        return rg_usage("register: --server-addr %s: not an address", o->server_addr);
    if (o->primary && tool_parse_prefix(o->primary, a16, &plen) != 0)
        return rg_usage("register: --primary %s: not a prefix", o->primary);
    if (o->lifetime) {
        if (tool_parse_duration_ms(o->lifetime, &ms) != 0)
            return rg_usage("register: --lifetime %s: want a duration such as 24h", o->lifetime);
        o->lifetime_s = (ms + 999) / 1000;
    }
    if (o->timeout) {
        if (tool_parse_duration_ms(o->timeout, &ms) != 0 || ms == 0)
            return rg_usage("register: --timeout %s: want a duration such as 5s", o->timeout);
        o->timeout_ms = ms;
    }
    return 0;
}

/* Returns 0 to go on, 1 after --help, 2 for a usage error. */
static int parse_args(struct opts *o, int argc, char **argv)
{
    const struct rg_opt opts[] = {RG_TEXT("server", &o->server),
                                  RG_TEXT("pin", &o->pin),
                                  RG_FLAG("tofu", &o->tofu),
                                  RG_TEXT("suite", &o->suites),
                                  RG_TEXT("suites", &o->suites),
                                  RG_TEXT("psk", &o->psk_arg),
                                  RG_TEXT("key", &o->key_file),
                                  RG_TEXT("store", &o->store_dir),
                                  RG_TEXT("keylog", &o->keylog),
                                  RG_FLAG("print", &o->print),
                                  RG_TEXT("lifetime", &o->lifetime),
                                  RG_TEXT("timeout", &o->timeout),
                                  RG_TEXT("client-addr", &o->client_addr),
                                  RG_TEXT("server-addr", &o->server_addr),
                                  RG_TEXT("primary", &o->primary)};
    int rv = rg_getopt("register", argc, argv, opts, sizeof opts / sizeof opts[0], o, usage, 0);

    return rv != 0 ? rv : check_opts(o);
}

/* ---- one registration ---------------------------------------------------------- */

struct session {
    struct opts o;
    struct sockaddr_storage ss, local; /* the registrar; our end */
    socklen_t sslen;
    char host[256], name[300]; /* --server's host as given; the address as text */
    struct tool_store *st;
    struct pdm_hpke_key pin, key;
    int have_pin, recorded; /* recorded: the pin comes from known_servers */
    uint8_t psk[PDM_REG_PSK_MAX];
    char psk_id[PDM_REG_PSK_ID_MAX + 1];
    long psk_len;
    struct pdm_hpke_suite suites[PDM_REG_SUITES_MAX];
    struct pdm_reg_client_config cfg;
    struct pdm_reg_client cli;
    int fd;
    uint8_t in[PDM_REG_WIRE_MAX], out[PDM_REG_WIRE_MAX];
    size_t in_len, out_len;
};

/* The registrar's address and, with --store, the store. Returns 0, 1, 2. */
static int open_ends(struct session *s)
{
    char err[300];

    if (tool_parse_hostport(s->o.server, PDM_REG_PORT, 0, &s->ss, &s->sslen, s->host,
                            sizeof s->host, err, sizeof err) != 0) {
        tool_err("register: --server %s", err);
        return 2;
    }
    tool_format_sockaddr((const struct sockaddr *)&s->ss, s->name, sizeof s->name);
    if (s->o.store_dir && tool_store_open(&s->st, s->o.store_dir, 1, err, sizeof err) != 0) {
        tool_err("register: --store %s", err);
        return 1;
    }
    return 0;
}

/* The pin: --pin, or with --tofu the key recorded in known_servers (none
 * on first use). Returns 0, 1, 2. */
static int load_pin(struct session *s)
{
    char err[300], known[TOOL_KEYFILE_LINE_MAX];
    int n;

    if (s->o.pin) {
        if (tool_keyfile_parse_public(s->o.pin, &s->pin, err, sizeof err) != 0) {
            tool_err("register: --pin: %s", err);
            return 2;
        }
        s->have_pin = 1;
        return 0;
    }
    n = tool_store_known_get(s->st, s->host, sa_port(&s->ss), known, sizeof known, err, sizeof err);
    if (n < 0) {
        tool_err("register: %s", err);
        return 1;
    }
    if (n == 1) {
        if (tool_keyfile_parse_public(known, &s->pin, err, sizeof err) != 0) {
            tool_err("register: %s/known_servers: %s: %s", s->o.store_dir, s->host, err);
            return 1;
        }
        s->have_pin = s->recorded = 1;
    }
    return 0;
}

/* --key and --psk. Returns 0, 1, 2. */
static int load_creds(struct session *s)
{
    const char *psk_file = NULL;
    char err[300];

    if (s->o.key_file && tool_keyfile_read_private(s->o.key_file, &s->key, err, sizeof err) != 0) {
        tool_err("register: --key %s", err);
        return 1;
    }
    if (s->o.psk_arg) {
        if (tool_split_psk_arg(s->o.psk_arg, s->psk_id, sizeof s->psk_id, &psk_file) != 0) {
            tool_err("register: --psk %s: want ID:FILE", s->o.psk_arg);
            return 2;
        }
        s->psk_len = tool_keyfile_read_psk(psk_file, s->psk, sizeof s->psk, err, sizeof err);
        if (s->psk_len < 0) {
            tool_err("register: --psk %s", err);
            return 1;
        }
    }
    if (s->have_pin && s->o.key_file && s->pin.kem_id != s->key.kem_id) {
        tool_err("register: the pinned key is %s but --key is %s: the auth modes need one KEM",
                 tool_keyfile_kem_name(s->pin.kem_id), tool_keyfile_kem_name(s->key.kem_id));
        return 2;
    }
    return 0;
}

/* The client config: mode from the credentials, suites, fresh salt.
 * Returns 0, 1, 2. */
static int make_config(struct session *s)
{
    struct pdm_reg_client_config *cfg = &s->cfg;
    uint16_t kem = s->o.key_file ? s->key.kem_id : s->have_pin ? s->pin.kem_id : 0;
    char err[300];

    if (s->o.suites) {
        int n = tool_parse_suites(s->o.suites, s->suites, PDM_REG_SUITES_MAX, err, sizeof err);
        if (n < 0) {
            tool_err("register: --suite: %s", err);
            return 2;
        }
        cfg->nsuites = (size_t)n;
    } else {
        cfg->nsuites = tool_default_suites(kem, s->suites, PDM_REG_SUITES_MAX);
    }
    cfg->mode = (uint8_t)((s->o.psk_arg ? PDM_HPKE_MODE_PSK : 0) |
                          (s->o.key_file ? PDM_HPKE_MODE_AUTH : 0));
    cfg->suites = s->suites;
    if (s->o.psk_arg) {
        cfg->psk = s->psk;
        cfg->psk_len = (size_t)s->psk_len;
        cfg->psk_id = (const uint8_t *)s->psk_id;
        cfg->psk_id_len = strlen(s->psk_id);
    }
    cfg->key = s->o.key_file ? &s->key : NULL;
    cfg->pin = s->have_pin ? &s->pin : NULL;
    cfg->eph.rand = tool_eph_rand;
    cfg->timeout_ns = s->o.timeout_ms * 1000000u;
    if (tool_random(cfg->salt, sizeof cfg->salt) != 0) {
        tool_err("register: getrandom: %s", strerror(errno));
        return 1;
    }
    return 0;
}

/*
 * Connects and runs the client to DONE or FAILED: sends what the client
 * wrote, reads until it has a whole reply; the client's deadline bounds
 * each wait. Returns 0 when the client ended (either way), 1 on a
 * connection failure (reported), 2 when the config does not start.
 */
static int exchange(struct session *s)
{
    struct pdm_reg_client *cli = &s->cli;
    socklen_t llen = sizeof s->local;
    int n = pdm_reg_client_start(cli, &s->cfg, tool_mono_ns(), s->out, sizeof s->out);

    if (n < 0) {
        tool_err("register: %s: check --suite against the KEM of --pin and --key", pdm_strerror(n));
        return 2;
    }
    s->out_len = (size_t)n;
    s->fd = connect_to(&s->ss, s->sslen, tool_mono_ns() + s->o.timeout_ms * 1000000u, s->name);
    if (s->fd < 0)
        return 1;
    if (getsockname(s->fd, (struct sockaddr *)&s->local, &llen) != 0)
        memset(&s->local, 0, sizeof s->local);
    while (cli->state != PDM_REG_ST_DONE && cli->state != PDM_REG_ST_FAILED) {
        ssize_t r;
        if (s->out_len) {
            if (send_all(s->fd, s->out, s->out_len, pdm_reg_client_deadline(cli)) != 0) {
                tool_err("register: %s: send: %s", s->name, errno ? strerror(errno) : "timed out");
                return 1;
            }
            s->out_len = 0;
        }
        n = pdm_reg_client_recv(cli, s->in, s->in_len, tool_mono_ns(), s->out, sizeof s->out,
                                &s->out_len);
        if (n > 0) {
            memmove(s->in, s->in + n, s->in_len - (size_t)n);
            s->in_len -= (size_t)n;
            continue;
        }
        if (n < 0)
            break;
        if (wait_fd(s->fd, POLLIN, pdm_reg_client_deadline(cli)) <= 0) {
            pdm_reg_client_expire(cli, UINT64_MAX);
            tool_err("register: %s: timed out waiting for the %s", s->name,
                     s->in_len ? "rest of a message" : "registrar's reply");
            return 1;
        }
        r = recv(s->fd, s->in + s->in_len, sizeof s->in - s->in_len, 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0) {
            tool_err("register: %s: the registrar closed the connection%s%s", s->name,
                     r < 0 ? ": " : "", r < 0 ? strerror(errno) : "");
            return 1;
        }
        s->in_len += (size_t)r;
    }
    return 0;
}

/* The client ended FAILED: say why (and tell the server, when it said OK
 * but its Confirm is not ours). */
static void report_failure(const struct session *s)
{
    const struct pdm_reg_client *cli = &s->cli;

    if (cli->status == PDM_REG_STATUS_OK) {
        /* The server said OK but its Confirm is not ours (a wrong PSK, or
         * an auth-mode key we do not hold): tell it, so that it drops
         * the secret it would otherwise keep (docs/decisions.md D14).
         * A server that follows the profile alone ignores this. */
        struct pdm_reg_status_msg refuse = {PDM_REG_STATUS_UNAUTHORIZED, NULL};
        uint8_t msg[PDM_REG_STATUS_ERR_SIZE];
        if (pdm_reg_status_encode(&refuse, msg, sizeof msg) > 0)
            (void)send_all(s->fd, msg, sizeof msg, tool_mono_ns() + 1000000000u);
    }
    if (cli->status != PDM_REG_STATUS_NONE && cli->status != PDM_REG_STATUS_OK)
        tool_err("register: %s refused the registration: %s", s->name,
                 pdm_reg_status_name(cli->status));
    else if (s->recorded && cli->reason && strstr(cli->reason, "pinned"))
        tool_err("register: %s: the registrar's key differs from the one recorded on "
                 "first use in %s/known_servers: refusing (remove that line if the key "
                 "was changed on purpose)",
                 s->name, s->o.store_dir);
    else
        tool_err("register: %s: %s; nothing stored", s->name, cli->reason ? cli->reason : "failed");
}

/* --tofu, first use: records the key the registrar used. Returns 0 or -1. */
static int record_key(struct session *s)
{
    const struct pdm_reg_result *res = &s->cli.result;
    char line[TOOL_KEYFILE_LINE_MAX], err[300] = "cannot serialize it";
    struct pdm_hpke_key got;

    if (pdm_hpke_pubkey_deserialize(res->suite.kem_id, res->peer_pk, res->peer_pk_len, &got) != 0 ||
        tool_keyfile_format_public(&got, line, sizeof line) < 0 ||
        tool_store_known_put(s->st, s->host, sa_port(&s->ss), line, err, sizeof err) != 0) {
        tool_err("register: cannot record the registrar's key: %s", err);
        return -1;
    }
    fprintf(stderr, "pdm: register: recorded %s's key %s (trust on first use)\n", s->name, line);
    return 0;
}

/* The record to keep: the connection's addresses unless configured. */
static void make_entry(const struct session *s, struct tool_store_entry *e)
{
    const struct opts *o = &s->o;
    uint8_t client[16], server[16], server_plen = 128;

    tool_sockaddr_addr16((const struct sockaddr *)&s->local, client);
    tool_sockaddr_addr16((const struct sockaddr *)&s->ss, server);
    /* check_opts() parsed each of these once already. */
    if (o->client_addr)
        (void)tool_parse_addr16(o->client_addr, client);
    if (o->server_addr)
        (void)tool_parse_prefix(o->server_addr, server, &server_plen);
    rg_entry_set(e, &s->cli.result, client, server, server_plen, o->lifetime_s);
    if (o->primary) {
        e->k.kind = PDM_KEYLOG_PRIMARY;
        (void)tool_parse_prefix(o->primary, e->k.client, &e->k.client_plen);
    }
}

/* Keeps the secret where the options say. Returns 0 or -1. */
static int keep(const struct session *s)
{
    struct tool_store_entry e;
    char rec[TOOL_STORE_RECORD_MAX], err[300];
    int rv = -1;

    make_entry(s, &e);
    if (s->st && tool_store_add(s->st, &e, err, sizeof err) != 0) {
        tool_err("register: store: %s", err);
        goto out;
    }
    if (s->o.keylog && rg_keylog_append(s->o.keylog, &e, err, sizeof err) != 0) {
        tool_err("register: key log: %s", err);
        goto out;
    }
    if (s->o.print) {
        if (tool_store_entry_format(&e, rec, sizeof rec) < 0) {
            tool_err("register: cannot format the secret record");
            goto out;
        }
        fputs(rec, stdout);
        if (fflush(stdout) != 0) {
            tool_err("register: write error on standard output");
            goto out;
        }
    }
    rv = 0;
out:
    pdm_memzero(rec, sizeof rec);
    tool_store_entry_wipe(&e);
    return rv;
}

/* Registered: record a first-use key, keep the secret, say so. Returns 0
 * or 1. */
static int finish(struct session *s)
{
    char suite[PDM_SUITE_TEXT_SIZE];

    if (s->o.tofu && !s->recorded && record_key(s) != 0)
        return 1;
    if (keep(s) != 0)
        return 1;
    pdm_suite_format(s->cli.result.suite, suite);
    fprintf(stderr, "pdm: register: registered with %s: mode %s, suite %s%s%s\n", s->name,
            pdm_reg_mode_name(s->cli.result.mode), suite, s->o.store_dir ? ", stored in " : "",
            s->o.store_dir ? s->o.store_dir : "");
    return 0;
}

static int run(struct session *s)
{
    int rv;

    if ((rv = open_ends(s)) != 0 || (rv = load_pin(s)) != 0 || (rv = load_creds(s)) != 0 ||
        (rv = make_config(s)) != 0 || (rv = exchange(s)) != 0)
        return rv;
    if (s->cli.state != PDM_REG_ST_DONE) {
        report_failure(s);
        return 1;
    }
    return finish(s);
}

int cmd_register(int argc, char **argv)
{
    struct session s; /* secrets included: wiped below */
    int rv;

    memset(&s, 0, sizeof s);
    s.fd = -1;
    s.o.lifetime_s = 86400;
    s.o.timeout_ms = 5000;
    if ((rv = parse_args(&s.o, argc, argv)) != 0)
        return rv == 1 ? 0 : rv;
    rv = run(&s);
    if (s.fd >= 0)
        close(s.fd);
    pdm_reg_client_wipe(&s.cli);
    pdm_hpke_key_wipe(&s.key);
    pdm_hpke_key_wipe(&s.pin);
    tool_store_close(s.st);
    pdm_memzero(&s, sizeof s);
    return rv;
}
