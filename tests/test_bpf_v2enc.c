/*
 * v2-encrypted in BPF (bpf/pdm_v2enc.h through bpf/test_v2enc.bpf.c and
 * BPF_PROG_TEST_RUN) with keys from tools/agent/ebpf_keys.c:
 *  - every option vector of the profile (all three AEADs): keys derived
 *    by ebpf_keys from the vector's secret, the sealed Destination Options
 *    header equal byte for byte to the vector's, opened by lib
 *    (pdm_profile_open) and by the BPF receiver, tampering refused;
 *  - a sender's whole life per AEAD: first packet unmarked and a request,
 *    then options equal to lib's pdm_profile_tx_seal() across rotations
 *    (F bit, RN permutation, next keys installed before they are needed),
 *    opened by lib's receiver; the BPF receiver opening lib's options
 *    across the peer's rotations; Kri 65535 ends sealing;
 *  - random options per AEAD (type, RN, fields, both Kri parities): BPF's
 *    seal equal to lib's pdm_profile_seal(), lib's opened by BPF;
 *  - the derivation budget: new flows beyond it refused, the rest sealed;
 *  - keystream lanes, sender's and receiver's: every option equal to
 *    lib's (or opened to lib's fields) whatever the lane holds.
 * SKIPs without root, libbpf, the object or the kernel's crypto kfuncs.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <sys/mman.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "vectors.h"

#include "conv.h"
#include "pdm/profile.h"

#ifdef PDM_HAVE_LIBBPF
#include "../bpf/aead_user.h"
#include "../tools/agent/ebpf_keys.h"
#include <linux/types.h>

#include "../bpf/pdm_bpf.h"

#define VECTORS "tests/vectors/pdmv2-profile-vectors.json"

struct v2enc_io { /* bpf/test_v2enc.bpf.c */
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

#define C_TX_NO_SECRET     11
#define C_TX_KEY_EXHAUSTED 12
#define C_RX_AUTH_FAILED   22
#define C_RX_NO_SECRET     23

static struct bpf_object *obj;
static struct agent_ebpf_keys *ek;
static int run_fd, io_fd;

static int has_ports(uint8_t p)
{
    return p == 6 || p == 17 || p == 136 || p == 132 || p == 33;
}

/* The maps' flow key of direction t, from the sender's (tx) or the
 * receiver's side. */
static void key_of(const struct pdm_flow_tuple *t, int tx, struct pdm_bpf_flow_key *k)
{
    memset(k, 0, sizeof *k);
    memcpy(k->local, tx ? t->src : t->dst, 16);
    memcpy(k->remote, tx ? t->dst : t->src, 16);
    if (has_ports(t->proto)) {
        k->lport = tx ? t->sport : t->dport;
        k->rport = tx ? t->dport : t->sport;
    }
    k->proto = t->proto;
}

static int run(struct v2enc_io *io)
{
    uint8_t pkt[64] = {0};
    uint32_t zero = 0;

    pkt[12] = 0x86;
    pkt[13] = 0xdd;
    io->rv = INT_MIN;
    if (bpf_map_update_elem(io_fd, &zero, io, BPF_ANY) != 0)
        return INT_MIN;
    LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof pkt);
    if (bpf_prog_test_run_opts(run_fd, &o) != 0 || bpf_map_lookup_elem(io_fd, &zero, io) != 0)
        return INT_MIN;
    return io->rv;
}

/* The clear PDMv2 header (24 bytes) the egress path builds for fields. */
static void clear_hdr(uint8_t type, const struct pdm_fields *f, uint8_t hdr[40])
{
    uint8_t *p = hdr;

    memset(hdr, 0, 40);
    p = pdm_put_u8(p, 17);
    p = pdm_put_u8(p, 2);
    p = pdm_put_u8(p, type);
    p = pdm_put_u8(p, 18);
    p = pdm_put_u16be(p, 0x2000);
    p = pdm_put_u16be(p, 0);
    p = pdm_put_u8(p, f->scale_dtlr);
    p = pdm_put_u8(p, f->scale_dtls);
    p = pdm_put_u32be(p, f->global_pointer);
    p = pdm_put_u16be(p, f->psntp);
    p = pdm_put_u16be(p, f->psnlr);
    p = pdm_put_u16be(p, f->delta_tlr);
    p = pdm_put_u16be(p, f->delta_tls);
    p = pdm_put_u8(p, 1);
    (void)pdm_put_u8(p, 0);
}

static uint64_t field(const json_t *f, const char *key)
{
    uint64_t v = 0;
    CHECK(vec_u64(f, key, &v) == 0);
    return v;
}

static int vec_tuple(const json_t *o, struct pdm_flow_tuple *t)
{
    memset(t, 0, sizeof *t);
    t->sport = (uint16_t)field(o, "sport");
    t->dport = (uint16_t)field(o, "dport");
    t->proto = (uint8_t)field(o, "protocol");
    return inet_pton(AF_INET6, vec_str(o, "src"), t->src) == 1 &&
                   inet_pton(AF_INET6, vec_str(o, "dst"), t->dst) == 1
               ? 0
               : -1;
}

static int vec_secret(const json_t *o, struct pdm_profile_secret *s)
{
    struct pdm_hpke_suite suite;
    uint8_t salt[32], sec[64];
    long sl = get_hex(o, "salt", salt, sizeof salt),
         nl = get_hex(o, "shared_secret", sec, sizeof sec);

    if (pdm_suite_parse(vec_str(o, "suite"), &suite) != 0 || sl < 0 || nl < 0)
        return -1;
    return pdm_profile_secret_init(s, suite, salt, (size_t)sl, sec, (size_t)nl);
}

static void vec_fields(const json_t *f, struct pdm_fields *x)
{
    memset(x, 0, sizeof *x);
    x->scale_dtlr = (uint8_t)field(f, "scale_dtlr");
    x->scale_dtls = (uint8_t)field(f, "scale_dtls");
    x->global_pointer = (uint32_t)field(f, "global_pointer");
    x->psntp = (uint16_t)field(f, "psntp");
    x->psnlr = (uint16_t)field(f, "psnlr");
    x->delta_tlr = (uint16_t)field(f, "delta_tlr");
    x->delta_tls = (uint16_t)field(f, "delta_tls");
}

static int fields_eq(const struct pdm_fields *a, const struct pdm_fields *b)
{
    return a->scale_dtlr == b->scale_dtlr && a->scale_dtls == b->scale_dtls &&
           a->global_pointer == b->global_pointer && a->psntp == b->psntp && a->psnlr == b->psnlr &&
           a->delta_tlr == b->delta_tlr && a->delta_tls == b->delta_tls;
}

/* Every option vector: BPF's header is the vector's, lib opens it, the
 * BPF receiver opens the vector's option and refuses it tampered. */
static void test_vectors(void)
{
    json_t *doc = vec_load(VECTORS), *o;
    size_t idx;
    int n = 0;

    CHECK(doc != NULL);
    if (doc == NULL)
        return;
    json_array_foreach(json_object_get(doc, "options"), idx, o)
    {
        struct pdm_profile_secret s;
        struct pdm_profile_key lk;
        struct pdm_flow_tuple t;
        struct pdm_fields want;
        struct pdm_option got;
        struct v2enc_io io;
        uint8_t hdr[40], opt[36];
        uint64_t kri = 0, rn = 0;

        if (vec_tuple(o, &t) != 0 || vec_secret(o, &s) != 0 || vec_u64(o, "kri", &kri) != 0 ||
            vec_u64(o, "rn", &rn) != 0 ||
            get_hex(o, "encrypted_dest_opts_header", hdr, sizeof hdr) != 40 ||
            get_hex(o, "encrypted_option", opt, sizeof opt) != 36) {
            CHECK(!"vector fields");
            continue;
        }
        vec_fields(json_object_get(o, "fields"), &want);

        CHECK_INT(agent_ebpf_keys_install(ek, &s, &t, EBPF_KEYS_TX, (uint16_t)kri, 0, 0), 0);
        memset(&io, 0, sizeof io);
        key_of(&t, 1, &io.flow);
        io.op = T_SEAL_RN;
        io.kri = (uint16_t)kri;
        io.rn = (uint16_t)rn;
        clear_hdr(opt[0], &want, io.hdr);
        io.hdr[0] = hdr[0];
        CHECK_INT(run(&io), 0);
        CHECK_MEM(io.hdr, hdr, 40);

        CHECK_INT(pdm_profile_key_init(&lk, &s, &t, (uint16_t)kri), 0);
        CHECK_INT(pdm_profile_open(&lk, io.hdr + 2, 36, opt[0], &got), 36);
        CHECK(fields_eq(&got.fields, &want));
        pdm_profile_key_clear(&lk);

        /* The receiver of this direction (the reverse flow key). */
        CHECK_INT(
            agent_ebpf_keys_install(ek, &s, &t, EBPF_KEYS_RX, (uint16_t)kri, EBPF_KEYS_ARM_RX, 0),
            0);
        memset(&io, 0, sizeof io);
        key_of(&t, 0, &io.flow);
        io.op = T_OPEN;
        memcpy(io.opt, opt, 36);
        CHECK_INT(run(&io), 0);
        /* Opened into the clear v2 layout, RN/F as sent. */
        uint8_t ch[40];
        clear_hdr(opt[0], &want, ch);
        memcpy(ch + 2 + 4, opt + 4, 2);
        CHECK_MEM(io.clear, ch + 2, 20);
        int refused = 0;
        for (int i = 0; i < 36; i++) {
            memset(&io, 0, sizeof io);
            key_of(&t, 0, &io.flow);
            io.op = T_OPEN;
            memcpy(io.opt, opt, 36);
            io.opt[i] ^= (uint8_t)(1u << (i % 8));
            if (i == 1)
                continue; /* the length byte: the caller only passes Length 34 */
            memset(io.clear, 0xA5, sizeof io.clear);
            refused += run(&io) == C_RX_AUTH_FAILED && io.clear[0] == 0xA5 && io.clear[19] == 0xA5;
        }
        CHECK_INT(refused, 35);
        pdm_profile_secret_wipe(&s);
        n++;
    }
    CHECK_INT(n, 12);
    json_decref(doc);
}

/* A flow direction's sender in BPF against lib's, per AEAD. */
static void test_sender(void)
{
    static const uint16_t aeads[3] = {1, 2, 3};
    static const uint8_t salt[32] = {9, 8, 7}, secret[32] = {1, 2, 3};
    const uint32_t limit = 5;
    const int packets = 23;

    /* Requests left by the vectors' tampered options: answered, no secret. */
    while (agent_ebpf_keys_serve(ek, NULL, 0, 0) > 0)
        ;

    for (int a = 0; a < 3; a++) {
        struct pdm_hpke_suite suite = {0x0020, 0x0001, aeads[a]};
        struct pdm_flow_tuple t = {.sport = (uint16_t)(1000 + a), .dport = 53, .proto = 17};
        struct pdm_profile_policy pol = {.max_packets = (uint16_t)limit};
        struct pdm_profile_secret s;
        struct pdm_profile_tx tx;
        struct pdm_profile_rx rx;
        struct v2enc_io io;
        int same = 0, opened = 0, fbits = 0;

        t.src[0] = 0xfd;
        t.dst[0] = 0xfd;
        t.dst[15] = (uint8_t)(1 + a);
        memset(&tx, 0, sizeof tx);
        memset(&rx, 0, sizeof rx);
        CHECK_INT(pdm_profile_secret_init(&s, suite, salt, 32, secret, 32), 0);
        CHECK_INT(pdm_profile_tx_start(&tx, &s, &t, 0, 0), 0);

        memset(&io, 0, sizeof io);
        key_of(&t, 1, &io.flow);
        io.op = T_SEAL;
        /* First packet: no key yet, unmarked; one request answered. */
        CHECK_INT(run(&io), C_TX_NO_SECRET);
        CHECK_INT(agent_ebpf_keys_serve(ek, &s, limit, 100), 1);
        for (int i = 0; i < packets; i++) {
            struct pdm_fields f = {.psntp = (uint16_t)(100 + i), .global_pointer = (uint32_t)i};
            struct pdm_option got;
            uint8_t ref[36];
            uint16_t kri = 0;

            clear_hdr(0x0f, &f, io.hdr);
            io.op = T_SEAL;
            if (run(&io) != 0)
                break;
            /* Rotation requests (the key after the next) answered now. */
            (void)agent_ebpf_keys_serve(ek, &s, limit, 0);
            CHECK_INT(pdm_profile_tx_seal(&tx, &s, &t, &pol, 0, 0x0f, &f, ref, sizeof ref), 36);
            same += memcmp(io.hdr + 2, ref, 36) == 0 && io.hdr[1] == 4 && io.hdr[38] == 1;
            fbits += (io.hdr[7] & 1) == ((i / (int)limit) & 1);
            opened += pdm_profile_rx_open(&rx, &s, &t, io.hdr + 2, 36, 0x0f, &got, &kri) == 36 &&
                      fields_eq(&got.fields, &f) && kri == i / (int)limit;
        }
        CHECK_INT(same, packets);
        CHECK_INT(fbits, packets);
        CHECK_INT(opened, packets);
        pdm_profile_tx_clear(&tx);
        pdm_profile_rx_clear(&rx);

        /* A new flow of the same pair: the program has the pair's secret
         * now and keys the flow itself, its very first packet sealed (at
         * the Kri its history bucket gives: lib's search finds it). */
        struct pdm_flow_tuple t2 = t;
        t2.sport = (uint16_t)(t.sport + 100);
        int first_ok = 0;
        for (int i = 0; i < 3; i++) {
            struct pdm_fields f = {.psntp = (uint16_t)i};
            struct pdm_option got;
            uint16_t kri = 0;

            memset(&io, 0, sizeof io);
            key_of(&t2, 1, &io.flow);
            io.op = T_SEAL;
            clear_hdr(0x0f, &f, io.hdr);
            memset(&rx, 0, sizeof rx);
            pdm_profile_rx_init(&rx, 0);
            first_ok += run(&io) == 0 &&
                        pdm_profile_rx_open(&rx, &s, &t2, io.hdr + 2, 36, 0x0f, &got, &kri) == 36 &&
                        fields_eq(&got.fields, &f) && kri % 2 == 0;
            pdm_profile_rx_clear(&rx);
        }
        CHECK_INT(first_ok, 3);
        /* Its requests (user space's kernel-crypto slots) answered. */
        while (agent_ebpf_keys_serve(ek, &s, limit, 0) > 0)
            ;

        /* The BPF receiver of the reverse direction, lib sealing: at Kri 3
         * the program keys the receiver itself on the first option (the
         * bucket's expectation 0, candidates of F's parity 1 then 3); at
         * Kri 9 (beyond its two candidates) lib's search in user space
         * finds it. Then rotations every 5 options, followed. */
        for (int c = 0; c < 2; c++) {
            struct pdm_flow_tuple r = t;
            memcpy(r.src, t.dst, 16);
            memcpy(r.dst, t.src, 16);
            r.sport = (uint16_t)(t.dport + 10 * c);
            r.dport = t.sport;
            CHECK_INT(pdm_profile_tx_start(&tx, &s, &r, c == 0 ? 3 : 9, 0), 0);
            int rx_ok = 0;
            for (int i = 0; i < packets; i++) {
                struct pdm_fields f = {.psntp = (uint16_t)(7 * i), .delta_tlr = 9};
                uint8_t want[40];

                memset(&io, 0, sizeof io);
                key_of(&r, 0, &io.flow);
                io.op = T_OPEN;
                CHECK_INT(pdm_profile_tx_seal(&tx, &s, &r, &pol, 0, 0x0f, &f, io.opt, 36), 36);
                if (i == 0 && c == 1) { /* unknown: one RX_FIND answered */
                    CHECK_INT(run(&io), C_RX_NO_SECRET);
                    CHECK_INT(agent_ebpf_keys_serve(ek, &s, limit, 100), 1);
                }
                int rv = run(&io);
                if (i == 0)
                    CHECK_INT(rv, 0); /* c == 0: opened in BPF, no request before */
                (void)agent_ebpf_keys_serve(ek, &s, limit, 0);
                clear_hdr(0x0f, &f, want);
                memcpy(want + 2 + 4, io.opt + 4, 2);
                rx_ok += rv == 0 && memcmp(io.clear, want + 2, 20) == 0;
            }
            CHECK_INT(rx_ok, packets);
            pdm_profile_tx_clear(&tx);
        }

        /* Kri 65535, 2 packets per key: two options, then nothing. */
        struct pdm_flow_tuple e = t;
        e.sport = (uint16_t)(2000 + a);
        CHECK_INT(
            agent_ebpf_keys_install(ek, &s, &e, EBPF_KEYS_TX, PDM_KRI_MAX, EBPF_KEYS_ARM_TX, 2), 0);
        memset(&io, 0, sizeof io);
        key_of(&e, 1, &io.flow);
        io.op = T_SEAL;
        clear_hdr(0x0f, &(struct pdm_fields){0}, io.hdr);
        CHECK_INT(run(&io), 0);
        clear_hdr(0x0f, &(struct pdm_fields){0}, io.hdr);
        CHECK_INT(run(&io), 0);
        CHECK_INT(run(&io), C_TX_KEY_EXHAUSTED);
        (void)agent_ebpf_keys_serve(ek, &s, limit, 0);
        pdm_profile_secret_wipe(&s);
    }
}

/* xorshift64*: the random test's fixed sequence. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

/* Random options per AEAD (type, RN, fields, both Kri parities, fixed
 * seed): BPF's seal equal byte for byte to lib's pdm_profile_seal() with
 * the same RN, and lib's options opened by the BPF receiver into their
 * fields; the AAD's every byte varies (type, RN/F), and so the GHASH
 * pass's H^3 half (bpf/aead.h). */
static void test_random(void)
{
    static const uint16_t aeads[3] = {1, 2, 3};
    static const uint8_t salt[32] = {5}, secret[32] = {6, 7};
    uint64_t seed = 0x5eed;
    enum { N = 150 };

    for (int a = 0; a < 3; a++) {
        struct pdm_hpke_suite suite = {0x0020, 0x0001, aeads[a]};
        struct pdm_flow_tuple t = {.sport = (uint16_t)(3000 + a), .dport = 7, .proto = 17};
        struct pdm_profile_key lk[2];
        struct pdm_profile_secret s;
        int sealed = 0, opened = 0;

        t.src[0] = 0xfd;
        t.src[15] = 0x31;
        t.dst[0] = 0xfd;
        t.dst[15] = (uint8_t)(0x40 + a);
        CHECK_INT(pdm_profile_secret_init(&s, suite, salt, 32, secret, 32), 0);
        for (uint16_t kri = 0; kri < 2; kri++) {
            CHECK_INT(agent_ebpf_keys_install(ek, &s, &t, EBPF_KEYS_TX, kri, 0, 0), 0);
            CHECK_INT(agent_ebpf_keys_install(ek, &s, &t, EBPF_KEYS_RX, kri,
                                              kri == 0 ? EBPF_KEYS_ARM_RX : 0, 0),
                      0);
            CHECK_INT(pdm_profile_key_init(&lk[kri], &s, &t, kri), 0);
        }
        for (int i = 0; i < N; i++) {
            uint64_t r = rnd(&seed), q = rnd(&seed);
            uint16_t kri = (uint16_t)(r & 1), rn = (uint16_t)(1 + (r >> 1) % 32767);
            uint8_t type = (uint8_t)(r >> 20), ref[36], want[40];
            struct pdm_fields f = {
                .scale_dtlr = (uint8_t)q,
                .scale_dtls = (uint8_t)(q >> 8),
                .global_pointer = (uint32_t)(q >> 16),
                .psntp = (uint16_t)(r >> 28),
                .psnlr = (uint16_t)(r >> 44),
                .delta_tlr = (uint16_t)(q >> 48),
                .delta_tls = (uint16_t)(r >> 40),
            };
            struct v2enc_io io;

            CHECK_INT(pdm_profile_seal(&lk[kri], type, rn, &f, ref, sizeof ref), 36);
            memset(&io, 0, sizeof io);
            key_of(&t, 1, &io.flow);
            io.op = T_SEAL_RN;
            io.kri = kri;
            io.rn = rn;
            clear_hdr(type, &f, io.hdr);
            sealed += run(&io) == 0 && memcmp(io.hdr + 2, ref, 36) == 0;

            memset(&io, 0, sizeof io);
            key_of(&t, 0, &io.flow);
            io.op = T_OPEN;
            memcpy(io.opt, ref, 36);
            clear_hdr(type, &f, want);
            memcpy(want + 2 + 4, ref + 4, 2);
            opened += run(&io) == 0 && memcmp(io.clear, want + 2, 20) == 0;
        }
        CHECK_INT(sealed, N);
        CHECK_INT(opened, N);
        for (int k = 0; k < 2; k++)
            pdm_profile_key_clear(&lk[k]);
        pdm_profile_secret_wipe(&s);
        /* The receiver's requests (the key after Kri 1): no secret here. */
        while (agent_ebpf_keys_serve(ek, NULL, 0, 0) > 0)
            ;
    }
}

static int setup(void)
{
    char path[PATH_MAX + 64], exe[PATH_MAX];
    const char *env = getenv("PDM_BPF_V2ENC_OBJ");
    ssize_t n;
    char *slash;
    int rv;

    if (geteuid() != 0) {
        SKIP("needs root (BPF_PROG_TEST_RUN of a tc and a syscall program)");
        return 0;
    }
    if (!aead_user_kernel_has_kfuncs()) {
        SKIP("the kernel has no BPF crypto kfuncs (bpf_crypto_encrypt; Linux >= 6.10)");
        return 0;
    }
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    if ((slash = strrchr(exe, '/')) != NULL)
        *slash = '\0';
    snprintf(path, sizeof path, "%s%s", env ? env : exe,
             env ? "" : "/../bpf-v2enc/test_v2enc.bpf.o");
    if (access(path, R_OK) != 0) {
        SKIP("no BPF object (clang >= 15, bpftool and libbpf were missing at build time)");
        return 0;
    }
    libbpf_set_print(NULL);
    obj = bpf_object__open_file(path, NULL);
    CHECK(obj != NULL);
    if (obj == NULL)
        return 0;
    rv = bpf_object__load(obj);
    if (rv != 0)
        fprintf(stderr, "loading %s: %s\n", path, strerror(-rv));
    CHECK_INT(rv, 0);
    if (rv != 0)
        return 0;
    run_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "v2enc_run"));
    io_fd = bpf_object__find_map_fd_by_name(obj, "v2enc_io");
    CHECK_INT(agent_ebpf_keys_start(&ek, obj, NULL, NULL), 0);
    return ek != NULL && run_fd >= 0 && io_fd >= 0;
}
#endif

/* The derivation budget (bpf/pdm_v2key.h, 1000 per CPU per 100 ms): 1100
 * new sending flows in a few milliseconds (two keys each: 500 starts per
 * CPU and window) on one or two CPUs: some starts are refused (unmarked,
 * not asked of user space), the rest sealed, nothing else goes wrong. */
static void test_budget(void)
{
    static const uint8_t salt[32] = {4}, secret[32] = {5};
    struct pdm_hpke_suite suite = {0x0020, 0x0001, 3};
    struct pdm_flow_tuple t = {.sport = 1, .dport = 9, .proto = 17};
    struct pdm_profile_secret s;
    struct v2enc_io io;
    int sealed = 0, refused = 0, other = 0;

    t.src[0] = t.dst[0] = 0xfd;
    t.src[1] = t.dst[1] = 0xbb;
    t.dst[15] = 7;
    CHECK_INT(pdm_profile_secret_init(&s, suite, salt, 32, secret, 32), 0);
    memset(&io, 0, sizeof io);
    key_of(&t, 1, &io.flow);
    io.op = T_SEAL;
    clear_hdr(0x0f, &(struct pdm_fields){0}, io.hdr);
    CHECK_INT(run(&io), C_TX_NO_SECRET); /* the pair's first: its secret asked */
    CHECK_INT(agent_ebpf_keys_serve(ek, &s, 0, 100), 1);
    /* On one CPU: within 90 ms at most two of its windows, 1000 starts. */
    cpu_set_t one, was;
    int pinned = sched_getaffinity(0, sizeof was, &was) == 0;
    CPU_ZERO(&one);
    int cpu = sched_getcpu();
    CPU_SET((size_t)(cpu < 0 ? 0 : cpu), &one);
    pinned = pinned && sched_setaffinity(0, sizeof one, &one) == 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 1100; i++) {
        t.sport = (uint16_t)(2 + i);
        memset(&io, 0, sizeof io);
        key_of(&t, 1, &io.flow);
        io.op = T_SEAL;
        clear_hdr(0x0f, &(struct pdm_fields){0}, io.hdr);
        int rv = run(&io);
        sealed += rv == 0 && io.hdr[1] == 4;
        refused += rv == C_TX_NO_SECRET;
        other += rv != 0 && rv != C_TX_NO_SECRET;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (pinned)
        (void)sched_setaffinity(0, sizeof was, &was);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("note: budget: %d new flows sealed at once, %d refused, in %.1f ms\n", sealed, refused,
           ms);
    CHECK_INT(sealed + refused, 1100);
    CHECK(sealed >= 400);
    CHECK_INT(other, 0);
    if (pinned && ms < 90)
        CHECK(refused >= 100 && sealed <= 1000);
    else
        printf("note: budget: not pinned or slower than a window: refusals not checked\n");
    while (agent_ebpf_keys_serve(ek, &s, 0, 0) > 0)
        ;
    pdm_profile_secret_wipe(&s);
}

/* Slots are not an LRU: those of a flow whose state the LRU state map
 * dropped are deleted by the key module's sweep (ek_gc(), run by serve()
 * here, by the request thread in the agent); a live flow's stay. */
static void test_gc(void)
{
    static const uint8_t salt[32] = {6}, secret[32] = {7};
    struct pdm_hpke_suite suite = {0x0020, 0x0001, 1};
    struct pdm_flow_tuple t = {.sport = 40, .dport = 41, .proto = 17}, u;
    struct pdm_profile_secret s;
    struct v2enc_io io;
    int state_fd = bpf_object__find_map_fd_by_name(obj, "v2enc_state");
    int slots_fd = bpf_object__find_map_fd_by_name(obj, "v2enc_slots");
    struct {
        struct pdm_bpf_flow_key flow;
        uint8_t dir, parity, kind, pad;
    } id;
    static uint8_t val[4096];

    CHECK(state_fd >= 0 && slots_fd >= 0);
    usleep(110000); /* test_budget() spent this window's derivations */
    t.src[0] = t.dst[0] = 0xfd;
    t.src[1] = t.dst[1] = 0xcc;
    t.dst[15] = 9;
    u = t;
    u.sport = 42;
    CHECK_INT(pdm_profile_secret_init(&s, suite, salt, 32, secret, 32), 0);
    memset(&io, 0, sizeof io);
    key_of(&t, 1, &io.flow);
    io.op = T_SEAL;
    clear_hdr(0x0f, &(struct pdm_fields){0}, io.hdr);
    CHECK_INT(run(&io), C_TX_NO_SECRET); /* the pair's secret asked */
    CHECK_INT(agent_ebpf_keys_serve(ek, &s, 0, 100), 1);
    for (int f = 0; f < 2; f++) { /* flows t and u start in BPF */
        memset(&io, 0, sizeof io);
        key_of(f ? &u : &t, 1, &io.flow);
        io.op = T_SEAL;
        clear_hdr(0x0f, &(struct pdm_fields){0}, io.hdr);
        CHECK_INT(run(&io), 0);
    }
    memset(&id, 0, sizeof id);
    key_of(&t, 1, &id.flow);
    id.kind = 1; /* PDM_V2ENC_SOFT, parity 0: Kri0 of a fresh history */
    CHECK_INT(bpf_map_lookup_elem(slots_fd, &id, val), 0);
    CHECK_INT(bpf_map_delete_elem(state_fd, &id.flow), 0); /* as the LRU would */
    for (int i = 0; i < 8; i++) /* sweeps of EK_GC_STEP keys: round the map */
        (void)agent_ebpf_keys_serve(ek, &s, 0, 0);
    CHECK(bpf_map_lookup_elem(slots_fd, &id, val) != 0 && errno == ENOENT);
    id.parity = 1;
    CHECK(bpf_map_lookup_elem(slots_fd, &id, val) != 0 && errno == ENOENT);
    key_of(&u, 1, &id.flow); /* the live flow's stay */
    id.parity = 0;
    CHECK_INT(bpf_map_lookup_elem(slots_fd, &id, val), 0);
    pdm_profile_secret_wipe(&s);
}

/* The sum over CPUs of v2enc_counters[i]. */
static uint64_t counter(uint32_t i)
{
    int fd = bpf_object__find_map_fd_by_name(obj, "v2enc_counters");
    int ncpu = libbpf_num_possible_cpus();
    uint64_t v[1024], sum = 0;

    if (fd < 0 || ncpu <= 0 || ncpu > 1024 || bpf_map_lookup_elem(fd, &i, v) != 0)
        return 0;
    for (int c = 0; c < ncpu; c++)
        sum += v[c];
    return sum;
}

#define C_KS_USED 12 /* PDM_V2ENC_C_KS_USED */

/*
 * Keystream lanes (bpf/pdm_v2enc.h v2enc_ks, ebpf_keys.c lane_fill()):
 * a busy AES sender asks for a lane and user space fills it ahead; every
 * option, with the lane's blocks or the kfunc's, equal byte for byte to
 * lib's pdm_profile_tx_seal() across rotations (300 packets per key).
 * Phases: 0, the lane refilled every 50 packets (every option from it
 * once given); 1, filled once, then 3000 packets (the first W from the
 * lane, then it runs dry: the kfunc); 2, filled once, then every tag
 * moved to another generation (as if the lane had been given to another
 * sender since): none of it used.
 */
static void test_lanes(void)
{
    static const uint16_t aeads[2] = {1, 2};
    static const uint8_t salt[32] = {3, 1}, secret[32] = {4, 1};
    int ks_fd = bpf_object__find_map_fd_by_name(obj, "v2enc_ks");
    const uint32_t limit = 300;
    const int W = 1024;

#if !defined(__x86_64__)
    SKIP("keystream lanes are x86-64 only");
    return;
#endif
    CHECK(ks_fd >= 0);
    for (int a = 0; a < 2; a++) {
        struct pdm_hpke_suite suite = {0x0020, 0x0001, aeads[a]};
        struct pdm_flow_tuple t = {.sport = (uint16_t)(5000 + a), .dport = 443, .proto = 6};
        struct pdm_profile_policy pol = {.max_packets = (uint16_t)limit};
        struct pdm_profile_secret s;
        struct pdm_profile_tx tx;
        struct v2enc_io io;
        uint64_t used[3] = {0}, g = 0;
        int same[3] = {0}, sent[3] = {0};
        static const int count[3] = {2000, 3000, 1000};

        t.src[0] = 0xfd;
        t.dst[0] = 0xfd;
        t.dst[15] = (uint8_t)(0x40 + a);
        memset(&tx, 0, sizeof tx);
        CHECK_INT(pdm_profile_secret_init(&s, suite, salt, 32, secret, 32), 0);
        /* Armed at Kri 0 by user space (as TX_START does without a
         * secrets map), so lib's sender starts where BPF's does. */
        CHECK_INT(pdm_profile_tx_start(&tx, &s, &t, 0, 0), 0);
        CHECK_INT(agent_ebpf_keys_install(ek, &s, &t, EBPF_KEYS_TX, 0, EBPF_KEYS_ARM_TX, limit), 0);
        CHECK_INT(agent_ebpf_keys_install(ek, &s, &t, EBPF_KEYS_TX, 1, 0, 0), 0);
        memset(&io, 0, sizeof io);
        key_of(&t, 1, &io.flow);
        for (int phase = 0; phase < 3; phase++) {
            if (phase > 0) /* the lane filled W ahead, once */
                while (agent_ebpf_keys_serve(ek, &s, limit, 0) > 0)
                    ;
            if (phase == 2) {
                size_t bytes = 32u * 1024u * 40u;
                uint64_t *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, ks_fd, 0);
                CHECK(m != MAP_FAILED);
                if (m == MAP_FAILED)
                    break;
                for (size_t e = 0; e < bytes / 40; e++)
                    if (m[e * 5] != 0)
                        m[e * 5] += 1ull << 32;
                munmap(m, bytes);
            }
            uint64_t before = counter(C_KS_USED);
            for (int i = 0; i < count[phase]; i++, g++) {
                struct pdm_fields f = {.psntp = (uint16_t)i, .global_pointer = (uint32_t)(7 * i)};
                uint8_t ref[36];

                /* The next key, half a key before it is needed (what
                 * serve() answers; phases 1 and 2 do not serve). */
                if (phase > 0 && g % limit == limit / 2)
                    CHECK_INT(agent_ebpf_keys_install(ek, &s, &t, EBPF_KEYS_TX,
                                                      (uint16_t)(g / limit + 1), 0, 0),
                              0);
                clear_hdr(0x0f, &f, io.hdr);
                io.op = T_SEAL;
                int rv = run(&io);
                if (phase == 0 && i % 50 == 0) /* rotations, the lane's request, refills */
                    while (agent_ebpf_keys_serve(ek, &s, limit, 0) > 0)
                        ;
                if (rv != 0)
                    continue;
                sent[phase]++;
                CHECK_INT(pdm_profile_tx_seal(&tx, &s, &t, &pol, 0, 0x0f, &f, ref, sizeof ref), 36);
                same[phase] += memcmp(io.hdr + 2, ref, 36) == 0;
            }
            used[phase] = counter(C_KS_USED) - before;
        }
        printf("note: lanes %s: sealed %d/%d/%d, from the lane %llu/%llu/%llu\n",
               a == 0 ? "aes-128-gcm" : "aes-256-gcm", sent[0], sent[1], sent[2],
               (unsigned long long)used[0], (unsigned long long)used[1],
               (unsigned long long)used[2]);
        for (int p = 0; p < 3; p++) {
            CHECK_INT(sent[p], count[p]);
            CHECK_INT(same[p], sent[p]);
        }
        CHECK(used[0] >= 1500); /* once given (asked at 256) */
        /* W from the lane, less the rotations' draws (they use the kfunc). */
        CHECK(used[1] >= (uint64_t)W - 5 && used[1] <= (uint64_t)W);
        CHECK_INT(used[2], 0);
        pdm_profile_tx_clear(&tx);
        pdm_profile_secret_wipe(&s);
    }
}

#define C_KS_OPENED 13 /* PDM_V2ENC_C_KS_OPENED */

/* Every entry of the keystream map with a tag: blk[0] flipped (phase 2
 * below), or the tag moved to another generation. */
static int ks_spoil(int fd, int tags)
{
    size_t bytes = 32u * 1024u * 40u;
    uint8_t *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

    if (m == MAP_FAILED)
        return -1;
    for (size_t e = 0; e < bytes / 40; e++) {
        uint64_t tag;

        memcpy(&tag, m + e * 40, 8);
        if (tag == 0)
            continue;
        if (tags) {
            tag += 1ull << 32;
            memcpy(m + e * 40, &tag, 8);
        } else {
            m[e * 40 + 8] ^= 1;
        }
    }
    munmap(m, bytes);
    return 0;
}

/*
 * Receiving lanes (bpf/pdm_v2enc.h v2enc_ksr_take(), ebpf_ks.c rx_fill()):
 * lib seals a peer's options (a rotation every 300), BPF opens them; a
 * busy receiver asks for a lane (at position 256 of a Kri),
 * user space fills it from the position the program found by inverting
 * the peer's RN permutation. Every option opens to the fields lib sealed,
 * whatever the lane holds. Phases: 0, served every 50 options (once
 * given, every option from the lane; a forged copy of every 100th option
 * refused, lane or not); 1, not served: the rest of the Kri and the next
 * one (filled ahead) from the lane, then the kfunc; 2, filled again, then
 * every entry's blocks spoilt under an intact tag: each open retried with
 * the kfunc's blocks, none counted from the lane; 3, every tag moved to
 * another generation: none used.
 */
static void test_rx_lanes(void)
{
    static const uint16_t aeads[2] = {1, 2};
    static const uint8_t salt[32] = {5, 1}, secret[32] = {6, 1};
    static const int count[4] = {3000, 2000, 500, 500};
    int ks_fd = bpf_object__find_map_fd_by_name(obj, "v2enc_ks");
    const uint32_t limit = 300;

#if !defined(__x86_64__)
    SKIP("keystream lanes are x86-64 only");
    return;
#endif
    CHECK(ks_fd >= 0);
    for (int a = 0; a < 2; a++) {
        struct pdm_hpke_suite suite = {0x0020, 0x0001, aeads[a]};
        struct pdm_flow_tuple r = {.sport = 443, .dport = (uint16_t)(6000 + a), .proto = 6};
        struct pdm_profile_policy pol = {.max_packets = (uint16_t)limit};
        struct pdm_profile_secret s;
        struct pdm_profile_tx tx;
        struct v2enc_io io;
        uint64_t used[4] = {0}, g = 0;
        int opened[4] = {0}, forged = 0, refused = 0, first = -1, after = 0;

        r.src[0] = 0xfd;
        r.src[15] = (uint8_t)(0x50 + a);
        r.dst[0] = 0xfd;
        memset(&tx, 0, sizeof tx);
        CHECK_INT(pdm_profile_secret_init(&s, suite, salt, 32, secret, 32), 0);
        CHECK_INT(pdm_profile_tx_start(&tx, &s, &r, 0, 0), 0);
        /* The receiver armed at the peer's Kri 0, the next key too. */
        CHECK_INT(agent_ebpf_keys_install(ek, &s, &r, EBPF_KEYS_RX, 0, EBPF_KEYS_ARM_RX, 0), 0);
        CHECK_INT(agent_ebpf_keys_install(ek, &s, &r, EBPF_KEYS_RX, 1, 0, 0), 0);
        for (int phase = 0; phase < 4; phase++) {
            if (phase >= 2) { /* filled again, then spoilt */
                while (agent_ebpf_keys_serve(ek, &s, limit, 0) > 0)
                    ;
                CHECK_INT(ks_spoil(ks_fd, phase == 3), 0);
            }
            uint64_t before = counter(C_KS_OPENED);
            for (int i = 0; i < count[phase]; i++, g++) {
                struct pdm_fields f = {.psntp = (uint16_t)(3 * i), .delta_tlr = (uint16_t)i};
                uint8_t want[40];

                /* The peer's next key, half a key ahead (what serve()
                 * answers to RX_KEY; phases 1 to 3 do not serve). */
                if (phase > 0 && g % limit == limit / 2)
                    CHECK_INT(agent_ebpf_keys_install(ek, &s, &r, EBPF_KEYS_RX,
                                                      (uint16_t)(g / limit + 1), 0, 0),
                              0);
                memset(&io, 0, sizeof io);
                key_of(&r, 0, &io.flow);
                io.op = T_OPEN;
                CHECK_INT(pdm_profile_tx_seal(&tx, &s, &r, &pol, 0, 0x0f, &f, io.opt, 36), 36);
                if (phase == 0 && i % 100 == 99) {
                    struct v2enc_io bad = io;

                    bad.opt[6 + (i / 100) % 30] ^= 0x40; /* ciphertext or tag */
                    forged++;
                    refused += run(&bad) == C_RX_AUTH_FAILED && bad.clear[0] == 0;
                }
                uint64_t c0 = phase == 0 ? counter(C_KS_OPENED) : 0;
                int rv = run(&io);
                if (phase == 0 && counter(C_KS_OPENED) > c0) {
                    if (first < 0)
                        first = i;
                    after++;
                }
                if (phase == 0 && i % 50 == 0) /* rotations, the lane's request, refills */
                    while (agent_ebpf_keys_serve(ek, &s, limit, 0) > 0)
                        ;
                clear_hdr(0x0f, &f, want);
                memcpy(want + 2 + 4, io.opt + 4, 2);
                opened[phase] += rv == 0 && memcmp(io.clear, want + 2, 20) == 0;
            }
            used[phase] = counter(C_KS_OPENED) - before;
        }
        printf("note: rx lanes %s: opened %d/%d/%d/%d, from the lane %llu/%llu/%llu/%llu (the "
               "first at option %d), forged refused %d/%d\n",
               a == 0 ? "aes-128-gcm" : "aes-256-gcm", opened[0], opened[1], opened[2], opened[3],
               (unsigned long long)used[0], (unsigned long long)used[1],
               (unsigned long long)used[2], (unsigned long long)used[3], first, refused, forged);
        for (int p = 0; p < 4; p++)
            CHECK_INT(opened[p], count[p]);
        CHECK_INT(refused, forged);
        /* Asked at position 256 (or sooner, at an RN = 256 mod 1024),
         * given at the next serve; from then on every option from it. */
        CHECK(first >= 0 && first <= 301);
        CHECK_INT(after, count[0] - first);
        CHECK_INT(used[0], (uint64_t)after);
        /* The rest of a 300-option Kri and all of the next one: one
         * Kri's worth at least, less than two. */
        CHECK(used[1] >= limit && used[1] < 2 * limit);
        CHECK_INT(used[2], 0);
        CHECK_INT(used[3], 0);
        pdm_profile_tx_clear(&tx);
        pdm_profile_secret_wipe(&s);
    }
}

int main(void)
{
#ifdef PDM_HAVE_LIBBPF
    h_test = "test_bpf_v2enc";
    if (setup()) {
        RUN(test_vectors);
        RUN(test_sender);
        RUN(test_random);
        RUN(test_budget);
        RUN(test_gc);
        RUN(test_lanes);
        RUN(test_rx_lanes);
    }
    agent_ebpf_keys_stop(ek);
    bpf_object__close(obj);
#else
    h_test = "test_bpf_v2enc";
    SKIP("built without libbpf (libbpf-dev)");
#endif
    return harness_done();
}
