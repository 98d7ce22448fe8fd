/* Layout geometry: presets, custom regions and tile fitting; exact rectangles for a few
 * cases worked by hand, invariants (even, inside, disjoint, covering) for the rest. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "layouts/layout.h"
#include "mcu/error.h"
#include "test_util.h"

#define assert_rect(r, X, Y, W, H)                                                         \
    do {                                                                                   \
        assert_int_equal((r).x, (X));                                                      \
        assert_int_equal((r).y, (Y));                                                      \
        assert_int_equal((r).w, (W));                                                      \
        assert_int_equal((r).h, (H));                                                      \
    } while (0)

static const mcu_layout_preset_t all_presets[] = {
    MCU_LAYOUT_GRID1,       MCU_LAYOUT_GRID2,       MCU_LAYOUT_GRID4,
    MCU_LAYOUT_GRID6,       MCU_LAYOUT_GRID9,       MCU_LAYOUT_GRID12,
    MCU_LAYOUT_GRID16,      MCU_LAYOUT_GRID20,      MCU_LAYOUT_GRID25,
    MCU_LAYOUT_SPEAKER_1_5, MCU_LAYOUT_SPEAKER_1_7, MCU_LAYOUT_SPEAKER_1_12,
};
#define N_PRESETS ((int)(sizeof all_presets / sizeof all_presets[0]))

static const int expected_cells[N_PRESETS] = {1, 2, 4, 6, 9, 12, 16, 20, 25, 6, 8, 13};

static bool is_even(int v) { return v % 2 == 0; }

static bool overlap(mcu_rect_t a, mcu_rect_t b)
{
    return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

static void check_rect_in(mcu_rect_t r, int x, int y, int w, int h)
{
    assert_true(is_even(r.x) && is_even(r.y) && is_even(r.w) && is_even(r.h));
    assert_true(r.w >= 2 && r.h >= 2);
    assert_true(r.x >= x && r.y >= y);
    assert_true(r.x + r.w <= x + w && r.y + r.h <= y + h);
}

/* Everything a preset promises on a canvas. */
static void check_preset(mcu_layout_preset_t p, int cw, int ch)
{
    mcu_layout_t l;
    assert_int_equal(mcu_layout_compute(p, cw, ch, &l), MCU_OK);
    assert_int_equal(l.n_cells, mcu_layout_preset_cells(p));
    long long area = 0;
    int min_w = cw, max_w = 0, min_h = ch, max_h = 0;
    for (int i = 0; i < l.n_cells; i++) {
        mcu_rect_t r = l.cells[i];
        check_rect_in(r, 0, 0, cw, ch);
        assert_true(r.w >= MCU_LAYOUT_MIN_CELL_PX && r.h >= MCU_LAYOUT_MIN_CELL_PX);
        area += (long long)r.w * r.h;
        for (int j = 0; j < i; j++)
            assert_false(overlap(r, l.cells[j]));
        /* Reading order, after the large cell of a speaker layout. */
        int first = mcu_layout_preset_is_speaker(p) ? 2 : 1;
        if (i >= first) {
            mcu_rect_t q = l.cells[i - 1];
            assert_true(q.y < r.y || (q.y == r.y && q.x < r.x));
        }
        if (i > 0 || !mcu_layout_preset_is_speaker(p)) {
            min_w = r.w < min_w ? r.w : min_w;
            max_w = r.w > max_w ? r.w : max_w;
            min_h = r.h < min_h ? r.h : min_h;
            max_h = r.h > max_h ? r.h : max_h;
        }
    }
    /* Equal cells, up to one chroma sample of remainder. */
    assert_true(max_w - min_w <= 2 && max_h - min_h <= 2);
    if (p == MCU_LAYOUT_GRID2) {
        assert_int_equal(l.cells[0].w, l.cells[1].w);
        assert_int_equal(l.cells[0].h, l.cells[1].h);
        assert_int_equal(l.cells[0].y, l.cells[1].y);
        assert_int_equal(l.cells[0].x + l.cells[0].w, l.cells[1].x);
        /* 16:9 to within the even rounding of the height */
        assert_true(abs(l.cells[0].w * 9 - l.cells[0].h * 16) <= 16);
    } else {
        /* Disjoint and inside, so equal area means the canvas is covered exactly. */
        assert_true(area == (long long)cw * ch);
    }
    if (mcu_layout_preset_is_speaker(p)) {
        long long big = (long long)l.cells[0].w * l.cells[0].h;
        for (int i = 1; i < l.n_cells; i++)
            assert_true(big > (long long)l.cells[i].w * l.cells[i].h);
    }
}

static void presets_on_canvases(void **state)
{
    (void)state;
    static const int sizes[][2] = {{1280, 720}, {640, 360}, {1282, 722}};
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < N_PRESETS; i++) {
            assert_int_equal(mcu_layout_preset_cells(all_presets[i]), expected_cells[i]);
            check_preset(all_presets[i], sizes[s][0], sizes[s][1]);
        }
    /* Extremes of the allowed canvas. */
    for (int i = 0; i < N_PRESETS; i++) {
        check_preset(all_presets[i], MCU_LAYOUT_MIN_CANVAS_W, MCU_LAYOUT_MIN_CANVAS_H);
        check_preset(all_presets[i], MCU_LAYOUT_MAX_CANVAS_W, MCU_LAYOUT_MAX_CANVAS_H);
        check_preset(all_presets[i], MCU_LAYOUT_MAX_CANVAS_W, MCU_LAYOUT_MIN_CANVAS_H);
        check_preset(all_presets[i], MCU_LAYOUT_MIN_CANVAS_W, MCU_LAYOUT_MAX_CANVAS_H);
    }
}

static void grid4_exact(void **state)
{
    (void)state;
    mcu_layout_t l;
    assert_int_equal(mcu_layout_compute(MCU_LAYOUT_GRID4, 1280, 720, &l), MCU_OK);
    assert_int_equal(l.n_cells, 4);
    assert_rect(l.cells[0], 0, 0, 640, 360);
    assert_rect(l.cells[1], 640, 0, 640, 360);
    assert_rect(l.cells[2], 0, 360, 640, 360);
    assert_rect(l.cells[3], 640, 360, 640, 360);
}

/* 1280 / 3 = 426.67: columns 426, 426, 428 (the remainder goes where the even cuts put
 * it); 720 / 3 = 240. */
static void grid9_exact(void **state)
{
    (void)state;
    mcu_layout_t l;
    assert_int_equal(mcu_layout_compute(MCU_LAYOUT_GRID9, 1280, 720, &l), MCU_OK);
    assert_rect(l.cells[0], 0, 0, 426, 240);
    assert_rect(l.cells[1], 426, 0, 426, 240);
    assert_rect(l.cells[2], 852, 0, 428, 240);
    assert_rect(l.cells[8], 852, 480, 428, 240);
}

static void speaker_1_5_exact(void **state)
{
    (void)state;
    mcu_layout_t l;
    assert_int_equal(mcu_layout_compute(MCU_LAYOUT_SPEAKER_1_5, 1280, 720, &l), MCU_OK);
    assert_int_equal(l.n_cells, 6);
    assert_rect(l.cells[0], 0, 0, 852, 480);     /* top-left 2x2 of the 3x3 */
    assert_rect(l.cells[1], 852, 0, 428, 240);   /* right column */
    assert_rect(l.cells[2], 852, 240, 428, 240);
    assert_rect(l.cells[3], 0, 480, 426, 240);   /* bottom row */
    assert_rect(l.cells[4], 426, 480, 426, 240);
    assert_rect(l.cells[5], 852, 480, 428, 240);
}

static void speaker_1_7_and_1_12_exact(void **state)
{
    (void)state;
    mcu_layout_t l;
    assert_int_equal(mcu_layout_compute(MCU_LAYOUT_SPEAKER_1_7, 1280, 720, &l), MCU_OK);
    assert_int_equal(l.n_cells, 8);
    assert_rect(l.cells[0], 0, 0, 960, 540);
    assert_rect(l.cells[1], 960, 0, 320, 180);
    assert_rect(l.cells[2], 960, 180, 320, 180);
    assert_rect(l.cells[3], 960, 360, 320, 180);
    for (int i = 0; i < 4; i++)
        assert_rect(l.cells[4 + i], 320 * i, 540, 320, 180);

    assert_int_equal(mcu_layout_compute(MCU_LAYOUT_SPEAKER_1_12, 1280, 720, &l), MCU_OK);
    assert_int_equal(l.n_cells, 13);
    assert_rect(l.cells[0], 320, 180, 640, 360);
    for (int i = 0; i < 4; i++) {
        assert_rect(l.cells[1 + i], 320 * i, 0, 320, 180);
        assert_rect(l.cells[9 + i], 320 * i, 540, 320, 180);
    }
    assert_rect(l.cells[5], 0, 180, 320, 180);
    assert_rect(l.cells[6], 960, 180, 320, 180);
    assert_rect(l.cells[7], 0, 360, 320, 180);
    assert_rect(l.cells[8], 960, 360, 320, 180);
}

static void grid2_exact(void **state)
{
    (void)state;
    mcu_layout_t l;
    assert_int_equal(mcu_layout_compute(MCU_LAYOUT_GRID2, 1280, 720, &l), MCU_OK);
    assert_int_equal(l.n_cells, 2);
    assert_rect(l.cells[0], 0, 180, 640, 360);
    assert_rect(l.cells[1], 640, 180, 640, 360);
    /* 641 is odd: 640-wide cells, the spare 2 px at the right; centre 181 -> 180. */
    assert_int_equal(mcu_layout_compute(MCU_LAYOUT_GRID2, 1282, 722, &l), MCU_OK);
    assert_rect(l.cells[0], 0, 180, 640, 360);
    assert_rect(l.cells[1], 640, 180, 640, 360);
    /* Too low for half-width 16:9 cells: as tall as the canvas, centred as a pair. */
    assert_int_equal(mcu_layout_compute(MCU_LAYOUT_GRID2, 1280, 180, &l), MCU_OK);
    assert_rect(l.cells[0], 320, 0, 320, 180);
    assert_rect(l.cells[1], 640, 0, 320, 180);
}

static void compute_rejects(void **state)
{
    (void)state;
    mcu_layout_t l;
    l.n_cells = 99;
    assert_int_equal(mcu_layout_compute(MCU_LAYOUT_GRID4, 1281, 720, &l), MCU_ERR_INVAL);
    assert_int_equal(l.n_cells, 0);
    assert_int_equal(mcu_layout_compute(MCU_LAYOUT_GRID4, 1280, 721, &l), MCU_ERR_INVAL);
    assert_int_equal(mcu_layout_compute(MCU_LAYOUT_GRID4, 0, 720, &l), MCU_ERR_INVAL);
    assert_int_equal(mcu_layout_compute(MCU_LAYOUT_GRID4, -1280, 720, &l), MCU_ERR_INVAL);
    assert_int_equal(mcu_layout_compute(MCU_LAYOUT_GRID4, MCU_LAYOUT_MAX_CANVAS_W + 2, 720, &l),
                     MCU_ERR_INVAL);
    assert_int_equal(mcu_layout_compute(MCU_LAYOUT_GRID4, 1280, MCU_LAYOUT_MAX_CANVAS_H + 2, &l),
                     MCU_ERR_INVAL);
    assert_int_equal(mcu_layout_compute(MCU_LAYOUT_GRID4, MCU_LAYOUT_MIN_CANVAS_W - 2, 720, &l),
                     MCU_ERR_INVAL);
    assert_int_equal(mcu_layout_compute(MCU_LAYOUT_GRID4, 1280, MCU_LAYOUT_MIN_CANVAS_H - 2, &l),
                     MCU_ERR_INVAL);
    assert_int_equal(mcu_layout_compute(MCU_LAYOUT__COUNT, 1280, 720, &l), MCU_ERR_INVAL);
    assert_int_equal(mcu_layout_compute((mcu_layout_preset_t)-1, 1280, 720, &l), MCU_ERR_INVAL);
    assert_int_equal(mcu_layout_compute(MCU_LAYOUT_GRID4, 1280, 720, NULL), MCU_ERR_INVAL);
    assert_int_equal(mcu_layout_preset_cells(MCU_LAYOUT__COUNT), MCU_ERR_INVAL);
    assert_false(mcu_layout_preset_is_speaker(MCU_LAYOUT__COUNT));
}

static void auto_grid(void **state)
{
    (void)state;
    for (unsigned n = 0; n <= 30; n++) {
        mcu_layout_preset_t want = n <= 1    ? MCU_LAYOUT_GRID1
                                   : n <= 2  ? MCU_LAYOUT_GRID2
                                   : n <= 4  ? MCU_LAYOUT_GRID4
                                   : n <= 6  ? MCU_LAYOUT_GRID6
                                   : n <= 9  ? MCU_LAYOUT_GRID9
                                   : n <= 12 ? MCU_LAYOUT_GRID12
                                   : n <= 16 ? MCU_LAYOUT_GRID16
                                   : n <= 20 ? MCU_LAYOUT_GRID20
                                             : MCU_LAYOUT_GRID25;
        assert_int_equal(mcu_layout_auto_grid(n), want);
        assert_false(mcu_layout_preset_is_speaker(mcu_layout_auto_grid(n)));
    }
    /* The Yên Mô scenario: 18 sites. */
    assert_int_equal(mcu_layout_auto_grid(18), MCU_LAYOUT_GRID20);
    assert_int_equal(mcu_layout_auto_grid(~0u), MCU_LAYOUT_GRID25);
}

static void names(void **state)
{
    (void)state;
    static const char *const want[N_PRESETS] = {
        "grid1",  "grid2",  "grid4",  "grid6",      "grid9",      "grid12",
        "grid16", "grid20", "grid25", "speaker1+5", "speaker1+7", "speaker1+12"};
    for (int i = 0; i < N_PRESETS; i++) {
        const char *name = mcu_layout_preset_name(all_presets[i]);
        assert_non_null(name);
        assert_string_equal(name, want[i]);
        mcu_layout_preset_t p = MCU_LAYOUT__COUNT;
        assert_int_equal(mcu_layout_preset_from_name(name, &p), MCU_OK);
        assert_int_equal(p, all_presets[i]);
    }
    mcu_layout_preset_t p;
    assert_int_equal(mcu_layout_preset_from_name("grid3", &p), MCU_ERR_NOTFOUND);
    assert_int_equal(mcu_layout_preset_from_name("", &p), MCU_ERR_NOTFOUND);
    assert_int_equal(mcu_layout_preset_from_name("Grid4", &p), MCU_ERR_NOTFOUND);
    assert_int_equal(mcu_layout_preset_from_name("grid4 ", &p), MCU_ERR_NOTFOUND);
    assert_int_equal(mcu_layout_preset_from_name("speaker1+1", &p), MCU_ERR_NOTFOUND);
    assert_int_equal(mcu_layout_preset_from_name(NULL, &p), MCU_ERR_INVAL);
    assert_int_equal(mcu_layout_preset_from_name("grid4", NULL), MCU_ERR_INVAL);
    assert_null(mcu_layout_preset_name(MCU_LAYOUT__COUNT));
    assert_null(mcu_layout_preset_name((mcu_layout_preset_t)-1));
}

static void custom_valid(void **state)
{
    (void)state;
    mcu_layout_t l;
    int bad = 7;

    /* Picture in picture: the inset overlaps the full-canvas region and is drawn on top. */
    const mcu_layout_region_t pip[] = {{0, 0, 1, 1}, {0.7, 0.7, 0.25, 0.25}};
    assert_int_equal(mcu_layout_custom(pip, 2, 1280, 720, &l, &bad), MCU_OK);
    assert_int_equal(bad, -1);
    assert_int_equal(l.n_cells, 2);
    assert_rect(l.cells[0], 0, 0, 1280, 720);
    assert_rect(l.cells[1], 896, 504, 320, 180);

    /* Quarters: shared edges stay shared. */
    const mcu_layout_region_t quarters[] = {
        {0, 0, 0.7, 0.5}, {0.7, 0, 0.3, 0.5}, {0, 0.5, 0.7, 0.5}, {0.7, 0.5, 0.3, 0.5}};
    assert_int_equal(mcu_layout_custom(quarters, 4, 1282, 722, &l, NULL), MCU_OK);
    long long area = 0;
    for (int i = 0; i < 4; i++) {
        check_rect_in(l.cells[i], 0, 0, 1282, 722);
        area += (long long)l.cells[i].w * l.cells[i].h;
        for (int j = 0; j < i; j++)
            assert_false(overlap(l.cells[i], l.cells[j]));
    }
    assert_true(area == 1282LL * 722);

    /* Nine columns placed by accumulating 1/9: the last ends at 1.0000000000000002,
     * which is the canvas edge, not outside it. */
    mcu_layout_region_t cols[9];
    double x = 0;
    for (int i = 0; i < 9; i++, x += 1.0 / 9)
        cols[i] = (mcu_layout_region_t){x, 0, 1.0 / 9, 1};
    assert_true(cols[8].x + cols[8].w > 1.0);
    assert_int_equal(mcu_layout_custom(cols, 9, 1280, 720, &l, &bad), MCU_OK);
    assert_int_equal(bad, -1);
    assert_int_equal(l.cells[0].x, 0);
    for (int i = 1; i < 9; i++)
        assert_int_equal(l.cells[i].x, l.cells[i - 1].x + l.cells[i - 1].w);
    assert_int_equal(l.cells[8].x + l.cells[8].w, 1280);

    /* Snapping: 0.1 * 1280 = 128, 0.1 * 720 = 72; right edge 0.4333 * 1280 = 554.67
     * -> 554; bottom (0.1 + 1/3) * 720 = 312. */
    const mcu_layout_region_t third[] = {{0.1, 0.1, 1.0 / 3, 1.0 / 3}};
    assert_int_equal(mcu_layout_custom(third, 1, 1280, 720, &l, &bad), MCU_OK);
    assert_rect(l.cells[0], 128, 72, 426, 240);

    /* Odd pixel positions round to the nearest even one: 0.5 * 642 = 321 -> 322. */
    const mcu_layout_region_t half[] = {{0.5, 0, 0.5, 1}};
    assert_int_equal(mcu_layout_custom(half, 1, 642, 360, &l, &bad), MCU_OK);
    assert_rect(l.cells[0], 322, 0, 320, 360);

    /* Exactly the minimum size, and MCU_LAYOUT_MAX_CELLS regions. */
    mcu_layout_region_t many[MCU_LAYOUT_MAX_CELLS];
    for (int i = 0; i < MCU_LAYOUT_MAX_CELLS; i++)
        many[i] = (mcu_layout_region_t){i / 25.0, 0, 16.0 / 1280, 16.0 / 720};
    assert_int_equal(mcu_layout_custom(many, MCU_LAYOUT_MAX_CELLS, 1280, 720, &l, &bad),
                     MCU_OK);
    assert_int_equal(l.n_cells, MCU_LAYOUT_MAX_CELLS);
    for (int i = 0; i < MCU_LAYOUT_MAX_CELLS; i++) {
        check_rect_in(l.cells[i], 0, 0, 1280, 720);
        assert_int_equal(l.cells[i].w, 16);
        assert_int_equal(l.cells[i].h, 16);
    }
}

static void custom_invalid(void **state)
{
    (void)state;
    mcu_layout_t l;
    int bad;
    const mcu_layout_region_t ok = {0, 0, 0.5, 0.5};
    const mcu_layout_region_t bad_regions[] = {
        {NAN, 0, 0.5, 0.5},
        {0, INFINITY, 0.5, 0.5},
        {0, 0, -INFINITY, 0.5},
        {-0.1, 0, 0.5, 0.5},
        {0, 1.5, 0.5, 0.5},
        {0, 0, 0, 0.5},             /* zero width */
        {0, 0, 0.5, -0.25},         /* negative height */
        {0.6, 0, 0.5, 0.5},         /* x + w > 1 */
        {0, 0.75, 0.5, 0.3},        /* y + h > 1 */
        {0, 0, 1.5, 0.5},           /* w > 1 */
        {0, 0, 10.0 / 1280, 0.5},   /* 10 px wide: below MCU_LAYOUT_MIN_CELL_PX */
        {0, 0, 0.5, 14.0 / 720},    /* 14 px high */
        {1, 0, 1e-12, 0.5},         /* at the edge, nothing left */
    };
    for (size_t k = 0; k < sizeof bad_regions / sizeof bad_regions[0]; k++) {
        mcu_layout_region_t regs[4] = {ok, ok, bad_regions[k], ok};
        bad = 99;
        l.n_cells = 99;
        assert_int_equal(mcu_layout_custom(regs, 4, 1280, 720, &l, &bad), MCU_ERR_INVAL);
        assert_int_equal(bad, 2);
        assert_int_equal(l.n_cells, 0);
        assert_int_equal(mcu_layout_custom(regs, 4, 1280, 720, &l, NULL), MCU_ERR_INVAL);
        /* The first bad one is named. */
        regs[3] = bad_regions[k];
        assert_int_equal(mcu_layout_custom(regs, 4, 1280, 720, &l, &bad), MCU_ERR_INVAL);
        assert_int_equal(bad, 2);
    }

    /* Not about one region: bad_index -1. */
    mcu_layout_region_t regs[MCU_LAYOUT_MAX_CELLS + 1];
    for (int i = 0; i <= MCU_LAYOUT_MAX_CELLS; i++)
        regs[i] = ok;
    bad = 99;
    assert_int_equal(mcu_layout_custom(regs, 0, 1280, 720, &l, &bad), MCU_ERR_INVAL);
    assert_int_equal(bad, -1);
    bad = 99;
    assert_int_equal(mcu_layout_custom(regs, -1, 1280, 720, &l, &bad), MCU_ERR_INVAL);
    assert_int_equal(bad, -1);
    bad = 99;
    assert_int_equal(mcu_layout_custom(regs, MCU_LAYOUT_MAX_CELLS + 1, 1280, 720, &l, &bad),
                     MCU_ERR_INVAL);
    assert_int_equal(bad, -1);
    bad = 99;
    assert_int_equal(mcu_layout_custom(regs, 1, 1281, 720, &l, &bad), MCU_ERR_INVAL);
    assert_int_equal(bad, -1);
    bad = 99;
    assert_int_equal(mcu_layout_custom(NULL, 1, 1280, 720, &l, &bad), MCU_ERR_INVAL);
    assert_int_equal(bad, -1);
    bad = 99;
    assert_int_equal(mcu_layout_custom(regs, 1, 1280, 720, NULL, &bad), MCU_ERR_INVAL);
    assert_int_equal(bad, -1);
}

static void fit_letterbox(void **state)
{
    (void)state;
    mcu_rect_t d, s;
    /* 640x360 into a 426x240 grid9 cell: 426 * 360 / 640 = 239.6 -> 240, the whole cell. */
    mcu_rect_t cell = {426, 240, 426, 240};
    assert_int_equal(mcu_layout_fit(cell, 640, 360, MCU_FIT_LETTERBOX, &d, &s), MCU_OK);
    assert_rect(d, 426, 240, 426, 240);
    assert_rect(s, 0, 0, 640, 360);

    /* 16:9 into a tall 320x360 cell: 320x180 with 90-px bars above and below. */
    cell = (mcu_rect_t){640, 0, 320, 360};
    assert_int_equal(mcu_layout_fit(cell, 640, 360, MCU_FIT_LETTERBOX, &d, &s), MCU_OK);
    assert_rect(d, 640, 90, 320, 180);
    assert_rect(s, 0, 0, 640, 360);

    /* 4:3 into 16:9: pillarbox, 480x360 with 80-px bars left and right. */
    cell = (mcu_rect_t){0, 0, 640, 360};
    assert_int_equal(mcu_layout_fit(cell, 640, 480, MCU_FIT_LETTERBOX, &d, &s), MCU_OK);
    assert_rect(d, 80, 0, 480, 360);
    assert_rect(s, 0, 0, 640, 480);

    /* 641x359: 640 * 359 / 641 = 358.4 -> 358; the 1-px centring offset rounds to 0. */
    assert_int_equal(mcu_layout_fit(cell, 641, 359, MCU_FIT_LETTERBOX, &d, &s), MCU_OK);
    assert_rect(d, 0, 0, 640, 358);
    assert_rect(s, 0, 0, 641, 359);

    /* 16x1080: 360 * 16 / 1080 = 5.3 -> 6 wide, centred at 317 -> 316. */
    assert_int_equal(mcu_layout_fit(cell, 16, 1080, MCU_FIT_LETTERBOX, &d, &s), MCU_OK);
    assert_rect(d, 316, 0, 6, 360);
    assert_rect(s, 0, 0, 16, 1080);

    /* Extreme the other way into a small cell: never below 2x2. */
    cell = (mcu_rect_t){2, 4, 16, 16};
    assert_int_equal(mcu_layout_fit(cell, 4000, 2, MCU_FIT_LETTERBOX, &d, &s), MCU_OK);
    assert_rect(d, 2, 10, 16, 2);
    assert_int_equal(mcu_layout_fit(cell, 2, 4000, MCU_FIT_LETTERBOX, &d, &s), MCU_OK);
    assert_rect(d, 8, 4, 2, 16);
}

static void fit_crop(void **state)
{
    (void)state;
    mcu_rect_t d, s;
    /* 640x360 into 426x240: 360 * 426 / 240 = 639 -> 640, the whole picture. */
    mcu_rect_t cell = {426, 240, 426, 240};
    assert_int_equal(mcu_layout_fit(cell, 640, 360, MCU_FIT_CROP, &d, &s), MCU_OK);
    assert_rect(d, 426, 240, 426, 240);
    assert_rect(s, 0, 0, 640, 360);

    /* 640x360 into 320x360: the middle 320 columns. */
    cell = (mcu_rect_t){640, 0, 320, 360};
    assert_int_equal(mcu_layout_fit(cell, 640, 360, MCU_FIT_CROP, &d, &s), MCU_OK);
    assert_rect(d, 640, 0, 320, 360);
    assert_rect(s, 160, 0, 320, 360);

    /* 4:3 into 16:9: the middle 360 rows. */
    cell = (mcu_rect_t){0, 0, 640, 360};
    assert_int_equal(mcu_layout_fit(cell, 640, 480, MCU_FIT_CROP, &d, &s), MCU_OK);
    assert_rect(d, 0, 0, 640, 360);
    assert_rect(s, 0, 60, 640, 360);

    /* 641x359: use 640x358, 358 * 16 / 9 = 636.4 -> 636 wide, (641 - 636) / 2 = 2. */
    assert_int_equal(mcu_layout_fit(cell, 641, 359, MCU_FIT_CROP, &d, &s), MCU_OK);
    assert_rect(d, 0, 0, 640, 360);
    assert_rect(s, 2, 0, 636, 358);

    /* 16x1080: full width, 16 * 9 / 16 = 9 -> 10 rows from (1080 - 10) / 2 = 535 -> 534. */
    assert_int_equal(mcu_layout_fit(cell, 16, 1080, MCU_FIT_CROP, &d, &s), MCU_OK);
    assert_rect(d, 0, 0, 640, 360);
    assert_rect(s, 0, 534, 16, 10);

    /* Crop never shrinks below 2x2 either. */
    assert_int_equal(mcu_layout_fit(cell, 2, 4000, MCU_FIT_CROP, &d, &s), MCU_OK);
    assert_rect(s, 0, 1998, 2, 2);
    assert_int_equal(mcu_layout_fit(cell, 3, 3, MCU_FIT_CROP, &d, &s), MCU_OK);
    assert_rect(s, 0, 0, 2, 2);
}

static void fit_rejects(void **state)
{
    (void)state;
    mcu_rect_t d, s, cell = {0, 0, 640, 360};
    assert_int_equal(mcu_layout_fit(cell, 0, 360, MCU_FIT_LETTERBOX, &d, &s), MCU_ERR_INVAL);
    assert_int_equal(mcu_layout_fit(cell, 640, 0, MCU_FIT_CROP, &d, &s), MCU_ERR_INVAL);
    assert_int_equal(mcu_layout_fit(cell, 0, 0, MCU_FIT_CROP, &d, &s), MCU_ERR_INVAL);
    assert_int_equal(mcu_layout_fit(cell, -640, 360, MCU_FIT_CROP, &d, &s), MCU_ERR_INVAL);
    assert_int_equal(mcu_layout_fit(cell, 1, 360, MCU_FIT_CROP, &d, &s), MCU_ERR_INVAL);
    assert_int_equal(mcu_layout_fit(cell, 640, 360, (mcu_fit_t)7, &d, &s), MCU_ERR_INVAL);
    assert_int_equal(mcu_layout_fit(cell, 640, 360, MCU_FIT_CROP, NULL, &s), MCU_ERR_INVAL);
    assert_int_equal(mcu_layout_fit(cell, 640, 360, MCU_FIT_CROP, &d, NULL), MCU_ERR_INVAL);
    static const mcu_rect_t bad_cells[] = {
        {1, 0, 640, 360}, {0, 1, 640, 360}, {0, 0, 641, 360}, {0, 0, 640, 361},
        {0, 0, 0, 360},   {0, 0, 640, 0},   {-2, 0, 640, 360}, {0, -2, 640, 360},
        {MCU_LAYOUT_MAX_CANVAS_W - 638, 0, 640, 360},
    };
    for (size_t k = 0; k < sizeof bad_cells / sizeof bad_cells[0]; k++) {
        assert_int_equal(mcu_layout_fit(bad_cells[k], 640, 360, MCU_FIT_LETTERBOX, &d, &s),
                         MCU_ERR_INVAL);
        assert_int_equal(mcu_layout_fit(bad_cells[k], 640, 360, MCU_FIT_CROP, &d, &s),
                         MCU_ERR_INVAL);
    }
}

static long long max_ll(long long a, long long b) { return a > b ? a : b; }

/* Everything mcu_layout_fit promises, for any cell and source. */
static void check_fit(mcu_rect_t cell, int sw, int sh)
{
    mcu_rect_t d, s;
    assert_int_equal(mcu_layout_fit(cell, sw, sh, MCU_FIT_LETTERBOX, &d, &s), MCU_OK);
    check_rect_in(d, cell.x, cell.y, cell.w, cell.h);
    assert_rect(s, 0, 0, sw, sh);
    assert_true(d.w == cell.w || d.h == cell.h);
    /* centred to within one chroma sample */
    assert_true(abs((d.x - cell.x) - (cell.x + cell.w - d.x - d.w)) <= 2);
    assert_true(abs((d.y - cell.y) - (cell.y + cell.h - d.y - d.h)) <= 2);
    /* source aspect, to within the even rounding of the shorter side */
    if (d.w > 2 && d.h > 2)
        assert_true(llabs((long long)d.w * sh - (long long)d.h * sw) <= max_ll(sw, sh));

    assert_int_equal(mcu_layout_fit(cell, sw, sh, MCU_FIT_CROP, &d, &s), MCU_OK);
    assert_rect(d, cell.x, cell.y, cell.w, cell.h);
    check_rect_in(s, 0, 0, sw, sh);
    assert_true(s.w == (sw & ~1) || s.h == (sh & ~1));
    assert_true(abs(s.x - (sw - s.x - s.w)) <= 3);
    assert_true(abs(s.y - (sh - s.y - s.h)) <= 3);
    if (s.w > 2 && s.h > 2)
        assert_true(llabs((long long)s.w * cell.h - (long long)s.h * cell.w) <=
                    max_ll(cell.w, cell.h));
}

static void random_invariants(void **state)
{
    (void)state;
    test_rng_t rng;
    test_rng_seed(&rng, 0x1A7007);
    const int span_w = (MCU_LAYOUT_MAX_CANVAS_W - MCU_LAYOUT_MIN_CANVAS_W) / 2 + 1;
    const int span_h = (MCU_LAYOUT_MAX_CANVAS_H - MCU_LAYOUT_MIN_CANVAS_H) / 2 + 1;
    for (int iter = 0; iter < 20000; iter++) {
        int cw = MCU_LAYOUT_MIN_CANVAS_W + 2 * (int)test_rng_below(&rng, (uint32_t)span_w);
        int ch = MCU_LAYOUT_MIN_CANVAS_H + 2 * (int)test_rng_below(&rng, (uint32_t)span_h);
        mcu_layout_preset_t p = all_presets[test_rng_below(&rng, N_PRESETS)];
        check_preset(p, cw, ch);

        /* A source of any size, often odd, sometimes extreme, into one of its cells. */
        mcu_layout_t l;
        assert_int_equal(mcu_layout_compute(p, cw, ch, &l), MCU_OK);
        mcu_rect_t cell = l.cells[test_rng_below(&rng, (uint32_t)l.n_cells)];
        int sw = 2 + (int)test_rng_below(&rng, 4095);
        int sh = 2 + (int)test_rng_below(&rng, 4095);
        if (test_rng_below(&rng, 4) == 0)
            sw = 2 + (int)test_rng_below(&rng, 16);
        else if (test_rng_below(&rng, 4) == 0)
            sh = 2 + (int)test_rng_below(&rng, 16);
        check_fit(cell, sw, sh);
        /* Tiny cells too. */
        mcu_rect_t tiny = {2 * (int)test_rng_below(&rng, 8), 2 * (int)test_rng_below(&rng, 8),
                           2 + 2 * (int)test_rng_below(&rng, 4),
                           2 + 2 * (int)test_rng_below(&rng, 4)};
        check_fit(tiny, sw, sh);

        /* Random custom regions: valid ones come back inside and even; a rejection
         * names a region that is there. */
        mcu_layout_region_t regs[MCU_LAYOUT_MAX_CELLS];
        int n = 1 + (int)test_rng_below(&rng, MCU_LAYOUT_MAX_CELLS);
        for (int i = 0; i < n; i++) {
            double x = test_rng_below(&rng, 1001) / 1000.0;
            double y = test_rng_below(&rng, 1001) / 1000.0;
            double w = test_rng_below(&rng, 1001) / 1000.0 * (1.0 - x);
            double h = test_rng_below(&rng, 1001) / 1000.0 * (1.0 - y);
            if (test_rng_below(&rng, 50) == 0)
                w = 1.0; /* often sticks out */
            regs[i] = (mcu_layout_region_t){x, y, w, h};
        }
        int bad = 99;
        int rc = mcu_layout_custom(regs, n, cw, ch, &l, &bad);
        if (rc == MCU_OK) {
            assert_int_equal(bad, -1);
            assert_int_equal(l.n_cells, n);
            for (int i = 0; i < n; i++) {
                check_rect_in(l.cells[i], 0, 0, cw, ch);
                assert_true(l.cells[i].w >= MCU_LAYOUT_MIN_CELL_PX);
                assert_true(l.cells[i].h >= MCU_LAYOUT_MIN_CELL_PX);
            }
        } else {
            assert_int_equal(rc, MCU_ERR_INVAL);
            assert_true(bad >= 0 && bad < n);
            assert_int_equal(l.n_cells, 0);
            /* Everything before the bad one was fine on its own. */
            if (bad > 0)
                assert_int_equal(mcu_layout_custom(regs, bad, cw, ch, &l, NULL), MCU_OK);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(presets_on_canvases),
        cmocka_unit_test(grid4_exact),
        cmocka_unit_test(grid9_exact),
        cmocka_unit_test(speaker_1_5_exact),
        cmocka_unit_test(speaker_1_7_and_1_12_exact),
        cmocka_unit_test(grid2_exact),
        cmocka_unit_test(compute_rejects),
        cmocka_unit_test(auto_grid),
        cmocka_unit_test(names),
        cmocka_unit_test(custom_valid),
        cmocka_unit_test(custom_invalid),
        cmocka_unit_test(fit_letterbox),
        cmocka_unit_test(fit_crop),
        cmocka_unit_test(fit_rejects),
        cmocka_unit_test(random_invariants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
