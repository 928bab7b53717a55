/*
 * pdm analyze: per-flow PDM / PDMv2 metrics from captures or live traffic.
 *
 *   pdm analyze [OPTIONS] FILE...
 *   pdm analyze [OPTIONS] -i IFACE [-c COUNT] [-d SECONDS]
 *
 * Reads pcap and pcapng through libpcap with nanosecond timestamps, hands
 * every frame to the analyser (tools/analyze/core.c) and prints a table,
 * JSON or CSV, and optionally an HTML report. See pdm-analyze(8) and
 * docs/analysis.md.
 */
#include "analyze.h"
#include "common/export.h"
#include "common/tools.h"
#include "common/user.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: pdm analyze [OPTIONS] FILE...\n"
    "       pdm analyze [OPTIONS] -i IFACE [-c COUNT] [-d SECONDS]\n"
    "\n"
    "Per-flow PDM (RFC 8250) and PDMv2 metrics: server, client and round-trip\n"
    "delays (count, min, mean, median, p95, max in ns), loss, reordering and\n"
    "duplicates from the packet sequence numbers, Global Pointer rates, and\n"
    "encrypted options that fail authentication. Files are pcap or pcapng\n"
    "(Ethernet with VLAN tags, Linux cooked v1/v2, raw IPv6); several files\n"
    "are read in order as one capture.\n"
    "\n"
    "  --format F          table (default), json or csv\n"
    "  --report FILE       also write an HTML report with plots\n"
    "  --keylog FILE       key log (PDMV2_SECRET / PDMV2_PRIMARY lines) to open\n"
    "                      encrypted PDMv2 options\n"
    "  --server EP         the flow end that is the server (repeatable); EP is\n"
    "                      ADDR, [ADDR]:PORT or :PORT. Default: the end that sent\n"
    "                      the flow's first PDM packet is the client\n"
    "  --flow EP           keep only flows with an end matching EP (repeatable)\n"
    "  --filter EXPR       libpcap filter; 'udp' or 'tcp' do NOT match packets\n"
    "                      with extension headers: prefer --flow (pdm-analyze(8))\n"
    "  --type T            PDM option type (default 0x0f)\n"
    "  --max-samples N     keep at most N samples per delay and flow for the\n"
    "                      median and p95 (a uniform reservoir); default all\n"
    "                      offline, 100000 live\n"
    "  --ipfix HOST:PORT   also send one IPFIX record per flow to a collector\n"
    "  --ipfix-transport T udp (default) or tcp\n"
    "  --ipfix-pen N       enterprise number of the PDM fields (default 32473)\n"
    "  -i IFACE            capture live on IFACE (needs CAP_NET_RAW); Ctrl-C ends\n"
    "  -c COUNT            live: stop after COUNT frames\n"
    "  -d SECONDS          live: stop after SECONDS seconds\n"
    "  --user NAME         live, as root: the account to run as once IFACE is\n"
    "                      open (default: the user who ran sudo, else nobody;\n"
    "                      root stays root)\n"
    "  -h, --help          this text\n";

#define MAX_EPS          64
#define MAX_FILES        256
#define LIVE_MAX_SAMPLES 100000

/* What the command line asked for. */
struct args {
    struct an_endpoint servers[MAX_EPS], flows[MAX_EPS];
    struct an_opts o;
    char **files; /* into argv */
    size_t nfiles;
    const char *format, *report, *keylog, *iface, *filter, *user;
    uint64_t count, seconds;
    int have_max;
    struct ipfix_opts ipfix; /* dest NULL: no --ipfix */
};

enum {
    OPT_FORMAT = 256,
    OPT_REPORT,
    OPT_KEYLOG,
    OPT_SERVER,
    OPT_FLOW,
    OPT_FILTER,
    OPT_TYPE,
    OPT_MAX,
    OPT_USER,
    OPT_IPFIX,
    OPT_IPFIX_TRANSPORT,
    OPT_IPFIX_PEN
};

static const struct option long_opts[] = {
    {"format", required_argument, NULL, OPT_FORMAT},
    {"report", required_argument, NULL, OPT_REPORT},
    {"keylog", required_argument, NULL, OPT_KEYLOG},
    {"server", required_argument, NULL, OPT_SERVER},
    {"flow", required_argument, NULL, OPT_FLOW},
    {"filter", required_argument, NULL, OPT_FILTER},
    {"type", required_argument, NULL, OPT_TYPE},
    {"max-samples", required_argument, NULL, OPT_MAX},
    {"user", required_argument, NULL, OPT_USER},
    {"ipfix", required_argument, NULL, OPT_IPFIX},
    {"ipfix-transport", required_argument, NULL, OPT_IPFIX_TRANSPORT},
    {"ipfix-pen", required_argument, NULL, OPT_IPFIX_PEN},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int an_parse_type(const char *cmd, const char *val, uint8_t *type)
{
    uint64_t v;

    if (tool_parse_u64(val, 255, &v) != 0) {
        tool_err("%s: --type '%s' is not a number in 0..255", cmd, val);
        return -1;
    }
    *type = (uint8_t)v;
    return 0;
}

/* --server EP or --flow EP. Returns 0 or -1 (said why). */
static int add_endpoint(struct args *g, int is_server, const char *val)
{
    struct an_endpoint *ep = is_server ? g->servers : g->flows;
    size_t *n = is_server ? &g->o.nservers : &g->o.nflows;

    if (*n == MAX_EPS) {
        tool_err("analyze: at most %d %s options", MAX_EPS, is_server ? "--server" : "--flow");
        return -1;
    }
    if (an_endpoint_parse(&ep[*n], val) != 0) {
        tool_err("analyze: '%s' is not ADDR, [ADDR]:PORT or :PORT", val);
        return -1;
    }
    (*n)++;
    return 0;
}

/* One option c with value val. Returns 0 or -1 (said why). */
static int take_option(struct args *g, int c, const char *val)
{
    /* The options whose value is kept as it is. */
    const char **text = c == OPT_REPORT   ? &g->report
                        : c == OPT_KEYLOG ? &g->keylog
                        : c == OPT_FILTER ? &g->filter
                        : c == OPT_USER   ? &g->user
                        : c == 'i'        ? &g->iface
                        : c == OPT_IPFIX  ? &g->ipfix.dest
                                          : NULL;
    uint64_t v;

    if (text != NULL) {
        *text = val;
        return 0;
    }
    switch (c) {
    case OPT_FORMAT:
        if (strcmp(val, "table") && strcmp(val, "json") && strcmp(val, "csv")) {
            tool_err("analyze: --format '%s' is not table, json or csv", val);
            return -1;
        }
        g->format = val;
        return 0;
    case OPT_SERVER:
    case OPT_FLOW:
        return add_endpoint(g, c == OPT_SERVER, val);
    case OPT_TYPE:
        return an_parse_type("analyze", val, &g->o.opt_type);
    case OPT_MAX:
        if (tool_parse_u64(val, SIZE_MAX / 64, &v) != 0) {
            tool_err("analyze: --max-samples '%s' is not a number", val);
            return -1;
        }
        g->o.max_samples = (size_t)v;
        g->have_max = 1;
        return 0;
    case OPT_IPFIX_TRANSPORT:
    case OPT_IPFIX_PEN:
        return ipfix_parse_option(&g->ipfix, c == OPT_IPFIX_PEN ? "pen" : "transport", val,
                                  "analyze");
    case 'c':
        if (tool_parse_u64(val, UINT64_MAX, &g->count) != 0 || g->count == 0) {
            tool_err("analyze: -c '%s' is not a positive number", val);
            return -1;
        }
        return 0;
    case 'd':
        if (tool_parse_u64(val, 100u * 365 * 86400, &g->seconds) != 0 || g->seconds == 0) {
            tool_err("analyze: -d '%s' is not a positive number of seconds", val);
            return -1;
        }
        return 0;
    default:
        return -1;
    }
}

/* Reads the command line into g. Returns 0, 1 (--help printed) or 2
 * (usage error, said why). */
static int parse_args(int argc, char **argv, struct args *g)
{
    int c;

    memset(g, 0, sizeof *g);
    g->format = "table";
    g->o.opt_type = PDM_OPT_TYPE;
    g->o.servers = g->servers;
    g->o.flows = g->flows;
    optind = 0; /* glibc: start afresh (the tests call commands repeatedly) */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hi:c:d:", long_opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return 1;
        }
        if (c == '?' || c == ':') {
            tool_getopt_error("analyze", c, argv, long_opts);
            return 2;
        }
        if (take_option(g, c, optarg) != 0)
            return 2;
    }
    g->files = argv + optind;
    g->nfiles = (size_t)(argc - optind);
    if (g->nfiles > MAX_FILES) {
        tool_err("analyze: too many files (at most %d)", MAX_FILES);
        return 2;
    }
    if (!g->iface && g->nfiles == 0) {
        tool_err("analyze: no capture file (or -i IFACE) given (see 'pdm analyze --help')");
        return 2;
    }
    if (g->iface && g->nfiles) {
        tool_err("analyze: give capture files or -i IFACE, not both");
        return 2;
    }
    if (!g->iface && (g->count || g->seconds || g->user)) {
        tool_err("analyze: -c, -d and --user apply to live capture (-i)");
        return 2;
    }
    g->o.keep_times = g->report != NULL;
    if (g->iface && !g->have_max)
        g->o.max_samples = LIVE_MAX_SAMPLES;
    return 0;
}

/* Prints the results in the chosen format, then the report into rep
 * (opened before the input was read, so that a live capture that left
 * root can still write where root could). Returns 0 or 1. */
static int print_results(const struct args *g, const struct an_ctx *ctx, FILE *rep)
{
    int rv;

    if (!strcmp(g->format, "json"))
        rv = an_print_json(ctx, stdout);
    else if (!strcmp(g->format, "csv"))
        rv = an_print_csv(ctx, stdout);
    else
        rv = an_print_table(ctx, stdout);
    if (fflush(stdout) != 0 || rv != 0) {
        tool_err("analyze: writing the output: %s", strerror(errno));
        return 1;
    }
    if (rep && (rv = an_report_html(ctx, rep)) != 0) {
        tool_err("analyze: --report %s: %s", g->report,
                 rv == PDM_ERR_SYSTEM ? strerror(errno) : pdm_strerror(rv));
        return 1;
    }
    return 0;
}

int cmd_analyze(int argc, char **argv)
{
    struct args g;
    struct an_ctx *ctx = NULL;
    FILE *rep = NULL;
    char err[256];
    int rv;

    if ((rv = parse_args(argc, argv, &g)) != 0)
        return rv == 1 ? 0 : 2;
    if (g.keylog && (rv = an_keys_load(&g.o.keys, g.keylog, err, sizeof err)) != 0) {
        tool_err("analyze: --keylog %s: %s", g.keylog, err);
        return 1;
    }
    if ((rv = an_new(&ctx, &g.o)) != 0) {
        tool_err("analyze: %s", pdm_strerror(rv));
        an_keys_free(g.o.keys);
        return 1;
    }
    if (g.report && !(rep = fopen(g.report, "w"))) {
        tool_err("analyze: --report %s: %s", g.report, strerror(errno));
        an_free(ctx);
        an_keys_free(g.o.keys);
        return 1;
    }
    if (g.iface) {
        struct an_live l = {g.iface, g.filter, g.count, g.seconds,
                            g.user ? g.user : tool_default_user()};
        rv = an_read_live(ctx, &l, err, sizeof err);
    } else {
        for (size_t k = 0; k < g.nfiles && rv == 0; k++)
            rv = an_read_file(ctx, g.files[k], g.filter, err, sizeof err);
    }
    if (rv != 0) {
        tool_err("analyze: %s", err);
        rv = rv == PDM_ERR_INVAL ? 2 : 1;
    } else if ((rv = an_finish(ctx)) != 0) {
        tool_err("analyze: %s", pdm_strerror(rv));
        rv = 1;
    } else {
        rv = print_results(&g, ctx, rep);
        if (rv == 0 && g.ipfix.dest)
            rv = an_export_ipfix(ctx, &g.ipfix);
    }
    if (rep && fclose(rep) != 0 && rv == 0) {
        tool_err("analyze: --report %s: %s", g.report, strerror(errno));
        rv = 1;
    }
    if (rep && rv != 0)
        unlink(g.report); /* no half-written report left behind */
    an_free(ctx);
    an_keys_free(g.o.keys);
    return rv;
}
