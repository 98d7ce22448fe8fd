/*
 * video_dec: one site's video decoder over libavcodec (send_packet / receive_frame), for
 * H.264 and VP8.
 *
 * Input is one access unit per call as the RTP depacketizer hands it out (H.264: Annex B;
 * VP8: one frame). Output is at most one picture per call, with a verdict on how far it
 * can be trusted:
 *
 *   - CONCEALED: the decoder reported errors for the picture and hid them (FFmpeg's error
 *     concealment fills the macroblocks of a lost or cut slice from their neighbours and
 *     the previous picture). `concealed` is the share of the picture's macroblocks it
 *     filled in, read from libavcodec's error-resilience report (see below); 1 when an
 *     error was reported without one.
 *   - DAMAGE: concealment spreads, since later pictures predict from concealed ones, and
 *     concealment builds on concealment. `damage` sums the concealed shares of the pictures
 *     since the last clean keyframe (1 is a whole picture's worth), plus
 *     MCU_VIDEO_DEC_LOST_FRAME_DAMAGE for each access unit lost whole
 *     (mcu_video_dec_note_loss), up to MCU_VIDEO_DEC_MAX_DAMAGE; a clean keyframe clears
 *     it, a damaged one sets it to its own share. Measured on the benchmark's clip, the
 *     SSIM of a picture against the sender's falls steadily with it (mcu-bench conceal).
 *   - UNRECOVERED: after creation and mcu_video_dec_reset nothing is trusted until a
 *     picture decoded from a keyframe (H.264: an access unit with an IDR slice) comes out
 *     clean; before it the references are missing and `damage` is 1.
 *   - damaged = any of the above; clean pictures have damage 0.
 *
 * Whether a damaged picture is shown is the caller's policy (mcu/site: freeze or
 * conceal). While mcu_video_dec_needs_keyframe() is true (damage > 0 or unrecovered) the
 * caller asks the site for a keyframe.
 *
 * The concealed share: libavcodec reports it only in its log ("concealing N DC, N AC,
 * N MV errors", FFmpeg's error_resilience.c, at AV_LOG_INFO). A log callback installed
 * once per process (av_log_set_callback; FFmpeg's own lines are then passed on to the
 * daemon's logger, rate-limited) reads that line for the decoder running on the calling
 * thread; every other line goes on as before. test_video_dec pins the line's format for
 * the FFmpeg the project builds with.
 *
 * VP8: libavcodec's VP8 decoder has no error concealment, so a VP8 decoder is never
 * given damaged frames (mcu_video_dec_can_conceal() is false; the caller skips them and
 * waits for a keyframe).
 *
 * Robustness: the picture size is bounded (max_pixels, checked by libavcodec before it
 * allocates), so a hostile SPS cannot make us allocate 8K frames. A mid-stream size change
 * is followed: pictures simply come out at the new size. Pixel formats are reported as
 * decoded (yuv420p, yuvj420p, or anything else a High profile stream carries); converting
 * them is the composer's job.
 *
 * Threads: one decoder is used by one thread at a time (the worker that owns the site's
 * turn); libavcodec runs single-threaded inside it.
 *
 * Ownership: the access unit is copied into a padded packet during the call and may be
 * freed afterwards. out->frame is an AVFrame owned by the decoder, valid until the next
 * decode, reset or destroy on the same decoder; av_frame_ref() it to keep it longer.
 */
#ifndef MCU_VIDEO_DEC_H
#define MCU_VIDEO_DEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavutil/frame.h>
#include <libavutil/pixfmt.h>

#include "codecs/codec.h"

/* Largest picture accepted by default, in pixels (width x coded height): 1080p with its
 * 1088 coded lines. Sites send 640x360; anything above 1080p is a broken or hostile
 * stream on a conference link, and an 8K frame would cost 50 MB per reference. */
#define MCU_VIDEO_DEC_DEFAULT_MAX_PIXELS (1920 * 1088)
/* Damage an access unit lost whole adds: the decoder shows the previous picture in its
 * place and what moved in it is missing until the next keyframe. A quarter: in a
 * conference picture most of the frame is still (measured with mcu-bench conceal). */
#define MCU_VIDEO_DEC_LOST_FRAME_DAMAGE 0.25f
/* Damage stops counting here: a stream this broken only gets worse to look at. */
#define MCU_VIDEO_DEC_MAX_DAMAGE 16.0f

typedef struct mcu_video_dec_config {
    mcu_codec_t codec;  /* MCU_CODEC_H264 or MCU_CODEC_VP8 */
    int64_t max_pixels; /* > 0: pictures larger than this are rejected */
} mcu_video_dec_config_t;

/* Fills the defaults (H.264). */
void mcu_video_dec_config_default(mcu_video_dec_config_t *cfg);

typedef struct mcu_video_dec_picture {
    AVFrame *frame;             /* owned by the decoder, see Ownership above */
    int width, height;          /* display size (cropping applied) */
    enum AVPixelFormat pix_fmt;
    int64_t pts;                /* the pts given with the access unit it came from */
    bool keyframe;              /* decoded from a keyframe access unit */
    bool decode_error;          /* the decoder reported errors for this very picture */
    bool unrecovered;           /* no clean keyframe since creation or reset */
    float concealed;            /* share of this picture's macroblocks concealed, 0..1 */
    float damage;               /* concealment, own and inherited (above), 0 when clean */
    bool damaged;               /* decode_error, unrecovered or damage > 0 */
} mcu_video_dec_picture_t;

typedef struct mcu_video_dec_stats {
    uint64_t access_units;      /* decode calls with data */
    uint64_t pictures;          /* pictures out, good or not */
    uint64_t good;              /* pictures out with damaged == false */
    uint64_t decode_errors;     /* pictures with decode_error */
    uint64_t suppressed;        /* clean pictures that inherited damage or were unrecovered */
    uint64_t send_errors;       /* access units libavcodec refused */
    uint64_t resets;
    uint64_t concealed_mbs;     /* macroblocks concealed, summed */
} mcu_video_dec_stats_t;

typedef struct mcu_video_dec mcu_video_dec_t;

/* Creates a decoder; `cfg` may be NULL for the defaults. *out owned by the caller.
 * MCU_ERR_CONFIG for a bad config, MCU_ERR_UNSUPPORTED for a codec it does not take or
 * libavcodec lacks, MCU_ERR_NOMEM. */
int mcu_video_dec_create(const mcu_video_dec_config_t *cfg, mcu_video_dec_t **out);
/* Frees it and sets *d = NULL; NULL-safe. */
void mcu_video_dec_destroy(mcu_video_dec_t **d);

/* Decodes one access unit with presentation time `pts` (any unit; handed back with the
 * picture). Returns 1 with *out filled, 0 when no picture came out, or a negative code
 * when the unit could not be decoded and gave no picture (MCU_ERR_CODEC; the decoder then
 * waits for a keyframe), MCU_ERR_INVAL for an empty unit, MCU_ERR_TOO_BIG for one over
 * INT_MAX bytes, MCU_ERR_NOMEM. */
int mcu_video_dec_decode(mcu_video_dec_t *d, const uint8_t *au, size_t len, int64_t pts,
                         mcu_video_dec_picture_t *out);

/* An access unit was lost whole before the next one: its damage (see above). */
void mcu_video_dec_note_loss(mcu_video_dec_t *d);

/* Drops every buffered and reference picture (the stream restarted: a new SSRC, a
 * sequence restart, an overloaded queue) and waits for the next keyframe. */
void mcu_video_dec_reset(mcu_video_dec_t *d);

/* True while pictures are not clean (damage or unrecovered): ask the site for a keyframe. */
bool mcu_video_dec_needs_keyframe(const mcu_video_dec_t *d);
/* Whether the decoder conceals damaged access units (H.264) or must never be given one
 * (VP8). */
bool mcu_video_dec_can_conceal(const mcu_video_dec_t *d);
mcu_codec_t mcu_video_dec_codec(const mcu_video_dec_t *d);

const mcu_video_dec_stats_t *mcu_video_dec_stats(const mcu_video_dec_t *d);

#endif
