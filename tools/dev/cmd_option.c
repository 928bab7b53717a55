/*
 * pdm option: encode and decode one PDM or PDMv2 option by hand, to debug
 * interoperability ("what bytes does openpdm send for these fields?",
 * "what does this capture say?"). A thin shell over the codec: every byte
 * decision is lib/codec.c's; this file only parses arguments, checks
 * ranges and prints.
 *
 *   pdm option encode --format pdm|v2 [--rn N] [--f 0|1] [--type T]
 *                     [--next-header N] [FIELD=VALUE ...]
 *   pdm option encode --format v2-encrypted KEY... --rn N [--f 0|1] [--type T]
 *                     [--next-header N] [FIELD=VALUE ...]
 *   pdm option decode [--header] [--type T] [KEY...] HEX...
 *
 *   KEY: --secret HEX --salt HEX [--suite KEM-KDF-AEAD] --src ADDR --dst ADDR
 *        [--sport N] [--dport N] --protocol N [--kri N]
 *
 * With KEY, an encrypted option is sealed or opened with the keys of the
 * PDMv2 profile (lib/profile.c, docs/profile.md §3); without it, decode
 * shows an encrypted option's sealed bytes as they are.
 *
 * Exit status: 0 success; 1 the bytes given to decode are malformed, or
 * fail authentication (one line on stderr says what is wrong); 2 usage
 * error (unknown flag or field, value out of range, key material
 * incomplete or of the wrong size).
 */
#include "common/tools.h"

#include <pdm/codec.h>
#include <pdm/profile.h>
#include <pdm/time.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char usage_top[] =
    "usage: pdm option encode --format pdm|v2 [--rn N] [--f 0|1] [--type T]\n"
    "                         [--next-header N] [FIELD=VALUE ...]\n"
    "       pdm option encode --format v2-encrypted KEY... --rn N [--f 0|1]\n"
    "                         [--type T] [--next-header N] [FIELD=VALUE ...]\n"
    "       pdm option decode [--header] [--type T] [KEY...] HEX...\n"
    "\n"
    "KEY: --secret HEX --salt HEX [--suite KEM-KDF-AEAD] --src ADDR --dst ADDR\n"
    "     [--sport N] [--dport N] --protocol N [--kri N]\n"
    "\n"
    "Encodes or decodes one PDM option (RFC 8250) or PDMv2 option\n"
    "(draft-ietf-ippm-encrypted-pdmv2-04). `pdm option encode --help` and\n"
    "`pdm option decode --help` tell more; see also pdm-option(8).\n";

/* The key material flags, shared by encode and decode. */
#define USAGE_KEY                                                                                  \
    "Key material (profile pdmv2-hpke-1, docs/profile.md section 3):\n"                            \
    "  --secret HEX      SharedSecret (Nh bytes of the suite's KDF)\n"                             \
    "  --salt HEX        the registration's salt (32 bytes)\n"                                     \
    "  --suite S         KEM-KDF-AEAD ids, 4 hex digits each (default 0020-0001-0001)\n"           \
    "  --src ADDR        IPv6 source of the packet (the sender)\n"                                 \
    "  --dst ADDR        IPv6 destination\n"                                                       \
    "  --sport N --dport N  transport ports (TCP, UDP, UDP-Lite, SCTP, DCCP only;\n"               \
    "                    default 0)\n"                                                             \
    "  --protocol N      upper-layer protocol number, 0..255 (e.g. 6, 17, 58)\n"                   \
    "  --kri N           the sender's key rotation index, 0..65535 (default 0)\n"

static const char usage_encode[] =
    "usage: pdm option encode --format pdm|v2 [--rn N] [--f 0|1] [--type T]\n"
    "                         [--next-header N] [FIELD=VALUE ...]\n"
    "       pdm option encode --format v2-encrypted KEY... --rn N [--f 0|1]\n"
    "                         [--type T] [--next-header N] [FIELD=VALUE ...]\n"
    "\n"
    "Prints the option as lowercase hex: 12 bytes for pdm (RFC 8250, Option\n"
    "Length 10), 20 bytes for v2 (unencrypted PDMv2, Option Length 18), 36\n"
    "bytes for v2-encrypted (Option Length 34), sealed with the key material.\n"
    "\n"
    "  --format F        pdm, v2 or v2-encrypted (required)\n"
    "  --rn N            v2: 15-bit random number, 0..32767 (default 0);\n"
    "                    v2-encrypted: 1..32767, required\n"
    "  --f B             F (key rotation) bit, 0 or 1; v2 default 0;\n"
    "                    v2-encrypted: Kri mod 2, which is its default\n"
    "  --type T          option type, 0..255 (default 0x0f)\n"
    "  --next-header N   print a whole Destination Options header instead,\n"
    "                    with Next Header N (0..255), padded to 8 octets\n"
    "\n" USAGE_KEY "\n"
    "FIELD is one of (missing fields are 0):\n"
    "  scale_dtlr scale_dtls     0..255\n"
    "  global_pointer            0..4294967295 (PDMv2 only)\n"
    "  psntp psnlr               0..65535\n"
    "  delta_tlr delta_tls       0..65535\n"
    "Numbers are decimal or 0x-prefixed hex.\n";

static const char usage_decode[] =
    "usage: pdm option decode [--header] [--type T] [KEY...] HEX...\n"
    "\n"
    "Decodes one option (from its Type byte) and prints one JSON object on\n"
    "one line. HEX may be split over several arguments; white space and ':'\n"
    "between digits are ignored.\n"
    "\n"
    "  --header   HEX is a whole Destination Options header (Next Header,\n"
    "             Hdr Ext Len, options): its TLVs and padding are checked,\n"
    "             the option of type T is decoded and \"next_header\" printed\n"
    "  --type T   option type to accept, 0..255 (default 0x0f)\n"
    "\n"
    "Formats: \"pdm\" (Option Length 10), \"v2\" (18) and \"v2-encrypted\" (34;\n"
    "its 30 sealed bytes are printed as \"sealed\", the fields stay unknown).\n"
    "\n"
    "With KEY, an encrypted option is opened: its tag is checked and the\n"
    "fields are printed with \"kri\" (the Kri it opened under: --kri, the one\n"
    "before it, or up to 8 rotations ahead with the option's F parity) and\n"
    "\"auth\":\"ok\". If it does not open, nothing is printed and the exit\n"
    "status is 1.\n"
    "\n" USAGE_KEY;

/* ---- argument parsing ---------------------------------------------------- */

/*
 * Parses a whole unsigned number, decimal or 0x-hex, at most max.
 * Returns 0, or -1 when s is not such a number (empty, sign, junk,
 * overflow) or exceeds max.
 */
static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    unsigned base = 10;
    uint64_t v = 0;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (*s == '\0')
        return -1;
    for (; *s; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            return -1;
        if (d > max || v > (max - d) / base)
            return -1;
        v = v * base + d;
    }
    *out = v;
    return 0;
}

/* Parses the value of a numeric flag; prints the error itself. */
static int flag_uint(const char *cmd, const char *flag, const char *val, uint64_t max,
                     uint64_t *out)
{
    if (parse_uint(val, max, out) != 0) {
        tool_err("option %s: %s '%s' is not a number in 0..%" PRIu64, cmd, flag, val, max);
        return -1;
    }
    return 0;
}

/* Operands (FIELD=VALUE, HEX words) one command line may carry. */
#define MAX_OPERANDS 64

static int is_help(const char *a)
{
    return !strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "help");
}

/* ---- key material (PDMv2 profile, docs/profile.md §3) -------------------- */

enum key_flag {
    K_SECRET,
    K_SALT,
    K_SUITE,
    K_SRC,
    K_DST,
    K_SPORT,
    K_DPORT,
    K_PROTOCOL,
    K_KRI,
    NKEY
};

static const char *const key_flag_names[NKEY] = {
    [K_SECRET] = "--secret", [K_SALT] = "--salt",         [K_SUITE] = "--suite",
    [K_SRC] = "--src",       [K_DST] = "--dst",           [K_SPORT] = "--sport",
    [K_DPORT] = "--dport",   [K_PROTOCOL] = "--protocol", [K_KRI] = "--kri",
};

/* The key flags as given on the command line (NULL when absent). */
struct key_args {
    const char *v[NKEY];
    int any;
};

/*
 * Matches one key flag at argv[*i]. Returns 1 when it was one (value
 * stored, *i advanced), 0 when argv[*i] is another flag, -1 (after
 * printing the error) when its value is missing or it is given twice.
 */
static int key_flag(const char *cmd, int argc, char **argv, int *i, struct key_args *ka)
{
    const char *val;

    for (int k = 0; k < NKEY; k++) {
        int r = tool_flag_value(argc, argv, i, key_flag_names[k], &val);
        if (r == 0)
            continue;
        if (r < 0) {
            tool_err("option %s: %s needs a value", cmd, key_flag_names[k]);
            return -1;
        }
        if (ka->v[k] != NULL) {
            tool_err("option %s: %s given twice", cmd, key_flag_names[k]);
            return -1;
        }
        ka->v[k] = val;
        ka->any = 1;
        return 1;
    }
    return 0;
}

/* Reads a hex flag of exactly want bytes; prints the error itself. */
static int key_hex(const char *cmd, const char *flag, const char *val, uint8_t *out, size_t cap,
                   size_t want, const char *why)
{
    long n = tool_unhex(out, cap, val);

    if (n < 0 && strlen(val) % 2 == 0 && strlen(val) / 2 <= cap) {
        tool_err("option %s: %s is not hex", cmd, flag);
        return -1;
    }
    if (n < 0 || (size_t)n != want) {
        tool_err("option %s: %s has %zu hex digits; %s needs %zu bytes (%zu digits)", cmd, flag,
                 strlen(val), why, want, 2 * want);
        return -1;
    }
    return 0;
}

/*
 * Turns the key flags into a ready secret, the packet's tuple and the
 * sender's Kri. Every problem is a usage error: prints it, returns -1.
 */
static int key_load(const char *cmd, const struct key_args *ka, struct pdm_profile_secret *secret,
                    struct pdm_flow_tuple *t, uint16_t *kri)
{
    static const enum key_flag required[] = {K_SECRET, K_SALT, K_SRC, K_DST, K_PROTOCOL};
    struct pdm_hpke_suite suite = PDM_PROFILE_SUITE_DEFAULT;
    struct pdm_hpke_sizes sz;
    uint8_t salt[PDM_PROFILE_SALT_SIZE + 1], ss[PDM_HPKE_NH_MAX + 1];
    uint8_t info[PDM_PROFILE_FLOW_INFO_SIZE];
    char suite_text[PDM_SUITE_TEXT_SIZE];
    uint64_t v;
    int rv = -1;

    memset(t, 0, sizeof *t);
    for (size_t k = 0; k < sizeof required / sizeof required[0]; k++) {
        if (ka->v[required[k]] == NULL) {
            tool_err("option %s: key material needs %s (and --secret --salt --src --dst "
                     "--protocol; see 'pdm option %s --help')",
                     cmd, key_flag_names[required[k]], cmd);
            return -1;
        }
    }
    if (ka->v[K_SUITE] != NULL && pdm_suite_parse(ka->v[K_SUITE], &suite) != 0) {
        tool_err("option %s: --suite '%s' is not KEM-KDF-AEAD with 4 hex digits each "
                 "(e.g. 0020-0001-0001)",
                 cmd, ka->v[K_SUITE]);
        return -1;
    }
    pdm_suite_format(suite, suite_text);
    if (pdm_profile_suite_check(suite) != 0 || pdm_hpke_suite_sizes(suite, &sz) != 0) {
        tool_err("option %s: suite %s cannot carry PDM data (unknown id, or the export-only "
                 "AEAD ffff)",
                 cmd, suite_text);
        return -1;
    }
    if (inet_pton(AF_INET6, ka->v[K_SRC], t->src) != 1) {
        tool_err("option %s: --src '%s' is not an IPv6 address", cmd, ka->v[K_SRC]);
        return -1;
    }
    if (inet_pton(AF_INET6, ka->v[K_DST], t->dst) != 1) {
        tool_err("option %s: --dst '%s' is not an IPv6 address", cmd, ka->v[K_DST]);
        return -1;
    }
    if (flag_uint(cmd, "--protocol", ka->v[K_PROTOCOL], UINT8_MAX, &v) != 0)
        return -1;
    t->proto = (uint8_t)v;
    if (ka->v[K_SPORT] != NULL) {
        if (flag_uint(cmd, "--sport", ka->v[K_SPORT], UINT16_MAX, &v) != 0)
            return -1;
        t->sport = (uint16_t)v;
    }
    if (ka->v[K_DPORT] != NULL) {
        if (flag_uint(cmd, "--dport", ka->v[K_DPORT], UINT16_MAX, &v) != 0)
            return -1;
        t->dport = (uint16_t)v;
    }
    /* The library writes ports as 0 for protocols without them: say so
     * rather than silently ignore what the user gave. */
    pdm_profile_flow_info(t, 0, info);
    if ((t->sport != 0 && info[16] == 0 && info[17] == 0) ||
        (t->dport != 0 && info[34] == 0 && info[35] == 0)) {
        tool_err("option %s: protocol %u has no ports in the key schedule (only TCP, UDP, "
                 "UDP-Lite, SCTP and DCCP do); leave out --sport and --dport",
                 cmd, t->proto);
        return -1;
    }
    *kri = 0;
    if (ka->v[K_KRI] != NULL) {
        if (flag_uint(cmd, "--kri", ka->v[K_KRI], PDM_KRI_MAX, &v) != 0)
            return -1;
        *kri = (uint16_t)v;
    }
    if (key_hex(cmd, "--salt", ka->v[K_SALT], salt, sizeof salt, PDM_PROFILE_SALT_SIZE,
                "the salt") != 0)
        goto out;
    if (key_hex(cmd, "--secret", ka->v[K_SECRET], ss, sizeof ss, sz.nh, suite_text) != 0)
        goto out;
    if (pdm_profile_secret_init(secret, suite, salt, PDM_PROFILE_SALT_SIZE, ss, sz.nh) != 0) {
        tool_err("option %s: cannot derive keys for suite %s", cmd, suite_text);
        goto out;
    }
    rv = 0;
out:
    pdm_memzero(ss, sizeof ss);
    pdm_memzero(salt, sizeof salt);
    return rv;
}

/* Names the first key flag given, for "only with v2-encrypted" errors. */
static const char *first_key_flag(const struct key_args *ka)
{
    for (int k = 0; k < NKEY; k++)
        if (ka->v[k] != NULL)
            return key_flag_names[k];
    return "";
}

/* ---- encode -------------------------------------------------------------- */

enum field_id { F_SCALE_DTLR, F_SCALE_DTLS, F_GLOBAL_POINTER, F_PSNTP, F_PSNLR, F_DTLR, F_DTLS };

static const struct {
    const char *name;
    uint64_t max;
    int v2_only;
} fields[] = {
    [F_SCALE_DTLR] = {"scale_dtlr", UINT8_MAX, 0},
    [F_SCALE_DTLS] = {"scale_dtls", UINT8_MAX, 0},
    [F_GLOBAL_POINTER] = {"global_pointer", UINT32_MAX, 1},
    [F_PSNTP] = {"psntp", UINT16_MAX, 0},
    [F_PSNLR] = {"psnlr", UINT16_MAX, 0},
    [F_DTLR] = {"delta_tlr", UINT16_MAX, 0},
    [F_DTLS] = {"delta_tls", UINT16_MAX, 0},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

/* Stores a range-checked value into its field (the table bounds the cast). */
static void field_set(struct pdm_fields *f, enum field_id id, uint64_t v)
{
    switch (id) {
    case F_SCALE_DTLR:
        f->scale_dtlr = (uint8_t)v;
        break;
    case F_SCALE_DTLS:
        f->scale_dtls = (uint8_t)v;
        break;
    case F_GLOBAL_POINTER:
        f->global_pointer = (uint32_t)v;
        break;
    case F_PSNTP:
        f->psntp = (uint16_t)v;
        break;
    case F_PSNLR:
        f->psnlr = (uint16_t)v;
        break;
    case F_DTLR:
        f->delta_tlr = (uint16_t)v;
        break;
    case F_DTLS:
        f->delta_tls = (uint16_t)v;
        break;
    }
}

/* Applies one FIELD=VALUE argument; prints the error itself. */
static int apply_field(struct pdm_fields *f, unsigned *seen, enum pdm_format fmt, const char *arg)
{
    const char *eq = strchr(arg, '=');
    size_t namelen;
    uint64_t v;

    if (!eq) {
        tool_err("option encode: '%s' is not FIELD=VALUE (see 'pdm option encode --help')", arg);
        return -1;
    }
    namelen = (size_t)(eq - arg);
    for (size_t i = 0; i < NFIELDS; i++) {
        if (strlen(fields[i].name) != namelen || strncmp(fields[i].name, arg, namelen) != 0)
            continue;
        if (fields[i].v2_only && fmt == PDM_FORMAT_RFC8250) {
            tool_err("option encode: %s exists only in PDMv2 (--format v2)", fields[i].name);
            return -1;
        }
        if (*seen & (1u << i)) {
            tool_err("option encode: %s given twice", fields[i].name);
            return -1;
        }
        if (parse_uint(eq + 1, fields[i].max, &v) != 0) {
            tool_err("option encode: %s '%s' is not a number in 0..%" PRIu64, fields[i].name,
                     eq + 1, fields[i].max);
            return -1;
        }
        *seen |= 1u << i;
        field_set(f, (enum field_id)i, v);
        return 0;
    }
    tool_err("option encode: unknown field '%.*s' (fields: scale_dtlr scale_dtls "
             "global_pointer psntp psnlr delta_tlr delta_tls)",
             (int)namelen, arg);
    return -1;
}

/*
 * Seals opt (rn, f, fields, type) with the key material into out (36
 * bytes). Returns 0, or the exit status after printing the error.
 */
static int encode_sealed(const struct pdm_option *opt, const struct key_args *ka, int have_rn,
                         int have_f, uint8_t *out, size_t cap)
{
    struct pdm_profile_secret secret;
    struct pdm_profile_key key;
    struct pdm_flow_tuple t;
    uint16_t kri;
    int rv, status = 1;

    memset(&key, 0, sizeof key);
    if (!have_rn || opt->rn == 0) {
        tool_err("option encode: v2-encrypted needs --rn in 1..32767 (RN is never 0 in an "
                 "encrypted option)");
        return 2;
    }
    if (key_load("encode", ka, &secret, &t, &kri) != 0)
        return 2;
    if (have_f && opt->f != (kri & 1)) {
        tool_err("option encode: --f %u with --kri %u: F is always Kri mod 2 (profile "
                 "section 3)",
                 opt->f, kri);
        status = 2;
        goto out;
    }
    if ((rv = pdm_profile_key_init(&key, &secret, &t, kri)) != 0) {
        tool_err("option encode: deriving the key: %s", pdm_strerror(rv));
        goto out;
    }
    if ((rv = pdm_profile_seal(&key, opt->type, opt->rn, &opt->fields, out, cap)) < 0) {
        tool_err("option encode: sealing: %s", pdm_strerror(rv));
        goto out;
    }
    status = 0;
out:
    pdm_profile_key_clear(&key);
    pdm_profile_secret_wipe(&secret);
    return status;
}

static int option_encode(int argc, char **argv)
{
    struct pdm_option opt;
    uint8_t buf[PDM_OPTSIZE_MAX], hdr[PDM_HDRSIZE_V2_ENC];
    const char *fmt_name = NULL, *rn_arg = NULL, *f_arg = NULL, *val;
    const char *ops[MAX_OPERANDS];
    struct key_args ka;
    size_t nops = 0;
    uint64_t v;
    int next_header = -1, i, r;
    unsigned seen = 0;
    ssize_t n;

    memset(&opt, 0, sizeof opt);
    memset(&ka, 0, sizeof ka);
    opt.type = PDM_OPT_TYPE;

    /* Flags and FIELD=VALUE operands in any order; the operands are applied
     * once the format is known (it decides which fields exist). */
    for (i = 1; i < argc; i++) {
        if (argv[i][0] != '-') {
            if (nops == MAX_OPERANDS) {
                tool_err("option encode: too many arguments");
                return 2;
            }
            ops[nops++] = argv[i];
            continue;
        }
        if (is_help(argv[i])) {
            fputs(usage_encode, stdout);
            return 0;
        }
        if ((r = key_flag("encode", argc, argv, &i, &ka)) != 0) {
            if (r < 0)
                return 2;
        } else if ((r = tool_flag_value(argc, argv, &i, "--format", &val)) != 0) {
            if (r < 0)
                goto missing;
            fmt_name = val;
        } else if ((r = tool_flag_value(argc, argv, &i, "--rn", &val)) != 0) {
            if (r < 0)
                goto missing;
            rn_arg = val;
        } else if ((r = tool_flag_value(argc, argv, &i, "--f", &val)) != 0) {
            if (r < 0)
                goto missing;
            f_arg = val;
        } else if ((r = tool_flag_value(argc, argv, &i, "--type", &val)) != 0) {
            if (r < 0)
                goto missing;
            if (flag_uint("encode", "--type", val, UINT8_MAX, &v) != 0)
                return 2;
            opt.type = (uint8_t)v;
        } else if ((r = tool_flag_value(argc, argv, &i, "--next-header", &val)) != 0) {
            if (r < 0)
                goto missing;
            if (flag_uint("encode", "--next-header", val, UINT8_MAX, &v) != 0)
                return 2;
            next_header = (int)v;
        } else {
            tool_err("option encode: unknown flag '%s' (see 'pdm option encode --help')", argv[i]);
            return 2;
        }
    }

    if (!fmt_name) {
        tool_err("option encode: --format pdm|v2|v2-encrypted is required");
        return 2;
    }
    opt.format = pdm_format_parse(fmt_name);
    if (opt.format == PDM_FORMAT_NONE) {
        tool_err("option encode: unknown format '%s' (pdm, v2 or v2-encrypted)", fmt_name);
        return 2;
    }
    if (opt.format == PDM_FORMAT_V2_ENCRYPTED && !ka.any) {
        tool_err("option encode: v2-encrypted options are sealed: give the key material "
                 "(--secret --salt --src --dst --protocol ...; see 'pdm option encode --help')");
        return 2;
    }
    if (opt.format != PDM_FORMAT_V2_ENCRYPTED && ka.any) {
        tool_err("option encode: %s is key material, only for --format v2-encrypted",
                 first_key_flag(&ka));
        return 2;
    }
    if (opt.format == PDM_FORMAT_RFC8250 && (rn_arg || f_arg)) {
        tool_err("option encode: %s exists only in PDMv2 (--format v2)", rn_arg ? "--rn" : "--f");
        return 2;
    }
    if (rn_arg) {
        if (flag_uint("encode", "--rn", rn_arg, PDM_RN_MAX, &v) != 0)
            return 2;
        opt.rn = (uint16_t)v;
    }
    if (f_arg) {
        if (flag_uint("encode", "--f", f_arg, 1, &v) != 0)
            return 2;
        opt.f = (uint8_t)v;
    }
    for (size_t k = 0; k < nops; k++)
        if (apply_field(&opt.fields, &seen, opt.format, ops[k]) != 0)
            return 2;

    if (opt.format == PDM_FORMAT_V2_ENCRYPTED) {
        if ((r = encode_sealed(&opt, &ka, rn_arg != NULL, f_arg != NULL, buf, sizeof buf)) != 0)
            return r;
        n = PDM_OPTSIZE_V2_ENC;
    } else if ((n = pdm_option_encode(buf, sizeof buf, &opt)) < 0) {
        tool_err("option encode: %s", pdm_strerror((int)n));
        return 1;
    }
    if (next_header >= 0) {
        ssize_t h = pdm_dstopt_build(hdr, sizeof hdr, (uint8_t)next_header, buf, (size_t)n);
        if (h < 0) {
            tool_err("option encode: header: %s", pdm_strerror((int)h));
            return 1;
        }
        tool_print_hex(hdr, (size_t)h);
    } else {
        tool_print_hex(buf, (size_t)n);
    }
    putchar('\n');
    return 0;

missing:
    tool_err("option encode: %s needs a value", argv[i]);
    return 2;
}

/* ---- decode -------------------------------------------------------------- */

/*
 * Reads hex from the nwords words, skipping white space and ':' so that
 * "0f 0a ..." and "0f:0a:..." (how tools often print bytes) work too.
 * Returns the byte count, or -1 after printing what is wrong.
 */
static long read_hex(uint8_t *out, size_t cap, const char *const *words, size_t nwords)
{
    size_t n = 0;
    int hi = -1;

    for (size_t i = 0; i < nwords; i++) {
        for (const char *s = words[i]; *s; s++) {
            int d;
            uint8_t v;
            if (isspace((unsigned char)*s) || *s == ':')
                continue;
            if ((d = pdm_hex_decode(&v, 1, (const char[2]){'0', *s}, 2) == 1 ? v : -1) < 0) {
                if (isprint((unsigned char)*s))
                    tool_err("option decode: '%c' is not a hex digit", *s);
                else
                    tool_err("option decode: byte 0x%02x is not a hex digit", (unsigned char)*s);
                return -1;
            }
            if (hi < 0) {
                hi = d;
                continue;
            }
            if (n == cap) {
                tool_err("option decode: input is longer than %zu bytes", cap);
                return -1;
            }
            out[n++] = (uint8_t)(hi << 4 | d);
            hi = -1;
        }
    }
    if (hi >= 0) {
        tool_err("option decode: odd number of hex digits");
        return -1;
    }
    if (n == 0) {
        tool_err("option decode: no bytes to decode (see 'pdm option decode --help')");
        return -1;
    }
    return (long)n;
}

/*
 * Turns a pdm_option_decode() error for the option at `in` (avail bytes
 * from its Type byte to the end of the input) into a one-line message.
 */
static void explain_option_error(int err, const uint8_t *in, size_t avail, uint8_t type)
{
    if (avail < 2) {
        tool_err("option decode: truncated: %zu byte%s, an option needs Type and Length", avail,
                 avail == 1 ? "" : "s");
        return;
    }
    switch (err) {
    case PDM_ERR_OPT_TYPE:
        tool_err("option decode: option type 0x%02x is not the PDM type 0x%02x (see --type)", in[0],
                 type);
        break;
    case PDM_ERR_OPT_LENGTH:
        tool_err("option decode: option length %u is not %u, %u or %u", in[1], PDM_OPTLEN_RFC8250,
                 PDM_OPTLEN_V2, PDM_OPTLEN_V2_ENC);
        break;
    case PDM_ERR_TRUNCATED:
        tool_err("option decode: truncated: option length %u needs %u bytes, %zu given", in[1],
                 in[1] + 2u, avail);
        break;
    case PDM_ERR_OPT_VERSION:
        tool_err("option decode: PDMv2 version %u is not %u",
                 avail > 2 ? (unsigned)(in[2] >> 4) : 0u, PDM_V2_VERSION);
        break;
    case PDM_ERR_OPT_RN:
        tool_err("option decode: encrypted PDMv2 option with random number 0");
        break;
    case PDM_ERR_DUPLICATE:
        tool_err("option decode: more than one option of type 0x%02x", type);
        break;
    default:
        tool_err("option decode: %s", pdm_strerror(err));
        break;
    }
}

/*
 * Walks the TLVs of a Destination Options header of hdrlen bytes (RFC 8200
 * §4.2: Pad1 is one zero byte; every other option is Type, Length and
 * Length bytes; PadN carries zeros) after the codec has rejected it, only
 * to say where it goes wrong: the codec's verdict stands. Sets *type_off
 * to the offset of the first option of type `type` met (0 if none). When
 * report is set, prints the first problem found and returns 1; returns 0
 * when it sees none.
 */
static int header_walk(const uint8_t *h, size_t hdrlen, uint8_t type, int report, size_t *type_off)
{
    size_t off = 2, pad_run = 0, pad_start = 0;

    *type_off = 0;
    while (off < hdrlen) {
        size_t olen = 1;

        if (h[off] != PDM_OPT_PAD1) {
            if (off + 2 > hdrlen || off + 2 + h[off + 1] > hdrlen) {
                if (report)
                    tool_err("option decode: option 0x%02x at offset %zu runs past the "
                             "%zu-byte header",
                             h[off], off, hdrlen);
                return report;
            }
            olen = 2u + h[off + 1];
        }
        if (h[off] == PDM_OPT_PAD1 || h[off] == PDM_OPT_PADN) {
            if (pad_run == 0)
                pad_start = off;
            pad_run += olen;
            /* The codec takes at most 7 padding bytes in a row, as Linux
             * does (RFC 8200 §4.2 needs no more to reach 8 octets). */
            if (pad_run > 7) {
                if (report)
                    tool_err("option decode: %zu bytes of padding in a row at offset %zu "
                             "(more than 7)",
                             pad_run, pad_start);
                return report;
            }
            for (size_t k = 2; h[off] == PDM_OPT_PADN && k < olen; k++) {
                if (h[off + k] != 0) {
                    if (report)
                        tool_err("option decode: PadN at offset %zu carries a non-zero byte", off);
                    return report;
                }
            }
        } else {
            pad_run = 0;
            if (h[off] == type && *type_off == 0)
                *type_off = off;
        }
        off += olen;
    }
    return 0;
}

/*
 * Prints a time field decoded to nanoseconds (DELTA × 2^SCALE attoseconds,
 * truncated), or null when it does not fit in 64 bits: a scale that large
 * is legal on the wire but means no real delay.
 */
static void print_ns(const char *key, uint16_t delta, uint8_t scale)
{
    uint64_t ns = pdm_time_decode_ns(delta, scale);

    if (ns == UINT64_MAX)
        printf(",\"%s\":null", key);
    else
        printf(",\"%s\":%" PRIu64, key, ns);
}

/*
 * Prints the option as one JSON object. kri >= 0 means o is an encrypted
 * option that opened under that Kri: its fields are printed (they are
 * authentic) with "kri" and "auth":"ok" instead of the sealed bytes.
 */
static void print_json(const struct pdm_option *o, int next_header, long kri)
{
    const struct pdm_fields *f = &o->fields;

    putchar('{');
    if (next_header >= 0)
        printf("\"next_header\":%d,", next_header);
    printf("\"format\":\"%s\"", pdm_format_name(o->format));
    if (o->format != PDM_FORMAT_RFC8250)
        printf(",\"rn\":%u,\"f\":%u", o->rn, o->f);
    if (kri >= 0)
        printf(",\"kri\":%ld,\"auth\":\"ok\"", kri);
    else if (o->format == PDM_FORMAT_V2_ENCRYPTED) {
        printf(",\"sealed\":\"");
        tool_print_hex(o->sealed, sizeof o->sealed);
        printf("\"}\n");
        return;
    }
    printf(",\"scale_dtlr\":%u,\"scale_dtls\":%u", f->scale_dtlr, f->scale_dtls);
    if (o->format != PDM_FORMAT_RFC8250)
        printf(",\"global_pointer\":%" PRIu32, f->global_pointer);
    printf(",\"psntp\":%u,\"psnlr\":%u,\"delta_tlr\":%u,\"delta_tls\":%u", f->psntp, f->psnlr,
           f->delta_tlr, f->delta_tls);
    print_ns("delta_tlr_ns", f->delta_tlr, f->scale_dtlr);
    print_ns("delta_tls_ns", f->delta_tls, f->scale_dtls);
    printf("}\n");
}

/*
 * Opens the encrypted option at in (avail bytes from its Type byte) with
 * the key material, as a receiver expecting the sender at --kri would
 * (profile §3: that Kri, the one before, or ahead with F's parity), and
 * prints it. Returns the exit status; prints nothing of the fields unless
 * the tag checks out.
 */
static int decode_open(const struct key_args *ka, const uint8_t *in, size_t avail, uint8_t type,
                       int next_header)
{
    struct pdm_profile_secret secret;
    struct pdm_profile_rx rx;
    struct pdm_flow_tuple t;
    struct pdm_option opened;
    uint16_t kri, got = 0;
    int rv;

    if (key_load("decode", ka, &secret, &t, &kri) != 0)
        return 2;
    memset(&rx, 0, sizeof rx);
    pdm_profile_rx_init(&rx, kri);
    rv = pdm_profile_rx_open(&rx, &secret, &t, in, avail, type, &opened, &got);
    pdm_profile_rx_clear(&rx);
    pdm_profile_secret_wipe(&secret);
    if (rv == PDM_ERR_AUTH) {
        tool_err("option decode: authentication failed (wrong key material, flow or Kri, or "
                 "the option was altered); no field is shown");
        return 1;
    }
    if (rv < 0) {
        tool_err("option decode: opening: %s", pdm_strerror(rv));
        return 1;
    }
    print_json(&opened, next_header, got);
    return 0;
}

static int option_decode(int argc, char **argv)
{
    struct pdm_option opt;
    uint8_t in[PDM_EXTHDR_MAX];
    const char *val, *ops[MAX_OPERANDS];
    struct key_args ka;
    size_t nops = 0, off = 0;
    uint8_t type = PDM_OPT_TYPE;
    int header = 0, i, r, rv;
    uint64_t v;
    long n;

    memset(&ka, 0, sizeof ka);
    for (i = 1; i < argc; i++) {
        if (argv[i][0] != '-') {
            if (nops == MAX_OPERANDS) {
                tool_err("option decode: too many arguments (quote the hex as one)");
                return 2;
            }
            ops[nops++] = argv[i];
            continue;
        }
        if (is_help(argv[i])) {
            fputs(usage_decode, stdout);
            return 0;
        }
        if ((r = key_flag("decode", argc, argv, &i, &ka)) != 0) {
            if (r < 0)
                return 2;
        } else if (!strcmp(argv[i], "--header")) {
            header = 1;
        } else if ((r = tool_flag_value(argc, argv, &i, "--type", &val)) != 0) {
            if (r < 0) {
                tool_err("option decode: --type needs a value");
                return 2;
            }
            if (flag_uint("decode", "--type", val, UINT8_MAX, &v) != 0)
                return 2;
            type = (uint8_t)v;
        } else {
            tool_err("option decode: unknown flag '%s' (see 'pdm option decode --help')", argv[i]);
            return 2;
        }
    }
    if (nops == 0) {
        tool_err("option decode: no HEX given (see 'pdm option decode --help')");
        return 2;
    }
    if ((n = read_hex(in, sizeof in, ops, nops)) < 0)
        return 1;

    memset(&opt, 0, sizeof opt);
    if (!header) {
        ssize_t used = pdm_option_decode(&opt, in, (size_t)n, type);
        if (used < 0) {
            explain_option_error((int)used, in, (size_t)n, type);
            return 1;
        }
        if ((size_t)used != (size_t)n) {
            tool_err("option decode: %ld trailing byte%s after the %zd-byte option "
                     "(a whole header needs --header)",
                     n - (long)used, n - (long)used == 1 ? "" : "s", used);
            return 1;
        }
        if (ka.any && opt.format == PDM_FORMAT_V2_ENCRYPTED)
            return decode_open(&ka, in, (size_t)n, type, -1);
        print_json(&opt, -1, -1);
        return 0;
    }

    if (n < 2) {
        tool_err("option decode: truncated: a Destination Options header has at least 8 bytes");
        return 1;
    }
    if ((size_t)n != ((size_t)in[1] + 1) * 8) {
        tool_err("option decode: Hdr Ext Len %u means a %u-byte header, %ld bytes given", in[1],
                 (in[1] + 1u) * 8u, n);
        return 1;
    }
    if ((rv = pdm_dstopt_find(in, (size_t)n, type, &opt, &off)) != 0) {
        if (rv == PDM_ERR_NOT_FOUND) {
            tool_err("option decode: no option of type 0x%02x in the header", type);
        } else if (rv == PDM_ERR_HDR_OPTIONS || rv == PDM_ERR_HDR_LENGTH) {
            if (!header_walk(in, (size_t)n, type, 1, &off))
                tool_err("option decode: %s", pdm_strerror(rv));
        } else {
            /* The PDM option itself is malformed: explain it in place. */
            header_walk(in, (size_t)n, type, 0, &off);
            if (off)
                explain_option_error(rv, in + off, (size_t)n - off, type);
            else
                tool_err("option decode: %s", pdm_strerror(rv));
        }
        return 1;
    }
    if (ka.any && opt.format == PDM_FORMAT_V2_ENCRYPTED)
        return decode_open(&ka, in + off, (size_t)n - off, type, in[0]);
    print_json(&opt, in[0], -1);
    return 0;
}

int cmd_option(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_top, stderr);
        return 2;
    }
    if (is_help(argv[1])) {
        fputs(usage_top, stdout);
        return 0;
    }
    if (!strcmp(argv[1], "encode"))
        return option_encode(argc - 1, argv + 1);
    if (!strcmp(argv[1], "decode"))
        return option_decode(argc - 1, argv + 1);
    tool_err("option: unknown subcommand '%s' (encode or decode)", argv[1]);
    return 2;
}
