/*
 * Software AES in BPF (bpf/aes_soft.h, through bpf/test_aes_soft.bpf.c and
 * BPF_PROG_TEST_RUN): FIPS-197's key expansion and cipher vectors for
 * AES-128 and AES-256, agreement with OpenSSL on random keys and blocks,
 * the GHASH table built in BPF against user space's, and whole options
 * sealed in BPF from nothing but STK (schedule, H and table in BPF, then
 * aead.h's tag code) equal to the profile vectors and to lib's
 * pdm_profile_seal on random flows, opened back, tampering refused; and
 * the software blocks equal to the kfunc path's; and the same for the
 * fixed-time variant (PDM_AES_SOFT_FIXED_TIME, a second object). SKIPs
 * without root,
 * libbpf at build time, the object (no BPF toolchain) or the kernel's
 * BPF crypto kfuncs (the object's key slots are aead.h's, which carry
 * the crypto context kptr).
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "vectors.h"

#include "crypto.h"
#include "pdm/codec.h"
#include "pdm/profile.h"

#include "../tools/agent/ebpf_kdf.h"

#ifdef PDM_HAVE_LIBBPF
#include "../bpf/aes_soft_user.h"

#define VECTORS "tests/vectors/pdmv2-profile-vectors.json"

static struct aes_soft_user U;
static int U_ok;

/* The variant under test (each runs every test) and the test's name with it. */
static const char *V_name, *V_file;
static char V_test[96];
#define RUN_V(fn)                                                                                  \
    do {                                                                                           \
        snprintf(V_test, sizeof V_test, "%s/%s", #fn, V_name);                                     \
        h_test = V_test;                                                                           \
        fn();                                                                                      \
    } while (0)

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static void rng_fill(uint64_t *s, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rng_next(s);
}

/* One op on io; the program's rv, or INT_MIN when the run failed. */
static int op(struct aes_soft_user_io *io, uint32_t code)
{
    io->op = code;
    io->rv = INT_MIN;
    if (aes_soft_user_run(&U, io, 1, NULL) != 0)
        return INT_MIN;
    return io->rv;
}

/* n blocks of in under key with OpenSSL (ECB). 0 or -1. */
static int ossl_ecb(const uint8_t *key, size_t key_len, const uint8_t *in, size_t n, uint8_t *out)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0, ok;

    if (c == NULL)
        return -1;
    ok = EVP_EncryptInit_ex(c, key_len == 16 ? EVP_aes_128_ecb() : EVP_aes_256_ecb(), NULL, key,
                            NULL) == 1 &&
         EVP_CIPHER_CTX_set_padding(c, 0) == 1 &&
         EVP_EncryptUpdate(c, out, &len, in, (int)(16 * n)) == 1 && len == (int)(16 * n);
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -1;
}

static void unhex(uint8_t *out, size_t n, const char *hex)
{
    long got = h_unhex(out, n, hex);
    assert(got == (long)n);
    (void)got;
}

/* FIPS-197 Appendix A (schedules: first derived word and last word) and
 * Appendix C (cipher) for AES-128 and AES-256, Appendix B's example. */
static void test_fips197(void)
{
    static const struct {
        const char *key, *pt, *ct;
        uint32_t w_first, w_last; /* w[Nk], w[4 * (Nr + 1) - 1] */
        int a_key;                /* the schedule is Appendix A's */
    } v[] = {
        {"000102030405060708090a0b0c0d0e0f", "00112233445566778899aabbccddeeff",
         "69c4e0d86a7b0430d8cdb78070b4c55a", 0, 0, 0},
        {"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
         "00112233445566778899aabbccddeeff", "8ea2b7ca516745bfeafc49904b496089", 0, 0, 0},
        {"2b7e151628aed2a6abf7158809cf4f3c", "3243f6a8885a308d313198a2e0370734",
         "3925841d02dc09fbdc118597196a0b32", 0xa0fafe17, 0xb6630ca6, 1},
        {"603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
         "3243f6a8885a308d313198a2e0370734", NULL, 0x9ba35411, 0x706c631e, 1},
    };

    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        struct aes_soft_user_io io;
        struct aes_soft_user_slot sl;
        size_t klen = strlen(v[i].key) / 2;
        uint8_t ct[16], ref[16];
        int nr = klen == 16 ? 10 : 14;

        memset(&io, 0, sizeof io);
        io.slot = 1;
        io.key_len = (uint32_t)klen;
        unhex(io.key, klen, v[i].key);
        unhex(io.in, 16, v[i].pt);
        CHECK_INT(op(&io, AES_SOFT_OP_EXPAND), 0);
        CHECK_INT(aes_soft_user_get(&U, 1, &sl), 0);
        CHECK_INT((int)sl.rounds, nr);
        if (v[i].a_key) {
            CHECK_INT(sl.rk[klen / 4], v[i].w_first);
            CHECK_INT(sl.rk[4 * (nr + 1) - 1], v[i].w_last);
        }
        io.n = 1;
        CHECK_INT(op(&io, AES_SOFT_OP_ENCRYPT), 0);
        CHECK(ossl_ecb(io.key, klen, io.in, 1, ref) == 0);
        CHECK_MEM(io.out, ref, 16);
        if (v[i].ct != NULL) {
            unhex(ct, 16, v[i].ct);
            CHECK_MEM(io.out, ct, 16);
        }
    }
}

/* Only 16 and 32 byte keys; no schedule, no block (never a zero key). */
static void test_refusals(void)
{
    struct aes_soft_user_io io;
    struct aes_soft_user_slot sl;

    memset(&io, 0, sizeof io);
    io.slot = 2;
    io.key_len = 24;
    memset(io.out, 0xA5, sizeof io.out);
    CHECK_INT(op(&io, AES_SOFT_OP_EXPAND), -4);
    CHECK_INT(aes_soft_user_get(&U, 2, &sl), 0);
    CHECK_INT((int)sl.rounds, 0);
    io.n = 1;
    CHECK_INT(op(&io, AES_SOFT_OP_ENCRYPT), -2);
    CHECK_INT(op(&io, AES_SOFT_OP_BLOCKS), -2);
    CHECK_INT(op(&io, AES_SOFT_OP_GHASH), -2);
    CHECK_INT(op(&io, AES_SOFT_OP_SEAL), -2);
    io.suite = 3; /* ChaCha20 is not AES */
    CHECK_INT(op(&io, AES_SOFT_OP_KEY_SLOT), -4);

    /* A schedule that is not the suite's key size never seals. */
    CHECK_INT(aes_soft_user_clear(&U, 2), 0);
    io.suite = 2;
    CHECK_INT(op(&io, AES_SOFT_OP_KEY_SLOT), 0);
    io.key_len = 16;
    CHECK_INT(op(&io, AES_SOFT_OP_EXPAND), 0);
    CHECK_INT(op(&io, AES_SOFT_OP_SEAL), -2);
}

/* Random keys and blocks (fixed seed): blocks equal OpenSSL's, the
 * GHASH table equals user space's (OpenSSL's H), GCM's two blocks equal
 * OpenSSL's encryptions of J0 and inc32(J0). */
static void test_random(void)
{
    uint64_t seed = 0x6165732d736f6674u;

    for (int ks = 0; ks < 2; ks++) {
        size_t klen = ks ? 32 : 16;
        int blocks_ok = 0, table_ok = 0, gcm_ok = 0, rounds = 128;

        for (int r = 0; r < rounds; r++) {
            struct aes_soft_user_io io;
            struct aes_soft_user_slot sl;
            uint64_t table[16][2];
            uint8_t ref[64], h[16], j0[32];
            uint32_t slot = (uint32_t)(r % 8);

            memset(&io, 0, sizeof io);
            io.slot = slot;
            io.key_len = (uint32_t)klen;
            io.n = 4;
            rng_fill(&seed, io.key, klen);
            rng_fill(&seed, io.in, sizeof io.in);
            rng_fill(&seed, io.nonce, sizeof io.nonce);
            if (op(&io, AES_SOFT_OP_EXPAND) != 0 || op(&io, AES_SOFT_OP_ENCRYPT) != 0 ||
                ossl_ecb(io.key, klen, io.in, 4, ref) != 0)
                continue;
            blocks_ok += memcmp(io.out, ref, 64) == 0;

            if (op(&io, AES_SOFT_OP_GHASH) == 0 && aes_soft_user_get(&U, slot, &sl) == 0 &&
                aead_user_hash_key(io.key, klen, h) == 0) {
                aead_user_htable(h, table);
                table_ok += memcmp(sl.aead.ghash, table, sizeof table) == 0;
            }
            memset(j0, 0, sizeof j0);
            memcpy(j0, io.nonce, 12);
            memcpy(j0 + 16, io.nonce, 12);
            j0[15] = 1;
            j0[31] = 2;
            if (op(&io, AES_SOFT_OP_BLOCKS) == 0 && ossl_ecb(io.key, klen, j0, 2, ref) == 0)
                gcm_ok += memcmp(io.out, ref, 32) == 0;
        }
        CHECK_INT(blocks_ok, rounds);
        CHECK_INT(table_ok, rounds);
        CHECK_INT(gcm_ok, rounds);
    }
}

static uint64_t field(const json_t *f, const char *key)
{
    uint64_t v = 0;
    CHECK(vec_u64(f, key, &v) == 0);
    return v;
}

static void vec_plaintext(const json_t *f, uint8_t pt[static 14])
{
    struct pdm_fields fl = {
        .scale_dtlr = (uint8_t)field(f, "scale_dtlr"),
        .scale_dtls = (uint8_t)field(f, "scale_dtls"),
        .global_pointer = (uint32_t)field(f, "global_pointer"),
        .psntp = (uint16_t)field(f, "psntp"),
        .psnlr = (uint16_t)field(f, "psnlr"),
        .delta_tlr = (uint16_t)field(f, "delta_tlr"),
        .delta_tls = (uint16_t)field(f, "delta_tls"),
    };
    pdm_fields_pack(pt, &fl);
}

/* Opens io->opt; a flipped bit in each of its 36 bytes is refused with
 * nothing released. Returns how many of the 36 were refused. */
static int tamper_refused(struct aes_soft_user_io *io)
{
    uint8_t good[36];
    int refused = 0;

    memcpy(good, io->opt, 36);
    for (int i = 0; i < 36; i++) {
        int ok = 1;

        memcpy(io->opt, good, 36);
        io->opt[i] ^= (uint8_t)(1u << (i % 8));
        memset(io->out, 0xA5, sizeof io->out);
        ok = op(io, AES_SOFT_OP_OPT_OPEN) == -1;
        for (int j = 0; j < 14; j++)
            ok &= io->out[j] == 0xA5;
        refused += ok;
    }
    memcpy(io->opt, good, 36);
    return refused;
}

/* Every AES option vector, sealed in BPF from STK alone (schedule, H and
 * GHASH table computed in BPF in the same run as the seal): the vector's
 * 36 bytes; opened back; tampering refused. */
static void test_vectors(void)
{
    json_t *doc = vec_load(VECTORS), *opts, *o;
    size_t idx;
    int n128 = 0, n256 = 0;

    CHECK(doc != NULL);
    if (doc == NULL)
        return;
    opts = json_object_get(doc, "options");
    json_array_foreach(opts, idx, o)
    {
        const char *suite = json_string_value(json_object_get(o, "suite"));
        uint8_t stk[32], opt[36];
        struct aes_soft_user_io io;
        uint64_t kri = 0, rn = 0;
        unsigned aead = 0;
        long klen;

        CHECK(suite != NULL && sscanf(suite, "%*4x-%*4x-%4x", &aead) == 1);
        if (aead != 1 && aead != 2)
            continue;
        memset(&io, 0, sizeof io);
        klen = get_hex(o, "stk", stk, sizeof stk);
        if (klen != (aead == 1 ? 16 : 32) ||
            get_hex(o, "base_nonce", io.mat.base_nonce, 12) != 12 ||
            get_hex(o, "encrypted_option", opt, sizeof opt) != 36 || vec_u64(o, "kri", &kri) != 0 ||
            vec_u64(o, "rn", &rn) != 0) {
            CHECK(!"vector fields");
            continue;
        }
        vec_plaintext(json_object_get(o, "fields"), io.in);
        memcpy(io.key, stk, (size_t)klen);
        io.slot = 3;
        io.suite = aead;
        io.type = opt[0];
        io.rn = (uint16_t)rn;
        io.mat.kri = (uint16_t)kri;
        CHECK_INT(aes_soft_user_clear(&U, 3), 0);
        CHECK_INT(op(&io, AES_SOFT_OP_KEY_OPT), 0);
        CHECK_MEM(io.opt, opt, 36);
        memset(io.out, 0xA5, sizeof io.out);
        CHECK_INT(op(&io, AES_SOFT_OP_OPT_OPEN), 0);
        CHECK_MEM(io.out, io.in, 14);
        CHECK_INT(tamper_refused(&io), 36);
        n128 += aead == 1;
        n256 += aead == 2;
    }
    CHECK(n128 >= 1);
    CHECK(n256 >= 1);
    json_decref(doc);
}

/* Random flows, Kri and RNs under both AES suites: the option BPF seals
 * from lib's STK (pdm_profile_derive) equals lib's pdm_profile_seal
 * byte for byte, and BPF opens lib's option to its fields; plus the raw
 * AEAD (random nonce and AAD) equal to lib's pdm_aead seal. */
static void test_lib(void)
{
    static const uint16_t aeads[2] = {1, 2};
    uint64_t seed = 0x6c69622d67636d00u;

    for (int a = 0; a < 2; a++) {
        struct pdm_hpke_suite suite = {0x0020, 0x0001, aeads[a]};
        const struct pdm_aead_alg *alg = pdm_aead_find(aeads[a]);
        int same = 0, opened = 0, raw = 0, rounds = 48;
        size_t klen = aeads[a] == 1 ? 16 : 32;

        CHECK(alg != NULL);
        for (int r = 0; r < rounds && alg != NULL; r++) {
            uint8_t salt[32], secret[32], ref[36], pt[14], rawref[30];
            struct pdm_profile_secret s;
            struct pdm_profile_key k;
            struct pdm_flow_tuple t;
            struct pdm_fields fl;
            struct aes_soft_user_io io;
            struct pdm_aead_ctx *ctx = NULL;
            uint16_t kri = (uint16_t)rng_next(&seed);
            uint16_t rn = (uint16_t)(1 + rng_next(&seed) % 32767);

            rng_fill(&seed, salt, sizeof salt);
            rng_fill(&seed, secret, sizeof secret);
            rng_fill(&seed, (uint8_t *)&t, sizeof t);
            rng_fill(&seed, (uint8_t *)&fl, sizeof fl);
            memset(&io, 0, sizeof io);
            if (pdm_profile_secret_init(&s, suite, salt, sizeof salt, secret, sizeof secret) != 0)
                continue;
            if (pdm_profile_derive(&s, &t, kri, io.key, klen, io.mat.base_nonce, 12) != 0 ||
                pdm_profile_key_init(&k, &s, &t, kri) != 0) {
                pdm_profile_secret_wipe(&s);
                continue;
            }
            if (pdm_profile_seal(&k, 0x0f, rn, &fl, ref, sizeof ref) == 36) {
                io.slot = (uint32_t)(r % 8);
                io.suite = aeads[a];
                io.type = 0x0f;
                io.rn = rn;
                io.mat.kri = kri;
                pdm_fields_pack(io.in, &fl);
                CHECK_INT(aes_soft_user_clear(&U, io.slot), 0);
                same += op(&io, AES_SOFT_OP_KEY_OPT) == 0 && memcmp(io.opt, ref, 36) == 0;
                memcpy(io.opt, ref, 36);
                memcpy(pt, io.in, 14);
                memset(io.out, 0xA5, sizeof io.out);
                opened += op(&io, AES_SOFT_OP_OPT_OPEN) == 0 && memcmp(io.out, pt, 14) == 0;

                rng_fill(&seed, io.nonce, 12);
                rng_fill(&seed, io.aad, 6);
                if (alg->ctx_new(alg, io.key, &ctx) == 0 &&
                    alg->seal(ctx, io.nonce, io.aad, 6, io.in, 14, rawref) == 0)
                    raw += op(&io, AES_SOFT_OP_SEAL) == 0 && memcmp(io.out, rawref, 30) == 0;
                alg->ctx_free(ctx);
            }
            pdm_profile_key_clear(&k);
            pdm_profile_secret_wipe(&s);
        }
        CHECK_INT(same, rounds);
        CHECK_INT(opened, rounds);
        CHECK_INT(raw, rounds);
    }
}

/* A new flow's first option with no user space in between: keys derived
 * in BPF (bpf/kdf.h, from the secret's HMAC states) and used at once by
 * the software AES, in one program run, equal lib's option byte for byte
 * (pdm_profile_key_init + pdm_profile_seal), for both AES suites under
 * each KDF, random flows (UDP, TCP, ICMPv6), Kri and RN. */
static void test_kdf_chain(void)
{
    static const uint8_t protos[3] = {17, 6, 58};
    uint64_t seed = 0x6b64662d616573u;
    int same = 0, opened = 0, rn_same = 0, total = 0;

    for (int r = 0; r < 48; r++) {
        struct pdm_hpke_suite suite = {0x0020, (uint16_t)(1 + r % 3), (uint16_t)(1 + (r / 3) % 2)};
        uint8_t salt[32], secret[64], ref[36], pt[14];
        struct pdm_profile_secret s;
        struct pdm_profile_key k;
        struct pdm_flow_tuple t;
        struct pdm_fields fl;
        struct pdm_kdf_secret ks;
        struct aes_soft_user_io io;
        uint32_t zero = 0;
        size_t nh = suite.kdf_id == 1 ? 32 : suite.kdf_id == 2 ? 48 : 64;
        uint16_t kri = (uint16_t)rng_next(&seed);
        uint16_t rn = (uint16_t)(1 + rng_next(&seed) % 32767);

        rng_fill(&seed, salt, sizeof salt);
        rng_fill(&seed, secret, nh);
        memset(&t, 0, sizeof t);
        rng_fill(&seed, t.src, 16);
        rng_fill(&seed, t.dst, 16);
        t.sport = (uint16_t)rng_next(&seed);
        t.dport = (uint16_t)rng_next(&seed);
        t.proto = protos[r % 3];
        rng_fill(&seed, (uint8_t *)&fl, sizeof fl);
        total++;
        if (pdm_profile_secret_init(&s, suite, salt, sizeof salt, secret, nh) != 0)
            continue;
        if (agent_ebpf_kdf_secret(&ks, &s) != 0 || pdm_profile_key_init(&k, &s, &t, kri) != 0) {
            agent_ebpf_kdf_wipe(&ks);
            pdm_profile_secret_wipe(&s);
            continue;
        }
        memset(&io, 0, sizeof io);
        io.slot = (uint32_t)(r % 8);
        io.suite = suite.aead_id;
        io.type = 0x0f;
        io.rn = rn;
        io.mat.kri = kri;
        memcpy(io.src, t.src, 16);
        memcpy(io.dst, t.dst, 16);
        io.sport = t.sport;
        io.dport = t.dport;
        io.proto = t.proto;
        pdm_fields_pack(io.in, &fl);
        memcpy(pt, io.in, 14);
        if (pdm_profile_seal(&k, 0x0f, rn, &fl, ref, sizeof ref) == 36 &&
            bpf_map_update_elem(U.kdf_fd, &zero, &ks, BPF_ANY) == 0 &&
            aes_soft_user_clear(&U, io.slot) == 0) {
            same += op(&io, AES_SOFT_OP_KDF_OPT) == 0 && memcmp(io.opt, ref, 36) == 0;
            /* The sender's RN key came out of the same derivation. */
            struct pdm_profile_tx tx;
            memset(&tx, 0, sizeof tx);
            if (pdm_profile_tx_start(&tx, &s, &t, kri, 0) == 0 && tx.key != NULL)
                rn_same += memcmp(io.mat.rn_key, tx.key->rn_key, 16) == 0;
            pdm_profile_tx_clear(&tx);
            memset(io.out, 0xA5, sizeof io.out);
            opened += op(&io, AES_SOFT_OP_OPT_OPEN) == 0 && memcmp(io.out, pt, 14) == 0;
        }
        agent_ebpf_kdf_wipe(&ks);
        pdm_profile_key_clear(&k);
        pdm_profile_secret_wipe(&s);
    }
    CHECK_INT(same, total);
    CHECK_INT(opened, total);
    CHECK_INT(rn_same, total);
    /* An empty secret slot derives nothing and keys nothing. */
    struct pdm_kdf_secret none;
    struct aes_soft_user_io io;
    uint32_t zero = 0;
    memset(&none, 0, sizeof none);
    memset(&io, 0, sizeof io);
    io.suite = 1;
    io.rn = 1;
    io.proto = 17;
    CHECK_INT(bpf_map_update_elem(U.kdf_fd, &zero, &none, BPF_ANY), 0);
    CHECK_INT(aes_soft_user_clear(&U, 0), 0);
    CHECK_INT(op(&io, AES_SOFT_OP_KDF_OPT), -1);
    CHECK_INT(op(&io, AES_SOFT_OP_SEAL), -2);
}

/* The software blocks equal the kfunc's on the same key and nonce; a
 * slot that has both uses the kfunc and seals the same bytes. */
static void test_kfunc(void)
{
    uint64_t seed = 0x6b66756e63u;
    int blocks = 0, seals = 0, both = 0, rounds = 32;

    for (int r = 0; r < rounds; r++) {
        uint16_t suite = (uint16_t)(1 + r % 2);
        struct aes_soft_user_io io, kf;
        uint8_t soft[30];

        memset(&io, 0, sizeof io);
        io.suite = suite;
        io.slot = 4;
        rng_fill(&seed, io.key, sizeof io.key);
        rng_fill(&seed, io.nonce, sizeof io.nonce);
        rng_fill(&seed, io.aad, sizeof io.aad);
        rng_fill(&seed, io.in, 14);
        kf = io;
        kf.slot = 5;
        if (aes_soft_user_clear(&U, 4) != 0 || op(&io, AES_SOFT_OP_KEY_SLOT) != 0 ||
            aes_soft_user_kfunc_key(&U, 5, suite, io.key) != 0)
            continue;
        if (op(&io, AES_SOFT_OP_BLOCKS) == 0 && op(&kf, AES_SOFT_OP_BLOCKS_KF) == 0)
            blocks += memcmp(io.out, kf.out, 32) == 0;
        if (op(&io, AES_SOFT_OP_SEAL) == 0 && op(&kf, AES_SOFT_OP_SEAL_KF) == 0) {
            memcpy(soft, io.out, 30);
            seals += memcmp(soft, kf.out, 30) == 0;
            /* Slot 4 gets the kfunc context on top of its schedule. */
            struct aead_user_install a = {.slot = 4, .key_len = suite == 1 ? 16 : 32};
            memcpy(a.key, io.key, a.key_len);
            LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &a, .ctx_size_in = sizeof a);
            /* ... and is never keyed in BPF again while it is there (it
             * could be an older key's). */
            if (bpf_prog_test_run_opts(U.install_fd, &o) == 0 && o.retval == 0 &&
                op(&io, AES_SOFT_OP_SEAL) == 0 && memcmp(io.out, soft, 30) == 0)
                both += op(&io, AES_SOFT_OP_KEY_SLOT) == -5;
        }
    }
    CHECK_INT(blocks, rounds);
    CHECK_INT(seals, rounds);
    CHECK_INT(both, rounds);
}

static void test_setup(void)
{
    char path[PATH_MAX + 64];
    int rv;

    if (geteuid() != 0) {
        SKIP("needs root (BPF_PROG_TEST_RUN of a tc and a syscall program)");
        return;
    }
    if (!aead_user_kernel_has_kfuncs()) {
        SKIP("the kernel has no BPF crypto kfuncs (Linux >= 6.10; the key slots are aead.h's)");
        return;
    }
    aes_soft_user_path(path, sizeof path, V_file);
    if (access(path, R_OK) != 0) {
        SKIP("no BPF object (clang >= 15, bpftool and libbpf were missing at build time)");
        return;
    }
    libbpf_set_print(NULL);
    rv = aes_soft_user_open(&U, path);
    if (rv != 0)
        fprintf(stderr, "loading %s: %s\n", path, strerror(-rv));
    CHECK_INT(rv, 0);
    U_ok = rv == 0;
}
#endif

int main(void)
{
#ifdef PDM_HAVE_LIBBPF
    static const char *names[2] = {"t-table", "fixed-time"};
    static const char *files[2] = {AES_SOFT_USER_OBJ_TT, AES_SOFT_USER_OBJ_FT};

    for (int v = 0; v < 2; v++) {
        V_name = names[v];
        V_file = files[v];
        U_ok = 0;
        RUN_V(test_setup);
        if (!U_ok)
            continue;
        RUN_V(test_fips197);
        RUN_V(test_refusals);
        RUN_V(test_random);
        RUN_V(test_vectors);
        RUN_V(test_lib);
        RUN_V(test_kfunc);
        RUN_V(test_kdf_chain);
        aes_soft_user_close(&U);
    }
#else
    h_test = "test_bpf_aes_soft";
    SKIP("built without libbpf (libbpf-dev)");
#endif
    return harness_done();
}
