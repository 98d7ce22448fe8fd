/* The stage clock: nested stages are charged exclusively (the sum never exceeds the time
 * that passed), the long stages count thread CPU time (a sleep inside costs nothing),
 * nesting deeper than the bound and unbalanced leaves are harmless, and totals from
 * several threads add up. Only lower bounds and sums are asserted: a loaded machine
 * stretches wall time, never shrinks it. */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "mcu/stage_clock.h"
#include "test_util.h"

#define NS_PER_MS 1000000ull

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Burns CPU for at least `ms` of CPU time of this thread. */
static void spin_cpu_ms(unsigned ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    volatile unsigned sink = 0;
    do {
        for (int i = 0; i < 1000; i++)
            sink += (unsigned)i;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    } while ((uint64_t)(t.tv_sec - t0.tv_sec) * 1000000000ull + (uint64_t)t.tv_nsec -
                 (uint64_t)t0.tv_nsec <
             ms * NS_PER_MS);
}

static uint64_t delta(const uint64_t *a, const uint64_t *b, mcu_stage_t s) { return b[s] - a[s]; }

static void nesting_is_exclusive(void **state)
{
    (void)state;
    uint64_t a[MCU_STAGE_COUNT], b[MCU_STAGE_COUNT];
    mcu_stage_totals(a);
    uint64_t t0 = mono_ns();
    mcu_stage_enter(MCU_STAGE_PACKETIZE);
    spin_cpu_ms(2);
    mcu_stage_enter(MCU_STAGE_SEND);
    spin_cpu_ms(3);
    mcu_stage_leave();
    spin_cpu_ms(1);
    mcu_stage_leave();
    uint64_t elapsed = mono_ns() - t0;
    mcu_stage_totals(b);
    uint64_t pk = delta(a, b, MCU_STAGE_PACKETIZE), snd = delta(a, b, MCU_STAGE_SEND);
    assert_true(snd >= 3 * NS_PER_MS);
    assert_true(pk >= 3 * NS_PER_MS);
    /* Charged once: inclusive timing would put the send's 3 ms into packetize too. */
    assert_true(pk + snd <= elapsed);
}

static void cpu_stages_ignore_sleep(void **state)
{
    (void)state;
    uint64_t a[MCU_STAGE_COUNT], b[MCU_STAGE_COUNT];
    mcu_stage_totals(a);
    mcu_stage_enter(MCU_STAGE_DECODE);
    nanosleep(&(struct timespec){0, 50 * (long)NS_PER_MS}, NULL);
    mcu_stage_leave();
    mcu_stage_enter(MCU_STAGE_ENCODE);
    spin_cpu_ms(2);
    mcu_stage_leave();
    mcu_stage_totals(b);
    /* 50 ms asleep in decode cost (almost) no CPU; encode's spin did. */
    assert_true(delta(a, b, MCU_STAGE_DECODE) < 25 * NS_PER_MS);
    assert_true(delta(a, b, MCU_STAGE_ENCODE) >= 2 * NS_PER_MS);
}

static void deep_and_unbalanced_are_harmless(void **state)
{
    (void)state;
    mcu_stage_leave(); /* nothing entered: a no-op */
    for (int i = 0; i < MCU_STAGE_MAX_DEPTH + 3; i++)
        mcu_stage_enter(MCU_STAGE_JITTER);
    for (int i = 0; i < MCU_STAGE_MAX_DEPTH + 3; i++)
        mcu_stage_leave();
    mcu_stage_enter((mcu_stage_t)MCU_STAGE_COUNT); /* out of range: ignored */
    mcu_stage_leave();
    /* Balanced again: a fresh stage still charges. */
    uint64_t a[MCU_STAGE_COUNT], b[MCU_STAGE_COUNT];
    mcu_stage_totals(a);
    mcu_stage_enter(MCU_STAGE_MIX);
    spin_cpu_ms(1);
    mcu_stage_leave();
    mcu_stage_totals(b);
    assert_true(delta(a, b, MCU_STAGE_MIX) >= NS_PER_MS);
}

static void *compose_worker(void *opaque)
{
    (void)opaque;
    mcu_stage_enter(MCU_STAGE_COMPOSE);
    spin_cpu_ms(2);
    mcu_stage_leave();
    return NULL;
}

static void threads_add_up(void **state)
{
    (void)state;
    uint64_t a[MCU_STAGE_COUNT], b[MCU_STAGE_COUNT];
    mcu_stage_totals(a);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, compose_worker, NULL), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    mcu_stage_totals(b);
    assert_true(delta(a, b, MCU_STAGE_COMPOSE) >= 4 * NS_PER_MS);
}

static void names(void **state)
{
    (void)state;
    for (int i = 0; i < MCU_STAGE_COUNT; i++) {
        const char *n = mcu_stage_name((mcu_stage_t)i);
        assert_non_null(n);
        assert_true(strcmp(n, "unknown") != 0);
        for (int j = 0; j < i; j++)
            assert_true(strcmp(n, mcu_stage_name((mcu_stage_t)j)) != 0);
    }
    assert_string_equal(mcu_stage_name((mcu_stage_t)MCU_STAGE_COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nesting_is_exclusive), cmocka_unit_test(cpu_stages_ignore_sleep),
        cmocka_unit_test(deep_and_unbalanced_are_harmless), cmocka_unit_test(threads_add_up),
        cmocka_unit_test(names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
