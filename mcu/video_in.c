#include "mcu/video_in.h"

#include <stdlib.h>
#include <string.h>

#include "mcu/error.h"

#define US_PER_MS 1000

struct mcu_video_in {
    mcu_video_in_config_t cfg;
    /* Loop side. */
    mcu_video_au_t queue[MCU_VIDEO_IN_QUEUE];
    int q_len;
    bool reset_pending;         /* the next queued unit follows a restart */
    /* Worker side. */
    mcu_video_dec_t *dec;
    bool conceal;               /* the policy is conceal and the decoder can */
    float max_damage;
    int64_t shown_arrival_us;   /* of the last picture shown; 0: none yet */
    bool unbound;               /* frozen past the bound: everything shows until clean */
    mcu_video_in_stats_t stats;
};

int mcu_video_in_create(const mcu_video_in_config_t *cfg, mcu_video_in_t **out)
{
    *out = NULL;
    mcu_video_in_t *v = calloc(1, sizeof *v);
    if (!v)
        return MCU_ERR_NOMEM;
    v->cfg = *cfg;
    v->reset_pending = true;
    mcu_video_dec_config_t dc;
    mcu_video_dec_config_default(&dc);
    dc.codec = cfg->codec;
    if (cfg->max_pixels > 0)
        dc.max_pixels = cfg->max_pixels;
    int rc = mcu_video_dec_create(&dc, &v->dec);
    if (rc < 0) {
        free(v);
        return rc;
    }
    v->conceal = cfg->policy == MCU_LOSS_CONCEAL && mcu_video_dec_can_conceal(v->dec);
    v->max_damage = cfg->max_damage > 0 ? cfg->max_damage : MCU_VIDEO_IN_MAX_DAMAGE;
    *out = v;
    return MCU_OK;
}

void mcu_video_in_destroy(mcu_video_in_t **pv)
{
    mcu_video_in_t *v = pv ? *pv : NULL;
    if (!v)
        return;
    for (int i = 0; i < v->q_len; i++)
        free(v->queue[i].data);
    mcu_video_dec_destroy(&v->dec);
    free(v);
    *pv = NULL;
}

/* ---------------------------------------------------------------- loop side */

static bool queue_unit(mcu_video_in_t *v, const mcu_rx_frame_t *f)
{
    bool overflow = v->q_len == MCU_VIDEO_IN_QUEUE;
    if (overflow) { /* overloaded: the oldest goes, the decoder restarts at a keyframe */
        free(v->queue[0].data);
        memmove(v->queue, v->queue + 1, sizeof v->queue[0] * (MCU_VIDEO_IN_QUEUE - 1));
        v->q_len--;
        v->stats.queue_dropped++;
        v->reset_pending = true;
    }
    uint8_t *copy = malloc(f->media.len);
    if (!copy)
        return overflow;
    memcpy(copy, f->media.data, f->media.len);
    v->queue[v->q_len++] = (mcu_video_au_t){.data = copy, .len = f->media.len,
                                            .timestamp = f->timestamp,
                                            .arrival_us = f->arrival_us,
                                            .reset_before = v->reset_pending,
                                            .lost_before = f->lost_before > 0};
    v->reset_pending = false;
    return overflow;
}

bool mcu_video_in_admit(mcu_video_in_t *v, const mcu_rx_frame_t *f)
{
    if (f->keyframe_needed)
        v->reset_pending = true;
    bool damaged = f->media.corrupt || f->lost_before || f->keyframe_needed;
    bool want_keyframe = damaged && !f->media.keyframe;
    if (!mcu_video_dec_can_conceal(v->dec) &&
        (f->media.corrupt || (f->lost_before && !f->media.keyframe))) {
        v->reset_pending = true;
        if (f->media.corrupt) {
            v->stats.skipped++;
            return true;
        }
    }
    return queue_unit(v, f) || want_keyframe;
}

int mcu_video_in_take(mcu_video_in_t *v, mcu_video_in_batch_t *b)
{
    b->n = v->q_len;
    memcpy(b->aus, v->queue, sizeof v->queue[0] * (size_t)v->q_len);
    v->q_len = 0;
    return b->n;
}

void mcu_video_in_batch_free(mcu_video_in_batch_t *b)
{
    for (int i = 0; i < b->n; i++)
        free(b->aus[i].data);
    b->n = 0;
}

/* ---------------------------------------------------------------- worker side */

/* The loss policy (video_in.h). */
static bool showable(const mcu_video_in_t *v, const mcu_video_dec_picture_t *pic,
                     int64_t arrival_us)
{
    if (!pic->damaged)
        return true;
    if (pic->unrecovered)
        return false;
    if (v->conceal && pic->damage <= v->max_damage)
        return true;
    int64_t bound = (int64_t)v->cfg.max_freeze_ms * US_PER_MS;
    return v->unbound || (bound > 0 && arrival_us - v->shown_arrival_us >= bound);
}

int mcu_video_in_decode(mcu_video_in_t *v, const mcu_video_au_t *au, mcu_video_in_picture_t *out)
{
    if (au->reset_before)
        mcu_video_dec_reset(v->dec);
    else if (au->lost_before)
        mcu_video_dec_note_loss(v->dec);
    if (!v->shown_arrival_us)
        v->shown_arrival_us = au->arrival_us; /* a tile with nothing yet is not frozen */
    mcu_video_dec_picture_t pic;
    int rc = mcu_video_dec_decode(v->dec, au->data, au->len, au->timestamp, &pic);
    if (rc != 1 || !showable(v, &pic, au->arrival_us)) {
        if (rc != 0)
            v->stats.held++;
        return 0;
    }
    AVFrame *ref = av_frame_clone(pic.frame);
    if (!ref) {
        v->stats.held++;
        return 0;
    }
    if (pic.damaged)
        v->stats.concealed++;
    else
        v->stats.clean++;
    /* Past the bound, the tile follows the stream until a clean picture ends the damage:
     * a tile that moves once per bound is as frozen as one that does not. */
    v->unbound = pic.damaged && (v->unbound || !(v->conceal && pic.damage <= v->max_damage));
    v->shown_arrival_us = au->arrival_us;
    *out = (mcu_video_in_picture_t){.frame = ref, .timestamp = (uint32_t)pic.pts,
                                    .arrival_us = au->arrival_us, .concealed = pic.damaged,
                                    .damage = pic.damage};
    return 1;
}

bool mcu_video_in_needs_keyframe(const mcu_video_in_t *v) { return mcu_video_dec_needs_keyframe(v->dec); }

const mcu_video_in_stats_t *mcu_video_in_stats(const mcu_video_in_t *v) { return &v->stats; }
