/*
 * Registration benchmark (docs/profile.md §4): handshakes per second that
 * `pdm registrar` serves over loopback, each figure next to the baseline
 * measured first in the same run: the X25519 derive rate (the one DH the
 * server pays per base-mode handshake; the client pays two: its ephemeral
 * key and the DH), printed as "N x the X25519 derive rate".
 *
 *   x25519_derive        X25519 DH (lib/crypto.h backend), one core: the
 *                        baseline
 *   reg_inmem            a whole base-mode handshake, client and server
 *                        state machines in memory, one core (no sockets)
 *   reg_loopback         the real registrar (cmd_registrar() of tools/reg/,
 *                        in a child process) against CONC concurrent clients
 *                        in this process (one epoll loop of
 *                        lib/reg_client.c clients), X25519, no store; also
 *                        the registrar's CPU per handshake (getrusage)
 *   reg_loopback_store   the same with --store (one 0600 file written and
 *                        renamed per secret)
 *   reg_loopback_sync    the same with --store --sync (an fsync per secret:
 *                        the registrar's one thread waits on the disk)
 *
 * On a 2-core machine the load generator and the registrar share the
 * cores, and the client's side costs more than the server's, so the
 * loopback figure is a floor for the registrar alone.
 *
 * Usage: bench_reg [SECONDS [CONCURRENCY]]   (defaults 2 and 64)
 */
#include <pdm/reg.h>

#include "common/keyfile.h"
#include "common/sys.h"
#include "common/tools.h"
#include "bench.h"
#include "crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define CONC_MAX 1024
#define LAT_MAX  1000000

static const struct pdm_hpke_suite SUITE = {PDM_HPKE_KEM_X25519_SHA256, PDM_HPKE_KDF_HKDF_SHA256,
                                            PDM_HPKE_AEAD_AES_128_GCM};

static double x25519_derive_rate(void)
{
    const struct pdm_kem_alg *kem = pdm_kem_find(PDM_HPKE_KEM_X25519_SHA256);
    uint8_t sk[32], own[32], pk[32], out[32];
    double ns;

    memset(sk, 0x42, sizeof sk);
    memset(pk, 0x17, sizeof pk);
    if (!kem || kem->pk_from_sk(kem, sk, own) != 0)
        return 0;
    BENCH_BEST_NS(ns, 5, 2000, {
        pk[0] = (uint8_t)(i | 0x80); /* a different peer each time */
        bench_sink += (uint64_t)kem->dh(kem, sk, own, pk, sizeof pk, out) + out[0];
    });
    return 1e9 / ns;
}

/* ---- in memory ----------------------------------------------------------------- */

static double inmem_rate(const struct pdm_hpke_key *srv_key, const struct pdm_hpke_key *pin)
{
    struct pdm_reg_server_config scfg;
    struct pdm_reg_client_config ccfg;
    struct pdm_reg_server s;
    struct pdm_reg_client c;
    uint8_t a[PDM_REG_WIRE_MAX], b[PDM_REG_WIRE_MAX];
    size_t alen, blen;
    double ns;

    memset(&scfg, 0, sizeof scfg);
    scfg.suites = &SUITE;
    scfg.nsuites = 1;
    scfg.keys = srv_key;
    scfg.nkeys = 1;
    memset(&ccfg, 0, sizeof ccfg);
    ccfg.suites = &SUITE;
    ccfg.nsuites = 1;
    ccfg.pin = pin;
    ccfg.eph.rand = tool_eph_rand;
    BENCH_BEST_NS(ns, 3, 300, {
        int n = pdm_reg_client_start(&c, &ccfg, 0, a, sizeof a);
        pdm_reg_server_init(&s, &scfg, 0);
        n = pdm_reg_server_recv(&s, a, (size_t)n, 0, b, sizeof b, &blen);
        n = pdm_reg_client_recv(&c, b, blen, 0, a, sizeof a, &alen);
        n = pdm_reg_server_recv(&s, a, alen, 0, b, sizeof b, &blen);
        n = pdm_reg_client_recv(&c, b, blen, 0, a, sizeof a, &alen);
        bench_sink += (uint64_t)(c.state == PDM_REG_ST_DONE) + (uint64_t)n;
    });
    pdm_reg_server_wipe(&s);
    pdm_reg_client_wipe(&c);
    return 1e9 / ns;
}

/* ---- the load generator ---------------------------------------------------------- */

struct lconn {
    int fd;
    int connecting;
    uint64_t t0;
    struct pdm_reg_client cli;
    struct pdm_reg_client_config cfg;
    uint8_t in[PDM_REG_WIRE_MAX];
    size_t in_len;
};

struct load {
    int ep;
    struct sockaddr_in6 sa;
    const struct pdm_hpke_key *pin;
    uint64_t ok, failed, all, *lat;
    size_t nlat;
};

static void lc_close(struct load *L, struct lconn *lc)
{
    if (lc->fd >= 0) {
        epoll_ctl(L->ep, EPOLL_CTL_DEL, lc->fd, NULL);
        close(lc->fd);
    }
    lc->fd = -1;
    pdm_reg_client_wipe(&lc->cli);
}

static int lc_start(struct load *L, struct lconn *lc, uint64_t idx)
{
    struct epoll_event ev;
    struct linger lg = {1, 0};
    int one = 1;

    lc->fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lc->fd < 0)
        return -1;
    setsockopt(lc->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* Close with a reset: tens of thousands of short connections would
     * otherwise fill the ephemeral ports with TIME_WAIT. */
    setsockopt(lc->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    if (connect(lc->fd, (struct sockaddr *)&L->sa, sizeof L->sa) != 0 && errno != EINPROGRESS) {
        close(lc->fd);
        lc->fd = -1;
        return -1;
    }
    lc->connecting = 1;
    lc->in_len = 0;
    lc->t0 = bench_now_ns();
    memset(&lc->cfg, 0, sizeof lc->cfg);
    lc->cfg.suites = &SUITE;
    lc->cfg.nsuites = 1;
    lc->cfg.pin = L->pin;
    lc->cfg.eph.rand = tool_eph_rand;
    lc->cfg.timeout_ns = 5000000000ull;
    if (tool_random(lc->cfg.salt, sizeof lc->cfg.salt) != 0)
        return -1;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLOUT;
    ev.data.u64 = idx;
    return epoll_ctl(L->ep, EPOLL_CTL_ADD, lc->fd, &ev);
}

static int send_small(int fd, const uint8_t *p, size_t n)
{
    /* Messages of at most a few hundred bytes into an empty socket buffer:
     * one send takes them all. */
    return send(fd, p, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

/* Handles one event; returns 1 when the handshake ended (done or failed). */
static int lc_event(struct load *L, struct lconn *lc, uint64_t idx, uint32_t events)
{
    uint8_t out[PDM_REG_WIRE_MAX];
    size_t out_len = 0;
    int n;

    if (lc->connecting) {
        struct epoll_event ev;
        int err = 0;
        socklen_t sl = sizeof err;
        if (!(events & EPOLLOUT) || getsockopt(lc->fd, SOL_SOCKET, SO_ERROR, &err, &sl) != 0 ||
            err != 0)
            return -1;
        lc->connecting = 0;
        n = pdm_reg_client_start(&lc->cli, &lc->cfg, bench_now_ns(), out, sizeof out);
        if (n < 0 || send_small(lc->fd, out, (size_t)n) != 0)
            return -1;
        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLIN;
        ev.data.u64 = idx;
        epoll_ctl(L->ep, EPOLL_CTL_MOD, lc->fd, &ev);
        return 0;
    }
    for (;;) {
        ssize_t r = recv(lc->fd, lc->in + lc->in_len, sizeof lc->in - lc->in_len, 0);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (r <= 0)
            return -1;
        lc->in_len += (size_t)r;
        while ((n = pdm_reg_client_recv(&lc->cli, lc->in, lc->in_len, bench_now_ns(), out,
                                        sizeof out, &out_len)) > 0) {
            memmove(lc->in, lc->in + n, lc->in_len - (size_t)n);
            lc->in_len -= (size_t)n;
            if (out_len && send_small(lc->fd, out, out_len) != 0)
                return -1;
            if (lc->cli.state == PDM_REG_ST_DONE)
                return 1;
        }
        if (n < 0)
            return -1;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Runs conc clients for secs seconds (after a short warm-up); returns
 * handshakes per second. */
static double run_load(struct load *L, int conc, double secs, double *p50, double *p99)
{
    static struct lconn lcs[CONC_MAX];
    struct epoll_event evs[256];
    uint64_t start = bench_now_ns(), warm = start + 300000000ull;
    uint64_t end = warm + (uint64_t)(secs * 1e9);

    L->ok = L->failed = L->all = L->nlat = 0;
    L->ep = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < conc; i++)
        if (lc_start(L, &lcs[i], (uint64_t)i) != 0)
            L->failed++;
    while (bench_now_ns() < end) {
        int n = epoll_wait(L->ep, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            uint64_t idx = evs[i].data.u64;
            struct lconn *lc = &lcs[idx];
            int r = lc_event(L, lc, idx, evs[i].events);
            if (r == 0)
                continue;
            uint64_t now = bench_now_ns();
            L->all += r > 0;
            if (now >= warm && now < end) {
                if (r > 0) {
                    L->ok++;
                    if (L->nlat < LAT_MAX)
                        L->lat[L->nlat++] = now - lc->t0;
                } else {
                    L->failed++;
                }
            }
            lc_close(L, lc);
            if (lc_start(L, lc, idx) != 0)
                L->failed++;
        }
    }
    for (int i = 0; i < conc; i++)
        lc_close(L, &lcs[i]);
    close(L->ep);
    *p50 = *p99 = 0;
    if (L->nlat) {
        qsort(L->lat, L->nlat, sizeof L->lat[0], cmp_u64);
        *p50 = (double)L->lat[L->nlat / 2] / 1e6;
        *p99 = (double)L->lat[L->nlat * 99 / 100] / 1e6;
    }
    return (double)L->ok / secs;
}

/* ---- the registrar in a child process -------------------------------------------- */

static pid_t start_registrar(char *key, char *store, int sync, unsigned port)
{
    char listen[64];
    pid_t pid;

    snprintf(listen, sizeof listen, "[::1]:%u", port);
    pid = fork();
    if (pid == 0) {
        char *argv[16];
        int argc = 0, null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, STDERR_FILENO);
        argv[argc++] = (char *)"registrar";
        argv[argc++] = (char *)"--listen";
        argv[argc++] = listen;
        argv[argc++] = (char *)"--key";
        argv[argc++] = key;
        argv[argc++] = (char *)"--rate";
        argv[argc++] = (char *)"0";
        argv[argc++] = (char *)"--max-conns";
        argv[argc++] = (char *)"2048";
        if (store) {
            argv[argc++] = (char *)"--store";
            argv[argc++] = store;
        }
        if (sync)
            argv[argc++] = (char *)"--sync";
        argv[argc] = NULL;
        _exit(cmd_registrar(argc, argv));
    }
    return pid;
}

static unsigned free_port(void)
{
    struct sockaddr_in6 sa;
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    unsigned port = 0;
    memset(&sa, 0, sizeof sa);
    sa.sin6_family = AF_INET6;
    sa.sin6_addr = in6addr_loopback;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin6_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int wait_listening(const struct sockaddr_in6 *sa)
{
    for (int i = 0; i < 300; i++) {
        int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int ok = fd >= 0 && connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0;
        if (fd >= 0)
            close(fd);
        if (ok)
            return 0;
        usleep(10000);
    }
    return -1;
}

static int loopback(const char *label, char *key, char *store, int sync,
                    const struct pdm_hpke_key *pin, int conc, double secs, double derive)
{
    struct load L;
    double rate, p50, p99;
    unsigned port = free_port();
    struct rusage ru0, ru1;
    double cpu_us;
    pid_t pid;
    int st;

    memset(&L, 0, sizeof L);
    L.sa.sin6_family = AF_INET6;
    L.sa.sin6_addr = in6addr_loopback;
    L.sa.sin6_port = htons((uint16_t)port);
    L.pin = pin;
    if (!port || !(L.lat = calloc(LAT_MAX, sizeof *L.lat)))
        return -1;
    pid = start_registrar(key, store, sync, port);
    if (pid < 0 || wait_listening(&L.sa) != 0) {
        fprintf(stderr, "bench_reg: the registrar did not start\n");
        if (pid > 0)
            kill(pid, SIGKILL);
        free(L.lat);
        return -1;
    }
    getrusage(RUSAGE_CHILDREN, &ru0);
    rate = run_load(&L, conc, secs, &p50, &p99);
    kill(pid, SIGTERM);
    waitpid(pid, &st, 0);
    getrusage(RUSAGE_CHILDREN, &ru1);
    cpu_us = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
                      ru0.ru_stime.tv_sec) *
                 1e6 +
             (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec -
                      ru0.ru_stime.tv_usec);
    printf("%-20s %8.0f handshakes/s  %d concurrent, p50 %.2f ms, p99 %.2f ms, "
           "%llu failed; %.2f x the X25519 derive rate\n",
           label, rate, conc, p50, p99, (unsigned long long)L.failed, rate / derive);
    if (L.all && cpu_us > 0) {
        double per_core = 1e6 * (double)L.all / cpu_us;
        printf("%-20s %8.0f handshakes/s  per core of registrar CPU (%.1f us each, "
               "sockets and all); %.2f x the X25519 derive rate\n",
               "", per_core, cpu_us / (double)L.all, per_core / derive);
    }
    free(L.lat);
    return L.failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    int conc = argc > 2 ? atoi(argv[2]) : 64;
    char dir[] = "/tmp/bench_reg.XXXXXX", key[128], store[128], line[TOOL_KEYFILE_LINE_MAX + 2],
         err[300];
    struct pdm_hpke_key srv, pin;
    uint8_t ikm[32];
    double derive, inmem;
    int rv = 0;

    if (secs <= 0 || conc < 1 || conc > CONC_MAX) {
        fprintf(stderr, "usage: bench_reg [SECONDS [CONCURRENCY 1..%d]]\n", CONC_MAX);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (!mkdtemp(dir) || tool_random(ikm, sizeof ikm) != 0 ||
        pdm_hpke_keygen(PDM_HPKE_KEM_X25519_SHA256, ikm, sizeof ikm, &srv) != 0 ||
        pdm_hpke_pubkey_deserialize(srv.kem_id, srv.pk, 32, &pin) != 0 ||
        tool_keyfile_format_private(&srv, line, sizeof line - 1) < 0) {
        fprintf(stderr, "bench_reg: setup failed\n");
        return 1;
    }
    snprintf(key, sizeof key, "%s/srv.key", dir);
    snprintf(store, sizeof store, "%s/store", dir);
    strcat(line, "\n");
    if (tool_keyfile_write_private(key, line, 0, err, sizeof err) != 0) {
        fprintf(stderr, "bench_reg: %s\n", err);
        return 1;
    }

    derive = x25519_derive_rate();
    printf("%-20s %8.0f ops/s         the baseline of every figure below\n", "x25519_derive",
           derive);
    inmem = inmem_rate(&srv, &pin);
    printf("%-20s %8.0f handshakes/s  client+server on one core, no sockets; "
           "%.2f x the X25519 derive rate\n",
           "reg_inmem", inmem, inmem / derive);
    rv |= loopback("reg_loopback", key, NULL, 0, &pin, conc, secs, derive);
    rv |= loopback("reg_loopback_store", key, store, 0, &pin, conc, secs, derive);
    rv |= loopback("reg_loopback_sync", key, store, 1, &pin, conc, secs, derive);

    {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_reg: could not remove %s\n", dir);
    }
    pdm_hpke_key_wipe(&srv);
    return rv;
}
