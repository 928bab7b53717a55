/*
 * The profile's AEADs computed in BPF (bpf/aead.h, through the test
 * object bpf/test_aead.bpf.c and BPF_PROG_TEST_RUN): every option vector
 * of the profile sealed and opened byte for byte, tamper rejection (no
 * plaintext released), and agreement with lib's own AEAD on random inputs
 * (fixed seed) for each suite. SKIPs without root, without libbpf at build
 * time, without the object (no BPF toolchain) or without the kernel's BPF
 * crypto kfuncs.
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

#include "conv.h"
#include "crypto.h"
#include "pdm/profile.h"

#ifdef PDM_HAVE_LIBBPF
#include "../bpf/aead_user.h"
#endif

#define VECTORS "tests/vectors/pdmv2-profile-vectors.json"

#ifdef PDM_HAVE_LIBBPF
static struct aead_user U;
static int U_ok;

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

/* BPF seal or open of in; fills out, returns the program's rv or INT_MIN
 * when the run itself failed. */
static int bpf_op(uint32_t slot, uint32_t op, const uint8_t *nonce, const uint8_t *aad,
                  const uint8_t *in, size_t in_len, uint8_t *out)
{
    struct aead_user_io io;

    memset(&io, 0, sizeof io);
    io.slot = slot;
    io.op = op;
    memcpy(io.nonce, nonce, 12);
    memcpy(io.aad, aad, 6);
    memcpy(io.in, in, in_len);
    memset(io.out, 0xA5, sizeof io.out); /* to see what open released */
    io.rv = INT_MIN;
    if (aead_user_run(&U, &io, 1, NULL) != 0)
        return INT_MIN;
    memcpy(out, io.out, op == 0 ? 30 : 14); /* seal: ct || tag; open: pt */
    return io.rv;
}

static int all_a5(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0xA5)
            return 0;
    return 1;
}

static uint64_t field(const json_t *f, const char *key)
{
    uint64_t v = 0;
    CHECK(vec_u64(f, key, &v) == 0);
    return v;
}

/* The 14-byte plaintext of a vector's fields (PROFILE.md §3): scales,
 * Global Pointer, PSNTP, PSNLR, the two deltas, big-endian. */
static void vec_plaintext(const json_t *f, uint8_t pt[static 14])
{
    uint8_t *p = pt;

    p = pdm_put_u8(p, (uint8_t)field(f, "scale_dtlr"));
    p = pdm_put_u8(p, (uint8_t)field(f, "scale_dtls"));
    p = pdm_put_u32be(p, (uint32_t)field(f, "global_pointer"));
    p = pdm_put_u16be(p, (uint16_t)field(f, "psntp"));
    p = pdm_put_u16be(p, (uint16_t)field(f, "psnlr"));
    p = pdm_put_u16be(p, (uint16_t)field(f, "delta_tlr"));
    p = pdm_put_u16be(p, (uint16_t)field(f, "delta_tls"));
    assert(p - pt == 14);
}

/* Every option vector: seal gives the vector's bytes, open gives the
 * fields back, a flipped bit anywhere (AAD, ciphertext, tag, nonce) is
 * refused with nothing released. */
static void test_vectors(void)
{
    json_t *doc = vec_load(VECTORS), *opts, *o;
    size_t idx;
    int n = 0;

    CHECK(doc != NULL);
    if (doc == NULL)
        return;
    opts = json_object_get(doc, "options");
    json_array_foreach(opts, idx, o)
    {
        const char *suite = json_string_value(json_object_get(o, "suite"));
        json_t *f = json_object_get(o, "fields");
        uint8_t stk[32], nonce[12], opt[36], pt[14], out[30], bad[30], nb[12], ab[6];
        long klen, nlen, olen;
        unsigned aead;

        CHECK(suite != NULL && sscanf(suite, "%*4x-%*4x-%4x", &aead) == 1);
        klen = get_hex(o, "stk", stk, sizeof stk);
        nlen = get_hex(o, "nonce", nonce, sizeof nonce);
        olen = get_hex(o, "encrypted_option", opt, sizeof opt);
        CHECK(klen == (aead == 1 ? 16 : 32) && nlen == 12 && olen == 36);
        if (klen < 16 || nlen != 12 || olen != 36)
            continue;
        vec_plaintext(f, pt);

        CHECK_INT(aead_user_set_key(&U, 0, (uint16_t)aead, stk), 0);
        CHECK_INT(bpf_op(0, 0, nonce, opt, pt, 14, out), 0);
        CHECK_MEM(out, opt + 6, 30);
        CHECK_INT(bpf_op(0, 1, nonce, opt, opt + 6, 30, out), 0);
        CHECK_MEM(out, pt, 14);

        /* One flipped bit in each byte of the 30 sealed bytes, of the AAD
         * and of the nonce: refused, nothing released. */
        int refused = 0, total = 0;
        for (int i = 0; i < 30; i++) {
            memcpy(bad, opt + 6, 30);
            bad[i] ^= (uint8_t)(1u << (i % 8));
            total++;
            refused += bpf_op(0, 1, nonce, opt, bad, 30, out) == -1 && all_a5(out, 14);
        }
        for (int i = 0; i < 6; i++) {
            memcpy(ab, opt, 6);
            ab[i] ^= 0x80;
            total++;
            refused += bpf_op(0, 1, nonce, ab, opt + 6, 30, out) == -1 && all_a5(out, 14);
        }
        for (int i = 0; i < 12; i++) {
            memcpy(nb, nonce, 12);
            nb[i] ^= 0x01;
            total++;
            refused += bpf_op(0, 1, nb, opt, opt + 6, 30, out) == -1 && all_a5(out, 14);
        }
        CHECK_INT(refused, total);
        n++;
    }
    CHECK_INT(n, (int)json_array_size(opts));
    CHECK(n >= 3);
    json_decref(doc);
}

/* Random keys, nonces, AAD and plaintexts (fixed seed): BPF's seal equals
 * lib's, BPF opens lib's, per suite; several slots live at once. */
static void test_random(void)
{
    static const uint16_t ids[3] = {1, 2, 3};
    uint64_t seed = 0x70646d7632616561u;

    for (int s = 0; s < 3; s++) {
        const struct pdm_aead_alg *alg = pdm_aead_find(ids[s]);
        int same = 0, opened = 0, rounds = 64;

        CHECK(alg != NULL);
        if (alg == NULL)
            continue;
        for (int r = 0; r < rounds; r++) {
            uint8_t key[32], nonce[12], aad[6], pt[14], ref[30], out[30], back[14];
            struct pdm_aead_ctx *ctx = NULL;
            uint32_t slot = (uint32_t)(1 + r % 7);

            rng_fill(&seed, key, sizeof key);
            rng_fill(&seed, nonce, sizeof nonce);
            rng_fill(&seed, aad, sizeof aad);
            rng_fill(&seed, pt, sizeof pt);
            if (alg->ctx_new(alg, key, &ctx) != 0 ||
                alg->seal(ctx, nonce, aad, 6, pt, 14, ref) != 0) {
                alg->ctx_free(ctx);
                continue;
            }
            alg->ctx_free(ctx);
            /* Odd rounds key the slot in place (aead_key program), even
             * rounds by map update then install: both must agree. */
            if ((r & 1 ? aead_user_set_key_prog(&U, slot, ids[s], key)
                       : aead_user_set_key(&U, slot, ids[s], key)) != 0)
                continue;
            same += bpf_op(slot, 0, nonce, aad, pt, 14, out) == 0 && memcmp(out, ref, 30) == 0;
            opened += bpf_op(slot, 1, nonce, aad, ref, 30, back) == 0 && memcmp(back, pt, 14) == 0;
        }
        CHECK_INT(same, rounds);
        CHECK_INT(opened, rounds);
    }
}

/* Runs one options op (3 seal, 4 open, 5 RN) on io; INT_MIN when the run failed. */
static int bpf_enc(struct aead_user_io *io)
{
    io->rv = INT_MIN;
    memset(io->out, 0xA5, sizeof io->out);
    if (aead_user_run(&U, io, 1, NULL) != 0)
        return INT_MIN;
    return io->rv;
}

static int set_material(uint32_t slot, const uint8_t *base_nonce, const uint8_t *rn_key,
                        uint16_t kri)
{
    struct aead_user_material m;

    memset(&m, 0, sizeof m);
    if (base_nonce != NULL)
        memcpy(m.base_nonce, base_nonce, 12);
    if (rn_key != NULL)
        memcpy(m.rn_key, rn_key, 16);
    m.kri = kri;
    return bpf_map_update_elem(U.mat_fd, &slot, &m, BPF_ANY);
}

/* pdm_enc.h on every option vector: the whole 36-byte option from
 * (type, BaseNonce, Kri, RN, fields), opened back; an option whose F is
 * not the key's parity is refused before the AEAD. */
static void test_enc_vectors(void)
{
    json_t *doc = vec_load(VECTORS), *opts, *o;
    size_t idx;
    int n = 0;

    CHECK(doc != NULL);
    if (doc == NULL)
        return;
    opts = json_object_get(doc, "options");
    json_array_foreach(opts, idx, o)
    {
        const char *suite = json_string_value(json_object_get(o, "suite"));
        json_t *f = json_object_get(o, "fields");
        uint8_t stk[32], bn[12], opt[36];
        struct aead_user_io io;
        unsigned aead = 0;
        uint64_t kri = 0, rn = 0;

        CHECK(suite != NULL && sscanf(suite, "%*4x-%*4x-%4x", &aead) == 1);
        if (get_hex(o, "stk", stk, sizeof stk) < 16 ||
            get_hex(o, "base_nonce", bn, sizeof bn) != 12 ||
            get_hex(o, "encrypted_option", opt, sizeof opt) != 36 || vec_u64(o, "kri", &kri) != 0 ||
            vec_u64(o, "rn", &rn) != 0) {
            CHECK(!"vector fields");
            continue;
        }
        memset(&io, 0, sizeof io);
        vec_plaintext(f, io.in);

        CHECK_INT(aead_user_set_key(&U, 2, (uint16_t)aead, stk), 0);
        CHECK_INT(set_material(2, bn, NULL, (uint16_t)kri), 0);
        io.slot = 2;
        io.op = 3;
        io.type = opt[0];
        io.rn = (uint16_t)rn;
        CHECK_INT(bpf_enc(&io), 0);
        CHECK_MEM(io.opt, opt, 36);

        io.op = 4;
        CHECK_INT(bpf_enc(&io), 0);
        CHECK_MEM(io.out, io.in, 14);

        /* The next Kri has the other parity: refused, nothing released. */
        CHECK_INT(set_material(2, bn, NULL, (uint16_t)(kri + 1)), 0);
        CHECK_INT(bpf_enc(&io), -1);
        CHECK(all_a5(io.out, 14));
        n++;
    }
    CHECK_INT(n, (int)json_array_size(opts));
    json_decref(doc);
}

/* BPF draws the same RN sequence as lib's sender (pdm_profile_tx_seal)
 * from the same RN key, across the whole sequence (32767 distinct), and
 * pdm_enc_pos_of() inverts it. */
static void test_enc_rn(void)
{
    static const uint8_t salt[32] = {1, 2, 3};
    static const uint8_t secret[32] = {4, 5, 6};
    struct pdm_hpke_suite suite = {0x0020, 0x0001, 0x0001};
    struct pdm_flow_tuple t = {.sport = 4000, .dport = 5000, .proto = 17};
    struct pdm_profile_secret s;
    struct pdm_profile_tx tx;
    struct pdm_fields fl;
    struct aead_user_io io;
    int same = 0, checked = 0;

    t.src[0] = 0xfd;
    t.dst[0] = 0xfd;
    t.dst[15] = 1;
    memset(&tx, 0, sizeof tx);
    memset(&fl, 0, sizeof fl);
    CHECK_INT(pdm_profile_secret_init(&s, suite, salt, sizeof salt, secret, sizeof secret), 0);
    CHECK_INT(pdm_profile_tx_start(&tx, &s, &t, 0, 0), 0);
    if (tx.key == NULL)
        return;
    CHECK_INT(set_material(3, NULL, tx.key->rn_key, 0), 0);
    memset(&io, 0, sizeof io);
    io.slot = 3;
    io.op = 5;
    for (int i = 0; i < 400; i++) {
        uint8_t opt[36];
        int rn_lib;

        if (pdm_profile_tx_seal(&tx, &s, &t, NULL, 0, 0x0f, &fl, opt, sizeof opt) != 36)
            break;
        rn_lib = ((opt[4] << 8) | opt[5]) >> 1;
        io.rn = (uint16_t)i;
        same += bpf_enc(&io) == rn_lib;
        checked++;
    }
    CHECK_INT(checked, 400);
    CHECK_INT(same, checked);
    pdm_profile_tx_clear(&tx);
    pdm_profile_secret_wipe(&s);

    /* The whole sequence under one key: 32767 distinct values in range. */
    static uint8_t seen[32768];
    int distinct = 0, in_range = 1;
    memset(seen, 0, sizeof seen);
    CHECK_INT(set_material(3, NULL, salt, 0), 0);
    for (int i = 0; i < 32767; i++) {
        int rn;
        io.rn = (uint16_t)i;
        rn = bpf_enc(&io);
        if (rn < 1 || rn > 32767) {
            in_range = 0;
            break;
        }
        distinct += !seen[rn];
        seen[rn] = 1;
    }
    CHECK(in_range);
    CHECK_INT(distinct, 32767);

    /* pdm_enc_pos_of() (a receiver's keystream lane) gives back, for the
     * RN at every position, that position: under this key and lib's. */
    for (int k = 0; k < 2; k++) {
        int back = 0;

        CHECK_INT(set_material(3, NULL, k == 0 ? salt : secret, 0), 0);
        for (int i = 0; i < 32767; i++) {
            io.op = 5;
            io.rn = (uint16_t)i;
            io.rn = (uint16_t)bpf_enc(&io);
            io.op = 6;
            back += bpf_enc(&io) == i;
        }
        CHECK_INT(back, 32767);
    }
}

/* A slot without a key is refused, not sealed with zeros. */
static void test_no_key(void)
{
    struct aead_user_key v;
    uint8_t z[30] = {0}, out[30];
    uint32_t slot = 7;

    memset(&v, 0, sizeof v);
    v.suite = 1;
    CHECK_INT(bpf_map_update_elem(U.keys_fd, &slot, &v, BPF_ANY), 0);
    CHECK_INT(bpf_op(slot, 0, z, z, z, 14, out), -2);
    v.suite = 9;
    CHECK_INT(bpf_map_update_elem(U.keys_fd, &slot, &v, BPF_ANY), 0);
    CHECK_INT(bpf_op(slot, 0, z, z, z, 14, out), -4);
}

static void object_path(char *buf, size_t cap)
{
    const char *env = getenv("PDM_BPF_AEAD_OBJ");
    char exe[PATH_MAX];
    ssize_t n;
    char *slash;

    if (env != NULL) {
        snprintf(buf, cap, "%s", env);
        return;
    }
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    slash = strrchr(exe, '/');
    if (slash != NULL)
        *slash = '\0';
    snprintf(buf, cap, "%s/../bpf-aead/test_aead.bpf.o", exe);
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
        SKIP("the kernel has no BPF crypto kfuncs (bpf_crypto_encrypt; Linux >= 6.10)");
        return;
    }
    object_path(path, sizeof path);
    if (access(path, R_OK) != 0) {
        SKIP("no BPF object (clang >= 15, bpftool and libbpf were missing at build time)");
        return;
    }
    libbpf_set_print(NULL);
    rv = aead_user_open(&U, path);
    if (rv != 0)
        fprintf(stderr, "loading %s: %s\n", path, strerror(-rv));
    CHECK_INT(rv, 0);
    U_ok = rv == 0;
}
#endif

int main(void)
{
#ifdef PDM_HAVE_LIBBPF
    RUN(test_setup);
    if (U_ok) {
        RUN(test_vectors);
        RUN(test_random);
        RUN(test_no_key);
        RUN(test_enc_vectors);
        RUN(test_enc_rn);
        aead_user_close(&U);
    }
#else
    h_test = "test_bpf_aead";
    SKIP("built without libbpf (libbpf-dev)");
#endif
    return harness_done();
}
