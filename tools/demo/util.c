/*
 * pdm demo: the small helpers every part uses (see demo.h).
 */
#include "demo/demo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t demo_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void demo_sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int demo_fmt(char *out, size_t cap, const char *f, ...)
{
    va_list ap;
    int n;
    va_start(ap, f);
    n = vsnprintf(out, cap, f, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int demo_work_path(const struct demo *d, char *out, size_t cap, const char *name)
{
    return demo_fmt(out, cap, "%s/%s", d->work, name);
}

int demo_out_path(const struct demo *d, char *out, size_t cap, const char *name)
{
    return demo_fmt(out, cap, "%s/%s", d->out, name);
}

long demo_read_text(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t n = 0;
    if (fd < 0)
        return -1;
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    return (long)n;
}

int demo_find_prog(const char *name, char *out, size_t cap)
{
    static const char *const extra[] = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};
    const char *path = getenv("PATH");
    char dir[PATH_MAX];

    while (path != NULL && *path != '\0') {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        if (n > 0 && n < sizeof dir) {
            memcpy(dir, path, n);
            dir[n] = '\0';
            if (demo_fmt(out, cap, "%s/%s", dir, name) == 0 && access(out, X_OK) == 0)
                return 0;
        }
        path = end ? end + 1 : NULL;
    }
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        if (demo_fmt(out, cap, "%s/%s", extra[i], name) == 0 && access(out, X_OK) == 0)
            return 0;
    return -1;
}

void demo_show_log(const char *path)
{
    char buf[4096];
    if (demo_read_text(path, buf, sizeof buf) <= 0)
        return;
    for (char *line = strtok(buf, "\n"); line != NULL; line = strtok(NULL, "\n"))
        fprintf(stderr, "    | %s\n", line);
}

void demo_step(const struct demo *d, const char *name, const char *f, ...)
{
    va_list ap;
    printf("[%5.1f s] %-9s ", (double)(demo_mono_ns() - d->t0) / 1e9, name);
    va_start(ap, f);
    vprintf(f, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

void demo_av_init(struct demo_argv *a)
{
    a->n = 0;
    a->used = 0;
    a->overflow = 0;
    a->v[0] = NULL;
}

void demo_av_add(struct demo_argv *a, const char *s)
{
    size_t len = strlen(s) + 1;
    if (a->n + 1 >= (int)(sizeof a->v / sizeof a->v[0]) || a->used + len > sizeof a->buf) {
        a->overflow = 1;
        return;
    }
    memcpy(a->buf + a->used, s, len);
    a->v[a->n++] = a->buf + a->used;
    a->v[a->n] = NULL;
    a->used += len;
}

void demo_av_words(struct demo_argv *a, const char *const w[])
{
    for (size_t i = 0; w[i] != NULL; i++)
        demo_av_add(a, w[i]);
}

void demo_av_pdm(const struct demo *d, struct demo_argv *a, const char *cmd)
{
    demo_av_init(a);
    demo_av_add(a, d->self);
    demo_av_add(a, cmd);
}
