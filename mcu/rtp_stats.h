/*
 * rtp_stats: per-source reception statistics as in RFC 3550 appendix A.1 (sequence
 * validation with probation, MAX_DROPOUT, MAX_MISORDER, extended sequence numbers
 * across wrap), A.3 (cumulative and fractional loss) and A.8 (interarrival jitter):
 * everything an RTCP receiver report block needs.
 *
 * Plain value type: no allocation, nothing to free.
 */
#ifndef MCU_RTP_STATS_H
#define MCU_RTP_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "rtcp.h"

/* RFC 3550 A.1 constants. A source is valid after this many in-sequence packets. */
#define MCU_RTP_MIN_SEQUENTIAL 2
/* Forward jumps below this are losses; larger ones look like a restart. */
#define MCU_RTP_MAX_DROPOUT 3000
/* Backward jumps up to this are reordering or duplicates. */
#define MCU_RTP_MAX_MISORDER 100
#define MCU_RTP_SEQ_MOD (1u << 16)

typedef struct mcu_rtp_stats {
    uint32_t ssrc;
    uint32_t clock_rate;        /* Hz of the RTP timestamp */
    uint16_t max_seq;           /* highest sequence number seen */
    uint32_t cycles;            /* shifted count of sequence number cycles */
    uint32_t base_seq;
    uint32_t bad_seq;           /* last 'bad' seq + 1 */
    uint32_t probation;         /* sequential packets till the source is valid */
    uint32_t received;
    uint32_t expected_prior;
    uint32_t received_prior;
    uint64_t bytes;             /* payload bytes of accepted packets */
    uint32_t resyncs;           /* restarts detected (A.1 bad_seq rule) */
    bool have_transit;
    uint32_t transit;           /* relative transit time of the previous packet */
    uint32_t jitter_q4;         /* interarrival jitter << 4 (A.8 integer form) */
    bool have_sr;
    uint32_t lsr;               /* middle 32 bits of the last SR's NTP time */
    int64_t lsr_arrival_us;
} mcu_rtp_stats_t;

/* Starts tracking a source whose first packet has sequence number `seq`. */
void mcu_rtp_stats_init(mcu_rtp_stats_t *s, uint32_t ssrc, uint32_t clock_rate, uint16_t seq);

/* Accounts for one packet (A.1 update_seq). MCU_OK when the packet is valid and
 * counted, MCU_ERR_PROBATION while the source is not yet validated, MCU_ERR_SEQ_JUMP for
 * a jump beyond MAX_DROPOUT (two such packets in sequence resynchronise: the second
 * returns MCU_OK). */
int mcu_rtp_stats_update(mcu_rtp_stats_t *s, uint16_t seq, uint32_t payload_bytes);

/* Updates interarrival jitter (A.8) from a packet's RTP timestamp and arrival time. */
void mcu_rtp_stats_jitter(mcu_rtp_stats_t *s, uint32_t rtp_ts, int64_t arrival_us);

/* Records a sender report from this source (for LSR/DLSR). */
void mcu_rtp_stats_on_sr(mcu_rtp_stats_t *s, uint64_t ntp, int64_t arrival_us);

/* Highest extended sequence number received. */
uint32_t mcu_rtp_stats_ext_max(const mcu_rtp_stats_t *s);

/* Packets expected minus received since the start (negative with duplicates). */
int64_t mcu_rtp_stats_lost(const mcu_rtp_stats_t *s);

/* Jitter in RTP timestamp units. */
uint32_t mcu_rtp_stats_jitter_units(const mcu_rtp_stats_t *s);

/* Fills a report block (A.3) and starts a new reporting interval. */
void mcu_rtp_stats_report(mcu_rtp_stats_t *s, int64_t now_us, mcu_rtcp_report_block_t *rb);

#endif
