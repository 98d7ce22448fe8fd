/*
 * slots: who is on screen. Two pure pieces, driven by the conference on its loop:
 *
 *   speaker tracker   fed each 20 ms audio tick with every site's level and talk verdict
 *                     (mcu/mixer); picks the active speaker with a hold time, and keeps
 *                     the sites in order of when they last were the speaker
 *   assignment        control state + tracker + rolling position -> the site each slot
 *                     shows this output tick
 *
 * Speaker rules (voice-activated switching that never flaps):
 *   - the candidate is the loudest talking site (muted sites never talk);
 *   - a candidate becomes the speaker once it has been the candidate for
 *     MCU_SPEAKER_CONFIRM_MS without a break, and the current speaker has held the
 *     floor for at least hold_ms (the operator's setting);
 *   - silence changes nothing: the last speaker stays on screen.
 *
 * Assignment, in this order, each site at most once on screen (except that with
 * pinned_in_loudest a pinned site may also appear in a loudest slot):
 *   1. site slots show their pinned site;
 *   2. loudest slots, and the large slot of a speaker layout when it is auto, take the
 *      most recent speakers in order (before anyone has spoken: configuration order);
 *   3. rolling slots take turns through the sites still not shown, moving on every
 *      rolling_interval_ms;
 *   4. auto slots take the remaining sites in configuration order;
 *   5. blank slots, and slots left over, show nothing (-1).
 *
 * Ownership: plain values; no allocation.
 */
#ifndef MCU_SLOTS_H
#define MCU_SLOTS_H

#include <stdbool.h>
#include <stdint.h>

#include "mcu/config.h"
#include "mcu/control.h"

/* A new voice must lead for this long before it takes the floor: a cough, a chair or
 * "yes" is shorter, a sentence is longer. */
#define MCU_SPEAKER_CONFIRM_MS 500

typedef struct mcu_speaker {
    int n_sites;
    int active;                 /* the speaker, or -1 before anyone has spoken */
    int64_t active_since_ms;
    int candidate;              /* loudest talker now, or -1 */
    int64_t candidate_since_ms;
    int order[MCU_MAX_SITES];   /* sites, most recent speaker first */
} mcu_speaker_t;

void mcu_speaker_init(mcu_speaker_t *sp, int n_sites);

/* One audio tick. level_dbfs/talking per site (n_sites entries). Returns true when the
 * active speaker changed (*previous then holds the one before, possibly -1). */
bool mcu_speaker_update(mcu_speaker_t *sp, int64_t now_ms, int hold_ms, const float *level_dbfs,
                        const bool *talking, int *previous);

typedef struct mcu_rolling {
    int64_t last_step_ms;       /* when the rolling position last moved (-1: not yet) */
    unsigned position;
} mcu_rolling_t;

void mcu_rolling_init(mcu_rolling_t *r);

/* Fills showing[0 .. n_slots) with a site index or -1 (see the rules above). */
void mcu_slots_assign(const mcu_control_t *ctl, int n_sites, int n_slots, bool speaker_layout,
                      const mcu_speaker_t *sp, mcu_rolling_t *roll, int64_t now_ms,
                      int *showing);

#endif
