#define _GNU_SOURCE /* pthread_setname_np */
#include "worker.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "error.h"

/* Linux's limit on a thread name, NUL included. */
#define THREAD_NAME_MAX 16

struct mcu_worker {
    uv_loop_t *loop;
    uv_async_t async;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    mcu_work_t *head, *tail;            /* queued, in order */
    mcu_work_t *done_head, *done_tail;  /* finished or cancelled, for the loop */
    pthread_t threads[MCU_WORKER_MAX_THREADS];
    int n_threads;
    int live_threads;                   /* started and not yet left */
    bool closing, joined;
    void (*closed)(void *opaque);
    void *closed_opaque;
    char name[THREAD_NAME_MAX];
};

/* Under mu. */
static void push_done(mcu_worker_t *w, mcu_work_t *item)
{
    item->next = NULL;
    if (w->done_tail)
        w->done_tail->next = item;
    else
        w->done_head = item;
    w->done_tail = item;
}

static void *thread_main(void *arg)
{
    mcu_worker_t *w = arg;
    pthread_setname_np(pthread_self(), w->name);
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->closing)
            pthread_cond_wait(&w->cond, &w->mu);
        if (w->closing)
            break;
        mcu_work_t *item = w->head;
        w->head = item->next;
        if (!w->head)
            w->tail = NULL;
        pthread_mutex_unlock(&w->mu);
        item->work(item);
        pthread_mutex_lock(&w->mu);
        item->status = MCU_OK;
        push_done(w, item);
        pthread_mutex_unlock(&w->mu);
        uv_async_send(&w->async);
        pthread_mutex_lock(&w->mu);
    }
    w->live_threads--;
    pthread_mutex_unlock(&w->mu);
    uv_async_send(&w->async); /* the loop joins once the last one has left */
    return NULL;
}

static void on_async_closed(uv_handle_t *h)
{
    mcu_worker_t *w = h->data;
    void (*closed)(void *) = w->closed;
    void *opaque = w->closed_opaque;
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->mu);
    free(w);
    if (closed)
        closed(opaque);
}

static void on_async(uv_async_t *a)
{
    mcu_worker_t *w = a->data;
    pthread_mutex_lock(&w->mu);
    mcu_work_t *item = w->done_head;
    w->done_head = w->done_tail = NULL;
    bool finished = w->closing && w->live_threads == 0 && !w->joined;
    pthread_mutex_unlock(&w->mu);
    while (item) {
        mcu_work_t *next = item->next;
        item->done(item, item->status); /* may free the item */
        item = next;
    }
    if (!finished)
        return;
    w->joined = true;
    for (int i = 0; i < w->n_threads; i++)
        pthread_join(w->threads[i], NULL); /* each has left its loop: no wait */
    uv_close((uv_handle_t *)&w->async, on_async_closed);
}

int mcu_worker_create(uv_loop_t *loop, int threads, const char *name, mcu_worker_t **out)
{
    if (!out)
        return MCU_ERR_INVAL;
    *out = NULL;
    if (!loop || threads < 1 || threads > MCU_WORKER_MAX_THREADS)
        return MCU_ERR_INVAL;
    mcu_worker_t *w = calloc(1, sizeof *w);
    if (!w)
        return MCU_ERR_NOMEM;
    w->loop = loop;
    snprintf(w->name, sizeof w->name, "%s", name ? name : "mcu-worker");
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (uv_async_init(loop, &w->async, on_async) != 0) {
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return MCU_ERR_IO;
    }
    w->async.data = w;
    for (int i = 0; i < threads; i++) {
        pthread_mutex_lock(&w->mu);
        w->live_threads++;
        pthread_mutex_unlock(&w->mu);
        if (pthread_create(&w->threads[i], NULL, thread_main, w) != 0) {
            pthread_mutex_lock(&w->mu);
            w->live_threads--;
            pthread_mutex_unlock(&w->mu);
            mcu_worker_close(w, NULL, NULL); /* joins the ones started, then frees */
            return MCU_ERR_IO;
        }
        w->n_threads++;
    }
    *out = w;
    return MCU_OK;
}

int mcu_worker_submit(mcu_worker_t *w, mcu_work_t *item, mcu_work_fn work,
                      mcu_work_done_fn done)
{
    if (!w || !item || !work || !done)
        return MCU_ERR_INVAL;
    item->work = work;
    item->done = done;
    item->next = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->closing) {
        pthread_mutex_unlock(&w->mu);
        return MCU_ERR_STATE;
    }
    if (w->tail)
        w->tail->next = item;
    else
        w->head = item;
    w->tail = item;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
    return MCU_OK;
}

void mcu_worker_close(mcu_worker_t *w, void (*closed)(void *opaque), void *opaque)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    if (w->closing) {
        pthread_mutex_unlock(&w->mu);
        return;
    }
    w->closing = true;
    w->closed = closed;
    w->closed_opaque = opaque;
    for (mcu_work_t *item = w->head; item;) {
        mcu_work_t *next = item->next;
        item->status = MCU_ERR_STATE;
        push_done(w, item);
        item = next;
    }
    w->head = w->tail = NULL;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->mu);
    uv_async_send(&w->async);
}
