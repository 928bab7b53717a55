/*
 * pdm option decode: one option, or a whole Destination Options header,
 * from hex to one line of JSON; an encrypted option opened with the key
 * material (option_key.c) when it is given. The codec (lib/codec.c)
 * decides; this file explains its verdicts and prints.
 */
#include "dev/dev.h"

#include "common/tools.h"
#include "conv.h"

#include <pdm/codec.h>
#include <pdm/profile.h>
#include <pdm/time.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define WHO "option decode"

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
    "Formats: \"pdm\" (Option Length 10), \"v2\" (18), \"v2-encrypted\" (34;\n"
    "its 30 sealed bytes are printed as \"sealed\", the fields stay unknown)\n"
    "and \"v2-14\" (22: draft -14's layout, with \"epoch\", 32-bit PSNs and\n"
    "\"reserved\" as received).\n"
    "\n"
    "With KEY, an encrypted option is opened: its tag is checked and the\n"
    "fields are printed with \"kri\" (the Kri it opened under: --kri, the one\n"
    "before it, or up to 8 rotations ahead with the option's F parity) and\n"
    "\"auth\":\"ok\". If it does not open, nothing is printed and the exit\n"
    "status is 1.\n"
    "\n" DEV_USAGE_KEY;

/*
 * Reads hex from the nwords words, skipping white space and ':' so that
 * "0f 0a ..." and "0f:0a:..." (how tools often print bytes) work too.
 * Returns the byte count, or -1 after printing what is wrong. The bytes
 * are an option off the wire, not a secret: lib's plain pdm_hexval()
 * reads them digit by digit.
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
            if ((d = pdm_hexval((unsigned char)*s)) < 0) {
                if (isprint((unsigned char)*s))
                    tool_err(WHO ": '%c' is not a hex digit", *s);
                else
                    tool_err(WHO ": byte 0x%02x is not a hex digit", (unsigned char)*s);
                return -1;
            }
            if (hi < 0) {
                hi = d;
                continue;
            }
            if (n == cap) {
                tool_err(WHO ": input is longer than %zu bytes", cap);
                return -1;
            }
            out[n++] = (uint8_t)(hi << 4 | d);
            hi = -1;
        }
    }
    if (hi >= 0) {
        tool_err(WHO ": odd number of hex digits");
        return -1;
    }
    if (n == 0) {
        tool_err(WHO ": no bytes to decode (see 'pdm option decode --help')");
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
        tool_err(WHO ": truncated: %zu byte%s, an option needs Type and Length", avail,
                 avail == 1 ? "" : "s");
        return;
    }
    switch (err) {
    case PDM_ERR_OPT_TYPE:
        tool_err(WHO ": option type 0x%02x is not the PDM type 0x%02x (see --type)", in[0], type);
        break;
    case PDM_ERR_OPT_LENGTH:
        tool_err(WHO ": option length %u is not %u, %u, %u or %u", in[1], PDM_OPTLEN_RFC8250,
                 PDM_OPTLEN_V2, PDM_V214_OPT_LEN, PDM_OPTLEN_V2_ENC);
        break;
    case PDM_ERR_TRUNCATED:
        tool_err(WHO ": truncated: option length %u needs %u bytes, %zu given", in[1], in[1] + 2u,
                 avail);
        break;
    case PDM_ERR_OPT_VERSION:
        tool_err(WHO ": PDMv2 version %u is not %u", avail > 2 ? (unsigned)(in[2] >> 4) : 0u,
                 PDM_V2_VERSION);
        break;
    case PDM_ERR_OPT_RN:
        tool_err(WHO ": encrypted PDMv2 option with random number 0");
        break;
    case PDM_ERR_DUPLICATE:
        tool_err(WHO ": more than one option of type 0x%02x", type);
        break;
    default:
        tool_err(WHO ": %s", pdm_strerror(err));
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
                    tool_err(WHO ": option 0x%02x at offset %zu runs past the "
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
                    tool_err(WHO ": %zu bytes of padding in a row at offset %zu "
                                 "(more than 7)",
                             pad_run, pad_start);
                return report;
            }
            for (size_t k = 2; h[off] == PDM_OPT_PADN && k < olen; k++) {
                if (h[off + k] != 0) {
                    if (report)
                        tool_err(WHO ": PadN at offset %zu carries a non-zero byte", off);
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
static int decode_open(const struct dev_key_args *ka, const uint8_t *in, size_t avail, uint8_t type,
                       int next_header)
{
    struct pdm_profile_secret secret;
    struct pdm_profile_rx rx;
    struct pdm_flow_tuple t;
    struct pdm_option opened;
    uint16_t kri, got = 0;
    int rv;

    if (dev_key_load(WHO, ka, &secret, &t, &kri) != 0)
        return 2;
    memset(&rx, 0, sizeof rx);
    pdm_profile_rx_init(&rx, kri);
    rv = pdm_profile_rx_open(&rx, &secret, &t, in, avail, type, &opened, &got);
    pdm_profile_rx_clear(&rx);
    pdm_profile_secret_wipe(&secret);
    if (rv == PDM_ERR_AUTH) {
        tool_err(WHO ": authentication failed (wrong key material, flow or Kri, or "
                     "the option was altered); no field is shown");
        return 1;
    }
    if (rv < 0) {
        tool_err(WHO ": opening: %s", pdm_strerror(rv));
        return 1;
    }
    print_json(&opened, next_header, got);
    return 0;
}

/* What the command line of decode says. */
struct decode_args {
    int header; /* --header: a whole Destination Options header */
    uint8_t type;
    struct dev_key_args ka;
};

/* Flags of decode besides the key flags and --help. */
enum { O_HEADER = 0x100, O_TYPE };

static const struct option decode_options[] = {
    {"header", no_argument, NULL, O_HEADER},
    {"type", required_argument, NULL, O_TYPE},
    {NULL, 0, NULL, 0},
};

/* One flag of decode_options (dev_option_getopt's callback). */
static int decode_flag(void *ctx, int val, const char *arg)
{
    struct decode_args *d = ctx;
    uint64_t v;

    if (val == O_HEADER) {
        d->header = 1;
        return 0;
    }
    if (dev_flag_uint(WHO, "--type", arg, UINT8_MAX, &v) != 0)
        return -1;
    d->type = (uint8_t)v;
    return 0;
}

/* Decodes in[0..n) as one bare option; returns the exit status. */
static int decode_bare(const struct decode_args *d, const uint8_t *in, long n)
{
    struct pdm_option opt;
    ssize_t used;

    memset(&opt, 0, sizeof opt);
    if ((used = pdm_option_decode(&opt, in, (size_t)n, d->type)) < 0) {
        explain_option_error((int)used, in, (size_t)n, d->type);
        return 1;
    }
    if ((size_t)used != (size_t)n) {
        tool_err(WHO ": %ld trailing byte%s after the %zd-byte option "
                     "(a whole header needs --header)",
                 n - (long)used, n - (long)used == 1 ? "" : "s", used);
        return 1;
    }
    if (d->ka.any && opt.format == PDM_FORMAT_V2_ENCRYPTED)
        return decode_open(&d->ka, in, (size_t)n, d->type, -1);
    if (opt.format == PDM_FORMAT_V2_14)
        return dev_v214_print(in, (size_t)n, d->type, -1);
    print_json(&opt, -1, -1);
    return 0;
}

/* Decodes in[0..n) as a whole Destination Options header; returns the
 * exit status. */
static int decode_header(const struct decode_args *d, const uint8_t *in, long n)
{
    struct pdm_option opt;
    size_t off = 0;
    int rv;

    if (n < 2) {
        tool_err(WHO ": truncated: a Destination Options header has at least 8 bytes");
        return 1;
    }
    if ((size_t)n != ((size_t)in[1] + 1) * 8) {
        tool_err(WHO ": Hdr Ext Len %u means a %u-byte header, %ld bytes given", in[1],
                 (in[1] + 1u) * 8u, n);
        return 1;
    }
    memset(&opt, 0, sizeof opt);
    if ((rv = pdm_dstopt_find(in, (size_t)n, d->type, &opt, &off)) != 0) {
        if (rv == PDM_ERR_NOT_FOUND) {
            tool_err(WHO ": no option of type 0x%02x in the header", d->type);
        } else if (rv == PDM_ERR_HDR_OPTIONS || rv == PDM_ERR_HDR_LENGTH) {
            if (!header_walk(in, (size_t)n, d->type, 1, &off))
                tool_err(WHO ": %s", pdm_strerror(rv));
        } else {
            /* The PDM option itself is malformed: explain it in place. */
            header_walk(in, (size_t)n, d->type, 0, &off);
            if (off)
                explain_option_error(rv, in + off, (size_t)n - off, d->type);
            else
                tool_err(WHO ": %s", pdm_strerror(rv));
        }
        return 1;
    }
    if (d->ka.any && opt.format == PDM_FORMAT_V2_ENCRYPTED)
        return decode_open(&d->ka, in + off, (size_t)n - off, d->type, in[0]);
    if (opt.format == PDM_FORMAT_V2_14)
        return dev_v214_print(in + off, (size_t)n - off, d->type, in[0]);
    print_json(&opt, in[0], -1);
    return 0;
}

int dev_option_decode(int argc, char **argv)
{
    struct decode_args d;
    uint8_t in[PDM_EXTHDR_MAX];
    long n;
    int r;

    memset(&d, 0, sizeof d);
    d.type = PDM_OPT_TYPE;
    if ((r = dev_option_getopt(WHO, argc, argv, decode_options, usage_decode, &d.ka, decode_flag,
                               &d)) >= 0)
        return r;
    if (optind == argc) {
        tool_err(WHO ": no HEX given (see 'pdm option decode --help')");
        return 2;
    }
    if ((n = read_hex(in, sizeof in, (const char *const *)(argv + optind),
                      (size_t)(argc - optind))) < 0)
        return 1;
    return d.header ? decode_header(&d, in, n) : decode_bare(&d, in, n);
}
