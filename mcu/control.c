#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcu/error.h"
#include "mcu/mixer.h"

static const char *const mode_names[MCU_SLOT__COUNT] = {"auto", "site", "loudest", "rolling",
                                                        "blank"};

void mcu_control_default(mcu_control_t *ctl, const mcu_config_t *cfg)
{
    memset(ctl, 0, sizeof *ctl);
    ctl->layout_auto = cfg->layout_auto;
    ctl->preset = cfg->layout;
    ctl->speaker = cfg->speaker;
    for (int i = 0; i < MCU_LAYOUT_MAX_CELLS; i++)
        ctl->slots[i] = (mcu_slot_t){MCU_SLOT_AUTO, -1};
    for (int i = 0; i < MCU_MAX_SITES; i++)
        ctl->sites[i].gain = 1.0f;
}

const char *mcu_slot_mode_name(mcu_slot_mode_t mode)
{
    return (unsigned)mode < MCU_SLOT__COUNT ? mode_names[mode] : NULL;
}

int mcu_slot_mode_from_name(const char *name)
{
    for (int i = 0; name && i < MCU_SLOT__COUNT; i++)
        if (strcmp(mode_names[i], name) == 0)
            return i;
    return -1;
}

mcu_layout_preset_t mcu_control_preset(const mcu_control_t *ctl, int n_sites)
{
    return ctl->layout_auto ? mcu_layout_auto_grid((unsigned)n_sites) : ctl->preset;
}

int mcu_control_slot_count(const mcu_control_t *ctl, int n_sites)
{
    if (ctl->n_regions > 0)
        return ctl->n_regions;
    int n = mcu_layout_preset_cells(mcu_control_preset(ctl, n_sites));
    return n > 0 ? n : 0;
}

int mcu_control_compute_layout(const mcu_control_t *ctl, int n_sites, int w, int h,
                               mcu_layout_t *out)
{
    if (ctl->n_regions > 0)
        return mcu_layout_custom(ctl->regions, ctl->n_regions, w, h, out, NULL);
    return mcu_layout_compute(mcu_control_preset(ctl, n_sites), w, h, out);
}

bool mcu_control_is_speaker_layout(const mcu_control_t *ctl, int n_sites)
{
    return ctl->n_regions == 0 && mcu_layout_preset_is_speaker(mcu_control_preset(ctl, n_sites));
}

void mcu_control_pin(mcu_control_t *ctl, int slot, int site)
{
    for (int i = 0; i < MCU_LAYOUT_MAX_CELLS; i++)
        if (ctl->slots[i].mode == MCU_SLOT_SITE && ctl->slots[i].site == site)
            ctl->slots[i] = (mcu_slot_t){MCU_SLOT_AUTO, -1};
    ctl->slots[slot] = (mcu_slot_t){MCU_SLOT_SITE, site};
}

/* ---------------------------------------------------------------- state file */

static int site_by_id(const mcu_config_t *cfg, const char *id)
{
    for (int i = 0; id && i < cfg->n_sites; i++)
        if (strcmp(cfg->sites[i].id, id) == 0)
            return i;
    return -1;
}

json_t *mcu_control_to_json(const mcu_control_t *ctl, const mcu_config_t *cfg)
{
    json_t *layout = json_object();
    if (ctl->n_regions > 0) {
        json_t *regions = json_array();
        for (int i = 0; i < ctl->n_regions; i++) {
            const mcu_layout_region_t *r = &ctl->regions[i];
            json_array_append_new(regions, json_pack("{s:f,s:f,s:f,s:f}", "x", r->x, "y", r->y,
                                                     "w", r->w, "h", r->h));
        }
        json_object_set_new(layout, "regions", regions);
    } else {
        json_object_set_new(layout, "preset", json_string(ctl->layout_auto
                                                              ? "auto"
                                                              : mcu_layout_preset_name(ctl->preset)));
    }
    json_t *slots = json_array();
    for (int i = 0; i < MCU_LAYOUT_MAX_CELLS; i++) {
        const mcu_slot_t *s = &ctl->slots[i];
        json_t *o = json_pack("{s:s}", "mode", mcu_slot_mode_name(s->mode));
        if (s->mode == MCU_SLOT_SITE && s->site >= 0 && s->site < cfg->n_sites)
            json_object_set_new(o, "site", json_string(cfg->sites[s->site].id));
        json_array_append_new(slots, o);
    }
    json_t *sites = json_object();
    for (int i = 0; i < cfg->n_sites; i++) {
        const mcu_site_control_t *sc = &ctl->sites[i];
        json_object_set_new(sites, cfg->sites[i].id,
                            json_pack("{s:b,s:b,s:f,s:s}", "audio_muted", sc->audio_muted,
                                      "video_muted", sc->video_muted, "gain", (double)sc->gain,
                                      "label", sc->label));
    }
    json_t *root = json_pack("{s:i,s:o,s:o,s:{s:i,s:i,s:b},s:o}", "version", 1, "layout", layout,
                             "slots", slots, "speaker", "hold_ms", ctl->speaker.hold_ms,
                             "rolling_interval_ms", ctl->speaker.rolling_interval_ms,
                             "pinned_in_loudest", ctl->speaker.pinned_in_loudest, "sites", sites);
    return root;
}

static int bad(char *why, size_t n, const char *msg)
{
    snprintf(why, n, "%s", msg);
    return MCU_ERR_CONFIG;
}

int mcu_control_from_json(const json_t *j, const mcu_config_t *cfg, mcu_control_t *out,
                          char *why, size_t why_size)
{
    if (!json_is_object(j))
        return bad(why, why_size, "not a JSON object");
    mcu_control_t ctl = *out;
    json_t *layout = json_object_get(j, "layout");
    json_t *preset = json_object_get(layout, "preset");
    json_t *regions = json_object_get(layout, "regions");
    if (json_is_string(preset)) {
        mcu_layout_preset_t p;
        ctl.n_regions = 0;
        if (strcmp(json_string_value(preset), "auto") == 0)
            ctl.layout_auto = true;
        else if (mcu_layout_preset_from_name(json_string_value(preset), &p) == MCU_OK)
            ctl.layout_auto = false, ctl.preset = p;
        else
            return bad(why, why_size, "layout.preset: unknown preset");
    } else if (json_is_array(regions)) {
        size_t n = json_array_size(regions);
        if (n == 0 || n > MCU_LAYOUT_MAX_CELLS)
            return bad(why, why_size, "layout.regions: wrong count");
        for (size_t i = 0; i < n; i++) {
            json_t *r = json_array_get(regions, i);
            mcu_layout_region_t *g = &ctl.regions[i];
            if (json_unpack(r, "{s:F,s:F,s:F,s:F}", "x", &g->x, "y", &g->y, "w", &g->w, "h",
                            &g->h) != 0)
                return bad(why, why_size, "layout.regions: each needs numbers x, y, w, h");
        }
        mcu_layout_t check;
        if (mcu_layout_custom(ctl.regions, (int)n, 1280, 720, &check, NULL) != MCU_OK)
            return bad(why, why_size, "layout.regions: not a valid layout");
        ctl.n_regions = (int)n;
    }
    json_t *slots = json_object_get(j, "slots");
    for (size_t i = 0; json_is_array(slots) && i < json_array_size(slots) &&
                       i < MCU_LAYOUT_MAX_CELLS; i++) {
        json_t *s = json_array_get(slots, i);
        int mode = mcu_slot_mode_from_name(json_string_value(json_object_get(s, "mode")));
        if (mode < 0)
            return bad(why, why_size, "slots: unknown mode");
        ctl.slots[i] = (mcu_slot_t){(mcu_slot_mode_t)mode, -1};
        if (mode == MCU_SLOT_SITE) {
            int site = site_by_id(cfg, json_string_value(json_object_get(s, "site")));
            ctl.slots[i] = site >= 0 ? (mcu_slot_t){MCU_SLOT_SITE, site}
                                     : (mcu_slot_t){MCU_SLOT_AUTO, -1}; /* site gone */
        }
    }
    json_t *sp = json_object_get(j, "speaker");
    if (json_is_object(sp)) {
        json_t *v;
        if (json_is_integer(v = json_object_get(sp, "hold_ms")) && json_integer_value(v) >= 0 &&
            json_integer_value(v) <= MCU_SPEAKER_HOLD_MS_MAX)
            ctl.speaker.hold_ms = (int)json_integer_value(v);
        if (json_is_integer(v = json_object_get(sp, "rolling_interval_ms")) &&
            json_integer_value(v) >= MCU_ROLLING_INTERVAL_MS_MIN &&
            json_integer_value(v) <= MCU_ROLLING_INTERVAL_MS_MAX)
            ctl.speaker.rolling_interval_ms = (int)json_integer_value(v);
        if (json_is_boolean(v = json_object_get(sp, "pinned_in_loudest")))
            ctl.speaker.pinned_in_loudest = json_is_true(v);
    }
    json_t *sites = json_object_get(j, "sites");
    const char *id;
    json_t *v;
    json_object_foreach((json_t *)sites, id, v) {
        int i = site_by_id(cfg, id);
        if (i < 0 || !json_is_object(v))
            continue;
        mcu_site_control_t *sc = &ctl.sites[i];
        json_t *f;
        if (json_is_boolean(f = json_object_get(v, "audio_muted")))
            sc->audio_muted = json_is_true(f);
        if (json_is_boolean(f = json_object_get(v, "video_muted")))
            sc->video_muted = json_is_true(f);
        if (json_is_number(f = json_object_get(v, "gain")) && json_number_value(f) >= 0 &&
            json_number_value(f) <= MCU_MIXER_MAX_GAIN)
            sc->gain = (float)json_number_value(f);
        if (json_is_string(f = json_object_get(v, "label")) &&
            json_string_length(f) < sizeof sc->label)
            snprintf(sc->label, sizeof sc->label, "%s", json_string_value(f));
    }
    *out = ctl;
    return MCU_OK;
}

int mcu_control_save(const mcu_control_t *ctl, const mcu_config_t *cfg, const char *path)
{
    json_t *j = mcu_control_to_json(ctl, cfg);
    if (!j)
        return MCU_ERR_NOMEM;
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(j);
    if (!text)
        return MCU_ERR_NOMEM;
    char tmp[MCU_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int rc = MCU_ERR_IO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        size_t len = strlen(text), done = 0;
        while (done < len) {
            ssize_t n = write(fd, text + done, len - done);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            done += (size_t)n;
        }
        bool ok = done == len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
        ok = close(fd) == 0 && ok;
        if (ok && rename(tmp, path) == 0)
            rc = MCU_OK;
        else
            unlink(tmp);
    }
    free(text);
    return rc;
}

int mcu_control_load(const char *path, const mcu_config_t *cfg, mcu_control_t *ctl, char *why,
                     size_t why_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, why_size, "%s", strerror(errno));
        return errno == ENOENT ? MCU_ERR_NOTFOUND : MCU_ERR_IO;
    }
    char *buf = malloc(MCU_CONTROL_STATE_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MCU_CONTROL_STATE_MAX_BYTES + 1, f) : 0;
    fclose(f);
    if (!buf)
        return MCU_ERR_NOMEM;
    if (n > MCU_CONTROL_STATE_MAX_BYTES) {
        free(buf);
        return bad(why, why_size, "larger than a state file can be");
    }
    json_error_t je;
    json_t *j = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &je);
    free(buf);
    if (!j) {
        snprintf(why, why_size, "line %d: %s", je.line, je.text);
        return MCU_ERR_CONFIG;
    }
    int rc = mcu_control_from_json(j, cfg, ctl, why, why_size);
    json_decref(j);
    return rc;
}
