/*
 * site_limits: what a site's configured limits (max_pixels, max_kbps) size on the receive
 * side, and the kernel's part of it.
 *
 * The largest burst a site sends is a keyframe, its packets back to back (encoders and
 * ffmpeg send a frame as fast as the socket takes it). The kernel holds it while the loop
 * waits out an I/O moderation period (io_batch.h) or a busy stretch; the jitter buffer
 * then holds it with whatever arrives behind it while a repair is awaited. So both are
 * sized for a keyframe of the largest picture the site may send, or half a second of its
 * max_kbps, whichever is more.
 *
 * A socket gets its buffer with SO_RCVBUF within net.core.rmem_max, else SO_RCVBUFFORCE
 * (CAP_NET_ADMIN); what the kernel drops anyway is read from SO_MEMINFO (the drop count
 * SO_RXQ_OVFL reports per datagram, which libuv's receive path does not hand over).
 *
 * Pure functions and two system calls on a caller's socket: no state.
 */
#ifndef MCU_SITE_LIMITS_H
#define MCU_SITE_LIMITS_H

#include <stdint.h>

#include "mcu/config.h"
#include "mcu/jitter.h"

/* A keyframe's size: about 2.7 bits per pixel, an intra picture at high quality (a 1080p
 * x264 IDR of a detailed scene at QP 18 is ~590 KB, 2.3 bits per pixel). */
#define MCU_SITE_KEYFRAME_PIXELS_PER_BYTE 3
/* Payload bytes per packet of such a burst: a 1200-byte MTU less the RTP and FU-A headers
 * (senders' defaults are 1200-1400; fewer bytes per packet only costs more packets). */
#define MCU_SITE_BURST_PAYLOAD 1100
/* Buffer memory one datagram of up to ~1.4 KB takes (skb truesize; measured on Linux 6.1:
 * a 1200-byte datagram costs 2304 bytes of the receive buffer). */
#define MCU_SITE_DATAGRAM_TRUESIZE 2304
/* The floor, for audio sockets too: 2 ms of a 100k packet/s flood (~300 KB of kernel
 * buffers) with room. */
#define MCU_SITE_RCVBUF_MIN_BYTES (1024 * 1024)

/* The largest burst a site may send, payload bytes. */
int64_t mcu_site_limits_burst_bytes(const mcu_site_config_t *cfg);
/* The receive buffer (kernel bytes, as SO_RCVBUF reads back) its video socket needs. */
int64_t mcu_site_limits_rcvbuf(const mcu_site_config_t *cfg);
/* The video jitter buffer's bounds for the site: the defaults (mcu/jitter.h), raised to
 * hold its burst plus the longest wait for a repair at its max_kbps. */
void mcu_site_limits_jitter(const mcu_site_config_t *cfg, mcu_jitter_config_t *jc);

/* Gives socket fd `need` bytes of receive buffer (the kernel doubles what it is asked for
 * and reads back the doubled value, which is what `need` is in). *got: what it has now.
 * MCU_OK, or MCU_ERR_NOSPACE when neither call got that much. */
int mcu_site_limits_set_rcvbuf(int fd, int64_t need, int *got);
/* The datagrams the kernel dropped on socket fd since it was opened. MCU_ERR_IO when the
 * kernel cannot say. */
int mcu_site_limits_kernel_drops(int fd, uint64_t *drops);

#endif
