/*
 * What the registration commands share (reg/reg.h): one getopt_long loop
 * over a table of options, with one-line usage errors, and the record of
 * a finished registration, which the registrar and `pdm register` build
 * alike so that both ends keep the same line.
 */
#include "reg/reg.h"

#include "common/sys.h"
#include "common/tools.h"

#include <pdm/keylog.h>

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

static const struct rg_opt *by_letter(const struct rg_opt *opts, size_t n, int c)
{
    for (size_t i = 0; i < n; i++)
        if (opts[i].letter == c)
            return &opts[i];
    return NULL;
}

int rg_getopt(const char *cmd, int argc, char **argv, const struct rg_opt *opts, size_t n,
              void *ctx, const char *usage, int max_operands)
{
    struct option lo[RG_OPTS_MAX + 2];
    char shorts[2 * RG_OPTS_MAX + 3] = ":h";
    size_t ns = 2;
    int c, rv;

    if (n > RG_OPTS_MAX)
        return rg_usage("%s: more than %d options", cmd, RG_OPTS_MAX); /* cannot happen */
    for (size_t i = 0; i < n; i++) {
        int has_arg = opts[i].flag ? no_argument : required_argument;
        lo[i] = (struct option){opts[i].name, has_arg, NULL,
                                opts[i].letter ? opts[i].letter : RG_OPT_LONG + (int)i};
        if (opts[i].letter) {
            shorts[ns++] = opts[i].letter;
            if (has_arg == required_argument)
                shorts[ns++] = ':';
        }
    }
    lo[n] = (struct option){"help", no_argument, NULL, 'h'};
    lo[n + 1] = (struct option){NULL, 0, NULL, 0};
    shorts[ns] = 0;

    /* Permuting: operands may stand anywhere; "--" ends the options. */
    opterr = 0;
    optind = 0; /* a fresh scan: GNU getopt re-initialises on 0 */
    while ((c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
        const struct rg_opt *o;
        if (c == 'h') {
            fputs(usage, stdout);
            return 1;
        }
        if (c == '?' || c == ':') {
            tool_getopt_error(cmd, c, argv, lo);
            return 2;
        }
        o = c >= RG_OPT_LONG ? &opts[c - RG_OPT_LONG] : by_letter(opts, n, c);
        if (!o) /* cannot happen: getopt_long returns only the letters given */
            return rg_usage("%s: option '-%c' not in its table", cmd, c);
        if (o->text)
            *o->text = optarg;
        else if (o->flag)
            *o->flag = 1;
        else if ((rv = o->fn(ctx, optarg)) != 0)
            return rv;
    }
    if (argc - optind > max_operands)
        return rg_usage("%s: unexpected argument '%s' (see pdm %s --help)", cmd,
                        argv[optind + max_operands], cmd);
    return 0;
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
