/*
 * tx_stream: the send path of one outgoing RTP media stream (a profile's composite
 * H.264 video, or its shared Opus mix): each frame is packetized ONCE, every RTP packet
 * is kept in a bounded history, and the very same bytes are handed to every active
 * receiver through a callback. Receivers' feedback comes back here: NACKs are served
 * from the history (RFC 4585 plain retransmission: same SSRC, same sequence number, the
 * stored bytes; no RTX payload, which ffmpeg and GStreamer receivers would not
 * understand), receiver reports give per-receiver loss, jitter and round-trip time
 * (RFC 3550 6.4.1), and sender reports (SR + SDES CNAME) are built from the stream's
 * RTP/wall-clock mapping so that the video and audio SRs of one profile, built from one
 * NTP clock, let receivers lip-sync.
 *
 * No sockets here: the libuv loop owns I/O. It passes monotonic times (now_us) and,
 * for RTCP, the wall clock as NTP (mcu_ntp_from_unix_us in mcu/ntp.h).
 *
 * Ownership: the stream owns its history and receiver table (allocated at create and
 * on mcu_tx_stream_add_receiver, never per packet). A packet passed to the send
 * callbacks is a history slot: it is valid only during the call, must not be modified
 * (SRTP protects a copy per receiver) and is the same pointer for every receiver of
 * that packet. `cname` in the config is copied. The callback must not call back into
 * the same stream: mutating calls made from it return MCU_ERR_BUSY.
 */
#ifndef MCU_TX_STREAM_H
#define MCU_TX_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcu/error.h"
#include "mcu/ntp.h"
#include "mcu/rtcp.h"
#include "mcu/rtp.h"

/* Age of the oldest packet worth resending. A retransmission only helps while the
 * receiver's jitter buffer still waits for the packet: GStreamer's rtpjitterbuffer
 * defaults to 200 ms, ours caps at 400 ms (MCU_JITTER_DEFAULT_MAX_DELAY_MS). 1 s covers
 * those plus a few hundred ms of RTT and the receiver's NACK delay; an older packet
 * would arrive too late to be played. */
#define MCU_TX_HISTORY_MS 1000
/* Packets kept at most, whatever their age: 1 s of the fastest stream the config
 * allows (8 Mbit/s video in 1200-byte payloads is ~830 packets/s) with room for a
 * keyframe burst. Each slot holds a full datagram, so this is ~1.5 MiB per stream;
 * audio streams ask for fewer (config.history_packets). Below half the sequence space,
 * so a sequence number in the history is never ambiguous. */
#define MCU_TX_HISTORY_PACKETS 1024
/* Receivers of one stream, and the bound on receiver ids (0 .. MAX-1). The capacity
 * target is 500 receivers of one stream; 1024 is twice that, and 1024 copies of the
 * default ~1 Mbit/s main profile already fill a 1 Gbit/s NIC, so a larger table could
 * not be served anyway. */
#define MCU_TX_MAX_RECEIVERS 1024
/* Retransmissions to one receiver are limited to this share of the stream's bitrate
 * (measured as the bytes sent in the last MCU_TX_HISTORY_MS), refilled continuously
 * over MCU_TX_RTX_WINDOW_MS. 25% repairs a loss burst of a quarter of a second's
 * packets at once (FEC-free WebRTC senders budget similarly), while a NACK storm can
 * raise what that receiver's (low-bandwidth) link must carry by at most 1.25x. A
 * receiver asking again and again for one packet draws on the same budget, so no
 * per-sequence state is kept. */
#define MCU_TX_RTX_BUDGET_PERCENT 25
#define MCU_TX_RTX_WINDOW_MS 1000
/* Floor of that budget, in bytes per window: one full datagram, so a single lost
 * packet can always be repaired even on a stream too slow for 25% to cover it (audio
 * at 32 kbit/s: 25% is ~1000 B/s). */
#define MCU_TX_RTX_MIN_BUDGET MCU_RTP_MAX_DATAGRAM
/* Sender reports remembered for matching LSR. Receivers echo the last SR they got;
 * with one SR per second and RRs at least every 5 s (RFC 3550 6.2 minimum interval)
 * an echoed SR is at most ~5 old, and 8 survives a few lost RRs too. */
#define MCU_TX_SR_HISTORY 8
/* An RTT is rejected when longer than the time since its SR was sent (wall clock
 * stepped between SR and RR) by more than the rounding of LSR, DLSR and the arrival
 * time to 1/65536 s (3 x 15.3 us). */
#define MCU_TX_RTT_SLACK_US 50

/* Packets of one frame handed to a receiver in one send_many call at most: a 1 Mbit/s
 * 25 fps frame is ~5 packets, a keyframe a few dozen (sent in several calls); 16 keeps
 * the caller's per-call arrays (a protected copy of each packet) at ~24 KiB. */
#define MCU_TX_SEND_BATCH 16

/* Hands one RTP packet to the caller for `receiver_id`. 0 on success, negative when
 * the send failed (counted; the other receivers are still served). */
typedef int (*mcu_tx_send_fn)(void *opaque, int receiver_id, const uint8_t *pkt, size_t len);

typedef int (*mcu_tx_send_many_fn)(void *opaque, int receiver_id, const uint8_t *const *pkts,
                                   const size_t *lens, int n);

typedef struct mcu_tx_stream_config {
    uint32_t ssrc;              /* fixed, announced in SDP */
    uint8_t payload_type;       /* 0..127, not 64..95 (RFC 5761 4: clashes with RTCP) */
    uint32_t clock_rate;        /* Hz of the RTP timestamp (90000 video, 48000 Opus) */
    bool is_video;              /* H.264 access units; else one Opus packet per frame */
    size_t mtu;                 /* video payload budget; 0: MCU_H264_DEFAULT_MTU */
    size_t history_packets;     /* 0: MCU_TX_HISTORY_PACKETS; at most that */
    const char *cname;          /* SDES CNAME, 1..255 bytes; copied */
    uint16_t initial_seq;       /* random in production (RFC 3550 5.1) */
    uint32_t ts_offset;         /* added to every rtp_ts; random in production */
    mcu_tx_send_fn send;
    /* Optional: hands a frame's packets (1..MCU_TX_SEND_BATCH, in order) to one receiver
     * at once and returns how many went out (the rest count as send errors). When set it
     * is used for new frames; send still serves retransmissions. */
    mcu_tx_send_many_fn send_many;
    void *opaque;               /* passed to send and send_many */
} mcu_tx_stream_config_t;

typedef struct mcu_tx_receiver_stats {
    int id;
    bool active;
    uint64_t packets;           /* media packets handed to send (retransmissions excluded) */
    uint64_t octets;            /* their datagram bytes */
    uint64_t send_errors;       /* send callback failures, originals and retransmissions */
    uint64_t nacks;             /* sequence numbers this receiver asked for */
    uint64_t retransmitted;     /* ... resent */
    uint64_t rtx_octets;
    uint64_t rtx_not_found;     /* ... no longer (or never) in the history */
    uint64_t rtx_rate_limited;  /* ... refused by the retransmission budget */
    /* From its receiver reports (RFC 3550 6.4.1). */
    uint64_t reports;
    int64_t last_report_us;     /* -1: none yet */
    uint8_t fraction_lost;      /* lost/expected * 256 over the last interval */
    int32_t cumulative_lost;
    uint32_t ext_highest_seq;
    uint32_t jitter;            /* RTP timestamp units, as reported */
    int64_t jitter_us;          /* the same in microseconds */
    int64_t rtt_us;             /* last round-trip time; -1 until measured */
    uint64_t rtt_samples;
    uint64_t rtt_rejected;      /* LSR not an SR we remember, or an impossible result */
} mcu_tx_receiver_stats_t;

typedef struct mcu_tx_stream_stats {
    uint64_t frames;
    uint64_t packets;           /* original RTP packets (what the SR counts) */
    uint64_t octets;            /* their payload bytes (RFC 3550 6.4.1 sender's octet count) */
    uint64_t sends;             /* send callback calls for originals (packets x receivers) */
    uint64_t send_errors;
    uint64_t nack_seqs;         /* sequence numbers asked for, all receivers */
    uint64_t history_hits;      /* ... found in the history */
    uint64_t history_misses;    /* ... not found, or older than MCU_TX_HISTORY_MS */
    uint64_t retransmissions;   /* ... resent */
    uint64_t rtx_rate_limited;  /* ... found but refused by a receiver's budget */
    uint64_t history_evictions; /* packets dropped for the count bound (not by age) */
    uint64_t sender_reports;
    size_t history_packets;     /* packets in the history now */
    size_t history_bytes;       /* their datagram bytes */
    size_t receivers;           /* in the table, active or not */
} mcu_tx_stream_stats_t;

typedef struct mcu_tx_stream mcu_tx_stream_t;

/* MCU_ERR_INVAL for a missing callback, CNAME or clock rate, a payload type outside
 * 0..127 or in 64..95, an MTU outside MCU_H264_MIN_MTU..(datagram - RTP header), or
 * history_packets above MCU_TX_HISTORY_PACKETS. */
int mcu_tx_stream_create(const mcu_tx_stream_config_t *cfg, mcu_tx_stream_t **out);
/* Frees the stream and sets *tx = NULL; NULL-safe. */
void mcu_tx_stream_destroy(mcu_tx_stream_t **tx);

/* Sends one frame taken at media time `rtp_ts` (clock_rate units; ts_offset is added)
 * at monotonic time now_us: video an Annex-B access unit, audio one Opus packet.
 * Returns the number of RTP packets made (>= 1) or a negative code: MCU_ERR_INVAL (no
 * NAL unit, empty), MCU_ERR_MALFORMED (not an Opus packet), MCU_ERR_TOO_BIG (Opus
 * packet larger than a datagram), MCU_ERR_BUSY. A failed frame consumes no sequence
 * number. Send failures do not fail the frame; they are counted per receiver. */
int mcu_tx_stream_send_frame(mcu_tx_stream_t *tx, const uint8_t *data, size_t len,
                             uint32_t rtp_ts, int64_t now_us);

/* Receivers: ids 0 .. MCU_TX_MAX_RECEIVERS-1 chosen by the caller. A new receiver is
 * active: the send callback, which knows whether the receiver has an address (and SRTP
 * keys) yet, is where a packet with nowhere to go is refused. An inactive receiver
 * (paused, or being torn down) gets no packets and no retransmissions. MCU_ERR_INVAL (id
 * out of range), MCU_ERR_DUPLICATE, MCU_ERR_NOTFOUND, MCU_ERR_NOMEM, MCU_ERR_BUSY. */
int mcu_tx_stream_add_receiver(mcu_tx_stream_t *tx, int receiver_id);
int mcu_tx_stream_remove_receiver(mcu_tx_stream_t *tx, int receiver_id);
int mcu_tx_stream_set_active(mcu_tx_stream_t *tx, int receiver_id, bool active);

/* Serves a NACK (sequence numbers, e.g. from mcu_rtcp_nack_expand) for one receiver:
 * each packet still in the history and younger than MCU_TX_HISTORY_MS is resent to
 * that receiver only, byte-identical, while its retransmission budget lasts
 * (MCU_TX_RTX_BUDGET_PERCENT). Returns the number resent, or MCU_ERR_NOTFOUND (unknown
 * receiver), MCU_ERR_STATE (inactive receiver: nothing is sent), MCU_ERR_INVAL,
 * MCU_ERR_BUSY. */
int mcu_tx_stream_on_nack(mcu_tx_stream_t *tx, int receiver_id, const uint16_t *seqs,
                          size_t n, int64_t now_us);

/* Builds a compound SR (no report blocks) + SDES CNAME into out[0..cap). The SR's RTP
 * timestamp is the last frame's, extrapolated to now_us at clock_rate, so it stands for
 * the same instant as ntp_now. Returns the length, or 0 when nothing was written:
 * before the first frame (not yet a sender, RFC 3550 6.4) or when cap is too small.
 * Each SR built is remembered for matching the LSR of receiver reports. */
size_t mcu_tx_stream_build_sr(mcu_tx_stream_t *tx, int64_t now_us, uint64_t ntp_now,
                              uint8_t *out, size_t cap);

/* Records one report block a receiver sent about this stream, received at now_us /
 * ntp_now (the wall clock as NTP). The RTT is A - LSR - DLSR (RFC 3550 6.4.1) when LSR
 * matches one of the last MCU_TX_SR_HISTORY SRs and the result is plausible. MCU_OK, or
 * MCU_ERR_NOTFOUND (unknown receiver), MCU_ERR_SSRC (block about another source),
 * MCU_ERR_INVAL. */
int mcu_tx_stream_on_rr(mcu_tx_stream_t *tx, int receiver_id, const mcu_rtcp_report_block_t *rb,
                        int64_t now_us, uint64_t ntp_now);

/* Statistics of one receiver copied to *out: MCU_OK or MCU_ERR_NOTFOUND. */
int mcu_tx_stream_receiver_stats(const mcu_tx_stream_t *tx, int receiver_id,
                                 mcu_tx_receiver_stats_t *out);
/* Stream statistics: points into the stream, kept current by every call on it. */
const mcu_tx_stream_stats_t *mcu_tx_stream_stats(const mcu_tx_stream_t *tx);

#endif
