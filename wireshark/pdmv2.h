/*
 * The PDMv2 Wireshark plugin (wireshark/README.md, docs/wireshark.md).
 *
 * Two halves:
 *   packet-pdmv2.c  the Wireshark side: registration, preferences, the
 *                   postdissector that finds the IPv6 header, the tree
 *   state.c         what `pdm analyze` does per packet, without Wireshark:
 *                   flows and roles, the key log and each direction's
 *                   receiver, replay and out-of-order handling,
 *                   pdm_metrics_update(); the result of each frame
 *
 * Every decoding, key derivation and metric is openpdm's own library
 * (libpdm_pic.a): pdm_pkt_parse(), pdm_keylog_lookup(),
 * pdm_profile_rx_open(), pdm_metrics_update(). The state half mirrors the
 * analyser's rules (tools/analyze/core.c, flows.c, keys.c; cited where
 * they are applied) so that the delays agree with `pdm analyze`.
 */
#ifndef PDMV2_PLUGIN_H
#define PDMV2_PLUGIN_H

#include <pdm/codec.h>
#include <pdm/metrics.h>

#include <stddef.h>
#include <stdint.h>

/* What became of one frame's PDM option. */
enum pw_status {
    PW_CLEAR = 1,       /* RFC 8250 or unencrypted PDMv2: fields as sent */
    PW_OPENED = 2,      /* encrypted PDMv2 that opened: fields valid */
    PW_AUTH_FAILED = 3, /* encrypted, opened under no candidate key */
    PW_NO_KEY = 4,      /* encrypted, the key log has no entry for the flow */
};

/* The per-frame result, computed once on the first pass (frames in
 * capture order) and shown as is afterwards. */
struct pw_frame {
    enum pw_status status;
    uint32_t flow;                    /* flow index, 0 first (as tcp.stream) */
    unsigned role;                    /* PDM_METRICS_FROM_CLIENT or _SERVER */
    int replayed;                     /* opened, but its (Kri, RN) had opened before: not used */
    int behind;                       /* PSNTP behind the highest: deltas not used */
    uint32_t kri;                     /* PW_OPENED: the Kri it opened under */
    struct pdm_fields fields;         /* CLEAR and OPENED */
    uint8_t plain[PDM_V2_PT_SIZE];    /* OPENED: the 14 plaintext bytes */
    struct pdm_metrics_sample sample; /* valid when accounted */
    int accounted;                    /* given to pdm_metrics_update() */
    uint32_t psnlr_frame;             /* the peer's packet whose PSNTP is this PSNLR, or 0 */
    uint32_t rtd_frame;               /* the server packet the round trip used, or 0 */
    /* Set by the dissector: where the IPv6 header was on the first pass,
     * for a later pass whose tree has no ipv6 item to find (tshark -2
     * primes the postdissector's fields on the first pass only). */
    int ip_start;
    int ip_in_frame; /* it was in the frame's own tvb */
};

/* Loads the key log at path (NULL or "" for none), replacing any loaded
 * before. Returns the number of entries, or -1 (the file cannot be read);
 * *bad gets the number of lines that did not parse (skipped). */
int pw_keys_load(const char *path, unsigned *bad);

/* Forgets every flow (a new capture file). Returns nothing. */
void pw_flows_reset(void);

/* Frees flows and keys (at exit). Returns nothing. */
void pw_free_all(void);

/*
 * Accounts the packet pkt (len bytes from its IPv6 header), already parsed
 * into *info with has_pdm set, observed at ts_ns as frame `frame`, exactly
 * as `pdm analyze` would, and fills *out. Returns 0, or -1 when the packet
 * is not one the analyser accounts (TCP/UDP without visible ports).
 */
int pw_account(const uint8_t *pkt, const struct pdm_pkt_info *info, uint64_t ts_ns, uint32_t frame,
               struct pw_frame *out);

#endif /* PDMV2_PLUGIN_H */
