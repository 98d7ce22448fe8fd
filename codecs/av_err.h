/*
 * av_err: converts FFmpeg's AVERROR codes to the project's codes at the edge of the
 * modules that call libavcodec (video_dec, h264_enc). Header only: one mapping shared by
 * every FFmpeg caller instead of a copy in each.
 */
#ifndef MCU_AV_ERR_H
#define MCU_AV_ERR_H

#include <errno.h>
#include <libavutil/error.h>

#include "mcu/error.h"

/* AVERROR(ENOMEM) becomes MCU_ERR_NOMEM; every other negative value becomes `other`
 * (the caller knows what a failure means at its call site: MCU_ERR_CODEC for a decode or
 * encode, MCU_ERR_CONFIG for an open). Non-negative values pass through. */
static inline int mcu__av_err(int averr, int other)
{
    if (averr >= 0)
        return averr;
    return averr == AVERROR(ENOMEM) ? MCU_ERR_NOMEM : other;
}

#endif
