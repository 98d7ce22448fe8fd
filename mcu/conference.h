/*
 * conference: one conference on one libuv loop. It owns the sites, and for each output
 * profile the canvas, the composer, the ONE video encoder, the audio encoders and the
 * outgoing streams that every receiver of that profile shares.
 *
 *   video tick (1/fps, per profile, drift-free on uv_hrtime):
 *     loop: take a reference to each site's latest picture, pick the layout
 *     output thread (mcu/worker.h, never queued behind the sites' decodes in libuv's
 *     pool): compose straight into the canvas, encode once
 *     loop: packetize once, send the same packets to every receiver of the profile
 *   audio tick (20 ms):
 *     loop: take each site's due audio packets
 *     output thread: decode (PLC on gaps), mix, mix-minus for the top talkers, encode
 *             1 + talkers times per profile
 *     loop: send the shared mix to everyone but the talkers, each talker its own
 *
 * A tick whose previous job is still running is made right after it (late, counted in
 * late_ticks); a second one meanwhile is counted as missed and skipped: the output
 * frame rate never queues up behind a slow frame.
 *
 * Operator control (layout, slot modes, mutes, labels, gains: mcu/control.h) is set on
 * the loop with mcu_conference_set_control and takes effect at the start of the next
 * video tick (audio gains at the next audio tick): no lock on the media path, and a
 * layout change is just another composite (no forced keyframe, the encoder keeps its
 * rate). Who each slot shows is decided per tick by mcu/slots from the control state
 * and the speaker tracker (fed by every audio tick). The control state is saved to the
 * state file (config control.state_file) and restored at start.
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
#include "mcu/control.h"
#include "mcu/site.h"
#include "mcu/slots.h"

/* Housekeeping period: PLI retries, receiver reports, sender reports. */
#define MCU_CONF_HOUSEKEEPING_MS 100
/* Sender reports per stream: once a second lets receivers lip-sync within a second of
 * joining while staying far under RFC 3550's 5% of the session bandwidth. */
#define MCU_CONF_SR_INTERVAL_MS 1000
/* Receivers' PLI/FIR are coalesced into at most one forced IDR per this period. */
#define MCU_CONF_IDR_MIN_INTERVAL_MS 1000

typedef struct mcu_conference mcu_conference_t;

/* Added-delay histogram: one bucket per millisecond from 0 up to this, the last one
 * holding everything at or above it. 250 ms is four times the delay target at 25 fps:
 * anything beyond is a stall, whose exact length the per-site frozen counters tell. */
#define MCU_CONF_DELAY_HIST_MS 250

typedef struct mcu_conference_stats {
    uint64_t video_ticks;
    uint64_t missed_ticks;      /* ticks skipped: two came while a frame was being made */
    uint64_t late_ticks;        /* ticks made late, right after the frame before them */
    uint64_t frames_out;
    uint64_t forced_idrs;
    uint64_t audio_ticks;
    uint64_t audio_missed;
    /* Added delay: last packet of a source frame in -> first packet of the composite
     * carrying it out, in microseconds; p50 and p99 over the last window. */
    int64_t delay_p50_us, delay_p99_us;
    double cpu_s_per_frame;     /* process CPU seconds per output frame since start */
    /* Every delay sample since start: [k] counts those in [k, k+1) ms. */
    uint64_t delay_hist[MCU_CONF_DELAY_HIST_MS + 1];
} mcu_conference_stats_t;

int mcu_conference_create(uv_loop_t *loop, const mcu_config_t *cfg, mcu_conference_t **out);
/* The SDP describing what `site` receives, into out (cap bytes): length, or
 * MCU_ERR_STATE while its destination is not known (not configured, no media yet),
 * MCU_ERR_NOSPACE. */
int mcu_conference_site_sdp(mcu_conference_t *c, int site, char *out, size_t cap);
/* Writes the SDP of each site with a configured destination into cfg->sdp_dir. */
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
    uint64_t pictures;          /* pictures shown, clean or concealed */
    uint64_t concealed;         /* ... of them with the decoder's concealment */
    uint64_t damaged;           /* pictures not shown */
    uint64_t rejected_source;   /* not the site's (configured or latched) source */
    uint64_t srtp_auth_failures, srtp_replays, srtp_errors;
    uint64_t latches;           /* sources latched, first or take-over */
    uint64_t ssrc_rejected;     /* packets of an SSRC beyond the site's bound */
    uint64_t nack_seqs_sent;    /* missing video packets asked for */
    uint64_t nack_recovered;    /* ... that arrived after all */
    uint64_t rtx_packets;       /* RFC 4588 retransmissions received */
    uint64_t padding;           /* packets without payload (padding), received */
    uint64_t socket_drops;      /* datagrams the kernel dropped: receive buffer full */
    uint64_t plis_sent, firs_sent, tmmbrs_sent;
    int64_t wanted_bps;         /* the rate last asked of the site (TMMBR) */
    /* Output ticks (profile 0) where the site's tile was shown while it sent, and those
     * where its picture was older than 200 ms (a visible stall). */
    uint64_t frozen_ticks, shown_ticks;
    uint64_t repeated_ticks;    /* ... that showed the same picture as the tick before */
    int64_t playout_delay_us;   /* the site's playout delay (mcu/playout.h) */
    uint64_t playout_late;      /* pictures ready after their due time */
} mcu_conference_site_stats_t;

int mcu_conference_n_sites(const mcu_conference_t *c);
void mcu_conference_get_site_stats(const mcu_conference_t *c, int site,
                                   mcu_conference_site_stats_t *st);

void mcu_conference_get_stats(const mcu_conference_t *c, mcu_conference_stats_t *st);

/* ---- Operator control; every function here runs on the loop thread. */

/* What the conference tells its control server (all on the loop):
 *   TALKER      a = new active speaker, b = the previous one (-1: none)
 *   SITE_STATE  a = site, b = 1 live / 0 no signal
 *   LAYOUT      the layout or the slot modes of the control state changed (applied)
 *   SLOTS       who a slot shows changed */
typedef enum mcu_conf_event {
    MCU_CONF_EV_TALKER,
    MCU_CONF_EV_SITE_STATE,
    MCU_CONF_EV_LAYOUT,
    MCU_CONF_EV_SLOTS,
} mcu_conf_event_t;
typedef void (*mcu_conference_listener_fn)(void *opaque, mcu_conf_event_t ev, int a, int b);
void mcu_conference_set_listener(mcu_conference_t *c, mcu_conference_listener_fn fn, void *opaque);

const mcu_config_t *mcu_conference_config(const mcu_conference_t *c);
/* The latest control state: the one requested for the next tick if any, else the one in
 * force. Copy it, edit, and hand it back with mcu_conference_set_control. */
const mcu_control_t *mcu_conference_control(const mcu_conference_t *c);
void mcu_conference_set_control(mcu_conference_t *c, const mcu_control_t *ctl);
/* An IDR on every profile at the next tick (the usual coalescing applies). */
void mcu_conference_request_keyframe(mcu_conference_t *c);
/* Who each slot showed at the last tick (-1: nobody); returns the slot count.
 * showing holds MCU_LAYOUT_MAX_CELLS entries. */
int mcu_conference_showing(const mcu_conference_t *c, int *showing);
int mcu_conference_active_speaker(const mcu_conference_t *c);
/* The label shown for a site: the operator's, else the configured name. */
const char *mcu_conference_site_label(const mcu_conference_t *c, int site);

typedef enum mcu_site_state {
    MCU_SITE_STATE_WAITING,     /* nothing received yet */
    MCU_SITE_STATE_LIVE,
    MCU_SITE_STATE_NO_SIGNAL,   /* was there, silent for MCU_SITE_NO_SIGNAL_MS */
} mcu_site_state_t;

typedef struct mcu_conference_site_info {
    mcu_site_state_t state;
    double video_bps_in, audio_bps_in, bps_out;  /* over the last second */
    double fps;                 /* good pictures decoded per second, last second */
    int width, height;          /* of the latest picture; 0 if none */
    double video_loss;          /* fraction of packets lost, last second */
    double audio_loss;          /* since the start */
    int64_t video_lost;         /* packets, since the start */
    double video_jitter_ms, audio_jitter_ms;
    int64_t last_keyframe_ms_ago; /* -1: none yet */
    float level_dbfs;
    bool talking;
    uint64_t pictures;
    uint64_t pictures_concealed; /* of them, shown with the decoder's concealment */
    /* Why the site's video or audio is not taken ("unsupported codec: H.265"); "" when
     * nothing keeps it (mcu_site_problem). */
    char video_problem[MCU_SITE_PROBLEM_MAX], audio_problem[MCU_SITE_PROBLEM_MAX];
    mcu_drop_stats_t video_drops, audio_drops; /* datagrams and payloads rejected, by reason */
} mcu_conference_site_info_t;
void mcu_conference_site_info(const mcu_conference_t *c, int site, mcu_conference_site_info_t *info);

/* JPEGs for the control page. The callback runs on the loop exactly once per accepted
 * request; on success it owns `jpeg` (free()), otherwise jpeg is NULL and rc says why. */
typedef void (*mcu_conference_jpeg_cb)(void *opaque, int rc, uint8_t *jpeg, size_t len);
/* The next composite of the first profile, at most max_w wide (0: full size).
 * MCU_ERR_BUSY when too many wait; the callback may run before this returns (a
 * fresh cached picture). */
int mcu_conference_preview_jpeg(mcu_conference_t *c, int max_w, mcu_conference_jpeg_cb cb,
                                void *opaque);
/* A site's latest decoded picture. MCU_ERR_NOTFOUND: it has none; MCU_ERR_BUSY. */
int mcu_conference_snapshot_jpeg(mcu_conference_t *c, int site, int max_w,
                                 mcu_conference_jpeg_cb cb, void *opaque);

/* A reloaded config (SIGHUP): names, the layout default and the speaker settings
 * change live; a change to sites' ports or addresses, to the site list or to the
 * profiles needs a restart and is refused (MCU_ERR_CONFIG, why says what), the old
 * config staying in force. */
int mcu_conference_reload(mcu_conference_t *c, const mcu_config_t *cfg, char *why, size_t why_size);

#endif
