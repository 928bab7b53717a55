/*
 * `pdm analyze --report FILE.html`: one self-contained page, no scripts,
 * no fonts or images from the network. Per flow: the summary table, then
 * for each delay kind with samples a plot of the delay over time and its
 * histogram, both inline SVG.
 *
 * Plots stay small whatever the sample count: up to PLOT_POINTS samples
 * are drawn as dots; above that, each pixel column of the plot shows the
 * range (min to max) of the samples that fall in it, so outliers stay
 * visible and the file stays a few hundred kilobytes.
 */
#include "analyze.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define TS_W        640 /* time series: whole SVG */
#define TS_H        260
#define HI_W        460 /* histogram */
#define HI_H        260
#define M_LEFT      72 /* plot margins inside each SVG */
#define M_RIGHT     16
#define M_TOP       24
#define M_BOTTOM    44
#define PLOT_POINTS 3000
#define HIST_BINS   40

/* The plot colours (tests/it_report_chromium.sh looks for them). */
static const char *const kind_colour[AN_KINDS] = {"#1f77b4", "#ff7f0e", "#2ca02c"};
static const char *const kind_title[AN_KINDS] = {"Server delay", "Client delay",
                                                 "Round-trip delay"};

/* A display unit for values up to vmax. */
struct unit {
    double div;
    const char *name;
};

static struct unit unit_for(uint64_t vmax)
{
    if (vmax < 10000)
        return (struct unit){1, "ns"};
    if (vmax < 10000000)
        return (struct unit){1e3, "\xc2\xb5s"};
    if (vmax < 10000000000ull)
        return (struct unit){1e6, "ms"};
    return (struct unit){1e9, "s"};
}

/* The tools link without libm: the few rounding helpers the axes need. */
static double d_floor(double v)
{
    double t = (double)(int64_t)v;
    return t > v ? t - 1 : t;
}

static double d_ceil(double v)
{
    double t = (double)(int64_t)v;
    return t < v ? t + 1 : t;
}

/* A "nice" tick step (1, 2 or 5 × 10^k) giving about n ticks up to span
 * (span > 0). */
static double nice_step(double span, int n)
{
    double raw = span / n, p = 1, m;
    while (p * 10 <= raw)
        p *= 10;
    while (p > raw)
        p /= 10;
    m = raw / p;
    if (m <= 1)
        return p;
    if (m <= 2)
        return 2 * p;
    if (m <= 5)
        return 5 * p;
    return 10 * p;
}

/* Rounds v > 0 up to a whole number of steps. */
static double nice_top(double v, int n)
{
    double st = nice_step(v, n);
    return d_ceil(v / st - 1e-9) * st;
}

static void fmt_num(char *buf, size_t len, double v)
{
    if (v == 0)
        snprintf(buf, len, "0");
    else if (v >= 100 || v == d_floor(v))
        snprintf(buf, len, "%.0f", v);
    else if (v >= 1)
        snprintf(buf, len, "%.1f", v);
    else
        snprintf(buf, len, "%.3g", v);
}

/* Axes, grid and tick labels of a plot area [x0, x1] × [y0, y1] (SVG
 * coordinates, y1 at the bottom) for data ranges [xlo, xhi] and [0, ymax]. */
static void axes(FILE *o, double x0, double x1, double y0, double y1, double xlo, double xhi,
                 double ymax, const char *xlabel, const char *ylabel)
{
    char b[32];
    double st;

    fprintf(o,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fff\" "
            "stroke=\"#444\"/>\n",
            x0, y0, x1 - x0, y1 - y0);
    st = nice_step(ymax, 5);
    for (double v = 0; v <= ymax * 1.0001; v += st) {
        double y = y1 - (v / ymax) * (y1 - y0);
        fmt_num(b, sizeof b, v);
        fprintf(o,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                x0, x1, y, y, x0 - 4, y + 4, b);
    }
    st = nice_step(xhi - xlo, 6);
    for (double v = xlo; v <= xhi + (xhi - xlo) * 0.0001; v += st) {
        double x = x0 + ((v - xlo) / (xhi - xlo)) * (x1 - x0);
        fmt_num(b, sizeof b, v);
        fprintf(o,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                x, x, y1, y1 + 4, x, y1 + 17, b);
    }
    fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", (x0 + x1) / 2,
            y1 + 36, xlabel);
    fprintf(o,
            "<text transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\">%s</text>\n",
            (y0 + y1) / 2, ylabel);
}

/* The delay over time: x in seconds since t0, y in the unit. */
static int plot_series(FILE *o, const struct an_series *s, uint64_t t0, uint64_t t1, uint64_t vmax,
                       const char *colour, const char *title)
{
    const double x0 = M_LEFT, x1 = TS_W - M_RIGHT, y0 = M_TOP, y1 = TS_H - M_BOTTOM;
    struct unit u = unit_for(vmax);
    double xmax = (double)(t1 - t0) / 1e9, ymax = (double)vmax / u.div;
    char ylabel[64];

    if (xmax <= 0)
        xmax = 1e-9;
    if (ymax <= 0)
        ymax = 1;
    ymax = nice_top(ymax, 5);
    snprintf(ylabel, sizeof ylabel, "delay (%s)", u.name);
    fprintf(o,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"%s over time\">\n"
            "<text x=\"%d\" y=\"16\" class=\"t\">%s over time</text>\n",
            TS_W, TS_H, TS_W, TS_H, title, M_LEFT, title);
    axes(o, x0, x1, y0, y1, 0, xmax, ymax, "time since capture start (s)", ylabel);
    fprintf(o, "<path fill=\"%s\" stroke=\"%s\" stroke-width=\"1.2\" d=\"", colour, colour);
    if (s->n <= PLOT_POINTS) {
        for (size_t i = 0; i < s->n; i++) {
            double x = x0 + ((double)(s->t[i] - t0) / 1e9 / xmax) * (x1 - x0);
            double y = y1 - ((double)s->v[i] / u.div / ymax) * (y1 - y0);
            fprintf(o, "M%.1f %.1fh3v3h-3z", x - 1.5, y - 1.5);
        }
    } else {
        /* One vertical bar per pixel column: the range of its samples. */
        size_t cols = (size_t)(x1 - x0);
        uint64_t *lo = malloc(cols * sizeof *lo), *hi = malloc(cols * sizeof *hi);
        if (!lo || !hi) {
            free(lo);
            free(hi);
            return PDM_ERR_NOMEM;
        }
        for (size_t c = 0; c < cols; c++) {
            lo[c] = UINT64_MAX;
            hi[c] = 0;
        }
        for (size_t i = 0; i < s->n; i++) {
            double fx = (double)(s->t[i] - t0) / 1e9 / xmax;
            size_t c = (size_t)(fx * (double)(cols - 1));
            if (c >= cols)
                c = cols - 1;
            if (s->v[i] < lo[c])
                lo[c] = s->v[i];
            if (s->v[i] > hi[c])
                hi[c] = s->v[i];
        }
        for (size_t c = 0; c < cols; c++) {
            if (lo[c] > hi[c])
                continue;
            double ylo = y1 - ((double)lo[c] / u.div / ymax) * (y1 - y0);
            double yhi = y1 - ((double)hi[c] / u.div / ymax) * (y1 - y0);
            fprintf(o, "M%.1f %.1fh2V%.1fh-2z", x0 + (double)c - 0.5, ylo + 1, yhi - 1);
        }
        free(lo);
        free(hi);
    }
    fprintf(o, "\"/>\n</svg>\n");
    return 0;
}

/* The histogram: HIST_BINS bins over [vmin, vmax] rounded out to tick
 * steps, bar height = count. */
static int plot_hist(FILE *o, const struct an_series *s, uint64_t vmin, uint64_t vmax,
                     const char *colour, const char *title)
{
    const double x0 = M_LEFT, x1 = HI_W - M_RIGHT, y0 = M_TOP, y1 = HI_H - M_BOTTOM;
    struct unit u = unit_for(vmax);
    uint64_t bins[HIST_BINS] = {0}, top = 0;
    double lo = (double)vmin / u.div, hi = (double)vmax / u.div, ymax, st;
    char xlabel[64];

    if (hi - lo < hi * 1e-3 || hi - lo <= 0) {
        /* (Nearly) one value: a window of ±1 % around it. */
        double w = hi > 0 ? hi * 0.01 : 1;
        lo = lo - w > 0 ? lo - w : 0;
        hi = hi + w;
    }
    st = nice_step(hi - lo, 6);
    lo = d_floor(lo / st) * st;
    hi = d_ceil(hi / st) * st;
    if (hi <= lo)
        hi = lo + st;
    for (size_t i = 0; i < s->n; i++) {
        double fx = ((double)s->v[i] / u.div - lo) / (hi - lo);
        size_t b = fx <= 0 ? 0 : (size_t)(fx * HIST_BINS);
        if (b >= HIST_BINS)
            b = HIST_BINS - 1;
        bins[b]++;
    }
    for (int b = 0; b < HIST_BINS; b++)
        if (bins[b] > top)
            top = bins[b];
    ymax = top ? nice_top((double)top, 5) : 1;
    snprintf(xlabel, sizeof xlabel, "delay (%s)", u.name);
    fprintf(o,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"%s histogram\">\n"
            "<text x=\"%d\" y=\"16\" class=\"t\">%s histogram%s</text>\n",
            HI_W, HI_H, HI_W, HI_H, title, M_LEFT, title,
            s->n < s->offered ? " (reservoir sample)" : "");
    axes(o, x0, x1, y0, y1, lo, hi, ymax, xlabel, "samples");
    fprintf(o, "<path fill=\"%s\" d=\"", colour);
    for (int b = 0; b < HIST_BINS; b++) {
        double bw = (x1 - x0) / HIST_BINS, h = (double)bins[b] / ymax * (y1 - y0);
        if (bins[b] == 0)
            continue;
        fprintf(o, "M%.1f %.1fh%.1fv%.1fh%.1fz", x0 + b * bw + 0.5, y1, bw - 1, -h, -(bw - 1));
    }
    fprintf(o, "\"/>\n</svg>\n");
    return 0;
}

static void html_stat_row(FILE *o, const char *name, const struct an_summary *s)
{
    if (s->count == 0) {
        fprintf(o,
                "<tr><td>%s</td><td>0</td><td colspan=\"5\">no samples</td><td>%" PRIu64
                "</td></tr>\n",
                name, s->negative);
        return;
    }
    fprintf(o,
            "<tr><td>%s</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64
            "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64
            "</td></tr>\n",
            name, s->count, s->min, s->mean, s->median, s->p95, s->max, s->negative);
}

static const char css[] =
    "body{font:14px/1.4 sans-serif;margin:16px;color:#222;background:#fff}"
    "h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:20px 0 6px}"
    "table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ccc;padding:2px 8px;"
    "text-align:right}td:first-child,th:first-child{text-align:left}"
    ".plots{display:flex;flex-wrap:wrap;gap:8px;margin:4px 0}"
    "svg{font:11px sans-serif;background:#fafafa;border:1px solid #ddd}"
    "svg .t{font-weight:bold;font-size:12px}"
    ".note{color:#666}";

int an_report_html(const struct an_ctx *a, FILE *o)
{
    char s[64], d[64];
    int rv = 0;

    fprintf(o,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>PDM analysis</title><style>%s</style></head><body>\n"
            "<h1>PDM analysis</h1>\n<p>%" PRIu64 " frames, %" PRIu64 " IPv6 packets, %" PRIu64
            " with a PDM option, %zu flow%s; %" PRIu64 " malformed, %" PRIu64
            " truncated. Capture span %.3f s. Delays in nanoseconds; the client is the "
            "endpoint that sent the flow's first PDM packet unless --server said otherwise.</p>\n",
            css, a->c.frames, a->c.ipv6, a->c.pdm, a->nflows, a->nflows == 1 ? "" : "s",
            a->c.malformed, a->c.truncated, (double)(a->last_ns - a->first_ns) / 1e9);
    for (size_t i = 0; i < a->nflows && rv == 0; i++) {
        const struct an_flow *f = a->flows[i];
        an_addr_str(f->tup.src, s, sizeof s);
        an_addr_str(f->tup.dst, d, sizeof d);
        fprintf(o,
                "<h2>Flow %zu: [%s]:%u &rarr; [%s]:%u, protocol %u, %s</h2>\n"
                "<table><tr><th></th><th>packets</th><th>lost</th><th>reordered</th>"
                "<th>duplicates</th><th>late</th><th>replayed</th><th>auth failures</th>"
                "<th>no key</th></tr>\n",
                i + 1, s, f->tup.sport, d, f->tup.dport, f->tup.proto, an_flow_format(f));
        for (unsigned r = 0; r < 2; r++) {
            const struct an_dir *dd = &f->dir[r];
            fprintf(o,
                    "<tr><td>%s</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64
                    "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64
                    "</td><td>%" PRIu64 "</td></tr>\n",
                    r ? "server" : "client", dd->packets, dd->lost, dd->reordered, dd->duplicates,
                    dd->late, dd->replayed, dd->auth_failures, dd->no_key);
        }
        fprintf(o, "</table>\n<table><tr><th>delay (ns)</th><th>count</th><th>min</th>"
                   "<th>mean</th><th>median</th><th>p95</th><th>max</th>"
                   "<th title=\"negative values, kept out of the other columns\">negative</th>"
                   "</tr>\n");
        for (int k = 0; k < AN_KINDS; k++)
            html_stat_row(o, kind_title[k], &f->sum[k]);
        fprintf(o, "</table>\n");
        for (int k = 0; k < AN_KINDS && rv == 0; k++) {
            const struct an_series *se = &f->series[k];
            if (se->n == 0)
                continue;
            fprintf(o, "<div class=\"plots\">\n");
            if (se->t)
                rv = plot_series(o, se, a->first_ns, a->last_ns, f->sum[k].max, kind_colour[k],
                                 kind_title[k]);
            if (rv == 0)
                rv = plot_hist(o, se, f->sum[k].min, f->sum[k].max, kind_colour[k], kind_title[k]);
            fprintf(o, "</div>\n");
        }
    }
    if (a->nflows == 0)
        fprintf(o, "<p class=\"note\">No PDM flows in this capture.</p>\n");
    fprintf(o, "<p class=\"note\">openpdm pdm-analyze(8)</p></body></html>\n");
    if ((fflush(o) != 0 || ferror(o)) && rv == 0)
        rv = PDM_ERR_SYSTEM;
    return rv;
}
