/*
 * The analyser's link layer (analyze.h): where the IPv6 packet starts in a
 * captured frame, for the link types pcap_datalink() reports on Linux.
 * Frames of other link-layer payloads (IPv4, ARP ...) are "not IPv6".
 * Inline: it runs once a packet, and a call cost the analyser a few per
 * cent (bench/analyze.sh).
 */
#ifndef PDM_TOOLS_ANALYZE_LINK_H
#define PDM_TOOLS_ANALYZE_LINK_H

#include <pdm/codec.h>
#include <pdm/common.h>

#include <stddef.h>
#include <stdint.h>

#include "conv.h"

/* Link types (https://www.tcpdump.org/linktypes.html), as pcap_datalink()
 * reports them on Linux (DLT_* values). */
#define AN_DLT_EN10MB      1   /* Ethernet II, 802.1Q / 802.1ad tags allowed */
#define AN_DLT_RAW         12  /* DLT_RAW: raw IPv4 or IPv6 (LINKTYPE_RAW 101) */
#define AN_DLT_LINUX_SLL   113 /* Linux cooked v1 */
#define AN_DLT_IPV6        229 /* LINKTYPE_IPV6: raw IPv6 */
#define AN_DLT_LINUX_SLL2  276 /* Linux cooked v2 */
#define AN_LINKTYPE_RAW    101 /* the file header value of DLT_RAW */
#define AN_ETHERTYPE_IPV6  0x86dd
#define AN_ETHERTYPE_VLAN  0x8100
#define AN_ETHERTYPE_QINQ  0x88a8
#define AN_ETHERTYPE_QINQ9 0x9100

/* Returns 1 when an_link_ipv6() knows the link type, else 0. */
static inline int an_link_supported(int dlt)
{
    return dlt == AN_DLT_EN10MB || dlt == AN_DLT_RAW || dlt == AN_LINKTYPE_RAW ||
           dlt == AN_DLT_LINUX_SLL || dlt == AN_DLT_LINUX_SLL2 || dlt == AN_DLT_IPV6;
}

/*
 * Finds the IPv6 packet in a frame of link type dlt (AN_DLT_*).
 * Returns 0 with *off, PDM_ERR_NOT_FOUND when the frame carries something
 * else, PDM_ERR_TRUNCATED when its header is cut, PDM_ERR_UNSUPPORTED for
 * an unknown link type.
 *
 * Ethernet II:   dst(6) src(6) EtherType(2), then payload; each 802.1Q /
 *                802.1ad tag inserts TPID(2) TCI(2) before the EtherType.
 * Linux SLL:     packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2)
 * Linux SLL2:    protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1)
 *                addr len(1) addr(8)
 * (https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html, _SLL2.html)
 */
static inline int an_link_ipv6(int dlt, const uint8_t *frame, size_t caplen, size_t *off)
{
    uint16_t et;
    size_t o;

    switch (dlt) {
    case AN_DLT_EN10MB:
        if (caplen < 14)
            return PDM_ERR_TRUNCATED;
        et = pdm_get_u16be(frame + 12);
        o = 14;
        while (et == AN_ETHERTYPE_VLAN || et == AN_ETHERTYPE_QINQ || et == AN_ETHERTYPE_QINQ9) {
            if (caplen < o + 4)
                return PDM_ERR_TRUNCATED;
            et = pdm_get_u16be(frame + o + 2);
            o += 4;
        }
        break;
    case AN_DLT_LINUX_SLL:
        if (caplen < 16)
            return PDM_ERR_TRUNCATED;
        et = pdm_get_u16be(frame + 14);
        o = 16;
        break;
    case AN_DLT_LINUX_SLL2:
        if (caplen < 20)
            return PDM_ERR_TRUNCATED;
        et = pdm_get_u16be(frame);
        o = 20;
        break;
    case AN_DLT_RAW:
    case AN_LINKTYPE_RAW:
    case AN_DLT_IPV6:
        et = AN_ETHERTYPE_IPV6; /* the version nibble decides below */
        o = 0;
        break;
    default:
        return PDM_ERR_UNSUPPORTED;
    }
    if (et != AN_ETHERTYPE_IPV6)
        return PDM_ERR_NOT_FOUND;
    if (caplen <= o)
        return PDM_ERR_TRUNCATED;
    if (frame[o] >> 4 != 6)
        return PDM_ERR_NOT_FOUND;
    *off = o;
    return 0;
}

#endif /* PDM_TOOLS_ANALYZE_LINK_H */
