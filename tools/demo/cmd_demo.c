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
 *     capture -> client.pcap                                 N ms), TCP sink, capture
 *                                                            -> server.pcap
 *
 * then stops the agents, runs `pdm analyze` on the client's capture with the
 * registration's key log, prints the table and explains the figures. DIR
 * receives client.pcap, server.pcap (libpcap's classic format, nanosecond
 * timestamps), keylog, report.json and report.html. Everything else (keys,
 * secret stores, agent state, logs) lives in a private temporary directory
 * that is removed at the end, on every way out (supervise.c).
 *
 * This file holds the command: its options and the order of the steps.
 * The steps themselves are in the other files of tools/demo/ (demo.h).
 *
 * Not root (or --sample): the sample capture shipped with openpdm
 * (docs/sample/demo-client.pcap and demo.keylog, made by this command as
 * root; docs/sample/README.md says how) is analysed instead, found through
 * $PDM_DATADIR, a compiled-in PDM_DATADIR, or next to the binary
 * (../docs/sample, ../share/openpdm/sample).
 *
 * See pdm-demo(8).
 */
#include "demo/demo.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    "  --out DIR       where client.pcap, server.pcap, keylog, report.json\n"
    "                  and report.html go (default ./pdm-demo-YYYYmmdd-HHMMSS)\n"
    "  --delay-ms N    the UDP server's delay before answering (default 5)\n"
    "  --tcp-bytes N   size of the TCP transfer (default 4000000)\n"
    "  --snaplen N     bytes kept of each captured packet (default 256: every\n"
    "                  header and the option; the payloads are filler)\n"
    "  --sample        analyse the shipped sample capture even as root\n"
    "  -h, --help      this text\n"
    "\n"
    "See pdm-demo(8).\n";

#define DEFAULT_TCP_BYTES 4000000u
#define DEFAULT_SNAPLEN   256

/* The sample's files, in docs/sample/ (see find_sample). */
#define SAMPLE_CAPTURE "demo-client.pcap"
#define SAMPLE_KEYLOG  "demo.keylog"

/* ---- the live run ------------------------------------------------------------- */

static void side_init(struct demo_side *s, const char *name, const char *ns, const char *peer)
{
    memset(s, 0, sizeof *s);
    s->name = name;
    s->ns = ns;
    s->peer = peer;
}

/* Closes the report pipes still open (the children are cleanup's). */
static void side_close(struct demo_side *s)
{
    if (s->udp > 0)
        close(s->udp_fd);
    if (s->tcp > 0)
        close(s->tcp_fd);
    if (s->cap > 0)
        close(s->cap_fd);
    s->udp = s->tcp = s->cap = 0;
}

/* Hosts, registration, agents, captures: everything before the traffic. */
static int live_setup(struct demo *d, struct demo_side *c, struct demo_side *s)
{
    if (demo_make_hosts(d) != 0 || demo_traffic_reach(d) != 0)
        return -1;
    demo_step(d, "hosts", "namespaces %s (client, %s) and %s (server, %s), one veth pair", d->ns_c,
              DEMO_CLIENT_ADDR, d->ns_s, DEMO_SERVER_ADDR);
    if (demo_registration(d) != 0)
        return -1;
    if (demo_agent_start(d, c) != 0 || demo_agent_start(d, s) != 0)
        return -1;
    demo_step(d, "agents",
              "pdm agent --mode v2-encrypted on each host, the other as --peer, its store: ready");
    if (demo_capture_start(d, c, DEMO_CLIENT_IF) != 0 ||
        demo_capture_start(d, s, DEMO_SERVER_IF) != 0)
        return -1;
    demo_step(d, "capture", "on %s and %s -> client.pcap, server.pcap (first %u bytes of each)",
              DEMO_CLIENT_IF, DEMO_SERVER_IF, d->snaplen);
    return 0;
}

/*
 * The agents' counters while they run, then the stop: captures first (they
 * drain and close their files), then the agents (SIGTERM: they remove
 * their rules).
 */
static int live_stop(struct demo *d, struct demo_side *c, struct demo_side *s)
{
    char st_c[4096], st_s[4096];
    long dc, ds;
    int stc, sts;

    demo_sleep_ms(100);
    if (demo_agent_status(d, c, st_c, sizeof st_c) != 0 ||
        demo_agent_status(d, s, st_s, sizeof st_s) != 0) {
        demo_err("demo: pdm agent --status failed");
        demo_show_log(c->log);
        demo_show_log(s->log);
        return -1;
    }
    dc = demo_capture_stop(d, c);
    ds = demo_capture_stop(d, s);
    if (dc < 0 || ds < 0) {
        demo_err("demo: a capture failed");
        return -1;
    }
    stc = demo_stop_pid(d, c->agent, SIGTERM, 5000);
    sts = demo_stop_pid(d, s->agent, SIGTERM, 5000);
    c->agent = s->agent = 0;
    if (!demo_exited_ok(stc) || !demo_exited_ok(sts)) {
        demo_err("demo: an agent did not stop cleanly");
        demo_show_log(c->log);
        demo_show_log(s->log);
        return -1;
    }
    demo_step(d, "stop",
              "captures closed (%ld and %ld packets dropped); agents stopped, rules removed", dc,
              ds);
    demo_step(d, "",
              "options: client agent %" PRIu64 " sealed, %" PRIu64 " opened; server agent %" PRIu64
              " sealed, %" PRIu64 " opened; %" PRIu64 " failed",
              demo_agent_counter(st_c, "tx_marked"), demo_agent_counter(st_c, "rx_logged"),
              demo_agent_counter(st_s, "tx_marked"), demo_agent_counter(st_s, "rx_logged"),
              demo_agent_counter(st_c, "rx_auth_failed") +
                  demo_agent_counter(st_s, "rx_auth_failed"));
    return 0;
}

static int live(struct demo *d, struct demo_measured *m)
{
    struct demo_side c, s;
    char keylog[PATH_MAX];
    int rc = -1;

    side_init(&c, "client", d->ns_c, DEMO_SERVER_ADDR);
    side_init(&s, "server", d->ns_s, DEMO_CLIENT_ADDR);
    if (live_setup(d, &c, &s) != 0 || demo_traffic_servers(d, &s) != 0 ||
        demo_traffic_ping(d, m) != 0 || demo_traffic_udp(d, m) != 0 || demo_traffic_tcp(d, m) != 0)
        goto out;
    m->live = 1;
    if (live_stop(d, &c, &s) != 0 || demo_out_path(d, keylog, sizeof keylog, "keylog") != 0 ||
        demo_analyse(d, c.cap_path, keylog, "client.pcap") != 0)
        goto out;
    rc = 0;
out:
    side_close(&c);
    side_close(&s);
    return rc;
}

/* ---- the sample --------------------------------------------------------------- */

/* Whether dir holds the sample's capture and key log. */
static int is_sample_dir(const char *dir)
{
    char probe[PATH_MAX + 32];
    return demo_fmt(probe, sizeof probe, "%s/" SAMPLE_CAPTURE, dir) == 0 &&
           access(probe, R_OK) == 0 &&
           demo_fmt(probe, sizeof probe, "%s/" SAMPLE_KEYLOG, dir) == 0 && access(probe, R_OK) == 0;
}

/* Finds the directory holding the sample (out: PATH_MAX bytes). */
static int find_sample(const struct demo *d, char out[static PATH_MAX])
{
    char exe_dir[PATH_MAX], c0[PATH_MAX], c2[PATH_MAX], c3[PATH_MAX], *slash;
    const char *env = getenv("PDM_DATADIR");
    const char *cands[5];
    size_t n = 0;

    if (demo_fmt(exe_dir, sizeof exe_dir, "%s", d->self) != 0)
        return -1;
    if ((slash = strrchr(exe_dir, '/')) != NULL)
        *slash = '\0';
    if (env != NULL && demo_fmt(c0, sizeof c0, "%s/sample", env) == 0)
        cands[n++] = c0;
#ifdef PDM_DATADIR
    cands[n++] = PDM_DATADIR "/sample";
#endif
    if (demo_fmt(c2, sizeof c2, "%s/../docs/sample", exe_dir) == 0)
        cands[n++] = c2;
    if (demo_fmt(c3, sizeof c3, "%s/../share/openpdm/sample", exe_dir) == 0)
        cands[n++] = c3;
    cands[n++] = "docs/sample";
    for (size_t i = 0; i < n; i++)
        if (is_sample_dir(cands[i]) && realpath(cands[i], out) != NULL)
            return 0;
    return -1;
}

static int sample(struct demo *d, struct demo_measured *m)
{
    char dir[PATH_MAX], cap[PATH_MAX + 32], kl[PATH_MAX + 32];
    if (find_sample(d, dir) != 0) {
        demo_err("demo: the sample capture (docs/sample/" SAMPLE_CAPTURE ") was not found; "
                 "set PDM_DATADIR to the directory holding sample/");
        return -1;
    }
    if (demo_fmt(cap, sizeof cap, "%s/" SAMPLE_CAPTURE, dir) ||
        demo_fmt(kl, sizeof kl, "%s/" SAMPLE_KEYLOG, dir))
        return -1;
    demo_step(d, "sample", "%s (made by pdm demo as root; see its README.md)", cap);
    memset(m, 0, sizeof *m);
    return demo_analyse(d, cap, kl, SAMPLE_CAPTURE);
}

/* ---- options ------------------------------------------------------------------ */

struct opts {
    const char *out;
    int force_sample;
};

static int parse_u(const char *flag, const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
    if (tool_parse_u64(v, max, out) != 0 || *out < min) {
        tool_err("demo: %s: expected a number from %" PRIu64 " to %" PRIu64, flag, min, max);
        return -1;
    }
    return 0;
}

/* Returns -1 to go on, or the exit status: 0 after --help, 2 on a usage
 * error (one line said why). */
static int parse_opts(int argc, char **argv, struct demo *d, struct opts *o)
{
    static const struct option longopts[] = {{"out", required_argument, NULL, 'o'},
                                             {"delay-ms", required_argument, NULL, 'd'},
                                             {"tcp-bytes", required_argument, NULL, 'b'},
                                             {"snaplen", required_argument, NULL, 's'},
                                             {"sample", no_argument, NULL, 'S'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    uint64_t v;
    int c;

    opterr = 0; /* tool_getopt_error words them */
    optind = 1;
    while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(usage, stdout);
            return 0;
        case 'S':
            o->force_sample = 1;
            break;
        case 'o':
            o->out = optarg;
            break;
        case 'd':
            if (parse_u("--delay-ms", optarg, 1, 100, &v) != 0)
                return 2;
            d->delay_ms = (unsigned)v;
            break;
        case 'b':
            if (parse_u("--tcp-bytes", optarg, 1, 1000000000, &v) != 0)
                return 2;
            d->tcp_bytes = v;
            break;
        case 's':
            if (parse_u("--snaplen", optarg, 128, 262144, &v) != 0)
                return 2;
            d->snaplen = (unsigned)v;
            break;
        default: /* ':' or '?' */
            tool_getopt_error("demo", c, argv, longopts);
            return 2;
        }
    }
    if (optind < argc) {
        tool_err("demo: unexpected argument '%s' (try 'pdm demo --help')", argv[optind]);
        return 2;
    }
    return -1;
}

/* ---- main ----------------------------------------------------------------------- */

/* The output directory (default ./pdm-demo-YYYYmmdd-HHMMSS), made and
 * resolved into d->out. */
static int make_out(struct demo *d, const char *out)
{
    char def[64];

    if (out == NULL) {
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(def, sizeof def, "pdm-demo-%Y%m%d-%H%M%S", &tm);
        out = def;
    }
    if ((mkdir(out, 0755) != 0 && errno != EEXIST) || realpath(out, d->out) == NULL) {
        demo_err("demo: --out %s: %s", out, strerror(errno));
        return -1;
    }
    return 0;
}

/* This binary, the output and temporary directories, the namespaces'
 * names, the signal handlers. */
static int prepare(struct demo *d, const char *out)
{
    struct sigaction sa;
    ssize_t n;

    d->t0 = demo_mono_ns();
    if ((n = readlink("/proc/self/exe", d->self, sizeof d->self - 1)) <= 0) {
        demo_err("demo: /proc/self/exe: %s", strerror(errno));
        return -1;
    }
    d->self[n] = '\0';
    if (make_out(d, out) != 0)
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = demo_on_signal; /* no SA_RESTART: waits notice at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (demo_fmt(d->ns_c, sizeof d->ns_c, "pdm-demo-c-%ld", (long)getpid()) ||
        demo_fmt(d->ns_s, sizeof d->ns_s, "pdm-demo-s-%ld", (long)getpid()) ||
        demo_fmt(d->work, sizeof d->work, "/tmp/pdm-demo-%ld.XXXXXX", (long)getpid()) ||
        mkdtemp(d->work) == NULL) {
        d->work[0] = '\0';
        demo_err("demo: cannot make a temporary directory: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* The live run and its explanation. Returns the exit status but for
 * signals. */
static int run_live(struct demo *d, const char *report)
{
    struct demo_measured m;
    int rc = 1;

    memset(&m, 0, sizeof m);
    if (demo_find_prog("ip", d->ip, sizeof d->ip) != 0) {
        demo_err("demo: ip (iproute2) not found");
        return 1;
    }
    if (demo_find_prog("ping", d->ping, sizeof d->ping) != 0) {
        demo_err("demo: ping not found (apt install iputils-ping)");
        return 1;
    }
    printf("output: %s\n\n", d->out);
    if (live(d, &m) == 0) {
        rc = demo_explain(report, d->delay_ms, &m);
        printf("\nFiles: client.pcap server.pcap keylog report.json report.html in %s\n"
               "Open them in Wireshark with openpdm's plugin (make install; then\n"
               "wireshark -o pdmv2.keylog_file:keylog client.pcap), or again:\n"
               "pdm analyze --keylog keylog server.pcap\n",
               d->out);
    }
    return rc;
}

int cmd_demo(int argc, char **argv)
{
    static struct demo d;
    struct demo_measured m;
    struct opts o = {NULL, 0};
    char report[PATH_MAX + 16];
    int rc;

    memset(&d, 0, sizeof d);
    d.delay_ms = DEMO_DEFAULT_DELAY_MS;
    d.tcp_bytes = DEFAULT_TCP_BYTES;
    d.snaplen = DEFAULT_SNAPLEN;
    if ((rc = parse_opts(argc, argv, &d, &o)) >= 0)
        return rc;
    if (prepare(&d, o.out) != 0) {
        demo_cleanup(&d);
        return 1;
    }
    printf("pdm demo: two hosts, a registration, encrypted PDMv2 agents, traffic, captures, "
           "analysis\n");
    if (demo_fmt(report, sizeof report, "%s/report.json", d.out) != 0) {
        demo_cleanup(&d);
        return 1;
    }
    if (o.force_sample || geteuid() != 0) {
        if (!o.force_sample)
            printf("Not root: no namespaces can be made here. Analysing the sample capture "
                   "shipped with openpdm instead\n(run as root for the live demo).\n");
        printf("output: %s\n\n", d.out);
        rc = sample(&d, &m) == 0 ? demo_explain(report, DEMO_DEFAULT_DELAY_MS, &m) : 1;
        demo_cleanup(&d);
        return demo_signal ? 128 + (int)demo_signal : rc;
    }
    rc = run_live(&d, report);
    if (demo_signal) {
        printf("\npdm demo: interrupted (signal %d): cleaning up; what was captured stays in "
               "%s\n",
               (int)demo_signal, d.out);
        rc = 128 + (int)demo_signal;
    }
    fflush(stdout);
    demo_cleanup(&d);
    if (rc == 0)
        printf("Cleaned up: namespaces %s and %s deleted.\n", d.ns_c, d.ns_s);
    return rc;
}
