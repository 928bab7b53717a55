/* Addresses and prefixes (tools/common/net.h). */
#include "net.h"

#include "tools.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

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
