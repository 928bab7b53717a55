/*
 * pdm demo: what the files of tools/demo/ share (the whole story is at the
 * top of cmd_demo.c and in pdm-demo(8)).
 *
 *   cmd_demo.c   the command: options, the order of the steps, the sample
 *   supervise.c  child processes, the namespaces and their veth pair,
 *                cleanup on every way out
 *   setup.c      keys, the registration and the agents (pdm subcommands)
 *   capture.c    a libpcap capture on each veth end, written by libpcap's
 *                dumper as nanosecond pcap
 *   traffic.c    ping, the UDP and TCP clients and servers
 *   explain.c    pdm analyze, then reading report.json and saying what it
 *                shows
 *   util.c       clocks, paths, small files, argument vectors, the step
 *                lines
 *
 * Every function here returns 0 on success and -1 on failure unless it says
 * otherwise; a failure has been reported on stderr (one line, then the
 * logs of the program concerned) unless a stop signal came, whose
 * consequences are not news (demo_err).
 */
#ifndef PDM_TOOLS_DEMO_H
#define PDM_TOOLS_DEMO_H

#include "common/tools.h"

#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The demo's own addresses (a ULA prefix: RFC 4193), ports and interfaces.
 * They exist only inside the two namespaces, so nothing on the host can
 * clash. */
#define DEMO_CLIENT_ADDR  "fd00:ad::1"
#define DEMO_SERVER_ADDR  "fd00:ad::2"
#define DEMO_REG_ENDPOINT "[" DEMO_SERVER_ADDR "]:8250"
#define DEMO_UDP_PORT     9000
#define DEMO_TCP_PORT     5001
#define DEMO_CLIENT_IF    "vc"
#define DEMO_SERVER_IF    "vs"

#define DEMO_DEFAULT_DELAY_MS 5
#define DEMO_CHILDREN_MAX     16

/* Set by SIGINT / SIGTERM / SIGHUP to the signal number. In a capture or
 * server child (which inherits the handler) it means "stop". */
extern volatile sig_atomic_t demo_signal;
void demo_on_signal(int sig);

/* Errors after a stop signal are its consequences, not news: quiet. */
#define demo_err(...)                                                                              \
    do {                                                                                           \
        if (!demo_signal)                                                                          \
            tool_err(__VA_ARGS__);                                                                 \
    } while (0)

struct demo_child {
    pid_t pid; /* 0: a free slot */
    const char *what;
    int stop_sig; /* what asks it to finish cleanly */
};

struct demo {
    char self[PATH_MAX]; /* this binary */
    char ip[PATH_MAX];   /* iproute2's ip */
    char ping[PATH_MAX]; /* iputils' ping */
    char out[PATH_MAX];  /* the output directory (absolute) */
    char work[PATH_MAX]; /* private temporary directory */
    char ns_c[64], ns_s[64];
    int made_c, made_s; /* namespaces this run created (and only these are deleted) */
    struct demo_child kids[DEMO_CHILDREN_MAX];
    uint64_t t0;
    int cleaning; /* waits are no longer cut short by a stop signal */
    unsigned delay_ms;
    uint64_t tcp_bytes;
    unsigned snaplen;
};

/* One host: its namespace and what runs there. */
struct demo_side {
    const char *name; /* client / server */
    const char *ns;
    const char *peer;
    pid_t agent, cap, udp, tcp;
    int cap_fd, udp_fd, tcp_fd;         /* report pipes of cap, udp, tcp (when their pid > 0) */
    char sock[PATH_MAX], log[PATH_MAX]; /* the agent's control socket and log */
    char cap_path[PATH_MAX];
};

/* What the demo measured itself, beside the capture. */
struct demo_measured {
    int have_ping;
    double ping_median_ms;
    unsigned ping_count;
    unsigned udp_sent, udp_got, udp_port;
    uint64_t udp_app_median_ns;
    uint64_t tcp_sent, tcp_counted, tcp_ns;
    unsigned tcp_port;
    int live; /* 0: the sample, none of the above */
};

/* ---- util.c ---- */

uint64_t demo_mono_ns(void);
void demo_sleep_ms(unsigned ms);
/* snprintf that reports truncation as failure. */
int demo_fmt(char *out, size_t cap, const char *f, ...) __attribute__((format(printf, 3, 4)));
/* name in the temporary directory / in the output directory. */
int demo_work_path(const struct demo *d, char *out, size_t cap, const char *name);
int demo_out_path(const struct demo *d, char *out, size_t cap, const char *name);
/* Reads a whole small file into buf (NUL-terminated). Returns its length
 * or -1. */
long demo_read_text(const char *path, char *buf, size_t cap);
/* Finds an executable: in $PATH, then in the sbin directories a non-login
 * root shell may lack. */
int demo_find_prog(const char *name, char *out, size_t cap);
/* Prints a child's log (indented) after a failure. */
void demo_show_log(const char *path);
/* One line of the demo's progress: "[  1.4 s] name      text". */
void demo_step(const struct demo *d, const char *name, const char *f, ...)
    __attribute__((format(printf, 3, 4)));

/* An argument vector built from copies (execv wants char *, our strings
 * are const). A word that does not fit sets overflow; users check it
 * once at the end. */
struct demo_argv {
    char *v[48];
    int n;
    char buf[8192];
    size_t used;
    int overflow;
};

void demo_av_init(struct demo_argv *a);
void demo_av_add(struct demo_argv *a, const char *s);
void demo_av_words(struct demo_argv *a, const char *const w[]); /* NULL-terminated */
#define DEMO_AV(a, ...) demo_av_words((a), (const char *const[]){__VA_ARGS__, NULL})
/* a = this binary, cmd. */
void demo_av_pdm(const struct demo *d, struct demo_argv *a, const char *cmd);

/* ---- supervise.c ---- */

/* A child's main function (see demo_spawn_fn); returns 0 or nonzero, its
 * exit status. */
typedef int (*demo_child_fn)(const void *arg, int report_fd);

/* Starts argv (argv[0] a full path) with stdout / stderr to the files
 * given (NULL: /dev/null), inside namespace ns when not NULL (through `ip
 * netns exec`). Returns the pid or -1. */
pid_t demo_spawn_exec(struct demo *d, const char *ns, char *const argv[], const char *out,
                      const char *err, const char *what, int stop_sig);
/* Forks a child that enters namespace ns and runs fn(arg, fd), fd being
 * the write end of a pipe whose read end is returned in *rfd (the child's
 * report: a line or two of text). arg is read in the child, after fork:
 * it may point to the caller's stack. Returns the pid or -1. */
pid_t demo_spawn_fn(struct demo *d, const char *ns, demo_child_fn fn, const void *arg, int *rfd,
                    const char *what);
/* demo_spawn_fn, then waits up to 10 s for the child's "ready" line.
 * *pid and *rfd are set once the child runs, even when it fails (cleanup
 * stops it; the caller closes *rfd); line receives what it said. */
int demo_spawn_ready(struct demo *d, const char *ns, demo_child_fn fn, const void *arg,
                     const char *what, pid_t *pid, int *rfd, char *line, size_t cap);
/* Waits for pid to exit, at most timeout_ms. interruptible: give up when a
 * signal asked the demo to stop. Returns 0 (exit status in *status if not
 * NULL), 1 on timeout, -1 when interrupted or on error. */
int demo_wait_pid(struct demo *d, pid_t pid, unsigned timeout_ms, int interruptible, int *status);
/* Asks pid to stop with sig, then SIGKILL after grace_ms. Returns its wait
 * status, or -1. */
int demo_stop_pid(struct demo *d, pid_t pid, int sig, unsigned grace_ms);
/* 1 when a wait status is a normal exit with code 0. */
int demo_exited_ok(int status);
/* Runs argv to completion (see demo_spawn_exec). Returns the exit code, or
 * -1 (could not start, killed by a signal, timed out, interrupted). */
int demo_run(struct demo *d, const char *ns, char *const argv[], const char *out, const char *err,
             unsigned timeout_ms);
/* Reads one line from a child's report pipe (timeout_ms; interruptible).
 * Returns 0, or -1 (EOF, timeout, interrupted; buf holds what came). */
int demo_read_line(int fd, char *buf, size_t cap, unsigned timeout_ms);
/* Waits until file path contains text (a program's log line), while pid
 * runs. Returns 0, or -1 (timeout, exit, interrupted). */
int demo_wait_log(struct demo *d, const char *path, const char *text, pid_t pid,
                  unsigned timeout_ms);
/* The two namespaces and the veth pair between them, addressed and up. */
int demo_make_hosts(struct demo *d);
/* Stops every child (captures, agents, the rest), deletes the namespaces
 * this run made, removes the temporary directory. Safe to call at any
 * point and more than once. */
void demo_cleanup(struct demo *d);

/* ---- setup.c ---- */

/* pdm keygen for the registrar and the client, pdm registrar in the server
 * namespace, pdm register --pin --key from the client's: both secret
 * stores, and DIR/keylog. */
int demo_registration(struct demo *d);
/* pdm agent --mode v2-encrypted for side s, up to its "ready". */
int demo_agent_start(struct demo *d, struct demo_side *s);
/* `pdm agent --status` of side s into buf. */
int demo_agent_status(struct demo *d, const struct demo_side *s, char *buf, size_t cap);
/* A counter from `pdm agent --status` output (0 when absent). */
uint64_t demo_agent_counter(const char *status, const char *name);

/* ---- capture.c ---- */

/* A capture on iface in s's namespace into DIR/<side>.pcap, running once
 * this returns 0. */
int demo_capture_start(struct demo *d, struct demo_side *s, const char *iface);
/* Stops s's capture (it drains the kernel's buffer and closes the file).
 * Returns the kernel's drop count, or -1. */
long demo_capture_stop(struct demo *d, struct demo_side *s);

/* ---- traffic.c ---- */

/* One ping from the client: the hosts reach each other, and neighbour
 * discovery is done before anything is measured. */
int demo_traffic_reach(struct demo *d);
/* The UDP server (answers delay_ms after each request arrived) and the
 * TCP sink, in s's namespace. */
int demo_traffic_servers(struct demo *d, struct demo_side *s);
/* The three kinds of traffic from the client, each filling its part of m. */
int demo_traffic_ping(struct demo *d, struct demo_measured *m);
int demo_traffic_udp(struct demo *d, struct demo_measured *m);
int demo_traffic_tcp(struct demo *d, struct demo_measured *m);

/* ---- explain.c ---- */

/* pdm analyze of capture with keylog: DIR/report.json and report.html,
 * then the table on stdout. what names the capture in the step line. */
int demo_analyse(struct demo *d, const char *capture, const char *keylog, const char *what);
/* Reads report.json back and says what its figures mean. Returns 0 when
 * the run shows what it should (every flow encrypted, nothing failed
 * authentication or lacked a key, a UDP flow with server delays), else 1. */
int demo_explain(const char *report, unsigned delay_ms, const struct demo_measured *m);

#endif /* PDM_TOOLS_DEMO_H */
