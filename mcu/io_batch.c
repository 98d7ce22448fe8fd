#include "io_batch.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "error.h"

#define NS_PER_US 1000ull
#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull

struct mcu_io_batch {
    uv_prepare_t prepare;
    uint64_t period_ns;
    unsigned long long naps;
};

/* True when the loop's backend (its epoll fd) has an event ready right now. */
static bool backend_ready(uv_loop_t *loop)
{
    struct pollfd p = {.fd = uv_backend_fd(loop), .events = POLLIN};
    int n;
    do
        n = poll(&p, 1, 0);
    while (n < 0 && errno == EINTR);
    return n != 0; /* an error too: let libuv's own poll see it */
}

static void on_prepare(uv_prepare_t *h)
{
    mcu_io_batch_t *b = h->data;
    int timeout_ms = uv_backend_timeout(h->loop);
    if (timeout_ms == 0 || backend_ready(h->loop))
        return;
    uint64_t now = uv_hrtime();
    uint64_t until = (now / b->period_ns + 1) * b->period_ns;
    if (timeout_ms > 0 && now + (uint64_t)timeout_ms * NS_PER_MS < until)
        until = now + (uint64_t)timeout_ms * NS_PER_MS;
    uint64_t wait = until - now;
    struct timespec ts = {.tv_sec = (time_t)(wait / NS_PER_S), .tv_nsec = (long)(wait % NS_PER_S)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    b->naps++;
    uv_update_time(h->loop); /* libuv's poll timeout is computed from the loop time next */
}

int mcu_io_batch_start(uv_loop_t *loop, int period_us, mcu_io_batch_t **out)
{
    if (!loop || !out || period_us < 0 || period_us > MCU_IO_BATCH_MAX_US)
        return MCU_ERR_INVAL;
    *out = NULL;
    if (period_us == 0)
        return MCU_OK;
    mcu_io_batch_t *b = calloc(1, sizeof *b);
    if (!b)
        return MCU_ERR_NOMEM;
    b->period_ns = (uint64_t)period_us * NS_PER_US;
    if (uv_prepare_init(loop, &b->prepare) != 0) {
        free(b);
        return MCU_ERR_INVAL;
    }
    b->prepare.data = b;
    uv_prepare_start(&b->prepare, on_prepare);
    uv_unref((uv_handle_t *)&b->prepare);
    *out = b;
    return MCU_OK;
}

static void on_closed(uv_handle_t *h) { free(h->data); }

void mcu_io_batch_stop(mcu_io_batch_t *b)
{
    if (!b)
        return;
    uv_prepare_stop(&b->prepare);
    uv_close((uv_handle_t *)&b->prepare, on_closed);
}

unsigned long long mcu_io_batch_naps(const mcu_io_batch_t *b) { return b ? b->naps : 0; }
