/*
 * pdm decrypt: writes a copy of a capture in which every encrypted PDMv2
 * option that opens is replaced by the unencrypted PDMv2 layout, so that
 * Wireshark and other tools without the keys can read the metrics.
 *
 *   pdm decrypt [--type T] IN OUT --keylog FILE
 *
 * The 36-byte encrypted option becomes the 20-byte unencrypted one in
 * place (docs/profile.md §1; draft-ietf-ippm-encrypted-pdmv2-04 §6):
 *
 *   before  | Type | 0x22 | 0x2000 | RN<<1|F | ciphertext || tag (30) |
 *   after   | Type | 0x12 | 0x2000 | RN<<1|F | ScaleDTLR ScaleDTLS GP(4)
 *           | PSNTP | PSNLR | DeltaTLR | DeltaTLS |
 *
 * and the 16 bytes after it in the options header close up. 16 is a whole
 * number of 8-octet units, so every later option keeps its alignment
 * (RFC 8200 §4.2) and the header stays a multiple of 8: its Hdr Ext Len
 * drops by 2, the IPv6 Payload Length by 16. A fresh 40-byte header
 * (NH, Len, option, PadN) becomes exactly the 24-byte header an
 * unencrypted sender builds. Upper-layer checksums do not cover extension
 * headers, so they stay valid; an AH ICV covering the header does not.
 * Link-layer headers and trailers are copied as they are; record lengths
 * (captured and on the wire) shrink by 16. The output is pcap with
 * nanosecond timestamps, whatever the input (pcap or pcapng).
 */
#include "analyze.h"
#include "common/tools.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"

static const char usage[] =
    "usage: pdm decrypt [--type T] IN OUT --keylog FILE\n"
    "\n"
    "Copies the capture IN (pcap or pcapng) to OUT (pcap, nanosecond\n"
    "timestamps), replacing each encrypted PDMv2 option that opens with\n"
    "the keys of FILE by the unencrypted PDMv2 option with the same fields\n"
    "(Option Length 18; header, Payload Length and record lengths fixed).\n"
    "Options that do not open are copied unchanged and counted.\n"
    "\n"
    "  --keylog FILE   key log (PDMV2_SECRET / PDMV2_PRIMARY lines)\n"
    "  --type T        PDM option type (default 0x0f)\n"
    "  -h, --help      this text\n";

/* Offset within the IPv6 packet pkt (len bytes, a chain pdm_pkt_parse()
 * accepted) of the options header holding the byte at opt_off, or 0. */
static size_t header_of(const uint8_t *pkt, size_t len, size_t opt_off)
{
    uint8_t nh = pkt[6];
    size_t off = PDM_IPV6_HDR_SIZE;

    while (off + 2 <= len) {
        size_t hl;
        switch (nh) {
        case PDM_NH_HOPOPTS:
        case PDM_NH_DSTOPTS:
        case PDM_NH_ROUTING:
        case PDM_NH_MOBILITY:
        case PDM_NH_HIP:
        case PDM_NH_SHIM6:
            hl = ((size_t)pkt[off + 1] + 1) * 8;
            break;
        case PDM_NH_FRAGMENT:
            hl = 8;
            break;
        case PDM_NH_AH:
            hl = ((size_t)pkt[off + 1] + 2) * 4; /* RFC 4302 §2.2 */
            break;
        default:
            return 0;
        }
        if (opt_off >= off && opt_off < off + hl)
            return (nh == PDM_NH_HOPOPTS || nh == PDM_NH_DSTOPTS) ? off : 0;
        nh = pkt[off];
        off += hl;
    }
    return 0;
}

/*
 * Replaces the opened option of res in frame (*caplen bytes captured of
 * *wirelen) by its unencrypted layout. Returns 0, or PDM_ERR_TRUNCATED /
 * PDM_ERR_HDR_OPTIONS when the frame cannot be rewritten (left as is).
 */
static int rewrite(uint8_t *frame, size_t *caplen, size_t *wirelen, const struct an_result *res)
{
    uint8_t *pkt = frame + res->ip_off;
    size_t len = *caplen - res->ip_off, opt = res->info.pdm_off, hdr;
    uint8_t *o = pkt + opt;

    if (opt + PDM_OPTSIZE_V2_ENC > len)
        return PDM_ERR_TRUNCATED;
    if ((hdr = header_of(pkt, len, opt)) == 0 || pkt[hdr + 1] < 2)
        return PDM_ERR_HDR_OPTIONS;
    pdm_option_write_clear(o, o[0], PDM_FORMAT_V2, res->info.pdm.rn, res->info.pdm.f);
    pdm_fields_pack(o + PDM_V2_AAD_SIZE, &res->fields);
    memmove(o + PDM_OPTSIZE_V2, o + PDM_OPTSIZE_V2_ENC, len - opt - PDM_OPTSIZE_V2_ENC);
    pkt[hdr + 1] = (uint8_t)(pkt[hdr + 1] - 2);
    pdm_put_u16be(pkt + 4, (uint16_t)(pdm_get_u16be(pkt + 4) - 16));
    *caplen -= 16;
    *wirelen -= 16;
    return 0;
}

struct dec_counts {
    uint64_t frames, opened, auth_failed, no_key, not_rewritten;
};

static int decrypt_file(const char *in, const char *out, const struct an_opts *o,
                        struct dec_counts *dc)
{
    char eb[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *data;
    pcap_t *p = NULL, *dead = NULL;
    pcap_dumper_t *d = NULL;
    struct an_ctx *a = NULL;
    struct an_result res;
    uint8_t *buf = NULL;
    int dlt, rv = 1, n, g;

    if (!(p = pcap_open_offline_with_tstamp_precision(in, PCAP_TSTAMP_PRECISION_NANO, eb))) {
        tool_err("decrypt: %s", eb);
        goto out;
    }
    dlt = pcap_datalink(p);
    if (!an_link_supported(dlt)) {
        tool_err("decrypt: %s: link type %d is not supported", in, dlt);
        goto out;
    }
    if (!(dead = pcap_open_dead_with_tstamp_precision(dlt, pcap_snapshot(p),
                                                      PCAP_TSTAMP_PRECISION_NANO)) ||
        !(d = pcap_dump_open(dead, out))) {
        tool_err("decrypt: %s: %s", out, dead ? pcap_geterr(dead) : "out of memory");
        goto out;
    }
    if ((g = an_new(&a, o)) != 0 || !(buf = malloc(256 * 1024))) {
        tool_err("decrypt: %s", pdm_strerror(g ? g : PDM_ERR_NOMEM));
        goto out;
    }
    while ((n = pcap_next_ex(p, &h, &data)) == 1) {
        struct pcap_pkthdr oh = *h;
        size_t caplen = h->caplen, wirelen = h->len;
        uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec;
        const u_char *wr = data;

        dc->frames++;
        if ((g = an_frame(a, dlt, ts, data, caplen, wirelen, &res)) != 0) {
            char what[160];
            an_frame_error(a, g, what, sizeof what);
            tool_err("decrypt: %s: %s", in, what);
            goto out;
        }
        if (res.status == AN_ST_AUTH_FAILED)
            dc->auth_failed++;
        else if (res.status == AN_ST_NO_KEY)
            dc->no_key++;
        if (res.status == AN_ST_OPENED && caplen <= 256 * 1024) {
            memcpy(buf, data, caplen);
            if (rewrite(buf, &caplen, &wirelen, &res) == 0) {
                dc->opened++;
                oh.caplen = (bpf_u_int32)caplen;
                oh.len = (bpf_u_int32)wirelen;
                wr = buf;
            } else {
                dc->not_rewritten++;
            }
        }
        pcap_dump((u_char *)d, &oh, wr);
    }
    if (n == PCAP_ERROR) {
        tool_err("decrypt: %s: %s", in, pcap_geterr(p));
        goto out;
    }
    if (pcap_dump_flush(d) != 0) {
        tool_err("decrypt: %s: %s", out, strerror(errno));
        goto out;
    }
    rv = 0;
out:
    if (d)
        pcap_dump_close(d);
    if (dead)
        pcap_close(dead);
    if (p)
        pcap_close(p);
    an_free(a);
    free(buf);
    return rv;
}

enum { OPT_KEYLOG = 256, OPT_TYPE };

static const struct option long_opts[] = {
    {"keylog", required_argument, NULL, OPT_KEYLOG},
    {"type", required_argument, NULL, OPT_TYPE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int cmd_decrypt(int argc, char **argv)
{
    const char *keylog = NULL;
    struct dec_counts dc;
    struct an_opts o;
    char err[256];
    int c, rv;

    memset(&o, 0, sizeof o);
    memset(&dc, 0, sizeof dc);
    o.opt_type = PDM_OPT_TYPE;
    o.max_samples = 1; /* the delays are not needed here */
    optind = 0;        /* glibc: start afresh (the tests call commands repeatedly) */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return 0;
        }
        if (c == '?' || c == ':') {
            tool_getopt_error("decrypt", c, argv, long_opts);
            return 2;
        }
        if (c == OPT_KEYLOG)
            keylog = optarg;
        else if (an_parse_type("decrypt", optarg, &o.opt_type) != 0)
            return 2;
    }
    if (argc - optind > 2) {
        tool_err("decrypt: too many arguments (IN OUT)");
        return 2;
    }
    if (argc - optind != 2 || !keylog) {
        tool_err("decrypt: need IN OUT and --keylog FILE (see 'pdm decrypt --help')");
        return 2;
    }
    if (!strcmp(argv[optind], argv[optind + 1])) {
        tool_err("decrypt: IN and OUT are the same file");
        return 2;
    }
    if ((rv = an_keys_load(&o.keys, keylog, err, sizeof err)) != 0) {
        tool_err("decrypt: --keylog %s: %s", keylog, err);
        return 1;
    }
    rv = decrypt_file(argv[optind], argv[optind + 1], &o, &dc);
    an_keys_free(o.keys);
    if (rv == 0)
        printf("%" PRIu64 " frames, %" PRIu64 " options opened, %" PRIu64
               " failed authentication, %" PRIu64 " without a key, %" PRIu64
               " opened but not rewritable\n",
               dc.frames, dc.opened, dc.auth_failed, dc.no_key, dc.not_rewritten);
    return rv;
}
