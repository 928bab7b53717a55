/*
 * openpdm: key log lines for analysers (docs/profile.md §3), in the spirit
 * of SSLKEYLOGFILE. Text, one entry a line; '#' starts a comment (anywhere:
 * no field contains '#'); fields are separated by spaces or tabs:
 *
 *   PDMV2_SECRET  <client-addr> <server-addr> <kem>-<kdf>-<aead> <salt-hex> <secret-hex>
 *   PDMV2_PRIMARY <client-prefix/len> <server-addr or prefix/len> <kem>-<kdf>-<aead>
 *                 <salt-hex> <primary-secret-hex>
 *
 * Addresses are IPv6 text (RFC 4291 §2.2, as inet_pton reads it); suites are
 * pdm_suite_parse()'s "0020-0001-0001"; the salt is 32 bytes (64 hex
 * digits); the secret is Nh bytes of the suite's KDF. A PDMV2_SECRET line
 * holds a registration's SharedSecret for the flows between the two
 * addresses; a PDMV2_PRIMARY line holds a primary pair's PrimarySecret,
 * from which the ClientSecret of any client in the prefix is derived
 * (pdm_profile_primary_*, include/pdm/profile.h).
 *
 * Sans-IO: the parser reads one line from a buffer, the formatter writes
 * one into a buffer; reading and writing files (mode 0600) is the tools'.
 */
#ifndef PDM_KEYLOG_H
#define PDM_KEYLOG_H

#include <pdm/common.h>
#include <pdm/hpke.h>
#include <pdm/protocol.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest line the formatter writes, NUL included (the parser takes any
 * length). */
#define PDM_KEYLOG_LINE_MAX 384

enum pdm_keylog_kind {
    PDM_KEYLOG_SECRET = 1,  /* PDMV2_SECRET */
    PDM_KEYLOG_PRIMARY = 2, /* PDMV2_PRIMARY */
};

/*
 * One entry. client/server are 16-byte addresses; *_plen their prefix
 * lengths (128 for a single address: always for PDMV2_SECRET and for a
 * PDMV2_PRIMARY server given as an address). Bits past a prefix length are
 * zero. Wipe with pdm_keylog_entry_wipe().
 */
struct pdm_keylog_entry {
    enum pdm_keylog_kind kind;
    uint8_t client[16];
    uint8_t client_plen;
    uint8_t server[16];
    uint8_t server_plen;
    struct pdm_hpke_suite suite;
    uint8_t salt[PDM_REG_SALT_SIZE];
    uint8_t secret[PDM_HPKE_NH_MAX];
    uint8_t secret_len; /* Nh of the suite */
};

/*
 * Parses one line (len bytes; a trailing "\n" or "\r\n" is allowed, no NUL
 * needed) into *e. When why is not NULL, a failure writes a one-line
 * reason there (at most whylen bytes with its NUL), e.g.
 * "field 5 (salt): 62 hex digits, want 64"; a reason never quotes the
 * label, the salt or the secret (a line may be a secret of another kind).
 * The salt and secret are read in constant time (pdm_hex_decode).
 * Returns 1 with *e filled, 0 for a blank or comment-only line (*e
 * zeroed), or
 *   PDM_ERR_MALFORMED    not a well-formed line (the reason says why)
 *   PDM_ERR_UNSUPPORTED  a well-formed suite the profile cannot use
 *   PDM_ERR_INVAL        NULL line or e
 * *e is wiped on failure.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_keylog_parse_line(const char *line, size_t len,
                                                     struct pdm_keylog_entry *e, char *why,
                                                     size_t whylen);

/*
 * Writes the line of *e, without a newline, NUL-terminated, into out (cap
 * bytes; PDM_KEYLOG_LINE_MAX is always enough): one space between fields,
 * addresses in RFC 5952 form, lowercase hex. A PDMV2_PRIMARY client always
 * has "/len"; a server has it unless it is 128. Parsing the result gives
 * *e back. Returns the length written (NUL excluded), PDM_ERR_INVAL (NULL,
 * unknown kind, prefix length above 128, secret_len not the suite's Nh,
 * suite unusable), PDM_ERR_NOBUF.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_keylog_format_line(const struct pdm_keylog_entry *e, char *out,
                                                      size_t cap);

/*
 * Whether *e covers flows between client and server (16-byte addresses):
 * the client within e's client prefix and the server within e's server
 * prefix (a single address for PDMV2_SECRET). Returns 1 or 0.
 */
PDM_EXTERN int pdm_keylog_match(const struct pdm_keylog_entry *e, const uint8_t client[16],
                                const uint8_t server[16]);

/* The i-th entry of a caller's collection, or NULL to pass it by (an
 * expired record, say). */
typedef const struct pdm_keylog_entry *(*pdm_keylog_at_fn)(void *ctx, size_t i);

/*
 * The one secret lookup of openpdm, used by the store, the agent and the
 * analyser alike: which secret protects the flows between client and
 * server (16-byte addresses), among the entries at(ctx, 0) ..
 * at(ctx, n - 1). The entries that cover the pair (pdm_keylog_match) are
 * ordered, best first:
 *
 *   1. a PDMV2_SECRET entry (exactly this client and server) before any
 *      PDMV2_PRIMARY entry;
 *   2. among PDMV2_PRIMARY entries, the longer client prefix first, then
 *      the longer server prefix (the most specific delegation wins, as in
 *      a routing table);
 *   3. the tie-break: among entries equal by 1 and 2, the higher index
 *      first. Callers list entries oldest first (a key log's lines in file
 *      order, a store's records by creation), so the newest wins.
 *
 * Entries that are NULL (an expired record, say) or not well formed (what
 * pdm_keylog_format_line() refuses: an unknown kind, a PDMV2_SECRET with
 * a prefix length other than 128, an unusable suite, a secret that is not
 * the suite's Nh) are passed by: they take no rank, so a bad entry never
 * hides a good one.
 *
 * rank 0 asks for the best, rank 1 for the next, and so on: a sender uses
 * rank 0; an analyser, which does not know which registration a capture
 * used, tries ranks in turn until one opens the options.
 *
 * *out (when not NULL) is zeroed first. On success *out is a PDMV2_SECRET
 * entry for exactly (client, server): the entry itself, or for a primary
 * its ClientSecret(client) (pdm_profile_primary_client, docs/profile.md
 * §3) under the primary's suite and salt; and *index (when not NULL) is
 * the index of the entry it came from (not written otherwise).
 * O(n × (rank + 1)), no allocation. docs/crypto.md §10 tells why this
 * order.
 * Returns 1 found, 0 no entry at that rank, PDM_ERR_INVAL (NULL at,
 * client, server or out), PDM_ERR_CRYPTO (the derivation failed; *out
 * wiped).
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_keylog_lookup(pdm_keylog_at_fn at, void *ctx, size_t n,
                                                 const uint8_t client[16], const uint8_t server[16],
                                                 size_t rank, struct pdm_keylog_entry *out,
                                                 size_t *index);

/* Wipes *e (NULL is fine). Returns nothing. */
PDM_EXTERN void pdm_keylog_entry_wipe(struct pdm_keylog_entry *e);

#ifdef __cplusplus
}
#endif

#endif /* PDM_KEYLOG_H */
