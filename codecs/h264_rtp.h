/*
 * h264_rtp: H.264 over RTP (RFC 6184), packetization modes 0 and 1.
 *
 * Depacketizer (mcu_h264_depack_ops, see depack.h): single NAL units, STAP-A and FU-A
 * become an Annex-B access unit with 4-byte start codes. Interleaved-mode packets
 * (STAP-B, MTAP, FU-B) and reserved types are rejected.
 *
 * Packetizer: an Annex-B access unit becomes RTP payloads no larger than the MTU:
 * runs of small NAL units (SPS + PPS first of all) aggregated into STAP-A, NAL units
 * larger than the MTU split into FU-A, the marker on the last payload.
 */
#ifndef MCU_H264_RTP_H
#define MCU_H264_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codecs/depack.h"

#define MCU_H264_CLOCK_RATE 90000
/* Default payload budget per packet: leaves room for IP/UDP/RTP/SRTP headers and a
 * tunnel on a 1500-byte path. */
#define MCU_H264_DEFAULT_MTU 1200
/* Smallest payload budget that still lets an FU-A carry data. */
#define MCU_H264_MIN_MTU 16
/* Largest NAL unit accepted: a 1080p intra slice at broadcast quality stays below it;
 * anything larger on a conference link is broken or hostile. */
#define MCU_H264_MAX_NAL (1u << 20)
/* Largest access unit assembled (several NAL units of up to MCU_H264_MAX_NAL). */
#define MCU_H264_MAX_AU (2u << 20)

/* NAL unit types used here (H.264 table 7-1, RFC 6184 table 1). */
#define MCU_H264_NAL_SLICE 1
#define MCU_H264_NAL_IDR 5
#define MCU_H264_NAL_SEI 6
#define MCU_H264_NAL_SPS 7
#define MCU_H264_NAL_PPS 8
#define MCU_H264_NAL_AUD 9
#define MCU_H264_NAL_STAP_A 24
#define MCU_H264_NAL_FU_A 28

extern const mcu_depack_ops_t mcu_h264_depack_ops;

/* Receives one payload. `payload` is valid only during the call. A negative return
 * stops the packetizer and is passed through. */
typedef int (*mcu_h264_emit_fn)(void *opaque, const uint8_t *payload, size_t len, bool marker);

/* Packetizes one Annex-B access unit (3- or 4-byte start codes). Returns the number of
 * payloads emitted or a negative code (MCU_ERR_INVAL for an MTU below MCU_H264_MIN_MTU or
 * an access unit with no NAL unit). */
int mcu_h264_packetize(const uint8_t *au, size_t len, size_t mtu, mcu_h264_emit_fn emit,
                       void *opaque);

/* Iterates the NAL units of an Annex-B buffer: returns 1 and sets *nal and *nal_len (start
 * code and trailing zero bytes excluded), 0 at the end. *pos starts at 0. */
int mcu_h264_next_nal(const uint8_t *buf, size_t len, size_t *pos, const uint8_t **nal,
                      size_t *nal_len);

#endif
