/*
 * pdm registrar: the server side of PDMv2 registration (docs/profile.md §4,
 * docs/registration.md), over TCP. This file is its setup; the epoll loop
 * that serves the connections is registrar_loop.c (reg/reg.h).
 *
 * In order: the options; the static keys (one per KEM) and the suite
 * preference; the PSK files and the authorized keys (re-read on SIGHUP
 * through rg_load_creds); the modes they allow; the signalfd; the
 * listening socket; with --user, the privilege drop (after binding, before
 * the store is opened, so that the store belongs to that user); the store;
 * the seccomp allow-list (sandbox.c); then the loop.
 */
#include "reg/reg.h"

#include "common/keyfile.h"
#include "common/net.h"
#include "common/sandbox.h"
#include "common/suite.h"
#include "common/sys.h"
#include "common/store.h"
#include "common/tools.h"
#include "common/user.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

static const char usage[] =
    "usage: pdm registrar --key FILE [--key FILE ...] [--listen [ADDR]:PORT]\n"
    "                     [--psk ID:FILE ...] [--authorized-keys FILE] [--modes LIST]\n"
    "                     [--suites LIST] [--store DIR] [--keylog FILE]\n"
    "                     [--lifetime DUR] [--timeout DUR] [--max-conns N] [--rate N]\n"
    "                     [--server-addr ADDR] [--user NAME] [--sync] [--no-seccomp]\n"
    "                     [--verbose]\n"
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
    "  --max-conns N     handshakes at once (default 256); when full, the oldest\n"
    "                    idle 1 s or more is closed, else BUSY\n"
    "  --rate N          new handshakes per second per source address\n"
    "                    (default 20; 0: no limit); BUSY beyond\n"
    "  --server-addr A   the server address to record (default: the local\n"
    "                    address of each connection)\n"
    "  --user NAME       after binding, run as NAME\n"
    "  --no-seccomp      run the loop without its system-call filter (debugging)\n"
    "  -v, --verbose     also log each connection accepted\n"
    "\n"
    "DUR is a number with a unit ms, s, m, h or d. SIGHUP reloads PSKs and\n"
    "authorized keys; SIGTERM stops. See pdm-registrar(8).\n";

/* ---- options ----------------------------------------------------------------- */

/* Option values parsed once every option is in. */
struct texts {
    const char *lifetime, *timeout, *max_conns, *rate, *server_addr, *suites, *modes;
};

static int opt_key(void *ctx, const char *v)
{
    struct rg_registrar *r = ctx;

    if (r->nkey_files == RG_MAX_KEYS)
        return rg_usage("registrar: at most %d --key (one per KEM)", RG_MAX_KEYS);
    r->key_files[r->nkey_files++] = v;
    return 0;
}

/* --psk ID:FILE into the next slot of r->spec. */
static int opt_psk(void *ctx, const char *v)
{
    struct rg_registrar *r = ctx;
    struct rg_psk *p = &r->spec[r->nspec];
    const char *file;

    if (r->nspec == RG_MAX_PSKS)
        return rg_usage("registrar: at most %d --psk", RG_MAX_PSKS);
    if (tool_split_psk_arg(v, p->id, sizeof p->id, &file) != 0)
        return rg_usage("registrar: --psk %s: want ID:FILE (ID 1..255 characters)", v);
    p->id_len = strlen(p->id);
    p->file = file;
    for (size_t k = 0; k < r->nspec; k++)
        if (!strcmp(r->spec[k].id, p->id))
            return rg_usage("registrar: --psk: id '%s' given twice", p->id);
    r->nspec++;
    return 0;
}

/* --suites and --modes. Returns 0 or 2. */
static int parse_lists(struct rg_registrar *r, const struct texts *t)
{
    char err[300];

    if (t->suites) {
        int n = tool_parse_suites(t->suites, r->suites, PDM_REG_SUITES_MAX, err, sizeof err);
        if (n < 0)
            return rg_usage("registrar: --suites: %s", err);
        r->nsuites = (size_t)n;
    }
    if (t->modes && tool_parse_modes(t->modes, &r->modes) != 0)
        return rg_usage("registrar: --modes %s: want a list of base, psk, auth, auth_psk",
                        t->modes);
    return 0;
}

/* The values that need parsing. Returns 0 or 2. */
static int parse_values(struct rg_registrar *r, const struct texts *t)
{
    uint64_t ms = 0;

    if (t->lifetime) {
        if (tool_parse_duration_ms(t->lifetime, &ms) != 0)
            return rg_usage("registrar: --lifetime %s: want a duration such as 24h", t->lifetime);
        r->lifetime_s = (ms + 999) / 1000;
    }
    if (t->timeout) {
        if (tool_parse_duration_ms(t->timeout, &ms) != 0 || ms == 0)
            return rg_usage("registrar: --timeout %s: want a duration such as 5s", t->timeout);
        r->timeout_ns = ms * 1000000u;
    }
    if (t->max_conns && tool_parse_uint(t->max_conns, 1, 100000, &r->max_conns) != 0)
        return rg_usage("registrar: --max-conns %s: want 1..100000", t->max_conns);
    if (t->rate && tool_parse_uint(t->rate, 0, 1000000, &r->rate) != 0)
        return rg_usage("registrar: --rate %s: want 0..1000000", t->rate);
    if (t->server_addr && tool_parse_addr16(t->server_addr, r->server_addr) != 0)
        return rg_usage("registrar: --server-addr %s: not an address", t->server_addr);
    r->have_server_addr = t->server_addr != NULL;
    return parse_lists(r, t);
}

/* Returns 0 to go on, 1 after --help, 2 for a usage error. */
static int parse_args(struct rg_registrar *r, int argc, char **argv)
{
    struct texts t;
    const struct rg_opt opts[] = {RG_TEXT("listen", &r->listen),
                                  RG_CALL("key", opt_key),
                                  RG_CALL("psk", opt_psk),
                                  RG_TEXT("authorized-keys", &r->auth_file),
                                  RG_TEXT("modes", &t.modes),
                                  RG_TEXT("suites", &t.suites),
                                  RG_TEXT("store", &r->store_dir),
                                  RG_FLAG("sync", &r->sync),
                                  RG_TEXT("keylog", &r->keylog),
                                  RG_TEXT("lifetime", &t.lifetime),
                                  RG_TEXT("timeout", &t.timeout),
                                  RG_TEXT("max-conns", &t.max_conns),
                                  RG_TEXT("rate", &t.rate),
                                  RG_TEXT("server-addr", &t.server_addr),
                                  RG_TEXT("user", &r->user),
                                  RG_FLAG("no-seccomp", &r->no_seccomp),
                                  {.name = "verbose", .letter = 'v', .flag = &r->verbose}};
    int rv;

    memset(&t, 0, sizeof t);
    rv = rg_getopt("registrar", argc, argv, opts, sizeof opts / sizeof opts[0], r, usage, 0);
    if (rv != 0)
        return rv;
    if (r->nkey_files == 0)
        return rg_usage("registrar: --key FILE is required (make one with pdm keygen)");
    return parse_values(r, &t);
}

/* ---- credentials -------------------------------------------------------------- */

static void psks_free(struct rg_psk *v, size_t n)
{
    if (v) {
        pdm_memzero(v, n * sizeof *v);
        free(v);
    }
}

int rg_load_creds(struct rg_registrar *r, char *err, size_t errlen)
{
    struct rg_psk *psks = NULL;
    struct tool_keyfile_pubkey *auth = NULL;
    size_t nauth = 0;

    if (r->nspec && !(psks = calloc(r->nspec, sizeof *psks))) {
        tool_fail(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < r->nspec; i++) {
        long n;
        psks[i] = r->spec[i];
        n = tool_keyfile_read_psk(r->spec[i].file, psks[i].psk, sizeof psks[i].psk, err, errlen);
        if (n < 0) {
            psks_free(psks, r->nspec);
            return -1;
        }
        psks[i].len = (size_t)n;
    }
    if (r->auth_file &&
        tool_keyfile_read_authorized(r->auth_file, &auth, &nauth, err, errlen) != 0) {
        psks_free(psks, r->nspec);
        return -1;
    }
    psks_free(r->psks, r->npsks);
    free(r->auth);
    r->psks = psks;
    r->npsks = r->nspec;
    r->auth = auth;
    r->nauth = nauth;
    return 0;
}

/* pdm_reg_server_config.psk_lookup over the loaded PSKs. */
static int cb_psk(void *arg, const uint8_t *id, size_t id_len, uint8_t *psk, size_t cap)
{
    struct rg_registrar *r = arg;
    for (size_t i = 0; i < r->npsks; i++) {
        const struct rg_psk *e = &r->psks[i];
        if (e->id_len == id_len && !memcmp(e->id, id, id_len)) {
            if (e->len > cap)
                return PDM_ERR_NOBUF;
            memcpy(psk, e->psk, e->len);
            return (int)e->len;
        }
    }
    return PDM_ERR_NOT_FOUND;
}

/* pdm_reg_server_config.client_key_check over the authorized keys; names
 * the key found for the connection's log line. */
static int cb_client_key(void *arg, const struct pdm_hpke_key *pk)
{
    struct rg_registrar *r = arg;
    size_t npk = tool_keyfile_npk(pk->kem_id);
    for (size_t i = 0; i < r->nauth; i++) {
        const struct tool_keyfile_pubkey *a = &r->auth[i];
        if (a->key.kem_id == pk->kem_id && npk && !memcmp(a->key.pk, pk->pk, npk)) {
            if (r->cur_client_name)
                snprintf(r->cur_client_name, RG_NAME_SIZE, "%s",
                         a->name[0] ? a->name : "(unnamed)");
            return 0;
        }
    }
    return PDM_ERR_NOT_FOUND;
}

/* ---- keys, suites, modes ------------------------------------------------------- */

static int load_keys(struct rg_registrar *r)
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

/* Without --modes: what the credentials allow; base only without any. */
static unsigned default_modes(const struct rg_registrar *r)
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

static int check_modes(const struct rg_registrar *r)
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

/* Keys, credentials, modes and the server config over them. */
static int load_config(struct rg_registrar *r)
{
    char err[300];

    if (load_keys(r) != 0)
        return -1;
    if (rg_load_creds(r, err, sizeof err) != 0) {
        tool_err("registrar: %s", err);
        return -1;
    }
    if (!r->modes)
        r->modes = default_modes(r);
    if (check_modes(r) != 0)
        return -1;
    if (!r->store_dir && !r->keylog)
        rg_log("warning: neither --store nor --keylog: secrets are not kept");
    r->cfg.suites = r->suites;
    r->cfg.nsuites = r->nsuites;
    r->cfg.keys = r->keys;
    r->cfg.nkeys = r->nkeys;
    r->cfg.modes = r->modes;
    r->cfg.psk_lookup = cb_psk;
    r->cfg.client_key_check = cb_client_key;
    r->cfg.arg = r;
    r->cfg.timeout_ns = r->timeout_ns;
    return 0;
}

/* ---- the process: signals, socket, privileges, store ---------------------------- */

/* Signals go to the signalfd, not to handlers. */
static int open_signalfd(struct rg_registrar *r)
{
    sigset_t mask;

    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    signal(SIGPIPE, SIG_IGN);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0 ||
        (r->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        tool_err("registrar: signalfd: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int open_listener(struct rg_registrar *r, char *where, size_t wcap)
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

static void modes_text(unsigned m, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = 0;
    for (unsigned i = 0; i < 4; i++)
        if (m & (1u << i))
            n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? "," : "", pdm_reg_mode_name(i));
}

/* Everything from the signalfd to the store; where: the address bound. */
static int open_process(struct rg_registrar *r, char *where, size_t wcap)
{
    char err[300];

    if (open_signalfd(r) != 0 || open_listener(r, where, wcap) != 0)
        return -1;
    if (r->user && tool_run_as(r->user, err, sizeof err) != 0) {
        tool_err("registrar: --user %s", err);
        return -1;
    }
    if (r->store_dir && tool_store_open(&r->store, r->store_dir, 1, err, sizeof err) != 0) {
        tool_err("registrar: --store %s", err);
        return -1;
    }
    if (r->store)
        tool_store_set_sync(r->store, r->sync);
    return 0;
}

static void log_start(const struct rg_registrar *r, const char *where)
{
    char mt[64], st[600];

    modes_text(r->modes, mt, sizeof mt);
    tool_format_suites(r->suites, r->nsuites, st, sizeof st);
    rg_log("listening on %s (modes %s; suites %s; %zu PSKs, %zu authorized keys)", where, mt, st,
           r->npsks, r->nauth);
}

static void cleanup(struct rg_registrar *r)
{
    rg_loop_free(r);
    psks_free(r->psks, r->npsks);
    free(r->auth);
    for (size_t i = 0; i < RG_MAX_KEYS; i++)
        pdm_hpke_key_wipe(&r->keys[i]);
    tool_store_close(r->store);
    if (r->lfd >= 0)
        close(r->lfd);
    if (r->sfd >= 0)
        close(r->sfd);
}

int cmd_registrar(int argc, char **argv)
{
    static struct rg_psk spec[RG_MAX_PSKS];
    struct rg_registrar r;
    char where[80];
    int rv = 1, prv;

    memset(&r, 0, sizeof r);
    memset(spec, 0, sizeof spec);
    r.spec = spec;
    r.epfd = r.lfd = r.sfd = -1;
    r.listen = "[::]:8250";
    r.lifetime_s = 86400;
    r.timeout_ns = 5000000000ull;
    r.max_conns = 256;
    r.rate = 20;
    tool_seccomp_test_armed(); /* read the test trigger's variable now */
    if ((prv = parse_args(&r, argc, argv)) != 0)
        return prv == 1 ? 0 : prv;
    if (load_config(&r) != 0 || open_process(&r, where, sizeof where) != 0 ||
        rg_loop_init(&r) != 0 || rg_sandbox(&r) != 0)
        goto out;
    tool_seccomp_test_trigger();
    log_start(&r, where);
    rg_loop_run(&r);
    rv = 0;
out:
    cleanup(&r);
    pdm_memzero(spec, sizeof spec);
    return rv;
}
