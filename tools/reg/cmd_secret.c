/*
 * pdm secret: the secret store and primary/secondary secrets (the draft's
 * Appendix A.1, docs/profile.md §3, docs/registration.md §5).
 *
 *   pdm secret derive --client ADDR (--store DIR | --primary FILE) [--server ADDR]
 *   pdm secret seal --to KEM:HEX            < record      > sealed
 *   pdm secret open --key FILE              < sealed      > record
 *   pdm secret import --store DIR [--primary PREFIX/LEN] [--server-prefix P/LEN] < record
 *   pdm secret export --store DIR --client ADDR --server ADDR   > record
 *   pdm secret list --store DIR [--keylog]
 *   pdm secret expire --store DIR
 *
 * A "record" is the text of a store file (tools/common/store.h): a PDMV2_SECRET or
 * PDMV2_PRIMARY key-log line, then "created" and "lifetime". Secrets travel
 * between nodes only sealed: `seal` is HPKE single-shot (RFC 9180 §6.1,
 * base mode) to the recipient's public key with info "pdmv2 secret
 * transfer", giving one line
 *
 *   PDMV2_SEALED <kem>-<kdf>-<aead> <enc-hex> <ciphertext-hex>
 *
 * and `open` reverses it with the recipient's private key.
 *
 * Exit status: 0 success, 1 failure (one line on stderr), 2 usage.
 */
#include "reg/reg.h"

#include "common/keyfile.h"
#include "common/net.h"
#include "common/suite.h"
#include "common/sys.h"
#include "common/store.h"
#include "common/tools.h"

#include <pdm/keylog.h>
#include <pdm/profile.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: pdm secret derive --client ADDR (--store DIR | --primary FILE) [--server ADDR]\n"
    "       pdm secret seal --to KEM:HEX      < record > sealed\n"
    "       pdm secret open --key FILE        < sealed > record\n"
    "       pdm secret import --store DIR [--primary PREFIX/LEN]\n"
    "                         [--server-prefix PREFIX/LEN]  < record\n"
    "       pdm secret export --store DIR --client ADDR --server ADDR\n"
    "       pdm secret list --store DIR [--keylog]\n"
    "       pdm secret expire --store DIR\n"
    "\n"
    "  derive   print the record of ClientSecret(ADDR), derived from a primary\n"
    "           secret (PDMV2_PRIMARY) in the store or in FILE\n"
    "  seal     seal a record (standard input) to a public key: HPKE\n"
    "           single-shot; prints one PDMV2_SEALED line\n"
    "  open     open a PDMV2_SEALED line with the private key in FILE\n"
    "  import   add a record to the store; --primary turns a PDMV2_SECRET into\n"
    "           the PrimarySecret of the clients in PREFIX/LEN (the server side\n"
    "           of the primary pair: --server-prefix widens the server too)\n"
    "  export   print the record the store holds (or derives) for a pair\n"
    "  list     one line per stored secret (no secret bytes); --keylog prints\n"
    "           the unexpired ones as key-log lines for analysers instead\n"
    "  expire   delete expired secrets\n"
    "\n"
    "A record is a key-log line (PDMV2_SECRET / PDMV2_PRIMARY) with optional\n"
    "'created SECONDS' and 'lifetime SECONDS' lines. See pdm-secret(8).\n";

static const char seal_info[] = "pdmv2 secret transfer";

/* The options of a verb (each verb knows only its own: verbs[] below). */
struct args {
    const char *client, *server, *store_dir, *primary, *to, *key, *server_prefix;
    int keylog;
};

#define TEXT_MAX 4096

/* Reads standard input (at most TEXT_MAX - 1 bytes). */
static long read_stdin(char *buf, const char *what)
{
    char err[300];
    long n;
    if (isatty(STDIN_FILENO))
        fprintf(stderr, "pdm: secret %s: reading from standard input\n", what);
    n = tool_keyfile_read_text("-", 0, buf, TEXT_MAX, err, sizeof err);
    if (n < 0)
        tool_err("secret %s: standard input: %s", what, err + (strncmp(err, "-: ", 3) ? 0 : 3));
    return n;
}

static int print_record(const struct tool_store_entry *e)
{
    char rec[TOOL_STORE_RECORD_MAX];
    int rv = 0;
    if (tool_store_entry_format(e, rec, sizeof rec) < 0) {
        tool_err("secret: cannot format the record");
        return 1;
    }
    fputs(rec, stdout);
    if (fflush(stdout) != 0) {
        tool_err("secret: write error on standard output");
        rv = 1;
    }
    pdm_memzero(rec, sizeof rec);
    return rv;
}

static int open_store(const char *dir, int create, struct tool_store **st)
{
    char err[300];
    if (!dir) {
        tool_err("secret: --store DIR is required");
        return 2;
    }
    if (tool_store_open(st, dir, create, err, sizeof err) != 0) {
        tool_err("secret: --store %s", err);
        return 1;
    }
    return 0;
}

/* ---- derive ------------------------------------------------------------------ */

/* Prints the record of ClientSecret(c16) for server s16 from primary *prim. */
static int derive_print(const struct tool_store_entry *prim, const uint8_t c16[16],
                        const uint8_t s16[16])
{
    struct pdm_profile_primary p;
    struct tool_store_entry e = *prim;
    int rv = 1;

    /* ClientSecret(C) = LabeledExpand(LabeledExtract(salt, "pdmv2 primary",
     * PrimarySecret), "pdmv2 client", C, Nh): docs/profile.md §3. */
    if (pdm_profile_primary_init(&p, prim->k.suite, prim->k.salt, sizeof prim->k.salt,
                                 prim->k.secret, prim->k.secret_len) != 0 ||
        pdm_profile_primary_client(&p, c16, e.k.secret, prim->k.secret_len) != 0) {
        tool_err("secret derive: derivation failed");
        goto out;
    }
    e.k.kind = PDM_KEYLOG_SECRET;
    memcpy(e.k.client, c16, 16);
    memcpy(e.k.server, s16, 16);
    e.k.client_plen = e.k.server_plen = 128;
    rv = print_record(&e);
out:
    pdm_profile_primary_wipe(&p);
    tool_store_entry_wipe(&e);
    return rv;
}

static int do_derive(const struct args *a)
{
    uint8_t c16[16], s16[16];
    struct tool_store *st = NULL;
    struct tool_store_entry e;
    const struct tool_store_entry *best = NULL;
    uint64_t now = tool_unix_now();
    int rv = 1, n;

    memset(&e, 0, sizeof e);
    if (!a->client || tool_parse_addr16(a->client, c16) != 0) {
        tool_err("secret derive: --client ADDR is required (an IPv6 address)");
        return 2;
    }
    if (!!a->store_dir == !!a->primary) {
        tool_err("secret derive: give one of --store DIR and --primary FILE");
        return 2;
    }
    if (a->server && tool_parse_addr16(a->server, s16) != 0) {
        tool_err("secret derive: --server %s: not an address", a->server);
        return 2;
    }
    if (a->primary) {
        char text[TEXT_MAX], err[300];
        long len = tool_keyfile_read_text(a->primary, 1, text, sizeof text, err, sizeof err);
        if (len < 0) {
            tool_err("secret derive: --primary %s", err);
            return 1;
        }
        n = tool_store_entry_parse(text, (size_t)len, &e, err, sizeof err);
        pdm_memzero(text, sizeof text);
        if (n != 0 || e.k.kind != PDM_KEYLOG_PRIMARY) {
            tool_err("secret derive: %s: %s", a->primary,
                     n != 0 ? err : "not a PDMV2_PRIMARY record");
            goto out;
        }
        if (tool_store_entry_expired(&e, now)) {
            tool_err("secret derive: %s: the primary secret has expired", a->primary);
            goto out;
        }
        best = &e;
    } else {
        if ((n = open_store(a->store_dir, 0, &st)) != 0)
            return n;
        /* The unexpired primary holding the client (and the server, when
         * named), in pdm_keylog_lookup()'s order among primaries: the
         * longest client prefix, then the longest server prefix, then the
         * newest (the store keeps records oldest first, so a later equal
         * one replaces the best). */
        for (size_t i = 0; i < tool_store_count(st); i++) {
            const struct tool_store_entry *x = tool_store_at(st, i);
            if (x->k.kind != PDM_KEYLOG_PRIMARY || tool_store_entry_expired(x, now) ||
                !pdm_keylog_match(&x->k, c16, a->server ? s16 : x->k.server))
                continue;
            if (!best || x->k.client_plen > best->k.client_plen ||
                (x->k.client_plen == best->k.client_plen &&
                 x->k.server_plen >= best->k.server_plen))
                best = x;
        }
        if (!best) {
            tool_err("secret derive: no unexpired primary secret in %s covers %s%s%s", a->store_dir,
                     a->client, a->server ? " and " : "", a->server ? a->server : "");
            goto out;
        }
    }
    if (!a->server) {
        if (best->k.server_plen != 128) {
            tool_err("secret derive: the primary covers a prefix of servers: name one with "
                     "--server");
            goto out;
        }
        memcpy(s16, best->k.server, 16);
    }
    if (!pdm_keylog_match(&best->k, c16, s16)) {
        tool_err("secret derive: %s is not within the primary's client prefix, or the server "
                 "not within its server prefix",
                 a->client);
        goto out;
    }
    rv = derive_print(best, c16, s16);
out:
    tool_store_entry_wipe(&e);
    tool_store_close(st);
    return rv;
}

/* ---- seal / open -------------------------------------------------------------- */

static void hex_out(char *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static int do_seal(const struct args *a)
{
    struct pdm_hpke_key pk;
    struct pdm_hpke_params p;
    struct pdm_hpke_eph eph;
    struct tool_store_entry e;
    char text[TEXT_MAX], err[300], suite[PDM_SUITE_TEXT_SIZE];
    uint8_t enc[PDM_HPKE_NENC_MAX], ct[TEXT_MAX + PDM_HPKE_NT_MAX];
    char *line = NULL;
    long len;
    int n, rv = 1;

    if (!a->to) {
        tool_err("secret seal: --to KEM:HEX is required (the recipient's public key)");
        return 2;
    }
    if (tool_keyfile_parse_public(a->to, &pk, err, sizeof err) != 0) {
        tool_err("secret seal: --to: %s", err);
        return 2;
    }
    if ((len = read_stdin(text, "seal")) < 0)
        return 1;
    /* Seal only what parses: the recipient gets a valid record. */
    if (tool_store_entry_parse(text, (size_t)len, &e, err, sizeof err) != 0) {
        tool_err("secret seal: the input is not a secret record: %s", err);
        goto out;
    }
    tool_store_entry_wipe(&e);
    memset(&p, 0, sizeof p);
    memset(&eph, 0, sizeof eph);
    p.suite = tool_kem_suite(pk.kem_id);
    p.mode = PDM_HPKE_MODE_BASE;
    p.info = (const uint8_t *)seal_info;
    p.info_len = sizeof seal_info - 1;
    eph.rand = tool_eph_rand;
    n = pdm_hpke_seal(&p, &pk, &eph, NULL, 0, (const uint8_t *)text, (size_t)len, enc, sizeof enc,
                      ct, sizeof ct);
    if (n < 0) {
        tool_err("secret seal: %s", pdm_strerror(n));
        goto out;
    }
    {
        size_t nenc = tool_keyfile_npk(pk.kem_id);
        size_t cap = 32 + 2 * nenc + 2 * (size_t)n;
        if (!(line = malloc(cap))) {
            tool_err("secret seal: out of memory");
            goto out;
        }
        pdm_suite_format(p.suite, suite);
        snprintf(line, cap, "PDMV2_SEALED %s ", suite);
        hex_out(line + strlen(line), enc, nenc);
        strcat(line, " ");
        hex_out(line + strlen(line), ct, (size_t)n);
        printf("%s\n", line);
        rv = fflush(stdout) == 0 ? 0 : 1;
    }
out:
    free(line);
    pdm_memzero(text, sizeof text);
    return rv;
}

static int do_open(const struct args *a)
{
    struct pdm_hpke_key sk;
    struct pdm_hpke_params p;
    struct pdm_hpke_suite suite;
    struct tool_store_entry e;
    char text[3 * TEXT_MAX], err[300], word[32], suite_txt[32];
    uint8_t enc[PDM_HPKE_NENC_MAX], *ct = NULL, pt[TEXT_MAX + 1];
    char *enc_hex, *ct_hex, *save = NULL;
    long len, enc_len, ct_len;
    int n, rv = 1;

    memset(&sk, 0, sizeof sk);
    if (!a->key) {
        tool_err("secret open: --key FILE is required (the recipient's private key)");
        return 2;
    }
    if (tool_keyfile_read_private(a->key, &sk, err, sizeof err) != 0) {
        tool_err("secret open: --key %s", err);
        return 1;
    }
    len = tool_keyfile_read_text("-", 0, text, sizeof text, err, sizeof err);
    if (len < 0) {
        tool_err("secret open: standard input: %s", err);
        goto out;
    }
    if (sscanf(text, "%31s %31s", word, suite_txt) != 2 || strcmp(word, "PDMV2_SEALED") != 0 ||
        pdm_suite_parse(suite_txt, &suite) != 0) {
        tool_err("secret open: the input is not a PDMV2_SEALED line");
        goto out;
    }
    strtok_r(text, " \t\r\n", &save);
    strtok_r(NULL, " \t\r\n", &save);
    enc_hex = strtok_r(NULL, " \t\r\n", &save);
    ct_hex = strtok_r(NULL, " \t\r\n", &save);
    if (!enc_hex || !ct_hex || !(ct = malloc(strlen(ct_hex) / 2 + 1)) ||
        (enc_len = tool_unhex(enc, sizeof enc, enc_hex)) < 0 ||
        (ct_len = tool_unhex(ct, strlen(ct_hex) / 2 + 1, ct_hex)) < 0) {
        tool_err("secret open: malformed PDMV2_SEALED line");
        goto out;
    }
    if (suite.kem_id != sk.kem_id) {
        tool_err("secret open: sealed to a %s key, but --key is %s",
                 tool_keyfile_kem_name(suite.kem_id) ? tool_keyfile_kem_name(suite.kem_id)
                                                     : "unknown",
                 tool_keyfile_kem_name(sk.kem_id));
        goto out;
    }
    memset(&p, 0, sizeof p);
    p.suite = suite;
    p.mode = PDM_HPKE_MODE_BASE;
    p.info = (const uint8_t *)seal_info;
    p.info_len = sizeof seal_info - 1;
    n = pdm_hpke_open(&p, &sk, enc, (size_t)enc_len, NULL, 0, ct, (size_t)ct_len, pt,
                      sizeof pt - 1);
    if (n < 0) {
        tool_err("secret open: %s", n == PDM_ERR_AUTH ? "authentication failed: not sealed to "
                                                        "this key, or altered"
                                                      : pdm_strerror(n));
        goto out;
    }
    if (tool_store_entry_parse((const char *)pt, (size_t)n, &e, err, sizeof err) != 0) {
        tool_err("secret open: the sealed text is not a secret record: %s", err);
        goto out;
    }
    rv = print_record(&e);
    tool_store_entry_wipe(&e);
out:
    free(ct);
    pdm_memzero(pt, sizeof pt);
    pdm_hpke_key_wipe(&sk);
    return rv;
}

/* ---- import / export / list / expire -------------------------------------------- */

static int do_import(const struct args *a)
{
    struct tool_store *st = NULL;
    struct tool_store_entry e;
    char text[TEXT_MAX], err[300];
    long len;
    int rv = 1, n;

    memset(&e, 0, sizeof e);
    if (a->server_prefix && !a->primary) {
        tool_err("secret import: --server-prefix goes with --primary");
        return 2;
    }
    if ((len = read_stdin(text, "import")) < 0)
        return 1;
    if (tool_store_entry_parse(text, (size_t)len, &e, err, sizeof err) != 0) {
        tool_err("secret import: the input is not a secret record: %s", err);
        goto out;
    }
    if (a->primary) {
        if (tool_parse_prefix(a->primary, e.k.client, &e.k.client_plen) != 0) {
            tool_err("secret import: --primary %s: not a prefix ADDR/LEN", a->primary);
            rv = 2;
            goto out;
        }
        if (a->server_prefix &&
            tool_parse_prefix(a->server_prefix, e.k.server, &e.k.server_plen) != 0) {
            tool_err("secret import: --server-prefix %s: not a prefix ADDR/LEN", a->server_prefix);
            rv = 2;
            goto out;
        }
        e.k.kind = PDM_KEYLOG_PRIMARY;
    }
    if ((n = open_store(a->store_dir, 1, &st)) != 0) {
        rv = n;
        goto out;
    }
    if (tool_store_add(st, &e, err, sizeof err) != 0) {
        tool_err("secret import: %s", err);
        goto out;
    }
    rv = 0;
out:
    pdm_memzero(text, sizeof text);
    tool_store_entry_wipe(&e);
    tool_store_close(st);
    return rv;
}

static int do_export(const struct args *a)
{
    struct tool_store *st = NULL;
    struct tool_store_entry e;
    uint8_t c16[16], s16[16];
    int rv = 1, n;

    if (!a->client || !a->server || tool_parse_addr16(a->client, c16) != 0 ||
        tool_parse_addr16(a->server, s16) != 0) {
        tool_err("secret export: --client ADDR and --server ADDR are required");
        return 2;
    }
    if ((n = open_store(a->store_dir, 0, &st)) != 0)
        return n;
    n = tool_store_lookup(st, c16, s16, tool_unix_now(), &e);
    if (n <= 0)
        tool_err("secret export: %s",
                 n < 0 ? "derivation failed" : "no unexpired secret for this pair in the store");
    else
        rv = print_record(&e);
    tool_store_entry_wipe(&e);
    tool_store_close(st);
    return rv;
}

static int do_list(const struct args *a)
{
    struct tool_store *st = NULL;
    uint64_t now = tool_unix_now();
    int n;

    if ((n = open_store(a->store_dir, 0, &st)) != 0)
        return n;
    for (size_t i = 0; i < tool_store_count(st); i++) {
        const struct tool_store_entry *e = tool_store_at(st, i);
        char c[INET6_ADDRSTRLEN], s[INET6_ADDRSTRLEN], suite[PDM_SUITE_TEXT_SIZE];
        char line[PDM_KEYLOG_LINE_MAX];
        int expired = tool_store_entry_expired(e, now);

        if (a->keylog) {
            if (!expired && pdm_keylog_format_line(&e->k, line, sizeof line) >= 0)
                printf("%s\n", line);
            pdm_memzero(line, sizeof line);
            continue;
        }
        inet_ntop(AF_INET6, e->k.client, c, sizeof c);
        inet_ntop(AF_INET6, e->k.server, s, sizeof s);
        pdm_suite_format(e->k.suite, suite);
        printf("%-7s %s/%u %s/%u %s created=%" PRIu64 " lifetime=%" PRIu64 " %s\n",
               e->k.kind == PDM_KEYLOG_PRIMARY ? "primary" : "secret", c, e->k.client_plen, s,
               e->k.server_plen, suite, e->created, e->lifetime, expired ? "expired" : "valid");
    }
    tool_store_close(st);
    return fflush(stdout) == 0 ? 0 : 1;
}

static int do_expire(const struct args *a)
{
    struct tool_store *st = NULL;
    char err[300];
    int n;

    if ((n = open_store(a->store_dir, 0, &st)) != 0)
        return n;
    n = tool_store_expire(st, tool_unix_now(), err, sizeof err);
    tool_store_close(st);
    if (n < 0) {
        tool_err("secret expire: %s", err);
        return 1;
    }
    printf("%d expired secret%s removed\n", n, n == 1 ? "" : "s");
    return 0;
}

/* ---- the command: a verb, then its options ------------------------------------- */

/* The options, one bit each in a verb's set. */
enum { O_CLIENT, O_SERVER, O_STORE, O_PRIMARY, O_TO, O_KEY, O_SERVER_PREFIX, O_KEYLOG, O_COUNT };

#define O(x) (1u << (x))

static const struct verb {
    const char *name;
    int (*fn)(const struct args *a);
    unsigned opts;
} verbs[] = {
    {"derive", do_derive, O(O_CLIENT) | O(O_SERVER) | O(O_STORE) | O(O_PRIMARY)},
    {"seal", do_seal, O(O_TO)},
    {"open", do_open, O(O_KEY)},
    {"import", do_import, O(O_STORE) | O(O_PRIMARY) | O(O_SERVER_PREFIX)},
    {"export", do_export, O(O_STORE) | O(O_CLIENT) | O(O_SERVER)},
    {"list", do_list, O(O_STORE) | O(O_KEYLOG)},
    {"expire", do_expire, O(O_STORE)},
};

/* The options of verb v in argv (argv[0] is the verb): only its own are
 * known. Returns 0 to go on, 1 after --help, 2 for a usage error. */
static int parse_args(const struct verb *v, int argc, char **argv, struct args *a)
{
    const struct rg_opt all[O_COUNT] = {
        [O_CLIENT] = RG_TEXT("client", &a->client),
        [O_SERVER] = RG_TEXT("server", &a->server),
        [O_STORE] = RG_TEXT("store", &a->store_dir),
        [O_PRIMARY] = RG_TEXT("primary", &a->primary),
        [O_TO] = RG_TEXT("to", &a->to),
        [O_KEY] = RG_TEXT("key", &a->key),
        [O_SERVER_PREFIX] = RG_TEXT("server-prefix", &a->server_prefix),
        [O_KEYLOG] = RG_FLAG("keylog", &a->keylog),
    };
    struct rg_opt mine[O_COUNT];
    char cmd[32];
    size_t n = 0;

    for (size_t i = 0; i < O_COUNT; i++)
        if (v->opts & O(i))
            mine[n++] = all[i];
    snprintf(cmd, sizeof cmd, "secret %s", v->name);
    return rg_getopt(cmd, argc, argv, mine, n, NULL, usage, 0);
}

int cmd_secret(int argc, char **argv)
{
    struct args a;
    int rv;

    if (argc < 2)
        return rg_usage("secret: a command is required: derive, seal, open, import, export, list "
                        "or expire (see pdm secret --help)");
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(usage, stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        if (strcmp(argv[1], verbs[i].name) != 0)
            continue;
        memset(&a, 0, sizeof a);
        if ((rv = parse_args(&verbs[i], argc - 1, argv + 1, &a)) != 0)
            return rv == 1 ? 0 : rv;
        return verbs[i].fn(&a);
    }
    return rg_usage("secret: unknown command '%s' (derive, seal, open, import, export, list, "
                    "expire)",
                    argv[1]);
}
