/*
 * The secret store and key files of the tools (tools/common/store.c,
 * tools/common/keyfile.c): records, the directory and its permissions, lookups with
 * expiry and the primary-secret fallback (checked against the profile's
 * "client_secrets" vectors), trust-on-first-use records, key and PSK files.
 * Works in a fresh directory under /tmp, removed at the end.
 */
#include "harness.h"
#include "vectors.h"

#include "common/keyfile.h"
#include "common/net.h"
#include "common/suite.h"
#include "common/store.h"
#include "common/tools.h"

#include <pdm/profile.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define VECTORS "tests/vectors/pdmv2-profile-vectors.json"

static char dir[64];

static void path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static void write_file(const char *name, const char *text, mode_t mode)
{
    char p[256];
    int fd;
    path_of(p, sizeof p, name);
    unlink(p);
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
        fchmod(fd, mode);
        close(fd);
    }
}

static int count_files(const char *d, const char *prefix)
{
    DIR *dh = opendir(d);
    struct dirent *de;
    int n = 0;
    if (!dh)
        return -1;
    while ((de = readdir(dh)))
        n += !strncmp(de->d_name, prefix, strlen(prefix));
    closedir(dh);
    return n;
}

static mode_t mode_of(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}

static void make_entry(struct tool_store_entry *e, const char *client, const char *server,
                       uint8_t fill, uint64_t created, uint64_t lifetime)
{
    memset(e, 0, sizeof *e);
    e->k.kind = PDM_KEYLOG_SECRET;
    CHECK_INT(tool_parse_addr16(client, e->k.client), 0);
    CHECK_INT(tool_parse_addr16(server, e->k.server), 0);
    e->k.client_plen = e->k.server_plen = 128;
    e->k.suite = PDM_PROFILE_SUITE_DEFAULT;
    memset(e->k.salt, 0x5A, sizeof e->k.salt);
    memset(e->k.secret, fill, 32);
    e->k.secret_len = 32;
    e->created = created;
    e->lifetime = lifetime;
}

static void test_records(void)
{
    struct tool_store_entry e, d;
    char text[TOOL_STORE_RECORD_MAX], why[200];
    int n;

    make_entry(&e, "2001:db8::1", "2001:db8::2", 0xAB, 1000, 60);
    n = tool_store_entry_format(&e, text, sizeof text);
    CHECK(n > 0);
    CHECK(strstr(text, "PDMV2_SECRET 2001:db8::1 2001:db8::2 0020-0001-0001 5a5a") != NULL);
    CHECK(strstr(text, "\ncreated 1000\nlifetime 60\n") != NULL);
    CHECK_INT(tool_store_entry_parse(text, (size_t)n, &d, why, sizeof why), 0);
    CHECK_MEM(&d.k, &e.k, sizeof e.k);
    CHECK_INT(d.created, 1000);
    CHECK_INT(d.lifetime, 60);
    CHECK_INT(tool_store_entry_format(&e, text, 100), -1); /* too small */

    /* A bare key-log line is a record (never expires). */
    {
        const char *line = "PDMV2_SECRET ::1 ::2 0020-0001-0001 "
                           "0000000000000000000000000000000000000000000000000000000000000000 "
                           "1111111111111111111111111111111111111111111111111111111111111111";
        CHECK_INT(tool_store_entry_parse(line, strlen(line), &d, why, sizeof why), 0);
        CHECK_INT(d.lifetime, 0);
        CHECK_INT(tool_store_entry_expired(&d, UINT64_MAX), 0);
    }
    /* Unknown attribute, bad number, nothing at all, a broken key line. */
    n = tool_store_entry_format(&e, text, sizeof text);
    strcat(text, "colour blue\n");
    CHECK_INT(tool_store_entry_parse(text, strlen(text), &d, why, sizeof why), -1);
    CHECK(strstr(why, "unknown attribute 'colour'") != NULL);
    n = tool_store_entry_format(&e, text, sizeof text);
    strcpy(strstr(text, "lifetime"), "lifetime soon\n");
    CHECK_INT(tool_store_entry_parse(text, strlen(text), &d, why, sizeof why), -1);
    CHECK_INT(tool_store_entry_parse("# only a comment\n", 17, &d, why, sizeof why), -1);
    CHECK_INT(tool_store_entry_parse("PDMV2_SECRET ::1\n", 17, &d, why, sizeof why), -1);
    CHECK(strncmp(why, "line 1:", 7) == 0);

    /* Expiry is created + lifetime, exclusive of the end. */
    CHECK_INT(tool_store_entry_expired(&e, 1059), 0);
    CHECK_INT(tool_store_entry_expired(&e, 1060), 1);
}

static void test_store_files(void)
{
    char sdir[256], err[300], p[512];
    struct tool_store *st = NULL;
    struct tool_store_entry e, got;

    path_of(sdir, sizeof sdir, "store");
    CHECK_INT(tool_store_open(&st, sdir, 0, err, sizeof err), -1); /* missing, no create */
    CHECK_INT(tool_store_open(&st, sdir, 1, err, sizeof err), 0);
    CHECK_INT((int)mode_of(sdir), 0700);
    CHECK_INT((int)tool_store_count(st), 0);

    make_entry(&e, "::1", "::2", 0x11, 100, 0);
    CHECK_INT(tool_store_add(st, &e, err, sizeof err), 0);
    CHECK_INT(count_files(sdir, "secret-"), 1);
    snprintf(p, sizeof p,
             "%s/secret-00000000000000000000000000000001-"
             "00000000000000000000000000000002",
             sdir);
    CHECK_INT((int)mode_of(p), 0600);
    /* The same pair again: replaced, not added. */
    make_entry(&e, "::1", "::2", 0x22, 200, 0);
    CHECK_INT(tool_store_add(st, &e, err, sizeof err), 0);
    CHECK_INT(count_files(sdir, "secret-"), 1);
    CHECK_INT((int)tool_store_count(st), 1);
    CHECK_INT(tool_store_lookup(st, e.k.client, e.k.server, 300, &got), 1);
    CHECK_INT(got.k.secret[0], 0x22);
    /* The order of the pair matters. */
    CHECK_INT(tool_store_lookup(st, e.k.server, e.k.client, 300, &got), 0);

    /* Another process sees it; a bad file is skipped, not fatal. */
    {
        struct tool_store *st2 = NULL;
        char bad[512];
        snprintf(bad, sizeof bad, "%s/secret-garbage", sdir);
        int fd = open(bad, O_WRONLY | O_CREAT, 0600);
        CHECK(fd >= 0 && write(fd, "junk\n", 5) == 5);
        close(fd);
        CHECK_INT(tool_store_open(&st2, sdir, 0, err, sizeof err), 0);
        CHECK_INT((int)tool_store_count(st2), 1);
        CHECK_INT(tool_store_lookup(st2, e.k.client, e.k.server, 300, &got), 1);
        CHECK_INT(got.k.secret[31], 0x22);
        tool_store_close(st2);
        unlink(bad);
    }

    /* A store others can read is refused, with the fix in the message. */
    chmod(sdir, 0755);
    CHECK_INT(tool_store_reload(st, err, sizeof err), -1);
    CHECK(strstr(err, "chmod 700") != NULL);
    CHECK_INT((int)tool_store_count(st), 1); /* the loaded set is kept */
    chmod(sdir, 0700);
    CHECK_INT(tool_store_reload(st, err, sizeof err), 0);

    /* Expiry: lookups skip it, expire deletes its file. */
    make_entry(&e, "::3", "::2", 0x33, 100, 50);
    CHECK_INT(tool_store_add(st, &e, err, sizeof err), 0);
    CHECK_INT(tool_store_lookup(st, e.k.client, e.k.server, 149, &got), 1);
    CHECK_INT(tool_store_lookup(st, e.k.client, e.k.server, 150, &got), 0);
    CHECK_INT(count_files(sdir, "secret-"), 2);
    CHECK_INT(tool_store_expire(st, 150, err, sizeof err), 1);
    CHECK_INT(count_files(sdir, "secret-"), 1);
    CHECK_INT((int)tool_store_count(st), 1);
    CHECK_INT(tool_store_expire(st, 150, err, sizeof err), 0);

    /* Trust on first use records. */
    CHECK_INT(tool_store_known_get(st, "::1", 8250, p, sizeof p, err, sizeof err), 0);
    CHECK_INT(tool_store_known_put(st, "::1", 8250, "x25519:00", err, sizeof err), 0);
    CHECK_INT(tool_store_known_put(st, "::1", 8251, "x25519:11", err, sizeof err), 0);
    CHECK_INT(tool_store_known_get(st, "::1", 8250, p, sizeof p, err, sizeof err), 1);
    CHECK(strcmp(p, "x25519:00") == 0);
    CHECK_INT(tool_store_known_get(st, "::2", 8250, p, sizeof p, err, sizeof err), 0);
    tool_store_close(st);
}

/*
 * Records are kept oldest first whatever order the directory lists them
 * in, so the lookup's "newest wins" holds across processes: 60 records of
 * scrambled creation times (13 distinct) load sorted, ties by slot; and
 * two files of one slot (a copy left beside the record, as an editor's
 * backup would be) give the newer.
 */
static void test_store_order(void)
{
    char sdir[256], err[300], name[128], text[TOOL_STORE_RECORD_MAX];
    struct tool_store *st = NULL, *st2 = NULL;
    struct tool_store_entry e, got;
    int unsorted = 0, differ = 0;

    path_of(sdir, sizeof sdir, "order");
    CHECK_INT(tool_store_open(&st, sdir, 1, err, sizeof err), 0);
    for (unsigned i = 0; i < 60; i++) {
        char c[64];
        snprintf(c, sizeof c, "fd00::%x", i + 1);
        make_entry(&e, c, "2001:db8::1", (uint8_t)i, 30 + (i * 37u) % 13u, 0);
        CHECK_INT(tool_store_add(st, &e, err, sizeof err), 0);
    }
    tool_store_close(st);
    CHECK_INT(tool_store_open(&st, sdir, 0, err, sizeof err), 0);
    CHECK_INT(tool_store_open(&st2, sdir, 0, err, sizeof err), 0);
    CHECK_INT((int)tool_store_count(st), 60);
    for (size_t i = 0; i < tool_store_count(st); i++) {
        const struct tool_store_entry *a = i > 0 ? tool_store_at(st, i - 1) : NULL,
                                      *b = tool_store_at(st, i);
        /* By created; in the same second by slot (here: the client). */
        if (a && (a->created > b->created ||
                  (a->created == b->created && memcmp(a->k.client, b->k.client, 16) >= 0)))
            unsorted++;
        if (memcmp(tool_store_at(st, i), tool_store_at(st2, i), sizeof e) != 0)
            differ++;
    }
    CHECK_INT(unsorted, 0);
    CHECK_INT(differ, 0);
    tool_store_close(st2);
    tool_store_close(st);

    /* One slot in two files: the older copy beside the newer record, then
     * a newer copy. */
    make_entry(&e, "fd00::2", "2001:db8::1", 0x11, 5, 0);
    CHECK(tool_store_entry_format(&e, text, sizeof text) > 0);
    snprintf(name, sizeof name, "order/secret-copy");
    write_file(name, text, 0600);
    CHECK_INT(tool_store_open(&st, sdir, 0, err, sizeof err), 0);
    CHECK_INT(tool_store_lookup(st, e.k.client, e.k.server, 100, &got), 1);
    CHECK_INT(got.k.secret[0], 1); /* the record's own (created 41), not the copy's */
    tool_store_close(st);
    make_entry(&e, "fd00::2", "2001:db8::1", 0x11, 500, 0);
    CHECK(tool_store_entry_format(&e, text, sizeof text) > 0);
    write_file(name, text, 0600);
    CHECK_INT(tool_store_open(&st, sdir, 0, err, sizeof err), 0);
    CHECK_INT(tool_store_lookup(st, e.k.client, e.k.server, 600, &got), 1);
    CHECK_INT(got.k.secret[0], 0x11);
    CHECK_INT(got.created, 500);
    tool_store_close(st);
    tool_store_entry_wipe(&got);
}

/* The primary fallback against the profile's client_secrets vectors. */
static void test_primary(void)
{
    char sdir[256], err[300];
    json_t *doc = vec_load(VECTORS);
    const json_t *cs = json_object_get(doc, "client_secrets");
    struct tool_store *st = NULL;

    CHECK(json_array_size(cs) >= 1);
    path_of(sdir, sizeof sdir, "primary");
    CHECK_INT(tool_store_open(&st, sdir, 1, err, sizeof err), 0);
    for (size_t i = 0; i < json_array_size(cs); i++) {
        const json_t *v = json_array_get(cs, i);
        struct tool_store_entry p, got;
        uint8_t want[64], server[16];
        long wn;

        memset(&p, 0, sizeof p);
        p.k.kind = PDM_KEYLOG_PRIMARY;
        CHECK_INT(tool_parse_prefix(vec_str(v, "client"), p.k.client, &p.k.client_plen), 0);
        /* A /48 around the vector's client, and one server. */
        p.k.client_plen = 48;
        memset(p.k.client + 6, 0, 10);
        CHECK_INT(tool_parse_addr16("2001:db8:ffff::1", p.k.server), 0);
        p.k.server_plen = 128;
        CHECK_INT(pdm_suite_parse(vec_str(v, "suite"), &p.k.suite), 0);
        CHECK_INT(get_hex(v, "salt", p.k.salt, sizeof p.k.salt), 32);
        wn = get_hex(v, "primary_secret", p.k.secret, sizeof p.k.secret);
        CHECK(wn > 0);
        p.k.secret_len = (uint8_t)(wn > 0 ? wn : 0);
        p.created = 10;
        p.lifetime = 100;
        CHECK_INT(tool_store_add(st, &p, err, sizeof err), 0);

        uint8_t client[16];
        CHECK_INT(tool_parse_addr16(vec_str(v, "client"), client), 0);
        memcpy(server, p.k.server, 16);
        CHECK_INT(tool_store_lookup(st, client, server, 50, &got), 2);
        wn = get_hex(v, "client_secret", want, sizeof want);
        CHECK_INT(got.k.secret_len, wn);
        CHECK_MEM(got.k.secret, want, (size_t)(wn > 0 ? wn : 0));
        CHECK_INT(got.k.kind, PDM_KEYLOG_SECRET);
        CHECK_MEM(got.k.client, client, 16);
        CHECK_MEM(got.k.salt, p.k.salt, 32);
        CHECK_INT(got.lifetime, 100);
        /* Expired primaries derive nothing; another server is not covered. */
        CHECK_INT(tool_store_lookup(st, client, server, 110, &got), 0);
        server[15] ^= 1;
        CHECK_INT(tool_store_lookup(st, client, server, 50, &got), 0);
        server[15] ^= 1;
        /* A client's own secret wins over the primary. */
        {
            struct tool_store_entry own;
            char ctext[64], stext[64];
            inet_ntop(AF_INET6, client, ctext, sizeof ctext);
            inet_ntop(AF_INET6, server, stext, sizeof stext);
            make_entry(&own, ctext, stext, 0x77, 20, 0);
            CHECK_INT(tool_store_add(st, &own, err, sizeof err), 0);
            CHECK_INT(tool_store_lookup(st, client, server, 50, &got), 1);
            CHECK_INT(got.k.secret[0], 0x77);
        }
    }
    tool_store_close(st);
    json_decref(doc);
}

static void test_keyfiles(void)
{
    struct pdm_hpke_key k, pub;
    char line[TOOL_KEYFILE_LINE_MAX], err[300], p[256];
    uint8_t ikm[32], psk[300];
    struct tool_keyfile_pubkey *auth = NULL;
    size_t nauth = 0;
    uint16_t kem = 0;

    CHECK_INT(tool_keyfile_kem_parse("X25519", &kem), 0);
    CHECK_INT(kem, PDM_HPKE_KEM_X25519_SHA256);
    CHECK_INT(tool_keyfile_kem_parse("p-384", &kem), 0);
    CHECK_INT(kem, PDM_HPKE_KEM_P384_SHA384);
    CHECK_INT(tool_keyfile_kem_parse("0x0012", &kem), 0);
    CHECK_INT(tool_keyfile_kem_parse("ed25519", &kem), -1);

    memset(ikm, 3, sizeof ikm);
    CHECK_INT(pdm_hpke_keygen(PDM_HPKE_KEM_P256_SHA256, ikm, sizeof ikm, &k), 0);
    CHECK_INT(tool_keyfile_format_private(&k, line, sizeof line), 5 + 64);
    CHECK(strncmp(line, "p256:", 5) == 0);
    CHECK_INT(tool_keyfile_parse_private(line, &pub, err, sizeof err), 0);
    CHECK_MEM(pub.pk, k.pk, 65);
    CHECK_INT(tool_keyfile_format_public(&k, line, sizeof line), 5 + 130);
    CHECK_INT(tool_keyfile_parse_public(line, &pub, err, sizeof err), 0);
    CHECK_INT(pub.has_sk, 0);
    line[10] ^= 1; /* a point off the curve */
    CHECK_INT(tool_keyfile_parse_public(line, &pub, err, sizeof err), -1);
    CHECK(strstr(err, "not a valid point") != NULL);
    CHECK_INT(tool_keyfile_parse_public("x25519:abcd", &pub, err, sizeof err), -1);
    CHECK(strstr(err, "2 bytes, want 32") != NULL);
    CHECK_INT(tool_keyfile_parse_public("nokem", &pub, err, sizeof err), -1);

    /* Key hex in either case; a bad digit is reported by what it is in,
     * never shown (it may be a digit of a private key). */
    CHECK_INT(tool_keyfile_format_private(&k, line, sizeof line), 69);
    for (char *q = line + 5; *q; q++)
        *q = (char)toupper((unsigned char)*q);
    CHECK_INT(tool_keyfile_parse_private(line, &pub, err, sizeof err), 0);
    CHECK_MEM(pub.pk, k.pk, 65);
    line[20] = '~';
    CHECK_INT(tool_keyfile_parse_private(line, &pub, err, sizeof err), -1);
    CHECK(strstr(err, "p256 key: not hex digits") != NULL);
    CHECK(strchr(err, '~') == NULL);
    line[20] = '\0';
    CHECK_INT(tool_keyfile_parse_private(line, &pub, err, sizeof err), -1);
    CHECK(strstr(err, "odd number of hex digits") != NULL);
    /* tool_unhex, over the same codec. */
    CHECK_INT(tool_unhex(psk, 2, "0A0b"), 2);
    CHECK_INT(psk[0], 0x0a);
    CHECK_INT(psk[1], 0x0b);
    CHECK_INT(tool_unhex(psk, 2, "0A0"), -1);
    CHECK_INT(tool_unhex(psk, 1, "0A0b"), -1);
    CHECK_INT(tool_unhex(psk, 2, "0A0g"), -1);
    CHECK_INT(psk[0], 0); /* wiped */
    CHECK_INT(tool_unhex(psk, 2, ""), 0);

    /* Private key files: refused when others can read them. */
    CHECK_INT(tool_keyfile_format_private(&k, line, sizeof line), 69);
    strcat(line, "\n");
    write_file("k.key", line, 0644);
    path_of(p, sizeof p, "k.key");
    CHECK_INT(tool_keyfile_read_private(p, &pub, err, sizeof err), -1);
    CHECK(strstr(err, "chmod 600") != NULL);
    chmod(p, 0600);
    CHECK_INT(tool_keyfile_read_private(p, &pub, err, sizeof err), 0);
    CHECK_MEM(pub.pk, k.pk, 65);
    /* tool_keyfile_write_private never overwrites unless asked. */
    CHECK_INT(tool_keyfile_write_private(p, "x", 0, err, sizeof err), -1);
    CHECK_INT(tool_keyfile_write_private(p, "x", TOOL_KEYFILE_NOSYNC, err, sizeof err), -1);
    CHECK_INT(tool_keyfile_write_private(p, line, TOOL_KEYFILE_REPLACE | TOOL_KEYFILE_NOSYNC, err,
                                         sizeof err),
              0);
    CHECK_INT(tool_keyfile_write_private(p, line, TOOL_KEYFILE_REPLACE, err, sizeof err), 0);
    CHECK_INT((int)mode_of(p), 0600);

    /* PSK files. */
    write_file("short.psk", "00112233\n", 0600);
    path_of(p, sizeof p, "short.psk");
    CHECK_INT(tool_keyfile_read_psk(p, psk, sizeof psk, err, sizeof err), -1);
    CHECK(strstr(err, "at least 32") != NULL);
    write_file("good.psk",
               "# a comment\npsk:000102030405060708090a0b0c0d0e0f"
               "101112131415161718191a1b1c1d1e1f20\n",
               0600);
    path_of(p, sizeof p, "good.psk");
    CHECK_INT(tool_keyfile_read_psk(p, psk, sizeof psk, err, sizeof err), 33);
    CHECK_INT(psk[32], 0x20);
    write_file("bad.psk", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e~\n",
               0600);
    path_of(p, sizeof p, "bad.psk");
    CHECK_INT(tool_keyfile_read_psk(p, psk, sizeof psk, err, sizeof err), -1);
    CHECK(strstr(err, "must be hex digits") != NULL && strchr(err, '~') == NULL);
    CHECK_INT(psk[0], 0);

    /* Authorized keys: names, comments, a bad line named by number. */
    CHECK_INT(tool_keyfile_format_public(&k, line, sizeof line), 135);
    {
        char text[1000];
        snprintf(text, sizeof text, "# team\n\n%s alice laptop # note\n%s\n", line, line);
        write_file("auth", text, 0644);
        path_of(p, sizeof p, "auth");
        CHECK_INT(tool_keyfile_read_authorized(p, &auth, &nauth, err, sizeof err), 0);
        CHECK_INT(nauth, 2);
        if (nauth == 2) {
            CHECK(strcmp(auth[0].name, "alice laptop") == 0);
            CHECK(strcmp(auth[1].name, "") == 0);
            CHECK_MEM(auth[0].key.pk, k.pk, 65);
        }
        free(auth);
        snprintf(text, sizeof text, "%s bob\nx25519:zz\n", line);
        write_file("auth", text, 0644);
        CHECK_INT(tool_keyfile_read_authorized(p, &auth, &nauth, err, sizeof err), -1);
        CHECK(strncmp(strstr(err, ":2: "), ":2: ", 4) == 0);
    }

    /* Key logs: created 0600, an existing readable one refused. */
    path_of(p, sizeof p, "keylog");
    CHECK_INT(tool_keyfile_append_line(p, "PDMV2_SECRET a", err, sizeof err), 0);
    CHECK_INT(tool_keyfile_append_line(p, "PDMV2_SECRET b", err, sizeof err), 0);
    CHECK_INT((int)mode_of(p), 0600);
    {
        char buf[100];
        CHECK_INT(tool_keyfile_read_text(p, 1, buf, sizeof buf, err, sizeof err), 30);
        CHECK(strcmp(buf, "PDMV2_SECRET a\nPDMV2_SECRET b\n") == 0);
    }
    chmod(p, 0640);
    CHECK_INT(tool_keyfile_append_line(p, "PDMV2_SECRET c", err, sizeof err), -1);
    pdm_hpke_key_wipe(&k);
}

static void test_net_suite_args(void)
{
    struct pdm_hpke_suite s[40];
    uint8_t a[16], plen = 0;
    uint64_t ms = 0;
    unsigned modes = 0;
    char err[200], id[256];
    const char *file = NULL;
    struct sockaddr_storage ss;
    socklen_t len;
    char host[64], txt[80];

    CHECK_INT(tool_parse_suites("0020-0001-0001,0010-0001-0003", s, 40, err, sizeof err), 2);
    CHECK_INT(s[1].aead_id, PDM_HPKE_AEAD_CHACHA20POLY1305);
    CHECK_INT(tool_parse_suites("0020-0001-ffff", s, 40, err, sizeof err), -1);
    CHECK_INT(tool_parse_suites("x25519", s, 40, err, sizeof err), -1);
    CHECK_INT((int)tool_default_suites(PDM_HPKE_KEM_P256_SHA256, s, 40), 3);
    CHECK_INT(s[0].kem_id, PDM_HPKE_KEM_P256_SHA256);
    CHECK_INT((int)tool_default_suites(0, s, 40), 12);
    CHECK_INT(s[0].aead_id, PDM_HPKE_AEAD_AES_128_GCM); /* the profile default first */
    CHECK_INT(tool_parse_duration_ms("24h", &ms), 0);
    CHECK_INT(ms, 86400000);
    CHECK_INT(tool_parse_duration_ms("500ms", &ms), 0);
    CHECK_INT(ms, 500);
    CHECK_INT(tool_parse_duration_ms("5", &ms), 0);
    CHECK_INT(ms, 5000);
    CHECK_INT(tool_parse_duration_ms("5w", &ms), -1);
    CHECK_INT(tool_parse_modes("base,auth_psk", &modes), 0);
    CHECK_INT(modes, 0x9);
    CHECK_INT(tool_parse_modes("tls", &modes), -1);
    CHECK_INT(tool_split_psk_arg("site-1:/etc/pdm/psk", id, sizeof id, &file), 0);
    CHECK(strcmp(id, "site-1") == 0 && strcmp(file, "/etc/pdm/psk") == 0);
    CHECK_INT(tool_split_psk_arg(":file", id, sizeof id, &file), -1);
    CHECK_INT(tool_parse_prefix("2001:db8:1234::5/32", a, &plen), 0);
    CHECK_INT(plen, 32);
    CHECK_INT(a[4], 0);
    CHECK_INT(tool_parse_prefix("10.1.2.3/8", a, &plen), 0);
    CHECK_INT(plen, 104);
    CHECK_INT(a[10], 0xFF);
    CHECK_INT(a[12], 10);
    CHECK_INT(a[13], 0);
    CHECK_INT(tool_parse_prefix("::1/129", a, &plen), -1);
    CHECK_INT(
        tool_parse_hostport("[::1]:8250", 1, 0, &ss, &len, host, sizeof host, err, sizeof err), 0);
    tool_format_sockaddr((struct sockaddr *)&ss, txt, sizeof txt);
    CHECK(strcmp(txt, "[::1]:8250") == 0 && strcmp(host, "::1") == 0);
    CHECK_INT(
        tool_parse_hostport("127.0.0.1", 8250, 0, &ss, &len, host, sizeof host, err, sizeof err),
        0);
    tool_format_sockaddr((struct sockaddr *)&ss, txt, sizeof txt);
    CHECK(strcmp(txt, "127.0.0.1:8250") == 0);
    CHECK_INT(tool_parse_hostport(":9000", 8250, 1, &ss, &len, NULL, 0, err, sizeof err), 0);
    tool_format_sockaddr((struct sockaddr *)&ss, txt, sizeof txt);
    CHECK(strcmp(txt, "[::]:9000") == 0);
    CHECK_INT(tool_parse_hostport("[::1]:99999", 1, 0, &ss, &len, NULL, 0, err, sizeof err), -1);
    CHECK_INT(tool_parse_hostport("[::1", 1, 0, &ss, &len, NULL, 0, err, sizeof err), -1);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/pdm-test-store.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_records);
    RUN(test_store_files);
    RUN(test_store_order);
    RUN(test_primary);
    RUN(test_keyfiles);
    RUN(test_net_suite_args);
    {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
    return harness_done();
}
