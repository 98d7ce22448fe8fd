/*
 * metrics: one scrape of the daemon's /metrics (Prometheus text, mcu/control_api.c)
 * over HTTP with its bearer token, reduced to what a benchmark window needs. Two scrapes
 * subtracted give the window's figures: counters only, so nothing depends on the
 * daemon's own averaging windows.
 *
 * OWNERSHIP: plain values, nothing to free.
 */
#ifndef MCU_BENCH_METRICS_H
#define MCU_BENCH_METRICS_H

#include <stdint.h>

#include "mcu/conference.h"
#include "mcu/stage_clock.h"

typedef struct mcu_bench_metrics {
    double video_ticks, missed_ticks, frames_sent, audio_missed;
    double late_ticks;          /* made right after a slow frame instead of skipped */
    double pictures_decoded;        /* all sites */
    double pictures_damaged;
    double tile_ticks, repeated_ticks;  /* all sites: ticks shown live, of them repeats */
    double process_cpu_s;
    double stage_s[MCU_STAGE_COUNT];
    /* Added delay, cumulative: delay_le[k] samples were <= k + 1 ms, the last one holds
     * them all (the histogram's 1 ms buckets up to 100 ms; coarser ones are spread). */
    double delay_le[MCU_CONF_DELAY_HIST_MS + 1];
} mcu_bench_metrics_t;

/* 0, MCU_ERR_IO (no answer, or not a 200), MCU_ERR_NOMEM. */
int mcu_bench_metrics_scrape(uint16_t port, const char *token, mcu_bench_metrics_t *m);

/* The delay (ms) at quantile q (0..1) of the samples between two scrapes: linear inside
 * the 1 ms bucket. -1 when there are none. */
double mcu_bench_metrics_delay_quantile(const mcu_bench_metrics_t *a, const mcu_bench_metrics_t *b,
                                        double q);

#endif
