#include "mix_dsp.h"

#include "cpu.h"

/* AVX2 versions: x86 with GCC or Clang (target attribute, __builtin_cpu_supports). */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define MIX_DSP_AVX2 1
#include <immintrin.h>
#endif

/* ---- C reference ---- */

static inline int32_t contrib(int16_t x, int32_t gain_q)
{
    return (x * gain_q + MCU_MIX_GAIN_ROUND) >> MCU_MIX_GAIN_SHIFT;
}

static inline int16_t sat16(int32_t v)
{
    return (int16_t)(v > INT16_MAX ? INT16_MAX : v < INT16_MIN ? INT16_MIN : v);
}

static void mac_c(int32_t *acc, const int16_t *x, int32_t gain_q, size_t n)
{
    for (size_t i = 0; i < n; i++)
        acc[i] += contrib(x[i], gain_q);
}

static void clip_c(int16_t *out, const int32_t *acc, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = sat16(acc[i]);
}

static void clip_minus_c(int16_t *out, const int32_t *acc, const int16_t *x, int32_t gain_q,
                         size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = sat16(acc[i] - contrib(x[i], gain_q));
}

static uint64_t energy_c(const int16_t *x, size_t n)
{
    uint64_t e = 0;
    for (size_t i = 0; i < n; i++)
        e += (uint64_t)((int32_t)x[i] * x[i]);
    return e;
}

/* ---- AVX2 ---- */

#ifdef MIX_DSP_AVX2
#define AVX2 __attribute__((target("avx2")))

/* contrib() of 8 samples. pmaddwd on (x, sign(x)) pairs times (g, 0) pairs gives x * g
 * in each 32-bit lane in one instruction: the gain fits an int16 (MCU_MIX_GAIN_Q_MAX). */
AVX2 static inline __m256i contrib8(const int16_t *x, __m256i g_pairs, __m256i round)
{
    __m256i v = _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)x));
    __m256i p = _mm256_add_epi32(_mm256_madd_epi16(v, g_pairs), round);
    return _mm256_srai_epi32(p, MCU_MIX_GAIN_SHIFT);
}

/* 16 int32 -> 16 int16 saturated, in order (packs works per 128-bit lane). */
AVX2 static inline void store_sat16(int16_t *out, __m256i a, __m256i b)
{
    __m256i p = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8);
    _mm256_storeu_si256((__m256i *)out, p);
}

AVX2 static void mac_avx2(int32_t *acc, const int16_t *x, int32_t gain_q, size_t n)
{
    const __m256i g = _mm256_set1_epi32(gain_q & 0xFFFF);
    const __m256i r = _mm256_set1_epi32(MCU_MIX_GAIN_ROUND);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i a0 = _mm256_loadu_si256((const __m256i *)(acc + i));
        __m256i a1 = _mm256_loadu_si256((const __m256i *)(acc + i + 8));
        a0 = _mm256_add_epi32(a0, contrib8(x + i, g, r));
        a1 = _mm256_add_epi32(a1, contrib8(x + i + 8, g, r));
        _mm256_storeu_si256((__m256i *)(acc + i), a0);
        _mm256_storeu_si256((__m256i *)(acc + i + 8), a1);
    }
    mac_c(acc + i, x + i, gain_q, n - i);
}

AVX2 static void clip_avx2(int16_t *out, const int32_t *acc, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        store_sat16(out + i, _mm256_loadu_si256((const __m256i *)(acc + i)),
                    _mm256_loadu_si256((const __m256i *)(acc + i + 8)));
    clip_c(out + i, acc + i, n - i);
}

AVX2 static void clip_minus_avx2(int16_t *out, const int32_t *acc, const int16_t *x,
                                 int32_t gain_q, size_t n)
{
    const __m256i g = _mm256_set1_epi32(gain_q & 0xFFFF);
    const __m256i r = _mm256_set1_epi32(MCU_MIX_GAIN_ROUND);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i a0 = _mm256_loadu_si256((const __m256i *)(acc + i));
        __m256i a1 = _mm256_loadu_si256((const __m256i *)(acc + i + 8));
        store_sat16(out + i, _mm256_sub_epi32(a0, contrib8(x + i, g, r)),
                    _mm256_sub_epi32(a1, contrib8(x + i + 8, g, r)));
    }
    clip_minus_c(out + i, acc + i, x + i, gain_q, n - i);
}

/* pmaddwd(x, x) sums two squares: at most 2 * 32768^2 = 2^31, exact as a uint32, so the
 * lanes are widened as unsigned before the 64-bit sum. */
AVX2 static uint64_t energy_avx2(const int16_t *x, size_t n)
{
    const __m256i zero = _mm256_setzero_si256();
    __m256i sum = zero;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(x + i));
        __m256i sq = _mm256_madd_epi16(v, v);
        sum = _mm256_add_epi64(sum, _mm256_unpacklo_epi32(sq, zero));
        sum = _mm256_add_epi64(sum, _mm256_unpackhi_epi32(sq, zero));
    }
    uint64_t lanes[4];
    _mm256_storeu_si256((__m256i *)lanes, sum);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3] + energy_c(x + i, n - i);
}
#endif

/* ---- selection ---- */

void mcu_mix_dsp_init_flags(mcu_mix_dsp_t *dsp, unsigned flags)
{
    dsp->name = "c";
    dsp->mac = mac_c;
    dsp->clip = clip_c;
    dsp->clip_minus = clip_minus_c;
    dsp->energy = energy_c;
    flags &= mcu_cpu_detect();
#ifdef MIX_DSP_AVX2
    if (flags & MCU_CPU_AVX2) {
        dsp->name = "avx2";
        dsp->mac = mac_avx2;
        dsp->clip = clip_avx2;
        dsp->clip_minus = clip_minus_avx2;
        dsp->energy = energy_avx2;
    }
#endif
}

void mcu_mix_dsp_init(mcu_mix_dsp_t *dsp) { mcu_mix_dsp_init_flags(dsp, mcu_cpu_flags()); }
