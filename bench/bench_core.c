/*
 * Core benchmarks: option encode and decode, packet parse and insertion,
 * time scaling, flow-table lookup. Each figure is printed next to a
 * baseline measured in the same run (bench.h, bench_vs()):
 *
 *   encode_<fmt>       raw_encode(): the same bytes from the same struct,
 *                      written by straight-line big-endian stores with
 *                      nothing checked. Both are calls, so the ratio is the
 *                      price of the library's validation (RN, F, buffer
 *                      size) over the stores any encoder must do.
 *   decode_<fmt>       raw_decode(): the same fields read with plain
 *                      big-endian loads, the format taken from the length
 *                      byte unchecked, the struct not cleared. The ratio is
 *                      the price of the checks and of the defined output.
 *   parse_1280_<pkt>   raw_parse(): a bare walk of the same 1280-byte
 *                      packet, reading what pdm_pkt_parse() reports on it
 *                      (lengths, next headers, the PDM option, the ports)
 *                      and knowing only Destination Options headers, with
 *                      no bounds, version or padding checks. The ratio is
 *                      the price of parsing untrusted bytes safely.
 *   insert*_1280_<fmt> a memcpy of the 1280-byte packet: opening a gap for
 *                      the option moves the whole payload, so a copy of it
 *                      is the floor of any insertion.
 *   time_encode_ns     time_floor(): the same arithmetic (one widening
 *                      multiply, a count of leading zeros, a shift) inline
 *                      in the loop; the ratio is what the call costs.
 *   flow_lookup_<n>    a chain of dependent random reads over as much
 *                      memory as the table uses: the ratio is the number of
 *                      cache (or TLB) misses a lookup costs.
 *
 * Each baseline is checked once against the library on the same input: a
 * baseline that computed something else would prove nothing. A mismatch
 * is reported and the benchmark exits 1.
 */
#include <pdm/codec.h>
#include <pdm/flow.h>
#include <pdm/time.h>

#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "conv.h"

#define ROUNDS 7

static const enum pdm_format fmts[] = {PDM_FORMAT_RFC8250, PDM_FORMAT_V2, PDM_FORMAT_V2_ENCRYPTED};

/* ------------------------------------------------------------------------ */
/* Baselines                                                                */

static BENCH_NOINLINE size_t raw_encode(uint8_t *p, const struct pdm_option *o)
{
    const struct pdm_fields *f = &o->fields;

    p[0] = o->type;
    if (o->format == PDM_FORMAT_RFC8250) {
        p[1] = PDM_OPTLEN_RFC8250;
        p[2] = f->scale_dtlr;
        p[3] = f->scale_dtls;
        pdm_put_u16be(p + 4, f->psntp);
        pdm_put_u16be(p + 6, f->psnlr);
        pdm_put_u16be(p + 8, f->delta_tlr);
        pdm_put_u16be(p + 10, f->delta_tls);
        return PDM_OPTSIZE_RFC8250;
    }
    pdm_put_u16be(p + 2, PDM_V2_VERSION_WORD);
    pdm_put_u16be(p + 4, (uint16_t)(o->rn << 1 | o->f));
    if (o->format == PDM_FORMAT_V2_ENCRYPTED) {
        p[1] = PDM_OPTLEN_V2_ENC;
        memcpy(p + 6, o->sealed, PDM_V2_SEALED_SIZE);
        return PDM_OPTSIZE_V2_ENC;
    }
    p[1] = PDM_OPTLEN_V2;
    p[6] = f->scale_dtlr;
    p[7] = f->scale_dtls;
    pdm_put_u32be(p + 8, f->global_pointer);
    pdm_put_u16be(p + 12, f->psntp);
    pdm_put_u16be(p + 14, f->psnlr);
    pdm_put_u16be(p + 16, f->delta_tlr);
    pdm_put_u16be(p + 18, f->delta_tls);
    return PDM_OPTSIZE_V2;
}

/* The loads of raw_decode(), inlined into raw_parse() too. */
static inline size_t raw_decode_body(struct pdm_option *o, const uint8_t *p)
{
    struct pdm_fields *f = &o->fields;

    o->type = p[0];
    if (p[1] == PDM_OPTLEN_RFC8250) {
        o->format = PDM_FORMAT_RFC8250;
        f->scale_dtlr = p[2];
        f->scale_dtls = p[3];
        f->psntp = pdm_get_u16be(p + 4);
        f->psnlr = pdm_get_u16be(p + 6);
        f->delta_tlr = pdm_get_u16be(p + 8);
        f->delta_tls = pdm_get_u16be(p + 10);
        return PDM_OPTSIZE_RFC8250;
    }
    o->rn = (uint16_t)(pdm_get_u16be(p + 4) >> 1);
    o->f = p[5] & 1;
    if (p[1] == PDM_OPTLEN_V2_ENC) {
        o->format = PDM_FORMAT_V2_ENCRYPTED;
        memcpy(o->sealed, p + 6, PDM_V2_SEALED_SIZE);
        return PDM_OPTSIZE_V2_ENC;
    }
    o->format = PDM_FORMAT_V2;
    f->scale_dtlr = p[6];
    f->scale_dtls = p[7];
    f->global_pointer = pdm_get_u32be(p + 8);
    f->psntp = pdm_get_u16be(p + 12);
    f->psnlr = pdm_get_u16be(p + 14);
    f->delta_tlr = pdm_get_u16be(p + 16);
    f->delta_tls = pdm_get_u16be(p + 18);
    return PDM_OPTSIZE_V2;
}

static BENCH_NOINLINE size_t raw_decode(struct pdm_option *o, const uint8_t *p)
{
    return raw_decode_body(o, p);
}

static BENCH_NOINLINE int raw_parse(const uint8_t *pkt, struct pdm_pkt_info *in)
{
    size_t off = 40, o;
    uint8_t nh = pkt[6];

    in->pkt_len = 40 + (size_t)pdm_get_u16be(pkt + 4);
    in->nh_off = 6;
    in->final_dst_off = 0;
    in->final_dst_len = 0;
    in->has_pdm = 0;
    while (nh == PDM_NH_DSTOPTS) {
        size_t len = ((size_t)pkt[off + 1] + 1) * 8;
        for (o = off + 2; o < off + len; o += pkt[o] == PDM_OPT_PAD1 ? 1 : 2 + (size_t)pkt[o + 1])
            if (pkt[o] == PDM_OPT_TYPE) {
                raw_decode_body(&in->pdm, pkt + o);
                in->has_pdm = 1;
                in->pdm_off = o;
            }
        in->nh_off = off;
        in->final_dst_off = off;
        in->final_dst_len = len;
        nh = pkt[off];
        off += len;
    }
    in->upper_proto = nh;
    in->upper_off = off;
    in->has_ports = 1;
    in->sport = pdm_get_u16be(pkt + off);
    in->dport = pdm_get_u16be(pkt + off + 2);
    return 0;
}

static inline void time_floor(uint64_t ns, uint16_t *delta, uint8_t *scale)
{
    pdm_u128 as = (pdm_u128)ns * PDM_AS_PER_NS;
    uint64_t hi = (uint64_t)(as >> 64), lo = (uint64_t)as;
    unsigned n =
        hi ? 128u - (unsigned)__builtin_clzll(hi) : (lo ? 64u - (unsigned)__builtin_clzll(lo) : 0);
    unsigned s = n > 16 ? n - 16 : 0;

    *scale = (uint8_t)s;
    *delta = (uint16_t)(as >> s);
}

/* ------------------------------------------------------------------------ */
/* Checks that each baseline computes what the library does                 */

static int same_fields(const struct pdm_fields *a, const struct pdm_fields *b)
{
    return a->scale_dtlr == b->scale_dtlr && a->scale_dtls == b->scale_dtls &&
           a->global_pointer == b->global_pointer && a->psntp == b->psntp && a->psnlr == b->psnlr &&
           a->delta_tlr == b->delta_tlr && a->delta_tls == b->delta_tls;
}

/* b was cleared before the baseline filled it, as the library clears a. */
static int same_option(const struct pdm_option *a, const struct pdm_option *b)
{
    return a->type == b->type && a->format == b->format && a->rn == b->rn && a->f == b->f &&
           same_fields(&a->fields, &b->fields) &&
           memcmp(a->sealed, b->sealed, sizeof a->sealed) == 0;
}

static int same_info(const struct pdm_pkt_info *a, const struct pdm_pkt_info *b)
{
    return a->pkt_len == b->pkt_len && a->upper_proto == b->upper_proto &&
           a->upper_off == b->upper_off && a->nh_off == b->nh_off &&
           a->final_dst_off == b->final_dst_off && a->final_dst_len == b->final_dst_len &&
           a->has_pdm == b->has_pdm &&
           (!a->has_pdm || (a->pdm_off == b->pdm_off && same_option(&a->pdm, &b->pdm))) &&
           a->has_ports == b->has_ports && a->sport == b->sport && a->dport == b->dport;
}

static int mismatch(const char *what, const char *fmt)
{
    fprintf(stderr, "bench_core: the %s baseline disagrees with the library (%s)\n", what, fmt);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Benchmarks                                                               */

/*
 * Encode and decode of each format. Inputs vary per iteration so that
 * nothing can be hoisted; decode reads one of INPUTS options encoded
 * beforehand rather than a byte patched in place, since a one-byte store
 * followed by the decoder's wider load of the same bytes stalls store
 * forwarding (about 10 cycles) and would swamp both sides.
 */
#define INPUTS 16
static int bench_codec(struct pdm_option opt)
{
    static uint8_t in[INPUTS][PDM_OPTSIZE_MAX];
    uint8_t buf[64];
    struct pdm_option out, rout;
    char name[64];
    double ns, base_ns;
    uint64_t acc = 0;

    for (size_t k = 0; k < sizeof fmts / sizeof fmts[0]; k++) {
        const char *fname = pdm_format_name(fmts[k]);
        opt.format = fmts[k];
        for (uint16_t j = 0; j < INPUTS; j++) {
            opt.rn = (uint16_t)(12345 + j);
            opt.fields.psntp = (uint16_t)(57535 + j);
            ssize_t n = pdm_option_encode(in[j], sizeof in[j], &opt);
            memset(&rout, 0, sizeof rout);
            if (n < 0 || raw_encode(buf, &opt) != (size_t)n || memcmp(buf, in[j], (size_t)n) != 0)
                return mismatch("encode", fname);
            if (pdm_option_decode(&out, in[j], (size_t)n, PDM_OPT_TYPE) != n ||
                raw_decode(&rout, in[j]) != (size_t)n || !same_option(&out, &rout))
                return mismatch("decode", fname);
        }

        BENCH_BEST_NS(ns, ROUNDS, 2000000, {
            opt.fields.psntp = (uint16_t)i;
            acc += (uint64_t)pdm_option_encode(buf, sizeof buf, &opt) + buf[5];
            BENCH_OPAQUE(acc);
        });
        BENCH_BEST_NS(base_ns, ROUNDS, 2000000, {
            opt.fields.psntp = (uint16_t)i;
            acc += raw_encode(buf, &opt) + buf[5];
            BENCH_OPAQUE(acc);
        });
        snprintf(name, sizeof name, "encode_%s", fname);
        bench_vs(name, ns, "raw stores, no checks", base_ns);

        size_t n = pdm_option_size(fmts[k]);
        BENCH_BEST_NS(ns, ROUNDS, 2000000, {
            acc += (uint64_t)pdm_option_decode(&out, in[i % INPUTS], n, PDM_OPT_TYPE) +
                   out.fields.psntp + out.rn;
            BENCH_OPAQUE(acc);
        });
        BENCH_BEST_NS(base_ns, ROUNDS, 2000000, {
            acc += raw_decode(&out, in[i % INPUTS]) + out.fields.psntp + out.rn;
            BENCH_OPAQUE(acc);
        });
        snprintf(name, sizeof name, "decode_%s", fname);
        bench_vs(name, ns, "raw big-endian loads, no checks", base_ns);
    }
    bench_sink += acc;
    return 0;
}

/* A 1280-byte IPv6/UDP packet (the IPv6 minimum MTU), no extension headers. */
static void make_packet(uint8_t *pkt, size_t len)
{
    memset(pkt, 0xab, len);
    pkt[0] = 0x60;
    pdm_put_u16be(pkt + 4, (uint16_t)(len - 40));
    pkt[6] = PDM_NH_UDP;
    pkt[7] = 64;
}

static int bench_parse_one(const char *label, uint8_t *pkt, size_t len)
{
    struct pdm_pkt_info info, rinfo;
    char name[64];
    double ns, base_ns;
    uint64_t acc = 0;

    memset(&rinfo, 0, sizeof rinfo);
    if (pdm_pkt_parse(pkt, len, PDM_OPT_TYPE, &info) != 0 || raw_parse(pkt, &rinfo) != 0 ||
        !same_info(&info, &rinfo))
        return mismatch("parse", label);
    BENCH_BEST_NS(ns, ROUNDS, 2000000, {
        pkt[8] = (uint8_t)i; /* a source address byte: read by neither */
        acc += (uint64_t)pdm_pkt_parse(pkt, len, PDM_OPT_TYPE, &info) + info.upper_off;
        BENCH_OPAQUE(acc);
    });
    BENCH_BEST_NS(base_ns, ROUNDS, 2000000, {
        pkt[8] = (uint8_t)i;
        acc += (uint64_t)raw_parse(pkt, &info) + info.upper_off;
        BENCH_OPAQUE(acc);
    });
    bench_sink += acc;
    snprintf(name, sizeof name, "parse_1280_%s", label);
    bench_vs(name, ns, "bare walk, no checks", base_ns);
    return 0;
}

static int bench_packet(const struct pdm_option *proto)
{
    static uint8_t tmpl[1280], pkt[1400];
    uint8_t optb[PDM_OPTSIZE_MAX];
    struct pdm_option opt = *proto;
    char name[64];
    double copy_ns, both_ns, icopy_ns;
    size_t len, off;

    make_packet(tmpl, sizeof tmpl);
    if (bench_parse_one("udp", tmpl, sizeof tmpl) != 0)
        return 1;
    for (size_t k = 0; k < sizeof fmts / sizeof fmts[0]; k++) {
        opt.format = fmts[k];
        ssize_t n = pdm_option_encode(optb, sizeof optb, &opt);
        if (n < 0)
            return mismatch("insert", pdm_format_name(fmts[k]));
        /* In place: each iteration restores the packet with a full copy
         * (the insert moved its payload) and inserts; the restore alone is
         * both the cost taken out and the baseline. */
        BENCH_BEST_NS(copy_ns, ROUNDS, 500000, {
            memcpy(pkt, tmpl, sizeof tmpl);
            bench_sink += pkt[i & 1023];
        });
        BENCH_BEST_NS(both_ns, ROUNDS, 500000, {
            memcpy(pkt, tmpl, sizeof tmpl);
            len = sizeof tmpl;
            bench_sink += (uint64_t)pdm_pkt_insert(pkt, &len, sizeof pkt, optb, (size_t)n, &off);
        });
        snprintf(name, sizeof name, "insert_1280_%s", pdm_format_name(fmts[k]));
        bench_vs(name, both_ns - copy_ns, "memcpy of the packet", copy_ns);
        /* The agent's path: copy from the receive buffer into the verdict
         * buffer, opening the gap on the way. */
        BENCH_BEST_NS(icopy_ns, ROUNDS, 500000, {
            tmpl[8] = (uint8_t)i;
            bench_sink += (uint64_t)pdm_pkt_insert_copy(pkt, sizeof pkt, tmpl, sizeof tmpl, optb,
                                                        (size_t)n, &len, &off) +
                          pkt[len - 1];
        });
        snprintf(name, sizeof name, "insert_copy_1280_%s", pdm_format_name(fmts[k]));
        bench_vs(name, icopy_ns, "memcpy of the packet", copy_ns);
        /* The packet just built, with its PDM Destination Options header,
         * is what a receiver parses. */
        if (bench_parse_one(pdm_format_name(fmts[k]), pkt, len) != 0)
            return 1;
    }
    return 0;
}

static int bench_time(void)
{
    uint16_t d, rd;
    uint8_t s, rs;
    double ns, base_ns;
    uint64_t acc = 0;

    /* Both branches of the bit length: below and above 2^64 attoseconds. */
    const uint64_t probe[] = {0, 1, 65, 1000000, 18446744073u, 18446744074u, UINT64_MAX};
    for (size_t k = 0; k < sizeof probe / sizeof probe[0]; k++) {
        pdm_time_encode_ns(probe[k], &d, &s);
        time_floor(probe[k], &rd, &rs);
        if (d != rd || s != rs)
            return mismatch("time_encode", "ns");
    }
    /* The inputs sweep 0..40 s, across the 2^64-attosecond boundary. */
    BENCH_BEST_NS(ns, ROUNDS, 5000000, {
        pdm_time_encode_ns(i * 7919u + 1, &d, &s);
        acc += d + s;
        BENCH_OPAQUE(acc);
    });
    BENCH_BEST_NS(base_ns, ROUNDS, 5000000, {
        time_floor(i * 7919u + 1, &d, &s);
        acc += d + s;
        BENCH_OPAQUE(acc);
    });
    bench_sink += acc;
    bench_vs("time_encode_ns", ns, "the same arithmetic inline", base_ns);
    return 0;
}

/* A tuple derived from an index with no memory reads, so the benchmark
 * measures the table, not an array of inputs. */
static void tuple_of(struct pdm_flow_tuple *t, uint64_t i)
{
    memset(t, 0, sizeof *t);
    t->src[0] = 0x20;
    t->src[1] = 0x01;
    t->dst[0] = 0xfd;
    memcpy(t->src + 8, &i, sizeof i);
    uint64_t j = i * 0x9E3779B97F4A7C15u;
    memcpy(t->dst + 8, &j, sizeof j);
    t->sport = (uint16_t)(i | 1024);
    t->dport = 443;
    t->proto = PDM_NH_TCP;
}

static int bench_flows(size_t nflows)
{
    uint8_t key[PDM_FLOW_HASH_KEY_SIZE] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    struct pdm_flow_table *t;
    if (pdm_flow_table_new(&t, nflows, 0, key) != 0) {
        fprintf(stderr, "bench_core: flow table of %zu: allocation failed\n", nflows);
        return 1;
    }
    struct pdm_flow_tuple tup;
    struct pdm_flow *f;
    for (size_t i = 0; i < nflows; i++) {
        tuple_of(&tup, i);
        if (pdm_flow_get(t, &tup, 1, (uint32_t)i, &f, NULL) < 0) {
            fprintf(stderr, "bench_core: flow table of %zu: insert failed at %zu\n", nflows, i);
            pdm_flow_table_free(t);
            return 1;
        }
    }
    /* Each lookup's key depends on the previous result, as does each bare
     * read's address: both loops are chains of dependent accesses, so the
     * ratio compares latencies and out-of-order overlap flatters neither. */
    uint64_t seed = 42, chain = 0;
    double ns, read_ns;
    const uint64_t iters = nflows > 1 ? 1000000 : 5000000;
    BENCH_BEST_NS(ns, 5, iters, {
        uint64_t r = bench_rand(&seed) ^ chain;
        tuple_of(&tup, r % nflows);
        unsigned dir;
        if (pdm_flow_lookup(t, &tup, &f, &dir) == 0)
            chain = f->dir[dir].flags & 0x80; /* always 0, but only known after the read */
    });
    bench_sink += chain;
    size_t bytes = pdm_flow_table_bytes(t);
    pdm_flow_table_free(t);

    /* Bare random read over the same amount of memory, same index source. */
    size_t words = bytes / sizeof(uint64_t);
    uint64_t *mem = malloc(words * sizeof *mem);
    if (!mem) {
        fprintf(stderr, "bench_core: %zu bytes: allocation failed\n", bytes);
        return 1;
    }
    for (size_t i = 0; i < words; i++)
        mem[i] = 0;
    seed = 42;
    chain = 0;
    BENCH_BEST_NS(read_ns, 5, iters, {
        uint64_t r = bench_rand(&seed) ^ chain;
        tuple_of(&tup, r % nflows); /* same arithmetic as above */
        chain = mem[(r >> 11) % words];
    });
    bench_sink += chain;
    free(mem);
    char name[64];
    snprintf(name, sizeof name, "flow_lookup_%zu", nflows);
    bench_vs(name, ns, "dependent random read, same memory", read_ns);
    printf("%-28s table %zu bytes, %.1f bytes/flow (bound %zu)\n", "", bytes,
           (double)bytes / (double)nflows, pdm_flow_table_bytes_per_flow());
    return 0;
}

int main(void)
{
    struct pdm_option opt = {
        .type = PDM_OPT_TYPE,
        .format = PDM_FORMAT_RFC8250,
        .rn = 12345,
        .f = 1,
        .fields = {74, 73, 371375482, 57535, 14146, 50845, 49113},
    };
    int rv = 0;

    for (size_t k = 0; k < sizeof opt.sealed; k++)
        opt.sealed[k] = (uint8_t)(k * 37 + 1);
    rv |= bench_codec(opt);
    rv |= bench_packet(&opt);
    rv |= bench_time();
    rv |= bench_flows(1);
    rv |= bench_flows(1000000);
    return rv;
}
