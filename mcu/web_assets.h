/*
 * web_assets: the control-room page (mcu/web/), embedded into the daemon at build time
 * by mcu/web/embed.cmake, so the daemon serves it with no install step and no path to
 * get wrong. Generated data; read-only for the life of the process.
 */
#ifndef MCU_WEB_ASSETS_H
#define MCU_WEB_ASSETS_H

#include <stddef.h>

#include "mcu/http_server.h"

extern const mcu_http_asset_t mcu_web_assets[];
extern const size_t mcu_web_n_assets;

#endif
