/*
 * pipeline: the in-process part of mcu-bench. It drives the very modules the daemon
 * runs for one conference (SRTP, rx_stream with its jitter buffer and depacketizers, the
 * H.264 and Opus decoders, layout + composer + labels, the mixer, the H.264 and Opus
 * encoders, tx_stream, SRTP again and a real UDP send) on real encoded media, as fast as
 * one core goes, and times every stage. There is no socket on the input side, no
 * thread, no timer and no sleep: media time is synthetic, so the figures are the data
 * path's own cost and nothing else.
 *
 * One run gives two records (jansson objects, kind "floor" and kind "throughput"):
 *
 *   floor       the physical floor per output frame: decode-only of every input
 *               (H.264 + Opus) plus the encode of the composite (H.264 + the Opus
 *               encodes of the mix): what any MCU must spend, whatever its design.
 *   throughput  the whole pipeline per output frame, stage by stage ("receive" SRTP
 *               unprotect, "jitter" rx_stream input + poll, "decode", "compose",
 *               "mix", "encode", "packetize", "send" SRTP protect + sendto per
 *               receiver, "other" = CPU not in any stage), the CPU and wall time of the
 *               run loop, the output frames per second one core reaches, and how many
 *               sites one core carries in real time at this output rate.
 * The floor's decode and encode figures are the same measurements as the throughput's
 * decode and encode stages, split by medium.
 *
 * Each output frame k stands for media time k / out_fps. Site i replays
 * clips[i % n_clips] from an IDR of its own (sites that share a clip start at IDRs
 * spread over it), looping; every access unit and 20 ms Opus packet whose media time has
 * come is unprotected, pushed through its rx_stream and decoded, the latest good picture
 * of each site is composed with its name into the daemon's auto layout, every 20 ms of
 * media time the decoded audio is mixed (shared mix + top talkers' mix-minus) and
 * encoded, and the composite is encoded once, packetized once and protected and sent to
 * each receiver. RTP packetizing and SRTP protection of the INPUT (what the sites would
 * have done) happen outside the timed loop, a second of media ahead at a time.
 *
 * Paced (cfg.paced): the same loop, but each output frame waits for its wall-clock
 * time (frame k at k / out_fps after the start) as a real-time system must, and the
 * thread sleeps in between. The work is the same; what changes is that every frame
 * starts on a core that has been idle (or busy with something else) for the rest of
 * the frame period, with colder caches, and on a virtual machine after its virtual CPU
 * was halted. The paced floor is then the least any real-time MCU pays here for the
 * codecs alone; its gap to the unpaced floor is what running in real time costs on this
 * machine. Both records say "paced": true; "fps" is then the output rate.
 *
 * Why one thread: the result is a per-core figure. The daemon spreads decoding and the
 * compose+encode step over a worker pool; a machine's capacity is this figure times the
 * cores it can give the MCU, less what the event loop and the kernel's receive path
 * cost (the live benchmark measures those). x264 and libavcodec run single-threaded here
 * as in the daemon (h264_enc.h, video_dec.h). Stage times are thread CPU time
 * (CLOCK_THREAD_CPUTIME_ID), so another process on the machine slows the wall clock
 * (fps) but not the CPU figures.
 *
 * OWNERSHIP: the clips stay the caller's and are only read. Everything the run needs is
 * allocated at setup and freed before mcu_bench_pipeline_run returns. On success *floor
 * and *throughput are new objects the caller releases with json_decref; on failure both
 * are NULL (no partial record).
 */
#ifndef MCU_BENCH_PIPELINE_H
#define MCU_BENCH_PIPELINE_H

#include <jansson.h>
#include <stdbool.h>

#include "bench/media.h"

/* Distinct clips one run replays: the live runs' bound (bench/media.h). */
#define MCU_BENCH_PIPELINE_MAX_CLIPS MCU_BENCH_MAX_CLIPS

typedef struct mcu_bench_pipeline_config {
    mcu_bench_media_t *clips[MCU_BENCH_PIPELINE_MAX_CLIPS]; /* the caller's */
    int n_clips;               /* 1..MCU_BENCH_PIPELINE_MAX_CLIPS */
    int sites;                 /* 1..64; site i replays clips[i % n_clips], starting at its own IDR */
    char input[16];            /* "360p25", copied into the records */
    int out_w, out_h, out_fps; /* even sizes (4:2:0); up to 60 fps, and at least 2: the
                                  encoder's default VBV (500 ms) must hold a frame */
    int video_kbps, audio_kbps;
    int frames;                /* output frames to run: 1..MCU_BENCH_PIPELINE_MAX_FRAMES */
    int receivers;             /* receivers the packetized composite is protected and sent
                                  to: 0..1024 (MCU_TX_MAX_RECEIVERS) */
    bool paced;                /* each frame at its wall-clock time (see above) */
} mcu_bench_pipeline_config_t;

/* Longest run: an hour at 60 fps. Far beyond any useful measurement; it keeps every
 * frame and sample count well inside int64 arithmetic. */
#define MCU_BENCH_PIPELINE_MAX_FRAMES (3600 * 60)

/* Runs the pipeline; *floor and *throughput are new jansson objects (caller json_decref).
 * 0, or a negative MCU_ERR_*: MCU_ERR_INVAL for a config outside its bounds or a clip
 * without video or audio, MCU_ERR_CONFIG for encoder settings the encoders refuse,
 * MCU_ERR_NOTFOUND when no font for the labels is found, MCU_ERR_CODEC when a site never
 * produced a picture, MCU_ERR_IO for a socket that cannot be opened or a send that
 * failed for any reason but a full buffer, or whatever a module returned. */
int mcu_bench_pipeline_run(const mcu_bench_pipeline_config_t *cfg, json_t **floor,
                           json_t **throughput);

#endif
