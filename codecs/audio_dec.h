/*
 * audio_dec: one site's audio decoder, whatever the codec it sends, to the mixer's
 * format: 48 kHz mono 16-bit PCM.
 *
 *   Opus         libopus (codecs/opus_codec): its own PLC, and in-band FEC.
 *   G.722        libavcodec's adpcm_g722 (16 kHz), then libswresample to 48 kHz.
 *   PCMU, PCMA   libavcodec's pcm_mulaw / pcm_alaw (8 kHz), then libswresample.
 *
 * The resampler keeps its filter state from packet to packet, so a stream of 20 ms
 * packets comes out as one continuous signal (its filter delay, under 1 ms, once at the
 * start). A lost G.711/G.722 packet is concealed by repeating the last 20 ms decoded,
 * attenuated by MCU_AUDIO_DEC_CONCEAL_GAIN per repetition (neither codec defines a PLC of
 * its own; the conference conceals at most a few packets per gap, then it is silence).
 *
 * Threads: a decoder is used by one thread at a time (the conference's audio worker).
 * Ownership: packets and PCM buffers belong to the caller; nothing is kept.
 */
#ifndef MCU_AUDIO_DEC_H
#define MCU_AUDIO_DEC_H

#include <stddef.h>
#include <stdint.h>

#include "codecs/codec.h"
#include "codecs/sample_rtp.h"

/* The output rate: the mixer's (Opus's native rate). */
#define MCU_AUDIO_DEC_RATE 48000
/* Samples one packet decodes to at most: the longest packet any codec here carries
 * (Opus 120 ms, RFC 6716; the others MCU_SAMPLE_RTP_MAX_MS, 200), at 48 kHz. */
#define MCU_AUDIO_DEC_MAX_SAMPLES (MCU_AUDIO_DEC_RATE * MCU_SAMPLE_RTP_MAX_MS / 1000)
/* Each repetition of the last frame for a lost G.711/G.722 packet is this much quieter
 * than the one before (-6 dB): a short gap is bridged, a long one fades out. */
#define MCU_AUDIO_DEC_CONCEAL_GAIN 0.5f

typedef struct mcu_audio_dec mcu_audio_dec_t;

/* Creates a decoder for opus, G722, PCMU or PCMA. MCU_ERR_UNSUPPORTED for any other
 * codec (or one libavcodec lacks), MCU_ERR_NOMEM, MCU_ERR_CODEC. */
int mcu_audio_dec_create(mcu_codec_t codec, mcu_audio_dec_t **out);
/* Frees it and sets *d = NULL; NULL-safe. */
void mcu_audio_dec_destroy(mcu_audio_dec_t **d);

/* Decodes one packet (a depacketized frame) into pcm, room for `cap` samples. Returns
 * the samples written (48 kHz), or a negative code: MCU_ERR_EMPTY, MCU_ERR_MALFORMED,
 * MCU_ERR_NOSPACE (cap below the packet's duration; MCU_AUDIO_DEC_MAX_SAMPLES always
 * suffices), MCU_ERR_CODEC. */
int mcu_audio_dec_decode(mcu_audio_dec_t *d, const uint8_t *pkt, size_t len, int16_t *pcm,
                         size_t cap);

/* Conceals `samples` lost samples at 48 kHz (a multiple of 120, at most
 * MCU_AUDIO_DEC_MAX_SAMPLES): writes and returns them, or a negative code as above. */
int mcu_audio_dec_conceal(mcu_audio_dec_t *d, size_t samples, int16_t *pcm, size_t cap);

mcu_codec_t mcu_audio_dec_codec(const mcu_audio_dec_t *d);

#endif
