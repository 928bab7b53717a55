/*
 * User-space side of bpf/aead.h, for the test, the bench and the agent:
 * the map value layout as user space writes it, the GHASH table from H
 * (H = AES_K(0^128), with OpenSSL: BPF cannot run AES in the syscall
 * program that makes the context), and a driver for bpf/test_aead.bpf.c
 * (key install and seal/open through BPF_PROG_TEST_RUN). Needs libbpf
 * and OpenSSL's libcrypto.
 */
#ifndef PDM_BPF_AEAD_USER_H
#define PDM_BPF_AEAD_USER_H

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

/* struct pdm_aead_key of aead.h as user space sees it (the kptr is a u64
 * user space neither reads nor writes). */
struct aead_user_key {
    uint64_t aes;
    uint32_t suite;
    uint32_t gen;
    uint64_t ghash[16][2];
    uint8_t chacha[32];
};
_Static_assert(sizeof(struct aead_user_key) == 304, "layout of struct pdm_aead_key");

struct aead_user_install {
    uint32_t slot;
    uint32_t key_len;
    uint8_t key[32];
    int32_t err;
    uint32_t pad;
};

struct aead_user_io {
    uint32_t slot;
    uint32_t op;
    uint8_t nonce[12];
    uint8_t aad[6];
    uint8_t in[30];
    uint8_t out[30];
    int32_t rv;
    uint8_t type;
    uint8_t pad;
    uint16_t rn;
    uint8_t opt[36];
};

/* struct pdm_enc_material of pdm_enc.h. */
struct aead_user_material {
    uint8_t base_nonce[12];
    uint8_t rn_key[16];
    uint16_t kri;
    uint16_t pad;
};

static inline uint64_t aead_user_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* OpenSSL's gcm_init_4bit: Htable[i] = i * H in GF(2^128), 4-bit index
 * with the bit order of GCM (Htable[8] = H). */
static inline void aead_user_htable(const uint8_t h[16], uint64_t t[16][2])
{
    uint64_t vh = aead_user_be64(h), vl = aead_user_be64(h + 8);

    memset(t, 0, 16 * sizeof t[0]);
    t[8][0] = vh;
    t[8][1] = vl;
    for (int i = 4; i > 0; i >>= 1) {
        uint64_t red = 0xe100000000000000ull & (0 - (vl & 1));
        vl = (vh << 63) | (vl >> 1);
        vh = (vh >> 1) ^ red;
        t[i][0] = vh;
        t[i][1] = vl;
    }
    for (int i = 2; i < 16; i <<= 1)
        for (int j = 1; j < i; j++) {
            t[i + j][0] = t[i][0] ^ t[j][0];
            t[i + j][1] = t[i][1] ^ t[j][1];
        }
}

/* z = x * y in GF(2^128), GCM's bit order (SP 800-38D, algorithm 1);
 * {hi, lo} halves. Bitwise: run once per key. */
static inline void aead_user_gmul(const uint64_t x[2], const uint64_t y[2], uint64_t z[2])
{
    uint64_t vh = y[0], vl = y[1], zh = 0, zl = 0;

    for (int i = 0; i < 128; i++) {
        uint64_t bit = (i < 64 ? x[0] >> (63 - i) : x[1] >> (127 - i)) & 1;
        uint64_t red = 0xe100000000000000ull & (0 - (vl & 1));

        zh ^= vh & (0 - bit);
        zl ^= vl & (0 - bit);
        vl = (vh << 63) | (vl >> 1);
        vh = (vh >> 1) ^ red;
    }
    z[0] = zh;
    z[1] = zl;
}

/* struct pdm_aead_gcm of aead.h. */
struct aead_user_gcm {
    uint64_t h2[16][2];
    uint64_t lh[2];
};
_Static_assert(sizeof(struct aead_user_gcm) == 272, "layout of struct pdm_aead_gcm");

/* aead.h's struct pdm_aead_gcm from ht, the table of H (ht[8] = H): the
 * table of H^2 and L * H (L the lengths block of the profile's sizes, 6
 * and 14 bytes). */
static inline void aead_user_gcm_tables(const uint64_t ht[16][2], struct aead_user_gcm *g)
{
    static const uint64_t len[2] = {6 * 8, 14 * 8};
    uint64_t h2[2];
    uint8_t b[16];

    aead_user_gmul(ht[8], ht[8], h2);
    aead_user_gmul(len, ht[8], g->lh);
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(h2[0] >> (56 - 8 * i));
        b[8 + i] = (uint8_t)(h2[1] >> (56 - 8 * i));
    }
    aead_user_htable(b, g->h2);
}

/* H = AES_key(0^128); 0 or -1. */
static inline int aead_user_hash_key(const uint8_t *key, size_t key_len, uint8_t h[16])
{
    static const uint8_t zero[16];
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, ok;

    if (c == NULL)
        return -1;
    ok = EVP_EncryptInit_ex(c, key_len == 16 ? EVP_aes_128_ecb() : EVP_aes_256_ecb(), NULL, key,
                            NULL) == 1 &&
         EVP_CIPHER_CTX_set_padding(c, 0) == 1 && EVP_EncryptUpdate(c, h, &n, zero, 16) == 1 &&
         n == 16;
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -1;
}

/* Whether the running kernel has the BPF crypto kfuncs (its BTF names them). */
static inline int aead_user_kernel_has_kfuncs(void)
{
    struct btf *b = btf__load_vmlinux_btf();
    int ok;

    if (b == NULL)
        return 0;
    ok = btf__find_by_name_kind(b, "bpf_crypto_encrypt", BTF_KIND_FUNC) > 0 &&
         btf__find_by_name_kind(b, "bpf_crypto_ctx_create", BTF_KIND_FUNC) > 0;
    btf__free(b);
    return ok;
}

struct aead_user {
    struct bpf_object *obj;
    int keys_fd, io_fd, mat_fd, install_fd, run_fd, key_fd;
};

/* Opens and loads the test object; 0 or a negative errno. */
static inline int aead_user_open(struct aead_user *u, const char *path)
{
    struct bpf_program *pi, *pr, *pk;
    int rv;

    memset(u, 0, sizeof *u);
    u->obj = bpf_object__open_file(path, NULL);
    if (u->obj == NULL)
        return -errno;
    if ((rv = bpf_object__load(u->obj)) != 0) {
        bpf_object__close(u->obj);
        u->obj = NULL;
        return rv;
    }
    pi = bpf_object__find_program_by_name(u->obj, "aead_install");
    pr = bpf_object__find_program_by_name(u->obj, "aead_run");
    pk = bpf_object__find_program_by_name(u->obj, "aead_key");
    u->keys_fd = bpf_object__find_map_fd_by_name(u->obj, "aead_keys");
    u->io_fd = bpf_object__find_map_fd_by_name(u->obj, "aead_io");
    u->mat_fd = bpf_object__find_map_fd_by_name(u->obj, "aead_mat");
    if (pi == NULL || pr == NULL || pk == NULL || u->keys_fd < 0 || u->io_fd < 0 || u->mat_fd < 0) {
        bpf_object__close(u->obj);
        u->obj = NULL;
        return -ENOENT;
    }
    u->install_fd = bpf_program__fd(pi);
    u->run_fd = bpf_program__fd(pr);
    u->key_fd = bpf_program__fd(pk);
    return 0;
}

static inline void aead_user_close(struct aead_user *u)
{
    bpf_object__close(u->obj);
    u->obj = NULL;
}

/* Keys slot with suite (AEAD id 1, 2, 3) and key: the value first (an
 * array update frees the slot's kptr), then the syscall program makes the
 * AES context. 0 or a negative error. */
static inline int aead_user_set_key(struct aead_user *u, uint32_t slot, uint16_t suite,
                                    const uint8_t *key)
{
    struct aead_user_key v;
    struct aead_user_install a;
    size_t klen = suite == 1 ? 16 : 32;
    uint8_t h[16];
    int rv;

    memset(&v, 0, sizeof v);
    v.suite = suite;
    if (suite == 3) {
        memcpy(v.chacha, key, 32);
    } else {
        if (aead_user_hash_key(key, klen, h) != 0)
            return -EIO;
        aead_user_htable(h, v.ghash);
    }
    if (bpf_map_update_elem(u->keys_fd, &slot, &v, BPF_ANY) != 0)
        return -errno;
    if (suite == 3)
        return 0;
    memset(&a, 0, sizeof a);
    a.slot = slot;
    a.key_len = (uint32_t)klen;
    memcpy(a.key, key, klen);
    LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &a, .ctx_size_in = sizeof a);
    if ((rv = bpf_prog_test_run_opts(u->install_fd, &o)) != 0)
        return rv;
    return (int)o.retval != 0 ? (a.err ? a.err : (int)o.retval) : 0;
}

/* struct pdm_aead_key_args of aead.h. */
struct aead_user_key_args {
    uint32_t slot;
    uint32_t suite;
    uint32_t gen;
    int32_t err;
    uint8_t key[32];
    uint64_t ghash[16][2];
};

/* Fills a for suite and key (the GHASH table for AES): what a key program
 * (pdm_aead_key_install) takes. 0 or -EIO. */
static inline int aead_user_key_args(struct aead_user_key_args *a, uint32_t slot, uint16_t suite,
                                     const uint8_t *key)
{
    size_t klen = suite == 1 ? 16 : 32;
    uint8_t h[16];

    memset(a, 0, sizeof *a);
    a->slot = slot;
    a->suite = suite;
    memcpy(a->key, key, klen);
    if (suite == 1 || suite == 2) {
        if (aead_user_hash_key(key, klen, h) != 0)
            return -EIO;
        aead_user_htable(h, a->ghash);
    }
    return 0;
}

/* Keys slot in place through the aead_key program (no map update). */
static inline int aead_user_set_key_prog(struct aead_user *u, uint32_t slot, uint16_t suite,
                                         const uint8_t *key)
{
    struct aead_user_key_args a;
    int rv;

    if (aead_user_key_args(&a, slot, suite, key) != 0)
        return -EIO;
    LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &a, .ctx_size_in = sizeof a);
    rv = bpf_prog_test_run_opts(u->key_fd, &o);
    memset(&a, 0, sizeof a);
    if (rv != 0)
        return rv;
    return (int)o.retval;
}

/* Runs op (0 seal, 1 open) on io through the tc program, repeat times;
 * io->rv and io->out from the last run; *ns the kernel's mean duration
 * per run. 0 or a negative errno. */
static inline int aead_user_run(struct aead_user *u, struct aead_user_io *io, uint32_t repeat,
                                uint32_t *ns)
{
    uint8_t pkt[64] = {0};
    uint32_t zero = 0;
    int rv;

    pkt[12] = 0x86; /* an IPv6 ethertype, so the skb looks like traffic */
    pkt[13] = 0xdd;
    if (bpf_map_update_elem(u->io_fd, &zero, io, BPF_ANY) != 0)
        return -errno;
    LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof pkt,
                .repeat = (int)repeat);
    if ((rv = bpf_prog_test_run_opts(u->run_fd, &o)) != 0)
        return rv;
    if (ns != NULL)
        *ns = o.duration;
    if (bpf_map_lookup_elem(u->io_fd, &zero, io) != 0)
        return -errno;
    return 0;
}

#endif
