/*
 * jitter: the per-stream jitter buffer.
 *
 * It takes RTP packets in arrival order and hands out frames in timestamp order:
 * reorders, drops duplicates and packets that arrive after their frame left, unwraps
 * 16-bit sequence numbers and 32-bit timestamps, and holds a hard bound on packets and
 * bytes (on overflow it flushes everything and reports that a keyframe is needed).
 *
 * Frames leave in one of two ways:
 *   MCU_JITTER_ASAP   (video) a complete frame leaves as soon as every packet before it
 *                     is accounted for; a missing packet is waited for up to the target
 *                     delay after it was noticed missing, then given up (reported).
 *   MCU_JITTER_PACED  (audio) each frame leaves at its playout time, arrival baseline +
 *                     RTP timestamp + target delay, so a consumer pulling every ptime
 *                     gets a steady stream despite jitter.
 * The target delay adapts to the lateness measured over the last few seconds (packets'
 * transit time above the fastest one seen), clamped to the configured bounds and never
 * below 1.5 round-trip times when the caller reports an RTT (a NACK retransmission
 * needs that long).
 *
 * Ownership: the buffer copies packet payloads into its own fixed slab at push time; a
 * popped frame's packets stay valid until the next call on the buffer.
 */
#ifndef MCU_JITTER_H
#define MCU_JITTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Hard ceiling on the packet bound: the keyframe burst of the largest picture a site may
 * send (2 x 1080p, ~1400 packets; mcu/site.h) with room for what arrives behind it. */
#define MCU_JITTER_MAX_PACKETS 2048
/* Default packet bound for video: 2 s at 2.5 Mbps in 1200-byte packets. */
#define MCU_JITTER_DEFAULT_VIDEO_PACKETS 512
/* Default packet bound for audio: 1.28 s of 20 ms packets. */
#define MCU_JITTER_DEFAULT_AUDIO_PACKETS 64
/* Default byte bound: a 720p keyframe burst several times over. */
#define MCU_JITTER_DEFAULT_MAX_BYTES (1u << 20)
/* Default target-delay bounds. 10 ms absorbs scheduler noise on loopback; 400 ms is the
 * most a conversation tolerates before people talk over each other. */
#define MCU_JITTER_DEFAULT_MIN_DELAY_MS 10
#define MCU_JITTER_DEFAULT_MAX_DELAY_MS 400
/* Lateness is the maximum over a window this long and the one before it. */
#define MCU_JITTER_WINDOW_US 2000000
/* Added to the measured lateness: one scheduling quantum of slack. */
#define MCU_JITTER_MARGIN_US 5000
/* A transit jump larger than this (a paused or restarted sender) resets the baseline. */
#define MCU_JITTER_RESET_TRANSIT_US 10000000

typedef enum mcu_jitter_mode { MCU_JITTER_ASAP, MCU_JITTER_PACED } mcu_jitter_mode_t;

typedef struct mcu_jitter_config {
    uint32_t clock_rate;        /* RTP timestamp rate, Hz */
    mcu_jitter_mode_t mode;
    bool frame_per_packet;      /* every packet is a frame (audio) */
    /* True when a payload certainly begins a frame; NULL if the format cannot tell. */
    bool (*is_frame_start)(const uint8_t *payload, size_t len);
    uint32_t max_packets;       /* 1..MCU_JITTER_MAX_PACKETS */
    size_t max_bytes;           /* payload bytes held at most */
    uint32_t min_delay_ms;
    uint32_t max_delay_ms;
} mcu_jitter_config_t;

/* Fills defaults for video (ASAP) or audio (PACED, one frame per packet). */
void mcu_jitter_config_video(mcu_jitter_config_t *cfg, uint32_t clock_rate);
void mcu_jitter_config_audio(mcu_jitter_config_t *cfg, uint32_t clock_rate);

typedef struct mcu_jitter_frame {
    uint32_t timestamp;
    uint16_t first_seq;
    size_t n_packets;
    bool complete;          /* every packet of the frame is here, start and end known */
    uint32_t lost_before;   /* sequence numbers given up as lost just before this frame */
    bool keyframe_needed;   /* the buffer was flushed since the previous frame */
    int64_t arrival_us;     /* arrival of the frame's last packet to arrive */
} mcu_jitter_frame_t;

typedef struct mcu_jitter_stats {
    uint64_t packets_in;
    uint64_t duplicates;
    uint64_t late;
    uint64_t overflows;
    uint64_t lost;          /* sequence numbers given up */
    uint64_t frames_out;
    uint64_t frames_incomplete;
    uint64_t fillers;       /* packets without payload (padding), stepped over */
    uint32_t packets_held;
    size_t bytes_held;
    int64_t target_delay_us;
    int64_t lateness_us;    /* the windowed maximum the target follows */
} mcu_jitter_stats_t;

typedef struct mcu_jitter mcu_jitter_t;

/* Creates a buffer; MCU_ERR_INVAL for a config outside its bounds. *out owned by caller. */
int mcu_jitter_create(const mcu_jitter_config_t *cfg, mcu_jitter_t **out);
void mcu_jitter_destroy(mcu_jitter_t **jb);

/* Adds a packet (payload copied). A packet with no payload (len 0: RTP padding only, as
 * libwebrtc sends for bandwidth probing) is a FILLER: it accounts for its sequence number,
 * so nothing is missing, but belongs to no frame and never moves the delay estimate (its
 * timestamp is that of an earlier frame). MCU_OK; MCU_ERR_DUPLICATE or MCU_ERR_LATE (dropped);
 * MCU_ERR_TOO_BIG (payload over the datagram bound, dropped); MCU_ERR_OVERFLOW (the
 * buffer was flushed and restarted from this packet: ask for a keyframe). */
int mcu_jitter_push(mcu_jitter_t *jb, uint16_t seq, uint32_t timestamp, bool marker,
                    const uint8_t *payload, size_t len, int64_t arrival_us);

/* Hands out the next frame if one is due at `now_us`: MCU_OK and *frame filled, or
 * MCU_ERR_AGAIN. Read its packets with mcu_jitter_frame_packet. */
int mcu_jitter_pop(mcu_jitter_t *jb, int64_t now_us, mcu_jitter_frame_t *frame);

/* Packet i (0..n_packets-1) of the frame last popped. */
void mcu_jitter_frame_packet(const mcu_jitter_t *jb, size_t i, const uint8_t **payload,
                             size_t *len);

/* Whether packets of the frame last popped are missing just before its packet i (a hole
 * inside the frame; the packets on either side of it do not join up). */
bool mcu_jitter_frame_gap_before(const mcu_jitter_t *jb, size_t i);

/* Earliest time a pop could return something new (for timers); INT64_MAX if never
 * without more input. */
int64_t mcu_jitter_next_deadline(const mcu_jitter_t *jb);

/* Sequence numbers noticed missing and still awaited, oldest first, at most `max`.
 * Returns how many were written. */
size_t mcu_jitter_missing(const mcu_jitter_t *jb, uint16_t *seqs, size_t max);

/* The round-trip time to the sender, for the retransmission wait (0 = unknown). */
void mcu_jitter_set_rtt(mcu_jitter_t *jb, int64_t rtt_us);

/* Drops everything and starts over at the next packet (new SSRC, sender restart). */
void mcu_jitter_reset(mcu_jitter_t *jb);

void mcu_jitter_get_stats(const mcu_jitter_t *jb, mcu_jitter_stats_t *stats);

#endif
