/*
 * sender: the benchmark's simulated sites. Each replays its cached clip in real time as
 * a real endpoint would: H.264 packetized by RFC 6184 (codecs/h264_rtp, MTU 1200) and
 * Opus in 20 ms packets, SRTP-protected with the site's key (mcu/srtp_session), sent
 * from its own UDP socket to the system under test over loopback. A clip loops with
 * sequence numbers and timestamps running on, as a camera never restarts.
 *
 * One thread sends for every site: it sleeps until the earliest unit due (absolute
 * CLOCK_MONOTONIC deadlines, so no drift) and sends everything due. A frame's packets go
 * out back to back, like a sender without pacing. How late the thread was against the
 * schedule is counted, so an overloaded box shows up as sender lateness rather than
 * being blamed on the system under test unseen.
 *
 * OWNERSHIP: the sender keeps pointers to the clips (they must outlive it) and copies
 * the rest of each spec. mcu_bench_sender_stop joins the thread, closes the sockets and
 * frees everything (*s = NULL).
 */
#ifndef MCU_BENCH_SENDER_H
#define MCU_BENCH_SENDER_H

#include <netinet/in.h>
#include <stdint.h>

#include "bench/media.h"
#include "mcu/srtp_session.h"

/* Sites one sender drives: the daemon's own bound (MCU_MAX_SITES) is 64. */
#define MCU_BENCH_MAX_SITES 64
/* RTP payload types the benchmark's sites use (the daemon's defaults). */
#define MCU_BENCH_VIDEO_PT 96
#define MCU_BENCH_AUDIO_PT 111
/* Site i sends video with SSRC VIDEO_SSRC_BASE + i and audio with AUDIO_SSRC_BASE + i
 * (GStreamer's srtpdec needs them in its caps). */
#define MCU_BENCH_VIDEO_SSRC_BASE 0x51000000u
#define MCU_BENCH_AUDIO_SSRC_BASE 0x52000000u

typedef struct mcu_bench_site_spec {
    const mcu_bench_media_t *media;
    size_t start_frame;             /* an IDR: the site joins with a decodable picture */
    struct sockaddr_in video_to, audio_to;
    mcu_srtp_key_t key;             /* what the site protects with */
    uint32_t video_ssrc, audio_ssrc;
    /* > 0: a bursty link between the site and the system under test (Wi-Fi aggregation, a
     * cellular scheduler, a batching relay): a video frame leaves at the first point of
     * the site's burst_ms grid at or after its due time, so frames due within one period
     * arrive back to back. */
    int burst_ms;
} mcu_bench_site_spec_t;

typedef struct mcu_bench_sender_stats {
    uint64_t packets, bytes, send_errors;
    int64_t late_max_us;            /* the worst lateness against the schedule */
    uint64_t late_over_5ms;         /* units sent more than 5 ms late */
} mcu_bench_sender_stats_t;

typedef struct mcu_bench_sender mcu_bench_sender_t;

/* Opens the sockets and starts sending at once. MCU_ERR_INVAL (n outside
 * 1..MCU_BENCH_MAX_SITES), MCU_ERR_IO, MCU_ERR_SRTP, MCU_ERR_NOMEM. */
int mcu_bench_sender_start(const mcu_bench_site_spec_t *sites, int n, mcu_bench_sender_t **out);
void mcu_bench_sender_stats(mcu_bench_sender_t *s, mcu_bench_sender_stats_t *st);
void mcu_bench_sender_stop(mcu_bench_sender_t **s);

#endif
