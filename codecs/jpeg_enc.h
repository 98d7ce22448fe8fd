/*
 * jpeg_enc: JPEG snapshots for the control page: the composite preview (about 2 fps) and
 * the site thumbnails. libswscale scales and converts, libavcodec's mjpeg encoder makes a
 * baseline JFIF JPEG (SOF0, 8-bit, YUV 4:2:0), which every browser shows in an <img>.
 *
 *   src (any format swscale reads, any range)
 *     --swscale: scale to max_w wide, keep the aspect, height even; range -> full-->
 *   YUVJ420P --mjpeg, fixed qscale--> JPEG bytes (FF D8 ... FF D9)
 *
 * Range: a JPEG is full range (JFIF: Y 0..255), and browsers decode it as such. The MCU
 * canvas and most H.264 pictures are limited range (Y 16..235), which shown as full
 * range looks washed out (black as dark grey, white as light grey), so a limited-range
 * source is expanded (swscale's srcRange 0 -> dstRange 1). A full-range source (yuvj*
 * formats, or color_range AVCOL_RANGE_JPEG) is kept as it is; RGB is full range.
 * Matrix: not converted. libswscale does not convert between YUV matrices, JFIF means
 * BT.601, and the canvas is BT.601; a BT.709 H.264 picture keeps its 709 values, which
 * a browser's 601 decode shows with a slight hue shift (skin a little green/red at the
 * edges of tolerance, harmless for a thumbnail).
 *
 * Threads: thread-safe. Every call makes and frees its own swscale and codec contexts,
 * so worker threads may encode snapshots concurrently, with no shared state. Setting
 * them up costs well under 0.5 ms (a whole 160-wide thumbnail of a 720p picture takes
 * 0.5 ms; 640 wide, 4.8 ms on a busy test pattern), nothing against the 500 ms between
 * previews. The encoder runs single-threaded inside the call.
 *
 * OWNERSHIP: src is only read during the call. *out is malloc'd by the call and owned by
 * the caller, who frees it with free() (not av_free). On error *out is NULL and *out_len
 * 0.
 */
#ifndef MCU_JPEG_ENC_H
#define MCU_JPEG_ENC_H

#include <stddef.h>
#include <stdint.h>

#include <libavutil/frame.h>

/* max_w bounds (0 aside). 16 px: the narrowest thumbnail that still shows a face, one
 * JPEG MCU (16x16 in 4:2:0) wide. 3840: a 4K UHD canvas, the widest preview the control
 * page would ever show 1:1; past it a snapshot is a waste of the worker's time. */
#define MCU_JPEG_MIN_W 16
#define MCU_JPEG_MAX_W 3840

/* mjpeg qscale bounds (libavcodec's lambda scale for MPEG-style quantisers): 1 is the
 * finest quantiser, 31 the coarsest. */
#define MCU_JPEG_QSCALE_MIN 1
#define MCU_JPEG_QSCALE_MAX 31
/* Default qscale: 5. Measured with this encoder (FFmpeg 5.1) at 640 wide, bytes and
 * PSNR Y against the source:
 *            qscale 2          5               8               12
 *   testsrc2 22.7 KB 51.1 dB   15.6 KB 44.1 dB 12.2 KB 40.7 dB  9.8 KB 38.4 dB
 *   photo    116 KB 42.6 dB    66 KB 36.4 dB   47 KB 33.3 dB   35 KB 30.9 dB
 * (photo: a detailed circuit-board picture, 640x424, a worst case.) At 5 small print
 * on the photo stays clean at 2x zoom; at 12 it turns to 8x8 blocks. Below 5 the bytes
 * climb fast for detail nobody sees in a preview: 5 keeps a 2 fps 640-wide preview of
 * conference pictures (softer than either) to about 250 kbit/s to the page. */
#define MCU_JPEG_DEFAULT_QSCALE 5

/* Encodes `src` as a baseline JPEG.
 *   src     a software AVFrame of a format libswscale reads (yuv420p, yuvj420p, nv12,
 *           rgb24, ...), width and height >= 2. Full range when its format is a yuvj*
 *           one, its color_range is AVCOL_RANGE_JPEG, or it is RGB; else limited.
 *   max_w   width of the JPEG: MCU_JPEG_MIN_W..MCU_JPEG_MAX_W, or 0 for the source
 *           width (capped at MCU_JPEG_MAX_W). A source narrower than max_w is never
 *           enlarged: the JPEG is then as wide as the source. The height keeps the
 *           source's aspect, rounded to the nearest even number (JPEG 4:2:0 chroma
 *           rows), never taller than the source, at least 2.
 *   qscale  MCU_JPEG_QSCALE_MIN..MCU_JPEG_QSCALE_MAX (MCU_JPEG_DEFAULT_QSCALE).
 *   out, out_len  receive the JPEG (SOI FF D8 first, EOI FF D9 last), malloc'd.
 * 0; MCU_ERR_INVAL (NULL argument, no picture data, size below 2 or one libavutil
 * rejects, max_w or qscale out of range); MCU_ERR_UNSUPPORTED (a format swscale cannot
 * read, a hardware frame, or libavcodec built without the mjpeg encoder); MCU_ERR_NOMEM;
 * MCU_ERR_CONFIG (the encoder refused to open); MCU_ERR_CODEC (scaling or encoding
 * failed). */
int mcu_jpeg_encode(const AVFrame *src, int max_w, int qscale, uint8_t **out,
                    size_t *out_len);

#endif
