/*
 * udp_impair: a UDP impairment relay for integration tests on 127.0.0.1 (a small netem
 * in user space, plus a spoofed-source flooder).
 *
 *   udp_impair --pair LISTEN:TO[:OUT] [--pair ...] [options]
 *   udp_impair LISTEN_PORT TO_PORT LOSS_PERCENT SEED SECONDS      (shorthand, see below)
 *
 * Each --pair (at most MAX_PAIRS) relays one stream:
 *   socket A is bound to 127.0.0.1:LISTEN; the sender sends there;
 *   socket B is bound to 127.0.0.1:OUT (OUT absent or 0: an ephemeral port) and forwards
 *   everything received on A to 127.0.0.1:TO. With a fixed OUT the receiver sees the same
 *   source address:port across restarts of the relay.
 * Datagrams arriving on B (RTCP, or media coming back from the receiver) are sent out of
 * A to whichever address last sent to A (the reverse direction). If nobody has sent to A
 * yet they are dropped. The forward direction gets the impairments below; the reverse
 * direction is forwarded untouched unless --both is given (the outage window always
 * applies to both directions).
 *
 * Options:
 *   --pair LISTEN:TO[:OUT]  a relayed stream (repeatable, 1..MAX_PAIRS; required).
 *   --seed N                PRNG seed (default 1). Each direction of each pair has its own
 *                           xorshift64* generator derived from N, and every random decision
 *                           of that direction is drawn from it, so the same packet sequence
 *                           gives the same decisions (the --burst-ms model also depends on
 *                           arrival times, since its state durations are wall-clock times).
 *                           The flooder has a generator of its own so that it does not
 *                           perturb the relay's decisions.
 *   --loss PCT              uniform random loss, PCT in 0..100 (fractional allowed).
 *   --burst-ms MS           with --loss: time-based Gilbert-Elliott burst loss instead of
 *                           uniform loss. A bad state drops everything and lasts an
 *                           exponentially distributed time with mean MS; a good state drops
 *                           nothing and lasts an exponential time with mean
 *                           MS*(100-PCT)/PCT, so the long-run share of time (and, at a
 *                           steady packet rate, of packets) lost is PCT. The first state is
 *                           drawn with the stationary probabilities. Clock: CLOCK_MONOTONIC.
 *   --ge P,R,H,K            classic per-packet Gilbert-Elliott: P = good->bad transition
 *                           probability, R = bad->good, H = delivery probability in the bad
 *                           state, K = delivery probability in the good state (each 0..1).
 *                           Each packet is delivered or not by the current state, then the
 *                           state may change. Starts good. Excludes --loss and --burst-ms.
 *   --delay MS              fixed one-way delay in milliseconds (fractional allowed).
 *   --jitter MS             plus a uniform random offset in [-MS, +MS] per packet (the
 *                           total delay is clamped at 0). Packets leave in due-time order,
 *                           so jitter reorders packets, as with netem.
 *   --reorder PCT           that share of packets is held an extra --reorder-ms so that
 *                           later packets overtake it.
 *   --reorder-ms MS         the extra hold for --reorder (default DEFAULT_REORDER_MS).
 *   --dup PCT               that share of packets is sent twice, the copy DUP_GAP_NS later.
 *   --rate KBPS             token-bucket rate limit (kilobits per second, 1000 bits) with a
 *                           bucket of RATE_BURST_BYTES; packets that do not conform wait in
 *                           a queue, which is bounded by --queue-ms; beyond it: tail drop.
 *   --queue-ms MS           the rate limiter's queue bound, as queueing time at the rate
 *                           (default DEFAULT_QUEUE_MS).
 *   --outage-at S           start of an outage, seconds since start (fractional allowed);
 *   --outage-for S          its length. During [S, S + length) everything is dropped in both
 *                           directions, on arrival and on departure (a packet delayed into
 *                           the window is dropped too). --outage-for alone starts at 0.
 *   --flood-pps N           from socket B of the FIRST pair (the same source address:port
 *                           as the genuine forwarded stream: a spoofed-source attacker),
 *                           send N datagrams/s to its TO, alternating (a) a replay of one of
 *                           the last REPLAY_RING forwarded datagrams, picked uniformly, and
 *                           (b) a random datagram of FLOOD_MIN_BYTES..FLOOD_MAX_BYTES whose
 *                           first byte is 0x80 and second byte the payload type of the most
 *                           recent genuine packet (96 before any), the rest random. Before
 *                           anything has been forwarded only (b) is sent. Sent with
 *                           sendmmsg in batches of up to FLOOD_BATCH_MAX against an absolute
 *                           schedule (so lateness does not accumulate).
 *   --flood-start S         when the flood starts, seconds since start (default 0).
 *   --flood-for S           how long it lasts (default: until exit).
 *   --hold-ms MS            a bursty link (Wi-Fi aggregation, a cellular scheduler, a
 *                           relay that batches): packets leave only on a grid of MS
 *                           milliseconds (from start), each at the first grid point at or
 *                           after the time it would have left, so everything that came
 *                           within one period goes out back to back. After the other
 *                           delays; order is kept.
 *   --both                  impair the reverse direction too (loss, delay, jitter, reorder,
 *                           duplication and rate, with its own generator and state).
 *   --seconds S             run time (default: until SIGTERM or SIGINT).
 *   --help                  this text.
 *
 * Shorthand: exactly five positional arguments LISTEN_PORT TO_PORT LOSS_PERCENT SEED
 * SECONDS mean --pair LISTEN_PORT:TO_PORT --loss LOSS_PERCENT --seed SEED --seconds SECONDS.
 *
 * Output: nothing on stdout until exit (on a signal or after --seconds), then one line of
 * JSON, and exit status 0:
 *   {"forward_in":..,"forwarded":..,"lost":..,"duplicated":..,"reordered":..,
 *    "rate_dropped":..,"outage_dropped":..,"reverse_in":..,"reverse_forwarded":..,
 *    "flood_sent":..,"flood_seconds":..,"oversize_dropped":..,"queued_at_exit":..}
 * The first seven and the last two count the forward direction of all pairs:
 *   forward_in        datagrams received on the A sockets;
 *   forwarded         datagrams sent to TO, duplicate copies included;
 *   lost              dropped by the loss model (--loss, --burst-ms, --ge);
 *   duplicated        extra copies sent (--dup);
 *   reordered         packets held back by --reorder;
 *   rate_dropped      dropped by the rate limiter's queue bound, because the delay queue
 *                     was full (SLOT_COUNT packets), or because the kernel refused the send;
 *   outage_dropped    dropped by the outage window;
 *   oversize_dropped  larger than a slot (SLOT_BYTES), dropped;
 *   queued_at_exit    still waiting in the delay queue at exit (discarded).
 *   So forward_in = forwarded - duplicated + lost + rate_dropped + outage_dropped
 *                   + oversize_dropped + queued_at_exit.
 *   queued_at_exit counts originals only, and a duplicate copy that could not be sent
 *   is not counted anywhere, so the identity holds exactly.
 *   reverse_in, reverse_forwarded: the reverse direction (all its drops, whatever the
 *                     reason, are the difference; with --both, reverse_forwarded also
 *                     counts duplicate copies).
 *   flood_sent        flood datagrams the kernel accepted; flood_seconds: how long the
 *                     flood window actually ran, so the achieved rate is their ratio.
 * Errors go to stderr; exit status 2 for a bad option (the message names it), 1 for a
 * socket error.
 *
 * Single-threaded: ppoll() on all sockets with a timeout of the time until the next due
 * packet or flood batch (ppoll rather than poll for sub-millisecond timeouts); short waits
 * for a flood batch use clock_nanosleep(TIMER_ABSTIME). No libm: the logarithm for the
 * exponential draws is computed here.
 */
/* sendmmsg and ppoll are GNU extensions; the project's own flags define only
 * _POSIX_C_SOURCE and _DEFAULT_SOURCE. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TOOL_NAME "udp_impair"
#include "tool_common.h"

/* Streams one relay can carry: a conference test has a handful of sites. */
#define MAX_PAIRS 8
/* Packets that can wait in the delay queue at once (shared by all pairs and both
 * directions). 8192 holds one second of delay at 8000 packets/s, twenty times a 720p
 * stream's packet rate; beyond it packets are dropped and counted as rate_dropped. */
#define SLOT_COUNT 8192
/* Bytes per queued packet: RTP in these tests fits a 1500-byte MTU; a power of two above
 * it. Larger datagrams (UDP allows up to 65535) are dropped and counted. */
#define SLOT_BYTES 2048
/* Socket send and receive buffers: room for a few thousand full-size packets, so a flood
 * or a burst of released packets does not overflow the kernel queues. */
#define SOCKET_BUFFER_BYTES (4 * 1024 * 1024)
/* Forwarded datagrams remembered for the flooder's replays. */
#define REPLAY_RING 512
/* Largest sendmmsg batch of the flooder. */
#define FLOOD_BATCH_MAX 64
/* The flooder wakes about this often (batch = rate x tick, 1..FLOOD_BATCH_MAX), so low
 * rates are sent smoothly and high rates in full batches. */
#define FLOOD_TICK_NS 1000000ull
/* Bounds of the flooder's random datagrams: an RTP header plus a little, up to a typical
 * video packet size. */
#define FLOOD_MIN_BYTES 60
#define FLOOD_MAX_BYTES 1200
/* Highest accepted flood rate: far above what loopback and one core can carry. */
#define FLOOD_MAX_PPS 10000000.0
/* Batches the flooder may send in one loop turn when behind schedule, so the relay keeps
 * being serviced while it catches up. */
#define FLOOD_CATCHUP_BATCHES 16
/* When the next flood batch is nearer than this and no socket is readable, sleep to it
 * with clock_nanosleep(TIMER_ABSTIME) rather than ppoll. */
#define FLOOD_NANOSLEEP_NS 200000ull
/* Payload type assumed for the flooder's random datagrams before any genuine packet. */
#define DEFAULT_FLOOD_PT 96
/* The gap between a packet and its duplicate. */
#define DUP_GAP_NS 1000000ull
/* Default extra hold of a reordered packet: more than a frame interval at 30 fps. */
#define DEFAULT_REORDER_MS 30.0
/* Default bound of the rate limiter's queue, as queueing time at the limit rate. */
#define DEFAULT_QUEUE_MS 200.0
/* Token-bucket depth: two full-size packets may pass back to back above the rate, so an
 * isolated packet is not delayed by its own serialisation time. */
#define RATE_BURST_BYTES 3000
/* Largest accepted rate limit (kbit/s): 10 Gbit/s. */
#define MAX_RATE_KBPS 10000000.0
/* Largest accepted time option (ms for delays, s for windows): one day. */
#define MAX_MS 86400000.0
#define MAX_SECONDS 86400.0
/* Datagrams read from one socket per loop turn, so a busy socket cannot starve the
 * schedule of the others. */
#define READ_BUDGET 256
/* Timer slack requested from the kernel: 1 us, so timed wake-ups are not delayed by the
 * default 50 us slack (that matters for pacing the flood and for jitter). */
#define TIMER_SLACK_NS 1000

/* Unit conversions. */
#define NS_PER_MS 1000000.0
#define NS_PER_S 1000000000.0

enum { DIR_FWD = 0, DIR_REV = 1 };

struct config {
    double loss_pct, burst_ms;
    bool ge;
    double ge_p, ge_r, ge_h, ge_k;
    double delay_ms, jitter_ms, reorder_pct, reorder_ms, dup_pct, hold_ms;
    double rate_kbps, queue_ms;
    double outage_at, outage_for;
    bool outage;
    double flood_pps, flood_start, flood_for;
    bool both;
    double seconds;
    uint64_t seed;
};

/* The state of one direction of one pair. */
struct direction {
    uint64_t rng;
    bool bad;           /* Gilbert-Elliott state */
    bool ge_started;    /* --burst-ms: the first state has been drawn */
    uint64_t state_end; /* --burst-ms: when the current state ends */
    uint64_t tat;       /* rate limiter: theoretical arrival time (GCRA form of the bucket) */
};

struct pair {
    uint16_t listen, to, out;
    int fd_a, fd_b;
    struct sockaddr_in to_addr;
    struct sockaddr_in peer; /* last sender to A */
    bool have_peer;
    struct direction dir[2];
};

struct slot_meta {
    uint16_t len;
    uint8_t pair, dir;
    bool copy; /* a duplicate */
};

struct event {
    uint64_t due, seq;
    int32_t slot;
};

static struct config cfg = {.seed = 1, .reorder_ms = DEFAULT_REORDER_MS,
                            .queue_ms = DEFAULT_QUEUE_MS};
static struct pair pairs[MAX_PAIRS];
static int npairs;

static uint8_t slab[SLOT_COUNT][SLOT_BYTES];
static struct slot_meta meta[SLOT_COUNT];
static int32_t free_stack[SLOT_COUNT];
static int nfree;
static struct event heap[SLOT_COUNT];
static int nheap;
static uint64_t event_seq;

static uint8_t replay[REPLAY_RING][SLOT_BYTES];
static uint16_t replay_len[REPLAY_RING];
static unsigned replay_count, replay_next;
static uint8_t last_pt = DEFAULT_FLOOD_PT;

static struct {
    unsigned long long forward_in, forwarded, lost, duplicated, reordered, rate_dropped,
        outage_dropped, reverse_in, reverse_forwarded, flood_sent, oversize;
} st;

static uint64_t start_ns;

/* The flooder. */
static struct {
    bool on;
    uint64_t start, end; /* end: UINT64_MAX for "until exit" */
    unsigned batch;
    uint64_t scheduled;  /* packets whose time has come (sent or refused) */
    uint64_t total;      /* packets in the whole window; UINT64_MAX for open-ended */
    uint64_t rng;
    bool replay_turn;
    uint64_t ran_until;  /* last time the window was active (for flood_seconds) */
} fl;

/* ---- time, randomness, maths ---- */

static struct timespec to_timespec(uint64_t ns)
{
    struct timespec t = {.tv_sec = (time_t)(ns / 1000000000ull),
                         .tv_nsec = (long)(ns % 1000000000ull)};
    return t;
}

/* Uniform in [0, 1). */
static double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* Natural logarithm of x > 0 (normal numbers): x = m * 2^e with m in [sqrt(1/2), sqrt(2)),
 * ln m = 2 atanh((m-1)/(m+1)) by its series; |s| < 0.172 so 8 terms give ~1e-14. */
static double ln(double x)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    int e = (int)((bits >> 52) & 0x7ff) - 1023;
    bits = (bits & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull;
    double m;
    memcpy(&m, &bits, sizeof m);
    if (m > 1.4142135623730951) {
        m *= 0.5;
        e++;
    }
    double s = (m - 1.0) / (m + 1.0), s2 = s * s, term = s, sum = 0.0;
    for (int k = 1; k <= 15; k += 2) {
        sum += term / k;
        term *= s2;
    }
    return 2.0 * sum + e * 0.6931471805599453;
}

/* Exponentially distributed duration with the given mean, at least 1 ns. */
static uint64_t rng_exp_ns(uint64_t *s, double mean_ns)
{
    double d = -mean_ns * ln(1.0 - rng_unit(s)); /* 1 - u is in (0, 1] */
    return d < 1.0 ? 1 : (uint64_t)d;
}

/* ---- slots and the due-time heap ---- */

static int32_t slot_get(void)
{
    return nfree ? free_stack[--nfree] : -1;
}

static void slot_put(int32_t s)
{
    free_stack[nfree++] = s;
}

static bool ev_less(const struct event *a, const struct event *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void heap_push(uint64_t due, int32_t slot)
{
    int i = nheap++;
    heap[i] = (struct event){.due = due, .seq = event_seq++, .slot = slot};
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!ev_less(&heap[i], &heap[p]))
            break;
        struct event t = heap[i];
        heap[i] = heap[p];
        heap[p] = t;
        i = p;
    }
}

static struct event heap_pop(void)
{
    struct event top = heap[0];
    heap[0] = heap[--nheap];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < nheap && ev_less(&heap[l], &heap[m]))
            m = l;
        if (r < nheap && ev_less(&heap[r], &heap[m]))
            m = r;
        if (m == i)
            break;
        struct event t = heap[i];
        heap[i] = heap[m];
        heap[m] = t;
        i = m;
    }
    return top;
}

/* ---- impairments ---- */

static bool in_outage(uint64_t now)
{
    if (!cfg.outage)
        return false;
    uint64_t a = start_ns + (uint64_t)(cfg.outage_at * NS_PER_S);
    uint64_t b = a + (uint64_t)(cfg.outage_for * NS_PER_S);
    return now >= a && now < b;
}

/* The loss model: true to drop. */
static bool loss_drop(struct direction *d, uint64_t now)
{
    if (cfg.ge) {
        double deliver = d->bad ? cfg.ge_h : cfg.ge_k;
        bool drop = rng_unit(&d->rng) >= deliver;
        double change = d->bad ? cfg.ge_r : cfg.ge_p;
        if (rng_unit(&d->rng) < change)
            d->bad = !d->bad;
        return drop;
    }
    if (cfg.loss_pct <= 0.0)
        return false;
    if (cfg.burst_ms > 0.0) {
        if (cfg.loss_pct >= 100.0)
            return true;
        double bad_mean = cfg.burst_ms * NS_PER_MS;
        double good_mean = bad_mean * (100.0 - cfg.loss_pct) / cfg.loss_pct;
        if (!d->ge_started) {
            d->ge_started = true;
            d->bad = rng_unit(&d->rng) * 100.0 < cfg.loss_pct;
            d->state_end = now + rng_exp_ns(&d->rng, d->bad ? bad_mean : good_mean);
        }
        while (now >= d->state_end) {
            d->bad = !d->bad;
            d->state_end += rng_exp_ns(&d->rng, d->bad ? bad_mean : good_mean);
        }
        return d->bad;
    }
    return rng_unit(&d->rng) * 100.0 < cfg.loss_pct;
}

/* Queue the packet in `slot` (its meta filled in) for sending; `impaired` applies the
 * rate limit, delay, jitter, reordering and duplication. Consumes the slot. */
static void schedule(int32_t slot, struct direction *d, bool impaired, uint64_t now)
{
    bool fwd = meta[slot].dir == DIR_FWD;
    if (!impaired) {
        heap_push(now, slot);
        return;
    }
    uint64_t depart = now;
    if (cfg.rate_kbps > 0.0) {
        /* GCRA: the token bucket in virtual time. tat is when the bucket would be full
         * again if every accepted packet had drained at the rate. */
        double ns_per_byte = 8.0e6 / cfg.rate_kbps;
        uint64_t increment = (uint64_t)(meta[slot].len * ns_per_byte);
        uint64_t tolerance = (uint64_t)(RATE_BURST_BYTES * ns_per_byte);
        uint64_t tat = d->tat > now ? d->tat : now;
        uint64_t send = tat > now + tolerance ? tat - tolerance : now;
        if ((double)(send - now) > cfg.queue_ms * NS_PER_MS) {
            if (fwd)
                st.rate_dropped++;
            slot_put(slot);
            return;
        }
        d->tat = tat + increment;
        depart = send;
    }
    double delay = cfg.delay_ms * NS_PER_MS;
    if (cfg.jitter_ms > 0.0)
        delay += (rng_unit(&d->rng) * 2.0 - 1.0) * cfg.jitter_ms * NS_PER_MS;
    if (delay < 0.0)
        delay = 0.0;
    if (cfg.reorder_pct > 0.0 && rng_unit(&d->rng) * 100.0 < cfg.reorder_pct) {
        delay += cfg.reorder_ms * NS_PER_MS;
        if (fwd)
            st.reordered++;
    }
    uint64_t due = depart + (uint64_t)delay;
    if (cfg.hold_ms > 0.0) {
        uint64_t grid = (uint64_t)(cfg.hold_ms * NS_PER_MS);
        due = start_ns + ((due - start_ns + grid - 1) / grid) * grid;
    }
    if (cfg.dup_pct > 0.0 && rng_unit(&d->rng) * 100.0 < cfg.dup_pct) {
        int32_t c = slot_get();
        if (c >= 0) {
            memcpy(slab[c], slab[slot], meta[slot].len);
            meta[c] = meta[slot];
            meta[c].copy = true;
            heap_push(due, slot);
            heap_push(due + DUP_GAP_NS, c);
            return;
        }
    }
    heap_push(due, slot);
}

/* Send everything due by `now`. */
static void dispatch(uint64_t now)
{
    while (nheap > 0 && heap[0].due <= now) {
        struct event ev = heap_pop();
        struct slot_meta *m = &meta[ev.slot];
        struct pair *p = &pairs[m->pair];
        if (m->dir == DIR_FWD) {
            /* A duplicate copy that is not sent is simply not counted: the counters
             * describe what happened to the datagrams that came in. */
            if (in_outage(now)) {
                if (!m->copy)
                    st.outage_dropped++;
            } else if (sendto(p->fd_b, slab[ev.slot], m->len, 0,
                              (struct sockaddr *)&p->to_addr, sizeof p->to_addr) < 0) {
                if (!m->copy)
                    st.rate_dropped++;
            } else {
                st.forwarded++;
                if (m->copy)
                    st.duplicated++;
                else if (m->pair == 0 && fl.on) {
                    memcpy(replay[replay_next], slab[ev.slot], m->len);
                    replay_len[replay_next] = m->len;
                    replay_next = (replay_next + 1) % REPLAY_RING;
                    if (replay_count < REPLAY_RING)
                        replay_count++;
                }
            }
        } else if (p->have_peer && !in_outage(now) &&
                   sendto(p->fd_a, slab[ev.slot], m->len, 0, (struct sockaddr *)&p->peer,
                          sizeof p->peer) >= 0) {
            st.reverse_forwarded++;
        }
        slot_put(ev.slot);
    }
}

/* Read what is waiting on one socket of pair `pi`, direction `dir`. */
static void receive(int pi, int dir, uint64_t now)
{
    static uint8_t scratch[SLOT_BYTES];
    struct pair *p = &pairs[pi];
    int fd = dir == DIR_FWD ? p->fd_a : p->fd_b;
    for (int n = 0; n < READ_BUDGET; n++) {
        int32_t slot = slot_get();
        uint8_t *buf = slot >= 0 ? slab[slot] : scratch;
        struct sockaddr_in src;
        socklen_t srclen = sizeof src;
        ssize_t len = recvfrom(fd, buf, SLOT_BYTES, MSG_DONTWAIT | MSG_TRUNC,
                               (struct sockaddr *)&src, &srclen);
        if (len < 0) {
            if (slot >= 0)
                slot_put(slot);
            if (errno == EINTR)
                continue;
            return; /* EAGAIN, or an error report: nothing more now */
        }
        if (dir == DIR_FWD) {
            st.forward_in++;
            p->peer = src;
            p->have_peer = true;
            if (pi == 0 && len >= 2)
                last_pt = buf[1] & 0x7f;
        } else {
            st.reverse_in++;
        }
        bool drop = true;
        if (len > SLOT_BYTES) {
            if (dir == DIR_FWD)
                st.oversize++;
        } else if (slot < 0) {
            if (dir == DIR_FWD)
                st.rate_dropped++;
        } else if (in_outage(now)) {
            if (dir == DIR_FWD)
                st.outage_dropped++;
        } else {
            bool impaired = dir == DIR_FWD || cfg.both;
            struct direction *d = &p->dir[dir];
            if (impaired && loss_drop(d, now)) {
                if (dir == DIR_FWD)
                    st.lost++;
            } else {
                meta[slot] = (struct slot_meta){
                    .len = (uint16_t)len, .pair = (uint8_t)pi, .dir = (uint8_t)dir};
                schedule(slot, d, impaired, now);
                drop = false;
            }
        }
        if (drop && slot >= 0)
            slot_put(slot);
    }
}

/* ---- the flooder ---- */

static uint8_t flood_buf[FLOOD_BATCH_MAX][FLOOD_MAX_BYTES];
static struct iovec flood_iov[FLOOD_BATCH_MAX];
static struct mmsghdr flood_msg[FLOOD_BATCH_MAX];

/* When the next batch is due, or UINT64_MAX if the flood is over. */
static uint64_t flood_next_due(void)
{
    if (!fl.on || fl.scheduled >= fl.total)
        return UINT64_MAX;
    uint64_t k = fl.scheduled + fl.batch;
    if (k > fl.total)
        k = fl.total;
    return fl.start + (uint64_t)((double)k * NS_PER_S / cfg.flood_pps);
}

static void flood_fill(unsigned i)
{
    fl.replay_turn = !fl.replay_turn;
    if (fl.replay_turn && replay_count > 0) {
        unsigned r = (unsigned)(rng_next(&fl.rng) % replay_count);
        flood_iov[i].iov_base = replay[r];
        flood_iov[i].iov_len = replay_len[r];
        return;
    }
    uint8_t *b = flood_buf[i];
    size_t len = FLOOD_MIN_BYTES + (size_t)(rng_next(&fl.rng) %
                                            (FLOOD_MAX_BYTES - FLOOD_MIN_BYTES + 1));
    for (size_t o = 0; o < len; o += 8) {
        uint64_t r = rng_next(&fl.rng);
        memcpy(b + o, &r, len - o < 8 ? len - o : 8);
    }
    b[0] = 0x80;
    b[1] = last_pt;
    flood_iov[i].iov_base = b;
    flood_iov[i].iov_len = len;
}

static void flood_step(uint64_t now)
{
    if (!fl.on || now < fl.start)
        return;
    fl.ran_until = now < fl.end ? now : fl.end;
    struct pair *p = &pairs[0];
    for (int b = 0; b < FLOOD_CATCHUP_BATCHES && fl.scheduled < fl.total; b++) {
        uint64_t due_count = (uint64_t)((double)(now - fl.start) * cfg.flood_pps / NS_PER_S);
        if (due_count > fl.total)
            due_count = fl.total;
        if (due_count <= fl.scheduled)
            break;
        uint64_t n = due_count - fl.scheduled;
        unsigned count = n > FLOOD_BATCH_MAX ? FLOOD_BATCH_MAX : (unsigned)n;
        for (unsigned i = 0; i < count; i++) {
            flood_fill(i);
            flood_msg[i].msg_hdr = (struct msghdr){
                .msg_name = &p->to_addr, .msg_namelen = sizeof p->to_addr,
                .msg_iov = &flood_iov[i], .msg_iovlen = 1};
        }
        int sent = sendmmsg(p->fd_b, flood_msg, count, 0);
        if (sent > 0)
            st.flood_sent += (unsigned)sent;
        fl.scheduled += count;
    }
}

/* ---- options ---- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: udp_impair --pair LISTEN:TO[:OUT] [--pair ...] [--seed N] [--loss PCT]\n"
            "         [--burst-ms MS | --ge P,R,H,K] [--delay MS] [--jitter MS]\n"
            "         [--reorder PCT] [--reorder-ms MS] [--dup PCT] [--rate KBPS]\n"
            "         [--queue-ms MS] [--outage-at S] [--outage-for S] [--flood-pps N]\n"
            "         [--flood-start S] [--flood-for S] [--hold-ms MS] [--both] [--seconds S]\n"
            "       udp_impair LISTEN_PORT TO_PORT LOSS_PERCENT SEED SECONDS\n");
}

static uint64_t parse_seed(const char *opt, const char *arg)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 0);
    if (end == arg || *end || errno || arg[0] == '-')
        bad_option(opt, arg, "expected an unsigned 64-bit integer");
    return v;
}

static uint16_t parse_port(const char *opt, const char *arg, const char *s, size_t n,
                           unsigned lo)
{
    char tmp[16];
    if (n == 0 || n >= sizeof tmp)
        bad_option(opt, arg, "expected LISTEN:TO[:OUT] ports");
    memcpy(tmp, s, n);
    tmp[n] = 0;
    char *end;
    unsigned long v = strtoul(tmp, &end, 10);
    if (*end || tmp[0] < '0' || tmp[0] > '9' || v < lo || v > 65535)
        bad_option(opt, arg, "expected LISTEN:TO[:OUT] ports in 1..65535 (OUT may be 0)");
    return (uint16_t)v;
}

static void add_pair(const char *opt, const char *arg)
{
    if (npairs >= MAX_PAIRS)
        bad_option(opt, arg, "too many pairs (at most 8)");
    struct pair *p = &pairs[npairs++];
    const char *c1 = strchr(arg, ':');
    if (!c1)
        bad_option(opt, arg, "expected LISTEN:TO[:OUT]");
    const char *c2 = strchr(c1 + 1, ':');
    p->listen = parse_port(opt, arg, arg, (size_t)(c1 - arg), 1);
    if (c2) {
        p->to = parse_port(opt, arg, c1 + 1, (size_t)(c2 - c1 - 1), 1);
        p->out = parse_port(opt, arg, c2 + 1, strlen(c2 + 1), 0);
    } else {
        p->to = parse_port(opt, arg, c1 + 1, strlen(c1 + 1), 1);
    }
}

static void parse_ge(const char *opt, const char *arg)
{
    double v[4];
    const char *s = arg;
    for (int i = 0; i < 4; i++) {
        char tmp[64];
        const char *c = strchr(s, ',');
        size_t n = c ? (size_t)(c - s) : strlen(s);
        if ((i < 3) != (c != NULL) || n == 0 || n >= sizeof tmp)
            bad_option(opt, arg, "expected P,R,H,K, four probabilities in 0..1");
        memcpy(tmp, s, n);
        tmp[n] = 0;
        v[i] = parse_num(opt, tmp, 0.0, 1.0);
        s = c ? c + 1 : s + n;
    }
    cfg.ge = true;
    cfg.ge_p = v[0], cfg.ge_r = v[1], cfg.ge_h = v[2], cfg.ge_k = v[3];
}

static void parse_options(int argc, char **argv)
{
    /* The five-positional-argument shorthand. */
    if (argc == 6 && argv[1][0] != '-') {
        char pair[32];
        snprintf(pair, sizeof pair, "%s:%s", argv[1], argv[2]);
        add_pair("LISTEN_PORT:TO_PORT", pair);
        cfg.loss_pct = parse_num("LOSS_PERCENT", argv[3], 0.0, 100.0);
        cfg.seed = parse_seed("SEED", argv[4]);
        cfg.seconds = parse_num("SECONDS", argv[5], 0.0, MAX_SECONDS);
        return;
    }
    enum {
        O_PAIR = 256, O_SEED, O_LOSS, O_BURST, O_GE, O_DELAY, O_JITTER, O_REORDER,
        O_REORDER_MS, O_DUP, O_RATE, O_QUEUE_MS, O_OUT_AT, O_OUT_FOR, O_FL_PPS, O_FL_START,
        O_FL_FOR, O_BOTH, O_SECONDS, O_HELP, O_HOLD
    };
    static const struct option opts[] = {
        {"pair", required_argument, 0, O_PAIR},
        {"seed", required_argument, 0, O_SEED},
        {"loss", required_argument, 0, O_LOSS},
        {"burst-ms", required_argument, 0, O_BURST},
        {"ge", required_argument, 0, O_GE},
        {"delay", required_argument, 0, O_DELAY},
        {"jitter", required_argument, 0, O_JITTER},
        {"reorder", required_argument, 0, O_REORDER},
        {"reorder-ms", required_argument, 0, O_REORDER_MS},
        {"dup", required_argument, 0, O_DUP},
        {"rate", required_argument, 0, O_RATE},
        {"queue-ms", required_argument, 0, O_QUEUE_MS},
        {"outage-at", required_argument, 0, O_OUT_AT},
        {"outage-for", required_argument, 0, O_OUT_FOR},
        {"flood-pps", required_argument, 0, O_FL_PPS},
        {"flood-start", required_argument, 0, O_FL_START},
        {"flood-for", required_argument, 0, O_FL_FOR},
        {"both", no_argument, 0, O_BOTH},
        {"hold-ms", required_argument, 0, O_HOLD},
        {"seconds", required_argument, 0, O_SECONDS},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0}};
    bool seen_loss = false, seen_burst = false, seen_out_at = false, seen_fl_start = false,
         seen_fl_for = false;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        const char *a = optarg;
        switch (c) {
        case O_PAIR: add_pair("--pair", a); break;
        case O_SEED: cfg.seed = parse_seed("--seed", a); break;
        case O_LOSS: cfg.loss_pct = parse_num("--loss", a, 0.0, 100.0), seen_loss = true; break;
        case O_BURST:
            cfg.burst_ms = parse_num("--burst-ms", a, 0.001, MAX_MS), seen_burst = true;
            break;
        case O_GE: parse_ge("--ge", a); break;
        case O_DELAY: cfg.delay_ms = parse_num("--delay", a, 0.0, MAX_MS); break;
        case O_JITTER: cfg.jitter_ms = parse_num("--jitter", a, 0.0, MAX_MS); break;
        case O_REORDER: cfg.reorder_pct = parse_num("--reorder", a, 0.0, 100.0); break;
        case O_REORDER_MS: cfg.reorder_ms = parse_num("--reorder-ms", a, 0.0, MAX_MS); break;
        case O_DUP: cfg.dup_pct = parse_num("--dup", a, 0.0, 100.0); break;
        case O_RATE: cfg.rate_kbps = parse_num("--rate", a, 0.001, MAX_RATE_KBPS); break;
        case O_QUEUE_MS: cfg.queue_ms = parse_num("--queue-ms", a, 0.0, MAX_MS); break;
        case O_OUT_AT:
            cfg.outage_at = parse_num("--outage-at", a, 0.0, MAX_SECONDS), seen_out_at = true;
            break;
        case O_OUT_FOR:
            cfg.outage_for = parse_num("--outage-for", a, 0.0, MAX_SECONDS), cfg.outage = true;
            break;
        case O_FL_PPS: cfg.flood_pps = parse_num("--flood-pps", a, 1.0, FLOOD_MAX_PPS); break;
        case O_FL_START:
            cfg.flood_start = parse_num("--flood-start", a, 0.0, MAX_SECONDS);
            seen_fl_start = true;
            break;
        case O_FL_FOR:
            cfg.flood_for = parse_num("--flood-for", a, 0.0, MAX_SECONDS), seen_fl_for = true;
            break;
        case O_BOTH: cfg.both = true; break;
        case O_HOLD: cfg.hold_ms = parse_num("--hold-ms", a, 0.001, MAX_MS); break;
        case O_SECONDS: cfg.seconds = parse_num("--seconds", a, 0.0, MAX_SECONDS); break;
        case O_HELP: usage(stdout); exit(0);
        default: usage(stderr); exit(2); /* getopt_long has named the option */
        }
    }
    if (optind < argc)
        bad_option("arguments", argv[optind], "unexpected positional argument");
    if (npairs == 0)
        bad_option("--pair", NULL, "at least one --pair LISTEN:TO[:OUT] is required");
    if (cfg.ge && (seen_loss || seen_burst))
        bad_option("--ge", NULL, "cannot be combined with --loss or --burst-ms");
    if (seen_burst && !seen_loss)
        bad_option("--burst-ms", NULL, "needs --loss (the long-run loss percentage)");
    if (seen_out_at && !cfg.outage)
        bad_option("--outage-at", NULL, "needs --outage-for");
    if ((seen_fl_start || seen_fl_for) && cfg.flood_pps <= 0.0)
        bad_option(seen_fl_start ? "--flood-start" : "--flood-for", NULL, "needs --flood-pps");
    if (cfg.flood_pps > 0.0 && seen_fl_for && cfg.flood_for <= 0.0)
        bad_option("--flood-for", NULL, "must be positive");
}

/* ---- sockets ---- */

static void set_buffers(int fd)
{
    int size = SOCKET_BUFFER_BYTES;
    /* The FORCE variants exceed net.core.[rw]mem_max but need CAP_NET_ADMIN. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
}

static int bound_socket(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("udp_impair: socket");
        exit(1);
    }
    set_buffers(fd);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        fprintf(stderr, "udp_impair: bind 127.0.0.1:%u: %s\n", port, strerror(errno));
        exit(1);
    }
    return fd;
}

int main(int argc, char **argv)
{
    parse_options(argc, argv);

    for (int i = 0; i < npairs; i++) {
        struct pair *p = &pairs[i];
        p->fd_a = bound_socket(p->listen);
        p->fd_b = bound_socket(p->out);
        p->to_addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(p->to),
                                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        for (int d = 0; d < 2; d++)
            p->dir[d].rng = rng_seed(cfg.seed, (uint64_t)(2 * i + d));
    }
    for (int i = 0; i < SLOT_COUNT; i++)
        free_stack[i] = SLOT_COUNT - 1 - i;
    nfree = SLOT_COUNT;
    prctl(PR_SET_TIMERSLACK, TIMER_SLACK_NS, 0, 0, 0);

    /* SIGINT/SIGTERM are blocked except inside ppoll, so a stop is never missed. */
    sigset_t block, wait_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &wait_mask);
    sigdelset(&wait_mask, SIGINT);
    sigdelset(&wait_mask, SIGTERM);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    start_ns = now_ns();
    uint64_t end_ns = cfg.seconds > 0.0 ? start_ns + (uint64_t)(cfg.seconds * NS_PER_S)
                                        : UINT64_MAX;
    if (cfg.flood_pps > 0.0) {
        fl.on = true;
        fl.start = start_ns + (uint64_t)(cfg.flood_start * NS_PER_S);
        fl.end = cfg.flood_for > 0.0 ? fl.start + (uint64_t)(cfg.flood_for * NS_PER_S)
                                     : UINT64_MAX;
        fl.total = cfg.flood_for > 0.0 ? (uint64_t)(cfg.flood_pps * cfg.flood_for + 0.5)
                                       : UINT64_MAX;
        double b = cfg.flood_pps * (double)FLOOD_TICK_NS / NS_PER_S;
        fl.batch = b < 1.0 ? 1 : b > FLOOD_BATCH_MAX ? FLOOD_BATCH_MAX : (unsigned)b;
        fl.rng = rng_seed(cfg.seed, 2 * MAX_PAIRS);
        fl.ran_until = fl.start;
    }

    struct pollfd pfd[2 * MAX_PAIRS];
    for (int i = 0; i < npairs; i++) {
        pfd[2 * i] = (struct pollfd){.fd = pairs[i].fd_a, .events = POLLIN};
        pfd[2 * i + 1] = (struct pollfd){.fd = pairs[i].fd_b, .events = POLLIN};
    }
    for (;;) {
        uint64_t now = now_ns();
        if (stop_requested || now >= end_ns)
            break;
        dispatch(now);
        flood_step(now);
        uint64_t flood_due = flood_next_due();
        uint64_t deadline = end_ns;
        if (nheap > 0 && heap[0].due < deadline)
            deadline = heap[0].due;
        if (flood_due < deadline)
            deadline = flood_due;
        now = now_ns();
        if (deadline == flood_due && deadline > now && deadline - now < FLOOD_NANOSLEEP_NS &&
            poll(pfd, (nfds_t)(2 * npairs), 0) == 0) {
            struct timespec t = to_timespec(deadline);
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
            continue;
        }
        struct timespec timeout, *tp = NULL;
        if (deadline != UINT64_MAX) {
            timeout = to_timespec(deadline > now ? deadline - now : 0);
            tp = &timeout;
        }
        int r = ppoll(pfd, (nfds_t)(2 * npairs), tp, &wait_mask);
        if (r <= 0)
            continue;
        now = now_ns();
        for (int i = 0; i < 2 * npairs; i++)
            if (pfd[i].revents)
                receive(i / 2, i % 2 == 0 ? DIR_FWD : DIR_REV, now);
    }

    uint64_t flood_ns = 0;
    if (fl.on && fl.ran_until > fl.start)
        flood_ns = fl.ran_until - fl.start;
    unsigned long long queued = 0;
    for (int i = 0; i < nheap; i++)
        if (meta[heap[i].slot].dir == DIR_FWD && !meta[heap[i].slot].copy)
            queued++;
    printf("{\"forward_in\":%llu,\"forwarded\":%llu,\"lost\":%llu,\"duplicated\":%llu,"
           "\"reordered\":%llu,\"rate_dropped\":%llu,\"outage_dropped\":%llu,"
           "\"reverse_in\":%llu,\"reverse_forwarded\":%llu,\"flood_sent\":%llu,"
           "\"flood_seconds\":%.3f,\"oversize_dropped\":%llu,\"queued_at_exit\":%llu}\n",
           st.forward_in, st.forwarded, st.lost, st.duplicated, st.reordered, st.rate_dropped,
           st.outage_dropped, st.reverse_in, st.reverse_forwarded, st.flood_sent,
           (double)flood_ns / NS_PER_S, st.oversize, queued);
    fflush(stdout);
    for (int i = 0; i < npairs; i++) {
        close(pairs[i].fd_a);
        close(pairs[i].fd_b);
    }
    return 0;
}
