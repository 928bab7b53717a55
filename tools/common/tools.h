/*
 * The `pdm` command line: shared declarations for tools/. Each subcommand
 * lives in tools/<program>/cmd_<name>.c and is listed in the table in
 * pdm.c. Subcommands return the process exit status: 0 success, 1 failure
 * (a one-line message on stderr), 2 usage error.
 *
 * Beside this header, tools/common/ holds what several programs share, a
 * header a concern: net.h (addresses, host:port), sys.h (clocks, random
 * bytes), suite.h (HPKE suites and modes), keyfile.h (key, PSK and secret
 * files), store.h (the secret store), pcapw.h (pcap files).
 */
#ifndef PDM_TOOLS_H
#define PDM_TOOLS_H

#include <stddef.h>
#include <stdint.h>

struct pdm_cmd {
    const char *name;
    int (*fn)(int argc, char **argv); /* argv[0] is the subcommand name */
    const char *help;
};

/* Prints "pdm: <fmt>" and a newline on stderr. */
void tool_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct option;

/*
 * The one wording of command-line errors, for every subcommand's
 * getopt_long() loop (called with opterr = 0 and an optstring starting
 * with ':'): c is what getopt_long returned (':' or '?'), argv and opts
 * what it was given. Prints one line "pdm: <who>: ..." on stderr:
 *   --NAME needs a value / -C needs a value
 *   --NAME takes no value                  (given "--NAME=VALUE")
 *   option '--AB' is ambiguous: --abc, --abd
 *   unknown option '--X' / '-X' (see 'pdm <who> --help')
 * The caller then exits with status 2.
 */
void tool_getopt_error(const char *who, int c, char *const argv[], const struct option *opts);

/* Formats a message into err (errlen bytes; err may be NULL) and returns
 * -1: the tools' helpers report failures as `return tool_fail(...)`. */
int tool_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A whole number (decimal, or 0x hex) up to max. Returns 0 or -1. */
int tool_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* A whole decimal number within [min, max]. Returns 0 or -1. */
int tool_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * A duration: a number with an optional unit ms, s, m, h, d (seconds when
 * none): "500ms", "5s", "24h". Into milliseconds. Returns 0 or -1.
 */
int tool_parse_duration_ms(const char *s, uint64_t *ms);

/*
 * Hex, by the library's constant-time codec (pdm_hex_decode /
 * pdm_hex_encode, include/pdm/common.h), so secrets can go through them:
 * tool_unhex decodes the NUL-terminated hex (either case, nothing else)
 * into out and returns the byte count, or -1 for an odd length, a
 * non-digit or more than cap bytes (out wiped on a bad digit); say which
 * field, never which character. tool_print_hex writes p as lowercase hex
 * on stdout.
 */
long tool_unhex(uint8_t *out, size_t cap, const char *hex);
void tool_print_hex(const uint8_t *p, size_t n);

/* Subcommands. */
int cmd_option(int argc, char **argv);
int cmd_vectors(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_decrypt(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_pubkey(int argc, char **argv);
int cmd_registrar(int argc, char **argv);
int cmd_register(int argc, char **argv);
int cmd_secret(int argc, char **argv);
int cmd_demo(int argc, char **argv);

#endif /* PDM_TOOLS_H */
