/*
 * test_audio: signal helpers shared by the audio unit tests (opus_codec, mixer): tone
 * and square-wave generators, a Goertzel single-frequency power meter and RMS. Header
 * only (static inline), so a test that uses it needs no extra source file.
 *
 * OWNERSHIP: every function writes into or reads from caller buffers only.
 */
#ifndef MCU_TEST_AUDIO_H
#define MCU_TEST_AUDIO_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#define TEST_AUDIO_RATE 48000.0
#define TEST_AUDIO_PI 3.14159265358979323846

/* Writes n samples of amp * sin(2 pi freq t), t counted from sample `start`, so
 * consecutive calls with start += n make one continuous tone. */
static inline void test_sine(int16_t *x, size_t n, double freq, double amp, size_t start)
{
    for (size_t i = 0; i < n; i++) {
        double t = (double)(start + i) / TEST_AUDIO_RATE;
        x[i] = (int16_t)lrint(amp * sin(2.0 * TEST_AUDIO_PI * freq * t));
    }
}

/* Adds a tone to x (saturating), for multi-tone test signals. */
static inline void test_add_sine(int16_t *x, size_t n, double freq, double amp,
                                 size_t start)
{
    for (size_t i = 0; i < n; i++) {
        double t = (double)(start + i) / TEST_AUDIO_RATE;
        long v = x[i] + lrint(amp * sin(2.0 * TEST_AUDIO_PI * freq * t));
        x[i] = (int16_t)(v > INT16_MAX ? INT16_MAX : v < INT16_MIN ? INT16_MIN : v);
    }
}

/* Square wave between +amp and -amp with `period` samples, from sample `start`. */
static inline void test_square(int16_t *x, size_t n, size_t period, int16_t amp,
                               size_t start)
{
    for (size_t i = 0; i < n; i++)
        x[i] = ((start + i) % period) < period / 2 ? amp : (int16_t)-amp;
}

/* Power of x at `freq` (Goertzel over a Hann window, so a tone that does not fill the
 * window in whole cycles leaks little into its neighbours). Scaled so that a sine of
 * amplitude A gives about A * A; only ratios between calls matter to the tests. */
static inline double test_goertzel(const int16_t *x, size_t n, double freq)
{
    double w = 2.0 * TEST_AUDIO_PI * freq / TEST_AUDIO_RATE;
    double coeff = 2.0 * cos(w), s1 = 0.0, s2 = 0.0, wsum = 0.0;
    for (size_t i = 0; i < n; i++) {
        double win = 0.5 - 0.5 * cos(2.0 * TEST_AUDIO_PI * (double)i / (double)n);
        double s0 = win * x[i] + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
        wsum += win;
    }
    double p = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    return 4.0 * p / (wsum * wsum);
}

static inline double test_rms(const int16_t *x, size_t n)
{
    double e = 0.0;
    for (size_t i = 0; i < n; i++)
        e += (double)x[i] * x[i];
    return n ? sqrt(e / (double)n) : 0.0;
}

/* 10 log10(a / b), with a floor so silence compares as very quiet, not as -inf. */
static inline double test_db(double a, double b)
{
    const double tiny = 1e-12;
    return 10.0 * log10((a + tiny) / (b + tiny));
}

#endif
