#include "error.h"

static int valid_code(int err) { return err <= 0 && err >= MCU_ERR__LAST; }

const char *mcu_strerror(int err)
{
    switch (err) {
#define MCU__ERR_MSG(name, value, msg) case value: return msg;
        MCU_ERROR_LIST(MCU__ERR_MSG)
#undef MCU__ERR_MSG
    default: return "unknown error";
    }
}

const char *mcu_strerror_name(int err)
{
    switch (err) {
#define MCU__ERR_NAME(name, value, msg) case value: return #name;
        MCU_ERROR_LIST(MCU__ERR_NAME)
#undef MCU__ERR_NAME
    default: return "MCU_ERR_UNKNOWN";
    }
}

void mcu_drop_stats_count(mcu_drop_stats_t *stats, int err)
{
    if (!valid_code(err) || err == MCU_OK)
        err = MCU_ERR_MALFORMED;
    stats->by_reason[-err]++;
    stats->total++;
}

uint64_t mcu_drop_stats_get(const mcu_drop_stats_t *stats, int err)
{
    return valid_code(err) ? stats->by_reason[-err] : 0;
}
