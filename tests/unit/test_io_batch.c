/* I/O moderation of the loop: datagrams that come while the loop naps are taken in one
 * wake-up, nothing is lost, timers still fire on time (the nap ends at the next timer),
 * the handle never keeps the loop alive, and the period is checked. The bounds asserted
 * are loose by a factor of ten against what a broken version would show, so a loaded
 * machine cannot fail them. */
#include <arpa/inet.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "mcu/error.h"
#include "mcu/io_batch.h"
#include "test_util.h"

#define DATAGRAMS 8
#define GRID_US MCU_IO_BATCH_MAX_US
#define SPACING_US 1000 /* 8 datagrams in ~8 ms: inside one or two 20 ms periods */

typedef struct {
    uv_loop_t loop;
    uv_udp_t sock;
    uv_prepare_t iter; /* counts loop iterations */
    uv_timer_t guard;
    unsigned long iteration;
    unsigned long iter_of[DATAGRAMS];
    int received;
    uint16_t port;
    char buf[2048];
} rx_t;

static void on_iter(uv_prepare_t *h) { ((rx_t *)h->data)->iteration++; }

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)hint;
    rx_t *r = h->data;
    *b = uv_buf_init(r->buf, sizeof r->buf);
}

static void on_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *a,
                    unsigned flags)
{
    (void)b;
    (void)flags;
    rx_t *r = h->data;
    if (n <= 0 || !a)
        return;
    if (r->received < DATAGRAMS)
        r->iter_of[r->received] = r->iteration;
    if (++r->received == DATAGRAMS) {
        uv_udp_recv_stop(h);
        uv_timer_stop(&r->guard);
    }
}

static void on_guard(uv_timer_t *t) { uv_udp_recv_stop(&((rx_t *)t->data)->sock); }

static void *sender(void *arg)
{
    const rx_t *r = arg;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(r->port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    usleep(50 * 1000); /* the loop is asleep by then */
    for (int i = 0; i < DATAGRAMS; i++) {
        (void)sendto(fd, "x", 1, 0, (struct sockaddr *)&to, sizeof to);
        usleep(SPACING_US);
    }
    close(fd);
    return NULL;
}

/* Receives DATAGRAMS spaced datagrams with the loop moderated on period_us (0: not). */
static void receive_burst(int period_us, rx_t *r, mcu_io_batch_t **batch)
{
    memset(r, 0, sizeof *r);
    assert_int_equal(uv_loop_init(&r->loop), 0);
    assert_int_equal(mcu_io_batch_start(&r->loop, period_us, batch), MCU_OK);
    uv_udp_init(&r->loop, &r->sock);
    uv_prepare_init(&r->loop, &r->iter);
    uv_timer_init(&r->loop, &r->guard);
    r->sock.data = r->iter.data = r->guard.data = r;
    struct sockaddr_in any;
    uv_ip4_addr("127.0.0.1", 0, &any);
    assert_int_equal(uv_udp_bind(&r->sock, (const struct sockaddr *)&any, 0), 0);
    struct sockaddr_in me;
    int len = sizeof me;
    uv_udp_getsockname(&r->sock, (struct sockaddr *)&me, &len);
    r->port = ntohs(me.sin_port);
    uv_prepare_start(&r->iter, on_iter);
    uv_udp_recv_start(&r->sock, on_alloc, on_recv);
    uv_timer_start(&r->guard, on_guard, 10 * 1000, 0); /* a lost datagram fails, not hangs */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, sender, r), 0);
    while (r->received < DATAGRAMS && uv_is_active((uv_handle_t *)&r->guard))
        uv_run(&r->loop, UV_RUN_ONCE);
    pthread_join(th, NULL);
}

static void close_rx(rx_t *r, mcu_io_batch_t *batch)
{
    mcu_io_batch_stop(batch);
    uv_close((uv_handle_t *)&r->sock, NULL);
    uv_close((uv_handle_t *)&r->iter, NULL);
    uv_close((uv_handle_t *)&r->guard, NULL);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&r->loop), 0);
}

static int wakeups(const rx_t *r)
{
    int n = 0;
    for (int i = 0; i < r->received; i++)
        n += i == 0 || r->iter_of[i] != r->iter_of[i - 1];
    return n;
}

static void datagrams_come_together(void **state)
{
    (void)state;
    rx_t r;
    mcu_io_batch_t *b = NULL;
    receive_burst(GRID_US, &r, &b);
    assert_non_null(b);
    assert_int_equal(r.received, DATAGRAMS);
    /* Each datagram woke the loop on its own before; on a 20 ms grid, 8 ms of datagrams
     * span one or two periods. */
    assert_true(wakeups(&r) <= DATAGRAMS / 2);
    assert_true(mcu_io_batch_naps(b) > 0);
    close_rx(&r, b);
}

static void off_takes_each_as_it_comes(void **state)
{
    (void)state;
    rx_t r;
    mcu_io_batch_t *b = (mcu_io_batch_t *)&r; /* must be set to NULL */
    receive_burst(0, &r, &b);
    assert_null(b);
    assert_int_equal(r.received, DATAGRAMS);
    assert_int_equal(mcu_io_batch_naps(b), 0);
    close_rx(&r, b);
}

typedef struct {
    int left;
} ticks_t;

static void on_tick(uv_timer_t *t)
{
    ticks_t *k = t->data;
    if (--k->left == 0)
        uv_timer_stop(t);
}

static void timers_end_the_nap(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    mcu_io_batch_t *b = NULL;
    assert_int_equal(mcu_io_batch_start(&loop, GRID_US, &b), MCU_OK);
    uv_timer_t t;
    ticks_t k = {.left = 50};
    uv_timer_init(&loop, &t);
    t.data = &k;
    uv_timer_start(&t, on_tick, 1, 1);
    uint64_t t0 = uv_hrtime();
    uv_run(&loop, UV_RUN_DEFAULT); /* returns: the batcher alone keeps nothing alive */
    uint64_t ms = (uv_hrtime() - t0) / 1000000u;
    assert_int_equal(k.left, 0);
    assert_true(mcu_io_batch_naps(b) > 0);
    /* 50 ticks of 1 ms take ~50 ms; naps that slept to the 20 ms grid would take 1 s. */
    assert_true(ms < 500);
    mcu_io_batch_stop(b);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void bad_periods(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    mcu_io_batch_t *b = NULL;
    assert_int_equal(mcu_io_batch_start(&loop, -1, &b), MCU_ERR_INVAL);
    assert_int_equal(mcu_io_batch_start(&loop, MCU_IO_BATCH_MAX_US + 1, &b), MCU_ERR_INVAL);
    assert_int_equal(mcu_io_batch_start(NULL, 1000, &b), MCU_ERR_INVAL);
    assert_int_equal(mcu_io_batch_start(&loop, 1000, NULL), MCU_ERR_INVAL);
    mcu_io_batch_stop(NULL);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(datagrams_come_together),
        cmocka_unit_test(off_takes_each_as_it_comes),
        cmocka_unit_test(timers_end_the_nap),
        cmocka_unit_test(bad_periods),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
