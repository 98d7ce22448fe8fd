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
 * Codecs: a payload type that is not the stream's is dropped (MCU_ERR_PAYLOAD_TYPE) and
 * remembered with what it looks like (a static payload type's codec, or for video a guess
 * from the payload: codecs/codec.h); on the stream's own payload type, video payloads are
 * checked against the configured codec (MCU_RX_STREAM_CODEC_* above), so that H.265 or
 * VP8 sent where H.264 is configured is dropped as MCU_ERR_WRONG_CODEC instead of being
 * half-parsed, and draws no NACK and no keyframe request (mcu_rx_stream_problem says
 * what it is).
 *
 * Holes inside a frame are told to the depacketizer (mcu_depack_gap), which ends a unit
 * being reassembled at the hole, so that a damaged frame holds only data that decodes.
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

#include "codecs/codec.h"
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
/* Codec check (video): each packet that could be the configured codec scores 1, each that
 * could not loses MCU_RX_STREAM_CODEC_PENALTY, within +-MCU_RX_STREAM_CODEC_SCORE_MAX.
 * At MCU_RX_STREAM_CODEC_CONFIRM the stream is the configured codec: from then on its
 * losses are NACKed and its damage asks for keyframes, never before (a stream of another
 * codec must draw no feedback). At MCU_RX_STREAM_CODEC_WRONG it is another codec: its
 * packets are dropped (MCU_ERR_WRONG_CODEC) until CONFIRM packets in a row pass. 16
 * packets are a second of a small picture; 4 penalties more than plausible packets (a
 * third of a keyframe of another codec) are no accident of a genuine sender, whose
 * packets all pass. */
#define MCU_RX_STREAM_CODEC_CONFIRM 16
#define MCU_RX_STREAM_CODEC_PENALTY 8
#define MCU_RX_STREAM_CODEC_WRONG (-32)
#define MCU_RX_STREAM_CODEC_SCORE_MAX 64
/* A problem (another codec, a payload type not configured) is current while its packets
 * came within this long; a payload type not configured is one only while nothing else is
 * accepted (the site's tile says so instead of "no signal", as long as it would say that). */
#define MCU_RX_STREAM_PROBLEM_MS 2000

typedef struct mcu_rx_stream_config {
    const mcu_depack_ops_t *format;
    mcu_codec_t codec;          /* checked against each payload (video); NONE: no check */
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

typedef enum mcu_rx_problem_kind {
    MCU_RX_PROBLEM_NONE,
    MCU_RX_PROBLEM_WRONG_CODEC,  /* the configured payload type carries another codec */
    MCU_RX_PROBLEM_FOREIGN_PT,   /* only a payload type not configured arrives */
} mcu_rx_problem_kind_t;

typedef struct mcu_rx_problem {
    mcu_rx_problem_kind_t kind;
    mcu_codec_t codec;          /* what it looks like; MCU_CODEC_NONE: unknown */
    uint8_t pt;                 /* the payload type it came on */
} mcu_rx_problem_t;

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
/* What keeps the stream from being taken at now_us (kind NONE when nothing does). Comfort
 * noise and DTMF events on a payload type of their own are never a problem. */
void mcu_rx_stream_problem(const mcu_rx_stream_t *s, int64_t now_us, mcu_rx_problem_t *p);
/* The problem in words short enough for a tile ("unsupported codec: H.265", "VP8 sent,
 * H.264 expected", "Opus on PT 100, not configured", "PT 100 not configured"); "" for
 * none. `configured` is the stream's codec. */
void mcu_rx_problem_describe(const mcu_rx_problem_t *p, mcu_codec_t configured, char *buf,
                             size_t cap);
/* True once the stream has shown itself to be the configured codec (always for streams
 * without a codec check): feedback (NACK, keyframe requests) is sent only then. */
bool mcu_rx_stream_codec_confirmed(const mcu_rx_stream_t *s);

/* The SSRC of the RTX stream (0 and false when none is tracked). */
bool mcu_rx_stream_rtx_ssrc(const mcu_rx_stream_t *s, uint32_t *ssrc);

#endif
