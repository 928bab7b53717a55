/*
 * pdm-encode: encodes one RFC 8250 PDM option from sequence numbers and
 * times, decodes it back, and prints both. An example of libpdm's public
 * API only (<pdm/...>), built against an installed openpdm, not the tree:
 *
 *   cc -std=c11 -o pdm-encode pdm-encode.c $(pkg-config --cflags --libs pdm)
 *   ./pdm-encode PSNTP PSNLR TLR_NS TLS_NS
 *
 * TLR_NS and TLS_NS are the delta times last received and last sent, in
 * nanoseconds; the option carries each as DELTA x 2^SCALE attoseconds.
 * Output: the option as hex, then its decoded fields in the field=value
 * form `pdm option encode --format pdm` takes (tests/it_install.sh checks
 * that both agree), then the times decoded (truncated) back to ns.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <pdm/codec.h>
#include <pdm/common.h>
#include <pdm/protocol.h>
#include <pdm/time.h>

/* Parses a decimal argument no larger than max; returns 0 on success. */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > max)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t psntp, psnlr, tlr_ns, tls_ns;
    if (argc != 5 || parse_u64(argv[1], UINT16_MAX, &psntp) != 0 ||
        parse_u64(argv[2], UINT16_MAX, &psnlr) != 0 ||
        parse_u64(argv[3], UINT64_MAX, &tlr_ns) != 0 ||
        parse_u64(argv[4], UINT64_MAX, &tls_ns) != 0) {
        fprintf(stderr, "usage: pdm-encode PSNTP PSNLR TLR_NS TLS_NS\n");
        return 2;
    }

    struct pdm_option opt = {.type = PDM_OPT_TYPE, .format = PDM_FORMAT_RFC8250};
    opt.fields.psntp = (uint16_t)psntp;
    opt.fields.psnlr = (uint16_t)psnlr;
    pdm_time_encode_ns(tlr_ns, &opt.fields.delta_tlr, &opt.fields.scale_dtlr);
    pdm_time_encode_ns(tls_ns, &opt.fields.delta_tls, &opt.fields.scale_dtls);

    uint8_t wire[PDM_OPTSIZE_MAX];
    ssize_t n = pdm_option_encode(wire, sizeof wire, &opt);
    if (n < 0) {
        fprintf(stderr, "pdm-encode: %s\n", pdm_strerror((int)n));
        return 1;
    }
    char hex[2 * PDM_OPTSIZE_MAX + 1];
    if (pdm_hex_encode(hex, sizeof hex, wire, (size_t)n) < 0)
        return 1;

    struct pdm_option back;
    ssize_t m = pdm_option_decode(&back, wire, (size_t)n, PDM_OPT_TYPE);
    if (m != n || back.format != PDM_FORMAT_RFC8250) {
        fprintf(stderr, "pdm-encode: decode: %s\n", m < 0 ? pdm_strerror((int)m) : "mismatch");
        return 1;
    }
    const struct pdm_fields *f = &back.fields;
    printf("%s\n", hex);
    printf("scale_dtlr=%u scale_dtls=%u psntp=%u psnlr=%u delta_tlr=%u delta_tls=%u\n",
           f->scale_dtlr, f->scale_dtls, f->psntp, f->psnlr, f->delta_tlr, f->delta_tls);
    printf("tlr_ns=%" PRIu64 " tls_ns=%" PRIu64 "\n",
           pdm_time_decode_ns(f->delta_tlr, f->scale_dtlr),
           pdm_time_decode_ns(f->delta_tls, f->scale_dtls));
    return 0;
}
