/*
 * conference: one conference on one libuv loop. It owns the sites, and for each output
 * profile the canvas, the composer, the ONE video encoder, the audio encoders and the
 * outgoing streams that every receiver of that profile shares.
 *
 *   video tick (1/fps, per profile, drift-free on uv_hrtime):
 *     loop: take a reference to each site's latest picture, pick the layout
 *     worker: compose straight into the canvas, encode once
 *     loop: packetize once, send the same packets to every receiver of the profile
 *   audio tick (20 ms):
 *     loop: take each site's due audio packets
 *     worker: decode (PLC on gaps), mix, mix-minus for the top talkers, encode
 *             1 + talkers times per profile
 *     loop: send the shared mix to everyone but the talkers, each talker its own
 *
 * A tick whose previous job is still running is counted as missed and skipped: the
 * output frame rate never queues up behind a slow frame. Control changes (later: layout,
 * slots, mute) are applied at the start of a tick, on the loop: no lock on the media path.
 *
 * Ownership: mcu_conference_create copies the config; mcu_conference_stop closes every
 * handle; the conference is freed by mcu_conference_destroy after the loop has run the
 * close callbacks (uv_run returns).
 */
#ifndef MCU_CONFERENCE_H
#define MCU_CONFERENCE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "mcu/config.h"

/* Housekeeping period: PLI retries, receiver reports, sender reports. */
#define MCU_CONF_HOUSEKEEPING_MS 100
/* Sender reports per stream: once a second lets receivers lip-sync within a second of
 * joining while staying far under RFC 3550's 5% of the session bandwidth. */
#define MCU_CONF_SR_INTERVAL_MS 1000
/* Receivers' PLI/FIR are coalesced into at most one forced IDR per this period. */
#define MCU_CONF_IDR_MIN_INTERVAL_MS 1000

typedef struct mcu_conference mcu_conference_t;

typedef struct mcu_conference_stats {
    uint64_t video_ticks;
    uint64_t missed_ticks;      /* ticks skipped because the previous frame was not done */
    uint64_t frames_out;
    uint64_t forced_idrs;
    uint64_t audio_ticks;
    uint64_t audio_missed;
    /* Added delay: last packet of a source frame in -> first packet of the composite
     * carrying it out, in microseconds; p50 and p99 over the last window. */
    int64_t delay_p50_us, delay_p99_us;
    double cpu_s_per_frame;     /* process CPU seconds per output frame since start */
} mcu_conference_stats_t;

int mcu_conference_create(uv_loop_t *loop, const mcu_config_t *cfg, mcu_conference_t **out);
/* Writes each site's SDP into cfg->sdp_dir. */
int mcu_conference_write_sdp(mcu_conference_t *c);
/* Starts ticking. */
int mcu_conference_start(mcu_conference_t *c);
/* Closes every handle; the loop then ends once running jobs are back. */
void mcu_conference_stop(mcu_conference_t *c);
void mcu_conference_destroy(mcu_conference_t **c);

/* The fixed SSRCs announced in the SDPs: a profile's video, a site's audio. */
uint32_t mcu_conference_video_ssrc(int profile);
uint32_t mcu_conference_audio_ssrc(int site);

/* One site's counters, for the statistics output. */
typedef struct mcu_conference_site_stats {
    const char *id;
    uint64_t rtp_in;            /* RTP datagrams received */
    uint64_t dropped;           /* datagrams and payloads rejected, video + audio */
    uint64_t pictures;          /* good pictures decoded */
    uint64_t damaged;           /* pictures not shown */
    uint64_t rejected_source;
} mcu_conference_site_stats_t;

int mcu_conference_n_sites(const mcu_conference_t *c);
void mcu_conference_get_site_stats(const mcu_conference_t *c, int site,
                                   mcu_conference_site_stats_t *st);

void mcu_conference_get_stats(const mcu_conference_t *c, mcu_conference_stats_t *st);

#endif
