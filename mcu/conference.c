#include "conference.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libavutil/frame.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "codecs/h264_enc.h"
#include "codecs/h264_rtp.h"
#include "codecs/opus_codec.h"
#include "layouts/canvas.h"
#include "layouts/composer.h"
#include "layouts/label.h"
#include "layouts/layout.h"
#include "mcu/error.h"
#include "mcu/mixer.h"
#include "mcu/sdp.h"
#include "mcu/site.h"
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

typedef struct compose_tile {
    AVFrame *picture;           /* reference taken on the loop; NULL: no signal */
    const mcu_label_bitmap_t *label; /* the site's name, rendered once; may be empty */
    mcu_rect_t cell;
    int64_t arrival_us;         /* when the picture's access unit arrived */
} compose_tile_t;

/* One video frame of one profile, handed to a worker and back. */
typedef struct video_job {
    uv_work_t work;
    struct profile_out *prof;
    int n_tiles;
    compose_tile_t tiles[MCU_LAYOUT_MAX_CELLS];
    bool force_idr;
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
    video_job_t *job;           /* non-NULL while a worker composes and encodes */
    uint8_t *au_buf;
    bool idr_wanted;
    int64_t last_forced_idr_us;
    /* Each site's name rendered for its cell in this profile's layout; read-only while
     * workers draw, re-rendered on the loop only when the layout changes. */
    mcu_label_bitmap_t labels[MCU_MAX_SITES];
} profile_out_t;

/* Audio packets taken from one site per tick: 120 ms worth of the shortest common
 * ptime (20 ms) covers a burst after a stall without letting one site hog the tick. */
#define CONF_AUDIO_PKTS_PER_TICK 6
/* Lost packets concealed at most per gap: longer gaps are silence, not PLC. */
#define CONF_MAX_CONCEAL_FRAMES 3
/* Audio retransmission history per receiver: 1.28 s of 20 ms packets. */
#define CONF_AUDIO_HISTORY 64
/* PCM decoded from one packet: the longest Opus packet. */
#define CONF_PCM_MAX MCU_OPUS_MAX_PACKET_SAMPLES

typedef struct audio_out {      /* one encoded 20 ms packet */
    uint8_t data[MCU_OPUS_MAX_PACKET_BYTES];
    int len;
} audio_out_t;

/* One 20 ms audio tick, handed to a worker and back. */
typedef struct audio_job {
    uv_work_t work;
    mcu_conference_t *conf;
    int n_pkts[MCU_MAX_SITES];
    mcu_site_audio_packet_t pkts[MCU_MAX_SITES][CONF_AUDIO_PKTS_PER_TICK];
    mcu_mix_out_t mix;
    audio_out_t shared[MCU_MAX_PROFILES];
    audio_out_t minus[MCU_MAX_PROFILES][MCU_MIXER_MAX_TALKERS];
    uint32_t rtp_ts;
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
    uint64_t audio_tick;
    audio_job_t *audio_job;     /* non-NULL while a worker mixes */
    mcu_opus_dec_t *audio_dec[MCU_MAX_SITES];       /* audio worker only */
    mcu_mixer_t *mixer;                             /* audio worker only */
    mcu_opus_enc_t *shared_enc[MCU_MAX_PROFILES];   /* audio worker only */
    mcu_opus_enc_t *minus_enc[MCU_MAX_PROFILES][MCU_MIXER_MAX_TALKERS];
    mcu_tx_stream_t *audio_tx[MCU_MAX_SITES];       /* one audio stream per receiver */
    audio_dest_t audio_dests[MCU_MAX_SITES];
    int64_t counted_arrival[MCU_MAX_SITES];         /* last picture counted for delay */
    int64_t last_sr_us;
    bool stopping;
    int pending_closes;
    mcu_conference_stats_t stats;
    int64_t delays[CONF_DELAY_SAMPLES];
    size_t n_delays;
};

static int64_t now_us(void) { return (int64_t)(uv_hrtime() / 1000); }

/* ---------------------------------------------------------------- layout */

static mcu_layout_preset_t current_preset(const mcu_conference_t *c)
{
    return c->cfg.layout_auto ? mcu_layout_auto_grid((unsigned)c->n_sites) : c->cfg.layout;
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

static void video_work(uv_work_t *w)
{
    video_job_t *j = w->data;
    profile_out_t *p = j->prof;
    for (int i = 0; i < j->n_tiles; i++) {
        compose_tile_t *t = &j->tiles[i];
        if (t->picture)
            mcu_composer_draw(p->composer, p->canvas, i, t->cell, t->picture,
                              p->conf->cfg.fit);
        else
            mcu_composer_draw_no_signal(p->composer, p->canvas, t->cell);
        if (t->label && t->label->w > 0)
            mcu_label_draw(p->canvas, t->cell, t->label, MCU_LABEL_POS_BOTTOM_LEFT);
    }
    AVFrame *f = av_frame_alloc();
    if (!f) {
        j->rc = MCU_ERR_NOMEM;
        return;
    }
    mcu_canvas_as_avframe(p->canvas, f);
    f->pts = j->pts;
    j->rc = mcu_h264_enc_encode(p->enc, f, j->force_idr, collect_au, j);
    av_frame_free(&f);
}

static void record_delay(mcu_conference_t *c, int64_t d)
{
    c->delays[c->n_delays % CONF_DELAY_SAMPLES] = d;
    c->n_delays++;
}

static void video_done(uv_work_t *w, int status)
{
    video_job_t *j = w->data;
    profile_out_t *p = j->prof;
    mcu_conference_t *c = p->conf;
    int64_t now = now_us();
    if (j->rc >= 0 && j->au_len && !c->stopping) {
        mcu_tx_stream_send_frame(p->video_tx, j->au, j->au_len, (uint32_t)j->pts, now);
        c->stats.frames_out++;
        for (int i = 0; i < j->n_tiles; i++)
            if (j->tiles[i].picture && j->tiles[i].arrival_us)
                record_delay(c, now - j->tiles[i].arrival_us);
    }
    for (int i = 0; i < j->n_tiles; i++)
        av_frame_free(&j->tiles[i].picture);
    p->job = NULL;
    free(j);
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
        c->stats.missed_ticks++;
        return;
    }
    video_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->prof = p;
    j->au = p->au_buf;
    j->pts = (int64_t)p->tick * MCU_H264_CLOCK_RATE / p->cfg.fps;
    mcu_layout_t layout;
    mcu_layout_compute(current_preset(c), p->cfg.width, p->cfg.height, &layout);
    j->n_tiles = layout.n_cells < c->n_sites ? layout.n_cells : c->n_sites;
    for (int i = 0; i < j->n_tiles; i++) {
        mcu_site_t *s = c->sites[i];
        j->tiles[i].cell = layout.cells[i];
        j->tiles[i].label = &p->labels[i];
        const AVFrame *pic = mcu_site_live(s, now) ? mcu_site_picture(s) : NULL;
        if (pic && (j->tiles[i].picture = av_frame_alloc()) != NULL &&
            av_frame_ref(j->tiles[i].picture, pic) != 0)
            av_frame_free(&j->tiles[i].picture);
        /* Each source picture's delay is counted once, on its first composite. */
        int64_t arrival = mcu_site_picture_arrival(s);
        if (j->tiles[i].picture && p->index == 0 && arrival != c->counted_arrival[i]) {
            j->tiles[i].arrival_us = arrival;
            c->counted_arrival[i] = arrival;
        }
    }
    if (p->idr_wanted && now - p->last_forced_idr_us >= MCU_CONF_IDR_MIN_INTERVAL_MS * US_PER_MS) {
        j->force_idr = true;
        p->idr_wanted = false;
        p->last_forced_idr_us = now;
        c->stats.forced_idrs++;
    }
    j->work.data = j;
    p->job = j;
    if (uv_queue_work(c->loop, &j->work, video_work, video_done) != 0) {
        p->job = NULL;
        free(j);
    }
}

/* ---------------------------------------------------------------- audio tick */

static void audio_work(uv_work_t *w)
{
    audio_job_t *j = w->data;
    mcu_conference_t *c = j->conf;
    static _Thread_local int16_t pcm[CONF_PCM_MAX];
    for (int i = 0; i < c->n_sites; i++) {
        for (int k = 0; k < j->n_pkts[i]; k++) {
            const mcu_site_audio_packet_t *pk = &j->pkts[i][k];
            uint32_t lost = pk->lost_before < CONF_MAX_CONCEAL_FRAMES ? pk->lost_before
                                                                      : CONF_MAX_CONCEAL_FRAMES;
            for (uint32_t l = 0; l < lost; l++) {
                int n = mcu_opus_dec_conceal(c->audio_dec[i], MCU_MIXER_FRAME_SAMPLES, pcm,
                                             CONF_PCM_MAX);
                if (n > 0)
                    mcu_mixer_push(c->mixer, i, pcm, (size_t)n);
            }
            int n = mcu_opus_dec_decode(c->audio_dec[i], pk->data, pk->len, pcm, CONF_PCM_MAX);
            if (n > 0)
                mcu_mixer_push(c->mixer, i, pcm, (size_t)n);
        }
    }
    mcu_mixer_tick(c->mixer, &j->mix);
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
}

static void audio_done(uv_work_t *w, int status)
{
    audio_job_t *j = w->data;
    mcu_conference_t *c = j->conf;
    int64_t now = now_us();
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
    c->audio_job = NULL;
    free(j);
}

static void audio_tick(uv_timer_t *t)
{
    mcu_conference_t *c = t->data;
    int64_t now = now_us();
    int64_t period = MCU_MIXER_TICK_MS * US_PER_MS;
    uint64_t due = (uint64_t)((now - c->audio_start_us) / period);
    if (due > c->audio_tick + 1)
        c->stats.audio_missed += due - c->audio_tick - 1;
    c->audio_tick = due > c->audio_tick ? due : c->audio_tick + 1;
    c->stats.audio_ticks++;
    if (c->stopping)
        return;
    int64_t next = c->audio_start_us + (int64_t)(c->audio_tick + 1) * period;
    int64_t wait = next - now_us();
    uv_timer_start(&c->audio_timer, audio_tick, wait > 0 ? (uint64_t)(wait / US_PER_MS) : 0, 0);
    if (c->audio_job) {
        c->stats.audio_missed++;
        return;
    }
    audio_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->conf = c;
    j->rtp_ts = (uint32_t)(c->audio_tick * MCU_MIXER_FRAME_SAMPLES);
    for (int i = 0; i < c->n_sites; i++)
        j->n_pkts[i] = mcu_site_take_audio(c->sites[i], now, j->pkts[i], CONF_AUDIO_PKTS_PER_TICK);
    j->work.data = j;
    c->audio_job = j;
    if (uv_queue_work(c->loop, &j->work, audio_work, audio_done) != 0) {
        c->audio_job = NULL;
        free(j);
    }
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

static void on_housekeeping(uv_timer_t *t)
{
    mcu_conference_t *c = t->data;
    int64_t now = now_us();
    for (int i = 0; i < c->n_sites; i++)
        mcu_site_housekeeping(c->sites[i], now);
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
                                 .send = send_video_pkt, .opaque = c};
    if (rc == MCU_OK)
        rc = mcu_tx_stream_create(&tc, &p->video_tx);
    mcu_opus_enc_config_t oc;
    mcu_opus_enc_config_default(&oc);
    oc.bitrate_bps = p->cfg.audio_bps;
    if (rc == MCU_OK)
        rc = mcu_opus_enc_create(&oc, &c->shared_enc[index]);
    for (int k = 0; k < MCU_MIXER_MAX_TALKERS && rc == MCU_OK; k++)
        rc = mcu_opus_enc_create(&oc, &c->minus_enc[index][k]);
    uv_timer_init(c->loop, &p->timer);
    p->timer.data = p;
    return rc;
}

/* Renders every site's name for its cell of each profile's layout (startup, on the
 * loop: it reads the font file once). A name that cannot be rendered leaves its tile
 * without a label and is not fatal. */
static void render_labels(mcu_conference_t *c)
{
    mcu_label_renderer_t *lr;
    if (mcu_label_create(NULL, &lr) != MCU_OK)
        return;
    for (int p = 0; p < c->n_profiles; p++) {
        profile_out_t *po = &c->profiles[p];
        mcu_layout_t layout;
        if (mcu_layout_compute(current_preset(c), po->cfg.width, po->cfg.height, &layout) < 0)
            continue;
        for (int i = 0; i < c->n_sites && i < layout.n_cells; i++) {
            mcu_rect_t cell = layout.cells[i];
            mcu_label_render(lr, c->cfg.sites[i].name, mcu_label_px_for_cell(cell.h),
                             mcu_label_max_width(cell), &po->labels[i]);
        }
    }
    mcu_label_destroy(&lr);
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
                                    .nack = ev_nack, .report = ev_report};
    uv_timer_init(loop, &c->housekeeping);
    uv_timer_init(loop, &c->audio_timer);
    c->housekeeping.data = c->audio_timer.data = c;
    int rc = mcu_mixer_create(cfg->n_sites, &c->mixer);
    c->n_profiles = cfg->n_profiles;
    for (int p = 0; p < cfg->n_profiles && rc == MCU_OK; p++)
        rc = create_profile(c, p);
    for (int i = 0; i < cfg->n_sites && rc == MCU_OK; i++) {
        rc = mcu_site_create(loop, &cfg->sites[i], i, &c->events, &c->sites[i]);
        c->n_sites = i + 1;
        if (rc == MCU_OK)
            rc = mcu_opus_dec_create(&c->audio_dec[i]);
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
    if (rc == MCU_OK)
        render_labels(c);
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
    uv_timer_start(&c->audio_timer, audio_tick, MCU_MIXER_TICK_MS, 0);
    uv_timer_start(&c->housekeeping, on_housekeeping, MCU_CONF_HOUSEKEEPING_MS,
                   MCU_CONF_HOUSEKEEPING_MS);
    return MCU_OK;
}

static void on_closed(uv_handle_t *h) { ((mcu_conference_t *)h->data)->pending_closes--; }
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
        free(po->au_buf);
        for (int i = 0; i < MCU_MAX_SITES; i++)
            mcu_label_bitmap_free(&po->labels[i]);
        mcu_opus_enc_destroy(&c->shared_enc[p]);
        for (int k = 0; k < MCU_MIXER_MAX_TALKERS; k++)
            mcu_opus_enc_destroy(&c->minus_enc[p][k]);
    }
    for (int i = 0; i < c->n_sites; i++) {
        mcu_opus_dec_destroy(&c->audio_dec[i]);
        mcu_tx_stream_destroy(&c->audio_tx[i]);
    }
    mcu_mixer_destroy(&c->mixer);
    free(c);
    *pc = NULL;
}

int mcu_conference_n_sites(const mcu_conference_t *c) { return c->n_sites; }

void mcu_conference_get_site_stats(const mcu_conference_t *c, int i,
                                   mcu_conference_site_stats_t *st)
{
    const mcu_site_t *s = c->sites[i];
    const mcu_site_stats_t *ss = mcu_site_stats(s);
    *st = (mcu_conference_site_stats_t){
        .id = mcu_site_config(s)->id, .rtp_in = ss->rtp_in,
        .dropped = mcu_rx_stream_counters(mcu_site_rx(s, true))->drops.total +
                   mcu_rx_stream_counters(mcu_site_rx(s, false))->drops.total,
        .pictures = ss->pictures, .damaged = ss->damaged,
        .rejected_source = ss->rejected_source};
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

int mcu_conference_write_sdp(mcu_conference_t *c)
{
    char dir_ok = 0;
    for (int i = 0; i < c->n_sites; i++) {
        const mcu_site_config_t *sc = mcu_site_config(c->sites[i]);
        if (!sc->has_send_to)
            continue; /* learned destination: the site's own endpoint knows its ports */
        if (!dir_ok) {
            if (mkdir(c->cfg.sdp_dir, 0755) != 0 && errno != EEXIST)
                return MCU_ERR_IO;
            dir_ok = 1;
        }
        const mcu_profile_config_t *pc = &c->cfg.profiles[sc->profile];
        char dest[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &sc->send_video.sin_addr, dest, sizeof dest);
        mcu_sdp_params_t sp = {
            .session_name = c->cfg.name, .origin_addr = "127.0.0.1",
            .session_id = (uint64_t)i + 1, .session_version = 1, .dest_addr = dest,
            .cname = "mcu", .rtcp_mux = sc->rtcp_mux,
            .video = {.port = ntohs(sc->send_video.sin_port), .pt = MCU_DEFAULT_VIDEO_PT,
                      .ssrc = mcu_conference_video_ssrc(sc->profile)},
            .h264_level_idc = mcu_h264_level_idc(pc->width, pc->height, pc->fps, pc->video_bps),
            .framerate = pc->fps, .video_feedback = MCU_SDP_FB_ALL,
            .audio = {.port = ntohs(sc->send_audio.sin_port), .pt = MCU_DEFAULT_AUDIO_PT,
                      .ssrc = mcu_conference_audio_ssrc(i)},
        };
        char path[MCU_PATH_MAX + MCU_ID_MAX + 8];
        snprintf(path, sizeof path, "%s/%s.sdp", c->cfg.sdp_dir, sc->id);
        int rc = mcu_sdp_write_file(&sp, path);
        if (rc < 0)
            return rc;
    }
    return MCU_OK;
}
