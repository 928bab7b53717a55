/*
 * openpdm: protocol constants and limits, in one place.
 *
 * References: RFC 8250 (PDM), draft-ietf-ippm-encrypted-pdmv2-04 (PDMv2),
 * RFC 8200 (IPv6), and docs/profile.md (the byte-level profile this project
 * implements, "pdmv2-hpke-1").
 */
#ifndef PDM_PROTOCOL_H
#define PDM_PROTOCOL_H

/* Option type: RFC 8250 §3.1; high bits 00 = skip if unknown. */
#define PDM_OPT_TYPE 0x0F

/* Option Data Length tells the three formats apart (PROFILE §1). */
#define PDM_OPTLEN_RFC8250 10 /* 0x0A */
#define PDM_OPTLEN_V2      18 /* 0x12 */
#define PDM_OPTLEN_V2_ENC  34 /* 0x22 */

/* Whole option sizes, Type and Length included. */
#define PDM_OPTSIZE_RFC8250 (2 + PDM_OPTLEN_RFC8250) /* 12 */
#define PDM_OPTSIZE_V2      (2 + PDM_OPTLEN_V2)      /* 20 */
#define PDM_OPTSIZE_V2_ENC  (2 + PDM_OPTLEN_V2_ENC)  /* 36 */
#define PDM_OPTSIZE_MAX     PDM_OPTSIZE_V2_ENC

/* Fresh Destination Options header sizes: NH, HdrExtLen, option, PadN. */
#define PDM_HDRSIZE_RFC8250 16
#define PDM_HDRSIZE_V2      24
#define PDM_HDRSIZE_V2_ENC  40

/* PDMv2: first two bytes after Type/Length are Version(4) | Reserved(12). */
#define PDM_V2_VERSION      2
#define PDM_V2_VERSION_WORD 0x2000

/* PDMv2 encrypted: 6 clear bytes (AAD), then ciphertext || tag. */
#define PDM_V2_AAD_SIZE    6
#define PDM_V2_PT_SIZE     14 /* ScaleDTLR ScaleDTLS GP(4) PSNTP PSNLR DTLR DTLS */
#define PDM_V2_TAG_SIZE    16 /* every supported AEAD has a 16-byte tag */
#define PDM_V2_SEALED_SIZE 30 /* PT_SIZE + TAG_SIZE */

/* RN is 15 bits; never 0 in an encrypted option (PROFILE §1). */
#define PDM_RN_MIN   1
#define PDM_RN_MAX   32767
#define PDM_RN_COUNT 32767 /* values one key can seal */

/* Key Rotation Index: 16 bits; past this a new registration is needed. */
#define PDM_KRI_MAX 65535

/* Receiver's Kri search window (candidates of matching parity ahead). */
#define PDM_KRI_WINDOW 8

/* IPv6 (RFC 8200). */
#define PDM_IPV6_HDR_SIZE 40
#define PDM_IPV6_MIN_MTU  1280
#define PDM_EXTHDR_MAX    2048 /* (255 + 1) * 8: largest options header */

/* Next Header values used by the chain walker. */
#define PDM_NH_HOPOPTS  0
#define PDM_NH_TCP      6
#define PDM_NH_UDP      17
#define PDM_NH_DCCP     33
#define PDM_NH_ROUTING  43
#define PDM_NH_FRAGMENT 44
#define PDM_NH_ESP      50
#define PDM_NH_AH       51
#define PDM_NH_ICMPV6   58
#define PDM_NH_NONE     59
#define PDM_NH_DSTOPTS  60
#define PDM_NH_MOBILITY 135
#define PDM_NH_HIP      139
#define PDM_NH_SHIM6    140
#define PDM_NH_SCTP     132
#define PDM_NH_UDPLITE  136

/* Pad options inside an options header (RFC 8200 §4.2). */
#define PDM_OPT_PAD1 0x00
#define PDM_OPT_PADN 0x01

/* Registration (PROFILE §4). */
#define PDM_REG_VERSION      1
#define PDM_REG_MSG_MAX      2048 /* body length limit */
#define PDM_REG_SUITES_MAX   32
#define PDM_REG_SALT_SIZE    32
#define PDM_REG_CONFIRM_SIZE 32
#define PDM_REG_PORT         8250

#endif /* PDM_PROTOCOL_H */
