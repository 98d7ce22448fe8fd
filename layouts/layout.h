/*
 * layout: pure layout geometry. A preset (or a caller's custom regions) and a canvas size
 * become the rectangles the composer scales each site into; one more function places a
 * source picture inside one rectangle (letterbox or crop).
 *
 * No pixels, no allocation, no state: every function fills a caller-owned struct and is
 * safe to call from any thread. Sizes are pixels of a YUV 4:2:0 canvas, so every
 * rectangle produced has even x, y, w and h (one chroma sample covers 2x2 luma) and lies
 * inside the canvas. Pixels are assumed square (sample aspect ratio 1:1).
 *
 * Presets, drawn on a 16:9 canvas. Cells are numbered in the order of
 * mcu_layout_t.cells: reading order (top to bottom, then left to right), and for the
 * speaker layouts the large cell is always cell 0.
 *
 *   grid1 1x1       grid2 (2 x 16:9)   grid4 2x2        grid6 3x2
 *   +-----------+   .............      +-----+-----+    +---+---+---+
 *   |           |   :           :      |  0  |  1  |    | 0 | 1 | 2 |
 *   |     0     |   +-----+-----+      +-----+-----+    +---+---+---+
 *   |           |   |  0  |  1  |      |  2  |  3  |    | 3 | 4 | 5 |
 *   +-----------+   +-----+-----+      +-----+-----+    +---+---+---+
 *                   :           :
 *                   .............  (dotted: canvas left empty, not a cell)
 *
 *   grid9 3x3       grid12 4x3         grid16 4x4
 *   +--+--+--+      +--+--+--+--+      +--+--+--+--+
 *   | 0| 1| 2|      | 0| 1| 2| 3|      | 0| 1| 2| 3|
 *   +--+--+--+      +--+--+--+--+      +--+--+--+--+
 *   | 3| 4| 5|      | 4| 5| 6| 7|      | 4| 5| 6| 7|
 *   +--+--+--+      +--+--+--+--+      +--+--+--+--+
 *   | 6| 7| 8|      | 8| 9|10|11|      | 8| 9|10|11|
 *   +--+--+--+      +--+--+--+--+      +--+--+--+--+
 *                                      |12|13|14|15|
 *                                      +--+--+--+--+
 *
 *   grid20 5x4          grid25 5x5
 *   +--+--+--+--+--+    +--+--+--+--+--+
 *   | 0| 1| 2| 3| 4|    | 0| 1| 2| 3| 4|
 *   +--+--+--+--+--+    +--+--+--+--+--+
 *   | 5| 6| 7| 8| 9|    | 5| 6| 7| 8| 9|
 *   +--+--+--+--+--+    +--+--+--+--+--+
 *   |10|11|12|13|14|    |10|11|12|13|14|
 *   +--+--+--+--+--+    +--+--+--+--+--+
 *   |15|16|17|18|19|    |15|16|17|18|19|
 *   +--+--+--+--+--+    +--+--+--+--+--+
 *                       |20|21|22|23|24|
 *                       +--+--+--+--+--+
 *
 *   speaker1+5 on 3x3   speaker1+7 on 4x4   speaker1+12 on 4x4
 *   +-----+--+          +--------+--+       +--+--+--+--+
 *   |     | 1|          |        | 1|       | 1| 2| 3| 4|
 *   |  0  +--+          |        +--+       +--+--+--+--+
 *   |     | 2|          |   0    | 2|       | 5|     | 6|
 *   +--+--+--+          |        +--+       +--+  0  +--+
 *   | 3| 4| 5|          |        | 3|       | 7|     | 8|
 *   +--+--+--+          +--+--+--+--+       +--+--+--+--+
 *                       | 4| 5| 6| 7|       | 9|10|11|12|
 *                       +--+--+--+--+       +--+--+--+--+
 *
 * Every preset except grid2 divides the canvas into the grid shown and covers it exactly:
 * the canvas is cut at even pixels, so column widths (row heights) differ by at most 2.
 * grid2 has two equal 16:9 cells side by side, each half the canvas wide (less when the
 * canvas is too low for that), centred as a pair; the rest of the canvas is background.
 */
#ifndef MCU_LAYOUT_H
#define MCU_LAYOUT_H

#include <stdbool.h>

/* Most cells in any layout: grid25, the largest preset, and the cap on custom regions.
 * The Yên Mô scenario needs 18 sites; 25 leaves room for a larger district. */
#define MCU_LAYOUT_MAX_CELLS 25

/* Largest canvas: 3840x2160 (UHD) is the most an H.264 level 5.1 encoder takes
 * (32400 of 36864 macroblocks), far beyond what a commune link carries. */
#define MCU_LAYOUT_MAX_CANVAS_W 3840
#define MCU_LAYOUT_MAX_CANVAS_H 2160

/* Smallest cell side for a custom region: one 16x16 macroblock; anything smaller shows
 * nothing recognisable and is surely a mistake in the request. */
#define MCU_LAYOUT_MIN_CELL_PX 16

/* Smallest canvas: grid25 and grid20 cut a side into 5, so 5 * MCU_LAYOUT_MIN_CELL_PX
 * keeps every preset cell at least one macroblock on each side. */
#define MCU_LAYOUT_MIN_CANVAS_W (5 * MCU_LAYOUT_MIN_CELL_PX)
#define MCU_LAYOUT_MIN_CANVAS_H (5 * MCU_LAYOUT_MIN_CELL_PX)

/* A rectangle in pixels; (x, y) is the top-left corner. */
typedef struct mcu_rect {
    int x, y, w, h;
} mcu_rect_t;

/* A computed layout: cells[0 .. n_cells) in drawing order (later cells on top; only
 * custom layouts may overlap). */
typedef struct mcu_layout {
    int n_cells;
    mcu_rect_t cells[MCU_LAYOUT_MAX_CELLS];
} mcu_layout_t;

/* The presets. Values are stable (they may be stored); names in mcu_layout_preset_name. */
typedef enum mcu_layout_preset {
    MCU_LAYOUT_GRID1,
    MCU_LAYOUT_GRID2,
    MCU_LAYOUT_GRID4,
    MCU_LAYOUT_GRID6,
    MCU_LAYOUT_GRID9,
    MCU_LAYOUT_GRID12,
    MCU_LAYOUT_GRID16,
    MCU_LAYOUT_GRID20,
    MCU_LAYOUT_GRID25,
    MCU_LAYOUT_SPEAKER_1_5,
    MCU_LAYOUT_SPEAKER_1_7,
    MCU_LAYOUT_SPEAKER_1_12,
    MCU_LAYOUT__COUNT /* not a preset */
} mcu_layout_preset_t;

/* Name used in the config file and the control API ("grid9", "speaker1+5"), or NULL for
 * a value that is not a preset. The string is static. */
const char *mcu_layout_preset_name(mcu_layout_preset_t preset);

/* Looks a name up (exact, case-sensitive). 0 and *out set; MCU_ERR_NOTFOUND for an
 * unknown name; MCU_ERR_INVAL for NULL arguments. */
int mcu_layout_preset_from_name(const char *name, mcu_layout_preset_t *out);

/* Number of cells of a preset (1..MCU_LAYOUT_MAX_CELLS), or MCU_ERR_INVAL. */
int mcu_layout_preset_cells(mcu_layout_preset_t preset);

/* True for the speaker presets (cell 0 large, the rest small). */
bool mcu_layout_preset_is_speaker(mcu_layout_preset_t preset);

/* The smallest grid preset with at least n_sites cells: 0 gives grid1 (an empty
 * conference still shows one tile), more than 25 gives grid25 (the caller chooses who
 * is on screen). */
mcu_layout_preset_t mcu_layout_auto_grid(unsigned n_sites);

/* Fills *out with the cells of a preset on a canvas_w x canvas_h canvas. The canvas must
 * be even in both sizes and within MCU_LAYOUT_MIN_CANVAS_* .. MCU_LAYOUT_MAX_CANVAS_*.
 * 0, or MCU_ERR_INVAL (bad preset, canvas or NULL out; *out then has no cells). */
int mcu_layout_compute(mcu_layout_preset_t preset, int canvas_w, int canvas_h,
                       mcu_layout_t *out);

/* A custom region as fractions of the canvas, each in [0, 1]. */
typedef struct mcu_layout_region {
    double x, y, w, h;
} mcu_layout_region_t;

/* Fills *out with one cell per region, in the given order; regions may overlap (picture
 * in picture), later ones drawn on top. Edges are rounded to the nearest even pixel,
 * each edge on its own, so regions that share an edge as fractions share it as pixels.
 * Every region must have finite fractions, x, y in [0, 1], w, h in (0, 1], x + w and
 * y + h at most 1 (within a rounding tolerance), and come out at least
 * MCU_LAYOUT_MIN_CELL_PX on each side. n must be 1..MCU_LAYOUT_MAX_CELLS and the canvas
 * as for mcu_layout_compute.
 * 0, or MCU_ERR_INVAL (*out then has no cells). bad_index may be NULL; otherwise it is
 * set to the index of the first bad region, or -1 on success and for errors that are
 * not about one region (n, canvas, NULL pointers), so the API layer can name the field. */
int mcu_layout_custom(const mcu_layout_region_t *regions, int n, int canvas_w,
                      int canvas_h, mcu_layout_t *out, int *bad_index);

/* How a source picture whose aspect differs from its cell's is placed. */
typedef enum mcu_fit {
    MCU_FIT_LETTERBOX = 0, /* default: whole picture, bars around it */
    MCU_FIT_CROP,          /* fill the cell, cut the picture's overflowing edges */
} mcu_fit_t;

/* Places a src_w x src_h picture in `cell` (even-aligned, at least 2x2, non-negative
 * position: anything from mcu_layout_compute or mcu_layout_custom).
 *   LETTERBOX: *dst = the largest centred rectangle of the source's aspect inside the
 *              cell, even-aligned, at least 2x2; *src_crop = the whole source.
 *   CROP:      *dst = the cell; *src_crop = the largest centred rectangle of the cell's
 *              aspect inside the source, with even offsets and even sizes (an odd
 *              source size loses its last row or column), at least 2x2.
 * The composer scales src_crop of the picture to dst of the canvas.
 * 0, or MCU_ERR_INVAL: NULL pointers, a bad cell, a source smaller than 2x2 (including
 * zero sizes), an unknown mode. */
int mcu_layout_fit(mcu_rect_t cell, int src_w, int src_h, mcu_fit_t mode, mcu_rect_t *dst,
                   mcu_rect_t *src_crop);

#endif
