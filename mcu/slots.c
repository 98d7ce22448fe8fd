#include "slots.h"

#include <string.h>

void mcu_speaker_init(mcu_speaker_t *sp, int n_sites)
{
    memset(sp, 0, sizeof *sp);
    sp->n_sites = n_sites < MCU_MAX_SITES ? n_sites : MCU_MAX_SITES;
    sp->active = -1;
    sp->candidate = -1;
    for (int i = 0; i < sp->n_sites; i++)
        sp->order[i] = i;
}

static void move_to_front(mcu_speaker_t *sp, int site)
{
    int k = 0;
    while (k < sp->n_sites && sp->order[k] != site)
        k++;
    if (k == sp->n_sites)
        return;
    memmove(&sp->order[1], &sp->order[0], (size_t)k * sizeof sp->order[0]);
    sp->order[0] = site;
}

bool mcu_speaker_update(mcu_speaker_t *sp, int64_t now_ms, int hold_ms, const float *level_dbfs,
                        const bool *talking, int *previous)
{
    int loudest = -1;
    for (int i = 0; i < sp->n_sites; i++)
        if (talking[i] && (loudest < 0 || level_dbfs[i] > level_dbfs[loudest]))
            loudest = i;
    if (loudest != sp->candidate) {
        sp->candidate = loudest;
        sp->candidate_since_ms = now_ms;
    }
    if (loudest < 0 || loudest == sp->active)
        return false;
    bool confirmed = now_ms - sp->candidate_since_ms >= MCU_SPEAKER_CONFIRM_MS;
    bool held = sp->active < 0 || now_ms - sp->active_since_ms >= hold_ms;
    if (!confirmed || !held)
        return false;
    if (previous)
        *previous = sp->active;
    sp->active = loudest;
    sp->active_since_ms = now_ms;
    move_to_front(sp, loudest);
    return true;
}

void mcu_rolling_init(mcu_rolling_t *r)
{
    r->last_step_ms = -1;
    r->position = 0;
}

void mcu_slots_assign(const mcu_control_t *ctl, int n_sites, int n_slots, bool speaker_layout,
                      const mcu_speaker_t *sp, mcu_rolling_t *roll, int64_t now_ms,
                      int *showing)
{
    bool shown[MCU_MAX_SITES] = {0};
    bool pinned[MCU_MAX_SITES] = {0};
    if (n_slots > MCU_LAYOUT_MAX_CELLS)
        n_slots = MCU_LAYOUT_MAX_CELLS;
    for (int s = 0; s < n_slots; s++) {
        showing[s] = -1;
        const mcu_slot_t *sl = &ctl->slots[s];
        if (sl->mode == MCU_SLOT_SITE && sl->site >= 0 && sl->site < n_sites &&
            !shown[sl->site]) {
            showing[s] = sl->site;
            shown[sl->site] = pinned[sl->site] = true;
        }
    }
    /* Loudest: walk the speaker order once across every loudest slot. */
    int k = 0;
    for (int s = 0; s < n_slots; s++) {
        bool loud = ctl->slots[s].mode == MCU_SLOT_LOUDEST ||
                    (s == 0 && speaker_layout && ctl->slots[s].mode == MCU_SLOT_AUTO);
        if (!loud)
            continue;
        while (k < sp->n_sites && k < n_sites) {
            int site = sp->order[k++];
            if (site >= n_sites)
                continue;
            bool allowed = !shown[site] || (pinned[site] && ctl->speaker.pinned_in_loudest);
            if (allowed) {
                showing[s] = site;
                shown[site] = true;
                pinned[site] = false; /* now in a loudest slot: not twice */
                break;
            }
        }
    }
    /* Rolling: the sites still free, taken in turn from the rolling position. */
    int free_sites[MCU_MAX_SITES], n_free = 0;
    for (int i = 0; i < n_sites; i++)
        if (!shown[i])
            free_sites[n_free++] = i;
    int n_rolling = 0;
    for (int s = 0; s < n_slots; s++)
        n_rolling += ctl->slots[s].mode == MCU_SLOT_ROLLING;
    if (n_rolling > 0 && n_free > 0) {
        if (roll->last_step_ms < 0)
            roll->last_step_ms = now_ms;
        if (now_ms - roll->last_step_ms >= ctl->speaker.rolling_interval_ms) {
            roll->position += (unsigned)n_rolling;
            roll->last_step_ms = now_ms;
        }
        int r = 0;
        for (int s = 0; s < n_slots && r < n_free; s++) {
            if (ctl->slots[s].mode != MCU_SLOT_ROLLING)
                continue;
            int site = free_sites[(roll->position + (unsigned)r++) % (unsigned)n_free];
            if (!shown[site]) {
                showing[s] = site;
                shown[site] = true;
            }
        }
    }
    /* Auto: the rest in configuration order. */
    int next = 0;
    for (int s = 0; s < n_slots; s++) {
        if (ctl->slots[s].mode != MCU_SLOT_AUTO || showing[s] >= 0)
            continue;
        while (next < n_sites && shown[next])
            next++;
        if (next < n_sites) {
            showing[s] = next;
            shown[next] = true;
        }
    }
}
