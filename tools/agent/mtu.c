/*
 * What the agent does about the MTU, sans-IO (the core's helpers): the path
 * MTUs that ICMPv6 Packet Too Big messages teach, and the lowering of the
 * MSS in a peer's TCP SYN so that our segments still fit with the option.
 * docs/agent.md §3 explains why it is done this way.
 */
#include "agent.h"

#include "conv.h"

#include <string.h>

/* TCP header (RFC 9293 §3.1): flags at 13, checksum at 16, options from 20. */
#define TCP_OFF_DOFF  12
#define TCP_OFF_FLAGS 13
#define TCP_OFF_CSUM  16
#define TCP_HDR_MIN   20
#define TCP_FLAG_SYN  0x02
#define TCPOPT_EOL    0
#define TCPOPT_NOP    1
#define TCPOPT_MSS    2

#define ICMPV6_PACKET_TOO_BIG 2
#define IP6_OFF_DST           24

#define PMTU_LIFETIME_NS (600ull * 1000000000ull) /* Linux's ip6_rt_mtu_expires */

/* ---- path MTUs -------------------------------------------------------------- */

static size_t pmtu_slot(const uint8_t dst[16])
{
    uint32_t x = 2166136261u;
    for (size_t i = 0; i < 16; i++)
        x = (x ^ dst[i]) * 16777619u;
    return x % AGENT_PMTU_SLOTS;
}

void agent_pmtu_set(struct agent_pmtu *t, const uint8_t dst[16], uint32_t mtu, uint64_t now_ns)
{
    struct agent_pmtu_entry *e = &t->e[pmtu_slot(dst)];

    /* Direct-mapped: a collision replaces the older entry (a cache). */
    memcpy(e->dst, dst, 16);
    e->mtu = mtu;
    e->expires_ns = now_ns + PMTU_LIFETIME_NS;
    t->any = 1;
}

size_t agent_pmtu_get(const struct agent_pmtu *t, const uint8_t dst[16], uint64_t now_ns)
{
    const struct agent_pmtu_entry *e;

    /* Nearly always nothing was ever learned: no hash per packet then. */
    if (!t->any)
        return 0;
    e = &t->e[pmtu_slot(dst)];
    if (e->mtu == 0 || now_ns >= e->expires_ns || memcmp(e->dst, dst, 16) != 0)
        return 0;
    return e->mtu;
}

/*
 *   ICMPv6 Packet Too Big (RFC 4443 §3.2):
 *   Type 2 | Code 0 | Checksum(2) | MTU(4) | as much of the packet that was
 *   too big as fits (its IPv6 header first: dst at offset 24)
 */
uint32_t agent_ptb_parse(const uint8_t *icmp, size_t len, const uint8_t **dst)
{
    uint32_t mtu;

    if (len < 8 + PDM_IPV6_HDR_SIZE || icmp[0] != ICMPV6_PACKET_TOO_BIG || icmp[1] != 0)
        return 0;
    if ((icmp[8] >> 4) != 6)
        return 0;
    mtu = pdm_get_u32be(icmp + 4);
    if (mtu < PDM_IPV6_MIN_MTU)
        mtu = PDM_IPV6_MIN_MTU; /* what the stack does too (RFC 8200 §5) */
    *dst = icmp + 8 + IP6_OFF_DST;
    return mtu;
}

/* ---- MSS -------------------------------------------------------------------- */

/* One's-complement sum of the 16-bit big-endian words of p[0..n), n even. */
static uint32_t sum16(const uint8_t *p, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        s += pdm_get_u16be(p + i);
    return s;
}

static uint16_t fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

/*
 * The checksum is fixed incrementally (RFC 1624 eqn. 3:
 * HC' = ~(~HC + ~m + m'), over the aligned words that change).
 *
 *   TCP options (RFC 9293 §3.2): kind 0 = end, 1 = NOP, else kind, length,
 *   data; MSS is kind 2, length 4, a 16-bit value.
 */
int agent_mss_clamp(uint8_t *tcp, size_t tcplen, uint16_t mss)
{
    size_t hl, i, w0, w1;
    uint32_t before, after;
    uint16_t hc;

    if (tcplen < TCP_HDR_MIN || !(tcp[TCP_OFF_FLAGS] & TCP_FLAG_SYN))
        return 0;
    hl = (size_t)(tcp[TCP_OFF_DOFF] >> 4) * 4;
    if (hl < TCP_HDR_MIN || hl > tcplen)
        return 0;
    for (i = TCP_HDR_MIN; i < hl;) {
        uint8_t kind = tcp[i];
        if (kind == TCPOPT_EOL)
            break;
        if (kind == TCPOPT_NOP) {
            i++;
            continue;
        }
        if (i + 1 >= hl || tcp[i + 1] < 2 || i + tcp[i + 1] > hl)
            return 0;
        if (kind == TCPOPT_MSS && tcp[i + 1] == 4)
            break;
        i += tcp[i + 1];
    }
    if (i >= hl || tcp[i] != TCPOPT_MSS || pdm_get_u16be(tcp + i + 2) <= mss)
        return 0;
    /* The value sits at i + 2, at either parity: sum the words that hold it. */
    w0 = (i + 2) & ~(size_t)1;
    w1 = (i + 4 + 1) & ~(size_t)1;
    before = sum16(tcp + w0, w1 - w0);
    pdm_put_u16be(tcp + i + 2, mss);
    after = sum16(tcp + w0, w1 - w0);
    hc = pdm_get_u16be(tcp + TCP_OFF_CSUM);
    hc = (uint16_t)~fold((uint32_t)(uint16_t)~hc + (uint32_t)(uint16_t)~fold(before) + fold(after));
    pdm_put_u16be(tcp + TCP_OFF_CSUM, hc);
    return 1;
}
