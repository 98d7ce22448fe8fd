/*
 * kernels: micro-benchmarks of every pixel and sample kernel the MCU runs per frame, each
 * version against the alternatives on the same sizes, for mcu-bench's capacity report.
 *
 * A case is one operation on one size; all its implementations run side by side and the
 * first listed is the reference its speedups are measured against.
 *
 *   family "scale": one decoded I420 site picture into its tile, op "WxH->WxH", for
 *   640x360->320x180, 640x360->256x144, 1280x720->256x144, 1280x720->640x360,
 *   640x360->426x240, 960x540->320x180 and 1280x720->1280x720 (1:1, a copy):
 *     "libyuv C"                   I420Scale with the composer's filter (box when
 *                                  shrinking more than 2x, else bilinear), libyuv's SIMD
 *                                  masked off: the reference
 *     "composer (libyuv)"          mcu_composer_draw of the picture into a cell of the
 *                                  destination size on a 1280x720 canvas: the real path,
 *                                  placement and checks included
 *     "libyuv I420Scale box"       the raw call into the same cell, each filter, SIMD
 *     "libyuv I420Scale bilinear"  as detected
 *     "swscale bilinear"           sws_scale (SWS_BILINEAR / SWS_AREA, context made once)
 *     "swscale area"               into a separate padded buffer: swscale cannot write
 *                                  into the canvas (layouts/composer.h)
 *   rate: destination luma megapixels per second ("Mpix/s").
 *
 *   family "blend": the label kernels on the row of a label on a 320- and a 1280-wide
 *   tile: "blend_row_y n=320", "darken_row n=320", "blend_row_uv n=160" (chroma: half),
 *   and the same for 1280; plus "label draw 320x180 cell": "Khánh Thượng" rendered once
 *   for a 320x180 cell, then laid onto a canvas by mcu_label_draw_dsp. Impls "c"
 *   (reference) and mcu_blend_dsp_init's choice under its own name ("avx2"; "c" again
 *   when the CPU or MCU_CPU_MASK allows no SIMD). rate: "Mpix/s" of pixels written (n per
 *   row call, the bitmap's w x h per label).
 *
 *   family "mix": "mac n=960", "clip n=960", "clip_minus n=960", "energy n=960" (one
 *   20 ms frame at 48 kHz), and "mix 18 sites 20 ms" (one tick: zero the sum, 18 mac,
 *   1 clip, 3 clip_minus). Impls "c" and mcu_mix_dsp_init's choice. rate: "Msamples/s"
 *   (input samples: 18 x 960 for the tick).
 *
 *   family "srtp": "protect 100 B AES_CM_128_HMAC_SHA1_80" and "protect 1200 B ..." (an
 *   audio and a full video payload, RTP header not counted in the name), through
 *   mcu_srtp_protect: "libsrtp built-in", with the crypto libsrtp was built with (NSS on
 *   Debian; the reference), against "libcrypto", with mcu/srtp_crypto's AES-ICM and
 *   HMAC-SHA1. The reference needs this to be the process's first SRTP use: it runs
 *   first, and is left out (one implementation, named by mcu_srtp_crypto_backend) when
 *   the libcrypto types are already in place or MCU_SRTP_CRYPTO is set. rate: "MB/s" of
 *   packet bytes protected.
 *
 * Output: one JSON object per line (JSON Lines), one line per implementation, e.g.
 *   {"kind":"kernel","family":"mix","op":"mac n=960","impl":"avx2","ns_per_call":61.2,
 *    "rate":15686.27,"rate_unit":"Msamples/s","speedup_vs_ref":4.812}
 * speedup_vs_ref is the reference's ns_per_call over this one's (1.0 for the reference).
 *
 * Timing: each implementation is called once to warm up (caches, lazy tables), then its
 * iteration count is set so that one batch lasts its share of the case. Seven rounds then
 * time one batch of every implementation in turn with CLOCK_MONOTONIC, interleaved so
 * that a clock-frequency change or a busy neighbour core hits every version alike;
 * ns_per_call is the median batch's time per call. Inputs are random (a seeded
 * xorshift, the same every run). The whole run takes about 21 x seconds_per_case plus
 * warm-up and calibration (under 10 s at 0.3).
 *
 * Threads: "libyuv C" needs libyuv's process-wide CPU flags switched off
 * (mcu_composer_force_c) around its batches; they are restored after each to the
 * composer's own choice (C only when mcu_cpu_flags() is 0). Run this while nothing else
 * in the process scales pictures: mcu-bench runs it on its own.
 *
 * The label case needs a font (layouts/label.h): when fontconfig finds none it is left
 * out of the output and the rest still runs.
 *
 * OWNERSHIP: `out` stays the caller's (written, flushed, never closed). Every buffer,
 * frame, canvas and scaling context is allocated and freed within the call.
 */
#ifndef MCU_BENCH_KERNELS_H
#define MCU_BENCH_KERNELS_H

#include <stdio.h>

/* Shortest seconds_per_case accepted: with six scale implementations sharing a case,
 * a batch of the 1280x720 C box scale (several ms a call) still holds a call or two. */
#define MCU_BENCH_KERNELS_MIN_SECONDS 0.05

/* Runs every case for about `seconds_per_case` (>= MCU_BENCH_KERNELS_MIN_SECONDS) of wall
 * time each and writes one JSON object per line to `out` (see above).
 * 0; MCU_ERR_INVAL (NULL out, seconds_per_case too small or not a number);
 * MCU_ERR_NOMEM (allocation failure); MCU_ERR_IO (writing `out` failed); another
 * MCU_ERR_* if a kernel under test reports one (nothing written for that case). */
int mcu_bench_kernels(FILE *out, double seconds_per_case);

#endif
