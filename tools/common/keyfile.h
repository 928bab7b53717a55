/*
 * Key and secret files for the tools, with permission checks.
 *
 * A key is one line "KEM:HEX": KEM is x25519, p256, p384 or p521 (case
 * ignored), HEX the RFC 9180 serialization: for a private key
 * SerializePrivateKey (Nsk bytes), for a public key SerializePublicKey
 * (Npk bytes; 0x04 || X || Y on the P-curves). A PSK file holds the PSK as
 * hex (at least 32 bytes: RFC 9180 §9.5), optionally prefixed "psk:". An
 * authorized-keys file holds one public key per line, optionally followed
 * by white space and a name for the logs; '#' starts a comment.
 *
 * Every file holding a private key, a PSK or a secret is created mode 0600
 * (O_EXCL or O_NOFOLLOW: never through a symbolic link) and is refused when
 * it can be read by its group or by others, or is not a regular file
 * ("pdm: KEY: readable by others (mode 0644): chmod 600 KEY").
 *
 * Functions return 0 (or a count) on success and -1 on failure with a
 * one-line message in err (errlen bytes); secrets read are wiped from
 * intermediate buffers.
 */
#ifndef PDM_TOOLS_KEYFILE_H
#define PDM_TOOLS_KEYFILE_H

#include <pdm/hpke.h>

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* "x25519" ... or NULL for an unknown KEM. */
const char *tool_keyfile_kem_name(uint16_t kem_id);
/* Parses a KEM name (or "0x0020"-style id); 0 or -1. */
int tool_keyfile_kem_parse(const char *name, uint16_t *kem_id);

/* Npk / Nsk of a KEM; 0 when unknown. */
size_t tool_keyfile_npk(uint16_t kem_id);
size_t tool_keyfile_nsk(uint16_t kem_id);

/* "KEM:HEX" of the private key of *k (has_sk) / the public key, NUL
 * terminated, into out (256 bytes are always enough). Returns the length
 * or -1. */
#define TOOL_KEYFILE_LINE_MAX 320
int tool_keyfile_format_private(const struct pdm_hpke_key *k, char *out, size_t cap);
int tool_keyfile_format_public(const struct pdm_hpke_key *k, char *out, size_t cap);

/* Parses one "KEM:HEX" (surrounding white space ignored) as a private key
 * (validated, public key computed) or as a public key (validated). */
int tool_keyfile_parse_private(const char *text, struct pdm_hpke_key *k, char *err, size_t errlen);
int tool_keyfile_parse_public(const char *text, struct pdm_hpke_key *k, char *err, size_t errlen);

/*
 * Refuses a file that is not a regular file or whose mode lets the group
 * or others read or write it. fd is open on path (for the message).
 */
int tool_keyfile_check_private_fd(int fd, const char *path, char *err, size_t errlen);

/* The same test on the stat of path, and with dir 1 for a directory of
 * secrets (the store): not a directory, or a mode other than 0700's. The
 * message names the chmod that fixes it. */
int tool_keyfile_check_private_stat(const struct stat *st, const char *path, int dir, char *err,
                                    size_t errlen);

/*
 * Reads a whole small text file (at most cap - 1 bytes, NUL added) into
 * buf; private: 1 applies tool_keyfile_check_private_fd first. Returns the
 * length or -1.
 */
long tool_keyfile_read_text(const char *path, int private_file, char *buf, size_t cap, char *err,
                            size_t errlen);

/* A private key file ("-" reads standard input, without the mode check). */
int tool_keyfile_read_private(const char *path, struct pdm_hpke_key *k, char *err, size_t errlen);

/* A PSK file: returns the PSK length (32 .. cap) or -1. */
long tool_keyfile_read_psk(const char *path, uint8_t *psk, size_t cap, char *err, size_t errlen);

/*
 * Splits "ID:FILE" (--psk). ID is 1..255 bytes of text without ':'.
 * Returns 0 or -1.
 */
int tool_split_psk_arg(const char *arg, char *id, size_t idcap, const char **file);

/* An authorized client key and its name ("" when the line has none). */
struct tool_keyfile_pubkey {
    struct pdm_hpke_key key;
    char name[64];
};

/*
 * Reads an authorized-keys file into a new array (*out, *n; free with
 * free()). Returns 0 or -1 (the message names the line).
 */
int tool_keyfile_read_authorized(const char *path, struct tool_keyfile_pubkey **out, size_t *n,
                                 char *err, size_t errlen);

/*
 * Writes text to path, created mode 0600; fails if path exists unless
 * flags has TOOL_KEYFILE_REPLACE (then it is replaced atomically: a temporary
 * file in the same directory, then rename, so a reader sees the old or the
 * new file, never a part). The data is fsynced before the rename unless
 * flags has TOOL_KEYFILE_NOSYNC (then it reaches the disk with the kernel's
 * writeback: a crash may lose it, or leave an empty file, which the store
 * skips).
 */
#define TOOL_KEYFILE_REPLACE 1u
#define TOOL_KEYFILE_NOSYNC  2u
int tool_keyfile_write_private(const char *path, const char *text, unsigned flags, char *err,
                               size_t errlen);

/*
 * Appends one line (a newline is added) to path, created mode 0600 if it
 * does not exist; refuses an existing file others can read. Used for key
 * logs. One write(2) of the whole line with O_APPEND, so concurrent
 * writers do not interleave within a line.
 */
int tool_keyfile_append_line(const char *path, const char *line, char *err, size_t errlen);

#endif /* PDM_TOOLS_KEYFILE_H */
