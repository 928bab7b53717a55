/*
 * The agent's packet logic without NFQUEUE (tools/agent/core.c, sans-IO):
 * nanoseconds per packet to mark a 100-byte UDP packet of one of 64 flows
 * (egress) and to read it back (ingress), per mode, measured in one run
 * next to a bare copy of the packet (what any user-space data path pays).
 * This is the cost a tc/eBPF or AF_XDP front end would add to its own.
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
#define ROUNDS  5
#define ITERS   200000

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

static int bench_core(void)
{
    static const enum pdm_format modes[] = {PDM_FORMAT_RFC8250, PDM_FORMAT_V2,
                                            PDM_FORMAT_V2_ENCRYPTED};
    uint8_t tmpl[FLOWS][CAP], pkt[CAP], hkey[PDM_FLOW_HASH_KEY_SIZE] = {1, 2, 3};
    char keylog[] = "/tmp/openpdm-bench-agent-XXXXXX", state[64], err[256];
    uint64_t seed = 8250;
    double ns;
    int fd;

    for (unsigned f = 0; f < FLOWS; f++)
        make_packet(tmpl[f], f);
    BENCH_BEST_NS(ns, ROUNDS, ITERS, {
        memcpy(pkt, tmpl[i % FLOWS], PKT_LEN);
        bench_sink += pkt[41];
    });
    printf("agent_core_copy_baseline      %8.1f ns/packet\n", ns);

    /* A key log with one secret for the pair (v2-encrypted). */
    if ((fd = mkstemp(keylog)) < 0)
        return 1;
    dprintf(fd, "PDMV2_SECRET 2001:db8:1::1 2001:db8:1::2 0020-0001-0001 %064x %064x\n", 7, 9);
    close(fd);
    snprintf(state, sizeof state, "%s.state", keylog);

    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        struct agent_core_config cfg;
        struct agent_core *tx = NULL, *rx = NULL;
        struct agent_keys *keys = NULL;
        struct agent_record rec;
        uint8_t marked[FLOWS][CAP];
        size_t mlen[FLOWS];

        memset(&cfg, 0, sizeof cfg);
        cfg.opt_type = PDM_OPT_TYPE;
        cfg.flow_capacity = 1024;
        cfg.psn_window = 32767;
        cfg.npeers = 2;
        inet_pton(AF_INET6, "2001:db8:1::2", cfg.peers[0].prefix);
        inet_pton(AF_INET6, "2001:db8:1::1", cfg.peers[1].prefix);
        cfg.peers[0].plen = cfg.peers[1].plen = 128;
        cfg.peers[0].mode = cfg.peers[1].mode = modes[m];
        if (modes[m] == PDM_FORMAT_V2_ENCRYPTED &&
            agent_keys_load(&keys, NULL, keylog, NULL, state, err, sizeof err) != 0) {
            fprintf(stderr, "bench_agent: %s\n", err);
            unlink(keylog);
            unlink(state);
            return 1;
        }
        if (agent_core_new(&tx, &cfg, 1024, hkey, rand_cb, &seed, keys, NULL) != 0 ||
            agent_core_new(&rx, &cfg, 1024, hkey, rand_cb, &seed, keys, NULL) != 0) {
            unlink(keylog);
            return 1;
        }
        uint64_t t = 1000000000;
        BENCH_BEST_NS(ns, ROUNDS, ITERS, {
            size_t len = PKT_LEN;
            memcpy(pkt, tmpl[i % FLOWS], PKT_LEN);
            bench_sink += (uint64_t)agent_core_tx(tx, pkt, &len, CAP, 1500, t += 1000, &rec);
        });
        printf("agent_core_tx_%-15s %8.1f ns/packet  %6.2f Mpps\n", pdm_format_name(modes[m]), ns,
               1e3 / ns);
        for (unsigned f = 0; f < FLOWS; f++) {
            mlen[f] = PKT_LEN;
            memcpy(marked[f], tmpl[f], PKT_LEN);
            (void)agent_core_tx(tx, marked[f], &mlen[f], CAP, 1500, t += 1000, &rec);
        }
        /* Ingress: the same option read again and again is "unexpected"
         * after the first; reading it still costs the full path up to the
         * PSN check, decryption included. */
        BENCH_BEST_NS(ns, ROUNDS, ITERS, {
            bench_sink += (uint64_t)agent_core_rx(rx, marked[i % FLOWS], mlen[i % FLOWS], 1500,
                                                  t += 1000, &rec);
        });
        printf("agent_core_rx_%-15s %8.1f ns/packet  %6.2f Mpps\n", pdm_format_name(modes[m]), ns,
               1e3 / ns);
        agent_core_free(tx);
        agent_core_free(rx);
        agent_keys_free(keys);
    }
    unlink(keylog);
    unlink(state);
    return 0;
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
