/*
 * Unit tests of mcu/slots (speaker tracking with hold time, slot assignment) and
 * mcu/control (pinning, the state file round trip).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mcu/control.h"
#include "mcu/error.h"
#include "mcu/slots.h"

#define N 6
#define TICK_MS 20

static mcu_config_t cfg;

static int setup(void **state)
{
    mcu_config_default(&cfg);
    cfg.n_sites = N;
    return 0;
}

/* Runs `ms` of audio ticks with one site talking at `db` (or nobody: site -1). Returns
 * how many times the speaker changed. */
static int talk(mcu_speaker_t *sp, int64_t *now, int ms, int site, float db, int hold_ms)
{
    float level[MCU_MAX_SITES];
    bool talking[MCU_MAX_SITES] = {0};
    for (int i = 0; i < N; i++)
        level[i] = -100.0f;
    if (site >= 0) {
        level[site] = db;
        talking[site] = true;
    }
    int changes = 0;
    for (int t = 0; t < ms; t += TICK_MS) {
        *now += TICK_MS;
        changes += mcu_speaker_update(sp, *now, hold_ms, level, talking, NULL);
    }
    return changes;
}

static void test_speaker_needs_confirmation_and_holds(void **state)
{
    mcu_speaker_t sp;
    mcu_speaker_init(&sp, N);
    int64_t now = 0;
    assert_int_equal(sp.active, -1);
    /* A cough (300 ms) does not take the floor. */
    assert_int_equal(talk(&sp, &now, 300, 3, -20, 2000), 0);
    assert_int_equal(sp.active, -1);
    /* A sentence does, after MCU_SPEAKER_CONFIRM_MS. */
    assert_int_equal(talk(&sp, &now, 2000, 3, -20, 2000), 1);
    assert_int_equal(sp.active, 3);
    assert_int_equal(sp.order[0], 3);
    /* Another site right away: held for 2 s from the switch, then it takes over. */
    int64_t switched = sp.active_since_ms;
    assert_int_equal(talk(&sp, &now, 1000, 1, -20, 5000), 0);
    assert_int_equal(sp.active, 3);
    while (sp.active == 3)
        talk(&sp, &now, TICK_MS, 1, -20, 5000);
    assert_true(now - switched >= 5000);
    assert_int_equal(sp.order[0], 1);
    assert_int_equal(sp.order[1], 3);
    /* Silence keeps the last speaker. */
    assert_int_equal(talk(&sp, &now, 10000, -1, 0, 2000), 0);
    assert_int_equal(sp.active, 1);
}

static void test_alternating_voices_never_flap(void **state)
{
    mcu_speaker_t sp;
    mcu_speaker_init(&sp, N);
    int64_t now = 0;
    int changes = 0;
    /* Two voices swapping every 300 ms for a minute: neither leads long enough. */
    for (int k = 0; k < 200; k++)
        changes += talk(&sp, &now, 300, k % 2 ? 2 : 4, -20, 2000);
    assert_int_equal(changes, 0);
    /* Turns of 3 s with a 2 s hold: at most one switch per turn. */
    changes = 0;
    for (int k = 0; k < 20; k++)
        changes += talk(&sp, &now, 3000, k % 2 ? 2 : 4, -20, 2000);
    assert_in_range(changes, 1, 20);
}

static void test_assignment_order(void **state)
{
    mcu_control_t ctl;
    mcu_control_default(&ctl, &cfg);
    mcu_speaker_t sp;
    mcu_speaker_init(&sp, N);
    mcu_rolling_t roll;
    mcu_rolling_init(&roll);
    int show[MCU_LAYOUT_MAX_CELLS];

    /* All auto: configuration order, extra slots empty. */
    mcu_slots_assign(&ctl, N, 9, false, &sp, &roll, 0, show);
    for (int i = 0; i < 6; i++)
        assert_int_equal(show[i], i);
    assert_int_equal(show[6], -1);

    /* Pin site 5 to slot 0: the others fill the rest in order, site 5 once. */
    mcu_control_pin(&ctl, 0, 5);
    mcu_slots_assign(&ctl, N, 6, false, &sp, &roll, 0, show);
    int want[] = {5, 0, 1, 2, 3, 4};
    for (int i = 0; i < 6; i++)
        assert_int_equal(show[i], want[i]);

    /* Pinning the same site elsewhere moves it. */
    mcu_control_pin(&ctl, 2, 5);
    assert_int_equal(ctl.slots[0].mode, MCU_SLOT_AUTO);
    mcu_slots_assign(&ctl, N, 6, false, &sp, &roll, 0, show);
    assert_int_equal(show[2], 5);
    assert_int_equal(show[0], 0);

    /* Speaker layout: the large slot follows the most recent speaker. */
    mcu_control_default(&ctl, &cfg);
    int64_t now = 0;
    talk(&sp, &now, 2000, 4, -20, 0);
    mcu_slots_assign(&ctl, N, 6, true, &sp, &roll, now, show);
    assert_int_equal(show[0], 4);
    int rest[] = {0, 1, 2, 3, 5};
    for (int i = 0; i < 5; i++)
        assert_int_equal(show[1 + i], rest[i]);

    /* A pinned site is not also in a loudest slot... */
    ctl.slots[1] = (mcu_slot_t){MCU_SLOT_LOUDEST, -1};
    mcu_control_pin(&ctl, 3, 4);
    mcu_slots_assign(&ctl, N, 6, false, &sp, &roll, now, show);
    assert_int_equal(show[3], 4);
    assert_int_not_equal(show[1], 4);
    /* ...unless the setting says so. */
    ctl.speaker.pinned_in_loudest = true;
    mcu_slots_assign(&ctl, N, 6, false, &sp, &roll, now, show);
    assert_int_equal(show[3], 4);
    assert_int_equal(show[1], 4);

    /* Blank shows nothing. */
    mcu_control_default(&ctl, &cfg);
    ctl.slots[0] = (mcu_slot_t){MCU_SLOT_BLANK, -1};
    mcu_slots_assign(&ctl, N, 6, false, &sp, &roll, now, show);
    assert_int_equal(show[0], -1);
    assert_int_equal(show[1], 0);
}

static void test_rolling_takes_turns(void **state)
{
    mcu_control_t ctl;
    mcu_control_default(&ctl, &cfg);
    ctl.speaker.rolling_interval_ms = 1000;
    mcu_speaker_t sp;
    mcu_speaker_init(&sp, N);
    mcu_rolling_t roll;
    mcu_rolling_init(&roll);
    int show[MCU_LAYOUT_MAX_CELLS];
    /* grid4: slots 0-1 pinned to 0 and 1, slot 2 rolling, slot 3 blank. Sites 2..5
     * take turns in slot 2, one per second. */
    mcu_control_pin(&ctl, 0, 0);
    mcu_control_pin(&ctl, 1, 1);
    ctl.slots[2] = (mcu_slot_t){MCU_SLOT_ROLLING, -1};
    ctl.slots[3] = (mcu_slot_t){MCU_SLOT_BLANK, -1};
    int seen[N] = {0};
    for (int64_t t = 0; t < 8000; t += 40) {
        mcu_slots_assign(&ctl, N, 4, false, &sp, &roll, t, show);
        assert_in_range(show[2], 2, 5);
        seen[show[2]]++;
        assert_int_equal(show[3], -1);
    }
    for (int i = 2; i < N; i++)
        assert_in_range(seen[i], 40, 60); /* 2 s each of the 8 s, at 25 ticks/s */
}

static void test_state_file_round_trip(void **state)
{
    mcu_control_t ctl, back;
    mcu_control_default(&ctl, &cfg);
    ctl.layout_auto = false;
    ctl.preset = MCU_LAYOUT_SPEAKER_1_5;
    mcu_control_pin(&ctl, 0, 5);
    ctl.slots[1] = (mcu_slot_t){MCU_SLOT_LOUDEST, -1};
    ctl.sites[2].audio_muted = true;
    ctl.sites[3].gain = 2.5f;
    snprintf(ctl.sites[4].label, sizeof ctl.sites[4].label, "Khánh Thượng");
    ctl.speaker.hold_ms = 3500;
    char path[] = "/tmp/mcu-state-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(mcu_control_save(&ctl, &cfg, path), MCU_OK);
    char why[256];
    mcu_control_default(&back, &cfg);
    assert_int_equal(mcu_control_load(path, &cfg, &back, why, sizeof why), MCU_OK);
    assert_memory_equal(&back, &ctl, sizeof ctl);

    /* A site the config no longer has is skipped; its pin becomes auto. */
    mcu_config_t fewer = cfg;
    fewer.n_sites = 5;
    mcu_control_default(&back, &fewer);
    assert_int_equal(mcu_control_load(path, &fewer, &back, why, sizeof why), MCU_OK);
    assert_int_equal(back.slots[0].mode, MCU_SLOT_AUTO);
    assert_true(back.sites[2].audio_muted);

    /* A broken file leaves the state untouched and says why. */
    FILE *f = fopen(path, "w");
    fputs("{\"layout\": {\"preset\": \"grid7\"}}", f);
    fclose(f);
    mcu_control_default(&back, &cfg);
    mcu_control_t before = back;
    assert_int_equal(mcu_control_load(path, &cfg, &back, why, sizeof why), MCU_ERR_CONFIG);
    assert_memory_equal(&back, &before, sizeof back);
    assert_non_null(strstr(why, "preset"));
    unlink(path);
    assert_int_equal(mcu_control_load(path, &cfg, &back, why, sizeof why), MCU_ERR_NOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_speaker_needs_confirmation_and_holds),
        cmocka_unit_test(test_alternating_voices_never_flap),
        cmocka_unit_test(test_assignment_order),
        cmocka_unit_test(test_rolling_takes_turns),
        cmocka_unit_test(test_state_file_round_trip),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
