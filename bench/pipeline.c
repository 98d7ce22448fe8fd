#include "bench/pipeline.h"

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <libavutil/frame.h>

#include "codecs/video_dec.h"
#include "codecs/h264_enc.h"
#include "codecs/h264_rtp.h"
#include "codecs/opus_codec.h"
#include "codecs/opus_rtp.h"
#include "layouts/canvas.h"
#include "layouts/composer.h"
#include "layouts/label.h"
#include "layouts/layout.h"
#include "layouts/pyramid.h"
#include "mcu/config.h"
#include "mcu/error.h"
#include "mcu/jitter.h"
#include "mcu/log.h"
#include "mcu/mixer.h"
#include "mcu/rtp.h"
#include "mcu/rx_stream.h"
#include "mcu/srtp_session.h"
#include "mcu/stage_clock.h"
#include "mcu/tx_stream.h"

#define US_PER_S 1000000
#define US_PER_MS 1000
#define NS_PER_S 1000000000LL
#define NS_PER_MS 1e6

/* Log object of every line this module writes. */
#define PIPE_LOG_OBJ "bench pipeline"

/* ---------------------------------------------------------------- constants */

/* The synthetic monotonic clock starts here, not at 0: a module may treat 0 (or a
 * negative time) as "never happened". Media time t is now = PIPE_NOW_BASE_US + t. */
#define PIPE_NOW_BASE_US (1 * US_PER_S)
/* Audio leaves the jitter buffer at its playout time (MCU_JITTER_PACED: arrival
 * baseline + RTP time + target delay), and the target never exceeds the buffer's
 * maximum delay. Polling this far past a packet's arrival therefore releases every
 * packet fed so far at once (100 ms over the bound covers the margin added to it).
 * Video (MCU_JITTER_ASAP) needs no look-ahead: a complete access unit leaves as soon as
 * its last packet is in. */
#define PIPE_AUDIO_POLL_AHEAD_US ((MCU_JITTER_DEFAULT_MAX_DELAY_MS + 100) * US_PER_MS)
/* Input is packetized and protected, untimed, one second of output frames ahead
 * (out_fps frames): memory stays at about a second of each site's media however long
 * the run, and the pause between blocks (a few ms a second) is outside the timing. */
#define PIPE_BLOCK_SECONDS 1
/* Start sizes of a site's prepared-packet queue: a second of 360p at 600 kbit/s is
 * ~75 KB in ~70 packets; it grows (outside the timing) when a clip needs more. */
#define PIPE_QUEUE_INIT_BYTES (256u << 10)
#define PIPE_QUEUE_INIT_PACKETS 256u
/* Bounds of one queue: a clip is at most MCU_BENCH_MEDIA_MAX_BYTES, so one second of
 * it never needs more unless the clip is shorter than a second and loops; 65536
 * packets is ~80x a second of 8 Mbit/s video in 1200-byte payloads. */
#define PIPE_QUEUE_MAX_BYTES ((size_t)MCU_BENCH_MEDIA_MAX_BYTES)
#define PIPE_QUEUE_MAX_PACKETS (1u << 16)
/* Packets start on this boundary: libsrtp reads them as 32-bit words (srtp_session.h),
 * 8 keeps them on a word of any size. */
#define PIPE_PACKET_ALIGN 8u

/* SSRCs: the sites' (what their endpoints would pick; any distinct values do) and the
 * composite's, the values mcu/conference.c announces (profile 0, site i's audio). */
#define PIPE_SITE_VIDEO_SSRC_BASE 0x53495600u
#define PIPE_SITE_AUDIO_SSRC_BASE 0x53494100u
#define PIPE_OUT_VIDEO_SSRC 0x4D435600u
#define PIPE_OUT_AUDIO_SSRC_BASE 0x4D434100u
/* First sequence numbers and RTP timestamp offsets. Senders pick random ones (RFC 3550
 * 5.1); fixed values keep runs repeatable. Each site's differ so that no two streams
 * line up, and the 16-bit sequence numbers wrap within the first minute of a run. */
#define PIPE_SEQ_BASE 0xF000u
#define PIPE_SEQ_STEP 0x0400u
#define PIPE_TS_BASE 0x10000000u
#define PIPE_TS_STEP 0x01000000u

/* Encoded bytes one output frame may take: as mcu/conference.c (a 1080p IDR at 8 Mbps
 * stays well below). */
#define PIPE_MAX_AU_BYTES (2u << 20)
/* Retransmission history of each receiver's audio stream: as mcu/conference.c, 1.28 s
 * of 20 ms packets. */
#define PIPE_AUDIO_HISTORY 64
/* Lost audio packets concealed at most per gap: as mcu/conference.c (longer gaps are
 * silence, not PLC). Clean input loses nothing; the path is kept for fidelity. */
#define PIPE_MAX_CONCEAL_FRAMES 3u
/* Decoded PCM a site holds until the next mix tick: the mixer's own FIFO bound, since
 * anything beyond it would be dropped by the mixer anyway. */
#define PIPE_PCM_PENDING MCU_MIXER_FIFO_SAMPLES
/* Send buffer of the UDP socket: 18 receivers x a 720p IDR (~25 KB) is ~450 KB in one
 * burst; 4 MiB absorbs that many times over, so a full buffer (counted, not an error)
 * only shows a kernel that cannot keep up. The kernel caps it at net.core.wmem_max. */
#define PIPE_SNDBUF_BYTES (4 << 20)

/* Labels: the Yên Mô scenario's sites (../shared/CONTEXT.md), cycled for more sites.
 * The diacritics are on purpose: the label renderer's real work is shaping them. */
static const char *const site_names[] = {
    "Huyện Yên Mô", "TT Yên Thịnh", "Khánh Dương", "Khánh Thịnh", "Khánh Thượng",
    "Mai Sơn",      "Yên Đồng",     "Yên Hòa",     "Yên Hưng",    "Yên Lâm",
    "Yên Mạc",      "Yên Mỹ",       "Yên Nhân",    "Yên Phong",   "Yên Thái",
    "Yên Thắng",    "Yên Thành",    "Yên Từ",
};
#define N_SITE_NAMES (sizeof site_names / sizeof site_names[0])

/* ---------------------------------------------------------------- types */

/* Stages as timed here: decode and encode split by medium for the floor record. */
typedef enum stage {
    ST_RECEIVE,
    ST_JITTER,
    ST_DECODE_VIDEO,
    ST_DECODE_AUDIO,
    ST_COMPOSE,
    ST_MIX,
    ST_ENCODE_VIDEO,
    ST_ENCODE_AUDIO,
    ST_PACKETIZE,
    ST_SEND,
    ST_LOOP, /* per-block bookkeeping: reported in "other" */
    ST__COUNT
} stage_t;

/* One prepared (packetized, protected) input datagram. */
typedef struct prep_pkt {
    size_t off;             /* into the queue's buffer */
    size_t len;
    int64_t unit;           /* media unit index since the site's start */
    int64_t arrival_us;     /* synthetic arrival: the unit's media time */
} prep_pkt_t;

/* A site's prepared datagrams of one medium for the current block, in send order. */
typedef struct pkt_queue {
    uint8_t *buf;
    size_t used, cap;
    prep_pkt_t *pkts;
    size_t n, cap_pkts;
    size_t next;            /* first not yet fed */
} pkt_queue_t;

typedef struct bench_site {
    int index;
    const mcu_bench_media_t *clip;
    size_t v_start, a_start;        /* clip indexes of the site's unit 0 */
    int64_t v_prepared, a_prepared; /* units packetized so far */
    uint32_t v_ssrc, a_ssrc;
    uint16_t v_seq, a_seq;
    uint32_t v_ts0, a_ts0;
    mcu_srtp_t *srtp_send;          /* the site's endpoint (setup only) */
    mcu_srtp_t *srtp_recv;          /* the MCU's inbound session for the site */
    pkt_queue_t vq, aq;
    size_t due;                     /* end of the packets due this step */
    mcu_rx_stream_t *rx_video, *rx_audio;
    mcu_rx_frame_t frame;           /* the frame polled this round */
    bool have_frame;
    mcu_video_dec_t *dec;
    bool reset_pending;             /* the next access unit follows lost data */
    AVFrame *latest;                /* the latest good picture (buf[0] NULL: none yet) */
    bool new_picture;               /* decoded this round: its halvings are due */
    mcu_rect_t cell;                /* where it is shown (0x0: not shown) */
    mcu_pyramid_pool_t *pyramid;    /* as mcu/site.c: halvings made right after decoding */
    uint64_t pictures, damaged;
    mcu_opus_dec_t *adec;
    int16_t pcm[PIPE_PCM_PENDING];  /* decoded, waiting for the next mix tick */
    size_t pcm_len;
    mcu_label_bitmap_t label;
} bench_site_t;

typedef struct audio_out {
    uint8_t data[MCU_OPUS_MAX_PACKET_BYTES];
    size_t len;
} audio_out_t;

typedef struct pipe pipe_t;

/* Where an audio stream's packets go: its receiver. */
typedef struct audio_dest {
    pipe_t *p;
    int receiver;
} audio_dest_t;

struct pipe {
    mcu_bench_pipeline_config_t cfg;
    bench_site_t *sites;
    /* compose */
    mcu_layout_t layout;
    mcu_canvas_t *canvas;
    mcu_composer_t *composer;
    mcu_label_renderer_t *labeler;
    /* video out */
    mcu_h264_enc_t *venc;
    AVFrame *vframe;
    uint8_t *au;
    size_t au_len;
    uint64_t aus;
    mcu_tx_stream_t *video_tx;
    /* audio */
    mcu_mixer_t *mixer;
    mcu_mix_out_t mix;
    mcu_opus_enc_t *shared_enc, *minus_enc[MCU_MIXER_MAX_TALKERS];
    audio_out_t shared, minus[MCU_MIXER_MAX_TALKERS];
    mcu_tx_stream_t **audio_tx;     /* one per receiver, as the daemon */
    audio_dest_t *dests;
    int64_t next_tick;              /* next 20 ms audio tick to mix */
    /* send */
    mcu_srtp_t **srtp_out;          /* one outbound session per receiver */
    int fd_send, fd_sink;
    struct sockaddr_in sink;
    _Alignas(8) uint8_t txbuf[MCU_RTP_MAX_DATAGRAM + MCU_SRTP_MAX_OVERHEAD];
    uint64_t datagrams, buffer_full;
    int fatal;                      /* a send callback's hard failure */
    int fatal_errno;
    /* timing */
    int64_t last_ns;
    int64_t ns[ST__COUNT];
    uint64_t clock_reads;
};

/* ---------------------------------------------------------------- clocks */

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* The paced loop's wait for a frame's wall-clock time (CLOCK_MONOTONIC ns); a frame
 * that is already late starts at once. The sleep costs no thread CPU time. */
static void sleep_until(int64_t t_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(t_ns / NS_PER_S), .tv_nsec = (long)(t_ns % NS_PER_S)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

/* Charges the thread CPU time since the previous lap to `st`. Laps are contiguous, so
 * every nanosecond of the run loop lands in exactly one stage and nested stages (send
 * inside packetize) are never counted twice. */
static void lap(pipe_t *p, stage_t st)
{
    int64_t t = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    p->ns[st] += t - p->last_ns;
    p->last_ns = t;
    p->clock_reads++;
}

/* ---------------------------------------------------------------- input preparation */

static void queue_free(pkt_queue_t *q)
{
    free(q->buf);
    free(q->pkts);
    memset(q, 0, sizeof *q);
}

/* Reserves `room` bytes (aligned) and one entry; *out gets the entry (off set). */
static int queue_add(pkt_queue_t *q, size_t room, prep_pkt_t **out)
{
    size_t off = (q->used + PIPE_PACKET_ALIGN - 1) & ~(size_t)(PIPE_PACKET_ALIGN - 1);
    if (off + room > PIPE_QUEUE_MAX_BYTES || q->n >= PIPE_QUEUE_MAX_PACKETS)
        return MCU_ERR_TOO_BIG;
    if (off + room > q->cap) {
        size_t cap = q->cap ? q->cap : PIPE_QUEUE_INIT_BYTES;
        while (cap < off + room)
            cap *= 2;
        if (cap > PIPE_QUEUE_MAX_BYTES)
            cap = PIPE_QUEUE_MAX_BYTES;
        uint8_t *b = realloc(q->buf, cap);
        if (!b)
            return MCU_ERR_NOMEM;
        q->buf = b;
        q->cap = cap;
    }
    if (q->n == q->cap_pkts) {
        size_t cap = q->cap_pkts ? q->cap_pkts * 2 : PIPE_QUEUE_INIT_PACKETS;
        if (cap > PIPE_QUEUE_MAX_PACKETS)
            cap = PIPE_QUEUE_MAX_PACKETS;
        prep_pkt_t *e = realloc(q->pkts, cap * sizeof *e);
        if (!e)
            return MCU_ERR_NOMEM;
        q->pkts = e;
        q->cap_pkts = cap;
    }
    q->used = off + room;
    *out = &q->pkts[q->n++];
    **out = (prep_pkt_t){.off = off};
    return MCU_OK;
}

/* Writes one RTP packet as the site's endpoint would send it, SRTP-protected. */
static int add_packet(bench_site_t *s, pkt_queue_t *q, uint8_t pt, uint32_t ssrc,
                      uint16_t *seq, uint32_t ts, bool marker, const uint8_t *payload,
                      size_t len, int64_t unit, int64_t arrival_us)
{
    if (len > MCU_RTP_MAX_DATAGRAM - MCU_RTP_HEADER_SIZE -
                  mcu_srtp_tag_len(MCU_SRTP_AES_CM_128_HMAC_SHA1_80, false))
        return MCU_ERR_TOO_BIG; /* would not fit one datagram on the wire */
    size_t room = MCU_RTP_HEADER_SIZE + len + MCU_SRTP_MAX_OVERHEAD;
    prep_pkt_t *e;
    int rc = queue_add(q, room, &e);
    if (rc < 0)
        return rc;
    uint8_t *d = q->buf + e->off;
    mcu_rtp_header_t h = {.marker = marker, .payload_type = pt, .seq = *seq, .timestamp = ts,
                          .ssrc = ssrc};
    int hl = mcu_rtp_write_header(&h, d, room);
    if (hl < 0)
        return hl;
    memcpy(d + hl, payload, len);
    size_t plen = (size_t)hl + len;
    rc = mcu_srtp_protect(s->srtp_send, d, &plen, room, false);
    if (rc < 0)
        return rc;
    (*seq)++;
    e->len = plen;
    e->unit = unit;
    e->arrival_us = arrival_us;
    return MCU_OK;
}

typedef struct emit_ctx {
    bench_site_t *s;
    int64_t unit, arrival_us;
    uint32_t ts;
} emit_ctx_t;

static int emit_video(void *opaque, const uint8_t *payload, size_t len, bool marker)
{
    emit_ctx_t *c = opaque;
    bench_site_t *s = c->s;
    return add_packet(s, &s->vq, MCU_DEFAULT_VIDEO_PT, s->v_ssrc, &s->v_seq, c->ts, marker,
                      payload, len, c->unit, c->arrival_us);
}

/* Media time of a site's video unit u / audio unit a, in microseconds. */
static int64_t video_us(const bench_site_t *s, int64_t u)
{
    return u * US_PER_S / s->clip->fps;
}

static int64_t audio_us(int64_t a) { return a * MCU_OPUS_FRAME_MS * US_PER_MS; }

/* True when video unit u of the site is due by output frame k (u / fps <= k / out_fps,
 * in integers: no rounding). */
static bool video_due(const pipe_t *p, const bench_site_t *s, int64_t u, int64_t k)
{
    return u * p->cfg.out_fps <= k * s->clip->fps;
}

/* The last audio tick (and audio unit) due by output frame k: j x 20 ms <= k / out_fps. */
static int64_t last_tick(const pipe_t *p, int64_t k)
{
    return k * 1000 / ((int64_t)MCU_OPUS_FRAME_MS * p->cfg.out_fps);
}

/* Packetizes and protects every input unit due by output frame k_last (untimed). The
 * previous block's packets have all been fed: the queues start over. */
static int prepare_block(pipe_t *p, int64_t k_last)
{
    int64_t a_last = last_tick(p, k_last);
    for (int i = 0; i < p->cfg.sites; i++) {
        bench_site_t *s = &p->sites[i];
        const mcu_bench_media_t *m = s->clip;
        s->vq.n = s->vq.used = s->vq.next = 0;
        s->aq.n = s->aq.used = s->aq.next = 0;
        for (; video_due(p, s, s->v_prepared, k_last); s->v_prepared++) {
            int64_t u = s->v_prepared;
            const mcu_bench_unit_t *vu = &m->video[(s->v_start + (size_t)u) % m->n_video];
            emit_ctx_t c = {.s = s, .unit = u, .arrival_us = PIPE_NOW_BASE_US + video_us(s, u),
                            .ts = s->v_ts0 + (uint32_t)(u * MCU_H264_CLOCK_RATE / m->fps)};
            int rc = mcu_h264_packetize(vu->data, vu->len, MCU_H264_DEFAULT_MTU, emit_video, &c);
            if (rc < 0)
                return rc;
        }
        for (; s->a_prepared <= a_last; s->a_prepared++) {
            int64_t a = s->a_prepared;
            const mcu_bench_unit_t *au = &m->audio[(s->a_start + (size_t)a) % m->n_audio];
            int rc = add_packet(s, &s->aq, MCU_DEFAULT_AUDIO_PT, s->a_ssrc, &s->a_seq,
                                s->a_ts0 + (uint32_t)(a * MCU_OPUS_FRAME_SAMPLES), a == 0,
                                au->data, au->len, a, PIPE_NOW_BASE_US + audio_us(a));
            if (rc < 0)
                return rc;
        }
    }
    return MCU_OK;
}

/* ---------------------------------------------------------------- receive, jitter, decode */

/* Stage "receive": SRTP unprotect of every site's packets that are due: video units due
 * by output frame `k_or_unit`, or audio units up to unit `k_or_unit` (the tick's). Marks
 * the end of each site's due packets in s->due. */
static int receive(pipe_t *p, bool video, int64_t k_or_unit)
{
    for (int i = 0; i < p->cfg.sites; i++) {
        bench_site_t *s = &p->sites[i];
        pkt_queue_t *q = video ? &s->vq : &s->aq;
        size_t n = q->next;
        while (n < q->n && (video ? video_due(p, s, q->pkts[n].unit, k_or_unit)
                                  : q->pkts[n].unit <= k_or_unit)) {
            prep_pkt_t *e = &q->pkts[n];
            int rc = mcu_srtp_unprotect(s->srtp_recv, q->buf + e->off, &e->len, false);
            if (rc < 0)
                return rc;
            n++;
        }
        s->due = n;
    }
    lap(p, ST_RECEIVE);
    return MCU_OK;
}

/* Stage "jitter", input half: the due packets into the site's rx_stream. */
static int jitter_input(pipe_t *p, bool video)
{
    for (int i = 0; i < p->cfg.sites; i++) {
        bench_site_t *s = &p->sites[i];
        pkt_queue_t *q = video ? &s->vq : &s->aq;
        mcu_rx_stream_t *rx = video ? s->rx_video : s->rx_audio;
        for (; q->next < s->due; q->next++) {
            const prep_pkt_t *e = &q->pkts[q->next];
            int rc = mcu_rx_stream_input(rx, q->buf + e->off, e->len, e->arrival_us);
            if (rc < 0)
                return rc; /* clean input: any drop is a broken pipeline */
        }
    }
    lap(p, ST_JITTER);
    return MCU_OK;
}

/* One access unit, as mcu/site.c poll_video + decode_work: a damaged frame is never
 * decoded, a loss makes the decoder restart at the next IDR, and the latest good
 * picture is kept for the tile. */
static int decode_video(bench_site_t *s)
{
    const mcu_rx_frame_t *f = &s->frame;
    if (f->media.corrupt) {
        s->reset_pending = true;
        s->damaged++;
        return MCU_OK;
    }
    if ((f->keyframe_needed || f->lost_before) && !f->media.keyframe)
        s->reset_pending = true;
    if (s->reset_pending) {
        mcu_video_dec_reset(s->dec);
        s->reset_pending = false;
    }
    mcu_video_dec_picture_t pic;
    int rc = mcu_video_dec_decode(s->dec, f->media.data, f->media.len, f->timestamp, &pic);
    if (rc == MCU_ERR_NOMEM)
        return rc;
    if (rc == 1 && !pic.damaged) {
        av_frame_unref(s->latest);
        if (av_frame_ref(s->latest, pic.frame) < 0)
            return MCU_ERR_NOMEM;
        s->pictures++;
        s->new_picture = true;
    } else if (rc == 1 || rc < 0) {
        s->damaged++;
    }
    return MCU_OK;
}

/* One Opus packet, as mcu/conference.c audio_work: concealment for what was lost
 * before it, then the packet; the PCM waits in the site's buffer for the mix tick. */
static int decode_audio(bench_site_t *s)
{
    const mcu_rx_frame_t *f = &s->frame;
    if (f->media.corrupt)
        return MCU_OK; /* as mcu_site_take_audio: never handed to the decoder */
    uint32_t lost = f->lost_before < PIPE_MAX_CONCEAL_FRAMES ? f->lost_before
                                                             : PIPE_MAX_CONCEAL_FRAMES;
    for (uint32_t l = 0; l < lost; l++) {
        int n = mcu_opus_dec_conceal(s->adec, MCU_MIXER_FRAME_SAMPLES, s->pcm + s->pcm_len,
                                     PIPE_PCM_PENDING - s->pcm_len);
        if (n < 0)
            return n;
        s->pcm_len += (size_t)n;
    }
    int n = mcu_opus_dec_decode(s->adec, f->media.data, f->media.len, s->pcm + s->pcm_len,
                                PIPE_PCM_PENDING - s->pcm_len);
    if (n < 0)
        return n;
    s->pcm_len += (size_t)n;
    return MCU_OK;
}

/* Stage "jitter" (poll) alternating with stage "decode": each round polls every site's
 * stream once, then decodes what came out (a polled frame is valid until the next call
 * on its stream), until no stream has a frame due at now_us. */
static int drain(pipe_t *p, bool video, int64_t now_us)
{
    for (;;) {
        int got = 0;
        for (int i = 0; i < p->cfg.sites; i++) {
            bench_site_t *s = &p->sites[i];
            s->have_frame = mcu_rx_stream_poll(video ? s->rx_video : s->rx_audio, now_us,
                                               &s->frame) == MCU_OK;
            got += s->have_frame;
        }
        lap(p, ST_JITTER);
        if (!got)
            return MCU_OK;
        for (int i = 0; i < p->cfg.sites; i++) {
            bench_site_t *s = &p->sites[i];
            if (!s->have_frame)
                continue;
            int rc = video ? decode_video(s) : decode_audio(s);
            if (rc < 0)
                return rc;
            if (!video || !s->new_picture)
                continue;
            /* As mcu/site.c decode_work: the tile's halvings while the picture is hot,
             * charged to compose as there. */
            lap(p, ST_DECODE_VIDEO);
            s->new_picture = false;
            rc = mcu_pyramid_attach(s->pyramid, s->latest,
                                    mcu_composer_halvings(s->latest->width, s->latest->height,
                                                          s->cell, MCU_FIT_LETTERBOX));
            if (rc < 0)
                return rc;
            lap(p, ST_COMPOSE);
        }
        lap(p, video ? ST_DECODE_VIDEO : ST_DECODE_AUDIO);
    }
}

/* ---------------------------------------------------------------- send */

/* The tx_streams' send callback, stage "send": SRTP protect a copy with the receiver's
 * own session (the packet is shared by all receivers), then one sendto. A full socket
 * buffer is counted, not an error: the sink is never read. */
static int send_to(pipe_t *p, int receiver, const uint8_t *pkt, size_t len)
{
    lap(p, ST_PACKETIZE); /* the packetizing done before this packet was handed out */
    int rc = MCU_OK;
    if (len > MCU_RTP_MAX_DATAGRAM) {
        rc = MCU_ERR_TOO_BIG;
    } else {
        memcpy(p->txbuf, pkt, len);
        rc = mcu_srtp_protect(p->srtp_out[receiver], p->txbuf, &len, sizeof p->txbuf, false);
    }
    if (rc == MCU_OK) {
        ssize_t n = sendto(p->fd_send, p->txbuf, len, MSG_DONTWAIT,
                           (const struct sockaddr *)&p->sink, sizeof p->sink);
        if (n >= 0) {
            p->datagrams++;
        } else if (errno == ENOBUFS || errno == EAGAIN || errno == EWOULDBLOCK) {
            p->buffer_full++;
        } else {
            p->fatal_errno = errno;
            rc = MCU_ERR_IO;
        }
    }
    if (rc < 0 && !p->fatal)
        p->fatal = rc;
    lap(p, ST_SEND);
    return rc;
}

static int send_video_pkt(void *opaque, int receiver, const uint8_t *pkt, size_t len)
{
    return send_to(opaque, receiver, pkt, len);
}

static int send_audio_pkt(void *opaque, int receiver, const uint8_t *pkt, size_t len)
{
    audio_dest_t *d = opaque;
    return send_to(d->p, d->receiver, pkt, len);
}

/* ---------------------------------------------------------------- one step */

/* One 20 ms audio tick j: the sites' packets due, their decode, the mix, its encodes
 * and each receiver's packet (shared mix, or its own mix-minus when it is a talker). */
static int audio_tick(pipe_t *p, int64_t j)
{
    int64_t now = PIPE_NOW_BASE_US + audio_us(j);
    int rc = receive(p, false, j);
    if (rc == MCU_OK)
        rc = jitter_input(p, false);
    if (rc == MCU_OK)
        rc = drain(p, false, now + PIPE_AUDIO_POLL_AHEAD_US);
    if (rc < 0)
        return rc;

    for (int i = 0; i < p->cfg.sites; i++) {
        bench_site_t *s = &p->sites[i];
        if (s->pcm_len && (rc = mcu_mixer_push(p->mixer, i, s->pcm, s->pcm_len)) < 0)
            return rc;
        s->pcm_len = 0;
    }
    if ((rc = mcu_mixer_tick(p->mixer, &p->mix)) < 0)
        return rc;
    lap(p, ST_MIX);

    int n = mcu_opus_enc_encode(p->shared_enc, p->mix.shared, p->shared.data,
                                sizeof p->shared.data);
    if (n < 0)
        return n;
    p->shared.len = (size_t)n;
    for (int k = 0; k < MCU_MIXER_MAX_TALKERS; k++) {
        p->minus[k].len = 0;
        if (p->mix.talker_site[k] < 0)
            continue;
        if (p->mix.talker_changed[k])
            mcu_opus_enc_reset(p->minus_enc[k]);
        n = mcu_opus_enc_encode(p->minus_enc[k], p->mix.minus[k], p->minus[k].data,
                                sizeof p->minus[k].data);
        if (n < 0)
            return n;
        p->minus[k].len = (size_t)n;
    }
    lap(p, ST_ENCODE_AUDIO);

    uint32_t rtp_ts = (uint32_t)(j * MCU_MIXER_FRAME_SAMPLES);
    for (int r = 0; r < p->cfg.receivers; r++) {
        const audio_out_t *out = &p->shared;
        for (int k = 0; k < MCU_MIXER_MAX_TALKERS; k++)
            if (p->mix.talker_site[k] == r && p->minus[k].len > 0)
                out = &p->minus[k]; /* receiver r is site r: a talker never hears itself */
        rc = mcu_tx_stream_send_frame(p->audio_tx[r], out->data, out->len, rtp_ts, now);
        if (rc < 0)
            return rc;
        if (p->fatal)
            return p->fatal;
    }
    lap(p, ST_PACKETIZE);
    return MCU_OK;
}

static int collect_au(void *opaque, const uint8_t *au, size_t len, bool idr, int64_t pts)
{
    pipe_t *p = opaque;
    if (len > PIPE_MAX_AU_BYTES - p->au_len)
        return MCU_ERR_TOO_BIG;
    memcpy(p->au + p->au_len, au, len);
    p->au_len += len;
    return MCU_OK;
}

/* Output frame k: input video due, audio ticks due, compose, encode, packetize, send. */
static int run_frame(pipe_t *p, int64_t k)
{
    int64_t now = PIPE_NOW_BASE_US + k * US_PER_S / p->cfg.out_fps;
    int rc = receive(p, true, k);
    if (rc == MCU_OK)
        rc = jitter_input(p, true);
    if (rc == MCU_OK)
        rc = drain(p, true, now);
    for (; rc == MCU_OK && p->next_tick <= last_tick(p, k); p->next_tick++)
        rc = audio_tick(p, p->next_tick);
    if (rc < 0)
        return rc;

    /* compose, as mcu/conference.c video_work: blank slots get the background */
    if ((rc = mcu_canvas_make_writable(p->canvas)) < 0)
        return rc;
    for (int c = 0; c < p->layout.n_cells; c++) {
        mcu_rect_t cell = p->layout.cells[c];
        if (c >= p->cfg.sites) {
            rc = mcu_canvas_fill(p->canvas, cell, MCU_COMPOSER_BG_Y, MCU_COMPOSER_BG_U,
                                 MCU_COMPOSER_BG_V);
        } else {
            bench_site_t *s = &p->sites[c];
            if (s->latest->buf[0])
                rc = mcu_composer_draw(p->composer, p->canvas, c, cell, s->latest,
                                       MCU_FIT_LETTERBOX);
            else
                rc = mcu_composer_draw_no_signal(p->composer, p->canvas, cell);
            if (rc == MCU_OK && s->label.w > 0)
                rc = mcu_label_draw(p->canvas, cell, &s->label, MCU_LABEL_POS_BOTTOM_LEFT);
        }
        if (rc < 0)
            return rc;
    }
    lap(p, ST_COMPOSE);

    int64_t pts = k * MCU_H264_ENC_TIME_BASE / p->cfg.out_fps;
    av_frame_unref(p->vframe);
    if ((rc = mcu_canvas_as_avframe(p->canvas, p->vframe)) < 0)
        return rc;
    p->vframe->pts = pts;
    p->au_len = 0;
    rc = mcu_h264_enc_encode(p->venc, p->vframe, false, collect_au, p);
    av_frame_unref(p->vframe); /* the canvas is the composer's again */
    if (rc < 0)
        return rc;
    lap(p, ST_ENCODE_VIDEO);

    if (p->au_len) {
        p->aus++;
        rc = mcu_tx_stream_send_frame(p->video_tx, p->au, p->au_len, (uint32_t)pts, now);
        if (rc < 0)
            return rc;
        if (p->fatal)
            return p->fatal;
    }
    lap(p, ST_PACKETIZE);
    return MCU_OK;
}

/* ---------------------------------------------------------------- setup and teardown */

static void pipe_free(pipe_t *p)
{
    if (!p)
        return;
    for (int i = 0; p->sites && i < p->cfg.sites; i++) {
        bench_site_t *s = &p->sites[i];
        mcu_srtp_destroy(&s->srtp_send);
        mcu_srtp_destroy(&s->srtp_recv);
        queue_free(&s->vq);
        queue_free(&s->aq);
        mcu_rx_stream_destroy(&s->rx_video);
        mcu_rx_stream_destroy(&s->rx_audio);
        mcu_video_dec_destroy(&s->dec);
        mcu_pyramid_pool_destroy(&s->pyramid);
        av_frame_free(&s->latest);
        mcu_opus_dec_destroy(&s->adec);
        mcu_label_bitmap_free(&s->label);
    }
    free(p->sites);
    mcu_canvas_destroy(&p->canvas);
    mcu_composer_destroy(&p->composer);
    mcu_label_destroy(&p->labeler);
    mcu_h264_enc_destroy(&p->venc);
    av_frame_free(&p->vframe);
    free(p->au);
    mcu_tx_stream_destroy(&p->video_tx);
    mcu_mixer_destroy(&p->mixer);
    mcu_opus_enc_destroy(&p->shared_enc);
    for (int k = 0; k < MCU_MIXER_MAX_TALKERS; k++)
        mcu_opus_enc_destroy(&p->minus_enc[k]);
    for (int r = 0; p->audio_tx && r < p->cfg.receivers; r++)
        mcu_tx_stream_destroy(&p->audio_tx[r]);
    free(p->audio_tx);
    free(p->dests);
    for (int r = 0; p->srtp_out && r < p->cfg.receivers; r++)
        mcu_srtp_destroy(&p->srtp_out[r]);
    free(p->srtp_out);
    if (p->fd_send >= 0)
        close(p->fd_send);
    if (p->fd_sink >= 0)
        close(p->fd_sink);
    free(p);
}

static int check_config(const mcu_bench_pipeline_config_t *cfg)
{
    if (cfg->n_clips < 1 || cfg->n_clips > MCU_BENCH_PIPELINE_MAX_CLIPS || cfg->sites < 1 ||
        cfg->sites > MCU_MIXER_MAX_SITES || cfg->out_fps < 1 ||
        cfg->out_fps > MCU_H264_ENC_MAX_FPS || cfg->frames < 1 ||
        cfg->frames > MCU_BENCH_PIPELINE_MAX_FRAMES || cfg->receivers < 0 ||
        cfg->receivers > MCU_TX_MAX_RECEIVERS || cfg->video_kbps < 1 || cfg->audio_kbps < 1 ||
        (cfg->out_w & 1) || (cfg->out_h & 1))
        return MCU_ERR_INVAL;
    for (int c = 0; c < cfg->n_clips; c++) {
        const mcu_bench_media_t *m = cfg->clips[c];
        /* A clip's fps times a frame count must stay far inside int64 (see
         * MCU_BENCH_PIPELINE_MAX_FRAMES): no real clip runs above the encoder's 60. */
        if (!m || m->n_video == 0 || m->n_audio == 0 || m->fps < 1 ||
            m->fps > MCU_H264_ENC_MAX_FPS)
            return MCU_ERR_INVAL;
    }
    return MCU_OK;
}

/* Opens the send socket and the sink it sends to (bound on loopback, never read). */
static int open_sockets(pipe_t *p)
{
    p->fd_sink = socket(AF_INET, SOCK_DGRAM, 0);
    p->fd_send = socket(AF_INET, SOCK_DGRAM, 0);
    if (p->fd_sink < 0 || p->fd_send < 0)
        return MCU_ERR_IO;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (bind(p->fd_sink, (const struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(p->fd_sink, (struct sockaddr *)&a, &alen) < 0)
        return MCU_ERR_IO;
    p->sink = a;
    int sndbuf = PIPE_SNDBUF_BYTES;
    if (setsockopt(p->fd_send, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) < 0)
        return MCU_ERR_IO;
    return MCU_OK;
}

/* One site: its endpoint's and the MCU's SRTP sessions (one fresh key), its two
 * rx_streams configured as mcu_site_create does, its decoders, and where its replay
 * starts. */
static int setup_site(pipe_t *p, int i)
{
    const mcu_bench_pipeline_config_t *cfg = &p->cfg;
    bench_site_t *s = &p->sites[i];
    s->index = i;
    int c = i % cfg->n_clips;
    const mcu_bench_media_t *m = cfg->clips[c];
    s->clip = m;
    /* Sites sharing a clip start at IDRs spread over it, so their pictures differ. */
    int ordinal = i / cfg->n_clips;
    int sharing = (cfg->sites - c + cfg->n_clips - 1) / cfg->n_clips;
    s->v_start = mcu_bench_media_key_at(m, (size_t)ordinal * m->n_video / (size_t)sharing);
    int64_t v_pts = m->video[s->v_start].pts_us > 0 ? m->video[s->v_start].pts_us : 0;
    int64_t frame_us = (int64_t)MCU_OPUS_FRAME_MS * US_PER_MS;
    s->a_start = (size_t)((v_pts + frame_us / 2) / frame_us) % m->n_audio;
    s->v_ssrc = PIPE_SITE_VIDEO_SSRC_BASE + (uint32_t)i;
    s->a_ssrc = PIPE_SITE_AUDIO_SSRC_BASE + (uint32_t)i;
    s->v_seq = (uint16_t)(PIPE_SEQ_BASE + (unsigned)i * PIPE_SEQ_STEP);
    s->a_seq = (uint16_t)(PIPE_SEQ_BASE + (unsigned)i * PIPE_SEQ_STEP + PIPE_SEQ_STEP / 2);
    s->v_ts0 = PIPE_TS_BASE + (uint32_t)i * PIPE_TS_STEP;
    s->a_ts0 = PIPE_TS_BASE + (uint32_t)i * PIPE_TS_STEP + PIPE_TS_STEP / 2;
    s->reset_pending = true; /* as mcu_site_create: the decoder starts at an IDR */

    mcu_srtp_key_t key;
    int rc = mcu_srtp_key_generate(MCU_SRTP_AES_CM_128_HMAC_SHA1_80, &key);
    if (rc == MCU_OK)
        rc = mcu_srtp_create(&key, MCU_SRTP_OUTBOUND, &s->srtp_send);
    if (rc == MCU_OK)
        rc = mcu_srtp_create(&key, MCU_SRTP_INBOUND, &s->srtp_recv);
    explicit_bzero(&key, sizeof key);

    /* As mcu_site_create; no RTX payload type: clean input is never retransmitted. */
    mcu_rx_stream_config_t vc = {.format = &mcu_h264_depack_ops,
                                 .payload_type = MCU_DEFAULT_VIDEO_PT, .nack = true};
    mcu_rx_stream_config_t ac = {.format = &mcu_opus_depack_ops,
                                 .payload_type = MCU_DEFAULT_AUDIO_PT};
    if (rc == MCU_OK)
        rc = mcu_rx_stream_create(&vc, &s->rx_video);
    if (rc == MCU_OK)
        rc = mcu_rx_stream_create(&ac, &s->rx_audio);
    mcu_video_dec_config_t dc;
    mcu_video_dec_config_default(&dc);
    if (rc == MCU_OK)
        rc = mcu_video_dec_create(&dc, &s->dec);
    if (rc == MCU_OK)
        rc = mcu_pyramid_pool_create(&s->pyramid);
    if (rc == MCU_OK && !(s->latest = av_frame_alloc()))
        rc = MCU_ERR_NOMEM;
    if (rc == MCU_OK)
        rc = mcu_opus_dec_create(&s->adec);
    if (rc == MCU_OK)
        rc = mcu_mixer_set_active(p->mixer, i, true);
    return rc;
}

/* The composite: the daemon's layout for this many sites on the canvas (what
 * mcu_control_compute_layout gives for the default control state, layout "auto"), the
 * canvas, composer and each shown site's label, rendered once for its cell as
 * conference.c slot_label does. */
static int setup_compose(pipe_t *p)
{
    const mcu_bench_pipeline_config_t *cfg = &p->cfg;
    int rc = mcu_layout_compute(mcu_layout_auto_grid((unsigned)cfg->sites), cfg->out_w,
                                cfg->out_h, &p->layout);
    if (rc == MCU_OK)
        rc = mcu_canvas_create(cfg->out_w, cfg->out_h, &p->canvas);
    if (rc == MCU_OK)
        rc = mcu_composer_create(&p->composer);
    if (rc == MCU_OK)
        rc = mcu_label_create(NULL, &p->labeler);
    for (int c = 0; rc == MCU_OK && c < p->layout.n_cells && c < cfg->sites; c++) {
        mcu_rect_t cell = p->layout.cells[c];
        p->sites[c].cell = cell;
        int max_w = mcu_label_max_width(cell);
        if (max_w > 0)
            rc = mcu_label_render(p->labeler, site_names[(size_t)c % N_SITE_NAMES],
                                  mcu_label_px_for_cell(cell.h), max_w, &p->sites[c].label);
    }
    return rc;
}

/* The output: the one H.264 encoder and Opus encoders as create_profile makes them,
 * the video tx_stream with every receiver and one audio tx_stream per receiver, as
 * mcu_conference_create does, and each receiver's own outbound SRTP session. */
static int setup_output(pipe_t *p)
{
    const mcu_bench_pipeline_config_t *cfg = &p->cfg;
    mcu_h264_enc_config_t ec;
    mcu_h264_enc_config_default(&ec, cfg->out_w, cfg->out_h, cfg->out_fps,
                                (int64_t)cfg->video_kbps * 1000);
    int rc = mcu_h264_enc_create(&ec, &p->venc);
    if (rc == MCU_OK && (!(p->vframe = av_frame_alloc()) || !(p->au = malloc(PIPE_MAX_AU_BYTES))))
        rc = MCU_ERR_NOMEM;
    mcu_opus_enc_config_t oc;
    mcu_opus_enc_config_default(&oc);
    oc.bitrate_bps = cfg->audio_kbps * 1000;
    if (rc == MCU_OK)
        rc = mcu_opus_enc_create(&oc, &p->shared_enc);
    for (int k = 0; k < MCU_MIXER_MAX_TALKERS && rc == MCU_OK; k++)
        rc = mcu_opus_enc_create(&oc, &p->minus_enc[k]);
    if (rc == MCU_OK)
        rc = open_sockets(p);

    int nr = cfg->receivers;
    if (rc == MCU_OK && nr > 0 &&
        (!(p->srtp_out = calloc((size_t)nr, sizeof *p->srtp_out)) ||
         !(p->audio_tx = calloc((size_t)nr, sizeof *p->audio_tx)) ||
         !(p->dests = calloc((size_t)nr, sizeof *p->dests))))
        rc = MCU_ERR_NOMEM;
    mcu_tx_stream_config_t tc = {.ssrc = PIPE_OUT_VIDEO_SSRC, .payload_type = MCU_DEFAULT_VIDEO_PT,
                                 .clock_rate = MCU_H264_CLOCK_RATE, .is_video = true,
                                 .cname = "mcu", .initial_seq = PIPE_SEQ_BASE,
                                 .ts_offset = PIPE_TS_BASE, .send = send_video_pkt, .opaque = p};
    if (rc == MCU_OK)
        rc = mcu_tx_stream_create(&tc, &p->video_tx);
    for (int r = 0; r < nr && rc == MCU_OK; r++) {
        mcu_srtp_key_t key;
        rc = mcu_srtp_key_generate(MCU_SRTP_AES_CM_128_HMAC_SHA1_80, &key);
        if (rc == MCU_OK)
            rc = mcu_srtp_create(&key, MCU_SRTP_OUTBOUND, &p->srtp_out[r]);
        explicit_bzero(&key, sizeof key);
        p->dests[r] = (audio_dest_t){p, r};
        mcu_tx_stream_config_t ac = {.ssrc = PIPE_OUT_AUDIO_SSRC_BASE + (uint32_t)r,
                                     .payload_type = MCU_DEFAULT_AUDIO_PT,
                                     .clock_rate = MCU_OPUS_CLOCK_RATE, .cname = "mcu",
                                     .history_packets = PIPE_AUDIO_HISTORY,
                                     .initial_seq = PIPE_SEQ_BASE, .ts_offset = PIPE_TS_BASE,
                                     .send = send_audio_pkt, .opaque = &p->dests[r]};
        if (rc == MCU_OK)
            rc = mcu_tx_stream_create(&ac, &p->audio_tx[r]);
        if (rc == MCU_OK)
            rc = mcu_tx_stream_add_receiver(p->audio_tx[r], 0);
        if (rc == MCU_OK)
            rc = mcu_tx_stream_add_receiver(p->video_tx, r);
    }
    return rc;
}

/* ---------------------------------------------------------------- records */

/* Values are rounded to a microsecond of ms (or a thousandth of the unit): finer
 * digits are below the run-to-run noise and only clutter the records. */
static double r3(double v) { return round(v * 1000) / 1000; }

static int make_records(const pipe_t *p, int64_t cpu_ns, int64_t wall_ns, json_t **floor,
                        json_t **throughput)
{
    const mcu_bench_pipeline_config_t *cfg = &p->cfg;
    double f = cfg->frames;
    double ms[ST__COUNT];
    for (int i = 0; i < ST__COUNT; i++)
        ms[i] = (double)p->ns[i] / NS_PER_MS / f;
    double cpu_ms = (double)cpu_ns / NS_PER_MS / f;
    double stage[MCU_STAGE_COUNT] = {
        [MCU_STAGE_RECEIVE] = ms[ST_RECEIVE],
        [MCU_STAGE_JITTER] = ms[ST_JITTER],
        [MCU_STAGE_DECODE] = ms[ST_DECODE_VIDEO] + ms[ST_DECODE_AUDIO],
        [MCU_STAGE_COMPOSE] = ms[ST_COMPOSE],
        [MCU_STAGE_MIX] = ms[ST_MIX],
        [MCU_STAGE_ENCODE] = ms[ST_ENCODE_VIDEO] + ms[ST_ENCODE_AUDIO],
        [MCU_STAGE_PACKETIZE] = ms[ST_PACKETIZE],
        [MCU_STAGE_SEND] = ms[ST_SEND],
    };
    double sum = 0;
    for (int i = 0; i < MCU_STAGE_COUNT; i++)
        sum += stage[i];
    double wall_s = (double)wall_ns / NS_PER_S, cpu_s = (double)cpu_ns / NS_PER_S;
    char input[sizeof cfg->input + 1], output[32];
    snprintf(input, sizeof input, "%.*s", (int)strnlen(cfg->input, sizeof cfg->input),
             cfg->input);
    snprintf(output, sizeof output, "%dp%d", cfg->out_h, cfg->out_fps);

    double floor_ms = ms[ST_DECODE_VIDEO] + ms[ST_DECODE_AUDIO] + ms[ST_ENCODE_VIDEO] +
                      ms[ST_ENCODE_AUDIO];
    *floor = json_pack("{s:s, s:i, s:s, s:s, s:i, s:f, s:f, s:f, s:f, s:f}", "kind", "floor",
                       "sites", cfg->sites, "input", input, "output", output, "frames",
                       cfg->frames, "video_decode_ms_per_frame", r3(ms[ST_DECODE_VIDEO]),
                       "audio_decode_ms_per_frame", r3(ms[ST_DECODE_AUDIO]),
                       "video_encode_ms_per_frame", r3(ms[ST_ENCODE_VIDEO]),
                       "audio_encode_ms_per_frame", r3(ms[ST_ENCODE_AUDIO]),
                       "cpu_ms_per_frame", r3(floor_ms));
    if (*floor && cfg->paced)
        json_object_set_new(*floor, "paced", json_true());
    double per_core = cpu_ms > 0 ? cfg->sites * (1000.0 / cfg->out_fps) / cpu_ms : 0;
    json_t *tp = json_pack("{s:s, s:i, s:s, s:s, s:i, s:i, s:f, s:f, s:f, s:f}", "kind",
                           "throughput", "sites", cfg->sites, "input", input, "output", output,
                           "receivers", cfg->receivers, "frames", cfg->frames, "wall_s",
                           r3(wall_s), "cpu_s", r3(cpu_s), "fps",
                           r3(wall_s > 0 ? f / wall_s : 0), "cpu_ms_per_frame", r3(cpu_ms));
    json_t *stages = json_object();
    /* json_object_set_new takes the value's reference even when it fails. */
    int bad = !tp || !stages;
    for (int i = 0; !bad && i < MCU_STAGE_COUNT; i++)
        bad = json_object_set_new(stages, mcu_stage_name((mcu_stage_t)i), json_real(r3(stage[i])));
    if (!bad)
        bad = json_object_set_new(stages, "other", json_real(r3(cpu_ms - sum)));
    if (!bad) {
        bad = json_object_set_new(tp, "stages", stages);
        stages = NULL;
    }
    if (!bad)
        bad = json_object_set_new(tp, "sites_per_core_at_output_fps", json_real(r3(per_core)));
    if (!bad && cfg->paced)
        bad = json_object_set_new(tp, "paced", json_true());
    json_decref(stages);
    if (bad) {
        json_decref(tp);
        tp = NULL;
    }
    *throughput = tp;
    if (!*floor || !*throughput) {
        json_decref(*floor);
        json_decref(*throughput);
        *floor = *throughput = NULL;
        return MCU_ERR_NOMEM;
    }
    return MCU_OK;
}

/* ---------------------------------------------------------------- run */

int mcu_bench_pipeline_run(const mcu_bench_pipeline_config_t *cfg, json_t **floor,
                           json_t **throughput)
{
    if (!floor || !throughput)
        return MCU_ERR_INVAL;
    *floor = *throughput = NULL;
    if (!cfg)
        return MCU_ERR_INVAL;
    int rc = check_config(cfg);
    if (rc < 0)
        return rc;
    pipe_t *p = calloc(1, sizeof *p);
    if (!p)
        return MCU_ERR_NOMEM;
    p->cfg = *cfg;
    p->fd_send = p->fd_sink = -1;
    p->sites = calloc((size_t)cfg->sites, sizeof *p->sites);
    if (!p->sites)
        rc = MCU_ERR_NOMEM;
    if (rc == MCU_OK)
        rc = mcu_mixer_create(cfg->sites, &p->mixer);
    for (int i = 0; i < cfg->sites && rc == MCU_OK; i++)
        rc = setup_site(p, i);
    if (rc == MCU_OK)
        rc = setup_compose(p);
    if (rc == MCU_OK)
        rc = setup_output(p);
    if (rc < 0) {
        MCU_LOG_ERROR(PIPE_LOG_OBJ, "setup failed: %s", mcu_strerror(rc));
        pipe_free(p);
        return rc;
    }

    /* The timed loop, a block of output frames at a time; the input of each block is
     * prepared before its clocks start. */
    int64_t cpu_ns = 0, wall_ns = 0, paced_start = 0;
    int64_t block = (int64_t)cfg->out_fps * PIPE_BLOCK_SECONDS;
    for (int64_t k0 = 0; k0 < cfg->frames && rc == MCU_OK; k0 += block) {
        int64_t k1 = k0 + block < cfg->frames ? k0 + block : cfg->frames;
        if ((rc = prepare_block(p, k1 - 1)) < 0)
            break;
        int64_t wall0 = clock_ns(CLOCK_MONOTONIC);
        if (cfg->paced && k0 == 0)
            paced_start = wall0;
        int64_t cpu0 = p->last_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID);
        for (int64_t k = k0; k < k1 && rc == MCU_OK; k++) {
            if (cfg->paced)
                sleep_until(paced_start + k * NS_PER_S / cfg->out_fps);
            rc = run_frame(p, k);
        }
        lap(p, ST_LOOP);
        wall_ns += clock_ns(CLOCK_MONOTONIC) - wall0;
        cpu_ns += p->last_ns - cpu0;
    }
    if (rc == MCU_ERR_IO && p->fatal_errno)
        MCU_LOG_ERROR(PIPE_LOG_OBJ, "send failed: %s", strerror(p->fatal_errno));
    else if (rc < 0)
        MCU_LOG_ERROR(PIPE_LOG_OBJ, "run failed: %s", mcu_strerror(rc));

    /* A run in which a site never showed a picture, or the encoder skipped a frame,
     * did not measure the pipeline it claims to. */
    for (int i = 0; i < cfg->sites && rc == MCU_OK; i++)
        if (p->sites[i].pictures == 0) {
            MCU_LOG_ERROR(PIPE_LOG_OBJ, "site %d (%s) decoded no picture", i,
                          site_names[(size_t)i % N_SITE_NAMES]);
            rc = MCU_ERR_CODEC;
        }
    if (rc == MCU_OK && p->aus != (uint64_t)cfg->frames) {
        MCU_LOG_ERROR(PIPE_LOG_OBJ, "%llu access units for %d frames",
                      (unsigned long long)p->aus, cfg->frames);
        rc = MCU_ERR_CODEC;
    }
    if (rc == MCU_OK) {
        uint64_t damaged = 0;
        for (int i = 0; i < cfg->sites; i++)
            damaged += p->sites[i].damaged;
        MCU_LOG_INFO(PIPE_LOG_OBJ,
                     "%d frames: %llu datagrams sent, %llu refused by a full buffer, "
                     "%llu damaged input pictures, %.1f clock reads per frame",
                     cfg->frames, (unsigned long long)p->datagrams,
                     (unsigned long long)p->buffer_full, (unsigned long long)damaged,
                     (double)p->clock_reads / cfg->frames);
        rc = make_records(p, cpu_ns, wall_ns, floor, throughput);
    }
    pipe_free(p);
    return rc;
}
