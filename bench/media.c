#include "bench/media.h"

#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "mcu/error.h"

#define US_PER_S 1000000

static int append(mcu_bench_unit_t **arr, size_t *n, const AVPacket *pkt, AVRational tb,
                  int64_t start_pts, size_t *total)
{
    if (*n >= MCU_BENCH_MEDIA_MAX_UNITS || *total + (size_t)pkt->size > MCU_BENCH_MEDIA_MAX_BYTES)
        return MCU_ERR_TOO_BIG;
    if (!*arr && !(*arr = calloc(MCU_BENCH_MEDIA_MAX_UNITS, sizeof **arr)))
        return MCU_ERR_NOMEM;
    mcu_bench_unit_t *u = &(*arr)[*n];
    if (!(u->data = malloc((size_t)pkt->size)))
        return MCU_ERR_NOMEM;
    memcpy(u->data, pkt->data, (size_t)pkt->size);
    u->len = (size_t)pkt->size;
    int64_t pts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
    u->pts_us = av_rescale_q(pts - start_pts, tb, (AVRational){1, US_PER_S});
    u->key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
    (*n)++;
    *total += u->len;
    return MCU_OK;
}

int mcu_bench_media_load(const char *path, mcu_bench_media_t **out)
{
    *out = NULL;
    AVFormatContext *fmt = NULL;
    if (avformat_open_input(&fmt, path, NULL, NULL) < 0)
        return MCU_ERR_IO;
    int rc = MCU_ERR_IO;
    mcu_bench_media_t *m = calloc(1, sizeof *m);
    AVPacket *pkt = av_packet_alloc();
    if (!m || !pkt) {
        rc = MCU_ERR_NOMEM;
        goto done;
    }
    if (avformat_find_stream_info(fmt, NULL) < 0)
        goto done;
    int vi = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    int ai = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    if (vi < 0 || ai < 0 || fmt->streams[vi]->codecpar->codec_id != AV_CODEC_ID_H264 ||
        fmt->streams[ai]->codecpar->codec_id != AV_CODEC_ID_OPUS)
        goto done;
    AVStream *vs = fmt->streams[vi], *as = fmt->streams[ai];
    m->width = vs->codecpar->width;
    m->height = vs->codecpar->height;
    AVRational fr = av_guess_frame_rate(fmt, vs, NULL);
    m->fps = fr.den ? (int)(fr.num / fr.den) : 0;
    if (m->fps <= 0)
        goto done;
    int64_t v0 = AV_NOPTS_VALUE, a0 = AV_NOPTS_VALUE;
    size_t total = 0;
    rc = MCU_OK;
    while (rc == MCU_OK && av_read_frame(fmt, pkt) >= 0) {
        int64_t pts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
        if (pkt->stream_index == vi) {
            if (v0 == AV_NOPTS_VALUE)
                v0 = pts;
            rc = append(&m->video, &m->n_video, pkt, vs->time_base, v0, &total);
        } else if (pkt->stream_index == ai) {
            if (a0 == AV_NOPTS_VALUE)
                a0 = pts;
            rc = append(&m->audio, &m->n_audio, pkt, as->time_base, a0, &total);
        }
        av_packet_unref(pkt);
    }
    if (rc == MCU_OK && (m->n_video == 0 || m->n_audio == 0))
        rc = MCU_ERR_IO;
    m->duration_us = (int64_t)m->n_video * US_PER_S / m->fps;
done:
    av_packet_free(&pkt);
    avformat_close_input(&fmt);
    if (rc != MCU_OK)
        mcu_bench_media_free(&m);
    *out = m;
    return rc;
}

static void free_units(mcu_bench_unit_t *u, size_t n)
{
    for (size_t i = 0; u && i < n; i++)
        free(u[i].data);
    free(u);
}

void mcu_bench_media_free(mcu_bench_media_t **pm)
{
    mcu_bench_media_t *m = pm ? *pm : NULL;
    if (!m)
        return;
    free_units(m->video, m->n_video);
    free_units(m->audio, m->n_audio);
    free(m);
    *pm = NULL;
}

size_t mcu_bench_media_key_at(const mcu_bench_media_t *m, size_t from)
{
    for (size_t k = 0; k < m->n_video; k++) {
        size_t i = (from + k) % m->n_video;
        if (m->video[i].key)
            return i;
    }
    return 0;
}
