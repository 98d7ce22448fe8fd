/* Label blending: every blend_dsp version against the C reference on random rows of
 * every length 0..257 (outputs inside poison guards, inputs allocated to the exact size
 * so that AddressSanitizer sees any over-read), the reference against exact arithmetic
 * on every (pixel, coverage) pair, and mcu_label_draw: the result matches the documented
 * model pixel for pixel, no byte outside the cell (stride padding included) changes, and
 * every kernel version draws the same canvas. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "layouts/blend_dsp.h"
#include "layouts/canvas.h"
#include "layouts/label.h"
#include "mcu/cpu.h"
#include "mcu/error.h"
#include "test_util.h"

#define GUARD 32           /* bytes of guard on each side of an output row */
#define MAX_N 257          /* row lengths 0..MAX_N: every SIMD tail and block count */
static const uint8_t POISON = 0xA5;

/* Every kernel version this CPU runs: index 0 is the C reference. */
static int dsp_versions(mcu_blend_dsp_t *v)
{
    int n = 0;
    mcu_blend_dsp_init_flags(&v[n++], 0);
    if (mcu_cpu_detect() & MCU_CPU_AVX2)
        mcu_blend_dsp_init_flags(&v[n++], MCU_CPU_AVX2);
    return n;
}

/* Coverage as labels have it: mostly 0 or 255, antialiased edges in between. */
static uint8_t rand_alpha(test_rng_t *r)
{
    uint32_t k = test_rng_below(r, 8);
    return k < 3 ? 0 : k < 6 ? 255 : (uint8_t)test_rng_u32(r);
}

static uint8_t rand_colour(test_rng_t *r)
{
    static const uint8_t special[] = {0, 16, 128, 235, 255};
    uint32_t k = test_rng_below(r, 10);
    return k < 5 ? special[k] : (uint8_t)test_rng_u32(r);
}

static int rand_keep(test_rng_t *r)
{
    static const int special[] = {0, 1, MCU_LABEL_BACKDROP_KEEP, 128, 255, MCU_BLEND_KEEP_ONE};
    uint32_t k = test_rng_below(r, 10);
    return k < 6 ? special[k] : (int)test_rng_below(r, MCU_BLEND_KEEP_ONE + 1);
}

/* A copy of src in a buffer of exactly n bytes (malloc(0) may be NULL: use 1). */
static uint8_t *exact_copy(const uint8_t *src, size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, src, n);
    return p;
}

static void check_guards(const uint8_t *buf, int n)
{
    for (int i = 0; i < GUARD; i++) {
        assert_int_equal(buf[i], POISON);
        assert_int_equal(buf[GUARD + n + i], POISON);
    }
}

static void kernels_match_reference(void **state)
{
    (void)state;
    mcu_blend_dsp_t v[4];
    int nv = dsp_versions(v);
    print_message("blend_dsp versions: %s%s\n", v[0].name, nv > 1 ? ", avx2" : " only");
    test_rng_t rng;
    test_rng_seed(&rng, 4242);
    static uint8_t dst_in[MAX_N], a0_in[2 * MAX_N], a1_in[2 * MAX_N];
    static uint8_t o_ref[MAX_N + 2 * GUARD], o_v[MAX_N + 2 * GUARD];
    for (int vi = 1; vi < nv; vi++) {
        for (int n = 0; n <= MAX_N; n++) {
            for (int rep = 0; rep < 3; rep++) {
                test_rng_fill(&rng, dst_in, (size_t)n);
                for (int i = 0; i < 2 * n; i++) {
                    a0_in[i] = rand_alpha(&rng);
                    a1_in[i] = rand_alpha(&rng);
                }
                uint8_t fg = rand_colour(&rng);
                int keep = rand_keep(&rng);
                uint8_t *a0 = exact_copy(a0_in, (size_t)(2 * n));
                uint8_t *a1 = exact_copy(a1_in, (size_t)(2 * n));
                uint8_t *ay = exact_copy(a0_in, (size_t)n);

                memset(o_ref, POISON, sizeof o_ref);
                memset(o_v, POISON, sizeof o_v);
                memcpy(o_ref + GUARD, dst_in, (size_t)n);
                memcpy(o_v + GUARD, dst_in, (size_t)n);
                v[0].blend_row_y(o_ref + GUARD, ay, n, fg);
                v[vi].blend_row_y(o_v + GUARD, ay, n, fg);
                assert_memory_equal(o_ref, o_v, sizeof o_ref);
                check_guards(o_v, n);

                memset(o_ref, POISON, sizeof o_ref);
                memset(o_v, POISON, sizeof o_v);
                memcpy(o_ref + GUARD, dst_in, (size_t)n);
                memcpy(o_v + GUARD, dst_in, (size_t)n);
                v[0].darken_row(o_ref + GUARD, n, fg, keep);
                v[vi].darken_row(o_v + GUARD, n, fg, keep);
                assert_memory_equal(o_ref, o_v, sizeof o_ref);
                check_guards(o_v, n);

                memset(o_ref, POISON, sizeof o_ref);
                memset(o_v, POISON, sizeof o_v);
                memcpy(o_ref + GUARD, dst_in, (size_t)n);
                memcpy(o_v + GUARD, dst_in, (size_t)n);
                v[0].blend_row_uv(o_ref + GUARD, a0, a1, n, fg);
                v[vi].blend_row_uv(o_v + GUARD, a0, a1, n, fg);
                assert_memory_equal(o_ref, o_v, sizeof o_ref);
                check_guards(o_v, n);

                free(a0);
                free(a1);
                free(ay);
            }
        }
    }
}

/* Every version, every (pixel, coverage) pair, against arithmetic done in doubles:
 * blend rounds the exact mix to nearest, darken rounds its Q8 mix half up, and the
 * chroma alpha is the rounded mean of four. */
static void exact_on_every_pair(void **state)
{
    (void)state;
    mcu_blend_dsp_t v[4];
    int nv = dsp_versions(v);
    uint8_t row[256], alpha[256], a2[512], zero[512];
    memset(zero, 0, sizeof zero);
    static const uint8_t fgs[] = {0, 16, 128, 235, 255};
    for (int vi = 0; vi < nv; vi++) {
        for (size_t f = 0; f < sizeof fgs; f++) {
            for (int a = 0; a < 256; a++) {
                for (int d = 0; d < 256; d++)
                    row[d] = (uint8_t)d;
                memset(alpha, a, sizeof alpha);
                v[vi].blend_row_y(row, alpha, 256, fgs[f]);
                for (int d = 0; d < 256; d++) {
                    double want = d + (fgs[f] - d) * a / 255.0;
                    if (row[d] != (int)(want + 0.5))
                        fail_msg("%s blend(%d, %d, %d) = %d, exact %.3f", v[vi].name, d, a,
                                 fgs[f], row[d], want);
                }
                /* Chroma: coverage a in one of the four luma pixels, 0 in the others, gives
                 * the mean (a + 2) >> 2. */
                for (int d = 0; d < 256; d++)
                    row[d] = (uint8_t)d;
                for (int i = 0; i < 512; i++)
                    a2[i] = (uint8_t)(i % 2 ? 0 : a);
                v[vi].blend_row_uv(row, zero, a2, 256, fgs[f]);
                int am = (a + 2) >> 2;
                for (int d = 0; d < 256; d++)
                    assert_int_equal(row[d], (int)(d + (fgs[f] - d) * am / 255.0 + 0.5));
            }
            for (int keep = 0; keep <= MCU_BLEND_KEEP_ONE; keep++) {
                for (int d = 0; d < 256; d++)
                    row[d] = (uint8_t)d;
                v[vi].darken_row(row, 256, fgs[f], keep);
                for (int d = 0; d < 256; d++) {
                    double want = (d * keep + fgs[f] * (256.0 - keep)) / 256.0;
                    assert_int_equal(row[d], (int)(want + 0.5));
                }
            }
        }
        /* Full coverage in all four gives the colour exactly; none leaves the pixel. */
        memset(a2, 255, sizeof a2);
        for (int d = 0; d < 256; d++)
            row[d] = (uint8_t)d;
        v[vi].blend_row_uv(row, a2, a2, 256, MCU_LABEL_TEXT_UV);
        for (int d = 0; d < 256; d++)
            assert_int_equal(row[d], MCU_LABEL_TEXT_UV);
    }
}

/* ---- mcu_label_draw ---- */

static void poison_canvas(mcu_canvas_t *c)
{
    memset(c->data[0], POISON, (size_t)c->stride[0] * c->height);
    memset(c->data[1], POISON, (size_t)c->stride[1] * (c->height / 2));
    memset(c->data[2], POISON, (size_t)c->stride[2] * (c->height / 2));
}

static void random_bitmap(test_rng_t *r, int w, int h, mcu_label_bitmap_t *bm)
{
    memset(bm, 0, sizeof *bm);
    bm->w = w, bm->h = h;
    bm->stride = w + (int)test_rng_below(r, 3) * 2;   /* stride > w sometimes */
    bm->alpha = malloc((size_t)bm->stride * h);
    assert_non_null(bm->alpha);
    for (int i = 0; i < bm->stride * h; i++)
        bm->alpha[i] = rand_alpha(r);
    bm->baseline = h * 3 / 4;
}

static uint8_t model_blend(int d, int a, int fg)
{
    return (uint8_t)((d * (255 - a) + fg * a + 127) / 255);
}

static uint8_t model_darken(int d, int target)
{
    const int k = MCU_LABEL_BACKDROP_KEEP;
    return (uint8_t)((d * k + target * (MCU_BLEND_KEEP_ONE - k) + 128) >>
                     MCU_BLEND_KEEP_SHIFT);
}

/* Where the box goes, from the header's rules, computed independently of label.c. */
static void expected_box(mcu_rect_t cell, const mcu_label_bitmap_t *bm, mcu_label_pos_t pos,
                         int *x0, int *y0)
{
    const int m = MCU_LABEL_MARGIN_PX;
    *x0 = cell.x + m;
    bool centred = pos == MCU_LABEL_POS_BOTTOM_CENTER || pos == MCU_LABEL_POS_CENTER;
    if (centred && bm->w <= cell.w - 2 * m)
        *x0 = cell.x + ((cell.w - bm->w) / 2 / 2 * 2);
    *y0 = pos == MCU_LABEL_POS_TOP_LEFT ? cell.y + m : cell.y + cell.h - m - bm->h;
    if (pos == MCU_LABEL_POS_CENTER)
        *y0 = cell.y + (cell.h - bm->h >= 0 ? (cell.h - bm->h) / 2 / 2 * 2
                                            : -((bm->h - cell.h) / 2 / 2 * 2));
    if (*y0 < cell.y)
        *y0 = cell.y;
}

/* Checks every byte of the canvas: outside the box-within-the-cell, POISON; inside,
 * the model (veil, then text; chroma with the 2x2 mean of the coverage). */
static void check_canvas(const mcu_canvas_t *c, mcu_rect_t cell, const mcu_label_bitmap_t *bm,
                         mcu_label_pos_t pos)
{
    int x0, y0;
    expected_box(cell, bm, pos, &x0, &y0);
    const int x1 = x0 + bm->w < cell.x + cell.w ? x0 + bm->w : cell.x + cell.w;
    const int y1 = y0 + bm->h < cell.y + cell.h ? y0 + bm->h : cell.y + cell.h;
    for (int y = 0; y < c->height; y++)
        for (int x = 0; x < c->stride[0]; x++) {
            int got = c->data[0][y * c->stride[0] + x];
            int want = POISON;
            if (x >= x0 && x < x1 && y >= y0 && y < y1)
                want = model_blend(model_darken(POISON, MCU_LABEL_BACKDROP_Y),
                                   bm->alpha[(y - y0) * bm->stride + (x - x0)],
                                   MCU_LABEL_TEXT_Y);
            if (got != want)
                fail_msg("Y (%d,%d) = %d, want %d; cell %d,%d %dx%d, box %d,%d %dx%d pos %d",
                         x, y, got, want, cell.x, cell.y, cell.w, cell.h, x0, y0, bm->w, bm->h,
                         (int)pos);
        }
    for (int p = 1; p <= 2; p++)
        for (int y = 0; y < c->height / 2; y++)
            for (int x = 0; x < c->stride[p]; x++) {
                int got = c->data[p][y * c->stride[p] + x];
                int want = POISON;
                if (2 * x >= x0 && 2 * x < x1 && 2 * y >= y0 && 2 * y < y1) {
                    const uint8_t *a = bm->alpha + (2 * y - y0) * bm->stride + (2 * x - x0);
                    int mean = (a[0] + a[1] + a[bm->stride] + a[bm->stride + 1] + 2) >> 2;
                    want = model_blend(model_darken(POISON, MCU_LABEL_BACKDROP_UV), mean,
                                       MCU_LABEL_TEXT_UV);
                }
                if (got != want)
                    fail_msg("plane %d (%d,%d) = %d, want %d", p, x, y, got, want);
            }
}

static void draw_stays_in_cell(void **state)
{
    (void)state;
    mcu_blend_dsp_t v[4];
    int nv = dsp_versions(v);
    test_rng_t rng;
    test_rng_seed(&rng, 77);
    mcu_canvas_t *c[4];
    for (int vi = 0; vi < nv; vi++)
        assert_int_equal(mcu_canvas_create(206, 118, &c[vi]), MCU_OK);   /* odd strides */
    /* Cells: interior, each edge and corner, tiny (smaller than the margins), whole. */
    const mcu_rect_t cells[] = {
        {40, 30, 100, 60}, {0, 0, 64, 36},   {142, 82, 64, 36}, {0, 82, 206, 36},
        {146, 0, 60, 118}, {100, 50, 2, 2},  {20, 20, 16, 16},  {0, 0, 206, 118},
    };
    const int sizes[][2] = {{2, 2}, {10, 6}, {30, 14}, {34, 22}, {66, 40}, {120, 30},
                            {250, 150}};
    int draws = 0;
    for (size_t ci = 0; ci < sizeof cells / sizeof cells[0]; ci++)
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
            for (int pos = 0; pos <= MCU_LABEL_POS_CENTER; pos++) {
                mcu_label_bitmap_t bm;
                random_bitmap(&rng, sizes[si][0], sizes[si][1], &bm);
                for (int vi = 0; vi < nv; vi++) {
                    poison_canvas(c[vi]);
                    assert_int_equal(mcu_label_draw_dsp(&v[vi], c[vi], cells[ci], &bm,
                                                        (mcu_label_pos_t)pos), MCU_OK);
                }
                check_canvas(c[0], cells[ci], &bm, (mcu_label_pos_t)pos);
                for (int vi = 1; vi < nv; vi++)
                    for (int p = 0; p < 3; p++)
                        assert_memory_equal(c[0]->data[p], c[vi]->data[p],
                                            (size_t)c[0]->stride[p] *
                                                (p ? c[0]->height / 2 : c[0]->height));
                /* The process-wide choice draws the same as the versions. */
                poison_canvas(c[0]);
                assert_int_equal(mcu_label_draw(c[0], cells[ci], &bm, (mcu_label_pos_t)pos),
                                 MCU_OK);
                check_canvas(c[0], cells[ci], &bm, (mcu_label_pos_t)pos);
                mcu_label_bitmap_free(&bm);
                draws++;
            }
    print_message("%d draws checked byte for byte on %d kernel version(s)\n", draws, nv);
    for (int vi = 0; vi < nv; vi++)
        mcu_canvas_destroy(&c[vi]);
}

static void draw_rejects(void **state)
{
    (void)state;
    mcu_canvas_t *c;
    assert_int_equal(mcu_canvas_create(128, 72, &c), MCU_OK);
    test_rng_t rng;
    test_rng_seed(&rng, 5);
    mcu_label_bitmap_t bm;
    random_bitmap(&rng, 20, 10, &bm);
    const mcu_rect_t ok = {0, 0, 64, 36};
    const mcu_rect_t bad_cells[] = {
        {1, 0, 64, 36}, {0, 0, 63, 36}, {-2, 0, 64, 36}, {0, 0, 0, 36},
        {80, 0, 64, 36}, {0, 40, 64, 36}, {0, 0, 130, 72},
    };
    poison_canvas(c);
    for (size_t i = 0; i < sizeof bad_cells / sizeof bad_cells[0]; i++)
        assert_int_equal(mcu_label_draw(c, bad_cells[i], &bm, MCU_LABEL_POS_BOTTOM_LEFT),
                         MCU_ERR_INVAL);
    assert_int_equal(mcu_label_draw(NULL, ok, &bm, MCU_LABEL_POS_BOTTOM_LEFT), MCU_ERR_INVAL);
    assert_int_equal(mcu_label_draw(c, ok, NULL, MCU_LABEL_POS_BOTTOM_LEFT), MCU_ERR_INVAL);
    assert_int_equal(mcu_label_draw(c, ok, &bm, (mcu_label_pos_t)4), MCU_ERR_INVAL);
    assert_int_equal(mcu_label_draw(c, ok, &bm, (mcu_label_pos_t)-1), MCU_ERR_INVAL);
    assert_int_equal(mcu_label_draw_dsp(NULL, c, ok, &bm, MCU_LABEL_POS_BOTTOM_LEFT),
                     MCU_ERR_INVAL);
    mcu_label_bitmap_t odd = bm;
    odd.w = 19;
    assert_int_equal(mcu_label_draw(c, ok, &odd, MCU_LABEL_POS_BOTTOM_LEFT), MCU_ERR_INVAL);
    odd = bm;
    odd.stride = 18;
    assert_int_equal(mcu_label_draw(c, ok, &odd, MCU_LABEL_POS_BOTTOM_LEFT), MCU_ERR_INVAL);
    odd = bm;
    odd.alpha = NULL;
    assert_int_equal(mcu_label_draw(c, ok, &odd, MCU_LABEL_POS_BOTTOM_LEFT), MCU_ERR_INVAL);
    /* An empty label draws nothing. */
    mcu_label_bitmap_t empty = {0};
    assert_int_equal(mcu_label_draw(c, ok, &empty, MCU_LABEL_POS_BOTTOM_LEFT), MCU_OK);
    for (int p = 0; p < 3; p++) {
        size_t n = (size_t)c->stride[p] * (p ? c->height / 2 : c->height);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(c->data[p][i], POISON);
    }
    mcu_label_bitmap_free(&bm);
    mcu_canvas_destroy(&c);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Cost of one label per frame: a 240x40 box (a 48 px name on a big tile) on 1280x720. */
static void draw_cost(void **state)
{
    (void)state;
    mcu_blend_dsp_t v[4];
    int nv = dsp_versions(v);
    mcu_canvas_t *c;
    assert_int_equal(mcu_canvas_create(1280, 720, &c), MCU_OK);
    test_rng_t rng;
    test_rng_seed(&rng, 9);
    mcu_label_bitmap_t bm;
    random_bitmap(&rng, 240, 40, &bm);
    const mcu_rect_t cell = {0, 0, 640, 360};
    const int reps = 200;
    double t_ref = 0;
    for (int vi = 0; vi < nv; vi++) {
        double t0 = now_s();
        for (int r = 0; r < reps; r++)
            assert_int_equal(
                mcu_label_draw_dsp(&v[vi], c, cell, &bm, MCU_LABEL_POS_BOTTOM_LEFT), MCU_OK);
        double t = (now_s() - t0) / reps;
        if (vi == 0)
            t_ref = t;
        print_message("draw 240x40 label, %-4s: %.1f us (x%.1f)\n", v[vi].name, t * 1e6,
                      t_ref / t);
    }
    mcu_label_bitmap_free(&bm);
    mcu_canvas_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kernels_match_reference),
        cmocka_unit_test(exact_on_every_pair),
        cmocka_unit_test(draw_stays_in_cell),
        cmocka_unit_test(draw_rejects),
        cmocka_unit_test(draw_cost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
