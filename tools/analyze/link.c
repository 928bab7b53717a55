/*
 * The analyser's link layer (analyze.h): where the IPv6 packet starts in a
 * captured frame, for the link types pcap_datalink() reports on Linux.
 * Frames of other link-layer payloads (IPv4, ARP ...) are "not IPv6".
 */
#include "analyze.h"

#include "conv.h"

int an_link_supported(int dlt)
{
    return dlt == AN_DLT_EN10MB || dlt == AN_DLT_RAW || dlt == AN_LINKTYPE_RAW ||
           dlt == AN_DLT_LINUX_SLL || dlt == AN_DLT_LINUX_SLL2 || dlt == AN_DLT_IPV6;
}

/*
 * Ethernet II:   dst(6) src(6) EtherType(2), then payload; each 802.1Q /
 *                802.1ad tag inserts TPID(2) TCI(2) before the EtherType.
 * Linux SLL:     packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2)
 * Linux SLL2:    protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1)
 *                addr len(1) addr(8)
 * (https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html, _SLL2.html)
 */
int an_link_ipv6(int dlt, const uint8_t *frame, size_t caplen, size_t *off)
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
