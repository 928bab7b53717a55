/*
 * Process hardening shared by the long-running commands (docs/security.md):
 * no_new_privs and a seccomp allow-list (libseccomp).
 */
#ifndef PDM_TOOLS_SANDBOX_H
#define PDM_TOOLS_SANDBOX_H

#include <stddef.h>

/* Sets no_new_privs (prctl): no exec from here on gains privileges through
 * set-user-ID bits or file capabilities. Returns 0, or -1 with errno. */
int tool_no_new_privs(void);

/*
 * Installs a seccomp filter (with no_new_privs, which the kernel requires
 * of an unprivileged process) on the calling thread and every thread it
 * starts afterwards: the n system calls named in names are allowed, every
 * other one kills the whole process with SIGSYS (SCMP_ACT_KILL_PROCESS).
 * A name the running libseccomp or architecture does not know is skipped.
 * Returns 0, or -1 with a reason in err.
 */
int tool_seccomp_allow(const char *const *names, size_t n, char *err, size_t errlen);

/* tool_seccomp_allow(), and ioctl with one of the nioctls request numbers
 * in ioctls (no other ioctl: leave "ioctl" out of names). Without TSYNC,
 * so a thread that calls it filters itself (and the threads it starts
 * later) only: the agent's queue threads (agent/sandbox.c). */
int tool_seccomp_allow_ioctls(const char *const *names, size_t n, const unsigned long *ioctls,
                              size_t nioctls, char *err, size_t errlen);

/*
 * The opposite, for a thread whose needs are too wide to list (the agent's
 * main thread, which runs nft): every call allowed but the n named, which
 * kill the process (SIGSYS). Calling thread only (no TSYNC), inherited by
 * the threads and processes it starts. Returns 0, or -1 with err.
 */
int tool_seccomp_deny(const char *const *names, size_t n, char *err, size_t errlen);

/*
 * The test-only trigger of tests/it_hardening.sh: when the environment
 * held PDM_TEST_FORBIDDEN_SYSCALL=1 at the first call of
 * tool_seccomp_test_armed (make it before anything else), makes a system
 * call that no allow-list permits (umount2 of a path that does not exist:
 * harmless when it is let through). Exists only to prove that the filter
 * is in force; returns when it is not.
 */
int tool_seccomp_test_armed(void);
void tool_seccomp_test_trigger(void);

#endif
