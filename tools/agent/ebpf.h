/*
 * The loader of the tc-eBPF data path (ebpf.c, docs/agent.md "Fast path"):
 * `pdm agent --datapath ebpf|auto` loads bpf/pdm.bpf.c through its libbpf
 * skeleton, attaches it with TCX links to the interfaces that route to
 * the peers, and turns its ring-buffer events into the same records and
 * its counters into the same `--status` lines as the NFQUEUE path.
 */
#ifndef PDM_TOOLS_AGENT_EBPF_H
#define PDM_TOOLS_AGENT_EBPF_H

#include "agent.h"

struct agent_ebpf;

/* 1 when this build has the fast path (the skeleton was built). */
int agent_ebpf_built(void);

/*
 * Picks the data path of rt->cfg->datapath. For ebpf or auto: loads and
 * attaches the programs, then rt->ebpf is set. Returns 1 (the fast path
 * runs), 0 (use NFQUEUE: asked for, or auto and the fast path cannot run
 * here; the reason printed) or -1 (--datapath ebpf and it cannot run:
 * message printed). Says on stderr which one it is.
 */
int agent_ebpf_select(struct agent_rt *rt);

/* Starts the fast path's own threads (v2-encrypted's key thread), once
 * the privileges are dropped and the main seccomp filter is in, so that
 * they inherit both. 0, or -1 said why on stderr. Nothing (0) without the
 * fast path. */
int agent_ebpf_run(struct agent_rt *rt);

/* Main thread, every loop: ring-buffer events into records, IPFIX flows
 * and metrics. */
void agent_ebpf_tick(struct agent_rt *rt);

/* `--status` lines of the fast path (the NFQUEUE path's format). */
void agent_ebpf_status_write(FILE *f, struct agent_rt *rt);

/* Detaches (the links closed), reads the last events, frees. */
void agent_ebpf_close(struct agent_rt *rt);

#endif /* PDM_TOOLS_AGENT_EBPF_H */
