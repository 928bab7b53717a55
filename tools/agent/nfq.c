/*
 * The agent's NFQUEUE I/O: one thread per queue, libmnl and the
 * libnetfilter_queue 1.0.5 nlmsg helpers (no libnfnetlink handle), so that
 * reads and verdicts go in batches:
 *
 *  - reads: recvmmsg(MSG_WAITFORONE) takes every queued packet message
 *    available (up to BATCH) in one system call;
 *  - verdicts: all verdicts of a read go out in one sendmsg, in packet-id
 *    order (so the kernel re-injects in the order it queued: no reordering
 *    inside a flow). A run of consecutive unchanged packets is one
 *    NFQNL_MSG_VERDICT_BATCH ("accept every id up to N"); a packet with new
 *    bytes is a NFQNL_MSG_VERDICT carrying NFQA_PAYLOAD.
 *
 * The queue is bound fail-open (NFQA_CFG_F_FAIL_OPEN: when the queue or our
 * socket buffer is full, the kernel accepts the packet unchanged rather
 * than drop it) and without NFQA_CFG_F_GSO: the kernel then segments GSO
 * super-packets before queueing them, so each wire packet gets its own
 * verdict, PSN and option, and computes CHECKSUM_PARTIAL checksums before
 * copying (nfnetlink_queue.c), so that the bytes we see and send back carry
 * final checksums. Inserting a Destination Options header changes neither
 * the addresses nor the upper-layer length, so those checksums stay valid
 * (RFC 8200 §8.1: the pseudo-header length is the upper-layer length).
 *
 * Time: every time handed to the core is CLOCK_REALTIME in nanoseconds.
 * Received packets use the kernel's receive stamp (NFQA_TIMESTAMP, taken
 * when the packet entered the stack, microsecond resolution) when present:
 * agent_nfq_enable_timestamps() holds a socket with SO_TIMESTAMPNS so that
 * the kernel stamps every packet. Sent packets use clock_gettime() right
 * before their option is computed, the last moment before the verdict lets
 * them go.
 */
#include "agent.h"
#include "metrics.h"

#include "common/sandbox.h"
#include "conv.h"

/* glibc's <netinet/in.h> before the kernel's <linux/in.h> (which
 * <linux/netfilter.h> pulls in), or they clash. */
#include <netinet/in.h>

#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <net/if.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Packet messages read per recvmmsg(). */
#define BATCH 64

/* One read buffer: the largest IPv6 packet (65535 + 40) plus the netlink
 * and nfqueue headers, plus room for our option to grow it in place. */
#define RXBUF_SIZE (65536 + 40 + 1024)

/*
 * Largest packet a verdict can carry back: NFQA_PAYLOAD's nla_len is 16
 * bits and counts its own 4-byte header (libmnl would silently truncate a
 * longer one, and the kernel's nfqnl_mangle() refuses more than 0xffff,
 * then DROPS the packet). A packet grown past it must stay unchanged.
 */
#define NFQ_PAYLOAD_MAX ((size_t)0xffff - sizeof(struct nlattr))
_Static_assert(sizeof(struct nlattr) == 4, "an attribute header is 4 bytes, already aligned");

/* Verdict buffer: flushed when a message would not fit. */
#define TXBUF_SIZE (1024 * 1024)

/* Room needed by one verdict message around its packet. */
#define VERDICT_OVERHEAD 256

/* Configuration messages and their answers (MNL_SOCKET_BUFFER_SIZE is a
 * run-time value: a fixed size keeps the stack frame fixed). */
#define CFG_BUF_SIZE 8192

#define QUEUE_MAXLEN 8192
#define RCVBUF_BYTES (16 * 1024 * 1024)
#define SNDBUF_BYTES (4 * 1024 * 1024)

struct agent_nfq {
    struct agent_rt *rt;
    struct mnl_socket *nl;
    unsigned queue;
    pthread_t th;
    int started;
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    char *rxbuf; /* BATCH × RXBUF_SIZE */
    char *txbuf; /* TXBUF_SIZE */
    size_t txoff;
    uint32_t run_last; /* last id of the pending run of unchanged packets */
    unsigned run_n;
    char recbuf[AGENT_RECORD_MAX];
    /* The thread's start: its sandbox's outcome, told to agent_nfq_start. */
    sem_t started_sem;
    int sandbox_rc;
    char sandbox_err[256];
    int tested; /* PDM_TEST_FORBIDDEN_SYSCALL's call made */
};

static uint64_t now_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- set-up ---------------------------------------------------------------- */

/* Sends one configuration message with NLM_F_ACK and waits for the answer.
 * Returns 0 or the negative errno the kernel gave. */
static int cfg_request(struct mnl_socket *nl, struct nlmsghdr *nlh)
{
    char buf[CFG_BUF_SIZE];
    unsigned portid = mnl_socket_get_portid(nl);
    ssize_t n;

    nlh->nlmsg_flags |= NLM_F_ACK;
    nlh->nlmsg_seq = (uint32_t)time(NULL);
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
        return -errno;
    for (;;) {
        n = mnl_socket_recvfrom(nl, buf, sizeof buf);
        if (n < 0)
            return -errno;
        int rv = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, portid, NULL, NULL);
        if (rv == MNL_CB_ERROR)
            return -errno;
        if (rv == MNL_CB_STOP)
            return 0;
    }
}

int agent_nfq_open(struct agent_nfq **out, struct agent_rt *rt, unsigned queue, char *err,
                   size_t errlen)
{
    char buf[CFG_BUF_SIZE];
    struct agent_nfq *q;
    struct nlmsghdr *nlh;
    struct timeval tv = {0, 100000};
    int one = 1, sz, rv;

    *out = NULL;
    if ((q = calloc(1, sizeof *q)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    q->rt = rt;
    q->queue = queue;
    q->rxbuf = malloc((size_t)BATCH * RXBUF_SIZE);
    q->txbuf = malloc(TXBUF_SIZE);
    if (q->rxbuf == NULL || q->txbuf == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if ((q->nl = mnl_socket_open(NETLINK_NETFILTER)) == NULL ||
        mnl_socket_bind(q->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        snprintf(err, errlen, "netlink socket: %s", strerror(errno));
        goto fail;
    }
    /* Big buffers so that bursts wait in the socket, not fail open; no
     * ENOBUFS errors (an overrun is the kernel's fail-open, not ours). */
    int fd = mnl_socket_get_fd(q->nl);
    sz = RCVBUF_BYTES;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    sz = SNDBUF_BYTES;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    (void)mnl_socket_setsockopt(q->nl, NETLINK_NO_ENOBUFS, &one, sizeof one);
    /* A bounded wait, so that the thread sees rt->stop. */
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
    nfq_nlmsg_cfg_put_cmd(nlh, AF_INET6, NFQNL_CFG_CMD_BIND);
    if ((rv = cfg_request(q->nl, nlh)) != 0) {
        snprintf(err, errlen, "cannot bind NFQUEUE %u: %s%s", queue, strerror(-rv),
                 rv == -EBUSY ? " (another program holds it)" : "");
        goto fail;
    }
    nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
    nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
    nfq_nlmsg_cfg_put_qmaxlen(nlh, QUEUE_MAXLEN);
    mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_FAIL_OPEN));
    mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO));
    if ((rv = cfg_request(q->nl, nlh)) != 0) {
        snprintf(err, errlen, "cannot configure NFQUEUE %u: %s", queue, strerror(-rv));
        goto fail;
    }
    for (unsigned i = 0; i < BATCH; i++) {
        q->iov[i].iov_base = q->rxbuf + (size_t)i * RXBUF_SIZE;
        q->iov[i].iov_len = RXBUF_SIZE;
        q->msgs[i].msg_hdr.msg_iov = &q->iov[i];
        q->msgs[i].msg_hdr.msg_iovlen = 1;
    }
    *out = q;
    return 0;
fail:
    if (q->nl != NULL)
        mnl_socket_close(q->nl);
    free(q->rxbuf);
    free(q->txbuf);
    free(q);
    return -1;
}

/* ---- verdicts -------------------------------------------------------------- */

/* I/O counters are bumped without the runtime lock. */
static void count(uint64_t *c)
{
    __atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

static void tx_send(struct agent_nfq *q)
{
    if (q->txoff == 0)
        return;
    if (mnl_socket_sendto(q->nl, q->txbuf, q->txoff) < 0)
        count(&q->rt->nfq_verdict_errors);
    q->txoff = 0;
}

static struct nlmsghdr *tx_put(struct agent_nfq *q, int type, size_t room)
{
    if (q->txoff + room > TXBUF_SIZE)
        tx_send(q);
    return nfq_nlmsg_put(q->txbuf + q->txoff, type, q->queue);
}

/* Turns the pending run of unchanged packets into one verdict message. */
static void run_flush(struct agent_nfq *q)
{
    struct nlmsghdr *nlh;

    if (q->run_n == 0)
        return;
    nlh = tx_put(q, q->run_n == 1 ? NFQNL_MSG_VERDICT : NFQNL_MSG_VERDICT_BATCH, VERDICT_OVERHEAD);
    nfq_nlmsg_verdict_put(nlh, (int)q->run_last, NF_ACCEPT);
    q->txoff += NLMSG_ALIGN(nlh->nlmsg_len);
    q->run_n = 0;
}

static void verdict_unchanged(struct agent_nfq *q, uint32_t id)
{
    q->run_last = id;
    q->run_n++;
}

static void verdict_modified(struct agent_nfq *q, uint32_t id, const uint8_t *pkt, size_t len)
{
    struct nlmsghdr *nlh;

    run_flush(q);
    nlh = tx_put(q, NFQNL_MSG_VERDICT, len + VERDICT_OVERHEAD);
    nfq_nlmsg_verdict_put(nlh, (int)id, NF_ACCEPT);
    nfq_nlmsg_verdict_put_pkt(nlh, pkt, (uint32_t)len);
    q->txoff += NLMSG_ALIGN(nlh->nlmsg_len);
}

/* ---- MTU cache ------------------------------------------------------------ */

#define MTU_CACHE  16
#define MTU_TTL_NS 1000000000ull

static __thread struct {
    unsigned ifindex;
    size_t mtu;
    uint64_t at;
} mtu_cache[MTU_CACHE];
static __thread int mtu_fd = -1;

size_t agent_nfq_mtu(unsigned ifindex, uint64_t now_ns)
{
    struct ifreq ifr;
    unsigned slot = ifindex % MTU_CACHE;

    if (ifindex == 0)
        return 0;
    if (mtu_cache[slot].ifindex == ifindex && now_ns - mtu_cache[slot].at < MTU_TTL_NS)
        return mtu_cache[slot].mtu;
    if (mtu_fd < 0 && (mtu_fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
        return 0;
    /* SIOCGIFNAME on our socket, not if_indextoname(), which opens a socket
     * of its own each time: the queue threads' seccomp list has no socket. */
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_ifindex = (int)ifindex;
    if (ioctl(mtu_fd, SIOCGIFNAME, &ifr) != 0 || ioctl(mtu_fd, SIOCGIFMTU, &ifr) != 0)
        return 0;
    mtu_cache[slot].ifindex = ifindex;
    mtu_cache[slot].mtu = ifr.ifr_mtu > 0 ? (size_t)ifr.ifr_mtu : 0;
    mtu_cache[slot].at = now_ns;
    return mtu_cache[slot].mtu;
}

int agent_nfq_enable_timestamps(void)
{
    int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;

    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- the loop -------------------------------------------------------------- */

static int is_egress_hook(uint8_t hook)
{
    return hook == NF_INET_LOCAL_OUT || hook == NF_INET_POST_ROUTING;
}

/* Handles one packet message. Only the packet's shard is locked, around
 * the core call and its record (so that a flow's records keep their
 * order): reading, parsing the netlink attributes and the packet (once:
 * the shard's hash and the core use the same parse), building the
 * verdicts, and packets of flows in other shards run in parallel. */
static void handle_packet(struct agent_nfq *q, struct nlmsghdr *nlh, char *bufend)
{
    struct nlattr *attr[NFQA_MAX + 1] = {0};
    const uint8_t *ph;
    struct agent_record rec;
    struct agent_pkt p;
    uint8_t *pkt;
    size_t len, cap;
    uint32_t id;
    uint64_t now;
    enum agent_verdict v;
    struct agent_shard *sh;
    uint8_t hook;
    int parsed;

    /*
     * NFQA_PACKET_HDR (struct nfqnl_msg_packet_hdr, packed, big-endian):
     *   packet_id(4) | hw_protocol(2) | hook(1)
     * read as bytes after checking its length (never a struct cast over
     * netlink bytes). Attributes are parsed in order and the kernel puts
     * this one first: when a later attribute is malformed, the id is still
     * known and the packet is accepted unchanged rather than left queued.
     */
    parsed = nfq_nlmsg_parse(nlh, attr);
    if (attr[NFQA_PACKET_HDR] == NULL || mnl_attr_get_payload_len(attr[NFQA_PACKET_HDR]) < 7)
        return;
    ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
    id = pdm_get_u32be(ph);
    hook = ph[6];
    if (parsed < 0) {
        count(&q->rt->nfq_truncated);
        verdict_unchanged(q, id);
        return;
    }
    if (q->rt->cfg->passthrough || attr[NFQA_PAYLOAD] == NULL) {
        /* The NFQUEUE floor: read, accept, nothing else. */
        verdict_unchanged(q, id);
        return;
    }
    pkt = mnl_attr_get_payload(attr[NFQA_PAYLOAD]);
    len = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
    if (attr[NFQA_CAP_LEN] != NULL && ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN])) != len) {
        /* Only part of the packet was copied: nothing to do but let it go. */
        count(&q->rt->nfq_truncated);
        verdict_unchanged(q, id);
        return;
    }
    /* Everything else of this message has been read into attr[] or id:
     * the packet may grow in place up to the end of its read buffer. */
    cap = (size_t)(bufend - (char *)pkt);
    if (cap > NFQ_PAYLOAD_MAX)
        cap = NFQ_PAYLOAD_MAX;
    agent_pkt_parse(&p, pkt, len, cap, q->rt->cfg->core.opt_type);
    sh = &q->rt->shards[agent_pkt_flow_hash(&p, q->rt->shard_seed) % AGENT_SHARDS];

    if (is_egress_hook(hook)) {
        unsigned oif =
            attr[NFQA_IFINDEX_OUTDEV] ? ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_OUTDEV])) : 0;
        size_t mtu = agent_nfq_mtu(oif, now_realtime_ns());
        /* An unknown MTU (0 would mean "no limit" to the core) is taken as
         * the smallest any IPv6 link has: the option then only goes on
         * packets that fit every path, never making one too big. */
        if (mtu == 0)
            mtu = PDM_IPV6_MIN_MTU;
        pthread_mutex_lock(&sh->lock);
        /* The send time: read last, right before the option is made. */
        now = now_realtime_ns();
        v = agent_core_tx_pkt(sh->core, &p, mtu, now, &rec);
    } else {
        unsigned iif =
            attr[NFQA_IFINDEX_INDEV] ? ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_INDEV])) : 0;
        if (attr[NFQA_TIMESTAMP] != NULL && mnl_attr_get_payload_len(attr[NFQA_TIMESTAMP]) >= 16) {
            /* struct nfqnl_msg_packet_timestamp: sec(8) usec(8), big-endian;
             * netlink attributes are only 4-byte aligned: read bytes. */
            const uint8_t *ts = mnl_attr_get_payload(attr[NFQA_TIMESTAMP]);
            now = pdm_get_u64be(ts) * 1000000000u + pdm_get_u64be(ts + 8) * 1000u;
        } else {
            now = now_realtime_ns();
        }
        size_t mtu = agent_nfq_mtu(iif, now);
        pthread_mutex_lock(&sh->lock);
        v = agent_core_rx_pkt(sh->core, &p, mtu, now, &rec);
    }
    agent_records_add(q->rt, &rec, q->recbuf, sizeof q->recbuf);
    agent_ipfix_add(q->rt, &rec);
    agent_metrics_add(q->rt->metrics, (unsigned)(sh - q->rt->shards), &rec);
    pthread_mutex_unlock(&sh->lock);
    if (!is_egress_hook(hook) && rec.learned_pmtu != 0) {
        /* A path MTU is the node's, not one flow's: every shard learns it
         * (Packet Too Big messages are rare). */
        for (unsigned i = 0; i < AGENT_SHARDS; i++) {
            struct agent_shard *o = &q->rt->shards[i];
            if (o == sh)
                continue;
            pthread_mutex_lock(&o->lock);
            agent_core_pmtu_set(o->core, rec.learned_dst, rec.learned_pmtu, now);
            pthread_mutex_unlock(&o->lock);
        }
    }
    /* New bytes a verdict cannot carry (an MSS lowered in a received
     * packet of more than NFQ_PAYLOAD_MAX bytes): the kernel keeps its
     * own, untouched copy, which is accepted instead. */
    if (v == AGENT_MODIFIED && p.len <= NFQ_PAYLOAD_MAX)
        verdict_modified(q, id, pkt, p.len);

    else
        verdict_unchanged(q, id);
}

static void handle_batch(struct agent_nfq *q, unsigned n)
{
    struct agent_rt *rt = q->rt;
    uint64_t packets = 0;

    count(&rt->nfq_batches);
    if (!q->tested) {
        /* tests/it_agent_seccomp.sh: a forbidden call while serving (only
         * with PDM_TEST_FORBIDDEN_SYSCALL=1): the filter must kill. */
        q->tested = 1;
        tool_seccomp_test_trigger();
    }
    for (unsigned i = 0; i < n; i++) {
        char *buf = q->rxbuf + (size_t)i * RXBUF_SIZE;
        int len = (int)q->msgs[i].msg_len;
        struct nlmsghdr *nlh = (struct nlmsghdr *)buf;

        if (q->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
            count(&rt->nfq_truncated);
            continue;
        }
        for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
            if (nlh->nlmsg_type == NLMSG_ERROR) {
                /* A verdict the kernel refused (its packet is gone). */
                /* struct nlmsgerr: error(4, host order) first; read as
                 * bytes once its length is known. */
                int32_t e = 0;
                if (mnl_nlmsg_get_payload_len(nlh) < sizeof e)
                    continue;
                memcpy(&e, mnl_nlmsg_get_payload(nlh), sizeof e);
                if (e != 0)
                    count(&rt->nfq_verdict_errors);
                continue;
            }
            if (NFNL_MSG_TYPE(nlh->nlmsg_type) == NFQNL_MSG_PACKET) {
                /* A packet grows in place only into bytes that no later
                 * message of the same datagram holds (the kernel sends one
                 * packet per datagram, but nothing here relies on it). */
                char *end = (size_t)len > NLMSG_ALIGN(nlh->nlmsg_len) ? (char *)nlh + nlh->nlmsg_len
                                                                      : buf + RXBUF_SIZE;
                handle_packet(q, nlh, end);
                packets++;
            }
        }
    }
    __atomic_fetch_add(&rt->nfq_packets, packets, __ATOMIC_RELAXED);
    run_flush(q);
    tx_send(q);
}

static void *queue_thread(void *arg)
{
    struct agent_nfq *q = arg;
    int fd = mnl_socket_get_fd(q->nl);

    /* The MTU socket before the filter, which has no socket(). */
    if (mtu_fd < 0)
        mtu_fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    q->sandbox_rc = agent_thread_sandbox(q->rt->cfg, q->sandbox_err, sizeof q->sandbox_err);
    sem_post(&q->started_sem);
    if (q->sandbox_rc != 0)
        return NULL;
    for (;;) {
        for (unsigned i = 0; i < BATCH; i++)
            q->msgs[i].msg_hdr.msg_flags = 0;
        int n = recvmmsg(fd, q->msgs, BATCH, MSG_WAITFORONE, NULL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                if (__atomic_load_n(&q->rt->stop, __ATOMIC_ACQUIRE))
                    break;
                continue;
            }
            if (errno == ENOBUFS) {
                count(&q->rt->nfq_enobufs);
                continue;
            }
            /* Anything else is unexpected; don't spin on it. */
            struct timespec ts = {0, 10000000};
            nanosleep(&ts, NULL);
            if (__atomic_load_n(&q->rt->stop, __ATOMIC_ACQUIRE))
                break;
            continue;
        }
        handle_batch(q, (unsigned)n);
    }
    return NULL;
}

int agent_nfq_start(struct agent_nfq *q, char *err, size_t errlen)
{
    int rv;

    if (sem_init(&q->started_sem, 0, 0) != 0) {
        snprintf(err, errlen, "cannot start queue thread: %s", strerror(errno));
        return -1;
    }
    if ((rv = pthread_create(&q->th, NULL, queue_thread, q)) != 0) {
        snprintf(err, errlen, "cannot start queue thread: %s", strerror(rv));
        sem_destroy(&q->started_sem);
        return -1;
    }
    q->started = 1;
    /* Ready only once the thread is under its filter, or it said why not. */
    while (sem_wait(&q->started_sem) != 0 && errno == EINTR)
        ;
    sem_destroy(&q->started_sem);
    if (q->sandbox_rc != 0) {
        snprintf(err, errlen, "queue %u: seccomp: %s", q->queue, q->sandbox_err);
        return -1;
    }
    return 0;
}

void agent_nfq_close(struct agent_nfq *q)
{
    char buf[CFG_BUF_SIZE];
    struct nlmsghdr *nlh;

    if (q == NULL)
        return;
    if (q->started)
        pthread_join(q->th, NULL);
    nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->queue);
    nfq_nlmsg_cfg_put_cmd(nlh, AF_INET6, NFQNL_CFG_CMD_UNBIND);
    (void)mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len);
    mnl_socket_close(q->nl);
    free(q->rxbuf);
    free(q->txbuf);
    free(q);
}
