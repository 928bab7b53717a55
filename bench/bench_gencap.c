/*
 * bench_gencap: writes a synthetic capture for bench/analyze.sh.
 *
 *   bench_gencap OUT.pcap NPACKETS clear|encrypted [KEYLOG]
 *
 * 64 UDP flows between clients 2001:db8:c::<n> and one server
 * 2001:db8:5::1, interleaved request/response (packet i belongs to flow
 * (i / 2) mod 64), 1 µs apart, on Ethernet. Each packet carries a PDMv2
 * option: unencrypted, or sealed with pdm_profile_tx_seal() under the
 * ClientSecret of its client derived from one PDMV2_PRIMARY secret, with a
 * key rotation every 1000 packets per direction. For encrypted captures
 * the key log line goes to KEYLOG (mode 0600). Fields are plausible, not
 * a simulation: PSNs count up per direction, PSNLR names the peer's last
 * packet, delays are drawn from fixed ranges.
 */
#include "common/pcapw.h"
#include "bench.h"
#include <pdm/keylog.h>
#include <pdm/profile.h>
#include <pdm/time.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conv.h"

#define FLOWS    64
#define PAYLOAD  16
#define FRAMECAP 256

struct gflow {
    uint8_t client[16];
    struct pdm_flow_tuple t[2]; /* [0] client -> server, [1] back */
    struct pdm_profile_secret secret;
    struct pdm_profile_tx tx[2];
    uint16_t psn[2];
    struct pdm_gp gp; /* the client node's counters */
};

static const uint8_t salt[32] = {0xb0, 0x0c, 0x5a, 0x17};
static const uint8_t primary_secret[32] = {0x9e, 0x37, 0x79, 0xb9, 0x7f, 0x4a, 0x7c, 0x15};

static int write_keylog(const char *path, const uint8_t server[16])
{
    struct pdm_keylog_entry e;
    char line[PDM_KEYLOG_LINE_MAX];
    int fd, n;

    memset(&e, 0, sizeof e);
    e.kind = PDM_KEYLOG_PRIMARY;
    e.client[0] = 0x20, e.client[1] = 0x01, e.client[2] = 0x0d, e.client[3] = 0xb8;
    e.client[5] = 0x0c;
    e.client_plen = 48;
    memcpy(e.server, server, 16);
    e.server_plen = 128;
    e.suite = PDM_PROFILE_SUITE_DEFAULT;
    memcpy(e.salt, salt, sizeof salt);
    memcpy(e.secret, primary_secret, sizeof primary_secret);
    e.secret_len = sizeof primary_secret;
    if ((n = pdm_keylog_format_line(&e, line, sizeof line)) < 0)
        return -1;
    line[n++] = '\n';
    if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
        return -1;
    if (write(fd, line, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    return close(fd);
}

int main(int argc, char **argv)
{
    static const uint8_t mac_c[6] = {2, 0, 0, 0, 0, 1}, mac_s[6] = {2, 0, 0, 0, 0, 2};
    struct pdm_profile_policy pol = {1000, 0};
    struct pdm_profile_primary pp;
    struct gflow *fl;
    struct pdm_gp server_gp;
    struct tool_pcapw w;
    uint8_t server[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 5, [15] = 1};
    uint8_t frame[FRAMECAP];
    uint64_t n, rng = 1, t0 = 1700000000ull * 1000000000u;
    int enc;

    if (argc < 4 || (strcmp(argv[3], "clear") && strcmp(argv[3], "encrypted")) ||
        (n = strtoull(argv[2], NULL, 10)) == 0) {
        fprintf(stderr, "usage: bench_gencap OUT.pcap NPACKETS clear|encrypted [KEYLOG]\n");
        return 2;
    }
    enc = !strcmp(argv[3], "encrypted");
    if (enc && argc > 4 && write_keylog(argv[4], server) != 0) {
        perror(argv[4]);
        return 1;
    }
    if (pdm_profile_primary_init(&pp, PDM_PROFILE_SUITE_DEFAULT, salt, sizeof salt, primary_secret,
                                 sizeof primary_secret) != 0 ||
        !(fl = calloc(FLOWS, sizeof *fl)))
        return 1;
    pdm_gp_init(&server_gp);
    for (unsigned i = 0; i < FLOWS; i++) {
        struct gflow *g = &fl[i];
        static const uint8_t pfx[6] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x0c};
        memcpy(g->client, pfx, sizeof pfx);
        g->client[15] = (uint8_t)(i + 1);
        for (unsigned d = 0; d < 2; d++) {
            struct pdm_flow_tuple *t = &g->t[d];
            memcpy(t->src, d ? server : g->client, 16);
            memcpy(t->dst, d ? g->client : server, 16);
            t->sport = d ? 443 : (uint16_t)(40000 + i);
            t->dport = d ? (uint16_t)(40000 + i) : 443;
            t->proto = PDM_NH_UDP;
            g->psn[d] = (uint16_t)bench_rand(&rng);
        }
        pdm_gp_init(&g->gp);
        if (enc && (pdm_profile_primary_secret(&pp, g->client, &g->secret) != 0 ||
                    pdm_profile_tx_start(&g->tx[0], &g->secret, &g->t[0], 0, t0) != 0 ||
                    pdm_profile_tx_start(&g->tx[1], &g->secret, &g->t[1], 0, t0) != 0)) {
            fprintf(stderr, "bench_gencap: key setup failed\n");
            return 1;
        }
    }
    if (tool_pcapw_open(&w, argv[1], TOOL_PCAPW_LINKTYPE_ETHERNET) != 0) {
        perror(argv[1]);
        return 1;
    }
    for (uint64_t i = 0; i < n; i++) {
        struct gflow *g = &fl[(i / 2) % FLOWS];
        unsigned d = (unsigned)(i & 1);
        const struct pdm_flow_tuple *t = &g->t[d];
        struct pdm_fields f;
        struct pdm_option o;
        uint8_t opt[PDM_OPTSIZE_MAX], *ip = frame + 14, *ul = ip + PDM_IPV6_HDR_SIZE;
        size_t len = PDM_IPV6_HDR_SIZE + 8 + PAYLOAD;
        uint64_t now = t0 + i * 1000;
        ssize_t ol;

        memset(&f, 0, sizeof f);
        f.psntp = g->psn[d]++;
        if (i >= 2 * FLOWS || d == 1) {
            f.psnlr = (uint16_t)(g->psn[d ^ 1] - 1);
            pdm_time_encode_ns(d ? 20000 + bench_rand(&rng) % 80000 : 1000000 + i % 5000,
                               &f.delta_tlr, &f.scale_dtlr);
            if (d == 0)
                pdm_time_encode_ns(5000000 + bench_rand(&rng) % 1000000, &f.delta_tls,
                                   &f.scale_dtls);
        }
        f.global_pointer = pdm_gp_next(d ? &server_gp : &g->gp, t->src);
        if (enc) {
            if ((ol = pdm_profile_tx_seal(&g->tx[d], &g->secret, t, &pol, now, PDM_OPT_TYPE, &f,
                                          opt, sizeof opt)) < 0) {
                fprintf(stderr, "bench_gencap: seal: %s\n", pdm_strerror((int)ol));
                return 1;
            }
        } else {
            memset(&o, 0, sizeof o);
            o.type = PDM_OPT_TYPE;
            o.format = PDM_FORMAT_V2;
            o.rn = (uint16_t)(1 + bench_rand(&rng) % PDM_RN_MAX);
            o.fields = f;
            if ((ol = pdm_option_encode(opt, sizeof opt, &o)) < 0)
                return 1;
        }
        memset(frame, 0, 14 + len);
        memcpy(frame, d ? mac_c : mac_s, 6);
        memcpy(frame + 6, d ? mac_s : mac_c, 6);
        pdm_put_u16be(frame + 12, 0x86dd);
        ip[0] = 0x60;
        pdm_put_u16be(ip + 4, 8 + PAYLOAD);
        ip[6] = PDM_NH_UDP;
        ip[7] = 64;
        memcpy(ip + 8, t->src, 16);
        memcpy(ip + 24, t->dst, 16);
        pdm_put_u16be(ul, t->sport);
        pdm_put_u16be(ul + 2, t->dport);
        pdm_put_u16be(ul + 4, 8 + PAYLOAD);
        pdm_put_u64be(ul + 8, i);
        if (pdm_pkt_insert(ip, &len, sizeof frame - 14, opt, (size_t)ol, NULL) < 0)
            return 1;
        if (tool_pcapw_write(&w, now, frame, 14 + len) != 0) {
            perror(argv[1]);
            return 1;
        }
    }
    if (tool_pcapw_close(&w) != 0) {
        perror(argv[1]);
        return 1;
    }
    for (unsigned i = 0; i < FLOWS; i++) {
        pdm_profile_tx_clear(&fl[i].tx[0]);
        pdm_profile_tx_clear(&fl[i].tx[1]);
        pdm_profile_secret_wipe(&fl[i].secret);
    }
    pdm_profile_primary_wipe(&pp);
    free(fl);
    return 0;
}
