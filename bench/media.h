/*
 * media: one cached input clip, loaded whole into memory so that replaying it costs the
 * benchmark nothing but the sends. A clip is what scripts/bench.sh made once with
 * ffmpeg: MPEG-TS holding H.264 Constrained Baseline (Annex B, SPS/PPS before every
 * IDR) and Opus mono in 20 ms packets.
 *
 * OWNERSHIP: mcu_bench_media_load allocates the clip and every unit's bytes;
 * mcu_bench_media_free releases them and sets *m = NULL.
 */
#ifndef MCU_BENCH_MEDIA_H
#define MCU_BENCH_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Units per clip: a minute of 60 fps video, or of 20 ms audio packets, is more than any
 * cached clip holds (they loop); a longer file is refused rather than half loaded. */
#define MCU_BENCH_MEDIA_MAX_UNITS 4096
/* Largest clip: 64 MiB of media covers a minute of 720p at 8 Mbit/s. */
#define MCU_BENCH_MEDIA_MAX_BYTES (64u << 20)

/* Clip variants per input format a run replays: sites take them in turn, each starting
 * at its own IDR, so no two sites send the same bytes at the same time. */
#define MCU_BENCH_MAX_CLIPS 16

typedef struct mcu_bench_unit {
    uint8_t *data;
    size_t len;
    int64_t pts_us;     /* from the clip's start */
    bool key;           /* video: an IDR */
} mcu_bench_unit_t;

typedef struct mcu_bench_media {
    int width, height, fps;
    int64_t duration_us;        /* of the video: frames x frame period */
    mcu_bench_unit_t *video;    /* access units, in decode order */
    size_t n_video;
    mcu_bench_unit_t *audio;    /* Opus packets */
    size_t n_audio;
} mcu_bench_media_t;

/* 0, or MCU_ERR_IO (unreadable, or no H.264 / no Opus stream), MCU_ERR_TOO_BIG (past
 * the bounds above), MCU_ERR_NOMEM. */
int mcu_bench_media_load(const char *path, mcu_bench_media_t **out);
void mcu_bench_media_free(mcu_bench_media_t **m);

/* The index of the first IDR at or after unit `from` (wrapping), for a site that starts
 * part way into the clip; 0 if the clip has none after `from`. */
size_t mcu_bench_media_key_at(const mcu_bench_media_t *m, size_t from);

#endif
