/*
 * control_api: the REST + SSE control API of one conference (routes in README.md,
 * "Control API"), on top of mcu/http_server. Every handler runs on the loop: it reads
 * the conference, validates the request (a 400 names the field), and hands a changed
 * control state to the conference, which applies it at its next output tick.
 *
 * It also turns the conference's events (talker, site up/down, layout, slots) and a
 * stats digest every MCU_API_STATS_INTERVAL_MS into SSE events, and answers /metrics
 * in the Prometheus text format.
 *
 * Token: the config's control.token; when it has none (only allowed on loopback) a
 * random one is made at start and written to control.token_file with mode 0600, where
 * mcuctl and demo.sh read it.
 *
 * Ownership: the API keeps a pointer to the conference, which must outlive it;
 * mcu_control_api_stop (on the loop) stops the server; mcu_control_api_destroy after the
 * loop has ended.
 */
#ifndef MCU_CONTROL_API_H
#define MCU_CONTROL_API_H

#include <uv.h>

#include "mcu/conference.h"
#include "mcu/config.h"

/* Stats digest on the event stream: twice a second moves the talk meters smoothly
 * enough while costing a few kilobytes per second per page. */
#define MCU_API_STATS_INTERVAL_MS 500
/* JPEG widths: default composite preview (half of 720p: enough for a page), default
 * thumbnail, and the bounds a request may ask for. */
#define MCU_API_PREVIEW_W 640
#define MCU_API_THUMB_W 320

typedef struct mcu_control_api mcu_control_api_t;

/* Starts the control server for `conf` (cfg->control.port != 0). MCU_ERR_IO when it
 * cannot listen or write the token file (logged). */
int mcu_control_api_create(uv_loop_t *loop, mcu_conference_t *conf, const mcu_config_t *cfg,
                           mcu_control_api_t **out);
/* After a config reload: a new token takes effect for new requests. */
void mcu_control_api_reload(mcu_control_api_t *api, const mcu_config_t *cfg);
void mcu_control_api_stop(mcu_control_api_t *api);
void mcu_control_api_destroy(mcu_control_api_t **api);

/* The token in force (for logs and the demo). */
const char *mcu_control_api_token(const mcu_control_api_t *api);

#endif
