/*
 * Flow keys derived in BPF (bpf/kdf.h through bpf/test_kdf.bpf.c and
 * BPF_PROG_TEST_RUN) from the per-secret HMAC states of
 * tools/agent/ebpf_kdf.c, byte for byte against lib's HKDF
 * (pdm_profile_derive and the "pdmv2 rn" LabeledExpand of lib/profile.c):
 *  - the C model of the derivation from the states (agent_ebpf_kdf_expand)
 *    on every option vector of the profile (STK, BaseNonce) and on random
 *    secrets of every KEM x KDF x AEAD suite and random flows (STK,
 *    BaseNonce, RN key): runs without BPF;
 *  - the BPF program on the same: vectors, random secrets and flows
 *    (two thirds with the flow built in BPF by pdm_kdf_flow_info, half
 *    of those in the scratch map's io as bpf/kdf.h shows), the
 *    receiver's variant without the RN key, an empty slot refused, and
 *    the object loading at all with a 432-byte caller frame;
 *  - a new flow direction's first option sealed in BPF with nothing per
 *    flow from user space (keys from bpf/kdf.h, AES-GCM through
 *    bpf/aes_soft.h, ChaCha20-Poly1305 keyed with STK) equal byte for byte
 *    to lib's first pdm_profile_tx_seal(), every KDF x AEAD.
 * The BPF part SKIPs without root, libbpf or the object.
 */
#include <arpa/inet.h>
#include <limits.h>
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

#include "../tools/agent/ebpf_kdf.h"

#ifdef PDM_HAVE_LIBBPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#endif

#define VECTORS  "tests/vectors/pdmv2-profile-vectors.json"
#define RANDOM_N 240 /* random (secret, flow) pairs per part */

static const uint16_t kems[4] = {0x0010, 0x0011, 0x0012, 0x0020};
static uint64_t rng;

static uint64_t rnd(void)
{
    /* xorshift64*: reproducible from the seed printed at the start. */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Dull;
}

static void rnd_bytes(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(rnd() >> 56);
}

/* Suite i of the 36 KEM x KDF x AEAD ones, a random salt and secret. */
static int rnd_secret(int i, struct pdm_profile_secret *s)
{
    struct pdm_hpke_suite suite = {kems[i % 4], (uint16_t)(1 + i / 4 % 3),
                                   (uint16_t)(1 + i / 12 % 3)};
    static const size_t nh[4] = {0, 32, 48, 64};
    uint8_t salt[32], sec[64];

    rnd_bytes(salt, sizeof salt);
    rnd_bytes(sec, sizeof sec);
    return pdm_profile_secret_init(s, suite, salt, sizeof salt, sec, nh[suite.kdf_id]);
}

static void rnd_tuple(struct pdm_flow_tuple *t, uint16_t *kri)
{
    static const uint8_t protos[8] = {6, 17, 58, 132, 33, 136, 0, 59};

    rnd_bytes(t->src, 16);
    rnd_bytes(t->dst, 16);
    t->sport = (uint16_t)rnd();
    t->dport = (uint16_t)rnd();
    t->proto = protos[rnd() % 8];
    *kri = (uint16_t)rnd();
}

/* lib's three values of a flow direction (the reference). */
struct want {
    uint8_t stk[32], nonce[12], rn[16];
};

static int lib_derive(const struct pdm_profile_secret *s, const struct pdm_flow_tuple *t,
                      uint16_t kri, struct want *w)
{
    uint8_t info[PDM_PROFILE_FLOW_INFO_SIZE];

    memset(w, 0, sizeof *w);
    pdm_profile_flow_info(t, kri, info);
    if (pdm_profile_derive(s, t, kri, w->stk, s->nk, w->nonce, s->nn) != 0)
        return -1;
    return pdm_hpke_labeled_expand(s->suite, s->prk, s->nh, "pdmv2 rn", info, sizeof info, w->rn,
                                   sizeof w->rn);
}

static int vec_tuple(const json_t *o, struct pdm_flow_tuple *t, uint16_t *kri)
{
    uint64_t sp = 0, dp = 0, pr = 0, k = 0;

    memset(t, 0, sizeof *t);
    if (vec_u64(o, "sport", &sp) != 0 || vec_u64(o, "dport", &dp) != 0 ||
        vec_u64(o, "protocol", &pr) != 0 || vec_u64(o, "kri", &k) != 0)
        return -1;
    t->sport = (uint16_t)sp;
    t->dport = (uint16_t)dp;
    t->proto = (uint8_t)pr;
    *kri = (uint16_t)k;
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

/* The C model's three values from the states. */
static int model(const struct pdm_kdf_secret *k, const uint8_t *info, struct want *w)
{
    memset(w, 0, sizeof *w);
    if (agent_ebpf_kdf_expand(k, "pdmv2 key", info, PDM_PROFILE_FLOW_INFO_SIZE, w->stk, k->nk) ||
        agent_ebpf_kdf_expand(k, "pdmv2 nonce", info, PDM_PROFILE_FLOW_INFO_SIZE, w->nonce, 12) ||
        agent_ebpf_kdf_expand(k, "pdmv2 rn", info, PDM_PROFILE_FLOW_INFO_SIZE, w->rn, 16))
        return -1;
    return 0;
}

static void test_model_vectors(void)
{
    json_t *doc = vec_load(VECTORS), *o;
    int n = 0, kdfs = 0, aeads = 0;
    size_t idx;

    CHECK(doc != NULL);
    if (doc == NULL)
        return;
    json_array_foreach(json_object_get(doc, "options"), idx, o)
    {
        uint8_t info[PDM_PROFILE_FLOW_INFO_SIZE];
        struct pdm_profile_secret s;
        struct pdm_kdf_secret k;
        struct pdm_flow_tuple t;
        struct want w;
        uint16_t kri;

        if (vec_tuple(o, &t, &kri) != 0 || vec_secret(o, &s) != 0) {
            CHECK(!"vector fields");
            continue;
        }
        pdm_profile_flow_info(&t, kri, info);
        CHECK_FIELD(o, "flow_info", info, sizeof info);
        CHECK_INT(agent_ebpf_kdf_secret(&k, &s), 0);
        CHECK_INT(model(&k, info, &w), 0);
        CHECK_FIELD(o, "stk", w.stk, s.nk);
        CHECK_FIELD(o, "base_nonce", w.nonce, s.nn);
        kdfs |= 1 << s.suite.kdf_id;
        aeads |= 1 << s.suite.aead_id;
        agent_ebpf_kdf_wipe(&k);
        pdm_profile_secret_wipe(&s);
        n++;
    }
    CHECK_INT(n, 12);
    CHECK_INT(kdfs, 0xE); /* HKDF-SHA256, -384, -512 all among the vectors */
    CHECK_INT(aeads, 0xE);
    json_decref(doc);
}

static void test_model_random(void)
{
    int same = 0;

    for (int i = 0; i < RANDOM_N; i++) {
        uint8_t info[PDM_PROFILE_FLOW_INFO_SIZE];
        struct pdm_profile_secret s;
        struct pdm_flow_tuple t;
        struct pdm_kdf_secret k;
        struct want w, m;
        uint16_t kri;

        rnd_tuple(&t, &kri);
        if (rnd_secret(i, &s) != 0 || lib_derive(&s, &t, kri, &w) != 0 ||
            agent_ebpf_kdf_secret(&k, &s) != 0)
            break;
        pdm_profile_flow_info(&t, kri, info);
        same += model(&k, info, &m) == 0 && memcmp(&m, &w, sizeof m) == 0;
        pdm_profile_secret_wipe(&s);
    }
    CHECK_INT(same, RANDOM_N);

    /* What the states refuse. */
    struct pdm_profile_secret z;
    struct pdm_kdf_secret k;
    memset(&z, 0, sizeof z);
    CHECK_INT(agent_ebpf_kdf_secret(&k, &z), PDM_ERR_INVAL);
    CHECK_INT(k.kdf, 0);
    CHECK_INT(agent_ebpf_kdf_secret(&k, NULL), PDM_ERR_INVAL);
}

#ifdef PDM_HAVE_LIBBPF

struct kdf_test_io { /* bpf/test_kdf.bpf.c */
    uint32_t slot, op;
    int32_t rv;
    uint32_t pad;
    struct pdm_kdf_io io;
    uint8_t src[16], dst[16];
    uint16_t sport, dport, kri;
    uint8_t proto, pad2;
};
_Static_assert(sizeof(struct kdf_test_io) == 156, "layout of struct kdf_test_io");
_Static_assert(sizeof(struct pdm_kdf_secret) == 144, "layout of struct pdm_kdf_secret");

#define T_DERIVE  0
#define T_NO_RN   1
#define T_DEEP    3
#define T_FLOW    4
#define T_SCRATCH 5

struct kdf_seal_io { /* bpf/test_kdf.bpf.c */
    uint32_t slot, suite;
    int32_t rv;
    uint16_t kri;
    uint8_t type, proto;
    uint8_t src[16], dst[16];
    uint16_t sport, dport;
    uint8_t pt[14];
    uint8_t opt[36];
};
_Static_assert(sizeof(struct kdf_seal_io) == 104, "layout of struct kdf_seal_io");

static struct bpf_object *obj;
static int run_fd = -1, io_fd = -1, sec_fd = -1, seal_fd = -1, seal_io_fd = -1;

static int run(struct kdf_test_io *io)
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

static int put_secret(uint32_t slot, const struct pdm_profile_secret *s)
{
    struct pdm_kdf_secret k;
    int rv = agent_ebpf_kdf_secret(&k, s);

    if (rv == 0)
        rv = bpf_map_update_elem(sec_fd, &slot, &k, BPF_ANY);
    agent_ebpf_kdf_wipe(&k);
    return rv;
}

/* BPF's three values of t at kri under the secret in slot (op T_DERIVE,
 * T_FLOW, T_SCRATCH or T_DEEP); the flow BPF used must be lib's. */
static int bpf_derive(uint32_t slot, uint32_t op, const struct pdm_flow_tuple *t, uint16_t kri,
                      struct want *w)
{
    struct kdf_test_io io;
    uint8_t info[PDM_PROFILE_FLOW_INFO_SIZE];

    memset(&io, 0, sizeof io);
    io.slot = slot;
    io.op = op;
    pdm_profile_flow_info(t, kri, info);
    if (op == T_FLOW || op == T_SCRATCH) {
        memcpy(io.src, t->src, 16);
        memcpy(io.dst, t->dst, 16);
        io.sport = t->sport;
        io.dport = t->dport;
        io.proto = t->proto;
        io.kri = kri;
    } else {
        memcpy(io.io.flow, info, sizeof info);
    }
    if (run(&io) != 0 || memcmp(io.io.flow, info, sizeof info) != 0)
        return -1;
    memcpy(w->stk, io.io.stk, sizeof w->stk);
    memcpy(w->nonce, io.io.base_nonce, sizeof w->nonce);
    memcpy(w->rn, io.io.rn_key, sizeof w->rn);
    return 0;
}

static void test_bpf_vectors(void)
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
        struct pdm_flow_tuple t;
        struct want w, ref;
        uint16_t kri;

        if (vec_tuple(o, &t, &kri) != 0 || vec_secret(o, &s) != 0) {
            CHECK(!"vector fields");
            continue;
        }
        CHECK_INT(put_secret(1, &s), 0);
        CHECK_INT(bpf_derive(1, idx % 2 ? T_FLOW : T_DERIVE, &t, kri, &w), 0);
        CHECK_FIELD(o, "stk", w.stk, s.nk);
        CHECK_FIELD(o, "base_nonce", w.nonce, s.nn);
        CHECK_INT(lib_derive(&s, &t, kri, &ref), 0);
        CHECK_MEM(&w, &ref, sizeof w); /* the RN key too, and zeros after a 16-byte STK */
        pdm_profile_secret_wipe(&s);
        n++;
    }
    CHECK_INT(n, 12);
    json_decref(doc);
}

static void test_bpf_random(void)
{
    static const uint32_t ops[3] = {T_DERIVE, T_FLOW, T_SCRATCH};
    int same = 0, tried = 0;

    for (int i = 0; i < RANDOM_N; i++) {
        struct pdm_profile_secret s;
        struct pdm_flow_tuple t;
        struct want w, ref;
        uint16_t kri;
        uint32_t slot = (uint32_t)(i % 8);

        rnd_tuple(&t, &kri);
        if (rnd_secret(i, &s) != 0 || lib_derive(&s, &t, kri, &ref) != 0 ||
            put_secret(slot, &s) != 0)
            break;
        tried++;
        same += bpf_derive(slot, ops[i % 3], &t, kri, &w) == 0 && memcmp(&w, &ref, sizeof w) == 0;
        pdm_profile_secret_wipe(&s);
    }
    CHECK_INT(tried, RANDOM_N);
    CHECK_INT(same, RANDOM_N);
}

/* The receiver's variant leaves rn_key alone; an empty slot is refused;
 * the 432-byte caller frame gives the same keys. */
static void test_bpf_edges(void)
{
    static const uint8_t salt[32] = {1}, secret[64] = {2};
    struct pdm_hpke_suite suite = {0x0020, 0x0003, 0x0003};
    struct pdm_profile_secret s;
    struct pdm_flow_tuple t = {.sport = 443, .dport = 40000, .proto = 6};
    struct kdf_test_io io;
    struct want ref, deep;
    uint8_t ff[16];

    t.src[0] = 0xfd;
    t.dst[15] = 1;
    CHECK_INT(pdm_profile_secret_init(&s, suite, salt, 32, secret, 64), 0);
    CHECK_INT(lib_derive(&s, &t, 7, &ref), 0);
    CHECK_INT(put_secret(2, &s), 0);

    memset(&io, 0, sizeof io);
    io.slot = 2;
    io.op = T_NO_RN;
    pdm_profile_flow_info(&t, 7, io.io.flow);
    memset(io.io.rn_key, 0xFF, sizeof io.io.rn_key);
    memset(ff, 0xFF, sizeof ff);
    CHECK_INT(run(&io), 0);
    CHECK_MEM(io.io.stk, ref.stk, 32);
    CHECK_MEM(io.io.base_nonce, ref.nonce, 12);
    CHECK_MEM(io.io.rn_key, ff, 16);

    CHECK_INT(bpf_derive(2, T_DEEP, &t, 7, &deep), 0);
    CHECK_MEM(&deep, &ref, sizeof deep);

    io.slot = 12; /* never written: all zero, kdf 0 */
    io.op = T_DERIVE;
    CHECK_INT(run(&io), -PDM_KDF_EINVAL);
    pdm_profile_secret_wipe(&s);
}

/* A new flow direction's first option sealed in BPF from the per-secret
 * states alone (keys derived, slot keyed, AES in software) against lib's
 * first pdm_profile_tx_seal(), per KDF x AEAD, random flows and fields. */
static void test_bpf_first_option(void)
{
    int same = 0, n = 0;

    for (int i = 0; i < 9 * 8; i++) {
        struct pdm_hpke_suite suite = {0x0020, (uint16_t)(1 + i % 3), (uint16_t)(1 + i / 3 % 3)};
        static const size_t nh[4] = {0, 32, 48, 64};
        struct pdm_profile_policy pol = {0};
        struct pdm_profile_secret s;
        struct pdm_profile_tx tx;
        struct pdm_flow_tuple t;
        struct kdf_seal_io io;
        struct pdm_fields f;
        uint8_t salt[32], sec[64], ref[36], *p;
        uint32_t zero = 0;
        uint16_t kri;

        rnd_bytes(salt, sizeof salt);
        rnd_bytes(sec, sizeof sec);
        rnd_tuple(&t, &kri);
        if (pdm_profile_secret_init(&s, suite, salt, 32, sec, nh[suite.kdf_id]) != 0 ||
            put_secret(4, &s) != 0)
            break;
        memset(&f, 0, sizeof f);
        f.scale_dtlr = (uint8_t)rnd();
        f.scale_dtls = (uint8_t)rnd();
        f.global_pointer = (uint32_t)rnd();
        f.psntp = (uint16_t)rnd();
        f.psnlr = (uint16_t)rnd();
        f.delta_tlr = (uint16_t)rnd();
        f.delta_tls = (uint16_t)rnd();
        memset(&io, 0, sizeof io);
        io.slot = 4;
        io.suite = suite.aead_id;
        io.kri = kri;
        io.type = 0x0f;
        io.proto = t.proto;
        memcpy(io.src, t.src, 16);
        memcpy(io.dst, t.dst, 16);
        io.sport = t.sport;
        io.dport = t.dport;
        p = pdm_put_u8(io.pt, f.scale_dtlr);
        p = pdm_put_u8(p, f.scale_dtls);
        p = pdm_put_u32be(p, f.global_pointer);
        p = pdm_put_u16be(p, f.psntp);
        p = pdm_put_u16be(p, f.psnlr);
        p = pdm_put_u16be(p, f.delta_tlr);
        (void)pdm_put_u16be(p, f.delta_tls);
        io.rv = INT_MIN;

        uint8_t pkt[64] = {0};
        pkt[12] = 0x86;
        pkt[13] = 0xdd;
        LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof pkt);
        memset(&tx, 0, sizeof tx);
        n++;
        if (bpf_map_update_elem(seal_io_fd, &zero, &io, BPF_ANY) == 0 &&
            bpf_prog_test_run_opts(seal_fd, &o) == 0 &&
            bpf_map_lookup_elem(seal_io_fd, &zero, &io) == 0 && io.rv == 0 &&
            pdm_profile_tx_start(&tx, &s, &t, kri, 0) == 0 &&
            pdm_profile_tx_seal(&tx, &s, &t, &pol, 0, 0x0f, &f, ref, sizeof ref) == 36)
            same += memcmp(io.opt, ref, 36) == 0;
        else
            fprintf(stderr, "first option %d: rv %d\n", i, io.rv);
        pdm_profile_tx_clear(&tx);
        pdm_profile_secret_wipe(&s);
    }
    CHECK_INT(n, 72);
    CHECK_INT(same, 72);
}

static int setup(void)
{
    char path[PATH_MAX + 64], exe[PATH_MAX];
    const char *env = getenv("PDM_BPF_KDF_OBJ");
    ssize_t n;
    char *slash;
    int rv;

    if (geteuid() != 0) {
        SKIP("needs root (BPF_PROG_TEST_RUN of a tc program)");
        return 0;
    }
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    if ((slash = strrchr(exe, '/')) != NULL)
        *slash = '\0';
    snprintf(path, sizeof path, "%s%s", env ? env : exe, env ? "" : "/../bpf-kdf/test_kdf.bpf.o");
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
    run_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "kdf_run"));
    io_fd = bpf_object__find_map_fd_by_name(obj, "kdf_io");
    sec_fd = bpf_object__find_map_fd_by_name(obj, "kdf_secrets");
    seal_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "kdf_seal"));
    seal_io_fd = bpf_object__find_map_fd_by_name(obj, "kdf_seal_io");
    return run_fd >= 0 && io_fd >= 0 && sec_fd >= 0 && seal_fd >= 0 && seal_io_fd >= 0;
}
#endif

int main(void)
{
    const char *seed = getenv("PDM_TEST_SEED");

    rng = seed ? strtoull(seed, NULL, 0) : (uint64_t)time(NULL);
    rng |= 1;
    printf("test_bpf_kdf: PDM_TEST_SEED=%llu\n", (unsigned long long)rng);
    h_test = "test_model_vectors";
    RUN(test_model_vectors);
    RUN(test_model_random);
#ifdef PDM_HAVE_LIBBPF
    h_test = "test_bpf_kdf";
    if (setup()) {
        RUN(test_bpf_vectors);
        RUN(test_bpf_random);
        RUN(test_bpf_edges);
        RUN(test_bpf_first_option);
    }
    bpf_object__close(obj);
#else
    h_test = "test_bpf_kdf";
    SKIP("built without libbpf (libbpf-dev)");
#endif
    return harness_done();
}
