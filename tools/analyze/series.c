/*
 * The analyser's samples (analyze.h): the arrays behind median and p95,
 * a uniform reservoir when they are bounded (live capture), and the
 * selection that finds a percentile in O(n) without sorting.
 */
#include "analyze.h"

#include <stdlib.h>
#include <string.h>

/* xorshift64* (Vigna): the reservoir's choices; fixed seed, reproducible. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

int an_series_add(struct an_series *s, uint64_t t_ns, uint64_t v_ns, int keep_times,
                  size_t max_samples, uint64_t *rng)
{
    s->offered++;
    if (max_samples && s->n >= max_samples) {
        /* Algorithm R: the k-th sample replaces a random kept one with
         * probability max/k, so every sample is kept with equal chance. */
        uint64_t j = rng_next(rng) % s->offered;
        if (j < max_samples) {
            s->v[j] = v_ns;
            if (s->t)
                s->t[j] = t_ns;
        }
        return 0;
    }
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 256;
        uint64_t *p;
        if (max_samples && ncap > max_samples)
            ncap = max_samples;
        if (!(p = realloc(s->v, ncap * sizeof *p)))
            return PDM_ERR_NOMEM;
        s->v = p;
        if (keep_times) {
            if (!(p = realloc(s->t, ncap * sizeof *p)))
                return PDM_ERR_NOMEM;
            s->t = p;
        }
        s->cap = ncap;
    }
    if (s->t)
        s->t[s->n] = t_ns;
    s->v[s->n++] = v_ns;
    return 0;
}

void an_series_free(struct an_series *s)
{
    free(s->v);
    free(s->t);
    memset(s, 0, sizeof *s);
}

/*
 * Selection for the percentiles: puts the k-th smallest of v[0..n) at v[k],
 * with every value before it no larger and every value after it no
 * smaller (an_series_summary() relies on that for the p95).
 *
 * Partitions are branch-free (Lomuto's scheme with an unconditional swap
 * and a counted compare): delay samples come in random order, so the
 * compares of a classic Hoare partition mispredict about every other
 * element, which cost more than the passes themselves. Each round splits
 * v into < pivot, == pivot and > pivot with two such passes, so repeated
 * values (common: delays are quantised) cannot make it quadratic.
 */

/* Moves the values of v[0..n) below p to the front; returns their count. */
static size_t part_below(uint64_t *v, size_t n, uint64_t p)
{
    size_t i = 0;

    for (size_t j = 0; j < n; j++) {
        uint64_t x = v[j];
        v[j] = v[i];
        v[i] = x;
        i += x < p;
    }
    return i;
}

/* Moves the values of v[0..n) at most p to the front; returns their count. */
static size_t part_upto(uint64_t *v, size_t n, uint64_t p)
{
    size_t i = 0;

    for (size_t j = 0; j < n; j++) {
        uint64_t x = v[j];
        v[j] = v[i];
        v[i] = x;
        i += x <= p;
    }
    return i;
}

static uint64_t median3(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t lo = a < b ? a : b, hi = a < b ? b : a;
    return c < lo ? lo : c > hi ? hi : c;
}

#define SEL_SMALL 16 /* at most this many: insertion sort */

/* Quickselect (Hoare's FIND) over the three-way split above, pivot the
 * median of three. O(n) on average. */
static void select_kth(uint64_t *v, size_t n, size_t k)
{
    while (n > SEL_SMALL) {
        uint64_t pivot = median3(v[0], v[n / 2], v[n - 1]);
        size_t lt = part_below(v, n, pivot), le;
        if (k < lt) {
            n = lt;
            continue;
        }
        le = lt + part_upto(v + lt, n - lt, pivot); /* v[lt..le) == pivot, le > lt */
        if (k < le)
            return;
        v += le;
        n -= le;
        k -= le;
    }
    for (size_t i = 1; i < n; i++) {
        uint64_t x = v[i];
        size_t j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

/*
 * select_kth() for large arrays, in the spirit of Floyd and Rivest's
 * SELECT: a sample of SEL_SAMPLE values estimates two values that
 * bracket rank k; two partition passes (< lo over all of v, then <= hi
 * over the rest) leave k almost always in the small middle part, where
 * quickselect finishes: 1 to 2 passes over the data instead of the 3 to 4
 * of select_kth()'s rounds.
 */
#define SEL_SAMPLE 256
#define SEL_SPREAD 12
#define SEL_MIN    2048

static void select_large(uint64_t *v, size_t n, size_t k)
{
    uint64_t smp[SEL_SAMPLE], lo, hi;
    size_t ks, rlo, rhi, i, g;

    if (n < SEL_MIN) {
        select_kth(v, n, k);
        return;
    }
    for (size_t t = 0; t < SEL_SAMPLE; t++)
        smp[t] = v[(t * n) / SEL_SAMPLE + (n / SEL_SAMPLE) / 2];
    ks = (size_t)(((unsigned __int128)k * SEL_SAMPLE) / n);
    rlo = ks > SEL_SPREAD ? ks - SEL_SPREAD : 0;
    rhi = ks + SEL_SPREAD < SEL_SAMPLE ? ks + SEL_SPREAD : SEL_SAMPLE - 1;
    /* The sample's values of ranks rlo and rhi (no need to sort it all). */
    select_kth(smp, SEL_SAMPLE, rlo);
    select_kth(smp + rlo, SEL_SAMPLE - rlo, rhi - rlo);
    lo = smp[rlo];
    hi = smp[rhi];
    /* v[0..i) < lo <= v[i..g) <= hi < v[g..n) */
    i = part_below(v, n, lo);
    if (k < i) {
        select_kth(v, i, k);
        return;
    }
    g = i + part_upto(v + i, n - i, hi);
    if (k >= g)
        select_kth(v + g, n - g, k - g);
    else
        select_kth(v + i, g - i, k - i);
}

uint64_t an_percentile(uint64_t *v, size_t n, unsigned pct)
{
    /* Nearest rank: the smallest value with at least pct % of the values
     * at or below it, rank ceil(pct × n / 100). The median is the lower of
     * the two middle values for an even count. */
    size_t rank = (size_t)(((unsigned __int128)n * pct + 99) / 100);
    if (rank == 0)
        rank = 1;
    select_large(v, n, rank - 1);
    return v[rank - 1];
}

int an_series_summary(struct an_series *s, const struct pdm_metrics_stat *st,
                      struct an_summary *sum)
{
    uint64_t *v = s->v;

    memset(sum, 0, sizeof *sum);
    sum->count = st->count;
    if (st->count == 0) {
        sum->exact = 1;
        return 0;
    }
    sum->min = st->min;
    sum->max = st->max;
    sum->mean = pdm_metrics_stat_mean(st);
    sum->exact = s->n == st->count;
    if (s->n == 0)
        return 0;
    /* With times kept, v must keep its pairing with t: select in a copy. */
    if (s->t) {
        if (!(v = malloc(s->n * sizeof *v)))
            return PDM_ERR_NOMEM;
        memcpy(v, s->v, s->n * sizeof *v);
    }
    sum->median = an_percentile(v, s->n, 50);
    {
        /* After the median's selection everything from its rank on is at
         * least the median: the p95 is among those. */
        size_t m = (s->n * 50 + 99) / 100, q = (s->n * 95 + 99) / 100;
        m = m ? m - 1 : 0;
        select_large(v + m, s->n - m, q - 1 - m);
        sum->p95 = v[q - 1];
    }
    if (v != s->v)
        free(v);
    return 0;
}
