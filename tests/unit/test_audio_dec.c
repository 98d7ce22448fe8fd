/* audio_dec: G.711 (µ-law, A-law) and G.722 made by libavcodec's encoders at test time come
 * out at 48 kHz as the tone that went in, 960 samples per 20 ms packet, continuous across
 * packets; concealment repeats and fades; Opus goes through libopus. */
#include <math.h>
#include <string.h>

#include <libavcodec/avcodec.h>

#include "codecs/audio_dec.h"
#include "mcu/error.h"
#include "test_audio.h"
#include "test_util.h"

#define PACKETS 25      /* half a second */
#define TONE_HZ 1000.0

/* Encodes PACKETS x 20 ms of a tone at `rate` with the libavcodec encoder `id`. */
static int encode(enum AVCodecID id, int rate, uint8_t pkts[][400], size_t *lens)
{
    const AVCodec *codec = avcodec_find_encoder(id);
    assert_non_null(codec);
    AVCodecContext *c = avcodec_alloc_context3(codec);
    c->sample_rate = rate;
    c->sample_fmt = AV_SAMPLE_FMT_S16;
    av_channel_layout_default(&c->ch_layout, 1);
    assert_int_equal(avcodec_open2(c, codec, NULL), 0);
    int per = rate / 50;
    AVFrame *f = av_frame_alloc();
    f->format = AV_SAMPLE_FMT_S16;
    f->nb_samples = per;
    f->sample_rate = rate;
    av_channel_layout_default(&f->ch_layout, 1);
    assert_int_equal(av_frame_get_buffer(f, 0), 0);
    AVPacket *p = av_packet_alloc();
    int n = 0;
    for (int k = 0; k < PACKETS; k++) {
        av_frame_make_writable(f);
        int16_t *x = (int16_t *)f->data[0];
        for (int i = 0; i < per; i++)
            x[i] = (int16_t)lrint(8000 * sin(2 * TEST_AUDIO_PI * TONE_HZ * (k * per + i) / rate));
        f->pts = k * per;
        assert_int_equal(avcodec_send_frame(c, f), 0);
        while (avcodec_receive_packet(c, p) == 0) {
            assert_true(p->size <= 400);
            memcpy(pkts[n], p->data, (size_t)p->size);
            lens[n++] = (size_t)p->size;
            av_packet_unref(p);
        }
    }
    av_packet_free(&p);
    av_frame_free(&f);
    avcodec_free_context(&c);
    return n;
}

static void check_codec(mcu_codec_t codec, enum AVCodecID id, int rate, size_t bytes_per_packet)
{
    static uint8_t pkts[PACKETS][400];
    size_t lens[PACKETS];
    int n = encode(id, rate, pkts, lens);
    assert_int_equal(n, PACKETS);
    assert_int_equal(lens[0], bytes_per_packet);
    mcu_audio_dec_t *d;
    assert_int_equal(mcu_audio_dec_create(codec, &d), MCU_OK);
    assert_int_equal(mcu_audio_dec_codec(d), codec);
    static int16_t out[PACKETS * 960 + MCU_AUDIO_DEC_MAX_SAMPLES];
    size_t total = 0;
    for (int k = 0; k < n; k++) {
        int got = mcu_audio_dec_decode(d, pkts[k], lens[k], out + total, MCU_AUDIO_DEC_MAX_SAMPLES);
        assert_true(got >= 0);
        total += (size_t)got;
    }
    /* 48 kHz out: 960 a packet, less the resampler's short filter delay. */
    assert_true(total >= (size_t)PACKETS * 960 - 96 && total <= (size_t)PACKETS * 960);
    /* The tone, and nothing much else, over the last 400 ms. */
    size_t win = 19200;
    const int16_t *tail = out + total - win;
    double tone = test_goertzel(tail, win, TONE_HZ);
    double off = test_goertzel(tail, win, 2.7 * TONE_HZ);
    double rms = test_rms(tail, win);
    print_message("%s: %zu samples, rms %.0f, tone/off-tone %.1f dB\n",
                  mcu_codec_info(codec)->name, total, rms, test_db(tone, off));
    assert_true(rms > 8000 / sqrt(2) * 0.8 && rms < 8000 / sqrt(2) * 1.2);
    assert_true(test_db(tone, off) > 30);
    /* Concealment: the last 20 ms again at half the level, then a quarter. */
    int16_t pcm[960];
    assert_int_equal(mcu_audio_dec_conceal(d, 960, pcm, 960), 960);
    double r1 = test_rms(pcm, 960);
    assert_int_equal(mcu_audio_dec_conceal(d, 960, pcm, 960), 960);
    double r2 = test_rms(pcm, 960);
    assert_true(fabs(r1 / rms - 0.5) < 0.1);
    assert_true(fabs(r2 / rms - 0.25) < 0.05);
    assert_int_equal(mcu_audio_dec_conceal(d, 100, pcm, 960), MCU_ERR_INVAL);
    assert_int_equal(mcu_audio_dec_conceal(d, 960, pcm, 480), MCU_ERR_NOSPACE);
    assert_int_equal(mcu_audio_dec_decode(d, pkts[0], lens[0], pcm, 10), MCU_ERR_NOSPACE);
    assert_int_equal(mcu_audio_dec_decode(d, NULL, 0, pcm, 960), MCU_ERR_EMPTY);
    mcu_audio_dec_destroy(&d);
    assert_null(d);
}

static void pcmu(void **state) { check_codec(MCU_CODEC_PCMU, AV_CODEC_ID_PCM_MULAW, 8000, 160); }
static void pcma(void **state) { check_codec(MCU_CODEC_PCMA, AV_CODEC_ID_PCM_ALAW, 8000, 160); }
static void g722(void **state) { check_codec(MCU_CODEC_G722, AV_CODEC_ID_ADPCM_G722, 16000, 160); }

static void others(void **state)
{
    mcu_audio_dec_t *d = (mcu_audio_dec_t *)&d;
    assert_int_equal(mcu_audio_dec_create(MCU_CODEC_G729, &d), MCU_ERR_UNSUPPORTED);
    assert_null(d);
    assert_int_equal(mcu_audio_dec_create(MCU_CODEC_H264, &d), MCU_ERR_UNSUPPORTED);
    assert_int_equal(mcu_audio_dec_create(MCU_CODEC_OPUS, &d), MCU_OK);
    int16_t pcm[MCU_AUDIO_DEC_MAX_SAMPLES];
    assert_int_equal(mcu_audio_dec_conceal(d, 960, pcm, MCU_AUDIO_DEC_MAX_SAMPLES), 960);
    mcu_audio_dec_destroy(&d);
    mcu_audio_dec_destroy(&d);
    mcu_audio_dec_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pcmu),
        cmocka_unit_test(pcma),
        cmocka_unit_test(g722),
        cmocka_unit_test(others),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
