/*
 * pdm agent: the data path (docs/agent.md). Any application's IPv6 traffic
 * with an enabled peer carries the PDM option, added and read in user space
 * through NFQUEUE.
 *
 * Split (so that a kernel fast path, tc/eBPF, can share the packet logic):
 *
 *   core.c      sans-IO packet logic: (parsed packet, direction, time) in,
 *               new bytes and a verdict out. No system calls, no clock, no
 *               file; random bytes come from a callback.
 *   v214.c      sans-IO: --mode v2-14, draft -14's 32-bit PSNs
 *   mtu.c       sans-IO: path MTUs from Packet Too Big, MSS clamping
 *   config.c    parsing of --peer / --config (text in, struct out)
 *   secrets.c   v2-encrypted: secrets from the store / key logs, cached per
 *               address pair (keys.h: the key module's inside)
 *   kri.c       v2-encrypted: the Kri history and its --state file
 *   flowkeys.c  v2-encrypted: a flow's sender and receiver states of
 *               lib/profile.c, sealing and opening in the packet path
 *   fw.c        installs and removes the netfilter rules (nft or
 *               ip6tables, run as child processes)
 *   nfq.c       the NFQUEUE I/O: one thread per queue, libmnl, batched
 *               reads (recvmmsg) and batched verdicts (one sendmsg)
 *   records.c   the records: JSON lines, double-buffered, the file
 *   control.c   the status socket and `pdm agent --status`
 *   cmd_agent.c `pdm agent`: options, set-up, signals, privileges
 */
#ifndef PDM_TOOLS_AGENT_H
#define PDM_TOOLS_AGENT_H

#include <pdm/codec.h>
#include <pdm/flow.h>
#include <pdm/profile.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

/* ---- configuration -------------------------------------------------------- */

#define AGENT_PEERS_MAX  64
#define AGENT_QUEUES_MAX 64

/* One enabled peer prefix and what to do with its flows. */
struct agent_peer {
    uint8_t prefix[16];
    uint8_t plen;            /* 0..128 */
    enum pdm_format mode;    /* what we send to it */
    uint64_t rotate_packets; /* v2-encrypted: packets per key, 0 = 32767 (RN space) */
    uint64_t rotate_ns;      /* v2-encrypted: lifetime of a key, 0 = no limit */
};

/* What the sans-IO core needs. */
struct agent_core_config {
    struct agent_peer peers[AGENT_PEERS_MAX];
    size_t npeers;
    uint8_t opt_type;         /* PDM option type, PDM_OPT_TYPE by default */
    size_t flow_capacity;     /* flows tracked at once */
    uint64_t idle_timeout_ns; /* a flow idle this long may be forgotten */
    uint16_t psn_window;      /* "expected" PSNTP: at most this far from the last */
    int clamp_mss;            /* rewrite the MSS of incoming SYNs (on by default) */
};

/* --datapath (ebpf.c): where packets are marked. */
enum agent_datapath { AGENT_DP_NFQUEUE = 0, AGENT_DP_EBPF = 1, AGENT_DP_AUTO = 2 };

/* Everything `pdm agent` was asked to do. */
struct agent_config {
    struct agent_core_config core;
    unsigned queue_first, queue_count; /* NFQUEUE numbers used */
    int fanout;                        /* spread by CPU rather than by address pair */
    int passthrough;                   /* queue and accept, touch nothing */
    const char *firewall;              /* "auto", "nft" or "ip6tables" */
    const char *table;                 /* nft table / ip6tables chain prefix */
    const char *records_path;
    const char *tool_store_dir;
    const char *keylog_path;
    const char *primary_secret_path;
    const char *state_path; /* v2-encrypted: Kri history kept across runs */
    const char *control_path;
    const char *metrics_addr;     /* --metrics [ADDR]:PORT (metrics.c); NULL: none */
    enum pdm_format default_mode; /* of peers given without a mode */
    int keep_caps;                /* --keep-caps: keep every capability (debugging) */
    int datapath;                 /* enum agent_datapath, --datapath (ebpf.c) */
    const char *user;             /* --user: account to run as after setup (sandbox.c) */
    int no_seccomp;               /* --no-seccomp: queue threads unfiltered (sandbox.c) */
    struct agent_ipfix_cfg {      /* --ipfix* (ipfix_agent.c); dest "" = off */
        char dest[128];
        int tcp;
        unsigned interval_s;
        uint32_t pen;
    } ipfix;
    int verbose;
    char *owned[16]; /* strings a --config file gave (agent_config_free) */
    size_t nowned;
};

/* Defaults, also documented in pdm-agent(8). */
#define AGENT_DEFAULT_CAPACITY 65536
#define AGENT_DEFAULT_IDLE_NS  (120ull * 1000000000ull)
#define AGENT_DEFAULT_WINDOW   4096
#define AGENT_DEFAULT_TABLE    "openpdm"
#define AGENT_DEFAULT_CONTROL  "/run/openpdm/agent.sock"
#define AGENT_RESYNC_PACKETS   4 /* consecutive unexpected PSNs that re-synchronise */

/* Sets the defaults: no peer, mode pdm, queue 0, one queue, auto firewall. */
void agent_config_init(struct agent_config *cfg);

/*
 * Parses "PREFIX[/LEN]" (an IPv6 address, /128 when LEN is missing) into p,
 * whose other fields are left alone. Returns 0 or -1 (message in err).
 */
int agent_peer_parse_prefix(struct agent_peer *p, const char *text, char *err, size_t errlen);

/*
 * Adds a peer to cfg->core (a prefix given twice keeps its last settings).
 * Returns 0 or -1 (message in err) when the table is full.
 */
int agent_config_add_peer(struct agent_core_config *cfg, const struct agent_peer *p, char *err,
                          size_t errlen);

/*
 * Reads a configuration file (format in docs/agent.md and pdm-agent(8)):
 * `peer PREFIX [mode M] [rotate-packets N] [rotate-seconds S]` lines and
 * global settings. Strings it keeps are copies that agent_config_free()
 * releases. Returns 0 or -1 with "FILE:LINE: message" in err.
 */
int agent_config_load(struct agent_config *cfg, const char *path, char *err, size_t errlen);

/* Frees the strings agent_config_load() copied. */
void agent_config_free(struct agent_config *cfg);

/* The settings that `pdm agent` also takes as a flag with a value
 * (--NAME VALUE), NULL-terminated: the command line is built from this
 * list, so a setting added here is a flag too. */
extern const char *const agent_config_flag_settings[];

/*
 * Applies one setting of a --config line (everything but `peer`), name and
 * value: "queue", "fanout", "option-type", "records", ... The flags of
 * `pdm agent` that take a value are the same settings, so both go through
 * here and say the same. copy: 1 keeps a copy of a string value (freed by
 * agent_config_free()), 0 keeps the pointer (argv). Returns 0 or -1 with
 * "name 'value' is not ..." in err.
 */
int agent_config_set(struct agent_config *cfg, const char *name, const char *value, int copy,
                     char *err, size_t errlen);

/* Parses "nfqueue", "ebpf" or "auto" into an enum agent_datapath. 0 or -1. */
int agent_parse_datapath(const char *s, int *out);

/* Parses "pdm", "v2", "v2-encrypted" or "v2-14". Returns 0 or -1. */
int agent_parse_mode(const char *s, enum pdm_format *out);

/*
 * Parses a peer given as words: PREFIX [mode M] [rotate-packets N]
 * [rotate-seconds S] (the --config line after "peer"; --peer takes the same
 * words separated by commas). Returns 0 or -1 with err.
 */
int agent_peer_parse_words(struct agent_peer *p, char **w, size_t n, enum pdm_format dflt,
                           char *err, size_t errlen);

/* 1 when type is an option type the agent may send: its action bits
 * (RFC 8200 §4.2) are 00, "skip over this option", so that a receiver
 * that does not know it still takes the packet; else 0. */
int agent_opt_type_ok(uint64_t type);

/* Parses "N" or "N-M" into a first queue and a count. Returns 0 or -1. */
int agent_parse_queues(const char *text, unsigned *first, unsigned *count);

/* ---- the sans-IO core ---------------------------------------------------- */

/* Counters; names in agent_counter_name(). tx = egress, rx = ingress. */
enum agent_counter {
    AGENT_C_TX_SEEN,
    AGENT_C_TX_MARKED,
    AGENT_C_TX_NOT_ENABLED, /* not a peer's flow (the rules should not even queue them) */
    AGENT_C_TX_EXCLUDED,    /* neighbour discovery / MLD: never marked */
    AGENT_C_TX_MALFORMED,   /* not a well-formed IPv6 packet */
    AGENT_C_TX_ESP,
    AGENT_C_TX_FRAGMENT,
    AGENT_C_TX_HAS_PDM,       /* already carries a PDM option */
    AGENT_C_TX_MTU,           /* would not fit the MTU with the option */
    AGENT_C_TX_NO_ROOM,       /* header or Payload Length limits */
    AGENT_C_TX_FLOW_FULL,     /* flow table full */
    AGENT_C_TX_NO_SECRET,     /* v2-encrypted: no secret for this peer (yet) */
    AGENT_C_TX_KEY_EXHAUSTED, /* v2-encrypted: Kri used up, registration needed */
    AGENT_C_TX_CRYPTO,        /* v2-encrypted: key derivation or sealing failed */
    AGENT_C_RX_SEEN,
    AGENT_C_RX_LOGGED, /* option read, flow updated, record written */
    AGENT_C_RX_NOT_ENABLED,
    AGENT_C_RX_EXCLUDED,
    AGENT_C_RX_MALFORMED,
    AGENT_C_RX_NO_OPTION,      /* enabled flow, packet without PDM */
    AGENT_C_RX_UNEXPECTED_PSN, /* draft-04 §7.1: not logged */
    AGENT_C_RX_RESYNC,         /* the peer's PSNTP jumped and was followed */
    AGENT_C_RX_AUTH_FAILED,    /* v2-encrypted: opened under no candidate Kri */
    AGENT_C_RX_NO_SECRET,      /* v2-encrypted: no secret to open it with */
    AGENT_C_RX_FLOW_FULL,
    AGENT_C_RX_MSS_CLAMPED, /* TCP SYN whose MSS was lowered */
    AGENT_C_RX_PTB,         /* ICMPv6 Packet Too Big about a packet to a peer: learned */
    AGENT_C_FLOWS_EXPIRED,
    AGENT_C_KEY_ROTATIONS,  /* v2-encrypted: our Kri moved on */
    AGENT_C_PEER_ROTATIONS, /* v2-encrypted: a peer's Kri moved on */
    AGENT_C_MAX
};

/* Returns the counter's name as printed by `pdm agent --status`. */
const char *agent_counter_name(enum agent_counter c);

/* What the core did with a packet. */
enum agent_verdict {
    AGENT_UNCHANGED = 0, /* accept the packet as it came */
    AGENT_MODIFIED = 1,  /* accept the new bytes */
};

/* One line of the records file (a PDM packet of an enabled flow). */
struct agent_record {
    uint64_t time_ns;
    int rx; /* 0 sent, 1 received */
    struct pdm_flow_tuple tup;
    enum pdm_format format;
    struct pdm_fields f; /* meaningful unless auth_failed */
    uint64_t delta_tlr_ns, delta_tls_ns;
    uint16_t kri;              /* v2-encrypted */
    int auth;                  /* -1 not encrypted, 1 ok, 0 failed */
    uint32_t psntp32, psnlr32; /* v2-14: the full PSNs (f has their low 16 bits) */
    /* Ingress only, not part of the JSON line: a path MTU learned from a
     * Packet Too Big (0: none), for the caller to tell its other cores. */
    uint32_t learned_pmtu;
    uint8_t learned_dst[16];
    /* Ingress, for --metrics (metrics.c): the peer whose prefix the sender
     * is in (NULL: none), and our round trip to it when this packet answers
     * the last one we sent: time since that send less the peer's DeltaTLR
     * (RFC 8250 §4 at the endpoint); -1 when there is none. */
    const struct agent_peer *peer;
    int64_t rtd_ns;
};

/*
 * What the agent keeps per flow: the extension of every entry of a core's
 * flow table (pdm_flow_table_new_ext(), reached with pdm_flow_ext()), so it
 * sits in the flow's own entry and costs no allocation. All zeros when the
 * flow is created; wiped by the table when it goes, after
 * agent_keys_flow_gone() released the keys it points to. Arrays [2] are
 * indexed by the direction a packet travels in (pdm_flow_get()). One
 * struct, two owners: the key module (agent_keys_*) and the core (PSNs).
 * 72 bytes, so that an entry is three cache lines (pdm_flow_entry_size()).
 */
struct agent_flow {
    /* v2-encrypted, the key module's (flowkeys.c). */
    struct pdm_profile_tx tx; /* our sending state on this flow */
    struct pdm_profile_rx rx; /* the peer's: its Kri, the keys that open it */
    uint32_t secret_tag;      /* first bytes of the secret's id: a new secret resets */
    uint32_t pair_gen;        /* the pair cache's generation when pair_slot was taken */
    uint16_t pair_slot;       /* 1 + the pair cache slot of this flow's secret; 0 none */
    /* draft-04 §7.1, the core's (core.c). */

    uint16_t last_psn[2];   /* PSNTP of the last accepted packet travelling in d */
    uint16_t resync_psn[2]; /* last of a run of unexpected PSNTPs */
    uint8_t have_psn[2];    /* a PSNTP was accepted in d */
    uint8_t resync_n[2];    /* length of that run */
    /* The key module's again (packed here for size). */
    uint8_t rx_started; /* rx was given its first expected Kri */
    uint8_t rx_opened;  /* an option opened under rx */
};

/* Random bytes for the core (PSN starts, RN sequences): the caller's. */
typedef void (*agent_rand_fn)(void *arg, void *buf, size_t n);

struct agent_keys; /* keys.h: v2-encrypted key material */

struct agent_core;

/*
 * One packet as the core takes it: its bytes and what the one parse of
 * them learned (pdm_pkt_parse() with the core's option type). The NFQUEUE
 * loop parses a packet once (agent_pkt_parse()), picks its shard from that
 * (agent_pkt_flow_hash()) and hands it to the core, which reads the option
 * and inserts its own from that same parse: no packet is parsed twice.
 */
struct agent_pkt {
    uint8_t *buf;             /* the packet (grows in place when marked) */
    size_t len;               /* its length; agent_core_tx_pkt() updates it */
    size_t cap;               /* bytes buf may use */
    int parsed;               /* pdm_pkt_parse()'s result: 0 or a PDM_ERR_* */
    struct pdm_pkt_info info; /* its result when parsed is 0: the packet as it
                                 came (no longer true once it is marked) */
};

/* Parses buf (len bytes, cap available) for the option type opt_type into
 * *p. Never fails: a packet that does not parse has p->parsed < 0. */
void agent_pkt_parse(struct agent_pkt *p, uint8_t *buf, size_t len, size_t cap, uint8_t opt_type);

/*
 * A hash of the packet's flow that both directions share (addresses, ports
 * and protocol as the flow table files them), mixed with seed. Packets the
 * codec cannot parse hash by their addresses alone. Pure; no state.
 */
uint64_t agent_pkt_flow_hash(const struct agent_pkt *p, uint64_t seed);

/*
 * Creates a core: a flow table of `capacity` entries keyed with hash_key.
 * keys may be NULL (no v2-encrypted). gp is the node's Global Pointer
 * counters, shared by every core of the node and updated atomically (NULL:
 * the core's own). The core keeps pointers to cfg, keys and gp.
 *
 * A core is single-threaded. To spread one node's packets over threads,
 * make several cores (shards) and give each packet to the core that
 * agent_pkt_flow_hash() names: both directions of a flow go to the same
 * one. Returns 0 or PDM_ERR_INVAL / PDM_ERR_NOMEM.
 */
int agent_core_new(struct agent_core **out, const struct agent_core_config *cfg, size_t capacity,
                   const uint8_t hash_key[PDM_FLOW_HASH_KEY_SIZE], agent_rand_fn rnd, void *rnd_arg,
                   struct agent_keys *keys, struct pdm_gp *gp);

/* agent_pkt_flow_hash() of the packet at pkt (len bytes), parsed here. */
uint64_t agent_core_flow_hash(const uint8_t *pkt, size_t len, uint64_t seed);

/* Frees the core (NULL is fine). */
void agent_core_free(struct agent_core *c);

/*
 * Egress: p is a packet to send, parsed (agent_pkt_parse() with the core's
 * option type); mtu is the largest packet the outgoing link takes (0: no
 * limit but p->cap). For a packet of an enabled flow, computes its PDM
 * fields (RFC 8250 rules) and puts the option in, written once where it
 * goes (encoded or sealed in place, pdm_pkt_insert_room()), and returns
 * AGENT_MODIFIED with the new p->len and, when rec is not NULL, the record
 * in *rec. Every other outcome leaves the packet alone, counts the reason
 * and returns AGENT_UNCHANGED (rec->time_ns is 0).
 */
enum agent_verdict agent_core_tx_pkt(struct agent_core *c, struct agent_pkt *p, size_t mtu,
                                     uint64_t now_ns, struct agent_record *rec);

/* agent_core_tx_pkt() of the packet in pkt (*len bytes in a buffer of cap),
 * parsed here; *len gets the new length. */
enum agent_verdict agent_core_tx(struct agent_core *c, uint8_t *pkt, size_t *len, size_t cap,
                                 size_t mtu, uint64_t now_ns, struct agent_record *rec);

/*
 * Ingress: p is a received packet, parsed as for agent_core_tx_pkt(). For
 * an enabled flow, reads its PDM option (opened in place for
 * v2-encrypted, from where the parse found it), updates the flow and fills
 * *rec (rec->time_ns is 0 when there is nothing to log). The packet is
 * only ever changed to lower the MSS of a peer's TCP SYN (in_mtu is the
 * MTU of the link it came in on; a smaller path MTU learned for the peer
 * wins): then AGENT_MODIFIED. An ICMPv6 Packet Too Big about a packet to a
 * peer teaches the core that path's MTU (rec->learned_pmtu / learned_dst
 * say so).
 */
enum agent_verdict agent_core_rx_pkt(struct agent_core *c, struct agent_pkt *p, size_t in_mtu,
                                     uint64_t now_ns, struct agent_record *rec);

/* agent_core_rx_pkt() of the packet in pkt (len bytes), parsed here. */
enum agent_verdict agent_core_rx(struct agent_core *c, uint8_t *pkt, size_t len, size_t in_mtu,
                                 uint64_t now_ns, struct agent_record *rec);

/* Remembers the path MTU to dst for 10 minutes (what a Packet Too Big
 * taught another core). */
void agent_core_pmtu_set(struct agent_core *c, const uint8_t dst[16], uint32_t mtu,
                         uint64_t now_ns);

/* Forgets idle flows (bounded work); call every second or so. */
void agent_core_tick(struct agent_core *c, uint64_t now_ns);

/* Copies the counters (AGENT_C_MAX values). */
void agent_core_counters(const struct agent_core *c, uint64_t out[AGENT_C_MAX]);

/* Number of flows tracked. */
size_t agent_core_flows(const struct agent_core *c);

/* The peer whose prefix holds addr (longest match), or NULL. */
const struct agent_peer *agent_core_peer(const struct agent_core *c, const uint8_t addr[16]);
/* The same from the configuration alone (the eBPF path's events have no
 * core): a pointer into cfg->peers, or NULL. */
const struct agent_peer *agent_config_peer(const struct agent_core_config *cfg,
                                           const uint8_t addr[16]);

/* Largest header growth of a mode: the fresh header size (16, 24, 40). */
size_t agent_mode_growth(enum pdm_format mode);

/* ---- draft -14 (v214.c, sans-IO) ------------------------------------------ */

/* A new flow of a v2-14 peer: r (random) starts the high halves of both
 * directions' 32-bit PSNTPs (kept in flow->user). */
void agent_v214_flow_new(struct pdm_flow *flow, uint32_t r);

/* Egress, after pdm_flow_on_send() filled opt->fields: the 32-bit PSNs
 * into *v, and the option encoded at out (24 bytes). Returns 0 or an
 * error. */
int agent_v214_tx(struct pdm_flow *flow, unsigned dir, const struct pdm_option *opt, uint8_t *out,
                  struct pdm_v214 *v);

/* Ingress, for a packet travelling in dir: decodes its -14 option (if it
 * has one) into *v and keeps its PSNTP's high half for our PSNLR (0 when
 * it has none). Returns 1 (a -14 option), 0 (none) or an error. */
int agent_v214_rx(struct pdm_flow *flow, unsigned dir, const uint8_t *pkt,
                  const struct pdm_pkt_info *info, uint8_t type, struct pdm_v214 *v);

/* ---- MTU (mtu.c, sans-IO) ------------------------------------------------- */

/* Path MTUs learned from Packet Too Big, per peer address: a small
 * direct-mapped cache, one per core. Zero-initialised is empty. */
#define AGENT_PMTU_SLOTS 64

struct agent_pmtu_entry {
    uint8_t dst[16];
    uint32_t mtu; /* 0: empty */
    uint64_t expires_ns;
};

struct agent_pmtu {
    struct agent_pmtu_entry e[AGENT_PMTU_SLOTS];
    int any; /* something was ever learned (else lookups are free) */
};

/* Remembers the path MTU to dst for 10 minutes (Linux's ip6_rt_mtu_expires). */
void agent_pmtu_set(struct agent_pmtu *t, const uint8_t dst[16], uint32_t mtu, uint64_t now_ns);

/* The path MTU learned for dst and not expired at now_ns, or 0. */
size_t agent_pmtu_get(const struct agent_pmtu *t, const uint8_t dst[16], uint64_t now_ns);

/* Reads an ICMPv6 Packet Too Big (len bytes from its type byte) about an
 * IPv6 packet: returns its MTU (raised to 1280, as the stack does) with
 * *dst pointing at the destination of the packet it is about, or 0 when it
 * is not one. */
uint32_t agent_ptb_parse(const uint8_t *icmp, size_t len, const uint8_t **dst);

/* Lowers the MSS option of a TCP SYN (or SYN-ACK) at tcp[0..tcplen) to at
 * most mss, fixing the checksum incrementally. Returns 1 when the packet
 * changed, 0 otherwise (no SYN, no MSS option, already small enough). */
int agent_mss_clamp(uint8_t *tcp, size_t tcplen, uint16_t mss);

/* ---- v2-encrypted key material (secrets.c, kri.c, flowkeys.c) ------------- */

/* Loads what --store, --keylog and --primary-secret name (any may be NULL)
 * and the Kri history from state (may be NULL: kept in memory only).
 * Returns 0, or -1 with a message in err. */
int agent_keys_load(struct agent_keys **out, const char *tool_store_dir, const char *keylog,
                    const char *primary, const char *state, char *err, size_t errlen);

/* Periodic work outside the packet path, about 5 times a second, with the
 * runtime lock held: cheap bookkeeping, new registrations from the store,
 * and a copy of the Kri history when it changed. Returns 1 when
 * agent_keys_io() has a copy to write. */
int agent_keys_tick(struct agent_keys *k);

struct agent_rt;
/* When the secret cache was found full, at most once a second: stops every
 * shard of rt and empties the slots of secrets that never served a packet
 * (agent_keys_prune(), secrets.c). Main thread. */
void agent_keys_maybe_prune(struct agent_keys *k, struct agent_rt *rt);

/* Writes the copy agent_keys_tick() made, WITHOUT the runtime lock (an
 * fsync must not stall the queues). Main thread only. */
void agent_keys_io(struct agent_keys *k);

/* Re-reads the same sources (new registrations); keeps the old set on error. */
int agent_keys_reload(struct agent_keys *k, char *err, size_t errlen);

void agent_keys_free(struct agent_keys *k);

/* The calls the sans-IO core makes into the key module. k may be NULL (no
 * key material): then there is never a secret. None of them does I/O. */

/* 1 when a secret covers the flow between local address src and peer dst. */
int agent_keys_have(struct agent_keys *k, const uint8_t src[16], const uint8_t dst[16]);

/* The secret of an address pair, as the packet path holds it between
 * agent_keys_tx_begin() and agent_keys_tx_seal() (keys.h). */
struct agent_secret;

/*
 * Egress, before the packet's option has room: finds the secret of the
 * flow af (tuple tup, the sender's view: we send), starts af's sending
 * state when it has none (at the first Kri its history bucket never used)
 * and hands the secret out in *sec. Nothing is sealed, no RN is drawn, so
 * a packet that cannot carry the option after all costs nothing.
 * Returns 0, or PDM_ERR_NOT_FOUND (no secret), PDM_ERR_KEY_EXHAUSTED,
 * PDM_ERR_NOMEM / PDM_ERR_CRYPTO (deriving the first key failed).
 */
int agent_keys_tx_begin(struct agent_keys *k, struct agent_flow *af,
                        const struct pdm_flow_tuple *tup, uint64_t now_ns,
                        const struct agent_secret **sec);

/*
 * Seals fields for that packet at now_ns straight into out, the 36 bytes
 * where its option goes in the packet (option type `type`), under af's
 * current key, rotating first when peer's policy or the RN space says so.
 * *kri gets the Kri. Returns 0, 1 (a new Kri was started), or
 * PDM_ERR_KEY_EXHAUSTED, PDM_ERR_NONCE_REUSE, PDM_ERR_CRYPTO /
 * PDM_ERR_NOMEM; out is then not an option (the caller takes the room
 * back).
 */
int agent_keys_tx_seal(struct agent_keys *k, struct agent_flow *af, const struct agent_secret *sec,
                       const struct pdm_flow_tuple *tup, const struct agent_peer *peer,
                       uint64_t now_ns, uint8_t type, const struct pdm_fields *fields,
                       uint8_t out[PDM_OPTSIZE_V2_ENC], uint16_t *kri);

/*
 * Ingress: opens the encrypted option at in (inlen bytes from its Type
 * byte: where the parse found it in the packet) of flow af, tuple tup as
 * the peer sent it, trying the peer's Kri candidates (PROFILE §3). Fills
 * *f and *kri. Returns 0, 1 (the peer's Kri moved on), PDM_ERR_NOT_FOUND
 * (no secret), PDM_ERR_AUTH, or another pdm_profile_rx_open() error
 * (malformed bytes, a key that could not be derived).

 */
int agent_keys_open(struct agent_keys *k, struct agent_flow *af, const struct pdm_flow_tuple *tup,
                    const uint8_t *in, size_t inlen, uint8_t type, struct pdm_fields *f,
                    uint16_t *kri);

/* Releases what the key module keeps for a flow that is going away. */
void agent_keys_flow_gone(struct agent_keys *k, struct agent_flow *af);

/* ---- runtime shared by the I/O threads ---------------------------------- */

/* Flow-state shards: a packet's core is shards[flow hash % AGENT_SHARDS],
 * so the queue threads only wait for each other on packets of flows that
 * share a shard. */
#define AGENT_SHARDS 16

struct agent_shard {
    pthread_mutex_t lock; /* guards core */
    struct agent_core *core;
    void *rand_pool; /* the random bytes of this core (cmd_agent.c) */
};

/* Bytes of each of the two records buffers; the main thread writes one
 * out every 50 ms, so some 500,000 records a second (about 300 bytes each)
 * pass before any is dropped (counted in records_errors). */
#define AGENT_REC_BUF (8u << 20)

/* Which back end holds the netfilter rules now; agent_fw_remove() needs it. */
enum agent_fw_kind { AGENT_FW_NONE = 0, AGENT_FW_NFT = 1, AGENT_FW_IP6TABLES = 2 };

struct agent_rt {
    const struct agent_config *cfg;
    enum agent_fw_kind fw; /* the rules' back end, for the status */
    struct agent_shard shards[AGENT_SHARDS];
    uint64_t shard_seed;
    struct pdm_gp gp; /* the node's Global Pointer (atomic) */
    /* Records (records.c): double-buffered, the file the main thread's. */
    pthread_mutex_t rec_lock; /* guards rec_cur, rec_len/rec_n[rec_cur], records_* */
    FILE *records;            /* the main thread's only; NULL when no --records */
    char *rec_buf[2];         /* AGENT_REC_BUF bytes each; NULL when no --records */
    size_t rec_len[2];        /* bytes in each buffer */
    uint64_t rec_n[2];        /* records in each buffer */
    unsigned rec_cur;         /* the buffer queue threads append to */
    uint64_t records_written, records_errors;
    /* Bumped and read with __atomic builtins, without the lock. */
    uint64_t nfq_packets, nfq_batches, nfq_verdict_errors, nfq_enobufs, nfq_truncated;
    int stop;                  /* set by the main thread (__atomic); threads drain and leave */
    struct agent_keys *keys;   /* v2-encrypted key material, NULL when none (ebpf_keys.c) */
    struct agent_ebpf *ebpf;   /* the tc-eBPF fast path when it runs (ebpf.c), else NULL */
    struct agent_ipfix *ipfix; /* --ipfix (ipfix_agent.c), NULL when off */
    /* --metrics (metrics.h); NULL: none. */
    struct agent_metrics *metrics;
};

/* ---- records (records.c) ---------------------------------------------------- */

/* Largest JSON line of one record, newline and NUL included. */
#define AGENT_RECORD_MAX 1024

/*
 * Formats a record as one JSON object and a newline. Returns the length
 * (without the NUL), or -1 when cap is too small (a record is < 600 bytes).
 */
int agent_record_json(const struct agent_record *r, char *buf, size_t cap);

/* Opens rt->cfg->records_path (appending, created 0640) and the two
 * buffers; nothing without --records. Returns 0, or -1 with a message on
 * stderr. */
int agent_records_open(struct agent_rt *rt);

/* Queue threads, the shard's lock held (so that a flow's records keep
 * their order): appends rec's line (none when rec->time_ns is 0) to the
 * current buffer, taking rt->rec_lock for a memcpy only; scratch (cap
 * bytes, AGENT_RECORD_MAX) is the thread's own. A full buffer drops it,
 * counted. */
void agent_records_add(struct agent_rt *rt, const struct agent_record *rec, char *scratch,
                       size_t cap);

/* Main thread only: writes what the queue threads appended since the last
 * call (swapping the buffers under rec_lock, writing outside it) and
 * flushes the file. Counts written or lost records. Returns nothing. */
void agent_records_flush(struct agent_rt *rt);

/* Main thread, on SIGHUP: writes what is pending to the old file, then
 * opens the path again (log rotation). */
void agent_records_reopen(struct agent_rt *rt);

/* Once the queue threads are gone: writes both buffers out, closes the
 * file, frees the buffers. Returns 0, or -1 when the file did not close. */
int agent_records_close(struct agent_rt *rt);

/* ---- IPFIX export (ipfix_agent.c, docs/export.md) ------------------------ */

/* The "ipfix", "ipfix-interval", "ipfix-pen", "ipfix-transport" settings.
 * Returns 0 or -1 with err. */
int agent_ipfix_set(struct agent_config *cfg, const char *k, const char *val, char *err,
                    size_t errlen);
/* Main thread: sets up the exporter (nothing without --ipfix). 0 or -1 (said why). */
int agent_ipfix_open(struct agent_rt *rt);
/* Queue threads: one record's packet into the flow aggregator (no I/O). */
void agent_ipfix_add(struct agent_rt *rt, const struct agent_record *rec);
/* Main thread, every loop: the interval's records out, never blocking. */
void agent_ipfix_tick(struct agent_rt *rt, uint64_t now_ns);
/* Once the queue threads are gone: last records out (1 s at most), frees. */
void agent_ipfix_close(struct agent_rt *rt, uint64_t now_ns);
/* ipfix_sent, ipfix_dropped, ipfix_flows_dropped lines (none when off). */
void agent_ipfix_status(FILE *f, struct agent_rt *rt);

/* ---- the status socket (control.c) ------------------------------------------ */

/* Writes the counters of every shard, the records' and NFQUEUE's, as
 * "name value" lines (the format of `pdm agent --status`). */
void agent_status_write(FILE *f, struct agent_rt *rt);

/* Creates the status socket at path (its directory too, mode 0600 for
 * the socket); refuses when another agent answers on it, replaces a stale
 * one. Returns the listening fd (non-blocking), or -1 with a message on
 * stderr. */
int agent_control_listen(const char *path);

/* Answers every pending connection on lfd with agent_status_write(). */
void agent_control_serve(int lfd, struct agent_rt *rt);

/* `pdm agent --status`: copies what the agent at path writes to stdout.
 * Returns the exit status: 0, 1 (no agent answers), 2 (path too long). */
int agent_status_client(const char *path);

/* ---- netfilter rules (fw.c) ------------------------------------------------- */

/*
 * Replaces any stale rules of a crashed run, then installs the rules that
 * queue the enabled peers' IPv6 packets (egress: output hook; ingress:
 * input hook) to cfg's queues, fail-open ("bypass"), neighbour discovery
 * and MLD excluded. Returns the back end used, or AGENT_FW_NONE with a
 * message in err.
 */
enum agent_fw_kind agent_fw_install(const struct agent_config *cfg, char *err, size_t errlen);

/* Removes the rules installed by agent_fw_install() (quietly when absent).
 * Returns 0 or -1 when a command failed. */
int agent_fw_remove(const struct agent_config *cfg, enum agent_fw_kind kind);

/* "nft", "ip6tables" or "none". */
const char *agent_fw_name(enum agent_fw_kind kind);

/* ---- privileges (sandbox.c, docs/security.md) ------------------------------ */

/* Before any set-up: --user names an account other than root's, and not
 * with --keep-caps. Returns 0 or -1 with err. */
int agent_privileges_check(const struct agent_config *cfg, char *err, size_t errlen);

/* Main thread, before the queue threads start: CAP_NET_ADMIN alone, and
 * with cfg->user that account's uid and gids (CAP_NET_ADMIN kept, ambient
 * for the nft run at exit). Nothing with --keep-caps. Returns 0 or -1
 * with err. */
int agent_privileges_drop(const struct agent_config *cfg, char *err, size_t errlen);

/* 1 when the queue threads run under the seccomp allow-list: not with
 * --no-seccomp, not in a sanitizer build. */
int agent_sandbox_enabled(const struct agent_config *cfg);

/* The main thread, once privileges are dropped and before the queue
 * threads start: a deny-list (sandbox.c) it, they and nft inherit.
 * Returns 0 or -1 with err. */
int agent_main_sandbox(const struct agent_config *cfg, char *err, size_t errlen);

/* A queue thread, before its loop: installs the allow-list on itself
 * (the main thread stays free to run nft at exit). Returns 0 or -1 with
 * err. */
int agent_thread_sandbox(const struct agent_config *cfg, char *err, size_t errlen);

/* ---- NFQUEUE (nfq.c) ----------------------------------------------------- */

struct agent_nfq;

/*
 * Binds queue number `queue` (fail-open, whole packets, no GSO: the kernel
 * segments super-packets before queueing). Returns 0 or -1 with err.
 */
int agent_nfq_open(struct agent_nfq **out, struct agent_rt *rt, unsigned queue, char *err,
                   size_t errlen);

/* Starts the queue's thread. Returns 0 or -1 with err. */
int agent_nfq_start(struct agent_nfq *q, char *err, size_t errlen);

/* Waits for the thread (after rt->stop was set), unbinds, frees. */
void agent_nfq_close(struct agent_nfq *q);

/* Holds a socket with SO_TIMESTAMPNS so that the kernel stamps received
 * packets (NFQA_TIMESTAMP). Returns the fd or -1. */
int agent_nfq_enable_timestamps(void);

/* The MTU of interface ifindex (cached for a second), 0 if unknown. */
size_t agent_nfq_mtu(unsigned ifindex, uint64_t now_ns);

#endif /* PDM_TOOLS_AGENT_H */
