/* H.264 encoder and decoder over libavcodec/libx264, on a moving synthetic pattern:
 * the encoder's stream shape (SPS/PPS before every IDR, periodic and forced IDRs, no
 * B-frames, one access unit per picture, Constrained Baseline, the Table A-1 level, the
 * bitrate, a run-time bitrate change), and the decoder's verdicts (PSNR of the round
 * trip, a damaged picture and everything after it held back until the next IDR, a reset,
 * a resolution change mid-stream, the max_pixels bound). */
#include <libavcodec/avcodec.h>
#include <libavutil/log.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codecs/video_dec.h"
#include "mcu/video_in.h"
#include "codecs/h264_enc.h"
#include "codecs/h264_rtp.h"
#include "mcu/error.h"
#include "test_util.h"

/* The main stream: 5.6 s of 720p at 25 fps and 900 kbps, so that after the forced IDR at
 * frame 37 the next periodic IDR (4 s = 100 frames later) falls inside it at 137. */
#define W720 1280
#define H720 720
#define FPS720 25
#define BPS720 900000
#define N720 140
#define FORCED_AT 37
#define RATE_FRAMES 100         /* the bitrate is measured over the first 4 s */
#define RATE_TOLERANCE 0.15
/* Quality: the checkpoints (IDRs, the pictures before them, mid-period) must exceed
 * PSNR_MIN_DB; every picture must exceed PSNR_FLOOR_DB (the first P after an IDR is the
 * poorest, ~30.5 dB: the IDR emptied the VBV). */
#define PSNR_MIN_DB 30.0
#define PSNR_FLOOR_DB 28.0

/* The second stream: the low-bandwidth profile's size at 15 fps. */
#define W360 640
#define H360 360
#define FPS360 15
#define BPS360 300000
#define N360 10

#define TEX 512 /* texture side, a power of two */

typedef struct au {
    uint8_t *data;
    size_t len;
    bool idr;       /* as the encoder reported it */
    int64_t pts;
} au_t;

typedef struct stream {
    au_t *aus;
    size_t n, cap;
} stream_t;

static uint8_t texture[TEX * TEX];
static stream_t s720, s360;
static double enc720_ms;    /* encode time per 720p picture */

/* ------------------------------------------------------------------ pattern */

/* Smooth blobs (random values on a 32-pixel grid, interpolated), fine static grain and
 * dark lines every 64 pixels: the kind of detail a camera picture has. */
static void make_texture(void)
{
    enum { CELL = 32, G = TEX / CELL, GRAIN = 4 };
    uint8_t grid[G * G];
    test_rng_t r;
    test_rng_seed(&r, 0x264);
    for (int i = 0; i < G * G; i++)
        grid[i] = (uint8_t)(40 + test_rng_below(&r, 176));
    for (int y = 0; y < TEX; y++) {
        for (int x = 0; x < TEX; x++) {
            int gx = x / CELL, gy = y / CELL, fx = x % CELL, fy = y % CELL;
            int a = grid[gy * G + gx], b = grid[gy * G + (gx + 1) % G];
            int c = grid[((gy + 1) % G) * G + gx], d = grid[((gy + 1) % G) * G + (gx + 1) % G];
            int top = a * (CELL - fx) + b * fx, bot = c * (CELL - fx) + d * fx;
            int v = (top * (CELL - fy) + bot * fy) / (CELL * CELL);
            v += (int)test_rng_below(&r, 2 * GRAIN + 1) - GRAIN;
            if (x % 64 == 0 || y % 64 == 0)
                v /= 3;
            texture[y * TEX + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

/* Picture t: the texture panning by (3, 2) px per frame, and a box a quarter of the
 * size carrying a patch of the inverted texture, moving by (9, 5) px the other way (with
 * a jump back when it reaches an edge). Chroma is the texture again, offset and damped
 * around grey, moving with the luma as a camera picture's does. */
static void fill_pattern(AVFrame *f, int t)
{
    assert_int_equal(av_frame_make_writable(f), 0);
    int w = f->width, h = f->height;
    int bw = w / 4 & ~1, bh = h / 4 & ~1;
    int bx = (38 + 18 * t) % (w - bw) / 2 * 2, by = (24 + 10 * t) % (h - bh) / 2 * 2;
    for (int p = 0; p < 3; p++) {
        int sub = p ? 1 : 0; /* chroma planes are half size */
        int pw = w >> sub, ph = h >> sub;
        int off = p * 171; /* each plane its own part of the texture */
        for (int y = 0; y < ph; y++) {
            uint8_t *row = f->data[p] + (size_t)y * (size_t)f->linesize[p];
            int ly = y << sub;
            const uint8_t *trow = texture + ((ly + 2 * t + off) & (TEX - 1)) * TEX;
            bool in_box = ly >= by && ly < by + bh;
            const uint8_t *brow = texture + ((ly - by + 200 + off) & (TEX - 1)) * TEX;
            for (int x = 0; x < pw; x++) {
                int lx = x << sub;
                int v = in_box && lx >= bx && lx < bx + bw
                            ? 255 - brow[(lx - bx + 300 + off) & (TEX - 1)]
                            : trow[(lx + 3 * t + off) & (TEX - 1)];
                row[x] = (uint8_t)(p ? 128 + (v - 128) / 4 : v);
            }
        }
    }
}

static AVFrame *new_picture(int w, int h)
{
    AVFrame *f = av_frame_alloc();
    assert_non_null(f);
    f->format = AV_PIX_FMT_YUV420P;
    f->width = w;
    f->height = h;
    assert_int_equal(av_frame_get_buffer(f, 0), 0);
    return f;
}

/* PSNR of the Y planes of two pictures of the same size. */
static double psnr_y(const AVFrame *a, const AVFrame *b)
{
    assert_int_equal(a->width, b->width);
    assert_int_equal(a->height, b->height);
    uint64_t sse = 0;
    for (int y = 0; y < a->height; y++) {
        const uint8_t *pa = a->data[0] + (size_t)y * (size_t)a->linesize[0];
        const uint8_t *pb = b->data[0] + (size_t)y * (size_t)b->linesize[0];
        for (int x = 0; x < a->width; x++) {
            int d = pa[x] - pb[x];
            sse += (uint64_t)(d * d);
        }
    }
    if (sse == 0)
        return 99.0;
    double mse = (double)sse / ((double)a->width * a->height);
    return 10.0 * log10(255.0 * 255.0 / mse);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------------ encoding */

static int collect(void *opaque, const uint8_t *data, size_t len, bool idr, int64_t pts)
{
    stream_t *s = opaque;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        au_t *aus = realloc(s->aus, cap * sizeof *aus);
        if (!aus)
            return MCU_ERR_NOMEM;
        s->aus = aus;
        s->cap = cap;
    }
    au_t *a = &s->aus[s->n];
    a->data = malloc(len);
    if (!a->data)
        return MCU_ERR_NOMEM;
    memcpy(a->data, data, len);
    a->len = len;
    a->idr = idr;
    a->pts = pts;
    s->n++;
    return MCU_OK;
}

static void free_stream(stream_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->aus[i].data);
    free(s->aus);
    memset(s, 0, sizeof *s);
}

static int64_t pts_of(int i, int fps) { return (int64_t)i * MCU_H264_ENC_TIME_BASE / fps; }

/* Encodes pictures first..first+n-1, forcing an IDR at `force_at` (-1: never). Checks
 * one access unit per picture, in the same call, with the picture's pts. Returns the
 * milliseconds spent in mcu_h264_enc_encode. */
static double encode_frames(mcu_h264_enc_t *enc, AVFrame *pic, int first, int n, int fps,
                            int force_at, stream_t *out)
{
    double spent = 0;
    for (int i = first; i < first + n; i++) {
        fill_pattern(pic, i);
        pic->pts = pts_of(i, fps);
        size_t before = out->n;
        double t0 = now_ms();
        int rc = mcu_h264_enc_encode(enc, pic, i == force_at, collect, out);
        spent += now_ms() - t0;
        assert_int_equal(rc, 1);
        assert_int_equal(out->n, before + 1);
        assert_true(out->aus[before].pts == pic->pts);
    }
    return spent;
}

static int encode_one(int w, int h, int fps, int64_t bps, const char *preset, int n,
                      stream_t *out, double *ms)
{
    mcu_h264_enc_config_t cfg;
    mcu_h264_enc_config_default(&cfg, w, h, fps, bps);
    if (preset)
        cfg.preset = preset;
    mcu_h264_enc_t *enc;
    int rc = mcu_h264_enc_create(&cfg, &enc);
    if (rc < 0)
        return rc;
    AVFrame *pic = new_picture(w, h);
    double spent = encode_frames(enc, pic, 0, n, fps, n > FORCED_AT ? FORCED_AT : -1, out);
    if (ms)
        *ms = spent / n;
    const mcu_h264_enc_stats_t *st = mcu_h264_enc_stats(enc);
    assert_int_equal(st->frames, (uint64_t)n);
    av_frame_free(&pic);
    mcu_h264_enc_destroy(&enc);
    assert_null(enc);
    return MCU_OK;
}

static int setup(void **state)
{
    (void)state;
    av_log_set_level(AV_LOG_ERROR);
    make_texture();
    if (encode_one(W720, H720, FPS720, BPS720, NULL, N720, &s720, &enc720_ms) < 0)
        return -1;
    return encode_one(W360, H360, FPS360, BPS360, NULL, N360, &s360, NULL);
}

static int teardown(void **state)
{
    (void)state;
    free_stream(&s720);
    free_stream(&s360);
    return 0;
}

/* ------------------------------------------------------------------ bitstream */

/* Up to `cap` bytes of a NAL unit's payload with emulation prevention removed. */
static size_t unescape(const uint8_t *nal, size_t len, uint8_t *out, size_t cap)
{
    size_t o = 0, zeros = 0;
    for (size_t i = 0; i < len && o < cap; i++) {
        if (zeros >= 2 && nal[i] == 3) {
            zeros = 0;
            continue;
        }
        zeros = nal[i] == 0 ? zeros + 1 : 0;
        out[o++] = nal[i];
    }
    return o;
}

typedef struct bits {
    const uint8_t *p;
    size_t len, pos; /* pos in bits */
} bits_t;

static unsigned get_bit(bits_t *b)
{
    assert_true(b->pos < b->len * 8);
    unsigned v = (b->p[b->pos / 8] >> (7 - b->pos % 8)) & 1;
    b->pos++;
    return v;
}

static unsigned get_bits(bits_t *b, int n)
{
    unsigned v = 0;
    while (n--)
        v = v << 1 | get_bit(b);
    return v;
}

static unsigned get_ue(bits_t *b)
{
    int zeros = 0;
    while (!get_bit(b))
        zeros++;
    assert_true(zeros < 32);
    return ((1u << zeros) - 1) + get_bits(b, zeros);
}

typedef struct sps_info {
    int profile_idc, constraints, level_idc;
    int ref_frames, width_mbs, height_mbs;
} sps_info_t;

/* The fields of a Baseline SPS up to the picture size. */
static sps_info_t parse_sps(const uint8_t *nal, size_t len)
{
    uint8_t buf[64];
    size_t n = unescape(nal, len, buf, sizeof buf);
    sps_info_t s = {.profile_idc = buf[1], .constraints = buf[2], .level_idc = buf[3]};
    assert_int_equal(s.profile_idc, 66); /* no chroma_format_idc etc. to skip */
    bits_t b = {.p = buf + 4, .len = n - 4};
    get_ue(&b);                         /* seq_parameter_set_id */
    get_ue(&b);                         /* log2_max_frame_num_minus4 */
    unsigned poc_type = get_ue(&b);
    assert_true(poc_type != 1);
    if (poc_type == 0)
        get_ue(&b);                     /* log2_max_pic_order_cnt_lsb_minus4 */
    s.ref_frames = (int)get_ue(&b);
    get_bit(&b);                        /* gaps_in_frame_num_value_allowed_flag */
    s.width_mbs = (int)get_ue(&b) + 1;
    s.height_mbs = (int)get_ue(&b) + 1;
    assert_int_equal(get_bit(&b), 1);   /* frame_mbs_only_flag */
    return s;
}

/* slice_type of a slice NAL unit, folded to 0 P, 1 B, 2 I, 3 SP, 4 SI. */
static int slice_type(const uint8_t *nal, size_t len)
{
    uint8_t buf[16];
    size_t n = unescape(nal, len, buf, sizeof buf);
    bits_t b = {.p = buf + 1, .len = n - 1};
    get_ue(&b); /* first_mb_in_slice */
    return (int)(get_ue(&b) % 5);
}

/* H.264 Table A-1, levels 1 to 5.2 (1b left out: only for tiny pictures). */
typedef struct level_limits {
    int idc;
    int64_t max_mbps, max_fs, max_dpb_mbs, max_br_kbit, max_cpb_kbit;
} level_limits_t;

static const level_limits_t table_a1[] = {
    {10, 1485, 99, 396, 64, 175},
    {11, 3000, 396, 900, 192, 500},
    {12, 6000, 396, 2376, 384, 1000},
    {13, 11880, 396, 2376, 768, 2000},
    {20, 11880, 396, 2376, 2000, 2000},
    {21, 19800, 792, 4752, 4000, 4000},
    {22, 20250, 1620, 8100, 4000, 4000},
    {30, 40500, 1620, 8100, 10000, 10000},
    {31, 108000, 3600, 18000, 14000, 14000},
    {32, 216000, 5120, 20480, 20000, 20000},
    {40, 245760, 8192, 32768, 20000, 25000},
    {41, 245760, 8192, 32768, 50000, 62500},
    {42, 522240, 8704, 34816, 50000, 62500},
    {50, 589824, 22080, 110400, 135000, 135000},
    {51, 983040, 36864, 184320, 240000, 240000},
    {52, 2073600, 36864, 184320, 240000, 240000},
};

/* The lowest level whose limits hold a stream of this shape (A.3.1: frame size, its
 * width and height against sqrt(8 * MaxFS), macroblock rate, DPB; Table A-1: bitrate and
 * CPB, compared in kbit as x264 does for Baseline). */
static int table_a1_level(int width_mbs, int height_mbs, int fps, int ref_frames,
                          int64_t kbps, int64_t cpb_kbit)
{
    int64_t fs = (int64_t)width_mbs * height_mbs;
    for (size_t i = 0; i < sizeof table_a1 / sizeof table_a1[0]; i++) {
        const level_limits_t *l = &table_a1[i];
        if (fs <= l->max_fs && (int64_t)width_mbs * width_mbs <= 8 * l->max_fs &&
            (int64_t)height_mbs * height_mbs <= 8 * l->max_fs && fs * fps <= l->max_mbps &&
            fs * ref_frames <= l->max_dpb_mbs && kbps <= l->max_br_kbit &&
            cpb_kbit <= l->max_cpb_kbit)
            return l->idc;
    }
    return -1;
}

/* Checks an encoded stream's NAL structure; returns its SPS (the first one). */
static sps_info_t check_structure(const stream_t *s)
{
    sps_info_t sps = {0};
    bool have_sps = false;
    for (size_t i = 0; i < s->n; i++) {
        const au_t *a = &s->aus[i];
        assert_true(a->len > 4 && memcmp(a->data, "\0\0\0\1", 4) == 0);
        size_t pos = 0, nl;
        const uint8_t *nal;
        int k = 0, slices = 0, idr_slices = 0;
        bool seen_sps = false, seen_pps = false;
        while (mcu_h264_next_nal(a->data, a->len, &pos, &nal, &nl)) {
            int type = nal[0] & 0x1F;
            if (type == MCU_H264_NAL_SPS) {
                assert_int_equal(k, 0); /* first in the unit */
                seen_sps = true;
                sps_info_t here = parse_sps(nal, nl);
                if (!have_sps)
                    sps = here;
                have_sps = true;
            } else if (type == MCU_H264_NAL_PPS) {
                assert_true(seen_sps);
                assert_int_equal(k, 1); /* right after the SPS */
                seen_pps = true;
            } else if (type == MCU_H264_NAL_IDR || type == MCU_H264_NAL_SLICE) {
                int st = slice_type(nal, nl);
                assert_true(st == 0 || st == 2); /* P or I: never B */
                slices++;
                if (type == MCU_H264_NAL_IDR) {
                    assert_int_equal(st, 2);
                    idr_slices++;
                }
            } else {
                assert_int_equal(type, MCU_H264_NAL_SEI); /* x264's version string */
            }
            k++;
        }
        assert_true(slices >= 1);
        if (a->idr) {
            /* SPS + PPS in band before every IDR, every slice an IDR slice. */
            assert_true(seen_sps && seen_pps);
            assert_int_equal(idr_slices, slices);
        } else {
            assert_int_equal(idr_slices, 0);
            assert_false(seen_sps);
        }
    }
    assert_true(have_sps);
    return sps;
}

/* ------------------------------------------------------------------ encoder tests */

static void encoder_stream_720p(void **state)
{
    (void)state;
    assert_int_equal(s720.n, N720);
    sps_info_t sps = check_structure(&s720);

    /* IDRs: the first picture, the forced one, and the period counted from it. */
    int keyint = FPS720 * MCU_H264_ENC_DEFAULT_KEYINT_MS / 1000;
    size_t p_bytes = 0, p_count = 0;
    for (size_t i = 0; i < s720.n; i++) {
        bool want = i == 0 || i == FORCED_AT || i == FORCED_AT + (size_t)keyint;
        if (s720.aus[i].idr != want)
            fail_msg("picture %zu: idr %d, expected %d", i, s720.aus[i].idr, want);
        assert_true(s720.aus[i].pts == pts_of((int)i, FPS720)); /* decode order = output */
        if (!s720.aus[i].idr) {
            p_bytes += s720.aus[i].len;
            p_count++;
        }
    }

    /* Constrained Baseline: profile_idc 66 with constraint_set0 and constraint_set1. */
    assert_int_equal(sps.profile_idc, 66);
    assert_true(sps.constraints & 0x40);
    assert_true(sps.constraints & 0x80);
    assert_int_equal(sps.width_mbs, 80);
    assert_int_equal(sps.height_mbs, 45);
    int vbv_kbit = BPS720 / 1000 * MCU_H264_ENC_DEFAULT_VBV_MS / 1000;
    int want_level = table_a1_level(sps.width_mbs, sps.height_mbs, FPS720, sps.ref_frames,
                                    BPS720 / 1000, vbv_kbit);
    assert_int_equal(want_level, 31);
    assert_int_equal(sps.level_idc, want_level);

    /* Bitrate over the first 4 s. */
    uint64_t bytes = 0;
    for (size_t i = 0; i < RATE_FRAMES; i++)
        bytes += s720.aus[i].len;
    double bps = (double)bytes * 8 * FPS720 / RATE_FRAMES;
    print_message("720p25: level %d.%d (%d ref), %.1f kbps over 4 s (target %d), IDRs %zu/%zu/"
                  "%zu bytes, P frames %zu bytes on average, encode %.2f ms/picture\n",
                  sps.level_idc / 10, sps.level_idc % 10, sps.ref_frames, bps / 1000,
                  BPS720 / 1000, s720.aus[0].len, s720.aus[FORCED_AT].len,
                  s720.aus[FORCED_AT + keyint].len, p_bytes / p_count, enc720_ms);
    assert_true(fabs(bps - BPS720) <= RATE_TOLERANCE * BPS720);
}

static void encoder_stream_360p_level(void **state)
{
    (void)state;
    assert_int_equal(s360.n, N360);
    sps_info_t sps = check_structure(&s360);
    assert_true(s360.aus[0].idr);
    for (size_t i = 1; i < s360.n; i++)
        assert_false(s360.aus[i].idr);
    /* 640x360 is 40x23 macroblocks (920 > level 2.1's 792), 13800 MB/s at 15 fps. */
    assert_int_equal(sps.width_mbs, 40);
    assert_int_equal(sps.height_mbs, 23);
    int vbv_kbit = BPS360 / 1000 * MCU_H264_ENC_DEFAULT_VBV_MS / 1000;
    int want_level = table_a1_level(sps.width_mbs, sps.height_mbs, FPS360, sps.ref_frames,
                                    BPS360 / 1000, vbv_kbit);
    assert_int_equal(want_level, 22);
    assert_int_equal(sps.level_idc, want_level);
    print_message("360p15: level %d.%d\n", sps.level_idc / 10, sps.level_idc % 10);
}

static void encoder_forced_idr_stats(void **state)
{
    (void)state;
    /* A small stream: the counters, and a forced IDR on every picture stays an IDR. */
    mcu_h264_enc_config_t cfg;
    mcu_h264_enc_config_default(&cfg, 320, 180, 25, 200000);
    mcu_h264_enc_t *enc;
    assert_int_equal(mcu_h264_enc_create(&cfg, &enc), MCU_OK);
    AVFrame *pic = new_picture(320, 180);
    stream_t s = {0};
    for (int i = 0; i < 6; i++) {
        fill_pattern(pic, i);
        pic->pts = pts_of(i, 25);
        pic->pict_type = AV_PICTURE_TYPE_I; /* ignored: only force_idr decides */
        assert_int_equal(mcu_h264_enc_encode(enc, pic, i >= 3, collect, &s), 1);
    }
    uint64_t bytes = 0;
    for (size_t i = 0; i < s.n; i++) {
        assert_int_equal(s.aus[i].idr, i == 0 || i >= 3);
        bytes += s.aus[i].len;
    }
    check_structure(&s);
    const mcu_h264_enc_stats_t *st = mcu_h264_enc_stats(enc);
    assert_int_equal(st->frames, 6);
    assert_int_equal(st->idrs, 4);
    assert_int_equal(st->forced_idrs, 3);
    assert_int_equal(st->bytes, bytes);
    free_stream(&s);
    av_frame_free(&pic);
    mcu_h264_enc_destroy(&enc);
}

/* set_bitrate: libavcodec's libx264 wrapper reconfigures x264 before the next picture. */
static void encoder_set_bitrate(void **state)
{
    (void)state;
    enum { FPS = 25, HIGH = 600000, LOW = 250000, BEFORE = 50, AFTER = 100, SETTLE = 13 };
    mcu_h264_enc_config_t cfg;
    mcu_h264_enc_config_default(&cfg, W360, H360, FPS, HIGH);
    mcu_h264_enc_t *enc;
    assert_int_equal(mcu_h264_enc_create(&cfg, &enc), MCU_OK);
    AVFrame *pic = new_picture(W360, H360);
    stream_t s = {0};
    encode_frames(enc, pic, 0, BEFORE, FPS, -1, &s);
    assert_int_equal(mcu_h264_enc_set_bitrate(enc, LOW), MCU_OK);
    assert_int_equal(mcu_h264_enc_bitrate(enc), LOW);
    encode_frames(enc, pic, BEFORE, AFTER, FPS, -1, &s);

    /* Skip the first picture (IDR) and, after the change, half a VBV of settling. */
    uint64_t before = 0, after = 0;
    for (size_t i = 1; i < BEFORE; i++)
        before += s.aus[i].len;
    for (size_t i = BEFORE + SETTLE; i < BEFORE + AFTER; i++)
        after += s.aus[i].len;
    double kbps_before = before * 8.0 * FPS / (BEFORE - 1) / 1000;
    double kbps_after = after * 8.0 * FPS / (AFTER - SETTLE) / 1000;
    print_message("set_bitrate 600 -> 250 kbps at 360p25: %.1f kbps before, %.1f kbps after\n",
                  kbps_before, kbps_after);
    assert_true(fabs(kbps_before * 1000 - HIGH) <= 0.2 * HIGH);
    assert_true(fabs(kbps_after * 1000 - LOW) <= 0.2 * LOW);
    assert_int_equal(mcu_h264_enc_stats(enc)->bitrate_changes, 1);
    free_stream(&s);
    av_frame_free(&pic);
    mcu_h264_enc_destroy(&enc);
}

static void encoder_rejects(void **state)
{
    (void)state;
    mcu_h264_enc_config_t good, cfg;
    mcu_h264_enc_config_default(&good, 320, 180, 25, 200000);
    mcu_h264_enc_t *enc = (mcu_h264_enc_t *)&good; /* must be set to NULL on failure */

    cfg = good, cfg.width = 321;
    assert_int_equal(mcu_h264_enc_create(&cfg, &enc), MCU_ERR_CONFIG);
    assert_null(enc);
    cfg = good, cfg.fps = 0;
    assert_int_equal(mcu_h264_enc_create(&cfg, &enc), MCU_ERR_CONFIG);
    cfg = good, cfg.vbv_ms = MCU_H264_ENC_MAX_VBV_MS + 1;
    assert_int_equal(mcu_h264_enc_create(&cfg, &enc), MCU_ERR_CONFIG);
    cfg = good, cfg.vbv_ms = 30; /* less than one 40 ms frame */
    assert_int_equal(mcu_h264_enc_create(&cfg, &enc), MCU_ERR_CONFIG);
    cfg = good, cfg.bitrate_bps = MCU_H264_ENC_MIN_BITRATE - 1;
    assert_int_equal(mcu_h264_enc_create(&cfg, &enc), MCU_ERR_CONFIG);
    cfg = good, cfg.threads = 0;
    assert_int_equal(mcu_h264_enc_create(&cfg, &enc), MCU_ERR_CONFIG);
    cfg = good, cfg.keyint_ms = 0;
    assert_int_equal(mcu_h264_enc_create(&cfg, &enc), MCU_ERR_CONFIG);
    cfg = good, cfg.preset = "warp9"; /* x264 prints its own complaint on stderr */
    int level = av_log_get_level();
    av_log_set_level(AV_LOG_QUIET);
    assert_int_equal(mcu_h264_enc_create(&cfg, &enc), MCU_ERR_CONFIG);
    av_log_set_level(level);
    assert_null(enc);

    assert_int_equal(mcu_h264_enc_create(&good, &enc), MCU_OK);
    stream_t s = {0};
    AVFrame *wrong_size = new_picture(322, 180);
    assert_int_equal(mcu_h264_enc_encode(enc, wrong_size, false, collect, &s), MCU_ERR_INVAL);
    AVFrame *wrong_fmt = av_frame_alloc();
    wrong_fmt->format = AV_PIX_FMT_NV12;
    wrong_fmt->width = 320;
    wrong_fmt->height = 180;
    assert_int_equal(av_frame_get_buffer(wrong_fmt, 0), 0);
    assert_int_equal(mcu_h264_enc_encode(enc, wrong_fmt, false, collect, &s), MCU_ERR_INVAL);
    assert_int_equal(mcu_h264_enc_set_bitrate(enc, 0), MCU_ERR_INVAL);
    assert_int_equal(mcu_h264_enc_set_bitrate(enc, MCU_H264_ENC_MAX_BITRATE + 1), MCU_ERR_INVAL);
    assert_int_equal(mcu_h264_enc_bitrate(enc), 200000);
    assert_int_equal(s.n, 0);
    av_frame_free(&wrong_size);
    av_frame_free(&wrong_fmt);
    mcu_h264_enc_destroy(&enc);
    assert_null(enc);
    mcu_h264_enc_destroy(&enc); /* NULL-safe */
    mcu_h264_enc_destroy(NULL);
}

/* ------------------------------------------------------------------ decoder tests */

static mcu_video_dec_t *new_decoder(int64_t max_pixels)
{
    mcu_video_dec_config_t cfg;
    mcu_video_dec_config_default(&cfg);
    if (max_pixels)
        cfg.max_pixels = max_pixels;
    mcu_video_dec_t *dec;
    assert_int_equal(mcu_video_dec_create(&cfg, &dec), MCU_OK);
    return dec;
}

/* Feeds one unit; expects a picture of w x h and returns its verdict. */
static mcu_video_dec_picture_t feed(mcu_video_dec_t *dec, const uint8_t *data, size_t len,
                                   int64_t pts, int w, int h)
{
    mcu_video_dec_picture_t pic;
    memset(&pic, 0, sizeof pic);
    int rc = mcu_video_dec_decode(dec, data, len, pts, &pic);
    if (rc != 1)
        fail_msg("pts %lld: decode returned %d (%s)", (long long)pts, rc, mcu_strerror(rc));
    assert_non_null(pic.frame);
    assert_int_equal(pic.width, w);
    assert_int_equal(pic.height, h);
    assert_int_equal(pic.frame->width, w);
    assert_int_equal(pic.frame->height, h);
    assert_int_equal(pic.pix_fmt, AV_PIX_FMT_YUV420P);
    assert_true(pic.pts == pts);
    return pic;
}

static void feed_good(mcu_video_dec_t *dec, const au_t *a, int w, int h)
{
    mcu_video_dec_picture_t pic = feed(dec, a->data, a->len, a->pts, w, h);
    if (pic.damaged)
        fail_msg("pts %lld: damaged (decode_error %d)", (long long)a->pts, pic.decode_error);
    assert_int_equal(pic.keyframe, a->idr);
    assert_false(mcu_video_dec_needs_keyframe(dec));
}

static void decoder_roundtrip_psnr(void **state)
{
    (void)state;
    mcu_video_dec_t *dec = new_decoder(0);
    assert_true(mcu_video_dec_needs_keyframe(dec)); /* nothing shown before an IDR */
    AVFrame *src = new_picture(W720, H720);
    double min_db = 1e9, sum_db = 0, t0 = now_ms();
    double spent = 0;
    char line[512];
    int o = snprintf(line, sizeof line, "720p PSNR Y:");
    for (size_t i = 0; i < s720.n; i++) {
        const au_t *a = &s720.aus[i];
        mcu_video_dec_picture_t pic;
        double t = now_ms();
        int rc = mcu_video_dec_decode(dec, a->data, a->len, a->pts, &pic);
        spent += now_ms() - t;
        assert_int_equal(rc, 1);
        assert_false(pic.damaged);
        assert_false(pic.decode_error);
        assert_int_equal(pic.keyframe, a->idr);
        assert_true(pic.pts == a->pts);
        assert_int_equal(pic.width, W720);
        assert_int_equal(pic.height, H720);
        assert_int_equal(pic.pix_fmt, AV_PIX_FMT_YUV420P);
        fill_pattern(src, (int)i);
        double db = psnr_y(pic.frame, src);
        min_db = db < min_db ? db : min_db;
        sum_db += db;
        assert_true(db > PSNR_FLOOR_DB); /* no picture is broken */
        if (i == 0 || i == 10 || i == 36 || i == 37 || i == 60 || i == 99 || i == 136 ||
            i == 139) {
            o += snprintf(line + o, sizeof line - (size_t)o, " #%zu %.2f dB", i, db);
            assert_true(db > PSNR_MIN_DB);
        }
    }
    print_message("%s; min %.2f avg %.2f dB; decode %.2f ms/picture (test loop %.0f ms)\n",
                  line, min_db, sum_db / s720.n, spent / s720.n, now_ms() - t0);
    const mcu_video_dec_stats_t *st = mcu_video_dec_stats(dec);
    assert_int_equal(st->access_units, N720);
    assert_int_equal(st->good, N720);
    assert_int_equal(st->decode_errors, 0);
    av_frame_free(&src);
    mcu_video_dec_destroy(&dec);
    assert_null(dec);
}

/* Feeds a unit that must come out damaged (decode_error); returns its verdict. */
static mcu_video_dec_picture_t feed_broken(mcu_video_dec_t *dec, const uint8_t *data,
                                           size_t len, int64_t pts)
{
    int level = av_log_get_level();
    av_log_set_level(AV_LOG_QUIET); /* the decoder's complaints are expected */
    mcu_video_dec_picture_t pic;
    memset(&pic, 0, sizeof pic);
    int rc = mcu_video_dec_decode(dec, data, len, pts, &pic);
    av_log_set_level(level);
    assert_int_equal(rc, 1);
    print_message("broken unit at pts %lld: decode_error_flags 0x%x, AV_FRAME_FLAG_CORRUPT %d\n",
                  (long long)pts, (unsigned)pic.frame->decode_error_flags,
                  !!(pic.frame->flags & AV_FRAME_FLAG_CORRUPT));
    assert_true(pic.decode_error);
    assert_true(pic.damaged);
    assert_false(pic.keyframe && !pic.damaged);
    assert_true(mcu_video_dec_needs_keyframe(dec));
    print_message("  concealed %.3f of it, damage %.3f\n", (double)pic.concealed,
                  (double)pic.damage);
    return pic;
}

static void decoder_damage_waits_for_idr(void **state)
{
    (void)state;
    enum { CUT = 50, FLIP = FORCED_AT + 100 + 1 };
    mcu_video_dec_t *dec = new_decoder(0);
    for (size_t i = 0; i < CUT; i++)
        feed_good(dec, &s720.aus[i], W720, H720);

    /* A P frame cut in half, as if its last packets were lost. */
    const au_t *cut = &s720.aus[CUT];
    assert_false(cut->idr);
    mcu_video_dec_picture_t half = feed_broken(dec, cut->data, cut->len / 2, cut->pts);
    /* The concealed share comes from FFmpeg's error-resilience report: about the half of
     * the macroblocks the cut took (the slice's bits are not spread evenly). */
    assert_true(half.concealed > 0.2f && half.concealed < 0.9f);
    assert_true(half.damage == half.concealed);
    assert_false(half.unrecovered);

    /* Everything up to the next IDR decodes without complaint but carries the damage. */
    size_t next_idr = CUT + 1;
    while (!s720.aus[next_idr].idr) {
        const au_t *a = &s720.aus[next_idr++];
        mcu_video_dec_picture_t pic = feed(dec, a->data, a->len, a->pts, W720, H720);
        assert_true(pic.damaged);
        assert_false(pic.keyframe);
        assert_false(pic.unrecovered);
        assert_true(pic.damage == half.damage);
        assert_true(mcu_video_dec_needs_keyframe(dec));
    }
    assert_int_equal(next_idr, FORCED_AT + 100);
    feed_good(dec, &s720.aus[next_idr], W720, H720); /* the IDR: shown again */

    /* A P frame with 32 bytes flipped in its middle. */
    const au_t *a = &s720.aus[FLIP];
    uint8_t *bad = malloc(a->len);
    memcpy(bad, a->data, a->len);
    for (size_t k = a->len / 2; k < a->len / 2 + 32; k++)
        bad[k] ^= 0xA5;
    feed_broken(dec, bad, a->len, a->pts);
    free(bad);
    mcu_video_dec_picture_t pic = feed(dec, s720.aus[FLIP + 1].data, s720.aus[FLIP + 1].len,
                                      s720.aus[FLIP + 1].pts, W720, H720);
    assert_true(pic.damaged);

    /* Reset: held back until an IDR; a damaged IDR does not count; the P frame after a
     * clean one is shown. */
    mcu_video_dec_reset(dec);
    assert_true(mcu_video_dec_needs_keyframe(dec));
    feed_broken(dec, s720.aus[0].data, s720.aus[0].len * 2 / 3, s720.aus[0].pts);
    pic = feed(dec, s720.aus[1].data, s720.aus[1].len, s720.aus[1].pts, W720, H720);
    assert_true(pic.damaged);
    feed_good(dec, &s720.aus[FORCED_AT], W720, H720);
    feed_good(dec, &s720.aus[FORCED_AT + 1], W720, H720);

    /* A reset, then P frames: whatever comes out is not shown. */
    mcu_video_dec_reset(dec);
    int level = av_log_get_level();
    av_log_set_level(AV_LOG_QUIET);
    for (size_t i = 60; i < 63; i++) {
        int rc = mcu_video_dec_decode(dec, s720.aus[i].data, s720.aus[i].len, s720.aus[i].pts,
                                     &pic);
        assert_true(rc == 0 || rc == MCU_ERR_CODEC || (rc == 1 && pic.damaged));
    }
    av_log_set_level(level);
    assert_true(mcu_video_dec_needs_keyframe(dec));
    feed_good(dec, &s720.aus[0], W720, H720);

    const mcu_video_dec_stats_t *st = mcu_video_dec_stats(dec);
    print_message("damage: %llu pictures, %llu good, %llu with errors, %llu held back, "
                  "%llu refused units, %llu resets\n",
                  (unsigned long long)st->pictures, (unsigned long long)st->good,
                  (unsigned long long)st->decode_errors, (unsigned long long)st->suppressed,
                  (unsigned long long)st->send_errors, (unsigned long long)st->resets);
    assert_true(st->decode_errors >= 3);
    assert_true(st->suppressed >= FORCED_AT + 100 - CUT - 1);
    assert_int_equal(st->resets, 2);
    assert_true(st->good + st->decode_errors + st->suppressed == st->pictures);
    mcu_video_dec_destroy(&dec);
}

static void decoder_resolution_change(void **state)
{
    (void)state;
    mcu_video_dec_t *dec = new_decoder(0);
    for (size_t i = 0; i < 10; i++)
        feed_good(dec, &s720.aus[i], W720, H720);
    /* The site restarts its encoder at 640x360: new SPS, new size, same decoder. */
    AVFrame *src = new_picture(W360, H360);
    double last_db = 0;
    for (size_t i = 0; i < s360.n; i++) {
        const au_t *a = &s360.aus[i];
        mcu_video_dec_picture_t pic = feed(dec, a->data, a->len, a->pts, W360, H360);
        assert_false(pic.damaged);
        assert_int_equal(pic.keyframe, i == 0);
        fill_pattern(src, (int)i);
        last_db = psnr_y(pic.frame, src);
    }
    print_message("360p15 at 300 kbps after 720p: PSNR Y of the last picture %.2f dB\n",
                  last_db);
    assert_true(last_db > PSNR_MIN_DB);
    /* And back up at its next IDR. */
    feed_good(dec, &s720.aus[FORCED_AT], W720, H720);
    feed_good(dec, &s720.aus[FORCED_AT + 1], W720, H720);
    av_frame_free(&src);
    mcu_video_dec_destroy(&dec);
}

static void decoder_max_pixels(void **state)
{
    (void)state;
    /* 4096x2304 (9.4 Mpixel, 4.5x the bound): one ultrafast IDR. */
    stream_t big = {0}, hd = {0};
    double t0 = now_ms();
    assert_int_equal(encode_one(4096, 2304, 25, 4000000, "ultrafast", 1, &big, NULL), MCU_OK);
    double t1 = now_ms();
    /* 1920x1080 is 1920x1088 coded: exactly the default bound, and accepted. */
    assert_int_equal(encode_one(1920, 1080, 25, 2000000, "ultrafast", 1, &hd, NULL), MCU_OK);
    print_message("one 4096x2304 IDR encoded in %.0f ms, one 1080p in %.0f ms\n", t1 - t0,
                  now_ms() - t1);

    mcu_video_dec_t *dec = new_decoder(0);
    for (size_t i = 0; i < 5; i++)
        feed_good(dec, &s720.aus[i], W720, H720);
    int level = av_log_get_level();
    av_log_set_level(AV_LOG_QUIET);
    mcu_video_dec_picture_t pic;
    memset(&pic, 0, sizeof pic);
    int rc = mcu_video_dec_decode(dec, big.aus[0].data, big.aus[0].len, 0, &pic);
    av_log_set_level(level);
    assert_true(rc <= 0);
    assert_null(pic.frame);
    assert_true(mcu_video_dec_needs_keyframe(dec));
    print_message("4096x2304 IDR: decode returned %d (%s)\n", rc, mcu_strerror_name(rc));

    /* The same decoder takes a good IDR afterwards, and 1080p. */
    feed_good(dec, &s720.aus[0], W720, H720);
    feed_good(dec, &hd.aus[0], 1920, 1080);
    mcu_video_dec_destroy(&dec);

    /* The bound is the config's: 720p refused by a decoder bounded to 640x368. */
    dec = new_decoder(640 * 368);
    av_log_set_level(AV_LOG_QUIET);
    rc = mcu_video_dec_decode(dec, s720.aus[0].data, s720.aus[0].len, 0, &pic);
    av_log_set_level(level);
    assert_true(rc <= 0);
    feed_good(dec, &s360.aus[0], W360, H360);
    mcu_video_dec_destroy(&dec);
    free_stream(&big);
    free_stream(&hd);
}

static void decoder_rejects(void **state)
{
    (void)state;
    mcu_video_dec_config_t cfg;
    mcu_video_dec_config_default(&cfg);
    assert_int_equal(cfg.max_pixels, 1920 * 1088);
    cfg.max_pixels = 0;
    mcu_video_dec_t *dec = (mcu_video_dec_t *)&cfg;
    assert_int_equal(mcu_video_dec_create(&cfg, &dec), MCU_ERR_CONFIG);
    assert_null(dec);
    assert_int_equal(mcu_video_dec_create(NULL, &dec), MCU_OK);
    mcu_video_dec_picture_t pic;
    assert_int_equal(mcu_video_dec_decode(dec, s720.aus[0].data, 0, 0, &pic), MCU_ERR_INVAL);
    /* Garbage without a start code: nothing out, nothing shown. */
    static const uint8_t junk[] = {1, 2, 3, 4, 5, 6, 7, 8};
    int level = av_log_get_level();
    av_log_set_level(AV_LOG_QUIET);
    int rc = mcu_video_dec_decode(dec, junk, sizeof junk, 0, &pic);
    av_log_set_level(level);
    assert_true(rc <= 0);
    assert_true(mcu_video_dec_needs_keyframe(dec));
    mcu_video_dec_destroy(&dec);
    assert_null(dec);
    mcu_video_dec_destroy(&dec);
    mcu_video_dec_destroy(NULL);
}

/* video_in's loss policy on a real stream: a P frame cut in half (the jitter buffer gave
 * up its tail) asks for a keyframe and, under conceal, is shown concealed while the
 * damage stays under the bound; under freeze nothing damaged is shown until the IDR, or
 * past max_freeze_ms; after a stream restart nothing is shown before an IDR. */
static int feed_vin(mcu_video_in_t *v, const au_t *a, size_t len, bool corrupt, bool restart,
                    int64_t arrival_us, bool *asked, bool *concealed)
{
    mcu_rx_frame_t f = {.media = {.data = a->data, .len = len, .corrupt = corrupt,
                                  .keyframe = a->idr},
                        .timestamp = (uint32_t)a->pts, .arrival_us = arrival_us,
                        .keyframe_needed = restart};
    *asked = mcu_video_in_admit(v, &f);
    mcu_video_in_batch_t b;
    int shown = 0;
    mcu_video_in_take(v, &b);
    for (int i = 0; i < b.n; i++) {
        mcu_video_in_picture_t pic;
        if (mcu_video_in_decode(v, &b.aus[i], &pic) == 1) {
            shown++;
            *concealed = pic.concealed;
            av_frame_free(&pic.frame);
        }
    }
    mcu_video_in_batch_free(&b);
    return shown;
}

static void video_in_policies(void **state)
{
    enum { CUT = 50 };
    int level = av_log_get_level();
    av_log_set_level(AV_LOG_QUIET);
    for (int pol = 0; pol < 3; pol++) {
        mcu_video_in_config_t cfg = {.codec = MCU_CODEC_H264, .max_pixels = 0,
                                     .policy = pol == 0 ? MCU_LOSS_CONCEAL : MCU_LOSS_FREEZE,
                                     .max_freeze_ms = pol == 2 ? 200 : 0};
        mcu_video_in_t *v;
        assert_int_equal(mcu_video_in_create(&cfg, &v), MCU_OK);
        bool asked, concealed = false;
        int shown = 0, damaged_shown = 0;
        for (size_t i = 0; i < N720; i++) {
            const au_t *a = &s720.aus[i];
            bool cut = i == CUT;
            int n = feed_vin(v, a, cut ? a->len / 2 : a->len, cut, false, (int64_t)i * 40000,
                             &asked, &concealed);
            assert_int_equal(asked, cut); /* a keyframe is asked for the damaged frame */
            shown += n;
            damaged_shown += n && concealed;
        }
        const mcu_video_in_stats_t *st = mcu_video_in_stats(v);
        print_message("policy %d: %d shown, %d of them concealed, %llu held\n", pol, shown,
                      damaged_shown, (unsigned long long)st->held);
        size_t frames = N720;
        if (pol == 0) { /* conceal: the damage of one half picture is well within bound */
            assert_int_equal(shown, (int)frames);
            assert_true(damaged_shown > 40);
        } else if (pol == 1) { /* freeze, no bound: nothing damaged until the IDR */
            assert_int_equal(damaged_shown, 0);
            assert_int_equal(shown, (int)frames - (FORCED_AT + 100 - CUT));
        } else { /* freeze, bound 200 ms: 4 frames 40 ms apart held, then the stream */
            assert_int_equal(st->held, 4);
            assert_int_equal(shown, (int)frames - 4);
        }
        /* A restart: nothing until the next IDR. */
        int after = feed_vin(v, &s720.aus[60], s720.aus[60].len, false, true, 10000000, &asked,
                             &concealed);
        assert_true(asked);
        assert_int_equal(after, 0);
        assert_int_equal(feed_vin(v, &s720.aus[0], s720.aus[0].len, false, false, 10040000,
                                  &asked, &concealed), 1);
        assert_false(concealed);
        mcu_video_in_destroy(&v);
    }
    av_log_set_level(level);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encoder_stream_720p),
        cmocka_unit_test(encoder_stream_360p_level),
        cmocka_unit_test(encoder_forced_idr_stats),
        cmocka_unit_test(encoder_set_bitrate),
        cmocka_unit_test(encoder_rejects),
        cmocka_unit_test(decoder_roundtrip_psnr),
        cmocka_unit_test(decoder_damage_waits_for_idr),
        cmocka_unit_test(decoder_resolution_change),
        cmocka_unit_test(decoder_max_pixels),
        cmocka_unit_test(decoder_rejects),
        cmocka_unit_test(video_in_policies),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
