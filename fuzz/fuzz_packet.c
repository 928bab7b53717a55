/*
 * libFuzzer target for the packet walker and the inserter: pdm_pkt_parse()
 * on arbitrary bytes, then pdm_pkt_insert() of each option format into a
 * copy with spare room and into a copy with none. On success the new packet
 * must parse, carry exactly the option at *opt_off in a final Destination
 * Options header, keep its upper layer, and have a consistent Payload
 * Length; on failure the buffer and length must be unchanged. After a
 * success, the one-parse path (pdm_pkt_insert_room() from the parse, the
 * option written in place) must give the same bytes, and
 * pdm_pkt_insert_undo() must give the packet back. abort() on any
 * violation.
 */
#include <pdm/codec.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SPARE  64 /* the most an insertion adds is 40 (fresh) or 48 (merge) */
#define MAXPKT (40 + 65535 + SPARE)

static uint8_t buf[MAXPKT], snap[MAXPKT], room[MAXPKT];

static size_t sample_option(uint8_t *out, enum pdm_format fmt)
{
    struct pdm_option o;
    memset(&o, 0, sizeof o);
    o.type = PDM_OPT_TYPE;
    o.format = fmt;
    o.rn = 0x1234;
    o.f = 1;
    o.fields.scale_dtlr = 0x4a;
    o.fields.global_pointer = 7;
    o.fields.psntp = 0xbeef;
    memset(o.sealed, 0x5a, sizeof o.sealed);
    ssize_t n = pdm_option_encode(out, PDM_OPTSIZE_MAX, &o);
    if (n <= 0)
        abort();
    return (size_t)n;
}

static void check_success(const uint8_t *in, const struct pdm_pkt_info *bi, const uint8_t *out,
                          size_t out_len, const uint8_t *opt, size_t optlen, size_t opt_off,
                          ssize_t added)
{
    struct pdm_pkt_info ai;

    if (added < 0 || out_len != bi->pkt_len + (size_t)added || out_len > MAXPKT)
        abort();
    if (pdm_pkt_parse(out, out_len, PDM_OPT_TYPE, &ai) != 0)
        abort();
    if (ai.pkt_len != out_len || (size_t)(out[4] << 8 | out[5]) != out_len - 40)
        abort();
    if (!ai.has_pdm || ai.pdm_off != opt_off || opt_off + optlen > out_len ||
        memcmp(out + opt_off, opt, optlen) != 0)
        abort();
    if (ai.final_dst_off == 0 || ai.final_dst_len % 8 != 0 || opt_off < ai.final_dst_off + 2 ||
        opt_off + optlen > ai.final_dst_off + ai.final_dst_len ||
        (opt_off - ai.final_dst_off) % 2 != 0)
        abort();
    if (ai.upper_proto != bi->upper_proto || ai.has_ports != bi->has_ports ||
        ai.sport != bi->sport || ai.dport != bi->dport || ai.is_fragment)
        abort();
    if (ai.pkt_len - ai.upper_off != bi->pkt_len - bi->upper_off ||
        memcmp(out + ai.upper_off, in + bi->upper_off, bi->pkt_len - bi->upper_off) != 0)
        abort();
    /* Addresses, version, class, label, hop limit untouched. */
    if (memcmp(out, in, 4) != 0 || memcmp(out + 7, in + 7, 33) != 0)
        abort();
}

/* The packet of the parse bi made into `room` with the option written in
 * place must equal the inserted `out`; undone, it must be `in` again. */
static void check_room_undo(const uint8_t *in, size_t size, const struct pdm_pkt_info *bi,
                            const uint8_t *out, size_t out_len, const uint8_t *opt, size_t optlen,
                            size_t opt_off, ssize_t added)
{
    struct pdm_insert_undo u;
    size_t len = size, off = 0;

    memcpy(room, in, size);
    if (pdm_pkt_insert_room(room, &len, size + SPARE, bi, optlen, &off, &u) != added ||
        len != out_len || off != opt_off)
        abort();
    memcpy(room + off, opt, optlen);
    if (memcmp(room, out, out_len) != 0)
        abort();
    pdm_pkt_insert_undo(room, &len, &u);
    if (len != bi->pkt_len || memcmp(room, in, bi->pkt_len) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum pdm_format fmts[] = {PDM_FORMAT_RFC8250, PDM_FORMAT_V2,
                                           PDM_FORMAT_V2_ENCRYPTED};
    struct pdm_pkt_info bi;
    uint8_t opt[PDM_OPTSIZE_MAX];
    int rv;

    if (size > MAXPKT - SPARE)
        return 0;
    rv = pdm_pkt_parse(data, size, PDM_OPT_TYPE, &bi);
    if (rv > 0 || rv < PDM_ERR_LAST)
        abort();
    if (rv == 0) {
        if (bi.pkt_len > size || bi.pkt_len < 40 || bi.upper_off > bi.pkt_len ||
            bi.nh_off >= bi.upper_off || (bi.has_pdm && bi.pdm_off >= bi.pkt_len) ||
            (bi.final_dst_off && bi.final_dst_off + bi.final_dst_len != bi.upper_off))
            abort();
    }

    for (size_t k = 0; k < 3; k++) {
        size_t optlen = sample_option(opt, fmts[k]);
        for (int tight = 0; tight < 2; tight++) {
            size_t len = size, off = 0xdead, cap = tight ? size : size + SPARE;
            ssize_t r;

            memcpy(buf, data, size);
            memset(buf + size, 0xA5, SPARE);
            memcpy(snap, buf, size + SPARE);
            r = pdm_pkt_insert(buf, &len, cap, opt, optlen, &off);
            for (size_t i = cap; i < size + SPARE; i++)
                if (buf[i] != 0xA5)
                    abort(); /* wrote past cap */
            if (r >= 0) {
                if (rv != 0)
                    abort(); /* inserted into a packet that does not parse */
                check_success(data, &bi, buf, len, opt, optlen, off, r);
                if (!tight)
                    check_room_undo(data, size, &bi, buf, len, opt, optlen, off, r);

            } else {
                if (len != size || off != 0xdead || memcmp(buf, snap, size + SPARE) != 0)
                    abort();
                if (rv != 0 && r != rv)
                    abort(); /* parse errors come through unchanged */
                if (rv == 0 && !tight && r != PDM_ERR_ESP && r != PDM_ERR_FRAGMENT &&
                    r != PDM_ERR_DUPLICATE && r != PDM_ERR_TOO_BIG)
                    abort();
            }
        }
    }
    return 0;
}
