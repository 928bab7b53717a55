/*
 * pdm agent: adds the PDM option to any application's IPv6 traffic with the
 * enabled peers and reads theirs, in user space (NFQUEUE), without changing
 * the applications. docs/agent.md explains the design; pdm-agent(8) the use.
 *
 *   pdm agent --peer PREFIX[,mode=M,...] [--mode pdm|v2|v2-encrypted|v2-14] ...
 *   pdm agent --status [--control PATH]
 *
 * This file: options, set-up order, signals, the main loop and privileges.
 * The packet logic is core.c; the queue I/O nfq.c; the rules fw.c; the
 * records records.c; the status socket control.c.
 *
 * Set-up order, so that no packet is ever lost to the agent starting or
 * stopping: bind the queues, install the rules (fail-open: a queued packet
 * with no listener passes), drop privileges, start the queue threads. On
 * SIGTERM/SIGINT: remove the rules, let the threads drain what is queued,
 * unbind, flush the records.
 */
#include "common/sandbox.h"
#include "common/tools.h"

#include "agent.h"
#include "ebpf.h"
#include "metrics.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: pdm agent --peer PREFIX[,mode=M][,rotate-packets=N][,rotate-seconds=S] ...\n"
    "                 [--mode pdm|v2|v2-encrypted|v2-14] [--config FILE] [--records FILE]\n"
    "                 [--store DIR] [--keylog FILE] [--primary-secret FILE] [--state FILE]\n"
    "                 [--queue N[-M]] [--fanout] [--passthrough] [--control PATH]\n"
    "                 [--firewall auto|nft|ip6tables] [--table NAME] [--option-type T]\n"
    "                 [--flows N] [--idle-seconds S] [--psn-window N] [--no-clamp-mss]\n"
    "                 [--datapath nfqueue|ebpf|auto] [--keep-caps] [--user NAME]\n"
    "                 [--no-seccomp] [--metrics [ADDR]:PORT] [-v]\n"
    "       pdm agent --status [--control PATH]\n"
    "\n"
    "Adds the PDM option (RFC 8250) or PDMv2 (draft-ietf-ippm-encrypted-pdmv2)\n"
    "to every IPv6 packet sent to an enabled peer and reads the options of the\n"
    "packets it sends back, for any application, through NFQUEUE. Packets of\n"
    "other flows are not even queued; a packet that cannot carry the option\n"
    "goes out unchanged. Runs until SIGTERM or SIGINT; SIGHUP reopens the\n"
    "records file and re-reads the secrets. See pdm-agent(8).\n"
    "\n"
    "  --peer P          enable flows with prefix P (repeatable); settings after\n"
    "                    commas: mode=, rotate-packets=, rotate-seconds=\n"
    "  --mode M          mode of peers given without one (default pdm)\n"
    "  --config FILE     settings and peers, one per line (pdm-agent(8))\n"
    "  --records FILE    append one JSON line per PDM packet sent or received\n"
    "  --ipfix HOST:PORT send per-flow IPFIX records to a collector; with\n"
    "                    --ipfix-interval S (60), --ipfix-pen N (32473),\n"
    "                    --ipfix-transport udp|tcp (udp)\n"
    "  --store DIR, --keylog FILE, --primary-secret FILE\n"
    "                    where v2-encrypted secrets come from\n"
    "  --state FILE      v2-encrypted: where Kri history survives restarts\n"
    "  --queue N[-M]     NFQUEUE numbers (default 0); one thread per queue\n"
    "  --fanout          spread packets over the queues by CPU (default: by\n"
    "                    address pair, which keeps each flow on one queue)\n"
    "  --passthrough     queue and accept unchanged (measures NFQUEUE's cost)\n"
    "  --datapath D      nfqueue (default), ebpf (tc-eBPF fast path, TCX links)\n"
    "                    or auto (ebpf when it loads here, else nfqueue)\n"
    "  --control PATH    status socket (default " AGENT_DEFAULT_CONTROL ")\n"
    "  --status          print the running agent's counters and exit\n"
    "  --metrics [ADDR]:PORT  serve Prometheus /metrics there (docs/export.md)\n"
    "  --keep-caps       keep every capability (default: CAP_NET_ADMIN only)\n"
    "  --user NAME       run as NAME after setup, keeping CAP_NET_ADMIN\n"
    "                    (default: stay root; see pdm-agent(8))\n"
    "  --no-seccomp      no system-call allow-list on the queue threads\n"
    "  -v, --verbose     say which rules went in; print the counters at exit\n"
    "  -h, --help        this text\n";

/* ---- random bytes for the core ------------------------------------------- */

struct rand_pool {
    uint8_t buf[512];
    size_t left;
};

static void fill_random(void *p, size_t n)
{
    uint8_t *b = p;
    while (n > 0) {
        ssize_t r = getrandom(b, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            /* getrandom() cannot fail once the pool is initialised; if it
             * does, dying beats using predictable PSNs and hash keys. */
            perror("pdm: getrandom");
            abort();
        }
        b += r;
        n -= (size_t)r;
    }
}

/* Each shard has its pool, used under the shard's lock: no lock here. */
static void pool_rand(void *arg, void *out, size_t n)
{
    struct rand_pool *p = arg;
    uint8_t *o = out;

    while (n > 0) {
        if (p->left == 0) {
            fill_random(p->buf, sizeof p->buf);
            p->left = sizeof p->buf;
        }
        size_t k = n < p->left ? n : p->left;
        memcpy(o, p->buf + sizeof p->buf - p->left, k);
        pdm_memzero(p->buf + sizeof p->buf - p->left, k);
        p->left -= k;
        o += k;
        n -= k;
    }
}

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- options ----------------------------------------------------------------- */

struct cli {
    struct agent_config cfg;
    const char *peer_args[AGENT_PEERS_MAX];
    size_t npeer_args;
    int mode_given;
    enum pdm_format mode;
    int status;
};

/* "PREFIX,mode=v2,rotate-packets=10" → the words of a config peer line. */
static int peer_from_arg(struct agent_peer *p, const char *arg, enum pdm_format dflt, char *err,
                         size_t errlen)
{
    char buf[512], *w[16], *save = NULL;
    size_t n = 0;

    if (strlen(arg) >= sizeof buf) {
        snprintf(err, errlen, "--peer is too long (%zu bytes)", strlen(arg));
        return -1;
    }
    strcpy(buf, arg);
    for (char *t = strtok_r(buf, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        if (n + 2 > 16) {
            snprintf(err, errlen, "--peer '%s': too many settings", arg);
            return -1;
        }
        if (n > 0 && eq == NULL) {
            snprintf(err, errlen, "--peer '%s': '%s' is not KEY=VALUE", arg, t);
            return -1;
        }
        if (eq != NULL) {
            *eq = '\0';
            w[n++] = t;
            w[n++] = eq + 1;
        } else {
            w[n++] = t;
        }
    }
    return agent_peer_parse_words(p, w, n, dflt, err, errlen);
}

/* Options that are not settings of the --config file. */
enum {
    OPT_SETTING = 0, /* a long option named as its --config setting */
    OPT_PEER = 256,
    OPT_MODE,
    OPT_CONFIG,
    OPT_STATUS,
    OPT_FANOUT,
    OPT_PASSTHROUGH,
    OPT_NO_CLAMP,
    OPT_KEEP_CAPS,
    OPT_NO_SECCOMP,
};

/* The flags of their own. The value flags that are --config settings
 * (agent_config_flag_settings) follow them in long_opts (see
 * build_long_opts) and are applied as those settings (agent_config_set()):
 * one parser, one message, for both. */
#define OWN_OPTS 11
static const struct option own_opts[OWN_OPTS] = {
    {"peer", required_argument, NULL, OPT_PEER},
    {"mode", required_argument, NULL, OPT_MODE},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"status", no_argument, NULL, OPT_STATUS},
    {"fanout", no_argument, NULL, OPT_FANOUT},
    {"passthrough", no_argument, NULL, OPT_PASSTHROUGH},
    {"no-clamp-mss", no_argument, NULL, OPT_NO_CLAMP},
    {"keep-caps", no_argument, NULL, OPT_KEEP_CAPS},
    {"no-seccomp", no_argument, NULL, OPT_NO_SECCOMP},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
};

static struct option long_opts[OWN_OPTS + 32];

static void build_long_opts(void)
{
    size_t n = OWN_OPTS;

    memcpy(long_opts, own_opts, sizeof own_opts);
    for (size_t i = 0;
         agent_config_flag_settings[i] && n + 1 < sizeof long_opts / sizeof long_opts[0]; i++)
        long_opts[n++] =
            (struct option){agent_config_flag_settings[i], required_argument, NULL, OPT_SETTING};
    long_opts[n] = (struct option){NULL, 0, NULL, 0};
}

/* Applies one option. Returns 0, or 2 (usage error, message printed). */
static int apply_opt(struct cli *c, int opt, const char *name, const char *v)
{
    struct agent_config *cfg = &c->cfg;
    char err[256];

    switch (opt) {
    case OPT_PEER:
        if (c->npeer_args == AGENT_PEERS_MAX) {
            tool_err("agent: more than %d --peer", AGENT_PEERS_MAX);
            return 2;
        }
        c->peer_args[c->npeer_args++] = v;
        return 0;
    case OPT_MODE:
        if (agent_parse_mode(v, &c->mode) != 0) {
            tool_err("agent: unknown mode '%s' (pdm, v2, v2-encrypted, v2-14)", v);
            return 2;
        }
        c->mode_given = 1;
        return 0;
    case OPT_CONFIG:
        if (agent_config_load(cfg, v, err, sizeof err) != 0) {
            tool_err("agent: %s", err);
            return 2;
        }
        return 0;
    case OPT_STATUS:
        c->status = 1;
        return 0;
    case OPT_FANOUT:
        cfg->fanout = 1;
        return 0;
    case OPT_PASSTHROUGH:
        cfg->passthrough = 1;
        return 0;
    case OPT_NO_CLAMP:
        cfg->core.clamp_mss = 0;
        return 0;
    case OPT_KEEP_CAPS:
        cfg->keep_caps = 1;
        return 0;
    case OPT_NO_SECCOMP:
        cfg->no_seccomp = 1;
        return 0;
    case 'v':
        cfg->verbose++;
        return 0;
    default:
        break;
    }
    if (agent_config_set(cfg, name, v, 0, err, sizeof err) != 0) {
        tool_err("agent: --%s", err);
        return 2;
    }
    return 0;
}

/* Returns 0, 2 (usage error, message printed) or -1 (--help printed). */
static int parse_args(struct cli *c, int argc, char **argv)
{
    struct agent_config *cfg = &c->cfg;
    char err[256];
    int opt, idx, rv;

    build_long_opts();
    opterr = 0; /* tool_getopt_error words them, one line each */
    optind = 1;
    while ((opt = getopt_long(argc, argv, "+:hv", long_opts, &idx)) != -1) {
        if (opt == 'h') {
            fputs(usage_text, stdout);
            return -1; /* done: exit status 0 */
        }
        if (opt == ':' || opt == '?') {
            tool_getopt_error("agent", opt, argv, long_opts);
            return 2;
        }
        if ((rv = apply_opt(c, opt, opt == OPT_SETTING ? long_opts[idx].name : NULL, optarg)) != 0)
            return rv;
    }
    if (optind < argc) {
        tool_err("agent: unexpected argument '%s' (try 'pdm agent --help')", argv[optind]);
        return 2;
    }
    for (size_t i = 0; i < c->npeer_args; i++) {
        struct agent_peer p;
        if (peer_from_arg(&p, c->peer_args[i], c->mode_given ? c->mode : cfg->default_mode, err,
                          sizeof err) != 0 ||
            agent_config_add_peer(&cfg->core, &p, err, sizeof err) != 0) {
            tool_err("agent: %s", err);
            return 2;
        }
    }
    return 0;
}

/* ---- the run ------------------------------------------------------------------- */

/* Everything a running agent holds, released by run_stop(). */
struct run {
    struct agent_config *cfg;
    struct agent_rt rt;
    struct agent_nfq *queues[AGENT_QUEUES_MAX];
    unsigned nq;
    struct agent_keys *keys;
    int sfd, cfd, tsfd; /* signalfd, status socket, timestamping socket */
};

/* The shards (each a core with its lock and random pool) and the key
 * material they share. Returns 0 or -1 (message printed). */
static int run_shards(struct run *r)
{
    const struct agent_config *cfg = r->cfg;
    uint8_t hash_key[PDM_FLOW_HASH_KEY_SIZE];
    pthread_mutexattr_t ma;
    char err[512];
    size_t cap;
    int need_keys = 0, rv;

    /* Held for one packet's core call at a time: spin a little before
     * sleeping (glibc's adaptive mutex), cheaper than a futex wait for
     * such short sections. */
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
    for (unsigned i = 0; i < AGENT_SHARDS; i++)
        pthread_mutex_init(&r->rt.shards[i].lock, &ma);
    pthread_mutexattr_destroy(&ma);

    for (size_t i = 0; i < cfg->core.npeers; i++)
        need_keys |= cfg->core.peers[i].mode == PDM_FORMAT_V2_ENCRYPTED;
    if (need_keys && !cfg->passthrough) {
        if (cfg->tool_store_dir == NULL && cfg->keylog_path == NULL &&
            cfg->primary_secret_path == NULL)
            fprintf(stderr, "pdm: agent: v2-encrypted peers but no --store, --keylog or "
                            "--primary-secret: their packets go out unchanged\n");
        if (agent_keys_load(&r->keys, cfg->tool_store_dir, cfg->keylog_path,
                            cfg->primary_secret_path, cfg->state_path, err, sizeof err) != 0) {
            tool_err("agent: %s", err);
            return -1;
        }
    }
    fill_random(&r->rt.shard_seed, sizeof r->rt.shard_seed);
    /* Flows spread evenly over the shards: a quarter more room each than
     * an exact share, for the unevenness of hashing. */
    cap = cfg->core.flow_capacity / AGENT_SHARDS + cfg->core.flow_capacity / (4 * AGENT_SHARDS);
    if (cap < 64)
        cap = 64;
    for (unsigned i = 0; i < AGENT_SHARDS; i++) {
        struct agent_shard *sh = &r->rt.shards[i];
        if ((sh->rand_pool = calloc(1, sizeof(struct rand_pool))) == NULL) {
            tool_err("agent: out of memory");
            return -1;
        }
        fill_random(hash_key, sizeof hash_key);
        rv = agent_core_new(&sh->core, &cfg->core, cap, hash_key, pool_rand, sh->rand_pool, r->keys,
                            &r->rt.gp);
        pdm_memzero(hash_key, sizeof hash_key);
        if (rv != 0) {
            tool_err("agent: %s", pdm_strerror(rv));
            return -1;
        }
    }
    return 0;
}

/* Signals: only the main thread takes them (signalfd); the queue threads
 * inherit the blocked mask. Returns 0 or -1 (message printed). */
static int run_signals(struct run *r)
{
    sigset_t sigs;

    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    if ((r->sfd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0) {
        tool_err("agent: signalfd: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Queues bound, rules in, privileges dropped, threads started: in that
 * order (see the top of this file). Returns 0 or -1 (message printed). */
static int run_start(struct run *r)
{
    const struct agent_config *cfg = r->cfg;
    char err[512];
    int fast;

    if (agent_privileges_check(cfg, err, sizeof err) != 0) {
        tool_err("agent: %s", err);
        return -1;
    }
    r->rt.keys = r->keys; /* the eBPF fast path answers its key requests from them */
    if ((fast = agent_ebpf_select(&r->rt)) < 0)
        return -1;
    for (r->nq = 0; !fast && r->nq < cfg->queue_count; r->nq++) {
        if (agent_nfq_open(&r->queues[r->nq], &r->rt, cfg->queue_first + r->nq, err, sizeof err) !=
            0) {
            tool_err("agent: %s", err);
            return -1;
        }
    }
    if (!fast && (r->rt.fw = agent_fw_install(cfg, err, sizeof err)) == AGENT_FW_NONE) {
        tool_err("agent: %s", err);
        return -1;
    }
    /* CAP_NET_ADMIN alone (nfnetlink checks it on every verdict; removing
     * the rules at exit needs it too), --user's uid (sandbox.c). */
    if (agent_privileges_drop(cfg, err, sizeof err) != 0) {
        tool_err("agent: %s", err);
        return -1;
    }
    /* From here no exec (the nft or ip6tables run at exit) gains privileges
     * by set-user-ID bits or file capabilities (docs/security.md). */
    if (tool_no_new_privs() != 0) {
        tool_err("agent: no_new_privs: %s", strerror(errno));
        return -1;
    }
    if (agent_main_sandbox(cfg, err, sizeof err) != 0) {
        tool_err("agent: seccomp: %s", err);
        return -1;
    }
    /* Threads from here on: they inherit CAP_NET_ADMIN alone and the
     * filter (capabilities and seccomp are per thread). */
    if (agent_ebpf_run(&r->rt) != 0)
        return -1;
    for (unsigned i = 0; i < r->nq; i++) {
        if (agent_nfq_start(r->queues[i], err, sizeof err) != 0) {
            tool_err("agent: %s", err);
            return -1;
        }
    }
    if (agent_metrics_start(&r->rt) != 0) /* after drop_caps: no capability for HTTP */
        return -1;
    if (cfg->verbose && !fast)
        fprintf(stderr, "pdm: agent: %zu peer prefix(es), queues %u-%u, rules by %s\n",
                cfg->core.npeers, cfg->queue_first, cfg->queue_first + r->nq - 1,
                agent_fw_name(r->rt.fw));
    /* Tests and scripts wait for this line before sending traffic. */
    fprintf(stderr, "pdm: agent: ready\n");
    return 0;
}

/* SIGHUP: the records file reopened (rotation), the secrets re-read. */
static void run_reload(struct run *r)
{
    char err[512];

    agent_records_reopen(&r->rt);
    if (r->keys == NULL)
        return;
    /* Secrets in use are wiped: stop every shard first. */
    for (unsigned i = 0; i < AGENT_SHARDS; i++)
        pthread_mutex_lock(&r->rt.shards[i].lock);
    if (agent_keys_reload(r->keys, err, sizeof err) != 0)
        tool_err("agent: reloading secrets: %s", err);
    for (unsigned i = AGENT_SHARDS; i-- > 0;)
        pthread_mutex_unlock(&r->rt.shards[i].lock);
}

/* Reads one signal. Returns 1 when it says stop. */
static int run_signal(struct run *r)
{
    struct signalfd_siginfo si;

    if (read(r->sfd, &si, sizeof si) != (ssize_t)sizeof si)
        return 0;
    if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
        return 1;
    if (si.ssi_signo == SIGHUP)
        run_reload(r);
    else if (si.ssi_signo == SIGUSR1)
        agent_status_write(stderr, &r->rt);
    return 0;
}

/* The main thread until a stop signal: signals, status requests, flow
 * expiry, the records file and the Kri history file. */
static void run_loop(struct run *r)
{
    for (;;) {
        struct pollfd pfd[2] = {{r->sfd, POLLIN, 0}, {r->cfd, POLLIN, 0}};
        /* With --records, wake every 50 ms to write the records buffer out
         * (AGENT_REC_BUF bytes each 50 ms: some 500,000 records a second). */
        int n = poll(pfd, 2, r->cfg->records_path != NULL ? 50 : 200);

        if (n < 0 && errno != EINTR)
            return;
        if (n > 0 && (pfd[0].revents & POLLIN) && run_signal(r))
            return;
        if (n > 0 && (pfd[1].revents & POLLIN))
            agent_control_serve(r->cfd, &r->rt);
        uint64_t now = realtime_ns();
        for (unsigned i = 0; i < AGENT_SHARDS; i++) {
            pthread_mutex_lock(&r->rt.shards[i].lock);
            agent_core_tick(r->rt.shards[i].core, now);
            pthread_mutex_unlock(&r->rt.shards[i].lock);
        }
        agent_ebpf_tick(&r->rt);
        agent_records_flush(&r->rt);
        agent_ipfix_tick(&r->rt, now);
        if (agent_keys_tick(r->keys))
            agent_keys_io(r->keys);
        agent_keys_maybe_prune(r->keys, &r->rt);
    }
}

/* Undoes whatever of the run was made, rules first (nothing new is
 * queued), then the threads drain and the queues unbind. Returns 0, or 1
 * when the rules or the records file could not be closed cleanly. */
static int run_stop(struct run *r)
{
    const struct agent_config *cfg = r->cfg;
    int status = 0;

    if (r->rt.fw != AGENT_FW_NONE && agent_fw_remove(cfg, r->rt.fw) != 0) {
        tool_err("agent: could not remove all rules (table/chains '%s')", cfg->table);
        status = 1;
    }
    __atomic_store_n(&r->rt.stop, 1, __ATOMIC_RELEASE);
    for (unsigned i = 0; i < r->nq; i++)
        agent_nfq_close(r->queues[i]);
    agent_metrics_stop(&r->rt);
    if (cfg->verbose && r->rt.shards[AGENT_SHARDS - 1].core != NULL)
        agent_status_write(stderr, &r->rt);
    agent_ebpf_close(&r->rt); /* the TCX links go (traffic flows on unmarked), last events read */
    if (agent_records_close(&r->rt) != 0)
        status = 1;
    agent_ipfix_close(&r->rt, realtime_ns());
    if (r->cfd >= 0) {
        close(r->cfd);
        unlink(cfg->control_path);
    }
    if (r->sfd >= 0)
        close(r->sfd);
    if (r->tsfd >= 0)
        close(r->tsfd);
    for (unsigned i = 0; i < AGENT_SHARDS; i++) {
        agent_core_free(r->rt.shards[i].core);
        if (r->rt.shards[i].rand_pool != NULL) {
            pdm_memzero(r->rt.shards[i].rand_pool, sizeof(struct rand_pool));
            free(r->rt.shards[i].rand_pool);
        }
        pthread_mutex_destroy(&r->rt.shards[i].lock);
    }
    agent_keys_free(r->keys);
    pthread_mutex_destroy(&r->rt.rec_lock);
    return status;
}

/* The agent proper, options parsed: set up, run, stop. */
static int run_agent(struct agent_config *cfg)
{
    struct run r;
    int status = 1;

    memset(&r, 0, sizeof r);
    r.cfg = cfg;
    r.rt.cfg = cfg;
    r.sfd = r.cfd = r.tsfd = -1;
    pthread_mutex_init(&r.rt.rec_lock, NULL);
    if (geteuid() != 0 && !cfg->keep_caps && cfg->verbose)
        /* Not fatal by itself (capabilities may have been granted), but
         * the likely cause of what fails next. */
        fprintf(stderr, "pdm: agent: not root; netfilter needs CAP_NET_ADMIN\n");
    if (run_shards(&r) != 0 || agent_records_open(&r.rt) != 0 || agent_ipfix_open(&r.rt) != 0 ||
        agent_metrics_listen(&r.rt) != 0 || (r.cfd = agent_control_listen(cfg->control_path)) < 0)
        goto out;
    if ((r.tsfd = agent_nfq_enable_timestamps()) < 0 && cfg->verbose)
        fprintf(stderr, "pdm: agent: no SO_TIMESTAMPNS: receive times are read later\n");
    if (run_signals(&r) != 0 || run_start(&r) != 0)
        goto out;
    status = 0;
    run_loop(&r);
out:
    if (run_stop(&r) != 0)
        status = 1;
    return status;
}

int cmd_agent(int argc, char **argv)
{
    struct cli cli;
    struct agent_config *cfg = &cli.cfg;

    int rv;

    memset(&cli, 0, sizeof cli);
    agent_config_init(cfg);
    if ((rv = parse_args(&cli, argc, argv)) != 0) {
        agent_config_free(cfg);
        return rv < 0 ? 0 : rv;
    }
    if (cli.status)
        rv = agent_status_client(cfg->control_path);
    else if (cfg->core.npeers == 0) {
        tool_err("agent: no --peer given (try 'pdm agent --help')");
        rv = 2;
    } else
        rv = run_agent(cfg);
    agent_config_free(cfg);
    return rv;
}
