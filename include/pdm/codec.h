/*
 * openpdm codec: PDM options, Destination Options headers, and the IPv6
 * extension-header chain. Sans-IO: no allocation, no system calls; every
 * function works on caller buffers and checks every length.
 *
 * Wire layouts (PROFILE §1; all integers big-endian):
 *
 *   RFC 8250, Option Length 10:
 *   +------+------+---------+---------+--------+--------+----------+----------+
 *   | Type | 0x0A |ScaleDTLR|ScaleDTLS| PSNTP  | PSNLR  | DeltaTLR | DeltaTLS |
 *   +------+------+---------+---------+--------+--------+----------+----------+
 *      1      1        1         1        2        2        2          2
 *
 *   PDMv2 unencrypted, Option Length 18:
 *   | Type | 0x12 | 0x2000 (Vrsn 2, Reserved) | RN<<1|F (2) | ScaleDTLR | ScaleDTLS |
 *   | GlobalPointer (4) | PSNTP (2) | PSNLR (2) | DeltaTLR (2) | DeltaTLS (2) |
 *
 *   PDMv2 encrypted, Option Length 34:
 *   | Type | 0x22 | 0x2000 | RN<<1|F (2) | ciphertext || tag (30) |
 *   The 6 clear bytes are the AEAD's AAD; the plaintext is the 14 bytes that
 *   follow RN/F in the unencrypted layout (pdm_fields_pack()).
 */
#ifndef PDM_CODEC_H
#define PDM_CODEC_H

#include <pdm/common.h>
#include <pdm/protocol.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Draft -14 layout (draft-ietf-ippm-encrypted-pdmv2-LATEST §7, PROFILE §1,
 * format "v2-14"): pdm_v214_encode() / pdm_v214_decode() below; the eBPF
 * path does not handle it yet. Sent unencrypted only: the draft leaves
 * protection to the registration system. 24 bytes:
 *   | Type | Length 22 | Version(4)=2 Epoch(12) | PSNTP (4) | PSNLR (4) |
 *   | GlobalPointer (4) | ScaleDTLR | ScaleDTLS | Reserved (2) |
 *   | DeltaTLR (2) | DeltaTLS (2) |
 * The draft's text says "0x22" for the length, but its figure is 24 bytes
 * (2 + 22), and 0x22 (34) is already the encrypted PDMv2 length; we take
 * 22 decimal (0x16), which is what lets a decoder tell the layouts apart.
 * Offsets are from the Option Type byte.
 */
#define PDM_V214_OPT_LEN        22u
#define PDM_V214_OPT_SIZE       24u
#define PDM_V214_VERSION        2u
#define PDM_V214_EPOCH_MAX      0x0fffu
#define PDM_V214_OFF_VER_EPOCH  2u  /* u16 BE: version << 12 | epoch */
#define PDM_V214_OFF_PSNTP      4u  /* u32 BE */
#define PDM_V214_OFF_PSNLR      8u  /* u32 BE */
#define PDM_V214_OFF_GP         12u /* u32 BE */
#define PDM_V214_OFF_SCALE_DTLR 16u
#define PDM_V214_OFF_SCALE_DTLS 17u
#define PDM_V214_OFF_RESERVED   18u /* u16, zero on send */
#define PDM_V214_OFF_DTLR       20u /* u16 BE */
#define PDM_V214_OFF_DTLS       22u /* u16 BE */
#define PDM_V214_HDR_SIZE       32u /* a fresh header: NH, HdrExtLen, option, PadN(4) */

enum pdm_format {
    PDM_FORMAT_NONE = 0,
    PDM_FORMAT_RFC8250 = 1,      /* "pdm" */
    PDM_FORMAT_V2 = 2,           /* "v2" */
    PDM_FORMAT_V2_ENCRYPTED = 3, /* "v2-encrypted" */
    PDM_FORMAT_V2_14 = 4,        /* "v2-14": draft -14's 24-byte layout (PDM_V214_*) */
};

/* The metric fields (RFC 8250 §3.1 and draft-04 §6). global_pointer is
 * PDMv2 only and is ignored for RFC 8250. */
struct pdm_fields {
    uint8_t scale_dtlr;
    uint8_t scale_dtls;
    uint32_t global_pointer;
    uint16_t psntp;
    uint16_t psnlr;
    uint16_t delta_tlr;
    uint16_t delta_tls;
};

/* One option, decoded or to encode. */
struct pdm_option {
    uint8_t type; /* option type; PDM_OPT_TYPE unless configured */
    enum pdm_format format;
    uint16_t rn;                        /* PDMv2: 15-bit random number */
    uint8_t f;                          /* PDMv2: F bit, 0 or 1 */
    struct pdm_fields fields;           /* clear fields; zero for an encrypted option */
    uint8_t sealed[PDM_V2_SEALED_SIZE]; /* encrypted: ciphertext || tag */
};

/* Returns the canonical name ("pdm", "v2", "v2-encrypted", "v2-14") or "none". */
PDM_EXTERN const char *pdm_format_name(enum pdm_format fmt);

/* Parses a name as printed by pdm_format_name(); returns
 * PDM_FORMAT_NONE for an unknown name. */
PDM_EXTERN enum pdm_format pdm_format_parse(const char *name);

/* Size of a whole option (Type, Length, data) of this format, 0 if none. */
PDM_EXTERN size_t pdm_option_size(enum pdm_format fmt);

/* Writes the 14-byte PDMv2 plaintext / unencrypted tail of f. */
PDM_EXTERN void pdm_fields_pack(uint8_t out[PDM_V2_PT_SIZE], const struct pdm_fields *f);

/* Reads the 14-byte layout written by pdm_fields_pack(). */
PDM_EXTERN void pdm_fields_unpack(struct pdm_fields *f, const uint8_t in[PDM_V2_PT_SIZE]);

/*
 * Writes the 6 clear bytes of a PDMv2 option (Type, Length, 0x2000, RN/F)
 * for the given format (V2 or V2_ENCRYPTED); they are the AEAD's AAD.
 * Length is 0x22 for V2_ENCRYPTED and 0x12 for any other fmt; rn is taken
 * modulo 2^15 and f modulo 2 (callers validate them; encode does).
 */
PDM_EXTERN void pdm_option_write_clear(uint8_t out[PDM_V2_AAD_SIZE], uint8_t type,
                                       enum pdm_format fmt, uint16_t rn, uint8_t f);

/*
 * Encodes opt into out (outlen bytes). rn and f are ignored for RFC 8250.
 * Returns the number of bytes written (12, 20 or 36), or
 *   PDM_ERR_INVAL   unknown format, RN > 32767, F > 1, or PDM_FORMAT_V2_14
 *                   (its 32-bit PSNs do not fit struct pdm_fields: use
 *                   pdm_v214_encode())
 *   PDM_ERR_OPT_RN  encrypted option with RN 0
 *   PDM_ERR_NOBUF   outlen too small
 */
PDM_EXTERN PDM_WARN_UNUSED ssize_t pdm_option_encode(uint8_t *out, size_t outlen,
                                                     const struct pdm_option *opt);

/*
 * Decodes one option starting at its Type byte. type is the option type to
 * accept (normally PDM_OPT_TYPE).
 * A draft -14 option (Length 22) decodes as PDM_FORMAT_V2_14 with rn and f
 * 0 and its fields as pdm_v214_fields() gives them (PSNs' low 16 bits);
 * pdm_v214_decode() at the same bytes gives the epoch and full PSNs.
 * Returns the number of bytes consumed (2 + Option Length), or
 *   PDM_ERR_TRUNCATED    fewer than 2 bytes, or fewer than the length says
 *   PDM_ERR_OPT_TYPE     in[0] != type
 *   PDM_ERR_OPT_LENGTH   length is not 10, 18, 22 or 34
 *   PDM_ERR_OPT_VERSION  PDMv2 version nibble is not 2
 *   PDM_ERR_OPT_RN       encrypted option with RN 0
 */
PDM_EXTERN PDM_WARN_UNUSED ssize_t pdm_option_decode(struct pdm_option *opt, const uint8_t *in,
                                                     size_t inlen, uint8_t type);

/*
 * A draft -14 option, every field at its full width. reserved is what
 * was received (ignored on receipt); pdm_v214_encode() always sends 0.
 */
struct pdm_v214 {
    uint8_t type;   /* option type; PDM_OPT_TYPE unless configured */
    uint16_t epoch; /* 12 bits: 0 .. PDM_V214_EPOCH_MAX */
    uint32_t psntp;
    uint32_t psnlr;
    uint32_t global_pointer;
    uint8_t scale_dtlr;
    uint8_t scale_dtls;
    uint16_t reserved;
    uint16_t delta_tlr;
    uint16_t delta_tls;
};

/*
 * Encodes a draft -14 option into out (outlen bytes): Type, Length 22,
 * Version 2 and Epoch, PSNTP, PSNLR, Global Pointer, the scales, Reserved
 * as 0, the deltas (all big-endian). Returns PDM_V214_OPT_SIZE (24), or
 *   PDM_ERR_INVAL  out or opt NULL, epoch above PDM_V214_EPOCH_MAX
 *   PDM_ERR_NOBUF  outlen below 24
 */
PDM_EXTERN PDM_WARN_UNUSED ssize_t pdm_v214_encode(uint8_t *out, size_t outlen,
                                                   const struct pdm_v214 *opt);

/*
 * Decodes a draft -14 option starting at its Type byte; type is the option
 * type to accept. Returns the bytes consumed (24), or
 *   PDM_ERR_INVAL        opt or in NULL
 *   PDM_ERR_TRUNCATED    fewer than 2 bytes, or fewer than 2 + Length
 *   PDM_ERR_OPT_TYPE     in[0] != type
 *   PDM_ERR_OPT_LENGTH   Length is not 22
 *   PDM_ERR_OPT_VERSION  version nibble is not 2
 */
PDM_EXTERN PDM_WARN_UNUSED ssize_t pdm_v214_decode(struct pdm_v214 *opt, const uint8_t *in,
                                                   size_t inlen, uint8_t type);

/*
 * The fields of a -14 option as the 16-bit struct pdm_fields holds them
 * (what pdm_option_decode() and pdm_pkt_parse() report for one): the PSNs'
 * low 16 bits, everything else as is. Sequence accounting on 16 bits
 * (serial arithmetic) sees the same gaps while they stay below 32768.
 * Returns nothing.
 */
PDM_EXTERN void pdm_v214_fields(struct pdm_fields *f, const struct pdm_v214 *opt);

/*
 * Builds a fresh Destination Options header holding exactly one option,
 * given as encoded bytes (optlen bytes, optlen even), followed by padding to
 * a multiple of 8 octets: NH, HdrExtLen, option, Pad1/PadN.
 * Returns the header size (16, 24 or 40 for the PDM formats), or
 *   PDM_ERR_INVAL  opt NULL, optlen odd or != 2 + opt[1], opt[0] a pad type
 *   PDM_ERR_NOBUF  outlen smaller than the header
 */
PDM_EXTERN PDM_WARN_UNUSED ssize_t pdm_dstopt_build(uint8_t *out, size_t outlen,
                                                    uint8_t next_header, const uint8_t *opt,
                                                    size_t optlen);

/*
 * Walks the TLV options of one Destination Options (or Hop-by-Hop) header
 * of hdrlen bytes (whole header, NH and HdrExtLen included) and looks for
 * an option of type `type`. Checks that every option fits, that PadN
 * carries zeros, that no run of padding (Pad1 and PadN together) is longer
 * than 7 bytes (RFC 8200 §4.2: padding only aligns within 8 octets; Linux
 * applies the same two rules), and that the header length matches hdrlen.
 * Options of other types are skipped whatever their action bits say.
 * Returns 0 and fills *opt and *opt_off (offset of the option's Type byte
 * within the header) when found; PDM_ERR_NOT_FOUND when the header is
 * well formed but has no such option; PDM_ERR_HDR_LENGTH (hdrlen < 8 or
 * not (HdrExtLen + 1) * 8), PDM_ERR_HDR_OPTIONS for malformed options,
 * PDM_ERR_DUPLICATE when two options have that type, or any
 * pdm_option_decode() error when the PDM option itself is malformed.
 * The whole header is checked before the option is decoded. opt or
 * opt_off may be NULL.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_dstopt_find(const uint8_t *hdr, size_t hdrlen, uint8_t type,
                                               struct pdm_option *opt, size_t *opt_off);

/* What pdm_pkt_parse() learns about one IPv6 packet. */
struct pdm_pkt_info {
    size_t pkt_len;        /* 40 + Payload Length */
    uint8_t upper_proto;   /* Next Header of the upper layer (or ESP/No Next Header;
                              for a non-first fragment, the Fragment header's) */
    size_t upper_off;      /* offset where the chain ends: the upper-layer header,
                              the ESP header or what follows No Next Header; pkt_len
                              for a non-first fragment (upper layer not visible) */
    size_t nh_off;         /* offset of the Next Header byte naming the upper layer */
    size_t final_dst_off;  /* offset of the Destination Options header right before
                              upper_off, 0 if there is none */
    size_t final_dst_len;  /* its length in bytes */
    size_t final_dst_end;  /* where its options end, trailing padding excluded, from
                              the header's start (2 when it holds only padding): where
                              an option merged into it goes */
    int is_fragment;       /* a Fragment header is present */
    int has_pdm;           /* a PDM option was found (in any options header) */
    size_t pdm_off;        /* offset of its Type byte in the packet */
    struct pdm_option pdm; /* the decoded option when has_pdm */
    int has_ports;         /* sport/dport were read from the upper layer */
    uint16_t sport, dport; /* transport ports (0 when not applicable) */
};

/*
 * Parses an IPv6 packet of len bytes: checks the fixed header and Payload
 * Length, walks the extension-header chain (Hop-by-Hop, Routing, Fragment,
 * AH, Destination Options; it stops at ESP, No Next Header and any
 * upper-layer protocol), and looks for a PDM option of type `type` in every
 * options header. Bytes beyond 40 + Payload Length are ignored. Mobility
 * (135), HIP (139) and Shim6 (140) are walked as generic extension headers
 * (RFC 7045). A Fragment header with a non-zero offset ends the walk (the
 * upper layer is in the first fragment). Ports are read for TCP, UDP,
 * UDP-Lite, SCTP and DCCP when 4 bytes of the upper header are present.
 * Returns 0, or
 *   PDM_ERR_NOT_IPV6        version is not 6, or len < 40
 *   PDM_ERR_PAYLOAD_LENGTH  len < 40 + Payload Length
 *   PDM_ERR_JUMBO           Payload Length 0 and a Jumbo Payload option
 *   PDM_ERR_HDR_LENGTH      a header runs past 40 + Payload Length (also
 *                           Payload Length 0 with a Hop-by-Hop header
 *                           that is not a jumbogram)
 *   PDM_ERR_HDR_OPTIONS     malformed options, or Hop-by-Hop not first
 *   PDM_ERR_DUPLICATE       two PDM options
 *   or a pdm_option_decode() error for a malformed PDM option.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_pkt_parse(const uint8_t *pkt, size_t len, uint8_t type,
                                             struct pdm_pkt_info *info);

/*
 * Inserts the encoded option (optlen bytes) into the IPv6 packet in pkt,
 * whose length is *len, in place, in a buffer of cap bytes. The option goes
 * into the Destination Options header right before the upper-layer header:
 * merged into it (after its options, trailing padding replaced) when there
 * is one, else a new header is inserted. The option starts at an even
 * offset within the header and the header is padded to a multiple of 8.
 * The option's type is opt[0]; optlen must be even and 2 + opt[1].
 * Payload Length and the Next Header chain are fixed; *len gets the new
 * length and *opt_off (may be NULL) the offset of the option's Type byte.
 * Bytes beyond 40 + Payload Length (link padding) are dropped. On any
 * error the packet and *len are unchanged.
 * Returns the number of bytes added, or any pdm_pkt_parse() error, or
 *   PDM_ERR_INVAL      bad option bytes, len NULL, *len > cap
 *   PDM_ERR_ESP        the chain reaches ESP
 *   PDM_ERR_FRAGMENT   the packet is a fragment
 *   PDM_ERR_DUPLICATE  it already carries a PDM option
 *   PDM_ERR_TOO_BIG    cap, 65535 Payload Length or 2048-byte header exceeded
 */
PDM_EXTERN PDM_WARN_UNUSED ssize_t pdm_pkt_insert(uint8_t *pkt, size_t *len, size_t cap,
                                                  const uint8_t *opt, size_t optlen,
                                                  size_t *opt_off);

/*
 * What pdm_pkt_insert_room() changed in a packet, kept by the caller for
 * pdm_pkt_insert_undo(). Filled by pdm_pkt_insert_room(); opaque otherwise.
 */
struct pdm_insert_undo {
    size_t at, add;  /* the gap: bytes from `at` on moved up by `add` */
    size_t pkt_len;  /* the packet's length before (40 + Payload Length) */
    size_t hdr_off;  /* merged: offset of the header that grew; 0: a fresh one */
    size_t nh_off;   /* fresh: the Next Header byte that now says 60 */
    size_t pad_at;   /* merged: header offset of its old trailing padding */
    uint8_t old_nh;  /* fresh: that byte's old value; merged: old HdrExtLen */
    uint8_t pad_len; /* merged: bytes of old trailing padding (at most 7) */
    uint8_t pad[8];  /* merged: those bytes */
};

/*
 * The insertion of pdm_pkt_insert() from the one parse, with the option
 * written by the caller where it goes (no copy, no second parse): pkt (*len
 * bytes in a buffer of cap) was parsed by pdm_pkt_parse() into *info, with
 * the type of the option to insert, and has not changed since. Opens room
 * for an option of optlen bytes (2 + its Option Length, even: at most 256)
 * exactly as pdm_pkt_insert() would place it, and writes everything around
 * it: the bytes after it moved, the padding before and after it, the
 * header's new HdrExtLen (merge) or a fresh header's NH and HdrExtLen,
 * the Next Header that names a fresh header, Payload Length. The option's
 * own optlen bytes, at pkt + *opt_off (even within its header), are left
 * for the caller to write (pdm_option_encode(), pdm_profile_tx_seal()):
 * until then they hold stale bytes, so the packet is not valid before.
 * *undo (may be NULL) records what pdm_pkt_insert_undo() needs.
 * Returns the bytes added, with *len the new length and *opt_off, or
 *   PDM_ERR_INVAL      NULL pkt/len/info/opt_off, optlen odd, < 2 or > 256,
 *                      *len > cap, *len < info->pkt_len
 *   PDM_ERR_FRAGMENT, PDM_ERR_ESP, PDM_ERR_DUPLICATE (info->has_pdm),
 *   PDM_ERR_TOO_BIG    as pdm_pkt_insert()
 * On error the packet, *len and *opt_off are unchanged.
 */
PDM_EXTERN PDM_WARN_UNUSED ssize_t pdm_pkt_insert_room(uint8_t *pkt, size_t *len, size_t cap,
                                                       const struct pdm_pkt_info *info,
                                                       size_t optlen, size_t *opt_off,
                                                       struct pdm_insert_undo *undo);

/*
 * Takes back what pdm_pkt_insert_room() did to pkt (*len its length after
 * it; undo as it filled it), for a caller whose option could not be
 * written after all (a seal that failed): the first 40 + Payload Length
 * bytes are as they were before, and *len that length (link-layer padding
 * past it, dropped by the insertion, does not come back). Returns nothing.
 */
PDM_EXTERN void pdm_pkt_insert_undo(uint8_t *pkt, size_t *len, const struct pdm_insert_undo *undo);

/*
 * The same insertion as pdm_pkt_insert(), but copying: the packet in src

 * (srclen bytes, not modified) is written to dst (dstcap bytes, must not
 * overlap src) with the option in place. The copy opens the gap, so the
 * cost is one pass over the packet: the path for callers that copy anyway
 * (a receive buffer into a verdict buffer). *dstlen gets the new length and
 * *opt_off (may be NULL) the option's offset in dst. dst is undefined on
 * error. Returns the number of bytes added, or the errors of
 * pdm_pkt_insert() (PDM_ERR_TOO_BIG when dstcap is too small).
 */
PDM_EXTERN PDM_WARN_UNUSED ssize_t pdm_pkt_insert_copy(uint8_t *dst, size_t dstcap,
                                                       const uint8_t *src, size_t srclen,
                                                       const uint8_t *opt, size_t optlen,
                                                       size_t *dstlen, size_t *opt_off);

#ifdef __cplusplus
}
#endif

#endif /* PDM_CODEC_H */
