#include "layouts/composer.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <libyuv/convert.h>
#include <libyuv/cpu_id.h>
#include <libyuv/scale.h>

#include "codecs/av_err.h"
#include "codecs/pix_fmt.h"
#include "layouts/pyramid.h"
#include "layouts/scale_dsp.h"
#include "mcu/cpu.h"
#include "mcu/error.h"

_Static_assert(MCU_COMPOSER_MAX_TILES == MCU_LAYOUT_MAX_CELLS,
               "one cached tile state per layout cell");

/* libyuv's MaskCpuFlags arguments (cpu_id.h): 1 keeps only kCpuInitialized, i.e. "CPU
 * detection done, no SIMD", so every kernel takes its C path; -1 keeps every detected
 * feature. */
#define LIBYUV_MASK_C_ONLY 1
#define LIBYUV_MASK_ALL (-1)

/* Box filter when the source is more than this many times the placed size in either
 * direction, bilinear otherwise. Bilinear reads a 2x2 neighbourhood per output pixel: up
 * to a 2x reduction that neighbourhood still touches every source pixel, beyond it whole
 * rows and columns are skipped and fine detail (text on a slide, a striped shirt,
 * a window blind) aliases and shimmers from frame to frame, which also costs the
 * encoder bits. Box averages every source pixel under the output pixel. Within 2x the
 * two look the same and bilinear is the faster one; libyuv itself turns box into
 * bilinear there (ScaleFilterReduce; newer versions already when one axis is within 2x).
 * The Yên Mô case, 640x360 into a 256x144 grid20 tile, is a 2.5x reduction: box. It
 * costs: 18 such tiles took 1.65 ms with box and 0.69 ms with bilinear (libyuv SIMD,
 * this project's 2-core x86-64 test machine; libyuv's box column pass for a non-integer
 * ratio is plain C), about 1 ms of a 40 ms tick, worth a picture that does not shimmer.
 * Enlarging (a 320x180 site in grid1) is bilinear. Known libyuv trait: box divides by
 * the box area with a truncated 16.16 reciprocal, so a flat area can come out one code
 * value darker (test_composer.c, BOX_BIAS); identical in SIMD and C, invisible. */
#define BOX_ABOVE_RATIO 2

/* Shrinking more than 2x on both axes, the box is built from halvings instead: libyuv's
 * exact 2x box (each output pixel the rounded mean of a 2x2 block, an AVX2 row kernel)
 * into the tile's scratch, repeated while more than 2x remains, then bilinear (within
 * 2x, where it touches every source pixel) into the canvas. Every source pixel is still
 * averaged in, as with the direct box, at a fraction of its cost: the direct box's
 * column pass for a non-integer ratio is plain C. Measured (mcu-bench kernels, this
 * project's 2-core AVX2 machine): 640x360 into 256x144, the Yên Mô grid tile, 12 us
 * (2x box, then scale_dsp's 320x180 -> 256x144 bilinear) against 106 us for libyuv's
 * direct box; 1280x720 into 256x144, 32 us against 114. At most this many halvings: a
 * 4096-wide source into a 256-wide cell needs 3. */
#define HALVE_MAX_STEPS 3
_Static_assert(HALVE_MAX_STEPS == MCU_PYRAMID_MAX_LEVELS, "a pyramid level for every step");

/* swscale filter for the non-4:2:0 path: swscale's bilinear widens its taps to the
 * reduction factor (a tent over the whole footprint), so it does not alias when
 * shrinking, at a fraction of bicubic's cost. */
#define SWS_FILTER_FLAGS SWS_BILINEAR

/* Bytes of spare width after each row of the swscale scratch: sws_scale overruns its
 * destination width by up to 7 bytes (measured, FFmpeg 5.1 / libswscale 6.7, x86-64,
 * 8-byte output blocks); 64 covers a whole AVX-512 block should a later version write
 * wider ones. */
#define SWS_SCRATCH_SLACK 64

typedef struct tile_state {
    /* swscale path only; NULL until a non-4:2:0 source is drawn into the tile. The key
     * below is what the context was made for. */
    struct SwsContext *sws;
    int sws_src_w, sws_src_h, sws_dst_w, sws_dst_h;
    enum AVPixelFormat sws_src_fmt;
    bool sws_src_full;
    mcu_canvas_t *scratch; /* (sws_dst_w + SWS_SCRATCH_SLACK) x sws_dst_h */
    /* 4:2:0 path, shrinking more than 2x: the halved pictures (see HALVE_MAX_STEPS),
     * re-made when the source or the placement changes size. */
    mcu_canvas_t *half[HALVE_MAX_STEPS];
    /* 4:2:0 path, the bilinear step (layouts/scale_dsp): tap tables for luma [0] and
     * chroma [1] and a row of scratch, made for the sizes below. */
    int bl_src_w, bl_src_h, bl_dst_w, bl_dst_h;
    mcu_scale_axis_t bl_cols[2], bl_rows[2];
    uint8_t *bl_tmp;
} tile_state_t;

struct mcu_composer {
    tile_state_t tiles[MCU_COMPOSER_MAX_TILES];
};

/* Full range to limited range (BT.601/709 share the ranges): luma 0..255 -> 16..235,
 * chroma 0..255 -> 16..240 around 128, rounded to nearest. Built once, read-only after. */
static uint8_t luma_to_limited[256];
static uint8_t chroma_to_limited[256];

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* The bilinear step's kernels, picked with libyuv's at init and switched with them by
 * mcu_composer_force_c. */
static mcu_scale_dsp_t scale_dsp;

/* MCU_CPU_MASK (read by mcu/cpu.c) decides for libyuv too: when the project's kernels
 * run their C references (the mask removes AVX2, or the CPU lacks it), libyuv runs its
 * C paths as well, so every run is one of two tested configurations. */
static void init_process(void)
{
    bool force_c = mcu_cpu_flags() == 0;
    /* Detect now, single-threaded: later draws only read libyuv's cached flags. */
    if (force_c)
        MaskCpuFlags(LIBYUV_MASK_C_ONLY);
    else
        InitCpuFlags();
    mcu_scale_dsp_init(&scale_dsp);

    for (int v = 0; v < 256; v++) {
        luma_to_limited[v] = (uint8_t)(16 + (v * 219 + 127) / 255);
        int d = (v - 128) * 224;
        chroma_to_limited[v] = (uint8_t)(128 + (d + (d >= 0 ? 127 : -127)) / 255);
    }
}

int mcu_composer_create(mcu_composer_t **out)
{
    if (!out)
        return MCU_ERR_INVAL;
    pthread_once(&init_once, init_process);
    *out = calloc(1, sizeof **out);
    return *out ? MCU_OK : MCU_ERR_NOMEM;
}

static void tile_reset(tile_state_t *t)
{
    sws_freeContext(t->sws);
    mcu_canvas_destroy(&t->scratch);
    for (int i = 0; i < HALVE_MAX_STEPS; i++)
        mcu_canvas_destroy(&t->half[i]);
    for (int k = 0; k < 2; k++) {
        mcu_scale_axis_free(&t->bl_cols[k]);
        mcu_scale_axis_free(&t->bl_rows[k]);
    }
    free(t->bl_tmp);
    memset(t, 0, sizeof *t);
}

void mcu_composer_destroy(mcu_composer_t **c)
{
    if (!c || !*c)
        return;
    for (int i = 0; i < MCU_COMPOSER_MAX_TILES; i++)
        tile_reset(&(*c)->tiles[i]);
    free(*c);
    *c = NULL;
}

void mcu_composer_force_c(bool on)
{
    pthread_once(&init_once, init_process);
    MaskCpuFlags(on ? LIBYUV_MASK_C_ONLY : LIBYUV_MASK_ALL);
    mcu_scale_dsp_init_flags(&scale_dsp, on ? 0 : ~0u);
}

/* ---- geometry helpers ---- */

static bool rect_in_canvas(const mcu_canvas_t *cv, mcu_rect_t r)
{
    return r.x >= 0 && r.y >= 0 && r.w >= 2 && r.h >= 2 && !((r.x | r.y | r.w | r.h) & 1) &&
           r.x <= cv->width - r.w && r.y <= cv->height - r.h;
}

/* Fills the ring between `outer` and `inner` (inner inside outer, all even): up to four
 * rectangles, top and bottom full width, left and right between them. Letterbox bars
 * and the no-signal frame alike. */
static void fill_ring(mcu_canvas_t *cv, mcu_rect_t outer, mcu_rect_t inner, uint8_t y,
                      uint8_t u, uint8_t v)
{
    const int o_right = outer.x + outer.w, o_bottom = outer.y + outer.h;
    const int i_right = inner.x + inner.w, i_bottom = inner.y + inner.h;
    const mcu_rect_t parts[4] = {
        {outer.x, outer.y, outer.w, inner.y - outer.y},
        {outer.x, i_bottom, outer.w, o_bottom - i_bottom},
        {outer.x, inner.y, inner.x - outer.x, inner.h},
        {i_right, inner.y, o_right - i_right, inner.h},
    };
    for (int k = 0; k < 4; k++)
        if (parts[k].w > 0 && parts[k].h > 0)
            (void)mcu_canvas_fill(cv, parts[k], y, u, v); /* inside the checked cell */
}

/* Canvas plane pointers at the top-left of r (even). */
static void canvas_at(const mcu_canvas_t *cv, mcu_rect_t r, uint8_t *p[3])
{
    p[0] = cv->data[0] + (size_t)r.y * (size_t)cv->stride[0] + (size_t)r.x;
    for (int k = 1; k < 3; k++)
        p[k] = cv->data[k] + (size_t)(r.y / 2) * (size_t)cv->stride[k] + (size_t)(r.x / 2);
}

/* Source plane pointers at the top-left of `crop`, for any planar or semi-planar
 * format: chroma planes (1, 2) are offset by the crop shifted by the subsampling, every
 * plane by whole pixels of its own step (as av_frame_apply_cropping does). The crop has
 * even offsets, exact for 4:2:0, 4:2:2 and 4:4:4; a 4:1:1 source is off by at most one
 * chroma sample, invisible. */
static int source_at(const AVFrame *src, const AVPixFmtDescriptor *desc, mcu_rect_t crop,
                     const uint8_t *p[4])
{
    for (int i = 0; i < 4; i++) {
        p[i] = src->data[i];
        if (!src->data[i])
            continue;
        if ((desc->flags & AV_PIX_FMT_FLAG_PAL) && i == 1)
            continue; /* the palette */
        int step = -1;
        for (int j = 0; j < desc->nb_components; j++)
            if (desc->comp[j].plane == i) {
                step = desc->comp[j].step;
                break;
            }
        if (step < 0)
            return MCU_ERR_UNSUPPORTED;
        int sx = (i == 1 || i == 2) ? desc->log2_chroma_w : 0;
        int sy = (i == 1 || i == 2) ? desc->log2_chroma_h : 0;
        p[i] += (ptrdiff_t)(crop.y >> sy) * src->linesize[i] + (ptrdiff_t)(crop.x >> sx) * step;
    }
    return MCU_OK;
}

/* ---- the two scaling paths ---- */

/* Maps the placed rectangle from full to limited range in place: after the scale, so it
 * touches the (usually smaller) placed size, not the source. Scaling is linear, so the
 * order changes results by at most one rounding step. */
static void range_to_limited(mcu_canvas_t *cv, mcu_rect_t r)
{
    uint8_t *p[3];
    canvas_at(cv, r, p);
    for (int k = 0; k < 3; k++) {
        const uint8_t *lut = k ? chroma_to_limited : luma_to_limited;
        int w = k ? r.w / 2 : r.w, h = k ? r.h / 2 : r.h;
        for (int y = 0; y < h; y++, p[k] += cv->stride[k])
            for (int x = 0; x < w; x++)
                p[k][x] = lut[p[k][x]];
    }
}

static enum FilterMode pick_filter(mcu_rect_t crop, mcu_rect_t dst)
{
    bool shrink_more = crop.w > BOX_ABOVE_RATIO * dst.w || crop.h > BOX_ABOVE_RATIO * dst.h;
    return shrink_more ? kFilterBox : kFilterBilinear;
}

/* The tile's scratch for halving step i, w x h (even). */
static int tile_half(tile_state_t *t, int i, int w, int h, mcu_canvas_t **out)
{
    if (!t->half[i] || t->half[i]->width != w || t->half[i]->height != h) {
        mcu_canvas_destroy(&t->half[i]);
        int rc = mcu_canvas_create(w, h, &t->half[i]);
        if (rc != MCU_OK)
            return rc;
    }
    *out = t->half[i];
    return MCU_OK;
}

/* Makes sure the tile's bilinear tables fit a w x h source placed as dst. */
static int tile_prepare_bilinear(tile_state_t *t, int w, int h, mcu_rect_t dst)
{
    if (t->bl_tmp && t->bl_src_w == w && t->bl_src_h == h && t->bl_dst_w == dst.w &&
        t->bl_dst_h == dst.h)
        return MCU_OK;
    for (int k = 0; k < 2; k++) {
        mcu_scale_axis_free(&t->bl_cols[k]);
        mcu_scale_axis_free(&t->bl_rows[k]);
    }
    free(t->bl_tmp);
    t->bl_tmp = NULL;
    const int sw[2] = {w, (w + 1) / 2}, sh[2] = {h, (h + 1) / 2};
    const int dw[2] = {dst.w, dst.w / 2}, dh[2] = {dst.h, dst.h / 2};
    int rc = MCU_OK;
    for (int k = 0; k < 2 && rc == MCU_OK; k++) {
        rc = mcu_scale_axis_init(&t->bl_cols[k], sw[k], dw[k]);
        if (rc == MCU_OK)
            rc = mcu_scale_axis_init(&t->bl_rows[k], sh[k], dh[k]);
    }
    if (rc == MCU_OK && !(t->bl_tmp = malloc((size_t)w)))
        rc = MCU_ERR_NOMEM;
    if (rc != MCU_OK) {
        for (int k = 0; k < 2; k++) {
            mcu_scale_axis_free(&t->bl_cols[k]);
            mcu_scale_axis_free(&t->bl_rows[k]);
        }
        return rc;
    }
    t->bl_src_w = w;
    t->bl_src_h = h;
    t->bl_dst_w = dst.w;
    t->bl_dst_h = dst.h;
    return MCU_OK;
}

/* The last step within 2x, bilinear: layouts/scale_dsp, straight into the canvas. */
static int draw_bilinear(tile_state_t *t, mcu_canvas_t *cv, const uint8_t *const p[3],
                         const int ls[3], int w, int h, mcu_rect_t dst)
{
    int rc = tile_prepare_bilinear(t, w, h, dst);
    if (rc != MCU_OK)
        return rc;
    uint8_t *d[3];
    canvas_at(cv, dst, d);
    for (int k = 0; k < 3; k++)
        mcu_scale_plane(&scale_dsp, &t->bl_cols[k > 0], &t->bl_rows[k > 0], p[k], ls[k], d[k],
                        cv->stride[k], t->bl_tmp);
    return MCU_OK;
}

/* Bilinear sizes libyuv has dedicated SIMD row kernels for (exact 2x and 3/4
 * reductions, an exact 2x enlargement, a vertical-only scale, a copy): faster there
 * than the general two-tap filter (mcu-bench kernels: 1280x720 -> 640x360 took 20 us in
 * libyuv, 58 us in scale_dsp). Every other ratio goes through libyuv's general column
 * filter, which scale_dsp beats fourfold. */
static bool libyuv_has_fast_path(int w, int h, mcu_rect_t dst)
{
    return w == dst.w || (w == 2 * dst.w && h == 2 * dst.h) ||
           (4 * dst.w == 3 * w && 4 * dst.h == 3 * h) || (2 * w == dst.w && 2 * h == dst.h);
}

/* yuv420p / yuvj420p: libyuv, straight into the canvas (via halvings when shrinking more
 * than 2x on both axes, see HALVE_MAX_STEPS). */
/* Whether a halving step is taken from a w x h picture placed as dst. */
static bool halve_more(int w, int h, mcu_rect_t dst)
{
    return w > BOX_ABOVE_RATIO * dst.w && h > BOX_ABOVE_RATIO * dst.h && w % 4 == 0 &&
           h % 4 == 0;
}

static int draw_libyuv(tile_state_t *t, mcu_canvas_t *cv, const uint8_t *const s[4],
                       const AVFrame *src, mcu_rect_t crop, mcu_rect_t dst)
{
    const uint8_t *p[3] = {s[0], s[1], s[2]};
    int ls[3] = {src->linesize[0], src->linesize[1], src->linesize[2]};
    int w = crop.w, h = crop.h;
    /* The decode worker's halvings (layouts/pyramid.h) are of the whole picture. */
    const bool whole = crop.x == 0 && crop.y == 0 && crop.w == src->width &&
                       crop.h == src->height;
    for (int i = 0; i < HALVE_MAX_STEPS && halve_more(w, h, dst); i++) {
        const uint8_t *lp[3];
        int lls[3];
        if (whole && mcu_pyramid_level(src, i + 1, lp, lls)) {
            for (int k = 0; k < 3; k++) {
                p[k] = lp[k];
                ls[k] = lls[k];
            }
        } else {
            mcu_canvas_t *hv;
            int rc = tile_half(t, i, w / 2, h / 2, &hv);
            if (rc != MCU_OK)
                return rc;
            uint8_t *const hd[3] = {hv->data[0], hv->data[1], hv->data[2]};
            if ((rc = mcu_pyramid_halve(p, ls, w, h, hd, hv->stride)) != MCU_OK)
                return rc;
            for (int k = 0; k < 3; k++) {
                p[k] = hv->data[k];
                ls[k] = hv->stride[k];
            }
        }
        w /= 2;
        h /= 2;
    }
    mcu_rect_t left = {0, 0, w, h};
    if (pick_filter(left, dst) == kFilterBilinear && !libyuv_has_fast_path(w, h, dst))
        return draw_bilinear(t, cv, p, ls, w, h, dst);
    uint8_t *d[3];
    canvas_at(cv, dst, d);
    int rc = I420Scale(p[0], ls[0], p[1], ls[1], p[2], ls[2], w, h, d[0], cv->stride[0], d[1],
                       cv->stride[1], d[2], cv->stride[2], dst.w, dst.h, pick_filter(left, dst));
    return rc == 0 ? MCU_OK : MCU_ERR_INVAL; /* only fails on arguments checked above */
}

int mcu_composer_halvings(int src_w, int src_h, mcu_rect_t cell, mcu_fit_t fit)
{
    mcu_rect_t dst, crop;
    if (src_w < 2 || src_h < 2 || mcu_layout_fit(cell, src_w, src_h, fit, &dst, &crop) != MCU_OK)
        return 0;
    if (crop.x != 0 || crop.y != 0 || crop.w != src_w || crop.h != src_h)
        return 0;
    int n = 0, w = src_w, h = src_h;
    for (; n < HALVE_MAX_STEPS && halve_more(w, h, dst); n++) {
        w /= 2;
        h /= 2;
    }
    return n;
}

/* Makes sure the tile's swscale context and scratch fit this source and placement. */
static int tile_prepare_sws(tile_state_t *t, enum AVPixelFormat fmt, bool full,
                            mcu_rect_t crop, mcu_rect_t dst)
{
    if (t->sws && t->sws_src_fmt == fmt && t->sws_src_full == full &&
        t->sws_src_w == crop.w && t->sws_src_h == crop.h && t->sws_dst_w == dst.w &&
        t->sws_dst_h == dst.h)
        return MCU_OK;
    tile_reset(t);
    if (!sws_isSupportedInput(fmt))
        return MCU_ERR_UNSUPPORTED;
    t->sws = sws_getContext(crop.w, crop.h, fmt, dst.w, dst.h, AV_PIX_FMT_YUV420P,
                            SWS_FILTER_FLAGS, NULL, NULL, NULL);
    if (!t->sws)
        return MCU_ERR_NOMEM;
    /* Ranges: the source's, to the canvas's limited range. Same matrix both sides: a
     * YUV to YUV conversion does not apply one. The return value is not checked:
     * libswscale < 7 returns -1 ("not supported") for YUV to YUV yet takes the ranges,
     * as the full-range test in test_composer.c checks. */
    const int *coefs = sws_getCoefficients(SWS_CS_DEFAULT);
    (void)sws_setColorspaceDetails(t->sws, coefs, full ? 1 : 0, coefs, 0, 0, 1 << 16,
                                   1 << 16);
    int rc = mcu_canvas_create(dst.w + SWS_SCRATCH_SLACK, dst.h, &t->scratch);
    if (rc != MCU_OK) {
        tile_reset(t);
        return rc;
    }
    t->sws_src_fmt = fmt;
    t->sws_src_full = full;
    t->sws_src_w = crop.w;
    t->sws_src_h = crop.h;
    t->sws_dst_w = dst.w;
    t->sws_dst_h = dst.h;
    return MCU_OK;
}

/* Any other format: swscale into the tile's scratch, then an exact-width copy. */
static int draw_swscale(tile_state_t *t, mcu_canvas_t *cv, const uint8_t *const s[4],
                        const AVFrame *src, enum AVPixelFormat fmt, bool full,
                        mcu_rect_t crop, mcu_rect_t dst)
{
    int rc = tile_prepare_sws(t, fmt, full, crop, dst);
    if (rc != MCU_OK)
        return rc;
    /* sws_scale reads four plane pointers and strides on both sides. */
    mcu_canvas_t *sc = t->scratch;
    uint8_t *const sd[4] = {sc->data[0], sc->data[1], sc->data[2], NULL};
    const int sstride[4] = {sc->stride[0], sc->stride[1], sc->stride[2], 0};
    int h = sws_scale(t->sws, s, src->linesize, 0, crop.h, sd, sstride);
    if (h != dst.h)
        return mcu__av_err(h, MCU_ERR_UNSUPPORTED);
    uint8_t *d[3];
    canvas_at(cv, dst, d);
    rc = I420Copy(sc->data[0], sc->stride[0], sc->data[1], sc->stride[1], sc->data[2],
                  sc->stride[2], d[0], cv->stride[0], d[1], cv->stride[1], d[2],
                  cv->stride[2], dst.w, dst.h);
    return rc == 0 ? MCU_OK : MCU_ERR_INVAL;
}

int mcu_composer_draw(mcu_composer_t *c, mcu_canvas_t *canvas, int tile_index,
                      mcu_rect_t cell, const AVFrame *src, mcu_fit_t fit)
{
    if (!c || !canvas || !src || tile_index < 0 || tile_index >= MCU_COMPOSER_MAX_TILES ||
        !rect_in_canvas(canvas, cell) || !src->data[0])
        return MCU_ERR_INVAL;
    if (av_image_check_size((unsigned)src->width, (unsigned)src->height, 0, NULL) < 0)
        return MCU_ERR_INVAL;
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get((enum AVPixelFormat)src->format);
    if (!desc)
        return MCU_ERR_UNSUPPORTED;
    if (desc->flags & (AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BITSTREAM))
        return MCU_ERR_UNSUPPORTED;

    mcu_rect_t dst, crop;
    int rc = mcu_layout_fit(cell, src->width, src->height, fit, &dst, &crop);
    if (rc != MCU_OK)
        return rc;
    const uint8_t *s[4];
    rc = source_at(src, desc, crop, s);
    if (rc != MCU_OK)
        return rc;

    const enum AVPixelFormat fmt = mcu__pix_fmt_plain((enum AVPixelFormat)src->format);
    const bool full = fmt != src->format || src->color_range == AVCOL_RANGE_JPEG;
    if (fmt == AV_PIX_FMT_YUV420P) {
        if (!s[1] || !s[2])
            return MCU_ERR_INVAL;
        rc = draw_libyuv(&c->tiles[tile_index], canvas, s, src, crop, dst);
        if (rc == MCU_OK && full)
            range_to_limited(canvas, dst);
    } else {
        rc = draw_swscale(&c->tiles[tile_index], canvas, s, src, fmt, full, crop, dst);
    }
    if (rc != MCU_OK)
        return rc;
    /* Bars last: an error above leaves the canvas untouched. */
    fill_ring(canvas, cell, dst, MCU_COMPOSER_BG_Y, MCU_COMPOSER_BG_U, MCU_COMPOSER_BG_V);
    return MCU_OK;
}

static int even_floor(int v) { return v & ~1; }

int mcu_composer_draw_no_signal(mcu_composer_t *c, mcu_canvas_t *canvas, mcu_rect_t cell)
{
    if (!c || !canvas || !rect_in_canvas(canvas, cell))
        return MCU_ERR_INVAL;
    (void)mcu_canvas_fill(canvas, cell, MCU_COMPOSER_NOSIG_Y, MCU_COMPOSER_NOSIG_U,
                          MCU_COMPOSER_NOSIG_V);
    int shorter = cell.w < cell.h ? cell.w : cell.h;
    int inset = even_floor(shorter / MCU_COMPOSER_NOSIG_INSET_DIV);
    if (inset < 2)
        inset = 2;
    const int t = MCU_COMPOSER_NOSIG_FRAME_PX;
    mcu_rect_t outer = {cell.x + inset, cell.y + inset, cell.w - 2 * inset, cell.h - 2 * inset};
    mcu_rect_t inner = {outer.x + t, outer.y + t, outer.w - 2 * t, outer.h - 2 * t};
    /* Too small for a frame with something inside it: the plain tile says enough. */
    if (inner.w >= 2 && inner.h >= 2)
        fill_ring(canvas, outer, inner, MCU_COMPOSER_NOSIG_FRAME_Y, MCU_COMPOSER_NOSIG_FRAME_U,
                  MCU_COMPOSER_NOSIG_FRAME_V);
    return MCU_OK;
}
