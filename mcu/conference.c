#include "conference.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libavutil/frame.h>
#include <libavutil/imgutils.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include "codecs/audio_dec.h"
#include "codecs/h264_enc.h"
#include "codecs/h264_rtp.h"
#include "codecs/jpeg_enc.h"
#include "codecs/opus_codec.h"
#include "layouts/canvas.h"
#include "layouts/composer.h"
#include "layouts/label.h"
#include "layouts/layout.h"
#include "mcu/bitrate_policy.h"
#include "mcu/error.h"
#include "mcu/log.h"
#include "mcu/mixer.h"
#include "mcu/sdp.h"
#include "mcu/site.h"
#include "mcu/stage_clock.h"
#include "mcu/worker.h"
#include "mcu/tx_stream.h"

#define US_PER_MS 1000
#define US_PER_S 1000000
/* Encoded bytes one output frame may take: a 1080p IDR at 8 Mbps stays well below. */
#define CONF_MAX_AU_BYTES (2u << 20)
/* Delay samples kept for the p50/p99 figures: a minute at 25 fps per tile of 18. */
#define CONF_DELAY_SAMPLES 4096
/* Fixed SSRCs announced in every SDP: profile p's video is VIDEO_SSRC_BASE + p, its
 * shared audio mix AUDIO_SSRC_BASE + p. */
#define CONF_VIDEO_SSRC_BASE 0x4D435600u
#define CONF_AUDIO_SSRC_BASE 0x4D434100u

/* The active speaker's tile border: amber (R 255, G 190, B 0 in BT.601 limited range),
 * a colour no label or no-signal card uses, MCU_CONF_BORDER_DIV of the cell's height
 * thick but at least MCU_CONF_BORDER_MIN_PX (even: whole chroma samples). */
#define CONF_BORDER_Y 177
#define CONF_BORDER_U 35
#define CONF_BORDER_V 170
#define CONF_BORDER_MIN_PX 4
#define CONF_BORDER_DIV 48
/* The smallest text a card's status line shrinks to so that it fits its cell: readable on
 * a 720p composite from a meeting-room distance. */
#define CONF_STATUS_MIN_PX 10
/* Background of blank slots and of canvas not covered by a cell: video black. */
#define CONF_BG_Y 16
#define CONF_BG_UV 128

typedef struct compose_tile {
    AVFrame *picture;           /* reference taken on the loop; NULL: no signal */
    int site;                   /* -1: a blank slot */
    bool video_muted;           /* show the card, not the picture */
    bool speaker;               /* draw the active speaker's border */
    uint32_t label_gen;         /* changes whenever the site's label text does */
    char label[MCU_NAME_MAX];
    char status[MCU_SITE_PROBLEM_MAX]; /* instead of a picture: why none ("" : no signal) */
    mcu_rect_t cell;
    int64_t arrival_us;         /* when the picture's access unit arrived */
} compose_tile_t;

/* A slot's rendered label, kept by the profile's worker side: re-rendered only when the
 * site in the slot, its label text or the cell size changes. */
typedef struct slot_label {
    int site;
    uint32_t gen;
    int w, h;
    mcu_label_bitmap_t bm;
} slot_label_t;

/* A slot's rendered status line (a site's card: "unsupported codec: H.265"), kept like
 * its label: re-rendered only when the text or the cell size changes. */
typedef struct slot_status {
    char text[MCU_SITE_PROBLEM_MAX];
    int w, h;
    mcu_label_bitmap_t bm;
} slot_status_t;

/* One video frame of one profile, handed to a worker and back. */
typedef struct video_job {
    mcu_work_t work;
    struct profile_out *prof;
    int n_tiles;
    compose_tile_t tiles[MCU_LAYOUT_MAX_CELLS];
    bool force_idr;
    int64_t bitrate_bps;        /* > 0: the encoder's new target from this frame on */
    uint64_t layout_gen;        /* a new value clears the canvas first */
    bool want_preview;          /* copy the composite for JPEG snapshots */
    AVFrame *preview;           /* the copy (worker -> loop) */
    int64_t pts;                /* 90 kHz */
    uint8_t *au;                /* encoded output (CONF_MAX_AU_BYTES) */
    size_t au_len;
    bool idr;
    int rc;
} video_job_t;

typedef struct profile_out {
    mcu_conference_t *conf;
    int index;
    mcu_profile_config_t cfg;
    mcu_canvas_t *canvas;
    mcu_composer_t *composer;
    mcu_h264_enc_t *enc;
    mcu_tx_stream_t *video_tx;
    uv_timer_t timer;
    int64_t start_us;
    uint64_t tick;
    /* A tick that came while the last frame was still being made: made right after it
     * (see video_tick), at most one. */
    bool owed;
    uint64_t owed_tick;
    video_job_t *job;           /* non-NULL while a worker composes and encodes */
    uint8_t *au_buf;
    bool idr_wanted;
    int64_t last_forced_idr_us;
    /* Receivers' REMB/TMMBR votes; the target is handed to the next job on change. */
    mcu_bitrate_policy_t *bitrate;
    int64_t bitrate_target, bitrate_applied;
    int64_t tile_bps[MCU_MAX_SITES];    /* what each site's tile here needs; 0: not shown */
    /* Worker side (touched only by this profile's job, one at a time): the label
     * renderer, each slot's label, and the layout the canvas was last drawn for. */
    mcu_label_renderer_t *labeler;
    slot_label_t slot_labels[MCU_LAYOUT_MAX_CELLS];
    slot_status_t slot_status[MCU_LAYOUT_MAX_CELLS];
    uint64_t drawn_layout_gen;
} profile_out_t;

/* JPEG snapshots for the control API. */
/* Requests waiting for the next composite, per conference: a control page polls about
 * twice a second; 16 covers several open pages without a queue that grows. */
#define CONF_MAX_PREVIEW_WAITERS 16
/* JPEG encodes in flight: each is a worker job; more would crowd out compose and
 * decode on a small box. */
#define CONF_MAX_JPEG_JOBS 4
/* A preview this fresh is served again rather than encoded again (2 fps pages). */
#define CONF_PREVIEW_CACHE_MS 200

typedef struct preview_waiter {
    int max_w;
    mcu_conference_jpeg_cb cb;
    void *opaque;
} preview_waiter_t;

typedef struct jpeg_job {
    uv_work_t work;
    mcu_conference_t *conf;
    AVFrame *frame;
    int max_w;
    bool is_preview;
    mcu_conference_jpeg_cb cb;
    void *opaque;
    uint8_t *jpeg;
    size_t len;
    int rc;
} jpeg_job_t;

/* Per-site rates, measured over CONF_RATE_WINDOW_MS. */
#define CONF_RATE_WINDOW_MS 1000
typedef struct site_rates {
    uint64_t video_bytes, audio_bytes, out_bytes, pictures, keyframes;
    uint32_t video_expected, video_received;
    double video_bps, audio_bps, out_bps, fps, video_loss;
    int64_t last_keyframe_us;   /* -1: none seen */
} site_rates_t;

/* A tile whose picture is older than this while its site is sending counts as frozen:
 * five frames at 25 fps, plainly visible as a stall, and longer than the jitter buffer's
 * usual wait for a repair (MCU_RX_STREAM_NACK_WAIT_MS; only long RTTs or heavy jitter
 * stretch it further). A site sending under 5 fps counts as frozen too, as it looks. */
#define CONF_FROZEN_MS 200

/* Ticks owed beyond the current one, mixed back to back as soon as the mixer is free:
 * a tick that came while the mixer was busy, or ticks the loop came to late (its thread
 * descheduled on a loaded box). Every tick is mixed and sent with its own timestamp, so
 * the receivers' audio stays continuous; a backlog of more than 100 ms (a stall no
 * receiver's jitter buffer hides) is skipped and counted as missed instead. */
#define CONF_AUDIO_MAX_OWED 5

/* Audio packets taken from one site per tick: 120 ms worth of the shortest common
 * ptime (20 ms) covers a burst after a stall without letting one site hog the tick. */
#define CONF_AUDIO_PKTS_PER_TICK 6
/* Lost packets concealed at most per gap: longer gaps are silence, not PLC. */
#define CONF_MAX_CONCEAL_FRAMES 3
/* Audio retransmission history per receiver: 1.28 s of 20 ms packets. */
#define CONF_AUDIO_HISTORY 64
/* PCM decoded from one packet: the longest Opus packet. */
#define CONF_PCM_MAX MCU_AUDIO_DEC_MAX_SAMPLES

typedef struct audio_out {      /* one encoded 20 ms packet */
    uint8_t data[MCU_OPUS_MAX_PACKET_BYTES];
    int len;
} audio_out_t;

/* One 20 ms audio tick, handed to a worker and back. */
typedef struct audio_job {
    mcu_work_t work;
    mcu_conference_t *conf;
    int n_pkts[MCU_MAX_SITES];
    mcu_site_audio_packet_t pkts[MCU_MAX_SITES][CONF_AUDIO_PKTS_PER_TICK];
    mcu_mix_out_t mix;
    audio_out_t shared[MCU_MAX_PROFILES];
    audio_out_t minus[MCU_MAX_PROFILES][MCU_MIXER_MAX_TALKERS];
    uint32_t rtp_ts;
    float gain[MCU_MAX_SITES];  /* control state at the tick; 0 = muted */
} audio_job_t;

/* Where a site's own audio stream goes: the tx_stream callback's opaque. */
typedef struct audio_dest {
    mcu_conference_t *conf;
    int site;
} audio_dest_t;

struct mcu_conference {
    uv_loop_t *loop;
    mcu_config_t cfg;
    mcu_site_events_t events;
    mcu_site_t *sites[MCU_MAX_SITES];
    int n_sites;
    profile_out_t profiles[MCU_MAX_PROFILES];
    int n_profiles;
    uv_timer_t housekeeping;
    uv_timer_t audio_timer;
    int64_t audio_start_us;
    uint64_t audio_tick;        /* the latest tick due */
    uint64_t audio_next;        /* the next tick to mix: <= audio_tick while one is owed */
    /* The output path's threads (mcu/worker.h), never queued behind the sites' decode
     * jobs in libuv's pool: compose + encode on `output`, the audio mix on `mixing`.
     * The mix (~0.3 ms a tick) has a thread of its own so that a 20 ms tick never waits
     * behind a video encode (10-30 ms on a loaded box): sharing one FIFO, the output's
     * audio came in 40 ms gaps under packet loss, when IDRs make the encodes longest. */
    mcu_worker_t *output;
    mcu_worker_t *mixing;
    audio_job_t *audio_job;     /* non-NULL while a worker mixes */
    /* The one audio job, made once: jobs never overlap (a tick waits for the busy mixer)
     * and at ~580 KB (every site's packets of a tick) a fresh zeroed one every 20 ms
     * was the heap's largest churn. */
    audio_job_t *audio_slot;
    mcu_audio_dec_t *audio_dec[MCU_MAX_SITES];      /* audio worker only */
    mcu_mixer_t *mixer;                             /* audio worker only */
    mcu_opus_enc_t *shared_enc[MCU_MAX_PROFILES];   /* audio worker only */
    mcu_opus_enc_t *minus_enc[MCU_MAX_PROFILES][MCU_MIXER_MAX_TALKERS];
    mcu_tx_stream_t *audio_tx[MCU_MAX_SITES];       /* one audio stream per receiver */
    audio_dest_t audio_dests[MCU_MAX_SITES];
    int64_t counted_arrival[MCU_MAX_SITES];         /* last picture counted for delay */
    int64_t last_sr_us;
    /* Operator control: applied at the start of a video tick (no lock: all on the loop). */
    mcu_control_t ctl;          /* in force */
    mcu_control_t pending;      /* requested, applied at the next tick */
    bool has_pending;
    bool state_dirty;           /* save the state file at the next housekeeping */
    uint64_t layout_gen;
    uint32_t label_gen[MCU_MAX_SITES];
    mcu_speaker_t speaker;
    mcu_rolling_t rolling;
    int n_showing;
    int showing[MCU_LAYOUT_MAX_CELLS];
    float level_dbfs[MCU_MAX_SITES];
    bool talking[MCU_MAX_SITES];
    bool was_live[MCU_MAX_SITES];
    site_rates_t rates[MCU_MAX_SITES];
    int64_t last_rates_us;
    /* Ticks of profile 0 where a live site's tile showed a picture older than
     * CONF_FROZEN_MS, out of the ticks it was shown. */
    uint64_t frozen_ticks[MCU_MAX_SITES], shown_ticks[MCU_MAX_SITES];
    /* ... and of those, ticks that showed the same picture as the tick before (a site at
     * the output's rate repeats none when its pictures keep their schedule). */
    uint64_t repeated_ticks[MCU_MAX_SITES], shown_seq[MCU_MAX_SITES];
    mcu_conference_listener_fn listener;
    void *listener_opaque;
    preview_waiter_t waiters[CONF_MAX_PREVIEW_WAITERS];
    int n_waiters;
    int jpeg_jobs;
    uint8_t *preview_cache;     /* last preview JPEG, for CONF_PREVIEW_CACHE_MS */
    size_t preview_cache_len;
    int preview_cache_w;
    int64_t preview_cache_us;
    bool stopping;
    int pending_closes;
    mcu_conference_stats_t stats;
    int64_t delays[CONF_DELAY_SAMPLES];
    size_t n_delays;
};

static int64_t now_us(void) { return (int64_t)(uv_hrtime() / 1000); }

/* ---------------------------------------------------------------- control */

static void emit(mcu_conference_t *c, mcu_conf_event_t ev, int a, int b)
{
    if (c->listener)
        c->listener(c->listener_opaque, ev, a, b);
}

static const char *effective_label(const mcu_conference_t *c, int site)
{
    return c->ctl.sites[site].label[0] ? c->ctl.sites[site].label : c->cfg.sites[site].name;
}

/* The requested control state becomes the one in force (start of a video tick). */
static void apply_pending(mcu_conference_t *c)
{
    if (!c->has_pending)
        return;
    mcu_control_t *n = &c->pending;
    bool layout_changed = n->layout_auto != c->ctl.layout_auto || n->preset != c->ctl.preset ||
                          n->n_regions != c->ctl.n_regions ||
                          memcmp(n->regions, c->ctl.regions, sizeof n->regions) != 0;
    bool slots_changed = memcmp(n->slots, c->ctl.slots, sizeof n->slots) != 0;
    for (int i = 0; i < c->n_sites; i++) {
        const char *old = effective_label(c, i);
        const char *neu = n->sites[i].label[0] ? n->sites[i].label : c->cfg.sites[i].name;
        if (strcmp(old, neu) != 0)
            c->label_gen[i]++;
    }
    c->ctl = *n;
    c->has_pending = false;
    if (layout_changed)
        c->layout_gen++;
    if (layout_changed || slots_changed)
        emit(c, MCU_CONF_EV_LAYOUT, 0, 0);
}

/* Who each slot shows this tick; announces a change. */
static void assign_slots(mcu_conference_t *c, int64_t now)
{
    int showing[MCU_LAYOUT_MAX_CELLS];
    int n = mcu_control_slot_count(&c->ctl, c->n_sites);
    mcu_slots_assign(&c->ctl, c->n_sites, n, mcu_control_is_speaker_layout(&c->ctl, c->n_sites),
                     &c->speaker, &c->rolling, now / US_PER_MS, showing);
    if (n != c->n_showing || memcmp(showing, c->showing, (size_t)n * sizeof *showing) != 0) {
        c->n_showing = n;
        memcpy(c->showing, showing, (size_t)n * sizeof *showing);
        emit(c, MCU_CONF_EV_SLOTS, 0, 0);
    }
}

/* ---------------------------------------------------------------- video tick */

static int collect_au(void *opaque, const uint8_t *au, size_t len, bool idr, int64_t pts)
{
    video_job_t *j = opaque;
    if (len > CONF_MAX_AU_BYTES - j->au_len)
        return MCU_ERR_TOO_BIG;
    memcpy(j->au + j->au_len, au, len);
    j->au_len += len;
    j->idr |= idr;
    return MCU_OK;
}

/* The slot's label bitmap, re-rendered only when what it shows changed (worker). */
static const mcu_label_bitmap_t *slot_label(profile_out_t *p, int slot, const compose_tile_t *t)
{
    slot_label_t *sl = &p->slot_labels[slot];
    if (sl->site == t->site && sl->gen == t->label_gen && sl->w == t->cell.w && sl->h == t->cell.h)
        return &sl->bm;
    sl->site = t->site;
    sl->gen = t->label_gen;
    sl->w = t->cell.w;
    sl->h = t->cell.h;
    int max_w = mcu_label_max_width(t->cell);
    if (!p->labeler || max_w <= 0 ||
        mcu_label_render(p->labeler, t->label, mcu_label_px_for_cell(t->cell.h), max_w,
                         &sl->bm) != MCU_OK)
        mcu_label_bitmap_free(&sl->bm); /* no label rather than a wrong one */
    return &sl->bm;
}

/* The slot's status bitmap, re-rendered only when its text or cell changed (worker). */
static const mcu_label_bitmap_t *slot_status(profile_out_t *p, int slot, const compose_tile_t *t)
{
    slot_status_t *ss = &p->slot_status[slot];
    if (strcmp(ss->text, t->status) == 0 && ss->w == t->cell.w && ss->h == t->cell.h)
        return &ss->bm;
    snprintf(ss->text, sizeof ss->text, "%s", t->status);
    ss->w = t->cell.w;
    ss->h = t->cell.h;
    int max_w = mcu_label_max_width(t->cell);
    if (!p->labeler || max_w <= 0 || !t->status[0]) {
        mcu_label_bitmap_free(&ss->bm);
        return &ss->bm;
    }
    /* The whole line says what is wrong: from the name's size down until it fits. */
    for (int px = mcu_label_px_for_cell(t->cell.h);; px = px * 5 / 6) {
        if (mcu_label_render(p->labeler, t->status, px, max_w, &ss->bm) != MCU_OK) {
            mcu_label_bitmap_free(&ss->bm);
            break;
        }
        if (!ss->bm.truncated || px * 5 / 6 < CONF_STATUS_MIN_PX)
            break;
    }
    return &ss->bm;
}

static void draw_border(mcu_canvas_t *cv, mcu_rect_t r)
{
    int b = r.h / CONF_BORDER_DIV;
    b = (b < CONF_BORDER_MIN_PX ? CONF_BORDER_MIN_PX : b) & ~1;
    if (r.w < 2 * b || r.h < 2 * b)
        return;
    mcu_rect_t edges[4] = {{r.x, r.y, r.w, b}, {r.x, r.y + r.h - b, r.w, b},
                           {r.x, r.y + b, b, r.h - 2 * b}, {r.x + r.w - b, r.y + b, b, r.h - 2 * b}};
    for (int i = 0; i < 4; i++)
        mcu_canvas_fill(cv, edges[i], CONF_BORDER_Y, CONF_BORDER_U, CONF_BORDER_V);
}

static AVFrame *copy_canvas(const mcu_canvas_t *cv)
{
    AVFrame *f = av_frame_alloc();
    if (!f)
        return NULL;
    f->width = cv->width;
    f->height = cv->height;
    f->format = AV_PIX_FMT_YUV420P;
    f->color_range = AVCOL_RANGE_MPEG;
    if (av_frame_get_buffer(f, 0) < 0) {
        av_frame_free(&f);
        return NULL;
    }
    const uint8_t *src[4] = {cv->data[0], cv->data[1], cv->data[2], NULL};
    int ls[4] = {cv->stride[0], cv->stride[1], cv->stride[2], 0};
    av_image_copy(f->data, f->linesize, src, ls, AV_PIX_FMT_YUV420P, cv->width, cv->height);
    return f;
}

static void video_work(mcu_work_t *w)
{
    video_job_t *j = w->data;
    profile_out_t *p = j->prof;
    mcu_stage_enter(MCU_STAGE_COMPOSE);
    if (mcu_canvas_make_writable(p->canvas) != MCU_OK) {
        mcu_stage_leave();
        j->rc = MCU_ERR_NOMEM; /* the last picture is still the encoder's: skip this one */
        return;
    }
    if (j->layout_gen != p->drawn_layout_gen) {
        /* A new layout: whatever the old cells covered and the new ones do not is
         * background now. */
        mcu_canvas_fill(p->canvas, (mcu_rect_t){0, 0, p->canvas->width, p->canvas->height},
                        CONF_BG_Y, CONF_BG_UV, CONF_BG_UV);
        p->drawn_layout_gen = j->layout_gen;
    }
    for (int i = 0; i < j->n_tiles; i++) {
        compose_tile_t *t = &j->tiles[i];
        if (t->site < 0) {
            mcu_canvas_fill(p->canvas, t->cell, CONF_BG_Y, CONF_BG_UV, CONF_BG_UV);
            continue;
        }
        if (t->picture && !t->video_muted) {
            mcu_composer_draw(p->composer, p->canvas, i, t->cell, t->picture,
                              p->conf->cfg.fit);
        } else {
            mcu_composer_draw_no_signal(p->composer, p->canvas, t->cell);
            const mcu_label_bitmap_t *st = slot_status(p, i, t);
            if (st->w > 0)
                mcu_label_draw(p->canvas, t->cell, st, MCU_LABEL_POS_CENTER);
        }
        const mcu_label_bitmap_t *bm = slot_label(p, i, t);
        if (bm->w > 0)
            mcu_label_draw(p->canvas, t->cell, bm, MCU_LABEL_POS_BOTTOM_LEFT);
        if (t->speaker)
            draw_border(p->canvas, t->cell);
    }
    if (j->want_preview)
        j->preview = copy_canvas(p->canvas);
    mcu_stage_leave();
    AVFrame *f = av_frame_alloc();
    if (!f) {
        j->rc = MCU_ERR_NOMEM;
        return;
    }
    if (mcu_canvas_as_avframe(p->canvas, f) != MCU_OK) {
        av_frame_free(&f);
        j->rc = MCU_ERR_NOMEM;
        return;
    }
    f->pts = j->pts;
    mcu_stage_enter(MCU_STAGE_ENCODE);
    if (j->bitrate_bps > 0)
        mcu_h264_enc_set_bitrate(p->enc, j->bitrate_bps);
    j->rc = mcu_h264_enc_encode(p->enc, f, j->force_idr, collect_au, j);
    mcu_stage_leave();
    av_frame_free(&f);
}

static void record_delay(mcu_conference_t *c, int64_t d)
{
    c->delays[c->n_delays % CONF_DELAY_SAMPLES] = d;
    c->n_delays++;
    int64_t ms = d < 0 ? 0 : d / US_PER_MS;
    c->stats.delay_hist[ms < MCU_CONF_DELAY_HIST_MS ? ms : MCU_CONF_DELAY_HIST_MS]++;
}

static void serve_preview_waiters(mcu_conference_t *c, const AVFrame *composite);
static void start_video_job(profile_out_t *p, uint64_t tick, int64_t now);

static void video_done(mcu_work_t *w, int status)
{
    video_job_t *j = w->data;
    profile_out_t *p = j->prof;
    mcu_conference_t *c = p->conf;
    int64_t now = now_us();
    if (j->rc >= 0 && j->au_len && !c->stopping) {
        mcu_stage_enter(MCU_STAGE_PACKETIZE);
        mcu_tx_stream_send_frame(p->video_tx, j->au, j->au_len, (uint32_t)j->pts, now);
        mcu_stage_leave();
        c->stats.frames_out++;
        for (int i = 0; i < j->n_tiles; i++)
            if (j->tiles[i].picture && j->tiles[i].arrival_us)
                record_delay(c, now - j->tiles[i].arrival_us);
    }
    for (int i = 0; i < j->n_tiles; i++)
        av_frame_free(&j->tiles[i].picture);
    if (j->want_preview)
        serve_preview_waiters(c, j->preview);
    av_frame_free(&j->preview);
    p->job = NULL;
    free(j);
    if (p->owed && !c->stopping) {
        p->owed = false;
        c->stats.late_ticks++;
        start_video_job(p, p->owed_tick, now);
    }
}

static void video_tick(uv_timer_t *t);

/* Schedules the next tick from the profile's own start time: no drift. */
static void arm_video_tick(profile_out_t *p)
{
    int64_t period = US_PER_S / p->cfg.fps;
    int64_t next = p->start_us + (int64_t)(p->tick + 1) * period;
    int64_t wait = next - now_us();
    uv_timer_start(&p->timer, video_tick, wait > 0 ? (uint64_t)(wait / US_PER_MS) : 0, 0);
}

static void video_tick(uv_timer_t *t)
{
    profile_out_t *p = t->data;
    mcu_conference_t *c = p->conf;
    int64_t now = now_us();
    int64_t period = US_PER_S / p->cfg.fps;
    /* Catch up on ticks the loop could not serve in time (counted as missed). */
    uint64_t due = (uint64_t)((now - p->start_us) / period);
    if (due > p->tick + 1)
        c->stats.missed_ticks += due - p->tick - 1;
    p->tick = due > p->tick ? due : p->tick + 1;
    c->stats.video_ticks++;
    if (c->stopping)
        return;
    arm_video_tick(p);
    if (p->job) {
        /* The last frame is still being made (a slow frame, or the machine paused the
         * worker): this one is made as soon as it is done, late by less than a period,
         * rather than dropped; receivers' jitter buffers absorb that. A second tick
         * meanwhile is skipped: the output never queues up behind a slow frame. */
        if (!p->owed) {
            p->owed = true;
            p->owed_tick = p->tick;
        } else {
            c->stats.missed_ticks++;
        }
        return;
    }
    start_video_job(p, p->tick, now);
}

static void start_video_job(profile_out_t *p, uint64_t tick, int64_t now)
{
    mcu_conference_t *c = p->conf;
    video_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->prof = p;
    j->au = p->au_buf;
    j->pts = (int64_t)tick * MCU_H264_CLOCK_RATE / p->cfg.fps;
    /* The tick's own time on its grid: sites' pictures are picked on their schedules
     * against it, not against when the timer happened to run. */
    int64_t tick_us = p->start_us + (int64_t)tick * US_PER_S / p->cfg.fps;
    apply_pending(c);
    assign_slots(c, now);
    j->layout_gen = c->layout_gen;
    j->want_preview = p->index == 0 && c->n_waiters > 0;
    mcu_layout_t layout;
    if (mcu_control_compute_layout(&c->ctl, c->n_sites, p->cfg.width, p->cfg.height, &layout) < 0)
        layout.n_cells = 0;
    j->n_tiles = layout.n_cells < c->n_showing ? layout.n_cells : c->n_showing;
    memset(p->tile_bps, 0, sizeof p->tile_bps);
    mcu_rect_t shown_in[MCU_MAX_SITES] = {{0}}; /* each site's cell here, for its decoder */
    if (p->bitrate_target != p->bitrate_applied) {
        j->bitrate_bps = p->bitrate_target;
        p->bitrate_applied = p->bitrate_target;
    }
    for (int i = 0; i < j->n_tiles; i++) {
        compose_tile_t *tile = &j->tiles[i];
        int site = c->showing[i];
        tile->cell = layout.cells[i];
        tile->site = site;
        if (site < 0)
            continue;
        mcu_site_t *s = c->sites[site];
        if (tile->cell.w * tile->cell.h > shown_in[site].w * shown_in[site].h)
            shown_in[site] = tile->cell;
        tile->video_muted = c->ctl.sites[site].video_muted;
        tile->speaker = site == c->speaker.active;
        tile->label_gen = c->label_gen[site];
        snprintf(tile->label, sizeof tile->label, "%s", effective_label(c, site));
        bool live = mcu_site_live(s, now);
        const AVFrame *pic = mcu_site_picture_at(s, tick_us);
        if (!live)
            pic = NULL;
        if (!live && !tile->video_muted &&
            !mcu_site_problem(s, true, now, tile->status, sizeof tile->status))
            mcu_site_problem(s, false, now, tile->status, sizeof tile->status);
        if (pic && !tile->video_muted && (tile->picture = av_frame_alloc()) != NULL &&
            av_frame_ref(tile->picture, pic) != 0)
            av_frame_free(&tile->picture);
        if (!tile->video_muted)
            p->tile_bps[site] = mcu_bitrate_for_tile(tile->cell.w, tile->cell.h, p->cfg.fps,
                                                     mcu_site_config(s)->max_bps);
        if (p->index == 0 && live && !tile->video_muted) {
            c->shown_ticks[site]++;
            if (now - mcu_site_picture_arrival(s) > CONF_FROZEN_MS * US_PER_MS)
                c->frozen_ticks[site]++;
            uint64_t seq = mcu_site_picture_seq(s);
            if (seq == c->shown_seq[site])
                c->repeated_ticks[site]++;
            c->shown_seq[site] = seq;
        }
        /* Each source picture's delay is counted once, on its first composite. */
        int64_t arrival = mcu_site_picture_arrival(s);
        if (tile->picture && p->index == 0 && arrival != c->counted_arrival[site]) {
            tile->arrival_us = arrival;
            c->counted_arrival[site] = arrival;
        }
    }
    for (int i = 0; i < c->n_sites; i++)
        mcu_site_set_tile(c->sites[i], p->index, shown_in[i], c->cfg.fit);
    if (p->idr_wanted && now - p->last_forced_idr_us >= MCU_CONF_IDR_MIN_INTERVAL_MS * US_PER_MS) {
        j->force_idr = true;
        p->idr_wanted = false;
        p->last_forced_idr_us = now;
        c->stats.forced_idrs++;
    }
    j->work.data = j;
    p->job = j;
    if (mcu_worker_submit(c->output, &j->work, video_work, video_done) != MCU_OK) {
        p->job = NULL;
        if (j->bitrate_bps > 0)
            p->bitrate_applied = 0; /* hand the target to the next job instead */
        free(j);
    }
}

/* ---------------------------------------------------------------- audio tick */

static void audio_work(mcu_work_t *w)
{
    audio_job_t *j = w->data;
    mcu_conference_t *c = j->conf;
    static _Thread_local int16_t pcm[CONF_PCM_MAX];
    for (int i = 0; i < c->n_sites; i++)
        mcu_mixer_set_gain(c->mixer, i, j->gain[i]); /* the mixer is this worker's */
    mcu_stage_enter(MCU_STAGE_DECODE); /* with the mixer's input copies: negligible */
    for (int i = 0; i < c->n_sites; i++) {
        for (int k = 0; k < j->n_pkts[i]; k++) {
            const mcu_site_audio_packet_t *pk = &j->pkts[i][k];
            uint32_t lost = pk->lost_before < CONF_MAX_CONCEAL_FRAMES ? pk->lost_before
                                                                      : CONF_MAX_CONCEAL_FRAMES;
            for (uint32_t l = 0; l < lost; l++) {
                int n = mcu_audio_dec_conceal(c->audio_dec[i], MCU_MIXER_FRAME_SAMPLES, pcm,
                                              CONF_PCM_MAX);
                if (n > 0)
                    mcu_mixer_push(c->mixer, i, pcm, (size_t)n);
            }
            int n = mcu_audio_dec_decode(c->audio_dec[i], pk->data, pk->len, pcm, CONF_PCM_MAX);
            if (n > 0)
                mcu_mixer_push(c->mixer, i, pcm, (size_t)n);
        }
    }
    mcu_stage_leave();
    mcu_stage_enter(MCU_STAGE_MIX);
    mcu_mixer_tick(c->mixer, &j->mix);
    mcu_stage_leave();
    mcu_stage_enter(MCU_STAGE_ENCODE);
    for (int p = 0; p < c->n_profiles; p++) {
        j->shared[p].len = mcu_opus_enc_encode(c->shared_enc[p], j->mix.shared,
                                               j->shared[p].data, sizeof j->shared[p].data);
        for (int k = 0; k < MCU_MIXER_MAX_TALKERS; k++) {
            j->minus[p][k].len = 0;
            if (j->mix.talker_site[k] < 0)
                continue;
            if (j->mix.talker_changed[k])
                mcu_opus_enc_reset(c->minus_enc[p][k]);
            j->minus[p][k].len = mcu_opus_enc_encode(c->minus_enc[p][k], j->mix.minus[k],
                                                     j->minus[p][k].data,
                                                     sizeof j->minus[p][k].data);
        }
    }
    mcu_stage_leave();
}

static void mix_next(mcu_conference_t *c, int64_t now);

static void audio_done(mcu_work_t *w, int status)
{
    audio_job_t *j = w->data;
    mcu_conference_t *c = j->conf;
    int64_t now = now_us();
    mcu_stage_enter(MCU_STAGE_PACKETIZE);
    for (int i = 0; i < c->n_sites && !c->stopping; i++) {
        int p = mcu_site_config(c->sites[i])->profile;
        const audio_out_t *out = &j->shared[p];
        for (int k = 0; k < MCU_MIXER_MAX_TALKERS; k++)
            if (j->mix.talker_site[k] == i && j->minus[p][k].len > 0)
                out = &j->minus[p][k]; /* a talker never hears itself */
        if (out->len > 0)
            mcu_tx_stream_send_frame(c->audio_tx[i], out->data, (size_t)out->len, j->rtp_ts,
                                     now);
    }
    mcu_stage_leave();
    if (!c->stopping) {
        memcpy(c->level_dbfs, j->mix.level_dbfs, sizeof c->level_dbfs);
        memcpy(c->talking, j->mix.talking, sizeof c->talking);
        int prev = -1;
        if (mcu_speaker_update(&c->speaker, now / US_PER_MS, c->ctl.speaker.hold_ms,
                               c->level_dbfs, c->talking, &prev))
            emit(c, MCU_CONF_EV_TALKER, c->speaker.active, prev);
    }
    c->audio_job = NULL;
    mix_next(c, now);
}

static void start_audio_job(mcu_conference_t *c, uint64_t tick, int64_t now)
{
    audio_job_t *j = c->audio_slot; /* every field the job reads is set here or by it */
    j->conf = c;
    j->rtp_ts = (uint32_t)(tick * MCU_MIXER_FRAME_SAMPLES);
    for (int i = 0; i < c->n_sites; i++)
        j->gain[i] = c->ctl.sites[i].audio_muted ? 0.0f : c->ctl.sites[i].gain;
    for (int i = 0; i < c->n_sites; i++)
        j->n_pkts[i] = mcu_site_take_audio(c->sites[i], now, j->pkts[i], CONF_AUDIO_PKTS_PER_TICK);
    j->work.data = j;
    c->audio_job = j;
    if (mcu_worker_submit(c->mixing, &j->work, audio_work, audio_done) != MCU_OK)
        c->audio_job = NULL;
}

/* Starts the next owed tick's mix if the mixer is free; a backlog over
 * CONF_AUDIO_MAX_OWED is skipped and counted. */
static void mix_next(mcu_conference_t *c, int64_t now)
{
    if (c->audio_job || c->stopping || c->audio_next > c->audio_tick)
        return;
    uint64_t backlog = c->audio_tick - c->audio_next;
    if (backlog > CONF_AUDIO_MAX_OWED) {
        c->stats.audio_missed += backlog - CONF_AUDIO_MAX_OWED;
        c->audio_next = c->audio_tick - CONF_AUDIO_MAX_OWED;
    }
    start_audio_job(c, c->audio_next++, now);
}

static void audio_tick(uv_timer_t *t)
{
    mcu_conference_t *c = t->data;
    int64_t now = now_us();
    int64_t period = MCU_MIXER_TICK_MS * US_PER_MS;
    uint64_t due = (uint64_t)((now - c->audio_start_us) / period);
    c->audio_tick = due > c->audio_tick ? due : c->audio_tick + 1;
    c->stats.audio_ticks++;
    if (c->stopping)
        return;
    int64_t next = c->audio_start_us + (int64_t)(c->audio_tick + 1) * period;
    int64_t wait = next - now_us();
    uv_timer_start(&c->audio_timer, audio_tick, wait > 0 ? (uint64_t)(wait / US_PER_MS) : 0, 0);
    mix_next(c, now); /* if the mixer is busy, its done callback mixes this tick */
}

/* ---------------------------------------------------------------- site events */

static profile_out_t *profile_of(mcu_conference_t *c, mcu_site_t *s)
{
    return &c->profiles[mcu_site_config(s)->profile];
}

static void ev_keyframe(void *opaque, mcu_site_t *s, bool video)
{
    if (video)
        profile_of(opaque, s)->idr_wanted = true; /* coalesced in video_tick */
}

static void ev_nack(void *opaque, mcu_site_t *s, bool video, const uint16_t *seqs, size_t n)
{
    mcu_conference_t *c = opaque;
    mcu_tx_stream_t *tx = video ? profile_of(c, s)->video_tx : c->audio_tx[mcu_site_index(s)];
    mcu_tx_stream_on_nack(tx, video ? mcu_site_index(s) : 0, seqs, n, now_us());
}

static void ev_bitrate(void *opaque, mcu_site_t *s, uint64_t bps)
{
    mcu_bitrate_policy_update(profile_of(opaque, s)->bitrate, mcu_site_index(s), bps, now_us());
}

static void ev_report(void *opaque, mcu_site_t *s, bool video, const mcu_rtcp_report_block_t *rb)
{
    mcu_conference_t *c = opaque;
    mcu_tx_stream_t *tx = video ? profile_of(c, s)->video_tx : c->audio_tx[mcu_site_index(s)];
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    uint64_t ntp = mcu_ntp_from_unix_us(tv.tv_sec * US_PER_S + tv.tv_usec);
    mcu_tx_stream_on_rr(tx, video ? mcu_site_index(s) : 0, rb, now_us(), ntp);
}

/* Sends a stream's packet to one site. Receiver ids: the site index for video; 0 for a
 * site's own audio stream. */
static int send_video_pkt(void *opaque, int receiver, const uint8_t *pkt, size_t len)
{
    mcu_conference_t *c = opaque;
    return mcu_site_send(c->sites[receiver], true, false, pkt, len);
}

static int send_video_pkts(void *opaque, int receiver, const uint8_t *const *pkts,
                           const size_t *lens, int n)
{
    mcu_conference_t *c = opaque;
    return mcu_site_send_many(c->sites[receiver], true, pkts, lens, n);
}

static int send_audio_pkt(void *opaque, int receiver, const uint8_t *pkt, size_t len)
{
    audio_dest_t *d = opaque;
    return mcu_site_send(d->conf->sites[d->site], false, false, pkt, len);
}

/* ---------------------------------------------------------------- housekeeping */

static void send_sender_reports(mcu_conference_t *c, int64_t now)
{
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    uint64_t ntp = mcu_ntp_from_unix_us(tv.tv_sec * US_PER_S + tv.tv_usec);
    uint8_t buf[MCU_RTP_MAX_DATAGRAM];
    for (int i = 0; i < c->n_sites; i++) {
        mcu_site_t *s = c->sites[i];
        /* Video and audio SRs from one NTP reading: receivers can lip-sync. */
        size_t n = mcu_tx_stream_build_sr(profile_of(c, s)->video_tx, now, ntp, buf, sizeof buf);
        if (n)
            mcu_site_send(s, true, true, buf, n);
        n = mcu_tx_stream_build_sr(c->audio_tx[i], now, ntp, buf, sizeof buf);
        if (n)
            mcu_site_send(s, false, true, buf, n);
    }
}

static void update_rates(mcu_conference_t *c, int64_t now)
{
    double secs = (double)(now - c->last_rates_us) / US_PER_S;
    bool first = c->last_rates_us == 0;
    c->last_rates_us = now;
    for (int i = 0; i < c->n_sites; i++) {
        mcu_site_t *s = c->sites[i];
        site_rates_t *r = &c->rates[i];
        const mcu_rx_stream_counters_t *vc = mcu_rx_stream_counters(mcu_site_rx(s, true));
        const mcu_rx_stream_counters_t *ac = mcu_rx_stream_counters(mcu_site_rx(s, false));
        const mcu_rtp_stats_t *vs = mcu_rx_stream_source(mcu_site_rx(s, true));
        mcu_tx_receiver_stats_t vt = {0}, at = {0};
        mcu_tx_stream_receiver_stats(profile_of(c, s)->video_tx, i, &vt);
        mcu_tx_stream_receiver_stats(c->audio_tx[i], 0, &at);
        uint64_t out = vt.octets + vt.rtx_octets + at.octets + at.rtx_octets;
        uint64_t pictures = mcu_site_stats(s)->pictures;
        uint32_t expected = vs ? mcu_rtp_stats_ext_max(vs) - vs->base_seq + 1 : 0;
        uint32_t received = vs ? vs->received : 0;
        if (!first && secs > 0) {
            r->video_bps = (double)(vc->bytes - r->video_bytes) * 8 / secs;
            r->audio_bps = (double)(ac->bytes - r->audio_bytes) * 8 / secs;
            r->out_bps = (double)(out - r->out_bytes) * 8 / secs;
            r->fps = (double)(pictures - r->pictures) / secs;
            uint32_t de = expected - r->video_expected, dr = received - r->video_received;
            r->video_loss = de > 0 && de < (1u << 31) && dr < de ? (double)(de - dr) / de : 0;
        }
        if (vc->keyframes != r->keyframes)
            r->last_keyframe_us = now;
        r->video_bytes = vc->bytes;
        r->audio_bytes = ac->bytes;
        r->out_bytes = out;
        r->pictures = pictures;
        r->keyframes = vc->keyframes;
        r->video_expected = expected;
        r->video_received = received;
    }
}

/* Receivers' estimates become each profile's encoder target; each site is asked (TMMBR)
 * for what its largest tile needs. */
static void apply_bitrates(mcu_conference_t *c, int64_t now)
{
    for (int k = 0; k < c->n_profiles; k++) {
        profile_out_t *p = &c->profiles[k];
        bool changed;
        int64_t target = mcu_bitrate_policy_target(p->bitrate, now, &changed);
        if (changed && target != p->bitrate_target) {
            MCU_LOG_INFO(p->cfg.id, "video bitrate %lld kbps (%d receivers' estimates)",
                         (long long)(target / 1000),
                         mcu_bitrate_policy_voters(p->bitrate, now));
            p->bitrate_target = target;
        }
    }
    for (int i = 0; i < c->n_sites; i++) {
        int64_t want = 0;
        for (int k = 0; k < c->n_profiles; k++)
            if (c->profiles[k].tile_bps[i] > want)
                want = c->profiles[k].tile_bps[i];
        if (!want) /* not on screen: just enough to be ready when it is */
            want = mcu_bitrate_for_tile(0, 0, 0, mcu_site_config(c->sites[i])->max_bps);
        mcu_site_set_wanted_bps(c->sites[i], want);
    }
}

static void on_housekeeping(uv_timer_t *t)
{
    mcu_conference_t *c = t->data;
    int64_t now = now_us();
    apply_bitrates(c, now);
    for (int i = 0; i < c->n_sites; i++) {
        mcu_site_housekeeping(c->sites[i], now);
        bool live = mcu_site_live(c->sites[i], now);
        if (live != c->was_live[i]) {
            c->was_live[i] = live;
            emit(c, MCU_CONF_EV_SITE_STATE, i, live);
        }
    }
    if (now - c->last_rates_us >= CONF_RATE_WINDOW_MS * US_PER_MS)
        update_rates(c, now);
    if (c->state_dirty && c->cfg.control.state_file[0]) {
        c->state_dirty = false;
        const mcu_control_t *latest = c->has_pending ? &c->pending : &c->ctl;
        if (mcu_control_save(latest, &c->cfg, c->cfg.control.state_file) != MCU_OK)
            MCU_LOG_WARN("conference", "cannot write the state file %s",
                         c->cfg.control.state_file);
    }
    if (now - c->last_sr_us >= MCU_CONF_SR_INTERVAL_MS * US_PER_MS) {
        c->last_sr_us = now;
        send_sender_reports(c, now);
    }
}

/* ---------------------------------------------------------------- lifecycle */

static int create_profile(mcu_conference_t *c, int index)
{
    profile_out_t *p = &c->profiles[index];
    p->conf = c;
    p->index = index;
    p->cfg = c->cfg.profiles[index];
    mcu_h264_enc_config_t ec;
    mcu_h264_enc_config_default(&ec, p->cfg.width, p->cfg.height, p->cfg.fps, p->cfg.video_bps);
    ec.keyint_ms = p->cfg.keyint_ms;
    int rc = mcu_canvas_create(p->cfg.width, p->cfg.height, &p->canvas);
    if (rc == MCU_OK)
        rc = mcu_composer_create(&p->composer);
    if (rc == MCU_OK)
        rc = mcu_h264_enc_create(&ec, &p->enc);
    p->au_buf = malloc(CONF_MAX_AU_BYTES);
    if (rc == MCU_OK && !p->au_buf)
        rc = MCU_ERR_NOMEM;
    mcu_tx_stream_config_t tc = {.ssrc = CONF_VIDEO_SSRC_BASE + (uint32_t)index,
                                 .payload_type = MCU_DEFAULT_VIDEO_PT,
                                 .clock_rate = MCU_H264_CLOCK_RATE, .is_video = true,
                                 .cname = "mcu", .initial_seq = (uint16_t)uv_hrtime(),
                                 .ts_offset = (uint32_t)(uv_hrtime() >> 8),
                                 .send = send_video_pkt, .send_many = send_video_pkts,
                                 .opaque = c};
    if (rc == MCU_OK)
        rc = mcu_tx_stream_create(&tc, &p->video_tx);
    if (rc == MCU_OK)
        rc = mcu_bitrate_policy_create(MCU_MAX_SITES, p->cfg.video_bps, p->cfg.min_video_bps,
                                       &p->bitrate);
    p->bitrate_target = p->bitrate_applied = p->cfg.video_bps;
    mcu_opus_enc_config_t oc;
    mcu_opus_enc_config_default(&oc);
    oc.bitrate_bps = p->cfg.audio_bps;
    if (rc == MCU_OK)
        rc = mcu_opus_enc_create(&oc, &c->shared_enc[index]);
    for (int k = 0; k < MCU_MIXER_MAX_TALKERS && rc == MCU_OK; k++)
        rc = mcu_opus_enc_create(&oc, &c->minus_enc[index][k]);
    /* One renderer per profile: only this profile's job renders with it. A box without
     * the font shows tiles without names rather than not starting. */
    if (rc == MCU_OK && mcu_label_create(NULL, &p->labeler) != MCU_OK)
        MCU_LOG_WARN(p->cfg.id, "no font for the tile labels: tiles go without names");
    uv_timer_init(c->loop, &p->timer);
    p->timer.data = p;
    return rc;
}

/* The operator state of the last run, if it was kept. */
static void load_state(mcu_conference_t *c)
{
    const char *path = c->cfg.control.state_file;
    char why[256];
    if (!path[0])
        return;
    int rc = mcu_control_load(path, &c->cfg, &c->ctl, why, sizeof why);
    if (rc == MCU_OK)
        MCU_LOG_INFO("conference", "operator state restored from %s", path);
    else if (rc != MCU_ERR_NOTFOUND)
        MCU_LOG_WARN("conference", "state file %s ignored: %s", path, why);
}

/* The output path's threads: one per profile, but at most half the cores (the other
 * half decodes): one on the 2-core machine, where a tick's 720p job takes ~8 ms. */
static int output_threads(int n_profiles)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int cap = cores >= 4 ? (int)(cores / 2) : 1;
    if (cap > MCU_WORKER_MAX_THREADS)
        cap = MCU_WORKER_MAX_THREADS;
    return n_profiles < 1 ? 1 : n_profiles < cap ? n_profiles : cap;
}

int mcu_conference_create(uv_loop_t *loop, const mcu_config_t *cfg, mcu_conference_t **out)
{
    *out = NULL;
    mcu_conference_t *c = calloc(1, sizeof *c);
    if (!c)
        return MCU_ERR_NOMEM;
    c->loop = loop;
    c->cfg = *cfg;
    c->events = (mcu_site_events_t){.opaque = c, .keyframe_request = ev_keyframe,
                                    .nack = ev_nack, .report = ev_report,
                                    .bitrate = ev_bitrate};
    uv_timer_init(loop, &c->housekeeping);
    uv_timer_init(loop, &c->audio_timer);
    c->housekeeping.data = c->audio_timer.data = c;
    int rc = mcu_mixer_create(cfg->n_sites, &c->mixer);
    if (rc == MCU_OK && !(c->audio_slot = calloc(1, sizeof *c->audio_slot)))
        rc = MCU_ERR_NOMEM;
    if (rc == MCU_OK)
        rc = mcu_worker_create(loop, output_threads(cfg->n_profiles), "mcu-output", &c->output);
    if (rc == MCU_OK)
        rc = mcu_worker_create(loop, 1, "mcu-audio", &c->mixing);
    c->n_profiles = cfg->n_profiles;
    for (int p = 0; p < cfg->n_profiles && rc == MCU_OK; p++)
        rc = create_profile(c, p);
    for (int i = 0; i < cfg->n_sites && rc == MCU_OK; i++) {
        rc = mcu_site_create(loop, &cfg->sites[i], i, &c->events, &c->sites[i]);
        c->n_sites = i + 1;
        if (rc == MCU_OK)
            rc = mcu_audio_dec_create(cfg->sites[i].audio_codec, &c->audio_dec[i]);
        if (rc == MCU_OK)
            rc = mcu_mixer_set_active(c->mixer, i, true);
        c->audio_dests[i] = (audio_dest_t){c, i};
        mcu_tx_stream_config_t ac = {.ssrc = CONF_AUDIO_SSRC_BASE + (uint32_t)i,
                                     .payload_type = MCU_DEFAULT_AUDIO_PT,
                                     .clock_rate = MCU_OPUS_CLOCK_RATE, .cname = "mcu",
                                     .history_packets = CONF_AUDIO_HISTORY,
                                     .initial_seq = (uint16_t)(uv_hrtime() >> 4),
                                     .ts_offset = (uint32_t)(uv_hrtime() >> 12),
                                     .send = send_audio_pkt, .opaque = &c->audio_dests[i]};
        if (rc == MCU_OK)
            rc = mcu_tx_stream_create(&ac, &c->audio_tx[i]);
        if (rc == MCU_OK)
            rc = mcu_tx_stream_add_receiver(c->audio_tx[i], 0);
        if (rc == MCU_OK)
            rc = mcu_tx_stream_add_receiver(c->profiles[cfg->sites[i].profile].video_tx, i);
    }
    mcu_control_default(&c->ctl, cfg);
    load_state(c);
    mcu_speaker_init(&c->speaker, c->n_sites);
    mcu_rolling_init(&c->rolling);
    for (int i = 0; i < MCU_MAX_SITES; i++)
        c->rates[i].last_keyframe_us = -1;
    *out = c; /* even on error: the caller stops and destroys it */
    return rc;
}

uint32_t mcu_conference_video_ssrc(int profile) { return CONF_VIDEO_SSRC_BASE + (uint32_t)profile; }
uint32_t mcu_conference_audio_ssrc(int site) { return CONF_AUDIO_SSRC_BASE + (uint32_t)site; }

int mcu_conference_start(mcu_conference_t *c)
{
    int64_t now = now_us();
    for (int p = 0; p < c->n_profiles; p++) {
        c->profiles[p].start_us = now;
        arm_video_tick(&c->profiles[p]);
    }
    c->audio_start_us = now;
    c->audio_tick = 0;
    c->audio_next = 1; /* tick n is mixed at start + n periods */
    uv_timer_start(&c->audio_timer, audio_tick, MCU_MIXER_TICK_MS, 0);
    uv_timer_start(&c->housekeeping, on_housekeeping, MCU_CONF_HOUSEKEEPING_MS,
                   MCU_CONF_HOUSEKEEPING_MS);
    return MCU_OK;
}

static void on_closed(uv_handle_t *h) { ((mcu_conference_t *)h->data)->pending_closes--; }
static void on_output_closed(void *opaque) { ((mcu_conference_t *)opaque)->pending_closes--; }
static void on_site_closed(void *opaque) { ((mcu_conference_t *)opaque)->pending_closes--; }

void mcu_conference_stop(mcu_conference_t *c)
{
    if (c->stopping)
        return;
    c->stopping = true;
    uv_handle_t *timers[] = {(uv_handle_t *)&c->housekeeping, (uv_handle_t *)&c->audio_timer};
    for (size_t i = 0; i < 2; i++) {
        c->pending_closes++;
        uv_close(timers[i], on_closed);
    }
    for (int p = 0; p < c->n_profiles; p++) {
        c->profiles[p].timer.data = c;
        c->pending_closes++;
        uv_close((uv_handle_t *)&c->profiles[p].timer, on_closed);
    }
    for (int i = 0; i < c->n_sites; i++) {
        if (!c->sites[i])
            continue;
        c->pending_closes++;
        mcu_site_close(c->sites[i], on_site_closed, c);
    }
    mcu_worker_t **workers[] = {&c->output, &c->mixing};
    for (size_t i = 0; i < 2; i++) {
        if (!*workers[i])
            continue;
        c->pending_closes++;
        mcu_worker_close(*workers[i], on_output_closed, c); /* queued jobs: done, cancelled */
        *workers[i] = NULL;
    }
    serve_preview_waiters(c, NULL); /* nobody waits for a frame that will not come */
    if (c->state_dirty && c->cfg.control.state_file[0])
        mcu_control_save(c->has_pending ? &c->pending : &c->ctl, &c->cfg,
                         c->cfg.control.state_file);
}

void mcu_conference_destroy(mcu_conference_t **pc)
{
    mcu_conference_t *c = pc ? *pc : NULL;
    if (!c)
        return;
    for (int p = 0; p < c->n_profiles; p++) {
        profile_out_t *po = &c->profiles[p];
        mcu_canvas_destroy(&po->canvas);
        mcu_composer_destroy(&po->composer);
        mcu_h264_enc_destroy(&po->enc);
        mcu_tx_stream_destroy(&po->video_tx);
        mcu_bitrate_policy_destroy(&po->bitrate);
        free(po->au_buf);
        for (int i = 0; i < MCU_LAYOUT_MAX_CELLS; i++) {
            mcu_label_bitmap_free(&po->slot_labels[i].bm);
            mcu_label_bitmap_free(&po->slot_status[i].bm);
        }
        mcu_label_destroy(&po->labeler);
        mcu_opus_enc_destroy(&c->shared_enc[p]);
        for (int k = 0; k < MCU_MIXER_MAX_TALKERS; k++)
            mcu_opus_enc_destroy(&c->minus_enc[p][k]);
    }
    for (int i = 0; i < c->n_sites; i++) {
        mcu_audio_dec_destroy(&c->audio_dec[i]);
        mcu_tx_stream_destroy(&c->audio_tx[i]);
    }
    mcu_mixer_destroy(&c->mixer);
    free(c->audio_slot);
    free(c->preview_cache);
    free(c);
    *pc = NULL;
}

int mcu_conference_n_sites(const mcu_conference_t *c) { return c->n_sites; }

void mcu_conference_get_site_stats(const mcu_conference_t *c, int i,
                                   mcu_conference_site_stats_t *st)
{
    const mcu_site_t *s = c->sites[i];
    const mcu_site_stats_t *ss = mcu_site_stats(s);
    const mcu_nack_stats_t *ns = mcu_rx_stream_nack_stats(mcu_site_rx(s, true));
    *st = (mcu_conference_site_stats_t){
        .id = mcu_site_config(s)->id, .rtp_in = ss->rtp_in,
        .dropped = mcu_rx_stream_counters(mcu_site_rx(s, true))->drops.total +
                   mcu_rx_stream_counters(mcu_site_rx(s, false))->drops.total,
        .pictures = ss->pictures, .concealed = ss->concealed, .damaged = ss->damaged,
        .rejected_source = ss->rejected_source,
        .srtp_auth_failures = ss->srtp_auth_failures, .srtp_replays = ss->srtp_replays,
        .srtp_errors = ss->srtp_errors, .latches = ss->latches,
        .ssrc_rejected = ss->ssrc_rejected, .nack_seqs_sent = ss->nack_seqs_sent,
        .nack_recovered = ns->recovered, .rtx_packets =
            mcu_rx_stream_counters(mcu_site_rx(s, true))->rtx_packets,
        .padding = mcu_rx_stream_counters(mcu_site_rx(s, true))->padding +
                   mcu_rx_stream_counters(mcu_site_rx(s, false))->padding,
        .socket_drops = ss->socket_drops,
        .plis_sent = ss->plis_sent, .firs_sent = ss->firs_sent,
        .tmmbrs_sent = ss->tmmbrs_sent, .wanted_bps = mcu_site_wanted_bps(s),
        .frozen_ticks = c->frozen_ticks[i], .shown_ticks = c->shown_ticks[i],
        .repeated_ticks = c->repeated_ticks[i]};
    mcu_playout_stats_t ps;
    mcu_site_playout_stats(s, &ps);
    st->playout_delay_us = ps.delay_us;
    st->playout_late = ps.late;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

void mcu_conference_get_stats(const mcu_conference_t *c, mcu_conference_stats_t *st)
{
    *st = c->stats;
    size_t n = c->n_delays < CONF_DELAY_SAMPLES ? c->n_delays : CONF_DELAY_SAMPLES;
    if (n) {
        int64_t *sorted = malloc(n * sizeof *sorted);
        if (sorted) {
            memcpy(sorted, c->delays, n * sizeof *sorted);
            qsort(sorted, n, sizeof *sorted, cmp_i64);
            st->delay_p50_us = sorted[n / 2];
            st->delay_p99_us = sorted[n * 99 / 100];
            free(sorted);
        }
    }
    struct rusage ru;
    if (st->frames_out && getrusage(RUSAGE_SELF, &ru) == 0) {
        double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
        st->cpu_s_per_frame = cpu / (double)st->frames_out;
    }
}

/* ---------------------------------------------------------------- SDP */

/* The SDP of what site i receives: to its configured destination, else to where its
 * media comes from. */
static int site_sdp_params(mcu_conference_t *c, int i, mcu_sdp_params_t *sp, char *dest,
                           size_t dest_size, char *key, size_t key_size)
{
    const mcu_srtp_key_t *send_key = mcu_site_send_key(c->sites[i]);
    if (send_key && mcu_srtp_key_format(send_key, key, key_size) < 0)
        return MCU_ERR_NOSPACE;
    const mcu_site_config_t *sc = mcu_site_config(c->sites[i]);
    struct sockaddr_in video = sc->send_video, audio = sc->send_audio, rtcp;
    if (!sc->has_send_to && (!mcu_site_dest(c->sites[i], true, &video, &rtcp) ||
                             !mcu_site_dest(c->sites[i], false, &audio, &rtcp)))
        return MCU_ERR_STATE;
    const mcu_profile_config_t *pc = &c->cfg.profiles[sc->profile];
    inet_ntop(AF_INET, &video.sin_addr, dest, (socklen_t)dest_size);
    *sp = (mcu_sdp_params_t){
        .session_name = c->cfg.name, .origin_addr = "127.0.0.1",
        .session_id = (uint64_t)i + 1, .session_version = 1, .dest_addr = dest,
        .cname = "mcu", .rtcp_mux = sc->rtcp_mux,
        .video = {.port = ntohs(video.sin_port), .pt = MCU_DEFAULT_VIDEO_PT,
                  .ssrc = mcu_conference_video_ssrc(sc->profile)},
        .h264_level_idc = mcu_h264_level_idc(pc->width, pc->height, pc->fps, pc->video_bps),
        .framerate = pc->fps, .video_feedback = MCU_SDP_FB_ALL,
        .audio = {.port = ntohs(audio.sin_port), .pt = MCU_DEFAULT_AUDIO_PT,
                  .ssrc = mcu_conference_audio_ssrc(i)},
        /* mcu_srtp_key_format writes "inline:<base64>"; the SDP writer adds "inline:". */
        .crypto = {.suite = send_key ? mcu_srtp_suite_name(send_key->suite) : NULL,
                   .key = send_key ? key + strlen("inline:") : NULL},
    };
    return MCU_OK;
}

int mcu_conference_site_sdp(mcu_conference_t *c, int site, char *out, size_t cap)
{
    mcu_sdp_params_t sp;
    char dest[INET_ADDRSTRLEN], key[MCU_SDP_CRYPTO_KEY_MAX + 1];
    int rc = site_sdp_params(c, site, &sp, dest, sizeof dest, key, sizeof key);
    if (rc == MCU_OK)
        rc = mcu_sdp_write(&sp, out, cap);
    explicit_bzero(key, sizeof key);
    return rc;
}

int mcu_conference_write_sdp(mcu_conference_t *c)
{
    char dir_ok = 0;
    for (int i = 0; i < c->n_sites; i++) {
        const mcu_site_config_t *sc = mcu_site_config(c->sites[i]);
        if (!sc->has_send_to)
            continue; /* learned destination: GET /api/v1/sites/{id}/sdp once it is known */
        if (!dir_ok) {
            if (mkdir(c->cfg.sdp_dir, 0755) != 0 && errno != EEXIST)
                return MCU_ERR_IO;
            dir_ok = 1;
        }
        mcu_sdp_params_t sp;
        char dest[INET_ADDRSTRLEN], key[MCU_SDP_CRYPTO_KEY_MAX + 1];
        int rc = site_sdp_params(c, i, &sp, dest, sizeof dest, key, sizeof key);
        char path[MCU_PATH_MAX + MCU_ID_MAX + 8];
        snprintf(path, sizeof path, "%s/%s.sdp", c->cfg.sdp_dir, sc->id);
        if (rc == MCU_OK)
            rc = mcu_sdp_write_file(&sp, path);
        explicit_bzero(key, sizeof key);
        if (rc < 0)
            return rc;
    }
    return MCU_OK;
}

/* ---------------------------------------------------------------- control API */

void mcu_conference_set_listener(mcu_conference_t *c, mcu_conference_listener_fn fn, void *opaque)
{
    c->listener = fn;
    c->listener_opaque = opaque;
}

const mcu_config_t *mcu_conference_config(const mcu_conference_t *c) { return &c->cfg; }

const mcu_control_t *mcu_conference_control(const mcu_conference_t *c)
{
    return c->has_pending ? &c->pending : &c->ctl;
}

void mcu_conference_set_control(mcu_conference_t *c, const mcu_control_t *ctl)
{
    c->pending = *ctl;
    c->has_pending = true;
    c->state_dirty = true;
}

void mcu_conference_request_keyframe(mcu_conference_t *c)
{
    for (int p = 0; p < c->n_profiles; p++)
        c->profiles[p].idr_wanted = true;
}

int mcu_conference_showing(const mcu_conference_t *c, int *showing)
{
    memcpy(showing, c->showing, (size_t)c->n_showing * sizeof *showing);
    return c->n_showing;
}

int mcu_conference_active_speaker(const mcu_conference_t *c) { return c->speaker.active; }

const char *mcu_conference_site_label(const mcu_conference_t *c, int site)
{
    const mcu_control_t *ctl = mcu_conference_control(c);
    return ctl->sites[site].label[0] ? ctl->sites[site].label : c->cfg.sites[site].name;
}

void mcu_conference_site_info(const mcu_conference_t *c, int i, mcu_conference_site_info_t *info)
{
    const mcu_site_t *s = c->sites[i];
    const site_rates_t *r = &c->rates[i];
    int64_t now = now_us();
    memset(info, 0, sizeof *info);
    const AVFrame *pic = mcu_site_picture(s);
    info->state = mcu_site_live(s, now) ? MCU_SITE_STATE_LIVE
                  : pic || mcu_site_stats(s)->rtp_in ? MCU_SITE_STATE_NO_SIGNAL
                                                     : MCU_SITE_STATE_WAITING;
    info->video_bps_in = r->video_bps;
    info->audio_bps_in = r->audio_bps;
    info->bps_out = r->out_bps;
    info->fps = r->fps;
    info->video_loss = r->video_loss;
    if (pic) {
        info->width = pic->width;
        info->height = pic->height;
    }
    const mcu_rtp_stats_t *vs = mcu_rx_stream_source(mcu_site_rx(s, true));
    const mcu_rtp_stats_t *as = mcu_rx_stream_source(mcu_site_rx(s, false));
    if (vs) {
        int64_t lost = mcu_rtp_stats_lost(vs);
        info->video_lost = lost > 0 ? lost : 0;
        info->video_jitter_ms = mcu_rtp_stats_jitter_units(vs) * 1000.0 / vs->clock_rate;
    }
    if (as) {
        int64_t lost = mcu_rtp_stats_lost(as);
        int64_t expected = (int64_t)mcu_rtp_stats_ext_max(as) - as->base_seq + 1;
        info->audio_loss = expected > 0 && lost > 0 ? (double)lost / (double)expected : 0;
        info->audio_jitter_ms = mcu_rtp_stats_jitter_units(as) * 1000.0 / as->clock_rate;
    }
    info->last_keyframe_ms_ago = r->last_keyframe_us < 0 ? -1
                                 : (now - r->last_keyframe_us) / US_PER_MS;
    info->level_dbfs = c->level_dbfs[i];
    info->talking = c->talking[i];
    info->pictures = mcu_site_stats(s)->pictures;
    info->pictures_concealed = mcu_site_stats(s)->concealed;
    mcu_site_problem(s, true, now, info->video_problem, sizeof info->video_problem);
    mcu_site_problem(s, false, now, info->audio_problem, sizeof info->audio_problem);
    info->video_drops = mcu_rx_stream_counters(mcu_site_rx(s, true))->drops;
    info->audio_drops = mcu_rx_stream_counters(mcu_site_rx(s, false))->drops;
}

/* ---------------------------------------------------------------- JPEG snapshots */

static void jpeg_work(uv_work_t *w)
{
    jpeg_job_t *j = w->data;
    j->rc = mcu_jpeg_encode(j->frame, j->max_w, MCU_JPEG_DEFAULT_QSCALE, &j->jpeg, &j->len);
}

static void jpeg_done(uv_work_t *w, int status)
{
    jpeg_job_t *j = w->data;
    mcu_conference_t *c = j->conf;
    c->jpeg_jobs--;
    if (j->rc == MCU_OK && j->is_preview) {
        uint8_t *copy = malloc(j->len);
        if (copy) {
            memcpy(copy, j->jpeg, j->len);
            free(c->preview_cache);
            c->preview_cache = copy;
            c->preview_cache_len = j->len;
            c->preview_cache_w = j->max_w;
            c->preview_cache_us = now_us();
        }
    }
    j->cb(j->opaque, j->rc, j->jpeg, j->len); /* the callee owns the JPEG now */
    av_frame_free(&j->frame);
    free(j);
}

static int start_jpeg(mcu_conference_t *c, const AVFrame *frame, int max_w, bool is_preview,
                      mcu_conference_jpeg_cb cb, void *opaque)
{
    if (c->jpeg_jobs >= CONF_MAX_JPEG_JOBS || c->stopping)
        return MCU_ERR_BUSY;
    jpeg_job_t *j = calloc(1, sizeof *j);
    if (!j || !(j->frame = av_frame_alloc()) || av_frame_ref(j->frame, frame) < 0) {
        if (j)
            av_frame_free(&j->frame);
        free(j);
        return MCU_ERR_NOMEM;
    }
    j->conf = c;
    j->max_w = max_w;
    j->is_preview = is_preview;
    j->cb = cb;
    j->opaque = opaque;
    j->work.data = j;
    if (uv_queue_work(c->loop, &j->work, jpeg_work, jpeg_done) != 0) {
        av_frame_free(&j->frame);
        free(j);
        return MCU_ERR_BUSY;
    }
    c->jpeg_jobs++;
    return MCU_OK;
}

/* Hands the composite to everyone waiting for it (NULL: it will not come). */
static void serve_preview_waiters(mcu_conference_t *c, const AVFrame *composite)
{
    int n = c->n_waiters;
    c->n_waiters = 0;
    for (int i = 0; i < n; i++) {
        preview_waiter_t *w = &c->waiters[i];
        int rc = composite ? start_jpeg(c, composite, w->max_w, true, w->cb, w->opaque)
                           : MCU_ERR_STATE;
        if (rc != MCU_OK)
            w->cb(w->opaque, rc, NULL, 0);
    }
}

int mcu_conference_preview_jpeg(mcu_conference_t *c, int max_w, mcu_conference_jpeg_cb cb,
                                void *opaque)
{
    if (c->stopping)
        return MCU_ERR_STATE;
    if (c->preview_cache && c->preview_cache_w == max_w &&
        now_us() - c->preview_cache_us < CONF_PREVIEW_CACHE_MS * US_PER_MS) {
        uint8_t *copy = malloc(c->preview_cache_len);
        if (!copy)
            return MCU_ERR_NOMEM;
        memcpy(copy, c->preview_cache, c->preview_cache_len);
        cb(opaque, MCU_OK, copy, c->preview_cache_len);
        return MCU_OK;
    }
    if (c->n_waiters >= CONF_MAX_PREVIEW_WAITERS)
        return MCU_ERR_BUSY;
    c->waiters[c->n_waiters++] = (preview_waiter_t){max_w, cb, opaque};
    return MCU_OK;
}

int mcu_conference_snapshot_jpeg(mcu_conference_t *c, int site, int max_w,
                                 mcu_conference_jpeg_cb cb, void *opaque)
{
    const AVFrame *pic = mcu_site_picture(c->sites[site]);
    if (!pic)
        return MCU_ERR_NOTFOUND;
    return start_jpeg(c, pic, max_w, false, cb, opaque);
}

/* ---------------------------------------------------------------- reload */

int mcu_conference_reload(mcu_conference_t *c, const mcu_config_t *n, char *why, size_t why_size)
{
    const mcu_config_t *o = &c->cfg;
    if (n->n_sites != o->n_sites || n->n_profiles != o->n_profiles) {
        snprintf(why, why_size, "sites or profiles added or removed: that needs a restart");
        return MCU_ERR_CONFIG;
    }
    for (int i = 0; i < n->n_sites; i++) {
        mcu_site_config_t a = o->sites[i], b = n->sites[i];
        memset(a.name, 0, sizeof a.name);
        memset(b.name, 0, sizeof b.name);
        if (memcmp(&a, &b, sizeof a) != 0) {
            snprintf(why, why_size, "sites[%d] (%s): only its name can change without a restart",
                     i, o->sites[i].id);
            return MCU_ERR_CONFIG;
        }
    }
    if (memcmp(n->profiles, o->profiles, sizeof n->profiles) != 0) {
        snprintf(why, why_size, "profiles: they cannot change without a restart");
        return MCU_ERR_CONFIG;
    }
    mcu_control_t ctl = *mcu_conference_control(c);
    /* A changed config default is a newer decision than the operator's last one. */
    if (n->layout_auto != o->layout_auto || n->layout != o->layout) {
        ctl.layout_auto = n->layout_auto;
        ctl.preset = n->layout;
        ctl.n_regions = 0;
    }
    if (memcmp(&n->speaker, &o->speaker, sizeof n->speaker) != 0)
        ctl.speaker = n->speaker;
    for (int i = 0; i < n->n_sites; i++)
        if (strcmp(n->sites[i].name, o->sites[i].name) != 0 && !ctl.sites[i].label[0])
            c->label_gen[i]++;
    c->cfg = *n;
    mcu_conference_set_control(c, &ctl);
    return MCU_OK;
}
