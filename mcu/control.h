/*
 * control: the operator's choices for one conference, as one plain value: the layout
 * (a preset, "auto", or custom regions), each slot's mode (the pane modes of hardware
 * MCUs), each site's overrides (mutes, label, gain) and the speaker-switching settings.
 *
 * The control API edits a copy and hands it to the conference, which applies it at the
 * start of its next output tick (mcu_conference_set_control). The same value is what the
 * state file keeps, so operator assignments survive a restart and a config reload.
 *
 * Slot modes:
 *   site     always the pinned site
 *   loudest  voice-activated: the most recent speakers, one per loudest slot, in order
 *   rolling  cycles through the sites not otherwise on screen
 *   blank    nothing (background)
 *   auto     the MCU decides: the large slot of a speaker layout follows the speaker;
 *            every other auto slot shows the next site not otherwise on screen
 *
 * Ownership: mcu_control_t has no pointers; copy it freely.
 */
#ifndef MCU_CONTROL_H
#define MCU_CONTROL_H

#include <jansson.h>
#include <stdbool.h>

#include "layouts/layout.h"
#include "mcu/config.h"

typedef enum mcu_slot_mode {
    MCU_SLOT_AUTO = 0,
    MCU_SLOT_SITE,
    MCU_SLOT_LOUDEST,
    MCU_SLOT_ROLLING,
    MCU_SLOT_BLANK,
    MCU_SLOT__COUNT
} mcu_slot_mode_t;

typedef struct mcu_slot {
    mcu_slot_mode_t mode;
    int site;                   /* MCU_SLOT_SITE: the pinned site's index; else -1 */
} mcu_slot_t;

typedef struct mcu_site_control {
    bool audio_muted;           /* not mixed, never the speaker */
    bool video_muted;           /* its tile shows the "no video" card with its label */
    float gain;                 /* 0 .. MCU_MIXER_MAX_GAIN; 1 = as sent */
    char label[MCU_NAME_MAX];   /* NFC; "" = the configured name */
} mcu_site_control_t;

typedef struct mcu_control {
    bool layout_auto;           /* the smallest grid that holds every site */
    mcu_layout_preset_t preset; /* when !layout_auto and n_regions == 0 */
    int n_regions;              /* > 0: custom regions instead of a preset */
    mcu_layout_region_t regions[MCU_LAYOUT_MAX_CELLS];
    mcu_slot_t slots[MCU_LAYOUT_MAX_CELLS];
    mcu_speaker_config_t speaker;
    mcu_site_control_t sites[MCU_MAX_SITES];
} mcu_control_t;

/* Longest state file read back: the full value as JSON is a few kilobytes. */
#define MCU_CONTROL_STATE_MAX_BYTES (256u * 1024u)

/* Every slot auto, no overrides, the layout and speaker settings of the config. */
void mcu_control_default(mcu_control_t *ctl, const mcu_config_t *cfg);

/* "auto", "site", ...; NULL for a bad value. */
const char *mcu_slot_mode_name(mcu_slot_mode_t mode);
/* -1 for an unknown name. */
int mcu_slot_mode_from_name(const char *name);

/* The preset the layout resolves to for n_sites (meaningless for custom regions). */
mcu_layout_preset_t mcu_control_preset(const mcu_control_t *ctl, int n_sites);
/* Slots the layout has: the preset's cells or the number of regions. */
int mcu_control_slot_count(const mcu_control_t *ctl, int n_sites);
/* Cells of the layout on a w x h canvas (0 or MCU_ERR_INVAL). */
int mcu_control_compute_layout(const mcu_control_t *ctl, int n_sites, int w, int h,
                               mcu_layout_t *out);
/* True if the layout is a speaker preset (slot 0 is the large one). */
bool mcu_control_is_speaker_layout(const mcu_control_t *ctl, int n_sites);

/* Pins `site` to `slot`; the site is unpinned from any other slot (that one becomes
 * auto), as dragging a site card onto another pane moves it. */
void mcu_control_pin(mcu_control_t *ctl, int slot, int site);

/* The state file: the value as JSON, sites and pins by id (a config reload may reorder
 * sites). to_json returns a new reference (NULL on out of memory). from_json applies
 * what it can to *ctl (which the caller has filled with defaults): entries naming sites
 * the config no longer has are skipped; a malformed document leaves *ctl untouched and
 * returns MCU_ERR_CONFIG with a reason in why. */
json_t *mcu_control_to_json(const mcu_control_t *ctl, const mcu_config_t *cfg);
int mcu_control_from_json(const json_t *j, const mcu_config_t *cfg, mcu_control_t *ctl,
                          char *why, size_t why_size);

/* Writes the state file atomically (a temporary file, fsync, rename). */
int mcu_control_save(const mcu_control_t *ctl, const mcu_config_t *cfg, const char *path);
/* Reads it into *ctl. MCU_ERR_NOTFOUND if there is none (not an error at first start). */
int mcu_control_load(const char *path, const mcu_config_t *cfg, mcu_control_t *ctl,
                     char *why, size_t why_size);

#endif
