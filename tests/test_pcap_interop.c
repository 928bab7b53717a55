/*
 * Interoperability with Wireshark: packets built by the library must read
 * the same in tshark.
 *
 * The test builds IPv6 packets (UDP, TCP and ICMPv6, with correct
 * upper-layer checksums), adds a PDM or PDMv2 option with pdm_pkt_insert()
 * (a fresh Destination Options header, one after a Hop-by-Hop header, and
 * merges into an existing final Destination Options header), writes them
 * with tools/common/pcapw.c (LINKTYPE_RAW), and runs tshark on the file:
 *
 *  - RFC 8250 options: tshark's ipv6.opt.pdm.* fields equal the library's;
 *  - every packet: the Destination Options header has the length and Next
 *    Header we wrote, tshark walks the same option TLVs (types in order,
 *    padding included), finds the upper layer with its ports / ICMPv6
 *    type, and validates its checksum (so the header chain and Payload
 *    Length are right); no malformed-packet mark and no expert info;
 *  - PDMv2 options (unencrypted and encrypted layouts): Wireshark 4.0 knows
 *    only RFC 8250 and reports option type 0x0f with length 18 or 34 as
 *    "PDM: Invalid length"; those two expert messages (and nothing else)
 *    are allowed for them. The same options under an option type Wireshark
 *    does not know (the type is configurable) must parse with no expert
 *    info at all, as opaque data equal to our bytes.
 *
 * test_pcapw checks the bytes tools/common/pcapw.c writes against a known answer.
 *
 * Needs tshark (Debian package tshark, which `make check` installs); if it
 * is missing the test fails with that message rather than passing empty.
 */
#include "harness.h"
#include "ip6sum.h"

#include "common/pcapw.h"
#include <pdm/codec.h>
#include <pdm/time.h>

#include <stdarg.h>
#include <unistd.h>

#include "conv.h"

#define CAP        2048
#define MAX_FIELDS 32

/* RFC 4727 §5: 0x1E is the experimental option type whose high bits
 * are 00 (skip if unknown); Wireshark shows its data as opaque bytes. */
#define TYPE_EXPERIMENT 0x1e

enum pre { PRE_NONE, PRE_HBH, PRE_DSTOPTS };

struct icase {
    const char *name;
    uint8_t proto; /* 17 UDP, 6 TCP, 58 ICMPv6 */
    enum pre pre;  /* extension header already in the packet */
    enum pdm_format fmt;
    uint8_t type;
    uint16_t rn;
    uint8_t f;
    struct pdm_fields fields;
    uint64_t tlr_ns, tls_ns; /* when non-zero: deltas encoded from these times */
    int link_local;          /* fe80:: addresses instead of 2001:db8:: */
};

static const struct icase cases[] = {
    {"udp pdm vector 0",
     17,
     PRE_NONE,
     PDM_FORMAT_RFC8250,
     PDM_OPT_TYPE,
     0,
     0,
     {74, 73, 0, 57535, 14146, 50845, 49113},
     0,
     0,
     1},
    {"tcp pdm zeros",
     6,
     PRE_NONE,
     PDM_FORMAT_RFC8250,
     PDM_OPT_TYPE,
     0,
     0,
     {0, 0, 0, 0, 0, 0, 0},
     0,
     0,
     0},
    {"icmpv6 pdm maxima",
     58,
     PRE_NONE,
     PDM_FORMAT_RFC8250,
     PDM_OPT_TYPE,
     0,
     0,
     {255, 255, 0, 65535, 65535, 65535, 65535},
     0,
     0,
     0},
    {"udp pdm 1 ms / 1 s",
     17,
     PRE_NONE,
     PDM_FORMAT_RFC8250,
     PDM_OPT_TYPE,
     0,
     0,
     {0, 0, 0, 1, 65535, 0, 0},
     1000000,
     1000000000,
     0},
    {"tcp pdm 1 ns / 1 us",
     6,
     PRE_NONE,
     PDM_FORMAT_RFC8250,
     PDM_OPT_TYPE,
     0,
     0,
     {0, 0, 0, 33077, 17090, 0, 0},
     1,
     1000,
     0},
    {"tcp pdm merged",
     6,
     PRE_DSTOPTS,
     PDM_FORMAT_RFC8250,
     PDM_OPT_TYPE,
     0,
     0,
     {71, 72, 0, 33077, 17090, 40079, 41473},
     0,
     0,
     0},
    {"udp pdm after hbh",
     17,
     PRE_HBH,
     PDM_FORMAT_RFC8250,
     PDM_OPT_TYPE,
     0,
     0,
     {1, 2, 0, 3, 4, 5, 6},
     0,
     0,
     0},
    {"icmpv6 pdm merged",
     58,
     PRE_DSTOPTS,
     PDM_FORMAT_RFC8250,
     PDM_OPT_TYPE,
     0,
     0,
     {14, 24, 0, 100, 99, 61035, 59604},
     0,
     0,
     1},
    {"udp v2",
     17,
     PRE_NONE,
     PDM_FORMAT_V2,
     PDM_OPT_TYPE,
     32767,
     1,
     {74, 73, 371375482, 57535, 14146, 50845, 49113},
     0,
     0,
     1},
    {"tcp v2-encrypted",
     6,
     PRE_NONE,
     PDM_FORMAT_V2_ENCRYPTED,
     PDM_OPT_TYPE,
     1,
     1,
     {0, 0, 0, 0, 0, 0, 0},
     0,
     0,
     0},
    {"icmpv6 v2",
     58,
     PRE_NONE,
     PDM_FORMAT_V2,
     PDM_OPT_TYPE,
     30150,
     0,
     {72, 73, 1, 49550, 10046, 38621, 44682},
     0,
     0,
     0},
    {"udp v2-encrypted merged",
     17,
     PRE_DSTOPTS,
     PDM_FORMAT_V2_ENCRYPTED,
     PDM_OPT_TYPE,
     12345,
     0,
     {0, 0, 0, 0, 0, 0, 0},
     0,
     0,
     0},
    {"tcp v2 merged",
     6,
     PRE_DSTOPTS,
     PDM_FORMAT_V2,
     PDM_OPT_TYPE,
     2,
     0,
     {0, 0, 4294967295u, 0, 0, 0, 0},
     0,
     0,
     0},
    {"udp v2 experimental type",
     17,
     PRE_NONE,
     PDM_FORMAT_V2,
     TYPE_EXPERIMENT,
     77,
     1,
     {10, 20, 30, 40, 50, 60, 70},
     0,
     0,
     0},
    {"icmpv6 v2-encrypted experimental type",
     58,
     PRE_HBH,
     PDM_FORMAT_V2_ENCRYPTED,
     TYPE_EXPERIMENT,
     32767,
     0,
     {0, 0, 0, 0, 0, 0, 0},
     0,
     0,
     0},
    {"tcp v2-encrypted experimental type merged",
     6,
     PRE_DSTOPTS,
     PDM_FORMAT_V2_ENCRYPTED,
     TYPE_EXPERIMENT,
     9,
     1,
     {0, 0, 0, 0, 0, 0, 0},
     0,
     0,
     0},
};
#define NCASES (sizeof cases / sizeof cases[0])

/* What the test wrote into each packet, to compare with tshark's reading. */
struct built {
    struct pdm_option opt;
    uint8_t optbytes[PDM_OPTSIZE_MAX];
    size_t optlen;
    uint16_t sport, dport; /* UDP/TCP ports; ICMPv6: echo identifier, sequence */
    size_t dst_len;        /* final Destination Options header length */
    char opt_types[128];   /* option types tshark should list, '|'-separated */
};

static struct built built[NCASES];

/* ---- packet construction ------------------------------------------------- */

/*
 * Writes an IPv6 packet: fixed header, the `pre` extension header, then a
 * UDP datagram, TCP segment (PSH|ACK) or ICMPv6 Echo Request carrying a
 * 16-byte payload, checksum included. Returns its length.
 */
static size_t build_packet(uint8_t *p, const struct icase *c, size_t idx, struct built *b)
{
    static const uint8_t payload[16] = "openpdm interop!";
    size_t off = PDM_IPV6_HDR_SIZE, ul_off, ulen;
    uint8_t *ul;

    memset(p, 0, CAP);
    p[0] = 0x60;
    p[7] = 64; /* hop limit */
    if (c->link_local) {
        p[8] = 0xfe;
        p[9] = 0x80;
        p[24] = 0xfe;
        p[25] = 0x80;
    } else {
        pdm_put_u32be(p + 8, 0x20010db8);
        pdm_put_u32be(p + 24, 0x20010db8);
    }
    p[23] = 1;
    p[39] = 2;

    switch (c->pre) {
    case PRE_NONE:
        p[6] = c->proto;
        break;
    case PRE_HBH:
        /* Hop-by-Hop header: NH, HdrExtLen 0, PadN of 4 zeros. */
        p[6] = PDM_NH_HOPOPTS;
        p[off] = c->proto;
        p[off + 2] = PDM_OPT_PADN;
        p[off + 3] = 4;
        off += 8;
        break;
    case PRE_DSTOPTS:
        /* A final Destination Options header holding a Tunnel
         * Encapsulation Limit option (RFC 2473 §5.1: type 4, length 1),
         * then PadN: the PDM option must join it, after an odd end. */
        p[6] = PDM_NH_DSTOPTS;
        p[off] = c->proto;
        p[off + 2] = 0x04;
        p[off + 3] = 1;
        p[off + 4] = 4;
        p[off + 5] = PDM_OPT_PADN;
        p[off + 6] = 1;
        off += 8;
        break;
    }

    ul_off = off;
    ul = p + ul_off;
    b->sport = (uint16_t)(40000 + idx);
    b->dport = (uint16_t)(8250 + idx);
    switch (c->proto) {
    case PDM_NH_UDP:
        ulen = 8 + sizeof payload;
        pdm_put_u16be(ul, b->sport);
        pdm_put_u16be(ul + 2, b->dport);
        pdm_put_u16be(ul + 4, (uint16_t)ulen);
        memcpy(ul + 8, payload, sizeof payload);
        break;
    case PDM_NH_TCP:
        ulen = 20 + sizeof payload;
        pdm_put_u16be(ul, b->sport);
        pdm_put_u16be(ul + 2, b->dport);
        pdm_put_u32be(ul + 4, 1000);
        pdm_put_u32be(ul + 8, 0);
        ul[12] = 5 << 4; /* data offset: 5 words */
        ul[13] = 0x08;   /* PSH only: no ACK, so no "ACKed unseen segment" */
        pdm_put_u16be(ul + 14, 65535);
        memcpy(ul + 20, payload, sizeof payload);
        break;
    default: /* ICMPv6 Echo Request (RFC 4443 §4.1) */
        ulen = 8 + sizeof payload;
        ul[0] = 128;
        pdm_put_u16be(ul + 4, b->sport);
        pdm_put_u16be(ul + 6, b->dport);
        memcpy(ul + 8, payload, sizeof payload);
        break;
    }
    pdm_put_u16be(ul + (c->proto == PDM_NH_UDP   ? 6
                        : c->proto == PDM_NH_TCP ? 16
                                                 : 2),
                  upper_checksum(p, c->proto, ul, ulen));
    pdm_put_u16be(p + 4, (uint16_t)(ul_off - PDM_IPV6_HDR_SIZE + ulen));
    return ul_off + ulen;
}

/* Appends the option types of the options header at h, as tshark lists
 * them (padding included), to b->opt_types. */
static void list_types(struct built *b, const uint8_t *h)
{
    size_t hl = ((size_t)h[1] + 1) * 8, n = strlen(b->opt_types);

    for (size_t off = 2; off < hl; off += h[off] == PDM_OPT_PAD1 ? 1u : 2u + h[off + 1])
        n += (size_t)snprintf(b->opt_types + n, sizeof b->opt_types - n, "%s0x%02x", n ? "|" : "",
                              h[off]);
}

/* Builds case i into pkt with the library; returns its length, 0 on failure. */
static size_t make_case(size_t i, uint8_t *pkt)
{
    const struct icase *c = &cases[i];
    struct built *b = &built[i];
    struct pdm_pkt_info info;
    size_t len, before, opt_off = 0;
    ssize_t n;

    memset(b, 0, sizeof *b);
    b->opt.type = c->type;
    b->opt.format = c->fmt;
    b->opt.rn = c->rn;
    b->opt.f = c->f;
    b->opt.fields = c->fields;
    if (c->tlr_ns)
        pdm_time_encode_ns(c->tlr_ns, &b->opt.fields.delta_tlr, &b->opt.fields.scale_dtlr);
    if (c->tls_ns)
        pdm_time_encode_ns(c->tls_ns, &b->opt.fields.delta_tls, &b->opt.fields.scale_dtls);
    if (c->fmt == PDM_FORMAT_V2_ENCRYPTED) {
        /* Structural test only: the sealed bytes are arbitrary. */
        for (size_t k = 0; k < sizeof b->opt.sealed; k++)
            b->opt.sealed[k] = (uint8_t)(0xa5 ^ (k * 37 + i));
    }
    n = pdm_option_encode(b->optbytes, sizeof b->optbytes, &b->opt);
    CHECK_INT(n, pdm_option_size(c->fmt));
    if (n <= 0)
        return 0;
    b->optlen = (size_t)n;

    len = before = build_packet(pkt, c, i, b);
    n = pdm_pkt_insert(pkt, &len, CAP, b->optbytes, b->optlen, &opt_off);
    CHECK(n > 0);
    if (n <= 0)
        return 0;
    CHECK_INT(len, before + (size_t)n);
    CHECK_MEM(pkt + opt_off, b->optbytes, b->optlen);

    /* The library reads back what it wrote. */
    CHECK_INT(pdm_pkt_parse(pkt, len, c->type, &info), 0);
    CHECK(info.has_pdm && info.pdm_off == opt_off && info.upper_proto == c->proto);
    CHECK(info.final_dst_off != 0);
    if (info.final_dst_off == 0)
        return 0;
    b->dst_len = info.final_dst_len;
    if (c->pre == PRE_DSTOPTS)
        CHECK_INT(n, b->dst_len - 8); /* merged: the header only grew */
    else
        CHECK_INT(n, b->dst_len); /* a fresh header */
    if (c->pre == PRE_HBH)
        list_types(b, pkt + PDM_IPV6_HDR_SIZE);
    list_types(b, pkt + info.final_dst_off);
    return len;
}

/* ---- running tshark ------------------------------------------------------ */

/* The fields asked of tshark, in this order (checked with `tshark -G fields`). */
static const char *const tfields[] = {
    "frame.number",
    "ipv6.nxt",
    "ipv6.hopopts.nxt",
    "ipv6.dstopts.nxt",
    "ipv6.dstopts.len_oct",
    "ipv6.opt.type",
    "ipv6.opt.pdm.scale_dtlr",
    "ipv6.opt.pdm.scale_dtls",
    "ipv6.opt.pdm.psn_this_pkt",
    "ipv6.opt.pdm.psn_last_recv",
    "ipv6.opt.pdm.delta_last_recv",
    "ipv6.opt.pdm.delta_last_sent",
    "ipv6.opt.experimental",
    "udp.srcport",
    "udp.dstport",
    "udp.checksum.status",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.checksum.status",
    "icmpv6.type",
    "icmpv6.echo.identifier",
    "icmpv6.echo.sequence_number",
    "icmpv6.checksum.status",
    "_ws.malformed",
    "_ws.malformed.expert",
    "_ws.expert.message",
};
enum {
    T_FRAME,
    T_NXT,
    T_HBH_NXT,
    T_DST_NXT,
    T_DST_LEN,
    T_OPT_TYPE,
    T_SCALE_DTLR,
    T_SCALE_DTLS,
    T_PSNTP,
    T_PSNLR,
    T_DTLR,
    T_DTLS,
    T_EXPERIMENTAL,
    T_UDP_SPORT,
    T_UDP_DPORT,
    T_UDP_CSUM,
    T_TCP_SPORT,
    T_TCP_DPORT,
    T_TCP_CSUM,
    T_ICMP_TYPE,
    T_ICMP_ID,
    T_ICMP_SEQ,
    T_ICMP_CSUM,
    T_MALFORMED,
    T_EXCEPTION,
    T_EXPERT,
    T_COUNT
};

/* Checksum status values of Wireshark's proto_tree_add_checksum(). */
#define WS_CHECKSUM_GOOD "1"

/* Compares one tshark field with the expected text (printf-style). */
static void check_field(size_t pkt, char **got, int field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void check_field(size_t pkt, char **got, int field, const char *fmt, ...)
{
    char want[256], what[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(want, sizeof want, fmt, ap);
    va_end(ap);
    snprintf(what, sizeof what, "packet %zu (%s): %s is '%s', want '%s'", pkt + 1, cases[pkt].name,
             tfields[field], got[field], want);
    h_report(strcmp(got[field], want) == 0, __FILE__, __LINE__, what);
}

static void hex(char *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
    out[2 * n] = '\0';
}

/* Checks tshark's reading of packet i (got: T_COUNT fields). */
static void check_packet(size_t i, char **got)
{
    const struct icase *c = &cases[i];
    const struct built *b = &built[i];
    const struct pdm_fields *f = &b->opt.fields;
    char want[2 * PDM_OPTSIZE_MAX + 1];
    int ws_pdm = c->type == PDM_OPT_TYPE; /* Wireshark dissects it as PDM */

    check_field(i, got, T_FRAME, "%zu", i + 1);
    check_field(i, got, T_NXT, "%u", c->pre == PRE_HBH ? PDM_NH_HOPOPTS : PDM_NH_DSTOPTS);
    if (c->pre == PRE_HBH)
        check_field(i, got, T_HBH_NXT, "%u", PDM_NH_DSTOPTS);
    check_field(i, got, T_DST_NXT, "%u", c->proto);
    check_field(i, got, T_DST_LEN, "%zu", b->dst_len);
    check_field(i, got, T_OPT_TYPE, "%s", b->opt_types);
    check_field(i, got, T_EXCEPTION, "%s", ""); /* no dissector ran off the end */

    if (c->fmt == PDM_FORMAT_RFC8250) {
        check_field(i, got, T_SCALE_DTLR, "%u", f->scale_dtlr);
        check_field(i, got, T_SCALE_DTLS, "%u", f->scale_dtls);
        check_field(i, got, T_PSNTP, "%u", f->psntp);
        check_field(i, got, T_PSNLR, "%u", f->psnlr);
        check_field(i, got, T_DTLR, "%u", f->delta_tlr);
        check_field(i, got, T_DTLS, "%u", f->delta_tls);
        check_field(i, got, T_EXPERT, "%s", "");
        check_field(i, got, T_MALFORMED, "%s", "");
    } else if (ws_pdm) {
        /* Wireshark 4.0 has no PDMv2: it flags the length and leaves the
         * rest undecoded. Those two messages, and only those, are allowed
         * (none at all, should a later Wireshark learn PDMv2). */
        char known[128];
        snprintf(known, sizeof known,
                 "PDM: Invalid length (%zu bytes)|Unknown Data (not interpreted)", b->optlen - 2);
        if (strcmp(got[T_EXPERT], "") != 0) {
            check_field(i, got, T_EXPERT, "%s", known);
            /* the length message is in the Malformed group */
            check_field(i, got, T_MALFORMED, "%s", "_ws.malformed");
        } else {
            check_field(i, got, T_MALFORMED, "%s", "");
        }
    } else {
        /* The experimental type: opaque data, equal to our bytes. */
        hex(want, b->optbytes + 2, b->optlen - 2);
        check_field(i, got, T_EXPERIMENTAL, "%s", want);
        check_field(i, got, T_EXPERT, "%s", "");
        check_field(i, got, T_MALFORMED, "%s", "");
    }

    switch (c->proto) {
    case PDM_NH_UDP:
        check_field(i, got, T_UDP_SPORT, "%u", b->sport);
        check_field(i, got, T_UDP_DPORT, "%u", b->dport);
        check_field(i, got, T_UDP_CSUM, "%s", WS_CHECKSUM_GOOD);
        break;
    case PDM_NH_TCP:
        check_field(i, got, T_TCP_SPORT, "%u", b->sport);
        check_field(i, got, T_TCP_DPORT, "%u", b->dport);
        check_field(i, got, T_TCP_CSUM, "%s", WS_CHECKSUM_GOOD);
        break;
    default:
        check_field(i, got, T_ICMP_TYPE, "%u", 128u);
        check_field(i, got, T_ICMP_ID, "0x%04x", b->sport);
        check_field(i, got, T_ICMP_SEQ, "%u", b->dport);
        check_field(i, got, T_ICMP_CSUM, "%s", WS_CHECKSUM_GOOD);
        break;
    }
}

/* Splits line at tabs into at most max fields (in place); returns the count. */
static size_t split_tabs(char *line, char **out, size_t max)
{
    size_t n = 0;

    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line; n < max;) {
        out[n++] = p;
        if ((p = strchr(p, '\t')) == NULL)
            break;
        *p++ = '\0';
    }
    return n;
}

static void test_tshark(void)
{
    char dir[] = "/tmp/pdm-interop-XXXXXX", path[256], errpath[256], cmd[2048];
    uint8_t pkt[CAP];
    struct tool_pcapw w;
    size_t rows = 0, cmdlen;
    char line[4096], *got[MAX_FIELDS];
    FILE *tp;
    int rv, status;

    if (system("command -v tshark >/dev/null 2>&1") != 0) {
        h_report(0, __FILE__, __LINE__, "tshark not found (Debian package tshark)");
        return;
    }
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/pdm.pcap", dir);
    snprintf(errpath, sizeof errpath, "%s/tshark.err", dir);

    CHECK_INT(rv = tool_pcapw_open(&w, path, TOOL_PCAPW_LINKTYPE_RAW), 0);
    if (rv != 0)
        return;
    for (size_t i = 0; i < NCASES; i++) {
        size_t len = make_case(i, pkt);
        CHECK(len > 0);
        CHECK_INT(tool_pcapw_write(&w, 1700000000000000000ull + i * 1000000ull, pkt, len), 0);
    }
    CHECK_INT(tool_pcapw_close(&w), 0);

    /* A private configuration directory keeps the user's Wireshark
     * preferences out; checksum validation is turned on so that a wrong
     * header chain or Payload Length shows. */
    cmdlen = (size_t)snprintf(cmd, sizeof cmd,
                              "WIRESHARK_CONFIG_DIR=%s tshark -n -r %s "
                              "-o udp.check_checksum:TRUE -o tcp.check_checksum:TRUE "
                              "-T fields -E separator=/t -E occurrence=a -E aggregator='|'",
                              dir, path);
    for (size_t k = 0; k < T_COUNT; k++)
        cmdlen += (size_t)snprintf(cmd + cmdlen, sizeof cmd - cmdlen, " -e %s", tfields[k]);
    snprintf(cmd + cmdlen, sizeof cmd - cmdlen, " 2>%s", errpath);
    CHECK(cmdlen < sizeof cmd - 64);

    tp = popen(cmd, "r");
    CHECK(tp != NULL);
    if (tp == NULL)
        return;
    while (fgets(line, sizeof line, tp) != NULL) {
        size_t nf = split_tabs(line, got, MAX_FIELDS);
        CHECK_INT(nf, T_COUNT);
        if (nf == T_COUNT && rows < NCASES)
            check_packet(rows, got);
        rows++;
    }
    status = pclose(tp);
    CHECK_INT(status, 0);
    CHECK_INT(rows, NCASES);

    if (h_failed == 0) {
        unlink(path);
        unlink(errpath);
        rmdir(dir);
    } else {
        fprintf(stderr, "capture and tshark's stderr kept in %s\n", dir);
    }
}

/* The pcap writer's bytes: a known answer, then its error paths. libpcap
 * writes in the host's byte order (the magic tells readers which). */
static void test_pcapw(void)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    static const char want_hex[] = "a1b23c4d00020004000000000000000000040000"
                                   "00000065"                         /* file header */
                                   "000000011dcd65000000000400000004" /* record */
                                   "61626364";
#else
    static const char want_hex[] = "4d3cb2a102000400000000000000000000000400"
                                   "65000000"                         /* file header */
                                   "010000000065cd1d0400000004000000" /* record */
                                   "61626364";
#endif
    char dir[] = "/tmp/pdm-pcapw-XXXXXX", path[256];
    uint8_t want[64], got[128];
    long wn = h_unhex(want, sizeof want, want_hex);
    struct tool_pcapw w;
    size_t n = 0;
    FILE *f;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/t.pcap", dir);
    CHECK_INT(tool_pcapw_open(&w, path, TOOL_PCAPW_LINKTYPE_RAW), 0);
    CHECK_INT(tool_pcapw_write(&w, 1500000000ull, (const uint8_t *)"abcd", 4), 0);
    CHECK_INT(tool_pcapw_write(&w, 0, NULL, 1), PDM_ERR_INVAL);
    CHECK_INT(tool_pcapw_close(&w), 0);
    CHECK_INT(tool_pcapw_close(&w), PDM_ERR_INVAL);
    if ((f = fopen(path, "rb")) != NULL) {
        n = fread(got, 1, sizeof got, f);
        fclose(f);
    }
    CHECK_INT(n, wn);
    CHECK(wn > 0 && n == (size_t)wn && memcmp(got, want, n) == 0);
    unlink(path);
    rmdir(dir);
    snprintf(path, sizeof path, "%s/t.pcap", dir); /* the directory is gone now */
    CHECK_INT(tool_pcapw_open(&w, path, TOOL_PCAPW_LINKTYPE_RAW), PDM_ERR_SYSTEM);
}

int main(void)
{
    RUN(test_pcapw);
    RUN(test_tshark);
    return harness_done();
}
