/*
 * no_new_privs and the seccomp allow-list (common/sandbox.h).
 */
#include "common/sandbox.h"

#include "common/tools.h"

#include <errno.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int tool_no_new_privs(void)
{
    return prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L);
}

/* One filter: every call in names gets rule_act, every other call
 * default_act; each request in ioctls is allowed as ioctl's argument. */
static int seccomp_list(uint32_t default_act, uint32_t rule_act, const char *const *names, size_t n,
                        const unsigned long *ioctls, size_t nioctls, char *err, size_t errlen)
{
    scmp_filter_ctx ctx;
    int rc;

    if (tool_no_new_privs() != 0) {
        tool_fail(err, errlen, "no_new_privs: %s", strerror(errno));
        return -1;
    }
    if (!(ctx = seccomp_init(default_act))) {
        tool_fail(err, errlen, "seccomp_init failed");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        int nr = seccomp_syscall_resolve_name(names[i]);
        if (nr == __NR_SCMP_ERROR)
            continue; /* not a system call of this architecture */
        if ((rc = seccomp_rule_add(ctx, rule_act, nr, 0)) != 0) {
            tool_fail(err, errlen, "seccomp rule %s: %s", names[i], strerror(-rc));
            seccomp_release(ctx);
            return -1;
        }
    }
    for (size_t i = 0; i < nioctls; i++) {
        /* The request is an int to the kernel's compat paths and glibc
         * passes it as unsigned long: compare its low 32 bits only. */
        if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                                   SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, ioctls[i]))) != 0) {
            tool_fail(err, errlen, "seccomp rule ioctl %#lx: %s", ioctls[i], strerror(-rc));
            seccomp_release(ctx);
            return -1;
        }
    }
    rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc != 0) {
        tool_fail(err, errlen, "seccomp_load: %s", strerror(-rc));
        return -1;
    }
    return 0;
}

int tool_seccomp_allow(const char *const *names, size_t n, char *err, size_t errlen)
{
    return tool_seccomp_allow_ioctls(names, n, NULL, 0, err, errlen);
}

int tool_seccomp_allow_ioctls(const char *const *names, size_t n, const unsigned long *ioctls,
                              size_t nioctls, char *err, size_t errlen)
{
    return seccomp_list(SCMP_ACT_KILL_PROCESS, SCMP_ACT_ALLOW, names, n, ioctls, nioctls, err,
                        errlen);
}

int tool_seccomp_deny(const char *const *names, size_t n, char *err, size_t errlen)
{
    return seccomp_list(SCMP_ACT_ALLOW, SCMP_ACT_KILL_PROCESS, names, n, NULL, 0, err, errlen);
}

int tool_seccomp_test_armed(void)
{
    static int armed = -1;
    if (armed < 0) {
        const char *v = getenv("PDM_TEST_FORBIDDEN_SYSCALL");
        armed = v && !strcmp(v, "1");
    }
    return armed;
}

void tool_seccomp_test_trigger(void)
{
    if (tool_seccomp_test_armed())
        (void)syscall(SYS_umount2, "/nonexistent/pdm-seccomp-test", 0);
}
