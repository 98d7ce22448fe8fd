/*
 * h264_dec: one site's H.264 decoder over libavcodec (send_packet / receive_frame).
 *
 * Input is one Annex-B access unit per call, as the RTP depacketizer hands it out.
 * Output is at most one picture per call, with a verdict on whether it may be shown:
 *
 *   - A picture is DAMAGED when FFmpeg reports errors for it: a nonzero
 *     frame->decode_error_flags (concealment, missing reference, invalid bitstream), the
 *     AV_FRAME_FLAG_CORRUPT flag (decoded from a reference FFmpeg never saw), or an error
 *     from avcodec_send_packet for the access unit it came out of.
 *   - After a damaged picture, after mcu_h264_dec_reset and at creation, the decoder
 *     WAITS FOR A KEYFRAME: every picture is marked damaged (it may predict from damaged
 *     or missing pictures even if FFmpeg saw nothing wrong in it) until a picture decoded
 *     from an access unit that contains an IDR slice comes out clean.
 *
 * The caller shows a picture only when the call returned 1 and out->damaged is false;
 * otherwise it keeps the last good picture and, while mcu_h264_dec_needs_keyframe() is
 * true, asks the site for a keyframe (PLI/FIR, rate-limited by the caller).
 *
 * Robustness: the picture size is bounded (max_pixels, checked by libavcodec before it
 * allocates), so a hostile SPS cannot make us allocate 8K frames. A mid-stream SPS
 * change (another resolution) is followed: pictures simply come out at the new size.
 * Pixel formats are reported as decoded (yuv420p, yuvj420p for full range, or anything
 * else a High profile stream carries); converting them is the composer's job.
 *
 * Threads: one decoder is used by one thread at a time (the worker that owns the site's
 * turn); libavcodec runs single-threaded inside it.
 *
 * Ownership: the access unit is copied into a padded packet during the call and may be
 * freed afterwards. out->frame is an AVFrame owned by the decoder, valid until the next
 * decode, reset or destroy on the same decoder; av_frame_ref() it to keep it longer.
 */
#ifndef MCU_H264_DEC_H
#define MCU_H264_DEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavutil/frame.h>
#include <libavutil/pixfmt.h>

/* Largest picture accepted by default, in pixels (width x coded height): 1080p with its
 * 1088 coded lines. Sites send 640x360; anything above 1080p is a broken or hostile
 * stream on a conference link, and an 8K frame would cost 50 MB per reference. */
#define MCU_H264_DEC_DEFAULT_MAX_PIXELS (1920 * 1088)

typedef struct mcu_h264_dec_config {
    int64_t max_pixels; /* > 0: pictures larger than this are rejected */
} mcu_h264_dec_config_t;

/* Fills the defaults. */
void mcu_h264_dec_config_default(mcu_h264_dec_config_t *cfg);

typedef struct mcu_h264_dec_picture {
    AVFrame *frame;             /* owned by the decoder, see Ownership above */
    int width, height;          /* display size (cropping applied) */
    enum AVPixelFormat pix_fmt;
    int64_t pts;                /* the pts given with the access unit it came from */
    bool keyframe;              /* decoded from an access unit containing an IDR slice */
    bool decode_error;          /* FFmpeg reported errors for this very picture */
    bool damaged;               /* do not show: decode_error, or decoded while waiting
                                 * for a keyframe */
} mcu_h264_dec_picture_t;

typedef struct mcu_h264_dec_stats {
    uint64_t access_units;      /* decode calls with data */
    uint64_t pictures;          /* pictures out, good or not */
    uint64_t good;              /* pictures out with damaged == false */
    uint64_t decode_errors;     /* pictures with decode_error */
    uint64_t suppressed;        /* clean pictures held back while waiting for a keyframe */
    uint64_t send_errors;       /* access units libavcodec refused */
    uint64_t resets;
} mcu_h264_dec_stats_t;

typedef struct mcu_h264_dec mcu_h264_dec_t;

/* Creates a decoder; `cfg` may be NULL for the defaults. *out owned by the caller.
 * MCU_ERR_CONFIG for a bad config, MCU_ERR_UNSUPPORTED if libavcodec has no H.264
 * decoder, MCU_ERR_NOMEM. */
int mcu_h264_dec_create(const mcu_h264_dec_config_t *cfg, mcu_h264_dec_t **out);
/* Frees it and sets *d = NULL; NULL-safe. */
void mcu_h264_dec_destroy(mcu_h264_dec_t **d);

/* Decodes one Annex-B access unit (3- or 4-byte start codes) with presentation time
 * `pts` (any unit; handed back with the picture). Returns 1 with *out filled, 0 when no
 * picture came out, or a negative code when the access unit could not be decoded and
 * gave no picture (MCU_ERR_CODEC; the decoder then waits for a keyframe), MCU_ERR_INVAL
 * for an empty unit, MCU_ERR_TOO_BIG for one over INT_MAX bytes, MCU_ERR_NOMEM. */
int mcu_h264_dec_decode(mcu_h264_dec_t *d, const uint8_t *au, size_t len, int64_t pts,
                        mcu_h264_dec_picture_t *out);

/* Drops every buffered and reference picture (after packet loss the caller cannot
 * conceal, or an SSRC change) and waits for the next IDR. */
void mcu_h264_dec_reset(mcu_h264_dec_t *d);

/* True while pictures are held back until a clean IDR: ask the site for a keyframe. */
bool mcu_h264_dec_needs_keyframe(const mcu_h264_dec_t *d);

const mcu_h264_dec_stats_t *mcu_h264_dec_stats(const mcu_h264_dec_t *d);

#endif
