/*
 * `pdm agent --metrics [ADDR]:PORT`: a Prometheus endpoint (text format
 * 0.0.4 on /metrics, served by libmicrohttpd) with the counters of
 * `pdm agent --status` and, per configured peer prefix, histograms of the
 * server delay (the peer's DeltaTLR) and of our round trip to it
 * (docs/export.md). Built without libmicrohttpd (mk/prom.mk), --metrics
 * is refused with a message; the rest works the same.
 *
 * Cost on the packet path: agent_metrics_add(), under the shard lock the
 * queue thread already holds, adds to that shard's own histograms (a
 * bucket found by a binary search over 22 bounds, two relaxed stores); no
 * lock, no atomic read-modify-write, no shared cache line. The HTTP
 * thread only reads them (relaxed loads, summed over the shards).
 */
#ifndef PDM_TOOLS_AGENT_METRICS_H
#define PDM_TOOLS_AGENT_METRICS_H

#include "agent.h"

#include <stddef.h>
#include <stdint.h>

/* Histogram upper bounds: 1, 2.5, 5 per decade from 1 us to 10 s. */
#define AGENT_METRICS_BOUNDS 22

/* Parses "[ADDR]:PORT" (ADDR: an IPv4 address, an IPv6 one in brackets,
 * or nothing for every address, IPv6 and IPv4) into *ss and *sslen.
 * Returns 0 or -1 with a message in err. */
int agent_metrics_parse_addr(const char *text, void *ss, size_t sscap, unsigned *sslen, char *err,
                             size_t errlen);

/* Histograms for cfg's peers, all empty, no socket (benchmarks and
 * tests use them alone; agent_metrics_listen() makes rt's). NULL when out
 * of memory. */
struct agent_metrics *agent_metrics_new(const struct agent_config *cfg);

/* Stops the HTTP thread if any, closes the socket, frees m (NULL: no-op). */
void agent_metrics_free(struct agent_metrics *m);

/* Main thread, before the privileges go (a port below 1024 needs
 * CAP_NET_BIND_SERVICE): with cfg->metrics_addr, allocates rt->metrics
 * and binds its listening socket. Returns 0 (also without --metrics), or
 * -1 with a message on stderr. */
int agent_metrics_listen(struct agent_rt *rt);

/* After the privileges went (so that the HTTP thread has only what the
 * others keep): starts the HTTP thread. Returns 0 (also without
 * --metrics), or -1 with a message on stderr. */
int agent_metrics_start(struct agent_rt *rt);

/* Packet path, shard `shard`'s lock held: accounts an ingress record of
 * a peer (its server delay and round trip). m NULL: nothing. */
void agent_metrics_add(struct agent_metrics *m, unsigned shard, const struct agent_record *rec);

/* Writes the /metrics page to f: counters, then histograms. */
void agent_metrics_write(FILE *f, struct agent_rt *rt);

/* Stops the HTTP thread, closes the socket, frees rt->metrics. */
void agent_metrics_stop(struct agent_rt *rt);

#endif /* PDM_TOOLS_AGENT_METRICS_H */
