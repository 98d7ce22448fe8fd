/*
 * scale_dsp: bilinear scaling of one 8-bit plane within 2x (the composer's last step,
 * after exact 2x box halvings: layouts/composer.c), with per-size tap tables built
 * once and a C reference (_c) always present beside an AVX2 version picked by
 * mcu_scale_dsp_init for the CPU (mcu/cpu.h; MCU_CPU_MASK=0 forces the reference).
 * Every version gives bit-identical results to the reference; the tests check it on
 * random planes of odd sizes with guard bytes around every output row.
 *
 * Why not libyuv's bilinear: its horizontal pass for a non-integer ratio
 * (ScaleFilterCols) has an SSSE3 version only, which steps two pixels at a time with
 * scalar position arithmetic; in the 18-site scenario (a 2x box to 320x180, then 320 ->
 * 256 bilinear, per tile) it was the composer's hottest function, 4.7% of the daemon's
 * CPU (perf). Here the positions are computed once per size and the AVX2 pass makes 16
 * outputs from two 16-byte loads, one byte shuffle and two multiply-adds
 * (`mcu-bench kernels` compares both on the same sizes).
 *
 * The arithmetic, exactly (integers; weights in 1/256):
 *
 *   position of output i on an axis of `in` source and `out` output samples, pixel
 *   centres aligned (as libyuv, swscale and every GPU sample them):
 *       p = floor(((2i + 1) * in - out) * 256 / (2 * out)), clamped to 0 below
 *       idx = p >> 8, w = p & 255; if idx >= in - 1: idx = in - 1, w = 0
 *   a horizontal tap pair:  (s[idx] * (256 - w) + s[idx + (w != 0)] * w + 128) >> 8
 *   a vertical row blend:   (r0[x] * (256 - w) + r1[x] * w + 128) >> 8
 * The second tap is never read when its weight is 0, so an axis of one sample is valid
 * and nothing is read past the last sample. A plane is blended vertically first (into a
 * row of `in` width, skipped for w == 0), then filtered horizontally.
 *
 * OWNERSHIP: an axis owns its tables (mcu_scale_axis_init allocates, _free frees). The
 * kernels read and write caller buffers only, any alignment, exactly the output bytes.
 * An axis is read-only once built: several threads may use one at once.
 */
#ifndef MCU_SCALE_DSP_H
#define MCU_SCALE_DSP_H

#include <stddef.h>
#include <stdint.h>

/* Weights are in 1/MCU_SCALE_ONE: 8 bits are finer than any visible step and keep
 * s * (256 - w) + s' * w + 128 inside 16 unsigned bits (255 * 256 + 128 = 65408). */
#define MCU_SCALE_SHIFT 8
#define MCU_SCALE_ONE (1 << MCU_SCALE_SHIFT)

/* Outputs per SIMD group of the horizontal pass: two blocks of 8, one per 128-bit lane,
 * each made from 16 source bytes (so a block's taps must span at most 16 bytes: true
 * whenever the axis shrinks by 2x or less). */
#define MCU_SCALE_GROUP 16

/* One axis: for output i, taps idx[i] and idx[i] + (w[i] != 0). */
typedef struct mcu_scale_axis {
    int in, out;
    int32_t *idx;               /* out entries */
    uint16_t *w;                /* out entries, 0..MCU_SCALE_ONE - 1 */
    /* The SIMD horizontal pass: the first n_groups groups of MCU_SCALE_GROUP outputs
     * (the rest goes to the C reference). For group g, block k (0, 1): 16 source bytes
     * from base[2g + k], shuf[g] picks each output's two taps (lane k: block k),
     * wts[g] their weights as 16-bit pairs in the order the kernel multiplies them. */
    int n_groups;
    int32_t *base;              /* 2 * n_groups */
    uint8_t (*shuf)[32];        /* n_groups */
    int16_t (*wts)[32];         /* n_groups: outputs 0-3 of each block, then 4-7 */
} mcu_scale_axis_t;

/* Builds the axis for `in` source and `out` output samples (1..MCU_CANVAS_MAX_SIDE
 * each, see layouts/canvas.h). 0, MCU_ERR_INVAL (sizes) or MCU_ERR_NOMEM (the axis is
 * then empty and may be freed). */
int mcu_scale_axis_init(mcu_scale_axis_t *a, int in, int out);
/* Frees the tables and zeroes the axis; NULL-safe, idempotent. */
void mcu_scale_axis_free(mcu_scale_axis_t *a);

typedef struct mcu_scale_dsp {
    const char *name;   /* "c", "avx2": for logs and the tests' output */
    /* dst[x] = (r0[x] * (256 - w) + r1[x] * w + 128) >> 8, x < n; w 0..256 */
    void (*blend_rows)(uint8_t *dst, const uint8_t *r0, const uint8_t *r1, int n, int w);
    /* dst[i] = the tap pair of output i of `cols` (see above) from src, i < cols->out;
     * reads src[0 .. cols->in - 1] only */
    void (*filter_cols)(uint8_t *dst, const uint8_t *src, const mcu_scale_axis_t *cols);
} mcu_scale_dsp_t;

/* Fills in the best versions for this CPU within mcu_cpu_flags(). */
void mcu_scale_dsp_init(mcu_scale_dsp_t *dsp);
/* Same within `flags` (MCU_CPU_* bits, further limited to what the CPU has): 0 gives the
 * C reference. For tests and benchmarks that run every version. */
void mcu_scale_dsp_init_flags(mcu_scale_dsp_t *dsp, unsigned flags);

/* Scales one plane: src (cols->in x rows->in samples, src_stride bytes per row) into
 * dst (cols->out x rows->out, dst_stride). tmp: cols->in bytes of scratch for the
 * vertical blend. Writes exactly the output rectangle. */
void mcu_scale_plane(const mcu_scale_dsp_t *dsp, const mcu_scale_axis_t *cols,
                     const mcu_scale_axis_t *rows, const uint8_t *src, ptrdiff_t src_stride,
                     uint8_t *dst, ptrdiff_t dst_stride, uint8_t *tmp);

#endif
