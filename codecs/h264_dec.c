#include "codecs/h264_dec.h"

#include <limits.h>
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
 * some hardware encoders emit in every frame, into a lost picture, and with the
 * wait-for-IDR rule below into a site that never shows. Real picture damage is still
 * reported: a slice that is cut short or does not parse is concealed, and concealment
 * sets FF_DECODE_ERROR_CONCEALMENT_ACTIVE in decode_error_flags. */
#define DEC_ERR_RECOGNITION (AV_EF_CRCCHECK | AV_EF_BITSTREAM | AV_EF_BUFFER)

struct mcu_h264_dec {
    AVCodecContext *ctx;
    AVPacket *pkt;
    AVFrame *frame;         /* the picture handed out */
    AVFrame *next;          /* receive_frame target before it becomes `frame` */
    bool waiting;           /* for a picture from an IDR access unit that decodes clean */
    bool idr_fed;           /* an access unit with an IDR slice was fed ... */
    int64_t idr_pts;        /* ... with this pts (the most recent one) */
    mcu_h264_dec_stats_t stats;
};

void mcu_h264_dec_config_default(mcu_h264_dec_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_pixels = MCU_H264_DEC_DEFAULT_MAX_PIXELS;
}

static bool has_idr(const uint8_t *au, size_t len)
{
    size_t pos = 0, nal_len;
    const uint8_t *nal;
    while (mcu_h264_next_nal(au, len, &pos, &nal, &nal_len))
        if ((nal[0] & 0x1F) == MCU_H264_NAL_IDR)
            return true;
    return false;
}

int mcu_h264_dec_create(const mcu_h264_dec_config_t *cfg, mcu_h264_dec_t **out)
{
    *out = NULL;
    mcu_h264_dec_config_t defaults;
    if (!cfg) {
        mcu_h264_dec_config_default(&defaults);
        cfg = &defaults;
    }
    if (cfg->max_pixels <= 0)
        return MCU_ERR_CONFIG;
    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_H264);
    if (!codec)
        return MCU_ERR_UNSUPPORTED;

    mcu_h264_dec_t *d = calloc(1, sizeof *d);
    if (!d)
        return MCU_ERR_NOMEM;
    d->ctx = avcodec_alloc_context3(codec);
    d->pkt = av_packet_alloc();
    d->frame = av_frame_alloc();
    d->next = av_frame_alloc();
    if (!d->ctx || !d->pkt || !d->frame || !d->next) {
        mcu_h264_dec_destroy(&d);
        return MCU_ERR_NOMEM;
    }
    d->ctx->max_pixels = cfg->max_pixels;
    d->ctx->thread_count = DEC_THREADS;
    d->ctx->err_recognition = DEC_ERR_RECOGNITION;
    /* Output pictures FFmpeg considers unrecovered (after a flush, before an IDR) with
     * AV_FRAME_FLAG_CORRUPT instead of dropping them silently: we count them and apply
     * our own rule. error_concealment stays at its default, because FFmpeg only flags a
     * picture with FF_DECODE_ERROR_CONCEALMENT_ACTIVE when it conceals. */
    d->ctx->flags |= AV_CODEC_FLAG_OUTPUT_CORRUPT;
    int rc = avcodec_open2(d->ctx, codec, NULL);
    if (rc < 0) {
        mcu_h264_dec_destroy(&d);
        return mcu__av_err(rc, MCU_ERR_CODEC);
    }
    d->waiting = true;
    *out = d;
    return MCU_OK;
}

void mcu_h264_dec_destroy(mcu_h264_dec_t **pd)
{
    mcu_h264_dec_t *d = pd ? *pd : NULL;
    if (!d)
        return;
    avcodec_free_context(&d->ctx);
    av_packet_free(&d->pkt);
    av_frame_free(&d->frame);
    av_frame_free(&d->next);
    free(d);
    *pd = NULL;
}

static bool frame_key_flag(const AVFrame *f)
{
#ifdef AV_FRAME_FLAG_KEY
    return f->flags & AV_FRAME_FLAG_KEY; /* FFmpeg >= 6.1 */
#else
    return f->key_frame;
#endif
}

/* Judges the picture just received into d->next and makes it the one handed out. */
static void take_picture(mcu_h264_dec_t *d, bool au_failed, mcu_h264_dec_picture_t *out)
{
    AVFrame *f = d->next;
    bool error = au_failed || f->decode_error_flags != 0 || (f->flags & AV_FRAME_FLAG_CORRUPT);
    /* FFmpeg's key flag alone may also mark recovery-point pictures: require the IDR. */
    bool keyframe = frame_key_flag(f) && d->idr_fed && f->pts == d->idr_pts;

    d->stats.pictures++;
    if (error) {
        d->stats.decode_errors++;
        d->waiting = true;
    } else if (d->waiting && keyframe) {
        d->waiting = false;
    } else if (d->waiting) {
        d->stats.suppressed++;
    }
    bool damaged = error || d->waiting;
    if (!damaged)
        d->stats.good++;

    av_frame_unref(d->frame);
    av_frame_move_ref(d->frame, f);
    *out = (mcu_h264_dec_picture_t){
        .frame = d->frame,
        .width = d->frame->width,
        .height = d->frame->height,
        .pix_fmt = (enum AVPixelFormat)d->frame->format,
        .pts = d->frame->pts,
        .keyframe = keyframe,
        .decode_error = error,
        .damaged = damaged,
    };
}

int mcu_h264_dec_decode(mcu_h264_dec_t *d, const uint8_t *au, size_t len, int64_t pts,
                        mcu_h264_dec_picture_t *out)
{
    if (!au || len == 0)
        return MCU_ERR_INVAL;
    if (len > (size_t)INT_MAX - AV_INPUT_BUFFER_PADDING_SIZE)
        return MCU_ERR_TOO_BIG;
    d->stats.access_units++;
    if (has_idr(au, len)) {
        d->idr_fed = true;
        d->idr_pts = pts;
    }

    /* av_new_packet gives the zeroed padding the bitstream reader needs past the end. */
    int rc = av_new_packet(d->pkt, (int)len);
    if (rc < 0)
        return mcu__av_err(rc, MCU_ERR_NOMEM);
    memcpy(d->pkt->data, au, len);
    d->pkt->pts = pts;
    d->pkt->dts = pts;
    rc = avcodec_send_packet(d->ctx, d->pkt);
    av_packet_unref(d->pkt);
    bool au_failed = rc < 0 && rc != AVERROR(EAGAIN);
    if (au_failed) {
        d->stats.send_errors++;
        d->waiting = true;
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
            d->waiting = true;
            au_failed = true;
            break;
        }
        take_picture(d, au_failed, out);
        got = 1;
    }
    if (!got && au_failed)
        return MCU_ERR_CODEC;
    return got;
}

void mcu_h264_dec_reset(mcu_h264_dec_t *d)
{
    avcodec_flush_buffers(d->ctx);
    av_frame_unref(d->frame);
    d->waiting = true;
    d->idr_fed = false;
    d->stats.resets++;
}

bool mcu_h264_dec_needs_keyframe(const mcu_h264_dec_t *d) { return d->waiting; }

const mcu_h264_dec_stats_t *mcu_h264_dec_stats(const mcu_h264_dec_t *d) { return &d->stats; }
