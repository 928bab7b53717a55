/*
 * tools/agent/metrics.c without a socket: the [ADDR]:PORT parser, and the
 * page after known records (bucket placement, cumulative buckets, +Inf,
 * _count and _sum, the peer label, records that must give no sample).
 */
#include "harness.h"

#include "agent/agent.h"
#include "agent/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>

static void test_parse_addr(void)
{
    struct sockaddr_storage ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    char err[128];
    unsigned len = 0;
    uint8_t lo6[16] = {0};

    lo6[15] = 1;
    CHECK_INT(agent_metrics_parse_addr("[::1]:9464", &ss, sizeof ss, &len, err, sizeof err), 0);
    CHECK(ss.ss_family == AF_INET6 && len == sizeof *s6 && ntohs(s6->sin6_port) == 9464);
    CHECK(memcmp(&s6->sin6_addr, lo6, 16) == 0);
    CHECK_INT(agent_metrics_parse_addr(":80", &ss, sizeof ss, &len, err, sizeof err), 0);
    CHECK(ss.ss_family == AF_INET6 && ntohs(s6->sin6_port) == 80);
    CHECK(memcmp(&s6->sin6_addr, &in6addr_any, 16) == 0);
    CHECK_INT(agent_metrics_parse_addr("127.0.0.1:65535", &ss, sizeof ss, &len, err, sizeof err),
              0);
    CHECK(ss.ss_family == AF_INET && len == sizeof *s4 && ntohs(s4->sin_port) == 65535);
    CHECK(s4->sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    /* Refused: no port, port 0 or too big, bare IPv6, junk. */
    CHECK_INT(agent_metrics_parse_addr("[::1]", &ss, sizeof ss, &len, err, sizeof err), -1);
    CHECK(strstr(err, "[ADDR]:PORT") != NULL);
    CHECK_INT(agent_metrics_parse_addr("[::1]:0", &ss, sizeof ss, &len, err, sizeof err), -1);
    CHECK_INT(agent_metrics_parse_addr(":65536", &ss, sizeof ss, &len, err, sizeof err), -1);
    CHECK_INT(agent_metrics_parse_addr("::1:9464", &ss, sizeof ss, &len, err, sizeof err), -1);
    CHECK_INT(agent_metrics_parse_addr("host:9464", &ss, sizeof ss, &len, err, sizeof err), -1);
    CHECK_INT(agent_metrics_parse_addr("[::1]:94x", &ss, sizeof ss, &len, err, sizeof err), -1);
}

/* The value of the page line that starts with key (then a space). */
static int page_value(const char *page, const char *key, double *v)
{
    size_t n = strlen(key);
    for (const char *p = page; p != NULL && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, key, n) == 0 && p[n] == ' ')
            return sscanf(p + n + 1, "%lf", v) == 1 ? 0 : -1;
    }
    return -1;
}

static void test_page(void)
{
    static struct agent_rt rt;
    struct agent_config cfg;
    struct agent_peer p;
    struct agent_record rec;
    char err[128], *page = NULL;
    size_t len = 0;
    double v;
    FILE *f;

    agent_config_init(&cfg);
    memset(&p, 0, sizeof p);
    CHECK_INT(agent_peer_parse_prefix(&p, "2001:db8:1::/64", err, sizeof err), 0);
    CHECK_INT(agent_config_add_peer(&cfg.core, &p, err, sizeof err), 0);
    CHECK_INT(agent_peer_parse_prefix(&p, "2001:db8:2::7", err, sizeof err), 0);
    CHECK_INT(agent_config_add_peer(&cfg.core, &p, err, sizeof err), 0);
    memset(&rt, 0, sizeof rt);
    rt.cfg = &cfg;
    pthread_mutex_init(&rt.rec_lock, NULL);
    rt.metrics = agent_metrics_new(&cfg);
    CHECK(rt.metrics != NULL);
    if (rt.metrics == NULL)
        return;

    memset(&rec, 0, sizeof rec);
    rec.time_ns = 1;
    rec.rx = 1;
    rec.auth = -1;
    rec.peer = &cfg.core.peers[0];
    rec.f.psnlr = 5;
    rec.f.delta_tlr = 1; /* present: any of DeltaTLR, ScaleDTLR, PSNLR */
    /* Server delays 3 ms, 3 ms, 20 ms and 20 s (past the last bound),
     * spread over shards; round trips 40 us and exactly 1 ms (le is <=). */
    rec.rtd_ns = -1;
    rec.delta_tlr_ns = 3000000;
    agent_metrics_add(rt.metrics, 0, &rec);
    agent_metrics_add(rt.metrics, 5, &rec);
    rec.delta_tlr_ns = 20000000;
    rec.rtd_ns = 40000;
    agent_metrics_add(rt.metrics, 15, &rec);
    rec.delta_tlr_ns = 20000000000ull;
    rec.rtd_ns = 1000000;
    agent_metrics_add(rt.metrics, 3, &rec);
    /* No sample: sent, failed authentication, no peer, absent DeltaTLR. */
    rec.rx = 0;
    agent_metrics_add(rt.metrics, 0, &rec);
    rec.rx = 1;
    rec.auth = 0;
    agent_metrics_add(rt.metrics, 0, &rec);
    rec.auth = 1;
    rec.peer = NULL;
    agent_metrics_add(rt.metrics, 0, &rec);
    rec.peer = &cfg.core.peers[1];
    memset(&rec.f, 0, sizeof rec.f);
    rec.rtd_ns = -1;
    agent_metrics_add(rt.metrics, 0, &rec);

    f = open_memstream(&page, &len);
    CHECK(f != NULL);
    if (f == NULL)
        return;
    agent_metrics_write(f, &rt);
    fclose(f);
#define SD "pdm_server_delay_seconds"
#define P1 "{peer=\"2001:db8:1::/64\""
#define P2 "{peer=\"2001:db8:2::7/128\""
    CHECK(page_value(page, SD "_bucket" P1 ",le=\"0.0025\"}", &v) == 0 && v == 0);
    CHECK(page_value(page, SD "_bucket" P1 ",le=\"0.005\"}", &v) == 0 && v == 2);
    CHECK(page_value(page, SD "_bucket" P1 ",le=\"0.025\"}", &v) == 0 && v == 3);
    CHECK(page_value(page, SD "_bucket" P1 ",le=\"10\"}", &v) == 0 && v == 3);
    CHECK(page_value(page, SD "_bucket" P1 ",le=\"+Inf\"}", &v) == 0 && v == 4);
    CHECK(page_value(page, SD "_count" P1 "}", &v) == 0 && v == 4);
    CHECK(page_value(page, SD "_sum" P1 "}", &v) == 0 && v > 20.0259 && v < 20.0261);
    CHECK(page_value(page, SD "_count" P2 "}", &v) == 0 && v == 0);
    CHECK(page_value(page, "pdm_round_trip_delay_seconds_bucket" P1 ",le=\"2.5e-05\"}", &v) == 0 &&
          v == 0);
    CHECK(page_value(page, "pdm_round_trip_delay_seconds_bucket" P1 ",le=\"5e-05\"}", &v) == 0 &&
          v == 1);
    CHECK(page_value(page, "pdm_round_trip_delay_seconds_bucket" P1 ",le=\"0.001\"}", &v) == 0 &&
          v == 2);
    CHECK(page_value(page, "pdm_round_trip_delay_seconds_count" P1 "}", &v) == 0 && v == 2);
    /* The counters of --status, as counters. */
    CHECK(page_value(page, "pdm_agent_rx_logged_total", &v) == 0 && v == 0);
    CHECK(strstr(page, "# TYPE pdm_agent_rx_logged_total counter\n") != NULL);
    CHECK(strstr(page, "# TYPE pdm_agent_flows gauge\n") != NULL);
    CHECK(strstr(page, "# TYPE " SD " histogram\n") != NULL);
    CHECK(strstr(page, "pdm_agent_pid") == NULL);
    free(page);
    agent_metrics_stop(&rt);
    CHECK(rt.metrics == NULL);
    pthread_mutex_destroy(&rt.rec_lock);
}

int main(void)
{
    RUN(test_parse_addr);
    RUN(test_page);
    return harness_done();
}
