/*
 * What `pdm agent --metrics` adds per packet (tools/agent/metrics.c): the
 * sans-IO cores of two agents A and B exchange request and answer, 64
 * flows in turn (mode v2):
 *
 *   A sends -> B reads -> B answers -> A reads (record) [-> metrics]
 *
 * so that every answer A reads carries a DeltaTLR and answers A's last
 * packet: each gives a server-delay and a round-trip sample, the most
 * work agent_metrics_add() ever does. Rounds without and with the metrics
 * step interleave in one run (the machine is shared; best of ROUNDS
 * each, 21 rounds of 30,000); also timed alone: agent_metrics_add() over A's saved records.
 * NFQUEUE's own cost (microseconds per packet, bench/agent.sh) is not in
 * these figures: the metrics step is measured against the core's.
 *
 * Target: the metrics step costs at most 10% of the exchange's four core
 * calls; exit 1 (MISSED) when not.
 */
#include "agent/agent.h"
#include "agent/metrics.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define FLOWS   64
#define PKT_LEN 100
#define CAP     256
#define ROUNDS  21
#define ITERS   30000

static void rand_cb(void *arg, void *buf, size_t n)
{
    uint64_t *s = arg;
    uint8_t *b = buf;
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)bench_rand(s);
}

/* A UDP packet from src port sp to dst port dp. */
static void make_packet(uint8_t *p, const char *src, const char *dst, unsigned sp, unsigned dp)
{
    memset(p, 0, PKT_LEN);
    p[0] = 0x60;
    p[5] = PKT_LEN - 40;
    p[6] = PDM_NH_UDP;
    p[7] = 64;
    inet_pton(AF_INET6, src, p + 8);
    inet_pton(AF_INET6, dst, p + 24);
    p[40] = (uint8_t)(sp >> 8);
    p[41] = (uint8_t)sp;
    p[42] = (uint8_t)(dp >> 8);
    p[43] = (uint8_t)dp;
    p[45] = PKT_LEN - 40;
}

static struct agent_config cfg_a, cfg_b;
static struct agent_core *ca, *cb;
static uint8_t req[FLOWS][CAP], ans[FLOWS][CAP];
static uint64_t seed = 8250, now = 1000000000;

/* One round of `iters` exchanges; m NULL: without the metrics step.
 * Returns ns per exchange. recs (may be NULL) gets A's records. */
static double round_ns(struct agent_metrics *m, uint64_t iters, struct agent_record *recs)
{
    uint8_t p[CAP], q[CAP];
    struct agent_record rec;
    uint64_t t0 = bench_now_ns();

    for (uint64_t i = 0; i < iters; i++) {
        size_t len = PKT_LEN;
        memcpy(p, req[i % FLOWS], PKT_LEN);
        bench_sink += (uint64_t)agent_core_tx(ca, p, &len, CAP, 1500, now += 20000, &rec);
        bench_sink += (uint64_t)agent_core_rx(cb, p, len, 1500, now += 30000, &rec);
        len = PKT_LEN;
        memcpy(q, ans[i % FLOWS], PKT_LEN);
        bench_sink += (uint64_t)agent_core_tx(cb, q, &len, CAP, 1500, now += 5000000, &rec);
        bench_sink += (uint64_t)agent_core_rx(ca, q, len, 1500, now += 30000, &rec);
        if (m != NULL)
            agent_metrics_add(m, (unsigned)(i % AGENT_SHARDS), &rec);
        if (recs != NULL)
            recs[i] = rec;
    }
    return (double)(bench_now_ns() - t0) / (double)iters;
}

static int setup(void)
{
    struct agent_peer pa, pb;
    uint8_t hkey[PDM_FLOW_HASH_KEY_SIZE] = {1, 2, 3};
    char err[128];

    agent_config_init(&cfg_a);
    agent_config_init(&cfg_b);
    memset(&pa, 0, sizeof pa);
    memset(&pb, 0, sizeof pb);
    pa.mode = pb.mode = PDM_FORMAT_V2;
    if (agent_peer_parse_prefix(&pa, "2001:db8:1::2/128", err, sizeof err) != 0 ||
        agent_peer_parse_prefix(&pb, "2001:db8:1::1/128", err, sizeof err) != 0 ||
        agent_config_add_peer(&cfg_a.core, &pa, err, sizeof err) != 0 ||
        agent_config_add_peer(&cfg_b.core, &pb, err, sizeof err) != 0)
        return -1;
    cfg_a.core.flow_capacity = cfg_b.core.flow_capacity = 1024;
    if (agent_core_new(&ca, &cfg_a.core, 1024, hkey, rand_cb, &seed, NULL, NULL) != 0 ||
        agent_core_new(&cb, &cfg_b.core, 1024, hkey, rand_cb, &seed, NULL, NULL) != 0)
        return -1;
    for (unsigned f = 0; f < FLOWS; f++) {
        make_packet(req[f], "2001:db8:1::1", "2001:db8:1::2", 10000 + f, 7);
        make_packet(ans[f], "2001:db8:1::2", "2001:db8:1::1", 7, 10000 + f);
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void)
{
    static struct agent_record recs[ITERS];
    struct agent_metrics *m;
    double off = 1e300, on = 1e300, add, diff[ROUNDS];
    uint64_t rtd = 0;

    if (setup() != 0 || (m = agent_metrics_new(&cfg_a)) == NULL) {
        fprintf(stderr, "bench_metrics: set-up failed\n");
        return 2;
    }
    (void)round_ns(m, 2 * FLOWS, NULL); /* flows created, both ends */
    for (int r = 0; r < ROUNDS; r++) {
        double a = round_ns(NULL, ITERS, r == 0 ? recs : NULL), b = round_ns(m, ITERS, NULL);
        off = a < off ? a : off;
        on = b < on ? b : on;
        diff[r] = b - a;
    }
    /* The median of the paired differences: a round that a neighbour's
     * load slowed moves it less than it moves the best of either. */
    qsort(diff, ROUNDS, sizeof diff[0], cmp_double);
    for (size_t i = 0; i < ITERS; i++)
        rtd += recs[i].rtd_ns >= 0 && recs[i].peer != NULL;
    BENCH_BEST_NS(add, ROUNDS, ITERS,
                  { agent_metrics_add(m, (unsigned)(i % AGENT_SHARDS), &recs[i % ITERS]); });
    printf("metrics_exchange_without      %8.1f ns/exchange (4 core calls)\n", off);
    printf("metrics_exchange_with         %8.1f ns/exchange (%+.1f ns, %+.1f%%; median of the"
           " rounds' differences %+.1f ns)\n",
           on, on - off, 100 * (on - off) / off, diff[ROUNDS / 2]);
    printf("metrics_add_alone             %8.1f ns/record (2 samples: server delay, round trip;"
           " %.0f%% of records had a round trip)\n",
           add, 100.0 * (double)rtd / ITERS);
    agent_metrics_free(m);
    agent_core_free(ca);
    agent_core_free(cb);
    if (rtd != ITERS) {
        printf("metrics: MISSED: only %llu of %d answers gave a round trip\n",
               (unsigned long long)rtd, ITERS);
        return 1;
    }
    if (diff[ROUNDS / 2] > 0.10 * off && add > 0.10 * off) {
        printf("metrics: MISSED: the metrics step costs more than 10%% of the exchange\n");
        return 1;
    }
    return 0;
}
