#include "layouts/layout.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "mcu/error.h"

/* grid2's cell aspect. Sites send 16:9 camera pictures (the Yên Mô scenario: 640x360),
 * so a 16:9 cell shows each one whole and without bars. */
#define GRID2_ASPECT_W 16
#define GRID2_ASPECT_H 9

/* Slack allowed on x + w <= 1 and y + h <= 1: fractions a client computes do not add
 * exactly in binary (nine columns placed by adding 1/9 each time end at 1 + 2e-16).
 * Far below half a pixel of the largest canvas (1 / 7680), so it never lets a region
 * spill out of the canvas (edges are clamped to it as well). */
#define REGION_SUM_TOLERANCE 1e-9

/* Smallest side of a fitted rectangle: one 4:2:0 chroma sample covers 2x2 luma. */
#define FIT_MIN_PX 2

/* One cell in units of a preset's grid: top-left column and row, and how many of each
 * it spans. */
typedef struct span {
    uint8_t col, row, cols, rows;
} span_t;

typedef enum kind {
    KIND_GRID,    /* cols x rows equal cells, reading order */
    KIND_PAIR,    /* grid2: two 16:9 cells centred side by side */
    KIND_SPEAKER, /* cells listed in `spans`, large one first */
} kind_t;

typedef struct preset_desc {
    const char *name;
    kind_t kind;
    uint8_t cols, rows; /* how the canvas is cut */
    uint8_t n_cells;
    const span_t *spans; /* KIND_SPEAKER only */
} preset_desc_t;

/* Speaker layouts as spans; the diagrams are in layout.h. The large cell first, then the
 * small ones in reading order. */
static const span_t speaker_1_5[] = {
    {0, 0, 2, 2},                           /* 0: top-left 2x2 */
    {2, 0, 1, 1}, {2, 1, 1, 1},             /* 1-2: right column */
    {0, 2, 1, 1}, {1, 2, 1, 1}, {2, 2, 1, 1}, /* 3-5: bottom row */
};
static const span_t speaker_1_7[] = {
    {0, 0, 3, 3},                                         /* 0: top-left 3x3 */
    {3, 0, 1, 1}, {3, 1, 1, 1}, {3, 2, 1, 1},             /* 1-3: right column */
    {0, 3, 1, 1}, {1, 3, 1, 1}, {2, 3, 1, 1}, {3, 3, 1, 1}, /* 4-7: bottom row */
};
static const span_t speaker_1_12[] = {
    {1, 1, 2, 2},                                         /* 0: centre 2x2 */
    {0, 0, 1, 1}, {1, 0, 1, 1}, {2, 0, 1, 1}, {3, 0, 1, 1}, /* 1-4: top row */
    {0, 1, 1, 1}, {3, 1, 1, 1},                           /* 5-6: beside, upper */
    {0, 2, 1, 1}, {3, 2, 1, 1},                           /* 7-8: beside, lower */
    {0, 3, 1, 1}, {1, 3, 1, 1}, {2, 3, 1, 1}, {3, 3, 1, 1}, /* 9-12: bottom row */
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
_Static_assert(COUNT_OF(speaker_1_5) == 6, "1+5 has 6 cells");
_Static_assert(COUNT_OF(speaker_1_7) == 8, "1+7 has 8 cells");
_Static_assert(COUNT_OF(speaker_1_12) == 13, "1+12 has 13 cells");

static const preset_desc_t presets[MCU_LAYOUT__COUNT] = {
    [MCU_LAYOUT_GRID1] = {"grid1", KIND_GRID, 1, 1, 1, NULL},
    [MCU_LAYOUT_GRID2] = {"grid2", KIND_PAIR, 2, 1, 2, NULL},
    [MCU_LAYOUT_GRID4] = {"grid4", KIND_GRID, 2, 2, 4, NULL},
    [MCU_LAYOUT_GRID6] = {"grid6", KIND_GRID, 3, 2, 6, NULL},
    [MCU_LAYOUT_GRID9] = {"grid9", KIND_GRID, 3, 3, 9, NULL},
    [MCU_LAYOUT_GRID12] = {"grid12", KIND_GRID, 4, 3, 12, NULL},
    [MCU_LAYOUT_GRID16] = {"grid16", KIND_GRID, 4, 4, 16, NULL},
    [MCU_LAYOUT_GRID20] = {"grid20", KIND_GRID, 5, 4, 20, NULL},
    [MCU_LAYOUT_GRID25] = {"grid25", KIND_GRID, 5, 5, 25, NULL},
    [MCU_LAYOUT_SPEAKER_1_5] = {"speaker1+5", KIND_SPEAKER, 3, 3, 6, speaker_1_5},
    [MCU_LAYOUT_SPEAKER_1_7] = {"speaker1+7", KIND_SPEAKER, 4, 4, 8, speaker_1_7},
    [MCU_LAYOUT_SPEAKER_1_12] = {"speaker1+12", KIND_SPEAKER, 4, 4, 13, speaker_1_12},
};

static bool preset_ok(mcu_layout_preset_t preset)
{
    return (unsigned)preset < MCU_LAYOUT__COUNT;
}

const char *mcu_layout_preset_name(mcu_layout_preset_t preset)
{
    return preset_ok(preset) ? presets[preset].name : NULL;
}

int mcu_layout_preset_from_name(const char *name, mcu_layout_preset_t *out)
{
    if (!name || !out)
        return MCU_ERR_INVAL;
    for (unsigned i = 0; i < MCU_LAYOUT__COUNT; i++) {
        if (strcmp(name, presets[i].name) == 0) {
            *out = (mcu_layout_preset_t)i;
            return MCU_OK;
        }
    }
    return MCU_ERR_NOTFOUND;
}

int mcu_layout_preset_cells(mcu_layout_preset_t preset)
{
    return preset_ok(preset) ? presets[preset].n_cells : MCU_ERR_INVAL;
}

bool mcu_layout_preset_is_speaker(mcu_layout_preset_t preset)
{
    return preset_ok(preset) && presets[preset].kind == KIND_SPEAKER;
}

mcu_layout_preset_t mcu_layout_auto_grid(unsigned n_sites)
{
    /* Presets are listed smallest first; grid2 counts as a grid here. */
    for (unsigned i = 0; i < MCU_LAYOUT__COUNT; i++)
        if (presets[i].kind != KIND_SPEAKER && presets[i].n_cells >= n_sites)
            return (mcu_layout_preset_t)i;
    return MCU_LAYOUT_GRID25;
}

/* Largest even number <= v (v >= 0). */
static int even_floor(int v)
{
    return v & ~1;
}

/* num / den rounded to the nearest even integer, halves up (num >= 0, den > 0). */
static int div_round_even(int64_t num, int64_t den)
{
    return (int)(2 * ((num + den) / (2 * den)));
}

static int clamp_int(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static bool canvas_ok(int w, int h)
{
    return w >= MCU_LAYOUT_MIN_CANVAS_W && w <= MCU_LAYOUT_MAX_CANVAS_W &&
           h >= MCU_LAYOUT_MIN_CANVAS_H && h <= MCU_LAYOUT_MAX_CANVAS_H && w % 2 == 0 &&
           h % 2 == 0;
}

/* Where the i-th of `parts` cuts of an even `size` falls: an even pixel, spread so part
 * sizes differ by at most 2 (one chroma sample) and cut `parts` falls on `size`. */
static int cut_at(int size, int parts, int i)
{
    return 2 * (int)((int64_t)i * (size / 2) / parts);
}

/* grid2: two equal cells of GRID2_ASPECT, half the canvas wide or as wide as the height
 * allows, centred together. */
static void pair_cells(int canvas_w, int canvas_h, mcu_layout_t *out)
{
    int w = even_floor(canvas_w / 2);
    int w_max = even_floor((int)((int64_t)canvas_h * GRID2_ASPECT_W / GRID2_ASPECT_H));
    if (w > w_max)
        w = w_max;
    /* w <= canvas_h * 16 / 9, so the rounded height stays within the (even) canvas. */
    int h = clamp_int(div_round_even((int64_t)w * GRID2_ASPECT_H, GRID2_ASPECT_W), FIT_MIN_PX,
                      canvas_h);
    int x = even_floor((canvas_w - 2 * w) / 2);
    int y = even_floor((canvas_h - h) / 2);
    out->cells[0] = (mcu_rect_t){x, y, w, h};
    out->cells[1] = (mcu_rect_t){x + w, y, w, h};
    out->n_cells = 2;
}

int mcu_layout_compute(mcu_layout_preset_t preset, int canvas_w, int canvas_h,
                       mcu_layout_t *out)
{
    if (!out)
        return MCU_ERR_INVAL;
    memset(out, 0, sizeof *out);
    if (!preset_ok(preset) || !canvas_ok(canvas_w, canvas_h))
        return MCU_ERR_INVAL;

    const preset_desc_t *p = &presets[preset];
    if (p->kind == KIND_PAIR) {
        pair_cells(canvas_w, canvas_h, out);
        return MCU_OK;
    }
    for (int i = 0; i < p->n_cells; i++) {
        span_t s = p->spans ? p->spans[i]
                            : (span_t){(uint8_t)(i % p->cols), (uint8_t)(i / p->cols), 1, 1};
        int x0 = cut_at(canvas_w, p->cols, s.col);
        int x1 = cut_at(canvas_w, p->cols, s.col + s.cols);
        int y0 = cut_at(canvas_h, p->rows, s.row);
        int y1 = cut_at(canvas_h, p->rows, s.row + s.rows);
        out->cells[i] = (mcu_rect_t){x0, y0, x1 - x0, y1 - y0};
    }
    out->n_cells = p->n_cells;
    return MCU_OK;
}

static bool unit_ok(double v)
{
    return isfinite(v) && v >= 0.0 && v <= 1.0;
}

static bool region_ok(const mcu_layout_region_t *r)
{
    return unit_ok(r->x) && unit_ok(r->y) && unit_ok(r->w) && unit_ok(r->h) && r->w > 0.0 &&
           r->h > 0.0 && r->x + r->w <= 1.0 + REGION_SUM_TOLERANCE &&
           r->y + r->h <= 1.0 + REGION_SUM_TOLERANCE;
}

/* A fraction of an even canvas side to the nearest even pixel, within [0, size]. */
static int frac_to_px(double f, int size)
{
    double v = f * size / 2.0 + 0.5; /* in chroma samples, rounded below */
    if (v < 0.0)
        v = 0.0;
    return clamp_int(2 * (int)v, 0, size);
}

int mcu_layout_custom(const mcu_layout_region_t *regions, int n, int canvas_w,
                      int canvas_h, mcu_layout_t *out, int *bad_index)
{
    if (bad_index)
        *bad_index = -1;
    if (!out)
        return MCU_ERR_INVAL;
    memset(out, 0, sizeof *out);
    if (!regions || n < 1 || n > MCU_LAYOUT_MAX_CELLS || !canvas_ok(canvas_w, canvas_h))
        return MCU_ERR_INVAL;

    for (int i = 0; i < n; i++) {
        const mcu_layout_region_t *r = &regions[i];
        int x0 = 0, x1 = 0, y0 = 0, y1 = 0;
        if (region_ok(r)) {
            /* Each edge rounded on its own: shared edges stay shared. */
            x0 = frac_to_px(r->x, canvas_w);
            x1 = frac_to_px(r->x + r->w, canvas_w);
            y0 = frac_to_px(r->y, canvas_h);
            y1 = frac_to_px(r->y + r->h, canvas_h);
        }
        if (x1 - x0 < MCU_LAYOUT_MIN_CELL_PX || y1 - y0 < MCU_LAYOUT_MIN_CELL_PX) {
            memset(out, 0, sizeof *out);
            if (bad_index)
                *bad_index = i;
            return MCU_ERR_INVAL;
        }
        out->cells[i] = (mcu_rect_t){x0, y0, x1 - x0, y1 - y0};
    }
    out->n_cells = n;
    return MCU_OK;
}

static bool fit_cell_ok(mcu_rect_t c)
{
    return c.w >= FIT_MIN_PX && c.h >= FIT_MIN_PX && c.w <= MCU_LAYOUT_MAX_CANVAS_W &&
           c.h <= MCU_LAYOUT_MAX_CANVAS_H && c.x >= 0 && c.y >= 0 &&
           c.x <= MCU_LAYOUT_MAX_CANVAS_W - c.w && c.y <= MCU_LAYOUT_MAX_CANVAS_H - c.h &&
           c.x % 2 == 0 && c.y % 2 == 0 && c.w % 2 == 0 && c.h % 2 == 0;
}

int mcu_layout_fit(mcu_rect_t cell, int src_w, int src_h, mcu_fit_t mode, mcu_rect_t *dst,
                   mcu_rect_t *src_crop)
{
    if (!dst || !src_crop)
        return MCU_ERR_INVAL;
    *dst = (mcu_rect_t){0, 0, 0, 0};
    *src_crop = (mcu_rect_t){0, 0, 0, 0};
    if (!fit_cell_ok(cell) || src_w < FIT_MIN_PX || src_h < FIT_MIN_PX)
        return MCU_ERR_INVAL;

    /* Aspects are compared by cross-multiplying in 64 bits: no rounding, no overflow. */
    int64_t cw = cell.w, ch = cell.h;
    switch (mode) {
    case MCU_FIT_LETTERBOX: {
        int64_t sw = src_w, sh = src_h;
        int w, h;
        if (sw * ch >= sh * cw) { /* source at least as wide as the cell: bars above/below */
            w = cell.w;
            h = clamp_int(div_round_even(cw * sh, sw), FIT_MIN_PX, cell.h);
        } else { /* narrower: bars left and right */
            h = cell.h;
            w = clamp_int(div_round_even(ch * sw, sh), FIT_MIN_PX, cell.w);
        }
        *dst = (mcu_rect_t){cell.x + even_floor((cell.w - w) / 2),
                            cell.y + even_floor((cell.h - h) / 2), w, h};
        *src_crop = (mcu_rect_t){0, 0, src_w, src_h};
        return MCU_OK;
    }
    case MCU_FIT_CROP: {
        /* The crop's sizes are even so its chroma is whole samples; an odd source
         * loses its last column or row. */
        int ew = even_floor(src_w), eh = even_floor(src_h);
        int64_t sw = ew, sh = eh;
        int w, h;
        if (sw * ch >= sh * cw) { /* source wider: full height, cut the sides */
            h = eh;
            w = clamp_int(div_round_even(sh * cw, ch), FIT_MIN_PX, ew);
        } else { /* source taller: full width, cut top and bottom */
            w = ew;
            h = clamp_int(div_round_even(sw * ch, cw), FIT_MIN_PX, eh);
        }
        *src_crop = (mcu_rect_t){even_floor((src_w - w) / 2), even_floor((src_h - h) / 2), w,
                                 h};
        *dst = cell;
        return MCU_OK;
    }
    }
    return MCU_ERR_INVAL;
}
