/*
 * pdm option: encode and decode one PDM or PDMv2 option by hand, to debug
 * interoperability ("what bytes does openpdm send for these fields?",
 * "what does this capture say?"). A thin shell over the codec: every byte
 * decision is lib/codec.c's; these files only parse arguments, check
 * ranges and print. This file: the subcommand and encode;
 * option_decode.c: decode; option_key.c: the key material flags.
 *
 *   pdm option encode --format pdm|v2 [--rn N] [--f 0|1] [--type T]
 *                     [--next-header N] [FIELD=VALUE ...]
 *   pdm option encode --format v2-14 [--type T] [--next-header N] [FIELD=VALUE ...]
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
#include "dev/dev.h"

#include "common/tools.h"

#include <pdm/codec.h>
#include <pdm/profile.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define WHO "option encode"

static const char usage_top[] =
    "usage: pdm option encode --format pdm|v2 [--rn N] [--f 0|1] [--type T]\n"
    "                         [--next-header N] [FIELD=VALUE ...]\n"
    "       pdm option encode --format v2-encrypted KEY... --rn N [--f 0|1]\n"
    "                         [--type T] [--next-header N] [FIELD=VALUE ...]\n"
    "       pdm option encode --format v2-14 [--type T] [--next-header N] [FIELD=VALUE ...]\n"
    "       pdm option decode [--header] [--type T] [KEY...] HEX...\n"
    "\n"
    "KEY: --secret HEX --salt HEX [--suite KEM-KDF-AEAD] --src ADDR --dst ADDR\n"
    "     [--sport N] [--dport N] --protocol N [--kri N]\n"
    "\n"
    "Encodes or decodes one PDM option (RFC 8250) or PDMv2 option\n"
    "(draft-ietf-ippm-encrypted-pdmv2-04). `pdm option encode --help` and\n"
    "`pdm option decode --help` tell more; see also pdm-option(8).\n";

static const char usage_encode[] =
    "usage: pdm option encode --format pdm|v2 [--rn N] [--f 0|1] [--type T]\n"
    "                         [--next-header N] [FIELD=VALUE ...]\n"
    "       pdm option encode --format v2-encrypted KEY... --rn N [--f 0|1]\n"
    "                         [--type T] [--next-header N] [FIELD=VALUE ...]\n"
    "       pdm option encode --format v2-14 [--type T] [--next-header N] [FIELD=VALUE ...]\n"
    "\n"
    "Prints the option as lowercase hex: 12 bytes for pdm (RFC 8250, Option\n"
    "Length 10), 20 bytes for v2 (unencrypted PDMv2, Option Length 18), 36\n"
    "bytes for v2-encrypted (Option Length 34), sealed with the key material,\n"
    "24 bytes for v2-14 (draft -14's layout, Option Length 22, never encrypted).\n"
    "\n"
    "  --format F        pdm, v2, v2-encrypted or v2-14 (required)\n"
    "  --rn N            v2: 15-bit random number, 0..32767 (default 0);\n"
    "                    v2-encrypted: 1..32767, required\n"
    "  --f B             F (key rotation) bit, 0 or 1; v2 default 0;\n"
    "                    v2-encrypted: Kri mod 2, which is its default\n"
    "  --type T          option type, 0..255 (default 0x0f)\n"
    "  --next-header N   print a whole Destination Options header instead,\n"
    "                    with Next Header N (0..255), padded to 8 octets\n"
    "\n" DEV_USAGE_KEY "\n"
    "FIELD is one of (missing fields are 0):\n"
    "  scale_dtlr scale_dtls     0..255\n"
    "  global_pointer            0..4294967295 (PDMv2 only)\n"
    "  psntp psnlr               0..65535\n"
    "  delta_tlr delta_tls       0..65535\n"
    "v2-14: the same names, psntp and psnlr 0..4294967295, plus epoch 0..4095\n"
    "(Reserved is always sent as 0).\n"
    "Numbers are decimal or 0x-prefixed hex.\n";

/* ---- FIELD=VALUE ----------------------------------------------------------- */

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
        tool_err(WHO ": '%s' is not FIELD=VALUE (see 'pdm option encode --help')", arg);
        return -1;
    }
    namelen = (size_t)(eq - arg);
    for (size_t i = 0; i < NFIELDS; i++) {
        if (strlen(fields[i].name) != namelen || strncmp(fields[i].name, arg, namelen) != 0)
            continue;
        if (fields[i].v2_only && fmt == PDM_FORMAT_RFC8250) {
            tool_err(WHO ": %s exists only in PDMv2 (--format v2)", fields[i].name);
            return -1;
        }
        if (*seen & (1u << i)) {
            tool_err(WHO ": %s given twice", fields[i].name);
            return -1;
        }
        if (dev_parse_uint(eq + 1, fields[i].max, &v) != 0) {
            tool_err(WHO ": %s '%s' is not a number in 0..%" PRIu64, fields[i].name, eq + 1,
                     fields[i].max);
            return -1;
        }
        *seen |= 1u << i;
        field_set(f, (enum field_id)i, v);
        return 0;
    }
    tool_err(WHO ": unknown field '%.*s' (fields: scale_dtlr scale_dtls "
                 "global_pointer psntp psnlr delta_tlr delta_tls)",
             (int)namelen, arg);
    return -1;
}

/* ---- encode ---------------------------------------------------------------- */

/*
 * Seals opt (rn, f, fields, type) with the key material into out (36
 * bytes). Returns 0, or the exit status after printing the error.
 */
static int encode_sealed(const struct pdm_option *opt, const struct dev_key_args *ka, int have_rn,
                         int have_f, uint8_t *out, size_t cap)
{
    struct pdm_profile_secret secret;
    struct pdm_profile_key key;
    struct pdm_flow_tuple t;
    uint16_t kri;
    int rv, status = 1;

    memset(&key, 0, sizeof key);
    if (!have_rn || opt->rn == 0) {
        tool_err(WHO ": v2-encrypted needs --rn in 1..32767 (RN is never 0 in an "
                     "encrypted option)");
        return 2;
    }
    if (dev_key_load(WHO, ka, &secret, &t, &kri) != 0)
        return 2;
    if (have_f && opt->f != (kri & 1)) {
        tool_err(WHO ": --f %u with --kri %u: F is always Kri mod 2 (profile "
                     "section 3)",
                 opt->f, kri);
        status = 2;
        goto out;
    }
    if ((rv = pdm_profile_key_init(&key, &secret, &t, kri)) != 0) {
        tool_err(WHO ": deriving the key: %s", pdm_strerror(rv));
        goto out;
    }
    if ((rv = pdm_profile_seal(&key, opt->type, opt->rn, &opt->fields, out, cap)) < 0) {
        tool_err(WHO ": sealing: %s", pdm_strerror(rv));
        goto out;
    }
    status = 0;
out:
    pdm_profile_key_clear(&key);
    pdm_profile_secret_wipe(&secret);
    return status;
}

/* What the command line of encode says. */
struct encode_args {
    struct pdm_option opt; /* type; rn, f and fields once checked */
    const char *format, *rn, *f;
    int next_header; /* -1: a bare option */
    struct dev_key_args ka;
    char **fields; /* the FIELD=VALUE operands */
    int nfields;
};

/* Flags of encode besides the key flags and --help. */
enum { O_FORMAT = 0x100, O_RN, O_F, O_TYPE, O_NEXT_HEADER };

static const struct option encode_options[] = {
    {"format", required_argument, NULL, O_FORMAT},
    {"rn", required_argument, NULL, O_RN},
    {"f", required_argument, NULL, O_F},
    {"type", required_argument, NULL, O_TYPE},
    {"next-header", required_argument, NULL, O_NEXT_HEADER},
    {NULL, 0, NULL, 0},
};

/* One flag of encode_options (dev_option_getopt's callback). --rn and
 * --f are checked once the format is known; --type and --next-header at
 * once, as they mean the same in every format. */
static int encode_flag(void *ctx, int val, const char *arg)
{
    struct encode_args *e = ctx;
    uint64_t v;

    switch (val) {
    case O_FORMAT:
        e->format = arg;
        return 0;
    case O_RN:
        e->rn = arg;
        return 0;
    case O_F:
        e->f = arg;
        return 0;
    case O_TYPE:
        if (dev_flag_uint(WHO, "--type", arg, UINT8_MAX, &v) != 0)
            return -1;
        e->opt.type = (uint8_t)v;
        return 0;
    default: /* O_NEXT_HEADER */
        if (dev_flag_uint(WHO, "--next-header", arg, UINT8_MAX, &v) != 0)
            return -1;
        e->next_header = (int)v;
        return 0;
    }
}

/* Checks that format, key material, --rn, --f and the fields go together
 * and stores them into e->opt. Returns 0, or -1 after printing why. */
static int encode_check(struct encode_args *e)
{
    unsigned seen = 0;
    uint64_t v;

    if (!e->format) {
        tool_err(WHO ": --format pdm|v2|v2-encrypted|v2-14 is required");
        return -1;
    }
    e->opt.format = pdm_format_parse(e->format);
    if (e->opt.format == PDM_FORMAT_NONE) {
        tool_err(WHO ": unknown format '%s' (pdm, v2, v2-encrypted or v2-14)", e->format);
        return -1;
    }
    if (e->opt.format == PDM_FORMAT_V2_14 && (e->rn || e->f)) {
        tool_err(WHO ": %s does not exist in v2-14 (it has an epoch=VALUE field)",
                 e->rn ? "--rn" : "--f");
        return -1;
    }
    if (e->opt.format == PDM_FORMAT_V2_ENCRYPTED && !e->ka.any) {
        tool_err(WHO
                 ": v2-encrypted options are sealed: give the key material "
                 "(--secret --salt --src --dst --protocol ...; see 'pdm option encode --help')");
        return -1;
    }
    if (e->opt.format != PDM_FORMAT_V2_ENCRYPTED && e->ka.any) {
        tool_err(WHO ": %s is key material, only for --format v2-encrypted", dev_key_first(&e->ka));
        return -1;
    }
    if (e->opt.format == PDM_FORMAT_RFC8250 && (e->rn || e->f)) {
        tool_err(WHO ": %s exists only in PDMv2 (--format v2)", e->rn ? "--rn" : "--f");
        return -1;
    }
    if (e->rn) {
        if (dev_flag_uint(WHO, "--rn", e->rn, PDM_RN_MAX, &v) != 0)
            return -1;
        e->opt.rn = (uint16_t)v;
    }
    if (e->f) {
        if (dev_flag_uint(WHO, "--f", e->f, 1, &v) != 0)
            return -1;
        e->opt.f = (uint8_t)v;
    }
    if (e->opt.format == PDM_FORMAT_V2_14)
        return 0; /* its fields are option_v214.c's */
    for (int k = 0; k < e->nfields; k++)
        if (apply_field(&e->opt.fields, &seen, e->opt.format, e->fields[k]) != 0)
            return -1;
    return 0;
}

static int option_encode(int argc, char **argv)
{
    struct encode_args e;
    uint8_t buf[PDM_OPTSIZE_MAX], hdr[PDM_HDRSIZE_V2_ENC];
    ssize_t n;
    int r;

    memset(&e, 0, sizeof e);
    e.opt.type = PDM_OPT_TYPE;
    e.next_header = -1;
    /* Flags and FIELD=VALUE operands in any order; the operands are
     * applied once the format is known (it decides which fields exist). */
    if ((r = dev_option_getopt(WHO, argc, argv, encode_options, usage_encode, &e.ka, encode_flag,
                               &e)) >= 0)
        return r;
    e.fields = argv + optind;
    e.nfields = argc - optind;
    if (encode_check(&e) != 0)
        return 2;
    if (e.opt.format == PDM_FORMAT_V2_14) {
        if ((n = dev_v214_encode(e.opt.type, e.fields, e.nfields, buf, sizeof buf)) < 0)
            return n == -2 ? 2 : 1;
    } else if (e.opt.format == PDM_FORMAT_V2_ENCRYPTED) {
        if ((r = encode_sealed(&e.opt, &e.ka, e.rn != NULL, e.f != NULL, buf, sizeof buf)) != 0)
            return r;
        n = PDM_OPTSIZE_V2_ENC;
    } else if ((n = pdm_option_encode(buf, sizeof buf, &e.opt)) < 0) {
        tool_err(WHO ": %s", pdm_strerror((int)n));
        return 1;
    }
    if (e.next_header >= 0) {
        ssize_t h = pdm_dstopt_build(hdr, sizeof hdr, (uint8_t)e.next_header, buf, (size_t)n);
        if (h < 0) {
            tool_err(WHO ": header: %s", pdm_strerror((int)h));
            return 1;
        }
        tool_print_hex(hdr, (size_t)h);
    } else {
        tool_print_hex(buf, (size_t)n);
    }
    putchar('\n');
    return 0;
}

int cmd_option(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_top, stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(usage_top, stdout);
        return 0;
    }
    if (!strcmp(argv[1], "encode"))
        return option_encode(argc - 1, argv + 1);
    if (!strcmp(argv[1], "decode"))
        return dev_option_decode(argc - 1, argv + 1);
    tool_err("option: unknown subcommand '%s' (encode or decode)", argv[1]);
    return 2;
}
