/*
 * The analyser's text outputs (analyze.h): a readable table, one JSON
 * document, CSV. Every delay is in nanoseconds in JSON and CSV; the table
 * picks a unit per value. docs/analysis.md describes every field.
 */
#include "analyze.h"

#include <inttypes.h>
#include <string.h>

static const char *const kind_name[AN_KINDS] = {"server delay", "client delay", "round trip"};
static const char *const kind_key[AN_KINDS] = {"server_delay_ns", "client_delay_ns", "rtd_ns"};
static const char *const kind_csv[AN_KINDS] = {"server_delay", "client_delay", "rtd"};

static const char *proto_name(uint8_t p)
{
    switch (p) {
    case PDM_NH_TCP:
        return "tcp";
    case PDM_NH_UDP:
        return "udp";
    case PDM_NH_ICMPV6:
        return "icmpv6";
    case PDM_NH_SCTP:
        return "sctp";
    case PDM_NH_DCCP:
        return "dccp";
    case PDM_NH_UDPLITE:
        return "udplite";
    case PDM_NH_ESP:
        return "esp";
    default:
        return NULL;
    }
}

/* A delay with a unit that keeps 4 significant digits or so. */
static void fmt_ns(char *buf, size_t len, uint64_t v)
{
    if (v < 1000)
        snprintf(buf, len, "%" PRIu64 " ns", v);
    else if (v < 1000000)
        snprintf(buf, len, "%.3f us", (double)v / 1e3);
    else if (v < 1000000000)
        snprintf(buf, len, "%.3f ms", (double)v / 1e6);
    else
        snprintf(buf, len, "%.3f s", (double)v / 1e9);
}

/* A counter over both directions. */
#define SUM(f, field) ((f)->dir[0].field + (f)->dir[1].field)

static void endpoint_str(char *buf, size_t len, const uint8_t addr[16], uint16_t port,
                         uint8_t proto)
{
    char a[64];
    an_addr_str(addr, a, sizeof a);
    if (proto_name(proto) && proto != PDM_NH_ICMPV6 && proto != PDM_NH_ESP)
        snprintf(buf, len, "[%s]:%u", a, port);
    else
        snprintf(buf, len, "%s", a);
}

int an_print_table(const struct an_ctx *a, FILE *out)
{
    char s1[96], s2[96], b[6][32];

    fprintf(out,
            "%" PRIu64 " frames, %" PRIu64 " IPv6, %" PRIu64 " with PDM, %zu flow%s"
            " (%" PRIu64 " malformed, %" PRIu64 " truncated, %" PRIu64 " not IPv6",
            a->c.frames, a->c.ipv6, a->c.pdm, a->nflows, a->nflows == 1 ? "" : "s", a->c.malformed,
            a->c.truncated, a->c.not_ipv6);
    if (a->c.filtered)
        fprintf(out, ", %" PRIu64 " filtered out", a->c.filtered);
    fprintf(out, ")\n");
    for (size_t i = 0; i < a->nflows; i++) {
        const struct an_flow *f = a->flows[i];
        const char *pn = proto_name(f->tup.proto);
        endpoint_str(s1, sizeof s1, f->tup.src, f->tup.sport, f->tup.proto);
        endpoint_str(s2, sizeof s2, f->tup.dst, f->tup.dport, f->tup.proto);
        fprintf(out, "\nflow %zu: %s -> %s ", i + 1, s1, s2);
        if (pn)
            fprintf(out, "%s", pn);
        else
            fprintf(out, "proto %u", f->tup.proto);
        fprintf(out, ", %s, client %s\n", an_flow_format(f),
                f->role_forced ? "per --server" : "sent first");
        fprintf(out, "  %-8s %10s %8s %10s %11s %8s %9s %8s %8s\n", "", "packets", "lost",
                "reordered", "duplicates", "late", "replayed", "authfail", "no key");
        for (unsigned r = 0; r < 2; r++) {
            const struct an_dir *d = &f->dir[r];
            fprintf(out,
                    "  %-8s %10" PRIu64 " %8" PRIu64 " %10" PRIu64 " %11" PRIu64 " %8" PRIu64
                    " %9" PRIu64 " %8" PRIu64 " %8" PRIu64 "\n",
                    r == AN_CLIENT ? "client" : "server", d->packets, d->lost, d->reordered,
                    d->duplicates, d->late, d->replayed, d->auth_failures, d->no_key);
        }
        fprintf(out, "  %-13s %9s %11s %11s %11s %11s %11s %9s\n", "delay", "count", "min", "mean",
                "median", "p95", "max", "negative");
        for (int k = 0; k < AN_KINDS; k++) {
            const struct an_summary *s = &f->sum[k];
            for (int q = 0; q < 5; q++)
                snprintf(b[q], sizeof b[q], "-");
            if (s->count) {
                fmt_ns(b[0], sizeof b[0], s->min);
                fmt_ns(b[1], sizeof b[1], s->mean);
                fmt_ns(b[2], sizeof b[2], s->median);
                fmt_ns(b[3], sizeof b[3], s->p95);
                fmt_ns(b[4], sizeof b[4], s->max);
            }
            fprintf(out, "  %-13s %9" PRIu64 " %11s %11s %11s %11s %11s %9" PRIu64 "%s\n",
                    kind_name[k], s->count, b[0], b[1], b[2], b[3], b[4], s->negative,
                    s->exact ? "" : " (sampled)");
        }
        for (unsigned r = 0; r < 2; r++) {
            const struct an_dir *d = &f->dir[r];
            double rate = an_gp_rate(d->gp_min, d->gp_max, d->gp_first_ns, d->gp_last_ns);
            if (d->gp_count == 0)
                continue;
            fprintf(out, "  global pointer (%s): %" PRIu32 "..%" PRIu32, r ? "server" : "client",
                    d->gp_min, d->gp_max);
            if (rate >= 0)
                fprintf(out, ", %.1f/s", rate);
            fprintf(out, "\n");
        }
        for (unsigned r = 0; r < 2; r++)
            if (f->dir[r].kri_seen)
                fprintf(out, "  key rotations (%s): %" PRIu32 ", last Kri %" PRIu32 "\n",
                        r ? "server" : "client", f->dir[r].rotations, f->dir[r].kri_last);
        if (SUM(f, excluded) || f->m.rtd_unmatched)
            fprintf(out,
                    "  %" PRIu64 " out-of-order option%s kept out of the delays; %" PRIu64
                    " round trip%s unmatched\n",
                    SUM(f, excluded), SUM(f, excluded) == 1 ? "" : "s", f->m.rtd_unmatched,
                    f->m.rtd_unmatched == 1 ? "" : "s");
    }
    return ferror(out) ? PDM_ERR_SYSTEM : 0;
}

static void json_stat(FILE *out, const struct an_summary *s)
{
    if (s->count == 0) {
        fprintf(out,
                "{\"count\":0,\"negative\":%" PRIu64 ",\"min\":null,\"mean\":null,"
                "\"median\":null,\"p95\":null,\"max\":null,\"exact\":true}",
                s->negative);
        return;
    }
    fprintf(out,
            "{\"count\":%" PRIu64 ",\"negative\":%" PRIu64 ",\"min\":%" PRIu64 ",\"mean\":%" PRIu64
            ",\"median\":%" PRIu64 ",\"p95\":%" PRIu64 ",\"max\":%" PRIu64 ",\"exact\":%s}",
            s->count, s->negative, s->min, s->mean, s->median, s->p95, s->max,
            s->exact ? "true" : "false");
}

static void json_rate(FILE *out, double rate)
{
    if (rate < 0)
        fputs("null", out);
    else
        fprintf(out, "%.3f", rate);
}

static void json_dir(FILE *out, const struct an_dir *d)
{
    fprintf(out,
            "{\"packets\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"reordered\":%" PRIu64
            ",\"duplicates\":%" PRIu64 ",\"late\":%" PRIu64 ",\"replayed\":%" PRIu64
            ",\"auth_failures\":%" PRIu64 ",\"no_key\":%" PRIu64 ",\"excluded\":%" PRIu64,
            d->packets, d->lost, d->reordered, d->duplicates, d->late, d->replayed,
            d->auth_failures, d->no_key, d->excluded);
    if (d->gp_count)
        fprintf(out, ",\"gp_min\":%" PRIu32 ",\"gp_max\":%" PRIu32, d->gp_min, d->gp_max);
    else
        fputs(",\"gp_min\":null,\"gp_max\":null", out);
    fputs(",\"gp_rate\":", out);
    json_rate(out, an_gp_rate(d->gp_min, d->gp_max, d->gp_first_ns, d->gp_last_ns));
    if (d->kri_seen)
        fprintf(out, ",\"kri_last\":%" PRIu32 ",\"rotations\":%" PRIu32 "}", d->kri_last,
                d->rotations);
    else
        fputs(",\"kri_last\":null,\"rotations\":0}", out);
}

int an_print_json(const struct an_ctx *a, FILE *out)
{
    char s[64], d[64];

    fprintf(out,
            "{\"capture\":{\"frames\":%" PRIu64 ",\"ipv6\":%" PRIu64 ",\"pdm\":%" PRIu64
            ",\"malformed\":%" PRIu64 ",\"truncated\":%" PRIu64 ",\"not_ipv6\":%" PRIu64
            ",\"filtered\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"first_ns\":%" PRIu64
            ",\"last_ns\":%" PRIu64 "},\n\"flows\":[",
            a->c.frames, a->c.ipv6, a->c.pdm, a->c.malformed, a->c.truncated, a->c.not_ipv6,
            a->c.filtered, a->c.table_full, a->first_ns, a->last_ns);
    for (size_t i = 0; i < a->nflows; i++) {
        const struct an_flow *f = a->flows[i];
        const char *pn = proto_name(f->tup.proto);
        an_addr_str(f->tup.src, s, sizeof s);
        an_addr_str(f->tup.dst, d, sizeof d);
        fprintf(out,
                "%s\n{\"src\":\"%s\",\"dst\":\"%s\",\"sport\":%u,\"dport\":%u,\"protocol\":%u,"
                "\"protocol_name\":",
                i ? "," : "", s, d, f->tup.sport, f->tup.dport, f->tup.proto);
        if (pn)
            fprintf(out, "\"%s\"", pn);
        else
            fputs("null", out);
        fprintf(out,
                ",\"format\":\"%s\",\"client_by\":\"%s\",\"packets\":%" PRIu64
                ",\"auth_failures\":%" PRIu64 ",\"no_key\":%" PRIu64 ",\"replayed\":%" PRIu64
                ",\"lost\":%" PRIu64 ",\"reordered\":%" PRIu64 ",\"duplicates\":%" PRIu64
                ",\"late\":%" PRIu64 ",\"excluded\":%" PRIu64 ",\"rtd_unmatched\":%" PRIu64
                ",\"first_ns\":%" PRIu64 ",\"last_ns\":%" PRIu64,
                an_flow_format(f), f->role_forced ? "server-option" : "first-packet", f->packets,
                SUM(f, auth_failures), SUM(f, no_key), SUM(f, replayed), SUM(f, lost),
                SUM(f, reordered), SUM(f, duplicates), SUM(f, late), SUM(f, excluded),
                f->m.rtd_unmatched, f->first_ns, f->last_ns);
        for (int k = 0; k < AN_KINDS; k++) {
            fprintf(out, ",\"%s\":", kind_key[k]);
            json_stat(out, &f->sum[k]);
        }
        fputs(",\n \"client\":", out);
        json_dir(out, &f->dir[AN_CLIENT]);
        fputs(",\n \"server\":", out);
        json_dir(out, &f->dir[AN_SERVER]);
        fputs("}", out);
    }
    fputs("],\n\"sources\":[", out);
    for (size_t i = 0; i < a->nsources; i++) {
        const struct an_source *src = &a->sources[i];
        an_addr_str(src->addr, s, sizeof s);
        fprintf(out,
                "%s\n{\"addr\":\"%s\",\"packets\":%" PRIu64 ",\"gp_min\":%" PRIu32
                ",\"gp_max\":%" PRIu32 ",\"gp_rate\":",
                i ? "," : "", s, src->packets, src->gp_min, src->gp_max);
        json_rate(out, an_gp_rate(src->gp_min, src->gp_max, src->first_ns, src->last_ns));
        fputs("}", out);
    }
    fputs("]}\n", out);
    return ferror(out) ? PDM_ERR_SYSTEM : 0;
}

int an_print_csv(const struct an_ctx *a, FILE *out)
{
    char s[64], d[64];

    fputs("src,dst,sport,dport,protocol,format,packets,client_packets,server_packets,"
          "auth_failures,no_key,replayed,lost,reordered,duplicates,late,excluded",
          out);
    for (int k = 0; k < AN_KINDS; k++)
        fprintf(out, ",%s_count,%s_negative,%s_min_ns,%s_mean_ns,%s_median_ns,%s_p95_ns,%s_max_ns",
                kind_csv[k], kind_csv[k], kind_csv[k], kind_csv[k], kind_csv[k], kind_csv[k],
                kind_csv[k]);
    fputs(",client_gp_rate,server_gp_rate\n", out);
    for (size_t i = 0; i < a->nflows; i++) {
        const struct an_flow *f = a->flows[i];
        an_addr_str(f->tup.src, s, sizeof s);
        an_addr_str(f->tup.dst, d, sizeof d);
        fprintf(out,
                "%s,%s,%u,%u,%u,%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64,
                s, d, f->tup.sport, f->tup.dport, f->tup.proto, an_flow_format(f), f->packets,
                f->dir[0].packets, f->dir[1].packets, SUM(f, auth_failures), SUM(f, no_key),
                SUM(f, replayed), SUM(f, lost), SUM(f, reordered), SUM(f, duplicates), SUM(f, late),
                SUM(f, excluded));
        for (int k = 0; k < AN_KINDS; k++) {
            const struct an_summary *m = &f->sum[k];
            if (m->count == 0)
                fprintf(out, ",0,%" PRIu64 ",,,,,", m->negative);
            else
                fprintf(out,
                        ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                        ",%" PRIu64,
                        m->count, m->negative, m->min, m->mean, m->median, m->p95, m->max);
        }
        for (unsigned r = 0; r < 2; r++) {
            const struct an_dir *dd = &f->dir[r];
            double rate = an_gp_rate(dd->gp_min, dd->gp_max, dd->gp_first_ns, dd->gp_last_ns);
            if (rate < 0)
                fputs(",", out);
            else
                fprintf(out, ",%.3f", rate);
        }
        fputs("\n", out);
    }
    return ferror(out) ? PDM_ERR_SYSTEM : 0;
}
