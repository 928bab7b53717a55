/*
 * Helpers shared by the registration commands (registrar, register, secret,
 * keygen) and bench/bench_reg.c: clocks, random bytes, addresses, suite
 * lists, durations. Functions return 0 and -1 with a message in err,
 * except where noted.
 */
#ifndef PDM_TOOLS_REGTOOL_H
#define PDM_TOOLS_REGTOOL_H

#include <pdm/hpke.h>
#include <pdm/protocol.h>

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* CLOCK_MONOTONIC in nanoseconds (deadlines) / the Unix time in seconds
 * (the creation time of stored secrets). */
uint64_t tool_mono_ns(void);
uint64_t tool_unix_now(void);

/* n bytes from getrandom(2). Returns 0 or -1 (errno set). */
int tool_random(uint8_t *out, size_t n);

/* The same, in the shape of struct pdm_hpke_eph's rand callback. */
int tool_eph_rand(void *arg, uint8_t *out, size_t n);

/*
 * Parses "[ADDR]:PORT", "ADDR:PORT" (IPv4 or a host name), "[ADDR]",
 * "ADDR" (IPv6 or IPv4 or a host name) or ":PORT" / "PORT" (then ADDR is
 * wildcard when passive, else the loopback address) into *ss / *len.
 * default_port fills a missing port. passive: 1 for a listening address
 * (no name lookup needed for "[::]"). host, when not NULL, receives the
 * host part as given (brackets removed; hostcap bytes).
 */
int tool_parse_hostport(const char *s, unsigned default_port, int passive,
                        struct sockaddr_storage *ss, socklen_t *len, char *host, size_t hostcap,
                        char *err, size_t errlen);

/* "[addr]:port" or "a.b.c.d:port" of a socket address. */
void tool_format_sockaddr(const struct sockaddr *sa, char *out, size_t cap);

/* The 16-byte IPv6 form of a socket address (IPv4 as ::ffff:a.b.c.d). */
void tool_sockaddr_addr16(const struct sockaddr *sa, uint8_t out[16]);

/* Parses an IPv6 or IPv4 address (IPv4 becomes ::ffff:a.b.c.d). */
int tool_parse_addr16(const char *s, uint8_t out[16]);

/* Parses "ADDR/LEN" (or ADDR alone: /128) into a prefix, bits past LEN
 * cleared. IPv4 prefixes count within ::ffff:0:0/96. */
int tool_parse_prefix(const char *s, uint8_t out[16], uint8_t *plen);

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

/*
 * A duration: a number with an optional unit ms, s, m, h, d (seconds when
 * none): "500ms", "5s", "24h". Into milliseconds. Returns 0 or -1.
 */
int tool_parse_duration_ms(const char *s, uint64_t *ms);

/* A whole decimal number within [min, max]. Returns 0 or -1. */
int tool_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * Splits "ID:FILE" (--psk). ID is 1..255 bytes of text without ':'.
 * Returns 0 or -1.
 */
int tool_split_psk_arg(const char *arg, char *id, size_t idcap, const char **file);

/* Modes "base,psk,auth,auth_psk" into a bit set (1 << mode). */
int tool_parse_modes(const char *list, unsigned *modes);

/* A KDF with the KEM's own hash and AES-128-GCM (AES-256-GCM for P-384 and
 * P-521): the suite `pdm secret seal` uses towards a key of kem. */
struct pdm_hpke_suite tool_kem_suite(uint16_t kem);

#endif /* PDM_TOOLS_REGTOOL_H */
