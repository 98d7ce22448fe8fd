/*
 * canvas: one owned I420 (YUV 4:2:0, 8-bit, limited range) picture: the composite that
 * the composer draws every site into and the encoder encodes once per tick.
 *
 *   data[0] Y  width   x height     stride[0] bytes per row
 *   data[1] U  width/2 x height/2   stride[1]
 *   data[2] V  width/2 x height/2   stride[2]
 *
 * Width and height are even (one chroma sample covers 2x2 luma). Every plane starts on a
 * MCU_CANVAS_ALIGN boundary and every stride is a multiple of it, so each row starts
 * aligned for the widest SIMD loads (AVX-512) and a kernel may read a whole row in
 * aligned blocks without leaving the buffer. The three planes are one allocation.
 *
 * A new canvas holds video black (MCU_CANVAS_INIT_*), never all-zero bytes: Y=U=V=0 is
 * green, and a canvas encoded before anything was drawn must not flash green.
 *
 * Fields are read-only for callers (the composer and the label module write PIXELS
 * through data/stride, never the fields themselves).
 *
 * Threads: a canvas has no lock. Writers that touch disjoint rectangles (one tile each)
 * may run on different threads at once; nobody may read a rectangle while it is being
 * written (the tick joins the tile writers before the encode).
 *
 * OWNERSHIP: mcu_canvas_create allocates; the pixels are one reference-counted buffer
 * (libavutil's AVBufferRef) that the canvas holds, and that mcu_canvas_as_avframe shares
 * with an AVFrame without copying. mcu_canvas_destroy drops the canvas's reference; the
 * pixels go with the last one.
 */
#ifndef MCU_CANVAS_H
#define MCU_CANVAS_H

#include <stdint.h>

#include <libavutil/frame.h>

#include "layouts/layout.h"

/* Row and plane alignment in bytes: 64 is one AVX-512 register and one cache line, the
 * most any SIMD kernel here (libyuv, swscale, x264's copy-in) can ask for. */
#define MCU_CANVAS_ALIGN 64

/* Smallest and largest side. 2 is one chroma sample. 8192 is more than any layout
 * canvas (MCU_LAYOUT_MAX_CANVAS_W = 3840) plus the composer's scratch slack, and caps an
 * allocation at 8192 * 8192 * 1.5 = 96 MiB, so a wrong size fails cleanly instead of
 * asking for gigabytes. */
#define MCU_CANVAS_MIN_SIDE 2
#define MCU_CANVAS_MAX_SIDE 8192

/* Contents of a new canvas: limited-range video black (see the header comment). */
#define MCU_CANVAS_INIT_Y 16
#define MCU_CANVAS_INIT_U 128
#define MCU_CANVAS_INIT_V 128

typedef struct mcu_canvas {
    int width, height;   /* even, MCU_CANVAS_MIN_SIDE..MCU_CANVAS_MAX_SIDE */
    uint8_t *data[3];    /* Y, U, V; each MCU_CANVAS_ALIGN-aligned */
    int stride[3];       /* bytes per row; multiples of MCU_CANVAS_ALIGN */
    AVBufferRef *buf;    /* the three planes, one allocation of `size` bytes */
    size_t size;
} mcu_canvas_t;

/* Allocates a width x height canvas filled with video black.
 * 0 and *out set; MCU_ERR_INVAL (NULL out, odd or out-of-range size; *out = NULL) or
 * MCU_ERR_NOMEM (*out = NULL). */
int mcu_canvas_create(int width, int height, mcu_canvas_t **out);

/* Frees the canvas and sets *c = NULL. NULL and *c == NULL are no-ops. A frame made by
 * mcu_canvas_as_avframe keeps the pixels alive until it is unreferenced. */
void mcu_canvas_destroy(mcu_canvas_t **c);

/* Before drawing: when a frame still shares the pixels (an encoder that keeps pictures),
 * the canvas moves to a copy of them, so the frame is never drawn over. A no-op while
 * the canvas holds the only reference (the one-in, one-out encoder returns its
 * reference within mcu_h264_enc_encode). 0, MCU_ERR_INVAL, or MCU_ERR_NOMEM (the canvas
 * is then unchanged and still shared). */
int mcu_canvas_make_writable(mcu_canvas_t *c);

/* Fills rectangle r with one colour: Y in r, U and V in r's chroma (r.x/2, r.y/2,
 * r.w/2, r.h/2). r must have even x, y, w, h, lie inside the canvas and have w, h >= 0
 * (an empty rectangle is a no-op). Touches nothing outside r.
 * 0, or MCU_ERR_INVAL (NULL canvas, bad rectangle; nothing written). */
int mcu_canvas_fill(mcu_canvas_t *c, mcu_rect_t r, uint8_t y, uint8_t u, uint8_t v);

/* Points an AVFrame at the canvas for the encoder, without copying: a new reference to
 * the pixels in buf[0], data[0..2], linesize[0..2] (data[3], linesize[3] cleared),
 * width, height, format (AV_PIX_FMT_YUV420P), color_range (AVCOL_RANGE_MPEG) and
 * sample_aspect_ratio (1:1). Other fields (pts, pict_type, ...) are left to the caller.
 *
 * Lifetime: the frame holds its own reference (av_frame_unref or av_frame_free drops
 * it), so libavcodec takes the picture without copying it. While a frame holds the
 * pixels the canvas must not be drawn on: call mcu_canvas_make_writable first.
 *
 * 0, MCU_ERR_NOMEM, or MCU_ERR_INVAL (NULL argument, or a frame that holds buffers:
 * unref it first; the frame is then untouched). */
int mcu_canvas_as_avframe(const mcu_canvas_t *c, AVFrame *f);

#endif
