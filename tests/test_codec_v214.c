/*
 * The draft -14 layout in the codec (pdm_v214_encode(), pdm_v214_decode(),
 * and pdm_option_decode() / pdm_pkt_parse() recognising it): every vector
 * of tests/vectors/pdmv2-draft14-vectors.json, written from the draft's §7
 * figure, byte for byte both ways; a few fields checked against bytes
 * computed here by hand from the figure (not from the vector file); the
 * error of each invalid vector; a fresh Destination Options header.
 */
#include <pdm/codec.h>

#include "harness.h"
#include "vectors.h"

#define VECTORS "tests/vectors/pdmv2-draft14-vectors.json"

static int err_code(const char *name)
{
    if (name == NULL)
        return 0;
    if (!strcmp(name, "opt_version"))
        return PDM_ERR_OPT_VERSION;
    if (!strcmp(name, "opt_length"))
        return PDM_ERR_OPT_LENGTH;
    if (!strcmp(name, "truncated"))
        return PDM_ERR_TRUNCATED;
    if (!strcmp(name, "opt_type"))
        return PDM_ERR_OPT_TYPE;
    return 0;
}

static void fields_of(struct pdm_v214 *o, const json_t *v)
{
    uint64_t x = 0;

    memset(o, 0, sizeof *o);
    o->type = PDM_OPT_TYPE;
    CHECK(vec_u64(v, "epoch", &x) == 0);
    o->epoch = (uint16_t)x;
    CHECK(vec_u64(v, "psntp", &x) == 0);
    o->psntp = (uint32_t)x;
    CHECK(vec_u64(v, "psnlr", &x) == 0);
    o->psnlr = (uint32_t)x;
    CHECK(vec_u64(v, "global_pointer", &x) == 0);
    o->global_pointer = (uint32_t)x;
    CHECK(vec_u64(v, "scale_dtlr", &x) == 0);
    o->scale_dtlr = (uint8_t)x;
    CHECK(vec_u64(v, "scale_dtls", &x) == 0);
    o->scale_dtls = (uint8_t)x;
    CHECK(vec_u64(v, "delta_tlr", &x) == 0);
    o->delta_tlr = (uint16_t)x;
    CHECK(vec_u64(v, "delta_tls", &x) == 0);
    o->delta_tls = (uint16_t)x;
    if (vec_u64(v, "reserved", &x) == 0)
        o->reserved = (uint16_t)x;
}

static int same(const struct pdm_v214 *a, const struct pdm_v214 *b)
{
    return a->type == b->type && a->epoch == b->epoch && a->psntp == b->psntp &&
           a->psnlr == b->psnlr && a->global_pointer == b->global_pointer &&
           a->scale_dtlr == b->scale_dtlr && a->scale_dtls == b->scale_dtls &&
           a->reserved == b->reserved && a->delta_tlr == b->delta_tlr &&
           a->delta_tls == b->delta_tls;
}

static void test_vectors(void)
{
    json_t *doc = vec_load(VECTORS), *v;
    size_t i, nvalid = 0, ninvalid = 0;

    CHECK(doc != NULL);
    if (doc == NULL)
        return;
    json_array_foreach(json_object_get(doc, "valid"), i, v)
    {
        uint8_t want[64], out[64], hdr[64], re[64];
        struct pdm_v214 o, d;
        struct pdm_option po;
        long n = get_hex(v, "hex", want, sizeof want), rn;
        uint16_t reserved;

        nvalid++;
        CHECK_INT(n, PDM_V214_OPT_SIZE);
        fields_of(&o, v);
        reserved = o.reserved;
        /* Decode: every field as the vector says, reserved as received. */
        CHECK_INT(pdm_v214_decode(&d, want, (size_t)n, PDM_OPT_TYPE), PDM_V214_OPT_SIZE);
        CHECK(same(&d, &o));
        /* Encode: the vector's bytes, or its re-encoding (reserved sent 0). */
        o.reserved = 0x5555; /* never sent, whatever the caller holds */
        CHECK_INT(pdm_v214_encode(out, sizeof out, &o), PDM_V214_OPT_SIZE);
        rn = get_hex(v, reserved ? "reencoded_hex" : "hex", re, sizeof re);
        CHECK_INT(rn, PDM_V214_OPT_SIZE);
        CHECK_MEM(out, re, PDM_V214_OPT_SIZE);
        /* pdm_option_decode() recognises the layout, PSNs' low 16 bits. */
        CHECK_INT(pdm_option_decode(&po, want, (size_t)n, PDM_OPT_TYPE), PDM_V214_OPT_SIZE);
        CHECK_INT(po.format, PDM_FORMAT_V2_14);
        CHECK_INT(po.fields.psntp, (uint16_t)o.psntp);
        CHECK_INT(po.fields.psnlr, (uint16_t)o.psnlr);
        CHECK_INT(po.fields.global_pointer, o.global_pointer);
        CHECK_INT(po.fields.delta_tls, o.delta_tls);
        CHECK_INT(po.rn, 0);
        /* A fresh header, where the vector has one. */
        if ((n = get_hex(v, "dstopt_nh17_hex", want, sizeof want)) > 0) {
            CHECK_INT(pdm_dstopt_build(hdr, sizeof hdr, 17, out, PDM_V214_OPT_SIZE), n);
            CHECK_INT(n, PDM_V214_HDR_SIZE);
            CHECK_MEM(hdr, want, (size_t)n);
            CHECK_INT(pdm_dstopt_find(hdr, (size_t)n, PDM_OPT_TYPE, &po, NULL), 0);
            CHECK_INT(po.format, PDM_FORMAT_V2_14);
        }
    }
    json_array_foreach(json_object_get(doc, "invalid"), i, v)
    {
        uint8_t in[64];
        struct pdm_v214 d;
        struct pdm_option po;
        long n = get_hex(v, "hex", in, sizeof in);
        int want = err_code(vec_str(v, "error"));

        ninvalid++;
        CHECK(n > 0 && want != 0);
        if (n <= 0 || want == 0)
            continue;
        CHECK_INT(pdm_v214_decode(&d, in, (size_t)n, PDM_OPT_TYPE), want);
        /* Through the general decoder: a wrong Length is only "not 22" for
         * the -14 decoder; 21 is no layout at all for either. */
        CHECK_INT(pdm_option_decode(&po, in, (size_t)n, PDM_OPT_TYPE), want);
    }
    CHECK(nvalid >= 3);
    CHECK(ninvalid >= 5);
    json_decref(doc);
}

/* Bytes worked out here from the §7 figure, not read from the vectors. */
static void test_by_hand(void)
{
    struct pdm_v214 o = {.type = 0x0F,
                         .epoch = 0xABC,
                         .psntp = 0xDEADBEEF,
                         .psnlr = 0x00010002,
                         .global_pointer = 3,
                         .scale_dtlr = 0x21,
                         .scale_dtls = 0x22,
                         .delta_tlr = 0x0102,
                         .delta_tls = 0xFFFE};
    uint8_t out[24];

    CHECK_INT(pdm_v214_encode(out, sizeof out, &o), 24);
    CHECK_INT(out[0], 0x0F);
    CHECK_INT(out[1], 22); /* Length: 24 bytes less Type and Length */
    /* Version 2 in the high nibble, then Epoch 0xABC: 0x2A 0xBC. */
    CHECK_INT(out[2], 0x2A);
    CHECK_INT(out[3], 0xBC);
    /* PSNTP big-endian right after, at byte 4. */
    CHECK_MEM(out + 4, "\xDE\xAD\xBE\xEF", 4);
    CHECK_MEM(out + 8, "\x00\x01\x00\x02", 4);
    CHECK_MEM(out + 12, "\x00\x00\x00\x03", 4);
    CHECK_INT(out[16], 0x21);
    CHECK_INT(out[17], 0x22);
    CHECK_MEM(out + 18, "\x00\x00", 2); /* Reserved */
    CHECK_MEM(out + 20, "\x01\x02\xFF\xFE", 4);
    /* And back. */
    struct pdm_v214 d;
    CHECK_INT(pdm_v214_decode(&d, out, sizeof out, 0x0F), 24);
    CHECK_INT(d.epoch, 0xABC);
    CHECK_INT(d.psntp, 0xDEADBEEFu);
    /* The Length the draft's text says, 0x22, is the encrypted PDMv2
     * option's: 36 bytes of something else, not this layout. */
    out[1] = 0x22;
    CHECK_INT(pdm_v214_decode(&d, out, sizeof out, 0x0F), PDM_ERR_OPT_LENGTH);
}

static void test_errors(void)
{
    struct pdm_v214 o = {.type = PDM_OPT_TYPE}, d;
    struct pdm_option po = {.type = PDM_OPT_TYPE, .format = PDM_FORMAT_V2_14};
    uint8_t out[64];

    o.epoch = PDM_V214_EPOCH_MAX + 1;
    CHECK_INT(pdm_v214_encode(out, sizeof out, &o), PDM_ERR_INVAL);
    o.epoch = PDM_V214_EPOCH_MAX;
    CHECK_INT(pdm_v214_encode(out, 23, &o), PDM_ERR_NOBUF);
    CHECK_INT(pdm_v214_encode(NULL, 24, &o), PDM_ERR_INVAL);
    CHECK_INT(pdm_v214_encode(out, 24, NULL), PDM_ERR_INVAL);
    CHECK_INT(pdm_v214_encode(out, 24, &o), 24);
    CHECK_INT(pdm_v214_decode(NULL, out, 24, PDM_OPT_TYPE), PDM_ERR_INVAL);
    CHECK_INT(pdm_v214_decode(&d, out, 1, PDM_OPT_TYPE), PDM_ERR_TRUNCATED);
    for (size_t n = 2; n < 24; n++)
        CHECK_INT(pdm_v214_decode(&d, out, n, PDM_OPT_TYPE), PDM_ERR_TRUNCATED);
    /* pdm_option_encode() cannot hold 32-bit PSNs: refused, not truncated. */
    CHECK_INT(pdm_option_encode(out, sizeof out, &po), PDM_ERR_INVAL);
    CHECK_INT(pdm_option_size(PDM_FORMAT_V2_14), 24);
    CHECK(!strcmp(pdm_format_name(PDM_FORMAT_V2_14), "v2-14"));
    CHECK_INT(pdm_format_parse("v2-14"), PDM_FORMAT_V2_14);
}

/* Into a packet and back: pdm_pkt_insert() places it (fresh header, and
 * merged after another option), pdm_pkt_parse() finds it unaided. */
static void test_packet(void)
{
    static const uint8_t opt[24] = {0x0f, 0x16, 0x20, 0x07, 0, 0, 0, 9, 0, 0, 0, 8,
                                    0,    0,    0,    1,    0, 0, 0, 0, 0, 0, 0, 0};
    uint8_t pkt[256] = {0x60, 0, 0, 0, 0, 12, PDM_NH_UDP, 64};
    struct pdm_pkt_info pi;
    size_t len = 52, off = 0;

    pkt[40 + 5] = 12; /* UDP length */
    CHECK_INT(pdm_pkt_insert(pkt, &len, sizeof pkt, opt, sizeof opt, &off), 32);
    CHECK_INT(len, 84);
    CHECK_INT(off, 42);
    CHECK_INT(pkt[6], PDM_NH_DSTOPTS);
    CHECK_MEM(pkt + 40, "\x11\x03", 2);
    CHECK_MEM(pkt + 66, "\x01\x04\x00\x00\x00\x00", 6);
    CHECK_INT(pdm_pkt_parse(pkt, len, PDM_OPT_TYPE, &pi), 0);
    CHECK(pi.has_pdm && pi.pdm.format == PDM_FORMAT_V2_14 && pi.pdm_off == 42);
    CHECK_INT(pi.pdm.fields.psntp, 9);
    CHECK_INT(pi.upper_proto, PDM_NH_UDP);
    CHECK_INT(pi.upper_off, 72);
    /* A header with another option (type 0x1e, 2 bytes): merged after it. */
    uint8_t m[256] = {0x60, 0, 0, 0, 0, 8 + 12, PDM_NH_DSTOPTS, 64};
    static const uint8_t hdr[8] = {PDM_NH_UDP, 0, 0x1e, 0, 0x01, 0x02, 0, 0};
    memcpy(m + 40, hdr, 8);
    m[48 + 5] = 12;
    len = 60;
    CHECK_INT(pdm_pkt_insert(m, &len, sizeof m, opt, sizeof opt, &off), 24);
    CHECK_INT(off, 44);
    CHECK_INT(m[41], 3);
    CHECK_INT(pdm_pkt_parse(m, len, PDM_OPT_TYPE, &pi), 0);
    CHECK(pi.has_pdm && pi.pdm.format == PDM_FORMAT_V2_14 && pi.final_dst_len == 32);
}

int main(void)
{
    RUN(test_vectors);
    RUN(test_by_hand);
    RUN(test_errors);
    RUN(test_packet);
    return harness_done();
}
