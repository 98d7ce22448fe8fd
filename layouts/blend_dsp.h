/*
 * blend_dsp: the per-frame kernels that lay a cached name label (an 8-bit coverage
 * bitmap from layouts/label) onto the canvas. One struct of function pointers with a C
 * reference (_c) always present and faster versions picked by mcu_blend_dsp_init for the
 * CPU (see mcu/cpu.h; MCU_CPU_MASK=0 forces the reference). Every version gives
 * bit-identical results to the reference; the tests check it on random rows of every
 * length 0..257 and on every (pixel, alpha) pair.
 *
 * The arithmetic, exactly (all integer, no overflow in 16 bits):
 *
 *   blend(d, a, fg)  = (d * (255 - a) + fg * a + 127) / 255
 *       Coverage a (0 = none, 255 = full) mixes the pixel d toward the colour fg,
 *       rounded to nearest (ties cannot happen: x / 255 is never k + 1/2). It is the
 *       usual d + ((fg - d) * a + 127) / 255 written with non-negative terms only, so it
 *       rounds the same way whether fg is above or below d; a = 0 leaves d, a = 255
 *       gives fg exactly.
 *
 *   darken(d, target, keep) = (d * keep + target * (256 - keep) + 128) >> 8
 *       A semi-transparent overlay of colour `target` with opacity (256 - keep) / 256:
 *       keep is Q8 (MCU_BLEND_KEEP_ONE = 256 leaves d, 0 gives target). With target =
 *       video black (Y 16, U/V 128) on all three planes this is a black veil, which
 *       keeps the picture's hue and only lowers its contrast.
 *
 *   chroma alpha a_uv = (a[2i][r] + a[2i+1][r] + a[2i][r+1] + a[2i+1][r+1] + 2) >> 2
 *       One 4:2:0 chroma sample covers 2x2 luma pixels; its text coverage is the rounded
 *       mean of those four. Blending chroma toward neutral (128) with it makes the white
 *       text colourless at its edges too: no coloured fringes.
 *
 * OWNERSHIP: kernels read and write caller buffers only, any alignment, exactly n
 * output bytes (nothing before or after); outputs do not overlap inputs. n <= 0 is a
 * no-op.
 */
#ifndef MCU_BLEND_DSP_H
#define MCU_BLEND_DSP_H

#include <stdint.h>

/* Q8 unity of darken's `keep`: 8 bits are finer than the eye sees in a veil's opacity
 * and keep d * keep within 16 bits (255 * 256 + 128 < 65536) for the SIMD versions. */
#define MCU_BLEND_KEEP_SHIFT 8
#define MCU_BLEND_KEEP_ONE (1 << MCU_BLEND_KEEP_SHIFT)

typedef struct mcu_blend_dsp {
    const char *name;   /* "c", "avx2": for logs and the tests' output */
    /* dst[i] = blend(dst[i], alpha[i], fg), i < n */
    void (*blend_row_y)(uint8_t *dst, const uint8_t *alpha, int n, uint8_t fg);
    /* dst[i] = darken(dst[i], target, keep), i < n; keep 0..MCU_BLEND_KEEP_ONE */
    void (*darken_row)(uint8_t *dst, int n, uint8_t target, int keep);
    /* dst[i] = blend(dst[i], a_uv, fg), i < n, where a_uv averages alpha0[2i], alpha0[2i+1]
     * (the luma row above) and alpha1[2i], alpha1[2i+1] (the luma row below): reads 2n
     * bytes of each alpha row. */
    void (*blend_row_uv)(uint8_t *dst, const uint8_t *alpha0, const uint8_t *alpha1, int n,
                         uint8_t fg);
} mcu_blend_dsp_t;

/* Fills in the best versions for this CPU within mcu_cpu_flags(). */
void mcu_blend_dsp_init(mcu_blend_dsp_t *dsp);

/* Same within `flags` (MCU_CPU_* bits, further limited to what the CPU has): 0 gives the
 * C reference. For tests and benchmarks that run every version. */
void mcu_blend_dsp_init_flags(mcu_blend_dsp_t *dsp, unsigned flags);

#endif
