/*
 * pdm option: the key material flags (--secret --salt --suite --src --dst
 * --sport --dport --protocol --kri), shared by encode and decode, and
 * turning them into the keys of the PDMv2 profile (lib/profile.c,
 * docs/profile.md §3). Every problem with them is a usage error.
 */
#include "dev/dev.h"

#include "common/tools.h"

#include <pdm/hpke.h>

#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char *const key_flag_names[DEV_NKEY] = {
    [DEV_K_SECRET] = "--secret", [DEV_K_SALT] = "--salt",         [DEV_K_SUITE] = "--suite",
    [DEV_K_SRC] = "--src",       [DEV_K_DST] = "--dst",           [DEV_K_SPORT] = "--sport",
    [DEV_K_DPORT] = "--dport",   [DEV_K_PROTOCOL] = "--protocol", [DEV_K_KRI] = "--kri",
};

const char *dev_key_first(const struct dev_key_args *ka)
{
    for (int k = 0; k < DEV_NKEY; k++)
        if (ka->v[k] != NULL)
            return key_flag_names[k];
    return "";
}

/* Reads a hex flag of exactly want bytes; prints the error itself. */
static int key_hex(const char *who, const char *flag, const char *val, uint8_t *out, size_t cap,
                   size_t want, const char *why)
{
    long n = tool_unhex(out, cap, val);

    if (n < 0 && strlen(val) % 2 == 0 && strlen(val) / 2 <= cap) {
        tool_err("%s: %s is not hex", who, flag);
        return -1;
    }
    if (n < 0 || (size_t)n != want) {
        tool_err("%s: %s has %zu hex digits; %s needs %zu bytes (%zu digits)", who, flag,
                 strlen(val), why, want, 2 * want);
        return -1;
    }
    return 0;
}

/* The optional port flag k into *port (left 0 when absent). */
static int key_port(const char *who, const struct dev_key_args *ka, enum dev_key_flag k,
                    uint16_t *port)
{
    uint64_t v;

    if (ka->v[k] == NULL)
        return 0;
    if (dev_flag_uint(who, key_flag_names[k], ka->v[k], UINT16_MAX, &v) != 0)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

/* The packet's tuple and the sender's Kri from the flags. */
static int key_tuple(const char *who, const struct dev_key_args *ka, struct pdm_flow_tuple *t,
                     uint16_t *kri)
{
    uint8_t info[PDM_PROFILE_FLOW_INFO_SIZE];
    uint64_t v;

    memset(t, 0, sizeof *t);
    if (inet_pton(AF_INET6, ka->v[DEV_K_SRC], t->src) != 1) {
        tool_err("%s: --src '%s' is not an IPv6 address", who, ka->v[DEV_K_SRC]);
        return -1;
    }
    if (inet_pton(AF_INET6, ka->v[DEV_K_DST], t->dst) != 1) {
        tool_err("%s: --dst '%s' is not an IPv6 address", who, ka->v[DEV_K_DST]);
        return -1;
    }
    if (dev_flag_uint(who, "--protocol", ka->v[DEV_K_PROTOCOL], UINT8_MAX, &v) != 0)
        return -1;
    t->proto = (uint8_t)v;
    if (key_port(who, ka, DEV_K_SPORT, &t->sport) != 0 ||
        key_port(who, ka, DEV_K_DPORT, &t->dport) != 0)
        return -1;
    /* The library writes ports as 0 for protocols without them: say so
     * rather than silently ignore what the user gave. */
    pdm_profile_flow_info(t, 0, info);
    if ((t->sport != 0 && info[16] == 0 && info[17] == 0) ||
        (t->dport != 0 && info[34] == 0 && info[35] == 0)) {
        tool_err("%s: protocol %u has no ports in the key schedule (only TCP, UDP, "
                 "UDP-Lite, SCTP and DCCP do); leave out --sport and --dport",
                 who, t->proto);
        return -1;
    }
    *kri = 0;
    if (ka->v[DEV_K_KRI] != NULL) {
        if (dev_flag_uint(who, "--kri", ka->v[DEV_K_KRI], PDM_KRI_MAX, &v) != 0)
            return -1;
        *kri = (uint16_t)v;
    }
    return 0;
}

/* The suite, salt and secret from the flags, made into a ready secret. */
static int key_secret(const char *who, const struct dev_key_args *ka,
                      struct pdm_profile_secret *secret)
{
    struct pdm_hpke_suite suite = PDM_PROFILE_SUITE_DEFAULT;
    struct pdm_hpke_sizes sz;
    uint8_t salt[PDM_PROFILE_SALT_SIZE + 1], ss[PDM_HPKE_NH_MAX + 1];
    char suite_text[PDM_SUITE_TEXT_SIZE];
    int rv = -1;

    if (ka->v[DEV_K_SUITE] != NULL && pdm_suite_parse(ka->v[DEV_K_SUITE], &suite) != 0) {
        tool_err("%s: --suite '%s' is not KEM-KDF-AEAD with 4 hex digits each "
                 "(e.g. 0020-0001-0001)",
                 who, ka->v[DEV_K_SUITE]);
        return -1;
    }
    pdm_suite_format(suite, suite_text);
    if (pdm_profile_suite_check(suite) != 0 || pdm_hpke_suite_sizes(suite, &sz) != 0) {
        tool_err("%s: suite %s cannot carry PDM data (unknown id, or the export-only "
                 "AEAD ffff)",
                 who, suite_text);
        return -1;
    }
    if (key_hex(who, "--salt", ka->v[DEV_K_SALT], salt, sizeof salt, PDM_PROFILE_SALT_SIZE,
                "the salt") != 0)
        goto out;
    if (key_hex(who, "--secret", ka->v[DEV_K_SECRET], ss, sizeof ss, sz.nh, suite_text) != 0)
        goto out;
    if (pdm_profile_secret_init(secret, suite, salt, PDM_PROFILE_SALT_SIZE, ss, sz.nh) != 0) {
        tool_err("%s: cannot derive keys for suite %s", who, suite_text);
        goto out;
    }
    rv = 0;
out:
    pdm_memzero(ss, sizeof ss);
    pdm_memzero(salt, sizeof salt);
    return rv;
}

int dev_key_load(const char *who, const struct dev_key_args *ka, struct pdm_profile_secret *secret,
                 struct pdm_flow_tuple *t, uint16_t *kri)
{
    static const enum dev_key_flag required[] = {DEV_K_SECRET, DEV_K_SALT, DEV_K_SRC, DEV_K_DST,
                                                 DEV_K_PROTOCOL};

    for (size_t k = 0; k < sizeof required / sizeof required[0]; k++) {
        if (ka->v[required[k]] == NULL) {
            tool_err("%s: key material needs %s (and --secret --salt --src --dst "
                     "--protocol; see 'pdm %s --help')",
                     who, key_flag_names[required[k]], who);
            return -1;
        }
    }
    if (key_tuple(who, ka, t, kri) != 0)
        return -1;
    return key_secret(who, ka, secret);
}

/* getopt_long() returns KEY_OPT + k for key flag k. */
#define KEY_OPT 0x200

/* Stores the value of key flag k; -1 (after printing the error) when it
 * was given before. */
static int key_set(const char *who, struct dev_key_args *ka, int k, const char *val)
{
    if (ka->v[k] != NULL) {
        tool_err("%s: %s given twice", who, key_flag_names[k]);
        return -1;
    }
    ka->v[k] = val;
    ka->any = 1;
    return 0;
}

int dev_option_getopt(const char *who, int argc, char **argv, const struct option *own,
                      const char *usage, struct dev_key_args *ka,
                      int (*flag)(void *ctx, int val, const char *arg), void *ctx)
{
    struct option opts[DEV_NKEY + DEV_OWN_MAX + 2];
    size_t n = DEV_NKEY;
    int c;

    for (int k = 0; k < DEV_NKEY; k++)
        opts[k] = (struct option){key_flag_names[k] + 2, required_argument, NULL, KEY_OPT + k};
    for (; own->name != NULL && n < DEV_NKEY + DEV_OWN_MAX; own++)
        opts[n++] = *own;
    opts[n++] = (struct option){"help", no_argument, NULL, 'h'};
    opts[n] = (struct option){NULL, 0, NULL, 0};

    optind = 0; /* glibc: start afresh; argv[0] is the subcommand's name */
    opterr = 0; /* its complaints are ours to word */
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return 0;
        }
        if (c == ':' || c == '?') {
            tool_getopt_error(who, c, argv, opts);
            return 2;
        }
        if (c >= KEY_OPT && c < KEY_OPT + DEV_NKEY) {
            if (key_set(who, ka, c - KEY_OPT, optarg) != 0)
                return 2;
        } else if (flag(ctx, c, optarg) != 0) {
            return 2;
        }
    }
    return -1;
}
