/*
 * bench_pcaploop: the floor for bench/analyze.sh. Reads a capture with
 * libpcap exactly as `pdm analyze` does (pcap_open_offline_with_tstamp_
 * precision(NANO), pcap_dispatch) and does nothing with the packets but
 * add up their lengths, so that the read cannot be optimised away.
 *
 *   bench_pcaploop FILE        prints "<packets> <bytes> <checksum>"
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

struct acc {
    uint64_t packets, bytes, x;
};

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
    struct acc *a = (struct acc *)user;
    a->packets++;
    a->bytes += h->caplen;
    if (h->caplen)
        a->x += data[h->caplen - 1]; /* touch the packet, as a reader would */
}

int main(int argc, char **argv)
{
    char eb[PCAP_ERRBUF_SIZE];
    struct acc a = {0, 0, 0};
    pcap_t *p;
    int n;

    if (argc != 2) {
        fprintf(stderr, "usage: bench_pcaploop FILE\n");
        return 2;
    }
    if (!(p = pcap_open_offline_with_tstamp_precision(argv[1], PCAP_TSTAMP_PRECISION_NANO, eb))) {
        fprintf(stderr, "bench_pcaploop: %s\n", eb);
        return 1;
    }
    while ((n = pcap_dispatch(p, 4096, on_packet, (u_char *)&a)) > 0)
        ;
    pcap_close(p);
    if (n == PCAP_ERROR)
        return 1;
    printf("%llu %llu %llu\n", (unsigned long long)a.packets, (unsigned long long)a.bytes,
           (unsigned long long)a.x);
    return 0;
}
