/*
 * HPKE choices on the command line: suite lists (as key logs write suites,
 * "kkkk-dddd-aaaa"), the default preference, the suite towards a KEM's
 * key, and lists of modes.
 */
#ifndef PDM_TOOLS_SUITE_H
#define PDM_TOOLS_SUITE_H

#include <pdm/hpke.h>

#include <stddef.h>
#include <stdint.h>

/*
 * Parses a comma-separated list of suites "kkkk-dddd-aaaa" (hex ids, as in
 * key logs) into out (at most cap, and at most 32). Each must be usable by
 * the profile (no export-only AEAD). Returns the count or -1.
 */
int tool_parse_suites(const char *list, struct pdm_hpke_suite *out, size_t cap, char *err,
                      size_t errlen);

/*
 * The default suite preference: for each KEM (X25519, P-256, P-384, P-521)
 * its own-hash KDF with AES-128-GCM, ChaCha20Poly1305, AES-256-GCM (P-384
 * and P-521: AES-256-GCM first). kem 0 lists all; else only that KEM's.
 * Returns the count.
 */
size_t tool_default_suites(uint16_t kem, struct pdm_hpke_suite *out, size_t cap);

/* Comma-separated suites into out ("0020-0001-0001,..."). */
void tool_format_suites(const struct pdm_hpke_suite *s, size_t n, char *out, size_t cap);

/* Modes "base,psk,auth,auth_psk" into a bit set (1 << mode). Returns 0
 * or -1. */
int tool_parse_modes(const char *list, unsigned *modes);

/* A KDF with the KEM's own hash and AES-128-GCM (AES-256-GCM for P-384 and
 * P-521): the suite `pdm secret seal` uses towards a key of kem. */
struct pdm_hpke_suite tool_kem_suite(uint16_t kem);

#endif /* PDM_TOOLS_SUITE_H */
