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
#include "common/tools.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

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
    "  -i IFACE            capture live on IFACE (needs CAP_NET_RAW); Ctrl-C ends\n"
    "  -c COUNT            live: stop after COUNT frames\n"
    "  -d SECONDS          live: stop after SECONDS seconds\n";

#define MAX_EPS          64
#define LIVE_MAX_SAMPLES 100000

int cmd_analyze(int argc, char **argv)
{
    struct an_endpoint servers[MAX_EPS], flows[MAX_EPS];
    struct an_opts o;
    struct an_ctx *ctx = NULL;
    const char *files[256];
    const char *val, *format = "table", *report = NULL, *keylog = NULL, *iface = NULL;
    const char *filter = NULL;
    uint64_t count = 0, seconds = 0, v;
    size_t nfiles = 0;
    int i, g, rv = 0, have_max = 0;
    char err[256];

    memset(&o, 0, sizeof o);
    o.opt_type = PDM_OPT_TYPE;
    o.servers = servers;
    o.flows = flows;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !strcmp(a, "-")) {
            if (nfiles == sizeof files / sizeof files[0]) {
                tool_err("analyze: too many files");
                return 2;
            }
            files[nfiles++] = a;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 0;
        } else if ((g = tool_flag_value(argc, argv, &i, "--format", &val)) != 0) {
            if (g < 0)
                goto missing;
            format = val;
        } else if ((g = tool_flag_value(argc, argv, &i, "--report", &val)) != 0) {
            if (g < 0)
                goto missing;
            report = val;
        } else if ((g = tool_flag_value(argc, argv, &i, "--keylog", &val)) != 0) {
            if (g < 0)
                goto missing;
            keylog = val;
        } else if ((g = tool_flag_value(argc, argv, &i, "--filter", &val)) != 0) {
            if (g < 0)
                goto missing;
            filter = val;
        } else if ((g = tool_flag_value(argc, argv, &i, "--server", &val)) != 0 ||
                   (g = tool_flag_value(argc, argv, &i, "--flow", &val)) != 0) {
            int is_server = !strncmp(a, "--server", 8);
            struct an_endpoint *ep = is_server ? servers : flows;
            size_t *n = is_server ? &o.nservers : &o.nflows;
            if (g < 0)
                goto missing;
            if (*n == MAX_EPS) {
                tool_err("analyze: at most %d %s options", MAX_EPS,
                         is_server ? "--server" : "--flow");
                return 2;
            }
            if (an_endpoint_parse(&ep[*n], val) != 0) {
                tool_err("analyze: '%s' is not ADDR, [ADDR]:PORT or :PORT", val);
                return 2;
            }
            (*n)++;
        } else if ((g = tool_flag_value(argc, argv, &i, "--type", &val)) != 0) {
            if (g < 0)
                goto missing;
            if (tool_parse_u64(val, 255, &v) != 0) {
                tool_err("analyze: --type '%s' is not a number in 0..255", val);
                return 2;
            }
            o.opt_type = (uint8_t)v;
        } else if ((g = tool_flag_value(argc, argv, &i, "--max-samples", &val)) != 0) {
            if (g < 0)
                goto missing;
            if (tool_parse_u64(val, SIZE_MAX / 64, &v) != 0) {
                tool_err("analyze: --max-samples '%s' is not a number", val);
                return 2;
            }
            o.max_samples = (size_t)v;
            have_max = 1;
        } else if ((g = tool_flag_value(argc, argv, &i, "-i", &val)) != 0) {
            if (g < 0)
                goto missing;
            iface = val;
        } else if ((g = tool_flag_value(argc, argv, &i, "-c", &val)) != 0) {
            if (g < 0)
                goto missing;
            if (tool_parse_u64(val, UINT64_MAX, &count) != 0 || count == 0) {
                tool_err("analyze: -c '%s' is not a positive number", val);
                return 2;
            }
        } else if ((g = tool_flag_value(argc, argv, &i, "-d", &val)) != 0) {
            if (g < 0)
                goto missing;
            if (tool_parse_u64(val, 100u * 365 * 86400, &seconds) != 0 || seconds == 0) {
                tool_err("analyze: -d '%s' is not a positive number of seconds", val);
                return 2;
            }
        } else {
            tool_err("analyze: unknown option '%s' (see 'pdm analyze --help')", a);
            return 2;
        }
    }
    if (strcmp(format, "table") && strcmp(format, "json") && strcmp(format, "csv")) {
        tool_err("analyze: --format '%s' is not table, json or csv", format);
        return 2;
    }
    if (!iface && nfiles == 0) {
        tool_err("analyze: no capture file (or -i IFACE) given (see 'pdm analyze --help')");
        return 2;
    }
    if (iface && nfiles) {
        tool_err("analyze: give capture files or -i IFACE, not both");
        return 2;
    }
    if (!iface && (count || seconds)) {
        tool_err("analyze: -c and -d apply to live capture (-i)");
        return 2;
    }
    o.keep_times = report != NULL;
    if (iface && !have_max)
        o.max_samples = LIVE_MAX_SAMPLES;
    if (keylog && (rv = an_keys_load(&o.keys, keylog, err, sizeof err)) != 0) {
        tool_err("analyze: --keylog %s: %s", keylog, err);
        return 1;
    }
    if ((rv = an_new(&ctx, &o)) != 0) {
        tool_err("analyze: %s", pdm_strerror(rv));
        an_keys_free(o.keys);
        return 1;
    }
    if (iface) {
        rv = an_read_live(ctx, iface, filter, count, seconds, err, sizeof err);
    } else {
        for (size_t k = 0; k < nfiles && rv == 0; k++)
            rv = an_read_file(ctx, files[k], filter, err, sizeof err);
    }
    if (rv != 0) {
        tool_err("analyze: %s", err);
        rv = rv == PDM_ERR_INVAL ? 2 : 1;
    } else if ((g = an_finish(ctx)) != 0) {
        tool_err("analyze: %s", pdm_strerror(g));
        rv = 1;
    }
    if (rv == 0) {
        if (!strcmp(format, "json"))
            g = an_print_json(ctx, stdout);
        else if (!strcmp(format, "csv"))
            g = an_print_csv(ctx, stdout);
        else
            g = an_print_table(ctx, stdout);
        if (fflush(stdout) != 0 || g != 0) {
            tool_err("analyze: writing the output: %s", strerror(errno));
            rv = 1;
        }
    }
    if (rv == 0 && report && (g = an_report_html(ctx, report)) != 0) {
        tool_err("analyze: --report %s: %s", report,
                 g == PDM_ERR_SYSTEM ? strerror(errno) : pdm_strerror(g));
        rv = 1;
    }
    an_free(ctx);
    an_keys_free(o.keys);
    return rv;

missing:
    tool_err("analyze: %s needs a value", argv[i]);
    return 2;
}
