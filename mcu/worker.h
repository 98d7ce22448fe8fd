/*
 * worker: threads of their own for the output path (each profile's compose + encode,
 * the audio mix), so that an output tick never waits in libuv's pool behind the sites'
 * decode jobs.
 *
 * Why: libuv's pool is one FIFO for everything. Every site sends an IDR at the same
 * moment when they all start together (and after a PLI storm), and an IDR at 720p
 * decodes in ~5 ms: 18 of them put ~90 ms of decoding ahead of the next compose +
 * encode on two cores. Measured at 12 x 720p30 in the bench: a tick's job waited 31 to
 * 57 ms in the pool queue and the output lost frames while the box was 40% idle. On its
 * own thread the output job starts at its tick and shares the cores with the decoders
 * through the kernel's scheduler instead of queueing behind them.
 *
 *   loop: mcu_worker_submit(w, item, work, done) ──queue──► worker thread: work(item)
 *   loop: done(item, status)  ◄── uv_async ──────────────────────┘
 *
 * Items run in submission order, one per thread at a time; with one thread, strictly
 * one after another. The queue is an intrusive list (the item is the caller's), so it
 * needs no bound of its own: the callers' own bounds (one video job per profile, one
 * audio job) limit it.
 *
 * Closing (mcu_worker_close, on the loop): no new item is taken; the item running
 * finishes; queued items are not run and get done(item, MCU_ERR_STATE); the threads are
 * joined once they have left (never while one runs), then the async handle is closed
 * and `closed` runs. The loop stays alive until then.
 *
 * OWNERSHIP: the worker owns its threads and its uv_async; an item stays the caller's
 * and must stay valid until its done callback has run. The worker frees itself after
 * `closed` (or when create fails).
 */
#ifndef MCU_WORKER_H
#define MCU_WORKER_H

#include <uv.h>

/* Threads one worker runs at most: the output path needs one per profile at most. */
#define MCU_WORKER_MAX_THREADS 8

typedef struct mcu_worker mcu_worker_t;
typedef struct mcu_work mcu_work_t;

typedef void (*mcu_work_fn)(mcu_work_t *item);               /* on a worker thread */
typedef void (*mcu_work_done_fn)(mcu_work_t *item, int status); /* on the loop: 0, or
                                                                   MCU_ERR_STATE (closed
                                                                   before it ran) */

struct mcu_work {
    void *data;                 /* the caller's */
    /* Private to the worker. */
    mcu_work_fn work;
    mcu_work_done_fn done;
    int status;
    mcu_work_t *next;
};

/* Starts `threads` (1..MCU_WORKER_MAX_THREADS) threads named `name` (for ps/top; cut to
 * 15 characters). 0; MCU_ERR_INVAL; MCU_ERR_NOMEM or MCU_ERR_IO (no thread). */
int mcu_worker_create(uv_loop_t *loop, int threads, const char *name, mcu_worker_t **out);

/* Queues item: work(item) on a thread, then done(item, 0) on the loop. MCU_ERR_STATE
 * once closing (done is then never called), MCU_ERR_INVAL. */
int mcu_worker_submit(mcu_worker_t *w, mcu_work_t *item, mcu_work_fn work,
                      mcu_work_done_fn done);

/* Starts closing (see above); `closed` (may be NULL) runs on the loop when done. */
void mcu_worker_close(mcu_worker_t *w, void (*closed)(void *opaque), void *opaque);

#endif
