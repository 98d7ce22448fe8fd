/* playout: pictures on their senders' schedule, whatever the arrival pattern. */
#include <string.h>

#include "mcu/error.h"
#include "mcu/playout.h"
#include "test_util.h"

#define MS 1000
#define CLOCK 90000
#define FRAME_TS 3600   /* 25 fps */
#define TICK_US 40000

static AVFrame *picture(int tag)
{
    AVFrame *f = av_frame_alloc();
    f->width = 16;
    f->height = 16;
    f->format = AV_PIX_FMT_GRAY8;
    assert_int_equal(av_frame_get_buffer(f, 0), 0);
    f->pts = tag;
    return f;
}

typedef struct run {
    int ticks, repeats, fresh;
    int64_t last_tag;
    int64_t max_wait_us;    /* arrival -> tick */
} run_t;

/* Ticks from t0 to t1 every TICK_US at phase `phase`, counting repeats. */
static void tick_until(mcu_playout_t *p, run_t *r, int64_t *next_tick, int64_t until)
{
    while (*next_tick <= until) {
        int64_t arrival;
        uint64_t seq;
        const AVFrame *f = mcu_playout_at(p, *next_tick, &arrival, &seq);
        if (f) {
            r->ticks++;
            if (f->pts == r->last_tag)
                r->repeats++;
            else {
                r->fresh++;
                if (*next_tick - arrival > r->max_wait_us)
                    r->max_wait_us = *next_tick - arrival;
            }
            r->last_tag = f->pts;
        }
        *next_tick += TICK_US;
    }
}

/* A 25 fps sender behind a relay that holds packets and lets them go in bursts: two or
 * three pictures land at once, then nothing for up to 120 ms. */
static void bursty_arrival(void **state)
{
    mcu_playout_t *p;
    assert_int_equal(mcu_playout_create(CLOCK, &p), MCU_OK);
    test_rng_t rng;
    test_rng_seed(&rng, 7);
    run_t r = {.last_tag = -1};
    int64_t next_tick = 13 * MS;
    const int64_t base = 5 * MS;
    for (int k = 0; k < 750; k++) { /* 30 s */
        int64_t sent = base + (int64_t)k * TICK_US;
        /* Released on a 80..120 ms grid: up to 3 pictures at once. */
        int64_t hold = 80 * MS + (int64_t)test_rng_below(&rng, 3) * 20 * MS;
        int64_t ready = (sent / hold + 1) * hold + 2 * MS;
        tick_until(p, &r, &next_tick, ready - 1);
        AVFrame *f = picture(k);
        mcu_playout_push(p, &f, (uint32_t)(1000 + k * FRAME_TS), ready - MS, ready);
        assert_null(f);
    }
    mcu_playout_stats_t st;
    mcu_playout_get_stats(p, &st);
    print_message("bursty: %d ticks, %d repeats, %d fresh; delay %.1f ms, late %llu, dropped "
                  "%llu, max wait %.1f ms\n", r.ticks, r.repeats, r.fresh, st.delay_us / 1e3,
                  (unsigned long long)st.late, (unsigned long long)st.dropped,
                  r.max_wait_us / 1e3);
    /* After the first window, every tick shows a picture of its own. */
    assert_true(r.repeats <= r.ticks / 100);
    assert_true(st.dropped <= st.pushed / 100);
    assert_true(st.delay_us < 140 * MS);
    mcu_playout_destroy(&p);
    assert_null(p);
}

/* An even sender: the delay is the margin, every picture shown once, none late. */
static void steady(void **state)
{
    mcu_playout_t *p;
    assert_int_equal(mcu_playout_create(CLOCK, &p), MCU_OK);
    run_t r = {.last_tag = -1};
    int64_t next_tick = 21 * MS;
    for (int k = 0; k < 500; k++) {
        int64_t ready = (int64_t)k * TICK_US + 7 * MS;
        tick_until(p, &r, &next_tick, ready - 1);
        AVFrame *f = picture(k);
        mcu_playout_push(p, &f, (uint32_t)(k * FRAME_TS), ready, ready);
    }
    mcu_playout_stats_t st;
    mcu_playout_get_stats(p, &st);
    assert_int_equal(r.repeats, 0);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.late, 0);
    assert_int_equal(st.delay_us, MCU_PLAYOUT_MARGIN_US);
    assert_true(r.max_wait_us <= TICK_US + MCU_PLAYOUT_MARGIN_US);
    mcu_playout_destroy(&p);
}

/* 30 fps into 25 fps ticks: one picture in six is never shown, none twice. */
static void faster_sender(void **state)
{
    mcu_playout_t *p;
    assert_int_equal(mcu_playout_create(CLOCK, &p), MCU_OK);
    run_t r = {.last_tag = -1};
    int64_t next_tick = 0;
    for (int k = 0; k < 600; k++) {
        int64_t ready = (int64_t)k * 100000 / 3 + 4 * MS;
        tick_until(p, &r, &next_tick, ready - 1);
        AVFrame *f = picture(k);
        mcu_playout_push(p, &f, (uint32_t)(k * 3000), ready, ready);
    }
    mcu_playout_stats_t st;
    mcu_playout_get_stats(p, &st);
    assert_int_equal(r.repeats, 0);
    assert_true(st.dropped >= 95 && st.dropped <= 105);
    mcu_playout_destroy(&p);
}

/* Timestamps that jump (a restarted sender) start the schedule over; a late picture is
 * shown at the next tick; the queue is bounded; reset keeps the tile's picture. */
static void jumps_late_and_bounds(void **state)
{
    mcu_playout_t *p;
    assert_int_equal(mcu_playout_create(CLOCK, &p), MCU_OK);
    assert_null(mcu_playout_at(p, 0, NULL, NULL));
    AVFrame *f = picture(1);
    mcu_playout_push(p, &f, 90000, 0, 10 * MS);
    assert_null(mcu_playout_at(p, 10 * MS, NULL, NULL)); /* due after the margin */
    int64_t arrival;
    uint64_t seq;
    const AVFrame *cur = mcu_playout_at(p, 20 * MS, &arrival, &seq);
    assert_non_null(cur);
    assert_int_equal(cur->pts, 1);
    assert_int_equal(seq, 1);
    /* Timestamps jump by an hour: a new schedule, shown as soon as due. */
    f = picture(2);
    mcu_playout_push(p, &f, 90000 + 90000u * 3600, 50 * MS, 50 * MS);
    cur = mcu_playout_at(p, 60 * MS, NULL, &seq);
    assert_int_equal(cur->pts, 2);
    mcu_playout_stats_t st;
    mcu_playout_get_stats(p, &st);
    assert_int_equal(st.resets, 1);
    /* More than the bound waiting: the oldest go. */
    for (int k = 0; k < MCU_PLAYOUT_MAX_PICTURES + 3; k++) {
        f = picture(10 + k);
        mcu_playout_push(p, &f, 90000 + 90000u * 3600 + (uint32_t)(k + 1) * FRAME_TS,
                         60 * MS, 60 * MS);
    }
    mcu_playout_get_stats(p, &st);
    assert_true(st.dropped >= 3);
    assert_int_equal(mcu_playout_newest(p)->pts, 10 + MCU_PLAYOUT_MAX_PICTURES + 2);
    /* Reset: the waiting ones go, the tile keeps its picture. */
    mcu_playout_reset(p);
    cur = mcu_playout_at(p, 100000 * MS, NULL, NULL);
    assert_non_null(cur);
    assert_int_equal(cur->pts, 2);
    mcu_playout_destroy(&p);
    mcu_playout_destroy(&p);
    assert_int_equal(mcu_playout_create(0, &p), MCU_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bursty_arrival),
        cmocka_unit_test(steady),
        cmocka_unit_test(faster_sender),
        cmocka_unit_test(jumps_late_and_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
