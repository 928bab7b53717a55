/*
 * `pdm agent --ipfix HOST:PORT` (docs/export.md): the queue threads hand
 * each record's PDM fields to the flow aggregator (tools/common/export.c,
 * a memcpy-sized update under its own lock, no I/O); every
 * --ipfix-interval seconds the main thread flushes it into the IPFIX
 * exporter (tools/common/ipfix.c), which never blocks: a collector that is
 * down costs records (ipfix_dropped in --status), never packets. The
 * aggregator tracks as many flows as the agent (--flows; some 700 bytes
 * each), packets of more are counted in ipfix_flows_dropped.
 */
#include "agent.h"

#include "common/export.h"
#include "common/tools.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define IPFIX_DEFAULT_INTERVAL 60

struct agent_ipfix {
    struct exp_agg *agg;
    struct ipfix *x;
    uint64_t next_ns, interval_ns;
};

int agent_ipfix_set(struct agent_config *cfg, const char *k, const char *val, char *err,
                    size_t errlen)
{
    struct agent_ipfix_cfg *c = &cfg->ipfix;
    uint64_t v;

    if (!strcmp(k, "ipfix")) {
        if (strlen(val) >= sizeof c->dest)
            return tool_fail(err, errlen, "ipfix '%s' is too long", val);
        strcpy(c->dest, val);
    } else if (!strcmp(k, "ipfix-interval")) {
        if (tool_parse_uint(val, 1, 86400, &v) != 0)
            return tool_fail(err, errlen, "ipfix-interval '%s' is not 1..86400 seconds", val);
        c->interval_s = (unsigned)v;
    } else if (!strcmp(k, "ipfix-pen")) {
        if (tool_parse_uint(val, 1, UINT32_MAX, &v) != 0)
            return tool_fail(err, errlen, "ipfix-pen '%s' is not 1..4294967295", val);
        c->pen = (uint32_t)v;
    } else if (!strcmp(k, "ipfix-transport")) {
        if (strcmp(val, "udp") && strcmp(val, "tcp"))
            return tool_fail(err, errlen, "ipfix-transport '%s' is not udp or tcp", val);
        c->tcp = !strcmp(val, "tcp");
    } else {
        return tool_fail(err, errlen, "unknown setting '%s'", k);
    }
    return 0;
}

int agent_ipfix_open(struct agent_rt *rt)
{
    const struct agent_ipfix_cfg *c = &rt->cfg->ipfix;
    struct ipfix_opts o = {c->dest, c->tcp, c->pen, 0};
    struct agent_ipfix *ai;
    char err[256];
    int rv;

    if (c->dest[0] == '\0')
        return 0;
    if (!(ai = calloc(1, sizeof *ai)) || exp_agg_new(&ai->agg, rt->cfg->core.flow_capacity) != 0) {
        free(ai);
        tool_err("agent: out of memory for --ipfix");
        return -1;
    }
    if ((rv = ipfix_open(&ai->x, &o, err, sizeof err)) != 0) {
        tool_err("agent: --ipfix %s: %s", c->dest, err);
        exp_agg_free(ai->agg);
        free(ai);
        return -1;
    }
    ai->interval_ns =
        (uint64_t)(c->interval_s ? c->interval_s : IPFIX_DEFAULT_INTERVAL) * 1000000000u;
    rt->ipfix = ai;
    return 0;
}

void agent_ipfix_add(struct agent_rt *rt, const struct agent_record *rec)
{
    if (rt->ipfix == NULL || rec->time_ns == 0)
        return;
    exp_agg_add(rt->ipfix->agg, &rec->tup, rec->time_ns, rec->auth == 0 ? NULL : &rec->f);
}

void agent_ipfix_tick(struct agent_rt *rt, uint64_t now_ns)
{
    struct agent_ipfix *ai = rt->ipfix;

    if (ai == NULL)
        return;
    if (ai->next_ns == 0)
        ai->next_ns = now_ns + ai->interval_ns;
    if (now_ns >= ai->next_ns) {
        ai->next_ns = now_ns + ai->interval_ns;
        exp_agg_flush(ai->agg, now_ns, rt->cfg->core.idle_timeout_ns, 0, ipfix_emit, ai->x);
    }
    ipfix_flush(ai->x); /* moves a TCP connection on */
}

void agent_ipfix_close(struct agent_rt *rt, uint64_t now_ns)
{
    struct agent_ipfix *ai = rt->ipfix;

    if (ai == NULL)
        return;
    exp_agg_flush(ai->agg, now_ns, 0, 1, ipfix_emit, ai->x);
    ipfix_drain(ai->x, 1000);
    if (rt->cfg->verbose)
        agent_ipfix_status(stderr, rt);
    ipfix_close(ai->x);
    exp_agg_free(ai->agg);
    free(ai);
    rt->ipfix = NULL;
}

void agent_ipfix_status(FILE *f, struct agent_rt *rt)
{
    uint64_t sent, dropped;

    if (rt->ipfix == NULL)
        return;
    ipfix_counters(rt->ipfix->x, &sent, &dropped);
    fprintf(f,
            "ipfix_sent %" PRIu64 "\nipfix_dropped %" PRIu64 "\nipfix_flows_dropped %" PRIu64 "\n",
            sent, dropped, exp_agg_dropped(rt->ipfix->agg));
}
