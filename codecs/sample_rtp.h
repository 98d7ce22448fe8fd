/*
 * sample_rtp: the sample-based audio encodings of RFC 3551 (4.3, 4.5) that room systems
 * and phones send: PCMU and PCMA (G.711, 8 kHz, one byte per sample) and G.722 (16 kHz
 * ADPCM, one byte per two samples, on an 8000 Hz RTP clock: RFC 3551 4.5.2). One packet is
 * one frame, its duration in RTP clock units equal to its length in bytes for all three.
 *
 * A packet is accepted when it holds at least one sample and at most
 * MCU_SAMPLE_RTP_MAX_MS of audio.
 */
#ifndef MCU_SAMPLE_RTP_H
#define MCU_SAMPLE_RTP_H

#include "codecs/depack.h"

/* Longest packet accepted, in ms: RFC 3551 4.2 says a receiver should accept up to 200 ms
 * (ffmpeg's RTP muxer sends 128 ms of G.711 unless told otherwise). */
#define MCU_SAMPLE_RTP_MAX_MS 200
/* The RTP clock of all three (RFC 3551 4.5). */
#define MCU_SAMPLE_RTP_CLOCK 8000

extern const mcu_depack_ops_t mcu_pcmu_depack_ops;
extern const mcu_depack_ops_t mcu_pcma_depack_ops;
extern const mcu_depack_ops_t mcu_g722_depack_ops;

#endif
