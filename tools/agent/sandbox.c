/*
 * The agent's privileges once set up (docs/security.md §1, §2):
 *
 *  - agent_privileges_drop(), main thread, before any queue thread starts
 *    (capabilities and uids are per thread; the threads inherit them):
 *    CAP_NET_ADMIN alone, and with --user the uid and gid of that account,
 *    CAP_NET_ADMIN kept across the change (keepcaps) and made ambient, so
 *    that the nft or ip6tables run at exit, a process of that user too,
 *    still holds it;
 *  - agent_thread_sandbox(), in each queue thread before its loop: the
 *    seccomp allow-list of the packet path (the threads that read the
 *    untrusted bytes: packets, options, and the records made from them).
 *    No TSYNC: the main thread stays unfiltered, because it runs nft or
 *    ip6tables (clone, execve) to take the rules away at exit, re-reads
 *    secrets and reopens files.
 */
#include "agent.h"

#include "common/sandbox.h"
#include "common/tools.h"
#include "crypto.h"

#include <cap-ng.h>
#include <errno.h>
#include <grp.h>
#include <linux/sockios.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/*
 * The queue thread's loop, found with strace -f over tests/it_agent*.sh
 * (every mode, both firewalls, PMTU, records, the stop) and read off
 * nfq.c and core.c: recvmmsg and the verdicts (sendto); the shard and
 * records locks (futex); the clock; getrandom for PSNs and RNs (pool
 * refills); nanosleep on an unexpected error; the MTU of an interface
 * (ioctl SIOCGIFNAME and SIOCGIFMTU on the thread's own socket, opened
 * before the filter); malloc (flows, keys derived for a new flow); the
 * thread's exit; write and the calls of abort() so that a failed
 * getrandom still dies by SIGABRT with its message.
 *
 * Not in it: socket, bind, connect, open, exec, clone, ptrace, mount,
 * setuid, bpf, ... a parser bug in the packet path gets no new file,
 * socket or process.
 */
static const char *const allowed[] = {
    /* the queue socket, verdicts */
    "recvmmsg", "recvmsg", "recvfrom", "sendto", "sendmsg", "write", "writev",
    /* locks, time, randomness, the retry sleep */
    "futex", "clock_gettime", "gettimeofday", "time", "getrandom", "nanosleep", "clock_nanosleep",
    "sched_yield", "restart_syscall",
    /* their 64-bit-time forms on 32-bit architectures (skipped elsewhere) */
    "recvmmsg_time64", "futex_time64", "clock_gettime64", "clock_nanosleep_time64",
    /* memory */
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise",
    /* the thread's exit (glibc blocks signals, unmaps its stack), abort() */
    "rt_sigprocmask", "rt_sigreturn", "exit", "exit_group", "getpid", "gettid", "tgkill",
    "rt_sigaction", "close"};

/*
 * The main thread's deny-list, installed once privileges are dropped and
 * inherited by the queue threads (whose allow-list is stricter still) and
 * by the nft or ip6tables it runs at exit. Its needs are too wide for an
 * allow-list (files, the status socket, posix_spawn and what nft itself
 * does), so this only takes away what neither it nor nft ever does: other
 * processes' memory, mounts and namespaces, modules, kexec and reboot, the
 * clock, keys, perf, userfaultfd, io_uring, identity changes (privileges
 * are dropped by now). bpf stays: --datapath ebpf reads its maps here.
 */
static const char *const denied_main[] = {"ptrace",
                                          "process_vm_readv",
                                          "process_vm_writev",
                                          "process_madvise",
                                          "pidfd_getfd",
                                          "kcmp",
                                          "mount",
                                          "umount2",
                                          "umount",
                                          "pivot_root",
                                          "chroot",
                                          "move_mount",
                                          "open_tree",
                                          "fsopen",
                                          "fsconfig",
                                          "fsmount",
                                          "fspick",
                                          "mount_setattr",
                                          "setns",
                                          "unshare",
                                          "init_module",
                                          "finit_module",
                                          "delete_module",
                                          "kexec_load",
                                          "kexec_file_load",
                                          "reboot",
                                          "swapon",
                                          "swapoff",
                                          "acct",
                                          "quotactl",
                                          "syslog",
                                          "settimeofday",
                                          "clock_settime",
                                          "clock_adjtime",
                                          "adjtimex",
                                          "keyctl",
                                          "add_key",
                                          "request_key",
                                          "perf_event_open",
                                          "userfaultfd",
                                          "io_uring_setup",
                                          "io_uring_enter",
                                          "io_uring_register",
                                          "open_by_handle_at",
                                          "name_to_handle_at",
                                          "personality",
                                          "iopl",
                                          "ioperm",
                                          "vhangup",
                                          "setuid",
                                          "setgid",
                                          "setreuid",
                                          "setregid",
                                          "setresuid",
                                          "setresgid",
                                          "setfsuid",
                                          "setfsgid",
                                          "setgroups",
                                          "capset",
                                          "lookup_dcookie",
                                          "nfsservctl",
                                          "uselib"};

/* The MTU lookup of nfq.c (agent_nfq_mtu). */
static const unsigned long allowed_ioctls[] = {SIOCGIFNAME, SIOCGIFMTU};

/* As in reg/sandbox.c: AddressSanitizer's run-time needs calls that no
 * allow-list should grant. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif
#ifndef SANITIZER_BUILD
#define SANITIZER_BUILD 0
#endif

int agent_sandbox_enabled(const struct agent_config *cfg)
{
    return !SANITIZER_BUILD && !cfg->no_seccomp;
}

/*
 * OpenSSL reads its configuration file and sets up its providers on the
 * first use of an algorithm: in a queue thread that would be an openat
 * under the filter (the first v2-encrypted flow's key derivation). One
 * HMAC of each KDF hash and one seal of each AEAD here, in the main
 * thread before the queue threads start, does that first use.
 */
static void crypto_warm_up(void)
{
    static const uint8_t zero[64];
    const struct pdm_iov iov = {zero, sizeof zero};
    uint8_t out[64 + 16];

    for (uint16_t id = 1; id <= 3; id++) {
        const struct pdm_kdf_alg *kdf = pdm_kdf_find(id);
        const struct pdm_aead_alg *aead = pdm_aead_find(id);
        struct pdm_aead_ctx *ctx = NULL;

        if (kdf != NULL)
            (void)kdf->extract(kdf, zero, kdf->nh, &iov, 1, out);
        if (aead != NULL && aead->ctx_new != NULL && aead->ctx_new(aead, zero, &ctx) == 0) {
            (void)aead->seal(ctx, zero, NULL, 0, zero, 16, out);
            aead->ctx_free(ctx);
        }
    }
    pdm_memzero(out, sizeof out);
}

int agent_main_sandbox(const struct agent_config *cfg, char *err, size_t errlen)
{
    if (!agent_sandbox_enabled(cfg))
        return 0;
    return tool_seccomp_deny(denied_main, sizeof denied_main / sizeof denied_main[0], err, errlen);
}

int agent_thread_sandbox(const struct agent_config *cfg, char *err, size_t errlen)
{
    if (!agent_sandbox_enabled(cfg))
        return 0;
    return tool_seccomp_allow_ioctls(allowed, sizeof allowed / sizeof allowed[0], allowed_ioctls,
                                     sizeof allowed_ioctls / sizeof allowed_ioctls[0], err, errlen);
}

/* CAP_NET_ADMIN alone in the effective, permitted and bounding sets, and
 * in the inheritable and ambient ones when ambient (for a non-root exec);
 * extra (e.g. CAP_SETUID) kept effective and permitted for the uid change
 * that follows, -1 for none. Bounding-set drops need CAP_SETPCAP: without
 * it (started unprivileged, e.g. with ambient capabilities) the set is
 * left as it is. */
static int caps_keep(int ambient, int extra1, int extra2)
{
    int sel = CAPNG_SELECT_CAPS | (ambient ? CAPNG_SELECT_AMBIENT : 0);

    if (capng_get_caps_process() != 0)
        return -1;
    if (capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP))
        sel |= CAPNG_SELECT_BOUNDS;
    capng_clear(CAPNG_SELECT_ALL);
    if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
                     CAP_NET_ADMIN) != 0)
        return -1;
    if (ambient && capng_update(CAPNG_ADD, CAPNG_INHERITABLE | CAPNG_AMBIENT, CAP_NET_ADMIN) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        int c = i == 0 ? extra1 : extra2;
        if (c >= 0 && capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, (unsigned)c) != 0)
            return -1;
    }
    return capng_apply((capng_select_t)sel) == 0 ? 0 : -1;
}

/* Becomes pw, keeping CAP_NET_ADMIN (effective, permitted, inheritable,
 * ambient). Returns 0 or -1 with err. */
static int become(const struct passwd *pw, char *err, size_t errlen)
{
    /* Bounding set first, while CAP_SETPCAP is still there; CAP_SETUID and
     * CAP_SETGID only as long as the change takes. */
    if (caps_keep(1, CAP_SETUID, CAP_SETGID) != 0)
        return tool_fail(err, errlen, "--user %s: cannot drop capabilities (libcap-ng)",
                         pw->pw_name);
    /* Without keepcaps, leaving uid 0 empties the permitted set. */
    if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) != 0 || setgroups(1, &pw->pw_gid) != 0 ||
        setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
        setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0)
        return tool_fail(err, errlen, "--user %s: %s", pw->pw_name, strerror(errno));
    (void)prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
    /* The change cleared the effective set: CAP_NET_ADMIN back, the rest
     * of the permitted set gone; ambient, for the nft run at exit. */
    if (caps_keep(1, -1, -1) != 0)
        return tool_fail(err, errlen, "--user %s: cannot keep CAP_NET_ADMIN (libcap-ng)",
                         pw->pw_name);
    if (setuid(0) == 0 || seteuid(0) == 0)
        return tool_fail(err, errlen, "--user %s: uid 0 could be regained", pw->pw_name);
    return 0;
}

int agent_privileges_check(const struct agent_config *cfg, char *err, size_t errlen)
{
    const struct passwd *pw;

    if (cfg->keep_caps && cfg->user != NULL)
        return tool_fail(err, errlen, "--user and --keep-caps exclude each other");
    if (cfg->user == NULL || !strcmp(cfg->user, "root"))
        return 0;
    if ((pw = getpwnam(cfg->user)) == NULL)
        return tool_fail(err, errlen, "--user %s: no such user", cfg->user);
    if (pw->pw_uid == 0)
        return tool_fail(err, errlen, "--user %s: has uid 0", cfg->user);
    return 0;
}

int agent_privileges_drop(const struct agent_config *cfg, char *err, size_t errlen)
{
    const struct passwd *pw;

    /* Read now, before any thread: PDM_TEST_FORBIDDEN_SYSCALL (nfq.c). */
    (void)tool_seccomp_test_armed();
    if (agent_sandbox_enabled(cfg))
        crypto_warm_up();
    else
        fprintf(stderr, "pdm: agent: seccomp off (%s)\n",
                cfg->no_seccomp ? "--no-seccomp" : "sanitizer build");
    if (cfg->keep_caps) {
        if (cfg->user != NULL)
            return tool_fail(err, errlen, "--user and --keep-caps exclude each other");
        return 0;
    }
    if (cfg->user == NULL || !strcmp(cfg->user, "root")) {
        /* Started without uid 0 (ambient CAP_NET_ADMIN, e.g. a unit's
         * User= and AmbientCapabilities=): keep it ambient, or nft at
         * exit would run without it. */
        if (caps_keep(getuid() != 0, -1, -1) != 0)
            return tool_fail(err, errlen, "cannot drop capabilities (libcap-ng)");
        return 0;
    }
    if ((pw = getpwnam(cfg->user)) == NULL)
        return tool_fail(err, errlen, "--user %s: no such user", cfg->user);
    if (pw->pw_uid == 0)
        return tool_fail(err, errlen, "--user %s: has uid 0", cfg->user);
    if (getuid() == pw->pw_uid && geteuid() == pw->pw_uid) {
        if (caps_keep(1, -1, -1) != 0)
            return tool_fail(err, errlen, "cannot drop capabilities (libcap-ng)");
        return 0;
    }
    return become(pw, err, errlen);
}
