#include "rtp_stats.h"

#include <string.h>

#include "error.h"

#define US_PER_S 1000000
/* DLSR unit: 1/65536 s. */
#define DLSR_UNITS_PER_S 65536
/* 24-bit signed range of the cumulative-lost field. */
#define CUM_LOST_MAX 0x7FFFFF
#define CUM_LOST_MIN (-0x800000)

static void init_seq(mcu_rtp_stats_t *s, uint16_t seq)
{
    s->base_seq = seq;
    s->max_seq = seq;
    s->bad_seq = MCU_RTP_SEQ_MOD + 1; /* so seq == bad_seq is false */
    s->cycles = 0;
    s->received = 0;
    s->received_prior = 0;
    s->expected_prior = 0;
}

void mcu_rtp_stats_init(mcu_rtp_stats_t *s, uint32_t ssrc, uint32_t clock_rate, uint16_t seq)
{
    memset(s, 0, sizeof *s);
    s->ssrc = ssrc;
    s->clock_rate = clock_rate;
    init_seq(s, seq);
    s->max_seq = (uint16_t)(seq - 1);
    s->probation = MCU_RTP_MIN_SEQUENTIAL;
}

int mcu_rtp_stats_update(mcu_rtp_stats_t *s, uint16_t seq, uint32_t payload_bytes)
{
    uint16_t udelta = (uint16_t)(seq - s->max_seq);

    if (s->probation) {
        if (seq == (uint16_t)(s->max_seq + 1)) {
            s->probation--;
            s->max_seq = seq;
            if (s->probation == 0) {
                init_seq(s, seq);
                s->received++;
                s->bytes += payload_bytes;
                return MCU_OK;
            }
        } else {
            s->probation = MCU_RTP_MIN_SEQUENTIAL - 1;
            s->max_seq = seq;
        }
        return MCU_ERR_PROBATION;
    } else if (udelta < MCU_RTP_MAX_DROPOUT) {
        if (seq < s->max_seq)
            s->cycles += MCU_RTP_SEQ_MOD; /* wrapped */
        s->max_seq = seq;
    } else if (udelta <= MCU_RTP_SEQ_MOD - MCU_RTP_MAX_MISORDER) {
        if (seq == s->bad_seq) {
            /* Two sequential packets after a big jump: the source restarted. */
            init_seq(s, seq);
            s->resyncs++;
        } else {
            s->bad_seq = (seq + 1) & (MCU_RTP_SEQ_MOD - 1);
            return MCU_ERR_SEQ_JUMP;
        }
    }
    /* else: duplicate or reordered packet, counted as received (A.1). */
    s->received++;
    s->bytes += payload_bytes;
    return MCU_OK;
}

void mcu_rtp_stats_jitter(mcu_rtp_stats_t *s, uint32_t rtp_ts, int64_t arrival_us)
{
    if (!s->clock_rate)
        return;
    /* Arrival in timestamp units; modulo 2^32 arithmetic keeps wrap harmless. */
    uint32_t arrival = (uint32_t)((arrival_us * (int64_t)s->clock_rate) / US_PER_S);
    uint32_t transit = arrival - rtp_ts;
    if (s->have_transit) {
        int32_t d = (int32_t)(transit - s->transit);
        uint32_t ad = d < 0 ? (uint32_t)-(int64_t)d : (uint32_t)d;
        /* J += (|D| - J) / 16, kept << 4 (RFC 3550 A.8). */
        s->jitter_q4 += ad - ((s->jitter_q4 + 8) >> 4);
    }
    s->transit = transit;
    s->have_transit = true;
}

void mcu_rtp_stats_on_sr(mcu_rtp_stats_t *s, uint64_t ntp, int64_t arrival_us)
{
    s->have_sr = true;
    s->lsr = (uint32_t)(ntp >> 16);
    s->lsr_arrival_us = arrival_us;
}

uint32_t mcu_rtp_stats_ext_max(const mcu_rtp_stats_t *s) { return s->cycles + s->max_seq; }

int64_t mcu_rtp_stats_lost(const mcu_rtp_stats_t *s)
{
    int64_t expected = (int64_t)mcu_rtp_stats_ext_max(s) - s->base_seq + 1;
    return expected - s->received;
}

uint32_t mcu_rtp_stats_jitter_units(const mcu_rtp_stats_t *s) { return s->jitter_q4 >> 4; }

void mcu_rtp_stats_report(mcu_rtp_stats_t *s, int64_t now_us, mcu_rtcp_report_block_t *rb)
{
    memset(rb, 0, sizeof *rb);
    rb->ssrc = s->ssrc;
    rb->ext_highest_seq = mcu_rtp_stats_ext_max(s);

    int64_t lost = mcu_rtp_stats_lost(s);
    rb->cumulative_lost = (int32_t)(lost > CUM_LOST_MAX   ? CUM_LOST_MAX
                                    : lost < CUM_LOST_MIN ? CUM_LOST_MIN
                                                          : lost);

    uint32_t expected = (uint32_t)(mcu_rtp_stats_ext_max(s) - s->base_seq + 1);
    uint32_t expected_interval = expected - s->expected_prior;
    s->expected_prior = expected;
    uint32_t received_interval = s->received - s->received_prior;
    s->received_prior = s->received;
    int64_t lost_interval = (int64_t)expected_interval - received_interval;
    if (expected_interval != 0 && lost_interval > 0)
        rb->fraction_lost = (uint8_t)((lost_interval << 8) / expected_interval);

    rb->jitter = mcu_rtp_stats_jitter_units(s);
    if (s->have_sr) {
        rb->lsr = s->lsr;
        int64_t d = now_us - s->lsr_arrival_us;
        rb->dlsr = d > 0 ? (uint32_t)(d * DLSR_UNITS_PER_S / US_PER_S) : 0;
    }
}
