/*
 * The loader of the tc-eBPF data path (bpf/pdm.bpf.c; docs/agent.md "The
 * tc-eBPF fast path"): `pdm agent --datapath ebpf|auto`.
 *
 *   load     the skeleton (build/bpf/pdm.skel.h, mk/bpf.mk) opened, its
 *            .rodata set from the configuration (option type, PSN window,
 *            MSS clamp, records on/off), the LRU flow map sized by --flows
 *   peers    the --peer prefixes into the LPM trie with their modes
 *   attach   egress and ingress of every interface a peer prefix routes
 *            through (RTM_GETROUTE), as TCX bpf_links: a link lives as long
 *            as its file descriptor, so an agent killed with SIGKILL leaves
 *            nothing attached and traffic flows on unmarked
 *   records  ring-buffer events (when --records, --ipfix or --metrics
 *            wants them), on the main thread: the records file's lines by
 *            records.c (the same format as NFQUEUE's), the IPFIX flows,
 *            the metrics' histograms (shard 0's: no queue thread runs)
 *   status   the per-CPU counters summed, in `--status`'s format
 *
 * libbpf 1.1 (Debian 12) has no bpf_program__attach_tcx(): the links are
 * made with bpf_link_create() and the attach types' numbers, which the
 * kernel (6.6 and later) knows whatever the headers say.
 *
 * Without the skeleton (no clang, bpftool, libbpf or kernel BTF at build
 * time: mk/ebpf.mk does not define PDM_AGENT_EBPF) only the selection is
 * here: auto means NFQUEUE, ebpf is refused.
 */
#include "ebpf.h"

#include "common/tools.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef PDM_AGENT_EBPF

int agent_ebpf_built(void)
{
    return 0;
}

int agent_ebpf_select(struct agent_rt *rt)
{
    const struct agent_config *cfg = rt->cfg;

    if (cfg->datapath == AGENT_DP_EBPF) {
        tool_err("agent: --datapath ebpf: this build has no eBPF fast path (no BPF clang, "
                 "bpftool, libbpf or kernel BTF when it was built)");
        return -1;
    }
    if (cfg->datapath == AGENT_DP_AUTO || cfg->verbose)
        fprintf(stderr, "pdm: agent: datapath nfqueue%s\n",
                cfg->datapath == AGENT_DP_AUTO ? " (auto: no eBPF fast path in this build)" : "");
    return 0;
}

int agent_ebpf_run(struct agent_rt *rt)
{
    (void)rt;
    return 0;
}

void agent_ebpf_tick(struct agent_rt *rt)
{
    (void)rt;
}

void agent_ebpf_status_write(FILE *f, struct agent_rt *rt)
{
    (void)f;
    (void)rt;
}

void agent_ebpf_close(struct agent_rt *rt)
{
    (void)rt;
}

#else /* PDM_AGENT_EBPF */

#include <linux/types.h>

#include "pdm_bpf.h"
#include "pdm.skel.h"
#include "ebpf_keys.h"
#include "metrics.h"

#include "gso.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <libmnl/libmnl.h>
#include <net/if_arp.h>
#include <pdm/time.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdarg.h>
#include <time.h>

/* The fast path counts what the NFQUEUE core counts at the same indices. */
_Static_assert(PDM_BPF_C_TX_MARKED == AGENT_C_TX_MARKED, "counter index");
_Static_assert(PDM_BPF_C_TX_EXCLUDED == AGENT_C_TX_EXCLUDED, "counter index");
_Static_assert(PDM_BPF_C_TX_MTU == AGENT_C_TX_MTU, "counter index");
_Static_assert(PDM_BPF_C_TX_NO_ROOM == AGENT_C_TX_NO_ROOM, "counter index");
_Static_assert(PDM_BPF_C_RX_SEEN == AGENT_C_RX_SEEN, "counter index");
_Static_assert(PDM_BPF_C_RX_LOGGED == AGENT_C_RX_LOGGED, "counter index");
_Static_assert(PDM_BPF_C_RX_RESYNC == AGENT_C_RX_RESYNC, "counter index");
_Static_assert(PDM_BPF_C_RX_NO_SECRET == AGENT_C_RX_NO_SECRET, "counter index");
_Static_assert(PDM_BPF_C_RX_MSS_CLAMPED == AGENT_C_RX_MSS_CLAMPED, "counter index");
_Static_assert(PDM_BPF_C_AGENT_MAX == AGENT_C_MAX, "counter index");
_Static_assert(PDM_BPF_C_MAX - PDM_BPF_C_AGENT_MAX == 5, "fast path counter names");

/* BPF_TCX_INGRESS / BPF_TCX_EGRESS (linux/bpf.h of 6.6), not in 1.1's. */
#define EBPF_TCX_INGRESS 46
#define EBPF_TCX_EGRESS  47
#define EBPF_IFACES_MAX  16
/* How often the peers' routes are looked up again (ifaces_follow()). */
#define EBPF_FOLLOW_NS   1000000000

static const char *const fast_names[PDM_BPF_C_MAX - PDM_BPF_C_AGENT_MAX] = {
    "gso_unmarked", "tx_unchanged_ext_headers", "ring_dropped", "tx_unchanged_encrypted",
    "gso_diverted",
};

struct agent_ebpf {
    struct pdm_bpf *skel;
    struct agent_ebpf_keys *ek; /* v2-encrypted: the key thread (ebpf_keys.c), else NULL */
    struct ring_buffer *ring;
    struct agent_rt *rt;
    unsigned ifindex[EBPF_IFACES_MAX];
    int links[EBPF_IFACES_MAX][2]; /* egress, ingress link fds; -1 none */
    unsigned nifaces;
    /* Interfaces a route took a peer to but that could not be attached
     * (said once each): not tried again. */
    unsigned refused[EBPF_IFACES_MAX];
    unsigned nrefused;
    int64_t followed_ns;  /* CLOCK_MONOTONIC of the last ifaces_follow() */
    int64_t mono_to_real; /* CLOCK_REALTIME - CLOCK_MONOTONIC, ns */
    unsigned since_check; /* events since the records buffer's room was checked */
    struct gso_pairs gso; /* the segmenting veth pairs (gso.c) */
    char scratch[AGENT_RECORD_MAX];
};

int agent_ebpf_built(void)
{
    return 1;
}

static const char *datapath_name(int dp)
{
    return dp == AGENT_DP_EBPF ? "ebpf" : dp == AGENT_DP_NFQUEUE ? "nfqueue" : "auto";
}

/* Why the fast path cannot carry this configuration (NULL: it can). */
static const char *ebpf_unsupported(const struct agent_config *cfg)
{
    if (cfg->passthrough)
        return "--passthrough measures NFQUEUE";
#ifndef PDM_BPF_V2ENC /* defined once bpf/ seals v2-encrypted (engineer bpfenc) */
    for (size_t i = 0; i < cfg->core.npeers; i++)
        if (cfg->core.peers[i].mode == PDM_FORMAT_V2_ENCRYPTED)
            return "v2-encrypted is not in the eBPF fast path yet";
#endif
    return NULL;
}

static int libbpf_verbose;

/* libbpf's messages (verifier logs and all) only with -vv: a failed load
 * under auto is one line, not a page. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    (void)level;
    if (libbpf_verbose < 2)
        return 0;
    return vfprintf(stderr, fmt, ap);
}

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int route_attr(const struct nlattr *a, void *arg)
{
    if (mnl_attr_get_type(a) == RTA_OIF && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
        *(unsigned *)arg = mnl_attr_get_u32(a);
    return MNL_CB_OK;
}

/* The output interface of the route to addr (RTM_GETROUTE), 0 if none. */
static unsigned route_oif(const uint8_t addr[16])
{
    char buf[8192];
    struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    struct rtmsg *rtm;
    unsigned oif = 0;
    ssize_t n;

    if (nl == NULL)
        return 0;
    nlh->nlmsg_type = RTM_GETROUTE;
    nlh->nlmsg_flags = NLM_F_REQUEST;
    nlh->nlmsg_seq = 1;
    rtm = mnl_nlmsg_put_extra_header(nlh, sizeof *rtm);
    rtm->rtm_family = AF_INET6;
    rtm->rtm_dst_len = 128;
    mnl_attr_put(nlh, RTA_DST, 16, addr);
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == 0 &&
        mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) >= 0 &&
        (n = mnl_socket_recvfrom(nl, buf, sizeof buf)) > 0) {
        struct nlmsghdr *r = (struct nlmsghdr *)buf;
        if (mnl_nlmsg_ok(r, (int)n) && r->nlmsg_type == RTM_NEWROUTE)
            mnl_attr_parse(r, sizeof(struct rtmsg), route_attr, &oif);
    }
    mnl_socket_close(nl);
    return oif;
}

/* 1 when ifindex is an Ethernet-framed device (the programs read the IPv6
 * header at offset 14): not the loopback, not a tunnel. */
static int iface_is_ether(unsigned ifindex)
{
    char name[IF_NAMESIZE], path[64 + IF_NAMESIZE];
    unsigned type = 0;
    FILE *f;

    if (if_indextoname(ifindex, name) == NULL)
        return 0;
    snprintf(path, sizeof path, "/sys/class/net/%s/type", name);
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    if (fscanf(f, "%u", &type) != 1)
        type = 0;
    fclose(f);
    return type == ARPHRD_ETHER;
}

/* At start: the Ethernet interface the peer p routes through, or 0 (said
 * on stderr: no route, or, verbose, not Ethernet). */
static unsigned peer_iface(const struct agent_peer *p, int verbose)
{
    unsigned oif = route_oif(p->prefix);
    char txt[64];

    if (oif != 0 && iface_is_ether(oif))
        return oif;
    if (verbose || oif == 0) {
        inet_ntop(AF_INET6, p->prefix, txt, sizeof txt);
        fprintf(stderr,
                "pdm: agent: peer %s/%u: %s; not on the fast path until a route takes it to "
                "an Ethernet interface\n",
                txt, (unsigned)p->plen,
                oif == 0 ? "no route" : "routed through a non-Ethernet interface");
    }
    return 0;
}

static int iface_known(const unsigned *list, unsigned n, unsigned ifindex)
{
    for (unsigned k = 0; k < n; k++)
        if (list[k] == ifindex)
            return 1;
    return 0;
}

/* The TCX links of both programs on ifindex, as interface e->nifaces.
 * Returns 0 or -1 with err (nothing left attached). */
static int attach_iface(struct agent_ebpf *e, unsigned ifindex, char *err, size_t errlen)
{
    const int progs[2] = {bpf_program__fd(e->skel->progs.pdm_egress),
                          bpf_program__fd(e->skel->progs.pdm_ingress)};
    const int types[2] = {EBPF_TCX_EGRESS, EBPF_TCX_INGRESS};
    unsigned i = e->nifaces;
    char name[IF_NAMESIZE] = "?";

    if_indextoname(ifindex, name);
    if (i >= EBPF_IFACES_MAX)
        return tool_fail(err, errlen, "%s: more than %d interfaces", name, EBPF_IFACES_MAX);
    for (int d = 0; d < 2; d++) {
        int fd = bpf_link_create(progs[d], (int)ifindex, (enum bpf_attach_type)types[d], NULL);
        if (fd < 0) {
            if (d == 1)
                close(e->links[i][0]);
            e->links[i][0] = -1;
            return tool_fail(err, errlen, "TCX %s link on %s: %s%s", d ? "ingress" : "egress", name,
                             strerror(-fd), fd == -EINVAL ? " (TCX needs Linux 6.6 or later)" : "");
        }
        e->links[i][d] = fd;
    }
    e->ifindex[i] = ifindex;
    e->nifaces++;
    return 0;
}

/* Fills the LPM trie of peers. Returns 0 or -errno. */
static int fill_peers(struct agent_ebpf *e, const struct agent_config *cfg)
{
    int fd = bpf_map__fd(e->skel->maps.peers);

    for (size_t i = 0; i < cfg->core.npeers; i++) {
        struct pdm_bpf_peer_key k;
        struct pdm_bpf_peer v;

        memset(&k, 0, sizeof k);
        memset(&v, 0, sizeof v);
        k.prefixlen = cfg->core.peers[i].plen;
        memcpy(k.addr, cfg->core.peers[i].prefix, 16);
        v.mode = (__u8)cfg->core.peers[i].mode;
        if (bpf_map_update_elem(fd, &k, &v, BPF_ANY) != 0)
            return -errno;
    }
    return 0;
}

/* Events between two looks at the records buffer's room, and the room
 * kept for them: 256 lines of at most AGENT_RECORD_MAX bytes (256 KiB of
 * the AGENT_REC_BUF). */
#define EBPF_ROOM_EVERY 256
#define EBPF_DRAIN_MAX  8 /* buffers written out per tick at most */

/* Whether the records buffer being filled has less room than the next
 * EBPF_ROOM_EVERY lines may take. */
static int records_nearly_full(struct agent_rt *rt)
{
    size_t len;

    pthread_mutex_lock(&rt->rec_lock);
    len = rt->rec_len[rt->rec_cur];
    pthread_mutex_unlock(&rt->rec_lock);
    return len + (size_t)EBPF_ROOM_EVERY * AGENT_RECORD_MAX > AGENT_REC_BUF;
}

/* One ring-buffer event: a record line, as records.c writes NFQUEUE's.
 * Returns -EAGAIN, after the record, when the records buffer is nearly
 * full: libbpf then stops with this event consumed, and drain() writes the
 * buffer out before it takes more. */
static int on_event(void *ctx, void *data, size_t len)
{
    struct agent_ebpf *e = ctx;
    const struct pdm_bpf_event *ev = data;
    struct agent_record r;

    if (len < sizeof *ev)
        return 0;
    memset(&r, 0, sizeof r);
    r.time_ns = (uint64_t)((int64_t)ev->time_ns + e->mono_to_real);
    r.rx = ev->rx;
    memcpy(r.tup.src, ev->src, 16);
    memcpy(r.tup.dst, ev->dst, 16);
    r.tup.sport = ev->sport;
    r.tup.dport = ev->dport;
    r.tup.proto = ev->proto;
    r.format = (enum pdm_format)ev->format;
    r.f.scale_dtlr = ev->scale_dtlr;
    r.f.scale_dtls = ev->scale_dtls;
    r.f.global_pointer = ev->global_pointer;
    r.f.psntp = ev->psntp;
    r.f.psnlr = ev->psnlr;
    r.psntp32 = ev->psntp32; /* v2-14 (bpf/pdm_v214.h); 0 otherwise */
    r.psnlr32 = ev->psnlr32;
    r.f.delta_tlr = ev->delta_tlr;
    r.f.delta_tls = ev->delta_tls;
    r.delta_tlr_ns = pdm_time_decode_ns(ev->delta_tlr, ev->scale_dtlr);
    r.delta_tls_ns = pdm_time_decode_ns(ev->delta_tls, ev->scale_dtls);
    r.auth = -1;
    r.rtd_ns = -1;
    if (r.rx) {
        r.peer = agent_config_peer(&e->rt->cfg->core, ev->src);
        /* core.c's rx_rtd(): a sample when the PSNLR named our last send
         * (since_sent_ns) and the peer's DeltaTLR is not absent. */
        if (ev->since_sent_ns != 0 &&
            (ev->delta_tlr != 0 || ev->scale_dtlr != 0 || ev->psnlr != 0) &&
            r.delta_tlr_ns <= ev->since_sent_ns)
            r.rtd_ns = (int64_t)(ev->since_sent_ns - r.delta_tlr_ns);
    }
    agent_records_add(e->rt, &r, e->scratch, sizeof e->scratch);
    agent_ipfix_add(e->rt, &r);
    agent_metrics_add(e->rt->metrics, 0, &r);
    if (++e->since_check >= EBPF_ROOM_EVERY) {
        e->since_check = 0;
        if (records_nearly_full(e->rt))
            return -EAGAIN;
    }
    return 0;
}

/* What the ring holds, into the records file. Under a flood the programs
 * add records as fast as one drain takes them (ring_buffer__consume()
 * returns only when the ring is empty), which once filled the 8 MiB
 * buffer within a tick and lost the rest in records_errors (a 1 s flood of
 * 367,000 marked packets: 27,000 records written). So the buffer is
 * written out each time it is nearly full, EBPF_DRAIN_MAX times a tick at
 * most, so that the main loop still serves signals and --status; what is
 * left waits in the ring for the next tick (52,000 records of room, 50 ms
 * of a million a second). */
static void drain(struct agent_ebpf *e)
{
    for (int i = 0; i < EBPF_DRAIN_MAX; i++) {
        if (ring_buffer__consume(e->ring) != -EAGAIN)
            return;
        agent_records_flush(e->rt);
    }
}

static void ebpf_free(struct agent_ebpf *e)
{
    gso_pairs_detach(&e->gso);
    for (unsigned i = 0; i < e->nifaces; i++)
        for (int d = 0; d < 2; d++)
            if (e->links[i][d] >= 0)
                close(e->links[i][d]);
    ring_buffer__free(e->ring);
    agent_ebpf_keys_stop(e->ek);
    pdm_bpf__destroy(e->skel);
    free(e);
}

/* Whether the programs send events: the records file, the IPFIX export
 * and the metrics' histograms are made from them. Without any, a packet
 * costs no ring-buffer write. */
static int events_wanted(const struct agent_config *cfg)
{
    return cfg->records_path != NULL || cfg->ipfix.dest[0] != '\0' || cfg->metrics_addr != NULL;
}

/* Opens, configures and loads the programs. Returns 0 or -1 with err. */
static int ebpf_load(struct agent_ebpf *e, const struct agent_config *cfg, char *err, size_t errlen)
{
    int rv;

    if ((e->skel = pdm_bpf__open()) == NULL)
        return tool_fail(err, errlen, "cannot open the BPF object: %s", strerror(errno));
    e->skel->rodata->cfg_opt_type = cfg->core.opt_type;
    e->skel->rodata->cfg_psn_window = cfg->core.psn_window;
    e->skel->rodata->cfg_clamp_mss = (__u8)(cfg->core.clamp_mss != 0);
    e->skel->rodata->cfg_events = (__u8)events_wanted(cfg);
    if ((rv = bpf_map__set_max_entries(e->skel->maps.flows, (__u32)cfg->core.flow_capacity)) != 0)
        return tool_fail(err, errlen, "flow map size: %s", strerror(-rv));
    if ((rv = agent_ebpf_keys_size(e->skel->obj, &cfg->core)) != 0)
        return tool_fail(err, errlen, "v2-encrypted key maps: %s", pdm_strerror(rv));
    if ((rv = pdm_bpf__load(e->skel)) != 0)
        return tool_fail(
            err, errlen, "the kernel did not load the programs: %s%s", strerror(-rv),
            rv == -EPERM || rv == -EACCES ? " (needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN)" : "");
    if (e->rt->keys != NULL &&
        (rv = agent_ebpf_keys_start(&e->ek, e->skel->obj, e->rt->keys, &cfg->core)) != 0)
        return tool_fail(err, errlen, "v2-encrypted keys: %s", pdm_strerror(rv));
    if ((rv = fill_peers(e, cfg)) != 0)
        return tool_fail(err, errlen, "peer map: %s", strerror(-rv));
    if (events_wanted(cfg) &&
        (e->ring = ring_buffer__new(bpf_map__fd(e->skel->maps.events), on_event, e, NULL)) == NULL)
        return tool_fail(err, errlen, "ring buffer: %s", strerror(errno));
    return 0;
}

/* TCX links on every interface a peer routes through (each once), then
 * the segmenting pairs. Returns 0 or -1 with err. */
static int ebpf_attach(struct agent_ebpf *e, const struct agent_config *cfg, char *err,
                       size_t errlen)
{
    unsigned found[EBPF_IFACES_MAX], n = 0;

    for (unsigned i = 0; i < EBPF_IFACES_MAX; i++)
        e->links[i][0] = e->links[i][1] = -1;
    for (size_t i = 0; i < cfg->core.npeers; i++) {
        unsigned oif = peer_iface(&cfg->core.peers[i], cfg->verbose);
        char name[IF_NAMESIZE] = "?";

        if (oif == 0)
            continue;
        if (!iface_known(found, n, oif) && n < EBPF_IFACES_MAX)
            found[n++] = oif;
        if (cfg->verbose)
            fprintf(stderr, "pdm: agent: peer %u routes through %s\n", (unsigned)i,
                    if_indextoname(oif, name) ? name : "?");
    }
    if (n == 0)
        return tool_fail(err, errlen, "no peer routes through an Ethernet interface");
    for (unsigned i = 0; i < n; i++)
        if (attach_iface(e, found[i], err, errlen) != 0)
            return -1;
    /* One PSN per TCP segment (docs/agent.md "GSO"); without the pairs
     * super-packets go out unmarked and counted, nothing else changes. */
    if (gso_pairs_attach(&e->gso, bpf_map__fd(e->skel->maps.gso_ifs),
                         bpf_program__fd(e->skel->progs.pdm_gso_seg), e->ifindex, e->nifaces, err,
                         errlen) != 0)
        fprintf(stderr, "pdm: agent: %s (TCP super-packets go out unmarked: gso_unmarked)\n", err);
    return 0;
}

/*
 * Main thread, every EBPF_FOLLOW_NS: the peers' routes looked up again; an
 * Ethernet interface one of them now takes that has no links yet (a route
 * changed, a device made after start) gets them and its segmenting pair,
 * said on stderr. Nothing is detached here: an interface no peer's route
 * uses any more carries no enabled flow (the programs look each packet's
 * peer up), and a deleted one takes its links with it.
 */
static void ifaces_follow(struct agent_ebpf *e)
{
    const struct agent_config *cfg = e->rt->cfg;
    char err[256], name[IF_NAMESIZE] = "?", txt[64];

    for (size_t i = 0; i < cfg->core.npeers; i++) {
        const struct agent_peer *p = &cfg->core.peers[i];
        unsigned oif = route_oif(p->prefix);

        /* The known ones first: no sysfs read for them each second. */
        if (oif == 0 || iface_known(e->ifindex, e->nifaces, oif) ||
            iface_known(e->refused, e->nrefused, oif) || !iface_is_ether(oif))
            continue;
        inet_ntop(AF_INET6, p->prefix, txt, sizeof txt);
        if_indextoname(oif, name);
        if (attach_iface(e, oif, err, sizeof err) != 0) {
            if (e->nrefused < EBPF_IFACES_MAX)
                e->refused[e->nrefused++] = oif;
            fprintf(stderr, "pdm: agent: peer %s/%u now routes through %s, not attached: %s\n", txt,
                    (unsigned)p->plen, name, err);
            continue;
        }
        fprintf(stderr, "pdm: agent: peer %s/%u now routes through %s: TCX links attached\n", txt,
                (unsigned)p->plen, name);
        if (gso_pairs_add(&e->gso, bpf_program__fd(e->skel->progs.pdm_gso_seg), oif, err,
                          sizeof err) != 0)
            fprintf(stderr,
                    "pdm: agent: %s (TCP super-packets on %s go out unmarked: gso_unmarked)\n", err,
                    name);
    }
}

int agent_ebpf_select(struct agent_rt *rt)
{
    const struct agent_config *cfg = rt->cfg;
    const char *why = ebpf_unsupported(cfg);
    char err[512], names[EBPF_IFACES_MAX * (IF_NAMESIZE + 1)] = "";
    struct agent_ebpf *e;

    if (cfg->datapath == AGENT_DP_NFQUEUE) {
        if (cfg->verbose)
            fprintf(stderr, "pdm: agent: datapath nfqueue\n");
        return 0;
    }
    if (why != NULL) {
        if (cfg->datapath == AGENT_DP_EBPF) {
            tool_err("agent: --datapath ebpf: %s (use --datapath nfqueue or auto)", why);
            return -1;
        }
        fprintf(stderr, "pdm: agent: datapath nfqueue (auto: %s)\n", why);
        return 0;
    }
    libbpf_verbose = cfg->verbose;
    libbpf_set_print(libbpf_print);
    if ((e = calloc(1, sizeof *e)) == NULL) {
        tool_err("agent: out of memory");
        return -1;
    }
    e->rt = rt;
    e->mono_to_real = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
    if (ebpf_load(e, cfg, err, sizeof err) != 0 || ebpf_attach(e, cfg, err, sizeof err) != 0) {
        ebpf_free(e);
        if (cfg->datapath == AGENT_DP_EBPF) {
            tool_err("agent: --datapath ebpf: %s", err);
            return -1;
        }
        fprintf(stderr, "pdm: agent: datapath nfqueue (auto: %s)\n", err);
        return 0;
    }
    for (unsigned i = 0; i < e->nifaces; i++) {
        char name[IF_NAMESIZE] = "?";
        if_indextoname(e->ifindex[i], name);
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? "," : "", name);
    }
    fprintf(stderr, "pdm: agent: datapath ebpf (%s; TCX links on %s)\n",
            datapath_name(cfg->datapath), names);
    e->skel->bss->real_minus_mono = e->mono_to_real;
    rt->ebpf = e;
    return 1;
}

int agent_ebpf_run(struct agent_rt *rt)
{
    int rv;

    if (rt->ebpf == NULL || (rv = agent_ebpf_keys_run(rt->ebpf->ek)) == 0)
        return 0;
    tool_err("agent: v2-encrypted key thread: %s", pdm_strerror(rv));
    return -1;
}

void agent_ebpf_tick(struct agent_rt *rt)
{
    struct agent_ebpf *e = rt->ebpf;

    if (e == NULL)
        return;
    /* The clocks' offset moves with NTP steps: taken again each time (for
     * the records and for the ingress program's receive stamps). */
    e->mono_to_real = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
    e->skel->bss->real_minus_mono = e->mono_to_real;
    /* Drained on this timer only (the programs submit without a wakeup). */
    if (e->ring != NULL)
        drain(e);
    int64_t now = clock_ns(CLOCK_MONOTONIC);
    if (now - e->followed_ns >= EBPF_FOLLOW_NS) {
        e->followed_ns = now;
        ifaces_follow(e);
    }
}

/* The per-CPU counters, summed. */
static void read_counters(struct agent_ebpf *e, uint64_t out[PDM_BPF_C_MAX])
{
    int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(e->skel->maps.counters);
    uint64_t *v = ncpu > 0 ? calloc((size_t)ncpu, sizeof *v) : NULL;

    memset(out, 0, sizeof(uint64_t) * PDM_BPF_C_MAX);
    for (__u32 i = 0; v != NULL && i < PDM_BPF_C_MAX; i++) {
        if (bpf_map_lookup_elem(fd, &i, v) != 0)
            continue;
        for (int c = 0; c < ncpu; c++)
            out[i] += v[c];
    }
    free(v);
}

/* Entries of the LRU flow map (one walk over its keys). */
static size_t count_flows(struct agent_ebpf *e)
{
    int fd = bpf_map__fd(e->skel->maps.flows);
    struct pdm_bpf_flow_key k, next;
    size_t n = 0;
    void *prev = NULL;

    while (bpf_map_get_next_key(fd, prev, &next) == 0) {
        n++;
        k = next;
        prev = &k;
    }
    return n;
}

void agent_ebpf_status_write(FILE *f, struct agent_rt *rt)
{
    struct agent_ebpf *e = rt->ebpf;
    uint64_t c[PDM_BPF_C_MAX], rw, re;

    read_counters(e, c);
    pthread_mutex_lock(&rt->rec_lock);
    rw = rt->records_written;
    re = rt->records_errors;
    pthread_mutex_unlock(&rt->rec_lock);
    fprintf(f, "pid %ld\n", (long)getpid());
    fprintf(f, "datapath ebpf\n");
    fprintf(f, "interfaces %u\n", e->nifaces);
    fprintf(f, "firewall none\n");
    fprintf(f, "passthrough 0\n");
    fprintf(f, "flows %zu\n", count_flows(e));
    for (int i = 0; i < AGENT_C_MAX; i++)
        fprintf(f, "%s %" PRIu64 "\n", agent_counter_name((enum agent_counter)i), c[i]);
    fprintf(f, "records_written %" PRIu64 "\n", rw);
    fprintf(f, "records_errors %" PRIu64 "\n", re + c[PDM_BPF_C_RING_DROPPED]);
    agent_ipfix_status(f, rt); /* where NFQUEUE's status has them (control.c) */
    for (int i = PDM_BPF_C_AGENT_MAX; i < PDM_BPF_C_MAX; i++)
        fprintf(f, "%s %" PRIu64 "\n", fast_names[i - PDM_BPF_C_AGENT_MAX], c[i]);
    agent_ebpf_keys_status_write(f, e->ek);
}

void agent_ebpf_close(struct agent_rt *rt)
{
    struct agent_ebpf *e = rt->ebpf;

    if (e == NULL)
        return;
    /* Links first (nothing new is stamped), then what the ring still holds. */
    for (unsigned i = 0; i < e->nifaces; i++)
        for (int d = 0; d < 2; d++) {
            if (e->links[i][d] >= 0)
                close(e->links[i][d]);
            e->links[i][d] = -1;
        }
    if (e->ring != NULL)
        while (ring_buffer__consume(e->ring) == -EAGAIN)
            agent_records_flush(rt);
    rt->ebpf = NULL;
    ebpf_free(e);
}

#endif /* PDM_AGENT_EBPF */
