/*
 * What the registration commands share (reg/reg.h): the one-line usage
 * errors of their getopt_long loops, and the record of a finished
 * registration, which the registrar and `pdm register` build alike so
 * that both ends keep the same line.
 */
#include "reg/reg.h"

#include "common/regtool.h"
#include "common/tools.h"

#include <pdm/keylog.h>

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* 1 when arg is "--NAME=..." for an option of opts whose val is val. */
static int long_with_value(const char *arg, int val, const struct option *opts)
{
    const char *eq = strchr(arg, '=');
    if (strncmp(arg, "--", 2) != 0 || !eq)
        return 0;
    for (; opts->name; opts++)
        if (opts->val == val && !strncmp(opts->name, arg + 2, (size_t)(eq - arg - 2)))
            return 1;
    return 0;
}

int rg_opt_error(const char *cmd, int c, char **argv, const struct option *opts)
{
    const char *arg = argv[optind - 1];

    /* A missing value can only be the last argument, so arg is the option
     * as typed ("--out", "-o"). getopt_long moves optind past a long
     * option in every case, but not past a cluster ("-vx") it is still
     * reading: there only optopt names the unknown short option. */
    if (c == ':')
        tool_err("%s: option '%s' needs a value", cmd, arg);
    else if (optopt && long_with_value(arg, optopt, opts))
        tool_err("%s: option '%.*s' takes no value", cmd, (int)strcspn(arg, "="), arg);
    else if (optopt > 0 && optopt < 256)
        tool_err("%s: unknown option '-%c' (see pdm %s --help)", cmd, optopt, cmd);
    else
        tool_err("%s: unknown or ambiguous option '%s' (see pdm %s --help)", cmd, arg, cmd);
    return 2;
}

int rg_usage(const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tool_err("%s", msg);
    return 2;
}

int rg_no_operands(const char *cmd, int argc, char **argv)
{
    if (optind >= argc)
        return 0;
    tool_err("%s: unexpected argument '%s' (see pdm %s --help)", cmd, argv[optind], cmd);
    return 2;
}

void rg_entry_set(struct tool_store_entry *e, const struct pdm_reg_result *res,
                  const uint8_t client[16], const uint8_t server[16], uint8_t server_plen,
                  uint64_t lifetime_s)
{
    memset(e, 0, sizeof *e);
    e->k.kind = PDM_KEYLOG_SECRET;
    memcpy(e->k.client, client, 16);
    e->k.client_plen = 128;
    memcpy(e->k.server, server, 16);
    e->k.server_plen = server_plen;
    e->k.suite = res->suite;
    memcpy(e->k.salt, res->salt, sizeof e->k.salt);
    memcpy(e->k.secret, res->secret, res->secret_len);
    e->k.secret_len = (uint8_t)res->secret_len;
    e->created = tool_unix_now();
    e->lifetime = lifetime_s;
}

int rg_keylog_append(const char *path, const struct tool_store_entry *e, char *err, size_t errlen)
{
    char line[PDM_KEYLOG_LINE_MAX];
    int rv = -1;

    if (pdm_keylog_format_line(&e->k, line, sizeof line) < 0)
        tool_fail(err, errlen, "cannot format the key-log line");
    else
        rv = tool_keyfile_append_line(path, line, err, errlen);
    pdm_memzero(line, sizeof line);
    return rv;
}
