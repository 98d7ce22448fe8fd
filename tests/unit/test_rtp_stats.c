/* RFC 3550 appendix A.1/A.3/A.8 source statistics. */
#include "mcu/error.h"
#include "mcu/rtp_stats.h"
#include "test_util.h"

static void probation_then_valid(void **state)
{
    mcu_rtp_stats_t s;
    mcu_rtp_stats_init(&s, 1, 90000, 100);
    assert_int_equal(mcu_rtp_stats_update(&s, 100, 10), MCU_ERR_PROBATION);
    assert_int_equal(mcu_rtp_stats_update(&s, 101, 10), MCU_OK);
    assert_int_equal(s.received, 1);
    assert_int_equal(mcu_rtp_stats_ext_max(&s), 101);
    /* Out of sequence during probation restarts it. */
    mcu_rtp_stats_init(&s, 1, 90000, 100);
    assert_int_equal(mcu_rtp_stats_update(&s, 100, 0), MCU_ERR_PROBATION);
    assert_int_equal(mcu_rtp_stats_update(&s, 105, 0), MCU_ERR_PROBATION);
    assert_int_equal(mcu_rtp_stats_update(&s, 106, 0), MCU_OK);
}

static void wrap_and_loss(void **state)
{
    mcu_rtp_stats_t s;
    mcu_rtp_stats_init(&s, 7, 90000, 65530);
    mcu_rtp_stats_update(&s, 65530, 0);
    uint32_t received = 0;
    for (uint32_t i = 65531; i < 65536 + 100; i++) {
        if (i % 10 == 3)
            continue; /* lose one in ten */
        assert_int_equal(mcu_rtp_stats_update(&s, (uint16_t)i, 0), MCU_OK);
        received++;
    }
    assert_int_equal(mcu_rtp_stats_ext_max(&s), 65536 + 99);
    assert_int_equal(s.cycles, 65536);
    int64_t expected = 65536 + 99 - 65531 + 1;
    assert_int_equal(mcu_rtp_stats_lost(&s), expected - received);

    mcu_rtcp_report_block_t rb;
    mcu_rtp_stats_report(&s, 0, &rb);
    assert_int_equal(rb.ssrc, 7);
    assert_int_equal(rb.ext_highest_seq, 65536 + 99);
    assert_int_equal(rb.cumulative_lost, expected - received);
    /* lost/expected = 10/105 -> 24/256 */
    assert_int_equal(rb.fraction_lost, (uint8_t)(((expected - received) << 8) / expected));
    /* Next interval without loss: fraction 0. */
    for (uint32_t i = 65536 + 100; i < 65536 + 200; i++)
        mcu_rtp_stats_update(&s, (uint16_t)i, 0);
    mcu_rtp_stats_report(&s, 0, &rb);
    assert_int_equal(rb.fraction_lost, 0);
}

static void duplicates_and_misorder(void **state)
{
    mcu_rtp_stats_t s;
    mcu_rtp_stats_init(&s, 7, 90000, 10);
    mcu_rtp_stats_update(&s, 10, 0);
    mcu_rtp_stats_update(&s, 11, 0);
    mcu_rtp_stats_update(&s, 13, 0);
    mcu_rtp_stats_update(&s, 12, 0); /* reordered */
    mcu_rtp_stats_update(&s, 12, 0); /* duplicate: counted, loss goes negative */
    assert_int_equal(mcu_rtp_stats_ext_max(&s), 13);
    assert_int_equal(mcu_rtp_stats_lost(&s), -1);
    mcu_rtcp_report_block_t rb;
    mcu_rtp_stats_report(&s, 0, &rb);
    assert_int_equal(rb.cumulative_lost, -1);
    assert_int_equal(rb.fraction_lost, 0);
}

static void restart_after_jump(void **state)
{
    mcu_rtp_stats_t s;
    mcu_rtp_stats_init(&s, 7, 90000, 1000);
    mcu_rtp_stats_update(&s, 1000, 0);
    mcu_rtp_stats_update(&s, 1001, 0);
    /* A jump beyond MAX_DROPOUT is dropped once, then accepted as a restart. */
    assert_int_equal(mcu_rtp_stats_update(&s, 40000, 0), MCU_ERR_SEQ_JUMP);
    assert_int_equal(mcu_rtp_stats_update(&s, 40001, 0), MCU_OK);
    assert_int_equal(s.resyncs, 1);
    assert_int_equal(s.base_seq, 40001);
    /* A jump back by less than MAX_MISORDER is a late packet, not a restart. */
    assert_int_equal(mcu_rtp_stats_update(&s, 39950, 0), MCU_OK);
    assert_int_equal(s.resyncs, 1);
}

static void jitter_a8(void **state)
{
    mcu_rtp_stats_t s;
    mcu_rtp_stats_init(&s, 1, 90000, 0);
    /* Constant transit: jitter stays 0. */
    for (int i = 0; i < 50; i++)
        mcu_rtp_stats_jitter(&s, (uint32_t)(i * 3600), 1000000 + i * 40000);
    assert_int_equal(mcu_rtp_stats_jitter_units(&s), 0);
    /* Alternating +-10 ms transit: |D| = 1800 units each packet; J converges to 1800. */
    for (int i = 50; i < 400; i++)
        mcu_rtp_stats_jitter(&s, (uint32_t)(i * 3600), 1000000 + i * 40000 + (i % 2) * 20000);
    uint32_t j = mcu_rtp_stats_jitter_units(&s);
    assert_true(j >= 1790 && j <= 1800);
    /* Timestamp wrap does not disturb it. */
    mcu_rtp_stats_init(&s, 1, 90000, 0);
    for (int i = 0; i < 50; i++)
        mcu_rtp_stats_jitter(&s, (uint32_t)(0xFFFF0000u + (uint32_t)i * 3600), i * 40000);
    assert_int_equal(mcu_rtp_stats_jitter_units(&s), 0);
}

static void lsr_dlsr(void **state)
{
    mcu_rtp_stats_t s;
    mcu_rtp_stats_init(&s, 1, 90000, 0);
    mcu_rtp_stats_on_sr(&s, 0x1122334455667788ull, 1000000);
    mcu_rtcp_report_block_t rb;
    mcu_rtp_stats_report(&s, 1500000, &rb);
    assert_int_equal(rb.lsr, 0x33445566);
    assert_int_equal(rb.dlsr, 32768); /* 0.5 s */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(probation_then_valid), cmocka_unit_test(wrap_and_loss),
        cmocka_unit_test(duplicates_and_misorder), cmocka_unit_test(restart_after_jump),
        cmocka_unit_test(jitter_a8),            cmocka_unit_test(lsr_dlsr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
