/*
 * composer: scales each site's decoded picture straight into its tile of the canvas.
 *
 * One call draws one tile: mcu_layout_fit places the picture in the cell (letterbox or
 * crop), the letterbox bars get the background colour, and the picture is scaled into
 * the placed rectangle of the canvas planes, at the tile's offset, with the canvas
 * strides. Pixels outside the cell are never written.
 *
 *   cell (from the layout)             yuv420p / yuvj420p: exact 2x box halvings (libyuv)
 *   +--------------------------+       while more than 2x remains, then bilinear within
 *   |   bar (background)       |       2x straight into the canvas: layouts/scale_dsp
 *   +--------------------------+       (AVX2), or libyuv for the ratios it has its own
 *                                      SIMD for (2x, 3/4, copy; see composer.c).
 *   |   placed picture (dst)   |       yuvj420p / full range: the tile is then mapped to
 *   +--------------------------+       limited range in place (the canvas is one range).
 *   |   bar (background)       |       anything else (yuv422p, yuv444p, nv12, 10-bit...):
 *   +--------------------------+       swscale, per-tile cached context, through a
 *                                      per-tile scratch (see below).
 *
 * Why swscale does not write the canvas directly: measured on FFmpeg 5.1 (x86-64),
 * sws_scale writes its output rows in 8-byte blocks, so it writes up to 7 bytes past the
 * destination width (a 446-wide row gets 448 bytes, its 223-wide chroma 224). FFmpeg
 * assumes padded frames; inside a canvas those bytes belong to the neighbouring tile,
 * which another thread may be drawing. So the swscale path
 * scales into a padded per-tile scratch and copies the placed rectangle (exact width)
 * into the canvas. That copy is the placed size only (about 55 KB for a 256x144 tile),
 * small next to the conversion itself, and the path is the exception: H.264 from the
 * sites is 4:2:0 8-bit. libyuv's I420Scale writes exactly the width asked (its "Any"
 * row variants finish the remainder in C), checked by the guard-byte tests.
 *
 * Threads: one composer serves one canvas layout. Different tile indexes may be drawn
 * from different threads at the same time onto the same canvas, provided their cells
 * do not overlap (true of every preset; custom layouts that overlap must draw the
 * overlapping tiles in order on one thread): each tile index has its own cached state,
 * and every write stays inside the tile's cell. One tile index must not be drawn from
 * two threads at once. mcu_composer_draw_no_signal keeps no state. mcu_composer_force_c
 * changes libyuv's process-wide CPU flags: call it only while no draw runs (startup,
 * tests).
 *
 * CPU dispatch: libyuv and scale_dsp pick their SIMD kernels from the CPU at run time.
 * MCU_CPU_MASK=0 (or a value that is not a number) in the environment, read once at the
 * first mcu_composer_create, or mcu_composer_force_c(true) forces libyuv's C paths
 * (MaskCpuFlags(1): the "initialised" bit alone, no SIMD) and scale_dsp's reference. swscale keeps its own
 * dispatch (FFmpeg's av_force_cpu_flags is the process-wide knob there and belongs to
 * whoever owns the process: it also affects every decoder and the encoder).
 *
 * Halvings made ahead: when the picture carries them (layouts/pyramid.h, made by the
 * decode worker while the picture was still in its cache), the halving steps take them
 * instead of reading the whole picture; the tile comes out the same, byte for byte.
 *
 * OWNERSHIP: the composer owns its per-tile swscale contexts and scratch buffers, freed
 * by mcu_composer_destroy. The source frame and the canvas stay the caller's; the source
 * is only read during the call, nothing of it is kept.
 */
#ifndef MCU_COMPOSER_H
#define MCU_COMPOSER_H

#include <stdbool.h>

#include <libavutil/frame.h>

#include "layouts/canvas.h"
#include "layouts/layout.h"

/* Tiles one composer draws: one per layout cell, so the same bound as the layout. */
#define MCU_COMPOSER_MAX_TILES MCU_LAYOUT_MAX_CELLS

/* Background (letterbox bars, and the canvas outside cells): limited-range black. The
 * near-black of a dark conference room reads as part of the picture, bars as nothing. */
#define MCU_COMPOSER_BG_Y 16
#define MCU_COMPOSER_BG_U 128
#define MCU_COMPOSER_BG_V 128

/* A site without a picture (not yet decoded, stalled, camera off): a dark slate tile,
 * RGB(28, 32, 40) in BT.601 limited range, lighter than the background and faintly
 * blue, so the operator sees "a site is here but silent" and not "an empty slot", and
 * dark enough that a white name label (drawn later by the label module) stands out. */
#define MCU_COMPOSER_NOSIG_Y 43
#define MCU_COMPOSER_NOSIG_U 132
#define MCU_COMPOSER_NOSIG_V 126
/* Its inner frame: RGB(56, 64, 80), a thin lighter outline that keeps neighbouring
 * silent tiles apart (two dark tiles side by side would otherwise merge into one). */
#define MCU_COMPOSER_NOSIG_FRAME_Y 70
#define MCU_COMPOSER_NOSIG_FRAME_U 136
#define MCU_COMPOSER_NOSIG_FRAME_V 123
/* The frame sits 1/MCU_COMPOSER_NOSIG_INSET_DIV of the cell's shorter side inside the
 * cell edge (8 px on a 256x144 tile), MCU_COMPOSER_NOSIG_FRAME_PX thick: 2 px, one chroma
 * sample, the thinnest line that does not bleed into half-coloured chroma. */
#define MCU_COMPOSER_NOSIG_INSET_DIV 16
#define MCU_COMPOSER_NOSIG_FRAME_PX 2

typedef struct mcu_composer mcu_composer_t;

/* Allocates a composer with no cached state. The first call in the process reads
 * MCU_CPU_MASK and initialises libyuv's CPU detection (so that later draws from several
 * threads only read libyuv's flags).
 * 0 and *out set; MCU_ERR_INVAL (NULL out) or MCU_ERR_NOMEM (*out = NULL). */
int mcu_composer_create(mcu_composer_t **out);

/* Frees every cached context and scratch buffer; sets *c = NULL. NULL-safe. */
void mcu_composer_destroy(mcu_composer_t **c);

/* Draws `src` into `cell` of `canvas` (see the header comment).
 *   tile_index   0..MCU_COMPOSER_MAX_TILES-1: selects the cached state; use one index per
 *                cell, and a given index from one thread at a time.
 *   cell         even-aligned, inside the canvas (a cell of mcu_layout_compute or
 *                mcu_layout_custom for the canvas size).
 *   src          a picture of at least 2x2: src->width x src->height (cropping already
 *                applied, as libavcodec does by default), in software pixel format.
 *                Full range (yuvj*, or color_range == AVCOL_RANGE_JPEG) is converted to
 *                the canvas's limited range. The colour matrix is passed through: a
 *                BT.709 site on the canvas shows a slight hue shift, not worth a matrix
 *                multiply per pixel per tile.
 *   fit          MCU_FIT_LETTERBOX or MCU_FIT_CROP.
 * 0; MCU_ERR_INVAL (NULL arguments, bad index, cell or fit, source too small or larger
 * than av_image_check_size allows); MCU_ERR_UNSUPPORTED (a hardware or bitstream pixel
 * format, or one swscale cannot read); MCU_ERR_NOMEM. On error the canvas is untouched. */
int mcu_composer_draw(mcu_composer_t *c, mcu_canvas_t *canvas, int tile_index,
                      mcu_rect_t cell, const AVFrame *src, mcu_fit_t fit);

/* How many exact 2x halvings mcu_composer_draw takes for a yuv420p picture of
 * src_w x src_h drawn into `cell` with `fit`, when they are of the whole picture (0 when
 * the fit crops it): the levels worth making ahead with layouts/pyramid.h, which the
 * draw then uses instead of halving the picture itself. 0 for arguments it refuses. */
int mcu_composer_halvings(int src_w, int src_h, mcu_rect_t cell, mcu_fit_t fit);

/* Fills `cell` with the no-signal tile (MCU_COMPOSER_NOSIG_*), with its inner frame
 * when the cell is large enough to show one. The label module writes the site's name
 * over it later. 0, or MCU_ERR_INVAL (NULL arguments, cell not even or not inside). */
int mcu_composer_draw_no_signal(mcu_composer_t *c, mcu_canvas_t *canvas, mcu_rect_t cell);

/* true: libyuv runs its C reference paths (MaskCpuFlags(1)) and scale_dsp its C
 * reference; false: the SIMD detected for this CPU (MaskCpuFlags(-1)), whatever
 * MCU_CPU_MASK said. Process-wide; only while no draw runs. */
void mcu_composer_force_c(bool on);

#endif
