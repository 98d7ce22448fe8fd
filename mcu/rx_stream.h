/*
 * rx_stream: the receive path of one RTP media stream of a site:
 *   datagram -> RTP parse -> payload type / SSRC checks -> RFC 3550 source statistics
 *   -> jitter buffer -> depacketizer -> frames in the codec's own framing.
 * Every datagram that is dropped is counted by reason (mcu_drop_stats_t); a malformed
 * payload found while depacketizing is counted the same way and marks its frame
 * corrupt. Nothing here blocks or allocates per packet.
 *
 * Loss repair (video): with `nack` on, every sequence number noticed missing is awaited by
 * a NACK generator (mcu/nack_gen) whose due requests the site sends as RTCP NACK; the
 * jitter buffer then waits at least MCU_RX_STREAM_NACK_WAIT_MS for a hole before giving
 * up on it. Retransmissions come either as the original packet again (same SSRC and
 * sequence number) or, with rtx_payload_type set, as RFC 4588 RTX packets on their own
 * SSRC: the original sequence number is the payload's first two bytes. One RTX SSRC is
 * tracked; another may replace it only after MCU_RX_STREAM_RTX_QUIET_MS of silence.
 *
 * SSRC changes (a restarted endpoint): a new SSRC takes over once it has passed RFC
 * 3550 probation (MCU_RTP_MIN_SEQUENTIAL packets in sequence); its packets are counted
 * as MCU_ERR_SSRC drops until then, and the old SSRC's afterwards. A takeover or a
 * sequence restart resets the jitter buffer and depacketizer and asks for a keyframe.
 *
 * Padding: a packet with no payload (the P bit and nothing else: libwebrtc's bandwidth
 * probes on the media SSRC, or on the RTX SSRC when RTX is negotiated) is received like
 * any other: it advances sequence tracking and the statistics, is never NACKed and never
 * makes a frame look incomplete (a filler in the jitter buffer).
 *
 * Ownership: the stream owns its jitter buffer and depacketizer; a polled frame's data
 * belongs to the stream and stays valid until the next call on it.
 */
#ifndef MCU_RX_STREAM_H
#define MCU_RX_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codecs/depack.h"
#include "mcu/error.h"
#include "mcu/jitter.h"
#include "mcu/nack_gen.h"
#include "mcu/rtp_stats.h"

/* With NACK, a hole is waited for at least this long: a first NACK, its retransmission
 * and two retries at MCU_NACK_MIN_RETRY_MS spacing on a short path. Only frames behind a
 * hole wait; complete frames still leave at once. */
#define MCU_RX_STREAM_NACK_WAIT_MS 80
/* An RTX SSRC silent this long may be replaced by another (the sender restarted). */
#define MCU_RX_STREAM_RTX_QUIET_MS 2000

typedef struct mcu_rx_stream_config {
    const mcu_depack_ops_t *format;
    uint8_t payload_type;
    uint8_t rtx_payload_type;   /* RFC 4588 retransmissions of this stream; 0: none */
    bool nack;                  /* request missing packets (mcu_rx_stream_nacks) */
    /* Jitter buffer settings; a zero clock_rate means the format's defaults. */
    mcu_jitter_config_t jitter;
} mcu_rx_stream_config_t;

typedef struct mcu_rx_stream_counters {
    uint64_t datagrams;         /* everything offered */
    uint64_t bytes;
    uint64_t packets;           /* accepted into the jitter buffer */
    mcu_drop_stats_t drops;     /* datagrams and payloads rejected, by reason */
    uint64_t frames;
    uint64_t frames_corrupt;
    uint64_t keyframes;
    uint64_t ssrc_changes;
    uint64_t restarts;          /* sequence restarts and jitter-buffer overflows */
    uint64_t rtx_packets;       /* RFC 4588 retransmissions accepted */
    uint64_t padding;           /* packets without payload (padding), media and RTX */
} mcu_rx_stream_counters_t;

typedef struct mcu_rx_frame {
    mcu_depack_frame_t media;   /* data owned by the stream */
    uint32_t ssrc;
    uint32_t timestamp;
    int64_t arrival_us;         /* arrival of the frame's last packet */
    uint32_t lost_before;       /* packets given up just before this frame */
    bool keyframe_needed;       /* the stream lost its reference: ask the sender */
} mcu_rx_frame_t;

typedef struct mcu_rx_stream mcu_rx_stream_t;

int mcu_rx_stream_create(const mcu_rx_stream_config_t *cfg, mcu_rx_stream_t **out);
void mcu_rx_stream_destroy(mcu_rx_stream_t **s);

/* Offers one datagram. MCU_OK when accepted, else the (counted) reason it was dropped. */
int mcu_rx_stream_input(mcu_rx_stream_t *s, const uint8_t *buf, size_t len, int64_t now_us);

/* Next frame due at now_us: MCU_OK and *frame filled, or MCU_ERR_AGAIN. */
int mcu_rx_stream_poll(mcu_rx_stream_t *s, int64_t now_us, mcu_rx_frame_t *frame);

/* When polling could next yield a frame without more input (INT64_MAX: never). */
int64_t mcu_rx_stream_next_deadline(const mcu_rx_stream_t *s);

const mcu_rx_stream_counters_t *mcu_rx_stream_counters(const mcu_rx_stream_t *s);
/* Source statistics of the current SSRC; NULL before one is latched. */
const mcu_rtp_stats_t *mcu_rx_stream_source(const mcu_rx_stream_t *s);
const mcu_jitter_t *mcu_rx_stream_jitter(const mcu_rx_stream_t *s);

/* Sequence numbers to NACK now (first requests and due retries), at most max; marks them
 * requested. 0 when nack is off or nothing is due. */
size_t mcu_rx_stream_nacks(mcu_rx_stream_t *s, int64_t now_us, uint16_t *seqs, size_t max);
/* When mcu_rx_stream_nacks could next return something (INT64_MAX: never). */
int64_t mcu_rx_stream_nack_due(const mcu_rx_stream_t *s);
const mcu_nack_stats_t *mcu_rx_stream_nack_stats(const mcu_rx_stream_t *s);
/* The SSRC of the RTX stream (0 and false when none is tracked). */
bool mcu_rx_stream_rtx_ssrc(const mcu_rx_stream_t *s, uint32_t *ssrc);

#endif
