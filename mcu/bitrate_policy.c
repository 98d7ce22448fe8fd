#include "bitrate_policy.h"

#include <stdlib.h>

#include "error.h"

#define US_PER_MS 1000
#define TTL_US ((int64_t)MCU_BITRATE_ESTIMATE_TTL_MS * US_PER_MS)
#define MIN_INTERVAL_US ((int64_t)MCU_BITRATE_MIN_INTERVAL_MS * US_PER_MS)

typedef struct estimate {
    bool valid;
    int64_t bps;        /* already clamped to [floor, configured] */
    int64_t at_us;
} estimate_t;

struct mcu_bitrate_policy {
    int max_receivers;
    int64_t configured_bps;
    int64_t floor_bps;
    estimate_t *est;    /* max_receivers */
    int64_t *scratch;   /* max_receivers, for the percentile */
    bool have_target;
    int64_t target_bps;
    int64_t changed_us;
};

static bool fresh(const estimate_t *e, int64_t now_us)
{
    return e->valid && now_us - e->at_us < TTL_US;
}

int mcu_bitrate_policy_create(int max_receivers, int64_t configured_bps, int64_t floor_bps,
                              mcu_bitrate_policy_t **out)
{
    if (!out)
        return MCU_ERR_INVAL;
    *out = NULL;
    if (max_receivers < 1 || max_receivers > MCU_BITRATE_MAX_RECEIVERS || configured_bps <= 0 ||
        floor_bps <= 0 || floor_bps > configured_bps)
        return MCU_ERR_INVAL;
    mcu_bitrate_policy_t *p = calloc(1, sizeof *p);
    if (!p)
        return MCU_ERR_NOMEM;
    p->est = calloc((size_t)max_receivers, sizeof *p->est);
    p->scratch = calloc((size_t)max_receivers, sizeof *p->scratch);
    if (!p->est || !p->scratch) {
        mcu_bitrate_policy_destroy(&p);
        return MCU_ERR_NOMEM;
    }
    p->max_receivers = max_receivers;
    p->configured_bps = configured_bps;
    p->floor_bps = floor_bps;
    *out = p;
    return MCU_OK;
}

void mcu_bitrate_policy_destroy(mcu_bitrate_policy_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->est);
    free((*p)->scratch);
    free(*p);
    *p = NULL;
}

int mcu_bitrate_policy_update(mcu_bitrate_policy_t *p, int receiver, uint64_t bps, int64_t now_us)
{
    if (!p || receiver < 0 || receiver >= p->max_receivers)
        return MCU_ERR_INVAL;
    int64_t v = bps > (uint64_t)p->configured_bps ? p->configured_bps : (int64_t)bps;
    if (v < p->floor_bps)
        v = p->floor_bps;
    p->est[receiver] = (estimate_t){.valid = true, .bps = v, .at_us = now_us};
    return MCU_OK;
}

void mcu_bitrate_policy_forget(mcu_bitrate_policy_t *p, int receiver)
{
    if (p && receiver >= 0 && receiver < p->max_receivers)
        p->est[receiver].valid = false;
}

int mcu_bitrate_policy_voters(const mcu_bitrate_policy_t *p, int64_t now_us)
{
    int n = 0;
    for (int i = 0; i < p->max_receivers; i++)
        n += fresh(&p->est[i], now_us);
    return n;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The percentile of the fresh estimates (already clamped), or configured. */
static int64_t wanted(mcu_bitrate_policy_t *p, int64_t now_us)
{
    size_t n = 0;
    for (int i = 0; i < p->max_receivers; i++)
        if (fresh(&p->est[i], now_us))
            p->scratch[n++] = p->est[i].bps;
    if (n == 0)
        return p->configured_bps;
    qsort(p->scratch, n, sizeof p->scratch[0], cmp_i64);
    /* Nearest rank: the ceil(P*n/100)-th lowest, at least the first. */
    size_t rank = (n * MCU_BITRATE_PERCENTILE + 99) / 100;
    return p->scratch[rank > 0 ? rank - 1 : 0];
}

int64_t mcu_bitrate_policy_target(mcu_bitrate_policy_t *p, int64_t now_us, bool *changed)
{
    int64_t w = wanted(p, now_us);
    bool move;
    if (!p->have_target) {
        move = true;
    } else {
        int64_t cur = p->target_bps;
        int64_t diff = w > cur ? w - cur : cur - w;
        bool big = diff * 100 >= cur * MCU_BITRATE_MIN_CHANGE_PERCENT;
        bool bound = w == p->floor_bps || w == p->configured_bps;
        move = diff > 0 && (big || bound) && now_us - p->changed_us >= MIN_INTERVAL_US;
    }
    if (move) {
        p->have_target = true;
        p->target_bps = w;
        p->changed_us = now_us;
    }
    if (changed)
        *changed = move;
    return p->target_bps;
}

int64_t mcu_bitrate_for_tile(int w, int h, int fps, int64_t max_bps)
{
    int64_t ceiling = max_bps > MCU_BITRATE_TILE_FLOOR_BPS ? max_bps : MCU_BITRATE_TILE_FLOOR_BPS;
    if (w <= 0 || h <= 0 || fps <= 0)
        return MCU_BITRATE_TILE_FLOOR_BPS;
    int64_t pixels = (int64_t)w * h; /* < 2^62 */
    if (pixels > INT64_MAX / fps / MCU_BITRATE_TILE_BPP_PERCENT)
        return ceiling;
    int64_t bps = pixels * fps * MCU_BITRATE_TILE_BPP_PERCENT / 100;
    if (bps < MCU_BITRATE_TILE_FLOOR_BPS)
        return MCU_BITRATE_TILE_FLOOR_BPS;
    return bps > ceiling ? ceiling : bps;
}
