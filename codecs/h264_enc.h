/*
 * h264_enc: the ONE H.264 encoder of an output profile (libavcodec + libx264). Every
 * receiver of the profile gets the same access units; receivers never cause a second
 * encode, their keyframe requests become force_idr on the next picture.
 *
 * The stream suits low-end decoders on low-bandwidth links:
 *   - Constrained Baseline (profile_idc 66, constraint_set0/1 set), no B-frames, so
 *     decode order is output order and nothing waits for a future picture;
 *   - the level is the lowest that Table A-1 allows for the size, frame rate and VBV
 *     (x264 computes it; nothing is forced);
 *   - x264's zerolatency tuning: no lookahead, no frame threads: one picture in, one
 *     access unit out, in the same call;
 *   - CBR-like rate control: average = max rate = bitrate_bps, VBV buffer vbv_ms of it;
 *   - SPS and PPS in band before every IDR (repeat-headers), nothing out of band, so a
 *     receiver can start at any IDR;
 *   - an IDR every keyint_ms whatever happens (players such as ffplay and VLC never ask
 *     for one), and a real IDR, not a recovery-point I frame, when asked (force_idr).
 *     A forced IDR starts a new period: the next periodic one comes keyint_ms after it.
 *     Scene cuts do not insert IDRs (see h264_enc.c).
 *
 * Timestamps: pts is in MCU_H264_ENC_TIME_BASE units (the 90 kHz RTP clock) and comes
 * back unchanged with the access unit made from the picture. The encoder assumes
 * constant frame rate (cfg.fps) for rate control, whatever the pts say.
 *
 * Threads: not thread-safe; encode and set_bitrate are called from the one worker that
 * runs the profile's compose+encode step.
 *
 * Ownership: the picture stays the caller's; it is referenced during the call only (pass
 * a reference-counted frame, e.g. from av_frame_get_buffer, or libavcodec copies it).
 * The access unit given to the callback belongs to the encoder and is valid only during
 * the callback.
 */
#ifndef MCU_H264_ENC_H
#define MCU_H264_ENC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavutil/frame.h>

/* Units of picture->pts and of the pts handed back: the RTP clock of H.264. */
#define MCU_H264_ENC_TIME_BASE 90000

/* VBV buffer, in ms at the bitrate. 500 ms holds 12 frames' worth of bits at 25 fps,
 * room for a clean IDR (720p at 900 kbps: ~23 KB, 5 frames' worth, 34-35 dB on the test
 * pattern), while a burst adds at most half a second of queueing on a link that carries
 * exactly the bitrate. */
#define MCU_H264_ENC_DEFAULT_VBV_MS 500
/* Upper bound on vbv_ms: a larger buffer means bursts that sit in a slow commune link's
 * queue for more than a second, past what a conversation tolerates. */
#define MCU_H264_ENC_MAX_VBV_MS 1000
/* Periodic IDR. Receivers that never send PLI/FIR (ffplay, VLC, a decoder that just
 * joined and cannot signal) recover within this. Measured at 720p 900 kbps: an IDR is
 * ~23 KB against ~4.2 KB for a P frame, so one every 4 s takes ~4% of the bits (every
 * 1 s would take ~17%, and each one dents the pictures after it). */
#define MCU_H264_ENC_DEFAULT_KEYINT_MS 4000
/* x264 threads. One: x264 veryfast needs ~4.5-5 ms per 720p picture on one core here
 * (an eighth of the 40 ms tick), the worker pool already runs the profiles side by side,
 * and zerolatency's sliced threads would split every picture into that many slices
 * (worse compression, more bits on the wire) and compete with the pool and the site
 * decoders for the same two cores. Raise it only for sizes well above 720p. */
#define MCU_H264_ENC_DEFAULT_THREADS 1
/* x264 speed preset. Baseline already turns off much of what separates the slower
 * presets (CABAC, B-frames, 8x8 transform). Measured with ffmpeg on noisy 720p testsrc2
 * at 900 kbps, one thread, PSNR Y: ultrafast 32.79 dB, superfast 32.79, veryfast 32.91
 * at 1.5x superfast's time, faster 32.96 at 1.75x veryfast's. veryfast is the knee; past it the
 * CPU is better spent decoding more sites. */
#define MCU_H264_ENC_DEFAULT_PRESET "veryfast"

/* Bitrate bounds: anything outside is a caller bug. x264 counts in kbit/s, and below
 * 32 kbps no conference picture is usable; 20 Mbps is above any profile we send. */
#define MCU_H264_ENC_MIN_BITRATE 32000
#define MCU_H264_ENC_MAX_BITRATE 20000000
/* Picture size bounds: x264 needs even sizes for 4:2:0; 4096x2304 is level 5.1/5.2's
 * 36864 macroblocks, the largest size that common decoders' levels know. */
#define MCU_H264_ENC_MIN_SIZE 16
#define MCU_H264_ENC_MAX_WIDTH 4096
#define MCU_H264_ENC_MAX_HEIGHT 2304
/* Frame rate bounds: output ticks at 1..60 fps. */
#define MCU_H264_ENC_MAX_FPS 60

typedef struct mcu_h264_enc_config {
    int width, height;          /* even, MCU_H264_ENC_MIN_SIZE..MAX_WIDTH/HEIGHT */
    int fps;                    /* 1..MCU_H264_ENC_MAX_FPS */
    int64_t bitrate_bps;        /* MCU_H264_ENC_MIN_BITRATE..MAX_BITRATE */
    int vbv_ms;                 /* at least one frame (1000/fps), at most MAX_VBV_MS */
    int keyint_ms;              /* periodic IDR; at least one frame */
    int threads;                /* x264 threads, >= 1 */
    const char *preset;         /* x264 preset name; copied at create */
} mcu_h264_enc_config_t;

/* Fills size, rate and bitrate, and the defaults for the rest. */
void mcu_h264_enc_config_default(mcu_h264_enc_config_t *cfg, int width, int height, int fps,
                                 int64_t bitrate_bps);

typedef struct mcu_h264_enc_stats {
    uint64_t frames;            /* access units produced */
    uint64_t idrs;              /* of which IDR (periodic and forced) */
    uint64_t forced_idrs;       /* IDRs produced for force_idr */
    uint64_t bytes;             /* Annex-B bytes produced */
    uint64_t bitrate_changes;   /* successful mcu_h264_enc_set_bitrate calls */
} mcu_h264_enc_stats_t;

/* Receives one access unit (Annex-B, 4-byte start codes; SPS and PPS first in an IDR).
 * `au` is valid only during the call. A negative return stops mcu_h264_enc_encode and is
 * passed through. */
typedef int (*mcu_h264_enc_output_fn)(void *opaque, const uint8_t *au, size_t len, bool idr,
                                      int64_t pts);

typedef struct mcu_h264_enc mcu_h264_enc_t;

/* Opens the encoder. MCU_ERR_CONFIG for a config outside the bounds above or one x264
 * refuses (unknown preset), MCU_ERR_UNSUPPORTED if libavcodec has no libx264,
 * MCU_ERR_NOMEM. *out owned by the caller. */
int mcu_h264_enc_create(const mcu_h264_enc_config_t *cfg, mcu_h264_enc_t **out);
/* Frees it and sets *e = NULL; NULL-safe. Nothing is pending (zerolatency). */
void mcu_h264_enc_destroy(mcu_h264_enc_t **e);

/* Encodes one picture (yuv420p, the encoder's size, pts in MCU_H264_ENC_TIME_BASE).
 * force_idr makes this picture an IDR. Calls `cb` for each access unit produced (one per
 * picture) and returns how many, or a negative code: MCU_ERR_INVAL for a picture of the
 * wrong format or size, MCU_ERR_CODEC, MCU_ERR_NOMEM, or the callback's. The picture's
 * own pict_type is ignored. */
int mcu_h264_enc_encode(mcu_h264_enc_t *e, const AVFrame *picture, bool force_idr,
                        mcu_h264_enc_output_fn cb, void *opaque);

/* Changes the target bitrate from the next picture on, keeping rate control CBR-like
 * (max rate = bitrate, VBV = vbv_ms of it). This works at run time in FFmpeg 5.1:
 * libavcodec's libx264 wrapper compares its bit_rate / rc_max_rate / rc_buffer_size with
 * x264's before every picture and calls x264_encoder_reconfig() when they differ, and
 * x264 accepts new VBV values because the stream was opened with VBV on and without NAL
 * HRD. Measured: 600 -> 250 kbps at 360p25 gives 243 kbps half a second later. The SPS
 * (and its level) are not rewritten. MCU_ERR_INVAL outside the bitrate bounds. */
int mcu_h264_enc_set_bitrate(mcu_h264_enc_t *e, int64_t bitrate_bps);

/* The target bitrate currently asked for. */
int64_t mcu_h264_enc_bitrate(const mcu_h264_enc_t *e);

const mcu_h264_enc_stats_t *mcu_h264_enc_stats(const mcu_h264_enc_t *e);

/* The level_idc H.264 Table A-1 requires for such a stream (31 for 3.1): the lowest
 * level whose frame size, macroblock rate and bitrate limits it fits, as x264 picks it.
 * Used to announce the level in SDP before the first SPS exists. */
int mcu_h264_level_idc(int width, int height, int fps, int64_t bitrate_bps);

#endif
