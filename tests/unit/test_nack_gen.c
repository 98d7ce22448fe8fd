/* The NACK generator: first NACK and retries, recovery and RTT, wrap, reorder,
 * overflow, restart, give-up, collect limits, forget_through, and a long random run
 * checked against the bounds and the bookkeeping. */
#include <string.h>

#include "mcu/error.h"
#include "mcu/nack_gen.h"
#include "test_util.h"

#define MS 1000

static size_t collect(mcu_nack_gen_t *g, int64_t now, int64_t rtt, uint16_t *out, size_t max)
{
    size_t n = mcu_nack_gen_collect(g, now, rtt, out, max);
    assert_true(n <= max);
    return n;
}

static void single_gap_retry_and_rtt(void **state)
{
    (void)state;
    mcu_nack_gen_t g;
    mcu_nack_gen_init(&g);
    uint16_t s[8];
    assert_int_equal(mcu_nack_gen_next_due(&g, 0), INT64_MAX);
    assert_int_equal(mcu_nack_gen_on_packet(&g, 100, false, 0), MCU_OK);
    assert_int_equal(mcu_nack_gen_on_packet(&g, 102, false, 10 * MS), MCU_OK);
    assert_int_equal(mcu_nack_gen_pending(&g), 1);
    assert_int_equal(g.stats.missing, 1);
    /* Due at once. */
    assert_int_equal(mcu_nack_gen_next_due(&g, 0), 10 * MS);
    assert_int_equal(collect(&g, 10 * MS, 0, s, 8), 1);
    assert_int_equal(s[0], 101);
    assert_int_equal(collect(&g, 10 * MS, 0, s, 8), 0);
    /* RTT unknown: retry after the minimum spacing. */
    assert_int_equal(mcu_nack_gen_next_due(&g, 0), (10 + MCU_NACK_MIN_RETRY_MS) * MS);
    /* A known RTT of 40 ms: 1.5 RTT. A short one: still the minimum. */
    assert_int_equal(mcu_nack_gen_next_due(&g, 40 * MS), 70 * MS);
    assert_int_equal(mcu_nack_gen_next_due(&g, 5 * MS), 30 * MS);
    assert_int_equal(collect(&g, 29 * MS, 0, s, 8), 0);
    assert_int_equal(collect(&g, 30 * MS, 0, s, 8), 1);
    assert_int_equal(s[0], 101);
    assert_int_equal(g.stats.requested, 1);
    assert_int_equal(g.stats.retries, 1);
    assert_int_equal(mcu_nack_gen_next_due(&g, 40 * MS), 90 * MS);
    assert_int_equal(collect(&g, 89 * MS, 40 * MS, s, 8), 0);
    /* The retransmission: removed, RTT measured from the first NACK. */
    assert_int_equal(mcu_nack_gen_on_packet(&g, 101, true, 50 * MS), MCU_OK);
    assert_int_equal(mcu_nack_gen_pending(&g), 0);
    assert_int_equal(g.stats.recovered, 1);
    assert_int_equal(g.stats.rtt_us, 40 * MS);
    assert_int_equal(mcu_nack_gen_next_due(&g, 0), INT64_MAX);
    /* A second sample moves the estimate by 1/8, and the measured RTT spaces retries. */
    mcu_nack_gen_on_packet(&g, 105, false, 100 * MS);
    assert_int_equal(collect(&g, 100 * MS, 0, s, 8), 2);
    assert_int_equal(s[0], 103);
    assert_int_equal(s[1], 104);
    mcu_nack_gen_on_packet(&g, 103, true, 180 * MS);
    assert_int_equal(g.stats.rtt_us, 45 * MS);
    assert_int_equal(mcu_nack_gen_next_due(&g, 0), 100 * MS + 45 * MS * 3 / 2);
    /* A duplicate changes nothing. */
    mcu_nack_gen_on_packet(&g, 103, true, 181 * MS);
    assert_int_equal(g.stats.recovered, 2);
    assert_int_equal(mcu_nack_gen_pending(&g), 1);
    mcu_nack_gen_on_packet(&g, 104, true, 200 * MS);
    assert_int_equal(g.stats.recovered, 3);
    assert_int_equal(g.stats.missing, 3);
}

static void wrap_with_holes(void **state)
{
    (void)state;
    mcu_nack_gen_t g;
    mcu_nack_gen_init(&g);
    uint16_t s[8];
    mcu_nack_gen_on_packet(&g, 65533, false, 0);
    assert_int_equal(mcu_nack_gen_on_packet(&g, 2, false, MS), MCU_OK);
    assert_int_equal(g.highest, 2);
    assert_int_equal(collect(&g, MS, 0, s, 8), 4);
    assert_int_equal(s[0], 65534);
    assert_int_equal(s[1], 65535);
    assert_int_equal(s[2], 0);
    assert_int_equal(s[3], 1);
    mcu_nack_gen_on_packet(&g, 0, true, 2 * MS);
    mcu_nack_gen_on_packet(&g, 65535, true, 3 * MS);
    assert_int_equal(mcu_nack_gen_pending(&g), 2);
    mcu_nack_gen_on_packet(&g, 5, false, 4 * MS); /* 3, 4 missing */
    assert_int_equal(mcu_nack_gen_pending(&g), 4);
    assert_int_equal(g.e[0].seq, 65534);
    assert_int_equal(g.e[1].seq, 1);
    assert_int_equal(g.e[2].seq, 3);
    assert_int_equal(g.e[3].seq, 4);
    /* Retries and new first NACKs come out oldest first across the wrap. */
    assert_int_equal(collect(&g, 30 * MS, 0, s, 8), 4);
    assert_int_equal(s[0], 65534);
    assert_int_equal(s[1], 1);
    assert_int_equal(s[2], 3);
    assert_int_equal(s[3], 4);
    assert_int_equal(g.stats.missing, 6);
    assert_int_equal(g.stats.recovered, 2);
}

/* Without RTX a NACKed packet that arrives is taken as its retransmission; once the
 * stream is seen to use RTX, only flagged retransmissions measure the round trip. */
static void rtt_with_and_without_rtx(void **state)
{
    (void)state;
    mcu_nack_gen_t g;
    mcu_nack_gen_init(&g);
    uint16_t s[8];
    mcu_nack_gen_on_packet(&g, 1, false, 0);
    mcu_nack_gen_on_packet(&g, 4, false, 0);
    assert_int_equal(collect(&g, 0, 0, s, 8), 2);
    mcu_nack_gen_on_packet(&g, 2, false, 24 * MS);
    assert_int_equal(g.stats.rtt_us, 24 * MS);
    assert_false(g.rtx_seen);
    mcu_nack_gen_on_packet(&g, 3, true, 32 * MS);
    assert_int_equal(g.stats.rtt_us, 25 * MS);
    assert_true(g.rtx_seen);
    /* Now a NACKed packet arriving unflagged is a late original: no sample. */
    mcu_nack_gen_on_packet(&g, 6, false, 40 * MS);
    assert_int_equal(collect(&g, 40 * MS, 0, s, 8), 1);
    mcu_nack_gen_on_packet(&g, 5, false, 41 * MS);
    assert_int_equal(g.stats.rtt_us, 25 * MS);
    assert_int_equal(g.stats.recovered, 3);
    /* A reset keeps what was learnt. */
    mcu_nack_gen_reset(&g);
    assert_true(g.rtx_seen);
    assert_int_equal(g.stats.rtt_us, 25 * MS);
}

/* A packet that arrives late but before anyone asked for it is never NACKed. */
static void reorder_before_due(void **state)
{
    (void)state;
    mcu_nack_gen_t g;
    mcu_nack_gen_init(&g);
    uint16_t s[8];
    mcu_nack_gen_on_packet(&g, 10, false, 0);
    mcu_nack_gen_on_packet(&g, 12, false, MS);
    mcu_nack_gen_on_packet(&g, 11, false, 2 * MS);
    assert_int_equal(collect(&g, 3 * MS, 0, s, 8), 0);
    assert_int_equal(g.stats.missing, 1);
    assert_int_equal(g.stats.recovered, 1);
    assert_int_equal(g.stats.requested, 0);
    assert_int_equal(g.stats.rtt_us, 0); /* not NACKed: no sample */
    /* Older than the highest and not awaited: ignored. */
    mcu_nack_gen_on_packet(&g, 9, false, 4 * MS);
    assert_int_equal(mcu_nack_gen_pending(&g), 0);
    assert_int_equal(g.highest, 12);
}

static void overflow_clears(void **state)
{
    (void)state;
    mcu_nack_gen_t g;
    mcu_nack_gen_init(&g);
    uint16_t s[8];
    mcu_nack_gen_on_packet(&g, 0, false, 0);
    assert_int_equal(mcu_nack_gen_on_packet(&g, 200, false, MS), MCU_OK);
    assert_int_equal(mcu_nack_gen_pending(&g), 199);
    /* 99 more would make 298 > 256. */
    assert_int_equal(mcu_nack_gen_on_packet(&g, 300, false, 2 * MS), MCU_ERR_OVERFLOW);
    assert_int_equal(mcu_nack_gen_pending(&g), 0);
    assert_int_equal(g.highest, 300);
    assert_int_equal(g.stats.overflows, 1);
    assert_int_equal(g.stats.forgotten, 199);
    assert_int_equal(g.stats.missing, 199);
    assert_int_equal(collect(&g, 2 * MS, 0, s, 8), 0);
    /* Tracking resumes from there. */
    assert_int_equal(mcu_nack_gen_on_packet(&g, 302, false, 3 * MS), MCU_OK);
    assert_int_equal(collect(&g, 3 * MS, 0, s, 8), 1);
    assert_int_equal(s[0], 301);
    /* Exactly full fits; one more does not. */
    mcu_nack_gen_init(&g);
    mcu_nack_gen_on_packet(&g, 0, false, 0);
    assert_int_equal(mcu_nack_gen_on_packet(&g, MCU_NACK_MAX_ENTRIES + 1, false, 0), MCU_OK);
    assert_int_equal(mcu_nack_gen_pending(&g), MCU_NACK_MAX_ENTRIES);
    assert_int_equal(mcu_nack_gen_on_packet(&g, MCU_NACK_MAX_ENTRIES + 3, false, 0),
                     MCU_ERR_OVERFLOW);
    /* A single hole larger than the list. */
    mcu_nack_gen_init(&g);
    mcu_nack_gen_on_packet(&g, 0, false, 0);
    assert_int_equal(mcu_nack_gen_on_packet(&g, 1000, false, 0), MCU_ERR_OVERFLOW);
    assert_int_equal(mcu_nack_gen_pending(&g), 0);
    assert_int_equal(g.stats.missing, 0);
}

static void restart_resets(void **state)
{
    (void)state;
    mcu_nack_gen_t g;
    mcu_nack_gen_init(&g);
    uint16_t s[8];
    mcu_nack_gen_on_packet(&g, 100, false, 0);
    mcu_nack_gen_on_packet(&g, 105, false, MS);
    assert_int_equal(mcu_nack_gen_pending(&g), 4);
    /* Forward by more than the gap. */
    uint16_t far = (uint16_t)(105 + MCU_NACK_RESTART_GAP + 1);
    assert_int_equal(mcu_nack_gen_on_packet(&g, far, false, 2 * MS), MCU_OK);
    assert_int_equal(mcu_nack_gen_pending(&g), 0);
    assert_int_equal(g.highest, far);
    assert_int_equal(g.stats.restarts, 1);
    assert_int_equal(g.stats.forgotten, 4);
    mcu_nack_gen_on_packet(&g, (uint16_t)(far + 1), false, 3 * MS);
    assert_int_equal(collect(&g, 3 * MS, 0, s, 8), 0);
    /* Far either way: a restart; then backward by more than the gap. */
    mcu_nack_gen_on_packet(&g, 65500, false, 4 * MS);
    assert_int_equal(g.stats.restarts, 2);
    mcu_nack_gen_on_packet(&g, (uint16_t)(65500 - MCU_NACK_RESTART_GAP - 1), false, 5 * MS);
    assert_int_equal(g.stats.restarts, 3);
    assert_int_equal(g.highest, (uint16_t)(65500 - MCU_NACK_RESTART_GAP - 1));
    /* A backward jump within the gap is just an old packet. */
    uint16_t h = g.highest;
    mcu_nack_gen_on_packet(&g, (uint16_t)(h - MCU_NACK_RESTART_GAP), false, 6 * MS);
    assert_int_equal(g.highest, h);
    assert_int_equal(g.stats.restarts, 3);
    /* A retransmission never means a restart. */
    mcu_nack_gen_on_packet(&g, (uint16_t)(h + 5000), true, 7 * MS);
    assert_int_equal(g.highest, h);
    assert_int_equal(g.stats.restarts, 3);
    /* Explicit reset keeps the statistics; a retransmission cannot start it. */
    mcu_nack_gen_on_packet(&g, (uint16_t)(h + 3), false, 8 * MS);
    assert_int_equal(mcu_nack_gen_pending(&g), 2);
    mcu_nack_gen_reset(&g);
    assert_int_equal(mcu_nack_gen_pending(&g), 0);
    assert_false(g.started);
    assert_int_equal(g.stats.restarts, 3);
    assert_int_equal(g.stats.forgotten, 6);
    mcu_nack_gen_on_packet(&g, 7, true, 9 * MS);
    assert_false(g.started);
    mcu_nack_gen_on_packet(&g, 7, false, 9 * MS);
    mcu_nack_gen_on_packet(&g, 9, false, 9 * MS);
    assert_int_equal(collect(&g, 9 * MS, 0, s, 8), 1);
    assert_int_equal(s[0], 8);
}

static void give_up_by_age(void **state)
{
    (void)state;
    mcu_nack_gen_t g;
    mcu_nack_gen_init(&g);
    uint16_t s[8];
    mcu_nack_gen_on_packet(&g, 0, false, 0);
    mcu_nack_gen_on_packet(&g, 2, false, 0);
    /* RTT 400 ms: the retry (600 ms) would come after the age limit. */
    assert_int_equal(collect(&g, 0, 400 * MS, s, 8), 1);
    assert_int_equal(mcu_nack_gen_next_due(&g, 400 * MS), INT64_MAX);
    assert_int_equal(collect(&g, MCU_NACK_MAX_AGE_MS * MS, 400 * MS, s, 8), 0);
    assert_int_equal(mcu_nack_gen_pending(&g), 1);
    assert_int_equal(collect(&g, MCU_NACK_MAX_AGE_MS * MS + 1, 400 * MS, s, 8), 0);
    assert_int_equal(mcu_nack_gen_pending(&g), 0);
    assert_int_equal(g.stats.given_up, 1);
    /* Never NACKed at all (collect not called for a long time): dropped, not sent. */
    mcu_nack_gen_on_packet(&g, 4, false, 1000 * MS);
    assert_int_equal(collect(&g, 1000 * MS + MCU_NACK_MAX_AGE_MS * MS + 1, 0, s, 8), 0);
    assert_int_equal(g.stats.given_up, 2);
    assert_int_equal(g.stats.requested, 1);
    /* The answer to a NACK given up arrives: ignored. */
    mcu_nack_gen_on_packet(&g, 3, true, 1600 * MS);
    assert_int_equal(g.stats.recovered, 0);
}

static void give_up_by_retries(void **state)
{
    (void)state;
    mcu_nack_gen_t g;
    mcu_nack_gen_init(&g);
    uint16_t s[8];
    mcu_nack_gen_on_packet(&g, 0, false, 0);
    mcu_nack_gen_on_packet(&g, 2, false, 0);
    int64_t t = 0;
    for (int k = 0; k < MCU_NACK_MAX_RETRIES; k++) {
        assert_int_equal(mcu_nack_gen_next_due(&g, 0), t);
        assert_int_equal(collect(&g, t, 0, s, 8), 1);
        assert_int_equal(s[0], 1);
        t += MCU_NACK_MIN_RETRY_MS * MS;
    }
    assert_int_equal(g.stats.requested, 1);
    assert_int_equal(g.stats.retries, MCU_NACK_MAX_RETRIES - 1);
    assert_int_equal(mcu_nack_gen_next_due(&g, 0), INT64_MAX);
    /* The last NACK gets a retry spacing to be answered, then the entry goes. */
    assert_int_equal(collect(&g, t - 1, 0, s, 8), 0);
    assert_int_equal(mcu_nack_gen_pending(&g), 1);
    assert_int_equal(collect(&g, t, 0, s, 8), 0);
    assert_int_equal(mcu_nack_gen_pending(&g), 0);
    assert_int_equal(g.stats.given_up, 1);
}

static void collect_max_and_order(void **state)
{
    (void)state;
    mcu_nack_gen_t g;
    mcu_nack_gen_init(&g);
    uint16_t s[16];
    mcu_nack_gen_on_packet(&g, 0, false, 0);
    mcu_nack_gen_on_packet(&g, 11, false, 0); /* 1..10 */
    assert_int_equal(collect(&g, 0, 0, s, 0), 0);
    assert_int_equal(collect(&g, 0, 0, s, 4), 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(s[i], 1 + i);
    assert_int_equal(mcu_nack_gen_next_due(&g, 0), 0); /* 5..10 still due */
    assert_int_equal(collect(&g, MS, 0, s, 4), 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(s[i], 5 + i);
    mcu_nack_gen_on_packet(&g, 14, false, 2 * MS); /* 12, 13 */
    assert_int_equal(collect(&g, 2 * MS, 0, s, 16), 4);
    assert_int_equal(s[0], 9);
    assert_int_equal(s[1], 10);
    assert_int_equal(s[2], 12);
    assert_int_equal(s[3], 13);
    /* Retries: 1..4 first (sent at 0), then the rest as they come due. */
    assert_int_equal(collect(&g, 20 * MS, 0, s, 16), 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(s[i], 1 + i);
    assert_int_equal(collect(&g, 22 * MS, 0, s, 3), 3);
    assert_int_equal(s[0], 5);
    assert_int_equal(s[2], 7);
    assert_int_equal(collect(&g, 22 * MS, 0, s, 16), 5);
    assert_int_equal(s[0], 8);
    assert_int_equal(s[4], 13);
    assert_int_equal(g.stats.requested, 12);
    assert_int_equal(g.stats.retries, 12);
}

static void forget_through(void **state)
{
    (void)state;
    mcu_nack_gen_t g;
    mcu_nack_gen_init(&g);
    uint16_t s[16];
    mcu_nack_gen_on_packet(&g, 65530, false, 0);
    mcu_nack_gen_on_packet(&g, 4, false, 0); /* 65531..65535, 0..3 */
    assert_int_equal(mcu_nack_gen_pending(&g), 9);
    mcu_nack_gen_forget_through(&g, 65533);
    assert_int_equal(mcu_nack_gen_pending(&g), 6);
    assert_int_equal(g.e[0].seq, 65534);
    mcu_nack_gen_forget_through(&g, 1);
    assert_int_equal(mcu_nack_gen_pending(&g), 2);
    assert_int_equal(collect(&g, 0, 0, s, 16), 2);
    assert_int_equal(s[0], 2);
    assert_int_equal(s[1], 3);
    /* Older than everything awaited: nothing to remove. */
    mcu_nack_gen_forget_through(&g, 60000);
    assert_int_equal(mcu_nack_gen_pending(&g), 2);
    assert_int_equal(g.stats.forgotten, 7);
    /* A forgotten packet that turns up is ignored. */
    mcu_nack_gen_on_packet(&g, 0, true, MS);
    assert_int_equal(g.stats.recovered, 0);
    /* At or after the highest: everything. */
    mcu_nack_gen_forget_through(&g, 10);
    assert_int_equal(mcu_nack_gen_pending(&g), 0);
    assert_int_equal(g.stats.forgotten, 9);
    mcu_nack_gen_forget_through(&g, 10); /* empty: no-op */
    assert_int_equal(g.stats.missing, 9);
}

/* ---- random run ---- */

#define R_PACKETS 100000
#define R_BASE 65000u          /* wraps early, and again later */
#define R_SPACING_US MS        /* one packet a millisecond */
#define R_JITTER_MS 10         /* delay 0..9 ms: reordering by up to ~10 positions */
#define R_RTX_DELAY_MS 30      /* NACK -> retransmission */
#define R_COLLECT_MS 5
#define R_COLLECT_MAX 32
#define R_RING 64              /* ms slots of scheduled arrivals */
#define R_SLOT_CAP 64

typedef struct {
    uint32_t ext[R_SLOT_CAP];
    bool rtx[R_SLOT_CAP];
    int n;
} r_slot_t;

static r_slot_t ring[R_RING];
static bool received[R_PACKETS];

static void schedule(int64_t at_ms, uint32_t ext, bool rtx)
{
    r_slot_t *sl = &ring[at_ms % R_RING];
    assert_true(sl->n < R_SLOT_CAP);
    sl->ext[sl->n] = ext;
    sl->rtx[sl->n] = rtx;
    sl->n++;
}

/* Bounds and order of the list; every awaited seq really is missing. */
static void check_list(const mcu_nack_gen_t *g, int64_t ext_high)
{
    assert_true(g->n <= MCU_NACK_MAX_ENTRIES);
    int32_t prev = MCU_NACK_RESTART_GAP + 1;
    for (size_t i = 0; i < g->n; i++) {
        int32_t b = (uint16_t)(g->highest - g->e[i].seq);
        assert_true(b >= 1 && b < prev);
        prev = b;
        assert_true(g->e[i].retries <= MCU_NACK_MAX_RETRIES);
        int64_t ext = ext_high - b;
        assert_true(ext >= 0);
        assert_false(received[ext]);
    }
}

static void random_run(uint64_t seed, uint32_t loss_pct, uint32_t rtx_loss_pct)
{
    test_rng_t rng;
    test_rng_seed(&rng, seed);
    memset(ring, 0, sizeof ring);
    memset(received, 0, sizeof received);
    mcu_nack_gen_t g;
    mcu_nack_gen_init(&g);
    int64_t ext_high = -1, ext_first = -1; /* the generator starts at the first arrival */
    uint64_t late_after_give_up = 0, nacks = 0;
    uint16_t s[R_COLLECT_MAX];
    int64_t end_ms = (int64_t)R_PACKETS + 2 * MCU_NACK_MAX_AGE_MS;
    for (int64_t t = 0; t < end_ms; t++) {
        int64_t now = t * R_SPACING_US;
        r_slot_t *sl = &ring[t % R_RING];
        for (int k = 0; k < sl->n; k++) {
            uint32_t ext = sl->ext[k];
            uint16_t seq = (uint16_t)(R_BASE + ext);
            bool first = !received[ext];
            uint64_t rec = g.stats.recovered;
            assert_int_equal(mcu_nack_gen_on_packet(&g, seq, sl->rtx[k], now), MCU_OK);
            if (first && (int64_t)ext < ext_high && (int64_t)ext > ext_first &&
                g.stats.recovered == rec)
                late_after_give_up++;
            if (ext_first < 0)
                ext_first = ext;
            received[ext] = true;
            if ((int64_t)ext > ext_high)
                ext_high = ext;
            check_list(&g, ext_high);
        }
        sl->n = 0;
        if (t < R_PACKETS && test_rng_below(&rng, 100) >= loss_pct) {
            schedule(t + test_rng_below(&rng, R_JITTER_MS), (uint32_t)t, false);
            if (test_rng_below(&rng, 100) == 0) /* 1% duplicated */
                schedule(t + test_rng_below(&rng, R_JITTER_MS), (uint32_t)t, false);
        }
        if (t % R_COLLECT_MS == 0) {
            size_t n = collect(&g, now, 0, s, R_COLLECT_MAX);
            nacks += n;
            for (size_t i = 0; i < n; i++) {
                int64_t ext = ext_high - (uint16_t)(g.highest - s[i]);
                assert_true(ext >= 0 && ext < ext_high);
                assert_false(received[ext]);
                if (i > 0) /* oldest first */
                    assert_true((int16_t)(uint16_t)(s[i] - s[i - 1]) > 0);
                if (test_rng_below(&rng, 100) >= rtx_loss_pct)
                    schedule(t + R_RTX_DELAY_MS, (uint32_t)ext, true);
            }
            check_list(&g, ext_high);
        }
    }
    /* Everything has aged out or arrived. */
    assert_int_equal(collect(&g, end_ms * R_SPACING_US, 0, s, R_COLLECT_MAX), 0);
    assert_int_equal(mcu_nack_gen_pending(&g), 0);
    const mcu_nack_stats_t *st = &g.stats;
    assert_int_equal(st->overflows, 0);
    assert_int_equal(st->restarts, 0);
    assert_int_equal(st->forgotten, 0);
    assert_int_equal(st->missing, st->recovered + st->given_up);
    assert_int_equal(st->requested + st->retries, nacks);
    assert_true(st->requested <= st->missing);
    /* Every packet that never arrived (between the first and the last to arrive) was
     * given up; the only other give-ups are packets whose answer came after the give-up. */
    uint64_t never = 0;
    for (int64_t e = ext_first + 1; e < ext_high; e++)
        never += !received[e];
    assert_int_equal(st->given_up, never + late_after_give_up);
    /* Originals lost ~loss_pct%: at least that many were noticed missing. */
    assert_true(st->missing >= (uint64_t)R_PACKETS * loss_pct / 100 * 9 / 10);
    /* The measured RTT is the 30 ms retransmission delay (late originals do not count
     * once RTX is seen), stretched by retransmissions that needed a retry. */
    assert_true(st->rtt_us >= (R_RTX_DELAY_MS - 1) * MS);
    assert_true(st->rtt_us <= MCU_NACK_MAX_AGE_MS * MS + R_RTX_DELAY_MS * MS);
    print_message("random seed %llu loss %u%% rtx loss %u%%: missing %llu recovered %llu "
                  "given up %llu (late %llu) nacks %llu rtt %lld us\n",
                  (unsigned long long)seed, loss_pct, rtx_loss_pct,
                  (unsigned long long)st->missing, (unsigned long long)st->recovered,
                  (unsigned long long)st->given_up, (unsigned long long)late_after_give_up,
                  (unsigned long long)nacks, (long long)st->rtt_us);
}

static void random_sequences(void **state)
{
    (void)state;
    random_run(1, 5, 5);
    /* Heavy retransmission loss: some packets run out of tries or age. */
    random_run(2, 5, 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(single_gap_retry_and_rtt), cmocka_unit_test(rtt_with_and_without_rtx),
        cmocka_unit_test(wrap_with_holes),
        cmocka_unit_test(reorder_before_due),       cmocka_unit_test(overflow_clears),
        cmocka_unit_test(restart_resets),           cmocka_unit_test(give_up_by_age),
        cmocka_unit_test(give_up_by_retries),       cmocka_unit_test(collect_max_and_order),
        cmocka_unit_test(forget_through),           cmocka_unit_test(random_sequences),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
