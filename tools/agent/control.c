/*
 * The agent's status socket (docs/agent.md §5): a Unix stream socket
 * (default /run/openpdm/agent.sock, mode 0600) on which the running agent
 * writes its counters, "name value" a line, to whoever connects, then
 * closes; `pdm agent --status` is the client. The main thread serves it
 * between its other work: a connection costs one pass over the shards'
 * counters, each read under its shard's lock.
 */
#include "agent.h"
#include "ebpf.h"

#include "common/tools.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

void agent_status_write(FILE *f, struct agent_rt *rt)
{
    uint64_t ctr[AGENT_C_MAX], rw, re, np, nb, ve, eb, tr;
    size_t flows;

    if (rt->ebpf != NULL) {
        agent_ebpf_status_write(f, rt);
        return;
    }
    memset(ctr, 0, sizeof ctr);
    flows = 0;
    for (unsigned i = 0; i < AGENT_SHARDS; i++) {
        struct agent_shard *sh = &rt->shards[i];
        uint64_t c[AGENT_C_MAX];
        if (sh->core == NULL)
            continue;
        pthread_mutex_lock(&sh->lock);
        agent_core_counters(sh->core, c);
        flows += agent_core_flows(sh->core);
        pthread_mutex_unlock(&sh->lock);
        for (int k = 0; k < AGENT_C_MAX; k++)
            ctr[k] += c[k];
    }
    pthread_mutex_lock(&rt->rec_lock);
    rw = rt->records_written;
    re = rt->records_errors;
    pthread_mutex_unlock(&rt->rec_lock);
    np = __atomic_load_n(&rt->nfq_packets, __ATOMIC_RELAXED);
    nb = __atomic_load_n(&rt->nfq_batches, __ATOMIC_RELAXED);
    ve = __atomic_load_n(&rt->nfq_verdict_errors, __ATOMIC_RELAXED);
    eb = __atomic_load_n(&rt->nfq_enobufs, __ATOMIC_RELAXED);
    tr = __atomic_load_n(&rt->nfq_truncated, __ATOMIC_RELAXED);

    fprintf(f, "pid %ld\n", (long)getpid());
    fprintf(f, "queues %u-%u\n", rt->cfg->queue_first,
            rt->cfg->queue_first + rt->cfg->queue_count - 1);
    fprintf(f, "firewall %s\n", agent_fw_name(rt->fw));
    fprintf(f, "passthrough %d\n", rt->cfg->passthrough);
    fprintf(f, "flows %zu\n", flows);
    for (int i = 0; i < AGENT_C_MAX; i++)
        fprintf(f, "%s %" PRIu64 "\n", agent_counter_name((enum agent_counter)i), ctr[i]);
    fprintf(f, "records_written %" PRIu64 "\n", rw);
    fprintf(f, "records_errors %" PRIu64 "\n", re);
    agent_ipfix_status(f, rt);
    fprintf(f, "nfq_packets %" PRIu64 "\n", np);
    fprintf(f, "nfq_batches %" PRIu64 "\n", nb);
    fprintf(f, "nfq_verdict_errors %" PRIu64 "\n", ve);
    fprintf(f, "nfq_enobufs %" PRIu64 "\n", eb);
    fprintf(f, "nfq_truncated %" PRIu64 "\n", tr);
}

static int control_addr(struct sockaddr_un *sa, const char *path)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa->sun_path)
        return -1;
    strcpy(sa->sun_path, path);
    return 0;
}

int agent_status_client(const char *path)
{
    struct sockaddr_un sa;
    char buf[4096];
    ssize_t n;
    int fd;

    if (control_addr(&sa, path) != 0) {
        tool_err("agent: control path too long");
        return 2;
    }
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        tool_err("agent: no agent answers on %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    while ((n = read(fd, buf, sizeof buf)) > 0)
        fwrite(buf, 1, (size_t)n, stdout);
    close(fd);
    return n < 0 ? 1 : 0;
}

int agent_control_listen(const char *path)
{
    struct sockaddr_un sa;
    char dir[sizeof sa.sun_path];
    int fd;

    if (control_addr(&sa, path) != 0) {
        tool_err("agent: control path too long");
        return -1;
    }
    strcpy(dir, path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
            tool_err("agent: cannot create %s: %s", dir, strerror(errno));
            return -1;
        }
    }
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        tool_err("agent: another agent is running (it answers on %s)", path);
        close(fd);
        return -1;
    }
    close(fd);
    unlink(path);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
        return -1;
    mode_t old = umask(0077); /* counters are for root's eyes */
    int rv = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rv != 0 || listen(fd, 8) != 0) {
        tool_err("agent: cannot listen on %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

void agent_control_serve(int lfd, struct agent_rt *rt)
{
    int fd;

    while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
        FILE *f = fdopen(fd, "w");
        if (f == NULL) {
            close(fd);
            continue;
        }
        agent_status_write(f, rt);
        fclose(f);
    }
}
