#include "mcu/playout.h"

#include <stdlib.h>
#include <string.h>

#include "mcu/error.h"

#define US_PER_S 1000000

typedef struct entry {
    AVFrame *frame;
    int64_t due_us;
    int64_t arrival_us;
} entry_t;

struct mcu_playout {
    uint32_t clock_rate;
    /* Waiting pictures, in due order. */
    entry_t q[MCU_PLAYOUT_MAX_PICTURES];
    int n;
    /* On the tile. */
    AVFrame *current;
    int64_t current_arrival_us;
    uint64_t seq;
    AVFrame *newest;        /* a reference to the newest handed in */
    /* Timestamp unwrapping. */
    bool have_ts;
    uint32_t last_ts;
    int64_t ext_ts;
    /* The delay: lateness samples, the offset, and how long the percentile has been well
     * below it. */
    int64_t lat[MCU_PLAYOUT_WINDOW];
    int n_lat, next_lat;
    bool have_offset;
    int64_t offset_us;
    int below;
    mcu_playout_stats_t stats;
};

int mcu_playout_create(uint32_t clock_rate, mcu_playout_t **out)
{
    *out = NULL;
    if (clock_rate == 0)
        return MCU_ERR_INVAL;
    mcu_playout_t *p = calloc(1, sizeof *p);
    if (!p)
        return MCU_ERR_NOMEM;
    p->clock_rate = clock_rate;
    *out = p;
    return MCU_OK;
}

static void drop_queue(mcu_playout_t *p)
{
    for (int i = 0; i < p->n; i++)
        av_frame_free(&p->q[i].frame);
    p->n = 0;
}

void mcu_playout_destroy(mcu_playout_t **pp)
{
    mcu_playout_t *p = pp ? *pp : NULL;
    if (!p)
        return;
    drop_queue(p);
    av_frame_free(&p->current);
    av_frame_free(&p->newest);
    free(p);
    *pp = NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The percentile of the lateness window, and its minimum. */
static int64_t lateness_percentile(const mcu_playout_t *p, int64_t *min)
{
    int64_t sorted[MCU_PLAYOUT_WINDOW];
    memcpy(sorted, p->lat, sizeof sorted[0] * (size_t)p->n_lat);
    qsort(sorted, (size_t)p->n_lat, sizeof sorted[0], cmp_i64);
    *min = sorted[0];
    return sorted[(p->n_lat - 1) * MCU_PLAYOUT_PERCENTILE / 100];
}

/* Learns one lateness and moves the offset (see playout.h). */
static void learn(mcu_playout_t *p, int64_t lateness)
{
    if (p->have_offset && (lateness - p->offset_us > MCU_PLAYOUT_RESET_US ||
                           p->offset_us - lateness > MCU_PLAYOUT_RESET_US)) {
        p->have_offset = false;
        p->stats.resets++;
        p->stats.dropped += (uint64_t)p->n;
        drop_queue(p); /* their due times belong to the old schedule */
    }
    if (!p->have_offset) {
        p->n_lat = p->next_lat = 0;
        p->have_offset = true;
        p->offset_us = lateness + MCU_PLAYOUT_MARGIN_US;
        p->below = 0;
    }
    p->lat[p->next_lat] = lateness;
    p->next_lat = (p->next_lat + 1) % MCU_PLAYOUT_WINDOW;
    if (p->n_lat < MCU_PLAYOUT_WINDOW)
        p->n_lat++;
    int64_t min;
    int64_t target = lateness_percentile(p, &min) + MCU_PLAYOUT_MARGIN_US;
    if (target > p->offset_us) {
        p->offset_us = target;
        p->below = 0;
    } else if (target < p->offset_us - MCU_PLAYOUT_SHRINK_US) {
        if (++p->below >= MCU_PLAYOUT_SHRINK_PICTURES) {
            p->offset_us = target;
            p->below = 0;
        }
    } else {
        p->below = 0;
    }
    p->stats.delay_us = p->offset_us - min;
}

void mcu_playout_push(mcu_playout_t *p, AVFrame **frame, uint32_t ts, int64_t arrival_us,
                      int64_t ready_us)
{
    AVFrame *f = *frame;
    *frame = NULL;
    if (!f)
        return;
    p->stats.pushed++;
    if (!p->have_ts) {
        p->have_ts = true;
        p->ext_ts = ts;
    } else {
        p->ext_ts += (int32_t)(ts - p->last_ts);
    }
    p->last_ts = ts;
    int64_t ts_us = p->ext_ts * US_PER_S / (int64_t)p->clock_rate;
    learn(p, ready_us - ts_us);
    int64_t due = ts_us + p->offset_us;
    if (ready_us > due)
        p->stats.late++;

    av_frame_free(&p->newest);
    p->newest = av_frame_clone(f);
    if (p->n == MCU_PLAYOUT_MAX_PICTURES) { /* the oldest waiting one goes */
        av_frame_free(&p->q[0].frame);
        memmove(p->q, p->q + 1, sizeof p->q[0] * (size_t)(--p->n));
        p->stats.dropped++;
    }
    int at = p->n;
    while (at > 0 && p->q[at - 1].due_us > due)
        at--;
    memmove(p->q + at + 1, p->q + at, sizeof p->q[0] * (size_t)(p->n - at));
    p->q[at] = (entry_t){.frame = f, .due_us = due, .arrival_us = arrival_us};
    p->n++;
}

const AVFrame *mcu_playout_at(mcu_playout_t *p, int64_t t_us, int64_t *arrival_us,
                              uint64_t *seq)
{
    int due = 0;
    while (due < p->n && p->q[due].due_us <= t_us)
        due++;
    if (due > 0) {
        for (int i = 0; i < due - 1; i++)
            av_frame_free(&p->q[i].frame);
        p->stats.dropped += (uint64_t)(due - 1);
        av_frame_free(&p->current);
        p->current = p->q[due - 1].frame;
        p->current_arrival_us = p->q[due - 1].arrival_us;
        p->seq++;
        p->stats.shown++;
        p->n -= due;
        memmove(p->q, p->q + due, sizeof p->q[0] * (size_t)p->n);
    }
    if (arrival_us)
        *arrival_us = p->current ? p->current_arrival_us : 0;
    if (seq)
        *seq = p->seq;
    return p->current;
}

const AVFrame *mcu_playout_current(const mcu_playout_t *p) { return p->current; }
const AVFrame *mcu_playout_newest(const mcu_playout_t *p) { return p->newest; }

void mcu_playout_reset(mcu_playout_t *p)
{
    p->stats.dropped += (uint64_t)p->n;
    drop_queue(p);
    p->have_ts = false;
    p->have_offset = false;
}

void mcu_playout_get_stats(const mcu_playout_t *p, mcu_playout_stats_t *st) { *st = p->stats; }
