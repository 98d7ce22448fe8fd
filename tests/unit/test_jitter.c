/* The jitter buffer: ordering, duplicates, lateness, gaps, NACK list, wrap, bounds,
 * adaptive delay and paced playout. */
#include <string.h>

#include "mcu/error.h"
#include "mcu/jitter.h"
#include "test_util.h"

#define MS 1000
#define CLOCK 90000

/* In these tests every frame starts with its first packet. */
static bool always_start(const uint8_t *payload, size_t len) { return len > 0; }

static mcu_jitter_t *video_jb(uint32_t min_ms, uint32_t max_packets)
{
    mcu_jitter_config_t c;
    mcu_jitter_config_video(&c, CLOCK);
    c.is_frame_start = always_start;
    c.min_delay_ms = min_ms;
    if (max_packets)
        c.max_packets = max_packets;
    mcu_jitter_t *jb;
    assert_int_equal(mcu_jitter_create(&c, &jb), MCU_OK);
    return jb;
}

/* A one-packet frame: payload byte = seq low byte. */
static int push1(mcu_jitter_t *jb, uint16_t seq, uint32_t ts, int64_t t)
{
    uint8_t b = (uint8_t)seq;
    return mcu_jitter_push(jb, seq, ts, true, &b, 1, t);
}

static void in_order_and_reorder(void **state)
{
    mcu_jitter_t *jb = video_jb(20, 0);
    mcu_jitter_frame_t f;
    assert_int_equal(push1(jb, 10, 0, 0), MCU_OK);
    assert_int_equal(mcu_jitter_pop(jb, 0, &f), MCU_OK);
    assert_int_equal(f.first_seq, 10);
    assert_true(f.complete);
    /* 12 before 11: 12 waits, both come out in order once 11 is in. */
    assert_int_equal(push1(jb, 12, 7200, 80 * MS), MCU_OK);
    assert_int_equal(mcu_jitter_pop(jb, 80 * MS, &f), MCU_ERR_AGAIN);
    assert_int_equal(push1(jb, 11, 3600, 81 * MS), MCU_OK);
    assert_int_equal(mcu_jitter_pop(jb, 81 * MS, &f), MCU_OK);
    assert_int_equal(f.first_seq, 11);
    assert_true(f.complete);
    assert_int_equal(f.lost_before, 0);
    const uint8_t *p;
    size_t len;
    mcu_jitter_frame_packet(jb, 0, &p, &len);
    assert_int_equal(len, 1);
    assert_int_equal(p[0], 11);
    assert_int_equal(mcu_jitter_pop(jb, 81 * MS, &f), MCU_OK);
    assert_int_equal(f.first_seq, 12);
    assert_int_equal(mcu_jitter_pop(jb, 81 * MS, &f), MCU_ERR_AGAIN);
    /* Duplicate of a held packet, and a packet whose frame already left. */
    assert_int_equal(push1(jb, 14, 14400, 90 * MS), MCU_OK);
    assert_int_equal(push1(jb, 14, 14400, 91 * MS), MCU_ERR_DUPLICATE);
    assert_int_equal(push1(jb, 11, 3600, 92 * MS), MCU_ERR_LATE);
    mcu_jitter_stats_t st;
    mcu_jitter_get_stats(jb, &st);
    assert_int_equal(st.duplicates, 1);
    assert_int_equal(st.late, 1);
    mcu_jitter_destroy(&jb);
    assert_null(jb);
}

static void gap_nack_and_give_up(void **state)
{
    mcu_jitter_t *jb = video_jb(50, 0);
    mcu_jitter_frame_t f;
    push1(jb, 100, 0, 0);
    assert_int_equal(mcu_jitter_pop(jb, 60 * MS, &f), MCU_OK);
    /* 101 and 102 missing. */
    push1(jb, 103, 3 * 3600, 120 * MS);
    uint16_t miss[8];
    assert_int_equal(mcu_jitter_missing(jb, miss, 8), 2);
    assert_int_equal(miss[0], 101);
    assert_int_equal(miss[1], 102);
    assert_int_equal(mcu_jitter_next_deadline(jb), 170 * MS);
    /* 101 is retransmitted in time. */
    push1(jb, 101, 3600, 140 * MS);
    assert_int_equal(mcu_jitter_pop(jb, 140 * MS, &f), MCU_OK);
    assert_int_equal(f.first_seq, 101);
    assert_int_equal(mcu_jitter_missing(jb, miss, 8), 1);
    /* The retransmission came 100 ms after its time: the wait grows to cover that. */
    mcu_jitter_stats_t st;
    mcu_jitter_get_stats(jb, &st);
    assert_int_equal(st.target_delay_us, 100 * MS + MCU_JITTER_MARGIN_US);
    int64_t deadline = 120 * MS + st.target_delay_us;
    assert_int_equal(mcu_jitter_next_deadline(jb), deadline);
    assert_int_equal(mcu_jitter_pop(jb, deadline - 1, &f), MCU_ERR_AGAIN);
    /* 102 never comes: given up at the deadline, 103 follows with the gap reported. */
    assert_int_equal(mcu_jitter_pop(jb, deadline, &f), MCU_OK);
    assert_int_equal(f.first_seq, 103);
    assert_int_equal(f.lost_before, 1);
    mcu_jitter_get_stats(jb, &st);
    assert_int_equal(st.lost, 1);
    mcu_jitter_destroy(&jb);
}

/* A frame whose middle packet is lost comes out once, incomplete, after the wait. */
static void hole_inside_frame(void **state)
{
    mcu_jitter_t *jb = video_jb(30, 0);
    mcu_jitter_frame_t f;
    uint8_t b = 0;
    mcu_jitter_push(jb, 1, 0, true, &b, 1, 0);
    assert_int_equal(mcu_jitter_pop(jb, 40 * MS, &f), MCU_OK);
    mcu_jitter_push(jb, 2, 3600, false, &b, 1, 40 * MS);
    mcu_jitter_push(jb, 4, 3600, true, &b, 1, 41 * MS); /* 3 lost */
    mcu_jitter_push(jb, 5, 7200, true, &b, 1, 80 * MS);
    assert_int_equal(mcu_jitter_pop(jb, 70 * MS, &f), MCU_ERR_AGAIN);
    assert_int_equal(mcu_jitter_pop(jb, 81 * MS, &f), MCU_OK);
    assert_int_equal(f.timestamp, 3600);
    assert_int_equal(f.n_packets, 2);
    assert_false(f.complete);
    assert_int_equal(mcu_jitter_pop(jb, 81 * MS, &f), MCU_OK);
    assert_int_equal(f.timestamp, 7200);
    assert_true(f.complete);
    mcu_jitter_destroy(&jb);
}

static void wrap_seq_and_ts(void **state)
{
    mcu_jitter_t *jb = video_jb(10, 0);
    mcu_jitter_frame_t f;
    uint32_t ts = 0xFFFFFFFFu - 3 * 3600;
    uint16_t seq = 65533;
    int64_t t = 0;
    int out = 0;
    for (int i = 0; i < 10; i++) {
        /* two packets a frame, sent in reverse order */
        uint8_t b = 0;
        assert_int_equal(mcu_jitter_push(jb, (uint16_t)(seq + 1), ts, true, &b, 1, t), MCU_OK);
        assert_int_equal(mcu_jitter_push(jb, seq, ts, false, &b, 1, t), MCU_OK);
        while (mcu_jitter_pop(jb, t + 20 * MS, &f) == MCU_OK) {
            assert_int_equal(f.first_seq, (uint16_t)(65533 + 2 * out));
            assert_int_equal(f.timestamp, (uint32_t)(0xFFFFFFFFu - 3 * 3600 + 3600u * (uint32_t)out));
            assert_int_equal(f.n_packets, 2);
            assert_true(f.complete);
            out++;
        }
        seq = (uint16_t)(seq + 2);
        ts += 3600;
        t += 40 * MS;
    }
    assert_int_equal(out, 10);
    mcu_jitter_destroy(&jb);
}

static void overflow_flushes(void **state)
{
    mcu_jitter_t *jb = video_jb(10, 16);
    mcu_jitter_frame_t f;
    push1(jb, 0, 0, 0);
    assert_int_equal(mcu_jitter_pop(jb, 20 * MS, &f), MCU_OK);
    /* 1 is lost and the buffer is polled late: 2..16 wait behind it, 17 overflows. */
    int rc = MCU_OK;
    for (uint16_t s = 2; s <= 17 && rc == MCU_OK; s++)
        rc = push1(jb, s, s * 3600u, 20 * MS);
    assert_int_equal(rc, MCU_ERR_OVERFLOW);
    mcu_jitter_stats_t st;
    mcu_jitter_get_stats(jb, &st);
    assert_int_equal(st.overflows, 1);
    assert_int_equal(st.packets_held, 1);
    assert_int_equal(mcu_jitter_pop(jb, 100 * MS, &f), MCU_OK);
    assert_true(f.keyframe_needed);
    /* A jump far ahead also restarts rather than holding a huge window. */
    assert_int_equal(push1(jb, 30000, 0, 200 * MS), MCU_ERR_OVERFLOW);
    mcu_jitter_destroy(&jb);

    /* Byte bound. */
    mcu_jitter_config_t c;
    mcu_jitter_config_video(&c, CLOCK);
    c.max_bytes = 3000;
    assert_int_equal(mcu_jitter_create(&c, &jb), MCU_OK);
    uint8_t big[1200] = {0};
    assert_int_equal(mcu_jitter_push(jb, 1, 0, false, big, sizeof big, 0), MCU_OK);
    assert_int_equal(mcu_jitter_push(jb, 2, 0, false, big, sizeof big, 0), MCU_OK);
    assert_int_equal(mcu_jitter_push(jb, 3, 0, false, big, sizeof big, 0), MCU_ERR_OVERFLOW);
    uint8_t huge[1501] = {0};
    assert_int_equal(mcu_jitter_push(jb, 4, 0, false, huge, sizeof huge, 0), MCU_ERR_TOO_BIG);
    mcu_jitter_destroy(&jb);
}

static void bad_config(void **state)
{
    mcu_jitter_config_t c;
    mcu_jitter_t *jb;
    mcu_jitter_config_video(&c, CLOCK);
    c.max_packets = MCU_JITTER_MAX_PACKETS + 1;
    assert_int_equal(mcu_jitter_create(&c, &jb), MCU_ERR_INVAL);
    mcu_jitter_config_video(&c, 0);
    assert_int_equal(mcu_jitter_create(&c, &jb), MCU_ERR_INVAL);
    mcu_jitter_config_video(&c, CLOCK);
    c.min_delay_ms = 500;
    c.max_delay_ms = 100;
    assert_int_equal(mcu_jitter_create(&c, &jb), MCU_ERR_INVAL);
}

/* The target follows measured lateness up, stays within bounds, and comes back down. */
static void adaptive_target(void **state)
{
    mcu_jitter_t *jb = video_jb(10, 0);
    mcu_jitter_frame_t f;
    mcu_jitter_stats_t st;
    test_rng_t r;
    test_rng_seed(&r, 7);
    uint16_t seq = 0;
    int64_t t = 0;
    for (int i = 0; i < 150; i++, t += 40 * MS) /* 6 s with up to 80 ms of jitter */
        push1(jb, seq++, (uint32_t)i * 3600, t + test_rng_below(&r, 80 * MS)),
            mcu_jitter_pop(jb, t, &f);
    mcu_jitter_get_stats(jb, &st);
    assert_true(st.target_delay_us >= 60 * MS && st.target_delay_us <= 90 * MS);
    for (int i = 150; i < 300; i++, t += 40 * MS) /* 6 s calm */
        push1(jb, seq++, (uint32_t)i * 3600, t), mcu_jitter_pop(jb, t, &f);
    mcu_jitter_get_stats(jb, &st);
    assert_true(st.target_delay_us <= 20 * MS);
    /* The upper bound holds under a huge delay spike; RTT raises the floor. */
    push1(jb, seq++, 300u * 3600, t + 2000 * MS);
    mcu_jitter_get_stats(jb, &st);
    assert_int_equal(st.target_delay_us, MCU_JITTER_DEFAULT_MAX_DELAY_MS * MS);
    mcu_jitter_reset(jb);
    mcu_jitter_set_rtt(jb, 100 * MS);
    push1(jb, 0, 0, 0);
    mcu_jitter_get_stats(jb, &st);
    assert_int_equal(st.target_delay_us, 150 * MS + MCU_JITTER_MARGIN_US);
    mcu_jitter_destroy(&jb);
}

/* Audio: each packet leaves at its playout time; a late burst comes out evenly paced. */
static void paced_audio(void **state)
{
    mcu_jitter_config_t c;
    mcu_jitter_config_audio(&c, 48000);
    c.min_delay_ms = 40;
    mcu_jitter_t *jb;
    assert_int_equal(mcu_jitter_create(&c, &jb), MCU_OK);
    mcu_jitter_frame_t f;
    int64_t out_at[16] = {0};
    int got = 0;
    for (int64_t t = 0; t <= 600 * MS; t += MS) {
        uint8_t b = 0;
        /* 0..4 on time (20 ms apart); 5..9 held up and arrive together at 180 ms;
         * 10 lost; 11..15 on time again. */
        if (t % (20 * MS) == 0 && t / (20 * MS) < 5)
            assert_int_equal(mcu_jitter_push(jb, (uint16_t)(t / (20 * MS)),
                                             (uint32_t)(t / (20 * MS)) * 960u, false, &b, 1, t),
                             MCU_OK);
        if (t == 180 * MS)
            for (uint16_t s = 5; s < 10; s++)
                assert_int_equal(mcu_jitter_push(jb, s, s * 960u, false, &b, 1, t), MCU_OK);
        if (t % (20 * MS) == 0 && t / (20 * MS) >= 11 && t / (20 * MS) <= 15) {
            uint16_t s = (uint16_t)(t / (20 * MS));
            assert_int_equal(mcu_jitter_push(jb, s, s * 960u, false, &b, 1, t), MCU_OK);
        }
        while (mcu_jitter_pop(jb, t, &f) == MCU_OK) {
            assert_true(f.first_seq < 16);
            out_at[f.first_seq] = t;
            if (f.first_seq == 11)
                assert_int_equal(f.lost_before, 1);
            got++;
        }
    }
    assert_int_equal(got, 15);
    /* On-time packets play at arrival + 40 ms. */
    for (int k = 0; k < 5; k++)
        assert_int_equal(out_at[k], k * 20 * MS + 40 * MS);
    /* The burst: the target grew to cover it, and it plays out 20 ms apart. */
    assert_true(out_at[5] >= 180 * MS);
    for (int k = 6; k < 10; k++)
        assert_int_equal(out_at[k] - out_at[k - 1], 20 * MS);
    for (int k = 12; k < 16; k++)
        assert_int_equal(out_at[k] - out_at[k - 1], 20 * MS);
    mcu_jitter_destroy(&jb);
}

/* Fillers (packets without payload) take their sequence numbers: nothing is missing,
 * the frames around them are complete and leave at once, the delay estimate ignores them. */
static void fillers(void **state)
{
    mcu_jitter_t *jb = video_jb(50, 0);
    mcu_jitter_frame_t f;
    assert_int_equal(push1(jb, 10, 0, 0), MCU_OK);
    /* Three probes carrying the last frame's timestamp, 30 ms after it. */
    for (uint16_t s = 11; s <= 13; s++)
        assert_int_equal(mcu_jitter_push(jb, s, 0, false, NULL, 0, 30 * MS), MCU_OK);
    assert_int_equal(push1(jb, 14, 3600, 40 * MS), MCU_OK);
    uint16_t miss[4];
    assert_int_equal(mcu_jitter_missing(jb, miss, 4), 0);
    assert_int_equal(mcu_jitter_pop(jb, 40 * MS, &f), MCU_OK);
    assert_int_equal(f.first_seq, 10);
    assert_true(f.complete);
    assert_int_equal(mcu_jitter_pop(jb, 40 * MS, &f), MCU_OK);
    assert_int_equal(f.first_seq, 14);
    assert_true(f.complete);
    assert_int_equal(f.lost_before, 0);
    assert_int_equal(f.n_packets, 1);
    assert_int_equal(mcu_jitter_pop(jb, 40 * MS, &f), MCU_ERR_AGAIN);
    /* A filler between two packets of one frame is stepped over too. */
    assert_int_equal(mcu_jitter_push(jb, 15, 7200, false, (const uint8_t[]){1}, 1, 80 * MS),
                     MCU_OK);
    assert_int_equal(mcu_jitter_push(jb, 16, 7200, false, NULL, 0, 80 * MS), MCU_OK);
    assert_int_equal(mcu_jitter_push(jb, 17, 7200, true, (const uint8_t[]){2}, 1, 80 * MS),
                     MCU_OK);
    assert_int_equal(mcu_jitter_pop(jb, 80 * MS, &f), MCU_OK);
    assert_true(f.complete);
    assert_int_equal(f.n_packets, 2);
    assert_int_equal(mcu_jitter_pop(jb, 80 * MS, &f), MCU_ERR_AGAIN); /* frees the frame */
    mcu_jitter_stats_t st;
    mcu_jitter_get_stats(jb, &st);
    assert_int_equal(st.fillers, 4);
    assert_int_equal(st.lost, 0);
    assert_int_equal(st.packets_held, 0);
    /* The probes came 30 ms after their timestamp: no lateness learnt from them. */
    assert_true(st.lateness_us < 30 * MS);
    mcu_jitter_destroy(&jb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fillers),
        cmocka_unit_test(in_order_and_reorder), cmocka_unit_test(gap_nack_and_give_up),
        cmocka_unit_test(hole_inside_frame),   cmocka_unit_test(wrap_seq_and_ts),
        cmocka_unit_test(overflow_flushes),    cmocka_unit_test(bad_config),
        cmocka_unit_test(adaptive_target),     cmocka_unit_test(paced_audio),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
