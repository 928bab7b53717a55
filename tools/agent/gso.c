/*
 * The segmenting veth pairs of the tc-eBPF data path (gso.h; the design and
 * its figures: docs/agent.md "GSO"). For a real device with ifindex N:
 *
 *   pdmsN  the diverted super-packet's way in: TSO and GSO off, so that its
 *          transmit path (validate_xmit_skb) segments in software;
 *   pdmrN  its peer: each segment reaches pdm_gso_seg on its TCX ingress,
 *          is stamped and redirected to device N's egress.
 *
 * Neither has an IPv6 address (no neighbour discovery of their own; IPv6
 * disabled too where /proc/sys is writable), and pdm_gso_seg drops anything
 * arriving at pdmrN that is not a diverted packet to a peer. The program's link belongs to this
 * process: when the agent dies, so does the link, and so (with the loader's own links) pdm_egress,
 * which stops diverting; the pair left behind carries nothing and is replaced at the next start.
 * Raw bpf(2) and rtnetlink through libmnl: no libbpf here, so that the file builds without it.
 */
#include "gso.h"

#include <linux/types.h>

#include "../../bpf/gso.h"

#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/bpf.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Debian 12's uapi headers (6.1) predate TCX (6.6); the values are ABI. */
#define GSO_TCX_INGRESS 46

#define GSO_MTU 65535 /* veth's maximum: a diverted super-packet is never refused */

static long sys_bpf(int cmd, union bpf_attr *a)
{
    return syscall(__NR_bpf, cmd, a, sizeof *a);
}

static int map_put(int fd, uint32_t key, uint32_t ifindex, uint32_t role)
{
    struct pdm_gso_if v = {.ifindex = ifindex, .role = role};
    union bpf_attr a;

    memset(&a, 0, sizeof a);
    a.map_fd = (uint32_t)fd;
    a.key = (uint64_t)(uintptr_t)&key;
    a.value = (uint64_t)(uintptr_t)&v;
    a.flags = BPF_ANY;
    return sys_bpf(BPF_MAP_UPDATE_ELEM, &a) < 0 ? -1 : 0;
}

static void map_del(int fd, uint32_t key)
{
    union bpf_attr a;

    memset(&a, 0, sizeof a);
    a.map_fd = (uint32_t)fd;
    a.key = (uint64_t)(uintptr_t)&key;
    sys_bpf(BPF_MAP_DELETE_ELEM, &a);
}

static int tcx_attach(int prog_fd, unsigned ifindex)
{
    union bpf_attr a;

    memset(&a, 0, sizeof a);
    a.link_create.prog_fd = (uint32_t)prog_fd;
    a.link_create.target_ifindex = ifindex;
    a.link_create.attach_type = GSO_TCX_INGRESS;
    return (int)sys_bpf(BPF_LINK_CREATE, &a);
}

/* One rtnetlink request with its acknowledgement: 0, or -errno. */
static int rtnl_call(struct nlmsghdr *nlh)
{
    char buf[8192];
    struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
    int rv = -EIO;
    ssize_t len;

    if (!nl)
        return -errno;
    nlh->nlmsg_seq = (uint32_t)time(NULL);
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == 0 &&
        mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) >= 0 &&
        (len = mnl_socket_recvfrom(nl, buf, sizeof buf)) > 0)
        rv = mnl_cb_run(buf, (size_t)len, nlh->nlmsg_seq, mnl_socket_get_portid(nl), NULL, NULL) < 0
                 ? -errno
                 : 0;
    mnl_socket_close(nl);
    return rv;
}

static int link_del(const char *name)
{
    char buf[256];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    struct ifinfomsg *ifi;

    nlh->nlmsg_type = RTM_DELLINK;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
    ifi->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    return rtnl_call(nlh);
}

static int veth_add(const char *a, const char *b)
{
    char buf[512];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    struct ifinfomsg *ifi;
    struct nlattr *info, *data, *peer;

    nlh->nlmsg_type = RTM_NEWLINK;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;
    ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
    ifi->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, a);
    mnl_attr_put_u32(nlh, IFLA_MTU, GSO_MTU);
    info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
    data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
    ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
    ifi->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, b);
    mnl_attr_put_u32(nlh, IFLA_MTU, GSO_MTU);
    mnl_attr_nest_end(nlh, peer);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, info);
    return rtnl_call(nlh);
}

static int ethtool_set(int fd, const char *name, uint32_t cmd, uint32_t value)
{
    struct ethtool_value ev = {.cmd = cmd, .data = value};
    struct ifreq ifr;

    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    ifr.ifr_data = (void *)&ev;
    return ioctl(fd, SIOCETHTOOL, &ifr);
}

static int link_up(int fd, const char *name)
{
    struct ifreq ifr;

    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
        return -1;
    ifr.ifr_flags |= IFF_UP;
    return ioctl(fd, SIOCSIFFLAGS, &ifr);
}

/*
 * No link-local address, hence no neighbour discovery, on the pair:
 * addrgenmode none over rtnetlink (the sysctl below is not writable under
 * the unit's ProtectKernelTunables=). Before the link is up.
 */
static int ipv6_no_addr(unsigned ifindex)
{
    char buf[256];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    struct ifinfomsg *ifi;
    struct nlattr *spec, *in6;
    int e;

    nlh->nlmsg_type = RTM_NEWLINK;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = (int)ifindex;
    spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
    in6 = mnl_attr_nest_start(nlh, AF_INET6);
    mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
    mnl_attr_nest_end(nlh, in6);
    mnl_attr_nest_end(nlh, spec);
    if ((e = rtnl_call(nlh)) == -EAFNOSUPPORT)
        return 0; /* no IPv6 in this kernel: nothing to send */
    errno = -e;
    return e;
}

/* Best effort on top (MLD too): the sysctl, where /proc/sys is writable. */
static void ipv6_off(const char *name)
{
    char path[96];
    int fd;

    snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
    if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
        return;
    if (write(fd, "1", 1) != 1) {
        /* pdm_gso_seg drops what the pair sends of its own anyway */
    }
    close(fd);
}

/*
 * Receive Packet Steering on pdmrN over the CPUs the agent may run on (its
 * affinity: every CPU unless taskset, a cpuset or systemd's CPUAffinity=
 * confines it, and then the segmenting and stamping stay on those CPUs
 * too). RPS picks the CPU by the flow hash, so all packets of one flow are
 * stamped on one CPU in the order they were diverted (one FIFO backlog),
 * and PSNs leave in wire order; left to the diverting CPU, two CPUs sending
 * for one flow (the socket's owner, an ACK's softirq) race and swap
 * segments. Flows still spread over the CPUs. Where it cannot be set (a
 * read-only /sys, or a kernel without RPS) the race stays, rare: a warning,
 * not an error.
 */
static int rps_set(const char *name)
{
    long n = sysconf(_SC_NPROCESSORS_CONF);
    char path[96], mask[320];
    size_t len = 0, setsize;
    cpu_set_t *cpus;
    int fd;

    if (n < 1 || n > 1024)
        return 0;
    if (!(cpus = CPU_ALLOC((size_t)n)))
        return -1;
    setsize = CPU_ALLOC_SIZE((size_t)n);
    if (sched_getaffinity(0, setsize, cpus) < 0) {
        CPU_ZERO_S(setsize, cpus);
        for (long c = 0; c < n; c++)
            CPU_SET_S((size_t)c, setsize, cpus);
    }
    /* Hex, 32-bit groups separated by commas, the highest CPUs first. */
    for (long g = (n + 31) / 32 - 1; g >= 0; g--) {
        uint32_t w = 0;

        for (long c = g * 32; c < n && c < g * 32 + 32; c++)
            if (CPU_ISSET_S((size_t)c, setsize, cpus))
                w |= 1u << (c - g * 32);
        len += (size_t)snprintf(mask + len, sizeof mask - len, "%s%08x", len ? "," : "", w);
    }
    CPU_FREE(cpus);
    snprintf(path, sizeof path, "/sys/class/net/%s/queues/rx-0/rps_cpus", name);
    if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT ? 0 : -1; /* ENOENT: no RPS in this kernel */
    if (write(fd, mask, len) != (ssize_t)len) {
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* Creates and wires one pair; fills p. Returns NULL or what failed. */
static const char *pair_make(struct gso_pair *p, int sock, int map_fd, int prog_fd)
{
    char ret_name[16];
    int e;

    snprintf(p->seg_name, sizeof p->seg_name, "pdms%u", p->dev);
    snprintf(ret_name, sizeof ret_name, "pdmr%u", p->dev);
    link_del(p->seg_name); /* a killed agent's pair (deleting one end takes both) */
    if ((e = veth_add(p->seg_name, ret_name)) < 0) {
        errno = -e;
        return "creating the veth pair";
    }
    if (!(p->seg = if_nametoindex(p->seg_name)) || !(p->ret = if_nametoindex(ret_name)))
        return "finding the veth pair";
    /* TSO off makes the stack segment at pdmsN; GSO off too, so that it
     * does so at once rather than hand a GSO packet to pdmrN; no GRO at
     * pdmrN, which would merge the segments again. */
    if (ethtool_set(sock, p->seg_name, ETHTOOL_STSO, 0) < 0 ||
        ethtool_set(sock, p->seg_name, ETHTOOL_SGSO, 0) < 0 ||
        ethtool_set(sock, ret_name, ETHTOOL_SGRO, 0) < 0)
        return "turning segmentation offloads off";
    if (ipv6_no_addr(p->seg) < 0 || ipv6_no_addr(p->ret) < 0)
        return "addrgenmode none on the pair";
    ipv6_off(p->seg_name);
    ipv6_off(ret_name);
    if (rps_set(ret_name) < 0)
        fprintf(stderr,
                "pdm: agent: gso: RPS on %s not set (%s): a flow's segments may leave with "
                "PSNs out of order when two CPUs send for it\n",
                ret_name, strerror(errno));
    if (link_up(sock, p->seg_name) < 0 || link_up(sock, ret_name) < 0)
        return "setting the pair up";
    if ((p->link_fd = tcx_attach(prog_fd, p->ret)) < 0)
        return "attaching pdm_gso_seg (TCX ingress, Linux 6.6 or later)";
    if (map_put(map_fd, p->ret, p->dev, PDM_GSO_RETURN) < 0 ||
        map_put(map_fd, p->dev, p->seg, PDM_GSO_DIVERT) < 0)
        return "filling gso_ifs";
    return NULL;
}

static void pair_drop(int map_fd, struct gso_pair *p)
{
    if (p->dev)
        map_del(map_fd, p->dev); /* no more diverting, then the way back goes */
    if (p->link_fd >= 0)
        close(p->link_fd);
    if (p->ret)
        map_del(map_fd, p->ret);
    if (p->seg_name[0])
        link_del(p->seg_name);
    memset(p, 0, sizeof *p);
    p->link_fd = -1;
}

int gso_pairs_attach(struct gso_pairs *g, int map_fd, int seg_prog_fd, const unsigned *devs,
                     size_t n, char *err, size_t errlen)
{
    memset(g, 0, sizeof *g);
    g->map_fd = map_fd;
    if (n > GSO_PAIRS_MAX) {
        snprintf(err, errlen, "gso: %zu devices, at most %d", n, GSO_PAIRS_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (gso_pairs_add(g, seg_prog_fd, devs[i], err, errlen) != 0) {
            gso_pairs_detach(g);
            return -1;
        }
    }
    return 0;
}

int gso_pairs_add(struct gso_pairs *g, int seg_prog_fd, unsigned dev, char *err, size_t errlen)
{
    struct gso_pair *p = &g->p[g->n];
    const char *what;
    int sock;

    if (g->n >= GSO_PAIRS_MAX) {
        snprintf(err, errlen, "gso: device %u: more than %d devices", dev, GSO_PAIRS_MAX);
        return -1;
    }
    /* Any socket takes the device ioctls; the unit allows AF_INET6. */
    if ((sock = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 &&
        (sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
        snprintf(err, errlen, "gso: socket: %s", strerror(errno));
        return -1;
    }
    memset(p, 0, sizeof *p);
    p->link_fd = -1;
    p->dev = dev;
    what = pair_make(p, sock, g->map_fd, seg_prog_fd);
    if (what != NULL) {
        snprintf(err, errlen, "gso: device %u: %s: %s", dev, what, strerror(errno));
        pair_drop(g->map_fd, p);
    } else {
        g->n++;
    }
    close(sock);
    return what != NULL ? -1 : 0;
}

void gso_pairs_detach(struct gso_pairs *g)
{
    for (size_t i = 0; i < g->n; i++)
        pair_drop(g->map_fd, &g->p[i]);
    g->n = 0;
}
