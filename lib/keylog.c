/*
 * Key log lines (docs/profile.md §3): a parser and a formatter of one line,
 * on caller buffers. inet_pton / inet_ntop are pure functions of their
 * arguments (no system call, no locale), so this file stays sans-IO.
 */
#include <pdm/keylog.h>
#include <pdm/profile.h>

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Label, client, server, suite, salt, secret. */
#define NFIELDS 6

/* Longest address or prefix token we copy: the longest IPv6 text
 * (INET6_ADDRSTRLEN 46 with NUL, for the IPv4-suffixed form) plus "/128". */
#define ADDR_TOKEN_MAX 64

static const char *const field_names[NFIELDS] = {"label", "client", "server",
                                                 "suite", "salt",   "secret"};

struct token {
    const char *p;
    size_t n;
};

static void why_set(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void why_set(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;

    if (why == NULL || whylen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/*
 * Exactly 2 * n hex digits into out[0..n), by the constant-time codec:
 * the salt and the secret are secrets, so a reason names the field and
 * its length, never a character of it.
 */
static int unhex(const struct token *t, uint8_t *out, size_t n, int field, char *why, size_t whylen)
{
    if (t->n != 2 * n) {
        why_set(why, whylen, "field %d (%s): %zu hex digits, want %zu", field + 1,
                field_names[field], t->n, 2 * n);
        return PDM_ERR_MALFORMED;
    }
    if (pdm_hex_decode(out, n, t->p, t->n) != (int)n) {
        why_set(why, whylen, "field %d (%s): not hex (0-9, a-f, A-F)", field + 1,
                field_names[field]);
        return PDM_ERR_MALFORMED;
    }
    return 0;
}

/* Whether the bits of a past its first plen bits are all zero. */
static int host_bits_zero(const uint8_t a[16], unsigned plen)
{
    for (unsigned bit = plen; bit < 128; bit++)
        if (a[bit / 8] & (0x80 >> (bit % 8)))
            return 0;
    return 1;
}

/*
 * An address, or with allow_prefix also "addr/len" (len 0..128, decimal,
 * host bits zero); a bare address has plen 128.
 */
static int parse_addr(const struct token *t, int allow_prefix, uint8_t addr[16], uint8_t *plen,
                      int field, char *why, size_t whylen)
{
    char buf[ADDR_TOKEN_MAX];
    const char *slash;
    unsigned len = 128;
    size_t alen;

    if (t->n >= sizeof buf) {
        why_set(why, whylen, "field %d (%s): too long for an IPv6 address", field + 1,
                field_names[field]);
        return PDM_ERR_MALFORMED;
    }
    memcpy(buf, t->p, t->n);
    buf[t->n] = '\0';
    slash = strchr(buf, '/');
    alen = slash ? (size_t)(slash - buf) : t->n;
    if (slash != NULL) {
        const char *d = slash + 1;
        if (!allow_prefix) {
            why_set(why, whylen, "field %d (%s): an address is needed here, not a prefix",
                    field + 1, field_names[field]);
            return PDM_ERR_MALFORMED;
        }
        len = 0;
        if (*d == '\0' || strlen(d) > 3)
            len = 999;
        for (; *d && len <= 128; d++)
            len = *d >= '0' && *d <= '9' ? len * 10 + (unsigned)(*d - '0') : 999;
        if (len > 128) {
            why_set(why, whylen, "field %d (%s): prefix length '%s' is not 0..128", field + 1,
                    field_names[field], slash + 1);
            return PDM_ERR_MALFORMED;
        }
        buf[alen] = '\0';
    }
    if (inet_pton(AF_INET6, buf, addr) != 1) {
        why_set(why, whylen, "field %d (%s): '%s' is not an IPv6 address", field + 1,
                field_names[field], buf);
        return PDM_ERR_MALFORMED;
    }
    if (!host_bits_zero(addr, len)) {
        why_set(why, whylen, "field %d (%s): bits set past the /%u prefix", field + 1,
                field_names[field], len);
        return PDM_ERR_MALFORMED;
    }
    *plen = (uint8_t)len;
    return 0;
}

static int token_is(const struct token *t, const char *s)
{
    return t->n == strlen(s) && memcmp(t->p, s, t->n) == 0;
}

PDM_EXTERN void pdm_keylog_entry_wipe(struct pdm_keylog_entry *e)
{
    if (e != NULL)
        pdm_memzero(e, sizeof *e);
}

PDM_EXTERN int pdm_keylog_parse_line(const char *line, size_t len, struct pdm_keylog_entry *e,
                                     char *why, size_t whylen)
{
    struct token tok[NFIELDS];
    struct pdm_hpke_sizes sz;
    char suite_text[PDM_SUITE_TEXT_SIZE];
    size_t ntok = 0, i = 0;
    int rv;

    if (why != NULL && whylen > 0)
        why[0] = '\0';
    if (line == NULL || e == NULL)
        return PDM_ERR_INVAL;
    pdm_keylog_entry_wipe(e);

    /* One line: drop its end, then any comment. */
    if (len > 0 && line[len - 1] == '\n')
        len--;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    for (size_t k = 0; k < len; k++) {
        if (line[k] == '#') {
            len = k;
            break;
        }
        if (line[k] == '\n' || line[k] == '\r' || line[k] == '\0') {
            why_set(why, whylen, "a %s inside the line",
                    line[k] == '\0' ? "NUL byte" : "line break");
            return PDM_ERR_MALFORMED;
        }
    }

    while (i < len) {
        size_t start;
        while (i < len && is_blank(line[i]))
            i++;
        if (i == len)
            break;
        if (ntok == NFIELDS) {
            why_set(why, whylen, "more than %d fields", NFIELDS);
            return PDM_ERR_MALFORMED;
        }
        start = i;
        while (i < len && !is_blank(line[i]))
            i++;
        tok[ntok].p = line + start;
        tok[ntok].n = i - start;
        ntok++;
    }
    if (ntok == 0)
        return 0;

    if (token_is(&tok[0], "PDMV2_SECRET")) {
        e->kind = PDM_KEYLOG_SECRET;
    } else if (token_is(&tok[0], "PDMV2_PRIMARY")) {
        e->kind = PDM_KEYLOG_PRIMARY;
    } else {
        /* Not echoed: a line that is not a key-log line may be a key or a
         * bare secret (a private key file given as a key log). */
        why_set(why, whylen, "field 1 (label): unknown label, want PDMV2_SECRET or PDMV2_PRIMARY");
        return PDM_ERR_MALFORMED;
    }
    if (ntok != NFIELDS) {
        why_set(why, whylen, "%zu fields, want %d: %s <client> <server> <suite> <salt> <secret>",
                ntok, NFIELDS, e->kind == PDM_KEYLOG_SECRET ? "PDMV2_SECRET" : "PDMV2_PRIMARY");
        rv = PDM_ERR_MALFORMED;
        goto out;
    }

    if ((rv = parse_addr(&tok[1], e->kind == PDM_KEYLOG_PRIMARY, e->client, &e->client_plen, 1, why,
                         whylen)) != 0)
        goto out;
    /* A PDMV2_PRIMARY client is a prefix: "/len" is required. */
    if (e->kind == PDM_KEYLOG_PRIMARY && memchr(tok[1].p, '/', tok[1].n) == NULL) {
        why_set(why, whylen, "field 2 (client): a prefix/len is needed here");
        rv = PDM_ERR_MALFORMED;
        goto out;
    }
    if ((rv = parse_addr(&tok[2], e->kind == PDM_KEYLOG_PRIMARY, e->server, &e->server_plen, 2, why,
                         whylen)) != 0)
        goto out;

    if (tok[3].n != PDM_SUITE_TEXT_LEN) {
        why_set(why, whylen, "field 4 (suite): '%.*s' is not kem-kdf-aead like 0020-0001-0001",
                (int)(tok[3].n > 32 ? 32 : tok[3].n), tok[3].p);
        rv = PDM_ERR_MALFORMED;
        goto out;
    }
    memcpy(suite_text, tok[3].p, PDM_SUITE_TEXT_LEN);
    suite_text[PDM_SUITE_TEXT_LEN] = '\0';
    if (pdm_suite_parse(suite_text, &e->suite) != 0) {
        why_set(why, whylen, "field 4 (suite): '%s' is not kem-kdf-aead like 0020-0001-0001",
                suite_text);
        rv = PDM_ERR_MALFORMED;
        goto out;
    }
    if (pdm_profile_suite_check(e->suite) != 0 || pdm_hpke_suite_sizes(e->suite, &sz) != 0) {
        why_set(why, whylen,
                "field 4 (suite): %s is not usable for PDM data (unknown id, or the "
                "export-only AEAD)",
                suite_text);
        rv = PDM_ERR_UNSUPPORTED;
        goto out;
    }

    if ((rv = unhex(&tok[4], e->salt, sizeof e->salt, 4, why, whylen)) != 0)
        goto out;
    if ((rv = unhex(&tok[5], e->secret, sz.nh, 5, why, whylen)) != 0)
        goto out;
    e->secret_len = (uint8_t)sz.nh;
    rv = 1;
out:
    if (rv < 0)
        pdm_keylog_entry_wipe(e);
    return rv;
}

/* Appends "addr" or "addr/len" to out at *pos. */
static int put_addr(char *out, size_t cap, size_t *pos, const uint8_t a[16], unsigned plen,
                    int with_len)
{
    char text[INET6_ADDRSTRLEN];
    int n;

    if (inet_ntop(AF_INET6, a, text, sizeof text) == NULL)
        return PDM_ERR_INVAL;
    if (with_len)
        n = snprintf(out + *pos, cap - *pos, " %s/%u", text, plen);
    else
        n = snprintf(out + *pos, cap - *pos, " %s", text);
    if (n < 0 || (size_t)n >= cap - *pos)
        return PDM_ERR_NOBUF;
    *pos += (size_t)n;
    return 0;
}

/* Appends " " and the hex of p[0..n) to out at *pos. */
static int put_hex(char *out, size_t cap, size_t *pos, const uint8_t *p, size_t n)
{
    int len;

    if (cap - *pos < 1)
        return PDM_ERR_NOBUF;
    out[*pos] = ' ';
    if ((len = pdm_hex_encode(out + *pos + 1, cap - *pos - 1, p, n)) < 0)
        return len;
    *pos += 1 + (size_t)len;
    return 0;
}

/*
 * Whether *e is an entry the parser could have made: a known kind,
 * prefix lengths up to 128 (both 128 for a PDMV2_SECRET), a suite the
 * profile can use, a secret of its Nh. Host bits are not looked at: a
 * match reads only the prefix bits.
 */
static int entry_well_formed(const struct pdm_keylog_entry *e)
{
    struct pdm_hpke_sizes sz;

    if (e->kind != PDM_KEYLOG_SECRET && e->kind != PDM_KEYLOG_PRIMARY)
        return 0;
    if (e->client_plen > 128 || e->server_plen > 128 ||
        (e->kind == PDM_KEYLOG_SECRET && (e->client_plen != 128 || e->server_plen != 128)))
        return 0;
    return pdm_profile_suite_check(e->suite) == 0 && pdm_hpke_suite_sizes(e->suite, &sz) == 0 &&
           e->secret_len == sz.nh;
}

PDM_EXTERN int pdm_keylog_format_line(const struct pdm_keylog_entry *e, char *out, size_t cap)
{
    char suite_text[PDM_SUITE_TEXT_SIZE];
    const char *label;
    size_t pos;
    int primary, n, rv;

    if (e == NULL || out == NULL || !entry_well_formed(e))
        return PDM_ERR_INVAL;
    primary = e->kind == PDM_KEYLOG_PRIMARY;
    if (cap == 0)
        return PDM_ERR_NOBUF;
    label = primary ? "PDMV2_PRIMARY" : "PDMV2_SECRET";
    n = snprintf(out, cap, "%s", label);
    if (n < 0 || (size_t)n >= cap)
        goto nobuf;
    pos = (size_t)n;
    if ((rv = put_addr(out, cap, &pos, e->client, e->client_plen, primary)) != 0 ||
        (rv = put_addr(out, cap, &pos, e->server, e->server_plen,
                       primary && e->server_plen != 128)) != 0)
        goto fail;
    pdm_suite_format(e->suite, suite_text);
    n = snprintf(out + pos, cap - pos, " %s", suite_text);
    if (n < 0 || (size_t)n >= cap - pos)
        goto nobuf;
    pos += (size_t)n;
    if ((rv = put_hex(out, cap, &pos, e->salt, sizeof e->salt)) != 0 ||
        (rv = put_hex(out, cap, &pos, e->secret, e->secret_len)) != 0)
        goto fail;
    return (int)pos;
nobuf:
    rv = PDM_ERR_NOBUF;
fail:
    pdm_memzero(out, cap);
    return rv;
}

/* Whether a is within the prefix p/plen. */
static int in_prefix(const uint8_t a[16], const uint8_t p[16], unsigned plen)
{
    unsigned full = plen / 8, rest = plen % 8;

    if (plen > 128 || memcmp(a, p, full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    return ((a[full] ^ p[full]) & (uint8_t)(0xFF << (8 - rest))) == 0;
}

PDM_EXTERN int pdm_keylog_match(const struct pdm_keylog_entry *e, const uint8_t client[16],
                                const uint8_t server[16])
{
    if (e == NULL || client == NULL || server == NULL)
        return 0;
    return in_prefix(client, e->client, e->client_plen) &&
           in_prefix(server, e->server, e->server_plen);
}

/*
 * The order of pdm_keylog_lookup() as one number per entry: bigger is
 * better. Bits 32..: 2 for an exact secret, 1 for a primary; then the
 * client and server prefix lengths (a secret's are both 128). The index
 * breaks ties separately.
 */
static uint64_t lookup_key(const struct pdm_keylog_entry *e)
{
    uint64_t tier = e->kind == PDM_KEYLOG_SECRET ? 2 : 1;
    return tier << 32 | (uint64_t)e->client_plen << 16 | e->server_plen;
}

/* Whether entry (ka, ia) comes before (kb, ib) in the lookup order. */
static int lookup_before(uint64_t ka, size_t ia, uint64_t kb, size_t ib)
{
    return ka > kb || (ka == kb && ia > ib);
}

PDM_EXTERN int pdm_keylog_lookup(pdm_keylog_at_fn at, void *ctx, size_t n, const uint8_t client[16],
                                 const uint8_t server[16], size_t rank,
                                 struct pdm_keylog_entry *out, size_t *index)
{
    const struct pdm_keylog_entry *best = NULL;
    uint64_t best_k = 0, prev_k = UINT64_MAX;
    size_t best_i = 0, prev_i = SIZE_MAX;
    struct pdm_profile_primary p;
    int rv;

    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (at == NULL || client == NULL || server == NULL || out == NULL)
        return PDM_ERR_INVAL;
    /* Selection by passes: pass r finds the best entry that comes after
     * the one pass r - 1 found, so the entries need no sorting (n is a
     * handful of lines, rank almost always 0). */
    for (size_t r = 0; r <= rank; r++) {
        best = NULL;
        for (size_t i = 0; i < n; i++) {
            const struct pdm_keylog_entry *e = at(ctx, i);
            uint64_t k;
            /* An entry that is not well formed is passed by like a NULL
             * one: it must neither be returned nor hide a good one. */
            if (e == NULL || !pdm_keylog_match(e, client, server) || !entry_well_formed(e))
                continue;
            k = lookup_key(e);
            if (r > 0 && !lookup_before(prev_k, prev_i, k, i))
                continue; /* at or above the previous rank */
            if (best == NULL || lookup_before(k, i, best_k, best_i)) {
                best = e;
                best_k = k;
                best_i = i;
            }
        }
        if (best == NULL)
            return 0;
        prev_k = best_k;
        prev_i = best_i;
    }
    if (best->kind == PDM_KEYLOG_SECRET) {
        *out = *best;
    } else {
        /* ClientSecret(C) of the primary (the draft's Appendix A.1). */
        if (pdm_profile_primary_init(&p, best->suite, best->salt, sizeof best->salt, best->secret,
                                     best->secret_len) != 0)
            return PDM_ERR_CRYPTO;
        rv = pdm_profile_primary_client(&p, client, out->secret, best->secret_len);
        pdm_profile_primary_wipe(&p);
        if (rv != 0) {
            pdm_keylog_entry_wipe(out);
            return PDM_ERR_CRYPTO;
        }
        out->kind = PDM_KEYLOG_SECRET;
        memcpy(out->client, client, 16);
        memcpy(out->server, server, 16);
        out->client_plen = out->server_plen = 128;
        out->suite = best->suite;
        memcpy(out->salt, best->salt, sizeof out->salt);
        out->secret_len = best->secret_len;
    }
    if (index != NULL)
        *index = best_i;
    return 1;
}
