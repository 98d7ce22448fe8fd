/* RTP header parse/write (RFC 3550 5.1, RFC 8285), byte-exact both ways. */
#include <string.h>

#include "mcu/error.h"
#include "mcu/rtp.h"
#include "test_util.h"

/* RFC 3550 5.1: V=2 P=0 X=0 CC=0 | M=1 PT=96 | seq 0x1234 | ts 0xDEADBEEF | SSRC 0x01020304,
 * payload "abc". */
static const uint8_t basic[] = {0x80, 0xE0, 0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF,
                                0x01, 0x02, 0x03, 0x04, 'a',  'b',  'c'};

static void parse_basic(void **state)
{
    mcu_rtp_packet_t p;
    assert_int_equal(mcu_rtp_parse(basic, sizeof basic, &p), MCU_OK);
    assert_true(p.marker);
    assert_int_equal(p.payload_type, 96);
    assert_int_equal(p.seq, 0x1234);
    assert_int_equal(p.timestamp, 0xDEADBEEF);
    assert_int_equal(p.ssrc, 0x01020304);
    assert_int_equal(p.csrc_count, 0);
    assert_false(p.extension);
    assert_int_equal(p.payload_len, 3);
    assert_memory_equal(p.payload, "abc", 3);
    assert_false(mcu_rtp_is_rtcp(basic, sizeof basic));
}

static void write_basic(void **state)
{
    mcu_rtp_header_t h = {.marker = true, .payload_type = 96, .seq = 0x1234,
                          .timestamp = 0xDEADBEEF, .ssrc = 0x01020304};
    uint8_t out[64];
    int n = mcu_rtp_write_header(&h, out, sizeof out);
    assert_int_equal(n, MCU_RTP_HEADER_SIZE);
    assert_memory_equal(out, basic, MCU_RTP_HEADER_SIZE);
    assert_int_equal(mcu_rtp_write_header(&h, out, 11), MCU_ERR_NOSPACE);
}

/* Two CSRCs, padding of 4 (3 zero bytes + count), one-byte extension (RFC 8285 4.2)
 * with id 1 len 1 (0x10 0xAA) and id 2 len 2 (0x21 0xBB 0xCC), then padding to a word. */
static const uint8_t full[] = {
    0xB2, 0x6F, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01, 0xCA, 0xFE, 0xBA, 0xBE, /* V2 P X CC2 */
    0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22,                         /* CSRCs */
    0xBE, 0xDE, 0x00, 0x02,                                                 /* 2 words */
    0x10, 0xAA, 0x21, 0xBB, 0xCC, 0x00, 0x00, 0x00,                         /* elements */
    0x01, 0x02,                                                             /* payload */
    0x00, 0x00, 0x00, 0x04};                                                /* padding */

static void parse_full(void **state)
{
    mcu_rtp_packet_t p;
    assert_int_equal(mcu_rtp_parse(full, sizeof full, &p), MCU_OK);
    assert_true(p.padding);
    assert_false(p.marker);
    assert_int_equal(p.payload_type, 111);
    assert_int_equal(p.seq, 0xFFFF);
    assert_int_equal(p.csrc_count, 2);
    assert_int_equal(p.csrc[0], 0x11111111);
    assert_int_equal(p.csrc[1], 0x22222222);
    assert_int_equal(p.ext_profile, MCU_RTP_EXT_ONE_BYTE);
    assert_int_equal(p.ext_len, 8);
    assert_int_equal(p.padding_len, 4);
    assert_int_equal(p.payload_len, 2);
    assert_int_equal(p.payload[0], 1);

    mcu_rtp_ext_elem_t e;
    assert_int_equal(mcu_rtp_ext_find(&p, 2, &e), 1);
    assert_int_equal(e.len, 2);
    assert_int_equal(e.data[0], 0xBB);
    assert_int_equal(mcu_rtp_ext_find(&p, 1, &e), 1);
    assert_int_equal(e.data[0], 0xAA);
    assert_int_equal(mcu_rtp_ext_find(&p, 3, &e), 0);
}

static void write_full_header(void **state)
{
    const uint32_t csrc[2] = {0x11111111, 0x22222222};
    const uint8_t d1[] = {0xAA}, d2[] = {0xBB, 0xCC};
    const mcu_rtp_ext_elem_t ext[2] = {{1, 1, d1}, {2, 2, d2}};
    mcu_rtp_header_t h = {.payload_type = 111, .seq = 0xFFFF, .timestamp = 1,
                          .ssrc = 0xCAFEBABE, .csrc_count = 2, .csrc = csrc,
                          .n_ext = 2, .ext = ext};
    uint8_t out[64];
    int n = mcu_rtp_write_header(&h, out, sizeof out);
    assert_int_equal(n, 32);
    /* Same bytes as the vector, but without the padding bit. */
    uint8_t expect[32];
    memcpy(expect, full, 32);
    expect[0] &= (uint8_t)~0x20;
    assert_memory_equal(out, expect, 32);
}

/* RFC 8285 4.3 two-byte form: profile 0x1000, id 20 len 0, id 3 len 3. */
static void two_byte_roundtrip(void **state)
{
    const uint8_t d[] = {7, 8, 9};
    const mcu_rtp_ext_elem_t ext[2] = {{20, 0, NULL}, {3, 3, d}};
    mcu_rtp_header_t h = {.payload_type = 96, .seq = 1, .ssrc = 5, .n_ext = 2, .ext = ext};
    uint8_t pkt[64];
    int n = mcu_rtp_write_header(&h, pkt, sizeof pkt);
    const uint8_t expect_ext[] = {0x10, 0x00, 0x00, 0x02, 20, 0, 3, 3, 7, 8, 9, 0};
    assert_int_equal(n, 12 + (int)sizeof expect_ext);
    assert_memory_equal(pkt + 12, expect_ext, sizeof expect_ext);
    pkt[n] = 0x55;
    mcu_rtp_packet_t p;
    assert_int_equal(mcu_rtp_parse(pkt, (size_t)n + 1, &p), MCU_OK);
    mcu_rtp_ext_elem_t e;
    assert_int_equal(mcu_rtp_ext_find(&p, 20, &e), 1);
    assert_int_equal(e.len, 0);
    assert_int_equal(mcu_rtp_ext_find(&p, 3, &e), 1);
    assert_memory_equal(e.data, d, 3);
    assert_int_equal(p.payload_len, 1);
}

static void rtcp_demux(void **state)
{
    const uint8_t rr[] = {0x80, 201, 0, 1, 0, 0, 0, 1};
    assert_true(mcu_rtp_is_rtcp(rr, sizeof rr));
    const uint8_t pt72[] = {0x80, 72};
    assert_false(mcu_rtp_is_rtcp(pt72, 2));
}

static void malformed(void **state)
{
    mcu_rtp_packet_t p;
    uint8_t buf[MCU_RTP_MAX_DATAGRAM + 1];
    memset(buf, 0, sizeof buf);
    for (size_t n = 0; n < 12; n++) {
        memcpy(buf, basic, n);
        assert_int_equal(mcu_rtp_parse(buf, n, &p), MCU_ERR_TRUNCATED);
    }
    memcpy(buf, basic, sizeof basic);
    buf[0] = 0x40; /* version 1 */
    assert_int_equal(mcu_rtp_parse(buf, sizeof basic, &p), MCU_ERR_VERSION);
    buf[0] = 0x83; /* 3 CSRCs, 3 bytes left */
    assert_int_equal(mcu_rtp_parse(buf, sizeof basic, &p), MCU_ERR_TRUNCATED);
    buf[0] = 0x90; /* extension header does not fit */
    assert_int_equal(mcu_rtp_parse(buf, 14, &p), MCU_ERR_EXTENSION);
    const uint8_t ext_long[] = {0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,
                                0xBE, 0xDE, 0x00, 0x05, 0x10, 0xAA, 0, 0};
    assert_int_equal(mcu_rtp_parse(ext_long, sizeof ext_long, &p), MCU_ERR_EXTENSION);
    uint8_t pad[16] = {0xA0, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 2, 3, 9};
    assert_int_equal(mcu_rtp_parse(pad, sizeof pad, &p), MCU_ERR_PADDING);
    pad[15] = 0;
    assert_int_equal(mcu_rtp_parse(pad, sizeof pad, &p), MCU_ERR_PADDING);
    pad[15] = 4; /* all of the payload is padding: valid, empty */
    assert_int_equal(mcu_rtp_parse(pad, sizeof pad, &p), MCU_OK);
    assert_int_equal(p.payload_len, 0);
    memcpy(buf, basic, sizeof basic);
    assert_int_equal(mcu_rtp_parse(buf, sizeof buf, &p), MCU_ERR_TOO_BIG);
    /* One-byte element running past its block. */
    const uint8_t elem_long[] = {0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,
                                 0xBE, 0xDE, 0x00, 0x01, 0x1F, 0xAA, 0, 0};
    assert_int_equal(mcu_rtp_parse(elem_long, sizeof elem_long, &p), MCU_OK);
    mcu_rtp_ext_elem_t e;
    assert_true(mcu_rtp_ext_find(&p, 1, &e) < 0);
    /* Writer rejects what no form can carry. */
    const mcu_rtp_ext_elem_t bad = {0, 1, (const uint8_t *)"x"};
    mcu_rtp_header_t h = {.payload_type = 96, .n_ext = 1, .ext = &bad};
    assert_int_equal(mcu_rtp_write_header(&h, buf, sizeof buf), MCU_ERR_INVAL);
    h.n_ext = 0;
    h.payload_type = 128;
    assert_int_equal(mcu_rtp_write_header(&h, buf, sizeof buf), MCU_ERR_INVAL);
}

/* Random headers survive write -> parse unchanged. */
static void random_roundtrip(void **state)
{
    test_rng_t r;
    test_rng_seed(&r, 42);
    for (int i = 0; i < 2000; i++) {
        uint32_t csrc[MCU_RTP_MAX_CSRC];
        uint8_t data[4][20];
        mcu_rtp_ext_elem_t ext[4];
        mcu_rtp_header_t h = {.marker = test_rng_below(&r, 2), .payload_type = test_rng_below(&r, 128),
                              .seq = (uint16_t)test_rng_u32(&r), .timestamp = test_rng_u32(&r),
                              .ssrc = test_rng_u32(&r), .csrc_count = (uint8_t)test_rng_below(&r, 16),
                              .csrc = csrc, .n_ext = test_rng_below(&r, 5), .ext = ext};
        for (int c = 0; c < h.csrc_count; c++)
            csrc[c] = test_rng_u32(&r);
        bool two = test_rng_below(&r, 2);
        for (size_t k = 0; k < h.n_ext; k++) {
            ext[k].id = (uint8_t)(1 + (two ? test_rng_below(&r, 255) : test_rng_below(&r, 14)));
            ext[k].len = (uint8_t)(two ? test_rng_below(&r, 21) : 1 + test_rng_below(&r, 16));
            test_rng_fill(&r, data[k], ext[k].len);
            ext[k].data = data[k];
        }
        uint8_t pkt[MCU_RTP_MAX_HEADER + 8];
        int n = mcu_rtp_write_header(&h, pkt, sizeof pkt);
        assert_true(n > 0);
        pkt[n] = 0xEE;
        mcu_rtp_packet_t p;
        assert_int_equal(mcu_rtp_parse(pkt, (size_t)n + 1, &p), MCU_OK);
        assert_int_equal(p.seq, h.seq);
        assert_int_equal(p.timestamp, h.timestamp);
        assert_int_equal(p.ssrc, h.ssrc);
        assert_int_equal(p.marker, h.marker);
        assert_int_equal(p.payload_type, h.payload_type);
        assert_int_equal(p.csrc_count, h.csrc_count);
        assert_memory_equal(p.csrc, csrc, 4u * h.csrc_count);
        assert_int_equal(p.payload_len, 1);
        for (size_t k = 0; k < h.n_ext; k++) {
            mcu_rtp_ext_elem_t e;
            /* ids may repeat: the first match is the first written */
            size_t first = k;
            for (size_t j = 0; j < k; j++)
                if (ext[j].id == ext[k].id) {
                    first = j;
                    break;
                }
            assert_int_equal(mcu_rtp_ext_find(&p, ext[k].id, &e), 1);
            assert_int_equal(e.len, ext[first].len);
            if (e.len)
                assert_memory_equal(e.data, ext[first].data, e.len);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_basic),       cmocka_unit_test(write_basic),
        cmocka_unit_test(parse_full),        cmocka_unit_test(write_full_header),
        cmocka_unit_test(two_byte_roundtrip), cmocka_unit_test(rtcp_demux),
        cmocka_unit_test(malformed),         cmocka_unit_test(random_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
