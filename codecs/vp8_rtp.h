/*
 * vp8_rtp: VP8 over RTP (RFC 7741), the depacketizer (browsers' default video codec).
 *
 * Each packet is a payload descriptor (RFC 7741 4.2: X R N S R PID, then the optional
 * PictureID, TL0PICIDX and TID/KEYIDX fields) followed by a piece of the VP8 frame. The
 * pieces of one frame (one RTP timestamp, the marker on its last packet) are joined in
 * sequence order into the frame as libvpx wrote it; partitions need no special handling
 * since they are contiguous in the frame. A frame starts with a packet whose S bit is set
 * and whose partition index is 0; it is a keyframe when the inverse key-frame bit of the
 * VP8 frame header (RFC 6386 9.1) is 0.
 *
 * A malformed descriptor (its optional fields past the end of the packet) or a frame
 * larger than MCU_VP8_MAX_FRAME is rejected; a frame whose first packet is not a start is
 * handed out marked corrupt.
 */
#ifndef MCU_VP8_RTP_H
#define MCU_VP8_RTP_H

#include "codecs/depack.h"

/* Largest frame assembled: a 1080p VP8 keyframe at high quality stays well below it. */
#define MCU_VP8_MAX_FRAME (2u << 20)

extern const mcu_depack_ops_t mcu_vp8_depack_ops;

#endif
