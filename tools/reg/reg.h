/*
 * The registration commands (docs/registration.md): what the files of
 * tools/reg/ share. Every non-static name of the folder starts with rg_
 * (the library's own registration names are pdm_reg_, include/pdm/reg.h).
 *
 *   cmd_registrar.c   `pdm registrar`, setup: options, keys, PSKs and
 *                     authorized keys (and their reload), the listener,
 *                     the signalfd, the privilege drop, the store
 *   registrar_loop.c  `pdm registrar`, the epoll loop: connections, each
 *                     driving a sans-IO server of lib/reg_server.c; limits,
 *                     rate buckets, timers, linger, signals; the log
 *   cmd_register.c    `pdm register`: the client side over one socket
 *   cmd_keys.c        `pdm keygen`, `pdm pubkey`
 *   cmd_secret.c      `pdm secret` and its verbs
 *   util.c            the option parser (a table, getopt_long, one-line
 *                     usage errors); the record a finished registration
 *                     leaves (both sides)
 *
 * The subcommand entry points (cmd_registrar, ...) are declared in
 * common/tools.h with the other commands'.
 */
#ifndef PDM_TOOLS_REG_H
#define PDM_TOOLS_REG_H

#include "common/keyfile.h"
#include "common/store.h"

#include <pdm/reg.h>

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

/* ---- shared by the commands (util.c) ------------------------------------- */

/* A usage error: prints "pdm: " and the message on stderr, returns 2. */
int rg_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * One option of a command, for rg_getopt: its long name (without "--"),
 * its short letter (0: none), and what it does, by the one pointer set:
 * text receives the value as given (the last one wins); flag is set to 1
 * (the option takes no value); fn is called with ctx and each value and
 * returns 0, or 2 after printing a usage error (rg_usage).
 */
struct rg_opt {
    const char *name;
    char letter;
    const char **text;
    int *flag;
    int (*fn)(void *ctx, const char *value);
};

/* Table entries: RG_TEXT("store", &o->store_dir), RG_FLAG("sync", &o->sync),
 * RG_CALL("key", add_key); a short letter with .letter = 'v'. */
/* (clang-format would spread each one-line initializer over four lines.) */
/* clang-format off */
#define RG_TEXT(n, p) {.name = (n), .text = (p)}
#define RG_FLAG(n, p) {.name = (n), .flag = (p)}
#define RG_CALL(n, f) {.name = (n), .fn = (f)}
/* clang-format on */

#define RG_OPTS_MAX 32  /* options in one table */
#define RG_OPT_LONG 256 /* getopt_long values of long-only options: 256 + index */

/*
 * Parses argv (argv[0] is the command or verb) with getopt_long over the
 * n options of opts, plus -h/--help, which prints usage on stdout.
 * Permuting: operands may stand anywhere, and at most max_operands of them
 * are accepted; they are left in argv[optind..argc). Returns 0; 1 after
 * --help; 2 after a usage error, printed as one line "pdm: <cmd>: ..."
 * (an unknown or ambiguous option, a missing or unwanted value, an extra
 * operand, or what an fn said).
 */
int rg_getopt(const char *cmd, int argc, char **argv, const struct rg_opt *opts, size_t n,
              void *ctx, const char *usage, int max_operands);

/*
 * Fills *e with the record a finished registration leaves: a PDMV2_SECRET
 * of client/128 and server/server_plen with the suite, salt and secret of
 * res, created now (Unix seconds) with lifetime_s. Callers may then widen
 * it into a PDMV2_PRIMARY. Wipe e with tool_store_entry_wipe.
 */
void rg_entry_set(struct tool_store_entry *e, const struct pdm_reg_result *res,
                  const uint8_t client[16], const uint8_t server[16], uint8_t server_plen,
                  uint64_t lifetime_s);

/*
 * Appends the key-log line of e to the file at path (created 0600). The
 * line, which holds the secret, is wiped. Returns 0 or -1 with the reason
 * in err.
 */
int rg_keylog_append(const char *path, const struct tool_store_entry *e, char *err, size_t errlen);

/* ---- the registrar (cmd_registrar.c, registrar_loop.c) -------------------- */

#define RG_MAX_KEYS  4  /* --key: one per KEM */
#define RG_MAX_PSKS  64 /* --psk */
#define RG_NAME_SIZE 64 /* an authorized key's name, as logged */

/* A --psk ID:FILE, and once loaded the PSK itself. */
struct rg_psk {
    char id[PDM_REG_PSK_ID_MAX + 1];
    size_t id_len;
    uint8_t psk[PDM_REG_PSK_MAX];
    size_t len;
    const char *file;
};

struct rg_conn;      /* registrar_loop.c */
struct rg_rate_slot; /* registrar_loop.c */

struct rg_registrar {
    /* Options (cmd_registrar.c). */
    const char *listen;
    const char *key_files[RG_MAX_KEYS];
    size_t nkey_files;
    struct rg_psk *spec; /* the --psk as given (id, file): RG_MAX_PSKS slots */
    size_t nspec;
    const char *auth_file;
    unsigned modes;
    struct pdm_hpke_suite suites[PDM_REG_SUITES_MAX];
    size_t nsuites;
    const char *store_dir, *keylog, *user;
    uint64_t lifetime_s, timeout_ns;
    uint64_t max_conns, rate;
    uint8_t server_addr[16];
    int have_server_addr, verbose, sync;
    int no_seccomp; /* --no-seccomp: the loop runs without the filter */

    /* What setup loaded (cmd_registrar.c); the PSKs and authorized keys
     * are replaced as a whole on SIGHUP (rg_load_creds). */
    struct rg_psk *psks;
    size_t npsks;
    struct tool_keyfile_pubkey *auth;
    size_t nauth;
    struct pdm_hpke_key keys[RG_MAX_KEYS];
    size_t nkeys;
    struct pdm_reg_server_config cfg; /* its callbacks read psks and auth */
    struct tool_store *store;
    int lfd, sfd; /* the listening socket, the signalfd */
    /* While the loop runs a connection's state machine: where the
     * client_key_check callback writes the name of the key it found. */
    char *cur_client_name;

    /* The loop (registrar_loop.c). */
    int epfd;
    struct rg_conn *conns;
    size_t nconns; /* slots: max_conns handshakes, then spares to send BUSY */
    size_t active; /* handshake slots in use */
    struct rg_rate_slot *rates;
    uint32_t next_id;
    uint64_t next_check;  /* the earliest deadline of a connection (0: none) */
    uint64_t next_expire; /* housekeeping: expired secrets leave the store */
    int stop;
    uint64_t busy_log_ns, busy_suppressed; /* BUSY lines: at most one a second */
    uint64_t n_ok, n_refused, n_timeout, n_busy;
};

/*
 * The registrar's seccomp allow-list (sandbox.c), installed once setup is
 * done (keys, credentials, listener, privilege drop, store, loop tables)
 * and before the loop: every other system call kills the process.
 * Nothing with --no-seccomp, or in an AddressSanitizer build (whose
 * run-time needs calls, ptrace among them, no allow-list should grant);
 * both are logged. Returns 0, or -1 with a message on stderr.
 */
int rg_sandbox(const struct rg_registrar *r);

/* One log line "pdm registrar: ..." on stderr, written with one write(2). */
void rg_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * (Re)reads every --psk file and the authorized-keys file into new sets
 * and, only when all of them read, replaces the old ones. Returns 0, or
 * -1 with the reason in err (the old sets stay).
 */
int rg_load_creds(struct rg_registrar *r, char *err, size_t errlen);

/*
 * The loop over r->lfd and r->sfd (both open): rg_loop_init allocates the
 * connection and rate tables and the epoll set (0, or -1 with a message
 * on stderr); rg_loop_run serves until SIGTERM or SIGINT and logs the
 * summary; rg_loop_free closes every connection (a client told OK that
 * has not refused keeps its secret), wipes and frees the tables.
 */
int rg_loop_init(struct rg_registrar *r);
void rg_loop_run(struct rg_registrar *r);
void rg_loop_free(struct rg_registrar *r);

#endif /* PDM_TOOLS_REG_H */
