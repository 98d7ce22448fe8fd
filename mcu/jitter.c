#include "jitter.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "rtp.h"

#define US_PER_S 1000000
#define US_PER_MS 1000

typedef struct slot {
    bool used;          /* holds the packet ext_seq (len 0: a filler, see jitter.h) */
    bool missing;       /* ext_seq was noticed missing at `time_us` */
    bool marker;
    uint16_t len;
    int64_t ext_seq;
    int64_t ext_ts;
    int64_t time_us;    /* arrival if used, noticed-missing time if missing */
} slot_t;

struct mcu_jitter {
    mcu_jitter_config_t cfg;
    uint32_t cap;       /* slots, a power of two >= max_packets */
    uint32_t mask;
    slot_t *slots;
    uint8_t *slab;      /* cap * MCU_RTP_MAX_DATAGRAM payload bytes */

    bool started;
    bool released_any;
    int64_t next_seq;   /* first sequence number not handed out */
    int64_t highest_seq;
    int64_t ref_ts;     /* unwrapping reference: timestamp of highest_seq */
    uint32_t held;
    size_t bytes;

    bool gap_pending;   /* the next frame's start must be proven by its payload */
    uint32_t lost_pending;
    bool keyframe_needed;
    bool have_released_ts;
    int64_t released_ts;

    int64_t *pop_seqs;  /* the frame handed out last, freed on the next call */
    bool *pop_gap;      /* ... and whether packets are missing just before each */
    int64_t pop_n;

    bool have_base;
    int64_t window_start_us;
    int64_t base_cur, base_prev;    /* minimum transit per window */
    int64_t late_cur, late_prev;    /* maximum lateness per window */
    int64_t rtt_us;

    mcu_jitter_stats_t stats;
};

/* What the head of the buffer allows. */
typedef enum head_kind { HEAD_EMPTY, HEAD_WAIT, HEAD_FRAME, HEAD_GAP, HEAD_FILLER } head_kind_t;

typedef struct head {
    head_kind_t kind;
    int64_t deadline;   /* HEAD_WAIT: when it changes without input */
    int64_t end;        /* HEAD_FRAME: last sequence number of the frame */
    bool ended;         /* HEAD_FRAME: end known (else given up at a gap) */
    bool start_known;
    bool holes;         /* HEAD_FRAME: packets missing inside the frame */
    int64_t resume;     /* HEAD_GAP: first stored sequence number after the gap */
} head_t;

void mcu_jitter_config_video(mcu_jitter_config_t *cfg, uint32_t clock_rate)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->clock_rate = clock_rate;
    cfg->mode = MCU_JITTER_ASAP;
    cfg->max_packets = MCU_JITTER_DEFAULT_VIDEO_PACKETS;
    cfg->max_bytes = MCU_JITTER_DEFAULT_MAX_BYTES;
    cfg->min_delay_ms = MCU_JITTER_DEFAULT_MIN_DELAY_MS;
    cfg->max_delay_ms = MCU_JITTER_DEFAULT_MAX_DELAY_MS;
}

void mcu_jitter_config_audio(mcu_jitter_config_t *cfg, uint32_t clock_rate)
{
    mcu_jitter_config_video(cfg, clock_rate);
    cfg->mode = MCU_JITTER_PACED;
    cfg->frame_per_packet = true;
    cfg->max_packets = MCU_JITTER_DEFAULT_AUDIO_PACKETS;
}

static void clear_all(mcu_jitter_t *jb)
{
    memset(jb->slots, 0, sizeof(slot_t) * jb->cap);
    jb->started = false;
    jb->released_any = false;
    jb->held = 0;
    jb->bytes = 0;
    jb->gap_pending = true;
    jb->have_released_ts = false;
    jb->pop_n = 0;
    jb->have_base = false;
}

int mcu_jitter_create(const mcu_jitter_config_t *cfg, mcu_jitter_t **out)
{
    *out = NULL;
    if (!cfg || !cfg->clock_rate || !cfg->max_packets ||
        cfg->max_packets > MCU_JITTER_MAX_PACKETS || !cfg->max_bytes ||
        cfg->min_delay_ms > cfg->max_delay_ms)
        return MCU_ERR_INVAL;
    mcu_jitter_t *jb = calloc(1, sizeof *jb);
    if (!jb)
        return MCU_ERR_NOMEM;
    jb->cfg = *cfg;
    jb->cap = 1;
    while (jb->cap < cfg->max_packets)
        jb->cap <<= 1;
    jb->mask = jb->cap - 1;
    jb->slots = calloc(jb->cap, sizeof(slot_t));
    jb->slab = malloc((size_t)jb->cap * MCU_RTP_MAX_DATAGRAM);
    jb->pop_seqs = calloc(jb->cap, sizeof(int64_t));
    jb->pop_gap = calloc(jb->cap, sizeof(bool));
    if (!jb->slots || !jb->slab || !jb->pop_seqs || !jb->pop_gap) {
        mcu_jitter_destroy(&jb);
        return MCU_ERR_NOMEM;
    }
    clear_all(jb);
    *out = jb;
    return MCU_OK;
}

void mcu_jitter_destroy(mcu_jitter_t **pjb)
{
    mcu_jitter_t *jb = pjb ? *pjb : NULL;
    if (!jb)
        return;
    free(jb->slots);
    free(jb->slab);
    free(jb->pop_seqs);
    free(jb->pop_gap);
    free(jb);
    *pjb = NULL;
}

static slot_t *slot_of(const mcu_jitter_t *jb, int64_t seq)
{
    return &jb->slots[(uint64_t)seq & jb->mask];
}

static const slot_t *stored(const mcu_jitter_t *jb, int64_t seq)
{
    const slot_t *s = slot_of(jb, seq);
    return s->used && s->ext_seq == seq ? s : NULL;
}

static uint8_t *payload_of(const mcu_jitter_t *jb, int64_t seq)
{
    return jb->slab + ((uint64_t)seq & jb->mask) * MCU_RTP_MAX_DATAGRAM;
}

static void free_slot(mcu_jitter_t *jb, int64_t seq)
{
    slot_t *s = slot_of(jb, seq);
    if (s->ext_seq != seq)
        return;
    if (s->used) {
        jb->held--;
        jb->bytes -= s->len;
    }
    s->used = s->missing = false;
}

static void free_popped(mcu_jitter_t *jb)
{
    for (int64_t i = 0; i < jb->pop_n; i++)
        free_slot(jb, jb->pop_seqs[i]);
    jb->pop_n = 0;
}

static int64_t ts_to_us(const mcu_jitter_t *jb, int64_t ext_ts)
{
    return ext_ts * US_PER_S / jb->cfg.clock_rate;
}

static int64_t target_delay(const mcu_jitter_t *jb)
{
    int64_t late = jb->late_cur > jb->late_prev ? jb->late_cur : jb->late_prev;
    int64_t t = late + MCU_JITTER_MARGIN_US;
    int64_t rtx = jb->rtt_us * 3 / 2 + MCU_JITTER_MARGIN_US;
    if (jb->rtt_us > 0 && rtx > t)
        t = rtx;
    int64_t lo = (int64_t)jb->cfg.min_delay_ms * US_PER_MS;
    int64_t hi = (int64_t)jb->cfg.max_delay_ms * US_PER_MS;
    return t < lo ? lo : t > hi ? hi : t;
}

static int64_t base_transit(const mcu_jitter_t *jb)
{
    return jb->base_cur < jb->base_prev ? jb->base_cur : jb->base_prev;
}

/* Playout time of a frame (PACED mode). */
static int64_t due_time(const mcu_jitter_t *jb, int64_t ext_ts)
{
    return ts_to_us(jb, ext_ts) + base_transit(jb) + target_delay(jb);
}

static void update_delay(mcu_jitter_t *jb, int64_t ext_ts, int64_t arrival_us)
{
    int64_t transit = arrival_us - ts_to_us(jb, ext_ts);
    int64_t jump = jb->have_base ? transit - base_transit(jb) : 0;
    if (!jb->have_base || jump > MCU_JITTER_RESET_TRANSIT_US ||
        jump < -MCU_JITTER_RESET_TRANSIT_US) {
        jb->have_base = true;
        jb->base_cur = jb->base_prev = transit;
        jb->late_cur = jb->late_prev = 0;
        jb->window_start_us = arrival_us;
    }
    if (arrival_us - jb->window_start_us >= MCU_JITTER_WINDOW_US) {
        jb->base_prev = jb->base_cur;
        jb->late_prev = jb->late_cur;
        jb->base_cur = transit;
        jb->late_cur = 0;
        jb->window_start_us = arrival_us;
    }
    if (transit < jb->base_cur)
        jb->base_cur = transit;
    int64_t late = transit - base_transit(jb);
    if (late > jb->late_cur)
        jb->late_cur = late;
}

static void flush(mcu_jitter_t *jb)
{
    clear_all(jb);
    jb->keyframe_needed = true;
    jb->stats.overflows++;
}

static void start_at(mcu_jitter_t *jb, uint16_t seq, uint32_t ts)
{
    jb->started = true;
    jb->next_seq = jb->highest_seq = seq;
    jb->ref_ts = ts;
}

int mcu_jitter_push(mcu_jitter_t *jb, uint16_t seq, uint32_t timestamp, bool marker,
                    const uint8_t *payload, size_t len, int64_t arrival_us)
{
    free_popped(jb);
    if (len > MCU_RTP_MAX_DATAGRAM || (len && !payload))
        return MCU_ERR_TOO_BIG;
    jb->stats.packets_in++;
    int rc = MCU_OK;
    if (!jb->started)
        start_at(jb, seq, timestamp);

    int64_t ext = jb->highest_seq + (int16_t)(seq - (uint16_t)jb->highest_seq);
    int64_t ext_ts = jb->ref_ts + (int32_t)(timestamp - (uint32_t)jb->ref_ts);

    if (ext < jb->next_seq) {
        /* Before anything left, an earlier packet of the first frame may still come. */
        if (jb->released_any || jb->highest_seq - ext >= jb->cap) {
            jb->stats.late++;
            return MCU_ERR_LATE;
        }
        for (int64_t s = ext + 1; s < jb->next_seq; s++) {
            slot_t *m = slot_of(jb, s);
            *m = (slot_t){.missing = true, .ext_seq = s, .time_us = arrival_us};
        }
        jb->next_seq = ext;
    }
    const slot_t *dup = stored(jb, ext);
    if (dup) {
        jb->stats.duplicates++;
        return MCU_ERR_DUPLICATE;
    }
    if (ext - jb->next_seq >= jb->cap || jb->held + 1 > jb->cfg.max_packets ||
        jb->bytes + len > jb->cfg.max_bytes) {
        flush(jb);
        start_at(jb, seq, timestamp);
        ext = seq;
        ext_ts = timestamp;
        rc = MCU_ERR_OVERFLOW;
    }
    for (int64_t s = jb->highest_seq + 1; s < ext; s++) {
        slot_t *m = slot_of(jb, s);
        *m = (slot_t){.missing = true, .ext_seq = s, .time_us = arrival_us};
    }
    if (ext > jb->highest_seq) {
        jb->highest_seq = ext;
        jb->ref_ts = ext_ts;
    }
    slot_t *s = slot_of(jb, ext);
    *s = (slot_t){.used = true, .marker = marker, .len = (uint16_t)len, .ext_seq = ext,
                  .ext_ts = ext_ts, .time_us = arrival_us};
    if (len)
        memcpy(payload_of(jb, ext), payload, len);
    jb->held++;
    jb->bytes += len;
    if (len)
        update_delay(jb, ext_ts, arrival_us); /* a filler's timestamp is a stale one */
    else
        jb->stats.fillers++;
    return rc;
}

static bool payload_starts_frame(const mcu_jitter_t *jb, int64_t seq)
{
    const slot_t *s = stored(jb, seq);
    return s && jb->cfg.is_frame_start && jb->cfg.is_frame_start(payload_of(jb, seq), s->len);
}

/* First stored sequence number after `seq`, or -1 (there is none). */
static int64_t next_stored(const mcu_jitter_t *jb, int64_t seq)
{
    for (int64_t s = seq + 1; s <= jb->highest_seq; s++)
        if (stored(jb, s))
            return s;
    return -1;
}

static void inspect_head(const mcu_jitter_t *jb, int64_t now_us, head_t *h)
{
    memset(h, 0, sizeof *h);
    if (jb->held == 0) {
        h->kind = HEAD_EMPTY;
        h->deadline = INT64_MAX;
        return;
    }
    int64_t s = jb->next_seq;
    const slot_t *first = stored(jb, s);
    if (first && first->len == 0) {
        h->kind = HEAD_FILLER; /* accounted for, carries nothing: step over it */
        h->deadline = INT64_MIN;
        return;
    }
    if (!first) {
        const slot_t *m = slot_of(jb, s);
        int64_t resume = next_stored(jb, s);
        int64_t deadline = (m->missing && m->ext_seq == s ? m->time_us : now_us) +
                           target_delay(jb);
        if (jb->cfg.mode == MCU_JITTER_PACED && resume >= 0) {
            int64_t due = due_time(jb, stored(jb, resume)->ext_ts);
            if (due < deadline)
                deadline = due;
        }
        h->kind = now_us >= deadline ? HEAD_GAP : HEAD_WAIT;
        h->deadline = deadline;
        h->resume = resume;
        return;
    }

    /* Walk the frame: packets sharing the head's timestamp, across holes, until the
     * marker or a timestamp change tells where it ends. */
    int64_t e = s, first_hole = -1;
    bool ended = jb->cfg.frame_per_packet;
    while (!ended) {
        if (stored(jb, e)->marker) {
            ended = true;
            break;
        }
        const slot_t *nx = stored(jb, e + 1);
        if (nx) {
            if (nx->ext_ts != first->ext_ts) {
                ended = true; /* timestamp changed, nothing missing: marker not set */
                break;
            }
            e++;
            continue;
        }
        int64_t n = next_stored(jb, e + 1);
        if (n < 0 || stored(jb, n)->ext_ts != first->ext_ts)
            break; /* the frame's tail is missing or not here yet */
        if (first_hole < 0)
            first_hole = e + 1;
        e = n; /* a hole inside the frame */
    }
    if (!ended && first_hole < 0)
        first_hole = e + 1;
    h->end = e;
    h->ended = ended;
    h->holes = first_hole >= 0 && first_hole <= e;
    h->start_known = jb->cfg.frame_per_packet || !jb->gap_pending ||
                     (!(jb->have_released_ts && jb->released_ts == first->ext_ts) &&
                      payload_starts_frame(jb, s));
    int64_t due;
    if (first_hole < 0) {
        due = jb->cfg.mode == MCU_JITTER_PACED ? due_time(jb, first->ext_ts) : now_us;
    } else {
        /* Wait for the missing packet (a retransmission may come), then give up. */
        const slot_t *gap = slot_of(jb, first_hole);
        if (gap->missing && gap->ext_seq == first_hole)
            due = gap->time_us + target_delay(jb);
        else /* nothing after the frame yet: the sender may have paused */
            due = stored(jb, e)->time_us + (int64_t)jb->cfg.max_delay_ms * US_PER_MS;
    }
    if (!h->start_known && !jb->released_any) {
        /* The first packet to arrive may not be the first sent: wait for earlier ones. */
        int64_t wait = first->time_us + target_delay(jb);
        if (wait > due)
            due = wait;
    }
    h->kind = now_us >= due ? HEAD_FRAME : HEAD_WAIT;
    h->deadline = due;
}

int mcu_jitter_pop(mcu_jitter_t *jb, int64_t now_us, mcu_jitter_frame_t *frame)
{
    free_popped(jb);
    for (;;) {
        head_t h;
        inspect_head(jb, now_us, &h);
        if (h.kind == HEAD_EMPTY || h.kind == HEAD_WAIT)
            return MCU_ERR_AGAIN;
        if (h.kind == HEAD_FILLER) {
            free_slot(jb, jb->next_seq++);
            continue;
        }
        if (h.kind == HEAD_GAP) {
            int64_t resume = h.resume >= 0 ? h.resume : jb->highest_seq + 1;
            for (int64_t s = jb->next_seq; s < resume; s++)
                free_slot(jb, s);
            uint32_t lost = (uint32_t)(resume - jb->next_seq);
            jb->stats.lost += lost;
            jb->lost_pending += lost;
            jb->gap_pending = true;
            jb->next_seq = resume;
            continue;
        }
        int64_t s = jb->next_seq;
        const slot_t *first = stored(jb, s);
        bool complete = h.ended && h.start_known && !h.holes;
        memset(frame, 0, sizeof *frame);
        frame->timestamp = (uint32_t)first->ext_ts;
        frame->first_seq = (uint16_t)s;
        frame->complete = complete;
        frame->lost_before = jb->lost_pending;
        frame->keyframe_needed = jb->keyframe_needed;
        jb->pop_n = 0;
        bool gap = false;
        for (int64_t i = s; i <= h.end; i++) {
            const slot_t *p = stored(jb, i);
            if (!p) {
                free_slot(jb, i); /* a hole inside the frame: given up */
                jb->stats.lost++;
                gap = true;
                continue;
            }
            if (p->len == 0) {
                free_slot(jb, i); /* a filler between the frame's packets */
                continue;
            }
            jb->pop_gap[jb->pop_n] = gap;
            gap = false;
            jb->pop_seqs[jb->pop_n++] = i;
            if (p->time_us > frame->arrival_us)
                frame->arrival_us = p->time_us;
        }
        frame->n_packets = (size_t)jb->pop_n;
        jb->lost_pending = 0;
        jb->keyframe_needed = false;
        jb->gap_pending = false;
        jb->released_any = true;
        jb->have_released_ts = true;
        jb->released_ts = first->ext_ts;
        jb->next_seq = h.end + 1;
        jb->stats.frames_out++;
        if (!complete)
            jb->stats.frames_incomplete++;
        return MCU_OK;
    }
}

void mcu_jitter_frame_packet(const mcu_jitter_t *jb, size_t i, const uint8_t **payload,
                             size_t *len)
{
    int64_t seq = (int64_t)i < jb->pop_n ? jb->pop_seqs[i] : -1;
    const slot_t *s = seq >= 0 ? stored(jb, seq) : NULL;
    *payload = s ? payload_of(jb, seq) : NULL;
    *len = s ? s->len : 0;
}

bool mcu_jitter_frame_gap_before(const mcu_jitter_t *jb, size_t i)
{
    return (int64_t)i < jb->pop_n && jb->pop_gap[i];
}

int64_t mcu_jitter_next_deadline(const mcu_jitter_t *jb)
{
    head_t h;
    inspect_head(jb, INT64_MIN, &h);
    return h.deadline;
}

size_t mcu_jitter_missing(const mcu_jitter_t *jb, uint16_t *seqs, size_t max)
{
    size_t n = 0;
    if (!jb->started)
        return 0;
    for (int64_t s = jb->next_seq; s <= jb->highest_seq && n < max; s++) {
        const slot_t *sl = slot_of(jb, s);
        if (sl->missing && sl->ext_seq == s)
            seqs[n++] = (uint16_t)s;
    }
    return n;
}

void mcu_jitter_set_rtt(mcu_jitter_t *jb, int64_t rtt_us) { jb->rtt_us = rtt_us > 0 ? rtt_us : 0; }

void mcu_jitter_reset(mcu_jitter_t *jb)
{
    clear_all(jb);
    jb->keyframe_needed = true;
    jb->lost_pending = 0;
}

void mcu_jitter_get_stats(const mcu_jitter_t *jb, mcu_jitter_stats_t *st)
{
    *st = jb->stats;
    st->packets_held = jb->held;
    st->bytes_held = jb->bytes;
    st->target_delay_us = target_delay(jb);
    st->lateness_us = jb->late_cur > jb->late_prev ? jb->late_cur : jb->late_prev;
}
