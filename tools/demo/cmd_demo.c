/*
 * pdm demo: the project's main job in one command.
 *
 *   pdm demo [--out DIR] [--delay-ms N] [--tcp-bytes N] [--snaplen N] [--sample]
 *
 * As root it builds two hosts and runs encrypted PDMv2 between them:
 *
 *   client namespace  pdm-demo-c-PID                 server namespace  pdm-demo-s-PID
 *     vc fd00:ad::1/64  <------------- veth ------------->  vs fd00:ad::2/64
 *     pdm register --pin --key   --- TCP 8250 --->           pdm registrar
 *     pdm agent (v2-encrypted)                               pdm agent (v2-encrypted)
 *     ping, UDP client, TCP client  ----------------->       UDP server (answers after
 *     capture -> client.pcapng                               N ms), TCP sink, capture
 *                                                            -> server.pcapng
 *
 * then stops the agents, runs `pdm analyze` on the client's capture with the
 * registration's key log, prints the table and explains the figures. DIR
 * receives client.pcapng, server.pcapng, keylog, report.json and
 * report.html. Everything else (keys, secret stores, agent state, logs)
 * lives in a private temporary directory that is removed at the end.
 *
 * Processes: the pdm subcommands, ip and ping are executed (the pdm binary
 * is this one, /proc/self/exe; commands inside a namespace go through `ip
 * netns exec`); the UDP and TCP servers and clients and the two captures
 * are children of this process that enter their namespace with setns(2),
 * so nothing but this binary, iproute2 and ping is needed at run time. Each
 * child gets its own process group (a Ctrl-C reaches only the demo, which
 * then stops everything in order) and PR_SET_PDEATHSIG, so that a demo
 * killed outright takes its children with it.
 *
 * Cleanup, on success, failure, SIGINT, SIGTERM or SIGHUP alike: children
 * are stopped by their pid (captures first so that they flush, then agents
 * with SIGTERM, which removes their netfilter rules, then the rest; SIGKILL
 * after a grace period), then the two namespaces are deleted (which takes
 * the veth pair and anything left inside with them), then the temporary
 * directory. Only namespaces this run created are ever deleted.
 *
 * Not root (or --sample): the sample capture shipped with openpdm
 * (docs/sample/demo-client.pcapng and demo.keylog, made by this command) is
 * analysed instead, found through $PDM_DATADIR, a compiled-in PDM_DATADIR,
 * or next to the binary (../docs/sample, ../share/openpdm/sample).
 *
 * See pdm-demo(8).
 */
#include "common/json.h"
#include "common/tools.h"

#include "conv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: pdm demo [--out DIR] [--delay-ms N] [--tcp-bytes N] [--snaplen N] [--sample]\n"
    "\n"
    "Runs the whole of openpdm between two network namespaces it creates\n"
    "(pdm-demo-c-PID, fd00:ad::1, and pdm-demo-s-PID, fd00:ad::2, joined by a\n"
    "veth pair): keys (pdm keygen), a registration (pdm registrar and pdm\n"
    "register), a pdm agent on each side in encrypted PDMv2 mode, traffic\n"
    "(ping, a UDP service that answers after a known delay, a TCP transfer),\n"
    "a capture on each side, then pdm analyze with the registration's key log.\n"
    "Prints the report and what it shows; removes everything it made on exit\n"
    "or Ctrl-C. Needs root; otherwise analyses the shipped sample capture.\n"
    "\n"
    "  --out DIR       where client.pcapng, server.pcapng, keylog, report.json\n"
    "                  and report.html go (default ./pdm-demo-YYYYmmdd-HHMMSS)\n"
    "  --delay-ms N    the UDP server's delay before answering (default 5)\n"
    "  --tcp-bytes N   size of the TCP transfer (default 4000000)\n"
    "  --snaplen N     bytes kept of each captured packet (default 256: every\n"
    "                  header and the option; the payloads are filler)\n"
    "  --sample        analyse the shipped sample capture even as root\n"
    "\n"
    "See pdm-demo(8).\n";

/* The demo's own addresses (a ULA prefix: RFC 4193) and ports. They exist
 * only inside the two namespaces, so nothing on the host can clash. */
#define CLIENT_ADDR  "fd00:ad::1"
#define SERVER_ADDR  "fd00:ad::2"
#define REG_ENDPOINT "[" SERVER_ADDR "]:8250"
#define UDP_PORT     9000
#define TCP_PORT     5001
#define CLIENT_IF    "vc"
#define SERVER_IF    "vs"

#define PING_COUNT        20
#define PING_COUNT_S      "20"
#define UDP_COUNT         100
#define UDP_INTERVAL_MS   12
#define DEFAULT_DELAY_MS  5
#define DEFAULT_TCP_BYTES 4000000u
#define DEFAULT_SNAPLEN   256

#define CHILDREN_MAX 16

/* Set by SIGINT / SIGTERM / SIGHUP to the signal number. In a capture or
 * server child (which inherits the handler) it means "stop". */
static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    g_stop = sig;
}

struct child {
    pid_t pid;
    const char *what;
    int stop_sig; /* what asks it to finish cleanly */
};

struct demo {
    char self[PATH_MAX]; /* this binary */
    char ip[PATH_MAX];   /* iproute2's ip */
    char out[PATH_MAX];  /* the output directory (absolute) */
    char work[PATH_MAX]; /* private temporary directory */
    char ns_c[64], ns_s[64];
    int made_c, made_s;
    struct child kids[CHILDREN_MAX];
    uint64_t t0;
    int cleaning; /* waits are no longer cut short by a stop signal */
    unsigned delay_ms;
    uint64_t tcp_bytes;
    unsigned snaplen;
};

/* Errors after a stop signal are its consequences, not news: quiet. */
#define demo_err(...)                                                                              \
    do {                                                                                           \
        if (!g_stop)                                                                               \
            tool_err(__VA_ARGS__);                                                                 \
    } while (0)

/* ---- small helpers ---------------------------------------------------------- */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* snprintf that reports truncation as failure. */
static int fmt(char *out, size_t cap, const char *f, ...) __attribute__((format(printf, 3, 4)));
static int fmt(char *out, size_t cap, const char *f, ...)
{
    va_list ap;
    int n;
    va_start(ap, f);
    n = vsnprintf(out, cap, f, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static int work_path(const struct demo *d, char *out, size_t cap, const char *name)
{
    return fmt(out, cap, "%s/%s", d->work, name);
}

static int out_path(const struct demo *d, char *out, size_t cap, const char *name)
{
    return fmt(out, cap, "%s/%s", d->out, name);
}

/* Reads a whole small file into buf (NUL-terminated). Returns its length or
 * -1. */
static long read_text(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t n = 0;
    if (fd < 0)
        return -1;
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    return (long)n;
}

/* Finds an executable: in $PATH, then in the sbin directories a non-login
 * root shell may lack. */
static int find_prog(const char *name, char *out, size_t cap)
{
    static const char *const extra[] = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};
    const char *path = getenv("PATH");
    char dir[PATH_MAX];

    while (path != NULL && *path != '\0') {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        if (n > 0 && n < sizeof dir) {
            memcpy(dir, path, n);
            dir[n] = '\0';
            if (fmt(out, cap, "%s/%s", dir, name) == 0 && access(out, X_OK) == 0)
                return 0;
        }
        path = end ? end + 1 : NULL;
    }
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        if (fmt(out, cap, "%s/%s", extra[i], name) == 0 && access(out, X_OK) == 0)
            return 0;
    return -1;
}

/* An argument vector built from copies (execv wants char *, our strings
 * are const). */
struct argv_b {
    char *v[48];
    int n;
    char buf[8192];
    size_t used;
    int overflow;
};

static void av_add(struct argv_b *a, const char *s)
{
    size_t len = strlen(s) + 1;
    if (a->n + 1 >= (int)(sizeof a->v / sizeof a->v[0]) || a->used + len > sizeof a->buf) {
        a->overflow = 1;
        return;
    }
    memcpy(a->buf + a->used, s, len);
    a->v[a->n++] = a->buf + a->used;
    a->v[a->n] = NULL;
    a->used += len;
}

/* Adds each of a NULL-terminated list. */
static void av_words(struct argv_b *a, const char *const w[])
{
    for (size_t i = 0; w[i] != NULL; i++)
        av_add(a, w[i]);
}

#define AV(a, ...) av_words((a), (const char *const[]){__VA_ARGS__, NULL})

static void av_init(struct argv_b *a)
{
    a->n = 0;
    a->used = 0;
    a->overflow = 0;
    a->v[0] = NULL;
}

/* ---- children ----------------------------------------------------------------- */

static void kid_add(struct demo *d, pid_t pid, const char *what, int stop_sig)
{
    for (int i = 0; i < CHILDREN_MAX; i++)
        if (d->kids[i].pid == 0) {
            d->kids[i].pid = pid;
            d->kids[i].what = what;
            d->kids[i].stop_sig = stop_sig;
            return;
        }
}

static void kid_gone(struct demo *d, pid_t pid)
{
    for (int i = 0; i < CHILDREN_MAX; i++)
        if (d->kids[i].pid == pid)
            d->kids[i].pid = 0;
}

/* What every child does first: its own process group (Ctrl-C at the
 * terminal reaches only the demo, which stops the children in order), a
 * signal if the demo dies, default signal handling, stdin from /dev/null. */
static void child_setup(void)
{
    sigset_t none;
    int fd;

    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if ((fd = open("/dev/null", O_RDONLY)) >= 0) {
        dup2(fd, 0);
        if (fd != 0)
            close(fd);
    }
}

/* Redirects fd to a file (created mode 0644; NULL: /dev/null). */
static int redirect(int fd, const char *path)
{
    int f = open(path ? path : "/dev/null", path ? O_WRONLY | O_CREAT | O_TRUNC : O_WRONLY, 0644);
    if (f < 0)
        return -1;
    if (dup2(f, fd) < 0) {
        close(f);
        return -1;
    }
    if (f != fd)
        close(f);
    return 0;
}

/*
 * Starts argv (argv[0] a full path) with stdout / stderr to the files given
 * (NULL: /dev/null), inside namespace ns when not NULL (through `ip netns
 * exec`, which becomes the program itself). Returns the pid or -1.
 */
static pid_t spawn_exec(struct demo *d, const char *ns, char *const argv[], const char *out,
                        const char *err, const char *what, int stop_sig)
{
    struct argv_b full;
    pid_t pid;

    av_init(&full);
    if (ns != NULL) {
        av_add(&full, d->ip);
        av_add(&full, "netns");
        av_add(&full, "exec");
        av_add(&full, ns);
    }
    for (int i = 0; argv[i] != NULL; i++)
        av_add(&full, argv[i]);
    if (full.overflow)
        return -1;
    fflush(stdout);
    fflush(stderr);
    if ((pid = fork()) < 0)
        return -1;
    if (pid == 0) {
        child_setup();
        if (redirect(1, out) != 0 || redirect(2, err) != 0)
            _exit(126);
        execv(full.v[0], full.v);
        _exit(127);
    }
    kid_add(d, pid, what, stop_sig);
    return pid;
}

/*
 * Waits for pid to exit, at most timeout_ms. interruptible: give up when a
 * signal asked the demo to stop. Returns 0 (exit status in *status), 1 on
 * timeout, -1 when interrupted or on error.
 */
static int wait_pid(struct demo *d, pid_t pid, unsigned timeout_ms, int interruptible, int *status)
{
    uint64_t end = mono_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        int st = 0;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            kid_gone(d, pid);
            if (status)
                *status = st;
            return 0;
        }
        if (r < 0 && errno != EINTR) {
            kid_gone(d, pid);
            return -1;
        }
        if (interruptible && g_stop)
            return -1;
        if (mono_ns() >= end)
            return 1;
        sleep_ms(5);
    }
}

/* Asks pid to stop with sig, then SIGKILL after grace_ms. Returns its wait
 * status (or -1). */
static int stop_pid(struct demo *d, pid_t pid, int sig, unsigned grace_ms)
{
    int st = -1;
    if (pid <= 0)
        return -1;
    kill(pid, sig);
    if (wait_pid(d, pid, grace_ms, 0, &st) == 0)
        return st;
    kill(pid, SIGKILL);
    if (wait_pid(d, pid, 2000, 0, &st) == 0)
        return st;
    return -1;
}

/* Runs argv to completion (see spawn_exec). Returns the exit code, or -1
 * (could not start, killed by a signal, timed out, interrupted). */
static int run(struct demo *d, const char *ns, char *const argv[], const char *out, const char *err,
               unsigned timeout_ms)
{
    int st = 0, rv;
    pid_t pid = spawn_exec(d, ns, argv, out, err, "command", SIGTERM);
    if (pid < 0)
        return -1;
    if ((rv = wait_pid(d, pid, timeout_ms, !d->cleaning, &st)) != 0) {
        stop_pid(d, pid, SIGTERM, 1000);
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int ns_path(const char *ns, char *out, size_t cap)
{
    return fmt(out, cap, "/var/run/netns/%s", ns);
}

static int ns_exists(const char *ns)
{
    char path[PATH_MAX];
    return ns_path(ns, path, sizeof path) == 0 && access(path, F_OK) == 0;
}

/* Enters the network namespace that `ip netns add NAME` created (iproute2
 * keeps it bound at /var/run/netns/NAME). */
static int enter_netns(const char *ns)
{
    char path[PATH_MAX];
    int fd, rv;
    if (ns_path(ns, path, sizeof path) != 0)
        return -1;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return -1;
    rv = setns(fd, CLONE_NEWNET);
    close(fd);
    return rv;
}

/*
 * Forks a child that enters namespace ns and runs fn(arg, fd), fd being the
 * write end of a pipe whose read end is returned in *rfd (the child's
 * report: a line or two of text). Returns the pid or -1.
 */
static pid_t spawn_fn(struct demo *d, const char *ns, int (*fn)(const void *arg, int fd),
                      const void *arg, int *rfd, const char *what)
{
    int p[2];
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    fflush(stdout);
    fflush(stderr);
    if ((pid = fork()) < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        close(p[0]);
        child_setup();
        g_stop = 0;
        if (enter_netns(ns) != 0) {
            dprintf(p[1], "error entering namespace %s: %s\n", ns, strerror(errno));
            _exit(1);
        }
        _exit(fn(arg, p[1]) == 0 ? 0 : 1);
    }
    close(p[1]);
    *rfd = p[0];
    kid_add(d, pid, what, SIGTERM);
    return pid;
}

/* Reads one line from a child's report pipe (timeout_ms; interruptible).
 * Returns 0, or -1 (EOF, timeout, interrupted). */
static int read_line(int fd, char *buf, size_t cap, unsigned timeout_ms)
{
    uint64_t end = mono_ns() + (uint64_t)timeout_ms * 1000000u;
    size_t n = 0;
    while (n + 1 < cap) {
        struct pollfd pfd = {fd, POLLIN, 0};
        uint64_t now = mono_ns();
        char c;
        ssize_t r;
        if (g_stop || now >= end)
            break;
        if (poll(&pfd, 1, (int)((end - now) / 1000000u) + 1) <= 0)
            continue;
        if ((r = read(fd, &c, 1)) <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            break;
        }
        if (c == '\n') {
            buf[n] = '\0';
            return 0;
        }
        buf[n++] = c;
    }
    buf[n] = '\0';
    return -1;
}

/* Waits until file path contains text (a program's log line), while pid
 * runs. Returns 0, or -1 (timeout, exit, interrupted). */
static int wait_log(struct demo *d, const char *path, const char *text, pid_t pid,
                    unsigned timeout_ms)
{
    uint64_t end = mono_ns() + (uint64_t)timeout_ms * 1000000u;
    char buf[8192];
    for (;;) {
        int st;
        if (read_text(path, buf, sizeof buf) >= 0 && strstr(buf, text) != NULL)
            return 0;
        if (g_stop || mono_ns() >= end)
            return -1;
        if (pid > 0 && waitpid(pid, &st, WNOHANG) == pid) {
            kid_gone(d, pid);
            return read_text(path, buf, sizeof buf) >= 0 && strstr(buf, text) ? 0 : -1;
        }
        sleep_ms(10);
    }
}

/* Prints a child's log (indented) after a failure. */
static void show_log(const char *path)
{
    char buf[4096];
    if (read_text(path, buf, sizeof buf) <= 0)
        return;
    for (char *line = strtok(buf, "\n"); line != NULL; line = strtok(NULL, "\n"))
        fprintf(stderr, "    | %s\n", line);
}

/* ---- capture: libpcap in the namespace, written as pcapng --------------------- */

/*
 * pcapng (draft-ietf-opsawg-pcapng): a Section Header Block, one Interface
 * Description Block, then an Enhanced Packet Block per packet. Written
 * big-endian (the byte-order magic tells readers), timestamps in
 * nanoseconds (if_tsresol 9), like tools/common/pcapw.c does for pcap.
 *
 *   SHB  | 0x0A0D0D0A | total len | 0x1A2B3C4D | 1 | 0 | section len -1 | options | total len |
 *   IDB  | 1 | total len | linktype(2) | 0(2) | snaplen | options | total len |
 *   EPB  | 6 | total len | if 0 | ts high | ts low | caplen | origlen | data, pad 4 | total len |
 */
#define PCAPNG_SHB 0x0A0D0D0Au
#define PCAPNG_IDB 1u
#define PCAPNG_EPB 6u
#define PCAPNG_BOM 0x1A2B3C4Du

struct cap_arg {
    const char *iface;
    const char *path;
    unsigned snaplen;
};

struct cap_ctx {
    FILE *f;
    int err;
};

/* An option: code, length, value padded to 4 bytes. Returns the end. */
static uint8_t *pcapng_opt(uint8_t *p, uint16_t code, const void *v, size_t len)
{
    static const uint8_t zero[4] = {0};
    p = pdm_put_u16be(p, code);
    p = pdm_put_u16be(p, (uint16_t)len);
    p = pdm_put_bytes(p, v, len);
    return pdm_put_bytes(p, zero, (4 - len % 4) % 4);
}

static int pcapng_head(FILE *f, int linktype, unsigned snaplen, const char *iface)
{
    uint8_t b[256], *p = b, *len_at;
    static const char appl[] = "openpdm pdm demo";
    uint8_t tsresol = 9; /* 10^-9 s */
    size_t n;

    /* Section Header Block. */
    p = pdm_put_u32be(p, PCAPNG_SHB);
    len_at = p;
    p = pdm_put_u32be(p, 0);
    p = pdm_put_u32be(p, PCAPNG_BOM);
    p = pdm_put_u16be(p, 1);
    p = pdm_put_u16be(p, 0);
    p = pdm_put_u64be(p, UINT64_MAX);            /* section length not given */
    p = pcapng_opt(p, 4, appl, sizeof appl - 1); /* shb_userappl */
    p = pdm_put_u32be(p, 0);                     /* opt_endofopt */
    n = (size_t)(p + 4 - b);
    pdm_put_u32be(len_at, (uint32_t)n);
    p = pdm_put_u32be(p, (uint32_t)n);
    if (fwrite(b, 1, n, f) != n)
        return -1;

    /* Interface Description Block. */
    p = b;
    p = pdm_put_u32be(p, PCAPNG_IDB);
    len_at = p;
    p = pdm_put_u32be(p, 0);
    p = pdm_put_u16be(p, (uint16_t)linktype);
    p = pdm_put_u16be(p, 0);
    p = pdm_put_u32be(p, snaplen);
    p = pcapng_opt(p, 2, iface, strlen(iface) < 64 ? strlen(iface) : 64); /* if_name */
    p = pcapng_opt(p, 9, &tsresol, 1);                                    /* if_tsresol */
    p = pdm_put_u32be(p, 0);
    n = (size_t)(p + 4 - b);
    pdm_put_u32be(len_at, (uint32_t)n);
    p = pdm_put_u32be(p, (uint32_t)n);
    return fwrite(b, 1, n, f) == n ? 0 : -1;
}

static void cap_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
    struct cap_ctx *c = (struct cap_ctx *)(void *)user;
    static const uint8_t zero[4] = {0};
    uint8_t b[28], t[4];
    size_t pad = (4 - h->caplen % 4) % 4;
    uint32_t total = (uint32_t)(sizeof b + h->caplen + pad + sizeof t);
    /* Nanosecond precision was asked for: tv_usec holds nanoseconds. */
    uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec;
    uint8_t *p = b;

    p = pdm_put_u32be(p, PCAPNG_EPB);
    p = pdm_put_u32be(p, total);
    p = pdm_put_u32be(p, 0); /* interface 0 */
    p = pdm_put_u32be(p, (uint32_t)(ts >> 32));
    p = pdm_put_u32be(p, (uint32_t)ts);
    p = pdm_put_u32be(p, h->caplen);
    pdm_put_u32be(p, h->len);
    pdm_put_u32be(t, total);
    if (fwrite(b, 1, sizeof b, c->f) != sizeof b || fwrite(data, 1, h->caplen, c->f) != h->caplen ||
        fwrite(zero, 1, pad, c->f) != pad || fwrite(t, 1, sizeof t, c->f) != sizeof t)
        c->err = 1;
}

/*
 * The capture child: reports "ready" once the socket captures, runs until
 * SIGTERM, then drains what the kernel holds, closes the file and reports
 * "stats RECEIVED DROPPED". Immediate mode: packets are handed over as they
 * come (no block timeout), so nothing waits in the ring when it stops.
 */
static int cap_main(const void *varg, int fd)
{
    const struct cap_arg *a = varg;
    char errbuf[PCAP_ERRBUF_SIZE];
    struct cap_ctx c = {NULL, 0};
    struct pcap_stat ps;
    pcap_t *p;
    int sel, n;

    signal(SIGTERM, on_signal);
    if ((p = pcap_create(a->iface, errbuf)) == NULL) {
        dprintf(fd, "error %s\n", errbuf);
        return 1;
    }
    pcap_set_snaplen(p, (int)a->snaplen);
    pcap_set_promisc(p, 0);
    pcap_set_immediate_mode(p, 1);
    pcap_set_buffer_size(p, 16 << 20);
    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
    if (pcap_activate(p) < 0 || pcap_setnonblock(p, 1, errbuf) != 0 ||
        (sel = pcap_get_selectable_fd(p)) < 0) {
        dprintf(fd, "error %s: %s\n", a->iface, pcap_geterr(p));
        pcap_close(p);
        return 1;
    }
    if ((c.f = fopen(a->path, "w")) == NULL ||
        pcapng_head(c.f, pcap_datalink(p), a->snaplen, a->iface) != 0) {
        dprintf(fd, "error %s: %s\n", a->path, strerror(errno));
        pcap_close(p);
        return 1;
    }
    dprintf(fd, "ready\n");
    while (!g_stop) {
        struct pollfd pfd = {sel, POLLIN, 0};
        poll(&pfd, 1, 100);
        if (pcap_dispatch(p, -1, cap_packet, (u_char *)&c) < 0)
            break;
    }
    while ((n = pcap_dispatch(p, -1, cap_packet, (u_char *)&c)) > 0)
        ;
    if (pcap_stats(p, &ps) != 0)
        memset(&ps, 0, sizeof ps);
    pcap_close(p);
    if (fclose(c.f) != 0)
        c.err = 1;
    dprintf(fd, "stats %u %u%s\n", ps.ps_recv, ps.ps_drop, c.err ? " write-error" : "");
    return c.err;
}

/* ---- traffic ------------------------------------------------------------------ */

struct udp_arg {
    unsigned delay_ms;
    unsigned count;
};

/*
 * The UDP server: echoes each datagram delay_ms after it arrived. "Arrived"
 * is the kernel's receive time of the packet (SO_TIMESTAMPNS, the same
 * clock the agents read), and the answer waits for an absolute deadline, so
 * scheduling delays before the wake-up do not add up: it sleeps until
 * SPIN_NS before the deadline (timer slack 1 ns instead of 50 us), then
 * spins on the clock, so that the wake-up latency of a busy machine (tens
 * to hundreds of microseconds) is not part of the answer's delay. 100
 * requests cost 20 ms of spinning.
 */
#define SPIN_NS 200000u

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int udp_server(const void *varg, int fd)
{
    const struct udp_arg *a = varg;
    struct sockaddr_in6 sa;
    int s, one = 1;

    prctl(PR_SET_TIMERSLACK, 1UL);
    signal(SIGTERM, SIG_DFL);
    if ((s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
        return 1;
    memset(&sa, 0, sizeof sa);
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(UDP_PORT);
    sa.sin6_addr = in6addr_any;
    setsockopt(s, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    if (bind(s, (struct sockaddr *)&sa, sizeof sa) != 0) {
        dprintf(fd, "error bind udp/%d: %s\n", UDP_PORT, strerror(errno));
        return 1;
    }
    dprintf(fd, "ready\n");
    for (;;) {
        uint8_t buf[2048];
        union {
            char b[CMSG_SPACE(sizeof(struct timespec))];
            struct cmsghdr align;
        } ctl;
        struct sockaddr_in6 from;
        struct iovec iov = {buf, sizeof buf};
        struct msghdr m;
        struct timespec at;
        struct cmsghdr *cm;
        uint64_t deadline;
        ssize_t n;

        memset(&m, 0, sizeof m);
        m.msg_name = &from;
        m.msg_namelen = sizeof from;
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = ctl.b;
        m.msg_controllen = sizeof ctl.b;
        if ((n = recvmsg(s, &m, 0)) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        clock_gettime(CLOCK_REALTIME, &at);
        for (cm = CMSG_FIRSTHDR(&m); cm != NULL; cm = CMSG_NXTHDR(&m, cm))
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS)
                memcpy(&at, CMSG_DATA(cm), sizeof at);
        deadline = (uint64_t)at.tv_sec * 1000000000u + (uint64_t)at.tv_nsec +
                   (uint64_t)a->delay_ms * 1000000u;
        at.tv_sec = (time_t)((deadline - SPIN_NS) / 1000000000u);
        at.tv_nsec = (long)((deadline - SPIN_NS) % 1000000000u);
        while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &at, NULL) == EINTR)
            ;
        while (realtime_ns() < deadline)
            ;
        sendto(s, buf, (size_t)n, 0, (struct sockaddr *)&from, m.msg_namelen);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int server_sockaddr(struct sockaddr_in6 *sa, int port)
{
    memset(sa, 0, sizeof *sa);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons((uint16_t)port);
    return inet_pton(AF_INET6, SERVER_ADDR, &sa->sin6_addr) == 1 ? 0 : -1;
}

/*
 * The UDP client: count requests of 64 bytes, one every UDP_INTERVAL_MS
 * (each waits for its answer, 1 s at most). Reports "udp SENT RECEIVED
 * MEDIAN_NS PORT": the application's own round trip, request to answer.
 */
static int udp_client(const void *varg, int fd)
{
    const struct udp_arg *a = varg;
    struct sockaddr_in6 sa, local;
    socklen_t ll = sizeof local;
    uint64_t rtt[1000], next;
    unsigned got = 0, sent = 0;
    int s;

    signal(SIGTERM, SIG_DFL);
    if ((s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
        server_sockaddr(&sa, UDP_PORT) != 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) != 0) {
        dprintf(fd, "error udp client: %s\n", strerror(errno));
        return 1;
    }
    getsockname(s, (struct sockaddr *)&local, &ll);
    next = mono_ns();
    for (unsigned i = 0; i < a->count && i < sizeof rtt / sizeof rtt[0]; i++) {
        uint8_t req[64] = {0}, ans[128];
        uint64_t t0, end;
        pdm_put_u32be(req, i);
        while (mono_ns() < next)
            sleep_ms(1);
        next += (uint64_t)UDP_INTERVAL_MS * 1000000u;
        t0 = mono_ns();
        if (send(s, req, sizeof req, 0) != (ssize_t)sizeof req)
            continue;
        sent++;
        end = t0 + 1000000000u;
        for (;;) {
            struct pollfd pfd = {s, POLLIN, 0};
            uint64_t now = mono_ns();
            ssize_t n;
            if (now >= end || poll(&pfd, 1, (int)((end - now) / 1000000u) + 1) <= 0)
                break;
            n = recv(s, ans, sizeof ans, 0);
            if (n == (ssize_t)sizeof req && pdm_get_u32be(ans) == i) {
                rtt[got++] = mono_ns() - t0;
                break;
            }
        }
    }
    qsort(rtt, got, sizeof rtt[0], cmp_u64);
    dprintf(fd, "udp %u %u %" PRIu64 " %u\n", sent, got, got ? rtt[(got - 1) / 2] : 0,
            (unsigned)ntohs(local.sin6_port));
    return 0;
}

/* The TCP sink: one connection, read to the end, answer the byte count
 * (8 bytes), close. */
static int tcp_server(const void *varg, int fd)
{
    struct sockaddr_in6 sa;
    uint64_t total = 0;
    uint8_t cnt[8];
    int s, c, one = 1;

    (void)varg;
    signal(SIGTERM, SIG_DFL);
    if ((s = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return 1;
    memset(&sa, 0, sizeof sa);
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(TCP_PORT);
    sa.sin6_addr = in6addr_any;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(s, 4) != 0) {
        dprintf(fd, "error tcp/%d: %s\n", TCP_PORT, strerror(errno));
        return 1;
    }
    dprintf(fd, "ready\n");
    if ((c = accept(s, NULL, NULL)) < 0)
        return 1;
    for (;;) {
        static uint8_t buf[65536];
        ssize_t n = read(c, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        total += (uint64_t)n;
    }
    pdm_put_u64be(cnt, total);
    if (write(c, cnt, sizeof cnt) != (ssize_t)sizeof cnt)
        return 1;
    close(c);
    close(s);
    return 0;
}

/* The TCP source: sends bytes (a counter pattern), half-closes, reads the
 * sink's count. Reports "tcp SENT COUNTED NANOSECONDS PORT". */
static int tcp_client(const void *varg, int fd)
{
    const uint64_t *bytes = varg;
    struct sockaddr_in6 sa, local;
    socklen_t ll = sizeof local;
    struct timeval tv = {20, 0};
    static uint8_t buf[65536];
    uint64_t sent = 0, t0, counted = 0;
    uint8_t cnt[8];
    size_t have = 0;
    int s;

    signal(SIGTERM, SIG_DFL);
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)i;
    if ((s = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        server_sockaddr(&sa, TCP_PORT) != 0)
        return 1;
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    t0 = mono_ns();
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0) {
        dprintf(fd, "error tcp connect: %s\n", strerror(errno));
        return 1;
    }
    getsockname(s, (struct sockaddr *)&local, &ll);
    while (sent < *bytes) {
        size_t chunk = *bytes - sent < sizeof buf ? (size_t)(*bytes - sent) : sizeof buf;
        ssize_t n = write(s, buf, chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            dprintf(fd, "error tcp send: %s\n", strerror(errno));
            return 1;
        }
        sent += (uint64_t)n;
    }
    shutdown(s, SHUT_WR);
    while (have < sizeof cnt) {
        ssize_t n = read(s, cnt + have, sizeof cnt - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    if (have == sizeof cnt)
        counted = pdm_get_u64be(cnt);
    dprintf(fd, "tcp %" PRIu64 " %" PRIu64 " %" PRIu64 " %u\n", sent, counted, mono_ns() - t0,
            (unsigned)ntohs(local.sin6_port));
    close(s);
    return 0;
}

/* ---- the steps ---------------------------------------------------------------- */

static void step(const struct demo *d, const char *name, const char *f, ...)
    __attribute__((format(printf, 3, 4)));
static void step(const struct demo *d, const char *name, const char *f, ...)
{
    va_list ap;
    printf("[%5.1f s] %-9s ", (double)(mono_ns() - d->t0) / 1e9, name);
    va_start(ap, f);
    vprintf(f, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/* Runs `ip WORDS...` (NULL-terminated). Returns 0 or -1 (after saying why). */
static int ip_run(struct demo *d, const char *const words[])
{
    char log[PATH_MAX];
    struct argv_b a;

    av_init(&a);
    av_add(&a, d->ip);
    for (size_t i = 0; words[i] != NULL; i++)
        av_add(&a, words[i]);
    if (a.overflow || work_path(d, log, sizeof log, "ip.log") != 0)
        return -1;
    if (run(d, NULL, a.v, NULL, log, 5000) != 0) {
        if (g_stop && !d->cleaning)
            return -1;
        fprintf(stderr, "pdm: demo: failed:");
        for (int i = 0; i < a.n; i++)
            fprintf(stderr, " %s", a.v[i]);
        fputc('\n', stderr);
        show_log(log);
        return -1;
    }
    return 0;
}

/*
 * Two namespaces, a veth pair between them created inside them (no
 * interface ever exists in the host's namespace), addresses without
 * duplicate address detection (nobody else is on the link), links up.
 */
static int make_hosts(struct demo *d)
{
    const char *add_c[] = {"netns", "add", d->ns_c, NULL};
    const char *add_s[] = {"netns", "add", d->ns_s, NULL};
    const char *veth[] = {"link",  "add",   CLIENT_IF, "netns", d->ns_c, "mtu",
                          "1500",  "type",  "veth",    "peer",  "name",  SERVER_IF,
                          "netns", d->ns_s, "mtu",     "1500",  NULL};

    /* A namespace of this name already there was left by a demo killed
     * outright whose pid this one reuses: not ours, never deleted. Ours
     * are marked before `ip netns add` runs, so that a signal that cuts
     * it short still has them deleted. */
    for (int i = 0; i < 2; i++) {
        const char *ns = i ? d->ns_s : d->ns_c;
        if (ns_exists(ns)) {
            demo_err("demo: namespace %s exists (left by a demo killed with SIGKILL? "
                     "ip netns del %s)",
                     ns, ns);
            return -1;
        }
    }
    d->made_c = 1;
    if (ip_run(d, add_c) != 0)
        return -1;
    d->made_s = 1;
    if (ip_run(d, add_s) != 0)
        return -1;
    if (ip_run(d, veth) != 0)
        return -1;
    for (int side = 0; side < 2; side++) {
        const char *ns = side ? d->ns_s : d->ns_c;
        const char *ifn = side ? SERVER_IF : CLIENT_IF;
        const char *addr = side ? SERVER_ADDR "/64" : CLIENT_ADDR "/64";
        const char *lo[] = {"-n", ns, "link", "set", "lo", "up", NULL};
        const char *up[] = {"-n", ns, "link", "set", ifn, "up", NULL};
        const char *ad[] = {"-n", ns, "addr", "add", addr, "dev", ifn, "nodad", NULL};
        if (ip_run(d, lo) != 0 || ip_run(d, up) != 0 || ip_run(d, ad) != 0)
            return -1;
    }
    return 0;
}

/* Runs `pdm ARGS` (in ns when not NULL) and keeps its first stdout line in
 * line (NULL: discarded). Returns its exit code or -1. */
static int pdm_line(struct demo *d, const char *ns, struct argv_b *a, char *line, size_t cap,
                    const char *log)
{
    char outp[PATH_MAX];
    int rc;
    if (a->overflow || work_path(d, outp, sizeof outp, "pdm.out") != 0)
        return -1;
    rc = run(d, ns, a->v, outp, log, 20000);
    if (line != NULL) {
        char buf[4096];
        line[0] = '\0';
        if (read_text(outp, buf, sizeof buf) > 0) {
            buf[strcspn(buf, "\n")] = '\0';
            if (fmt(line, cap, "%s", buf) != 0)
                return -1;
        }
    }
    return rc;
}

static void av_pdm(struct demo *d, struct argv_b *a, const char *cmd)
{
    av_init(a);
    av_add(a, d->self);
    av_add(a, cmd);
}

/* Shortens a long key for display: "x25519:4612ab…9f01". */
static void short_key(const char *key, char *out, size_t cap)
{
    const char *colon = strchr(key, ':');
    size_t n = strlen(key);
    if (colon == NULL || n < (size_t)(colon - key) + 20 ||
        fmt(out, cap, "%.*s%.8s...%s", (int)(colon - key + 1), key, colon + 1, key + n - 4) != 0)
        fmt(out, cap, "%s", key);
}

/* keygen for the registrar and the client, the registrar in the server
 * namespace, `pdm register --pin --key` from the client namespace. */
static int do_registration(struct demo *d)
{
    char skey[PATH_MAX], ckey[PATH_MAX], auth[PATH_MAX], sstore[PATH_MAX], cstore[PATH_MAX],
        keylog[PATH_MAX], rlog[PATH_MAX], clog[PATH_MAX], spub[256], cpub[256], s1[64], s2[64],
        text[8192];
    struct argv_b a;
    pid_t reg;
    int rc = -1, st;
    FILE *f;
    char *m;

    if (work_path(d, skey, sizeof skey, "registrar.key") ||
        work_path(d, ckey, sizeof ckey, "client.key") ||
        work_path(d, auth, sizeof auth, "authorized_keys") ||
        work_path(d, sstore, sizeof sstore, "server-store") ||
        work_path(d, cstore, sizeof cstore, "client-store") ||
        work_path(d, rlog, sizeof rlog, "registrar.log") ||
        work_path(d, clog, sizeof clog, "register.log") ||
        out_path(d, keylog, sizeof keylog, "keylog"))
        return -1;

    for (int i = 0; i < 2; i++) {
        const char *path = i ? ckey : skey;
        char *pub = i ? cpub : spub;
        av_pdm(d, &a, "keygen");
        AV(&a, "--out", path);
        if (pdm_line(d, NULL, &a, NULL, 0, clog) != 0) {
            demo_err("demo: pdm keygen failed");
            show_log(clog);
            return -1;
        }
        av_pdm(d, &a, "pubkey");
        av_add(&a, path);
        if (pdm_line(d, NULL, &a, pub, 256, clog) != 0 || pub[0] == '\0') {
            demo_err("demo: pdm pubkey failed");
            show_log(clog);
            return -1;
        }
    }
    short_key(spub, s1, sizeof s1);
    short_key(cpub, s2, sizeof s2);
    step(d, "keys", "pdm keygen: registrar %s, client %s", s1, s2);
    if ((f = fopen(auth, "w")) == NULL)
        return -1;
    fprintf(f, "# the clients the demo registrar accepts\n%s demo-client\n", cpub);
    if (fclose(f) != 0)
        return -1;

    av_pdm(d, &a, "registrar");
    AV(&a, "--key", skey, "--listen", REG_ENDPOINT, "--authorized-keys", auth, "--store", sstore,
       "--lifetime", "1h");
    if (a.overflow || (reg = spawn_exec(d, d->ns_s, a.v, NULL, rlog, "registrar", SIGTERM)) < 0)
        return -1;
    if (wait_log(d, rlog, "listening on", reg, 10000) != 0) {
        demo_err("demo: pdm registrar did not start");
        show_log(rlog);
        goto out;
    }
    /* A key log of this run only (a reused --out DIR keeps no old lines). */
    unlink(keylog);
    av_pdm(d, &a, "register");
    AV(&a, "--server", REG_ENDPOINT, "--pin", spub, "--key", ckey, "--store", cstore, "--keylog",
       keylog, "--lifetime", "1h");
    if (pdm_line(d, d->ns_c, &a, NULL, 0, clog) != 0) {
        demo_err("demo: pdm register failed");
        show_log(clog);
        show_log(rlog);
        goto out;
    }
    /* The registrar stores its copy right after sending Status(OK): wait
     * for its log line, which comes after. */
    if (wait_log(d, rlog, "registered mode=", reg, 5000) != 0) {
        demo_err("demo: the registrar did not log the registration");
        show_log(rlog);
        goto out;
    }
    read_text(rlog, text, sizeof text);
    if ((m = strstr(text, "registered mode=")) != NULL)
        m[strcspn(m, "\n")] = '\0';
    step(d, "register", "pdm register --pin %s --key client.key (from the client)", s1);
    step(d, "", "pdm registrar (server): %s", m ? m + 11 : "registered");
    step(d, "", "both secret stores hold the same PDMV2_SECRET; for analysers: keylog");
    rc = 0;
out:
    st = stop_pid(d, reg, SIGTERM, 3000);
    if (rc == 0 && !(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
        demo_err("demo: pdm registrar did not stop cleanly");
        show_log(rlog);
        rc = -1;
    }
    return rc;
}

struct side {
    const char *name; /* client / server */
    const char *ns;
    const char *peer;
    pid_t agent, cap, udp, tcp;
    int cap_fd, udp_fd, tcp_fd;
    char sock[PATH_MAX], log[PATH_MAX];
    struct cap_arg ca;
    char cap_path[PATH_MAX];
};

static int start_agent(struct demo *d, struct side *s)
{
    char store[PATH_MAX], state[PATH_MAX], name[64];
    struct argv_b a;

    if (fmt(name, sizeof name, "%s-store", s->name) || work_path(d, store, sizeof store, name) ||
        fmt(name, sizeof name, "%s-agent.state", s->name) ||
        work_path(d, state, sizeof state, name) ||
        fmt(name, sizeof name, "%s-agent.sock", s->name) ||
        work_path(d, s->sock, sizeof s->sock, name) ||
        fmt(name, sizeof name, "%s-agent.log", s->name) ||
        work_path(d, s->log, sizeof s->log, name))
        return -1;
    av_pdm(d, &a, "agent");
    AV(&a, "--peer", s->peer, "--mode", "v2-encrypted", "--store", store, "--state", state,
       "--control", s->sock);
    if (a.overflow || (s->agent = spawn_exec(d, s->ns, a.v, NULL, s->log, "agent", SIGTERM)) < 0)
        return -1;
    if (wait_log(d, s->log, "agent: ready", s->agent, 15000) != 0) {
        demo_err("demo: the %s's pdm agent did not start", s->name);
        show_log(s->log);
        return -1;
    }
    return 0;
}

static int start_capture(struct demo *d, struct side *s, const char *iface)
{
    char line[256];
    if (fmt(line, sizeof line, "%s.pcapng", s->name) ||
        out_path(d, s->cap_path, sizeof s->cap_path, line))
        return -1;
    s->ca.iface = iface;
    s->ca.path = s->cap_path;
    s->ca.snaplen = d->snaplen;
    if ((s->cap = spawn_fn(d, s->ns, cap_main, &s->ca, &s->cap_fd, "capture")) < 0)
        return -1;
    if (read_line(s->cap_fd, line, sizeof line, 10000) != 0 || strcmp(line, "ready") != 0) {
        demo_err("demo: capture on the %s's %s did not start: %s", s->name, iface, line);
        return -1;
    }
    return 0;
}

/* Stops a capture; returns the kernel's drop count, or -1. */
static long stop_capture(struct demo *d, struct side *s)
{
    char line[256];
    unsigned recv_n = 0, drop = 0;
    long rv = -1;
    if (s->cap <= 0)
        return -1;
    kill(s->cap, SIGTERM);
    if (read_line(s->cap_fd, line, sizeof line, 5000) == 0 &&
        sscanf(line, "stats %u %u", &recv_n, &drop) == 2 && strstr(line, "error") == NULL)
        rv = drop;
    stop_pid(d, s->cap, SIGTERM, 3000);
    close(s->cap_fd);
    s->cap = 0;
    return rv;
}

/* A counter from `pdm agent --status` output. */
static uint64_t counter(const char *status, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = status; p != NULL && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, name, n) && p[n] == ' ')
            return strtoull(p + n + 1, NULL, 10);
    return 0;
}

static int agent_status(struct demo *d, struct side *s, char *buf, size_t cap)
{
    char outp[PATH_MAX];
    struct argv_b a;
    av_pdm(d, &a, "agent");
    AV(&a, "--status", "--control", s->sock);
    if (work_path(d, outp, sizeof outp, "status.out") || run(d, NULL, a.v, outp, NULL, 5000) != 0)
        return -1;
    return read_text(outp, buf, cap) > 0 ? 0 : -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ping's answers: "64 bytes from ...: icmp_seq=1 ttl=64 time=0.223 ms", one
 * a line. The median of the times (ping prints only min/avg/max, and the
 * first answer, which waits for the agents' first key derivations, pulls
 * the average up); the count in *received. Returns 0, or -1 if none. */
static int parse_ping(const char *text, double *median, unsigned *received)
{
    double t[PING_COUNT];
    unsigned n = 0;
    for (const char *p = strstr(text, " time="); p != NULL && n < PING_COUNT;
         p = strstr(p + 1, " time="))
        if (sscanf(p + 6, "%lf", &t[n]) == 1)
            n++;
    *received = n;
    if (n == 0)
        return -1;
    qsort(t, n, sizeof t[0], cmp_double);
    *median = t[(n - 1) / 2];
    return 0;
}

/* ---- analysis and the explanation -------------------------------------------- */

struct measured {
    int have_ping;
    double ping_median_ms;
    unsigned ping_count;
    unsigned udp_sent, udp_got, udp_port;
    uint64_t udp_app_median_ns;
    uint64_t tcp_sent, tcp_counted, tcp_ns;
    unsigned tcp_port;
    int live;
};

static uint64_t jnum(const struct json *o, const char *key)
{
    uint64_t v = 0;
    if (o == NULL || json_u64(json_get(o, key), &v) != 0)
        return 0;
    return v;
}

/* median and count of a delay object ("server_delay_ns" ...). Returns 1 if
 * it has samples. */
static int jdelay(const struct json *flow, const char *key, uint64_t *median, uint64_t *count)
{
    const struct json *o = json_get(flow, key);
    *count = jnum(o, "count");
    *median = jnum(o, "median");
    return *count > 0;
}

static void print_ms(const char *label, uint64_t ns, const char *note)
{
    printf("    %-13s median %8.3f ms%s%s\n", label, (double)ns / 1e6, *note ? "   " : "", note);
}

static const struct json *find_flow(const struct json *flows, unsigned proto, unsigned dport)
{
    for (size_t i = 0; i < json_len(flows); i++) {
        const struct json *f = json_at(flows, i);
        if (jnum(f, "protocol") == proto && (dport == 0 || jnum(f, "dport") == dport))
            return f;
    }
    return NULL;
}

/*
 * Reads report.json back and says what its figures mean. Returns 0 when
 * the run shows what it should (every flow encrypted, nothing failed
 * authentication, a UDP flow with server delays), else 1.
 */
static int explain(const char *report, unsigned delay_ms, const struct measured *m)
{
    char err[256], note[256];
    struct json *j = json_load_file(report, err, sizeof err);
    const struct json *flows, *f;
    uint64_t med, cnt, auth = 0, pkts = 0, nokey = 0;
    int ok = 1;

    if (j == NULL) {
        demo_err("demo: %s: %s", report, err);
        return 1;
    }
    flows = json_get(j, "flows");
    for (size_t i = 0; i < json_len(flows); i++) {
        const struct json *fl = json_at(flows, i);
        const char *format = json_str(json_get(fl, "format"));
        auth += jnum(fl, "auth_failures");
        nokey += jnum(fl, "no_key");
        pkts += jnum(fl, "packets");
        if (format == NULL || strcmp(format, "v2-encrypted") != 0)
            ok = 0;
    }
    printf("\nWhat this shows\n");
    printf(
        "  Each packet between the hosts carried an encrypted PDMv2 option: the sending host's\n"
        "  agent put it there, the receiving host's agent opened it, and pdm analyze opened it\n"
        "  again from the capture with the registration's key log. Each delay is measured by one\n"
        "  host on its own clock (RFC 8250 section 4): no clock synchronisation is involved.\n");

    if ((f = find_flow(flows, 17, UDP_PORT)) != NULL) {
        printf("\n  UDP request/response, port %u: the server answers %u ms after each request "
               "arrives\n",
               UDP_PORT, delay_ms);
        if (jdelay(f, "server_delay_ns", &med, &cnt)) {
            double diff = (double)med / 1e6 - delay_ms;
            fmt(note, sizeof note,
                "known %u.000 ms; %+.3f ms: the answer's way to the server's agent", delay_ms,
                diff);
            print_ms("server delay", med, note);
        } else {
            ok = 0;
        }
        if (jdelay(f, "rtd_ns", &med, &cnt))
            print_ms("round trip", med, "the network alone: client DeltaTLS minus server DeltaTLR");
        if (m->live && m->udp_got > 0) {
            fmt(note, sizeof note, "%u of %u answered: server delay + round trip + both stacks",
                m->udp_got, m->udp_sent);
            print_ms("application", m->udp_app_median_ns, note);
        }
    } else {
        ok = 0;
    }
    if ((f = find_flow(flows, 58, 0)) != NULL) {
        printf("\n  ICMPv6 echo (ping)\n");
        if (jdelay(f, "rtd_ns", &med, &cnt)) {
            if (m->have_ping)
                fmt(note, sizeof note,
                    "ping's median: %.3f ms, which also counts the client's own stack and agent",
                    m->ping_median_ms);
            else
                fmt(note, sizeof note, "the network round trip seen from the client's agent");
            print_ms("round trip", med, note);
        }
        if (jdelay(f, "server_delay_ns", &med, &cnt))
            print_ms("server delay", med, "request in to reply out at the server's agent");
    }
    if ((f = find_flow(flows, 6, TCP_PORT)) != NULL) {
        const struct json *cl = json_get(f, "client"), *sv = json_get(f, "server");
        printf("\n  TCP transfer to port %u", TCP_PORT);
        if (m->live && m->tcp_ns > 0)
            printf(": %" PRIu64 " bytes in %.2f s (%.1f MB/s), through both agents", m->tcp_sent,
                   (double)m->tcp_ns / 1e9, (double)m->tcp_sent / ((double)m->tcp_ns / 1e9) / 1e6);
        printf("\n    packets       %" PRIu64 " (client %" PRIu64 ", server %" PRIu64
               "), lost %" PRIu64 ", reordered %" PRIu64 "\n",
               jnum(f, "packets"), jnum(cl, "packets"), jnum(sv, "packets"), jnum(f, "lost"),
               jnum(f, "reordered"));
        if (jdelay(f, "server_delay_ns", &med, &cnt))
            print_ms("server delay", med, "the receiver's time to its next ACK (delayed ACKs)");
        if (jdelay(f, "rtd_ns", &med, &cnt))
            print_ms("round trip", med, "");
    }
    printf("\n  Authentication: %" PRIu64 " options in %zu flows, %" PRIu64 " failed, %" PRIu64
           " without a key.\n",
           pkts, json_len(flows), auth, nokey);
    json_free(j);
    return ok && auth == 0 && nokey == 0 ? 0 : 1;
}

/* pdm analyze: report.json + report.html, then the table on stdout. */
static int analyse(struct demo *d, const char *capture, const char *keylog, const char *what)
{
    char json[PATH_MAX], html[PATH_MAX], table[PATH_MAX], log[PATH_MAX], text[65536];
    struct argv_b a;
    long n;

    if (out_path(d, json, sizeof json, "report.json") ||
        out_path(d, html, sizeof html, "report.html") ||
        work_path(d, table, sizeof table, "table.txt") ||
        work_path(d, log, sizeof log, "analyze.log"))
        return -1;
    for (int pass = 0; pass < 2; pass++) {
        av_pdm(d, &a, "analyze");
        AV(&a, "--keylog", keylog, "--server", SERVER_ADDR);
        if (pass == 0) {
            AV(&a, "--format", "json", "--report", html);
        }
        av_add(&a, capture);
        if (a.overflow || run(d, NULL, a.v, pass == 0 ? json : table, log, 60000) != 0) {
            demo_err("demo: pdm analyze failed");
            show_log(log);
            return -1;
        }
    }
    step(d, "analyse", "pdm analyze --keylog keylog --server %s %s", SERVER_ADDR, what);
    step(d, "", "-> report.json, report.html in %s", d->out);
    printf("\n");
    if ((n = read_text(table, text, sizeof text)) > 0)
        fwrite(text, 1, (size_t)n, stdout);
    return 0;
}

/* ---- the live run ------------------------------------------------------------- */

static int live(struct demo *d, struct measured *m)
{
    struct side c, s;
    char keylog[PATH_MAX], pingout[PATH_MAX], line[256], st_c[4096], st_s[4096];
    struct udp_arg ua = {d->delay_ms, UDP_COUNT};
    struct argv_b a;
    int rc = -1, stc, sts;
    long dc, ds;
    pid_t pid;
    int fd;

    memset(&c, 0, sizeof c);
    memset(&s, 0, sizeof s);
    c.name = "client";
    c.ns = d->ns_c;
    c.peer = SERVER_ADDR;
    s.name = "server";
    s.ns = d->ns_s;
    s.peer = CLIENT_ADDR;

    if (make_hosts(d) != 0)
        goto out;
    /* Neighbour discovery before the agents: the first measured packets
     * then go straight out. */
    if (find_prog("ping", line, sizeof line) != 0) {
        demo_err("demo: ping not found (apt install iputils-ping)");
        goto out;
    }
    av_init(&a);
    AV(&a, line, "-6", "-c", "1", "-W", "2", SERVER_ADDR);
    if (run(d, d->ns_c, a.v, NULL, NULL, 5000) != 0) {
        demo_err("demo: the two hosts cannot reach each other");
        goto out;
    }
    step(d, "hosts", "namespaces %s (client, %s) and %s (server, %s), one veth pair", d->ns_c,
         CLIENT_ADDR, d->ns_s, SERVER_ADDR);
    if (do_registration(d) != 0)
        goto out;
    if (start_agent(d, &c) != 0 || start_agent(d, &s) != 0)
        goto out;
    step(d, "agents",
         "pdm agent --mode v2-encrypted on each host, the other as --peer, "
         "its store: ready");
    if (start_capture(d, &c, CLIENT_IF) != 0 || start_capture(d, &s, SERVER_IF) != 0)
        goto out;
    step(d, "capture", "on %s and %s -> client.pcapng, server.pcapng (first %u bytes of each)",
         CLIENT_IF, SERVER_IF, d->snaplen);

    /* Servers. */
    if ((s.udp = spawn_fn(d, s.ns, udp_server, &ua, &s.udp_fd, "udp server")) < 0 ||
        read_line(s.udp_fd, line, sizeof line, 5000) != 0 || strcmp(line, "ready") != 0) {
        demo_err("demo: UDP server: %s", line);
        goto out;
    }
    if ((s.tcp = spawn_fn(d, s.ns, tcp_server, NULL, &s.tcp_fd, "tcp server")) < 0 ||
        read_line(s.tcp_fd, line, sizeof line, 5000) != 0 || strcmp(line, "ready") != 0) {
        demo_err("demo: TCP server: %s", line);
        goto out;
    }

    /* ping. */
    if (find_prog("ping", line, sizeof line) != 0 ||
        work_path(d, pingout, sizeof pingout, "ping.out"))
        goto out;
    av_init(&a);
    AV(&a, line, "-6", "-c", PING_COUNT_S, "-i", "0.05", "-W", "2", SERVER_ADDR);
    if (run(d, c.ns, a.v, pingout, NULL, 15000) != 0) {
        demo_err("demo: ping failed");
        show_log(pingout);
        goto out;
    }
    {
        char text[8192];
        read_text(pingout, text, sizeof text);
        m->have_ping = parse_ping(text, &m->ping_median_ms, &m->ping_count) == 0;
    }
    step(d, "traffic", "ping -6 -c %d -i 0.05 %s: %u answered, median rtt %.3f ms", PING_COUNT,
         SERVER_ADDR, m->ping_count, m->ping_median_ms);

    /* UDP. */
    if ((pid = spawn_fn(d, c.ns, udp_client, &ua, &fd, "udp client")) < 0)
        goto out;
    if (read_line(fd, line, sizeof line, 20000) != 0 ||
        sscanf(line, "udp %u %u %" SCNu64 " %u", &m->udp_sent, &m->udp_got, &m->udp_app_median_ns,
               &m->udp_port) != 4) {
        demo_err("demo: UDP client: %s", line);
        close(fd);
        stop_pid(d, pid, SIGTERM, 1000);
        goto out;
    }
    close(fd);
    wait_pid(d, pid, 2000, 0, NULL);
    step(d, "",
         "UDP: %u requests to port %d (answered %u ms after arrival): %u answers, median %.3f ms",
         m->udp_sent, UDP_PORT, d->delay_ms, m->udp_got, (double)m->udp_app_median_ns / 1e6);
    if (m->udp_got == 0)
        goto out;

    /* TCP. */
    if ((pid = spawn_fn(d, c.ns, tcp_client, &d->tcp_bytes, &fd, "tcp client")) < 0)
        goto out;
    if (read_line(fd, line, sizeof line, (unsigned)(30000 + d->tcp_bytes / 5000)) != 0 ||
        sscanf(line, "tcp %" SCNu64 " %" SCNu64 " %" SCNu64 " %u", &m->tcp_sent, &m->tcp_counted,
               &m->tcp_ns, &m->tcp_port) != 4) {
        demo_err("demo: TCP client: %s", line);
        close(fd);
        stop_pid(d, pid, SIGTERM, 1000);
        goto out;
    }
    close(fd);
    wait_pid(d, pid, 2000, 0, NULL);
    step(d, "", "TCP: %" PRIu64 " bytes to port %d in %.2f s, %" PRIu64 " arrived", m->tcp_sent,
         TCP_PORT, (double)m->tcp_ns / 1e9, m->tcp_counted);
    if (m->tcp_counted != m->tcp_sent) {
        demo_err("demo: the TCP transfer did not arrive whole");
        goto out;
    }
    m->live = 1;

    /* Counters while the agents run, then stop: captures first (they
     * drain and close their files), then the agents (SIGTERM: they remove
     * their rules). */
    sleep_ms(100);
    if (agent_status(d, &c, st_c, sizeof st_c) != 0 ||
        agent_status(d, &s, st_s, sizeof st_s) != 0) {
        demo_err("demo: pdm agent --status failed");
        show_log(c.log);
        show_log(s.log);
        goto out;
    }
    dc = stop_capture(d, &c);
    ds = stop_capture(d, &s);
    if (dc < 0 || ds < 0) {
        demo_err("demo: a capture failed");
        goto out;
    }
    stc = stop_pid(d, c.agent, SIGTERM, 5000);
    sts = stop_pid(d, s.agent, SIGTERM, 5000);
    c.agent = s.agent = 0;
    if (!(stc >= 0 && WIFEXITED(stc) && WEXITSTATUS(stc) == 0) ||
        !(sts >= 0 && WIFEXITED(sts) && WEXITSTATUS(sts) == 0)) {
        demo_err("demo: an agent did not stop cleanly");
        show_log(c.log);
        show_log(s.log);
        goto out;
    }
    step(d, "stop", "captures closed (%ld and %ld packets dropped); agents stopped, rules removed",
         dc, ds);
    step(d, "",
         "options: client agent %" PRIu64 " sealed, %" PRIu64 " opened; server agent %" PRIu64
         " sealed, %" PRIu64 " opened; %" PRIu64 " failed",
         counter(st_c, "tx_marked"), counter(st_c, "rx_logged"), counter(st_s, "tx_marked"),
         counter(st_s, "rx_logged"),
         counter(st_c, "rx_auth_failed") + counter(st_s, "rx_auth_failed"));
    if (out_path(d, keylog, sizeof keylog, "keylog") ||
        analyse(d, c.cap_path, keylog, "client.pcapng") != 0)
        goto out;
    rc = 0;
out:
    if (s.udp > 0)
        close(s.udp_fd);
    if (s.tcp > 0)
        close(s.tcp_fd);
    if (c.cap > 0)
        close(c.cap_fd);
    if (s.cap > 0)
        close(s.cap_fd);
    return rc;
}

/* ---- cleanup ------------------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void cleanup(struct demo *d)
{
    /* Captures first (they flush), agents next (they remove their rules
     * while their namespace still has a name), then everything else. */
    static const char *const order[] = {"capture", "agent", NULL};
    d->cleaning = 1;
    for (int pass = 0; pass < 3; pass++) {
        for (int i = 0; i < CHILDREN_MAX; i++) {
            struct child *k = &d->kids[i];
            if (k->pid == 0)
                continue;
            if (pass < 2 && strcmp(k->what, order[pass]) != 0)
                continue;
            kill(k->pid, k->stop_sig);
        }
        for (int i = 0; i < CHILDREN_MAX; i++) {
            struct child *k = &d->kids[i];
            if (k->pid == 0 || (pass < 2 && strcmp(k->what, order[pass]) != 0))
                continue;
            stop_pid(d, k->pid, k->stop_sig, pass == 1 ? 5000 : 2000);
        }
    }
    for (int i = 0; i < 2; i++) {
        const char *ns = i ? d->ns_s : d->ns_c;
        int *made = i ? &d->made_s : &d->made_c;
        if (*made && ns_exists(ns)) {
            const char *del[] = {"netns", "del", ns, NULL};
            if (ip_run(d, del) != 0)
                tool_err("demo: could not delete namespace %s (ip netns del %s)", ns, ns);
        }
        *made = 0;
    }
    if (d->work[0] != '\0') {
        nftw(d->work, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        d->work[0] = '\0';
    }
}

/* ---- the sample --------------------------------------------------------------- */

/* Finds the directory holding demo-client.pcapng and demo.keylog. */
static int find_sample(const struct demo *d, char *out, size_t cap)
{
    char exe_dir[PATH_MAX], probe[PATH_MAX + 32];
    const char *env = getenv("PDM_DATADIR");
    const char *cands[6];
    char c0[PATH_MAX], c2[PATH_MAX], c3[PATH_MAX];
    size_t n = 0;
    char *slash;

    if (fmt(exe_dir, sizeof exe_dir, "%s", d->self) != 0)
        return -1;
    if ((slash = strrchr(exe_dir, '/')) != NULL)
        *slash = '\0';
    if (env != NULL && fmt(c0, sizeof c0, "%s/sample", env) == 0)
        cands[n++] = c0;
#ifdef PDM_DATADIR
    cands[n++] = PDM_DATADIR "/sample";
#endif
    if (fmt(c2, sizeof c2, "%s/../docs/sample", exe_dir) == 0)
        cands[n++] = c2;
    if (fmt(c3, sizeof c3, "%s/../share/openpdm/sample", exe_dir) == 0)
        cands[n++] = c3;
    cands[n++] = "docs/sample";
    for (size_t i = 0; i < n; i++) {
        if (fmt(probe, sizeof probe, "%s/demo-client.pcapng", cands[i]) == 0 &&
            access(probe, R_OK) == 0 && fmt(probe, sizeof probe, "%s/demo.keylog", cands[i]) == 0 &&
            access(probe, R_OK) == 0 && realpath(cands[i], out) != NULL)
            return 0;
    }
    (void)cap;
    return -1;
}

static int sample(struct demo *d, struct measured *m)
{
    char dir[PATH_MAX], cap[PATH_MAX + 32], kl[PATH_MAX + 32];
    if (find_sample(d, dir, sizeof dir) != 0) {
        demo_err("demo: the sample capture (docs/sample/demo-client.pcapng) was not found; "
                 "set PDM_DATADIR to the directory holding sample/");
        return -1;
    }
    if (fmt(cap, sizeof cap, "%s/demo-client.pcapng", dir) ||
        fmt(kl, sizeof kl, "%s/demo.keylog", dir))
        return -1;
    step(d, "sample", "%s (made by pdm demo as root; see its README.md)", cap);
    memset(m, 0, sizeof *m);
    return analyse(d, cap, kl, "demo-client.pcapng");
}

/* ---- main ----------------------------------------------------------------------- */

static int parse_u(const char *flag, const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
    if (tool_parse_u64(v, max, out) != 0 || *out < min) {
        demo_err("demo: %s: expected a number from %" PRIu64 " to %" PRIu64, flag, min, max);
        return -1;
    }
    return 0;
}

int cmd_demo(int argc, char **argv)
{
    static struct demo d;
    struct measured m;
    struct sigaction sa;
    const char *out = NULL, *val;
    char report[PATH_MAX + 16];
    int force_sample = 0, rc = 1, g;
    uint64_t v;
    ssize_t n;

    memset(&d, 0, sizeof d);
    memset(&m, 0, sizeof m);
    d.delay_ms = DEFAULT_DELAY_MS;
    d.tcp_bytes = DEFAULT_TCP_BYTES;
    d.snaplen = DEFAULT_SNAPLEN;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--sample")) {
            force_sample = 1;
        } else if ((g = tool_flag_value(argc, argv, &i, "--out", &val)) != 0) {
            if (g < 0)
                goto missing;
            out = val;
        } else if ((g = tool_flag_value(argc, argv, &i, "--delay-ms", &val)) != 0) {
            if (g < 0)
                goto missing;
            if (parse_u("--delay-ms", val, 1, 100, &v) != 0)
                return 2;
            d.delay_ms = (unsigned)v;
        } else if ((g = tool_flag_value(argc, argv, &i, "--tcp-bytes", &val)) != 0) {
            if (g < 0)
                goto missing;
            if (parse_u("--tcp-bytes", val, 1, 1000000000, &v) != 0)
                return 2;
            d.tcp_bytes = v;
        } else if ((g = tool_flag_value(argc, argv, &i, "--snaplen", &val)) != 0) {
            if (g < 0)
                goto missing;
            if (parse_u("--snaplen", val, 128, 262144, &v) != 0)
                return 2;
            d.snaplen = (unsigned)v;
        } else {
            demo_err("demo: unknown argument '%s' (try 'pdm demo --help')", argv[i]);
            return 2;
        }
    }

    d.t0 = mono_ns();
    if ((n = readlink("/proc/self/exe", d.self, sizeof d.self - 1)) <= 0) {
        demo_err("demo: /proc/self/exe: %s", strerror(errno));
        return 1;
    }
    d.self[n] = '\0';

    /* The output directory. */
    if (out == NULL) {
        static char def[64];
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(def, sizeof def, "pdm-demo-%Y%m%d-%H%M%S", &tm);
        out = def;
    }
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        demo_err("demo: --out %s: %s", out, strerror(errno));
        return 1;
    }
    if (realpath(out, d.out) == NULL) {
        demo_err("demo: --out %s: %s", out, strerror(errno));
        return 1;
    }

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: waits notice at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    printf("pdm demo: two hosts, a registration, encrypted PDMv2 agents, traffic, captures, "
           "analysis\n");
    if (fmt(report, sizeof report, "%s/report.json", d.out) ||
        fmt(d.ns_c, sizeof d.ns_c, "pdm-demo-c-%ld", (long)getpid()) ||
        fmt(d.ns_s, sizeof d.ns_s, "pdm-demo-s-%ld", (long)getpid()) ||
        fmt(d.work, sizeof d.work, "/tmp/pdm-demo-%ld.XXXXXX", (long)getpid()) ||
        mkdtemp(d.work) == NULL) {
        demo_err("demo: cannot make a temporary directory: %s", strerror(errno));
        return 1;
    }
    if (force_sample || geteuid() != 0) {
        if (!force_sample)
            printf("Not root: no namespaces can be made here. Analysing the sample capture "
                   "shipped with openpdm instead\n(run as root for the live demo).\n");
        printf("output: %s\n\n", d.out);
        if (sample(&d, &m) == 0 && explain(report, DEFAULT_DELAY_MS, &m) == 0)
            rc = 0;
        cleanup(&d);
        return g_stop ? 128 + (int)g_stop : rc;
    }
    if (find_prog("ip", d.ip, sizeof d.ip) != 0) {
        demo_err("demo: ip (iproute2) not found");
        cleanup(&d);
        return 1;
    }
    printf("output: %s\n\n", d.out);
    if (live(&d, &m) == 0) {
        if (explain(report, d.delay_ms, &m) == 0)
            rc = 0;
        printf("\nFiles: client.pcapng server.pcapng keylog report.json report.html in %s\n"
               "Open the captures in Wireshark, or again: pdm analyze --keylog keylog "
               "server.pcapng\n",
               d.out);
    }
    if (g_stop) {
        printf("\npdm demo: interrupted (signal %d): cleaning up; what was captured stays in "
               "%s\n",
               (int)g_stop, d.out);
        rc = 128 + (int)g_stop;
    }
    fflush(stdout);
    cleanup(&d);
    if (rc == 0)
        printf("Cleaned up: namespaces %s and %s deleted.\n", d.ns_c, d.ns_s);
    return rc;

missing:
    demo_err("demo: %s needs a value (try 'pdm demo --help')", argv[argc - 1]);
    return 2;
}
