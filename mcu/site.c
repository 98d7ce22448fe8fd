/* sendmmsg */
#define _GNU_SOURCE
#include "site.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "codecs/h264_rtp.h"
#include "codecs/opus_rtp.h"
#include "layouts/composer.h"
#include "layouts/pyramid.h"
#include "mcu/error.h"
#include "mcu/log.h"
#include "mcu/playout.h"
#include "mcu/site_limits.h"
#include "mcu/rtp_stats.h"
#include "mcu/srtp_session.h"
#include "mcu/stage_clock.h"
#include "mcu/video_in.h"

#define US_PER_MS 1000
/* Largest RTCP compound the site is sent: RR (32) + FIR (20) + a NACK of
 * MCU_SITE_NACK_BATCH scattered sequence numbers (12 + 4 x 32) + TMMBR (20) = 212 bytes,
 * rounded up, plus the SRTCP trailer. */
#define SITE_RTCP_BUF (256 + MCU_SRTP_MAX_OVERHEAD)

/* Plain RTP candidates tracked at once per media: each address:port counts its own run
 * of consecutive sequence numbers, so junk from other addresses cannot keep resetting a
 * genuine sender's run. A newcomer replaces the least recently heard candidate. */
#define SITE_LATCH_CANDIDATES 4

/* A plain RTP candidate, with its packets kept to be delivered once it is latched. */
typedef struct candidate {
    bool used;
    struct sockaddr_in addr;
    uint16_t seq;
    int n;
    int64_t last_us;
    uint16_t held_len[MCU_SITE_LATCH_PLAIN_PACKETS];
    uint8_t held[MCU_SITE_LATCH_PLAIN_PACKETS][MCU_RTP_MAX_DATAGRAM];
} candidate_t;

/* The source of one media (video or audio) and the candidates that may replace it. */
typedef struct latch {
    bool locked;
    struct sockaddr_in addr;
    int64_t last_us;            /* last accepted packet from it */
    candidate_t cand[SITE_LATCH_CANDIDATES];
} latch_t;

/* RFC 5104 "measured overhead" of a TMMBR: IPv4 + UDP + RTP headers per packet. */
#define SITE_TMMBR_OVERHEAD 40

typedef struct ssrc_slot {
    bool used;
    uint32_t ssrc;
    int64_t last_us;
} ssrc_slot_t;

typedef struct site_sock {
    uv_udp_t handle;
    mcu_site_t *site;
    bool video;                 /* video or audio session */
    bool rtcp;                  /* RTCP-only socket (no rtcp-mux) */
    bool open;
} site_sock_t;

/* What a worker decodes and gives back. */
typedef struct decode_batch {
    uv_work_t work;
    mcu_site_t *site;
    mcu_video_in_batch_t units;
    mcu_video_in_picture_t shown[MCU_VIDEO_IN_QUEUE]; /* pictures for the playout */
    int n_shown;
    mcu_rect_t tiles[MCU_MAX_PROFILES]; /* where the site is shown (mcu_site_set_tile) */
    mcu_fit_t fit;
    bool needs_keyframe;
} decode_batch_t;

/* A protected copy of one datagram, rounded up so that every row of a batch stays
 * word-aligned for libsrtp. */
#define TX_ROW ((MCU_RTP_MAX_DATAGRAM + MCU_SRTP_MAX_OVERHEAD + 7) & ~7)

enum { SOCK_VIDEO_RTP, SOCK_AUDIO_RTP, SOCK_VIDEO_RTCP, SOCK_AUDIO_RTCP, SOCK_MAX };

struct mcu_site {
    uv_loop_t *loop;
    mcu_site_config_t cfg;
    int index;
    const mcu_site_events_t *ev;
    site_sock_t socks[SOCK_MAX];
    uv_timer_t poll_timer;
    bool poll_timer_open;
    /* Word-aligned: libsrtp reads packets as 32-bit words. */
    _Alignas(8) uint8_t rxbuf[MCU_RTP_MAX_DATAGRAM + 1]; /* +1 shows oversize datagrams */
    _Alignas(8) uint8_t txbuf[MCU_RTP_MAX_DATAGRAM + MCU_SRTP_MAX_OVERHEAD]; /* one protected copy */
    _Alignas(8) uint8_t txbatch[MCU_SITE_SEND_BATCH][TX_ROW]; /* mcu_site_send_many's copies */

    mcu_srtp_t *srtp_in, *srtp_out;     /* NULL for plain RTP */
    latch_t latch[2];                   /* [1] video, [0] audio */
    ssrc_slot_t ssrcs[MCU_SITE_MAX_SSRCS];
    int plis_unanswered;
    int64_t wanted_bps, tmmbr_sent_bps, last_tmmbr_us;
    mcu_log_limit_t log_source, log_srtp, log_ssrc, log_drops;
    int rcvbuf_bytes;           /* the video socket's receive buffer, as the kernel gave it */
    mcu_rx_problem_t logged_problem[2]; /* the last problem logged, per media */

    mcu_rx_stream_t *rx[2];     /* [1] video, [0] audio */
    bool have_src[2];
    struct sockaddr_in src_rtp[2];
    bool have_src_rtcp[2];
    struct sockaddr_in src_rtcp[2];

    mcu_video_in_t *vin;        /* admission on the loop, decoding on the worker */
    mcu_pyramid_pool_t *pyramid; /* the worker's: halvings of each new picture */
    mcu_rect_t tiles[MCU_MAX_PROFILES]; /* the conference's, for the next batch */
    mcu_fit_t fit;
    decode_batch_t *batch;      /* non-NULL while a worker decodes */

    mcu_playout_t *playout;     /* decoded pictures, on the site's schedule */
    int64_t showing_arrival_us; /* the playout's pick at the last tick */
    uint64_t showing_seq;
    int64_t last_video_us;
    bool want_keyframe;
    int64_t last_pli_us;
    int64_t last_rr_us;

    int pending_closes;
    bool closing;
    void (*done)(void *opaque);
    void *done_opaque;
    mcu_site_stats_t stats;
};

static int64_t now_us(const mcu_site_t *s) { return (int64_t)(uv_hrtime() / 1000); }

static uint32_t local_ssrc(const mcu_site_t *s) { return MCU_SITE_LOCAL_SSRC_BASE + (uint32_t)s->index; }

/* ---------------------------------------------------------------- keyframes */

enum { FB_NONE, FB_PLI, FB_FIR };

/* One RTCP compound to the site: RR about its stream, then the feedback asked for. */
static void send_rtcp_fb(mcu_site_t *s, bool video, int keyframe, const uint16_t *seqs,
                         size_t n, int64_t tmmbr_bps)
{
    const mcu_rtp_stats_t *src = mcu_rx_stream_source(s->rx[video]);
    if (!src)
        return;
    uint8_t buf[SITE_RTCP_BUF];
    mcu_rtcp_writer_t w;
    mcu_rtcp_writer_init(&w, buf, sizeof buf);
    mcu_rtcp_report_block_t rb;
    mcu_rtp_stats_t copy = *src; /* reporting must not reset the stream's interval */
    mcu_rtp_stats_report(&copy, now_us(s), &rb);
    mcu_rtcp_write_rr(&w, local_ssrc(s), &rb, 1);
    if (keyframe == FB_PLI)
        mcu_rtcp_write_pli(&w, local_ssrc(s), src->ssrc);
    else if (keyframe == FB_FIR)
        mcu_rtcp_write_fir(&w, local_ssrc(s), src->ssrc, (uint8_t)s->stats.firs_sent);
    if (n)
        mcu_rtcp_write_nack(&w, local_ssrc(s), src->ssrc, seqs, n);
    if (tmmbr_bps > 0)
        mcu_rtcp_write_tmmbr(&w, local_ssrc(s), src->ssrc, (uint64_t)tmmbr_bps,
                             SITE_TMMBR_OVERHEAD);
    size_t len;
    if (mcu_rtcp_writer_finish(&w, &len) == MCU_OK)
        mcu_site_send(s, video, true, buf, len);
}

static void request_keyframe(mcu_site_t *s, int64_t now)
{
    if (!mcu_rx_stream_codec_confirmed(s->rx[1]))
        return; /* never feedback for a stream that may be another codec */
    s->want_keyframe = true;
    if (now - s->last_pli_us < MCU_SITE_PLI_RETRY_MS * US_PER_MS)
        return;
    s->last_pli_us = now;
    bool fir = ++s->plis_unanswered > MCU_SITE_FIR_AFTER_PLIS;
    if (fir) {
        s->stats.firs_sent++;
        s->plis_unanswered = 0;
    } else {
        s->stats.plis_sent++;
    }
    send_rtcp_fb(s, true, fir ? FB_FIR : FB_PLI, NULL, 0, 0);
}

/* Sends the NACKs that are due for the video stream. */
static void send_nacks(mcu_site_t *s, int64_t now)
{
    uint16_t seqs[MCU_SITE_NACK_BATCH];
    size_t n = mcu_rx_stream_nacks(s->rx[1], now, seqs, MCU_SITE_NACK_BATCH);
    if (!n)
        return;
    s->stats.nack_seqs_sent += n;
    s->stats.nacks_sent++;
    send_rtcp_fb(s, true, FB_NONE, seqs, n, 0);
}

/* ---------------------------------------------------------------- decoding */

/* Once per decoding thread: below the output path (MCU_SITE_DECODE_NICE). */
static void lower_decode_priority(void)
{
    static _Thread_local bool done;
    if (done)
        return;
    done = true;
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), MCU_SITE_DECODE_NICE);
}

static void decode_work(uv_work_t *w)
{
    decode_batch_t *b = w->data;
    mcu_video_in_t *vin = b->site->vin;
    lower_decode_priority();
    mcu_stage_enter(MCU_STAGE_DECODE);
    for (int i = 0; i < b->units.n; i++)
        b->n_shown += mcu_video_in_decode(vin, &b->units.aus[i], &b->shown[b->n_shown]);
    b->needs_keyframe = mcu_video_in_needs_keyframe(vin);
    /* While the pictures are in this core's cache: the halvings their tiles will take. */
    mcu_stage_enter(MCU_STAGE_COMPOSE);
    for (int k = 0; k < b->n_shown; k++) {
        AVFrame *pic = b->shown[k].frame;
        int levels = 0;
        for (int p = 0; p < MCU_MAX_PROFILES; p++) {
            int n = mcu_composer_halvings(pic->width, pic->height, b->tiles[p], b->fit);
            levels = n > levels ? n : levels;
        }
        (void)mcu_pyramid_attach(b->site->pyramid, pic, levels); /* else: at the tick */
    }
    mcu_stage_leave();
    mcu_stage_leave();
}

static void start_decode(mcu_site_t *s);

static void decode_done(uv_work_t *w, int status)
{
    decode_batch_t *b = w->data;
    mcu_site_t *s = b->site;
    mcu_video_in_batch_free(&b->units);
    s->batch = NULL;
    int64_t now = now_us(s);
    for (int k = 0; k < b->n_shown; k++) {
        mcu_video_in_picture_t *pic = &b->shown[k];
        if (s->closing) {
            av_frame_free(&pic->frame);
            continue;
        }
        mcu_playout_push(s->playout, &pic->frame, pic->timestamp, pic->arrival_us, now);
    }
    const mcu_video_in_stats_t *vs = mcu_video_in_stats(s->vin);
    s->stats.pictures = vs->clean + vs->concealed;
    s->stats.concealed = vs->concealed;
    s->stats.damaged = vs->held + vs->skipped;
    s->stats.decode_dropped = vs->queue_dropped;
    if (b->n_shown && !b->needs_keyframe) {
        s->want_keyframe = false;
        s->plis_unanswered = 0;
    }
    bool needs = b->needs_keyframe;
    free(b);
    if (s->closing) {
        mcu_site_close(s, s->done, s->done_opaque); /* resume closing */
        return;
    }
    if (needs)
        request_keyframe(s, now);
    start_decode(s);
}

static void start_decode(mcu_site_t *s)
{
    if (s->batch || s->closing)
        return;
    decode_batch_t *b = calloc(1, sizeof *b);
    if (!b)
        return;
    if (mcu_video_in_take(s->vin, &b->units) == 0) {
        free(b);
        return;
    }
    b->site = s;
    memcpy(b->tiles, s->tiles, sizeof b->tiles);
    b->fit = s->fit;
    b->work.data = b;
    s->batch = b;
    if (uv_queue_work(s->loop, &b->work, decode_work, decode_done) != 0) {
        mcu_video_in_batch_free(&b->units);
        free(b);
        s->batch = NULL;
    }
}

/* Takes every video frame that is due out of the jitter buffer (video_in.h decides what
 * is decoded and when a keyframe is asked for). */
static void poll_video(mcu_site_t *s, int64_t now)
{
    mcu_rx_frame_t f;
    while (mcu_rx_stream_poll(s->rx[1], now, &f) == MCU_OK) {
        s->last_video_us = now;
        if (f.keyframe_needed)
            mcu_playout_reset(s->playout); /* a new stream, a new schedule */
        if (mcu_video_in_admit(s->vin, &f))
            request_keyframe(s, now);
    }
    start_decode(s);
}

static void arm_poll_timer(mcu_site_t *s, int64_t now);

static void on_poll_timer(uv_timer_t *t)
{
    mcu_site_t *s = t->data;
    int64_t now = now_us(s);
    mcu_stage_enter(MCU_STAGE_JITTER);
    send_nacks(s, now);
    poll_video(s, now);
    arm_poll_timer(s, now);
    mcu_stage_leave();
}

/* The timer wakes for the jitter buffer's next frame or the next due NACK retry. */
static void arm_poll_timer(mcu_site_t *s, int64_t now)
{
    int64_t next = mcu_rx_stream_next_deadline(s->rx[1]);
    int64_t nack = mcu_rx_stream_nack_due(s->rx[1]);
    if (nack < next)
        next = nack;
    if (next == INT64_MAX || s->closing)
        return;
    int64_t wait_ms = next > now ? (next - now + US_PER_MS - 1) / US_PER_MS : 0;
    uv_timer_start(&s->poll_timer, on_poll_timer, (uint64_t)wait_ms, 0);
}

/* ---------------------------------------------------------------- RTCP from the site */

static void on_rtcp(mcu_site_t *s, bool video, const uint8_t *d, size_t len)
{
    if (mcu_rtcp_validate(d, len) < 0)
        return; /* counted by the caller as an RTCP datagram; malformed ones are ignored */
    mcu_rtcp_iter_t it;
    mcu_rtcp_packet_t p;
    mcu_rtcp_iter_init(&it, d, len);
    while (mcu_rtcp_next(&it, &p) > 0) {
        switch (p.type) {
        case MCU_RTCP_SR:
        case MCU_RTCP_RR:
            for (int i = 0; i < p.u.report.count && s->ev->report; i++)
                s->ev->report(s->ev->opaque, s, video, &p.u.report.blocks[i]);
            break;
        case MCU_RTCP_PSFB:
            if ((p.fmt == MCU_RTCP_PSFB_PLI || p.fmt == MCU_RTCP_PSFB_FIR) &&
                s->ev->keyframe_request)
                s->ev->keyframe_request(s->ev->opaque, s, video);
            if (p.fmt == MCU_RTCP_PSFB_AFB && s->ev->bitrate) {
                uint64_t bps;
                size_t n;
                if (mcu_rtcp_remb_parse(&p, &bps, NULL, 0, &n) == MCU_OK)
                    s->ev->bitrate(s->ev->opaque, s, bps);
            }
            break;
        case MCU_RTCP_RTPFB:
            if (p.fmt == MCU_RTCP_RTPFB_NACK && s->ev->nack) {
                uint16_t seqs[MCU_RTCP_NACK_EXPAND_MAX];
                size_t n = mcu_rtcp_nack_expand(&p, seqs, MCU_RTCP_NACK_EXPAND_MAX);
                if (n > MCU_RTCP_NACK_EXPAND_MAX)
                    n = MCU_RTCP_NACK_EXPAND_MAX;
                s->ev->nack(s->ev->opaque, s, video, seqs, n);
            } else if (p.fmt == MCU_RTCP_RTPFB_TMMBR && s->ev->bitrate &&
                       mcu_rtcp_tmmb_count(&p) > 0) {
                uint32_t ssrc;
                uint64_t bps;
                uint16_t overhead;
                mcu_rtcp_tmmb_get(&p, 0, &ssrc, &bps, &overhead);
                s->ev->bitrate(s->ev->opaque, s, bps);
            }
            break;
        default:
            break;
        }
    }
}

/* ---------------------------------------------------------------- sockets */

static bool same_addr(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
    return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

static bool source_allowed(const mcu_site_t *s, const struct sockaddr_in *a)
{
    if (!s->cfg.has_source)
        return true;
    if (a->sin_addr.s_addr != s->cfg.source.sin_addr.s_addr)
        return false;
    return s->cfg.source.sin_port == 0 || s->cfg.source.sin_port == a->sin_port;
}

static void reject_source(mcu_site_t *s, const struct sockaddr_in *from, int64_t now)
{
    s->stats.rejected_source++;
    char ip[INET_ADDRSTRLEN] = "?";
    if (mcu_log_enabled(MCU_LOG_WARN))
        uv_ip4_name(from, ip, sizeof ip);
    char obj[MCU_ID_MAX + 8];
    snprintf(obj, sizeof obj, "site %s", s->cfg.id);
    mcu_log_limited(&s->log_source, now, MCU_LOG_WARN, obj,
                    "dropped media from %s:%u: not the site's source", ip,
                    (unsigned)ntohs(from->sin_port));
}

/* Counts an unprotect failure; the packet is dropped and nothing else happens. */
static void srtp_failed(mcu_site_t *s, int rc, int64_t now)
{
    if (rc == MCU_ERR_AUTH)
        s->stats.srtp_auth_failures++;
    else if (rc == MCU_ERR_REPLAY)
        s->stats.srtp_replays++;
    else
        s->stats.srtp_errors++;
    char obj[MCU_ID_MAX + 8];
    snprintf(obj, sizeof obj, "site %s", s->cfg.id);
    mcu_log_limited(&s->log_srtp, now, MCU_LOG_WARN, obj, "SRTP packet dropped: %s",
                    mcu_strerror(rc));
}

/* The SSRCs the receive streams follow now: never evicted, so a paused camera keeps its
 * SRTP rollover counter and replay window. */
static bool ssrc_in_use(const mcu_site_t *s, uint32_t ssrc)
{
    for (int v = 0; v < 2; v++) {
        const mcu_rtp_stats_t *src = mcu_rx_stream_source(s->rx[v]);
        uint32_t rtx;
        if ((src && src->ssrc == ssrc) || (mcu_rx_stream_rtx_ssrc(s->rx[v], &rtx) && rtx == ssrc))
            return true;
    }
    return false;
}

/* Admits an RTP packet's SSRC into the site's bounded table. */
static bool ssrc_admit(mcu_site_t *s, uint32_t ssrc, int64_t now)
{
    ssrc_slot_t *free_slot = NULL, *quiet = NULL;
    for (int i = 0; i < MCU_SITE_MAX_SSRCS; i++) {
        ssrc_slot_t *t = &s->ssrcs[i];
        if (t->used && t->ssrc == ssrc) {
            t->last_us = now;
            return true;
        }
        if (!t->used && !free_slot)
            free_slot = t;
        if (t->used && now - t->last_us > MCU_SITE_SSRC_QUIET_MS * US_PER_MS &&
            !ssrc_in_use(s, t->ssrc) && (!quiet || t->last_us < quiet->last_us))
            quiet = t;
    }
    ssrc_slot_t *t = free_slot ? free_slot : quiet;
    if (!t) {
        s->stats.ssrc_rejected++;
        if (s->srtp_in)
            mcu_srtp_forget_ssrc(s->srtp_in, ssrc);
        char obj[MCU_ID_MAX + 8];
        snprintf(obj, sizeof obj, "site %s", s->cfg.id);
        mcu_log_limited(&s->log_ssrc, now, MCU_LOG_WARN, obj,
                        "SSRC %08x dropped: %d SSRCs already active", (unsigned)ssrc,
                        MCU_SITE_MAX_SSRCS);
        return false;
    }
    if (t->used && s->srtp_in)
        mcu_srtp_forget_ssrc(s->srtp_in, t->ssrc);
    *t = (ssrc_slot_t){.used = true, .ssrc = ssrc, .last_us = now};
    return true;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    site_sock_t *sk = h->data;
    *buf = uv_buf_init((char *)sk->site->rxbuf, sizeof sk->site->rxbuf);
}

/* An RTP datagram (already unprotected) from an accepted source. */
static bool deliver_rtp(mcu_site_t *s, bool video, const struct sockaddr_in *from, uint8_t *d,
                        size_t len, int64_t now)
{
    mcu_rtp_packet_t p;
    if (mcu_rtp_parse(d, len, &p) == MCU_OK && !ssrc_admit(s, p.ssrc, now))
        return false;
    s->stats.rtp_in++;
    mcu_stage_enter(MCU_STAGE_JITTER);
    if (mcu_rx_stream_input(s->rx[video], d, len, now) == MCU_OK) {
        /* Symmetric RTP: the composite goes back where accepted media comes from. */
        s->src_rtp[video] = *from;
        s->have_src[video] = true;
    }
    if (video) {
        send_nacks(s, now);
        poll_video(s, now);
        arm_poll_timer(s, now);
    }
    mcu_stage_leave();
    return true;
}

static void latch_to(mcu_site_t *s, latch_t *l, const struct sockaddr_in *from, int64_t now,
                     bool video)
{
    l->locked = true;
    l->addr = *from;
    l->last_us = now;
    s->have_src_rtcp[video] = false; /* feedback follows the new source until it sends RTCP */
    for (int i = 0; i < SITE_LATCH_CANDIDATES; i++)
        l->cand[i].used = false;
    s->stats.latches++;
    char ip[INET_ADDRSTRLEN] = "?";
    uv_ip4_name(from, ip, sizeof ip);
    char obj[MCU_ID_MAX + 8];
    snprintf(obj, sizeof obj, "site %s", s->cfg.id);
    mcu_log(MCU_LOG_INFO, obj, "%s source latched: %s:%u", video ? "video" : "audio", ip,
            (unsigned)ntohs(from->sin_port));
}

/* Plain RTP from a source that is not latched: a candidate after consecutive packets. */
static void plain_candidate(mcu_site_t *s, bool video, const struct sockaddr_in *from,
                            const uint8_t *d, size_t len, int64_t now)
{
    latch_t *l = &s->latch[video];
    mcu_rtp_packet_t p;
    if (mcu_rtp_parse(d, len, &p) != MCU_OK) {
        s->stats.rejected_source++;
        return;
    }
    candidate_t *c = NULL, *oldest = &l->cand[0];
    for (int i = 0; i < SITE_LATCH_CANDIDATES && !c; i++) {
        if (l->cand[i].used && same_addr(&l->cand[i].addr, from))
            c = &l->cand[i];
        else if (!l->cand[i].used || (oldest->used && l->cand[i].last_us < oldest->last_us))
            oldest = &l->cand[i];
    }
    if (!c) { /* no memset: the held packets are overwritten before they are read */
        c = oldest;
        c->used = true;
        c->addr = *from;
        c->seq = (uint16_t)(p.seq - 1);
        c->n = 0;
    }
    if (p.seq != (uint16_t)(c->seq + 1))
        c->n = 0; /* the run is broken: it starts again here */
    c->seq = p.seq;
    c->last_us = now;
    memcpy(c->held[c->n], d, len);
    c->held_len[c->n] = (uint16_t)len;
    if (++c->n < MCU_SITE_LATCH_PLAIN_PACKETS)
        return;
    candidate_t won = *c; /* latch_to clears the candidates */
    latch_to(s, l, from, now, video);
    for (int i = 0; i < MCU_SITE_LATCH_PLAIN_PACKETS; i++)
        deliver_rtp(s, video, from, won.held[i], won.held_len[i], now);
}

static void recv_datagram(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                          const struct sockaddr *addr, unsigned flags)
{
    site_sock_t *sk = h->data;
    mcu_site_t *s = sk->site;
    if (nread <= 0 || !addr || addr->sa_family != AF_INET || s->closing)
        return;
    const struct sockaddr_in *from = (const struct sockaddr_in *)addr;
    size_t len = (flags & UV_UDP_PARTIAL) ? sizeof s->rxbuf : (size_t)nread;
    uint8_t *d = (uint8_t *)buf->base;
    int64_t now = now_us(s);
    s->stats.bytes_in += len;
    if (len > MCU_RTP_MAX_DATAGRAM || !source_allowed(s, from)) {
        reject_source(s, from, now);
        return;
    }
    bool video = sk->video;
    latch_t *l = &s->latch[video];
    if (sk->rtcp || mcu_rtp_is_rtcp(d, len)) {
        /* RTCP: from the latched host (its port may differ) or the box the composite goes
         * to (a separate decoder), authenticated under SRTP. */
        bool host_ok = s->cfg.has_source ||
                       (l->locked && l->addr.sin_addr.s_addr == from->sin_addr.s_addr) ||
                       (s->cfg.has_send_to &&
                        s->cfg.send_video.sin_addr.s_addr == from->sin_addr.s_addr);
        /* Before any source is latched, SRTCP that authenticates is the site's own. */
        if (!host_ok && (l->locked || !s->srtp_in)) {
            reject_source(s, from, now);
            return;
        }
        if (s->srtp_in) {
            int rc = mcu_srtp_unprotect(s->srtp_in, d, &len, true);
            if (rc != MCU_OK) {
                srtp_failed(s, rc, now);
                return;
            }
        }
        s->stats.rtcp_in++;
        s->src_rtcp[video] = *from;
        s->have_src_rtcp[video] = true;
        on_rtcp(s, video, d, len);
        return;
    }
    /* A configured source was checked above; else only the latched one is trusted. */
    bool trusted = s->cfg.has_source || (l->locked && same_addr(&l->addr, from));
    if (!trusted && l->locked && now - l->last_us <= MCU_SITE_LATCH_QUIET_MS * US_PER_MS) {
        reject_source(s, from, now); /* no crypto work for strangers */
        return;
    }
    if (s->srtp_in) {
        int rc = mcu_srtp_unprotect(s->srtp_in, d, &len, false);
        if (rc != MCU_OK) {
            srtp_failed(s, rc, now);
            return;
        }
    } else if (!trusted) {
        plain_candidate(s, video, from, d, len, now);
        return;
    }
    bool moved = !l->locked || !same_addr(&l->addr, from);
    if (!deliver_rtp(s, video, from, d, len, now))
        return; /* its SSRC was not admitted: the latch stays where it is */
    if (moved)
        latch_to(s, l, from, now, video);
    l->last_us = now;
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags)
{
    mcu_stage_enter(MCU_STAGE_RECEIVE);
    recv_datagram(h, nread, buf, addr, flags);
    mcu_stage_leave();
}

/* Gives a media socket `need` bytes of receive buffer; short of it, a warning that says
 * what to set (site_limits.h). */
static void size_rcvbuf(mcu_site_t *s, site_sock_t *sk, uint16_t port, int64_t need,
                        const char *what)
{
    uv_os_fd_t fd;
    if (uv_fileno((const uv_handle_t *)&sk->handle, &fd) != 0)
        return;
    int got = 0;
    int rc = mcu_site_limits_set_rcvbuf(fd, need, &got);
    if (sk->video)
        s->rcvbuf_bytes = got;
    if (rc == MCU_OK)
        return;
    char obj[MCU_ID_MAX + 8];
    snprintf(obj, sizeof obj, "site %s", s->cfg.id);
    mcu_log(MCU_LOG_WARN, obj,
            "port %u: receive buffer %d KiB, %s needs %lld KiB: packets will be lost; set "
            "net.core.rmem_max to at least %lld (sysctl -w net.core.rmem_max=%lld) or give "
            "mcu CAP_NET_ADMIN",
            port, got / 1024, what, (long long)need / 1024, (long long)need / 2,
            (long long)need / 2);
}

/* Adds what the kernel dropped on the site's sockets since the last call. */
static void count_socket_drops(mcu_site_t *s, int64_t now)
{
    uint64_t total = 0;
    for (int i = 0; i < SOCK_MAX; i++) {
        uv_os_fd_t fd;
        uint64_t drops;
        if (s->socks[i].open && uv_fileno((const uv_handle_t *)&s->socks[i].handle, &fd) == 0 &&
            mcu_site_limits_kernel_drops(fd, &drops) == MCU_OK)
            total += drops;
    }
    if (total <= s->stats.socket_drops)
        return;
    uint64_t fresh = total - s->stats.socket_drops;
    s->stats.socket_drops = total;
    char obj[MCU_ID_MAX + 8];
    snprintf(obj, sizeof obj, "site %s", s->cfg.id);
    mcu_log_limited(&s->log_drops, now, MCU_LOG_WARN, obj,
                    "the kernel dropped %llu datagrams: receive buffer full (video %d KiB, "
                    "%lld KiB wanted)", (unsigned long long)fresh, s->rcvbuf_bytes / 1024,
                    (long long)mcu_site_limits_rcvbuf(&s->cfg) / 1024);
}

static int open_sock(mcu_site_t *s, int which, uint16_t port, bool video, bool rtcp)
{
    site_sock_t *sk = &s->socks[which];
    sk->site = s;
    sk->video = video;
    sk->rtcp = rtcp;
    uv_udp_init(s->loop, &sk->handle);
    sk->handle.data = sk;
    sk->open = true;
    struct sockaddr_in a;
    uv_ip4_addr("0.0.0.0", port, &a);
    if (uv_udp_bind(&sk->handle, (const struct sockaddr *)&a, 0) != 0)
        return MCU_ERR_IO;
    if (!rtcp)
        size_rcvbuf(s, sk, port,
                    video ? mcu_site_limits_rcvbuf(&s->cfg) : MCU_SITE_RCVBUF_MIN_BYTES,
                    video ? "a keyframe burst of the largest picture allowed" : "a burst");
    uv_udp_recv_start(&sk->handle, on_alloc, on_recv);
    return MCU_OK;
}

/* ---------------------------------------------------------------- lifecycle */

int mcu_site_create(uv_loop_t *loop, const mcu_site_config_t *cfg, int index,
                    const mcu_site_events_t *events, mcu_site_t **out)
{
    *out = NULL;
    mcu_site_t *s = calloc(1, sizeof *s);
    if (!s)
        return MCU_ERR_NOMEM;
    s->loop = loop;
    s->cfg = *cfg;
    s->index = index;
    s->ev = events;
    mcu_rx_stream_config_t vc = {.format = mcu_codec_info(cfg->video_codec)->depack,
                                 .codec = cfg->video_codec, .payload_type = cfg->video_pt,
                                 .rtx_payload_type = cfg->rtx_pt, .nack = true};
    mcu_site_limits_jitter(cfg, &vc.jitter);
    mcu_rx_stream_config_t ac = {.format = mcu_codec_info(cfg->audio_codec)->depack,
                                 .codec = cfg->audio_codec, .payload_type = cfg->audio_pt};
    int rc = mcu_rx_stream_create(&vc, &s->rx[1]);
    if (rc == MCU_OK)
        rc = mcu_rx_stream_create(&ac, &s->rx[0]);
    mcu_video_in_config_t vic = {.codec = cfg->video_codec, .max_pixels = cfg->max_pixels,
                                 .policy = cfg->loss_policy,
                                 .max_freeze_ms = cfg->max_freeze_ms};
    if (rc == MCU_OK)
        rc = mcu_video_in_create(&vic, &s->vin);
    if (rc == MCU_OK)
        rc = mcu_playout_create(mcu_codec_info(cfg->video_codec)->clock_rate, &s->playout);
    if (rc == MCU_OK)
        rc = mcu_pyramid_pool_create(&s->pyramid);
    if (rc == MCU_OK && !cfg->plain_rtp) {
        if (!s->cfg.has_srtp_out) { /* a fresh key per start, announced in the SDP */
            rc = mcu_srtp_key_generate(cfg->srtp_in.suite, &s->cfg.srtp_out);
            s->cfg.has_srtp_out = rc == MCU_OK;
        }
        if (rc == MCU_OK)
            rc = mcu_srtp_create(&cfg->srtp_in, MCU_SRTP_INBOUND, &s->srtp_in);
        if (rc == MCU_OK)
            rc = mcu_srtp_create(&s->cfg.srtp_out, MCU_SRTP_OUTBOUND, &s->srtp_out);
    }
    uv_timer_init(loop, &s->poll_timer);
    s->poll_timer.data = s;
    s->poll_timer_open = true;
    if (rc == MCU_OK)
        rc = open_sock(s, SOCK_VIDEO_RTP, cfg->rtp_port, true, false);
    if (rc == MCU_OK)
        rc = open_sock(s, SOCK_AUDIO_RTP, cfg->audio_port, false, false);
    if (rc == MCU_OK && !cfg->rtcp_mux) {
        rc = open_sock(s, SOCK_VIDEO_RTCP, (uint16_t)(cfg->rtp_port + 1), true, true);
        if (rc == MCU_OK)
            rc = open_sock(s, SOCK_AUDIO_RTCP, (uint16_t)(cfg->audio_port + 1), false, true);
    }
    *out = s; /* even on error: the caller closes it, which releases the handles */
    return rc;
}

static void on_handle_closed(uv_handle_t *h)
{
    mcu_site_t *s = h->type == UV_TIMER ? ((uv_timer_t *)h)->data
                                        : ((site_sock_t *)h->data)->site;
    if (--s->pending_closes > 0)
        return;
    mcu_playout_destroy(&s->playout);
    mcu_rx_stream_destroy(&s->rx[0]);
    mcu_rx_stream_destroy(&s->rx[1]);
    mcu_video_in_destroy(&s->vin);
    mcu_pyramid_pool_destroy(&s->pyramid);
    mcu_srtp_destroy(&s->srtp_in);
    mcu_srtp_destroy(&s->srtp_out);
    explicit_bzero(&s->cfg.srtp_in, sizeof s->cfg.srtp_in);
    explicit_bzero(&s->cfg.srtp_out, sizeof s->cfg.srtp_out);
    void (*done)(void *) = s->done;
    void *opaque = s->done_opaque;
    free(s);
    if (done)
        done(opaque);
}

void mcu_site_close(mcu_site_t *s, void (*done)(void *opaque), void *opaque)
{
    s->closing = true;
    s->done = done;
    s->done_opaque = opaque;
    if (s->batch)
        return; /* decode_done resumes closing once the worker is back */
    s->pending_closes = 1; /* the timer */
    for (int i = 0; i < SOCK_MAX; i++)
        s->pending_closes += s->socks[i].open;
    for (int i = 0; i < SOCK_MAX; i++)
        if (s->socks[i].open) {
            s->socks[i].open = false;
            uv_close((uv_handle_t *)&s->socks[i].handle, on_handle_closed);
        }
    uv_close((uv_handle_t *)&s->poll_timer, on_handle_closed);
}

/* ---------------------------------------------------------------- accessors */

const mcu_site_config_t *mcu_site_config(const mcu_site_t *s) { return &s->cfg; }
int mcu_site_index(const mcu_site_t *s) { return s->index; }
const AVFrame *mcu_site_picture(const mcu_site_t *s) { return mcu_playout_newest(s->playout); }

const AVFrame *mcu_site_picture_at(mcu_site_t *s, int64_t t_us)
{
    return mcu_playout_at(s->playout, t_us, &s->showing_arrival_us, &s->showing_seq);
}

uint64_t mcu_site_picture_seq(const mcu_site_t *s) { return s->showing_seq; }

void mcu_site_set_tile(mcu_site_t *s, int profile, mcu_rect_t cell, mcu_fit_t fit)
{
    if (profile < 0 || profile >= MCU_MAX_PROFILES)
        return;
    s->tiles[profile] = cell;
    s->fit = fit;
}
int64_t mcu_site_picture_arrival(const mcu_site_t *s) { return s->showing_arrival_us; }

bool mcu_site_live(const mcu_site_t *s, int64_t now)
{
    return mcu_playout_newest(s->playout) &&
           now - s->last_video_us < MCU_SITE_NO_SIGNAL_MS * US_PER_MS;
}

int mcu_site_take_audio(mcu_site_t *s, int64_t now, mcu_site_audio_packet_t *pkts, int max)
{
    int n = 0;
    mcu_rx_frame_t f;
    mcu_stage_enter(MCU_STAGE_JITTER);
    while (n < max && mcu_rx_stream_poll(s->rx[0], now, &f) == MCU_OK) {
        if (f.media.corrupt || f.media.len > MCU_RTP_MAX_DATAGRAM)
            continue;
        memcpy(pkts[n].data, f.media.data, f.media.len);
        pkts[n].len = (uint16_t)f.media.len;
        pkts[n].lost_before = f.lost_before;
        n++;
    }
    mcu_stage_leave();
    return n;
}

bool mcu_site_dest(const mcu_site_t *s, bool video, struct sockaddr_in *rtp,
                   struct sockaddr_in *rtcp)
{
    if (s->cfg.has_send_to) {
        *rtp = video ? s->cfg.send_video : s->cfg.send_audio;
        *rtcp = *rtp;
        if (!s->cfg.rtcp_mux)
            rtcp->sin_port = htons((uint16_t)(ntohs(rtp->sin_port) + 1));
        return true;
    }
    if (!s->have_src[video])
        return false;
    *rtp = s->src_rtp[video];
    if (s->have_src_rtcp[video]) {
        *rtcp = s->src_rtcp[video];
    } else {
        *rtcp = *rtp;
        if (!s->cfg.rtcp_mux)
            rtcp->sin_port = htons((uint16_t)(ntohs(rtp->sin_port) + 1));
    }
    return true;
}

int mcu_site_send(mcu_site_t *s, bool video, bool rtcp, const uint8_t *data, size_t len)
{
    struct sockaddr_in rtp_to, rtcp_to;
    if (s->closing || !mcu_site_dest(s, video, &rtp_to, &rtcp_to))
        return MCU_ERR_STATE;
    int which = video ? SOCK_VIDEO_RTP : SOCK_AUDIO_RTP;
    if (rtcp && !s->cfg.rtcp_mux)
        which = video ? SOCK_VIDEO_RTCP : SOCK_AUDIO_RTCP;
    if (len > MCU_RTP_MAX_DATAGRAM)
        return MCU_ERR_TOO_BIG;
    mcu_stage_enter(MCU_STAGE_SEND);
    int rc = MCU_OK;
    if (s->srtp_out) { /* this receiver's own context, on a copy: data is shared */
        memcpy(s->txbuf, data, len);
        if (mcu_srtp_protect(s->srtp_out, s->txbuf, &len, sizeof s->txbuf, rtcp) != MCU_OK)
            rc = MCU_ERR_SRTP;
        data = s->txbuf;
    }
    if (rc == MCU_OK) {
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
        if (uv_udp_try_send(&s->socks[which].handle, &b, 1,
                            (const struct sockaddr *)(rtcp ? &rtcp_to : &rtp_to)) < 0)
            rc = MCU_ERR_IO;
    }
    mcu_stage_leave();
    return rc;
}

int mcu_site_send_many(mcu_site_t *s, bool video, const uint8_t *const *pkts,
                       const size_t *lens, int n)
{
    struct sockaddr_in to, rtcp_to;
    if (s->closing || !mcu_site_dest(s, video, &to, &rtcp_to))
        return MCU_ERR_STATE;
    uv_os_fd_t fd;
    if (uv_fileno((const uv_handle_t *)&s->socks[video ? SOCK_VIDEO_RTP : SOCK_AUDIO_RTP].handle,
                  &fd) != 0)
        return MCU_ERR_STATE;
    mcu_stage_enter(MCU_STAGE_SEND);
    int sent = 0;
    for (int first = 0; first < n; first += MCU_SITE_SEND_BATCH) {
        int count = n - first < MCU_SITE_SEND_BATCH ? n - first : MCU_SITE_SEND_BATCH;
        struct mmsghdr msgs[MCU_SITE_SEND_BATCH];
        struct iovec iov[MCU_SITE_SEND_BATCH];
        int m = 0;
        for (int k = first; k < first + count; k++) {
            const uint8_t *data = pkts[k];
            size_t len = lens[k];
            if (len > MCU_RTP_MAX_DATAGRAM)
                continue;
            if (s->srtp_out) { /* this receiver's own context, on a copy: data is shared */
                memcpy(s->txbatch[m], data, len);
                if (mcu_srtp_protect(s->srtp_out, s->txbatch[m], &len, TX_ROW, false) != MCU_OK)
                    continue;
                data = s->txbatch[m];
            }
            iov[m] = (struct iovec){.iov_base = (void *)data, .iov_len = len};
            msgs[m] = (struct mmsghdr){.msg_hdr = {.msg_name = &to, .msg_namelen = sizeof to,
                                                   .msg_iov = &iov[m], .msg_iovlen = 1}};
            m++;
        }
        int rc = 0;
        if (m > 0) {
            do
                rc = sendmmsg(fd, msgs, (unsigned)m, 0);
            while (rc < 0 && errno == EINTR);
        }
        sent += rc > 0 ? rc : 0;
    }
    mcu_stage_leave();
    return sent;
}

bool mcu_site_problem(const mcu_site_t *s, bool video, int64_t now, char *buf, size_t cap)
{
    mcu_rx_problem_t p;
    mcu_rx_stream_problem(s->rx[video], now, &p);
    if (cap)
        buf[0] = 0;
    if (p.kind == MCU_RX_PROBLEM_NONE)
        return false;
    mcu_rx_problem_describe(&p, video ? s->cfg.video_codec : s->cfg.audio_codec, buf, cap);
    return true;
}

/* Logs a media's problem once when it starts or changes. */
static void log_problems(mcu_site_t *s, int64_t now)
{
    for (int v = 0; v < 2; v++) {
        mcu_rx_problem_t p;
        mcu_rx_stream_problem(s->rx[v], now, &p);
        mcu_rx_problem_t *last = &s->logged_problem[v];
        if (p.kind == last->kind && p.codec == last->codec && p.pt == last->pt)
            continue;
        *last = p;
        if (p.kind == MCU_RX_PROBLEM_NONE)
            continue;
        char what[MCU_SITE_PROBLEM_MAX], obj[MCU_ID_MAX + 8];
        mcu_rx_problem_describe(&p, v ? s->cfg.video_codec : s->cfg.audio_codec, what,
                                sizeof what);
        snprintf(obj, sizeof obj, "site %s", s->cfg.id);
        mcu_codec_t own = v ? s->cfg.video_codec : s->cfg.audio_codec;
        mcu_log(MCU_LOG_WARN, obj, "%s: %s (%s is configured on payload type %u): its "
                "packets on payload type %u are dropped%s", v ? "video" : "audio", what,
                mcu_codec_info(own)->name, v ? s->cfg.video_pt : s->cfg.audio_pt, p.pt,
                v ? ", no keyframe is asked for" : "");
    }
}

void mcu_site_housekeeping(mcu_site_t *s, int64_t now)
{
    if (s->closing)
        return;
    log_problems(s, now);
    if (s->want_keyframe)
        request_keyframe(s, now);
    bool tmmbr = s->wanted_bps > 0 &&
                 (s->wanted_bps != s->tmmbr_sent_bps ||
                  now - s->last_tmmbr_us >= MCU_SITE_TMMBR_INTERVAL_MS * US_PER_MS);
    if (tmmbr && mcu_rx_stream_source(s->rx[1])) {
        s->tmmbr_sent_bps = s->wanted_bps;
        s->last_tmmbr_us = now;
        s->stats.tmmbrs_sent++;
        send_rtcp_fb(s, true, FB_NONE, NULL, 0, s->wanted_bps);
    }
    if (now - s->last_rr_us >= MCU_SITE_RR_INTERVAL_MS * US_PER_MS) {
        s->last_rr_us = now;
        count_socket_drops(s, now);
        for (int v = 0; v < 2; v++)
            send_rtcp_fb(s, v, FB_NONE, NULL, 0, 0);
    }
}

void mcu_site_set_wanted_bps(mcu_site_t *s, int64_t bps)
{
    s->wanted_bps = bps > s->cfg.max_bps ? s->cfg.max_bps : bps;
}

int64_t mcu_site_wanted_bps(const mcu_site_t *s) { return s->wanted_bps; }

const mcu_srtp_key_t *mcu_site_send_key(const mcu_site_t *s)
{
    return s->srtp_out ? &s->cfg.srtp_out : NULL;
}


const mcu_site_stats_t *mcu_site_stats(const mcu_site_t *s) { return &s->stats; }

void mcu_site_playout_stats(const mcu_site_t *s, mcu_playout_stats_t *st)
{
    mcu_playout_get_stats(s->playout, st);
}
const mcu_rx_stream_t *mcu_site_rx(const mcu_site_t *s, bool video) { return s->rx[video]; }
