/* The output path's worker threads (mcu/worker): items run off the loop, in order on one
 * thread, each done callback once on the loop; closing cancels what has not started,
 * lets the running item finish, refuses new items, joins the threads and lets the loop
 * end; several threads run items side by side. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "mcu/error.h"
#include "mcu/worker.h"
#include "test_util.h"

#define ITEMS 200
#define SLOW_ITEM_MS 30

typedef struct run run_t;

typedef struct item {
    mcu_work_t work;
    run_t *run;
    int index;
    pthread_t ran_on;
    atomic_bool ran;
    int done_calls, status;
} item_t;

struct run {
    uv_loop_t loop;
    mcu_worker_t *w;
    item_t items[ITEMS];
    int order[ITEMS];
    atomic_int n_ran;
    int done_order[ITEMS], n_done;
    bool closed;
    atomic_int in_flight, max_in_flight;
    int sleep_ms;
};

static pthread_t loop_thread;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void work(mcu_work_t *w)
{
    item_t *it = w->data;
    run_t *r = it->run;
    int now = atomic_fetch_add(&r->in_flight, 1) + 1;
    int max = atomic_load(&r->max_in_flight);
    while (now > max && !atomic_compare_exchange_weak(&r->max_in_flight, &max, now)) {
    }
    it->ran_on = pthread_self();
    atomic_store(&it->ran, true);
    if (r->sleep_ms)
        sleep_ms(r->sleep_ms);
    r->order[atomic_fetch_add(&r->n_ran, 1)] = it->index;
    atomic_fetch_sub(&r->in_flight, 1);
}

static void done(mcu_work_t *w, int status)
{
    item_t *it = w->data;
    run_t *r = it->run;
    assert_true(pthread_equal(pthread_self(), loop_thread));
    it->done_calls++;
    it->status = status;
    r->done_order[r->n_done++] = it->index;
}

static void on_closed(void *opaque) { ((run_t *)opaque)->closed = true; }

static void setup_run(run_t *r, int threads)
{
    memset(r, 0, sizeof *r);
    loop_thread = pthread_self();
    assert_int_equal(uv_loop_init(&r->loop), 0);
    assert_int_equal(mcu_worker_create(&r->loop, threads, "test-worker", &r->w), MCU_OK);
    for (int i = 0; i < ITEMS; i++) {
        r->items[i].index = i;
        r->items[i].run = r;
        r->items[i].work.data = &r->items[i];
    }
}

static void finish_run(run_t *r)
{
    assert_true(r->closed);
    assert_int_equal(uv_loop_close(&r->loop), 0);
}

static void in_order_on_one_thread(void **state)
{
    static run_t r;
    setup_run(&r, 1);
    for (int i = 0; i < ITEMS; i++)
        assert_int_equal(mcu_worker_submit(r.w, &r.items[i].work, work, done), MCU_OK);
    while (r.n_done < ITEMS)
        uv_run(&r.loop, UV_RUN_ONCE);
    for (int i = 0; i < ITEMS; i++) {
        assert_int_equal(r.order[i], i);
        assert_int_equal(r.done_order[i], i);
        assert_int_equal(r.items[i].done_calls, 1);
        assert_int_equal(r.items[i].status, MCU_OK);
        assert_false(pthread_equal(r.items[i].ran_on, loop_thread));
    }
    assert_int_equal(atomic_load(&r.max_in_flight), 1);
    mcu_worker_close(r.w, on_closed, &r);
    assert_int_equal(mcu_worker_submit(r.w, &r.items[0].work, work, done), MCU_ERR_STATE);
    uv_run(&r.loop, UV_RUN_DEFAULT); /* ends: the worker's handle is closed */
    assert_int_equal(r.items[0].done_calls, 1);
    finish_run(&r);
}

/* Close while a slow item runs and others wait: it finishes, they are cancelled. */
static void close_cancels_the_queued(void **state)
{
    static run_t r;
    setup_run(&r, 1);
    r.sleep_ms = SLOW_ITEM_MS;
    for (int i = 0; i < 5; i++)
        assert_int_equal(mcu_worker_submit(r.w, &r.items[i].work, work, done), MCU_OK);
    while (!atomic_load(&r.items[0].ran))
        sleep_ms(1);
    mcu_worker_close(r.w, on_closed, &r);
    mcu_worker_close(r.w, on_closed, &r); /* twice: no effect */
    uv_run(&r.loop, UV_RUN_DEFAULT);
    assert_int_equal(r.n_done, 5);
    assert_true(atomic_load(&r.items[0].ran));
    assert_int_equal(r.items[0].status, MCU_OK);
    for (int i = 1; i < 5; i++) {
        assert_false(atomic_load(&r.items[i].ran));
        assert_int_equal(r.items[i].status, MCU_ERR_STATE);
        assert_int_equal(r.items[i].done_calls, 1);
    }
    finish_run(&r);
}

/* Several threads: every item once, side by side. */
static void threads_side_by_side(void **state)
{
    static run_t r;
    setup_run(&r, 3);
    r.sleep_ms = 2;
    for (int i = 0; i < 30; i++)
        assert_int_equal(mcu_worker_submit(r.w, &r.items[i].work, work, done), MCU_OK);
    while (r.n_done < 30)
        uv_run(&r.loop, UV_RUN_ONCE);
    for (int i = 0; i < 30; i++)
        assert_int_equal(r.items[i].done_calls, 1);
    assert_true(atomic_load(&r.max_in_flight) > 1);
    mcu_worker_close(r.w, on_closed, &r);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    finish_run(&r);
}

static void bad_arguments(void **state)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    mcu_worker_t *w = (mcu_worker_t *)&loop;
    assert_int_equal(mcu_worker_create(&loop, 0, "x", &w), MCU_ERR_INVAL);
    assert_null(w);
    assert_int_equal(mcu_worker_create(&loop, MCU_WORKER_MAX_THREADS + 1, "x", &w),
                     MCU_ERR_INVAL);
    assert_int_equal(mcu_worker_create(NULL, 1, "x", &w), MCU_ERR_INVAL);
    assert_int_equal(mcu_worker_create(&loop, 1, "x", NULL), MCU_ERR_INVAL);
    assert_int_equal(mcu_worker_create(&loop, 1, NULL, &w), MCU_OK);
    mcu_work_t item = {0};
    assert_int_equal(mcu_worker_submit(w, NULL, work, done), MCU_ERR_INVAL);
    assert_int_equal(mcu_worker_submit(w, &item, NULL, done), MCU_ERR_INVAL);
    assert_int_equal(mcu_worker_submit(NULL, &item, work, done), MCU_ERR_INVAL);
    mcu_worker_close(w, NULL, NULL);
    mcu_worker_close(NULL, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(in_order_on_one_thread),
        cmocka_unit_test(close_cancels_the_queued),
        cmocka_unit_test(threads_side_by_side),
        cmocka_unit_test(bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
