/*
 * pdm agent: adds the PDM option to any application's IPv6 traffic with the
 * enabled peers and reads theirs, in user space (NFQUEUE), without changing
 * the applications. docs/agent.md explains the design; pdm-agent(8) the use.
 *
 *   pdm agent --peer PREFIX[,mode=M,...] [--mode pdm|v2|v2-encrypted] ...
 *   pdm agent --status [--control PATH]
 *
 * This file: options, set-up order, signals, the status socket, the records
 * file and privileges. The packet logic is agent_core.c; the queue I/O is
 * agent_nfq.c; the rules are agent_fw.c.
 *
 * Set-up order, so that no packet is ever lost to the agent starting or
 * stopping: bind the queues, install the rules (fail-open: a queued packet
 * with no listener passes), drop privileges, start the queue threads. On
 * SIGTERM/SIGINT: remove the rules, let the threads drain what is queued,
 * unbind, flush the records.
 */
#include "common/tools.h"

#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: pdm agent --peer PREFIX[,mode=M][,rotate-packets=N][,rotate-seconds=S] ...\n"
    "                 [--mode pdm|v2|v2-encrypted] [--config FILE] [--records FILE]\n"
    "                 [--store DIR] [--keylog FILE] [--primary-secret FILE] [--state FILE]\n"
    "                 [--queue N[-M]] [--fanout] [--passthrough] [--control PATH]\n"
    "                 [--firewall auto|nft|ip6tables] [--table NAME] [--option-type T]\n"
    "                 [--flows N] [--idle-seconds S] [--psn-window N] [--no-clamp-mss]\n"
    "                 [--keep-caps] [-v]\n"
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
    "  --store DIR, --keylog FILE, --primary-secret FILE\n"
    "                    where v2-encrypted secrets come from\n"
    "  --state FILE      v2-encrypted: where Kri history survives restarts\n"
    "  --queue N[-M]     NFQUEUE numbers (default 0); one thread per queue\n"
    "  --fanout          spread packets over the queues by CPU (default: by\n"
    "                    address pair, which keeps each flow on one queue)\n"
    "  --passthrough     queue and accept unchanged (measures NFQUEUE's cost)\n"
    "  --control PATH    status socket (default " AGENT_DEFAULT_CONTROL ")\n"
    "  --status          print the running agent's counters and exit\n";

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

#define CLI_PEERS_MAX AGENT_PEERS_MAX

struct cli {
    struct agent_config cfg;
    const char *peer_args[CLI_PEERS_MAX];
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

/* Returns 0, 2 (usage error, message printed) or -1 (--help printed). */
static int parse_args(struct cli *c, int argc, char **argv)
{
    struct agent_config *cfg = &c->cfg;
    char err[256];
    const char *v;
    uint64_t u;
    int r;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
#define FLAG(name) ((r = tool_flag_value(argc, argv, &i, name, &v)) != 0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_text, stdout);
            return -1; /* done: exit status 0 */
        } else if (!strcmp(a, "--status")) {
            c->status = 1;
        } else if (!strcmp(a, "--fanout")) {
            cfg->fanout = 1;
        } else if (!strcmp(a, "--passthrough")) {
            cfg->passthrough = 1;
        } else if (!strcmp(a, "--no-clamp-mss")) {
            cfg->core.clamp_mss = 0;
        } else if (!strcmp(a, "--keep-caps")) {
            cfg->keep_caps = 1;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            cfg->verbose++;
        } else if (FLAG("--peer")) {
            if (r < 0)
                goto missing;
            if (c->npeer_args == CLI_PEERS_MAX) {
                tool_err("agent: more than %d --peer", CLI_PEERS_MAX);
                return 2;
            }
            c->peer_args[c->npeer_args++] = v;
        } else if (FLAG("--mode")) {
            if (r < 0)
                goto missing;
            if (agent_parse_mode(v, &c->mode) != 0) {
                tool_err("agent: unknown mode '%s' (pdm, v2, v2-encrypted)", v);
                return 2;
            }
            c->mode_given = 1;
        } else if (FLAG("--config")) {
            if (r < 0)
                goto missing;
            if (agent_config_load(cfg, v, err, sizeof err) != 0) {
                tool_err("agent: %s", err);
                return 2;
            }
        } else if (FLAG("--records")) {
            if (r < 0)
                goto missing;
            cfg->records_path = v;
        } else if (FLAG("--store")) {
            if (r < 0)
                goto missing;
            cfg->tool_store_dir = v;
        } else if (FLAG("--keylog")) {
            if (r < 0)
                goto missing;
            cfg->keylog_path = v;
        } else if (FLAG("--primary-secret")) {
            if (r < 0)
                goto missing;
            cfg->primary_secret_path = v;
        } else if (FLAG("--state")) {
            if (r < 0)
                goto missing;
            cfg->state_path = v;
        } else if (FLAG("--control")) {
            if (r < 0)
                goto missing;
            cfg->control_path = v;
        } else if (FLAG("--firewall")) {
            if (r < 0)
                goto missing;
            cfg->firewall = v;
        } else if (FLAG("--table")) {
            if (r < 0)
                goto missing;
            cfg->table = v;
        } else if (FLAG("--queue")) {
            if (r < 0)
                goto missing;
            if (agent_parse_queues(v, &cfg->queue_first, &cfg->queue_count) != 0) {
                tool_err("agent: --queue '%s' is not N or N-M (at most %d queues)", v,
                         AGENT_QUEUES_MAX);
                return 2;
            }
        } else if (FLAG("--option-type")) {
            if (r < 0)
                goto missing;
            if (tool_parse_u64(v, 255, &u) != 0 || !agent_opt_type_ok(u)) {
                tool_err("agent: --option-type '%s' is not 0..63 (action bits 00: receivers "
                         "that do not know it must skip it, not drop the packet)",
                         v);
                return 2;
            }
            cfg->core.opt_type = (uint8_t)u;
        } else if (FLAG("--flows")) {
            if (r < 0)
                goto missing;
            if (tool_parse_u64(v, PDM_FLOW_CAPACITY_MAX, &u) != 0 || u == 0) {
                tool_err("agent: --flows '%s' is not 1..%zu", v, (size_t)PDM_FLOW_CAPACITY_MAX);
                return 2;
            }
            cfg->core.flow_capacity = (size_t)u;
        } else if (FLAG("--idle-seconds")) {
            if (r < 0)
                goto missing;
            if (tool_parse_u64(v, 1000000000u, &u) != 0) {
                tool_err("agent: --idle-seconds '%s' is not a number", v);
                return 2;
            }
            cfg->core.idle_timeout_ns = u * 1000000000u;
        } else if (FLAG("--psn-window")) {
            if (r < 0)
                goto missing;
            if (tool_parse_u64(v, 32767, &u) != 0 || u == 0) {
                tool_err("agent: --psn-window '%s' is not 1..32767", v);
                return 2;
            }
            cfg->core.psn_window = (uint16_t)u;
        } else {
            tool_err("agent: unknown argument '%s' (try 'pdm agent --help')", a);
            return 2;
        }
        continue;
    missing:
        tool_err("agent: %s needs a value", a);
        return 2;
#undef FLAG
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

/* ---- status -------------------------------------------------------------- */

static const char *fw_name(enum agent_fw_kind k)
{
    return k == AGENT_FW_NFT ? "nft" : k == AGENT_FW_IP6TABLES ? "ip6tables" : "none";
}

/* Writes the counters as "name value" lines. */
static void write_status(FILE *f, struct agent_rt *rt, enum agent_fw_kind fw)
{
    uint64_t ctr[AGENT_C_MAX], rw, re, np, nb, ve, eb, tr;
    size_t flows;

    memset(ctr, 0, sizeof ctr);
    flows = 0;
    for (unsigned i = 0; i < AGENT_SHARDS; i++) {
        struct agent_shard *sh = &rt->shards[i];
        uint64_t c[AGENT_C_MAX];
        if (sh->core == NULL)
            continue;
        pthread_mutex_lock(&sh->lock);
        agent_core_counters(sh->core, c);
        flows += agent_core_flows(sh->core);
        pthread_mutex_unlock(&sh->lock);
        for (int k = 0; k < AGENT_C_MAX; k++)
            ctr[k] += c[k];
    }
    pthread_mutex_lock(&rt->rec_lock);
    rw = rt->records_written;
    re = rt->records_errors;
    pthread_mutex_unlock(&rt->rec_lock);
    np = __atomic_load_n(&rt->nfq_packets, __ATOMIC_RELAXED);
    nb = __atomic_load_n(&rt->nfq_batches, __ATOMIC_RELAXED);
    ve = __atomic_load_n(&rt->nfq_verdict_errors, __ATOMIC_RELAXED);
    eb = __atomic_load_n(&rt->nfq_enobufs, __ATOMIC_RELAXED);
    tr = __atomic_load_n(&rt->nfq_truncated, __ATOMIC_RELAXED);

    fprintf(f, "pid %ld\n", (long)getpid());
    fprintf(f, "queues %u-%u\n", rt->cfg->queue_first,
            rt->cfg->queue_first + rt->cfg->queue_count - 1);
    fprintf(f, "firewall %s\n", fw_name(fw));
    fprintf(f, "passthrough %d\n", rt->cfg->passthrough);
    fprintf(f, "flows %zu\n", flows);
    for (int i = 0; i < AGENT_C_MAX; i++)
        fprintf(f, "%s %" PRIu64 "\n", agent_counter_name((enum agent_counter)i), ctr[i]);
    fprintf(f, "records_written %" PRIu64 "\n", rw);
    fprintf(f, "records_errors %" PRIu64 "\n", re);
    fprintf(f, "nfq_packets %" PRIu64 "\n", np);
    fprintf(f, "nfq_batches %" PRIu64 "\n", nb);
    fprintf(f, "nfq_verdict_errors %" PRIu64 "\n", ve);
    fprintf(f, "nfq_enobufs %" PRIu64 "\n", eb);
    fprintf(f, "nfq_truncated %" PRIu64 "\n", tr);
}

static int control_addr(struct sockaddr_un *sa, const char *path)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa->sun_path)
        return -1;
    strcpy(sa->sun_path, path);
    return 0;
}

/* `pdm agent --status`: copies what the agent writes on its socket. */
static int status_client(const char *path)
{
    struct sockaddr_un sa;
    char buf[4096];
    ssize_t n;
    int fd;

    if (control_addr(&sa, path) != 0) {
        tool_err("agent: control path too long");
        return 2;
    }
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        tool_err("agent: no agent answers on %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    while ((n = read(fd, buf, sizeof buf)) > 0)
        fwrite(buf, 1, (size_t)n, stdout);
    close(fd);
    return n < 0 ? 1 : 0;
}

/* Creates the status socket (its directory too); refuses when another
 * agent answers on it, replaces a stale one. Returns the fd or -1. */
static int control_listen(const char *path)
{
    struct sockaddr_un sa;
    char dir[sizeof sa.sun_path];
    int fd;

    if (control_addr(&sa, path) != 0) {
        tool_err("agent: control path too long");
        return -1;
    }
    strcpy(dir, path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
            tool_err("agent: cannot create %s: %s", dir, strerror(errno));
            return -1;
        }
    }
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        tool_err("agent: another agent is running (it answers on %s)", path);
        close(fd);
        return -1;
    }
    close(fd);
    unlink(path);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
        return -1;
    mode_t old = umask(0077); /* counters are for root's eyes */
    int rv = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rv != 0 || listen(fd, 8) != 0) {
        tool_err("agent: cannot listen on %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void control_serve(int lfd, struct agent_rt *rt, enum agent_fw_kind fw)
{
    int fd;

    while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
        FILE *f = fdopen(fd, "w");
        if (f == NULL) {
            close(fd);
            continue;
        }
        write_status(f, rt, fw);
        fclose(f);
    }
}

/* ---- records ------------------------------------------------------------- */

static FILE *records_open(const char *path)
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

/* ---- privileges ------------------------------------------------------------ */

/*
 * Keeps CAP_NET_ADMIN only (nfnetlink checks it on every verdict; removing
 * the rules at exit needs it too), in the effective, permitted and bounding
 * sets, with no inheritable or ambient ones. Capabilities are per thread:
 * called before the queue threads start, they inherit it. The nft or
 * ip6tables run at exit are root processes whose capabilities the bounding
 * set limits to CAP_NET_ADMIN.
 */
static int drop_caps(void)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    unsigned long last = CAP_LAST_CAP;
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");

    if (f != NULL) {
        if (fscanf(f, "%lu", &last) != 1)
            last = CAP_LAST_CAP;
        fclose(f);
    }
    for (unsigned long cap = 0; cap <= last; cap++) {
        if (cap != CAP_NET_ADMIN && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
            return -1;
    }
    (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    memset(data, 0, sizeof data);
    data[CAP_NET_ADMIN / 32].effective = 1u << (CAP_NET_ADMIN % 32);
    data[CAP_NET_ADMIN / 32].permitted = 1u << (CAP_NET_ADMIN % 32);
    return (int)syscall(SYS_capset, &hdr, data);
}

/* ---- main -------------------------------------------------------------------- */

int cmd_agent(int argc, char **argv)
{
    struct cli cli;
    struct agent_config *cfg = &cli.cfg;
    struct agent_rt rt;
    struct agent_nfq *queues[AGENT_QUEUES_MAX] = {0};
    struct agent_keys *keys = NULL;
    enum agent_fw_kind fw = AGENT_FW_NONE;
    uint8_t hash_key[PDM_FLOW_HASH_KEY_SIZE];
    char err[512];
    sigset_t sigs;
    int rv, status = 1, sfd = -1, cfd = -1, tsfd = -1;
    unsigned nq = 0;
    size_t shard_cap;
    int need_keys = 0;

    memset(&cli, 0, sizeof cli);
    agent_config_init(cfg);
    if ((rv = parse_args(&cli, argc, argv)) != 0) {
        agent_config_free(cfg);
        return rv < 0 ? 0 : rv;
    }
    if (cli.status) {
        rv = status_client(cfg->control_path);
        agent_config_free(cfg);
        return rv;
    }
    if (cfg->core.npeers == 0) {
        tool_err("agent: no --peer given (try 'pdm agent --help')");
        agent_config_free(cfg);
        return 2;
    }
    for (size_t i = 0; i < cfg->core.npeers; i++)
        need_keys |= cfg->core.peers[i].mode == PDM_FORMAT_V2_ENCRYPTED;
    if (geteuid() != 0 && !cfg->keep_caps) {
        /* Not fatal by itself (capabilities may have been granted), but
         * the likely cause of what fails next. */
        if (cfg->verbose)
            fprintf(stderr, "pdm: agent: not root; netfilter needs CAP_NET_ADMIN\n");
    }

    memset(&rt, 0, sizeof rt);
    rt.cfg = cfg;
    pthread_mutex_init(&rt.rec_lock, NULL);
    {
        /* Held for one packet's core call at a time: spin a little before
         * sleeping (glibc's adaptive mutex), cheaper than a futex wait for
         * such short sections. */
        pthread_mutexattr_t ma;
        pthread_mutexattr_init(&ma);
        pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
        for (unsigned i = 0; i < AGENT_SHARDS; i++)
            pthread_mutex_init(&rt.shards[i].lock, &ma);
        pthread_mutexattr_destroy(&ma);
    }

    if (need_keys && !cfg->passthrough) {
        if (cfg->tool_store_dir == NULL && cfg->keylog_path == NULL &&
            cfg->primary_secret_path == NULL)
            fprintf(stderr, "pdm: agent: v2-encrypted peers but no --store, --keylog or "
                            "--primary-secret: their packets go out unchanged\n");
        if (agent_keys_load(&keys, cfg->tool_store_dir, cfg->keylog_path, cfg->primary_secret_path,
                            cfg->state_path, err, sizeof err) != 0) {
            tool_err("agent: %s", err);
            goto out;
        }
    }
    fill_random(&rt.shard_seed, sizeof rt.shard_seed);
    /* Flows spread evenly over the shards: a quarter more room each than
     * an exact share, for the unevenness of hashing. */
    shard_cap =
        cfg->core.flow_capacity / AGENT_SHARDS + cfg->core.flow_capacity / (4 * AGENT_SHARDS);
    if (shard_cap < 64)
        shard_cap = 64;
    for (unsigned i = 0; i < AGENT_SHARDS; i++) {
        struct agent_shard *sh = &rt.shards[i];
        if ((sh->rand_pool = calloc(1, sizeof(struct rand_pool))) == NULL) {
            tool_err("agent: out of memory");
            goto out;
        }
        fill_random(hash_key, sizeof hash_key);
        rv = agent_core_new(&sh->core, &cfg->core, shard_cap, hash_key, pool_rand, sh->rand_pool,
                            keys, &rt.gp);
        pdm_memzero(hash_key, sizeof hash_key);
        if (rv != 0) {
            tool_err("agent: %s", pdm_strerror(rv));
            goto out;
        }
    }
    if (cfg->records_path != NULL) {
        if ((rt.records = records_open(cfg->records_path)) == NULL)
            goto out;
        if ((rt.rec_buf[0] = malloc(AGENT_REC_BUF)) == NULL ||
            (rt.rec_buf[1] = malloc(AGENT_REC_BUF)) == NULL) {
            tool_err("agent: out of memory for the records buffers");
            goto out;
        }
    }
    if ((cfd = control_listen(cfg->control_path)) < 0)
        goto out;
    if ((tsfd = agent_nfq_enable_timestamps()) < 0 && cfg->verbose)
        fprintf(stderr, "pdm: agent: no SO_TIMESTAMPNS: receive times are read later\n");

    /* Signals: only the main thread takes them (signalfd); the queue
     * threads inherit the blocked mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    if ((sfd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0) {
        tool_err("agent: signalfd: %s", strerror(errno));
        goto out;
    }

    for (nq = 0; nq < cfg->queue_count; nq++) {
        if (agent_nfq_open(&queues[nq], &rt, cfg->queue_first + nq, err, sizeof err) != 0) {
            tool_err("agent: %s", err);
            goto out;
        }
    }
    if ((fw = agent_fw_install(cfg, err, sizeof err)) == AGENT_FW_NONE) {
        tool_err("agent: %s", err);
        goto out;
    }
    if (!cfg->keep_caps && drop_caps() != 0) {
        tool_err("agent: cannot drop capabilities: %s", strerror(errno));
        goto out;
    }
    for (unsigned i = 0; i < nq; i++) {
        if (agent_nfq_start(queues[i], err, sizeof err) != 0) {
            tool_err("agent: %s", err);
            goto out;
        }
    }
    if (cfg->verbose)
        fprintf(stderr, "pdm: agent: %zu peer prefix(es), queues %u-%u, rules by %s\n",
                cfg->core.npeers, cfg->queue_first, cfg->queue_first + nq - 1, fw_name(fw));
    /* Tests and scripts wait for this line before sending traffic. */
    fprintf(stderr, "pdm: agent: ready\n");

    status = 0;
    for (;;) {
        struct pollfd pfd[2] = {{sfd, POLLIN, 0}, {cfd, POLLIN, 0}};
        /* With --records, wake every 50 ms to write the records buffer out
         * (AGENT_REC_BUF bytes each 50 ms: some 500,000 records a second). */
        int n = poll(pfd, 2, cfg->records_path != NULL ? 50 : 200);

        if (n < 0 && errno != EINTR)
            break;
        if (n > 0 && (pfd[0].revents & POLLIN)) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
                    break;
                if (si.ssi_signo == SIGHUP) {
                    /* The file is this thread's alone: write what is
                     * pending to the old file, then reopen (log rotation). */
                    if (cfg->records_path != NULL) {
                        agent_records_flush(&rt);
                        if (rt.records != NULL)
                            fclose(rt.records);
                        rt.records = records_open(cfg->records_path);
                    }
                    if (keys != NULL) {
                        /* Secrets in use are wiped: stop every shard first. */
                        for (unsigned i = 0; i < AGENT_SHARDS; i++)
                            pthread_mutex_lock(&rt.shards[i].lock);
                        if (agent_keys_reload(keys, err, sizeof err) != 0)
                            tool_err("agent: reloading secrets: %s", err);
                        for (unsigned i = AGENT_SHARDS; i-- > 0;)
                            pthread_mutex_unlock(&rt.shards[i].lock);
                    }
                } else if (si.ssi_signo == SIGUSR1) {
                    write_status(stderr, &rt, fw);
                }
            }
        }
        if (n > 0 && (pfd[1].revents & POLLIN))
            control_serve(cfd, &rt, fw);
        uint64_t now = realtime_ns();
        for (unsigned i = 0; i < AGENT_SHARDS; i++) {
            pthread_mutex_lock(&rt.shards[i].lock);
            agent_core_tick(rt.shards[i].core, now);
            pthread_mutex_unlock(&rt.shards[i].lock);
        }
        agent_records_flush(&rt);
        if (agent_keys_tick(keys))
            agent_keys_io(keys);
    }

out:
    /* Rules first, so that nothing new is queued; then drain and unbind. */
    if (fw != AGENT_FW_NONE && agent_fw_remove(cfg, fw) != 0) {
        tool_err("agent: could not remove all rules (table/chains '%s')", cfg->table);
        status = 1;
    }
    __atomic_store_n(&rt.stop, 1, __ATOMIC_RELEASE);
    for (unsigned i = 0; i < nq; i++)
        agent_nfq_close(queues[i]);
    if (cfg->verbose && rt.shards[AGENT_SHARDS - 1].core != NULL)
        write_status(stderr, &rt, fw);
    /* The queue threads are gone: both buffers may hold records. */
    agent_records_flush(&rt);
    agent_records_flush(&rt);
    if (rt.records != NULL && fclose(rt.records) != 0)
        status = 1;
    free(rt.rec_buf[0]);
    free(rt.rec_buf[1]);
    if (cfd >= 0) {
        close(cfd);
        unlink(cfg->control_path);
    }
    if (sfd >= 0)
        close(sfd);
    if (tsfd >= 0)
        close(tsfd);
    for (unsigned i = 0; i < AGENT_SHARDS; i++) {
        agent_core_free(rt.shards[i].core);
        if (rt.shards[i].rand_pool != NULL) {
            pdm_memzero(rt.shards[i].rand_pool, sizeof(struct rand_pool));
            free(rt.shards[i].rand_pool);
        }
        pthread_mutex_destroy(&rt.shards[i].lock);
    }
    agent_keys_free(keys);
    pthread_mutex_destroy(&rt.rec_lock);
    agent_config_free(cfg);
    return status;
}
