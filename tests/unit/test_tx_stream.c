/* The send path of one outgoing stream: packetize once and fan the same bytes out to
 * every active receiver, sequence and timestamp wrap, NACK service from the history
 * (hits, misses by age and by count, the per-receiver retransmission budget), SR
 * timestamp extrapolation for lip sync, RTT from receiver reports, 600 receivers. */
#include <stdlib.h>
#include <string.h>

#include "codecs/h264_rtp.h"
#include "codecs/opus_rtp.h"
#include "mcu/error.h"
#include "mcu/ntp.h"
#include "mcu/rtcp.h"
#include "mcu/rtp.h"
#include "mcu/tx_stream.h"
#include "test_util.h"

#define SSRC_V 0x11223344u
#define SSRC_A 0x55667788u
#define PT_V 96
#define PT_A 111
#define CNAME "mcu@yen-mo"
#define FRAME_TICKS 3600        /* 25 fps at 90 kHz */
#define FRAME_US 40000
#define OPUS_TICKS 960          /* 20 ms at 48 kHz */
#define OPUS_US 20000
#define S_US 1000000

/* ------------------------------------------------------------ capture */

typedef struct sent {
    int rid;
    const uint8_t *ptr;         /* the pointer the stream passed */
    size_t len;
    uint8_t *copy;              /* the bytes, when the capture keeps them */
} sent_t;

typedef struct capture {
    sent_t *p;
    size_t n, cap;
    bool keep;                  /* copy each packet's bytes */
    int fail_rid;               /* send fails for this receiver; -1: never */
    mcu_tx_stream_t *reenter;   /* when set, the callback tries to remove the receiver */
    int reenter_rc;
} capture_t;

static int capture_send(void *opaque, int rid, const uint8_t *pkt, size_t len)
{
    capture_t *c = opaque;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 256;
        c->p = realloc(c->p, c->cap * sizeof *c->p);
        assert_non_null(c->p);
    }
    sent_t *s = &c->p[c->n++];
    *s = (sent_t){.rid = rid, .ptr = pkt, .len = len};
    if (c->keep) {
        s->copy = malloc(len);
        assert_non_null(s->copy);
        memcpy(s->copy, pkt, len);
    }
    if (c->reenter)
        c->reenter_rc = mcu_tx_stream_remove_receiver(c->reenter, rid);
    return rid == c->fail_rid ? MCU_ERR_IO : 0;
}

static void capture_init(capture_t *c, bool keep)
{
    memset(c, 0, sizeof *c);
    c->keep = keep;
    c->fail_rid = -1;
}

static void capture_clear(capture_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->p[i].copy);
    c->n = 0;
}

static void capture_free(capture_t *c)
{
    capture_clear(c);
    free(c->p);
    c->p = NULL;
    c->cap = 0;
}

static size_t count_for(const capture_t *c, int rid)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++)
        n += c->p[i].rid == rid;
    return n;
}

/* The k-th packet sent to rid, or NULL. */
static const sent_t *nth_for(const capture_t *c, int rid, size_t k)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->p[i].rid == rid && k-- == 0)
            return &c->p[i];
    return NULL;
}

/* ------------------------------------------------------------ streams and media */

static mcu_tx_stream_config_t video_cfg(capture_t *c)
{
    return (mcu_tx_stream_config_t){.ssrc = SSRC_V, .payload_type = PT_V,
                                    .clock_rate = MCU_H264_CLOCK_RATE, .is_video = true,
                                    .cname = CNAME, .initial_seq = 1000, .ts_offset = 0,
                                    .send = capture_send, .opaque = c};
}

static mcu_tx_stream_config_t audio_cfg(capture_t *c)
{
    return (mcu_tx_stream_config_t){.ssrc = SSRC_A, .payload_type = PT_A,
                                    .clock_rate = MCU_OPUS_CLOCK_RATE, .is_video = false,
                                    .history_packets = 64, .cname = CNAME,
                                    .initial_seq = 7, .ts_offset = 0,
                                    .send = capture_send, .opaque = c};
}

static mcu_tx_stream_t *make_stream(const mcu_tx_stream_config_t *cfg)
{
    mcu_tx_stream_t *tx = NULL;
    assert_int_equal(mcu_tx_stream_create(cfg, &tx), MCU_OK);
    assert_non_null(tx);
    return tx;
}

/* Appends a start code and one NAL unit: header byte then `len` - 1 non-zero bytes,
 * so nothing in it looks like a start code. */
static size_t put_nal(uint8_t *out, uint8_t header, size_t len, test_rng_t *r)
{
    memcpy(out, "\0\0\0\1", 4);
    out[4] = header;
    for (size_t i = 1; i < len; i++)
        out[4 + i] = (uint8_t)(test_rng_u32(r) | 1);
    return 4 + len;
}

/* SPS + PPS + an IDR slice of idr_len bytes (4-byte start codes), or the slice alone. */
static size_t make_au(uint8_t *out, bool with_params, size_t idr_len, uint64_t seed)
{
    test_rng_t r;
    test_rng_seed(&r, seed);
    size_t n = 0;
    if (with_params) {
        n += put_nal(out + n, 0x67, 10, &r);   /* SPS, nal_ref_idc 3 */
        n += put_nal(out + n, 0x68, 4, &r);    /* PPS */
    }
    n += put_nal(out + n, 0x65, idr_len, &r);  /* IDR slice */
    return n;
}

/* One Opus packet of `len` bytes: TOC config 31 (CELT FB 20 ms), mono, code 0. */
static void make_opus(uint8_t *out, size_t len, uint8_t fill)
{
    out[0] = 0xF8;
    memset(out + 1, fill, len - 1);
}

static void parse(const sent_t *s, mcu_rtp_packet_t *p)
{
    assert_int_equal(mcu_rtp_parse(s->ptr, s->len, p), MCU_OK);
}

/* ------------------------------------------------------------ tests */

static void create_rejects_bad_config(void **state)
{
    (void)state;
    capture_t c;
    capture_init(&c, false);
    mcu_tx_stream_t *tx = (mcu_tx_stream_t *)&c; /* must be reset to NULL on failure */
    mcu_tx_stream_config_t cfg = video_cfg(&c);
    cfg.send = NULL;
    assert_int_equal(mcu_tx_stream_create(&cfg, &tx), MCU_ERR_INVAL);
    assert_null(tx);
    const struct { int field; long value; } bad[] = {
        {0, 128}, {0, 72}, {0, 64}, {0, 95}, {1, 0}, {2, MCU_H264_MIN_MTU - 1},
        {2, MCU_RTP_MAX_DATAGRAM - MCU_RTP_HEADER_SIZE + 1}, {3, MCU_TX_HISTORY_PACKETS + 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg = video_cfg(&c);
        if (bad[i].field == 0)
            cfg.payload_type = (uint8_t)bad[i].value;
        else if (bad[i].field == 1)
            cfg.clock_rate = (uint32_t)bad[i].value;
        else if (bad[i].field == 2)
            cfg.mtu = (size_t)bad[i].value;
        else
            cfg.history_packets = (size_t)bad[i].value;
        assert_int_equal(mcu_tx_stream_create(&cfg, &tx), MCU_ERR_INVAL);
    }
    cfg = video_cfg(&c);
    cfg.cname = "";
    assert_int_equal(mcu_tx_stream_create(&cfg, &tx), MCU_ERR_INVAL);
    char long_cname[MCU_RTCP_MAX_SDES_TEXT + 2];
    memset(long_cname, 'x', sizeof long_cname - 1);
    long_cname[sizeof long_cname - 1] = '\0';
    cfg.cname = long_cname;
    assert_int_equal(mcu_tx_stream_create(&cfg, &tx), MCU_ERR_INVAL);
    /* The largest MTU that still fits a datagram is fine; the CNAME is copied. */
    char cname[] = "temporary";
    cfg = video_cfg(&c);
    cfg.mtu = MCU_RTP_MAX_DATAGRAM - MCU_RTP_HEADER_SIZE;
    cfg.cname = cname;
    assert_int_equal(mcu_tx_stream_create(&cfg, &tx), MCU_OK);
    memset(cname, 'z', sizeof cname - 1);
    assert_int_equal(mcu_tx_stream_add_receiver(tx, 0), MCU_OK);
    assert_int_equal(mcu_tx_stream_set_active(tx, 0, true), MCU_OK);
    static uint8_t au[20000];
    size_t n = make_au(au, true, 10000, 1);
    assert_int_equal(mcu_tx_stream_send_frame(tx, au, n, 0, 0), 1 + 7); /* 10000/1486 */
    for (size_t i = 0; i < c.n; i++)
        assert_true(c.p[i].len <= MCU_RTP_MAX_DATAGRAM);
    uint8_t sr[256];
    size_t len = mcu_tx_stream_build_sr(tx, 0, 1, sr, sizeof sr);
    mcu_rtcp_iter_t it;
    mcu_rtcp_packet_t p;
    mcu_rtcp_iter_init(&it, sr, len);
    assert_int_equal(mcu_rtcp_next(&it, &p), 1);
    assert_int_equal(mcu_rtcp_next(&it, &p), 1);
    assert_int_equal(p.u.sdes.chunks[0].cname_len, strlen("temporary"));
    assert_memory_equal(p.u.sdes.chunks[0].cname, "temporary", strlen("temporary"));
    mcu_tx_stream_destroy(&tx);
    assert_null(tx);
    mcu_tx_stream_destroy(&tx); /* NULL-safe */
    mcu_tx_stream_destroy(NULL);
    capture_free(&c);
}

/* SPS+PPS+big IDR: one STAP-A then FU-As, the same bytes (the same buffer, even) to
 * every active receiver, none to the inactive one, and the AU comes back whole. */
static void fanout_identical(void **state)
{
    (void)state;
    capture_t c;
    capture_init(&c, true);
    mcu_tx_stream_config_t cfg = video_cfg(&c);
    mcu_tx_stream_t *tx = make_stream(&cfg);
    const int ids[3] = {0, 5, 9};
    for (int i = 0; i < 3; i++)
        assert_int_equal(mcu_tx_stream_add_receiver(tx, ids[i]), MCU_OK);
    /* New receivers are active; nothing goes to an inactive one. */
    mcu_tx_receiver_stats_t rs;
    assert_int_equal(mcu_tx_stream_receiver_stats(tx, 5, &rs), MCU_OK);
    assert_true(rs.active);
    assert_int_equal(rs.rtt_us, -1);
    assert_int_equal(rs.last_report_us, -1);
    static uint8_t au[8192];
    size_t n = make_au(au, true, 5000, 2);
    for (int i = 0; i < 3; i++)
        assert_int_equal(mcu_tx_stream_set_active(tx, ids[i], false), MCU_OK);
    assert_int_equal(mcu_tx_stream_send_frame(tx, au, n, 90000, S_US), 6);
    assert_int_equal(c.n, 0);
    capture_clear(&c);

    assert_int_equal(mcu_tx_stream_set_active(tx, 0, true), MCU_OK);
    assert_int_equal(mcu_tx_stream_set_active(tx, 9, true), MCU_OK);
    /* STAP-A(SPS, PPS) + ceil(4999 / (1200 - 2)) = 5 FU-A. */
    assert_int_equal(mcu_tx_stream_send_frame(tx, au, n, 93600, S_US + FRAME_US), 6);
    assert_int_equal(c.n, 12);
    assert_int_equal(count_for(&c, 5), 0);
    assert_int_equal(count_for(&c, 0), 6);
    assert_int_equal(count_for(&c, 9), 6);

    mcu_depack_t *d;
    assert_int_equal(mcu_depack_create(&mcu_h264_depack_ops, &d), MCU_OK);
    uint64_t payload_octets = 0;
    for (size_t k = 0; k < 6; k++) {
        const sent_t *a = nth_for(&c, 0, k), *b = nth_for(&c, 9, k);
        assert_ptr_equal(a->ptr, b->ptr); /* no per-receiver copy */
        assert_int_equal(a->len, b->len);
        assert_memory_equal(a->copy, b->copy, a->len);
        mcu_rtp_packet_t p;
        parse(a, &p);
        assert_int_equal(p.ssrc, SSRC_V);
        assert_int_equal(p.payload_type, PT_V);
        assert_int_equal(p.timestamp, 93600);
        assert_int_equal(p.seq, 1006 + k); /* the first frame used 1000..1005 */
        assert_int_equal(p.marker, k == 5);
        assert_true(p.payload_len <= MCU_H264_DEFAULT_MTU);
        assert_int_equal(p.payload[0] & 0x1F,
                         k == 0 ? MCU_H264_NAL_STAP_A : MCU_H264_NAL_FU_A);
        assert_int_equal(mcu_depack_push(d, p.payload, p.payload_len), MCU_OK);
        payload_octets += p.payload_len;
    }
    mcu_depack_frame_t f;
    assert_int_equal(mcu_depack_finish(d, false, &f), MCU_OK);
    assert_int_equal(f.len, n);
    assert_memory_equal(f.data, au, n);
    assert_true(f.keyframe);
    mcu_depack_destroy(&d);

    const mcu_tx_stream_stats_t *st = mcu_tx_stream_stats(tx);
    assert_int_equal(st->frames, 2);
    assert_int_equal(st->packets, 12);
    assert_int_equal(st->octets, 2 * payload_octets);
    assert_int_equal(st->sends, 12);
    assert_int_equal(st->receivers, 3);
    assert_int_equal(mcu_tx_stream_receiver_stats(tx, 9, &rs), MCU_OK);
    assert_true(rs.active);
    assert_int_equal(rs.packets, 6);
    assert_int_equal(rs.octets, 6 * MCU_RTP_HEADER_SIZE + payload_octets);
    assert_int_equal(mcu_tx_stream_receiver_stats(tx, 5, &rs), MCU_OK);
    assert_false(rs.active);
    assert_int_equal(rs.packets, 0);
    assert_int_equal(mcu_tx_stream_receiver_stats(tx, 4, &rs), MCU_ERR_NOTFOUND);

    /* Deactivated: nothing more. */
    capture_clear(&c);
    assert_int_equal(mcu_tx_stream_set_active(tx, 0, false), MCU_OK);
    assert_int_equal(mcu_tx_stream_send_frame(tx, au, n, 97200, S_US + 2 * FRAME_US), 6);
    assert_int_equal(count_for(&c, 0), 0);
    assert_int_equal(count_for(&c, 9), 6);
    mcu_tx_stream_destroy(&tx);
    capture_free(&c);
}

/* Sequence numbers run on across frames and wrap 65535 -> 0; timestamps wrap too. */
static void seq_and_ts_wrap(void **state)
{
    (void)state;
    capture_t c;
    capture_init(&c, false);
    mcu_tx_stream_config_t cfg = video_cfg(&c);
    cfg.initial_seq = 65530;
    cfg.ts_offset = 0xFFFFFFFFu - FRAME_TICKS; /* the third frame's timestamp wraps */
    mcu_tx_stream_t *tx = make_stream(&cfg);
    assert_int_equal(mcu_tx_stream_add_receiver(tx, 3), MCU_OK);
    assert_int_equal(mcu_tx_stream_set_active(tx, 3, true), MCU_OK);
    static uint8_t au[4096];
    size_t n = make_au(au, false, 3000, 3); /* 3 FU-A */
    for (uint32_t k = 0; k < 4; k++)
        assert_int_equal(mcu_tx_stream_send_frame(tx, au, n, k * FRAME_TICKS, k * FRAME_US), 3);
    assert_int_equal(c.n, 12);
    for (size_t i = 0; i < 12; i++) {
        mcu_rtp_packet_t p;
        parse(&c.p[i], &p);
        assert_int_equal(p.seq, (uint16_t)(65530 + i));
        assert_int_equal(p.timestamp, (uint32_t)(cfg.ts_offset + (i / 3) * FRAME_TICKS));
        assert_int_equal(p.marker, i % 3 == 2);
    }
    mcu_rtp_packet_t p;
    parse(&c.p[5], &p);
    assert_int_equal(p.seq, 65535);
    parse(&c.p[6], &p);
    assert_int_equal(p.seq, 0);
    assert_int_equal(p.timestamp, FRAME_TICKS - 1); /* 2^32 - 1 - 3600 + 2 * 3600 */
    mcu_tx_stream_destroy(&tx);
    capture_free(&c);
}

/* A NACK gets exactly the asked packets, byte-identical, to the asking receiver only,
 * across the sequence wrap; unknown and inactive receivers are refused. */
static void nack_resends_from_history(void **state)
{
    (void)state;
    enum { FRAMES = 25, PKTS = 1 + 3 * FRAMES }; /* one second; STAP-A + 3 FU-A each */
    capture_t c;
    capture_init(&c, true);
    mcu_tx_stream_config_t cfg = video_cfg(&c);
    cfg.initial_seq = 65530;
    mcu_tx_stream_t *tx = make_stream(&cfg);
    for (int id = 1; id <= 3; id++)
        assert_int_equal(mcu_tx_stream_add_receiver(tx, id), MCU_OK);
    assert_int_equal(mcu_tx_stream_set_active(tx, 3, false), MCU_OK);
    static uint8_t au[4096];
    for (uint32_t k = 0; k < FRAMES; k++) {
        size_t n = make_au(au, k == 0, 3000, 10 + k);
        assert_true(mcu_tx_stream_send_frame(tx, au, n, k * FRAME_TICKS, k * FRAME_US) > 0);
    }
    /* Receiver 1's originals, by sequence number - 65530. */
    assert_int_equal(count_for(&c, 1), PKTS);
    sent_t orig[PKTS];
    for (size_t k = 0; k < PKTS; k++) {
        const sent_t *s = nth_for(&c, 1, k);
        orig[k] = *s;
        orig[k].copy = malloc(s->len);
        assert_non_null(orig[k].copy);
        memcpy(orig[k].copy, s->copy, s->len);
    }
    capture_clear(&c);

    int64_t now = (FRAMES - 1) * FRAME_US + 10000; /* the first packet is 970 ms old */
    const uint16_t seqs[] = {65530, 65533, 65535, 0, 2, 69};
    const size_t n_seqs = sizeof seqs / sizeof seqs[0];
    assert_int_equal(mcu_tx_stream_on_nack(tx, 1, seqs, n_seqs, now), n_seqs);
    assert_int_equal(c.n, n_seqs);
    for (size_t i = 0; i < n_seqs; i++) {
        assert_int_equal(c.p[i].rid, 1);
        size_t k = (uint16_t)(seqs[i] - 65530);
        assert_int_equal(c.p[i].len, orig[k].len);
        assert_memory_equal(c.p[i].copy, orig[k].copy, orig[k].len);
        mcu_rtp_packet_t p;
        parse(&c.p[i], &p);
        assert_int_equal(p.seq, seqs[i]);
        assert_int_equal(p.ssrc, SSRC_V); /* plain retransmission: same SSRC */
    }
    /* A sequence number not sent yet (next is 70) and one long before the stream. */
    capture_clear(&c);
    const uint16_t unknown[] = {70, 40000};
    assert_int_equal(mcu_tx_stream_on_nack(tx, 1, unknown, 2, now), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(mcu_tx_stream_on_nack(tx, 3, seqs, n_seqs, now), MCU_ERR_STATE);
    assert_int_equal(mcu_tx_stream_on_nack(tx, 4, seqs, n_seqs, now), MCU_ERR_NOTFOUND);
    assert_int_equal(mcu_tx_stream_on_nack(tx, 1, NULL, 1, now), MCU_ERR_INVAL);
    assert_int_equal(mcu_tx_stream_on_nack(tx, 1, NULL, 0, now), 0);
    assert_int_equal(c.n, 0);

    mcu_tx_receiver_stats_t rs;
    assert_int_equal(mcu_tx_stream_receiver_stats(tx, 1, &rs), MCU_OK);
    assert_int_equal(rs.nacks, n_seqs + 2);
    assert_int_equal(rs.retransmitted, n_seqs);
    assert_int_equal(rs.rtx_not_found, 2);
    assert_int_equal(rs.rtx_rate_limited, 0);
    assert_int_equal(rs.packets, PKTS); /* retransmissions are counted apart */
    assert_int_equal(mcu_tx_stream_receiver_stats(tx, 2, &rs), MCU_OK);
    assert_int_equal(rs.nacks, 0);
    assert_int_equal(rs.retransmitted, 0);
    const mcu_tx_stream_stats_t *st = mcu_tx_stream_stats(tx);
    assert_int_equal(st->history_hits, n_seqs);
    assert_int_equal(st->history_misses, 2);
    assert_int_equal(st->retransmissions, n_seqs);
    assert_int_equal(st->packets, PKTS);
    for (size_t k = 0; k < PKTS; k++)
        free(orig[k].copy);
    mcu_tx_stream_destroy(&tx);
    capture_free(&c);
}

/* Packets are served until they are MCU_TX_HISTORY_MS old, then they are misses. */
static void nack_old_packet_is_miss(void **state)
{
    (void)state;
    capture_t c;
    capture_init(&c, false);
    mcu_tx_stream_config_t cfg = audio_cfg(&c);
    mcu_tx_stream_t *tx = make_stream(&cfg);
    assert_int_equal(mcu_tx_stream_add_receiver(tx, 0), MCU_OK);
    assert_int_equal(mcu_tx_stream_set_active(tx, 0, true), MCU_OK);
    uint8_t op[80];
    make_opus(op, sizeof op, 0x5A);
    const int64_t t0 = 5 * S_US;
    assert_int_equal(mcu_tx_stream_send_frame(tx, op, sizeof op, 0, t0), 1);
    const uint16_t seq = 7;
    /* One small packet: the budget floor (one datagram) still lets it be repaired. */
    assert_int_equal(mcu_tx_stream_on_nack(tx, 0, &seq, 1, t0 + 999999), 1);
    assert_int_equal(mcu_tx_stream_on_nack(tx, 0, &seq, 1, t0 + 1000000), 0);
    assert_int_equal(mcu_tx_stream_on_nack(tx, 0, &seq, 1, t0 + 2 * S_US), 0);
    const mcu_tx_stream_stats_t *st = mcu_tx_stream_stats(tx);
    assert_int_equal(st->history_hits, 1);
    assert_int_equal(st->history_misses, 2);
    assert_int_equal(st->history_packets, 0); /* expired, not just skipped */
    assert_int_equal(st->history_bytes, 0);
    mcu_tx_receiver_stats_t rs;
    assert_int_equal(mcu_tx_stream_receiver_stats(tx, 0, &rs), MCU_OK);
    assert_int_equal(rs.rtx_not_found, 2);
    assert_int_equal(rs.retransmitted, 1);
    mcu_tx_stream_destroy(&tx);
    capture_free(&c);
}

/* 1000 NACKs at once: one receiver gets MCU_TX_RTX_BUDGET_PERCENT of the last second's
 * bytes and no more; the budget refills with time; other receivers have their own. */
static void nack_storm_is_rate_limited(void **state)
{
    (void)state;
    capture_t c;
    capture_init(&c, false);
    mcu_tx_stream_config_t cfg = audio_cfg(&c);
    mcu_tx_stream_t *tx = make_stream(&cfg);
    for (int id = 0; id < 2; id++) {
        assert_int_equal(mcu_tx_stream_add_receiver(tx, id), MCU_OK);
        assert_int_equal(mcu_tx_stream_set_active(tx, id, true), MCU_OK);
    }
    enum { PAYLOAD = 200, DGRAM = PAYLOAD + MCU_RTP_HEADER_SIZE, PER_S = S_US / OPUS_US };
    uint8_t op[PAYLOAD];
    make_opus(op, sizeof op, 0x33);
    uint32_t k = 0;
    int64_t now = 0;
    for (; k < PER_S; k++, now += OPUS_US)
        assert_int_equal(mcu_tx_stream_send_frame(tx, op, sizeof op, k * OPUS_TICKS, now), 1);
    now -= OPUS_US / 2; /* 990 ms: all 50 packets are in the history */
    const mcu_tx_stream_stats_t *st = mcu_tx_stream_stats(tx);
    assert_int_equal(st->history_packets, PER_S);
    assert_int_equal(st->history_bytes, PER_S * DGRAM);

    /* The storm: 1000 single-sequence NACKs cycling over the history. */
    const size_t budget = PER_S * DGRAM * MCU_TX_RTX_BUDGET_PERCENT / 100; /* 2650 */
    capture_clear(&c);
    int served = 0;
    for (int i = 0; i < 1000; i++) {
        uint16_t seq = (uint16_t)(cfg.initial_seq + i % PER_S);
        int rc = mcu_tx_stream_on_nack(tx, 0, &seq, 1, now);
        assert_true(rc == 0 || rc == 1);
        served += rc;
    }
    assert_int_equal(served, budget / DGRAM); /* 12 */
    assert_int_equal(c.n, (size_t)served);
    assert_true((size_t)served * DGRAM <= budget);
    mcu_tx_receiver_stats_t rs;
    assert_int_equal(mcu_tx_stream_receiver_stats(tx, 0, &rs), MCU_OK);
    assert_int_equal(rs.nacks, 1000);
    assert_int_equal(rs.retransmitted, 12);
    assert_int_equal(rs.rtx_rate_limited, 1000 - 12);
    assert_int_equal(rs.rtx_octets, 12 * DGRAM);
    assert_int_equal(st->rtx_rate_limited, 1000 - 12);

    /* Receiver 1 has a budget of its own: one NACK for the whole history. */
    uint16_t all[PER_S];
    for (int i = 0; i < PER_S; i++)
        all[i] = (uint16_t)(cfg.initial_seq + i);
    assert_int_equal(mcu_tx_stream_on_nack(tx, 1, all, PER_S, now), 12);

    /* Half a window later (the stream still sending) half the budget has come back:
     * 2650 - 12 * 212 = 106 left, + 1325 = 1431 bytes: 6 packets. */
    for (; now + OPUS_US / 2 < 3 * S_US / 2; k++, now += OPUS_US)
        assert_int_equal(mcu_tx_stream_send_frame(tx, op, sizeof op, k * OPUS_TICKS,
                                                  now + OPUS_US / 2), 1);
    assert_int_equal(st->history_packets, PER_S);
    uint16_t recent[PER_S];
    for (int i = 0; i < PER_S; i++)
        recent[i] = (uint16_t)(cfg.initial_seq + k - PER_S + i);
    assert_int_equal(mcu_tx_stream_on_nack(tx, 0, recent, PER_S, now), 6);
    /* A full window later the bucket is full again, and never more than full. */
    for (; now + OPUS_US / 2 < 4 * S_US; k++, now += OPUS_US)
        assert_int_equal(mcu_tx_stream_send_frame(tx, op, sizeof op, k * OPUS_TICKS,
                                                  now + OPUS_US / 2), 1);
    for (int i = 0; i < PER_S; i++)
        recent[i] = (uint16_t)(cfg.initial_seq + k - PER_S + i);
    assert_int_equal(mcu_tx_stream_on_nack(tx, 0, recent, PER_S, now), 12);
    mcu_tx_stream_destroy(&tx);
    capture_free(&c);
}

static void ntp_conversion(void **state)
{
    (void)state;
    const uint64_t epoch = (uint64_t)MCU_NTP_UNIX_OFFSET_S << 32;
    assert_true(mcu_ntp_from_unix_us(0) == epoch);
    assert_true(mcu_ntp_from_unix_us(1500000) == epoch + (1ull << 32) + 0x80000000u);
    assert_true(mcu_ntp_from_unix_us(-500000) == epoch - (1ull << 32) + 0x80000000u);
    assert_true(mcu_ntp_from_unix_us(250000) == epoch + 0x40000000u);
    /* 2020-01-01T00:00:00Z = 1577836800 Unix = 3786825600 NTP. */
    assert_true(mcu_ntp_from_unix_us(1577836800ll * S_US) == (uint64_t)3786825600u << 32);
    /* 2036-02-07T06:28:16Z: the seconds field wraps to era 1. */
    assert_true(mcu_ntp_from_unix_us(2085978496ll * S_US) == 0);
    assert_int_equal(mcu_ntp_compact(mcu_ntp_from_unix_us(1500000)),
                     (uint32_t)((MCU_NTP_UNIX_OFFSET_S + 1u) << 16 | 0x8000u));
    assert_int_equal(mcu_ntp_compact_to_us(65536), S_US);
    assert_int_equal(mcu_ntp_compact_to_us(32768), S_US / 2);
    assert_int_equal(mcu_ntp_compact_to_us(1), 15);
}

/* Parses an SR + SDES compound; returns the sender info. */
static mcu_rtcp_sender_info_t check_sr(const uint8_t *buf, size_t len, uint32_t ssrc)
{
    assert_true(len > 0);
    assert_int_equal(mcu_rtcp_validate(buf, len), MCU_OK);
    mcu_rtcp_iter_t it;
    mcu_rtcp_packet_t p;
    mcu_rtcp_iter_init(&it, buf, len);
    assert_int_equal(mcu_rtcp_next(&it, &p), 1);
    assert_int_equal(p.type, MCU_RTCP_SR);
    assert_true(p.u.report.has_sender_info);
    assert_int_equal(p.u.report.ssrc, ssrc);
    assert_int_equal(p.u.report.count, 0);
    mcu_rtcp_sender_info_t si = p.u.report.si;
    assert_int_equal(mcu_rtcp_next(&it, &p), 1);
    assert_int_equal(p.type, MCU_RTCP_SDES);
    assert_int_equal(p.u.sdes.count, 1);
    assert_int_equal(p.u.sdes.chunks[0].ssrc, ssrc);
    assert_int_equal(p.u.sdes.chunks[0].cname_len, strlen(CNAME));
    assert_memory_equal(p.u.sdes.chunks[0].cname, CNAME, strlen(CNAME));
    assert_int_equal(mcu_rtcp_next(&it, &p), 0);
    return si;
}

/* The SR's RTP timestamp is the last frame's extrapolated to the SR's instant, so
 * video and audio SRs from one NTP clock name the same media time. */
static void sr_extrapolates_for_lip_sync(void **state)
{
    (void)state;
    capture_t cv, ca;
    capture_init(&cv, false);
    capture_init(&ca, false);
    mcu_tx_stream_config_t vc = video_cfg(&cv), ac = audio_cfg(&ca);
    ac.ts_offset = 1000;
    mcu_tx_stream_t *v = make_stream(&vc), *a = make_stream(&ac);
    uint8_t buf[512];
    /* Not a sender before the first frame. */
    assert_int_equal(mcu_tx_stream_build_sr(v, 0, 1, buf, sizeof buf), 0);

    static uint8_t au[4096];
    size_t n = make_au(au, true, 3000, 4);
    int pv = mcu_tx_stream_send_frame(v, au, n, 90000, 1 * S_US); /* media time 1.0 s */
    assert_true(pv > 0);
    uint8_t op[100];
    make_opus(op, sizeof op, 0x11);
    /* Media time 1.02 s, sent at 1.02 s. */
    assert_int_equal(mcu_tx_stream_send_frame(a, op, sizeof op, 48960, 1020000), 1);

    const int64_t t = 3 * S_US / 2;
    const uint64_t ntp = mcu_ntp_from_unix_us(1577836800ll * S_US + 123456);
    size_t len = mcu_tx_stream_build_sr(v, t, ntp, buf, sizeof buf);
    mcu_rtcp_sender_info_t si = check_sr(buf, len, SSRC_V);
    assert_true(si.ntp == ntp);
    assert_int_equal(si.rtp_ts, 135000);
    assert_int_equal(si.packet_count, pv);
    assert_int_equal(si.octet_count, mcu_tx_stream_stats(v)->octets);
    /* STAP-A: 1 + (2 + 10) + (2 + 4); FU-A: the slice's 2999 bytes after its header,
     * in 3 packets of 2 header bytes. */
    assert_int_equal(si.octet_count, 19 + 2999 + 3 * 2);

    len = mcu_tx_stream_build_sr(a, t, ntp, buf, sizeof buf);
    si = check_sr(buf, len, SSRC_A);
    /* 1000 + 48960 + 0.48 s * 48 kHz = 73000 */
    assert_int_equal(si.rtp_ts, 73000);
    assert_int_equal(si.packet_count, 1);
    assert_int_equal(si.octet_count, sizeof op);
    /* Both SRs name media time 1.5 s for the same NTP instant. */
    assert_true((uint64_t)(si.rtp_ts - ac.ts_offset) * MCU_H264_CLOCK_RATE ==
                135000ull * MCU_OPUS_CLOCK_RATE);

    /* Too small a buffer: nothing, and no SR remembered. */
    uint64_t srs = mcu_tx_stream_stats(v)->sender_reports;
    assert_int_equal(mcu_tx_stream_build_sr(v, t, ntp, buf, 40), 0);
    assert_int_equal(mcu_tx_stream_stats(v)->sender_reports, srs);
    mcu_tx_stream_destroy(&v);
    mcu_tx_stream_destroy(&a);
    capture_free(&cv);
    capture_free(&ca);
}

/* RFC 3550 6.4.1: RTT = A - LSR - DLSR for an LSR we sent; reports are recorded. */
static void rr_gives_rtt(void **state)
{
    (void)state;
    capture_t c;
    capture_init(&c, false);
    mcu_tx_stream_config_t cfg = video_cfg(&c);
    mcu_tx_stream_t *tx = make_stream(&cfg);
    assert_int_equal(mcu_tx_stream_add_receiver(tx, 2), MCU_OK);
    static uint8_t au[2048];
    size_t n = make_au(au, true, 1000, 5);
    assert_true(mcu_tx_stream_send_frame(tx, au, n, 0, 9 * S_US) > 0);

    const int64_t wall0 = 1577836800ll * S_US, t0 = 10 * S_US;
    uint8_t buf[512];
    assert_true(mcu_tx_stream_build_sr(tx, t0, mcu_ntp_from_unix_us(wall0), buf, sizeof buf) > 0);
    /* Two more SRs, one second apart: the first stays matchable. */
    for (int i = 1; i <= 2; i++)
        assert_true(mcu_tx_stream_build_sr(tx, t0 + i * S_US, mcu_ntp_from_unix_us(wall0 + i * S_US),
                                           buf, sizeof buf) > 0);

    /* The receiver held the first SR 60 ms; its RR arrives 100 ms after that SR left,
     * plus the two seconds the other SRs took: RTT 40 ms. */
    const int64_t back = 2 * S_US + 100000;
    mcu_rtcp_report_block_t rb = {.ssrc = SSRC_V, .fraction_lost = 25, .cumulative_lost = 7,
                                  .ext_highest_seq = 1003, .jitter = 900,
                                  .lsr = mcu_ntp_compact(mcu_ntp_from_unix_us(wall0)),
                                  .dlsr = (uint32_t)((2 * S_US + 60000) * 65536ll / S_US)};
    assert_int_equal(mcu_tx_stream_on_rr(tx, 2, &rb, t0 + back, mcu_ntp_from_unix_us(wall0 + back)),
                     MCU_OK);
    mcu_tx_receiver_stats_t rs;
    assert_int_equal(mcu_tx_stream_receiver_stats(tx, 2, &rs), MCU_OK);
    assert_int_equal(rs.reports, 1);
    assert_int_equal(rs.last_report_us, t0 + back);
    assert_int_equal(rs.fraction_lost, 25);
    assert_int_equal(rs.cumulative_lost, 7);
    assert_int_equal(rs.ext_highest_seq, 1003);
    assert_int_equal(rs.jitter, 900);
    assert_int_equal(rs.jitter_us, 10000); /* 900 / 90 kHz */
    assert_int_equal(rs.rtt_samples, 1);
    assert_true(rs.rtt_us >= 40000 - 50 && rs.rtt_us <= 40000 + 50);

    /* Without an SR (LSR 0): recorded, RTT kept, nothing rejected. */
    mcu_rtcp_report_block_t none = rb;
    none.lsr = 0;
    none.fraction_lost = 3;
    assert_int_equal(mcu_tx_stream_on_rr(tx, 2, &none, t0 + back, 0), MCU_OK);
    assert_int_equal(mcu_tx_stream_receiver_stats(tx, 2, &rs), MCU_OK);
    assert_int_equal(rs.fraction_lost, 3);
    assert_int_equal(rs.rtt_samples, 1);
    assert_int_equal(rs.rtt_rejected, 0);
    assert_true(rs.rtt_us >= 40000 - 50 && rs.rtt_us <= 40000 + 50);

    /* An LSR we never sent, a DLSR longer than the time since the SR, and a wall clock
     * stepped 10 s between SR and RR are all rejected. */
    mcu_rtcp_report_block_t bad = rb;
    bad.lsr ^= 0x1234;
    assert_int_equal(mcu_tx_stream_on_rr(tx, 2, &bad, t0 + back, mcu_ntp_from_unix_us(wall0 + back)),
                     MCU_OK);
    bad = rb;
    bad.dlsr = (uint32_t)(3 * 65536);
    assert_int_equal(mcu_tx_stream_on_rr(tx, 2, &bad, t0 + back, mcu_ntp_from_unix_us(wall0 + back)),
                     MCU_OK);
    assert_int_equal(mcu_tx_stream_on_rr(tx, 2, &rb, t0 + back,
                                         mcu_ntp_from_unix_us(wall0 + back + 10 * S_US)),
                     MCU_OK);
    assert_int_equal(mcu_tx_stream_receiver_stats(tx, 2, &rs), MCU_OK);
    assert_int_equal(rs.rtt_rejected, 3);
    assert_int_equal(rs.rtt_samples, 1);

    /* The newest SR, echoed with a 0.5 s hold and a 25 ms path each way. */
    mcu_rtcp_report_block_t latest = rb;
    latest.lsr = mcu_ntp_compact(mcu_ntp_from_unix_us(wall0 + 2 * S_US));
    latest.dlsr = 32768;
    const int64_t arr = 2 * S_US + 550000;
    assert_int_equal(mcu_tx_stream_on_rr(tx, 2, &latest, t0 + arr, mcu_ntp_from_unix_us(wall0 + arr)),
                     MCU_OK);
    assert_int_equal(mcu_tx_stream_receiver_stats(tx, 2, &rs), MCU_OK);
    assert_int_equal(rs.rtt_samples, 2);
    assert_true(rs.rtt_us >= 50000 - 50 && rs.rtt_us <= 50000 + 50);

    /* Blocks about another source, unknown receivers. */
    bad = rb;
    bad.ssrc = SSRC_A;
    assert_int_equal(mcu_tx_stream_on_rr(tx, 2, &bad, t0, 0), MCU_ERR_SSRC);
    assert_int_equal(mcu_tx_stream_on_rr(tx, 8, &rb, t0, 0), MCU_ERR_NOTFOUND);
    assert_int_equal(mcu_tx_stream_on_rr(tx, 2, NULL, t0, 0), MCU_ERR_INVAL);
    mcu_tx_stream_destroy(&tx);
    capture_free(&c);
}

/* 600 receivers of one stream: each gets every packet, from the same buffer;
 * deactivation and removal (which moves receivers in the table) keep each one's state. */
static void six_hundred_receivers(void **state)
{
    (void)state;
    enum { N = 600 };
    capture_t c;
    capture_init(&c, false);
    mcu_tx_stream_config_t cfg = video_cfg(&c);
    mcu_tx_stream_t *tx = make_stream(&cfg);
    for (int id = 0; id < N; id++) {
        assert_int_equal(mcu_tx_stream_add_receiver(tx, id), MCU_OK);
        assert_int_equal(mcu_tx_stream_set_active(tx, id, true), MCU_OK);
    }
    static uint8_t au[4096];
    size_t n = make_au(au, true, 2000, 6); /* STAP-A + 2 FU-A */
    assert_int_equal(mcu_tx_stream_send_frame(tx, au, n, 0, 0), 3);
    assert_int_equal(c.n, 3 * N);
    /* Receiver by receiver, each the frame's packets in order, from the same buffers. */
    for (int i = 0; i < N; i++) {
        for (size_t k = 0; k < 3; k++) {
            const sent_t *first = &c.p[k];
            const sent_t *s = &c.p[(size_t)i * 3 + k];
            assert_int_equal(s->rid, i);
            assert_ptr_equal(s->ptr, first->ptr);
            assert_int_equal(s->len, first->len);
        }
    }
    /* Odd ids inactive, ids 100..199 removed. */
    for (int id = 1; id < N; id += 2)
        assert_int_equal(mcu_tx_stream_set_active(tx, id, false), MCU_OK);
    for (int id = 100; id < 200; id++)
        assert_int_equal(mcu_tx_stream_remove_receiver(tx, id), MCU_OK);
    assert_int_equal(mcu_tx_stream_stats(tx)->receivers, N - 100);
    capture_clear(&c);
    assert_int_equal(mcu_tx_stream_send_frame(tx, au, n, FRAME_TICKS, FRAME_US), 3);
    assert_int_equal(c.n, 3 * (N / 2 - 50));
    for (int id = 0; id < N; id++) {
        bool gets = id % 2 == 0 && (id < 100 || id >= 200);
        assert_int_equal(count_for(&c, id), gets ? 3 : 0);
        mcu_tx_receiver_stats_t rs;
        if (id >= 100 && id < 200) {
            assert_int_equal(mcu_tx_stream_receiver_stats(tx, id, &rs), MCU_ERR_NOTFOUND);
            continue;
        }
        assert_int_equal(mcu_tx_stream_receiver_stats(tx, id, &rs), MCU_OK);
        assert_int_equal(rs.id, id);
        assert_int_equal(rs.packets, gets ? 6 : 3);
    }
    /* Ids: bounds, duplicates, unknown; the table fills to MCU_TX_MAX_RECEIVERS. */
    assert_int_equal(mcu_tx_stream_add_receiver(tx, MCU_TX_MAX_RECEIVERS), MCU_ERR_INVAL);
    assert_int_equal(mcu_tx_stream_add_receiver(tx, -1), MCU_ERR_INVAL);
    assert_int_equal(mcu_tx_stream_add_receiver(tx, 0), MCU_ERR_DUPLICATE);
    assert_int_equal(mcu_tx_stream_remove_receiver(tx, 150), MCU_ERR_NOTFOUND);
    assert_int_equal(mcu_tx_stream_set_active(tx, 150, true), MCU_ERR_NOTFOUND);
    for (int id = 100; id < 200; id++)
        assert_int_equal(mcu_tx_stream_add_receiver(tx, id), MCU_OK);
    for (int id = N; id < MCU_TX_MAX_RECEIVERS; id++)
        assert_int_equal(mcu_tx_stream_add_receiver(tx, id), MCU_OK);
    assert_int_equal(mcu_tx_stream_stats(tx)->receivers, MCU_TX_MAX_RECEIVERS);
    mcu_tx_stream_destroy(&tx);
    capture_free(&c);
}

/* send_many: what a send_many call saw, per receiver. */
typedef struct many_capture {
    int calls[4];
    int packets[4];
    uint16_t next_seq[4];       /* the sequence number each receiver expects next */
    bool started[4];
    int max_n;
    int short_rid;              /* this receiver's calls send one packet less; -1: none */
} many_capture_t;

static int capture_many(void *opaque, int rid, const uint8_t *const *pkts, const size_t *lens,
                        int n)
{
    many_capture_t *m = opaque;
    assert_true(rid >= 0 && rid < 4);
    assert_true(n >= 1 && n <= MCU_TX_SEND_BATCH);
    if (n > m->max_n)
        m->max_n = n;
    m->calls[rid]++;
    for (int k = 0; k < n; k++) {
        mcu_rtp_packet_t p;
        assert_int_equal(mcu_rtp_parse(pkts[k], lens[k], &p), MCU_OK);
        /* The bytes are still the stream's: in order, no gap, nothing overwritten. */
        if (m->started[rid])
            assert_int_equal(p.seq, m->next_seq[rid]);
        m->started[rid] = true;
        m->next_seq[rid] = (uint16_t)(p.seq + 1);
        m->packets[rid]++;
    }
    return rid == m->short_rid ? n - 1 : n;
}

static int fail_send(void *opaque, int rid, const uint8_t *pkt, size_t len)
{
    (void)opaque, (void)rid, (void)pkt, (void)len;
    fail_msg("new frames go through send_many when it is set");
    return MCU_ERR_IO;
}

/* With send_many, a frame goes out receiver by receiver in batches of at most
 * MCU_TX_SEND_BATCH, never more than the history holds (each batch is still intact
 * when sent), and short sends count as errors for that receiver only. */
static void batched_sends(void **state)
{
    (void)state;
    many_capture_t m = {.short_rid = -1};
    mcu_tx_stream_config_t cfg = {.ssrc = SSRC_V, .payload_type = PT_V,
                                  .clock_rate = MCU_H264_CLOCK_RATE, .is_video = true,
                                  .cname = CNAME, .initial_seq = 65530, .send = fail_send,
                                  .send_many = capture_many, .opaque = &m};
    mcu_tx_stream_t *tx = make_stream(&cfg);
    for (int id = 0; id < 3; id++) {
        assert_int_equal(mcu_tx_stream_add_receiver(tx, id), MCU_OK);
        assert_int_equal(mcu_tx_stream_set_active(tx, id, true), MCU_OK);
    }
    static uint8_t au[64 * 1024];
    size_t n = make_au(au, true, 40000, 9); /* a keyframe of ~35 packets */
    int pk = mcu_tx_stream_send_frame(tx, au, n, 0, 0);
    assert_true(pk > 2 * MCU_TX_SEND_BATCH);
    for (int id = 0; id < 3; id++) {
        assert_int_equal(m.packets[id], pk);
        assert_int_equal(m.calls[id], (pk + MCU_TX_SEND_BATCH - 1) / MCU_TX_SEND_BATCH);
    }
    assert_int_equal(m.max_n, MCU_TX_SEND_BATCH);
    assert_int_equal(mcu_tx_stream_stats(tx)->sends, (uint64_t)(3 * pk));

    /* Receiver 1 gets one packet less per call: its errors, not the others'. */
    m.short_rid = 1;
    memset(m.started, 0, sizeof m.started);
    n = make_au(au, false, 3000, 10); /* 3 packets, one call */
    assert_int_equal(mcu_tx_stream_send_frame(tx, au, n, FRAME_TICKS, FRAME_US), 3);
    mcu_tx_receiver_stats_t rs;
    assert_int_equal(mcu_tx_stream_receiver_stats(tx, 1, &rs), MCU_OK);
    assert_int_equal(rs.send_errors, 1);
    assert_int_equal(rs.packets, (uint64_t)(pk + 2));
    assert_int_equal(mcu_tx_stream_receiver_stats(tx, 2, &rs), MCU_OK);
    assert_int_equal(rs.send_errors, 0);
    assert_int_equal(rs.packets, (uint64_t)(pk + 3));
    assert_int_equal(mcu_tx_stream_stats(tx)->send_errors, 1);
    mcu_tx_stream_destroy(&tx);

    /* A history of 5 packets: batches of 5, so nothing is overwritten before it is sent. */
    memset(&m, 0, sizeof m);
    m.short_rid = -1;
    cfg.history_packets = 5;
    tx = make_stream(&cfg);
    assert_int_equal(mcu_tx_stream_add_receiver(tx, 0), MCU_OK);
    assert_int_equal(mcu_tx_stream_set_active(tx, 0, true), MCU_OK);
    n = make_au(au, true, 20000, 11);
    pk = mcu_tx_stream_send_frame(tx, au, n, 0, 0);
    assert_true(pk > 10);
    assert_int_equal(m.packets[0], pk);
    assert_int_equal(m.max_n, 5);
    assert_int_equal(m.calls[0], (pk + 4) / 5);
    mcu_tx_stream_destroy(&tx);
}

/* 5 s of big frames: the history never holds more than its packet bound, and evicted
 * packets are misses; with small frames the age bound holds it to one second. */
static void history_stays_bounded(void **state)
{
    (void)state;
    capture_t c;
    capture_init(&c, false);
    mcu_tx_stream_config_t cfg = video_cfg(&c);
    mcu_tx_stream_t *tx = make_stream(&cfg);
    assert_int_equal(mcu_tx_stream_add_receiver(tx, 0), MCU_OK);
    assert_int_equal(mcu_tx_stream_set_active(tx, 0, true), MCU_OK);
    static uint8_t au[80000];
    size_t n = make_au(au, false, 70000, 7); /* 59 FU-A: ~1475 packets/s at 25 fps */
    const mcu_tx_stream_stats_t *st = mcu_tx_stream_stats(tx);
    int64_t now = 0;
    for (uint32_t k = 0; k < 125; k++, now += FRAME_US) {
        assert_int_equal(mcu_tx_stream_send_frame(tx, au, n, k * FRAME_TICKS, now), 59);
        assert_true(st->history_packets <= MCU_TX_HISTORY_PACKETS);
        assert_true(st->history_bytes <= (size_t)MCU_TX_HISTORY_PACKETS * MCU_RTP_MAX_DATAGRAM);
    }
    assert_int_equal(st->history_packets, MCU_TX_HISTORY_PACKETS);
    assert_int_equal(st->history_evictions, 125 * 59 - MCU_TX_HISTORY_PACKETS);
    capture_free(&c); /* the sends are not needed below */
    capture_init(&c, false);
    now -= FRAME_US;
    const uint16_t newest = (uint16_t)(cfg.initial_seq + 125 * 59 - 1);
    const uint16_t oldest = (uint16_t)(newest - MCU_TX_HISTORY_PACKETS + 1);
    const uint16_t seqs[3] = {newest, oldest, (uint16_t)(oldest - 1)};
    assert_int_equal(mcu_tx_stream_on_nack(tx, 0, seqs, 3, now), 2);
    mcu_tx_stream_destroy(&tx);

    /* One small packet per frame: one second's worth, 25, stays. */
    tx = make_stream(&cfg);
    st = mcu_tx_stream_stats(tx);
    n = make_au(au, false, 500, 8);
    now = 0;
    for (uint32_t k = 0; k < 125; k++, now += FRAME_US) {
        assert_int_equal(mcu_tx_stream_send_frame(tx, au, n, k * FRAME_TICKS, now), 1);
        assert_true(st->history_packets <= S_US / FRAME_US);
    }
    assert_int_equal(st->history_packets, S_US / FRAME_US);
    assert_int_equal(st->history_evictions, 0);
    mcu_tx_stream_destroy(&tx);

    /* An audio stream with a smaller history keeps to it. */
    cfg = audio_cfg(&c);
    cfg.history_packets = 16;
    tx = make_stream(&cfg);
    st = mcu_tx_stream_stats(tx);
    uint8_t op[60];
    make_opus(op, sizeof op, 0x77);
    for (uint32_t k = 0; k < 250; k++)
        assert_int_equal(mcu_tx_stream_send_frame(tx, op, sizeof op, k * OPUS_TICKS,
                                                  (int64_t)k * OPUS_US), 1);
    assert_int_equal(st->history_packets, 16);
    mcu_tx_stream_destroy(&tx);
    capture_free(&c);
}

/* Audio: one Opus packet per RTP packet; bad frames fail without using a sequence
 * number; send failures are counted and do not stop the fan-out; the callback cannot
 * re-enter the stream. */
static void audio_errors_and_reentry(void **state)
{
    (void)state;
    capture_t c;
    capture_init(&c, true);
    mcu_tx_stream_config_t cfg = audio_cfg(&c);
    mcu_tx_stream_t *tx = make_stream(&cfg);
    for (int id = 0; id < 3; id++) {
        assert_int_equal(mcu_tx_stream_add_receiver(tx, id), MCU_OK);
        assert_int_equal(mcu_tx_stream_set_active(tx, id, true), MCU_OK);
    }
    uint8_t op[MCU_RTP_MAX_DATAGRAM];
    make_opus(op, 120, 0x42);
    c.fail_rid = 1;
    assert_int_equal(mcu_tx_stream_send_frame(tx, op, 120, 960, 0), 1);
    assert_int_equal(c.n, 3);
    mcu_rtp_packet_t p;
    parse(&c.p[2], &p);
    assert_int_equal(p.seq, 7);
    assert_int_equal(p.timestamp, 960);
    assert_int_equal(p.payload_type, PT_A);
    assert_int_equal(p.ssrc, SSRC_A);
    assert_false(p.marker);
    assert_int_equal(p.payload_len, 120);
    assert_memory_equal(p.payload, op, 120);
    mcu_tx_receiver_stats_t rs;
    assert_int_equal(mcu_tx_stream_receiver_stats(tx, 1, &rs), MCU_OK);
    assert_int_equal(rs.send_errors, 1);
    assert_int_equal(rs.packets, 0);
    assert_int_equal(mcu_tx_stream_receiver_stats(tx, 2, &rs), MCU_OK);
    assert_int_equal(rs.packets, 1);
    assert_int_equal(mcu_tx_stream_stats(tx)->send_errors, 1);
    /* A failed retransmission is not counted as served. */
    const uint16_t seq = 7;
    assert_int_equal(mcu_tx_stream_on_nack(tx, 1, &seq, 1, 1000), 0);
    assert_int_equal(mcu_tx_stream_on_nack(tx, 2, &seq, 1, 1000), 1);
    c.fail_rid = -1;

    const uint8_t bad_opus[] = {0x0B, 0x00}; /* code 3 with zero frames */
    capture_clear(&c);
    assert_int_equal(mcu_tx_stream_send_frame(tx, bad_opus, sizeof bad_opus, 1920, 20000),
                     MCU_ERR_MALFORMED);
    assert_int_equal(mcu_tx_stream_send_frame(tx, op, MCU_RTP_MAX_DATAGRAM - MCU_RTP_HEADER_SIZE + 1,
                                              1920, 20000), MCU_ERR_TOO_BIG);
    assert_int_equal(mcu_tx_stream_send_frame(tx, op, 0, 1920, 20000), MCU_ERR_INVAL);
    assert_int_equal(mcu_tx_stream_send_frame(tx, NULL, 10, 1920, 20000), MCU_ERR_INVAL);
    assert_int_equal(c.n, 0);
    assert_int_equal(mcu_tx_stream_send_frame(tx, op, 120, 1920, 20000), 1);
    parse(&c.p[0], &p);
    assert_int_equal(p.seq, 8);
    assert_int_equal(mcu_tx_stream_stats(tx)->frames, 2);

    /* Re-entry from the callback is refused, and the fan-out carries on. */
    capture_clear(&c);
    c.reenter = tx;
    assert_int_equal(mcu_tx_stream_send_frame(tx, op, 120, 2880, 40000), 1);
    assert_int_equal(c.reenter_rc, MCU_ERR_BUSY);
    assert_int_equal(c.n, 3);
    assert_int_equal(mcu_tx_stream_stats(tx)->receivers, 3);
    c.reenter = NULL;
    mcu_tx_stream_destroy(&tx);

    /* Video: an access unit with no NAL unit is refused and uses no sequence number. */
    capture_clear(&c);
    mcu_tx_stream_config_t vc = video_cfg(&c);
    tx = make_stream(&vc);
    assert_int_equal(mcu_tx_stream_add_receiver(tx, 0), MCU_OK);
    assert_int_equal(mcu_tx_stream_set_active(tx, 0, true), MCU_OK);
    const uint8_t zeros[8] = {0};
    assert_int_equal(mcu_tx_stream_send_frame(tx, zeros, sizeof zeros, 0, 0), MCU_ERR_INVAL);
    uint8_t au[64];
    size_t n = make_au(au, false, 20, 9);
    assert_int_equal(mcu_tx_stream_send_frame(tx, au, n, 0, 0), 1);
    parse(&c.p[0], &p);
    assert_int_equal(p.seq, 1000);
    assert_true(p.marker);
    assert_int_equal(mcu_tx_stream_stats(tx)->frames, 1);
    mcu_tx_stream_destroy(&tx);
    capture_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_rejects_bad_config),
        cmocka_unit_test(fanout_identical),
        cmocka_unit_test(seq_and_ts_wrap),
        cmocka_unit_test(nack_resends_from_history),
        cmocka_unit_test(nack_old_packet_is_miss),
        cmocka_unit_test(nack_storm_is_rate_limited),
        cmocka_unit_test(ntp_conversion),
        cmocka_unit_test(sr_extrapolates_for_lip_sync),
        cmocka_unit_test(rr_gives_rtt),
        cmocka_unit_test(six_hundred_receivers),
        cmocka_unit_test(batched_sends),
        cmocka_unit_test(history_stays_bounded),
        cmocka_unit_test(audio_errors_and_reentry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
