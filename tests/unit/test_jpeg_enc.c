/* JPEG snapshots: a 1280x720 limited-range picture of colour patches comes back from
 * libavcodec's own mjpeg decoder at 640x360 with the patches' colours expanded to full
 * range (Y 16 -> 0, 235 -> 255), as a baseline JFIF file (SOI ... EOI, SOF0); sources
 * are never enlarged; odd sizes, other formats and full-range sources are handled;
 * concurrent calls give the same bytes as serial ones; bad arguments are refused. */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/pixdesc.h>

#include "codecs/jpeg_enc.h"
#include "mcu/error.h"
#include "test_util.h"

/* Colour patches, limited-range BT.601 YUV: the 75% colour bars' corners and black /
 * white / grey. 4 columns x 2 rows over the picture. */
typedef struct { const char *name; uint8_t y, u, v; } patch_t;
static const patch_t PATCHES[8] = {
    {"black", 16, 128, 128},  {"white", 235, 128, 128}, {"grey", 126, 128, 128},
    {"red", 81, 90, 240},     {"green", 145, 54, 34},   {"blue", 41, 240, 110},
    {"yellow", 210, 16, 146}, {"cyan", 170, 166, 16},
};
#define PATCH_COLS 4
#define PATCH_ROWS 2

/* Tolerances on a patch's mean, in full-range code values, at the default qscale: a
 * flat 8x8 block keeps its DC within half a step; the margin is for the range
 * expansion's rounding (x 255/219, x 255/224) and chroma bleeding at patch edges,
 * which the inner region below stays clear of. */
#define TOL_Y 3
#define TOL_C 4
/* Largest deviation of a single pixel from its patch's expected value: ringing of the
 * 8x8 DCT is confined to the edges, away from the inner region. */
#define TOL_PIXEL 10

static AVFrame *frame_new(int w, int h, enum AVPixelFormat fmt)
{
    AVFrame *f = av_frame_alloc();
    assert_non_null(f);
    f->width = w;
    f->height = h;
    f->format = fmt;
    assert_int_equal(av_frame_get_buffer(f, 0), 0);
    return f;
}

/* Fills a planar 4:2:0 picture (yuv420p / yuvj420p) with the patch grid. */
static void fill_patches(AVFrame *f)
{
    for (int y = 0; y < f->height; y++)
        for (int x = 0; x < f->width; x++) {
            const patch_t *p = &PATCHES[(y * PATCH_ROWS / f->height) * PATCH_COLS +
                                        x * PATCH_COLS / f->width];
            f->data[0][y * f->linesize[0] + x] = p->y;
            if (!(x & 1) && !(y & 1)) {
                f->data[1][(y / 2) * f->linesize[1] + x / 2] = p->u;
                f->data[2][(y / 2) * f->linesize[2] + x / 2] = p->v;
            }
        }
}

static int full_y(int y)
{
    int v = (int)lround((y - 16) * 255.0 / 219.0);
    return v < 0 ? 0 : v > 255 ? 255 : v;
}

static int full_c(int c)
{
    int v = (int)lround((c - 128) * 255.0 / 224.0 + 128);
    return v < 0 ? 0 : v > 255 ? 255 : v;
}

/* Decodes a JPEG with libavcodec's mjpeg decoder. */
static AVFrame *decode(const uint8_t *jpeg, size_t len)
{
    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_MJPEG);
    assert_non_null(codec);
    AVCodecContext *ctx = avcodec_alloc_context3(codec);
    assert_non_null(ctx);
    assert_int_equal(avcodec_open2(ctx, codec, NULL), 0);
    AVPacket *pkt = av_packet_alloc();
    assert_non_null(pkt);
    assert_int_equal(av_new_packet(pkt, (int)len), 0);   /* padded */
    memcpy(pkt->data, jpeg, len);
    AVFrame *f = av_frame_alloc();
    assert_non_null(f);
    assert_int_equal(avcodec_send_packet(ctx, pkt), 0);
    assert_int_equal(avcodec_receive_frame(ctx, f), 0);
    av_packet_free(&pkt);
    avcodec_free_context(&ctx);
    /* A 4:2:0 full-range picture: yuvj420p, or yuv420p tagged full range. */
    assert_true(f->format == AV_PIX_FMT_YUVJ420P ||
                (f->format == AV_PIX_FMT_YUV420P && f->color_range == AVCOL_RANGE_JPEG));
    return f;
}

/* The JPEG's markers: SOI first, EOI last, a JFIF APP0 and a baseline SOF0 frame header
 * (no progressive SOF2, no extended/arithmetic ones). */
static void check_markers(const uint8_t *j, size_t n, int w, int h)
{
    assert_true(n > 4);
    assert_int_equal(j[0], 0xFF);
    assert_int_equal(j[1], 0xD8);
    assert_int_equal(j[n - 2], 0xFF);
    assert_int_equal(j[n - 1], 0xD9);
    bool jfif = false, sof0 = false;
    size_t i = 2;
    /* Walk the marker segments up to the scan. */
    while (i + 4 <= n && j[i] == 0xFF) {
        uint8_t m = j[i + 1];
        size_t seg = (size_t)j[i + 2] << 8 | j[i + 3];
        assert_true(i + 2 + seg <= n);
        if (m == 0xE0 && seg >= 7 && memcmp(j + i + 4, "JFIF", 5) == 0)
            jfif = true;
        if (m == 0xC0) {
            sof0 = true;
            assert_int_equal(j[i + 4], 8);   /* 8-bit samples */
            assert_int_equal((j[i + 5] << 8) | j[i + 6], h);
            assert_int_equal((j[i + 7] << 8) | j[i + 8], w);
            assert_int_equal(j[i + 9], 3);   /* Y, Cb, Cr */
            assert_int_equal(j[i + 11], 0x22);   /* Y sampled 2x2: 4:2:0 */
        }
        assert_false(m >= 0xC1 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC);
        if (m == 0xDA)
            break;   /* start of scan */
        i += 2 + seg;
    }
    assert_true(jfif);
    assert_true(sof0);
}

static void encode_ok(const AVFrame *src, int max_w, int q, uint8_t **jpeg, size_t *len)
{
    int err = mcu_jpeg_encode(src, max_w, q, jpeg, len);
    if (err)
        fail_msg("mcu_jpeg_encode %dx%d %s max_w %d q %d: %s", src->width, src->height,
                 av_get_pix_fmt_name(src->format), max_w, q, mcu_strerror(err));
    assert_non_null(*jpeg);
}

/* Checks every patch of a decoded picture against the expected full-range colours; the
 * inner half of each patch (in both directions) is looked at. */
static void check_patches(const AVFrame *d, bool src_full)
{
    for (int k = 0; k < PATCH_COLS * PATCH_ROWS; k++) {
        const patch_t *p = &PATCHES[k];
        const int want_y = src_full ? p->y : full_y(p->y);
        const int want_u = src_full ? p->u : full_c(p->u);
        const int want_v = src_full ? p->v : full_c(p->v);
        const int pw = d->width / PATCH_COLS, ph = d->height / PATCH_ROWS;
        const int x0 = (k % PATCH_COLS) * pw + pw / 4, x1 = x0 + pw / 2;
        const int y0 = (k / PATCH_COLS) * ph + ph / 4, y1 = y0 + ph / 2;
        long sy = 0, su = 0, sv = 0, ny = 0, nc = 0;
        int worst = 0;
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++) {
                int v = d->data[0][y * d->linesize[0] + x];
                sy += v, ny++;
                worst = abs(v - want_y) > worst ? abs(v - want_y) : worst;
                if (!(x & 1) && !(y & 1)) {
                    su += d->data[1][(y / 2) * d->linesize[1] + x / 2];
                    sv += d->data[2][(y / 2) * d->linesize[2] + x / 2];
                    nc++;
                }
            }
        const double my = (double)sy / ny, mu = (double)su / nc, mv = (double)sv / nc;
        print_message("  %-6s Y %5.1f (want %3d)  U %5.1f (%3d)  V %5.1f (%3d)  worst Y %d\n",
                      p->name, my, want_y, mu, want_u, mv, want_v, worst);
        assert_true(fabs(my - want_y) <= TOL_Y);
        assert_true(fabs(mu - want_u) <= TOL_C);
        assert_true(fabs(mv - want_v) <= TOL_C);
        assert_true(worst <= TOL_PIXEL);
    }
}

/* The main case: 1280x720 limited range to 640 wide. */
static void limited_720p_to_640(void **state)
{
    (void)state;
    AVFrame *src = frame_new(1280, 720, AV_PIX_FMT_YUV420P);
    src->color_range = AVCOL_RANGE_MPEG;
    fill_patches(src);
    uint8_t *jpeg;
    size_t len;
    encode_ok(src, 640, MCU_JPEG_DEFAULT_QSCALE, &jpeg, &len);
    print_message("1280x720 -> 640: %zu bytes\n", len);
    check_markers(jpeg, len, 640, 360);
    AVFrame *d = decode(jpeg, len);
    assert_int_equal(d->width, 640);
    assert_int_equal(d->height, 360);
    check_patches(d, false);
    /* The extremes: limited black is full black, limited white full white. */
    assert_int_equal(full_y(16), 0);
    assert_int_equal(full_y(235), 255);
    av_frame_free(&d);
    free(jpeg);
    /* Unspecified range is limited too (what H.264 decoders leave unset). */
    src->color_range = AVCOL_RANGE_UNSPECIFIED;
    encode_ok(src, 320, MCU_JPEG_DEFAULT_QSCALE, &jpeg, &len);
    d = decode(jpeg, len);
    assert_int_equal(d->width, 320);
    assert_int_equal(d->height, 180);
    check_patches(d, false);
    av_frame_free(&d);
    free(jpeg);
    av_frame_free(&src);
}

/* Full-range sources keep their values: yuvj420p, and yuv420p tagged full range. */
static void full_range_kept(void **state)
{
    (void)state;
    const enum AVPixelFormat fmts[] = {AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUV420P};
    for (size_t i = 0; i < 2; i++) {
        AVFrame *src = frame_new(640, 360, fmts[i]);
        src->color_range = AVCOL_RANGE_JPEG;
        fill_patches(src);
        uint8_t *jpeg;
        size_t len;
        print_message("%s full range, 640x360 -> 640 (unscaled):\n",
                      av_get_pix_fmt_name(fmts[i]));
        encode_ok(src, 0, MCU_JPEG_DEFAULT_QSCALE, &jpeg, &len);
        AVFrame *d = decode(jpeg, len);
        assert_int_equal(d->width, 640);
        assert_int_equal(d->height, 360);
        check_patches(d, true);
        av_frame_free(&d);
        free(jpeg);
        av_frame_free(&src);
    }
}

/* A source narrower than max_w keeps its size, and is still expanded to full range
 * (the unscaled path of swscale). */
static void never_upscaled(void **state)
{
    (void)state;
    AVFrame *src = frame_new(320, 180, AV_PIX_FMT_YUV420P);
    fill_patches(src);
    const int widths[] = {0, 320, 640, MCU_JPEG_MAX_W};
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
        uint8_t *jpeg;
        size_t len;
        encode_ok(src, widths[i], MCU_JPEG_DEFAULT_QSCALE, &jpeg, &len);
        check_markers(jpeg, len, 320, 180);
        AVFrame *d = decode(jpeg, len);
        assert_int_equal(d->width, 320);
        assert_int_equal(d->height, 180);
        print_message("320x180, max_w %d:\n", widths[i]);
        check_patches(d, false);
        av_frame_free(&d);
        free(jpeg);
    }
    av_frame_free(&src);
    /* max_w 0 caps a very wide source at MCU_JPEG_MAX_W. */
    src = frame_new(4096, 64, AV_PIX_FMT_YUV420P);
    fill_patches(src);
    uint8_t *jpeg;
    size_t len;
    encode_ok(src, 0, MCU_JPEG_DEFAULT_QSCALE, &jpeg, &len);
    check_markers(jpeg, len, MCU_JPEG_MAX_W, 60);   /* 64 * 3840 / 4096 = 60 */
    free(jpeg);
    av_frame_free(&src);
}

/* Odd widths and heights, of the source and of max_w. */
static void odd_sizes(void **state)
{
    (void)state;
    static const struct { int sw, sh, max_w, w, h; } cases[] = {
        {641, 361, 0, 641, 360},      /* never taller than the source: 362 -> 360 */
        {641, 361, 321, 321, 180},    /* 180.78 -> 180 */
        {333, 187, 100, 100, 56},     /* 56.16 -> 56 */
        {1280, 720, 17, 17, 10},      /* 9.56 -> 10 */
        {1279, 719, 640, 640, 360},   /* 359.8 */
        {35, 3, 17, 17, 2},           /* at least 2 rows */
        {2, 2, 0, 2, 2},              /* smallest source */
        {16, 1000, 16, 16, 1000},     /* tall and narrow */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        AVFrame *src = frame_new(cases[i].sw, cases[i].sh, AV_PIX_FMT_YUV420P);
        fill_patches(src);
        uint8_t *jpeg;
        size_t len;
        encode_ok(src, cases[i].max_w, MCU_JPEG_DEFAULT_QSCALE, &jpeg, &len);
        check_markers(jpeg, len, cases[i].w, cases[i].h);
        AVFrame *d = decode(jpeg, len);
        print_message("%dx%d max_w %d -> %dx%d (%zu bytes)\n", cases[i].sw, cases[i].sh,
                      cases[i].max_w, d->width, d->height, len);
        assert_int_equal(d->width, cases[i].w);
        assert_int_equal(d->height, cases[i].h);
        av_frame_free(&d);
        free(jpeg);
        av_frame_free(&src);
    }
}

/* Other source formats: NV12 (hardware decoders' output) and 10-bit 4:2:0, limited
 * range, and RGB24 (full range by nature). */
static void other_formats(void **state)
{
    (void)state;
    AVFrame *nv12 = frame_new(640, 360, AV_PIX_FMT_NV12);
    for (int y = 0; y < 360; y++) {
        memset(nv12->data[0] + y * nv12->linesize[0], 235, 640);
        if (!(y & 1))
            for (int x = 0; x < 320; x++) {
                nv12->data[1][(y / 2) * nv12->linesize[1] + 2 * x] = 90;   /* U */
                nv12->data[1][(y / 2) * nv12->linesize[1] + 2 * x + 1] = 240;   /* V */
            }
    }
    uint8_t *jpeg;
    size_t len;
    AVFrame *d;
    int y, u, v;
    for (int max_w = 320; max_w >= 0; max_w -= 320) {   /* scaled, then unscaled */
        encode_ok(nv12, max_w, MCU_JPEG_DEFAULT_QSCALE, &jpeg, &len);
        d = decode(jpeg, len);
        assert_int_equal(d->width, max_w ? max_w : 640);
        assert_int_equal(d->height, max_w ? 180 : 360);
        y = d->data[0][90 * d->linesize[0] + 160];
        u = d->data[1][45 * d->linesize[1] + 80], v = d->data[2][45 * d->linesize[2] + 80];
        print_message("nv12 -> %dx%d: Y 235 U 90 V 240 -> %d %d %d (want %d %d %d)\n",
                      d->width, d->height, y, u, v, full_y(235), full_c(90), full_c(240));
        assert_true(abs(y - full_y(235)) <= TOL_Y);
        assert_true(abs(u - full_c(90)) <= TOL_C);
        assert_true(abs(v - full_c(240)) <= TOL_C);
        av_frame_free(&d);
        free(jpeg);
    }
    av_frame_free(&nv12);

    /* 10-bit limited range (High 10 H.264): Y 64 / 940 are 8-bit 16 / 235, at the same
     * size (swscale's unscaled path) and scaled. */
    AVFrame *p10 = frame_new(64, 32, AV_PIX_FMT_YUV420P10LE);
    for (int r = 0; r < 32; r++)
        for (int x = 0; x < 64; x++) {
            ((uint16_t *)(p10->data[0] + r * p10->linesize[0]))[x] = x < 32 ? 64 : 940;
            if (!(x & 1) && !(r & 1))
                for (int c = 1; c <= 2; c++)
                    ((uint16_t *)(p10->data[c] + (r / 2) * p10->linesize[c]))[x / 2] = 512;
        }
    for (int max_w = 0; max_w <= 32; max_w += 32) {
        encode_ok(p10, max_w, MCU_JPEG_DEFAULT_QSCALE, &jpeg, &len);
        d = decode(jpeg, len);
        const int w = d->width;
        int black = d->data[0][(d->height / 2) * d->linesize[0] + w / 8];
        int white = d->data[0][(d->height / 2) * d->linesize[0] + w - w / 8];
        print_message("yuv420p10le %dx%d: Y 64 -> %d, Y 940 -> %d (want 0, 255)\n", w,
                      d->height, black, white);
        assert_true(black <= TOL_Y && white >= 255 - TOL_Y);
        av_frame_free(&d);
        free(jpeg);
    }
    av_frame_free(&p10);

    /* Pure red RGB: JFIF's BT.601 full range gives Y 76, Cb 85, Cr 255. */
    AVFrame *rgb = frame_new(64, 48, AV_PIX_FMT_RGB24);
    for (int r = 0; r < 48; r++)
        for (int x = 0; x < 64; x++) {
            uint8_t *p = rgb->data[0] + r * rgb->linesize[0] + 3 * x;
            p[0] = 255, p[1] = 0, p[2] = 0;
        }
    encode_ok(rgb, 0, MCU_JPEG_DEFAULT_QSCALE, &jpeg, &len);
    d = decode(jpeg, len);
    y = d->data[0][24 * d->linesize[0] + 32];
    u = d->data[1][12 * d->linesize[1] + 16], v = d->data[2][12 * d->linesize[2] + 16];
    print_message("rgb24 red -> Y %d U %d V %d (want 76 85 255)\n", y, u, v);
    assert_true(abs(y - 76) <= TOL_Y && abs(u - 85) <= TOL_C && abs(v - 255) <= TOL_C);
    av_frame_free(&d);
    free(jpeg);
    av_frame_free(&rgb);
}

/* Peak signal-to-noise of the decoded luma against the source's, both full range. */
static double psnr_y(const AVFrame *a, const AVFrame *b)
{
    double se = 0;
    for (int y = 0; y < a->height; y++)
        for (int x = 0; x < a->width; x++) {
            int d = a->data[0][y * a->linesize[0] + x] - b->data[0][y * b->linesize[0] + x];
            se += d * d;
        }
    double mse = se / ((double)a->width * a->height);
    return mse > 0 ? 10 * log10(255.0 * 255.0 / mse) : 99;
}

/* A picture with detail: gradients, a sine grating and noise, full range (compared
 * unscaled, so the only loss is the JPEG's). */
static void fill_detail(AVFrame *f)
{
    test_rng_t rng;
    test_rng_seed(&rng, 42);
    for (int y = 0; y < f->height; y++)
        for (int x = 0; x < f->width; x++) {
            double v = 40 + 120.0 * x / f->width + 40 * sin(x * 0.15) * sin(y * 0.11) +
                       (double)test_rng_below(&rng, 21) - 10;
            f->data[0][y * f->linesize[0] + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            if (!(x & 1) && !(y & 1)) {
                f->data[1][(y / 2) * f->linesize[1] + x / 2] =
                    (uint8_t)(100 + y * 60 / f->height);
                f->data[2][(y / 2) * f->linesize[2] + x / 2] =
                    (uint8_t)(150 - x * 40 / f->width);
            }
        }
}

/* Size and fidelity against qscale: sizes fall as qscale rises, and qscale 1 is really
 * finer than 2 (not clamped to libavcodec's default qmin). */
static void qscale_range(void **state)
{
    (void)state;
    AVFrame *src = frame_new(640, 360, AV_PIX_FMT_YUVJ420P);
    src->color_range = AVCOL_RANGE_JPEG;
    fill_detail(src);
    const int qs[] = {1, 2, 3, 4, 5, 6, 8, 12, 31};
    size_t prev = SIZE_MAX;
    double prev_psnr = 100;
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        uint8_t *jpeg;
        size_t len;
        encode_ok(src, 0, qs[i], &jpeg, &len);
        AVFrame *d = decode(jpeg, len);
        double p = psnr_y(src, d);
        print_message("qscale %2d: %6zu bytes, PSNR Y %.2f dB\n", qs[i], len, p);
        assert_true(len < prev);
        assert_true(p < prev_psnr);
        prev = len, prev_psnr = p;
        av_frame_free(&d);
        free(jpeg);
    }
    av_frame_free(&src);
}

/* Thread safety: two threads encoding at once give the bytes a lone call gives. */
typedef struct {
    const AVFrame *src;
    int max_w;
    const uint8_t *want;
    size_t want_len;
    int mismatches;
} job_t;

#define THREAD_ROUNDS 20

static void *worker(void *arg)
{
    job_t *j = arg;
    for (int i = 0; i < THREAD_ROUNDS; i++) {
        uint8_t *jpeg = NULL;
        size_t len = 0;
        int err = mcu_jpeg_encode(j->src, j->max_w, MCU_JPEG_DEFAULT_QSCALE, &jpeg, &len);
        if (err || len != j->want_len || memcmp(jpeg, j->want, len) != 0)
            j->mismatches++;
        free(jpeg);
    }
    return NULL;
}

static void concurrent_calls(void **state)
{
    (void)state;
    AVFrame *src = frame_new(1280, 720, AV_PIX_FMT_YUV420P);
    fill_detail(src);
    const int widths[2] = {640, 160};
    uint8_t *want[2];
    size_t want_len[2];
    job_t jobs[2];
    pthread_t th[2];
    for (int t = 0; t < 2; t++) {
        encode_ok(src, widths[t], MCU_JPEG_DEFAULT_QSCALE, &want[t], &want_len[t]);
        jobs[t] = (job_t){src, widths[t], want[t], want_len[t], 0};
    }
    for (int t = 0; t < 2; t++)
        assert_int_equal(pthread_create(&th[t], NULL, worker, &jobs[t]), 0);
    for (int t = 0; t < 2; t++) {
        assert_int_equal(pthread_join(th[t], NULL), 0);
        assert_int_equal(jobs[t].mismatches, 0);
        free(want[t]);
    }
    av_frame_free(&src);
}

static void rejects_bad_arguments(void **state)
{
    (void)state;
    AVFrame *src = frame_new(64, 36, AV_PIX_FMT_YUV420P);
    fill_patches(src);
    uint8_t *jpeg = (uint8_t *)"x";
    size_t len = 99;
    assert_int_equal(mcu_jpeg_encode(NULL, 0, 5, &jpeg, &len), MCU_ERR_INVAL);
    assert_null(jpeg);   /* cleared on error */
    assert_int_equal(len, 0);
    assert_int_equal(mcu_jpeg_encode(src, 0, 5, NULL, &len), MCU_ERR_INVAL);
    assert_int_equal(mcu_jpeg_encode(src, 0, 5, &jpeg, NULL), MCU_ERR_INVAL);
    const int bad_w[] = {-1, 1, MCU_JPEG_MIN_W - 1, MCU_JPEG_MAX_W + 1, 1 << 30};
    for (size_t i = 0; i < sizeof bad_w / sizeof bad_w[0]; i++)
        assert_int_equal(mcu_jpeg_encode(src, bad_w[i], 5, &jpeg, &len), MCU_ERR_INVAL);
    const int bad_q[] = {-1, 0, MCU_JPEG_QSCALE_MAX + 1, 100};
    for (size_t i = 0; i < sizeof bad_q / sizeof bad_q[0]; i++)
        assert_int_equal(mcu_jpeg_encode(src, 0, bad_q[i], &jpeg, &len), MCU_ERR_INVAL);
    /* The bounds themselves are fine. */
    const int ok_w[] = {MCU_JPEG_MIN_W, MCU_JPEG_MAX_W};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(mcu_jpeg_encode(src, ok_w[i], MCU_JPEG_QSCALE_MIN, &jpeg, &len), 0);
        free(jpeg);
        assert_int_equal(mcu_jpeg_encode(src, ok_w[i], MCU_JPEG_QSCALE_MAX, &jpeg, &len), 0);
        free(jpeg);
    }
    /* Broken frames. */
    AVFrame copy = *src;
    copy.width = 1;
    assert_int_equal(mcu_jpeg_encode(&copy, 0, 5, &jpeg, &len), MCU_ERR_INVAL);
    copy = *src;
    copy.height = 0;
    assert_int_equal(mcu_jpeg_encode(&copy, 0, 5, &jpeg, &len), MCU_ERR_INVAL);
    copy = *src;
    copy.width = -64;
    assert_int_equal(mcu_jpeg_encode(&copy, 0, 5, &jpeg, &len), MCU_ERR_INVAL);
    copy = *src;
    copy.data[0] = NULL;
    assert_int_equal(mcu_jpeg_encode(&copy, 0, 5, &jpeg, &len), MCU_ERR_INVAL);
    copy = *src;
    copy.data[2] = NULL;   /* a plane of yuv420p missing */
    assert_int_equal(mcu_jpeg_encode(&copy, 0, 5, &jpeg, &len), MCU_ERR_INVAL);
    copy = *src;
    copy.format = AV_PIX_FMT_NONE;
    assert_int_equal(mcu_jpeg_encode(&copy, 0, 5, &jpeg, &len), MCU_ERR_INVAL);
    copy = *src;
    copy.format = AV_PIX_FMT_VAAPI;   /* a hardware surface: no pixels to read */
    assert_int_equal(mcu_jpeg_encode(&copy, 0, 5, &jpeg, &len), MCU_ERR_UNSUPPORTED);
    assert_null(jpeg);
    assert_int_equal(len, 0);
    av_frame_free(&src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(limited_720p_to_640),
        cmocka_unit_test(full_range_kept),
        cmocka_unit_test(never_upscaled),
        cmocka_unit_test(odd_sizes),
        cmocka_unit_test(other_formats),
        cmocka_unit_test(qscale_range),
        cmocka_unit_test(concurrent_calls),
        cmocka_unit_test(rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
