/*
 * The agent's netfilter rules: queue the enabled peers' IPv6 packets, and
 * nothing else, to the agent's NFQUEUE queues; take them away on exit.
 *
 * nftables first (one table of our own, replaced atomically with a stale
 * one from a crashed run in the same transaction):
 *
 *   table ip6 openpdm {
 *     set peers { type ipv6_addr; flags interval; elements = { PREFIXES } }
 *     chain egress {                                  # locally sent packets
 *       type filter hook output priority 300; policy accept;
 *       ip6 daddr != @peers return
 *       icmpv6 type { 130-137, 141-143, 148-149, 151-153 } return   # ND, MLD
 *       queue num 0-1 bypass                          # or bypass,fanout
 *     }
 *     chain ingress {                                 # packets for this host
 *       type filter hook input priority -300; policy accept;
 *       icmpv6 type packet-too-big queue num 0-1 bypass   # path MTU (core.c)
 *       ip6 saddr != @peers return
 *       icmpv6 type { ... } return
 *       queue num 0-1 bypass
 *     }
 *   }
 *
 * Egress sits late (priority 300, after the usual filter and mangle
 * chains) so that a PSN is spent only on packets the host lets out;
 * ingress early. "bypass" is fail-open: with no agent listening, packets
 * pass unchanged. When the kernel has no nft queue support (nft_queue
 * missing: the error is "No such file or directory"), the same rules go
 * into chains of their own in ip6tables' mangle table, jumped to first
 * from OUTPUT and INPUT, with the NFQUEUE target and --queue-bypass.
 */
#include "agent.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ICMPv6 types kept local to the link (core.c says why). */
static const unsigned excluded_icmp[] = {130, 131, 132, 133, 134, 135, 136, 137,
                                         141, 142, 143, 148, 149, 151, 152, 153};
#define NEXCLUDED (sizeof excluded_icmp / sizeof excluded_icmp[0])

#define SCRIPT_MAX 16384

/*
 * Runs argv (PATH searched) with `input` on its standard input (may be
 * NULL), output and errors thrown away when quiet. Returns the exit status,
 * or -1 when it could not run.
 */
static int run(char *const argv[], const char *input, int quiet)
{
    posix_spawn_file_actions_t fa;
    int pfd[2] = {-1, -1}, status = 0, rv = -1;
    pid_t pid;

    if (posix_spawn_file_actions_init(&fa) != 0)
        return -1;
    if (input != NULL) {
        if (pipe2(pfd, O_CLOEXEC) != 0)
            goto out;
        posix_spawn_file_actions_adddup2(&fa, pfd[0], 0);
    } else {
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    }
    if (quiet) {
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    }
    if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0)
        goto out;
    if (input != NULL) {
        size_t len = strlen(input), off = 0;
        close(pfd[0]);
        pfd[0] = -1;
        while (off < len) {
            ssize_t n = write(pfd[1], input + off, len - off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            off += (size_t)n;
        }
        close(pfd[1]);
        pfd[1] = -1;
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            goto out;
    }
    rv = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
out:
    if (pfd[0] >= 0)
        close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
    posix_spawn_file_actions_destroy(&fa);
    return rv;
}

static void appendf(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void appendf(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*len >= cap)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    *len += (size_t)n;
}

static void prefix_text(const struct agent_peer *p, char *out, size_t cap)
{
    char a[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, p->prefix, a, sizeof a);
    snprintf(out, cap, "%s/%u", a, (unsigned)p->plen);
}

/* ---- nftables ------------------------------------------------------------ */

static void nft_queue_stmt(const struct agent_config *cfg, char *buf, size_t cap, size_t *len)
{
    if (cfg->queue_count > 1)
        appendf(buf, cap, len, "queue num %u-%u %s", cfg->queue_first,
                cfg->queue_first + cfg->queue_count - 1, cfg->fanout ? "bypass,fanout" : "bypass");
    else
        appendf(buf, cap, len, "queue num %u bypass", cfg->queue_first);
}

static void nft_chain(const struct agent_config *cfg, char *buf, size_t cap, size_t *len,
                      const char *name, const char *hook, int prio, const char *field)
{
    appendf(buf, cap, len, "  chain %s {\n    type filter hook %s priority %d; policy accept;\n",
            name, hook, prio);
    if (!strcmp(hook, "input")) {
        /* Packet Too Big about our packets comes from routers, not peers:
         * the agent learns the path MTU from it (core.c). */
        appendf(buf, cap, len, "    icmpv6 type packet-too-big ");
        nft_queue_stmt(cfg, buf, cap, len);
        appendf(buf, cap, len, "\n");
    }
    appendf(buf, cap, len, "    ip6 %s != @peers return\n    icmpv6 type { ", field);
    for (size_t i = 0; i < NEXCLUDED; i++)
        appendf(buf, cap, len, "%s%u", i ? ", " : "", excluded_icmp[i]);
    appendf(buf, cap, len, " } return\n    ");
    nft_queue_stmt(cfg, buf, cap, len);
    appendf(buf, cap, len, "\n  }\n");
}

static int nft_install(const struct agent_config *cfg, int quiet)
{
    char *buf = malloc(SCRIPT_MAX), pfx[INET6_ADDRSTRLEN + 8];
    char *argv[] = {"nft", "-f", "-", NULL};
    size_t len = 0;
    int rv;

    if (buf == NULL)
        return -1;
    /* Creating then deleting the table makes "delete" safe when there is
     * none; the whole script is one transaction, so a stale table of a
     * crashed run is replaced atomically. */
    appendf(buf, SCRIPT_MAX, &len, "table ip6 %s\ndelete table ip6 %s\ntable ip6 %s {\n",
            cfg->table, cfg->table, cfg->table);
    appendf(buf, SCRIPT_MAX, &len,
            "  set peers {\n    type ipv6_addr; flags interval;\n    elements = { ");
    for (size_t i = 0; i < cfg->core.npeers; i++) {
        prefix_text(&cfg->core.peers[i], pfx, sizeof pfx);
        appendf(buf, SCRIPT_MAX, &len, "%s%s", i ? ", " : "", pfx);
    }
    appendf(buf, SCRIPT_MAX, &len, " }\n  }\n");
    nft_chain(cfg, buf, SCRIPT_MAX, &len, "egress", "output", 300, "daddr");
    nft_chain(cfg, buf, SCRIPT_MAX, &len, "ingress", "input", -300, "saddr");
    appendf(buf, SCRIPT_MAX, &len, "}\n");
    rv = len < SCRIPT_MAX ? run(argv, buf, quiet) : -1;
    free(buf);
    return rv == 0 ? 0 : -1;
}

static int nft_remove(const struct agent_config *cfg)
{
    char script[256];
    char *argv[] = {"nft", "-f", "-", NULL};

    snprintf(script, sizeof script, "table ip6 %s\ndelete table ip6 %s\n", cfg->table, cfg->table);
    return run(argv, script, 1) == 0 ? 0 : -1;
}

/* ---- ip6tables ------------------------------------------------------------- */

/* "OPENPDM-OUT" / "OPENPDM-IN" from the table name (xtables: 28 chars max). */
static void chain_name(const struct agent_config *cfg, const char *suffix, char *out, size_t cap)
{
    size_t i = 0;
    for (; cfg->table[i] != '\0' && i < 20 && i + 1 < cap; i++)
        out[i] = (char)toupper((unsigned char)cfg->table[i]);
    out[i] = '\0';
    snprintf(out + i, cap - i, "-%s", suffix);
}

static int ipt(int quiet, ...)
{
    char *argv[32];
    size_t n = 0;
    va_list ap;

    argv[n++] = "ip6tables";
    argv[n++] = "-w";
    argv[n++] = "-t";
    argv[n++] = "mangle";
    va_start(ap, quiet);
    for (char *a = va_arg(ap, char *); a != NULL && n + 1 < 32; a = va_arg(ap, char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return run(argv, NULL, quiet);
}

static int ipt_remove(const struct agent_config *cfg)
{
    char out[32], in[32];
    int rv = 0;

    chain_name(cfg, "OUT", out, sizeof out);
    chain_name(cfg, "IN", in, sizeof in);
    /* A crashed run may have left more than one jump: remove them all. */
    for (int i = 0; i < 16 && ipt(1, "-D", "OUTPUT", "-j", out, NULL) == 0; i++)
        ;
    for (int i = 0; i < 16 && ipt(1, "-D", "INPUT", "-j", in, NULL) == 0; i++)
        ;
    if (ipt(1, "-F", out, NULL) == 0 && ipt(1, "-X", out, NULL) != 0)
        rv = -1;
    if (ipt(1, "-F", in, NULL) == 0 && ipt(1, "-X", in, NULL) != 0)
        rv = -1;
    return rv;
}

/*
 * Appends to chain a rule made of the match words m[0..n) and `-j NFQUEUE`
 * to cfg's queues, fail-open.
 */
static int ipt_queue(const struct agent_config *cfg, const char *chain, char *const *m, size_t n)
{
    char qa[16], qb[32], ch[32];
    char *argv[24];
    size_t k = 0;

    snprintf(qa, sizeof qa, "%u", cfg->queue_first);
    snprintf(qb, sizeof qb, "%u:%u", cfg->queue_first, cfg->queue_first + cfg->queue_count - 1);
    snprintf(ch, sizeof ch, "%s", chain);
    argv[k++] = "ip6tables";
    argv[k++] = "-w";
    argv[k++] = "-t";
    argv[k++] = "mangle";
    argv[k++] = "-A";
    argv[k++] = ch;
    for (size_t i = 0; i < n && k < 12; i++)
        argv[k++] = m[i];
    argv[k++] = "-j";
    argv[k++] = "NFQUEUE";
    if (cfg->queue_count == 1) {
        argv[k++] = "--queue-num";
        argv[k++] = qa;
    } else {
        argv[k++] = "--queue-balance";
        argv[k++] = qb;
        if (cfg->fanout)
            argv[k++] = "--queue-cpu-fanout";
    }
    argv[k++] = "--queue-bypass";
    argv[k] = NULL;
    return run(argv, NULL, 0);
}

static int ipt_fill(const struct agent_config *cfg, const char *chain, const char *dirflag)
{
    char pfx[INET6_ADDRSTRLEN + 8], t[8];

    /* Packet Too Big from routers (see nft_chain). */
    char *ptb[] = {"-p", "ipv6-icmp", "--icmpv6-type", "packet-too-big"};
    if (!strcmp(dirflag, "-s") && ipt_queue(cfg, chain, ptb, 4) != 0)
        return -1;
    for (size_t i = 0; i < NEXCLUDED; i++) {
        snprintf(t, sizeof t, "%u", excluded_icmp[i]);
        if (ipt(0, "-A", chain, "-p", "ipv6-icmp", "--icmpv6-type", t, "-j", "RETURN", NULL) != 0)
            return -1;
    }
    for (size_t i = 0; i < cfg->core.npeers; i++) {
        char *m[] = {(char *)(uintptr_t)dirflag, pfx};
        prefix_text(&cfg->core.peers[i], pfx, sizeof pfx);
        if (ipt_queue(cfg, chain, m, 2) != 0)
            return -1;
    }
    return 0;
}

static int ipt_install(const struct agent_config *cfg)
{
    char out[32], in[32];

    chain_name(cfg, "OUT", out, sizeof out);
    chain_name(cfg, "IN", in, sizeof in);
    ipt_remove(cfg);
    if (ipt(0, "-N", out, NULL) != 0 || ipt(0, "-N", in, NULL) != 0)
        goto fail;
    if (ipt_fill(cfg, out, "-d") != 0 || ipt_fill(cfg, in, "-s") != 0)
        goto fail;
    /* Jumps last, once the chains are complete. */
    if (ipt(0, "-I", "OUTPUT", "1", "-j", out, NULL) != 0 ||
        ipt(0, "-I", "INPUT", "1", "-j", in, NULL) != 0)
        goto fail;
    return 0;
fail:
    ipt_remove(cfg);
    return -1;
}

/* ---- entry points ------------------------------------------------------ */

/*
 * The table name goes verbatim into an nft script and into ip6tables chain
 * names (cut to 20 characters there): anything but a plain word could
 * inject nft statements (a newline, ';', '{') or make two names share
 * chains, so the name is checked before any rule is touched.
 */
static int table_name_ok(const char *t)
{
    size_t n = 0;

    if (t == NULL)
        return 0;
    for (; t[n] != '\0'; n++) {
        unsigned char ch = (unsigned char)t[n];
        if (!isalnum(ch) && ch != '_' && ch != '-')
            return 0;
    }
    /* A leading '-' would read as an option to ip6tables or nft. */
    return n >= 1 && n <= 20 && isalnum((unsigned char)t[0]);
}

enum agent_fw_kind agent_fw_install(const struct agent_config *cfg, char *err, size_t errlen)
{
    const char *fw = cfg->firewall;

    if (strcmp(fw, "auto") && strcmp(fw, "nft") && strcmp(fw, "ip6tables")) {
        snprintf(err, errlen, "unknown firewall '%s' (auto, nft, ip6tables)", fw);
        return AGENT_FW_NONE;
    }
    if (cfg->core.npeers == 0) {
        snprintf(err, errlen, "no peer to enable");
        return AGENT_FW_NONE;
    }
    if (!table_name_ok(cfg->table)) {
        snprintf(err, errlen,
                 "table name must be 1 to 20 letters, digits, '_' or '-', starting with a letter "
                 "or digit");
        return AGENT_FW_NONE;
    }
    if (strcmp(fw, "ip6tables") != 0) {
        /* In auto mode nft's complaint (no nft_queue in the kernel, say) is
         * expected and kept quiet; ip6tables is tried next. */
        if (nft_install(cfg, !strcmp(fw, "auto")) == 0) {
            /* Rules of a crashed run that used the other back end. */
            ipt_remove(cfg);
            return AGENT_FW_NFT;
        }
        if (!strcmp(fw, "nft")) {
            snprintf(err, errlen, "nft could not install table ip6 %s", cfg->table);
            return AGENT_FW_NONE;
        }
    }
    nft_remove(cfg);
    if (ipt_install(cfg) == 0)
        return AGENT_FW_IP6TABLES;
    snprintf(err, errlen, "could not install rules with %s",
             !strcmp(fw, "auto") ? "nft or ip6tables" : fw);
    return AGENT_FW_NONE;
}

int agent_fw_remove(const struct agent_config *cfg, enum agent_fw_kind kind)
{
    switch (kind) {
    case AGENT_FW_NFT:
        return nft_remove(cfg);
    case AGENT_FW_IP6TABLES:
        return ipt_remove(cfg);
    case AGENT_FW_NONE:
        break;
    }
    return 0;
}

const char *agent_fw_name(enum agent_fw_kind kind)
{
    return kind == AGENT_FW_NFT ? "nft" : kind == AGENT_FW_IP6TABLES ? "ip6tables" : "none";
}
