/*
 * sut: the system under test of a live benchmark run, started as a child process on
 * the same inputs and for the same receivers:
 *
 *   mcu        this daemon, with a config written for the run: every site SRTP both
 *              ways, its composite to its receiver, the control API on loopback (the
 *              benchmark reads /metrics from it).
 *   ffmpeg     what a user builds with the ffmpeg CLI: one SDP input per site (SRTP,
 *              a=crypto), scale + xstack + amix, libx264 and libopus, the tee muxer
 *              sending RTP to every receiver. The tee muxer cannot pass SRTP options to
 *              its outputs (they reach the RTP muxer, which refuses them), so ffmpeg's
 *              receivers get plain RTP: ffmpeg is spared the per-receiver protect cost.
 *   gstreamer  gst-launch: per site udpsrc + srtpdec + rtpjitterbuffer + depayloaders +
 *              avdec_h264 / opusdec, compositor + audiomixer, x264enc and opusenc, one
 *              srtpenc per medium and multiudpsink to every receiver (one key for all
 *              receivers: that is what one srtpenc can do).
 *
 * The encoder settings are the daemon's (codecs/h264_enc.h, codecs/opus_codec.h):
 * x264 veryfast, zerolatency, Constrained Baseline, one thread, no scene cuts, SPS/PPS
 * before every IDR, CBR at the profile's rate with a 500 ms VBV, an IDR every 4 s; Opus
 * mono 48 kHz in 20 ms at the profile's audio rate. Decoders keep each tool's defaults.
 * The grid is the same for all three (the daemon's auto layout for N sites: the
 * smallest grid of ceil(sqrt(N)) columns that holds them).
 *
 * CPU and memory are read from /proc/<pid> (utime + stime, VmHWM) of the one process
 * each system runs in.
 *
 * OWNERSHIP: the scenario is copied. Files (config, SDPs, logs) go into its workdir.
 * mcu_bench_sut_stop ends the child (SIGINT, then SIGKILL after a grace period), reaps
 * it and frees the handle (*s = NULL).
 */
#ifndef MCU_BENCH_SUT_H
#define MCU_BENCH_SUT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bench/sender.h"
#include "mcu/srtp_session.h"

typedef enum mcu_bench_system {
    MCU_BENCH_SYS_MCU,
    MCU_BENCH_SYS_FFMPEG,
    MCU_BENCH_SYS_GSTREAMER,
    MCU_BENCH_SYS_COUNT
} mcu_bench_system_t;

/* The site's ports: video RTP site_port_base + 4i, its RTCP +1, audio RTP +2, RTCP +3;
 * receiver r the same from rx_port_base. */
#define MCU_BENCH_PORT_STRIDE 4

/* sprop-parameter-sets text: base64 of a Constrained Baseline SPS (~25 bytes) and PPS
 * (~5 bytes) with room to spare. */
#define MCU_BENCH_SPROP_MAX 256

typedef struct mcu_bench_scenario {
    int sites;                      /* also the receivers: one per site */
    int out_w, out_h, out_fps;
    int video_kbps, audio_kbps;
    uint16_t site_port_base, rx_port_base, control_port;
    mcu_srtp_key_t site_keys[MCU_BENCH_MAX_SITES];  /* what each site protects with */
    mcu_srtp_key_t rx_keys[MCU_BENCH_MAX_SITES];    /* what each receiver expects */
    char token[48];                 /* the daemon's API token */
    /* Each site's SPS and PPS as RFC 6184 sprop-parameter-sets ("" if unknown): in the
     * ffmpeg inputs' SDPs, so that ffmpeg opens each input at once instead of waiting
     * for the next keyframe while the inputs it opened before overflow. */
    char sprop[MCU_BENCH_MAX_SITES][MCU_BENCH_SPROP_MAX];
    char workdir[PATH_MAX];
    char mcu_bin[PATH_MAX];
} mcu_bench_scenario_t;

typedef struct mcu_bench_sut mcu_bench_sut_t;

const char *mcu_bench_system_name(mcu_bench_system_t sys);
/* 0 or MCU_ERR_INVAL. */
int mcu_bench_system_parse(const char *name, mcu_bench_system_t *out);
/* Whether the system protects what it sends (its receivers expect SRTP). */
bool mcu_bench_system_protects(mcu_bench_system_t sys);
/* Whether every receiver gets the same key (rx_keys[0]). */
bool mcu_bench_system_one_key(mcu_bench_system_t sys);

/* Writes the system's files and starts it. MCU_ERR_INVAL, MCU_ERR_IO (files, spawn),
 * MCU_ERR_NOMEM. */
int mcu_bench_sut_start(mcu_bench_system_t sys, const mcu_bench_scenario_t *sc,
                        mcu_bench_sut_t **out);
bool mcu_bench_sut_alive(mcu_bench_sut_t *s);
/* CPU seconds (user + system) the process has used so far; < 0 if unreadable. */
double mcu_bench_sut_cpu_s(const mcu_bench_sut_t *s);
/* Peak resident set (VmHWM) in kB; < 0 if unreadable. */
int64_t mcu_bench_sut_peak_rss_kb(const mcu_bench_sut_t *s);
/* Its log file (stderr and stdout). */
const char *mcu_bench_sut_log(const mcu_bench_sut_t *s);
void mcu_bench_sut_stop(mcu_bench_sut_t **s);

#endif
