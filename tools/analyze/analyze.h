/*
 * The analyser behind `pdm analyze` and `pdm decrypt` (tools/, not the
 * library: it allocates, reads files and prints). The per-packet work is
 * the library's: pdm_pkt_parse() finds the option anywhere in the
 * extension-header chain, pdm_flow_get() finds the flow, the profile opens
 * encrypted options (tools/analyze/keys.c) and pdm_metrics_update()
 * derives delays, loss, reordering and duplicates (docs/analysis.md).
 *
 * The folder, in the order a packet meets it:
 *   pcap.c     capture files and live interfaces (libpcap)
 *   link.h     link layer to IPv6 (inline)
 *   core.c     the per-packet path: flow cache, encrypted options, replays,
 *              out-of-order options, pdm_metrics_update(), samples
 *   flows.c    context, flow table and roles, sources, end-of-capture summaries
 *   keys.c     the key log and each direction's receiver
 *   series.c   sample arrays, reservoir, percentiles
 *   out.c      table, JSON, CSV;  html.c  the HTML report
 *   cmd_analyze.c, cmd_decrypt.c   the two subcommands
 * Every name the folder exports starts with an_ (the subcommands' entry
 * points are cmd_analyze and cmd_decrypt, tools/common/tools.h).
 *
 *   struct an_ctx *a;
 *   an_new(&a, &opts);
 *   for each frame: an_frame(a, dlt, ts_ns, frame, caplen, wirelen, NULL);
 *   an_finish(a);                      (summaries: medians, p95, loss)
 *   an_print_table / an_print_json / an_print_csv / an_report_html
 *   an_free(a);
 *
 * Roles. The endpoint that sent the first PDM packet observed on a flow is
 * its client, unless --server names the other end (an_opts.servers).
 *
 * Functions return 0 or a negative PDM_ERR_* code (include/pdm/common.h).
 */
#ifndef PDM_TOOLS_ANALYZE_H
#define PDM_TOOLS_ANALYZE_H

#include <pdm/codec.h>
#include <pdm/flow.h>
#include <pdm/metrics.h>

#include "link.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

/* An endpoint pattern for --server and --flow: address and/or port. */
struct an_endpoint {
    uint8_t addr[16];
    uint16_t port;
    uint8_t has_addr, has_port;
};

/* Parses "ADDR", "[ADDR]:PORT", "[ADDR]" or ":PORT". Returns 0 or
 * PDM_ERR_INVAL. */
int an_endpoint_parse(struct an_endpoint *ep, const char *s);

/* Delay kinds, index of an_flow.series[]. */
enum an_kind { AN_SERVER_DELAY = 0, AN_CLIENT_DELAY = 1, AN_RTD = 2, AN_KINDS = 3 };

/* Roles, index of an_flow.dir[]: same values as PDM_METRICS_FROM_*. */
enum an_role { AN_CLIENT = 0, AN_SERVER = 1 };

/*
 * The samples of one delay kind of one flow: values in ns, and their
 * observation times when a report will plot them (an_opts.keep_times).
 * Offline every sample is kept in arrays that double when full; with
 * max_samples set (live mode) the arrays are a uniform reservoir of that
 * many samples (Vitter's Algorithm R), so median and p95 become estimates
 * while count, min, mean and max stay exact (pdm_metrics_stat over every
 * sample). Without times, an_finish() reorders v (selection in place).
 */
struct an_series {
    uint64_t *v; /* delay values, ns */
    uint64_t *t; /* observation times, ns; NULL unless times are kept */
    size_t n, cap;
    uint64_t offered; /* samples offered (kept or not) */
};

/* What an_finish() computes for one series; count 0 means no sample. */
struct an_summary {
    uint64_t count, min, mean, median, p95, max;
    int exact;         /* median and p95 come from every sample, not a reservoir */
    uint64_t negative; /* values that came out negative, kept out of the rest: round
                          trips only (pdm_metrics.rtd_negative); 0 for the others */
};

/* Per-role counters of a flow (the packets that role sent). */
struct an_dir {
    /* Touched by every packet first (one cache line), the rest after. */
    uint64_t packets;  /* PDM packets sent, whatever became of them */
    uint64_t excluded; /* opened/clear options kept out of the delays: behind the
                          highest PSN (reordered or late) */
    /* Global Pointer (PDMv2): smallest and largest seen, first/last time. */
    uint64_t gp_count;
    uint32_t gp_min, gp_max;
    uint64_t gp_first_ns, gp_last_ns;
    uint64_t auth_failures; /* encrypted options that opened under no key */
    uint64_t no_key;        /* encrypted options with no key for the flow */
    uint64_t replayed;      /* encrypted options whose (Kri, RN) had opened already */
    uint64_t lost, reordered, duplicates, late; /* from the PSNs (pdm_metrics), an_finish() */
    /* Encrypted PDMv2: the receiver following this role's Kri. */
    void *rx;           /* struct an_rx *, NULL until the first encrypted option */
    int rx_state;       /* 0 untried, 1 ready, PDM_ERR_NOT_FOUND no key */
    uint32_t kri_last;  /* Kri of the latest option opened */
    uint32_t rotations; /* times the Kri moved up to a new highest */
    uint8_t kri_seen;   /* an option has opened */
    /* Replay detection: (Kri, RN) of the options of the last AN_RN_RING
     * PSNs, indexed by PSN (tools/analyze/core.c). */
    uint32_t *rn_ring;
};

#define AN_FMT_BIT(f) (1u << (f))

/* PSNs back within which a copied encrypted option is told apart as a
 * replay (the PSN window of pdm_metrics). */
#define AN_RN_RING PDM_METRICS_WINDOW

/* One bidirectional flow with PDM options. The fields every packet
 * touches come first, so that a packet reads few cache lines. */
struct an_flow {
    uint64_t packets;
    uint64_t last_ns;
    unsigned formats;    /* AN_FMT_BIT(enum pdm_format) of every option seen */
    unsigned client_dir; /* pdm_flow direction the client sends in */
    struct an_series series[AN_KINDS];
    struct an_dir dir[2];
    struct pdm_metrics m;
    struct pdm_flow_tuple tup; /* client -> server */
    int role_forced;           /* roles came from --server */
    uint64_t first_ns;
    struct an_summary sum[AN_KINDS]; /* an_finish() */
};

/* A sender address with Global Pointer values (PDMv2), gathered by
 * an_finish() from the flows it sends in. */
struct an_source {
    uint8_t addr[16];
    uint64_t packets;
    uint32_t gp_min, gp_max;
    uint64_t first_ns, last_ns;
};

/* Capture-wide counters. */
struct an_counts {
    uint64_t frames;     /* records read */
    uint64_t ipv6;       /* of them, IPv6 packets */
    uint64_t not_ipv6;   /* other link-layer payloads (IPv4, ARP ...) */
    uint64_t truncated;  /* cut by the snapshot length before the PDM option / ports */
    uint64_t malformed;  /* IPv6 packets the codec rejected */
    uint64_t pdm;        /* packets with a PDM option */
    uint64_t filtered;   /* PDM packets left out by --flow */
    uint64_t table_full; /* PDM packets dropped: no memory for a new flow */
};

struct an_keys; /* a loaded key log (tools/analyze/keys.c) */

#define AN_CACHE_BITS 10
#define AN_CACHE_SIZE (1u << AN_CACHE_BITS) /* flow cache entries, two ways per set */

struct an_opts {
    uint8_t opt_type;   /* PDM option type, normally PDM_OPT_TYPE */
    size_t max_samples; /* per series; 0 = keep every sample */
    int keep_times;     /* keep each sample's time (for the report's plots) */
    const struct an_endpoint *servers;
    size_t nservers;
    const struct an_endpoint *flows; /* keep only flows matching one of these */
    size_t nflows;
    struct an_keys *keys; /* NULL: encrypted options are counted as no_key */
};

/* Result of one packet, for `pdm decrypt`. */
enum an_status {
    AN_ST_SKIPPED = 0, /* not IPv6, malformed, no PDM option, filtered */
    AN_ST_CLEAR,       /* PDM or unencrypted PDMv2 */
    AN_ST_OPENED,      /* encrypted PDMv2 that opened: fields are valid */
    AN_ST_AUTH_FAILED, /* encrypted, opened under no candidate key */
    AN_ST_NO_KEY,      /* encrypted, no key for this flow */
};

struct an_result {
    enum an_status status;
    size_t ip_off;            /* offset of the IPv6 header in the frame */
    struct pdm_pkt_info info; /* valid unless SKIPPED */
    struct pdm_fields fields; /* CLEAR and OPENED */
    int replayed;             /* OPENED, but (Kri, RN) had opened before */
};

struct an_ctx {
    struct an_opts o;
    struct an_counts c;
    struct an_flow **flows; /* in order of first packet */
    size_t nflows, flows_cap;
    struct an_source *sources;
    size_t nsources, sources_cap;
    uint32_t *src_hash; /* open addressing: index + 1, 0 empty */
    size_t src_hash_cap;
    struct pdm_flow_table *table;
    size_t table_cap;
    uint64_t first_ns, last_ns; /* times of the first and last frame */
    uint64_t rng;               /* reservoir sampling (xorshift64*, fixed seed) */
    /* A two-way cache in front of the flow table, indexed by a hash that
     * is the same for both directions (tools/analyze/core.c). */
    struct an_cache_ent {
        uint64_t k[5];     /* a packet's src, dst (raw bytes), ports and protocol */
        struct an_flow *f; /* NULL: empty */
        uint32_t role;     /* role of that packet's sender */
        uint32_t stamp;    /* when filled (a miss counter) */
    } cache[AN_CACHE_SIZE];
    uint32_t cache_stamp;
    uint8_t *scratch; /* AN_SCRATCH_SIZE: a truncated packet, patched */
    const char *fail; /* what failed when an_frame() returned an error */
};

#define AN_SCRATCH_SIZE (PDM_IPV6_HDR_SIZE + 65535)

/* Allocates an analyser. Returns 0, PDM_ERR_NOMEM. */
int an_new(struct an_ctx **out, const struct an_opts *o);

/* Frees it and everything it holds (NULL is fine). Returns nothing. */
void an_free(struct an_ctx *a);

/*
 * Accounts one captured frame (caplen bytes kept of wirelen on the wire),
 * observed at ts_ns. res (may be NULL) tells what became of its option.
 * Returns 0 (also for frames without PDM, malformed ones and options that
 * fail authentication: the traffic's doing, counted), or a failure of this
 * machine: PDM_ERR_NOMEM, or PDM_ERR_CRYPTO / PDM_ERR_UNSUPPORTED from
 * deriving keys. After a failure a->fail names what failed; the results
 * are incomplete and the tools stop (an_frame_error()).
 */
int an_frame(struct an_ctx *a, int dlt, uint64_t ts_ns, const uint8_t *frame, size_t caplen,
             size_t wirelen, struct an_result *res);

/* Writes "frame N: <what failed>: <error>" for an an_frame() failure rv
 * into buf. Returns nothing. */
void an_frame_error(const struct an_ctx *a, int rv, char *buf, size_t len);

/*
 * Reads a capture file (pcap or pcapng) into a, with an optional libpcap
 * filter (tools/analyze/pcap.c). Returns 0, PDM_ERR_SYSTEM (cannot open or
 * read), PDM_ERR_UNSUPPORTED (link type), PDM_ERR_INVAL (bad filter),
 * PDM_ERR_MALFORMED (a damaged file) or an an_frame() error; err says what.
 */
int an_read_file(struct an_ctx *a, const char *path, const char *filter, char *err, size_t errlen);

/* What a live capture reads, and as whom. */
struct an_live {
    const char *iface;
    const char *filter; /* libpcap filter, or NULL */
    uint64_t count;     /* stop after this many frames; 0: no limit */
    uint64_t seconds;   /* stop after this long; 0: no limit */
    /* Once the interface is open, a root process becomes this account
     * (tool_run_as()) before it reads a packet; NULL: stays as it is. */
    const char *run_as;
};

/*
 * Captures live on l->iface until l->count frames, l->seconds, SIGINT or
 * SIGTERM. Same returns as an_read_file(), and PDM_ERR_SYSTEM when the
 * process cannot become l->run_as.
 */
int an_read_live(struct an_ctx *a, const struct an_live *l, char *err, size_t errlen);

/* Computes each flow's summaries and final loss counts. Call once after
 * the last frame. Returns 0 or PDM_ERR_NOMEM. */
int an_finish(struct an_ctx *a);

/* Adds v_ns (observed at t_ns, kept when keep_times) to s, with the
 * reservoir policy of max_samples. Returns 0 or PDM_ERR_NOMEM. */
int an_series_add(struct an_series *s, uint64_t t_ns, uint64_t v_ns, int keep_times,
                  size_t max_samples, uint64_t *rng);

/* Fills sum from s and the exact accumulator st. Reorders s->v when s
 * keeps no times. Returns 0 or PDM_ERR_NOMEM. */
int an_series_summary(struct an_series *s, const struct pdm_metrics_stat *st,
                      struct an_summary *sum);

/* Frees the arrays of s. Returns nothing. */
void an_series_free(struct an_series *s);

/* Nearest-rank percentile (1..100) of v[0..n), n > 0; reorders v. */
uint64_t an_percentile(uint64_t *v, size_t n, unsigned pct);

/* Name of the flow's format: "pdm", "v2", "v2-encrypted", "v2-14", "mixed" or "none". */
const char *an_flow_format(const struct an_flow *f);

/* Global Pointer increments per second of one role of a flow, or of a
 * source; < 0 when not measurable (fewer than two values or no time). */
double an_gp_rate(uint32_t gp_min, uint32_t gp_max, uint64_t t0, uint64_t t1);

/* Output (tools/analyze/out.c). Each returns 0 or PDM_ERR_SYSTEM. */
int an_print_table(const struct an_ctx *a, FILE *f);
int an_print_json(const struct an_ctx *a, FILE *f);
int an_print_csv(const struct an_ctx *a, FILE *f);

/* --ipfix (tools/analyze/export_an.c): one IPFIX record per flow to the
 * collector o names. Returns 0, 1 (not all sent, said why) or 2 (bad
 * destination). */
struct ipfix_opts;
int an_export_ipfix(const struct an_ctx *a, const struct ipfix_opts *o);

/* The HTML report (tools/analyze/html.c): one self-contained page with each
 * flow's delays over time and their histograms as inline SVG. Returns 0 or
 * PDM_ERR_SYSTEM (errno set) or PDM_ERR_NOMEM. */
int an_report_html(const struct an_ctx *a, FILE *o);

/* Writes an address in RFC 5952 text form into buf (>= 46 bytes). */
void an_addr_str(const uint8_t addr[16], char *buf, size_t len);

/* ---- between the folder's files ---- */

/* The command lines (tools/analyze/cmd_analyze.c; their errors are worded
 * by tool_getopt_error). an_parse_type() reads a --type value (0..255,
 * decimal or 0x hex); -1 after saying why. */
int an_parse_type(const char *cmd, const char *val, uint8_t *type);

/* tools/analyze/flows.c */

/*
 * The flow of a packet with tuple t (t->src sent it) observed at ts_ns,
 * from the flow table, created with its roles when new (growing the table
 * when full); *role gets the role of t's sender. NULL when there is no
 * memory (or the table is at PDM_FLOW_CAPACITY_MAX).
 */
struct an_flow *an_flow_lookup(struct an_ctx *a, const struct pdm_flow_tuple *t, uint64_t ts_ns,
                               unsigned *role);

/* Returns 1 when --flow options are given and none matches an end of t. */
int an_flow_filtered(const struct an_ctx *a, const struct pdm_flow_tuple *t);

/* *out = in seen from the other end (addresses and ports swapped). */
void an_tuple_swap(struct pdm_flow_tuple *out, const struct pdm_flow_tuple *in);

/* ---- encrypted PDMv2 (tools/analyze/keys.c) ---- */

/* Loads a key log (docs/profile.md §3). Returns 0, PDM_ERR_SYSTEM (errno),
 * PDM_ERR_MALFORMED (err names the line), PDM_ERR_NOMEM, or
 * PDM_ERR_UNSUPPORTED when this build cannot open encrypted options. */
int an_keys_load(struct an_keys **out, const char *path, char *err, size_t errlen);
void an_keys_free(struct an_keys *k);

/*
 * Sets up the receiver for the sender's direction `tup` (sender is src):
 * up to 8 candidate secrets from pdm_keylog_lookup(), ranks 0, 1, ... of
 * (client src, server dst) and (client dst, server src) interleaved
 * (tools/analyze/keys.c, docs/analysis.md). Returns 0 with *rx,
 * PDM_ERR_NOT_FOUND (no entry covers these addresses), or a failure of
 * this machine: PDM_ERR_NOMEM, PDM_ERR_CRYPTO, PDM_ERR_UNSUPPORTED.
 */
int an_rx_new(struct an_keys *k, const struct pdm_flow_tuple *tup, void **rx);

/*
 * Opens the encrypted option at in (inlen bytes from its Type byte, option
 * type `type`), following the sender's Kri (docs/profile.md §3: candidates
 * of the F bit's parity, nearest first). Returns 0 with the fields and the
 * Kri it opened under, or
 *   PDM_ERR_AUTH       no candidate secret and Kri opens it (contents not
 *                      used): a property of the traffic
 *   PDM_ERR_MALFORMED  the bytes are not an encrypted option (cannot happen
 *                      for an option pdm_pkt_parse() decoded as one)
 *   PDM_ERR_NOMEM, PDM_ERR_CRYPTO, PDM_ERR_INVAL  this machine failed
 *                      (deriving a key): nothing is known about the option
 */
int an_rx_open(void *rx, const uint8_t *in, size_t inlen, uint8_t type, struct pdm_fields *out,
               uint32_t *kri);
void an_rx_free(void *rx);

#endif /* PDM_TOOLS_ANALYZE_H */
