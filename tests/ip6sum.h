/*
 * The IPv6 upper-layer checksum (RFC 8200 §8.1), for tests that build
 * packets by hand: the pseudo-header (addresses, upper-layer length, Next
 * Header) and the upper-layer bytes, ones' complement summed. ip6 is the
 * packet's fixed header, ul the upper-layer header and its data (ulen
 * bytes, with its checksum field zeroed).
 */
#ifndef PDM_TEST_IP6SUM_H
#define PDM_TEST_IP6SUM_H

#include <stdint.h>
#include <string.h>

#include "conv.h"

static inline uint16_t upper_checksum(const uint8_t *ip6, uint8_t proto, const uint8_t *ul,
                                      size_t ulen)
{
    uint32_t sum = 0;
    uint8_t ph[40];

    memcpy(ph, ip6 + 8, 32); /* source and destination addresses */
    pdm_put_u32be(ph + 32, (uint32_t)ulen);
    memset(ph + 36, 0, 3);
    ph[39] = proto;
    for (size_t i = 0; i < sizeof ph; i += 2)
        sum += pdm_get_u16be(ph + i);
    for (size_t i = 0; i + 1 < ulen; i += 2)
        sum += pdm_get_u16be(ul + i);
    if (ulen % 2)
        sum += (uint32_t)ul[ulen - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

#endif /* PDM_TEST_IP6SUM_H */
