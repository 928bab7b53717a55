/*
 * User-space driver of bpf/test_aes_soft.bpf.c (bpf/aes_soft.h's test
 * object) for tests/test_bpf_aes_soft.c and bench/bench_bpf_aes_soft.c:
 * the map layouts as user space sees them, one operation through
 * BPF_PROG_TEST_RUN, and a kfunc key for a slot (the comparison path).
 * Needs libbpf and OpenSSL's libcrypto (through bpf/aead_user.h).
 */
#ifndef PDM_BPF_AES_SOFT_USER_H
#define PDM_BPF_AES_SOFT_USER_H

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "aead_user.h"

/* The operations of test_aes_soft.bpf.c (SOFT_OP_*). */
enum {
    AES_SOFT_OP_NOP = 0,
    AES_SOFT_OP_EXPAND = 1,
    AES_SOFT_OP_ENCRYPT = 2,
    AES_SOFT_OP_GHASH = 3,
    AES_SOFT_OP_KEY_SLOT = 4,
    AES_SOFT_OP_BLOCKS = 5,
    AES_SOFT_OP_BLOCKS_KF = 6,
    AES_SOFT_OP_SEAL = 7,
    AES_SOFT_OP_OPEN = 8,
    AES_SOFT_OP_OPT_SEAL = 9,
    AES_SOFT_OP_OPT_OPEN = 10,
    AES_SOFT_OP_KEY_OPT = 11,
    AES_SOFT_OP_BLOCKS3 = 12,
    AES_SOFT_OP_SEAL_KF = 13,
    AES_SOFT_OP_KDF_OPT = 14,
};

/* struct soft_slot: aead.h's key, then struct pdm_aes_soft_key. */
struct aes_soft_user_slot {
    struct aead_user_key aead;
    uint32_t rk[60];
    uint32_t rounds;
    uint32_t pad;
};
_Static_assert(sizeof(struct aes_soft_user_slot) == 304 + 248, "layout of struct soft_slot");

struct aes_soft_user_io {
    uint32_t op;
    uint32_t slot;
    uint32_t key_len;
    uint32_t suite;
    int32_t rv;
    uint32_t n;
    uint8_t key[32];
    uint8_t in[64];
    uint8_t out[64];
    uint8_t nonce[12];
    uint8_t aad[6];
    uint8_t type;
    uint8_t pad;
    uint16_t rn;
    uint16_t pad2;
    struct aead_user_material mat;
    uint8_t opt[36];
    uint8_t src[16];
    uint8_t dst[16];
    uint16_t sport;
    uint16_t dport;
    uint8_t proto;
    uint8_t pad3[3];
};
_Static_assert(sizeof(struct aes_soft_user_io) == 316, "layout of struct soft_io");

struct aes_soft_user {
    struct bpf_object *obj;
    int slots_fd, io_fd, run_fd, install_fd, drv_fd, kdf_fd;
};

/* struct soft_install_drv_args. */
struct aes_soft_user_drv_args {
    uint32_t slot;
    uint32_t key_len;
    uint8_t key[32];
    int32_t err;
    uint32_t drv;
};

/* The variants of the object: T-tables (aes_soft.h's default) and
 * PDM_AES_SOFT_FIXED_TIME. */
#define AES_SOFT_USER_OBJ_TT "test_aes_soft.bpf.o"
#define AES_SOFT_USER_OBJ_FT "test_aes_soft_ft.bpf.o"

/* The object file next to the executable (build/<dir>/../bpf-aessw/file),
 * or $PDM_BPF_AES_SOFT_OBJ for every variant. */
static inline void aes_soft_user_path(char *buf, size_t cap, const char *file)
{
    const char *env = getenv("PDM_BPF_AES_SOFT_OBJ");
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
    snprintf(buf, cap, "%s/../bpf-aessw/%s", exe, file);
}

/* Opens and loads the object; 0 or a negative errno. */
static inline int aes_soft_user_open(struct aes_soft_user *u, const char *path)
{
    struct bpf_program *pr, *pi, *pd;
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
    pr = bpf_object__find_program_by_name(u->obj, "soft_run");
    pi = bpf_object__find_program_by_name(u->obj, "soft_install");
    pd = bpf_object__find_program_by_name(u->obj, "soft_install_drv");
    u->slots_fd = bpf_object__find_map_fd_by_name(u->obj, "soft_slots");
    u->io_fd = bpf_object__find_map_fd_by_name(u->obj, "soft_io");
    u->kdf_fd = bpf_object__find_map_fd_by_name(u->obj, "soft_kdf_secrets");
    if (pr == NULL || pi == NULL || pd == NULL || u->slots_fd < 0 || u->io_fd < 0 ||
        u->kdf_fd < 0) {
        bpf_object__close(u->obj);
        u->obj = NULL;
        return -ENOENT;
    }
    u->run_fd = bpf_program__fd(pr);
    u->install_fd = bpf_program__fd(pi);
    u->drv_fd = bpf_program__fd(pd);
    return 0;
}

static inline void aes_soft_user_close(struct aes_soft_user *u)
{
    bpf_object__close(u->obj);
    u->obj = NULL;
}

/* Runs io->op repeat times; io comes back with the last run's results,
 * *ns (if not NULL) the kernel's mean duration per run. 0 or -errno. */
static inline int aes_soft_user_run(struct aes_soft_user *u, struct aes_soft_user_io *io,
                                    uint32_t repeat, uint32_t *ns)
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

/* Empties a slot (no schedule, no kfunc context; an array update frees
 * the context). 0 or -errno. */
static inline int aes_soft_user_clear(struct aes_soft_user *u, uint32_t slot)
{
    struct aes_soft_user_slot v;

    memset(&v, 0, sizeof v);
    return bpf_map_update_elem(u->slots_fd, &slot, &v, BPF_ANY) == 0 ? 0 : -errno;
}

static inline int aes_soft_user_get(struct aes_soft_user *u, uint32_t slot,
                                    struct aes_soft_user_slot *v)
{
    return bpf_map_lookup_elem(u->slots_fd, &slot, v) == 0 ? 0 : -errno;
}

/* Keys slot the way the agent does today: suite and the GHASH table from
 * OpenSSL's H written by user space, then the kfunc context by a syscall
 * program (no software schedule): aead.h's pdm_aead_ctx_install (drv 0)
 * or on the named driver drv of soft_install_drv. 0 or a negative error. */
static inline int aes_soft_user_kfunc_key_drv(struct aes_soft_user *u, uint32_t slot,
                                              uint16_t suite, const uint8_t *key, uint32_t drv)
{
    struct aes_soft_user_slot v;
    struct aes_soft_user_drv_args a;
    size_t klen = suite == 1 ? 16 : 32;
    uint8_t h[16];
    int rv;

    memset(&v, 0, sizeof v);
    v.aead.suite = suite;
    if (aead_user_hash_key(key, klen, h) != 0)
        return -EIO;
    aead_user_htable(h, v.aead.ghash);
    if (bpf_map_update_elem(u->slots_fd, &slot, &v, BPF_ANY) != 0)
        return -errno;
    memset(&a, 0, sizeof a);
    a.slot = slot;
    a.key_len = (uint32_t)klen;
    a.drv = drv;
    memcpy(a.key, key, klen);
    LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &a, .ctx_size_in = sizeof a);
    if ((rv = bpf_prog_test_run_opts(drv ? u->drv_fd : u->install_fd, &o)) != 0)
        return rv;
    return (int)o.retval != 0 ? (a.err ? a.err : (int)o.retval) : 0;
}

/* The same on the kernel's pick for "ecb(aes)", with aead.h's install. */
static inline int aes_soft_user_kfunc_key(struct aes_soft_user *u, uint32_t slot, uint16_t suite,
                                          const uint8_t *key)
{
    return aes_soft_user_kfunc_key_drv(u, slot, suite, key, 0);
}

#endif
