/*
 * pcapw: classic pcap writer (see pcapw.h).
 *
 * File header, 24 bytes, then one record per packet:
 *
 *   +------------------+-------+-------+----------+---------+---------+----------+
 *   | magic 0xa1b23c4d | major | minor | thiszone | sigfigs | snaplen | linktype |
 *   +------------------+-------+-------+----------+---------+---------+----------+
 *            4             2       2        4          4         4         4
 *
 *   +--------+---------+--------+---------+------------------+
 *   | ts_sec | ts_nsec | caplen | origlen | caplen bytes ... |
 *   +--------+---------+--------+---------+------------------+
 *       4        4         4        4
 *
 * The magic's byte order tells readers the file's byte order; this writer
 * always uses big-endian, through lib/conv.h like every other wire format.
 */
#include "pcapw.h"

#include <pdm/common.h>

#include <errno.h>

#include "conv.h"

#define PCAP_MAGIC_NS      0xa1b23c4du /* nanosecond-resolution timestamps */
#define PCAP_VERSION_MAJOR 2
#define PCAP_VERSION_MINOR 4
#define PCAP_FILE_HDR_SIZE 24
#define PCAP_REC_HDR_SIZE  16

int tool_pcapw_open(struct tool_pcapw *w, const char *path, uint32_t linktype)
{
    uint8_t h[PCAP_FILE_HDR_SIZE], *p = h;
    int saved;

    if (w == NULL || path == NULL)
        return PDM_ERR_INVAL;
    w->snaplen = TOOL_PCAPW_SNAPLEN;
    if ((w->f = fopen(path, "wb")) == NULL)
        return PDM_ERR_SYSTEM;
    p = pdm_put_u32be(p, PCAP_MAGIC_NS);
    p = pdm_put_u16be(p, PCAP_VERSION_MAJOR);
    p = pdm_put_u16be(p, PCAP_VERSION_MINOR);
    p = pdm_put_u32be(p, 0); /* thiszone: timestamps are UTC */
    p = pdm_put_u32be(p, 0); /* sigfigs: always 0 */
    p = pdm_put_u32be(p, w->snaplen);
    pdm_put_u32be(p, linktype);
    if (fwrite(h, sizeof h, 1, w->f) != 1) {
        saved = errno;
        fclose(w->f);
        w->f = NULL;
        errno = saved;
        return PDM_ERR_SYSTEM;
    }
    return 0;
}

int tool_pcapw_write(struct tool_pcapw *w, uint64_t ts_ns, const uint8_t *pkt, size_t len)
{
    uint8_t h[PCAP_REC_HDR_SIZE], *p = h;
    size_t cap;

    if (w == NULL || w->f == NULL || (pkt == NULL && len > 0) || len > UINT32_MAX)
        return PDM_ERR_INVAL;
    cap = len < w->snaplen ? len : w->snaplen;
    p = pdm_put_u32be(p, (uint32_t)(ts_ns / 1000000000u));
    p = pdm_put_u32be(p, (uint32_t)(ts_ns % 1000000000u));
    p = pdm_put_u32be(p, (uint32_t)cap);
    pdm_put_u32be(p, (uint32_t)len);
    if (fwrite(h, sizeof h, 1, w->f) != 1 || (cap > 0 && fwrite(pkt, cap, 1, w->f) != 1))
        return PDM_ERR_SYSTEM;
    return 0;
}

int tool_pcapw_close(struct tool_pcapw *w)
{
    int rv = 0;

    if (w == NULL || w->f == NULL)
        return PDM_ERR_INVAL;
    if (fflush(w->f) != 0)
        rv = PDM_ERR_SYSTEM;
    if (fclose(w->f) != 0)
        rv = PDM_ERR_SYSTEM;
    w->f = NULL;
    return rv;
}
