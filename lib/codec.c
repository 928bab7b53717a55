/*
 * openpdm codec: the three PDM option layouts, Destination Options headers,
 * and the IPv6 extension-header chain (PROFILE §1, RFC 8250 §3, RFC 8200 §4,
 * draft-ietf-ippm-encrypted-pdmv2-04 §6).
 *
 * Everything here works on caller buffers: no allocation, no system calls.
 * Every read is preceded by a length check; packet bytes are only touched
 * through lib/conv.h.
 *
 * Decisions the RFCs leave to the implementation (also in include/pdm/codec.h):
 *
 *  - Padding inside an options header (RFC 8200 §4.2): PadN must carry zeros,
 *    and a run of consecutive padding bytes (Pad1 and PadN together) may not
 *    exceed 7. Padding only serves alignment within an 8-octet unit, so a
 *    longer run has no use and is a covert channel (RFC 4942 §2.1.9.5);
 *    Linux (net/ipv6/exthdrs.c, ip6_parse_tlv) drops packets on the same
 *    two rules, so a packet we accept is one Linux takes.
 *    A limit of 5 was considered and rejected: it refuses the smallest empty
 *    header (NH, HdrExtLen, PadN with 4 zeros: 6 padding bytes) and some
 *    headers this very codec produces by merging (up to 6 trailing bytes).
 *  - Unknown options are skipped whatever their two high action bits say:
 *    the codec reads packets as an observer or as the PDM adder, and it is
 *    the destination's stack, not us, that acts on them.
 *  - A Hop-by-Hop header anywhere but right after the IPv6 header is
 *    malformed (RFC 8200 §4.1): PDM_ERR_HDR_OPTIONS.
 *  - Bytes past 40 + Payload Length (link-layer padding) are ignored by the
 *    parser and dropped by the inserter.
 */
#include <pdm/codec.h>

#include "conv.h"

#include <string.h>

/* Jumbo Payload option (RFC 2675 §2), looked for only when Payload Length is 0. */
#define OPT_JUMBO 0xC2

/* Longest run of padding bytes accepted inside an options header. */
#define PAD_RUN_MAX 7

/* Offsets inside the fixed IPv6 header (RFC 8200 §3). */
#define IP6_OFF_PLEN 4
#define IP6_OFF_NH   6

/* Fragment header (RFC 8200 §4.5): NH, Reserved, Offset(13)|Res(2)|M(1), Id(4). */
#define FRAG_HDR_SIZE 8

static size_t round8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* ------------------------------------------------------------------------ */
/* Formats                                                                  */

PDM_EXTERN const char *pdm_format_name(enum pdm_format fmt)
{
    switch (fmt) {
    case PDM_FORMAT_RFC8250:
        return "pdm";
    case PDM_FORMAT_V2:
        return "v2";
    case PDM_FORMAT_V2_ENCRYPTED:
        return "v2-encrypted";
    case PDM_FORMAT_V2_14:
        return "v2-14";
    case PDM_FORMAT_NONE:
        break;
    }
    return "none";
}

PDM_EXTERN enum pdm_format pdm_format_parse(const char *name)
{
    if (name == NULL)
        return PDM_FORMAT_NONE;
    if (strcmp(name, "pdm") == 0)
        return PDM_FORMAT_RFC8250;
    if (strcmp(name, "v2") == 0)
        return PDM_FORMAT_V2;
    if (strcmp(name, "v2-encrypted") == 0)
        return PDM_FORMAT_V2_ENCRYPTED;
    if (strcmp(name, "v2-14") == 0)
        return PDM_FORMAT_V2_14;
    return PDM_FORMAT_NONE;
}

PDM_EXTERN size_t pdm_option_size(enum pdm_format fmt)
{
    switch (fmt) {
    case PDM_FORMAT_RFC8250:
        return PDM_OPTSIZE_RFC8250;
    case PDM_FORMAT_V2:
        return PDM_OPTSIZE_V2;
    case PDM_FORMAT_V2_ENCRYPTED:
        return PDM_OPTSIZE_V2_ENC;
    case PDM_FORMAT_V2_14:
        return PDM_V214_OPT_SIZE;
    case PDM_FORMAT_NONE:
        break;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Options                                                                  */

/*
 * The 14-byte PDMv2 tail (draft-04 §6.2; the plaintext of §6.3):
 *
 *   0         1         2                   6        8        10         12         14
 *   +---------+---------+-------------------+--------+--------+----------+----------+
 *   |ScaleDTLR|ScaleDTLS| GlobalPointer (4) | PSNTP  | PSNLR  | DeltaTLR | DeltaTLS |
 *   +---------+---------+-------------------+--------+--------+----------+----------+
 */
PDM_EXTERN void pdm_fields_pack(uint8_t out[PDM_V2_PT_SIZE], const struct pdm_fields *f)
{
    uint8_t *p = out;

    p = pdm_put_u8(p, f->scale_dtlr);
    p = pdm_put_u8(p, f->scale_dtls);
    p = pdm_put_u32be(p, f->global_pointer);
    p = pdm_put_u16be(p, f->psntp);
    p = pdm_put_u16be(p, f->psnlr);
    p = pdm_put_u16be(p, f->delta_tlr);
    pdm_put_u16be(p, f->delta_tls);
}

PDM_EXTERN void pdm_fields_unpack(struct pdm_fields *f, const uint8_t in[PDM_V2_PT_SIZE])
{
    f->scale_dtlr = in[0];
    f->scale_dtls = in[1];
    f->global_pointer = pdm_get_u32be(in + 2);
    f->psntp = pdm_get_u16be(in + 6);
    f->psnlr = pdm_get_u16be(in + 8);
    f->delta_tlr = pdm_get_u16be(in + 10);
    f->delta_tls = pdm_get_u16be(in + 12);
}

/*
 * The clear head of a PDMv2 option, the AEAD's AAD (PROFILE §3):
 *
 *   +------+--------+-----------------------+---------------+
 *   | Type | Length | Vrsn(4) Reserved(12)  | RN(15) | F(1) |
 *   +------+--------+-----------------------+---------------+
 *      1       1        2 = 0x2000                 2
 */
PDM_EXTERN void pdm_option_write_clear(uint8_t out[PDM_V2_AAD_SIZE], uint8_t type,
                                       enum pdm_format fmt, uint16_t rn, uint8_t f)
{
    uint8_t *p = out;
    uint8_t len = fmt == PDM_FORMAT_V2_ENCRYPTED ? PDM_OPTLEN_V2_ENC : PDM_OPTLEN_V2;

    p = pdm_put_u8(p, type);
    p = pdm_put_u8(p, len);
    p = pdm_put_u16be(p, PDM_V2_VERSION_WORD);
    pdm_put_u16be(p, (uint16_t)((rn & PDM_RN_MAX) << 1 | (f & 1)));
}

PDM_EXTERN ssize_t pdm_option_encode(uint8_t *out, size_t outlen, const struct pdm_option *opt)
{
    size_t size = pdm_option_size(opt->format);
    uint8_t *p = out;
    const struct pdm_fields *fl = &opt->fields;

    /* The -14 layout's 32-bit PSNs and epoch are not in struct pdm_option. */
    if (size == 0 || opt->format == PDM_FORMAT_V2_14)
        return PDM_ERR_INVAL;
    /* RN and F exist only in PDMv2; an RFC 8250 option ignores them. */
    if (opt->format != PDM_FORMAT_RFC8250) {
        if (opt->rn > PDM_RN_MAX || opt->f > 1)
            return PDM_ERR_INVAL;
        if (opt->format == PDM_FORMAT_V2_ENCRYPTED && opt->rn == 0)
            return PDM_ERR_OPT_RN;
    }
    if (outlen < size)
        return PDM_ERR_NOBUF;

    switch (opt->format) {
    case PDM_FORMAT_RFC8250:
        /* RFC 8250 §3.1: Type, 10, ScaleDTLR, ScaleDTLS, PSNTP, PSNLR, DeltaTLR, DeltaTLS. */
        p = pdm_put_u8(p, opt->type);
        p = pdm_put_u8(p, PDM_OPTLEN_RFC8250);
        p = pdm_put_u8(p, fl->scale_dtlr);
        p = pdm_put_u8(p, fl->scale_dtls);
        p = pdm_put_u16be(p, fl->psntp);
        p = pdm_put_u16be(p, fl->psnlr);
        p = pdm_put_u16be(p, fl->delta_tlr);
        p = pdm_put_u16be(p, fl->delta_tls);
        break;
    case PDM_FORMAT_V2:
        pdm_option_write_clear(p, opt->type, opt->format, opt->rn, opt->f);
        pdm_fields_pack(p + PDM_V2_AAD_SIZE, fl);
        p += PDM_V2_AAD_SIZE + PDM_V2_PT_SIZE;
        break;
    case PDM_FORMAT_V2_ENCRYPTED:
        pdm_option_write_clear(p, opt->type, opt->format, opt->rn, opt->f);
        p = pdm_put_bytes(p + PDM_V2_AAD_SIZE, opt->sealed, PDM_V2_SEALED_SIZE);
        break;
    case PDM_FORMAT_V2_14:
    case PDM_FORMAT_NONE:
        return PDM_ERR_INVAL;
    }
    return (ssize_t)(p - out);
}

PDM_EXTERN ssize_t pdm_option_decode(struct pdm_option *opt, const uint8_t *in, size_t inlen,
                                     uint8_t type)
{
    size_t optlen;
    uint16_t rnf;

    if (inlen < 2)
        return PDM_ERR_TRUNCATED;
    if (in[0] != type)
        return PDM_ERR_OPT_TYPE;
    optlen = in[1];
    if (optlen == PDM_V214_OPT_LEN) {
        struct pdm_v214 v;
        ssize_t n = pdm_v214_decode(&v, in, inlen, type);
        if (n < 0)
            return n;
        memset(opt, 0, sizeof *opt);
        opt->type = type;
        opt->format = PDM_FORMAT_V2_14;
        pdm_v214_fields(&opt->fields, &v);
        return n;
    }
    if (optlen != PDM_OPTLEN_RFC8250 && optlen != PDM_OPTLEN_V2 && optlen != PDM_OPTLEN_V2_ENC)
        return PDM_ERR_OPT_LENGTH;
    if (inlen < 2 + optlen)
        return PDM_ERR_TRUNCATED;

    if (optlen == PDM_OPTLEN_RFC8250) {
        memset(opt, 0, sizeof *opt);
        opt->type = type;
        opt->format = PDM_FORMAT_RFC8250;
        opt->fields.scale_dtlr = in[2];
        opt->fields.scale_dtls = in[3];
        opt->fields.psntp = pdm_get_u16be(in + 4);
        opt->fields.psnlr = pdm_get_u16be(in + 6);
        opt->fields.delta_tlr = pdm_get_u16be(in + 8);
        opt->fields.delta_tls = pdm_get_u16be(in + 10);
        return PDM_OPTSIZE_RFC8250;
    }

    /* PDMv2: only the version nibble counts; the 12 reserved bits are
     * ignored on receipt (PROFILE §1). */
    if (in[2] >> 4 != PDM_V2_VERSION)
        return PDM_ERR_OPT_VERSION;
    rnf = pdm_get_u16be(in + 4);
    if (optlen == PDM_OPTLEN_V2_ENC && rnf >> 1 == 0)
        return PDM_ERR_OPT_RN;

    memset(opt, 0, sizeof *opt);
    opt->type = type;
    opt->rn = (uint16_t)(rnf >> 1);
    opt->f = (uint8_t)(rnf & 1);
    if (optlen == PDM_OPTLEN_V2) {
        opt->format = PDM_FORMAT_V2;
        pdm_fields_unpack(&opt->fields, in + PDM_V2_AAD_SIZE);
        return PDM_OPTSIZE_V2;
    }
    opt->format = PDM_FORMAT_V2_ENCRYPTED;
    memcpy(opt->sealed, in + PDM_V2_AAD_SIZE, PDM_V2_SEALED_SIZE);
    return PDM_OPTSIZE_V2_ENC;
}

/*
 * Draft -14 (§7 figure; PROFILE §1 on why Length is 22, not the text's 0x22):
 *
 *   0      1      2               4       8       12      16  17  18   20   22   24
 *   +------+------+---------------+-------+-------+-------+---+---+----+----+----+
 *   | Type | 0x16 | Vrsn(4)Ep(12) | PSNTP | PSNLR |  GP   |SLR|SLS|Rsvd|DTLR|DTLS|
 *   +------+------+---------------+-------+-------+-------+---+---+----+----+----+
 */
PDM_EXTERN ssize_t pdm_v214_encode(uint8_t *out, size_t outlen, const struct pdm_v214 *opt)
{
    uint8_t *p = out;

    if (out == NULL || opt == NULL || opt->epoch > PDM_V214_EPOCH_MAX)
        return PDM_ERR_INVAL;
    if (outlen < PDM_V214_OPT_SIZE)
        return PDM_ERR_NOBUF;
    p = pdm_put_u8(p, opt->type);
    p = pdm_put_u8(p, PDM_V214_OPT_LEN);
    p = pdm_put_u16be(p, (uint16_t)(PDM_V214_VERSION << 12 | opt->epoch));
    p = pdm_put_u32be(p, opt->psntp);
    p = pdm_put_u32be(p, opt->psnlr);
    p = pdm_put_u32be(p, opt->global_pointer);
    p = pdm_put_u8(p, opt->scale_dtlr);
    p = pdm_put_u8(p, opt->scale_dtls);
    p = pdm_put_u16be(p, 0); /* Reserved: zero on transmission (§7) */
    p = pdm_put_u16be(p, opt->delta_tlr);
    p = pdm_put_u16be(p, opt->delta_tls);
    return (ssize_t)(p - out);
}

PDM_EXTERN ssize_t pdm_v214_decode(struct pdm_v214 *opt, const uint8_t *in, size_t inlen,
                                   uint8_t type)
{
    uint16_t ve;

    if (opt == NULL || in == NULL)
        return PDM_ERR_INVAL;
    if (inlen < 2)
        return PDM_ERR_TRUNCATED;
    if (in[0] != type)
        return PDM_ERR_OPT_TYPE;
    if (in[1] != PDM_V214_OPT_LEN)
        return PDM_ERR_OPT_LENGTH;
    if (inlen < PDM_V214_OPT_SIZE)
        return PDM_ERR_TRUNCATED;
    ve = pdm_get_u16be(in + PDM_V214_OFF_VER_EPOCH);
    if (ve >> 12 != PDM_V214_VERSION)
        return PDM_ERR_OPT_VERSION;
    opt->type = type;
    opt->epoch = (uint16_t)(ve & PDM_V214_EPOCH_MAX);
    opt->psntp = pdm_get_u32be(in + PDM_V214_OFF_PSNTP);
    opt->psnlr = pdm_get_u32be(in + PDM_V214_OFF_PSNLR);
    opt->global_pointer = pdm_get_u32be(in + PDM_V214_OFF_GP);
    opt->scale_dtlr = in[PDM_V214_OFF_SCALE_DTLR];
    opt->scale_dtls = in[PDM_V214_OFF_SCALE_DTLS];
    /* Kept for display; ignored on receipt (§7). */
    opt->reserved = pdm_get_u16be(in + PDM_V214_OFF_RESERVED);
    opt->delta_tlr = pdm_get_u16be(in + PDM_V214_OFF_DTLR);
    opt->delta_tls = pdm_get_u16be(in + PDM_V214_OFF_DTLS);
    return PDM_V214_OPT_SIZE;
}

PDM_EXTERN void pdm_v214_fields(struct pdm_fields *f, const struct pdm_v214 *opt)
{
    f->scale_dtlr = opt->scale_dtlr;
    f->scale_dtls = opt->scale_dtls;
    f->global_pointer = opt->global_pointer;
    f->psntp = (uint16_t)opt->psntp;
    f->psnlr = (uint16_t)opt->psnlr;
    f->delta_tlr = opt->delta_tlr;
    f->delta_tls = opt->delta_tls;
}

/* ------------------------------------------------------------------------ */
/* Options headers                                                          */

/* Writes n bytes of padding: Pad1 for one byte, else one PadN (RFC 8200 §4.2). */
static void write_pad(uint8_t *p, size_t n)
{
    if (n == 0)
        return;
    if (n == 1) {
        p[0] = PDM_OPT_PAD1;
        return;
    }
    p[0] = PDM_OPT_PADN;
    p[1] = (uint8_t)(n - 2);
    memset(p + 2, 0, n - 2);
}

/* Checks an encoded option given to build/insert: Type, Length, data; even size. */
static int check_encoded_option(const uint8_t *opt, size_t optlen)
{
    if (opt == NULL || optlen < 2 || optlen % 2 != 0 || (size_t)opt[1] + 2 != optlen)
        return PDM_ERR_INVAL;
    if (opt[0] == PDM_OPT_PAD1 || opt[0] == PDM_OPT_PADN)
        return PDM_ERR_INVAL;
    return 0;
}

/*
 * A fresh header (RFC 8200 §4.6), e.g. for RFC 8250:
 *
 *   +----+-----------+------------------------+-------------+
 *   | NH | HdrExtLen | option (12)            | PadN 01 00  |
 *   +----+-----------+------------------------+-------------+
 *    0    1           2                        14            16
 *
 * dstopt_frame() writes all of it but the option's optlen bytes (at 2),
 * for an option already checked, and returns its length: the builder
 * copies the option in, the insert path has its caller write it there.
 */
static size_t dstopt_frame(uint8_t *out, uint8_t next_header, size_t optlen)
{
    size_t hlen = round8(2 + optlen); /* at most 264: optlen <= 257 */

    out[0] = next_header;
    out[1] = (uint8_t)(hlen / 8 - 1);
    write_pad(out + 2 + optlen, hlen - 2 - optlen);
    return hlen;
}

PDM_EXTERN ssize_t pdm_dstopt_build(uint8_t *out, size_t outlen, uint8_t next_header,
                                    const uint8_t *opt, size_t optlen)
{
    if (check_encoded_option(opt, optlen) != 0)
        return PDM_ERR_INVAL;
    if (outlen < round8(2 + optlen))
        return PDM_ERR_NOBUF;
    memcpy(out + 2, opt, optlen);
    return (ssize_t)dstopt_frame(out, next_header, optlen);
}

/*
 * Walks the TLVs of a whole options header (RFC 8200 §4.2):
 *
 *   +----+-----------+------+-------+----------------+------+- - -
 *   | NH | HdrExtLen | Type | Len   | Data (Len)     | Type | ...
 *   +----+-----------+------+-------+----------------+------+- - -
 *                     Pad1 is the single byte 0x00; PadN is 0x01, Len, Len zeros.
 *
 * The caller has checked hdrlen == (HdrExtLen + 1) * 8. *found gets the
 * offset of the first option of type `type`; when the walk reaches the end
 * (any result but PDM_ERR_HDR_OPTIONS), *end (may be NULL) gets the offset
 * just past the last option that is not padding (2 when there is none):
 * where a merge may append.
 * Returns 0 when found, PDM_ERR_NOT_FOUND, PDM_ERR_DUPLICATE (two of them),
 * or PDM_ERR_HDR_OPTIONS.
 */
static int opts_walk(const uint8_t *hdr, size_t hdrlen, uint8_t type, size_t *found, size_t *end)
{
    size_t off = 2, last = 2, pad_run = 0;
    int hits = 0;

    while (off < hdrlen) {
        uint8_t t = hdr[off];
        size_t olen;

        if (t == PDM_OPT_PAD1) {
            if (++pad_run > PAD_RUN_MAX)
                return PDM_ERR_HDR_OPTIONS;
            off++;
            continue;
        }
        if (hdrlen - off < 2)
            return PDM_ERR_HDR_OPTIONS;
        olen = 2 + (size_t)hdr[off + 1];
        if (olen > hdrlen - off)
            return PDM_ERR_HDR_OPTIONS;
        if (t == PDM_OPT_PADN) {
            pad_run += olen;
            if (pad_run > PAD_RUN_MAX)
                return PDM_ERR_HDR_OPTIONS;
            /* RFC 8200 §4.2: PadN data is zeros. RFC 4942 §2.1.9.5 asks
             * receivers to check it (non-zero padding is a covert
             * channel); Linux does. */
            for (size_t i = 2; i < olen; i++)
                if (hdr[off + i] != 0)
                    return PDM_ERR_HDR_OPTIONS;
            off += olen;
            continue;
        }
        pad_run = 0;
        if (t == type) {
            if (hits++ == 0)
                *found = off;
        }
        off += olen;
        last = off;
    }
    if (end != NULL)
        *end = last;
    if (hits > 1)
        return PDM_ERR_DUPLICATE;
    return hits ? 0 : PDM_ERR_NOT_FOUND;
}

/* Length of the options header at hdr, or 0 when fewer than 2 bytes. */
static size_t opts_hdr_len(const uint8_t *hdr, size_t avail)
{
    if (avail < 2)
        return 0;
    return ((size_t)hdr[1] + 1) * 8;
}

PDM_EXTERN int pdm_dstopt_find(const uint8_t *hdr, size_t hdrlen, uint8_t type,
                               struct pdm_option *opt, size_t *opt_off)
{
    struct pdm_option tmp;
    size_t off = 0;
    ssize_t n;
    int rv;

    if (hdr == NULL || hdrlen < 8 || opts_hdr_len(hdr, hdrlen) != hdrlen)
        return PDM_ERR_HDR_LENGTH;
    if ((rv = opts_walk(hdr, hdrlen, type, &off, NULL)) != 0)
        return rv;
    n = pdm_option_decode(opt != NULL ? opt : &tmp, hdr + off, hdrlen - off, type);
    if (n < 0)
        return (int)n;
    if (opt_off != NULL)
        *opt_off = off;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Packets                                                                  */

/*
 * The fixed IPv6 header (RFC 8200 §3):
 *
 *   0       4               12      16              24              32
 *   +-------+---------------+-------+---------------+---------------+
 *   |Version| Traffic Class |           Flow Label                  |
 *   +-------+---------------+-------+---------------+---------------+
 *   |        Payload Length         |  Next Header  |   Hop Limit   |
 *   +-------------------------------+---------------+---------------+
 *   |                Source Address (16), Destination Address (16)  |
 *   +---------------------------------------------------------------+
 *
 * Extension headers (RFC 8200 §4, RFC 7045): all start NH, Length. Options
 * headers, Routing, Mobility, HIP and Shim6 are (Length + 1) * 8 bytes;
 * AH is (Length + 2) * 4 (RFC 4302 §2.2); Fragment is always 8.
 */
PDM_EXTERN int pdm_pkt_parse(const uint8_t *pkt, size_t len, uint8_t type,
                             struct pdm_pkt_info *info)
{
    size_t off = PDM_IPV6_HDR_SIZE, nh_off = IP6_OFF_NH, plen, end;
    size_t dst_off = 0, dst_len = 0, dst_end = 0; /* the last DstOpts header, if last */
    uint8_t nh;
    int rv;

    memset(info, 0, sizeof *info);

    if (len < PDM_IPV6_HDR_SIZE || pkt[0] >> 4 != 6)
        return PDM_ERR_NOT_IPV6;
    plen = pdm_get_u16be(pkt + IP6_OFF_PLEN);
    nh = pkt[IP6_OFF_NH];
    if (plen == 0 && nh == PDM_NH_HOPOPTS) {
        /* Payload Length 0 and a Hop-by-Hop header: only a jumbogram
         * (RFC 2675) is that, with its length in the Jumbo Payload option.
         * Anything else has its header running past a 40-byte packet. */
        size_t hl = opts_hdr_len(pkt + off, len - off), at;

        if (hl != 0 && hl <= len - off && opts_walk(pkt + off, hl, OPT_JUMBO, &at, NULL) == 0)
            return PDM_ERR_JUMBO;
        return PDM_ERR_HDR_LENGTH;
    }
    if (len - PDM_IPV6_HDR_SIZE < plen)
        return PDM_ERR_PAYLOAD_LENGTH;
    end = PDM_IPV6_HDR_SIZE + plen;
    info->pkt_len = end;

    for (;;) {
        size_t hl, at = 0, oend = 2;

        switch (nh) {
        case PDM_NH_HOPOPTS:
            /* RFC 8200 §4.1: only right after the IPv6 header. */
            if (off != PDM_IPV6_HDR_SIZE)
                return PDM_ERR_HDR_OPTIONS;
            /* fall through */
        case PDM_NH_DSTOPTS:
            hl = opts_hdr_len(pkt + off, end - off);
            if (hl == 0 || hl > end - off)
                return PDM_ERR_HDR_LENGTH;
            rv = opts_walk(pkt + off, hl, type, &at, &oend);
            if (rv == 0) {
                ssize_t n;
                if (info->has_pdm)
                    return PDM_ERR_DUPLICATE;
                n = pdm_option_decode(&info->pdm, pkt + off + at, hl - at, type);
                if (n < 0)
                    return (int)n;
                info->has_pdm = 1;
                info->pdm_off = off + at;
            } else if (rv != PDM_ERR_NOT_FOUND) {
                return rv;
            }
            if (nh == PDM_NH_DSTOPTS) {
                dst_off = off;
                dst_len = hl;
                dst_end = oend; /* where a merged option would go */
            } else {
                dst_off = 0;
            }
            break;
        case PDM_NH_ROUTING:
        case PDM_NH_MOBILITY:
        case PDM_NH_HIP:
        case PDM_NH_SHIM6:
            hl = opts_hdr_len(pkt + off, end - off);
            if (hl == 0 || hl > end - off)
                return PDM_ERR_HDR_LENGTH;
            dst_off = 0;
            break;
        case PDM_NH_AH:
            if (end - off < 2)
                return PDM_ERR_HDR_LENGTH;
            hl = ((size_t)pkt[off + 1] + 2) * 4;
            if (hl > end - off)
                return PDM_ERR_HDR_LENGTH;
            dst_off = 0;
            break;
        case PDM_NH_FRAGMENT:
            if (end - off < FRAG_HDR_SIZE)
                return PDM_ERR_HDR_LENGTH;
            info->is_fragment = 1;
            dst_off = 0;
            if ((pdm_get_u16be(pkt + off + 2) >> 3) != 0) {
                /* Not the first fragment: what follows is the middle of
                 * the fragmentable part; the upper layer is not here. */
                info->upper_proto = pkt[off];
                info->upper_off = end;
                info->nh_off = off;
                return 0;
            }
            hl = FRAG_HDR_SIZE;
            break;
        default:
            /* ESP (50), No Next Header (59), or an upper layer. */
            goto done;
        }
        nh_off = off;
        nh = pkt[off];
        off += hl;
    }

done:
    info->upper_proto = nh;
    info->upper_off = off;
    info->nh_off = nh_off;
    info->final_dst_off = dst_off;
    info->final_dst_len = dst_off ? dst_len : 0;
    info->final_dst_end = dst_off ? dst_end : 0;
    switch (nh) {
    case PDM_NH_TCP:
    case PDM_NH_UDP:
    case PDM_NH_UDPLITE:
    case PDM_NH_SCTP:
    case PDM_NH_DCCP:
        /* All five start with Source Port(2), Destination Port(2). */
        if (end - off >= 4) {
            info->has_ports = 1;
            info->sport = pdm_get_u16be(pkt + off);
            info->dport = pdm_get_u16be(pkt + off + 2);
        }
        break;
    default:
        break;
    }
    return 0;
}

/*
 * Merging into an existing final Destination Options header: existing
 * options stay where they are, only the trailing padding goes.
 *
 *   before:  | NH | L | opt A ... | pad |                         (hl)
 *   after:   | NH | L | opt A ... |Pad1?| PDM option | pad to 8 | (newhl)
 *                                  ^ only if the end of A is odd
 *
 * A fresh header goes right before the upper layer:
 *
 *   before:  | IPv6 (NH=x) | ext headers (last NH=u) | upper ...
 *   after:   | IPv6        | ext headers (last NH=60) | DstOpts (NH=u) | upper ...
 */
/* Where and how an option goes into a packet: computed from the parse
 * alone, before any byte is written, so that the insert variants below
 * share every check and differ only in how the bytes move. */
struct insert_plan {
    const struct pdm_pkt_info *info;
    size_t at;    /* offset in the original packet where the new bytes go */
    size_t add;   /* bytes added */
    size_t end;   /* merge: end of the existing options (trailing padding dropped) */
    size_t optat; /* offset of the option in its header */
    size_t newhl; /* merge: the header's new length */
};

/* The plan for an option of optlen bytes (even) in the packet info
 * describes. Reads nothing but *info: the parse found everything. */
static int insert_plan(struct insert_plan *pl, const struct pdm_pkt_info *info, size_t optlen)
{
    size_t hl;

    pl->info = info;
    if (info->is_fragment)
        return PDM_ERR_FRAGMENT;
    if (info->upper_proto == PDM_NH_ESP)
        return PDM_ERR_ESP;
    if (info->has_pdm)
        return PDM_ERR_DUPLICATE;

    pl->end = 2;
    if (info->final_dst_off != 0) {
        hl = info->final_dst_len;
        pl->end = info->final_dst_end;
        /* A parse leaves at most PAD_RUN_MAX bytes of trailing padding;
         * refuse anything else rather than trust it (undo keeps them). */
        if (pl->end < 2 || pl->end > hl || hl - pl->end > PAD_RUN_MAX)
            return PDM_ERR_INVAL;
        pl->optat = pl->end + (pl->end & 1);
        pl->newhl = round8(pl->optat + optlen);
        /* opts_walk() allows at most 7 trailing padding bytes, so hl is
         * round8(end) and newhl >= hl; keep the guard anyway. */
        if (pl->newhl < hl || pl->newhl > PDM_EXTHDR_MAX)
            return PDM_ERR_TOO_BIG;
        pl->add = pl->newhl - hl;
        pl->at = info->final_dst_off + hl; /* everything from here moves */
    } else {
        pl->add = round8(2 + optlen); /* what dstopt_frame() writes */
        pl->at = info->upper_off;
        pl->optat = 2;
    }
    if (info->pkt_len - PDM_IPV6_HDR_SIZE + pl->add > UINT16_MAX)
        return PDM_ERR_TOO_BIG;
    return 0;
}

/* Writes everything the insertion adds but the option's own optlen bytes
 * into out, a packet laid out as the original with a gap of pl->add bytes
 * at pl->at; returns the offset where the option goes. */
static size_t insert_frame(const struct insert_plan *pl, uint8_t *out, size_t optlen)
{
    const struct pdm_pkt_info *info = pl->info;
    size_t optat = pl->optat;

    if (info->final_dst_off != 0) {
        uint8_t *h = out + info->final_dst_off;

        write_pad(h + pl->end, optat - pl->end);
        write_pad(h + optat + optlen, pl->newhl - optat - optlen);
        h[1] = (uint8_t)(pl->newhl / 8 - 1);
        optat += info->final_dst_off;
    } else {
        dstopt_frame(out + pl->at, info->upper_proto, optlen); /* pl->add bytes */
        out[info->nh_off] = PDM_NH_DSTOPTS;

        optat += pl->at;
    }
    pdm_put_u16be(out + IP6_OFF_PLEN, (uint16_t)(info->pkt_len - PDM_IPV6_HDR_SIZE + pl->add));
    return optat;
}

/* Keeps what insert_frame() is about to overwrite in pkt (in place). */
static void insert_keep(const struct insert_plan *pl, const uint8_t *pkt, struct pdm_insert_undo *u)
{
    const struct pdm_pkt_info *info = pl->info;

    memset(u, 0, sizeof *u);
    u->at = pl->at;
    u->add = pl->add;
    u->pkt_len = info->pkt_len;
    if (info->final_dst_off != 0) {
        /* The old trailing padding (at most PAD_RUN_MAX bytes, opts_walk)
         * and HdrExtLen; the rest of the header stays where it is. */
        u->hdr_off = info->final_dst_off;
        u->pad_at = pl->end;
        u->pad_len = (uint8_t)(info->final_dst_len - pl->end);
        memcpy(u->pad, pkt + info->final_dst_off + pl->end, u->pad_len);
        u->old_nh = pkt[info->final_dst_off + 1];
    } else {
        u->nh_off = info->nh_off;
        u->old_nh = pkt[info->nh_off];
    }
}

_Static_assert(PAD_RUN_MAX <= sizeof(((struct pdm_insert_undo *)0)->pad), "padding fits undo");

PDM_EXTERN ssize_t pdm_pkt_insert_room(uint8_t *pkt, size_t *len, size_t cap,
                                       const struct pdm_pkt_info *info, size_t optlen,
                                       size_t *opt_off, struct pdm_insert_undo *undo)
{
    struct insert_plan pl;
    int rv;

    if (pkt == NULL || len == NULL || info == NULL || opt_off == NULL || *len > cap ||
        *len < info->pkt_len || optlen < 2 || optlen % 2 != 0 || optlen > 256)
        return PDM_ERR_INVAL;
    if ((rv = insert_plan(&pl, info, optlen)) != 0)
        return rv;
    if (info->pkt_len + pl.add > cap)
        return PDM_ERR_TOO_BIG;

    /* Nothing has been written so far; from here on nothing fails. */
    if (undo != NULL)
        insert_keep(&pl, pkt, undo);
    memmove(pkt + pl.at + pl.add, pkt + pl.at, info->pkt_len - pl.at);
    *opt_off = insert_frame(&pl, pkt, optlen);
    *len = info->pkt_len + pl.add;
    return (ssize_t)pl.add;
}

PDM_EXTERN void pdm_pkt_insert_undo(uint8_t *pkt, size_t *len, const struct pdm_insert_undo *u)
{
    memmove(pkt + u->at, pkt + u->at + u->add, u->pkt_len - u->at);
    if (u->hdr_off != 0) {
        memcpy(pkt + u->hdr_off + u->pad_at, u->pad, u->pad_len);
        pkt[u->hdr_off + 1] = u->old_nh;
    } else {
        pkt[u->nh_off] = u->old_nh;
    }
    pdm_put_u16be(pkt + IP6_OFF_PLEN, (uint16_t)(u->pkt_len - PDM_IPV6_HDR_SIZE));
    *len = u->pkt_len;
}

PDM_EXTERN ssize_t pdm_pkt_insert(uint8_t *pkt, size_t *len, size_t cap, const uint8_t *opt,
                                  size_t optlen, size_t *opt_off)
{
    struct pdm_pkt_info info;
    size_t optat;
    ssize_t n;
    int rv;

    if (len == NULL || *len > cap || opt == NULL)
        return PDM_ERR_INVAL;
    if (check_encoded_option(opt, optlen) != 0)
        return PDM_ERR_INVAL;
    if ((rv = pdm_pkt_parse(pkt, *len, opt[0], &info)) != 0)
        return rv;
    if ((n = pdm_pkt_insert_room(pkt, len, cap, &info, optlen, &optat, NULL)) < 0)
        return n;
    memcpy(pkt + optat, opt, optlen);
    if (opt_off != NULL)
        *opt_off = optat;
    return n;
}

PDM_EXTERN ssize_t pdm_pkt_insert_copy(uint8_t *dst, size_t dstcap, const uint8_t *src,
                                       size_t srclen, const uint8_t *opt, size_t optlen,
                                       size_t *dstlen, size_t *opt_off)
{
    struct pdm_pkt_info info;
    struct insert_plan pl;
    size_t optat;
    int rv;

    if (dst == NULL || src == NULL || dstlen == NULL || opt == NULL)
        return PDM_ERR_INVAL;
    if (check_encoded_option(opt, optlen) != 0)
        return PDM_ERR_INVAL;
    if ((rv = pdm_pkt_parse(src, srclen, opt[0], &info)) != 0)
        return rv;
    if ((rv = insert_plan(&pl, &info, optlen)) != 0)
        return rv;
    if (info.pkt_len + pl.add > dstcap)
        return PDM_ERR_TOO_BIG;

    /* One pass over the packet: the copy the caller needs anyway (e.g. from
     * a receive buffer into a verdict buffer) opens the gap for free. */
    memcpy(dst, src, pl.at);
    memcpy(dst + pl.at + pl.add, src + pl.at, info.pkt_len - pl.at);
    optat = insert_frame(&pl, dst, optlen);
    memcpy(dst + optat, opt, optlen);
    *dstlen = info.pkt_len + pl.add;

    if (opt_off != NULL)
        *opt_off = optat;
    return (ssize_t)pl.add;
}
