/*
 * Tests for the codec (lib/codec.c): option layouts against the profile's
 * known-answer vectors, every error path of decode / find / parse / insert,
 * insertion into many packet shapes, and a fixed-seed randomized round trip.
 */
#include "harness.h"

#include "vectors.h"

#include <pdm/codec.h>

#define VECTORS "tests/vectors/pdmv2-profile-vectors.json"

/* Small deterministic PRNG (xorshift64*), fixed seed per test. */
static uint64_t rng_state;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static uint32_t rnd(uint32_t n) /* 0 .. n-1 */
{
    return (uint32_t)(rng() % n);
}

static void rnd_fill(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rng();
}

/* ------------------------------------------------------------------------ */
/* Packet builder                                                           */

#define BUFCAP 4096

struct pb {
    uint8_t buf[BUFCAP];
    size_t len;
    size_t nh_at; /* where the next header's number goes */
};

static void pb_init(struct pb *b)
{
    memset(b->buf, 0, sizeof b->buf);
    b->buf[0] = 0x60;
    b->buf[1] = 0x01; /* some traffic class / flow label bits */
    b->buf[3] = 0x23;
    b->buf[7] = 64;
    for (int i = 0; i < 16; i++) {
        b->buf[8 + i] = (uint8_t)(0x20 + i);
        b->buf[24 + i] = (uint8_t)(0x40 + i);
    }
    b->len = 40;
    b->nh_at = 6;
}

/* Appends a header (its first byte, the NH, is filled by the next append). */
static size_t pb_hdr(struct pb *b, uint8_t proto, const uint8_t *hdr, size_t n)
{
    size_t off = b->len;
    b->buf[b->nh_at] = proto;
    memcpy(b->buf + off, hdr, n);
    b->nh_at = off;
    b->len += n;
    return off;
}

/* Appends an options header holding tlvs (n bytes), padded with PadN/Pad1. */
static size_t pb_opts(struct pb *b, uint8_t proto, const uint8_t *tlvs, size_t n)
{
    uint8_t h[2048] = {0};
    size_t total = (2 + n + 7) & ~(size_t)7, pad;
    if (n)
        memcpy(h + 2, tlvs, n);
    pad = total - 2 - n;
    if (pad == 1) {
        h[2 + n] = 0;
    } else if (pad > 1) {
        h[2 + n] = 1;
        h[3 + n] = (uint8_t)(pad - 2);
    }
    h[1] = (uint8_t)(total / 8 - 1);
    return pb_hdr(b, proto, h, total);
}

static size_t pb_routing(struct pb *b)
{
    uint8_t h[24] = {0, 2, 4, 0}; /* type 4 (SRH-ish), one 16-byte segment */
    for (int i = 0; i < 16; i++)
        h[8 + i] = (uint8_t)(0x90 + i);
    return pb_hdr(b, PDM_NH_ROUTING, h, sizeof h);
}

static size_t pb_ah(struct pb *b)
{
    uint8_t h[24] = {0, 4, 0, 0, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1};
    for (int i = 12; i < 24; i++)
        h[i] = (uint8_t)(0xa0 + i);
    return pb_hdr(b, PDM_NH_AH, h, sizeof h);
}

static size_t pb_frag(struct pb *b, uint16_t offset, int more)
{
    uint8_t h[8] = {
        0,    0,   (uint8_t)(offset >> 5), (uint8_t)((offset << 3) | (more ? 1 : 0)), 0x12, 0x34,
        0x56, 0x78};
    return pb_hdr(b, PDM_NH_FRAGMENT, h, sizeof h);
}

/* Appends the upper layer: ports first for transports, then payload bytes. */
static size_t pb_upper(struct pb *b, uint8_t proto, size_t n, uint8_t seed)
{
    size_t off = b->len;
    b->buf[b->nh_at] = proto;
    for (size_t i = 0; i < n; i++)
        b->buf[off + i] = (uint8_t)(seed + i * 7);
    if (n >= 4) {
        b->buf[off] = 0x30;
        b->buf[off + 1] = 0x39; /* 12345 */
        b->buf[off + 2] = 0x01;
        b->buf[off + 3] = 0xbb; /* 443 */
    }
    b->len += n;
    b->buf[4] = (uint8_t)((b->len - 40) >> 8);
    b->buf[5] = (uint8_t)(b->len - 40);
    return off;
}

static void set_plen(uint8_t *pkt, size_t plen)
{
    pkt[4] = (uint8_t)(plen >> 8);
    pkt[5] = (uint8_t)plen;
}

/* ------------------------------------------------------------------------ */
/* Shared helpers                                                           */

static size_t encode_sample(uint8_t *out, enum pdm_format fmt, uint16_t seed)
{
    struct pdm_option o;
    memset(&o, 0, sizeof o);
    o.type = PDM_OPT_TYPE;
    o.format = fmt;
    o.rn = (uint16_t)(1 + seed % PDM_RN_MAX);
    o.f = (uint8_t)(seed & 1);
    o.fields.scale_dtlr = (uint8_t)(seed * 3);
    o.fields.scale_dtls = (uint8_t)(seed * 5);
    o.fields.global_pointer = 0x01020304u * seed;
    o.fields.psntp = (uint16_t)(seed * 11);
    o.fields.psnlr = (uint16_t)(seed * 13);
    o.fields.delta_tlr = (uint16_t)(seed * 17);
    o.fields.delta_tls = (uint16_t)(seed * 19);
    for (size_t i = 0; i < sizeof o.sealed; i++)
        o.sealed[i] = (uint8_t)(seed + i);
    ssize_t n = pdm_option_encode(out, PDM_OPTSIZE_MAX, &o);
    return n > 0 ? (size_t)n : 0;
}

static int fields_eq(const struct pdm_fields *a, const struct pdm_fields *b)
{
    return a->scale_dtlr == b->scale_dtlr && a->scale_dtls == b->scale_dtls &&
           a->global_pointer == b->global_pointer && a->psntp == b->psntp && a->psnlr == b->psnlr &&
           a->delta_tlr == b->delta_tlr && a->delta_tls == b->delta_tls;
}

/*
 * Checks everything an insertion promises: the new packet parses, carries
 * exactly opt at opt_off, at an even offset in a final DstOpts header of a
 * multiple of 8 bytes; Payload Length, upper layer, ports and the bytes in
 * front of the change are as before. Returns 1 when all hold.
 */
static int check_inserted(const uint8_t *before, size_t before_len, const uint8_t *after,
                          size_t after_len, const uint8_t *opt, size_t optlen, size_t opt_off,
                          ssize_t added)
{
    struct pdm_pkt_info bi, ai;
    int ok = 1;
    size_t keep;

    if (pdm_pkt_parse(before, before_len, opt[0], &bi) != 0)
        return 0;
    if (pdm_pkt_parse(after, after_len, opt[0], &ai) != 0)
        return 0;
    ok &= added > 0 && after_len == bi.pkt_len + (size_t)added;
    ok &= ai.pkt_len == after_len;
    ok &= (size_t)(after[4] << 8 | after[5]) == after_len - 40;
    ok &= ai.has_pdm && ai.pdm_off == opt_off;
    ok &= opt_off + optlen <= after_len && memcmp(after + opt_off, opt, optlen) == 0;
    ok &= ai.final_dst_off != 0 && ai.final_dst_len % 8 == 0;
    ok &= opt_off > ai.final_dst_off && opt_off + optlen <= ai.final_dst_off + ai.final_dst_len;
    ok &= (opt_off - ai.final_dst_off) % 2 == 0;
    ok &= ai.upper_proto == bi.upper_proto;
    ok &= ai.has_ports == bi.has_ports && ai.sport == bi.sport && ai.dport == bi.dport;
    ok &= ai.pkt_len - ai.upper_off == bi.pkt_len - bi.upper_off;
    ok &= memcmp(after + ai.upper_off, before + bi.upper_off, bi.pkt_len - bi.upper_off) == 0;
    ok &= memcmp(after, before, 4) == 0 && memcmp(after + 7, before + 7, 33) == 0;
    ok &= after[6] == before[6] || (bi.final_dst_off == 0 && bi.nh_off == 6);
    /* Everything up to the header that changed is untouched, except the
     * one Next Header byte rewritten to 60 when a header is added. */
    keep = bi.final_dst_off ? bi.final_dst_off + 1 : bi.upper_off;
    for (size_t i = 40; i < keep; i++)
        if (after[i] != before[i] && !(bi.final_dst_off == 0 && i == bi.nh_off))
            ok = 0;
    if (bi.final_dst_off == 0)
        ok &= after[bi.nh_off] == PDM_NH_DSTOPTS;
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Formats                                                                  */

static void test_formats(void)
{
    const enum pdm_format all[] = {PDM_FORMAT_RFC8250, PDM_FORMAT_V2, PDM_FORMAT_V2_ENCRYPTED};
    CHECK(strcmp(pdm_format_name(PDM_FORMAT_RFC8250), "pdm") == 0);
    CHECK(strcmp(pdm_format_name(PDM_FORMAT_V2), "v2") == 0);
    CHECK(strcmp(pdm_format_name(PDM_FORMAT_V2_ENCRYPTED), "v2-encrypted") == 0);
    CHECK(strcmp(pdm_format_name(PDM_FORMAT_NONE), "none") == 0);
    CHECK(strcmp(pdm_format_name((enum pdm_format)42), "none") == 0);
    for (size_t i = 0; i < 3; i++)
        CHECK_INT(pdm_format_parse(pdm_format_name(all[i])), all[i]);
    CHECK_INT(pdm_format_parse("none"), PDM_FORMAT_NONE);
    CHECK_INT(pdm_format_parse("V2"), PDM_FORMAT_NONE);
    CHECK_INT(pdm_format_parse(""), PDM_FORMAT_NONE);
    CHECK_INT(pdm_format_parse(NULL), PDM_FORMAT_NONE);
    CHECK_INT(pdm_option_size(PDM_FORMAT_RFC8250), 12);
    CHECK_INT(pdm_option_size(PDM_FORMAT_V2), 20);
    CHECK_INT(pdm_option_size(PDM_FORMAT_V2_ENCRYPTED), 36);
    CHECK_INT(pdm_option_size(PDM_FORMAT_NONE), 0);
    CHECK_INT(pdm_option_size((enum pdm_format)7), 0);
}

/* ------------------------------------------------------------------------ */
/* Known-answer vectors                                                     */

static int get_u64(const json_t *o, const char *key, uint64_t *v)
{
    return vec_u64(o, key, v);
}

static void vector_one(const json_t *v)
{
    const json_t *jf = json_object_get(v, "fields");
    struct pdm_option o, d;
    uint64_t x = 0, proto = 0; /* stay 0 when a field is missing (its CHECK fails) */
    uint8_t want[64], got[64], hdr[64];
    long wn;
    ssize_t n;
    size_t off = 0;

    memset(&o, 0, sizeof o);
    o.type = PDM_OPT_TYPE;
    CHECK_INT(get_u64(v, "rn", &x), 0);
    o.rn = (uint16_t)x;
    CHECK_INT(get_u64(v, "f", &x), 0);
    o.f = (uint8_t)x;
    CHECK_INT(get_u64(v, "protocol", &proto), 0);
    CHECK_INT(get_u64(jf, "scale_dtlr", &x), 0);
    o.fields.scale_dtlr = (uint8_t)x;
    CHECK_INT(get_u64(jf, "scale_dtls", &x), 0);
    o.fields.scale_dtls = (uint8_t)x;
    CHECK_INT(get_u64(jf, "global_pointer", &x), 0);
    o.fields.global_pointer = (uint32_t)x;
    CHECK_INT(get_u64(jf, "psntp", &x), 0);
    o.fields.psntp = (uint16_t)x;
    CHECK_INT(get_u64(jf, "psnlr", &x), 0);
    o.fields.psnlr = (uint16_t)x;
    CHECK_INT(get_u64(jf, "delta_tlr", &x), 0);
    o.fields.delta_tlr = (uint16_t)x;
    CHECK_INT(get_u64(jf, "delta_tls", &x), 0);
    o.fields.delta_tls = (uint16_t)x;

    /* RFC 8250 option and header. */
    o.format = PDM_FORMAT_RFC8250;
    wn = get_hex(v, "rfc8250_option", want, sizeof want);
    CHECK_INT(wn, 12);
    n = pdm_option_encode(got, sizeof got, &o);
    CHECK_INT(n, 12);
    CHECK_MEM(got, want, 12);
    CHECK_INT(pdm_option_decode(&d, want, (size_t)wn, PDM_OPT_TYPE), 12);
    CHECK_INT(d.format, PDM_FORMAT_RFC8250);
    CHECK_INT(d.type, PDM_OPT_TYPE);
    struct pdm_fields f8250 = o.fields;
    f8250.global_pointer = 0;
    CHECK(fields_eq(&d.fields, &f8250));
    wn = get_hex(v, "rfc8250_dest_opts_header", want, sizeof want);
    CHECK_INT(wn, 16);
    CHECK_INT(pdm_dstopt_build(hdr, sizeof hdr, (uint8_t)proto, got, 12), 16);
    CHECK_MEM(hdr, want, 16);
    CHECK_INT(pdm_dstopt_find(want, 16, PDM_OPT_TYPE, &d, &off), 0);
    CHECK_INT(off, 2);
    CHECK(fields_eq(&d.fields, &f8250));

    /* PDMv2 unencrypted. */
    o.format = PDM_FORMAT_V2;
    wn = get_hex(v, "unencrypted_option", want, sizeof want);
    CHECK_INT(wn, 20);
    n = pdm_option_encode(got, sizeof got, &o);
    CHECK_INT(n, 20);
    CHECK_MEM(got, want, 20);
    uint8_t pt[PDM_V2_PT_SIZE], aad[PDM_V2_AAD_SIZE];
    pdm_fields_pack(pt, &o.fields);
    CHECK_MEM(pt, want + 6, PDM_V2_PT_SIZE);
    pdm_option_write_clear(aad, PDM_OPT_TYPE, PDM_FORMAT_V2, o.rn, o.f);
    CHECK_MEM(aad, want, 6);
    CHECK_INT(pdm_option_decode(&d, want, (size_t)wn, PDM_OPT_TYPE), 20);
    CHECK_INT(d.format, PDM_FORMAT_V2);
    CHECK_INT(d.rn, o.rn);
    CHECK_INT(d.f, o.f);
    CHECK(fields_eq(&d.fields, &o.fields));
    wn = get_hex(v, "unencrypted_dest_opts_header", want, sizeof want);
    CHECK_INT(wn, 24);
    CHECK_INT(pdm_dstopt_build(hdr, sizeof hdr, (uint8_t)proto, got, 20), 24);
    CHECK_MEM(hdr, want, 24);
    CHECK_INT(pdm_dstopt_find(want, 24, PDM_OPT_TYPE, &d, &off), 0);
    CHECK_INT(off, 2);
    CHECK(fields_eq(&d.fields, &o.fields));

    /* PDMv2 encrypted: clear part, layout, sealed bytes, re-encode. */
    wn = get_hex(v, "encrypted_option", want, sizeof want);
    CHECK_INT(wn, 36);
    CHECK_INT(pdm_option_decode(&d, want, (size_t)wn, PDM_OPT_TYPE), 36);
    CHECK_INT(d.format, PDM_FORMAT_V2_ENCRYPTED);
    CHECK_INT(d.rn, o.rn);
    CHECK_INT(d.f, o.f);
    CHECK_MEM(d.sealed, want + 6, PDM_V2_SEALED_SIZE);
    struct pdm_fields zero;
    memset(&zero, 0, sizeof zero);
    CHECK(fields_eq(&d.fields, &zero));
    pdm_option_write_clear(aad, PDM_OPT_TYPE, PDM_FORMAT_V2_ENCRYPTED, o.rn, o.f);
    CHECK_MEM(aad, want, 6);
    o.format = PDM_FORMAT_V2_ENCRYPTED;
    memcpy(o.sealed, want + 6, PDM_V2_SEALED_SIZE);
    n = pdm_option_encode(got, sizeof got, &o);
    CHECK_INT(n, 36);
    CHECK_MEM(got, want, 36);
    n = pdm_option_encode(got, sizeof got, &d);
    CHECK_INT(n, 36);
    CHECK_MEM(got, want, 36);
    wn = get_hex(v, "encrypted_dest_opts_header", want, sizeof want);
    CHECK_INT(wn, 40);
    CHECK_INT(pdm_dstopt_build(hdr, sizeof hdr, (uint8_t)proto, got, 36), 40);
    CHECK_MEM(hdr, want, 40);
    CHECK_INT(pdm_dstopt_find(want, 40, PDM_OPT_TYPE, &d, &off), 0);
    CHECK_INT(off, 2);
    CHECK_MEM(d.sealed, got + 6, PDM_V2_SEALED_SIZE);
}

static void test_vectors(void)
{
    json_t *doc = vec_load(VECTORS);
    CHECK(doc != NULL);
    if (doc == NULL)
        return;
    const json_t *opts = json_object_get(doc, "options");
    CHECK(json_array_size(opts) >= 12);
    for (size_t i = 0; i < json_array_size(opts); i++)
        vector_one(json_array_get(opts, i));
    json_decref(doc);
}

/* ------------------------------------------------------------------------ */
/* Option encode / decode                                                   */

static void test_encode_errors(void)
{
    struct pdm_option o;
    uint8_t out[64], ref[64];

    memset(&o, 0, sizeof o);
    o.type = PDM_OPT_TYPE;
    o.format = PDM_FORMAT_NONE;
    CHECK_INT(pdm_option_encode(out, sizeof out, &o), PDM_ERR_INVAL);
    o.format = (enum pdm_format)9;
    CHECK_INT(pdm_option_encode(out, sizeof out, &o), PDM_ERR_INVAL);

    o.format = PDM_FORMAT_V2;
    o.rn = PDM_RN_MAX + 1;
    CHECK_INT(pdm_option_encode(out, sizeof out, &o), PDM_ERR_INVAL);
    o.rn = 5;
    o.f = 2;
    CHECK_INT(pdm_option_encode(out, sizeof out, &o), PDM_ERR_INVAL);
    o.f = 1;
    o.rn = 0; /* fine unencrypted */
    CHECK_INT(pdm_option_encode(out, sizeof out, &o), 20);
    CHECK(out[4] == 0 && out[5] == 1);
    o.format = PDM_FORMAT_V2_ENCRYPTED;
    CHECK_INT(pdm_option_encode(out, sizeof out, &o), PDM_ERR_OPT_RN);
    o.rn = PDM_RN_MAX;
    CHECK_INT(pdm_option_encode(out, sizeof out, &o), 36);
    CHECK(out[4] == 0xff && out[5] == 0xff);

    /* RFC 8250 has no RN/F: out-of-range values do not matter. */
    o.format = PDM_FORMAT_RFC8250;
    o.rn = 0xffff;
    o.f = 9;
    CHECK_INT(pdm_option_encode(out, sizeof out, &o), 12);

    /* Every short buffer: NOBUF and nothing written. */
    const enum pdm_format fmts[] = {PDM_FORMAT_RFC8250, PDM_FORMAT_V2, PDM_FORMAT_V2_ENCRYPTED};
    for (size_t k = 0; k < 3; k++) {
        size_t size = encode_sample(ref, fmts[k], 77);
        CHECK_INT(size, pdm_option_size(fmts[k]));
        memset(&o, 0, sizeof o);
        CHECK_INT(pdm_option_decode(&o, ref, size, PDM_OPT_TYPE), (long long)size);
        for (size_t len = 0; len < size; len++) {
            memset(out, 0xEE, sizeof out);
            CHECK_INT(pdm_option_encode(out, len, &o), PDM_ERR_NOBUF);
            CHECK(out[0] == 0xEE);
        }
        CHECK_INT(pdm_option_encode(out, size, &o), (long long)size);
        CHECK_MEM(out, ref, size);
    }

    /* A configured option type is written as given. */
    memset(&o, 0, sizeof o);
    o.type = 0x31;
    o.format = PDM_FORMAT_V2;
    CHECK_INT(pdm_option_encode(out, sizeof out, &o), 20);
    CHECK_INT(out[0], 0x31);
    CHECK_INT(out[1], 0x12);
    CHECK(out[2] == 0x20 && out[3] == 0x00);
}

static void test_decode_errors(void)
{
    const enum pdm_format fmts[] = {PDM_FORMAT_RFC8250, PDM_FORMAT_V2, PDM_FORMAT_V2_ENCRYPTED};
    uint8_t in[64], out[64];
    struct pdm_option d;

    /* Truncation at every length. */
    for (size_t k = 0; k < 3; k++) {
        size_t size = encode_sample(in, fmts[k], 1234);
        for (size_t len = 0; len < size; len++)
            CHECK_INT(pdm_option_decode(&d, in, len, PDM_OPT_TYPE), PDM_ERR_TRUNCATED);
        CHECK_INT(pdm_option_decode(&d, in, size, PDM_OPT_TYPE), (long long)size);
        CHECK_INT(pdm_option_decode(&d, in, sizeof in, PDM_OPT_TYPE), (long long)size);
        CHECK_INT(d.format, fmts[k]);
        /* Wrong type. */
        CHECK_INT(pdm_option_decode(&d, in, size, 0x1E), PDM_ERR_OPT_TYPE);
    }

    /* Every option length but 10, 18, 22 (draft -14) and 34. */
    int bad = 0, good = 0;
    memset(in, 0, sizeof in);
    in[0] = PDM_OPT_TYPE;
    in[2] = 0x20;
    in[5] = 2;
    for (unsigned l = 0; l < 256; l++) {
        uint8_t big[300] = {0};
        memcpy(big, in, 6);
        big[1] = (uint8_t)l;
        ssize_t r = pdm_option_decode(&d, big, sizeof big, PDM_OPT_TYPE);
        if (l == 10 || l == 18 || l == 22 || l == 34)
            good += r == (ssize_t)(l + 2);
        else
            bad += r == PDM_ERR_OPT_LENGTH;
    }
    CHECK_INT(good, 4);
    CHECK_INT(bad, 252);

    /* Version nibble: only 2; reserved bits ignored and cleared on re-encode. */
    for (size_t k = 1; k < 3; k++) {
        size_t size = encode_sample(in, fmts[k], 4321);
        for (unsigned ver = 0; ver < 16; ver++) {
            uint8_t m[64];
            memcpy(m, in, size);
            m[2] = (uint8_t)(ver << 4 | 0x0A);
            m[3] = 0x5C;
            ssize_t r = pdm_option_decode(&d, m, size, PDM_OPT_TYPE);
            if (ver == 2) {
                CHECK_INT(r, (long long)size);
                CHECK_INT(pdm_option_encode(out, sizeof out, &d), (long long)size);
                CHECK_MEM(out, in, size);
            } else {
                CHECK_INT(r, PDM_ERR_OPT_VERSION);
            }
        }
    }

    /* RN 0: invalid encrypted (either F), fine unencrypted. */
    for (unsigned f = 0; f < 2; f++) {
        size_t size = encode_sample(in, PDM_FORMAT_V2_ENCRYPTED, 99);
        in[4] = 0;
        in[5] = (uint8_t)f;
        CHECK_INT(pdm_option_decode(&d, in, size, PDM_OPT_TYPE), PDM_ERR_OPT_RN);
        size = encode_sample(in, PDM_FORMAT_V2, 99);
        in[4] = 0;
        in[5] = (uint8_t)f;
        CHECK_INT(pdm_option_decode(&d, in, size, PDM_OPT_TYPE), (long long)size);
        CHECK_INT(d.rn, 0);
        CHECK_INT(d.f, f);
    }

    /* RN/F split: 0x8003 -> RN 0x4001, F 1; 0x0002 -> RN 1, F 0. */
    size_t size = encode_sample(in, PDM_FORMAT_V2_ENCRYPTED, 5);
    in[4] = 0x80;
    in[5] = 0x03;
    CHECK_INT(pdm_option_decode(&d, in, size, PDM_OPT_TYPE), 36);
    CHECK_INT(d.rn, 0x4001);
    CHECK_INT(d.f, 1);
    in[4] = 0x00;
    in[5] = 0x02;
    CHECK_INT(pdm_option_decode(&d, in, size, PDM_OPT_TYPE), 36);
    CHECK_INT(d.rn, 1);
    CHECK_INT(d.f, 0);

    /* Round trip of every format with edge values. */
    for (size_t k = 0; k < 3; k++) {
        struct pdm_option o;
        memset(&o, 0xff, sizeof o);
        o.type = PDM_OPT_TYPE;
        o.format = fmts[k];
        o.rn = PDM_RN_MAX;
        o.f = 1;
        size = (size_t)pdm_option_encode(out, sizeof out, &o);
        CHECK_INT(pdm_option_decode(&d, out, size, PDM_OPT_TYPE), (long long)size);
        if (fmts[k] == PDM_FORMAT_V2)
            CHECK(fields_eq(&d.fields, &o.fields));
        if (fmts[k] == PDM_FORMAT_RFC8250)
            CHECK(d.fields.global_pointer == 0 && d.fields.psntp == 0xffff && d.rn == 0);
        if (fmts[k] == PDM_FORMAT_V2_ENCRYPTED)
            CHECK_MEM(d.sealed, o.sealed, sizeof d.sealed);
    }
}

static void test_fields_pack(void)
{
    struct pdm_fields f = {0x12, 0x34, 0x56789abc, 0xdef0, 0x1357, 0x2468, 0xfedc}, g;
    const uint8_t want[14] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde,
                              0xf0, 0x13, 0x57, 0x24, 0x68, 0xfe, 0xdc};
    uint8_t out[14];
    pdm_fields_pack(out, &f);
    CHECK_MEM(out, want, 14);
    memset(&g, 0, sizeof g);
    pdm_fields_unpack(&g, want);
    CHECK(fields_eq(&f, &g));

    uint8_t aad[6];
    pdm_option_write_clear(aad, 0x0F, PDM_FORMAT_V2_ENCRYPTED, 0x1234, 1);
    CHECK_MEM(aad, "\x0f\x22\x20\x00\x24\x69", 6);
    pdm_option_write_clear(aad, 0x0F, PDM_FORMAT_V2, 0x7fff, 0);
    CHECK_MEM(aad, "\x0f\x12\x20\x00\xff\xfe", 6);
}

/* ------------------------------------------------------------------------ */
/* Destination Options headers                                              */

static void test_dstopt_build(void)
{
    uint8_t opt[64], out[64];
    size_t sizes[3] = {16, 24, 40};
    const enum pdm_format fmts[] = {PDM_FORMAT_RFC8250, PDM_FORMAT_V2, PDM_FORMAT_V2_ENCRYPTED};

    for (size_t k = 0; k < 3; k++) {
        size_t n = encode_sample(opt, fmts[k], 3);
        for (size_t len = 0; len < sizes[k]; len++) {
            memset(out, 0xAA, sizeof out);
            CHECK_INT(pdm_dstopt_build(out, len, 6, opt, n), PDM_ERR_NOBUF);
            CHECK(out[0] == 0xAA);
        }
        CHECK_INT(pdm_dstopt_build(out, sizes[k], 58, opt, n), (long long)sizes[k]);
        CHECK_INT(out[0], 58);
        CHECK_INT(out[1], sizes[k] / 8 - 1);
        CHECK_MEM(out + 2, opt, n);
        CHECK(out[2 + n] == 1 && out[3 + n] == 0);
    }
    /* Other sizes of option: no padding, PadN with zeros. */
    const uint8_t six[6] = {0x1e, 4, 1, 2, 3, 4};
    CHECK_INT(pdm_dstopt_build(out, sizeof out, 17, six, 6), 8);
    CHECK_MEM(out + 2, six, 6);
    const uint8_t two[2] = {0x1e, 0};
    memset(out, 0xAA, sizeof out);
    CHECK_INT(pdm_dstopt_build(out, sizeof out, 17, two, 2), 8);
    CHECK_MEM(out, "\x11\x00\x1e\x00\x01\x02\x00\x00", 8);
    CHECK_INT(pdm_dstopt_find(out, 8, 0x1e, NULL, NULL), PDM_ERR_OPT_LENGTH);

    /* Invalid options. */
    const uint8_t odd[5] = {0x1e, 3, 1, 2, 3};
    CHECK_INT(pdm_dstopt_build(out, sizeof out, 17, odd, 5), PDM_ERR_INVAL);
    CHECK_INT(pdm_dstopt_build(out, sizeof out, 17, six, 4), PDM_ERR_INVAL); /* length disagrees */
    CHECK_INT(pdm_dstopt_build(out, sizeof out, 17, six, 0), PDM_ERR_INVAL);
    CHECK_INT(pdm_dstopt_build(out, sizeof out, 17, NULL, 12), PDM_ERR_INVAL);
    const uint8_t padn[4] = {1, 2, 0, 0};
    CHECK_INT(pdm_dstopt_build(out, sizeof out, 17, padn, 4), PDM_ERR_INVAL);
}

static void test_dstopt_find(void)
{
    uint8_t h[64], opt[64];
    struct pdm_option d;
    size_t off = 99;
    size_t n = encode_sample(opt, PDM_FORMAT_V2, 8);

    /* A header with an unknown option first (action bits 11: still skipped). */
    memset(h, 0, sizeof h);
    h[0] = 6;
    h[1] = 3; /* 32 bytes */
    h[2] = 0xC5;
    h[3] = 3;
    h[4] = 9;
    h[5] = 9;
    h[6] = 9;
    h[7] = 0; /* Pad1 */
    memcpy(h + 8, opt, n);
    h[28] = 1;
    h[29] = 2; /* PadN(2): 4 bytes to 32 */
    CHECK_INT(pdm_dstopt_find(h, 32, PDM_OPT_TYPE, &d, &off), 0);
    CHECK_INT(off, 8);
    CHECK_INT(d.format, PDM_FORMAT_V2);
    CHECK_INT(pdm_dstopt_find(h, 32, PDM_OPT_TYPE, NULL, NULL), 0);
    CHECK_INT(pdm_dstopt_find(h, 32, 0x33, &d, &off), PDM_ERR_NOT_FOUND);

    /* Header length: every hdrlen but 32 disagrees with HdrExtLen 3. */
    int bad = 0;
    for (size_t len = 0; len <= sizeof h; len++)
        bad += len != 32 && pdm_dstopt_find(h, len, PDM_OPT_TYPE, &d, &off) == PDM_ERR_HDR_LENGTH;
    CHECK_INT(bad, sizeof h);
    CHECK_INT(pdm_dstopt_find(NULL, 8, PDM_OPT_TYPE, &d, &off), PDM_ERR_HDR_LENGTH);

    /* Non-zero PadN content, at each of its bytes. */
    for (size_t i = 30; i < 32; i++) {
        uint8_t m[64];
        memcpy(m, h, 32);
        m[i] = 0x80;
        CHECK_INT(pdm_dstopt_find(m, 32, PDM_OPT_TYPE, &d, &off), PDM_ERR_HDR_OPTIONS);
    }
    /* Pad1 with a non-zero value is not a Pad1: here, an option overrunning. */
    {
        uint8_t m[64];
        memcpy(m, h, 32);
        m[29] = 3; /* PadN(3) runs one byte past the end */
        CHECK_INT(pdm_dstopt_find(m, 32, PDM_OPT_TYPE, &d, &off), PDM_ERR_HDR_OPTIONS);
        memcpy(m, h, 32);
        m[28] = 0x1e; /* unknown option, length 2, ends exactly: fine */
        m[30] = 0x55;
        CHECK_INT(pdm_dstopt_find(m, 32, PDM_OPT_TYPE, &d, &off), 0);
        memcpy(m, h, 32);
        m[3] = 200; /* first option runs past the header */
        CHECK_INT(pdm_dstopt_find(m, 32, PDM_OPT_TYPE, &d, &off), PDM_ERR_HDR_OPTIONS);
        memcpy(m, h, 32);
        m[28] = 0;
        m[29] = 0;
        m[30] = 0;
        m[31] = 0x1e; /* a lone Type byte at the very end */
        CHECK_INT(pdm_dstopt_find(m, 32, PDM_OPT_TYPE, &d, &off), PDM_ERR_HDR_OPTIONS);
    }

    /* Padding runs: 7 bytes fine (as Pad1s, as PadN, mixed), 8 refused. */
    {
        const uint8_t empty[8] = {17, 0, 1, 4, 0, 0, 0, 0}; /* 6 bytes of padding */
        CHECK_INT(pdm_dstopt_find(empty, 8, PDM_OPT_TYPE, &d, &off), PDM_ERR_NOT_FOUND);
        const uint8_t p1x6[8] = {17, 0, 0, 0, 0, 0, 0, 0};
        CHECK_INT(pdm_dstopt_find(p1x6, 8, PDM_OPT_TYPE, &d, &off), PDM_ERR_NOT_FOUND);
        uint8_t m[16] = {17, 1, 0x1e, 5, 1, 2, 3, 4, 5, 1, 5, 0, 0, 0, 0, 0}; /* PadN: 7 */
        CHECK_INT(pdm_dstopt_find(m, 16, PDM_OPT_TYPE, &d, &off), PDM_ERR_NOT_FOUND);
        const uint8_t p7[16] = {17, 1, 0x1e, 5, 1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 0, 0}; /* Pad1 x7 */
        CHECK_INT(pdm_dstopt_find(p7, 16, PDM_OPT_TYPE, &d, &off), PDM_ERR_NOT_FOUND);
        const uint8_t mix7[16] = {17, 1, 0x1e, 5, 1, 2, 3, 4, 5, 0, 1, 3, 0, 0, 0, 0};
        CHECK_INT(pdm_dstopt_find(mix7, 16, PDM_OPT_TYPE, &d, &off), PDM_ERR_NOT_FOUND);
        const uint8_t p8[16] = {17, 1, 0x1e, 4, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0}; /* 8 Pad1 */
        CHECK_INT(pdm_dstopt_find(p8, 16, PDM_OPT_TYPE, &d, &off), PDM_ERR_HDR_OPTIONS);
        const uint8_t n8[16] = {17, 1, 0x1e, 4, 1, 2, 3, 4, 1, 6, 0, 0, 0, 0, 0, 0}; /* PadN 8 */
        CHECK_INT(pdm_dstopt_find(n8, 16, PDM_OPT_TYPE, &d, &off), PDM_ERR_HDR_OPTIONS);
        const uint8_t mix8[16] = {17, 1, 0, 1, 4, 0, 0, 0, 0, 0, 0x1e, 4, 1, 2, 3, 4};
        CHECK_INT(pdm_dstopt_find(mix8, 16, PDM_OPT_TYPE, &d, &off), PDM_ERR_HDR_OPTIONS);
        /* Two runs of 6 separated by an option are fine. */
        const uint8_t two6[16] = {17, 1, 1, 4, 0, 0, 0, 0, 0x1e, 0, 1, 4, 0, 0, 0, 0};
        CHECK_INT(pdm_dstopt_find(two6, 16, PDM_OPT_TYPE, &d, &off), PDM_ERR_NOT_FOUND);
    }

    /* Duplicate: two PDM options in one header. */
    {
        uint8_t m[32] = {17, 3};
        size_t k = encode_sample(opt, PDM_FORMAT_RFC8250, 1);
        memcpy(m + 2, opt, k);
        memcpy(m + 14, opt, k);
        m[26] = 1;
        m[27] = 4;
        CHECK_INT(pdm_dstopt_find(m, 32, PDM_OPT_TYPE, &d, &off), PDM_ERR_DUPLICATE);
    }

    /* Malformed PDM option inside a well-formed header: decode errors. */
    {
        uint8_t m[16] = {17, 1, PDM_OPT_TYPE, 12, 0};
        CHECK_INT(pdm_dstopt_find(m, 16, PDM_OPT_TYPE, &d, &off), PDM_ERR_OPT_LENGTH);
        uint8_t e[40];
        size_t k = encode_sample(opt, PDM_FORMAT_V2_ENCRYPTED, 3);
        CHECK_INT(pdm_dstopt_build(e, sizeof e, 17, opt, k), 40);
        e[6] = 0;
        e[7] = 1; /* RN 0, F 1 */
        CHECK_INT(pdm_dstopt_find(e, 40, PDM_OPT_TYPE, &d, &off), PDM_ERR_OPT_RN);
        e[6] = 0;
        e[7] = 2;
        e[4] = 0x30; /* version 3 */
        CHECK_INT(pdm_dstopt_find(e, 40, PDM_OPT_TYPE, &d, &off), PDM_ERR_OPT_VERSION);
        /* The header is checked as a whole first: bad padding wins. */
        e[4] = 0x30;
        e[39] = 7;
        CHECK_INT(pdm_dstopt_find(e, 40, PDM_OPT_TYPE, &d, &off), PDM_ERR_HDR_OPTIONS);
    }
}

/* ------------------------------------------------------------------------ */
/* Packet parse                                                             */

static void test_parse_basic(void)
{
    struct pb b;
    struct pdm_pkt_info pi;
    const uint8_t protos[] = {PDM_NH_TCP, PDM_NH_UDP, PDM_NH_UDPLITE, PDM_NH_SCTP, PDM_NH_DCCP};

    for (size_t k = 0; k < sizeof protos; k++) {
        pb_init(&b);
        pb_upper(&b, protos[k], 20, 1);
        CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), 0);
        CHECK_INT(pi.pkt_len, 60);
        CHECK_INT(pi.upper_proto, protos[k]);
        CHECK_INT(pi.upper_off, 40);
        CHECK_INT(pi.nh_off, 6);
        CHECK_INT(pi.final_dst_off, 0);
        CHECK_INT(pi.has_ports, 1);
        CHECK_INT(pi.sport, 12345);
        CHECK_INT(pi.dport, 443);
        CHECK_INT(pi.has_pdm, 0);
        CHECK_INT(pi.is_fragment, 0);
        /* Three bytes of transport header: no ports. */
        set_plen(b.buf, 3);
        CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), 0);
        CHECK_INT(pi.has_ports, 0);
        CHECK_INT(pi.sport, 0);
        set_plen(b.buf, 4);
        CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), 0);
        CHECK_INT(pi.has_ports, 1);
    }
    /* ICMPv6 and others: no ports. */
    pb_init(&b);
    pb_upper(&b, PDM_NH_ICMPV6, 20, 1);
    CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), 0);
    CHECK_INT(pi.has_ports, 0);
    CHECK(pi.sport == 0 && pi.dport == 0);
    CHECK_INT(pi.upper_proto, 58);

    /* Not IPv6: short, wrong version. */
    for (size_t len = 0; len < 40; len++)
        CHECK_INT(pdm_pkt_parse(b.buf, len, PDM_OPT_TYPE, &pi), PDM_ERR_NOT_IPV6);
    b.buf[0] = 0x45;
    CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), PDM_ERR_NOT_IPV6);
    b.buf[0] = 0x60;

    /* Payload Length vs buffer: short refused, longer ignored. */
    for (size_t len = 40; len < b.len; len++)
        CHECK_INT(pdm_pkt_parse(b.buf, len, PDM_OPT_TYPE, &pi), PDM_ERR_PAYLOAD_LENGTH);
    CHECK_INT(pdm_pkt_parse(b.buf, b.len + 6, PDM_OPT_TYPE, &pi), 0);
    CHECK_INT(pi.pkt_len, 60);
    set_plen(b.buf, 0xffff);
    CHECK_INT(pdm_pkt_parse(b.buf, BUFCAP, PDM_OPT_TYPE, &pi), PDM_ERR_PAYLOAD_LENGTH);

    /* Payload Length 0: with nothing, with TCP, No Next Header, HBH (jumbo). */
    pb_init(&b);
    b.buf[6] = PDM_NH_NONE;
    CHECK_INT(pdm_pkt_parse(b.buf, 40, PDM_OPT_TYPE, &pi), 0);
    CHECK_INT(pi.pkt_len, 40);
    CHECK_INT(pi.upper_proto, PDM_NH_NONE);
    CHECK_INT(pi.upper_off, 40);
    b.buf[6] = PDM_NH_TCP;
    CHECK_INT(pdm_pkt_parse(b.buf, 40, PDM_OPT_TYPE, &pi), 0);
    CHECK_INT(pi.has_ports, 0);
    CHECK_INT(pi.upper_off, 40);
    b.buf[6] = PDM_NH_DSTOPTS;
    CHECK_INT(pdm_pkt_parse(b.buf, 40, PDM_OPT_TYPE, &pi), PDM_ERR_HDR_LENGTH);
    {
        const uint8_t jumbo[8] = {PDM_NH_UDP, 0, 0xC2, 4, 0, 1, 0, 0};
        pb_init(&b);
        memcpy(b.buf + 40, jumbo, 8);
        b.buf[6] = PDM_NH_HOPOPTS;
        CHECK_INT(pdm_pkt_parse(b.buf, 200, PDM_OPT_TYPE, &pi), PDM_ERR_JUMBO);
        CHECK_INT(pdm_pkt_parse(b.buf, 40, PDM_OPT_TYPE, &pi), PDM_ERR_HDR_LENGTH);
        b.buf[42] = 0x1e; /* not a jumbo option */
        CHECK_INT(pdm_pkt_parse(b.buf, 48, PDM_OPT_TYPE, &pi), PDM_ERR_HDR_LENGTH);
    }
}

static void test_parse_chain(void)
{
    struct pb b;
    struct pdm_pkt_info pi;
    uint8_t opt[64];
    size_t n = encode_sample(opt, PDM_FORMAT_RFC8250, 21);
    const uint8_t unk[4] = {0x1e, 2, 0xaa, 0xbb};

    /* HBH + DstOpts(first) + Routing + AH + DstOpts(final, PDM) + UDP. */
    pb_init(&b);
    size_t hbh = pb_opts(&b, PDM_NH_HOPOPTS, unk, 4);
    size_t d1 = pb_opts(&b, PDM_NH_DSTOPTS, unk, 4);
    size_t rt = pb_routing(&b);
    size_t ah = pb_ah(&b);
    size_t d2 = pb_opts(&b, PDM_NH_DSTOPTS, opt, n);
    size_t up = pb_upper(&b, PDM_NH_UDP, 30, 9);
    CHECK_INT(hbh, 40);
    CHECK_INT(d1, 48);
    CHECK_INT(rt, 56);
    CHECK_INT(ah, 80);
    CHECK_INT(d2, 104);
    CHECK_INT(up, 120);
    CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), 0);
    CHECK_INT(pi.upper_off, up);
    CHECK_INT(pi.upper_proto, PDM_NH_UDP);
    CHECK_INT(pi.nh_off, d2);
    CHECK_INT(pi.final_dst_off, d2);
    CHECK_INT(pi.final_dst_len, 16);
    CHECK_INT(pi.has_pdm, 1);
    CHECK_INT(pi.pdm_off, d2 + 2);
    CHECK_INT(pi.pdm.format, PDM_FORMAT_RFC8250);
    CHECK_INT(pi.has_ports, 1);

    /* Truncating the packet (Payload Length) inside any header: HDR_LENGTH. */
    int hl_errs = 0;
    for (size_t cut = 40; cut < up; cut++) {
        set_plen(b.buf, cut - 40);
        hl_errs += pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi) == PDM_ERR_HDR_LENGTH;
    }
    CHECK_INT(hl_errs, up - 40);
    set_plen(b.buf, up - 40); /* ends right after the headers: empty upper layer */
    CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), 0);
    CHECK_INT(pi.upper_off, up);
    CHECK_INT(pi.has_ports, 0);
    set_plen(b.buf, b.len - 40);

    /* PDM in the first DstOpts (not final) is found too; with the final one: duplicate. */
    pb_init(&b);
    pb_opts(&b, PDM_NH_DSTOPTS, opt, n);
    pb_routing(&b);
    d2 = pb_opts(&b, PDM_NH_DSTOPTS, unk, 4);
    pb_upper(&b, PDM_NH_TCP, 20, 1);
    CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), 0);
    CHECK_INT(pi.has_pdm, 1);
    CHECK_INT(pi.pdm_off, 42);
    CHECK_INT(pi.final_dst_off, d2);
    pb_init(&b); /* PDM in both DstOpts headers */
    pb_opts(&b, PDM_NH_DSTOPTS, opt, n);
    pb_routing(&b);
    pb_opts(&b, PDM_NH_DSTOPTS, opt, n);
    pb_upper(&b, PDM_NH_TCP, 20, 1);
    CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), PDM_ERR_DUPLICATE);

    pb_init(&b);
    pb_opts(&b, PDM_NH_HOPOPTS, opt, n);
    pb_opts(&b, PDM_NH_DSTOPTS, opt, n);
    pb_upper(&b, PDM_NH_TCP, 20, 1);
    CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), PDM_ERR_DUPLICATE);
    CHECK_INT(pdm_pkt_parse(b.buf, b.len, 0x2A, &pi), 0); /* another type: none */
    CHECK_INT(pi.has_pdm, 0);

    /* No final DstOpts: DstOpts then Routing. */
    pb_init(&b);
    pb_opts(&b, PDM_NH_DSTOPTS, unk, 4);
    pb_routing(&b);
    pb_upper(&b, PDM_NH_ICMPV6, 8, 1);
    CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), 0);
    CHECK_INT(pi.final_dst_off, 0);
    CHECK_INT(pi.nh_off, 48);

    /* HBH not first is malformed. */
    pb_init(&b);
    pb_opts(&b, PDM_NH_DSTOPTS, unk, 4);
    pb_opts(&b, PDM_NH_HOPOPTS, unk, 4);
    pb_upper(&b, PDM_NH_UDP, 8, 1);
    CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), PDM_ERR_HDR_OPTIONS);

    /* Bad PadN content in HBH. */
    pb_init(&b);
    hbh = pb_opts(&b, PDM_NH_HOPOPTS, unk, 4);
    pb_upper(&b, PDM_NH_UDP, 8, 1);
    b.buf[hbh + 7] = 1;
    CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), PDM_ERR_HDR_OPTIONS);

    /* Malformed PDM option in a packet. */
    pb_init(&b);
    d2 = pb_opts(&b, PDM_NH_DSTOPTS, opt, n);
    pb_upper(&b, PDM_NH_UDP, 8, 1);
    b.buf[d2 + 2 + 1] = 8;
    b.buf[d2 + 2 + 10] = 1; /* PadN(0) after an 8-byte option... */
    b.buf[d2 + 2 + 11] = 0;
    b.buf[d2 + 2 + 12] = 1; /* ...and PadN(0) again */
    b.buf[d2 + 2 + 13] = 0;
    CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), PDM_ERR_OPT_LENGTH);

    /* Every generic-format extension header: Mobility, HIP, Shim6. */
    const uint8_t gen[] = {PDM_NH_MOBILITY, PDM_NH_HIP, PDM_NH_SHIM6, PDM_NH_ROUTING};
    for (size_t k = 0; k < sizeof gen; k++) {
        uint8_t h[16] = {0, 1, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5};
        pb_init(&b);
        size_t g = pb_hdr(&b, gen[k], h, 16);
        up = pb_upper(&b, PDM_NH_TCP, 20, 3);
        CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), 0);
        CHECK_INT(pi.upper_off, up);
        CHECK_INT(pi.nh_off, g);
        CHECK_INT(pi.has_ports, 1);
        b.buf[g + 1] = 4; /* 40 bytes: past the 36-byte payload */
        CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), PDM_ERR_HDR_LENGTH);
    }

    /* AH: (len + 2) * 4; an AH of 12 bytes (len 1) is legal. */
    pb_init(&b);
    size_t a = pb_ah(&b);
    up = pb_upper(&b, PDM_NH_UDP, 12, 1);
    CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), 0);
    CHECK_INT(pi.upper_off, a + 24);
    b.buf[a + 1] = 1;
    CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), 0);
    CHECK_INT(pi.upper_off, a + 12);
    CHECK_INT(pi.has_ports, 1); /* reads the ICV bytes as ports: fine */
    b.buf[a + 1] = 5;           /* 28 bytes, payload has 36: fine */
    CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), 0);
    b.buf[a + 1] = 8; /* 40 bytes > 36 */
    CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), PDM_ERR_HDR_LENGTH);

    /* ESP and No Next Header end the chain. */
    pb_init(&b);
    d2 = pb_opts(&b, PDM_NH_DSTOPTS, unk, 4);
    up = pb_upper(&b, PDM_NH_ESP, 40, 1);
    CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), 0);
    CHECK_INT(pi.upper_proto, PDM_NH_ESP);
    CHECK_INT(pi.upper_off, up);
    CHECK_INT(pi.has_ports, 0);
    CHECK_INT(pi.final_dst_off, d2);
    b.buf[d2] = PDM_NH_NONE;
    CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), 0);
    CHECK_INT(pi.upper_proto, PDM_NH_NONE);
    CHECK_INT(pi.upper_off, up);
    CHECK_INT(pi.final_dst_off, d2);

    /* Fragments: the first is walked through, the others stop. */
    pb_init(&b);
    size_t fr = pb_frag(&b, 0, 1);
    up = pb_upper(&b, PDM_NH_UDP, 40, 1);
    CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), 0);
    CHECK_INT(pi.is_fragment, 1);
    CHECK_INT(pi.upper_off, up);
    CHECK_INT(pi.upper_proto, PDM_NH_UDP);
    CHECK_INT(pi.has_ports, 1);
    pb_init(&b);
    pb_opts(&b, PDM_NH_DSTOPTS, opt, n);
    fr = pb_frag(&b, 185, 0);
    up = pb_upper(&b, PDM_NH_UDP, 40, 1);
    CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), 0);
    CHECK_INT(pi.is_fragment, 1);
    CHECK_INT(pi.upper_off, pi.pkt_len);
    CHECK_INT(pi.upper_proto, PDM_NH_UDP);
    CHECK_INT(pi.nh_off, fr);
    CHECK_INT(pi.has_ports, 0);
    CHECK_INT(pi.final_dst_off, 0);
    CHECK_INT(pi.has_pdm, 1); /* in the unfragmentable part */
    /* Offset 1 (8 bytes) is already a later fragment; the M bit alone is not. */
    for (unsigned o = 0; o < 2; o++) {
        pb_init(&b);
        pb_frag(&b, (uint16_t)o, 1);
        up = pb_upper(&b, PDM_NH_UDP, 40, 1);
        CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), 0);
        CHECK_INT(pi.upper_off, o ? pi.pkt_len : up);
        CHECK_INT(pi.has_ports, !o);
    }
    pb_init(&b);
    pb_opts(&b, PDM_NH_DSTOPTS, opt, n);
    fr = pb_frag(&b, 185, 0);
    pb_upper(&b, PDM_NH_UDP, 40, 1);
    for (size_t cut = fr; cut < fr + 8; cut++) {
        set_plen(b.buf, cut - 40);
        CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), PDM_ERR_HDR_LENGTH);
    }
}

/* ------------------------------------------------------------------------ */
/* Insertion                                                                */

/* Runs an insertion that must fail with want, checking nothing changed. */
static void insert_fails(const struct pb *b, size_t cap, const uint8_t *opt, size_t optlen,
                         int want)
{
    static uint8_t copy[BUFCAP], snap[BUFCAP];
    size_t len = b->len, off = 777;
    memcpy(copy, b->buf, BUFCAP);
    memcpy(snap, b->buf, BUFCAP);
    CHECK_INT(pdm_pkt_insert(copy, &len, cap, opt, optlen, &off), want);
    CHECK_INT(len, b->len);
    CHECK_INT(off, 777);
    CHECK_MEM(copy, snap, BUFCAP);
    /* The copying variant refuses the same way and leaves src alone. */
    static uint8_t dst[BUFCAP];
    size_t dlen = 999;
    /* (*len > cap is the in-place variant's INVAL; for a copy it just means
     * dst is too small.) */
    int want_copy = want == PDM_ERR_INVAL && cap < b->len && opt ? PDM_ERR_TOO_BIG : want;
    CHECK_INT(pdm_pkt_insert_copy(dst, cap, copy, b->len, opt, optlen, &dlen, &off), want_copy);
    CHECK_INT(dlen, 999);
    CHECK_MEM(copy, snap, BUFCAP);
}

/* pdm_pkt_insert_copy() must produce exactly what the in-place insertion
 * produced (inserted: len bytes, option at off, r bytes added). */
static int copy_variant_agrees(const struct pb *b, const uint8_t *opt, size_t optlen,
                               const uint8_t *inserted, size_t len, size_t off, ssize_t r)
{
    static uint8_t dst[BUFCAP];
    size_t dlen = 0, doff = 0;
    ssize_t r2 = pdm_pkt_insert_copy(dst, BUFCAP, b->buf, b->len, opt, optlen, &dlen, &doff);
    return r2 == r && dlen == len && doff == off && memcmp(dst, inserted, len) == 0;
}

/*
 * The one-parse path must agree with pdm_pkt_insert() too: parse, make
 * room, write the option where it goes; and making room then taking it
 * back must give the packet back (its first 40 + Payload Length bytes).
 */
static int room_variant_agrees(const struct pb *b, const uint8_t *opt, size_t optlen,
                               const uint8_t *inserted, size_t len, size_t off, ssize_t r)
{
    static uint8_t buf[BUFCAP];
    struct pdm_pkt_info pi;
    struct pdm_insert_undo u;
    size_t blen = b->len, boff = 0;
    ssize_t r2;
    int ok = 1;

    memcpy(buf, b->buf, BUFCAP);
    if (pdm_pkt_parse(buf, blen, opt[0], &pi) != 0)
        return 0;
    /* The end of a final header's options, as the parse reports it: where
     * the merged option starts (at the next even offset). */
    if (pi.final_dst_off != 0)
        ok &= off - pi.final_dst_off == pi.final_dst_end + (pi.final_dst_end & 1);
    r2 = pdm_pkt_insert_room(buf, &blen, BUFCAP, &pi, optlen, &boff, &u);
    ok &= r2 == r && blen == len && boff == off;
    if (!ok)
        return 0;
    memcpy(buf + boff, opt, optlen);
    ok &= memcmp(buf, inserted, len) == 0;
    /* Undone, then done again the same way. */
    pdm_pkt_insert_undo(buf, &blen, &u);
    ok &= blen == pi.pkt_len && memcmp(buf, b->buf, pi.pkt_len) == 0;
    blen = b->len;
    memcpy(buf, b->buf, BUFCAP);
    r2 = pdm_pkt_insert_room(buf, &blen, BUFCAP, &pi, optlen, &boff, NULL);
    memcpy(buf + boff, opt, optlen);
    return ok && r2 == r && memcmp(buf, inserted, len) == 0;
}

/* Inserts every format into b (on copies), checking all invariants. */
static void insert_all_formats(const struct pb *b, size_t want_add[3])
{
    static uint8_t copy[BUFCAP];
    const enum pdm_format fmts[] = {PDM_FORMAT_RFC8250, PDM_FORMAT_V2, PDM_FORMAT_V2_ENCRYPTED};
    uint8_t opt[64];

    for (size_t k = 0; k < 3; k++) {
        size_t n = encode_sample(opt, fmts[k], (uint16_t)(k + 40));
        size_t len = b->len, off = 0;
        memcpy(copy, b->buf, BUFCAP);
        ssize_t r = pdm_pkt_insert(copy, &len, BUFCAP, opt, n, &off);
        if (want_add)
            CHECK_INT(r, (long long)want_add[k]);
        CHECK(r > 0);
        CHECK(check_inserted(b->buf, b->len, copy, len, opt, n, off, r));
        CHECK(copy_variant_agrees(b, opt, n, copy, len, off, r));
        CHECK(room_variant_agrees(b, opt, n, copy, len, off, r));
        /* Exactly enough room works; one byte less leaves it unchanged. */
        if (r > 0) {
            size_t need = len;
            insert_fails(b, need - 1, opt, n, PDM_ERR_TOO_BIG);
            len = b->len;
            memcpy(copy, b->buf, BUFCAP);
            CHECK_INT(pdm_pkt_insert(copy, &len, need, opt, n, NULL), r);
            /* And a second insertion is refused as a duplicate. */
            size_t len2 = len;
            CHECK_INT(pdm_pkt_insert(copy, &len2, BUFCAP, opt, n, NULL), PDM_ERR_DUPLICATE);
        }
    }
}

static void test_insert_fresh(void)
{
    struct pb b;
    size_t fresh[3] = {16, 24, 40};
    const uint8_t protos[] = {PDM_NH_TCP, PDM_NH_UDP, PDM_NH_ICMPV6, PDM_NH_SCTP, PDM_NH_NONE};
    const uint8_t unk[4] = {0x1e, 2, 0xaa, 0xbb};
    uint8_t opt[64];

    for (size_t k = 0; k < sizeof protos; k++) {
        /* No extension headers. */
        pb_init(&b);
        pb_upper(&b, protos[k], 1240, (uint8_t)k);
        insert_all_formats(&b, fresh);
        /* Exact bytes for one case: the header is what build gives. */
        size_t n = encode_sample(opt, PDM_FORMAT_RFC8250, 5), len = b.len, off = 0;
        static uint8_t copy[BUFCAP];
        uint8_t hdr[16];
        memcpy(copy, b.buf, BUFCAP);
        CHECK_INT(pdm_pkt_insert(copy, &len, BUFCAP, opt, n, &off), 16);
        CHECK_INT(pdm_dstopt_build(hdr, sizeof hdr, protos[k], opt, n), 16);
        CHECK_MEM(copy + 40, hdr, 16);
        CHECK_INT(copy[6], PDM_NH_DSTOPTS);
        CHECK_INT(off, 42);
        CHECK_INT(len, 1296);
        CHECK_INT(copy[4] << 8 | copy[5], 1256);
        CHECK_MEM(copy + 56, b.buf + 40, 1240);

        /* With a Hop-by-Hop header. */
        pb_init(&b);
        size_t h = pb_opts(&b, PDM_NH_HOPOPTS, unk, 4);
        pb_upper(&b, protos[k], 100, (uint8_t)k);
        insert_all_formats(&b, fresh);
        len = b.len;
        memcpy(copy, b.buf, BUFCAP);
        CHECK_INT(pdm_pkt_insert(copy, &len, BUFCAP, opt, n, &off), 16);
        CHECK_INT(copy[6], PDM_NH_HOPOPTS);
        CHECK_INT(copy[h], PDM_NH_DSTOPTS);
        CHECK_INT(copy[h + 8], protos[k]);
        CHECK_INT(off, h + 8 + 2);

        /* HBH + DstOpts(first) + Routing + AH: new header after AH. */
        pb_init(&b);
        pb_opts(&b, PDM_NH_HOPOPTS, unk, 4);
        size_t d1 = pb_opts(&b, PDM_NH_DSTOPTS, unk, 4);
        pb_routing(&b);
        size_t a = pb_ah(&b);
        pb_upper(&b, protos[k], 64, (uint8_t)k);
        insert_all_formats(&b, fresh);
        len = b.len;
        memcpy(copy, b.buf, BUFCAP);
        CHECK_INT(pdm_pkt_insert(copy, &len, BUFCAP, opt, n, &off), 16);
        CHECK_INT(copy[a], PDM_NH_DSTOPTS);
        CHECK_INT(copy[d1], PDM_NH_ROUTING);
        CHECK_INT(off, a + 24 + 2);
    }

    /* Empty upper layer (Payload Length 0, TCP). */
    pb_init(&b);
    b.buf[6] = PDM_NH_TCP;
    insert_all_formats(&b, fresh);

    /* Link padding past Payload Length is dropped. */
    pb_init(&b);
    pb_upper(&b, PDM_NH_UDP, 8, 1);
    memset(b.buf + b.len, 0xEE, 6);
    {
        static uint8_t copy[BUFCAP];
        size_t n = encode_sample(opt, PDM_FORMAT_V2, 5), len = b.len + 6;
        memcpy(copy, b.buf, BUFCAP);
        CHECK_INT(pdm_pkt_insert(copy, &len, BUFCAP, opt, n, NULL), 24);
        CHECK_INT(len, b.len + 24);
        CHECK(check_inserted(b.buf, b.len, copy, len, opt, n, 42, 24));
    }
}

static void test_insert_merge(void)
{
    struct pb b;
    static uint8_t copy[BUFCAP];
    uint8_t opt[64];
    const enum pdm_format fmts[] = {PDM_FORMAT_RFC8250, PDM_FORMAT_V2, PDM_FORMAT_V2_ENCRYPTED};

    /* Existing options ending at every offset 2..17 (Pad1s between). */
    for (size_t olen = 0; olen < 16; olen++) {
        for (size_t k = 0; k < 3; k++) {
            uint8_t tlv[32];
            size_t tl = 0, end;
            /* An unknown option of olen bytes (olen >= 2), or that many Pad1s + one 2-byte. */
            if (olen >= 2) {
                tlv[0] = 0x3e;
                tlv[1] = (uint8_t)(olen - 2);
                for (size_t i = 2; i < olen; i++)
                    tlv[i] = (uint8_t)(0xc0 + i);
                tl = olen;
            } else {
                for (size_t i = 0; i < olen; i++)
                    tlv[tl++] = 0; /* leading Pad1s */
                tlv[tl++] = 0x3e;
                tlv[tl++] = 0;
            }
            end = 2 + tl;
            pb_init(&b);
            pb_opts(&b, PDM_NH_HOPOPTS, (const uint8_t[]){0x1e, 0}, 2);
            size_t d = pb_opts(&b, PDM_NH_DSTOPTS, tlv, tl);
            size_t hl_before = ((size_t)b.buf[d + 1] + 1) * 8;
            pb_upper(&b, k == 0 ? PDM_NH_TCP : k == 1 ? PDM_NH_UDP : PDM_NH_ICMPV6, 200, 3);

            size_t n = encode_sample(opt, fmts[k], (uint16_t)olen);
            size_t len = b.len, off = 0;
            memcpy(copy, b.buf, BUFCAP);
            ssize_t r = pdm_pkt_insert(copy, &len, BUFCAP, opt, n, &off);
            CHECK(check_inserted(b.buf, b.len, copy, len, opt, n, off, r));
            size_t optat = end + (end & 1);
            size_t newhl = (optat + n + 7) & ~(size_t)7;
            CHECK_INT(off, d + optat);
            CHECK_INT(r, (long long)(newhl - hl_before));
            CHECK_INT(((size_t)copy[d + 1] + 1) * 8, newhl);
            CHECK_INT(copy[d], b.buf[d]);                    /* NH of the merged header is kept */
            CHECK_MEM(copy + d + 2, b.buf + d + 2, end - 2); /* existing options in place */
            if (end & 1)
                CHECK_INT(copy[d + end], PDM_OPT_PAD1);
            /* Trailing padding: Pad1 for one byte, PadN with zeros else. */
            size_t tp = newhl - optat - n;
            CHECK(tp % 2 == 0 && tp <= 6);
            if (tp >= 2) {
                CHECK_INT(copy[d + optat + n], PDM_OPT_PADN);
                CHECK_INT(copy[d + optat + n + 1], tp - 2);
            }
            CHECK_INT(pdm_dstopt_find(copy + d, newhl, PDM_OPT_TYPE, NULL, NULL), 0);
        }
    }

    /* Padding between existing options is kept exactly. */
    {
        const uint8_t tlv[] = {0x3e, 1, 7, 0, 1, 1, 0, 0x3f, 3, 1, 2, 3}; /* opt Pad1 PadN(1) opt */
        pb_init(&b);
        size_t d = pb_opts(&b, PDM_NH_DSTOPTS, tlv, sizeof tlv);
        pb_upper(&b, PDM_NH_UDP, 20, 1);
        size_t n = encode_sample(opt, PDM_FORMAT_V2, 3), len = b.len, off = 0;
        memcpy(copy, b.buf, BUFCAP);
        ssize_t r = pdm_pkt_insert(copy, &len, BUFCAP, opt, n, &off);
        CHECK_INT(r, 24); /* 16 -> 40: option at 14, ends at 34 */
        CHECK(check_inserted(b.buf, b.len, copy, len, opt, n, off, r));
        CHECK_INT(copy[d], b.buf[d]);
        CHECK_MEM(copy + d + 2, tlv, sizeof tlv);
        CHECK_INT(off, d + 14);
    }

    /* A header that is only padding: the option goes at offset 2, same size. */
    {
        pb_init(&b);
        size_t d = pb_opts(&b, PDM_NH_DSTOPTS, NULL, 0);
        pb_upper(&b, PDM_NH_UDP, 20, 1);
        uint8_t two[2] = {0x3e, 0};
        size_t len = b.len, off = 0;
        memcpy(copy, b.buf, BUFCAP);
        /* A 2-byte option fits in the old padding: nothing is added. */
        CHECK_INT(pdm_pkt_insert(copy, &len, BUFCAP, two, 2, &off), 0);
        CHECK_INT(off, d + 2);
        CHECK_INT(len, b.len);
        CHECK_INT(copy[d + 1], 0);
        CHECK_MEM(copy + d + 2, two, 2);
        CHECK_MEM(copy + d + 4, "\x01\x02\x00\x00", 4);
        struct pdm_pkt_info pi;
        CHECK_INT(pdm_pkt_parse(copy, len, PDM_OPT_TYPE, &pi), 0);
        CHECK_INT(pi.has_pdm, 0);
        /* A 2-byte option of the looked-for type is a malformed PDM option. */
        CHECK_INT(pdm_pkt_parse(copy, len, 0x3e, &pi), PDM_ERR_OPT_LENGTH);
        CHECK_INT(pdm_dstopt_find(copy + d, 8, 0x3e, NULL, &off), PDM_ERR_OPT_LENGTH);
        CHECK_INT(off, d + 2); /* find leaves off alone on error */
        insert_all_formats(&b, (size_t[3]){8, 16, 32});
    }

    /* A 2048-byte final header full of options: TOO_BIG, unchanged. */
    {
        static uint8_t tlv[2046];
        size_t t = 0;
        while (t < 2046) {
            size_t l = 2046 - t > 257 ? 257 : 2046 - t;
            tlv[t] = 0x3e;
            tlv[t + 1] = (uint8_t)(l - 2);
            memset(tlv + t + 2, 0x77, l - 2);
            t += l;
        }
        pb_init(&b);
        pb_opts(&b, PDM_NH_DSTOPTS, tlv, sizeof tlv);
        pb_upper(&b, PDM_NH_UDP, 20, 1);
        CHECK_INT(b.len, 40 + 2048 + 20);
        size_t n = encode_sample(opt, PDM_FORMAT_RFC8250, 3);
        insert_fails(&b, BUFCAP, opt, n, PDM_ERR_TOO_BIG);
        /* Options ending at 2036 (header 2040): the option fits exactly. */
        t = 0;
        while (t < 2034) {
            size_t l = 2034 - t > 257 ? 257 : 2034 - t;
            tlv[t] = 0x3e;
            tlv[t + 1] = (uint8_t)(l - 2);
            t += l;
        }
        pb_init(&b);
        size_t d = pb_opts(&b, PDM_NH_DSTOPTS, tlv, 2034);
        pb_upper(&b, PDM_NH_UDP, 20, 1);
        CHECK_INT(b.buf[d + 1], 254);
        static uint8_t copy2[BUFCAP];
        size_t len = b.len, off = 0;
        memcpy(copy2, b.buf, BUFCAP);
        ssize_t r = pdm_pkt_insert(copy2, &len, BUFCAP, opt, n, &off);
        CHECK_INT(r, 8);
        CHECK_INT(copy2[d + 1], 255);
        CHECK_INT(off, d + 2036);
        CHECK(check_inserted(b.buf, b.len, copy2, len, opt, n, off, r));
        /* A v2 option no longer fits. */
        n = encode_sample(opt, PDM_FORMAT_V2, 3);
        insert_fails(&b, BUFCAP, opt, n, PDM_ERR_TOO_BIG);
    }
}

/* Runs pdm_pkt_insert_room() on b's parse where it must fail with want,
 * checking that nothing changed. */
static void room_fails(const struct pb *b, size_t len, size_t cap, const struct pdm_pkt_info *pi,
                       size_t optlen, int want)
{
    static uint8_t copy[BUFCAP];
    struct pdm_insert_undo u;
    size_t l = len, off = 777;

    memcpy(copy, b->buf, BUFCAP);
    CHECK_INT(pdm_pkt_insert_room(copy, &l, cap, pi, optlen, &off, &u), want);
    CHECK_INT(l, len);
    CHECK_INT(off, 777);
    CHECK_MEM(copy, b->buf, BUFCAP);
}

/*
 * pdm_pkt_insert_room() and pdm_pkt_insert_undo(): the checks, the bytes
 * an undo must put back (trailing padding of any form, HdrExtLen, the Next
 * Header byte, Payload Length), link-layer padding, and an option written
 * in place by its encoder.
 */
static void test_insert_room(void)
{
    static struct pb b;
    static uint8_t copy[BUFCAP];
    struct pdm_pkt_info pi, bad;
    struct pdm_insert_undo u;
    const uint8_t unk[4] = {0x1e, 2, 0xaa, 0xbb};
    size_t len, off;

    /* Argument checks and the insertion's own refusals. */
    pb_init(&b);
    pb_upper(&b, PDM_NH_UDP, 40, 1);
    CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), 0);
    room_fails(&b, b.len, BUFCAP, NULL, 12, PDM_ERR_INVAL);
    room_fails(&b, b.len, BUFCAP, &pi, 11, PDM_ERR_INVAL);
    room_fails(&b, b.len, BUFCAP, &pi, 0, PDM_ERR_INVAL);
    room_fails(&b, b.len, BUFCAP, &pi, 258, PDM_ERR_INVAL);
    room_fails(&b, b.len, b.len - 1, &pi, 12, PDM_ERR_INVAL);    /* *len > cap */
    room_fails(&b, b.len - 1, BUFCAP, &pi, 12, PDM_ERR_INVAL);   /* shorter than parsed */
    room_fails(&b, b.len, b.len + 15, &pi, 12, PDM_ERR_TOO_BIG); /* 16 needed */
    len = b.len;
    CHECK_INT(pdm_pkt_insert_room(b.buf, &len, BUFCAP, &pi, 12, NULL, NULL), PDM_ERR_INVAL);
    bad = pi;
    bad.is_fragment = 1;
    room_fails(&b, b.len, BUFCAP, &bad, 12, PDM_ERR_FRAGMENT);
    bad = pi;
    bad.upper_proto = PDM_NH_ESP;
    room_fails(&b, b.len, BUFCAP, &bad, 12, PDM_ERR_ESP);
    bad = pi;
    bad.has_pdm = 1;
    room_fails(&b, b.len, BUFCAP, &bad, 12, PDM_ERR_DUPLICATE);

    /* Link-layer padding past Payload Length: dropped by the insertion,
     * not brought back by the undo (the packet proper is). */
    len = b.len + 6;
    memcpy(copy, b.buf, BUFCAP);
    memset(copy + b.len, 0xee, 6);
    CHECK_INT(pdm_pkt_insert_room(copy, &len, BUFCAP, &pi, 12, &off, &u), 16);
    CHECK_INT(len, b.len + 16);
    CHECK_INT(off, 42);
    CHECK_INT(copy[6], PDM_NH_DSTOPTS);
    CHECK_INT(copy[40], PDM_NH_UDP);
    pdm_pkt_insert_undo(copy, &len, &u);
    CHECK_INT(len, b.len);
    CHECK_MEM(copy, b.buf, b.len);

    /* The option written in place by its encoder: what pdm_pkt_insert()
     * makes of the same bytes. */
    {
        uint8_t opt[64];
        size_t n = encode_sample(opt, PDM_FORMAT_V2, 9), l2 = b.len, off2 = 0;
        static uint8_t ref[BUFCAP];
        struct pdm_option o;
        memcpy(ref, b.buf, BUFCAP);
        CHECK_INT(pdm_pkt_insert(ref, &l2, BUFCAP, opt, n, &off2), 24);
        CHECK_INT(pdm_option_decode(&o, opt, n, PDM_OPT_TYPE), (long long)n);
        memcpy(copy, b.buf, BUFCAP);
        len = b.len;
        CHECK_INT(pdm_pkt_insert_room(copy, &len, BUFCAP, &pi, n, &off, NULL), 24);
        CHECK_INT(pdm_option_encode(copy + off, n, &o), (long long)n);
        CHECK_INT(len, l2);
        CHECK_INT(off, off2);
        CHECK_MEM(copy, ref, len);
    }

    /* Merging into headers whose trailing padding takes each form: Pad1s,
     * PadN, Pad1 then PadN. The undo restores those exact bytes and
     * HdrExtLen. (One unk ends at 6: 2 bytes of padding to 8; two end at
     * 10: 6 bytes to 16; a 7-byte option ends at 9, odd: 7 bytes.) */
    {
        const uint8_t tails[][7] = {
            {0, 0}, {1, 0}, {0, 1, 3, 0, 0, 0}, {1, 5, 0, 0, 0, 0, 0}, {0, 0, 0, 1, 2, 0, 0}};
        const size_t tail_len[] = {2, 2, 6, 7, 7};
        for (size_t k = 0; k < 5; k++) {
            uint8_t tlv[16];
            size_t tl = 0;
            if (tail_len[k] == 2) {
                memcpy(tlv, unk, 4);
                tl = 4;
            } else if (tail_len[k] == 6) {
                memcpy(tlv, unk, 4); /* ends at 6, a 16-byte header */
                memcpy(tlv + 4, unk, 4);
                tl = 8;
            } else {
                tlv[0] = 0x1e; /* a 7-byte option */
                tlv[1] = 5;
                memset(tlv + 2, 0x55, 5);
                tl = 7;
            }
            memcpy(tlv + tl, tails[k], tail_len[k]);
            pb_init(&b);
            /* pb_opts pads itself: give it the exact header body. */
            size_t d = pb_opts(&b, PDM_NH_DSTOPTS, tlv, tl + tail_len[k]);
            pb_upper(&b, PDM_NH_TCP, 30, 3);
            CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), 0);
            CHECK_INT(pi.final_dst_off, d);
            CHECK_INT(pi.final_dst_end, 2 + tl);
            for (size_t optlen = 2; optlen <= 36; optlen += 2) {
                memcpy(copy, b.buf, BUFCAP);
                len = b.len;
                ssize_t r = pdm_pkt_insert_room(copy, &len, BUFCAP, &pi, optlen, &off, &u);
                CHECK(r >= 0 && (off - d) % 2 == 0 && off >= d + 2 + tl);
                CHECK_INT(copy[d + 1], (off - d + optlen + 7) / 8 - 1);
                pdm_pkt_insert_undo(copy, &len, &u);
                CHECK_INT(len, b.len);
                CHECK_MEM(copy, b.buf, b.len);
            }
        }
    }

    /* A parse result that a parse cannot produce (8 bytes of trailing
     * padding) is refused, not trusted. */
    pb_init(&b);
    pb_opts(&b, PDM_NH_DSTOPTS, unk, 4);
    pb_upper(&b, PDM_NH_UDP, 20, 1);
    CHECK_INT(pdm_pkt_parse(b.buf, b.len, PDM_OPT_TYPE, &pi), 0);
    bad = pi;
    bad.final_dst_end = 1;
    room_fails(&b, b.len, BUFCAP, &bad, 12, PDM_ERR_INVAL);
    bad.final_dst_end = pi.final_dst_len + 1;
    room_fails(&b, b.len, BUFCAP, &bad, 12, PDM_ERR_INVAL);
}

static void test_insert_errors(void)
{
    struct pb b;
    uint8_t opt[64];
    size_t n = encode_sample(opt, PDM_FORMAT_V2_ENCRYPTED, 7);
    const uint8_t unk[4] = {0x1e, 2, 0xaa, 0xbb};

    /* ESP, directly and after headers. */
    pb_init(&b);
    pb_upper(&b, PDM_NH_ESP, 64, 1);
    insert_fails(&b, BUFCAP, opt, n, PDM_ERR_ESP);
    pb_init(&b);
    pb_opts(&b, PDM_NH_HOPOPTS, unk, 4);
    pb_opts(&b, PDM_NH_DSTOPTS, unk, 4);
    pb_upper(&b, PDM_NH_ESP, 64, 1);
    insert_fails(&b, BUFCAP, opt, n, PDM_ERR_ESP);

    /* Fragments, first and later. */
    pb_init(&b);
    pb_frag(&b, 0, 1);
    pb_upper(&b, PDM_NH_UDP, 64, 1);
    insert_fails(&b, BUFCAP, opt, n, PDM_ERR_FRAGMENT);
    pb_init(&b);
    pb_frag(&b, 100, 0);
    pb_upper(&b, PDM_NH_UDP, 64, 1);
    insert_fails(&b, BUFCAP, opt, n, PDM_ERR_FRAGMENT);

    /* Existing PDM option, anywhere. */
    pb_init(&b);
    pb_opts(&b, PDM_NH_HOPOPTS, opt, n);
    pb_upper(&b, PDM_NH_UDP, 64, 1);
    insert_fails(&b, BUFCAP, opt, n, PDM_ERR_DUPLICATE);
    pb_init(&b);
    pb_opts(&b, PDM_NH_DSTOPTS, opt, n);
    pb_routing(&b);
    pb_upper(&b, PDM_NH_UDP, 64, 1);
    insert_fails(&b, BUFCAP, opt, n, PDM_ERR_DUPLICATE);

    /* Parse errors come through, unchanged. */
    pb_init(&b);
    pb_upper(&b, PDM_NH_UDP, 64, 1);
    b.buf[0] = 0x40;
    insert_fails(&b, BUFCAP, opt, n, PDM_ERR_NOT_IPV6);
    b.buf[0] = 0x60;
    b.len -= 1;
    insert_fails(&b, BUFCAP, opt, n, PDM_ERR_PAYLOAD_LENGTH);
    pb_init(&b);
    size_t d = pb_opts(&b, PDM_NH_DSTOPTS, unk, 4);
    pb_upper(&b, PDM_NH_UDP, 64, 1);
    b.buf[d + 7] = 5;
    insert_fails(&b, BUFCAP, opt, n, PDM_ERR_HDR_OPTIONS);
    b.buf[d + 7] = 0;
    b.buf[d + 1] = 100;
    insert_fails(&b, BUFCAP, opt, n, PDM_ERR_HDR_LENGTH);
    {
        pb_init(&b);
        const uint8_t jumbo[8] = {PDM_NH_UDP, 0, 0xC2, 4, 0, 1, 0, 0};
        memcpy(b.buf + 40, jumbo, 8);
        b.buf[6] = PDM_NH_HOPOPTS;
        b.len = 200;
        insert_fails(&b, BUFCAP, opt, n, PDM_ERR_JUMBO);
    }

    /* Bad option bytes, *len > cap. */
    pb_init(&b);
    pb_upper(&b, PDM_NH_UDP, 64, 1);
    insert_fails(&b, BUFCAP, opt, n - 1, PDM_ERR_INVAL);
    insert_fails(&b, BUFCAP, opt, 0, PDM_ERR_INVAL);
    insert_fails(&b, BUFCAP, NULL, n, PDM_ERR_INVAL);
    insert_fails(&b, b.len - 1, opt, n, PDM_ERR_INVAL);
    const uint8_t pad[4] = {1, 2, 0, 0};
    insert_fails(&b, BUFCAP, pad, 4, PDM_ERR_INVAL);
    size_t len = b.len;
    CHECK_INT(pdm_pkt_insert(b.buf, NULL, BUFCAP, opt, n, NULL), PDM_ERR_INVAL);
    CHECK_INT(len, b.len);

    /* Buffer too small at every capacity below the need. */
    int unchanged = 0;
    for (size_t cap = b.len; cap < b.len + 40; cap++) {
        static uint8_t copy[BUFCAP];
        memcpy(copy, b.buf, BUFCAP);
        len = b.len;
        unchanged += pdm_pkt_insert(copy, &len, cap, opt, n, NULL) == PDM_ERR_TOO_BIG &&
                     len == b.len && memcmp(copy, b.buf, BUFCAP) == 0;
    }
    CHECK_INT(unchanged, 40);

    /* Payload Length past 65535. */
    {
        size_t big = 40 + 65535;
        uint8_t *p = calloc(1, big + 64);
        uint8_t *snap = malloc(big + 64);
        CHECK(p != NULL && snap != NULL);
        if (p && snap) {
            p[0] = 0x60;
            p[6] = PDM_NH_UDP;
            set_plen(p, 65535 - 24); /* room for 24, not 40 */
            len = big - 24;
            memcpy(snap, p, big + 64);
            CHECK_INT(pdm_pkt_insert(p, &len, big + 64, opt, n, NULL), PDM_ERR_TOO_BIG);
            CHECK_INT(len, big - 24);
            CHECK_MEM(p, snap, big + 64);
            size_t n2 = encode_sample(opt, PDM_FORMAT_V2, 7);
            CHECK_INT(pdm_pkt_insert(p, &len, big + 64, opt, n2, NULL), 24);
            CHECK_INT(len, big);
            CHECK_INT(p[4] << 8 | p[5], 65535);
        }
        free(p);
        free(snap);
    }
}

/* ------------------------------------------------------------------------ */
/* Randomized round trip                                                    */

static void test_random_roundtrip(void)
{
    static struct pb b;
    static uint8_t copy[BUFCAP];
    const uint8_t uppers[] = {PDM_NH_TCP,  PDM_NH_UDP,     PDM_NH_ICMPV6, PDM_NH_SCTP,
                              PDM_NH_DCCP, PDM_NH_UDPLITE, PDM_NH_NONE,   253};
    const enum pdm_format fmts[] = {PDM_FORMAT_RFC8250, PDM_FORMAT_V2, PDM_FORMAT_V2_ENCRYPTED};
    int ok = 0, total = 0;

    rng_state = 0x9E3779B97F4A7C15ULL;
    for (int it = 0; it < 3000; it++) {
        pb_init(&b);
        rnd_fill(b.buf + 8, 32);
        if (rnd(2))
            pb_opts(&b, PDM_NH_HOPOPTS, (const uint8_t[]){0x05, 2, 0, 0}, rnd(2) ? 4 : 0);
        unsigned nh = rnd(5);
        for (unsigned i = 0; i < nh; i++) {
            switch (rnd(4)) {
            case 0: {
                uint8_t tlv[64];
                size_t tl = 0, want = rnd(40), run = 0, last = 0;
                /* Pad1 runs stay short (at most 3) and never end the list,
                 * where the header's own padding would join them. */
                while (tl + 2 <= want) {
                    if (run < 3 && rnd(4) == 0) {
                        tlv[tl++] = 0;
                        run++;
                        continue;
                    }
                    size_t l = rnd((uint32_t)(want - tl - 1));
                    tlv[tl] = (uint8_t)(0x20 + rnd(0x40) * 4 + 2); /* never 0, 1 or 0x0F */
                    tlv[tl + 1] = (uint8_t)l;
                    rnd_fill(tlv + tl + 2, l);
                    tl += 2 + l;
                    last = tl;
                    run = 0;
                }
                tl = last;
                pb_opts(&b, PDM_NH_DSTOPTS, tlv, tl);
                break;
            }
            case 1:
                pb_routing(&b);
                break;
            case 2:
                pb_ah(&b);
                break;
            default: {
                uint8_t h[16] = {0, 1};
                rnd_fill(h + 2, 14);
                pb_hdr(&b, (uint8_t)(rnd(2) ? PDM_NH_MOBILITY : PDM_NH_SHIM6), h, 16);
                break;
            }
            }
        }
        uint8_t up = uppers[rnd(sizeof uppers)];
        size_t plen = rnd(1300);
        pb_upper(&b, up, plen, (uint8_t)rng());
        rnd_fill(b.buf + b.len - plen, plen);

        struct pdm_option o, d;
        memset(&o, 0, sizeof o);
        o.type = PDM_OPT_TYPE;
        o.format = fmts[rnd(3)];
        o.rn = (uint16_t)(1 + rnd(PDM_RN_MAX));
        o.f = (uint8_t)rnd(2);
        o.fields.scale_dtlr = (uint8_t)rng();
        o.fields.scale_dtls = (uint8_t)rng();
        o.fields.global_pointer = o.format == PDM_FORMAT_RFC8250 ? 0 : (uint32_t)rng();
        o.fields.psntp = (uint16_t)rng();
        o.fields.psnlr = (uint16_t)rng();
        o.fields.delta_tlr = (uint16_t)rng();
        o.fields.delta_tls = (uint16_t)rng();
        if (o.format == PDM_FORMAT_V2_ENCRYPTED) {
            rnd_fill(o.sealed, sizeof o.sealed);
            memset(&o.fields, 0, sizeof o.fields);
        }
        uint8_t enc[64];
        ssize_t n = pdm_option_encode(enc, sizeof enc, &o);

        size_t len = b.len, off = 0;
        memcpy(copy, b.buf, BUFCAP);
        ssize_t r = pdm_pkt_insert(copy, &len, BUFCAP, enc, (size_t)n, &off);
        struct pdm_pkt_info pi;
        int good =
            n > 0 && r > 0 && check_inserted(b.buf, b.len, copy, len, enc, (size_t)n, off, r);
        good = good && copy_variant_agrees(&b, enc, (size_t)n, copy, len, off, r);
        good = good && room_variant_agrees(&b, enc, (size_t)n, copy, len, off, r);

        good = good && pdm_pkt_parse(copy, len, PDM_OPT_TYPE, &pi) == 0;
        d = pi.pdm;
        if (o.format == PDM_FORMAT_RFC8250)
            good = good && d.rn == 0 && d.f == 0;
        else
            good = good && d.rn == o.rn && d.f == o.f;
        good = good && d.format == o.format && fields_eq(&d.fields, &o.fields) &&
               memcmp(d.sealed, o.sealed, sizeof o.sealed) == 0;
        total++;
        ok += good;
        if (!good && total - ok <= 3)
            fprintf(stderr, "random round trip failed at iteration %d (r=%zd)\n", it, r);
    }
    CHECK_INT(ok, total);
}

int main(void)
{
    RUN(test_formats);
    RUN(test_vectors);
    RUN(test_encode_errors);
    RUN(test_decode_errors);
    RUN(test_fields_pack);
    RUN(test_dstopt_build);
    RUN(test_dstopt_find);
    RUN(test_parse_basic);
    RUN(test_parse_chain);
    RUN(test_insert_fresh);
    RUN(test_insert_merge);
    RUN(test_insert_errors);
    RUN(test_insert_room);

    RUN(test_random_roundtrip);
    return harness_done();
}
