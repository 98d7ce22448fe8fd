/*
 * conceal: what a site's tile shows when its sender loses packets and repairs none
 * (ignores NACK and PLI, as IP cameras and ffmpeg/GStreamer pipelines do), through the
 * daemon's own receive path: RTP packets of a real clip, seeded uniform loss, the site's
 * rx_stream (jitter buffer with its repair wait, depacketizer) and video_in (admission,
 * decoder, loss policy). Media time is synthetic (frames every 1/fps, the buffer polled
 * every CONCEAL_POLL_US), so a run is deterministic for a seed and takes seconds.
 *
 * Measured, against a clean decode of the same stream (the sender's pictures):
 *   frozen_pct       output ticks (at the clip's rate) whose picture is older than 200 ms,
 *                    the daemon's "frozen tile" rule (mcu_site_tile_frozen_ticks_total);
 *   ssim_shown       SSIM (libavfilter's ssim, all planes) of each picture shown against
 *                    the sender's same picture: the quality of what concealment shows;
 *   ssim_tick        SSIM of the tile at each tick against the sender's picture of that
 *                    moment: what a viewer sees against what the camera saw (a frozen
 *                    tile falls behind a moving scene, a concealed one drifts);
 * each as mean, 5th percentile and minimum, with the pictures shown clean and concealed.
 *
 * OWNERSHIP: the clip stays the caller's. *out is a new jansson object (kind "conceal")
 * the caller releases; NULL on failure.
 */
#ifndef MCU_BENCH_CONCEAL_H
#define MCU_BENCH_CONCEAL_H

#include <jansson.h>

#include "bench/media.h"
#include "mcu/config.h"

typedef struct mcu_bench_conceal_config {
    const mcu_bench_media_t *clip;  /* H.264, looped */
    double seconds;
    double loss_pct;
    uint64_t seed;
    mcu_loss_policy_t policy;
    int max_freeze_ms;
    float max_damage;               /* 0: the daemon's (MCU_VIDEO_IN_MAX_DAMAGE) */
} mcu_bench_conceal_config_t;

int mcu_bench_conceal_run(const mcu_bench_conceal_config_t *cfg, json_t **out);

#endif
