/*
 * The agent under forged v2-encrypted options (issue 13 item 5), sans-IO:
 * tools/agent/core.c opens an option of an unknown flow before making the
 * flow, and bounds the records of failed authentication; secrets.c empties
 * the pair-cache slots of secrets that never served a packet. The same
 * behaviours are measured end to end by tests/it_flood.sh.
 */
#include "harness.h"

#include "agent/agent.h"
#include "agent/keys.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <unistd.h>

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

/* A UDP packet with 20 bytes of payload (checksum 0: the core does not
 * read it). Returns its length. */
static size_t udp(uint8_t *p, const char *src, const char *dst, unsigned sport)
{
    memset(p, 0, 68);
    p[0] = 0x60;
    p[5] = 28;
    p[6] = PDM_NH_UDP;
    p[7] = 64;
    inet_pton(AF_INET6, src, p + 8);
    inet_pton(AF_INET6, dst, p + 24);
    p[40] = (uint8_t)(sport >> 8);
    p[41] = (uint8_t)sport;
    p[43] = 9;
    p[45] = 28;
    return 68;
}

static void config(struct agent_core_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->opt_type = PDM_OPT_TYPE;
    cfg->flow_capacity = 64;
    cfg->psn_window = 100;
    cfg->npeers = 1;
    inet_pton(AF_INET6, "2001:db8:1::", cfg->peers[0].prefix);
    cfg->peers[0].plen = 64;
    cfg->peers[0].mode = PDM_FORMAT_V2_ENCRYPTED;
}

static const uint8_t hkey[PDM_FLOW_HASH_KEY_SIZE] = {1, 2, 3, 4, 5, 6, 7, 8};

static uint64_t ctr(struct agent_core *c, enum agent_counter k)
{
    uint64_t v[AGENT_C_MAX];
    agent_core_counters(c, v);
    return v[k];
}

static void keylog_write(char path[64], const char *lines)
{
    int fd;

    snprintf(path, 64, "/tmp/openpdm-test-flood-XXXXXX");
    fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, lines, strlen(lines)) == (ssize_t)strlen(lines));
    close(fd);
}

/* 1,000 options sealed by A, each replayed under another source port (a
 * flow B does not know; the AAD no longer matches): every one fails, none
 * takes a flow entry (B's table holds 64), at most 4 are recorded in the
 * second; then A's real packets still open and make their flow. */
static void test_forged_make_no_flow(void)
{
    struct agent_core_config cfg;
    struct agent_core *a, *b;
    struct agent_keys *ka, *kb;
    struct agent_record rec;
    char keylog[64], err[256];
    uint8_t pkt[CAP], sealed[CAP];
    size_t len, slen, recorded = 0;
    uint64_t sa = 1, sb = 2;

    keylog_write(keylog, "PDMV2_SECRET " A_ADDR " " B_ADDR " 0020-0001-0001 "
                         "0505050505050505050505050505050505050505050505050505050505050505 "
                         "0606060606060606060606060606060606060606060606060606060606060606\n");
    config(&cfg);
    CHECK_INT(agent_keys_load(&ka, NULL, keylog, NULL, NULL, err, sizeof err), 0);
    CHECK_INT(agent_keys_load(&kb, NULL, keylog, NULL, NULL, err, sizeof err), 0);
    CHECK_INT(agent_core_new(&a, &cfg, 64, hkey, fixed_rand, &sa, ka, NULL), 0);
    CHECK_INT(agent_core_new(&b, &cfg, 64, hkey, fixed_rand, &sb, kb, NULL), 0);
    slen = udp(sealed, A_ADDR, B_ADDR, 4000);
    CHECK_INT(agent_core_tx(a, sealed, &slen, CAP, 1500, 1000000000, &rec), AGENT_MODIFIED);

    for (unsigned i = 0; i < 1000; i++) {
        struct pdm_pkt_info info;
        memcpy(pkt, sealed, slen);
        CHECK_INT(pdm_pkt_parse(pkt, slen, PDM_OPT_TYPE, &info), 0);
        pkt[info.upper_off] = (uint8_t)((5000 + i) >> 8);
        pkt[info.upper_off + 1] = (uint8_t)(5000 + i);
        (void)agent_core_rx(b, pkt, slen, 1500, 1000000000 + 1000 * i, &rec);
        recorded += rec.time_ns != 0;
    }
    CHECK_INT(ctr(b, AGENT_C_RX_AUTH_FAILED), 1000);
    CHECK_INT(agent_core_flows(b), 0);
    CHECK_INT(ctr(b, AGENT_C_RX_FLOW_FULL), 0);
    CHECK(recorded >= 1 && recorded <= 4);

    /* The real one opens and makes its flow; the next second records a
     * failure again. */
    memcpy(pkt, sealed, slen);
    CHECK_INT(agent_core_rx(b, pkt, slen, 1500, 1500000000, &rec), AGENT_UNCHANGED);
    CHECK(rec.time_ns != 0 && rec.auth == 1);
    CHECK_INT(agent_core_flows(b), 1);
    len = udp(pkt, A_ADDR, B_ADDR, 4000);
    CHECK_INT(agent_core_tx(a, pkt, &len, CAP, 1500, 2100000000, &rec), AGENT_MODIFIED);
    CHECK_INT(agent_core_rx(b, pkt, len, 1500, 2100000100, &rec), AGENT_UNCHANGED);
    CHECK(rec.time_ns != 0 && rec.auth == 1);
    CHECK_INT(ctr(b, AGENT_C_RX_LOGGED), 2);
    struct pdm_pkt_info info;
    CHECK_INT(pdm_pkt_parse(pkt, len, PDM_OPT_TYPE, &info), 0);
    pkt[info.pdm_off + 20] ^= 1; /* in the sealed part: a failure on the known flow */
    CHECK_INT(agent_core_rx(b, pkt, len, 1500, 2200000000, &rec), AGENT_UNCHANGED);
    CHECK(rec.time_ns != 0 && rec.auth == 0);
    CHECK_INT(agent_core_flows(b), 1);

    agent_core_free(a);
    agent_core_free(b);
    agent_keys_free(ka);
    agent_keys_free(kb);
    unlink(keylog);
}

/* A primary secret gives every address of its prefix a secret: 600 of
 * them fill the 512-slot cache with found secrets, and a new one then
 * gets none, until agent_keys_prune() empties the slots that never served
 * a packet. A pair that sealed a packet keeps its slot. */
static void test_prune_unproven(void)
{
    struct agent_core_config cfg;
    struct agent_core *a;
    struct agent_keys *k;
    struct agent_record rec;
    char keylog[64], err[256], addr[64];
    uint8_t pkt[CAP], local[16], peer[16];
    size_t len, found = 0;
    uint64_t sa = 3;

    keylog_write(keylog, "PDMV2_PRIMARY 2001:db8:1::/64 " B_ADDR " 0020-0001-0001 "
                         "0707070707070707070707070707070707070707070707070707070707070707 "
                         "0808080808080808080808080808080808080808080808080808080808080808\n");
    config(&cfg);
    inet_pton(AF_INET6, B_ADDR, cfg.peers[0].prefix); /* the peer is B alone */
    cfg.peers[0].plen = 128;
    CHECK_INT(agent_keys_load(&k, NULL, keylog, NULL, NULL, err, sizeof err), 0);
    CHECK_INT(agent_core_new(&a, &cfg, 64, hkey, fixed_rand, &sa, k, NULL), 0);
    /* A (a client of the prefix) sends to B: its pair is proven. */
    len = udp(pkt, A_ADDR, B_ADDR, 4000);
    CHECK_INT(agent_core_tx(a, pkt, &len, CAP, 1500, 1000000, &rec), AGENT_MODIFIED);

    inet_pton(AF_INET6, B_ADDR, peer);
    for (unsigned i = 0; i < 600; i++) {
        snprintf(addr, sizeof addr, "2001:db8:1::%x:%x", 0x100 + i / 1024, i % 1024 + 16);
        inet_pton(AF_INET6, addr, local);
        found += (size_t)agent_keys_have(k, local, peer);
    }
    CHECK_INT(found, 511);
    inet_pton(AF_INET6, "2001:db8:1::77", local);
    CHECK_INT(agent_keys_have(k, local, peer), 0);
    CHECK_INT(k->prune_wanted, 1);
    CHECK_INT(agent_keys_prune(k), 511);
    CHECK_INT(k->prune_wanted, 0);
    CHECK_INT(agent_keys_have(k, local, peer), 1);
    /* A's flow finds its secret again (same slot, same state). */
    len = udp(pkt, A_ADDR, B_ADDR, 4000);
    CHECK_INT(agent_core_tx(a, pkt, &len, CAP, 1500, 2000000, &rec), AGENT_MODIFIED);
    CHECK_INT(rec.kri, 0);
    CHECK_INT(ctr(a, AGENT_C_TX_NO_SECRET), 0);

    agent_core_free(a);
    agent_keys_free(k);
    unlink(keylog);
}

int main(void)
{
    RUN(test_forged_make_no_flow);
    RUN(test_prune_unproven);
    return harness_done();
}
