/*
 * opus_rtp: Opus over RTP (RFC 7587): one Opus packet per RTP payload, timestamps at
 * 48 kHz whatever the coded bandwidth. Every packet is checked against RFC 6716
 * section 3.4 (with libopus's own parser) before it is passed on.
 */
#ifndef MCU_OPUS_RTP_H
#define MCU_OPUS_RTP_H

#include <stddef.h>
#include <stdint.h>

#include "codecs/depack.h"

#define MCU_OPUS_CLOCK_RATE 48000
/* RFC 6716 3.2.5: a packet holds at most 120 ms of audio. */
#define MCU_OPUS_MAX_PACKET_SAMPLES (MCU_OPUS_CLOCK_RATE * 120 / 1000)

extern const mcu_depack_ops_t mcu_opus_depack_ops;

/* Checks one Opus packet; on success returns the number of frames it holds and sets
 * *samples (48 kHz) when non-NULL. MCU_ERR_EMPTY, MCU_ERR_MALFORMED otherwise. */
int mcu_opus_packet_check(const uint8_t *p, size_t len, uint32_t *samples);

#endif
