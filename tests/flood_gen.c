/* tests/flood_gen: sends N IPv6/UDP packets from distinct bogus sources
 * (the low 64 bits of SRC_PREFIX/64 and the source port random per packet)
 * to DST, each with a Destination Options header holding one PDMv2-looking
 * encrypted option (type 0x0F, length 34, random contents: it fails the
 * agent's authentication), with a valid UDP checksum. A raw socket with sendmmsg, 1024 a call.
 *
 *   flood_gen SRC_PREFIX[/128] DST PORT N
 *
 * With "/128" the source address is SRC_PREFIX itself and only the source
 * port is random: flows of a peer whose secret the receiver holds, so
 * that the options reach its authentication and fail there.
 *
 * Prints "flood_gen: N packets in S s (P packets/s)". Needs CAP_NET_RAW. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ip6sum.h"
#include "pdm/protocol.h"

#define BATCH 1024
#define PKT   104 /* IPv6 40 + DestOpt 40 + UDP 8 + payload 16 */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

/* xorshift64*: fast, and good enough for bogus bytes. */
static uint64_t next64(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}

static int fixed_src; /* "/128": the low 64 bits of the source too */

static void fill(uint8_t *p, const struct in6_addr *src, const struct in6_addr *dst, uint16_t port)
{
    uint64_t r;

    memset(p, 0, PKT);
    p[0] = 0x60;
    p[4] = 0;
    p[5] = PKT - 40;
    p[6] = 60; /* Destination Options */
    p[7] = 64;
    memcpy(p + 8, src, 16);
    r = next64();
    if (!fixed_src)
        memcpy(p + 16, &r, 8);
    memcpy(p + 24, dst, 16);
    p[40] = 17; /* next: UDP */
    p[41] = 4;  /* (4 + 1) * 8 = 40 bytes */
    p[42] = PDM_OPT_TYPE;
    p[43] = PDM_OPTLEN_V2_ENC;
    for (int i = 0; i < PDM_OPTLEN_V2_ENC; i += 8) {
        r = next64();
        memcpy(p + 44 + i, &r, (size_t)(PDM_OPTLEN_V2_ENC - i < 8 ? PDM_OPTLEN_V2_ENC - i : 8));
    }
    p[44] = 0x20; /* the version nibble of a PDMv2 option */
    p[78] = 1;    /* PadN, length 0 */
    p[79] = 0;
    r = next64();
    p[80] = (uint8_t)(r >> 8) | 0x80;
    p[81] = (uint8_t)r;
    p[82] = (uint8_t)(port >> 8);
    p[83] = (uint8_t)port;
    p[85] = 24; /* UDP length */
    /* IPv6 forbids a zero UDP checksum (RFC 8200 §8.1): a valid one, so
     * that the packets are what a real sender's would be past the agent. */
    uint16_t sum = upper_checksum(p, 17, p + 80, PKT - 80);
    if (sum == 0)
        sum = 0xffff;
    p[86] = (uint8_t)(sum >> 8);
    p[87] = (uint8_t)sum;
}

int main(int argc, char **argv)
{
    static uint8_t bufs[BATCH][PKT];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    struct in6_addr src, dst;
    struct sockaddr_in6 to;
    struct timespec t0, t1;
    unsigned long n, sent = 0;
    char srcbuf[64], *slash;
    int fd;

    if (argc == 5 && strlen(argv[1]) < sizeof srcbuf) {
        strcpy(srcbuf, argv[1]);
        if ((slash = strchr(srcbuf, '/')) != NULL) {
            fixed_src = !strcmp(slash, "/128");
            *slash = '\0';
        }
    }
    if (argc != 5 || strlen(argv[1]) >= sizeof srcbuf || inet_pton(AF_INET6, srcbuf, &src) != 1 ||
        inet_pton(AF_INET6, argv[2], &dst) != 1) {
        fprintf(stderr, "usage: flood_gen SRC_PREFIX DST PORT N\n");
        return 2;
    }
    n = strtoul(argv[4], NULL, 10);
    fd = socket(AF_INET6, SOCK_RAW, IPPROTO_RAW);
    if (fd < 0) {
        perror("flood_gen: raw socket");
        return 1;
    }
    memset(&to, 0, sizeof to);
    to.sin6_family = AF_INET6;
    to.sin6_addr = dst;
    rng ^= (uint64_t)getpid() << 32;
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < BATCH; i++) {
        iov[i].iov_base = bufs[i];
        iov[i].iov_len = PKT;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &to;
        msgs[i].msg_hdr.msg_namelen = sizeof to;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (sent < n) {
        unsigned int k = n - sent < BATCH ? (unsigned int)(n - sent) : BATCH;
        int m;
        for (unsigned int i = 0; i < k; i++)
            fill(bufs[i], &src, &dst, (uint16_t)strtoul(argv[3], NULL, 10));
        m = sendmmsg(fd, msgs, k, 0);
        if (m < 0) {
            perror("flood_gen: sendmmsg");
            return 1;
        }
        sent += (unsigned long)m;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("flood_gen: %lu packets in %.2f s (%.0f packets/s)\n", sent, s, (double)sent / s);
    return 0;
}
