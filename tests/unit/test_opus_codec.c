/* Opus decoder and encoder over libopus: tone round trip, PLC, FEC, packet durations
 * other than 20 ms, argument and error handling. */
#include <opus/opus.h>
#include <stdio.h>
#include <string.h>

#include "codecs/opus_codec.h"
#include "mcu/error.h"
#include "test_audio.h"
#include "test_util.h"

#define FRAME MCU_OPUS_FRAME_SAMPLES
#define TONE_HZ 440.0
#define TONE_AMP 10000.0
/* Frames to let the encoder and decoder settle before anything is measured. */
#define WARMUP_FRAMES 10
/* Frames measured: 200 ms, 88 whole cycles of 440 Hz. */
#define MEASURE_FRAMES 10

/* Encodes `frames` frames of a continuous 440 Hz tone starting at frame `first` and
 * decodes them; the last MEASURE_FRAMES decoded frames are left in `tail`. */
static void tone_through(mcu_opus_enc_t *e, mcu_opus_dec_t *d, size_t first, size_t frames,
                         int16_t *tail)
{
    int16_t pcm[FRAME], out[MCU_OPUS_MAX_PACKET_SAMPLES];
    uint8_t pkt[MCU_OPUS_MAX_PACKET_BYTES];
    for (size_t f = first; f < first + frames; f++) {
        test_sine(pcm, FRAME, TONE_HZ, TONE_AMP, f * FRAME);
        int n = mcu_opus_enc_encode(e, pcm, pkt, sizeof pkt);
        assert_true(n > 0 && n <= MCU_OPUS_MAX_PACKET_BYTES);
        assert_int_equal(mcu_opus_dec_decode(d, pkt, (size_t)n, out, sizeof out / 2), FRAME);
        size_t k = f - first;
        if (k + MEASURE_FRAMES >= frames)
            memcpy(tail + (k + MEASURE_FRAMES - frames) * FRAME, out, sizeof(int16_t) * FRAME);
    }
}

/* The tone dominates: at least `margin_db` above an octave and a fifth away on both
 * sides. Returns its power. */
static double assert_tone(const int16_t *x, size_t n, double freq, double margin_db)
{
    double p = test_goertzel(x, n, freq);
    const double others[] = {freq / 2, freq * 2 / 3, freq * 3 / 2, freq * 2};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        double db = test_db(p, test_goertzel(x, n, others[i]));
        if (db < margin_db)
            fail_msg("%.0f Hz only %.1f dB above %.0f Hz", freq, db, others[i]);
    }
    return p;
}

static void tone_round_trip(void **state)
{
    (void)state;
    mcu_opus_enc_t *e;
    mcu_opus_dec_t *d;
    assert_int_equal(mcu_opus_enc_create(NULL, &e), MCU_OK);
    assert_int_equal(mcu_opus_dec_create(&d), MCU_OK);
    int16_t tail[MEASURE_FRAMES * FRAME];
    tone_through(e, d, 0, WARMUP_FRAMES + MEASURE_FRAMES, tail);
    double p = assert_tone(tail, sizeof tail / 2, TONE_HZ, 30.0);
    /* Level kept within 3 dB (a sine of amplitude A has Goertzel power ~A^2). */
    double level_db = test_db(p, TONE_AMP * TONE_AMP);
    print_message("440 Hz round trip: level %+.2f dB, 440 vs 660 Hz %.1f dB\n", level_db,
                  test_db(p, test_goertzel(tail, sizeof tail / 2, 660.0)));
    assert_true(level_db > -3.0 && level_db < 3.0);
    const mcu_opus_dec_stats_t *st = mcu_opus_dec_stats(d);
    assert_int_equal(st->packets, WARMUP_FRAMES + MEASURE_FRAMES);
    assert_int_equal(st->samples, (WARMUP_FRAMES + MEASURE_FRAMES) * FRAME);
    mcu_opus_enc_destroy(&e);
    mcu_opus_dec_destroy(&d);
    assert_null(e);
    assert_null(d);
    mcu_opus_enc_destroy(&e);   /* NULL-safe */
    mcu_opus_dec_destroy(NULL);
}

static void plc_lost_frame(void **state)
{
    (void)state;
    mcu_opus_enc_t *e;
    mcu_opus_dec_t *d;
    assert_int_equal(mcu_opus_enc_create(NULL, &e), MCU_OK);
    assert_int_equal(mcu_opus_dec_create(&d), MCU_OK);
    int16_t tail[MEASURE_FRAMES * FRAME];
    tone_through(e, d, 0, WARMUP_FRAMES + MEASURE_FRAMES, tail);

    int16_t out[FRAME + 16];
    const int16_t poison = 0x5A5A;
    for (size_t i = 0; i < sizeof out / 2; i++)
        out[i] = poison;
    assert_int_equal(mcu_opus_dec_conceal(d, FRAME, out, FRAME), FRAME);
    for (size_t i = FRAME; i < sizeof out / 2; i++)
        assert_int_equal(out[i], poison);       /* nothing past the frame */
    double rms = test_rms(out, FRAME);
    int peak = 0;
    for (size_t i = 0; i < FRAME; i++)
        peak = out[i] > peak ? out[i] : -out[i] > peak ? -out[i] : peak;
    print_message("PLC frame after a 440 Hz tone: rms %.0f (tone %.0f), peak %d\n", rms,
                  TONE_AMP / sqrt(2.0), peak);
    assert_true(rms > TONE_AMP / 20);           /* not silence */
    assert_true(peak <= 2 * TONE_AMP);          /* bounded: no blow-up */
    assert_tone(out, FRAME, TONE_HZ, 10.0);     /* the tone carries on */
    assert_int_equal(mcu_opus_dec_stats(d)->concealed, 1);

    /* Other durations: whole 2.5 ms frames up to 120 ms, within the buffer. */
    int16_t big[MCU_OPUS_MAX_PACKET_SAMPLES];
    assert_int_equal(mcu_opus_dec_conceal(d, 2 * FRAME, big, sizeof big / 2), 2 * FRAME);
    assert_int_equal(mcu_opus_dec_conceal(d, MCU_OPUS_MIN_FRAME_SAMPLES, big, 1000),
                     MCU_OPUS_MIN_FRAME_SAMPLES);
    assert_int_equal(mcu_opus_dec_conceal(d, 100, big, sizeof big / 2), MCU_ERR_INVAL);
    assert_int_equal(mcu_opus_dec_conceal(d, 0, big, sizeof big / 2), MCU_ERR_INVAL);
    assert_int_equal(mcu_opus_dec_conceal(d, MCU_OPUS_MAX_PACKET_SAMPLES + 120, big,
                                          sizeof big / 2), MCU_ERR_INVAL);
    assert_int_equal(mcu_opus_dec_conceal(d, 2 * FRAME, big, FRAME), MCU_ERR_NOSPACE);
    assert_int_equal(mcu_opus_dec_conceal(d, FRAME, NULL, FRAME), MCU_ERR_INVAL);
    mcu_opus_enc_destroy(&e);
    mcu_opus_dec_destroy(&d);
}

/* A speech-like signal (a gliding voiced harmonic series under a syllable-rate
 * envelope) that PLC cannot simply extrapolate, unlike a steady tone. */
static void speechy(int16_t *x, size_t n, size_t start)
{
    for (size_t i = 0; i < n; i++) {
        double t = (double)(start + i) / TEST_AUDIO_RATE;
        double env = 0.55 + 0.45 * sin(2.0 * TEST_AUDIO_PI * 4.1 * t);
        /* f0 = 140 + 60 sin(2 pi 2.3 t) Hz, integrated into a phase. */
        double phase = 2.0 * TEST_AUDIO_PI * (140.0 * t - 60.0 / (2.0 * TEST_AUDIO_PI * 2.3) *
                                              cos(2.0 * TEST_AUDIO_PI * 2.3 * t));
        double v = 0.0;
        for (int h = 1; h <= 12; h++)
            v += sin(h * phase) / h;
        x[i] = (int16_t)lrint(5000.0 * env * v);
    }
}

/* Sum of squared differences between two frames. */
static double sq_error(const int16_t *ref, const int16_t *x, size_t n)
{
    double e = 0.0;
    for (size_t i = 0; i < n; i++) {
        double dlt = (double)x[i] - ref[i];
        e += dlt * dlt;
    }
    return e;
}

/* Frames lost in a stream coded with FEC come back from the next packet's LBRR closer
 * to what the lossless decoder produced than PLC gets them. Measured over several
 * losses: SILK codes LBRR only for frames its VAD calls active, so one loss alone may
 * land on a frame without it (then libopus conceals, as documented). */
static void fec_recovers_lost_frames(void **state)
{
    (void)state;
    enum { FRAMES = 60, FIRST_LOSS = 10, LOSS_EVERY = 5 };
    mcu_opus_enc_config_t cfg;
    mcu_opus_enc_config_default(&cfg);
    cfg.packet_loss_pct = 10;
    mcu_opus_enc_t *e;
    assert_int_equal(mcu_opus_enc_create(&cfg, &e), MCU_OK);
    static uint8_t pkts[FRAMES][MCU_OPUS_MAX_PACKET_BYTES];
    size_t lens[FRAMES];
    int16_t pcm[FRAME];
    for (int f = 0; f < FRAMES; f++) {
        speechy(pcm, FRAME, (size_t)f * FRAME);
        int n = mcu_opus_enc_encode(e, pcm, pkts[f], MCU_OPUS_MAX_PACKET_BYTES);
        assert_true(n > 0);
        lens[f] = (size_t)n;
    }
    mcu_opus_dec_t *ref, *fec, *plc;
    assert_int_equal(mcu_opus_dec_create(&ref), MCU_OK);
    assert_int_equal(mcu_opus_dec_create(&fec), MCU_OK);
    assert_int_equal(mcu_opus_dec_create(&plc), MCU_OK);
    int16_t r[FRAME], a[FRAME], b[FRAME];
    double e_ref = 0.0, e_fec = 0.0, e_plc = 0.0;
    int losses = 0;
    for (int f = 0; f + 1 < FRAMES; f++) {
        assert_int_equal(mcu_opus_dec_decode(ref, pkts[f], lens[f], r, FRAME), FRAME);
        if (f >= FIRST_LOSS && f % LOSS_EVERY == 0) {
            assert_int_equal(mcu_opus_dec_decode_fec(fec, pkts[f + 1], lens[f + 1], FRAME, a,
                                                     FRAME), FRAME);
            assert_int_equal(mcu_opus_dec_conceal(plc, FRAME, b, FRAME), FRAME);
            e_ref += test_rms(r, FRAME) * test_rms(r, FRAME) * FRAME;
            e_fec += sq_error(r, a, FRAME);
            e_plc += sq_error(r, b, FRAME);
            losses++;
        } else {
            /* After a recovery the next packet itself is decoded as usual. */
            assert_int_equal(mcu_opus_dec_decode(fec, pkts[f], lens[f], a, FRAME), FRAME);
            assert_int_equal(mcu_opus_dec_decode(plc, pkts[f], lens[f], b, FRAME), FRAME);
        }
    }
    double fec_db = test_db(e_fec, e_ref), plc_db = test_db(e_plc, e_ref);
    print_message("%d lost frames vs lossless decode: FEC error %.1f dB, PLC error %.1f dB\n",
                  losses, fec_db, plc_db);
    assert_true(fec_db < plc_db - 3.0);
    assert_int_equal(mcu_opus_dec_stats(fec)->fec, (uint64_t)losses);
    assert_int_equal(mcu_opus_dec_stats(plc)->concealed, (uint64_t)losses);
    assert_int_equal(mcu_opus_dec_decode_fec(fec, NULL, 0, FRAME, a, FRAME), MCU_ERR_EMPTY);
    assert_int_equal(mcu_opus_dec_decode_fec(fec, pkts[0], lens[0], 7, a, FRAME),
                     MCU_ERR_INVAL);
    mcu_opus_enc_destroy(&e);
    mcu_opus_dec_destroy(&ref);
    mcu_opus_dec_destroy(&fec);
    mcu_opus_dec_destroy(&plc);
}

/* Senders with another ptime: the decoder hands out the packet's whole duration. */
static void other_packet_durations(void **state)
{
    (void)state;
    int err;
    OpusEncoder *raw = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
    assert_int_equal(err, OPUS_OK);
    mcu_opus_dec_t *d;
    assert_int_equal(mcu_opus_dec_create(&d), MCU_OK);
    static int16_t pcm[MCU_OPUS_MAX_PACKET_SAMPLES], out[MCU_OPUS_MAX_PACKET_SAMPLES];
    uint8_t pkt[4000];
    const int durations[] = {FRAME / 2, 2 * FRAME, 3 * FRAME, FRAME, 6 * FRAME};
    size_t start = 0;
    for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
        int ns = durations[i];
        test_sine(pcm, (size_t)ns, TONE_HZ, TONE_AMP, start);
        start += (size_t)ns;
        int n = opus_encode(raw, pcm, ns, pkt, sizeof pkt);
        assert_true(n > 0);
        assert_int_equal(mcu_opus_dec_decode(d, pkt, (size_t)n, out, sizeof out / 2), ns);
        if (ns > FRAME)   /* a buffer shorter than the packet is refused, not cut */
            assert_int_equal(mcu_opus_dec_decode(d, pkt, (size_t)n, out, FRAME),
                             MCU_ERR_NOSPACE);
    }
    opus_encoder_destroy(raw);
    mcu_opus_dec_destroy(&d);
}

static void bad_input(void **state)
{
    (void)state;
    mcu_opus_dec_t *d;
    assert_int_equal(mcu_opus_dec_create(&d), MCU_OK);
    int16_t out[FRAME];
    const uint8_t c3_zero[] = {0x0B, 0x00};            /* code 3 with no frames */
    assert_int_equal(mcu_opus_dec_decode(d, c3_zero, sizeof c3_zero, out, FRAME),
                     MCU_ERR_MALFORMED);
    assert_int_equal(mcu_opus_dec_stats(d)->errors, 1);
    assert_int_equal(mcu_opus_dec_decode(d, c3_zero, 0, out, FRAME), MCU_ERR_EMPTY);
    assert_int_equal(mcu_opus_dec_decode(d, NULL, 5, out, FRAME), MCU_ERR_EMPTY);
    assert_int_equal(mcu_opus_dec_decode(d, c3_zero, sizeof c3_zero, NULL, FRAME),
                     MCU_ERR_INVAL);
    /* Random bytes: refused or decoded, never a crash (ASan watches). */
    test_rng_t rng;
    test_rng_seed(&rng, 7);
    uint8_t junk[200];
    for (int i = 0; i < 200; i++) {
        size_t len = 1 + test_rng_below(&rng, sizeof junk);
        test_rng_fill(&rng, junk, len);
        int n = mcu_opus_dec_decode(d, junk, len, out, FRAME);
        assert_true(n == MCU_ERR_MALFORMED || n == MCU_ERR_NOSPACE ||
                    (n > 0 && n <= FRAME && n % MCU_OPUS_MIN_FRAME_SAMPLES == 0));
    }
    mcu_opus_dec_reset(d);
    mcu_opus_dec_destroy(&d);
    assert_int_equal(mcu_opus_dec_create(NULL), MCU_ERR_INVAL);
}

static void encoder_settings(void **state)
{
    (void)state;
    mcu_opus_enc_config_t cfg;
    mcu_opus_enc_config_default(&cfg);
    assert_int_equal(cfg.bitrate_bps, MCU_OPUS_ENC_DEFAULT_BITRATE);
    mcu_opus_enc_t *e = (mcu_opus_enc_t *)&cfg;  /* must be cleared on failure */
    mcu_opus_enc_config_t bad = cfg;
    bad.complexity = 11;
    assert_int_equal(mcu_opus_enc_create(&bad, &e), MCU_ERR_CONFIG);
    assert_null(e);
    bad = cfg;
    bad.bitrate_bps = 1000;
    assert_int_equal(mcu_opus_enc_create(&bad, &e), MCU_ERR_CONFIG);
    bad = cfg;
    bad.packet_loss_pct = 101;
    assert_int_equal(mcu_opus_enc_create(&bad, &e), MCU_ERR_CONFIG);

    assert_int_equal(mcu_opus_enc_create(&cfg, &e), MCU_OK);
    assert_int_equal(mcu_opus_enc_set_bitrate(e, 5000), MCU_ERR_INVAL);
    assert_int_equal(mcu_opus_enc_set_packet_loss(e, -1), MCU_ERR_INVAL);
    assert_int_equal(mcu_opus_enc_set_packet_loss(e, 20), MCU_OK);

    /* The bitrate setter takes effect: mean packet size follows it. */
    int16_t pcm[FRAME];
    uint8_t pkt[MCU_OPUS_MAX_PACKET_BYTES];
    const int rates[] = {12000, 64000};
    double mean[2];
    size_t start = 0;
    for (int r = 0; r < 2; r++) {
        assert_int_equal(mcu_opus_enc_set_bitrate(e, rates[r]), MCU_OK);
        long total = 0;
        for (int f = 0; f < 25; f++, start += FRAME) {
            speechy(pcm, FRAME, start);
            int n = mcu_opus_enc_encode(e, pcm, pkt, sizeof pkt);
            assert_true(n > 0);
            if (f >= 5)
                total += n;
        }
        mean[r] = total / 20.0;
        /* DTX is off: even silence gives a real packet every 20 ms. */
    }
    print_message("mean packet: %.0f bytes at 12 kbps, %.0f bytes at 64 kbps\n", mean[0],
                  mean[1]);
    assert_true(mean[1] > 3.0 * mean[0]);
    memset(pcm, 0, sizeof pcm);
    for (int f = 0; f < 30; f++)
        assert_true(mcu_opus_enc_encode(e, pcm, pkt, sizeof pkt) > 2);

    /* A small cap constrains the packet; no room at all is an error. */
    speechy(pcm, FRAME, 0);
    int n = mcu_opus_enc_encode(e, pcm, pkt, 40);
    assert_true(n > 0 && n <= 40);
    assert_int_equal(mcu_opus_enc_encode(e, pcm, pkt, 0), MCU_ERR_INVAL);
    assert_int_equal(mcu_opus_enc_encode(e, NULL, pkt, sizeof pkt), MCU_ERR_INVAL);
    mcu_opus_enc_reset(e);
    assert_true(mcu_opus_enc_encode(e, pcm, pkt, sizeof pkt) > 0);
    mcu_opus_enc_destroy(&e);
    assert_null(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tone_round_trip),
        cmocka_unit_test(plc_lost_frame),
        cmocka_unit_test(fec_recovers_lost_frames),
        cmocka_unit_test(other_packet_durations),
        cmocka_unit_test(bad_input),
        cmocka_unit_test(encoder_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
