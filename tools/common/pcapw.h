/*
 * pcapw: writes classic pcap files (the libpcap savefile format,
 * https://www.tcpdump.org/manpages/pcap-savefile.5.txt) from packets in
 * memory, for the tests and the benchmarks. A thin wrapper over libpcap's
 * dumper (pcap_open_dead_with_tstamp_precision, pcap_dump_open, pcap_dump):
 * the file is exactly what tcpdump -w would write.
 *
 * Files have nanosecond timestamps (magic 0xa1b23c4d), which Wireshark,
 * tshark, tcpdump and libpcap >= 1.5 read, and are in the host's byte
 * order (libpcap's choice; the magic tells readers which).
 *
 *   struct tool_pcapw w;
 *   if ((rv = tool_pcapw_open(&w, "out.pcap", TOOL_PCAPW_LINKTYPE_RAW)) != 0) goto out;
 *   rv = tool_pcapw_write(&w, ts_ns, pkt, len);
 *   ...
 *   rv = tool_pcapw_close(&w);   (always call it once open succeeded)
 */
#ifndef PDM_TOOLS_PCAPW_H
#define PDM_TOOLS_PCAPW_H

#include <stddef.h>
#include <stdint.h>

/* Link types as the file records them (https://www.tcpdump.org/linktypes.html);
 * any other LINKTYPE_ value libpcap can write works too (113 SLL, 276 SLL2). */
#define TOOL_PCAPW_LINKTYPE_ETHERNET 1   /* Ethernet II frames */
#define TOOL_PCAPW_LINKTYPE_RAW      101 /* raw IPv4 or IPv6 packets, no link header */

/* Longest packet kept whole; longer ones are cut (their true length is
 * recorded). Large enough for any IPv6 packet without a jumbogram. */
#define TOOL_PCAPW_SNAPLEN 262144u

struct pcap;        /* libpcap's pcap_t */
struct pcap_dumper; /* libpcap's pcap_dumper_t */

struct tool_pcapw {
    struct pcap *dead;     /* a handle with no device: link type, snaplen, precision */
    struct pcap_dumper *d; /* the open file; NULL when closed */
};

/*
 * Creates (or truncates) the file at path and writes the file header
 * (libpcap's convention: path "-" is the standard output).
 * Returns 0, PDM_ERR_INVAL (NULL argument, or a link type libpcap cannot
 * write), or PDM_ERR_SYSTEM (errno set).
 */
int tool_pcapw_open(struct tool_pcapw *w, const char *path, uint32_t linktype);

/*
 * Appends one packet of len bytes captured at ts_ns nanoseconds since the
 * Unix epoch (at most TOOL_PCAPW_SNAPLEN bytes of it are kept).
 * Returns 0, PDM_ERR_INVAL (w not open, NULL packet with len > 0, or len
 * above UINT32_MAX), or PDM_ERR_SYSTEM (a write failed, errno set).
 */
int tool_pcapw_write(struct tool_pcapw *w, uint64_t ts_ns, const uint8_t *pkt, size_t len);

/*
 * Flushes and closes the file; w is unusable afterwards.
 * Returns 0, PDM_ERR_INVAL (w not open), or PDM_ERR_SYSTEM (a write or the
 * flush failed, errno set; the file may be incomplete).
 */
int tool_pcapw_close(struct tool_pcapw *w);

#endif /* PDM_TOOLS_PCAPW_H */
