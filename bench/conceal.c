#include "bench/conceal.h"

#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/opt.h>
#include <stdlib.h>
#include <string.h>

#include "codecs/h264_rtp.h"
#include "mcu/error.h"
#include "mcu/rtp.h"
#include "mcu/rx_stream.h"
#include "mcu/site_limits.h"
#include "mcu/video_in.h"

/* The jitter buffer is polled this often in media time: the daemon's timer fires on its
 * deadlines, and 5 ms is finer than any of them matters at 25 fps. */
#define CONCEAL_POLL_US 5000
/* Packets of one frame leave the sender this far apart (a burst on a LAN link). */
#define CONCEAL_PACKET_GAP_US 50
/* Clean pictures kept for comparison: the jitter buffer holds a frame at most 400 ms. */
#define CONCEAL_RING 32
/* The daemon's frozen-tile rule (mcu/conference.c CONF_FROZEN_MS). */
#define CONCEAL_FROZEN_US 200000
#define SSIM_KEY "lavfi.ssim.All"

/* ---------------------------------------------------------------- SSIM */

/* libavfilter's ssim on pairs of pictures; results arrive by the pair's number (framesync
 * may hold a pair until the next one comes). */
typedef struct ssim_meter {
    AVFilterGraph *graph;
    AVFilterContext *src[2], *sink;
    int64_t n;                  /* pairs pushed */
    double *values;             /* by pair number */
    int64_t cap;
} ssim_meter_t;

static int ssim_open(ssim_meter_t *m, const AVFrame *like, int64_t cap)
{
    memset(m, 0, sizeof *m);
    m->values = calloc((size_t)cap, sizeof *m->values);
    m->cap = cap;
    m->graph = avfilter_graph_alloc();
    if (!m->values || !m->graph)
        return MCU_ERR_NOMEM;
    char args[192];
    snprintf(args, sizeof args, "video_size=%dx%d:pix_fmt=%d:time_base=1/25:pixel_aspect=1/1",
             like->width, like->height, like->format);
    AVFilterContext *ssim = NULL;
    const char *names[2] = {"main", "ref"};
    int rc = 0;
    for (int i = 0; i < 2 && rc >= 0; i++)
        rc = avfilter_graph_create_filter(&m->src[i], avfilter_get_by_name("buffer"), names[i],
                                          args, NULL, m->graph);
    if (rc >= 0)
        rc = avfilter_graph_create_filter(&ssim, avfilter_get_by_name("ssim"), "ssim", NULL,
                                          NULL, m->graph);
    if (rc >= 0)
        rc = avfilter_graph_create_filter(&m->sink, avfilter_get_by_name("buffersink"), "out",
                                          NULL, NULL, m->graph);
    if (rc >= 0)
        rc = avfilter_link(m->src[0], 0, ssim, 0);
    if (rc >= 0)
        rc = avfilter_link(m->src[1], 0, ssim, 1);
    if (rc >= 0)
        rc = avfilter_link(ssim, 0, m->sink, 0);
    if (rc >= 0)
        rc = avfilter_graph_config(m->graph, NULL);
    return rc < 0 ? MCU_ERR_CODEC : MCU_OK;
}

static void ssim_drain(ssim_meter_t *m)
{
    AVFrame *out = av_frame_alloc();
    while (out && av_buffersink_get_frame(m->sink, out) >= 0) {
        AVDictionaryEntry *e = av_dict_get(out->metadata, SSIM_KEY, NULL, 0);
        if (e && out->pts >= 0 && out->pts < m->cap)
            m->values[out->pts] = atof(e->value);
        av_frame_unref(out);
    }
    av_frame_free(&out);
}

/* Queues one pair; returns its number (its value comes by ssim_close). */
static int64_t ssim_push(ssim_meter_t *m, const AVFrame *a, const AVFrame *b)
{
    if (m->n >= m->cap)
        return -1;
    AVFrame *fa = av_frame_clone(a), *fb = av_frame_clone(b);
    int64_t id = m->n++;
    if (fa && fb) {
        fa->pts = fb->pts = id;
        if (av_buffersrc_add_frame(m->src[0], fa) < 0 || av_buffersrc_add_frame(m->src[1], fb) < 0)
            m->values[id] = -1; /* not measured */
    }
    av_frame_free(&fa);
    av_frame_free(&fb);
    ssim_drain(m);
    return id;
}

static void ssim_close(ssim_meter_t *m)
{
    if (m->graph) {
        if (av_buffersrc_add_frame(m->src[0], NULL) >= 0 &&
            av_buffersrc_add_frame(m->src[1], NULL) >= 0)
            ssim_drain(m);
    }
    avfilter_graph_free(&m->graph);
}

/* ---------------------------------------------------------------- the run */

typedef struct sample_set {
    double *v;
    int n;
} sample_set_t;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static json_t *summary(const ssim_meter_t *m, const int64_t *ids, int n)
{
    double *v = malloc(sizeof *v * (size_t)(n ? n : 1)), sum = 0;
    int k = 0;
    for (int i = 0; v && i < n; i++)
        if (ids[i] >= 0 && m->values[ids[i]] > 0) {
            v[k] = m->values[ids[i]];
            sum += v[k++];
        }
    json_t *o = json_object();
    if (v && k) {
        qsort(v, (size_t)k, sizeof *v, cmp_double);
        json_object_set_new(o, "mean", json_real(sum / k));
        json_object_set_new(o, "p5", json_real(v[k * 5 / 100]));
        json_object_set_new(o, "min", json_real(v[0]));
    }
    json_object_set_new(o, "n", json_integer(k));
    free(v);
    return o;
}

/* SSIM of the pictures shown, by their damage (video_dec.h): what the conceal policy's
 * threshold trades. */
static json_t *by_damage(const ssim_meter_t *m, const int64_t *ids, const float *damage, int n)
{
    static const double edges[] = {0, 1e-6, 0.5, 1, 2, 4, 1e9};
    const int buckets = (int)(sizeof edges / sizeof edges[0]) - 1;
    json_t *a = json_array();
    int64_t *sel = malloc(sizeof *sel * (size_t)(n ? n : 1));
    for (int b = 0; sel && b < buckets; b++) {
        int k = 0;
        for (int i = 0; i < n; i++)
            if (damage[i] >= edges[b] && damage[i] < edges[b + 1])
                sel[k++] = ids[i];
        json_t *o = summary(m, sel, k);
        json_object_set_new(o, "damage_from", json_real(edges[b]));
        json_object_set_new(o, "damage_to", json_real(edges[b + 1] > 1e8 ? 16 : edges[b + 1]));
        json_array_append_new(a, o);
    }
    free(sel);
    return a;
}

typedef struct sink {
    mcu_rx_stream_t *rx;
    uint16_t seq;
    uint32_t ts;
    int64_t t_us;
    uint64_t *rng;
    double loss;
    uint64_t sent, lost;
} sink_t;

static double unit_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (double)((*s * 0x2545F4914F6CDD1Dull) >> 11) / (double)(1ull << 53);
}

static int send_packet(void *opaque, const uint8_t *payload, size_t len, bool marker)
{
    sink_t *k = opaque;
    uint8_t pkt[MCU_RTP_MAX_DATAGRAM];
    mcu_rtp_header_t h = {.marker = marker, .payload_type = 96, .seq = k->seq++,
                          .timestamp = k->ts, .ssrc = 0x5A5A0001};
    int n = mcu_rtp_write_header(&h, pkt, sizeof pkt);
    if (n < 0 || len > sizeof pkt - (size_t)n)
        return MCU_ERR_TOO_BIG;
    memcpy(pkt + n, payload, len);
    k->sent++;
    k->t_us += CONCEAL_PACKET_GAP_US;
    if (unit_rand(k->rng) * 100.0 < k->loss) {
        k->lost++;
        return MCU_OK;
    }
    (void)mcu_rx_stream_input(k->rx, pkt, (size_t)n + len, k->t_us);
    return MCU_OK;
}

int mcu_bench_conceal_run(const mcu_bench_conceal_config_t *cfg, json_t **out)
{
    *out = NULL;
    const mcu_bench_media_t *clip = cfg->clip;
    if (!clip || clip->n_video == 0 || clip->fps <= 0)
        return MCU_ERR_INVAL;
    int64_t frame_us = 1000000 / clip->fps;
    int frames = (int)(cfg->seconds * clip->fps);
    uint32_t ts_step = MCU_H264_CLOCK_RATE / (uint32_t)clip->fps;

    mcu_site_config_t sc;
    mcu_config_site_default(&sc, 0);
    mcu_rx_stream_config_t rc_cfg = {.format = &mcu_h264_depack_ops, .codec = MCU_CODEC_H264,
                                     .payload_type = 96, .nack = true};
    mcu_site_limits_jitter(&sc, &rc_cfg.jitter);
    mcu_video_in_config_t vc = {.codec = MCU_CODEC_H264, .max_pixels = sc.max_pixels,
                                .policy = cfg->policy, .max_freeze_ms = cfg->max_freeze_ms,
                                .max_damage = cfg->max_damage};
    mcu_rx_stream_t *rx = NULL;
    mcu_video_in_t *vin = NULL;
    mcu_video_dec_t *clean = NULL;
    int rc = mcu_rx_stream_create(&rc_cfg, &rx);
    if (rc == MCU_OK)
        rc = mcu_video_in_create(&vc, &vin);
    if (rc == MCU_OK)
        rc = mcu_video_dec_create(NULL, &clean);
    AVFrame *ring[CONCEAL_RING] = {0};
    AVFrame *tile = NULL;
    int64_t tile_arrival = 0;
    ssim_meter_t meter = {0};
    int64_t *shown_ids = calloc((size_t)frames * 2 + 8, sizeof *shown_ids);
    int64_t *tick_ids = calloc((size_t)frames + 8, sizeof *tick_ids);
    float *shown_damage = calloc((size_t)frames * 2 + 8, sizeof *shown_damage);
    int n_shown = 0, n_ticks = 0, frozen = 0, keyframe_asks = 0;
    uint64_t rng = cfg->seed * 0x9E3779B97F4A7C15ull + 1;
    sink_t sink = {.rx = rx, .rng = &rng, .loss = cfg->loss_pct};
    if (!shown_ids || !tick_ids)
        rc = MCU_ERR_NOMEM;
    int64_t next_tick = frame_us / 2; /* ticks half a frame off the sender's grid */
    for (int k = 0; k < frames && rc == MCU_OK; k++) {
        const mcu_bench_unit_t *au = &clip->video[(size_t)k % clip->n_video];
        int64_t t0 = (int64_t)k * frame_us;
        /* The sender's picture. */
        mcu_video_dec_picture_t cp;
        if (mcu_video_dec_decode(clean, au->data, au->len, k, &cp) == 1) {
            av_frame_free(&ring[k % CONCEAL_RING]);
            ring[k % CONCEAL_RING] = av_frame_clone(cp.frame);
            ring[k % CONCEAL_RING]->pts = k;
            if (!meter.graph && ssim_open(&meter, cp.frame, (int64_t)frames * 3 + 8) != MCU_OK)
                rc = MCU_ERR_CODEC;
        }
        /* Its packets, some lost. */
        sink.ts = (uint32_t)k * ts_step;
        sink.t_us = t0;
        (void)mcu_h264_packetize(au->data, au->len, MCU_H264_DEFAULT_MTU, send_packet, &sink);
        /* Until the next frame: poll, decode, and tick. */
        for (int64_t t = t0; t < t0 + frame_us; t += CONCEAL_POLL_US) {
            mcu_rx_frame_t f;
            while (mcu_rx_stream_poll(rx, t, &f) == MCU_OK)
                keyframe_asks += mcu_video_in_admit(vin, &f);
            mcu_video_in_batch_t b;
            mcu_video_in_take(vin, &b);
            for (int i = 0; i < b.n; i++) {
                mcu_video_in_picture_t pic;
                if (mcu_video_in_decode(vin, &b.aus[i], &pic) != 1)
                    continue;
                int64_t idx = (int64_t)(pic.timestamp / ts_step);
                AVFrame *ref = ring[idx % CONCEAL_RING];
                if (ref && ref->pts == idx && ref->width == pic.frame->width) {
                    shown_damage[n_shown] = pic.damage;
                    shown_ids[n_shown++] = ssim_push(&meter, pic.frame, ref);
                }
                av_frame_free(&tile);
                tile = pic.frame;
                tile_arrival = pic.arrival_us;
            }
            mcu_video_in_batch_free(&b);
            for (; next_tick <= t; next_tick += frame_us) {
                if (!tile)
                    continue;
                frozen += next_tick - tile_arrival > CONCEAL_FROZEN_US;
                AVFrame *now = ring[k % CONCEAL_RING]; /* the sender's picture of the moment */
                if (now && now->width == tile->width)
                    tick_ids[n_ticks++] = ssim_push(&meter, tile, now);
            }
        }
    }
    ssim_close(&meter);
    if (rc == MCU_OK) {
        const mcu_video_in_stats_t *vs = mcu_video_in_stats(vin);
        json_t *r = json_pack("{s:s,s:s,s:f,s:I,s:f,s:i,s:I,s:I,s:I,s:I,s:I,s:f}", "kind",
                              "conceal", "policy",
                              cfg->policy == MCU_LOSS_CONCEAL ? "conceal" : "freeze",
                              "loss_pct", cfg->loss_pct, "seed", (json_int_t)cfg->seed,
                              "seconds", cfg->seconds, "max_freeze_ms", cfg->max_freeze_ms,
                              "packets", (json_int_t)sink.sent, "lost", (json_int_t)sink.lost,
                              "shown_clean", (json_int_t)vs->clean, "shown_concealed",
                              (json_int_t)vs->concealed, "held", (json_int_t)vs->held,
                              "frozen_pct", n_ticks ? 100.0 * frozen / n_ticks : 100.0);
        json_object_set_new(r, "max_damage", json_real(cfg->max_damage > 0
                                                           ? cfg->max_damage
                                                           : MCU_VIDEO_IN_MAX_DAMAGE));
        json_object_set_new(r, "ticks", json_integer(n_ticks));
        json_object_set_new(r, "keyframe_requests", json_integer(keyframe_asks));
        json_object_set_new(r, "ssim_shown", summary(&meter, shown_ids, n_shown));
        json_object_set_new(r, "ssim_tick", summary(&meter, tick_ids, n_ticks));
        json_object_set_new(r, "ssim_by_damage",
                            by_damage(&meter, shown_ids, shown_damage, n_shown));
        *out = r;
    }
    free(meter.values);
    free(shown_ids);
    free(tick_ids);
    free(shown_damage);
    av_frame_free(&tile);
    for (int i = 0; i < CONCEAL_RING; i++)
        av_frame_free(&ring[i]);
    mcu_video_dec_destroy(&clean);
    mcu_video_in_destroy(&vin);
    mcu_rx_stream_destroy(&rx);
    return rc;
}
