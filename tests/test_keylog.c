/*
 * pdm_keylog_lookup(): the one secret lookup of the store, the agent and
 * the analyser (include/pdm/keylog.h). Its order (exact secret, then the
 * most specific primary), its tie-break (the higher index), ranks, entries
 * passed by, and the ClientSecret derivation checked against the
 * profile's own pdm_profile_primary_client(); and that a parse error
 * never shows a character of a salt or secret.
 */
#include <pdm/keylog.h>
#include <pdm/profile.h>

#include <arpa/inet.h>

#include "harness.h"

#define N_MAX 8

struct set {
    struct pdm_keylog_entry v[N_MAX];
    int hidden[N_MAX];
    size_t n;
};

static const struct pdm_keylog_entry *at(void *ctx, size_t i)
{
    struct set *s = ctx;
    return s->hidden[i] ? NULL : &s->v[i];
}

/* Appends an entry; secret bytes are all `fill`. Returns its index. */
static size_t add(struct set *s, enum pdm_keylog_kind kind, const char *client, unsigned cplen,
                  const char *server, unsigned splen, uint8_t fill)
{
    struct pdm_keylog_entry *e = &s->v[s->n];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    inet_pton(AF_INET6, client, e->client);
    inet_pton(AF_INET6, server, e->server);
    e->client_plen = (uint8_t)cplen;
    e->server_plen = (uint8_t)splen;
    e->suite.kem_id = PDM_HPKE_KEM_X25519_SHA256;
    e->suite.kdf_id = PDM_HPKE_KDF_HKDF_SHA256;
    e->suite.aead_id = PDM_HPKE_AEAD_AES_128_GCM;
    memset(e->salt, fill ^ 0x55, sizeof e->salt);
    memset(e->secret, fill, 32);
    e->secret_len = 32;
    return s->n++;
}

static int lookup(struct set *s, const char *client, const char *server, size_t rank,
                  struct pdm_keylog_entry *out, size_t *idx)
{
    uint8_t c[16], sv[16];
    inet_pton(AF_INET6, client, c);
    inet_pton(AF_INET6, server, sv);
    return pdm_keylog_lookup(at, s, s->n, c, sv, rank, out, idx);
}

static void test_order(void)
{
    struct set s;
    struct pdm_keylog_entry out;
    size_t i = 99;

    memset(&s, 0, sizeof s);
    /* 0: a broad primary; 1: a narrower one; 2: an exact secret; 3: a second
     * exact secret for the same pair (a later registration); 4: another
     * pair's secret. */
    add(&s, PDM_KEYLOG_PRIMARY, "fd00::", 16, "2001:db8::", 32, 0x10);
    add(&s, PDM_KEYLOG_PRIMARY, "fd00:1::", 32, "2001:db8::", 32, 0x11);
    add(&s, PDM_KEYLOG_SECRET, "fd00:1::9", 128, "2001:db8::5", 128, 0x12);
    add(&s, PDM_KEYLOG_SECRET, "fd00:1::9", 128, "2001:db8::5", 128, 0x13);
    add(&s, PDM_KEYLOG_SECRET, "fd00:1::8", 128, "2001:db8::5", 128, 0x14);

    /* Exact secrets first, the later one (higher index) before the earlier. */
    CHECK_INT(lookup(&s, "fd00:1::9", "2001:db8::5", 0, &out, &i), 1);
    CHECK_INT(i, 3);
    CHECK_INT(out.secret[0], 0x13);
    CHECK_INT(out.kind, PDM_KEYLOG_SECRET);
    CHECK_INT(lookup(&s, "fd00:1::9", "2001:db8::5", 1, &out, &i), 1);
    CHECK_INT(i, 2);
    /* Then the primaries, the longer client prefix first. */
    CHECK_INT(lookup(&s, "fd00:1::9", "2001:db8::5", 2, &out, &i), 1);
    CHECK_INT(i, 1);
    CHECK_INT(lookup(&s, "fd00:1::9", "2001:db8::5", 3, &out, &i), 1);
    CHECK_INT(i, 0);
    CHECK_INT(lookup(&s, "fd00:1::9", "2001:db8::5", 4, &out, &i), 0);
    CHECK_INT(out.kind, 0); /* zeroed */

    /* The order of the pair matters: the server is not a client here. */
    CHECK_INT(lookup(&s, "2001:db8::5", "fd00:1::9", 0, &out, &i), 0);
    /* A client outside every prefix: nothing. */
    CHECK_INT(lookup(&s, "fd01::1", "2001:db8::5", 0, &out, &i), 0);
    /* Only the broad primary holds fd00:2::1. */
    CHECK_INT(lookup(&s, "fd00:2::1", "2001:db8::5", 0, &out, &i), 1);
    CHECK_INT(i, 0);

    /* Entries passed by (expired records) are not counted at all. */
    s.hidden[3] = 1;
    CHECK_INT(lookup(&s, "fd00:1::9", "2001:db8::5", 0, &out, &i), 1);
    CHECK_INT(i, 2);
    CHECK_INT(lookup(&s, "fd00:1::9", "2001:db8::5", 1, &out, &i), 1);
    CHECK_INT(i, 1);
    pdm_keylog_entry_wipe(&out);
}

static void test_primary_tie_break(void)
{
    struct set s;
    struct pdm_keylog_entry out;
    size_t i = 99;

    memset(&s, 0, sizeof s);
    /* Same client prefix: the longer server prefix wins, whatever the
     * index; equal in both: the higher index wins. */
    add(&s, PDM_KEYLOG_PRIMARY, "fd00:1::", 32, "2001:db8::5", 128, 0x20);
    add(&s, PDM_KEYLOG_PRIMARY, "fd00:1::", 32, "2001:db8::", 32, 0x21);
    add(&s, PDM_KEYLOG_PRIMARY, "fd00:1::", 32, "2001:db8::", 32, 0x22);
    CHECK_INT(lookup(&s, "fd00:1::7", "2001:db8::5", 0, &out, &i), 1);
    CHECK_INT(i, 0);
    CHECK_INT(lookup(&s, "fd00:1::7", "2001:db8::5", 1, &out, &i), 1);
    CHECK_INT(i, 2);
    CHECK_INT(lookup(&s, "fd00:1::7", "2001:db8::5", 2, &out, &i), 1);
    CHECK_INT(i, 1);
    CHECK_INT(lookup(&s, "fd00:1::7", "2001:db8::6", 0, &out, &i), 1);
    CHECK_INT(i, 2);
    pdm_keylog_entry_wipe(&out);
}

static void test_derivation(void)
{
    struct set s;
    struct pdm_keylog_entry out;
    struct pdm_profile_primary p;
    uint8_t c[16], want[32];
    size_t i = 99;

    memset(&s, 0, sizeof s);
    add(&s, PDM_KEYLOG_PRIMARY, "fd00:1::", 32, "2001:db8::", 32, 0x30);
    CHECK_INT(lookup(&s, "fd00:1::7", "2001:db8::5", 0, &out, &i), 1);
    /* A secret entry for exactly the pair, with the primary's suite and salt. */
    CHECK_INT(out.kind, PDM_KEYLOG_SECRET);
    CHECK_INT(out.client_plen, 128);
    CHECK_INT(out.server_plen, 128);
    inet_pton(AF_INET6, "fd00:1::7", c);
    CHECK_MEM(out.client, c, 16);
    CHECK_MEM(out.salt, s.v[0].salt, sizeof out.salt);
    CHECK_INT(out.secret_len, 32);
    CHECK_INT(out.suite.aead_id, PDM_HPKE_AEAD_AES_128_GCM);
    /* ClientSecret(C) as the profile derives it, not the primary secret. */
    CHECK_INT(pdm_profile_primary_init(&p, s.v[0].suite, s.v[0].salt, sizeof s.v[0].salt,
                                       s.v[0].secret, 32),
              0);
    CHECK_INT(pdm_profile_primary_client(&p, c, want, sizeof want), 0);
    pdm_profile_primary_wipe(&p);
    CHECK_MEM(out.secret, want, 32);
    CHECK(memcmp(out.secret, s.v[0].secret, 32) != 0);
    /* index may be NULL. */
    CHECK_INT(lookup(&s, "fd00:1::7", "2001:db8::5", 0, &out, NULL), 1);
    /* Arguments. */
    CHECK_INT(pdm_keylog_lookup(NULL, &s, s.n, c, c, 0, &out, NULL), PDM_ERR_INVAL);
    CHECK_INT(pdm_keylog_lookup(at, &s, s.n, NULL, c, 0, &out, NULL), PDM_ERR_INVAL);
    CHECK_INT(pdm_keylog_lookup(at, &s, s.n, c, c, 0, NULL, NULL), PDM_ERR_INVAL);
    CHECK_INT(pdm_keylog_lookup(at, &s, 0, c, c, 0, &out, NULL), 0);
    pdm_keylog_entry_wipe(&out);
}

/*
 * A salt or secret that is not hex: the reason names the field (and the
 * length when that is wrong) but never a character of it, wherever the
 * bad character is; the entry is wiped. Both cases of digits are read.
 */
static void test_parse_hex_secrecy(void)
{
    static const char head[] = "PDMV2_SECRET 2001:db8::1 2001:db8::2 0020-0001-0001 ";
    char salt[65], secret[65], line[256], why[128];
    struct pdm_keylog_entry e;
    int leaks = 0, wrong = 0;

    for (size_t pos = 0; pos < 64; pos++) {
        for (int field = 0; field < 2; field++) {
            memset(salt, 'a', 64);
            memset(secret, 'B', 64);
            salt[64] = secret[64] = '\0';
            (field == 0 ? salt : secret)[pos] = '~';
            snprintf(line, sizeof line, "%s%s %s", head, salt, secret);
            memset(&e, 0x55, sizeof e);
            if (pdm_keylog_parse_line(line, strlen(line), &e, why, sizeof why) !=
                    PDM_ERR_MALFORMED ||
                strstr(why, field == 0 ? "field 5 (salt): not hex" : "field 6 (secret): not hex") ==
                    NULL ||
                e.kind != 0 || e.secret[0] != 0)
                wrong++;
            if (strchr(why, '~') != NULL)
                leaks++;
        }
    }
    CHECK_INT(wrong, 0);
    CHECK_INT(leaks, 0);
    memset(salt, 'a', 64);
    memset(secret, 'B', 64);
    snprintf(line, sizeof line, "%s%.64s %.64s", head, salt, secret);
    CHECK_INT(pdm_keylog_parse_line(line, strlen(line), &e, why, sizeof why), 1);
    CHECK_INT(e.salt[31], 0xaa);
    CHECK_INT(e.secret[0], 0xbb);
    /* And back: written lowercase. */
    CHECK(pdm_keylog_format_line(&e, line, sizeof line) > 0);
    CHECK(strstr(line, " bbbbbbbb") != NULL);
    pdm_keylog_entry_wipe(&e);
}

/*
 * Entries that are not well formed take no rank: a PDMV2_SECRET with a
 * prefix is not an exact secret for the addresses inside it, a secret of
 * the wrong size or an unusable suite is not returned, and none of them
 * hides the good entry below it. *index is left alone when nothing is
 * found; *out is zeroed even on an argument error.
 */
static void test_malformed_entries(void)
{
    struct set s;
    struct pdm_keylog_entry out;
    size_t i = 99;

    memset(&s, 0, sizeof s);
    add(&s, PDM_KEYLOG_SECRET, "fd00:1::9", 128, "2001:db8::5", 128, 0x40); /* 0: good */
    add(&s, PDM_KEYLOG_SECRET, "fd00:1::", 64, "2001:db8::5", 128, 0x41);   /* a prefix */
    s.v[add(&s, PDM_KEYLOG_SECRET, "fd00:1::9", 128, "2001:db8::5", 128, 0x42)].secret_len = 16;
    s.v[add(&s, PDM_KEYLOG_SECRET, "fd00:1::9", 128, "2001:db8::5", 128, 0x43)].suite.aead_id =
        PDM_HPKE_AEAD_EXPORT_ONLY;
    s.v[add(&s, PDM_KEYLOG_PRIMARY, "fd00:1::", 32, "2001:db8::", 32, 0x44)].kind =
        (enum pdm_keylog_kind)7;
    s.v[add(&s, PDM_KEYLOG_PRIMARY, "fd00:1::", 32, "2001:db8::", 32, 0x45)].secret_len = 0;

    CHECK_INT(lookup(&s, "fd00:1::9", "2001:db8::5", 0, &out, &i), 1);
    CHECK_INT(i, 0);
    CHECK_INT(out.secret[0], 0x40);
    CHECK_INT(lookup(&s, "fd00:1::9", "2001:db8::5", 1, &out, &i), 0);
    CHECK_INT(i, 0); /* not written */
    /* Inside the bad secret's "prefix", but not the good entry's pair. */
    i = 99;
    CHECK_INT(lookup(&s, "fd00:1::7", "2001:db8::5", 0, &out, &i), 0);
    CHECK_INT(i, 99);
    CHECK_INT(out.kind, 0);
    memset(&out, 0x55, sizeof out);
    CHECK_INT(pdm_keylog_lookup(NULL, &s, s.n, s.v[0].client, s.v[0].server, 0, &out, NULL),
              PDM_ERR_INVAL);
    CHECK_INT(out.kind, 0);
    CHECK_INT(out.secret[0], 0);
    pdm_keylog_entry_wipe(&out);
}

int main(void)
{
    RUN(test_malformed_entries);
    RUN(test_parse_hex_secrecy);
    RUN(test_order);
    RUN(test_primary_tie_break);
    RUN(test_derivation);
    return harness_done();
}
