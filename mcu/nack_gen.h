/*
 * nack_gen: the receiver side of RFC 4585 generic NACK for one RTP stream.
 *
 * Fed every packet that arrives (originals, and retransmissions the caller recognised,
 * e.g. by an RFC 4588 RTX packet's original sequence number), it keeps the list of
 * sequence numbers noticed missing and says which of them to NACK when:
 *
 *   - a sequence number becomes missing when a later one arrives (16-bit wrap is
 *     handled by signed difference against the highest seen);
 *   - it is due for its first NACK at once, and for each retry after
 *     max(MCU_NACK_MIN_RETRY_MS, MCU_NACK_RETRY_RTT_PERCENT % of the round trip);
 *   - it leaves the list when it arrives (recovered), when it has waited longer than
 *     MCU_NACK_MAX_AGE_MS, when its last of MCU_NACK_MAX_RETRIES NACKs has had a retry
 *     spacing to be answered, when it falls more than MCU_NACK_RESTART_GAP behind the
 *     highest sequence number (it could no longer be told from a restart), or when the
 *     jitter buffer gives it up (mcu_nack_gen_forget_through);
 *   - a hole that does not fit in the list (MCU_NACK_MAX_ENTRIES) clears it and is
 *     reported as MCU_ERR_OVERFLOW: the caller asks for a keyframe instead;
 *   - a jump of more than MCU_NACK_RESTART_GAP either way is a sender restart: the
 *     generator starts over at that packet.
 *
 * The round trip used for retry spacing is the caller's (from RTCP) when it has one,
 * otherwise the time from a sequence number's first NACK to its retransmission's
 * arrival, smoothed (EWMA 1/8). Measuring from the first NACK errs long when an earlier NACK was lost,
 * which only spaces retries more widely; measuring from the last would err short and
 * could never grow past a spacing that is too small.
 *
 * Entries stay sorted by sequence order, oldest first, and all lie within
 * MCU_NACK_RESTART_GAP behind the highest sequence number seen.
 *
 * Ownership: a plain value with fixed arrays (embed it); no allocation, nothing to free.
 * All times are microseconds on the caller's monotonic clock.
 */
#ifndef MCU_NACK_GEN_H
#define MCU_NACK_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sequence numbers awaited at most: 256 packets is ~0.35 s of a 2.5 Mbit/s stream in
 * 1200-byte packets; a bigger hole cannot be repaired inside the jitter buffer's wait and
 * a keyframe is cheaper. */
#define MCU_NACK_MAX_ENTRIES 256
/* NACKs sent for one sequence number at most: at the minimum spacing ten tries span
 * 200 ms, half the longest jitter-buffer wait; more only adds feedback traffic on a
 * path that keeps losing. */
#define MCU_NACK_MAX_RETRIES 10
/* A missing packet older than this is given up: the jitter buffer (at most 400 ms,
 * MCU_JITTER_DEFAULT_MAX_DELAY_MS) has moved on by then. */
#define MCU_NACK_MAX_AGE_MS 500
/* Spacing of retries when the round trip is unknown or shorter: one frame interval at
 * 50 fps; closer retries would arrive before the first could be answered even on a LAN
 * with a busy sender. */
#define MCU_NACK_MIN_RETRY_MS 20
/* Retry after this many RTTs (percent): 1.5 RTT gives the retransmission time to arrive. */
#define MCU_NACK_RETRY_RTT_PERCENT 150
/* A forward jump of more than this many sequence numbers is a sender restart, not loss
 * (RFC 3550 A.1 MAX_DROPOUT); a backward jump of more than this is one too. */
#define MCU_NACK_RESTART_GAP 3000

typedef struct mcu_nack_entry {
    uint16_t seq;
    int64_t noticed_us;     /* when it was noticed missing */
    int64_t sent_us;        /* last NACK (valid when retries > 0) */
    int64_t first_sent_us;  /* first NACK (valid when retries > 0) */
    uint8_t retries;        /* NACKs sent so far, 0..MCU_NACK_MAX_RETRIES */
} mcu_nack_entry_t;

/* Every sequence number put on the list leaves it exactly once, so
 * missing == recovered + given_up + forgotten + pending. */
typedef struct mcu_nack_stats {
    uint64_t missing;       /* sequence numbers noticed missing (put on the list) */
    uint64_t requested;     /* ... NACKed at least once */
    uint64_t retries;       /* NACKs beyond the first */
    uint64_t recovered;     /* ... that arrived after all */
    uint64_t given_up;      /* ... dropped from the list: too old or too many retries */
    uint64_t forgotten;     /* ... dropped by forget_through, reset, restart or overflow */
    uint64_t overflows;     /* holes too big for the list: cleared, keyframe needed */
    uint64_t restarts;      /* sequence jumps taken as a sender restart */
    int64_t rtt_us;         /* smoothed NACK->retransmission time; 0 until measured */
} mcu_nack_stats_t;

typedef struct mcu_nack_gen {
    bool started;           /* a packet has been seen since init/reset */
    bool rtx_seen;          /* a flagged retransmission arrived: the stream uses RTX */
    uint16_t highest;       /* highest sequence number seen */
    mcu_nack_entry_t e[MCU_NACK_MAX_ENTRIES]; /* awaited, in sequence order */
    size_t n;
    mcu_nack_stats_t stats;
} mcu_nack_gen_t;

/* Starts empty with zeroed statistics. */
void mcu_nack_gen_init(mcu_nack_gen_t *g);

/* Starts over at the next packet (new SSRC, sender restart), keeping the statistics
 * and rtx_seen; awaited sequence numbers are counted forgotten. */
void mcu_nack_gen_reset(mcu_nack_gen_t *g);

/* A packet arrived at now_us: an original, or (retransmission true) a retransmission
 * the caller recognised. Sequence numbers between the highest seen and this one become
 * missing. A packet that was missing is removed and counted recovered; if it had been
 * NACKed, the time since its first NACK updates stats.rtt_us (EWMA 1/8; the first sample
 * is taken as is) when it is flagged as a retransmission, or when no flagged one has
 * been seen yet (without RTX a retransmission cannot be told from a late original; once
 * the stream is known to use RTX, a late original says nothing about the round trip).
 * Duplicates and packets older than the highest that are not awaited are ignored.
 * Returns MCU_OK, or MCU_ERR_OVERFLOW when the new hole would not fit: the list is
 * cleared, highest moves to seq, and the caller should ask for a keyframe. A jump of
 * more than MCU_NACK_RESTART_GAP forward or backward resets the generator to this seq
 * (MCU_OK) - except for a retransmission, which cannot mean a restart and is ignored. */
int mcu_nack_gen_on_packet(mcu_nack_gen_t *g, uint16_t seq, bool retransmission, int64_t now_us);

/* Writes the sequence numbers whose first NACK or next retry is due at now_us, oldest
 * first, at most max, and marks them sent; returns how many. A missing entry is due at
 * once when never sent, and again max(MCU_NACK_MIN_RETRY_MS,
 * rtt * MCU_NACK_RETRY_RTT_PERCENT / 100) after its last NACK, where rtt is the rtt_us
 * argument if > 0, else stats.rtt_us. Entries noticed more than MCU_NACK_MAX_AGE_MS ago,
 * and entries whose MCU_NACK_MAX_RETRIES-th NACK is a retry spacing old, are dropped
 * here (given_up), also beyond the first max. */
size_t mcu_nack_gen_collect(mcu_nack_gen_t *g, int64_t now_us, int64_t rtt_us, uint16_t *seqs,
                            size_t max);

/* Earliest time collect could return something with this rtt_us (INT64_MAX: nothing
 * awaited, or nothing that will be NACKed again before it is given up). */
int64_t mcu_nack_gen_next_due(const mcu_nack_gen_t *g, int64_t rtt_us);

/* Removes every awaited sequence number at or before seq (the jitter buffer gave them
 * up); counted forgotten. */
void mcu_nack_gen_forget_through(mcu_nack_gen_t *g, uint16_t seq);

/* Sequence numbers awaited. */
size_t mcu_nack_gen_pending(const mcu_nack_gen_t *g);
/* True while `seq` is on the list (missing and still worth a retransmission). */
bool mcu_nack_gen_awaits(const mcu_nack_gen_t *g, uint16_t seq);

#endif
