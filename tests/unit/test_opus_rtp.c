/* Opus over RTP (RFC 7587) and the RFC 6716 3.4 packet checks. */
#include <opus/opus.h>
#include <string.h>

#include "codecs/codec.h"
#include "codecs/opus_rtp.h"
#include "mcu/error.h"
#include "test_util.h"

static void real_packets(void **state)
{
    int err;
    OpusEncoder *enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
    assert_int_equal(err, OPUS_OK);
    int16_t pcm[960];
    for (int i = 0; i < 960; i++)
        pcm[i] = (int16_t)(8000 * ((i / 20) % 2 ? 1 : -1));
    uint8_t pkt[1500];
    mcu_depack_t *d;
    assert_int_equal(mcu_depack_create(&mcu_opus_depack_ops, &d), MCU_OK);
    for (int k = 0; k < 10; k++) {
        int n = opus_encode(enc, pcm, 960, pkt, sizeof pkt);
        assert_true(n > 0);
        uint32_t samples;
        assert_int_equal(mcu_opus_packet_check(pkt, (size_t)n, &samples), 1);
        assert_int_equal(samples, 960);
        mcu_depack_frame_t f;
        assert_int_equal(mcu_depack_push(d, pkt, (size_t)n), MCU_OK);
        assert_int_equal(mcu_depack_finish(d, false, &f), MCU_OK);
        assert_int_equal(f.len, (size_t)n);
        assert_memory_equal(f.data, pkt, f.len);
        assert_int_equal(f.samples, 960);
        assert_false(f.corrupt);
    }
    opus_encoder_destroy(enc);
    mcu_depack_destroy(&d);
    assert_true(mcu_opus_depack_ops.frame_per_packet);
    assert_int_equal(mcu_opus_depack_ops.clock_rate, 48000);
    assert_ptr_equal(mcu_codec_info(mcu_codec_by_name("OPUS"))->depack, &mcu_opus_depack_ops);
}

/* RFC 6716 3.2: TOC byte = config(5) s(1) c(2). Config 1 = SILK NB 20 ms. */
static void toc_codes(void **state)
{
    uint32_t samples;
    const uint8_t c0[] = {0x08, 0xAA};                  /* code 0: one frame */
    assert_int_equal(mcu_opus_packet_check(c0, sizeof c0, &samples), 1);
    assert_int_equal(samples, 960);
    const uint8_t c1[] = {0x09, 0xAA, 0xBB};            /* code 1: two equal frames */
    assert_int_equal(mcu_opus_packet_check(c1, sizeof c1, &samples), 2);
    assert_int_equal(samples, 1920);
    const uint8_t c2[] = {0x0A, 0x01, 0xAA, 0xBB, 0xCC}; /* code 2: 1 + 2 bytes */
    assert_int_equal(mcu_opus_packet_check(c2, sizeof c2, &samples), 2);
    const uint8_t c3[] = {0x0B, 0x03, 0xAA, 0xBB, 0xCC}; /* code 3 CBR, 3 frames of 1 */
    assert_int_equal(mcu_opus_packet_check(c3, sizeof c3, &samples), 3);
    assert_int_equal(samples, 2880);
}

static void impossible_packets(void **state)
{
    assert_int_equal(mcu_opus_packet_check(NULL, 0, NULL), MCU_ERR_EMPTY);
    const uint8_t odd_c1[] = {0x09, 0xAA};               /* code 1, odd payload */
    assert_int_equal(mcu_opus_packet_check(odd_c1, sizeof odd_c1, NULL), MCU_ERR_MALFORMED);
    const uint8_t c2_past[] = {0x0A, 0x09, 0xAA};        /* first frame past the end */
    assert_int_equal(mcu_opus_packet_check(c2_past, sizeof c2_past, NULL), MCU_ERR_MALFORMED);
    const uint8_t c3_zero[] = {0x0B, 0x00};              /* M = 0 frames */
    assert_int_equal(mcu_opus_packet_check(c3_zero, sizeof c3_zero, NULL), MCU_ERR_MALFORMED);
    const uint8_t c3_long[] = {0x0B, 0x07, 1, 2, 3, 4, 5, 6, 7}; /* 7 x 20 ms > 120 ms */
    assert_int_equal(mcu_opus_packet_check(c3_long, sizeof c3_long, NULL), MCU_ERR_MALFORMED);
    const uint8_t c3_cut[] = {0x0B};                      /* frame count byte missing */
    assert_int_equal(mcu_opus_packet_check(c3_cut, sizeof c3_cut, NULL), MCU_ERR_MALFORMED);
    const uint8_t c3_49[] = {0xFB, 49, 0};                /* 49 frames: over 48 */
    assert_int_equal(mcu_opus_packet_check(c3_49, sizeof c3_49, NULL), MCU_ERR_MALFORMED);

    mcu_depack_t *d;
    assert_int_equal(mcu_depack_create(&mcu_opus_depack_ops, &d), MCU_OK);
    mcu_depack_frame_t f;
    assert_int_equal(mcu_depack_push(d, c3_zero, sizeof c3_zero), MCU_ERR_MALFORMED);
    assert_int_equal(mcu_depack_finish(d, false, &f), MCU_ERR_AGAIN);
    mcu_depack_destroy(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(real_packets),
        cmocka_unit_test(toc_codes),
        cmocka_unit_test(impossible_packets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
