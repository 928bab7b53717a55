/*
 * Leaving root (common/user.h).
 */
#include "common/user.h"
#include "common/tools.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

const char *tool_default_user(void)
{
    const char *s = getenv("SUDO_USER");
    struct passwd *pw;

    if (s && *s && (pw = getpwnam(s)) && pw->pw_uid != 0)
        return s;
    return "nobody";
}

int tool_run_as(const char *user, char *err, size_t errlen)
{
    struct passwd *pw = getpwnam(user);

    if (!pw)
        return tool_fail(err, errlen, "%s: no such user", user);
    if (pw->pw_uid == geteuid() && pw->pw_uid == getuid())
        return 0; /* already that account: nothing to give up */
    if (setgroups(1, &pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
        return tool_fail(err, errlen, "%s: %s", user, strerror(errno));
    if (pw->pw_uid != 0 && setuid(0) == 0)
        return tool_fail(err, errlen, "%s: privileges could be regained", user);
    /* Nothing exec'd from here on (there is nothing, but the promise is
     * cheap) may gain privileges back through set-user-ID bits. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return tool_fail(err, errlen, "no_new_privs: %s", strerror(errno));
    return 0;
}
