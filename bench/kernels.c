#include "bench/kernels.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libavutil/frame.h>
#include <libswscale/swscale.h>
#include <libyuv/scale.h>

#include "layouts/blend_dsp.h"
#include "layouts/canvas.h"
#include "layouts/composer.h"
#include "layouts/label.h"
#include "layouts/scale_dsp.h"
#include "mcu/cpu.h"
#include "mcu/error.h"
#include "mcu/mix_dsp.h"
#include "mcu/mixer.h"
#include "mcu/srtp_crypto.h"
#include "mcu/srtp_session.h"

/* ---- timing ---- */

/* Timed batches per implementation: the median of seven ignores up to three disturbed
 * ones (a context switch, a page fault, the other core's work on a 2-core machine). */
#define BATCHES 7
/* Calibration doubles the iteration count until one run lasts this fraction of a batch:
 * long enough that clock resolution and loop overhead vanish in it, short enough that
 * calibrating costs less than one batch. */
#define CALIBRATE_FRACTION 0.25
/* Most calls in one batch: keeps the count well inside a long whatever seconds_per_case
 * asks (a 10 ns kernel reaches it only at about 10 s per batch). */
#define MAX_ITERS (1L << 30)
/* Implementations in one case at most: the scale family's eight. */
#define MAX_IMPLS 8
/* Room for an op name such as "1280x720->1280x720" or "blend_row_uv n=640". */
#define OP_NAME_MAX 48

#define NS_PER_S 1e9
/* units per ns -> millions of units per second. */
#define MEGA_PER_NS 1e3

/* Output rounding: 0.1 ns is below any kernel's run-to-run noise, two decimals of a rate
 * and three of a speedup likewise; the digits are enough for every value printed. */
#define NS_STEP 0.1
#define RATE_STEP 0.01
#define SPEEDUP_STEP 0.001
#define JSON_DIGITS 10

/* ---- scale ---- */

/* The canvas the tiles are drawn into: the 720p output profile. */
#define CANVAS_W 1280
#define CANVAS_H 720
/* Top-left of the cell a picture is scaled into, moved up and left when the cell is
 * larger: even but not 64-aligned, as most tile offsets are (grid9's are 426/428). */
#define CELL_X 426
#define CELL_Y 240
/* The composer's filter choice (BOX_ABOVE_RATIO in layouts/composer.c): box when the
 * source is more than this many times the placed size on either axis. */
#define BOX_ABOVE_RATIO 2
/* Spare bytes after each row of the swscale destination, as the composer's scratch has:
 * sws_scale writes up to 7 bytes past the width (layouts/composer.h). */
#define SWS_DST_SLACK 64

typedef struct scale_size {
    int src_w, src_h, dst_w, dst_h;
} scale_size_t;

static const scale_size_t SCALE_SIZES[] = {
    {640, 360, 320, 180},    /* 360p site into a grid16 tile */
    {640, 360, 256, 144},    /* into a grid20 tile (256x180 cell, letterboxed): box */
    {320, 180, 256, 144},    /* that tile's last step, after the composer's 2x box */
    {1280, 720, 256, 144},   /* 720p site into the same tile: 5x, box */
    {1280, 720, 640, 360},   /* 720p site into a grid4 tile: exactly 2x, bilinear */
    {640, 360, 426, 240},    /* 360p site into a grid9 tile: odd chroma width (213) */
    {960, 540, 320, 180},    /* 540p site into a grid16 tile: 3x, box */
    {1280, 720, 1280, 720},  /* 720p site alone in grid1: 1:1, a copy */
    {320, 180, 640, 360},    /* a small site enlarged 2x into a grid4 tile */
    {640, 360, 1280, 720},   /* 360p site alone in grid1: 2x up */
    {480, 270, 1280, 720},   /* a 270p site alone in grid1: 2.67x up, general ratio */
};

/* ---- blend ---- */

/* Row lengths of a label: on a 320-wide tile (grid16 at 720p) and a full-width one. */
static const int BLEND_ROWS[] = {320, 1280};
#define BLEND_ROW_MAX 1280

/* The label case: grid16's second-row tile on the 720p canvas. */
#define LABEL_CELL_X 320
#define LABEL_CELL_Y 180
#define LABEL_CELL_W 320
#define LABEL_CELL_H 180
/* A real site name with stacked Vietnamese marks: the widest bitmap a short name gets. */
#define LABEL_TEXT "Khánh Thượng"

/* ---- mix ---- */

/* One 20 ms frame at 48 kHz, the mixer's tick. */
#define MIX_N MCU_MIXER_FRAME_SAMPLES
/* Sites of the tick case: the 18-site conference the scale sizes come from. */
#define MIX_SITES 18
/* Mix-minus outputs of the tick: the mixer's top talkers. */
#define MIX_TALKERS MCU_MIXER_MAX_TALKERS
/* Gain of the single-kernel cases: a fader a little below unity (not unity itself, which
 * a kernel might one day special-case). */
#define MIX_GAIN_Q (MCU_MIX_GAIN_ONE * 3 / 4)
/* Site gains of the tick: anything from mute to the mixer's largest gain. */
#define MIX_GAIN_MAX_Q (MCU_MIX_GAIN_ONE * MCU_MIXER_MAX_GAIN)
/* The mac case adds into one sum call after call; each call adds less than 2^15 in
 * magnitude per sample, so zeroing it every 4096 calls keeps it far from int32 overflow
 * (one 3.8 KB memset per 4096 calls: lost in the timing). */
#define MAC_RESET_CALLS 4096
/* The clip cases' sums span twice int16's range, so about half the samples saturate and
 * both sides of the clamp run. */
#define CLIP_ACC_SPAN (2 * 65536)

/* ---- srtp ---- */

/* Payload bytes of the protect cases: an Opus packet at 32 kbit/s in 20 ms (80 bytes of
 * audio, ~100 with its header) and a full video packet (the packetizer's 1200-byte MTU,
 * codecs/h264_rtp.h). */
static const int SRTP_PAYLOADS[] = {100, 1200};
#define SRTP_PAYLOAD_MAX 1200
#define RTP_HEADER 12
/* Any SSRC; the key is the seeded generator's. */
#define SRTP_SSRC 0x5eed5eedu

/* xorshift64 start state: any nonzero value; fixed, so every run gets the same inputs. */
#define RNG_SEED 0x9E3779B97F4A7C15ull

/* ---- the runner ---- */

typedef struct bench_impl {
    const char *name;
    int (*run)(void *ctx, long iters); /* `iters` calls of the kernel; 0 or MCU_ERR_* */
    void *ctx;
    bool libyuv_c;                      /* run with libyuv's SIMD masked off */
} bench_impl_t;

typedef struct bench_case {
    const char *family;
    char op[OP_NAME_MAX];
    const char *rate_unit;
    double units;                       /* pixels or samples one call produces */
    int n_impls;
    bench_impl_t impls[MAX_IMPLS];      /* [0] is the reference */
} bench_case_t;

typedef struct bench {
    FILE *out;
    double seconds;                     /* per case */
    bool libyuv_c_default;              /* the composer's own libyuv setting */
} bench_t;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * NS_PER_S + (double)ts.tv_nsec;
}

/* Rounds a positive value to a multiple of step (no libm needed). */
static double round_to(double v, double step)
{
    return (double)(long long)(v / step + 0.5) * step;
}

static uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void fill_random(uint8_t *p, size_t n, uint64_t *rng)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(xorshift64(rng) >> 56);
}

/* Times `iters` calls; libyuv's flags are switched outside the timed region. */
static int time_batch(const bench_t *b, const bench_impl_t *im, long iters, double *ns)
{
    if (im->libyuv_c)
        mcu_composer_force_c(true);
    const double t0 = now_ns();
    const int rc = im->run(im->ctx, iters);
    *ns = now_ns() - t0;
    if (im->libyuv_c)
        mcu_composer_force_c(b->libyuv_c_default);
    return rc;
}

/* Iterations for one batch of batch_ns. */
static int calibrate(const bench_t *b, const bench_impl_t *im, double batch_ns, long *iters)
{
    for (long n = 1;; n *= 2) {
        double t;
        int rc = time_batch(b, im, n, &t);
        if (rc != MCU_OK)
            return rc;
        if (t >= batch_ns * CALIBRATE_FRACTION || n >= MAX_ITERS / 2) {
            const double want = t > 0 ? batch_ns * (double)n / t : (double)MAX_ITERS;
            *iters = want < 1 ? 1 : want > (double)MAX_ITERS ? MAX_ITERS : (long)want;
            return MCU_OK;
        }
    }
}

static double median(double *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v[n / 2];
}

static int emit(const bench_t *b, const bench_case_t *c, const bench_impl_t *im, double ns,
                double ref_ns)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:f, s:f, s:s, s:f}", "kind", "kernel",
                          "family", c->family, "op", c->op, "impl", im->name, "ns_per_call",
                          round_to(ns, NS_STEP), "rate",
                          round_to(c->units / ns * MEGA_PER_NS, RATE_STEP), "rate_unit",
                          c->rate_unit, "speedup_vs_ref", round_to(ref_ns / ns, SPEEDUP_STEP));
    if (!o)
        return MCU_ERR_NOMEM;
    int rc = json_dumpf(o, b->out,
                        JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(JSON_DIGITS));
    json_decref(o);
    if (rc != 0 || fputc('\n', b->out) == EOF)
        return MCU_ERR_IO;
    return MCU_OK;
}

/* Warms up and calibrates every implementation, times BATCHES interleaved rounds, then
 * writes one record per implementation. */
static int run_case(const bench_t *b, const bench_case_t *c)
{
    const double batch_ns = b->seconds * NS_PER_S / (c->n_impls * BATCHES);
    long iters[MAX_IMPLS];
    double per_call[MAX_IMPLS][BATCHES];
    for (int i = 0; i < c->n_impls; i++) {
        double t;
        int rc = time_batch(b, &c->impls[i], 1, &t);
        if (rc == MCU_OK)
            rc = calibrate(b, &c->impls[i], batch_ns, &iters[i]);
        if (rc != MCU_OK)
            return rc;
    }
    for (int r = 0; r < BATCHES; r++)
        for (int i = 0; i < c->n_impls; i++) {
            double t;
            int rc = time_batch(b, &c->impls[i], iters[i], &t);
            if (rc != MCU_OK)
                return rc;
            per_call[i][r] = t / (double)iters[i];
        }
    double med[MAX_IMPLS];
    for (int i = 0; i < c->n_impls; i++) {
        med[i] = median(per_call[i], BATCHES);
        if (med[i] < NS_STEP)
            med[i] = NS_STEP; /* a coarse clock's zero must not divide */
    }
    for (int i = 0; i < c->n_impls; i++) {
        int rc = emit(b, c, &c->impls[i], med[i], med[0]);
        if (rc != MCU_OK)
            return rc;
    }
    return fflush(b->out) == 0 ? MCU_OK : MCU_ERR_IO;
}

/* ---- scale ---- */

typedef struct scale_job {
    const AVFrame *src;
    mcu_canvas_t *canvas;
    mcu_composer_t *composer;
    mcu_rect_t cell;
    enum FilterMode filter;
    struct SwsContext *sws;
    mcu_canvas_t *sws_dst;
    const mcu_scale_dsp_t *dsp;         /* scale_dsp bilinear: its kernels, axes, row */
    const mcu_scale_axis_t *cols, *rows; /* [0] luma, [1] chroma */
    uint8_t *tmp;
} scale_job_t;

/* The canvas planes at the top-left of the job's cell. */
static void cell_planes(const scale_job_t *j, uint8_t *d[3])
{
    const mcu_canvas_t *cv = j->canvas;
    const mcu_rect_t r = j->cell;
    d[0] = cv->data[0] + (size_t)r.y * (size_t)cv->stride[0] + (size_t)r.x;
    for (int k = 1; k < 3; k++)
        d[k] = cv->data[k] + (size_t)(r.y / 2) * (size_t)cv->stride[k] + (size_t)(r.x / 2);
}

static int run_scale_dsp(void *ctx, long iters)
{
    const scale_job_t *j = ctx;
    const AVFrame *s = j->src;
    const mcu_canvas_t *cv = j->canvas;
    uint8_t *d[3];
    cell_planes(j, d);
    for (long i = 0; i < iters; i++)
        for (int k = 0; k < 3; k++)
            mcu_scale_plane(j->dsp, &j->cols[k > 0], &j->rows[k > 0], s->data[k],
                            s->linesize[k], d[k], cv->stride[k], j->tmp);
    return MCU_OK;
}

static int run_composer(void *ctx, long iters)
{
    const scale_job_t *j = ctx;
    for (long i = 0; i < iters; i++) {
        int rc = mcu_composer_draw(j->composer, j->canvas, 0, j->cell, j->src,
                                   MCU_FIT_LETTERBOX);
        if (rc != MCU_OK)
            return rc;
    }
    return MCU_OK;
}

static int run_i420scale(void *ctx, long iters)
{
    const scale_job_t *j = ctx;
    const AVFrame *s = j->src;
    const mcu_canvas_t *cv = j->canvas;
    const mcu_rect_t r = j->cell;
    uint8_t *d[3];
    cell_planes(j, d);
    for (long i = 0; i < iters; i++)
        if (I420Scale(s->data[0], s->linesize[0], s->data[1], s->linesize[1], s->data[2],
                      s->linesize[2], s->width, s->height, d[0], cv->stride[0], d[1],
                      cv->stride[1], d[2], cv->stride[2], r.w, r.h, j->filter) != 0)
            return MCU_ERR_INVAL;
    return MCU_OK;
}

static int run_swscale(void *ctx, long iters)
{
    const scale_job_t *j = ctx;
    const AVFrame *s = j->src;
    const mcu_canvas_t *d = j->sws_dst;
    uint8_t *const dp[4] = {d->data[0], d->data[1], d->data[2], NULL};
    const int ds[4] = {d->stride[0], d->stride[1], d->stride[2], 0};
    for (long i = 0; i < iters; i++)
        if (sws_scale(j->sws, (const uint8_t *const *)s->data, s->linesize, 0, s->height, dp,
                      ds) != j->cell.h)
            return MCU_ERR_UNSUPPORTED;
    return MCU_OK;
}

static enum FilterMode composer_filter(const scale_size_t *sz)
{
    return sz->src_w > BOX_ABOVE_RATIO * sz->dst_w || sz->src_h > BOX_ABOVE_RATIO * sz->dst_h
               ? kFilterBox
               : kFilterBilinear;
}

/* A random src_w x src_h yuv420p picture, limited range (the composer's plain path). */
static int make_source(int w, int h, uint64_t *rng, AVFrame **out)
{
    AVFrame *f = av_frame_alloc();
    if (!f)
        return MCU_ERR_NOMEM;
    f->format = AV_PIX_FMT_YUV420P;
    f->width = w;
    f->height = h;
    f->color_range = AVCOL_RANGE_MPEG;
    if (av_frame_get_buffer(f, 0) < 0) {
        av_frame_free(&f);
        return MCU_ERR_NOMEM;
    }
    for (int k = 0; k < 3; k++) {
        const int rows = k ? (h + 1) / 2 : h;
        fill_random(f->data[k], (size_t)f->linesize[k] * (size_t)rows, rng);
    }
    *out = f;
    return MCU_OK;
}

static int bench_scale_size(const bench_t *b, const scale_size_t *sz, mcu_canvas_t *canvas,
                            mcu_composer_t *composer, uint64_t *rng)
{
    static const char *const SWS_NAMES[2] = {"swscale bilinear", "swscale area"};
    static const int SWS_FLAGS[2] = {SWS_BILINEAR, SWS_AREA};
    AVFrame *src = NULL;
    mcu_canvas_t *sws_dst = NULL;
    struct SwsContext *sws[2] = {NULL, NULL};
    mcu_scale_axis_t cols[2] = {{0}}, rows[2] = {{0}};
    uint8_t *tmp = NULL;
    mcu_scale_dsp_t dsp[2];
    mcu_scale_dsp_init_flags(&dsp[0], 0);
    mcu_scale_dsp_init(&dsp[1]);
    /* scale_dsp runs the composer's bilinear range only (within 2x on both axes). */
    const bool bilinear = composer_filter(sz) == kFilterBilinear;

    int rc = make_source(sz->src_w, sz->src_h, rng, &src);
    for (int k = 0; k < 2 && rc == MCU_OK && bilinear; k++) {
        rc = mcu_scale_axis_init(&cols[k], k ? (sz->src_w + 1) / 2 : sz->src_w,
                                 k ? sz->dst_w / 2 : sz->dst_w);
        if (rc == MCU_OK)
            rc = mcu_scale_axis_init(&rows[k], k ? (sz->src_h + 1) / 2 : sz->src_h,
                                     k ? sz->dst_h / 2 : sz->dst_h);
    }
    if (rc == MCU_OK && bilinear && !(tmp = malloc((size_t)sz->src_w)))
        rc = MCU_ERR_NOMEM;
    if (rc == MCU_OK)
        rc = mcu_canvas_create(sz->dst_w + SWS_DST_SLACK, sz->dst_h, &sws_dst);
    for (int k = 0; k < 2 && rc == MCU_OK; k++) {
        sws[k] = sws_getContext(sz->src_w, sz->src_h, AV_PIX_FMT_YUV420P, sz->dst_w, sz->dst_h,
                                AV_PIX_FMT_YUV420P, SWS_FLAGS[k], NULL, NULL, NULL);
        if (!sws[k])
            rc = MCU_ERR_NOMEM;
    }
    if (rc != MCU_OK)
        goto done;

    const mcu_rect_t cell = {
        CELL_X < CANVAS_W - sz->dst_w ? CELL_X : CANVAS_W - sz->dst_w,
        CELL_Y < CANVAS_H - sz->dst_h ? CELL_Y : CANVAS_H - sz->dst_h,
        sz->dst_w,
        sz->dst_h,
    };
    const scale_job_t base = {.src = src, .canvas = canvas, .composer = composer, .cell = cell};
    scale_job_t ref = base, comp = base, box = base, bil = base, sw[2] = {base, base};
    scale_job_t sd[2] = {base, base};
    for (int k = 0; k < 2; k++) {
        sd[k].dsp = &dsp[k];
        sd[k].cols = cols;
        sd[k].rows = rows;
        sd[k].tmp = tmp;
    }
    ref.filter = composer_filter(sz);
    box.filter = kFilterBox;
    bil.filter = kFilterBilinear;
    for (int k = 0; k < 2; k++) {
        sw[k].sws = sws[k];
        sw[k].sws_dst = sws_dst;
    }

    bench_case_t c = {
        .family = "scale",
        .rate_unit = "Mpix/s",
        .units = (double)sz->dst_w * sz->dst_h,
        .n_impls = 6,
        .impls = {
            {"libyuv C", run_i420scale, &ref, true},
            {"composer", run_composer, &comp, false},
            {"libyuv I420Scale box", run_i420scale, &box, false},
            {"libyuv I420Scale bilinear", run_i420scale, &bil, false},
            {SWS_NAMES[0], run_swscale, &sw[0], false},
            {SWS_NAMES[1], run_swscale, &sw[1], false},
        },
    };
    if (bilinear) {
        c.impls[c.n_impls++] = (bench_impl_t){"scale_dsp bilinear c", run_scale_dsp, &sd[0], false};
        if (dsp[1].blend_rows != dsp[0].blend_rows)
            c.impls[c.n_impls++] =
                (bench_impl_t){"scale_dsp bilinear avx2", run_scale_dsp, &sd[1], false};
    }
    snprintf(c.op, sizeof c.op, "%dx%d->%dx%d", sz->src_w, sz->src_h, sz->dst_w, sz->dst_h);
    rc = run_case(b, &c);

done:
    free(tmp);
    for (int k = 0; k < 2; k++) {
        mcu_scale_axis_free(&cols[k]);
        mcu_scale_axis_free(&rows[k]);
    }
    for (int k = 0; k < 2; k++)
        sws_freeContext(sws[k]);
    mcu_canvas_destroy(&sws_dst);
    av_frame_free(&src);
    return rc;
}

static int bench_scale(const bench_t *b, uint64_t *rng)
{
    mcu_canvas_t *canvas = NULL;
    mcu_composer_t *composer = NULL;
    int rc = mcu_canvas_create(CANVAS_W, CANVAS_H, &canvas);
    if (rc == MCU_OK)
        rc = mcu_composer_create(&composer);
    for (size_t i = 0; rc == MCU_OK && i < sizeof SCALE_SIZES / sizeof SCALE_SIZES[0]; i++)
        rc = bench_scale_size(b, &SCALE_SIZES[i], canvas, composer, rng);
    mcu_composer_destroy(&composer);
    mcu_canvas_destroy(&canvas);
    return rc;
}

/* ---- blend ---- */

typedef struct blend_job {
    const mcu_blend_dsp_t *dsp;
    uint8_t *dst;
    const uint8_t *alpha0, *alpha1;
    int n;
} blend_job_t;

static int run_blend_row_y(void *ctx, long iters)
{
    const blend_job_t *j = ctx;
    for (long i = 0; i < iters; i++)
        j->dsp->blend_row_y(j->dst, j->alpha0, j->n, MCU_LABEL_TEXT_Y);
    return MCU_OK;
}

static int run_darken_row(void *ctx, long iters)
{
    const blend_job_t *j = ctx;
    for (long i = 0; i < iters; i++)
        j->dsp->darken_row(j->dst, j->n, MCU_LABEL_BACKDROP_Y, MCU_LABEL_BACKDROP_KEEP);
    return MCU_OK;
}

static int run_blend_row_uv(void *ctx, long iters)
{
    const blend_job_t *j = ctx;
    for (long i = 0; i < iters; i++)
        j->dsp->blend_row_uv(j->dst, j->alpha0, j->alpha1, j->n, MCU_LABEL_TEXT_UV);
    return MCU_OK;
}

typedef struct label_job {
    const mcu_blend_dsp_t *dsp;
    mcu_canvas_t *canvas;
    mcu_rect_t cell;
    const mcu_label_bitmap_t *bm;
} label_job_t;

static int run_label_draw(void *ctx, long iters)
{
    const label_job_t *j = ctx;
    for (long i = 0; i < iters; i++) {
        int rc = mcu_label_draw_dsp(j->dsp, j->canvas, j->cell, j->bm,
                                    MCU_LABEL_POS_BOTTOM_LEFT);
        if (rc != MCU_OK)
            return rc;
    }
    return MCU_OK;
}

/* The kernels' results do not depend on what the row held, so every version and every
 * batch works on the same buffers. */
static int bench_blend_rows(const bench_t *b, const mcu_blend_dsp_t dsp[2], uint64_t *rng)
{
    static const struct {
        const char *name;
        int (*run)(void *ctx, long iters);
        int div;                    /* row pixels per output sample: 2 for chroma */
    } OPS[] = {
        {"blend_row_y", run_blend_row_y, 1},
        {"darken_row", run_darken_row, 1},
        {"blend_row_uv", run_blend_row_uv, 2},
    };
    uint8_t *dst = malloc(BLEND_ROW_MAX);
    uint8_t *a0 = malloc(BLEND_ROW_MAX);
    uint8_t *a1 = malloc(BLEND_ROW_MAX);
    int rc = dst && a0 && a1 ? MCU_OK : MCU_ERR_NOMEM;
    if (rc == MCU_OK) {
        fill_random(dst, BLEND_ROW_MAX, rng);
        fill_random(a0, BLEND_ROW_MAX, rng);
        fill_random(a1, BLEND_ROW_MAX, rng);
    }
    for (size_t r = 0; rc == MCU_OK && r < sizeof BLEND_ROWS / sizeof BLEND_ROWS[0]; r++)
        for (size_t o = 0; rc == MCU_OK && o < sizeof OPS / sizeof OPS[0]; o++) {
            const int n = BLEND_ROWS[r] / OPS[o].div;
            blend_job_t jobs[2];
            bench_case_t c = {.family = "blend", .rate_unit = "Mpix/s", .units = n,
                              .n_impls = 2};
            for (int k = 0; k < 2; k++) {
                jobs[k] = (blend_job_t){&dsp[k], dst, a0, a1, n};
                c.impls[k] = (bench_impl_t){dsp[k].name, OPS[o].run, &jobs[k], false};
            }
            snprintf(c.op, sizeof c.op, "%s n=%d", OPS[o].name, n);
            rc = run_case(b, &c);
        }
    free(a1);
    free(a0);
    free(dst);
    return rc;
}

static int bench_label(const bench_t *b, const mcu_blend_dsp_t dsp[2])
{
    const mcu_rect_t cell = {LABEL_CELL_X, LABEL_CELL_Y, LABEL_CELL_W, LABEL_CELL_H};
    mcu_label_renderer_t *lr = NULL;
    mcu_label_bitmap_t bm = {0};
    mcu_canvas_t *canvas = NULL;

    int rc = mcu_label_create(NULL, &lr);
    if (rc == MCU_ERR_NOTFOUND)
        return MCU_OK; /* no font: the case is left out (see the header) */
    if (rc == MCU_OK)
        rc = mcu_label_render(lr, LABEL_TEXT, mcu_label_px_for_cell(cell.h),
                              mcu_label_max_width(cell), &bm);
    mcu_label_destroy(&lr); /* the bitmap outlives its renderer */
    if (rc == MCU_OK)
        rc = mcu_canvas_create(CANVAS_W, CANVAS_H, &canvas);
    if (rc == MCU_OK) {
        label_job_t jobs[2];
        bench_case_t c = {.family = "blend", .rate_unit = "Mpix/s",
                          .units = (double)bm.w * bm.h, .n_impls = 2};
        for (int k = 0; k < 2; k++) {
            jobs[k] = (label_job_t){&dsp[k], canvas, cell, &bm};
            c.impls[k] = (bench_impl_t){dsp[k].name, run_label_draw, &jobs[k], false};
        }
        snprintf(c.op, sizeof c.op, "label draw %dx%d cell", cell.w, cell.h);
        rc = run_case(b, &c);
    }
    mcu_canvas_destroy(&canvas);
    mcu_label_bitmap_free(&bm);
    return rc;
}

static int bench_blend(const bench_t *b, uint64_t *rng)
{
    mcu_blend_dsp_t dsp[2];
    mcu_blend_dsp_init_flags(&dsp[0], 0);
    mcu_blend_dsp_init(&dsp[1]);
    int rc = bench_blend_rows(b, dsp, rng);
    return rc == MCU_OK ? bench_label(b, dsp) : rc;
}

/* ---- mix ---- */

typedef struct mix_job {
    const mcu_mix_dsp_t *dsp;
    int32_t *acc;               /* MIX_N: the mac and tick cases' sum */
    const int32_t *acc_clip;    /* MIX_N: the clip cases' fixed sum */
    const int16_t *x;           /* MIX_SITES frames of MIX_N */
    const int32_t *gains;       /* MIX_SITES Q12 gains */
    int16_t *out;               /* (1 + MIX_TALKERS) frames of MIX_N */
    long mac_calls;
    volatile uint64_t sink;     /* energy's result, so the call is not dropped */
} mix_job_t;

static int run_mac(void *ctx, long iters)
{
    mix_job_t *j = ctx;
    for (long i = 0; i < iters; i++) {
        if (++j->mac_calls == MAC_RESET_CALLS) {
            memset(j->acc, 0, MIX_N * sizeof *j->acc);
            j->mac_calls = 0;
        }
        j->dsp->mac(j->acc, j->x, MIX_GAIN_Q, MIX_N);
    }
    return MCU_OK;
}

static int run_clip(void *ctx, long iters)
{
    const mix_job_t *j = ctx;
    for (long i = 0; i < iters; i++)
        j->dsp->clip(j->out, j->acc_clip, MIX_N);
    return MCU_OK;
}

static int run_clip_minus(void *ctx, long iters)
{
    const mix_job_t *j = ctx;
    for (long i = 0; i < iters; i++)
        j->dsp->clip_minus(j->out, j->acc_clip, j->x, MIX_GAIN_Q, MIX_N);
    return MCU_OK;
}

static int run_energy(void *ctx, long iters)
{
    mix_job_t *j = ctx;
    uint64_t sum = 0;
    for (long i = 0; i < iters; i++)
        sum += j->dsp->energy(j->x, MIX_N);
    j->sink = sum;
    return MCU_OK;
}

/* One audio tick as mcu/mixer.c runs it: zero the sum, add every site, one shared mix,
 * and a mix-minus for each top talker (sites 0..MIX_TALKERS-1). */
static int run_mix_tick(void *ctx, long iters)
{
    const mix_job_t *j = ctx;
    for (long i = 0; i < iters; i++) {
        memset(j->acc, 0, MIX_N * sizeof *j->acc);
        for (int s = 0; s < MIX_SITES; s++)
            j->dsp->mac(j->acc, j->x + (size_t)s * MIX_N, j->gains[s], MIX_N);
        j->dsp->clip(j->out, j->acc, MIX_N);
        for (int t = 0; t < MIX_TALKERS; t++)
            j->dsp->clip_minus(j->out + (size_t)(1 + t) * MIX_N, j->acc,
                               j->x + (size_t)t * MIX_N, j->gains[t], MIX_N);
    }
    return MCU_OK;
}

static int bench_mix(const bench_t *b, uint64_t *rng)
{
    static const struct {
        const char *name;
        int (*run)(void *ctx, long iters);
    } OPS[] = {
        {"mac", run_mac},
        {"clip", run_clip},
        {"clip_minus", run_clip_minus},
        {"energy", run_energy},
    };
    mcu_mix_dsp_t dsp[2];
    mcu_mix_dsp_init_flags(&dsp[0], 0);
    mcu_mix_dsp_init(&dsp[1]);

    const size_t x_len = (size_t)MIX_SITES * MIX_N, out_len = (size_t)(1 + MIX_TALKERS) * MIX_N;
    int32_t *acc = calloc(MIX_N, sizeof *acc);
    int32_t *acc_clip = malloc(MIX_N * sizeof *acc_clip);
    int16_t *x = malloc(x_len * sizeof *x);
    int16_t *out = malloc(out_len * sizeof *out);
    int32_t *gains = malloc(MIX_SITES * sizeof *gains);
    int rc = acc && acc_clip && x && out && gains ? MCU_OK : MCU_ERR_NOMEM;
    if (rc != MCU_OK)
        goto done;
    for (size_t i = 0; i < x_len; i++)
        x[i] = (int16_t)(xorshift64(rng) >> 48);
    for (int i = 0; i < MIX_N; i++)
        acc_clip[i] = (int32_t)(xorshift64(rng) % CLIP_ACC_SPAN) - CLIP_ACC_SPAN / 2;
    for (int s = 0; s < MIX_SITES; s++)
        gains[s] = (int32_t)(xorshift64(rng) % (MIX_GAIN_MAX_Q + 1));

    mix_job_t jobs[2];
    for (size_t o = 0; rc == MCU_OK && o <= sizeof OPS / sizeof OPS[0]; o++) {
        const bool tick = o == sizeof OPS / sizeof OPS[0];
        bench_case_t c = {.family = "mix", .rate_unit = "Msamples/s",
                          .units = tick ? (double)MIX_SITES * MIX_N : MIX_N, .n_impls = 2};
        for (int k = 0; k < 2; k++) {
            jobs[k] = (mix_job_t){.dsp = &dsp[k], .acc = acc, .acc_clip = acc_clip, .x = x,
                                  .gains = gains, .out = out};
            c.impls[k] =
                (bench_impl_t){dsp[k].name, tick ? run_mix_tick : OPS[o].run, &jobs[k], false};
        }
        if (tick)
            snprintf(c.op, sizeof c.op, "mix %d sites %d ms", MIX_SITES, MCU_MIXER_TICK_MS);
        else
            snprintf(c.op, sizeof c.op, "%s n=%d", OPS[o].name, MIX_N);
        memset(acc, 0, MIX_N * sizeof *acc);
        rc = run_case(b, &c);
    }

done:
    free(gains);
    free(out);
    free(x);
    free(acc_clip);
    free(acc);
    return rc;
}

/* ---- srtp ---- */

/* One packet protected again and again with a new sequence number each call, as a
 * sender does. */
typedef struct srtp_job {
    mcu_srtp_t *srtp;
    int payload;
    uint16_t seq;
    _Alignas(8) uint8_t pkt[RTP_HEADER + SRTP_PAYLOAD_MAX + MCU_SRTP_MAX_OVERHEAD];
} srtp_job_t;

static int run_srtp_protect(void *ctx, long iters)
{
    srtp_job_t *j = ctx;
    for (long i = 0; i < iters; i++) {
        const uint8_t hdr[RTP_HEADER] = {
            0x80, 96, (uint8_t)(j->seq >> 8), (uint8_t)j->seq, 0, 0, 0, 0,
            (uint8_t)(SRTP_SSRC >> 24), (uint8_t)(SRTP_SSRC >> 16), (uint8_t)(SRTP_SSRC >> 8),
            (uint8_t)SRTP_SSRC};
        memcpy(j->pkt, hdr, sizeof hdr);
        j->seq++;
        size_t len = RTP_HEADER + (size_t)j->payload;
        int rc = mcu_srtp_protect(j->srtp, j->pkt, &len, sizeof j->pkt, false);
        if (rc != MCU_OK)
            return rc;
    }
    return MCU_OK;
}

/* SRTP protect of one packet, AES_CM_128_HMAC_SHA1_80, through mcu_srtp: with
 * libsrtp's built-in crypto (the reference) and with mcu/srtp_crypto's libcrypto types.
 * The reference sessions are made while MCU_SRTP_CRYPTO=libsrtp holds off the
 * installation, which then follows: this must be the process's first SRTP use. When it
 * is not, or the caller's environment keeps libsrtp's own, one implementation is timed
 * under the backend's name. */
static int bench_srtp(const bench_t *b, uint64_t *rng)
{
    enum { N = sizeof SRTP_PAYLOADS / sizeof SRTP_PAYLOADS[0] };
    const char *env = getenv("MCU_SRTP_CRYPTO");
    const bool pristine = strcmp(mcu_srtp_crypto_backend(), "libsrtp") == 0 && !env;
    mcu_srtp_key_t key = {.suite = MCU_SRTP_AES_CM_128_HMAC_SHA1_80,
                          .len = mcu_srtp_key_len(MCU_SRTP_AES_CM_128_HMAC_SHA1_80)};
    fill_random(key.bytes, key.len, rng);
    srtp_job_t *ref = calloc(N, sizeof *ref), *mine = calloc(N, sizeof *mine);
    int rc = ref && mine ? MCU_OK : MCU_ERR_NOMEM;
    const char *ref_name = NULL, *mine_name = NULL;
    if (rc == MCU_OK && pristine) {
        setenv("MCU_SRTP_CRYPTO", "libsrtp", 1);
        for (int k = 0; rc == MCU_OK && k < N; k++)
            rc = mcu_srtp_create(&key, MCU_SRTP_OUTBOUND, &ref[k].srtp);
        unsetenv("MCU_SRTP_CRYPTO");
        ref_name = "libsrtp built-in";
        if (rc == MCU_OK && mcu_srtp_crypto_install() != MCU_OK)
            rc = MCU_ERR_SRTP;
    }
    for (int k = 0; rc == MCU_OK && k < N; k++)
        rc = mcu_srtp_create(&key, MCU_SRTP_OUTBOUND, &mine[k].srtp);
    mine_name = mcu_srtp_crypto_backend();
    for (int k = 0; rc == MCU_OK && k < N; k++) {
        ref[k].payload = mine[k].payload = SRTP_PAYLOADS[k];
        fill_random(ref[k].pkt, sizeof ref[k].pkt, rng);
        memcpy(mine[k].pkt, ref[k].pkt, sizeof mine[k].pkt);
        bench_case_t c = {.family = "srtp", .rate_unit = "MB/s",
                          .units = RTP_HEADER + SRTP_PAYLOADS[k]};
        snprintf(c.op, sizeof c.op, "protect %d B AES_CM_128_HMAC_SHA1_80", SRTP_PAYLOADS[k]);
        if (ref_name)
            c.impls[c.n_impls++] = (bench_impl_t){ref_name, run_srtp_protect, &ref[k], false};
        c.impls[c.n_impls++] = (bench_impl_t){mine_name, run_srtp_protect, &mine[k], false};
        rc = run_case(b, &c);
    }
    for (int k = 0; ref && k < N; k++)
        mcu_srtp_destroy(&ref[k].srtp);
    for (int k = 0; mine && k < N; k++)
        mcu_srtp_destroy(&mine[k].srtp);
    free(ref);
    free(mine);
    return rc;
}

/* ---- entry ---- */

int mcu_bench_kernels(FILE *out, double seconds_per_case)
{
    if (!out || !(seconds_per_case >= MCU_BENCH_KERNELS_MIN_SECONDS))
        return MCU_ERR_INVAL;
    const bench_t b = {
        .out = out,
        .seconds = seconds_per_case,
        .libyuv_c_default = mcu_cpu_flags() == 0,
    };
    uint64_t rng = RNG_SEED;
    int rc = bench_srtp(&b, &rng); /* first: its reference needs libsrtp's own crypto */
    if (rc == MCU_OK)
        rc = bench_scale(&b, &rng);
    if (rc == MCU_OK)
        rc = bench_blend(&b, &rng);
    if (rc == MCU_OK)
        rc = bench_mix(&b, &rng);
    return rc;
}
