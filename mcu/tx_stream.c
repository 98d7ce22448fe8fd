#include "mcu/tx_stream.h"

#include <stdlib.h>
#include <string.h>

#include "codecs/h264_rtp.h"
#include "codecs/opus_rtp.h"

#define US_PER_MS 1000
#define HISTORY_US ((int64_t)MCU_TX_HISTORY_MS * US_PER_MS)
#define RTX_WINDOW_US ((int64_t)MCU_TX_RTX_WINDOW_MS * US_PER_MS)
/* Largest payload after the header this stream writes (no CSRC, no extension). */
#define MAX_PAYLOAD (MCU_RTP_MAX_DATAGRAM - MCU_RTP_HEADER_SIZE)
/* First receiver table allocation; doubled as receivers are added. */
#define RECEIVERS_INITIAL 16
/* RFC 5761 4: payload types whose second header byte can look like RTCP. */
#define PT_RTCP_CLASH_MIN 64
#define PT_RTCP_CLASH_MAX 95
#define PT_MAX 127

_Static_assert(MCU_TX_HISTORY_PACKETS < (1 << 15),
               "history must cover less than half the sequence space");
_Static_assert(MCU_TX_MAX_RECEIVERS <= INT16_MAX, "receiver slots are stored as int16_t");

typedef struct slot {
    int64_t sent_us;
    uint16_t seq;
    uint16_t len;               /* datagram bytes */
    uint8_t data[MCU_RTP_MAX_DATAGRAM];
} slot_t;

typedef struct receiver {
    mcu_tx_receiver_stats_t st;
    bool rtx_primed;            /* the budget has been filled once */
    int64_t rtx_tokens;         /* bytes it may still be resent */
    int64_t rtx_refill_us;
} receiver_t;

typedef struct sent_sr {
    uint32_t compact;           /* middle 32 bits of its NTP time: what LSR echoes */
    int64_t sent_us;
} sent_sr_t;

struct mcu_tx_stream {
    mcu_tx_stream_config_t cfg;
    char cname[MCU_RTCP_MAX_SDES_TEXT + 1];
    uint16_t next_seq;
    bool busy;                  /* inside the send callback */

    slot_t *hist;
    size_t hist_cap, hist_first, hist_count;

    int16_t slot_of[MCU_TX_MAX_RECEIVERS]; /* receiver id -> index in rx, -1 if none */
    receiver_t *rx;             /* dense: fan-out walks only real receivers */
    size_t n_rx, rx_cap;

    bool have_mapping;          /* a frame has been sent */
    uint32_t last_ts;           /* its RTP timestamp on the wire */
    int64_t last_us;            /* when it was sent */

    sent_sr_t srs[MCU_TX_SR_HISTORY];
    size_t sr_next, sr_count;

    mcu_tx_stream_stats_t stats;
};

/* a * b / c rounded to nearest, halves away from zero; c > 0. */
static int64_t mul_div_round(int64_t a, int64_t b, int64_t c)
{
    int64_t p = a * b;
    return p >= 0 ? (p + c / 2) / c : -((-p + c / 2) / c);
}

static int check_config(const mcu_tx_stream_config_t *cfg)
{
    if (!cfg || !cfg->send || !cfg->cname || !cfg->clock_rate)
        return MCU_ERR_INVAL;
    size_t n = strlen(cfg->cname);
    if (n == 0 || n > MCU_RTCP_MAX_SDES_TEXT)
        return MCU_ERR_INVAL;
    if (cfg->payload_type > PT_MAX ||
        (cfg->payload_type >= PT_RTCP_CLASH_MIN && cfg->payload_type <= PT_RTCP_CLASH_MAX))
        return MCU_ERR_INVAL;
    if (cfg->is_video && cfg->mtu && (cfg->mtu < MCU_H264_MIN_MTU || cfg->mtu > MAX_PAYLOAD))
        return MCU_ERR_INVAL;
    if (cfg->history_packets > MCU_TX_HISTORY_PACKETS)
        return MCU_ERR_INVAL;
    return MCU_OK;
}

int mcu_tx_stream_create(const mcu_tx_stream_config_t *cfg, mcu_tx_stream_t **out)
{
    if (!out)
        return MCU_ERR_INVAL;
    *out = NULL;
    int rc = check_config(cfg);
    if (rc < 0)
        return rc;
    mcu_tx_stream_t *tx = calloc(1, sizeof *tx);
    if (!tx)
        return MCU_ERR_NOMEM;
    tx->cfg = *cfg;
    memcpy(tx->cname, cfg->cname, strlen(cfg->cname) + 1);
    tx->cfg.cname = tx->cname;
    if (tx->cfg.is_video && !tx->cfg.mtu)
        tx->cfg.mtu = MCU_H264_DEFAULT_MTU;
    tx->hist_cap = cfg->history_packets ? cfg->history_packets : MCU_TX_HISTORY_PACKETS;
    tx->hist = malloc(tx->hist_cap * sizeof *tx->hist);
    if (!tx->hist) {
        mcu_tx_stream_destroy(&tx);
        return MCU_ERR_NOMEM;
    }
    tx->next_seq = cfg->initial_seq;
    for (size_t i = 0; i < MCU_TX_MAX_RECEIVERS; i++)
        tx->slot_of[i] = -1;
    *out = tx;
    return MCU_OK;
}

void mcu_tx_stream_destroy(mcu_tx_stream_t **ptx)
{
    mcu_tx_stream_t *tx = ptx ? *ptx : NULL;
    if (!tx)
        return;
    free(tx->hist);
    free(tx->rx);
    free(tx);
    *ptx = NULL;
}

/* ------------------------------------------------------------ receivers */

static receiver_t *find_receiver(const mcu_tx_stream_t *tx, int id)
{
    if (id < 0 || id >= MCU_TX_MAX_RECEIVERS || tx->slot_of[id] < 0)
        return NULL;
    return &tx->rx[tx->slot_of[id]];
}

/* The checks every per-receiver call starts with: a stream not inside its own send
 * callback, and a receiver that exists. 0 and *out set, or the error to return. */
static int lookup_receiver(mcu_tx_stream_t *tx, int receiver_id, receiver_t **out)
{
    if (!tx)
        return MCU_ERR_INVAL;
    if (tx->busy)
        return MCU_ERR_BUSY;
    *out = find_receiver(tx, receiver_id);
    return *out ? MCU_OK : MCU_ERR_NOTFOUND;
}

int mcu_tx_stream_add_receiver(mcu_tx_stream_t *tx, int receiver_id)
{
    if (!tx || receiver_id < 0 || receiver_id >= MCU_TX_MAX_RECEIVERS)
        return MCU_ERR_INVAL;
    if (tx->busy)
        return MCU_ERR_BUSY;
    if (tx->slot_of[receiver_id] >= 0)
        return MCU_ERR_DUPLICATE;
    if (tx->n_rx == tx->rx_cap) {
        size_t cap = tx->rx_cap ? 2 * tx->rx_cap : RECEIVERS_INITIAL;
        if (cap > MCU_TX_MAX_RECEIVERS)
            cap = MCU_TX_MAX_RECEIVERS;
        receiver_t *rx = realloc(tx->rx, cap * sizeof *rx);
        if (!rx)
            return MCU_ERR_NOMEM;
        tx->rx = rx;
        tx->rx_cap = cap;
    }
    receiver_t *r = &tx->rx[tx->n_rx];
    memset(r, 0, sizeof *r);
    r->st.id = receiver_id;
    r->st.active = true;
    r->st.last_report_us = -1;
    r->st.rtt_us = -1;
    tx->slot_of[receiver_id] = (int16_t)tx->n_rx;
    tx->n_rx++;
    tx->stats.receivers = tx->n_rx;
    return MCU_OK;
}

int mcu_tx_stream_remove_receiver(mcu_tx_stream_t *tx, int receiver_id)
{
    receiver_t *r;
    int rc = lookup_receiver(tx, receiver_id, &r);
    if (rc < 0)
        return rc;
    receiver_t *last = &tx->rx[tx->n_rx - 1];
    if (r != last) {
        *r = *last;
        tx->slot_of[r->st.id] = (int16_t)(r - tx->rx);
    }
    tx->slot_of[receiver_id] = -1;
    tx->n_rx--;
    tx->stats.receivers = tx->n_rx;
    return MCU_OK;
}

int mcu_tx_stream_set_active(mcu_tx_stream_t *tx, int receiver_id, bool active)
{
    receiver_t *r;
    int rc = lookup_receiver(tx, receiver_id, &r);
    if (rc < 0)
        return rc;
    r->st.active = active;
    return MCU_OK;
}

int mcu_tx_stream_receiver_stats(const mcu_tx_stream_t *tx, int receiver_id,
                                 mcu_tx_receiver_stats_t *out)
{
    const receiver_t *r = tx && out ? find_receiver(tx, receiver_id) : NULL;
    if (!r)
        return MCU_ERR_NOTFOUND;
    *out = r->st;
    return MCU_OK;
}

const mcu_tx_stream_stats_t *mcu_tx_stream_stats(const mcu_tx_stream_t *tx)
{
    return &tx->stats;
}

/* ------------------------------------------------------------ history */

static slot_t *hist_at(const mcu_tx_stream_t *tx, size_t i) /* i: 0 = oldest */
{
    return &tx->hist[(tx->hist_first + i) % tx->hist_cap];
}

static void hist_pop_oldest(mcu_tx_stream_t *tx)
{
    tx->stats.history_bytes -= hist_at(tx, 0)->len;
    tx->hist_first = (tx->hist_first + 1) % tx->hist_cap;
    tx->hist_count--;
    tx->stats.history_packets = tx->hist_count;
}

/* Drops packets too old to be worth resending: keeps history_bytes at what the stream
 * sent in the last MCU_TX_HISTORY_MS, the base of the retransmission budget. */
static void hist_expire(mcu_tx_stream_t *tx, int64_t now_us)
{
    while (tx->hist_count && now_us - hist_at(tx, 0)->sent_us >= HISTORY_US)
        hist_pop_oldest(tx);
}

/* The next slot to fill, evicting the oldest packet when the history is full. */
static slot_t *hist_push(mcu_tx_stream_t *tx)
{
    if (tx->hist_count == tx->hist_cap) {
        hist_pop_oldest(tx);
        tx->stats.history_evictions++;
    }
    tx->hist_count++;
    tx->stats.history_packets = tx->hist_count;
    return hist_at(tx, tx->hist_count - 1);
}

/* The stored packet with sequence number `seq`, or NULL. Sequence numbers in the
 * history are consecutive, the newest is next_seq - 1; callers expire old packets
 * first (hist_expire), so what is found is young enough to resend. */
static const slot_t *hist_find(const mcu_tx_stream_t *tx, uint16_t seq)
{
    uint16_t back = (uint16_t)(tx->next_seq - 1 - seq);
    if (back >= tx->hist_count)
        return NULL;
    const slot_t *s = hist_at(tx, tx->hist_count - 1 - back);
    return s->seq == seq ? s : NULL;
}

/* ------------------------------------------------------------ sending */

/* One send callback call; the callback may not re-enter the stream. */
static bool send_to(mcu_tx_stream_t *tx, receiver_t *r, const slot_t *s)
{
    tx->busy = true;
    int rc = tx->cfg.send(tx->cfg.opaque, r->st.id, s->data, s->len);
    tx->busy = false;
    if (rc < 0) {
        r->st.send_errors++;
        tx->stats.send_errors++;
        return false;
    }
    return true;
}

typedef struct frame_ctx {
    mcu_tx_stream_t *tx;
    uint32_t ts;                /* on the wire */
    int64_t now_us;
    int packets;
    int unsent;                 /* the newest packets in the history, not yet handed out */
} frame_ctx_t;

/* Hands the frame's packets not yet sent to every active receiver, receiver by receiver:
 * with send_many, one call per receiver (one system call and one wake-up of whoever
 * reads that socket, instead of one per packet). */
static void flush_frame(frame_ctx_t *f)
{
    mcu_tx_stream_t *tx = f->tx;
    int n = f->unsent;
    if (n == 0)
        return;
    const uint8_t *pkts[MCU_TX_SEND_BATCH];
    size_t lens[MCU_TX_SEND_BATCH];
    for (int k = 0; k < n; k++) {
        const slot_t *s = hist_at(tx, tx->hist_count - (size_t)n + (size_t)k);
        pkts[k] = s->data;
        lens[k] = s->len;
    }
    f->unsent = 0;
    for (size_t i = 0; i < tx->n_rx; i++) {
        receiver_t *r = &tx->rx[i];
        if (!r->st.active)
            continue;
        tx->stats.sends += (uint64_t)n;
        if (tx->cfg.send_many) {
            tx->busy = true;
            int sent = tx->cfg.send_many(tx->cfg.opaque, r->st.id, pkts, lens, n);
            tx->busy = false;
            int ok = sent < 0 ? 0 : sent > n ? n : sent;
            for (int k = 0; k < ok; k++)
                r->st.octets += lens[k];
            r->st.packets += (uint64_t)ok;
            r->st.send_errors += (uint64_t)(n - ok);
            tx->stats.send_errors += (uint64_t)(n - ok);
            continue;
        }
        for (int k = 0; k < n; k++) {
            const slot_t *s = hist_at(tx, tx->hist_count - (size_t)n + (size_t)k);
            if (send_to(tx, r, s)) {
                r->st.packets++;
                r->st.octets += s->len;
            }
        }
    }
}

/* Writes one RTP packet into the history; the frame's packets go out in batches of
 * at most MCU_TX_SEND_BATCH (and never more than the history holds, so a batch is
 * still there when it is sent). Matches mcu_h264_emit_fn. */
static int emit_packet(void *opaque, const uint8_t *payload, size_t len, bool marker)
{
    frame_ctx_t *f = opaque;
    mcu_tx_stream_t *tx = f->tx;
    if (len > MAX_PAYLOAD)
        return MCU_ERR_TOO_BIG;
    mcu_rtp_header_t h = {.marker = marker, .payload_type = tx->cfg.payload_type,
                          .seq = tx->next_seq, .timestamp = f->ts, .ssrc = tx->cfg.ssrc};
    uint8_t hdr[MCU_RTP_HEADER_SIZE];
    int hl = mcu_rtp_write_header(&h, hdr, sizeof hdr);
    if (hl < 0) /* cannot happen: the config was checked */
        return hl;
    if ((size_t)f->unsent == tx->hist_cap)
        flush_frame(f); /* its oldest unsent packet is about to be overwritten */
    slot_t *s = hist_push(tx);
    memcpy(s->data, hdr, MCU_RTP_HEADER_SIZE);
    memcpy(s->data + MCU_RTP_HEADER_SIZE, payload, len);
    s->len = (uint16_t)(MCU_RTP_HEADER_SIZE + len);
    s->seq = tx->next_seq++;
    s->sent_us = f->now_us;
    tx->stats.history_bytes += s->len;
    tx->stats.packets++;
    tx->stats.octets += len;
    f->packets++;
    if (++f->unsent == MCU_TX_SEND_BATCH)
        flush_frame(f);
    return MCU_OK;
}

int mcu_tx_stream_send_frame(mcu_tx_stream_t *tx, const uint8_t *data, size_t len,
                             uint32_t rtp_ts, int64_t now_us)
{
    if (!tx || !data || !len)
        return MCU_ERR_INVAL;
    if (tx->busy)
        return MCU_ERR_BUSY;
    frame_ctx_t f = {.tx = tx, .ts = rtp_ts + tx->cfg.ts_offset, .now_us = now_us};
    int rc;
    if (tx->cfg.is_video) {
        rc = mcu_h264_packetize(data, len, tx->cfg.mtu, emit_packet, &f);
    } else {
        rc = len > MAX_PAYLOAD ? MCU_ERR_TOO_BIG : mcu_opus_packet_check(data, len, NULL);
        if (rc >= 0)
            rc = emit_packet(&f, data, len, false); /* continuous: no talkspurt marker */
    }
    flush_frame(&f); /* what was packetized goes out, even if the packetizer stopped early */
    if (f.packets > 0) {
        /* The SR mapping follows what went out, even if the packetizer stopped early. */
        tx->stats.frames++;
        tx->have_mapping = true;
        tx->last_ts = f.ts;
        tx->last_us = now_us;
    }
    hist_expire(tx, now_us);
    return rc < 0 ? rc : f.packets;
}

/* ------------------------------------------------------------ NACK */

/* Refills a receiver's retransmission budget: MCU_TX_RTX_BUDGET_PERCENT of the bytes
 * the stream sent in the last second, accrued continuously over the window. */
static void rtx_refill(const mcu_tx_stream_t *tx, receiver_t *r, int64_t now_us)
{
    int64_t cap = (int64_t)tx->stats.history_bytes * MCU_TX_RTX_BUDGET_PERCENT / 100;
    if (cap < MCU_TX_RTX_MIN_BUDGET)
        cap = MCU_TX_RTX_MIN_BUDGET;
    if (!r->rtx_primed) {
        r->rtx_primed = true;
        r->rtx_tokens = cap;
    } else if (now_us > r->rtx_refill_us) {
        int64_t dt = now_us - r->rtx_refill_us;
        if (dt > RTX_WINDOW_US)
            dt = RTX_WINDOW_US;
        r->rtx_tokens += cap * dt / RTX_WINDOW_US;
    }
    if (r->rtx_tokens > cap)
        r->rtx_tokens = cap;
    r->rtx_refill_us = now_us;
}

int mcu_tx_stream_on_nack(mcu_tx_stream_t *tx, int receiver_id, const uint16_t *seqs,
                          size_t n, int64_t now_us)
{
    if (!seqs && n)
        return MCU_ERR_INVAL;
    receiver_t *r;
    int rc = lookup_receiver(tx, receiver_id, &r);
    if (rc < 0)
        return rc;
    if (!r->st.active)
        return MCU_ERR_STATE;
    hist_expire(tx, now_us);
    rtx_refill(tx, r, now_us);
    int served = 0;
    for (size_t i = 0; i < n; i++) {
        r->st.nacks++;
        tx->stats.nack_seqs++;
        const slot_t *s = hist_find(tx, seqs[i]);
        if (!s) {
            r->st.rtx_not_found++;
            tx->stats.history_misses++;
            continue;
        }
        tx->stats.history_hits++;
        if (r->rtx_tokens < s->len) {
            r->st.rtx_rate_limited++;
            tx->stats.rtx_rate_limited++;
            continue;
        }
        r->rtx_tokens -= s->len;
        if (send_to(tx, r, s)) {
            r->st.retransmitted++;
            r->st.rtx_octets += s->len;
            tx->stats.retransmissions++;
            served++;
        }
    }
    return served;
}

/* ------------------------------------------------------------ RTCP */

size_t mcu_tx_stream_build_sr(mcu_tx_stream_t *tx, int64_t now_us, uint64_t ntp_now,
                              uint8_t *out, size_t cap)
{
    if (!tx || !out || !tx->have_mapping)
        return 0;
    int64_t elapsed = mul_div_round(now_us - tx->last_us, tx->cfg.clock_rate,
                                    MCU_NTP_US_PER_S);
    mcu_rtcp_sender_info_t si = {
        .ntp = ntp_now,
        .rtp_ts = tx->last_ts + (uint32_t)elapsed, /* modulo 2^32, as on the wire */
        .packet_count = (uint32_t)tx->stats.packets,
        .octet_count = (uint32_t)tx->stats.octets,
    };
    mcu_rtcp_writer_t w;
    mcu_rtcp_writer_init(&w, out, cap);
    mcu_rtcp_write_sr(&w, tx->cfg.ssrc, &si, NULL, 0);
    mcu_rtcp_write_sdes_cname(&w, tx->cfg.ssrc, tx->cname);
    size_t len;
    if (mcu_rtcp_writer_finish(&w, &len) < 0)
        return 0;
    tx->srs[tx->sr_next] = (sent_sr_t){.compact = mcu_ntp_compact(ntp_now), .sent_us = now_us};
    tx->sr_next = (tx->sr_next + 1) % MCU_TX_SR_HISTORY;
    if (tx->sr_count < MCU_TX_SR_HISTORY)
        tx->sr_count++;
    tx->stats.sender_reports++;
    return len;
}

static const sent_sr_t *find_sr(const mcu_tx_stream_t *tx, uint32_t lsr)
{
    for (size_t i = 0; i < tx->sr_count; i++)
        if (tx->srs[i].compact == lsr)
            return &tx->srs[i];
    return NULL;
}

int mcu_tx_stream_on_rr(mcu_tx_stream_t *tx, int receiver_id, const mcu_rtcp_report_block_t *rb,
                        int64_t now_us, uint64_t ntp_now)
{
    if (!tx || !rb)
        return MCU_ERR_INVAL;
    receiver_t *r = find_receiver(tx, receiver_id);
    if (!r)
        return MCU_ERR_NOTFOUND;
    if (rb->ssrc != tx->cfg.ssrc)
        return MCU_ERR_SSRC;
    mcu_tx_receiver_stats_t *st = &r->st;
    st->reports++;
    st->last_report_us = now_us;
    st->fraction_lost = rb->fraction_lost;
    st->cumulative_lost = rb->cumulative_lost;
    st->ext_highest_seq = rb->ext_highest_seq;
    st->jitter = rb->jitter;
    st->jitter_us = mul_div_round(rb->jitter, MCU_NTP_US_PER_S, tx->cfg.clock_rate);
    if (rb->lsr == 0) /* the receiver has had no SR yet */
        return MCU_OK;

    /* RFC 3550 6.4.1: RTT = A - LSR - DLSR, all in 1/65536 s. */
    const sent_sr_t *sr = find_sr(tx, rb->lsr);
    uint32_t since_sr = mcu_ntp_compact(ntp_now) - rb->lsr;
    if (!sr || since_sr < rb->dlsr) {
        st->rtt_rejected++;
        return MCU_OK;
    }
    int64_t rtt_us = mcu_ntp_compact_to_us(since_sr - rb->dlsr);
    if (rtt_us > now_us - sr->sent_us + MCU_TX_RTT_SLACK_US) {
        st->rtt_rejected++; /* the wall clock moved differently from the monotonic one */
        return MCU_OK;
    }
    st->rtt_us = rtt_us;
    st->rtt_samples++;
    return MCU_OK;
}
