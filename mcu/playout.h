/*
 * playout: when each decoded picture of a site goes on its tile.
 *
 * The output takes a site's picture at every tick. Taking the latest one decoded shows
 * arrival jitter as judder: two pictures that land in one tick interval show one and
 * drop the other, and the next tick repeats it. Instead each picture is due at a time on
 * the site's own schedule, from its RTP timestamp:
 *
 *     due = timestamp (in us) + offset
 *
 * and a tick at time t shows the newest picture due by t. Pictures a sender took 40 ms
 * apart are then due 40 ms apart however they travelled, so a site at the output's rate
 * shows each of its pictures exactly once.
 *
 * The offset is the playout delay: the time from a timestamp to when its picture is
 * ready here (decoded, on the loop) is its lateness; the offset follows the
 * MCU_PLAYOUT_PERCENTILE-th percentile of the lateness of the last MCU_PLAYOUT_WINDOW
 * pictures plus MCU_PLAYOUT_MARGIN_US, so almost every picture is ready before it is due.
 * It rises at once when the percentile does, and falls only when the percentile has been
 * more than MCU_PLAYOUT_SHRINK_US below it for MCU_PLAYOUT_SHRINK_PICTURES pictures: each
 * change of the offset
 * moves every due time, and a due time that crosses a tick shows one picture twice.
 * A picture ready after its due time is shown at the next tick (it is the newest due);
 * a lateness more than MCU_PLAYOUT_RESET_US away from the offset (the sender restarted or
 * jumped its timestamps) starts the schedule over from that picture.
 *
 * At most MCU_PLAYOUT_MAX_PICTURES wait; beyond it the oldest not yet shown is dropped.
 *
 * Threads: the loop's only. Ownership: mcu_playout_push takes the caller's frame
 * reference; mcu_playout_at returns a frame that stays the playout's, valid until the
 * next push, at or reset (av_frame_ref it to keep it).
 */
#ifndef MCU_PLAYOUT_H
#define MCU_PLAYOUT_H

#include <libavutil/frame.h>
#include <stdbool.h>
#include <stdint.h>

/* Pictures waiting at most: 8 frames of 25 fps are 320 ms, more than any playout delay
 * the conference accepts (the jitter buffer waits at most 400 ms before this). */
#define MCU_PLAYOUT_MAX_PICTURES 8
/* Lateness samples the delay follows: about 5 s at 25 fps, long enough to see a burst
 * pattern repeat, short enough to follow a path that got better within seconds. */
#define MCU_PLAYOUT_WINDOW 128
/* The percentile of lateness the delay covers. A picture ready after its due time still
 * makes its tick unless it is later than the tick itself, which lies anywhere in the next
 * frame period: covering the 90th percentile let no more than 0.2% of the ticks repeat
 * in the benchmark's scenario, bursty links included, while the 98th added 4-5 ms to
 * every picture's delay there for nothing a viewer sees. */
#define MCU_PLAYOUT_PERCENTILE 90
/* Slack on top of the percentile: a picture handed to the loop a moment after its due
 * time must not miss. Every millisecond here is added to every picture's delay. */
#define MCU_PLAYOUT_MARGIN_US 1000
/* The delay falls only when the percentile has been this far below it for
 * MCU_PLAYOUT_SHRINK_PICTURES pictures in a row (about 2.5 s at 25 fps): soon enough that
 * a burst of load (every site's keyframe at once) does not cost delay for long, seldom
 * enough that the schedule does not hunt. */
#define MCU_PLAYOUT_SHRINK_US 10000
#define MCU_PLAYOUT_SHRINK_PICTURES 64
/* A lateness this far from the delay is a new schedule (timestamps jumped). */
#define MCU_PLAYOUT_RESET_US 1000000

typedef struct mcu_playout_stats {
    uint64_t pushed;        /* pictures handed in */
    uint64_t shown;         /* ... that went on the tile */
    uint64_t dropped;       /* ... replaced before they were shown (several due at once,
                             * or the queue full) */
    uint64_t late;          /* ... ready after their due time */
    uint64_t resets;        /* schedules started over */
    int64_t delay_us;       /* the offset above the fastest lateness seen in the window */
} mcu_playout_stats_t;

typedef struct mcu_playout mcu_playout_t;

/* A playout for a stream with this RTP clock. MCU_ERR_INVAL, MCU_ERR_NOMEM. */
int mcu_playout_create(uint32_t clock_rate, mcu_playout_t **out);
/* Frees it (and every picture it holds) and sets *p = NULL; NULL-safe. */
void mcu_playout_destroy(mcu_playout_t **p);

/* A decoded picture: its RTP timestamp, when its access unit arrived (for the added-delay
 * figures) and when it is ready here, now. Takes `*frame` (set to NULL). */
void mcu_playout_push(mcu_playout_t *p, AVFrame **frame, uint32_t timestamp,
                      int64_t arrival_us, int64_t ready_us);

/* The picture for a tick at time t: the newest due by t (older ones waiting are dropped),
 * else the one shown before; NULL before the first is due. *arrival_us and *seq (a
 * number that changes with each picture shown) describe it; either may be NULL. */
const AVFrame *mcu_playout_at(mcu_playout_t *p, int64_t t_us, int64_t *arrival_us,
                              uint64_t *seq);

/* The picture the last mcu_playout_at returned (NULL before any). */
const AVFrame *mcu_playout_current(const mcu_playout_t *p);
/* The newest picture handed in (shown or not), for snapshots; NULL when none. */
const AVFrame *mcu_playout_newest(const mcu_playout_t *p);

/* Drops every picture and starts the schedule over (the stream restarted). */
void mcu_playout_reset(mcu_playout_t *p);

void mcu_playout_get_stats(const mcu_playout_t *p, mcu_playout_stats_t *st);

#endif
