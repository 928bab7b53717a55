/* Clocks and random bytes (tools/common/sys.h). */
#include "sys.h"

#include <pdm/common.h>

#include <errno.h>
#include <sys/random.h>
#include <sys/types.h>
#include <time.h>

uint64_t tool_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t tool_unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec < 0 ? 0 : (uint64_t)ts.tv_sec;
}

int tool_random(uint8_t *out, size_t n)
{
    while (n > 0) {
        ssize_t r = getrandom(out, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        out += r;
        n -= (size_t)r;
    }
    return 0;
}

int tool_eph_rand(void *arg, uint8_t *out, size_t n)
{
    (void)arg;
    return tool_random(out, n) == 0 ? 0 : PDM_ERR_SYSTEM;
}
