/* Key, PSK and secret files: parsing, formatting and permission checks. */
#include "keyfile.h"

#include "tools.h"

#include <pdm/reg.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    uint16_t id;
    const char *name;
    size_t npk, nsk;
} kems[] = {
    {PDM_HPKE_KEM_X25519_SHA256, "x25519", 32, 32},
    {PDM_HPKE_KEM_P256_SHA256, "p256", 65, 32},
    {PDM_HPKE_KEM_P384_SHA384, "p384", 97, 48},
    {PDM_HPKE_KEM_P521_SHA512, "p521", 133, 66},
};
#define NKEMS (sizeof kems / sizeof kems[0])

const char *tool_keyfile_kem_name(uint16_t kem_id)
{
    for (size_t i = 0; i < NKEMS; i++)
        if (kems[i].id == kem_id)
            return kems[i].name;
    return NULL;
}

int tool_keyfile_kem_parse(const char *name, uint16_t *kem_id)
{
    for (size_t i = 0; i < NKEMS; i++) {
        char id[8];
        snprintf(id, sizeof id, "0x%04x", kems[i].id);
        if (!strcasecmp(name, kems[i].name) || !strcasecmp(name, id) ||
            (!strcasecmp(name, "p-256") && kems[i].id == PDM_HPKE_KEM_P256_SHA256) ||
            (!strcasecmp(name, "p-384") && kems[i].id == PDM_HPKE_KEM_P384_SHA384) ||
            (!strcasecmp(name, "p-521") && kems[i].id == PDM_HPKE_KEM_P521_SHA512)) {
            *kem_id = kems[i].id;
            return 0;
        }
    }
    return -1;
}

size_t tool_keyfile_npk(uint16_t kem_id)
{
    for (size_t i = 0; i < NKEMS; i++)
        if (kems[i].id == kem_id)
            return kems[i].npk;
    return 0;
}

size_t tool_keyfile_nsk(uint16_t kem_id)
{
    for (size_t i = 0; i < NKEMS; i++)
        if (kems[i].id == kem_id)
            return kems[i].nsk;
    return 0;
}

static int format_key(uint16_t kem, const uint8_t *p, size_t n, char *out, size_t cap)
{
    const char *name = tool_keyfile_kem_name(kem);
    size_t len;
    int hex;

    if (!name || cap < strlen(name) + 2)
        return -1;
    len = (size_t)snprintf(out, cap, "%s:", name);
    /* The hex of a private key is a secret: the constant-time codec. */
    if ((hex = pdm_hex_encode(out + len, cap - len, p, n)) < 0) {
        pdm_memzero(out, cap);
        return -1;
    }
    return (int)(len + (size_t)hex);
}

int tool_keyfile_format_private(const struct pdm_hpke_key *k, char *out, size_t cap)
{
    uint8_t sk[PDM_HPKE_NSK_MAX];
    int n = pdm_hpke_privkey_serialize(k, sk, sizeof sk), rv;
    if (n < 0)
        return -1;
    rv = format_key(k->kem_id, sk, (size_t)n, out, cap);
    pdm_memzero(sk, sizeof sk);
    return rv;
}

int tool_keyfile_format_public(const struct pdm_hpke_key *k, char *out, size_t cap)
{
    uint8_t pk[PDM_HPKE_NPK_MAX];
    int n = pdm_hpke_pubkey_serialize(k, pk, sizeof pk);
    if (n < 0)
        return -1;
    return format_key(k->kem_id, pk, (size_t)n, out, cap);
}

/*
 * Splits "KEM:HEX" (white space around it ignored) and decodes HEX into
 * buf. Returns the number of bytes, or -1. The hex may be a private key:
 * it is decoded in place by the constant-time codec, and no message shows
 * any of it.
 */
static long split_key(const char *text, uint16_t *kem, uint8_t *buf, size_t cap, char *err,
                      size_t errlen)
{
    char name[16];
    const char *colon, *end;
    size_t hexlen;
    int n;

    while (isspace((unsigned char)*text))
        text++;
    end = text + strlen(text);
    while (end > text && isspace((unsigned char)end[-1]))
        end--;
    colon = memchr(text, ':', (size_t)(end - text));
    if (!colon || colon == text || (size_t)(colon - text) >= sizeof name)
        return tool_fail(err, errlen, "not a KEM:HEX key (e.g. x25519:4612...)");
    memcpy(name, text, (size_t)(colon - text));
    name[colon - text] = 0;
    if (tool_keyfile_kem_parse(name, kem) != 0)
        return tool_fail(err, errlen, "unknown KEM '%s' (x25519, p256, p384 or p521)", name);
    hexlen = (size_t)(end - colon - 1);
    n = pdm_hex_decode(buf, cap, colon + 1, hexlen);
    if (n == PDM_ERR_NOBUF || n == PDM_ERR_TOO_BIG)
        return tool_fail(err, errlen, "%s key too long", name);
    if (n < 0 && hexlen % 2 != 0)
        return tool_fail(err, errlen, "%s key: an odd number of hex digits", name);
    if (n < 0)
        return tool_fail(err, errlen, "%s key: not hex digits", name);
    return n;
}

int tool_keyfile_parse_private(const char *text, struct pdm_hpke_key *k, char *err, size_t errlen)
{
    uint8_t sk[PDM_HPKE_NPK_MAX];
    uint16_t kem = 0;
    long n = split_key(text, &kem, sk, sizeof sk, err, errlen);
    int rv = -1;

    if (n < 0)
        goto out;
    if ((size_t)n != tool_keyfile_nsk(kem)) {
        tool_fail(err, errlen, "%s private key: %ld bytes, want %zu", tool_keyfile_kem_name(kem), n,
                  tool_keyfile_nsk(kem));
        goto out;
    }
    if (pdm_hpke_pubkey_from_priv(kem, sk, (size_t)n, k) != 0) {
        tool_fail(err, errlen, "%s private key is not valid", tool_keyfile_kem_name(kem));
        goto out;
    }
    rv = 0;
out:
    pdm_memzero(sk, sizeof sk);
    return rv;
}

int tool_keyfile_parse_public(const char *text, struct pdm_hpke_key *k, char *err, size_t errlen)
{
    uint8_t pk[PDM_HPKE_NPK_MAX];
    uint16_t kem = 0;
    long n = split_key(text, &kem, pk, sizeof pk, err, errlen);

    if (n < 0)
        return -1;
    if ((size_t)n != tool_keyfile_npk(kem))
        return tool_fail(err, errlen, "%s public key: %ld bytes, want %zu",
                         tool_keyfile_kem_name(kem), n, tool_keyfile_npk(kem));
    if (pdm_hpke_pubkey_deserialize(kem, pk, (size_t)n, k) != 0)
        return tool_fail(err, errlen, "%s public key is not a valid point",
                         tool_keyfile_kem_name(kem));
    return 0;
}

int tool_keyfile_check_private_stat(const struct stat *st, const char *path, int dir, char *err,
                                    size_t errlen)
{
    if (dir ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode))
        return tool_fail(err, errlen, "%s: not a %s", path, dir ? "directory" : "regular file");
    if (st->st_mode & 0077)
        return tool_fail(err, errlen,
                         "%s: holds %s but its group or others can access it (mode %04o): "
                         "chmod %s %s",
                         path, dir ? "secrets" : "a secret", (unsigned)(st->st_mode & 07777),
                         dir ? "700" : "600", path);
    return 0;
}

int tool_keyfile_check_private_fd(int fd, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return tool_fail(err, errlen, "%s: %s", path, strerror(errno));
    return tool_keyfile_check_private_stat(&st, path, 0, err, errlen);
}

long tool_keyfile_read_text(const char *path, int private_file, char *buf, size_t cap, char *err,
                            size_t errlen)
{
    size_t len = 0;
    int fd;

    if (cap < 2)
        return tool_fail(err, errlen, "%s: buffer too small", path);
    if (!strcmp(path, "-")) {
        fd = STDIN_FILENO;
    } else if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
        return tool_fail(err, errlen, "%s: %s", path, strerror(errno));
    } else if (private_file && tool_keyfile_check_private_fd(fd, path, err, errlen) != 0) {
        close(fd);
        return -1;
    }
    for (;;) {
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            tool_fail(err, errlen, "%s: %s", path, strerror(errno));
            len = (size_t)-1;
            break;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len == cap - 1) {
            char c;
            if (read(fd, &c, 1) > 0) {
                tool_fail(err, errlen, "%s: too long (more than %zu bytes)", path, cap - 1);
                len = (size_t)-1;
            }
            break;
        }
    }
    if (fd != STDIN_FILENO)
        close(fd);
    if (len == (size_t)-1) {
        pdm_memzero(buf, cap);
        return -1;
    }
    buf[len] = 0;
    return (long)len;
}

/* The first line of text that is neither blank nor a comment, trimmed. */
static char *first_line(char *text)
{
    char *line = text;
    while (line && *line) {
        char *nl = strchr(line, '\n'), *p = line;
        if (nl)
            *nl = 0;
        while (isspace((unsigned char)*p))
            p++;
        if (*p && *p != '#')
            return p;
        line = nl ? nl + 1 : NULL;
    }
    return NULL;
}

int tool_keyfile_read_private(const char *path, struct pdm_hpke_key *k, char *err, size_t errlen)
{
    char buf[1024], why[200];
    char *line;
    int rv = -1;

    if (tool_keyfile_read_text(path, 1, buf, sizeof buf, err, errlen) < 0)
        return -1;
    if (!(line = first_line(buf)))
        tool_fail(err, errlen, "%s: no key in the file", path);
    else if (tool_keyfile_parse_private(line, k, why, sizeof why) != 0)
        tool_fail(err, errlen, "%s: %s", path, why);
    else
        rv = 0;
    pdm_memzero(buf, sizeof buf);
    return rv;
}

long tool_keyfile_read_psk(const char *path, uint8_t *psk, size_t cap, char *err, size_t errlen)
{
    char buf[1100];
    char *line, *end;
    long n = -1;

    if (tool_keyfile_read_text(path, 1, buf, sizeof buf, err, errlen) < 0)
        return -1;
    if (!(line = first_line(buf))) {
        tool_fail(err, errlen, "%s: no PSK in the file", path);
        goto out;
    }
    if (!strncasecmp(line, "psk:", 4))
        line += 4;
    end = line + strlen(line);
    while (end > line && isspace((unsigned char)end[-1]))
        *--end = 0;
    n = pdm_hex_decode(psk, cap, line, (size_t)(end - line));
    if (n < 0)
        n = tool_fail(err, errlen, "%s: the PSK must be hex digits (at most %zu bytes)", path, cap);
    else if (n < PDM_HPKE_PSK_MIN)
        n = tool_fail(err, errlen, "%s: PSK of %ld bytes; at least %d are needed (RFC 9180 §9.5)",
                      path, n, PDM_HPKE_PSK_MIN);
out:
    pdm_memzero(buf, sizeof buf);
    if (n < 0)
        pdm_memzero(psk, cap);
    return n;
}

/* "ID:FILE": the PSK id is text, so it may be shown; the file holds the PSK. */
int tool_split_psk_arg(const char *arg, char *id, size_t idcap, const char **file)
{
    const char *colon = strchr(arg, ':');
    size_t n;
    if (!colon || colon == arg || !colon[1])
        return -1;
    n = (size_t)(colon - arg);
    if (n > PDM_REG_PSK_ID_MAX || n >= idcap)
        return -1;
    memcpy(id, arg, n);
    id[n] = 0;
    *file = colon + 1;
    return 0;
}

int tool_keyfile_read_authorized(const char *path, struct tool_keyfile_pubkey **out, size_t *n,
                                 char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    char line[1024], why[200];
    struct tool_keyfile_pubkey *v = NULL;
    size_t count = 0, cap = 0;
    unsigned lineno = 0;

    *out = NULL;
    *n = 0;
    if (!f)
        return tool_fail(err, errlen, "%s: %s", path, strerror(errno));
    while (fgets(line, sizeof line, f)) {
        char *p = line, *key, *name;
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            tool_fail(err, errlen, "%s:%u: line too long", path, lineno);
            goto bad;
        }
        if ((name = strchr(p, '#')))
            *name = 0;
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            continue;
        key = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        name = p;
        if (*p)
            *p++ = 0, name = p;
        while (isspace((unsigned char)*name))
            name++;
        for (p = name + strlen(name); p > name && isspace((unsigned char)p[-1]);)
            *--p = 0;
        if (count == cap) {
            struct tool_keyfile_pubkey *nv;
            cap = cap ? 2 * cap : 16;
            if (!(nv = realloc(v, cap * sizeof *v))) {
                tool_fail(err, errlen, "%s: out of memory", path);
                goto bad;
            }
            v = nv;
        }
        memset(&v[count], 0, sizeof v[count]);
        if (tool_keyfile_parse_public(key, &v[count].key, why, sizeof why) != 0) {
            tool_fail(err, errlen, "%s:%u: %s", path, lineno, why);
            goto bad;
        }
        snprintf(v[count].name, sizeof v[count].name, "%.63s", name);
        count++;
    }
    if (ferror(f)) {
        tool_fail(err, errlen, "%s: read error", path);
        goto bad;
    }
    fclose(f);
    *out = v;
    *n = count;
    return 0;
bad:
    fclose(f);
    free(v);
    return -1;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int tool_keyfile_write_private(const char *path, const char *text, unsigned flags, char *err,
                               size_t errlen)
{
    char tmp[4096];
    int fd, do_sync = !(flags & TOOL_KEYFILE_NOSYNC);

    if (!(flags & TOOL_KEYFILE_REPLACE)) {
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return tool_fail(err, errlen, "%s: %s", path, strerror(errno));
        if (write_all(fd, text, strlen(text)) != 0 || (do_sync && fsync(fd) != 0)) {
            tool_fail(err, errlen, "%s: %s", path, strerror(errno));
            close(fd);
            unlink(path);
            return -1;
        }
        return close(fd) == 0 ? 0 : tool_fail(err, errlen, "%s: %s", path, strerror(errno));
    }
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path) >= sizeof tmp)
        return tool_fail(err, errlen, "%s: path too long", path);
    /* mkstemp creates the file 0600 and O_EXCL. */
    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
        return tool_fail(err, errlen, "%s: %s", tmp, strerror(errno));
    if (fchmod(fd, 0600) != 0 || write_all(fd, text, strlen(text)) != 0 ||
        (do_sync && fsync(fd) != 0) || close(fd) != 0) {
        tool_fail(err, errlen, "%s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        tool_fail(err, errlen, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int tool_keyfile_append_line(const char *path, const char *line, char *err, size_t errlen)
{
    char buf[2048];
    size_t n = strlen(line);
    int fd, rv;

    if (n + 2 > sizeof buf)
        return tool_fail(err, errlen, "%s: line too long", path);
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0)
        return tool_fail(err, errlen, "%s: %s", path, strerror(errno));
    if (tool_keyfile_check_private_fd(fd, path, err, errlen) != 0) {
        close(fd);
        return -1;
    }
    memcpy(buf, line, n);
    buf[n] = '\n';
    rv = write_all(fd, buf, n + 1);
    pdm_memzero(buf, sizeof buf);
    if (rv != 0) {
        tool_fail(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return close(fd) == 0 ? 0 : tool_fail(err, errlen, "%s: %s", path, strerror(errno));
}
