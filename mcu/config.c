#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "io_batch.h"
#include "json_where.h"

/* Profile bounds: 160x90 is the smallest picture a label still fits on; 1080p is the
 * largest a commune decoder is expected to take. */
#define PROFILE_MIN_W 160
#define PROFILE_MIN_H 90
#define PROFILE_MAX_W 1920
#define PROFILE_MAX_H 1080
#define PROFILE_MIN_FPS 5
#define PROFILE_MAX_FPS 60
/* 64 kbps is below what a 360p picture can use; 8 Mbps is more than any link here. */
#define PROFILE_MIN_VIDEO_KBPS 64
#define PROFILE_MAX_VIDEO_KBPS 8000
/* Opus: 6 kbps is its floor, 128 kbps far above speech quality needs. */
#define PROFILE_MIN_AUDIO_KBPS 6
#define PROFILE_MAX_AUDIO_KBPS 128
#define PROFILE_DEFAULT_KEYINT_MS 4000
#define PROFILE_MIN_KEYINT_MS 500
#define PROFILE_MAX_KEYINT_MS 60000
/* Unprivileged ports only: the daemon never needs root. */
#define PORT_MIN 1024
#define PORT_MAX 65535
#define PT_DYNAMIC_MIN 96
#define PT_DYNAMIC_MAX 127
/* A site picture smaller than QCIF is not a camera. */
#define SITE_MIN_PIXELS (176 * 144)
/* RFC 4568 key-params as text: "inline:" + base64 of at most 46 bytes, plus room for the
 * lifetime/MKI parts that the parser then refuses with a clear message. */
#define MCU_SRTP_KEY_TEXT_MAX 128

/* ---------------------------------------------------------------- built-in scenario */

static const struct {
    const char *id;
    const char *name;
} yen_mo_sites[] = {
    {"huyen-yen-mo", "Huyện Yên Mô"}, {"tt-yen-thinh", "TT Yên Thịnh"},
    {"khanh-duong", "Khánh Dương"},   {"khanh-thinh", "Khánh Thịnh"},
    {"khanh-thuong", "Khánh Thượng"}, {"mai-son", "Mai Sơn"},
    {"yen-dong", "Yên Đồng"},         {"yen-hoa", "Yên Hòa"},
    {"yen-hung", "Yên Hưng"},         {"yen-lam", "Yên Lâm"},
    {"yen-mac", "Yên Mạc"},           {"yen-my", "Yên Mỹ"},
    {"yen-nhan", "Yên Nhân"},         {"yen-phong", "Yên Phong"},
    {"yen-thai", "Yên Thái"},         {"yen-thang", "Yên Thắng"},
    {"yen-thanh", "Yên Thành"},       {"yen-tu", "Yên Từ"},
};

static void default_profile(mcu_profile_config_t *p)
{
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "main");
    p->width = 1280;
    p->height = 720;
    p->fps = 25;
    p->video_bps = 900000;   /* + 32 kbps audio + headers fits a 1 Mbps link */
    p->audio_bps = 32000;
    p->keyint_ms = PROFILE_DEFAULT_KEYINT_MS;
    p->min_video_bps = p->video_bps / 100 * MCU_PROFILE_MIN_VIDEO_PERCENT;
}

void mcu_config_site_default(mcu_site_config_t *s, int index)
{
    memset(s, 0, sizeof *s);
    s->video_codec = MCU_CODEC_H264;
    s->audio_codec = MCU_CODEC_OPUS;
    s->loss_policy = MCU_LOSS_CONCEAL;
    s->max_freeze_ms = MCU_SITE_DEFAULT_MAX_FREEZE_MS;
    s->rtp_port = (uint16_t)(MCU_DEFAULT_BASE_PORT + MCU_DEFAULT_PORT_STRIDE * index);
    s->audio_port = (uint16_t)(s->rtp_port + 2);
    s->video_pt = MCU_DEFAULT_VIDEO_PT;
    s->audio_pt = MCU_DEFAULT_AUDIO_PT;
    s->max_bps = MCU_SITE_DEFAULT_MAX_KBPS * 1000;
    s->max_pixels = MCU_SITE_DEFAULT_MAX_PIXELS;
}

static void base_config(mcu_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->name, sizeof cfg->name, "Giao ban huyện Yên Mô");
    cfg->layout_auto = true;
    cfg->layout = MCU_LAYOUT_GRID20;
    cfg->fit = MCU_FIT_LETTERBOX;
    snprintf(cfg->sdp_dir, sizeof cfg->sdp_dir, "sdp");
    cfg->log_level = MCU_LOG_INFO;
    cfg->io_batch_us = MCU_IO_BATCH_DEFAULT_US;
    cfg->speaker = (mcu_speaker_config_t){.hold_ms = MCU_SPEAKER_HOLD_MS_DEFAULT,
                                          .rolling_interval_ms = MCU_ROLLING_INTERVAL_MS_DEFAULT};
    cfg->control.listen.sin_family = AF_INET;
    cfg->control.listen.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cfg->control.port = MCU_CONTROL_PORT_DEFAULT;
    snprintf(cfg->control.token_file, sizeof cfg->control.token_file, "mcu-control.token");
    snprintf(cfg->control.state_file, sizeof cfg->control.state_file, "mcu-state.json");
}

void mcu_config_default(mcu_config_t *cfg)
{
    base_config(cfg);
    cfg->n_profiles = 1;
    default_profile(&cfg->profiles[0]);
    cfg->n_sites = (int)(sizeof yen_mo_sites / sizeof yen_mo_sites[0]);
    for (int i = 0; i < cfg->n_sites; i++) {
        mcu_config_site_default(&cfg->sites[i], i);
        snprintf(cfg->sites[i].id, MCU_ID_MAX, "%s", yen_mo_sites[i].id);
        snprintf(cfg->sites[i].name, MCU_NAME_MAX, "%s", yen_mo_sites[i].name);
        cfg->sites[i].plain_rtp = true; /* the demonstration runs on one machine */
    }
    /* The district hall's own screen: its composite also goes to a local monitor port,
     * so a receiver on this machine can open sdp/huyen-yen-mo.sdp. */
    mcu_site_config_t *hall = &cfg->sites[0];
    hall->has_send_to = true;
    hall->send_video.sin_family = AF_INET;
    hall->send_video.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    hall->send_video.sin_port = htons(MCU_DEFAULT_MONITOR_PORT);
    hall->send_audio = hall->send_video;
    hall->send_audio.sin_port = htons(MCU_DEFAULT_MONITOR_PORT + 2);
}

/* ---------------------------------------------------------------- parsing helpers */

typedef struct ctx {
    const char *text;
    size_t len;
    mcu_config_error_t *err;
} ctx_t;

static int fail(ctx_t *c, const char *path, const char *fmt, ...)
{
    snprintf(c->err->key, sizeof c->err->key, "%s", path);
    c->err->line = mcu_json_line_of(c->text, c->len, path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err->message, sizeof c->err->message, fmt, ap);
    va_end(ap);
    return MCU_ERR_CONFIG;
}

/* parent + "." + key; a path too long for the buffer is cut (it only labels errors). */
static void join(char *out, const char *parent, const char *key)
{
    int n = snprintf(out, MCU_PATH_MAX, "%s%s%s", parent, *parent ? "." : "", key);
    if (n < 0 || n >= MCU_PATH_MAX)
        out[MCU_PATH_MAX - 1] = '\0';
}

/* Every key of `obj` must be in the NULL-terminated `allowed` list. */
static int check_keys(ctx_t *c, json_t *obj, const char *path, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (!ok) {
            char p[MCU_PATH_MAX];
            join(p, path, key);
            return fail(c, p, "unknown key");
        }
    }
    return MCU_OK;
}

/* Reads an optional integer member within [lo, hi]; leaves *out when absent. */
static int get_int(ctx_t *c, json_t *obj, const char *path, const char *key, long lo, long hi,
                   int *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return MCU_OK;
    char p[MCU_PATH_MAX];
    join(p, path, key);
    if (!json_is_integer(v))
        return fail(c, p, "must be an integer");
    json_int_t i = json_integer_value(v);
    if (i < lo || i > hi)
        return fail(c, p, "must be between %ld and %ld, not %lld", lo, hi, (long long)i);
    *out = (int)i;
    return MCU_OK;
}

static int get_bool(ctx_t *c, json_t *obj, const char *path, const char *key, bool *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return MCU_OK;
    char p[MCU_PATH_MAX];
    join(p, path, key);
    if (!json_is_boolean(v))
        return fail(c, p, "must be true or false");
    *out = json_is_true(v);
    return MCU_OK;
}

/* Reads an optional string member of 1..cap-1 bytes; *present tells if it was there. */
static int get_str(ctx_t *c, json_t *obj, const char *path, const char *key, char *out,
                   size_t cap, bool *present)
{
    json_t *v = json_object_get(obj, key);
    if (present)
        *present = v != NULL;
    if (!v)
        return MCU_OK;
    char p[MCU_PATH_MAX];
    join(p, path, key);
    if (!json_is_string(v))
        return fail(c, p, "must be a string");
    size_t n = json_string_length(v);
    if (n == 0 || n >= cap)
        return fail(c, p, "must be 1 to %zu bytes long", cap - 1);
    if (memchr(json_string_value(v), '\0', n))
        return fail(c, p, "must not contain a NUL character");
    memcpy(out, json_string_value(v), n + 1);
    return MCU_OK;
}

static int require(ctx_t *c, json_t *obj, const char *path, const char *key)
{
    if (json_object_get(obj, key))
        return MCU_OK;
    char p[MCU_PATH_MAX];
    join(p, path, key);
    snprintf(c->err->key, sizeof c->err->key, "%s", p);
    c->err->line = mcu_json_line_of(c->text, c->len, path);
    snprintf(c->err->message, sizeof c->err->message, "is required");
    return MCU_ERR_CONFIG;
}

static bool valid_id(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
            return false;
    return true;
}

static int get_id(ctx_t *c, json_t *obj, const char *path, char *out)
{
    int rc = require(c, obj, path, "id");
    if (rc == MCU_OK)
        rc = get_str(c, obj, path, "id", out, MCU_ID_MAX, NULL);
    if (rc == MCU_OK && !valid_id(out)) {
        char p[MCU_PATH_MAX];
        join(p, path, "id");
        return fail(c, p, "may hold only a-z, 0-9, '-' and '_'");
    }
    return rc;
}

static int get_ipv4(ctx_t *c, json_t *obj, const char *path, const char *key,
                    struct sockaddr_in *out, bool *present)
{
    char s[64];
    int rc = get_str(c, obj, path, key, s, sizeof s, present);
    if (rc < 0 || !*present)
        return rc;
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    if (inet_pton(AF_INET, s, &out->sin_addr) != 1) {
        char p[MCU_PATH_MAX];
        join(p, path, key);
        return fail(c, p, "must be an IPv4 address such as 192.0.2.10, not \"%s\"", s);
    }
    return MCU_OK;
}

/* ---------------------------------------------------------------- sections */

static int parse_conference(ctx_t *c, json_t *conf, mcu_config_t *cfg)
{
    static const char *const keys[] = {"name", "layout", "fit", "sdp_dir", NULL};
    const char *path = "conference";
    if (!json_is_object(conf))
        return fail(c, path, "must be an object");
    int rc = check_keys(c, conf, path, keys);
    if (rc == MCU_OK)
        rc = get_str(c, conf, path, "name", cfg->name, sizeof cfg->name, NULL);
    if (rc == MCU_OK)
        rc = get_str(c, conf, path, "sdp_dir", cfg->sdp_dir, sizeof cfg->sdp_dir, NULL);
    char s[64];
    bool present;
    if (rc == MCU_OK && (rc = get_str(c, conf, path, "layout", s, sizeof s, &present)) == 0 &&
        present) {
        cfg->layout_auto = strcmp(s, "auto") == 0;
        if (!cfg->layout_auto && mcu_layout_preset_from_name(s, &cfg->layout) != MCU_OK)
            return fail(c, "conference.layout", "unknown layout \"%s\" (auto, grid1..grid25, "
                        "speaker1+5, speaker1+7, speaker1+12)", s);
    }
    if (rc == MCU_OK && (rc = get_str(c, conf, path, "fit", s, sizeof s, &present)) == 0 &&
        present) {
        if (strcmp(s, "letterbox") == 0)
            cfg->fit = MCU_FIT_LETTERBOX;
        else if (strcmp(s, "crop") == 0)
            cfg->fit = MCU_FIT_CROP;
        else
            return fail(c, "conference.fit", "must be \"letterbox\" or \"crop\"");
    }
    return rc;
}

static int parse_profile(ctx_t *c, json_t *o, const char *path, mcu_profile_config_t *p)
{
    static const char *const keys[] = {"id", "width", "height", "fps", "video_kbps",
                                       "audio_kbps", "keyint_ms", "min_video_kbps", NULL};
    if (!json_is_object(o))
        return fail(c, path, "must be an object");
    default_profile(p);
    int vk = p->video_bps / 1000, ak = p->audio_bps / 1000, mk = -1;
    int rc = check_keys(c, o, path, keys);
    if (rc == MCU_OK) rc = get_id(c, o, path, p->id);
    if (rc == MCU_OK) rc = get_int(c, o, path, "width", PROFILE_MIN_W, PROFILE_MAX_W, &p->width);
    if (rc == MCU_OK) rc = get_int(c, o, path, "height", PROFILE_MIN_H, PROFILE_MAX_H, &p->height);
    if (rc == MCU_OK) rc = get_int(c, o, path, "fps", PROFILE_MIN_FPS, PROFILE_MAX_FPS, &p->fps);
    if (rc == MCU_OK)
        rc = get_int(c, o, path, "video_kbps", PROFILE_MIN_VIDEO_KBPS, PROFILE_MAX_VIDEO_KBPS, &vk);
    if (rc == MCU_OK)
        rc = get_int(c, o, path, "audio_kbps", PROFILE_MIN_AUDIO_KBPS, PROFILE_MAX_AUDIO_KBPS, &ak);
    if (rc == MCU_OK)
        rc = get_int(c, o, path, "keyint_ms", PROFILE_MIN_KEYINT_MS, PROFILE_MAX_KEYINT_MS,
                     &p->keyint_ms);
    if (rc == MCU_OK)
        rc = get_int(c, o, path, "min_video_kbps", PROFILE_MIN_VIDEO_KBPS, PROFILE_MAX_VIDEO_KBPS,
                     &mk);
    if (rc < 0)
        return rc;
    char k[MCU_PATH_MAX];
    if (p->width % 2) {
        join(k, path, "width");
        return fail(c, k, "must be even (YUV 4:2:0)");
    }
    if (p->height % 2) {
        join(k, path, "height");
        return fail(c, k, "must be even (YUV 4:2:0)");
    }
    if (mk > vk) {
        join(k, path, "min_video_kbps");
        return fail(c, k, "must not exceed video_kbps (%d)", vk);
    }
    p->video_bps = vk * 1000;
    p->audio_bps = ak * 1000;
    p->min_video_bps = mk >= 0 ? mk * 1000 : p->video_bps / 100 * MCU_PROFILE_MIN_VIDEO_PERCENT;
    return MCU_OK;
}

static int parse_send_to(ctx_t *c, json_t *o, const char *path, mcu_site_config_t *s)
{
    static const char *const keys[] = {"address", "video_port", "audio_port", NULL};
    if (!json_is_object(o))
        return fail(c, path, "must be an object");
    int vp = 0, ap = 0;
    bool present;
    int rc = check_keys(c, o, path, keys);
    if (rc == MCU_OK) rc = require(c, o, path, "address");
    if (rc == MCU_OK) rc = require(c, o, path, "video_port");
    if (rc == MCU_OK) rc = get_ipv4(c, o, path, "address", &s->send_video, &present);
    if (rc == MCU_OK) rc = get_int(c, o, path, "video_port", 1, PORT_MAX, &vp);
    ap = vp + 2;
    if (rc == MCU_OK) rc = get_int(c, o, path, "audio_port", 1, PORT_MAX, &ap);
    if (rc < 0)
        return rc;
    s->send_audio = s->send_video;
    s->send_video.sin_port = htons((uint16_t)vp);
    s->send_audio.sin_port = htons((uint16_t)ap);
    s->has_send_to = true;
    return MCU_OK;
}

/* The two key-params of a site; the caller wipes the text. */
static int parse_keys(ctx_t *c, const char *path, mcu_srtp_suite_t suite, const char *key,
                      const char *send_key, mcu_site_config_t *s)
{
    char k[MCU_PATH_MAX];
    const char *why = NULL;
    bool has_send = send_key != NULL;
    if (mcu_srtp_key_parse(suite, key, &s->srtp_in, &why) != MCU_OK) {
        join(k, path, "key");
        return fail(c, k, "%s", why ? why : "not a key for this suite");
    }
    if (has_send && mcu_srtp_key_parse(suite, send_key, &s->srtp_out, &why) != MCU_OK) {
        join(k, path, "send_key");
        return fail(c, k, "%s", why ? why : "not a key for this suite");
    }
    if (has_send && s->srtp_out.len == s->srtp_in.len &&
        memcmp(s->srtp_out.bytes, s->srtp_in.bytes, s->srtp_in.len) == 0) {
        join(k, path, "send_key");
        return fail(c, k, "must differ from key (one key per direction, RFC 4568)");
    }
    s->has_srtp_out = has_send;
    return MCU_OK;
}

/* "srtp": {"suite": ..., "key": "inline:...", "send_key": "inline:..."} */
static int parse_srtp(ctx_t *c, json_t *o, const char *path, mcu_site_config_t *s)
{
    static const char *const keys[] = {"suite", "key", "send_key", NULL};
    if (!json_is_object(o))
        return fail(c, path, "must be an object");
    char suite_name[64] = "AES_CM_128_HMAC_SHA1_80", key[MCU_SRTP_KEY_TEXT_MAX] = "",
         send_key[MCU_SRTP_KEY_TEXT_MAX] = "";
    bool has_send = false;
    char k[MCU_PATH_MAX];
    mcu_srtp_suite_t suite;
    int rc = check_keys(c, o, path, keys);
    if (rc == MCU_OK) rc = get_str(c, o, path, "suite", suite_name, sizeof suite_name, NULL);
    if (rc == MCU_OK && mcu_srtp_suite_parse(suite_name, &suite) != MCU_OK) {
        join(k, path, "suite");
        return fail(c, k, "unknown suite \"%s\" (AES_CM_128_HMAC_SHA1_80, "
                    "AES_CM_128_HMAC_SHA1_32, AEAD_AES_128_GCM)", suite_name);
    }
    if (rc == MCU_OK) rc = require(c, o, path, "key");
    if (rc == MCU_OK) rc = get_str(c, o, path, "key", key, sizeof key, NULL);
    if (rc == MCU_OK) rc = get_str(c, o, path, "send_key", send_key, sizeof send_key, &has_send);
    if (rc == MCU_OK)
        rc = parse_keys(c, path, suite, key, has_send ? send_key : NULL, s);
    explicit_bzero(key, sizeof key);
    explicit_bzero(send_key, sizeof send_key);
    return rc;
}

/* "video_codec" / "audio_codec": an SDP encoding name the MCU takes in for that media. */
static int get_codec(ctx_t *c, json_t *o, const char *path, const char *key, bool video,
                     mcu_codec_t *out)
{
    char name[32] = "";
    bool present = false;
    int rc = get_str(c, o, path, key, name, sizeof name, &present);
    if (rc < 0 || !present)
        return rc;
    mcu_codec_t codec = mcu_codec_by_name(name);
    const mcu_codec_info_t *info = mcu_codec_info(codec);
    if (!info || info->video != video || !info->depack) {
        char k[MCU_PATH_MAX];
        join(k, path, key);
        return fail(c, k, "%s \"%s\" is not taken (%s)", info ? "codec" : "unknown codec",
                    name, video ? "H264, VP8" : "opus, G722, PCMU, PCMA");
    }
    *out = codec;
    return MCU_OK;
}

/* "loss_policy": what a tile shows once repair of a damaged picture has failed. */
static int get_loss_policy(ctx_t *c, json_t *o, const char *path, mcu_loss_policy_t *out)
{
    char name[16] = "";
    bool present = false;
    int rc = get_str(c, o, path, "loss_policy", name, sizeof name, &present);
    if (rc < 0 || !present)
        return rc;
    if (strcmp(name, "conceal") == 0) {
        *out = MCU_LOSS_CONCEAL;
    } else if (strcmp(name, "freeze") == 0) {
        *out = MCU_LOSS_FREEZE;
    } else {
        char k[MCU_PATH_MAX];
        join(k, path, "loss_policy");
        return fail(c, k, "\"%s\" is not a policy (conceal, freeze)", name);
    }
    return MCU_OK;
}

static int parse_site(ctx_t *c, json_t *o, const char *path, const mcu_config_t *cfg, int index,
                      mcu_site_config_t *s)
{
    static const char *const keys[] = {"id", "name", "rtp_port", "audio_port", "rtcp_mux",
                                       "source", "send_to", "profile", "video_codec",
                                       "audio_codec", "video_pt", "audio_pt", "rtx_pt", "srtp",
                                       "plain_rtp", "max_kbps", "max_pixels", "loss_policy",
                                       "max_freeze_ms", NULL};
    if (!json_is_object(o))
        return fail(c, path, "must be an object");
    mcu_config_site_default(s, index);
    int rtp = s->rtp_port, audio = -1, vpt = s->video_pt, apt = -1, rtx = 0;
    int max_kbps = s->max_bps / 1000, max_pixels = (int)s->max_pixels;
    char profile[MCU_ID_MAX] = "";
    bool has_profile = false;
    int rc = check_keys(c, o, path, keys);
    if (rc == MCU_OK) rc = get_id(c, o, path, s->id);
    if (rc == MCU_OK) rc = require(c, o, path, "name");
    if (rc == MCU_OK) rc = get_str(c, o, path, "name", s->name, sizeof s->name, NULL);
    if (rc == MCU_OK) rc = require(c, o, path, "rtp_port");
    if (rc == MCU_OK) rc = get_int(c, o, path, "rtp_port", PORT_MIN, PORT_MAX - 3, &rtp);
    if (rc == MCU_OK) rc = get_int(c, o, path, "audio_port", PORT_MIN, PORT_MAX - 1, &audio);
    if (rc == MCU_OK) rc = get_bool(c, o, path, "rtcp_mux", &s->rtcp_mux);
    if (rc == MCU_OK) rc = get_ipv4(c, o, path, "source", &s->source, &s->has_source);
    if (rc == MCU_OK) rc = get_codec(c, o, path, "video_codec", true, &s->video_codec);
    if (rc == MCU_OK) rc = get_codec(c, o, path, "audio_codec", false, &s->audio_codec);
    if (rc == MCU_OK) rc = get_int(c, o, path, "video_pt", PT_DYNAMIC_MIN, PT_DYNAMIC_MAX, &vpt);
    if (rc == MCU_OK) rc = get_int(c, o, path, "audio_pt", 0, PT_DYNAMIC_MAX, &apt);
    if (rc == MCU_OK) rc = get_loss_policy(c, o, path, &s->loss_policy);
    if (rc == MCU_OK)
        rc = get_int(c, o, path, "max_freeze_ms", 0, MCU_SITE_MAX_FREEZE_MS_MAX, &s->max_freeze_ms);
    if (rc == MCU_OK) rc = get_int(c, o, path, "rtx_pt", PT_DYNAMIC_MIN, PT_DYNAMIC_MAX, &rtx);
    if (rc == MCU_OK)
        rc = get_int(c, o, path, "max_kbps", MCU_SITE_MIN_KBPS, MCU_SITE_MAX_KBPS, &max_kbps);
    if (rc == MCU_OK)
        rc = get_int(c, o, path, "max_pixels", SITE_MIN_PIXELS, MCU_SITE_DEFAULT_MAX_PIXELS * 2,
                     &max_pixels);
    if (rc == MCU_OK) rc = get_bool(c, o, path, "plain_rtp", &s->plain_rtp);
    if (rc == MCU_OK)
        rc = get_str(c, o, path, "profile", profile, sizeof profile, &has_profile);
    json_t *srtp = json_object_get(o, "srtp");
    if (rc == MCU_OK && srtp) {
        char p[MCU_PATH_MAX];
        join(p, path, "srtp");
        rc = parse_srtp(c, srtp, p, s);
    }
    json_t *send_to = json_object_get(o, "send_to");
    if (rc == MCU_OK && send_to) {
        char p[MCU_PATH_MAX];
        join(p, path, "send_to");
        rc = parse_send_to(c, send_to, p, s);
    }
    if (rc < 0)
        return rc;
    s->rtp_port = (uint16_t)rtp;
    s->audio_port = (uint16_t)(audio >= 0 ? audio : rtp + 2);
    int static_pt = mcu_codec_info(s->audio_codec)->static_pt;
    if (apt < 0)
        apt = static_pt >= 0 ? static_pt : MCU_DEFAULT_AUDIO_PT;
    s->video_pt = (uint8_t)vpt;
    s->audio_pt = (uint8_t)apt;
    s->rtx_pt = (uint8_t)rtx;
    s->max_bps = max_kbps * 1000;
    s->max_pixels = max_pixels;
    char k[MCU_PATH_MAX];
    if (apt < PT_DYNAMIC_MIN && apt != static_pt) {
        join(k, path, "audio_pt");
        if (static_pt >= 0)
            return fail(c, k, "%d is not %s's static payload type (%d) nor a dynamic one "
                        "(96..127)", apt, mcu_codec_info(s->audio_codec)->name, static_pt);
        return fail(c, k, "%s needs a dynamic payload type (96..127)",
                    mcu_codec_info(s->audio_codec)->name);
    }
    if (vpt == apt) {
        join(k, path, "audio_pt");
        return fail(c, k, "must differ from video_pt");
    }
    if (rtx && (rtx == vpt || rtx == apt)) {
        join(k, path, "rtx_pt");
        return fail(c, k, "must differ from video_pt and audio_pt");
    }
    if (srtp && s->plain_rtp) {
        join(k, path, "plain_rtp");
        return fail(c, k, "a site has either \"srtp\" keys or \"plain_rtp\": true, not both");
    }
    if (!srtp && !s->plain_rtp)
        return fail(c, path, "needs \"srtp\" keys, or \"plain_rtp\": true to accept "
                    "unencrypted media from it");
    s->profile = has_profile ? mcu_config_find_profile(cfg, profile) : 0;
    if (s->profile < 0) {
        join(k, path, "profile");
        return fail(c, k, "no profile with id \"%s\"", profile);
    }
    return MCU_OK;
}

/* The ports a site binds: RTP and, without rtcp-mux, RTCP on the next port. */
static int site_ports(const mcu_site_config_t *s, uint16_t ports[4])
{
    int n = 0;
    ports[n++] = s->rtp_port;
    ports[n++] = s->audio_port;
    if (!s->rtcp_mux) {
        ports[n++] = (uint16_t)(s->rtp_port + 1);
        ports[n++] = (uint16_t)(s->audio_port + 1);
    }
    return n;
}

/* No two sockets on one port, no two sites or profiles with one id. */
static int check_unique(ctx_t *c, const mcu_config_t *cfg)
{
    char p[MCU_PATH_MAX];
    for (int i = 0; i < cfg->n_profiles; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(cfg->profiles[i].id, cfg->profiles[j].id) == 0) {
                snprintf(p, sizeof p, "profiles[%d].id", i);
                return fail(c, p, "\"%s\" is used twice", cfg->profiles[i].id);
            }
    for (int i = 0; i < cfg->n_sites; i++) {
        uint16_t a[4];
        int na = site_ports(&cfg->sites[i], a);
        for (int x = 0; x < na; x++)
            for (int y = 0; y < x; y++)
                if (a[x] == a[y]) {
                    snprintf(p, sizeof p, "sites[%d].audio_port", i);
                    return fail(c, p, "port %u collides with the site's own ports", a[x]);
                }
        for (int j = 0; j < i; j++) {
            if (strcmp(cfg->sites[i].id, cfg->sites[j].id) == 0) {
                snprintf(p, sizeof p, "sites[%d].id", i);
                return fail(c, p, "\"%s\" is used twice", cfg->sites[i].id);
            }
            uint16_t b[4];
            int nb = site_ports(&cfg->sites[j], b);
            for (int x = 0; x < na; x++)
                for (int y = 0; y < nb; y++)
                    if (a[x] == b[y]) {
                        snprintf(p, sizeof p, "sites[%d].rtp_port", i);
                        return fail(c, p, "port %u is already used by site \"%s\"", a[x],
                                    cfg->sites[j].id);
                    }
        }
    }
    return MCU_OK;
}

static int parse_speaker(ctx_t *c, json_t *o, mcu_config_t *cfg)
{
    static const char *const keys[] = {"hold_ms", "rolling_interval_ms", "pinned_in_loudest",
                                       NULL};
    if (!json_is_object(o))
        return fail(c, "speaker", "must be an object");
    int rc = check_keys(c, o, "speaker", keys);
    if (rc == MCU_OK)
        rc = get_int(c, o, "speaker", "hold_ms", 0, MCU_SPEAKER_HOLD_MS_MAX,
                     &cfg->speaker.hold_ms);
    if (rc == MCU_OK)
        rc = get_int(c, o, "speaker", "rolling_interval_ms", MCU_ROLLING_INTERVAL_MS_MIN,
                     MCU_ROLLING_INTERVAL_MS_MAX, &cfg->speaker.rolling_interval_ms);
    if (rc == MCU_OK)
        rc = get_bool(c, o, "speaker", "pinned_in_loudest", &cfg->speaker.pinned_in_loudest);
    return rc;
}

/* Printable ASCII without spaces: a token travels in an HTTP header and a URL. */
static bool valid_token(const char *s)
{
    for (; *s; s++)
        if (*s <= ' ' || *s > '~')
            return false;
    return true;
}

static int parse_control(ctx_t *c, json_t *o, mcu_config_t *cfg)
{
    static const char *const keys[] = {"listen", "port", "token", "token_file", "state_file",
                                       NULL};
    mcu_control_config_t *cc = &cfg->control;
    if (!json_is_object(o))
        return fail(c, "control", "must be an object");
    bool present;
    int port = cc->port;
    int rc = check_keys(c, o, "control", keys);
    if (rc == MCU_OK)
        rc = get_ipv4(c, o, "control", "listen", &cc->listen, &present);
    if (rc == MCU_OK)
        rc = get_int(c, o, "control", "port", 0, 65535, &port);
    cc->port = (uint16_t)port;
    if (rc == MCU_OK)
        rc = get_str(c, o, "control", "token", cc->token, sizeof cc->token, &present);
    if (rc == MCU_OK && present && (strlen(cc->token) < MCU_TOKEN_MIN || !valid_token(cc->token)))
        return fail(c, "control.token", "must be %d to %d printable characters without spaces",
                    MCU_TOKEN_MIN, MCU_TOKEN_MAX - 1);
    if (rc == MCU_OK)
        rc = get_str(c, o, "control", "token_file", cc->token_file, sizeof cc->token_file,
                     NULL);
    json_t *sf = json_object_get(o, "state_file");
    if (rc == MCU_OK && sf && json_is_string(sf) && json_string_length(sf) == 0) {
        cc->state_file[0] = '\0'; /* "" keeps no state */
        cc->state_file_given = true;
    } else if (rc == MCU_OK) {
        rc = get_str(c, o, "control", "state_file", cc->state_file, sizeof cc->state_file,
                     &cc->state_file_given);
    }
    if (rc == MCU_OK && !cc->token[0] && cc->port &&
        ntohl(cc->listen.sin_addr.s_addr) >> 24 != 127) {
        rc = fail(c, "control.token", "is required when control.listen is not a loopback "
                                      "address");
        c->err->line = mcu_json_line_of(c->text, c->len, "control.listen"); /* no token line */
    }
    return rc;
}

static int parse_array(ctx_t *c, json_t *root, const char *key, size_t max, json_t **out)
{
    *out = json_object_get(root, key);
    if (!*out)
        return MCU_OK;
    if (!json_is_array(*out))
        return fail(c, key, "must be an array");
    if (json_array_size(*out) == 0 || json_array_size(*out) > max)
        return fail(c, key, "must hold 1 to %zu entries", max);
    return MCU_OK;
}

int mcu_config_parse(const char *text, size_t len, mcu_config_t *cfg, mcu_config_error_t *err)
{
    static const char *const keys[] = {"conference", "profiles", "sites", "log_level",
                                       "io_batch_us", "speaker", "control", NULL};
    mcu_config_error_t scratch;
    ctx_t c = {.text = text, .len = len, .err = err ? err : &scratch};
    memset(c.err, 0, sizeof *c.err);
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        c.err->line = je.line > 0 ? je.line : 0;
        snprintf(c.err->message, sizeof c.err->message, "%s", je.text);
        return MCU_ERR_CONFIG;
    }
    base_config(cfg);
    cfg->n_profiles = 1;
    default_profile(&cfg->profiles[0]);
    int rc = json_is_object(root) ? check_keys(&c, root, "", keys)
                                  : fail(&c, "", "the file must hold one JSON object");
    json_t *conf = json_object_get(root, "conference");
    if (rc == MCU_OK && conf)
        rc = parse_conference(&c, conf, cfg);
    char level[16];
    bool has_level = false;
    if (rc == MCU_OK)
        rc = get_str(&c, root, "", "log_level", level, sizeof level, &has_level);
    if (rc == MCU_OK && has_level) {
        int l = mcu_log_level_from_name(level);
        if (l < 0)
            rc = fail(&c, "log_level", "must be error, warn, info or debug");
        else
            cfg->log_level = (mcu_log_level_t)l;
    }
    if (rc == MCU_OK)
        rc = get_int(&c, root, "", "io_batch_us", 0, MCU_IO_BATCH_MAX_US, &cfg->io_batch_us);
    json_t *sec = json_object_get(root, "speaker");
    if (rc == MCU_OK && sec)
        rc = parse_speaker(&c, sec, cfg);
    sec = json_object_get(root, "control");
    if (rc == MCU_OK && sec)
        rc = parse_control(&c, sec, cfg);
    json_t *arr = NULL;
    if (rc == MCU_OK)
        rc = parse_array(&c, root, "profiles", MCU_MAX_PROFILES, &arr);
    if (rc == MCU_OK && arr) {
        cfg->n_profiles = (int)json_array_size(arr);
        for (int i = 0; i < cfg->n_profiles && rc == MCU_OK; i++) {
            char p[MCU_PATH_MAX];
            snprintf(p, sizeof p, "profiles[%d]", i);
            rc = parse_profile(&c, json_array_get(arr, (size_t)i), p, &cfg->profiles[i]);
        }
    }
    if (rc == MCU_OK)
        rc = require(&c, root, "", "sites");
    if (rc == MCU_OK)
        rc = parse_array(&c, root, "sites", MCU_MAX_SITES, &arr);
    if (rc == MCU_OK) {
        cfg->n_sites = (int)json_array_size(arr);
        for (int i = 0; i < cfg->n_sites && rc == MCU_OK; i++) {
            char p[MCU_PATH_MAX];
            snprintf(p, sizeof p, "sites[%d]", i);
            rc = parse_site(&c, json_array_get(arr, (size_t)i), p, cfg, i, &cfg->sites[i]);
        }
    }
    if (rc == MCU_OK)
        rc = check_unique(&c, cfg);
    json_decref(root);
    return rc;
}

int mcu_config_load(const char *path, mcu_config_t *cfg, mcu_config_error_t *err)
{
    mcu_config_error_t scratch;
    if (!err)
        err = &scratch;
    memset(err, 0, sizeof *err);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err->message, sizeof err->message, "cannot open: %s", strerror(errno));
        return MCU_ERR_IO;
    }
    char *buf = malloc(MCU_CONFIG_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MCU_CONFIG_MAX_BYTES + 1, f) : 0;
    int read_err = ferror(f);
    fclose(f);
    int rc;
    if (!buf) {
        rc = MCU_ERR_NOMEM;
    } else if (read_err) {
        snprintf(err->message, sizeof err->message, "read error");
        rc = MCU_ERR_IO;
    } else if (n > MCU_CONFIG_MAX_BYTES) {
        snprintf(err->message, sizeof err->message, "larger than %u bytes: not a config file",
                 MCU_CONFIG_MAX_BYTES);
        rc = MCU_ERR_CONFIG;
    } else {
        rc = mcu_config_parse(buf, n, cfg, err);
    }
    free(buf);
    if (rc == MCU_OK && !cfg->control.state_file_given) {
        /* conference.json -> conference.state.json, next to the config it belongs to */
        size_t len = strlen(path);
        if (len > 5 && strcmp(path + len - 5, ".json") == 0)
            len -= 5;
        int n2 = snprintf(cfg->control.state_file, sizeof cfg->control.state_file,
                          "%.*s.state.json", (int)len, path);
        if (n2 < 0 || (size_t)n2 >= sizeof cfg->control.state_file)
            cfg->control.state_file[0] = '\0';
    }
    return rc;
}

int mcu_config_find_profile(const mcu_config_t *cfg, const char *id)
{
    for (int i = 0; i < cfg->n_profiles; i++)
        if (strcmp(cfg->profiles[i].id, id) == 0)
            return i;
    return -1;
}

int mcu_log_level_from_name(const char *name)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(names[i], name) == 0)
            return i;
    return -1;
}
