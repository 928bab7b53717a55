/*
 * The agent's packet logic without NFQUEUE (tools/agent/core.c, sans-IO):
 * nanoseconds per packet to mark a 100-byte UDP packet of one of 64 flows
 * (egress) and to read one back (ingress), per mode, measured in one run
 * next to the baselines it is compared with: a bare copy of the packet
 * (what any user-space data path pays) and a bare parse of its header
 * chain (what the core does once per packet). This is the cost a tc/eBPF
 * or AF_XDP front end would add to its own.
 *
 * Ingress measures the accepting path: every packet read is a fresh
 * option, next in its flow's sequence, that the receiver takes (and, for
 * v2-encrypted, opens) and logs. The packets are marked by the sender in
 * chunks that stay in cache (as a packet just received is), untimed; each
 * round starts with a new receiver, warmed up by one chunk; the bench
 * checks that every timed packet was logged.
 *
 *   bench_agent                       the core benchmark (make bench)
 *   bench_agent send ADDR PORT SECONDS SIZE [THREADS]
 *                                     a UDP load generator for bench/agent.sh:
 *                                     sendmmsg() as fast as the stack takes
 *                                     it, one socket and flow per thread;
 *                                     prints "sent N packets in S s (R pps)"
 */
#include "agent/agent.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define FLOWS   64
#define PKT_LEN 100
#define CAP     256
/* Rounds (best of) and packets per round; a build may set them smaller
 * (e.g. -DITERS=20000 -DROUNDS=1 under callgrind, to count instructions). */
#ifndef ROUNDS
#define ROUNDS 5
#endif
#ifndef ITERS
#define ITERS 200000
#endif

#define CHUNK  1024 /* packets marked, then read, at a time: 160 KiB */
#define STRIDE 160  /* bytes per marked packet (at most 140) */

static void rand_cb(void *arg, void *buf, size_t n)
{
    uint64_t *s = arg;
    uint8_t *b = buf;
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)bench_rand(s);
}

/* A UDP packet from 2001:db8:1::1 port 10000+flow to 2001:db8:1::2 port 9. */
static void make_packet(uint8_t *p, unsigned flow)
{
    memset(p, 0, PKT_LEN);
    p[0] = 0x60;
    p[4] = 0;
    p[5] = PKT_LEN - 40;
    p[6] = PDM_NH_UDP;
    p[7] = 64;
    inet_pton(AF_INET6, "2001:db8:1::1", p + 8);
    inet_pton(AF_INET6, "2001:db8:1::2", p + 24);
    p[40] = (uint8_t)((10000 + flow) >> 8);
    p[41] = (uint8_t)(10000 + flow);
    p[43] = 9;
    p[45] = PKT_LEN - 40;
}

/* Everything one mode's measurement needs. */
struct bench {
    struct agent_core_config cfg;
    struct agent_core *tx;
    struct agent_keys *keys;
    uint8_t hkey[PDM_FLOW_HASH_KEY_SIZE];
    uint64_t seed, t;
    uint8_t (*tmpl)[CAP];
    uint8_t *chunk; /* CHUNK × STRIDE */
    size_t len[CHUNK];
    unsigned next; /* the next packet's flow */
};

/* Marks the next CHUNK packets (flows in turn) into b->chunk, untimed. */
static void mark_chunk(struct bench *b)
{
    struct agent_record rec;

    for (unsigned i = 0; i < CHUNK; i++) {
        uint8_t *p = b->chunk + (size_t)i * STRIDE;
        b->len[i] = PKT_LEN;
        memcpy(p, b->tmpl[b->next++ % FLOWS], PKT_LEN);
        (void)agent_core_tx(b->tx, p, &b->len[i], STRIDE, 1500, b->t += 1000, &rec);
    }
}

/* One round of the accepting ingress path: a new receiver, one chunk to
 * warm it (keys derived, flows created), then `iters` packets timed.
 * Returns ns/packet, or a negative value when a packet was not logged. */
static double rx_round(struct bench *b, uint64_t iters)
{
    struct agent_core *rx = NULL;
    struct agent_record rec;
    uint64_t ns = 0, logged = 0, fed = 0;

    if (agent_core_new(&rx, &b->cfg, 1024, b->hkey, rand_cb, &b->seed, b->keys, NULL) != 0)
        return -1;
    mark_chunk(b);
    for (unsigned i = 0; i < CHUNK; i++)
        (void)agent_core_rx(rx, b->chunk + (size_t)i * STRIDE, b->len[i], 1500, b->t += 1000, &rec);
    while (fed < iters) {
        mark_chunk(b);
        uint64_t t0 = bench_now_ns();
        for (unsigned i = 0; i < CHUNK; i++) {
            bench_sink += (uint64_t)agent_core_rx(rx, b->chunk + (size_t)i * STRIDE, b->len[i],
                                                  1500, b->t += 1000, &rec);
            logged += rec.time_ns != 0 && rec.auth != 0;
        }
        ns += bench_now_ns() - t0;
        fed += CHUNK;
    }
    agent_core_free(rx);
    return logged == fed ? (double)ns / (double)fed : -1;
}

static int bench_mode(struct bench *b, enum pdm_format mode, const char *keylog, const char *state)
{
    char err[256];
    double ns, best = 1e300;
    uint8_t pkt[CAP];
    struct agent_record rec;

    memset(&b->cfg, 0, sizeof b->cfg);
    b->cfg.opt_type = PDM_OPT_TYPE;
    b->cfg.flow_capacity = 1024;
    b->cfg.psn_window = 32767;
    b->cfg.npeers = 2;
    inet_pton(AF_INET6, "2001:db8:1::2", b->cfg.peers[0].prefix);
    inet_pton(AF_INET6, "2001:db8:1::1", b->cfg.peers[1].prefix);
    b->cfg.peers[0].plen = b->cfg.peers[1].plen = 128;
    b->cfg.peers[0].mode = b->cfg.peers[1].mode = mode;
    b->keys = NULL;
    if (mode == PDM_FORMAT_V2_ENCRYPTED &&
        agent_keys_load(&b->keys, NULL, keylog, NULL, state, err, sizeof err) != 0) {
        fprintf(stderr, "bench_agent: %s\n", err);
        return 1;
    }
    if (agent_core_new(&b->tx, &b->cfg, 1024, b->hkey, rand_cb, &b->seed, b->keys, NULL) != 0)
        return 1;
    BENCH_BEST_NS(ns, ROUNDS, ITERS, {
        size_t len = PKT_LEN;
        memcpy(pkt, b->tmpl[i % FLOWS], PKT_LEN);
        bench_sink += (uint64_t)agent_core_tx(b->tx, pkt, &len, CAP, 1500, b->t += 1000, &rec);
    });
    printf("agent_core_tx_%-15s %8.1f ns/packet  %6.2f Mpps\n", pdm_format_name(mode), ns,
           1e3 / ns);
    for (int r = 0; r < ROUNDS; r++) {
        if ((ns = rx_round(b, ITERS)) < 0) {
            fprintf(stderr, "bench_agent: %s: a packet was not accepted\n", pdm_format_name(mode));
            return 1;
        }
        if (ns < best)
            best = ns;
    }
    printf("agent_core_rx_%-15s %8.1f ns/packet  %6.2f Mpps  (accepted)\n", pdm_format_name(mode),
           best, 1e3 / best);
    agent_core_free(b->tx);
    agent_keys_free(b->keys);
    return 0;
}

static int bench_core(void)
{
    static const enum pdm_format modes[] = {PDM_FORMAT_RFC8250, PDM_FORMAT_V2,
                                            PDM_FORMAT_V2_ENCRYPTED};
    static uint8_t tmpl[FLOWS][CAP], chunk[CHUNK * STRIDE];
    static struct bench b;
    char keylog[] = "/tmp/openpdm-bench-agent-XXXXXX", state[64];
    struct pdm_pkt_info info;
    uint8_t pkt[CAP];
    double ns;
    int fd, rv = 0;

    memset(&b, 0, sizeof b);
    b.hkey[0] = 1, b.hkey[1] = 2, b.hkey[2] = 3;
    b.seed = 8250;
    b.t = 1000000000;
    b.tmpl = tmpl;
    b.chunk = chunk;
    for (unsigned f = 0; f < FLOWS; f++)
        make_packet(tmpl[f], f);
    /* The baselines, in this run. */
    BENCH_BEST_NS(ns, ROUNDS, ITERS, {
        memcpy(pkt, tmpl[i % FLOWS], PKT_LEN);
        bench_sink += pkt[41];
    });
    printf("agent_core_copy_baseline      %8.1f ns/packet\n", ns);
    BENCH_BEST_NS(ns, ROUNDS, ITERS, {
        bench_sink += (uint64_t)pdm_pkt_parse(tmpl[i % FLOWS], PKT_LEN, PDM_OPT_TYPE, &info);
        bench_sink += info.sport;
    });
    printf("agent_core_parse_baseline     %8.1f ns/packet\n", ns);

    /* A key log with one secret for the pair (v2-encrypted). */
    if ((fd = mkstemp(keylog)) < 0)
        return 1;
    dprintf(fd, "PDMV2_SECRET 2001:db8:1::1 2001:db8:1::2 0020-0001-0001 %064x %064x\n", 7, 9);
    close(fd);
    snprintf(state, sizeof state, "%s.state", keylog);
    for (size_t m = 0; m < sizeof modes / sizeof modes[0] && rv == 0; m++)
        rv = bench_mode(&b, modes[m], keylog, state);
    unlink(keylog);
    unlink(state);
    return rv;
}

/* ---- load generator ------------------------------------------------------------ */

struct sender {
    struct sockaddr_in6 dst;
    double seconds;
    size_t size;
    uint64_t sent;
    pthread_t th;
};

#define MMSG 64

static void *send_loop(void *arg)
{
    struct sender *s = arg;
    struct mmsghdr msgs[MMSG];
    struct iovec iov;
    char buf[65536];
    uint64_t end;
    int fd = socket(AF_INET6, SOCK_DGRAM, 0);

    if (fd < 0 || connect(fd, (struct sockaddr *)&s->dst, sizeof s->dst) != 0) {
        perror("bench_agent send");
        return NULL;
    }
    memset(buf, 0x5a, sizeof buf);
    iov.iov_base = buf;
    iov.iov_len = s->size;
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < MMSG; i++) {
        msgs[i].msg_hdr.msg_iov = &iov;
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    end = bench_now_ns() + (uint64_t)(s->seconds * 1e9);
    while (bench_now_ns() < end) {
        int n = sendmmsg(fd, msgs, MMSG, 0);
        if (n > 0)
            s->sent += (uint64_t)n;
    }
    close(fd);
    return NULL;
}

static int load(int argc, char **argv)
{
    struct sender s[16];
    unsigned threads = argc > 6 ? (unsigned)atoi(argv[6]) : 1;
    uint64_t total = 0, t0, t1;

    if (argc < 6 || threads < 1 || threads > 16) {
        fprintf(stderr, "usage: bench_agent send ADDR PORT SECONDS SIZE [THREADS]\n");
        return 2;
    }
    memset(s, 0, sizeof s);
    for (unsigned i = 0; i < threads; i++) {
        s[i].dst.sin6_family = AF_INET6;
        s[i].dst.sin6_port = htons((uint16_t)atoi(argv[3]));
        if (inet_pton(AF_INET6, argv[2], &s[i].dst.sin6_addr) != 1) {
            fprintf(stderr, "bench_agent: bad address %s\n", argv[2]);
            return 2;
        }
        s[i].seconds = atof(argv[4]);
        s[i].size = (size_t)atoi(argv[5]);
    }
    t0 = bench_now_ns();
    for (unsigned i = 0; i < threads; i++)
        pthread_create(&s[i].th, NULL, send_loop, &s[i]);
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(s[i].th, NULL);
        total += s[i].sent;
    }
    t1 = bench_now_ns();
    printf("sent %llu packets in %.3f s (%.0f pps)\n", (unsigned long long)total,
           (double)(t1 - t0) / 1e9, (double)total / ((double)(t1 - t0) / 1e9));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "send") == 0)
        return load(argc, argv);
    return bench_core();
}
