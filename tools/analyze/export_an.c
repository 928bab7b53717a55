/*
 * `pdm analyze --ipfix`: one IPFIX record per flow of the capture (the
 * whole capture is one interval), built from the same accumulators that
 * --format json prints (docs/export.md).
 */
#include "analyze.h"
#include "common/export.h"
#include "common/tools.h"

#include <inttypes.h>
#include <string.h>

static void rec_of(struct exp_rec *r, const struct an_flow *f)
{
    const struct pdm_metrics_stat *st[EXP_KINDS] = {&f->m.server_delay, &f->m.client_delay,
                                                    &f->m.rtd};
    memset(r, 0, sizeof *r);
    r->tup = f->tup;
    r->start_ns = f->first_ns;
    r->end_ns = f->last_ns;
    r->packets = f->packets;
    for (unsigned d = 0; d < 2; d++) {
        r->lost += f->dir[d].lost;
        r->reordered += f->dir[d].reordered;
        r->duplicates += f->dir[d].duplicates;
        r->auth_failures += f->dir[d].auth_failures;
    }
    for (int k = 0; k < EXP_KINDS; k++)
        exp_stat_from(&r->delay[k], st[k]);
}

int an_export_ipfix(const struct an_ctx *a, const struct ipfix_opts *o)
{
    struct exp_rec r;
    struct ipfix *x;
    uint64_t sent, dropped;
    char err[256];
    int rv;

    if ((rv = ipfix_open(&x, o, err, sizeof err)) != 0) {
        tool_err("analyze: --ipfix %s: %s", o->dest, err);
        return rv == PDM_ERR_INVAL ? 2 : 1;
    }
    for (size_t i = 0; i < a->nflows; i++) {
        rec_of(&r, a->flows[i]);
        ipfix_add(x, &r);
        if ((i + 1) % 4096 == 0)
            ipfix_flush(x);
    }
    ipfix_drain(x, 5000);
    ipfix_counters(x, &sent, &dropped);
    ipfix_close(x);
    if (dropped) {
        tool_err("analyze: --ipfix %s: %" PRIu64 " of %" PRIu64 " records not sent", o->dest,
                 dropped, sent + dropped);
        return 1;
    }
    return 0;
}
