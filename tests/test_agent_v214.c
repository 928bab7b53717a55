/*
 * The agent's --mode v2-14 in its sans-IO core (tools/agent/core.c,
 * v214.c): two cores exchange UDP packets; each option must be a -14
 * option (24 bytes, in a fresh 32-byte Destination Options header), its
 * 32-bit PSNTP must step by one per packet from a start whose high half
 * is random too, PSNLR must name the peer's last PSNTP in full, a wrap of
 * the low half must carry, and the records must hold the full PSNs.
 */
#include "harness.h"

#include "agent/agent.h"

#include <pdm/time.h>

#include <arpa/inet.h>

#define A_ADDR "2001:db8:1::1"
#define B_ADDR "2001:db8:1::2"
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

static size_t udp(uint8_t *p, const char *src, const char *dst, unsigned sport, unsigned dport)
{
    memset(p, 0, 56);
    p[0] = 0x60;
    p[5] = 16; /* Payload Length: 8 + 8 */
    p[6] = PDM_NH_UDP;
    p[7] = 64;
    inet_pton(AF_INET6, src, p + 8);
    inet_pton(AF_INET6, dst, p + 24);
    p[40] = (uint8_t)(sport >> 8);
    p[41] = (uint8_t)sport;
    p[42] = (uint8_t)(dport >> 8);
    p[43] = (uint8_t)dport;
    p[45] = 16;
    return 56;
}

static const uint8_t hkey[PDM_FLOW_HASH_KEY_SIZE] = {9, 8, 7};

/* The -14 option of pkt (len bytes), decoded; 0 when it is one. */
static int option_of(const uint8_t *pkt, size_t len, struct pdm_v214 *v)
{
    struct pdm_pkt_info info;

    if (pdm_pkt_parse(pkt, len, PDM_OPT_TYPE, &info) != 0 || !info.has_pdm ||
        info.pdm.format != PDM_FORMAT_V2_14 || info.final_dst_len != PDM_V214_HDR_SIZE)
        return -1;
    return pdm_v214_decode(v, pkt + info.pdm_off, len - info.pdm_off, PDM_OPT_TYPE) ==
                   PDM_V214_OPT_SIZE
               ? 0
               : -1;
}

static void test_exchange(void)
{
    struct agent_core_config cfg;
    struct agent_core *a, *b;
    struct agent_record rec;
    struct pdm_v214 v;
    uint8_t pkt[CAP], json[AGENT_RECORD_MAX];
    uint64_t sa = 21, sb = 22;
    uint32_t a_psn = 0, b_psn = 0;
    size_t len;
    int highs = 0;

    memset(&cfg, 0, sizeof cfg);
    cfg.opt_type = PDM_OPT_TYPE;
    cfg.flow_capacity = 64;
    cfg.psn_window = 100;
    cfg.npeers = 1;
    inet_pton(AF_INET6, "2001:db8:1::", cfg.peers[0].prefix);
    cfg.peers[0].plen = 64;
    cfg.peers[0].mode = PDM_FORMAT_V2_14;
    CHECK_INT(agent_mode_growth(PDM_FORMAT_V2_14), 32);
    CHECK_INT(agent_core_new(&a, &cfg, 64, hkey, fixed_rand, &sa, NULL, NULL), 0);
    CHECK_INT(agent_core_new(&b, &cfg, 64, hkey, fixed_rand, &sb, NULL, NULL), 0);

    for (unsigned i = 0; i < 5; i++) {
        uint64_t t = 1000000u * (i + 1);

        len = udp(pkt, A_ADDR, B_ADDR, 4000, 9);
        CHECK_INT(agent_core_tx(a, pkt, &len, CAP, 1500, t, &rec), AGENT_MODIFIED);
        CHECK_INT(len, 56 + 32);
        CHECK_INT(option_of(pkt, len, &v), 0);
        CHECK_INT(v.epoch, 0);
        if (i == 0)
            a_psn = v.psntp;
        CHECK_INT(v.psntp, a_psn + i);
        CHECK_INT(v.psnlr, i == 0 ? 0 : b_psn + i - 1); /* B's last, in full */
        CHECK_INT(v.global_pointer, i + 1);
        CHECK_INT(rec.psntp32, v.psntp);
        CHECK_INT(rec.format, PDM_FORMAT_V2_14);
        highs += (v.psntp >> 16) != 0;
        CHECK_INT(agent_core_rx(b, pkt, len, 1500, t + 100000, &rec), AGENT_UNCHANGED);
        CHECK_INT(rec.psntp32, a_psn + i);
        CHECK(agent_record_json(&rec, (char *)json, sizeof json) > 0);
        char want[40];
        snprintf(want, sizeof want, "\"psntp\":%u,", (unsigned)(a_psn + i));
        CHECK(strstr((char *)json, want) != NULL);
        CHECK(strstr((char *)json, "\"format\":\"v2-14\"") != NULL);

        len = udp(pkt, B_ADDR, A_ADDR, 9, 4000);
        CHECK_INT(agent_core_tx(b, pkt, &len, CAP, 1500, t + 500000, &rec), AGENT_MODIFIED);
        CHECK_INT(option_of(pkt, len, &v), 0);
        if (i == 0)
            b_psn = v.psntp;
        CHECK_INT(v.psntp, b_psn + i);
        CHECK_INT(v.psnlr, a_psn + i);
        /* DeltaTLR: B's send 0.4 ms after its receive. */
        CHECK(pdm_time_decode_ns(v.delta_tlr, v.scale_dtlr) <= 400000 &&
              pdm_time_decode_ns(v.delta_tlr, v.scale_dtlr) > 399000);
        CHECK_INT(agent_core_rx(a, pkt, len, 1500, t + 600000, &rec), AGENT_UNCHANGED);
        CHECK_INT(rec.psnlr32, a_psn + i);
    }
    /* Random in all 32 bits: both starts have a non-zero high half here
     * (fixed seeds; a zero high half would mean it was never drawn). */
    CHECK_INT(highs, 5);
    CHECK(a_psn >> 16 != 0 && b_psn >> 16 != 0);
    agent_core_free(a);
    agent_core_free(b);
}

/* The low half wraps: the high half carries, the PSNTP goes on by one. */
static void test_wrap(void)
{
    struct pdm_flow flow;
    struct pdm_option opt;
    struct pdm_v214 v;
    uint8_t out[24];

    memset(&flow, 0, sizeof flow);
    memset(&opt, 0, sizeof opt);
    opt.type = PDM_OPT_TYPE;
    agent_v214_flow_new(&flow, 0x0000abcd);
    flow.dir[0].psn_next = 0xffff;
    pdm_flow_on_send(&flow, 0, 1000, &opt.fields);
    CHECK_INT(agent_v214_tx(&flow, 0, &opt, out, &v), 0);
    CHECK_INT(v.psntp, 0xabcdffffu);
    pdm_flow_on_send(&flow, 0, 2000, &opt.fields);
    CHECK_INT(agent_v214_tx(&flow, 0, &opt, out, &v), 0);
    CHECK_INT(v.psntp, 0xabce0000u);
    CHECK_MEM(out, "\x0f\x16\x20\x00\xab\xce\x00\x00", 8);
}

int main(void)
{
    RUN(test_exchange);
    RUN(test_wrap);
    return harness_done();
}
