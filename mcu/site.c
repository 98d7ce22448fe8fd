#include "site.h"

#include <stdlib.h>
#include <string.h>

#include "codecs/h264_dec.h"
#include "codecs/h264_rtp.h"
#include "codecs/opus_rtp.h"
#include "mcu/error.h"
#include "mcu/rtp_stats.h"

#define US_PER_MS 1000
/* Largest RTCP compound the site is sent: RR + PLI or NACK. */
#define SITE_RTCP_BUF 256

typedef struct site_sock {
    uv_udp_t handle;
    mcu_site_t *site;
    bool video;                 /* video or audio session */
    bool rtcp;                  /* RTCP-only socket (no rtcp-mux) */
    bool open;
} site_sock_t;

typedef struct access_unit {
    uint8_t *data;
    size_t len;
    int64_t pts;
    int64_t arrival_us;         /* arrival of the AU's last packet */
    bool reset_before;          /* the stream lost data before this AU */
} access_unit_t;

/* What a worker decodes and gives back. */
typedef struct decode_batch {
    uv_work_t work;
    mcu_site_t *site;
    access_unit_t aus[MCU_SITE_DECODE_QUEUE];
    int n;
    AVFrame *picture;           /* the last good picture of the batch, or NULL */
    int64_t picture_arrival_us;
    int good, damaged;
    bool needs_keyframe;
} decode_batch_t;

enum { SOCK_VIDEO_RTP, SOCK_AUDIO_RTP, SOCK_VIDEO_RTCP, SOCK_AUDIO_RTCP, SOCK_MAX };

struct mcu_site {
    uv_loop_t *loop;
    mcu_site_config_t cfg;
    int index;
    const mcu_site_events_t *ev;
    site_sock_t socks[SOCK_MAX];
    uv_timer_t poll_timer;
    bool poll_timer_open;
    uint8_t rxbuf[MCU_RTP_MAX_DATAGRAM + 1]; /* +1 shows oversize datagrams */

    mcu_rx_stream_t *rx[2];     /* [1] video, [0] audio */
    bool have_src[2];
    struct sockaddr_in src_rtp[2];
    bool have_src_rtcp[2];
    struct sockaddr_in src_rtcp[2];

    mcu_h264_dec_t *dec;        /* used by the worker only */
    access_unit_t queue[MCU_SITE_DECODE_QUEUE];
    int q_len;
    bool reset_pending;         /* the next queued AU follows lost data */
    decode_batch_t *batch;      /* non-NULL while a worker decodes */

    AVFrame *latest;
    int64_t latest_arrival_us;
    int64_t last_video_us;
    int64_t last_picture_us;
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

static void send_rtcp_fb(mcu_site_t *s, bool video, bool pli, const uint16_t *seqs, size_t n)
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
    if (pli)
        mcu_rtcp_write_pli(&w, local_ssrc(s), src->ssrc);
    if (n)
        mcu_rtcp_write_nack(&w, local_ssrc(s), src->ssrc, seqs, n);
    size_t len;
    if (mcu_rtcp_writer_finish(&w, &len) == MCU_OK)
        mcu_site_send(s, video, true, buf, len);
}

static void request_keyframe(mcu_site_t *s, int64_t now)
{
    s->want_keyframe = true;
    if (now - s->last_pli_us < MCU_SITE_PLI_RETRY_MS * US_PER_MS)
        return;
    s->last_pli_us = now;
    s->stats.plis_sent++;
    send_rtcp_fb(s, true, true, NULL, 0);
}

/* ---------------------------------------------------------------- decoding */

static void decode_work(uv_work_t *w)
{
    decode_batch_t *b = w->data;
    mcu_h264_dec_t *dec = b->site->dec;
    for (int i = 0; i < b->n; i++) {
        access_unit_t *au = &b->aus[i];
        if (au->reset_before)
            mcu_h264_dec_reset(dec);
        mcu_h264_dec_picture_t pic;
        int rc = mcu_h264_dec_decode(dec, au->data, au->len, au->pts, &pic);
        if (rc == 1 && !pic.damaged) {
            if (!b->picture)
                b->picture = av_frame_alloc();
            if (b->picture) {
                av_frame_unref(b->picture);
                if (av_frame_ref(b->picture, pic.frame) == 0) {
                    b->good++;
                    b->picture_arrival_us = au->arrival_us;
                }
            }
        } else if (rc == 1 || rc < 0) {
            b->damaged++;
        }
    }
    b->needs_keyframe = mcu_h264_dec_needs_keyframe(dec);
}

static void start_decode(mcu_site_t *s);

static void decode_done(uv_work_t *w, int status)
{
    decode_batch_t *b = w->data;
    mcu_site_t *s = b->site;
    for (int i = 0; i < b->n; i++)
        free(b->aus[i].data);
    s->batch = NULL;
    s->stats.damaged += (uint64_t)b->damaged;
    if (b->picture && b->good) {
        av_frame_free(&s->latest);
        s->latest = b->picture;
        s->latest_arrival_us = b->picture_arrival_us;
        b->picture = NULL;
        s->last_picture_us = now_us(s);
        s->stats.pictures += (uint64_t)b->good;
        if (!b->needs_keyframe)
            s->want_keyframe = false;
        if (!s->closing && s->ev->picture)
            s->ev->picture(s->ev->opaque, s);
    }
    av_frame_free(&b->picture);
    bool needs = b->needs_keyframe;
    free(b);
    if (s->closing) {
        mcu_site_close(s, s->done, s->done_opaque); /* resume closing */
        return;
    }
    if (needs)
        request_keyframe(s, now_us(s));
    start_decode(s);
}

static void start_decode(mcu_site_t *s)
{
    if (s->batch || s->q_len == 0 || s->closing)
        return;
    decode_batch_t *b = calloc(1, sizeof *b);
    if (!b)
        return;
    b->site = s;
    b->n = s->q_len;
    memcpy(b->aus, s->queue, sizeof(access_unit_t) * (size_t)s->q_len);
    s->q_len = 0;
    b->work.data = b;
    s->batch = b;
    if (uv_queue_work(s->loop, &b->work, decode_work, decode_done) != 0) {
        for (int i = 0; i < b->n; i++)
            free(b->aus[i].data);
        free(b);
        s->batch = NULL;
    }
}

static void queue_au(mcu_site_t *s, const mcu_rx_frame_t *f)
{
    if (s->q_len == MCU_SITE_DECODE_QUEUE) {
        /* Overloaded: drop the oldest; the decoder must restart at a keyframe. */
        free(s->queue[0].data);
        memmove(s->queue, s->queue + 1, sizeof(access_unit_t) * (MCU_SITE_DECODE_QUEUE - 1));
        s->q_len--;
        s->stats.decode_dropped++;
        s->reset_pending = true;
        request_keyframe(s, now_us(s));
    }
    uint8_t *copy = malloc(f->media.len);
    if (!copy)
        return;
    memcpy(copy, f->media.data, f->media.len);
    s->queue[s->q_len++] = (access_unit_t){.data = copy, .len = f->media.len,
                                           .pts = f->timestamp,
                                           .arrival_us = f->arrival_us,
                                           .reset_before = s->reset_pending};
    s->reset_pending = false;
}

/* Takes every video frame that is due out of the jitter buffer. */
static void poll_video(mcu_site_t *s, int64_t now)
{
    mcu_rx_frame_t f;
    while (mcu_rx_stream_poll(s->rx[1], now, &f) == MCU_OK) {
        s->last_video_us = now;
        if (f.keyframe_needed || f.media.corrupt || f.lost_before) {
            if (f.media.corrupt) {
                /* A damaged frame is never decoded: the tile keeps its last good
                 * picture until an IDR arrives. */
                s->reset_pending = true;
                request_keyframe(s, now);
                continue;
            }
            if (!f.media.keyframe) {
                s->reset_pending = true;
                request_keyframe(s, now);
            }
        }
        queue_au(s, &f);
    }
    start_decode(s);
}

static void arm_poll_timer(mcu_site_t *s, int64_t now);

static void on_poll_timer(uv_timer_t *t)
{
    mcu_site_t *s = t->data;
    int64_t now = now_us(s);
    poll_video(s, now);
    arm_poll_timer(s, now);
}

static void arm_poll_timer(mcu_site_t *s, int64_t now)
{
    int64_t next = mcu_rx_stream_next_deadline(s->rx[1]);
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

static bool source_allowed(const mcu_site_t *s, const struct sockaddr_in *a)
{
    if (!s->cfg.has_source)
        return true;
    if (a->sin_addr.s_addr != s->cfg.source.sin_addr.s_addr)
        return false;
    return s->cfg.source.sin_port == 0 || s->cfg.source.sin_port == a->sin_port;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    site_sock_t *sk = h->data;
    *buf = uv_buf_init((char *)sk->site->rxbuf, sizeof sk->site->rxbuf);
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags)
{
    site_sock_t *sk = h->data;
    mcu_site_t *s = sk->site;
    if (nread <= 0 || !addr || addr->sa_family != AF_INET || s->closing)
        return;
    const struct sockaddr_in *from = (const struct sockaddr_in *)addr;
    size_t len = (flags & UV_UDP_PARTIAL) ? sizeof s->rxbuf : (size_t)nread;
    const uint8_t *d = (const uint8_t *)buf->base;
    s->stats.bytes_in += len;
    if (!source_allowed(s, from)) {
        s->stats.rejected_source++;
        return;
    }
    bool video = sk->video;
    if (sk->rtcp || mcu_rtp_is_rtcp(d, len)) {
        s->stats.rtcp_in++;
        s->src_rtcp[video] = *from;
        s->have_src_rtcp[video] = true;
        on_rtcp(s, video, d, len);
        return;
    }
    s->stats.rtp_in++;
    int64_t now = now_us(s);
    if (mcu_rx_stream_input(s->rx[video], d, len, now) == MCU_OK) {
        /* Symmetric RTP: the composite goes back where accepted media comes from. */
        s->src_rtp[video] = *from;
        s->have_src[video] = true;
    }
    if (video) {
        poll_video(s, now);
        arm_poll_timer(s, now);
    }
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
    s->reset_pending = true;
    mcu_rx_stream_config_t vc = {.format = &mcu_h264_depack_ops, .payload_type = cfg->video_pt};
    mcu_rx_stream_config_t ac = {.format = &mcu_opus_depack_ops, .payload_type = cfg->audio_pt};
    int rc = mcu_rx_stream_create(&vc, &s->rx[1]);
    if (rc == MCU_OK)
        rc = mcu_rx_stream_create(&ac, &s->rx[0]);
    if (rc == MCU_OK)
        rc = mcu_h264_dec_create(NULL, &s->dec);
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
    for (int i = 0; i < s->q_len; i++)
        free(s->queue[i].data);
    av_frame_free(&s->latest);
    mcu_rx_stream_destroy(&s->rx[0]);
    mcu_rx_stream_destroy(&s->rx[1]);
    mcu_h264_dec_destroy(&s->dec);
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
const AVFrame *mcu_site_picture(const mcu_site_t *s) { return s->latest; }
int64_t mcu_site_picture_arrival(const mcu_site_t *s) { return s->latest_arrival_us; }

bool mcu_site_live(const mcu_site_t *s, int64_t now)
{
    return s->latest && now - s->last_video_us < MCU_SITE_NO_SIGNAL_MS * US_PER_MS;
}

int mcu_site_take_audio(mcu_site_t *s, int64_t now, mcu_site_audio_packet_t *pkts, int max)
{
    int n = 0;
    mcu_rx_frame_t f;
    while (n < max && mcu_rx_stream_poll(s->rx[0], now, &f) == MCU_OK) {
        if (f.media.corrupt || f.media.len > MCU_RTP_MAX_DATAGRAM)
            continue;
        memcpy(pkts[n].data, f.media.data, f.media.len);
        pkts[n].len = (uint16_t)f.media.len;
        pkts[n].lost_before = f.lost_before;
        n++;
    }
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
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int rc = uv_udp_try_send(&s->socks[which].handle, &b, 1,
                             (const struct sockaddr *)(rtcp ? &rtcp_to : &rtp_to));
    return rc >= 0 ? MCU_OK : MCU_ERR_IO;
}

void mcu_site_housekeeping(mcu_site_t *s, int64_t now)
{
    if (s->closing)
        return;
    if (s->want_keyframe)
        request_keyframe(s, now);
    if (now - s->last_rr_us >= MCU_SITE_RR_INTERVAL_MS * US_PER_MS) {
        s->last_rr_us = now;
        for (int v = 0; v < 2; v++) {
            uint16_t missing[MCU_RTCP_NACK_EXPAND_MAX];
            size_t n = v ? mcu_jitter_missing(mcu_rx_stream_jitter(s->rx[1]), missing,
                                              MCU_RTCP_NACK_EXPAND_MAX)
                         : 0;
            send_rtcp_fb(s, v, false, missing, n);
        }
    }
}

const mcu_site_stats_t *mcu_site_stats(const mcu_site_t *s) { return &s->stats; }
const mcu_rx_stream_t *mcu_site_rx(const mcu_site_t *s, bool video) { return s->rx[video]; }
