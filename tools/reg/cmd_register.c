/*
 * pdm register: the client side of PDMv2 registration (docs/profile.md §4,
 * docs/registration.md). Connects to a registrar, runs the sans-IO client
 * of lib/reg.c over a blocking-with-deadlines socket, and on success keeps
 * the secret (store, key log, or standard output).
 *
 * The server's key is pinned (--pin), or with --tofu recorded on first use
 * in the store's known_servers file and pinned from then on. Randomness:
 * the ephemeral key (through the eph callback, getrandom) and the salt
 * (getrandom) are drawn here, per registration.
 *
 * Exit status: 0 registered; 1 failure (pin or Confirm mismatch, refusal,
 * timeout, I/O; nothing is stored); 2 usage.
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
#include <fcntl.h>
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

struct opts {
    const char *server, *pin, *suites, *psk_arg, *key_file, *tool_store_dir, *keylog;
    const char *client_addr, *server_addr, *primary;
    int tofu, print;
    uint64_t lifetime_s, timeout_ms;
};

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

/* Keeps the secret where the options say. Returns 0 or -1. */
static int keep(const struct opts *o, struct tool_store *st, const struct pdm_reg_result *res,
                const uint8_t client[16], const uint8_t server[16], uint8_t server_plen)
{
    struct tool_store_entry e;
    char line[PDM_KEYLOG_LINE_MAX], rec[TOOL_STORE_RECORD_MAX], err[300];
    int rv = -1;

    memset(&e, 0, sizeof e);
    e.k.kind = o->primary ? PDM_KEYLOG_PRIMARY : PDM_KEYLOG_SECRET;
    memcpy(e.k.client, client, 16);
    e.k.client_plen = 128;
    if (o->primary && tool_parse_prefix(o->primary, e.k.client, &e.k.client_plen) != 0) {
        tool_err("register: --primary %s: not a prefix", o->primary);
        goto out;
    }
    memcpy(e.k.server, server, 16);
    e.k.server_plen = server_plen;
    e.k.suite = res->suite;
    memcpy(e.k.salt, res->salt, sizeof e.k.salt);
    memcpy(e.k.secret, res->secret, res->secret_len);
    e.k.secret_len = (uint8_t)res->secret_len;
    e.created = tool_unix_now();
    e.lifetime = o->lifetime_s;

    if (st && tool_store_add(st, &e, err, sizeof err) != 0) {
        tool_err("register: store: %s", err);
        goto out;
    }
    if (o->keylog) {
        if (pdm_keylog_format_line(&e.k, line, sizeof line) < 0 ||
            tool_keyfile_append_line(o->keylog, line, err, sizeof err) != 0) {
            tool_err("register: key log: %s", err);
            goto out;
        }
    }
    if (o->print) {
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
    pdm_memzero(line, sizeof line);
    pdm_memzero(rec, sizeof rec);
    tool_store_entry_wipe(&e);
    return rv;
}

static int parse_args(struct opts *o, int argc, char **argv)
{
    uint64_t ms;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 1;
        }
        if (!strcmp(a, "--tofu")) {
            o->tofu = 1;
            continue;
        }
        if (!strcmp(a, "--print")) {
            o->print = 1;
            continue;
        }
        if (!v || a[0] != '-') {
            fputs(usage, stderr);
            return 2;
        }
        i++;
        if (!strcmp(a, "--server"))
            o->server = v;
        else if (!strcmp(a, "--pin"))
            o->pin = v;
        else if (!strcmp(a, "--suite") || !strcmp(a, "--suites"))
            o->suites = v;
        else if (!strcmp(a, "--psk"))
            o->psk_arg = v;
        else if (!strcmp(a, "--key"))
            o->key_file = v;
        else if (!strcmp(a, "--store"))
            o->tool_store_dir = v;
        else if (!strcmp(a, "--keylog"))
            o->keylog = v;
        else if (!strcmp(a, "--client-addr"))
            o->client_addr = v;
        else if (!strcmp(a, "--server-addr"))
            o->server_addr = v;
        else if (!strcmp(a, "--primary"))
            o->primary = v;
        else if (!strcmp(a, "--lifetime") || !strcmp(a, "--timeout")) {
            if (tool_parse_duration_ms(v, &ms) != 0 || (a[2] == 't' && ms == 0)) {
                tool_err("register: %s %s: want a duration such as 5s or 24h", a, v);
                return 2;
            }
            if (a[2] == 'l')
                o->lifetime_s = (ms + 999) / 1000;
            else
                o->timeout_ms = ms;
        } else {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (!o->server) {
        tool_err("register: --server is required");
        return 2;
    }
    if (o->pin && o->tofu) {
        tool_err("register: --pin and --tofu exclude each other");
        return 2;
    }
    if (!o->pin && !o->tofu) {
        tool_err("register: --pin KEM:HEX is required (the registrar's key from pdm pubkey); "
                 "--tofu records it on first use instead");
        return 2;
    }
    if (o->tofu && !o->tool_store_dir) {
        tool_err("register: --tofu needs --store DIR (where known_servers is kept)");
        return 2;
    }
    if (!o->tool_store_dir && !o->keylog && !o->print) {
        tool_err("register: nowhere to keep the secret: give --store, --keylog or --print");
        return 2;
    }
    if (o->server_addr && !o->primary && strchr(o->server_addr, '/')) {
        tool_err("register: --server-addr: a prefix only goes with --primary");
        return 2;
    }
    return 0;
}

int cmd_register(int argc, char **argv)
{
    struct opts o;
    struct pdm_hpke_key pin, key;
    struct pdm_hpke_suite suites[PDM_REG_SUITES_MAX];
    struct pdm_reg_client_config cfg;
    struct pdm_reg_client cli;
    struct sockaddr_storage ss, local;
    socklen_t sslen, llen = sizeof local;
    struct tool_store *st = NULL;
    uint8_t psk[PDM_REG_PSK_MAX], client16[16], server16[16], server_plen = 128;
    uint8_t in[PDM_REG_WIRE_MAX], out[PDM_REG_WIRE_MAX];
    char psk_id[PDM_REG_PSK_ID_MAX + 1], host[256], err[300], name[300],
        known[TOOL_KEYFILE_LINE_MAX];
    const char *psk_file = NULL;
    size_t in_len = 0, out_len = 0;
    long psk_len = 0;
    int fd = -1, rv = 1, n, have_pin = 0, recorded = 0;
    uint64_t deadline;
    uint16_t kem = 0;

    memset(&o, 0, sizeof o);
    memset(&pin, 0, sizeof pin);
    memset(&key, 0, sizeof key);
    memset(&cfg, 0, sizeof cfg);
    memset(&cli, 0, sizeof cli);
    o.lifetime_s = 86400;
    o.timeout_ms = 5000;
    if ((n = parse_args(&o, argc, argv)) != 0)
        return n == 1 ? 0 : n;

    if (tool_parse_hostport(o.server, PDM_REG_PORT, 0, &ss, &sslen, host, sizeof host, err,
                            sizeof err) != 0) {
        tool_err("register: --server %s", err);
        return 2;
    }
    tool_format_sockaddr((const struct sockaddr *)&ss, name, sizeof name);
    if (o.tool_store_dir && tool_store_open(&st, o.tool_store_dir, 1, err, sizeof err) != 0) {
        tool_err("register: --store %s", err);
        return 1;
    }
    if (o.pin) {
        if (tool_keyfile_parse_public(o.pin, &pin, err, sizeof err) != 0) {
            tool_err("register: --pin: %s", err);
            rv = 2;
            goto out;
        }
        have_pin = 1;
    } else {
        n = tool_store_known_get(st, host, sa_port(&ss), known, sizeof known, err, sizeof err);
        if (n < 0) {
            tool_err("register: %s", err);
            goto out;
        }
        if (n == 1) {
            if (tool_keyfile_parse_public(known, &pin, err, sizeof err) != 0) {
                tool_err("register: %s/known_servers: %s: %s", o.tool_store_dir, host, err);
                goto out;
            }
            have_pin = 1;
            recorded = 1;
        }
    }
    if (o.key_file && tool_keyfile_read_private(o.key_file, &key, err, sizeof err) != 0) {
        tool_err("register: --key %s", err);
        goto out;
    }
    if (o.psk_arg) {
        if (tool_split_psk_arg(o.psk_arg, psk_id, sizeof psk_id, &psk_file) != 0) {
            tool_err("register: --psk %s: want ID:FILE", o.psk_arg);
            rv = 2;
            goto out;
        }
        if ((psk_len = tool_keyfile_read_psk(psk_file, psk, sizeof psk, err, sizeof err)) < 0) {
            tool_err("register: --psk %s", err);
            goto out;
        }
    }
    if (have_pin && o.key_file && pin.kem_id != key.kem_id) {
        tool_err("register: the pinned key is %s but --key is %s: the auth modes need one KEM",
                 tool_keyfile_kem_name(pin.kem_id), tool_keyfile_kem_name(key.kem_id));
        rv = 2;
        goto out;
    }
    kem = o.key_file ? key.kem_id : have_pin ? pin.kem_id : 0;
    if (o.suites) {
        n = tool_parse_suites(o.suites, suites, PDM_REG_SUITES_MAX, err, sizeof err);
        if (n < 0) {
            tool_err("register: --suite: %s", err);
            rv = 2;
            goto out;
        }
        cfg.nsuites = (size_t)n;
    } else {
        cfg.nsuites = tool_default_suites(kem, suites, PDM_REG_SUITES_MAX);
    }

    cfg.mode = (uint8_t)((o.psk_arg ? 1 : 0) | (o.key_file ? 2 : 0));
    cfg.suites = suites;
    if (o.psk_arg) {
        cfg.psk = psk;
        cfg.psk_len = (size_t)psk_len;
        cfg.psk_id = (const uint8_t *)psk_id;
        cfg.psk_id_len = strlen(psk_id);
    }
    cfg.key = o.key_file ? &key : NULL;
    cfg.pin = have_pin ? &pin : NULL;
    cfg.eph.rand = tool_eph_rand;
    cfg.timeout_ns = o.timeout_ms * 1000000u;
    if (tool_random(cfg.salt, sizeof cfg.salt) != 0) {
        tool_err("register: getrandom: %s", strerror(errno));
        goto out;
    }

    n = pdm_reg_client_start(&cli, &cfg, tool_mono_ns(), out, sizeof out);
    if (n < 0) {
        tool_err("register: %s: check --suite against the KEM of --pin and --key", pdm_strerror(n));
        rv = 2;
        goto out;
    }
    out_len = (size_t)n;
    deadline = tool_mono_ns() + o.timeout_ms * 1000000u;
    if ((fd = connect_to(&ss, sslen, deadline, name)) < 0)
        goto out;
    if (getsockname(fd, (struct sockaddr *)&local, &llen) != 0)
        memset(&local, 0, sizeof local);

    /* The exchange: send what the client wrote, read until it has a whole
     * reply, until DONE or FAILED; the client's deadline bounds each wait. */
    while (cli.state != PDM_REG_ST_DONE && cli.state != PDM_REG_ST_FAILED) {
        ssize_t r;
        if (out_len) {
            if (send_all(fd, out, out_len, pdm_reg_client_deadline(&cli)) != 0) {
                tool_err("register: %s: send: %s", name, errno ? strerror(errno) : "timed out");
                goto out;
            }
            out_len = 0;
        }
        n = pdm_reg_client_recv(&cli, in, in_len, tool_mono_ns(), out, sizeof out, &out_len);
        if (n > 0) {
            memmove(in, in + n, in_len - (size_t)n);
            in_len -= (size_t)n;
            continue;
        }
        if (n < 0)
            break;
        if (wait_fd(fd, POLLIN, pdm_reg_client_deadline(&cli)) <= 0) {
            pdm_reg_client_expire(&cli, UINT64_MAX);
            tool_err("register: %s: timed out waiting for the %s", name,
                     in_len ? "rest of a message" : "registrar's reply");
            goto out;
        }
        r = recv(fd, in + in_len, sizeof in - in_len, 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0) {
            tool_err("register: %s: the registrar closed the connection%s%s", name,
                     r < 0 ? ": " : "", r < 0 ? strerror(errno) : "");
            goto out;
        }
        in_len += (size_t)r;
    }
    if (cli.state != PDM_REG_ST_DONE) {
        if (cli.status == PDM_REG_STATUS_OK) {
            /* The server said OK but its Confirm is not ours (a wrong PSK, or
             * an auth-mode key we do not hold): tell it, so that it drops
             * the secret it would otherwise keep (docs/decisions.md D14).
             * A server that follows the profile alone ignores this. */
            struct pdm_reg_status_msg refuse = {PDM_REG_STATUS_UNAUTHORIZED, NULL};
            uint8_t msg[PDM_REG_STATUS_ERR_SIZE];
            if (pdm_reg_status_encode(&refuse, msg, sizeof msg) > 0)
                (void)send_all(fd, msg, sizeof msg, tool_mono_ns() + 1000000000u);
        }
        if (cli.status != PDM_REG_STATUS_NONE && cli.status != PDM_REG_STATUS_OK)
            tool_err("register: %s refused the registration: %s", name,
                     pdm_reg_status_name(cli.status));
        else if (recorded && cli.reason && strstr(cli.reason, "pinned"))
            tool_err("register: %s: the registrar's key differs from the one recorded on "
                     "first use in %s/known_servers: refusing (remove that line if the key "
                     "was changed on purpose)",
                     name, o.tool_store_dir);
        else
            tool_err("register: %s: %s; nothing stored", name, cli.reason ? cli.reason : "failed");
        goto out;
    }

    /* Registered. Addresses: those of the connection unless configured. */
    tool_sockaddr_addr16((const struct sockaddr *)&local, client16);
    tool_sockaddr_addr16((const struct sockaddr *)&ss, server16);
    if (o.client_addr && tool_parse_addr16(o.client_addr, client16) != 0) {
        tool_err("register: --client-addr %s: not an address", o.client_addr);
        goto out;
    }
    if (o.server_addr && tool_parse_prefix(o.server_addr, server16, &server_plen) != 0) {
        tool_err("register: --server-addr %s: not an address", o.server_addr);
        goto out;
    }
    if (o.tofu && !recorded) {
        char line[TOOL_KEYFILE_LINE_MAX];
        struct pdm_hpke_key got;
        if (pdm_hpke_pubkey_deserialize(cli.result.suite.kem_id, cli.result.peer_pk,
                                        cli.result.peer_pk_len, &got) != 0 ||
            tool_keyfile_format_public(&got, line, sizeof line) < 0 ||
            tool_store_known_put(st, host, sa_port(&ss), line, err, sizeof err) != 0) {
            tool_err("register: cannot record the registrar's key: %s", err);
            goto out;
        }
        fprintf(stderr, "pdm: register: recorded %s's key %s (trust on first use)\n", name, line);
    }
    if (keep(&o, st, &cli.result, client16, server16, server_plen) != 0)
        goto out;
    {
        char suite[PDM_SUITE_TEXT_SIZE];
        pdm_suite_format(cli.result.suite, suite);
        fprintf(stderr, "pdm: register: registered with %s: mode %s, suite %s%s%s\n", name,
                pdm_reg_mode_name(cli.result.mode), suite, o.tool_store_dir ? ", stored in " : "",
                o.tool_store_dir ? o.tool_store_dir : "");
    }
    rv = 0;
out:
    if (fd >= 0)
        close(fd);
    pdm_reg_client_wipe(&cli);
    pdm_hpke_key_wipe(&key);
    pdm_hpke_key_wipe(&pin);
    pdm_memzero(psk, sizeof psk);
    pdm_memzero(&cfg, sizeof cfg);
    pdm_memzero(in, sizeof in);
    pdm_memzero(out, sizeof out);
    tool_store_close(st);
    return rv;
}
