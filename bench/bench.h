/*
 * Shared helpers for the C benchmarks: a monotonic clock, a best-of-N
 * timing loop and a sink the optimiser cannot remove. Benchmarks print one
 * line per measurement: "<name> <value> <unit> [extra]".
 */
#ifndef PDM_BENCH_H
#define PDM_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

static volatile uint64_t bench_sink;

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* splitmix64: a fixed-seed generator for benchmark inputs. */
static inline uint64_t bench_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* Runs body `iters` times per round, `rounds` rounds, keeps the fastest
 * round: on a shared, noisy machine the minimum is the stable figure. */
#define BENCH_BEST_NS(result, rounds, iters, ...)                                                  \
    do {                                                                                           \
        double best_ = 1e300;                                                                      \
        for (int r_ = 0; r_ < (rounds); r_++) {                                                    \
            uint64_t t0_ = bench_now_ns();                                                         \
            for (uint64_t i = 0; i < (uint64_t)(iters); i++) {                                     \
                __VA_ARGS__;                                                                       \
            }                                                                                      \
            double ns_ = (double)(bench_now_ns() - t0_) / (double)(iters);                         \
            if (ns_ < best_)                                                                       \
                best_ = ns_;                                                                       \
        }                                                                                          \
        (result) = best_;                                                                          \
    } while (0)

#endif /* PDM_BENCH_H */
