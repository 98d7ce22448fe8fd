/*
 * pyramid: the composer's exact 2x box halvings of a decoded picture (layouts/composer.c,
 * HALVE_MAX_STEPS), made by the site's decode worker right after decoding and carried
 * with the picture's AVFrame, so that the tick's compose finds them done.
 *
 * Why: a 640x360 site drawn into a 256x144 tile is first halved to 320x180, which reads
 * the whole 345 KB picture. At the tick that picture was decoded up to 40 ms and 17 other
 * sites earlier and comes from memory: live, the compose stage took 1.2-1.4 ms for 18
 * tiles against 0.27 ms with the same pictures in cache (test_composer's yen_mo_grid20).
 * Right after decoding, the picture is still in the core's cache; the tick then reads
 * only the 86 KB halving.
 *
 *   decode worker                               compose (tick)
 *   picture ──2x box──► level 1 ──2x box──► 2   mcu_composer_draw: halving step k uses
 *   (as many levels as the composer will take  level k when the picture carries it at the
 *    for the tiles the site is shown in)       size the step needs, else halves itself
 *
 * The levels ride on AVFrame.opaque_ref (libavutil's "for free use by the API user"): a
 * reference to them goes with every av_frame_ref of the picture and they are freed with
 * the last. A tag on the buffer tells a pyramid from any other opaque_ref.
 *
 * Threads: a pool is used by one thread at a time (the site's decode worker); a picture's
 * levels are read-only once attached, by any thread. Buffers return to their pool from
 * any thread (AVBufferPool is thread-safe).
 *
 * OWNERSHIP: the pool owns its buffer pools; mcu_pyramid_pool_destroy may run while
 * pictures still hold levels (the buffers go with them). mcu_pyramid_attach gives the
 * picture a new reference and replaces its opaque_ref.
 */
#ifndef MCU_PYRAMID_H
#define MCU_PYRAMID_H

#include <stdbool.h>

#include <libavutil/frame.h>

/* Levels at most: the composer's HALVE_MAX_STEPS (a 4096-wide source into a 256-wide
 * cell needs 3). */
#define MCU_PYRAMID_MAX_LEVELS 3

typedef struct mcu_pyramid_pool mcu_pyramid_pool_t;

/* 0 and *out set, MCU_ERR_INVAL or MCU_ERR_NOMEM. */
int mcu_pyramid_pool_create(mcu_pyramid_pool_t **out);
/* NULL-safe; sets *p = NULL. */
void mcu_pyramid_pool_destroy(mcu_pyramid_pool_t **p);

/* Halves pic (yuv420p or yuvj420p, the whole picture) `levels` times, 0..
 * MCU_PYRAMID_MAX_LEVELS, stopping before a level whose source is not a multiple of 4 on
 * both sides (as the composer does), and attaches the levels to pic->opaque_ref (any
 * earlier opaque_ref is dropped; levels 0 just drops it). 0, MCU_ERR_INVAL (arguments,
 * another pixel format), MCU_ERR_NOMEM (pic is then left without levels). */
int mcu_pyramid_attach(mcu_pyramid_pool_t *pool, AVFrame *pic, int levels);

/* Level k (1 = half size) of pic's pyramid: its planes and strides, and true; false when
 * pic carries no pyramid or none that deep. */
bool mcu_pyramid_level(const AVFrame *pic, int k, const uint8_t *data[3], int linesize[3]);

/* One exact 2x box halving of a w x h I420 picture (w, h multiples of 4) into w/2 x h/2:
 * each output pixel the rounded mean of its 2x2 block (libyuv's I420Scale box at exactly
 * half, SIMD). The step both the pyramid and the composer's own halvings take.
 * 0 or MCU_ERR_INVAL. */
int mcu_pyramid_halve(const uint8_t *const src[3], const int src_ls[3], int w, int h,
                      uint8_t *const dst[3], const int dst_ls[3]);

#endif
