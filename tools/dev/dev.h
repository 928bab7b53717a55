/*
 * What the files of tools/dev/ share: the developer's subcommands
 * `pdm option` (cmd_option.c, option_decode.c, option_key.c) and
 * `pdm vectors` (cmd_vectors.c, vectors_hpke.c, vectors_profile.c), with
 * the argument helpers of args.c. Nothing here is used outside tools/dev/.
 *
 * A usage error or a failure is reported by the function that meets it,
 * as one line on stderr with tool_err() ("pdm: <who>: ..."), where `who`
 * names the command: "option encode", "option decode" or "vectors". The
 * checks of pdm vectors are its output: one line on stdout per failed
 * check (dev_fail() and the like).
 */
#ifndef PDM_TOOLS_DEV_H
#define PDM_TOOLS_DEV_H

#include <pdm/profile.h>

#include <getopt.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* ---- arguments (args.c) ------------------------------------------------- */

/*
 * Parses a whole unsigned number, decimal or 0x-hex, at most max (no
 * sign, no space, no octal: "010" is ten). Returns 0, or -1 when s is not
 * such a number or exceeds max.
 */
int dev_parse_uint(const char *s, uint64_t max, uint64_t *out);

/* dev_parse_uint() for the value of flag `flag`; on failure prints
 * "<who>: <flag> '<val>' is not a number in 0..<max>" and returns -1. */
int dev_flag_uint(const char *who, const char *flag, const char *val, uint64_t max, uint64_t *out);

/* ---- pdm option: key material (option_key.c) ---------------------------- */

/* The key material flags, shared by encode and decode. */
enum dev_key_flag {
    DEV_K_SECRET,
    DEV_K_SALT,
    DEV_K_SUITE,
    DEV_K_SRC,
    DEV_K_DST,
    DEV_K_SPORT,
    DEV_K_DPORT,
    DEV_K_PROTOCOL,
    DEV_K_KRI,
    DEV_NKEY
};

/* The key flags as given on the command line (NULL when absent). */
struct dev_key_args {
    const char *v[DEV_NKEY];
    int any;
};

/*
 * Reads the flags of `pdm <who>` (who: "option encode" or "option
 * decode") with getopt_long, permuting, so that flags and operands may
 * come in any order; the operands are left at argv[optind..argc).
 * -h/--help prints usage on stdout; the key flags go into *ka; each flag
 * of own[] (at most DEV_OWN_MAX, ending with a zero entry; values other
 * than 'h', ':' and '?') goes to flag(ctx, val, optarg), which returns 0
 * or -1 after printing a usage error. Returns -1 to go on, else the exit
 * status: 0 after --help, 2 after a usage error (printed).
 */
#define DEV_OWN_MAX 8
int dev_option_getopt(const char *who, int argc, char **argv, const struct option *own,
                      const char *usage, struct dev_key_args *ka,
                      int (*flag)(void *ctx, int val, const char *arg), void *ctx);

/* The key material flags' help, shared by the usage of encode and decode. */
#define DEV_USAGE_KEY                                                                              \
    "Key material (profile pdmv2-hpke-1, docs/profile.md section 3):\n"                            \
    "  --secret HEX      SharedSecret (Nh bytes of the suite's KDF)\n"                             \
    "  --salt HEX        the registration's salt (32 bytes)\n"                                     \
    "  --suite S         KEM-KDF-AEAD ids, 4 hex digits each (default 0020-0001-0001)\n"           \
    "  --src ADDR        IPv6 source of the packet (the sender)\n"                                 \
    "  --dst ADDR        IPv6 destination\n"                                                       \
    "  --sport N --dport N  transport ports (TCP, UDP, UDP-Lite, SCTP, DCCP only;\n"               \
    "                    default 0)\n"                                                             \
    "  --protocol N      upper-layer protocol number, 0..255 (e.g. 6, 17, 58)\n"                   \
    "  --kri N           the sender's key rotation index, 0..65535 (default 0)\n"

/* The name of the first key flag given, for "only with v2-encrypted". */
const char *dev_key_first(const struct dev_key_args *ka);

/*
 * Turns the key flags into a ready secret, the packet's tuple and the
 * sender's Kri. Every problem is a usage error: prints it, returns -1
 * (nothing to wipe then). On 0 the caller wipes *secret.
 */
int dev_key_load(const char *who, const struct dev_key_args *ka, struct pdm_profile_secret *secret,
                 struct pdm_flow_tuple *t, uint16_t *kri);

/* ---- pdm option decode (option_decode.c) -------------------------------- */

/* `pdm option decode ...` (argv[0] is "decode"); returns the exit status. */
int dev_option_decode(int argc, char **argv);

/* Format v2-14 (option_v214.c). Encodes the FIELD=VALUE operands (epoch,
 * 32-bit psntp and psnlr, ...) into out; returns the size (24), -2 for a
 * usage error or -1 for an encoding error, printed. */
ssize_t dev_v214_encode(uint8_t type, char **args, int nargs, uint8_t *out, size_t cap);

/* Decodes the -14 option at in (avail bytes) and prints its JSON line
 * (with "next_header" when >= 0). Returns the exit status. */
int dev_v214_print(const uint8_t *in, size_t avail, uint8_t type, int next_header);

/* ---- pdm vectors: checks and tallies (cmd_vectors.c) -------------------- */

/* Largest value of any vector field read (hex bytes). */
#define DEV_VBUF 512

/* Where the checks are: file, section, vector index; and the tallies. */
struct dev_run {
    const char *file;
    const char *section;
    size_t index;
    long passed, failed;
};

/* One passed check. */
void dev_pass(struct dev_run *r);

/* One failed check, in words: "FILE: section[i]: field: <fmt>". */
void dev_fail(struct dev_run *r, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A failed library step: "<step> failed: <pdm_strerror(err)>". */
void dev_fail_err(struct dev_run *r, const char *field, const char *step, int err);

/* An input field that is missing or malformed: the vector cannot run. */
void dev_bad_input(struct dev_run *r, const char *field, const char *what);

/* Reads the hex string field `key` of v into out; bytes, or -1 when it is
 * absent, not a string, not hex or longer than cap. (Through tool_unhex():
 * the vectors' fields include secrets.) */
long dev_get_hex(const json_t *v, const char *key, uint8_t *out, size_t cap);

/* An integer field in 0..max; -1 when absent, not an integer (a real such
 * as 1.0 is not), negative or above max. */
int dev_get_uint(const json_t *v, const char *key, uint64_t max, uint64_t *out);

/* Checks got[0..n) against the hex field `key` of v, reported as `label`
 * (which may add a note to key). */
void dev_check_hex_as(struct dev_run *r, const json_t *v, const char *key, const char *label,
                      const uint8_t *got, size_t n);
void dev_check_hex(struct dev_run *r, const json_t *v, const char *key, const uint8_t *got,
                   size_t n);

/* ---- pdm vectors: the two formats --------------------------------------- */

/* Checks an array of RFC 9180 vectors (vectors_hpke.c). */
void dev_vectors_rfc9180(struct dev_run *r, const json_t *doc);

/* Checks the profile's vector object, section by section
 * (vectors_profile.c). */
void dev_vectors_profile(struct dev_run *r, const json_t *doc);

#endif /* PDM_TOOLS_DEV_H */
