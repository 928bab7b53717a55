/*
 * pcapw: classic pcap files through libpcap's dumper (see pcapw.h).
 *
 * libpcap numbers link types two ways: DLT_ values in its API, LINKTYPE_
 * values in files (https://www.tcpdump.org/linktypes.html). They are the
 * same for 0 to 10 and from 104 up; of the rest only LINKTYPE_RAW (101,
 * DLT_RAW: 12 on Linux, 14 on OpenBSD) is one we write, so it is the one
 * translated here. pcap_dump_open translates back when it writes the file
 * header, and refuses a DLT it has no LINKTYPE for.
 *
 * pcap_dump() reports nothing; a failed write shows in the FILE's error
 * flag (pcap_dump_file), checked after each record, and in
 * pcap_dump_flush() at the end.
 */
#include "pcapw.h"

#include <pdm/common.h>

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>

static int dlt_of(uint32_t linktype)
{
    return linktype == TOOL_PCAPW_LINKTYPE_RAW ? DLT_RAW : (int)linktype;
}

int tool_pcapw_open(struct tool_pcapw *w, const char *path, uint32_t linktype)
{
    int saved;

    if (w == NULL || path == NULL)
        return PDM_ERR_INVAL;
    w->d = NULL;
    if (linktype > INT32_MAX)
        return PDM_ERR_INVAL;
    w->dead = pcap_open_dead_with_tstamp_precision(dlt_of(linktype), (int)TOOL_PCAPW_SNAPLEN,
                                                   PCAP_TSTAMP_PRECISION_NANO);
    if (w->dead == NULL) {
        errno = ENOMEM;
        return PDM_ERR_SYSTEM;
    }
    /* errno stays 0 when libpcap refuses the link type without a system
     * call failing. */
    errno = 0;
    if ((w->d = pcap_dump_open(w->dead, path)) == NULL) {
        saved = errno;
        pcap_close(w->dead);
        w->dead = NULL;
        if (saved == 0) {
            errno = EINVAL;
            return PDM_ERR_INVAL;
        }
        errno = saved;
        return PDM_ERR_SYSTEM;
    }
    return 0;
}

int tool_pcapw_write(struct tool_pcapw *w, uint64_t ts_ns, const uint8_t *pkt, size_t len)
{
    struct pcap_pkthdr h;

    if (w == NULL || w->d == NULL || (pkt == NULL && len > 0) || len > UINT32_MAX)
        return PDM_ERR_INVAL;
    /* A nanosecond handle: tv_usec carries nanoseconds. */
    h.ts.tv_sec = (time_t)(ts_ns / 1000000000u);
    h.ts.tv_usec = (suseconds_t)(ts_ns % 1000000000u);
    h.caplen = (bpf_u_int32)(len < TOOL_PCAPW_SNAPLEN ? len : TOOL_PCAPW_SNAPLEN);
    h.len = (bpf_u_int32)len;
    pcap_dump((u_char *)w->d, &h, pkt);
    return ferror(pcap_dump_file(w->d)) ? PDM_ERR_SYSTEM : 0;
}

int tool_pcapw_close(struct tool_pcapw *w)
{
    int rv = 0;

    if (w == NULL || w->d == NULL)
        return PDM_ERR_INVAL;
    if (pcap_dump_flush(w->d) != 0 || ferror(pcap_dump_file(w->d)))
        rv = PDM_ERR_SYSTEM;
    pcap_dump_close(w->d);
    pcap_close(w->dead);
    w->d = NULL;
    w->dead = NULL;
    return rv;
}
