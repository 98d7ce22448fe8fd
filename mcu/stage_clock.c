#include "mcu/stage_clock.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#define NS_PER_S 1000000000ull

static _Atomic uint64_t g_totals[MCU_STAGE_COUNT];

static const char *const g_names[MCU_STAGE_COUNT] = {
    [MCU_STAGE_RECEIVE] = "receive",     [MCU_STAGE_JITTER] = "jitter",
    [MCU_STAGE_DECODE] = "decode",       [MCU_STAGE_COMPOSE] = "compose",
    [MCU_STAGE_MIX] = "mix",             [MCU_STAGE_ENCODE] = "encode",
    [MCU_STAGE_PACKETIZE] = "packetize", [MCU_STAGE_SEND] = "send",
};

/* The long stages (milliseconds, on workers) are timed in thread CPU time. */
static bool uses_cpu_clock(mcu_stage_t s)
{
    return s == MCU_STAGE_DECODE || s == MCU_STAGE_COMPOSE || s == MCU_STAGE_MIX ||
           s == MCU_STAGE_ENCODE;
}

static uint64_t read_clock(mcu_stage_t s)
{
    struct timespec ts;
    clock_gettime(uses_cpu_clock(s) ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

typedef struct stage_frame {
    mcu_stage_t stage;
    uint64_t since;     /* reading of the stage's clock when it last started or resumed */
} stage_frame_t;

static _Thread_local stage_frame_t t_stack[MCU_STAGE_MAX_DEPTH];
static _Thread_local int t_depth;     /* may exceed MCU_STAGE_MAX_DEPTH: not recorded */

static void charge(const stage_frame_t *f)
{
    uint64_t now = read_clock(f->stage);
    if (now > f->since)
        atomic_fetch_add_explicit(&g_totals[f->stage], now - f->since, memory_order_relaxed);
}

void mcu_stage_enter(mcu_stage_t stage)
{
    if ((unsigned)stage >= MCU_STAGE_COUNT)
        return;
    if (t_depth >= MCU_STAGE_MAX_DEPTH) {
        t_depth++; /* too deep: the enclosing stage keeps the time */
        return;
    }
    if (t_depth > 0)
        charge(&t_stack[t_depth - 1]);
    t_stack[t_depth] = (stage_frame_t){.stage = stage, .since = read_clock(stage)};
    t_depth++;
}

void mcu_stage_leave(void)
{
    if (t_depth <= 0)
        return;
    t_depth--;
    if (t_depth >= MCU_STAGE_MAX_DEPTH)
        return;
    charge(&t_stack[t_depth]);
    if (t_depth > 0)
        t_stack[t_depth - 1].since = read_clock(t_stack[t_depth - 1].stage);
}

void mcu_stage_totals(uint64_t ns[MCU_STAGE_COUNT])
{
    for (int i = 0; i < MCU_STAGE_COUNT; i++)
        ns[i] = atomic_load_explicit(&g_totals[i], memory_order_relaxed);
}

const char *mcu_stage_name(mcu_stage_t stage)
{
    return (unsigned)stage < MCU_STAGE_COUNT ? g_names[stage] : "unknown";
}
