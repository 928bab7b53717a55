/*
 * Fleet export (docs/export.md): per-flow aggregates of PDM packets, and
 * the IPFIX exporter that sends them (tools/common/ipfix.c, libfixbuf).
 *
 * The aggregator is deliberately small, four calls, so that other
 * consumers (the Prometheus endpoint) read the same records:
 *
 *   exp_agg_new(&g, max_flows);
 *   packet threads:  exp_agg_add(g, &tuple_as_sent, ts_ns, &fields or NULL);
 *   one thread, every interval:  exp_agg_flush(g, now_ns, idle_ns, final, fn, arg);
 *                    fn gets one struct exp_rec per flow that had packets
 *                    in the interval (the interval's deltas)
 *   exp_agg_free(g);
 *
 * Flow roles and delays follow `pdm analyze` (docs/analysis.md): the end
 * that sent the flow's first PDM packet is the client; pdm_metrics_update()
 * derives the delays, loss, reordering and duplicates, and an option
 * behind the highest PSN gives no delay. So summed over its intervals, a
 * flow's records equal what `pdm analyze --format json` says of the same
 * packets. The aggregator has its own lock: exp_agg_add() may be called
 * from several threads at once.
 *
 * Functions return 0 or a negative PDM_ERR_* code.
 */
#ifndef PDM_TOOLS_EXPORT_H
#define PDM_TOOLS_EXPORT_H

#include <pdm/codec.h>
#include <pdm/flow.h>
#include <pdm/metrics.h>

#include <stddef.h>
#include <stdint.h>

/* Delay kinds of exp_rec.delay[]. */
enum { EXP_SERVER_DELAY = 0, EXP_CLIENT_DELAY = 1, EXP_RTD = 2, EXP_KINDS = 3 };

/* Count, sum, min, max of one delay kind in ns; min and max are 0 when
 * count is 0. The sum saturates at 2^64-1 (some 584 years). */
struct exp_stat {
    uint64_t count, sum, min, max;
};

/* One flow over one interval. */
struct exp_rec {
    struct pdm_flow_tuple tup; /* client -> server */
    uint64_t start_ns, end_ns; /* first and last packet of the interval */
    uint64_t packets;          /* PDM packets, both directions */
    uint64_t lost, reordered, duplicates, auth_failures;
    struct exp_stat delay[EXP_KINDS];
};

/* Fills s from an exact accumulator (saturating its 128-bit sum). */
void exp_stat_from(struct exp_stat *s, const struct pdm_metrics_stat *st);

struct exp_agg;

/* Allocates an aggregator for at most max_flows flows at once (packets of
 * further flows are dropped, counted by exp_agg_dropped()). Returns 0 or
 * PDM_ERR_NOMEM. */
int exp_agg_new(struct exp_agg **out, size_t max_flows);

/* Frees it (NULL is fine). */
void exp_agg_free(struct exp_agg *g);

/* Accounts one PDM packet observed at ts_ns; tup as it travelled (tup->src
 * sent it); f its fields, or NULL when it failed authentication. Returns 0
 * or PDM_ERR_FULL (no room for a new flow). */
int exp_agg_add(struct exp_agg *g, const struct pdm_flow_tuple *tup, uint64_t ts_ns,
                const struct pdm_fields *f);

typedef void (*exp_emit_fn)(void *arg, const struct exp_rec *r);

/* Calls fn (outside the aggregator's lock) for each flow with packets
 * since the last flush, then forgets flows idle for idle_ns or more (their
 * last record reports the PSNs still missing as lost). final: every flow
 * ends (the process stops). One thread at a time. Returns the number of
 * records, or PDM_ERR_NOMEM. */
int exp_agg_flush(struct exp_agg *g, uint64_t now_ns, uint64_t idle_ns, int final, exp_emit_fn fn,
                  void *arg);

/* Packets dropped because the flow table was full. */
uint64_t exp_agg_dropped(struct exp_agg *g);

/* ---- IPFIX (tools/common/ipfix.c) ------------------------------------------ */

/* The Private Enterprise Number of the enterprise IEs when none is given:
 * the documentation PEN of RFC 5612 (docs/export.md). */
#define IPFIX_DEFAULT_PEN 32473u

struct ipfix_opts {
    const char *dest; /* HOST:PORT of the collector */
    int tcp;          /* 0 UDP, 1 TCP */
    uint32_t pen;     /* 0: IPFIX_DEFAULT_PEN */
    uint32_t domain;  /* observation domain ID */
};

struct ipfix;

/* --ipfix-transport (name "transport": udp or tcp) or --ipfix-pen ("pen":
 * 1..2^32-1) into o. Returns 0 or -1 after saying why, as "who: ...". */
int ipfix_parse_option(struct ipfix_opts *o, const char *name, const char *val, const char *who);

/* Resolves o->dest and sets up the session (templates, RFC 5610 type
 * records); the socket is non-blocking (TCP connects in the background).
 * Returns 0, PDM_ERR_INVAL (bad destination, err says why),
 * PDM_ERR_UNSUPPORTED (built without libfixbuf), PDM_ERR_SYSTEM. */
int ipfix_open(struct ipfix **out, const struct ipfix_opts *o, char *err, size_t errlen);

/* Encodes one record (sent by the next ipfix_flush()). Returns 0 or
 * PDM_ERR_SYSTEM (libfixbuf failed: the record counts as dropped). */
int ipfix_add(struct ipfix *x, const struct exp_rec *r);

/* Sends what was encoded, never blocking: what the socket does not take
 * (collector down, TCP not connected, buffers full) is dropped, counted.
 * Re-sends the templates at the start of every TCP connection and with
 * every UDP flush. */
void ipfix_flush(struct ipfix *x);

/* Records handed to the socket, and dropped. */
void ipfix_counters(const struct ipfix *x, uint64_t *sent, uint64_t *dropped);

/* Flushes, waiting up to wait_ms for a TCP connection and for the socket
 * to take everything (what is left then is dropped, counted). For a
 * process that stops, before ipfix_counters() and ipfix_close(). */
void ipfix_drain(struct ipfix *x, int wait_ms);

/* Frees (NULL is fine); what was not flushed is lost. */
void ipfix_close(struct ipfix *x);

/* exp_emit_fn that hands each record to the struct ipfix * in arg. */
void ipfix_emit(void *arg, const struct exp_rec *r);

#endif /* PDM_TOOLS_EXPORT_H */
