#include "control_api.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

#include "codecs/jpeg_enc.h"
#include "mcu/error.h"
#include "mcu/http_server.h"
#include "mcu/log.h"
#include "mcu/mixer.h"
#include "mcu/sdp.h"
#include "mcu/stage_clock.h"
#include "mcu/text.h"
#include "mcu/web_assets.h"

/* Random bytes of a generated token: 128 bits, written as 32 hex digits. */
#define API_TOKEN_BYTES 16
/* Path segments a route has at most (/api/v1/sites/{id}/snapshot.jpg). */
#define API_MAX_SEGMENTS 6

struct mcu_control_api {
    uv_loop_t *loop;
    mcu_conference_t *conf;
    mcu_http_server_t *http;
    uv_timer_t stats_timer;
    char token[MCU_TOKEN_MAX];
};

/* ---------------------------------------------------------------- JSON views */

static const char *site_id(const mcu_conference_t *c, int i)
{
    return i >= 0 && i < mcu_conference_n_sites(c) ? mcu_conference_config(c)->sites[i].id : NULL;
}

static json_t *id_or_null(const mcu_conference_t *c, int i)
{
    const char *id = site_id(c, i);
    return id ? json_string(id) : json_null();
}

static int find_site(const mcu_conference_t *c, const char *id)
{
    const mcu_config_t *cfg = mcu_conference_config(c);
    for (int i = 0; id && i < cfg->n_sites; i++)
        if (strcmp(cfg->sites[i].id, id) == 0)
            return i;
    return -1;
}

static const char *state_name(mcu_site_state_t s)
{
    return s == MCU_SITE_STATE_LIVE ? "live" : s == MCU_SITE_STATE_NO_SIGNAL ? "no_signal"
                                                                            : "waiting";
}

/* Rounds for display: JSON readers need no 17-digit fractions. */
static double r3(double v) { return isfinite(v) ? round(v * 1000) / 1000 : 0; }

/* A drop reason as a metric label or JSON key: "MCU_ERR_PAYLOAD_TYPE" -> "payload_type". */
static void reason_slug(int err, char *out, size_t cap)
{
    const char *name = mcu_strerror_name(err);
    const char *prefix = "MCU_ERR_";
    if (strncmp(name, prefix, strlen(prefix)) == 0)
        name += strlen(prefix);
    size_t i = 0;
    for (; name[i] && i + 1 < cap; i++)
        out[i] = (char)tolower((unsigned char)name[i]);
    out[i] = 0;
}

/* One media's drops by reason, the reasons with none left out. */
static json_t *drops_json(const mcu_drop_stats_t *d)
{
    json_t *o = json_object();
    for (int e = -1; e >= MCU_ERR__LAST; e--) {
        uint64_t n = mcu_drop_stats_get(d, e);
        char k[48];
        reason_slug(e, k, sizeof k);
        if (n)
            json_object_set_new(o, k, json_integer((json_int_t)n));
    }
    return o;
}

/* The codec, what keeps the media from being taken, and its drops by reason. */
static void media_json(json_t *m, const mcu_conference_t *c, int i, bool video,
                       const mcu_conference_site_info_t *in)
{
    const mcu_site_config_t *sc = &mcu_conference_config(c)->sites[i];
    const char *problem = video ? in->video_problem : in->audio_problem;
    json_object_set_new(m, "codec", json_string(mcu_codec_info(video ? sc->video_codec
                                                                      : sc->audio_codec)->name));
    json_object_set_new(m, "problem", problem[0] ? json_string(problem) : json_null());
    json_object_set_new(m, "drops", drops_json(video ? &in->video_drops : &in->audio_drops));
}

static json_t *site_json(const mcu_conference_t *c, int i)
{
    const mcu_config_t *cfg = mcu_conference_config(c);
    const mcu_site_control_t *sc = &mcu_conference_control(c)->sites[i];
    mcu_conference_site_info_t in;
    mcu_conference_site_info(c, i, &in);
    int showing[MCU_LAYOUT_MAX_CELLS];
    int n = mcu_conference_showing(c, showing);
    json_t *slots = json_array();
    for (int s = 0; s < n; s++)
        if (showing[s] == i)
            json_array_append_new(slots, json_integer(s));
    json_t *video = json_pack(
        "{s:I,s:f,s:i,s:i,s:f,s:I,s:f}", "bitrate_in_bps", (json_int_t)in.video_bps_in, "fps",
        r3(in.fps), "width", in.width, "height", in.height, "loss", r3(in.video_loss),
        "packets_lost", (json_int_t)in.video_lost, "jitter_ms", r3(in.video_jitter_ms));
    json_object_set_new(video, "last_keyframe_ms_ago",
                        in.last_keyframe_ms_ago < 0 ? json_null()
                                                    : json_integer(in.last_keyframe_ms_ago));
    json_object_set_new(video, "pictures_concealed", json_integer((json_int_t)in.pictures_concealed));
    media_json(video, c, i, true, &in);
    json_t *audio = json_pack("{s:I,s:f,s:f}", "bitrate_in_bps", (json_int_t)in.audio_bps_in,
                              "loss", r3(in.audio_loss), "jitter_ms", r3(in.audio_jitter_ms));
    media_json(audio, c, i, false, &in);
    return json_pack("{s:s,s:i,s:s,s:s,s:s,s:b,s:b,s:f,s:o,s:b,s:f,s:b,s:o,s:o,s:I}",
                     "id", cfg->sites[i].id, "index", i, "name", cfg->sites[i].name, "label",
                     mcu_conference_site_label(c, i), "state", state_name(in.state),
                     "audio_muted", sc->audio_muted, "video_muted", sc->video_muted, "gain",
                     r3(sc->gain), "slots", slots, "talking", in.talking, "audio_level_dbfs",
                     r3(in.level_dbfs), "active_speaker",
                     mcu_conference_active_speaker(c) == i, "video", video, "audio", audio,
                     "bitrate_out_bps", (json_int_t)in.bps_out);
}

static json_t *cells_json(const mcu_layout_t *l, int w, int h)
{
    json_t *cells = json_array();
    for (int i = 0; i < l->n_cells; i++) {
        const mcu_rect_t *r = &l->cells[i];
        json_array_append_new(cells, json_pack("{s:f,s:f,s:f,s:f}", "x", r3((double)r->x / w),
                                               "y", r3((double)r->y / h), "w",
                                               r3((double)r->w / w), "h", r3((double)r->h / h)));
    }
    return cells;
}

static json_t *layout_json(const mcu_conference_t *c)
{
    const mcu_config_t *cfg = mcu_conference_config(c);
    const mcu_control_t *ctl = mcu_conference_control(c);
    int w = cfg->profiles[0].width, h = cfg->profiles[0].height;
    mcu_layout_t l;
    if (mcu_control_compute_layout(ctl, cfg->n_sites, w, h, &l) < 0)
        l.n_cells = 0;
    const char *preset = ctl->n_regions > 0
                             ? "custom"
                             : mcu_layout_preset_name(mcu_control_preset(ctl, cfg->n_sites));
    return json_pack("{s:s,s:b,s:i,s:o}", "preset", preset, "auto",
                     ctl->layout_auto && ctl->n_regions == 0, "slots", l.n_cells, "cells",
                     cells_json(&l, w, h));
}

static json_t *slot_json(const mcu_conference_t *c, int s, const int *showing, int n_showing)
{
    const mcu_slot_t *sl = &mcu_conference_control(c)->slots[s];
    return json_pack("{s:i,s:s,s:o,s:o}", "index", s, "mode", mcu_slot_mode_name(sl->mode),
                     "site", sl->mode == MCU_SLOT_SITE ? id_or_null(c, sl->site) : json_null(),
                     "showing", s < n_showing ? id_or_null(c, showing[s]) : json_null());
}

static json_t *slots_json(const mcu_conference_t *c)
{
    int showing[MCU_LAYOUT_MAX_CELLS];
    int n_showing = mcu_conference_showing(c, showing);
    int n = mcu_control_slot_count(mcu_conference_control(c), mcu_conference_n_sites(c));
    json_t *a = json_array();
    for (int s = 0; s < n; s++)
        json_array_append_new(a, slot_json(c, s, showing, n_showing));
    return a;
}

static json_t *settings_json(const mcu_conference_t *c)
{
    const mcu_speaker_config_t *sp = &mcu_conference_control(c)->speaker;
    return json_pack("{s:i,s:b,s:i}", "hold_ms", sp->hold_ms, "pinned_in_loudest",
                     sp->pinned_in_loudest, "rolling_interval_ms", sp->rolling_interval_ms);
}

static json_t *sites_json(const mcu_conference_t *c)
{
    json_t *a = json_array();
    for (int i = 0; i < mcu_conference_n_sites(c); i++)
        json_array_append_new(a, site_json(c, i));
    return a;
}

static json_t *conference_json(const mcu_conference_t *c)
{
    const mcu_config_t *cfg = mcu_conference_config(c);
    json_t *profiles = json_array();
    for (int p = 0; p < cfg->n_profiles; p++) {
        const mcu_profile_config_t *pc = &cfg->profiles[p];
        json_array_append_new(profiles,
                              json_pack("{s:s,s:i,s:i,s:i,s:i,s:i}", "id", pc->id, "width",
                                        pc->width, "height", pc->height, "fps", pc->fps,
                                        "video_bps", pc->video_bps, "audio_bps", pc->audio_bps));
    }
    return json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o}", "name", cfg->name, "layout",
                     layout_json(c), "slots", slots_json(c), "active_speaker",
                     id_or_null(c, mcu_conference_active_speaker(c)), "settings",
                     settings_json(c), "profiles", profiles, "sites", sites_json(c));
}

static json_t *layouts_json(const mcu_conference_t *c)
{
    const mcu_config_t *cfg = mcu_conference_config(c);
    int w = cfg->profiles[0].width, h = cfg->profiles[0].height;
    json_t *a = json_array();
    for (int p = 0; p < MCU_LAYOUT__COUNT; p++) {
        mcu_layout_t l;
        if (mcu_layout_compute((mcu_layout_preset_t)p, w, h, &l) < 0)
            continue;
        json_array_append_new(
            a, json_pack("{s:s,s:i,s:b,s:o}", "name", mcu_layout_preset_name((mcu_layout_preset_t)p),
                         "slots", l.n_cells, "speaker",
                         mcu_layout_preset_is_speaker((mcu_layout_preset_t)p), "cells",
                         cells_json(&l, w, h)));
    }
    return json_pack("{s:o}", "presets", a);
}

/* ---------------------------------------------------------------- events */

static void publish(mcu_control_api_t *api, const char *type, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(j);
    if (text)
        mcu_http_publish(api->http, type, text);
    free(text);
}

static void on_conference_event(void *opaque, mcu_conf_event_t ev, int a, int b)
{
    mcu_control_api_t *api = opaque;
    const mcu_conference_t *c = api->conf;
    switch (ev) {
    case MCU_CONF_EV_TALKER:
        publish(api, "talker", json_pack("{s:o,s:o}", "site", id_or_null(c, a), "previous",
                                         id_or_null(c, b)));
        break;
    case MCU_CONF_EV_SITE_STATE:
        publish(api, "site", json_pack("{s:s,s:s}", "id", site_id(c, a), "state",
                                       b ? "live" : "no_signal"));
        break;
    case MCU_CONF_EV_LAYOUT:
        publish(api, "layout", json_pack("{s:o,s:o}", "layout", layout_json(c), "slots",
                                         slots_json(c)));
        break;
    case MCU_CONF_EV_SLOTS:
        publish(api, "slots", json_pack("{s:o}", "slots", slots_json(c)));
        break;
    }
}

static void on_stats_timer(uv_timer_t *t)
{
    mcu_control_api_t *api = t->data;
    const mcu_conference_t *c = api->conf;
    if (mcu_http_sse_clients(api->http) == 0)
        return;
    json_t *a = json_array();
    for (int i = 0; i < mcu_conference_n_sites(c); i++) {
        mcu_conference_site_info_t in;
        mcu_conference_site_info(c, i, &in);
        json_array_append_new(
            a, json_pack("{s:s,s:s,s:b,s:f,s:{s:I,s:f,s:f},s:I}", "id", site_id(c, i), "state",
                         state_name(in.state), "talking", in.talking, "audio_level_dbfs",
                         r3(in.level_dbfs), "video", "bitrate_in_bps",
                         (json_int_t)in.video_bps_in, "fps", r3(in.fps), "loss",
                         r3(in.video_loss), "bitrate_out_bps", (json_int_t)in.bps_out));
    }
    publish(api, "stats", json_pack("{s:o}", "sites", a));
}

static void operator_event(mcu_control_api_t *api, const char *action, const char *target,
                           json_t *detail)
{
    json_t *j = json_pack("{s:s,s:s}", "action", action, "target", target ? target : "");
    json_object_set(j, "detail", detail ? detail : json_null());
    publish(api, "operator", j);
    MCU_LOG_INFO("control", "operator: %s %s", action, target ? target : "");
}

/* ---------------------------------------------------------------- request helpers */

/* Parses the body as a JSON object; answers 400 and returns NULL if it is not one. */
static json_t *body_object(mcu_http_request_t *r)
{
    size_t len;
    const char *body = mcu_http_body(r, &len);
    json_error_t e;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
    if (!j) {
        mcu_http_respond_error(r, 400, "bad_json", "body: not valid JSON (line %d, column %d: %s)",
                               e.line, e.column, e.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        mcu_http_respond_error(r, 400, "bad_json", "body: must be a JSON object");
        return NULL;
    }
    return j;
}

/* Every key of obj must be one of `allowed`; answers 400 naming the first other one. */
static bool only_keys(mcu_http_request_t *r, json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (!ok) {
            mcu_http_respond_error(r, 400, "bad_field", "field '%.64s': unknown field", key);
            return false;
        }
    }
    return true;
}

static bool wrong_type(mcu_http_request_t *r, const char *field, const char *what)
{
    mcu_http_respond_error(r, 400, "bad_field", "field '%s': must be %s", field, what);
    return false;
}

/* ?width=N within [MCU_JPEG_MIN_W, MCU_JPEG_MAX_W], default def; answers 400 if bad. */
static bool query_width(mcu_http_request_t *r, int def, int *out)
{
    const char *v = mcu_http_query(r, "width");
    *out = def;
    if (!v)
        return true;
    char *end;
    errno = 0;
    long w = strtol(v, &end, 10);
    if (errno || end == v || *end || w < MCU_JPEG_MIN_W || w > MCU_JPEG_MAX_W) {
        mcu_http_respond_error(r, 400, "bad_field", "parameter 'width': must be an integer "
                               "from %d to %d", MCU_JPEG_MIN_W, MCU_JPEG_MAX_W);
        return false;
    }
    *out = (int)w;
    return true;
}

static void on_jpeg(void *opaque, int rc, uint8_t *jpeg, size_t len)
{
    mcu_http_request_t *r = opaque;
    if (rc == MCU_OK)
        mcu_http_respond(r, 200, "image/jpeg", (char *)jpeg, len);
    else
        mcu_http_respond_error(r, 503, "unavailable", "no picture: %s", mcu_strerror(rc));
}

/* ---------------------------------------------------------------- routes */

static void put_layout(mcu_control_api_t *api, mcu_http_request_t *r)
{
    static const char *const keys[] = {"preset", "regions", NULL};
    json_t *j = body_object(r);
    if (!j || !only_keys(r, j, keys))
        goto out;
    mcu_control_t ctl = *mcu_conference_control(api->conf);
    const mcu_config_t *cfg = mcu_conference_config(api->conf);
    json_t *preset = json_object_get(j, "preset"), *regions = json_object_get(j, "regions");
    if (!preset == !regions) {
        mcu_http_respond_error(r, 400, "bad_field", "body: give exactly one of 'preset' or "
                                                    "'regions'");
        goto out;
    }
    if (preset) {
        mcu_layout_preset_t p;
        const char *name = json_string_value(preset);
        if (name && strcmp(name, "auto") == 0) {
            ctl.layout_auto = true;
        } else if (name && mcu_layout_preset_from_name(name, &p) == MCU_OK) {
            ctl.layout_auto = false;
            ctl.preset = p;
        } else {
            mcu_http_respond_error(r, 400, "bad_field", "field 'preset': must be \"auto\" or a "
                                   "preset name (GET /api/v1/layouts lists them)");
            goto out;
        }
        ctl.n_regions = 0;
    } else {
        size_t n = json_array_size(regions);
        if (!json_is_array(regions) || n == 0 || n > MCU_LAYOUT_MAX_CELLS) {
            mcu_http_respond_error(r, 400, "bad_field", "field 'regions': must be an array of "
                                   "1 to %d regions", MCU_LAYOUT_MAX_CELLS);
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *g = json_array_get(regions, i);
            mcu_layout_region_t *rg = &ctl.regions[i];
            json_error_t e;
            if (json_unpack_ex(g, &e, JSON_STRICT, "{s:F,s:F,s:F,s:F}", "x", &rg->x, "y", &rg->y,
                               "w", &rg->w, "h", &rg->h) != 0) {
                mcu_http_respond_error(r, 400, "bad_field", "field 'regions[%zu]': must be an "
                                       "object with numbers x, y, w, h only (%s)", i, e.text);
                goto out;
            }
        }
        for (int p = 0; p < cfg->n_profiles; p++) {
            mcu_layout_t l;
            int bad = -1;
            if (mcu_layout_custom(ctl.regions, (int)n, cfg->profiles[p].width,
                                  cfg->profiles[p].height, &l, &bad) != MCU_OK) {
                mcu_http_respond_error(r, 400, "bad_field", "field 'regions[%d]': fractions must "
                                       "lie in [0, 1], fit in the canvas and give at least "
                                       "%d px a side on %dx%d", bad < 0 ? 0 : bad,
                                       MCU_LAYOUT_MIN_CELL_PX, cfg->profiles[p].width,
                                       cfg->profiles[p].height);
                goto out;
            }
        }
        ctl.layout_auto = false;
        ctl.n_regions = (int)n;
    }
    mcu_conference_set_control(api->conf, &ctl);
    operator_event(api, "layout", preset ? json_string_value(preset) : "custom", j);
    mcu_http_respond_json(r, 200, json_pack("{s:o,s:o}", "layout", layout_json(api->conf),
                                            "slots", slots_json(api->conf)));
out:
    json_decref(j);
}

static bool parse_index(const char *s, int *out)
{
    if (!s || !*s || strlen(s) > 3)
        return false;
    int v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return true;
}

static void put_slot(mcu_control_api_t *api, mcu_http_request_t *r, const char *index)
{
    static const char *const keys[] = {"mode", "site", NULL};
    int n;
    if (!parse_index(index, &n) || n >= MCU_LAYOUT_MAX_CELLS) {
        mcu_http_respond_error(r, 404, "not_found", "no slot '%.16s' (slots are 0 to %d)", index,
                               MCU_LAYOUT_MAX_CELLS - 1);
        return;
    }
    json_t *j = body_object(r);
    if (!j || !only_keys(r, j, keys))
        goto out;
    mcu_control_t ctl = *mcu_conference_control(api->conf);
    int count = mcu_control_slot_count(&ctl, mcu_conference_n_sites(api->conf));
    int mode = mcu_slot_mode_from_name(json_string_value(json_object_get(j, "mode")));
    json_t *site = json_object_get(j, "site");
    if (mode < 0) {
        mcu_http_respond_error(r, 400, "bad_field", "field 'mode': must be one of site, loudest, "
                                                    "rolling, blank, auto");
        goto out;
    }
    if ((mode == MCU_SLOT_SITE) != (site != NULL)) {
        mcu_http_respond_error(r, 400, "bad_field", mode == MCU_SLOT_SITE
                                   ? "field 'site': required with mode \"site\""
                                   : "field 'site': only allowed with mode \"site\"");
        goto out;
    }
    int s = -1;
    if (site && (!json_is_string(site) ||
                 (s = find_site(api->conf, json_string_value(site))) < 0)) {
        if (!json_is_string(site))
            mcu_http_respond_error(r, 400, "bad_field", "field 'site': must be a site id");
        else
            mcu_http_respond_error(r, 404, "not_found", "field 'site': no site '%.64s'",
                                   json_string_value(site));
        goto out;
    }
    if (n >= count) {
        mcu_http_respond_error(r, 409, "conflict", "slot %d is not in the current layout, which "
                               "has %d slots", n, count);
        goto out;
    }
    if (mode == MCU_SLOT_SITE)
        mcu_control_pin(&ctl, n, s);
    else
        ctl.slots[n] = (mcu_slot_t){(mcu_slot_mode_t)mode, -1};
    mcu_conference_set_control(api->conf, &ctl);
    char target[16];
    snprintf(target, sizeof target, "%d", n);
    operator_event(api, "slot", target, j);
    int showing[MCU_LAYOUT_MAX_CELLS];
    int n_showing = mcu_conference_showing(api->conf, showing);
    mcu_http_respond_json(r, 200, slot_json(api->conf, n, showing, n_showing));
out:
    json_decref(j);
}

static void put_settings(mcu_control_api_t *api, mcu_http_request_t *r)
{
    static const char *const keys[] = {"hold_ms", "pinned_in_loudest", "rolling_interval_ms",
                                       NULL};
    json_t *j = body_object(r);
    if (!j || !only_keys(r, j, keys))
        goto out;
    mcu_control_t ctl = *mcu_conference_control(api->conf);
    json_t *v;
    if ((v = json_object_get(j, "hold_ms"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > MCU_SPEAKER_HOLD_MS_MAX) {
            mcu_http_respond_error(r, 400, "bad_field", "field 'hold_ms': must be an integer "
                                   "from 0 to %d", MCU_SPEAKER_HOLD_MS_MAX);
            goto out;
        }
        ctl.speaker.hold_ms = (int)json_integer_value(v);
    }
    if ((v = json_object_get(j, "rolling_interval_ms"))) {
        if (!json_is_integer(v) || json_integer_value(v) < MCU_ROLLING_INTERVAL_MS_MIN ||
            json_integer_value(v) > MCU_ROLLING_INTERVAL_MS_MAX) {
            mcu_http_respond_error(r, 400, "bad_field", "field 'rolling_interval_ms': must be "
                                   "an integer from %d to %d", MCU_ROLLING_INTERVAL_MS_MIN,
                                   MCU_ROLLING_INTERVAL_MS_MAX);
            goto out;
        }
        ctl.speaker.rolling_interval_ms = (int)json_integer_value(v);
    }
    if ((v = json_object_get(j, "pinned_in_loudest"))) {
        if (!json_is_boolean(v)) {
            wrong_type(r, "pinned_in_loudest", "true or false");
            goto out;
        }
        ctl.speaker.pinned_in_loudest = json_is_true(v);
    }
    mcu_conference_set_control(api->conf, &ctl);
    operator_event(api, "settings", "", j);
    mcu_http_respond_json(r, 200, settings_json(api->conf));
out:
    json_decref(j);
}

static void put_site(mcu_control_api_t *api, mcu_http_request_t *r, int site)
{
    static const char *const keys[] = {"audio_muted", "video_muted", "label", "gain", NULL};
    json_t *j = body_object(r);
    if (!j || !only_keys(r, j, keys))
        goto out;
    mcu_control_t ctl = *mcu_conference_control(api->conf);
    mcu_site_control_t *sc = &ctl.sites[site];
    json_t *v;
    if ((v = json_object_get(j, "audio_muted"))) {
        if (!json_is_boolean(v) && !wrong_type(r, "audio_muted", "true or false"))
            goto out;
        sc->audio_muted = json_is_true(v);
    }
    if ((v = json_object_get(j, "video_muted"))) {
        if (!json_is_boolean(v) && !wrong_type(r, "video_muted", "true or false"))
            goto out;
        sc->video_muted = json_is_true(v);
    }
    if ((v = json_object_get(j, "gain"))) {
        double g = json_number_value(v);
        if (!json_is_number(v) || !(g >= 0 && g <= MCU_MIXER_MAX_GAIN)) {
            mcu_http_respond_error(r, 400, "bad_field", "field 'gain': must be a number from 0 "
                                   "to %d", MCU_MIXER_MAX_GAIN);
            goto out;
        }
        sc->gain = (float)g;
    }
    if ((v = json_object_get(j, "label"))) {
        const char *why = NULL;
        if (!json_is_string(v) && !wrong_type(r, "label", "a string"))
            goto out;
        if (mcu_text_normalize_label(json_string_value(v), json_string_length(v), sc->label,
                                     sizeof sc->label, &why) != MCU_OK) {
            mcu_http_respond_error(r, 400, "bad_field", "field 'label': %s", why ? why : "invalid");
            goto out;
        }
    }
    mcu_conference_set_control(api->conf, &ctl);
    operator_event(api, "site", site_id(api->conf, site), j);
    mcu_http_respond_json(r, 200, site_json(api->conf, site));
out:
    json_decref(j);
}

static void get_sdp(mcu_control_api_t *api, mcu_http_request_t *r, int site)
{
    char *text = malloc(MCU_SDP_MAX_BYTES);
    int n = text ? mcu_conference_site_sdp(api->conf, site, text, MCU_SDP_MAX_BYTES)
                 : MCU_ERR_NOMEM;
    if (n >= 0) {
        mcu_http_respond(r, 200, "application/sdp", text, (size_t)n);
        return;
    }
    free(text);
    if (n == MCU_ERR_STATE)
        mcu_http_respond_error(r, 409, "conflict", "site '%s' has no destination yet: it is "
                               "not configured and no media has come from it",
                               site_id(api->conf, site));
    else
        mcu_http_respond_error(r, 500, "internal", "SDP: %s", mcu_strerror(n));
}

static void metric(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Histogram bucket bounds: every millisecond up to METRICS_DELAY_FINE_MS (where the
 * delay targets sit), then every METRICS_DELAY_COARSE_MS: ~120 lines, not 250. */
#define METRICS_DELAY_FINE_MS 100
#define METRICS_DELAY_COARSE_MS 10

/* The added delay as a Prometheus histogram (cumulative buckets, seconds), for
 * percentiles over any window: a scraper subtracts two scrapes. */
static void write_delay_histogram(FILE *f, const mcu_conference_stats_t *st)
{
    metric(f, "mcu_added_delay_seconds", "histogram",
           "Added delay, last packet of a source frame in to its composite out.");
    uint64_t cum = 0;
    double sum_ms = 0;
    for (int ms = 0; ms < MCU_CONF_DELAY_HIST_MS; ms++) {
        cum += st->delay_hist[ms];
        sum_ms += (double)st->delay_hist[ms] * (ms + 0.5);
        int le = ms + 1;
        if (le <= METRICS_DELAY_FINE_MS || le % METRICS_DELAY_COARSE_MS == 0 ||
            le == MCU_CONF_DELAY_HIST_MS)
            fprintf(f, "mcu_added_delay_seconds_bucket{le=\"%.3f\"} %llu\n", le / 1e3,
                    (unsigned long long)cum);
    }
    cum += st->delay_hist[MCU_CONF_DELAY_HIST_MS];
    sum_ms += (double)st->delay_hist[MCU_CONF_DELAY_HIST_MS] * MCU_CONF_DELAY_HIST_MS;
    fprintf(f, "mcu_added_delay_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    fprintf(f, "mcu_added_delay_seconds_sum %.6f\n", sum_ms / 1e3);
    fprintf(f, "mcu_added_delay_seconds_count %llu\n", (unsigned long long)cum);
}

/* Where the CPU goes (mcu/stage_clock), and the process totals. */
static void write_process_metrics(FILE *f)
{
    uint64_t ns[MCU_STAGE_COUNT];
    mcu_stage_totals(ns);
    metric(f, "mcu_stage_seconds_total", "counter",
           "Time spent in each stage of the data path (see mcu/stage_clock.h).");
    for (int i = 0; i < MCU_STAGE_COUNT; i++)
        fprintf(f, "mcu_stage_seconds_total{stage=\"%s\"} %.6f\n",
                mcu_stage_name((mcu_stage_t)i), (double)ns[i] / 1e9);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return;
    metric(f, "process_cpu_seconds_total", "counter", "User and system CPU time.");
    fprintf(f, "process_cpu_seconds_total %.6f\n",
            (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
    metric(f, "process_resident_memory_max_bytes", "gauge", "Peak resident set size.");
    fprintf(f, "process_resident_memory_max_bytes %lld\n", (long long)ru.ru_maxrss * 1024);
}

static void get_metrics(mcu_control_api_t *api, mcu_http_request_t *r)
{
    const mcu_conference_t *c = api->conf;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        mcu_http_respond_error(r, 500, "internal", "out of memory");
        return;
    }
    mcu_conference_stats_t st;
    mcu_conference_get_stats(c, &st);
    struct { const char *name, *help; uint64_t v; } counters[] = {
        {"mcu_video_ticks_total", "Output video ticks.", st.video_ticks},
        {"mcu_video_ticks_missed_total",
         "Video ticks skipped: two came while a frame was being made.", st.missed_ticks},
        {"mcu_video_ticks_late_total",
         "Video ticks made late, right after the slow frame before them.", st.late_ticks},
        {"mcu_video_frames_sent_total", "Composite frames encoded and sent.", st.frames_out},
        {"mcu_video_keyframes_forced_total", "IDRs forced by keyframe requests.", st.forced_idrs},
        {"mcu_audio_ticks_total", "20 ms audio mix ticks.", st.audio_ticks},
        {"mcu_audio_ticks_missed_total", "Audio ticks skipped.", st.audio_missed},
    };
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++) {
        metric(f, counters[i].name, "counter", counters[i].help);
        fprintf(f, "%s %llu\n", counters[i].name, (unsigned long long)counters[i].v);
    }
    metric(f, "mcu_output_delay_seconds", "gauge",
           "Added delay, source frame in to composite out, by quantile over the last minute.");
    fprintf(f, "mcu_output_delay_seconds{quantile=\"0.5\"} %.6f\n", st.delay_p50_us / 1e6);
    fprintf(f, "mcu_output_delay_seconds{quantile=\"0.99\"} %.6f\n", st.delay_p99_us / 1e6);
    metric(f, "mcu_cpu_seconds_per_frame", "gauge", "Process CPU seconds per output frame.");
    fprintf(f, "mcu_cpu_seconds_per_frame %.6f\n", st.cpu_s_per_frame);
    write_delay_histogram(f, &st);
    write_process_metrics(f);

    int n = mcu_conference_n_sites(c);
    mcu_conference_site_info_t *in = calloc((size_t)n, sizeof *in);
    mcu_conference_site_stats_t *ss = calloc((size_t)n, sizeof *ss);
    for (int i = 0; in && ss && i < n; i++) {
        mcu_conference_site_info(c, i, &in[i]);
        mcu_conference_get_site_stats(c, i, &ss[i]);
    }
#define PER_SITE(name, type, help, fmt, expr)                                       \
    do {                                                                            \
        metric(f, name, type, help);                                                \
        for (int i = 0; in && ss && i < n; i++)                                     \
            fprintf(f, name "{site=\"%s\"} " fmt "\n", site_id(c, i), expr);        \
    } while (0)
    PER_SITE("mcu_site_up", "gauge", "1 while media arrives from the site.", "%d",
             in[i].state == MCU_SITE_STATE_LIVE);
    PER_SITE("mcu_site_rtp_packets_received_total", "counter", "RTP datagrams received.",
             "%llu", (unsigned long long)ss[i].rtp_in);
    PER_SITE("mcu_site_packets_dropped_total", "counter", "Datagrams and payloads rejected.",
             "%llu", (unsigned long long)ss[i].dropped);
    PER_SITE("mcu_site_source_rejected_packets_total", "counter",
             "Datagrams from an address that is not the site's.", "%llu",
             (unsigned long long)ss[i].rejected_source);
    PER_SITE("mcu_site_video_packets_lost_total", "counter", "Video packets lost.", "%lld",
             (long long)in[i].video_lost);
    PER_SITE("mcu_site_pictures_decoded_total", "counter", "Good pictures decoded.", "%llu",
             (unsigned long long)ss[i].pictures);
    PER_SITE("mcu_site_pictures_damaged_total", "counter", "Pictures not shown (damaged).",
             "%llu", (unsigned long long)ss[i].damaged);
    PER_SITE("mcu_site_receive_bits_per_second", "gauge", "Media received, last second.",
             "%.0f", in[i].video_bps_in + in[i].audio_bps_in);
    PER_SITE("mcu_site_send_bits_per_second", "gauge", "Media sent, last second.", "%.0f",
             in[i].bps_out);
    PER_SITE("mcu_site_video_jitter_seconds", "gauge", "Video interarrival jitter.", "%.6f",
             in[i].video_jitter_ms / 1000);
    PER_SITE("mcu_site_audio_level_dbfs", "gauge", "Smoothed audio level after gain.", "%.1f",
             (double)in[i].level_dbfs);
    PER_SITE("mcu_site_talking", "gauge", "1 while the site talks.", "%d", in[i].talking);
#define SITE_COUNTER(name, help, field) \
    PER_SITE(name, "counter", help, "%llu", (unsigned long long)ss[i].field)
    SITE_COUNTER("mcu_site_srtp_auth_failures_total", "SRTP/SRTCP that did not authenticate.",
                 srtp_auth_failures);
    SITE_COUNTER("mcu_site_srtp_replays_total", "SRTP/SRTCP replays dropped.", srtp_replays);
    SITE_COUNTER("mcu_site_srtp_errors_total", "Other SRTP unprotect failures.", srtp_errors);
    SITE_COUNTER("mcu_site_source_latches_total", "Media sources latched (first or take-over).",
                 latches);
    SITE_COUNTER("mcu_site_ssrc_rejected_packets_total",
                 "Packets of an SSRC beyond the per-site bound.", ssrc_rejected);
    SITE_COUNTER("mcu_site_nack_requested_total", "Missing video packets asked for (NACK).",
                 nack_seqs_sent);
    SITE_COUNTER("mcu_site_nack_recovered_total", "Missing video packets that arrived after all.",
                 nack_recovered);
    SITE_COUNTER("mcu_site_rtx_packets_total", "RFC 4588 retransmissions received.", rtx_packets);
    SITE_COUNTER("mcu_site_padding_packets_total",
                 "Packets without payload (padding, bandwidth probes) received.", padding);
    SITE_COUNTER("mcu_site_socket_drops_total",
                 "Datagrams the kernel dropped for the site: its receive buffer was full.",
                 socket_drops);
    SITE_COUNTER("mcu_site_pli_sent_total", "Picture loss indications sent.", plis_sent);
    SITE_COUNTER("mcu_site_fir_sent_total", "Full intra requests sent.", firs_sent);
    SITE_COUNTER("mcu_site_tmmbr_sent_total", "TMMBR bitrate requests sent.", tmmbrs_sent);
    SITE_COUNTER("mcu_site_tile_ticks_total", "Output ticks the site's tile was shown live.",
                 shown_ticks);
    SITE_COUNTER("mcu_site_tile_frozen_ticks_total",
                 "... of those, ticks with a picture older than 200 ms.", frozen_ticks);
    SITE_COUNTER("mcu_site_tile_repeated_ticks_total",
                 "... of those, ticks that showed the tick before's picture again.",
                 repeated_ticks);
    SITE_COUNTER("mcu_site_playout_late_pictures_total",
                 "Pictures ready after their due time on the site's schedule.", playout_late);
#undef SITE_COUNTER
    PER_SITE("mcu_site_requested_bits_per_second", "gauge",
             "Video rate asked of the site for its tile (TMMBR).", "%lld",
             (long long)ss[i].wanted_bps);
    PER_SITE("mcu_site_playout_delay_seconds", "gauge",
             "The site's playout delay: its pictures wait this long for their schedule.",
             "%.6f", ss[i].playout_delay_us / 1e6);
    PER_SITE("mcu_site_pictures_concealed_total", "counter",
             "Pictures shown with the decoder's concealment (loss nobody repaired).", "%llu",
             (unsigned long long)in[i].pictures_concealed);
#undef PER_SITE
    metric(f, "mcu_site_dropped_by_reason_total", "counter",
           "Datagrams and payloads rejected, by media and reason (reasons with none left out).");
    for (int i = 0; in && i < n; i++)
        for (int v = 0; v < 2; v++)
            for (int e = -1; e >= MCU_ERR__LAST; e--) {
                uint64_t k = mcu_drop_stats_get(v ? &in[i].video_drops : &in[i].audio_drops, e);
                char reason[48];
                reason_slug(e, reason, sizeof reason);
                if (k)
                    fprintf(f, "mcu_site_dropped_by_reason_total{site=\"%s\",media=\"%s\","
                               "reason=\"%s\"} %llu\n",
                            site_id(c, i), v ? "video" : "audio", reason, (unsigned long long)k);
            }
    metric(f, "mcu_site_media_problem", "gauge",
           "1 while something keeps the site's media from being taken (the problem in words).");
    for (int i = 0; in && i < n; i++)
        for (int v = 0; v < 2; v++) {
            const char *pr = v ? in[i].video_problem : in[i].audio_problem;
            if (pr[0])
                fprintf(f, "mcu_site_media_problem{site=\"%s\",media=\"%s\",problem=\"%s\"} 1\n",
                        site_id(c, i), v ? "video" : "audio", pr);
        }
    free(in);
    free(ss);
    mcu_http_stats_t hs;
    mcu_http_get_stats(api->http, &hs);
    metric(f, "mcu_http_responses_total", "counter", "Control API responses by status class.");
    for (int k = 1; k <= 5; k++)
        fprintf(f, "mcu_http_responses_total{code=\"%dxx\"} %llu\n", k,
                (unsigned long long)hs.by_class[k]);
    metric(f, "mcu_http_event_streams", "gauge", "Open Server-Sent Events streams.");
    fprintf(f, "mcu_http_event_streams %d\n", hs.sse_clients);
    fclose(f);
    mcu_http_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len);
}

static void not_found(mcu_http_request_t *r, const char *path)
{
    mcu_http_respond_error(r, 404, "not_found", "no route %.200s", path);
}

static void method_not_allowed(mcu_http_request_t *r, const char *method)
{
    mcu_http_respond_error(r, 405, "method_not_allowed", "%s is not allowed here", method);
}

/* Routes under /api/v1/sites/{id}. */
static void route_site(mcu_control_api_t *api, mcu_http_request_t *r, const char *method,
                       char **seg, int n)
{
    int site = find_site(api->conf, seg[3]);
    if (site < 0) {
        mcu_http_respond_error(r, 404, "not_found", "no site '%.64s'", seg[3]);
        return;
    }
    bool get = strcmp(method, "GET") == 0;
    if (n == 4) {
        if (get)
            mcu_http_respond_json(r, 200, site_json(api->conf, site));
        else if (strcmp(method, "PUT") == 0)
            put_site(api, r, site);
        else
            method_not_allowed(r, method);
    } else if (n == 5 && strcmp(seg[4], "snapshot.jpg") == 0) {
        int w;
        if (!get) {
            method_not_allowed(r, method);
        } else if (query_width(r, MCU_API_THUMB_W, &w)) {
            int rc = mcu_conference_snapshot_jpeg(api->conf, site, w, on_jpeg, r);
            if (rc == MCU_ERR_NOTFOUND)
                mcu_http_respond_error(r, 404, "no_picture", "site '%s' has sent no picture yet",
                                       seg[3]);
            else if (rc != MCU_OK)
                mcu_http_respond_error(r, 503, "unavailable", "%s", mcu_strerror(rc));
        }
    } else if (n == 5 && strcmp(seg[4], "sdp") == 0) {
        if (get)
            get_sdp(api, r, site);
        else
            method_not_allowed(r, method);
    } else {
        not_found(r, mcu_http_path(r));
    }
}

static void on_request(void *opaque, mcu_http_request_t *r)
{
    mcu_control_api_t *api = opaque;
    const char *method = mcu_http_method(r);
    const char *path = mcu_http_path(r);
    bool get = strcmp(method, "GET") == 0, put = strcmp(method, "PUT") == 0;
    if (strcmp(path, "/metrics") == 0) {
        if (get)
            get_metrics(api, r);
        else
            method_not_allowed(r, method);
        return;
    }
    char copy[256];
    char *seg[API_MAX_SEGMENTS + 1];
    int n = 0;
    if (strlen(path) >= sizeof copy) {
        not_found(r, path);
        return;
    }
    snprintf(copy, sizeof copy, "%s", path);
    for (char *save = NULL, *t = strtok_r(copy, "/", &save); t && n <= API_MAX_SEGMENTS;
         t = strtok_r(NULL, "/", &save))
        seg[n++] = t;
    if (n < 3 || n > API_MAX_SEGMENTS || strcmp(seg[0], "api") != 0 || strcmp(seg[1], "v1") != 0) {
        not_found(r, path);
        return;
    }
    const char *what = seg[2];
    if (strcmp(what, "sites") == 0 && n >= 4) {
        route_site(api, r, method, seg, n);
    } else if (n != 3 && strcmp(what, "slots") != 0) {
        not_found(r, path);
    } else if (strcmp(what, "conference") == 0) {
        get ? mcu_http_respond_json(r, 200, conference_json(api->conf))
            : method_not_allowed(r, method);
    } else if (strcmp(what, "sites") == 0) {
        get ? mcu_http_respond_json(r, 200, json_pack("{s:o}", "sites", sites_json(api->conf)))
            : method_not_allowed(r, method);
    } else if (strcmp(what, "layouts") == 0) {
        get ? mcu_http_respond_json(r, 200, layouts_json(api->conf))
            : method_not_allowed(r, method);
    } else if (strcmp(what, "layout") == 0) {
        if (get)
            mcu_http_respond_json(r, 200, json_pack("{s:o,s:o}", "layout",
                                                    layout_json(api->conf), "slots",
                                                    slots_json(api->conf)));
        else
            put ? put_layout(api, r) : method_not_allowed(r, method);
    } else if (strcmp(what, "slots") == 0) {
        if (n == 3)
            get ? mcu_http_respond_json(r, 200, json_pack("{s:o}", "slots", slots_json(api->conf)))
                : method_not_allowed(r, method);
        else if (n == 4)
            put ? put_slot(api, r, seg[3]) : method_not_allowed(r, method);
        else
            not_found(r, path);
    } else if (strcmp(what, "settings") == 0) {
        if (get)
            mcu_http_respond_json(r, 200, settings_json(api->conf));
        else
            put ? put_settings(api, r) : method_not_allowed(r, method);
    } else if (strcmp(what, "keyframe") == 0) {
        if (strcmp(method, "POST") == 0) {
            mcu_conference_request_keyframe(api->conf);
            operator_event(api, "keyframe", "", NULL);
            mcu_http_respond_json(r, 202, json_pack("{s:b}", "requested", 1));
        } else {
            method_not_allowed(r, method);
        }
    } else if (strcmp(what, "preview.jpg") == 0) {
        int w;
        if (!get) {
            method_not_allowed(r, method);
        } else if (query_width(r, MCU_API_PREVIEW_W, &w)) {
            int rc = mcu_conference_preview_jpeg(api->conf, w, on_jpeg, r);
            if (rc != MCU_OK)
                mcu_http_respond_error(r, 503, "unavailable", "%s", mcu_strerror(rc));
        }
    } else if (strcmp(what, "events") == 0) {
        if (get) {
            json_t *hello = conference_json(api->conf);
            char *text = hello ? json_dumps(hello, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
            json_decref(hello);
            if (text)
                mcu_http_respond_sse(r, text);
            else
                mcu_http_respond_error(r, 500, "internal", "out of memory");
            free(text);
        } else {
            method_not_allowed(r, method);
        }
    } else {
        not_found(r, path);
    }
}

/* ---------------------------------------------------------------- lifecycle */

/* A random token, written to the token file (mode 0600) for mcuctl and the demo. */
static int make_token(mcu_control_api_t *api, const char *file)
{
    unsigned char raw[API_TOKEN_BYTES];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return MCU_ERR_IO;
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(api->token + 2 * i, 3, "%02x", raw[i]);
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod(fd, 0600) != 0) {
        MCU_LOG_ERROR("control", "cannot write the token file %s: %s", file, strerror(errno));
        if (fd >= 0)
            close(fd);
        return MCU_ERR_IO;
    }
    char line[MCU_TOKEN_MAX + 2];
    int n = snprintf(line, sizeof line, "%s\n", api->token);
    bool ok = write(fd, line, (size_t)n) == n;
    ok = close(fd) == 0 && ok;
    if (!ok)
        return MCU_ERR_IO;
    MCU_LOG_INFO("control", "generated access token written to %s", file);
    return MCU_OK;
}

int mcu_control_api_create(uv_loop_t *loop, mcu_conference_t *conf, const mcu_config_t *cfg,
                           mcu_control_api_t **out)
{
    *out = NULL;
    mcu_control_api_t *api = calloc(1, sizeof *api);
    if (!api)
        return MCU_ERR_NOMEM;
    api->loop = loop;
    api->conf = conf;
    uv_timer_init(loop, &api->stats_timer);
    api->stats_timer.data = api;
    *out = api;
    int rc = MCU_OK;
    if (cfg->control.token[0])
        snprintf(api->token, sizeof api->token, "%s", cfg->control.token);
    else
        rc = make_token(api, cfg->control.token_file);
    if (rc != MCU_OK)
        return rc;
    mcu_http_config_t hc = {.addr = cfg->control.listen, .token = api->token,
                            .handler = on_request, .opaque = api, .assets = mcu_web_assets,
                            .n_assets = mcu_web_n_assets};
    hc.addr.sin_port = htons(cfg->control.port);
    rc = mcu_http_start(loop, &hc, &api->http);
    if (rc != MCU_OK)
        return rc;
    mcu_conference_set_listener(conf, on_conference_event, api);
    uv_timer_start(&api->stats_timer, on_stats_timer, MCU_API_STATS_INTERVAL_MS,
                   MCU_API_STATS_INTERVAL_MS);
    char addr[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &cfg->control.listen.sin_addr, addr, sizeof addr);
    MCU_LOG_INFO("control", "control page on http://%s:%u/ (API /api/v1, /metrics)", addr,
                 cfg->control.port);
    return MCU_OK;
}

void mcu_control_api_reload(mcu_control_api_t *api, const mcu_config_t *cfg)
{
    if (cfg->control.token[0] && strcmp(cfg->control.token, api->token) != 0) {
        snprintf(api->token, sizeof api->token, "%s", cfg->control.token);
        mcu_http_set_token(api->http, api->token);
        MCU_LOG_INFO("control", "access token changed");
    }
}

const char *mcu_control_api_token(const mcu_control_api_t *api) { return api->token; }

void mcu_control_api_stop(mcu_control_api_t *api)
{
    if (!api)
        return;
    mcu_conference_set_listener(api->conf, NULL, NULL);
    if (!uv_is_closing((uv_handle_t *)&api->stats_timer))
        uv_close((uv_handle_t *)&api->stats_timer, NULL);
    mcu_http_stop(api->http);
}

void mcu_control_api_destroy(mcu_control_api_t **papi)
{
    mcu_control_api_t *api = papi ? *papi : NULL;
    if (!api)
        return;
    mcu_http_destroy(&api->http);
    free(api);
    *papi = NULL;
}
