/*
 * Shared helpers for the C benchmarks: a monotonic clock, a best-of-N
 * timing loop, ways to keep results from the optimiser, and the line a
 * measurement is printed on.
 *
 * Conventions (docs/testing.md):
 *   - Every figure is printed next to a baseline measured in the same run,
 *     on the same line, with the ratio (bench_vs()): the machine is shared
 *     and noisy, so absolute figures from different runs do not compare,
 *     while a ratio within one run does.
 *   - A benchmark with a target prints "MISSED" on the line of a target it
 *     missed and exits 1; a part it cannot run prints "SKIP <reason>".
 *     bench/run.sh collects both into its summary.
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

/*
 * Makes the integer lvalue v opaque to the optimiser at this point, at the
 * cost of no instruction: its value must exist in a register, and nothing
 * computed from it afterwards can be folded or hoisted. Operations of a few
 * nanoseconds accumulate their results into a local and pass it through
 * this each iteration, rather than into the volatile bench_sink, whose
 * load-add-store chain (about 1.5 ns) would otherwise dominate both sides
 * of a ratio and flatten it.
 */
#define BENCH_OPAQUE(v) __asm__ volatile("" : "+r"(v))

/*
 * For a baseline written in the benchmark itself and meant to be compared
 * with a library function: keeps it a real call (no inlining, cloning or
 * interprocedural constant propagation), so that both sides of the ratio
 * pay one call and the ratio measures the work done inside.
 */
#if defined(__clang__)
#define BENCH_NOINLINE __attribute__((noinline))
#else
#define BENCH_NOINLINE __attribute__((noipa))
#endif

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

/*
 * Prints one measurement and its same-run baseline on one line:
 *   <name>  <ns> ns/op   vs <baseline>  <ns> ns   x<ratio>
 * the ratio being ns / base_ns (how many baselines the operation costs).
 */
static inline void bench_vs(const char *name, double ns, const char *base, double base_ns)
{
    printf("%-28s %9.1f ns/op   vs %-36s %9.1f ns   x%.2f\n", name, ns, base, base_ns,
           ns / base_ns);
}

#endif /* PDM_BENCH_H */
