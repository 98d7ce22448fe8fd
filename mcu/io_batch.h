/*
 * io_batch: I/O moderation for the event loop, as a network card moderates its
 * interrupts. When the loop has nothing to do and would sleep in the kernel until the
 * next datagram, it sleeps instead until the next boundary of a fixed grid (or its next
 * timer, whichever is first) and then takes every datagram and completion that came
 * meanwhile in one wake-up.
 *
 * Why: an 18-site conference receives ~1800 datagrams a second. Waking the loop for
 * each one costs two context switches, an epoll_wait and, on a virtual machine, an
 * inter-processor interrupt and a halted virtual CPU brought back; the woken loop also
 * preempts the worker decoding or encoding on that core. On the 2-core test machine
 * (18 × 360p25 → 720p25, bench/) the loop switched ~2400 times a second without
 * moderation and ~1000 with a 2 ms grid, and the process used 5-12% less CPU per output
 * frame in interleaved runs. The cost is that a datagram or a worker's result waits at
 * most one period before the loop sees it; timers are never late, since the sleep ends
 * at the next one. A busy loop never sleeps here: it only moderates when nothing is
 * ready.
 *
 * The sleep happens in a uv_prepare callback, the last step before libuv polls, and
 * only after a zero-timeout poll of the loop's backend fd found nothing ready; the loop
 * time is then updated so libuv's own poll timeout stays exact.
 *
 * OWNERSHIP: mcu_io_batch_start allocates the batcher; mcu_io_batch_stop closes its
 * handle and frees it in the close callback (the loop must run once more). The prepare
 * handle is unreferenced: it never keeps the loop alive.
 */
#ifndef MCU_IO_BATCH_H
#define MCU_IO_BATCH_H

#include <uv.h>

/* The default grid: 2 ms is a twentieth of a 25 fps frame and a tenth of an Opus frame,
 * small against the jitter buffers (tens of ms). Grids of 2, 4 and 8 ms saved the same
 * CPU in the 18-site scenario; the longer ones added 2-4 ms to the median delay. */
#define MCU_IO_BATCH_DEFAULT_US 2000
/* The largest grid accepted: more would start to eat a 25 fps output tick (40 ms). */
#define MCU_IO_BATCH_MAX_US 20000

typedef struct mcu_io_batch mcu_io_batch_t;

/* Starts moderating `loop` on a grid of period_us (1..MCU_IO_BATCH_MAX_US); period_us 0
 * leaves the loop as it is and sets *out to NULL. */
int mcu_io_batch_start(uv_loop_t *loop, int period_us, mcu_io_batch_t **out);

/* Stops moderating and frees the batcher once its handle is closed. NULL is a no-op. */
void mcu_io_batch_stop(mcu_io_batch_t *b);

/* Sleeps taken so far (each one a wake-up that took every ready event at once). */
unsigned long long mcu_io_batch_naps(const mcu_io_batch_t *b);

#endif
