/*
 * pdm demo: the analysis and its explanation. pdm analyze writes
 * report.json and report.html and prints its table; then report.json is
 * read back (jansson) and each figure is set beside what the demo knows:
 * the UDP server's delay, ping's and the clients' own timings.
 *
 * Only the fields named here are read (docs/analysis.md); anything the
 * analyser adds is ignored, and a field that is missing or null reads as
 * 0, which the explanation treats as "no samples".
 */
#include "demo/demo.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* A whole number of the report (a count, nanoseconds), 0 when key is not
 * there, null or negative. */
static uint64_t jnum(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (json_is_integer(v))
        return json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
    if (json_is_real(v) && json_real_value(v) > 0 && json_real_value(v) < 1.8e19)
        return (uint64_t)json_real_value(v);
    return 0;
}

/* median of a delay object ("server_delay_ns", ...). Returns 1 if it has
 * samples. */
static int jdelay(const json_t *flow, const char *key, uint64_t *median)
{
    const json_t *o = json_object_get(flow, key);
    *median = jnum(o, "median");
    return jnum(o, "count") > 0;
}

static void print_ms(const char *label, uint64_t ns, const char *note)
{
    printf("    %-13s median %8.3f ms%s%s\n", label, (double)ns / 1e6, *note ? "   " : "", note);
}

/* The first flow of protocol proto to port dport (0: any). */
static const json_t *find_flow(const json_t *flows, uint64_t proto, uint64_t dport)
{
    for (size_t i = 0; i < json_array_size(flows); i++) {
        const json_t *f = json_array_get(flows, i);
        if (jnum(f, "protocol") == proto && (dport == 0 || jnum(f, "dport") == dport))
            return f;
    }
    return NULL;
}

/* Returns 1 when the UDP flow has its server delays. */
static int explain_udp(const json_t *f, unsigned delay_ms, const struct demo_measured *m)
{
    char note[256];
    uint64_t med;
    int ok = 0;

    printf("\n  UDP request/response, port %u: the server answers %u ms after each request "
           "arrives\n",
           DEMO_UDP_PORT, delay_ms);
    if (jdelay(f, "server_delay_ns", &med)) {
        demo_fmt(note, sizeof note,
                 "known %u.000 ms; %+.3f ms: the answer's way to the server's agent", delay_ms,
                 (double)med / 1e6 - delay_ms);
        print_ms("server delay", med, note);
        ok = 1;
    }
    if (jdelay(f, "rtd_ns", &med))
        print_ms("round trip", med, "the network alone: client DeltaTLS minus server DeltaTLR");
    if (m->live && m->udp_got > 0) {
        demo_fmt(note, sizeof note, "%u of %u answered: server delay + round trip + both stacks",
                 m->udp_got, m->udp_sent);
        print_ms("application", m->udp_app_median_ns, note);
    }
    return ok;
}

static void explain_ping(const json_t *f, const struct demo_measured *m)
{
    char note[256];
    uint64_t med;

    printf("\n  ICMPv6 echo (ping)\n");
    if (jdelay(f, "rtd_ns", &med)) {
        if (m->have_ping)
            demo_fmt(note, sizeof note,
                     "ping's median: %.3f ms, which also counts the client's own stack and agent",
                     m->ping_median_ms);
        else
            demo_fmt(note, sizeof note, "the network round trip seen from the client's agent");
        print_ms("round trip", med, note);
    }
    if (jdelay(f, "server_delay_ns", &med))
        print_ms("server delay", med, "request in to reply out at the server's agent");
}

static void explain_tcp(const json_t *f, const struct demo_measured *m)
{
    const json_t *cl = json_object_get(f, "client"), *sv = json_object_get(f, "server");
    uint64_t med;

    printf("\n  TCP transfer to port %u", DEMO_TCP_PORT);
    if (m->live && m->tcp_ns > 0)
        printf(": %" PRIu64 " bytes in %.2f s (%.1f MB/s), through both agents", m->tcp_sent,
               (double)m->tcp_ns / 1e9, (double)m->tcp_sent / ((double)m->tcp_ns / 1e9) / 1e6);
    printf("\n    packets       %" PRIu64 " (client %" PRIu64 ", server %" PRIu64 "), lost %" PRIu64
           ", reordered %" PRIu64 "\n",
           jnum(f, "packets"), jnum(cl, "packets"), jnum(sv, "packets"), jnum(f, "lost"),
           jnum(f, "reordered"));
    if (jdelay(f, "server_delay_ns", &med))
        print_ms("server delay", med, "the receiver's time to its next ACK (delayed ACKs)");
    if (jdelay(f, "rtd_ns", &med))
        print_ms("round trip", med, "");
}

/* report.json, parsed (opened here so that a missing file is told with
 * errno's words). */
static json_t *load_report(const char *path)
{
    json_error_t jerr;
    FILE *f = fopen(path, "r");
    json_t *j;

    if (f == NULL) {
        demo_err("demo: %s: %s", path, strerror(errno));
        return NULL;
    }
    if ((j = json_loadf(f, 0, &jerr)) == NULL)
        demo_err("demo: %s: line %d: %s", path, jerr.line, jerr.text);
    fclose(f);
    return j;
}

int demo_explain(const char *report, unsigned delay_ms, const struct demo_measured *m)
{
    json_t *j = load_report(report);
    const json_t *flows, *f;
    uint64_t auth = 0, pkts = 0, nokey = 0;
    int ok = 1;

    if (j == NULL)
        return 1;
    flows = json_object_get(j, "flows");
    for (size_t i = 0; i < json_array_size(flows); i++) {
        const json_t *fl = json_array_get(flows, i);
        const char *format = json_string_value(json_object_get(fl, "format"));
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
    if ((f = find_flow(flows, 17, DEMO_UDP_PORT)) == NULL || !explain_udp(f, delay_ms, m))
        ok = 0;
    if ((f = find_flow(flows, 58, 0)) != NULL)
        explain_ping(f, m);
    if ((f = find_flow(flows, 6, DEMO_TCP_PORT)) != NULL)
        explain_tcp(f, m);
    printf("\n  Authentication: %" PRIu64 " options in %zu flows, %" PRIu64 " failed, %" PRIu64
           " without a key.\n",
           pkts, json_array_size(flows), auth, nokey);
    json_decref(j);
    return ok && auth == 0 && nokey == 0 ? 0 : 1;
}

int demo_analyse(struct demo *d, const char *capture, const char *keylog, const char *what)
{
    char json[PATH_MAX], html[PATH_MAX], table[PATH_MAX], log[PATH_MAX], text[65536];
    struct demo_argv a;
    long n;

    if (demo_out_path(d, json, sizeof json, "report.json") ||
        demo_out_path(d, html, sizeof html, "report.html") ||
        demo_work_path(d, table, sizeof table, "table.txt") ||
        demo_work_path(d, log, sizeof log, "analyze.log"))
        return -1;
    /* Twice: JSON and HTML, then the table for the terminal. */
    for (int pass = 0; pass < 2; pass++) {
        demo_av_pdm(d, &a, "analyze");
        DEMO_AV(&a, "--keylog", keylog, "--server", DEMO_SERVER_ADDR);
        if (pass == 0)
            DEMO_AV(&a, "--format", "json", "--report", html);
        demo_av_add(&a, capture);
        if (a.overflow || demo_run(d, NULL, a.v, pass == 0 ? json : table, log, 60000) != 0) {
            demo_err("demo: pdm analyze failed");
            demo_show_log(log);
            return -1;
        }
    }
    demo_step(d, "analyse", "pdm analyze --keylog keylog --server %s %s", DEMO_SERVER_ADDR, what);
    demo_step(d, "", "-> report.json, report.html in %s", d->out);
    printf("\n");
    if ((n = demo_read_text(table, text, sizeof text)) > 0)
        fwrite(text, 1, (size_t)n, stdout);
    return 0;
}
