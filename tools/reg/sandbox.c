/*
 * The registrar's seccomp allow-list (reg/reg.h, docs/security.md).
 *
 * What the event loop does, found with strace -f over
 * tests/it_registration.sh and read off the code: epoll, accept4 and the
 * socket calls of a connection; the signalfd read; the store (files
 * written under a temporary name, fchmod, fsync with --sync, rename;
 * expired ones unlinked; the directory listed) and the key log (appended);
 * on SIGHUP the PSK and authorized-keys files read again; malloc; the
 * clock and getrandom of the library; the log on stderr; exit. The few
 * calls of abort() (getpid, gettid, tgkill, rt_sigaction) are in too, so
 * that an assertion still dies by SIGABRT and not by SIGSYS.
 *
 * Not in it, so fatal: exec, fork and clone, ptrace, mount, socket,
 * bind, connect, listen, setuid and the like, module and key calls, bpf,
 * io_uring, perf, kexec, ...: the loop needs no new socket or process.
 */
#include "reg/reg.h"

#include "common/sandbox.h"

static const char *const allowed[] = {
    /* files and descriptors */
    "read", "write", "readv", "writev", "pread64", "pwrite64", "lseek", "close", "open", "openat",
    "fstat", "newfstatat", "stat", "lstat", "statx", "fcntl", "fsync", "fdatasync", "rename",
    "renameat", "renameat2", "unlink", "unlinkat", "mkdir", "mkdirat", "fchmod", "getdents64",
    "umask",
    /* sockets already open, epoll, signals through the signalfd */
    "accept4", "accept", "recvfrom", "recvmsg", "sendto", "sendmsg", "shutdown", "setsockopt",
    "getsockopt", "getsockname", "getpeername", "epoll_wait", "epoll_pwait", "epoll_ctl",
    "rt_sigprocmask", "rt_sigreturn", "restart_syscall",
    /* memory, time, randomness */
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "clock_gettime", "gettimeofday",
    "time", "clock_nanosleep", "nanosleep", "getrandom", "futex",
    /* the end: exit, abort() */
    "exit", "exit_group", "getpid", "gettid", "tgkill", "rt_sigaction"};

/* AddressSanitizer's run-time (LeakSanitizer at exit: clone, ptrace) needs
 * calls that no allow-list should grant. */
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

int rg_sandbox(const struct rg_registrar *r)
{
    char err[300];

    if (SANITIZER_BUILD) {
        rg_log("seccomp: off (sanitizer build)");
        return 0;
    }
    if (r->no_seccomp) {
        rg_log("seccomp: off (--no-seccomp)");
        return 0;
    }
    if (tool_seccomp_allow(allowed, sizeof allowed / sizeof allowed[0], err, sizeof err) != 0) {
        rg_log("seccomp: %s", err);
        return -1;
    }
    return 0;
}
