#include "layouts/blend_dsp.h"

#include "mcu/cpu.h"

/* AVX2 versions: x86 with GCC or Clang (target attribute, __builtin_cpu_supports). */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define BLEND_DSP_AVX2 1
#include <immintrin.h>
#endif

/* ---- C reference ---- */

static inline uint8_t blend1(unsigned d, unsigned a, unsigned fg)
{
    return (uint8_t)((d * (255u - a) + fg * a + 127u) / 255u);
}

static void blend_row_y_c(uint8_t *dst, const uint8_t *alpha, int n, uint8_t fg)
{
    for (int i = 0; i < n; i++)
        dst[i] = blend1(dst[i], alpha[i], fg);
}

static void darken_row_c(uint8_t *dst, int n, uint8_t target, int keep)
{
    const unsigned k = (unsigned)keep;
    const unsigned add = target * (MCU_BLEND_KEEP_ONE - k) + (MCU_BLEND_KEEP_ONE >> 1);
    for (int i = 0; i < n; i++)
        dst[i] = (uint8_t)((dst[i] * k + add) >> MCU_BLEND_KEEP_SHIFT);
}

static void blend_row_uv_c(uint8_t *dst, const uint8_t *alpha0, const uint8_t *alpha1, int n,
                           uint8_t fg)
{
    for (int i = 0; i < n; i++) {
        unsigned a = (alpha0[2 * i] + alpha0[2 * i + 1] + alpha1[2 * i] + alpha1[2 * i + 1] +
                      2u) >> 2;
        dst[i] = blend1(dst[i], a, fg);
    }
}

/* ---- AVX2 ---- */

#ifdef BLEND_DSP_AVX2
#define AVX2 __attribute__((target("avx2")))

/* blend() of 16 pixels in 16-bit lanes. d * (255 - a) + fg * a + 127 is at most
 * 255 * 255 + 127 = 65152, so it fits an unsigned 16-bit lane, and x / 255 is exactly
 * (x + 1 + (x >> 8)) >> 8 for every such x (at most 65407 before the shift: no wrap). */
AVX2 static inline __m256i blend16(__m256i d, __m256i a, __m256i fg)
{
    const __m256i c255 = _mm256_set1_epi16(255);
    __m256i x = _mm256_add_epi16(_mm256_mullo_epi16(d, _mm256_sub_epi16(c255, a)),
                                 _mm256_mullo_epi16(fg, a));
    x = _mm256_add_epi16(x, _mm256_set1_epi16(127));
    x = _mm256_add_epi16(_mm256_add_epi16(x, _mm256_set1_epi16(1)), _mm256_srli_epi16(x, 8));
    return _mm256_srli_epi16(x, 8);
}

/* 32 pixels a step: unpack against zero and packus both work within 128-bit lanes, so
 * packing the low and high halves back restores the original byte order. */
AVX2 static void blend_row_y_avx2(uint8_t *dst, const uint8_t *alpha, int n, uint8_t fg)
{
    const __m256i zero = _mm256_setzero_si256();
    const __m256i f = _mm256_set1_epi16(fg);
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i d = _mm256_loadu_si256((const __m256i *)(dst + i));
        __m256i a = _mm256_loadu_si256((const __m256i *)(alpha + i));
        __m256i lo = blend16(_mm256_unpacklo_epi8(d, zero), _mm256_unpacklo_epi8(a, zero), f);
        __m256i hi = blend16(_mm256_unpackhi_epi8(d, zero), _mm256_unpackhi_epi8(a, zero), f);
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_packus_epi16(lo, hi));
    }
    blend_row_y_c(dst + i, alpha + i, n - i, fg);
}

/* darken() of 16 pixels in 16-bit lanes: d * keep + add is at most 255 * 256 + 128. */
AVX2 static inline __m256i darken16(__m256i d, __m256i keep, __m256i add)
{
    return _mm256_srli_epi16(_mm256_add_epi16(_mm256_mullo_epi16(d, keep), add),
                             MCU_BLEND_KEEP_SHIFT);
}

AVX2 static void darken_row_avx2(uint8_t *dst, int n, uint8_t target, int keep)
{
    const __m256i zero = _mm256_setzero_si256();
    const __m256i k = _mm256_set1_epi16((short)keep);
    const __m256i add = _mm256_set1_epi16(
        (short)(target * (MCU_BLEND_KEEP_ONE - keep) + (MCU_BLEND_KEEP_ONE >> 1)));
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i d = _mm256_loadu_si256((const __m256i *)(dst + i));
        __m256i lo = darken16(_mm256_unpacklo_epi8(d, zero), k, add);
        __m256i hi = darken16(_mm256_unpackhi_epi8(d, zero), k, add);
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_packus_epi16(lo, hi));
    }
    darken_row_c(dst + i, n - i, target, keep);
}

/* 16 chroma samples a step from 32 alpha bytes of each row: pmaddubsw against ones sums
 * horizontal pairs into 16-bit lanes, in order (at most 510: no saturation). */
AVX2 static void blend_row_uv_avx2(uint8_t *dst, const uint8_t *alpha0, const uint8_t *alpha1,
                                   int n, uint8_t fg)
{
    const __m256i ones = _mm256_set1_epi8(1);
    const __m256i two = _mm256_set1_epi16(2);
    const __m256i f = _mm256_set1_epi16(fg);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i s0 = _mm256_maddubs_epi16(
            _mm256_loadu_si256((const __m256i *)(alpha0 + 2 * i)), ones);
        __m256i s1 = _mm256_maddubs_epi16(
            _mm256_loadu_si256((const __m256i *)(alpha1 + 2 * i)), ones);
        __m256i a = _mm256_srli_epi16(_mm256_add_epi16(_mm256_add_epi16(s0, s1), two), 2);
        __m256i d = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(dst + i)));
        __m256i r = blend16(d, a, f);
        _mm_storeu_si128((__m128i *)(dst + i),
                         _mm_packus_epi16(_mm256_castsi256_si128(r),
                                          _mm256_extracti128_si256(r, 1)));
    }
    blend_row_uv_c(dst + i, alpha0 + 2 * i, alpha1 + 2 * i, n - i, fg);
}
#endif

/* ---- selection ---- */

void mcu_blend_dsp_init_flags(mcu_blend_dsp_t *dsp, unsigned flags)
{
    dsp->name = "c";
    dsp->blend_row_y = blend_row_y_c;
    dsp->darken_row = darken_row_c;
    dsp->blend_row_uv = blend_row_uv_c;
    flags &= mcu_cpu_detect();
#ifdef BLEND_DSP_AVX2
    if (flags & MCU_CPU_AVX2) {
        dsp->name = "avx2";
        dsp->blend_row_y = blend_row_y_avx2;
        dsp->darken_row = darken_row_avx2;
        dsp->blend_row_uv = blend_row_uv_avx2;
    }
#endif
}

void mcu_blend_dsp_init(mcu_blend_dsp_t *dsp)
{
    mcu_blend_dsp_init_flags(dsp, mcu_cpu_flags());
}
