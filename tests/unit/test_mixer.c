/* The audio mixer: shared mix and mix-minus, talker detection and hangover, top-talker
 * slots, saturation, gain, FIFO underrun/overflow, inactive sites; the mix kernels
 * against their C reference; and the measured cost of a tick. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcu/cpu.h"
#include "mcu/error.h"
#include "mcu/mix_dsp.h"
#include "mcu/mixer.h"
#include "test_audio.h"
#include "test_util.h"

#define FRAME MCU_MIXER_FRAME_SAMPLES
/* Loud: RMS -15.3 dBFS, normal speech. Quiet: RMS -50.8 dBFS, audible but under the
 * talker threshold. */
#define LOUD_AMP 8000.0
#define QUIET_AMP 150.0

typedef struct tone_site {
    double freq, amp;
} tone_site_t;

/* The mixer and output are large: keep them off the stack. */
static mcu_mix_out_t out;

static mcu_mixer_t *make_mixer(int n_sites)
{
    mcu_mixer_t *m;
    assert_int_equal(mcu_mixer_create(n_sites, &m), MCU_OK);
    for (int i = 0; i < n_sites; i++)
        assert_int_equal(mcu_mixer_set_active(m, i, true), MCU_OK);
    return m;
}

/* Pushes one frame of each site's tone (continuous across ticks) and ticks. */
static void tick_tones(mcu_mixer_t *m, const tone_site_t *sites, int n, size_t tick)
{
    int16_t pcm[FRAME];
    for (int i = 0; i < n; i++) {
        test_sine(pcm, FRAME, sites[i].freq, sites[i].amp, tick * FRAME);
        assert_int_equal(mcu_mixer_push(m, i, pcm, FRAME), MCU_OK);
    }
    assert_int_equal(mcu_mixer_tick(m, &out), MCU_OK);
}

/* Slot of `site` in this tick's output, or -1. */
static int slot_of(int site)
{
    for (int k = 0; k < MCU_MIXER_MAX_TALKERS; k++)
        if (out.talker_site[k] == site)
            return k;
    return -1;
}

static double expected_dbfs(double amp)
{
    return 10.0 * log10(amp * amp / 2.0 / (32768.0 * 32768.0));
}

static void shared_and_mix_minus(void **state)
{
    (void)state;
    const tone_site_t sites[] = {
        {300, LOUD_AMP}, {500, LOUD_AMP}, {700, QUIET_AMP}, {900, QUIET_AMP}};
    mcu_mixer_t *m = make_mixer(4);
    for (size_t t = 0; t < 10; t++)
        tick_tones(m, sites, 4, t);

    /* The shared mix carries every tone at its own level (within 0.5 dB). */
    for (int i = 0; i < 4; i++) {
        double p = test_goertzel(out.shared, FRAME, sites[i].freq);
        double db = test_db(p, sites[i].amp * sites[i].amp);
        if (fabs(db) > 0.5)
            fail_msg("shared mix: %.0f Hz at %+.2f dB", sites[i].freq, db);
    }
    /* Talkers: the loud ones only. */
    assert_int_equal(out.n_talkers, 2);
    assert_true(out.talking[0] && out.talking[1]);
    assert_false(out.talking[2] || out.talking[3]);
    for (int i = 0; i < 4; i++) {
        double want = expected_dbfs(sites[i].amp);
        if (fabs(out.level_dbfs[i] - want) > 0.2)
            fail_msg("site %d level %.2f dBFS, expected %.2f", i, out.level_dbfs[i], want);
    }
    /* Each talker's mix-minus lacks its own tone and keeps the others. */
    for (int talker = 0; talker < 2; talker++) {
        int k = slot_of(talker);
        assert_true(k >= 0);
        const int16_t *mm = out.minus[k];
        double own = test_goertzel(mm, FRAME, sites[talker].freq);
        double in_shared = test_goertzel(out.shared, FRAME, sites[talker].freq);
        double rel = test_db(own, in_shared);
        print_message("site %d mix-minus: own %.0f Hz at %.1f dB relative to the shared mix\n",
                      talker, sites[talker].freq, rel);
        assert_true(rel < -40.0);
        for (int i = 0; i < 4; i++) {
            if (i == talker)
                continue;
            double db = test_db(test_goertzel(mm, FRAME, sites[i].freq),
                                test_goertzel(out.shared, FRAME, sites[i].freq));
            assert_true(fabs(db) < 0.1);
        }
    }
    mcu_mixer_destroy(&m);
    assert_null(m);
    mcu_mixer_destroy(&m);
}

/* Ticks with site 0 loud (or silent) and every other site silent. */
static void tick_loud0(mcu_mixer_t *m, bool loud, size_t tick)
{
    tone_site_t s = {300, loud ? LOUD_AMP : 0.0};
    tick_tones(m, &s, 1, tick);
}

static void hangover(void **state)
{
    (void)state;
    mcu_mixer_t *m = make_mixer(2);
    size_t t = 0;
    for (int i = 0; i < 10; i++)
        tick_loud0(m, true, t++);
    assert_true(out.talking[0]);
    assert_int_equal(out.talker_site[0], 0);
    float level = out.level_dbfs[0];

    /* A 200 ms pause between words (under the hangover) keeps the slot throughout. */
    for (int i = 0; i < 200 / MCU_MIXER_TICK_MS; i++) {
        tick_loud0(m, false, t++);
        assert_true(out.talking[0]);
        assert_int_equal(out.talker_site[0], 0);
        assert_false(out.talker_changed[0]);
    }
    for (int i = 0; i < 10; i++)
        tick_loud0(m, true, t++);

    /* Then silence for good: the smoothed level falls by 3 dB a tick (smoothing 0.5)
     * to the threshold, then the hangover runs, then the site is dropped. */
    int decay = (int)ceil((level - MCU_MIXER_TALK_THRESHOLD_DBFS) /
                          (-10.0 * log10(1.0 - MCU_MIXER_LEVEL_SMOOTH)));
    int dropped_at = -1;
    for (int i = 1; i <= decay + MCU_MIXER_HANGOVER_TICKS + 5; i++) {
        tick_loud0(m, false, t++);
        if (dropped_at < 0 && !out.talking[0]) {
            dropped_at = i;
            assert_int_equal(out.n_talkers, 0);
            assert_int_equal(out.talker_site[0], -1);
            assert_true(out.talker_changed[0]);
        }
        if (dropped_at > 0)
            assert_false(out.talking[0]);   /* and stays dropped */
        else
            assert_int_equal(out.talker_site[0], 0);
    }
    print_message("silent after %.1f dBFS: dropped after %d ticks (hangover %d, decay ~%d)\n",
                  level, dropped_at, MCU_MIXER_HANGOVER_TICKS, decay);
    assert_true(dropped_at > MCU_MIXER_HANGOVER_TICKS);
    assert_true(dropped_at <= decay + MCU_MIXER_HANGOVER_TICKS + 1);
    mcu_mixer_destroy(&m);
}

static void saturation(void **state)
{
    (void)state;
    mcu_mixer_t *m = make_mixer(3);
    int16_t sq[FRAME], neg[FRAME];
    test_square(sq, FRAME, 96, INT16_MAX, 0);
    test_square(neg, FRAME, 96, INT16_MIN + 1, 0);   /* the same wave, inverted */
    for (int t = 0; t < 3; t++) {
        assert_int_equal(mcu_mixer_push(m, 0, sq, FRAME), MCU_OK);
        assert_int_equal(mcu_mixer_push(m, 1, sq, FRAME), MCU_OK);
        assert_int_equal(mcu_mixer_tick(m, &out), MCU_OK);
    }
    /* 2 x full scale: clipped, never wrapped; the sign of every sample kept. */
    for (int i = 0; i < FRAME; i++) {
        assert_true(sq[i] > 0 ? out.shared[i] == INT16_MAX : out.shared[i] == INT16_MIN);
    }
    /* The mix-minus is taken from the unclipped int32 total: exactly the other site. */
    assert_int_equal(out.n_talkers, 2);
    for (int k = 0; k < 2; k++)
        assert_memory_equal(out.minus[k], sq, sizeof sq);

    /* Three at full scale, one inverted: +-32767 net, nothing clipped but the sum. */
    for (int t = 0; t < 2; t++) {
        assert_int_equal(mcu_mixer_push(m, 0, sq, FRAME), MCU_OK);
        assert_int_equal(mcu_mixer_push(m, 1, sq, FRAME), MCU_OK);
        assert_int_equal(mcu_mixer_push(m, 2, neg, FRAME), MCU_OK);
        assert_int_equal(mcu_mixer_tick(m, &out), MCU_OK);
    }
    assert_memory_equal(out.shared, sq, sizeof sq);
    mcu_mixer_destroy(&m);
}

static void gain_and_mute(void **state)
{
    (void)state;
    const tone_site_t sites[] = {{300, LOUD_AMP}, {500, LOUD_AMP}};
    mcu_mixer_t *m = make_mixer(2);
    assert_int_equal(mcu_mixer_set_gain(m, 0, 0.5f), MCU_OK);
    assert_int_equal(mcu_mixer_set_gain(m, 1, 0.0f), MCU_OK);
    for (size_t t = 0; t < 5; t++)
        tick_tones(m, sites, 2, t);
    double half = test_db(test_goertzel(out.shared, FRAME, 300), LOUD_AMP * LOUD_AMP);
    double muted = test_db(test_goertzel(out.shared, FRAME, 500), LOUD_AMP * LOUD_AMP);
    print_message("gain 0.5: %+.2f dB; gain 0: %.1f dB\n", half, muted);
    assert_true(fabs(half + 6.02) < 0.1);
    assert_true(muted < -90.0);
    assert_false(out.talking[1]);
    assert_true(out.level_dbfs[1] <= MCU_MIXER_LEVEL_FLOOR_DBFS);
    assert_true(fabs(out.level_dbfs[0] - (expected_dbfs(LOUD_AMP) - 6.02)) < 0.2);
    assert_int_equal(out.n_talkers, 1);
    assert_int_equal(out.talker_site[0], 0);

    /* Muting a talker drops it at once, hangover or not. */
    assert_int_equal(mcu_mixer_set_gain(m, 0, 0.0f), MCU_OK);
    tick_tones(m, sites, 2, 5);
    assert_false(out.talking[0]);
    assert_int_equal(out.n_talkers, 0);
    for (int i = 0; i < FRAME; i++)
        assert_int_equal(out.shared[i], 0);

    assert_int_equal(mcu_mixer_set_gain(m, 0, -0.1f), MCU_ERR_INVAL);
    assert_int_equal(mcu_mixer_set_gain(m, 0, MCU_MIXER_MAX_GAIN * 1.01f), MCU_ERR_INVAL);
    assert_int_equal(mcu_mixer_set_gain(m, 0, NAN), MCU_ERR_INVAL);
    assert_int_equal(mcu_mixer_set_gain(m, 2, 1.0f), MCU_ERR_INVAL);
    assert_int_equal(mcu_mixer_set_gain(m, 0, MCU_MIXER_MAX_GAIN), MCU_OK);
    mcu_mixer_destroy(&m);
}

/* Sample k of a numbered test stream: distinct consecutive values. */
static int16_t seq_sample(size_t k) { return (int16_t)((long)(k % 40000) - 20000); }

static void fifo_underrun_overflow(void **state)
{
    (void)state;
    mcu_mixer_t *m = make_mixer(1);
    static int16_t pcm[MCU_MIXER_FIFO_SAMPLES + 500];
    for (size_t i = 0; i < sizeof pcm / 2; i++)
        pcm[i] = seq_sample(i);

    /* Short: what is there, then zeros. */
    assert_int_equal(mcu_mixer_push(m, 0, pcm, 500), MCU_OK);
    assert_int_equal(mcu_mixer_tick(m, &out), MCU_OK);
    assert_memory_equal(out.shared, pcm, 500 * sizeof pcm[0]);
    for (int i = 500; i < FRAME; i++)
        assert_int_equal(out.shared[i], 0);
    const mcu_mixer_site_stats_t *st = mcu_mixer_site_stats(m, 0);
    assert_int_equal(st->underruns, 1);
    assert_int_equal(st->underrun_samples, FRAME - 500);
    assert_int_equal(mcu_mixer_tick(m, &out), MCU_OK);   /* empty: a whole frame short */
    assert_int_equal(st->underruns, 2);
    assert_int_equal(st->underrun_samples, 2 * FRAME - 500);

    /* A 60 ms packet lasts three ticks. */
    assert_int_equal(mcu_mixer_push(m, 0, pcm, 3 * FRAME), MCU_OK);
    for (int t = 0; t < 3; t++) {
        assert_int_equal(mcu_mixer_tick(m, &out), MCU_OK);
        assert_memory_equal(out.shared, pcm + t * FRAME, sizeof out.shared);
    }
    assert_int_equal(st->underruns, 2);

    /* Over the bound: the oldest go, the FIFO stays at its bound. */
    assert_int_equal(mcu_mixer_push(m, 0, pcm, 400), MCU_OK);
    assert_int_equal(mcu_mixer_push(m, 0, pcm + 400, MCU_MIXER_FIFO_SAMPLES), MCU_OK);
    assert_int_equal(st->overflows, 1);
    assert_int_equal(st->overflow_samples, 400);
    assert_int_equal(mcu_mixer_queued(m, 0), MCU_MIXER_FIFO_SAMPLES);
    assert_int_equal(mcu_mixer_tick(m, &out), MCU_OK);
    assert_memory_equal(out.shared, pcm + 400, sizeof out.shared);
    /* One push longer than the whole FIFO keeps its newest part. */
    assert_int_equal(mcu_mixer_push(m, 0, pcm, MCU_MIXER_FIFO_SAMPLES + 500), MCU_OK);
    assert_int_equal(st->overflows, 2);
    assert_int_equal(st->overflow_samples, 400 + (MCU_MIXER_FIFO_SAMPLES - FRAME) + 500);
    assert_int_equal(mcu_mixer_tick(m, &out), MCU_OK);
    assert_memory_equal(out.shared, pcm + 500, sizeof out.shared);
    assert_int_equal(mcu_mixer_push(m, 0, NULL, 0), MCU_OK);
    assert_int_equal(mcu_mixer_push(m, 0, NULL, 1), MCU_ERR_INVAL);
    mcu_mixer_destroy(&m);
}

/* Random push sizes around the ring's wrap: every sample comes out once, in order. */
static void fifo_order(void **state)
{
    (void)state;
    mcu_mixer_t *m = make_mixer(1);
    test_rng_t rng;
    test_rng_seed(&rng, 42);
    static int16_t pcm[MCU_OPUS_MAX_PACKET_SAMPLES];
    size_t in = 0, outk = 0;
    for (int round = 0; round < 400; round++) {
        size_t room = MCU_MIXER_FIFO_SAMPLES - mcu_mixer_queued(m, 0);
        size_t most = room < sizeof pcm / 2 ? room : sizeof pcm / 2;
        size_t n = test_rng_below(&rng, (uint32_t)most + 1);
        for (size_t i = 0; i < n; i++)
            pcm[i] = seq_sample(in + i);
        assert_int_equal(mcu_mixer_push(m, 0, pcm, n), MCU_OK);
        in += n;
        while (mcu_mixer_queued(m, 0) >= FRAME) {
            assert_int_equal(mcu_mixer_tick(m, &out), MCU_OK);
            for (int i = 0; i < FRAME; i++)
                assert_int_equal(out.shared[i], seq_sample(outk + (size_t)i));
            outk += FRAME;
        }
    }
    const mcu_mixer_site_stats_t *st = mcu_mixer_site_stats(m, 0);
    assert_int_equal(st->overflows, 0);
    assert_int_equal(st->underruns, 0);
    assert_int_equal(st->pushed, in);
    assert_true(outk > 100 * FRAME);
    mcu_mixer_destroy(&m);
}

static void top_three_of_six(void **state)
{
    (void)state;
    /* Six talkers, loudest at sites 4, 1, 5; the others 9.5 dB under the third. */
    tone_site_t sites[] = {{300, 2400}, {400, 16000}, {500, 2400},
                           {600, 2400}, {700, 20000}, {800, 7200}};
    mcu_mixer_t *m = make_mixer(6);
    size_t t = 0;
    for (; t < 5; t++)
        tick_tones(m, sites, 6, t);
    for (int i = 0; i < 6; i++)
        assert_true(out.talking[i]);
    assert_int_equal(out.n_talkers, MCU_MIXER_MAX_TALKERS);
    assert_true(slot_of(4) >= 0 && slot_of(1) >= 0 && slot_of(5) >= 0);
    int k4 = slot_of(4), k1 = slot_of(1), k5 = slot_of(5);

    /* Site 3 grows 3 dB louder than site 5: within the margin, no swap. */
    sites[3].amp = 7200 * 1.41;
    for (int i = 0; i < 5; i++, t++) {
        tick_tones(m, sites, 6, t);
        assert_int_equal(slot_of(5), k5);
        assert_int_equal(slot_of(3), -1);
    }
    /* 9.5 dB louder: it takes site 5's slot; the other two keep theirs. */
    sites[3].amp = 7200 * 3.0;
    tick_tones(m, sites, 6, t++);
    tick_tones(m, sites, 6, t++);
    assert_int_equal(slot_of(3), k5);
    assert_int_equal(slot_of(5), -1);
    assert_int_equal(slot_of(4), k4);
    assert_int_equal(slot_of(1), k1);
    assert_int_equal(out.n_talkers, 3);
    mcu_mixer_destroy(&m);
}

static void inactive_site(void **state)
{
    (void)state;
    const tone_site_t sites[] = {{300, LOUD_AMP}, {500, LOUD_AMP}};
    mcu_mixer_t *m;
    assert_int_equal(mcu_mixer_create(3, &m), MCU_OK);  /* site 2 never joins */
    assert_int_equal(mcu_mixer_set_active(m, 0, true), MCU_OK);
    assert_int_equal(mcu_mixer_set_active(m, 1, true), MCU_OK);
    for (size_t t = 0; t < 3; t++)
        tick_tones(m, sites, 2, t);
    assert_true(slot_of(1) >= 0);

    /* Site 1 leaves with PCM queued: dropped; it is not mixed and loses its slot. */
    int16_t pcm[FRAME];
    test_sine(pcm, FRAME, 500, LOUD_AMP, 3 * FRAME);
    assert_int_equal(mcu_mixer_push(m, 1, pcm, FRAME), MCU_OK);
    assert_int_equal(mcu_mixer_set_active(m, 1, false), MCU_OK);
    assert_int_equal(mcu_mixer_queued(m, 1), 0);
    assert_int_equal(mcu_mixer_push(m, 1, pcm, FRAME), MCU_ERR_STATE);
    test_sine(pcm, FRAME, 300, LOUD_AMP, 3 * FRAME);
    assert_int_equal(mcu_mixer_push(m, 0, pcm, FRAME), MCU_OK);
    assert_int_equal(mcu_mixer_tick(m, &out), MCU_OK);
    assert_true(test_db(test_goertzel(out.shared, FRAME, 500), LOUD_AMP * LOUD_AMP) < -90.0);
    assert_false(out.talking[1]);
    assert_true(out.level_dbfs[1] <= MCU_MIXER_LEVEL_FLOOR_DBFS);
    assert_int_equal(slot_of(1), -1);
    assert_int_equal(out.n_talkers, 1);
    assert_int_equal(mcu_mixer_site_stats(m, 1)->ticks, 3);
    /* A never-activated site neither. */
    assert_false(out.talking[2]);
    assert_int_equal(mcu_mixer_push(m, 2, pcm, FRAME), MCU_ERR_STATE);

    /* Back: starts afresh. */
    assert_int_equal(mcu_mixer_set_active(m, 1, true), MCU_OK);
    assert_int_equal(mcu_mixer_queued(m, 1), 0);

    mcu_mixer_t *bad = (mcu_mixer_t *)&out;
    assert_int_equal(mcu_mixer_create(0, &bad), MCU_ERR_INVAL);
    assert_null(bad);
    assert_int_equal(mcu_mixer_create(MCU_MIXER_MAX_SITES + 1, &bad), MCU_ERR_INVAL);
    assert_int_equal(mcu_mixer_set_active(m, 3, true), MCU_ERR_INVAL);
    assert_int_equal(mcu_mixer_set_active(m, -1, true), MCU_ERR_INVAL);
    assert_int_equal(mcu_mixer_push(m, 3, pcm, FRAME), MCU_ERR_INVAL);
    assert_null(mcu_mixer_site_stats(m, 3));
    assert_int_equal(mcu_mixer_tick(m, NULL), MCU_ERR_INVAL);
    mcu_mixer_destroy(&m);
}

/* ---- kernels ---- */

#define GUARD 32                    /* elements of guard on each side of an output */
#define MAX_N 1031
static const uint8_t POISON = 0xA5;

/* Every kernel version this CPU runs: index 0 is the C reference. */
static int dsp_versions(mcu_mix_dsp_t *v)
{
    int n = 0;
    mcu_mix_dsp_init_flags(&v[n++], 0);
    if (mcu_cpu_detect() & MCU_CPU_AVX2)
        mcu_mix_dsp_init_flags(&v[n++], MCU_CPU_AVX2);
    return n;
}

static int16_t rand_s16(test_rng_t *r)
{
    uint32_t k = test_rng_below(r, 16);
    if (k == 0)
        return INT16_MIN;   /* the extremes, often */
    if (k == 1)
        return INT16_MAX;
    return (int16_t)test_rng_u32(r);
}

static int32_t rand_gain(test_rng_t *r)
{
    static const int32_t special[] = {0, 1, MCU_MIX_GAIN_ONE, MCU_MIX_GAIN_ONE / 2,
                                      MCU_MIX_GAIN_Q_MAX};
    uint32_t k = test_rng_below(r, 10);
    return k < 5 ? special[k] : (int32_t)test_rng_below(r, MCU_MIX_GAIN_Q_MAX + 1);
}

static void check_guards(const uint8_t *buf, size_t elem, size_t n)
{
    for (size_t i = 0; i < GUARD * elem; i++) {
        assert_int_equal(buf[i], POISON);
        assert_int_equal(buf[(GUARD + n) * elem + i], POISON);
    }
}

static void dsp_matches_reference(void **state)
{
    (void)state;
    mcu_mix_dsp_t v[4];
    int nv = dsp_versions(v);
    test_rng_t rng;
    test_rng_seed(&rng, 1234);
    static int16_t x[MAX_N];
    static int32_t acc_in[MAX_N];
    /* Outputs with guards: [GUARD][n][GUARD], prefilled with POISON. */
    static int32_t acc_ref[MAX_N + 2 * GUARD], acc_v[MAX_N + 2 * GUARD];
    static int16_t o_ref[MAX_N + 2 * GUARD], o_v[MAX_N + 2 * GUARD];
    const size_t sizes[] = {0, 1, 7, 8, 15, 16, 17, 31, 33, 63, 100, 959, 960, 961, MAX_N};
    for (int vi = 1; vi < nv; vi++) {
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            for (int rep = 0; rep < 8; rep++) {
                size_t n = sizes[si];
                /* Offsets 0/1 test unaligned buffers too. */
                size_t off = (size_t)rep & 1;
                for (size_t i = 0; i < n; i++) {
                    x[i] = rand_s16(&rng);
                    /* Totals of up to 64 sites at the largest gain, or of a few
                     * sites at unity that mostly need no clipping. */
                    int bits = rep < 4 ? 24 : 16;
                    acc_in[i] = (int32_t)(test_rng_u32(&rng) % (2u << bits)) - (1 << bits);
                }
                int32_t g = rand_gain(&rng);

                memset(acc_ref, POISON, sizeof acc_ref);
                memset(acc_v, POISON, sizeof acc_v);
                memcpy(acc_ref + GUARD, acc_in, n * 4);
                memcpy(acc_v + GUARD, acc_in, n * 4);
                v[0].mac(acc_ref + GUARD, x, g, n);
                v[vi].mac(acc_v + GUARD, x, g, n);
                assert_memory_equal(acc_ref, acc_v, sizeof acc_ref);
                check_guards((const uint8_t *)acc_v, 4, n);

                memset(o_ref, POISON, sizeof o_ref);
                memset(o_v, POISON, sizeof o_v);
                v[0].clip(o_ref + GUARD, acc_in, n);
                v[vi].clip(o_v + GUARD, acc_in, n);
                assert_memory_equal(o_ref, o_v, sizeof o_ref);
                check_guards((const uint8_t *)o_v, 2, n);

                memset(o_ref, POISON, sizeof o_ref);
                memset(o_v, POISON, sizeof o_v);
                v[0].clip_minus(o_ref + GUARD, acc_in, x, g, n);
                v[vi].clip_minus(o_v + GUARD, acc_in, x, g, n);
                assert_memory_equal(o_ref, o_v, sizeof o_ref);
                check_guards((const uint8_t *)o_v, 2, n);

                assert_true(v[0].energy(x + off, n - (n ? off : 0)) ==
                            v[vi].energy(x + off, n - (n ? off : 0)));
            }
        }
    }
    /* The reference itself, against plain arithmetic. */
    int16_t ex[3] = {INT16_MIN, INT16_MIN, INT16_MAX};
    assert_true(v[0].energy(ex, 3) == 2ull * 32768 * 32768 + 32767ull * 32767);
    int32_t a[2] = {0, 0};
    int16_t xx[2] = {-3, 3};
    v[0].mac(a, xx, MCU_MIX_GAIN_ONE / 2, 2);   /* -1.5 -> -1, 1.5 -> 2: half up */
    assert_int_equal(a[0], -1);
    assert_int_equal(a[1], 2);
    print_message("kernel versions checked against the C reference: %d (%s)\n", nv - 1,
                  nv > 1 ? v[1].name : "none on this CPU");
}

static void cpu_mask(void **state)
{
    (void)state;
    char *saved = getenv("MCU_CPU_MASK");
    saved = saved ? strdup(saved) : NULL;
    unsigned all = mcu_cpu_detect();
    unsetenv("MCU_CPU_MASK");
    assert_int_equal(mcu_cpu_flags(), all);
    setenv("MCU_CPU_MASK", "0", 1);
    assert_int_equal(mcu_cpu_flags(), 0);
    setenv("MCU_CPU_MASK", "0x1", 1);
    assert_int_equal(mcu_cpu_flags(), all & MCU_CPU_AVX2);
    setenv("MCU_CPU_MASK", "avx2", 1);          /* not a number: the safe reading */
    assert_int_equal(mcu_cpu_flags(), 0);
    if (saved)
        setenv("MCU_CPU_MASK", saved, 1);
    else
        unsetenv("MCU_CPU_MASK");
    free(saved);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Mean time of one tick with n_sites sites each pushing a frame, under the current
 * MCU_CPU_MASK. Sites carry different tones at different levels so talker selection
 * runs as in a meeting. */
static double time_tick(int n_sites, int ticks, const char **name)
{
    mcu_mixer_t *m = make_mixer(n_sites);
    *name = mcu_mixer_dsp_name(m);
    static int16_t pcm[MCU_MIXER_MAX_SITES][FRAME];
    for (int i = 0; i < n_sites; i++)
        test_sine(pcm[i], FRAME, 200.0 + 25.0 * i, 300.0 + 500.0 * (i % 7), 0);
    double total = 0.0;
    for (int t = 0; t < ticks; t++) {
        for (int i = 0; i < n_sites; i++)
            assert_int_equal(mcu_mixer_push(m, i, pcm[i], FRAME), MCU_OK);
        double t0 = now_s();
        assert_int_equal(mcu_mixer_tick(m, &out), MCU_OK);
        total += now_s() - t0;
    }
    mcu_mixer_destroy(&m);
    return total / ticks;
}

/* Prints what the SIMD kernels buy; timings are not asserted (a loaded CI box). */
static void tick_cost(void **state)
{
    (void)state;
    const int site_counts[] = {18, 60};
    const int ticks = 300;
    char *saved = getenv("MCU_CPU_MASK");
    saved = saved ? strdup(saved) : NULL;
    for (size_t i = 0; i < 2; i++) {
        const char *ref_name, *best_name;
        setenv("MCU_CPU_MASK", "0", 1);
        double ref = time_tick(site_counts[i], ticks, &ref_name);
        assert_string_equal(ref_name, "c");     /* MCU_CPU_MASK=0 forces the reference */
        if (saved)
            setenv("MCU_CPU_MASK", saved, 1);
        else
            unsetenv("MCU_CPU_MASK");
        double best = time_tick(site_counts[i], ticks, &best_name);
        print_message("mix tick, %d sites: %s %.1f us, %s %.1f us (x%.1f), "
                      "%.3f%% of the 20 ms tick\n", site_counts[i], ref_name, ref * 1e6,
                      best_name, best * 1e6, ref / best, best / 0.02 * 100.0);
    }
    free(saved);

    /* Kernel by kernel, one 960-sample frame each. */
    mcu_mix_dsp_t v[4];
    int nv = dsp_versions(v);
    static int16_t x[FRAME], o[FRAME];
    static int32_t acc[FRAME];
    test_sine(x, FRAME, 440, 9000, 0);
    const int reps = 2000;
    double t_ref[4] = {0};
    for (int vi = 0; vi < nv; vi++) {
        double tm[4];
        double t0 = now_s();
        for (int r = 0; r < reps; r++)
            v[vi].mac(acc, x, MCU_MIX_GAIN_ONE + (r & 7), FRAME);
        tm[0] = now_s() - t0;
        t0 = now_s();
        volatile uint64_t sink = 0;
        for (int r = 0; r < reps; r++)
            sink += v[vi].energy(x + (r & 1), FRAME - 1);
        tm[1] = now_s() - t0;
        t0 = now_s();
        for (int r = 0; r < reps; r++)
            v[vi].clip(o, acc + (r & 1), FRAME - 1);
        tm[2] = now_s() - t0;
        t0 = now_s();
        for (int r = 0; r < reps; r++)
            v[vi].clip_minus(o, acc + (r & 1), x, MCU_MIX_GAIN_ONE, FRAME - 1);
        tm[3] = now_s() - t0;
        (void)sink;
        if (vi == 0)
            memcpy(t_ref, tm, sizeof tm);
        print_message("kernels %-4s ns/frame: mac %.0f (x%.1f) energy %.0f (x%.1f) "
                      "clip %.0f (x%.1f) clip_minus %.0f (x%.1f)\n", v[vi].name,
                      tm[0] / reps * 1e9, t_ref[0] / tm[0], tm[1] / reps * 1e9,
                      t_ref[1] / tm[1], tm[2] / reps * 1e9, t_ref[2] / tm[2],
                      tm[3] / reps * 1e9, t_ref[3] / tm[3]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shared_and_mix_minus),
        cmocka_unit_test(hangover),
        cmocka_unit_test(saturation),
        cmocka_unit_test(gain_and_mute),
        cmocka_unit_test(fifo_underrun_overflow),
        cmocka_unit_test(fifo_order),
        cmocka_unit_test(top_three_of_six),
        cmocka_unit_test(inactive_site),
        cmocka_unit_test(dsp_matches_reference),
        cmocka_unit_test(cpu_mask),
        cmocka_unit_test(tick_cost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
