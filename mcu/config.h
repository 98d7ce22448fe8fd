/*
 * config: the conference configuration, read from JSON (jansson) or built in.
 *
 * A config error names the key (as a path, "sites[3].rtp_port") and the line it is on;
 * unknown keys are errors too, so a typo never silently falls back to a default.
 *
 *   {
 *     "conference": {"name": "Giao ban", "layout": "auto", "fit": "letterbox",
 *                    "sdp_dir": "sdp"},
 *     "profiles": [{"id": "main", "width": 1280, "height": 720, "fps": 25,
 *                   "video_kbps": 900, "audio_kbps": 32, "keyint_ms": 4000,
 *                   "min_video_kbps": 225}],  floor under receivers' bitrate feedback
 *     "sites": [{"id": "yen-mo", "name": "Huyện Yên Mô",
 *                "rtp_port": 20000,        video RTP; its RTCP on rtp_port+1
 *                "audio_port": 20002,      default rtp_port+2; RTCP on audio_port+1
 *                "rtcp_mux": false,        RTCP on the RTP ports (RFC 5761)
 *                "source": "192.0.2.10",   optional: only this address is accepted
 *                "send_to": {"address": "192.0.2.10", "video_port": 5000,
 *                            "audio_port": 5002},   optional: else learned from where
 *                                                   the site's media comes from
 *                "profile": "main",
 *                "video_codec": "H264",    or VP8
 *                "audio_codec": "opus",    or G722, PCMU, PCMA
 *                "video_pt": 96,           dynamic (96..127)
 *                "audio_pt": 111,          default: the codec's static type (G722 9,
 *                                          PCMU 0, PCMA 8), else 111
 *                "loss_policy": "conceal", or "freeze": what a tile shows once repair
 *                                          of a damaged picture failed
 *                "max_freeze_ms": 1000,    the longest a damaged tile stays frozen;
 *                                          0: until a keyframe
 *                "rtx_pt": 97,             optional: RFC 4588 retransmissions (apt=96)
 *                "srtp": {"suite": "AES_CM_128_HMAC_SHA1_80",   or _32, AEAD_AES_128_GCM
 *                         "key": "inline:<base64>",   what the site protects with (RFC 4568)
 *                         "send_key": "inline:<base64>"},  optional: what the MCU protects
 *                                    with; else a fresh key per start, in the site's SDP
 *                "plain_rtp": true,        instead of "srtp": no encryption, said explicitly
 *                "max_kbps": 1500,         the most the site is asked to send (TMMBR)
 *                "max_pixels": 2088960}],  largest picture the site may send
 *     "speaker": {"hold_ms": 2000, "rolling_interval_ms": 10000,
 *                 "pinned_in_loudest": false},
 *     "control": {"listen": "127.0.0.1", "port": 8080,     port 0: no control server
 *                 "token": "...",           16..127 printable bytes; required unless
 *                                           listening on loopback, where an absent one
 *                                           is generated and written to token_file
 *                 "token_file": "mcu-control.token",
 *                 "state_file": "..."},     default: the config's path with .json
 *                                           replaced by .state.json; "" keeps none
 *     "log_level": "info",
 *     "io_batch_us": 2000       the loop takes datagrams on this grid when idle
 *                               (io_batch.h); 0 wakes it for each one
 *   }
 *
 * The built-in default (mcu_config_default) is the 18-site Yên Mô scenario of
 * ../shared/CONTEXT.md: site i (0..17) receives video RTP on 20000 + 4i (RTCP +1) and
 * audio on 20002 + 4i (RTCP +1), learns where to send from its media, and gets the
 * "main" profile (1280x720, 25 fps, 900 kbps video + 32 kbps Opus). The district hall
 * (site 0) also has a local monitor: its composite goes to 127.0.0.1:40000 (video) and
 * :40002 (audio), described by sdp/huyen-yen-mo.sdp. The built-in scenario is a
 * demonstration on one machine: its sites are marked plain_rtp, which a config file must
 * say per site to get the same (a site with neither "srtp" nor "plain_rtp" is an error).
 *
 * mcu_config_t is a plain value: no pointers, nothing to free.
 */
#ifndef MCU_CONFIG_H
#define MCU_CONFIG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codecs/codec.h"
#include "layouts/layout.h"
#include "mcu/srtp_session.h"

/* Sites one conference holds: the capacity target is 60 sites at 360p, with room. */
#define MCU_MAX_SITES 64
/* Output profiles: a main and a low-bandwidth one, with room for two more. */
#define MCU_MAX_PROFILES 4
#define MCU_ID_MAX 32           /* ids: [a-z0-9_-], 1..31 bytes */
#define MCU_NAME_MAX 128        /* display names: UTF-8, 1..127 bytes */
#define MCU_PATH_MAX 256
/* A config file is small; anything larger is not one. */
#define MCU_CONFIG_MAX_BYTES (1u << 20)

/* Default ports of the built-in scenario and of sites that give only rtp_port. */
#define MCU_DEFAULT_BASE_PORT 20000
#define MCU_DEFAULT_PORT_STRIDE 4
/* The built-in scenario's local monitor port for the district hall's composite. */
#define MCU_DEFAULT_MONITOR_PORT 40000
#define MCU_DEFAULT_VIDEO_PT 96
#define MCU_DEFAULT_AUDIO_PT 111

typedef enum mcu_log_level {
    MCU_LOG_ERROR, MCU_LOG_WARN, MCU_LOG_INFO, MCU_LOG_DEBUG
} mcu_log_level_t;

typedef struct mcu_profile_config {
    char id[MCU_ID_MAX];
    int width, height;          /* even, 160x90 .. 1920x1080 */
    int fps;                    /* 5..60 */
    int video_bps;
    int audio_bps;
    int keyint_ms;              /* periodic IDR: ffplay and VLC never ask for one */
    int min_video_bps;          /* floor of the bitrate policy (receivers' REMB/TMMBR) */
} mcu_profile_config_t;

/* Default floor of a profile's video rate under receivers' bitrate feedback: a quarter of
 * the configured rate still gives a recognisable picture at the profile's size; below it
 * x264 smears faces into blocks, and a receiver whose link cannot carry that much is
 * better served by NACK repair and the low-bandwidth profile. */
#define MCU_PROFILE_MIN_VIDEO_PERCENT 25

/* What a tile shows once repair of a damaged picture (NACK, a keyframe request) has
 * failed: the decoder's concealment while the damage is limited (layouts show motion, and
 * a frozen tile looks like a dead site), or the last clean picture until a keyframe. */
typedef enum mcu_loss_policy { MCU_LOSS_CONCEAL, MCU_LOSS_FREEZE } mcu_loss_policy_t;

typedef struct mcu_site_config {
    char id[MCU_ID_MAX];
    char name[MCU_NAME_MAX];
    uint16_t rtp_port;          /* video RTP */
    uint16_t audio_port;        /* audio RTP */
    bool rtcp_mux;
    bool has_source;
    struct sockaddr_in source;  /* expected source address (port 0: any port) */
    bool has_send_to;
    struct sockaddr_in send_video, send_audio;
    int profile;                /* index into mcu_config_t.profiles */
    mcu_codec_t video_codec;    /* H264 or VP8 */
    mcu_codec_t audio_codec;    /* opus, G722, PCMU or PCMA */
    uint8_t video_pt, audio_pt;
    uint8_t rtx_pt;             /* RFC 4588 retransmissions of video from the site; 0: none */
    /* Security: SRTP unless plain_rtp says otherwise (never by default). */
    bool plain_rtp;
    mcu_srtp_key_t srtp_in;     /* the key the site protects its media and RTCP with */
    bool has_srtp_out;          /* a fixed key for what the MCU sends; else one is generated */
    mcu_srtp_key_t srtp_out;
    int max_bps;                /* the most the site is asked to send (TMMBR ceiling) */
    int64_t max_pixels;         /* decoder bound on the site's picture size */
    mcu_loss_policy_t loss_policy;
    int max_freeze_ms;          /* a damaged tile freezes at most this long; 0: no bound */
} mcu_site_config_t;

/* What a site may send at most unless its config says otherwise: a 720p camera at
 * conference motion; a tile never needs more. */
#define MCU_SITE_DEFAULT_MAX_KBPS 1500
#define MCU_SITE_MIN_KBPS 64
#define MCU_SITE_MAX_KBPS 8000
/* Largest picture a site may send: 1080p (1920x1088 in macroblocks). */
#define MCU_SITE_DEFAULT_MAX_PIXELS (1920 * 1088)
/* The longest a tile stays frozen on a damaged stream before the decoder's pictures are
 * shown whatever their damage (README, "Loss nobody repairs": measured with mcu-bench
 * conceal). */
#define MCU_SITE_DEFAULT_MAX_FREEZE_MS 1000
#define MCU_SITE_MAX_FREEZE_MS_MAX 60000

/* Speaker switching (the "speaker" section). */
/* Hold: once a site is on screen as the speaker it stays at least this long, so a
 * cough or a one-word reply never flips the large pane. 2 s is the usual MCU default
 * (long enough to outlast an interjection, short enough to follow a real handover). */
#define MCU_SPEAKER_HOLD_MS_DEFAULT 2000
#define MCU_SPEAKER_HOLD_MS_MAX 60000
/* Rolling slots move on every 10 s: long enough to recognise a room. */
#define MCU_ROLLING_INTERVAL_MS_DEFAULT 10000
#define MCU_ROLLING_INTERVAL_MS_MIN 1000
#define MCU_ROLLING_INTERVAL_MS_MAX 3600000

typedef struct mcu_speaker_config {
    int hold_ms;
    int rolling_interval_ms;
    bool pinned_in_loudest;     /* a pinned site may also show in a loudest slot */
} mcu_speaker_config_t;

/* The control server (the "control" section). */
#define MCU_CONTROL_PORT_DEFAULT 8080
/* Bearer tokens: 16..127 printable ASCII bytes; a generated one is 32 hex digits
 * (128 random bits). */
#define MCU_TOKEN_MIN 16
#define MCU_TOKEN_MAX 128

typedef struct mcu_control_config {
    struct sockaddr_in listen;  /* default 127.0.0.1 */
    uint16_t port;              /* 0: no control server */
    char token[MCU_TOKEN_MAX];  /* "": generated at start (loopback only) */
    char token_file[MCU_PATH_MAX];  /* where a generated token is written (mode 0600) */
    char state_file[MCU_PATH_MAX];  /* operator state; "": not kept */
    bool state_file_given;      /* set in the file (else derived from its path) */
} mcu_control_config_t;

typedef struct mcu_config {
    char name[MCU_NAME_MAX];
    bool layout_auto;
    mcu_layout_preset_t layout;
    mcu_fit_t fit;
    char sdp_dir[MCU_PATH_MAX];
    mcu_log_level_t log_level;
    int io_batch_us;            /* the loop's I/O moderation grid (io_batch.h); 0: off */
    int n_profiles;
    mcu_profile_config_t profiles[MCU_MAX_PROFILES];
    int n_sites;
    mcu_site_config_t sites[MCU_MAX_SITES];
    mcu_speaker_config_t speaker;
    mcu_control_config_t control;
} mcu_config_t;

typedef struct mcu_config_error {
    char key[MCU_PATH_MAX];     /* "sites[3].rtp_port"; "" for the whole file */
    int line;                   /* 1-based; 0 when unknown */
    char message[256];
} mcu_config_error_t;

/* The built-in 18-site scenario. */
void mcu_config_default(mcu_config_t *cfg);

/* A site's defaults (ports from its index as in the built-in scenario, H.264 + Opus on
 * 96/111, the default bounds and loss policy), for a site built in code; id, name,
 * security and destination are the caller's. */
void mcu_config_site_default(mcu_site_config_t *s, int index);

/* Parses JSON text. MCU_ERR_CONFIG with *err filled on any error. */
int mcu_config_parse(const char *text, size_t len, mcu_config_t *cfg, mcu_config_error_t *err);

/* Reads and parses a file (MCU_ERR_IO if unreadable, err says why). */
int mcu_config_load(const char *path, mcu_config_t *cfg, mcu_config_error_t *err);

/* The profile named `id`, or -1. */
int mcu_config_find_profile(const mcu_config_t *cfg, const char *id);

/* "info" -> MCU_LOG_INFO; -1 when unknown. */
int mcu_log_level_from_name(const char *name);

#endif
