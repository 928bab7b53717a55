/*
 * openpdm metrics: what an observer derives from the PDM options of one
 * flow (RFC 8250 §3.1-3.2 and §4; PROFILE §2).
 *
 * Feed the packets of one flow, in the order they are observed, to
 * pdm_metrics_update(), each with its sender (client or server), the time it
 * was observed and its decoded PDM fields. The client is the endpoint that
 * sent first, or whichever the caller decides: the names only say which
 * side's DeltaTLR is which delay. Per packet, out comes:
 *
 *   server delay      DeltaTLR of a server packet
 *   client delay      DeltaTLR of a client packet
 *   round-trip delay  DeltaTLS of a client packet − DeltaTLR of the server
 *                     packet it follows: the one whose PSNTP equals the
 *                     client packet's PSNLR (looked up among the last
 *                     PDM_METRICS_HISTORY server packets); only the
 *                     first client packet that names a server packet
 *                     gives one: those after it, sent before the client
 *                     received again, repeat its PSNLR and DeltaTLS
 *
 * A round trip that comes out negative (the server's DeltaTLR above the
 * client's DeltaTLS: truncation of a tiny round trip next to a long server
 * delay, the ends' clock granularity, a bogus option) is not a delay: it
 * is counted in rtd_negative and kept out of the rtd statistics, never
 * entered as 0. Server and client delays are one sender's DeltaTLR, an
 * unsigned field: they cannot be negative here (a sender whose clock went
 * back sends 0, include/pdm/flow.h).
 *
 * all in nanoseconds via pdm_time_decode_ns() (truncated: each decoded
 * delta is at most 2^-15 of itself below the sender's value). There is no
 * one-way delay: the two clocks are not synchronised.
 *
 * A field is "absent" when the sender had nothing to measure (PROFILE §2:
 * the delta and its scale are 0): DeltaTLR is absent when DeltaTLR,
 * ScaleDTLR and PSNLR are all 0, DeltaTLS when DeltaTLS and ScaleDTLS are
 * both 0. Absent fields give no sample.
 *
 * Per direction, from the PSNTP sequence (16-bit, compared with serial
 * number arithmetic: a PSN up to 32767 ahead of the highest seen is ahead,
 * anything else is behind), with W = PDM_METRICS_WINDOW:
 *
 *   received    packets whose PSN is new (first copies, late ones included)
 *   lost        PSNs after the first one seen and before the highest that
 *               were still missing when they fell W PSNs behind the highest
 *               (pdm_metrics_lost() adds those still missing in the window,
 *               which is the count to report when the flow ends)
 *   reordered   packets that arrived after a packet with a higher PSN and
 *               filled a gap (not duplicates), within the window
 *   duplicates  packets whose PSN was already seen, within the window
 *   late        packets W or more behind the highest PSN: too old to tell a
 *               duplicate from a very late packet; such a PSN has usually
 *               been counted lost already
 *
 * Duplicates give no delay samples (they repeat fields already used).
 * Everything is fixed-size: no allocation, O(1) work per packet apart from
 * a gap, which costs up to W bit operations.
 */
#ifndef PDM_METRICS_H
#define PDM_METRICS_H

#include <pdm/codec.h>
#include <pdm/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Who sent a packet. */
#define PDM_METRICS_FROM_CLIENT 0
#define PDM_METRICS_FROM_SERVER 1

/* PSNs remembered per direction for duplicate and reorder detection
 * (bits; a multiple of 64). */
#define PDM_METRICS_WINDOW 256

/* Server packets remembered for round-trip matching. */
#define PDM_METRICS_HISTORY 32

/* A fixed-memory accumulator: count, min, max, mean. Zero-initialised is
 * empty; min and max are meaningful when count > 0. */
struct pdm_metrics_stat {
    uint64_t count;
    uint64_t min;
    uint64_t max;
    pdm_u128 sum; /* cannot overflow before 2^64 samples */
};

/* Adds one value. Returns nothing. */
PDM_EXTERN void pdm_metrics_stat_add(struct pdm_metrics_stat *s, uint64_t v);

/* Returns the mean of the values added, truncated, or 0 when there are none. */
PDM_EXTERN uint64_t pdm_metrics_stat_mean(const struct pdm_metrics_stat *s);

/* Sequence state and counters of one direction (definitions above). */
struct pdm_metrics_seq {
    uint64_t highest; /* highest PSN seen, extended to 64 bits */
    uint64_t base;    /* first PSN seen, extended */
    uint64_t received;
    uint64_t lost;
    uint64_t reordered;
    uint64_t duplicates;
    uint64_t late;
    uint64_t window[PDM_METRICS_WINDOW / 64]; /* bit (psn mod W): seen */
    uint8_t started;
};

/* What a packet's PSNTP was, relative to what came before. */
enum pdm_metrics_seq_event {
    PDM_METRICS_SEQ_FIRST = 0,     /* first packet of its direction */
    PDM_METRICS_SEQ_NEXT = 1,      /* highest + 1 */
    PDM_METRICS_SEQ_GAP = 2,       /* further ahead: `gap` PSNs skipped */
    PDM_METRICS_SEQ_REORDERED = 3, /* behind the highest, new */
    PDM_METRICS_SEQ_DUPLICATE = 4, /* seen before */
    PDM_METRICS_SEQ_LATE = 5,      /* W or more behind the highest */
};

/* pdm_metrics_sample.have */
#define PDM_METRICS_HAVE_SERVER_DELAY 0x1
#define PDM_METRICS_HAVE_CLIENT_DELAY 0x2
#define PDM_METRICS_HAVE_RTD          0x4
/* The packet's round trip came out negative, by rtd_ns: not a delay (no
 * PDM_METRICS_HAVE_RTD, not in pdm_metrics.rtd), counted in rtd_negative. */
#define PDM_METRICS_RTD_NEGATIVE 0x8

/* What one packet gave. Only the delays flagged in `have` are set. */
struct pdm_metrics_sample {
    uint64_t time_ns; /* observation time, as passed in */
    unsigned have;    /* PDM_METRICS_HAVE_* */
    uint64_t server_delay_ns;
    uint64_t client_delay_ns;
    uint64_t rtd_ns; /* with PDM_METRICS_RTD_NEGATIVE: how far below 0 */
    enum pdm_metrics_seq_event seq;
    uint32_t gap; /* PSNs skipped when seq is PDM_METRICS_SEQ_GAP */
};

/* A server packet kept for round-trip matching (its DeltaTLR as sent). */
struct pdm_metrics_hist {
    uint16_t psntp;
    uint16_t delta_tlr;
    uint8_t scale_dtlr;
    uint8_t used; /* 0 empty; else kept, and whether a round trip used it */
};

/* Everything the metrics of one flow need: 592 bytes, fixed. */
struct pdm_metrics {
    struct pdm_metrics_seq seq[2];        /* [PDM_METRICS_FROM_*] */
    struct pdm_metrics_stat server_delay; /* ns */
    struct pdm_metrics_stat client_delay; /* ns */
    struct pdm_metrics_stat rtd;          /* ns */
    uint64_t packets[2];                  /* every packet, duplicates included */
    uint64_t rtd_unmatched;               /* client packets with DeltaTLS whose PSNLR named no
                                             remembered server packet with a DeltaTLR */
    uint64_t rtd_negative;                /* round trips that came out negative: not in rtd */
    uint64_t first_ns, last_ns;           /* observation times of the first and last packet */
    struct pdm_metrics_hist hist[PDM_METRICS_HISTORY]; /* ring of server packets */
    unsigned hist_next;
};

/* Resets m to "no packet seen" (same as zero-initialising it). Returns nothing. */
PDM_EXTERN void pdm_metrics_init(struct pdm_metrics *m);

/*
 * Accounts one observed packet: `from` is PDM_METRICS_FROM_CLIENT or
 * PDM_METRICS_FROM_SERVER, now_ns its observation time, f its decoded PDM
 * fields. Updates the sequence counters and the delay accumulators, and
 * describes the packet in *out (may be NULL).
 * Returns the number of delays the packet gave (0, 1 or 2: a client packet
 * can give a client delay and a round-trip delay; a negative round trip is
 * none), or
 *   PDM_ERR_INVAL  m or f NULL, or `from` not 0 or 1
 */
PDM_EXTERN int pdm_metrics_update(struct pdm_metrics *m, unsigned from, uint64_t now_ns,
                                  const struct pdm_fields *f, struct pdm_metrics_sample *out);

/* Returns the PSNs of direction `from` (0 or 1) counted lost so far plus
 * those still missing inside the window: the loss to report at the end of
 * the flow. 0 for a direction with no packets. */
PDM_EXTERN uint64_t pdm_metrics_lost(const struct pdm_metrics *m, unsigned from);

#ifdef __cplusplus
}
#endif

#endif /* PDM_METRICS_H */
