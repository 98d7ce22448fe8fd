/* The bitrate policy: percentile of receivers' estimates, clamping, expiry, hysteresis,
 * forgetting receivers, bad arguments, and the per-tile rate. */
#include "mcu/bitrate_policy.h"
#include "mcu/error.h"
#include "test_util.h"

#define MS 1000
#define S 1000000
#define K 1000

static mcu_bitrate_policy_t *policy(int receivers, int64_t configured, int64_t floor)
{
    mcu_bitrate_policy_t *p;
    assert_int_equal(mcu_bitrate_policy_create(receivers, configured, floor, &p), MCU_OK);
    return p;
}

static void no_voters_configured(void **state)
{
    (void)state;
    mcu_bitrate_policy_t *p = policy(18, 800 * K, 100 * K);
    bool changed = false;
    assert_int_equal(mcu_bitrate_policy_voters(p, 0), 0);
    assert_int_equal(mcu_bitrate_policy_target(p, 0, &changed), 800 * K);
    assert_true(changed);
    assert_int_equal(mcu_bitrate_policy_target(p, 5 * S, &changed), 800 * K);
    assert_false(changed);
    assert_int_equal(mcu_bitrate_policy_target(p, 6 * S, NULL), 800 * K);
    mcu_bitrate_policy_destroy(&p);
    assert_null(p);
    mcu_bitrate_policy_destroy(&p); /* no-op */
}

static void percentile(void **state)
{
    (void)state;
    /* One receiver: its estimate. */
    mcu_bitrate_policy_t *p = policy(4, 2000 * K, 30 * K);
    mcu_bitrate_policy_update(p, 2, 500 * K, 0);
    assert_int_equal(mcu_bitrate_policy_voters(p, 0), 1);
    assert_int_equal(mcu_bitrate_policy_target(p, 0, NULL), 500 * K);
    mcu_bitrate_policy_destroy(&p);

    /* Five: the 20th percentile is the lowest (rank ceil(1) = 1). */
    p = policy(5, 2000 * K, 30 * K);
    const int64_t five[5] = {600 * K, 300 * K, 700 * K, 400 * K, 500 * K};
    for (int i = 0; i < 5; i++)
        mcu_bitrate_policy_update(p, i, (uint64_t)five[i], 0);
    assert_int_equal(mcu_bitrate_policy_target(p, 0, NULL), 300 * K);
    mcu_bitrate_policy_destroy(&p);

    /* Eighteen, one outlier on a bad link: the 4th lowest, so the outlier does not vote
     * everyone down. */
    p = policy(18, 2000 * K, 30 * K);
    mcu_bitrate_policy_update(p, 7, 50 * K, 0);
    for (int i = 0; i < 18; i++)
        if (i != 7)
            mcu_bitrate_policy_update(p, i, 800 * K, 0);
    assert_int_equal(mcu_bitrate_policy_voters(p, 0), 18);
    assert_int_equal(mcu_bitrate_policy_target(p, 0, NULL), 800 * K);
    mcu_bitrate_policy_destroy(&p);

    /* Eighteen distinct, in descending id order: 100k..1800k -> the 4th lowest. */
    p = policy(18, 2000 * K, 30 * K);
    for (int i = 0; i < 18; i++)
        mcu_bitrate_policy_update(p, i, (uint64_t)(18 - i) * 100 * K, 0);
    assert_int_equal(mcu_bitrate_policy_target(p, 0, NULL), 400 * K);
    mcu_bitrate_policy_destroy(&p);

    /* Ten: rank ceil(2) = 2, the 2nd lowest. */
    p = policy(10, 2000 * K, 30 * K);
    for (int i = 0; i < 10; i++)
        mcu_bitrate_policy_update(p, i, (uint64_t)(i + 1) * 100 * K, 0);
    assert_int_equal(mcu_bitrate_policy_target(p, 0, NULL), 200 * K);
    mcu_bitrate_policy_destroy(&p);
}

static void clamping(void **state)
{
    (void)state;
    mcu_bitrate_policy_t *p = policy(1, 1000 * K, 100 * K);
    mcu_bitrate_policy_update(p, 0, 20 * K, 0);
    assert_int_equal(mcu_bitrate_policy_target(p, 0, NULL), 100 * K);
    mcu_bitrate_policy_update(p, 0, 5000 * K, 2 * S);
    assert_int_equal(mcu_bitrate_policy_target(p, 2 * S, NULL), 1000 * K);
    /* "Stop": the floor. */
    mcu_bitrate_policy_update(p, 0, 0, 4 * S);
    assert_int_equal(mcu_bitrate_policy_target(p, 4 * S, NULL), 100 * K);
    /* Absurdly large estimates do not wrap. */
    mcu_bitrate_policy_update(p, 0, UINT64_MAX, 6 * S);
    assert_int_equal(mcu_bitrate_policy_target(p, 6 * S, NULL), 1000 * K);
    mcu_bitrate_policy_destroy(&p);
}

static void ttl_expiry(void **state)
{
    (void)state;
    mcu_bitrate_policy_t *p = policy(3, 1000 * K, 100 * K);
    bool changed;
    mcu_bitrate_policy_update(p, 0, 300 * K, 0);
    mcu_bitrate_policy_update(p, 1, 600 * K, 3 * S);
    assert_int_equal(mcu_bitrate_policy_target(p, 3 * S, NULL), 300 * K);
    int64_t ttl = (int64_t)MCU_BITRATE_ESTIMATE_TTL_MS * MS;
    assert_int_equal(mcu_bitrate_policy_voters(p, ttl - 1), 2);
    assert_int_equal(mcu_bitrate_policy_voters(p, ttl), 1);
    /* Receiver 0 stopped reporting: receiver 1 alone votes. */
    assert_int_equal(mcu_bitrate_policy_target(p, ttl, &changed), 600 * K);
    assert_true(changed);
    /* A refresh keeps an estimate alive. */
    mcu_bitrate_policy_update(p, 1, 600 * K, 7 * S);
    assert_int_equal(mcu_bitrate_policy_voters(p, 3 * S + ttl), 1);
    /* Nobody left: back to the configured rate. */
    assert_int_equal(mcu_bitrate_policy_target(p, 7 * S + ttl, &changed), 1000 * K);
    assert_true(changed);
    assert_int_equal(mcu_bitrate_policy_voters(p, 7 * S + ttl), 0);
    mcu_bitrate_policy_destroy(&p);
}

static void hysteresis(void **state)
{
    (void)state;
    mcu_bitrate_policy_t *p = policy(1, 2000 * K, 100 * K);
    bool changed;
    mcu_bitrate_policy_update(p, 0, 1000 * K, 0);
    assert_int_equal(mcu_bitrate_policy_target(p, 0, &changed), 1000 * K);
    assert_true(changed);
    /* 4%: ignored, however long it lasts. */
    mcu_bitrate_policy_update(p, 0, 1040 * K, 2 * S);
    assert_int_equal(mcu_bitrate_policy_target(p, 2 * S, &changed), 1000 * K);
    assert_false(changed);
    mcu_bitrate_policy_update(p, 0, 960 * K, 3 * S);
    assert_int_equal(mcu_bitrate_policy_target(p, 3 * S, &changed), 1000 * K);
    assert_false(changed);
    /* Exactly 5%: taken. */
    mcu_bitrate_policy_update(p, 0, 1050 * K, 4 * S);
    assert_int_equal(mcu_bitrate_policy_target(p, 4 * S, &changed), 1050 * K);
    assert_true(changed);
    /* A big drop within a second of that change is deferred, then taken. */
    mcu_bitrate_policy_update(p, 0, 500 * K, 4 * S + 300 * MS);
    assert_int_equal(mcu_bitrate_policy_target(p, 4 * S + 300 * MS, &changed), 1050 * K);
    assert_false(changed);
    assert_int_equal(mcu_bitrate_policy_target(p, 5 * S - 1, &changed), 1050 * K);
    assert_false(changed);
    assert_int_equal(mcu_bitrate_policy_target(p, 5 * S, &changed), 500 * K);
    assert_true(changed);
    /* A deferred change that no longer holds is not taken. */
    mcu_bitrate_policy_update(p, 0, 900 * K, 5 * S + 100 * MS);
    assert_int_equal(mcu_bitrate_policy_target(p, 5 * S + 100 * MS, &changed), 500 * K);
    mcu_bitrate_policy_update(p, 0, 510 * K, 5 * S + 200 * MS);
    assert_int_equal(mcu_bitrate_policy_target(p, 6 * S, &changed), 500 * K);
    assert_false(changed);
    /* The ceiling and the floor are reachable from just beside them. */
    mcu_bitrate_policy_update(p, 0, 1960 * K, 7 * S);
    assert_int_equal(mcu_bitrate_policy_target(p, 7 * S, &changed), 1960 * K);
    mcu_bitrate_policy_forget(p, 0);
    assert_int_equal(mcu_bitrate_policy_target(p, 8 * S, &changed), 2000 * K);
    assert_true(changed);
    mcu_bitrate_policy_update(p, 0, 103 * K, 9 * S);
    assert_int_equal(mcu_bitrate_policy_target(p, 9 * S, &changed), 103 * K);
    mcu_bitrate_policy_update(p, 0, 50 * K, 10 * S);
    assert_int_equal(mcu_bitrate_policy_target(p, 10 * S, &changed), 100 * K);
    assert_true(changed);
    mcu_bitrate_policy_destroy(&p);
}

static void forget(void **state)
{
    (void)state;
    mcu_bitrate_policy_t *p = policy(2, 1000 * K, 100 * K);
    bool changed;
    mcu_bitrate_policy_update(p, 0, 200 * K, 0);
    mcu_bitrate_policy_update(p, 1, 900 * K, 0);
    assert_int_equal(mcu_bitrate_policy_target(p, 0, NULL), 200 * K);
    mcu_bitrate_policy_forget(p, 0);
    mcu_bitrate_policy_forget(p, 2);  /* out of range: ignored */
    mcu_bitrate_policy_forget(p, -1);
    assert_int_equal(mcu_bitrate_policy_voters(p, S), 1);
    assert_int_equal(mcu_bitrate_policy_target(p, S, &changed), 900 * K);
    assert_true(changed);
    /* A forgotten receiver votes again once it reports. */
    mcu_bitrate_policy_update(p, 0, 300 * K, 2 * S);
    assert_int_equal(mcu_bitrate_policy_target(p, 2 * S, NULL), 300 * K);
    mcu_bitrate_policy_destroy(&p);
}

static void bad_arguments(void **state)
{
    (void)state;
    mcu_bitrate_policy_t *p = (mcu_bitrate_policy_t *)1;
    assert_int_equal(mcu_bitrate_policy_create(0, 1000, 10, &p), MCU_ERR_INVAL);
    assert_null(p);
    assert_int_equal(mcu_bitrate_policy_create(MCU_BITRATE_MAX_RECEIVERS + 1, 1000, 10, &p),
                     MCU_ERR_INVAL);
    assert_int_equal(mcu_bitrate_policy_create(4, 1000, 1001, &p), MCU_ERR_INVAL);
    assert_int_equal(mcu_bitrate_policy_create(4, 1000, 0, &p), MCU_ERR_INVAL);
    assert_int_equal(mcu_bitrate_policy_create(4, 0, 0, &p), MCU_ERR_INVAL);
    assert_int_equal(mcu_bitrate_policy_create(4, 1000, 10, NULL), MCU_ERR_INVAL);
    assert_int_equal(mcu_bitrate_policy_create(MCU_BITRATE_MAX_RECEIVERS, 1000, 1000, &p),
                     MCU_OK);
    assert_int_equal(mcu_bitrate_policy_update(p, -1, 5, 0), MCU_ERR_INVAL);
    assert_int_equal(mcu_bitrate_policy_update(p, MCU_BITRATE_MAX_RECEIVERS, 5, 0),
                     MCU_ERR_INVAL);
    assert_int_equal(mcu_bitrate_policy_update(p, MCU_BITRATE_MAX_RECEIVERS - 1, 5, 0), MCU_OK);
    assert_int_equal(mcu_bitrate_policy_target(p, 0, NULL), 1000); /* floor == ceiling */
    mcu_bitrate_policy_destroy(&p);
}

static void for_tile(void **state)
{
    (void)state;
    assert_int_equal(mcu_bitrate_for_tile(256, 144, 25, 2000 * K), 92160);
    assert_int_equal(mcu_bitrate_for_tile(640, 360, 25, 2000 * K), 576000);
    assert_int_equal(mcu_bitrate_for_tile(1280, 720, 25, 1500 * K), 1500 * K);
    assert_int_equal(mcu_bitrate_for_tile(0, 0, 25, 1500 * K), MCU_BITRATE_TILE_FLOOR_BPS);
    assert_int_equal(mcu_bitrate_for_tile(-5, 100, 25, 1500 * K), MCU_BITRATE_TILE_FLOOR_BPS);
    assert_int_equal(mcu_bitrate_for_tile(256, 144, 0, 1500 * K), MCU_BITRATE_TILE_FLOOR_BPS);
    /* Tiny tile: the floor. A max below the floor: the floor. */
    assert_int_equal(mcu_bitrate_for_tile(64, 36, 25, 1500 * K), MCU_BITRATE_TILE_FLOOR_BPS);
    assert_int_equal(mcu_bitrate_for_tile(1280, 720, 25, 10 * K), MCU_BITRATE_TILE_FLOOR_BPS);
    /* No overflow at absurd sizes. */
    assert_int_equal(mcu_bitrate_for_tile(INT32_MAX, INT32_MAX, INT32_MAX, 3000 * K), 3000 * K);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_voters_configured), cmocka_unit_test(percentile),
        cmocka_unit_test(clamping),             cmocka_unit_test(ttl_expiry),
        cmocka_unit_test(hysteresis),           cmocka_unit_test(forget),
        cmocka_unit_test(bad_arguments),        cmocka_unit_test(for_tile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
