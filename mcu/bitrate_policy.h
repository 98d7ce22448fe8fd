/*
 * bitrate_policy: turns receivers' bandwidth estimates (RTCP REMB, RFC 5104 TMMBR) into
 * one target for an encoder whose stream every receiver gets, and sizes the bitrate a
 * site should send for the tile it is shown in.
 *
 * Target rules:
 *   - each receiver holds at most one estimate, its latest; an estimate older than
 *     MCU_BITRATE_ESTIMATE_TTL_MS no longer votes;
 *   - the target is the MCU_BITRATE_PERCENTILE-th percentile (nearest rank, ascending:
 *     the ceil(P*N/100)-th lowest) of the voting estimates, clamped to
 *     [floor, configured]; with no voters it is the configured rate;
 *   - hysteresis: the target moves only when the new value differs from the current one
 *     by at least MCU_BITRATE_MIN_CHANGE_PERCENT, or is the floor or the ceiling (so both
 *     stay reachable from just beside them), and at least MCU_BITRATE_MIN_INTERVAL_MS
 *     after the last move; a change asked for too early is taken by the first call after
 *     the interval if it still holds. The first call always sets the target.
 *
 * Bounds: at most MCU_BITRATE_MAX_RECEIVERS receivers, ids 0..max_receivers-1.
 *
 * Ownership: mcu_bitrate_policy_create allocates everything it will use (the estimate
 * table and the scratch space for the percentile); no call after it allocates. Not
 * thread-safe: one owner drives it. Times are microseconds on the caller's monotonic
 * clock.
 */
#ifndef MCU_BITRATE_POLICY_H
#define MCU_BITRATE_POLICY_H

#include <stdbool.h>
#include <stdint.h>

/* An estimate not refreshed for this long is ignored: REMB comes about once a second and
 * TMMBR is repeated well within this; a receiver that stopped reporting no longer votes. */
#define MCU_BITRATE_ESTIMATE_TTL_MS 5000
/* The target is this percentile (nearest rank, ascending) of the fresh estimates: low, so
 * most receivers' links carry it, but not the minimum, so one outlier on a bad link cannot
 * drag every site's picture down (it gets the same stream; its loss is repaired by NACK and
 * its RR shows it). With 18 receivers the 20th percentile is the 4th lowest; with 5 or
 * fewer it is the lowest. */
#define MCU_BITRATE_PERCENTILE 20
/* The target changes only when it moves by at least this share: estimates wander by a
 * few percent between reports and a move smaller than this buys no visible quality ... */
#define MCU_BITRATE_MIN_CHANGE_PERCENT 5
/* ... and at most this often: each change reconfigures the encoder's rate control. */
#define MCU_BITRATE_MIN_INTERVAL_MS 1000
/* Bits per pixel per frame a site's camera stream needs to look right in a tile of that
 * size (H.264 at conference motion: ~0.1 bpp). */
#define MCU_BITRATE_TILE_BPP_PERCENT 10
/* Lowest rate asked of a site (a tile is never starved below a watchable picture). */
#define MCU_BITRATE_TILE_FLOOR_BPS 64000
/* Receivers per policy at most: far more sites than one MCU serves, and small enough
 * that sorting every estimate on each target call stays cheap. */
#define MCU_BITRATE_MAX_RECEIVERS 1024

typedef struct mcu_bitrate_policy mcu_bitrate_policy_t;

/* max_receivers: receiver ids 0..max-1 (1..MCU_BITRATE_MAX_RECEIVERS). configured_bps:
 * the profile's rate, the ceiling (> 0). floor_bps: never below (0 < floor <=
 * configured). MCU_ERR_INVAL otherwise, MCU_ERR_NOMEM. *out owned by the caller. */
int mcu_bitrate_policy_create(int max_receivers, int64_t configured_bps, int64_t floor_bps,
                              mcu_bitrate_policy_t **out);
/* Frees *p and sets it to NULL; NULL or *p NULL is a no-op. */
void mcu_bitrate_policy_destroy(mcu_bitrate_policy_t **p);

/* A receiver's estimate (REMB or TMMBR) at now_us, replacing its previous one; bps 0 is
 * a valid "stop" estimate, clamped to the floor by the target. Out-of-range id:
 * MCU_ERR_INVAL. */
int mcu_bitrate_policy_update(mcu_bitrate_policy_t *p, int receiver, uint64_t bps, int64_t now_us);

/* Drops a receiver's estimate (it left); an out-of-range id is ignored. */
void mcu_bitrate_policy_forget(mcu_bitrate_policy_t *p, int receiver);

/* The target at now_us: the percentile of fresh estimates clamped to [floor, configured];
 * configured when there are none. Applies the hysteresis above: returns the previous
 * target unless the move is allowed. *changed (may be NULL) tells whether it moved (true
 * on the first call). */
int64_t mcu_bitrate_policy_target(mcu_bitrate_policy_t *p, int64_t now_us, bool *changed);

/* How many fresh estimates vote at now_us. */
int mcu_bitrate_policy_voters(const mcu_bitrate_policy_t *p, int64_t now_us);

/* The rate a site should send for a tile w x h at fps: w*h*fps*TILE_BPP_PERCENT/100,
 * clamped to [MCU_BITRATE_TILE_FLOOR_BPS, max_bps]; the floor wins over a max_bps below
 * it. w, h or fps <= 0 (not shown): the floor. */
int64_t mcu_bitrate_for_tile(int w, int h, int fps, int64_t max_bps);

#endif
