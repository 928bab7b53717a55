/*
 * pdm option: encode and decode one PDM or PDMv2 option by hand, to debug
 * interoperability ("what bytes does openpdm send for these fields?",
 * "what does this capture say?"). A thin shell over the codec: every byte
 * decision is lib/codec.c's; this file only parses arguments, checks
 * ranges and prints.
 *
 *   pdm option encode --format pdm|v2 [--rn N] [--f 0|1] [--type T]
 *                     [--next-header N] [FIELD=VALUE ...]
 *   pdm option decode [--header] [--type T] HEX...
 *
 * Exit status: 0 success; 1 the bytes given to decode are malformed (one
 * line on stderr says what is wrong); 2 usage error (unknown flag or field,
 * value out of range).
 */
#include "tools.h"

#include <pdm/codec.h>
#include <pdm/time.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char usage_top[] =
    "usage: pdm option encode --format pdm|v2 [--rn N] [--f 0|1] [--type T]\n"
    "                         [--next-header N] [FIELD=VALUE ...]\n"
    "       pdm option decode [--header] [--type T] HEX...\n"
    "\n"
    "Encodes or decodes one PDM option (RFC 8250) or PDMv2 option\n"
    "(draft-ietf-ippm-encrypted-pdmv2-04). `pdm option encode --help` and\n"
    "`pdm option decode --help` tell more; see also pdm-option(8).\n";

static const char usage_encode[] =
    "usage: pdm option encode --format pdm|v2 [--rn N] [--f 0|1] [--type T]\n"
    "                         [--next-header N] [FIELD=VALUE ...]\n"
    "\n"
    "Prints the option as lowercase hex: 12 bytes for pdm (RFC 8250, Option\n"
    "Length 10), 20 bytes for v2 (unencrypted PDMv2, Option Length 18).\n"
    "Encrypted PDMv2 (v2-encrypted) needs session keys and is not made here.\n"
    "\n"
    "  --format F        pdm or v2 (required)\n"
    "  --rn N            v2 only: 15-bit random number, 0..32767 (default 0)\n"
    "  --f B             v2 only: F (key rotation) bit, 0 or 1 (default 0)\n"
    "  --type T          option type, 0..255 (default 0x0f)\n"
    "  --next-header N   print a whole Destination Options header instead,\n"
    "                    with Next Header N (0..255), padded to 8 octets\n"
    "\n"
    "FIELD is one of (missing fields are 0):\n"
    "  scale_dtlr scale_dtls     0..255\n"
    "  global_pointer            0..4294967295 (v2 only)\n"
    "  psntp psnlr               0..65535\n"
    "  delta_tlr delta_tls       0..65535\n"
    "Numbers are decimal or 0x-prefixed hex.\n";

static const char usage_decode[] =
    "usage: pdm option decode [--header] [--type T] HEX...\n"
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
    "its 30 sealed bytes are printed as \"sealed\", the fields stay unknown).\n";

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

/*
 * Matches "--name VALUE" or "--name=VALUE" at argv[*i]. Returns 1 and sets
 * *val (advancing *i past a separate value), 0 when argv[*i] is another
 * flag, -1 when the flag is there but its value is missing.
 */
static int flag_value(int argc, char **argv, int *i, const char *name, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);

    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *val = argv[++*i];
    return 1;
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
        if (fields[i].v2_only && fmt != PDM_FORMAT_V2) {
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

static int option_encode(int argc, char **argv)
{
    struct pdm_option opt;
    uint8_t buf[PDM_OPTSIZE_MAX], hdr[PDM_HDRSIZE_V2_ENC];
    const char *fmt_name = NULL, *rn_arg = NULL, *f_arg = NULL, *val;
    const char *ops[MAX_OPERANDS];
    size_t nops = 0;
    uint64_t v;
    int next_header = -1, i, r;
    unsigned seen = 0;
    ssize_t n;

    memset(&opt, 0, sizeof opt);
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
        if ((r = flag_value(argc, argv, &i, "--format", &val)) != 0) {
            if (r < 0)
                goto missing;
            fmt_name = val;
        } else if ((r = flag_value(argc, argv, &i, "--rn", &val)) != 0) {
            if (r < 0)
                goto missing;
            rn_arg = val;
        } else if ((r = flag_value(argc, argv, &i, "--f", &val)) != 0) {
            if (r < 0)
                goto missing;
            f_arg = val;
        } else if ((r = flag_value(argc, argv, &i, "--type", &val)) != 0) {
            if (r < 0)
                goto missing;
            if (flag_uint("encode", "--type", val, UINT8_MAX, &v) != 0)
                return 2;
            opt.type = (uint8_t)v;
        } else if ((r = flag_value(argc, argv, &i, "--next-header", &val)) != 0) {
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
        tool_err("option encode: --format pdm|v2 is required");
        return 2;
    }
    opt.format = pdm_format_parse(fmt_name);
    if (opt.format == PDM_FORMAT_V2_ENCRYPTED) {
        tool_err("option encode: v2-encrypted options are sealed with session keys; "
                 "encode makes pdm or v2");
        return 2;
    }
    if (opt.format != PDM_FORMAT_RFC8250 && opt.format != PDM_FORMAT_V2) {
        tool_err("option encode: unknown format '%s' (pdm or v2)", fmt_name);
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

    if ((n = pdm_option_encode(buf, sizeof buf, &opt)) < 0) {
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

static int hexdigit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

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
            if (isspace((unsigned char)*s) || *s == ':')
                continue;
            if ((d = hexdigit((unsigned char)*s)) < 0) {
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

static void print_json(const struct pdm_option *o, int next_header)
{
    const struct pdm_fields *f = &o->fields;

    putchar('{');
    if (next_header >= 0)
        printf("\"next_header\":%d,", next_header);
    printf("\"format\":\"%s\"", pdm_format_name(o->format));
    if (o->format != PDM_FORMAT_RFC8250)
        printf(",\"rn\":%u,\"f\":%u", o->rn, o->f);
    if (o->format == PDM_FORMAT_V2_ENCRYPTED) {
        printf(",\"sealed\":\"");
        tool_print_hex(o->sealed, sizeof o->sealed);
        printf("\"}\n");
        return;
    }
    printf(",\"scale_dtlr\":%u,\"scale_dtls\":%u", f->scale_dtlr, f->scale_dtls);
    if (o->format == PDM_FORMAT_V2)
        printf(",\"global_pointer\":%" PRIu32, f->global_pointer);
    printf(",\"psntp\":%u,\"psnlr\":%u,\"delta_tlr\":%u,\"delta_tls\":%u", f->psntp, f->psnlr,
           f->delta_tlr, f->delta_tls);
    print_ns("delta_tlr_ns", f->delta_tlr, f->scale_dtlr);
    print_ns("delta_tls_ns", f->delta_tls, f->scale_dtls);
    printf("}\n");
}

static int option_decode(int argc, char **argv)
{
    struct pdm_option opt;
    uint8_t in[PDM_EXTHDR_MAX];
    const char *val, *ops[MAX_OPERANDS];
    size_t nops = 0;
    uint8_t type = PDM_OPT_TYPE;
    int header = 0, i, r, rv;
    uint64_t v;
    long n;

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
        if (!strcmp(argv[i], "--header")) {
            header = 1;
        } else if ((r = flag_value(argc, argv, &i, "--type", &val)) != 0) {
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
        print_json(&opt, -1);
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
    if ((rv = pdm_dstopt_find(in, (size_t)n, type, &opt, NULL)) != 0) {
        size_t off;
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
    print_json(&opt, in[0]);
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
