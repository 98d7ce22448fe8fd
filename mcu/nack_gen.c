#include "nack_gen.h"

#include <string.h>

#include "error.h"

#define US_PER_MS 1000
#define MAX_AGE_US ((int64_t)MCU_NACK_MAX_AGE_MS * US_PER_MS)
#define MIN_RETRY_US ((int64_t)MCU_NACK_MIN_RETRY_MS * US_PER_MS)
/* EWMA weight of a new RTT sample: 1/2^RTT_SHIFT (1/8, as RFC 6298 for SRTT). */
#define RTT_SHIFT 3

_Static_assert(MCU_NACK_MAX_RETRIES <= UINT8_MAX, "retries count in a uint8_t");
_Static_assert(MCU_NACK_RESTART_GAP < 32768, "restart gap within the signed 16-bit range");
_Static_assert(MCU_NACK_MAX_ENTRIES <= MCU_NACK_RESTART_GAP, "entries lie within the gap");

/* How far seq lies behind the highest seen (negative: ahead). */
static int32_t behind(const mcu_nack_gen_t *g, uint16_t seq)
{
    return (int16_t)(uint16_t)(g->highest - seq);
}

/* Retry spacing for a round trip; a round trip beyond the age limit spaces retries past
 * it anyway, so it is capped there (no overflow). */
static int64_t retry_spacing(const mcu_nack_gen_t *g, int64_t rtt_us)
{
    int64_t rtt = rtt_us > 0 ? rtt_us : g->stats.rtt_us;
    if (rtt > MAX_AGE_US)
        rtt = MAX_AGE_US;
    int64_t s = rtt * MCU_NACK_RETRY_RTT_PERCENT / 100;
    return s > MIN_RETRY_US ? s : MIN_RETRY_US;
}

/* Removes entries [0, k) counting them under *counter. */
static void drop_front(mcu_nack_gen_t *g, size_t k, uint64_t *counter)
{
    if (k == 0)
        return;
    *counter += k;
    memmove(&g->e[0], &g->e[k], (g->n - k) * sizeof g->e[0]);
    g->n -= k;
}

/* Index of the first entry not further behind than `dist`, i.e. the first with
 * behind(seq) <= dist. Entries are sorted oldest first, so behind() decreases. */
static size_t first_within(const mcu_nack_gen_t *g, int32_t dist)
{
    size_t lo = 0, hi = g->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (behind(g, g->e[mid].seq) > dist)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void mcu_nack_gen_init(mcu_nack_gen_t *g) { memset(g, 0, sizeof *g); }

void mcu_nack_gen_reset(mcu_nack_gen_t *g)
{
    g->stats.forgotten += g->n;
    g->n = 0;
    g->started = false;
    g->highest = 0;
}

static void on_awaited(mcu_nack_gen_t *g, size_t i, bool retransmission, int64_t now_us)
{
    const mcu_nack_entry_t *en = &g->e[i];
    if (en->retries > 0 && (retransmission || !g->rtx_seen) && now_us >= en->first_sent_us) {
        int64_t sample = now_us - en->first_sent_us;
        if (g->stats.rtt_us == 0)
            g->stats.rtt_us = sample > 0 ? sample : 1;
        else
            g->stats.rtt_us += (sample - g->stats.rtt_us) / (1 << RTT_SHIFT);
        if (g->stats.rtt_us <= 0)
            g->stats.rtt_us = 1;
    }
    g->stats.recovered++;
    memmove(&g->e[i], &g->e[i + 1], (g->n - i - 1) * sizeof g->e[0]);
    g->n--;
}

int mcu_nack_gen_on_packet(mcu_nack_gen_t *g, uint16_t seq, bool retransmission, int64_t now_us)
{
    if (retransmission)
        g->rtx_seen = true;
    if (!g->started) {
        if (retransmission)
            return MCU_OK; /* nothing to place it against */
        g->started = true;
        g->highest = seq;
        return MCU_OK;
    }
    int32_t d = -behind(g, seq); /* > 0: ahead of the highest */
    if (d > MCU_NACK_RESTART_GAP || d < -MCU_NACK_RESTART_GAP) {
        if (retransmission)
            return MCU_OK;
        mcu_nack_gen_reset(g);
        g->stats.restarts++;
        g->started = true;
        g->highest = seq;
        return MCU_OK;
    }
    if (d == 0)
        return MCU_OK; /* duplicate of the highest */
    if (d < 0) {
        size_t i = first_within(g, -d);
        if (i < g->n && g->e[i].seq == seq)
            on_awaited(g, i, retransmission, now_us);
        return MCU_OK; /* else a duplicate, or given up already */
    }

    /* Forward: highest+1 .. seq-1 are missing. */
    uint32_t hole = (uint32_t)d - 1;
    g->highest = seq;
    /* Entries now more than the restart gap behind could only arrive as a "restart". */
    drop_front(g, first_within(g, MCU_NACK_RESTART_GAP), &g->stats.given_up);
    if (hole == 0)
        return MCU_OK;
    if (g->n + hole > MCU_NACK_MAX_ENTRIES) {
        drop_front(g, g->n, &g->stats.forgotten);
        g->stats.overflows++;
        return MCU_ERR_OVERFLOW;
    }
    for (uint32_t k = hole; k >= 1; k--) {
        mcu_nack_entry_t *en = &g->e[g->n++];
        memset(en, 0, sizeof *en);
        en->seq = (uint16_t)(seq - k);
        en->noticed_us = now_us;
    }
    g->stats.missing += hole;
    return MCU_OK;
}

/* When an entry is next due, or INT64_MAX when it will be given up first. */
static int64_t entry_due(const mcu_nack_entry_t *en, int64_t spacing)
{
    if (en->retries == 0)
        return en->noticed_us;
    if (en->retries >= MCU_NACK_MAX_RETRIES)
        return INT64_MAX;
    int64_t due = en->sent_us + spacing;
    return due - en->noticed_us > MAX_AGE_US ? INT64_MAX : due;
}

size_t mcu_nack_gen_collect(mcu_nack_gen_t *g, int64_t now_us, int64_t rtt_us, uint16_t *seqs,
                            size_t max)
{
    int64_t spacing = retry_spacing(g, rtt_us);
    size_t out = 0, w = 0;
    for (size_t r = 0; r < g->n; r++) {
        mcu_nack_entry_t en = g->e[r];
        bool too_old = now_us - en.noticed_us > MAX_AGE_US;
        bool exhausted = en.retries >= MCU_NACK_MAX_RETRIES && now_us - en.sent_us >= spacing;
        if (too_old || exhausted) {
            g->stats.given_up++;
            continue;
        }
        if (out < max && en.retries < MCU_NACK_MAX_RETRIES &&
            (en.retries == 0 || now_us - en.sent_us >= spacing)) {
            seqs[out++] = en.seq;
            if (en.retries == 0) {
                en.first_sent_us = now_us;
                g->stats.requested++;
            } else {
                g->stats.retries++;
            }
            en.sent_us = now_us;
            en.retries++;
        }
        g->e[w++] = en;
    }
    g->n = w;
    return out;
}

int64_t mcu_nack_gen_next_due(const mcu_nack_gen_t *g, int64_t rtt_us)
{
    int64_t spacing = retry_spacing(g, rtt_us);
    int64_t best = INT64_MAX;
    for (size_t i = 0; i < g->n; i++) {
        int64_t due = entry_due(&g->e[i], spacing);
        if (due < best)
            best = due;
    }
    return best;
}

void mcu_nack_gen_forget_through(mcu_nack_gen_t *g, uint16_t seq)
{
    int32_t b = behind(g, seq);
    drop_front(g, b < 0 ? g->n : first_within(g, b - 1), &g->stats.forgotten);
}

size_t mcu_nack_gen_pending(const mcu_nack_gen_t *g) { return g->n; }

bool mcu_nack_gen_awaits(const mcu_nack_gen_t *g, uint16_t seq)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->e[i].seq == seq)
            return true;
    return false;
}
