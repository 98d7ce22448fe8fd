/*
 * mix_dsp: the audio mixer's sample kernels, one struct of function pointers with a
 * C reference (_c) always present and faster versions picked by mcu_mix_dsp_init for
 * the CPU (see mcu/cpu.h; MCU_CPU_MASK=0 forces the reference). Every version gives
 * bit-identical results to the reference: the mix-minus relies on it (a talker's
 * contribution is subtracted exactly as it was added), and the tests check it.
 *
 * Gains are Q12 fixed point (MCU_MIX_GAIN_ONE = unity), 0..MCU_MIX_GAIN_Q_MAX. A
 * site's contribution to the mix is
 *     contrib(x, g) = (x * g + MCU_MIX_GAIN_ROUND) >> MCU_MIX_GAIN_SHIFT
 * (arithmetic shift: round half up), at most 2^18 in magnitude, so the int32 sum of 64
 * sites cannot overflow.
 *
 * OWNERSHIP: kernels read and write caller buffers only, any alignment; output and
 * input buffers do not overlap.
 */
#ifndef MCU_MIX_DSP_H
#define MCU_MIX_DSP_H

#include <stddef.h>
#include <stdint.h>

/* Q12: 1/4096 steps are 0.002 dB at unity, finer than any fader, and leave headroom
 * for gains up to 8x in an int16 factor. */
#define MCU_MIX_GAIN_SHIFT 12
#define MCU_MIX_GAIN_ONE (1 << MCU_MIX_GAIN_SHIFT)
#define MCU_MIX_GAIN_ROUND (1 << (MCU_MIX_GAIN_SHIFT - 1))
/* Largest Q12 gain: the SIMD versions multiply by the gain as an int16. */
#define MCU_MIX_GAIN_Q_MAX INT16_MAX

typedef struct mcu_mix_dsp {
    const char *name;   /* "c", "avx2": for logs and the tests' output */
    /* acc[i] += contrib(x[i], gain_q) */
    void (*mac)(int32_t *acc, const int16_t *x, int32_t gain_q, size_t n);
    /* out[i] = acc[i] saturated to int16 */
    void (*clip)(int16_t *out, const int32_t *acc, size_t n);
    /* out[i] = (acc[i] - contrib(x[i], gain_q)) saturated to int16: the mix without
     * one site's own contribution */
    void (*clip_minus)(int16_t *out, const int32_t *acc, const int16_t *x, int32_t gain_q,
                       size_t n);
    /* sum of x[i]^2, exact */
    uint64_t (*energy)(const int16_t *x, size_t n);
} mcu_mix_dsp_t;

/* Fills in the best versions for this CPU within mcu_cpu_flags(). */
void mcu_mix_dsp_init(mcu_mix_dsp_t *dsp);

/* Same within `flags` (MCU_CPU_* bits, further limited to what the CPU has): 0 gives
 * the C reference. For tests and benchmarks that run every version. */
void mcu_mix_dsp_init_flags(mcu_mix_dsp_t *dsp, unsigned flags);

#endif
