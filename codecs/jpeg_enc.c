#include "codecs/jpeg_enc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "codecs/av_err.h"
#include "codecs/pix_fmt.h"
#include "mcu/error.h"

/* Smallest source side: a 4:2:0 picture needs two rows and columns for one chroma
 * sample, and the output height is even and never taller than the source. */
#define JPEG_SRC_MIN_SIDE 2

/* swscale filter. Bilinear: when shrinking, swscale widens its taps to the reduction
 * factor (a tent over each output pixel's footprint, see layouts/composer.c), so a 1280
 * canvas reduced to a 160-wide thumbnail does not alias, at a fraction of bicubic's
 * cost. ACCURATE_RND: the range expansion (x 255/219) is rounded to nearest rather than
 * truncated, so flat areas do not come out one step dark; negligible cost at 2 fps. */
#define JPEG_SWS_FLAGS (SWS_BILINEAR | SWS_ACCURATE_RND)

/* Encoder time base: mjpeg needs one to open; a still picture has no timing. */
#define JPEG_TIME_BASE_DEN 25

/* The output size: see the header. */
static void output_size(int src_w, int src_h, int max_w, int *w, int *h)
{
    int limit = max_w ? max_w : MCU_JPEG_MAX_W;
    *w = src_w < limit ? src_w : limit;
    /* Nearest even height: 2 * round(src_h * w / src_w / 2), halves up; int64: 3840 x
     * an 8K-row source overflows no int, but a libavutil-valid size could. */
    int64_t two_rows = ((int64_t)src_h * *w + src_w) / (2 * (int64_t)src_w);
    int64_t hh = 2 * two_rows;
    if (hh > (src_h & ~1))
        hh = src_h & ~1;
    if (hh < JPEG_SRC_MIN_SIDE)
        hh = JPEG_SRC_MIN_SIDE;
    *h = (int)hh;
}

/* Scales and converts src into a new full-range YUV 4:2:0 frame of w x h, labelled
 * YUVJ420P for the encoder. */
static int convert(const AVFrame *src, enum AVPixelFormat fmt, bool full, int w, int h,
                   AVFrame **out)
{
    *out = NULL;
    AVFrame *f = av_frame_alloc();
    if (!f)
        return MCU_ERR_NOMEM;
    f->format = AV_PIX_FMT_YUVJ420P;
    f->width = w;
    f->height = h;
    f->color_range = AVCOL_RANGE_JPEG;
    f->colorspace = AVCOL_SPC_BT470BG;   /* JFIF: BT.601 */
    f->chroma_location = AVCHROMA_LOC_CENTER;
    /* Alignment 0: libavutil's choice (32 or 64), wide enough for swscale's SIMD
     * writes past the row's end (up to 7 bytes measured, see layouts/composer.c). */
    int rc = av_frame_get_buffer(f, 0);
    if (rc < 0) {
        av_frame_free(&f);
        return mcu__av_err(rc, MCU_ERR_NOMEM);
    }
    /* Ranges: the source's to full, set BEFORE sws_init_context. Setting them afterwards
     * with sws_setColorspaceDetails (as after sws_getContext) is too late in libswscale
     * 6.7: it picks its unscaled fast paths (a plane copy for yuv420p -> yuv420p, the
     * nv12 deinterleave) at init, while both ranges still read "limited", and they then
     * ignore the ranges set later; and for a source deeper than 8 bits the range
     * conversion is never set up after init, scaled or not. Measured: black (Y 16)
     * stayed 16 instead of 0 for yuv420p and nv12 at the same size and for yuv420p10le
     * at any size. With the ranges known at init every path converts (test_jpeg_enc.c
     * checks all three, scaled and unscaled). The matrix is left at the default, BT.601,
     * on both sides: swscale applies none between YUV formats, and for an RGB source it
     * is the RGB -> YUV matrix JFIF wants. */
    struct SwsContext *sws = sws_alloc_context();
    if (!sws) {
        av_frame_free(&f);
        return MCU_ERR_NOMEM;
    }
    if ((rc = av_opt_set_int(sws, "srcw", src->width, 0)) < 0 ||
        (rc = av_opt_set_int(sws, "srch", src->height, 0)) < 0 ||
        (rc = av_opt_set_int(sws, "src_format", fmt, 0)) < 0 ||
        (rc = av_opt_set_int(sws, "src_range", full ? 1 : 0, 0)) < 0 ||
        (rc = av_opt_set_int(sws, "dstw", w, 0)) < 0 ||
        (rc = av_opt_set_int(sws, "dsth", h, 0)) < 0 ||
        (rc = av_opt_set_int(sws, "dst_format", AV_PIX_FMT_YUV420P, 0)) < 0 ||
        (rc = av_opt_set_int(sws, "dst_range", 1, 0)) < 0 ||
        (rc = av_opt_set_int(sws, "sws_flags", JPEG_SWS_FLAGS, 0)) < 0 ||
        (rc = sws_init_context(sws, NULL, NULL)) < 0) {
        sws_freeContext(sws);
        av_frame_free(&f);
        return mcu__av_err(rc, MCU_ERR_CODEC);
    }
    const uint8_t *const sp[4] = {src->data[0], src->data[1], src->data[2], src->data[3]};
    int rows = sws_scale(sws, sp, src->linesize, 0, src->height, f->data, f->linesize);
    sws_freeContext(sws);
    if (rows != h) {
        av_frame_free(&f);
        return rows < 0 ? mcu__av_err(rows, MCU_ERR_CODEC) : MCU_ERR_CODEC;
    }
    *out = f;
    return MCU_OK;
}

static int encode(AVFrame *pic, int qscale, uint8_t **out, size_t *out_len)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    if (!codec)
        return MCU_ERR_UNSUPPORTED;
    AVCodecContext *ctx = avcodec_alloc_context3(codec);
    AVPacket *pkt = av_packet_alloc();
    int err = MCU_ERR_NOMEM;
    if (!ctx || !pkt)
        goto done;
    ctx->width = pic->width;
    ctx->height = pic->height;
    ctx->pix_fmt = AV_PIX_FMT_YUVJ420P;
    ctx->color_range = AVCOL_RANGE_JPEG;
    ctx->colorspace = AVCOL_SPC_BT470BG;
    ctx->chroma_sample_location = AVCHROMA_LOC_CENTER;
    ctx->time_base = (AVRational){1, JPEG_TIME_BASE_DEN};
    /* Square pixels. Also what makes libavcodec write the JFIF APP0 segment (it does only
     * with a known aspect), which declares the file YCbCr, BT.601, full range. */
    ctx->sample_aspect_ratio = (AVRational){1, 1};
    ctx->thread_count = 1;   /* one snapshot per call, on the caller's worker */
    /* Constant quantiser: qscale everywhere (mjpeg has no rate control worth the name
     * for single pictures). qmin/qmax bound the lambda libavcodec derives from it; the
     * default qmin 2 would silently turn qscale 1 into 2. */
    ctx->flags |= AV_CODEC_FLAG_QSCALE;
    ctx->global_quality = FF_QP2LAMBDA * qscale;
    ctx->qmin = qscale;
    ctx->qmax = qscale;
    int rc = avcodec_open2(ctx, codec, NULL);
    if (rc < 0) {
        err = mcu__av_err(rc, MCU_ERR_CONFIG);
        goto done;
    }
    pic->quality = ctx->global_quality;
    pic->pts = 0;
    rc = avcodec_send_frame(ctx, pic);
    if (rc >= 0)
        rc = avcodec_send_frame(ctx, NULL);   /* flush: the one packet comes out now */
    if (rc >= 0)
        rc = avcodec_receive_packet(ctx, pkt);
    if (rc < 0) {
        err = mcu__av_err(rc, MCU_ERR_CODEC);
        goto done;
    }
    err = MCU_ERR_CODEC;
    if (pkt->size < 4)
        goto done;
    err = MCU_ERR_NOMEM;
    *out = malloc((size_t)pkt->size);
    if (!*out)
        goto done;
    memcpy(*out, pkt->data, (size_t)pkt->size);
    *out_len = (size_t)pkt->size;
    err = MCU_OK;
done:
    av_packet_free(&pkt);
    avcodec_free_context(&ctx);
    return err;
}

int mcu_jpeg_encode(const AVFrame *src, int max_w, int qscale, uint8_t **out,
                    size_t *out_len)
{
    if (out)
        *out = NULL;
    if (out_len)
        *out_len = 0;
    if (!src || !out || !out_len || !src->data[0])
        return MCU_ERR_INVAL;
    if (max_w != 0 && (max_w < MCU_JPEG_MIN_W || max_w > MCU_JPEG_MAX_W))
        return MCU_ERR_INVAL;
    if (qscale < MCU_JPEG_QSCALE_MIN || qscale > MCU_JPEG_QSCALE_MAX)
        return MCU_ERR_INVAL;
    if (src->width < JPEG_SRC_MIN_SIDE || src->height < JPEG_SRC_MIN_SIDE ||
        av_image_check_size((unsigned)src->width, (unsigned)src->height, 0, NULL) < 0)
        return MCU_ERR_INVAL;
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get((enum AVPixelFormat)src->format);
    if (!desc)
        return MCU_ERR_INVAL;
    if (desc->flags & (AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BITSTREAM))
        return MCU_ERR_UNSUPPORTED;
    const enum AVPixelFormat fmt = mcu__pix_fmt_plain((enum AVPixelFormat)src->format);
    if (!sws_isSupportedInput(fmt))
        return MCU_ERR_UNSUPPORTED;
    /* Every plane the format has must be there. */
    for (int i = 0; i < desc->nb_components; i++)
        if (!src->data[desc->comp[i].plane])
            return MCU_ERR_INVAL;
    const bool full = fmt != src->format || src->color_range == AVCOL_RANGE_JPEG ||
                      (desc->flags & AV_PIX_FMT_FLAG_RGB);

    int w, h;
    output_size(src->width, src->height, max_w, &w, &h);
    AVFrame *pic;
    int err = convert(src, fmt, full, w, h, &pic);
    if (err)
        return err;
    err = encode(pic, qscale, out, out_len);
    av_frame_free(&pic);
    if (err) {
        free(*out);
        *out = NULL;
        *out_len = 0;
    }
    return err;
}
