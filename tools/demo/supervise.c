/*
 * pdm demo: supervision. Child processes, the two namespaces and the veth
 * pair between them, and the cleanup that runs on every way out.
 *
 * Processes: the pdm subcommands, ip and ping are executed (the pdm binary
 * is this one, /proc/self/exe; commands inside a namespace go through `ip
 * netns exec`); the UDP and TCP servers and clients and the two captures
 * are children of this process that enter their namespace with setns(2),
 * so nothing but this binary, iproute2 and ping is needed at run time.
 * Each child gets its own process group (a Ctrl-C reaches only the demo,
 * which then stops everything in order) and PR_SET_PDEATHSIG, so that a
 * demo killed outright takes its children with it. Every child is in
 * d->kids until it has been waited for, which is how cleanup finds it:
 * children are only ever stopped by their pid.
 *
 * Cleanup, on success, failure, SIGINT, SIGTERM or SIGHUP alike: children
 * are stopped (captures first so that they flush, then agents with
 * SIGTERM, which removes their netfilter rules, then the rest; SIGKILL
 * after a grace period), then the two namespaces are deleted (which takes
 * the veth pair and anything left inside with them), then the temporary
 * directory. Only namespaces this run created are ever deleted.
 */
#include "demo/demo.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

volatile sig_atomic_t demo_signal;

void demo_on_signal(int sig)
{
    demo_signal = sig;
}

/* ---- children ------------------------------------------------------------------- */

/* Records a new child. With no room left it is killed at once: a child
 * cleanup could not find must not exist. Returns pid or -1. */
static pid_t kid_add(struct demo *d, pid_t pid, const char *what, int stop_sig)
{
    for (int i = 0; i < DEMO_CHILDREN_MAX; i++)
        if (d->kids[i].pid == 0) {
            d->kids[i].pid = pid;
            d->kids[i].what = what;
            d->kids[i].stop_sig = stop_sig;
            return pid;
        }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static void kid_gone(struct demo *d, pid_t pid)
{
    for (int i = 0; i < DEMO_CHILDREN_MAX; i++)
        if (d->kids[i].pid == pid)
            d->kids[i].pid = 0;
}

/* pid is a child of ours not yet waited for: one that may be signalled
 * (a pid already reaped may belong to someone else by now). */
static int kid_alive(const struct demo *d, pid_t pid)
{
    for (int i = 0; i < DEMO_CHILDREN_MAX; i++)
        if (pid > 0 && d->kids[i].pid == pid)
            return 1;
    return 0;
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

pid_t demo_spawn_exec(struct demo *d, const char *ns, char *const argv[], const char *out,
                      const char *err, const char *what, int stop_sig)
{
    struct demo_argv full;
    pid_t pid;

    demo_av_init(&full);
    if (ns != NULL)
        DEMO_AV(&full, d->ip, "netns", "exec", ns);
    for (int i = 0; argv[i] != NULL; i++)
        demo_av_add(&full, argv[i]);
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
    return kid_add(d, pid, what, stop_sig);
}

int demo_wait_pid(struct demo *d, pid_t pid, unsigned timeout_ms, int interruptible, int *status)
{
    uint64_t end = demo_mono_ns() + (uint64_t)timeout_ms * 1000000u;
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
        if (interruptible && demo_signal)
            return -1;
        if (demo_mono_ns() >= end)
            return 1;
        demo_sleep_ms(5);
    }
}

int demo_stop_pid(struct demo *d, pid_t pid, int sig, unsigned grace_ms)
{
    int st = -1;
    if (!kid_alive(d, pid))
        return -1;
    kill(pid, sig);
    if (demo_wait_pid(d, pid, grace_ms, 0, &st) == 0)
        return st;
    kill(pid, SIGKILL);
    if (demo_wait_pid(d, pid, 2000, 0, &st) == 0)
        return st;
    return -1;
}

int demo_exited_ok(int status)
{
    return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int demo_run(struct demo *d, const char *ns, char *const argv[], const char *out, const char *err,
             unsigned timeout_ms)
{
    int st = 0;
    pid_t pid = demo_spawn_exec(d, ns, argv, out, err, "command", SIGTERM);
    if (pid < 0)
        return -1;
    if (demo_wait_pid(d, pid, timeout_ms, !d->cleaning, &st) != 0) {
        demo_stop_pid(d, pid, SIGTERM, 1000);
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- namespaces ------------------------------------------------------------------ */

static int ns_path(const char *ns, char *out, size_t cap)
{
    return demo_fmt(out, cap, "/var/run/netns/%s", ns);
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

pid_t demo_spawn_fn(struct demo *d, const char *ns, demo_child_fn fn, const void *arg, int *rfd,
                    const char *what)
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
        demo_signal = 0;
        if (enter_netns(ns) != 0) {
            dprintf(p[1], "error entering namespace %s: %s\n", ns, strerror(errno));
            _exit(1);
        }
        _exit(fn(arg, p[1]) == 0 ? 0 : 1);
    }
    close(p[1]);
    if (kid_add(d, pid, what, SIGTERM) < 0) {
        close(p[0]);
        return -1;
    }
    *rfd = p[0];
    return pid;
}

int demo_spawn_ready(struct demo *d, const char *ns, demo_child_fn fn, const void *arg,
                     const char *what, pid_t *pid, int *rfd, char *line, size_t cap)
{
    line[0] = '\0';
    if ((*pid = demo_spawn_fn(d, ns, fn, arg, rfd, what)) < 0) {
        *pid = 0;
        return -1;
    }
    if (demo_read_line(*rfd, line, cap, 10000) != 0 || strcmp(line, "ready") != 0)
        return -1;
    return 0;
}

int demo_read_line(int fd, char *buf, size_t cap, unsigned timeout_ms)
{
    uint64_t end = demo_mono_ns() + (uint64_t)timeout_ms * 1000000u;
    size_t n = 0;
    while (n + 1 < cap) {
        struct pollfd pfd = {fd, POLLIN, 0};
        uint64_t now = demo_mono_ns();
        char c;
        ssize_t r;
        if (demo_signal || now >= end)
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

int demo_wait_log(struct demo *d, const char *path, const char *text, pid_t pid,
                  unsigned timeout_ms)
{
    uint64_t end = demo_mono_ns() + (uint64_t)timeout_ms * 1000000u;
    char buf[8192];
    for (;;) {
        int st;
        if (demo_read_text(path, buf, sizeof buf) >= 0 && strstr(buf, text) != NULL)
            return 0;
        if (demo_signal || demo_mono_ns() >= end)
            return -1;
        if (pid > 0 && waitpid(pid, &st, WNOHANG) == pid) {
            kid_gone(d, pid);
            return demo_read_text(path, buf, sizeof buf) >= 0 && strstr(buf, text) ? 0 : -1;
        }
        demo_sleep_ms(10);
    }
}

/* ---- the hosts ------------------------------------------------------------------- */

/* Runs `ip WORDS...` (NULL-terminated). Returns 0 or -1 (after saying why). */
static int ip_run(struct demo *d, const char *const words[])
{
    char log[PATH_MAX];
    struct demo_argv a;

    demo_av_init(&a);
    demo_av_add(&a, d->ip);
    demo_av_words(&a, words);
    if (a.overflow || demo_work_path(d, log, sizeof log, "ip.log") != 0)
        return -1;
    if (demo_run(d, NULL, a.v, NULL, log, 5000) != 0) {
        if (demo_signal && !d->cleaning)
            return -1;
        fprintf(stderr, "pdm: demo: failed:");
        for (int i = 0; i < a.n; i++)
            fprintf(stderr, " %s", a.v[i]);
        fputc('\n', stderr);
        demo_show_log(log);
        return -1;
    }
    return 0;
}

/*
 * Two namespaces, a veth pair between them created inside them (no
 * interface ever exists in the host's namespace), addresses without
 * duplicate address detection (nobody else is on the link), links up.
 */
int demo_make_hosts(struct demo *d)
{
    const char *add_c[] = {"netns", "add", d->ns_c, NULL};
    const char *add_s[] = {"netns", "add", d->ns_s, NULL};
    const char *veth[] = {"link",  "add",   DEMO_CLIENT_IF, "netns", d->ns_c, "mtu",
                          "1500",  "type",  "veth",         "peer",  "name",  DEMO_SERVER_IF,
                          "netns", d->ns_s, "mtu",          "1500",  NULL};

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
        const char *ifn = side ? DEMO_SERVER_IF : DEMO_CLIENT_IF;
        const char *addr = side ? DEMO_SERVER_ADDR "/64" : DEMO_CLIENT_ADDR "/64";
        const char *lo[] = {"-n", ns, "link", "set", "lo", "up", NULL};
        const char *up[] = {"-n", ns, "link", "set", ifn, "up", NULL};
        const char *ad[] = {"-n", ns, "addr", "add", addr, "dev", ifn, "nodad", NULL};
        if (ip_run(d, lo) != 0 || ip_run(d, up) != 0 || ip_run(d, ad) != 0)
            return -1;
    }
    return 0;
}

/* ---- cleanup --------------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* Signals every child of kind what (NULL: every one left), then waits for
 * each, with SIGKILL after grace_ms. All are asked first, so that they
 * finish side by side. */
static void stop_kind(struct demo *d, const char *what, unsigned grace_ms)
{
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < DEMO_CHILDREN_MAX; i++) {
            struct demo_child *k = &d->kids[i];
            if (k->pid == 0 || (what != NULL && strcmp(k->what, what) != 0))
                continue;
            if (pass == 0)
                kill(k->pid, k->stop_sig);
            else
                demo_stop_pid(d, k->pid, k->stop_sig, grace_ms);
        }
}

void demo_cleanup(struct demo *d)
{
    d->cleaning = 1;
    /* Captures first (they flush), agents next (they remove their rules
     * while their namespace still has a name), then everything else. */
    stop_kind(d, "capture", 2000);
    stop_kind(d, "agent", 5000);
    stop_kind(d, NULL, 2000);
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
