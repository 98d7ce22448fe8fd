/*
 * site: one site of the conference, on the loop thread: its sockets, its receive path
 * for video and audio (rx_stream), its video decoded off the loop (video_in), its
 * pictures on their schedule (playout), and the keyframe requests it is owed.
 *
 *   datagram -> source check -> SRTP unprotect -> SSRC table -> RTP: rx_stream -> frames
 *            -> video_in queue -> worker;   RTCP: parsed, feedback handed to the conference
 *   worker done (uv_after_work, on the loop) -> playout -> the picture of each tick
 *
 * Who may send (against RTP bleed and injection), per media (video, audio):
 *   - a configured source address is enforced: anything else is dropped and counted;
 *   - otherwise the first source to prove itself is latched and locked: with SRTP, the
 *     first packet that authenticates; with plain RTP, MCU_SITE_LATCH_PLAIN_PACKETS
 *     packets with consecutive sequence numbers from one address:port (those packets are
 *     kept and delivered once it is latched). Packets from any other address are dropped
 *     without any crypto work while the latched source is active. Once it has been quiet
 *     for MCU_SITE_LATCH_QUIET_MS, another source may take over by the same rule.
 *   - RTCP is accepted from the latched host (any port: RTCP may come from port+1) or the
 *     host the composite goes to, and with SRTP only when it authenticates (before any
 *     source is latched, authenticated SRTCP from anywhere).
 * SRTP (libsrtp2, mcu/srtp_session): one inbound session with the site's key; one
 * outbound session with the key announced in the site's SDP, so each receiver of the
 * composite has its own context. Unprotect failures are dropped and counted, never more.
 * At most MCU_SITE_MAX_SSRCS SSRCs are tracked per site; a new one evicts one that has
 * been quiet for MCU_SITE_SSRC_QUIET_MS, else it is dropped.
 *
 * Feedback the site is sent: NACK for missing video packets as soon as they are noticed
 * (mcu/nack_gen: retries, age and list bounds), PLI for broken pictures (at most one per
 * MCU_SITE_PLI_RETRY_MS; FIR after MCU_SITE_FIR_AFTER_PLIS unanswered PLIs), a receiver
 * report every second, and TMMBR with the rate its tile needs (mcu_site_set_wanted_bps).
 *
 * One site's access units are decoded in order by one worker at a time: the queue lives
 * on the loop, a worker gets the batch queued so far, the next batch starts when it is
 * back. The decoder is touched only by that worker. Pictures are references owned by the
 * site's playout on the loop; the compose step takes its own reference.
 *
 * Keyframe requests: a damaged or missing frame sends a PLI at once, then every
 * MCU_SITE_PLI_RETRY_MS while the decoder waits for an IDR, never more often than that.
 *
 * Ownership: the conference creates and destroys sites; a site frees itself only after
 * every uv handle it holds has closed (mcu_site_close, then the callback).
 */
#ifndef MCU_SITE_H
#define MCU_SITE_H

#include <libavutil/frame.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "layouts/layout.h"
#include "mcu/config.h"
#include "mcu/playout.h"
#include "mcu/rtcp.h"
#include "mcu/rtp.h"
#include "mcu/rx_stream.h"

/* A site silent this long shows a "no signal" tile (or what keeps its media from being
 * taken: mcu_site_problem). */
#define MCU_SITE_NO_SIGNAL_MS 2000
/* PLI retry while waiting for a keyframe; also the minimum PLI spacing (2 per second). */
#define MCU_SITE_PLI_RETRY_MS 500
/* Nice value of the threads that decode (libuv's pool), set on their first decode: the
 * output thread (mcu/worker.h) and the loop run at the process's own priority and take
 * the cores first when both are wanted, so a burst of decoding (every site's IDR at
 * once) lengthens the queue of one site's pictures, never a tick's compose + encode.
 * 5 gives a decoder a third of the share of a thread at 0 under the kernel's fair
 * scheduler; raising one's own nice value needs no privilege. */
#define MCU_SITE_DECODE_NICE 5
/* The MCU's own SSRC as a receiver of site i (RTCP sender SSRC of RR/PLI/NACK). */
#define MCU_SITE_LOCAL_SSRC_BASE 0x4D430100u
/* Receiver reports to the site: RFC 3550 allows 5% of the session bandwidth; one compound
 * a second is far below that and keeps the sender's statistics fresh. */
#define MCU_SITE_RR_INTERVAL_MS 1000
/* Plain RTP latches a source after this many packets with consecutive sequence numbers
 * from one address:port (RFC 3550 probation needs 2): stray datagrams, scanners and junk
 * never qualify. It cannot stop someone who sends a well-formed stream while the site is
 * quiet; that is what SRTP is for, and plain RTP is only where a site's config says so. */
#define MCU_SITE_LATCH_PLAIN_PACKETS 4
/* A latched source silent this long may be replaced (a site that moved or restarted):
 * long enough that jitter or a short outage never hands the stream to someone else. */
#define MCU_SITE_LATCH_QUIET_MS 3000
/* SSRCs tracked per site: video, its RTX stream, audio, and one newcomer. */
#define MCU_SITE_MAX_SSRCS 4
/* An SSRC silent this long may be evicted for a new one. */
#define MCU_SITE_SSRC_QUIET_MS 2000
/* A PLI unanswered this many times becomes a FIR (RFC 5104), which some encoders honour
 * when they ignore PLI. */
#define MCU_SITE_FIR_AFTER_PLIS 3
/* TMMBR is sent when the wanted rate changes and repeated this often (RFC 5104 4.2.1:
 * the request holds until answered; repeating covers a lost packet). */
#define MCU_SITE_TMMBR_INTERVAL_MS 5000
/* Packets mcu_site_send_many protects and sends per system call: the most a composite
 * stream hands over at once (MCU_TX_SEND_BATCH); each needs a protected copy (~1.6 KiB)
 * kept in the site. */
#define MCU_SITE_SEND_BATCH 16
/* Receive buffers and jitter-buffer bounds follow the site's limits: mcu/site_limits.h. */
/* Missing sequence numbers sent in one NACK at most (fits a 256-byte RTCP compound). */
#define MCU_SITE_NACK_BATCH 32
typedef struct mcu_site mcu_site_t;

/* What a site tells its conference. All called on the loop thread. */
typedef struct mcu_site_events {
    void *opaque;
    /* The site, as a receiver of the composite, asks for a keyframe (PLI or FIR). */
    void (*keyframe_request)(void *opaque, mcu_site_t *site, bool video);
    /* The site reports lost packets of the stream it receives. */
    void (*nack)(void *opaque, mcu_site_t *site, bool video, const uint16_t *seqs, size_t n);
    /* A receiver report block about a stream the site receives. */
    void (*report)(void *opaque, mcu_site_t *site, bool video, const mcu_rtcp_report_block_t *rb);
    /* A REMB/TMMBR bitrate estimate from the site (bps). */
    void (*bitrate)(void *opaque, mcu_site_t *site, uint64_t bps);
    /* A new good picture is the site's latest. */
    void (*picture)(void *opaque, mcu_site_t *site);
} mcu_site_events_t;

typedef struct mcu_site_stats {
    uint64_t rtp_in, rtcp_in, bytes_in;
    uint64_t socket_drops;      /* datagrams the kernel dropped: receive buffer full */
    uint64_t rejected_source;   /* datagrams from an address that is not the site's */
    uint64_t srtp_auth_failures;    /* SRTP/SRTCP that did not authenticate */
    uint64_t srtp_replays;          /* ... replayed */
    uint64_t srtp_errors;           /* ... other unprotect failures */
    uint64_t latches;               /* sources latched (first or take-over) */
    uint64_t ssrc_rejected;         /* packets of an SSRC beyond MCU_SITE_MAX_SSRCS */
    uint64_t nack_seqs_sent;        /* sequence numbers asked for */
    uint64_t nacks_sent;            /* NACK packets */
    uint64_t firs_sent;
    uint64_t tmmbrs_sent;
    uint64_t decode_dropped;    /* access units dropped: decode queue full */
    uint64_t pictures;          /* pictures shown (clean or concealed) */
    uint64_t concealed;         /* ... of them shown with the decoder's concealment */
    uint64_t damaged;           /* pictures not shown */
    uint64_t plis_sent;
} mcu_site_stats_t;

/* Creates the site and binds its sockets on the loop (0.0.0.0 and the configured ports).
 * MCU_ERR_IO if a port cannot be bound. `events` must outlive the site. */
int mcu_site_create(uv_loop_t *loop, const mcu_site_config_t *cfg, int index,
                    const mcu_site_events_t *events, mcu_site_t **out);

/* Starts closing; `done` runs once every handle has closed and the site is freed. */
void mcu_site_close(mcu_site_t *site, void (*done)(void *opaque), void *opaque);

const mcu_site_config_t *mcu_site_config(const mcu_site_t *site);
int mcu_site_index(const mcu_site_t *site);

/* The picture for an output tick at t_us (the tick's own time on its grid): the newest
 * due by then on the site's schedule (mcu/playout.h), else the one before; NULL before
 * the first. Called by each profile's tick. The frame belongs to the site: take a
 * reference (av_frame_ref) to keep it past the next call on the site. */
const AVFrame *mcu_site_picture_at(mcu_site_t *site, int64_t t_us);
/* The newest picture decoded (shown or not yet): for snapshots. NULL if none. Same
 * ownership. */
const AVFrame *mcu_site_picture(const mcu_site_t *site);
/* Whether the site is live at now_us. */
bool mcu_site_live(const mcu_site_t *site, int64_t now_us);
/* When the access unit of the picture on the tile arrived (its last packet), in
 * uv_hrtime µs, and a number that changes with each new picture on the tile. */
int64_t mcu_site_picture_arrival(const mcu_site_t *site);
uint64_t mcu_site_picture_seq(const mcu_site_t *site);
/* Where the conference shows the site in `profile` (0..MCU_MAX_PROFILES-1; a 0x0 cell:
 * not shown), on the loop. The decode worker then attaches to each new picture the
 * halvings the composer takes for the largest of them (layouts/pyramid.h), while the
 * picture is still in its cache; from the next decode batch on. */
void mcu_site_set_tile(mcu_site_t *site, int profile, mcu_rect_t cell, mcu_fit_t fit);

/* Moves up to `max` audio packets due at now_us (the audio jitter buffer paces them)
 * into the caller's array, copied. lost_before > 0: that many packets were lost just
 * before this one (the decoder conceals them). Returns how many. Called by the audio
 * tick on the loop. */
typedef struct mcu_site_audio_packet {
    uint8_t data[MCU_RTP_MAX_DATAGRAM];
    uint16_t len;
    uint32_t lost_before;
} mcu_site_audio_packet_t;
int mcu_site_take_audio(mcu_site_t *site, int64_t now_us, mcu_site_audio_packet_t *pkts, int max);

/* Where the composite goes: configured, or learned from the site's media (symmetric
 * RTP). False while unknown. */
bool mcu_site_dest(const mcu_site_t *site, bool video, struct sockaddr_in *rtp,
                   struct sockaddr_in *rtcp);

/* Sends a datagram to the site from its own socket (so NATs and firewalls see the port
 * the site sends to). video picks the video or audio socket; rtcp the RTCP socket. */
int mcu_site_send(mcu_site_t *site, bool video, bool rtcp, const uint8_t *data, size_t len);

/* Sends n RTP packets to the site in order from its video or audio RTP socket, each
 * protected with the site's own SRTP context, in one system call per
 * MCU_SITE_SEND_BATCH packets (sendmmsg). The packets are not modified. Returns how many
 * went out (a packet that fails to protect or is over MCU_RTP_MAX_DATAGRAM is skipped),
 * or MCU_ERR_STATE while the site's address is unknown. */
int mcu_site_send_many(mcu_site_t *site, bool video, const uint8_t *const *pkts,
                       const size_t *lens, int n);

/* The rate the site should send its video at (the tile it is shown in): sent as TMMBR
 * when it changes and repeated every MCU_SITE_TMMBR_INTERVAL_MS. */
void mcu_site_set_wanted_bps(mcu_site_t *site, int64_t bps);
int64_t mcu_site_wanted_bps(const mcu_site_t *site);

/* The key the MCU protects what it sends this site with (NULL for plain RTP). */
const mcu_srtp_key_t *mcu_site_send_key(const mcu_site_t *site);

/* Periodic housekeeping (PLI retries, RTCP RR to the site, the kernel's drop counts):
 * call every ~100 ms. */
void mcu_site_housekeeping(mcu_site_t *site, int64_t now_us);

/* What keeps the site's video or audio from being taken at now_us, in words short enough
 * for a tile ("unsupported codec: H.265", "VP8 sent, H.264 expected", "Opus on PT 100,
 * not configured", "PT 100 not configured"), written into buf; false (buf "") when
 * nothing does. Each problem is logged once when it starts, with what is configured
 * (mcu_site_housekeeping). */
#define MCU_SITE_PROBLEM_MAX 64
bool mcu_site_problem(const mcu_site_t *site, bool video, int64_t now_us, char *buf, size_t cap);

const mcu_site_stats_t *mcu_site_stats(const mcu_site_t *site);
void mcu_site_playout_stats(const mcu_site_t *site, mcu_playout_stats_t *st);
const mcu_rx_stream_t *mcu_site_rx(const mcu_site_t *site, bool video);

#endif
