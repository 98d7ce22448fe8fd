/* Malformed input through the real receive path: every vector is rejected with an
 * error, counted by reason, and leaves the stream working (a good frame still comes out
 * after it). Run under ASan/UBSan in scripts/test.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codecs/h264_rtp.h"
#include "codecs/opus_rtp.h"
#include "mcu/error.h"
#include "mcu/rtcp.h"
#include "mcu/rtp.h"
#include "mcu/rx_stream.h"
#include "test_util.h"

#define PT_VIDEO 96
#define PT_AUDIO 111
#define SSRC 0x11223344u

typedef enum where { AT_INPUT, AT_DEPACK } where_t;

typedef struct vector {
    const char *name;
    const mcu_depack_ops_t *format;
    where_t where;          /* rejected by input(), or counted while depacketizing */
    int expect;             /* the reason it is counted under */
    const uint8_t *bytes;   /* whole datagram (AT_INPUT) or payload (AT_DEPACK) */
    size_t len;
    size_t fill;            /* pad the datagram with zero bytes up to this length */
} vector_t;

#define V(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})
#define HDR 0x80, PT_VIDEO, 0x00, 0x02, 0, 0, 0x0E, 0x10, 0x11, 0x22, 0x33, 0x44

static const uint8_t hdr12[] = {HDR};

static const vector_t vectors[] = {
    /* RTP header (RFC 3550 5.1) */
    {"rtp 0 bytes", &mcu_h264_depack_ops, AT_INPUT, MCU_ERR_TRUNCATED, hdr12, 0, 0},
    {"rtp 1 byte", &mcu_h264_depack_ops, AT_INPUT, MCU_ERR_TRUNCATED, hdr12, 1, 0},
    {"rtp 2 bytes", &mcu_h264_depack_ops, AT_INPUT, MCU_ERR_TRUNCATED, hdr12, 2, 0},
    {"rtp 3 bytes", &mcu_h264_depack_ops, AT_INPUT, MCU_ERR_TRUNCATED, hdr12, 3, 0},
    {"rtp 4 bytes", &mcu_h264_depack_ops, AT_INPUT, MCU_ERR_TRUNCATED, hdr12, 4, 0},
    {"rtp 5 bytes", &mcu_h264_depack_ops, AT_INPUT, MCU_ERR_TRUNCATED, hdr12, 5, 0},
    {"rtp 6 bytes", &mcu_h264_depack_ops, AT_INPUT, MCU_ERR_TRUNCATED, hdr12, 6, 0},
    {"rtp 7 bytes", &mcu_h264_depack_ops, AT_INPUT, MCU_ERR_TRUNCATED, hdr12, 7, 0},
    {"rtp 8 bytes", &mcu_h264_depack_ops, AT_INPUT, MCU_ERR_TRUNCATED, hdr12, 8, 0},
    {"rtp 9 bytes", &mcu_h264_depack_ops, AT_INPUT, MCU_ERR_TRUNCATED, hdr12, 9, 0},
    {"rtp 10 bytes", &mcu_h264_depack_ops, AT_INPUT, MCU_ERR_TRUNCATED, hdr12, 10, 0},
    {"rtp 11 bytes", &mcu_h264_depack_ops, AT_INPUT, MCU_ERR_TRUNCATED, hdr12, 11, 0},
    {"csrc count past the end", &mcu_h264_depack_ops, AT_INPUT, MCU_ERR_TRUNCATED,
     V(0x8F, PT_VIDEO, 0, 2, 0, 0, 0x0E, 0x10, 0x11, 0x22, 0x33, 0x44, 1, 2, 3, 4, 0x41), 0},
    {"extension header cut", &mcu_h264_depack_ops, AT_INPUT, MCU_ERR_EXTENSION,
     V(0x90, PT_VIDEO, 0, 2, 0, 0, 0x0E, 0x10, 0x11, 0x22, 0x33, 0x44, 0xBE), 0},
    {"extension length past the end", &mcu_h264_depack_ops, AT_INPUT, MCU_ERR_EXTENSION,
     V(0x90, PT_VIDEO, 0, 2, 0, 0, 0x0E, 0x10, 0x11, 0x22, 0x33, 0x44, 0xBE, 0xDE, 0x40, 0x00,
       0x10, 0xAA, 0x00, 0x00), 0},
    {"padding longer than the payload", &mcu_h264_depack_ops, AT_INPUT, MCU_ERR_PADDING,
     V(0xA0, PT_VIDEO, 0, 2, 0, 0, 0x0E, 0x10, 0x11, 0x22, 0x33, 0x44, 0x41, 0x9A, 0x20), 0},
    {"padding count zero", &mcu_h264_depack_ops, AT_INPUT, MCU_ERR_PADDING,
     V(0xA0, PT_VIDEO, 0, 2, 0, 0, 0x0E, 0x10, 0x11, 0x22, 0x33, 0x44, 0x41, 0x9A, 0x00), 0},
    {"version 0", &mcu_h264_depack_ops, AT_INPUT, MCU_ERR_VERSION,
     V(0x00, PT_VIDEO, 0, 2, 0, 0, 0x0E, 0x10, 0x11, 0x22, 0x33, 0x44, 0x41), 0},
    {"version 3", &mcu_h264_depack_ops, AT_INPUT, MCU_ERR_VERSION,
     V(0xC0, PT_VIDEO, 0, 2, 0, 0, 0x0E, 0x10, 0x11, 0x22, 0x33, 0x44, 0x41), 0},
    {"datagram of 1501 bytes", &mcu_h264_depack_ops, AT_INPUT, MCU_ERR_TOO_BIG,
     V(HDR, 0x41), 1501},
    {"datagram of 9000 bytes", &mcu_h264_depack_ops, AT_INPUT, MCU_ERR_TOO_BIG,
     V(HDR, 0x41), 9000},
    {"wrong payload type", &mcu_h264_depack_ops, AT_INPUT, MCU_ERR_PAYLOAD_TYPE,
     V(0x80, 0x80 | 8, 0, 2, 0, 0, 0x0E, 0x10, 0x11, 0x22, 0x33, 0x44, 0x41, 0x9A), 0},
    {"RTCP on the RTP stream", &mcu_h264_depack_ops, AT_INPUT, MCU_ERR_PAYLOAD_TYPE,
     V(0x80, 201, 0, 1, 0x11, 0x22, 0x33, 0x44), 0},
    /* H.264 payload (RFC 6184) */
    {"STAP-A size 0", &mcu_h264_depack_ops, AT_DEPACK, MCU_ERR_MALFORMED,
     V(0x78, 0x00, 0x00, 0x67, 0x42), 0},
    {"STAP-A size past the end", &mcu_h264_depack_ops, AT_DEPACK, MCU_ERR_TRUNCATED,
     V(0x78, 0x00, 0x09, 0x67, 0x42, 0xC0), 0},
    {"STAP-A size field cut", &mcu_h264_depack_ops, AT_DEPACK, MCU_ERR_TRUNCATED,
     V(0x78, 0x00, 0x02, 0x67, 0x42, 0x00), 0},
    {"STAP-A with no NAL unit", &mcu_h264_depack_ops, AT_DEPACK, MCU_ERR_MALFORMED, V(0x78), 0},
    {"FU-A without a start", &mcu_h264_depack_ops, AT_DEPACK, MCU_ERR_FRAGMENT,
     V(0x7C, 0x05, 0xAA, 0xBB), 0},
    {"FU-A end without a start", &mcu_h264_depack_ops, AT_DEPACK, MCU_ERR_FRAGMENT,
     V(0x7C, 0x45, 0xAA), 0},
    {"FU-A with start and end", &mcu_h264_depack_ops, AT_DEPACK, MCU_ERR_FRAGMENT,
     V(0x7C, 0xC5, 0xAA), 0},
    {"FU-A with no data", &mcu_h264_depack_ops, AT_DEPACK, MCU_ERR_TRUNCATED, V(0x7C, 0x85), 0},
    {"NAL type 0", &mcu_h264_depack_ops, AT_DEPACK, MCU_ERR_UNSUPPORTED, V(0x60, 0x11), 0},
    {"STAP-B (interleaved mode)", &mcu_h264_depack_ops, AT_DEPACK, MCU_ERR_UNSUPPORTED,
     V(0x79, 0x00, 0x01, 0x00, 0x02, 0x67, 0x42), 0},
    {"MTAP16", &mcu_h264_depack_ops, AT_DEPACK, MCU_ERR_UNSUPPORTED, V(0x7A, 0, 0), 0},
    {"FU-B", &mcu_h264_depack_ops, AT_DEPACK, MCU_ERR_UNSUPPORTED, V(0x7D, 0x85, 0, 1, 0xAA), 0},
    {"NAL type 31", &mcu_h264_depack_ops, AT_DEPACK, MCU_ERR_UNSUPPORTED, V(0x7F, 0x11), 0},
    {"start code inside a NAL unit", &mcu_h264_depack_ops, AT_DEPACK, MCU_ERR_MALFORMED,
     V(0x41, 0x9A, 0x00, 0x00, 0x01, 0x65, 0x88), 0},
    {"NAL unit ending in a zero byte", &mcu_h264_depack_ops, AT_DEPACK, MCU_ERR_MALFORMED,
     V(0x41, 0x9A, 0x10, 0x00), 0},
    {"forbidden bit set", &mcu_h264_depack_ops, AT_DEPACK, MCU_ERR_MALFORMED, V(0xE1, 0x9A), 0},
    {"STAP-A holding a FU-A", &mcu_h264_depack_ops, AT_DEPACK, MCU_ERR_UNSUPPORTED,
     V(0x78, 0x00, 0x02, 0x7C, 0x85), 0},
    /* Opus payload (RFC 7587, RFC 6716 3.4) */
    {"Opus code 3 with 0 frames", &mcu_opus_depack_ops, AT_DEPACK, MCU_ERR_MALFORMED,
     V(0x0B, 0x00), 0},
    {"Opus code 3 with 140 ms", &mcu_opus_depack_ops, AT_DEPACK, MCU_ERR_MALFORMED,
     V(0x0B, 0x07, 1, 2, 3, 4, 5, 6, 7), 0},
    {"Opus code 3 with 49 frames", &mcu_opus_depack_ops, AT_DEPACK, MCU_ERR_MALFORMED,
     V(0xFB, 49, 0), 0},
    {"Opus code 1 with odd length", &mcu_opus_depack_ops, AT_DEPACK, MCU_ERR_MALFORMED,
     V(0x09, 0xAA), 0},
    {"Opus code 2 frame past the end", &mcu_opus_depack_ops, AT_DEPACK, MCU_ERR_MALFORMED,
     V(0x0A, 0x09, 0xAA), 0},
    {"Opus code 3 count byte missing", &mcu_opus_depack_ops, AT_DEPACK, MCU_ERR_MALFORMED,
     V(0x0B), 0},
};

static uint8_t good_h264[] = {0x41, 0x9A, 0x00, 0x10}; /* P slice, first_mb 0 */
static uint8_t good_opus[] = {0x08, 0xAA, 0xBB};

static size_t rtp(uint8_t *out, uint8_t pt, uint16_t seq, uint32_t ts, const uint8_t *pl,
                  size_t len)
{
    mcu_rtp_header_t h = {.marker = true, .payload_type = pt, .seq = seq, .timestamp = ts,
                          .ssrc = SSRC};
    int n = mcu_rtp_write_header(&h, out, MCU_RTP_MAX_DATAGRAM);
    memcpy(out + n, pl, len);
    return (size_t)n + len;
}

/* Sends a good frame and checks it comes out intact. */
static void good_frame(mcu_rx_stream_t *rx, bool video, uint16_t seq, int64_t now)
{
    uint8_t buf[MCU_RTP_MAX_DATAGRAM];
    const uint8_t *pl = video ? good_h264 : good_opus;
    size_t pl_len = video ? sizeof good_h264 : sizeof good_opus;
    uint32_t ts = seq * (video ? 3600u : 960u);
    size_t n = rtp(buf, video ? PT_VIDEO : PT_AUDIO, seq, ts, pl, pl_len);
    assert_int_equal(mcu_rx_stream_input(rx, buf, n, now), MCU_OK);
    mcu_rx_frame_t f;
    assert_int_equal(mcu_rx_stream_poll(rx, now + 1000000, &f), MCU_OK);
    assert_false(f.media.corrupt);
    assert_int_equal(f.timestamp, ts);
}

static void each_vector(void **state)
{
    size_t n_vectors = sizeof vectors / sizeof vectors[0];
    assert_true(n_vectors >= 30);
    for (size_t i = 0; i < n_vectors; i++) {
        const vector_t *v = &vectors[i];
        bool video = v->format == &mcu_h264_depack_ops;
        mcu_rx_stream_config_t cfg = {.format = v->format,
                                      .payload_type = video ? PT_VIDEO : PT_AUDIO};
        mcu_rx_stream_t *rx;
        assert_int_equal(mcu_rx_stream_create(&cfg, &rx), MCU_OK);
        good_frame(rx, video, 1, 0);

        uint8_t *buf = calloc(1, v->fill > MCU_RTP_MAX_DATAGRAM ? v->fill : MCU_RTP_MAX_DATAGRAM);
        size_t len;
        if (v->where == AT_INPUT) {
            memcpy(buf, v->bytes, v->len);
            len = v->fill ? v->fill : v->len;
        } else {
            len = rtp(buf, cfg.payload_type, 2, 2 * (video ? 3600u : 960u), v->bytes, v->len);
        }
        /* Exact-size copy so ASan sees any read past the datagram. */
        uint8_t *dgram = malloc(len ? len : 1);
        memcpy(dgram, buf, len);
        int rc = mcu_rx_stream_input(rx, dgram, len, 1000000);
        const mcu_rx_stream_counters_t *c = mcu_rx_stream_counters(rx);
        if (v->where == AT_INPUT) {
            if (rc != v->expect)
                fail_msg("%s: input returned %s, expected %s", v->name, mcu_strerror_name(rc),
                         mcu_strerror_name(v->expect));
        } else {
            assert_int_equal(rc, MCU_OK);
            mcu_rx_frame_t f;
            /* Either nothing usable comes out, or a frame flagged corrupt. */
            while (mcu_rx_stream_poll(rx, 3000000, &f) == MCU_OK)
                assert_true(f.media.corrupt);
        }
        if (mcu_drop_stats_get(&c->drops, v->expect) != 1 || c->drops.total != 1)
            fail_msg("%s: counted %llu under %s, %llu in all", v->name,
                     (unsigned long long)mcu_drop_stats_get(&c->drops, v->expect),
                     mcu_strerror_name(v->expect), (unsigned long long)c->drops.total);
        /* The stream is unharmed. */
        good_frame(rx, video, 3, 4000000);
        free(dgram);
        free(buf);
        mcu_rx_stream_destroy(&rx);
    }
    print_message("%zu malformed RTP/H.264/Opus vectors rejected and counted\n", n_vectors);
}

/* A NAL unit growing past MCU_H264_MAX_NAL in FU-A fragments. */
static void nal_over_1mib(void **state)
{
    mcu_rx_stream_config_t cfg = {.format = &mcu_h264_depack_ops, .payload_type = PT_VIDEO};
    mcu_jitter_config_video(&cfg.jitter, MCU_H264_CLOCK_RATE);
    cfg.jitter.max_packets = MCU_JITTER_MAX_PACKETS;
    cfg.jitter.max_bytes = 4u << 20;
    mcu_rx_stream_t *rx;
    assert_int_equal(mcu_rx_stream_create(&cfg, &rx), MCU_OK);
    good_frame(rx, true, 1, 0);
    uint8_t pl[MCU_H264_DEFAULT_MTU], buf[MCU_RTP_MAX_DATAGRAM];
    memset(pl, 0x55, sizeof pl);
    size_t frags = MCU_H264_MAX_NAL / (sizeof pl - 2) + 2;
    for (size_t k = 0; k < frags; k++) {
        pl[0] = 0x7C;
        pl[1] = (uint8_t)((k == 0 ? 0x80 : 0) | (k == frags - 1 ? 0x40 : 0) | 5);
        mcu_rtp_header_t h = {.marker = k == frags - 1, .payload_type = PT_VIDEO,
                              .seq = (uint16_t)(2 + k), .timestamp = 7200, .ssrc = SSRC};
        int n = mcu_rtp_write_header(&h, buf, sizeof buf);
        memcpy(buf + n, pl, sizeof pl);
        assert_int_equal(mcu_rx_stream_input(rx, buf, (size_t)n + sizeof pl, 1000), MCU_OK);
    }
    mcu_rx_frame_t f;
    while (mcu_rx_stream_poll(rx, 3000000, &f) == MCU_OK)
        assert_true(f.media.corrupt);
    const mcu_rx_stream_counters_t *c = mcu_rx_stream_counters(rx);
    assert_int_equal(mcu_drop_stats_get(&c->drops, MCU_ERR_TOO_BIG), 1);
    /* The fragments after the limit are orphans of a dropped NAL unit. */
    assert_true(mcu_drop_stats_get(&c->drops, MCU_ERR_FRAGMENT) > 0);
    good_frame(rx, true, (uint16_t)(2 + frags), 4000000);
    mcu_rx_stream_destroy(&rx);
}

/* RTCP (RFC 3550 6.4, A.2): compound checks, counted the same way. */
static const struct {
    const char *name;
    const uint8_t *bytes;
    size_t len;
} rv[] = {
    {"rtcp 0 bytes", hdr12, 0},
    {"rtcp 3 bytes", V(0x80, 201, 0)},
    {"rtcp length beyond the datagram", V(0x80, 201, 0x00, 0x07, 0x11, 0x22, 0x33, 0x44)},
    {"SR with its sender info cut", V(0x80, 200, 0x00, 0x03, 0x11, 0x22, 0x33, 0x44, 0, 0, 0,
                                      0, 0, 0, 0, 0)},
    {"SR report block cut", V(0x81, 200, 0x00, 0x06, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0, 0, 0,
                              0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)},
    {"RR report block cut", V(0x81, 201, 0x00, 0x03, 0x11, 0x22, 0x33, 0x44, 1, 2, 3, 4, 5,
                              6, 7, 8)},
    {"RTCP version 1", V(0x40, 201, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44)},
    {"second packet length past the end", V(0x80, 201, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44,
                                            0x81, 206, 0x00, 0x09, 0, 0, 0, 0)},
};

static void rtcp_vectors(void **state)
{
    mcu_drop_stats_t drops = {0};
    for (size_t i = 0; i < sizeof rv / sizeof rv[0]; i++) {
        uint8_t *d = malloc(rv[i].len ? rv[i].len : 1);
        memcpy(d, rv[i].bytes, rv[i].len);
        int rc = mcu_rtcp_validate(d, rv[i].len);
        if (rc >= 0)
            fail_msg("%s: accepted", rv[i].name);
        mcu_drop_stats_count(&drops, rc);
        free(d);
    }
    assert_int_equal(drops.total, sizeof rv / sizeof rv[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_vector),
        cmocka_unit_test(nal_over_1mib),
        cmocka_unit_test(rtcp_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
