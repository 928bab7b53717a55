/*
 * What the tools take from the kernel on behalf of the sans-IO library:
 * the clocks it is handed as arguments and the random bytes of its
 * callbacks.
 */
#ifndef PDM_TOOLS_SYS_H
#define PDM_TOOLS_SYS_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds (deadlines) / the Unix time in seconds
 * (the creation time of stored secrets). */
uint64_t tool_mono_ns(void);
uint64_t tool_unix_now(void);

/* n bytes from getrandom(2). Returns 0 or -1 (errno set). */
int tool_random(uint8_t *out, size_t n);

/* The same, in the shape of struct pdm_hpke_eph's rand callback: returns
 * 0 or PDM_ERR_SYSTEM. */
int tool_eph_rand(void *arg, uint8_t *out, size_t n);

#endif /* PDM_TOOLS_SYS_H */
