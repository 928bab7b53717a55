/*
 * The agent's sans-IO packet logic (tools/agent/core.c), configuration
 * parsing (tools/agent/config.c) and v2-encrypted key handling
 * (tools/agent/keys.c), without NFQUEUE: packets are built here, fed with
 * fixed times and fixed random bytes, and the results read back with the
 * codec. The netfilter side is tested by tests/it_agent*.sh.
 */
#include "harness.h"

#include "agent/agent.h"
#include "vectors.h"

#include <pdm/time.h>

#include <arpa/inet.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#define A_ADDR "2001:db8:1::1"
#define B_ADDR "2001:db8:1::2"
#define C_ADDR "2001:db8:2::3"
#define CAP    2048

static void fixed_rand(void *arg, void *buf, size_t n)
{
    uint64_t *s = arg;
    uint8_t *b = buf;
    for (size_t i = 0; i < n; i++) {
        *s = *s * 6364136223846793005ull + 1442695040888963407ull;
        b[i] = (uint8_t)(*s >> 56);
    }
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* IPv6 header with payload length plen and next header nh. */
static void ip6(uint8_t *p, const char *src, const char *dst, unsigned plen, uint8_t nh)
{
    memset(p, 0, 40);
    p[0] = 0x60;
    put16(p + 4, plen);
    p[6] = nh;
    p[7] = 64;
    inet_pton(AF_INET6, src, p + 8);
    inet_pton(AF_INET6, dst, p + 24);
}

/* Upper-layer checksum over the pseudo-header (RFC 8200 §8.1); returns
 * 0xffff folded sum when the packet's checksum is right. */
static unsigned l4_sum(const uint8_t *pkt, size_t off, size_t ulen, uint8_t proto)
{
    uint32_t s = 0;
    for (size_t i = 8; i < 40; i += 2)
        s += (uint32_t)(pkt[i] << 8 | pkt[i + 1]);
    s += (uint32_t)(ulen >> 16) + (uint32_t)(ulen & 0xffff) + proto;
    for (size_t i = 0; i < ulen; i += 2)
        s += (uint32_t)(pkt[off + i] << 8 | (i + 1 < ulen ? pkt[off + i + 1] : 0));
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return s;
}

static void set_l4_sum(uint8_t *pkt, size_t off, size_t ulen, uint8_t proto, size_t csum_at)
{
    put16(pkt + off + csum_at, 0);
    put16(pkt + off + csum_at, (uint16_t)~l4_sum(pkt, off, ulen, proto));
}

/* A UDP packet of `payload` bytes. Returns its length. */
static size_t udp(uint8_t *p, const char *src, const char *dst, unsigned sport, unsigned dport,
                  size_t payload)
{
    ip6(p, src, dst, (unsigned)(8 + payload), PDM_NH_UDP);
    put16(p + 40, sport);
    put16(p + 42, dport);
    put16(p + 44, (unsigned)(8 + payload));
    for (size_t i = 0; i < payload; i++)
        p[48 + i] = (uint8_t)i;
    set_l4_sum(p, 40, 8 + payload, PDM_NH_UDP, 6);
    return 48 + payload;
}

/* A TCP SYN with options NOP, MSS mss (at an odd offset), SACK-permitted. */
static size_t tcp_syn(uint8_t *p, const char *src, const char *dst, unsigned mss)
{
    static const uint8_t opts[] = {1, 2, 4, 0, 0, 4, 2, 1};
    ip6(p, src, dst, 28, PDM_NH_TCP);
    memset(p + 40, 0, 28);
    put16(p + 40, 40000);
    put16(p + 42, 80);
    p[52] = 7 << 4; /* data offset: 28 bytes */
    p[53] = 0x02;   /* SYN */
    put16(p + 54, 64800);
    memcpy(p + 60, opts, sizeof opts);
    put16(p + 63, mss);
    set_l4_sum(p, 40, 28, PDM_NH_TCP, 16);
    return 68;
}

static void config(struct agent_core_config *cfg, enum pdm_format mode)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->opt_type = PDM_OPT_TYPE;
    cfg->flow_capacity = 64;
    cfg->idle_timeout_ns = 0;
    cfg->psn_window = 100;
    cfg->clamp_mss = 1;
    cfg->npeers = 2;
    /* B's /64 and, more specific, A alone: longest match wins. */
    inet_pton(AF_INET6, "2001:db8:1::", cfg->peers[0].prefix);
    cfg->peers[0].plen = 64;
    cfg->peers[0].mode = mode;
    inet_pton(AF_INET6, A_ADDR, cfg->peers[1].prefix);
    cfg->peers[1].plen = 128;
    cfg->peers[1].mode = mode;
}

static const uint8_t hkey[PDM_FLOW_HASH_KEY_SIZE] = {1, 2, 3, 4, 5, 6, 7, 8};

static uint64_t ctr(struct agent_core *c, enum agent_counter k)
{
    uint64_t v[AGENT_C_MAX];
    agent_core_counters(c, v);
    return v[k];
}

/* ---- configuration ------------------------------------------------------- */

static void test_config(void)
{
    struct agent_peer p;
    struct agent_config cfg;
    char err[256], path[] = "/tmp/openpdm-test-agent-XXXXXX";
    char *w[8];
    unsigned first, count;
    int fd;

    CHECK_INT(agent_peer_parse_prefix(&p, "2001:db8::ff/56", err, sizeof err), 0);
    CHECK_INT(p.plen, 56);
    CHECK(p.prefix[15] == 0); /* host bits cleared */
    CHECK_INT(agent_peer_parse_prefix(&p, "2001:db8::1", err, sizeof err), 0);
    CHECK_INT(p.plen, 128);
    CHECK_INT(agent_peer_parse_prefix(&p, "2001:db8::/129", err, sizeof err), -1);
    CHECK_INT(agent_peer_parse_prefix(&p, "10.0.0.1", err, sizeof err), -1);
    CHECK_INT(agent_peer_parse_prefix(&p, "/64", err, sizeof err), -1);

    CHECK_INT(agent_parse_queues("3", &first, &count), 0);
    CHECK(first == 3 && count == 1);
    CHECK_INT(agent_parse_queues("0-1", &first, &count), 0);
    CHECK(first == 0 && count == 2);
    CHECK_INT(agent_parse_queues("2-1", &first, &count), -1);
    CHECK_INT(agent_parse_queues("0-64", &first, &count), -1); /* 65 queues */
    CHECK_INT(agent_parse_queues("x", &first, &count), -1);

    w[0] = "2001:db8::/64";
    w[1] = "mode";
    w[2] = "v2-encrypted";
    w[3] = "rotate-packets";
    w[4] = "100";
    w[5] = "rotate-seconds";
    w[6] = "30";
    CHECK_INT(agent_peer_parse_words(&p, w, 7, PDM_FORMAT_RFC8250, err, sizeof err), 0);
    CHECK(p.mode == PDM_FORMAT_V2_ENCRYPTED && p.rotate_packets == 100 &&
          p.rotate_ns == 30000000000ull);
    w[4] = "40000"; /* more than the RN space */
    CHECK_INT(agent_peer_parse_words(&p, w, 7, PDM_FORMAT_RFC8250, err, sizeof err), -1);
    CHECK_INT(agent_peer_parse_words(&p, w, 2, PDM_FORMAT_RFC8250, err, sizeof err), -1);

    agent_config_init(&cfg);
    fd = mkstemp(path);
    CHECK(fd >= 0);
    dprintf(fd,
            "# comment\nmode v2\npeer 2001:db8:1::/64\npeer %s mode pdm  # inline\n"
            "queue 2-3\nfanout yes\nflows 1000\noption-type 0x1e\n",
            A_ADDR);
    close(fd);
    CHECK_INT(agent_config_load(&cfg, path, err, sizeof err), 0);
    CHECK_INT(cfg.core.npeers, 2);
    CHECK(cfg.core.peers[0].mode == PDM_FORMAT_V2 && cfg.core.peers[1].mode == PDM_FORMAT_RFC8250);
    CHECK(cfg.queue_first == 2 && cfg.queue_count == 2 && cfg.fanout == 1);
    CHECK(cfg.core.flow_capacity == 1000 && cfg.core.opt_type == 0x1e);
    fd = open(path, O_WRONLY | O_TRUNC);
    dprintf(fd, "peer 2001:db8::/64\nbogus 1\n");
    close(fd);
    CHECK_INT(agent_config_load(&cfg, path, err, sizeof err), -1);
    CHECK(strstr(err, ":2: unknown setting 'bogus'") != NULL);
    fd = open(path, O_WRONLY | O_TRUNC);
    dprintf(fd, "records /tmp/r.jsonl\ncontrol /tmp/c.sock\n");
    close(fd);
    CHECK_INT(agent_config_load(&cfg, path, err, sizeof err), 0);
    CHECK(!strcmp(cfg.records_path, "/tmp/r.jsonl") && !strcmp(cfg.control_path, "/tmp/c.sock"));
    /* Option types whose action bits are not 00 make receivers that do
     * not know them discard the packet (RFC 8200 §4.2): refused, by the
     * file and by the core. */
    CHECK(agent_opt_type_ok(0x0f) && agent_opt_type_ok(0x3e) && !agent_opt_type_ok(0x4f) &&
          !agent_opt_type_ok(0x8f) && !agent_opt_type_ok(0xcf) && !agent_opt_type_ok(256));
    fd = open(path, O_WRONLY | O_TRUNC);
    dprintf(fd, "option-type 0x5e\n");
    close(fd);
    CHECK_INT(agent_config_load(&cfg, path, err, sizeof err), -1);
    CHECK(strstr(err, ":1: option-type '0x5e'") != NULL);
    CHECK_INT(cfg.core.opt_type, 0x1e); /* unchanged */
    {
        struct agent_core_config cc;
        struct agent_core *core = NULL;
        uint64_t seed = 1;
        config(&cc, PDM_FORMAT_RFC8250);
        cc.opt_type = 0x8f;
        CHECK_INT(agent_core_new(&core, &cc, 64, hkey, fixed_rand, &seed, NULL, NULL),
                  PDM_ERR_INVAL);
        CHECK(core == NULL);
    }
    /* The command line's value flags go through the same setter, keeping
     * argv's strings rather than copies. */
    {
        char rec[] = "/tmp/cli.jsonl";
        size_t owned = cfg.nowned;
        CHECK_INT(agent_config_set(&cfg, "records", rec, 0, err, sizeof err), 0);
        CHECK(cfg.records_path == rec && cfg.nowned == owned);
        CHECK_INT(agent_config_set(&cfg, "psn-window", "0", 0, err, sizeof err), -1);
        CHECK(strstr(err, "psn-window '0' is not 1..32767") != NULL);
        CHECK_INT(agent_config_set(&cfg, "queue", "4-5", 0, err, sizeof err), 0);
        CHECK(cfg.queue_first == 4 && cfg.queue_count == 2);
        CHECK_INT(agent_config_set(&cfg, "nonsense", "1", 0, err, sizeof err), -1);
    }
    agent_config_free(&cfg);
    CHECK_INT(cfg.nowned, 0);
    unlink(path);
}

/* Longest-prefix match over peer prefixes of every kind of length: within
 * a byte, across the 64-bit halves, /0 and /128. */
static void test_peer_match(void)
{
    static const struct {
        const char *prefix, *in, *out;
    } cases[] = {
        {"2001:db8::/29", "2001:dbf:7::1", "2001:dc0::1"},
        {"2001:db8:0:40::/58", "2001:db8:0:7f::9", "2001:db8:0:80::9"},
        {"2001:db8::8000:0:0:0/65", "2001:db8::ffff:1:2:3", "2001:db8::7fff:1:2:3"},
        {"2001:db8::1:2:3:4/127", "2001:db8::1:2:3:5", "2001:db8::1:2:3:6"},
        {"2001:db8::9/128", "2001:db8::9", "2001:db8::8"},
    };
    struct agent_core_config cfg;
    struct agent_core *c;
    uint8_t a[16];
    char err[128];
    uint64_t seed = 3;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&cfg, 0, sizeof cfg);
        cfg.opt_type = PDM_OPT_TYPE;
        cfg.npeers = 1;
        CHECK_INT(agent_peer_parse_prefix(&cfg.peers[0], cases[i].prefix, err, sizeof err), 0);
        CHECK_INT(agent_core_new(&c, &cfg, 64, hkey, fixed_rand, &seed, NULL, NULL), 0);
        inet_pton(AF_INET6, cases[i].in, a);
        CHECK(agent_core_peer(c, a) == &cfg.peers[0]);
        inet_pton(AF_INET6, cases[i].out, a);
        CHECK(agent_core_peer(c, a) == NULL);
        agent_core_free(c);
    }
    /* ::/0 holds everything; a longer prefix beside it wins. */
    memset(&cfg, 0, sizeof cfg);
    cfg.opt_type = PDM_OPT_TYPE;
    cfg.npeers = 2;
    CHECK_INT(agent_peer_parse_prefix(&cfg.peers[0], "::/0", err, sizeof err), 0);
    CHECK_INT(agent_peer_parse_prefix(&cfg.peers[1], "2001:db8::/32", err, sizeof err), 0);
    CHECK_INT(agent_core_new(&c, &cfg, 64, hkey, fixed_rand, &seed, NULL, NULL), 0);
    inet_pton(AF_INET6, "fe80::1", a);
    CHECK(agent_core_peer(c, a) == &cfg.peers[0]);
    inet_pton(AF_INET6, "2001:db8::1", a);
    CHECK(agent_core_peer(c, a) == &cfg.peers[1]);
    agent_core_free(c);
}

/* ---- egress ------------------------------------------------------------------ */

static void test_tx(void)
{
    struct agent_core_config cfg;
    struct agent_core *c;
    struct agent_record rec;
    struct pdm_pkt_info info;
    uint8_t pkt[CAP], orig[CAP];
    size_t len, olen;
    uint64_t seed = 1;

    config(&cfg, PDM_FORMAT_RFC8250);
    CHECK_INT(agent_core_new(&c, &cfg, 64, hkey, fixed_rand, &seed, NULL, NULL), 0);

    /* An enabled flow: option inserted, checksum still right. */
    olen = len = udp(pkt, A_ADDR, B_ADDR, 5000, 7, 100);
    memcpy(orig, pkt, len);
    CHECK_INT(agent_core_tx(c, pkt, &len, CAP, 1500, 1000, &rec), AGENT_MODIFIED);
    CHECK_INT(len, olen + PDM_HDRSIZE_RFC8250);
    CHECK_INT(pdm_pkt_parse(pkt, len, PDM_OPT_TYPE, &info), 0);
    CHECK(info.has_pdm && info.pdm.format == PDM_FORMAT_RFC8250);
    CHECK(info.upper_proto == PDM_NH_UDP && info.sport == 5000 && info.dport == 7);
    CHECK_INT(l4_sum(pkt, info.upper_off, len - info.upper_off, PDM_NH_UDP), 0xffff);
    CHECK_MEM(pkt + info.upper_off, orig + 40, olen - 40);
    CHECK_INT(info.pdm.fields.psnlr, 0);
    CHECK_INT(info.pdm.fields.delta_tlr, 0);
    CHECK(rec.time_ns == 1000 && rec.rx == 0 && rec.f.psntp == info.pdm.fields.psntp);
    uint16_t psn0 = info.pdm.fields.psntp;

    /* Not enabled (no peer prefix holds C): untouched. */
    len = udp(pkt, A_ADDR, C_ADDR, 5000, 7, 100);
    memcpy(orig, pkt, len);
    CHECK_INT(agent_core_tx(c, pkt, &len, CAP, 1500, 2000, &rec), AGENT_UNCHANGED);
    CHECK_MEM(pkt, orig, len);
    CHECK(rec.time_ns == 0);
    CHECK_INT(ctr(c, AGENT_C_TX_NOT_ENABLED), 1);

    /* Too big for the MTU with the option: unchanged, counted, and its
     * PSN not spent (the next packet gets psn0 + 1). */
    len = udp(pkt, A_ADDR, B_ADDR, 5000, 7, 100);
    CHECK_INT(agent_core_tx(c, pkt, &len, CAP, len + PDM_HDRSIZE_RFC8250 - 1, 3000, &rec),
              AGENT_UNCHANGED);
    CHECK_INT(ctr(c, AGENT_C_TX_MTU), 1);
    len = udp(pkt, A_ADDR, B_ADDR, 5000, 7, 100);
    CHECK_INT(agent_core_tx(c, pkt, &len, CAP, len + PDM_HDRSIZE_RFC8250, 4000, &rec),
              AGENT_MODIFIED);
    CHECK_INT(pdm_pkt_parse(pkt, len, PDM_OPT_TYPE, &info), 0);
    CHECK_INT(info.pdm.fields.psntp, (uint16_t)(psn0 + 1));

    /* Neighbour solicitation to the peer: never marked. */
    ip6(pkt, A_ADDR, B_ADDR, 24, PDM_NH_ICMPV6);
    memset(pkt + 40, 0, 24);
    pkt[40] = 135;
    len = 64;
    CHECK_INT(agent_core_tx(c, pkt, &len, CAP, 1500, 5000, &rec), AGENT_UNCHANGED);
    CHECK_INT(ctr(c, AGENT_C_TX_EXCLUDED), 1);

    /* A fragment and an ESP packet: unchanged, counted. */
    ip6(pkt, A_ADDR, B_ADDR, 16, PDM_NH_FRAGMENT);
    memset(pkt + 40, 0, 16);
    pkt[40] = PDM_NH_UDP;
    len = 56;
    CHECK_INT(agent_core_tx(c, pkt, &len, CAP, 1500, 5000, &rec), AGENT_UNCHANGED);
    CHECK_INT(ctr(c, AGENT_C_TX_FRAGMENT), 1);
    ip6(pkt, A_ADDR, B_ADDR, 16, PDM_NH_ESP);
    memset(pkt + 40, 0, 16);
    len = 56;
    CHECK_INT(agent_core_tx(c, pkt, &len, CAP, 1500, 5000, &rec), AGENT_UNCHANGED);
    CHECK_INT(ctr(c, AGENT_C_TX_ESP), 1);

    /* Already carrying PDM (an application did it): left alone. */
    len = udp(pkt, A_ADDR, B_ADDR, 5000, 7, 100);
    CHECK_INT(agent_core_tx(c, pkt, &len, CAP, 1500, 6000, &rec), AGENT_MODIFIED);
    CHECK_INT(agent_core_tx(c, pkt, &len, CAP, 1500, 6000, &rec), AGENT_UNCHANGED);
    CHECK_INT(ctr(c, AGENT_C_TX_HAS_PDM), 1);

    /* Garbage. */
    memset(pkt, 0x45, 60);
    len = 60;
    CHECK_INT(agent_core_tx(c, pkt, &len, CAP, 1500, 7000, &rec), AGENT_UNCHANGED);
    CHECK_INT(ctr(c, AGENT_C_TX_MALFORMED), 1);
    CHECK_INT(ctr(c, AGENT_C_TX_MARKED), 3);
    agent_core_free(c);
}

/* ---- both ends: deltas, PSN window, MSS ------------------------------------ */

static void test_exchange(void)
{
    struct agent_core_config cfg;
    struct agent_core *a, *b;
    struct agent_record rec;
    struct pdm_pkt_info info;
    uint8_t pkt[CAP];
    size_t len;
    uint64_t sa = 11, sb = 12;

    config(&cfg, PDM_FORMAT_V2);
    CHECK_INT(agent_core_new(&a, &cfg, 64, hkey, fixed_rand, &sa, NULL, NULL), 0);
    CHECK_INT(agent_core_new(&b, &cfg, 64, hkey, fixed_rand, &sb, NULL, NULL), 0);

    /* A → B at 1 ms, B receives at 1.2 ms, answers at 6.2 ms (5 ms server
     * delay), A receives at 6.5 ms, sends again at 7 ms. */
    len = udp(pkt, A_ADDR, B_ADDR, 4000, 9, 20);
    CHECK_INT(agent_core_tx(a, pkt, &len, CAP, 1500, 1000000, &rec), AGENT_MODIFIED);
    uint16_t a_psn = rec.f.psntp;
    CHECK_INT(rec.f.global_pointer, 1);
    CHECK_INT(agent_core_rx(b, pkt, len, 1500, 1200000, &rec), AGENT_UNCHANGED);
    CHECK(rec.time_ns == 1200000 && rec.rx == 1 && rec.f.psntp == a_psn);
    CHECK_INT(ctr(b, AGENT_C_RX_LOGGED), 1);

    len = udp(pkt, B_ADDR, A_ADDR, 9, 4000, 20);
    CHECK_INT(agent_core_tx(b, pkt, &len, CAP, 1500, 6200000, &rec), AGENT_MODIFIED);
    CHECK_INT(rec.f.psnlr, a_psn);
    CHECK(rec.delta_tlr_ns <= 5000000 && rec.delta_tlr_ns >= 5000000 - 5000000 / 32768);
    uint16_t b_psn = rec.f.psntp;
    CHECK_INT(agent_core_rx(a, pkt, len, 1500, 6500000, &rec), AGENT_UNCHANGED);
    CHECK(rec.delta_tlr_ns <= 5000000 && rec.delta_tlr_ns > 4990000);

    len = udp(pkt, A_ADDR, B_ADDR, 4000, 9, 20);
    CHECK_INT(agent_core_tx(a, pkt, &len, CAP, 1500, 7000000, &rec), AGENT_MODIFIED);
    CHECK_INT(rec.f.psnlr, b_psn);
    CHECK_INT(rec.f.global_pointer, 2);
    /* DeltaTLS: A's receive (6.5 ms) − A's send before it (1 ms). */
    CHECK(rec.delta_tls_ns <= 5500000 && rec.delta_tls_ns > 5490000);
    /* DeltaTLR: 7 − 6.5 ms. */
    CHECK(rec.delta_tlr_ns <= 500000 && rec.delta_tlr_ns > 499000);
    CHECK_INT(agent_core_rx(b, pkt, len, 1500, 7100000, &rec), AGENT_UNCHANGED);
    CHECK(rec.time_ns != 0);

    /* draft-04 §7.1: a PSNTP far from the last is not logged... */
    CHECK_INT(pdm_pkt_parse(pkt, len, PDM_OPT_TYPE, &info), 0);
    uint8_t *psn = pkt + info.pdm_off + 2 + 10; /* v2: after vrsn, rn, scales, gp */
    uint16_t base = (uint16_t)(a_psn + 1000);
    for (unsigned i = 0; i < AGENT_RESYNC_PACKETS; i++) {
        put16(psn, (uint16_t)(base + i));
        CHECK_INT(agent_core_rx(b, pkt, len, 1500, 8000000 + i, &rec), AGENT_UNCHANGED);
        /* ... until AGENT_RESYNC_PACKETS in a row agree: followed. */
        CHECK(i + 1 < AGENT_RESYNC_PACKETS ? rec.time_ns == 0 : rec.time_ns != 0);
    }
    CHECK_INT(ctr(b, AGENT_C_RX_UNEXPECTED_PSN), AGENT_RESYNC_PACKETS - 1);
    CHECK_INT(ctr(b, AGENT_C_RX_RESYNC), 1);
    /* A duplicate is not logged; the next one is. */
    CHECK_INT(agent_core_rx(b, pkt, len, 1500, 9000000, &rec), AGENT_UNCHANGED);
    CHECK(rec.time_ns == 0);
    put16(psn, (uint16_t)(base + AGENT_RESYNC_PACKETS));
    CHECK_INT(agent_core_rx(b, pkt, len, 1500, 9000001, &rec), AGENT_UNCHANGED);
    CHECK(rec.time_ns != 0);

    /* A packet from a prefix that is not enabled: not even parsed for
     * PDM, nothing logged. */
    len = udp(pkt, C_ADDR, B_ADDR, 1, 2, 8);
    CHECK_INT(agent_core_rx(b, pkt, len, 1500, 9500000, &rec), AGENT_UNCHANGED);
    CHECK(rec.time_ns == 0);
    CHECK_INT(ctr(b, AGENT_C_RX_NOT_ENABLED), 1);

    /* MSS: a SYN from the peer offering 1440 leaves with 1500 − 60 − 24,
     * its checksum still right; an already small MSS is kept. */
    len = tcp_syn(pkt, A_ADDR, B_ADDR, 1440);
    CHECK_INT(l4_sum(pkt, 40, 28, PDM_NH_TCP), 0xffff);
    CHECK_INT(agent_core_rx(b, pkt, len, 1500, 9600000, &rec), AGENT_MODIFIED);
    CHECK_INT(pkt[63] << 8 | pkt[64], 1500 - 60 - PDM_HDRSIZE_V2);
    CHECK_INT(l4_sum(pkt, 40, 28, PDM_NH_TCP), 0xffff);
    CHECK_INT(ctr(b, AGENT_C_RX_MSS_CLAMPED), 1);
    len = tcp_syn(pkt, A_ADDR, B_ADDR, 1200);
    CHECK_INT(agent_core_rx(b, pkt, len, 1500, 9700000, &rec), AGENT_UNCHANGED);
    CHECK_INT(pkt[63] << 8 | pkt[64], 1200);

    /* Packet Too Big (from a router) about a packet B sent to A: passed
     * unchanged, the path MTU to A learned; then B's packets to A that
     * would exceed it with the option go without it, smaller ones get it,
     * and a SYN from A gets an MSS that fits that path with the option. */
    ip6(pkt, "2001:db8:3::1", B_ADDR, 8 + 48, PDM_NH_ICMPV6);
    memset(pkt + 40, 0, 56);
    pkt[40] = 2; /* Packet Too Big */
    put16(pkt + 46, 1400);
    ip6(pkt + 48, B_ADDR, A_ADDR, 1360, PDM_NH_UDP);
    set_l4_sum(pkt, 40, 56, PDM_NH_ICMPV6, 2);
    len = 96;
    CHECK_INT(agent_core_rx(b, pkt, len, 1500, 9800000, &rec), AGENT_UNCHANGED);
    CHECK_INT(ctr(b, AGENT_C_RX_PTB), 1);
    CHECK_INT(rec.learned_pmtu, 1400);
    CHECK(rec.time_ns == 0 && memcmp(rec.learned_dst, pkt + 48 + 24, 16) == 0);
    len = udp(pkt, B_ADDR, A_ADDR, 9, 4000, 1400 - 48 - PDM_HDRSIZE_V2 + 1);
    CHECK_INT(agent_core_tx(b, pkt, &len, CAP, 1500, 9810000, &rec), AGENT_UNCHANGED);
    CHECK_INT(ctr(b, AGENT_C_TX_MTU), 1);
    len = udp(pkt, B_ADDR, A_ADDR, 9, 4000, 1400 - 48 - PDM_HDRSIZE_V2);
    CHECK_INT(agent_core_tx(b, pkt, &len, CAP, 1500, 9820000, &rec), AGENT_MODIFIED);
    CHECK_INT(len, 1400);
    len = tcp_syn(pkt, A_ADDR, B_ADDR, 1440);
    CHECK_INT(agent_core_rx(b, pkt, len, 1500, 9830000, &rec), AGENT_MODIFIED);
    CHECK_INT(pkt[63] << 8 | pkt[64], 1400 - 60 - PDM_HDRSIZE_V2);
    /* Another core of the node told about it (tools/agent/nfq.c does that). */
    agent_core_pmtu_set(a, rec.learned_dst, 1400, 9840000);
    /* About a packet to an address that is not enabled: nothing learned. */
    ip6(pkt, "2001:db8:3::1", B_ADDR, 8 + 48, PDM_NH_ICMPV6);
    memset(pkt + 40, 0, 56);
    pkt[40] = 2;
    put16(pkt + 46, 1300);
    ip6(pkt + 48, B_ADDR, C_ADDR, 1360, PDM_NH_UDP);
    len = 96;
    CHECK_INT(agent_core_rx(b, pkt, len, 1500, 9900000, &rec), AGENT_UNCHANGED);
    CHECK_INT(rec.learned_pmtu, 0);
    CHECK_INT(ctr(b, AGENT_C_RX_PTB), 1);

    /* Both directions of a flow hash alike (shards). */
    len = udp(pkt, A_ADDR, B_ADDR, 4000, 9, 20);
    uint64_t h1 = agent_core_flow_hash(pkt, len, 77);
    len = udp(pkt, B_ADDR, A_ADDR, 9, 4000, 20);
    CHECK(agent_core_flow_hash(pkt, len, 77) == h1);
    len = udp(pkt, B_ADDR, A_ADDR, 9, 4001, 20);
    CHECK(agent_core_flow_hash(pkt, len, 77) != h1);

    agent_core_free(a);
    agent_core_free(b);
}

/* ---- records ------------------------------------------------------------------ */

static void test_record_json(void)
{
    struct agent_record r;
    char buf[1024];
    json_t *j;

    memset(&r, 0, sizeof r);
    r.time_ns = 1764201600123456789ull;
    r.rx = 1;
    inet_pton(AF_INET6, B_ADDR, r.tup.src);
    inet_pton(AF_INET6, A_ADDR, r.tup.dst);
    r.tup.sport = 443;
    r.tup.dport = 50000;
    r.tup.proto = PDM_NH_TCP;
    r.format = PDM_FORMAT_V2_ENCRYPTED;
    r.f.psntp = 7;
    r.f.psnlr = 6;
    r.f.global_pointer = 99;
    pdm_time_encode_ns(5000000, &r.f.delta_tlr, &r.f.scale_dtlr);
    r.delta_tlr_ns = pdm_time_decode_ns(r.f.delta_tlr, r.f.scale_dtlr);
    r.kri = 3;
    r.auth = 1;
    int n = agent_record_json(&r, buf, sizeof buf);
    CHECK(n > 0 && buf[n - 1] == '\n');
    CHECK((j = vec_parse(buf, (size_t)n)) != NULL);
    if (j != NULL) {
        uint64_t v;
        CHECK(vec_u64(j, "time_ns", &v) == 0 && v == r.time_ns);
        CHECK(!strcmp(vec_str(j, "direction"), "rx"));
        CHECK(!strcmp(vec_str(j, "src"), B_ADDR));
        CHECK(vec_u64(j, "sport", &v) == 0 && v == 443);
        CHECK(!strcmp(vec_str(j, "format"), "v2-encrypted"));
        CHECK(vec_u64(j, "psntp", &v) == 0 && v == 7);
        CHECK(vec_u64(j, "delta_tlr_ns", &v) == 0 && v == r.delta_tlr_ns);
        CHECK(vec_u64(j, "global_pointer", &v) == 0 && v == 99);
        CHECK(vec_u64(j, "kri", &v) == 0 && v == 3);
        CHECK(!strcmp(vec_str(j, "auth"), "ok"));
        json_decref(j);
    }
    /* A failed authentication: fields unknown (null), auth "failed". */
    r.auth = 0;
    n = agent_record_json(&r, buf, sizeof buf);
    CHECK((j = vec_parse(buf, (size_t)n)) != NULL);
    if (j != NULL) {
        CHECK(json_is_null(json_object_get(j, "psntp")));
        CHECK(json_is_null(json_object_get(j, "global_pointer")));
        CHECK(!strcmp(vec_str(j, "auth"), "failed"));
        json_decref(j);
    }
    /* RFC 8250: no Global Pointer, no Kri, no auth. */
    r.format = PDM_FORMAT_RFC8250;
    r.auth = -1;
    n = agent_record_json(&r, buf, sizeof buf);
    CHECK((j = vec_parse(buf, (size_t)n)) != NULL);
    if (j != NULL) {
        CHECK(json_is_null(json_object_get(j, "global_pointer")));
        CHECK(json_is_null(json_object_get(j, "kri")));
        CHECK(json_is_null(json_object_get(j, "auth")));
        json_decref(j);
    }
    CHECK_INT(agent_record_json(&r, buf, 40), -1);
}

/* The record line as it was first written, with snprintf(): the reference
 * agent_record_json() must match byte for byte. */
static int ref_record_json(const struct agent_record *r, char *buf, size_t cap)
{
    char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], gp[16], kri[8], num[8][24];
    const struct pdm_fields *f = &r->f;
    int known = r->auth != 0, n;

    inet_ntop(AF_INET6, r->tup.src, src, sizeof src);
    inet_ntop(AF_INET6, r->tup.dst, dst, sizeof dst);
    if (known && r->format != PDM_FORMAT_RFC8250)
        snprintf(gp, sizeof gp, "%" PRIu32, f->global_pointer);
    else
        strcpy(gp, "null");
    if (r->format == PDM_FORMAT_V2_ENCRYPTED)
        snprintf(kri, sizeof kri, "%u", (unsigned)r->kri);
    else
        strcpy(kri, "null");
    if (known) {
        snprintf(num[0], sizeof num[0], "%u", (unsigned)f->psntp);
        snprintf(num[1], sizeof num[1], "%u", (unsigned)f->psnlr);
        if (r->format == PDM_FORMAT_V2_14) {
            snprintf(num[0], sizeof num[0], "%" PRIu32, r->psntp32);
            snprintf(num[1], sizeof num[1], "%" PRIu32, r->psnlr32);
        }
        snprintf(num[2], sizeof num[2], "%u", (unsigned)f->scale_dtlr);
        snprintf(num[3], sizeof num[3], "%u", (unsigned)f->delta_tlr);
        snprintf(num[4], sizeof num[4], "%u", (unsigned)f->scale_dtls);
        snprintf(num[5], sizeof num[5], "%u", (unsigned)f->delta_tls);
        snprintf(num[6], sizeof num[6], "%" PRIu64, r->delta_tlr_ns);
        snprintf(num[7], sizeof num[7], "%" PRIu64, r->delta_tls_ns);
    } else {
        for (size_t i = 0; i < 8; i++)
            strcpy(num[i], "null");
    }
    n = snprintf(buf, cap,
                 "{\"time_ns\":%" PRIu64 ",\"direction\":\"%s\",\"src\":\"%s\",\"dst\":\"%s\","
                 "\"sport\":%u,\"dport\":%u,\"protocol\":%u,\"format\":\"%s\",\"psntp\":%s,"
                 "\"psnlr\":%s,\"scale_dtlr\":%s,\"delta_tlr\":%s,\"scale_dtls\":%s,"
                 "\"delta_tls\":%s,\"delta_tlr_ns\":%s,\"delta_tls_ns\":%s,"
                 "\"global_pointer\":%s,\"kri\":%s,\"auth\":%s}\n",
                 r->time_ns, r->rx ? "rx" : "tx", src, dst, (unsigned)r->tup.sport,
                 (unsigned)r->tup.dport, (unsigned)r->tup.proto, pdm_format_name(r->format), num[0],
                 num[1], num[2], num[3], num[4], num[5], num[6], num[7], gp, kri,
                 r->auth < 0 ? "null"
                 : r->auth   ? "\"ok\""
                             : "\"failed\"");
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* Random records (every format, authentication state and field width,
 * addresses that exercise inet_ntop()'s "::" and dotted forms, repeated so
 * that the formatter's memo of the last addresses is hit and replaced)
 * come out as the snprintf() reference writes them. */
static void test_record_json_reference(void)
{
    static const char *const addrs[] = {
        "::",
        "::1",
        "2001:db8:1::1",
        "fe80::1:2ff:fe03:405",
        "::ffff:192.0.2.1",
        "::192.0.2.1",
        "1:0:0:2::3",
        "1::2:0:0:3",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "1:2:3:4:5:6:7:8",
        "0:1:2:3:4:5:6:7",
        "2001:db8::",
    };
    static const enum pdm_format fmts[] = {PDM_FORMAT_RFC8250, PDM_FORMAT_V2,
                                           PDM_FORMAT_V2_ENCRYPTED, PDM_FORMAT_V2_14};
    const size_t na = sizeof addrs / sizeof addrs[0];
    char got[1024], want[1024];
    unsigned seed = 12345, bad = 0, longest = 0;
    struct agent_record r;

    for (int i = 0; i < 20000; i++) {
        memset(&r, 0, sizeof r);
        int wide = rand_r(&seed) % 4 == 0; /* every field at its largest */
        r.time_ns = wide ? UINT64_MAX : ((uint64_t)rand_r(&seed) << 31) ^ (uint64_t)rand_r(&seed);
        r.rx = rand_r(&seed) & 1;
        /* A few flows' addresses mostly, any pair now and then. */
        size_t s = (size_t)rand_r(&seed) % (i % 7 == 0 ? na : 3), d = (size_t)rand_r(&seed) % na;
        inet_pton(AF_INET6, addrs[s], r.tup.src);
        inet_pton(AF_INET6, addrs[d], r.tup.dst);
        r.tup.sport = wide ? 65535 : (uint16_t)rand_r(&seed);
        r.tup.dport = wide ? 65535 : (uint16_t)rand_r(&seed);
        r.tup.proto = wide ? 255 : (uint8_t)rand_r(&seed);
        r.format = fmts[rand_r(&seed) % 4];
        r.auth = rand_r(&seed) % 3 - 1;
        r.f.psntp = wide ? 65535 : (uint16_t)rand_r(&seed);
        r.f.psnlr = wide ? 65535 : (uint16_t)rand_r(&seed);
        r.psntp32 = wide ? UINT32_MAX : (uint32_t)rand_r(&seed) * 3u;
        r.psnlr32 = wide ? UINT32_MAX : (uint32_t)rand_r(&seed);
        r.f.scale_dtlr = wide ? 255 : (uint8_t)rand_r(&seed);
        r.f.scale_dtls = wide ? 255 : (uint8_t)rand_r(&seed);
        r.f.delta_tlr = wide ? 65535 : (uint16_t)rand_r(&seed);
        r.f.delta_tls = wide ? 65535 : (uint16_t)(rand_r(&seed) % 3 ? rand_r(&seed) : 0);
        r.delta_tlr_ns = wide ? UINT64_MAX : (uint64_t)rand_r(&seed) * 1000u;
        r.delta_tls_ns = wide ? UINT64_MAX : (uint64_t)(rand_r(&seed) % 10);
        r.f.global_pointer = wide ? UINT32_MAX : (uint32_t)rand_r(&seed);
        r.kri = wide ? 65535 : (uint16_t)rand_r(&seed);
        int n = agent_record_json(&r, got, sizeof got), m = ref_record_json(&r, want, sizeof want);
        if (n != m || n < 0 || strcmp(got, want) != 0) {
            if (bad++ == 0)
                fprintf(stderr, "record %d:\n got  %s want %s", i, got, want);
        }
        if (n > 0 && (unsigned)n > longest)
            longest = (unsigned)n;
        /* One byte short of the line and its NUL: refused, as before. */
        if (n > 0 && i % 100 == 0)
            CHECK_INT(agent_record_json(&r, got, (size_t)n), -1);
        if (n > 0 && i % 100 == 0)
            CHECK_INT(agent_record_json(&r, got, (size_t)n + 1), n);
    }
    CHECK_INT(bad, 0);
    CHECK(longest < 600); /* agent.h's promise */
}

/* ---- v2-encrypted ------------------------------------------------------------ */

static void test_encrypted(void)
{
    struct agent_core_config cfg;
    struct agent_core *a, *b;
    struct agent_keys *ka, *kb;
    struct agent_record rec;
    struct pdm_pkt_info info;
    char keylog[] = "/tmp/openpdm-test-agent-keys-XXXXXX", sa_path[64], sb_path[64], err[256];
    uint8_t pkt[CAP];
    size_t len;
    uint64_t sa = 21, sb = 22;
    int fd;

    fd = mkstemp(keylog);
    CHECK(fd >= 0);
    dprintf(fd, "PDMV2_SECRET %s %s 0020-0001-0001 %064x %064x\n", A_ADDR, B_ADDR, 5, 6);
    close(fd);
    snprintf(sa_path, sizeof sa_path, "%s.a", keylog);
    snprintf(sb_path, sizeof sb_path, "%s.b", keylog);

    config(&cfg, PDM_FORMAT_V2_ENCRYPTED);
    cfg.peers[0].rotate_packets = 3;
    cfg.peers[1].rotate_packets = 3;
    CHECK_INT(agent_keys_load(&ka, NULL, keylog, NULL, sa_path, err, sizeof err), 0);
    CHECK_INT(agent_keys_load(&kb, NULL, keylog, NULL, sb_path, err, sizeof err), 0);
    CHECK_INT(agent_core_new(&a, &cfg, 64, hkey, fixed_rand, &sa, ka, NULL), 0);
    CHECK_INT(agent_core_new(&b, &cfg, 64, hkey, fixed_rand, &sb, kb, NULL), 0);

    /* Seven packets A → B, a new key every 3: B opens them all and sees
     * the Kri move 0, 0, 0, 1, 1, 1, 2. */
    for (unsigned i = 0; i < 7; i++) {
        len = udp(pkt, A_ADDR, B_ADDR, 4000, 9, 20);
        CHECK_INT(agent_core_tx(a, pkt, &len, CAP, 1500, 1000000 * (i + 1), &rec), AGENT_MODIFIED);
        CHECK_INT(len, 68 + PDM_HDRSIZE_V2_ENC);
        CHECK_INT(rec.kri, i / 3);
        uint16_t sent_psn = rec.f.psntp;
        CHECK_INT(pdm_pkt_parse(pkt, len, PDM_OPT_TYPE, &info), 0);
        CHECK(info.pdm.format == PDM_FORMAT_V2_ENCRYPTED && info.pdm.f == (i / 3) % 2);
        CHECK_INT(agent_core_rx(b, pkt, len, 1500, 1000000 * (i + 1) + 100, &rec), AGENT_UNCHANGED);
        CHECK(rec.time_ns != 0 && rec.auth == 1 && rec.f.psntp == sent_psn);
        CHECK_INT(rec.kri, i / 3);
    }
    CHECK_INT(ctr(a, AGENT_C_KEY_ROTATIONS), 2);
    CHECK_INT(ctr(b, AGENT_C_PEER_ROTATIONS), 2);

    /* One bit flipped in the sealed part: authentication fails, counted,
     * recorded without fields; the flow's state is not touched. */
    len = udp(pkt, A_ADDR, B_ADDR, 4000, 9, 20);
    CHECK_INT(agent_core_tx(a, pkt, &len, CAP, 1500, 9000000, &rec), AGENT_MODIFIED);
    CHECK_INT(pdm_pkt_parse(pkt, len, PDM_OPT_TYPE, &info), 0);
    pkt[info.pdm_off + 20] ^= 1;
    CHECK_INT(agent_core_rx(b, pkt, len, 1500, 9000100, &rec), AGENT_UNCHANGED);
    CHECK(rec.time_ns != 0 && rec.auth == 0);
    CHECK_INT(ctr(b, AGENT_C_RX_AUTH_FAILED), 1);

    /* No secret for A ↔ the other /64: packets to it go out unchanged. */
    cfg.peers[0].plen = 16; /* 2001::/16 now holds C */
    len = udp(pkt, A_ADDR, C_ADDR, 4000, 9, 20);
    CHECK_INT(agent_core_tx(a, pkt, &len, CAP, 1500, 9500000, &rec), AGENT_UNCHANGED);
    CHECK_INT(ctr(a, AGENT_C_TX_NO_SECRET), 1);

    /* A restart (same state file): the same tuple starts at a new Kri,
     * and the receiver, restarted too, still opens it. */
    agent_core_free(a);
    agent_core_free(b);
    agent_keys_free(ka);
    agent_keys_free(kb);
    CHECK_INT(agent_keys_load(&ka, NULL, keylog, NULL, sa_path, err, sizeof err), 0);
    CHECK_INT(agent_keys_load(&kb, NULL, keylog, NULL, sb_path, err, sizeof err), 0);
    CHECK_INT(agent_core_new(&a, &cfg, 64, hkey, fixed_rand, &sa, ka, NULL), 0);
    CHECK_INT(agent_core_new(&b, &cfg, 64, hkey, fixed_rand, &sb, kb, NULL), 0);
    len = udp(pkt, A_ADDR, B_ADDR, 4000, 9, 20);
    CHECK_INT(agent_core_tx(a, pkt, &len, CAP, 1500, 20000000, &rec), AGENT_MODIFIED);
    CHECK(rec.kri > 2);
    uint16_t k2 = rec.kri;
    CHECK_INT(agent_core_rx(b, pkt, len, 1500, 20000100, &rec), AGENT_UNCHANGED);
    CHECK(rec.auth == 1 && rec.kri == k2);

    agent_core_free(a);
    agent_core_free(b);
    agent_keys_free(ka);
    agent_keys_free(kb);
    unlink(keylog);
    unlink(sa_path);
    unlink(sb_path);
}

/* Packets to (or from) many addresses without a secret, in a peer prefix
 * (a scan, or forged sources), fill the key module's pair cache with
 * misses: a peer that has a secret, seen only after them, must still find
 * it (a miss gives way), and its packets still carry the option. */
static void test_pair_cache_misses(void)
{
    struct agent_core_config cfg;
    struct agent_core *a;
    struct agent_keys *ka;
    struct agent_record rec;
    char keylog[] = "/tmp/openpdm-test-agent-miss-XXXXXX", err[256], addr[64];
    uint8_t pkt[CAP], local[16], other[16];
    size_t len, found = 0;
    uint64_t sa = 31;
    int fd;

    fd = mkstemp(keylog);
    CHECK(fd >= 0);
    dprintf(fd, "PDMV2_SECRET %s %s 0020-0001-0001 %064x %064x\n", A_ADDR, B_ADDR, 5, 6);
    close(fd);
    config(&cfg, PDM_FORMAT_V2_ENCRYPTED);
    CHECK_INT(agent_keys_load(&ka, NULL, keylog, NULL, NULL, err, sizeof err), 0);
    CHECK_INT(agent_core_new(&a, &cfg, 64, hkey, fixed_rand, &sa, ka, NULL), 0);
    inet_pton(AF_INET6, A_ADDR, local);
    /* Far more addresses than the cache holds (512 pairs). */
    for (unsigned i = 0; i < 2048; i++) {
        snprintf(addr, sizeof addr, "2001:db8:1::%x:%x", 0x100 + i / 1024, i % 1024 + 16);
        inet_pton(AF_INET6, addr, other);
        found += (size_t)agent_keys_have(ka, local, other);
    }
    CHECK_INT(found, 0);
    len = udp(pkt, A_ADDR, B_ADDR, 4000, 9, 20);
    CHECK_INT(agent_core_tx(a, pkt, &len, CAP, 1500, 1000000, &rec), AGENT_MODIFIED);
    CHECK_INT(len, 68 + PDM_HDRSIZE_V2_ENC);
    CHECK_INT(ctr(a, AGENT_C_TX_NO_SECRET), 0);

    agent_core_free(a);
    agent_keys_free(ka);
    unlink(keylog);
}

/* Writes lines to a fresh key log; its path goes to path (64 bytes). */
static void keylog_write(char path[64], const char *tag, const char *lines)
{
    int fd;

    snprintf(path, 64, "/tmp/openpdm-test-agent-%s-XXXXXX", tag);
    fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, lines, strlen(lines)) == (ssize_t)strlen(lines));
    close(fd);
}

/* Whether B, holding only the key log kb, opens a packet A sealed while
 * holding ka (both as key logs; no state files). */
static int opens_with(const char *ka_lines, const char *kb_lines)
{
    struct agent_core_config cfg;
    struct agent_core *a, *b;
    struct agent_keys *ka, *kb;
    struct agent_record rec;
    char pa[64], pb[64], err[256];
    uint8_t pkt[CAP];
    size_t len;
    uint64_t sa = 41, sb = 42;
    int ok = 0;

    keylog_write(pa, "a", ka_lines);
    keylog_write(pb, "b", kb_lines);
    config(&cfg, PDM_FORMAT_V2_ENCRYPTED);
    CHECK_INT(agent_keys_load(&ka, NULL, pa, NULL, NULL, err, sizeof err), 0);
    CHECK_INT(agent_keys_load(&kb, NULL, pb, NULL, NULL, err, sizeof err), 0);
    CHECK_INT(agent_core_new(&a, &cfg, 64, hkey, fixed_rand, &sa, ka, NULL), 0);
    CHECK_INT(agent_core_new(&b, &cfg, 64, hkey, fixed_rand, &sb, kb, NULL), 0);
    len = udp(pkt, A_ADDR, B_ADDR, 4000, 9, 20);
    if (agent_core_tx(a, pkt, &len, CAP, 1500, 1000000, &rec) == AGENT_MODIFIED) {
        (void)agent_core_rx(b, pkt, len, 1500, 1000100, &rec);
        ok = rec.time_ns != 0 && rec.auth == 1;
    }
    agent_core_free(a);
    agent_core_free(b);
    agent_keys_free(ka);
    agent_keys_free(kb);
    unlink(pa);
    unlink(pb);
    return ok;
}

/*
 * The one lookup (pdm_keylog_lookup()): of two PDMV2_SECRET lines for the
 * pair the later one wins; a PDMV2_SECRET beats any PDMV2_PRIMARY; among
 * primaries the more specific client prefix wins whatever the order, and
 * among equal ones the later line.
 */
static void test_keylog_order(void)
{
#define SALT         "1111111111111111111111111111111111111111111111111111111111111111"
#define S1           "0101010101010101010101010101010101010101010101010101010101010101"
#define S2           "0202020202020202020202020202020202020202020202020202020202020202"
#define SEC(s)       "PDMV2_SECRET " A_ADDR " " B_ADDR " 0020-0001-0001 " SALT " " s "\n"
#define PRIM(pfx, s) "PDMV2_PRIMARY " pfx " " B_ADDR " 0020-0001-0001 " SALT " " s "\n"
    /* Two secrets for the pair: the later line. */
    CHECK(opens_with(SEC(S1) SEC(S2), SEC(S2)));
    CHECK(!opens_with(SEC(S1) SEC(S2), SEC(S1)));
    /* A secret for exactly the pair beats a primary, even a later one. */
    CHECK(opens_with(SEC(S1) PRIM("2001:db8:1::/64", S2), SEC(S1)));
    CHECK(!opens_with(SEC(S1) PRIM("2001:db8:1::/64", S2), PRIM("2001:db8:1::/64", S2)));
    /* The more specific primary, listed first or last. */
    CHECK(opens_with(PRIM("2001:db8:1::/64", S2) PRIM("2001:db8::/32", S1),
                     PRIM("2001:db8:1::/64", S2)));
    CHECK(opens_with(PRIM("2001:db8::/32", S1) PRIM("2001:db8:1::/64", S2),
                     PRIM("2001:db8:1::/64", S2)));
    CHECK(!opens_with(PRIM("2001:db8::/32", S1) PRIM("2001:db8:1::/64", S2),
                      PRIM("2001:db8::/32", S1)));
    /* Two equal primaries: the later line. */
    CHECK(opens_with(PRIM("2001:db8:1::/64", S1) PRIM("2001:db8:1::/64", S2),
                     PRIM("2001:db8:1::/64", S2)));
#undef SEC
#undef PRIM
#undef S1
#undef S2
#undef SALT
}

/*
 * A seal that fails after the option's room was made in the packet (the
 * Kri space used up at a rotation, from a Kri history that says the
 * tuple's bucket is at Kri 65535): the room is taken back, and the packet
 * leaves byte for byte as it came, counted. Then every later packet.
 */
static void test_seal_fails_in_place(void)
{
    struct agent_core_config cfg;
    struct agent_core *a;
    struct agent_keys *ka;
    struct agent_record rec;
    struct pdm_profile_secret s;
    uint8_t salt[32] = {0}, secret[32] = {0}, id[16], pkt[CAP], orig[CAP];
    char keylog[64], state[80], err[256];
    size_t len, olen;
    uint64_t sa = 51;
    FILE *f;

    salt[31] = 5; /* the key log's "%064x" of 5 and 6 */
    secret[31] = 6;
    CHECK_INT(pdm_profile_secret_init(&s, PDM_PROFILE_SUITE_DEFAULT, salt, 32, secret, 32), 0);
    CHECK_INT(pdm_hpke_labeled_expand(s.suite, s.prk, s.nh, "openpdm agent kri id", NULL, 0, id,
                                      sizeof id),
              0);
    pdm_profile_secret_wipe(&s);
    keylog_write(keylog, "full",
                 "PDMV2_SECRET " A_ADDR " " B_ADDR " 0020-0001-0001 "
                 "0000000000000000000000000000000000000000000000000000000000000005 "
                 "0000000000000000000000000000000000000000000000000000000000000006\n");
    snprintf(state, sizeof state, "%s.state", keylog);
    CHECK((f = fopen(state, "w")) != NULL);
    if (f == NULL)
        return;
    fprintf(f, "clean 1\nsecret ");
    for (size_t i = 0; i < sizeof id; i++)
        fprintf(f, "%02x", id[i]);
    fprintf(f, "\n");
    for (unsigned b = 0; b < 4096; b++)
        fprintf(f, "t %u 65535\n", b);
    fclose(f);

    config(&cfg, PDM_FORMAT_V2_ENCRYPTED);
    cfg.peers[0].rotate_packets = cfg.peers[1].rotate_packets = 1;
    CHECK_INT(agent_keys_load(&ka, NULL, keylog, NULL, state, err, sizeof err), 0);
    CHECK_INT(agent_core_new(&a, &cfg, 64, hkey, fixed_rand, &sa, ka, NULL), 0);
    len = udp(pkt, A_ADDR, B_ADDR, 4000, 9, 20);
    CHECK_INT(agent_core_tx(a, pkt, &len, CAP, 1500, 1000000, &rec), AGENT_MODIFIED);
    CHECK_INT(rec.kri, 65535);
    for (unsigned i = 0; i < 2; i++) {
        olen = len = udp(pkt, A_ADDR, B_ADDR, 4000, 9, 20 + i);
        memcpy(orig, pkt, len);
        CHECK_INT(agent_core_tx(a, pkt, &len, CAP, 1500, 2000000 + i, &rec), AGENT_UNCHANGED);
        CHECK_INT(len, olen);
        CHECK_MEM(pkt, orig, olen);
        CHECK(rec.time_ns == 0);
    }
    CHECK_INT(ctr(a, AGENT_C_TX_KEY_EXHAUSTED), 2);
    CHECK_INT(ctr(a, AGENT_C_TX_MARKED), 1);
    agent_core_free(a);
    agent_keys_free(ka);
    unlink(keylog);
    unlink(state);
}

/* A table name that is not a plain word never reaches nft or ip6tables:
 * refused before any rule is touched (no command runs). */
static void test_fw_table_name(void)
{
    struct agent_config cfg;
    struct agent_peer p;
    char err[256];
    static const char *const bad[] = {
        "",           "x\ndelete table ip6 filter", "a;b", "t{",
        "with space", "abcdefghijklmnopqrstu", /* 21 characters */
        "-X",
    };

    agent_config_init(&cfg);
    memset(&p, 0, sizeof p);
    CHECK_INT(agent_peer_parse_prefix(&p, "2001:db8:1::/64", err, sizeof err), 0);
    CHECK_INT(agent_config_add_peer(&cfg.core, &p, err, sizeof err), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg.table = bad[i];
        err[0] = '\0';
        CHECK_INT(agent_fw_install(&cfg, err, sizeof err), AGENT_FW_NONE);
        CHECK(strstr(err, "table name") != NULL);
    }
    agent_config_free(&cfg);
}

int main(void)
{
    RUN(test_config);
    RUN(test_peer_match);

    RUN(test_tx);
    RUN(test_exchange);
    RUN(test_record_json);
    RUN(test_record_json_reference);
    RUN(test_encrypted);
    RUN(test_pair_cache_misses);
    RUN(test_keylog_order);
    RUN(test_seal_fails_in_place);

    RUN(test_fw_table_name);
    return harness_done();
}
