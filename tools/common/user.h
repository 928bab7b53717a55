/*
 * Leaving root: the commands that need privileges only to open something
 * (a listening port, a capture handle) give them up before they read
 * untrusted input (docs/security.md).
 */
#ifndef PDM_TOOLS_USER_H
#define PDM_TOOLS_USER_H

#include <stddef.h>

/*
 * The account a root process runs as once its privileged setup is done,
 * when the command line named none: the user who ran sudo (SUDO_USER,
 * when it names an account other than root), else "nobody". Returns a
 * name that lives as long as the environment.
 */
const char *tool_default_user(void);

/*
 * Becomes user: its uid and gid, its primary group as the only
 * supplementary group, no capability left (a change of uid away from 0
 * clears them), no_new_privs, and checks that uid 0 cannot be regained.
 * When the process already is that account, nothing changes (so "root"
 * keeps a root process as it is). Returns 0, or -1 with a reason in err.
 */
int tool_run_as(const char *user, char *err, size_t errlen);

#endif /* PDM_TOOLS_USER_H */
