#include "codecs/h264_enc.h"

#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/opt.h>

#include "codecs/av_err.h"
#include "mcu/error.h"

/* Constrained Baseline: x264's "baseline" sets profile_idc 66 with constraint_set0 and
 * constraint_set1 (it never uses FMO/ASO/redundant slices), which is what every
 * low-end decoder and WebRTC's 42e0xx profile-level-id accept. */
#define ENC_PROFILE "baseline"
/* No lookahead, no B-frames, no frame threads, no VFR timing: one in, one out. */
#define ENC_TUNE "zerolatency"
/* x264 options that have no AVCodecContext field:
 *   repeat-headers=1  SPS/PPS before every IDR (x264's default, stated so that nobody
 *                     turns it off with AV_CODEC_FLAG_GLOBAL_HEADER by accident);
 *   scenecut=0        no IDRs or I frames at scene cuts. IDR placement stays ours: the
 *                     period and the receivers' (rate-limited) requests. A layout switch is
 *                     a scene cut, and without lookahead x264 would spend a VBV-limited
 *                     I frame on it right when the new layout needs bits; a P frame codes
 *                     the new content in intra blocks just as well and keeps the rate
 *                     steady on the commune links.
 * nal-hrd is left off: HRD timing SEI is of no use to RTP receivers, nal-hrd=cbr would
 * pad every quiet picture with filler up to the bitrate (wasting the link on a static
 * hall), and x264 refuses to change VBV settings at run time once NAL HRD is on
 * ("VBV parameters cannot be changed when NAL HRD is in use"), which set_bitrate needs. */
#define ENC_X264_PARAMS "repeat-headers=1:scenecut=0"

struct mcu_h264_enc {
    AVCodecContext *ctx;
    AVFrame *frame;         /* our reference to the caller's picture during encode */
    AVPacket *pkt;
    int vbv_ms;
    int64_t bitrate;
    mcu_h264_enc_stats_t stats;
};

void mcu_h264_enc_config_default(mcu_h264_enc_config_t *cfg, int width, int height, int fps,
                                 int64_t bitrate_bps)
{
    *cfg = (mcu_h264_enc_config_t){
        .width = width,
        .height = height,
        .fps = fps,
        .bitrate_bps = bitrate_bps,
        .vbv_ms = MCU_H264_ENC_DEFAULT_VBV_MS,
        .keyint_ms = MCU_H264_ENC_DEFAULT_KEYINT_MS,
        .threads = MCU_H264_ENC_DEFAULT_THREADS,
        .preset = MCU_H264_ENC_DEFAULT_PRESET,
    };
}

static bool bitrate_ok(int64_t bps)
{
    return bps >= MCU_H264_ENC_MIN_BITRATE && bps <= MCU_H264_ENC_MAX_BITRATE;
}

static bool config_ok(const mcu_h264_enc_config_t *c)
{
    return c->width >= MCU_H264_ENC_MIN_SIZE && c->width <= MCU_H264_ENC_MAX_WIDTH &&
           c->height >= MCU_H264_ENC_MIN_SIZE && c->height <= MCU_H264_ENC_MAX_HEIGHT &&
           c->width % 2 == 0 && c->height % 2 == 0 && c->fps >= 1 &&
           c->fps <= MCU_H264_ENC_MAX_FPS && bitrate_ok(c->bitrate_bps) &&
           c->vbv_ms <= MCU_H264_ENC_MAX_VBV_MS && (int64_t)c->vbv_ms * c->fps >= 1000 &&
           c->keyint_ms > 0 && (int64_t)c->keyint_ms * c->fps >= 1000 && c->threads >= 1 &&
           c->preset && *c->preset;
}

/* Sets the three rate-control fields together: average = max rate, VBV = vbv_ms. */
static void set_rate(mcu_h264_enc_t *e, int64_t bps)
{
    e->bitrate = bps;
    e->ctx->bit_rate = bps;
    e->ctx->rc_max_rate = bps;
    e->ctx->rc_buffer_size = (int)(bps * e->vbv_ms / 1000);
}

int mcu_h264_enc_create(const mcu_h264_enc_config_t *cfg, mcu_h264_enc_t **out)
{
    *out = NULL;
    if (!config_ok(cfg))
        return MCU_ERR_CONFIG;
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (!codec)
        return MCU_ERR_UNSUPPORTED;

    mcu_h264_enc_t *e = calloc(1, sizeof *e);
    if (!e)
        return MCU_ERR_NOMEM;
    e->ctx = avcodec_alloc_context3(codec);
    e->frame = av_frame_alloc();
    e->pkt = av_packet_alloc();
    if (!e->ctx || !e->frame || !e->pkt) {
        mcu_h264_enc_destroy(&e);
        return MCU_ERR_NOMEM;
    }
    AVCodecContext *c = e->ctx;
    c->width = cfg->width;
    c->height = cfg->height;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->time_base = (AVRational){1, MCU_H264_ENC_TIME_BASE};
    c->framerate = (AVRational){cfg->fps, 1};
    c->gop_size = (int)((int64_t)cfg->fps * cfg->keyint_ms / 1000);
    c->max_b_frames = 0;
    c->flags |= AV_CODEC_FLAG_CLOSED_GOP; /* libx264's default too; the key flag relies on it */
    c->thread_count = cfg->threads;
    e->vbv_ms = cfg->vbv_ms;
    set_rate(e, cfg->bitrate_bps);

    /* Level: c->level is left unset, so x264 picks the lowest that fits. */
    int rc = 0;
    if ((rc = av_opt_set(c->priv_data, "preset", cfg->preset, 0)) < 0 ||
        (rc = av_opt_set(c->priv_data, "tune", ENC_TUNE, 0)) < 0 ||
        (rc = av_opt_set(c->priv_data, "profile", ENC_PROFILE, 0)) < 0 ||
        /* pict_type I becomes X264_TYPE_IDR rather than X264_TYPE_KEYFRAME. */
        (rc = av_opt_set(c->priv_data, "forced-idr", "1", 0)) < 0 ||
        (rc = av_opt_set(c->priv_data, "x264-params", ENC_X264_PARAMS, 0)) < 0 ||
        (rc = avcodec_open2(c, codec, NULL)) < 0) {
        mcu_h264_enc_destroy(&e);
        return mcu__av_err(rc, MCU_ERR_CONFIG);
    }
    *out = e;
    return MCU_OK;
}

void mcu_h264_enc_destroy(mcu_h264_enc_t **pe)
{
    mcu_h264_enc_t *e = pe ? *pe : NULL;
    if (!e)
        return;
    avcodec_free_context(&e->ctx);
    av_frame_free(&e->frame);
    av_packet_free(&e->pkt);
    free(e);
    *pe = NULL;
}

int mcu_h264_enc_encode(mcu_h264_enc_t *e, const AVFrame *picture, bool force_idr,
                        mcu_h264_enc_output_fn cb, void *opaque)
{
    if (!picture || !cb || picture->format != AV_PIX_FMT_YUV420P ||
        picture->width != e->ctx->width || picture->height != e->ctx->height)
        return MCU_ERR_INVAL;
    int rc = av_frame_ref(e->frame, picture);
    if (rc < 0)
        return mcu__av_err(rc, MCU_ERR_CODEC);
    /* Only force_idr decides: a picture reused from a decoder carries pict_type I/P. */
    e->frame->pict_type = force_idr ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    rc = avcodec_send_frame(e->ctx, e->frame);
    av_frame_unref(e->frame);
    if (rc < 0)
        return mcu__av_err(rc, MCU_ERR_CODEC);

    int produced = 0;
    for (;;) {
        rc = avcodec_receive_packet(e->ctx, e->pkt);
        if (rc == AVERROR(EAGAIN))
            break;
        if (rc < 0)
            return mcu__av_err(rc, MCU_ERR_CODEC);
        /* With a closed GOP, no intra refresh and no open-GOP recovery points, x264 marks
         * exactly its IDR pictures as keyframes. */
        bool idr = e->pkt->flags & AV_PKT_FLAG_KEY;
        e->stats.frames++;
        e->stats.bytes += (uint64_t)e->pkt->size;
        if (idr) {
            e->stats.idrs++;
            if (force_idr)
                e->stats.forced_idrs++;
        }
        rc = cb(opaque, e->pkt->data, (size_t)e->pkt->size, idr, e->pkt->pts);
        av_packet_unref(e->pkt);
        if (rc < 0)
            return rc;
        produced++;
    }
    return produced;
}

int mcu_h264_enc_set_bitrate(mcu_h264_enc_t *e, int64_t bitrate_bps)
{
    if (!bitrate_ok(bitrate_bps))
        return MCU_ERR_INVAL;
    if (bitrate_bps != e->bitrate) {
        set_rate(e, bitrate_bps);
        e->stats.bitrate_changes++;
    }
    return MCU_OK;
}

int64_t mcu_h264_enc_bitrate(const mcu_h264_enc_t *e) { return e->bitrate; }

const mcu_h264_enc_stats_t *mcu_h264_enc_stats(const mcu_h264_enc_t *e) { return &e->stats; }

/* H.264 Table A-1: the lowest level whose frame size, macroblock rate and bitrate
 * limits hold this stream (what x264 itself picks), as level_idc (31 = 3.1). */
int mcu_h264_level_idc(int width, int height, int fps, int64_t bitrate_bps)
{
    static const struct {
        int idc;
        int64_t max_mbps, max_fs, max_kbps;
    } levels[] = {
        {10, 1485, 99, 64},        {11, 3000, 396, 192},       {12, 6000, 396, 384},
        {13, 11880, 396, 768},     {20, 11880, 396, 2000},     {21, 19800, 792, 4000},
        {22, 20250, 1620, 4000},   {30, 40500, 1620, 10000},   {31, 108000, 3600, 14000},
        {32, 216000, 5120, 20000}, {40, 245760, 8192, 20000},  {41, 245760, 8192, 50000},
        {42, 522240, 8704, 50000}, {50, 589824, 22080, 135000}, {51, 983040, 36864, 240000},
    };
    int64_t fs = (int64_t)((width + 15) / 16) * ((height + 15) / 16);
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (fs <= levels[i].max_fs && fs * fps <= levels[i].max_mbps &&
            bitrate_bps <= levels[i].max_kbps * 1000)
            return levels[i].idc;
    return 51;
}
