/*
 * live: one real-time run of a system under test (bench/sut.h) on N sites: the sites
 * replay their clips as SRTP over loopback (bench/sender.h), the system composes and
 * encodes, N receivers take the composite (bench/receivers.h). After a warm-up the run
 * measures a window: the system's CPU and peak memory from /proc, the frames every
 * receiver got, and for the daemon its own counters from /metrics (missed ticks, the
 * pictures it decoded, time per stage, the added-delay histogram).
 *
 * And the capacity search built on it: the largest N that holds real time.
 *
 * OWNERSHIP: the clips stay the caller's. The records returned are new jansson objects
 * the caller releases (json_decref).
 */
#ifndef MCU_BENCH_LIVE_H
#define MCU_BENCH_LIVE_H

#include <jansson.h>

#include "bench/media.h"
#include "bench/sut.h"

typedef struct mcu_bench_live_config {
    mcu_bench_system_t sys;
    int sites;
    mcu_bench_media_t *clips[MCU_BENCH_MAX_CLIPS];
    int n_clips;
    char input[16];                 /* "360p25": for the record */
    int out_w, out_h, out_fps, video_kbps, audio_kbps;
    double warmup_s, seconds;
    uint16_t port_base;             /* sites from here, receivers +400, API +800 */
    char workdir[PATH_MAX];
    char mcu_bin[PATH_MAX];
    int burst_ms;                   /* > 0: the sites' video through a bursty link (sender.h) */
} mcu_bench_live_config_t;

/* Runs once; *record is the "live" record (see bench/report.h), also on a failed run
 * (with "ok": false and "error"). 0, or a negative MCU_ERR_* when no record could be
 * made at all. */
int mcu_bench_live_run(const mcu_bench_live_config_t *cfg, json_t **record);

/* The bound on the daemon's added delay (p99) for a run to count as real time. The
 * output has threads of its own, so a box with too many sites keeps its frame rate while
 * its decoders fall behind: their pictures then queue and the delay grows without end,
 * which only this bound shows. 100 ms is below the ~125 ms by which video may trail
 * its sound before viewers notice (ITU-R BT.1359), so a run within it is still a
 * conversation; target 4 (p99 <= 60 ms, bench/report.c) is the stricter goal reported
 * beside it. */
#define MCU_BENCH_LIVE_DELAY_P99_OK_MS 100.0

/* Real time held: no missed output tick, every receiver got >= 99% of the frames, and,
 * for the daemon, it decoded >= 98% of the pictures the sites sent and its added delay
 * stayed within MCU_BENCH_LIVE_DELAY_P99_OK_MS at p99. */
bool mcu_bench_live_realtime(const json_t *record);

/* Largest N in [1, MCU_BENCH_MAX_SITES] that holds real time for cfg->seconds, starting
 * at `start` (the target), at most max_trials runs; each trial's record is written to
 * `trials_out` (JSON Lines) as it completes if not NULL. *record: the "capacity" record. */
int mcu_bench_capacity(const mcu_bench_live_config_t *cfg, int start, int target, int max_trials,
                       FILE *trials_out, json_t **record);

#endif
