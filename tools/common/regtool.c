/* Helpers of the registration commands (tools/common/regtool.h). */
#include "tools.h"
#include "regtool.h"

#include <pdm/profile.h>
#include <pdm/reg.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

uint64_t tool_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t tool_unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec < 0 ? 0 : (uint64_t)ts.tv_sec;
}

int tool_random(uint8_t *out, size_t n)
{
    while (n > 0) {
        ssize_t r = getrandom(out, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        out += r;
        n -= (size_t)r;
    }
    return 0;
}

int tool_eph_rand(void *arg, uint8_t *out, size_t n)
{
    (void)arg;
    return tool_random(out, n) == 0 ? 0 : PDM_ERR_SYSTEM;
}

int tool_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int tool_parse_hostport(const char *s, unsigned default_port, int passive,
                        struct sockaddr_storage *ss, socklen_t *len, char *host, size_t hostcap,
                        char *err, size_t errlen)
{
    char h[256] = "";
    const char *port_s = NULL;
    uint64_t port = default_port;
    struct addrinfo hints, *res = NULL;
    int rv;

    if (!s || !*s)
        return tool_fail(err, errlen, "empty address");
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || (size_t)(close - s - 1) >= sizeof h)
            return tool_fail(err, errlen, "'%s': missing ']'", s);
        memcpy(h, s + 1, (size_t)(close - s - 1));
        h[close - s - 1] = 0;
        if (close[1] == ':')
            port_s = close + 2;
        else if (close[1])
            return tool_fail(err, errlen, "'%s': junk after ']'", s);
    } else if (s[0] == ':') {
        port_s = s + 1;
    } else if (isdigit((unsigned char)s[0]) && !strpbrk(s, ".:")) {
        port_s = s; /* just a port */
    } else {
        const char *colon = strchr(s, ':');
        if (colon && strchr(colon + 1, ':')) {
            /* Two colons or more: a bare IPv6 address without a port. */
            if (strlen(s) >= sizeof h)
                return tool_fail(err, errlen, "'%s': too long", s);
            strcpy(h, s);
        } else {
            size_t n = colon ? (size_t)(colon - s) : strlen(s);
            if (n >= sizeof h)
                return tool_fail(err, errlen, "'%s': too long", s);
            memcpy(h, s, n);
            h[n] = 0;
            if (colon)
                port_s = colon + 1;
        }
    }
    if (port_s && tool_parse_uint(port_s, 0, 65535, &port) != 0)
        return tool_fail(err, errlen, "'%s': bad port", s);
    if (host && hostcap)
        snprintf(host, hostcap, "%s", h[0] ? h : (passive ? "::" : "::1"));
    if (!h[0])
        strcpy(h, passive ? "::" : "::1");

    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    {
        char ps[8];
        snprintf(ps, sizeof ps, "%u", (unsigned)port);
        rv = getaddrinfo(h, ps, &hints, &res);
    }
    if (rv != 0 || !res)
        return tool_fail(err, errlen, "'%s': %s", h, rv ? gai_strerror(rv) : "no address");
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

void tool_format_sockaddr(const struct sockaddr *sa, char *out, size_t cap)
{
    char a[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof a);
        snprintf(out, cap, "[%s]:%u", a, ntohs(s6->sin6_port));
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, a, sizeof a);
        snprintf(out, cap, "%s:%u", a, ntohs(s4->sin_port));
    } else {
        snprintf(out, cap, "?");
    }
}

void tool_sockaddr_addr16(const struct sockaddr *sa, uint8_t out[16])
{
    memset(out, 0, 16);
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        memcpy(out, &s6->sin6_addr, 16);
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        out[10] = out[11] = 0xFF;
        memcpy(out + 12, &s4->sin_addr, 4);
    }
}

int tool_parse_addr16(const char *s, uint8_t out[16])
{
    struct in_addr a4;
    if (inet_pton(AF_INET6, s, out) == 1)
        return 0;
    if (inet_pton(AF_INET, s, &a4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xFF;
        memcpy(out + 12, &a4, 4);
        return 0;
    }
    return -1;
}

int tool_parse_prefix(const char *s, uint8_t out[16], uint8_t *plen)
{
    char a[INET6_ADDRSTRLEN + 8];
    const char *slash = strchr(s, '/');
    uint64_t len = 128;
    int v4;

    if (strlen(s) >= sizeof a)
        return -1;
    strcpy(a, s);
    if (slash)
        a[slash - s] = 0;
    if (tool_parse_addr16(a, out) != 0)
        return -1;
    v4 = !strchr(a, ':');
    if (slash && tool_parse_uint(slash + 1, 0, v4 ? 32 : 128, &len) != 0)
        return -1;
    if (v4 && slash)
        len += 96;
    for (unsigned bit = (unsigned)len; bit < 128; bit++)
        out[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
    *plen = (uint8_t)len;
    return 0;
}

int tool_parse_suites(const char *list, struct pdm_hpke_suite *out, size_t cap, char *err,
                      size_t errlen)
{
    char buf[1024], *save = NULL, *tok;
    size_t n = 0;

    if (strlen(list) >= sizeof buf)
        return tool_fail(err, errlen, "suite list too long");
    strcpy(buf, list);
    for (tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        struct pdm_hpke_suite s;
        if (n == cap || n == PDM_REG_SUITES_MAX)
            return tool_fail(err, errlen, "too many suites (at most %d)", PDM_REG_SUITES_MAX);
        if (pdm_suite_parse(tok, &s) != 0)
            return tool_fail(err, errlen, "'%s': not a suite (want kem-kdf-aead ids, e.g. %s)", tok,
                             "0020-0001-0001");
        if (pdm_profile_suite_check(s) != 0)
            return tool_fail(err, errlen, "'%s': suite not supported for PDM data", tok);
        out[n++] = s;
    }
    if (n == 0)
        return tool_fail(err, errlen, "empty suite list");
    return (int)n;
}

size_t tool_default_suites(uint16_t kem, struct pdm_hpke_suite *out, size_t cap)
{
    static const struct pdm_hpke_suite all[] = {
        {PDM_HPKE_KEM_X25519_SHA256, PDM_HPKE_KDF_HKDF_SHA256, PDM_HPKE_AEAD_AES_128_GCM},
        {PDM_HPKE_KEM_X25519_SHA256, PDM_HPKE_KDF_HKDF_SHA256, PDM_HPKE_AEAD_CHACHA20POLY1305},
        {PDM_HPKE_KEM_X25519_SHA256, PDM_HPKE_KDF_HKDF_SHA256, PDM_HPKE_AEAD_AES_256_GCM},
        {PDM_HPKE_KEM_P256_SHA256, PDM_HPKE_KDF_HKDF_SHA256, PDM_HPKE_AEAD_AES_128_GCM},
        {PDM_HPKE_KEM_P256_SHA256, PDM_HPKE_KDF_HKDF_SHA256, PDM_HPKE_AEAD_CHACHA20POLY1305},
        {PDM_HPKE_KEM_P256_SHA256, PDM_HPKE_KDF_HKDF_SHA256, PDM_HPKE_AEAD_AES_256_GCM},
        {PDM_HPKE_KEM_P384_SHA384, PDM_HPKE_KDF_HKDF_SHA384, PDM_HPKE_AEAD_AES_256_GCM},
        {PDM_HPKE_KEM_P384_SHA384, PDM_HPKE_KDF_HKDF_SHA384, PDM_HPKE_AEAD_CHACHA20POLY1305},
        {PDM_HPKE_KEM_P384_SHA384, PDM_HPKE_KDF_HKDF_SHA384, PDM_HPKE_AEAD_AES_128_GCM},
        {PDM_HPKE_KEM_P521_SHA512, PDM_HPKE_KDF_HKDF_SHA512, PDM_HPKE_AEAD_AES_256_GCM},
        {PDM_HPKE_KEM_P521_SHA512, PDM_HPKE_KDF_HKDF_SHA512, PDM_HPKE_AEAD_CHACHA20POLY1305},
        {PDM_HPKE_KEM_P521_SHA512, PDM_HPKE_KDF_HKDF_SHA512, PDM_HPKE_AEAD_AES_128_GCM},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0] && n < cap; i++)
        if (kem == 0 || all[i].kem_id == kem)
            out[n++] = all[i];
    return n;
}

void tool_format_suites(const struct pdm_hpke_suite *s, size_t n, char *out, size_t cap)
{
    size_t len = 0;
    if (cap)
        out[0] = 0;
    for (size_t i = 0; i < n && len + PDM_SUITE_TEXT_SIZE + 1 < cap; i++) {
        char t[PDM_SUITE_TEXT_SIZE];
        pdm_suite_format(s[i], t);
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? "," : "", t);
    }
}

int tool_parse_duration_ms(const char *s, uint64_t *ms)
{
    char *end;
    unsigned long long v;
    uint64_t mul;

    if (!s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    if (!strcmp(end, "ms"))
        mul = 1;
    else if (!*end || !strcmp(end, "s"))
        mul = 1000;
    else if (!strcmp(end, "m"))
        mul = 60000;
    else if (!strcmp(end, "h"))
        mul = 3600000;
    else if (!strcmp(end, "d"))
        mul = 86400000;
    else
        return -1;
    if (v > UINT64_MAX / mul / 1000000)
        return -1; /* keep room for nanoseconds */
    *ms = v * mul;
    return 0;
}

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

int tool_parse_modes(const char *list, unsigned *modes)
{
    static const char *const names[] = {"base", "psk", "auth", "auth_psk"};
    char buf[128], *save = NULL, *tok;
    unsigned m = 0;

    if (strlen(list) >= sizeof buf)
        return -1;
    strcpy(buf, list);
    for (tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        unsigned i;
        for (i = 0; i < 4; i++)
            if (!strcmp(tok, names[i]) ||
                (i == 3 && (!strcmp(tok, "auth-psk") || !strcmp(tok, "authpsk"))))
                break;
        if (i == 4)
            return -1;
        m |= 1u << i;
    }
    if (!m)
        return -1;
    *modes = m;
    return 0;
}

struct pdm_hpke_suite tool_kem_suite(uint16_t kem)
{
    struct pdm_hpke_suite s = {kem, PDM_HPKE_KDF_HKDF_SHA256, PDM_HPKE_AEAD_AES_128_GCM};
    if (kem == PDM_HPKE_KEM_P384_SHA384) {
        s.kdf_id = PDM_HPKE_KDF_HKDF_SHA384;
        s.aead_id = PDM_HPKE_AEAD_AES_256_GCM;
    } else if (kem == PDM_HPKE_KEM_P521_SHA512) {
        s.kdf_id = PDM_HPKE_KDF_HKDF_SHA512;
        s.aead_id = PDM_HPKE_AEAD_AES_256_GCM;
    }
    return s;
}
