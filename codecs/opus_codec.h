/*
 * opus_codec: the Opus edge of the audio path over libopus: one decoder per site, and
 * the encoders of the mixed audio (one for the shared mix, one per top talker's
 * mix-minus). 48 kHz mono, 16-bit PCM.
 *
 * Decoder: mcu_opus_dec_decode turns one packet into however many samples it holds
 * (120 for 2.5 ms ... 5760 for 120 ms; 960 for the usual 20 ms). A sender may use any
 * ptime, so the caller (the mixer's per-site FIFO) takes whatever comes out and re-cuts
 * it into 20 ms ticks. For a packet the jitter buffer gave up on:
 *   - mcu_opus_dec_conceal: packet loss concealment (libopus PLC, opus_decode with no
 *     data) for a gap of the given duration;
 *   - mcu_opus_dec_decode_fec: when the packet AFTER the gap is already here, recovers
 *     the lost 20 ms from that packet's in-band FEC (SILK LBRR) instead. Optional: the
 *     caller uses it only if the next packet is at hand when the lost one is due, then
 *     decodes that next packet normally in its turn. A packet without FEC data (CELT
 *     mode, or a sender with FEC off) makes libopus fall back to PLC on its own.
 *
 * Encoder: OPUS_APPLICATION_VOIP, speech signal hint, constrained VBR at the configured
 * bitrate, DTX off (receivers get a packet every 20 ms: simple low-end decoders and
 * our own statistics never mistake silence for loss), in-band FEC on with an expected
 * loss percentage the caller updates from its receivers' RTCP reports. Input is always
 * one 20 ms frame (MCU_OPUS_FRAME_SAMPLES), the mixer's tick.
 *
 * Errors: libopus codes are converted here (OPUS_ALLOC_FAIL -> MCU_ERR_NOMEM,
 * OPUS_BUFFER_TOO_SMALL -> MCU_ERR_NOSPACE, OPUS_INVALID_PACKET -> MCU_ERR_MALFORMED,
 * anything else -> MCU_ERR_CODEC).
 *
 * Threads: a decoder or encoder is used by one thread at a time. No global state.
 *
 * OWNERSHIP: the caller owns every buffer passed in (packets, PCM) before and after a
 * call; nothing is kept. The decoder and encoder objects belong to the caller of
 * _create until _destroy.
 */
#ifndef MCU_OPUS_CODEC_H
#define MCU_OPUS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "codecs/opus_rtp.h"

/* One tick of audio: 20 ms at 48 kHz. The conference mixes and encodes in 20 ms
 * frames: the Opus default ptime, the best trade between packet overhead (40 bytes of
 * IP/UDP/RTP per packet) and latency. The mixer's tick is defined from it. */
#define MCU_OPUS_FRAME_MS 20
#define MCU_OPUS_FRAME_SAMPLES (MCU_OPUS_CLOCK_RATE * MCU_OPUS_FRAME_MS / 1000)
/* PLC and FEC durations come in multiples of the shortest Opus frame, 2.5 ms. */
#define MCU_OPUS_MIN_FRAME_SAMPLES (MCU_OPUS_CLOCK_RATE / 400)
/* Largest packet the encoder writes: one 20 ms frame is a TOC byte plus at most 1275
 * bytes (RFC 6716 3.2.1), so a buffer this size never truncates even at 510 kbps; at
 * the 32 kbps default a packet is ~80 bytes. It fits one datagram with RTP and SRTP. */
#define MCU_OPUS_MAX_PACKET_BYTES 1276

/* Default bitrate: the profile default (config "audio_kbps" 32). It keeps libopus in
 * fullband hybrid mode with FEC on (below), at ~80-byte packets a commune link carries
 * easily next to its video; the FEC takes a few kbps of it. */
#define MCU_OPUS_ENC_DEFAULT_BITRATE 32000
/* Encoder complexity 0..10. Measured with libopus 1.3.1 on the 2-core box (32 kbps
 * speech, FEC on): 5 -> ~107 us per 20 ms frame, 8 -> ~200 us, 10 -> ~270 us. The mixer
 * encodes 1 + talkers (up to 4) frames per tick, so 5 costs ~0.4 ms per 20 ms (2% of a
 * core) where 10 would cost ~1.1 ms (5%), on cores that must also decode every site's
 * H.264 and run the x264 encode. 5 is also what WebRTC picks where CPU is scarce (its
 * mobile default; 9 on desktops). A box with cores to spare can raise the config. */
#define MCU_OPUS_ENC_DEFAULT_COMPLEXITY 5
/* Expected packet loss until receivers report: commune links over rural DSL/3G lose a
 * few percent. At 32 kbps, 5% turns SILK's LBRR (the in-band FEC) on while keeping the
 * fullband hybrid mode (measured: TOC config 15 at 0% and 5%; at 16 kbps the same 5%
 * drops libopus to wideband SILK). LBRR rides only on frames SILK's VAD calls active
 * speech, which is where it matters. Feed RTCP fraction-lost through the setter. */
#define MCU_OPUS_ENC_DEFAULT_LOSS_PCT 5
/* libopus's accepted bitrate range (OPUS_SET_BITRATE). */
#define MCU_OPUS_ENC_MIN_BITRATE 6000
#define MCU_OPUS_ENC_MAX_BITRATE 510000

/* ---- decoder ---- */

typedef struct mcu_opus_dec_stats {
    uint64_t packets;       /* packets decoded */
    uint64_t samples;       /* samples out, decoded + concealed + recovered */
    uint64_t concealed;     /* PLC calls */
    uint64_t fec;           /* FEC recoveries attempted */
    uint64_t errors;        /* packets libopus refused */
} mcu_opus_dec_stats_t;

typedef struct mcu_opus_dec mcu_opus_dec_t;

/* Creates a 48 kHz mono decoder. MCU_ERR_NOMEM, MCU_ERR_CODEC. */
int mcu_opus_dec_create(mcu_opus_dec_t **out);
/* Frees it and sets *d = NULL; NULL-safe. */
void mcu_opus_dec_destroy(mcu_opus_dec_t **d);

/* Decodes one packet into pcm (room for `cap` samples). Returns the number of samples
 * written (the packet's duration: 960 for 20 ms, 1920 for 40, 2880 for 60 ...), or
 * MCU_ERR_EMPTY (no data: use mcu_opus_dec_conceal), MCU_ERR_TOO_BIG, MCU_ERR_INVAL
 * (no decoder or pcm, cap 0), MCU_ERR_NOSPACE (cap below the packet's duration),
 * MCU_ERR_MALFORMED. A cap of MCU_OPUS_MAX_PACKET_SAMPLES always suffices. */
int mcu_opus_dec_decode(mcu_opus_dec_t *d, const uint8_t *pkt, size_t len,
                        int16_t *pcm, size_t cap);

/* Conceals `samples` lost samples (a multiple of MCU_OPUS_MIN_FRAME_SAMPLES, at most
 * MCU_OPUS_MAX_PACKET_SAMPLES): writes them and returns `samples`. MCU_ERR_INVAL for
 * a bad duration, MCU_ERR_NOSPACE when it exceeds cap. */
int mcu_opus_dec_conceal(mcu_opus_dec_t *d, size_t samples, int16_t *pcm, size_t cap);

/* Recovers `samples` lost samples (as for conceal; use the lost packet's duration,
 * normally MCU_OPUS_FRAME_SAMPLES) from the FEC data of `next`, the packet that follows
 * the loss. `next` is not consumed: decode it afterwards with mcu_opus_dec_decode.
 * Returns `samples` or a negative code as mcu_opus_dec_decode. */
int mcu_opus_dec_decode_fec(mcu_opus_dec_t *d, const uint8_t *next, size_t len,
                            size_t samples, int16_t *pcm, size_t cap);

/* Forgets the stream (a new SSRC, a site that rejoins). */
void mcu_opus_dec_reset(mcu_opus_dec_t *d);

const mcu_opus_dec_stats_t *mcu_opus_dec_stats(const mcu_opus_dec_t *d);

/* ---- encoder ---- */

typedef struct mcu_opus_enc_config {
    int bitrate_bps;        /* MCU_OPUS_ENC_MIN_BITRATE .. MCU_OPUS_ENC_MAX_BITRATE */
    int complexity;         /* 0..10 */
    int packet_loss_pct;    /* 0..100: expected loss, tunes the FEC */
} mcu_opus_enc_config_t;

/* Fills the defaults above. */
void mcu_opus_enc_config_default(mcu_opus_enc_config_t *cfg);

typedef struct mcu_opus_enc mcu_opus_enc_t;

/* Creates an encoder; `cfg` may be NULL for the defaults. MCU_ERR_CONFIG for a value
 * out of range, MCU_ERR_NOMEM, MCU_ERR_CODEC. */
int mcu_opus_enc_create(const mcu_opus_enc_config_t *cfg, mcu_opus_enc_t **out);
/* Frees it and sets *e = NULL; NULL-safe. */
void mcu_opus_enc_destroy(mcu_opus_enc_t **e);

/* Encodes one 20 ms frame (MCU_OPUS_FRAME_SAMPLES samples) into pkt (room for `cap`
 * bytes; MCU_OPUS_MAX_PACKET_BYTES always suffices, a smaller cap makes libopus code
 * to fit it). Returns the packet length, or MCU_ERR_INVAL, MCU_ERR_NOSPACE (cap too
 * small for any packet), MCU_ERR_CODEC. */
int mcu_opus_enc_encode(mcu_opus_enc_t *e, const int16_t *pcm, uint8_t *pkt, size_t cap);

/* Changes the bitrate (a profile's bitrate policy). MCU_ERR_INVAL out of range. */
int mcu_opus_enc_set_bitrate(mcu_opus_enc_t *e, int bitrate_bps);
/* Sets the expected loss, 0..100 (for the shared mix: the worst of its receivers, as
 * the caller's policy decides). MCU_ERR_INVAL out of range. */
int mcu_opus_enc_set_packet_loss(mcu_opus_enc_t *e, int pct);

/* Starts a new stream (a mix-minus slot handed to another talker). */
void mcu_opus_enc_reset(mcu_opus_enc_t *e);

#endif
