#include "layouts/scale_dsp.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "layouts/canvas.h"
#include "mcu/cpu.h"
#include "mcu/error.h"

/* AVX2 versions: x86 with GCC or Clang (target attribute, __builtin_cpu_supports). */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define SCALE_DSP_AVX2 1
#include <immintrin.h>
#endif

/* Outputs per block (one 128-bit lane) and the source bytes one block loads. */
#define BLOCK 8
#define BLOCK_SRC_BYTES 16
#define ROUND (MCU_SCALE_ONE / 2)

/* ---- tables ---- */

void mcu_scale_axis_free(mcu_scale_axis_t *a)
{
    if (!a)
        return;
    free(a->idx);
    free(a->w);
    free(a->base);
    free(a->shuf);
    free(a->wts);
    memset(a, 0, sizeof *a);
}

/* The SIMD block of outputs i0 .. i0 + BLOCK - 1: its base and, per output, the two tap
 * offsets from it. The load starts at the first tap, or earlier near the end of the row
 * so that it never reads past the row. false when the taps do not fit one 16-byte load
 * inside the row. */
static bool block_fits(const mcu_scale_axis_t *a, int i0, int32_t *base, uint8_t t[2 * BLOCK])
{
    if (a->in < BLOCK_SRC_BYTES)
        return false;
    *base = a->idx[i0] < a->in - BLOCK_SRC_BYTES ? a->idx[i0] : a->in - BLOCK_SRC_BYTES;
    for (int j = 0; j < BLOCK; j++) {
        int32_t t0 = a->idx[i0 + j] - *base, t1 = t0 + (a->w[i0 + j] != 0);
        if (t0 < 0 || t1 >= BLOCK_SRC_BYTES)
            return false;
        t[2 * j] = (uint8_t)t0;
        t[2 * j + 1] = (uint8_t)t1;
    }
    return true;
}

static void build_groups(mcu_scale_axis_t *a, int max_groups)
{
    int g = 0;
    for (; g < max_groups; g++) {
        for (int k = 0; k < 2; k++) {
            const int i0 = g * MCU_SCALE_GROUP + k * BLOCK;
            if (!block_fits(a, i0, &a->base[2 * g + k], &a->shuf[g][BLOCK_SRC_BYTES * k]))
                goto done;
            /* The kernel multiplies outputs 0-3 of each block (lane k) first, then 4-7. */
            for (int j = 0; j < BLOCK; j++) {
                const int at = (j < 4 ? 0 : 16) + 8 * k + 2 * (j % 4);
                a->wts[g][at] = (int16_t)(MCU_SCALE_ONE - a->w[i0 + j]);
                a->wts[g][at + 1] = (int16_t)a->w[i0 + j];
            }
        }
    }
done:
    a->n_groups = g;
}

int mcu_scale_axis_init(mcu_scale_axis_t *a, int in, int out)
{
    if (!a)
        return MCU_ERR_INVAL;
    memset(a, 0, sizeof *a);
    if (in < 1 || out < 1 || in > MCU_CANVAS_MAX_SIDE || out > MCU_CANVAS_MAX_SIDE)
        return MCU_ERR_INVAL;
    const int max_groups = out / MCU_SCALE_GROUP;
    a->in = in;
    a->out = out;
    a->idx = malloc((size_t)out * sizeof *a->idx);
    a->w = malloc((size_t)out * sizeof *a->w);
    a->base = malloc((size_t)(2 * max_groups + 1) * sizeof *a->base);
    a->shuf = malloc((size_t)(max_groups + 1) * sizeof *a->shuf);
    a->wts = malloc((size_t)(max_groups + 1) * sizeof *a->wts);
    if (!a->idx || !a->w || !a->base || !a->shuf || !a->wts) {
        mcu_scale_axis_free(a);
        return MCU_ERR_NOMEM;
    }
    for (int i = 0; i < out; i++) {
        /* Centres aligned: output i covers [i, i + 1) * in / out of the source. */
        const int64_t num = ((int64_t)(2 * i + 1) * in - out) * MCU_SCALE_ONE;
        const int64_t p = num < 0 ? 0 : num / (2 * (int64_t)out);
        int32_t idx = (int32_t)(p >> MCU_SCALE_SHIFT);
        uint16_t w = (uint16_t)(p & (MCU_SCALE_ONE - 1));
        if (idx >= in - 1) {
            idx = in - 1;
            w = 0;
        }
        a->idx[i] = idx;
        a->w[i] = w;
    }
    build_groups(a, max_groups);
    return MCU_OK;
}

/* ---- C reference ---- */

static inline uint8_t lerp(unsigned a, unsigned b, unsigned w)
{
    return (uint8_t)((a * (MCU_SCALE_ONE - w) + b * w + ROUND) >> MCU_SCALE_SHIFT);
}

static void blend_rows_c(uint8_t *dst, const uint8_t *r0, const uint8_t *r1, int n, int w)
{
    for (int x = 0; x < n; x++)
        dst[x] = lerp(r0[x], r1[x], (unsigned)w);
}

static void filter_cols_from(uint8_t *dst, const uint8_t *src, const mcu_scale_axis_t *c,
                             int from)
{
    for (int i = from; i < c->out; i++) {
        const int32_t k = c->idx[i];
        const unsigned w = c->w[i];
        dst[i] = lerp(src[k], src[k + (w != 0)], w);
    }
}

static void filter_cols_c(uint8_t *dst, const uint8_t *src, const mcu_scale_axis_t *c)
{
    filter_cols_from(dst, src, c, 0);
}

/* ---- AVX2 ---- */

#ifdef SCALE_DSP_AVX2
#define AVX2 __attribute__((target("avx2")))

/* 32 pixels a step in 16-bit lanes: r0 * (256 - w) + r1 * w + 128 <= 65408 fits an
 * unsigned lane; mullo and add wrap the same for unsigned values. unpack against zero
 * and packus work within 128-bit lanes, so packing lo and hi restores the byte order. */
AVX2 static void blend_rows_avx2(uint8_t *dst, const uint8_t *r0, const uint8_t *r1, int n, int w)
{
    const __m256i zero = _mm256_setzero_si256();
    const __m256i w0 = _mm256_set1_epi16((short)(MCU_SCALE_ONE - w));
    const __m256i w1 = _mm256_set1_epi16((short)w);
    const __m256i round = _mm256_set1_epi16(ROUND);
    int x = 0;
    for (; x + 32 <= n; x += 32) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(r0 + x));
        __m256i b = _mm256_loadu_si256((const __m256i *)(r1 + x));
        __m256i lo = _mm256_add_epi16(
            _mm256_add_epi16(_mm256_mullo_epi16(_mm256_unpacklo_epi8(a, zero), w0),
                             _mm256_mullo_epi16(_mm256_unpacklo_epi8(b, zero), w1)),
            round);
        __m256i hi = _mm256_add_epi16(
            _mm256_add_epi16(_mm256_mullo_epi16(_mm256_unpackhi_epi8(a, zero), w0),
                             _mm256_mullo_epi16(_mm256_unpackhi_epi8(b, zero), w1)),
            round);
        _mm256_storeu_si256((__m256i *)(dst + x),
                            _mm256_packus_epi16(_mm256_srli_epi16(lo, MCU_SCALE_SHIFT),
                                                _mm256_srli_epi16(hi, MCU_SCALE_SHIFT)));
    }
    blend_rows_c(dst + x, r0 + x, r1 + x, n - x, w);
}

/* 16 outputs a step: two blocks of 8, one per lane, each from a 16-byte load; the shuffle
 * lays every output's two taps side by side, unpacking against zero makes them 16-bit
 * pairs and one multiply-add per half weighs them. */
AVX2 static void filter_cols_avx2(uint8_t *dst, const uint8_t *src, const mcu_scale_axis_t *c)
{
    const __m256i zero = _mm256_setzero_si256();
    const __m256i round = _mm256_set1_epi32(ROUND);
    for (int g = 0; g < c->n_groups; g++) {
        __m256i s = _mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(src + c->base[2 * g]))),
            _mm_loadu_si128((const __m128i *)(src + c->base[2 * g + 1])), 1);
        __m256i p = _mm256_shuffle_epi8(s, _mm256_loadu_si256((const __m256i *)c->shuf[g]));
        __m256i lo = _mm256_madd_epi16(_mm256_unpacklo_epi8(p, zero),
                                       _mm256_loadu_si256((const __m256i *)c->wts[g]));
        __m256i hi = _mm256_madd_epi16(_mm256_unpackhi_epi8(p, zero),
                                       _mm256_loadu_si256((const __m256i *)(c->wts[g] + 16)));
        lo = _mm256_srli_epi32(_mm256_add_epi32(lo, round), MCU_SCALE_SHIFT);
        hi = _mm256_srli_epi32(_mm256_add_epi32(hi, round), MCU_SCALE_SHIFT);
        __m256i w16 = _mm256_packus_epi32(lo, hi);  /* lane k: block k, outputs 0-7 */
        __m256i b8 = _mm256_packus_epi16(w16, w16); /* lane k: its 8 bytes, twice */
        b8 = _mm256_permute4x64_epi64(b8, 0x08);    /* lane 0's low 8 bytes, then lane 1's */
        _mm_storeu_si128((__m128i *)(dst + g * MCU_SCALE_GROUP), _mm256_castsi256_si128(b8));
    }
    filter_cols_from(dst, src, c, c->n_groups * MCU_SCALE_GROUP);
}
#endif

/* ---- selection ---- */

void mcu_scale_dsp_init_flags(mcu_scale_dsp_t *dsp, unsigned flags)
{
    dsp->name = "c";
    dsp->blend_rows = blend_rows_c;
    dsp->filter_cols = filter_cols_c;
    flags &= mcu_cpu_detect();
#ifdef SCALE_DSP_AVX2
    if (flags & MCU_CPU_AVX2) {
        dsp->name = "avx2";
        dsp->blend_rows = blend_rows_avx2;
        dsp->filter_cols = filter_cols_avx2;
    }
#endif
}

void mcu_scale_dsp_init(mcu_scale_dsp_t *dsp) { mcu_scale_dsp_init_flags(dsp, mcu_cpu_flags()); }

/* ---- a plane ---- */

void mcu_scale_plane(const mcu_scale_dsp_t *dsp, const mcu_scale_axis_t *cols,
                     const mcu_scale_axis_t *rows, const uint8_t *src, ptrdiff_t src_stride,
                     uint8_t *dst, ptrdiff_t dst_stride, uint8_t *tmp)
{
    for (int y = 0; y < rows->out; y++) {
        const uint8_t *r0 = src + (ptrdiff_t)rows->idx[y] * src_stride;
        const uint8_t *row = r0;
        if (rows->w[y]) {
            dsp->blend_rows(tmp, r0, r0 + src_stride, cols->in, rows->w[y]);
            row = tmp;
        }
        dsp->filter_cols(dst + (ptrdiff_t)y * dst_stride, row, cols);
    }
}
