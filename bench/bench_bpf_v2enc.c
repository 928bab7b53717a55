/*
 * Per-packet cost of the tc-eBPF data path's programs (build/bpf/pdm.bpf.o,
 * the agent's own object) on v2-encrypted flows, per AEAD, with
 * BPF_PROG_TEST_RUN: pdm_egress sealing a UDP packet to an enabled peer
 * (keys installed by tools/agent/ebpf_keys.c), and pdm_ingress opening a
 * peer's option sealed by lib. Baselines in the same run, interleaved: the
 * same program on a packet to a host that is no peer (the run's own
 * overhead) and on a v2 (unencrypted) peer. Egress changes the packet, so
 * each run is one packet (repeat 1): ROUNDS rounds of single runs, the
 * median of each round, the best and the median of the rounds reported;
 * the test run's own timer overhead (single runs against repeated ones of
 * the not-a-peer packet, as bench/bench_ebpf_prog.c) is measured and the
 * figure less it printed too. Ingress leaves the packet as it is and runs
 * repeated. And the seal and the open alone (bpf/pdm_v2enc.h through
 * build/bpf-v2enc/test_v2enc.bpf.o: slot look-up, nonce, AEAD, the
 * header's bytes; and the sender's draw of (Kri, RN) before the seal),
 * best and median of rounds of repeated runs, against the same program
 * doing nothing. Target (issue 10 (d)): encrypted <= 1000 ns per packet,
 * the egress figure less the timer overhead (bench_ebpf_prog.c's way) and
 * the ingress mean, else MISSED. Needs root, libbpf, the objects and
 * the kernel's BPF crypto kfuncs; else SKIP.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#include "pdm/profile.h"

#ifdef PDM_HAVE_LIBBPF
#include "../bpf/aead_user.h"
#include "../tools/agent/ebpf_keys.h"
#include <linux/types.h>

#include "../bpf/pdm_bpf.h"

#define ROUNDS 7    /* rounds of each measurement, interleaved */
#define RUNS   500  /* single egress runs per round */
#define REPEAT 2000 /* repeats of one ingress (or seal/open) run */
#define PKT    (14 + 40 + 8 + 32)

/* bpf/test_v2enc.bpf.c's io and ops. */
struct v2enc_io {
    struct pdm_bpf_flow_key flow;
    uint32_t op;
    int32_t rv;
    uint16_t rn, kri;
    uint8_t hdr[40];
    uint8_t opt[36];
    uint8_t clear[20];
};
#define T_SEAL    0
#define T_SEAL_RN 1
#define T_OPEN    2
#define T_NONE    3

static struct bpf_object *obj;
static int egress_fd, ingress_fd;

/* Ethernet, IPv6 src -> dst, UDP 4000 -> 5000, 32 bytes; with room for an
 * option (the ingress packet: a 40-byte Destination Options header). */
static size_t packet(uint8_t *p, const uint8_t src[16], const uint8_t dst[16], const uint8_t *dh)
{
    size_t l4 = 14 + 40 + (dh ? 40 : 0), plen = (dh ? 40 : 0) + 8 + 32;

    memset(p, 0, 14 + 40 + 40 + 8 + 32);
    p[12] = 0x86;
    p[13] = 0xdd;
    p[14] = 0x60;
    p[18] = (uint8_t)(plen >> 8);
    p[19] = (uint8_t)plen;
    p[20] = dh ? 60 : 17;
    p[21] = 64;
    memcpy(p + 22, src, 16);
    memcpy(p + 38, dst, 16);
    if (dh)
        memcpy(p + 54, dh, 40);
    p[l4] = 4000 >> 8;
    p[l4 + 1] = 4000 & 0xff;
    p[l4 + 2] = 5000 >> 8;
    p[l4 + 3] = 5000 & 0xff;
    p[l4 + 5] = 40;
    return l4 + 8 + 32;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Per-round figures of one measurement: best and median of the rounds. */
struct rounds {
    double v[ROUNDS];
    int n;
};

static void rounds_add(struct rounds *r, double ns)
{
    if (r->n < ROUNDS)
        r->v[r->n++] = ns;
}

static double rounds_best(const struct rounds *r)
{
    double b = 1e300;
    for (int i = 0; i < r->n; i++)
        b = r->v[i] < b ? r->v[i] : b;
    return r->n ? b : -1;
}

static double rounds_median(const struct rounds *r)
{
    double v[ROUNDS];

    if (r->n == 0)
        return -1;
    memcpy(v, r->v, sizeof v);
    qsort(v, (size_t)r->n, sizeof v[0], cmp_dbl);
    return v[r->n / 2];
}

/* Median ns of one program run; repeat 1: of RUNS single runs (each its
 * own syscall), else the mean of one run of repeat; -1 on failure. */
static double prog_ns(int fd, const uint8_t *pkt, size_t len, uint32_t repeat)
{
    static uint32_t d[RUNS];
    uint8_t out[256];
    int n = repeat > 1 ? 1 : RUNS;

    for (int i = 0; i < n; i++) {
        LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (uint32_t)len,
                    .data_out = out, .data_size_out = sizeof out, .repeat = (int)repeat);
        if (bpf_prog_test_run_opts(fd, &o) != 0)
            return -1;
        d[i] = o.duration;
    }
    qsort(d, (size_t)n, sizeof d[0], cmp_u32);
    return d[n / 2];
}

/* Median µs of one key install (HKDF and the crypto context: what a new
 * flow waits for before its first marked packet, docs/agent.md), on a
 * flow of its own; -1 on failure. */
static double install_median(struct agent_ebpf_keys *ek, const struct pdm_profile_secret *sec,
                             const struct pdm_flow_tuple *t0)
{
    enum { N = 15 };
    uint32_t d[N];
    struct pdm_flow_tuple t = *t0;

    t.sport = 4001;
    for (int i = 0; i < N; i++) {
        uint64_t t1 = bench_now_ns();
        if (agent_ebpf_keys_install(ek, sec, &t, EBPF_KEYS_TX, (uint16_t)i, 0, 0) != 0)
            return -1;
        d[i] = (uint32_t)((bench_now_ns() - t1) / 1000);
    }
    qsort(d, N, sizeof d[0], cmp_u32);
    return d[N / 2];
}

static int add_peer(struct bpf_object *o, const uint8_t addr[16], uint8_t mode)
{
    struct pdm_bpf_peer_key k = {.prefixlen = 128};
    struct pdm_bpf_peer v = {.mode = mode};
    int fd = bpf_object__find_map_fd_by_name(o, "peers");

    memcpy(k.addr, addr, 16);
    return bpf_map_update_elem(fd, &k, &v, BPF_ANY);
}

static uint64_t counter_of(const char *map, uint32_t idx)
{
    int fd = bpf_object__find_map_fd_by_name(obj, map), n = libbpf_num_possible_cpus();
    uint64_t v[1024], sum = 0;

    if (n <= 0 || n > 1024 || bpf_map_lookup_elem(fd, &idx, v) != 0)
        return 0;
    for (int i = 0; i < n; i++)
        sum += v[i];
    return sum;
}

static void report(const char *what, const char *suite, const struct rounds *r, const char *base,
                   const struct rounds *b)
{
    char name[64];

    snprintf(name, sizeof name, "%s %s", what, suite);
    bench_vs(name, rounds_best(r), base, rounds_best(b));
    printf("note bpf %s %s: best %.0f ns, median %.0f ns of %d rounds (%s: %.0f / %.0f)\n", what,
           suite, rounds_best(r), rounds_median(r), r->n, base, rounds_best(b), rounds_median(b));
}

static int target(const char *what, const char *suite, double ns)
{
    if (ns > 1000.0) {
        printf("MISSED bpf %s %s: %.0f ns > 1000 ns per packet\n", what, suite, ns);
        return 1;
    }
    printf("target bpf %s %s: %.0f ns <= 1000 ns per packet\n", what, suite, ns);
    return 0;
}

static const char *const names[3] = {"aes-128-gcm", "aes-256-gcm", "chacha20-poly1305"};

/* The flow (me -> peer, UDP 4000 -> 5000), its reverse, and a 40-byte
 * header with an option lib sealed on the reverse (peer -> me) at Kri 5. */
static int setup_suite(struct agent_ebpf_keys *ek, int s, const uint8_t me[16],
                       const uint8_t peer[16], struct pdm_profile_secret *sec,
                       struct pdm_flow_tuple *t, uint8_t dh[40])
{
    static const uint8_t salt[32] = {1}, secret[32] = {2};
    struct pdm_hpke_suite suite = {0x0020, 0x0001, (uint16_t)(s + 1)};
    struct pdm_flow_tuple r = {.sport = 4000, .dport = 5000, .proto = 17};
    struct pdm_profile_tx tx;
    struct pdm_fields f = {.psntp = 7};
    int rv;

    memset(t, 0, sizeof *t);
    t->sport = 4000;
    t->dport = 5000;
    t->proto = 17;
    memcpy(t->src, me, 16);
    memcpy(t->dst, peer, 16);
    memcpy(r.src, peer, 16);
    memcpy(r.dst, me, 16);
    memset(&tx, 0, sizeof tx);
    memset(dh, 0, 40);
    dh[0] = 17;
    dh[1] = 4;
    rv = pdm_profile_secret_init(sec, suite, salt, 32, secret, 32) != 0 ||
         agent_ebpf_keys_install(ek, sec, t, EBPF_KEYS_TX, 0, EBPF_KEYS_ARM_TX, 0) != 0 ||
         agent_ebpf_keys_install(ek, sec, &r, EBPF_KEYS_RX, 5, EBPF_KEYS_ARM_RX, 0) != 0 ||
         pdm_profile_tx_start(&tx, sec, &r, 5, 0) != 0 ||
         pdm_profile_tx_seal(&tx, sec, &r, NULL, 0, 0x0f, &f, dh + 2, 36) != 36;
    dh[38] = 1;
    pdm_profile_tx_clear(&tx);
    return rv ? -1 : 0;
}

/* The receiver of lpeer -> me (lt's addresses reversed) armed at Kri 5,
 * and in dh the first option lib seals there whose RN asks for a lane
 * (256 mod 1024: bpf/pdm_v2enc.h v2enc_ksr_take()). */
static int setup_rx_lane(struct agent_ebpf_keys *ek, const struct pdm_profile_secret *sec,
                         const struct pdm_flow_tuple *lt, uint8_t dh[40])
{
    struct pdm_flow_tuple r = *lt;
    struct pdm_profile_tx tx;
    struct pdm_fields f = {.psntp = 9};
    int rv = -1;

    memcpy(r.src, lt->dst, 16); /* the ports as packet() writes them, 4000 -> 5000 */
    memcpy(r.dst, lt->src, 16);
    memset(&tx, 0, sizeof tx);
    memset(dh, 0, 40);
    dh[0] = 17;
    dh[1] = 4;
    dh[38] = 1;
    if (agent_ebpf_keys_install(ek, sec, &r, EBPF_KEYS_RX, 5, EBPF_KEYS_ARM_RX, 0) != 0 ||
        pdm_profile_tx_start(&tx, sec, &r, 5, 0) != 0)
        return -1;
    for (int i = 0; i < 32767 && rv != 0; i++) {
        if (pdm_profile_tx_seal(&tx, sec, &r, NULL, 0, 0x0f, &f, dh + 2, 36) != 36)
            break;
        if ((((dh[6] << 8) | dh[7]) >> 1 & 1023) == 256)
            rv = 0;
    }
    pdm_profile_tx_clear(&tx);
    return rv;
}

/* The agent's programs: egress (not a peer, v2, encrypted) and ingress
 * (not a peer, encrypted), ROUNDS rounds interleaved, per suite. */
static int run_prog(const char *path)
{
    struct agent_ebpf_keys *ek = NULL;
    uint8_t pkt[256], me[16] = {0xfd, 0}, other[16] = {0xfd, 0, 9}, v2peer[16] = {0xfd, 0, 2};
    int missed = 0;

    me[15] = 1;
    if ((obj = bpf_object__open_file(path, NULL)) == NULL || bpf_object__load(obj) != 0) {
        fprintf(stderr, "bench_bpf_v2enc: loading %s failed\n", path);
        return 2;
    }
    egress_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "pdm_egress"));
    ingress_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "pdm_ingress"));
    if (agent_ebpf_keys_start(&ek, obj, NULL, NULL) != 0 || add_peer(obj, v2peer, 2) != 0) {
        fprintf(stderr, "bench_bpf_v2enc: map setup failed\n");
        return 2;
    }
    for (int s = 0; s < 3; s++) {
        struct rounds base = {0}, rep = {0}, v2 = {0}, enc = {0}, net = {0}, ibase = {0}, dec = {0};
        struct rounds lnet = {0}, ldec = {0};
        uint8_t peer[16] = {0xfd, 0, 3, 0}, lpeer[16] = {0xfd, 0, 4, 0}, dh[40], ldh[40];
        struct pdm_profile_secret sec;
        struct pdm_flow_tuple t, lt;
        uint64_t marked, opened, from_lane = 0, rx_lane = 0;
        double refill_ns = 0;
        int lanes = s < 2; /* AES-GCM only */
        double inst;
        size_t len;

        peer[15] = (uint8_t)s;
        lpeer[15] = (uint8_t)s;
        if (add_peer(obj, peer, 3) != 0 || setup_suite(ek, s, me, peer, &sec, &t, dh) != 0) {
            fprintf(stderr, "bench_bpf_v2enc: %s: key setup failed\n", names[s]);
            return 2;
        }
        /* A second flow, with lpeer, fed by the two keystream lanes (the
         * agent's busy flow): its sender armed, RUNS packets (it asks at
         * 256), the lane given; its receiver armed, an option whose RN
         * asks opened once, the lane given. The first flow never gets
         * one: kfunc every time. */
        lt = t;
        memcpy(lt.dst, lpeer, 16);
        (void)agent_ebpf_keys_lanes(ek, 2);
        if (lanes) {
            if (add_peer(obj, lpeer, 3) != 0 ||
                agent_ebpf_keys_install(ek, &sec, &lt, EBPF_KEYS_TX, 0, EBPF_KEYS_ARM_TX, 0) != 0 ||
                setup_rx_lane(ek, &sec, &lt, ldh) != 0) {
                fprintf(stderr, "bench_bpf_v2enc: %s: lane flow setup failed\n", names[s]);
                return 2;
            }
            len = packet(pkt, me, lpeer, NULL);
            (void)prog_ns(egress_fd, pkt, len, 1); /* RUNS single runs */
            len = packet(pkt, lpeer, me, ldh);
            (void)prog_ns(ingress_fd, pkt, len, 1);
            while (agent_ebpf_keys_serve(ek, &sec, 0, 0) > 0)
                ;
        }
        marked = counter_of("v2enc_counters", 0);
        opened = counter_of("v2enc_counters", 1);
        for (int r = 0; r < ROUNDS; r++) {
            double b1, b1000, e;

            len = packet(pkt, me, other, NULL);
            rounds_add(&base, b1 = prog_ns(egress_fd, pkt, len, 1));
            rounds_add(&rep, b1000 = prog_ns(egress_fd, pkt, len, 1000));
            len = packet(pkt, me, v2peer, NULL);
            rounds_add(&v2, prog_ns(egress_fd, pkt, len, 1));
            len = packet(pkt, me, peer, NULL);
            rounds_add(&enc, e = prog_ns(egress_fd, pkt, len, 1));
            /* less the test run's timer overhead measured in this round */
            rounds_add(&net, e - (b1 > b1000 ? b1 - b1000 : 0));
            if (lanes) {
                /* The lane refilled (what the request thread does every
                 * millisecond), then RUNS (< 1024) draws, all from it. */
                uint64_t u0, t0 = bench_now_ns();
                while (agent_ebpf_keys_serve(ek, &sec, 0, 0) > 0)
                    ;
                if (r > 0) /* RUNS options drawn since the last refill */
                    refill_ns += (double)(bench_now_ns() - t0) / RUNS;
                u0 = counter_of("v2enc_counters", 12);
                len = packet(pkt, me, lpeer, NULL);
                e = prog_ns(egress_fd, pkt, len, 1);
                rounds_add(&lnet, e - (b1 > b1000 ? b1 - b1000 : 0));
                from_lane += counter_of("v2enc_counters", 12) - u0;
                /* The receiver's: the same option opened again and again,
                 * its blocks from the lane each time. */
                u0 = counter_of("v2enc_counters", 13);
                len = packet(pkt, lpeer, me, ldh);
                rounds_add(&ldec, prog_ns(ingress_fd, pkt, len, REPEAT));
                rx_lane += counter_of("v2enc_counters", 13) - u0;
            }
            len = packet(pkt, other, me, NULL);
            rounds_add(&ibase, prog_ns(ingress_fd, pkt, len, REPEAT));
            len = packet(pkt, peer, me, dh);
            rounds_add(&dec, prog_ns(ingress_fd, pkt, len, REPEAT));
        }
        marked = counter_of("v2enc_counters", 0) - marked - (lanes ? ROUNDS * RUNS : 0);
        opened = counter_of("v2enc_counters", 1) - opened - (lanes ? ROUNDS * REPEAT : 0);
        inst = install_median(ek, &sec, &t);
        pdm_profile_secret_wipe(&sec);
        if (inst < 0)
            fprintf(stderr, "bench_bpf_v2enc: %s: key install failed\n", names[s]);
        else
            printf("note bpf %s: one key install %.0f us (median of 15)\n", names[s], inst);
        if (rounds_best(&base) < 0 || rounds_best(&rep) < 0 || rounds_best(&v2) < 0 ||
            rounds_best(&enc) < 0 || rounds_best(&ibase) < 0 || rounds_best(&dec) < 0 ||
            marked != ROUNDS * RUNS || opened != ROUNDS * REPEAT) {
            fprintf(stderr,
                    "bench_bpf_v2enc: %s: a run failed (%llu of %d sealed, %llu of %d opened)\n",
                    names[s], (unsigned long long)marked, ROUNDS * RUNS, (unsigned long long)opened,
                    ROUNDS * REPEAT);
            return 2;
        }
        report("egress", names[s], &enc, "egress, not a peer", &base);
        report("egress", names[s], &enc, "egress, v2 unencrypted", &v2);
        report("egress-net", names[s], &net, "egress, not a peer, repeated", &rep);
        report("ingress", names[s], &dec, "ingress, not a peer", &ibase);
        /* The program's own cost: less the test run's timer overhead, as
         * bench/bench_ebpf_prog.c counts (d) for the unencrypted modes
         * (the raw figure is printed above). */
        missed |= target("egress-net", names[s], rounds_best(&net));
        missed |= target("ingress", names[s], rounds_best(&dec));
        if (lanes) {
            report("egress-net-lane", names[s], &lnet, "egress-net, the kfunc's blocks", &net);
            printf("note bpf %s: %llu of %d lane-fed seals took the lane's blocks\n", names[s],
                   (unsigned long long)from_lane, ROUNDS * RUNS);
            printf("note %s: the lane's refill in user space %.0f ns per option (serve(): "
                   "ring poll, state look-up, HKDF at a rotation, OpenSSL AES; mean of %d)\n",
                   names[s], refill_ns / (ROUNDS - 1), ROUNDS - 1);
            report("ingress-lane", names[s], &ldec, "ingress, the kfunc's blocks", &dec);
            printf("note bpf %s: %llu of %d lane-fed opens took the lane's blocks\n", names[s],
                   (unsigned long long)rx_lane, ROUNDS * REPEAT);
            if (from_lane != (uint64_t)ROUNDS * RUNS || rx_lane != (uint64_t)ROUNDS * REPEAT) {
                fprintf(stderr, "bench_bpf_v2enc: %s: a lane was not used\n", names[s]);
                return 2;
            }
            missed |= target("egress-net-lane", names[s], rounds_best(&lnet));
            missed |= target("ingress-lane", names[s], rounds_best(&ldec));
        }
        (void)agent_ebpf_keys_lanes(ek, 0);
    }
    agent_ebpf_keys_stop(ek);
    bpf_object__close(obj);
    obj = NULL;
    return missed;
}

/* Mean ns of one run of op on io (repeated), -1 on failure or when the
 * op's result is not rv. */
static double op_ns(int fd, int io_fd, struct v2enc_io *io, int rv)
{
    uint8_t pkt[64] = {0};
    uint32_t zero = 0;

    pkt[12] = 0x86;
    pkt[13] = 0xdd;
    if (bpf_map_update_elem(io_fd, &zero, io, BPF_ANY) != 0)
        return -1;
    LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof pkt, .repeat = REPEAT);
    if (bpf_prog_test_run_opts(fd, &o) != 0)
        return -1;
    struct v2enc_io got;
    if (bpf_map_lookup_elem(io_fd, &zero, &got) != 0 || got.rv != rv)
        return -1;
    return o.duration;
}

static void flow_key(const struct pdm_flow_tuple *t, int tx, struct pdm_bpf_flow_key *k)
{
    memset(k, 0, sizeof *k);
    memcpy(k->local, tx ? t->src : t->dst, 16);
    memcpy(k->remote, tx ? t->dst : t->src, 16);
    k->lport = tx ? t->sport : t->dport;
    k->rport = tx ? t->dport : t->sport;
    k->proto = t->proto;
}

/* Seal and open alone (test_v2enc.bpf.o), ROUNDS rounds interleaved with
 * the program doing nothing. */
static int run_ops(const char *path)
{
    struct agent_ebpf_keys *ek = NULL;
    uint8_t me[16] = {0xfd, 0, 1}, peer[16] = {0xfd, 0, 3};
    int fd, io_fd;

    if ((obj = bpf_object__open_file(path, NULL)) == NULL || bpf_object__load(obj) != 0) {
        fprintf(stderr, "bench_bpf_v2enc: loading %s failed\n", path);
        return 2;
    }
    fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "v2enc_run"));
    io_fd = bpf_object__find_map_fd_by_name(obj, "v2enc_io");
    if (fd < 0 || io_fd < 0 || agent_ebpf_keys_start(&ek, obj, NULL, NULL) != 0) {
        fprintf(stderr, "bench_bpf_v2enc: %s: map setup failed\n", path);
        return 2;
    }
    for (int s = 0; s < 3; s++) {
        struct rounds none = {0}, seal = {0}, open = {0}, rseal = {0};
        struct v2enc_io ns, ss, os, rs;
        struct pdm_profile_secret sec;
        struct pdm_flow_tuple t, r;
        uint8_t dh[40];

        peer[15] = (uint8_t)s;
        if (setup_suite(ek, s, me, peer, &sec, &t, dh) != 0) {
            fprintf(stderr, "bench_bpf_v2enc: %s: key setup failed\n", names[s]);
            return 2;
        }
        pdm_profile_secret_wipe(&sec);
        r = t;
        memcpy(r.src, t.dst, 16);
        memcpy(r.dst, t.src, 16);
        memset(&ns, 0, sizeof ns);
        ns.op = T_NONE;
        memset(&ss, 0, sizeof ss);
        flow_key(&t, 1, &ss.flow);
        ss.op = T_SEAL_RN;
        ss.rn = 1234;
        memcpy(ss.hdr, dh, 24); /* any 24 bytes: the seal's cost is the same */
        ss.hdr[1] = 2;
        rs = ss;
        rs.op = T_SEAL; /* ROUNDS * REPEAT < 32767: no rotation */
        memset(&os, 0, sizeof os);
        flow_key(&r, 0, &os.flow);
        os.op = T_OPEN;
        memcpy(os.opt, dh + 2, 36);
        for (int i = 0; i < ROUNDS; i++) {
            rounds_add(&none, op_ns(fd, io_fd, &ns, 0));
            rounds_add(&seal, op_ns(fd, io_fd, &ss, 0));
            rounds_add(&open, op_ns(fd, io_fd, &os, 0));
            rounds_add(&rseal, op_ns(fd, io_fd, &rs, 0));
        }
        if (rounds_best(&none) < 0 || rounds_best(&seal) < 0 || rounds_best(&open) < 0 ||
            rounds_best(&rseal) < 0) {
            fprintf(stderr, "bench_bpf_v2enc: %s: a seal or open failed\n", names[s]);
            return 2;
        }
        report("seal", names[s], &seal, "program doing nothing", &none);
        report("open", names[s], &open, "program doing nothing", &none);
        report("reserve+seal", names[s], &rseal, "program doing nothing", &none);
    }
    agent_ebpf_keys_stop(ek);
    bpf_object__close(obj);
    obj = NULL;
    return 0;
}

static int run(const char *path, const char *ops_path)
{
    int rv;

    libbpf_set_print(NULL);
    if ((rv = run_prog(path)) == 2)
        return rv;
    if (access(ops_path, R_OK) != 0) {
        printf("note bpf v2enc: no %s, seal and open alone not measured\n", ops_path);
        return rv;
    }
    return run_ops(ops_path) == 2 ? 2 : rv;
}
#endif

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
#ifdef PDM_HAVE_LIBBPF
    char exe[PATH_MAX], path[PATH_MAX + 64], ops[PATH_MAX + 64];
    const char *env = getenv("PDM_BPF_OBJ");
    ssize_t n;
    char *slash;

    if (geteuid() != 0) {
        puts("SKIP bpf v2enc: needs root (BPF_PROG_TEST_RUN)");
        return 0;
    }
    if (!aead_user_kernel_has_kfuncs()) {
        puts("SKIP bpf v2enc: the kernel has no BPF crypto kfuncs (Linux >= 6.10)");
        return 0;
    }
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    if ((slash = strrchr(exe, '/')) != NULL)
        *slash = '\0';
    snprintf(path, sizeof path, "%s%s", env ? env : exe, env ? "" : "/../bpf/pdm.bpf.o");
    snprintf(ops, sizeof ops, "%s/../bpf-v2enc/test_v2enc.bpf.o", exe);
    if (access(path, R_OK) != 0) {
        puts("SKIP bpf v2enc: no build/bpf/pdm.bpf.o (clang, bpftool, kernel BTF at build time)");
        return 0;
    }
    return run(path, ops);
#else
    puts("SKIP bpf v2enc: built without libbpf (libbpf-dev)");
    return 0;
#endif
}
