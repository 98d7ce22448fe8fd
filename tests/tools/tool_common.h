/*
 * tool_common: what the test tools (udp_impair, rtp_spray) share: option parsing that
 * names the bad option and exits 2, a monotonic clock in nanoseconds, a seeded
 * xorshift64* generator (splitmix64 seeding, one state per stream), and a stop flag set
 * by SIGINT/SIGTERM. Header-only: each tool is a single file. Each tool defines
 * TOOL_NAME before including this header.
 */
#ifndef MCU_TOOL_COMMON_H
#define MCU_TOOL_COMMON_H

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifndef TOOL_NAME
#error "define TOOL_NAME before including tool_common.h"
#endif

static volatile sig_atomic_t stop_requested;

static inline void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static inline _Noreturn void bad_option(const char *opt, const char *arg, const char *why)
{
    if (arg)
        fprintf(stderr, TOOL_NAME ": %s: %s (got '%s')\n", opt, why, arg);
    else
        fprintf(stderr, TOOL_NAME ": %s: %s\n", opt, why);
    exit(2);
}

static inline double parse_num(const char *opt, const char *arg, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (end == arg || *end || errno || !(v >= lo && v <= hi)) {
        char why[96];
        snprintf(why, sizeof why, "expected a number in %g..%g", lo, hi);
        bad_option(opt, arg, why);
    }
    return v;
}

static inline uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static inline uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A nonzero xorshift64* state derived from the seed and a stream number. */
static inline uint64_t rng_seed(uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
    uint64_t s = splitmix64(&x);
    return s ? s : 0x9E3779B97F4A7C15ull;
}

static inline uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

#endif
