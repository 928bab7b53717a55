/*
 * libFuzzer target for the option codec: pdm_option_decode() and
 * pdm_dstopt_find() on arbitrary bytes. Whatever decodes must re-encode to
 * its canonical bytes (the input with the 12 reserved bits of a PDMv2
 * option cleared), and a header built around it must give it back.
 * abort() on any violation.
 */
#include <pdm/codec.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Canonical form of the option at in (n bytes): reserved bits cleared. */
static void canonical(uint8_t *out, const uint8_t *in, size_t n)
{
    memcpy(out, in, n);
    if (n > PDM_OPTSIZE_RFC8250) {
        out[2] &= 0xF0;
        out[3] = 0;
    }
}

static int same_option(const struct pdm_option *a, const struct pdm_option *b)
{
    return a->type == b->type && a->format == b->format && a->rn == b->rn && a->f == b->f &&
           a->fields.scale_dtlr == b->fields.scale_dtlr &&
           a->fields.scale_dtls == b->fields.scale_dtls &&
           a->fields.global_pointer == b->fields.global_pointer &&
           a->fields.psntp == b->fields.psntp && a->fields.psnlr == b->fields.psnlr &&
           a->fields.delta_tlr == b->fields.delta_tlr &&
           a->fields.delta_tls == b->fields.delta_tls &&
           memcmp(a->sealed, b->sealed, sizeof a->sealed) == 0;
}

/* A draft -14 option (v2-14): its own codec re-encodes it, Reserved
 * cleared; pdm_option_encode() refuses it (32-bit PSNs do not fit). */
static void check_v214(const struct pdm_option *o, const uint8_t *in, size_t n)
{
    uint8_t enc[PDM_V214_OPT_SIZE], want[PDM_V214_OPT_SIZE];
    struct pdm_v214 v;

    if (n != PDM_V214_OPT_SIZE || pdm_v214_decode(&v, in, n, o->type) != (ssize_t)n)
        abort();
    if (pdm_option_encode(enc, sizeof enc, o) != PDM_ERR_INVAL)
        abort();
    if (pdm_v214_encode(enc, sizeof enc, &v) != (ssize_t)n)
        abort();
    memcpy(want, in, n);
    want[PDM_V214_OFF_RESERVED] = want[PDM_V214_OFF_RESERVED + 1] = 0;
    if (memcmp(enc, want, n) != 0 || (uint16_t)v.psntp != o->fields.psntp)
        abort();
}

/* Checks one decoded option: re-encode, build a header, find it again. */
static void check_option(const struct pdm_option *o, const uint8_t *in, size_t n)
{
    uint8_t enc[PDM_OPTSIZE_MAX], want[PDM_OPTSIZE_MAX], hdr[64];
    struct pdm_option again;
    size_t off = 0;
    ssize_t r;

    if (n != pdm_option_size(o->format) || n > sizeof enc)
        abort();
    if (o->format == PDM_FORMAT_V2_14) {
        check_v214(o, in, n);
        return;
    }
    r = pdm_option_encode(enc, sizeof enc, o);
    if (r != (ssize_t)n)
        abort();
    canonical(want, in, n);
    if (memcmp(enc, want, n) != 0)
        abort();
    /* Too small a buffer is refused without writing. */
    if (pdm_option_encode(enc, n - 1, o) != PDM_ERR_NOBUF)
        abort();
    r = pdm_dstopt_build(hdr, sizeof hdr, PDM_NH_UDP, want, n);
    if (r <= 0 || r % 8 != 0 || (size_t)r != (size_t)(hdr[1] + 1) * 8)
        abort();
    if (pdm_dstopt_find(hdr, (size_t)r, o->type, &again, &off) != 0 || off != 2)
        abort();
    if (!same_option(o, &again))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pdm_option o;
    size_t off = 0;
    ssize_t n;
    int rv;

    /* The input as one option, of the default type and of its own type. */
    n = pdm_option_decode(&o, data, size, PDM_OPT_TYPE);
    if (n > 0) {
        if ((size_t)n > size)
            abort();
        check_option(&o, data, (size_t)n);
    } else if (n == 0 || n < PDM_ERR_LAST) {
        abort();
    }
    if (size > 0 && data[0] != PDM_OPT_PAD1 && data[0] != PDM_OPT_PADN) {
        n = pdm_option_decode(&o, data, size, data[0]);
        if (n > 0)
            check_option(&o, data, (size_t)n);
    }

    /* The input as a whole options header. */
    memset(&o, 0, sizeof o);
    rv = pdm_dstopt_find(data, size, PDM_OPT_TYPE, &o, &off);
    if (rv == 0) {
        struct pdm_option d;
        if (off < 2 || off >= size)
            abort();
        n = pdm_option_decode(&d, data + off, size - off, PDM_OPT_TYPE);
        if (n <= 0 || off + (size_t)n > size || !same_option(&o, &d))
            abort();
        check_option(&o, data + off, (size_t)n);
    } else if (rv > 0 || rv < PDM_ERR_LAST) {
        abort();
    }
    return 0;
}
