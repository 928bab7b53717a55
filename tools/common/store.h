/*
 * The secret store: where registrations leave their secrets for the agent
 * and the analyser (docs/registration.md §5).
 *
 * On disk: a directory (created mode 0700; refused when its group or others
 * can access it) of small text files, one per secret, each created 0600 and
 * replaced atomically (temporary file, fsync, rename), so that `pdm
 * registrar`, `pdm register`, `pdm agent` and `pdm analyze` can share it
 * without locks. A file holds one record:
 *
 *   # pdm secret record
 *   PDMV2_SECRET ::1 ::1 0020-0001-0001 <salt-hex> <secret-hex>
 *   created 1764201600
 *   lifetime 86400
 *
 * The first non-comment line is a key-log line (include/pdm/keylog.h):
 * PDMV2_SECRET for one client/server pair, or PDMV2_PRIMARY for a primary
 * pair's PrimarySecret (client prefix, server address or prefix). "created"
 * is Unix seconds; "lifetime" seconds, 0 for never expiring. The same text
 * is the "secret record" that `pdm secret seal|open|import|export` move
 * around. A record made of only the key-log line is valid (created 0,
 * lifetime 0).
 *
 * File names are derived from the kind and the addresses (and prefix
 * lengths), so a new registration between the same pair replaces the old
 * secret. Files whose names do not start with "secret-" or "primary-" are
 * ignored (known_servers lives beside them).
 *
 * Lookups never return an expired secret. Functions return 0 (or a count)
 * on success and -1 with a one-line message in err, except where noted.
 */
#ifndef PDM_TOOLS_STORE_H
#define PDM_TOOLS_STORE_H

#include <pdm/keylog.h>

#include <stddef.h>
#include <stdint.h>

struct tool_store_entry {
    struct pdm_keylog_entry k; /* kind, addresses / prefixes, suite, salt, secret */
    uint64_t created;          /* Unix seconds */
    uint64_t lifetime;         /* seconds; 0: never expires */
};

/* 1 when e has a lifetime and now (Unix seconds) is past created + lifetime. */
int tool_store_entry_expired(const struct tool_store_entry *e, uint64_t now);

/* Largest record text tool_store_entry_format writes (NUL included). */
#define TOOL_STORE_RECORD_MAX 512

/* Writes the record text of e (with a trailing newline). Returns the
 * length or -1. */
int tool_store_entry_format(const struct tool_store_entry *e, char *out, size_t cap);

/*
 * Parses one record from text (len bytes). Returns 0, or -1 with the
 * reason in why (e.g. "line 3: unknown attribute 'foo'"). e is wiped on
 * failure.
 */
int tool_store_entry_parse(const char *text, size_t len, struct tool_store_entry *e, char *why,
                           size_t whylen);

void tool_store_entry_wipe(struct tool_store_entry *e);

struct tool_store;

/*
 * Opens the store in dir and loads every record. create: 1 makes the
 * directory (mode 0700) when it does not exist. A record file that does
 * not parse is skipped with a warning on stderr (one line), so that one
 * bad file does not stop an agent.
 */
int tool_store_open(struct tool_store **out, const char *dir, int create, char *err, size_t errlen);

/* Loads the directory again (new registrations). On failure the loaded
 * set is kept. */
int tool_store_reload(struct tool_store *st, char *err, size_t errlen);

/* Wipes every secret and frees st (NULL is fine). */
void tool_store_close(struct tool_store *st);

const char *tool_store_dir(const struct tool_store *st);

/*
 * sync 1 (the default): tool_store_add fsyncs each record before renaming it
 * into place. sync 0: no fsync (the rename is still atomic), for a busy
 * registrar whose single thread must not wait on the disk; a crash can then
 * lose the records of the last seconds.
 */
void tool_store_set_sync(struct tool_store *st, int sync);

/*
 * Writes e as a file (replacing one of the same kind and addresses) and
 * adds it to the loaded set.
 */
int tool_store_add(struct tool_store *st, const struct tool_store_entry *e, char *err,
                   size_t errlen);

/*
 * The secret for flows between client and server (16-byte addresses) at
 * now (Unix seconds), by pdm_keylog_lookup() (include/pdm/keylog.h: its
 * order and tie-break) over the unexpired records, oldest first: an
 * exact PDMV2_SECRET of the pair (the newest if several), else
 * ClientSecret(client) derived from the most specific PDMV2_PRIMARY that
 * holds them, returned as a PDMV2_SECRET entry with the primary's salt,
 * suite, created and lifetime. Returns 1 (own secret), 2 (derived from a primary), 0 (none),
 * or -1 (derivation failed). The order of the pair matters: client is the
 * address that ran `pdm register`.
 */
int tool_store_lookup(const struct tool_store *st, const uint8_t client[16],
                      const uint8_t server[16], uint64_t now, struct tool_store_entry *out);

/* The loaded entries, expired ones included (for listing): count, and
 * the i-th (NULL past the end), oldest first (by created; records of the
 * same second by kind and addresses, so every process sees one order). */
size_t tool_store_count(const struct tool_store *st);
const struct tool_store_entry *tool_store_at(const struct tool_store *st, size_t i);

/* Deletes the files of entries expired at now and drops them from the
 * loaded set. Returns how many, or -1. */
int tool_store_expire(struct tool_store *st, uint64_t now, char *err, size_t errlen);

/*
 * Trust on first use of a registrar's key (`pdm register --tofu`): the
 * file "known_servers" in the store directory, one "HOST PORT KEM:HEX"
 * per line. tool_store_known_get writes the recorded key line of (host, port)
 * into out and returns 1, or returns 0 when none is recorded;
 * tool_store_known_put appends one.
 */
int tool_store_known_get(const struct tool_store *st, const char *host, unsigned port, char *out,
                         size_t cap, char *err, size_t errlen);
int tool_store_known_put(struct tool_store *st, const char *host, unsigned port,
                         const char *key_line, char *err, size_t errlen);

#endif /* PDM_TOOLS_STORE_H */
