/*
 * pix_fmt: pixel-format facts shared by the modules that hand pictures to libswscale
 * (the composer, the JPEG encoder). Header only.
 */
#ifndef MCU_PIX_FMT_H
#define MCU_PIX_FMT_H

#include <libavutil/pixfmt.h>

/* The yuvj* formats are FFmpeg's older way of saying "this yuv* format at full range":
 * returns the yuv* twin (same memory layout), or fmt itself. Handing swscale the twin
 * and the range separately spares a "deprecated pixel format" log line per context. */
static inline enum AVPixelFormat mcu__pix_fmt_plain(enum AVPixelFormat fmt)
{
    switch (fmt) {
    case AV_PIX_FMT_YUVJ420P:
        return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P:
        return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P:
        return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P:
        return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P:
        return AV_PIX_FMT_YUV411P;
    default:
        return fmt;
    }
}

#endif
