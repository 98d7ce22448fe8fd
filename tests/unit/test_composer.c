/* Canvas and composer: pictures land inside their cell and nowhere else (the canvas is
 * pre-filled with a poison byte and every byte outside the cell, stride padding
 * included, must still hold it), letterbox bars are background, libyuv's SIMD output
 * equals its C output on random pictures of odd sizes, the swscale path for other
 * formats and the full-range conversion give the right colours, and the Yên Mô
 * composite (18 sites of 640x360 in grid20 on 1280x720) is timed against the C paths and
 * against "swscale into a temporary, then copy". */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/frame.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <libyuv/convert.h>
#include <libyuv/cpu_id.h>

#include "layouts/canvas.h"
#include "layouts/composer.h"
#include "layouts/layout.h"
#include "mcu/error.h"
#include "test_util.h"

/* A byte value no test colour uses, so a stray write shows. */
#define POISON 0xA5

/* libyuv's box filter divides by the box area with a truncated 16.16 reciprocal
 * (sum * (65536 / area) >> 16): when the area does not divide 65536 (a 2x3 or 3x3 box,
 * as in 640 -> 256) a flat colour c comes out as c - 1. The bias is at most one code
 * value, one way (darker), and the same in libyuv's SIMD and C paths; invisible, so the
 * tests accept c - 1 wherever the box filter was used. Bilinear keeps a flat colour. */
#define BOX_BIAS 1

typedef struct { uint8_t y, u, v; } yuv_t;

/* ---- pictures ---- */

static AVFrame *frame_new(enum AVPixelFormat fmt, int w, int h)
{
    AVFrame *f = av_frame_alloc();
    assert_non_null(f);
    f->format = fmt;
    f->width = w;
    f->height = h;
    assert_int_equal(av_frame_get_buffer(f, 0), 0);
    return f;
}

static int frame_plane_rows(const AVFrame *f, int plane)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)f->format);
    return (plane == 1 || plane == 2) ? AV_CEIL_RSHIFT(f->height, d->log2_chroma_h)
                                      : f->height;
}

/* Paints rows [y0, y1) of an 8-bit YUV picture (planar or semi-planar) one colour. */
static void frame_band(AVFrame *f, int y0, int y1, yuv_t c)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)f->format);
    const uint8_t val[3] = {c.y, c.u, c.v};
    for (int k = 0; k < 3; k++) {
        const AVComponentDescriptor *comp = &d->comp[k];
        int sx = k ? d->log2_chroma_w : 0, sy = k ? d->log2_chroma_h : 0;
        int w = AV_CEIL_RSHIFT(f->width, sx);
        int r0 = y0 >> sy, r1 = AV_CEIL_RSHIFT(y1, sy);
        for (int r = r0; r < r1; r++) {
            uint8_t *row = f->data[comp->plane] + (ptrdiff_t)r * f->linesize[comp->plane];
            for (int x = 0; x < w; x++)
                row[comp->offset + x * comp->step] = val[k];
        }
    }
}

static AVFrame *frame_solid(enum AVPixelFormat fmt, int w, int h, yuv_t c)
{
    AVFrame *f = frame_new(fmt, w, h);
    frame_band(f, 0, h, c);
    return f;
}

static AVFrame *frame_random(test_rng_t *rng, enum AVPixelFormat fmt, int w, int h)
{
    AVFrame *f = frame_new(fmt, w, h);
    for (int p = 0; p < 4 && f->data[p]; p++)
        test_rng_fill(rng, f->data[p], (size_t)f->linesize[p] * (size_t)frame_plane_rows(f, p));
    return f;
}

/* ---- canvas inspection ---- */

static int cv_rows(const mcu_canvas_t *cv, int p) { return p ? cv->height / 2 : cv->height; }

static size_t cv_bytes(const mcu_canvas_t *cv)
{
    size_t n = 0;
    for (int p = 0; p < 3; p++)
        n += (size_t)cv->stride[p] * (size_t)cv_rows(cv, p);
    return n;
}

/* Every byte of every plane, stride padding included (the planes are contiguous). */
static void cv_poison(mcu_canvas_t *cv) { memset(cv->data[0], POISON, cv_bytes(cv)); }

static uint8_t cv_at(const mcu_canvas_t *cv, int p, int x, int y)
{
    return cv->data[p][(size_t)y * (size_t)cv->stride[p] + (size_t)x];
}

/* The centre pixel of r, all three planes. */
static yuv_t cv_centre(const mcu_canvas_t *cv, mcu_rect_t r)
{
    int x = r.x + r.w / 2, y = r.y + r.h / 2;
    return (yuv_t){cv_at(cv, 0, x, y), cv_at(cv, 1, x / 2, y / 2), cv_at(cv, 2, x / 2, y / 2)};
}

static void assert_near(int got, int want, int below, int above)
{
    if (got < want - below || got > want + above) {
        print_error("got %d, want %d (-%d/+%d)\n", got, want, below, above);
        fail();
    }
}

/* Every sample of r (luma coordinates, even) is the colour, down to `below` under it. */
static void expect_rect(const mcu_canvas_t *cv, mcu_rect_t r, yuv_t c, int below)
{
    const uint8_t want[3] = {c.y, c.u, c.v};
    for (int p = 0; p < 3; p++) {
        int s = p ? 1 : 0;
        for (int y = r.y >> s; y < (r.y + r.h) >> s; y++)
            for (int x = r.x >> s; x < (r.x + r.w) >> s; x++) {
                int got = cv_at(cv, p, x, y);
                if (got > want[p] || got < want[p] - below) {
                    print_error("plane %d (%d,%d): %d, want %d (-%d)\n", p, x, y, got,
                                want[p], below);
                    fail();
                }
            }
    }
}

static bool inside(mcu_rect_t r, int x, int y)
{
    return x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h;
}

/* Every byte of the canvas buffer outside `cell` (stride padding included) is poison. */
static void expect_outside_poison(const mcu_canvas_t *cv, mcu_rect_t cell)
{
    for (int p = 0; p < 3; p++) {
        int s = p ? 1 : 0;
        mcu_rect_t pc = {cell.x >> s, cell.y >> s, cell.w >> s, cell.h >> s};
        for (int y = 0; y < cv_rows(cv, p); y++)
            for (int x = 0; x < cv->stride[p]; x++)
                if (!inside(pc, x, y) && cv_at(cv, p, x, y) != POISON) {
                    print_error("plane %d (%d,%d) outside the cell written: %d\n", p, x, y,
                                cv_at(cv, p, x, y));
                    fail();
                }
    }
}

/* The cell minus the placed rectangle is background. */
static void expect_bars(const mcu_canvas_t *cv, mcu_rect_t cell, mcu_rect_t dst)
{
    const yuv_t bg = {MCU_COMPOSER_BG_Y, MCU_COMPOSER_BG_U, MCU_COMPOSER_BG_V};
    const mcu_rect_t bars[4] = {
        {cell.x, cell.y, cell.w, dst.y - cell.y},
        {cell.x, dst.y + dst.h, cell.w, cell.y + cell.h - dst.y - dst.h},
        {cell.x, dst.y, dst.x - cell.x, dst.h},
        {dst.x + dst.w, dst.y, cell.x + cell.w - dst.x - dst.w, dst.h},
    };
    for (int k = 0; k < 4; k++)
        expect_rect(cv, bars[k], bg, 0);
}

/* The composer's rule (composer.c): box beyond a 2x reduction in either direction. */
static bool box_used(mcu_rect_t crop, mcu_rect_t dst)
{
    return crop.w > 2 * dst.w || crop.h > 2 * dst.h;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- tests ---- */

static void canvas_basics(void **state)
{
    (void)state;
    mcu_canvas_t *cv = (mcu_canvas_t *)&cv; /* must be cleared on failure */
    assert_int_equal(mcu_canvas_create(1281, 720, &cv), MCU_ERR_INVAL);
    assert_null(cv);
    assert_int_equal(mcu_canvas_create(1280, 721, &cv), MCU_ERR_INVAL);
    assert_int_equal(mcu_canvas_create(0, 720, &cv), MCU_ERR_INVAL);
    assert_int_equal(mcu_canvas_create(-2, 720, &cv), MCU_ERR_INVAL);
    assert_int_equal(mcu_canvas_create(MCU_CANVAS_MAX_SIDE + 2, 2, &cv), MCU_ERR_INVAL);
    assert_int_equal(mcu_canvas_create(2, 2, NULL), MCU_ERR_INVAL);

    static const int sizes[][2] = {{1280, 720}, {640, 360}, {2, 2}, {642, 362}, {130, 98}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int w = sizes[k][0], h = sizes[k][1];
        assert_int_equal(mcu_canvas_create(w, h, &cv), MCU_OK);
        assert_int_equal(cv->width, w);
        assert_int_equal(cv->height, h);
        for (int p = 0; p < 3; p++) {
            assert_int_equal((uintptr_t)cv->data[p] % MCU_CANVAS_ALIGN, 0);
            assert_int_equal(cv->stride[p] % MCU_CANVAS_ALIGN, 0);
            assert_true(cv->stride[p] >= (p ? w / 2 : w));
        }
        /* Starts as video black, everywhere. */
        expect_rect(cv, (mcu_rect_t){0, 0, w, h},
                    (yuv_t){MCU_CANVAS_INIT_Y, MCU_CANVAS_INIT_U, MCU_CANVAS_INIT_V}, 0);

        /* fill touches its rectangle and nothing else. */
        cv_poison(cv);
        mcu_rect_t r = {w / 2 & ~1, 0, 2, h};
        assert_int_equal(mcu_canvas_fill(cv, r, 1, 2, 3), MCU_OK);
        expect_rect(cv, r, (yuv_t){1, 2, 3}, 0);
        expect_outside_poison(cv, r);
        assert_int_equal(mcu_canvas_fill(cv, (mcu_rect_t){0, 0, 0, 0}, 9, 9, 9), MCU_OK);
        expect_outside_poison(cv, r);

        static const mcu_rect_t bad[] = {{1, 0, 2, 2},  {0, 1, 2, 2},  {0, 0, 3, 2},
                                         {0, 0, 2, 3},  {-2, 0, 2, 2}, {0, 0, -2, 2}};
        for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++)
            assert_int_equal(mcu_canvas_fill(cv, bad[b], 0, 0, 0), MCU_ERR_INVAL);
        assert_int_equal(mcu_canvas_fill(cv, (mcu_rect_t){w - 2, 0, 4, 2}, 0, 0, 0),
                         MCU_ERR_INVAL);
        assert_int_equal(mcu_canvas_fill(cv, (mcu_rect_t){0, h, 2, 2}, 0, 0, 0),
                         MCU_ERR_INVAL);
        assert_int_equal(mcu_canvas_fill(NULL, r, 0, 0, 0), MCU_ERR_INVAL);
        expect_outside_poison(cv, r);

        /* The AVFrame view: same pixels, one more reference to them. */
        AVFrame *f = av_frame_alloc();
        assert_non_null(f);
        f->pts = 1234;
        assert_int_equal(mcu_canvas_as_avframe(cv, f), MCU_OK);
        assert_int_equal(f->width, w);
        assert_int_equal(f->height, h);
        assert_int_equal(f->format, AV_PIX_FMT_YUV420P);
        assert_int_equal(f->color_range, AVCOL_RANGE_MPEG);
        assert_int_equal(f->pts, 1234);
        assert_non_null(f->buf[0]);
        for (int p = 0; p < 3; p++) {
            assert_ptr_equal(f->data[p], cv->data[p]);
            assert_int_equal(f->linesize[p], cv->stride[p]);
        }
        assert_null(f->data[3]);
        /* A reference made from it shares the pixels (libavcodec copies nothing)... */
        AVFrame *ref = av_frame_alloc();
        assert_non_null(ref);
        assert_int_equal(av_frame_ref(ref, f), 0);
        assert_ptr_equal(ref->data[0], cv->data[0]);
        av_frame_unref(f);
        /* ...and drawing after make_writable never touches what a frame still holds. */
        uint8_t *shared = cv->data[0];
        assert_int_equal(mcu_canvas_make_writable(cv), MCU_OK);
        assert_ptr_not_equal(cv->data[0], shared);
        assert_memory_equal(cv->data[0], ref->data[0], (size_t)cv->stride[0] * (size_t)h);
        assert_int_equal(mcu_canvas_fill(cv, r, 9, 9, 9), MCU_OK);
        assert_int_equal(ref->data[0][r.x], 1);
        assert_int_equal(cv->data[0][r.x], 9);
        /* The canvas may go first: the frame keeps the pixels it holds. */
        mcu_canvas_t *gone = NULL;
        assert_int_equal(mcu_canvas_create(w, h, &gone), MCU_OK);
        assert_int_equal(mcu_canvas_as_avframe(gone, f), MCU_OK);
        mcu_canvas_destroy(&gone);
        assert_int_equal(f->data[0][0], MCU_CANVAS_INIT_Y);
        av_frame_unref(f);
        /* Sole owner again: make_writable keeps the same pixels. */
        shared = cv->data[0];
        assert_int_equal(mcu_canvas_make_writable(cv), MCU_OK);
        assert_ptr_equal(cv->data[0], shared);
        assert_int_equal(mcu_canvas_make_writable(NULL), MCU_ERR_INVAL);
        av_frame_free(&ref);
        assert_int_equal(mcu_canvas_fill(cv, r, 1, 1, 1), MCU_OK);
        /* A frame that holds buffers is refused, untouched. */
        f->format = AV_PIX_FMT_GRAY8;
        f->width = f->height = 4;
        assert_int_equal(av_frame_get_buffer(f, 0), 0);
        uint8_t *own = f->data[0];
        assert_int_equal(mcu_canvas_as_avframe(cv, f), MCU_ERR_INVAL);
        assert_ptr_equal(f->data[0], own);
        assert_int_equal(mcu_canvas_as_avframe(NULL, f), MCU_ERR_INVAL);
        assert_int_equal(mcu_canvas_as_avframe(cv, NULL), MCU_ERR_INVAL);
        av_frame_free(&f);

        mcu_canvas_destroy(&cv);
        assert_null(cv);
    }
    mcu_canvas_destroy(&cv);
    mcu_canvas_destroy(NULL);
}

/* MCU_CPU_MASK=0 forces libyuv's C paths. The variable is read once, at the first
 * mcu_composer_create in the process: this test must run before any other creates one. */
static void cpu_mask_env(void **state)
{
    (void)state;
    const char *saved = getenv("MCU_CPU_MASK");
    char keep[64] = "";
    if (saved)
        snprintf(keep, sizeof keep, "%s", saved);
    assert_int_equal(setenv("MCU_CPU_MASK", "0", 1), 0);
    mcu_composer_t *comp = NULL;
    assert_int_equal(mcu_composer_create(&comp), MCU_OK);
    /* Only "initialised" is left. */
    assert_int_equal(TestCpuFlag(-1 & ~kCpuInitialized), 0);
    assert_true(TestCpuFlag(kCpuInitialized));
    mcu_composer_force_c(false);
    int all = MaskCpuFlags(-1);
    printf("MCU_CPU_MASK=0: no SIMD; mcu_composer_force_c(false): libyuv flags 0x%x\n", all);
    mcu_composer_force_c(true);
    assert_int_equal(TestCpuFlag(-1 & ~kCpuInitialized), 0);
    mcu_composer_force_c(false);
    assert_int_equal(TestCpuFlag(-1), all);
    mcu_composer_destroy(&comp);
    if (saved)
        setenv("MCU_CPU_MASK", keep, 1);
    else
        unsetenv("MCU_CPU_MASK");
}

/* One solid source into one cell: placed rect that colour, bars background, nothing
 * outside the cell written. */
static void check_solid(mcu_composer_t *comp, mcu_canvas_t *cv, enum AVPixelFormat fmt,
                        int sw, int sh, mcu_rect_t cell, mcu_fit_t fit, yuv_t c)
{
    AVFrame *src = frame_solid(fmt, sw, sh, c);
    mcu_rect_t dst, crop;
    assert_int_equal(mcu_layout_fit(cell, sw, sh, fit, &dst, &crop), MCU_OK);
    cv_poison(cv);
    assert_int_equal(mcu_composer_draw(comp, cv, 3, cell, src, fit), MCU_OK);
    expect_rect(cv, dst, c, box_used(crop, dst) ? BOX_BIAS : 0);
    expect_bars(cv, cell, dst);
    expect_outside_poison(cv, cell);
    av_frame_free(&src);
}

static void solid_into_cell(void **state)
{
    (void)state;
    mcu_composer_t *comp = NULL;
    mcu_canvas_t *cv = NULL;
    assert_int_equal(mcu_composer_create(&comp), MCU_OK);
    assert_int_equal(mcu_canvas_create(1280, 720, &cv), MCU_OK);
    static const struct {
        int sw, sh;
        mcu_rect_t cell;
    } cases[] = {
        {640, 360, {426, 240, 426, 240}},  /* grid9 middle: 1.5x, bilinear */
        {640, 360, {256, 180, 256, 180}},  /* grid20: 2.5x, box, 18-px bars */
        {640, 480, {0, 0, 640, 360}},      /* 4:3 in 16:9 */
        {641, 359, {852, 480, 428, 240}},  /* odd source, last column of grid9 */
        {17, 9, {0, 0, 1280, 720}},        /* tiny source, enlarged to the canvas */
        {1920, 1080, {1024, 540, 256, 180}},/* 7.5x, bottom-right corner */
        {360, 640, {640, 0, 640, 720}},    /* portrait phone */
        {2, 2, {100, 100, 16, 16}},
    };
    const yuv_t colours[] = {{81, 90, 240}, {235, 16, 128}, {16, 240, 16}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int fit = 0; fit < 2; fit++)
            check_solid(comp, cv, AV_PIX_FMT_YUV420P, cases[k].sw, cases[k].sh, cases[k].cell,
                        (mcu_fit_t)fit, colours[(k + (size_t)fit) % 3]);
    mcu_canvas_destroy(&cv);
    mcu_composer_destroy(&comp);
    assert_null(comp);
    mcu_composer_destroy(&comp);
}

/* The SIMD kernels (libyuv's, scale_dsp's) against their C references: random pictures,
 * odd sizes, random cells and fits, whole canvases compared (guard bytes included). */
static void simd_matches_c(void **state)
{
    (void)state;
    test_rng_t rng;
    test_rng_seed(&rng, 0xC0FFEE);
    mcu_composer_t *comp = NULL;
    mcu_canvas_t *a = NULL, *b = NULL;
    assert_int_equal(mcu_composer_create(&comp), MCU_OK);
    assert_int_equal(mcu_canvas_create(1280, 720, &a), MCU_OK);
    assert_int_equal(mcu_canvas_create(1280, 720, &b), MCU_OK);

    mcu_composer_force_c(false);
    int simd = MaskCpuFlags(-1);
    printf("libyuv CPU flags 0x%x (SSSE3 %d AVX2 %d AVX512BW %d)\n", simd,
           !!(simd & kCpuHasSSSE3), !!(simd & kCpuHasAVX2), !!(simd & kCpuHasAVX512BW));

    static const int fixed[][2] = {{641, 359}, {17, 9}, {1920, 1080}, {640, 360}, {2, 2}};
    const int n_fixed = (int)(sizeof fixed / sizeof fixed[0]);
    int max_diff = 0, n_box = 0, n_bilinear = 0;
    for (int iter = 0; iter < 40; iter++) {
        int sw, sh;
        if (iter < 2 * n_fixed) {
            sw = fixed[iter % n_fixed][0];
            sh = fixed[iter % n_fixed][1];
        } else {
            sw = 2 + (int)test_rng_below(&rng, 1000);
            sh = 2 + (int)test_rng_below(&rng, 700);
        }
        mcu_rect_t cell;
        cell.w = 2 * (1 + (int)test_rng_below(&rng, 640));
        cell.h = 2 * (1 + (int)test_rng_below(&rng, 360));
        cell.x = 2 * (int)test_rng_below(&rng, (uint32_t)(1280 - cell.w) / 2 + 1);
        cell.y = 2 * (int)test_rng_below(&rng, (uint32_t)(720 - cell.h) / 2 + 1);
        mcu_fit_t fit = (mcu_fit_t)test_rng_below(&rng, 2);
        enum AVPixelFormat fmt = iter % 4 == 3 ? AV_PIX_FMT_YUVJ420P : AV_PIX_FMT_YUV420P;
        AVFrame *src = frame_random(&rng, fmt, sw, sh);

        mcu_rect_t dst, crop;
        assert_int_equal(mcu_layout_fit(cell, sw, sh, fit, &dst, &crop), MCU_OK);
        if (box_used(crop, dst))
            n_box++;
        else
            n_bilinear++;

        cv_poison(a);
        cv_poison(b);
        mcu_composer_force_c(false);
        assert_int_equal(mcu_composer_draw(comp, a, 0, cell, src, fit), MCU_OK);
        mcu_composer_force_c(true);
        assert_int_equal(mcu_composer_draw(comp, b, 0, cell, src, fit), MCU_OK);
        mcu_composer_force_c(false);

        size_t n = cv_bytes(a);
        for (size_t i = 0; i < n; i++) {
            int d = abs(a->data[0][i] - b->data[0][i]);
            max_diff = d > max_diff ? d : max_diff;
        }
        expect_outside_poison(a, cell);
        expect_outside_poison(b, cell);
        av_frame_free(&src);
    }
    printf("SIMD vs C: 40 draws (%d box, %d bilinear), max abs diff %d\n", n_box, n_bilinear,
           max_diff);
    /* libyuv keeps its SIMD row kernels bit-exact with the C ones for box and bilinear
     * I420 scaling (its own unit tests compare them with zero tolerance). */
    assert_int_equal(max_diff, 0);
    assert_true(n_box > 0 && n_bilinear > 0);

    mcu_canvas_destroy(&a);
    mcu_canvas_destroy(&b);
    mcu_composer_destroy(&comp);
}

/* ---- the Yên Mô composite ---- */

#define YEN_MO_SITES 18
#define BENCH_ITERS 100

static yuv_t site_colour(int i)
{
    /* Distinct, away from the background and from POISON. */
    return (yuv_t){(uint8_t)(40 + 10 * i), (uint8_t)(60 + 7 * i), (uint8_t)(200 - 6 * i)};
}

typedef struct {
    mcu_composer_t *comp;
    mcu_canvas_t *cv;
    const mcu_layout_t *layout;
    AVFrame **src;
    int first, step; /* tiles first, first + step, ... */
} draw_job_t;

static void draw_tiles(const draw_job_t *j)
{
    for (int i = j->first; i < j->layout->n_cells; i += j->step) {
        int rc = i < YEN_MO_SITES
                     ? mcu_composer_draw(j->comp, j->cv, i, j->layout->cells[i], j->src[i],
                                         MCU_FIT_LETTERBOX)
                     : mcu_composer_draw_no_signal(j->comp, j->cv, j->layout->cells[i]);
        assert_int_equal(rc, MCU_OK);
    }
}

static void *draw_thread(void *arg)
{
    draw_tiles(arg);
    return NULL;
}

static double time_compose(mcu_composer_t *comp, mcu_canvas_t *cv, const mcu_layout_t *l,
                           AVFrame **src)
{
    const draw_job_t all = {comp, cv, l, src, 0, 1};
    draw_tiles(&all); /* warm-up: caches, page faults */
    double t0 = now_ms();
    for (int it = 0; it < BENCH_ITERS; it++)
        draw_tiles(&all);
    return (now_ms() - t0) / BENCH_ITERS;
}

/* The alternative the composer avoids: swscale each site into a temporary picture of the
 * placed size (cached context and buffer per tile, as a fair implementation would),
 * then copy it into the canvas and paint the bars. */
static double time_swscale_alternative(mcu_canvas_t *cv, const mcu_layout_t *l, AVFrame **src)
{
    struct SwsContext *sws[YEN_MO_SITES];
    AVFrame *tmp[YEN_MO_SITES];
    mcu_rect_t dst[YEN_MO_SITES];
    for (int i = 0; i < YEN_MO_SITES; i++) {
        mcu_rect_t crop;
        assert_int_equal(mcu_layout_fit(l->cells[i], src[i]->width, src[i]->height,
                                        MCU_FIT_LETTERBOX, &dst[i], &crop),
                         MCU_OK);
        sws[i] = sws_getContext(crop.w, crop.h, AV_PIX_FMT_YUV420P, dst[i].w, dst[i].h,
                                AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
        assert_non_null(sws[i]);
        tmp[i] = frame_new(AV_PIX_FMT_YUV420P, dst[i].w, dst[i].h);
    }
    double t0 = 0;
    for (int it = -1; it < BENCH_ITERS; it++) { /* it == -1: warm-up */
        if (it == 0)
            t0 = now_ms();
        for (int i = 0; i < YEN_MO_SITES; i++) {
            sws_scale(sws[i], (const uint8_t *const *)src[i]->data, src[i]->linesize, 0,
                      src[i]->height, tmp[i]->data, tmp[i]->linesize);
            mcu_rect_t d = dst[i], c = l->cells[i];
            I420Copy(tmp[i]->data[0], tmp[i]->linesize[0], tmp[i]->data[1],
                     tmp[i]->linesize[1], tmp[i]->data[2], tmp[i]->linesize[2],
                     cv->data[0] + d.y * cv->stride[0] + d.x, cv->stride[0],
                     cv->data[1] + d.y / 2 * cv->stride[1] + d.x / 2, cv->stride[1],
                     cv->data[2] + d.y / 2 * cv->stride[2] + d.x / 2, cv->stride[2], d.w, d.h);
            /* 16:9 into 256x180: bars above and below only. */
            mcu_canvas_fill(cv, (mcu_rect_t){c.x, c.y, c.w, d.y - c.y}, MCU_COMPOSER_BG_Y,
                            MCU_COMPOSER_BG_U, MCU_COMPOSER_BG_V);
            mcu_canvas_fill(cv, (mcu_rect_t){c.x, d.y + d.h, c.w, c.y + c.h - d.y - d.h},
                            MCU_COMPOSER_BG_Y, MCU_COMPOSER_BG_U, MCU_COMPOSER_BG_V);
        }
        for (int i = YEN_MO_SITES; i < l->n_cells; i++)
            mcu_canvas_fill(cv, l->cells[i], MCU_COMPOSER_NOSIG_Y, MCU_COMPOSER_NOSIG_U,
                            MCU_COMPOSER_NOSIG_V);
    }
    double ms = (now_ms() - t0) / BENCH_ITERS;
    for (int i = 0; i < YEN_MO_SITES; i++) {
        sws_freeContext(sws[i]);
        av_frame_free(&tmp[i]);
    }
    return ms;
}

static void yen_mo_grid20(void **state)
{
    (void)state;
    mcu_layout_t l;
    assert_int_equal(mcu_layout_compute(mcu_layout_auto_grid(YEN_MO_SITES), 1280, 720, &l),
                     MCU_OK);
    assert_int_equal(l.n_cells, 20);
    AVFrame *src[YEN_MO_SITES];
    for (int i = 0; i < YEN_MO_SITES; i++)
        src[i] = frame_solid(AV_PIX_FMT_YUV420P, 640, 360, site_colour(i));
    mcu_composer_t *comp = NULL;
    mcu_canvas_t *cv = NULL, *ref = NULL;
    assert_int_equal(mcu_composer_create(&comp), MCU_OK);
    assert_int_equal(mcu_canvas_create(1280, 720, &cv), MCU_OK);
    assert_int_equal(mcu_canvas_create(1280, 720, &ref), MCU_OK);

    /* One thread: every centre is its site's colour (a 2.5x box reduction), the two
     * empty cells show the no-signal tile. */
    cv_poison(ref);
    draw_tiles(&(draw_job_t){comp, ref, &l, src, 0, 1});
    for (int i = 0; i < YEN_MO_SITES; i++) {
        yuv_t got = cv_centre(ref, l.cells[i]), want = site_colour(i);
        assert_near(got.y, want.y, BOX_BIAS, 0);
        assert_near(got.u, want.u, BOX_BIAS, 0);
        assert_near(got.v, want.v, BOX_BIAS, 0);
    }
    for (int i = YEN_MO_SITES; i < l.n_cells; i++) {
        yuv_t got = cv_centre(ref, l.cells[i]);
        assert_int_equal(got.y, MCU_COMPOSER_NOSIG_Y);
        assert_int_equal(got.u, MCU_COMPOSER_NOSIG_U);
        assert_int_equal(got.v, MCU_COMPOSER_NOSIG_V);
    }
    /* The grid covers the canvas: no poison left in the picture area. */
    for (int y = 0; y < 720; y++)
        for (int x = 0; x < 1280; x++)
            assert_int_not_equal(cv_at(ref, 0, x, y), POISON);

    /* Two threads drawing alternate tiles of one canvas with one composer give the same
     * canvas, byte for byte. */
    cv_poison(cv);
    draw_job_t even = {comp, cv, &l, src, 0, 2}, odd = {comp, cv, &l, src, 1, 2};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, draw_thread, &odd), 0);
    draw_tiles(&even);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_memory_equal(cv->data[0], ref->data[0], cv_bytes(cv));

    /* Timings: print only. */
    mcu_composer_force_c(false);
    double simd_ms = time_compose(comp, cv, &l, src);
    mcu_composer_force_c(true);
    double c_ms = time_compose(comp, cv, &l, src);
    mcu_composer_force_c(false);
    double sws_ms = time_swscale_alternative(cv, &l, src);
    printf("Yên Mô compose, 18 x 640x360 -> grid20 1280x720, %d iterations:\n"
           "  SIMD (libyuv + scale_dsp), in place   %.3f ms\n"
           "  C (libyuv MaskCpuFlags(1), scale_dsp) %.3f ms\n"
           "  swscale into temporaries + copy        %.3f ms\n",
           BENCH_ITERS, simd_ms, c_ms, sws_ms);

    for (int i = 0; i < YEN_MO_SITES; i++)
        av_frame_free(&src[i]);
    mcu_canvas_destroy(&cv);
    mcu_canvas_destroy(&ref);
    mcu_composer_destroy(&comp);
}

/* Formats libyuv does not take go through swscale; colours survive within +-2, nothing
 * outside the cell is written (swscale itself would overrun the row: see composer.h). */
static void other_formats_via_swscale(void **state)
{
    (void)state;
    mcu_composer_t *comp = NULL;
    mcu_canvas_t *cv = NULL;
    assert_int_equal(mcu_composer_create(&comp), MCU_OK);
    assert_int_equal(mcu_canvas_create(1280, 720, &cv), MCU_OK);
    const yuv_t c = {150, 70, 190};
    static const enum AVPixelFormat fmts[] = {AV_PIX_FMT_YUV444P, AV_PIX_FMT_YUV422P,
                                              AV_PIX_FMT_NV12};
    /* Cells whose chroma width is no multiple of 8, where swscale's 8-byte rows overrun. */
    static const mcu_rect_t cells[] = {{426, 240, 426, 240}, {2, 2, 254, 178}, {1000, 0, 278, 158}};
    static const int sizes[][2] = {{640, 360}, {641, 359}, {320, 240}};
    for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++)
        for (size_t k = 0; k < 3; k++) {
            AVFrame *src = frame_solid(fmts[f], sizes[k][0], sizes[k][1], c);
            for (int fit = 0; fit < 2; fit++) {
                mcu_rect_t dst, crop;
                assert_int_equal(mcu_layout_fit(cells[k], src->width, src->height,
                                                (mcu_fit_t)fit, &dst, &crop),
                                 MCU_OK);
                cv_poison(cv);
                /* Same tile index throughout: the cached context follows size, format
                 * and placement changes. */
                assert_int_equal(mcu_composer_draw(comp, cv, 7, cells[k], src, (mcu_fit_t)fit),
                                 MCU_OK);
                yuv_t got = cv_centre(cv, dst);
                assert_near(got.y, c.y, 2, 2);
                assert_near(got.u, c.u, 2, 2);
                assert_near(got.v, c.v, 2, 2);
                expect_rect(cv, dst, (yuv_t){c.y + 2, c.u + 2, c.v + 2}, 4);
                expect_bars(cv, cells[k], dst);
                expect_outside_poison(cv, cells[k]);
            }
            av_frame_free(&src);
        }
    mcu_canvas_destroy(&cv);
    mcu_composer_destroy(&comp);
}

/* Full range comes out limited: black 0 -> 16, white 255 -> 235, chroma extremes 0/255
 * -> 16/240, through libyuv (yuvj420p, or yuv420p tagged JPEG range) and swscale. */
static void full_range_to_limited(void **state)
{
    (void)state;
    mcu_composer_t *comp = NULL;
    mcu_canvas_t *cv = NULL;
    assert_int_equal(mcu_composer_create(&comp), MCU_OK);
    assert_int_equal(mcu_canvas_create(640, 360, &cv), MCU_OK);
    const mcu_rect_t cell = {0, 0, 320, 180};
    static const struct {
        enum AVPixelFormat fmt;
        enum AVColorRange range;
        int tol;
    } cases[] = {
        {AV_PIX_FMT_YUVJ420P, AVCOL_RANGE_UNSPECIFIED, 0},
        {AV_PIX_FMT_YUV420P, AVCOL_RANGE_JPEG, 0},
        {AV_PIX_FMT_YUVJ444P, AVCOL_RANGE_UNSPECIFIED, 2},
        {AV_PIX_FMT_YUV444P, AVCOL_RANGE_JPEG, 2},
    };
    const struct { yuv_t in, out; } levels[] = {
        {{0, 0, 255}, {16, 16, 240}},
        {{255, 255, 0}, {235, 240, 16}},
        {{128, 128, 128}, {126, 128, 128}}, /* 16 + 128 * 219 / 255 = 125.9 */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (size_t v = 0; v < sizeof levels / sizeof levels[0]; v++) {
            /* 640x360 -> 320x180 is a 2x reduction: bilinear, flat colours stay exact. */
            AVFrame *src = frame_solid(cases[k].fmt, 640, 360, levels[v].in);
            src->color_range = cases[k].range;
            assert_int_equal(mcu_composer_draw(comp, cv, 0, cell, src, MCU_FIT_LETTERBOX),
                             MCU_OK);
            yuv_t got = cv_centre(cv, cell);
            int t = cases[k].tol;
            assert_near(got.y, levels[v].out.y, t, t);
            assert_near(got.u, levels[v].out.u, t, t);
            assert_near(got.v, levels[v].out.v, t, t);
            av_frame_free(&src);
        }
    /* Limited range stays as it is. */
    AVFrame *src = frame_solid(AV_PIX_FMT_YUV420P, 640, 360, (yuv_t){0, 255, 1});
    assert_int_equal(mcu_composer_draw(comp, cv, 0, cell, src, MCU_FIT_LETTERBOX), MCU_OK);
    expect_rect(cv, cell, (yuv_t){0, 255, 1}, 0);
    av_frame_free(&src);
    mcu_canvas_destroy(&cv);
    mcu_composer_destroy(&comp);
}

/* A 4:3 source in a 16:9 cell: letterbox shows all of it between 80-px bars, crop fills
 * the cell and loses 60 rows at the top and bottom. The source has a 60-row band of its
 * own colour at the top and at the bottom, so what was cut is visible. */
static void letterbox_vs_crop(void **state)
{
    (void)state;
    mcu_composer_t *comp = NULL;
    mcu_canvas_t *cv = NULL;
    assert_int_equal(mcu_composer_create(&comp), MCU_OK);
    assert_int_equal(mcu_canvas_create(1280, 720, &cv), MCU_OK);
    const yuv_t top = {200, 100, 150}, mid = {90, 160, 60}, bottom = {50, 120, 220};
    AVFrame *src = frame_new(AV_PIX_FMT_YUV420P, 640, 480);
    frame_band(src, 0, 60, top);
    frame_band(src, 60, 420, mid);
    frame_band(src, 420, 480, bottom);
    const mcu_rect_t cell = {640, 360, 640, 360};

    cv_poison(cv);
    assert_int_equal(mcu_composer_draw(comp, cv, 0, cell, src, MCU_FIT_LETTERBOX), MCU_OK);
    const mcu_rect_t lb = {720, 360, 480, 360}; /* 640x480 at 3/4: 480x360, x + 80 */
    expect_bars(cv, cell, lb);
    expect_outside_poison(cv, cell);
    /* 1.33x reduction: bilinear. Bands at 60 * 3/4 = 45 rows, blended over a row or two
     * at their edges. */
    expect_rect(cv, (mcu_rect_t){lb.x, lb.y, lb.w, 42}, top, 0);
    expect_rect(cv, (mcu_rect_t){lb.x, lb.y + 48, lb.w, 264}, mid, 0);
    expect_rect(cv, (mcu_rect_t){lb.x, lb.y + 318, lb.w, 42}, bottom, 0);

    cv_poison(cv);
    assert_int_equal(mcu_composer_draw(comp, cv, 0, cell, src, MCU_FIT_CROP), MCU_OK);
    /* Rows 60..419 of the source, 1:1: all of the cell is the middle band. */
    expect_rect(cv, cell, mid, 0);
    expect_outside_poison(cv, cell);
    av_frame_free(&src);
    mcu_canvas_destroy(&cv);
    mcu_composer_destroy(&comp);
}

static void no_signal_tile(void **state)
{
    (void)state;
    mcu_composer_t *comp = NULL;
    mcu_canvas_t *cv = NULL;
    assert_int_equal(mcu_composer_create(&comp), MCU_OK);
    assert_int_equal(mcu_canvas_create(1280, 720, &cv), MCU_OK);
    const yuv_t fill = {MCU_COMPOSER_NOSIG_Y, MCU_COMPOSER_NOSIG_U, MCU_COMPOSER_NOSIG_V};
    const yuv_t frame = {MCU_COMPOSER_NOSIG_FRAME_Y, MCU_COMPOSER_NOSIG_FRAME_U,
                         MCU_COMPOSER_NOSIG_FRAME_V};
    /* Distinct from the background, and lighter than it. */
    assert_true(MCU_COMPOSER_NOSIG_Y > MCU_COMPOSER_BG_Y + 16);
    assert_true(MCU_COMPOSER_NOSIG_FRAME_Y > MCU_COMPOSER_NOSIG_Y);

    /* A grid20 tile: 256x180, inset 180 / 16 = 11 -> 10, 2-px frame. */
    const mcu_rect_t cell = {512, 180, 256, 180};
    cv_poison(cv);
    assert_int_equal(mcu_composer_draw_no_signal(comp, cv, cell), MCU_OK);
    expect_outside_poison(cv, cell);
    const mcu_rect_t outer = {522, 190, 236, 160};
    expect_rect(cv, (mcu_rect_t){cell.x, cell.y, cell.w, 10}, fill, 0);
    expect_rect(cv, (mcu_rect_t){cell.x, cell.y, 10, cell.h}, fill, 0);
    expect_rect(cv, (mcu_rect_t){outer.x, outer.y, outer.w, 2}, frame, 0);
    expect_rect(cv, (mcu_rect_t){outer.x, outer.y + outer.h - 2, outer.w, 2}, frame, 0);
    expect_rect(cv, (mcu_rect_t){outer.x, outer.y, 2, outer.h}, frame, 0);
    expect_rect(cv, (mcu_rect_t){outer.x + outer.w - 2, outer.y, 2, outer.h}, frame, 0);
    expect_rect(cv, (mcu_rect_t){outer.x + 2, outer.y + 2, outer.w - 4, outer.h - 4}, fill, 0);

    /* Too small for a frame: plain. */
    const mcu_rect_t tiny = {0, 0, 8, 8};
    cv_poison(cv);
    assert_int_equal(mcu_composer_draw_no_signal(comp, cv, tiny), MCU_OK);
    expect_rect(cv, tiny, fill, 0);
    expect_outside_poison(cv, tiny);
    /* Smallest cell with a frame: 2 + 2 + 2 inside 2-px insets. */
    const mcu_rect_t small = {1270, 710, 10, 10};
    cv_poison(cv);
    assert_int_equal(mcu_composer_draw_no_signal(comp, cv, small), MCU_OK);
    expect_outside_poison(cv, small);
    assert_int_equal(cv_at(cv, 0, 1272, 712), MCU_COMPOSER_NOSIG_FRAME_Y);
    assert_int_equal(cv_at(cv, 0, 1274, 714), MCU_COMPOSER_NOSIG_Y);

    assert_int_equal(mcu_composer_draw_no_signal(comp, cv, (mcu_rect_t){1, 0, 8, 8}),
                     MCU_ERR_INVAL);
    assert_int_equal(mcu_composer_draw_no_signal(comp, cv, (mcu_rect_t){1276, 0, 8, 8}),
                     MCU_ERR_INVAL);
    assert_int_equal(mcu_composer_draw_no_signal(NULL, cv, cell), MCU_ERR_INVAL);
    assert_int_equal(mcu_composer_draw_no_signal(comp, NULL, cell), MCU_ERR_INVAL);
    mcu_canvas_destroy(&cv);
    mcu_composer_destroy(&comp);
}

static void draw_rejects(void **state)
{
    (void)state;
    mcu_composer_t *comp = NULL;
    mcu_canvas_t *cv = NULL;
    assert_int_equal(mcu_composer_create(NULL), MCU_ERR_INVAL);
    assert_int_equal(mcu_composer_create(&comp), MCU_OK);
    assert_int_equal(mcu_canvas_create(640, 360, &cv), MCU_OK);
    AVFrame *src = frame_solid(AV_PIX_FMT_YUV420P, 64, 36, (yuv_t){100, 100, 100});
    const mcu_rect_t cell = {0, 0, 320, 180};
    cv_poison(cv);

    assert_int_equal(mcu_composer_draw(NULL, cv, 0, cell, src, MCU_FIT_CROP), MCU_ERR_INVAL);
    assert_int_equal(mcu_composer_draw(comp, NULL, 0, cell, src, MCU_FIT_CROP), MCU_ERR_INVAL);
    assert_int_equal(mcu_composer_draw(comp, cv, 0, cell, NULL, MCU_FIT_CROP), MCU_ERR_INVAL);
    assert_int_equal(mcu_composer_draw(comp, cv, -1, cell, src, MCU_FIT_CROP), MCU_ERR_INVAL);
    assert_int_equal(mcu_composer_draw(comp, cv, MCU_COMPOSER_MAX_TILES, cell, src,
                                       MCU_FIT_CROP),
                     MCU_ERR_INVAL);
    assert_int_equal(mcu_composer_draw(comp, cv, 0, cell, src, (mcu_fit_t)5), MCU_ERR_INVAL);
    static const mcu_rect_t bad_cells[] = {
        {1, 0, 320, 180}, {0, 0, 321, 180}, {0, 0, 0, 180}, {-2, 0, 320, 180},
        {322, 0, 320, 180}, {0, 182, 320, 180}, {0, 0, 642, 2},
    };
    for (size_t k = 0; k < sizeof bad_cells / sizeof bad_cells[0]; k++)
        assert_int_equal(mcu_composer_draw(comp, cv, 0, bad_cells[k], src, MCU_FIT_CROP),
                         MCU_ERR_INVAL);
    /* A 1-pixel-wide source cannot be placed. */
    AVFrame *thin = frame_solid(AV_PIX_FMT_YUV420P, 1, 36, (yuv_t){100, 100, 100});
    assert_int_equal(mcu_composer_draw(comp, cv, 0, cell, thin, MCU_FIT_LETTERBOX),
                     MCU_ERR_INVAL);
    av_frame_free(&thin);
    /* Hardware and bitstream formats are not pictures in memory. */
    int saved = src->format;
    src->format = AV_PIX_FMT_VAAPI;
    assert_int_equal(mcu_composer_draw(comp, cv, 0, cell, src, MCU_FIT_CROP),
                     MCU_ERR_UNSUPPORTED);
    src->format = AV_PIX_FMT_MONOBLACK;
    assert_int_equal(mcu_composer_draw(comp, cv, 0, cell, src, MCU_FIT_CROP),
                     MCU_ERR_UNSUPPORTED);
    src->format = AV_PIX_FMT_NONE;
    assert_int_equal(mcu_composer_draw(comp, cv, 0, cell, src, MCU_FIT_CROP),
                     MCU_ERR_UNSUPPORTED);
    src->format = saved;
    /* Nothing was written by any of the refused calls. */
    expect_outside_poison(cv, (mcu_rect_t){0, 0, 0, 0});

    av_frame_free(&src);
    mcu_canvas_destroy(&cv);
    mcu_composer_destroy(&comp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cpu_mask_env), /* first: see its comment */
        cmocka_unit_test(canvas_basics),
        cmocka_unit_test(solid_into_cell),
        cmocka_unit_test(simd_matches_c),
        cmocka_unit_test(yen_mo_grid20),
        cmocka_unit_test(other_formats_via_swscale),
        cmocka_unit_test(full_range_to_limited),
        cmocka_unit_test(letterbox_vs_crop),
        cmocka_unit_test(no_signal_tile),
        cmocka_unit_test(draw_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
