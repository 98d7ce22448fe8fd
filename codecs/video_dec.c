#include "codecs/video_dec.h"

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>

#include "codecs/av_err.h"
#include "codecs/h264_rtp.h"
#include "mcu/error.h"

/* One thread inside libavcodec: each site's units are decoded by one worker at a time and
 * the pool spreads sites over the cores; frame threading would also hold pictures back
 * by one frame per thread, which is latency the conference does not want. */
#define DEC_THREADS 1

/* What libavcodec checks and reports (detect, never abort: AV_EF_EXPLODE is left out
 * on purpose). EXPLODE would turn harmless non-conformance, such as a malformed SEI that
 * some hardware encoders emit in every frame, into a lost picture. Real picture damage is
 * still reported: a slice that is cut short or does not parse is concealed, and
 * concealment sets FF_DECODE_ERROR_CONCEALMENT_ACTIVE in decode_error_flags. */
#define DEC_ERR_RECOGNITION (AV_EF_CRCCHECK | AV_EF_BITSTREAM | AV_EF_BUFFER)

/* The line FFmpeg's error resilience writes when it conceals a picture (error_resilience.c,
 * ff_er_frame_end); its first argument is the number of macroblocks with a DC error, which
 * for the non-partitioned streams RTP carries is every concealed macroblock. */
#define ER_LINE_PREFIX "concealing %d DC, %d AC, %d MV errors"

/* Concealment reports of units whose pictures have not come out yet (B-frame reordering
 * holds at most a few back), looked up by pts. */
#define PENDING_REPORTS 8

/* Macroblocks are 16x16 in H.264. */
#define MB_SIZE 16

typedef struct er_report {
    bool used;
    int64_t pts;
    int mbs;
} er_report_t;

struct mcu_video_dec {
    mcu_codec_t codec;
    AVCodecContext *ctx;
    AVPacket *pkt;
    AVFrame *frame;         /* the picture handed out */
    AVFrame *next;          /* receive_frame target before it becomes `frame` */
    bool unrecovered;       /* no picture from a keyframe has come out clean yet */
    float damage;
    bool key_fed;           /* a keyframe unit was fed ... */
    int64_t key_pts;        /* ... with this pts (the most recent one) */
    int er_mbs;             /* reported while the current unit was decoded; -1: none */
    er_report_t reports[PENDING_REPORTS];
    int next_report;
    mcu_video_dec_stats_t stats;
};

/* ---------------------------------------------------------------- the log hook */

static _Thread_local mcu_video_dec_t *decoding; /* the decoder this thread runs, or NULL */
static pthread_once_t hook_once = PTHREAD_ONCE_INIT;

static void log_hook(void *avcl, int level, const char *fmt, va_list vl)
{
    mcu_video_dec_t *d = decoding;
    if (d && avcl == d->ctx && strncmp(fmt, ER_LINE_PREFIX, sizeof ER_LINE_PREFIX - 1) == 0) {
        va_list copy;
        va_copy(copy, vl);
        d->er_mbs = va_arg(copy, int);
        va_end(copy);
    }
    av_log_default_callback(avcl, level, fmt, vl);
}

static void install_hook(void) { av_log_set_callback(log_hook); }

/* ---------------------------------------------------------------- lifecycle */

void mcu_video_dec_config_default(mcu_video_dec_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->codec = MCU_CODEC_H264;
    cfg->max_pixels = MCU_VIDEO_DEC_DEFAULT_MAX_PIXELS;
}

int mcu_video_dec_create(const mcu_video_dec_config_t *cfg, mcu_video_dec_t **out)
{
    *out = NULL;
    mcu_video_dec_config_t defaults;
    if (!cfg) {
        mcu_video_dec_config_default(&defaults);
        cfg = &defaults;
    }
    if (cfg->max_pixels <= 0)
        return MCU_ERR_CONFIG;
    enum AVCodecID id = cfg->codec == MCU_CODEC_H264  ? AV_CODEC_ID_H264
                        : cfg->codec == MCU_CODEC_VP8 ? AV_CODEC_ID_VP8
                                                      : AV_CODEC_ID_NONE;
    const AVCodec *codec = id != AV_CODEC_ID_NONE ? avcodec_find_decoder(id) : NULL;
    if (!codec)
        return MCU_ERR_UNSUPPORTED;
    pthread_once(&hook_once, install_hook);

    mcu_video_dec_t *d = calloc(1, sizeof *d);
    if (!d)
        return MCU_ERR_NOMEM;
    d->codec = cfg->codec;
    d->ctx = avcodec_alloc_context3(codec);
    d->pkt = av_packet_alloc();
    d->frame = av_frame_alloc();
    d->next = av_frame_alloc();
    if (!d->ctx || !d->pkt || !d->frame || !d->next) {
        mcu_video_dec_destroy(&d);
        return MCU_ERR_NOMEM;
    }
    d->ctx->max_pixels = cfg->max_pixels;
    d->ctx->thread_count = DEC_THREADS;
    d->ctx->err_recognition = DEC_ERR_RECOGNITION;
    /* Output pictures FFmpeg considers unrecovered (after a flush, before an IDR) with
     * AV_FRAME_FLAG_CORRUPT instead of dropping them silently: we count them and apply
     * our own rule. error_concealment stays at its default (on). */
    d->ctx->flags |= AV_CODEC_FLAG_OUTPUT_CORRUPT;
    int rc = avcodec_open2(d->ctx, codec, NULL);
    if (rc < 0) {
        mcu_video_dec_destroy(&d);
        return mcu__av_err(rc, MCU_ERR_CODEC);
    }
    d->unrecovered = true;
    d->damage = 1;
    *out = d;
    return MCU_OK;
}

void mcu_video_dec_destroy(mcu_video_dec_t **pd)
{
    mcu_video_dec_t *d = pd ? *pd : NULL;
    if (!d)
        return;
    avcodec_free_context(&d->ctx);
    av_packet_free(&d->pkt);
    av_frame_free(&d->frame);
    av_frame_free(&d->next);
    free(d);
    *pd = NULL;
}

/* ---------------------------------------------------------------- decoding */

static bool h264_has_idr(const uint8_t *au, size_t len)
{
    size_t pos = 0, nal_len;
    const uint8_t *nal;
    while (mcu_h264_next_nal(au, len, &pos, &nal, &nal_len))
        if ((nal[0] & 0x1F) == MCU_H264_NAL_IDR)
            return true;
    return false;
}

/* RFC 6386 9.1: bit 0 of a VP8 frame is 0 for a keyframe. */
static bool is_keyframe_unit(const mcu_video_dec_t *d, const uint8_t *au, size_t len)
{
    return d->codec == MCU_CODEC_VP8 ? !(au[0] & 1) : h264_has_idr(au, len);
}

static bool frame_key_flag(const AVFrame *f)
{
#ifdef AV_FRAME_FLAG_KEY
    return f->flags & AV_FRAME_FLAG_KEY; /* FFmpeg >= 6.1 */
#else
    return f->key_frame;
#endif
}

/* The concealment report of the unit with this pts, taken out of the pending ones. */
static int take_report(mcu_video_dec_t *d, int64_t pts)
{
    for (int i = 0; i < PENDING_REPORTS; i++)
        if (d->reports[i].used && d->reports[i].pts == pts) {
            d->reports[i].used = false;
            return d->reports[i].mbs;
        }
    return -1;
}

static float clamp01(float v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

static void add_damage(mcu_video_dec_t *d, float x)
{
    d->damage = d->damage + x > MCU_VIDEO_DEC_MAX_DAMAGE ? MCU_VIDEO_DEC_MAX_DAMAGE : d->damage + x;
}

/* Judges the picture just received into d->next and makes it the one handed out. */
static void take_picture(mcu_video_dec_t *d, bool unit_failed, mcu_video_dec_picture_t *out)
{
    AVFrame *f = d->next;
    bool error = unit_failed || f->decode_error_flags != 0;
    bool corrupt_flag = f->flags & AV_FRAME_FLAG_CORRUPT; /* FFmpeg: not recovered */
    /* FFmpeg's key flag alone may also mark recovery-point pictures: require the unit. */
    bool keyframe = frame_key_flag(f) && d->key_fed && f->pts == d->key_pts;
    int mbs = take_report(d, f->pts);
    int w = d->ctx->coded_width > 0 ? d->ctx->coded_width : f->width;
    int h = d->ctx->coded_height > 0 ? d->ctx->coded_height : f->height;
    int total = ((w + MB_SIZE - 1) / MB_SIZE) * ((h + MB_SIZE - 1) / MB_SIZE);
    float concealed = 0;
    if (error)
        concealed = mbs >= 0 && total > 0 ? clamp01((float)mbs / (float)total) : 1.0f;

    d->stats.pictures++;
    if (error) {
        d->stats.decode_errors++;
        d->stats.concealed_mbs += mbs > 0 ? (uint64_t)mbs : 0;
    }
    if (keyframe && !corrupt_flag) {
        /* A keyframe replaces the whole picture: what it lacks is its own concealment. */
        d->unrecovered = false;
        d->damage = concealed;
    } else if (error) {
        add_damage(d, concealed);
    } else if (d->unrecovered || d->damage > 0 || corrupt_flag) {
        d->stats.suppressed++;
    }
    bool unrecovered = d->unrecovered || corrupt_flag;
    float damage = unrecovered ? MCU_VIDEO_DEC_MAX_DAMAGE : d->damage;
    bool damaged = error || unrecovered || damage > 0;
    if (!damaged)
        d->stats.good++;

    av_frame_unref(d->frame);
    av_frame_move_ref(d->frame, f);
    *out = (mcu_video_dec_picture_t){
        .frame = d->frame,
        .width = d->frame->width,
        .height = d->frame->height,
        .pix_fmt = (enum AVPixelFormat)d->frame->format,
        .pts = d->frame->pts,
        .keyframe = keyframe,
        .decode_error = error,
        .unrecovered = unrecovered,
        .concealed = concealed,
        .damage = damage,
        .damaged = damaged,
    };
}

static void keep_report(mcu_video_dec_t *d, int64_t pts, int mbs)
{
    er_report_t *r = &d->reports[d->next_report];
    d->next_report = (d->next_report + 1) % PENDING_REPORTS;
    *r = (er_report_t){.used = true, .pts = pts, .mbs = mbs};
}

int mcu_video_dec_decode(mcu_video_dec_t *d, const uint8_t *au, size_t len, int64_t pts,
                         mcu_video_dec_picture_t *out)
{
    if (!au || len == 0)
        return MCU_ERR_INVAL;
    if (len > (size_t)INT_MAX - AV_INPUT_BUFFER_PADDING_SIZE)
        return MCU_ERR_TOO_BIG;
    d->stats.access_units++;
    if (is_keyframe_unit(d, au, len)) {
        d->key_fed = true;
        d->key_pts = pts;
    }

    /* av_new_packet gives the zeroed padding the bitstream reader needs past the end. */
    int rc = av_new_packet(d->pkt, (int)len);
    if (rc < 0)
        return mcu__av_err(rc, MCU_ERR_NOMEM);
    memcpy(d->pkt->data, au, len);
    d->pkt->pts = pts;
    d->pkt->dts = pts;
    decoding = d;
    d->er_mbs = -1;
    rc = avcodec_send_packet(d->ctx, d->pkt);
    decoding = NULL;
    av_packet_unref(d->pkt);
    if (d->er_mbs >= 0)
        keep_report(d, pts, d->er_mbs);
    bool unit_failed = rc < 0 && rc != AVERROR(EAGAIN);
    if (unit_failed) {
        d->stats.send_errors++;
        add_damage(d, 1); /* a unit that did not decode: a whole picture's worth */
        if (rc == AVERROR(ENOMEM))
            return MCU_ERR_NOMEM;
    }

    /* Baseline without frame threads gives one picture per unit; a stream with B-frames
     * may hold some back and release two at once: the newest is handed out. */
    int got = 0;
    for (;;) {
        rc = avcodec_receive_frame(d->ctx, d->next);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
            break;
        if (rc < 0) {
            d->stats.send_errors++;
            add_damage(d, 1);
            unit_failed = true;
            break;
        }
        take_picture(d, unit_failed, out);
        got = 1;
    }
    if (!got && unit_failed)
        return MCU_ERR_CODEC;
    return got;
}

void mcu_video_dec_note_loss(mcu_video_dec_t *d)
{
    add_damage(d, MCU_VIDEO_DEC_LOST_FRAME_DAMAGE);
}

void mcu_video_dec_reset(mcu_video_dec_t *d)
{
    avcodec_flush_buffers(d->ctx);
    av_frame_unref(d->frame);
    d->unrecovered = true;
    d->damage = 1;
    d->key_fed = false;
    memset(d->reports, 0, sizeof d->reports);
    d->stats.resets++;
}

bool mcu_video_dec_needs_keyframe(const mcu_video_dec_t *d) { return d->unrecovered || d->damage > 0; }

bool mcu_video_dec_can_conceal(const mcu_video_dec_t *d) { return d->codec == MCU_CODEC_H264; }

mcu_codec_t mcu_video_dec_codec(const mcu_video_dec_t *d) { return d->codec; }

const mcu_video_dec_stats_t *mcu_video_dec_stats(const mcu_video_dec_t *d) { return &d->stats; }
