#include "codecs/audio_dec.h"

#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>

#include "codecs/av_err.h"
#include "codecs/opus_codec.h"
#include "mcu/error.h"

/* What concealment repeats: the last 20 ms decoded (a mixer tick). */
#define CONCEAL_FRAME (MCU_AUDIO_DEC_RATE / 50)

struct mcu_audio_dec {
    mcu_codec_t codec;
    mcu_opus_dec_t *opus;       /* Opus */
    AVCodecContext *ctx;        /* the others */
    AVPacket *pkt;
    AVFrame *frame;
    SwrContext *swr;
    int16_t last[CONCEAL_FRAME];
    size_t last_len;
    float conceal_gain;         /* of the next repetition */
};

static int open_lavc(mcu_audio_dec_t *d, enum AVCodecID id, int rate)
{
    const AVCodec *codec = avcodec_find_decoder(id);
    if (!codec)
        return MCU_ERR_UNSUPPORTED;
    d->ctx = avcodec_alloc_context3(codec);
    d->pkt = av_packet_alloc();
    d->frame = av_frame_alloc();
    if (!d->ctx || !d->pkt || !d->frame)
        return MCU_ERR_NOMEM;
    d->ctx->sample_rate = rate;
    av_channel_layout_default(&d->ctx->ch_layout, 1);
    int rc = avcodec_open2(d->ctx, codec, NULL);
    if (rc < 0)
        return mcu__av_err(rc, MCU_ERR_CODEC);
    AVChannelLayout mono;
    av_channel_layout_default(&mono, 1);
    rc = swr_alloc_set_opts2(&d->swr, &mono, AV_SAMPLE_FMT_S16, MCU_AUDIO_DEC_RATE, &mono,
                             d->ctx->sample_fmt, rate, 0, NULL);
    if (rc < 0 || (rc = swr_init(d->swr)) < 0)
        return mcu__av_err(rc, MCU_ERR_CODEC);
    return MCU_OK;
}

int mcu_audio_dec_create(mcu_codec_t codec, mcu_audio_dec_t **out)
{
    *out = NULL;
    mcu_audio_dec_t *d = calloc(1, sizeof *d);
    if (!d)
        return MCU_ERR_NOMEM;
    d->codec = codec;
    int rc;
    switch (codec) {
    case MCU_CODEC_OPUS: rc = mcu_opus_dec_create(&d->opus); break;
    case MCU_CODEC_G722: rc = open_lavc(d, AV_CODEC_ID_ADPCM_G722, 16000); break;
    case MCU_CODEC_PCMU: rc = open_lavc(d, AV_CODEC_ID_PCM_MULAW, 8000); break;
    case MCU_CODEC_PCMA: rc = open_lavc(d, AV_CODEC_ID_PCM_ALAW, 8000); break;
    default: rc = MCU_ERR_UNSUPPORTED; break;
    }
    if (rc < 0) {
        mcu_audio_dec_destroy(&d);
        return rc;
    }
    *out = d;
    return MCU_OK;
}

void mcu_audio_dec_destroy(mcu_audio_dec_t **pd)
{
    mcu_audio_dec_t *d = pd ? *pd : NULL;
    if (!d)
        return;
    mcu_opus_dec_destroy(&d->opus);
    avcodec_free_context(&d->ctx);
    av_packet_free(&d->pkt);
    av_frame_free(&d->frame);
    swr_free(&d->swr);
    free(d);
    *pd = NULL;
}

/* Keeps the tail of what was just decoded for concealment. */
static void remember(mcu_audio_dec_t *d, const int16_t *pcm, size_t n)
{
    size_t keep = n < CONCEAL_FRAME ? n : CONCEAL_FRAME;
    memcpy(d->last, pcm + n - keep, keep * sizeof *pcm);
    d->last_len = keep;
    d->conceal_gain = MCU_AUDIO_DEC_CONCEAL_GAIN;
}

int mcu_audio_dec_decode(mcu_audio_dec_t *d, const uint8_t *pkt, size_t len, int16_t *pcm,
                         size_t cap)
{
    if (d->opus)
        return mcu_opus_dec_decode(d->opus, pkt, len, pcm, cap);
    if (!pkt || len == 0)
        return MCU_ERR_EMPTY;
    if (len > MCU_SAMPLE_RTP_CLOCK * MCU_SAMPLE_RTP_MAX_MS / 1000)
        return MCU_ERR_TOO_BIG; /* the depacketizer's bound: one byte per clock tick */
    int rc = av_new_packet(d->pkt, (int)len);
    if (rc < 0)
        return MCU_ERR_NOMEM;
    memcpy(d->pkt->data, pkt, len);
    rc = avcodec_send_packet(d->ctx, d->pkt);
    av_packet_unref(d->pkt);
    if (rc < 0)
        return mcu__av_err(rc, MCU_ERR_MALFORMED);
    size_t n = 0;
    while ((rc = avcodec_receive_frame(d->ctx, d->frame)) == 0) {
        int room = (int)(cap - n);
        int want = swr_get_out_samples(d->swr, d->frame->nb_samples);
        if (want > room) {
            av_frame_unref(d->frame);
            return MCU_ERR_NOSPACE;
        }
        uint8_t *dst[1] = {(uint8_t *)(pcm + n)};
        int got = swr_convert(d->swr, dst, room, (const uint8_t **)d->frame->extended_data,
                              d->frame->nb_samples);
        av_frame_unref(d->frame);
        if (got < 0)
            return MCU_ERR_CODEC;
        n += (size_t)got;
    }
    if (rc != AVERROR(EAGAIN) && rc != AVERROR_EOF)
        return mcu__av_err(rc, MCU_ERR_MALFORMED);
    if (n)
        remember(d, pcm, n);
    return (int)n;
}

int mcu_audio_dec_conceal(mcu_audio_dec_t *d, size_t samples, int16_t *pcm, size_t cap)
{
    if (d->opus)
        return mcu_opus_dec_conceal(d->opus, samples, pcm, cap);
    if (samples == 0 || samples > MCU_AUDIO_DEC_MAX_SAMPLES || samples % 120)
        return MCU_ERR_INVAL;
    if (samples > cap)
        return MCU_ERR_NOSPACE;
    for (size_t i = 0; i < samples; i++)
        pcm[i] = d->last_len ? (int16_t)(d->last[i % d->last_len] * d->conceal_gain) : 0;
    d->conceal_gain *= MCU_AUDIO_DEC_CONCEAL_GAIN;
    return (int)samples;
}

mcu_codec_t mcu_audio_dec_codec(const mcu_audio_dec_t *d) { return d->codec; }
