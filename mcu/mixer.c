#include "mixer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "mix_dsp.h"

_Static_assert(MCU_MIXER_MAX_SITES == MCU_MAX_SITES,
               "the mixer must hold every site a config can name");
_Static_assert(MCU_MIXER_MAX_GAIN * MCU_MIX_GAIN_ONE <= MCU_MIX_GAIN_Q_MAX,
               "the largest gain must fit the kernels' Q12 factor");

/* Buffers are aligned to a cache line: whole-line loads for the SIMD kernels. */
#define MIXER_ALIGN 64
/* Full scale of the level: the mean square of a full-scale square wave. */
#define FULL_SCALE_POWER (32768.0f * 32768.0f)
/* Ticks since a site last crossed the threshold, saturated: "never" or "long ago". */
#define QUIET_LONG_AGO (MCU_MIXER_HANGOVER_TICKS + 1)

typedef struct site {
    int16_t frame[MCU_MIXER_FRAME_SAMPLES]; /* this tick's samples (zero-filled) */
    int16_t fifo[MCU_MIXER_FIFO_SAMPLES];   /* ring: `fill` samples from `head` */
    size_t head, fill;
    bool active;
    int32_t gain_q;             /* Q12, as mixed */
    float power;                /* smoothed mean square after gain, / FULL_SCALE_POWER */
    int quiet;                  /* ticks since the level was last over the threshold */
    int slot;                   /* talker slot, or -1 */
    mcu_mixer_site_stats_t stats;
} site_t;

struct mcu_mixer {
    int32_t total[MCU_MIXER_FRAME_SAMPLES];
    int n_sites;
    site_t *sites;
    int slot_site[MCU_MIXER_MAX_TALKERS];
    mcu_mix_dsp_t dsp;
};

/* Zeroed memory aligned to MIXER_ALIGN (aligned_alloc wants a multiple of it). */
static void *zalloc_aligned(size_t size)
{
    size = (size + MIXER_ALIGN - 1) / MIXER_ALIGN * MIXER_ALIGN;
    void *p = aligned_alloc(MIXER_ALIGN, size);
    if (p)
        memset(p, 0, size);
    return p;
}

static void site_restart(site_t *s)
{
    s->head = s->fill = 0;
    s->power = 0.0f;
    s->quiet = QUIET_LONG_AGO;
}

int mcu_mixer_create(int max_sites, mcu_mixer_t **out)
{
    if (!out)
        return MCU_ERR_INVAL;
    *out = NULL;
    if (max_sites < 1 || max_sites > MCU_MIXER_MAX_SITES)
        return MCU_ERR_INVAL;
    mcu_mixer_t *m = zalloc_aligned(sizeof *m);
    if (!m)
        return MCU_ERR_NOMEM;
    m->sites = zalloc_aligned(sizeof(site_t) * (size_t)max_sites);
    if (!m->sites) {
        free(m);
        return MCU_ERR_NOMEM;
    }
    m->n_sites = max_sites;
    for (int i = 0; i < max_sites; i++) {
        site_restart(&m->sites[i]);
        m->sites[i].gain_q = MCU_MIX_GAIN_ONE;
        m->sites[i].slot = -1;
    }
    for (int k = 0; k < MCU_MIXER_MAX_TALKERS; k++)
        m->slot_site[k] = -1;
    mcu_mix_dsp_init(&m->dsp);
    *out = m;
    return MCU_OK;
}

void mcu_mixer_destroy(mcu_mixer_t **m)
{
    if (!m || !*m)
        return;
    free((*m)->sites);
    free(*m);
    *m = NULL;
}

static site_t *get_site(const mcu_mixer_t *m, int site)
{
    return m && site >= 0 && site < m->n_sites ? &m->sites[site] : NULL;
}

int mcu_mixer_set_active(mcu_mixer_t *m, int site, bool active)
{
    site_t *s = get_site(m, site);
    if (!s)
        return MCU_ERR_INVAL;
    if (active != s->active)
        site_restart(s);
    s->active = active;
    return MCU_OK;
}

int mcu_mixer_set_gain(mcu_mixer_t *m, int site, float gain)
{
    site_t *s = get_site(m, site);
    if (!s || !(gain >= 0.0f && gain <= MCU_MIXER_MAX_GAIN))   /* NaN fails too */
        return MCU_ERR_INVAL;
    s->gain_q = (int32_t)lrintf(gain * MCU_MIX_GAIN_ONE);
    return MCU_OK;
}

/* Copies n samples into the ring at logical position `at` (from head), wrapping. */
static void ring_write(site_t *s, size_t at, const int16_t *pcm, size_t n)
{
    size_t pos = (s->head + at) % MCU_MIXER_FIFO_SAMPLES;
    size_t first = MCU_MIXER_FIFO_SAMPLES - pos < n ? MCU_MIXER_FIFO_SAMPLES - pos : n;
    memcpy(s->fifo + pos, pcm, first * sizeof *pcm);
    memcpy(s->fifo, pcm + first, (n - first) * sizeof *pcm);
}

/* Moves n samples from the head of the ring to dst. */
static void ring_read(site_t *s, int16_t *dst, size_t n)
{
    size_t first = MCU_MIXER_FIFO_SAMPLES - s->head < n ? MCU_MIXER_FIFO_SAMPLES - s->head : n;
    memcpy(dst, s->fifo + s->head, first * sizeof *dst);
    memcpy(dst + first, s->fifo, (n - first) * sizeof *dst);
    s->head = (s->head + n) % MCU_MIXER_FIFO_SAMPLES;
    s->fill -= n;
}

int mcu_mixer_push(mcu_mixer_t *m, int site, const int16_t *pcm, size_t n)
{
    site_t *s = get_site(m, site);
    if (!s || (!pcm && n > 0))
        return MCU_ERR_INVAL;
    if (!s->active)
        return MCU_ERR_STATE;
    if (n == 0)
        return MCU_OK;
    s->stats.pushed += n;
    if (s->fill + n > MCU_MIXER_FIFO_SAMPLES) {
        /* Drop the oldest: queued samples first, then the head of this push. */
        size_t drop = s->fill + n - MCU_MIXER_FIFO_SAMPLES;
        s->stats.overflows++;
        s->stats.overflow_samples += drop;
        size_t from_queue = drop < s->fill ? drop : s->fill;
        s->head = (s->head + from_queue) % MCU_MIXER_FIFO_SAMPLES;
        s->fill -= from_queue;
        pcm += drop - from_queue;
        n -= drop - from_queue;
    }
    ring_write(s, s->fill, pcm, n);
    s->fill += n;
    return MCU_OK;
}

size_t mcu_mixer_queued(const mcu_mixer_t *m, int site)
{
    const site_t *s = get_site(m, site);
    return s ? s->fill : 0;
}

/* Takes this tick's frame from the FIFO into s->frame; returns the real samples in it. */
static size_t take_frame(site_t *s)
{
    size_t got = s->fill < MCU_MIXER_FRAME_SAMPLES ? s->fill : MCU_MIXER_FRAME_SAMPLES;
    ring_read(s, s->frame, got);
    if (got < MCU_MIXER_FRAME_SAMPLES) {
        memset(s->frame + got, 0, (MCU_MIXER_FRAME_SAMPLES - got) * sizeof s->frame[0]);
        s->stats.underruns++;
        s->stats.underrun_samples += MCU_MIXER_FRAME_SAMPLES - got;
    }
    return got;
}

static float level_dbfs(float power)
{
    float db = power > 0.0f ? 10.0f * log10f(power) : MCU_MIXER_LEVEL_FLOOR_DBFS;
    return db > MCU_MIXER_LEVEL_FLOOR_DBFS ? db : MCU_MIXER_LEVEL_FLOOR_DBFS;
}

/* Mixes site i into the total and updates its level and talker state. */
static void mix_site(mcu_mixer_t *m, int i, mcu_mix_out_t *out)
{
    site_t *s = &m->sites[i];
    s->stats.ticks++;
    size_t got = take_frame(s);
    float frame_power = 0.0f;
    if (got > 0 && s->gain_q > 0) {
        float g = (float)s->gain_q / MCU_MIX_GAIN_ONE;
        uint64_t e = m->dsp.energy(s->frame, MCU_MIXER_FRAME_SAMPLES);
        frame_power = (float)e * g * g / (MCU_MIXER_FRAME_SAMPLES * FULL_SCALE_POWER);
        m->dsp.mac(m->total, s->frame, s->gain_q, MCU_MIXER_FRAME_SAMPLES);
    }
    s->power += MCU_MIXER_LEVEL_SMOOTH * (frame_power - s->power);
    float db = level_dbfs(s->power);
    if (s->gain_q == 0)
        s->quiet = QUIET_LONG_AGO;          /* muted: no longer a talker, at once */
    else if (db >= MCU_MIXER_TALK_THRESHOLD_DBFS)
        s->quiet = 0;
    else if (s->quiet < QUIET_LONG_AGO)
        s->quiet++;
    out->level_dbfs[i] = db;
    out->talking[i] = s->quiet <= MCU_MIXER_HANGOVER_TICKS;
}

/* Picks the top talkers and gives newcomers the free slots; incumbents keep theirs. */
static void select_talkers(mcu_mixer_t *m, const mcu_mix_out_t *out)
{
    int pick[MCU_MIXER_MAX_TALKERS];
    float score[MCU_MIXER_MAX_TALKERS];
    int n = 0;
    for (int i = 0; i < m->n_sites; i++) {
        if (!m->sites[i].active || !out->talking[i])
            continue;
        float sc = out->level_dbfs[i] + (m->sites[i].slot >= 0 ? MCU_MIXER_SWITCH_MARGIN_DB : 0);
        /* Insertion into the sorted top list; equal scores keep the lower index. */
        int at = n;
        while (at > 0 && score[at - 1] < sc)
            at--;
        if (at >= MCU_MIXER_MAX_TALKERS)
            continue;
        int last = n < MCU_MIXER_MAX_TALKERS ? n : MCU_MIXER_MAX_TALKERS - 1;
        for (int j = last; j > at; j--) {
            pick[j] = pick[j - 1];
            score[j] = score[j - 1];
        }
        pick[at] = i;
        score[at] = sc;
        if (n < MCU_MIXER_MAX_TALKERS)
            n++;
    }
    bool chosen[MCU_MIXER_MAX_SITES] = {false};
    for (int j = 0; j < n; j++)
        chosen[pick[j]] = true;
    for (int k = 0; k < MCU_MIXER_MAX_TALKERS; k++) {
        int s = m->slot_site[k];
        if (s >= 0 && !chosen[s]) {
            m->sites[s].slot = -1;
            m->slot_site[k] = -1;
        }
    }
    for (int j = 0; j < n; j++) {
        site_t *s = &m->sites[pick[j]];
        if (s->slot >= 0)
            continue;
        for (int k = 0; k < MCU_MIXER_MAX_TALKERS; k++) {
            if (m->slot_site[k] < 0) {
                m->slot_site[k] = pick[j];
                s->slot = k;
                break;
            }
        }
    }
}

int mcu_mixer_tick(mcu_mixer_t *m, mcu_mix_out_t *out)
{
    if (!m || !out)
        return MCU_ERR_INVAL;
    int before[MCU_MIXER_MAX_TALKERS];
    memcpy(before, m->slot_site, sizeof before);
    memset(m->total, 0, sizeof m->total);
    for (int i = 0; i < MCU_MIXER_MAX_SITES; i++) {
        out->level_dbfs[i] = MCU_MIXER_LEVEL_FLOOR_DBFS;
        out->talking[i] = false;
    }
    for (int i = 0; i < m->n_sites; i++)
        if (m->sites[i].active)
            mix_site(m, i, out);
    select_talkers(m, out);

    m->dsp.clip(out->shared, m->total, MCU_MIXER_FRAME_SAMPLES);
    out->n_talkers = 0;
    for (int k = 0; k < MCU_MIXER_MAX_TALKERS; k++) {
        int s = m->slot_site[k];
        out->talker_site[k] = s;
        out->talker_changed[k] = s != before[k];
        if (s < 0) {
            memset(out->minus[k], 0, sizeof out->minus[k]);
            continue;
        }
        out->n_talkers++;
        /* A site not mixed this tick (muted, or nothing queued) has an all-zero
         * contribution either way: its frame is zeros or its gain is 0. */
        m->dsp.clip_minus(out->minus[k], m->total, m->sites[s].frame, m->sites[s].gain_q,
                          MCU_MIXER_FRAME_SAMPLES);
    }
    return MCU_OK;
}

const mcu_mixer_site_stats_t *mcu_mixer_site_stats(const mcu_mixer_t *m, int site)
{
    const site_t *s = get_site(m, site);
    return s ? &s->stats : NULL;
}

const char *mcu_mixer_dsp_name(const mcu_mixer_t *m) { return m->dsp.name; }
