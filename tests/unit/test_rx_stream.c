/* The per-stream receive path: SSRC takeover, sequence restarts, statistics. */
#include <string.h>

#include "codecs/h264_rtp.h"
#include "codecs/opus_rtp.h"
#include "mcu/error.h"
#include "mcu/rtp.h"
#include "mcu/rx_stream.h"
#include "test_util.h"

#define PT 96
#define MS 1000

static const uint8_t p_slice[] = {0x41, 0x9A, 0x00, 0x10};

static int send(mcu_rx_stream_t *rx, uint32_t ssrc, uint16_t seq, uint32_t ts, int64_t now)
{
    uint8_t buf[64];
    mcu_rtp_header_t h = {.marker = true, .payload_type = PT, .seq = seq, .timestamp = ts,
                          .ssrc = ssrc};
    int n = mcu_rtp_write_header(&h, buf, sizeof buf);
    memcpy(buf + n, p_slice, sizeof p_slice);
    return mcu_rx_stream_input(rx, buf, (size_t)n + sizeof p_slice, now);
}

static mcu_rx_stream_t *video_rx(void)
{
    mcu_rx_stream_config_t cfg = {.format = &mcu_h264_depack_ops, .payload_type = PT};
    mcu_rx_stream_t *rx;
    assert_int_equal(mcu_rx_stream_create(&cfg, &rx), MCU_OK);
    return rx;
}

static int drain(mcu_rx_stream_t *rx, int64_t now, uint32_t *last_ssrc, bool *kf_needed)
{
    mcu_rx_frame_t f;
    int n = 0;
    while (mcu_rx_stream_poll(rx, now, &f) == MCU_OK) {
        *last_ssrc = f.ssrc;
        *kf_needed |= f.keyframe_needed;
        n++;
    }
    return n;
}

static void ssrc_takeover(void **state)
{
    mcu_rx_stream_t *rx = video_rx();
    uint32_t ssrc = 0;
    bool kf = false;
    for (uint16_t i = 0; i < 10; i++)
        assert_int_equal(send(rx, 0xA, (uint16_t)(100 + i), i * 3600u, i * 40 * MS), MCU_OK);
    assert_int_equal(drain(rx, 400 * MS, &ssrc, &kf), 10);
    assert_int_equal(ssrc, 0xA);
    /* One stray packet from another SSRC is not enough. */
    assert_int_equal(send(rx, 0xB, 5000, 0, 410 * MS), MCU_ERR_SSRC);
    assert_int_equal(send(rx, 0xA, 110, 36000, 420 * MS), MCU_OK);
    assert_int_equal(drain(rx, 420 * MS, &ssrc, &kf), 1);
    /* The endpoint restarts: the new SSRC in sequence takes over. */
    assert_int_equal(send(rx, 0xC, 7, 900000, 500 * MS), MCU_ERR_SSRC);
    assert_int_equal(send(rx, 0xC, 8, 903600, 540 * MS), MCU_OK);
    assert_int_equal(send(rx, 0xC, 9, 907200, 580 * MS), MCU_OK);
    kf = false;
    assert_true(drain(rx, 700 * MS, &ssrc, &kf) >= 1);
    assert_int_equal(ssrc, 0xC);
    assert_true(kf);
    /* The old one is now the stranger. */
    assert_int_equal(send(rx, 0xA, 111, 39600, 600 * MS), MCU_ERR_SSRC);
    const mcu_rx_stream_counters_t *c = mcu_rx_stream_counters(rx);
    assert_int_equal(c->ssrc_changes, 1);
    assert_int_equal(mcu_drop_stats_get(&c->drops, MCU_ERR_SSRC), 3);
    mcu_rx_stream_destroy(&rx);
}

static void sequence_restart(void **state)
{
    mcu_rx_stream_t *rx = video_rx();
    uint32_t ssrc = 0;
    bool kf = false;
    for (uint16_t i = 0; i < 5; i++)
        send(rx, 0xA, (uint16_t)(1000 + i), i * 3600u, i * 40 * MS);
    assert_int_equal(drain(rx, 200 * MS, &ssrc, &kf), 5);
    /* Same SSRC, sequence jumps far: dropped once, then accepted as a restart. */
    assert_int_equal(send(rx, 0xA, 40000, 20 * 3600u, 240 * MS), MCU_ERR_SEQ_JUMP);
    assert_int_equal(send(rx, 0xA, 40001, 21 * 3600u, 280 * MS), MCU_OK);
    assert_int_equal(send(rx, 0xA, 40002, 22 * 3600u, 320 * MS), MCU_OK);
    kf = false;
    assert_int_equal(drain(rx, 600 * MS, &ssrc, &kf), 2);
    assert_true(kf);
    const mcu_rx_stream_counters_t *c = mcu_rx_stream_counters(rx);
    assert_true(c->restarts >= 1);
    const mcu_rtp_stats_t *src = mcu_rx_stream_source(rx);
    assert_non_null(src);
    assert_int_equal(src->ssrc, 0xA);
    mcu_rx_stream_destroy(&rx);
}

/* An RFC 4588 packet: payload = original sequence number + the original payload. */
static int send_rtx(mcu_rx_stream_t *rx, uint32_t ssrc, uint16_t seq, uint16_t osn, uint32_t ts,
                    int64_t now)
{
    uint8_t buf[64];
    mcu_rtp_header_t h = {.marker = true, .payload_type = PT + 1, .seq = seq, .timestamp = ts,
                          .ssrc = ssrc};
    int n = mcu_rtp_write_header(&h, buf, sizeof buf);
    buf[n] = (uint8_t)(osn >> 8);
    buf[n + 1] = (uint8_t)osn;
    memcpy(buf + n + 2, p_slice, sizeof p_slice);
    return mcu_rx_stream_input(rx, buf, (size_t)n + 2 + sizeof p_slice, now);
}

static void nack_and_rtx(void **state)
{
    mcu_rx_stream_config_t cfg = {.format = &mcu_h264_depack_ops, .payload_type = PT,
                                  .rtx_payload_type = PT + 1, .nack = true};
    mcu_rx_stream_t *rx;
    assert_int_equal(mcu_rx_stream_create(&cfg, &rx), MCU_OK);
    uint32_t ssrc = 0;
    bool kf = false;
    for (uint16_t i = 0; i < 10; i++)
        if (i != 5)
            assert_int_equal(send(rx, 0xA, (uint16_t)(200 + i), i * 3600u, i * 5 * MS), MCU_OK);
    /* Seq 205 is asked for at once, and the frames behind it wait for it (at least
     * MCU_RX_STREAM_NACK_WAIT_MS). */
    uint16_t seqs[8];
    assert_int_equal(mcu_rx_stream_nacks(rx, 50 * MS, seqs, 8), 1);
    assert_int_equal(seqs[0], 205);
    assert_int_equal(drain(rx, 55 * MS, &ssrc, &kf), 5);
    /* An RTX packet for something never asked for is refused and adopts no SSRC. */
    assert_int_equal(send_rtx(rx, 0xB, 1, 203, 3 * 3600u, 60 * MS), MCU_ERR_DUPLICATE);
    uint32_t rtx_ssrc;
    assert_false(mcu_rx_stream_rtx_ssrc(rx, &rtx_ssrc));
    /* The repair: the waiting frames all come out, in order. */
    assert_int_equal(send_rtx(rx, 0xB, 2, 205, 5 * 3600u, 70 * MS), MCU_OK);
    assert_int_equal(drain(rx, 70 * MS, &ssrc, &kf), 5);
    assert_true(mcu_rx_stream_rtx_ssrc(rx, &rtx_ssrc));
    assert_int_equal(rtx_ssrc, 0xB);
    const mcu_rx_stream_counters_t *c = mcu_rx_stream_counters(rx);
    assert_int_equal(c->rtx_packets, 1);
    assert_int_equal(c->frames_corrupt, 0);
    assert_int_equal(mcu_rx_stream_nack_stats(rx)->recovered, 1);
    assert_int_equal(mcu_rx_stream_nacks(rx, 500 * MS, seqs, 8), 0);
    mcu_rx_stream_destroy(&rx);
}

/* A padding-only packet (P bit, count byte, nothing else), as libwebrtc sends to probe. */
static int send_padding(mcu_rx_stream_t *rx, uint8_t pt, uint32_t ssrc, uint16_t seq,
                        uint32_t ts, int64_t now)
{
    uint8_t buf[64];
    mcu_rtp_header_t h = {.payload_type = pt, .seq = seq, .timestamp = ts, .ssrc = ssrc};
    int n = mcu_rtp_write_header(&h, buf, sizeof buf);
    buf[0] |= 0x20;
    memset(buf + n, 0, 31);
    buf[n + 31] = 32;
    return mcu_rx_stream_input(rx, buf, (size_t)n + 32, now);
}

/* Padding after every 5th frame, on the media SSRC and on the RTX SSRC: every frame
 * comes out complete, nothing is lost, nothing is NACKed. */
static void padding_is_received(void **state)
{
    mcu_rx_stream_config_t cfg = {.format = &mcu_h264_depack_ops, .payload_type = PT,
                                  .rtx_payload_type = PT + 1, .nack = true};
    mcu_rx_stream_t *rx;
    assert_int_equal(mcu_rx_stream_create(&cfg, &rx), MCU_OK);
    uint16_t seq = 1000, rtx_seq = 7;
    int frames = 0;
    uint16_t nacks[8];
    for (int i = 0; i < 100; i++) {
        int64_t now = i * 40 * MS;
        assert_int_equal(send(rx, 0xA, seq++, (uint32_t)i * 3600u, now), MCU_OK);
        if (i % 5 == 4) {
            for (int k = 0; k < 3; k++) /* a probe of three packets, the frame's timestamp */
                assert_int_equal(send_padding(rx, PT, 0xA, seq++, (uint32_t)i * 3600u,
                                              now + 1000), MCU_OK);
            assert_int_equal(send_padding(rx, PT + 1, 0xB, rtx_seq++, (uint32_t)i * 3600u,
                                          now + 2000), MCU_OK);
        }
        mcu_rx_frame_t f;
        while (mcu_rx_stream_poll(rx, now + 3000, &f) == MCU_OK) {
            assert_false(f.media.corrupt);
            assert_int_equal(f.lost_before, 0);
            frames++;
        }
        assert_int_equal(mcu_rx_stream_nacks(rx, now + 3000, nacks, 8), 0);
    }
    assert_int_equal(frames, 100);
    const mcu_rx_stream_counters_t *c = mcu_rx_stream_counters(rx);
    assert_int_equal(c->drops.total, 0);
    assert_int_equal(c->padding, 20 * 4);
    assert_int_equal(c->frames_corrupt, 0);
    const mcu_rtp_stats_t *src = mcu_rx_stream_source(rx);
    mcu_rtcp_report_block_t rb;
    mcu_rtp_stats_t copy = *src;
    mcu_rtp_stats_report(&copy, 4 * 1000 * MS, &rb);
    assert_int_equal(rb.cumulative_lost, 0);
    assert_int_equal(mcu_rx_stream_nack_stats(rx)->missing, 0);
    mcu_rx_stream_destroy(&rx);
}

static int send_payload(mcu_rx_stream_t *rx, uint8_t pt, uint16_t seq, uint32_t ts,
                        const uint8_t *pl, size_t n, int64_t now)
{
    uint8_t buf[MCU_RTP_MAX_DATAGRAM];
    mcu_rtp_header_t h = {.marker = true, .payload_type = pt, .seq = seq, .timestamp = ts,
                          .ssrc = 0xA};
    int k = mcu_rtp_write_header(&h, buf, sizeof buf);
    memcpy(buf + k, pl, n);
    return mcu_rx_stream_input(rx, buf, (size_t)k + n, now);
}

/* H.265 where H.264 is configured: taken for what it is within a few packets, dropped,
 * never NACKed, reported; H.264 is confirmed before any NACK goes out. */
static void wrong_codec(void **state)
{
    mcu_rx_stream_config_t cfg = {.format = &mcu_h264_depack_ops, .codec = MCU_CODEC_H264,
                                  .payload_type = PT, .nack = true};
    mcu_rx_stream_t *rx;
    assert_int_equal(mcu_rx_stream_create(&cfg, &rx), MCU_OK);
    assert_false(mcu_rx_stream_codec_confirmed(rx));
    static const uint8_t hevc_fu[] = {0x62, 0x01, 0x13, 0xAF, 0x20, 0x11};
    uint16_t seq = 10;
    int wrong = 0;
    for (int i = 0; i < 40; i++, seq += 2) /* every other one missing */
        wrong += send_payload(rx, PT, seq, 3600u * (uint32_t)i, hevc_fu, sizeof hevc_fu,
                              i * 10 * MS) == MCU_ERR_WRONG_CODEC;
    assert_true(wrong >= 35); /* all but the first few */
    uint16_t nacks[8];
    assert_int_equal(mcu_rx_stream_nacks(rx, 400 * MS, nacks, 8), 0);
    assert_true(mcu_rx_stream_nack_due(rx) == INT64_MAX); /* nothing to wake up for */
    assert_false(mcu_rx_stream_codec_confirmed(rx));
    mcu_rx_problem_t p;
    mcu_rx_stream_problem(rx, 400 * MS, &p);
    assert_int_equal(p.kind, MCU_RX_PROBLEM_WRONG_CODEC);
    assert_int_equal(p.codec, MCU_CODEC_H265);
    assert_int_equal(p.pt, PT);
    char text[64];
    mcu_rx_problem_describe(&p, MCU_CODEC_H264, text, sizeof text);
    assert_string_equal(text, "unsupported codec: H.265");
    p.codec = MCU_CODEC_VP8;
    mcu_rx_problem_describe(&p, MCU_CODEC_H264, text, sizeof text);
    assert_string_equal(text, "VP8 sent, H.264 expected");
    mcu_rx_stream_problem(rx, 400 * MS + MCU_RX_STREAM_PROBLEM_MS * MS, &p);
    assert_int_equal(p.kind, MCU_RX_PROBLEM_NONE); /* it stopped */
    assert_int_equal(mcu_drop_stats_get(&mcu_rx_stream_counters(rx)->drops,
                                        MCU_ERR_WRONG_CODEC), (uint64_t)wrong);
    /* The sender switches to H.264: taken again once it has shown itself, and only then
     * are its losses asked for. */
    int64_t t = 3000 * MS;
    for (int i = 0; i < MCU_RX_STREAM_CODEC_CONFIRM + 10; i++, seq++) {
        if (i == 30)
            continue; /* lost */
        send(rx, 0xA, seq, 3600u * (uint32_t)(100 + i), t + i * 10 * MS);
    }
    assert_true(mcu_rx_stream_codec_confirmed(rx));
    assert_true(mcu_rx_stream_nacks(rx, t + 1000 * MS, nacks, 8) <= 1);
    mcu_rx_stream_problem(rx, t + 400 * MS, &p);
    assert_int_equal(p.kind, MCU_RX_PROBLEM_NONE);
    mcu_rx_stream_destroy(&rx);
}

/* Payload types that are not the stream's: what they look like, while nothing else
 * comes; comfort noise is no problem. */
static void foreign_payload_types(void **state)
{
    mcu_rx_stream_config_t cfg = {.format = &mcu_opus_depack_ops, .codec = MCU_CODEC_OPUS,
                                  .payload_type = 111};
    mcu_rx_stream_t *rx;
    assert_int_equal(mcu_rx_stream_create(&cfg, &rx), MCU_OK);
    assert_true(mcu_rx_stream_codec_confirmed(rx)); /* audio: no payload check */
    uint8_t g711[160];
    memset(g711, 0xFF, sizeof g711);
    mcu_rx_problem_t p;
    assert_int_equal(send_payload(rx, 13, 1, 0, g711, 1, 0), MCU_ERR_PAYLOAD_TYPE); /* CN */
    mcu_rx_stream_problem(rx, 10 * MS, &p);
    assert_int_equal(p.kind, MCU_RX_PROBLEM_NONE);
    for (int i = 0; i < 5; i++)
        assert_int_equal(send_payload(rx, 0, (uint16_t)(2 + i), 160u * (uint32_t)i, g711,
                                      sizeof g711, i * 20 * MS), MCU_ERR_PAYLOAD_TYPE);
    mcu_rx_stream_problem(rx, 100 * MS, &p);
    assert_int_equal(p.kind, MCU_RX_PROBLEM_FOREIGN_PT);
    assert_int_equal(p.codec, MCU_CODEC_PCMU);
    assert_int_equal(p.pt, 0);
    /* Opus on a dynamic type it was not configured on: told by its 48 kHz timestamps. */
    static const uint8_t opus20[] = {0x08, 0xAA, 0xBB, 0xCC}; /* SILK NB 20 ms */
    for (int i = 0; i < 3; i++)
        send_payload(rx, 100, (uint16_t)(10 + i), 960u * (uint32_t)i, opus20, sizeof opus20,
                     (200 + i * 20) * MS);
    mcu_rx_stream_problem(rx, 300 * MS, &p);
    assert_int_equal(p.kind, MCU_RX_PROBLEM_FOREIGN_PT);
    assert_int_equal(p.codec, MCU_CODEC_OPUS);
    assert_int_equal(p.pt, 100);
    char text[64];
    mcu_rx_problem_describe(&p, MCU_CODEC_OPUS, text, sizeof text);
    assert_string_equal(text, "Opus on PT 100, not configured");
    p.codec = MCU_CODEC_NONE;
    mcu_rx_problem_describe(&p, MCU_CODEC_OPUS, text, sizeof text);
    assert_string_equal(text, "PT 100 not configured");
    /* Once the configured type comes too, the stray one is no problem. */
    send_payload(rx, 111, 20, 0, opus20, sizeof opus20, 320 * MS);
    mcu_rx_stream_problem(rx, 330 * MS, &p);
    assert_int_equal(p.kind, MCU_RX_PROBLEM_NONE);
    mcu_rx_stream_destroy(&rx);
}

static void bad_config(void **state)
{
    mcu_rx_stream_t *rx;
    mcu_rx_stream_config_t cfg = {.format = NULL, .payload_type = PT};
    assert_int_equal(mcu_rx_stream_create(&cfg, &rx), MCU_ERR_INVAL);
    cfg.format = &mcu_h264_depack_ops;
    cfg.payload_type = 200;
    assert_int_equal(mcu_rx_stream_create(&cfg, &rx), MCU_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ssrc_takeover),
        cmocka_unit_test(sequence_restart),
        cmocka_unit_test(nack_and_rtx),
        cmocka_unit_test(padding_is_received),
        cmocka_unit_test(wrong_codec),
        cmocka_unit_test(foreign_payload_types),
        cmocka_unit_test(bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
