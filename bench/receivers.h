/*
 * receivers: the receivers of the composite, as the communes' decoders would be: each
 * has its own UDP ports (video RTP base + 4r, its RTCP +1, audio RTP +2, its RTCP +3),
 * authenticates and decrypts every packet with its own SRTP context, and counts what
 * it gets. Frames are counted by the RTP marker bit (RFC 6184: the last packet of an
 * access unit). Nothing is decoded: a real receiver's decode cost is its own, not the
 * system under test's.
 *
 * One thread serves every socket with epoll and recvmmsg.
 *
 * OWNERSHIP: keys are copied. mcu_bench_receivers_stop joins the thread, closes the
 * sockets and frees everything (*r = NULL).
 */
#ifndef MCU_BENCH_RECEIVERS_H
#define MCU_BENCH_RECEIVERS_H

#include <stdint.h>

#include "mcu/srtp_session.h"

/* Receivers one benchmark run serves: one per site, as in a conference. */
#define MCU_BENCH_MAX_RECEIVERS 64

typedef struct mcu_bench_rx_counts {
    uint64_t video_packets, video_bytes, frames, audio_packets, audio_bytes;
    uint64_t srtp_failures;     /* packets that did not authenticate */
} mcu_bench_rx_counts_t;

typedef struct mcu_bench_receivers mcu_bench_receivers_t;

/* keys[r] is receiver r's key; keys NULL: plain RTP (a system that cannot protect what it
 * sends to several receivers, see bench/sut.h). MCU_ERR_INVAL (n out of range), MCU_ERR_IO (a port cannot
 * be bound), MCU_ERR_SRTP, MCU_ERR_NOMEM. */
int mcu_bench_receivers_start(int n, uint16_t base_port, const mcu_srtp_key_t *keys,
                              mcu_bench_receivers_t **out);
/* Receiver r's counters so far (r in 0..n-1). */
void mcu_bench_receivers_counts(mcu_bench_receivers_t *rx, int r, mcu_bench_rx_counts_t *c);
void mcu_bench_receivers_stop(mcu_bench_receivers_t **rx);

#endif
