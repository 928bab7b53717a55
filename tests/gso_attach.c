/*
 * tests/gso_attach: tools/agent/gso.c on its own, for tests/it_gso.sh and
 * bench/bench_gso.sh while no loader calls it (not a unit test). The
 * programs and maps of pdm.bpf.o are loaded and pinned by bpftool:
 *
 *   gso_attach PROG_PIN MAP_PIN DEV...   (pdm_gso_seg and gso_ifs pinned)
 *
 * creates the pairs of the devices, prints "gso: ready" and holds them
 * until its standard input closes or SIGTERM, then removes them.
 */
#include "../tools/agent/gso.h"

#include <linux/bpf.h>
#include <net/if.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int obj_get(const char *path)
{
    union bpf_attr a;

    memset(&a, 0, sizeof a);
    a.pathname = (uint64_t)(uintptr_t)path;
    return (int)syscall(__NR_bpf, BPF_OBJ_GET, &a, sizeof a);
}

static void on_term(int sig)
{
    (void)sig;
}

int main(int argc, char **argv)
{
    static struct gso_pairs g;
    unsigned devs[GSO_PAIRS_MAX];
    struct sigaction sa;
    char err[256], c;
    int map_fd, prog_fd;

    if (argc < 4 || argc - 3 > GSO_PAIRS_MAX) {
        fprintf(stderr, "usage: gso_attach PROG_PIN MAP_PIN DEV...\n");
        return 2;
    }
    if ((prog_fd = obj_get(argv[1])) < 0 || (map_fd = obj_get(argv[2])) < 0) {
        perror("gso_attach: pinned gso_ifs or pdm_gso_seg");
        return 1;
    }
    for (int i = 3; i < argc; i++)
        if (!(devs[i - 3] = if_nametoindex(argv[i]))) {
            fprintf(stderr, "gso_attach: no device %s\n", argv[i]);
            return 1;
        }
    if (gso_pairs_attach(&g, map_fd, prog_fd, devs, (size_t)argc - 3, err, sizeof err) < 0) {
        fprintf(stderr, "gso_attach: %s\n", err);
        return 1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    fprintf(stderr, "gso: ready\n");
    while (read(0, &c, 1) > 0)
        ;
    gso_pairs_detach(&g);
    return 0;
}
