/*
 * Addresses on the command line and in messages: host:port into a socket
 * address, socket addresses into text and into the library's 16-byte
 * form, addresses and prefixes (IPv4 as ::ffff:a.b.c.d). Functions return
 * 0 and -1 (tool_parse_hostport with a message in err).
 */
#ifndef PDM_TOOLS_NET_H
#define PDM_TOOLS_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

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

#endif /* PDM_TOOLS_NET_H */
