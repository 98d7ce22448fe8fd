/*
 * video_in: a site's video from the frames its jitter buffer hands out to the pictures its
 * tile may show: which frames are decoded, the decoder, and the loss policy.
 *
 *   loop:   mcu_video_in_admit (each frame) -> queue -> mcu_video_in_take (a batch)
 *   worker: mcu_video_in_decode (each unit of the batch) -> pictures to show
 *
 * Admission. A frame the jitter buffer gave up repairing (corrupt: a hole inside it, a
 * unit cut short) or that follows a lost one asks for a keyframe at once. An H.264 decoder
 * is then given what arrived and conceals the rest; a VP8 one (libavcodec's has no
 * concealment) skips it and waits for the keyframe. A stream that restarted (new SSRC,
 * sequence restart, jitter-buffer overflow) resets the decoder. At most
 * MCU_VIDEO_IN_QUEUE units wait for a worker; beyond that the oldest is dropped and the
 * decoder restarts at a keyframe.
 *
 * The loss policy (config "loss_policy", "max_freeze_ms"). Repair has had its chance by
 * the time a damaged frame is decoded: the jitter buffer waited for the NACKed packets,
 * and the keyframe request is on its way. Then:
 *   - a clean picture is always shown;
 *   - under "conceal", a damaged one too while at most MCU_VIDEO_IN_MAX_DAMAGE of it may
 *     show concealment (its own or inherited since the last clean keyframe:
 *     codecs/video_dec.h);
 *   - under either policy, once the tile has been frozen for max_freeze_ms while pictures
 *     kept coming, whatever the decoder makes of the stream, until a clean picture (a
 *     picture from seconds ago misleads more than a smeared current one, and a tile that
 *     moves once per bound is still frozen);
 *   - never a picture decoded without references (after a reset, before a keyframe).
 * A keyframe that arrives clean ends the damage.
 *
 * Threads: admit and take run on the loop; decode and needs_keyframe on the worker that
 * owns the site's turn (one at a time); the batch hands the units from one to the other.
 * Ownership: a batch owns its units' data (mcu_video_in_batch_free); a picture's frame
 * reference belongs to the caller of mcu_video_in_decode.
 */
#ifndef MCU_VIDEO_IN_H
#define MCU_VIDEO_IN_H

#include <libavutil/frame.h>
#include <stdbool.h>
#include <stdint.h>

#include "codecs/video_dec.h"
#include "mcu/config.h"
#include "mcu/rx_stream.h"

/* Access units waiting for the decoder: a quarter second at 30 fps. More means the box
 * is overloaded; the oldest are dropped and a keyframe is requested. */
#define MCU_VIDEO_IN_QUEUE 8
/* Under the conceal policy, a damaged picture is shown while its damage (the concealed
 * shares of the pictures since the last clean keyframe, summed: video_dec.h) is at most
 * this: three pictures' worth. Measured with mcu-bench conceal on the benchmark's 360p
 * clip at 1% loss, 12 seeds (README, "Loss nobody repairs"): the SSIM of what the tile
 * shows against what the camera sees at each tick is the same from 3 up (0.958) and lower
 * below (0.957 at 2, 0.948 at 1), while 2 left up to 7% of ticks frozen and 3 at most
 * 0.5%; the pictures it lets through still average 0.82 SSIM against the sender's. */
#define MCU_VIDEO_IN_MAX_DAMAGE 3.0f

typedef struct mcu_video_in_config {
    mcu_codec_t codec;
    int64_t max_pixels;
    mcu_loss_policy_t policy;
    int max_freeze_ms;          /* 0: no bound */
    float max_damage;           /* 0: MCU_VIDEO_IN_MAX_DAMAGE (another: measurements) */
} mcu_video_in_config_t;

typedef struct mcu_video_au {
    uint8_t *data;
    size_t len;
    uint32_t timestamp;         /* RTP */
    int64_t arrival_us;         /* of the unit's last packet */
    bool reset_before;          /* the stream restarted before this unit */
    bool lost_before;           /* a whole unit was lost just before this one */
} mcu_video_au_t;

typedef struct mcu_video_in_batch {
    mcu_video_au_t aus[MCU_VIDEO_IN_QUEUE];
    int n;
} mcu_video_in_batch_t;

typedef struct mcu_video_in_picture {
    AVFrame *frame;             /* a reference: the caller's */
    uint32_t timestamp;
    int64_t arrival_us;
    bool concealed;             /* shown damaged (the policy allowed it) */
    float damage;               /* its damage (codecs/video_dec.h), 0 when clean */
} mcu_video_in_picture_t;

typedef struct mcu_video_in_stats {
    uint64_t clean;             /* pictures shown clean */
    uint64_t concealed;         /* pictures shown with concealment */
    uint64_t held;              /* pictures (or units without one) not shown */
    uint64_t skipped;           /* damaged units never decoded (VP8) */
    uint64_t queue_dropped;     /* units dropped: the queue was full */
} mcu_video_in_stats_t;

typedef struct mcu_video_in mcu_video_in_t;

int mcu_video_in_create(const mcu_video_in_config_t *cfg, mcu_video_in_t **out);
/* Frees it and its queue; NULL-safe. Never while a worker decodes. */
void mcu_video_in_destroy(mcu_video_in_t **v);

/* Loop: takes a frame out of the jitter buffer (its data is copied). Returns true when the
 * site must be asked for a keyframe. */
bool mcu_video_in_admit(mcu_video_in_t *v, const mcu_rx_frame_t *f);
/* Loop: moves the queued units into *b; their number (0: nothing queued). */
int mcu_video_in_take(mcu_video_in_t *v, mcu_video_in_batch_t *b);
void mcu_video_in_batch_free(mcu_video_in_batch_t *b);

/* Worker: decodes one unit; 1 with *out filled when it gives a picture to show, 0 when
 * not (no picture, or one the policy holds back). */
int mcu_video_in_decode(mcu_video_in_t *v, const mcu_video_au_t *au, mcu_video_in_picture_t *out);
/* Worker: the decoder waits for a clean keyframe (ask the site for one). */
bool mcu_video_in_needs_keyframe(const mcu_video_in_t *v);

/* Counters: admission's on the loop, decoding's on the worker; read them on the loop
 * while no worker decodes. */
const mcu_video_in_stats_t *mcu_video_in_stats(const mcu_video_in_t *v);

#endif
