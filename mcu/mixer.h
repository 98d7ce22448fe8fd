/*
 * mixer: the conference's audio mixing core. Pure computation: no I/O, no clock, no
 * threads; the conference feeds it decoded PCM and calls mcu_mixer_tick every 20 ms.
 *
 * Per site:
 *   - a bounded PCM FIFO (MCU_MIXER_FIFO_SAMPLES) fed with decoded PCM of any length
 *     (a 20 ms packet gives 960 samples, a 60 ms one 2880, PLC whatever it made).
 *     Each tick takes exactly MCU_MIXER_FRAME_SAMPLES: when fewer are queued the rest
 *     is zeros (an "underrun"); a push that would overfill the FIFO drops the oldest
 *     samples (an "overflow"), so the delay a site picks up here never exceeds the bound.
 *   - a gain (linear float, converted once to Q12; 0 mutes the site: it is neither
 *     mixed nor a talker);
 *   - a level: the frame's mean square after gain, smoothed over ticks, reported in
 *     dBFS (0 dBFS = a full-scale square wave, so a full-scale sine reads -3 dBFS);
 *   - talker detection: a site talks while its smoothed level is at or above
 *     MCU_MIXER_TALK_THRESHOLD_DBFS, and for MCU_MIXER_HANGOVER_TICKS ticks after it
 *     last was, so a talker is not dropped in the pauses between words.
 *
 * Each tick: every active site's gain-applied frame is summed in int32 (the "total");
 * the SHARED mix is the total saturated to int16, heard by every site that is not a
 * top talker (a site that talks but is not among the top ones hears itself: the
 * accepted cost of encoding one shared mix). The TOP TALKERS are up to
 * MCU_MIXER_MAX_TALKERS talking sites, loudest first, where a site already in a slot
 * counts MCU_MIXER_SWITCH_MARGIN_DB louder than it is (so two similar voices do not
 * swap slots every syllable). Each top talker gets a MIX-MINUS: total minus its own
 * contribution, saturated; exact, since the contribution subtracted is the one added.
 *
 * Talker SLOTS are stable: a site keeps its slot k (talker_site[k], minus[k]) for as
 * long as it stays a top talker, so the caller can bind Opus encoder k to slot k and
 * keep its state continuous; talker_changed[k] says when slot k got a new site (reset
 * encoder k then). An empty slot has talker_site[k] = -1 and a zeroed minus[k].
 *
 * Threads: not thread-safe; one thread at a time calls push, the setters and tick
 * (the conference applies control changes and pushes decoded PCM on its loop, then
 * ticks).
 *
 * OWNERSHIP: push copies the PCM into the site's FIFO; the caller keeps its buffer.
 * tick writes into the caller's mcu_mix_out_t. The mixer belongs to the caller of
 * mcu_mixer_create until mcu_mixer_destroy.
 */
#ifndef MCU_MIXER_H
#define MCU_MIXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codecs/audio_dec.h"
#include "codecs/opus_codec.h"

/* Sites one mixer holds. Must equal MCU_MAX_SITES (mcu/config.h): mixer.c checks it at
 * compile time. */
#define MCU_MIXER_MAX_SITES 64
/* Top talkers that get a mix-minus: each costs one more Opus encode per tick. Three
 * covers a speaker, an interjection and a reply; a fourth voice at once in a briefing
 * is crosstalk, and it hears itself in the shared mix. */
#define MCU_MIXER_MAX_TALKERS 3

/* One tick is one Opus frame of the mixes: 20 ms at 48 kHz (defined there, once). */
#define MCU_MIXER_RATE MCU_OPUS_CLOCK_RATE
#define MCU_MIXER_TICK_MS MCU_OPUS_FRAME_MS
#define MCU_MIXER_FRAME_SAMPLES MCU_OPUS_FRAME_SAMPLES
/* FIFO bound: the longest packet any site's codec carries (codecs/audio_dec.h) decoded
 * in one go, plus one tick of samples still queued when it lands. Anything beyond is a
 * site running ahead (a burst, a faster clock); dropping it keeps that site's delay
 * bounded. */
#define MCU_MIXER_FIFO_SAMPLES (MCU_AUDIO_DEC_MAX_SAMPLES + MCU_MIXER_FRAME_SAMPLES)

/* Largest gain: +12 dB lifts a quiet commune microphone to the others' level; more
 * would mostly lift its room noise into everybody's ears. A whole number, so mixer.c
 * can check at compile time that it fits the kernels' Q12 gain. */
#define MCU_MIXER_MAX_GAIN 4
/* Talker threshold. Speech at a conference microphone sits around -30..-15 dBFS RMS;
 * a quiet room's noise floor after the endpoint's processing around -60..-50. -45 is
 * 15 dB under soft speech and ~10 dB over a quiet room. A noisy room above it counts as
 * talking: the operator's mute (gain 0) is the remedy, not a higher threshold that
 * would miss soft voices. */
#define MCU_MIXER_TALK_THRESHOLD_DBFS (-45.0f)
/* Hangover: 300 ms (15 ticks) covers the pauses between words and short breaths; a
 * longer one holds a mix-minus slot (an encode) for a site that has stopped. */
#define MCU_MIXER_HANGOVER_MS 300
#define MCU_MIXER_HANGOVER_TICKS (MCU_MIXER_HANGOVER_MS / MCU_MIXER_TICK_MS)
/* Level smoothing: weight of the new frame's mean square, per tick. 0.5 is a ~30 ms
 * time constant: a first syllable crosses the threshold in its first frame (the site
 * hears itself in the shared mix until it is a talker), while one quiet frame inside a
 * word does not drop the level 20 dB. */
#define MCU_MIXER_LEVEL_SMOOTH 0.5f
/* Reported level of silence, under the quietest non-zero 16-bit signal (1 LSB RMS is
 * -90.3 dBFS), so a silent site never compares equal to a very quiet one. */
#define MCU_MIXER_LEVEL_FLOOR_DBFS (-100.0f)
/* Slot hysteresis: a site in a slot keeps it against a challenger less than 6 dB
 * louder. Two people speaking at similar volume differ by a few dB from one syllable
 * to the next; a slot that swapped with them would re-route both sites' streams. */
#define MCU_MIXER_SWITCH_MARGIN_DB 6.0f

typedef struct mcu_mix_out {
    int16_t shared[MCU_MIXER_FRAME_SAMPLES];   /* for every site without a slot */
    int n_talkers;                             /* slots in use */
    int talker_site[MCU_MIXER_MAX_TALKERS];    /* site in slot k, or -1 */
    bool talker_changed[MCU_MIXER_MAX_TALKERS]; /* slot k got another site (or none) */
    int16_t minus[MCU_MIXER_MAX_TALKERS][MCU_MIXER_FRAME_SAMPLES]; /* for talker_site[k] */
    float level_dbfs[MCU_MIXER_MAX_SITES];     /* smoothed, after gain; floor if inactive */
    bool talking[MCU_MIXER_MAX_SITES];         /* detector verdict, top talker or not */
} mcu_mix_out_t;

typedef struct mcu_mixer_site_stats {
    uint64_t ticks;             /* ticks the site was active */
    uint64_t pushed;            /* samples pushed */
    uint64_t underruns;         /* ticks with less than a frame queued */
    uint64_t underrun_samples;  /* zeros mixed in their place */
    uint64_t overflows;         /* pushes that dropped queued samples */
    uint64_t overflow_samples;  /* samples dropped */
} mcu_mixer_site_stats_t;

typedef struct mcu_mixer mcu_mixer_t;

/* Creates a mixer for sites 0 .. max_sites-1 (1..MCU_MIXER_MAX_SITES), all inactive,
 * gain 1. Kernels are picked for the CPU (mcu/mix_dsp.h, MCU_CPU_MASK).
 * MCU_ERR_INVAL, MCU_ERR_NOMEM. */
int mcu_mixer_create(int max_sites, mcu_mixer_t **out);
/* Frees it and sets *m = NULL; NULL-safe. */
void mcu_mixer_destroy(mcu_mixer_t **m);

/* Site present or not. Activating an inactive site starts it afresh (empty FIFO,
 * silent level, not talking); deactivating drops its queued PCM, and from the next tick
 * it contributes nothing and loses its slot. Gain and statistics are kept. */
int mcu_mixer_set_active(mcu_mixer_t *m, int site, bool active);

/* Linear gain 0..MCU_MIXER_MAX_GAIN (0 = mute). MCU_ERR_INVAL otherwise (NaN too). */
int mcu_mixer_set_gain(mcu_mixer_t *m, int site, float gain);

/* Queues n samples of 48 kHz mono PCM for an active site (MCU_ERR_STATE if inactive).
 * Counts an overflow when old samples had to go (still returns 0). */
int mcu_mixer_push(mcu_mixer_t *m, int site, const int16_t *pcm, size_t n);

/* Samples queued for a site (0 for a bad index). */
size_t mcu_mixer_queued(const mcu_mixer_t *m, int site);

/* Mixes one tick into *out. */
int mcu_mixer_tick(mcu_mixer_t *m, mcu_mix_out_t *out);

/* Statistics of one site, NULL for a bad index. */
const mcu_mixer_site_stats_t *mcu_mixer_site_stats(const mcu_mixer_t *m, int site);

/* Name of the kernel version in use ("c", "avx2"), for logs. */
const char *mcu_mixer_dsp_name(const mcu_mixer_t *m);

#endif
